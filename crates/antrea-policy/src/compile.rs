//! Compiling ACNPs, ANNPs and K8s NetworkPolicies into the form the evaluator walks, the way
//! antrea-controller turns them into controlplane policies (`clusternetworkpolicy.go`,
//! `antreanetworkpolicy.go`, `networkpolicy_controller.go`, `crd_utils.go`).
//!
//! - appliedTo: `group` → a group reference; `serviceAccount` → Pods with that ServiceAccount;
//!   `service` → a NodePort Service (applies to no Pod); `nodeSelector` → Nodes; otherwise a
//!   [`GroupSelector`] (`podSelector` alone is cluster-wide in an ACNP, in the policy's
//!   Namespace in an ANNP).
//! - peers, in Antrea's precedence: `ipBlock` (other fields ignored), `group`, `fqdn`,
//!   `serviceAccount`, `nodeSelector`, selectors. ACNP peers with `namespaces.match: Self` or
//!   `namespaces.sameLabels` are kept apart, since they depend on the Namespace of the Pod the
//!   rule is applied to. An empty peer list matches every address.
//! - ports and protocols become a list of services; an empty list matches all traffic.

use antrea_types::cluster_network_policy::ClusterNetworkPolicySpec;
use antrea_types::network_policy::NetworkPolicySpec;
use antrea_types::policy::{
    AppliedTo, NamespaceMatchType, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicyProtocol,
    Protocol, Rule, RuleAction,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicyPeer as K8sPeer, NetworkPolicyPort as K8sPort, NetworkPolicySpec as K8sSpec,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube_apimachinery::selector::LabelSelector;

use crate::groups::GroupKey;
use crate::index::L4Protocol;
use crate::net::IpBlockNet;
use crate::policy_ref::{PolicyKind, PolicyRef};
use crate::selector::{GroupSelector, parse_label_selector};

/// One appliedTo entry.
#[derive(Debug, Clone)]
pub(crate) enum AppliedToEntry {
    /// Pods (or Nodes, for a node selector) chosen by a selector.
    Selector(GroupSelector),
    /// A ClusterGroup (ACNP) or a Group of the policy's Namespace (ANNP).
    Group(GroupKey),
    /// A NodePort Service: realized on every Node, applies to no Pod traffic.
    Service,
}

/// One cluster-level peer.
#[derive(Debug, Clone)]
pub(crate) enum PeerEntry {
    IpBlock(IpBlockNet),
    Selector(GroupSelector),
    Group(GroupKey),
    /// FQDN peers need DNS answers, which this evaluator does not have: they never match.
    Fqdn,
    /// A peer that selects nothing (an `ipBlock` that does not parse).
    Nothing,
}

/// A peer with `namespaces.match: Self` or `namespaces.sameLabels`.
#[derive(Debug, Clone)]
pub(crate) struct NamespacedPeer {
    /// `None` for `Self`; the label keys for `sameLabels`.
    pub same_labels: Option<Vec<String>>,
    pub pod_selector: Option<LabelSelector>,
    /// An externalEntitySelector was given: selects no Pod.
    pub external_entities: bool,
}

/// The peers of a rule.
#[derive(Debug, Clone, Default)]
pub(crate) struct Peers {
    /// No peer at all: every address matches.
    pub any: bool,
    pub cluster: Vec<PeerEntry>,
    pub namespaced: Vec<NamespacedPeer>,
}

/// A port of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PortMatch {
    Number(i32),
    Named(String),
}

/// One `ports`/`protocols` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ServiceMatch {
    L4 {
        protocol: L4Protocol,
        port: Option<PortMatch>,
        end_port: Option<i32>,
        source_port: Option<i32>,
        source_end_port: Option<i32>,
    },
    Icmp {
        icmp_type: Option<i32>,
        icmp_code: Option<i32>,
    },
    /// IGMP rules only concern multicast control traffic, never the packets traced here.
    Igmp,
    /// A protocol outside TCP/UDP/SCTP: matches nothing.
    Unsupported,
}

/// A compiled Antrea-native rule.
#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    pub index: usize,
    pub name: Option<String>,
    pub action: RuleAction,
    /// Rule-level appliedTo (empty when the policy-level one applies).
    pub applied_to: Vec<AppliedToEntry>,
    pub peers: Peers,
    /// Empty: all traffic.
    pub services: Vec<ServiceMatch>,
    /// `toServices` (egress): `(namespace, name)`.
    pub to_services: Option<Vec<(String, String)>>,
}

