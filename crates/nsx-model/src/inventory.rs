//! Container inventory records (NSX Manager API, `com.vmware.nsx.model`): the ten
//! `Container*` discovered resources the MP adapter reports, their nested types, the
//! `ContainerInventoryData` batch envelope of
//! `POST /api/v1/inventory/container/{cluster-id}?action=updates`, and the list envelope of
//! `GET /api/v1/fabric/container-*`.
//!
//! Field names are NSX's wire names (`_last_sync_time`, `external_id`, ...). Everything is
//! optional and omitted when unset (NSX omits unset fields rather than sending `null`);
//! lists are omitted when empty. NSX enum values are [open enums](OpenEnumValue): a value a
//! newer NSX adds is kept as [`Other`](ContainerStatus::Other) and written back unchanged.
//!
//! [`ContainerObject`] is the polymorphic record, tagged by `resource_type` as on the wire.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// Implemented by the open string enums of this module.
pub trait OpenEnumValue {
    /// The wire spelling.
    fn as_str(&self) -> &str;
}

/// A string shared between records (ids and tags that many records repeat): serialized as a
/// plain JSON string, cloned without copying.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SharedStr(Arc<str>);

impl SharedStr {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The shared text itself.
    pub fn as_arc(&self) -> &Arc<str> {
        &self.0
    }
}

impl Default for SharedStr {
    fn default() -> Self {
        Self(Arc::from(""))
    }
}

impl std::ops::Deref for SharedStr {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for SharedStr {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for SharedStr {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SharedStr {
    fn from(text: &str) -> Self {
        Self(Arc::from(text))
    }
}

impl From<String> for SharedStr {
    fn from(text: String) -> Self {
        Self(Arc::from(text))
    }
}

impl From<&String> for SharedStr {
    fn from(text: &String) -> Self {
        Self(Arc::from(text.as_str()))
    }
}

impl From<Arc<str>> for SharedStr {
    fn from(text: Arc<str>) -> Self {
        Self(text)
    }
}

impl PartialEq<str> for SharedStr {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for SharedStr {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for SharedStr {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for SharedStr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SharedStr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(Self(Arc::from(&*text)))
    }
}

/// An NSX enum carried as a string: the known values as variants, anything else as `Other`.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version does not know, kept verbatim.
            Other(String),
        }

