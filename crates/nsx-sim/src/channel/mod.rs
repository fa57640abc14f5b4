//! The NSX side of the adapter channel (docs/protocol.md): the two gRPC services the Antrea
//! adapters dial into, on a second listener (`--rpc-listen`) with mutual TLS.
//!
//! * [`tls`]: the TLS acceptor. Clients must present the principal-identity certificate of a
//!   registered cluster; a custom rustls verifier consults the registrations at every
//!   handshake, so registering or deregistering a cluster needs no restart.
//! * [`control`]: `ControlPlaneChannel/Session`, the span-filtered desired state of each
//!   cluster (snapshot, ordered updates, flow control) and its realization reports.
//! * [`management`]: `ManagementPlaneChannel/Session`, heartbeats (cluster health) and NSX's
//!   requests to the MP adapter (statistics, Traceflow, support bundles).
//!
//! [`AdapterChannel`] is the state both services and the REST facades share: the desired-state
//! feed, the live sessions of each cluster, the outstanding management-plane requests, the
//! latest health of each cluster and the Traceflow results. The REST side reaches it through
//! an axum `Extension`.

pub mod control;
pub mod management;
pub mod requests;
pub mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::StatusCode;
use nsx_proto::v1::{ChannelError, ErrorCode, Goodbye};
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;
use crate::realization::feed::{self, DesiredStateFeed};
use crate::registration::{ClusterRegistration, RegistrationChange, Registry, ccp_path};
use crate::store::Store;

pub use management::{ClusterHealthRecord, HeartbeatSettings};
pub use requests::{PendingRequests, RequestHandle};

/// Module name of the errors the channel facades raise.
pub const MODULE_CHANNEL: &str = "Policy";

/// Error codes of the channel facades (simulator's choice; listed in docs/nsx-sim.md).
pub mod code {
    /// The cluster's adapter has no session open with NSX.
    pub const ADAPTER_NOT_CONNECTED: i64 = 521001;
    /// The adapter did not offer the capability the request needs.
    pub const CAPABILITY_UNAVAILABLE: i64 = 521002;
    /// The adapter did not answer in time.
    pub const ADAPTER_TIMEOUT: i64 = 521003;
    /// The adapter answered with an error that carries no NSX error code.
    pub const ADAPTER_ERROR: i64 = 521004;
    /// The adapter broke the protocol while answering.
    pub const ADAPTER_PROTOCOL: i64 = 521005;
}

/// Tunables of the channel. The defaults are the protocol's (docs/protocol.md §12); tests
/// shorten them.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ChannelOptions {
    /// How long one "second" of `report_interval` lasts when NSX decides a cluster is UNKNOWN
    /// (3 × interval without a heartbeat). Default 1 s; a test knob to see UNKNOWN without
    /// waiting three minutes. The interval sent to adapters is unchanged.
    pub heartbeat_second: Duration,
    /// Deadline of statistics, Traceflow get/delete, and of the first answer to a Traceflow
    /// start (default 60 s, the protocol's default request timeout).
    pub request_timeout: Duration,
    /// Deadline of a support-bundle collection (default 300 s).
    pub support_bundle_timeout: Duration,
    /// How long after a request's deadline NSX still accepts its answer (default 5 s).
    pub late_response_grace: Duration,
    /// How long NSX waits for a session's hello (default 10 s).
    pub hello_timeout: Duration,
    /// Application keepalive interval announced in welcomes (default 30 s).
    pub keepalive_interval: Duration,
    /// A Traceflow configuration not written or retraced for this long is deleted, with its
    /// Antrea Traceflows (default 2 h, as NSX documents).
    pub traceflow_idle_timeout: Duration,
}

impl Default for ChannelOptions {
    fn default() -> Self {
        ChannelOptions {
            heartbeat_second: Duration::from_secs(1),
            request_timeout: nsx_proto::limits::DEFAULT_REQUEST_TIMEOUT,
            support_bundle_timeout: Duration::from_secs(300),
            late_response_grace: nsx_proto::limits::LATE_RESPONSE_GRACE,
            hello_timeout: nsx_proto::limits::HELLO_TIMEOUT,
            keepalive_interval: nsx_proto::limits::DEFAULT_KEEPALIVE_INTERVAL,
            traceflow_idle_timeout: Duration::from_secs(2 * 60 * 60),
        }
    }
}

