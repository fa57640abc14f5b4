//! Pure projections of Kubernetes and Antrea objects to NSX inventory records
//! (nsx-api.md §1.3; the field-by-field table is in docs/inventory.md).
//!
//! Each function takes one object plus what other objects contribute (the Namespace UID,
//! the Node UID, the Services selecting a Pod, ...), resolved by the
//! [`InventoryProjector`](super::InventoryProjector). `external_id` is always the object's
//! Kubernetes UID, `display_name` its name. Kinds without typed structs here (Antrea Egress
//! and ExternalIPPool, Gateway API Gateway) are read from their JSON.

use std::collections::BTreeMap;

use antrea_types::{ClusterNetworkPolicy, NetworkPolicy as AntreaNetworkPolicy};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use k8s_openapi::api::networking::v1::{Ingress, IngressBackend, NetworkPolicy};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use nsx_model::inventory::{
    ApplicationType, CniAgentStatus, ContainerApplication, ContainerApplicationInstance,
    ContainerClusterNode, ContainerEgress, ContainerGateway, ContainerGatewayAddress,
    ContainerGatewayListener, ContainerIngressPolicy, ContainerIpPool,
    ContainerLoadBalancerIngress, ContainerNetworkPolicy, ContainerObject, ContainerProject,
    ContainerServicePort, ContainerStatus, GatewayAddressType, GatewayProtocol, KeyValuePair,
    L4Protocol, NetworkPolicyType, NodePortLocalEndpoint, PortStatus, SharedStr, SubnetIpRange,
};
use serde::Serialize;
use serde_json::Value;

use super::tags::{labels_of_value, tags_from_labels, truncate_chars};
use crate::mp::health::AgentHealth;

/// Pod annotation where the Antrea Agent publishes a Pod's NodePortLocal mappings.
pub const NPL_POD_ANNOTATION: &str = "nodeportlocal.antrea.io";
/// Service annotation that enables NodePortLocal for the Pods it selects.
pub const NPL_SERVICE_ANNOTATION: &str = "nodeportlocal.antrea.io/enabled";
/// Longest `display_name` NSX accepts.
const MAX_DISPLAY_NAME: usize = 255;

/// An object that cannot be projected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectionError {
    /// Kubernetes always sets `metadata.uid`; an object without one is not from an API server.
    #[error("{kind} {name:?} has no metadata.uid")]
    MissingUid { kind: &'static str, name: String },
    /// Every object has a name.
    #[error("{kind} without metadata.name")]
    MissingName { kind: &'static str },
    /// A namespaced object without its namespace.
    #[error("{kind} {name:?} has no metadata.namespace")]
    MissingNamespace { kind: &'static str, name: String },
    /// The spec could not be rendered as YAML.
    #[error("{kind} {name:?}: spec cannot be rendered as YAML: {message}")]
    Yaml {
        kind: &'static str,
        name: String,
        message: String,
    },
}

/// The identity every record needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: String,
    pub name: String,
    pub namespace: Option<String>,
}

/// Name, UID and namespace of typed object metadata.
pub fn identity(kind: &'static str, meta: &ObjectMeta) -> Result<Identity, ProjectionError> {
    let name = meta
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or(ProjectionError::MissingName { kind })?;
    let uid =
        meta.uid
            .clone()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| ProjectionError::MissingUid {
                kind,
                name: name.clone(),
            })?;
    Ok(Identity {
        uid,
        name,
        namespace: meta.namespace.clone().filter(|n| !n.is_empty()),
    })
}

