//! The MP adapter process: inventory, health, statistics, Traceflow, support bundles.
//!
//! [`MpAdapter::start`] wires the pieces together:
//!
//! 1. **Inventory** (`sync`): find or create the ContainerCluster, start the watches
//!    (`adapter_k8s::inventory`), wait for their initial lists, list what NSX holds for the
//!    cluster and send only the difference; then send the coalesced deltas in batches of
//!    `inventory_batch_size` (a partial batch after `inventory_batch_period`), one batch in
//!    flight at a time, retried with backoff without loss or duplication (the core's
//!    `InventoryIndex` ack/nack), and every `inventory_gc_period` a full comparison again.
//! 2. **Health** (`health`): the management-plane channel sends a heartbeat every interval
//!    NSX configures, with the controller, agents, MP adapter and CCP adapter judged by the
//!    core; a change of any component's status sends one at once.
//! 3. **Requests** (`requests`): statistics, Traceflow, support bundles and logs.
//!
//! [`MpAdapter::shutdown`] stops the watches, flushes what is pending (bounded by
//! `shutdown_flush_timeout`) and closes the channel. Docs: docs/mp-adapter.md.

mod ccp;
mod health;
mod requests;
mod sync;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use adapter_core::mp::health::HealthPolicy;
use adapter_core::mp::inventory::InventoryProjector;
use adapter_core::mp::inventory::project::{ClusterSettings, project_cluster};
use adapter_k8s::antrea::bundle::BundleOptions;
use adapter_k8s::antrea::traceflow::TraceflowWait;
use adapter_k8s::inventory::{InventoryOptions, InventoryState, InventoryWatches};
use adapter_nsx::channel::ChannelConfig;
use adapter_nsx::channel::management::{ManagementPlaneClient, ManagementPlaneOptions};
use adapter_nsx::rest::{NsxRestClient, RestConfig, RestError};
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use ccp::{DEFAULT_CCP_STATUS_URL, parse_ccp_status};

/// Options of the MP adapter. [`MpAdapterOptions::new`] fills in the defaults.
#[derive(Debug, Clone)]
pub struct MpAdapterOptions {
    /// The ContainerCluster's `external_id` in NSX's inventory: the `node_id` of the cluster
    /// control plane the register job created.
    pub cluster_id: String,
    /// What mp-adapter.conf says about the cluster (display name, type, CIDRs, ...). Its
    /// `cluster_id` is replaced by [`MpAdapterOptions::cluster_id`].
    pub cluster: ClusterSettings,
    /// NSX's REST API (inventory).
    pub nsx: RestConfig,
    /// NSX's management-plane channel (health, requests).
    pub channel: ChannelConfig,
    /// Tunables of the channel client.
    pub management: ManagementPlaneOptions,
    /// `InventoryBatchSize`: most objects in one inventory update request (50).
    pub inventory_batch_size: usize,
    /// `InventoryBatchPeriod`: how long a partial batch waits before it is sent (5 s).
    pub inventory_batch_period: Duration,
    /// `InventoryGCPeriod`: time between two full comparisons with NSX (10 min).
    pub inventory_gc_period: Duration,
    /// First delay before a failed inventory request is retried (doubling).
    pub retry_min_delay: Duration,
    /// Longest delay between two retries.
    pub retry_max_delay: Duration,
    /// Where the CCP adapter serves its state as JSON ([`DEFAULT_CCP_STATUS_URL`]).
    pub ccp_status_url: String,
    /// Health thresholds (how old a heartbeat may be).
    pub health_policy: HealthPolicy,
    /// How often component statuses are re-judged (a change sends a heartbeat at once,
    /// and Nodes' `cni_agent_status` follows).
    pub health_check_interval: Duration,
    /// The watches.
    pub watches: InventoryOptions,
    /// Traceflow waiting.
    pub traceflow: TraceflowWait,
    /// Support bundle collection.
    pub bundles: BundleOptions,
    /// The adapters' own log files, included (redacted) in support bundles and log requests.
    pub log_files: Vec<PathBuf>,
    /// How long [`MpAdapter::shutdown`] tries to flush pending inventory.
    pub shutdown_flush_timeout: Duration,
}

