//! `ClusterGroup` (cluster-scoped) and `Group` (namespaced), crd.antrea.io/v1beta1.
//!
//! Both share Go's `GroupSpec`; the Group manifest has no `nodeSelector` and keeps
//! selectors unvalidated (`x-kubernetes-preserve-unknown-fields` on `matchLabels`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::open_enum::open_string_enum;
use crate::policy::{ConditionStatus, IPBlock};

/// Desired state of a ClusterGroup: one kind of criterion (namespaceSelector may accompany
/// podSelector or externalEntitySelector).
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "crd.antrea.io",
    version = "v1beta1",
    kind = "ClusterGroup",
    plural = "clustergroups",
    singular = "clustergroup",
    shortname = "cg",
    status = "GroupStatus",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterGroupSpec {
    /// Names of child ClusterGroups (one level of nesting only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child_groups: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::label_selector")]
    pub pod_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::label_selector")]
    pub namespace_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::label_selector")]
    pub node_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::label_selector")]
    pub external_entity_selector: Option<LabelSelector>,
    /// A ClusterGroup with only ipBlocks selects nothing when used as appliedTo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_blocks: Option<Vec<IPBlock>>,
    /// Members are the backend Pods of this Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_reference: Option<ServiceReference>,
}

/// Desired state of a namespaced Group.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "crd.antrea.io",
    version = "v1beta1",
    kind = "Group",
    plural = "groups",
    singular = "group",
    namespaced,
    shortname = "grp",
    status = "GroupStatus",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct GroupSpec {
    /// Names of child Groups in the same Namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child_groups: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::label_selector_unchecked")]
    pub pod_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::label_selector_unchecked")]
    pub namespace_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::label_selector_unchecked")]
    pub external_entity_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_blocks: Option<Vec<IPBlock>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_reference: Option<ServiceReference>,
}

/// The Service whose backends form a group (`serviceReference`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceReference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

open_string_enum! {
    /// Condition types of a group status.
    pub enum GroupConditionType {
        /// `True` once every member has been computed; `False` with reason
        /// `ChildGroupsNestingExceeded` when a child has children.
        GroupMembersComputed = "GroupMembersComputed",
    }
}

/// `status` of a ClusterGroup or Group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<GroupCondition>>,
}

/// A condition of a group status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupCondition {
    #[serde(rename = "type")]
    pub type_: GroupConditionType,
    #[schemars(with = "String")]
    pub status: ConditionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub last_transition_time: Option<Time>,
}
