//! The translator: a cluster's span (NSX policies, groups, services) in, the Antrea desired
//! state and a verdict per NSX policy and group out. Pure and deterministic: the same span
//! always gives the same objects, names, priorities and errors.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use antrea_admission::{
    TierSummary, validate_cluster_group, validate_cluster_network_policy, validate_tier_create,
};
use antrea_types::policy::AppliedTo;
use antrea_types::{
    ClusterGroup, ClusterGroupSpec, ClusterNetworkPolicy, ClusterNetworkPolicySpec, Tier, TierSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use nsx_model::policy::{Group, PolicyCategory, SecurityPolicy, Service};
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
use super::policies::{GroupRef, PolicyContext, TranslatedPolicy};
use super::priority::{
    CATEGORY_TIERS, CategoryTier, MAX_SEQUENCE_NUMBER, Placement, PriorityError, allocate, tier_for,
};
use super::reads::ReadLog;
use super::services::ServiceResolver;
use super::span::{ClusterIdentity, NsxIdentity, NsxKind, Span, SpanEntry};

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

/// Translates spans for one cluster, incrementally: outcomes never depend on what came
/// before, only the work does. Keeps
/// - the results of the schema checks of the last two translations (by exact object JSON;
///   for groups, of the last two that translated groups);
/// - the group phase of the last translation, reused while the span's groups are unchanged;
/// - per policy, its translation with the inputs it read (its document, the groups and
///   services it resolved, the count of Application policies if consulted) and its rendered
///   ClusterNetworkPolicy with the priority it had: a policy is translated again only when
///   one of these inputs differs, and rendered again only when its priority does too.
///
/// Clones share these caches.
#[derive(Debug, Clone)]
pub struct Translator {
    identity: ClusterIdentity,
    options: TranslateOptions,
    schemas: ObjectSchemas,
    checks: Arc<CheckCache>,
    /// The group phase's checks: rotated only when the group phase runs.
    group_checks: Arc<CheckCache>,
    memo: Arc<Mutex<TranslationMemo>>,
}

/// What the last translation can lend the next one.
#[derive(Default)]
struct TranslationMemo {
    groups: Option<GroupPhase>,
    policies: HashMap<String, PolicyMemo>,
    /// Policies translated again (not reused) by the last translation.
    policies_translated: usize,
}

impl std::fmt::Debug for TranslationMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TranslationMemo")
            .field(
                "groups",
                &self.groups.as_ref().map(|phase| phase.input.len()),
            )
            .field("policies", &self.policies.len())
            .finish()
    }
}

/// The group phase of a translation: a function of the span's groups alone.
struct GroupPhase {
    input: BTreeMap<String, SpanEntry<Group>>,
    cluster_groups: Vec<ClusterGroup>,
    verdicts: Vec<Verdict>,
    refs: BTreeMap<String, Result<GroupRef, RealizationError>>,
}

/// One policy's translation and the inputs it read.
struct PolicyMemo {
    entry: SpanEntry<SecurityPolicy>,
    groups: Vec<(String, Option<Result<GroupRef, RealizationError>>)>,
    services: Vec<(String, Option<SpanEntry<Service>>)>,
    /// The count of Application policies, when the translation read it.
    application_policies: Option<usize>,
    translated: Result<TranslatedPolicy, Vec<RealizationError>>,
    rendered: Option<RenderedPolicy>,
}

impl PolicyMemo {
    /// Whether every input it read is unchanged.
    fn is_current(
        &self,
        entry: &SpanEntry<SecurityPolicy>,
        groups: &BTreeMap<String, Result<GroupRef, RealizationError>>,
        span: &Span,
        application_policies: usize,
    ) -> bool {
        self.application_policies
            .is_none_or(|count| count == application_policies)
            && self
                .groups
                .iter()
                .all(|(path, value)| groups.get(path) == value.as_ref())
            && self
                .services
                .iter()
                .all(|(path, value)| span.services.get(path) == value.as_ref())
            && self.entry == *entry
    }
}