impl MpAdapterOptions {
    /// Options with the defaults of mp-adapter.conf (nsx-api.md §3.3).
    pub fn new(cluster_id: impl Into<String>, nsx: RestConfig, channel: ChannelConfig) -> Self {
        let cluster_id = cluster_id.into();
        MpAdapterOptions {
            cluster: ClusterSettings {
                cluster_id: cluster_id.clone(),
                display_name: channel.cluster_id.clone(),
                cluster_type: "kubernetes".into(),
                ..ClusterSettings::default()
            },
            cluster_id,
            nsx,
            channel,
            management: ManagementPlaneOptions::default(),
            inventory_batch_size: 50,
            inventory_batch_period: Duration::from_secs(5),
            inventory_gc_period: Duration::from_secs(600),
            retry_min_delay: Duration::from_millis(500),
            retry_max_delay: Duration::from_secs(30),
            ccp_status_url: DEFAULT_CCP_STATUS_URL.into(),
            health_policy: HealthPolicy::default(),
            health_check_interval: Duration::from_secs(10),
            watches: InventoryOptions::default(),
            traceflow: TraceflowWait::default(),
            bundles: BundleOptions::default(),
            log_files: Vec::new(),
            shutdown_flush_timeout: Duration::from_secs(10),
        }
    }
}

/// Why the MP adapter could not start.
#[derive(Debug, thiserror::Error)]
pub enum MpError {
    /// An option is unusable.
    #[error("invalid MP adapter options: {0}")]
    Options(String),
    /// The NSX REST client could not be built.
    #[error("NSX REST client: {0}")]
    Nsx(#[from] RestError),
}

/// Where the MP adapter stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MpPhase {
    /// Waiting for the ContainerCluster and the initial lists.
    Starting,
    /// Sending the first difference to NSX.
    InitialSync,
    /// In sync; sending deltas.
    Running,
    /// Shut down.
    Stopped,
}

/// What the MP adapter publishes about itself (also served as its state in bundles).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MpStatus {
    pub phase: MpPhase,
    /// The ContainerCluster `external_id`.
    pub cluster_id: String,
    /// Every kind has been listed once.
    pub initial_lists_done: bool,
    /// NSX has received the first full difference.
    pub initial_sync_done: bool,
    /// Inventory records held.
    pub inventory_objects: u64,
    /// Changes waiting to be sent.
    pub pending_changes: u64,
    /// The Kubernetes API answered the watches' last requests.
    pub kubernetes_reachable: bool,
    /// The management-plane session is up.
    pub nsx_session_up: bool,
    /// The last inventory request failed with this error (cleared by a success).
    pub inventory_error: Option<String>,
    /// The last full comparison, ms since the epoch.
    pub last_full_comparison: Option<i64>,
}

/// Counters, for `/metrics`.
#[derive(Debug, Default)]
pub struct MpMetrics {
    /// Inventory records held now (a gauge).
    pub inventory_objects: AtomicU64,
    /// Changes waiting to be sent now (a gauge).
    pub inventory_pending: AtomicU64,
    /// Watch events projected.
    pub watch_events: AtomicU64,
    /// Inventory update batches NSX accepted.
    pub batches_sent: AtomicU64,
    /// Objects in those batches.
    pub objects_sent: AtomicU64,
    /// Inventory update batches that failed (and were retried).
    pub batches_failed: AtomicU64,
    /// Inventory changes NSX refused on their own (isolated by bisecting their batch) and
    /// set aside until their object changes.
    pub records_refused: AtomicU64,
    /// Full comparisons with NSX done.
    pub full_comparisons: AtomicU64,
    /// Watch relists plus management-plane sessions after the first.
    pub reconnects: AtomicU64,
    /// NSX requests answered (successfully or with an error).
    pub requests_served: AtomicU64,
    /// NSX requests that ended with an error.
    pub requests_failed: AtomicU64,
}

impl MpMetrics {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// The running MP adapter.
pub struct MpAdapter {
    status: watch::Receiver<MpStatus>,
    metrics: Arc<MpMetrics>,
    cancel: CancellationToken,
    sync: tokio::sync::Mutex<Option<JoinHandle<()>>>,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
    channel: Arc<ManagementPlaneClient>,
    watches: tokio::sync::Mutex<InventoryWatches>,
}

impl std::fmt::Debug for MpAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpAdapter")
            .field("status", &*self.status.borrow())
            .finish()
    }
}

