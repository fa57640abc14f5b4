//! One watch task per kind: watcher events projected into the shared state, relists
//! reconciled (objects not listed again are deleted), optional CRDs waited for.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use adapter_core::mp::inventory::projector::{
    ENDPOINTSLICE_CONTROLLER, MANAGED_BY_LABEL, SERVICE_NAME_LABEL,
};
use adapter_core::mp::inventory::{InventoryKey, ProjectorError};
use antrea_types::{AntreaAgentInfo, AntreaControllerInfo, ClusterNetworkPolicy};
use futures::StreamExt as _;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event};
use kube::{Client, Resource};
use nsx_model::inventory::ResourceType;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::watch as tokio_watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{InventoryOptions, InventoryState, SharedInventory};

type Projected = Result<(), ProjectorError>;

/// How one kind is projected.
struct KindOps<K> {
    kind: &'static str,
    apply: fn(&mut InventoryState, &K, Timestamp) -> Projected,
    delete: fn(&mut InventoryState, &K) -> Projected,
    /// Deletes an object that was not listed again after a relist.
    gone: fn(&mut InventoryState, ObjectMeta) -> Projected,
}

/// The identity kept of every watched object.
struct Known {
    namespace: Option<Box<str>>,
    name: Box<str>,
}

impl Known {
    fn meta(&self, uid: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(self.name.to_string()),
            namespace: self.namespace.as_deref().map(str::to_owned),
            uid: Some(uid.to_owned()),
            ..ObjectMeta::default()
        }
    }
}

/// Counts the kinds still to finish their first list; flips the signal at zero.
struct InitialLists {
    remaining: AtomicUsize,
    signal: tokio_watch::Sender<bool>,
}

impl InitialLists {
    fn one_done(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.signal.send_replace(true);
        }
    }
}

fn with_meta<K: Resource + Default>(meta: ObjectMeta) -> K {
    let mut object = K::default();
    *object.meta_mut() = meta;
    object
}

fn delete_key(state: &mut InventoryState, resource_type: ResourceType, meta: &ObjectMeta) {
    if let Some(uid) = meta.uid.as_deref() {
        state
            .projector
            .index_mut()
            .delete(&InventoryKey::new(resource_type, uid));
    }
}

fn namespace_ops() -> KindOps<Namespace> {
    KindOps {
        kind: "Namespaces",
        apply: |s, o, _| s.projector.apply_namespace(o),
        delete: |s, o| s.projector.delete_namespace(o),
        gone: |s, m| s.projector.delete_namespace(&with_meta(m)),
    }
}

fn node_ops() -> KindOps<Node> {
    fn forget(s: &mut InventoryState, node: &Node) -> Projected {
        if let Some(uid) = node.metadata.uid.as_deref() {
            s.workloads.remove_node(uid);
        }
        s.projector.delete_node(node)
    }
    KindOps {
        kind: "Nodes",
        apply: |s, o, _| {
            s.projector.apply_node(o)?;
            if let (Some(uid), Some(name)) = (o.metadata.uid.as_deref(), o.metadata.name.as_deref())
            {
                s.workloads.set_node(uid, name);
            }
            Ok(())
        },
        delete: forget,
        gone: |s, m| forget(s, &with_meta(m)),
    }
}

fn pod_ops() -> KindOps<Pod> {
    fn forget(s: &mut InventoryState, pod: &Pod) -> Projected {
        if let Some(uid) = pod.metadata.uid.as_deref() {
            s.workloads.remove_pod(uid);
        }
        s.projector.delete_pod(pod)
    }
    KindOps {
        kind: "Pods",
        apply: |s, o, _| {
            s.projector.apply_pod(o)?;
            if let (Some(uid), Some(namespace), Some(name)) = (
                o.metadata.uid.as_deref(),
                o.metadata.namespace.as_deref(),
                o.metadata.name.as_deref(),
            ) {
                let host_network = o
                    .spec
                    .as_ref()
                    .and_then(|s| s.host_network)
                    .unwrap_or(false);
                s.workloads.set_pod(uid, namespace, name, host_network);
            }
            Ok(())
        },
        delete: forget,
        gone: |s, m| forget(s, &with_meta(m)),
    }
}

