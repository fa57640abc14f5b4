//! Traceflow: the per-Node observations Antrea agents report for an injected packet
//! (`pkg/agent/controller/traceflow/packetin.go`, with the `pod` of LB observations that
//! antrea-controller fills in, `pkg/controller/traceflow/controller.go`).
//!
//! The agent reports once per Node, when the packet leaves OVS (output table) or is dropped.
//! Its observations, in order:
//! - sender: `SpoofGuard`/`Forwarded` (with `srcPodIP`); receiver: `Forwarding`/`Received`;
//! - `LB`/`Forwarded` with `translatedDstIP` (and `translatedSrcIP` for hairpin) when a
//!   Service address was translated, on the sender;
//! - one `NetworkPolicy` observation per direction whose "conjunction" register was loaded:
//!   by an allowing rule (Antrea-native, K8s or baseline) or a `Pass` rule. Its
//!   `componentInfo`/`action` depend on where the packet stopped: `EgressMetric`/`EgressDefaultRule`
//!   `Dropped` when it stopped in that table, else `EgressRule`/`Forwarded` (`Ingress*` alike);
//! - the drop: `EgressMetric`/`IngressMetric` `Dropped` (or `Rejected`) naming the rule, or
//!   `EgressDefaultRule`/`IngressDefaultRule` `Dropped` for K8s NetworkPolicy isolation;
//! - `Forwarding`/`Output`: `Forwarded` with `tunnelDstIP` to another Node, `Delivered` to a
//!   local Pod, `ForwardedOutOfNetwork` out of the cluster network.
//!
//! Agents leave `role` empty; [`NodeObservations::role`] still says which side a Node was.

use std::net::IpAddr;

use antrea_types::RuleAction;
use antrea_types::traceflow::{
    NodeResult, Observation, TraceflowAction, TraceflowComponent, TraceflowSpec,
};
use serde::Serialize;

use crate::error::EvaluationError;
use crate::evaluate::{
    DecidedBy, Destination, DirectionDecision, FlowMatch, LoadBalancing, Outcome, PacketSpec,
    PodName, Protocol, ResolvedFlow,
};
use crate::index::ClusterIndex;
use crate::net::{first_of_family, gateway_address};
use crate::policy_ref::RuleRef;

/// Where the packet ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// Delivered to the destination Pod.
    Delivered,
    /// Dropped by a policy rule or by K8s NetworkPolicy isolation.
    Dropped,
    /// Rejected by a policy rule.
    Rejected,
    /// Sent out of the cluster network (destination outside the Pod network).
    ForwardedOutOfNetwork,
}

/// Which side of the trace a Node was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NodeRole {
    Sender,
    Receiver,
}

impl NodeRole {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::Sender => "Sender",
            NodeRole::Receiver => "Receiver",
        }
    }
}

/// What one Node reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeObservations {
    pub node: String,
    pub role: NodeRole,
    pub observations: Vec<Observation>,
}

/// The full result of evaluating a packet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub verdict: Verdict,
    /// The decisions per direction.
    pub flow: FlowMatch,
    pub source_ip: IpAddr,
    /// Destination after Service translation.
    pub destination_ip: IpAddr,
    /// Destination port after Service translation.
    pub destination_port: Option<u16>,
    pub load_balancing: Option<LoadBalancing>,
    /// The destination Pod, when the destination address is one.
    pub destination_pod: Option<PodName>,
    /// Per-Node observations, sender first.
    pub nodes: Vec<NodeObservations>,
}

impl Evaluation {
    /// `status.results` as Antrea agents write them (`role` left empty, as they do).
    pub fn node_results(&self, timestamp: Option<i64>) -> Vec<NodeResult> {
        self.nodes
            .iter()
            .map(|node| NodeResult {
                node: Some(node.node.clone()),
                role: None,
                timestamp,
                observations: Some(node.observations.clone()),
            })
            .collect()
    }
}

