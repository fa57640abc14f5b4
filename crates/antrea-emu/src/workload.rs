//! The workload model: the Nodes of the emulated cluster (Pod CIDRs from 10.10.0.0/16, one
//! /24 each), Antrea's own objects (controller Deployment Pod, agent DaemonSet Pods, the
//! `antrea` Service), and a scheduler plus kubelets that run Pods.
//!
//! The scheduler binds each Pod created without `spec.nodeName` to the Node with the fewest
//! Pods (ties go to the lowest Node number), so spreading is deterministic. The kubelet of a
//! Node then starts the Pod: it takes the lowest free address of the Node's Pod CIDR
//! (`.1` is Antrea's gateway, so Pods get `.2` upward; hostNetwork Pods get the Node's
//! InternalIP) and writes a `Running` status with ready containers. Both watch Pods and write
//! through the API. The emulator has no `pods/binding` subresource, so binding is a merge
//! patch of `spec.nodeName`.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt, future::BoxFuture};
use ipnet::Ipv4Net;
use k8s_openapi::api::core::v1::{Node, Pod, Service, ServiceAccount};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use crate::{ANTREA_NAMESPACE, ANTREA_SERVICE, ANTREA_VERSION, AntreaEmuError, MAX_NODES, Shared};

/// Pods a Node accepts (kubelet `maxPods`; its /24 has 253 usable addresses).
pub const MAX_PODS_PER_NODE: usize = 250;
/// Kubelet version the Nodes report.
pub const KUBELET_VERSION: &str = "v1.33.1";
/// Field manager of the scheduler's and kubelets' writes.
const SCHEDULER: &str = "default-scheduler";
const KUBELET: &str = "kubelet";
/// Writes in flight at once.
const MAX_IN_FLIGHT: usize = 32;
/// Characters of Kubernetes' random name suffixes (`utilrand.String`).
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// One emulated Node.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// `k8s-node-<number>`.
    pub name: String,
    /// 1-based.
    pub number: usize,
    /// `10.10.<number - 1>.0/24`.
    pub pod_cidr: Ipv4Net,
    /// `172.18.0.<number + 1>` (kind's addressing).
    pub internal_ip: Ipv4Addr,
    /// Name of the antrea-agent Pod on the Node.
    pub agent_pod: String,
    /// PEM of the agent API's self-signed certificate (`apiCABundle`; ServerName `localhost`).
    pub agent_api_certificate_pem: String,
    /// PEM of the agent API certificate's private key.
    pub agent_api_key_pem: String,
}

impl NodeInfo {
    /// Antrea's gateway address (`antrea-gw0`): the first address of the Pod CIDR.
    pub fn gateway_ip(&self) -> Ipv4Addr {
        nth_address(self.pod_cidr, 1)
    }
}

/// The Nodes and where antrea-controller runs.
#[derive(Debug, Clone)]
pub struct Topology {
    pub nodes: Vec<NodeInfo>,
    /// Name of the antrea-controller Pod (in `kube-system`).
    pub controller_pod: String,
    /// Node hosting antrea-controller (the first one).
    pub controller_node: String,
}

fn nth_address(net: Ipv4Net, n: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.network()).saturating_add(n))
}

/// A deterministic Kubernetes-style random suffix derived from `seed`.
pub(crate) fn name_suffix(seed: &str, length: usize) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    digest
        .iter()
        .take(length)
        .map(|byte| SUFFIX_ALPHABET[usize::from(*byte) % SUFFIX_ALPHABET.len()] as char)
        .collect()
}

/// 64 hex digits derived from `seed` (container and image IDs).
fn hex_id(seed: &str) -> String {
    hex::encode(Sha256::digest(seed.as_bytes()))
}