/// Name, UID and namespace of an untyped object.
pub fn identity_of_value(kind: &'static str, object: &Value) -> Result<Identity, ProjectionError> {
    let text = |pointer: &str| {
        object
            .pointer(pointer)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let name = text("/metadata/name").ok_or(ProjectionError::MissingName { kind })?;
    let uid = text("/metadata/uid").ok_or_else(|| ProjectionError::MissingUid {
        kind,
        name: name.clone(),
    })?;
    Ok(Identity {
        uid,
        name,
        namespace: text("/metadata/namespace"),
    })
}

fn require_namespace(kind: &'static str, id: &Identity) -> Result<String, ProjectionError> {
    id.namespace
        .clone()
        .ok_or_else(|| ProjectionError::MissingNamespace {
            kind,
            name: id.name.clone(),
        })
}

fn display_name(name: &str) -> Option<String> {
    Some(truncate_chars(name, MAX_DISPLAY_NAME).to_owned())
}

fn yaml<T: Serialize>(kind: &'static str, name: &str, spec: &T) -> Result<String, ProjectionError> {
    serde_saphyr::to_string(spec).map_err(|e| ProjectionError::Yaml {
        kind,
        name: name.to_owned(),
        message: e.to_string(),
    })
}

fn protocol(name: Option<&str>) -> Option<L4Protocol> {
    match name.map(str::to_ascii_uppercase).as_deref() {
        // Kubernetes defaults a port's protocol to TCP.
        None | Some("TCP") => Some(L4Protocol::Tcp),
        Some("UDP") => Some(L4Protocol::Udp),
        Some("SCTP") => Some(L4Protocol::Sctp),
        Some(_) => None,
    }
}

/// What the adapter's configuration says about the cluster itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterSettings {
    /// The ContainerCluster `external_id` (the cluster control plane's node id).
    pub cluster_id: String,
    pub display_name: String,
    /// `clusterType` of mp-adapter.conf (`kubernetes`, `WorkloadCluster`, ...), matched to
    /// NSX's values without regard to case; unknown values are kept as given.
    pub cluster_type: String,
    /// Service CIDRs.
    pub cluster_ip_ranges: Vec<String>,
    /// e.g. `30000-32767`.
    pub node_port_range: Option<String>,
    /// e.g. `61000-62000` (AntreaAgentInfo `nodePortLocalPortRange`).
    pub node_port_local_range: Option<String>,
    /// `vSphere`, `AWS`, ... (case-insensitive), if known.
    pub infra_type: Option<String>,
}

/// The ContainerCluster record (`cni_type` Antrea).
pub fn project_cluster(settings: &ClusterSettings) -> ContainerObject {
    use nsx_model::inventory::{
        ClusterType, CniType, ContainerCluster, ContainerInfrastructureInfo, InfraType,
        OpenEnumValue,
    };
    let cluster_type = ClusterType::from_wire(&settings.cluster_type);
    let cluster_type = [
        "PAS",
        "PKS",
        "Kubernetes",
        "Openshift",
        "WCP",
        "WCP_Guest",
        "AKS",
        "EKS",
        "TKGm",
        "TKGi",
        "GKE",
        "Gardener",
        "Rancher",
        "TAS",
        "SupervisorCluster",
        "WorkloadCluster",
        "Other",
    ]
    .into_iter()
    .find(|known| known.eq_ignore_ascii_case(&settings.cluster_type))
    .map_or(cluster_type, ClusterType::from_wire);
    let infrastructure = settings.infra_type.as_deref().map(|infra| {
        let known = [
            "vSphere",
            "AWS",
            "Azure",
            "Google",
            "VMC",
            "KVM",
            "Baremetal",
        ]
        .into_iter()
        .find(|k| k.eq_ignore_ascii_case(infra))
        .unwrap_or(infra);
        ContainerInfrastructureInfo {
            infra_type: Some(InfraType::from_wire(known)),
        }
    });
    let cluster_type = (!cluster_type.as_str().is_empty()).then_some(cluster_type);
    ContainerObject::ContainerCluster(ContainerCluster {
        display_name: display_name(&settings.display_name),
        external_id: settings.cluster_id.clone(),
        cluster_ip_ranges: settings.cluster_ip_ranges.clone(),
        cluster_type,
        cni_type: Some(CniType::Antrea),
        infrastructure,
        node_port_local_range: settings.node_port_local_range.clone(),
        node_port_range: settings.node_port_range.clone(),
        ..Default::default()
    })
}

/// Namespace → ContainerProject.
pub fn project_namespace(
    namespace: &Namespace,
    cluster_id: &str,
) -> Result<ContainerObject, ProjectionError> {
    let id = identity("Namespace", &namespace.metadata)?;
    Ok(ContainerObject::ContainerProject(ContainerProject {
        display_name: display_name(&id.name),
        external_id: id.uid,
        tags: tags_from_labels(namespace.metadata.labels.as_ref()),
        container_cluster_id: Some(cluster_id.into()),
        ..Default::default()
    }))
}

/// One NodePortLocal mapping of a Pod (an entry of its `nodeportlocal.antrea.io`
/// annotation).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NplMapping {
    pub pod_port: i64,
    #[serde(rename = "nodeIP")]
    pub node_ip: String,
    pub node_port: i64,
    /// Lower-case (`tcp`); older agents wrote only `protocols`.
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub protocols: Vec<String>,
}

impl PodFacts {
    /// The value of label `key`.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| self.labels[i].1.as_str())
    }

    /// Whether `selector` (equality-based, as a Service's) selects this Pod.
    pub fn matches(&self, selector: &BTreeMap<String, String>) -> bool {
        !selector.is_empty()
            && selector
                .iter()
                .all(|(k, v)| self.label(k) == Some(v.as_str()))
    }
}

