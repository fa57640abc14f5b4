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
