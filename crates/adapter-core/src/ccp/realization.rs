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

#[cfg(test)]
mod tests {
    use antrea_types::group::{GroupCondition, GroupStatus};
    use antrea_types::policy::{NetworkPolicyCondition, NetworkPolicyStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use serde_json::json;

    use super::*;
    use crate::ccp::check::ObjectSchemas;
    use crate::ccp::objects::AntreaKind;
    use crate::ccp::plan::{apply, plan};
    use crate::ccp::span::Span;
    use crate::ccp::translate::{TranslateOptions, Translator};

    const POLICY: &str = "/infra/domains/default/security-policies/p";
    const GROUP: &str = "/infra/domains/default/groups/web";
    const BROKEN: &str = "/infra/domains/default/security-policies/broken";

    fn identity() -> ClusterIdentity {
        ClusterIdentity::new("cluster-a")
    }

    fn translation() -> Translation {
        let (span, _) = Span::from_documents([
            json!({"resource_type": "Group", "id": "web", "path": GROUP, "unique_id": "u-web", "_revision": 1,
                   "group_type": ["ANTREA"], "expression": [{"resource_type": "Condition", "member_type": "Pod", "key": "Tag", "operator": "EQUALS", "value": "app|web"}]}),
            json!({"resource_type": "SecurityPolicy", "id": "p", "path": POLICY, "unique_id": "u-p", "_revision": 2,
                   "category": "Application", "sequence_number": 1,
                   "rules": [{"resource_type": "Rule", "id": "r", "rule_id": 7, "source_groups": [GROUP], "action": "ALLOW", "direction": "IN"}]}),
            json!({"resource_type": "SecurityPolicy", "id": "broken", "path": BROKEN, "unique_id": "u-b", "_revision": 1,
                   "category": "Ethernet", "rules": []}),
        ]);
        Translator::new(
            identity(),
            TranslateOptions::default(),
            ObjectSchemas::builtin().unwrap(),
        )
        .translate(&span)
    }

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + second).unwrap()
    }

    /// The desired state as written, created at second 0, with healthy status everywhere.
    fn realized(translation: &Translation) -> ObservedState {
        let mut live = apply(
            &plan(&translation.desired, &ObservedState::default(), &identity()),
            &ObservedState::default(),
        );
        for group in &mut live.cluster_groups {
            group.metadata.creation_timestamp = Some(Time(at(0)));
            group.status = Some(GroupStatus {
                conditions: Some(vec![GroupCondition {
                    type_: GroupConditionType::GroupMembersComputed,
                    status: ConditionStatus::True,
                    reason: None,
                    message: None,
                    last_transition_time: None,
                }]),
            });
        }
        for policy in &mut live.cluster_network_policies {
            policy.metadata.creation_timestamp = Some(Time(at(0)));
            policy.metadata.generation = Some(3);
            policy.status = Some(NetworkPolicyStatus {
                phase: Some(NetworkPolicyPhase::Realized),
                observed_generation: Some(3),
                current_nodes_realized: Some(4),
                desired_nodes_realized: Some(4),
                conditions: None,
            });
        }
        live
    }

    fn run(
        translation: &Translation,
        live: &ObservedState,
        failures: &BTreeMap<ObjectKey, WriteFailure>,
        now: i64,
    ) -> BTreeMap<String, Realization> {
        let applied_at = BTreeMap::new();
        let input = RealizationInput {
            translation,
            observed: live,
            write_failures: failures,
            applied_at: &applied_at,
            now: at(now),
            timeout: Duration::from_secs(60),
        };
        realize(&input)
            .into_iter()
            .map(|r| (r.id.path.clone(), r))
            .collect()
    }

    #[test]
    fn everything_realized_is_success_with_node_counts() {
        let translation = translation();
        let result = run(&translation, &realized(&translation), &BTreeMap::new(), 5);
        let policy = &result[POLICY];
        assert_eq!(policy.state, RealizationState::Success, "{policy:?}");
        assert_eq!(
            (policy.desired_nodes, policy.realized_nodes),
            (Some(4), Some(4))
        );
        assert_eq!(
            policy.realized_entities.len(),
            4,
            "tier, policy, parent and child group"
        );
        assert_eq!(policy.id.revision, 2);
        assert_eq!(result[GROUP].state, RealizationState::Success);
        assert_eq!(result[BROKEN].state, RealizationState::Error);
        assert_eq!(result[BROKEN].errors[0].reason, Reason::UnsupportedCategory);
    }

    #[test]
    fn waiting_is_in_progress_until_the_timeout() {
        let translation = translation();
        let mut live = realized(&translation);
        live.cluster_network_policies[0]
            .status
            .as_mut()
            .unwrap()
            .phase = Some(NetworkPolicyPhase::Realizing);
        assert_eq!(
            run(&translation, &live, &BTreeMap::new(), 59)[POLICY].state,
            RealizationState::InProgress
        );
        let late = &run(&translation, &live, &BTreeMap::new(), 60)[POLICY];
        assert_eq!(late.state, RealizationState::Error);
        assert_eq!(late.errors[0].reason, Reason::RealizationTimeout);
        assert!(
            late.errors[0].message.contains("phase Realizing"),
            "{late:?}"
        );

        // An older generation's "Realized" says nothing about the current one.
        let mut live = realized(&translation);
        live.cluster_network_policies[0].metadata.generation = Some(4);
        assert_eq!(
            run(&translation, &live, &BTreeMap::new(), 1)[POLICY].state,
            RealizationState::InProgress
        );

        // Nor does the status of an object that still holds an older rendering.
        let mut live = realized(&translation);
        live.cluster_network_policies[0].spec.priority = 9.0;
        assert_eq!(
            run(&translation, &live, &BTreeMap::new(), 1)[POLICY].state,
            RealizationState::InProgress
        );

        // A group whose members are not computed holds its policy back too.
        let mut live = realized(&translation);
        live.cluster_groups[1].status = None;
        let result = run(&translation, &live, &BTreeMap::new(), 1);
        assert_eq!(result[POLICY].state, RealizationState::InProgress);
        assert_eq!(result[GROUP].state, RealizationState::InProgress);

        // Missing objects, with the time of apply given explicitly.
        let empty = ObservedState::default();
        let applied_at = BTreeMap::from([(POLICY.to_owned(), at(100))]);
        let input = RealizationInput {
            translation: &translation,
            observed: &empty,
            write_failures: &BTreeMap::new(),
            applied_at: &applied_at,
            now: at(130),
            timeout: Duration::from_secs(60),
        };
        let states: BTreeMap<_, _> = realize(&input)
            .into_iter()
            .map(|r| (r.id.path, r.state))
            .collect();
        assert_eq!(states[POLICY], RealizationState::InProgress);
        // Without a time of apply and without objects there is no clock to time out by.
        assert_eq!(states[GROUP], RealizationState::InProgress);
    }

    #[test]
    fn antrea_failures_and_write_errors_are_errors() {
        let translation = translation();
        let mut live = realized(&translation);
        live.cluster_network_policies[0]
            .status
            .as_mut()
            .unwrap()
            .conditions = Some(vec![NetworkPolicyCondition {
            type_: NetworkPolicyConditionType::Realizable,
            status: ConditionStatus::False,
            last_transition_time: None,
            reason: Some("NetworkPolicyAppliedToUnsupportedGroup".into()),
            message: Some("group spans namespaces".into()),
        }]);
        let failed = &run(&translation, &live, &BTreeMap::new(), 1)[POLICY];
        assert_eq!(failed.state, RealizationState::Error);
        assert_eq!(failed.errors[0].reason, Reason::AntreaRealizationFailed);
        assert!(
            failed.errors[0]
                .message
                .contains("NetworkPolicyAppliedToUnsupportedGroup")
        );

        let mut live = realized(&translation);
        live.cluster_groups[0]
            .status
            .as_mut()
            .unwrap()
            .conditions
            .as_mut()
            .unwrap()[0] = GroupCondition {
            type_: GroupConditionType::GroupMembersComputed,
            status: ConditionStatus::False,
            reason: Some("ChildGroupsNestingExceeded".into()),
            message: None,
            last_transition_time: None,
        };
        assert_eq!(
            run(&translation, &live, &BTreeMap::new(), 1)[GROUP].errors[0].reason,
            Reason::AntreaRealizationFailed
        );

        let policy_key = translation.desired.cluster_network_policies[0]
            .metadata
            .name
            .clone()
            .unwrap();
        let failures = BTreeMap::from([
            (
                ObjectKey::new(AntreaKind::ClusterNetworkPolicy, &policy_key),
                WriteFailure::Rejected {
                    message: "tier nsx-category-application does not exist".into(),
                },
            ),
            (
                ObjectKey::new(AntreaKind::Tier, "nsx-category-application"),
                WriteFailure::Unavailable {
                    message: "connection refused".into(),
                },
            ),
        ]);
        let result = run(&translation, &ObservedState::default(), &failures, 1);
        let reasons: Vec<Reason> = result[POLICY].errors.iter().map(|e| e.reason).collect();
        assert_eq!(
            reasons,
            vec![Reason::KubernetesUnavailable, Reason::AntreaRejected]
        );
        assert!(result[POLICY].errors[1].message.contains("does not exist"));
        assert_eq!(result[GROUP].state, RealizationState::InProgress);
    }

    #[test]
    fn paths_are_gone_once_their_objects_are() {
        let translation = translation();
        let live = realized(&translation);
        assert_eq!(
            gone([POLICY, "/infra/x"], &live, &identity()),
            vec!["/infra/x".to_owned()]
        );
        assert_eq!(
            gone([POLICY], &ObservedState::default(), &identity()),
            vec![POLICY.to_owned()]
        );
        // Objects of another cluster do not hold a path back.
        assert_eq!(
            gone([POLICY], &live, &ClusterIdentity::new("cluster-b")),
            vec![POLICY.to_owned()]
        );
    }
}