/// Why the channel could not start.
#[derive(Debug, thiserror::Error)]
pub enum ChannelStartError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

/// What a session's owner can tell it.
#[derive(Debug)]
pub(crate) enum SessionCommand {
    /// End the session with this reason (newer session, deregistration, shutdown).
    Goodbye(ChannelError),
    /// Control plane: ask the adapter to report these objects again (empty: all).
    Refresh(Vec<nsx_proto::v1::ObjectRef>),
    /// Management plane: send (or queue) the pending request with this id.
    Request(String),
    /// Management plane: NSX no longer wants the answer.
    Cancel(String, String),
    /// Management plane: push a new heartbeat configuration.
    HeartbeatConfig(nsx_proto::v1::HeartbeatConfig),
}

/// A live session of one cluster and plane.
#[derive(Debug, Clone)]
pub(crate) struct SessionHandle {
    /// Process-unique id.
    pub id: u64,
    /// Leaf certificate (DER) the client presented.
    pub certificate: Vec<u8>,
    /// Commands to the session task.
    pub commands: mpsc::UnboundedSender<SessionCommand>,
    /// Management plane: the negotiated capabilities.
    pub capabilities: Vec<String>,
    /// When the session last received anything (ms since the epoch).
    pub last_seen_ms: Arc<std::sync::atomic::AtomicI64>,
}

struct ChannelState {
    store: Store,
    registry: Registry,
    feed: DesiredStateFeed,
    options: ChannelOptions,
    epoch: String,
    next_session: AtomicU64,
    control_sessions: Mutex<HashMap<String, SessionHandle>>,
    management_sessions: Mutex<HashMap<String, SessionHandle>>,
    generations: Mutex<HashMap<String, u64>>,
    health: Mutex<HashMap<String, ClusterHealthRecord>>,
    requests: PendingRequests,
    traceflows: Mutex<HashMap<String, management::TraceflowRecord>>,
    shutdown: CancellationToken,
}

/// The adapter channel's shared state. Cheap to clone.
#[derive(Clone)]
pub struct AdapterChannel {
    state: Arc<ChannelState>,
}

impl std::fmt::Debug for AdapterChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdapterChannel")
            .field("epoch", &self.state.epoch)
            .finish_non_exhaustive()
    }
}

impl AdapterChannel {
    /// Builds the channel state over `store` and starts its background tasks (the
    /// desired-state feed, the registration watcher) until `shutdown`.
    pub fn start(
        store: Store,
        registry: Registry,
        options: ChannelOptions,
        shutdown: CancellationToken,
    ) -> AdapterChannel {
        let feed = feed::start(&store, shutdown.clone());
        let channel = AdapterChannel {
            state: Arc::new(ChannelState {
                store,
                registry,
                feed,
                options,
                epoch: uuid::Uuid::new_v4().to_string(),
                next_session: AtomicU64::new(1),
                control_sessions: Mutex::default(),
                management_sessions: Mutex::default(),
                generations: Mutex::default(),
                health: Mutex::default(),
                requests: PendingRequests::default(),
                traceflows: Mutex::default(),
                shutdown,
            }),
        };
        tokio::spawn(watch_registrations(channel.clone()));
        tokio::spawn(crate::antrea::traceflow::clean_up_idle(channel.clone()));
        channel
    }

    /// The state store.
    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// The registrations.
    pub fn registry(&self) -> &Registry {
        &self.state.registry
    }

    /// The desired-state feed.
    pub fn feed(&self) -> &DesiredStateFeed {
        &self.state.feed
    }

    /// The tunables.
    pub fn options(&self) -> &ChannelOptions {
        &self.state.options
    }

    /// The epoch of every generation this process sends (a new one on every start: the
    /// generation counters are not persisted, so they start over).
    pub fn epoch(&self) -> &str {
        &self.state.epoch
    }

    /// Whether `cluster_id` has a control-plane session.
    pub fn control_connected(&self, cluster_id: &str) -> bool {
        self.state.control_sessions.lock().contains_key(cluster_id)
    }

    /// Whether `cluster_id` has a management-plane session.
    pub fn management_connected(&self, cluster_id: &str) -> bool {
        self.state
            .management_sessions
            .lock()
            .contains_key(cluster_id)
    }

