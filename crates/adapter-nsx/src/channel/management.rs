//! The MP adapter's management-plane client (docs/protocol.md §7).
//!
//! [`ManagementPlaneClient::start`] spawns a task that keeps one
//! `ManagementPlaneChannel/Session` open (reconnecting like the control plane), and:
//!
//! - sends a `Heartbeat` right after the welcome, then every `report_interval` (from the
//!   welcome, then from NSX's `HeartbeatConfig` pushes; 60–600 s, default 60 s), and at once
//!   when the adapter calls [`ManagementPlaneClient::health_changed`]. The content comes from
//!   the adapter's [`HealthSource`]. Acks are published ([`HeartbeatStatus`]) for the
//!   adapter's `MP_CONNECTED` condition;
//! - dispatches NSX's requests (statistics, Traceflow start/get/delete, support bundles,
//!   logs) to the adapter's [`RequestHandler`], each in its own task, with the request's
//!   deadline and a cancellation token ([`RequestContext`]). NSX's `CancelRequest` and the
//!   deadline end the request with `CANCELLED` / `DEADLINE_EXCEEDED`. Answers go out as
//!   numbered parts through a [`ResponseSink`] (data in chunks of at most
//!   `max_chunk_bytes`), the last part being the result, a `StreamEnd`, or a `ChannelError`;
//! - checks what it can before calling the handler: capability negotiated (`UNSUPPORTED`),
//!   concurrency limit (`RESOURCE_EXHAUSTED`), support-bundle node count, chunk sizes and
//!   Traceflow timeout bounds (`INVALID_ARGUMENT`);
//! - keeps requests across reconnects (§7.6): a request still running, or finished within
//!   the last 10 minutes, is recognised by its `request_id` when NSX re-sends it, and its
//!   answer is replayed from `sequence 0` on the new session (then continued live). Running
//!   requests are listed in the hello's `pending_request_ids`. An answer too large to keep
//!   (over [`ManagementPlaneOptions::replay_limit_bytes`]) is redone instead.

// `ChannelError` is the protocol's error value, sent as it is: results carry it unboxed.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use nsx_proto::capabilities;
use nsx_proto::limits;
use nsx_proto::management_plane_channel_client::ManagementPlaneChannelClient;
use nsx_proto::v1::{
    ChannelError, ClusterHealth, ErrorCode, Goodbye, Heartbeat, LogChunk, LogCollectionRequest,
    MpAdapterMessage, MpHello, MpManagerMessage, MpRequest, MpResponse, MpWelcome,
    PolicyStatisticsRequest, PolicyStatisticsResult, Pong, StreamEnd, SupportBundleChunk,
    SupportBundleRequest, TraceflowDeleteRequest, TraceflowDeleted, TraceflowGetRequest,
    TraceflowResult, TraceflowStartRequest, mp_adapter_message, mp_manager_message, mp_request,
    mp_response,
};
use nsx_proto::version::VersionRange;
use prost::Message as _;
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

use super::{
    ChannelConfig, ConnectionStatus, Keepalive, KeepaliveAction, Outbound, SessionEnd,
    StatusPublisher, check_negotiated, dial, drain, now_timestamp, publish_connected, std_duration,
    supervise,
};

/// Supplies the health each heartbeat carries (the MP adapter implements it).
pub trait HealthSource: Send + Sync + 'static {
    /// The cluster's health now.
    fn cluster_health(&self) -> impl Future<Output = ClusterHealth> + Send;
}

/// What a request handler knows about its request.
#[derive(Clone, Debug)]
pub struct RequestContext {
    /// NSX's correlation id.
    pub request_id: String,
    /// When NSX stops waiting (the request's timeout from its receipt).
    pub deadline: Instant,
    /// Fires when NSX cancels the request or the deadline passes: stop working.
    pub cancel: CancellationToken,
}

fn unsupported(kind: &str) -> ChannelError {
    ChannelError::new(
        ErrorCode::Unsupported,
        format!("this adapter does not serve {kind} requests"),
    )
}