fn service_ops() -> KindOps<Service> {
    fn forget(s: &mut InventoryState, service: &Service) -> Projected {
        if let Some(uid) = service.metadata.uid.as_deref() {
            s.workloads.remove_service(uid);
        }
        s.projector.delete_service(service)
    }
    KindOps {
        kind: "Services",
        apply: |s, o, _| {
            s.projector.apply_service(o)?;
            if let (Some(uid), Some(namespace), Some(name)) = (
                o.metadata.uid.as_deref(),
                o.metadata.namespace.as_deref(),
                o.metadata.name.as_deref(),
            ) {
                s.workloads.set_service(uid, namespace, name);
            }
            Ok(())
        },
        delete: forget,
        gone: |s, m| forget(s, &with_meta(m)),
    }
}

fn endpoint_slice_ops() -> KindOps<EndpointSlice> {
    KindOps {
        kind: "EndpointSlices",
        apply: |s, o, _| s.projector.apply_endpoint_slice(o),
        delete: |s, o| s.projector.delete_endpoint_slice(o),
        gone: |s, m| s.projector.delete_endpoint_slice(&with_meta(m)),
    }
}

/// The EndpointSlices worth watching: those of a Service, except the EndpointSlice
/// controller's (its slices only repeat what Services' selectors and Pods' readiness say).
fn endpoint_slice_selector() -> String {
    format!("{SERVICE_NAME_LABEL},{MANAGED_BY_LABEL}!={ENDPOINTSLICE_CONTROLLER}")
}

fn ingress_ops() -> KindOps<Ingress> {
    KindOps {
        kind: "Ingresses",
        apply: |s, o, _| s.projector.apply_ingress(o),
        delete: |s, o| s.projector.delete_ingress(o),
        gone: |s, m| s.projector.delete_ingress(&with_meta(m)),
    }
}

fn network_policy_ops() -> KindOps<NetworkPolicy> {
    KindOps {
        kind: "NetworkPolicies",
        apply: |s, o, _| s.projector.apply_network_policy(o),
        delete: |s, o| s.projector.delete_network_policy(o),
        gone: |s, m| s.projector.delete_network_policy(&with_meta(m)),
    }
}

fn cluster_network_policy_ops() -> KindOps<ClusterNetworkPolicy> {
    KindOps {
        kind: "ClusterNetworkPolicies",
        apply: |s, o, _| s.projector.apply_cluster_network_policy(o),
        delete: |s, o| s.projector.delete_cluster_network_policy(o),
        gone: |s, m| {
            delete_key(s, ResourceType::ContainerNetworkPolicy, &m);
            Ok(())
        },
    }
}

fn antrea_network_policy_ops() -> KindOps<antrea_types::NetworkPolicy> {
    KindOps {
        kind: "Antrea NetworkPolicies",
        apply: |s, o, _| s.projector.apply_antrea_network_policy(o),
        delete: |s, o| s.projector.delete_antrea_network_policy(o),
        gone: |s, m| {
            delete_key(s, ResourceType::ContainerNetworkPolicy, &m);
            Ok(())
        },
    }
}

fn agent_info_ops() -> KindOps<AntreaAgentInfo> {
    fn forget(s: &mut InventoryState, meta: &ObjectMeta) -> Projected {
        if let Some(node) = meta.name.as_deref() {
            s.projector.delete_agent_info(node);
            s.agents.remove(node);
        }
        Ok(())
    }
    KindOps {
        kind: "AntreaAgentInfos",
        apply: |s, o, now| {
            s.projector.apply_agent_info(o, now);
            s.remember_agent(o);
            Ok(())
        },
        delete: |s, o| forget(s, &o.metadata),
        gone: |s, m| forget(s, &m),
    }
}

fn controller_info_ops() -> KindOps<AntreaControllerInfo> {
    KindOps {
        kind: "AntreaControllerInfos",
        apply: |s, o, _| {
            s.controller = Some(o.clone());
            Ok(())
        },
        delete: |s, _| {
            s.controller = None;
            Ok(())
        },
        gone: |s, _| {
            s.controller = None;
            Ok(())
        },
    }
}

fn as_value(object: &DynamicObject) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

/// An optional CRD kind.
struct OptionalKind {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    ops: KindOps<DynamicObject>,
}

