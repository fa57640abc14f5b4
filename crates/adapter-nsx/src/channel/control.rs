//! The CCP adapter's control-plane client (docs/protocol.md §6).
//!
//! [`ControlPlaneClient::start`] spawns a task that keeps one `ControlPlaneChannel/Session`
//! open (reconnecting across the configured endpoints), and:
//!
//! - receives the chunked snapshot that starts every session, checks it (chunk order and
//!   count, object count, per-kind counts, one object per path) and swaps it in atomically:
//!   until `SnapshotEnd` the previous desired state stays published;
//! - applies the ordered `DesiredStateUpdate`s, checking `previous_generation`; a gap (or any
//!   sequencing error) sends a `ResyncRequest` and ignores updates until the next snapshot;
//! - acknowledges generations cumulatively: as soon as no further message is waiting, and at
//!   the latest when the window is full;
//! - answers `Ping`s, pings when idle and drops a silent session (keepalive);
//! - forwards `RealizationRefresh` requests to the adapter, and sends its realization
//!   reports ([`ControlPlaneClient::report_realization`]), split under the message size
//!   limit.
//!
//! The adapter reads the desired state from [`ControlPlaneClient::desired_state`], a
//! `watch` of [`SpanSnapshot`] that changes after each applied snapshot or update. Documents
//! that fail the envelope checks (§4.3) are kept, flagged, so the adapter can report them
//! `InvalidDocument`; they are acknowledged like the rest.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use nsx_proto::control_plane_channel_client::ControlPlaneChannelClient;
use nsx_proto::v1::{
    CcpAdapterMessage, CcpHello, CcpWelcome, ChannelError, DesiredStateUpdate, ErrorCode,
    GenerationAck, GenerationMark, Goodbye, NsxObject, ObjectKind, ObjectRef, Pong,
    RealizationError, RealizationRefresh, RealizationReport, ResyncRequest, SnapshotBegin,
    SnapshotChunk, SnapshotEnd, ccp_adapter_message, ccp_manager_message,
};
use nsx_proto::version::VersionRange;
use prost::Message as _;
use serde_json::{Map, Value};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

use super::{
    ChannelConfig, ConnectionStatus, Keepalive, KeepaliveAction, Outbound, SessionEnd,
    StatusPublisher, check_negotiated, dial, drain, publish_connected, std_duration, supervise,
};

/// One NSX object of the desired state.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanObject {
    /// Kind, path, unique_id and revision, from the envelope.
    pub reference: ObjectRef,
    /// The parsed NSX document, or why it failed the envelope checks (§4.3).
    pub document: Result<Arc<Map<String, Value>>, String>,
}

impl SpanObject {
    fn from_wire(object: NsxObject) -> SpanObject {
        let document = object
            .parse_document()
            .map(Arc::new)
            .map_err(|error| error.to_string());
        SpanObject {
            reference: object.object_ref(),
            document,
        }
    }

    /// The object's kind (`Unspecified` for a kind this version does not know).
    pub fn kind(&self) -> ObjectKind {
        ObjectKind::try_from(self.reference.kind).unwrap_or(ObjectKind::Unspecified)
    }

    /// The object's NSX path.
    pub fn path(&self) -> &str {
        &self.reference.path
    }

    /// For a document that failed the envelope checks, the realization error to report.
    pub fn invalid_document_error(&self) -> Option<RealizationError> {
        self.document
            .as_ref()
            .err()
            .map(|message| RealizationError {
                reason: "InvalidDocument".to_owned(),
                message: format!("{}: {message}", self.reference.path),
                ..RealizationError::default()
            })
    }
}

/// The desired state: NSX documents by kind and path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanState {
    /// `SecurityPolicy` documents (with their rules), by path.
    pub policies: BTreeMap<String, Arc<SpanObject>>,
    /// `Group` documents, by path.
    pub groups: BTreeMap<String, Arc<SpanObject>>,
    /// `Service` documents, by path.
    pub services: BTreeMap<String, Arc<SpanObject>>,
    /// Objects of a kind this adapter does not know (to report them, never to enforce).
    pub unknown: BTreeMap<String, Arc<SpanObject>>,
}

impl SpanState {
    fn map_mut(&mut self, kind: ObjectKind) -> &mut BTreeMap<String, Arc<SpanObject>> {
        match kind {
            ObjectKind::SecurityPolicy => &mut self.policies,
            ObjectKind::Group => &mut self.groups,
            ObjectKind::Service => &mut self.services,
            ObjectKind::Unspecified => &mut self.unknown,
        }
    }

