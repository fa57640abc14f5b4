//! `ManagementPlaneChannel/Session` (docs/protocol.md §5, §7): heartbeats carrying cluster
//! health, the heartbeat configuration NSX pushes, and NSX's requests to the MP adapter sent
//! within the session's concurrency limit (the rest wait in a queue) and answered here.
//!
//! Also the per-cluster state the REST facades read: the latest health ([`ClusterHealthRecord`]),
//! the heartbeat configuration (store table [`HEARTBEAT_TABLE`]) and the Traceflow results.

use std::collections::{HashSet, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use nsx_proto::capabilities;
use nsx_proto::management_plane_channel_server::ManagementPlaneChannel;
use nsx_proto::v1::{
    CancelRequest, ChannelError, ClusterHealth, ErrorCode, HeartbeatAck, HeartbeatConfig,
    MpAdapterMessage, MpManagerMessage, MpWelcome, Ping, Pong, TraceflowResult, mp_adapter_message,
    mp_manager_message,
};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::control::{authenticate, check_hello, first_message};
use super::requests::Delivery;
use super::{AdapterChannel, SessionCommand, SessionHandle, goodbye, proto_duration};
use crate::policy::now_ms;
use crate::realization::state;
use crate::registration::{ClusterRegistration, ccp_path};
use crate::store::{Tables, WriteTxn};

/// Store table of `AntreaHeartbeatConfig` documents, keyed by cluster id.
pub const HEARTBEAT_TABLE: &str = "antrea_heartbeat_config";

/// The request kinds NSX sends (the capabilities it offers in welcomes).
pub const NSX_CAPABILITIES: &[&str] = &[
    capabilities::MP_STATISTICS,
    capabilities::MP_TRACEFLOW,
    capabilities::MP_SUPPORT_BUNDLE,
];

/// The latest heartbeat of a cluster.
#[derive(Debug, Clone)]
pub struct ClusterHealthRecord {
    /// The health it carried.
    pub health: ClusterHealth,
    /// When it arrived (monotonic, for the UNKNOWN rule).
    pub received: Instant,
    /// When it arrived (ms since the epoch).
    pub received_ms: i64,
}

/// The heartbeat configuration of a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatSettings {
    /// Seconds between heartbeats.
    pub report_interval: u32,
    /// `_revision` of the configuration object.
    pub revision: i64,
}

/// The latest run of an Antrea Traceflow as NSX knows it.
#[derive(Debug, Clone, Default)]
pub struct TraceflowRecord {
    /// The cluster it runs in.
    pub cluster_id: String,
    /// The run the result belongs to.
    pub run: u32,
    /// The newest result part received for the run.
    pub result: Option<TraceflowResult>,
    /// Why the run failed on the NSX side (the adapter refused it, or never answered).
    pub failure: Option<String>,
}

/// The stored heartbeat configuration of `cluster_id`, or the default (60 s, revision 0).
pub fn heartbeat_settings(tables: &Tables, cluster_id: &str) -> HeartbeatSettings {
    match tables.get(HEARTBEAT_TABLE, cluster_id) {
        Some(doc) => HeartbeatSettings {
            report_interval: doc["report_interval"]
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(nsx_proto::limits::DEFAULT_HEARTBEAT_INTERVAL_SECONDS),
            revision: doc["_revision"].as_i64().unwrap_or_default(),
        },
        None => HeartbeatSettings {
            report_interval: nsx_proto::limits::DEFAULT_HEARTBEAT_INTERVAL_SECONDS,
            revision: 0,
        },
    }
}

/// The `AntreaHeartbeatConfig` document of a cluster (the default one if never written).
pub fn heartbeat_config_doc(tables: &Tables, cluster: &ClusterRegistration) -> Value {
    if let Some(doc) = tables.get(HEARTBEAT_TABLE, &cluster.id) {
        return doc.clone();
    }
    let path = format!("{}/heartbeat-config", ccp_path(&cluster.id));
    json!({
        "resource_type": "AntreaHeartbeatConfig",
        "id": "heartbeat-config",
        "display_name": "heartbeat-config",
        "path": path,
        "parent_path": ccp_path(&cluster.id),
        "relative_path": "heartbeat-config",
        "report_interval": nsx_proto::limits::DEFAULT_HEARTBEAT_INTERVAL_SECONDS,
        "marked_for_delete": false,
        "overridden": false,
        "_system_owned": false,
        "_protection": "NOT_PROTECTED",
        "_revision": 0,
    })
}

