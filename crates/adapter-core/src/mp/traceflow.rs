//! Antrea Traceflow for NSX (nsx-api.md §3.8, antrea-api.md §4.1, docs/protocol.md §7.5):
//! NSX's `AntreaTraceflowConfig` → an Antrea `Traceflow` (crd.antrea.io/v1beta1), and the
//! Traceflow's status → NSX observations and status.
//!
//! Config → spec:
//!
//! | NSX | Antrea | rule |
//! |---|---|---|
//! | `source_external_id` (Pod UID) | `source {namespace, pod}` | unknown → NOT_FOUND; hostNetwork Pod → INVALID_ARGUMENT |
//! | `packet.ipHeader.dstIp` / `ipv6Header.dstIp` | `destination.ip` | wins over `destination_external_id` (NSX ignores the latter then) |
//! | `destination_external_id` (Pod UID) | `destination {namespace, pod}` | |
//! | `destination_external_id` (Service UID) | `destination {namespace, service}` | unknown UID → NOT_FOUND |
//! | `packet.transportType` | – | only `UNICAST` (or unset) |
//! | `packet.resourceType` | – | only `FIELDS_PACKET_DATA` (or unset) |
//! | `ipHeader {protocol, ttl, flags}` | `packet.ipHeader {protocol, ttl, flags}` | ttl 0–255 (default 64), flags 0–7 |
//! | `ipv6Header {nextHeader, hopLimit}` | `packet.ipv6Header {nextHeader, hopLimit}` | selects IPv6; not with `ipHeader` |
//! | `transportHeader.tcpHeader {srcPort, dstPort, tcpFlags}` | `transportHeader.tcp {srcPort, dstPort, flags}` | flags must include SYN (2); default SYN |
//! | `transportHeader.udpHeader {srcPort, dstPort}` | `transportHeader.udp` | |
//! | `transportHeader.icmpEchoRequestHeader {id, sequence}` | `transportHeader.icmp` | |
//! | protocol | | from `ipHeader.protocol`/`ipv6Header.nextHeader`, else from the transport header, else ICMP; only ICMP (1), TCP (6), UDP (17), ICMPv6 (58) are traceable; a transport header that contradicts the protocol is refused |
//! | ports | | 0 means unset; otherwise 1–65535 |
//! | trace timeout | `timeout` | 1–300 s; unset → Antrea's 20 s |
//!
//! Status → NSX:
//!
//! | Antrea | NSX |
//! |---|---|
//! | `phase` Succeeded / Failed / Running or empty | `SUCCEEDED` / `FAILED` / `""` (running) |
//! | `reason` | `reason` |
//! | component SpoofGuard, LB, Routing, NetworkPolicy, Forwarding, other | `ANTREA_SPOOFGUARD`, `ANTREA_LB`, `ANTREA_ROUTING`, `ANTREA_DFW`, `ANTREA_FORWARDING`, `UNKNOWN` |
//! | action Delivered, Received, Forwarded, Dropped | `AntreaTraceflowObservation` + the same word |
//! | action Rejected | `AntreaTraceflowObservationDropped` |
//! | action ForwardedOutOfNetwork, ForwardedOutOfOverlay, MarkedForSNAT, ForwardedToEgressNode | `AntreaTraceflowObservationForwarded` |
//! | result `node` (Node name) | `container_node_id` (Node UID) |
//! | result `timestamp` (Unix s) | `timestamp` (ms) |
//!
//! Antrea's `Succeeded` includes packets dropped by policy: only the observations tell.

use std::time::Duration;

use antrea_types::traceflow::{
    ICMPEchoRequestHeader, IPHeader, IPv6Header, NodeResult, Packet, TCPHeader, TraceflowAction,
    TraceflowComponent, TraceflowDestination, TraceflowPhase, TraceflowSource, TransportHeader,
    UDPHeader,
};
use antrea_types::{Traceflow, TraceflowSpec, TraceflowStatus};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Most Traceflows Antrea runs at once (data-plane tags); more wait with an empty phase.
pub const MAX_CONCURRENT_TRACEFLOWS: usize = 14;
/// Label on every Traceflow the MP adapter creates: the hash of the NSX traceflow id.
pub const TRACEFLOW_ID_LABEL: &str = "antrea-nsx.vmware.com/traceflow-id-hash";
/// Label with the run number.
pub const TRACEFLOW_RUN_LABEL: &str = "antrea-nsx.vmware.com/traceflow-run";