impl Topology {
    /// `nodes` Nodes (1 to [`MAX_NODES`]).
    pub fn new(nodes: usize) -> Result<Self, AntreaEmuError> {
        if nodes == 0 || nodes > MAX_NODES {
            return Err(AntreaEmuError::Options(format!(
                "nodes must be between 1 and {MAX_NODES}, not {nodes}"
            )));
        }
        let base = Ipv4Addr::new(10, 10, 0, 0);
        let node_base = u32::from(Ipv4Addr::new(172, 18, 0, 1));
        let mut list = Vec::with_capacity(nodes);
        for number in 1..=nodes {
            let name = format!("k8s-node-{number}");
            let offset = u32::try_from(number - 1).unwrap_or(0) << 8;
            let pod_cidr = Ipv4Net::new(Ipv4Addr::from(u32::from(base) + offset), 24)
                .map_err(|error| AntreaEmuError::Options(error.to_string()))?;
            let certificate = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
                .map_err(|error| AntreaEmuError::Certificate {
                    node: name.clone(),
                    message: error.to_string(),
                })?;
            list.push(NodeInfo {
                agent_pod: format!("antrea-agent-{}", name_suffix(&name, 5)),
                internal_ip: Ipv4Addr::from(node_base + u32::try_from(number).unwrap_or(0)),
                pod_cidr,
                number,
                agent_api_certificate_pem: certificate.cert.pem(),
                agent_api_key_pem: certificate.signing_key.serialize_pem(),
                name,
            });
        }
        let controller_node = list[0].name.clone();
        Ok(Topology {
            controller_pod: format!(
                "antrea-controller-{}-{}",
                name_suffix("antrea-controller-replicaset", 10),
                name_suffix("antrea-controller-pod", 5)
            ),
            controller_node,
            nodes: list,
        })
    }

    /// The Node with this name.
    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.nodes.iter().find(|node| node.name == name)
    }
}

fn node_object(node: &NodeInfo, now: &str) -> Value {
    let mut labels = json!({
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": node.name,
        "kubernetes.io/os": "linux",
    });
    if node.number == 1 {
        labels["node-role.kubernetes.io/control-plane"] = json!("");
    }
    let condition = |kind: &str, status: &str, reason: &str, message: &str| {
        json!({"type": kind, "status": status, "reason": reason, "message": message,
               "lastHeartbeatTime": now, "lastTransitionTime": now})
    };
    let resources = json!({
        "cpu": "8", "memory": "16318976Ki", "ephemeral-storage": "102626232Ki",
        "hugepages-1Gi": "0", "hugepages-2Mi": "0", "pods": MAX_PODS_PER_NODE.to_string(),
    });
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node.name,
            "labels": labels,
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {
            "podCIDR": node.pod_cidr.to_string(),
            "podCIDRs": [node.pod_cidr.to_string()],
            "providerID": format!("kind://docker/antrea/{}", node.name),
        },
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": node.internal_ip.to_string()},
                {"type": "Hostname", "address": node.name},
            ],
            "capacity": resources,
            "allocatable": resources,
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": uuid_like(&format!("{}-boot", node.name)),
                "containerRuntimeVersion": "containerd://2.1.1",
                "kernelVersion": "6.8.0-60-generic",
                "kubeProxyVersion": "",
                "kubeletVersion": KUBELET_VERSION,
                "machineID": hex_id(&format!("{}-machine", node.name))[..32].to_string(),
                "operatingSystem": "linux",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "systemUUID": uuid_like(&format!("{}-system", node.name)),
            },
        },
    })
}

fn uuid_like(seed: &str) -> String {
    let hex = hex_id(seed);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn antrea_pod(name: &str, component: &str, node: &str, containers: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ANTREA_NAMESPACE,
            "labels": {"app": "antrea", "component": component},
        },
        "spec": {
            "nodeName": node,
            "hostNetwork": true,
            "priorityClassName": "system-node-critical",
            "serviceAccountName": component,
            "containers": containers,
        },
    })
}

async fn create_if_missing<K>(api: &Api<K>, object: Value, what: &str) -> Result<(), AntreaEmuError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let typed: K = serde_json::from_value(object).map_err(|source| AntreaEmuError::Encode {
        what: "a workload object",
        source,
    })?;
    match api.create(&PostParams::default(), &typed).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(error) => Err(AntreaEmuError::api(format!("creating {what}"), error)),
    }
}

