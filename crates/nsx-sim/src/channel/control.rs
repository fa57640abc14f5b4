//! `ControlPlaneChannel/Session` (docs/protocol.md §5, §6): per cluster, the span-filtered
//! desired state as a snapshot, then ordered updates within the ack window, coalescing what
//! the window holds back; acknowledgements, resyncs, keepalive, and realization reports
//! recorded as realized state.

use std::collections::{BTreeMap, HashSet};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::SystemTime;

use nsx_proto::control_plane_channel_server::ControlPlaneChannel;
use nsx_proto::v1::{
    CcpAdapterMessage, CcpManagerMessage, CcpWelcome, ChannelError, DesiredStateUpdate, ErrorCode,
    ObjectKind, Ping, Pong, RealizationRefresh, SnapshotBegin, SnapshotChunk, SnapshotEnd,
    ccp_adapter_message, ccp_manager_message,
};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::{AdapterChannel, SessionCommand, SessionHandle, goodbye, proto_duration};
use crate::policy::now_ms;
use crate::realization::feed::{ChangeSet, Snapshot};
use crate::realization::span::{CachedObject, sending_order};
use crate::realization::state;
use crate::registration::ClusterRegistration;

/// The largest ack window NSX grants.
pub const MAX_WINDOW: u32 = 64;
/// Room left in a message for everything but documents.
const MESSAGE_OVERHEAD: usize = 64 * 1024;

type ManagerStream =
    Pin<Box<dyn tokio_stream::Stream<Item = Result<CcpManagerMessage, Status>> + Send>>;

/// The control-plane service.
#[derive(Debug, Clone)]
pub struct ControlPlaneService {
    channel: AdapterChannel,
}

impl ControlPlaneService {
    /// The service over `channel`.
    pub fn new(channel: AdapterChannel) -> Self {
        ControlPlaneService { channel }
    }
}

/// The registered cluster of a request's client certificate, or `Unauthenticated`.
pub(crate) fn authenticate<T>(
    channel: &AdapterChannel,
    request: &Request<T>,
) -> Result<(ClusterRegistration, Vec<u8>), Status> {
    let certificate = nsx_proto::peer::peer_certificate(request)
        .ok_or_else(|| Status::unauthenticated("the peer presented no client certificate"))?;
    let registration = channel
        .cluster_for_certificate(certificate.as_ref())
        .ok_or_else(|| {
            Status::unauthenticated(
                "the client certificate is not the registered principal-identity certificate \
                 of any cluster",
            )
        })?;
    Ok((registration, certificate.to_vec()))
}

#[tonic::async_trait]
impl ControlPlaneChannel for ControlPlaneService {
    type SessionStream = ManagerStream;