impl NplMapping {
    /// Protocols of the mapping, upper-case.
    pub fn protocols(&self) -> Vec<L4Protocol> {
        let mut out: Vec<L4Protocol> = self
            .protocol
            .iter()
            .chain(self.protocols.iter())
            .filter_map(|p| protocol(Some(p)))
            .collect();
        if out.is_empty() {
            out.push(L4Protocol::Tcp);
        }
        out.sort();
        out.dedup();
        out
    }
}

/// The NodePortLocal mappings a Pod's annotations carry (none when absent or unreadable).
pub fn npl_mappings(meta: &ObjectMeta) -> Vec<NplMapping> {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(NPL_POD_ANNOTATION))
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default()
}

/// Whether labels sorted by key satisfy an equality-based selector (a Service's); an empty
/// selector selects nothing.
pub fn labels_match<K: AsRef<str>, V: AsRef<str>>(
    labels: &[(K, V)],
    selector: &BTreeMap<String, String>,
) -> bool {
    !selector.is_empty()
        && selector.iter().all(|(k, v)| {
            labels
                .binary_search_by(|(key, _)| key.as_ref().cmp(k.as_str()))
                .is_ok_and(|i| labels[i].1.as_ref() == v.as_str())
        })
}

/// What the projector needs to know about a Pod besides its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodFacts {
    pub identity: Identity,
    pub namespace: String,
    pub node_name: Option<String>,
    /// Labels sorted by key (a vector is much smaller than a map for the few labels a Pod
    /// has, and the projector keeps these for every Pod).
    pub labels: Vec<(String, String)>,
    /// The Ready condition is True.
    pub ready: bool,
    pub npl: Vec<NplMapping>,
    /// Named container ports (name, port, protocol), kept only for Pods with NodePortLocal
    /// mappings, to resolve Services' named target ports.
    pub named_ports: Vec<(String, i64, L4Protocol)>,
}

/// Extracts the [`PodFacts`].
pub fn pod_facts(pod: &Pod) -> Result<PodFacts, ProjectionError> {
    let identity = identity("Pod", &pod.metadata)?;
    let namespace = require_namespace("Pod", &identity)?;
    let status = pod.status.as_ref();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let npl = npl_mappings(&pod.metadata);
    let named_ports = if npl.is_empty() {
        Vec::new()
    } else {
        pod.spec
            .iter()
            .flat_map(|spec| spec.containers.iter())
            .flat_map(|c| c.ports.iter().flatten())
            .filter_map(|p| {
                let name = p.name.clone()?;
                Some((
                    name,
                    i64::from(p.container_port),
                    protocol(p.protocol.as_deref())?,
                ))
            })
            .collect()
    };
    Ok(PodFacts {
        identity,
        namespace,
        node_name: pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty()),
        labels: pod
            .metadata
            .labels
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        ready,
        npl,
        named_ports,
    })
}

/// A Pod's `status`: Running and Ready → UP; Running, not Ready → DEGRADED; Pending,
/// Succeeded, Failed, or being deleted → DOWN; Unknown or no phase → UNKNOWN.
pub fn pod_status(pod: &Pod, ready: bool) -> ContainerStatus {
    if pod.metadata.deletion_timestamp.is_some() {
        return ContainerStatus::Down;
    }
    match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Running") if ready => ContainerStatus::Up,
        Some("Running") => ContainerStatus::Degraded,
        Some("Pending" | "Succeeded" | "Failed") => ContainerStatus::Down,
        _ => ContainerStatus::Unknown,
    }
}

/// What other objects contribute to a Pod's record.
#[derive(Debug, Clone, Copy, Default)]
pub struct PodRefs<'a> {
    pub cluster_id: &'a str,
    /// UID of the Pod's Namespace, once known.
    pub project_id: Option<&'a str>,
    /// UID of the Pod's Node, once known.
    pub node_id: Option<&'a str>,
    /// UIDs of the Services selecting the Pod, sorted.
    pub application_ids: &'a [String],
}

