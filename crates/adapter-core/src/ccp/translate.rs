//! The translator: a cluster's span (NSX policies, groups, services) in, the Antrea desired
//! state and a verdict per NSX policy and group out. Pure and deterministic: the same span
//! always gives the same objects, names, priorities and errors.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use antrea_admission::{
    TierSummary, validate_cluster_group, validate_cluster_network_policy, validate_tier_create,
};
use antrea_types::policy::AppliedTo;
use antrea_types::{
    ClusterGroup, ClusterGroupSpec, ClusterNetworkPolicy, ClusterNetworkPolicySpec, Tier, TierSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use nsx_model::policy::PolicyCategory;
use serde::{Deserialize, Serialize};

use super::check::{CheckCache, DesiredAdmissionContext, ObjectSchemas};
use super::error::{RealizationError, Reason};
use super::groups::{GroupCriteria, GroupTranslator};
use super::ip::IpFamily;
use super::naming::{
    DISPLAY_NAME_ANNOTATION, NSX_CATEGORY_ANNOTATION, NSX_PATH_ANNOTATION, NSX_REVISION_ANNOTATION,
    NSX_UNIQUE_ID_ANNOTATION, ObjectRole, PARENT_LABEL, SPEC_HASH_ANNOTATION, criterion_name,
    group_name, ownership_labels, path_id, policy_name, spec_hash,
};
use super::objects::{AntreaKind, AntreaObject, DesiredState, ObjectKey};
use super::policies::{GroupRef, PolicyContext};
use super::priority::{
    CATEGORY_TIERS, CategoryTier, MAX_SEQUENCE_NUMBER, Placement, PriorityError, allocate, tier_for,
};
use super::services::ServiceResolver;
use super::span::{ClusterIdentity, NsxIdentity, NsxKind, Span};

/// The IP families of the cluster's Pods. Restrictions a rule makes by family (`ip_protocol`,
/// ICMPv4 vs ICMPv6) are exact for free in a single-stack cluster; in a dual-stack cluster
/// some of them cannot be expressed and are refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IpFamilies {
    /// IPv4 and IPv6 (the safe assumption when unknown).
    #[default]
    DualStack,
    Ipv4Only,
    Ipv6Only,
}

impl IpFamilies {
    pub fn families(self) -> BTreeSet<IpFamily> {
        match self {
            Self::DualStack => [IpFamily::V4, IpFamily::V6].into(),
            Self::Ipv4Only => [IpFamily::V4].into(),
            Self::Ipv6Only => [IpFamily::V6].into(),
        }
    }
}

/// Translation options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TranslateOptions {
    pub ip_families: IpFamilies,
}

/// The result for one NSX object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Translated; these Antrea objects (all in the desired state) realize it.
    Translated { objects: Vec<ObjectKey> },
    /// Not written, for these reasons.
    Refused { errors: Vec<RealizationError> },
}

/// The translator's verdict on one NSX policy or group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub kind: NsxKind,
    pub id: NsxIdentity,
    pub display_name: String,
    pub outcome: Outcome,
}

impl Verdict {
    /// The Antrea objects it needs, when translated.
    pub fn objects(&self) -> &[ObjectKey] {
        match &self.outcome {
            Outcome::Translated { objects } => objects,
            Outcome::Refused { .. } => &[],
        }
    }

    /// Its errors, when refused.
    pub fn errors(&self) -> &[RealizationError] {
        match &self.outcome {
            Outcome::Translated { .. } => &[],
            Outcome::Refused { errors } => errors,
        }
    }
}

/// The desired state and the verdicts (policies, then groups, each sorted by path). Services
/// get no verdict of their own: a problem with a service is reported on the rules using it.
#[derive(Debug, Clone, PartialEq)]
pub struct Translation {
    pub desired: DesiredState,
    pub verdicts: Vec<Verdict>,
}