/// Creates the Nodes and Antrea's own ServiceAccounts, Service and Pods.
pub(crate) async fn create_cluster(shared: &Arc<Shared>) -> Result<(), AntreaEmuError> {
    let client = &shared.client;
    let now = shared.clock.now().to_string();
    let nodes: Api<Node> = Api::all(client.clone());
    for node in &shared.topology.nodes {
        create_if_missing(
            &nodes,
            node_object(node, &now),
            &format!("Node {}", node.name),
        )
        .await?;
    }
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), ANTREA_NAMESPACE);
    for account in ["antrea-controller", "antrea-agent"] {
        let object = json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": account, "namespace": ANTREA_NAMESPACE, "labels": {"app": "antrea"}}});
        create_if_missing(&accounts, object, &format!("ServiceAccount {account}")).await?;
    }
    let services: Api<Service> = Api::namespaced(client.clone(), ANTREA_NAMESPACE);
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": ANTREA_SERVICE, "namespace": ANTREA_NAMESPACE, "labels": {"app": "antrea"}},
        "spec": {
            "selector": {"app": "antrea", "component": "antrea-controller"},
            "ports": [{"port": 443, "protocol": "TCP", "targetPort": "api"}],
        },
    });
    create_if_missing(&services, service, "Service antrea").await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ANTREA_NAMESPACE);
    let topology = &shared.topology;
    let controller = antrea_pod(
        &topology.controller_pod,
        "antrea-controller",
        &topology.controller_node,
        json!([{
            "name": "antrea-controller",
            "image": format!("antrea/antrea-controller-ubuntu:{ANTREA_VERSION}"),
            "ports": [{"name": "api", "containerPort": crate::CONTROLLER_API_PORT, "protocol": "TCP"}],
        }]),
    );
    create_if_missing(&pods, controller, "the antrea-controller Pod").await?;
    for node in &topology.nodes {
        let agent = antrea_pod(
            &node.agent_pod,
            "antrea-agent",
            &node.name,
            json!([
                {
                    "name": "antrea-agent",
                    "image": format!("antrea/antrea-agent-ubuntu:{ANTREA_VERSION}"),
                    "ports": [{"name": "api", "containerPort": crate::AGENT_API_PORT, "protocol": "TCP"}],
                },
                {"name": "antrea-ovs", "image": format!("antrea/antrea-agent-ubuntu:{ANTREA_VERSION}")},
            ]),
        );
        create_if_missing(
            &pods,
            agent,
            &format!("the antrea-agent Pod of {}", node.name),
        )
        .await?;
    }
    Ok(())
}

/// Watch events of `api` with errors logged and retried with backoff.
pub(crate) fn watch<K>(api: Api<K>) -> impl futures::Stream<Item = watcher::Event<K>> + Send
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    use kube::runtime::WatchStreamExt as _;
    watcher(api, watcher::Config::default())
        .default_backoff()
        .filter_map(|event| async move {
            match event {
                Ok(event) => Some(event),
                Err(error) => {
                    tracing::debug!(%error, "watch failed; retrying");
                    None
                }
            }
        })
}

type Key = (String, String);

fn pod_key(pod: &Pod) -> Key {
    (
        pod.metadata.namespace.clone().unwrap_or_default(),
        pod.metadata.name.clone().unwrap_or_default(),
    )
}

/// What the scheduler and kubelets did for a Pod.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PodState {
    /// Nothing in flight.
    Idle,
    /// A binding to the tracked Node is being written.
    Binding,
    /// No Node has room; the `PodScheduled=False` status was written.
    Unschedulable,
    /// The kubelet is writing the Running status.
    Starting,
    /// Running (or finished) with its address.
    Running,
}

#[derive(Debug)]
struct TrackedPod {
    uid: String,
    /// Node holding a slot for the Pod (bound, being bound, or running).
    node: Option<String>,
    /// Address taken from the Node's pool (not for hostNetwork Pods).
    ip: Option<Ipv4Addr>,
    state: PodState,
    latest: Arc<Pod>,
}

#[derive(Debug)]
struct NodeSlots {
    info: NodeInfo,
    pods: usize,
    /// Used host numbers of the /24 (0, 1 and 255 are never handed out).
    used: Vec<bool>,
}

impl NodeSlots {
    fn new(info: NodeInfo) -> Self {
        let mut used = vec![false; 256];
        used[0] = true;
        used[1] = true;
        used[255] = true;
        NodeSlots {
            info,
            pods: 0,
            used,
        }
    }