/// A compiled ACNP or ANNP.
#[derive(Debug, Clone)]
pub(crate) struct CompiledPolicy {
    pub id: PolicyRef,
    pub tier: Option<String>,
    pub priority: f64,
    pub applied_to: Vec<AppliedToEntry>,
    pub ingress: Vec<CompiledRule>,
    pub egress: Vec<CompiledRule>,
}

impl CompiledPolicy {
    /// The tier name this policy is indexed under for re-ordering (normalized).
    pub(crate) fn tier_key(&self) -> Option<String> {
        self.tier
            .as_deref()
            .filter(|tier| !tier.is_empty())
            .map(|tier| crate::index::normalize_tier_name(tier).to_string())
    }

    pub(crate) fn rules(&self, direction: crate::policy_ref::Direction) -> &[CompiledRule] {
        match direction {
            crate::policy_ref::Direction::Ingress => &self.ingress,
            crate::policy_ref::Direction::Egress => &self.egress,
        }
    }

    /// Every appliedTo entry of the policy (policy level and all rules).
    pub(crate) fn all_applied_to(&self) -> impl Iterator<Item = &AppliedToEntry> {
        self.applied_to.iter().chain(
            self.ingress
                .iter()
                .chain(self.egress.iter())
                .flat_map(|rule| rule.applied_to.iter()),
        )
    }
}

/// Which policy kind is being compiled, for the scoping rules that differ.
#[derive(Debug, Clone, Copy)]
enum Scope<'a> {
    Cluster,
    Namespace(&'a str),
}

impl Scope<'_> {
    fn namespace(&self) -> &str {
        match self {
            Scope::Cluster => "",
            Scope::Namespace(namespace) => namespace,
        }
    }

    fn group_key(&self, name: &str) -> GroupKey {
        match self {
            Scope::Cluster => GroupKey::cluster(name),
            Scope::Namespace(namespace) => GroupKey::namespaced(namespace, name),
        }
    }
}

fn compile_applied_to(entries: &[AppliedTo], scope: Scope<'_>) -> Vec<AppliedToEntry> {
    entries
        .iter()
        .map(|entry| {
            if let Some(selector) = &entry.node_selector {
                AppliedToEntry::Selector(GroupSelector::new("", None, None, None, Some(selector)))
            } else if let Some(group) = &entry.group {
                AppliedToEntry::Group(scope.group_key(group))
            } else if entry.service.is_some() {
                AppliedToEntry::Service
            } else if let Some(account) = &entry.service_account {
                AppliedToEntry::Selector(GroupSelector::service_account(
                    &account.namespace,
                    &account.name,
                ))
            } else {
                AppliedToEntry::Selector(GroupSelector::new(
                    scope.namespace(),
                    entry.pod_selector.as_ref(),
                    entry.namespace_selector.as_ref(),
                    entry.external_entity_selector.as_ref(),
                    None,
                ))
            }
        })
        .collect()
}

fn compile_peer(peer: &NetworkPolicyPeer, scope: Scope<'_>) -> PeerEntry {
    if let Some(block) = &peer.ip_block {
        return IpBlockNet::parse(&block.cidr, block.except.as_deref().unwrap_or_default())
            .map(PeerEntry::IpBlock)
            .unwrap_or(PeerEntry::Nothing);
    }
    if let Some(group) = peer.group.as_deref().filter(|group| !group.is_empty()) {
        return PeerEntry::Group(scope.group_key(group));
    }
    if peer.fqdn.as_deref().is_some_and(|fqdn| !fqdn.is_empty()) {
        return PeerEntry::Fqdn;
    }
    if let Some(account) = &peer.service_account {
        return PeerEntry::Selector(GroupSelector::service_account(
            &account.namespace,
            &account.name,
        ));
    }
    if let Some(selector) = &peer.node_selector {
        return PeerEntry::Selector(GroupSelector::new("", None, None, None, Some(selector)));
    }
    PeerEntry::Selector(GroupSelector::new(
        scope.namespace(),
        peer.pod_selector.as_ref(),
        peer.namespace_selector.as_ref(),
        peer.external_entity_selector.as_ref(),
        None,
    ))
}

fn compile_peers(peers: Option<&Vec<NetworkPolicyPeer>>, scope: Scope<'_>) -> Peers {
    let peers = peers.map(Vec::as_slice).unwrap_or_default();
    let mut compiled = Peers::default();
    for peer in peers {
        match (&peer.namespaces, scope) {
            (Some(namespaces), Scope::Cluster) => {
                let same_labels = if namespaces.match_type
                    == Some(NamespaceMatchType::SameNamespace)
                {
                    None
                } else if let Some(keys) = namespaces.same_labels.as_ref().filter(|k| !k.is_empty())
                {
                    Some(keys.clone())
                } else {
                    // Neither criterion: splitPeersByScope drops the peer.
                    continue;
                };
                compiled.namespaced.push(NamespacedPeer {
                    same_labels,
                    pod_selector: peer.pod_selector.as_ref().and_then(parse_label_selector),
                    external_entities: peer.external_entity_selector.is_some(),
                });
            }
            _ => compiled.cluster.push(compile_peer(peer, scope)),
        }
    }
    // A list whose peers were all dropped still yields Antrea's match-all cluster rule.
    compiled.any = compiled.cluster.is_empty() && compiled.namespaced.is_empty();
    compiled
}

