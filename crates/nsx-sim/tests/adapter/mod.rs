//! A fake Antrea adapter for the channel tests: registers its cluster over REST (principal
//! identity with a self-signed rcgen certificate, then the `ClusterControlPlane`, as the
//! register job does), and speaks the channel with the generated tonic clients over mutual
//! TLS, trusting the simulator's CA.

#![allow(dead_code)]

use std::time::Duration;

use nsx_proto::control_plane_channel_client::ControlPlaneChannelClient;
use nsx_proto::management_plane_channel_client::ManagementPlaneChannelClient;
use nsx_proto::tls::{ClientTls, ServerTrust};
use nsx_proto::v1::{
    CcpAdapterMessage, CcpHello, CcpManagerMessage, CcpWelcome, DesiredStateUpdate, GenerationAck,
    MpAdapterMessage, MpHello, MpManagerMessage, MpRequest, MpResponse, MpWelcome, NsxObject, Pong,
    ccp_adapter_message, ccp_manager_message, mp_adapter_message, mp_manager_message, mp_response,
};
use nsx_proto::version::VersionRange;
use nsx_sim::channel::ChannelOptions;
use nsx_sim::{NsxSim, RunningSim, SimConfig};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;
use tonic::transport::Channel;

use crate::common::{self, Auth, Client, PASSWORD};

/// How long a test waits for any single message before it fails (a safety net, not an
/// assertion on speed).
pub const PATIENCE: Duration = Duration::from_secs(20);

/// REST paths.
pub const PI_URL: &str = "/api/v1/trust-management/principal-identities/with-certificate";
pub const CCP_URL: &str =
    "/policy/api/v1/infra/sites/default/enforcement-points/default/cluster-control-planes";

/// Channel options for tests: short request deadlines and a fast heartbeat clock.
pub fn test_options() -> ChannelOptions {
    let mut options = ChannelOptions::default();
    options.request_timeout = Duration::from_secs(5);
    options.support_bundle_timeout = Duration::from_secs(10);
    options.late_response_grace = Duration::from_millis(200);
    options
}

/// Starts a simulator serving the channel, in memory or on `dir`.
pub async fn start_with(options: ChannelOptions, dir: Option<&std::path::Path>) -> RunningSim {
    common::init();
    let mut config = SimConfig::new("127.0.0.1:0".parse().unwrap(), PASSWORD);
    config.rpc_listen = Some("127.0.0.1:0".parse().unwrap());
    config.channel = options;
    if let Some(dir) = dir {
        config.data_dir = Some(dir.to_owned());
    }
    NsxSim::start(config).await.unwrap()
}

/// Starts an in-memory simulator serving the channel with [`test_options`].
pub async fn start() -> RunningSim {
    start_with(test_options(), None).await
}

/// A registered cluster and its principal-identity certificate.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub id: String,
    pub cert: String,
    pub key: String,
    pub node_id: String,
}

impl Cluster {
    /// Its `ClusterControlPlane` path.
    pub fn path(&self) -> String {
        format!(
            "/infra/sites/default/enforcement-points/default/cluster-control-planes/{}",
            self.id
        )
    }
}

/// Registers cluster `id` over REST.
pub async fn register(sim: &RunningSim, id: &str) -> Cluster {
    let admin = Client::admin(sim);
    let (cert, key) = common::client_certificate(id);
    admin
        .post(
            PI_URL,
            Some(json!({
                "name": id, "node_id": id, "role": "enterprise_admin",
                "roles_for_paths": [{"path": "/", "roles": [{"role": "enterprise_admin"}]}],
                "is_protected": true, "certificate_pem": cert,
            })),
        )
        .await
        .expect(201);
    let pi = Client::new(sim, Auth::Certificate, Some((&cert, &key)));
    let ccp = pi
        .put(
            &format!("{CCP_URL}/{id}"),
            json!({"resource_type": "ClusterControlPlane", "certificate": cert}),
        )
        .await
        .expect(200);
    Cluster {
        id: id.to_owned(),
        node_id: ccp.body["node_id"].as_str().unwrap().to_owned(),
        cert,
        key,
    }
}

/// A TLS channel to the simulator's gRPC listener presenting `cert`/`key`.
pub async fn connect(
    sim: &RunningSim,
    cert: &str,
    key: &str,
) -> Result<Channel, tonic::transport::Error> {
    let tls = ClientTls::new(
        cert.as_bytes(),
        key.as_bytes(),
        ServerTrust::CaCertificates(sim.ca_cert_pem().as_bytes().to_vec()),
    )
    .unwrap();
    let endpoint = tonic::transport::Endpoint::from_shared(format!(
        "https://{}",
        sim.rpc_local_addr().unwrap()
    ))
    .unwrap();
    tls.apply(endpoint)?.connect().await
}

/// A control-plane hello for `cluster_id`.
pub fn ccp_hello(cluster_id: &str) -> CcpHello {
    CcpHello {
        protocol_version: Some(VersionRange::SUPPORTED.max_version()),
        min_protocol_version: Some(VersionRange::SUPPORTED.min_version()),
        cluster_id: cluster_id.to_owned(),
        adapter_version: "fake-adapter".to_owned(),
        ..Default::default()
    }
}