impl Translation {
    /// The verdict for an NSX path.
    pub fn verdict(&self, kind: NsxKind, path: &str) -> Option<&Verdict> {
        self.verdicts
            .iter()
            .find(|verdict| verdict.kind == kind && verdict.id.path == path)
    }
}

/// Translates spans for one cluster. Keeps the results of the schema checks of the last two
/// translations (by exact object JSON), so re-translating a mostly unchanged span re-checks
/// only what changed; outcomes never depend on it.
#[derive(Debug, Clone)]
pub struct Translator {
    identity: ClusterIdentity,
    options: TranslateOptions,
    schemas: ObjectSchemas,
    checks: Arc<CheckCache>,
}

/// The Tier objects of the four categories.
pub fn category_tiers(identity: &ClusterIdentity) -> Vec<Tier> {
    CATEGORY_TIERS
        .iter()
        .map(|tier| {
            let spec = TierSpec {
                priority: tier.priority,
                description: Some(format!(
                    "NSX distributed firewall category {} (antrea-nsx CCP adapter)",
                    tier.category
                )),
            };
            let annotations = BTreeMap::from([
                (NSX_CATEGORY_ANNOTATION.to_owned(), tier.category.to_owned()),
                (SPEC_HASH_ANNOTATION.to_owned(), spec_hash(&spec)),
            ]);
            let mut object = Tier::new(tier.name, spec);
            object.metadata = ObjectMeta {
                name: Some(tier.name.to_owned()),
                labels: Some(ownership_labels(identity, ObjectRole::Tier)),
                annotations: Some(annotations),
                ..ObjectMeta::default()
            };
            object
        })
        .collect()
}

fn nsx_meta(
    identity: &ClusterIdentity,
    name: &str,
    role: ObjectRole,
    nsx: &NsxIdentity,
    display_name: &str,
    hash: String,
) -> ObjectMeta {
    let annotations = BTreeMap::from([
        (NSX_PATH_ANNOTATION.to_owned(), nsx.path.clone()),
        (NSX_UNIQUE_ID_ANNOTATION.to_owned(), nsx.unique_id.clone()),
        (DISPLAY_NAME_ANNOTATION.to_owned(), display_name.to_owned()),
        (NSX_REVISION_ANNOTATION.to_owned(), nsx.revision.to_string()),
        (SPEC_HASH_ANNOTATION.to_owned(), hash),
    ]);
    ObjectMeta {
        name: Some(name.to_owned()),
        labels: Some(ownership_labels(identity, role)),
        annotations: Some(annotations),
        ..ObjectMeta::default()
    }
}

/// The ClusterGroups of one NSX group.
#[derive(Debug, Clone)]
struct BuiltGroup {
    parent: ClusterGroup,
    children: Vec<ClusterGroup>,
    has_ip_members: bool,
}

impl BuiltGroup {
    fn keys(&self) -> Vec<ObjectKey> {
        std::iter::once(&self.parent)
            .chain(&self.children)
            .map(|group| {
                ObjectKey::new(
                    AntreaKind::ClusterGroup,
                    group.metadata.name.clone().unwrap_or_default(),
                )
            })
            .collect()
    }
}

fn refused(reason: Reason, message: impl Into<String>) -> Vec<RealizationError> {
    vec![RealizationError::new(reason, message)]
}

impl Translator {
    pub fn new(
        identity: ClusterIdentity,
        options: TranslateOptions,
        schemas: ObjectSchemas,
    ) -> Self {
        Self {
            identity,
            options,
            schemas,
            checks: Arc::default(),
        }
    }

    pub fn identity(&self) -> &ClusterIdentity {
        &self.identity
    }

    pub fn options(&self) -> &TranslateOptions {
        &self.options
    }