fn optional_kinds() -> Vec<OptionalKind> {
    vec![
        OptionalKind {
            group: "crd.antrea.io",
            version: "v1beta1",
            kind: "Egress",
            plural: "egresses",
            ops: KindOps {
                kind: "Egresses",
                apply: |s, o, _| s.projector.apply_egress(&as_value(o)),
                delete: |s, o| s.projector.delete_egress(&as_value(o)),
                gone: |s, m| {
                    delete_key(s, ResourceType::ContainerEgress, &m);
                    Ok(())
                },
            },
        },
        OptionalKind {
            group: "crd.antrea.io",
            version: "v1beta1",
            kind: "ExternalIPPool",
            plural: "externalippools",
            ops: KindOps {
                kind: "ExternalIPPools",
                apply: |s, o, _| s.projector.apply_external_ip_pool(&as_value(o)),
                delete: |s, o| s.projector.delete_external_ip_pool(&as_value(o)),
                gone: |s, m| {
                    delete_key(s, ResourceType::ContainerIpPool, &m);
                    Ok(())
                },
            },
        },
        OptionalKind {
            group: "gateway.networking.k8s.io",
            version: "v1",
            kind: "Gateway",
            plural: "gateways",
            ops: KindOps {
                kind: "Gateways",
                apply: |s, o, _| s.projector.apply_gateway(&as_value(o)),
                delete: |s, o| s.projector.delete_gateway(&as_value(o)),
                gone: |s, m| {
                    let value = serde_json::json!({"metadata": m});
                    s.projector.delete_gateway(&value)
                },
            },
        },
    ]
}

/// Starts every watch.
pub(super) fn spawn_all(
    client: Client,
    shared: Arc<SharedInventory>,
    options: InventoryOptions,
    cancel: CancellationToken,
    signal: tokio_watch::Sender<bool>,
) -> Vec<JoinHandle<()>> {
    let config = watcher::Config::default().page_size(options.page_size.max(1));
    const MANDATORY: usize = 11;
    let initial = Arc::new(InitialLists {
        remaining: AtomicUsize::new(MANDATORY),
        signal,
    });
    let mut tasks = Vec::new();
    macro_rules! spawn {
        ($api:expr, $ops:expr) => {
            tasks.push(tokio::spawn(run(
                $api,
                $ops,
                shared.clone(),
                config.clone(),
                cancel.clone(),
                Some(initial.clone()),
            )))
        };
    }
    // Namespaces and Nodes first: records of the other kinds name their UIDs.
    spawn!(Api::<Namespace>::all(client.clone()), namespace_ops());
    spawn!(Api::<Node>::all(client.clone()), node_ops());
    spawn!(Api::<Service>::all(client.clone()), service_ops());
    spawn!(Api::<Pod>::all(client.clone()), pod_ops());
    tasks.push(tokio::spawn(run(
        Api::<EndpointSlice>::all(client.clone()),
        endpoint_slice_ops(),
        shared.clone(),
        config.clone().labels(&endpoint_slice_selector()),
        cancel.clone(),
        Some(initial.clone()),
    )));
    spawn!(Api::<Ingress>::all(client.clone()), ingress_ops());
    spawn!(
        Api::<NetworkPolicy>::all(client.clone()),
        network_policy_ops()
    );
    spawn!(
        Api::<ClusterNetworkPolicy>::all(client.clone()),
        cluster_network_policy_ops()
    );
    spawn!(
        Api::<antrea_types::NetworkPolicy>::all(client.clone()),
        antrea_network_policy_ops()
    );
    spawn!(
        Api::<AntreaAgentInfo>::all(client.clone()),
        agent_info_ops()
    );
    spawn!(
        Api::<AntreaControllerInfo>::all(client.clone()),
        controller_info_ops()
    );
    for optional in optional_kinds() {
        tasks.push(tokio::spawn(run_when_served(
            client.clone(),
            optional,
            shared.clone(),
            config.clone(),
            cancel.clone(),
            options.crd_recheck_interval,
        )));
    }
    tasks
}

/// Whether the API server serves `plural` in `group/version`.
async fn served(client: &Client, group_version: &str, plural: &str) -> Result<bool, kube::Error> {
    match client.list_api_group_resources(group_version).await {
        Ok(list) => Ok(list.resources.iter().any(|r| r.name == plural)),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(error) => Err(error),
    }
}

