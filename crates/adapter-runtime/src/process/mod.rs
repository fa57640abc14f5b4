//! One adapter process, as `antrea-nsx ccp-adapter` and `antrea-nsx mp-adapter` (and the
//! sandbox) run it: from the configuration, it builds the adapter's options, serves the API
//! port (`/livez`, `/readyz`, `/metrics`, `/status`), optionally campaigns for the Lease, runs
//! the adapter while leading, and mirrors the adapter's state into readiness, status and
//! Prometheus metrics.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use adapter_nsx::channel::ChannelConfig;
use nsx_proto::tls::{ClientTls, ServerTrust};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::ccp::{CcpAdapter, CcpAdapterOptions, CcpStatus};
use crate::config::{AdapterConfigSet, NsxCertificate, NsxConnectionConfig, NsxTrust};
use crate::leader::{
    CCP_LEASE_NAME, LeaderElection, LeaderElectionOptions, MP_LEASE_NAME, default_identity,
    run_as_leader,
};
use crate::mp::{MpAdapter, MpAdapterOptions, MpPhase, MpStatus};
use crate::observability::metrics::{
    CcpMetricsFamilies, KindLabels, MpMetricsFamilies, OperationLabels, ResultLabels, StateLabels,
    set_total,
};
use crate::observability::{ApiServer, Observed, ObservedSenders, Readiness};

/// Which adapter a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterRole {
    Ccp,
    Mp,
}

impl AdapterRole {
    fn name(self) -> &'static str {
        match self {
            AdapterRole::Ccp => "ccp-adapter",
            AdapterRole::Mp => "mp-adapter",
        }
    }
}

/// How the process runs, besides the configuration files.
#[derive(Debug, Clone)]
pub struct AdapterProcessOptions {
    pub role: AdapterRole,
    /// The namespace of the Lease.
    pub namespace: String,
    /// The API port's address.
    pub api_listen: SocketAddr,
    /// Campaign for the Lease and run the adapter only while leading (two replicas); off:
    /// run at once.
    pub leader_election: bool,
    /// The cluster id NSX assigned (ConfigMap `cluster-id`): the MP adapter's inventory id.
    pub cluster_id: String,
    /// Where the MP adapter reads the CCP adapter's `/status` (same Pod, over localhost).
    pub ccp_status_url: Option<String>,
}