/// The fake CCP adapter's session.
pub struct CcpSession {
    sender: mpsc::Sender<CcpAdapterMessage>,
    inbound: Streaming<CcpManagerMessage>,
}

/// A received snapshot.
#[derive(Debug)]
pub struct ReceivedSnapshot {
    pub epoch: String,
    pub generation: u64,
    pub counts: (u64, u64, u64),
    pub objects: Vec<NsxObject>,
}

impl ReceivedSnapshot {
    /// The paths it holds, sorted.
    pub fn paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self.objects.iter().map(|o| o.path.clone()).collect();
        paths.sort();
        paths
    }

    /// The object at `path`.
    pub fn object(&self, path: &str) -> &NsxObject {
        self.objects.iter().find(|o| o.path == path).unwrap()
    }
}

impl CcpSession {
    /// Opens a session with `hello`; returns the session and the first message NSX sent.
    pub async fn open(
        channel: Channel,
        hello: CcpHello,
    ) -> Result<(CcpSession, CcpManagerMessage), tonic::Status> {
        let (sender, receiver) = mpsc::channel(64);
        sender
            .send(CcpAdapterMessage {
                body: Some(ccp_adapter_message::Body::Hello(hello)),
            })
            .await
            .unwrap();
        let mut client = ControlPlaneChannelClient::new(channel)
            .max_decoding_message_size(nsx_proto::limits::DEFAULT_MAX_MESSAGE_BYTES);
        let mut inbound = client
            .session(ReceiverStream::new(receiver))
            .await?
            .into_inner();
        let first = tokio::time::timeout(PATIENCE, inbound.message())
            .await
            .expect("no first message")?
            .expect("stream ended before the first message");
        Ok((CcpSession { sender, inbound }, first))
    }

    /// Connects as `cluster` and expects a welcome.
    pub async fn welcome(
        sim: &RunningSim,
        cluster: &Cluster,
        hello: CcpHello,
    ) -> (CcpSession, CcpWelcome) {
        let channel = connect(sim, &cluster.cert, &cluster.key).await.unwrap();
        let (session, first) = CcpSession::open(channel, hello).await.unwrap();
        match first.body {
            Some(ccp_manager_message::Body::Welcome(welcome)) => (session, welcome),
            other => panic!("expected a welcome, got {other:?}"),
        }
    }

    /// Sends a message.
    pub async fn send(&self, body: ccp_adapter_message::Body) {
        self.sender
            .send(CcpAdapterMessage { body: Some(body) })
            .await
            .unwrap();
    }

    /// Acknowledges `generation`.
    pub async fn ack(&self, generation: u64) {
        self.send(ccp_adapter_message::Body::Ack(GenerationAck { generation }))
            .await;
    }

    /// The next message from NSX (pings are answered and skipped); `None` at the end of the
    /// stream, `Err` for the final status.
    pub async fn next(&mut self) -> Result<Option<ccp_manager_message::Body>, tonic::Status> {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.inbound.message())
                .await
                .expect("NSX sent nothing in time")?;
            match message.and_then(|m| m.body) {
                Some(ccp_manager_message::Body::Ping(ping)) => {
                    self.send(ccp_adapter_message::Body::Pong(Pong { nonce: ping.nonce }))
                        .await;
                }
                other => return Ok(other),
            }
        }
    }

    /// The next message, which must exist.
    pub async fn expect(&mut self) -> ccp_manager_message::Body {
        self.next().await.unwrap().expect("the stream ended")
    }

    /// Receives a whole snapshot, checking its chunks and counts as an adapter must.
    pub async fn snapshot(&mut self) -> ReceivedSnapshot {
        let begin = match self.expect().await {
            ccp_manager_message::Body::SnapshotBegin(begin) => begin,
            other => panic!("expected SnapshotBegin, got {other:?}"),
        };
        let mut objects = Vec::new();
        let mut chunks = 0;
        loop {
            match self.expect().await {
                ccp_manager_message::Body::SnapshotChunk(chunk) => {
                    assert_eq!(chunk.generation, begin.generation);
                    assert_eq!(chunk.index, chunks);
                    chunks += 1;
                    objects.extend(chunk.objects);
                }
                ccp_manager_message::Body::SnapshotEnd(end) => {
                    assert_eq!(end.generation, begin.generation);
                    assert_eq!(end.chunk_count, chunks);
                    assert_eq!(end.object_count, objects.len() as u64);
                    break;
                }
                other => panic!("unexpected message inside a snapshot: {other:?}"),
            }
        }
        let count = |kind: nsx_proto::v1::ObjectKind| {
            objects.iter().filter(|o| o.kind == kind as i32).count() as u64
        };
        let counts = (
            count(nsx_proto::v1::ObjectKind::SecurityPolicy),
            count(nsx_proto::v1::ObjectKind::Group),
            count(nsx_proto::v1::ObjectKind::Service),
        );
        assert_eq!(
            counts,
            (begin.policy_count, begin.group_count, begin.service_count)
        );
        for object in &objects {
            object
                .parse_document()
                .expect("every document passes the envelope checks");
        }
        ReceivedSnapshot {
            epoch: begin.epoch,
            generation: begin.generation,
            counts,
            objects,
        }
    }

    /// The next message, which must be an update.
    pub async fn update(&mut self) -> DesiredStateUpdate {
        match self.expect().await {
            ccp_manager_message::Body::Update(update) => {
                assert_eq!(update.generation, update.previous_generation + 1);
                for object in &update.upserts {
                    object.parse_document().expect("envelope checks");
                }
                update
            }
            other => panic!("expected an update, got {other:?}"),
        }
    }
}