/// Pod → ContainerApplicationInstance. The Pod IPs go in `origin_properties` `ip`
/// (comma-joined when dual-stack), as NSX has no IP field for instances.
pub fn project_pod(
    pod: &Pod,
    facts: &PodFacts,
    refs: PodRefs<'_>,
) -> Result<ContainerObject, ProjectionError> {
    let ips: Vec<&str> = match pod.status.as_ref() {
        Some(status) => match status.pod_ips.as_deref() {
            Some(ips) if !ips.is_empty() => ips.iter().map(|ip| ip.ip.as_str()).collect(),
            _ => status.pod_ip.as_deref().into_iter().collect(),
        },
        None => Vec::new(),
    };
    let origin_properties = if ips.is_empty() {
        Vec::new()
    } else {
        vec![KeyValuePair::new("ip", ips.join(","))]
    };
    Ok(ContainerObject::ContainerApplicationInstance(
        ContainerApplicationInstance {
            display_name: display_name(&facts.identity.name),
            external_id: facts.identity.uid.clone(),
            tags: tags_from_labels(pod.metadata.labels.as_ref()),
            origin_properties,
            cluster_node_id: refs.node_id.map(SharedStr::from),
            container_application_ids: refs.application_ids.iter().map(SharedStr::from).collect(),
            container_cluster_id: Some(refs.cluster_id.into()),
            container_project_id: refs.project_id.map(SharedStr::from),
            status: Some(pod_status(pod, facts.ready)),
            ..Default::default()
        },
    ))
}

/// A Pod's NodePortLocal mappings and named container ports.
#[derive(Debug, Clone, Copy)]
pub struct PodPorts<'a> {
    pub npl: &'a [NplMapping],
    pub named_ports: &'a [(String, i64, L4Protocol)],
}

impl PodFacts {
    /// The Pod's [`PodPorts`].
    pub fn ports(&self) -> PodPorts<'_> {
        PodPorts {
            npl: &self.npl,
            named_ports: &self.named_ports,
        }
    }
}

/// A Service port's target, for matching NodePortLocal mappings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetPort {
    Number(i64),
    Name(String),
}

/// What the projector needs to know about a Service besides its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceFacts {
    pub identity: Identity,
    pub namespace: String,
    /// The Pod selector; `None` for Services without one (they select no Pods).
    pub selector: Option<BTreeMap<String, String>>,
    pub npl_enabled: bool,
    pub targets: Vec<(TargetPort, L4Protocol)>,
}

/// Extracts the [`ServiceFacts`].
pub fn service_facts(service: &Service) -> Result<ServiceFacts, ProjectionError> {
    let identity = identity("Service", &service.metadata)?;
    let namespace = require_namespace("Service", &identity)?;
    let spec = service.spec.as_ref();
    let selector = spec
        .filter(|s| s.type_.as_deref() != Some("ExternalName"))
        .and_then(|s| s.selector.clone())
        .filter(|s| !s.is_empty());
    let npl_enabled = service
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(NPL_SERVICE_ANNOTATION))
        .is_some_and(|v| v == "true");
    let targets = spec
        .and_then(|s| s.ports.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let target = match &p.target_port {
                Some(IntOrString::Int(n)) => TargetPort::Number(i64::from(*n)),
                Some(IntOrString::String(name)) => match name.parse::<i64>() {
                    Ok(n) => TargetPort::Number(n),
                    Err(_) => TargetPort::Name(name.clone()),
                },
                None => TargetPort::Number(i64::from(p.port)),
            };
            Some((target, protocol(p.protocol.as_deref())?))
        })
        .collect();
    Ok(ServiceFacts {
        identity,
        namespace,
        selector,
        npl_enabled,
        targets,
    })
}

/// The NodePortLocal endpoints of a Service from the Pods it selects: each mapping whose
/// Pod port is a target port of the Service (named targets resolved through the Pod's
/// container ports) with a matching protocol. Sorted, without duplicates. Empty unless the
/// Service has `nodeportlocal.antrea.io/enabled: "true"`.
pub fn npl_endpoints<'a>(
    service: &ServiceFacts,
    pods: impl IntoIterator<Item = PodPorts<'a>>,
) -> Vec<NodePortLocalEndpoint> {
    if !service.npl_enabled {
        return Vec::new();
    }
    let mut endpoints = Vec::new();
    for pod in pods {
        for mapping in pod.npl {
            for protocol in mapping.protocols() {
                let targeted = service.targets.iter().any(|(target, p)| {
                    *p == protocol
                        && match target {
                            TargetPort::Number(n) => *n == mapping.pod_port,
                            TargetPort::Name(name) => {
                                pod.named_ports.iter().any(|(n, port, pp)| {
                                    n == name && *port == mapping.pod_port && *pp == protocol
                                })
                            }
                        }
                });
                if targeted {
                    endpoints.push(NodePortLocalEndpoint {
                        node_ip: Some(mapping.node_ip.clone()),
                        node_port: Some(mapping.node_port),
                        protocol: Some(protocol.clone()),
                    });
                }
            }
        }
    }
    endpoints.sort();
    endpoints.dedup();
    endpoints
}

