//! The control-plane client against a scripted fake NSX (a tonic server over mutual TLS
//! that hands each session to the test), for what a correct NSX never does: a generation
//! gap, a snapshot whose counts do not add up, a document that fails the envelope checks,
//! a welcome with a version the adapter does not speak, and a peer that goes silent. Also
//! Ping/Pong, `last_applied` in the next hello, and `Goodbye{SESSION_REPLACED}`.

use std::time::Duration;

use adapter_nsx::channel::control::{ControlPlaneClient, SpanChange};
use adapter_nsx::channel::{ChannelConfig, ReconnectPolicy};
use nsx_proto::control_plane_channel_server::{ControlPlaneChannel, ControlPlaneChannelServer};
use nsx_proto::tls::{ClientTls, ServerTrust, server_tls_config};
use nsx_proto::v1::{
    CcpAdapterMessage, CcpHello, CcpManagerMessage, CcpWelcome, ChannelError, DesiredStateUpdate,
    ErrorCode, Goodbye, NsxObject, ObjectKind, ObjectRef, Ping, ProtocolVersion, SnapshotBegin,
    SnapshotChunk, SnapshotEnd, ccp_adapter_message, ccp_manager_message,
};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status, Streaming};

const PATIENCE: Duration = Duration::from_secs(20);

/// One session as the fake NSX sees it.
struct FakeSession {
    hello: CcpHello,
    inbound: Streaming<CcpAdapterMessage>,
    outbound: mpsc::Sender<Result<CcpManagerMessage, Status>>,
}

impl FakeSession {
    async fn send(&self, body: ccp_manager_message::Body) {
        self.outbound
            .send(Ok(CcpManagerMessage { body: Some(body) }))
            .await
            .unwrap();
    }

    /// The adapter's next message.
    async fn next(&mut self) -> ccp_adapter_message::Body {
        tokio::time::timeout(PATIENCE, self.inbound.message())
            .await
            .expect("the adapter sent nothing in time")
            .unwrap()
            .expect("the adapter closed the stream")
            .body
            .unwrap()
    }

    /// The adapter's next message that is not a ping.
    async fn next_not_ping(&mut self) -> ccp_adapter_message::Body {
        loop {
            match self.next().await {
                ccp_adapter_message::Body::Ping(_) => {}
                other => return other,
            }
        }
    }

    async fn welcome(&self, version: ProtocolVersion, keepalive: Duration) {
        self.send(ccp_manager_message::Body::Welcome(CcpWelcome {
            protocol_version: Some(version),
            session_id: "session".into(),
            epoch: "e1".into(),
            keepalive_interval: Some(keepalive.try_into().unwrap()),
            max_unacked_generations: 8,
            ..CcpWelcome::default()
        }))
        .await;
    }

    /// A snapshot in one chunk; `announced` groups in the begin message.
    async fn snapshot(&self, generation: u64, objects: Vec<NsxObject>, announced: u64) {
        self.send(ccp_manager_message::Body::SnapshotBegin(SnapshotBegin {
            epoch: "e1".into(),
            generation,
            group_count: announced,
            ..SnapshotBegin::default()
        }))
        .await;
        let count = objects.len() as u64;
        self.send(ccp_manager_message::Body::SnapshotChunk(SnapshotChunk {
            generation,
            index: 0,
            objects,
        }))
        .await;
        self.send(ccp_manager_message::Body::SnapshotEnd(SnapshotEnd {
            generation,
            chunk_count: 1,
            object_count: count,
        }))
        .await;
    }

    async fn expect_ack(&mut self, generation: u64) {
        match self.next_not_ping().await {
            ccp_adapter_message::Body::Ack(ack) => assert_eq!(ack.generation, generation),
            other => panic!("expected an ack of {generation}, got {other:?}"),
        }
    }

    async fn expect_resync(&mut self, last_applied: u64) {
        match self.next_not_ping().await {
            ccp_adapter_message::Body::Resync(resync) => {
                assert_eq!(resync.last_applied_generation, last_applied);
                assert_eq!(resync.reason.unwrap().code(), ErrorCode::ProtocolViolation);
            }
            other => panic!("expected a resync request, got {other:?}"),
        }
    }
}

struct FakeNsx {
    sessions: mpsc::Sender<FakeSession>,
}

#[tonic::async_trait]
impl ControlPlaneChannel for FakeNsx {
    type SessionStream = ReceiverStream<Result<CcpManagerMessage, Status>>;

