//! [`InventoryProjector`]: turns watch events into inventory records, keeps the relations
//! between objects that records depend on, and feeds the [`InventoryIndex`].
//!
//! Cross-object dependencies, and what a change re-projects:
//!
//! | when this changes | these records change |
//! |---|---|
//! | a Namespace's UID appears | `container_project_id` of every record in the Namespace |
//! | a Node's UID appears | `cluster_node_id` of the Pods on the Node |
//! | a Service's selector | `container_application_ids` of the Pods it selects or selected |
//! | a Pod's labels | its own `container_application_ids`; status and NodePortLocal endpoints of the Services selecting it |
//! | a Pod's readiness or NodePortLocal annotation | status and NodePortLocal endpoints of the Services selecting it |
//! | a Service appears or goes | `container_application_ids` of the Ingresses routing to it by name |
//! | an EndpointSlice of a Service without a selector | `container_application_ids` of the Pods its ready endpoints name; status and NodePortLocal endpoints of the Service |
//! | an AntreaAgentInfo (or `now`, see [`refresh_agent_health`](InventoryProjector::refresh_agent_health)) | `cni_agent_status` of its Node |
//!
//! Events may arrive in any order (a Pod before its Namespace or Node, a Service after its
//! Pods): the records converge to the same content once every object has been seen. Only
//! small facts are kept besides the records: per Pod its labels, readiness and NodePortLocal
//! mappings; per Service its selector and targets; per Ingress its backend names; per
//! EndpointSlice not managed by the EndpointSlice controller its Service name and the UIDs
//! of the Pods of its ready endpoints; per agent its conditions. Whole Kubernetes objects
//! are never kept.
//!
//! Services with a selector are derived from the selector and Pod readiness alone (their
//! EndpointSlices, written by the EndpointSlice controller from the same facts, are
//! ignored). A Service without a selector has the Pods its EndpointSlices name (endpoints
//! managed by hand, or mirrored from hand-written Endpoints): those Pods list it in
//! `container_application_ids`, and its status is UP with at least one ready endpoint,
//! DOWN with EndpointSlices but none ready, UNKNOWN without EndpointSlices.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use antrea_types::NetworkPolicy as AntreaNetworkPolicy;
use antrea_types::{AntreaAgentInfo, AntreaAgentInfoFields, ClusterNetworkPolicy};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::jiff::Timestamp;
use nsx_model::inventory::{
    CniAgentStatus, ContainerObject, L4Protocol, ResourceType, SharedStr, Tag,
};
use serde_json::Value;

use super::index::{InventoryError, InventoryIndex, InventoryKey};
use super::project::{
    self, Identity, NplMapping, PodFacts, PodPorts, PodRefs, ProjectionError, ServiceFacts,
    ServiceRefs,
};
use crate::mp::health::{AgentHealth, HealthPolicy, agent_health};

/// What the projector refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectorError {
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
}

/// What is kept of a Pod: interned strings, and port facts only for the few Pods with
/// NodePortLocal mappings.
#[derive(Debug)]
struct PodState {
    namespace: Arc<str>,
    node: Option<Arc<str>>,
    /// Sorted by key.
    labels: Box<[(Arc<str>, Arc<str>)]>,
    ready: bool,
    ports: Option<Box<StoredPorts>>,
    /// UIDs of the selecting Services, sorted.
    services: Vec<Arc<str>>,
}

#[derive(Debug)]
struct StoredPorts {
    npl: Vec<NplMapping>,
    named_ports: Vec<(String, i64, L4Protocol)>,
}

impl PodState {
    fn ports(&self) -> PodPorts<'_> {
        match &self.ports {
            Some(p) => PodPorts {
                npl: &p.npl,
                named_ports: &p.named_ports,
            },
            None => PodPorts {
                npl: &[],
                named_ports: &[],
            },
        }
    }
}

/// Shares the strings many Pods repeat (namespaces, Node names, label keys and values).
/// Strings no Pod uses any more are dropped when the set has doubled since the last sweep.
#[derive(Debug, Default)]
struct Interner {
    strings: HashSet<Arc<str>>,
    sweep_at: usize,
}

impl Interner {
    fn intern(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.strings.get(text) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(text);
        self.strings.insert(shared.clone());
        if self.strings.len() >= self.sweep_at {
            self.strings.retain(|s| Arc::strong_count(s) > 1);
            self.sweep_at = (self.strings.len() * 2).max(1024);
        }
        shared
    }
}

#[derive(Debug)]
struct ServiceState {
    facts: ServiceFacts,
    /// UIDs of the Pods it selects.
    selected: HashSet<Arc<str>>,
    /// How many of those are Ready.
    ready: usize,
}

/// What is kept of an EndpointSlice of a Service without a selector.
#[derive(Debug)]
struct SliceState {
    /// "namespace/service name".
    service: String,
    /// UIDs of the Pods of its ready endpoints, sorted.
    pods: Vec<Arc<str>>,
}

/// The label naming an EndpointSlice's Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The label naming who manages an EndpointSlice.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// The EndpointSlice controller's `managed-by` value: its slices mirror Services' selectors.
pub const ENDPOINTSLICE_CONTROLLER: &str = "endpointslice-controller.k8s.io";

#[derive(Debug)]
struct IngressState {
    namespace: String,
    backends: Vec<String>,
}

#[derive(Debug)]
struct AgentState {
    /// The AntreaAgentInfo cut to its name and conditions.
    info: AntreaAgentInfo,
    health: AgentHealth,
}

/// Label `key`=`value` of a namespace, as one map key.
fn label_key(key: &str, value: &str) -> String {
    let mut out = String::with_capacity(key.len() + value.len() + 1);
    out.push_str(key);
    out.push('\0');
    out.push_str(value);
    out
}