/// NSX `AntreaTraceflowIpHeader`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NsxIpHeader {
    #[serde(default)]
    pub src_ip: String,
    #[serde(default)]
    pub dst_ip: String,
    #[serde(default)]
    pub protocol: Option<i64>,
    #[serde(default)]
    pub ttl: Option<i64>,
    #[serde(default)]
    pub flags: Option<i64>,
}

/// NSX `AntreaTraceflowIpv6Header`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NsxIpv6Header {
    #[serde(default)]
    pub src_ip: String,
    #[serde(default)]
    pub dst_ip: String,
    #[serde(default)]
    pub next_header: Option<i64>,
    #[serde(default)]
    pub hop_limit: Option<i64>,
}

/// NSX `AntreaTraceflowTcpHeader`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NsxTcpHeader {
    #[serde(default)]
    pub src_port: Option<i64>,
    #[serde(default)]
    pub dst_port: Option<i64>,
    #[serde(default)]
    pub tcp_flags: Option<i64>,
}

/// NSX `AntreaTraceflowUdpHeader`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NsxUdpHeader {
    #[serde(default)]
    pub src_port: Option<i64>,
    #[serde(default)]
    pub dst_port: Option<i64>,
}

/// NSX `AntreaTraceflowIcmpEchoRequestHeader`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NsxIcmpEchoRequestHeader {
    #[serde(default)]
    pub sequence: Option<i64>,
    #[serde(default)]
    pub id: Option<i64>,
}

/// NSX `AntreaTraceflowTransportHeader`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NsxTransportHeader {
    #[serde(default)]
    pub tcp_header: Option<NsxTcpHeader>,
    #[serde(default)]
    pub udp_header: Option<NsxUdpHeader>,
    #[serde(default)]
    pub icmp_echo_request_header: Option<NsxIcmpEchoRequestHeader>,
}

/// NSX `AntreaTraceflowPacketData`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NsxPacketData {
    #[serde(default)]
    pub resource_type: String,
    #[serde(default)]
    pub transport_type: String,
    #[serde(default)]
    pub frame_size: Option<i64>,
    #[serde(default)]
    pub payload: String,
    #[serde(default)]
    pub ip_header: Option<NsxIpHeader>,
    #[serde(default)]
    pub ipv6_header: Option<NsxIpv6Header>,
    #[serde(default)]
    pub transport_header: Option<NsxTransportHeader>,
}

/// NSX `AntreaTraceflowConfig` (the intent fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NsxTraceflowConfig {
    #[serde(default)]
    pub container_cluster_id: String,
    #[serde(default)]
    pub source_external_id: String,
    #[serde(default)]
    pub destination_external_id: String,
    #[serde(default)]
    pub is_transient: Option<bool>,
    #[serde(default)]
    pub packet: Option<NsxPacketData>,
}

/// A Pod as the Traceflow translation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    pub namespace: String,
    pub name: String,
    pub host_network: bool,
}

/// A Service as the Traceflow translation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRef {
    pub namespace: String,
    pub name: String,
}

/// Looks up cluster objects by UID (the inventory's external ids) and Nodes by name.
pub trait WorkloadLookup {
    fn pod(&self, uid: &str) -> Option<PodRef>;
    fn service(&self, uid: &str) -> Option<ServiceRef>;
    /// The UID of the Node named `name`.
    fn node_uid(&self, name: &str) -> Option<String>;
}

/// The protocol's error codes a Traceflow request can end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceflowErrorCode {
    InvalidArgument,
    NotFound,
    /// 14 Traceflows already running.
    ResourceExhausted,
    /// Antrea did not finish in time.
    DeadlineExceeded,
}

/// A Traceflow request that cannot be served; `target` names the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TraceflowError {
    pub code: TraceflowErrorCode,
    pub target: String,
    pub message: String,
}

impl TraceflowError {
    fn invalid(target: &str, message: impl Into<String>) -> Self {
        Self {
            code: TraceflowErrorCode::InvalidArgument,
            target: target.to_owned(),
            message: message.into(),
        }
    }