fn port_match(port: &IntOrString) -> PortMatch {
    match port {
        IntOrString::Int(number) => PortMatch::Number(*number),
        IntOrString::String(name) => PortMatch::Named(name.clone()),
    }
}

fn l4_protocol(protocol: Option<Protocol>) -> L4Protocol {
    match protocol {
        None | Some(Protocol::TCP) => L4Protocol::Tcp,
        Some(Protocol::UDP) => L4Protocol::Udp,
        Some(Protocol::SCTP) => L4Protocol::Sctp,
    }
}

fn compile_services(
    ports: Option<&Vec<NetworkPolicyPort>>,
    protocols: Option<&Vec<NetworkPolicyProtocol>>,
) -> Vec<ServiceMatch> {
    let mut services: Vec<ServiceMatch> = ports
        .into_iter()
        .flatten()
        .map(|port| ServiceMatch::L4 {
            protocol: l4_protocol(port.protocol),
            port: port.port.as_ref().map(port_match),
            end_port: port.end_port,
            source_port: port.source_port,
            source_end_port: port.source_end_port,
        })
        .collect();
    for protocol in protocols.into_iter().flatten() {
        if let Some(icmp) = &protocol.icmp {
            services.push(ServiceMatch::Icmp {
                icmp_type: icmp.icmp_type,
                icmp_code: icmp.icmp_code,
            });
        }
        if protocol.igmp.is_some() {
            services.push(ServiceMatch::Igmp);
        }
    }
    services
}

fn compile_rule(
    index: usize,
    rule: &Rule,
    scope: Scope<'_>,
    direction: crate::policy_ref::Direction,
) -> CompiledRule {
    let peers = match direction {
        crate::policy_ref::Direction::Ingress => rule.from.as_ref(),
        crate::policy_ref::Direction::Egress => rule.to.as_ref(),
    };
    let to_services = match direction {
        crate::policy_ref::Direction::Egress => rule.to_services.as_ref().map(|services| {
            services
                .iter()
                .map(|service| {
                    let namespace = service
                        .namespace
                        .clone()
                        .filter(|ns| !ns.is_empty())
                        .unwrap_or_else(|| scope.namespace().to_string());
                    (namespace, service.name.clone())
                })
                .collect()
        }),
        crate::policy_ref::Direction::Ingress => None,
    };
    CompiledRule {
        index,
        name: rule.name.clone().filter(|name| !name.is_empty()),
        action: rule.action,
        applied_to: compile_applied_to(rule.applied_to.as_deref().unwrap_or_default(), scope),
        peers: compile_peers(peers, scope),
        services: compile_services(rule.ports.as_ref(), rule.protocols.as_ref()),
        to_services,
    }
}

#[allow(clippy::too_many_arguments)]
fn compile_policy(
    id: PolicyRef,
    scope: Scope<'_>,
    tier: Option<&String>,
    priority: f64,
    applied_to: Option<&Vec<AppliedTo>>,
    ingress: Option<&Vec<Rule>>,
    egress: Option<&Vec<Rule>>,
) -> CompiledPolicy {
    use crate::policy_ref::Direction;
    CompiledPolicy {
        id,
        tier: tier.cloned(),
        priority,
        applied_to: compile_applied_to(applied_to.map(Vec::as_slice).unwrap_or_default(), scope),
        ingress: ingress
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(index, rule)| compile_rule(index, rule, scope, Direction::Ingress))
            .collect(),
        egress: egress
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(index, rule)| compile_rule(index, rule, scope, Direction::Egress))
            .collect(),
    }
}

pub(crate) fn compile_cluster_network_policy(
    name: &str,
    spec: &ClusterNetworkPolicySpec,
) -> CompiledPolicy {
    compile_policy(
        PolicyRef::cluster(name),
        Scope::Cluster,
        spec.tier.as_ref(),
        spec.priority,
        spec.applied_to.as_ref(),
        spec.ingress.as_ref(),
        spec.egress.as_ref(),
    )
}