/// Waits for an optional kind's CRD, then watches it.
async fn run_when_served(
    client: Client,
    optional: OptionalKind,
    shared: Arc<SharedInventory>,
    config: watcher::Config,
    cancel: CancellationToken,
    recheck: std::time::Duration,
) {
    let group_version = format!("{}/{}", optional.group, optional.version);
    loop {
        match served(&client, &group_version, optional.plural).await {
            Ok(true) => break,
            Ok(false) => tracing::debug!(kind = optional.kind, "CRD not served; checking later"),
            Err(error) => {
                tracing::warn!(kind = optional.kind, %error, "checking whether the CRD is served");
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(recheck) => {}
        }
    }
    tracing::info!(kind = optional.kind, "CRD served: watching it");
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(optional.group, optional.version, optional.kind),
        optional.plural,
    );
    // Namespaced kinds are watched across every Namespace.
    let api: Api<DynamicObject> = Api::all_with(client, &resource);
    let stream = watcher::watcher(api, config).default_backoff();
    consume(stream, optional.ops, shared, cancel, None).await;
}

/// Applies one event; returns whether a relist just finished.
fn handle<K: Resource>(
    state: &mut InventoryState,
    ops: &KindOps<K>,
    known: &mut HashMap<Box<str>, Known>,
    relist: &mut Option<HashSet<Box<str>>>,
    event: Event<K>,
) -> bool {
    let now = Timestamp::now();
    let remember = |known: &mut HashMap<Box<str>, Known>, object: &K| -> Option<Box<str>> {
        let meta = object.meta();
        let uid: Box<str> = meta.uid.as_deref()?.into();
        known.insert(
            uid.clone(),
            Known {
                namespace: meta.namespace.as_deref().map(Into::into),
                name: meta.name.as_deref().unwrap_or_default().into(),
            },
        );
        Some(uid)
    };
    let report = |result: Projected, object: &K| {
        if let Err(error) = result {
            tracing::warn!(
                kind = ops.kind,
                name = object.meta().name.as_deref().unwrap_or_default(),
                %error,
                "object not projected"
            );
        }
    };
    match event {
        Event::Apply(object) => {
            remember(known, &object);
            report((ops.apply)(state, &object, now), &object);
        }
        Event::InitApply(object) => {
            if let Some(uid) = remember(known, &object)
                && let Some(seen) = relist.as_mut()
            {
                seen.insert(uid);
            }
            report((ops.apply)(state, &object, now), &object);
        }
        Event::Delete(object) => {
            if let Some(uid) = object.meta().uid.as_deref() {
                known.remove(uid);
            }
            report((ops.delete)(state, &object), &object);
        }
        Event::Init => {
            *relist = Some(HashSet::new());
        }
        Event::InitDone => {
            let seen = relist.take().unwrap_or_default();
            let vanished: Vec<Box<str>> = known
                .keys()
                .filter(|uid| !seen.contains(*uid))
                .cloned()
                .collect();
            for uid in vanished {
                if let Some(entry) = known.remove(&uid)
                    && let Err(error) = (ops.gone)(state, entry.meta(&uid))
                {
                    tracing::warn!(kind = ops.kind, uid = &*uid, %error, "vanished object not deleted");
                }
            }
            return true;
        }
    }
    false
}

