//! `/livez`, `/readyz`, `/metrics` and `/status` on each adapter's API port (MP 16664,
//! CCP 16665 by default).
//!
//! The server knows nothing about the adapters: it is handed an [`Observed`] bundle of a
//! readiness source, a status document source and a Prometheus registry. The adapter keeps
//! the watch senders and publishes into them; the server only reads.
//!
//! - `/livez`: 200 `ok` while the server's runtime answers at all.
//! - `/readyz`: 200 `ok` only when the readiness source says connected *and* synced;
//!   503 with `not ready: <reason>` otherwise. A healthy standby replica (leader election:
//!   another replica leads) answers 200 `ok: standby`, so that a Deployment with two
//!   replicas can roll (a rollout waits for new Pods to be ready, and a new Pod of a
//!   two-replica Deployment is normally the standby).
//! - `/metrics`: the registry in the Prometheus/OpenMetrics text format (see [`metrics`]
//!   for the families the adapters fill).
//! - `/status`: the latest JSON document from the status source.

pub mod metrics;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The default API port of the MP adapter.
pub const MP_API_PORT: u16 = 16664;
/// The default API port of the CCP adapter.
pub const CCP_API_PORT: u16 = 16665;

/// The content type of `/metrics` (OpenMetrics text, which Prometheus scrapes).
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Whether an adapter can serve: connected to its peers and done with its initial sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// Connected to NSX (and, where it applies, the Kubernetes API).
    pub connected: bool,
    /// The initial full sync finished (inventory sent, desired state realized).
    pub synced: bool,
    /// This replica waits as a standby while another one leads (ready to take over).
    pub standby: bool,
    /// Why the adapter is not ready, in a few words (shown by `/readyz`).
    pub reason: Option<String>,
}

impl Readiness {
    /// Connected and synced.
    pub fn ready() -> Self {
        Readiness {
            connected: true,
            synced: true,
            standby: false,
            reason: None,
        }
    }

    /// A healthy standby: another replica holds the leader Lease.
    pub fn standby() -> Self {
        Readiness {
            connected: false,
            synced: false,
            standby: true,
            reason: Some("standby: another replica leads".to_string()),
        }
    }

    /// Not ready, with the reason `/readyz` reports.
    pub fn not_ready(reason: impl Into<String>) -> Self {
        Readiness {
            connected: false,
            synced: false,
            standby: false,
            reason: Some(reason.into()),
        }
    }

    /// Connected but the initial sync is still running.
    pub fn syncing(reason: impl Into<String>) -> Self {
        Readiness {
            connected: true,
            synced: false,
            standby: false,
            reason: Some(reason.into()),
        }
    }

    /// Whether `/readyz` answers 200: a connected and synced leader, or a standby.
    pub fn is_ready(&self) -> bool {
        self.standby || (self.connected && self.synced)
    }

    /// The text `/readyz` answers with a 503.
    pub fn explain(&self) -> String {
        if let Some(reason) = self.reason.as_deref().filter(|r| !r.is_empty()) {
            return reason.to_string();
        }
        match (self.connected, self.synced) {
            (false, _) => "not connected".to_string(),
            (true, false) => "initial sync not finished".to_string(),
            (true, true) => "ready".to_string(),
        }
    }
}

impl Default for Readiness {
    fn default() -> Self {
        Readiness::not_ready("starting")
    }
}

/// What the API server exposes.
#[derive(Debug)]
pub struct Observed {
    pub ready: watch::Receiver<Readiness>,
    pub status: watch::Receiver<serde_json::Value>,
    pub registry: Registry,
}

/// The sending halves that go with an [`Observed`] made by [`Observed::channel`].
#[derive(Debug)]
pub struct ObservedSenders {
    pub ready: watch::Sender<Readiness>,
    pub status: watch::Sender<serde_json::Value>,
}

impl Observed {
    /// A fresh bundle (not ready, `{}` status) with its senders, around `registry`.
    pub fn channel(registry: Registry) -> (Observed, ObservedSenders) {
        let (ready_tx, ready) = watch::channel(Readiness::default());
        let (status_tx, status) = watch::channel(serde_json::json!({}));
        (
            Observed {
                ready,
                status,
                registry,
            },
            ObservedSenders {
                ready: ready_tx,
                status: status_tx,
            },
        )
    }
}