/// Serves NSX's requests (the MP adapter implements it). Every method has a default that
/// answers `UNSUPPORTED`; [`RequestHandler::capabilities`] says which ones are served.
pub trait RequestHandler: Send + Sync + 'static {
    /// The capabilities offered in the hello (`nsx_proto::capabilities::*`).
    fn capabilities(&self) -> Vec<String>;

    /// `PolicyStatisticsRequest`: one result.
    fn policy_statistics(
        &self,
        request: PolicyStatisticsRequest,
        context: RequestContext,
    ) -> impl Future<Output = Result<PolicyStatisticsResult, ChannelError>> + Send {
        let _ = (request, context);
        async { Err(unsupported("statistics")) }
    }

    /// `TraceflowStartRequest`: optionally an incomplete result through `progress` once the
    /// Antrea Traceflow exists, then the final result.
    fn traceflow_start(
        &self,
        request: TraceflowStartRequest,
        context: RequestContext,
        progress: ResponseSink,
    ) -> impl Future<Output = Result<TraceflowResult, ChannelError>> + Send {
        let _ = (request, context, progress);
        async { Err(unsupported("Traceflow")) }
    }

    /// `TraceflowGetRequest`: the current result of a run.
    fn traceflow_get(
        &self,
        request: TraceflowGetRequest,
        context: RequestContext,
    ) -> impl Future<Output = Result<TraceflowResult, ChannelError>> + Send {
        let _ = (request, context);
        async { Err(unsupported("Traceflow")) }
    }

    /// `TraceflowDeleteRequest`.
    fn traceflow_delete(
        &self,
        request: TraceflowDeleteRequest,
        context: RequestContext,
    ) -> impl Future<Output = Result<TraceflowDeleted, ChannelError>> + Send {
        let _ = (request, context);
        async { Err(unsupported("Traceflow")) }
    }

    /// `SupportBundleRequest`: for each target, chunks then a node result, through `sink`.
    /// The client ends the answer with `StreamEnd`.
    fn support_bundle(
        &self,
        request: SupportBundleRequest,
        context: RequestContext,
        sink: ResponseSink,
    ) -> impl Future<Output = Result<(), ChannelError>> + Send {
        let _ = (request, context, sink);
        async { Err(unsupported("support bundle")) }
    }

    /// `LogCollectionRequest`: chunks and one source result per source, through `sink`. The
    /// client ends the answer with `StreamEnd`.
    fn logs(
        &self,
        request: LogCollectionRequest,
        context: RequestContext,
        sink: ResponseSink,
    ) -> impl Future<Output = Result<(), ChannelError>> + Send {
        let _ = (request, context, sink);
        async { Err(unsupported("log collection")) }
    }
}

/// Options of the management-plane client.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagementPlaneOptions {
    /// Requests NSX may have outstanding (offered; the welcome may lower it).
    pub max_concurrent_requests: u32,
    /// The largest message the adapter accepts.
    pub max_message_bytes: u32,
    /// Answers larger than this are not kept for replay after a reconnect (redone instead).
    pub replay_limit_bytes: usize,
}

impl Default for ManagementPlaneOptions {
    fn default() -> Self {
        ManagementPlaneOptions {
            max_concurrent_requests: limits::DEFAULT_MAX_CONCURRENT_REQUESTS,
            max_message_bytes: limits::DEFAULT_MAX_MESSAGE_BYTES as u32,
            replay_limit_bytes: 32 * 1024 * 1024,
        }
    }
}

/// Heartbeats of the current session, for the `MP_CONNECTED` condition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeartbeatStatus {
    /// The interval in force, in seconds.
    pub report_interval: u32,
    /// The last heartbeat sent (sequence, within the session).
    pub last_sent: u64,
    /// The last heartbeat NSX acknowledged.
    pub last_acked: u64,
    /// When NSX last acknowledged one.
    pub last_ack_at: Option<SystemTime>,
}

/// Why a response part could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// The request was cancelled or its deadline passed.
    #[error("the request was cancelled")]
    Cancelled,
    /// The answer already ended.
    #[error("the answer already ended")]
    Finished,
}

/// One request's answer as sent so far, and where it goes.
#[derive(Debug)]
struct RequestRun {
    parts: Vec<MpResponse>,
    logged_bytes: usize,
    /// Every part is in `parts` (the log stayed under the replay limit).
    replayable: bool,
    next_sequence: u32,
    finished_at: Option<Instant>,
    attached: Option<Arc<Outbound<MpAdapterMessage>>>,
    total_data_bytes: u64,
}

/// Sends the parts of one request's answer, numbered in order, on whatever session the
/// request is attached to (a reconnect re-attaches it and replays what was sent).
#[derive(Clone, Debug)]
pub struct ResponseSink {
    request_id: String,
    run: Arc<tokio::sync::Mutex<RequestRun>>,
    cancel: CancellationToken,
    chunk_bytes: usize,
    replay_limit: usize,
}

impl ResponseSink {
    /// The chunk size the request asked for (256 KiB default, at most 1 MiB).
    pub fn chunk_bytes(&self) -> usize {
        self.chunk_bytes
    }

