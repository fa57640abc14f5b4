//! [`WorkloadIndex`]: Pods, Services and Nodes by UID (and Nodes by name), the little the MP
//! adapter needs to turn NSX's external ids back into Kubernetes names (Traceflow, support
//! bundles).

use std::collections::HashMap;
use std::sync::Arc;

use adapter_core::mp::traceflow::{PodRef, ServiceRef, WorkloadLookup};

/// What is kept of a Pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodEntry {
    pub namespace: Arc<str>,
    pub name: Box<str>,
    pub host_network: bool,
}

/// Pods, Services and Nodes by UID.
#[derive(Debug, Default)]
pub struct WorkloadIndex {
    pods: HashMap<Arc<str>, PodEntry>,
    services: HashMap<Arc<str>, (Arc<str>, Box<str>)>,
    node_uids: HashMap<String, String>,
    node_names: HashMap<String, String>,
    namespaces: HashMap<String, Arc<str>>,
}

impl WorkloadIndex {
    fn namespace(&mut self, namespace: &str) -> Arc<str> {
        if let Some(shared) = self.namespaces.get(namespace) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(namespace);
        self.namespaces.insert(namespace.to_owned(), shared.clone());
        shared
    }

    /// Sets a Pod.
    pub fn set_pod(&mut self, uid: &str, namespace: &str, name: &str, host_network: bool) {
        let namespace = self.namespace(namespace);
        self.pods.insert(
            Arc::from(uid),
            PodEntry {
                namespace,
                name: name.into(),
                host_network,
            },
        );
    }

    /// Forgets a Pod.
    pub fn remove_pod(&mut self, uid: &str) {
        self.pods.remove(uid);
    }

    /// Sets a Service.
    pub fn set_service(&mut self, uid: &str, namespace: &str, name: &str) {
        let namespace = self.namespace(namespace);
        self.services
            .insert(Arc::from(uid), (namespace, name.into()));
    }

    /// Forgets a Service.
    pub fn remove_service(&mut self, uid: &str) {
        self.services.remove(uid);
    }

    /// Sets a Node.
    pub fn set_node(&mut self, uid: &str, name: &str) {
        if let Some(old) = self.node_uids.insert(name.to_owned(), uid.to_owned())
            && old != uid
        {
            self.node_names.remove(&old);
        }
        self.node_names.insert(uid.to_owned(), name.to_owned());
    }

    /// Forgets a Node.
    pub fn remove_node(&mut self, uid: &str) {
        if let Some(name) = self.node_names.remove(uid)
            && self.node_uids.get(&name).is_some_and(|u| u == uid)
        {
            self.node_uids.remove(&name);
        }
    }

    /// The name of the Node with UID `uid`.
    pub fn node_name(&self, uid: &str) -> Option<&str> {
        self.node_names.get(uid).map(String::as_str)
    }

    /// Every Node, name → UID, sorted by name.
    pub fn nodes(&self) -> Vec<(String, String)> {
        let mut nodes: Vec<(String, String)> = self
            .node_uids
            .iter()
            .map(|(name, uid)| (name.clone(), uid.clone()))
            .collect();
        nodes.sort();
        nodes
    }

    /// Number of Pods known.
    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }
}

impl WorkloadLookup for WorkloadIndex {
    fn pod(&self, uid: &str) -> Option<PodRef> {
        self.pods.get(uid).map(|p| PodRef {
            namespace: p.namespace.to_string(),
            name: p.name.to_string(),
            host_network: p.host_network,
        })
    }

    fn service(&self, uid: &str) -> Option<ServiceRef> {
        self.services.get(uid).map(|(namespace, name)| ServiceRef {
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }

    fn node_uid(&self, name: &str) -> Option<String> {
        self.node_uids.get(name).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_services_and_nodes_are_found_by_uid() {
        let mut index = WorkloadIndex::default();
        index.set_pod("p1", "web", "front-0", false);
        index.set_pod("p2", "kube-system", "agent", true);
        index.set_service("s1", "web", "front");
        index.set_node("n1", "k8s-node-1");
        assert_eq!(
            index.pod("p1"),
            Some(PodRef {
                namespace: "web".into(),
                name: "front-0".into(),
                host_network: false
            })
        );
        assert!(index.pod("p2").unwrap().host_network);
        assert_eq!(index.service("s1").unwrap().name, "front");
        assert_eq!(index.node_uid("k8s-node-1").as_deref(), Some("n1"));
        assert_eq!(index.node_name("n1"), Some("k8s-node-1"));
        index.remove_pod("p1");
        index.remove_service("s1");
        assert!(index.pod("p1").is_none());
        assert!(index.service("s1").is_none());
        assert_eq!(index.pod_count(), 1);
    }

    #[test]
    fn a_recreated_node_replaces_its_old_uid() {
        let mut index = WorkloadIndex::default();
        index.set_node("n1", "k8s-node-1");
        index.set_node("n2", "k8s-node-1");
        assert_eq!(index.node_name("n1"), None);
        assert_eq!(index.node_uid("k8s-node-1").as_deref(), Some("n2"));
        // Removing the stale UID leaves the current one.
        index.remove_node("n1");
        assert_eq!(index.nodes(), vec![("k8s-node-1".into(), "n2".into())]);
        index.remove_node("n2");
        assert!(index.nodes().is_empty());
    }
}
