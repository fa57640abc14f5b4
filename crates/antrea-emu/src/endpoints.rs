//! The endpoints controllers of kube-controller-manager: every Service with a selector gets
//! an `Endpoints` object and `EndpointSlices` listing the Pods it selects that have an
//! address (ready ones as ready, the others as not ready), with their target ports resolved
//! (named ports through the Pods' container ports), kept up to date as Pods and Services
//! change. Services without a selector and ExternalName Services are left alone.
//!
//! Writes are server-side applies by `endpoint-controller` / `endpointslice-controller`;
//! slices hold at most 100 endpoints and are named `<service>-<5 characters>`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt, future::BoxFuture};
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::watcher;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::Shared;
use crate::workload::{name_suffix, watch};

/// Most addresses an Endpoints object holds (`maxCapacity`).
const MAX_ENDPOINTS_ADDRESSES: usize = 1000;
/// Most endpoints per EndpointSlice (`--max-endpoints-per-slice` default).
const MAX_ENDPOINTS_PER_SLICE: usize = 100;
const ENDPOINTS_MANAGER: &str = "endpoint-controller";
const SLICE_MANAGER: &str = "endpointslice-controller";
const SLICE_MANAGED_BY: &str = "endpointslice-controller.k8s.io";
const MAX_IN_FLIGHT: usize = 16;

type Key = (String, String);

/// One Pod as an endpoint of a Service.
#[derive(Debug, Clone, PartialEq)]
struct Backend {
    ip: IpAddr,
    ready: bool,
    node: Option<String>,
    name: String,
    namespace: String,
    uid: String,
}

impl Backend {
    fn target_ref(&self) -> Value {
        json!({"kind": "Pod", "namespace": self.namespace, "name": self.name, "uid": self.uid})
    }
}

/// A resolved port: (name, number, protocol).
type Port = (Option<String>, i32, String);

/// What one Service's Endpoints and slices should hold.
#[derive(Debug, Clone, PartialEq)]
struct Desired {
    endpoints: Value,
    slices: Vec<(String, Value)>,
}

fn selector_matches(
    selector: &BTreeMap<String, String>,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    selector
        .iter()
        .all(|(key, value)| labels.and_then(|labels| labels.get(key)) == Some(value))
}

fn resolve_port(pod: &Pod, target: Option<&IntOrString>, port: i32, protocol: &str) -> Option<i32> {
    match target {
        None => Some(port),
        Some(IntOrString::Int(number)) => Some(*number),
        Some(IntOrString::String(name)) => {
            if let Ok(number) = name.parse::<i32>() {
                return Some(number);
            }
            pod.spec.as_ref()?.containers.iter().find_map(|container| {
                container.ports.iter().flatten().find_map(|p| {
                    (p.name.as_deref() == Some(name.as_str())
                        && p.protocol.as_deref().unwrap_or("TCP") == protocol)
                        .then_some(p.container_port)
                })
            })
        }
    }
}

fn backend(pod: &Pod) -> Option<Backend> {
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let status = pod.status.as_ref()?;
    if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
        return None;
    }
    let ip: IpAddr = status.pod_ip.as_deref()?.parse().ok()?;
    let ready = status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    Some(Backend {
        ip,
        ready,
        node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        name: pod.metadata.name.clone().unwrap_or_default(),
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        uid: pod.metadata.uid.clone().unwrap_or_default(),
    })
}