    fn take_address(&mut self) -> Option<Ipv4Addr> {
        let host = self.used.iter().position(|used| !used)?;
        self.used[host] = true;
        Some(nth_address(self.info.pod_cidr, u32::try_from(host).ok()?))
    }

    fn host_number(&self, address: Ipv4Addr) -> Option<usize> {
        self.info
            .pod_cidr
            .contains(&address)
            .then(|| usize::from(address.octets()[3]))
    }

    fn mark_used(&mut self, address: Ipv4Addr) -> bool {
        match self.host_number(address) {
            Some(host) if !self.used[host] => {
                self.used[host] = true;
                true
            }
            _ => false,
        }
    }

    fn release(&mut self, address: Ipv4Addr) {
        if let Some(host) = self.host_number(address)
            && host > 1
            && host < 255
        {
            self.used[host] = false;
        }
    }
}

/// The result of one write (or the end of a pause before retrying), fed back into the loop.
enum Outcome {
    Written {
        key: Key,
        uid: String,
        ok: bool,
        not_found: bool,
    },
    Retry {
        key: Key,
        uid: String,
    },
}

type Write = BoxFuture<'static, Outcome>;

struct Kubelets {
    shared: Arc<Shared>,
    nodes: HashMap<String, NodeSlots>,
    /// Node names in number order (for tie breaks).
    order: Vec<String>,
    pods: HashMap<Key, TrackedPod>,
    /// Pods seen during a relist (to forget the others when it ends).
    relist: Option<Vec<Key>>,
}

/// Starts the scheduler and kubelets; the receiver fires once they have listed the Pods.
pub(crate) fn spawn(shared: &Arc<Shared>) -> oneshot::Receiver<()> {
    let (ready_tx, ready_rx) = oneshot::channel();
    let kubelets = Kubelets {
        shared: shared.clone(),
        nodes: shared
            .topology
            .nodes
            .iter()
            .map(|node| (node.name.clone(), NodeSlots::new(node.clone())))
            .collect(),
        order: shared
            .topology
            .nodes
            .iter()
            .map(|n| n.name.clone())
            .collect(),
        pods: HashMap::new(),
        relist: None,
    };
    tokio::spawn(kubelets.run(ready_tx));
    ready_rx
}

