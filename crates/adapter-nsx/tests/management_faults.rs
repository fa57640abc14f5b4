//! The management-plane client against a scripted fake NSX (a tonic server over mutual TLS
//! that hands each session to the test): the hello, the first heartbeat, an out-of-range
//! heartbeat interval ignored, and the answers the client gives before or instead of the
//! handler: a capability not negotiated and an unknown request kind (`UNSUPPORTED`), invalid
//! requests (`INVALID_ARGUMENT` with a target), NSX's `CancelRequest` (`CANCELLED`), and
//! logs sent in numbered chunks ending with `StreamEnd`.

use std::sync::Arc;
use std::time::Duration;

use adapter_nsx::channel::management::{
    HealthSource, ManagementPlaneClient, RequestContext, RequestHandler, ResponseSink,
};
use adapter_nsx::channel::{ChannelConfig, ReconnectPolicy};
use nsx_proto::capabilities;
use nsx_proto::management_plane_channel_server::{
    ManagementPlaneChannel, ManagementPlaneChannelServer,
};
use nsx_proto::tls::{ClientTls, ServerTrust, server_tls_config};
use nsx_proto::v1::{
    CancelRequest, ChannelError, ClusterHealth, ErrorCode, HeartbeatConfig, LogCollectionRequest,
    LogSourceResult, MpAdapterMessage, MpHello, MpManagerMessage, MpRequest, MpResponse, MpWelcome,
    PolicyStatisticsRequest, PolicyStatisticsResult, ProtocolVersion, SupportBundleRequest,
    TraceflowGetRequest, mp_adapter_message, mp_manager_message, mp_request, mp_response,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status, Streaming};

const PATIENCE: Duration = Duration::from_secs(20);

struct FakeSession {
    hello: MpHello,
    inbound: Streaming<MpAdapterMessage>,
    outbound: mpsc::Sender<Result<MpManagerMessage, Status>>,
}

impl FakeSession {
    async fn send(&self, body: mp_manager_message::Body) {
        self.outbound
            .send(Ok(MpManagerMessage { body: Some(body) }))
            .await
            .unwrap();
    }

    /// The adapter's next message that is not a ping or a heartbeat.
    async fn next_response(&mut self) -> MpResponse {
        loop {
            let body = tokio::time::timeout(PATIENCE, self.inbound.message())
                .await
                .expect("the adapter sent nothing in time")
                .unwrap()
                .expect("the adapter closed the stream")
                .body
                .unwrap();
            match body {
                mp_adapter_message::Body::Response(response) => return response,
                mp_adapter_message::Body::Ping(_) | mp_adapter_message::Body::Heartbeat(_) => {}
                other => panic!("expected a response, got {other:?}"),
            }
        }
    }

    async fn request(&self, request_id: &str, body: Option<mp_request::Body>) {
        self.send(mp_manager_message::Body::Request(MpRequest {
            request_id: request_id.into(),
            timeout: Some(Duration::from_secs(30).try_into().unwrap()),
            sent_at: None,
            body,
        }))
        .await;
    }