/// A policy's ClusterNetworkPolicy at one priority, and why Antrea would refuse it.
struct RenderedPolicy {
    priority_bits: u64,
    policy: ClusterNetworkPolicy,
    problem: Option<String>,
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
            group_checks: Arc::default(),
            memo: Arc::default(),
        }
    }

    /// How many policies the last translation translated again (the others were reused).
    pub fn policies_translated_last(&self) -> usize {
        self.memo
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .policies_translated
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

        let mut memo =
            std::mem::take(&mut *self.memo.lock().unwrap_or_else(PoisonError::into_inner));
        let reusable = memo
            .groups
            .take()
            .filter(|phase| phase.input == span.groups);
        let phase = match reusable {
            Some(phase) => phase,
            None => {
                self.group_checks.rotate();
                let mut groups_desired = DesiredState::default();
                let mut group_verdicts = Vec::new();
                let refs = self.translate_groups(span, &mut groups_desired, &mut group_verdicts);
                GroupPhase {
                    input: span.groups.clone(),
                    cluster_groups: groups_desired.cluster_groups,
                    verdicts: group_verdicts,
                    refs,
                }
            }
        };
        desired
            .cluster_groups
            .extend(phase.cluster_groups.iter().cloned());
        verdicts.extend(phase.verdicts.iter().cloned());
        self.translate_policies(
            span,
            &phase,
            &tier_problems,
            &mut memo,
            &mut desired,
            &mut verdicts,
        );
        memo.groups = Some(phase);
        *self.memo.lock().unwrap_or_else(PoisonError::into_inner) = memo;

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
                        .check_cached(
                            &AntreaObject::ClusterGroup(object.clone()),
                            &self.group_checks,
                        )
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
        phase: &GroupPhase,
        tier_problems: &HashMap<&'static str, String>,
        memo: &mut TranslationMemo,
        desired: &mut DesiredState,
        verdicts: &mut Vec<Verdict>,
    ) {
        let groups = &phase.refs;
        let group_objects: BTreeMap<&str, &[ObjectKey]> = phase
            .verdicts
            .iter()
            .map(|v| (v.id.path.as_str(), v.objects()))
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
        let reads = ReadLog::new();
        let context = PolicyContext {
            groups,
            services: ServiceResolver::recording(span, &reads),
            cluster_families: self.options.ip_families.families(),
            application_policies,
            reads: Some(&reads),
        };
        let tier_summaries = CATEGORY_TIERS.iter().map(|tier| TierSummary {
            name: tier.name.to_owned(),
            priority: tier.priority,
        });
        let admission = DesiredAdmissionContext::new(tier_summaries, std::iter::empty());
        let mut names: HashMap<String, &str> = HashMap::new();
        let mut previous = std::mem::take(&mut memo.policies);
        memo.policies_translated = 0;

        for (path, entry) in &span.policies {
            let display_name = display_name(entry.object.as_ref().ok().map(|p| &p.meta), path);
            let outcome = match &entry.object {
                Err(error) => Err(refused(
                    Reason::InvalidDocument,
                    format!("not a valid NSX SecurityPolicy: {error}"),
                )),
                Ok(policy) => {
                    let reused = previous.remove(path.as_str()).filter(|cached| {
                        cached.is_current(entry, groups, span, application_policies)
                    });
                    let mut cached = match reused {
                        Some(cached) => cached,
                        None => {
                            memo.policies_translated += 1;
                            let translated = context.policy(path, policy);
                            PolicyMemo {
                                entry: entry.clone(),
                                groups: reads
                                    .take_groups()
                                    .into_iter()
                                    .map(|group| {
                                        let value = groups.get(&group).cloned();
                                        (group, value)
                                    })
                                    .collect(),
                                services: reads
                                    .take_services()
                                    .into_iter()
                                    .map(|service| {
                                        let value = span.services.get(&service).cloned();
                                        (service, value)
                                    })
                                    .collect(),
                                application_policies: reads
                                    .take_application_policies()
                                    .then_some(application_policies),
                                translated,
                                rendered: None,
                            }
                        }
                    };
                    let outcome = self.render_policy(
                        path,
                        entry,
                        &display_name,
                        &mut cached,
                        PolicyInputs {
                            tier_problems,
                            priorities: &priorities,
                            names: &names,
                            admission: &admission,
                            group_objects: &group_objects,
                        },
                    );
                    memo.policies.insert(path.clone(), cached);
                    outcome
                }
            };
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

    /// A translated policy's ClusterNetworkPolicy and the objects it needs, or why it is
    /// refused; renders it again only when its priority changed since `cached` was rendered.
    fn render_policy(
        &self,
        path: &str,
        entry: &SpanEntry<SecurityPolicy>,
        display_name: &str,
        cached: &mut PolicyMemo,
        inputs: PolicyInputs<'_, '_>,
    ) -> Result<(ClusterNetworkPolicy, Vec<ObjectKey>), Vec<RealizationError>> {
        let translated = cached.translated.as_ref().map_err(Clone::clone)?;
        if let Some(problem) = inputs.tier_problems.get(translated.tier.name) {
            return Err(refused(
                Reason::AntreaRejected,
                format!(
                    "the Tier {} would be refused: {problem}",
                    translated.tier.name
                ),
            ));
        }
        let priority = match inputs.priorities.get(path) {
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
        if let Some(owner) = inputs.names.get(&name) {
            return Err(refused(
                Reason::NameConflict,
                format!("the ClusterNetworkPolicy name {name} is already used for {owner}"),
            ));
        }
        let rendered = match cached
            .rendered
            .take()
            .filter(|rendered| rendered.priority_bits == priority.to_bits())
        {
            Some(rendered) => rendered,
            None => {
                let no_rules = translated.ingress.is_empty() && translated.egress.is_empty();
                let applied_to = match translated.applied_to.clone() {
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
                    ingress: (!translated.ingress.is_empty()).then(|| translated.ingress.clone()),
                    egress: (!translated.egress.is_empty()).then(|| translated.egress.clone()),
                };
                let hash = spec_hash(&spec);
                let mut acnp = ClusterNetworkPolicy::new(&name, spec);
                acnp.metadata = nsx_meta(
                    &self.identity,
                    &name,
                    ObjectRole::Policy,
                    &entry.id,
                    display_name,
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
                        validate_cluster_network_policy(&acnp.spec, inputs.admission)
                            .err()
                            .map(|d| d.message)
                    });
                RenderedPolicy {
                    priority_bits: priority.to_bits(),
                    policy: acnp,
                    problem,
                }
            }
        };
        let acnp = rendered.policy.clone();
        let problem = rendered.problem.clone();
        cached.rendered = Some(rendered);
        if let Some(problem) = problem {
            return Err(refused(
                Reason::AntreaRejected,
                format!("the translated ClusterNetworkPolicy {name} would be refused: {problem}"),
            ));
        }
        let mut objects = vec![
            ObjectKey::new(AntreaKind::Tier, translated.tier.name),
            ObjectKey::new(AntreaKind::ClusterNetworkPolicy, &name),
        ];
        for group in &translated.groups {
            objects.extend(
                inputs
                    .group_objects
                    .get(group.as_str())
                    .into_iter()
                    .flat_map(|keys| keys.iter())
                    .cloned(),
            );
        }
        let unique: BTreeSet<ObjectKey> = objects.into_iter().collect();
        Ok((acnp, unique.into_iter().collect()))
    }
}

/// The span-wide inputs of rendering a policy.
struct PolicyInputs<'a, 'p> {
    tier_problems: &'a HashMap<&'static str, String>,
    priorities: &'a BTreeMap<&'p str, Result<f64, PriorityError>>,
    names: &'a HashMap<String, &'p str>,
    admission: &'a DesiredAdmissionContext<'p>,
    group_objects: &'a BTreeMap<&'p str, &'a [ObjectKey]>,
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
    fn a_policy_is_translated_again_only_when_an_input_it_read_changed() {
        let group = |id: &str, key: &str| {
            json!({"resource_type": "Group", "id": id, "path": format!("/infra/domains/default/groups/{id}"),
                   "unique_id": format!("u{id}"), "_revision": 1, "group_type": ["ANTREA"],
                   "expression": [{"resource_type": "Condition", "member_type": "Pod", "key": "Tag",
                                   "operator": "EQUALS", "value": format!("{key}|web")}]})
        };
        let with_source = |path: &str, unique_id: &str, source: &str| {
            let mut document = policy(path, unique_id);
            document["rules"][0]["source_groups"] =
                json!([format!("/infra/domains/default/groups/{source}")]);
            document
        };
        let documents = |group_key: &str, b_revision: i64| {
            let mut b = policy("/infra/domains/default/security-policies/b", "ub");
            b["_revision"] = json!(b_revision);
            vec![
                group("g", group_key),
                with_source("/infra/domains/default/security-policies/a", "ua", "g"),
                b,
            ]
        };
        let translator = translator();
        translator.translate(&Span::from_documents(documents("app", 1)).0);
        assert_eq!(translator.policies_translated_last(), 2);
        translator.translate(&Span::from_documents(documents("app", 1)).0);
        assert_eq!(translator.policies_translated_last(), 0, "nothing changed");
        let span = Span::from_documents(documents("app", 2)).0;
        let translation = translator.translate(&span);
        assert_eq!(translator.policies_translated_last(), 1, "only b changed");
        assert_eq!(
            translation,
            super::Translator::new(
                ClusterIdentity::new("cluster-a"),
                TranslateOptions::default(),
                ObjectSchemas::builtin().expect("builtin schemas"),
            )
            .translate(&span)
        );
        translator.translate(&Span::from_documents(documents("tier", 2)).0);
        assert_eq!(
            translator.policies_translated_last(),
            0,
            "a group's members do not change the policies using it (only its name does)"
        );
        let mut recreated = documents("tier", 2);
        recreated[0]["unique_id"] = json!("recreated");
        translator.translate(&Span::from_documents(recreated).0);
        assert_eq!(
            translator.policies_translated_last(),
            1,
            "only a reads the group"
        );
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