    pub(crate) fn next_session_id(&self) -> u64 {
        self.state.next_session.fetch_add(1, Ordering::Relaxed)
    }

    /// The next generation of `cluster_id`'s desired state in this epoch.
    pub(crate) fn next_generation(&self, cluster_id: &str) -> u64 {
        let mut generations = self.state.generations.lock();
        let generation = generations.entry(cluster_id.to_owned()).or_insert(0);
        *generation += 1;
        *generation
    }

    /// Records that generation `generation` of `cluster_id` was sent, so the next snapshot
    /// (even on another session) gets a higher number.
    pub(crate) fn note_generation(&self, cluster_id: &str, generation: u64) {
        let mut generations = self.state.generations.lock();
        let current = generations.entry(cluster_id.to_owned()).or_insert(0);
        *current = (*current).max(generation);
    }

    fn sessions(&self, control: bool) -> &Mutex<HashMap<String, SessionHandle>> {
        if control {
            &self.state.control_sessions
        } else {
            &self.state.management_sessions
        }
    }

    /// Makes `handle` the session of `cluster_id` on one plane; the one it replaces is told
    /// `SESSION_REPLACED`.
    pub(crate) fn register_session(&self, control: bool, cluster_id: &str, handle: SessionHandle) {
        let old = self
            .sessions(control)
            .lock()
            .insert(cluster_id.to_owned(), handle);
        if let Some(old) = old {
            let _ = old.commands.send(SessionCommand::Goodbye(ChannelError::new(
                ErrorCode::SessionReplaced,
                "a newer session for this cluster was accepted",
            )));
        }
    }

    /// Forgets session `id` of `cluster_id` (a newer one is left alone).
    pub(crate) fn unregister_session(&self, control: bool, cluster_id: &str, id: u64) {
        let mut sessions = self.sessions(control).lock();
        if sessions.get(cluster_id).is_some_and(|s| s.id == id) {
            sessions.remove(cluster_id);
        }
    }

    pub(crate) fn session(&self, control: bool, cluster_id: &str) -> Option<SessionHandle> {
        self.sessions(control).lock().get(cluster_id).cloned()
    }

    pub(crate) fn requests(&self) -> &PendingRequests {
        &self.state.requests
    }

    pub(crate) fn health(&self) -> &Mutex<HashMap<String, ClusterHealthRecord>> {
        &self.state.health
    }

    pub(crate) fn traceflows(&self) -> &Mutex<HashMap<String, management::TraceflowRecord>> {
        &self.state.traceflows
    }

    /// Asks the control-plane session of `cluster_id` for a realization refresh; false when
    /// the cluster has none.
    pub fn refresh(&self, cluster_id: &str, objects: Vec<nsx_proto::v1::ObjectRef>) -> bool {
        self.session(true, cluster_id)
            .is_some_and(|s| s.commands.send(SessionCommand::Refresh(objects)).is_ok())
    }

    /// The registered cluster a presented certificate (DER) belongs to.
    pub(crate) fn cluster_for_certificate(&self, der: &[u8]) -> Option<ClusterRegistration> {
        self.state.registry.cluster_for_certificate(der)
    }

    /// The registered cluster with id `id`, or whose `node_id` (inventory cluster id) is `id`.
    pub fn cluster_by_any_id(&self, id: &str) -> Option<ClusterRegistration> {
        self.state.registry.cluster(id).or_else(|| {
            self.state
                .store
                .read(|t| crate::registration::cluster_for_node_id(t, id))
        })
    }

    /// Ends every session (planned shutdown).
    pub fn shutdown_sessions(&self) {
        for control in [true, false] {
            for session in self.sessions(control).lock().values() {
                let _ = session
                    .commands
                    .send(SessionCommand::Goodbye(ChannelError::new(
                        ErrorCode::ShuttingDown,
                        "NSX Manager is shutting down",
                    )));
            }
        }
    }

    pub(crate) fn shutdown_token(&self) -> &CancellationToken {
        &self.state.shutdown
    }

    /// Serves both services on `listener` with the server certificate `identity` until the
    /// shutdown token is cancelled.
    pub fn serve(
        &self,
        listener: tokio::net::TcpListener,
        server_config: Arc<rustls::ServerConfig>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(tls::serve(self.clone(), listener, server_config))
    }
}