impl MpAdapter {
    /// Starts the MP adapter on `client` (the Kubernetes API). Returns at once; the initial
    /// sync runs in the background ([`MpAdapter::status`] tells when it is done).
    pub async fn start(
        options: MpAdapterOptions,
        client: kube::Client,
    ) -> Result<MpAdapter, MpError> {
        if options.cluster_id.is_empty() {
            return Err(MpError::Options("cluster_id is empty".into()));
        }
        if options.inventory_batch_size == 0 {
            return Err(MpError::Options(
                "inventory_batch_size must be at least 1".into(),
            ));
        }
        let mut options = options;
        options.cluster.cluster_id = options.cluster_id.clone();
        let options = Arc::new(options);
        let rest = NsxRestClient::new(options.nsx.clone())?;
        let metrics = Arc::new(MpMetrics::default());
        let (status_tx, status) = watch::channel(MpStatus {
            phase: MpPhase::Starting,
            cluster_id: options.cluster_id.clone(),
            initial_lists_done: false,
            initial_sync_done: false,
            inventory_objects: 0,
            pending_changes: 0,
            kubernetes_reachable: true,
            nsx_session_up: false,
            inventory_error: None,
            last_full_comparison: None,
        });
        let status_tx = Arc::new(status_tx);

        let mut projector =
            InventoryProjector::new(options.cluster_id.clone(), options.health_policy);
        projector
            .apply_cluster(project_cluster(&options.cluster))
            .map_err(|e| MpError::Options(format!("the ContainerCluster record: {e}")))?;
        let watches = InventoryWatches::start(
            client.clone(),
            InventoryState::new(projector),
            options.watches.clone(),
        );
        let inventory = watches.shared().clone();
        let initial_lists = watches.initial_lists_done();

        let health_source = Arc::new(health::MpHealth::new(
            inventory.clone(),
            options.clone(),
            status.clone(),
        ));
        let handler = Arc::new(requests::MpRequests::new(
            client.clone(),
            inventory.clone(),
            options.clone(),
            status.clone(),
            metrics.clone(),
        ));
        let channel = Arc::new(ManagementPlaneClient::start_with(
            options.channel.clone(),
            options.management.clone(),
            health_source.clone(),
            handler,
        ));
        health_source.attach(channel.connection(), channel.heartbeats());

        let cancel = CancellationToken::new();
        let syncer = sync::Syncer {
            rest,
            inventory: inventory.clone(),
            options: options.clone(),
            metrics: metrics.clone(),
            status: status_tx.clone(),
        };
        let sync_task = tokio::spawn(syncer.run(initial_lists, cancel.clone()));
        let monitor = tokio::spawn(health::monitor(
            health_source,
            channel.clone(),
            inventory,
            status_tx,
            metrics.clone(),
            cancel.clone(),
        ));
        Ok(MpAdapter {
            status,
            metrics,
            cancel,
            sync: tokio::sync::Mutex::new(Some(sync_task)),
            tasks: std::sync::Mutex::new(vec![monitor]),
            channel,
            watches: tokio::sync::Mutex::new(watches),
        })
    }

    /// The adapter's status, updated as it changes.
    pub fn status(&self) -> watch::Receiver<MpStatus> {
        self.status.clone()
    }

    /// The adapter's counters.
    pub fn metrics(&self) -> Arc<MpMetrics> {
        self.metrics.clone()
    }

    /// Stops the watches, flushes pending inventory (bounded), closes the channel.
    pub async fn shutdown(&self) {
        self.watches.lock().await.stop().await;
        // The sync loop sees the cancellation, flushes and returns.
        self.cancel.cancel();
        if let Some(task) = self.sync.lock().await.take() {
            let _ = task.await;
        }
        let tasks: Vec<JoinHandle<()>> = self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect();
        for task in tasks {
            let _ = task.await;
        }
        self.channel.shutdown().await;
    }
}

impl Drop for MpAdapter {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