/// Drops everything the channel kept about a deregistered cluster.
pub(crate) async fn forget_cluster(channel: &AdapterChannel, cluster_id: &str) {
    channel.health().lock().remove(cluster_id);
    channel
        .traceflows()
        .lock()
        .retain(|_, record| record.cluster_id != cluster_id);
    let id = cluster_id.to_owned();
    let result = channel
        .store()
        .write(move |tx: &mut WriteTxn<'_>| {
            tx.delete(HEARTBEAT_TABLE, &id);
            state::forget_cluster(tx, &id);
            Ok::<_, std::convert::Infallible>(())
        })
        .await;
    if let Err(error) = result {
        tracing::error!(cluster = %cluster_id, ?error, "cannot forget a deregistered cluster");
    }
}

type ManagerStream =
    Pin<Box<dyn tokio_stream::Stream<Item = Result<MpManagerMessage, Status>> + Send>>;

/// The management-plane service.
#[derive(Debug, Clone)]
pub struct ManagementPlaneService {
    channel: AdapterChannel,
}

impl ManagementPlaneService {
    /// The service over `channel`.
    pub fn new(channel: AdapterChannel) -> Self {
        ManagementPlaneService { channel }
    }
}

#[tonic::async_trait]
impl ManagementPlaneChannel for ManagementPlaneService {
    type SessionStream = ManagerStream;

    async fn session(
        &self,
        request: Request<Streaming<MpAdapterMessage>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        let (registration, certificate) = authenticate(&self.channel, &request)?;
        let inbound = request.into_inner();
        let (out, receiver) = mpsc::channel(64);
        tokio::spawn(run_session(
            self.channel.clone(),
            registration,
            certificate,
            inbound,
            out,
        ));
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}

struct Outbound {
    sender: mpsc::Sender<Result<MpManagerMessage, Status>>,
    last_sent: Instant,
}

impl Outbound {
    async fn send(&mut self, body: mp_manager_message::Body) -> Result<(), ()> {
        self.last_sent = Instant::now();
        self.sender
            .send(Ok(MpManagerMessage { body: Some(body) }))
            .await
            .map_err(|_| ())
    }

