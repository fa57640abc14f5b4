//! The CCP adapter process: NSX desired state → translation → plan → apply → realization.
//!
//! [`CcpAdapter::start`] connects the control-plane channel ([`ControlPlaneClient`]), starts
//! the reflector of owned objects ([`OwnedObjects`]) and runs the reconcile loop
//! ([`reconciler`]): on every new desired state, owned-object change (drift), refresh
//! request, retry, realization deadline and periodic resync it translates (only when the
//! desired state changed), plans against the owned objects, applies the plan, computes
//! realization and reports to NSX what changed. It keeps no state across restarts: every
//! start converges fully, and a start with nothing to change writes nothing.
//!
//! docs/ccp-adapter.md describes the loop, the applier, retries, drift repair, realization,
//! resync, the options and the metrics.

pub mod reconciler;
pub mod span;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use adapter_core::ccp::{ClusterIdentity, ObjectSchemas, TranslateOptions, Translator};
use adapter_k8s::policy::{Applier, ApplierOptions, FIELD_MANAGER, OwnedObjects};
use adapter_nsx::channel::ChannelConfig;
use adapter_nsx::channel::control::ControlPlaneClient;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// `ReconcilerResyncSeconds`: the real adapter's full resync period (24 h).
pub const DEFAULT_RESYNC_INTERVAL: Duration = Duration::from_secs(86_400);
/// `RealizeTimeoutSeconds`: how long an object may stay IN_PROGRESS (60 s).
pub const DEFAULT_REALIZE_TIMEOUT: Duration = Duration::from_secs(60);
/// How often ERROR states are sent again (600 s, docs/protocol.md §6.6).
pub const DEFAULT_ERROR_REPORT_INTERVAL: Duration = Duration::from_secs(600);

/// How the CCP adapter runs.
#[derive(Debug, Clone)]
pub struct CcpAdapterOptions {
    /// The cluster id (the ownership label of every object; normally the channel's).
    pub cluster_id: String,
    /// How to reach NSX's control-plane channel.
    pub channel: ChannelConfig,
    /// Translation options (IP families).
    pub translate: TranslateOptions,
    /// `ReconcilerResyncSeconds`: a full resync also retries refused writes.
    pub resync_interval: Duration,
    /// `RealizeTimeoutSeconds`.
    pub realize_timeout: Duration,
    /// How often ERROR states are re-reported.
    pub error_report_interval: Duration,
    /// Writes in flight at once (the reconciler's workers).
    pub workers: usize,
    /// Most write requests per second; `None`: unthrottled.
    pub writes_per_second: Option<u32>,
    /// How long the loop waits after a trigger for more before it runs (coalesces bursts).
    pub debounce: Duration,
    /// First delay before a pass is retried after a transient write failure (doubling to
    /// 30 s).
    pub retry_delay: Duration,
    /// The server-side apply field manager.
    pub field_manager: String,
}

impl CcpAdapterOptions {
    /// Options with the real adapter's defaults for `channel` (cluster id from it).
    pub fn new(channel: ChannelConfig) -> Self {
        CcpAdapterOptions {
            cluster_id: channel.cluster_id.clone(),
            channel,
            translate: TranslateOptions::default(),
            resync_interval: DEFAULT_RESYNC_INTERVAL,
            realize_timeout: DEFAULT_REALIZE_TIMEOUT,
            error_report_interval: DEFAULT_ERROR_REPORT_INTERVAL,
            workers: 8,
            writes_per_second: None,
            debounce: Duration::from_millis(50),
            retry_delay: Duration::from_millis(500),
            field_manager: FIELD_MANAGER.to_owned(),
        }
    }
}

/// Counts of NSX objects by realization state (as last reported).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealizationCounts {
    pub in_progress: u64,
    pub success: u64,
    pub error: u64,
}

/// Where the CCP adapter stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CcpStatus {
    /// A control-plane session is up.
    pub connected: bool,
    /// The cluster holds the translation of the latest desired state (nothing left to
    /// write, nothing in flight; refused objects excepted).
    pub synced: bool,
    /// NSX's epoch of the desired state applied.
    pub epoch: String,
    /// The generation of the desired state applied (0 before the first).
    pub applied_generation: u64,
    /// The newest generation received from NSX (ahead of `applied_generation` while a pass
    /// runs or writes fail).
    #[serde(default)]
    pub received_generation: u64,
    /// NSX policies and groups of the desired state the translation refused (reported to NSX
    /// as errors).
    #[serde(default)]
    pub refused_objects: u64,
    /// Owned Antrea objects in the cluster.
    pub owned_objects: u64,
    /// NSX objects by realization state.
    pub realization: RealizationCounts,
    /// The last problem (write failure, report failure), if any since the last clean pass.
    pub last_error: Option<String>,
}