    async fn push(&self, body: mp_response::Body, last: bool) -> Result<(), SinkError> {
        let mut run = self.run.lock().await;
        if run.finished_at.is_some() {
            return Err(SinkError::Finished);
        }
        let part = MpResponse {
            request_id: self.request_id.clone(),
            sequence: run.next_sequence,
            last,
            body: Some(body),
        };
        run.next_sequence += 1;
        if last {
            run.finished_at = Some(Instant::now());
        }
        if run.replayable {
            run.logged_bytes += part.encoded_len();
            if run.logged_bytes > self.replay_limit {
                run.replayable = false;
                run.parts = Vec::new();
            } else {
                run.parts.push(part.clone());
            }
        }
        if let Some(outbound) = run.attached.clone() {
            let message = MpAdapterMessage {
                body: Some(mp_adapter_message::Body::Response(part)),
            };
            if !outbound.send(message).await {
                run.attached = None;
            }
        }
        Ok(())
    }

    /// Sends one intermediate part (not the last).
    pub async fn send(&self, body: mp_response::Body) -> Result<(), SinkError> {
        if self.cancel.is_cancelled() {
            return Err(SinkError::Cancelled);
        }
        if let mp_response::Body::SupportBundleChunk(SupportBundleChunk { data, .. })
        | mp_response::Body::LogChunk(LogChunk { data, .. }) = &body
        {
            self.run.lock().await.total_data_bytes += data.len() as u64;
        }
        self.push(body, false).await
    }

    /// Sends a support-bundle file as chunks of at most [`ResponseSink::chunk_bytes`];
    /// follow it with a `SupportBundleNodeResult`.
    pub async fn send_bundle_file(
        &self,
        node_id: &str,
        component: &str,
        bundle_name: &str,
        data: &[u8],
    ) -> Result<(), SinkError> {
        for (index, chunk) in data.chunks(self.chunk_bytes).enumerate() {
            self.send(mp_response::Body::SupportBundleChunk(SupportBundleChunk {
                node_id: node_id.to_owned(),
                component: component.to_owned(),
                bundle_name: bundle_name.to_owned(),
                offset: (index * self.chunk_bytes) as u64,
                data: chunk.to_vec(),
            }))
            .await?;
        }
        Ok(())
    }

    /// Sends a log source as chunks of at most [`ResponseSink::chunk_bytes`]; follow it with
    /// a `LogSourceResult`.
    pub async fn send_log_file(
        &self,
        node_id: &str,
        component: &str,
        file_name: &str,
        data: &[u8],
    ) -> Result<(), SinkError> {
        for (index, chunk) in data.chunks(self.chunk_bytes).enumerate() {
            self.send(mp_response::Body::LogChunk(LogChunk {
                node_id: node_id.to_owned(),
                component: component.to_owned(),
                file_name: file_name.to_owned(),
                offset: (index * self.chunk_bytes) as u64,
                data: chunk.to_vec(),
            }))
            .await?;
        }
        Ok(())
    }

    /// Ends the answer with `body` as the last part.
    async fn finish(&self, body: mp_response::Body) {
        let _ = self.push(body, true).await;
    }
}

/// A request's answer and its cancellation.
type RunEntry = (Arc<tokio::sync::Mutex<RequestRun>>, CancellationToken);

struct Shared<H, S> {
    config: ChannelConfig,
    options: ManagementPlaneOptions,
    status: StatusPublisher,
    heartbeats: watch::Sender<HeartbeatStatus>,
    health_changed: Notify,
    handler: Arc<H>,
    health: Arc<S>,
    runs: Mutex<HashMap<String, RunEntry>>,
}

/// The MP adapter's management-plane client. Dropping it stops the connection.
pub struct ManagementPlaneClient {
    health_changed: Arc<dyn Fn() + Send + Sync>,
    status: watch::Receiver<ConnectionStatus>,
    heartbeats: watch::Receiver<HeartbeatStatus>,
    cancel: CancellationToken,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl ManagementPlaneClient {
    /// Starts the client with default options.
    pub fn start<H: RequestHandler, S: HealthSource>(
        config: ChannelConfig,
        health: Arc<S>,
        handler: Arc<H>,
    ) -> ManagementPlaneClient {
        ManagementPlaneClient::start_with(
            config,
            ManagementPlaneOptions::default(),
            health,
            handler,
        )
    }

    /// Starts the client.
    pub fn start_with<H: RequestHandler, S: HealthSource>(
        config: ChannelConfig,
        options: ManagementPlaneOptions,
        health: Arc<S>,
        handler: Arc<H>,
    ) -> ManagementPlaneClient {
        let (status, status_receiver) = StatusPublisher::new();
        let (heartbeats, heartbeats_receiver) = watch::channel(HeartbeatStatus::default());
        let shared = Arc::new(Shared {
            config,
            options,
            status,
            heartbeats,
            health_changed: Notify::new(),
            handler,
            health,
            runs: Mutex::new(HashMap::new()),
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
                let runs = shared.runs.lock().unwrap_or_else(|e| e.into_inner());
                for (_, cancel) in runs.values() {
                    cancel.cancel();
                }
            }
        });
        let notifier = shared.clone();
        ManagementPlaneClient {
            health_changed: Arc::new(move || notifier.health_changed.notify_one()),
            status: status_receiver,
            heartbeats: heartbeats_receiver,
            cancel,
            task: Mutex::new(Some(task)),
        }
    }