impl Kubelets {
    async fn run(mut self, ready: oneshot::Sender<()>) {
        let cancel = self.shared.cancel.clone();
        let api: Api<Pod> = Api::all(self.shared.client.clone());
        let events = watch(api);
        futures::pin_mut!(events);
        let mut ready = Some(ready);
        let mut writes: FuturesUnordered<Write> = FuturesUnordered::new();
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                Some(outcome) = writes.next(), if !writes.is_empty() => {
                    self.finish(outcome, &mut writes);
                }
                event = events.next(), if writes.len() < MAX_IN_FLIGHT => {
                    let Some(event) = event else { return };
                    match event {
                        watcher::Event::Init => self.relist = Some(Vec::new()),
                        watcher::Event::InitApply(pod) => {
                            if let Some(seen) = &mut self.relist {
                                seen.push(pod_key(&pod));
                            }
                            self.reconcile(pod, &mut writes);
                        }
                        watcher::Event::InitDone => {
                            self.end_relist();
                            if let Some(ready) = ready.take() {
                                let _ = ready.send(());
                            }
                        }
                        watcher::Event::Apply(pod) => self.reconcile(pod, &mut writes),
                        watcher::Event::Delete(pod) => self.forget(&pod_key(&pod)),
                    }
                }
            }
        }
    }

    fn end_relist(&mut self) {
        let Some(seen) = self.relist.take() else {
            return;
        };
        let seen: std::collections::HashSet<Key> = seen.into_iter().collect();
        let gone: Vec<Key> = self
            .pods
            .keys()
            .filter(|key| !seen.contains(*key))
            .cloned()
            .collect();
        for key in gone {
            self.forget(&key);
        }
    }

    /// Releases a Pod's slot and address.
    fn forget(&mut self, key: &Key) {
        if let Some(tracked) = self.pods.remove(key) {
            self.release(&tracked);
        }
    }

    fn release(&mut self, tracked: &TrackedPod) {
        if let Some(slots) = tracked.node.as_ref().and_then(|n| self.nodes.get_mut(n)) {
            slots.pods = slots.pods.saturating_sub(1);
            if let Some(ip) = tracked.ip {
                slots.release(ip);
            }
        }
    }

    /// The Node with the fewest Pods that has room (lowest number on ties).
    fn pick_node(&self) -> Option<String> {
        self.order
            .iter()
            .filter_map(|name| self.nodes.get(name))
            .filter(|slots| slots.pods < MAX_PODS_PER_NODE)
            .min_by_key(|slots| (slots.pods, slots.info.number))
            .map(|slots| slots.info.name.clone())
    }

    fn reconcile(&mut self, pod: Pod, writes: &mut FuturesUnordered<Write>) {
        let key = pod_key(&pod);
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        if self
            .pods
            .get(&key)
            .is_some_and(|tracked| tracked.uid != uid)
        {
            self.forget(&key);
        }
        let pod = Arc::new(pod);
        let tracked = self.pods.entry(key.clone()).or_insert_with(|| TrackedPod {
            uid: uid.clone(),
            node: None,
            ip: None,
            state: PodState::Idle,
            latest: pod.clone(),
        });
        tracked.latest = pod.clone();
        if pod.metadata.deletion_timestamp.is_some() {
            return;
        }
        let spec = pod.spec.clone().unwrap_or_default();
        let bound_to = spec.node_name.clone().filter(|name| !name.is_empty());
        let Some(node) = bound_to else {
            self.schedule(key, writes);
            return;
        };
        // Bound (by us or by the creator): hold a slot on that Node if it is one of ours.
        let tracked = self.pods.get_mut(&key).expect("tracked above");
        if tracked.node.as_deref() != Some(node.as_str()) {
            let previous = TrackedPod {
                uid: String::new(),
                node: tracked.node.take(),
                ip: tracked.ip.take(),
                state: PodState::Idle,
                latest: pod.clone(),
            };
            if self.nodes.contains_key(&node) {
                self.pods.get_mut(&key).expect("tracked").node = Some(node.clone());
                if let Some(slots) = self.nodes.get_mut(&node) {
                    slots.pods += 1;
                }
            }
            self.release(&previous);
        }
        if !self.nodes.contains_key(&node) {
            // No kubelet runs there: the Pod stays Pending.
            return;
        }
        let tracked = self.pods.get_mut(&key).expect("tracked");
        let status = pod.status.clone().unwrap_or_default();
        let started = status.pod_ip.as_deref().is_some_and(|ip| !ip.is_empty())
            || matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"));
        if started {
            if tracked.ip.is_none()
                && !spec.host_network.unwrap_or(false)
                && let Some(address) = status.pod_ip.as_deref().and_then(|ip| ip.parse().ok())
                && let Some(slots) = self.nodes.get_mut(&node)
                && slots.mark_used(address)
            {
                tracked.ip = Some(address);
            }
            tracked.state = PodState::Running;
            return;
        }
        if tracked.state == PodState::Starting {
            return;
        }
        let slots = self.nodes.get_mut(&node).expect("our node");
        let host_ip = slots.info.internal_ip;
        let pod_ip = if spec.host_network.unwrap_or(false) {
            host_ip
        } else {
            match tracked.ip {
                Some(ip) => ip,
                None => match slots.take_address() {
                    Some(ip) => {
                        tracked.ip = Some(ip);
                        ip
                    }
                    None => {
                        tracing::warn!(pod = ?key, node, "no free address left on the Node");
                        return;
                    }
                },
            }
        };
        tracked.state = PodState::Starting;
        let patch = running_status(&pod, host_ip, pod_ip, &self.shared.clock.now().to_string());
        writes.push(self.write(key, uid, patch, true));
    }

    fn schedule(&mut self, key: Key, writes: &mut FuturesUnordered<Write>) {
        let tracked = self.pods.get(&key).expect("tracked");
        if matches!(tracked.state, PodState::Binding) {
            return;
        }
        let uid = tracked.uid.clone();
        match self.pick_node() {
            Some(node) => {
                if let Some(slots) = self.nodes.get_mut(&node) {
                    slots.pods += 1;
                }
                let tracked = self.pods.get_mut(&key).expect("tracked");
                tracked.node = Some(node.clone());
                tracked.state = PodState::Binding;
                let patch = json!({"spec": {"nodeName": node}});
                writes.push(self.write(key, uid, patch, false));
            }
            None => {
                if tracked.state == PodState::Unschedulable {
                    return;
                }
                let nodes = self.nodes.len();
                let message = format!(
                    "0/{nodes} nodes are available: {nodes} Too many pods. preemption: 0/{nodes} nodes are available: {nodes} No preemption victims found for incoming pod."
                );
                let patch = json!({"status": {"conditions": [{
                    "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "message": message, "lastProbeTime": null,
                    "lastTransitionTime": self.shared.clock.now().to_string(),
                }]}});
                self.pods.get_mut(&key).expect("tracked").state = PodState::Unschedulable;
                writes.push(self.write(key, uid, patch, true));
            }
        }
    }

    /// Writes a patch in its own task (so writes use every worker thread).
    fn write(&self, key: Key, uid: String, patch: Value, status: bool) -> Write {
        let api: Api<Pod> = Api::namespaced(self.shared.client.clone(), &key.0);
        let name = key.1.clone();
        let task = tokio::spawn(async move {
            let params = PatchParams {
                field_manager: Some(if status { KUBELET } else { SCHEDULER }.to_string()),
                ..PatchParams::default()
            };
            let result = if status {
                api.patch_status(&name, &params, &Patch::Merge(&patch))
                    .await
            } else {
                api.patch(&name, &params, &Patch::Merge(&patch)).await
            };
            match result {
                Ok(_) => (true, false),
                Err(error) => {
                    tracing::debug!(pod = name, %error, "scheduler/kubelet write failed");
                    let not_found =
                        matches!(&error, kube::Error::Api(status) if status.code == 404);
                    (false, not_found)
                }
            }
        });
        async move {
            let (ok, not_found) = task.await.unwrap_or((false, false));
            Outcome::Written {
                key,
                uid,
                ok,
                not_found,
            }
        }
        .boxed()
    }

    fn finish(&mut self, outcome: Outcome, writes: &mut FuturesUnordered<Write>) {
        let (key, uid) = match outcome {
            Outcome::Written { ok: true, .. } => return,
            Outcome::Retry { key, uid } => {
                if let Some(tracked) = self.pods.get(&key).filter(|t| t.uid == uid) {
                    let latest = (*tracked.latest).clone();
                    self.reconcile(latest, writes);
                }
                return;
            }
            Outcome::Written {
                key,
                uid,
                not_found,
                ..
            } => {
                if not_found {
                    if self.pods.get(&key).is_some_and(|t| t.uid == uid) {
                        self.forget(&key);
                    }
                    return;
                }
                (key, uid)
            }
        };
        let Some(tracked) = self.pods.get_mut(&key).filter(|t| t.uid == uid) else {
            return;
        };
        // Undo what the failed write was for, and reconcile again after a pause.
        match tracked.state {
            PodState::Binding => {
                let previous = TrackedPod {
                    uid: String::new(),
                    node: tracked.node.take(),
                    ip: None,
                    state: PodState::Idle,
                    latest: tracked.latest.clone(),
                };
                tracked.state = PodState::Idle;
                self.release(&previous);
            }
            PodState::Starting | PodState::Unschedulable => tracked.state = PodState::Idle,
            PodState::Idle | PodState::Running => {}
        }
        writes.push(
            async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                Outcome::Retry { key, uid }
            }
            .boxed(),
        );
    }
}

