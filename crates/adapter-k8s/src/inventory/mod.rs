//! The MP adapter's watches of the inventory kinds.
//!
//! [`InventoryWatches::start`] runs one `kube::runtime::watcher` per kind: Namespaces, Nodes,
//! Pods, Services, EndpointSlices, Ingresses, Kubernetes NetworkPolicies, Antrea
//! ClusterNetworkPolicies and NetworkPolicies, AntreaAgentInfos and AntreaControllerInfos,
//! and, once their CRDs exist (checked again every
//! [`InventoryOptions::crd_recheck_interval`]), Egresses,
//! ExternalIPPools and Gateway API Gateways. Every event is projected at once into the shared
//! [`InventoryState`] (the core's `InventoryProjector` and its `InventoryIndex`); the
//! Kubernetes objects themselves are dropped. What is kept besides the projected records is
//! small: per object its UID, namespace and name (to delete what vanished across a relist),
//! per Pod whether it is host-network (Traceflow), Node names and UIDs, and each agent's
//! conditions (health).
//!
//! The watchers survive dropped connections and `410 Gone` by relisting (kube's watcher
//! does this); after a relist, objects not listed again are deleted from the inventory.
//! [`InventoryWatches::initial_lists_done`] turns `true` once every always-present kind has
//! been listed completely once.
//!
//! EndpointSlices (`discovery.k8s.io/v1`) are watched for Services without a selector
//! (endpoints managed by hand, or mirrored from hand-written Endpoints): a label selector
//! leaves out the EndpointSlice controller's slices, since a Service with a selector is
//! derived from the selector and the Pods' readiness (docs/inventory.md §2.1). Of a slice
//! only its Service name and the UIDs of its ready endpoints' Pods are kept.

mod lookup;
mod watch;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use adapter_core::mp::inventory::InventoryProjector;
use antrea_types::{AntreaAgentInfo, AntreaAgentInfoFields, AntreaControllerInfo};
use kube::Client;
use parking_lot::Mutex;
use tokio::sync::{Notify, watch as tokio_watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use lookup::{PodEntry, WorkloadIndex};

/// Tunables of the watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryOptions {
    /// How often the existence of the optional CRDs (Egress, ExternalIPPool, Gateway) is
    /// checked again while they are missing.
    pub crd_recheck_interval: Duration,
    /// Page size of the initial lists.
    pub page_size: u32,
}

impl Default for InventoryOptions {
    fn default() -> Self {
        InventoryOptions {
            crd_recheck_interval: Duration::from_secs(60),
            page_size: 500,
        }
    }
}

/// Everything the watches maintain, behind one lock.
#[derive(Debug)]
pub struct InventoryState {
    /// The projected records and the pending changes for NSX.
    pub projector: InventoryProjector,
    /// Pods, Services and Nodes by UID, for Traceflow and support bundles.
    pub workloads: WorkloadIndex,
    /// AntreaAgentInfo per Node, cut to name, UID and conditions.
    pub agents: BTreeMap<String, AntreaAgentInfo>,
    /// The AntreaControllerInfo, when it exists.
    pub controller: Option<AntreaControllerInfo>,
}

impl InventoryState {
    /// A state around `projector` (which may already hold the ContainerCluster record).
    pub fn new(projector: InventoryProjector) -> Self {
        InventoryState {
            projector,
            workloads: WorkloadIndex::default(),
            agents: BTreeMap::new(),
            controller: None,
        }
    }

    /// Records an AntreaAgentInfo for health, keeping only its conditions.
    fn remember_agent(&mut self, info: &AntreaAgentInfo) {
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
        self.agents.insert(node, trimmed);
    }
}

/// The state shared by the watch tasks and the MP adapter.
#[derive(Debug)]
pub struct SharedInventory {
    state: Mutex<InventoryState>,
    changed: Notify,
    kubernetes_reachable: AtomicBool,
    last_error: Mutex<Option<String>>,
    events: AtomicU64,
    relists: AtomicU64,
}

impl SharedInventory {
    fn new(state: InventoryState) -> Self {
        SharedInventory {
            state: Mutex::new(state),
            changed: Notify::new(),
            kubernetes_reachable: AtomicBool::new(true),
            last_error: Mutex::new(None),
            events: AtomicU64::new(0),
            relists: AtomicU64::new(0),
        }
    }

    /// Runs `read` (or a change) on the state under its lock. Keep it short: the watches
    /// wait meanwhile.
    pub fn with<R>(&self, read: impl FnOnce(&mut InventoryState) -> R) -> R {
        read(&mut self.state.lock())
    }

    /// Resolves when a watch event changed the state after the last wake-up.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Wakes whoever waits in [`SharedInventory::changed`].
    pub fn notify_changed(&self) {
        self.changed.notify_one();
    }

    /// Whether the last request of every watch succeeded.
    pub fn kubernetes_reachable(&self) -> bool {
        self.kubernetes_reachable.load(Ordering::Relaxed)
    }

    /// The last watch error, if the Kubernetes API is unreachable now.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().clone()
    }

    /// Watch events projected since start.
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }

    /// Relists (watch restarts after the first list) since start.
    pub fn relists(&self) -> u64 {
        self.relists.load(Ordering::Relaxed)
    }

    fn record_event(&self) {
        self.events.fetch_add(1, Ordering::Relaxed);
        if !self.kubernetes_reachable.swap(true, Ordering::Relaxed) {
            *self.last_error.lock() = None;
        }
    }

    fn record_error(&self, kind: &str, error: &dyn std::fmt::Display) {
        self.kubernetes_reachable.store(false, Ordering::Relaxed);
        *self.last_error.lock() = Some(format!("watching {kind}: {error}"));
    }
}

/// The running watches. Dropping it stops them.
#[derive(Debug)]
pub struct InventoryWatches {
    shared: Arc<SharedInventory>,
    initial: tokio_watch::Receiver<bool>,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl InventoryWatches {
    /// Starts every watch on `client`, projecting into `state`. Must run inside a tokio
    /// runtime.
    pub fn start(client: Client, state: InventoryState, options: InventoryOptions) -> Self {
        let shared = Arc::new(SharedInventory::new(state));
        let cancel = CancellationToken::new();
        let (initial_tx, initial) = tokio_watch::channel(false);
        let tasks = watch::spawn_all(client, shared.clone(), options, cancel.clone(), initial_tx);
        InventoryWatches {
            shared,
            initial,
            cancel,
            tasks,
        }
    }

    /// The shared state.
    pub fn shared(&self) -> &Arc<SharedInventory> {
        &self.shared
    }

    /// `true` once every always-present kind has been listed completely once.
    pub fn initial_lists_done(&self) -> tokio_watch::Receiver<bool> {
        self.initial.clone()
    }

    /// Stops the watches and waits for their tasks.
    pub async fn stop(&mut self) {
        self.cancel.cancel();
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for InventoryWatches {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