/// The OVS table a packet stopped in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopTable {
    EgressMetric,
    EgressDefault,
    IngressMetric,
    IngressDefault,
    Output,
}

fn observation(component: TraceflowComponent, action: TraceflowAction) -> Observation {
    Observation {
        component: Some(component),
        action: Some(action),
        ..Observation::default()
    }
}

/// `getNetworkPolicyObservation`.
fn network_policy_observation(table: StopTable, ingress: bool) -> Observation {
    let (info, action) = match (ingress, table) {
        (true, StopTable::IngressMetric) => ("IngressMetric", TraceflowAction::Dropped),
        (true, StopTable::IngressDefault) => ("IngressDefaultRule", TraceflowAction::Dropped),
        (true, _) => ("IngressRule", TraceflowAction::Forwarded),
        (false, StopTable::EgressMetric) => ("EgressMetric", TraceflowAction::Dropped),
        (false, StopTable::EgressDefault) => ("EgressDefaultRule", TraceflowAction::Dropped),
        (false, _) => ("EgressRule", TraceflowAction::Forwarded),
    };
    Observation {
        component_info: Some(info.to_string()),
        ..observation(TraceflowComponent::NetworkPolicy, action)
    }
}

fn with_rule(mut observation: Observation, rule: &RuleRef) -> Observation {
    observation.network_policy = Some(rule.policy.to_string());
    observation.network_policy_rule = rule.rule_name.clone();
    observation
}

/// The rule whose id sits in the direction's Traceflow conjunction register: the allowing
/// rule, else the Pass rule traversed.
fn conjunction_register(decision: &DirectionDecision) -> Option<&RuleRef> {
    match (&decision.outcome, &decision.decided_by) {
        (Outcome::Allowed, DecidedBy::Rule(rule)) => Some(rule),
        _ => decision.passed.last(),
    }
}

/// Where a decision stops the packet, if it does.
fn stop_table(decision: &DirectionDecision, ingress: bool) -> Option<StopTable> {
    match (decision.outcome, &decision.decided_by, ingress) {
        (Outcome::Allowed, _, _) => None,
        (_, DecidedBy::K8sIsolation, false) => Some(StopTable::EgressDefault),
        (_, DecidedBy::K8sIsolation, true) => Some(StopTable::IngressDefault),
        (_, _, false) => Some(StopTable::EgressMetric),
        (_, _, true) => Some(StopTable::IngressMetric),
    }
}

/// The drop-table observation (`EgressMetric`/`IngressMetric` naming the deny rule, or the
/// default-rule table).
fn drop_observation(table: StopTable, decision: &DirectionDecision, ingress: bool) -> Observation {
    let observation = network_policy_observation(table, ingress);
    match decision.rule() {
        Some(rule) if matches!(table, StopTable::EgressMetric | StopTable::IngressMetric) => {
            let mut observation = with_rule(observation, rule);
            if rule.action == RuleAction::Reject {
                observation.action = Some(TraceflowAction::Rejected);
            }
            observation
        }
        _ => observation,
    }
}

impl ClusterIndex {
    /// Evaluates a packet: the verdict, the rules it hit in each direction and the Traceflow
    /// observations of each Node.
    pub fn evaluate(&self, packet: &PacketSpec) -> Result<Evaluation, EvaluationError> {
        let flow = self.resolve(packet)?;
        let decisions = self.decide_flow(&flow);
        let nodes = self.observations(&flow, &decisions);
        let verdict = match (
            &decisions.egress.outcome,
            decisions.ingress.as_ref().map(|d| d.outcome),
        ) {
            (Outcome::Dropped, _) | (_, Some(Outcome::Dropped)) => Verdict::Dropped,
            (Outcome::Rejected, _) | (_, Some(Outcome::Rejected)) => Verdict::Rejected,
            (Outcome::Allowed, Some(Outcome::Allowed)) => Verdict::Delivered,
            (Outcome::Allowed, None) => Verdict::ForwardedOutOfNetwork,
        };
        Ok(Evaluation {
            verdict,
            source_ip: flow.source_ip,
            destination_ip: flow.destination_ip,
            destination_port: flow.destination_port,
            load_balancing: flow.load_balancing.clone(),
            destination_pod: flow
                .destination
                .map(|pod| PodName::new(pod.namespace.clone(), pod.name.clone())),
            flow: decisions,
            nodes,
        })
    }