        impl $name {
            /// The value for a wire string.
            pub fn from_wire(value: &str) -> Self {
                match value {
                    $($wire => Self::$variant,)+
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl OpenEnumValue for $name {
            fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Other(other) => other,
                }
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        /// Ordered by wire spelling.
        impl Ord for $name {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.as_str().cmp(other.as_str())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
                Ok(Self::from_wire(&value))
            }
        }
    };
}

open_enum! {
    /// `ContainerCluster.cluster_type`.
    ClusterType {
        Pas = "PAS", Pks = "PKS", Kubernetes = "Kubernetes", Openshift = "Openshift", Wcp = "WCP",
        WcpGuest = "WCP_Guest", Aks = "AKS", Eks = "EKS", TkgM = "TKGm", TkgI = "TKGi", Gke = "GKE",
        Gardener = "Gardener", Rancher = "Rancher", Tas = "TAS", SupervisorCluster = "SupervisorCluster",
        WorkloadCluster = "WorkloadCluster", OtherType = "Other",
    }
}

open_enum! {
    /// `ContainerCluster.cni_type`.
    CniType { Ncp = "NCP", Antrea = "Antrea", OtherCni = "Other" }
}

open_enum! {
    /// `ContainerInfrastructureInfo.infra_type`.
    InfraType {
        VSphere = "vSphere", Aws = "AWS", Azure = "Azure", Google = "Google", Vmc = "VMC",
        Kvm = "KVM", Baremetal = "Baremetal",
    }
}

open_enum! {
    /// `network_status` of discovered resources.
    NetworkStatus { Healthy = "HEALTHY", Unhealthy = "UNHEALTHY" }
}

open_enum! {
    /// `status` of ContainerApplication and ContainerApplicationInstance.
    ContainerStatus {
        Unknown = "UNKNOWN", Healthy = "HEALTHY", Up = "UP", Down = "DOWN", Degraded = "DEGRADED",
    }
}

open_enum! {
    /// `ContainerApplication.type` (the Kubernetes Service type).
    ApplicationType {
        ClusterIp = "CLUSTER_IP", NodePort = "NODE_PORT", LoadBalancer = "LOAD_BALANCER",
        ExternalName = "EXTERNAL_NAME",
    }
}

open_enum! {
    /// L4 protocol of service ports, load-balancer ports and NodePortLocal endpoints.
    L4Protocol { Tcp = "TCP", Udp = "UDP", Sctp = "SCTP" }
}

open_enum! {
    /// `ContainerClusterNode.cni_agent_status`.
    CniAgentStatus { Healthy = "HEALTHY", Unhealthy = "UNHEALTHY" }
}

open_enum! {
    /// `ContainerNetworkPolicy.policy_type`.
    NetworkPolicyType {
        /// A Kubernetes NetworkPolicy.
        NetworkPolicy = "NETWORK_POLICY",
        /// An application security group (PAS).
        Asg = "ASG",
        /// An Antrea ClusterNetworkPolicy.
        Acnp = "ACNP",
        /// An Antrea (namespaced) NetworkPolicy.
        Anp = "ANP",
    }
}

open_enum! {
    /// `ContainerGatewayAddress.type`.
    GatewayAddressType { HostName = "HOST_NAME", IpAddress = "IP_ADDRESS", NamedAddress = "NAMED_ADDRESS" }
}

open_enum! {
    /// `ContainerGatewayListener.protocol`.
    GatewayProtocol { Http = "HTTP", Https = "HTTPS", Tcp = "TCP", Tls = "TLS", Udp = "UDP" }
}

open_enum! {
    /// `DiscoveredResourceScope.scope_type`.
    ScopeType { ContainerCluster = "CONTAINER_CLUSTER", Vpc = "VPC" }
}

open_enum! {
    /// `ContainerInventoryObject.object_update_type`.
    ObjectUpdateType { Create = "CREATE", Update = "UPDATE", Delete = "DELETE" }
}

/// NSX `Tag`: `scope` (≤ 128 characters) and `tag` (≤ 256 characters).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Tag {
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub scope: SharedStr,
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub tag: SharedStr,
}

/// NSX `KeyValuePair` (`origin_properties` entries).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeyValuePair {
    #[serde(default)]
    pub key: SharedStr,
    #[serde(default)]
    pub value: SharedStr,
}

impl KeyValuePair {
    /// A pair.
    pub fn new(key: impl Into<SharedStr>, value: impl Into<SharedStr>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// NSX `DiscoveredResourceScope`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveredResourceScope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_type: Option<ScopeType>,
}

/// NSX `NetworkError` (read-only: NSX reports it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
}

/// NSX `ResourceLink` / `SelfResourceLink` (read-only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceLink {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rel: Option<String>,
}

/// NSX `ContainerInfrastructureInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfrastructureInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infra_type: Option<InfraType>,
}

/// NSX `ContainerServicePort`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerServicePort {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<L4Protocol>,
    /// A number or a port name, as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_port: Option<String>,
}

/// NSX `PortStatus`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<L4Protocol>,
}

/// NSX `ContainerLoadBalancerIngress`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerLoadBalancerIngress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortStatus>,
}

/// NSX `NodePortLocalEndpoint`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodePortLocalEndpoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<L4Protocol>,
}

/// NSX `SubnetIpRange` (an ExternalIPPool range: a CIDR or start/end, plus subnet info).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetIpRange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_length: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<i64>,
}

/// NSX `ContainerGatewayAddress`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerGatewayAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub address_type: Option<GatewayAddressType>,
}

/// NSX `ContainerGatewayListener`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerGatewayListener {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<GatewayProtocol>,
}

/// Declares an inventory record: the `DiscoveredResource` fields every record has, plus its
/// own fields. `resource_type` is not a field: [`ContainerObject`] carries it as its tag.
macro_rules! record {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            /// Read-only.
            #[serde(default, rename = "_links", skip_serializing_if = "Vec::is_empty")]
            pub links: Vec<ResourceLink>,
            /// Read-only.
            #[serde(default, rename = "_schema", skip_serializing_if = "Option::is_none")]
            pub schema: Option<String>,
            /// Read-only.
            #[serde(default, rename = "_self", skip_serializing_if = "Option::is_none")]
            pub self_link: Option<Box<ResourceLink>>,
            /// Read-only: when NSX last stored the object (ms since the epoch).
            #[serde(default, rename = "_last_sync_time", skip_serializing_if = "Option::is_none")]
            pub last_sync_time: Option<i64>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub description: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub display_name: Option<String>,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub scope: Vec<DiscoveredResourceScope>,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub tags: Vec<Tag>,
            /// The object's id in its origin (the Kubernetes UID).
            #[serde(default, skip_serializing_if = "String::is_empty")]
            pub external_id: String,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub origin_properties: Vec<KeyValuePair>,
            $($(#[$fmeta])* pub $field: $ty,)*
        }
    };
}

