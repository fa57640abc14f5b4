//! The validating webhook for Tiers (`validate.go tierValidator`).

use std::collections::BTreeSet;

use antrea_types::Tier;
use antrea_types::tier::{
    CNP_ADMIN_TIER_PRIORITY, MAX_SUPPORTED_TIERS, RESERVED_TIER_PRIORITIES, SYSTEM_TIERS,
};

use crate::Denial;
use crate::context::AdmissionContext;

fn name(tier: &Tier) -> &str {
    tier.metadata.name.as_deref().unwrap_or_default()
}

/// CREATE: at most [`MAX_SUPPORTED_TIERS`] distinct priorities, no reserved priority (251,
/// 252, 254, 255, and 220 when the `ClusterNetworkPolicy` gate is on), no priority already
/// taken.
///
/// The 220 reservation exists only in Antrea v2.7+, whose message the reference does not
/// quote; it is reported with the same message as the other reserved priorities.
pub fn validate_tier_create(tier: &Tier, context: &dyn AdmissionContext) -> Result<(), Denial> {
    let tiers = context.tiers();
    let distinct_priorities: BTreeSet<i32> =
        tiers.iter().map(|existing| existing.priority).collect();
    if distinct_priorities.len() >= MAX_SUPPORTED_TIERS {
        return Err(Denial::new(format!(
            "maximum number of Tiers supported: {MAX_SUPPORTED_TIERS}"
        )));
    }
    let priority = tier.spec.priority;
    let reserved = RESERVED_TIER_PRIORITIES.contains(&priority)
        || (context.feature_gates().cluster_network_policy && priority == CNP_ADMIN_TIER_PRIORITY);
    if reserved {
        return Err(Denial::new(format!(
            "tier {} priority {priority} is reserved",
            name(tier)
        )));
    }
    if distinct_priorities.contains(&priority) {
        return Err(Denial::new(format!(
            "tier {} priority {priority} overlaps with existing Tier",
            name(tier)
        )));
    }
    Ok(())
}

/// UPDATE: the priority is immutable, except for antrea-controller itself (`username` is the
/// requester's).
pub fn validate_tier_update(
    new: &Tier,
    old: &Tier,
    username: &str,
    context: &dyn AdmissionContext,
) -> Result<(), Denial> {
    if username == context.antrea_controller_username() {
        return Ok(());
    }
    if new.spec.priority != old.spec.priority {
        return Err(Denial::new("update to Tier priority is not allowed"));
    }
    Ok(())
}

/// DELETE: the six system tiers never; other tiers not while an ACNP or ANNP references them.
pub fn validate_tier_delete(tier: &Tier, context: &dyn AdmissionContext) -> Result<(), Denial> {
    let name = name(tier);
    if SYSTEM_TIERS.iter().any(|system| system.name == name) {
        return Err(Denial::new(format!("cannot delete reserved tier {name}")));
    }
    let cluster_policies = context.cluster_network_policies_in_tier(name);
    if cluster_policies > 0 {
        return Err(Denial::new(format!(
            "tier {name} is referenced by {cluster_policies} Antrea ClusterNetworkPolicies"
        )));
    }
    let policies = context.network_policies_in_tier(name);
    if policies > 0 {
        return Err(Denial::new(format!(
            "tier {name} is referenced by {policies} Antrea NetworkPolicies"
        )));
    }
    Ok(())
}
