//! Realization: what NSX is told about each policy and group (docs/protocol.md §6.6, §6.8),
//! from the translation, the owned objects as they are now (with Antrea's status), the write
//! errors and the clock. A pure function: `now` is an input.
//!
//! - **SUCCESS**: every Antrea object the NSX object needs exists with its current rendering,
//!   every ClusterNetworkPolicy is `Realized` at its current generation
//!   (`status.observedGeneration == metadata.generation`), and every ClusterGroup has
//!   `GroupMembersComputed=True`. (Antrea reports `Realized` for a policy whose groups are
//!   missing or empty, so the groups are checked too.)
//! - **ERROR**: the translator refused the object (its errors, verbatim); a write failed (the
//!   admission message or API error); Antrea reports `Failed`, `Realizable=False`,
//!   `RealizationFailure=True`, or a group `GroupMembersComputed=False` with
//!   `ChildGroupsNestingExceeded`; or the object is still not realized after the timeout.
//! - **IN_PROGRESS** otherwise.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use antrea_types::group::GroupConditionType;
use antrea_types::policy::{ConditionStatus, NetworkPolicyConditionType, NetworkPolicyPhase};
use k8s_openapi::jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::error::{RealizationError, Reason};
use super::naming::{NSX_PATH_ANNOTATION, is_owned};
use super::objects::{AntreaObject, ObjectKey, ObservedState};
use super::plan::is_current;
use super::span::{ClusterIdentity, NsxIdentity, NsxKind};
use super::translate::{Outcome, Translation};

/// The protocol's realization states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RealizationState {
    InProgress,
    Success,
    Error,
}

/// Why a write of one object failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WriteFailure {
    /// The API server or an Antrea webhook refused it (the `Status` message).
    Rejected { message: String },
    /// The Kubernetes API could not be reached.
    Unavailable { message: String },
    /// Another API error (HTTP code and message).
    Failed { code: u16, message: String },
}

/// The realization of one NSX object version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Realization {
    pub kind: NsxKind,
    pub id: NsxIdentity,
    pub state: RealizationState,
    pub errors: Vec<RealizationError>,
    /// Antrea's `desiredNodesRealized` of the policy, when known.
    pub desired_nodes: Option<i32>,
    /// Antrea's `currentNodesRealized` of the policy, when known.
    pub realized_nodes: Option<i32>,
    /// The Antrea objects created for it.
    pub realized_entities: Vec<ObjectKey>,
}

/// Everything realization looks at.
#[derive(Debug, Clone, Copy)]
pub struct RealizationInput<'a> {
    pub translation: &'a Translation,
    /// The owned objects as listed now, with status and `metadata.generation`.
    pub observed: &'a ObservedState,
    /// Failed writes of the last plan, by object.
    pub write_failures: &'a BTreeMap<ObjectKey, WriteFailure>,
    /// When the adapter first applied the current revision of each NSX path. Without an entry
    /// the newest `creationTimestamp` of the object's Antrea objects is used.
    pub applied_at: &'a BTreeMap<String, Timestamp>,
    pub now: Timestamp,
    /// `RealizeTimeoutSeconds` (default 60 s).
    pub timeout: Duration,
}

/// The state of one Antrea object.
enum ObjectState {
    Ready,
    Waiting(String),
    Failed(RealizationError),
}

