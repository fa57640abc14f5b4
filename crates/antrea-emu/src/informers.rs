//! antrea-controller's informers: one watch per kind it consumes, feeding the shared
//! `antrea_policy::ClusterIndex` and telling the realization controller what changed.
//!
//! Policies and groups are re-indexed only when their `metadata.generation` moves (a status
//! write does not change what they select).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use antrea_policy::{ClusterIndex, IndexError};
use antrea_types::{ClusterGroup, ClusterNetworkPolicy, Group, NetworkPolicy, Tier};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy as K8sNetworkPolicy;
use kube::api::Api;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};

use crate::Shared;
use crate::workload::watch;

/// What changed, for the realization controller. `None` objects are deletions.
#[derive(Debug)]
pub(crate) enum Change {
    /// Pods, Namespaces, Nodes, Services or endpoints: spans may have moved.
    Workload,
    Tier,
    ClusterNetworkPolicy(String, Option<Arc<ClusterNetworkPolicy>>),
    AntreaNetworkPolicy(String, String, Option<Arc<NetworkPolicy>>),
    /// The flag tells whether the spec changed (or the group is new or gone).
    ClusterGroup(String, Option<Arc<ClusterGroup>>, bool),
    Group(String, String, Option<Arc<Group>>, bool),
    K8sNetworkPolicy(String, String, Option<Arc<K8sNetworkPolicy>>),
}

/// A kind antrea-controller watches.
trait Informed:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static
{
    /// Whether `metadata.generation` tells spec changes apart (CRDs, NetworkPolicies).
    const GENERATION_GATED: bool = false;

    fn apply(index: &mut ClusterIndex, object: &Self) -> Result<(), IndexError>;
    fn delete(index: &mut ClusterIndex, namespace: &str, name: &str);
    fn change(namespace: &str, name: &str, object: Option<Arc<Self>>, indexed: bool) -> Change;
}

macro_rules! workload_kind {
    ($type:ty, $apply:ident, $delete:ident, namespaced) => {
        impl Informed for $type {
            fn apply(index: &mut ClusterIndex, object: &Self) -> Result<(), IndexError> {
                index.$apply(object)
            }
            fn delete(index: &mut ClusterIndex, namespace: &str, name: &str) {
                index.$delete(namespace, name);
            }
            fn change(_: &str, _: &str, _: Option<Arc<Self>>, _: bool) -> Change {
                Change::Workload
            }
        }
    };
    ($type:ty, $apply:ident, $delete:ident, cluster) => {
        impl Informed for $type {
            fn apply(index: &mut ClusterIndex, object: &Self) -> Result<(), IndexError> {
                index.$apply(object)
            }
            fn delete(index: &mut ClusterIndex, _: &str, name: &str) {
                index.$delete(name);
            }
            fn change(_: &str, _: &str, _: Option<Arc<Self>>, _: bool) -> Change {
                Change::Workload
            }
        }
    };
}

workload_kind!(Pod, apply_pod, delete_pod, namespaced);
workload_kind!(Service, apply_service, delete_service, namespaced);
workload_kind!(Endpoints, apply_endpoints, delete_endpoints, namespaced);
workload_kind!(
    EndpointSlice,
    apply_endpoint_slice,
    delete_endpoint_slice,
    namespaced
);
workload_kind!(Namespace, apply_namespace, delete_namespace, cluster);
workload_kind!(Node, apply_node, delete_node, cluster);

impl Informed for Tier {
    const GENERATION_GATED: bool = true;
    fn apply(index: &mut ClusterIndex, object: &Self) -> Result<(), IndexError> {
        index.apply_tier(object)
    }
    fn delete(index: &mut ClusterIndex, _: &str, name: &str) {
        index.delete_tier(name);
    }
    fn change(_: &str, _: &str, _: Option<Arc<Self>>, _: bool) -> Change {
        Change::Tier
    }
}

impl Informed for ClusterGroup {
    const GENERATION_GATED: bool = true;
    fn apply(index: &mut ClusterIndex, object: &Self) -> Result<(), IndexError> {
        index.apply_cluster_group(object)
    }
    fn delete(index: &mut ClusterIndex, _: &str, name: &str) {
        index.delete_cluster_group(name);
    }
    fn change(_: &str, name: &str, object: Option<Arc<Self>>, indexed: bool) -> Change {
        Change::ClusterGroup(name.to_string(), object, indexed)
    }
}

impl Informed for Group {
    const GENERATION_GATED: bool = true;
    fn apply(index: &mut ClusterIndex, object: &Self) -> Result<(), IndexError> {
        index.apply_group(object)
    }
    fn delete(index: &mut ClusterIndex, namespace: &str, name: &str) {
        index.delete_group(namespace, name);
    }
    fn change(namespace: &str, name: &str, object: Option<Arc<Self>>, indexed: bool) -> Change {
        Change::Group(namespace.to_string(), name.to_string(), object, indexed)
    }
}