    /// The object at `path`, of any kind.
    pub fn get(&self, path: &str) -> Option<&Arc<SpanObject>> {
        self.policies
            .get(path)
            .or_else(|| self.groups.get(path))
            .or_else(|| self.services.get(path))
            .or_else(|| self.unknown.get(path))
    }

    /// Every object, policies first, then groups, services and unknown kinds.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<SpanObject>> {
        self.policies
            .values()
            .chain(self.groups.values())
            .chain(self.services.values())
            .chain(self.unknown.values())
    }

    /// How many objects it holds.
    pub fn len(&self) -> usize {
        self.policies.len() + self.groups.len() + self.services.len() + self.unknown.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn remove(&mut self, path: &str) -> Option<Arc<SpanObject>> {
        self.policies
            .remove(path)
            .or_else(|| self.groups.remove(path))
            .or_else(|| self.services.remove(path))
            .or_else(|| self.unknown.remove(path))
    }

    /// Replaces whatever is at the object's path (an upsert, §6.4).
    fn upsert(&mut self, object: SpanObject) {
        self.remove(&object.reference.path);
        let kind = object.kind();
        self.map_mut(kind)
            .insert(object.reference.path.clone(), Arc::new(object));
    }
}

/// What the last published change was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpanChange {
    /// Nothing received yet since the client started.
    Nothing,
    /// A full snapshot replaced the state.
    Snapshot,
    /// An update: the paths it upserted and deleted.
    Update {
        /// Paths created or replaced.
        upserted: Vec<String>,
        /// Paths removed (only those that were present).
        deleted: Vec<String>,
    },
}

/// The desired state at a generation, as published to the adapter.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanSnapshot {
    /// NSX's epoch of `generation`.
    pub epoch: String,
    /// The generation applied.
    pub generation: u64,
    /// The objects.
    pub state: SpanState,
    /// What changed last.
    pub change: SpanChange,
    /// How many snapshots and updates were applied since the client started.
    pub applied: u64,
}

impl SpanSnapshot {
    fn initial() -> SpanSnapshot {
        SpanSnapshot {
            epoch: String::new(),
            generation: 0,
            state: SpanState::default(),
            change: SpanChange::Nothing,
            applied: 0,
        }
    }

    /// Whether a snapshot was ever applied (before that the state is empty, not "nothing
    /// is desired").
    pub fn is_synced(&self) -> bool {
        self.applied > 0
    }
}

/// Options of the control-plane client.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlPlaneOptions {
    /// The ack window offered (0 = the protocol default of 8).
    pub max_unacked_generations: u32,
    /// The largest message the adapter accepts (and offers in its hello).
    pub max_message_bytes: u32,
}

impl Default for ControlPlaneOptions {
    fn default() -> Self {
        ControlPlaneOptions {
            max_unacked_generations: nsx_proto::limits::DEFAULT_MAX_UNACKED_GENERATIONS,
            max_message_bytes: nsx_proto::limits::DEFAULT_MAX_MESSAGE_BYTES as u32,
        }
    }
}

/// Why a report or request could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No session is up; reports are state, so send a complete one after the next snapshot.
    #[error("no control-plane session is up")]
    NotConnected,
    /// The client was shut down.
    #[error("the control-plane client is stopped")]
    Stopped,
}

/// The session currently up, for senders outside the session loop.
#[derive(Debug)]
struct CurrentSession {
    outbound: Arc<Outbound<CcpAdapterMessage>>,
    /// The largest message NSX accepts.
    max_message_bytes: usize,
}

struct Shared {
    config: ChannelConfig,
    options: ControlPlaneOptions,
    status: StatusPublisher,
    state: watch::Sender<Arc<SpanSnapshot>>,
    current: Mutex<Option<CurrentSession>>,
    refresh: mpsc::Sender<RealizationRefresh>,
    resync_requests: tokio::sync::Mutex<mpsc::UnboundedReceiver<String>>,
}

