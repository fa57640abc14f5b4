//! The policy vocabulary shared by ClusterNetworkPolicy (ACNP) and Antrea NetworkPolicy (ANNP):
//! rules, peers, appliedTo, ports, protocols and the realization status
//! (Go: `pkg/apis/crd/v1beta1/types.go`).
//!
//! Lists are `Option<Vec<_>>` so that "absent" and "empty" survive a round trip: the webhook
//! tells them apart (for example `toServices` with `ports: []`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::open_enum::open_string_enum;

/// What a rule does with matching traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum RuleAction {
    Allow,
    Drop,
    Reject,
    /// Skip the remaining Antrea-native policies (except baseline) and let K8s
    /// NetworkPolicies decide; forbidden in the `baseline` tier.
    Pass,
}

impl RuleAction {
    /// The wire string (`Allow`, `Drop`, `Reject`, `Pass`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "Allow",
            Self::Drop => "Drop",
            Self::Reject => "Reject",
            Self::Pass => "Pass",
        }
    }
}

/// A layer-4 protocol of a `ports` entry (`corev1.Protocol`, restricted by the manifests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum Protocol {
    TCP,
    UDP,
    SCTP,
}

/// Scope of a peer's selectors or of a `toServices` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PeerScope {
    Cluster,
    ClusterSet,
}

/// `namespaces.match` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum NamespaceMatchType {
    /// `Self`: the Namespace of the appliedTo workload.
    #[serde(rename = "Self")]
    SameNamespace,
}

/// HTTP methods an L7 rule may match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum HttpMethod {
    GET,
    POST,
    PUT,
    HEAD,
    DELETE,
    TRACE,
    OPTIONS,
    CONNECT,
    PATCH,
}

/// `True`, `False` or `Unknown` (`corev1.ConditionStatus` / `metav1.ConditionStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

/// A reference to a namespaced object; both fields are required where the manifests use it
/// (`serviceAccount`, `service`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct NamespacedName {
    pub name: String,
    pub namespace: String,
}

impl NamespacedName {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            namespace: namespace.into(),
        }
    }
}

/// A CIDR with optional exceptions (`except` must be strict subsets of `cidr`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IPBlock {
    /// The manifests do not require it; the webhook rejects an empty one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(extend("format" = "cidr"))]
    pub cidr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "cidr_list")]
    pub except: Option<Vec<String>>,
}

impl IPBlock {
    pub fn new(cidr: impl Into<String>) -> Self {
        Self {
            cidr: cidr.into(),
            except: None,
        }
    }
}

fn cidr_list(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "array", "items": {"type": "string", "format": "cidr"}})
}

/// Namespace criteria of an ACNP peer; exactly one field may be set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct PeerNamespaces {
    #[serde(rename = "match", default, skip_serializing_if = "Option::is_none")]
    pub match_type: Option<NamespaceMatchType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_labels: Option<Vec<String>>,
}

/// A `toServices` entry: a ClusterIP Service (or a multi-cluster one with `ClusterSet`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeerService {
    pub name: String,
    /// Required in ACNPs; defaults to the policy's Namespace in ANNPs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<PeerScope>,
}

/// A `ports` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyPort {
    /// Defaults to TCP when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    /// A number or a named port; absent means all ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>")]
    pub end_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>")]
    pub source_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>")]
    pub source_end_port: Option<i32>,
}

/// An `integer` schema without a `format` (the manifests give most integers none).
pub(crate) struct SchemaInteger;

impl JsonSchema for SchemaInteger {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Integer".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "integer"})
    }
}

/// A `protocols` entry: exactly one of ICMP and IGMP.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("oneOf" = [{"required": ["icmp"]}, {"required": ["igmp"]}]))]
pub struct NetworkPolicyProtocol {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp: Option<ICMPProtocol>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub igmp: Option<IGMPProtocol>,
}

/// ICMP type/code match; both absent matches all ICMP.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ICMPProtocol {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>", range(min = 0, max = 255))]
    pub icmp_type: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>", range(min = 0, max = 255))]
    pub icmp_code: Option<i32>,
}

/// IGMP query (ingress, 0x11) or report (egress, 0x12/0x16/0x22) match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IGMPProtocol {
    /// The allowed values depend on the direction; see [`IGMP_QUERY`] and the report constants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>")]
    pub igmp_type: Option<i32>,
    /// A multicast group address; absent matches all groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("oneOf" = [{"format": "ipv4"}, {"format": "ipv6"}]))]
    pub group_address: Option<String>,
}