pub(crate) fn compile_antrea_network_policy(
    namespace: &str,
    name: &str,
    spec: &NetworkPolicySpec,
) -> CompiledPolicy {
    compile_policy(
        PolicyRef::namespaced(PolicyKind::AntreaNetworkPolicy, namespace, name),
        Scope::Namespace(namespace),
        spec.tier.as_ref(),
        spec.priority,
        spec.applied_to.as_ref(),
        spec.ingress.as_ref(),
        spec.egress.as_ref(),
    )
}

/// A K8s NetworkPolicy peer.
#[derive(Debug, Clone)]
pub(crate) enum K8sPeerEntry {
    IpBlock(IpBlockNet),
    Selector(GroupSelector),
}

/// A K8s NetworkPolicy rule (always Allow).
#[derive(Debug, Clone)]
pub(crate) struct K8sRule {
    pub index: usize,
    /// `None`: every address (an empty or absent peer list).
    pub peers: Option<Vec<K8sPeerEntry>>,
    pub services: Vec<ServiceMatch>,
}

/// A compiled K8s NetworkPolicy. A direction is `Some` when the policy isolates it: it has
/// rules in that direction, or lists it in `policyTypes` (then with a deny-all, i.e. no rule).
#[derive(Debug, Clone)]
pub(crate) struct CompiledK8sPolicy {
    pub id: PolicyRef,
    pub pod_selector: GroupSelector,
    pub ingress: Option<Vec<K8sRule>>,
    pub egress: Option<Vec<K8sRule>>,
}

fn compile_k8s_peers(peers: Option<&Vec<K8sPeer>>, namespace: &str) -> Option<Vec<K8sPeerEntry>> {
    let peers = peers.filter(|peers| !peers.is_empty())?;
    Some(
        peers
            .iter()
            .filter_map(|peer| match &peer.ip_block {
                Some(block) => {
                    IpBlockNet::parse(&block.cidr, block.except.as_deref().unwrap_or_default())
                        .map(K8sPeerEntry::IpBlock)
                }
                None => Some(K8sPeerEntry::Selector(GroupSelector::new(
                    namespace,
                    peer.pod_selector.as_ref(),
                    peer.namespace_selector.as_ref(),
                    None,
                    None,
                ))),
            })
            .collect(),
    )
}

fn compile_k8s_ports(ports: Option<&Vec<K8sPort>>) -> Vec<ServiceMatch> {
    ports
        .into_iter()
        .flatten()
        .map(
            |port| match L4Protocol::from_field(port.protocol.as_deref()) {
                Some(protocol) => ServiceMatch::L4 {
                    protocol,
                    port: port.port.as_ref().map(port_match),
                    end_port: port.end_port,
                    source_port: None,
                    source_end_port: None,
                },
                None => ServiceMatch::Unsupported,
            },
        )
        .collect()
}

pub(crate) fn compile_k8s_network_policy(
    namespace: &str,
    name: &str,
    spec: &K8sSpec,
) -> CompiledK8sPolicy {
    let everything = k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector::default();
    let pod_selector = GroupSelector::new(
        namespace,
        Some(spec.pod_selector.as_ref().unwrap_or(&everything)),
        None,
        None,
        None,
    );
    // The API server defaults policyTypes to Ingress, plus Egress when egress rules exist.
    let has_egress_rules = spec.egress.as_ref().is_some_and(|rules| !rules.is_empty());
    let policy_types: Vec<String> = spec.policy_types.clone().unwrap_or_else(|| {
        let mut types = vec!["Ingress".to_string()];
        if has_egress_rules {
            types.push("Egress".to_string());
        }
        types
    });
    let ingress_rules: Vec<K8sRule> = spec
        .ingress
        .iter()
        .flatten()
        .enumerate()
        .map(|(index, rule)| K8sRule {
            index,
            peers: compile_k8s_peers(rule.from.as_ref(), namespace),
            services: compile_k8s_ports(rule.ports.as_ref()),
        })
        .collect();
    let egress_rules: Vec<K8sRule> = spec
        .egress
        .iter()
        .flatten()
        .enumerate()
        .map(|(index, rule)| K8sRule {
            index,
            peers: compile_k8s_peers(rule.to.as_ref(), namespace),
            services: compile_k8s_ports(rule.ports.as_ref()),
        })
        .collect();
    let isolates = |kind: &str, rules: &[K8sRule]| {
        !rules.is_empty() || policy_types.iter().any(|policy_type| policy_type == kind)
    };
    CompiledK8sPolicy {
        id: PolicyRef::namespaced(PolicyKind::K8sNetworkPolicy, namespace, name),
        pod_selector,
        ingress: isolates("Ingress", &ingress_rules).then_some(ingress_rules),
        egress: isolates("Egress", &egress_rules).then_some(egress_rules),
    }
}