    async fn session(
        &self,
        request: Request<Streaming<CcpAdapterMessage>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        let mut inbound = request.into_inner();
        let Some(ccp_adapter_message::Body::Hello(hello)) =
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

/// Starts the fake NSX; returns the client configuration and the stream of sessions.
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
        .add_service(ControlPlaneChannelServer::new(FakeNsx { sessions }));
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

fn group(id: &str, revision: i64) -> NsxObject {
    NsxObject::from_json(
        ObjectKind::Group,
        &json!({"resource_type": "Group", "id": id,
                "path": format!("/infra/domains/default/groups/{id}"),
                "unique_id": format!("uid-{id}"), "_revision": revision}),
    )
    .unwrap()
}

async fn next_session(sessions: &mut mpsc::Receiver<FakeSession>) -> FakeSession {
    tokio::time::timeout(PATIENCE, sessions.recv())
        .await
        .expect("the adapter did not connect in time")
        .unwrap()
}

const V1: ProtocolVersion = ProtocolVersion { major: 1, minor: 0 };

#[tokio::test]
async fn sequencing_errors_resync_and_sessions_recover() {
    let (config, mut sessions) = fake_nsx().await;
    let client = ControlPlaneClient::start(config);
    let mut state = client.desired_state();

    let mut session = next_session(&mut sessions).await;
    assert_eq!(session.hello.cluster_id, "c1");
    assert!(session.hello.last_applied.is_none());
    assert_eq!(session.hello.protocol_version, Some(V1));
    session.welcome(V1, Duration::from_secs(30)).await;

    // A snapshot with one good and one bad document: both kept, acknowledged.
    let mut bad = group("bad", 1);
    bad.revision = 2;
    session.snapshot(1, vec![group("web", 1), bad], 2).await;
    session.expect_ack(1).await;
    let snapshot = state.wait_for(|s| s.is_synced()).await.unwrap().clone();
    assert_eq!(snapshot.generation, 1);
    assert_eq!(snapshot.state.groups.len(), 2);
    let bad = snapshot
        .state
        .get("/infra/domains/default/groups/bad")
        .unwrap();
    assert_eq!(
        bad.invalid_document_error().unwrap().reason,
        "InvalidDocument"
    );

    // Ping, pong.
    session
        .send(ccp_manager_message::Body::Ping(Ping {
            nonce: 7,
            sent_at: None,
        }))
        .await;
    match session.next_not_ping().await {
        ccp_adapter_message::Body::Pong(pong) => assert_eq!(pong.nonce, 7),
        other => panic!("expected a pong, got {other:?}"),
    }

    // A gap: resync, and updates are ignored until the next snapshot.
    session
        .send(ccp_manager_message::Body::Update(DesiredStateUpdate {
            generation: 3,
            previous_generation: 2,
            ..DesiredStateUpdate::default()
        }))
        .await;
    session.expect_resync(1).await;
    session
        .send(ccp_manager_message::Body::Update(DesiredStateUpdate {
            generation: 2,
            previous_generation: 1,
            deletes: vec![group("web", 1).object_ref()],
            ..DesiredStateUpdate::default()
        }))
        .await;
    // A snapshot whose announced counts are wrong: discarded, resync again.
    session.snapshot(5, vec![group("web", 2)], 2).await;
    session.expect_resync(1).await;
    assert_eq!(state.borrow().generation, 1);
    assert_eq!(state.borrow().state.groups.len(), 2);

    // A good snapshot replaces everything; then an update applies.
    session.snapshot(6, vec![group("web", 3)], 1).await;
    session.expect_ack(6).await;
    session
        .send(ccp_manager_message::Body::Update(DesiredStateUpdate {
            generation: 7,
            previous_generation: 6,
            upserts: vec![group("db", 0)],
            deletes: vec![ObjectRef {
                kind: ObjectKind::Group as i32,
                path: "/infra/domains/default/groups/web".into(),
                ..ObjectRef::default()
            }],
            committed_at: None,
        }))
        .await;
    session.expect_ack(7).await;
    let after = state.wait_for(|s| s.generation == 7).await.unwrap().clone();
    assert_eq!(
        after.state.groups.keys().collect::<Vec<_>>(),
        ["/infra/domains/default/groups/db"]
    );
    assert_eq!(
        after.change,
        SpanChange::Update {
            upserted: vec!["/infra/domains/default/groups/db".into()],
            deleted: vec!["/infra/domains/default/groups/web".into()],
        }
    );

    // Replaced: the adapter reconnects, telling NSX what it applied last.
    session
        .send(ccp_manager_message::Body::Goodbye(Goodbye {
            reason: Some(ChannelError::new(
                ErrorCode::SessionReplaced,
                "newer session",
            )),
            reconnect_after: Some(Duration::from_millis(50).try_into().unwrap()),
        }))
        .await;
    let mut session = next_session(&mut sessions).await;
    let last = session.hello.last_applied.clone().unwrap();
    assert_eq!((last.epoch.as_str(), last.generation), ("e1", 7));
    assert_eq!(
        client
            .connection()
            .borrow()
            .last_goodbye
            .as_ref()
            .unwrap()
            .code(),
        ErrorCode::SessionReplaced
    );

    // A version the adapter does not speak: it says goodbye and tries again.
    session
        .welcome(
            ProtocolVersion { major: 2, minor: 0 },
            Duration::from_secs(30),
        )
        .await;
    match session.next_not_ping().await {
        ccp_adapter_message::Body::Goodbye(goodbye) => {
            assert_eq!(
                goodbye.reason.unwrap().code(),
                ErrorCode::VersionUnsupported
            );
        }
        other => panic!("expected a goodbye, got {other:?}"),
    }

    // A silent NSX: pings after one keepalive interval, gives up after three.
    let mut session = next_session(&mut sessions).await;
    session.welcome(V1, Duration::from_millis(100)).await;
    match session.next().await {
        ccp_adapter_message::Body::Ping(_) => {}
        other => panic!("expected a ping, got {other:?}"),
    }
    match session.next_not_ping().await {
        ccp_adapter_message::Body::Goodbye(goodbye) => {
            assert_eq!(goodbye.reason.unwrap().code(), ErrorCode::Unavailable);
        }
        other => panic!("expected a goodbye, got {other:?}"),
    }
    let session = next_session(&mut sessions).await;
    assert_eq!(
        session.hello.last_applied.as_ref().map(|m| m.generation),
        Some(7)
    );
    // Sessions that reached a welcome in the protocol version: the first and the silent one.
    assert_eq!(client.connection().borrow().sessions_established, 2);
    // The state survived every failed session.
    assert_eq!(state.borrow().generation, 7);
    client.shutdown().await;
}
