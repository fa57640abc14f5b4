//! What the webhooks read from the cluster: a read-only view the caller provides (the
//! emulator from its store, the adapter from its caches), plus an in-memory implementation.

use std::collections::BTreeMap;

use antrea_types::{ClusterGroupSpec, GroupSpec};

/// Username of antrea-controller's ServiceAccount in the default `kube-system` install; it
/// alone may change a Tier's priority.
pub const ANTREA_CONTROLLER_USERNAME: &str = "system:serviceaccount:kube-system:antrea-controller";

/// Feature gates of antrea-controller that change admission.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeatureGates {
    /// `L7NetworkPolicy` (Alpha, off by default): allows `l7Protocols`.
    pub l7_network_policy: bool,
    /// `ClusterNetworkPolicy` (Alpha, off by default): reserves tier priority 220.
    pub cluster_network_policy: bool,
}

/// An existing Tier as the webhook sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierSummary {
    pub name: String,
    pub priority: i32,
}

/// The cluster state Antrea's webhooks consult (antrea-controller reads its informer caches).
pub trait AdmissionContext {
    /// Every existing Tier.
    fn tiers(&self) -> Vec<TierSummary>;

    /// Whether a Tier with this exact name exists.
    fn tier_exists(&self, name: &str) -> bool {
        self.tiers().iter().any(|tier| tier.name == name)
    }

    /// The spec of an existing ClusterGroup.
    fn cluster_group(&self, name: &str) -> Option<ClusterGroupSpec>;

    /// The spec of an existing Group.
    fn group(&self, namespace: &str, name: &str) -> Option<GroupSpec>;

    /// How many ClusterGroups list `name` among their `childGroups`.
    fn cluster_group_parents(&self, name: &str) -> usize;

    /// How many Groups of `namespace` list `name` among their `childGroups`.
    fn group_parents(&self, namespace: &str, name: &str) -> usize;

    /// How many ClusterNetworkPolicies have `spec.tier` equal to `tier`.
    fn cluster_network_policies_in_tier(&self, tier: &str) -> usize;

    /// How many Antrea NetworkPolicies (all Namespaces) have `spec.tier` equal to `tier`.
    fn network_policies_in_tier(&self, tier: &str) -> usize;

    /// antrea-controller's feature gates.
    fn feature_gates(&self) -> FeatureGates {
        FeatureGates::default()
    }

    /// Username of antrea-controller's ServiceAccount.
    fn antrea_controller_username(&self) -> &str {
        ANTREA_CONTROLLER_USERNAME
    }
}

/// A plain in-memory [`AdmissionContext`].
#[derive(Debug, Clone, Default)]
pub struct ClusterState {
    pub tiers: BTreeMap<String, i32>,
    pub cluster_groups: BTreeMap<String, ClusterGroupSpec>,
    /// Keyed by (namespace, name).
    pub groups: BTreeMap<(String, String), GroupSpec>,
    /// `spec.tier` of each ClusterNetworkPolicy, by policy name.
    pub cluster_network_policy_tiers: BTreeMap<String, String>,
    /// `spec.tier` of each Antrea NetworkPolicy, by (namespace, name).
    pub network_policy_tiers: BTreeMap<(String, String), String>,
    pub feature_gates: FeatureGates,
}

impl ClusterState {
    /// A cluster with the six system tiers, as antrea-controller creates them.
    pub fn with_system_tiers() -> Self {
        let mut state = Self::default();
        for tier in antrea_types::tier::SYSTEM_TIERS {
            state.tiers.insert(tier.name.to_owned(), tier.priority);
        }
        state
    }
}

impl AdmissionContext for ClusterState {
    fn tiers(&self) -> Vec<TierSummary> {
        self.tiers
            .iter()
            .map(|(name, priority)| TierSummary {
                name: name.clone(),
                priority: *priority,
            })
            .collect()
    }

    fn tier_exists(&self, name: &str) -> bool {
        self.tiers.contains_key(name)
    }

    fn cluster_group(&self, name: &str) -> Option<ClusterGroupSpec> {
        self.cluster_groups.get(name).cloned()
    }

    fn group(&self, namespace: &str, name: &str) -> Option<GroupSpec> {
        self.groups
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    fn cluster_group_parents(&self, name: &str) -> usize {
        self.cluster_groups
            .values()
            .filter(|spec| {
                spec.child_groups
                    .iter()
                    .flatten()
                    .any(|child| child == name)
            })
            .count()
    }

    fn group_parents(&self, namespace: &str, name: &str) -> usize {
        self.groups
            .iter()
            .filter(|((group_namespace, _), spec)| {
                group_namespace == namespace
                    && spec
                        .child_groups
                        .iter()
                        .flatten()
                        .any(|child| child == name)
            })
            .count()
    }

    fn cluster_network_policies_in_tier(&self, tier: &str) -> usize {
        self.cluster_network_policy_tiers
            .values()
            .filter(|policy_tier| *policy_tier == tier)
            .count()
    }

    fn network_policies_in_tier(&self, tier: &str) -> usize {
        self.network_policy_tiers
            .values()
            .filter(|policy_tier| *policy_tier == tier)
            .count()
    }

    fn feature_gates(&self) -> FeatureGates {
        self.feature_gates
    }
}