/// Watches one typed kind until cancelled.
async fn run<K>(
    api: Api<K>,
    ops: KindOps<K>,
    shared: Arc<SharedInventory>,
    config: watcher::Config,
    cancel: CancellationToken,
    initial: Option<Arc<InitialLists>>,
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
    K::DynamicType: Default,
{
    let stream = watcher::watcher(api, config).default_backoff();
    consume(stream, ops, shared, cancel, initial).await;
}

async fn consume<K, S>(
    stream: S,
    ops: KindOps<K>,
    shared: Arc<SharedInventory>,
    cancel: CancellationToken,
    mut initial: Option<Arc<InitialLists>>,
) where
    K: Resource,
    S: futures::Stream<Item = Result<Event<K>, watcher::Error>>,
{
    let mut stream = std::pin::pin!(stream);
    let mut known: HashMap<Box<str>, Known> = HashMap::new();
    let mut relist: Option<HashSet<Box<str>>> = None;
    let mut lists = 0u64;
    loop {
        let next = tokio::select! {
            () = cancel.cancelled() => return,
            next = stream.next() => next,
        };
        match next {
            None => return,
            Some(Err(error)) => {
                tracing::warn!(kind = ops.kind, %error, "watch failed; retrying with backoff");
                shared.record_error(ops.kind, &error);
            }
            Some(Ok(event)) => {
                shared.record_event();
                let listed =
                    shared.with(|state| handle(state, &ops, &mut known, &mut relist, event));
                shared.notify_changed();
                if listed {
                    lists += 1;
                    if lists > 1 {
                        shared.relists.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(kind = ops.kind, "relisted");
                    }
                    if let Some(initial) = initial.take() {
                        initial.one_done();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adapter_core::mp::health::HealthPolicy;
    use adapter_core::mp::inventory::InventoryProjector;
    use adapter_core::mp::traceflow::WorkloadLookup as _;

    fn pod(name: &str, uid: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "web", "uid": uid},
            "spec": {"containers": [{"name": "main"}], "hostNetwork": name == "host"},
        }))
        .unwrap()
    }

    fn has_pod(state: &InventoryState, uid: &str) -> bool {
        state
            .projector
            .index()
            .get(&InventoryKey::new(
                ResourceType::ContainerApplicationInstance,
                uid,
            ))
            .is_some()
    }

    #[test]
    fn a_relist_deletes_what_was_not_listed_again() {
        let mut state = InventoryState::new(InventoryProjector::new("c", HealthPolicy::default()));
        let ops = pod_ops();
        let mut known = HashMap::new();
        let mut relist = None;
        let mut feed =
            |state: &mut InventoryState, event| handle(state, &ops, &mut known, &mut relist, event);
        assert!(!feed(&mut state, Event::Init));
        feed(&mut state, Event::InitApply(pod("a", "u-a")));
        feed(&mut state, Event::InitApply(pod("host", "u-h")));
        assert!(feed(&mut state, Event::InitDone));
        feed(&mut state, Event::Apply(pod("b", "u-b")));
        assert!(has_pod(&state, "u-a") && has_pod(&state, "u-b") && has_pod(&state, "u-h"));
        assert!(state.workloads.pod("u-h").unwrap().host_network);

        // A relist that no longer lists a and the host-network Pod.
        feed(&mut state, Event::Init);
        feed(&mut state, Event::InitApply(pod("b", "u-b")));
        // Nothing is deleted before the list is complete.
        assert!(has_pod(&state, "u-a"));
        assert!(feed(&mut state, Event::InitDone));
        assert!(!has_pod(&state, "u-a") && !has_pod(&state, "u-h"));
        assert!(has_pod(&state, "u-b"));
        assert!(state.workloads.pod("u-a").is_none());

        // A watched delete.
        feed(&mut state, Event::Delete(pod("b", "u-b")));
        assert!(!has_pod(&state, "u-b"));
        assert_eq!(state.workloads.pod_count(), 0);
    }

    #[test]
    fn agent_infos_keep_only_their_conditions_and_go_with_their_delete() {
        let mut state = InventoryState::new(InventoryProjector::new("c", HealthPolicy::default()));
        let ops = agent_info_ops();
        let mut known = HashMap::new();
        let mut relist = None;
        let info: AntreaAgentInfo = serde_json::from_value(serde_json::json!({
            "apiVersion": "crd.antrea.io/v1beta1", "kind": "AntreaAgentInfo",
            "metadata": {"name": "node-1", "uid": "a-1"}, "version": "v2.7.0", "localPodNum": 12,
            "agentConditions": [{"type": "AgentHealthy", "status": "True", "lastHeartbeatTime": "2026-01-01T00:00:00Z"}],
        }))
        .unwrap();
        handle(
            &mut state,
            &ops,
            &mut known,
            &mut relist,
            Event::Apply(info.clone()),
        );
        let kept = &state.agents["node-1"];
        assert_eq!(kept.spec.agent_conditions.as_ref().map(Vec::len), Some(1));
        assert_eq!(kept.spec.local_pod_num, None);
        handle(
            &mut state,
            &ops,
            &mut known,
            &mut relist,
            Event::Delete(info),
        );
        assert!(state.agents.is_empty());
    }
}