/// A Service's `status`: Services without a selector (ExternalName included) cannot be
/// judged from Pods → UNKNOWN; otherwise UP when at least one selected Pod is Ready, DOWN
/// when none is.
pub fn service_status(
    service: &ServiceFacts,
    ready: impl IntoIterator<Item = bool>,
) -> ContainerStatus {
    if service.selector.is_none() {
        return ContainerStatus::Unknown;
    }
    if ready.into_iter().any(|r| r) {
        ContainerStatus::Up
    } else {
        ContainerStatus::Down
    }
}

fn load_balancer_ingress(
    ingress: Option<&Vec<k8s_openapi::api::core::v1::LoadBalancerIngress>>,
) -> Vec<ContainerLoadBalancerIngress> {
    ingress
        .into_iter()
        .flatten()
        .map(|i| ContainerLoadBalancerIngress {
            ip: i.ip.clone(),
            hostname: i.hostname.clone(),
            ports: i
                .ports
                .iter()
                .flatten()
                .map(|p| PortStatus {
                    port: Some(i64::from(p.port)),
                    protocol: protocol(Some(&p.protocol)),
                })
                .collect(),
        })
        .collect()
}

fn ingress_load_balancer(
    ingress: Option<&Vec<k8s_openapi::api::networking::v1::IngressLoadBalancerIngress>>,
) -> Vec<ContainerLoadBalancerIngress> {
    ingress
        .into_iter()
        .flatten()
        .map(|i| ContainerLoadBalancerIngress {
            ip: i.ip.clone(),
            hostname: i.hostname.clone(),
            ports: i
                .ports
                .iter()
                .flatten()
                .map(|p| PortStatus {
                    port: Some(i64::from(p.port)),
                    protocol: protocol(Some(&p.protocol)),
                })
                .collect(),
        })
        .collect()
}

/// What other objects contribute to a Service's record.
#[derive(Debug, Clone, Default)]
pub struct ServiceRefs<'a> {
    pub cluster_id: &'a str,
    pub project_id: Option<&'a str>,
    pub status: Option<ContainerStatus>,
    pub npl_endpoints: Vec<NodePortLocalEndpoint>,
}

/// Service → ContainerApplication.
pub fn project_service(
    service: &Service,
    facts: &ServiceFacts,
    refs: ServiceRefs<'_>,
) -> Result<ContainerObject, ProjectionError> {
    let spec = service.spec.as_ref();
    let raw_type = spec
        .and_then(|s| s.type_.clone())
        .unwrap_or_else(|| "ClusterIP".to_owned());
    let application_type = match raw_type.as_str() {
        "ClusterIP" => Some(ApplicationType::ClusterIp),
        "NodePort" => Some(ApplicationType::NodePort),
        "LoadBalancer" => Some(ApplicationType::LoadBalancer),
        "ExternalName" => Some(ApplicationType::ExternalName),
        _ => None,
    };
    let cluster_ips: Vec<String> = match spec {
        Some(s) => match s.cluster_ips.as_ref() {
            Some(ips) if !ips.is_empty() => ips.clone(),
            _ => s.cluster_ip.iter().cloned().collect(),
        },
        None => Vec::new(),
    }
    .into_iter()
    .filter(|ip| !ip.is_empty() && ip != "None")
    .collect();
    let mut origin_properties = vec![KeyValuePair::new("type", raw_type)];
    if !cluster_ips.is_empty() {
        origin_properties.push(KeyValuePair::new("ip", cluster_ips.join(",")));
    }
    let service_ports = spec
        .and_then(|s| s.ports.as_ref())
        .into_iter()
        .flatten()
        .map(|p| ContainerServicePort {
            name: p.name.clone().filter(|n| !n.is_empty()),
            port: Some(i64::from(p.port)),
            node_port: p.node_port.map(i64::from),
            protocol: protocol(p.protocol.as_deref()),
            target_port: Some(match &p.target_port {
                Some(IntOrString::Int(n)) => n.to_string(),
                Some(IntOrString::String(s)) => s.clone(),
                None => p.port.to_string(),
            }),
        })
        .collect();
    Ok(ContainerObject::ContainerApplication(
        ContainerApplication {
            display_name: display_name(&facts.identity.name),
            external_id: facts.identity.uid.clone(),
            tags: tags_from_labels(service.metadata.labels.as_ref()),
            origin_properties,
            cluster_ips,
            container_cluster_id: Some(refs.cluster_id.into()),
            container_project_id: refs.project_id.map(SharedStr::from),
            load_balancer_ingress: load_balancer_ingress(
                service
                    .status
                    .as_ref()
                    .and_then(|s| s.load_balancer.as_ref())
                    .and_then(|lb| lb.ingress.as_ref()),
            ),
            node_port_local_endpoints: refs.npl_endpoints,
            service_ports,
            status: refs.status,
            application_type,
            ..Default::default()
        },
    ))
}

