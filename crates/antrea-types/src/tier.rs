//! `Tier`, crd.antrea.io/v1beta1, cluster-scoped, no status; plus the system tiers that
//! antrea-controller creates at startup.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::policy::SchemaInteger;

/// Desired state of a Tier.
#[derive(CustomResource, Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "crd.antrea.io",
    version = "v1beta1",
    kind = "Tier",
    plural = "tiers",
    singular = "tier",
    shortname = "tr",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Priority","type":"integer","description":"The Priority of this Tier relative to other Tiers.","jsonPath":".spec.priority"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct TierSpec {
    /// 0 to 255; lower means higher precedence. Immutable after creation.
    #[schemars(with = "SchemaInteger", range(min = 0, max = 255))]
    pub priority: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// One of the tiers antrea-controller creates and keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemTier {
    /// Object name (lower case).
    pub name: &'static str,
    /// The legacy capitalised name that policies may still use in `spec.tier`.
    pub legacy_name: &'static str,
    pub priority: i32,
}

/// Name of the default tier (policies with no tier land here).
pub const DEFAULT_TIER_NAME: &str = "application";
/// Name of the tier evaluated after K8s NetworkPolicies.
pub const BASELINE_TIER_NAME: &str = "baseline";
/// Priority of the `application` tier (`DefaultTierPriority`).
pub const DEFAULT_TIER_PRIORITY: i32 = 250;
/// Priority of the `baseline` tier (`BaselineTierPriority`).
pub const BASELINE_TIER_PRIORITY: i32 = 253;
/// Tier priorities nobody may create (`reservedTierPriorities`).
pub const RESERVED_TIER_PRIORITIES: &[i32] = &[251, 252, 254, 255];
/// Tier priority reserved for upstream ClusterNetworkPolicy admin rules when the
/// `ClusterNetworkPolicy` feature gate is on (`cnpAdminTierPriority`).
pub const CNP_ADMIN_TIER_PRIORITY: i32 = 220;
/// Soft limit on the number of distinct tier priorities (`maxSupportedTiers`).
pub const MAX_SUPPORTED_TIERS: usize = 20;

/// The six system tiers, highest precedence first.
pub const SYSTEM_TIERS: [SystemTier; 6] = [
    SystemTier {
        name: "emergency",
        legacy_name: "Emergency",
        priority: 50,
    },
    SystemTier {
        name: "securityops",
        legacy_name: "SecurityOps",
        priority: 100,
    },
    SystemTier {
        name: "networkops",
        legacy_name: "NetworkOps",
        priority: 150,
    },
    SystemTier {
        name: "platform",
        legacy_name: "Platform",
        priority: 200,
    },
    SystemTier {
        name: DEFAULT_TIER_NAME,
        legacy_name: "Application",
        priority: DEFAULT_TIER_PRIORITY,
    },
    SystemTier {
        name: BASELINE_TIER_NAME,
        legacy_name: "Baseline",
        priority: BASELINE_TIER_PRIORITY,
    },
];

/// The system tier with this object name or legacy capitalised name.
pub fn system_tier(name: &str) -> Option<&'static SystemTier> {
    SYSTEM_TIERS
        .iter()
        .find(|tier| tier.name == name || tier.legacy_name == name)
}

impl Tier {
    /// The Tier object antrea-controller creates for a system tier.
    pub fn system(tier: &SystemTier) -> Self {
        let mut object = Tier::new(
            tier.name,
            TierSpec {
                priority: tier.priority,
                description: Some(format!(
                    "[READ-ONLY]: System generated {} Tier",
                    tier.legacy_name
                )),
            },
        );
        object.metadata.labels = None;
        object
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_tiers_are_found_by_both_names() {
        assert_eq!(system_tier("Baseline").map(|tier| tier.priority), Some(253));
        assert_eq!(
            system_tier("securityops").map(|tier| tier.legacy_name),
            Some("SecurityOps")
        );
        assert!(system_tier("nsx-application").is_none());
        let application = Tier::system(system_tier("application").unwrap());
        assert_eq!(application.spec.priority, DEFAULT_TIER_PRIORITY);
        assert!(
            application
                .spec
                .description
                .unwrap()
                .starts_with("[READ-ONLY]: System generated")
        );
    }
}