    /// The connection status.
    pub fn connection(&self) -> watch::Receiver<ConnectionStatus> {
        self.status.clone()
    }

    /// Heartbeats sent and acknowledged on the current session.
    pub fn heartbeats(&self) -> watch::Receiver<HeartbeatStatus> {
        self.heartbeats.clone()
    }

    /// A component status changed: send a heartbeat now rather than at the next interval.
    pub fn health_changed(&self) {
        (self.health_changed)();
    }

    /// Ends the session with `Goodbye{SHUTTING_DOWN}`, cancels running requests and stops.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl Drop for ManagementPlaneClient {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn ended(error: impl Into<String>) -> SessionEnd {
    SessionEnd {
        error: Some(error.into()),
        ..SessionEnd::default()
    }
}

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

fn hello<H: RequestHandler, S>(shared: &Shared<H, S>) -> MpHello {
    let pending_request_ids = {
        let runs = shared.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.iter()
            .filter(|(_, (run, _))| run.try_lock().map_or(true, |run| run.finished_at.is_none()))
            .map(|(id, _)| id.clone())
            .collect()
    };
    MpHello {
        protocol_version: Some(VersionRange::SUPPORTED.max_version()),
        min_protocol_version: Some(VersionRange::SUPPORTED.min_version()),
        cluster_id: shared.config.cluster_id.clone(),
        adapter_version: shared.config.adapter_version.clone(),
        max_concurrent_requests: shared.options.max_concurrent_requests,
        max_message_bytes: shared.options.max_message_bytes,
        capabilities: shared.handler.capabilities(),
        adapter_instance: shared.config.adapter_instance.clone(),
        pending_request_ids,
    }
}

type Opened = (
    Arc<Outbound<MpAdapterMessage>>,
    tonic::Streaming<MpManagerMessage>,
    MpWelcome,
);