/// Why a process could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{key}: {message}")]
    Unusable { key: &'static str, message: String },
    #[error(transparent)]
    Api(#[from] crate::observability::ObservabilityError),
    #[error(transparent)]
    Leader(#[from] crate::leader::LeaderError),
    #[error(transparent)]
    Ccp(#[from] crate::ccp::CcpError),
    #[error(transparent)]
    Mp(#[from] crate::mp::MpError),
}

/// The channel's trust from the configured NSX trust. The channel always verifies NSX: a CA
/// or a pinned thumbprint; `NSXInsecure` covers REST calls only.
fn channel_trust(nsx: &NsxConnectionConfig) -> Result<ServerTrust, ProcessError> {
    match &nsx.trust {
        NsxTrust::CaFile { pem, .. } => Ok(ServerTrust::CaCertificates(pem.clone())),
        NsxTrust::Thumbprints(pins) => pins
            .first()
            .map(|pin| ServerTrust::PinnedSha256(*pin))
            .ok_or(ProcessError::Unusable {
                key: "NSXThumbprint",
                message: "no thumbprint given".to_owned(),
            }),
        NsxTrust::Insecure => Err(ProcessError::Unusable {
            key: "NSXInsecure",
            message: "the adapter channel always verifies NSX: set NSXCAFile or NSXThumbprint"
                .to_owned(),
        }),
    }
}

/// The channel configuration: bootstrap's channel endpoints, the cluster name (= the
/// certificate's CommonName) and the principal-identity certificate.
pub fn channel_config(
    config: &AdapterConfigSet,
    nsx: &NsxConnectionConfig,
    certificate: &NsxCertificate,
) -> Result<ChannelConfig, ProcessError> {
    let tls = ClientTls::new(
        certificate.certificate_pem.as_bytes(),
        certificate.private_key_pem.as_bytes(),
        channel_trust(nsx)?,
    )
    .map_err(|error| ProcessError::Unusable {
        key: "NSXClientAuthCertFile",
        message: error.to_string(),
    })?;
    let mut channel = ChannelConfig::new(
        config.bootstrap.channel_endpoints(),
        config.bootstrap.cluster_name.clone(),
        tls,
    );
    channel.adapter_instance = default_identity();
    Ok(channel)
}

/// The CCP adapter's options from ccp-adapter.conf.
pub fn ccp_options(config: &AdapterConfigSet) -> Result<CcpAdapterOptions, ProcessError> {
    let nsx = &config.ccp.common.nsx;
    let certificate = nsx.load_certificate()?;
    let mut options = CcpAdapterOptions::new(channel_config(config, nsx, &certificate)?);
    options.cluster_id = config.bootstrap.cluster_name.clone();
    options.translate = config.ccp.translate_options();
    options.resync_interval = config.ccp.reconciler_resync;
    options.realize_timeout = config.ccp.realize_timeout;
    options.error_report_interval = config.ccp.realize_error_sync_interval;
    options.workers = config.ccp.reconciler_worker_count;
    // ReconcilerQPS: whole writes per second; 0 or less means unlimited.
    options.writes_per_second =
        (config.ccp.reconciler_qps >= 1.0).then(|| config.ccp.reconciler_qps.round() as u32);
    Ok(options)
}

/// The MP adapter's options from mp-adapter.conf.
pub fn mp_options(
    config: &AdapterConfigSet,
    cluster_id: &str,
    ccp_status_url: Option<&str>,
) -> Result<MpAdapterOptions, ProcessError> {
    let nsx = &config.mp.common.nsx;
    let certificate = nsx.load_certificate()?;
    let rest = nsx.rest_config(&config.bootstrap, &certificate);
    let mut options =
        MpAdapterOptions::new(cluster_id, rest, channel_config(config, nsx, &certificate)?);
    options.cluster.cluster_type = config.mp.cluster_type.clone();
    options.inventory_batch_size = config.mp.inventory_batch_size;
    options.inventory_batch_period = config.mp.inventory_batch_period;
    options.inventory_gc_period = config.mp.inventory_gc_period;
    if let Some(url) = ccp_status_url {
        options.ccp_status_url = url.to_owned();
    }
    Ok(options)
}

/// A running adapter process.
pub struct AdapterProcess {
    api: ApiServer,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for AdapterProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdapterProcess")
            .field("api", &self.api.local_addr())
            .finish_non_exhaustive()
    }
}

/// The adapter the process runs, started from its options.
enum AdapterOptions {
    Ccp(Box<CcpAdapterOptions>),
    Mp(Box<MpAdapterOptions>),
}

impl AdapterProcess {
    /// Builds the adapter's options from `config` (failing on anything unusable before
    /// anything runs), binds the API port and starts the adapter (or the campaign).
    pub async fn start(
        options: AdapterProcessOptions,
        config: AdapterConfigSet,
        kube: kube::Client,
    ) -> Result<AdapterProcess, ProcessError> {
        let adapter = match options.role {
            AdapterRole::Ccp => AdapterOptions::Ccp(Box::new(ccp_options(&config)?)),
            AdapterRole::Mp => AdapterOptions::Mp(Box::new(mp_options(
                &config,
                &options.cluster_id,
                options.ccp_status_url.as_deref(),
            )?)),
        };
        let mut registry = Registry::default();
        let families = match options.role {
            AdapterRole::Ccp => {
                Families::Ccp(Arc::new(CcpMetricsFamilies::register(&mut registry)))
            }
            AdapterRole::Mp => Families::Mp(Arc::new(MpMetricsFamilies::register(&mut registry))),
        };
        let (observed, senders) = Observed::channel(registry);
        let api = ApiServer::bind(options.api_listen, observed).await?;
        let shutdown = CancellationToken::new();
        let senders = Arc::new(senders);
        let adapter = Arc::new(adapter);
        let run = {
            let kube = kube.clone();
            let families = families.clone();
            let senders = senders.clone();
            move |token: CancellationToken| {
                let kube = kube.clone();
                let families = families.clone();
                let senders = senders.clone();
                let adapter = adapter.clone();
                async move {
                    families.set_leader(true);
                    run_adapter(&adapter, kube, token, &families, &senders).await;
                    families.set_leader(false);
                }
            }
        };
        let task = if options.leader_election {
            let lease = match options.role {
                AdapterRole::Ccp => CCP_LEASE_NAME,
                AdapterRole::Mp => MP_LEASE_NAME,
            };
            let mut lease_options =
                LeaderElectionOptions::new(options.namespace.clone(), lease, default_identity());
            let leader = match options.role {
                AdapterRole::Ccp => &config.ccp.common.leader_election,
                AdapterRole::Mp => &config.mp.common.leader_election,
            };
            lease_options.lease_duration = leader.lease_duration;
            lease_options.renew_deadline = leader.renew_deadline;
            lease_options.retry_period = leader.retry_period;
            let election = LeaderElection::start(kube, lease_options)?;
            let _ = senders.ready.send(Readiness::standby());
            let token = shutdown.clone();
            let role = options.role;
            tokio::spawn(async move {
                if let Err(error) = run_as_leader(election, token, run).await {
                    tracing::error!(adapter = role.name(), %error, "leader election ended");
                }
            })
        } else {
            let token = shutdown.clone();
            tokio::spawn(async move { run(token).await })
        };
        tracing::info!(
            adapter = options.role.name(),
            api = %api.local_addr(),
            leader_election = options.leader_election,
            "adapter process started"
        );
        Ok(AdapterProcess {
            api,
            shutdown,
            task,
        })
    }

    /// The API port's address.
    pub fn api_addr(&self) -> SocketAddr {
        self.api.local_addr()
    }

    /// Resolves when the adapter stopped on its own (it does not, unless shut down).
    pub async fn wait(&mut self) {
        let _ = (&mut self.task).await;
    }

    /// Stops the adapter (the MP adapter flushes pending inventory), releases the Lease and
    /// stops serving the API port.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
        if let Err(error) = self.api.shutdown().await {
            tracing::warn!(%error, "stopping the API port");
        }
    }
}

/// The metric families of the process's adapter.
#[derive(Clone)]
enum Families {
    Ccp(Arc<CcpMetricsFamilies>),
    Mp(Arc<MpMetricsFamilies>),
}

impl Families {
    fn set_leader(&self, leading: bool) {
        let value = i64::from(leading);
        match self {
            Families::Ccp(families) => families.leader.set(value),
            Families::Mp(families) => families.leader.set(value),
        };
    }
}

/// How often the adapter's counters are copied into the metric families.
const MIRROR_PERIOD: Duration = Duration::from_secs(1);

/// The started adapter, or `None` after making the process not ready with the reason and
/// waiting for the end (a process whose adapter cannot start stays up, unready, so its API
/// port tells why).
async fn started<A, E: std::fmt::Display>(
    result: Result<A, E>,
    adapter: &str,
    senders: &ObservedSenders,
    token: &CancellationToken,
) -> Option<A> {
    match result {
        Ok(adapter) => Some(adapter),
        Err(error) => {
            tracing::error!(adapter, %error, "the adapter could not start");
            let _ = senders.ready.send(Readiness::not_ready(error.to_string()));
            token.cancelled().await;
            None
        }
    }
}

/// Calls `mirror` with the adapter's status at every change, and at least every
/// [`MIRROR_PERIOD`] (counters move without status changes), until `token` is cancelled.
async fn mirror_until_cancelled<S>(
    mut status: watch::Receiver<S>,
    token: &CancellationToken,
    mut mirror: impl FnMut(&S),
) {
    loop {
        mirror(&status.borrow_and_update());
        tokio::select! {
            _ = token.cancelled() => break,
            changed = status.changed() => if changed.is_err() { break },
            _ = tokio::time::sleep(MIRROR_PERIOD) => {}
        }
    }
}

/// Runs the adapter until `token` is cancelled, mirroring its state.
async fn run_adapter(
    adapter: &AdapterOptions,
    kube: kube::Client,
    token: CancellationToken,
    families: &Families,
    senders: &ObservedSenders,
) {
    match (adapter, families) {
        (AdapterOptions::Ccp(options), Families::Ccp(families)) => {
            let start = CcpAdapter::start((**options).clone(), kube).await;
            if let Some(adapter) = started(start, "ccp-adapter", senders, &token).await {
                let metrics = adapter.metrics();
                let counters = CcpRunCounters::new(families);
                mirror_until_cancelled(adapter.status(), &token, |status| {
                    mirror_ccp(status, &metrics, families, &counters, senders);
                })
                .await;
                adapter.shutdown().await;
            }
            families.channel_connected.set(0);
        }
        (AdapterOptions::Mp(options), Families::Mp(families)) => {
            let start = MpAdapter::start((**options).clone(), kube).await;
            if let Some(adapter) = started(start, "mp-adapter", senders, &token).await {
                let metrics = adapter.metrics();
                let counters = MpRunCounters::new(families);
                mirror_until_cancelled(adapter.status(), &token, |status| {
                    mirror_mp(status, &metrics, families, &counters, senders);
                })
                .await;
                adapter.shutdown().await;
            }
            families.nsx_connected.set(0);
        }
        // Both come from the same role in `AdapterProcess::start`.
        _ => tracing::error!("metric families of one adapter given to the other"),
    }
    let _ = senders.ready.send(Readiness::standby());
}

/// Publishes readiness and the status document, waking `/readyz` and `/status` readers only
/// on a change.
fn publish(senders: &ObservedSenders, ready: Readiness, status: &impl serde::Serialize) {
    senders.ready.send_if_modified(|current| {
        let changed = *current != ready;
        *current = ready;
        changed
    });
    if let Ok(value) = serde_json::to_value(status) {
        senders.status.send_if_modified(|current| {
            let changed = *current != value;
            *current = value;
            changed
        });
    }
}

fn gauge(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A process counter fed by one adapter run's running total. Each time the process leads
/// again it starts a new adapter, whose own counters start at 0: the process's counter
/// continues from the value it had when the run began, so it never stalls or goes back.
#[derive(Debug)]
struct RunCounter {
    counter: Counter,
    base: u64,
}

impl RunCounter {
    fn new(counter: &Counter) -> Self {
        RunCounter {
            counter: counter.clone(),
            base: counter.get(),
        }
    }

    fn set(&self, run_total: &AtomicU64) {
        self.set_value(run_total.load(Ordering::Relaxed));
    }

    fn set_value(&self, run_total: u64) {
        set_total(&self.counter, self.base.saturating_add(run_total));
    }
}

/// The CCP counters of one adapter run.
#[derive(Debug)]
struct CcpRunCounters {
    writes: RunCounter,
    retries: RunCounter,
    drift_repairs: RunCounter,
    write_errors: RunCounter,
    reconnects: RunCounter,
}

impl CcpRunCounters {
    fn new(families: &CcpMetricsFamilies) -> Self {
        let writes = |operation: &str| {
            RunCounter::new(
                &families
                    .kubernetes_writes
                    .get_or_create(&OperationLabels::new(operation)),
            )
        };
        CcpRunCounters {
            writes: writes("write"),
            retries: writes("retry"),
            drift_repairs: writes("drift_repair"),
            write_errors: RunCounter::new(
                &families.errors.get_or_create(&KindLabels::new("write")),
            ),
            reconnects: RunCounter::new(&families.reconnects),
        }
    }
}

/// The MP counters of one adapter run.
#[derive(Debug)]
struct MpRunCounters {
    batches_sent: RunCounter,
    batches_failed: RunCounter,
    objects_sent: RunCounter,
    requests_failed: RunCounter,
    requests_succeeded: RunCounter,
    requests_refused: RunCounter,
    records_refused: RunCounter,
    reconnects: RunCounter,
}

impl MpRunCounters {
    fn new(families: &MpMetricsFamilies) -> Self {
        let batches = |result: &str| {
            RunCounter::new(
                &families
                    .inventory_batches
                    .get_or_create(&ResultLabels::new(result)),
            )
        };
        // Each label's guard must be dropped before the next `get_or_create` of the same
        // family (it holds the family's lock): one closure call per label.
        let requests = |result: &str| {
            RunCounter::new(&families.requests.get_or_create(&ResultLabels::new(result)))
        };
        let errors =
            |kind: &str| RunCounter::new(&families.errors.get_or_create(&KindLabels::new(kind)));
        MpRunCounters {
            batches_sent: batches("success"),
            batches_failed: batches("failure"),
            objects_sent: RunCounter::new(&families.inventory_updates),
            requests_failed: errors("request"),
            requests_succeeded: requests("success"),
            requests_refused: requests("failure"),
            records_refused: errors("inventory_record"),
            reconnects: RunCounter::new(&families.reconnects),
        }
    }
}

fn mirror_ccp(
    status: &CcpStatus,
    metrics: &crate::ccp::CcpMetrics,
    families: &CcpMetricsFamilies,
    counters: &CcpRunCounters,
    senders: &ObservedSenders,
) {
    families.channel_connected.set(i64::from(status.connected));
    families.set_generations(
        status.received_generation.max(status.applied_generation),
        status.applied_generation,
    );
    families
        .untranslatable_objects
        .set(gauge(status.refused_objects));
    for (state, value) in [
        ("IN_PROGRESS", status.realization.in_progress),
        ("SUCCESS", status.realization.success),
        ("ERROR", status.realization.error),
    ] {
        families
            .realization
            .get_or_create(&StateLabels::new(state))
            .set(gauge(value));
    }
    families
        .desired_objects
        .get_or_create(&KindLabels::new("owned"))
        .set(gauge(status.owned_objects));
    counters.writes.set(&metrics.writes);
    counters.retries.set(&metrics.write_retries);
    counters.drift_repairs.set(&metrics.drift_repairs);
    counters.write_errors.set(&metrics.write_errors);
    counters.reconnects.set(&metrics.reconnects);
    let ready = if status.connected && status.synced {
        Readiness::ready()
    } else if !status.connected {
        Readiness::not_ready("not connected to NSX")
    } else {
        Readiness::syncing("applying the latest desired state")
    };
    families.ready.set(i64::from(ready.is_ready()));
    publish(senders, ready, status);
}

fn mirror_mp(
    status: &MpStatus,
    metrics: &crate::mp::MpMetrics,
    families: &MpMetricsFamilies,
    counters: &MpRunCounters,
    senders: &ObservedSenders,
) {
    let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    families.nsx_connected.set(i64::from(status.nsx_session_up));
    families
        .inventory_objects
        .get_or_create(&KindLabels::new("all"))
        .set(gauge(read(&metrics.inventory_objects)));
    families
        .inventory_pending
        .set(gauge(read(&metrics.inventory_pending)));
    counters.batches_sent.set(&metrics.batches_sent);
    counters.batches_failed.set(&metrics.batches_failed);
    counters.objects_sent.set(&metrics.objects_sent);
    counters.requests_failed.set(&metrics.requests_failed);
    let served = metrics.requests_served.load(Ordering::Relaxed);
    let failed = metrics.requests_failed.load(Ordering::Relaxed);
    counters
        .requests_succeeded
        .set_value(served.saturating_sub(failed));
    counters.requests_refused.set_value(failed);
    counters.records_refused.set(&metrics.records_refused);
    counters.reconnects.set(&metrics.reconnects);
    let ready = if status.phase == MpPhase::Running && status.nsx_session_up {
        Readiness::ready()
    } else if !status.kubernetes_reachable {
        Readiness::not_ready("the Kubernetes API is not reachable")
    } else if status.phase != MpPhase::Running {
        Readiness::syncing("initial inventory sync in progress")
    } else {
        Readiness::not_ready("not connected to NSX")
    };
    families.ready.set(i64::from(ready.is_ready()));
    publish(senders, ready, status);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ccp::CcpMetrics;

    fn encode(registry: &Registry) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
        text
    }

    #[test]
    fn counters_continue_across_adapter_runs_and_connection_gauges_follow() {
        let mut registry = Registry::default();
        let families = CcpMetricsFamilies::register(&mut registry);
        let (_observed, senders) = Observed::channel(Registry::default());
        let connected = CcpStatus {
            connected: true,
            synced: true,
            ..CcpStatus::default()
        };

        // The first run writes 10 objects.
        let first = CcpMetrics::default();
        first.writes.store(10, Ordering::Relaxed);
        first.reconnects.store(2, Ordering::Relaxed);
        let counters = CcpRunCounters::new(&families);
        mirror_ccp(&connected, &first, &families, &counters, &senders);
        let text = encode(&registry);
        assert!(text.contains("antrea_nsx_ccp_kubernetes_writes_total{operation=\"write\"} 10\n"));
        assert!(text.contains("antrea_nsx_ccp_reconnects_total 2\n"));
        assert!(text.contains("antrea_nsx_ccp_channel_connected 1\n"));
        assert!(senders.ready.borrow().is_ready());

        // Leadership lost, then regained: a new adapter counts from 0; the process's
        // counters continue (3 more writes make 13, not 10 until the new run passes 10).
        let second = CcpMetrics::default();
        second.writes.store(3, Ordering::Relaxed);
        let counters = CcpRunCounters::new(&families);
        mirror_ccp(&connected, &second, &families, &counters, &senders);
        let text = encode(&registry);
        assert!(
            text.contains("antrea_nsx_ccp_kubernetes_writes_total{operation=\"write\"} 13\n"),
            "{text}"
        );
        assert!(
            text.contains("antrea_nsx_ccp_reconnects_total 2\n"),
            "{text}"
        );

        // Not connected: not ready, and the gauge says so.
        mirror_ccp(
            &CcpStatus::default(),
            &second,
            &families,
            &counters,
            &senders,
        );
        assert!(encode(&registry).contains("antrea_nsx_ccp_channel_connected 0\n"));
        assert!(!senders.ready.borrow().is_ready());
    }

    #[test]
    fn mp_counters_continue_across_adapter_runs() {
        let mut registry = Registry::default();
        let families = MpMetricsFamilies::register(&mut registry);
        let (_observed, senders) = Observed::channel(Registry::default());
        let status = MpStatus {
            phase: MpPhase::Running,
            cluster_id: "c".into(),
            initial_lists_done: true,
            initial_sync_done: true,
            inventory_objects: 5,
            pending_changes: 0,
            kubernetes_reachable: true,
            nsx_session_up: true,
            inventory_error: None,
            last_full_comparison: None,
        };
        for sent in [4, 1] {
            let metrics = crate::mp::MpMetrics::default();
            metrics.batches_sent.store(sent, Ordering::Relaxed);
            metrics.objects_sent.store(sent * 10, Ordering::Relaxed);
            metrics.requests_served.store(sent, Ordering::Relaxed);
            metrics.requests_failed.store(1, Ordering::Relaxed);
            let counters = MpRunCounters::new(&families);
            mirror_mp(&status, &metrics, &families, &counters, &senders);
        }
        let text = encode(&registry);
        assert!(
            text.contains("antrea_nsx_mp_inventory_batches_total{result=\"success\"} 5\n"),
            "{text}"
        );
        assert!(
            text.contains("antrea_nsx_mp_inventory_updates_total 50\n"),
            "{text}"
        );
        assert!(
            text.contains("antrea_nsx_mp_requests_total{result=\"success\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("antrea_nsx_mp_requests_total{result=\"failure\"} 2\n"),
            "{text}"
        );
        assert!(senders.ready.borrow().is_ready());
    }
}