    fn transport_address(&self, node: &str, ipv6: bool) -> Option<IpAddr> {
        self.nodes
            .get(node)
            .and_then(|record| first_of_family(&record.addresses, ipv6))
    }

    fn observations(
        &self,
        flow: &ResolvedFlow<'_>,
        decisions: &FlowMatch,
    ) -> Vec<NodeObservations> {
        let mut sender = vec![Observation {
            src_pod_ip: Some(flow.source_ip.to_string()),
            ..observation(TraceflowComponent::SpoofGuard, TraceflowAction::Forwarded)
        }];
        if let Some(lb) = &flow.load_balancing {
            let hairpin = lb.endpoint_ip == flow.source_ip;
            sender.push(Observation {
                translated_dst_ip: Some(lb.endpoint_ip.to_string()),
                translated_src_ip: hairpin
                    .then(|| {
                        self.nodes
                            .get(flow.source_node)
                            .and_then(|node| gateway_address(&node.pod_cidrs, flow.ipv6))
                    })
                    .flatten()
                    .map(|address| address.to_string()),
                pod: self
                    .pod_with_ip(lb.endpoint_ip)
                    .map(|pod| format!("{}/{}", pod.namespace, pod.name)),
                ..observation(TraceflowComponent::LB, TraceflowAction::Forwarded)
            });
        }
        let egress = &decisions.egress;
        let destination_node = flow.destination.and_then(|pod| pod.node.as_deref());
        let local = destination_node == Some(flow.source_node);

        // Where the sender's packet-in happens, and whether ingress is judged on the sender.
        let ingress_on_sender = local.then_some(decisions.ingress.as_ref()).flatten();
        let sender_stop = stop_table(egress, false)
            .or_else(|| ingress_on_sender.and_then(|ingress| stop_table(ingress, true)))
            .unwrap_or(StopTable::Output);
        if let Some(rule) = conjunction_register(egress) {
            sender.push(with_rule(
                network_policy_observation(sender_stop, false),
                rule,
            ));
        }
        if let Some(ingress) = ingress_on_sender
            && let Some(rule) = conjunction_register(ingress)
        {
            sender.push(with_rule(
                network_policy_observation(sender_stop, true),
                rule,
            ));
        }
        match sender_stop {
            StopTable::EgressMetric | StopTable::EgressDefault => {
                sender.push(drop_observation(sender_stop, egress, false));
            }
            StopTable::IngressMetric | StopTable::IngressDefault => {
                if let Some(ingress) = ingress_on_sender {
                    sender.push(drop_observation(sender_stop, ingress, true));
                }
            }
            StopTable::Output => {
                let output = |action| Observation {
                    component_info: Some("Output".to_string()),
                    ..observation(TraceflowComponent::Forwarding, action)
                };
                sender.push(match (destination_node, local) {
                    (Some(_), true) => output(TraceflowAction::Delivered),
                    (Some(node), false) => Observation {
                        tunnel_dst_ip: self
                            .transport_address(node, flow.ipv6)
                            .map(|address| address.to_string()),
                        ..output(TraceflowAction::Forwarded)
                    },
                    (None, _) => output(TraceflowAction::ForwardedOutOfNetwork),
                });
            }
        }
        let mut nodes = vec![NodeObservations {
            node: flow.source_node.to_string(),
            role: NodeRole::Sender,
            observations: sender,
        }];

        if let (Some(node), false, Outcome::Allowed, Some(ingress)) = (
            destination_node,
            local,
            egress.outcome,
            decisions.ingress.as_ref(),
        ) {
            let mut receiver = vec![observation(
                TraceflowComponent::Forwarding,
                TraceflowAction::Received,
            )];
            let stop = stop_table(ingress, true).unwrap_or(StopTable::Output);
            if let Some(rule) = conjunction_register(ingress) {
                receiver.push(with_rule(network_policy_observation(stop, true), rule));
            }
            if stop == StopTable::Output {
                receiver.push(Observation {
                    component_info: Some("Output".to_string()),
                    ..observation(TraceflowComponent::Forwarding, TraceflowAction::Delivered)
                });
            } else {
                receiver.push(drop_observation(stop, ingress, true));
            }
            nodes.push(NodeObservations {
                node: node.to_string(),
                role: NodeRole::Receiver,
                observations: receiver,
            });
        }
        nodes
    }
}

