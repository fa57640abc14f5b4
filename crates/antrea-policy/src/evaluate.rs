//! Packet evaluation through every policy, as Antrea's OVS pipeline decides it.
//!
//! A flow is resolved first (source Pod; destination Pod, Service or IP; a Service is
//! load-balanced to one Endpoint picked by a hash of the flow), then judged in each direction:
//! egress policies of the source Pod, then ingress policies of the destination Pod. In one
//! direction:
//!
//! 1. Antrea-native policies outside the baseline tier, by tier priority, then policy priority,
//!    then rule index *across* policies of equal priority, then (a documented tie-break; Antrea
//!    leaves this order undefined) policy kind, Namespace and name. The first matching rule
//!    decides: `Allow`, `Drop` and `Reject` are final; `Pass` skips every remaining
//!    Antrea-native rule outside the baseline tier.
//! 2. K8s NetworkPolicies: a Pod selected by any of them in this direction is isolated; the
//!    first allowing rule (by Namespace, name and rule index) allows, otherwise the packet is
//!    dropped by the isolation default rule, which the baseline tier cannot override.
//! 3. The baseline tier, in the order of step 1; if nothing matches, the packet is allowed.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use antrea_types::RuleAction;
use serde::Serialize;

use crate::compile::{
    AppliedToEntry, CompiledK8sPolicy, CompiledPolicy, CompiledRule, K8sPeerEntry, PeerEntry,
    Peers, PortMatch, ServiceMatch,
};
use crate::error::EvaluationError;
use crate::groups::LabelSet;
use crate::index::{
    ClusterIndex, L4Protocol, OrderedPriority, PodRecord, ServicePortRecord, ServiceRecord,
};
use crate::net::first_of_family;
use crate::policy_ref::{Direction, PolicyKind, RuleRef};

/// The tier priority that is evaluated after K8s NetworkPolicies.
const BASELINE_TIER_PRIORITY: i32 = antrea_types::tier::BASELINE_TIER_PRIORITY;

/// A Pod by Namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct PodName {
    pub namespace: String,
    pub name: String,
}

impl PodName {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        PodName {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

/// Where a packet goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Destination {
    Pod(PodName),
    /// A Service by Namespace and name: its ClusterIP, load-balanced to one Endpoint.
    Service {
        namespace: String,
        name: String,
    },
    /// An address: a Pod's, a Service ClusterIP, or anything else (outside the cluster).
    Ip(IpAddr),
}

/// The IP protocol of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
    /// ICMP, or ICMPv6 for an IPv6 packet.
    Icmp,
    /// Any other IP protocol number: only rules without ports or protocols match it.
    Other(u8),
}

impl Protocol {
    /// From an IP protocol number (1 and 58 are both ICMP).
    pub fn from_number(number: u8) -> Self {
        match number {
            1 | 58 => Protocol::Icmp,
            6 => Protocol::Tcp,
            17 => Protocol::Udp,
            132 => Protocol::Sctp,
            other => Protocol::Other(other),
        }
    }

    fn l4(self) -> Option<L4Protocol> {
        match self {
            Protocol::Tcp => Some(L4Protocol::Tcp),
            Protocol::Udp => Some(L4Protocol::Udp),
            Protocol::Sctp => Some(L4Protocol::Sctp),
            Protocol::Icmp | Protocol::Other(_) => None,
        }
    }
}

/// A packet (or the first packet of a flow) to evaluate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PacketSpec {
    pub source: PodName,
    pub destination: Destination,
    pub protocol: Protocol,
    pub source_port: Option<u16>,
    pub destination_port: Option<u16>,
    pub icmp_type: Option<u8>,
    pub icmp_code: Option<u8>,
    /// Use the IPv6 addresses of the Pods and Services involved.
    pub ipv6: bool,
}

impl PacketSpec {
    /// A TCP packet to a destination port (source port 10000).
    pub fn tcp(source: PodName, destination: Destination, destination_port: u16) -> Self {
        Self::l4(Protocol::Tcp, source, destination, destination_port)
    }