/// The paths an update upserts and deletes.
pub fn update_paths(update: &DesiredStateUpdate) -> (Vec<String>, Vec<String>) {
    let mut upserts: Vec<String> = update.upserts.iter().map(|o| o.path.clone()).collect();
    let mut deletes: Vec<String> = update.deletes.iter().map(|o| o.path.clone()).collect();
    upserts.sort();
    deletes.sort();
    (upserts, deletes)
}

/// An MP hello for `cluster_id` offering `capabilities`.
pub fn mp_hello(cluster_id: &str, capabilities: &[&str]) -> MpHello {
    MpHello {
        protocol_version: Some(VersionRange::SUPPORTED.max_version()),
        min_protocol_version: Some(VersionRange::SUPPORTED.min_version()),
        cluster_id: cluster_id.to_owned(),
        adapter_version: "fake-adapter".to_owned(),
        capabilities: capabilities.iter().map(|c| (*c).to_owned()).collect(),
        ..Default::default()
    }
}

/// Every request kind NSX sends.
pub const ALL_CAPABILITIES: &[&str] = &[
    nsx_proto::capabilities::MP_STATISTICS,
    nsx_proto::capabilities::MP_TRACEFLOW,
    nsx_proto::capabilities::MP_SUPPORT_BUNDLE,
];

/// The fake MP adapter's session.
pub struct MpSession {
    sender: mpsc::Sender<MpAdapterMessage>,
    inbound: Streaming<MpManagerMessage>,
}

impl MpSession {
    /// Connects as `cluster` and expects a welcome.
    pub async fn welcome(
        sim: &RunningSim,
        cluster: &Cluster,
        hello: MpHello,
    ) -> (MpSession, MpWelcome) {
        let channel = connect(sim, &cluster.cert, &cluster.key).await.unwrap();
        let (sender, receiver) = mpsc::channel(64);
        sender
            .send(MpAdapterMessage {
                body: Some(mp_adapter_message::Body::Hello(hello)),
            })
            .await
            .unwrap();
        let mut client = ManagementPlaneChannelClient::new(channel)
            .max_decoding_message_size(nsx_proto::limits::DEFAULT_MAX_MESSAGE_BYTES);
        let mut inbound = client
            .session(ReceiverStream::new(receiver))
            .await
            .unwrap()
            .into_inner();
        let first = tokio::time::timeout(PATIENCE, inbound.message())
            .await
            .expect("no welcome")
            .unwrap()
            .unwrap();
        match first.body {
            Some(mp_manager_message::Body::Welcome(welcome)) => {
                (MpSession { sender, inbound }, welcome)
            }
            other => panic!("expected a welcome, got {other:?}"),
        }
    }

    /// Sends a message.
    pub async fn send(&self, body: mp_adapter_message::Body) {
        self.sender
            .send(MpAdapterMessage { body: Some(body) })
            .await
            .unwrap();
    }

    /// The next message from NSX (pings answered and skipped).
    pub async fn next(&mut self) -> Result<Option<mp_manager_message::Body>, tonic::Status> {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.inbound.message())
                .await
                .expect("NSX sent nothing in time")?;
            match message.and_then(|m| m.body) {
                Some(mp_manager_message::Body::Ping(ping)) => {
                    self.send(mp_adapter_message::Body::Pong(Pong { nonce: ping.nonce }))
                        .await;
                }
                other => return Ok(other),
            }
        }
    }

    /// The next message, which must exist.
    pub async fn expect(&mut self) -> mp_manager_message::Body {
        self.next().await.unwrap().expect("the stream ended")
    }

    /// The next request NSX sends (heartbeat acks are skipped).
    pub async fn request(&mut self) -> MpRequest {
        loop {
            match self.expect().await {
                mp_manager_message::Body::Request(request) => return request,
                mp_manager_message::Body::HeartbeatAck(_) => {}
                other => panic!("expected a request, got {other:?}"),
            }
        }
    }

    /// Answers `request_id` with one part.
    pub async fn respond(
        &self,
        request_id: &str,
        sequence: u32,
        last: bool,
        body: mp_response::Body,
    ) {
        self.send(mp_adapter_message::Body::Response(MpResponse {
            request_id: request_id.to_owned(),
            sequence,
            last,
            body: Some(body),
        }))
        .await;
    }
}
