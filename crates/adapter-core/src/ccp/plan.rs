//! The plan that brings the cluster's owned objects to the desired state (the
//! "ClusterResources" idea): creates, updates and deletes, ordered so that nothing ever
//! references an object that does not exist yet, and empty when nothing changed.
//!
//! - **Create** what is desired and absent.
//! - **Update** an owned object when its spec-hash annotation differs from the rendered one,
//!   when its live spec differs from the rendered spec (a manual edit, which is reverted), or
//!   when our labels or annotations differ (a revision-only change of the NSX object writes
//!   nothing).
//! - **Delete** owned objects that are no longer desired.
//! - Objects without our ownership labels for this cluster are never touched; one that holds
//!   a desired name is reported as a [`Conflict`].
//!
//! Order: writes go tiers → criterion groups → NSX-group (parent) groups → policies; deletes
//! go the other way round, after every write.

use std::collections::BTreeMap;

use super::naming::{
    DISPLAY_NAME_ANNOTATION, NSX_PATH_ANNOTATION, NSX_UNIQUE_ID_ANNOTATION, SPEC_HASH_ANNOTATION,
    is_owned,
};
use super::objects::{AntreaObject, DesiredState, ObjectKey, ObservedState, write_stage};
use super::span::ClusterIdentity;

/// Why an owned object is rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UpdateReason {
    /// The rendered spec changed (the NSX object changed).
    SpecHashChanged,
    /// The live spec is not the rendered one (edited by hand): it is reverted.
    LiveSpecDiffers,
    /// Our labels or annotations (path, unique id, display name) differ.
    MetadataDiffers,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanAction {
    Create(AntreaObject),
    /// Replace spec, labels and annotations of ours with the rendered ones.
    Update {
        object: AntreaObject,
        reason: UpdateReason,
    },
    Delete(ObjectKey),
}

impl PlanAction {
    /// The object the step is about.
    pub fn key(&self) -> ObjectKey {
        match self {
            Self::Create(object) | Self::Update { object, .. } => object.key(),
            Self::Delete(key) => key.clone(),
        }
    }
}

/// A desired object that cannot be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub key: ObjectKey,
    pub reason: String,
}

/// The ordered steps, and the desired objects that cannot be written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub actions: Vec<PlanAction>,
    pub conflicts: Vec<Conflict>,
}

impl Plan {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty() && self.conflicts.is_empty()
    }

    /// Counts of (creates, updates, deletes).
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for action in &self.actions {
            match action {
                PlanAction::Create(_) => counts.0 += 1,
                PlanAction::Update { .. } => counts.1 += 1,
                PlanAction::Delete(_) => counts.2 += 1,
            }
        }
        counts
    }
}

fn annotation<'a>(object: &'a AntreaObject, key: &str) -> Option<&'a String> {
    object.meta().annotations.as_ref()?.get(key)
}

fn same_spec(desired: &AntreaObject, live: &AntreaObject) -> bool {
    match (desired, live) {
        (AntreaObject::Tier(d), AntreaObject::Tier(l)) => d.spec == l.spec,
        (AntreaObject::ClusterGroup(d), AntreaObject::ClusterGroup(l)) => d.spec == l.spec,
        (AntreaObject::ClusterNetworkPolicy(d), AntreaObject::ClusterNetworkPolicy(l)) => {
            d.spec == l.spec
        }
        _ => false,
    }
}

/// Whether the live object is exactly what was rendered (spec, our labels, our annotations
/// other than the NSX revision).
pub fn update_reason(desired: &AntreaObject, live: &AntreaObject) -> Option<UpdateReason> {
    if annotation(desired, SPEC_HASH_ANNOTATION) != annotation(live, SPEC_HASH_ANNOTATION) {
        return Some(UpdateReason::SpecHashChanged);
    }
    if !same_spec(desired, live) {
        return Some(UpdateReason::LiveSpecDiffers);
    }
    let live_labels = live.meta().labels.as_ref();
    let labels_match = desired
        .meta()
        .labels
        .iter()
        .flatten()
        .all(|(key, value)| live_labels.and_then(|labels| labels.get(key)) == Some(value));
    let annotations_match = [
        NSX_PATH_ANNOTATION,
        NSX_UNIQUE_ID_ANNOTATION,
        DISPLAY_NAME_ANNOTATION,
    ]
    .iter()
    .all(|key| annotation(desired, key) == annotation(live, key));
    (!labels_match || !annotations_match).then_some(UpdateReason::MetadataDiffers)
}

/// Whether the live object holds the current rendering of the desired one (used by
/// realization: status about an older rendering says nothing about the current one).
pub fn is_current(desired: &AntreaObject, live: &AntreaObject) -> bool {
    annotation(desired, SPEC_HASH_ANNOTATION) == annotation(live, SPEC_HASH_ANNOTATION)
        && same_spec(desired, live)
}