    /// A UDP packet to a destination port (source port 10000).
    pub fn udp(source: PodName, destination: Destination, destination_port: u16) -> Self {
        Self::l4(Protocol::Udp, source, destination, destination_port)
    }

    /// A packet of a port-based protocol (source port 10000).
    pub fn l4(
        protocol: Protocol,
        source: PodName,
        destination: Destination,
        destination_port: u16,
    ) -> Self {
        PacketSpec {
            source,
            destination,
            protocol,
            source_port: Some(10000),
            destination_port: Some(destination_port),
            icmp_type: None,
            icmp_code: None,
            ipv6: false,
        }
    }

    /// An ICMP echo request (type 8, code 0).
    pub fn icmp_echo(source: PodName, destination: Destination) -> Self {
        PacketSpec {
            source,
            destination,
            protocol: Protocol::Icmp,
            source_port: None,
            destination_port: None,
            icmp_type: Some(8),
            icmp_code: Some(0),
            ipv6: false,
        }
    }
}

/// The final outcome in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Outcome {
    Allowed,
    Dropped,
    Rejected,
}

/// What decided a direction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum DecidedBy {
    /// A rule (Antrea-native Allow/Drop/Reject, a K8s NetworkPolicy rule, or a baseline rule).
    Rule(RuleRef),
    /// The Pod is isolated by K8s NetworkPolicies and none allowed the packet.
    K8sIsolation,
    /// No rule matched and the Pod is not isolated: allowed by default.
    Default,
}

/// The decision in one direction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DirectionDecision {
    pub direction: Direction,
    pub outcome: Outcome,
    pub decided_by: DecidedBy,
    /// `Pass` rules traversed on the way (at most one: a Pass leaves the Antrea-native tiers).
    pub passed: Vec<RuleRef>,
}

impl DirectionDecision {
    /// The deciding rule, if a rule decided.
    pub fn rule(&self) -> Option<&RuleRef> {
        match &self.decided_by {
            DecidedBy::Rule(rule) => Some(rule),
            _ => None,
        }
    }
}

/// The rules a flow hits in each direction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowMatch {
    pub egress: DirectionDecision,
    /// `None` when the packet never reaches an ingress check: dropped at egress, or sent to an
    /// address that is not a Pod of the cluster.
    pub ingress: Option<DirectionDecision>,
}

impl FlowMatch {
    /// The rules whose statistics the flow counts towards: the deciding rule of each direction
    /// (Pass rules have no metric flows in Antrea and count nothing).
    pub fn counted_rules(&self) -> Vec<&RuleRef> {
        self.egress
            .rule()
            .into_iter()
            .chain(self.ingress.as_ref().and_then(DirectionDecision::rule))
            .collect()
    }

    /// Whether the flow is allowed end to end.
    pub fn allowed(&self) -> bool {
        self.egress.outcome == Outcome::Allowed
            && self
                .ingress
                .as_ref()
                .is_none_or(|ingress| ingress.outcome == Outcome::Allowed)
    }
}

/// The Service a packet was sent to, and the Endpoint it was translated to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadBalancing {
    pub service_namespace: String,
    pub service_name: String,
    pub cluster_ip: IpAddr,
    pub endpoint_ip: IpAddr,
    /// The Pod behind the Endpoint, when it is one.
    pub endpoint_pod: Option<PodName>,
    /// Destination port after translation.
    pub target_port: Option<u16>,
}

/// An Antrea-native policy with the rules of one direction whose appliedTo selects a label
/// item.
#[derive(Debug)]
pub(crate) struct AppliedPolicy {
    pub policy: Arc<CompiledPolicy>,
    pub tier_priority: i32,
    /// Indices of the rules that apply, ascending.
    pub rules: Vec<usize>,
    /// An ANNP with a Group appliedTo: its realizability depends on the Group's current
    /// members, so it is checked when evaluating.
    pub check_sync: bool,
}

/// The Antrea-native rules that apply to the Pods of one label item, per direction, in
/// evaluation order.
#[derive(Debug, Default)]
pub(crate) struct AppliedRules {
    pub ingress: Vec<AppliedPolicy>,
    pub egress: Vec<AppliedPolicy>,
}