    async fn goodbye(&mut self, reason: ChannelError) {
        let status = reason.to_status();
        let _ = self
            .sender
            .send(Ok(MpManagerMessage {
                body: Some(mp_manager_message::Body::Goodbye(goodbye(reason))),
            }))
            .await;
        let _ = self.sender.send(Err(status)).await;
    }
}

struct Session {
    channel: AdapterChannel,
    cluster_id: String,
    out: Outbound,
    limit: usize,
    queue: VecDeque<String>,
    in_flight: HashSet<String>,
}

async fn run_session(
    channel: AdapterChannel,
    registration: ClusterRegistration,
    certificate: Vec<u8>,
    mut inbound: Streaming<MpAdapterMessage>,
    sender: mpsc::Sender<Result<MpManagerMessage, Status>>,
) {
    let mut out = Outbound {
        sender,
        last_sent: Instant::now(),
    };
    let hello = match first_message(&mut inbound, channel.options().hello_timeout).await {
        Ok(MpAdapterMessage {
            body: Some(mp_adapter_message::Body::Hello(hello)),
        }) => hello,
        Ok(_) => {
            out.goodbye(ChannelError::new(
                ErrorCode::ProtocolViolation,
                "the first message of a session must be its hello",
            ))
            .await;
            return;
        }
        Err(Some(reason)) => {
            out.goodbye(reason).await;
            return;
        }
        Err(None) => return,
    };
    let version = match check_hello(
        &registration,
        &hello.cluster_id,
        hello.protocol_version.as_ref(),
        hello.min_protocol_version.as_ref(),
    ) {
        Ok(version) => version,
        Err(reason) => {
            out.goodbye(*reason).await;
            return;
        }
    };
    let negotiated = capabilities::intersection(NSX_CAPABILITIES, &hello.capabilities);
    let limit = match hello.max_concurrent_requests {
        0 => nsx_proto::limits::DEFAULT_MAX_CONCURRENT_REQUESTS,
        n => n.min(nsx_proto::limits::DEFAULT_MAX_CONCURRENT_REQUESTS),
    };
    let settings = channel
        .store()
        .read(|t| heartbeat_settings(t, &registration.id));
    let (commands_sender, mut commands) = mpsc::unbounded_channel();
    let last_seen = Arc::new(AtomicI64::new(now_ms()));
    let session_id = channel.next_session_id();
    channel.register_session(
        false,
        &registration.id,
        SessionHandle {
            id: session_id,
            certificate,
            commands: commands_sender,
            capabilities: negotiated.clone(),
            last_seen_ms: last_seen.clone(),
        },
    );
    let welcome = MpWelcome {
        protocol_version: Some(version),
        session_id: uuid::Uuid::new_v4().to_string(),
        cluster_path: registration.path.clone(),
        heartbeat_config: Some(HeartbeatConfig {
            report_interval: settings.report_interval,
            revision: settings.revision,
        }),
        keepalive_interval: Some(proto_duration(channel.options().keepalive_interval)),
        max_concurrent_requests: limit,
        max_message_bytes: nsx_proto::limits::DEFAULT_MAX_MESSAGE_BYTES as u32,
        capabilities: negotiated,
        manager_version: super::manager_version(),
    };
    let mut session = Session {
        channel: channel.clone(),
        cluster_id: registration.id.clone(),
        out,
        limit: limit as usize,
        queue: VecDeque::new(),
        in_flight: HashSet::new(),
    };
    // Requests interrupted by an earlier session (and those the adapter says it still runs)
    // are sent again, with the same ids.
    if !hello.pending_request_ids.is_empty() {
        tracing::info!(cluster = %registration.id, pending = ?hello.pending_request_ids,
            "adapter still runs requests of an earlier session");
    }
    session
        .queue
        .extend(channel.requests().of_cluster(&registration.id));
    let result = async {
        session
            .out
            .send(mp_manager_message::Body::Welcome(welcome))
            .await?;
        session.pump().await?;
        session.serve(&mut inbound, &mut commands, &last_seen).await
    }
    .await;
    if result.is_err() {
        tracing::debug!(cluster = %registration.id, "management-plane client went away");
    }
    channel.unregister_session(false, &registration.id, session_id);
    tracing::info!(cluster = %registration.id, "management-plane session ended");
}

impl Session {
    async fn serve(
        &mut self,
        inbound: &mut Streaming<MpAdapterMessage>,
        commands: &mut mpsc::UnboundedReceiver<SessionCommand>,
        last_seen: &AtomicI64,
    ) -> Result<(), ()> {
        let keepalive = self.channel.options().keepalive_interval;
        let dead_after = keepalive * nsx_proto::limits::KEEPALIVE_MISSES_BEFORE_DEAD;
        let mut last_received = Instant::now();
        let mut nonce = 0u64;
        loop {
            let ping_at = self.out.last_sent + keepalive;
            let dead_at = last_received + dead_after;
            tokio::select! {
                message = inbound.next() => {
                    last_received = Instant::now();
                    last_seen.store(now_ms(), std::sync::atomic::Ordering::Relaxed);
                    match message {
                        None => return Ok(()),
                        Some(Err(status)) => {
                            tracing::debug!(cluster = %self.cluster_id, %status, "management-plane stream error");
                            return Ok(());
                        }
                        Some(Ok(message)) => {
                            if !self.on_message(message).await? {
                                return Ok(());
                            }
                        }
                    }
                }
                command = commands.recv() => match command {
                    Some(SessionCommand::Goodbye(reason)) => {
                        self.out.goodbye(reason).await;
                        return Ok(());
                    }
                    Some(SessionCommand::Request(id)) => self.queue.push_back(id),
                    Some(SessionCommand::Cancel(id, reason)) => {
                        self.queue.retain(|queued| *queued != id);
                        if self.in_flight.remove(&id) {
                            self.out.send(mp_manager_message::Body::Cancel(CancelRequest { request_id: id, reason })).await?;
                        }
                    }
                    Some(SessionCommand::HeartbeatConfig(config)) => {
                        self.out.send(mp_manager_message::Body::HeartbeatConfig(config)).await?;
                    }
                    Some(SessionCommand::Refresh(_)) => {}
                    None => return Ok(()),
                },
                () = tokio::time::sleep_until(ping_at) => {
                    nonce += 1;
                    self.out.send(mp_manager_message::Body::Ping(Ping { nonce, sent_at: Some(super::timestamp_now()) })).await?;
                }
                () = tokio::time::sleep_until(dead_at) => {
                    self.out.goodbye(ChannelError::new(ErrorCode::Unavailable,
                        "nothing received for three keepalive intervals")).await;
                    return Ok(());
                }
                () = self.channel.shutdown_token().cancelled() => {
                    self.out.goodbye(ChannelError::new(ErrorCode::ShuttingDown, "NSX Manager is shutting down")).await;
                    return Ok(());
                }
            }
            self.pump().await?;
        }
    }