    fn not_found(target: &str, message: impl Into<String>) -> Self {
        Self {
            code: TraceflowErrorCode::NotFound,
            target: target.to_owned(),
            message: message.into(),
        }
    }

    /// Antrea's 14 data-plane tags are taken: the Traceflow still has no phase when the I/O
    /// layer gives up waiting for one.
    pub fn busy() -> Self {
        Self {
            code: TraceflowErrorCode::ResourceExhausted,
            target: String::new(),
            message: format!(
                "Antrea is already running {MAX_CONCURRENT_TRACEFLOWS} Traceflows; retry later"
            ),
        }
    }

    /// The request's deadline passed before Antrea finished.
    pub fn timeout(after: Duration) -> Self {
        Self {
            code: TraceflowErrorCode::DeadlineExceeded,
            target: String::new(),
            message: format!("the Traceflow did not finish within {} s", after.as_secs()),
        }
    }
}

/// The Antrea Traceflow name of run `run` of NSX traceflow `traceflow_id`:
/// `nsx-tf-<16 hex of SHA-256(id)>-<run>`, deterministic so a repeated start attaches to the
/// same object.
pub fn traceflow_name(traceflow_id: &str, run: u32) -> String {
    format!("nsx-tf-{}-{run}", id_hash(traceflow_id))
}

/// The value of [`TRACEFLOW_ID_LABEL`] for an NSX traceflow id.
pub fn id_hash(traceflow_id: &str) -> String {
    hex::encode(Sha256::digest(traceflow_id.as_bytes()))[..16].to_owned()
}

fn port(value: Option<i64>, target: &str) -> Result<Option<i32>, TraceflowError> {
    match value {
        None | Some(0) => Ok(None),
        Some(p @ 1..=65535) => Ok(Some(p as i32)),
        Some(p) => Err(TraceflowError::invalid(
            target,
            format!("{target} {p} is not a port (1-65535, or 0 for unset)"),
        )),
    }
}

fn in_range(
    value: Option<i64>,
    range: std::ops::RangeInclusive<i64>,
    target: &str,
) -> Result<Option<i32>, TraceflowError> {
    match value {
        None => Ok(None),
        Some(v) if range.contains(&v) => Ok(Some(v as i32)),
        Some(v) => Err(TraceflowError::invalid(
            target,
            format!("{target} {v} is outside {}-{}", range.start(), range.end()),
        )),
    }
}

const ICMP: i64 = 1;
const TCP: i64 = 6;
const UDP: i64 = 17;
const ICMPV6: i64 = 58;
const TCP_SYN: i64 = 2;

