//! The adapter channel clients (docs/protocol.md): one long-lived gRPC `Session` per plane,
//! over mutual TLS, with the principal-identity certificate (CN = cluster id).
//!
//! What both planes share lives here:
//!
//! - [`ChannelConfig`]: the NSX rpc endpoints (tried in turn, the last healthy one first),
//!   the client TLS, the identity strings of the hello, and the reconnect policy;
//! - [`ConnectionStatus`], published on a `watch` channel for readiness and metrics;
//! - reconnecting with exponential backoff (1 s doubling to 60 s, ±20 % jitter, reset after
//!   a minute up; a `Goodbye.reconnect_after` is a lower bound; §5.9);
//! - the application keepalive (a `Ping` after `keepalive_interval` of sending nothing, the
//!   peer dead after 3 intervals of receiving nothing; §5.5).
//!
//! The planes themselves are [`control`] (CCP adapter) and [`management`] (MP adapter).

pub mod control;
pub mod management;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use nsx_proto::tls::ClientTls;
use nsx_proto::v1::{ChannelError, ErrorCode, ProtocolVersion};
use nsx_proto::version::VersionRange;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};

/// How the adapter reaches NSX's channel. Its `Debug` leaves the TLS material out.
#[derive(Clone)]
pub struct ChannelConfig {
    /// NSX rpc endpoints, `https://host:port`, in order of preference. At least one.
    pub endpoints: Vec<String>,
    /// The cluster id: `ClusterControlPlane` id = principal identity name = certificate CN.
    pub cluster_id: String,
    /// The principal-identity certificate and how NSX is trusted.
    pub tls: ClientTls,
    /// The adapter build, sent in hellos (e.g. `"antrea-nsx 0.1.0"`).
    pub adapter_version: String,
    /// This replica (e.g. the Pod name), sent in hellos.
    pub adapter_instance: String,
    /// Reconnect delays.
    pub reconnect: ReconnectPolicy,
    /// How long to wait for the welcome after the hello (30 s).
    pub welcome_timeout: Duration,
}

impl std::fmt::Debug for ChannelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelConfig")
            .field("endpoints", &self.endpoints)
            .field("cluster_id", &self.cluster_id)
            .field("tls", &"(redacted)")
            .field("adapter_version", &self.adapter_version)
            .field("adapter_instance", &self.adapter_instance)
            .field("reconnect", &self.reconnect)
            .field("welcome_timeout", &self.welcome_timeout)
            .finish()
    }
}

impl ChannelConfig {
    /// A configuration with the protocol's default reconnect policy and welcome timeout.
    pub fn new(endpoints: Vec<String>, cluster_id: impl Into<String>, tls: ClientTls) -> Self {
        ChannelConfig {
            endpoints,
            cluster_id: cluster_id.into(),
            tls,
            adapter_version: concat!("antrea-nsx ", env!("CARGO_PKG_VERSION")).to_owned(),
            adapter_instance: String::new(),
            reconnect: ReconnectPolicy::default(),
            welcome_timeout: nsx_proto::limits::WELCOME_TIMEOUT,
        }
    }
}

/// Reconnect backoff (docs/protocol.md §5.9).
#[derive(Clone, Debug, PartialEq)]
pub struct ReconnectPolicy {
    /// First delay.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
    /// Random variation, in percent either way.
    pub jitter_percent: u32,
    /// A session up this long resets the delay to `initial`.
    pub reset_after: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            initial: nsx_proto::limits::RECONNECT_BACKOFF_INITIAL,
            max: nsx_proto::limits::RECONNECT_BACKOFF_MAX,
            jitter_percent: nsx_proto::limits::RECONNECT_JITTER_PERCENT,
            reset_after: Duration::from_secs(60),
        }
    }
}

/// The exponential reconnect delay sequence of a [`ReconnectPolicy`].
#[derive(Debug)]
pub(crate) struct Backoff {
    policy: ReconnectPolicy,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(policy: ReconnectPolicy) -> Backoff {
        Backoff {
            next: policy.initial,
            policy,
        }
    }

    /// The next delay (jittered), doubling the base for the one after.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.policy.max);
        let jitter = f64::from(self.policy.jitter_percent.min(100)) / 100.0;
        let factor = 1.0 + rand::random_range(-jitter..=jitter);
        base.mul_f64(factor.max(0.0))
    }

    /// Back to the initial delay.
    pub(crate) fn reset(&mut self) {
        self.next = self.policy.initial;
    }
}