/// The status a kubelet writes once every container runs.
fn running_status(pod: &Pod, host_ip: Ipv4Addr, pod_ip: Ipv4Addr, now: &str) -> Value {
    let spec = pod.spec.clone().unwrap_or_default();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let condition = |kind: &str| json!({"type": kind, "status": "True", "lastProbeTime": null, "lastTransitionTime": now});
    let image_id = |image: &str| {
        let repository = image.split(['@', ':']).next().unwrap_or(image);
        let repository = if repository.contains('/') {
            repository.to_string()
        } else {
            format!("library/{repository}")
        };
        format!("docker.io/{repository}@sha256:{}", hex_id(image))
    };
    let container_status = |container: &k8s_openapi::api::core::v1::Container, init: bool| {
        let state = if init {
            json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now,
                   "containerID": format!("containerd://{}", hex_id(&format!("{uid}/{}", container.name)))}})
        } else {
            json!({"running": {"startedAt": now}})
        };
        let image = container.image.clone().unwrap_or_default();
        json!({
            "name": container.name,
            "image": image,
            "imageID": image_id(&image),
            "containerID": format!("containerd://{}", hex_id(&format!("{uid}/{}", container.name))),
            "ready": !init,
            "started": !init,
            "restartCount": 0,
            "state": state,
            "lastState": {},
        })
    };
    let mut status = json!({
        "phase": "Running",
        "conditions": [
            condition("PodReadyToStartContainers"),
            condition("Initialized"),
            condition("Ready"),
            condition("ContainersReady"),
            condition("PodScheduled"),
        ],
        "hostIP": host_ip.to_string(),
        "hostIPs": [{"ip": host_ip.to_string()}],
        "podIP": pod_ip.to_string(),
        "podIPs": [{"ip": pod_ip.to_string()}],
        "startTime": now,
        "containerStatuses": spec.containers.iter().map(|c| container_status(c, false)).collect::<Vec<_>>(),
    });
    if let Some(init) = spec
        .init_containers
        .as_ref()
        .filter(|list| !list.is_empty())
    {
        status["initContainerStatuses"] =
            Value::Array(init.iter().map(|c| container_status(c, true)).collect());
    }
    json!({ "status": status })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_split_the_pod_cidr_into_24s() {
        let topology = Topology::new(3).unwrap();
        let names: Vec<&str> = topology.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["k8s-node-1", "k8s-node-2", "k8s-node-3"]);
        assert_eq!(topology.nodes[0].pod_cidr.to_string(), "10.10.0.0/24");
        assert_eq!(topology.nodes[2].pod_cidr.to_string(), "10.10.2.0/24");
        assert_eq!(topology.nodes[1].internal_ip, Ipv4Addr::new(172, 18, 0, 3));
        assert_eq!(topology.nodes[1].gateway_ip(), Ipv4Addr::new(10, 10, 1, 1));
        assert!(topology.nodes[0].agent_pod.starts_with("antrea-agent-"));
        assert!(
            topology.nodes[0]
                .agent_api_certificate_pem
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
        assert_eq!(topology.controller_node, "k8s-node-1");
        assert!(Topology::new(0).is_err());
        assert!(Topology::new(MAX_NODES + 1).is_err());
        let last = Topology::new(MAX_NODES).unwrap();
        assert_eq!(last.nodes[255].pod_cidr.to_string(), "10.10.255.0/24");
    }

    #[test]
    fn addresses_start_after_the_gateway_and_are_reused() {
        let topology = Topology::new(1).unwrap();
        let mut slots = NodeSlots::new(topology.nodes[0].clone());
        assert_eq!(slots.take_address(), Some(Ipv4Addr::new(10, 10, 0, 2)));
        assert_eq!(slots.take_address(), Some(Ipv4Addr::new(10, 10, 0, 3)));
        slots.release(Ipv4Addr::new(10, 10, 0, 2));
        assert_eq!(slots.take_address(), Some(Ipv4Addr::new(10, 10, 0, 2)));
        assert!(slots.mark_used(Ipv4Addr::new(10, 10, 0, 9)));
        assert!(!slots.mark_used(Ipv4Addr::new(10, 10, 0, 9)));
        assert!(!slots.mark_used(Ipv4Addr::new(10, 10, 1, 9)));
        let taken = (0..300).filter_map(|_| slots.take_address()).count();
        assert_eq!(taken, 253 - 3);
    }

    #[test]
    fn suffixes_are_deterministic_and_use_the_kubernetes_alphabet() {
        let a = name_suffix("x", 5);
        assert_eq!(a, name_suffix("x", 5));
        assert_eq!(a.len(), 5);
        assert!(a.bytes().all(|b| SUFFIX_ALPHABET.contains(&b)));
        assert_ne!(a, name_suffix("y", 5));
    }
}