/// Builds the Antrea Traceflow for run `run` of NSX traceflow `traceflow_id`.
pub fn traceflow_for(
    traceflow_id: &str,
    run: u32,
    config: &NsxTraceflowConfig,
    trace_timeout: Option<Duration>,
    lookup: &impl WorkloadLookup,
) -> Result<Traceflow, TraceflowError> {
    let source_pod = lookup.pod(&config.source_external_id).ok_or_else(|| {
        if config.source_external_id.is_empty() {
            TraceflowError::invalid("source_external_id", "a source Pod is required")
        } else {
            TraceflowError::not_found(
                "source_external_id",
                format!("no Pod with UID {}", config.source_external_id),
            )
        }
    })?;
    if source_pod.host_network {
        return Err(TraceflowError::invalid(
            "source_external_id",
            format!(
                "Pod {}/{} uses the host network; Antrea traces only from Pods on the Pod network",
                source_pod.namespace, source_pod.name
            ),
        ));
    }
    let packet = config.packet.clone().unwrap_or_default();
    match packet.transport_type.as_str() {
        "" | "UNICAST" => {}
        other => {
            return Err(TraceflowError::invalid(
                "packet.transportType",
                format!("transport type {other} is not supported: Antrea traces unicast only"),
            ));
        }
    }
    match packet.resource_type.as_str() {
        "" | "FIELDS_PACKET_DATA" => {}
        other => {
            return Err(TraceflowError::invalid(
                "packet.resourceType",
                format!("{other} is not supported: give the packet as header fields"),
            ));
        }
    }
    if packet.ip_header.is_some() && packet.ipv6_header.is_some() {
        return Err(TraceflowError::invalid(
            "packet.ipv6Header",
            "a packet has either an IPv4 or an IPv6 header, not both",
        ));
    }
    let ipv6 = packet.ipv6_header.is_some();
    let transport = packet.transport_header.clone().unwrap_or_default();
    let headers = [
        transport.tcp_header.is_some(),
        transport.udp_header.is_some(),
        transport.icmp_echo_request_header.is_some(),
    ];
    if headers.iter().filter(|h| **h).count() > 1 {
        return Err(TraceflowError::invalid(
            "packet.transportHeader",
            "at most one of tcpHeader, udpHeader and icmpEchoRequestHeader",
        ));
    }
    let icmp = if ipv6 { ICMPV6 } else { ICMP };
    let implied = if transport.tcp_header.is_some() {
        Some(TCP)
    } else if transport.udp_header.is_some() {
        Some(UDP)
    } else if transport.icmp_echo_request_header.is_some() {
        Some(icmp)
    } else {
        None
    };
    let (declared, protocol_target) = if ipv6 {
        (
            packet.ipv6_header.as_ref().and_then(|h| h.next_header),
            "packet.ipv6Header.nextHeader",
        )
    } else {
        (
            packet.ip_header.as_ref().and_then(|h| h.protocol),
            "packet.ipHeader.protocol",
        )
    };
    let protocol = match (declared, implied) {
        (Some(d), Some(i)) if d != i => {
            return Err(TraceflowError::invalid(
                protocol_target,
                format!("protocol {d} contradicts the transport header (protocol {i})"),
            ));
        }
        (Some(d), _) => d,
        (None, Some(i)) => i,
        (None, None) => icmp,
    };
    if ![TCP, UDP, icmp].contains(&protocol) {
        return Err(TraceflowError::invalid(
            protocol_target,
            format!(
                "protocol {protocol} cannot be traced: Antrea traces ICMP, TCP and UDP packets"
            ),
        ));
    }
    let transport_header = match protocol {
        TCP => {
            let tcp = transport.tcp_header.unwrap_or_default();
            let flags = tcp.tcp_flags.unwrap_or(TCP_SYN);
            if flags & TCP_SYN == 0 {
                return Err(TraceflowError::invalid(
                    "packet.transportHeader.tcpHeader.tcpFlags",
                    format!("TCP flags {flags} lack SYN (2): Antrea traces connection attempts"),
                ));
            }
            TransportHeader {
                tcp: Some(TCPHeader {
                    src_port: port(tcp.src_port, "packet.transportHeader.tcpHeader.srcPort")?,
                    dst_port: port(tcp.dst_port, "packet.transportHeader.tcpHeader.dstPort")?,
                    flags: in_range(
                        Some(flags),
                        0..=255,
                        "packet.transportHeader.tcpHeader.tcpFlags",
                    )?,
                }),
                ..Default::default()
            }
        }
        UDP => {
            let udp = transport.udp_header.unwrap_or_default();
            TransportHeader {
                udp: Some(UDPHeader {
                    src_port: port(udp.src_port, "packet.transportHeader.udpHeader.srcPort")?,
                    dst_port: port(udp.dst_port, "packet.transportHeader.udpHeader.dstPort")?,
                }),
                ..Default::default()
            }
        }
        _ => {
            let echo = transport.icmp_echo_request_header.unwrap_or_default();
            TransportHeader {
                icmp: Some(ICMPEchoRequestHeader {
                    id: in_range(
                        echo.id,
                        0..=65535,
                        "packet.transportHeader.icmpEchoRequestHeader.id",
                    )?,
                    sequence: in_range(
                        echo.sequence,
                        0..=65535,
                        "packet.transportHeader.icmpEchoRequestHeader.sequence",
                    )?,
                }),
                ..Default::default()
            }
        }
    };
    let mut antrea_packet = Packet {
        transport_header: Some(transport_header),
        ..Default::default()
    };
    let destination_ip = if let Some(v6) = &packet.ipv6_header {
        antrea_packet.ipv6_header = Some(IPv6Header {
            next_header: Some(protocol as i32),
            hop_limit: in_range(v6.hop_limit, 0..=255, "packet.ipv6Header.hopLimit")?,
        });
        v6.dst_ip.clone()
    } else {
        let v4 = packet.ip_header.clone().unwrap_or_default();
        antrea_packet.ip_header = Some(IPHeader {
            protocol: Some(protocol as i32),
            ttl: Some(in_range(v4.ttl, 0..=255, "packet.ipHeader.ttl")?.unwrap_or(64)),
            flags: in_range(v4.flags, 0..=7, "packet.ipHeader.flags")?,
        });
        v4.dst_ip
    };
    let destination = if !destination_ip.is_empty() {
        let ip: std::net::IpAddr = destination_ip.parse().map_err(|_| {
            TraceflowError::invalid(
                "packet.ipHeader.dstIp",
                format!("{destination_ip} is not an IP address"),
            )
        })?;
        if ip.is_ipv6() != ipv6 {
            return Err(TraceflowError::invalid(
                "packet.ipHeader.dstIp",
                format!("{destination_ip} does not match the packet's IP version"),
            ));
        }
        TraceflowDestination {
            ip: Some(ip.to_string()),
            ..Default::default()
        }
    } else if config.destination_external_id.is_empty() {
        return Err(TraceflowError::invalid(
            "destination_external_id",
            "a destination Pod, Service or IP is required",
        ));
    } else if let Some(pod) = lookup.pod(&config.destination_external_id) {
        TraceflowDestination {
            namespace: Some(pod.namespace),
            pod: Some(pod.name),
            ..Default::default()
        }
    } else if let Some(service) = lookup.service(&config.destination_external_id) {
        TraceflowDestination {
            namespace: Some(service.namespace),
            service: Some(service.name),
            ..Default::default()
        }
    } else {
        return Err(TraceflowError::not_found(
            "destination_external_id",
            format!(
                "no Pod or Service with UID {}",
                config.destination_external_id
            ),
        ));
    };
    let timeout = match trace_timeout {
        None => None,
        Some(t) if (1..=300).contains(&t.as_secs()) => Some(t.as_secs() as i32),
        Some(t) => {
            return Err(TraceflowError::invalid(
                "trace_timeout",
                format!("trace timeout {} s is outside 1-300 s", t.as_secs()),
            ));
        }
    };
    let spec = TraceflowSpec {
        source: Some(TraceflowSource {
            namespace: Some(source_pod.namespace),
            pod: Some(source_pod.name),
            ip: None,
        }),
        destination: Some(destination),
        packet: Some(antrea_packet),
        live_traffic: None,
        dropped_only: None,
        timeout,
    };
    let mut traceflow = Traceflow::new(&traceflow_name(traceflow_id, run), spec);
    traceflow.metadata.labels = Some(
        [
            (TRACEFLOW_ID_LABEL.to_owned(), id_hash(traceflow_id)),
            (TRACEFLOW_RUN_LABEL.to_owned(), run.to_string()),
        ]
        .into(),
    );
    Ok(traceflow)
}