/// The Endpoints and slices of a managed Service; `None` for an unmanaged one.
fn desired(
    service: &Service,
    pods: Option<&HashMap<String, Arc<Pod>>>,
    now: &str,
) -> Option<Desired> {
    let spec = service.spec.as_ref()?;
    let selector = spec.selector.as_ref()?;
    if spec.type_.as_deref() == Some("ExternalName") {
        return None;
    }
    let name = service.metadata.name.clone().unwrap_or_default();
    let namespace = service.metadata.namespace.clone().unwrap_or_default();
    let headless = spec.cluster_ip.as_deref() == Some("None");
    let publish_not_ready = spec.publish_not_ready_addresses.unwrap_or(false);
    let service_ports = spec.ports.clone().unwrap_or_default();

    // Pods grouped by the port list they resolve to.
    let mut groups: BTreeMap<Vec<Port>, Vec<Backend>> = BTreeMap::new();
    for pod in pods.into_iter().flat_map(|pods| pods.values()) {
        if !selector_matches(selector, pod.metadata.labels.as_ref()) {
            continue;
        }
        let Some(mut backend) = backend(pod) else {
            continue;
        };
        backend.ready |= publish_not_ready;
        let ports: Vec<Port> = service_ports
            .iter()
            .filter_map(|sp| {
                let protocol = sp.protocol.clone().unwrap_or_else(|| "TCP".into());
                let number = resolve_port(pod, sp.target_port.as_ref(), sp.port, &protocol)?;
                Some((sp.name.clone(), number, protocol))
            })
            .collect();
        if ports.is_empty() && !(service_ports.is_empty() && headless) {
            continue;
        }
        groups.entry(ports).or_default().push(backend);
    }
    for backends in groups.values_mut() {
        backends.sort_by(|a, b| a.ip.cmp(&b.ip).then_with(|| a.name.cmp(&b.name)));
    }

    let port_json = |ports: &[Port]| -> Vec<Value> {
        ports
            .iter()
            .map(|(name, port, protocol)| {
                let mut entry = json!({"port": port, "protocol": protocol});
                if let Some(name) = name.as_ref().filter(|n| !n.is_empty()) {
                    entry["name"] = json!(name);
                }
                entry
            })
            .collect()
    };

    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    if headless {
        labels.insert("service.kubernetes.io/headless".into(), String::new());
    }
    let mut annotations = json!({"endpoints.kubernetes.io/last-change-trigger-time": now});
    let mut remaining = MAX_ENDPOINTS_ADDRESSES;
    let mut subsets = Vec::new();
    for (ports, backends) in &groups {
        let address = |b: &Backend| {
            let mut entry = json!({"ip": b.ip.to_string(), "targetRef": b.target_ref()});
            if let Some(node) = &b.node {
                entry["nodeName"] = json!(node);
            }
            entry
        };
        let ready: Vec<Value> = backends
            .iter()
            .filter(|b| b.ready)
            .take(remaining)
            .map(address)
            .collect();
        remaining -= ready.len();
        let not_ready: Vec<Value> = backends
            .iter()
            .filter(|b| !b.ready)
            .take(remaining)
            .map(address)
            .collect();
        remaining -= not_ready.len();
        if ready.len() + not_ready.len() < backends.len() {
            annotations["endpoints.kubernetes.io/over-capacity"] = json!("truncated");
        }
        if ready.is_empty() && not_ready.is_empty() {
            continue;
        }
        let mut subset = json!({});
        if !ready.is_empty() {
            subset["addresses"] = Value::Array(ready);
        }
        if !not_ready.is_empty() {
            subset["notReadyAddresses"] = Value::Array(not_ready);
        }
        if !ports.is_empty() {
            subset["ports"] = Value::Array(port_json(ports));
        }
        subsets.push(subset);
    }
    let mut endpoints = json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "annotations": annotations},
    });
    if !subsets.is_empty() {
        endpoints["subsets"] = Value::Array(subsets);
    }

    let uid = service.metadata.uid.clone().unwrap_or_default();
    let mut slice_labels = labels.clone();
    slice_labels.insert("kubernetes.io/service-name".into(), name.clone());
    slice_labels.insert(
        "endpointslice.kubernetes.io/managed-by".into(),
        SLICE_MANAGED_BY.into(),
    );
    let slice = |index: usize, endpoints: Option<Vec<Value>>, ports: Option<Vec<Value>>| {
        let slice_name = format!("{name}-{}", name_suffix(&format!("{uid}/{index}"), 5));
        let mut object = json!({
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": slice_name,
                "namespace": namespace,
                "generateName": format!("{name}-"),
                "labels": slice_labels,
                "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": now},
                "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": name, "uid": uid,
                                      "controller": true, "blockOwnerDeletion": true}],
            },
            "addressType": "IPv4",
            "endpoints": endpoints.unwrap_or_default(),
        });
        if let Some(ports) = ports {
            object["ports"] = Value::Array(ports);
        }
        (slice_name, object)
    };
    let mut slices = Vec::new();
    for (ports, backends) in &groups {
        let v4: Vec<&Backend> = backends.iter().filter(|b| b.ip.is_ipv4()).collect();
        for chunk in v4.chunks(MAX_ENDPOINTS_PER_SLICE) {
            let endpoints = chunk
                .iter()
                .map(|b| {
                    let mut entry = json!({
                        "addresses": [b.ip.to_string()],
                        "conditions": {"ready": b.ready, "serving": b.ready, "terminating": false},
                        "targetRef": b.target_ref(),
                    });
                    if let Some(node) = &b.node {
                        entry["nodeName"] = json!(node);
                    }
                    entry
                })
                .collect();
            slices.push(slice(slices.len(), Some(endpoints), Some(port_json(ports))));
        }
    }
    if slices.is_empty() {
        // The placeholder slice of a Service with no endpoints.
        slices.push(slice(0, None, None));
    }
    Some(Desired { endpoints, slices })
}