/// The `ClusterControlPlane` path of a cluster id.
pub fn cluster_path(cluster_id: &str) -> String {
    ccp_path(cluster_id)
}

/// A `Goodbye` for `reason`.
pub(crate) fn goodbye(reason: ChannelError) -> Goodbye {
    Goodbye {
        reason: Some(reason),
        reconnect_after: None,
    }
}

/// The NSX build the welcome names.
pub(crate) fn manager_version() -> String {
    crate::rest::system::NODE_VERSION.to_owned()
}

/// A protobuf timestamp for now.
pub(crate) fn timestamp_now() -> prost_types::Timestamp {
    prost_types::Timestamp::from(std::time::SystemTime::now())
}

/// A protobuf duration.
pub(crate) fn proto_duration(duration: Duration) -> prost_types::Duration {
    prost_types::Duration::try_from(duration).unwrap_or_default()
}

/// The NSX `ApiError` for a `ChannelError` an adapter answered with (docs/protocol.md §9.2).
pub fn api_error_from_channel(cluster_id: &str, error: &ChannelError) -> ApiError {
    let code = ErrorCode::try_from(error.code).unwrap_or(ErrorCode::Internal);
    let status = match code {
        ErrorCode::InvalidArgument | ErrorCode::Unsupported | ErrorCode::FailedPrecondition => {
            StatusCode::BAD_REQUEST
        }
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::PermissionDenied => StatusCode::FORBIDDEN,
        ErrorCode::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        ErrorCode::Unavailable | ErrorCode::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let error_code = if error.nsx_error_code != 0 {
        error.nsx_error_code
    } else {
        code::ADAPTER_ERROR
    };
    let mut api = ApiError::new(
        status,
        error_code,
        MODULE_CHANNEL,
        format!("Antrea cluster {cluster_id}: {}", error.message),
    );
    let mut details = error.details.clone();
    if !error.target.is_empty() {
        if !details.is_empty() {
            details.push_str("; ");
        }
        details.push_str(&format!("target: {}", error.target));
    }
    if !details.is_empty() {
        api = api.with_details(details);
    }
    for related in &error.related {
        let nested = api_error_from_channel(cluster_id, related);
        api = api.with_related(crate::error::RelatedError {
            status: nested.status,
            error_code: nested.error_code,
            module_name: nested.module_name,
            error_message: nested.error_message,
        });
    }
    api
}

/// 503: the cluster has no management-plane session.
pub fn not_connected(cluster_id: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        code::ADAPTER_NOT_CONNECTED,
        MODULE_CHANNEL,
        format!(
            "The Antrea cluster {cluster_id} is not connected to NSX: its adapter has no open \
             management-plane session."
        ),
    )
}

/// Ends sessions whose certificate no longer authenticates them, and forgets the channel
/// state of deregistered clusters.
async fn watch_registrations(channel: AdapterChannel) {
    let mut changes = channel.state.registry.subscribe();
    loop {
        let change = tokio::select! {
            () = channel.state.shutdown.cancelled() => return,
            change = changes.recv() => change,
        };
        match change {
            Ok(RegistrationChange::ClusterDeregistered { id, .. }) => {
                management::forget_cluster(&channel, &id).await;
                channel.recheck_sessions();
            }
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                channel.recheck_sessions();
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

impl AdapterChannel {
    /// Sends `PERMISSION_DENIED` to every session whose certificate is no longer the one
    /// registered for its cluster.
    fn recheck_sessions(&self) {
        for control in [true, false] {
            let sessions: Vec<(String, SessionHandle)> = self
                .sessions(control)
                .lock()
                .iter()
                .map(|(id, s)| (id.clone(), s.clone()))
                .collect();
            for (cluster_id, session) in sessions {
                let still = self
                    .cluster_for_certificate(&session.certificate)
                    .is_some_and(|r| r.id == cluster_id);
                if !still {
                    let _ = session.commands.send(SessionCommand::Goodbye(
                        ChannelError::new(
                            ErrorCode::PermissionDenied,
                            format!(
                                "the cluster {cluster_id} was deregistered or its certificate \
                                 changed"
                            ),
                        )
                        .with_target("cluster_id"),
                    ));
                }
            }
        }
    }
}
