//! `Traceflow`, crd.antrea.io/v1beta1, cluster-scoped: inject (or capture) a packet and
//! collect per-Node observations.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use crate::open_enum::open_string_enum;
use crate::policy::SchemaInteger;
use crate::schema::{finish, inline_schema_for, retain_properties};

/// Timeout applied by antrea-controller when `spec.timeout` is absent (`DefaultTraceflowTimeout`).
pub const DEFAULT_TRACEFLOW_TIMEOUT_SECONDS: i32 = 20;

/// What to trace.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "crd.antrea.io",
    version = "v1beta1",
    kind = "Traceflow",
    plural = "traceflows",
    singular = "traceflow",
    shortname = "tf",
    status = "TraceflowStatus",
    derive = "PartialEq",
    printcolumn = r#"{"jsonPath":".status.phase","description":"The phase of the Traceflow.","name":"Phase","type":"string"}"#,
    printcolumn = r#"{"jsonPath":".spec.source.pod","description":"The name of the source Pod.","name":"Source-Pod","type":"string","priority":10}"#,
    printcolumn = r#"{"jsonPath":".spec.destination.pod","description":"The name of the destination Pod.","name":"Destination-Pod","type":"string","priority":10}"#,
    printcolumn = r#"{"jsonPath":".spec.destination.ip","description":"The IP address of the destination.","name":"Destination-IP","type":"string","priority":10}"#,
    printcolumn = r#"{"jsonPath":".spec.liveTraffic","description":"Trace live traffic.","name":"Live-Traffic","type":"boolean","priority":10}"#,
    printcolumn = r#"{"jsonPath":".spec.droppedOnly","description":"Capture only the dropped packet.","name":"Dropped-Only","type":"boolean","priority":10}"#,
    printcolumn = r#"{"jsonPath":".spec.timeout","description":"Timeout in seconds.","name":"Timeout","type":"integer","priority":10}"#,
    printcolumn = r#"{"jsonPath":".metadata.creationTimestamp","name":"Age","type":"date"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct TraceflowSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<TraceflowSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<TraceflowDestination>,
    /// Header fields of the injected packet (the manifest keeps only the headers here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "spec_packet")]
    pub packet: Option<Packet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_traffic: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped_only: Option<bool>,
    /// Seconds, 1 to 300; antrea-controller uses 20 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>", range(min = 1, max = 300))]
    pub timeout: Option<i32>,
}

fn spec_packet(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = inline_schema_for::<Packet>(generator);
    retain_properties(
        &mut schema,
        "",
        &["ipHeader", "ipv6Header", "transportHeader"],
    );
    finish(schema)
}

/// Where the packet comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TraceflowSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Live traffic only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("oneOf" = [{"format": "ipv4"}, {"format": "ipv6"}]))]
    pub ip: Option<String>,
}

/// Where the packet goes: a Pod, a Service or an IP.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TraceflowDestination {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("oneOf" = [{"format": "ipv4"}, {"format": "ipv6"}]))]
    pub ip: Option<String>,
}

/// Packet header fields (spec) or the captured packet (status).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Packet {
    /// Status (`capturedPacket`) only.
    #[serde(default, rename = "srcIP", skip_serializing_if = "Option::is_none")]
    pub src_ip: Option<String>,
    /// Status (`capturedPacket`) only.
    #[serde(default, rename = "dstIP", skip_serializing_if = "Option::is_none")]
    pub dst_ip: Option<String>,
    /// Status (`capturedPacket`) only: IP packet length including the IP header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>", range(min = 0, max = 65535))]
    pub length: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_header: Option<IPHeader>,
    /// Setting it selects IPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_header: Option<IPv6Header>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport_header: Option<TransportHeader>,
}

/// IPv4 header fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IPHeader {
    /// IP protocol number; antrea-controller uses 1 (ICMP) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>", range(min = 0, max = 255))]
    pub protocol: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>", range(min = 0, max = 255))]
    pub ttl: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>", range(min = 0, max = 7))]
    pub flags: Option<i32>,
}