    /// Translates a span.
    pub fn translate(&self, span: &Span) -> Translation {
        self.checks.rotate();
        let mut desired = DesiredState::default();
        let mut verdicts = Vec::new();

        // Tiers: always all four, checked as creates next to Antrea's system tiers.
        let tiers = category_tiers(&self.identity);
        let mut tier_problems: HashMap<&'static str, String> = HashMap::new();
        for (tier, category) in tiers.iter().zip(CATEGORY_TIERS.iter()) {
            let others = CATEGORY_TIERS
                .iter()
                .filter(|other| other.name != category.name)
                .map(|other| TierSummary {
                    name: other.name.to_owned(),
                    priority: other.priority,
                });
            let context = DesiredAdmissionContext::new(others, std::iter::empty());
            let problem = self
                .schemas
                .check_cached(&AntreaObject::Tier(tier.clone()), &self.checks)
                .err()
                .or_else(|| {
                    validate_tier_create(tier, &context)
                        .err()
                        .map(|denial| denial.message)
                });
            if let Some(problem) = problem {
                tier_problems.insert(category.name, problem);
            }
        }
        desired.tiers = tiers;

        let groups = self.translate_groups(span, &mut desired, &mut verdicts);
        self.translate_policies(span, &groups, &tier_problems, &mut desired, &mut verdicts);

        desired.sort();
        verdicts.sort_by(|a, b| (a.kind, &a.id.path).cmp(&(b.kind, &b.id.path)));
        Translation { desired, verdicts }
    }

    fn build_group(
        &self,
        nsx: &NsxIdentity,
        display_name: &str,
        criteria: &GroupCriteria,
    ) -> BuiltGroup {
        let parent_name = group_name(path_id(&nsx.path), &nsx.unique_id);
        let mut children: BTreeMap<String, ClusterGroup> = BTreeMap::new();
        for criterion in &criteria.criteria {
            let spec = criterion.to_spec();
            let hash = spec_hash(&spec);
            let name = criterion_name(&parent_name, &hash);
            let mut meta = nsx_meta(
                &self.identity,
                &name,
                ObjectRole::GroupCriterion,
                nsx,
                display_name,
                hash,
            );
            if let Some(labels) = meta.labels.as_mut() {
                labels.insert(PARENT_LABEL.to_owned(), parent_name.clone());
            }
            let mut child = ClusterGroup::new(&name, spec);
            child.metadata = meta;
            children.insert(name, child);
        }
        let spec = ClusterGroupSpec {
            child_groups: Some(children.keys().cloned().collect()),
            ..ClusterGroupSpec::default()
        };
        let hash = spec_hash(&spec);
        let mut parent = ClusterGroup::new(&parent_name, spec);
        parent.metadata = nsx_meta(
            &self.identity,
            &parent_name,
            ObjectRole::Group,
            nsx,
            display_name,
            hash,
        );
        BuiltGroup {
            parent,
            children: children.into_values().collect(),
            has_ip_members: criteria.has_ip_members(),
        }
    }