/// Node → ContainerClusterNode. `agent` is the health of the Node's Antrea Agent (from its
/// AntreaAgentInfo; `None` when there is none): `cni_agent_status` is HEALTHY only for a
/// healthy agent.
pub fn project_node(
    node: &Node,
    cluster_id: &str,
    agent: Option<AgentHealth>,
) -> Result<ContainerObject, ProjectionError> {
    let id = identity("Node", &node.metadata)?;
    let addresses = node
        .status
        .as_ref()
        .and_then(|s| s.addresses.as_ref())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let of_type = |kind: &str| -> Vec<String> {
        addresses
            .iter()
            .filter(|a| a.type_ == kind)
            .map(|a| a.address.clone())
            .collect()
    };
    let spec = node.spec.as_ref();
    let pod_cidrs = match spec {
        Some(s) => match s.pod_cidrs.as_ref() {
            Some(cidrs) if !cidrs.is_empty() => cidrs.clone(),
            _ => s.pod_cidr.iter().cloned().collect(),
        },
        None => Vec::new(),
    };
    let mut origin_properties = Vec::new();
    if let Some(info) = node.status.as_ref().and_then(|s| s.node_info.as_ref()) {
        origin_properties.push(KeyValuePair::new("kubelet_version", &info.kubelet_version));
        origin_properties.push(KeyValuePair::new("os_image", &info.os_image));
    }
    Ok(ContainerObject::ContainerClusterNode(
        ContainerClusterNode {
            display_name: display_name(&id.name),
            external_id: id.uid,
            tags: tags_from_labels(node.metadata.labels.as_ref()),
            origin_properties,
            cni_agent_status: Some(if agent == Some(AgentHealth::Healthy) {
                CniAgentStatus::Healthy
            } else {
                CniAgentStatus::Unhealthy
            }),
            container_cluster_id: Some(cluster_id.into()),
            external_ip_addresses: of_type("ExternalIP"),
            ip_addresses: of_type("InternalIP"),
            pod_cidrs,
            provider_id: spec.and_then(|s| s.provider_id.clone()),
            ..Default::default()
        },
    ))
}