/// Where a plane's connection stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    /// Dialling, or waiting for the welcome.
    Connecting,
    /// A session is up (welcome received).
    Connected,
    /// No session; waiting before the next attempt.
    Disconnected,
    /// The client stopped (shutdown).
    Stopped,
}

/// A plane's connection status, for readiness probes, health conditions and metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionStatus {
    /// The state.
    pub state: ConnectionState,
    /// The endpoint of the current or last session.
    pub endpoint: Option<String>,
    /// NSX's session id of the current session.
    pub session_id: Option<String>,
    /// The protocol version of the current session.
    pub protocol_version: Option<ProtocolVersion>,
    /// When the current session came up.
    pub connected_since: Option<SystemTime>,
    /// Sessions established since start.
    pub sessions_established: u64,
    /// Why the last session or attempt ended.
    pub last_error: Option<String>,
    /// The last `Goodbye` reason NSX gave.
    pub last_goodbye: Option<ChannelError>,
}

impl ConnectionStatus {
    fn initial() -> ConnectionStatus {
        ConnectionStatus {
            state: ConnectionState::Connecting,
            endpoint: None,
            session_id: None,
            protocol_version: None,
            connected_since: None,
            sessions_established: 0,
            last_error: None,
            last_goodbye: None,
        }
    }

    /// Whether a session is up.
    pub fn is_connected(&self) -> bool {
        self.state == ConnectionState::Connected
    }
}

/// How a session (or an attempt at one) ended.
#[derive(Debug, Default)]
pub(crate) struct SessionEnd {
    /// The welcome arrived.
    pub(crate) established: bool,
    /// How long the session was up.
    pub(crate) up_for: Duration,
    /// What went wrong, if anything.
    pub(crate) error: Option<String>,
    /// NSX's Goodbye, if it sent one.
    pub(crate) goodbye: Option<ChannelError>,
    /// NSX's `reconnect_after`.
    pub(crate) reconnect_after: Option<Duration>,
    /// The client is shutting down: do not reconnect.
    pub(crate) stop: bool,
}

/// Opens the TLS connection to `endpoint`.
pub(crate) async fn dial(endpoint: &str, tls: &ClientTls) -> Result<Channel, String> {
    let endpoint = Endpoint::from_shared(endpoint.to_owned())
        .map_err(|error| format!("bad endpoint {endpoint:?}: {error}"))?;
    let endpoint = nsx_proto::transport::configure_endpoint(endpoint);
    let endpoint = tls
        .apply(endpoint)
        .map_err(|error| format!("TLS configuration: {}", error_chain(&error)))?;
    endpoint
        .connect()
        .await
        .map_err(|error| format!("connect: {}", error_chain(&error)))
}

/// The version range the hello offers, and the check of the welcome's choice.
#[allow(clippy::result_large_err)] // the protocol's error value, sent as it is
pub(crate) fn check_negotiated(
    version: Option<&ProtocolVersion>,
) -> Result<ProtocolVersion, ChannelError> {
    let ours = VersionRange::SUPPORTED;
    match version {
        Some(version)
            if version.major == ours.major
                && (ours.min_minor..=ours.max_minor).contains(&version.minor) =>
        {
            Ok(*version)
        }
        other => Err(ChannelError::new(
            ErrorCode::VersionUnsupported,
            format!(
                "NSX chose protocol version {}, outside what this adapter speaks ({ours})",
                other.map_or_else(|| "none".to_owned(), ToString::to_string)
            ),
        )),
    }
}

/// A `prost_types::Duration` as a `std::time::Duration` (negative or absent: `None`).
pub(crate) fn std_duration(duration: Option<&prost_types::Duration>) -> Option<Duration> {
    let duration = duration?;
    Duration::try_from(*duration).ok()
}

/// Now as a protobuf timestamp.
pub(crate) fn now_timestamp() -> prost_types::Timestamp {
    prost_types::Timestamp::from(SystemTime::now())
}

/// The sending half of a session, remembering when it last sent (for keepalive).
#[derive(Debug)]
pub(crate) struct Outbound<M> {
    sender: mpsc::Sender<M>,
    last_sent: Mutex<Instant>,
}

impl<M> Outbound<M> {
    pub(crate) fn new(sender: mpsc::Sender<M>) -> Arc<Outbound<M>> {
        Arc::new(Outbound {
            sender,
            last_sent: Mutex::new(Instant::now()),
        })
    }