fn object_state(
    key: &ObjectKey,
    desired: Option<&AntreaObject>,
    live: Option<&AntreaObject>,
) -> ObjectState {
    let Some(live) = live else {
        return ObjectState::Waiting(format!("{key} does not exist yet"));
    };
    if let Some(desired) = desired
        && !is_current(desired, live)
    {
        return ObjectState::Waiting(format!("{key} has not been updated yet"));
    }
    match live {
        AntreaObject::Tier(_) => ObjectState::Ready,
        AntreaObject::ClusterGroup(group) => {
            let condition = group
                .status
                .as_ref()
                .and_then(|status| status.conditions.as_ref())
                .and_then(|conditions| {
                    conditions
                        .iter()
                        .find(|c| c.type_ == GroupConditionType::GroupMembersComputed)
                });
            match condition {
                Some(c) if c.status == ConditionStatus::True => ObjectState::Ready,
                Some(c)
                    if c.status == ConditionStatus::False
                        && c.reason.as_deref() == Some("ChildGroupsNestingExceeded") =>
                {
                    ObjectState::Failed(RealizationError::new(
                        Reason::AntreaRealizationFailed,
                        format!(
                            "{key}: Antrea cannot compute its members (ChildGroupsNestingExceeded{})",
                            c.message
                                .as_deref()
                                .map(|m| format!(": {m}"))
                                .unwrap_or_default()
                        ),
                    ))
                }
                Some(c) => ObjectState::Waiting(format!(
                    "{key}: members not computed yet ({})",
                    c.reason.as_deref().unwrap_or("no reason")
                )),
                None => ObjectState::Waiting(format!("{key}: members not computed yet")),
            }
        }
        AntreaObject::ClusterNetworkPolicy(policy) => {
            let Some(status) = policy.status.as_ref() else {
                return ObjectState::Waiting(format!("{key} has not been processed by Antrea yet"));
            };
            for condition in status.conditions.iter().flatten() {
                let failed = match condition.type_ {
                    NetworkPolicyConditionType::Realizable => {
                        condition.status == ConditionStatus::False
                    }
                    NetworkPolicyConditionType::RealizationFailure => {
                        condition.status == ConditionStatus::True
                    }
                    _ => false,
                };
                if failed {
                    return ObjectState::Failed(RealizationError::new(
                        Reason::AntreaRealizationFailed,
                        format!(
                            "{key}: {} {} ({}){}",
                            condition.type_,
                            condition.status_str(),
                            condition.reason.as_deref().unwrap_or("no reason"),
                            condition
                                .message
                                .as_deref()
                                .map(|m| format!(": {m}"))
                                .unwrap_or_default()
                        ),
                    ));
                }
            }
            if status.phase == Some(NetworkPolicyPhase::Failed) {
                return ObjectState::Failed(RealizationError::new(
                    Reason::AntreaRealizationFailed,
                    format!("{key}: Antrea reports phase Failed"),
                ));
            }
            let generation_seen = match (policy.metadata.generation, status.observed_generation) {
                (Some(generation), Some(observed)) => generation == observed,
                (None, _) => true,
                (Some(_), None) => false,
            };
            if !generation_seen {
                return ObjectState::Waiting(format!(
                    "{key}: Antrea has not processed generation {} yet",
                    policy.metadata.generation.unwrap_or_default()
                ));
            }
            match &status.phase {
                Some(NetworkPolicyPhase::Realized) => ObjectState::Ready,
                phase => ObjectState::Waiting(format!(
                    "{key}: phase {}, {}/{} Nodes realized",
                    phase.as_ref().map_or("(none)", |p| p.as_str()),
                    status.current_nodes_realized.unwrap_or_default(),
                    status.desired_nodes_realized.unwrap_or_default()
                )),
            }
        }
    }
}

trait ConditionStatusText {
    fn status_str(&self) -> &'static str;
}

impl ConditionStatusText for antrea_types::policy::NetworkPolicyCondition {
    fn status_str(&self) -> &'static str {
        match self.status {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        }
    }
}

fn write_error(key: &ObjectKey, failure: &WriteFailure) -> RealizationError {
    match failure {
        WriteFailure::Rejected { message } => RealizationError::new(
            Reason::AntreaRejected,
            format!("{key} was refused: {message}"),
        ),
        WriteFailure::Unavailable { message } => RealizationError::new(
            Reason::KubernetesUnavailable,
            format!("{key} could not be written: {message}"),
        ),
        WriteFailure::Failed { code, message } => RealizationError::new(
            Reason::AntreaRejected,
            format!("{key} could not be written (HTTP {code}): {message}"),
        ),
    }
}