record! {
    /// NSX `ContainerCluster`: the Kubernetes cluster itself.
    ContainerCluster {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        cluster_ip_ranges: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cluster_type: Option<ClusterType>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cni_type: Option<CniType>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        infrastructure: Option<ContainerInfrastructureInfo>,
        /// Read-only.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        network_errors: Vec<NetworkError>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        network_status: Option<NetworkStatus>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node_port_local_range: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node_port_range: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        supervisor_project_id: Option<String>,
    }
}

record! {
    /// NSX `ContainerProject`: a Namespace.
    ContainerProject {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container_cluster_id: Option<SharedStr>,
        /// Read-only.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        network_errors: Vec<NetworkError>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        network_status: Option<NetworkStatus>,
    }
}

record! {
    /// NSX `ContainerApplication`: a Service.
    ContainerApplication {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        cluster_ips: Vec<String>,
        /// Read-only in the model; NSX sets it from the update's cluster.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container_cluster_id: Option<SharedStr>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container_project_id: Option<SharedStr>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        load_balancer_ingress: Vec<ContainerLoadBalancerIngress>,
        /// Read-only.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        network_errors: Vec<NetworkError>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        network_status: Option<NetworkStatus>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        node_port_local_endpoints: Vec<NodePortLocalEndpoint>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        service_ports: Vec<ContainerServicePort>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<ContainerStatus>,
        #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
        application_type: Option<ApplicationType>,
    }
}

record! {
    /// NSX `ContainerApplicationInstance`: a Pod. It has no IP field: the Pod IPs are the
    /// `origin_properties` entry `ip` (comma-joined when dual-stack).
    ContainerApplicationInstance {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cluster_node_id: Option<SharedStr>,
        /// The `external_id`s of the ContainerApplications (Services) selecting the Pod.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        container_application_ids: Vec<SharedStr>,
        /// Read-only in the model; NSX sets it from the update's cluster.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container_cluster_id: Option<SharedStr>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container_project_id: Option<SharedStr>,
        /// Read-only.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        network_errors: Vec<NetworkError>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        network_status: Option<NetworkStatus>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<ContainerStatus>,
    }
}

record! {
    /// NSX `ContainerClusterNode`: a Node.
    ContainerClusterNode {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cni_agent_status: Option<CniAgentStatus>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container_cluster_id: Option<SharedStr>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        external_ip_addresses: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ip_addresses: Vec<String>,
        /// Read-only.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        network_errors: Vec<NetworkError>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        network_status: Option<NetworkStatus>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pod_cidrs: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_id: Option<String>,
    }
}

record! {
    /// NSX `ContainerIngressPolicy`: an Ingress.
    ContainerIngressPolicy {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        container_application_ids: Vec<SharedStr>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container_cluster_id: Option<SharedStr>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container_project_id: Option<SharedStr>,
        /// Spelled `load_balance_ingress` by NSX.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        load_balance_ingress: Vec<ContainerLoadBalancerIngress>,
        /// Read-only.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        network_errors: Vec<NetworkError>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        network_status: Option<NetworkStatus>,
        /// The Ingress spec as YAML.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        spec: Option<String>,
    }
}

record! {
    /// NSX `ContainerNetworkPolicy`: a Kubernetes NetworkPolicy, an Antrea
    /// ClusterNetworkPolicy or an Antrea NetworkPolicy.
    ContainerNetworkPolicy {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container_cluster_id: Option<SharedStr>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container_project_id: Option<SharedStr>,
        /// Read-only.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        network_errors: Vec<NetworkError>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        network_status: Option<NetworkStatus>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        policy_type: Option<NetworkPolicyType>,
        /// The policy spec as YAML.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        spec: Option<String>,
    }
}

