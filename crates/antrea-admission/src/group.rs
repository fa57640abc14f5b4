//! The validating webhook for ClusterGroups and Groups (`validate.go groupValidator`, CREATE
//! and UPDATE; DELETE is not validated, so a referenced child may be deleted).

use antrea_types::policy::IPBlock;
use antrea_types::{ClusterGroup, Group};

use crate::Denial;
use crate::context::AdmissionContext;
use crate::net::{is_multicast, parse_cidr};
use crate::policy::{ip_block, selector_labels};

/// Message when a ClusterGroup mixes criteria (Antrea v2.7, which added `nodeSelector`).
pub const CLUSTER_GROUP_ONE_CRITERION: &str = "At most one of podSelector, nodeSelector, externalEntitySelector, serviceReference, ipBlock, ipBlocks or childGroups can be set for a ClusterGroup";
/// Message when a Group mixes criteria.
pub const GROUP_ONE_CRITERION: &str = "At most one of podSelector, externalEntitySelector, serviceReference, ipBlocks or childGroups can be set for a Group";

/// Fields set, and whether the two-field case is the allowed namespaceSelector pairing.
fn criteria_ok(
    fields_set: usize,
    namespace_selector: bool,
    pod_or_external_entity_selector: bool,
) -> bool {
    match fields_set {
        0 | 1 => true,
        2 => namespace_selector && pod_or_external_entity_selector,
        _ => false,
    }
}

/// `validateGroupIPBlocks`: each block valid; multicast and unicast blocks not mixed.
fn group_ip_blocks(blocks: &[IPBlock]) -> Result<(), Denial> {
    let (mut multicast, mut unicast) = (false, false);
    for block in blocks {
        ip_block(block)?;
        let address = parse_cidr(&block.cidr).map_err(Denial::new)?.address;
        if is_multicast(address) {
            multicast = true;
        } else {
            unicast = true;
        }
    }
    if multicast && unicast {
        return Err(Denial::new(
            "can not set multicast groupAddress together with unicast ip address",
        ));
    }
    Ok(())
}

/// Validates a ClusterGroup on CREATE or UPDATE.
pub fn validate_cluster_group(
    group: &ClusterGroup,
    context: &dyn AdmissionContext,
) -> Result<(), Denial> {
    let spec = &group.spec;
    let fields_set = [
        spec.pod_selector.is_some(),
        spec.namespace_selector.is_some(),
        spec.node_selector.is_some(),
        spec.ip_blocks.is_some(),
        spec.service_reference.is_some(),
        spec.external_entity_selector.is_some(),
        spec.child_groups.is_some(),
    ]
    .into_iter()
    .filter(|set| *set)
    .count();
    let paired = spec.pod_selector.is_some() || spec.external_entity_selector.is_some();
    if !criteria_ok(fields_set, spec.namespace_selector.is_some(), paired) {
        return Err(Denial::new(CLUSTER_GROUP_ONE_CRITERION));
    }
    selector_labels(&[
        spec.pod_selector.as_ref(),
        spec.namespace_selector.as_ref(),
        spec.external_entity_selector.as_ref(),
        spec.node_selector.as_ref(),
    ])?;
    group_ip_blocks(spec.ip_blocks.as_deref().unwrap_or_default())?;

    let children = spec.child_groups.as_deref().unwrap_or_default();
    if children.is_empty() {
        return Ok(());
    }
    let name = group.metadata.name.as_deref().unwrap_or_default();
    if children.iter().any(|child| child == name) {
        return Err(Denial::new(format!(
            "cannot set ClusterGroup {name} as its own childGroup"
        )));
    }
    let parents = context.cluster_group_parents(name);
    if parents > 0 {
        return Err(Denial::new(format!(
            "cannot set childGroups for ClusterGroup {name}, who has {parents} parents"
        )));
    }
    for child in children {
        // A child that does not exist yet is accepted.
        let Some(child_spec) = context.cluster_group(child) else {
            continue;
        };
        let grandchildren = child_spec.child_groups.as_deref().unwrap_or_default().len();
        if grandchildren > 0 {
            return Err(Denial::new(format!(
                "cannot set ClusterGroup {child} as childGroup, who has {grandchildren} childGroups itself"
            )));
        }
    }
    Ok(())
}

/// Validates a namespaced Group on CREATE or UPDATE.
pub fn validate_group(group: &Group, context: &dyn AdmissionContext) -> Result<(), Denial> {
    let spec = &group.spec;
    let fields_set = [
        spec.pod_selector.is_some(),
        spec.namespace_selector.is_some(),
        spec.ip_blocks.is_some(),
        spec.service_reference.is_some(),
        spec.external_entity_selector.is_some(),
        spec.child_groups.is_some(),
    ]
    .into_iter()
    .filter(|set| *set)
    .count();
    let paired = spec.pod_selector.is_some() || spec.external_entity_selector.is_some();
    if !criteria_ok(fields_set, spec.namespace_selector.is_some(), paired) {
        return Err(Denial::new(GROUP_ONE_CRITERION));
    }
    selector_labels(&[
        spec.pod_selector.as_ref(),
        spec.namespace_selector.as_ref(),
        spec.external_entity_selector.as_ref(),
    ])?;
    group_ip_blocks(spec.ip_blocks.as_deref().unwrap_or_default())?;

    let children = spec.child_groups.as_deref().unwrap_or_default();
    if children.is_empty() {
        return Ok(());
    }
    let namespace = group.metadata.namespace.as_deref().unwrap_or_default();
    let name = group.metadata.name.as_deref().unwrap_or_default();
    if children.iter().any(|child| child == name) {
        return Err(Denial::new(format!(
            "cannot set Group {namespace}/{name} as its own childGroup"
        )));
    }
    let parents = context.group_parents(namespace, name);
    if parents > 0 {
        return Err(Denial::new(format!(
            "cannot set childGroups for Group {namespace}/{name}, who has {parents} parents"
        )));
    }
    for child in children {
        let Some(child_spec) = context.group(namespace, child) else {
            continue;
        };
        let grandchildren = child_spec.child_groups.as_deref().unwrap_or_default().len();
        if grandchildren > 0 {
            return Err(Denial::new(format!(
                "cannot set Group {namespace}/{child} as childGroup, who has {grandchildren} childGroups itself"
            )));
        }
    }
    Ok(())
}