/// NSX `AntreaTraceflowStatus`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NsxTraceflowStatus {
    /// `SUCCEEDED`, `FAILED`, or empty while running.
    pub phase: String,
    pub reason: String,
}

/// Antrea's words about an observation (the protocol's `AntreaObservationDetails`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservationDetails {
    pub component: String,
    pub component_info: String,
    pub action: String,
    pub network_policy: String,
    pub network_policy_rule: String,
    pub pod: String,
    pub translated_src_ip: String,
    pub translated_dst_ip: String,
    pub tunnel_dst_ip: String,
    pub egress_ip: String,
    pub egress_node: String,
}

/// NSX `AntreaTraceflowObservation`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NsxObservation {
    pub component_type: &'static str,
    pub observation_type: &'static str,
    /// UID of the Node (its name if the Node is unknown).
    pub container_node_id: String,
    /// ms since the epoch.
    pub timestamp: i64,
    pub antrea: ObservationDetails,
}

/// Where a Traceflow stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceflowProgress {
    /// No phase yet: waiting for one of the 14 data-plane tags.
    Queued,
    Running,
    /// Succeeded or Failed.
    Completed,
}

/// The progress of a Traceflow from its status.
pub fn progress(status: Option<&TraceflowStatus>) -> TraceflowProgress {
    match status.and_then(|s| s.phase.as_ref()) {
        None => TraceflowProgress::Queued,
        Some(TraceflowPhase::Succeeded | TraceflowPhase::Failed) => TraceflowProgress::Completed,
        Some(_) => TraceflowProgress::Running,
    }
}