    async fn session(
        &self,
        request: Request<Streaming<CcpAdapterMessage>>,
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

fn message(body: ccp_manager_message::Body) -> Result<CcpManagerMessage, Status> {
    Ok(CcpManagerMessage { body: Some(body) })
}

/// The outbound half of a session; `Err` once the client is gone.
struct Outbound {
    sender: mpsc::Sender<Result<CcpManagerMessage, Status>>,
    last_sent: Instant,
}

impl Outbound {
    async fn send(&mut self, body: ccp_manager_message::Body) -> Result<(), ()> {
        self.last_sent = Instant::now();
        self.sender.send(message(body)).await.map_err(|_| ())
    }

    /// Sends `Goodbye{reason}` and ends the RPC with the reason's status.
    async fn goodbye(&mut self, reason: ChannelError) {
        let status = reason.to_status();
        let _ = self
            .sender
            .send(message(ccp_manager_message::Body::Goodbye(goodbye(reason))))
            .await;
        let _ = self.sender.send(Err(status)).await;
    }
}

/// Waits for the hello; `Err` holds the reason to refuse the session with (or `None` when the
/// client went away).
pub(crate) async fn first_message<M>(
    inbound: &mut Streaming<M>,
    timeout: std::time::Duration,
) -> Result<M, Option<ChannelError>> {
    match tokio::time::timeout(timeout, inbound.next()).await {
        Err(_) => Err(Some(ChannelError::new(
            ErrorCode::ProtocolViolation,
            "no hello within the hello deadline",
        ))),
        Ok(None) | Ok(Some(Err(_))) => Err(None),
        Ok(Some(Ok(message))) => Ok(message),
    }
}

/// Checks the identity and version of a hello; returns the negotiated version.
pub(crate) fn check_hello(
    registration: &ClusterRegistration,
    cluster_id: &str,
    max: Option<&nsx_proto::v1::ProtocolVersion>,
    min: Option<&nsx_proto::v1::ProtocolVersion>,
) -> Result<nsx_proto::v1::ProtocolVersion, Box<ChannelError>> {
    if cluster_id != registration.id {
        return Err(Box::new(
            ChannelError::new(
                ErrorCode::PermissionDenied,
                format!(
                    "hello names cluster {cluster_id:?} but the certificate authenticates {:?}",
                    registration.id
                ),
            )
            .with_target("cluster_id"),
        ));
    }
    nsx_proto::version::negotiate_hello(max, min).map_err(|e| Box::new(e.to_channel_error()))
}

/// What the adapter will hold after the pending change is sent.
enum PendingChange {
    Upsert(Arc<CachedObject>),
    Delete(Arc<CachedObject>),
}

struct Session {
    channel: AdapterChannel,
    cluster_id: String,
    cluster_path: String,
    out: Outbound,
    window: u64,
    max_message_bytes: usize,
    last_sent_generation: u64,
    last_acked: u64,
    skip_through_seq: u64,
    pending: BTreeMap<String, PendingChange>,
    pending_committed_at: Option<SystemTime>,
    adapter_has: HashSet<String>,
}

async fn run_session(
    channel: AdapterChannel,
    registration: ClusterRegistration,
    certificate: Vec<u8>,
    mut inbound: Streaming<CcpAdapterMessage>,
    sender: mpsc::Sender<Result<CcpManagerMessage, Status>>,
) {
    let mut out = Outbound {
        sender,
        last_sent: Instant::now(),
    };
    let hello = match first_message(&mut inbound, channel.options().hello_timeout).await {
        Ok(CcpAdapterMessage {
            body: Some(ccp_adapter_message::Body::Hello(hello)),
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
    if let Some(last) = &hello.last_applied {
        tracing::info!(cluster = %registration.id, epoch = %last.epoch, generation = last.generation,
            "control-plane session resumes after an earlier one");
    }
    let (commands_sender, mut commands) = mpsc::unbounded_channel();
    let last_seen = Arc::new(AtomicI64::new(now_ms()));
    let session_id = channel.next_session_id();
    channel.register_session(
        true,
        &registration.id,
        SessionHandle {
            id: session_id,
            certificate,
            commands: commands_sender,
            capabilities: Vec::new(),
            last_seen_ms: last_seen.clone(),
        },
    );
    let window = match hello.max_unacked_generations {
        0 => nsx_proto::limits::DEFAULT_MAX_UNACKED_GENERATIONS,
        n => n,
    }
    .min(MAX_WINDOW);
    let max_message_bytes = match hello.max_message_bytes {
        0 => nsx_proto::limits::DEFAULT_MAX_MESSAGE_BYTES,
        n => (n as usize).min(nsx_proto::limits::DEFAULT_MAX_MESSAGE_BYTES),
    };
    let keepalive = channel.options().keepalive_interval;
    let welcome = CcpWelcome {
        protocol_version: Some(version),
        session_id: uuid::Uuid::new_v4().to_string(),
        epoch: channel.epoch().to_owned(),
        cluster_path: registration.path.clone(),
        keepalive_interval: Some(proto_duration(keepalive)),
        max_unacked_generations: window,
        max_message_bytes: nsx_proto::limits::DEFAULT_MAX_MESSAGE_BYTES as u32,
        capabilities: Vec::new(),
        manager_version: super::manager_version(),
    };
    let mut session = Session {
        channel: channel.clone(),
        cluster_id: registration.id.clone(),
        cluster_path: registration.path.clone(),
        out,
        window: u64::from(window),
        max_message_bytes,
        last_sent_generation: 0,
        last_acked: 0,
        skip_through_seq: 0,
        pending: BTreeMap::new(),
        pending_committed_at: None,
        adapter_has: HashSet::new(),
    };
    let (snapshot, mut subscription) = channel.feed().subscribe(&registration.path);
    let result = async {
        session
            .out
            .send(ccp_manager_message::Body::Welcome(welcome))
            .await?;
        session.send_snapshot(snapshot).await?;
        session
            .serve(
                &mut inbound,
                &mut commands,
                &mut subscription.changes,
                &last_seen,
            )
            .await
    }
    .await;
    if result.is_err() {
        tracing::debug!(cluster = %registration.id, "control-plane client went away");
    }
    channel
        .feed()
        .unsubscribe(&registration.path, subscription.id);
    channel.unregister_session(true, &registration.id, session_id);
    tracing::info!(cluster = %registration.id, "control-plane session ended");
}

/// How a session loop ends: `Ok` after a goodbye either way, `Err` when the client is gone.
type Flow = Result<(), ()>;

impl Session {
    async fn serve(
        &mut self,
        inbound: &mut Streaming<CcpAdapterMessage>,
        commands: &mut mpsc::UnboundedReceiver<SessionCommand>,
        changes: &mut mpsc::UnboundedReceiver<Arc<ChangeSet>>,
        last_seen: &AtomicI64,
    ) -> Flow {
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
                            tracing::debug!(cluster = %self.cluster_id, %status, "control-plane stream error");
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
                    Some(SessionCommand::Refresh(objects)) => {
                        self.out.send(ccp_manager_message::Body::Refresh(RealizationRefresh { objects })).await?;
                    }
                    Some(_) => {}
                    None => return Ok(()),
                },
                change = changes.recv() => match change {
                    Some(change) => self.merge(&change),
                    None => {
                        self.out.goodbye(ChannelError::new(ErrorCode::SessionReplaced,
                            "a newer session for this cluster was accepted")).await;
                        return Ok(());
                    }
                },
                () = tokio::time::sleep_until(ping_at) => {
                    nonce += 1;
                    self.out.send(ccp_manager_message::Body::Ping(Ping { nonce, sent_at: Some(super::timestamp_now()) })).await?;
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
            // Drain what else is queued before deciding what to send.
            while let Ok(change) = changes.try_recv() {
                self.merge(&change);
            }
            self.flush().await?;
        }
    }

    /// Handles one adapter message; `Ok(false)` ends the session.
    async fn on_message(&mut self, message: CcpAdapterMessage) -> Result<bool, ()> {
        match message.body {
            Some(ccp_adapter_message::Body::Ack(ack)) => {
                if ack.generation > self.last_sent_generation {
                    tracing::warn!(cluster = %self.cluster_id, ack = ack.generation,
                        sent = self.last_sent_generation, "ack of a generation never sent ignored");
                } else if ack.generation > self.last_acked {
                    self.last_acked = ack.generation;
                }
            }
            Some(ccp_adapter_message::Body::Realization(report)) => {
                let cluster_id = self.cluster_id.clone();
                let written = self
                    .channel
                    .store()
                    .write(move |tx| {
                        Ok::<_, std::convert::Infallible>(state::apply_report(
                            tx,
                            &cluster_id,
                            &report,
                        ))
                    })
                    .await;
                if let Err(error) = written {
                    tracing::error!(cluster = %self.cluster_id, ?error, "realization report not stored");
                }
            }
            Some(ccp_adapter_message::Body::Resync(resync)) => {
                tracing::info!(cluster = %self.cluster_id, reason = ?resync.reason,
                    last_applied = resync.last_applied_generation, "adapter asked for a resync");
                let snapshot = self.channel.feed().resync(&self.cluster_path);
                self.send_snapshot(snapshot).await?;
            }
            Some(ccp_adapter_message::Body::Ping(ping)) => {
                self.out
                    .send(ccp_manager_message::Body::Pong(Pong { nonce: ping.nonce }))
                    .await?;
            }
            Some(ccp_adapter_message::Body::Pong(_)) => {}
            Some(ccp_adapter_message::Body::Goodbye(bye)) => {
                tracing::info!(cluster = %self.cluster_id, reason = ?bye.reason, "adapter said goodbye");
                return Ok(false);
            }
            Some(ccp_adapter_message::Body::Hello(_)) => {
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

    /// Sends a full snapshot: it replaces whatever is pending and opens the window afresh.
    async fn send_snapshot(&mut self, snapshot: Snapshot) -> Flow {
        let generation = self.channel.next_generation(&self.cluster_id);
        let count =
            |kind: ObjectKind| snapshot.objects.iter().filter(|o| o.kind == kind).count() as u64;
        self.out
            .send(ccp_manager_message::Body::SnapshotBegin(SnapshotBegin {
                epoch: self.channel.epoch().to_owned(),
                generation,
                policy_count: count(ObjectKind::SecurityPolicy),
                group_count: count(ObjectKind::Group),
                service_count: count(ObjectKind::Service),
                taken_at: Some(super::timestamp_now()),
            }))
            .await?;
        let limit = self
            .max_message_bytes
            .saturating_sub(MESSAGE_OVERHEAD)
            .max(1);
        let mut index = 0u32;
        let mut chunk = Vec::new();
        let mut size = 0usize;
        for object in &snapshot.objects {
            let len = object.document_len() + object.path.len() * 2 + 64;
            if !chunk.is_empty()
                && (chunk.len() >= nsx_proto::limits::SNAPSHOT_OBJECTS_PER_CHUNK
                    || size + len > limit)
            {
                self.out
                    .send(ccp_manager_message::Body::SnapshotChunk(SnapshotChunk {
                        generation,
                        index,
                        objects: std::mem::take(&mut chunk),
                    }))
                    .await?;
                index += 1;
                size = 0;
            }
            size += len;
            chunk.push(object.nsx_object(&self.cluster_id));
        }
        if !chunk.is_empty() {
            self.out
                .send(ccp_manager_message::Body::SnapshotChunk(SnapshotChunk {
                    generation,
                    index,
                    objects: chunk,
                }))
                .await?;
            index += 1;
        }
        self.out
            .send(ccp_manager_message::Body::SnapshotEnd(SnapshotEnd {
                generation,
                chunk_count: index,
                object_count: snapshot.objects.len() as u64,
            }))
            .await?;
        self.last_sent_generation = generation;
        self.last_acked = generation - 1;
        self.skip_through_seq = snapshot.seq;
        self.pending.clear();
        self.pending_committed_at = None;
        self.adapter_has = snapshot.objects.iter().map(|o| o.path.clone()).collect();
        Ok(())
    }

    /// Folds a change set into what is pending (the latest state of each path wins).
    fn merge(&mut self, change: &ChangeSet) {
        if change.seq <= self.skip_through_seq {
            return;
        }
        for object in &change.deletes {
            self.pending
                .insert(object.path.clone(), PendingChange::Delete(object.clone()));
        }
        for object in &change.upserts {
            self.pending
                .insert(object.path.clone(), PendingChange::Upsert(object.clone()));
        }
        self.pending_committed_at = Some(
            self.pending_committed_at
                .map_or(change.committed_at, |t| t.max(change.committed_at)),
        );
    }

    /// Sends updates while something is pending and the window allows.
    async fn flush(&mut self) -> Flow {
        while !self.pending.is_empty()
            && self.last_sent_generation + 1 - self.last_acked <= self.window
        {
            let mut upserts = Vec::new();
            let mut deletes = Vec::new();
            for change in std::mem::take(&mut self.pending).into_values() {
                match change {
                    PendingChange::Upsert(object) => upserts.push(object),
                    // Deleting what the adapter never had is not worth a message.
                    PendingChange::Delete(object) if self.adapter_has.contains(&object.path) => {
                        deletes.push(object);
                    }
                    PendingChange::Delete(_) => {}
                }
            }
            let mut ordered: Vec<(bool, Arc<CachedObject>)> = sending_order(upserts, false)
                .into_iter()
                .map(|o| (true, o))
                .chain(sending_order(deletes, true).into_iter().map(|o| (false, o)))
                .collect();
            if ordered.is_empty() {
                self.pending_committed_at = None;
                return Ok(());
            }
            // Split an update that would exceed the size limit: the largest prefix that fits
            // goes now (the order keeps every prefix referentially closed); the rest stays
            // pending for the next generation.
            let limit = self
                .max_message_bytes
                .saturating_sub(MESSAGE_OVERHEAD)
                .max(1);
            let mut size = 0usize;
            let mut take = 0usize;
            for (upsert, object) in &ordered {
                let len =
                    if *upsert { object.document_len() } else { 0 } + object.path.len() * 2 + 64;
                if take > 0 && size + len > limit {
                    break;
                }
                size += len;
                take += 1;
            }
            let rest = ordered.split_off(take);
            for (upsert, object) in rest {
                let change = if upsert {
                    PendingChange::Upsert(object.clone())
                } else {
                    PendingChange::Delete(object.clone())
                };
                self.pending.insert(object.path.clone(), change);
            }
            let generation = self.last_sent_generation + 1;
            self.channel.note_generation(&self.cluster_id, generation);
            let mut update = DesiredStateUpdate {
                generation,
                previous_generation: self.last_sent_generation,
                upserts: Vec::new(),
                deletes: Vec::new(),
                committed_at: self.pending_committed_at.map(prost_types::Timestamp::from),
            };
            for (upsert, object) in ordered {
                if upsert {
                    self.adapter_has.insert(object.path.clone());
                    update.upserts.push(object.nsx_object(&self.cluster_id));
                } else {
                    self.adapter_has.remove(&object.path);
                    update.deletes.push(object.object_ref());
                }
            }
            if self.pending.is_empty() {
                self.pending_committed_at = None;
            }
            self.last_sent_generation = generation;
            self.out
                .send(ccp_manager_message::Body::Update(update))
                .await?;
        }
        Ok(())
    }
}