    fn translate_groups(
        &self,
        span: &Span,
        desired: &mut DesiredState,
        verdicts: &mut Vec<Verdict>,
    ) -> BTreeMap<String, Result<GroupRef, RealizationError>> {
        let mut translator = GroupTranslator::new(span);
        let mut built: BTreeMap<&str, Result<BuiltGroup, Vec<RealizationError>>> = BTreeMap::new();
        let mut owners: HashMap<String, &str> = HashMap::new();
        for (path, entry) in &span.groups {
            let display_name = display_name(entry.object.as_ref().ok().map(|g| &g.meta), path);
            let result = match translator.translate(path) {
                Err(error) => Err(vec![error]),
                Ok(criteria) => {
                    let group = self.build_group(&entry.id, &display_name, &criteria);
                    let clash = group
                        .keys()
                        .into_iter()
                        .find_map(|key| owners.get(&key.name).map(|owner| (key.name, *owner)));
                    match clash {
                        Some((name, owner)) => Err(refused(
                            Reason::NameConflict,
                            format!("the ClusterGroup name {name} is already used for {owner}"),
                        )),
                        None => {
                            for key in group.keys() {
                                owners.insert(key.name, path.as_str());
                            }
                            Ok(group)
                        }
                    }
                }
            };
            built.insert(path.as_str(), result);
        }

        // Admission next to every other group of the desired state.
        let specs: Vec<(String, ClusterGroupSpec)> = built
            .values()
            .filter_map(|group| group.as_ref().ok())
            .flat_map(|group| std::iter::once(&group.parent).chain(&group.children))
            .map(|group| {
                (
                    group.metadata.name.clone().unwrap_or_default(),
                    group.spec.clone(),
                )
            })
            .collect();
        let context = DesiredAdmissionContext::new(
            std::iter::empty(),
            specs.iter().map(|(name, spec)| (name.as_str(), spec)),
        );
        let mut checked: BTreeMap<&str, Result<BuiltGroup, Vec<RealizationError>>> =
            BTreeMap::new();
        for (path, result) in built {
            let result = result.and_then(|group| {
                for object in group.children.iter().chain(std::iter::once(&group.parent)) {
                    let name = object.metadata.name.as_deref().unwrap_or_default();
                    let problem = self
                        .schemas
                        .check_cached(&AntreaObject::ClusterGroup(object.clone()), &self.checks)
                        .err()
                        .or_else(|| {
                            validate_cluster_group(object, &context)
                                .err()
                                .map(|d| d.message)
                        });
                    if let Some(problem) = problem {
                        return Err(refused(
                            Reason::AntreaRejected,
                            format!(
                                "the translated ClusterGroup {name} would be refused: {problem}"
                            ),
                        ));
                    }
                }
                Ok(group)
            });
            checked.insert(path, result);
        }

        let mut refs = BTreeMap::new();
        for (path, result) in checked {
            let entry = &span.groups[path];
            let display_name = display_name(entry.object.as_ref().ok().map(|g| &g.meta), path);
            let outcome = match result {
                Ok(group) => {
                    refs.insert(
                        path.to_owned(),
                        Ok(GroupRef {
                            name: group.parent.metadata.name.clone().unwrap_or_default(),
                            has_ip_members: group.has_ip_members,
                        }),
                    );
                    let objects = group.keys();
                    desired.cluster_groups.push(group.parent);
                    desired.cluster_groups.extend(group.children);
                    Outcome::Translated { objects }
                }
                Err(errors) => {
                    refs.insert(path.to_owned(), Err(errors[0].clone()));
                    Outcome::Refused { errors }
                }
            };
            verdicts.push(Verdict {
                kind: NsxKind::Group,
                id: entry.id.clone(),
                display_name,
                outcome,
            });
        }
        refs
    }