/// Plans the writes that turn `observed` into `desired`.
pub fn plan(desired: &DesiredState, observed: &ObservedState, identity: &ClusterIdentity) -> Plan {
    let live: BTreeMap<ObjectKey, AntreaObject> = observed.index();
    let mut writes: Vec<(u8, PlanAction)> = Vec::new();
    let mut conflicts = Vec::new();
    let mut wanted = std::collections::BTreeSet::new();
    for object in desired.objects() {
        let key = object.key();
        wanted.insert(key.clone());
        match live.get(&key) {
            None => writes.push((write_stage(&object), PlanAction::Create(object))),
            Some(current) if !is_owned(current.meta(), identity) => conflicts.push(Conflict {
                key,
                reason: "an object with this name exists and is not owned by this adapter for this cluster".into(),
            }),
            Some(current) => {
                if let (AntreaObject::Tier(d), AntreaObject::Tier(l)) = (&object, current)
                    && d.spec.priority != l.spec.priority
                {
                    conflicts.push(Conflict {
                        key,
                        reason: format!(
                            "the Tier has priority {} instead of {}, and a Tier's priority cannot change",
                            l.spec.priority, d.spec.priority
                        ),
                    });
                    continue;
                }
                if let Some(reason) = update_reason(&object, current) {
                    writes.push((write_stage(&object), PlanAction::Update { object, reason }));
                }
            }
        }
    }
    writes.sort_by(|(a_stage, a), (b_stage, b)| (a_stage, a.key()).cmp(&(b_stage, b.key())));
    let mut deletes: Vec<(u8, ObjectKey)> = live
        .iter()
        .filter(|(key, object)| !wanted.contains(*key) && is_owned(object.meta(), identity))
        .map(|(key, object)| (write_stage(object), key.clone()))
        .collect();
    deletes.sort_by(|(a_stage, a), (b_stage, b)| {
        (std::cmp::Reverse(a_stage), a).cmp(&(std::cmp::Reverse(b_stage), b))
    });
    let mut actions: Vec<PlanAction> = writes.into_iter().map(|(_, action)| action).collect();
    actions.extend(deletes.into_iter().map(|(_, key)| PlanAction::Delete(key)));
    Plan { actions, conflicts }
}

/// The observed state after a plan is carried out exactly (for tests and dry runs): creates
/// and updates store the rendered object, deletes remove it; conflicts change nothing.
pub fn apply(plan: &Plan, observed: &ObservedState) -> ObservedState {
    let mut objects = observed.index();
    for action in &plan.actions {
        match action {
            PlanAction::Create(object) | PlanAction::Update { object, .. } => {
                objects.insert(object.key(), object.clone());
            }
            PlanAction::Delete(key) => {
                objects.remove(key);
            }
        }
    }
    let mut after = ObservedState::default();
    for object in objects.into_values() {
        after.push(object);
    }
    after.sort();
    after
}

#[cfg(test)]
mod tests {
    use antrea_types::ClusterGroupSpec;
    use antrea_types::{ClusterGroup, Tier};
    use serde_json::json;

    use super::*;
    use crate::ccp::check::ObjectSchemas;
    use crate::ccp::naming::{DISPLAY_NAME_ANNOTATION, MANAGED_BY_LABEL, NSX_REVISION_ANNOTATION};
    use crate::ccp::objects::AntreaKind;
    use crate::ccp::span::Span;
    use crate::ccp::translate::{TranslateOptions, Translator};

    fn identity() -> ClusterIdentity {
        ClusterIdentity::new("cluster-a")
    }

    fn desired() -> DesiredState {
        let (span, _) = Span::from_documents([
            json!({"resource_type": "Group", "id": "web", "path": "/infra/domains/default/groups/web", "unique_id": "u-web", "_revision": 1,
                   "group_type": ["ANTREA"], "expression": [{"resource_type": "Condition", "member_type": "Pod", "key": "Tag", "operator": "EQUALS", "value": "app|web"}]}),
            json!({"resource_type": "SecurityPolicy", "id": "p", "path": "/infra/domains/default/security-policies/p", "unique_id": "u-p", "_revision": 1,
                   "category": "Application", "sequence_number": 1,
                   "rules": [{"resource_type": "Rule", "id": "r", "rule_id": 7, "source_groups": ["/infra/domains/default/groups/web"], "action": "ALLOW", "direction": "IN"}]}),
        ]);
        let translator = Translator::new(
            identity(),
            TranslateOptions::default(),
            ObjectSchemas::builtin().unwrap(),
        );
        translator.translate(&span).desired
    }

    fn kinds(plan: &Plan) -> Vec<(String, AntreaKind)> {
        plan.actions
            .iter()
            .map(|action| {
                let verb = match action {
                    PlanAction::Create(_) => "create",
                    PlanAction::Update { .. } => "update",
                    PlanAction::Delete(_) => "delete",
                };
                (verb.to_owned(), action.key().kind)
            })
            .collect()
    }