/// A flow with every name resolved.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedFlow<'a> {
    pub source: &'a PodRecord,
    pub source_node: &'a str,
    pub source_ip: IpAddr,
    /// The Service and port the packet was addressed to.
    pub service: Option<(&'a ServiceRecord, Option<&'a ServicePortRecord>)>,
    pub load_balancing: Option<LoadBalancing>,
    /// The destination Pod after translation, if the destination address is one.
    pub destination: Option<&'a PodRecord>,
    pub destination_ip: IpAddr,
    pub destination_port: Option<u16>,
    pub source_port: Option<u16>,
    pub protocol: Protocol,
    pub icmp_type: Option<u8>,
    pub icmp_code: Option<u8>,
    pub ipv6: bool,
}

/// 64-bit FNV-1a: a stable hash for picking Endpoints deterministically.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in *part {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

fn address_bytes(address: IpAddr) -> Vec<u8> {
    match address {
        IpAddr::V4(address) => address.octets().to_vec(),
        IpAddr::V6(address) => address.octets().to_vec(),
    }
}

fn protocol_number(protocol: Protocol, ipv6: bool) -> u8 {
    match protocol {
        Protocol::Tcp => 6,
        Protocol::Udp => 17,
        Protocol::Sctp => 132,
        Protocol::Icmp if ipv6 => 58,
        Protocol::Icmp => 1,
        Protocol::Other(number) => number,
    }
}

/// A candidate backend.
struct Backend<'a> {
    ip: IpAddr,
    pod: Option<(String, String)>,
    pod_record: Option<&'a PodRecord>,
    target_port: Option<u16>,
}

fn to_port(port: i32) -> Option<u16> {
    u16::try_from(port).ok().filter(|port| *port != 0)
}