/// NSX's component type of an Antrea component.
pub fn component_type(component: Option<&TraceflowComponent>) -> &'static str {
    match component {
        Some(TraceflowComponent::SpoofGuard) => "ANTREA_SPOOFGUARD",
        Some(TraceflowComponent::LB) => "ANTREA_LB",
        Some(TraceflowComponent::Routing) => "ANTREA_ROUTING",
        Some(TraceflowComponent::NetworkPolicy) => "ANTREA_DFW",
        Some(TraceflowComponent::Forwarding) => "ANTREA_FORWARDING",
        _ => "UNKNOWN",
    }
}

/// NSX's observation type of an Antrea action (an unknown action is reported as forwarded:
/// the packet went on).
pub fn observation_type(action: Option<&TraceflowAction>) -> &'static str {
    match action {
        Some(TraceflowAction::Delivered) => "AntreaTraceflowObservationDelivered",
        Some(TraceflowAction::Received) => "AntreaTraceflowObservationReceived",
        Some(TraceflowAction::Dropped | TraceflowAction::Rejected) => {
            "AntreaTraceflowObservationDropped"
        }
        _ => "AntreaTraceflowObservationForwarded",
    }
}

fn text<T: Serialize>(value: Option<&T>) -> String {
    value
        .and_then(|v| serde_json::to_value(v).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn role_rank(result: &NodeResult) -> u8 {
    match result.role.as_deref() {
        Some("Sender") => 0,
        Some("Receiver") => 2,
        _ => 1,
    }
}

/// NSX's status and observations from an Antrea Traceflow status: sender's observations
/// first, then the receiver's, each in Antrea's order.
pub fn nsx_result(
    status: Option<&TraceflowStatus>,
    lookup: &impl WorkloadLookup,
) -> (NsxTraceflowStatus, Vec<NsxObservation>) {
    let Some(status) = status else {
        return (NsxTraceflowStatus::default(), Vec::new());
    };
    let phase = match status.phase.as_ref() {
        Some(TraceflowPhase::Succeeded) => "SUCCEEDED",
        Some(TraceflowPhase::Failed) => "FAILED",
        _ => "",
    };
    let nsx_status = NsxTraceflowStatus {
        phase: phase.to_owned(),
        reason: status.reason.clone().unwrap_or_default(),
    };
    let mut results: Vec<&NodeResult> = status.results.iter().flatten().collect();
    results.sort_by_key(|r| role_rank(r));
    let mut observations = Vec::new();
    for result in results {
        let node = result.node.clone().unwrap_or_default();
        let node_id = lookup.node_uid(&node).unwrap_or(node);
        let timestamp = result.timestamp.unwrap_or(0).saturating_mul(1000);
        for o in result.observations.iter().flatten() {
            observations.push(NsxObservation {
                component_type: component_type(o.component.as_ref()),
                observation_type: observation_type(o.action.as_ref()),
                container_node_id: node_id.clone(),
                timestamp,
                antrea: ObservationDetails {
                    component: text(o.component.as_ref()),
                    component_info: o.component_info.clone().unwrap_or_default(),
                    action: text(o.action.as_ref()),
                    network_policy: o.network_policy.clone().unwrap_or_default(),
                    network_policy_rule: o.network_policy_rule.clone().unwrap_or_default(),
                    pod: o.pod.clone().unwrap_or_default(),
                    translated_src_ip: o.translated_src_ip.clone().unwrap_or_default(),
                    translated_dst_ip: o.translated_dst_ip.clone().unwrap_or_default(),
                    tunnel_dst_ip: o.tunnel_dst_ip.clone().unwrap_or_default(),
                    egress_ip: o.egress_ip.clone().unwrap_or_default(),
                    egress_node: o.egress_node.clone().unwrap_or_default(),
                },
            });
        }
    }
    (nsx_status, observations)
}

#[cfg(test)]
mod tests;
