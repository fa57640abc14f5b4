//! `ClusterNetworkPolicy` (ACNP), crd.antrea.io/v1beta1, cluster-scoped.

use kube::CustomResource;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use crate::policy::{
    AppliedTo, IGMP_QUERY, IGMP_REPORT_V1, IGMP_REPORT_V2, IGMP_REPORT_V3, NetworkPolicyStatus,
    Rule,
};
use crate::schema::{finish, inline_schema_for, require, retain_properties, set_keyword};

/// Desired state of an Antrea ClusterNetworkPolicy.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "crd.antrea.io",
    version = "v1beta1",
    kind = "ClusterNetworkPolicy",
    plural = "clusternetworkpolicies",
    singular = "clusternetworkpolicy",
    shortname = "acnp",
    status = "NetworkPolicyStatus",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Tier","type":"string","description":"The Tier to which this ClusterNetworkPolicy belongs to.","jsonPath":".spec.tier"}"#,
    printcolumn = r#"{"name":"Priority","type":"number","format":"float","description":"The Priority of this ClusterNetworkPolicy relative to other policies.","jsonPath":".spec.priority"}"#,
    printcolumn = r#"{"name":"Desired Nodes","type":"number","format":"int32","description":"The total number of Nodes that should realize the NetworkPolicy.","jsonPath":".status.desiredNodesRealized"}"#,
    printcolumn = r#"{"name":"Current Nodes","type":"number","format":"int32","description":"The number of Nodes that have realized the NetworkPolicy.","jsonPath":".status.currentNodesRealized"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterNetworkPolicySpec {
    /// Tier name; the mutating webhook writes `application` when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Order within the tier, 1.0 to 10000.0; lower is evaluated first.
    #[schemars(range(min = 1.0, max = 10000.0), extend("format" = "float"))]
    pub priority: f64,
    /// Workloads the policy applies to; exclusive with rule-level appliedTo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "acnp_applied_to")]
    pub applied_to: Option<Vec<AppliedTo>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "acnp_ingress_rules")]
    pub ingress: Option<Vec<Rule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "acnp_egress_rules")]
    pub egress: Option<Vec<Rule>>,
}

/// Fields of a policy-level ACNP `appliedTo` entry in the manifest.
pub const ACNP_POLICY_APPLIED_TO_FIELDS: &[&str] = &[
    "podSelector",
    "namespaceSelector",
    "group",
    "serviceAccount",
    "service",
    "nodeSelector",
];
/// Fields of an ACNP ingress rule's `appliedTo` entry.
pub const ACNP_INGRESS_APPLIED_TO_FIELDS: &[&str] = &[
    "podSelector",
    "namespaceSelector",
    "group",
    "serviceAccount",
    "service",
];
/// Fields of an ACNP egress rule's `appliedTo` entry.
pub const ACNP_EGRESS_APPLIED_TO_FIELDS: &[&str] = &[
    "podSelector",
    "namespaceSelector",
    "group",
    "serviceAccount",
];
/// Fields of an ACNP ingress `from` peer.
pub const ACNP_INGRESS_PEER_FIELDS: &[&str] = &[
    "podSelector",
    "namespaceSelector",
    "namespaces",
    "ipBlock",
    "group",
    "serviceAccount",
    "nodeSelector",
    "scope",
];
/// Fields of an ACNP egress `to` peer.
pub const ACNP_EGRESS_PEER_FIELDS: &[&str] = &[
    "podSelector",
    "namespaceSelector",
    "namespaces",
    "ipBlock",
    "group",
    "fqdn",
    "serviceAccount",
    "nodeSelector",
];
/// Fields of an ingress rule (both kinds).
pub(crate) const INGRESS_RULE_FIELDS: &[&str] = &[
    "appliedTo",
    "action",
    "ports",
    "protocols",
    "l7Protocols",
    "from",
    "name",
    "enableLogging",
    "logLabel",
];
/// Fields of an egress rule (both kinds).
pub(crate) const EGRESS_RULE_FIELDS: &[&str] = &[
    "appliedTo",
    "action",
    "ports",
    "protocols",
    "l7Protocols",
    "to",
    "toServices",
    "name",
    "enableLogging",
    "logLabel",
];

fn acnp_applied_to(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = inline_schema_for::<Vec<AppliedTo>>(generator);
    retain_properties(&mut schema, "[]", ACNP_POLICY_APPLIED_TO_FIELDS);
    finish(schema)
}

fn acnp_ingress_rules(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = inline_schema_for::<Vec<Rule>>(generator);
    retain_properties(&mut schema, "[]", INGRESS_RULE_FIELDS);
    retain_properties(
        &mut schema,
        "[].appliedTo[]",
        ACNP_INGRESS_APPLIED_TO_FIELDS,
    );
    retain_properties(&mut schema, "[].from[]", ACNP_INGRESS_PEER_FIELDS);
    set_keyword(
        &mut schema,
        "[].protocols[].igmp.igmpType",
        "enum",
        serde_json::json!([IGMP_QUERY]),
    );
    finish(schema)
}

fn acnp_egress_rules(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = inline_schema_for::<Vec<Rule>>(generator);
    retain_properties(&mut schema, "[]", EGRESS_RULE_FIELDS);
    retain_properties(&mut schema, "[].appliedTo[]", ACNP_EGRESS_APPLIED_TO_FIELDS);
    retain_properties(&mut schema, "[].to[]", ACNP_EGRESS_PEER_FIELDS);
    set_keyword(
        &mut schema,
        "[].protocols[].igmp.igmpType",
        "enum",
        serde_json::json!([IGMP_REPORT_V1, IGMP_REPORT_V2, IGMP_REPORT_V3]),
    );
    require(&mut schema, "[].toServices[]", "namespace");
    finish(schema)
}