record! {
    /// NSX `ContainerEgress`: an Antrea Egress.
    ContainerEgress {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container_cluster_id: Option<SharedStr>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        egress_ip: Option<String>,
        /// The Egress spec as YAML.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        spec: Option<String>,
    }
}

record! {
    /// NSX `ContainerIpPool`: an Antrea ExternalIPPool.
    ContainerIpPool {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container_cluster_id: Option<SharedStr>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ip_ranges: Vec<SubnetIpRange>,
        /// 4 or 6.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ip_version: Option<i64>,
        /// The pool spec as YAML.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        spec: Option<String>,
    }
}

record! {
    /// NSX `ContainerGateway`: a Gateway API Gateway.
    ContainerGateway {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        addresses: Vec<ContainerGatewayAddress>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container_cluster_id: Option<SharedStr>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container_project_id: Option<SharedStr>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        listeners: Vec<ContainerGatewayListener>,
        /// The Gateway spec as YAML.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        spec: Option<String>,
    }
}

/// The inventory types, as their `resource_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    ContainerCluster,
    ContainerProject,
    ContainerClusterNode,
    ContainerApplication,
    ContainerApplicationInstance,
    ContainerIngressPolicy,
    ContainerNetworkPolicy,
    ContainerIpPool,
    ContainerEgress,
    ContainerGateway,
}

impl ResourceType {
    /// Every inventory type.
    pub const ALL: [ResourceType; 10] = [
        Self::ContainerCluster,
        Self::ContainerProject,
        Self::ContainerClusterNode,
        Self::ContainerApplication,
        Self::ContainerApplicationInstance,
        Self::ContainerIngressPolicy,
        Self::ContainerNetworkPolicy,
        Self::ContainerIpPool,
        Self::ContainerEgress,
        Self::ContainerGateway,
    ];

    /// The `resource_type` string (also the schema model's name).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ContainerCluster => "ContainerCluster",
            Self::ContainerProject => "ContainerProject",
            Self::ContainerClusterNode => "ContainerClusterNode",
            Self::ContainerApplication => "ContainerApplication",
            Self::ContainerApplicationInstance => "ContainerApplicationInstance",
            Self::ContainerIngressPolicy => "ContainerIngressPolicy",
            Self::ContainerNetworkPolicy => "ContainerNetworkPolicy",
            Self::ContainerIpPool => "ContainerIpPool",
            Self::ContainerEgress => "ContainerEgress",
            Self::ContainerGateway => "ContainerGateway",
        }
    }

    /// The type named `resource_type`, if it is an inventory type.
    pub fn from_name(resource_type: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == resource_type)
    }

    /// The `GET /api/v1/fabric/...` collection path of the type.
    pub fn fabric_path(self) -> &'static str {
        match self {
            Self::ContainerCluster => "/api/v1/fabric/container-clusters",
            Self::ContainerProject => "/api/v1/fabric/container-projects",
            Self::ContainerClusterNode => "/api/v1/fabric/container-cluster-nodes",
            Self::ContainerApplication => "/api/v1/fabric/container-applications",
            Self::ContainerApplicationInstance => "/api/v1/fabric/container-application-instances",
            Self::ContainerIngressPolicy => "/api/v1/fabric/container-ingress-policies",
            Self::ContainerNetworkPolicy => "/api/v1/fabric/container-network-policies",
            Self::ContainerIpPool => "/api/v1/fabric/container-ip-pools",
            Self::ContainerEgress => "/api/v1/fabric/container-egresses",
            Self::ContainerGateway => "/api/v1/fabric/container-gateways",
        }
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Any inventory record, tagged by `resource_type` as on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "resource_type")]
pub enum ContainerObject {
    ContainerCluster(ContainerCluster),
    ContainerProject(ContainerProject),
    ContainerClusterNode(ContainerClusterNode),
    ContainerApplication(ContainerApplication),
    ContainerApplicationInstance(ContainerApplicationInstance),
    ContainerIngressPolicy(ContainerIngressPolicy),
    ContainerNetworkPolicy(ContainerNetworkPolicy),
    ContainerIpPool(ContainerIpPool),
    ContainerEgress(ContainerEgress),
    ContainerGateway(ContainerGateway),
}