    /// Queues a message; `false` when the session is gone.
    pub(crate) async fn send(&self, message: M) -> bool {
        let sent = self.sender.send(message).await.is_ok();
        if sent {
            *self.last_sent.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        }
        sent
    }

    pub(crate) fn last_sent(&self) -> Instant {
        *self.last_sent.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The keepalive clock of a session.
#[derive(Debug)]
pub(crate) struct Keepalive {
    interval: Duration,
    last_received: Instant,
    nonce: u64,
}

/// What the keepalive clock asks for.
pub(crate) enum KeepaliveAction {
    /// Send a `Ping` with this nonce.
    Ping(u64),
    /// The peer is dead.
    Dead,
}

impl Keepalive {
    pub(crate) fn new(interval: Option<Duration>) -> Keepalive {
        let interval = interval
            .filter(|interval| !interval.is_zero())
            .unwrap_or(nsx_proto::limits::DEFAULT_KEEPALIVE_INTERVAL);
        Keepalive {
            interval,
            last_received: Instant::now(),
            nonce: 0,
        }
    }

    pub(crate) fn received(&mut self) {
        self.last_received = Instant::now();
    }

    fn dead_at(&self) -> Instant {
        self.last_received + self.interval * nsx_proto::limits::KEEPALIVE_MISSES_BEFORE_DEAD
    }

    /// When the clock next needs attention, given when we last sent.
    pub(crate) fn deadline(&self, last_sent: Instant) -> Instant {
        self.dead_at().min(last_sent + self.interval)
    }

    /// What to do at the deadline.
    pub(crate) fn due(&mut self, last_sent: Instant) -> Option<KeepaliveAction> {
        let now = Instant::now();
        if now >= self.dead_at() {
            Some(KeepaliveAction::Dead)
        } else if now >= last_sent + self.interval {
            self.nonce += 1;
            Some(KeepaliveAction::Ping(self.nonce))
        } else {
            None
        }
    }
}

/// Publishes status changes.
pub(crate) struct StatusPublisher {
    sender: watch::Sender<ConnectionStatus>,
}

impl StatusPublisher {
    pub(crate) fn new() -> (StatusPublisher, watch::Receiver<ConnectionStatus>) {
        let (sender, receiver) = watch::channel(ConnectionStatus::initial());
        (StatusPublisher { sender }, receiver)
    }

    pub(crate) fn update(&self, change: impl FnOnce(&mut ConnectionStatus)) {
        self.sender.send_modify(change);
    }
}

/// Runs a plane's reconnect loop: `session(endpoint)` runs one session on that endpoint
/// (returning how it ended) until `cancel` fires.
pub(crate) async fn supervise<F, Fut>(
    config: &ChannelConfig,
    status: &StatusPublisher,
    cancel: &tokio_util::sync::CancellationToken,
    mut session: F,
) where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = SessionEnd>,
{
    let mut backoff = Backoff::new(config.reconnect.clone());
    let mut preferred = 0usize;
    let endpoints = &config.endpoints;
    if endpoints.is_empty() {
        status.update(|s| {
            s.state = ConnectionState::Stopped;
            s.last_error = Some("no NSX rpc endpoint configured".to_owned());
        });
        tracing::error!("no NSX rpc endpoint configured");
        return;
    }
    loop {
        let mut lower_bound = None;
        for step in 0..endpoints.len() {
            if cancel.is_cancelled() {
                break;
            }
            let index = (preferred + step) % endpoints.len();
            let endpoint = endpoints[index].clone();
            status.update(|s| {
                s.state = ConnectionState::Connecting;
                s.endpoint = Some(endpoint.clone());
            });
            let end = session(endpoint.clone()).await;
            status.update(|s| {
                s.state = ConnectionState::Disconnected;
                s.session_id = None;
                s.protocol_version = None;
                s.connected_since = None;
                s.last_error.clone_from(&end.error);
                if end.goodbye.is_some() {
                    s.last_goodbye.clone_from(&end.goodbye);
                }
            });
            if end.stop || cancel.is_cancelled() {
                status.update(|s| s.state = ConnectionState::Stopped);
                return;
            }
            tracing::warn!(%endpoint, error = end.error.as_deref().unwrap_or("none"),
                established = end.established, "NSX channel session ended");
            lower_bound = end.reconnect_after;
            if end.established {
                // The endpoint worked: come back to it first, after the backoff.
                preferred = index;
                if end.up_for >= config.reconnect.reset_after {
                    backoff.reset();
                }
                break;
            }
            if let Some(goodbye) = &end.goodbye {
                // NSX refused the session (identity, version): another manager of the same
                // NSX would say the same. Back off.
                tracing::warn!(reason = %goodbye, "NSX refused the session");
                preferred = index;
                break;
            }
        }
        if cancel.is_cancelled() {
            status.update(|s| s.state = ConnectionState::Stopped);
            return;
        }
        let delay = backoff.next_delay().max(lower_bound.unwrap_or_default());
        tracing::info!(?delay, "reconnecting to NSX after a delay");
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = cancel.cancelled() => {
                status.update(|s| s.state = ConnectionState::Stopped);
                return;
            }
        }
    }
}

/// Marks a session as up in the status.
pub(crate) fn publish_connected(
    status: &StatusPublisher,
    session_id: &str,
    version: ProtocolVersion,
) {
    status.update(|s| {
        s.state = ConnectionState::Connected;
        s.session_id = Some(session_id.to_owned());
        s.protocol_version = Some(version);
        s.connected_since = Some(SystemTime::now());
        s.sessions_established += 1;
        s.last_error = None;
    });
}

/// How long an end waits, after its own `Goodbye`, for NSX to end the RPC.
const GOODBYE_GRACE: Duration = Duration::from_secs(1);

/// After the adapter's `Goodbye`, with its sending half closed: waits (bounded) for NSX to
/// end the RPC, so the `Goodbye` is delivered rather than lost in a stream reset.
pub(crate) async fn drain<T>(inbound: &mut tonic::Streaming<T>) {
    let _ = tokio::time::timeout(GOODBYE_GRACE, async {
        while let Ok(Some(_)) = inbound.message().await {}
    })
    .await;
}

pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_with_bounded_jitter() {
        let mut backoff = Backoff::new(ReconnectPolicy::default());
        let bases = [1u64, 2, 4, 8, 16, 32, 60, 60];
        for base in bases {
            let delay = backoff.next_delay().as_secs_f64();
            let base = base as f64;
            assert!(
                delay >= base * 0.8 - 1e-9 && delay <= base * 1.2 + 1e-9,
                "{delay} vs {base}"
            );
        }
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(1200));
    }

    #[test]
    fn the_welcome_version_must_be_ours() {
        let ok = ProtocolVersion { major: 1, minor: 0 };
        assert_eq!(check_negotiated(Some(&ok)).unwrap(), ok);
        assert!(check_negotiated(None).is_err());
        let other = ProtocolVersion { major: 2, minor: 0 };
        assert_eq!(
            check_negotiated(Some(&other)).unwrap_err().code(),
            ErrorCode::VersionUnsupported
        );
    }

    #[test]
    fn the_private_key_stays_out_of_debug_output() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "c1");
        let cert = params.self_signed(&key).unwrap();
        let key_pem = key.serialize_pem();
        let tls = ClientTls::new(
            cert.pem().as_bytes(),
            key_pem.as_bytes(),
            nsx_proto::tls::ServerTrust::PinnedSha256([1; 32]),
        )
        .unwrap();
        let config = ChannelConfig::new(vec!["https://nsx:1235".into()], "c1", tls);
        let text = format!("{config:?}");
        assert!(
            text.contains("nsx:1235") && text.contains("redacted"),
            "{text}"
        );
        // tonic's own Debug prints the key bytes; ours never shows the TLS material.
        assert!(format!("{:?}", config.tls).contains("key"));
        assert!(!text.contains("key"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn keepalive_pings_when_idle_and_declares_death_after_three_intervals() {
        let mut keepalive = Keepalive::new(Some(Duration::from_secs(30)));
        let sent = Instant::now();
        assert!(keepalive.due(sent).is_none());
        tokio::time::advance(Duration::from_secs(31)).await;
        assert!(matches!(
            keepalive.due(sent),
            Some(KeepaliveAction::Ping(1))
        ));
        let sent = Instant::now();
        assert_eq!(keepalive.deadline(sent), sent + Duration::from_secs(30));
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(matches!(keepalive.due(sent), Some(KeepaliveAction::Dead)));
        keepalive.received();
        assert!(keepalive.due(Instant::now()).is_none());
    }
}
