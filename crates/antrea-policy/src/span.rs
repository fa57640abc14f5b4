//! Policy span and realization status (`pkg/controller/networkpolicy/status_controller.go`).
//!
//! The span of an ACNP/ANNP is the set of Nodes running Pods its appliedTo selects (policy
//! level plus every rule level): scheduled, non-host-network, non-terminated Pods. A group used
//! as appliedTo that holds only ipBlocks is ignored; a NodePort `service` appliedTo spans every
//! Node; a `nodeSelector` spans the Nodes it selects. An ANNP whose appliedTo Group selects Pods
//! outside the policy's Namespace is not realizable (`NetworkPolicyAppliedToUnsupportedGroup`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use antrea_types::policy::{
    ConditionStatus, NetworkPolicyCondition, NetworkPolicyConditionType, NetworkPolicyPhase,
    NetworkPolicyStatus,
};
use serde::Serialize;

use crate::compile::{AppliedToEntry, CompiledPolicy};
use crate::groups::{GroupDefinition, GroupKey};
use crate::index::ClusterIndex;
use crate::policy_ref::{PolicyKind, PolicyRef};
use crate::selector::SelectorScope;

/// Reason of `Realizable=False`.
pub const APPLIED_TO_UNSUPPORTED_GROUP: &str = "NetworkPolicyAppliedToUnsupportedGroup";
/// Reason of `RealizationFailure=True`.
pub const REALIZATION_FAILED_ON_NODE: &str = "NetworkPolicyRealizationFailedOnNode";
/// Antrea truncates the failure message to this many bytes (`maxConditionMessageLength`).
const MAX_CONDITION_MESSAGE_LENGTH: usize = 256;

/// Why a policy cannot be realized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum SyncError {
    /// A Group with Pods in other Namespaces is used as appliedTo of an ANNP.
    AppliedToUnsupportedGroup { namespace: String, group: String },
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncError::AppliedToUnsupportedGroup { namespace, group } => write!(
                f,
                "Group {namespace}/{group} with Pods in other Namespaces can not be used as AppliedTo"
            ),
        }
    }
}

/// The span of a policy and whether it can be realized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicySpan {
    /// Nodes that must realize the policy (empty when it is not realizable).
    pub nodes: BTreeSet<String>,
    pub sync_error: Option<SyncError>,
}

/// What one Node reported for a policy (`NetworkPolicyNodeStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRealization {
    pub generation: i64,
    pub realization_failure: bool,
    pub message: String,
}

impl PolicySpan {
    /// `desiredNodesRealized`.
    pub fn desired_nodes(&self) -> usize {
        if self.sync_error.is_some() {
            0
        } else {
            self.nodes.len()
        }
    }

    /// The `Realizable` condition (`GenerateNetworkPolicyCondition`), without
    /// `lastTransitionTime` (the caller stamps it).
    pub fn realizable_condition(&self) -> NetworkPolicyCondition {
        match &self.sync_error {
            None => NetworkPolicyCondition {
                type_: NetworkPolicyConditionType::Realizable,
                status: ConditionStatus::True,
                last_transition_time: None,
                reason: None,
                message: None,
            },
            Some(error) => NetworkPolicyCondition {
                type_: NetworkPolicyConditionType::Realizable,
                status: ConditionStatus::False,
                last_transition_time: None,
                reason: Some(APPLIED_TO_UNSUPPORTED_GROUP.to_string()),
                message: Some(error.to_string()),
            },
        }
    }