async fn open<H: RequestHandler, S>(
    shared: &Shared<H, S>,
    endpoint: &str,
) -> Result<Opened, SessionEnd> {
    let channel = dial(endpoint, &shared.config.tls).await.map_err(ended)?;
    let (sender, receiver) = mpsc::channel(64);
    let outbound = Outbound::new(sender);
    outbound
        .send(MpAdapterMessage {
            body: Some(mp_adapter_message::Body::Hello(hello(shared))),
        })
        .await;
    let mut client = ManagementPlaneChannelClient::new(channel)
        .max_decoding_message_size(shared.options.max_message_bytes as usize)
        .max_encoding_message_size(limits::DEFAULT_MAX_MESSAGE_BYTES);
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
        Some(mp_manager_message::Body::Welcome(welcome)) => Ok((outbound, inbound, welcome)),
        Some(mp_manager_message::Body::Goodbye(goodbye)) => {
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

fn valid_interval(seconds: u32) -> bool {
    (limits::MIN_HEARTBEAT_INTERVAL_SECONDS..=limits::MAX_HEARTBEAT_INTERVAL_SECONDS)
        .contains(&seconds)
}

/// The capability a request kind needs.
fn capability_of(body: &mp_request::Body) -> &'static str {
    match body {
        mp_request::Body::PolicyStatistics(_) => capabilities::MP_STATISTICS,
        mp_request::Body::TraceflowStart(_)
        | mp_request::Body::TraceflowGet(_)
        | mp_request::Body::TraceflowDelete(_) => capabilities::MP_TRACEFLOW,
        mp_request::Body::SupportBundle(_) => capabilities::MP_SUPPORT_BUNDLE,
        mp_request::Body::Logs(_) => capabilities::MP_LOGS,
    }
}

/// The chunk size a request asks for, checked (0: the default; above 1 MiB: refused).
fn chunk_size(requested: u32) -> Result<usize, ChannelError> {
    match requested {
        0 => Ok(limits::DEFAULT_CHUNK_BYTES as usize),
        bytes if bytes <= limits::MAX_CHUNK_BYTES => Ok(bytes as usize),
        bytes => Err(ChannelError::new(
            ErrorCode::InvalidArgument,
            format!(
                "max_chunk_bytes {bytes} is above the limit of {}",
                limits::MAX_CHUNK_BYTES
            ),
        )
        .with_target("max_chunk_bytes")),
    }
}

/// The checks made before the handler sees a request; the chunk size to use.
fn check_request(body: &mp_request::Body) -> Result<usize, ChannelError> {
    match body {
        mp_request::Body::SupportBundle(request) => {
            if request.nodes.len() > limits::MAX_SUPPORT_BUNDLE_NODES {
                return Err(ChannelError::new(
                    ErrorCode::InvalidArgument,
                    format!(
                        "{} nodes requested; at most {} per support bundle",
                        request.nodes.len(),
                        limits::MAX_SUPPORT_BUNDLE_NODES
                    ),
                )
                .with_target("nodes"));
            }
            chunk_size(request.max_chunk_bytes)
        }
        mp_request::Body::Logs(request) => chunk_size(request.max_chunk_bytes),
        mp_request::Body::TraceflowStart(request) => {
            if let Some(timeout) = &request.trace_timeout {
                let valid = std_duration(Some(timeout)).is_some_and(|timeout| {
                    (limits::MIN_TRACE_TIMEOUT..=limits::MAX_TRACE_TIMEOUT).contains(&timeout)
                });
                if !valid {
                    return Err(ChannelError::new(
                        ErrorCode::InvalidArgument,
                        "trace_timeout must be between 1 and 300 seconds",
                    )
                    .with_target("trace_timeout"));
                }
            }
            Ok(limits::DEFAULT_CHUNK_BYTES as usize)
        }
        _ => Ok(limits::DEFAULT_CHUNK_BYTES as usize),
    }
}

/// Runs the handler for one request and ends its answer.
async fn serve<H: RequestHandler>(
    handler: Arc<H>,
    body: mp_request::Body,
    context: RequestContext,
    sink: ResponseSink,
) {
    let work = async {
        match body {
            mp_request::Body::PolicyStatistics(request) => handler
                .policy_statistics(request, context.clone())
                .await
                .map(mp_response::Body::PolicyStatistics),
            mp_request::Body::TraceflowStart(request) => handler
                .traceflow_start(request, context.clone(), sink.clone())
                .await
                .map(mp_response::Body::Traceflow),
            mp_request::Body::TraceflowGet(request) => handler
                .traceflow_get(request, context.clone())
                .await
                .map(mp_response::Body::Traceflow),
            mp_request::Body::TraceflowDelete(request) => handler
                .traceflow_delete(request, context.clone())
                .await
                .map(mp_response::Body::TraceflowDeleted),
            mp_request::Body::SupportBundle(request) => {
                handler
                    .support_bundle(request, context.clone(), sink.clone())
                    .await?;
                Ok(stream_end(&sink).await)
            }
            mp_request::Body::Logs(request) => {
                handler.logs(request, context.clone(), sink.clone()).await?;
                Ok(stream_end(&sink).await)
            }
        }
    };
    let outcome = tokio::select! {
        outcome = work => outcome,
        () = tokio::time::sleep_until(context.deadline) => Err(ChannelError::new(
            ErrorCode::DeadlineExceeded, "the request's timeout passed")),
        () = context.cancel.cancelled() => Err(ChannelError::new(
            ErrorCode::Cancelled, "NSX cancelled the request")),
    };
    let body = match outcome {
        Ok(body) => body,
        Err(error) => {
            tracing::info!(request = %context.request_id, error = %error, "request failed");
            mp_response::Body::Error(error)
        }
    };
    context.cancel.cancel();
    sink.finish(body).await;
}

async fn stream_end(sink: &ResponseSink) -> mp_response::Body {
    let run = sink.run.lock().await;
    mp_response::Body::End(StreamEnd {
        total_bytes: run.total_data_bytes,
        parts: run.next_sequence + 1,
    })
}

/// Receives one request: attaches a known one to this session, or starts it.
async fn on_request<H: RequestHandler, S: HealthSource>(
    shared: &Arc<Shared<H, S>>,
    outbound: &Arc<Outbound<MpAdapterMessage>>,
    negotiated: &[String],
    concurrency: usize,
    request: MpRequest,
) {
    let request_id = request.request_id.clone();
    let reply_error = |error: ChannelError| {
        let outbound = outbound.clone();
        let request_id = request_id.clone();
        async move {
            outbound
                .send(MpAdapterMessage {
                    body: Some(mp_adapter_message::Body::Response(MpResponse {
                        request_id,
                        sequence: 0,
                        last: true,
                        body: Some(mp_response::Body::Error(error)),
                    })),
                })
                .await;
        }
    };
    if request_id.is_empty() {
        tracing::warn!("ignoring a request without request_id");
        return;
    }
    purge_finished(shared);
    // A request NSX re-sends after a reconnect: replay what was sent, continue live.
    let known = shared
        .runs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&request_id)
        .cloned();
    if let Some((run, cancel)) = known {
        let mut run = run.lock().await;
        if run.replayable {
            tracing::info!(request = %request_id, parts = run.parts.len(), "replaying a re-sent request");
            for part in run.parts.clone() {
                outbound
                    .send(MpAdapterMessage {
                        body: Some(mp_adapter_message::Body::Response(part)),
                    })
                    .await;
            }
            run.attached = Some(outbound.clone());
            return;
        }
        cancel.cancel();
        drop(run);
        shared
            .runs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&request_id);
    }
    let Some(body) = request.body else {
        reply_error(ChannelError::new(
            ErrorCode::Unsupported,
            "unknown request kind",
        ))
        .await;
        return;
    };
    let capability = capability_of(&body);
    if !negotiated.iter().any(|offered| offered == capability) {
        reply_error(ChannelError::new(
            ErrorCode::Unsupported,
            format!("capability {capability} was not negotiated on this session"),
        ))
        .await;
        return;
    }
    let chunk_bytes = match check_request(&body) {
        Ok(bytes) => bytes,
        Err(error) => {
            reply_error(error).await;
            return;
        }
    };
    let running = running_requests(shared);
    if running >= concurrency {
        reply_error(
            ChannelError::new(
                ErrorCode::ResourceExhausted,
                format!("{running} requests are already running"),
            )
            .retryable(None),
        )
        .await;
        return;
    }
    let timeout = std_duration(request.timeout.as_ref())
        .filter(|timeout| !timeout.is_zero())
        .unwrap_or(limits::DEFAULT_REQUEST_TIMEOUT);
    let cancel = CancellationToken::new();
    let run = Arc::new(tokio::sync::Mutex::new(RequestRun {
        parts: Vec::new(),
        logged_bytes: 0,
        replayable: true,
        next_sequence: 0,
        finished_at: None,
        attached: Some(outbound.clone()),
        total_data_bytes: 0,
    }));
    shared
        .runs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(request_id.clone(), (run.clone(), cancel.clone()));
    let context = RequestContext {
        request_id: request_id.clone(),
        deadline: Instant::now() + timeout,
        cancel: cancel.clone(),
    };
    let sink = ResponseSink {
        request_id,
        run,
        cancel,
        chunk_bytes,
        replay_limit: shared.options.replay_limit_bytes,
    };
    tokio::spawn(serve(shared.handler.clone(), body, context, sink));
}