    /// Sends queued requests while the concurrency limit allows.
    async fn pump(&mut self) -> Result<(), ()> {
        while self.in_flight.len() < self.limit {
            let Some(id) = self.queue.pop_front() else {
                break;
            };
            if self.in_flight.contains(&id) {
                continue;
            }
            let Some(request) = self.channel.requests().to_send(&self.cluster_id, &id) else {
                continue;
            };
            self.in_flight.insert(id);
            self.out
                .send(mp_manager_message::Body::Request(request))
                .await?;
        }
        Ok(())
    }

    async fn on_message(&mut self, message: MpAdapterMessage) -> Result<bool, ()> {
        match message.body {
            Some(mp_adapter_message::Body::Heartbeat(heartbeat)) => {
                let record = ClusterHealthRecord {
                    health: heartbeat.health.unwrap_or_default(),
                    received: Instant::now(),
                    received_ms: now_ms(),
                };
                self.channel
                    .health()
                    .lock()
                    .insert(self.cluster_id.clone(), record);
                self.out
                    .send(mp_manager_message::Body::HeartbeatAck(HeartbeatAck {
                        sequence: heartbeat.sequence,
                        received_at: Some(super::timestamp_now()),
                    }))
                    .await?;
            }
            Some(mp_adapter_message::Body::Response(response)) => {
                let id = response.request_id.clone();
                if self.channel.requests().deliver(&self.cluster_id, response) == Delivery::Finished
                {
                    self.in_flight.remove(&id);
                }
            }
            Some(mp_adapter_message::Body::Ping(ping)) => {
                self.out
                    .send(mp_manager_message::Body::Pong(Pong { nonce: ping.nonce }))
                    .await?;
            }
            Some(mp_adapter_message::Body::Pong(_)) => {}
            Some(mp_adapter_message::Body::Goodbye(bye)) => {
                tracing::info!(cluster = %self.cluster_id, reason = ?bye.reason, "adapter said goodbye");
                return Ok(false);
            }
            Some(mp_adapter_message::Body::Hello(_)) => {
                self.out
                    .goodbye(ChannelError::new(
                        ErrorCode::ProtocolViolation,
                        "a second hello on the session",
                    ))
                    .await;
                return Ok(false);
            }
            None => {
                tracing::debug!(cluster = %self.cluster_id, "adapter message of an unknown kind ignored");
            }
        }
        Ok(true)
    }
}

impl AdapterChannel {
    /// Pushes `settings` to the MP session of `cluster_id`, if it has one.
    pub fn push_heartbeat_config(&self, cluster_id: &str, settings: HeartbeatSettings) {
        if let Some(session) = self.session(false, cluster_id) {
            let _ = session
                .commands
                .send(SessionCommand::HeartbeatConfig(HeartbeatConfig {
                    report_interval: settings.report_interval,
                    revision: settings.revision,
                }));
        }
    }

    /// The latest heartbeat of `cluster_id`.
    pub fn latest_health(&self, cluster_id: &str) -> Option<ClusterHealthRecord> {
        self.health().lock().get(cluster_id).cloned()
    }

    /// When the control-plane session of `cluster_id` last received anything (ms), if it has
    /// a session.
    pub fn control_session_last_seen(&self, cluster_id: &str) -> Option<i64> {
        self.session(true, cluster_id)
            .map(|s| s.last_seen_ms.load(std::sync::atomic::Ordering::Relaxed))
    }
}