/// Errors of the API server.
#[derive(Debug, thiserror::Error)]
pub enum ObservabilityError {
    #[error("binding the API port {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("serving the API port: {0}")]
    Serve(std::io::Error),
    #[error("the API server task failed: {0}")]
    Task(String),
    #[error("reading the status at http://{addr}/status: {message}")]
    PeerStatus { addr: SocketAddr, message: String },
}

struct Shared {
    ready: watch::Receiver<Readiness>,
    status: watch::Receiver<serde_json::Value>,
    registry: Registry,
}

/// The routes, for serving elsewhere or calling in-process.
pub fn router(observed: Observed) -> Router {
    let shared = Arc::new(Shared {
        ready: observed.ready,
        status: observed.status,
        registry: observed.registry,
    });
    Router::new()
        .route("/livez", get(livez))
        .route("/healthz", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/status", get(status))
        .with_state(shared)
}

async fn livez() -> &'static str {
    "ok"
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    let readiness = shared.ready.borrow().clone();
    if readiness.standby {
        (StatusCode::OK, "ok: standby").into_response()
    } else if readiness.is_ready() {
        (StatusCode::OK, "ok").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}", readiness.explain()),
        )
            .into_response()
    }
}

async fn metrics_text(State(shared): State<Arc<Shared>>) -> Response {
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &shared.registry) {
        Ok(()) => {
            let mut response = text.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(METRICS_CONTENT_TYPE),
            );
            response
        }
        Err(error) => {
            tracing::warn!(%error, "encoding metrics failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "encoding metrics failed").into_response()
        }
    }
}

async fn status(State(shared): State<Arc<Shared>>) -> Response {
    let document = shared.status.borrow().clone();
    axum::Json(document).into_response()
}

/// A running API server.
#[derive(Debug)]
pub struct ApiServer {
    local_addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), std::io::Error>>,
}

impl ApiServer {
    /// Binds `addr` (port 0 picks a free one) and serves until [`ApiServer::shutdown`].
    pub async fn bind(
        addr: SocketAddr,
        observed: Observed,
    ) -> Result<ApiServer, ObservabilityError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ObservabilityError::Bind { addr, source })?;
        ApiServer::serve(listener, observed)
    }

    /// Serves on an already bound listener.
    pub fn serve(
        listener: tokio::net::TcpListener,
        observed: Observed,
    ) -> Result<ApiServer, ObservabilityError> {
        let local_addr = listener.local_addr().map_err(ObservabilityError::Serve)?;
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let app = router(observed);
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        });
        tracing::info!(%local_addr, "API server listening (/livez, /readyz, /metrics, /status)");
        Ok(ApiServer {
            local_addr,
            shutdown,
            task,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A token that, when cancelled, starts the graceful shutdown (e.g. tied to the
    /// process's own shutdown token).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops accepting connections, lets requests in flight finish, and waits for the
    /// server to end.
    pub async fn shutdown(self) -> Result<(), ObservabilityError> {
        self.shutdown.cancel();
        self.wait().await
    }

    /// Waits until the server ends (after its shutdown token is cancelled).
    pub async fn wait(self) -> Result<(), ObservabilityError> {
        match self.task.await {
            Ok(result) => result.map_err(ObservabilityError::Serve),
            Err(join) => Err(ObservabilityError::Task(join.to_string())),
        }
    }
}

/// Reads another adapter's `/status` document (the MP adapter reads the CCP adapter's,
/// on `127.0.0.1:<ccp APIServerPort>`, as both containers share the Pod's network).
pub async fn fetch_status(
    addr: SocketAddr,
    timeout: std::time::Duration,
) -> Result<serde_json::Value, ObservabilityError> {
    let failed = |message: String| ObservabilityError::PeerStatus { addr, message };
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| failed(format!("connecting: {e}")))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| failed(format!("handshake: {e}")))?;
        let driver = tokio::spawn(connection);
        let request = axum::http::Request::get("/status")
            .header(header::HOST, addr.to_string())
            .header(header::ACCEPT, "application/json")
            .body(http_body_util::Empty::<axum::body::Bytes>::new())
            .map_err(|e| failed(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| failed(format!("request: {e}")))?;
        let status = response.status();
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .map_err(|e| failed(format!("reading the body: {e}")))?
            .to_bytes();
        driver.abort();
        if !status.is_success() {
            return Err(failed(format!("answered {status}")));
        }
        serde_json::from_slice(&body).map_err(|e| failed(format!("not JSON: {e}")))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| failed(format!("no answer within {timeout:?}")))?
}