    #[test]
    fn creates_run_tiers_children_parents_policies() {
        let desired = desired();
        let plan = plan(&desired, &ObservedState::default(), &identity());
        // 4 tiers, the criterion child, the group parent, the policy.
        assert_eq!(plan.counts(), (7, 0, 0));
        let order: Vec<String> = plan.actions.iter().map(|a| a.key().name).collect();
        assert!(
            order[..4]
                .iter()
                .all(|name| name.starts_with("nsx-category-"))
        );
        assert!(
            order[4].starts_with("nsx-g-web-") && order[4].len() > order[5].len(),
            "child first: {order:?}"
        );
        assert!(order[5].starts_with("nsx-g-web-"));
        assert!(order[6].starts_with("nsx-p-p-"));
        assert_eq!(
            kinds(&plan).last().map(|k| k.1),
            Some(AntreaKind::ClusterNetworkPolicy)
        );
        let after = apply(&plan, &ObservedState::default());
        assert!(super::plan(&desired, &after, &identity()).is_empty());
    }

    #[test]
    fn manual_edits_are_reverted_and_revision_only_changes_write_nothing() {
        let desired = desired();
        let mut live = apply(
            &plan(&desired, &ObservedState::default(), &identity()),
            &ObservedState::default(),
        );
        // A new NSX revision with the same content: no write.
        live.cluster_network_policies[0]
            .metadata
            .annotations
            .as_mut()
            .unwrap()
            .insert(NSX_REVISION_ANNOTATION.into(), "41".into());
        assert!(plan(&desired, &live, &identity()).is_empty());
        // A hand edit of the spec (hash annotation untouched): reverted.
        live.cluster_network_policies[0].spec.priority = 99.0;
        let fix = plan(&desired, &live, &identity());
        assert!(matches!(
            &fix.actions[..],
            [PlanAction::Update {
                reason: UpdateReason::LiveSpecDiffers,
                ..
            }]
        ));
        live.cluster_network_policies[0].spec.priority =
            desired.cluster_network_policies[0].spec.priority;
        // A renamed NSX object: metadata update.
        live.cluster_groups[0]
            .metadata
            .annotations
            .as_mut()
            .unwrap()
            .insert(DISPLAY_NAME_ANNOTATION.into(), "old name".into());
        let fix = plan(&desired, &live, &identity());
        assert!(matches!(
            &fix.actions[..],
            [PlanAction::Update {
                reason: UpdateReason::MetadataDiffers,
                ..
            }]
        ));
    }

    #[test]
    fn stale_owned_objects_are_deleted_in_reverse_order_and_foreign_ones_kept() {
        let desired = desired();
        let mut live = apply(
            &plan(&desired, &ObservedState::default(), &identity()),
            &ObservedState::default(),
        );
        // Everything ours becomes stale when nothing is desired but the tiers.
        let only_tiers = DesiredState {
            tiers: desired.tiers.clone(),
            ..DesiredState::default()
        };
        // Plus an unowned lookalike and another cluster's object.
        let mut foreign = ClusterGroup::new(
            "nsx-g-foreign-0000000000000000",
            ClusterGroupSpec::default(),
        );
        foreign.metadata.labels =
            Some([(MANAGED_BY_LABEL.to_owned(), "someone-else".to_owned())].into());
        live.cluster_groups.push(foreign);
        let mut other_cluster = live.cluster_groups[0].clone();
        other_cluster.metadata.name = Some("nsx-g-other-cluster".into());
        other_cluster.metadata.labels = Some(crate::ccp::naming::ownership_labels(
            &ClusterIdentity::new("cluster-b"),
            crate::ccp::naming::ObjectRole::Group,
        ));
        live.cluster_groups.push(other_cluster);
        live.sort();
        let plan = plan(&only_tiers, &live, &identity());
        assert_eq!(
            kinds(&plan),
            vec![
                ("delete".into(), AntreaKind::ClusterNetworkPolicy),
                ("delete".into(), AntreaKind::ClusterGroup),
                ("delete".into(), AntreaKind::ClusterGroup),
            ]
        );
        let names: Vec<String> = plan.actions.iter().map(|a| a.key().name).collect();
        assert!(
            names[1].len() < names[2].len(),
            "parent before child: {names:?}"
        );
        assert!(
            !names
                .iter()
                .any(|n| n.contains("foreign") || n.contains("other-cluster"))
        );
    }

    #[test]
    fn foreign_objects_with_our_names_are_conflicts() {
        let desired = desired();
        let mut live = ObservedState::default();
        let mut squatter = desired.cluster_network_policies[0].clone();
        squatter.metadata.labels = None;
        live.cluster_network_policies.push(squatter);
        let mut tier = Tier::new("nsx-category-emergency", desired.tiers[1].spec.clone());
        tier.metadata = desired
            .tiers
            .iter()
            .find(|t| t.metadata.name == tier.metadata.name)
            .unwrap()
            .metadata
            .clone();
        tier.spec.priority = 7;
        live.tiers.push(tier);
        let plan = plan(&desired, &live, &identity());
        assert_eq!(plan.conflicts.len(), 2, "{:?}", plan.conflicts);
        assert!(
            plan.conflicts
                .iter()
                .any(|c| c.reason.contains("not owned"))
        );
        assert!(plan.conflicts.iter().any(|c| c.reason.contains("priority")));
        assert!(
            plan.actions
                .iter()
                .all(|a| a.key() != plan.conflicts[0].key && a.key() != plan.conflicts[1].key)
        );
    }
}