    /// The status antrea-controller writes for the processed `generation`, given what Nodes
    /// reported (`StatusController.syncHandler`). Reports from Nodes outside the span and for
    /// other generations are ignored. Times are left to the caller.
    pub fn status(
        &self,
        generation: i64,
        reports: &BTreeMap<String, NodeRealization>,
    ) -> NetworkPolicyStatus {
        let mut conditions = vec![self.realizable_condition()];
        let status = |phase, current: usize, desired: usize, conditions| NetworkPolicyStatus {
            phase: Some(phase),
            observed_generation: Some(generation),
            current_nodes_realized: Some(i32::try_from(current).unwrap_or(i32::MAX)),
            desired_nodes_realized: Some(i32::try_from(desired).unwrap_or(i32::MAX)),
            conditions: Some(conditions),
        };
        if self.sync_error.is_some() {
            return status(NetworkPolicyPhase::Pending, 0, 0, conditions);
        }
        let desired = self.nodes.len();
        let mut current = 0;
        let mut failed: Vec<String> = Vec::new();
        for (node, report) in reports {
            if !self.nodes.contains(node) || report.generation != generation {
                continue;
            }
            if report.realization_failure {
                failed.push(format!("\"{node}\":\"{}\"", report.message));
            } else {
                current += 1;
            }
        }
        if !failed.is_empty() {
            failed.sort();
            let mut message = format!("Failed Nodes count {}: {}", failed.len(), failed.join(", "));
            if message.len() > MAX_CONDITION_MESSAGE_LENGTH {
                let mut cut = MAX_CONDITION_MESSAGE_LENGTH;
                while !message.is_char_boundary(cut) {
                    cut -= 1;
                }
                message.truncate(cut);
                message.push_str("...");
            }
            conditions.push(NetworkPolicyCondition {
                type_: NetworkPolicyConditionType::RealizationFailure,
                status: ConditionStatus::True,
                last_transition_time: None,
                reason: Some(REALIZATION_FAILED_ON_NODE.to_string()),
                message: Some(message),
            });
        }
        let phase = if current == desired {
            NetworkPolicyPhase::Realized
        } else if current + failed.len() == desired {
            NetworkPolicyPhase::Failed
        } else {
            NetworkPolicyPhase::Realizing
        };
        status(phase, current, desired, conditions)
    }
}

impl ClusterIndex {
    /// `getInternalGroupWorkloads`'s namespace check for an ANNP appliedTo Group.
    pub(crate) fn annp_sync_error(&self, policy: &CompiledPolicy) -> Option<SyncError> {
        if policy.id.kind != PolicyKind::AntreaNetworkPolicy {
            return None;
        }
        for entry in policy.all_applied_to() {
            let AppliedToEntry::Group(key) = entry else {
                continue;
            };
            let Some(group) = self.group(key) else {
                continue;
            };
            if group.is_ip_blocks_only() {
                continue;
            }
            let namespace = key.namespace.as_deref().unwrap_or_default();
            let crosses = self.any_group_selector(group, |selector| match selector.scope() {
                SelectorScope::Namespace(selected) if selected == namespace => false,
                _ => self.matching_label_items(selector).into_iter().any(|item| {
                    self.label_item(item)
                        .is_some_and(|item| item.namespace != namespace)
                }),
            });
            if crosses {
                return Some(SyncError::AppliedToUnsupportedGroup {
                    namespace: namespace.to_string(),
                    group: key.name.clone(),
                });
            }
        }
        None
    }

    fn group_span(
        &self,
        key: &GroupKey,
        memo: &mut HashMap<GroupKey, BTreeSet<String>>,
    ) -> BTreeSet<String> {
        if let Some(nodes) = memo.get(key) {
            return nodes.clone();
        }
        let mut nodes = BTreeSet::new();
        if let Some(group) = self.group(key)
            && !matches!(group.definition, GroupDefinition::IpBlocks(_))
        {
            for item in self.group_label_items(group) {
                if let Some(item) = self.label_item(item) {
                    nodes.extend(item.nodes.keys().cloned());
                }
            }
            nodes.extend(self.group_nodes(group));
        }
        memo.insert(key.clone(), nodes.clone());
        nodes
    }

    fn span_of(
        &self,
        policy: &CompiledPolicy,
        memo: &mut HashMap<GroupKey, BTreeSet<String>>,
    ) -> PolicySpan {
        if let Some(error) = self.annp_sync_error(policy) {
            return PolicySpan {
                nodes: BTreeSet::new(),
                sync_error: Some(error),
            };
        }
        let mut nodes = BTreeSet::new();
        for entry in policy.all_applied_to() {
            match entry {
                AppliedToEntry::Selector(selector) if selector.is_node_selector() => {
                    nodes.extend(self.matching_nodes(selector));
                }
                AppliedToEntry::Selector(selector) => {
                    for item in self.matching_label_items(selector) {
                        if let Some(item) = self.label_item(item) {
                            nodes.extend(item.nodes.keys().cloned());
                        }
                    }
                }
                AppliedToEntry::Group(key) => nodes.extend(self.group_span(key, memo)),
                AppliedToEntry::Service => nodes.extend(self.node_names().cloned()),
            }
        }
        PolicySpan {
            nodes,
            sync_error: None,
        }
    }