impl PacketSpec {
    /// The packet a (non-live) Traceflow injects: ICMP echo request unless the IP header says
    /// otherwise (protocol 1, or 58 with an IPv6 header, by default), ports from the transport
    /// header.
    pub fn from_traceflow(spec: &TraceflowSpec) -> Result<PacketSpec, EvaluationError> {
        let invalid = |message: &str| EvaluationError::InvalidTraceflow(message.to_string());
        let source = spec
            .source
            .as_ref()
            .ok_or_else(|| invalid("source Pod is required"))?;
        let source = match (&source.namespace, &source.pod) {
            (Some(namespace), Some(pod)) if !namespace.is_empty() && !pod.is_empty() => {
                PodName::new(namespace.clone(), pod.clone())
            }
            _ => return Err(invalid("source Pod and Namespace are required")),
        };
        let destination = spec
            .destination
            .as_ref()
            .ok_or_else(|| invalid("destination is required"))?;
        let namespace = destination.namespace.clone().unwrap_or_default();
        let destination = match (&destination.pod, &destination.service, &destination.ip) {
            (Some(pod), None, None) => Destination::Pod(PodName::new(namespace, pod.clone())),
            (None, Some(service), None) => Destination::Service {
                namespace,
                name: service.clone(),
            },
            (None, None, Some(ip)) => Destination::Ip(
                ip.parse()
                    .map_err(|_| invalid(&format!("destination IP {ip} is not an IP address")))?,
            ),
            _ => {
                return Err(invalid(
                    "exactly one of destination pod, service and ip must be set",
                ));
            }
        };
        let packet = spec.packet.clone().unwrap_or_default();
        let ipv6 =
            packet.ipv6_header.is_some() || matches!(&destination, Destination::Ip(IpAddr::V6(_)));
        let number = if ipv6 {
            packet
                .ipv6_header
                .as_ref()
                .and_then(|header| header.next_header)
                .unwrap_or(58)
        } else {
            packet
                .ip_header
                .as_ref()
                .and_then(|header| header.protocol)
                .unwrap_or(1)
        };
        let number = u8::try_from(number).map_err(|_| invalid("IP protocol must be 0-255"))?;
        let protocol = Protocol::from_number(number);
        let transport = packet.transport_header.unwrap_or_default();
        let port = |port: Option<i32>| port.and_then(|port| u16::try_from(port).ok());
        let (source_port, destination_port) = match protocol {
            Protocol::Tcp => transport
                .tcp
                .map(|tcp| (port(tcp.src_port), port(tcp.dst_port)))
                .unwrap_or_default(),
            Protocol::Udp => transport
                .udp
                .map(|udp| (port(udp.src_port), port(udp.dst_port)))
                .unwrap_or_default(),
            _ => (None, None),
        };
        let (icmp_type, icmp_code) = match protocol {
            Protocol::Icmp if ipv6 => (Some(128), Some(0)),
            Protocol::Icmp => (Some(8), Some(0)),
            _ => (None, None),
        };
        Ok(PacketSpec {
            source,
            destination,
            protocol,
            source_port,
            destination_port,
            icmp_type,
            icmp_code,
            ipv6,
        })
    }
}