/// Calls `$body` with `$record` bound to the inner record of any variant.
macro_rules! each_variant {
    ($object:expr, $record:ident => $body:expr) => {
        match $object {
            ContainerObject::ContainerCluster($record) => $body,
            ContainerObject::ContainerProject($record) => $body,
            ContainerObject::ContainerClusterNode($record) => $body,
            ContainerObject::ContainerApplication($record) => $body,
            ContainerObject::ContainerApplicationInstance($record) => $body,
            ContainerObject::ContainerIngressPolicy($record) => $body,
            ContainerObject::ContainerNetworkPolicy($record) => $body,
            ContainerObject::ContainerIpPool($record) => $body,
            ContainerObject::ContainerEgress($record) => $body,
            ContainerObject::ContainerGateway($record) => $body,
        }
    };
}

/// A record that is not valid inventory JSON.
#[derive(Debug, thiserror::Error)]
#[error("not a container inventory record: {0}")]
pub struct RecordError(#[from] serde_json::Error);

impl ContainerObject {
    /// The record's `resource_type`.
    pub fn resource_type(&self) -> ResourceType {
        match self {
            Self::ContainerCluster(_) => ResourceType::ContainerCluster,
            Self::ContainerProject(_) => ResourceType::ContainerProject,
            Self::ContainerClusterNode(_) => ResourceType::ContainerClusterNode,
            Self::ContainerApplication(_) => ResourceType::ContainerApplication,
            Self::ContainerApplicationInstance(_) => ResourceType::ContainerApplicationInstance,
            Self::ContainerIngressPolicy(_) => ResourceType::ContainerIngressPolicy,
            Self::ContainerNetworkPolicy(_) => ResourceType::ContainerNetworkPolicy,
            Self::ContainerIpPool(_) => ResourceType::ContainerIpPool,
            Self::ContainerEgress(_) => ResourceType::ContainerEgress,
            Self::ContainerGateway(_) => ResourceType::ContainerGateway,
        }
    }

    /// The record's `external_id`.
    pub fn external_id(&self) -> &str {
        each_variant!(self, record => &record.external_id)
    }

    /// The record's `display_name`.
    pub fn display_name(&self) -> Option<&str> {
        each_variant!(self, record => record.display_name.as_deref())
    }

    /// The record's tags.
    pub fn tags(&self) -> &[Tag] {
        each_variant!(self, record => &record.tags)
    }

    /// The value of the `origin_properties` entry `key`.
    pub fn origin_property(&self, key: &str) -> Option<&str> {
        each_variant!(self, record => record
            .origin_properties
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.value.as_str()))
    }

    /// Clears what NSX sets and reports itself (`_links`, `_schema`, `_self`,
    /// `_last_sync_time`, `network_errors`), so that a record read from NSX compares with
    /// one the adapter built.
    pub fn clear_server_fields(&mut self) {
        each_variant!(self, record => {
            record.links.clear();
            record.schema = None;
            record.self_link = None;
            record.last_sync_time = None;
        });
        match self {
            Self::ContainerCluster(r) => r.network_errors.clear(),
            Self::ContainerProject(r) => r.network_errors.clear(),
            Self::ContainerClusterNode(r) => r.network_errors.clear(),
            Self::ContainerApplication(r) => r.network_errors.clear(),
            Self::ContainerApplicationInstance(r) => r.network_errors.clear(),
            Self::ContainerIngressPolicy(r) => r.network_errors.clear(),
            Self::ContainerNetworkPolicy(r) => r.network_errors.clear(),
            Self::ContainerIpPool(_) | Self::ContainerEgress(_) | Self::ContainerGateway(_) => {}
        }
    }

    /// The record as NSX JSON (an object with `resource_type`).
    pub fn to_json(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            // Records are plain structs of strings, numbers and lists: serialization into a
            // `Value` cannot fail, and an internally tagged enum always gives an object.
            _ => Map::new(),
        }
    }

    /// Parses NSX JSON (as `GET /api/v1/fabric/container-*` returns it). Unknown fields are
    /// ignored; unknown enum values are kept.
    pub fn from_json(value: Value) -> Result<Self, RecordError> {
        Ok(serde_json::from_value(value)?)
    }
}

/// NSX `ContainerInventoryObject`: one change in a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerInventoryObject {
    pub object_update_type: ObjectUpdateType,
    /// CREATE: the whole record; UPDATE: `resource_type`, `external_id` and the changed
    /// fields (merged by NSX); DELETE: `resource_type` and `external_id` only.
    pub container_object: Map<String, Value>,
}