    /// Span of an ACNP or ANNP; `None` when the policy is unknown.
    pub fn policy_span(&self, policy: &PolicyRef) -> Option<PolicySpan> {
        let compiled = self.policy(policy)?;
        Some(self.span_of(compiled, &mut HashMap::new()))
    }

    /// Span of an ACNP; `None` when it is unknown.
    pub fn cluster_network_policy_span(&self, name: &str) -> Option<PolicySpan> {
        self.policy_span(&PolicyRef::cluster(name))
    }

    /// Span of an ANNP; `None` when it is unknown.
    pub fn antrea_network_policy_span(&self, namespace: &str, name: &str) -> Option<PolicySpan> {
        self.policy_span(&PolicyRef::namespaced(
            PolicyKind::AntreaNetworkPolicy,
            namespace,
            name,
        ))
    }

    /// Spans of every ACNP and ANNP (group spans are computed once and shared).
    pub fn all_policy_spans(&self) -> BTreeMap<PolicyRef, PolicySpan> {
        let mut memo = HashMap::new();
        self.policies
            .values()
            .map(|policy| (policy.id.clone(), self.span_of(policy, &mut memo)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(nodes: &[&str]) -> PolicySpan {
        PolicySpan {
            nodes: nodes.iter().map(|node| node.to_string()).collect(),
            sync_error: None,
        }
    }

    fn report(generation: i64, failure: bool) -> NodeRealization {
        NodeRealization {
            generation,
            realization_failure: failure,
            message: if failure {
                "boom".into()
            } else {
                String::new()
            },
        }
    }

    #[test]
    fn status_phases_follow_the_status_controller() {
        let span = span(&["n1", "n2"]);
        let none = BTreeMap::new();
        let status = span.status(3, &none);
        assert_eq!(status.phase, Some(NetworkPolicyPhase::Realizing));
        assert_eq!(
            (status.current_nodes_realized, status.desired_nodes_realized),
            (Some(0), Some(2))
        );

        let mut reports = BTreeMap::from([
            ("n1".to_string(), report(3, false)),
            ("n2".to_string(), report(2, false)),
        ]);
        assert_eq!(
            span.status(3, &reports).phase,
            Some(NetworkPolicyPhase::Realizing)
        );
        reports.insert("n2".into(), report(3, false));
        reports.insert("elsewhere".into(), report(3, false));
        let realized = span.status(3, &reports);
        assert_eq!(realized.phase, Some(NetworkPolicyPhase::Realized));
        assert_eq!(realized.current_nodes_realized, Some(2));

        reports.insert("n2".into(), report(3, true));
        let failed = span.status(3, &reports);
        assert_eq!(failed.phase, Some(NetworkPolicyPhase::Failed));
        let conditions = failed.conditions.unwrap();
        assert_eq!(
            conditions[1].reason.as_deref(),
            Some(REALIZATION_FAILED_ON_NODE)
        );
        assert_eq!(
            conditions[1].message.as_deref(),
            Some("Failed Nodes count 1: \"n2\":\"boom\"")
        );
    }

    #[test]
    fn empty_span_is_realized_and_sync_error_is_pending() {
        let empty = span(&[]);
        assert_eq!(
            empty.status(1, &BTreeMap::new()).phase,
            Some(NetworkPolicyPhase::Realized)
        );
        let broken = PolicySpan {
            nodes: BTreeSet::new(),
            sync_error: Some(SyncError::AppliedToUnsupportedGroup {
                namespace: "ns".into(),
                group: "g".into(),
            }),
        };
        let status = broken.status(1, &BTreeMap::new());
        assert_eq!(status.phase, Some(NetworkPolicyPhase::Pending));
        let condition = &status.conditions.unwrap()[0];
        assert_eq!(condition.status, ConditionStatus::False);
        assert_eq!(
            condition.reason.as_deref(),
            Some(APPLIED_TO_UNSUPPORTED_GROUP)
        );
        assert_eq!(
            condition.message.as_deref(),
            Some("Group ns/g with Pods in other Namespaces can not be used as AppliedTo")
        );
    }
}