impl ClusterIndex {
    /// Backends of a Service port: EndpointSlices if any exist for the Service, else its
    /// Endpoints, else Pods matching its selector (running, ready, with an address).
    fn backends<'a>(
        &'a self,
        service: &'a ServiceRecord,
        port: &ServicePortRecord,
        ipv6: bool,
    ) -> Vec<Backend<'a>> {
        let key = (service.namespace.clone(), service.name.clone());
        let from_entries = |entries: &mut dyn Iterator<Item = &'a crate::index::EndpointEntry>| {
            entries
                .filter(|entry| entry.ip.is_ipv6() == ipv6)
                .filter_map(|entry| {
                    let target = entry
                        .ports
                        .iter()
                        .find(|(name, _, protocol)| {
                            *name == port.name && *protocol == port.protocol
                        })
                        .or_else(|| {
                            (entry.ports.len() == 1 && port.name.is_none())
                                .then(|| &entry.ports[0])
                                .filter(|(_, _, protocol)| *protocol == port.protocol)
                        })?;
                    Some(Backend {
                        ip: entry.ip,
                        pod: entry.pod.clone(),
                        pod_record: self.pod_with_ip(entry.ip),
                        target_port: to_port(target.1),
                    })
                })
                .collect::<Vec<_>>()
        };
        if let Some(slices) = self.slices_by_service.get(&key) {
            let mut entries = slices
                .iter()
                .filter_map(|slice| self.slice_entries(&service.namespace, slice))
                .flatten();
            return from_entries(&mut entries);
        }
        if let Some(entries) = self.endpoints.get(&key) {
            return from_entries(&mut entries.iter());
        }
        let Some(selector) = self.service_reference_selector(&service.namespace, &service.name)
        else {
            return Vec::new();
        };
        self.matching_label_items(selector)
            .into_iter()
            .flat_map(|item| self.pods_of_label_item(item))
            .filter(|pod| pod.serving && pod.address_eligible())
            .filter_map(|pod| {
                let ip = first_of_family(&pod.ips, ipv6)?;
                let target_port = match &port.target_port {
                    None => Some(port.port),
                    Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(0)) => {
                        Some(port.port)
                    }
                    Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(
                        number,
                    )) => Some(*number),
                    Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(
                        name,
                    )) => pod.named_port(name, port.protocol),
                }?;
                Some(Backend {
                    ip,
                    pod: Some((pod.namespace.clone(), pod.name.clone())),
                    pod_record: Some(pod),
                    target_port: to_port(target_port),
                })
            })
            .collect()
    }

    /// Resolves names and picks the Endpoint of a Service destination.
    pub(crate) fn resolve<'a>(
        &'a self,
        packet: &PacketSpec,
    ) -> Result<ResolvedFlow<'a>, EvaluationError> {
        let source = self
            .pod(&packet.source.namespace, &packet.source.name)
            .ok_or_else(|| EvaluationError::SourcePodNotFound {
                namespace: packet.source.namespace.clone(),
                name: packet.source.name.clone(),
            })?;
        if source.host_network {
            return Err(EvaluationError::SourcePodHostNetwork {
                namespace: source.namespace.clone(),
                name: source.name.clone(),
            });
        }
        let source_node =
            source
                .node
                .as_deref()
                .ok_or_else(|| EvaluationError::SourcePodNotScheduled {
                    namespace: source.namespace.clone(),
                    name: source.name.clone(),
                })?;
        let source_ip = first_of_family(&source.ips, packet.ipv6).ok_or_else(|| {
            EvaluationError::SourcePodWithoutAddress {
                namespace: source.namespace.clone(),
                name: source.name.clone(),
                ipv6: packet.ipv6,
            }
        })?;
        let mut flow = ResolvedFlow {
            source,
            source_node,
            source_ip,
            service: None,
            load_balancing: None,
            destination: None,
            destination_ip: source_ip,
            destination_port: packet.destination_port,
            source_port: packet.source_port,
            protocol: packet.protocol,
            icmp_type: packet.icmp_type,
            icmp_code: packet.icmp_code,
            ipv6: packet.ipv6,
        };
        let service =
            match &packet.destination {
                Destination::Pod(name) => {
                    let pod = self.pod(&name.namespace, &name.name).ok_or_else(|| {
                        EvaluationError::DestinationPodNotFound {
                            namespace: name.namespace.clone(),
                            name: name.name.clone(),
                        }
                    })?;
                    let ip = first_of_family(&pod.ips, packet.ipv6).ok_or_else(|| {
                        EvaluationError::DestinationPodWithoutAddress {
                            namespace: pod.namespace.clone(),
                            name: pod.name.clone(),
                            ipv6: packet.ipv6,
                        }
                    })?;
                    flow.destination_ip = ip;
                    flow.destination = self.pod_with_ip(ip);
                    return Ok(flow);
                }
                Destination::Service { namespace, name } => {
                    let service = self.service(namespace, name).ok_or_else(|| {
                        EvaluationError::ServiceNotFound {
                            namespace: namespace.clone(),
                            name: name.clone(),
                        }
                    })?;
                    let cluster_ip = first_of_family(&service.cluster_ips, packet.ipv6)
                        .ok_or_else(|| EvaluationError::ServiceWithoutClusterIp {
                            namespace: namespace.clone(),
                            name: name.clone(),
                            ipv6: packet.ipv6,
                        })?;
                    (service, cluster_ip)
                }
                Destination::Ip(ip) => {
                    if let Some(service) = self
                        .service_by_ip
                        .get(ip)
                        .and_then(|(namespace, name)| self.service(namespace, name))
                    {
                        (service, *ip)
                    } else {
                        flow.destination_ip = *ip;
                        flow.destination = self.pod_with_ip(*ip);
                        return Ok(flow);
                    }
                }
            };
        let (service, cluster_ip) = service;
        flow.destination_ip = cluster_ip;
        let port = packet.protocol.l4().and_then(|protocol| {
            service.ports.iter().find(|port| {
                port.protocol == protocol
                    && Some(port.port) == packet.destination_port.map(i32::from)
            })
        });
        flow.service = Some((service, port));
        let Some(port) = port else {
            // No Service port for this packet: AntreaProxy does not translate it.
            return Ok(flow);
        };
        let mut backends = self.backends(service, port, packet.ipv6);
        if backends.is_empty() {
            return Err(EvaluationError::ServiceWithoutEndpoints {
                namespace: service.namespace.clone(),
                name: service.name.clone(),
            });
        }
        backends.sort_by_key(|backend| backend.ip);
        backends.dedup_by_key(|backend| backend.ip);
        let hash = fnv1a(&[
            &address_bytes(source_ip),
            &packet.source_port.unwrap_or(0).to_be_bytes(),
            &address_bytes(cluster_ip),
            &packet.destination_port.unwrap_or(0).to_be_bytes(),
            &[protocol_number(packet.protocol, packet.ipv6)],
        ]);
        let chosen = &backends[(hash % backends.len() as u64) as usize];
        flow.destination_ip = chosen.ip;
        flow.destination = chosen.pod_record.filter(|pod| pod.address_eligible());
        flow.destination_port = chosen.target_port.or(packet.destination_port);
        flow.load_balancing = Some(LoadBalancing {
            service_namespace: service.namespace.clone(),
            service_name: service.name.clone(),
            cluster_ip,
            endpoint_ip: chosen.ip,
            endpoint_pod: chosen
                .pod_record
                .map(|pod| PodName::new(pod.namespace.clone(), pod.name.clone()))
                .or_else(|| {
                    chosen
                        .pod
                        .clone()
                        .map(|(namespace, name)| PodName::new(namespace, name))
                }),
            target_port: flow.destination_port,
        });
        Ok(flow)
    }

    /// Whether an appliedTo entry selects Pods with this Namespace and labels.
    fn applied_to_selects(&self, entry: &AppliedToEntry, pods: &LabelSet<'_>) -> bool {
        match entry {
            AppliedToEntry::Selector(selector) => {
                !selector.is_node_selector()
                    && selector.matches_pod(pods.namespace, pods.labels, pods.namespace_labels)
            }
            AppliedToEntry::Group(key) => self.group(key).is_some_and(|group| {
                !group.is_ip_blocks_only() && self.group_selects_labels(group, pods)
            }),
            AppliedToEntry::Service => false,
        }
    }

    /// The Antrea-native rules whose appliedTo selects Pods with this Namespace and labels, in
    /// evaluation order.
    fn compute_applied_rules(
        &self,
        namespace: &str,
        labels: &BTreeMap<String, String>,
    ) -> AppliedRules {
        let pods = LabelSet {
            namespace,
            labels,
            namespace_labels: self.namespaces.get(namespace),
        };
        let mut applied = AppliedRules::default();
        for (key, policy) in &self.policies {
            let check_sync = policy.id.kind == PolicyKind::AntreaNetworkPolicy
                && policy
                    .all_applied_to()
                    .any(|entry| matches!(entry, AppliedToEntry::Group(_)));
            let mut policy_level: Option<bool> = None;
            for direction in [Direction::Ingress, Direction::Egress] {
                let mut rules = Vec::new();
                for rule in policy.rules(direction) {
                    let selects = if rule.applied_to.is_empty() {
                        *policy_level.get_or_insert_with(|| {
                            policy
                                .applied_to
                                .iter()
                                .any(|entry| self.applied_to_selects(entry, &pods))
                        })
                    } else {
                        rule.applied_to
                            .iter()
                            .any(|entry| self.applied_to_selects(entry, &pods))
                    };
                    if selects {
                        rules.push(rule.index);
                    }
                }
                if !rules.is_empty() {
                    let entry = AppliedPolicy {
                        policy: Arc::clone(policy),
                        tier_priority: key.tier_priority,
                        rules,
                        check_sync,
                    };
                    match direction {
                        Direction::Ingress => applied.ingress.push(entry),
                        Direction::Egress => applied.egress.push(entry),
                    }
                }
            }
        }
        applied
    }

    fn lock_applied_rules(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<usize, Arc<AppliedRules>>> {
        self.applied_rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The (cached) Antrea-native rules applying to a Pod; none when the Pod cannot be an
    /// appliedTo member (unscheduled, host-network or terminated).
    pub(crate) fn applied_rules_for(&self, pod: &PodRecord) -> Arc<AppliedRules> {
        if !pod.applied_to_eligible() {
            return Arc::new(AppliedRules::default());
        }
        if let Some(hit) = self.lock_applied_rules().get(&pod.label_item) {
            return Arc::clone(hit);
        }
        let computed = Arc::new(self.compute_applied_rules(&pod.namespace, &pod.labels));
        self.lock_applied_rules()
            .insert(pod.label_item, Arc::clone(&computed));
        computed
    }

    fn peers_match(
        &self,
        peers: &Peers,
        subject: &PodRecord,
        peer_ip: IpAddr,
        peer_pod: Option<&PodRecord>,
    ) -> bool {
        if peers.any {
            return true;
        }
        let cluster = peers.cluster.iter().any(|entry| match entry {
            PeerEntry::IpBlock(block) => block.contains(peer_ip),
            PeerEntry::Selector(selector) if selector.is_node_selector() => self
                .node_by_ip
                .get(&peer_ip)
                .and_then(|node| self.nodes.get(node))
                .is_some_and(|node| selector.matches_node(&node.labels)),
            PeerEntry::Selector(selector) => peer_pod.is_some_and(|pod| {
                pod.address_eligible() && self.selector_matches_pod(selector, pod)
            }),
            PeerEntry::Group(key) => self
                .group(key)
                .is_some_and(|group| self.group_contains_address(group, peer_ip, peer_pod)),
            PeerEntry::Fqdn | PeerEntry::Nothing => false,
        });
        if cluster {
            return true;
        }
        let Some(pod) = peer_pod.filter(|pod| pod.address_eligible()) else {
            return false;
        };
        peers.namespaced.iter().any(|peer| {
            if peer.external_entities {
                return false;
            }
            let namespace_ok = match &peer.same_labels {
                None => pod.namespace == subject.namespace,
                Some(keys) => {
                    let (Some(own), Some(other)) = (
                        self.namespaces.get(&subject.namespace),
                        self.namespaces.get(&pod.namespace),
                    ) else {
                        return false;
                    };
                    keys.iter().all(|key| {
                        own.get(key)
                            .is_some_and(|value| other.get(key) == Some(value))
                    })
                }
            };
            namespace_ok
                && peer
                    .pod_selector
                    .as_ref()
                    .is_none_or(|selector| selector.matches(&pod.labels))
        })
    }

    fn services_match(&self, services: &[ServiceMatch], flow: &ResolvedFlow<'_>) -> bool {
        if services.is_empty() {
            return true;
        }
        services.iter().any(|service| match service {
            ServiceMatch::L4 {
                protocol,
                port,
                end_port,
                source_port,
                source_end_port,
            } => {
                if flow.protocol.l4() != Some(*protocol) {
                    return false;
                }
                let destination_ok = match port {
                    None => true,
                    Some(PortMatch::Number(start)) => flow.destination_port.is_some_and(|port| {
                        let port = i32::from(port);
                        match end_port {
                            Some(end) => *start <= port && port <= *end,
                            None => port == *start,
                        }
                    }),
                    Some(PortMatch::Named(name)) => flow.destination.is_some_and(|pod| {
                        pod.named_port(name, *protocol).is_some_and(|number| {
                            Some(number) == flow.destination_port.map(i32::from)
                        })
                    }),
                };
                let source_ok = match source_port {
                    None => true,
                    Some(start) => flow.source_port.is_some_and(|port| {
                        let port = i32::from(port);
                        *start <= port && port <= source_end_port.unwrap_or(*start)
                    }),
                };
                destination_ok && source_ok
            }
            ServiceMatch::Icmp {
                icmp_type,
                icmp_code,
            } => {
                flow.protocol == Protocol::Icmp
                    && match icmp_type {
                        None => true,
                        Some(wanted) => {
                            flow.icmp_type.map(i32::from) == Some(*wanted)
                                && icmp_code
                                    .is_none_or(|code| flow.icmp_code.map(i32::from) == Some(code))
                        }
                    }
            }
            ServiceMatch::Igmp | ServiceMatch::Unsupported => false,
        })
    }

    /// Whether a rule's peers, Services and ports match the packet, seen from `subject`.
    fn rule_matches(
        &self,
        rule: &CompiledRule,
        subject: &PodRecord,
        peer_ip: IpAddr,
        peer_pod: Option<&PodRecord>,
        flow: &ResolvedFlow<'_>,
    ) -> bool {
        let peers_ok = match &rule.to_services {
            Some(services) => flow.service.is_some_and(|(service, _)| {
                services.iter().any(|(namespace, name)| {
                    *namespace == service.namespace && *name == service.name
                })
            }),
            None => self.peers_match(&rule.peers, subject, peer_ip, peer_pod),
        };
        peers_ok && self.services_match(&rule.services, flow)
    }

    fn rule_ref(
        policy: &CompiledPolicy,
        rule: &CompiledRule,
        direction: Direction,
        tier_priority: i32,
    ) -> RuleRef {
        RuleRef {
            policy: policy.id.clone(),
            direction,
            rule_index: rule.index,
            rule_name: rule.name.clone(),
            action: rule.action,
            tier_priority: Some(tier_priority),
            policy_priority: Some(policy.priority),
        }
    }

    /// The first matching Antrea-native rule, in or outside the baseline tier.
    fn first_antrea_rule(
        &self,
        direction: Direction,
        subject: &PodRecord,
        peer_ip: IpAddr,
        peer_pod: Option<&PodRecord>,
        flow: &ResolvedFlow<'_>,
        baseline: bool,
    ) -> Option<RuleRef> {
        let applied = self.applied_rules_for(subject);
        let entries = match direction {
            Direction::Ingress => &applied.ingress,
            Direction::Egress => &applied.egress,
        };
        let usable = |entry: &AppliedPolicy| {
            (entry.tier_priority == BASELINE_TIER_PRIORITY) == baseline
                && !(entry.check_sync && self.annp_sync_error(&entry.policy).is_some())
        };
        let try_rule = |entry: &AppliedPolicy, index: usize| {
            let rule = &entry.policy.rules(direction)[index];
            self.rule_matches(rule, subject, peer_ip, peer_pod, flow)
                .then(|| Self::rule_ref(&entry.policy, rule, direction, entry.tier_priority))
        };
        // Policies of equal (tier, priority) are interleaved by rule index.
        let mut candidates: Vec<(usize, usize)> = Vec::new();
        let mut start = 0;
        while start < entries.len() {
            let first = &entries[start];
            let mut end = start + 1;
            while end < entries.len()
                && entries[end].tier_priority == first.tier_priority
                && OrderedPriority(entries[end].policy.priority)
                    == OrderedPriority(first.policy.priority)
            {
                end += 1;
            }
            let group = &entries[start..end];
            start = end;
            if group.len() == 1 {
                if usable(first)
                    && let Some(found) =
                        first.rules.iter().find_map(|index| try_rule(first, *index))
                {
                    return Some(found);
                }
                continue;
            }
            candidates.clear();
            for (position, entry) in group.iter().enumerate() {
                if usable(entry) {
                    candidates.extend(entry.rules.iter().map(|index| (*index, position)));
                }
            }
            candidates.sort_unstable();
            if let Some(found) = candidates
                .iter()
                .find_map(|(index, position)| try_rule(&group[*position], *index))
            {
                return Some(found);
            }
        }
        None
    }

    fn k8s_peers_match(
        &self,
        peers: Option<&Vec<K8sPeerEntry>>,
        peer_ip: IpAddr,
        peer_pod: Option<&PodRecord>,
    ) -> bool {
        let Some(peers) = peers else {
            return true;
        };
        peers.iter().any(|peer| match peer {
            K8sPeerEntry::IpBlock(block) => block.contains(peer_ip),
            K8sPeerEntry::Selector(selector) => peer_pod.is_some_and(|pod| {
                pod.address_eligible() && self.selector_matches_pod(selector, pod)
            }),
        })
    }

    /// K8s NetworkPolicies: `None` when the subject is not isolated in this direction;
    /// otherwise the allowing rule, if any.
    fn k8s_decision(
        &self,
        direction: Direction,
        subject: &PodRecord,
        peer_ip: IpAddr,
        peer_pod: Option<&PodRecord>,
        flow: &ResolvedFlow<'_>,
    ) -> Option<Option<RuleRef>> {
        if !subject.applied_to_eligible() {
            return None;
        }
        let policies = self.k8s_policies.get(&subject.namespace)?;
        let mut isolated = false;
        for policy in policies.values() {
            let rules = match direction {
                Direction::Ingress => policy.ingress.as_ref(),
                Direction::Egress => policy.egress.as_ref(),
            };
            let Some(rules) = rules else {
                continue;
            };
            if !self.selector_matches_pod(&policy.pod_selector, subject) {
                continue;
            }
            isolated = true;
            if let Some(rule) = rules.iter().find(|rule| {
                self.k8s_peers_match(rule.peers.as_ref(), peer_ip, peer_pod)
                    && self.services_match(&rule.services, flow)
            }) {
                return Some(Some(k8s_rule_ref(policy, rule.index, direction)));
            }
        }
        isolated.then_some(None)
    }

    /// The decision in one direction for `subject` (the source Pod for egress, the
    /// destination Pod for ingress), the other end being `peer_ip`/`peer_pod`.
    pub(crate) fn decide(
        &self,
        direction: Direction,
        subject: &PodRecord,
        peer_ip: IpAddr,
        peer_pod: Option<&PodRecord>,
        flow: &ResolvedFlow<'_>,
    ) -> DirectionDecision {
        let decision = |outcome, decided_by, passed| DirectionDecision {
            direction,
            outcome,
            decided_by,
            passed,
        };
        let from_rule = |rule: RuleRef, passed| {
            let outcome = match rule.action {
                RuleAction::Drop => Outcome::Dropped,
                RuleAction::Reject => Outcome::Rejected,
                RuleAction::Allow | RuleAction::Pass => Outcome::Allowed,
            };
            decision(outcome, DecidedBy::Rule(rule), passed)
        };
        let mut passed = Vec::new();
        if let Some(rule) =
            self.first_antrea_rule(direction, subject, peer_ip, peer_pod, flow, false)
        {
            if rule.action == RuleAction::Pass {
                passed.push(rule);
            } else {
                return from_rule(rule, passed);
            }
        }
        match self.k8s_decision(direction, subject, peer_ip, peer_pod, flow) {
            Some(Some(rule)) => return from_rule(rule, passed),
            Some(None) => return decision(Outcome::Dropped, DecidedBy::K8sIsolation, passed),
            None => {}
        }
        match self.first_antrea_rule(direction, subject, peer_ip, peer_pod, flow, true) {
            // Pass is rejected in the baseline tier by admission; should one get through, the
            // agent sends it on to the next table, which allows.
            Some(rule) if rule.action != RuleAction::Pass => from_rule(rule, passed),
            _ => decision(Outcome::Allowed, DecidedBy::Default, passed),
        }
    }

    pub(crate) fn decide_flow(&self, flow: &ResolvedFlow<'_>) -> FlowMatch {
        let egress = self.decide(
            Direction::Egress,
            flow.source,
            flow.destination_ip,
            flow.destination,
            flow,
        );
        let ingress = match (egress.outcome, flow.destination) {
            (Outcome::Allowed, Some(destination)) => Some(self.decide(
                Direction::Ingress,
                destination,
                flow.source_ip,
                Some(flow.source),
                flow,
            )),
            _ => None,
        };
        FlowMatch { egress, ingress }
    }

    /// Which rules a flow hits in each direction (for traffic models and statistics).
    pub fn matching_rules(&self, packet: &PacketSpec) -> Result<FlowMatch, EvaluationError> {
        let flow = self.resolve(packet)?;
        Ok(self.decide_flow(&flow))
    }
}

fn k8s_rule_ref(policy: &CompiledK8sPolicy, index: usize, direction: Direction) -> RuleRef {
    RuleRef {
        policy: policy.id.clone(),
        direction,
        rule_index: index,
        rule_name: None,
        action: RuleAction::Allow,
        tier_priority: None,
        policy_priority: None,
    }
}