    fn translate_policies(
        &self,
        span: &Span,
        groups: &BTreeMap<String, Result<GroupRef, RealizationError>>,
        tier_problems: &HashMap<&'static str, String>,
        desired: &mut DesiredState,
        verdicts: &mut Vec<Verdict>,
    ) {
        let group_objects: BTreeMap<String, Vec<ObjectKey>> = verdicts
            .iter()
            .filter(|v| v.kind == NsxKind::Group)
            .map(|v| (v.id.path.clone(), v.objects().to_vec()))
            .collect();
        let placements = span.policies.iter().filter_map(|(path, entry)| {
            let policy = entry.object.as_ref().ok()?;
            let tier: &CategoryTier = tier_for(policy.category.as_ref())?;
            let sequence_number = policy.sequence_number.unwrap_or(0);
            (0..=MAX_SEQUENCE_NUMBER)
                .contains(&sequence_number)
                .then_some(Placement {
                    tier: tier.name,
                    sequence_number,
                    path: path.as_str(),
                })
        });
        let priorities = allocate(placements);
        let application_policies = span
            .policies
            .values()
            .filter(|entry| {
                entry
                    .object
                    .as_ref()
                    .is_ok_and(|p| p.category == Some(PolicyCategory::Application))
            })
            .count();
        let context = PolicyContext {
            groups,
            services: ServiceResolver::new(span),
            cluster_families: self.options.ip_families.families(),
            application_policies,
        };
        let tier_summaries = CATEGORY_TIERS.iter().map(|tier| TierSummary {
            name: tier.name.to_owned(),
            priority: tier.priority,
        });
        let admission = DesiredAdmissionContext::new(tier_summaries, std::iter::empty());
        let mut names: HashMap<String, &str> = HashMap::new();

        for (path, entry) in &span.policies {
            let display_name = display_name(entry.object.as_ref().ok().map(|p| &p.meta), path);
            let outcome =
                (|| -> Result<(ClusterNetworkPolicy, Vec<ObjectKey>), Vec<RealizationError>> {
                    let policy = entry.object.as_ref().map_err(|error| {
                        refused(
                            Reason::InvalidDocument,
                            format!("not a valid NSX SecurityPolicy: {error}"),
                        )
                    })?;
                    let translated = context.policy(path, policy)?;
                    if let Some(problem) = tier_problems.get(translated.tier.name) {
                        return Err(refused(
                            Reason::AntreaRejected,
                            format!(
                                "the Tier {} would be refused: {problem}",
                                translated.tier.name
                            ),
                        ));
                    }
                    let priority = match priorities.get(path.as_str()) {
                        Some(Ok(priority)) => *priority,
                        Some(Err(PriorityError::TooManyTies {
                            sequence_number,
                            count,
                        })) => {
                            return Err(refused(
                                Reason::InvalidDocument,
                                format!(
                                    "{count} {} policies share sequence_number {sequence_number}; at most 1000 can be ordered",
                                    translated.tier.category
                                ),
                            ));
                        }
                        None => {
                            return Err(refused(
                                Reason::InvalidDocument,
                                "the policy has no priority",
                            ));
                        }
                    };
                    let name = policy_name(path_id(path), &entry.id.unique_id);
                    if let Some(owner) = names.get(&name) {
                        return Err(refused(
                            Reason::NameConflict,
                            format!(
                                "the ClusterNetworkPolicy name {name} is already used for {owner}"
                            ),
                        ));
                    }
                    let no_rules = translated.ingress.is_empty() && translated.egress.is_empty();
                    let applied_to = match translated.applied_to {
                        None if no_rules => Some(vec![AppliedTo {
                            pod_selector: Some(LabelSelector::default()),
                            ..AppliedTo::default()
                        }]),
                        other => other,
                    };
                    let spec = ClusterNetworkPolicySpec {
                        tier: Some(translated.tier.name.to_owned()),
                        priority,
                        applied_to,
                        ingress: (!translated.ingress.is_empty()).then_some(translated.ingress),
                        egress: (!translated.egress.is_empty()).then_some(translated.egress),
                    };
                    let hash = spec_hash(&spec);
                    let mut acnp = ClusterNetworkPolicy::new(&name, spec);
                    acnp.metadata = nsx_meta(
                        &self.identity,
                        &name,
                        ObjectRole::Policy,
                        &entry.id,
                        &display_name,
                        hash,
                    );
                    let problem = self
                        .schemas
                        .check_cached(
                            &AntreaObject::ClusterNetworkPolicy(acnp.clone()),
                            &self.checks,
                        )
                        .err()
                        .or_else(|| {
                            validate_cluster_network_policy(&acnp.spec, &admission)
                                .err()
                                .map(|d| d.message)
                        });
                    if let Some(problem) = problem {
                        return Err(refused(
                            Reason::AntreaRejected,
                            format!(
                                "the translated ClusterNetworkPolicy {name} would be refused: {problem}"
                            ),
                        ));
                    }
                    let mut objects = vec![
                        ObjectKey::new(AntreaKind::Tier, translated.tier.name),
                        ObjectKey::new(AntreaKind::ClusterNetworkPolicy, &name),
                    ];
                    for group in &translated.groups {
                        objects.extend(
                            group_objects
                                .get(group.as_str())
                                .into_iter()
                                .flatten()
                                .cloned(),
                        );
                    }
                    let unique: BTreeSet<ObjectKey> = objects.into_iter().collect();
                    Ok((acnp, unique.into_iter().collect()))
                })();
            let outcome = match outcome {
                Ok((acnp, objects)) => {
                    names.insert(
                        acnp.metadata.name.clone().unwrap_or_default(),
                        path.as_str(),
                    );
                    desired.cluster_network_policies.push(acnp);
                    Outcome::Translated { objects }
                }
                Err(errors) => Outcome::Refused { errors },
            };
            verdicts.push(Verdict {
                kind: NsxKind::SecurityPolicy,
                id: entry.id.clone(),
                display_name,
                outcome,
            });
        }
    }
}