/// Plain counters, for `/metrics`.
#[derive(Debug, Default)]
pub struct CcpMetrics {
    /// Write requests sent (creates, updates, deletes; retries included).
    pub writes: AtomicU64,
    /// Writes given up (refused or failing after retries).
    pub write_errors: AtomicU64,
    /// Requests retried after a transient error.
    pub write_retries: AtomicU64,
    /// Owned objects rewritten or re-created because they were edited or deleted by hand.
    pub drift_repairs: AtomicU64,
    /// Control-plane sessions re-established after the first.
    pub reconnects: AtomicU64,
    /// Full resyncs (each new snapshot, and every resync interval).
    pub resyncs: AtomicU64,
    /// Reconcile passes completed.
    pub passes: AtomicU64,
    /// Translations of a new desired state.
    pub translations: AtomicU64,
    /// Realization reports sent.
    pub reports: AtomicU64,
    /// NSX objects currently IN_PROGRESS.
    pub realization_in_progress: AtomicU64,
    /// NSX objects currently SUCCESS.
    pub realization_success: AtomicU64,
    /// NSX objects currently ERROR.
    pub realization_error: AtomicU64,
}

impl CcpMetrics {
    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Why the adapter could not start.
#[derive(Debug, thiserror::Error)]
pub enum CcpError {
    /// The options are not usable.
    #[error("invalid CCP adapter options: {0}")]
    Options(String),
    /// The Antrea CRD schemas the translator checks objects against could not be loaded.
    #[error("loading the Antrea object schemas: {0}")]
    Schemas(String),
}

/// A running CCP adapter.
pub struct CcpAdapter {
    channel: Arc<ControlPlaneClient>,
    owned: OwnedObjects,
    status: watch::Receiver<CcpStatus>,
    metrics: Arc<CcpMetrics>,
    cancel: CancellationToken,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for CcpAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CcpAdapter")
            .field("status", &*self.status.borrow())
            .finish_non_exhaustive()
    }
}

impl CcpAdapter {
    /// Starts the adapter on the current runtime: the channel client, the owned-object
    /// reflector and the reconcile loop.
    pub async fn start(
        options: CcpAdapterOptions,
        client: kube::Client,
    ) -> Result<CcpAdapter, CcpError> {
        if options.cluster_id.is_empty() {
            return Err(CcpError::Options("the cluster id is empty".into()));
        }
        if options.workers == 0 {
            return Err(CcpError::Options("workers must be at least 1".into()));
        }
        if options.realize_timeout.is_zero() || options.resync_interval.is_zero() {
            return Err(CcpError::Options(
                "the realize timeout and the resync interval must be positive".into(),
            ));
        }
        let schemas = ObjectSchemas::builtin().map_err(|e| CcpError::Schemas(e.to_string()))?;
        let identity = ClusterIdentity::new(options.cluster_id.clone());
        let translator = Translator::new(identity.clone(), options.translate, schemas);
        let applier = Applier::new(
            client.clone(),
            identity.clone(),
            ApplierOptions {
                field_manager: options.field_manager.clone(),
                workers: options.workers,
                writes_per_second: options.writes_per_second,
                ..ApplierOptions::default()
            },
        );
        let owned = OwnedObjects::start(client, identity.clone());
        let channel = Arc::new(ControlPlaneClient::start(options.channel.clone()));
        let (status_sender, status) = watch::channel(CcpStatus::default());
        let metrics = Arc::new(CcpMetrics::default());
        let cancel = CancellationToken::new();
        let reconciler = reconciler::Reconciler::new(
            options,
            identity,
            translator,
            applier,
            owned.clone(),
            channel.clone(),
            status_sender,
            metrics.clone(),
        );
        let task = tokio::spawn(reconciler.run(cancel.clone()));
        Ok(CcpAdapter {
            channel,
            owned,
            status,
            metrics,
            cancel,
            task: tokio::sync::Mutex::new(Some(task)),
        })
    }

    /// The adapter's status, updated after every pass and connection change.
    pub fn status(&self) -> watch::Receiver<CcpStatus> {
        self.status.clone()
    }

    /// The adapter's counters.
    pub fn metrics(&self) -> Arc<CcpMetrics> {
        self.metrics.clone()
    }

    /// Stops the loop (after the pass in progress), the watches and the channel (with a
    /// `Goodbye`). Objects in the cluster stay as they are.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
        self.owned.stop();
        self.channel.shutdown().await;
    }
}

impl Drop for CcpAdapter {
    fn drop(&mut self) {
        self.cancel.cancel();
        self.owned.stop();
    }
}