/// IGMP membership query, the only `igmpType` allowed in ingress rules.
pub const IGMP_QUERY: i32 = 0x11;
/// IGMPv1 membership report.
pub const IGMP_REPORT_V1: i32 = 0x12;
/// IGMPv2 membership report.
pub const IGMP_REPORT_V2: i32 = 0x16;
/// IGMPv3 membership report.
pub const IGMP_REPORT_V3: i32 = 0x22;

/// An `l7Protocols` entry: exactly one of HTTP and TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("oneOf" = [{"required": ["http"]}, {"required": ["tls"]}]))]
pub struct L7Protocol {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HTTPProtocol>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TLSProtocol>,
}

/// HTTP request match; all fields absent matches every request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HTTPProtocol {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<HttpMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// TLS handshake match on SNI.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TLSProtocol {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
}

/// Workloads a policy or rule applies to. Which fields a manifest keeps depends on the kind
/// and on where the entry sits (see the crate docs); the rest is pruned by the API server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppliedTo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::label_selector")]
    pub pod_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::label_selector")]
    pub namespace_selector: Option<LabelSelector>,
    /// ANNP only (pruned from ACNPs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::label_selector")]
    pub external_entity_selector: Option<LabelSelector>,
    /// A ClusterGroup name (ACNP) or a Group in the policy's Namespace (ANNP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<NamespacedName>,
    /// A NodePort Service; ingress only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<NamespacedName>,
    /// Nodes (Node policies; needs the `NodeNetworkPolicy` gate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::label_selector")]
    pub node_selector: Option<LabelSelector>,
}

/// A `from`/`to` peer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyPeer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_block: Option<IPBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::label_selector")]
    pub pod_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::label_selector")]
    pub namespace_selector: Option<LabelSelector>,
    /// ACNP only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<PeerNamespaces>,
    /// ANNP only (pruned from ACNPs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::label_selector")]
    pub external_entity_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Egress only; exact name or wildcard, characters `[-0-9a-zA-Z.*]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
    /// ACNP only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<NamespacedName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::label_selector")]
    pub node_selector: Option<LabelSelector>,
    /// Ingress only; defaults to `Cluster`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<PeerScope>,
}

/// An ingress or egress rule. Ingress rules use `from`, egress rules `to`/`toServices`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub action: RuleAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<NetworkPolicyPort>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocols: Option<Vec<NetworkPolicyProtocol>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l7_protocols: Option<Vec<L7Protocol>>,
    /// Empty or absent matches all sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Vec<NetworkPolicyPeer>>,
    /// Empty or absent (with no `toServices`) matches all destinations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Vec<NetworkPolicyPeer>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_services: Option<Vec<PeerService>>,
    /// Unique across ingress and egress; the key of rule stats and Traceflow observations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_logging: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$"))]
    pub log_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_to: Option<Vec<AppliedTo>>,
}

impl Rule {
    /// A rule with only an action.
    pub fn new(action: RuleAction) -> Self {
        Self {
            action,
            ports: None,
            protocols: None,
            l7_protocols: None,
            from: None,
            to: None,
            to_services: None,
            name: None,
            enable_logging: None,
            log_label: None,
            applied_to: None,
        }
    }
}

open_string_enum! {
    /// `status.phase` of an ACNP/ANNP.
    pub enum NetworkPolicyPhase {
        /// Accepted but not processed yet (or not realizable).
        Pending = "Pending",
        /// Processed; some Nodes have not realized the current generation yet.
        Realizing = "Realizing",
        /// Every Node of the span has realized the current generation.
        Realized = "Realized",
        /// At least one Node failed to realize it.
        Failed = "Failed",
    }
}

open_string_enum! {
    /// Condition types of an ACNP/ANNP status.
    pub enum NetworkPolicyConditionType {
        Realizable = "Realizable",
        RealizationFailure = "RealizationFailure",
    }
}

/// `status` of an ACNP/ANNP, written by antrea-controller.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<NetworkPolicyPhase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>")]
    pub current_nodes_realized: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>")]
    pub desired_nodes_realized: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<NetworkPolicyCondition>>,
}

/// A condition of an ACNP/ANNP status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyCondition {
    #[serde(rename = "type")]
    pub type_: NetworkPolicyConditionType,
    #[schemars(with = "String")]
    pub status: ConditionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub last_transition_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