/// IPv6 header fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IPv6Header {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>", range(min = 0, max = 65535))]
    pub next_header: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>", range(min = 0, max = 65535))]
    pub hop_limit: Option<i32>,
}

/// One of ICMP echo, UDP or TCP.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransportHeader {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp: Option<ICMPEchoRequestHeader>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udp: Option<UDPHeader>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TCPHeader>,
}

/// ICMP echo request fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ICMPEchoRequestHeader {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>", range(min = 0, max = 65535))]
    pub id: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>", range(min = 0, max = 65535))]
    pub sequence: Option<i32>,
}

/// UDP ports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UDPHeader {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>", range(min = 1, max = 65535))]
    pub src_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>", range(min = 1, max = 65535))]
    pub dst_port: Option<i32>,
}

/// TCP ports and flags (antrea-controller uses SYN, 2, when flags are absent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TCPHeader {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>", range(min = 1, max = 65535))]
    pub src_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>", range(min = 1, max = 65535))]
    pub dst_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>", range(min = 0, max = 255))]
    pub flags: Option<i32>,
}

open_string_enum! {
    /// `status.phase` of a Traceflow; empty until a data-plane tag is allocated.
    pub enum TraceflowPhase {
        Running = "Running",
        /// Sender and receiver reported; the packet may still have been dropped.
        Succeeded = "Succeeded",
        Failed = "Failed",
    }
}

open_string_enum! {
    /// The data-plane component of an observation.
    pub enum TraceflowComponent {
        SpoofGuard = "SpoofGuard",
        LB = "LB",
        Routing = "Routing",
        NetworkPolicy = "NetworkPolicy",
        Forwarding = "Forwarding",
        Egress = "Egress",
    }
}

open_string_enum! {
    /// What happened to the packet at an observation point.
    pub enum TraceflowAction {
        Delivered = "Delivered",
        Received = "Received",
        Forwarded = "Forwarded",
        Dropped = "Dropped",
        Rejected = "Rejected",
        ForwardedOutOfNetwork = "ForwardedOutOfNetwork",
        ForwardedOutOfOverlay = "ForwardedOutOfOverlay",
        MarkedForSNAT = "MarkedForSNAT",
        ForwardedToEgressNode = "ForwardedToEgressNode",
    }
}

/// Observed state of a Traceflow.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TraceflowStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<TraceflowPhase>,
    /// For example `Traceflow timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub start_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>")]
    pub dataplane_tag: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<Vec<NodeResult>>,
    /// Live traffic only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captured_packet: Option<Packet>,
}

/// Observations reported by one Node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// `Sender` or `Receiver`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>")]
    pub timestamp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observations: Option<Vec<Observation>>,
}

/// One observation point on a Node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Observation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<TraceflowComponent>,
    /// OVS table name, e.g. `IngressRule`, `EgressRule`, `Output`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_info: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<TraceflowAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(default, rename = "dstMAC", skip_serializing_if = "Option::is_none")]
    pub dst_mac: Option<String>,
    /// `AntreaClusterNetworkPolicy:<name>` or `<Type>:<namespace>/<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy: Option<String>,
    /// The rule name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>", range(min = 0, max = 255))]
    pub ttl: Option<i32>,
    #[serde(
        default,
        rename = "translatedSrcIP",
        skip_serializing_if = "Option::is_none"
    )]
    pub translated_src_ip: Option<String>,
    #[serde(
        default,
        rename = "translatedDstIP",
        skip_serializing_if = "Option::is_none"
    )]
    pub translated_dst_ip: Option<String>,
    #[serde(
        default,
        rename = "tunnelDstIP",
        skip_serializing_if = "Option::is_none"
    )]
    pub tunnel_dst_ip: Option<String>,
    #[serde(default, rename = "egressIP", skip_serializing_if = "Option::is_none")]
    pub egress_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress_node: Option<String>,
    #[serde(default, rename = "srcPodIP", skip_serializing_if = "Option::is_none")]
    pub src_pod_ip: Option<String>,
}