/// Content of an object without the trigger-time annotation (to skip no-op writes).
fn content(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(annotations) = object
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        annotations.remove("endpoints.kubernetes.io/last-change-trigger-time");
    }
    object
}

#[derive(Debug, Default)]
struct Written {
    endpoints: Option<Value>,
    slices: BTreeMap<String, Value>,
}

struct EndpointsController {
    shared: Arc<Shared>,
    services: HashMap<Key, Arc<Service>>,
    /// Namespace → name → Pod.
    pods: HashMap<String, HashMap<String, Arc<Pod>>>,
    dirty: HashSet<Key>,
    in_flight: HashSet<Key>,
    written: HashMap<Key, Written>,
    services_synced: bool,
    pods_synced: bool,
    relist_services: Option<HashSet<Key>>,
    relist_pods: Option<HashSet<Key>>,
}

type Sync = BoxFuture<'static, (Key, Written)>;

/// Starts the controller; the receiver fires once it has listed Services and Pods.
pub(crate) fn spawn(shared: &Arc<Shared>) -> oneshot::Receiver<()> {
    let (ready_tx, ready_rx) = oneshot::channel();
    let controller = EndpointsController {
        shared: shared.clone(),
        services: HashMap::new(),
        pods: HashMap::new(),
        dirty: HashSet::new(),
        in_flight: HashSet::new(),
        written: HashMap::new(),
        services_synced: false,
        pods_synced: false,
        relist_services: None,
        relist_pods: None,
    };
    tokio::spawn(controller.run(ready_tx));
    ready_rx
}

impl EndpointsController {
    async fn run(mut self, ready: oneshot::Sender<()>) {
        let cancel = self.shared.cancel.clone();
        let services = watch(Api::<Service>::all(self.shared.client.clone()));
        let pods = watch(Api::<Pod>::all(self.shared.client.clone()));
        futures::pin_mut!(services, pods);
        let mut ready = Some(ready);
        let mut syncs: FuturesUnordered<Sync> = FuturesUnordered::new();
        loop {
            // Only when some dirty Service has no sync in flight (otherwise this branch would
            // be ready forever).
            let flush = self.services_synced
                && self.pods_synced
                && syncs.len() < MAX_IN_FLIGHT
                && self.dirty.iter().any(|key| !self.in_flight.contains(key));
            tokio::select! {
                biased;
                () = cancel.cancelled() => return,
                Some((key, written)) = syncs.next(), if !syncs.is_empty() => {
                    self.in_flight.remove(&key);
                    self.written.insert(key, written);
                }
                Some(event) = services.next() => self.on_service(event),
                Some(event) = pods.next() => self.on_pod(event),
                () = std::future::ready(()), if flush => self.flush(&mut syncs),
            }
            if self.services_synced
                && self.pods_synced
                && let Some(ready) = ready.take()
            {
                let _ = ready.send(());
            }
        }
    }

    fn on_service(&mut self, event: watcher::Event<Service>) {
        match event {
            watcher::Event::Init => self.relist_services = Some(HashSet::new()),
            watcher::Event::InitApply(service) | watcher::Event::Apply(service) => {
                let key = key_of(&service.metadata);
                if let Some(seen) = &mut self.relist_services {
                    seen.insert(key.clone());
                }
                self.services.insert(key.clone(), Arc::new(service));
                self.dirty.insert(key);
            }
            watcher::Event::InitDone => {
                if let Some(seen) = self.relist_services.take() {
                    let gone: Vec<Key> = self
                        .services
                        .keys()
                        .filter(|k| !seen.contains(*k))
                        .cloned()
                        .collect();
                    for key in gone {
                        self.services.remove(&key);
                        self.dirty.insert(key);
                    }
                }
                self.services_synced = true;
            }
            watcher::Event::Delete(service) => {
                let key = key_of(&service.metadata);
                self.services.remove(&key);
                self.dirty.insert(key);
            }
        }
    }

