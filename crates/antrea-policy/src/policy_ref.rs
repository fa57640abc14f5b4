//! References to policies and rules, printed the way Antrea prints them in Traceflow
//! observations, stats and audit logs (`controlplane/v1beta2` `NetworkPolicyReference.ToString`).

use std::fmt;

use antrea_types::RuleAction;
use serde::Serialize;

/// The kind of a policy, as `controlplane.NetworkPolicyType` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum PolicyKind {
    /// An Antrea ClusterNetworkPolicy (ACNP).
    AntreaClusterNetworkPolicy,
    /// An Antrea NetworkPolicy (ANNP).
    AntreaNetworkPolicy,
    /// A Kubernetes `networking.k8s.io/v1` NetworkPolicy.
    K8sNetworkPolicy,
}

impl PolicyKind {
    /// The type name used in references (`AntreaClusterNetworkPolicy`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::AntreaClusterNetworkPolicy => "AntreaClusterNetworkPolicy",
            PolicyKind::AntreaNetworkPolicy => "AntreaNetworkPolicy",
            PolicyKind::K8sNetworkPolicy => "K8sNetworkPolicy",
        }
    }
}

/// A policy: kind, Namespace (for namespaced kinds) and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct PolicyRef {
    pub kind: PolicyKind,
    pub namespace: Option<String>,
    pub name: String,
}

impl PolicyRef {
    /// An Antrea ClusterNetworkPolicy.
    pub fn cluster(name: impl Into<String>) -> Self {
        PolicyRef {
            kind: PolicyKind::AntreaClusterNetworkPolicy,
            namespace: None,
            name: name.into(),
        }
    }

    /// A namespaced policy (ANNP or K8s NetworkPolicy).
    pub fn namespaced(
        kind: PolicyKind,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        PolicyRef {
            kind,
            namespace: Some(namespace.into()),
            name: name.into(),
        }
    }
}

impl fmt::Display for PolicyRef {
    /// `AntreaClusterNetworkPolicy:<name>` or `<Type>:<namespace>/<name>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{}:{}/{}", self.kind.as_str(), namespace, self.name),
            None => write!(f, "{}:{}", self.kind.as_str(), self.name),
        }
    }
}

/// Direction of a rule or of a policy evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Direction {
    Ingress,
    Egress,
}

/// One rule of one policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleRef {
    pub policy: PolicyRef,
    pub direction: Direction,
    /// Position of the rule in its `ingress`/`egress` list.
    pub rule_index: usize,
    /// The rule `name` (K8s NetworkPolicy rules have none).
    pub rule_name: Option<String>,
    /// The action; K8s NetworkPolicy rules are `Allow`.
    #[serde(serialize_with = "serialize_action")]
    pub action: RuleAction,
    /// Tier priority (Antrea-native policies only).
    pub tier_priority: Option<i32>,
    /// Policy priority (Antrea-native policies only).
    pub policy_priority: Option<f64>,
}

fn serialize_action<S: serde::Serializer>(
    action: &RuleAction,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(action.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_print_like_antrea() {
        assert_eq!(
            PolicyRef::cluster("acnp-1").to_string(),
            "AntreaClusterNetworkPolicy:acnp-1"
        );
        assert_eq!(
            PolicyRef::namespaced(PolicyKind::AntreaNetworkPolicy, "ns", "annp").to_string(),
            "AntreaNetworkPolicy:ns/annp"
        );
        assert_eq!(
            PolicyRef::namespaced(PolicyKind::K8sNetworkPolicy, "ns", "np").to_string(),
            "K8sNetworkPolicy:ns/np"
        );
    }
}