fn running_requests<H, S>(shared: &Shared<H, S>) -> usize {
    let runs = shared.runs.lock().unwrap_or_else(|e| e.into_inner());
    runs.values()
        .filter(|(_, cancel)| !cancel.is_cancelled())
        .count()
}

/// Forgets finished requests older than the replay window.
fn purge_finished<H, S>(shared: &Shared<H, S>) {
    let mut runs = shared.runs.lock().unwrap_or_else(|e| e.into_inner());
    runs.retain(|_, (run, _)| {
        run.try_lock().map_or(true, |run| {
            run.finished_at
                .is_none_or(|at| at.elapsed() < limits::REQUEST_REPLAY_WINDOW)
        })
    });
}

/// Detaches every request from a session that ended.
async fn detach_all<H, S>(shared: &Shared<H, S>) {
    let runs: Vec<_> = shared
        .runs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .map(|(run, _)| run.clone())
        .collect();
    for run in runs {
        run.lock().await.attached = None;
    }
}

async fn send_heartbeat<H, S: HealthSource>(
    shared: &Shared<H, S>,
    outbound: &Outbound<MpAdapterMessage>,
    sequence: u64,
) {
    let health = shared.health.cluster_health().await;
    let sent = outbound
        .send(MpAdapterMessage {
            body: Some(mp_adapter_message::Body::Heartbeat(Heartbeat {
                sequence,
                sent_at: Some(now_timestamp()),
                health: Some(health),
            })),
        })
        .await;
    if sent {
        shared
            .heartbeats
            .send_modify(|status| status.last_sent = sequence);
    }
}