    fn on_pod(&mut self, event: watcher::Event<Pod>) {
        match event {
            watcher::Event::Init => self.relist_pods = Some(HashSet::new()),
            watcher::Event::InitApply(pod) | watcher::Event::Apply(pod) => {
                let key = key_of(&pod.metadata);
                if let Some(seen) = &mut self.relist_pods {
                    seen.insert(key.clone());
                }
                let pod = Arc::new(pod);
                let old = self
                    .pods
                    .entry(key.0.clone())
                    .or_default()
                    .insert(key.1.clone(), pod.clone());
                self.touch_services(&key.0, old.as_deref(), Some(&pod));
            }
            watcher::Event::InitDone => {
                if let Some(seen) = self.relist_pods.take() {
                    let gone: Vec<Key> = self
                        .pods
                        .iter()
                        .flat_map(|(ns, pods)| {
                            pods.keys().map(move |name| (ns.clone(), name.clone()))
                        })
                        .filter(|key| !seen.contains(key))
                        .collect();
                    for key in gone {
                        self.remove_pod(&key);
                    }
                }
                self.pods_synced = true;
            }
            watcher::Event::Delete(pod) => self.remove_pod(&key_of(&pod.metadata)),
        }
    }

    fn remove_pod(&mut self, key: &Key) {
        let old = self
            .pods
            .get_mut(&key.0)
            .and_then(|pods| pods.remove(&key.1));
        self.touch_services(&key.0, old.as_deref(), None);
    }

    /// Marks the Services of `namespace` selecting the Pod before or after a change.
    fn touch_services(&mut self, namespace: &str, old: Option<&Pod>, new: Option<&Pod>) {
        for (key, service) in &self.services {
            if key.0 != namespace {
                continue;
            }
            let Some(selector) = service.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
                continue;
            };
            let selects = |pod: Option<&Pod>| {
                pod.is_some_and(|pod| selector_matches(selector, pod.metadata.labels.as_ref()))
            };
            if selects(old) || selects(new) {
                self.dirty.insert(key.clone());
            }
        }
    }

    fn flush(&mut self, syncs: &mut FuturesUnordered<Sync>) {
        let now = self.shared.clock.now().to_string();
        let keys: Vec<Key> = self
            .dirty
            .iter()
            .filter(|key| !self.in_flight.contains(*key))
            .take(MAX_IN_FLIGHT - syncs.len())
            .cloned()
            .collect();
        for key in keys {
            self.dirty.remove(&key);
            let desired = self
                .services
                .get(&key)
                .and_then(|service| desired(service, self.pods.get(&key.0), &now));
            let written = self.written.remove(&key).unwrap_or_default();
            self.in_flight.insert(key.clone());
            syncs.push(sync(self.shared.client.clone(), key, desired, written).boxed());
        }
    }
}

