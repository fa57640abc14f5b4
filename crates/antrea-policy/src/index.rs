//! [`ClusterIndex`]: the incremental store of everything the policy computations read.
//!
//! Every kind has `apply_*` (create or replace, keyed by name or namespace/name) and
//! `delete_*`. Updates are cheap: policies and groups are compiled once when applied and refer
//! to each other by name, so a change never recompiles anything else. Pods are grouped by
//! Namespace and label set into *label items* (as antrea-controller's `GroupEntityIndex`
//! does), so selectors are matched against distinct label sets rather than against every Pod,
//! and each label item keeps a count of its Pods per Node for span computation.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use antrea_types::{ClusterGroup, ClusterNetworkPolicy, Group, NetworkPolicy, Tier};
use ipnet::IpNet;
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy as K8sNetworkPolicy;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::compile::{
    CompiledK8sPolicy, CompiledPolicy, compile_antrea_network_policy,
    compile_cluster_network_policy, compile_k8s_network_policy,
};
use crate::error::IndexError;
use crate::groups::{CompiledGroup, GroupKey, compile_cluster_group, compile_group};
use crate::net::parse_cidr;
use crate::policy_ref::{PolicyKind, PolicyRef};
use crate::selector::SERVICE_ACCOUNT_LABEL;

/// Name of the label that ties an EndpointSlice to its Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// A layer-4 protocol with ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum L4Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl L4Protocol {
    /// `TCP`/`UDP`/`SCTP` (Kubernetes spelling); anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "TCP" => Some(L4Protocol::Tcp),
            "UDP" => Some(L4Protocol::Udp),
            "SCTP" => Some(L4Protocol::Sctp),
            _ => None,
        }
    }

    /// A Kubernetes `protocol` field: absent means TCP.
    pub(crate) fn from_field(field: Option<&str>) -> Option<Self> {
        match field {
            None => Some(L4Protocol::Tcp),
            Some(text) => Self::parse(text),
        }
    }
}

/// A named container port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerPortRecord {
    pub name: String,
    pub port: i32,
    pub protocol: L4Protocol,
}

/// What the index keeps of a Pod.
#[derive(Debug, Clone)]
pub(crate) struct PodRecord {
    pub namespace: String,
    pub name: String,
    /// The Pod's labels plus [`SERVICE_ACCOUNT_LABEL`], as antrea-controller indexes them.
    pub labels: BTreeMap<String, String>,
    pub node: Option<String>,
    pub ips: Vec<IpAddr>,
    pub host_network: bool,
    /// Phase `Succeeded` or `Failed` (`k8s.IsPodTerminated`).
    pub terminated: bool,
    /// Running, not being deleted and not reporting `Ready=False`: an Endpoint candidate.
    pub serving: bool,
    pub container_ports: Vec<ContainerPortRecord>,
    /// The label item the Pod belongs to.
    pub label_item: usize,
}

impl PodRecord {
    /// Antrea's AppliedToGroup filter: not host-network, not terminated, scheduled.
    pub(crate) fn applied_to_eligible(&self) -> bool {
        !self.host_network && !self.terminated && self.node.is_some()
    }

    /// `AddressGroupExcludedPodFilter` negated: not host-network, not terminated, has an IP.
    pub(crate) fn address_eligible(&self) -> bool {
        !self.host_network && !self.terminated && !self.ips.is_empty()
    }

    /// The number of a named container port for a protocol.
    pub(crate) fn named_port(&self, name: &str, protocol: L4Protocol) -> Option<i32> {
        self.container_ports
            .iter()
            .find(|port| port.name == name && port.protocol == protocol)
            .map(|port| port.port)
    }
}

/// Pods of one Namespace sharing one label set.
#[derive(Debug, Clone)]
pub(crate) struct LabelItem {
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    /// Names of the Pods (all of them, whatever their state).
    pub pods: BTreeSet<String>,
    /// For applied-to eligible Pods: how many run on each Node.
    pub nodes: BTreeMap<String, u32>,
}

/// What the index keeps of a Node.
#[derive(Debug, Clone)]
pub(crate) struct NodeRecord {
    pub labels: BTreeMap<String, String>,
    pub pod_cidrs: Vec<IpNet>,
    /// InternalIP addresses first, then ExternalIP ones.
    pub addresses: Vec<IpAddr>,
}

/// A Service port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServicePortRecord {
    pub name: Option<String>,
    pub port: i32,
    pub protocol: L4Protocol,
    pub target_port: Option<IntOrString>,
}