/// The CCP adapter's control-plane client. Dropping it stops the connection.
pub struct ControlPlaneClient {
    shared: Arc<Shared>,
    state: watch::Receiver<Arc<SpanSnapshot>>,
    status: watch::Receiver<ConnectionStatus>,
    refresh: Mutex<Option<mpsc::Receiver<RealizationRefresh>>>,
    resync: mpsc::UnboundedSender<String>,
    cancel: CancellationToken,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl ControlPlaneClient {
    /// Starts the client with default options (spawns its task on the current runtime).
    pub fn start(config: ChannelConfig) -> ControlPlaneClient {
        ControlPlaneClient::start_with(config, ControlPlaneOptions::default())
    }

    /// Starts the client.
    pub fn start_with(config: ChannelConfig, options: ControlPlaneOptions) -> ControlPlaneClient {
        let (status, status_receiver) = StatusPublisher::new();
        let (state, state_receiver) = watch::channel(Arc::new(SpanSnapshot::initial()));
        let (refresh_sender, refresh_receiver) = mpsc::channel(64);
        let (resync_sender, resync_receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            config,
            options,
            status,
            state,
            current: Mutex::new(None),
            refresh: refresh_sender,
            resync_requests: tokio::sync::Mutex::new(resync_receiver),
        });
        let cancel = CancellationToken::new();
        let task = tokio::spawn({
            let shared = shared.clone();
            let cancel = cancel.clone();
            async move {
                supervise(&shared.config, &shared.status, &cancel, |endpoint| {
                    run_session(shared.clone(), endpoint, cancel.clone())
                })
                .await;
            }
        });
        ControlPlaneClient {
            shared,
            state: state_receiver,
            status: status_receiver,
            refresh: Mutex::new(Some(refresh_receiver)),
            resync: resync_sender,
            cancel,
            task: Mutex::new(Some(task)),
        }
    }

    /// The desired state, changing after each applied snapshot or update.
    pub fn desired_state(&self) -> watch::Receiver<Arc<SpanSnapshot>> {
        self.state.clone()
    }

    /// The connection status.
    pub fn connection(&self) -> watch::Receiver<ConnectionStatus> {
        self.status.clone()
    }

