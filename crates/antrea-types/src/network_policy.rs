//! Antrea `NetworkPolicy` (ANNP), crd.antrea.io/v1beta1, namespaced.
//!
//! Same shape as the ACNP spec; the manifest keeps fewer fields: no `namespaceSelector`,
//! `serviceAccount`, `service` or `nodeSelector` in appliedTo, no `namespaces` or
//! `serviceAccount` in peers, and `group` names a Group in the policy's Namespace.

use kube::CustomResource;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use crate::cluster_network_policy::{EGRESS_RULE_FIELDS, INGRESS_RULE_FIELDS};
use crate::policy::{
    AppliedTo, IGMP_QUERY, IGMP_REPORT_V1, IGMP_REPORT_V2, IGMP_REPORT_V3, NetworkPolicyStatus,
    Rule,
};
use crate::schema::{finish, inline_schema_for, remove_keyword, retain_properties, set_keyword};

/// Desired state of an Antrea NetworkPolicy.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "crd.antrea.io",
    version = "v1beta1",
    kind = "NetworkPolicy",
    plural = "networkpolicies",
    singular = "networkpolicy",
    namespaced,
    shortname = "annp",
    shortname = "anp",
    status = "NetworkPolicyStatus",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Tier","type":"string","description":"The Tier to which this Antrea NetworkPolicy belongs to.","jsonPath":".spec.tier"}"#,
    printcolumn = r#"{"name":"Priority","type":"number","format":"float","description":"The Priority of this Antrea NetworkPolicy relative to other policies.","jsonPath":".spec.priority"}"#,
    printcolumn = r#"{"name":"Desired Nodes","type":"number","format":"int32","description":"The total number of Nodes that should realize the NetworkPolicy.","jsonPath":".status.desiredNodesRealized"}"#,
    printcolumn = r#"{"name":"Current Nodes","type":"number","format":"int32","description":"The number of Nodes that have realized the NetworkPolicy.","jsonPath":".status.currentNodesRealized"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    /// Tier name; the mutating webhook writes `application` when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Order within the tier, 1.0 to 10000.0; lower is evaluated first.
    #[schemars(range(min = 1.0, max = 10000.0), extend("format" = "float"))]
    pub priority: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "annp_applied_to")]
    pub applied_to: Option<Vec<AppliedTo>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "annp_ingress_rules")]
    pub ingress: Option<Vec<Rule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "annp_egress_rules")]
    pub egress: Option<Vec<Rule>>,
}

/// Fields of a policy-level ANNP `appliedTo` entry in the manifest.
pub const ANNP_POLICY_APPLIED_TO_FIELDS: &[&str] =
    &["podSelector", "externalEntitySelector", "group"];
/// Fields of an ANNP rule-level `appliedTo` entry.
pub const ANNP_RULE_APPLIED_TO_FIELDS: &[&str] = &["podSelector", "group"];
/// Fields of an ANNP ingress `from` peer.
pub const ANNP_INGRESS_PEER_FIELDS: &[&str] = &[
    "podSelector",
    "namespaceSelector",
    "externalEntitySelector",
    "ipBlock",
    "nodeSelector",
    "group",
    "scope",
];
/// Fields of an ANNP egress `to` peer.
pub const ANNP_EGRESS_PEER_FIELDS: &[&str] = &[
    "podSelector",
    "namespaceSelector",
    "externalEntitySelector",
    "ipBlock",
    "fqdn",
    "nodeSelector",
    "group",
];

fn annp_applied_to(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = inline_schema_for::<Vec<AppliedTo>>(generator);
    retain_properties(&mut schema, "[]", ANNP_POLICY_APPLIED_TO_FIELDS);
    finish(schema)
}

fn annp_ingress_rules(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = inline_schema_for::<Vec<Rule>>(generator);
    retain_properties(&mut schema, "[]", INGRESS_RULE_FIELDS);
    retain_properties(&mut schema, "[].appliedTo[]", ANNP_RULE_APPLIED_TO_FIELDS);
    retain_properties(&mut schema, "[].from[]", ANNP_INGRESS_PEER_FIELDS);
    set_keyword(
        &mut schema,
        "[].protocols[].igmp.igmpType",
        "enum",
        serde_json::json!([IGMP_QUERY]),
    );
    finish(schema)
}

fn annp_egress_rules(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = inline_schema_for::<Vec<Rule>>(generator);
    retain_properties(&mut schema, "[]", EGRESS_RULE_FIELDS);
    retain_properties(&mut schema, "[].appliedTo[]", ANNP_RULE_APPLIED_TO_FIELDS);
    retain_properties(&mut schema, "[].to[]", ANNP_EGRESS_PEER_FIELDS);
    set_keyword(
        &mut schema,
        "[].protocols[].igmp.igmpType",
        "enum",
        serde_json::json!([IGMP_REPORT_V1, IGMP_REPORT_V2, IGMP_REPORT_V3]),
    );
    // The ANNP manifest declares `toServices[].scope` as a plain string.
    remove_keyword(&mut schema, "[].toServices[].scope", "enum");
    finish(schema)
}