/// The realization of every NSX policy and group of the translation.
pub fn realize(input: &RealizationInput<'_>) -> Vec<Realization> {
    let desired: HashMap<ObjectKey, AntreaObject> =
        input.translation.desired.index().into_iter().collect();
    let live: HashMap<ObjectKey, AntreaObject> = input.observed.index().into_iter().collect();
    let timeout_ms = i64::try_from(input.timeout.as_millis()).unwrap_or(i64::MAX);
    input
        .translation
        .verdicts
        .iter()
        .map(|verdict| {
            let mut realization = Realization {
                kind: verdict.kind,
                id: verdict.id.clone(),
                state: RealizationState::InProgress,
                errors: Vec::new(),
                desired_nodes: None,
                realized_nodes: None,
                realized_entities: Vec::new(),
            };
            let objects = match &verdict.outcome {
                Outcome::Refused { errors } => {
                    realization.state = RealizationState::Error;
                    realization.errors = errors.clone();
                    return realization;
                }
                Outcome::Translated { objects } => objects,
            };
            realization.realized_entities = objects.clone();
            let mut waiting = Vec::new();
            for key in objects {
                if let Some(failure) = input.write_failures.get(key) {
                    realization.errors.push(write_error(key, failure));
                    continue;
                }
                let live_object = live.get(key);
                if let Some(AntreaObject::ClusterNetworkPolicy(policy)) = live_object
                    && let Some(status) = &policy.status
                {
                    realization.desired_nodes = status.desired_nodes_realized;
                    realization.realized_nodes = status.current_nodes_realized;
                }
                match object_state(key, desired.get(key), live_object) {
                    ObjectState::Ready => {}
                    ObjectState::Waiting(why) => waiting.push(why),
                    ObjectState::Failed(error) => realization.errors.push(error),
                }
            }
            if !realization.errors.is_empty() {
                realization.state = RealizationState::Error;
                return realization;
            }
            if waiting.is_empty() {
                realization.state = RealizationState::Success;
                return realization;
            }
            let since = input.applied_at.get(&verdict.id.path).copied().or_else(|| {
                objects
                    .iter()
                    .filter_map(|key| live.get(key))
                    .filter_map(|object| object.meta().creation_timestamp.as_ref().map(|t| t.0))
                    .max()
            });
            let elapsed_ms = since.map(|since| input.now.as_millisecond() - since.as_millisecond());
            if elapsed_ms.is_some_and(|elapsed| elapsed >= timeout_ms) {
                realization.state = RealizationState::Error;
                realization.errors.push(RealizationError::new(
                    Reason::RealizationTimeout,
                    format!(
                        "not realized within {} s: {}",
                        input.timeout.as_secs(),
                        waiting.join("; ")
                    ),
                ));
            }
            realization
        })
        .collect()
}

/// Of the NSX paths removed from the desired state, those whose Antrea objects are all gone
/// from the cluster (no owned object is annotated with the path): NSX may forget them.
pub fn gone<'a>(
    removed: impl IntoIterator<Item = &'a str>,
    observed: &ObservedState,
    identity: &ClusterIdentity,
) -> Vec<String> {
    let remaining: std::collections::HashSet<&str> = observed
        .tiers
        .iter()
        .map(|o| &o.metadata)
        .chain(observed.cluster_groups.iter().map(|o| &o.metadata))
        .chain(
            observed
                .cluster_network_policies
                .iter()
                .map(|o| &o.metadata),
        )
        .filter(|meta| is_owned(meta, identity))
        .filter_map(|meta| meta.annotations.as_ref()?.get(NSX_PATH_ANNOTATION))
        .map(String::as_str)
        .collect();
    removed
        .into_iter()
        .filter(|path| !remaining.contains(path))
        .map(str::to_owned)
        .collect()
}