    async fn expect_error(&mut self, request_id: &str, code: ErrorCode) -> ChannelError {
        let response = self.next_response().await;
        assert_eq!(response.request_id, request_id);
        assert!(response.last);
        match response.body {
            Some(mp_response::Body::Error(error)) => {
                assert_eq!(error.code(), code, "{error}");
                error
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }
}

struct FakeNsx {
    sessions: mpsc::Sender<FakeSession>,
}

#[tonic::async_trait]
impl ManagementPlaneChannel for FakeNsx {
    type SessionStream = ReceiverStream<Result<MpManagerMessage, Status>>;

    async fn session(
        &self,
        request: Request<Streaming<MpAdapterMessage>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        let mut inbound = request.into_inner();
        let Some(mp_adapter_message::Body::Hello(hello)) =
            inbound.message().await?.and_then(|m| m.body)
        else {
            return Err(Status::invalid_argument("no hello"));
        };
        let (outbound, receiver) = mpsc::channel(64);
        let _ = self
            .sessions
            .send(FakeSession {
                hello,
                inbound,
                outbound,
            })
            .await;
        Ok(Response::new(ReceiverStream::new(receiver)))
    }
}

fn certificate(cn: &str, names: Vec<String>) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

async fn fake_nsx() -> (ChannelConfig, mpsc::Receiver<FakeSession>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (server_cert, server_key) = certificate("nsx", vec!["localhost".into()]);
    let (client_cert, client_key) = certificate("c1", Vec::new());
    let tls = server_tls_config(
        server_cert.as_bytes(),
        server_key.as_bytes(),
        client_cert.as_bytes(),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (sessions, receiver) = mpsc::channel(8);
    let router = nsx_proto::transport::server_builder()
        .tls_config(tls)
        .unwrap()
        .add_service(ManagementPlaneChannelServer::new(FakeNsx { sessions }));
    tokio::spawn(router.serve_with_incoming(TcpListenerStream::new(listener)));
    let client_tls = ClientTls::new(
        client_cert.as_bytes(),
        client_key.as_bytes(),
        ServerTrust::PinnedCertificate(server_cert.into_bytes()),
    )
    .unwrap();
    let mut config = ChannelConfig::new(vec![format!("https://{address}")], "c1", client_tls);
    config.reconnect = ReconnectPolicy {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(100),
        jitter_percent: 20,
        reset_after: Duration::from_secs(60),
    };
    (config, receiver)
}

struct Health;

impl HealthSource for Health {
    async fn cluster_health(&self) -> ClusterHealth {
        ClusterHealth::default()
    }
}

/// Serves statistics (waiting until cancelled) and logs (one source of 10 bytes).
struct Handler;

impl RequestHandler for Handler {
    fn capabilities(&self) -> Vec<String> {
        vec![
            capabilities::MP_STATISTICS.to_owned(),
            capabilities::MP_LOGS.to_owned(),
            capabilities::MP_SUPPORT_BUNDLE.to_owned(),
        ]
    }

    async fn policy_statistics(
        &self,
        _request: PolicyStatisticsRequest,
        _context: RequestContext,
    ) -> Result<PolicyStatisticsResult, ChannelError> {
        std::future::pending().await
    }

    async fn logs(
        &self,
        _request: LogCollectionRequest,
        _context: RequestContext,
        sink: ResponseSink,
    ) -> Result<(), ChannelError> {
        sink.send_log_file("node-1", "antrea-agent", "antrea-agent.log", b"0123456789")
            .await
            .map_err(|error| ChannelError::new(ErrorCode::Cancelled, error.to_string()))?;
        sink.send(mp_response::Body::LogSource(LogSourceResult {
            node_id: "node-1".into(),
            component: "antrea-agent".into(),
            file_name: "antrea-agent.log".into(),
            total_bytes: 10,
            ..LogSourceResult::default()
        }))
        .await
        .map_err(|error| ChannelError::new(ErrorCode::Cancelled, error.to_string()))
    }
}

#[tokio::test]
async fn requests_are_checked_cancelled_and_answered_in_parts() {
    let (config, mut sessions) = fake_nsx().await;
    let client = ManagementPlaneClient::start(config, Arc::new(Health), Arc::new(Handler));
    let mut session = tokio::time::timeout(PATIENCE, sessions.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.hello.cluster_id, "c1");
    assert_eq!(session.hello.max_concurrent_requests, 16);
    assert_eq!(
        session.hello.capabilities,
        ["mp.statistics", "mp.logs", "mp.support-bundle"]
    );
    // Logs and statistics are negotiated; support bundles are not.
    session
        .send(mp_manager_message::Body::Welcome(MpWelcome {
            protocol_version: Some(ProtocolVersion { major: 1, minor: 0 }),
            session_id: "s".into(),
            heartbeat_config: Some(HeartbeatConfig {
                report_interval: 60,
                revision: 0,
            }),
            max_concurrent_requests: 16,
            capabilities: vec!["mp.statistics".into(), "mp.logs".into()],
            ..MpWelcome::default()
        }))
        .await;
    // The first heartbeat comes at once.
    match tokio::time::timeout(PATIENCE, session.inbound.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
        .body
    {
        Some(mp_adapter_message::Body::Heartbeat(heartbeat)) => {
            assert_eq!(heartbeat.sequence, 1);
            assert!(heartbeat.health.is_some());
        }
        other => panic!("expected a heartbeat, got {other:?}"),
    }
    // An interval outside 60-600 s is ignored.
    session
        .send(mp_manager_message::Body::HeartbeatConfig(HeartbeatConfig {
            report_interval: 5,
            revision: 1,
        }))
        .await;

    session
        .request(
            "bundle",
            Some(mp_request::Body::SupportBundle(
                SupportBundleRequest::default(),
            )),
        )
        .await;
    session.expect_error("bundle", ErrorCode::Unsupported).await;
    session.request("unknown", None).await;
    session
        .expect_error("unknown", ErrorCode::Unsupported)
        .await;
    session
        .request(
            "big-chunks",
            Some(mp_request::Body::Logs(LogCollectionRequest {
                max_chunk_bytes: 4 * 1024 * 1024,
                ..LogCollectionRequest::default()
            })),
        )
        .await;
    let error = session
        .expect_error("big-chunks", ErrorCode::InvalidArgument)
        .await;
    assert_eq!(error.target, "max_chunk_bytes");
    session
        .request(
            "traceflow",
            Some(mp_request::Body::TraceflowGet(
                TraceflowGetRequest::default(),
            )),
        )
        .await;
    session
        .expect_error("traceflow", ErrorCode::Unsupported)
        .await;

    // A running request cancelled by NSX ends with CANCELLED.
    session
        .request(
            "stats",
            Some(mp_request::Body::PolicyStatistics(
                PolicyStatisticsRequest::default(),
            )),
        )
        .await;
    session
        .send(mp_manager_message::Body::Cancel(CancelRequest {
            request_id: "stats".into(),
            reason: "the caller went away".into(),
        }))
        .await;
    let response = session.next_response().await;
    assert_eq!(
        (response.request_id.as_str(), response.sequence),
        ("stats", 0)
    );
    assert!(matches!(
        response.body,
        Some(mp_response::Body::Error(ref error)) if error.code() == ErrorCode::Cancelled
    ));

    // Logs: a chunk of 4 bytes at a time, the source result, then StreamEnd.
    session
        .request(
            "logs",
            Some(mp_request::Body::Logs(LogCollectionRequest {
                max_chunk_bytes: 4,
                ..LogCollectionRequest::default()
            })),
        )
        .await;
    let mut parts = Vec::new();
    loop {
        let part = session.next_response().await;
        assert_eq!(part.request_id, "logs");
        let last = part.last;
        parts.push(part);
        if last {
            break;
        }
    }
    assert_eq!(
        parts.iter().map(|p| p.sequence).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    let data: Vec<u8> = parts
        .iter()
        .filter_map(|p| match &p.body {
            Some(mp_response::Body::LogChunk(chunk)) => Some(chunk.data.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(data, b"0123456789");
    assert!(matches!(
        parts[3].body,
        Some(mp_response::Body::LogSource(_))
    ));
    assert_eq!(
        parts[4].body,
        Some(mp_response::Body::End(nsx_proto::v1::StreamEnd {
            total_bytes: 10,
            parts: 5
        }))
    );
    assert_eq!(client.heartbeats().borrow().report_interval, 60);
    client.shutdown().await;
}