impl Informed for ClusterNetworkPolicy {
    const GENERATION_GATED: bool = true;
    fn apply(index: &mut ClusterIndex, object: &Self) -> Result<(), IndexError> {
        index.apply_cluster_network_policy(object)
    }
    fn delete(index: &mut ClusterIndex, _: &str, name: &str) {
        index.delete_cluster_network_policy(name);
    }
    fn change(_: &str, name: &str, object: Option<Arc<Self>>, _: bool) -> Change {
        Change::ClusterNetworkPolicy(name.to_string(), object)
    }
}

impl Informed for NetworkPolicy {
    const GENERATION_GATED: bool = true;
    fn apply(index: &mut ClusterIndex, object: &Self) -> Result<(), IndexError> {
        index.apply_antrea_network_policy(object)
    }
    fn delete(index: &mut ClusterIndex, namespace: &str, name: &str) {
        index.delete_antrea_network_policy(namespace, name);
    }
    fn change(namespace: &str, name: &str, object: Option<Arc<Self>>, _: bool) -> Change {
        Change::AntreaNetworkPolicy(namespace.to_string(), name.to_string(), object)
    }
}

impl Informed for K8sNetworkPolicy {
    const GENERATION_GATED: bool = true;
    fn apply(index: &mut ClusterIndex, object: &Self) -> Result<(), IndexError> {
        index.apply_k8s_network_policy(object)
    }
    fn delete(index: &mut ClusterIndex, namespace: &str, name: &str) {
        index.delete_k8s_network_policy(namespace, name);
    }
    fn change(namespace: &str, name: &str, object: Option<Arc<Self>>, _: bool) -> Change {
        Change::K8sNetworkPolicy(namespace.to_string(), name.to_string(), object)
    }
}

/// Starts every informer; each receiver fires once its kind is listed.
pub(crate) fn spawn(
    shared: &Arc<Shared>,
    changes: mpsc::UnboundedSender<Change>,
) -> Vec<oneshot::Receiver<()>> {
    vec![
        informer::<Node>(shared, changes.clone()),
        informer::<Namespace>(shared, changes.clone()),
        informer::<Pod>(shared, changes.clone()),
        informer::<Service>(shared, changes.clone()),
        informer::<Endpoints>(shared, changes.clone()),
        informer::<EndpointSlice>(shared, changes.clone()),
        informer::<Tier>(shared, changes.clone()),
        informer::<ClusterGroup>(shared, changes.clone()),
        informer::<Group>(shared, changes.clone()),
        informer::<ClusterNetworkPolicy>(shared, changes.clone()),
        informer::<NetworkPolicy>(shared, changes.clone()),
        informer::<K8sNetworkPolicy>(shared, changes),
    ]
}

type Key = (String, String);

fn key_of<K: Resource>(object: &K) -> Key {
    (object.namespace().unwrap_or_default(), object.name_any())
}

fn informer<K: Informed>(
    shared: &Arc<Shared>,
    changes: mpsc::UnboundedSender<Change>,
) -> oneshot::Receiver<()> {
    let (ready_tx, ready_rx) = oneshot::channel();
    let shared = shared.clone();
    tokio::spawn(async move {
        let cancel = shared.cancel.clone();
        let events = watch(Api::<K>::all(shared.client.clone()));
        futures::pin_mut!(events);
        let mut ready = Some(ready_tx);
        // Generation last indexed per object.
        let mut known: HashMap<Key, Option<i64>> = HashMap::new();
        let mut relist: Option<HashSet<Key>> = None;
        loop {
            let event = tokio::select! {
                () = cancel.cancelled() => return,
                event = events.next() => match event {
                    Some(event) => event,
                    None => return,
                },
            };
            match event {
                watcher::Event::Init => relist = Some(HashSet::new()),
                watcher::Event::InitApply(object) | watcher::Event::Apply(object) => {
                    let key = key_of(&object);
                    if let Some(seen) = &mut relist {
                        seen.insert(key.clone());
                    }
                    let generation = object.meta().generation;
                    let unchanged = K::GENERATION_GATED
                        && generation.is_some()
                        && known.get(&key) == Some(&generation);
                    if !unchanged && let Err(error) = K::apply(&mut shared.index.write(), &object) {
                        tracing::debug!(%error, "object not indexed");
                    }
                    known.insert(key.clone(), generation);
                    let _ = changes.send(K::change(
                        &key.0,
                        &key.1,
                        Some(Arc::new(object)),
                        !unchanged,
                    ));
                }
                watcher::Event::InitDone => {
                    if let Some(seen) = relist.take() {
                        let gone: Vec<Key> = known
                            .keys()
                            .filter(|k| !seen.contains(*k))
                            .cloned()
                            .collect();
                        for key in gone {
                            known.remove(&key);
                            K::delete(&mut shared.index.write(), &key.0, &key.1);
                            let _ = changes.send(K::change(&key.0, &key.1, None, true));
                        }
                    }
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(());
                    }
                }
                watcher::Event::Delete(object) => {
                    let key = key_of(&object);
                    known.remove(&key);
                    K::delete(&mut shared.index.write(), &key.0, &key.1);
                    let _ = changes.send(K::change(&key.0, &key.1, None, true));
                }
            }
        }
    });
    ready_rx
}