/// Names of the Services an Ingress routes to (default backend and every path), sorted and
/// without duplicates.
pub fn ingress_service_names(ingress: &Ingress) -> Vec<String> {
    let Some(spec) = ingress.spec.as_ref() else {
        return Vec::new();
    };
    let service_of = |b: &IngressBackend| b.service.as_ref().map(|s| s.name.clone());
    let mut names: Vec<String> = spec
        .default_backend
        .iter()
        .filter_map(service_of)
        .chain(
            spec.rules
                .iter()
                .flatten()
                .filter_map(|r| r.http.as_ref())
                .flat_map(|h| h.paths.iter())
                .filter_map(|p| service_of(&p.backend)),
        )
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Ingress → ContainerIngressPolicy; `application_ids` are the UIDs of the backend Services
/// that exist.
pub fn project_ingress(
    ingress: &Ingress,
    cluster_id: &str,
    project_id: Option<&str>,
    application_ids: &[String],
) -> Result<ContainerObject, ProjectionError> {
    let id = identity("Ingress", &ingress.metadata)?;
    let spec = match ingress.spec.as_ref() {
        Some(spec) => Some(yaml("Ingress", &id.name, spec)?),
        None => None,
    };
    Ok(ContainerObject::ContainerIngressPolicy(
        ContainerIngressPolicy {
            display_name: display_name(&id.name),
            external_id: id.uid,
            tags: tags_from_labels(ingress.metadata.labels.as_ref()),
            container_application_ids: application_ids.iter().map(SharedStr::from).collect(),
            container_cluster_id: Some(cluster_id.into()),
            container_project_id: project_id.map(SharedStr::from),
            load_balance_ingress: ingress_load_balancer(
                ingress
                    .status
                    .as_ref()
                    .and_then(|s| s.load_balancer.as_ref())
                    .and_then(|lb| lb.ingress.as_ref()),
            ),
            spec,
            ..Default::default()
        },
    ))
}

fn network_policy_record(
    kind: &'static str,
    meta: &ObjectMeta,
    spec: Option<String>,
    policy_type: NetworkPolicyType,
    cluster_id: &str,
    project_id: Option<&str>,
) -> Result<ContainerObject, ProjectionError> {
    let id = identity(kind, meta)?;
    Ok(ContainerObject::ContainerNetworkPolicy(
        ContainerNetworkPolicy {
            display_name: display_name(&id.name),
            external_id: id.uid,
            tags: tags_from_labels(meta.labels.as_ref()),
            container_cluster_id: Some(cluster_id.into()),
            container_project_id: project_id.map(SharedStr::from),
            policy_type: Some(policy_type),
            spec,
            ..Default::default()
        },
    ))
}

/// Kubernetes NetworkPolicy → ContainerNetworkPolicy `NETWORK_POLICY`.
pub fn project_network_policy(
    policy: &NetworkPolicy,
    cluster_id: &str,
    project_id: Option<&str>,
) -> Result<ContainerObject, ProjectionError> {
    let name = policy.metadata.name.as_deref().unwrap_or_default();
    let spec = match policy.spec.as_ref() {
        Some(spec) => Some(yaml("NetworkPolicy", name, spec)?),
        None => None,
    };
    network_policy_record(
        "NetworkPolicy",
        &policy.metadata,
        spec,
        NetworkPolicyType::NetworkPolicy,
        cluster_id,
        project_id,
    )
}

/// Antrea ClusterNetworkPolicy → ContainerNetworkPolicy `ACNP` (cluster-scoped: no project).
pub fn project_cluster_network_policy(
    policy: &ClusterNetworkPolicy,
    cluster_id: &str,
) -> Result<ContainerObject, ProjectionError> {
    let name = policy.metadata.name.as_deref().unwrap_or_default();
    let spec = yaml("ClusterNetworkPolicy", name, &policy.spec)?;
    network_policy_record(
        "ClusterNetworkPolicy",
        &policy.metadata,
        Some(spec),
        NetworkPolicyType::Acnp,
        cluster_id,
        None,
    )
}

/// Antrea NetworkPolicy → ContainerNetworkPolicy `ANP`.
pub fn project_antrea_network_policy(
    policy: &AntreaNetworkPolicy,
    cluster_id: &str,
    project_id: Option<&str>,
) -> Result<ContainerObject, ProjectionError> {
    let name = policy.metadata.name.as_deref().unwrap_or_default();
    let spec = yaml("AntreaNetworkPolicy", name, &policy.spec)?;
    network_policy_record(
        "AntreaNetworkPolicy",
        &policy.metadata,
        Some(spec),
        NetworkPolicyType::Anp,
        cluster_id,
        project_id,
    )
}

fn value_spec(
    kind: &'static str,
    id: &Identity,
    object: &Value,
) -> Result<Option<String>, ProjectionError> {
    match object.get("spec") {
        Some(spec) if !spec.is_null() => Ok(Some(yaml(kind, &id.name, spec)?)),
        _ => Ok(None),
    }
}

fn str_at<'a>(object: &'a Value, pointer: &str) -> Option<&'a str> {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Antrea Egress (crd.antrea.io, JSON) → ContainerEgress: `egress_ip` is the assigned IP
/// (`status.egressIP`, else `spec.egressIP`); `origin_properties` `externalIPPool` names the
/// pool (`spec.externalIPPool`, or the first of `spec.externalIPPools`), and `egressNode` the
/// Node holding the IP.
pub fn project_egress(
    egress: &Value,
    cluster_id: &str,
) -> Result<ContainerObject, ProjectionError> {
    let id = identity_of_value("Egress", egress)?;
    let egress_ip = str_at(egress, "/status/egressIP")
        .or_else(|| str_at(egress, "/spec/egressIP"))
        .map(str::to_owned);
    let mut origin_properties = Vec::new();
    if let Some(pool) =
        str_at(egress, "/spec/externalIPPool").or_else(|| str_at(egress, "/spec/externalIPPools/0"))
    {
        origin_properties.push(KeyValuePair::new("externalIPPool", pool));
    }
    if let Some(node) = str_at(egress, "/status/egressNode") {
        origin_properties.push(KeyValuePair::new("egressNode", node));
    }
    Ok(ContainerObject::ContainerEgress(ContainerEgress {
        display_name: display_name(&id.name),
        tags: tags_from_labels(Some(&labels_of_value(egress))),
        spec: value_spec("Egress", &id, egress)?,
        external_id: id.uid,
        origin_properties,
        container_cluster_id: Some(cluster_id.into()),
        egress_ip,
        ..Default::default()
    }))
}

