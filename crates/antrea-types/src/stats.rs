//! stats.antrea.io/v1alpha1: per-policy traffic counters served by antrea-controller's
//! aggregated API. Counters are cumulative since `metadata.creationTimestamp` (when counting
//! started) and reset when the policy is recreated or the controller restarts.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use serde::{Deserialize, Serialize};

use crate::api_object::aggregated_resource;

/// API group of the stats kinds.
pub const STATS_GROUP: &str = "stats.antrea.io";
/// `apiVersion` of the stats kinds.
pub const STATS_API_VERSION: &str = "stats.antrea.io/v1alpha1";

fn is_zero(value: &i64) -> bool {
    *value == 0
}

fn stats_api_version() -> String {
    STATS_API_VERSION.to_owned()
}

/// Cumulative counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TrafficStats {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub packets: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sessions: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bytes: i64,
}

/// Counters of one rule, keyed by the rule name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleTrafficStats {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default)]
    pub traffic_stats: TrafficStats,
}

/// Kind constants, `Default`, `kube::Resource` and the `...List` type of a stats kind.
macro_rules! stats_kind {
    ($name:ident, $list:ident, kind = $kind:literal, list_kind = $list_kind:literal, plural = $plural:literal, scope = $scope:ty, extra = [$($extra:ident),*]) => {
        impl $name {
            /// The kind string.
            pub const KIND: &'static str = $kind;

            fn default_kind() -> String {
                $kind.to_owned()
            }

            /// Empty stats for the named policy.
            pub fn named(name: impl Into<String>) -> Self {
                let mut stats = Self::default();
                stats.metadata.name = Some(name.into());
                stats
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    api_version: stats_api_version(),
                    kind: Self::default_kind(),
                    metadata: ObjectMeta::default(),
                    traffic_stats: TrafficStats::default(),
                    $($extra: Default::default(),)*
                }
            }
        }

        aggregated_resource!($name, group = "stats.antrea.io", version = "v1alpha1", kind = $kind, plural = $plural, scope = $scope);

        #[doc = concat!("A list of `", $kind, "`.")]
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $list {
            #[serde(default = "stats_api_version")]
            pub api_version: String,
            #[serde(default)]
            pub kind: String,
            #[serde(default)]
            pub metadata: ListMeta,
            #[serde(default)]
            pub items: Vec<$name>,
        }

        impl $list {
            /// The kind string.
            pub const KIND: &'static str = $list_kind;

            /// A list holding `items`.
            pub fn new(items: Vec<$name>) -> Self {
                Self { api_version: stats_api_version(), kind: $list_kind.to_owned(), metadata: ListMeta::default(), items }
            }
        }
    };
}

/// Stats of one Antrea ClusterNetworkPolicy (the name is the policy's name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AntreaClusterNetworkPolicyStats {
    #[serde(default = "stats_api_version")]
    pub api_version: String,
    #[serde(default = "AntreaClusterNetworkPolicyStats::default_kind")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub traffic_stats: TrafficStats,
    /// Per-rule counters, keyed by rule name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_traffic_stats: Vec<RuleTrafficStats>,
}

/// Stats of one Antrea NetworkPolicy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AntreaNetworkPolicyStats {
    #[serde(default = "stats_api_version")]
    pub api_version: String,
    #[serde(default = "AntreaNetworkPolicyStats::default_kind")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub traffic_stats: TrafficStats,
    /// Per-rule counters, keyed by rule name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_traffic_stats: Vec<RuleTrafficStats>,
}

/// Stats of one K8s NetworkPolicy (no per-rule counters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyStats {
    #[serde(default = "stats_api_version")]
    pub api_version: String,
    #[serde(default = "NetworkPolicyStats::default_kind")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub traffic_stats: TrafficStats,
}

stats_kind!(
    AntreaClusterNetworkPolicyStats,
    AntreaClusterNetworkPolicyStatsList,
    kind = "AntreaClusterNetworkPolicyStats",
    list_kind = "AntreaClusterNetworkPolicyStatsList",
    plural = "antreaclusternetworkpolicystats",
    scope = k8s_openapi::ClusterResourceScope,
    extra = [rule_traffic_stats]
);
stats_kind!(
    AntreaNetworkPolicyStats,
    AntreaNetworkPolicyStatsList,
    kind = "AntreaNetworkPolicyStats",
    list_kind = "AntreaNetworkPolicyStatsList",
    plural = "antreanetworkpolicystats",
    scope = k8s_openapi::NamespaceResourceScope,
    extra = [rule_traffic_stats]
);
stats_kind!(
    NetworkPolicyStats,
    NetworkPolicyStatsList,
    kind = "NetworkPolicyStats",
    list_kind = "NetworkPolicyStatsList",
    plural = "networkpolicystats",
    scope = k8s_openapi::NamespaceResourceScope,
    extra = []
);

impl AntreaClusterNetworkPolicyStats {
    /// The counters of the rule with this name.
    pub fn rule(&self, name: &str) -> Option<&TrafficStats> {
        self.rule_traffic_stats
            .iter()
            .find(|rule| rule.name == name)
            .map(|rule| &rule.traffic_stats)
    }
}

impl AntreaNetworkPolicyStats {
    /// The counters of the rule with this name.
    pub fn rule(&self, name: &str) -> Option<&TrafficStats> {
        self.rule_traffic_stats
            .iter()
            .find(|rule| rule.name == name)
            .map(|rule| &rule.traffic_stats)
    }
}