    /// NSX's `RealizationRefresh` requests (§6.7): answer each with a report of the listed
    /// objects (all of them, `complete = true`, when the list is empty). Can be taken once.
    pub fn take_refresh_requests(&self) -> Option<mpsc::Receiver<RealizationRefresh>> {
        self.refresh
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Sends a realization report on the current session. `generation` 0 is filled in with
    /// the generation currently applied. A report over NSX's message size limit is split
    /// (the first part keeps `complete`).
    pub async fn report_realization(&self, mut report: RealizationReport) -> Result<(), SendError> {
        if self.cancel.is_cancelled() {
            return Err(SendError::Stopped);
        }
        if report.generation == 0 {
            report.generation = self.state.borrow().generation;
        }
        let (outbound, limit) = {
            let current = self
                .shared
                .current
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let current = current.as_ref().ok_or(SendError::NotConnected)?;
            (current.outbound.clone(), current.max_message_bytes)
        };
        for part in split_report(report, limit) {
            let message = CcpAdapterMessage {
                body: Some(ccp_adapter_message::Body::Realization(part)),
            };
            if !outbound.send(message).await {
                return Err(SendError::NotConnected);
            }
        }
        Ok(())
    }

    /// Asks NSX for a full snapshot (e.g. after the adapter's reconciler restarted).
    pub fn request_resync(&self, reason: impl Into<String>) -> Result<(), SendError> {
        self.resync
            .send(reason.into())
            .map_err(|_| SendError::Stopped)
    }

    /// Ends the session with `Goodbye{SHUTTING_DOWN}` and stops reconnecting.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl Drop for ControlPlaneClient {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Splits a report whose encoding exceeds `limit` into parts that fit (an object larger than
/// the limit on its own travels alone). The first part keeps `complete`.
fn split_report(report: RealizationReport, limit: usize) -> Vec<RealizationReport> {
    if report.encoded_len() <= limit {
        return vec![report];
    }
    let budget = limit.saturating_sub(1024).max(1);
    let mut parts = Vec::new();
    let empty = RealizationReport {
        generation: report.generation,
        complete: false,
        ..RealizationReport::default()
    };
    let mut part = RealizationReport {
        complete: report.complete,
        ..empty.clone()
    };
    let mut size = 0usize;
    let mut flush = |part: &mut RealizationReport, size: &mut usize| {
        parts.push(std::mem::replace(part, empty.clone()));
        *size = 0;
    };
    for object in report.objects {
        let len = object.encoded_len() + 8;
        if size + len > budget && size > 0 {
            flush(&mut part, &mut size);
        }
        size += len;
        part.objects.push(object);
    }
    for gone in report.gone {
        let len = gone.encoded_len() + 8;
        if size + len > budget && size > 0 {
            flush(&mut part, &mut size);
        }
        size += len;
        part.gone.push(gone);
    }
    if size > 0 {
        flush(&mut part, &mut size);
    }
    parts
}

/// A snapshot being received.
struct SnapshotBuilder {
    begin: SnapshotBegin,
    next_index: u32,
    objects: Vec<NsxObject>,
}

/// What the session loop should do after a message.
enum Step {
    Continue,
    End(SessionEnd),
}

/// The receiving state of one session.
struct Receiver {
    shared: Arc<Shared>,
    outbound: Arc<Outbound<CcpAdapterMessage>>,
    epoch: String,
    snapshot: Option<SnapshotBuilder>,
    /// The generation applied on this session.
    applied: Option<u64>,
    /// Waiting for a snapshot after a ResyncRequest: updates are ignored.
    resyncing: bool,
    last_acked: u64,
    pending_ack: Option<u64>,
    window: u64,
}

impl Receiver {
    async fn send(&self, body: ccp_adapter_message::Body) -> bool {
        self.outbound
            .send(CcpAdapterMessage { body: Some(body) })
            .await
    }

    async fn resync(&mut self, message: String) {
        self.resync_for(ErrorCode::ProtocolViolation, message).await;
    }

    async fn resync_for(&mut self, code: ErrorCode, message: String) {
        tracing::warn!(%message, "asking NSX for a full snapshot");
        self.snapshot = None;
        self.resyncing = true;
        self.pending_ack = None;
        let reason = ChannelError::new(code, message);
        self.send(ccp_adapter_message::Body::Resync(ResyncRequest {
            reason: Some(reason),
            last_applied_generation: self.applied.unwrap_or_default(),
        }))
        .await;
    }

    async fn flush_ack(&mut self) {
        if let Some(generation) = self.pending_ack.take()
            && self
                .send(ccp_adapter_message::Body::Ack(GenerationAck { generation }))
                .await
        {
            self.last_acked = generation;
        }
    }

    async fn applied_generation(&mut self, generation: u64) {
        self.applied = Some(generation);
        self.pending_ack = Some(generation);
        if generation.saturating_sub(self.last_acked) >= self.window {
            self.flush_ack().await;
        }
    }

    fn publish(&self, epoch: String, generation: u64, state: SpanState, change: SpanChange) {
        self.shared.state.send_modify(|current| {
            let applied = current.applied + 1;
            *current = Arc::new(SpanSnapshot {
                epoch,
                generation,
                state,
                change,
                applied,
            });
        });
    }

    async fn on_snapshot_begin(&mut self, begin: SnapshotBegin) {
        if self.snapshot.is_some() {
            tracing::warn!("a new snapshot began before the previous one ended");
        }
        if begin.epoch != self.epoch {
            tracing::warn!(welcome = %self.epoch, snapshot = %begin.epoch,
                "snapshot epoch differs from the session's");
        }
        self.resyncing = false;
        self.snapshot = Some(SnapshotBuilder {
            begin,
            next_index: 0,
            objects: Vec::new(),
        });
    }

    async fn on_snapshot_chunk(&mut self, chunk: SnapshotChunk) {
        let problem = match &mut self.snapshot {
            None if self.resyncing => return,
            None => Some("a snapshot chunk arrived outside a snapshot".to_owned()),
            Some(builder) if chunk.generation != builder.begin.generation => Some(format!(
                "snapshot chunk of generation {} inside the snapshot of generation {}",
                chunk.generation, builder.begin.generation
            )),
            Some(builder) if chunk.index != builder.next_index => Some(format!(
                "snapshot chunk {} arrived where chunk {} was expected",
                chunk.index, builder.next_index
            )),
            Some(builder) => {
                builder.next_index += 1;
                builder.objects.extend(chunk.objects);
                None
            }
        };
        if let Some(problem) = problem {
            self.resync(problem).await;
        }
    }

    async fn on_snapshot_end(&mut self, end: SnapshotEnd) {
        let Some(builder) = self.snapshot.take() else {
            if !self.resyncing {
                self.resync("a snapshot ended that never began".to_owned())
                    .await;
            }
            return;
        };
        match check_snapshot(&builder, &end) {
            Err(problem) => self.resync(problem).await,
            Ok(state) => {
                let generation = builder.begin.generation;
                tracing::info!(generation, objects = state.len(), "applied a snapshot");
                self.publish(builder.begin.epoch, generation, state, SpanChange::Snapshot);
                self.applied_generation(generation).await;
            }
        }
    }

    async fn on_update(&mut self, update: DesiredStateUpdate) {
        if self.resyncing {
            return;
        }
        if self.snapshot.is_some() {
            self.resync("an update arrived inside a snapshot".to_owned())
                .await;
            return;
        }
        let Some(applied) = self.applied else {
            self.resync("an update arrived before any snapshot".to_owned())
                .await;
            return;
        };
        if update.previous_generation != applied || update.generation != applied + 1 {
            self.resync(format!(
                "generation gap: update {} follows {}, but {applied} was applied",
                update.generation, update.previous_generation
            ))
            .await;
            return;
        }
        let mut seen = HashSet::new();
        let duplicate = update
            .upserts
            .iter()
            .map(|object| object.path.as_str())
            .chain(
                update
                    .deletes
                    .iter()
                    .map(|reference| reference.path.as_str()),
            )
            .find(|path| !seen.insert(*path))
            .map(str::to_owned);
        if let Some(path) = duplicate {
            self.resync(format!(
                "update {} names {path} more than once",
                update.generation
            ))
            .await;
            return;
        }
        let current = self.shared.state.borrow().clone();
        let mut state = current.state.clone();
        let mut deleted = Vec::new();
        for reference in &update.deletes {
            if state.remove(&reference.path).is_some() {
                deleted.push(reference.path.clone());
            }
        }
        let mut upserted = Vec::new();
        for object in update.upserts {
            upserted.push(object.path.clone());
            state.upsert(SpanObject::from_wire(object));
        }
        tracing::debug!(
            generation = update.generation,
            upserts = upserted.len(),
            deletes = deleted.len(),
            "applied an update"
        );
        self.publish(
            current.epoch.clone(),
            update.generation,
            state,
            SpanChange::Update { upserted, deleted },
        );
        self.applied_generation(update.generation).await;
    }

    /// Handles one message from NSX.
    async fn on_message(&mut self, body: ccp_manager_message::Body) -> Step {
        use ccp_manager_message::Body;
        match body {
            Body::SnapshotBegin(begin) => self.on_snapshot_begin(begin).await,
            Body::SnapshotChunk(chunk) => self.on_snapshot_chunk(chunk).await,
            Body::SnapshotEnd(end) => self.on_snapshot_end(end).await,
            Body::Update(update) => self.on_update(update).await,
            Body::Refresh(refresh) => {
                if self.shared.refresh.try_send(refresh).is_err() {
                    tracing::warn!("realization refresh dropped: the adapter is not reading them");
                }
            }
            Body::Ping(ping) => {
                self.send(ccp_adapter_message::Body::Pong(Pong { nonce: ping.nonce }))
                    .await;
            }
            Body::Pong(_) => {}
            Body::Goodbye(goodbye) => {
                let reason = goodbye.reason.unwrap_or_default();
                tracing::info!(reason = %reason, "NSX ended the control-plane session");
                return Step::End(SessionEnd {
                    established: true,
                    error: Some(format!("NSX said goodbye: {reason}")),
                    reconnect_after: std_duration(goodbye.reconnect_after.as_ref()),
                    goodbye: Some(reason),
                    ..SessionEnd::default()
                });
            }
            Body::Welcome(_) => tracing::warn!("ignoring a second welcome"),
        }
        Step::Continue
    }
}

/// Checks a finished snapshot (§6.3) and builds the new state.
fn check_snapshot(builder: &SnapshotBuilder, end: &SnapshotEnd) -> Result<SpanState, String> {
    let begin = &builder.begin;
    if end.generation != begin.generation {
        return Err(format!(
            "snapshot of generation {} ended as generation {}",
            begin.generation, end.generation
        ));
    }
    if end.chunk_count != builder.next_index {
        return Err(format!(
            "snapshot ended after {} chunks but says {}",
            builder.next_index, end.chunk_count
        ));
    }
    if end.object_count != builder.objects.len() as u64 {
        return Err(format!(
            "snapshot carried {} objects but says {}",
            builder.objects.len(),
            end.object_count
        ));
    }
    let count = |kind: ObjectKind| {
        builder
            .objects
            .iter()
            .filter(|object| object.kind == kind as i32)
            .count() as u64
    };
    let counts = (
        count(ObjectKind::SecurityPolicy),
        count(ObjectKind::Group),
        count(ObjectKind::Service),
    );
    if counts != (begin.policy_count, begin.group_count, begin.service_count) {
        return Err(format!(
            "snapshot kinds (policies, groups, services) {counts:?} differ from the announced \
             {:?}",
            (begin.policy_count, begin.group_count, begin.service_count)
        ));
    }
    let mut state = SpanState::default();
    for object in &builder.objects {
        if state.get(&object.path).is_some() {
            return Err(format!("snapshot holds {} twice", object.path));
        }
        state.upsert(SpanObject::from_wire(object.clone()));
    }
    Ok(state)
}

fn hello(shared: &Shared) -> CcpHello {
    let current = shared.state.borrow().clone();
    let last_applied = current.is_synced().then(|| GenerationMark {
        epoch: current.epoch.clone(),
        generation: current.generation,
    });
    CcpHello {
        protocol_version: Some(VersionRange::SUPPORTED.max_version()),
        min_protocol_version: Some(VersionRange::SUPPORTED.min_version()),
        cluster_id: shared.config.cluster_id.clone(),
        adapter_version: shared.config.adapter_version.clone(),
        last_applied,
        max_unacked_generations: shared.options.max_unacked_generations,
        max_message_bytes: shared.options.max_message_bytes,
        capabilities: Vec::new(),
        adapter_instance: shared.config.adapter_instance.clone(),
    }
}

fn ended(error: impl Into<String>) -> SessionEnd {
    SessionEnd {
        error: Some(error.into()),
        ..SessionEnd::default()
    }
}

/// Opens a session and waits for the welcome.
async fn open(
    shared: &Shared,
    endpoint: &str,
) -> Result<
    (
        Arc<Outbound<CcpAdapterMessage>>,
        tonic::Streaming<nsx_proto::v1::CcpManagerMessage>,
        CcpWelcome,
    ),
    SessionEnd,
> {
    let channel = dial(endpoint, &shared.config.tls).await.map_err(ended)?;
    let (sender, receiver) = mpsc::channel(64);
    let outbound = Outbound::new(sender);
    outbound
        .send(CcpAdapterMessage {
            body: Some(ccp_adapter_message::Body::Hello(hello(shared))),
        })
        .await;
    let limit = shared.options.max_message_bytes as usize;
    let mut client = ControlPlaneChannelClient::new(channel)
        .max_decoding_message_size(limit)
        .max_encoding_message_size(nsx_proto::limits::DEFAULT_MAX_MESSAGE_BYTES);
    let opening = async {
        let mut inbound = client
            .session(ReceiverStream::new(receiver))
            .await
            .map_err(|status| status_end(&status))?
            .into_inner();
        let first = inbound
            .message()
            .await
            .map_err(|status| status_end(&status))?;
        Ok::<_, SessionEnd>((inbound, first))
    };
    let (inbound, first) = tokio::time::timeout(shared.config.welcome_timeout, opening)
        .await
        .map_err(|_| ended("no welcome in time"))??;
    match first.and_then(|message| message.body) {
        Some(ccp_manager_message::Body::Welcome(welcome)) => Ok((outbound, inbound, welcome)),
        Some(ccp_manager_message::Body::Goodbye(goodbye)) => {
            let reason = goodbye.reason.unwrap_or_default();
            Err(SessionEnd {
                error: Some(format!("NSX refused the session: {reason}")),
                reconnect_after: std_duration(goodbye.reconnect_after.as_ref()),
                goodbye: Some(reason),
                ..SessionEnd::default()
            })
        }
        Some(other) => Err(ended(format!("NSX sent {other:?} instead of a welcome"))),
        None => Err(ended("NSX ended the session before welcoming it")),
    }
}

/// A session's end from the gRPC status that ended it.
fn status_end(status: &tonic::Status) -> SessionEnd {
    let error = ChannelError::from_status(status);
    let goodbye = (error.code() != ErrorCode::Unspecified && !status.details().is_empty())
        .then(|| error.clone());
    SessionEnd {
        error: Some(format!("RPC ended: {error}")),
        goodbye,
        ..SessionEnd::default()
    }
}

async fn run_session(
    shared: Arc<Shared>,
    endpoint: String,
    cancel: CancellationToken,
) -> SessionEnd {
    let opened = tokio::select! {
        opened = open(&shared, &endpoint) => opened,
        () = cancel.cancelled() => return SessionEnd { stop: true, ..SessionEnd::default() },
    };
    let (outbound, mut inbound, welcome) = match opened {
        Ok(opened) => opened,
        Err(end) => return end,
    };
    let version = match check_negotiated(welcome.protocol_version.as_ref()) {
        Ok(version) => version,
        Err(error) => {
            let _ = outbound
                .send(CcpAdapterMessage {
                    body: Some(ccp_adapter_message::Body::Goodbye(Goodbye {
                        reason: Some(error.clone()),
                        reconnect_after: None,
                    })),
                })
                .await;
            drop(outbound);
            drain(&mut inbound).await;
            return ended(error.to_string());
        }
    };
    let started = tokio::time::Instant::now();
    tracing::info!(%endpoint, session = %welcome.session_id, epoch = %welcome.epoch,
        "control-plane session up");
    publish_connected(&shared.status, &welcome.session_id, version);
    let peer_limit = match welcome.max_message_bytes {
        0 => nsx_proto::limits::DEFAULT_MAX_MESSAGE_BYTES,
        limit => limit as usize,
    };
    *shared.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(CurrentSession {
        outbound: outbound.clone(),
        max_message_bytes: peer_limit,
    });
    let window = match welcome.max_unacked_generations {
        0 => nsx_proto::limits::DEFAULT_MAX_UNACKED_GENERATIONS,
        window => window,
    };
    let mut receiver = Receiver {
        shared: shared.clone(),
        outbound: outbound.clone(),
        epoch: welcome.epoch.clone(),
        snapshot: None,
        applied: None,
        resyncing: false,
        last_acked: 0,
        pending_ack: None,
        window: u64::from(window),
    };
    let mut keepalive = Keepalive::new(std_duration(welcome.keepalive_interval.as_ref()));
    // One session at a time: this session owns the adapter's resync requests.
    let mut resync_requests = shared.resync_requests.lock().await;
    let mut said_goodbye = false;
    let mut end = loop {
        let deadline = keepalive.deadline(outbound.last_sent());
        tokio::select! {
            biased;
            () = cancel.cancelled() => {
                receiver.flush_ack().await;
                outbound.send(CcpAdapterMessage {
                    body: Some(ccp_adapter_message::Body::Goodbye(Goodbye {
                        reason: Some(ChannelError::new(ErrorCode::ShuttingDown, "the adapter is stopping")),
                        reconnect_after: None,
                    })),
                }).await;
                said_goodbye = true;
                break SessionEnd { stop: true, established: true, ..SessionEnd::default() };
            }
            message = inbound.message() => {
                keepalive.received();
                match message {
                    Ok(Some(message)) => {
                        let Some(body) = message.body else {
                            tracing::debug!("ignoring a message of a kind this version does not know");
                            continue;
                        };
                        if let Step::End(end) = receiver.on_message(body).await {
                            break end;
                        }
                    }
                    Ok(None) => break SessionEnd { established: true, error: Some("NSX closed the session".into()), ..SessionEnd::default() },
                    Err(status) => break SessionEnd { established: true, ..status_end(&status) },
                }
            }
            Some(reason) = resync_requests.recv() => {
                receiver.resync_for(ErrorCode::FailedPrecondition,
                    format!("the adapter asked for a resync: {reason}")).await;
            }
            () = std::future::ready(()), if receiver.pending_ack.is_some() => {
                receiver.flush_ack().await;
            }
            () = tokio::time::sleep_until(deadline) => {
                match keepalive.due(outbound.last_sent()) {
                    Some(KeepaliveAction::Ping(nonce)) => {
                        outbound.send(CcpAdapterMessage {
                            body: Some(ccp_adapter_message::Body::Ping(nsx_proto::v1::Ping {
                                nonce, sent_at: Some(super::now_timestamp()),
                            })),
                        }).await;
                    }
                    Some(KeepaliveAction::Dead) => {
                        outbound.send(CcpAdapterMessage {
                            body: Some(ccp_adapter_message::Body::Goodbye(Goodbye {
                                reason: Some(ChannelError::new(ErrorCode::Unavailable, "NSX sent nothing for three keepalive intervals")),
                                reconnect_after: None,
                            })),
                        }).await;
                        said_goodbye = true;
                        break ended("keepalive timeout");
                    }
                    None => {}
                }
            }
        }
    };
    *shared.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
    drop(receiver);
    drop(resync_requests);
    if said_goodbye {
        drop(outbound);
        drain(&mut inbound).await;
    }
    end.established = true;
    end.up_for = started.elapsed();
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use nsx_proto::v1::{ObjectRealization, RealizationState};
    use serde_json::json;

    fn object(kind: ObjectKind, path: &str, revision: i64) -> NsxObject {
        let resource_type = kind.resource_type().unwrap();
        NsxObject::from_json(
            kind,
            &json!({"resource_type": resource_type, "path": path,
                    "unique_id": format!("uid-{path}"), "_revision": revision}),
        )
        .unwrap()
    }

    #[test]
    fn upserts_replace_whatever_is_at_the_path() {
        let mut state = SpanState::default();
        state.upsert(SpanObject::from_wire(object(ObjectKind::Group, "/a", 0)));
        state.upsert(SpanObject::from_wire(object(ObjectKind::Service, "/a", 1)));
        assert_eq!(state.len(), 1);
        assert!(state.groups.is_empty());
        assert_eq!(state.get("/a").unwrap().reference.revision, 1);
        assert!(state.remove("/a").is_some());
        assert!(state.is_empty());
    }

    #[test]
    fn bad_documents_are_kept_flagged() {
        let mut bad = object(ObjectKind::Group, "/g", 3);
        bad.revision = 4;
        let span = SpanObject::from_wire(bad);
        let error = span.invalid_document_error().unwrap();
        assert_eq!(error.reason, "InvalidDocument");
        assert!(error.message.contains("/g"), "{}", error.message);
        let unknown = NsxObject {
            kind: 42,
            path: "/x".into(),
            ..NsxObject::default()
        };
        let span = SpanObject::from_wire(unknown);
        assert_eq!(span.kind(), ObjectKind::Unspecified);
        assert!(span.document.is_err());
    }

    fn builder(objects: Vec<NsxObject>, counts: (u64, u64, u64)) -> SnapshotBuilder {
        SnapshotBuilder {
            begin: SnapshotBegin {
                epoch: "e".into(),
                generation: 5,
                policy_count: counts.0,
                group_count: counts.1,
                service_count: counts.2,
                taken_at: None,
            },
            next_index: 1,
            objects,
        }
    }

    #[test]
    fn snapshot_checks_catch_every_inconsistency() {
        let objects = vec![
            object(ObjectKind::Group, "/g", 0),
            object(ObjectKind::Service, "/s", 0),
        ];
        let end = SnapshotEnd {
            generation: 5,
            chunk_count: 1,
            object_count: 2,
        };
        let state = check_snapshot(&builder(objects.clone(), (0, 1, 1)), &end).unwrap();
        assert_eq!(state.len(), 2);
        assert!(check_snapshot(&builder(objects.clone(), (1, 1, 0)), &end).is_err());
        assert!(
            check_snapshot(
                &builder(objects.clone(), (0, 1, 1)),
                &SnapshotEnd {
                    chunk_count: 2,
                    ..end
                }
            )
            .is_err()
        );
        assert!(
            check_snapshot(
                &builder(objects.clone(), (0, 1, 1)),
                &SnapshotEnd {
                    object_count: 3,
                    ..end
                }
            )
            .is_err()
        );
        assert!(
            check_snapshot(
                &builder(objects, (0, 1, 1)),
                &SnapshotEnd {
                    generation: 6,
                    ..end
                }
            )
            .is_err()
        );
        let twice = vec![
            object(ObjectKind::Group, "/g", 0),
            object(ObjectKind::Group, "/g", 1),
        ];
        assert!(
            check_snapshot(
                &builder(twice, (0, 2, 0)),
                &SnapshotEnd {
                    object_count: 2,
                    ..end
                }
            )
            .is_err()
        );
    }

    #[test]
    fn large_reports_are_split_under_the_limit() {
        let objects: Vec<ObjectRealization> = (0..1000)
            .map(|i| ObjectRealization {
                object: Some(ObjectRef {
                    kind: ObjectKind::Group as i32,
                    path: format!("/infra/domains/default/groups/g{i}"),
                    unique_id: format!("{i:036}"),
                    revision: 1,
                }),
                state: RealizationState::Success as i32,
                ..ObjectRealization::default()
            })
            .collect();
        let report = RealizationReport {
            generation: 9,
            objects,
            gone: vec![ObjectRef::default(); 3],
            complete: true,
        };
        let total = report.encoded_len();
        let parts = split_report(report.clone(), 16 * 1024);
        assert!(parts.len() > 1);
        assert!(parts.iter().all(|p| p.encoded_len() <= 16 * 1024));
        assert!(parts[0].complete && parts[1..].iter().all(|p| !p.complete));
        assert!(parts.iter().all(|p| p.generation == 9));
        assert_eq!(parts.iter().map(|p| p.objects.len()).sum::<usize>(), 1000);
        assert_eq!(parts.iter().map(|p| p.gone.len()).sum::<usize>(), 3);
        assert_eq!(split_report(report, total).len(), 1);
    }
}