/// Antrea ExternalIPPool (crd.antrea.io, JSON) → ContainerIpPool: one `SubnetIpRange` per
/// `spec.ipRanges` entry (a `cidr`, or `start`/`end`), with `spec.subnetInfo` (`gateway`,
/// `prefixLength`, `vlan`) copied into each; `ip_version` from the first range's address.
pub fn project_external_ip_pool(
    pool: &Value,
    cluster_id: &str,
) -> Result<ContainerObject, ProjectionError> {
    let id = identity_of_value("ExternalIPPool", pool)?;
    let subnet = pool.pointer("/spec/subnetInfo");
    let gateway = subnet
        .and_then(|s| s.get("gateway"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let prefix_length = subnet
        .and_then(|s| s.get("prefixLength"))
        .and_then(Value::as_i64);
    let vlan = subnet.and_then(|s| s.get("vlan")).and_then(Value::as_i64);
    let ip_ranges: Vec<SubnetIpRange> = pool
        .pointer("/spec/ipRanges")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|range| SubnetIpRange {
            cidr: range.get("cidr").and_then(Value::as_str).map(str::to_owned),
            start: range
                .get("start")
                .and_then(Value::as_str)
                .map(str::to_owned),
            end: range.get("end").and_then(Value::as_str).map(str::to_owned),
            gateway: gateway.clone(),
            prefix_length,
            vlan,
        })
        .collect();
    let ip_version = ip_ranges
        .iter()
        .find_map(|r| r.cidr.as_deref().or(r.start.as_deref()))
        .map(|address| if address.contains(':') { 6 } else { 4 });
    Ok(ContainerObject::ContainerIpPool(ContainerIpPool {
        display_name: display_name(&id.name),
        tags: tags_from_labels(Some(&labels_of_value(pool))),
        spec: value_spec("ExternalIPPool", &id, pool)?,
        external_id: id.uid,
        container_cluster_id: Some(cluster_id.into()),
        ip_ranges,
        ip_version,
        ..Default::default()
    }))
}

/// Gateway API Gateway (JSON) → ContainerGateway: `addresses` from `status.addresses` (else
/// `spec.addresses`), typed `IPAddress` → IP_ADDRESS, `Hostname` → HOST_NAME, anything
/// else → NAMED_ADDRESS; `listeners` from `spec.listeners` (a protocol NSX does not know is
/// left out of the listener).
pub fn project_gateway(
    gateway: &Value,
    cluster_id: &str,
    project_id: Option<&str>,
) -> Result<ContainerObject, ProjectionError> {
    let id = identity_of_value("Gateway", gateway)?;
    let addresses_at = |pointer: &str| {
        gateway
            .pointer(pointer)
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
    };
    let addresses = addresses_at("/status/addresses")
        .or_else(|| addresses_at("/spec/addresses"))
        .into_iter()
        .flatten()
        .filter_map(|a| {
            let value = a.get("value").and_then(Value::as_str)?;
            let address_type = match a.get("type").and_then(Value::as_str).unwrap_or("IPAddress") {
                "IPAddress" => GatewayAddressType::IpAddress,
                "Hostname" => GatewayAddressType::HostName,
                _ => GatewayAddressType::NamedAddress,
            };
            Some(ContainerGatewayAddress {
                address: Some(value.to_owned()),
                address_type: Some(address_type),
            })
        })
        .collect();
    let listeners = gateway
        .pointer("/spec/listeners")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|l| ContainerGatewayListener {
            name: l.get("name").and_then(Value::as_str).map(str::to_owned),
            hostname: l.get("hostname").and_then(Value::as_str).map(str::to_owned),
            port: l.get("port").and_then(Value::as_i64),
            protocol: match l.get("protocol").and_then(Value::as_str) {
                Some("HTTP") => Some(GatewayProtocol::Http),
                Some("HTTPS") => Some(GatewayProtocol::Https),
                Some("TCP") => Some(GatewayProtocol::Tcp),
                Some("TLS") => Some(GatewayProtocol::Tls),
                Some("UDP") => Some(GatewayProtocol::Udp),
                _ => None,
            },
        })
        .collect();
    Ok(ContainerObject::ContainerGateway(ContainerGateway {
        display_name: display_name(&id.name),
        tags: tags_from_labels(Some(&labels_of_value(gateway))),
        spec: value_spec("Gateway", &id, gateway)?,
        external_id: id.uid,
        addresses,
        container_cluster_id: Some(cluster_id.into()),
        container_project_id: project_id.map(SharedStr::from),
        listeners,
        ..Default::default()
    }))
}

#[cfg(test)]
pub(crate) mod tests;