fn display_name(meta: Option<&nsx_model::policy::PolicyObjectMeta>, path: &str) -> String {
    meta.map(|meta| meta.name().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| path_id(path).to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn translator() -> Translator {
        Translator::new(
            ClusterIdentity::new("cluster-a"),
            TranslateOptions::default(),
            ObjectSchemas::builtin().expect("builtin schemas"),
        )
    }

    fn policy(path: &str, unique_id: &str) -> serde_json::Value {
        json!({"resource_type": "SecurityPolicy", "id": path_id(path), "path": path, "unique_id": unique_id,
               "_revision": 1, "category": "Application", "sequence_number": 3,
               "rules": [{"resource_type": "Rule", "id": "r", "rule_id": 1, "action": "DROP", "direction": "IN"}]})
    }

    #[test]
    fn two_objects_with_one_name_are_a_conflict_not_a_merge() {
        // Same id and unique_id under two domains: one Antrea name.
        let (span, _) = Span::from_documents([
            policy("/infra/domains/a/security-policies/p", "same"),
            policy("/infra/domains/b/security-policies/p", "same"),
        ]);
        let translation = translator().translate(&span);
        assert_eq!(translation.desired.cluster_network_policies.len(), 1);
        let second = translation
            .verdict(
                NsxKind::SecurityPolicy,
                "/infra/domains/b/security-policies/p",
            )
            .unwrap();
        assert_eq!(second.errors()[0].reason, Reason::NameConflict);
        assert!(second.objects().is_empty());
        let first = translation
            .verdict(
                NsxKind::SecurityPolicy,
                "/infra/domains/a/security-policies/p",
            )
            .unwrap();
        assert_eq!(first.objects().len(), 2, "tier and policy");
    }

    #[test]
    fn translation_is_deterministic_and_priorities_are_ordered() {
        let (span, _) = Span::from_documents([
            policy("/infra/domains/default/security-policies/b", "ub"),
            policy("/infra/domains/default/security-policies/a", "ua"),
        ]);
        let translator = translator();
        let first = translator.translate(&span);
        assert_eq!(first, translator.translate(&span));
        let priority = |name: &str| {
            first
                .desired
                .cluster_network_policies
                .iter()
                .find(|p| p.metadata.name.as_deref().unwrap().starts_with(name))
                .unwrap()
                .spec
                .priority
        };
        assert!(priority("nsx-p-a-") < priority("nsx-p-b-"));
        assert_eq!(priority("nsx-p-a-"), 1.003);
    }

    #[test]
    fn the_four_tiers_are_always_desired() {
        let translation = translator().translate(&Span::default());
        assert_eq!(translation.desired.tiers.len(), 4);
        assert!(translation.verdicts.is_empty());
        let mut priorities: Vec<i32> = translation
            .desired
            .tiers
            .iter()
            .map(|t| t.spec.priority)
            .collect();
        priorities.sort();
        assert_eq!(priorities, vec![1, 2, 3, 4]);
    }

    #[test]
    fn single_stack_options_select_families() {
        assert_eq!(IpFamilies::Ipv4Only.families(), [IpFamily::V4].into());
        assert_eq!(IpFamilies::default().families().len(), 2);
    }
}