async fn run_session<H: RequestHandler, S: HealthSource>(
    shared: Arc<Shared<H, S>>,
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
            outbound
                .send(MpAdapterMessage {
                    body: Some(mp_adapter_message::Body::Goodbye(Goodbye {
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
    let started = Instant::now();
    tracing::info!(%endpoint, session = %welcome.session_id, "management-plane session up");
    publish_connected(&shared.status, &welcome.session_id, version);
    let concurrency = match welcome.max_concurrent_requests {
        0 => shared.options.max_concurrent_requests,
        limit => limit.min(shared.options.max_concurrent_requests),
    } as usize;
    let mut interval_seconds = welcome
        .heartbeat_config
        .as_ref()
        .map(|config| config.report_interval)
        .filter(|&seconds| valid_interval(seconds))
        .unwrap_or(limits::DEFAULT_HEARTBEAT_INTERVAL_SECONDS);
    shared.heartbeats.send_modify(|status| {
        *status = HeartbeatStatus {
            report_interval: interval_seconds,
            ..HeartbeatStatus::default()
        };
    });
    let mut keepalive = Keepalive::new(std_duration(welcome.keepalive_interval.as_ref()));
    let mut sequence = 1u64;
    send_heartbeat(&shared, &outbound, sequence).await;
    let mut last_heartbeat = Instant::now();
    let mut said_goodbye = false;
    let mut end = loop {
        let next_heartbeat = last_heartbeat + Duration::from_secs(interval_seconds.into());
        let keepalive_deadline = keepalive.deadline(outbound.last_sent());
        tokio::select! {
            biased;
            () = cancel.cancelled() => {
                outbound.send(MpAdapterMessage {
                    body: Some(mp_adapter_message::Body::Goodbye(Goodbye {
                        reason: Some(ChannelError::new(ErrorCode::ShuttingDown, "the adapter is stopping")),
                        reconnect_after: None,
                    })),
                }).await;
                said_goodbye = true;
                break SessionEnd { stop: true, ..SessionEnd::default() };
            }
            message = inbound.message() => {
                keepalive.received();
                let body = match message {
                    Ok(Some(message)) => message.body,
                    Ok(None) => break ended("NSX closed the session"),
                    Err(status) => break status_end(&status),
                };
                match body {
                    None => tracing::debug!("ignoring a message of a kind this version does not know"),
                    Some(mp_manager_message::Body::Request(request)) => {
                        on_request(&shared, &outbound, &welcome.capabilities, concurrency, request).await;
                    }
                    Some(mp_manager_message::Body::Cancel(cancel_request)) => {
                        let known = shared.runs.lock().unwrap_or_else(|e| e.into_inner())
                            .get(&cancel_request.request_id).map(|(_, cancel)| cancel.clone());
                        match known {
                            Some(cancel) => {
                                tracing::info!(request = %cancel_request.request_id, reason = %cancel_request.reason, "NSX cancelled a request");
                                cancel.cancel();
                            }
                            None => tracing::debug!(request = %cancel_request.request_id, "cancel for an unknown request"),
                        }
                    }
                    Some(mp_manager_message::Body::HeartbeatAck(ack)) => {
                        shared.heartbeats.send_modify(|status| {
                            status.last_acked = status.last_acked.max(ack.sequence);
                            status.last_ack_at = Some(SystemTime::now());
                        });
                    }
                    Some(mp_manager_message::Body::HeartbeatConfig(config)) => {
                        if valid_interval(config.report_interval) {
                            tracing::info!(seconds = config.report_interval, "NSX changed the heartbeat interval");
                            interval_seconds = config.report_interval;
                            shared.heartbeats.send_modify(|status| status.report_interval = interval_seconds);
                        } else {
                            tracing::warn!(seconds = config.report_interval,
                                "protocol violation: heartbeat interval outside 60-600 s; keeping the current one");
                        }
                    }
                    Some(mp_manager_message::Body::Ping(ping)) => {
                        outbound.send(MpAdapterMessage {
                            body: Some(mp_adapter_message::Body::Pong(Pong { nonce: ping.nonce })),
                        }).await;
                    }
                    Some(mp_manager_message::Body::Pong(_)) => {}
                    Some(mp_manager_message::Body::Goodbye(goodbye)) => {
                        let reason = goodbye.reason.unwrap_or_default();
                        tracing::info!(reason = %reason, "NSX ended the management-plane session");
                        break SessionEnd {
                            error: Some(format!("NSX said goodbye: {reason}")),
                            reconnect_after: std_duration(goodbye.reconnect_after.as_ref()),
                            goodbye: Some(reason),
                            ..SessionEnd::default()
                        };
                    }
                    Some(mp_manager_message::Body::Welcome(_)) => tracing::warn!("ignoring a second welcome"),
                }
            }
            () = shared.health_changed.notified() => {
                sequence += 1;
                send_heartbeat(&shared, &outbound, sequence).await;
                last_heartbeat = Instant::now();
            }
            () = tokio::time::sleep_until(next_heartbeat) => {
                sequence += 1;
                send_heartbeat(&shared, &outbound, sequence).await;
                last_heartbeat = Instant::now();
            }
            () = tokio::time::sleep_until(keepalive_deadline) => {
                match keepalive.due(outbound.last_sent()) {
                    Some(KeepaliveAction::Ping(nonce)) => {
                        outbound.send(MpAdapterMessage {
                            body: Some(mp_adapter_message::Body::Ping(nsx_proto::v1::Ping {
                                nonce, sent_at: Some(now_timestamp()),
                            })),
                        }).await;
                    }
                    Some(KeepaliveAction::Dead) => {
                        outbound.send(MpAdapterMessage {
                            body: Some(mp_adapter_message::Body::Goodbye(Goodbye {
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
    detach_all(&shared).await;
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

    #[test]
    fn requests_are_checked_before_the_handler() {
        let bundle = |nodes: usize, chunk: u32| {
            mp_request::Body::SupportBundle(SupportBundleRequest {
                nodes: vec!["n".into(); nodes],
                max_chunk_bytes: chunk,
                ..SupportBundleRequest::default()
            })
        };
        assert_eq!(check_request(&bundle(200, 0)).unwrap(), 256 * 1024);
        assert_eq!(check_request(&bundle(1, 1024)).unwrap(), 1024);
        let error = check_request(&bundle(201, 0)).unwrap_err();
        assert_eq!(
            (error.code(), error.target.as_str()),
            (ErrorCode::InvalidArgument, "nodes")
        );
        let error = check_request(&bundle(1, 2 * 1024 * 1024)).unwrap_err();
        assert_eq!(error.target, "max_chunk_bytes");
        let trace = |seconds: i64| {
            mp_request::Body::TraceflowStart(TraceflowStartRequest {
                trace_timeout: Some(prost_types::Duration { seconds, nanos: 0 }),
                ..TraceflowStartRequest::default()
            })
        };
        assert!(check_request(&trace(20)).is_ok());
        assert!(check_request(&trace(0)).is_err());
        assert!(check_request(&trace(301)).is_err());
        assert!(check_request(&trace(-5)).is_err());
    }

    #[test]
    fn every_request_kind_needs_its_capability() {
        assert_eq!(
            capability_of(&mp_request::Body::Logs(LogCollectionRequest::default())),
            capabilities::MP_LOGS
        );
        assert_eq!(
            capability_of(&mp_request::Body::TraceflowDelete(
                TraceflowDeleteRequest::default()
            )),
            capabilities::MP_TRACEFLOW
        );
        assert!(valid_interval(60) && valid_interval(600));
        assert!(!valid_interval(59) && !valid_interval(601));
    }

    fn sink(limit: usize, chunk_bytes: usize) -> (ResponseSink, mpsc::Receiver<MpAdapterMessage>) {
        let (sender, receiver) = mpsc::channel(1024);
        let run = RequestRun {
            parts: Vec::new(),
            logged_bytes: 0,
            replayable: true,
            next_sequence: 0,
            finished_at: None,
            attached: Some(Outbound::new(sender)),
            total_data_bytes: 0,
        };
        let sink = ResponseSink {
            request_id: "r".into(),
            run: Arc::new(tokio::sync::Mutex::new(run)),
            cancel: CancellationToken::new(),
            chunk_bytes,
            replay_limit: limit,
        };
        (sink, receiver)
    }

    #[tokio::test]
    async fn the_sink_numbers_chunks_and_ends_once() {
        let (sink, mut receiver) = sink(1 << 20, 4);
        sink.send_bundle_file("node", "antrea-agent", "b.tgz", b"0123456789")
            .await
            .unwrap();
        let end = stream_end(&sink).await;
        sink.finish(end).await;
        assert_eq!(
            sink.send(mp_response::Body::End(StreamEnd::default()))
                .await,
            Err(SinkError::Finished)
        );
        let mut parts = Vec::new();
        while let Ok(message) = receiver.try_recv() {
            let Some(mp_adapter_message::Body::Response(part)) = message.body else {
                panic!("not a response");
            };
            parts.push(part);
        }
        assert_eq!(parts.len(), 4);
        assert_eq!(
            parts.iter().map(|p| p.sequence).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        assert!(parts[..3].iter().all(|p| !p.last) && parts[3].last);
        let offsets: Vec<u64> = parts[..3]
            .iter()
            .map(|p| match &p.body {
                Some(mp_response::Body::SupportBundleChunk(chunk)) => chunk.offset,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(offsets, vec![0, 4, 8]);
        assert_eq!(
            parts[3].body,
            Some(mp_response::Body::End(StreamEnd {
                total_bytes: 10,
                parts: 4
            }))
        );
        assert!(sink.run.lock().await.replayable);
    }

    #[tokio::test]
    async fn answers_over_the_replay_limit_are_not_kept() {
        let (sink, _receiver) = sink(100, 64);
        sink.send_log_file("node", "antrea-agent", "a.log", &[b'x'; 300])
            .await
            .unwrap();
        let run = sink.run.lock().await;
        assert!(!run.replayable);
        assert!(run.parts.is_empty());
        assert_eq!(run.next_sequence, 5);
    }
}