fn namespaced_name(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// See the module documentation.
#[derive(Debug)]
pub struct InventoryProjector {
    cluster_id: String,
    health_policy: HealthPolicy,
    index: InventoryIndex,
    /// Namespace name → UID.
    namespaces: HashMap<String, String>,
    /// Namespace name → keys of the namespaced records projected before its UID was known.
    by_namespace: HashMap<String, HashSet<InventoryKey>>,
    /// Node name → UID.
    nodes: HashMap<String, String>,
    /// Node name → UIDs of the Pods projected on it before its UID was known.
    pods_by_node: HashMap<String, HashSet<Arc<str>>>,
    pods: HashMap<Arc<str>, PodState>,
    /// Namespace → label key/value → Pod UIDs.
    pod_labels: HashMap<String, HashMap<String, HashSet<Arc<str>>>>,
    services: HashMap<Arc<str>, ServiceState>,
    /// Namespace → the first key/value of a selector → Service UIDs.
    service_anchors: HashMap<String, HashMap<String, HashSet<Arc<str>>>>,
    /// "namespace/name" → Service UID.
    services_by_name: HashMap<String, Arc<str>>,
    ingresses: HashMap<Arc<str>, IngressState>,
    /// EndpointSlice UID → what it says.
    slices: HashMap<Arc<str>, SliceState>,
    /// "namespace/service name" → UIDs of its EndpointSlices.
    slices_by_service: HashMap<String, HashSet<Arc<str>>>,
    /// Pod UID → Services without a selector whose EndpointSlices name it (sorted).
    endpoint_services: HashMap<Arc<str>, Vec<Arc<str>>>,
    /// "namespace/service name" → UIDs of the Ingresses routing to it.
    ingresses_by_backend: HashMap<String, HashSet<Arc<str>>>,
    /// Node name → its agent.
    agents: HashMap<String, AgentState>,
    strings: Interner,
}

impl InventoryProjector {
    /// A projector for the container cluster `cluster_id` (the ContainerCluster
    /// `external_id`, written into every record's `container_cluster_id`).
    pub fn new(cluster_id: impl Into<String>, health_policy: HealthPolicy) -> Self {
        Self {
            cluster_id: cluster_id.into(),
            health_policy,
            index: InventoryIndex::new(),
            namespaces: HashMap::new(),
            by_namespace: HashMap::new(),
            nodes: HashMap::new(),
            pods_by_node: HashMap::new(),
            pods: HashMap::new(),
            pod_labels: HashMap::new(),
            services: HashMap::new(),
            service_anchors: HashMap::new(),
            services_by_name: HashMap::new(),
            ingresses: HashMap::new(),
            slices: HashMap::new(),
            slices_by_service: HashMap::new(),
            endpoint_services: HashMap::new(),
            ingresses_by_backend: HashMap::new(),
            agents: HashMap::new(),
            strings: Interner::default(),
        }
    }

    /// The container cluster id.
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// The records and pending changes (cut batches, ack, nack, full comparison there).
    pub fn index(&self) -> &InventoryIndex {
        &self.index
    }

    /// Mutable access to the index, for `next_batch`, `ack`, `nack` and `diff_against`.
    pub fn index_mut(&mut self) -> &mut InventoryIndex {
        &mut self.index
    }

    /// Sets the ContainerCluster record itself (its `external_id` must be the cluster id).
    pub fn apply_cluster(&mut self, record: ContainerObject) -> Result<(), ProjectorError> {
        self.index.apply(record)?;
        Ok(())
    }

    /// Re-applies the record of `key` changed by `change` (nothing if there is none).
    fn patch(&mut self, key: &InventoryKey, change: impl FnOnce(&mut ContainerObject)) {
        let Some(current) = self.index.get(key) else {
            return;
        };
        let mut record = (**current).clone();
        change(&mut record);
        self.share(&mut record);
        // The record keeps its key, so apply cannot fail.
        let _ = self.index.apply(record);
    }

    /// Replaces the strings many records repeat (ids, tags, property keys) by shared ones.
    fn share(&mut self, record: &mut ContainerObject) {
        let strings = &mut self.strings;
        let mut share = |text: &mut SharedStr| *text = SharedStr::from(strings.intern(text));
        let mut share_common =
            |tags: &mut [Tag], keys: &mut [nsx_model::inventory::KeyValuePair]| {
                for tag in tags {
                    share(&mut tag.scope);
                    share(&mut tag.tag);
                }
                for pair in keys {
                    share(&mut pair.key);
                }
            };
        macro_rules! ids {
            ($r:expr, $($field:ident),*) => {{
                $(if let Some(id) = $r.$field.as_mut() {
                    *id = SharedStr::from(self.strings.intern(id));
                })*
            }};
        }
        match record {
            ContainerObject::ContainerApplicationInstance(r) => {
                share_common(&mut r.tags, &mut r.origin_properties);
                ids!(
                    r,
                    container_cluster_id,
                    container_project_id,
                    cluster_node_id
                );
                for id in &mut r.container_application_ids {
                    *id = SharedStr::from(self.strings.intern(id));
                }
            }
            ContainerObject::ContainerApplication(r) => {
                share_common(&mut r.tags, &mut r.origin_properties);
                ids!(r, container_cluster_id, container_project_id);
            }
            ContainerObject::ContainerProject(r) => {
                share_common(&mut r.tags, &mut r.origin_properties);
                ids!(r, container_cluster_id);
            }
            ContainerObject::ContainerClusterNode(r) => {
                share_common(&mut r.tags, &mut r.origin_properties);
                ids!(r, container_cluster_id);
            }
            _ => {}
        }
    }

    /// Shares a record's strings and sets it in the index.
    fn store(&mut self, mut record: ContainerObject) -> Result<(), ProjectorError> {
        self.share(&mut record);
        self.index.apply(record)?;
        Ok(())
    }

    fn project_id(&self, namespace: &str) -> Option<&str> {
        self.namespaces.get(namespace).map(String::as_str)
    }

    /// Remembers a namespaced record that still waits for its Namespace's UID.
    fn remember_namespaced(&mut self, namespace: &str, key: InventoryKey) {
        if self.namespaces.contains_key(namespace) {
            return;
        }
        self.by_namespace
            .entry(namespace.to_owned())
            .or_default()
            .insert(key);
    }

    fn forget_namespaced(&mut self, namespace: &str, key: &InventoryKey) {
        if let Some(keys) = self.by_namespace.get_mut(namespace) {
            keys.remove(key);
            if keys.is_empty() {
                self.by_namespace.remove(namespace);
            }
        }
    }

    // ------------------------------------------------------------------ namespaces

    /// A Namespace was added or changed.
    pub fn apply_namespace(&mut self, namespace: &Namespace) -> Result<(), ProjectorError> {
        let record = project::project_namespace(namespace, &self.cluster_id)?;
        let name = namespace.metadata.name.clone().unwrap_or_default();
        let uid = record.external_id().to_owned();
        self.store(record)?;
        if self.namespaces.get(&name) != Some(&uid) {
            self.namespaces.insert(name.clone(), uid.clone());
            let members: Vec<InventoryKey> = self
                .by_namespace
                .remove(&name)
                .map(|keys| keys.into_iter().collect())
                .unwrap_or_default();
            for key in members {
                let uid = uid.clone();
                self.patch(&key, |record| set_project_id(record, uid));
            }
        }
        Ok(())
    }

    /// A Namespace was deleted (its members are deleted by their own events).
    pub fn delete_namespace(&mut self, namespace: &Namespace) -> Result<(), ProjectorError> {
        let id = project::identity("Namespace", &namespace.metadata)?;
        if self.namespaces.get(&id.name) == Some(&id.uid) {
            self.namespaces.remove(&id.name);
        }
        self.index
            .delete(&InventoryKey::new(ResourceType::ContainerProject, id.uid));
        Ok(())
    }

    // ----------------------------------------------------------------------- nodes

    /// A Node was added or changed.
    pub fn apply_node(&mut self, node: &Node) -> Result<(), ProjectorError> {
        let name = node.metadata.name.clone().unwrap_or_default();
        let agent = self.agents.get(&name).map(|a| a.health);
        let record = project::project_node(node, &self.cluster_id, agent)?;
        let uid = record.external_id().to_owned();
        self.store(record)?;
        if self.nodes.get(&name) != Some(&uid) {
            self.nodes.insert(name.clone(), uid.clone());
            let pods: Vec<Arc<str>> = self
                .pods_by_node
                .remove(&name)
                .map(|pods| pods.into_iter().collect())
                .unwrap_or_default();
            for pod in pods {
                let key = InventoryKey::new(ResourceType::ContainerApplicationInstance, pod);
                let uid = uid.clone();
                self.patch(&key, |record| {
                    if let ContainerObject::ContainerApplicationInstance(r) = record {
                        r.cluster_node_id = Some(uid.into());
                    }
                });
            }
        }
        Ok(())
    }

    /// A Node was deleted.
    pub fn delete_node(&mut self, node: &Node) -> Result<(), ProjectorError> {
        let id = project::identity("Node", &node.metadata)?;
        if self.nodes.get(&id.name) == Some(&id.uid) {
            self.nodes.remove(&id.name);
        }
        self.index.delete(&InventoryKey::new(
            ResourceType::ContainerClusterNode,
            id.uid,
        ));
        Ok(())
    }

    fn set_node_agent_status(&mut self, node: &str, health: Option<AgentHealth>) {
        let Some(uid) = self.nodes.get(node).cloned() else {
            return;
        };
        let status = if health == Some(AgentHealth::Healthy) {
            CniAgentStatus::Healthy
        } else {
            CniAgentStatus::Unhealthy
        };
        self.patch(
            &InventoryKey::new(ResourceType::ContainerClusterNode, uid),
            |record| {
                if let ContainerObject::ContainerClusterNode(r) = record {
                    r.cni_agent_status = Some(status);
                }
            },
        );
    }

    /// An AntreaAgentInfo was added or changed; its Node's `cni_agent_status` follows the
    /// agent's health at `now`.
    pub fn apply_agent_info(&mut self, info: &AntreaAgentInfo, now: Timestamp) {
        let Some(node) = info.metadata.name.clone() else {
            return;
        };
        let mut trimmed = AntreaAgentInfo::new(
            &node,
            AntreaAgentInfoFields {
                agent_conditions: info.spec.agent_conditions.clone(),
                ..Default::default()
            },
        );
        trimmed.metadata.uid = info.metadata.uid.clone();
        let health = agent_health(&trimmed, now, &self.health_policy).health;
        let previous = self.agents.insert(
            node.clone(),
            AgentState {
                info: trimmed,
                health,
            },
        );
        if previous.map(|p| p.health) != Some(health) {
            self.set_node_agent_status(&node, Some(health));
        }
    }

    /// An AntreaAgentInfo was deleted: its Node's agent is no longer known (UNHEALTHY).
    pub fn delete_agent_info(&mut self, node: &str) {
        if self.agents.remove(node).is_some() {
            self.set_node_agent_status(node, None);
        }
    }

    /// Re-judges every agent at `now` (a heartbeat goes stale without any event): call it
    /// every heartbeat interval. Returns how many Nodes changed.
    pub fn refresh_agent_health(&mut self, now: Timestamp) -> usize {
        let changed: Vec<(String, AgentHealth)> = self
            .agents
            .iter_mut()
            .filter_map(|(node, state)| {
                let health = agent_health(&state.info, now, &self.health_policy).health;
                (health != state.health).then(|| {
                    state.health = health;
                    (node.clone(), health)
                })
            })
            .collect();
        for (node, health) in &changed {
            self.set_node_agent_status(node, Some(*health));
        }
        changed.len()
    }

    // ------------------------------------------------------------------------ pods

    /// Services of `namespace` whose selector selects a Pod with `labels`, sorted.
    fn selecting_services<K: AsRef<str>, V: AsRef<str>>(
        &self,
        namespace: &str,
        labels: &[(K, V)],
    ) -> Vec<Arc<str>> {
        let Some(anchors) = self.service_anchors.get(namespace) else {
            return Vec::new();
        };
        let mut found: Vec<Arc<str>> = labels
            .iter()
            .filter_map(|(k, v)| anchors.get(&label_key(k.as_ref(), v.as_ref())))
            .flatten()
            .filter(|uid| {
                self.services
                    .get(*uid)
                    .and_then(|s| s.facts.selector.as_ref())
                    .is_some_and(|selector| project::labels_match(labels, selector))
            })
            .cloned()
            .collect();
        found.sort();
        found.dedup();
        found
    }

    fn index_pod_labels(&mut self, uid: &Arc<str>, pod: &PodState, add: bool) {
        let labels = self
            .pod_labels
            .entry(pod.namespace.to_string())
            .or_default();
        for (k, v) in pod.labels.iter() {
            let key = label_key(k, v);
            if add {
                labels.entry(key).or_default().insert(uid.clone());
            } else if let Some(pods) = labels.get_mut(&key) {
                pods.remove(uid);
                if pods.is_empty() {
                    labels.remove(&key);
                }
            }
        }
        if labels.is_empty() {
            self.pod_labels.remove(&*pod.namespace);
        }
    }

    fn unlink_pod_from_node(&mut self, uid: &Arc<str>, node: Option<&Arc<str>>) {
        if let Some(node) = node
            && let Some(pods) = self.pods_by_node.get_mut(&**node)
        {
            pods.remove(uid);
            if pods.is_empty() {
                self.pods_by_node.remove(&**node);
            }
        }
    }

    fn pod_application_ids(services: &[Arc<str>]) -> Vec<String> {
        services.iter().map(|s| s.to_string()).collect()
    }

    /// The compact state kept for a Pod.
    fn pod_state(&mut self, facts: PodFacts, services: Vec<Arc<str>>) -> PodState {
        let labels = facts
            .labels
            .iter()
            .map(|(k, v)| (self.strings.intern(k), self.strings.intern(v)))
            .collect();
        let ports = (!facts.npl.is_empty()).then(|| {
            Box::new(StoredPorts {
                npl: facts.npl,
                named_ports: facts.named_ports,
            })
        });
        PodState {
            namespace: self.strings.intern(&facts.namespace),
            node: facts.node_name.as_deref().map(|n| self.strings.intern(n)),
            labels,
            ready: facts.ready,
            ports,
            services,
        }
    }

    /// A Pod was added or changed.
    pub fn apply_pod(&mut self, pod: &Pod) -> Result<(), ProjectorError> {
        let facts = project::pod_facts(pod)?;
        let uid: Arc<str> = Arc::from(facts.identity.uid.as_str());
        let previous = self.pods.remove(&uid);
        if let Some(old) = &previous {
            self.index_pod_labels(&uid, old, false);
            if old.node.as_deref() != facts.node_name.as_deref() {
                self.unlink_pod_from_node(&uid, old.node.as_ref());
            }
        }
        let mut services = self.selecting_services(&facts.namespace, &facts.labels);
        if let Some(by_endpoints) = self.endpoint_services.get(&uid) {
            services.extend(by_endpoints.iter().cloned());
            services.sort();
            services.dedup();
        }
        let key = InventoryKey::new(ResourceType::ContainerApplicationInstance, uid.clone());
        self.remember_namespaced(&facts.namespace, key);
        let application_ids = Self::pod_application_ids(&services);
        let record = project::project_pod(
            pod,
            &facts,
            PodRefs {
                cluster_id: &self.cluster_id,
                project_id: self.project_id(&facts.namespace),
                node_id: facts
                    .node_name
                    .as_ref()
                    .and_then(|n| self.nodes.get(n))
                    .map(String::as_str),
                application_ids: &application_ids,
            },
        )?;
        self.store(record)?;
        let state = self.pod_state(facts, services.clone());
        self.index_pod_labels(&uid, &state, true);
        if let Some(node) = &state.node
            && !self.nodes.contains_key(&**node)
        {
            self.pods_by_node
                .entry(node.to_string())
                .or_default()
                .insert(uid.clone());
        }
        // Services that selected it before or select it now see its readiness and mappings.
        let was_ready = previous.as_ref().is_some_and(|p| p.ready);
        let old_services = previous.map(|p| p.services).unwrap_or_default();
        let is_ready = state.ready;
        self.pods.insert(uid.clone(), state);
        let mut touched: Vec<Arc<str>> = old_services.clone();
        touched.extend(services.iter().cloned());
        touched.sort();
        touched.dedup();
        for service in touched {
            let was = old_services.contains(&service);
            let is = services.contains(&service);
            if let Some(state) = self.services.get_mut(&service) {
                if was {
                    state.selected.remove(&uid);
                    state.ready -= usize::from(was_ready).min(state.ready);
                }
                if is {
                    state.selected.insert(uid.clone());
                    state.ready += usize::from(is_ready);
                }
            }
            self.refresh_service(&service);
        }
        Ok(())
    }

    /// A Pod was deleted.
    pub fn delete_pod(&mut self, pod: &Pod) -> Result<(), ProjectorError> {
        let id = project::identity("Pod", &pod.metadata)?;
        let uid: Arc<str> = Arc::from(id.uid.as_str());
        let key = InventoryKey::new(ResourceType::ContainerApplicationInstance, uid.clone());
        if let Some(old) = self.pods.remove(&uid) {
            self.index_pod_labels(&uid, &old, false);
            self.unlink_pod_from_node(&uid, old.node.as_ref());
            self.forget_namespaced(&old.namespace, &key);
            for service in &old.services {
                if let Some(state) = self.services.get_mut(service)
                    && state.selected.remove(&uid)
                {
                    state.ready -= usize::from(old.ready).min(state.ready);
                }
                self.refresh_service(service);
            }
        }
        self.index.delete(&key);
        Ok(())
    }

    // -------------------------------------------------------------------- services

    /// Re-derives a Service's status and NodePortLocal endpoints from its Pods.
    fn refresh_service(&mut self, uid: &Arc<str>) {
        let Some(state) = self.services.get(uid) else {
            return;
        };
        let status = if state.facts.selector.is_none() {
            let name = namespaced_name(&state.facts.namespace, &state.facts.identity.name);
            if !self.slices_by_service.contains_key(&name) {
                nsx_model::inventory::ContainerStatus::Unknown
            } else if state.selected.is_empty() {
                nsx_model::inventory::ContainerStatus::Down
            } else {
                nsx_model::inventory::ContainerStatus::Up
            }
        } else if state.ready > 0 {
            nsx_model::inventory::ContainerStatus::Up
        } else {
            nsx_model::inventory::ContainerStatus::Down
        };
        let endpoints = if state.facts.npl_enabled {
            project::npl_endpoints(
                &state.facts,
                state
                    .selected
                    .iter()
                    .filter_map(|pod| self.pods.get(pod).map(PodState::ports)),
            )
        } else {
            Vec::new()
        };
        let key = InventoryKey::new(ResourceType::ContainerApplication, uid.clone());
        self.patch(&key, |record| {
            if let ContainerObject::ContainerApplication(r) = record {
                r.status = Some(status);
                r.node_port_local_endpoints = endpoints;
            }
        });
    }

    /// Pods of the namespace selected by `selector` (all of its key/values).
    fn selected_pods(
        &self,
        namespace: &str,
        selector: &BTreeMap<String, String>,
    ) -> HashSet<Arc<str>> {
        let Some(labels) = self.pod_labels.get(namespace) else {
            return HashSet::new();
        };
        let mut sets = Vec::with_capacity(selector.len());
        for (k, v) in selector {
            match labels.get(&label_key(k, v)) {
                Some(pods) => sets.push(pods),
                None => return HashSet::new(),
            }
        }
        let Some(smallest) = sets.iter().min_by_key(|s| s.len()) else {
            return HashSet::new();
        };
        smallest
            .iter()
            .filter(|pod| sets.iter().all(|s| s.contains(*pod)))
            .cloned()
            .collect()
    }

    fn anchor(facts: &ServiceFacts) -> Option<String> {
        facts
            .selector
            .as_ref()
            .and_then(|s| s.iter().next())
            .map(|(k, v)| label_key(k, v))
    }

    fn set_pod_services(&mut self, pod: &Arc<str>, service: &Arc<str>, selected: bool) {
        let Some(state) = self.pods.get_mut(pod) else {
            return;
        };
        let position = state.services.binary_search(service);
        match (position, selected) {
            (Err(at), true) => state.services.insert(at, service.clone()),
            (Ok(at), false) => {
                state.services.remove(at);
            }
            _ => return,
        }
        let ids = Self::pod_application_ids(&state.services);
        let key = InventoryKey::new(ResourceType::ContainerApplicationInstance, pod.clone());
        self.patch(&key, |record| {
            if let ContainerObject::ContainerApplicationInstance(r) = record {
                r.container_application_ids = ids.into_iter().map(SharedStr::from).collect();
            }
        });
    }

    fn refresh_ingresses_of(&mut self, namespace: &str, service_name: &str) {
        let uids: Vec<Arc<str>> = self
            .ingresses_by_backend
            .get(&namespaced_name(namespace, service_name))
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for uid in uids {
            let Some(state) = self.ingresses.get(&uid) else {
                continue;
            };
            let ids = self.backend_ids(&state.namespace, &state.backends);
            let key = InventoryKey::new(ResourceType::ContainerIngressPolicy, uid.clone());
            self.patch(&key, |record| {
                if let ContainerObject::ContainerIngressPolicy(r) = record {
                    r.container_application_ids = ids.into_iter().map(SharedStr::from).collect();
                }
            });
        }
    }

    /// A Service was added or changed.
    pub fn apply_service(&mut self, service: &Service) -> Result<(), ProjectorError> {
        let facts = project::service_facts(service)?;
        let uid: Arc<str> = Arc::from(facts.identity.uid.as_str());
        let previous = self.services.remove(&uid);
        if let Some(old) = &previous
            && let Some(anchor) = Self::anchor(&old.facts)
            && let Some(anchors) = self.service_anchors.get_mut(&old.facts.namespace)
        {
            if let Some(set) = anchors.get_mut(&anchor) {
                set.remove(&uid);
                if set.is_empty() {
                    anchors.remove(&anchor);
                }
            }
            if anchors.is_empty() {
                self.service_anchors.remove(&old.facts.namespace);
            }
        }
        let selected = match &facts.selector {
            Some(selector) => self.selected_pods(&facts.namespace, selector),
            None => self.endpoint_pods(&namespaced_name(&facts.namespace, &facts.identity.name)),
        };
        if let Some(old) = &previous
            && old.facts.selector.is_none()
        {
            for pod in &old.selected {
                self.link_endpoint_pod(pod, &uid, false);
            }
        }
        if facts.selector.is_none() {
            for pod in &selected {
                self.link_endpoint_pod(pod, &uid, true);
            }
        }
        let old_selected = previous.map(|p| p.selected).unwrap_or_default();
        if let Some(anchor) = Self::anchor(&facts) {
            self.service_anchors
                .entry(facts.namespace.clone())
                .or_default()
                .entry(anchor)
                .or_default()
                .insert(uid.clone());
        }
        let ready = selected
            .iter()
            .filter(|p| self.pods.get(*p).is_some_and(|p| p.ready))
            .count();
        let record = project::project_service(
            service,
            &facts,
            ServiceRefs {
                cluster_id: &self.cluster_id,
                project_id: self.project_id(&facts.namespace),
                status: None,
                npl_endpoints: Vec::new(),
            },
        )?;
        self.store(record)?;
        let key = InventoryKey::new(ResourceType::ContainerApplication, uid.clone());
        self.remember_namespaced(&facts.namespace, key);
        let by_name = namespaced_name(&facts.namespace, &facts.identity.name);
        let name_changed = self.services_by_name.get(&by_name) != Some(&uid);
        self.services_by_name.insert(by_name, uid.clone());
        let (namespace, name) = (facts.namespace.clone(), facts.identity.name.clone());
        for pod in old_selected.difference(&selected) {
            self.set_pod_services(pod, &uid, false);
        }
        for pod in selected.difference(&old_selected) {
            self.set_pod_services(pod, &uid, true);
        }
        self.services.insert(
            uid.clone(),
            ServiceState {
                facts,
                selected,
                ready,
            },
        );
        self.refresh_service(&uid);
        if name_changed {
            self.refresh_ingresses_of(&namespace, &name);
        }
        Ok(())
    }

    /// A Service was deleted.
    pub fn delete_service(&mut self, service: &Service) -> Result<(), ProjectorError> {
        let id = project::identity("Service", &service.metadata)?;
        let uid: Arc<str> = Arc::from(id.uid.as_str());
        let key = InventoryKey::new(ResourceType::ContainerApplication, uid.clone());
        if let Some(old) = self.services.remove(&uid) {
            if let Some(anchor) = Self::anchor(&old.facts)
                && let Some(anchors) = self.service_anchors.get_mut(&old.facts.namespace)
            {
                if let Some(set) = anchors.get_mut(&anchor) {
                    set.remove(&uid);
                    if set.is_empty() {
                        anchors.remove(&anchor);
                    }
                }
                if anchors.is_empty() {
                    self.service_anchors.remove(&old.facts.namespace);
                }
            }
            for pod in &old.selected {
                self.set_pod_services(pod, &uid, false);
                if old.facts.selector.is_none() {
                    self.link_endpoint_pod(pod, &uid, false);
                }
            }
            self.forget_namespaced(&old.facts.namespace, &key);
            let by_name = namespaced_name(&old.facts.namespace, &old.facts.identity.name);
            if self.services_by_name.get(&by_name) == Some(&uid) {
                self.services_by_name.remove(&by_name);
                self.refresh_ingresses_of(&old.facts.namespace, &old.facts.identity.name);
            }
        }
        self.index.delete(&key);
        Ok(())
    }

    // -------------------------------------------------------------- endpoint slices

    /// The Pods the EndpointSlices of Service `service` ("namespace/name") name as ready.
    fn endpoint_pods(&self, service: &str) -> HashSet<Arc<str>> {
        self.slices_by_service
            .get(service)
            .into_iter()
            .flatten()
            .filter_map(|slice| self.slices.get(slice))
            .flat_map(|slice| slice.pods.iter().cloned())
            .collect()
    }

    /// Records (or forgets) that the EndpointSlices of selector-less Service `service` name
    /// Pod `pod`.
    fn link_endpoint_pod(&mut self, pod: &Arc<str>, service: &Arc<str>, linked: bool) {
        let services = self.endpoint_services.entry(pod.clone()).or_default();
        match (services.binary_search(service), linked) {
            (Err(at), true) => services.insert(at, service.clone()),
            (Ok(at), false) => {
                services.remove(at);
            }
            _ => {}
        }
        if services.is_empty() {
            self.endpoint_services.remove(pod);
        }
    }

    /// Re-derives the Pods of the selector-less Service `name` ("namespace/name") from its
    /// EndpointSlices.
    fn refresh_endpoint_service(&mut self, name: &str) {
        let Some(uid) = self.services_by_name.get(name).cloned() else {
            return;
        };
        let Some(state) = self.services.get(&uid) else {
            return;
        };
        if state.facts.selector.is_some() {
            return;
        }
        let selected = self.endpoint_pods(name);
        let old_selected = state.selected.clone();
        for pod in old_selected.difference(&selected) {
            self.link_endpoint_pod(pod, &uid, false);
            self.set_pod_services(pod, &uid, false);
        }
        for pod in selected.difference(&old_selected) {
            self.link_endpoint_pod(pod, &uid, true);
            self.set_pod_services(pod, &uid, true);
        }
        if let Some(state) = self.services.get_mut(&uid) {
            state.ready = selected.len();
            state.selected = selected;
        }
        self.refresh_service(&uid);
    }

    /// An EndpointSlice was added or changed. Slices of the EndpointSlice controller
    /// (Services with a selector) and slices without a Service name are ignored; of the
    /// others only the Service name and the Pods of ready endpoints (`targetRef.uid`) are
    /// kept.
    pub fn apply_endpoint_slice(&mut self, slice: &EndpointSlice) -> Result<(), ProjectorError> {
        let id = project::identity("EndpointSlice", &slice.metadata)?;
        let namespace = namespace_of("EndpointSlice", &id)?;
        let uid: Arc<str> = Arc::from(id.uid.as_str());
        let labels = slice.metadata.labels.as_ref();
        let service = labels.and_then(|l| l.get(SERVICE_NAME_LABEL));
        let by_controller = labels
            .and_then(|l| l.get(MANAGED_BY_LABEL))
            .is_some_and(|m| m == ENDPOINTSLICE_CONTROLLER);
        let Some(service) = service.filter(|_| !by_controller) else {
            return self.forget_endpoint_slice(&uid);
        };
        let service = namespaced_name(&namespace, service);
        let mut pods: Vec<Arc<str>> = slice
            .endpoints
            .iter()
            .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true))
            .filter_map(|e| e.target_ref.as_ref())
            .filter(|r| r.kind.as_deref().is_none_or(|k| k == "Pod"))
            .filter_map(|r| r.uid.as_deref())
            .map(|pod| match self.pods.get_key_value(pod) {
                Some((shared, _)) => shared.clone(),
                None => Arc::from(pod),
            })
            .collect();
        pods.sort();
        pods.dedup();
        let previous = self.slices.insert(
            uid.clone(),
            SliceState {
                service: service.clone(),
                pods,
            },
        );
        if let Some(old) = &previous
            && old.service != service
        {
            self.unindex_slice(&uid, &old.service);
            self.refresh_endpoint_service(&old.service);
        }
        self.slices_by_service
            .entry(service.clone())
            .or_default()
            .insert(uid);
        self.refresh_endpoint_service(&service);
        Ok(())
    }

    /// An EndpointSlice was deleted.
    pub fn delete_endpoint_slice(&mut self, slice: &EndpointSlice) -> Result<(), ProjectorError> {
        let id = project::identity("EndpointSlice", &slice.metadata)?;
        self.forget_endpoint_slice(&Arc::from(id.uid.as_str()))
    }

    fn forget_endpoint_slice(&mut self, uid: &Arc<str>) -> Result<(), ProjectorError> {
        if let Some(old) = self.slices.remove(uid) {
            self.unindex_slice(uid, &old.service);
            self.refresh_endpoint_service(&old.service);
        }
        Ok(())
    }

    fn unindex_slice(&mut self, uid: &Arc<str>, service: &str) {
        if let Some(slices) = self.slices_by_service.get_mut(service) {
            slices.remove(uid);
            if slices.is_empty() {
                self.slices_by_service.remove(service);
            }
        }
    }

    // ------------------------------------------------------------------- ingresses

    fn backend_ids(&self, namespace: &str, backends: &[String]) -> Vec<String> {
        let mut ids: Vec<String> = backends
            .iter()
            .filter_map(|name| self.services_by_name.get(&namespaced_name(namespace, name)))
            .map(|uid| uid.to_string())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    fn forget_ingress(&mut self, uid: &Arc<str>) -> Option<IngressState> {
        let old = self.ingresses.remove(uid)?;
        for backend in &old.backends {
            let key = namespaced_name(&old.namespace, backend);
            if let Some(set) = self.ingresses_by_backend.get_mut(&key) {
                set.remove(uid);
                if set.is_empty() {
                    self.ingresses_by_backend.remove(&key);
                }
            }
        }
        Some(old)
    }

    /// An Ingress was added or changed.
    pub fn apply_ingress(&mut self, ingress: &Ingress) -> Result<(), ProjectorError> {
        let id = project::identity("Ingress", &ingress.metadata)?;
        let namespace = namespace_of("Ingress", &id)?;
        let uid: Arc<str> = Arc::from(id.uid.as_str());
        self.forget_ingress(&uid);
        let backends = project::ingress_service_names(ingress);
        let ids = self.backend_ids(&namespace, &backends);
        let record =
            project::project_ingress(ingress, &self.cluster_id, self.project_id(&namespace), &ids)?;
        self.index.apply(record)?;
        for backend in &backends {
            self.ingresses_by_backend
                .entry(namespaced_name(&namespace, backend))
                .or_default()
                .insert(uid.clone());
        }
        self.remember_namespaced(
            &namespace,
            InventoryKey::new(ResourceType::ContainerIngressPolicy, uid.clone()),
        );
        self.ingresses.insert(
            uid,
            IngressState {
                namespace,
                backends,
            },
        );
        Ok(())
    }

    /// An Ingress was deleted.
    pub fn delete_ingress(&mut self, ingress: &Ingress) -> Result<(), ProjectorError> {
        let id = project::identity("Ingress", &ingress.metadata)?;
        let uid: Arc<str> = Arc::from(id.uid.as_str());
        let key = InventoryKey::new(ResourceType::ContainerIngressPolicy, uid.clone());
        if let Some(old) = self.forget_ingress(&uid) {
            self.forget_namespaced(&old.namespace, &key);
        }
        self.index.delete(&key);
        Ok(())
    }

    // ---------------------------------------------------------- simple namespaced

    fn apply_namespaced(
        &mut self,
        namespace: &str,
        record: ContainerObject,
    ) -> Result<(), ProjectorError> {
        let key = InventoryKey::of(&record);
        self.index.apply(record)?;
        self.remember_namespaced(namespace, key);
        Ok(())
    }

    fn delete_namespaced(&mut self, namespace: Option<&str>, key: InventoryKey) {
        if let Some(namespace) = namespace {
            self.forget_namespaced(namespace, &key);
        }
        self.index.delete(&key);
    }

    /// A Kubernetes NetworkPolicy was added or changed.
    pub fn apply_network_policy(&mut self, policy: &NetworkPolicy) -> Result<(), ProjectorError> {
        let id = project::identity("NetworkPolicy", &policy.metadata)?;
        let namespace = namespace_of("NetworkPolicy", &id)?;
        let record =
            project::project_network_policy(policy, &self.cluster_id, self.project_id(&namespace))?;
        self.apply_namespaced(&namespace, record)
    }

    /// A Kubernetes NetworkPolicy was deleted.
    pub fn delete_network_policy(&mut self, policy: &NetworkPolicy) -> Result<(), ProjectorError> {
        let id = project::identity("NetworkPolicy", &policy.metadata)?;
        self.delete_namespaced(
            id.namespace.as_deref(),
            InventoryKey::new(ResourceType::ContainerNetworkPolicy, id.uid),
        );
        Ok(())
    }

    /// An Antrea NetworkPolicy was added or changed.
    pub fn apply_antrea_network_policy(
        &mut self,
        policy: &AntreaNetworkPolicy,
    ) -> Result<(), ProjectorError> {
        let id = project::identity("AntreaNetworkPolicy", &policy.metadata)?;
        let namespace = namespace_of("AntreaNetworkPolicy", &id)?;
        let record = project::project_antrea_network_policy(
            policy,
            &self.cluster_id,
            self.project_id(&namespace),
        )?;
        self.apply_namespaced(&namespace, record)
    }

    /// An Antrea NetworkPolicy was deleted.
    pub fn delete_antrea_network_policy(
        &mut self,
        policy: &AntreaNetworkPolicy,
    ) -> Result<(), ProjectorError> {
        let id = project::identity("AntreaNetworkPolicy", &policy.metadata)?;
        self.delete_namespaced(
            id.namespace.as_deref(),
            InventoryKey::new(ResourceType::ContainerNetworkPolicy, id.uid),
        );
        Ok(())
    }

    /// An Antrea ClusterNetworkPolicy was added or changed.
    pub fn apply_cluster_network_policy(
        &mut self,
        policy: &ClusterNetworkPolicy,
    ) -> Result<(), ProjectorError> {
        let record = project::project_cluster_network_policy(policy, &self.cluster_id)?;
        self.index.apply(record)?;
        Ok(())
    }

    /// An Antrea ClusterNetworkPolicy was deleted.
    pub fn delete_cluster_network_policy(
        &mut self,
        policy: &ClusterNetworkPolicy,
    ) -> Result<(), ProjectorError> {
        let id = project::identity("ClusterNetworkPolicy", &policy.metadata)?;
        self.index.delete(&InventoryKey::new(
            ResourceType::ContainerNetworkPolicy,
            id.uid,
        ));
        Ok(())
    }

    /// An Antrea Egress (JSON) was added or changed.
    pub fn apply_egress(&mut self, egress: &Value) -> Result<(), ProjectorError> {
        let record = project::project_egress(egress, &self.cluster_id)?;
        self.index.apply(record)?;
        Ok(())
    }

    /// An Antrea Egress was deleted.
    pub fn delete_egress(&mut self, egress: &Value) -> Result<(), ProjectorError> {
        let id = project::identity_of_value("Egress", egress)?;
        self.index
            .delete(&InventoryKey::new(ResourceType::ContainerEgress, id.uid));
        Ok(())
    }

    /// An Antrea ExternalIPPool (JSON) was added or changed.
    pub fn apply_external_ip_pool(&mut self, pool: &Value) -> Result<(), ProjectorError> {
        let record = project::project_external_ip_pool(pool, &self.cluster_id)?;
        self.index.apply(record)?;
        Ok(())
    }

    /// An Antrea ExternalIPPool was deleted.
    pub fn delete_external_ip_pool(&mut self, pool: &Value) -> Result<(), ProjectorError> {
        let id = project::identity_of_value("ExternalIPPool", pool)?;
        self.index
            .delete(&InventoryKey::new(ResourceType::ContainerIpPool, id.uid));
        Ok(())
    }

    /// A Gateway API Gateway (JSON) was added or changed.
    pub fn apply_gateway(&mut self, gateway: &Value) -> Result<(), ProjectorError> {
        let id = project::identity_of_value("Gateway", gateway)?;
        let namespace = namespace_of("Gateway", &id)?;
        let record =
            project::project_gateway(gateway, &self.cluster_id, self.project_id(&namespace))?;
        self.apply_namespaced(&namespace, record)
    }

    /// A Gateway was deleted.
    pub fn delete_gateway(&mut self, gateway: &Value) -> Result<(), ProjectorError> {
        let id = project::identity_of_value("Gateway", gateway)?;
        self.delete_namespaced(
            id.namespace.as_deref(),
            InventoryKey::new(ResourceType::ContainerGateway, id.uid),
        );
        Ok(())
    }
}

fn namespace_of(kind: &'static str, id: &Identity) -> Result<String, ProjectionError> {
    id.namespace
        .clone()
        .ok_or_else(|| ProjectionError::MissingNamespace {
            kind,
            name: id.name.clone(),
        })
}

/// Sets `container_project_id` on the record types that have one.
fn set_project_id(record: &mut ContainerObject, project_id: String) {
    let project_id = SharedStr::from(project_id);
    match record {
        ContainerObject::ContainerApplication(r) => r.container_project_id = Some(project_id),
        ContainerObject::ContainerApplicationInstance(r) => {
            r.container_project_id = Some(project_id)
        }
        ContainerObject::ContainerIngressPolicy(r) => r.container_project_id = Some(project_id),
        ContainerObject::ContainerNetworkPolicy(r) => r.container_project_id = Some(project_id),
        ContainerObject::ContainerGateway(r) => r.container_project_id = Some(project_id),
        _ => {}
    }
}

#[cfg(test)]
mod tests;