/// NSX `ContainerInventoryData`: the body of
/// `POST /api/v1/inventory/container/{cluster-id}?action=updates`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerInventoryData {
    #[serde(default)]
    pub container_inventory_objects: Vec<ContainerInventoryObject>,
}

/// The list envelope of `GET /api/v1/fabric/container-*` (`Container*ListResult`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerListResult<T> {
    #[serde(default = "Vec::new")]
    pub results: Vec<T>,
    /// Set only on the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_count: Option<i64>,
    /// Absent (or empty) on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_ascending: Option<bool>,
}

impl<T> ContainerListResult<T> {
    /// The cursor of the next page, if there is one (an empty cursor, or one starting with
    /// NSX's null-cursor prefix `0000`, ends the list).
    pub fn next_cursor(&self) -> Option<&str> {
        self.cursor
            .as_deref()
            .filter(|c| !c.is_empty() && !c.starts_with("0000"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn manager_bundle() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/nsx-schemas/nsx-manager-4.2.schema.json"
        );
        let text = std::fs::read_to_string(path).expect("the NSX manager schema bundle");
        serde_json::from_str(&text).expect("bundle is JSON")
    }

    fn problems(bundle: &Value, model: &str, instance: &Value) -> Vec<String> {
        let mut root = bundle.clone();
        root["$ref"] = json!(format!("#/$defs/{model}"));
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(false)
            .build(&root)
            .expect("schema compiles");
        validator
            .iter_errors(instance)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect()
    }

    fn tags() -> Vec<Tag> {
        vec![Tag {
            scope: "dis:k8s:app".into(),
            tag: "web".into(),
        }]
    }

    fn origin() -> Vec<KeyValuePair> {
        vec![KeyValuePair::new("ip", "10.0.0.5")]
    }

    /// One record of every type with every writable field set.
    fn full_records() -> Vec<ContainerObject> {
        vec![
            ContainerObject::ContainerCluster(ContainerCluster {
                display_name: Some("sales".into()),
                external_id: "cluster-1".into(),
                tags: tags(),
                scope: vec![DiscoveredResourceScope {
                    scope_id: Some("cluster-1".into()),
                    scope_type: Some(ScopeType::ContainerCluster),
                }],
                cluster_ip_ranges: vec!["10.96.0.0/12".into()],
                cluster_type: Some(ClusterType::Kubernetes),
                cni_type: Some(CniType::Antrea),
                infrastructure: Some(ContainerInfrastructureInfo {
                    infra_type: Some(InfraType::VSphere),
                }),
                network_status: Some(NetworkStatus::Healthy),
                node_port_local_range: Some("61000-62000".into()),
                node_port_range: Some("30000-32767".into()),
                ..Default::default()
            }),
            ContainerObject::ContainerProject(ContainerProject {
                display_name: Some("default".into()),
                external_id: "ns-uid".into(),
                container_cluster_id: Some("cluster-1".into()),
                tags: tags(),
                ..Default::default()
            }),
            ContainerObject::ContainerClusterNode(ContainerClusterNode {
                display_name: Some("worker-1".into()),
                external_id: "node-uid".into(),
                cni_agent_status: Some(CniAgentStatus::Healthy),
                container_cluster_id: Some("cluster-1".into()),
                ip_addresses: vec!["192.168.1.10".into()],
                external_ip_addresses: vec!["203.0.113.10".into()],
                pod_cidrs: vec!["10.10.1.0/24".into()],
                provider_id: Some("vsphere://4211".into()),
                origin_properties: vec![KeyValuePair::new("kubelet_version", "v1.33.0")],
                ..Default::default()
            }),
            ContainerObject::ContainerApplication(ContainerApplication {
                display_name: Some("web".into()),
                external_id: "svc-uid".into(),
                cluster_ips: vec!["10.96.0.10".into()],
                container_project_id: Some("ns-uid".into()),
                load_balancer_ingress: vec![ContainerLoadBalancerIngress {
                    ip: Some("203.0.113.7".into()),
                    hostname: Some("lb.example.com".into()),
                    ports: vec![PortStatus {
                        port: Some(80),
                        protocol: Some(L4Protocol::Tcp),
                    }],
                }],
                node_port_local_endpoints: vec![NodePortLocalEndpoint {
                    node_ip: Some("192.168.1.10".into()),
                    node_port: Some(61001),
                    protocol: Some(L4Protocol::Tcp),
                }],
                service_ports: vec![ContainerServicePort {
                    name: Some("http".into()),
                    port: Some(80),
                    node_port: Some(30080),
                    protocol: Some(L4Protocol::Tcp),
                    target_port: Some("8080".into()),
                }],
                status: Some(ContainerStatus::Up),
                application_type: Some(ApplicationType::LoadBalancer),
                origin_properties: vec![
                    KeyValuePair::new("type", "LoadBalancer"),
                    KeyValuePair::new("ip", "10.96.0.10"),
                ],
                ..Default::default()
            }),
            ContainerObject::ContainerApplicationInstance(ContainerApplicationInstance {
                display_name: Some("web-0".into()),
                external_id: "pod-uid".into(),
                cluster_node_id: Some("node-uid".into()),
                container_application_ids: vec!["svc-uid".into()],
                container_project_id: Some("ns-uid".into()),
                status: Some(ContainerStatus::Up),
                origin_properties: origin(),
                tags: tags(),
                ..Default::default()
            }),
            ContainerObject::ContainerIngressPolicy(ContainerIngressPolicy {
                display_name: Some("web".into()),
                external_id: "ing-uid".into(),
                container_application_ids: vec!["svc-uid".into()],
                container_cluster_id: Some("cluster-1".into()),
                container_project_id: Some("ns-uid".into()),
                load_balance_ingress: vec![ContainerLoadBalancerIngress {
                    ip: Some("203.0.113.8".into()),
                    ..Default::default()
                }],
                spec: Some("rules: []\n".into()),
                ..Default::default()
            }),
            ContainerObject::ContainerNetworkPolicy(ContainerNetworkPolicy {
                display_name: Some("deny".into()),
                external_id: "np-uid".into(),
                container_cluster_id: Some("cluster-1".into()),
                container_project_id: Some("ns-uid".into()),
                policy_type: Some(NetworkPolicyType::NetworkPolicy),
                spec: Some("podSelector: {}\n".into()),
                ..Default::default()
            }),
            ContainerObject::ContainerIpPool(ContainerIpPool {
                display_name: Some("pool".into()),
                external_id: "pool-uid".into(),
                container_cluster_id: Some("cluster-1".into()),
                ip_ranges: vec![SubnetIpRange {
                    start: Some("10.2.0.10".into()),
                    end: Some("10.2.0.20".into()),
                    gateway: Some("10.2.0.1".into()),
                    prefix_length: Some(24),
                    vlan: Some(10),
                    ..Default::default()
                }],
                ip_version: Some(4),
                spec: Some("ipRanges: []\n".into()),
                ..Default::default()
            }),
            ContainerObject::ContainerEgress(ContainerEgress {
                display_name: Some("egress".into()),
                external_id: "egress-uid".into(),
                container_cluster_id: Some("cluster-1".into()),
                egress_ip: Some("10.2.0.11".into()),
                origin_properties: vec![KeyValuePair::new("externalIPPool", "pool")],
                spec: Some("egressIP: 10.2.0.11\n".into()),
                ..Default::default()
            }),
            ContainerObject::ContainerGateway(ContainerGateway {
                display_name: Some("gw".into()),
                external_id: "gw-uid".into(),
                container_cluster_id: Some("cluster-1".into()),
                container_project_id: Some("ns-uid".into()),
                addresses: vec![ContainerGatewayAddress {
                    address: Some("203.0.113.9".into()),
                    address_type: Some(GatewayAddressType::IpAddress),
                }],
                listeners: vec![ContainerGatewayListener {
                    name: Some("http".into()),
                    hostname: Some("*.example.com".into()),
                    port: Some(80),
                    protocol: Some(GatewayProtocol::Http),
                }],
                spec: Some("gatewayClassName: x\n".into()),
                ..Default::default()
            }),
        ]
    }

    #[test]
    fn every_record_type_validates_against_the_manager_schema() {
        let bundle = manager_bundle();
        let records = full_records();
        assert_eq!(records.len(), ResourceType::ALL.len());
        for record in records {
            let json = Value::Object(record.to_json());
            let model = record.resource_type().as_str();
            let found = problems(&bundle, model, &json);
            assert!(found.is_empty(), "{model}: {found:?}\n{json:#}");
        }
    }

    #[test]
    fn a_misspelt_field_fails_the_schema_check() {
        // The check above can fail: the bundle's models are closed.
        let bundle = manager_bundle();
        let mut json = ContainerObject::ContainerProject(ContainerProject::default()).to_json();
        json.insert("externalId".into(), json!("x"));
        assert!(!problems(&bundle, "ContainerProject", &Value::Object(json)).is_empty());
    }

    #[test]
    fn records_round_trip_and_carry_their_resource_type() {
        for record in full_records() {
            let json = record.to_json();
            assert_eq!(
                json["resource_type"],
                json!(record.resource_type().as_str())
            );
            let back = ContainerObject::from_json(Value::Object(json)).unwrap();
            assert_eq!(back, record);
        }
    }

    #[test]
    fn unknown_enum_values_and_fields_survive_reading() {
        let read = ContainerObject::from_json(json!({
            "resource_type": "ContainerApplication",
            "external_id": "x",
            "status": "SOMETHING_NEW",
            "a_field_from_nsx_5": 1,
            "_last_sync_time": 1700000000000_i64,
        }))
        .unwrap();
        let ContainerObject::ContainerApplication(app) = &read else {
            panic!("wrong variant: {read:?}");
        };
        assert_eq!(
            app.status,
            Some(ContainerStatus::Other("SOMETHING_NEW".into()))
        );
        assert_eq!(read.to_json()["status"], json!("SOMETHING_NEW"));
        assert_eq!(app.last_sync_time, Some(1_700_000_000_000));
    }

    #[test]
    fn server_fields_are_cleared_for_comparison() {
        let mut read = ContainerObject::from_json(json!({
            "resource_type": "ContainerProject",
            "external_id": "x",
            "_last_sync_time": 5,
            "_links": [{"rel": "self", "href": "/x"}],
            "_schema": "ContainerProject",
            "_self": {"rel": "self"},
            "network_errors": [{"error_message": "boom"}],
            "display_name": "x",
        }))
        .unwrap();
        read.clear_server_fields();
        assert_eq!(
            Value::Object(read.to_json()),
            json!({"resource_type": "ContainerProject", "external_id": "x", "display_name": "x"})
        );
    }

    #[test]
    fn non_inventory_documents_are_refused() {
        assert!(ContainerObject::from_json(json!({"resource_type": "Group"})).is_err());
        assert!(ContainerObject::from_json(json!({"external_id": "x"})).is_err());
        assert!(ContainerObject::from_json(json!([1])).is_err());
    }

    #[test]
    fn the_update_envelope_has_nsx_field_names() {
        let data = ContainerInventoryData {
            container_inventory_objects: vec![ContainerInventoryObject {
                object_update_type: ObjectUpdateType::Delete,
                container_object: json!({"resource_type": "ContainerProject", "external_id": "u"})
                    .as_object()
                    .cloned()
                    .unwrap(),
            }],
        };
        assert_eq!(
            serde_json::to_value(&data).unwrap(),
            json!({"container_inventory_objects": [{"object_update_type": "DELETE",
                "container_object": {"resource_type": "ContainerProject", "external_id": "u"}}]})
        );
    }

    #[test]
    fn list_results_end_on_an_absent_empty_or_null_cursor() {
        let page: ContainerListResult<ContainerObject> = serde_json::from_value(json!({
            "results": [{"resource_type": "ContainerProject", "external_id": "a"}],
            "result_count": 3, "cursor": "abc"
        }))
        .unwrap();
        assert_eq!(page.next_cursor(), Some("abc"));
        assert_eq!(page.results[0].external_id(), "a");
        for cursor in [json!(null), json!(""), json!("0000abc")] {
            let page: ContainerListResult<Value> =
                serde_json::from_value(json!({"results": [], "cursor": cursor})).unwrap();
            assert_eq!(page.next_cursor(), None);
        }
    }

    #[test]
    fn records_stay_small_in_memory() {
        // The MP adapter keeps one record per Pod: 50,000 of them must stay cheap.
        let size = std::mem::size_of::<ContainerObject>();
        assert!(size <= 480, "ContainerObject is {size} bytes");
    }

    #[test]
    fn resource_type_names_round_trip() {
        for t in ResourceType::ALL {
            assert_eq!(ResourceType::from_name(t.as_str()), Some(t));
        }
        assert_eq!(ResourceType::from_name("Group"), None);
    }
}