fn key_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Key {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

/// Writes what changed for one Service; returns what is now written.
async fn sync(
    client: kube::Client,
    key: Key,
    desired: Option<Desired>,
    mut written: Written,
) -> (Key, Written) {
    let (namespace, name) = (&key.0, &key.1);
    let endpoints_api: Api<Endpoints> = Api::namespaced(client.clone(), namespace);
    let slices_api: Api<EndpointSlice> = Api::namespaced(client, namespace);
    let endpoints_params = PatchParams::apply(ENDPOINTS_MANAGER).force();
    let slice_params = PatchParams::apply(SLICE_MANAGER).force();
    match desired {
        None => {
            if written.endpoints.take().is_some() {
                ignore_missing(
                    endpoints_api
                        .delete(name, &DeleteParams::default())
                        .await
                        .map(|_| ()),
                );
            }
            for slice in std::mem::take(&mut written.slices).into_keys() {
                ignore_missing(
                    slices_api
                        .delete(&slice, &DeleteParams::default())
                        .await
                        .map(|_| ()),
                );
            }
        }
        Some(desired) => {
            let endpoints_content = content(&desired.endpoints);
            if written.endpoints.as_ref() != Some(&endpoints_content) {
                match endpoints_api
                    .patch(name, &endpoints_params, &Patch::Apply(&desired.endpoints))
                    .await
                {
                    Ok(_) => written.endpoints = Some(endpoints_content),
                    Err(error) => tracing::debug!(?key, %error, "writing Endpoints failed"),
                }
            }
            let mut keep = BTreeMap::new();
            for (slice_name, slice) in &desired.slices {
                let slice_content = content(slice);
                if written.slices.get(slice_name) == Some(&slice_content) {
                    keep.insert(slice_name.clone(), slice_content);
                    continue;
                }
                match slices_api
                    .patch(slice_name, &slice_params, &Patch::Apply(slice))
                    .await
                {
                    Ok(_) => {
                        keep.insert(slice_name.clone(), slice_content);
                    }
                    Err(error) => tracing::debug!(?key, %error, "writing an EndpointSlice failed"),
                }
            }
            for (slice_name, _) in std::mem::take(&mut written.slices) {
                if !desired.slices.iter().any(|(n, _)| *n == slice_name) {
                    ignore_missing(
                        slices_api
                            .delete(&slice_name, &DeleteParams::default())
                            .await
                            .map(|_| ()),
                    );
                }
            }
            written.slices = keep;
        }
    }
    (key, written)
}

fn ignore_missing(result: Result<(), kube::Error>) {
    match result {
        Ok(()) => {}
        Err(kube::Error::Api(status)) if status.code == 404 => {}
        Err(error) => tracing::debug!(%error, "deleting an endpoints object failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, labels: Value, ip: Option<&str>, ready: bool) -> Arc<Pod> {
        let mut status = json!({"phase": "Running", "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]});
        if let Some(ip) = ip {
            status["podIP"] = json!(ip);
        }
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "default", "labels": labels, "uid": format!("uid-{name}")},
                "spec": {"nodeName": "k8s-node-1", "containers": [{"name": "c", "image": "nginx",
                          "ports": [{"name": "http", "containerPort": 8080}]}]},
                "status": status,
            }))
            .unwrap(),
        )
    }

    fn service(selector: Value, target: Value) -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "svc-uid", "labels": {"team": "a"}},
            "spec": {"selector": selector, "clusterIP": "10.96.0.10",
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": target}]},
        }))
        .unwrap()
    }

    #[test]
    fn selected_pods_become_addresses_with_resolved_ports() {
        let pods: HashMap<String, Arc<Pod>> = [
            (
                "a",
                pod("a", json!({"app": "web"}), Some("10.10.0.3"), true),
            ),
            (
                "b",
                pod("b", json!({"app": "web"}), Some("10.10.0.2"), false),
            ),
            ("c", pod("c", json!({"app": "db"}), Some("10.10.0.4"), true)),
            ("d", pod("d", json!({"app": "web"}), None, false)),
        ]
        .into_iter()
        .map(|(name, pod)| (name.to_string(), pod))
        .collect();
        let desired = desired(
            &service(json!({"app": "web"}), json!("http")),
            Some(&pods),
            "now",
        )
        .unwrap();
        let subsets = desired.endpoints["subsets"].as_array().unwrap();
        assert_eq!(subsets.len(), 1);
        assert_eq!(subsets[0]["addresses"][0]["ip"], "10.10.0.3");
        assert_eq!(subsets[0]["addresses"][0]["targetRef"]["name"], "a");
        assert_eq!(subsets[0]["notReadyAddresses"][0]["ip"], "10.10.0.2");
        assert_eq!(
            subsets[0]["ports"],
            json!([{"name": "http", "port": 8080, "protocol": "TCP"}])
        );
        assert_eq!(desired.endpoints["metadata"]["labels"]["team"], "a");
        assert_eq!(desired.slices.len(), 1);
        let slice = &desired.slices[0].1;
        assert_eq!(
            slice["metadata"]["labels"]["kubernetes.io/service-name"],
            "web"
        );
        assert_eq!(slice["endpoints"].as_array().unwrap().len(), 2);
        assert_eq!(slice["endpoints"][0]["conditions"]["ready"], false);
        assert_eq!(slice["ports"][0]["port"], 8080);
    }

    #[test]
    fn unresolvable_named_ports_exclude_the_pod_and_selectorless_services_are_unmanaged() {
        let pods: HashMap<String, Arc<Pod>> = [(
            "a".to_string(),
            pod("a", json!({"app": "web"}), Some("10.10.0.3"), true),
        )]
        .into();
        let desired = desired(
            &service(json!({"app": "web"}), json!("grpc")),
            Some(&pods),
            "now",
        )
        .unwrap();
        assert!(desired.endpoints.get("subsets").is_none());
        assert_eq!(desired.slices.len(), 1, "a placeholder slice remains");
        assert!(
            desired.slices[0].1["endpoints"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        let mut unmanaged = service(json!({}), json!(80));
        unmanaged.spec.as_mut().unwrap().selector = None;
        assert!(super::desired(&unmanaged, Some(&pods), "now").is_none());
    }

    #[test]
    fn no_op_detection_ignores_the_trigger_time() {
        let a = json!({"metadata": {"annotations": {"endpoints.kubernetes.io/last-change-trigger-time": "1"}}, "x": 1});
        let b = json!({"metadata": {"annotations": {"endpoints.kubernetes.io/last-change-trigger-time": "2"}}, "x": 1});
        assert_eq!(content(&a), content(&b));
    }
}