/// What the index keeps of a Service.
#[derive(Debug, Clone)]
pub(crate) struct ServiceRecord {
    pub namespace: String,
    pub name: String,
    /// Pods of the Service's Namespace matching its selector (`serviceToGroupSelector`);
    /// `None` for a selector-less Service.
    pub pod_selector: Option<crate::selector::GroupSelector>,
    pub cluster_ips: Vec<IpAddr>,
    pub ports: Vec<ServicePortRecord>,
}

/// One backend address of a Service, from Endpoints or an EndpointSlice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EndpointEntry {
    pub ip: IpAddr,
    /// The Pod behind the address (`targetRef`), when it is a Pod.
    pub pod: Option<(String, String)>,
    /// `(port name, port, protocol)` of the subset or slice.
    pub ports: Vec<(Option<String>, i32, L4Protocol)>,
}

/// Key of a namespaced object.
pub(crate) type NamespacedKey = (String, String);

/// Order of Antrea-native policies: tier priority, policy priority, then the policy id (a
/// documented tie-break: Antrea leaves equal priorities unordered).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct OrderKey {
    pub tier_priority: i32,
    pub priority: OrderedPriority,
    pub id: PolicyRef,
}

/// An `f64` policy priority with a total order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OrderedPriority(pub f64);

impl PartialEq for OrderedPriority {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0).is_eq()
    }
}

impl Eq for OrderedPriority {}