/// Keeps `gauge` at 1 while `to_flag` holds for the watched value and 0 otherwise (the
/// `leader` gauge from [`crate::leader::LeaderElection::is_leader`], the `ready` gauge
/// from the readiness source). The task ends when the sender is dropped.
pub fn mirror_into_gauge<T>(
    mut source: watch::Receiver<T>,
    gauge: prometheus_client::metrics::gauge::Gauge,
    to_flag: fn(&T) -> bool,
) -> JoinHandle<()>
where
    T: Send + Sync + 'static,
{
    tokio::spawn(async move {
        loop {
            let flag = to_flag(&source.borrow_and_update());
            gauge.set(i64::from(flag));
            if source.changed().await.is_err() {
                return;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddr};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A minimal HTTP/1.1 GET over a fresh connection: (status, content type, body).
    async fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String, String)> {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let code = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let content_type = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-type")
                    .then(|| value.trim().to_string())
            })
            .unwrap_or_default();
        Ok((code, content_type, body.to_string()))
    }

    fn loopback() -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
    }

    #[tokio::test]
    async fn readiness_follows_the_source() {
        let (observed, senders) = Observed::channel(Registry::default());
        let server = ApiServer::bind(loopback(), observed).await.unwrap();
        let addr = server.local_addr();
        assert_ne!(addr.port(), 0);

        let (code, _, body) = http_get(addr, "/readyz").await.unwrap();
        assert_eq!((code, body.as_str()), (503, "not ready: starting"));

        senders
            .ready
            .send_replace(Readiness::syncing("inventory sync 3 of 7 kinds"));
        let (code, _, body) = http_get(addr, "/readyz").await.unwrap();
        assert_eq!(code, 503);
        assert_eq!(body, "not ready: inventory sync 3 of 7 kinds");

        senders.ready.send_replace(Readiness::ready());
        let (code, _, body) = http_get(addr, "/readyz").await.unwrap();
        assert_eq!((code, body.as_str()), (200, "ok"));

        // Connected alone is not ready, and losing the connection makes it unready again.
        senders.ready.send_replace(Readiness {
            connected: true,
            synced: false,
            standby: false,
            reason: None,
        });
        let (code, _, body) = http_get(addr, "/readyz").await.unwrap();
        assert_eq!(
            (code, body.as_str()),
            (503, "not ready: initial sync not finished")
        );
        senders.ready.send_replace(Readiness {
            connected: false,
            synced: true,
            standby: false,
            reason: None,
        });
        let (code, _, body) = http_get(addr, "/readyz").await.unwrap();
        assert_eq!((code, body.as_str()), (503, "not ready: not connected"));

        // A standby is ready to take over; a lost leader that is not a standby is not.
        senders.ready.send_replace(Readiness::standby());
        let (code, _, body) = http_get(addr, "/readyz").await.unwrap();
        assert_eq!((code, body.as_str()), (200, "ok: standby"));
        senders
            .ready
            .send_replace(Readiness::not_ready("lost the NSX connection"));
        let (code, _, body) = http_get(addr, "/readyz").await.unwrap();
        assert_eq!(
            (code, body.as_str()),
            (503, "not ready: lost the NSX connection")
        );

        // Liveness does not depend on readiness.
        let (code, _, body) = http_get(addr, "/livez").await.unwrap();
        assert_eq!((code, body.as_str()), (200, "ok"));
        server.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn status_serves_the_latest_document() {
        let (observed, senders) = Observed::channel(Registry::default());
        let server = ApiServer::bind(loopback(), observed).await.unwrap();
        let (code, content_type, body) = http_get(server.local_addr(), "/status").await.unwrap();
        assert_eq!(code, 200);
        assert_eq!(content_type, "application/json");
        assert_eq!(body, "{}");

        senders.status.send_replace(serde_json::json!({
            "channel": {"state": "CONNECTED", "generation": 42},
            "realized": 10,
        }));
        let (_, _, body) = http_get(server.local_addr(), "/status").await.unwrap();
        let document: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(document["channel"]["generation"], 42);
        assert_eq!(document["realized"], 10);
        server.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn metrics_are_served_in_the_openmetrics_text_format() {
        let mut registry = Registry::default();
        let families = metrics::CcpMetricsFamilies::register(&mut registry);
        families.channel_connected.set(1);
        families.reconnects.inc_by(2);
        let (observed, _senders) = Observed::channel(registry);
        let server = ApiServer::bind(loopback(), observed).await.unwrap();
        let (code, content_type, body) = http_get(server.local_addr(), "/metrics").await.unwrap();
        assert_eq!(code, 200);
        assert_eq!(content_type, METRICS_CONTENT_TYPE);
        assert!(
            body.contains("# TYPE antrea_nsx_ccp_channel_connected gauge\n"),
            "{body}"
        );
        assert!(
            body.contains("antrea_nsx_ccp_channel_connected 1\n"),
            "{body}"
        );
        assert!(
            body.contains("antrea_nsx_ccp_reconnects_total 2\n"),
            "{body}"
        );
        assert!(body.ends_with("# EOF\n"), "{body}");
        server.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn a_peer_reads_the_status_document() {
        let (observed, senders) = Observed::channel(Registry::default());
        senders
            .status
            .send_replace(serde_json::json!({"channel": "CONNECTED"}));
        let server = ApiServer::bind(loopback(), observed).await.unwrap();
        let timeout = std::time::Duration::from_secs(5);
        let document = fetch_status(server.local_addr(), timeout).await.unwrap();
        assert_eq!(document["channel"], "CONNECTED");
        let addr = server.local_addr();
        server.shutdown().await.unwrap();
        let error = fetch_status(addr, timeout).await.unwrap_err();
        assert!(
            error.to_string().starts_with(&format!(
                "reading the status at http://{addr}/status: connecting:"
            )),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_peer_that_is_not_an_adapter_is_an_error() {
        let app = Router::new().route(
            "/status",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "busy") }),
        );
        let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let error = fetch_status(addr, std::time::Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("answered 503 Service Unavailable"),
            "{error}"
        );
        server.abort();
    }

    #[tokio::test]
    async fn gauges_mirror_the_leader_flag_and_readiness() {
        let (leader_tx, leader_rx) = watch::channel(false);
        let leader = prometheus_client::metrics::gauge::Gauge::default();
        let task = mirror_into_gauge(leader_rx, leader.clone(), |leads| *leads);
        let (ready_tx, ready_rx) = watch::channel(Readiness::default());
        let ready = prometheus_client::metrics::gauge::Gauge::default();
        let ready_task = mirror_into_gauge(ready_rx, ready.clone(), Readiness::is_ready);
        for (leads, readiness, expected) in [
            (true, Readiness::ready(), 1),
            (false, Readiness::not_ready("lost NSX"), 0),
            (true, Readiness::standby(), 1),
        ] {
            leader_tx.send_replace(leads);
            ready_tx.send_replace(readiness);
            // Wait (bounded) until the mirror tasks caught up.
            for _ in 0..1000 {
                if leader.get() == i64::from(leads) && ready.get() == expected {
                    break;
                }
                tokio::task::yield_now().await;
            }
            assert_eq!(leader.get(), i64::from(leads));
            assert_eq!(ready.get(), expected);
        }
        drop(leader_tx);
        drop(ready_tx);
        task.await.unwrap();
        ready_task.await.unwrap();
    }

    #[tokio::test]
    async fn unknown_paths_are_not_found() {
        let (observed, _senders) = Observed::channel(Registry::default());
        let server = ApiServer::bind(loopback(), observed).await.unwrap();
        let (code, _, _) = http_get(server.local_addr(), "/nope").await.unwrap();
        assert_eq!(code, 404);
        server.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn shutdown_closes_idle_keep_alive_connections_and_stops_listening() {
        let (observed, _senders) = Observed::channel(Registry::default());
        let server = ApiServer::bind(loopback(), observed).await.unwrap();
        let addr = server.local_addr();
        // A keep-alive connection that got its answer and stays open.
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /livez HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        let mut buffer = [0u8; 512];
        let mut answer = Vec::new();
        while !answer.ends_with(b"ok") {
            let read = stream.read(&mut buffer).await.unwrap();
            assert_ne!(read, 0, "connection closed before the answer");
            answer.extend_from_slice(&buffer[..read]);
        }
        assert!(answer.starts_with(b"HTTP/1.1 200"));
        // The graceful shutdown ends although that connection is still open...
        server.shutdown().await.unwrap();
        // ...because the server closed it,
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
        // and nobody listens on the port any more.
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }

    #[tokio::test]
    async fn binding_a_taken_port_names_the_address() {
        let taken = tokio::net::TcpListener::bind(loopback()).await.unwrap();
        let addr = taken.local_addr().unwrap();
        let (observed, _senders) = Observed::channel(Registry::default());
        let error = ApiServer::bind(addr, observed).await.unwrap_err();
        assert!(error.to_string().contains(&addr.to_string()), "{error}");
    }
}