impl PartialOrd for OrderedPriority {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedPriority {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The index of workloads and policies. See the crate documentation.
#[derive(Debug, Default)]
pub struct ClusterIndex {
    /// Namespace → name → Pod.
    pub(crate) pods: HashMap<String, HashMap<String, PodRecord>>,
    pod_count: usize,
    pub(crate) pod_by_ip: HashMap<IpAddr, NamespacedKey>,
    pub(crate) label_items: Vec<Option<LabelItem>>,
    free_label_items: Vec<usize>,
    /// Namespace → label set → label item.
    pub(crate) label_item_ids: HashMap<String, HashMap<BTreeMap<String, String>, usize>>,
    pub(crate) namespaces: HashMap<String, BTreeMap<String, String>>,
    pub(crate) nodes: BTreeMap<String, NodeRecord>,
    pub(crate) node_by_ip: HashMap<IpAddr, String>,
    /// Namespace → name → Service.
    pub(crate) services: HashMap<String, HashMap<String, ServiceRecord>>,
    pub(crate) service_by_ip: HashMap<IpAddr, NamespacedKey>,
    pub(crate) endpoints: HashMap<NamespacedKey, Vec<EndpointEntry>>,
    /// (namespace, slice name) → (service name, entries).
    endpoint_slices: HashMap<NamespacedKey, (String, Vec<EndpointEntry>)>,
    /// (namespace, service name) → slice names.
    pub(crate) slices_by_service: HashMap<NamespacedKey, BTreeSet<String>>,
    pub(crate) tiers: HashMap<String, i32>,
    pub(crate) cluster_groups: HashMap<String, CompiledGroup>,
    /// Namespace → name → Group.
    pub(crate) groups: HashMap<String, HashMap<String, CompiledGroup>>,
    /// Antrea-native policies in evaluation order.
    pub(crate) policies: BTreeMap<OrderKey, Arc<CompiledPolicy>>,
    order_keys: HashMap<PolicyRef, OrderKey>,
    /// Normalized tier name → policies in that tier (to re-order them when the Tier changes).
    tier_members: HashMap<String, BTreeSet<PolicyRef>>,
    /// Namespace → name → K8s NetworkPolicy.
    pub(crate) k8s_policies: BTreeMap<String, BTreeMap<String, CompiledK8sPolicy>>,
    /// Label item → the Antrea-native rules whose appliedTo selects its Pods. Cleared by every
    /// change that can alter appliedTo selection (see `invalidate_applied_rules`).
    pub(crate) applied_rules: Mutex<HashMap<usize, Arc<crate::evaluate::AppliedRules>>>,
}

fn object_name(
    kind: &'static str,
    metadata: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Result<String, IndexError> {
    match metadata.name.as_deref() {
        Some(name) if !name.is_empty() => Ok(name.to_string()),
        _ => Err(IndexError::MissingName { kind }),
    }
}

fn object_namespace(
    kind: &'static str,
    metadata: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Result<String, IndexError> {
    match metadata.namespace.as_deref() {
        Some(namespace) if !namespace.is_empty() => Ok(namespace.to_string()),
        _ => Err(IndexError::MissingNamespace { kind }),
    }
}

fn parse_addresses<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<IpAddr> {
    let mut addresses: Vec<IpAddr> = Vec::new();
    for text in texts {
        if let Ok(address) = text.trim().parse::<IpAddr>()
            && !addresses.contains(&address)
        {
            addresses.push(address);
        }
    }
    addresses
}

impl ClusterIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    // ----- Pods -------------------------------------------------------------------------

    /// Adds or replaces a Pod.
    pub fn apply_pod(&mut self, pod: &Pod) -> Result<(), IndexError> {
        let name = object_name("Pod", &pod.metadata)?;
        let namespace = object_namespace("Pod", &pod.metadata)?;
        let spec = pod.spec.clone().unwrap_or_default();
        let status = pod.status.clone().unwrap_or_default();
        let service_account = spec
            .service_account_name
            .clone()
            .filter(|name| !name.is_empty())
            .unwrap_or_default();
        let mut labels = pod.metadata.labels.clone().unwrap_or_default();
        labels.insert(SERVICE_ACCOUNT_LABEL.to_string(), service_account);
        let ips = match &status.pod_ips {
            Some(ips) if !ips.is_empty() => parse_addresses(ips.iter().map(|ip| ip.ip.as_str())),
            _ => parse_addresses(status.pod_ip.as_deref()),
        };
        let phase = status.phase.as_deref().unwrap_or("");
        let terminated = matches!(phase, "Succeeded" | "Failed");
        let not_ready = status
            .conditions
            .iter()
            .flatten()
            .any(|condition| condition.type_ == "Ready" && condition.status == "False");
        let serving = phase == "Running" && pod.metadata.deletion_timestamp.is_none() && !not_ready;
        let container_ports = spec
            .containers
            .iter()
            .flat_map(|container| container.ports.iter().flatten())
            .filter_map(|port| {
                let name = port.name.clone().filter(|name| !name.is_empty())?;
                Some(ContainerPortRecord {
                    name,
                    port: port.container_port,
                    protocol: L4Protocol::from_field(port.protocol.as_deref())?,
                })
            })
            .collect();
        let key = (namespace.clone(), name.clone());
        self.remove_pod(&key);
        let label_item = self.attach_to_label_item(&namespace, labels.clone(), &name);
        let record = PodRecord {
            namespace,
            name,
            labels,
            node: spec.node_name.clone().filter(|node| !node.is_empty()),
            ips,
            host_network: spec.host_network.unwrap_or(false),
            terminated,
            serving,
            container_ports,
            label_item,
        };
        if record.applied_to_eligible()
            && let (Some(item), Some(node)) = (self.label_item_mut(label_item), &record.node)
        {
            *item.nodes.entry(node.clone()).or_insert(0) += 1;
        }
        if record.address_eligible() {
            for ip in &record.ips {
                self.pod_by_ip.insert(*ip, key.clone());
            }
        }
        self.pods
            .entry(record.namespace.clone())
            .or_default()
            .insert(record.name.clone(), record);
        self.pod_count += 1;
        Ok(())
    }

    /// Removes a Pod; `false` when it was not known.
    pub fn delete_pod(&mut self, namespace: &str, name: &str) -> bool {
        self.remove_pod(&(namespace.to_string(), name.to_string()))
    }

    fn remove_pod(&mut self, key: &NamespacedKey) -> bool {
        let Some(namespace_pods) = self.pods.get_mut(&key.0) else {
            return false;
        };
        let Some(record) = namespace_pods.remove(&key.1) else {
            return false;
        };
        if namespace_pods.is_empty() {
            self.pods.remove(&key.0);
        }
        self.pod_count -= 1;
        for ip in &record.ips {
            if self.pod_by_ip.get(ip) == Some(key) {
                self.pod_by_ip.remove(ip);
            }
        }
        let eligible_node = record
            .applied_to_eligible()
            .then(|| record.node.clone())
            .flatten();
        let mut now_empty = false;
        if let Some(item) = self.label_item_mut(record.label_item) {
            item.pods.remove(&record.name);
            if let Some(node) = eligible_node
                && let Some(count) = item.nodes.get_mut(&node)
            {
                *count -= 1;
                if *count == 0 {
                    item.nodes.remove(&node);
                }
            }
            now_empty = item.pods.is_empty();
        }
        if now_empty {
            self.release_label_item(record.label_item);
        }
        true
    }

    fn label_item_mut(&mut self, id: usize) -> Option<&mut LabelItem> {
        self.label_items.get_mut(id).and_then(Option::as_mut)
    }

    pub(crate) fn label_item(&self, id: usize) -> Option<&LabelItem> {
        self.label_items.get(id).and_then(Option::as_ref)
    }

    fn attach_to_label_item(
        &mut self,
        namespace: &str,
        labels: BTreeMap<String, String>,
        pod_name: &str,
    ) -> usize {
        if let Some(id) = self
            .label_item_ids
            .get(namespace)
            .and_then(|items| items.get(&labels))
            .copied()
            && let Some(item) = self.label_item_mut(id)
        {
            item.pods.insert(pod_name.to_string());
            return id;
        }
        let item = LabelItem {
            namespace: namespace.to_string(),
            labels: labels.clone(),
            pods: BTreeSet::from([pod_name.to_string()]),
            nodes: BTreeMap::new(),
        };
        let id = match self.free_label_items.pop() {
            Some(id) => {
                self.label_items[id] = Some(item);
                id
            }
            None => {
                self.label_items.push(Some(item));
                self.label_items.len() - 1
            }
        };
        self.label_item_ids
            .entry(namespace.to_string())
            .or_default()
            .insert(labels, id);
        id
    }

    fn release_label_item(&mut self, id: usize) {
        let Some(item) = self.label_items.get_mut(id).and_then(Option::take) else {
            return;
        };
        if let Some(items) = self.label_item_ids.get_mut(&item.namespace) {
            items.remove(&item.labels);
            if items.is_empty() {
                self.label_item_ids.remove(&item.namespace);
            }
        }
        self.free_label_items.push(id);
        self.applied_rules_mut().remove(&id);
    }

    fn applied_rules_mut(&mut self) -> &mut HashMap<usize, Arc<crate::evaluate::AppliedRules>> {
        self.applied_rules
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Forgets every cached appliedTo selection (after a change to policies, groups,
    /// Namespaces, Services or Tiers).
    fn invalidate_applied_rules(&mut self) {
        self.applied_rules_mut().clear();
    }

    pub(crate) fn service(&self, namespace: &str, name: &str) -> Option<&ServiceRecord> {
        self.services
            .get(namespace)
            .and_then(|services| services.get(name))
    }

    pub(crate) fn pod(&self, namespace: &str, name: &str) -> Option<&PodRecord> {
        self.pods.get(namespace).and_then(|pods| pods.get(name))
    }

    /// The Pod that owns an address (address-eligible Pods only).
    pub(crate) fn pod_with_ip(&self, ip: IpAddr) -> Option<&PodRecord> {
        self.pod_by_ip
            .get(&ip)
            .and_then(|(namespace, name)| self.pod(namespace, name))
    }

    /// Number of Pods known.
    pub fn pod_count(&self) -> usize {
        self.pod_count
    }

    // ----- Namespaces and Nodes ---------------------------------------------------------

    /// Adds or replaces a Namespace (its labels matter).
    pub fn apply_namespace(&mut self, namespace: &Namespace) -> Result<(), IndexError> {
        let name = object_name("Namespace", &namespace.metadata)?;
        self.namespaces
            .insert(name, namespace.metadata.labels.clone().unwrap_or_default());
        self.invalidate_applied_rules();
        Ok(())
    }

    /// Removes a Namespace; `false` when it was not known.
    pub fn delete_namespace(&mut self, name: &str) -> bool {
        self.invalidate_applied_rules();
        self.namespaces.remove(name).is_some()
    }

    /// Adds or replaces a Node (labels, Pod CIDRs, addresses).
    pub fn apply_node(&mut self, node: &Node) -> Result<(), IndexError> {
        let name = object_name("Node", &node.metadata)?;
        self.remove_node(&name);
        let spec = node.spec.clone().unwrap_or_default();
        let mut cidr_texts: Vec<String> = spec.pod_cidrs.clone().unwrap_or_default();
        if cidr_texts.is_empty()
            && let Some(cidr) = &spec.pod_cidr
        {
            cidr_texts.push(cidr.clone());
        }
        let pod_cidrs = cidr_texts
            .iter()
            .filter_map(|text| parse_cidr(text))
            .collect();
        let node_addresses = node
            .status
            .as_ref()
            .and_then(|status| status.addresses.clone())
            .unwrap_or_default();
        let ordered = node_addresses
            .iter()
            .filter(|address| address.type_ == "InternalIP")
            .chain(
                node_addresses
                    .iter()
                    .filter(|address| address.type_ == "ExternalIP"),
            )
            .map(|address| address.address.as_str());
        let addresses = parse_addresses(ordered);
        for address in &addresses {
            self.node_by_ip.insert(*address, name.clone());
        }
        self.nodes.insert(
            name,
            NodeRecord {
                labels: node.metadata.labels.clone().unwrap_or_default(),
                pod_cidrs,
                addresses,
            },
        );
        Ok(())
    }

    /// Removes a Node; `false` when it was not known.
    pub fn delete_node(&mut self, name: &str) -> bool {
        self.remove_node(name)
    }

    fn remove_node(&mut self, name: &str) -> bool {
        let Some(record) = self.nodes.remove(name) else {
            return false;
        };
        for address in &record.addresses {
            if self.node_by_ip.get(address).map(String::as_str) == Some(name) {
                self.node_by_ip.remove(address);
            }
        }
        true
    }

    // ----- Services and their endpoints -------------------------------------------------

    /// Adds or replaces a Service.
    pub fn apply_service(&mut self, service: &Service) -> Result<(), IndexError> {
        let name = object_name("Service", &service.metadata)?;
        let namespace = object_namespace("Service", &service.metadata)?;
        let key = (namespace.clone(), name.clone());
        self.remove_service(&key);
        let spec = service.spec.clone().unwrap_or_default();
        let mut ip_texts: Vec<String> = spec.cluster_ips.clone().unwrap_or_default();
        if ip_texts.is_empty()
            && let Some(ip) = &spec.cluster_ip
        {
            ip_texts.push(ip.clone());
        }
        let cluster_ips = if spec.type_.as_deref() == Some("ExternalName") {
            Vec::new()
        } else {
            parse_addresses(ip_texts.iter().map(String::as_str))
        };
        let ports = spec
            .ports
            .iter()
            .flatten()
            .filter_map(|port| {
                Some(ServicePortRecord {
                    name: port.name.clone().filter(|name| !name.is_empty()),
                    port: port.port,
                    protocol: L4Protocol::from_field(port.protocol.as_deref())?,
                    target_port: port.target_port.clone(),
                })
            })
            .collect();
        for ip in &cluster_ips {
            self.service_by_ip.insert(*ip, key.clone());
        }
        self.invalidate_applied_rules();
        let pod_selector = spec
            .selector
            .as_ref()
            .filter(|selector| !selector.is_empty())
            .map(|selector| {
                crate::selector::GroupSelector::namespaced(
                    &namespace,
                    crate::selector::match_labels_selector(selector),
                )
            });
        self.services.entry(namespace.clone()).or_default().insert(
            name.clone(),
            ServiceRecord {
                namespace,
                name,
                pod_selector,
                cluster_ips,
                ports,
            },
        );
        Ok(())
    }

    /// Removes a Service; `false` when it was not known.
    pub fn delete_service(&mut self, namespace: &str, name: &str) -> bool {
        self.remove_service(&(namespace.to_string(), name.to_string()))
    }

    fn remove_service(&mut self, key: &NamespacedKey) -> bool {
        let Some(services) = self.services.get_mut(&key.0) else {
            return false;
        };
        let Some(record) = services.remove(&key.1) else {
            return false;
        };
        if services.is_empty() {
            self.services.remove(&key.0);
        }
        self.invalidate_applied_rules();
        for ip in &record.cluster_ips {
            if self.service_by_ip.get(ip) == Some(key) {
                self.service_by_ip.remove(ip);
            }
        }
        true
    }

    /// Adds or replaces the Endpoints of a Service (ready addresses only).
    pub fn apply_endpoints(&mut self, endpoints: &Endpoints) -> Result<(), IndexError> {
        let name = object_name("Endpoints", &endpoints.metadata)?;
        let namespace = object_namespace("Endpoints", &endpoints.metadata)?;
        let mut entries = Vec::new();
        for subset in endpoints.subsets.iter().flatten() {
            let ports: Vec<(Option<String>, i32, L4Protocol)> = subset
                .ports
                .iter()
                .flatten()
                .filter_map(|port| {
                    Some((
                        port.name.clone().filter(|name| !name.is_empty()),
                        port.port,
                        L4Protocol::from_field(port.protocol.as_deref())?,
                    ))
                })
                .collect();
            for address in subset.addresses.iter().flatten() {
                let Ok(ip) = address.ip.parse::<IpAddr>() else {
                    continue;
                };
                entries.push(EndpointEntry {
                    ip,
                    pod: pod_reference(address.target_ref.as_ref(), &namespace),
                    ports: ports.clone(),
                });
            }
        }
        self.endpoints.insert((namespace, name), entries);
        Ok(())
    }

    /// Removes the Endpoints of a Service; `false` when they were not known.
    pub fn delete_endpoints(&mut self, namespace: &str, name: &str) -> bool {
        self.endpoints
            .remove(&(namespace.to_string(), name.to_string()))
            .is_some()
    }

    /// Adds or replaces an EndpointSlice (tied to its Service by the
    /// `kubernetes.io/service-name` label; endpoints with `ready: false` are skipped).
    pub fn apply_endpoint_slice(&mut self, slice: &EndpointSlice) -> Result<(), IndexError> {
        let name = object_name("EndpointSlice", &slice.metadata)?;
        let namespace = object_namespace("EndpointSlice", &slice.metadata)?;
        let service = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|labels| labels.get(SERVICE_NAME_LABEL))
            .cloned()
            .ok_or(IndexError::EndpointSliceWithoutService)?;
        let key = (namespace.clone(), name.clone());
        self.remove_endpoint_slice(&key);
        let ports: Vec<(Option<String>, i32, L4Protocol)> = slice
            .ports
            .iter()
            .flatten()
            .filter_map(|port| {
                Some((
                    port.name.clone().filter(|name| !name.is_empty()),
                    port.port?,
                    L4Protocol::from_field(port.protocol.as_deref())?,
                ))
            })
            .collect();
        let mut entries = Vec::new();
        for endpoint in &slice.endpoints {
            let ready = endpoint
                .conditions
                .as_ref()
                .and_then(|conditions| conditions.ready)
                .unwrap_or(true);
            if !ready {
                continue;
            }
            for address in &endpoint.addresses {
                let Ok(ip) = address.parse::<IpAddr>() else {
                    continue;
                };
                entries.push(EndpointEntry {
                    ip,
                    pod: pod_reference(endpoint.target_ref.as_ref(), &namespace),
                    ports: ports.clone(),
                });
            }
        }
        self.slices_by_service
            .entry((namespace.clone(), service.clone()))
            .or_default()
            .insert(name);
        self.endpoint_slices.insert(key, (service, entries));
        Ok(())
    }

    /// Removes an EndpointSlice; `false` when it was not known.
    pub fn delete_endpoint_slice(&mut self, namespace: &str, name: &str) -> bool {
        self.remove_endpoint_slice(&(namespace.to_string(), name.to_string()))
    }

    fn remove_endpoint_slice(&mut self, key: &NamespacedKey) -> bool {
        let Some((service, _)) = self.endpoint_slices.remove(key) else {
            return false;
        };
        let service_key = (key.0.clone(), service);
        if let Some(slices) = self.slices_by_service.get_mut(&service_key) {
            slices.remove(&key.1);
            if slices.is_empty() {
                self.slices_by_service.remove(&service_key);
            }
        }
        true
    }

    pub(crate) fn slice_entries(&self, namespace: &str, slice: &str) -> Option<&[EndpointEntry]> {
        self.endpoint_slices
            .get(&(namespace.to_string(), slice.to_string()))
            .map(|(_, entries)| entries.as_slice())
    }

    // ----- Tiers ------------------------------------------------------------------------

    /// Adds or replaces a Tier; policies in it are re-ordered.
    pub fn apply_tier(&mut self, tier: &Tier) -> Result<(), IndexError> {
        let name = object_name("Tier", &tier.metadata)?;
        self.tiers.insert(name.clone(), tier.spec.priority);
        self.reorder_tier(&name);
        Ok(())
    }

    /// Removes a Tier; `false` when it was not known. Policies still naming it fall back to
    /// the system tier of that name, or else to the `application` priority, as
    /// antrea-controller's `getTierPriority` does.
    pub fn delete_tier(&mut self, name: &str) -> bool {
        let removed = self.tiers.remove(name).is_some();
        self.reorder_tier(name);
        removed
    }

    fn reorder_tier(&mut self, name: &str) {
        let members: Vec<PolicyRef> = self
            .tier_members
            .get(name)
            .map(|ids| ids.iter().cloned().collect())
            .unwrap_or_default();
        for id in members {
            self.reindex_policy_order(&id);
        }
    }

    /// The priority a policy's `spec.tier` resolves to (`getTierPriority`): empty means
    /// `application` (250); the capitalised legacy names map to the system tiers; an unknown
    /// Tier falls back to 250. System tiers resolve even before their objects are applied,
    /// since antrea-controller always creates them.
    pub fn tier_priority(&self, tier: Option<&str>) -> i32 {
        let Some(name) = tier.filter(|name| !name.is_empty()) else {
            return antrea_types::tier::DEFAULT_TIER_PRIORITY;
        };
        let name = normalize_tier_name(name);
        if let Some(priority) = self.tiers.get(name) {
            return *priority;
        }
        antrea_types::tier::system_tier(name)
            .map(|tier| tier.priority)
            .unwrap_or(antrea_types::tier::DEFAULT_TIER_PRIORITY)
    }

    // ----- Groups -----------------------------------------------------------------------

    /// Adds or replaces a ClusterGroup.
    pub fn apply_cluster_group(&mut self, group: &ClusterGroup) -> Result<(), IndexError> {
        let name = object_name("ClusterGroup", &group.metadata)?;
        let compiled = compile_cluster_group(&name, &group.spec);
        self.cluster_groups.insert(name, compiled);
        self.invalidate_applied_rules();
        Ok(())
    }

    /// Removes a ClusterGroup; `false` when it was not known.
    pub fn delete_cluster_group(&mut self, name: &str) -> bool {
        self.invalidate_applied_rules();
        self.cluster_groups.remove(name).is_some()
    }

    /// Adds or replaces a namespaced Group.
    pub fn apply_group(&mut self, group: &Group) -> Result<(), IndexError> {
        let name = object_name("Group", &group.metadata)?;
        let namespace = object_namespace("Group", &group.metadata)?;
        let compiled = compile_group(&namespace, &name, &group.spec);
        self.groups
            .entry(namespace)
            .or_default()
            .insert(name, compiled);
        self.invalidate_applied_rules();
        Ok(())
    }

    /// Removes a namespaced Group; `false` when it was not known.
    pub fn delete_group(&mut self, namespace: &str, name: &str) -> bool {
        self.invalidate_applied_rules();
        let Some(groups) = self.groups.get_mut(namespace) else {
            return false;
        };
        let removed = groups.remove(name).is_some();
        if groups.is_empty() {
            self.groups.remove(namespace);
        }
        removed
    }

    pub(crate) fn group(&self, key: &GroupKey) -> Option<&CompiledGroup> {
        self.group_named(key.namespace.as_deref(), &key.name)
    }

    /// A ClusterGroup (`namespace: None`) or a Group, without building a key.
    pub(crate) fn group_named(
        &self,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<&CompiledGroup> {
        match namespace {
            None => self.cluster_groups.get(name),
            Some(namespace) => self
                .groups
                .get(namespace)
                .and_then(|groups| groups.get(name)),
        }
    }

    // ----- Antrea-native policies -------------------------------------------------------

    /// Adds or replaces an Antrea ClusterNetworkPolicy.
    pub fn apply_cluster_network_policy(
        &mut self,
        policy: &ClusterNetworkPolicy,
    ) -> Result<(), IndexError> {
        let name = object_name("ClusterNetworkPolicy", &policy.metadata)?;
        let compiled = compile_cluster_network_policy(&name, &policy.spec);
        self.insert_policy(compiled);
        Ok(())
    }

    /// Removes an Antrea ClusterNetworkPolicy; `false` when it was not known.
    pub fn delete_cluster_network_policy(&mut self, name: &str) -> bool {
        self.remove_policy(&PolicyRef::cluster(name))
    }

    /// Adds or replaces an Antrea NetworkPolicy (ANNP).
    pub fn apply_antrea_network_policy(
        &mut self,
        policy: &NetworkPolicy,
    ) -> Result<(), IndexError> {
        let name = object_name("NetworkPolicy", &policy.metadata)?;
        let namespace = object_namespace("NetworkPolicy", &policy.metadata)?;
        let compiled = compile_antrea_network_policy(&namespace, &name, &policy.spec);
        self.insert_policy(compiled);
        Ok(())
    }

    /// Removes an Antrea NetworkPolicy; `false` when it was not known.
    pub fn delete_antrea_network_policy(&mut self, namespace: &str, name: &str) -> bool {
        self.remove_policy(&PolicyRef::namespaced(
            PolicyKind::AntreaNetworkPolicy,
            namespace,
            name,
        ))
    }

    fn insert_policy(&mut self, policy: CompiledPolicy) {
        let id = policy.id.clone();
        self.remove_policy(&id);
        if let Some(tier) = policy.tier_key() {
            self.tier_members
                .entry(tier)
                .or_default()
                .insert(id.clone());
        }
        let key = OrderKey {
            tier_priority: self.tier_priority(policy.tier.as_deref()),
            priority: OrderedPriority(policy.priority),
            id: id.clone(),
        };
        self.policies.insert(key.clone(), Arc::new(policy));
        self.order_keys.insert(id, key);
        self.invalidate_applied_rules();
    }

    fn remove_policy(&mut self, id: &PolicyRef) -> bool {
        let Some(key) = self.order_keys.remove(id) else {
            return false;
        };
        let Some(policy) = self.policies.remove(&key) else {
            return false;
        };
        if let Some(tier) = policy.tier_key()
            && let Some(members) = self.tier_members.get_mut(&tier)
        {
            members.remove(id);
            if members.is_empty() {
                self.tier_members.remove(&tier);
            }
        }
        self.invalidate_applied_rules();
        true
    }

    /// Re-keys a policy after its Tier's priority changed.
    fn reindex_policy_order(&mut self, id: &PolicyRef) {
        let Some(old_key) = self.order_keys.get(id).cloned() else {
            return;
        };
        let Some(policy) = self.policies.remove(&old_key) else {
            return;
        };
        let key = OrderKey {
            tier_priority: self.tier_priority(policy.tier.as_deref()),
            ..old_key
        };
        self.policies.insert(key.clone(), policy);
        self.order_keys.insert(id.clone(), key);
        self.invalidate_applied_rules();
    }

    pub(crate) fn policy(&self, id: &PolicyRef) -> Option<&CompiledPolicy> {
        self.order_keys
            .get(id)
            .and_then(|key| self.policies.get(key))
            .map(Arc::as_ref)
    }

    /// Number of Antrea-native policies (ACNPs and ANNPs) known.
    pub fn antrea_policy_count(&self) -> usize {
        self.policies.len()
    }

    // ----- K8s NetworkPolicies ----------------------------------------------------------

    /// Adds or replaces a Kubernetes NetworkPolicy.
    pub fn apply_k8s_network_policy(
        &mut self,
        policy: &K8sNetworkPolicy,
    ) -> Result<(), IndexError> {
        let name = object_name("NetworkPolicy", &policy.metadata)?;
        let namespace = object_namespace("NetworkPolicy", &policy.metadata)?;
        let compiled =
            compile_k8s_network_policy(&namespace, &name, &policy.spec.clone().unwrap_or_default());
        self.k8s_policies
            .entry(namespace)
            .or_default()
            .insert(name, compiled);
        Ok(())
    }

    /// Removes a Kubernetes NetworkPolicy; `false` when it was not known.
    pub fn delete_k8s_network_policy(&mut self, namespace: &str, name: &str) -> bool {
        let Some(policies) = self.k8s_policies.get_mut(namespace) else {
            return false;
        };
        let removed = policies.remove(name).is_some();
        if policies.is_empty() {
            self.k8s_policies.remove(namespace);
        }
        removed
    }

    // ----- Shared lookups ---------------------------------------------------------------

    /// Label items whose Namespace and labels a selector may match, visited in turn.
    pub(crate) fn label_items_in_scope(
        &self,
        selector: &crate::selector::GroupSelector,
    ) -> Vec<usize> {
        use crate::selector::SelectorScope;
        match selector.scope() {
            SelectorScope::Namespace(namespace) => self
                .label_item_ids
                .get(namespace)
                .map(|items| items.values().copied().collect())
                .unwrap_or_default(),
            SelectorScope::NamespaceSelector => self
                .label_item_ids
                .iter()
                .filter(|(namespace, _)| {
                    self.namespaces
                        .get(namespace.as_str())
                        .is_some_and(|labels| selector.namespace_matches(labels))
                })
                .flat_map(|(_, items)| items.values().copied())
                .collect(),
            SelectorScope::Cluster => self
                .label_item_ids
                .values()
                .flat_map(|items| items.values().copied())
                .collect(),
        }
    }

    /// Label items a selector matches.
    pub(crate) fn matching_label_items(
        &self,
        selector: &crate::selector::GroupSelector,
    ) -> Vec<usize> {
        self.label_items_in_scope(selector)
            .into_iter()
            .filter(|id| {
                self.label_item(*id).is_some_and(|item| {
                    selector.matches_pod(
                        &item.namespace,
                        &item.labels,
                        self.namespaces.get(&item.namespace),
                    )
                })
            })
            .collect()
    }

    /// Whether a selector matches a Pod (whatever the Pod's state).
    pub(crate) fn selector_matches_pod(
        &self,
        selector: &crate::selector::GroupSelector,
        pod: &PodRecord,
    ) -> bool {
        selector.matches_pod(
            &pod.namespace,
            &pod.labels,
            self.namespaces.get(&pod.namespace),
        )
    }

    /// Names of the Nodes a node selector matches.
    pub(crate) fn matching_nodes(&self, selector: &crate::selector::GroupSelector) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, node)| selector.matches_node(&node.labels))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// All Pods of a label item, resolved.
    pub(crate) fn pods_of_label_item(&self, id: usize) -> impl Iterator<Item = &PodRecord> {
        self.label_item(id).into_iter().flat_map(move |item| {
            item.pods
                .iter()
                .filter_map(move |name| self.pod(&item.namespace, name))
        })
    }

    /// Every Node name.
    pub(crate) fn node_names(&self) -> impl Iterator<Item = &String> {
        self.nodes.keys()
    }
}

/// Normalizes a legacy capitalised system tier name (`Emergency`…) to its object name.
pub(crate) fn normalize_tier_name(name: &str) -> &str {
    antrea_types::tier::SYSTEM_TIERS
        .iter()
        .find(|tier| tier.legacy_name == name)
        .map(|tier| tier.name)
        .unwrap_or(name)
}

fn pod_reference(
    target: Option<&k8s_openapi::api::core::v1::ObjectReference>,
    default_namespace: &str,
) -> Option<(String, String)> {
    let target = target?;
    if target.kind.as_deref().is_some_and(|kind| kind != "Pod") {
        return None;
    }
    let name = target.name.clone()?;
    let namespace = target
        .namespace
        .clone()
        .unwrap_or_else(|| default_namespace.to_string());
    Some((namespace, name))
}
