//! On-demand support bundles: `system.antrea.io/v1beta1` `supportbundles` of antrea-controller
//! (aggregated API, object name `controller`) and of every antrea-agent (object name
//! `agent`), as `pkg/apiserver/registry/system/supportbundle/rest.go` serves them.
//!
//! `POST supportbundles` with `{"metadata":{"name":"controller"},"since":"1h"}` starts a
//! collection (any other name: 403; a new POST cancels the one in progress) and answers the
//! `Collecting` object; after [`SupportBundleOptions::collect_duration`] the object is
//! `Collected` with the archive's `sum` (SHA-256, hex) and `size`, `creationTimestamp`, and
//! a `deletionTimestamp` [`SupportBundleOptions::expiry`] later (Antrea: one hour), when the
//! bundle goes back to `None` and its file is removed. `GET supportbundles/controller/download`
//! streams the archive (`application/tar+gz`); without a file it fails as Antrea's does
//! (`open : no such file or directory`, 500). `DELETE` cancels or drops the bundle.
//!
//! The archive is a real tar.gz holding the emulated components' state, under Antrea's file
//! names where the content has an Antrea equivalent: the controller's log
//! (`logs/controller/antrea-controller.<pod>.root.log.INFO.<time>.1`, klog lines filtered by
//! `since`), `networkpolicies` (YAML: every policy with its span), `addressgroups` (YAML:
//! every ClusterGroup and Group with its members), `controllerinfo` (the
//! AntreaControllerInfo), plus emulator files `tiers` and `nodes`, and `memprofile` /
//! `goroutinestacks` notes. An agent's holds `logs/agent/...`, `logs/ovs/ovs-vswitchd.log`,
//! `agentinfo`, `networkpolicies` (the policies its Node realizes), `ovsports` (the
//! interfaces of its Pods) and the two notes.
//!
//! Agents serve the API on their own port (NodeIP:10350, not aggregated). The emulation
//! serves each agent's API through [`AntreaEmu::agent_api`] (a router answering the agent's
//! paths exactly) and through the emulator path
//! `/apis/system.antrea.io/v1beta1/agents/{node}/supportbundles[/agent[/download]]`.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write as _;
use std::sync::{Arc, Weak};
use std::time::Duration;

use antrea_policy::{PodName, PolicyKind, PolicyRef};
use antrea_types::system::{AGENT_BUNDLE_NAME, CONTROLLER_BUNDLE_NAME, SYSTEM_API_VERSION};
use antrea_types::{
    AntreaAgentInfo, AntreaControllerInfo, ClusterGroup, ClusterNetworkPolicy, Group,
    NetworkPolicy, Tier,
};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::Response;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy as K8sNetworkPolicy;
use kube::api::{Api, ListParams};
use kube::{Resource, ResourceExt};
use kube_emu::ApiExtension;
use kube_emu::extension::extension_resource;
use parking_lot::Mutex;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::aggregated::{self, ApiRequest};
use crate::workload::Topology;
use crate::{ANTREA_VERSION, AntreaEmu, AntreaEmuError, Shared};

/// API group of the on-demand bundles.
pub const SYSTEM_GROUP: &str = "system.antrea.io";
/// Version of the system group.
pub const SYSTEM_VERSION: &str = "v1beta1";
/// Resource name of bundles.
const PLURAL: &str = "supportbundles";
/// Log lines kept per component.
const LOG_CAPACITY: usize = 10_000;

/// Tunables of the support bundles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportBundleOptions {
    /// How long a collected bundle stays downloadable (`bundleExpireDuration`, 1 h).
    pub expiry: Duration,
    /// How long a collection takes.
    pub collect_duration: Duration,
}

impl Default for SupportBundleOptions {
    fn default() -> Self {
        SupportBundleOptions {
            expiry: Duration::from_secs(3600),
            collect_duration: Duration::from_secs(1),
        }
    }
}

/// Whose API a bundle request reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Controller,
    Agent(String),
}

impl Mode {
    fn name(&self) -> &'static str {
        match self {
            Mode::Controller => CONTROLLER_BUNDLE_NAME,
            Mode::Agent(_) => AGENT_BUNDLE_NAME,
        }
    }
}

/// The bundle object (`cache` of Antrea's `supportBundleREST`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum BundleStatus {
    None,
    Collecting { since: String },
    Collected(Collected),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Collected {
    since: String,
    sum: String,
    size: u32,
    created: jiff::Timestamp,
    expires: jiff::Timestamp,
    file: Arc<Vec<u8>>,
}

#[derive(Debug)]
struct Slot {
    status: BundleStatus,
    /// Bumped by every create and delete: collections and expiries of older generations
    /// are cancelled.
    generation: u64,
}

impl Slot {
    fn new() -> Self {
        Slot {
            status: BundleStatus::None,
            generation: 0,
        }
    }
}

/// A klog line of an emulated component.
#[derive(Debug, Clone)]
struct LogLine {
    at: jiff::Timestamp,
    source: &'static str,
    message: String,
}

/// Bundles and logs of the controller and the agents.
#[derive(Debug)]
pub(crate) struct BundleState {
    controller: Mutex<Slot>,
    agents: BTreeMap<String, Mutex<Slot>>,
    controller_log: Mutex<VecDeque<LogLine>>,
    agent_logs: BTreeMap<String, Mutex<VecDeque<LogLine>>>,
}

impl BundleState {
    pub fn new(topology: &Topology) -> Self {
        BundleState {
            controller: Mutex::new(Slot::new()),
            agents: topology
                .nodes
                .iter()
                .map(|node| (node.name.clone(), Mutex::new(Slot::new())))
                .collect(),
            controller_log: Mutex::new(VecDeque::new()),
            agent_logs: topology
                .nodes
                .iter()
                .map(|node| (node.name.clone(), Mutex::new(VecDeque::new())))
                .collect(),
        }
    }

    fn slot(&self, mode: &Mode) -> Option<&Mutex<Slot>> {
        match mode {
            Mode::Controller => Some(&self.controller),
            Mode::Agent(node) => self.agents.get(node),
        }
    }
}

fn push_line(log: &Mutex<VecDeque<LogLine>>, line: LogLine) {
    let mut log = log.lock();
    if log.len() == LOG_CAPACITY {
        log.pop_front();
    }
    log.push_back(line);
}

/// Appends an info line to antrea-controller's log.
pub(crate) fn log_controller(shared: &Shared, source: &'static str, message: impl Into<String>) {
    push_line(
        &shared.bundles.controller_log,
        LogLine {
            at: shared.clock.now(),
            source,
            message: message.into(),
        },
    );
}

/// Appends an info line to the log of the agent of `node`.
pub(crate) fn log_agent(
    shared: &Shared,
    node: &str,
    source: &'static str,
    message: impl Into<String>,
) {
    if let Some(log) = shared.bundles.agent_logs.get(node) {
        push_line(
            log,
            LogLine {
                at: shared.clock.now(),
                source,
                message: message.into(),
            },
        );
    }
}

/// A klog header line: `I1126 13:00:00.123456       1 file.go:12] message`.
fn klog(line: &LogLine) -> String {
    format!(
        "I{} {:>7} {}] {}",
        line.at.strftime("%m%d %H:%M:%S%.6f"),
        1,
        line.source,
        line.message
    )
}

/// Registers the `system.antrea.io` API and writes the components' first log lines.
pub(crate) fn install(shared: &Arc<Shared>) -> Result<(), AntreaEmuError> {
    let resource = extension_resource(
        SYSTEM_GROUP,
        SYSTEM_VERSION,
        PLURAL,
        "SupportBundle",
        false,
        &["create", "delete", "get"],
    );
    let router = axum::Router::new()
        .fallback(serve_controller)
        .with_state(Arc::downgrade(shared));
    shared
        .emu
        .register_extension(
            ApiExtension::new(SYSTEM_GROUP, SYSTEM_VERSION, router).with_resource(resource),
        )
        .map_err(AntreaEmuError::Crds)?;
    log_controller(
        shared,
        "controller.go:126",
        format!("\"Starting Antrea Controller\" version=\"{ANTREA_VERSION}\""),
    );
    log_controller(
        shared,
        "networkpolicy_controller.go:1289",
        "\"Starting NetworkPolicy controller\"",
    );
    for node in &shared.topology.nodes {
        log_agent(
            shared,
            &node.name,
            "agent.go:182",
            format!("\"Starting Antrea Agent\" version=\"{ANTREA_VERSION}\""),
        );
        log_agent(
            shared,
            &node.name,
            "networkpolicy_controller.go:617",
            "\"Starting NetworkPolicy controller\"",
        );
    }
    Ok(())
}

impl AntreaEmu {
    /// The API of the agent of `node` (what antrea-agent serves on NodeIP:10350): a router
    /// answering `/apis/system.antrea.io/v1beta1/supportbundles[/agent[/download]]`. Wrap it
    /// in a client with `kube::Client::new(router, "default")`.
    pub fn agent_api(&self, node: &str) -> Option<axum::Router> {
        self.topology().node(node)?;
        let state = AgentState {
            shared: Arc::downgrade(self.shared()),
            node: node.to_string(),
        };
        Some(axum::Router::new().fallback(serve_agent).with_state(state))
    }
}

#[derive(Clone)]
struct AgentState {
    shared: Weak<Shared>,
    node: String,
}

async fn serve_controller(State(shared): State<Weak<Shared>>, request: Request<Body>) -> Response {
    let Some(shared) = shared.upgrade() else {
        return aggregated::service_unavailable();
    };
    let (parts, body) = request.into_parts();
    let request = Request::from_parts(parts, Body::empty());
    let api = ApiRequest::new(&request);
    if let [word, node, rest @ ..] = api.segments.as_slice()
        && word == "agents"
    {
        if shared.topology.node(node).is_none() {
            return aggregated::no_such_resource();
        }
        let mode = Mode::Agent(node.clone());
        let rest = rest.to_vec();
        return serve_bundles(&shared, &mode, &api, &rest, body).await;
    }
    if !shared.hooks.controller_is_up() {
        return aggregated::service_unavailable();
    }
    let segments = api.segments.clone();
    serve_bundles(&shared, &Mode::Controller, &api, &segments, body).await
}

async fn serve_agent(State(state): State<AgentState>, request: Request<Body>) -> Response {
    let Some(shared) = state.shared.upgrade() else {
        return aggregated::service_unavailable();
    };
    let (parts, body) = request.into_parts();
    let request = Request::from_parts(parts, Body::empty());
    let api = ApiRequest::new(&request);
    if !request
        .uri()
        .path()
        .starts_with("/apis/system.antrea.io/v1beta1/")
    {
        return aggregated::no_such_resource();
    }
    let segments = api.segments.clone();
    serve_bundles(&shared, &Mode::Agent(state.node), &api, &segments, body).await
}

async fn serve_bundles(
    shared: &Arc<Shared>,
    mode: &Mode,
    api: &ApiRequest,
    segments: &[String],
    body: Body,
) -> Response {
    let Some(slot) = shared.bundles.slot(mode) else {
        return aggregated::no_such_resource();
    };
    let method = &api.method;
    match segments {
        [plural] if plural == PLURAL => {
            if *method == http::Method::POST {
                create(shared, mode, body).await
            } else {
                aggregated::method_not_allowed()
            }
        }
        [plural, name] if plural == PLURAL => match *method {
            http::Method::GET if !api.is_watch() => {
                let slot = slot.lock();
                if name != mode.name() {
                    return bundle_not_found(name);
                }
                aggregated::json_response(StatusCode::OK, &bundle_object(mode, &slot.status))
            }
            http::Method::DELETE => {
                if name != mode.name() {
                    return bundle_not_found(name);
                }
                let mut slot = slot.lock();
                slot.generation += 1;
                slot.status = BundleStatus::None;
                aggregated::json_response(
                    StatusCode::OK,
                    &json!({
                        "kind": "Status",
                        "apiVersion": "v1",
                        "metadata": {},
                        "status": "Success",
                        "details": {"name": name, "kind": "SupportBundle"},
                        "code": 200,
                    }),
                )
            }
            _ => aggregated::method_not_allowed(),
        },
        [plural, _, sub] if plural == PLURAL && sub == "download" => {
            if *method != http::Method::GET {
                return aggregated::method_not_allowed();
            }
            // Antrea's download ignores the name and streams the current file.
            let file = match &slot.lock().status {
                BundleStatus::Collected(collected) => Some(collected.file.clone()),
                _ => None,
            };
            match file {
                Some(file) => {
                    let mut response = Response::new(Body::from(file.as_ref().clone()));
                    response.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/tar+gz"),
                    );
                    response
                }
                None => aggregated::status_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "",
                    "open : no such file or directory",
                    None,
                ),
            }
        }
        _ => aggregated::no_such_resource(),
    }
}

fn bundle_not_found(name: &str) -> Response {
    aggregated::status_response(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("supportBundle.{SYSTEM_GROUP} \"{name}\" not found"),
        Some(json!({"name": name, "group": SYSTEM_GROUP, "kind": "supportBundle"})),
    )
}

/// The SupportBundle object for a status.
fn bundle_object(mode: &Mode, status: &BundleStatus) -> Value {
    let name = mode.name();
    let mut object = json!({"kind": "SupportBundle", "apiVersion": SYSTEM_API_VERSION});
    match status {
        BundleStatus::None => {
            object["metadata"] = json!({"name": name, "creationTimestamp": null});
            object["status"] = json!("None");
        }
        BundleStatus::Collecting { since } => {
            object["metadata"] = json!({"name": name, "creationTimestamp": null});
            object["status"] = json!("Collecting");
            if !since.is_empty() {
                object["since"] = json!(since);
            }
        }
        BundleStatus::Collected(collected) => {
            object["metadata"] = json!({
                "name": name,
                "creationTimestamp": aggregated::rfc3339(collected.created),
                "deletionTimestamp": aggregated::rfc3339(collected.expires),
            });
            object["status"] = json!("Collected");
            object["sum"] = json!(collected.sum);
            if !collected.since.is_empty() {
                object["since"] = json!(collected.since);
            }
            object["size"] = json!(collected.size);
        }
    }
    object
}

async fn create(shared: &Arc<Shared>, mode: &Mode, body: Body) -> Response {
    let bytes = match axum::body::to_bytes(body, 1 << 20).await {
        Ok(bytes) => bytes,
        Err(error) => return aggregated::bad_request(&error.to_string()),
    };
    let request: Value = match serde_json::from_slice(&bytes) {
        Ok(value @ Value::Object(_)) => value,
        Ok(_) => {
            return aggregated::bad_request(
                "the body of the request must be a SupportBundle object",
            );
        }
        Err(error) => {
            return aggregated::bad_request(&format!(
                "the object provided is unrecognized: {error}"
            ));
        }
    };
    let name = request
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if name != mode.name() {
        return aggregated::status_response(
            StatusCode::FORBIDDEN,
            "Forbidden",
            &format!(
                "controllerinfos.{SYSTEM_GROUP} \"{name}\" is forbidden: only resource name \"{}\" is allowed",
                mode.name()
            ),
            Some(json!({"name": name, "group": SYSTEM_GROUP, "kind": "controllerinfos"})),
        );
    }
    let since = request
        .get("since")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let Some(slot) = shared.bundles.slot(mode) else {
        return aggregated::no_such_resource();
    };
    let (generation, object) = {
        let mut slot = slot.lock();
        slot.generation += 1;
        slot.status = BundleStatus::Collecting {
            since: since.clone(),
        };
        (slot.generation, bundle_object(mode, &slot.status))
    };
    let line = format!("\"Collecting support bundle\" since=\"{since}\"");
    match mode {
        Mode::Controller => log_controller(shared, "supportbundle/rest.go:131", line),
        Mode::Agent(node) => log_agent(shared, node, "supportbundle/rest.go:131", line),
    }
    let shared = shared.clone();
    let mode = mode.clone();
    tokio::spawn(async move { collect(shared, mode, generation, since).await });
    aggregated::json_response(StatusCode::CREATED, &object)
}

/// Collects, then publishes the bundle if no newer request came; then expires it.
async fn collect(shared: Arc<Shared>, mode: Mode, generation: u64, since: String) {
    let options = shared.options.support_bundles.clone();
    tokio::select! {
        () = shared.cancel.cancelled() => return,
        () = tokio::time::sleep(options.collect_duration) => {}
    }
    let files = match &mode {
        Mode::Controller => controller_files(&shared, &since).await,
        Mode::Agent(node) => agent_files(&shared, node, &since).await,
    };
    let now = shared.clock.now();
    let archive = match pack(&files, now) {
        Ok(archive) => archive,
        Err(error) => {
            tracing::warn!(%error, "packing a support bundle failed");
            if let Some(slot) = shared.bundles.slot(&mode) {
                let mut slot = slot.lock();
                if slot.generation == generation {
                    slot.status = BundleStatus::None;
                }
            }
            return;
        }
    };
    let expires = now
        .checked_add(jiff::SignedDuration::try_from(options.expiry).unwrap_or_default())
        .unwrap_or(now);
    let Some(slot) = shared.bundles.slot(&mode) else {
        return;
    };
    {
        let mut slot = slot.lock();
        if slot.generation != generation {
            return;
        }
        slot.status = BundleStatus::Collected(Collected {
            since,
            sum: hex::encode(Sha256::digest(&archive)),
            size: u32::try_from(archive.len()).unwrap_or(u32::MAX),
            created: now,
            expires,
            file: Arc::new(archive),
        });
    }
    tokio::select! {
        () = shared.cancel.cancelled() => {}
        () = tokio::time::sleep(options.expiry) => {
            let mut slot = slot.lock();
            if slot.generation == generation && matches!(slot.status, BundleStatus::Collected(_)) {
                slot.status = BundleStatus::None;
            }
        }
    }
}

/// One file of a bundle: path inside the archive and content.
type BundleFile = (String, Vec<u8>);

/// `compress.PackDir`: a gzip-compressed tar of the files, with their directories.
fn pack(files: &[BundleFile], now: jiff::Timestamp) -> std::io::Result<Vec<u8>> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(encoder);
    let mtime = u64::try_from(now.as_second()).unwrap_or(0);
    let mut directories = std::collections::BTreeSet::new();
    for (path, content) in files {
        let mut prefix = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            prefix.push_str(part);
            prefix.push('/');
            if directories.insert(prefix.clone()) {
                let mut header = tar::Header::new_gnu();
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                header.set_mtime(mtime);
                builder.append_data(&mut header, &prefix, std::io::empty())?;
            }
        }
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(content.len() as u64);
        header.set_mtime(mtime);
        builder.append_data(&mut header, path, content.as_slice())?;
    }
    let mut encoder = builder.into_inner()?;
    encoder.flush()?;
    encoder.finish()
}

/// `time.ParseDuration` (`1h`, `90m`, `1h30m`, `2.5h`, `300ms`...); `None` when invalid.
pub(crate) fn parse_go_duration(text: &str) -> Option<Duration> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += number * seconds;
    }
    if negative {
        // A negative window starts in the future: nothing is older than it.
        return Some(Duration::ZERO);
    }
    Duration::try_from_secs_f64(total).ok()
}

/// Where a log window starts (`timestampFilter`): `None` keeps everything; an unparsable
/// `since` is a zero window (Antrea ignores the parse error).
fn window_start(since: &str, now: jiff::Timestamp) -> Option<jiff::Timestamp> {
    if since.is_empty() {
        return None;
    }
    let window = parse_go_duration(since).unwrap_or_default();
    let window = jiff::SignedDuration::try_from(window).unwrap_or_default();
    Some(now.checked_sub(window).unwrap_or(now))
}

fn log_file(lines: &[LogLine], since: &str, now: jiff::Timestamp) -> Vec<u8> {
    let start = window_start(since, now);
    let mut text = String::new();
    for line in lines {
        if start.is_some_and(|start| line.at < start) {
            continue;
        }
        text.push_str(&klog(line));
        text.push('\n');
    }
    text.into_bytes()
}

/// `<component>.<pod>.root.log.INFO.<yyyymmdd-hhmmss>.1`, named after the first line.
fn log_name(component: &str, pod: &str, lines: &[LogLine], now: jiff::Timestamp) -> String {
    let first = lines.first().map_or(now, |line| line.at);
    format!(
        "{component}.{pod}.root.log.INFO.{}.1",
        first.strftime("%Y%m%d-%H%M%S")
    )
}

fn yaml<T: Serialize>(value: &T) -> Vec<u8> {
    serde_saphyr::to_string(value)
        .unwrap_or_else(|error| format!("# not serializable: {error}\n"))
        .into_bytes()
}

async fn list<K>(shared: &Shared) -> Vec<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    match Api::<K>::all(shared.client.clone())
        .list(&ListParams::default())
        .await
    {
        Ok(list) => list.items,
        Err(error) => {
            tracing::debug!(%error, "listing for a support bundle failed");
            Vec::new()
        }
    }
}

/// The policies antrea-controller knows, with their spans (`networkpolicies`).
async fn policies(shared: &Shared) -> Vec<Value> {
    let cluster: Vec<ClusterNetworkPolicy> = list(shared).await;
    let antrea: Vec<NetworkPolicy> = list(shared).await;
    let k8s: Vec<K8sNetworkPolicy> = list(shared).await;
    let mut entries = Vec::new();
    let index = shared.index.read();
    let span_of = |reference: &PolicyRef| {
        index
            .policy_span(reference)
            .map(|span| {
                json!({
                    "nodes": span.nodes.iter().collect::<Vec<_>>(),
                    "realizable": span.sync_error.is_none(),
                })
            })
            .unwrap_or(Value::Null)
    };
    let rules = |ingress: Option<&Vec<antrea_types::policy::Rule>>,
                 egress: Option<&Vec<antrea_types::policy::Rule>>| {
        let direction = |rules: Option<&Vec<antrea_types::policy::Rule>>, name: &str| {
            rules
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(position, rule)| {
                    json!({
                        "direction": name,
                        "name": rule.name,
                        "action": rule.action.as_str(),
                        "priority": position,
                    })
                })
                .collect::<Vec<_>>()
        };
        let mut all = direction(ingress, "In");
        all.extend(direction(egress, "Out"));
        all
    };
    for policy in &cluster {
        let reference = PolicyRef::cluster(policy.name_any());
        entries.push(json!({
            "name": policy.uid(),
            "sourceRef": {"type": PolicyKind::AntreaClusterNetworkPolicy.as_str(), "name": policy.name_any(), "uid": policy.uid()},
            "generation": policy.metadata.generation,
            "tierPriority": index.tier_priority(policy.spec.tier.as_deref()),
            "priority": policy.spec.priority,
            "rules": rules(policy.spec.ingress.as_ref(), policy.spec.egress.as_ref()),
            "span": span_of(&reference),
        }));
    }
    for policy in &antrea {
        let namespace = policy.namespace().unwrap_or_default();
        let reference = PolicyRef::namespaced(
            PolicyKind::AntreaNetworkPolicy,
            &namespace,
            policy.name_any(),
        );
        entries.push(json!({
            "name": policy.uid(),
            "sourceRef": {"type": PolicyKind::AntreaNetworkPolicy.as_str(), "namespace": namespace, "name": policy.name_any(), "uid": policy.uid()},
            "generation": policy.metadata.generation,
            "tierPriority": index.tier_priority(policy.spec.tier.as_deref()),
            "priority": policy.spec.priority,
            "rules": rules(policy.spec.ingress.as_ref(), policy.spec.egress.as_ref()),
            "span": span_of(&reference),
        }));
    }
    for policy in &k8s {
        let namespace = policy.namespace().unwrap_or_default();
        let reference =
            PolicyRef::namespaced(PolicyKind::K8sNetworkPolicy, &namespace, policy.name_any());
        entries.push(json!({
            "name": policy.uid(),
            "sourceRef": {"type": PolicyKind::K8sNetworkPolicy.as_str(), "namespace": namespace, "name": policy.name_any(), "uid": policy.uid()},
            "generation": policy.metadata.generation,
            "span": span_of(&reference),
        }));
    }
    entries
}

fn spans_node(entry: &Value, node: &str) -> bool {
    entry
        .pointer("/span/nodes")
        .and_then(Value::as_array)
        .is_some_and(|nodes| nodes.iter().any(|n| n == node))
}

fn note(component: &str, what: &str) -> Vec<u8> {
    format!("# Emulated {component} {ANTREA_VERSION}: no Go runtime to take a {what} of.\n")
        .into_bytes()
}

/// What antrea-controller's dumper writes.
async fn controller_files(shared: &Shared, since: &str) -> Vec<BundleFile> {
    let now = shared.clock.now();
    let tiers: Vec<Tier> = list(shared).await;
    let nodes: Vec<Node> = list(shared).await;
    let cluster_groups: Vec<ClusterGroup> = list(shared).await;
    let groups: Vec<Group> = list(shared).await;
    let policies = policies(shared).await;
    let info = Api::<AntreaControllerInfo>::all(shared.client.clone())
        .get_opt("antrea-controller")
        .await
        .ok()
        .flatten();

    let mut lines: Vec<LogLine> = shared
        .bundles
        .controller_log
        .lock()
        .iter()
        .cloned()
        .collect();
    let mut events: Vec<LogLine> = Vec::new();
    let created = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        meta.creation_timestamp.as_ref().map(|time| time.0)
    };
    for policy in list::<ClusterNetworkPolicy>(shared).await {
        if let Some(at) = created(&policy.metadata) {
            events.push(LogLine {
                at,
                source: "clusternetworkpolicy.go:88",
                message: format!(
                    "\"Processing ClusterNetworkPolicy ADD event\" name=\"{}\"",
                    policy.name_any()
                ),
            });
        }
    }
    for policy in list::<NetworkPolicy>(shared).await {
        if let Some(at) = created(&policy.metadata) {
            events.push(LogLine {
                at,
                source: "antreanetworkpolicy.go:56",
                message: format!(
                    "\"Processing Antrea NetworkPolicy ADD event\" namespace=\"{}\" name=\"{}\"",
                    policy.namespace().unwrap_or_default(),
                    policy.name_any()
                ),
            });
        }
    }
    for group in &cluster_groups {
        if let Some(at) = created(&group.metadata) {
            events.push(LogLine {
                at,
                source: "clustergroup.go:48",
                message: format!(
                    "\"Processing ClusterGroup ADD event\" name=\"{}\"",
                    group.name_any()
                ),
            });
        }
    }
    lines.extend(events);
    lines.sort_by_key(|line| line.at);

    let index = shared.index.read();
    let mut address_groups: Vec<Value> = cluster_groups
        .iter()
        .map(|group| {
            json!({
                "kind": "ClusterGroup",
                "name": group.name_any(),
                "members": index.cluster_group_members(&group.name_any()),
            })
        })
        .collect();
    address_groups.extend(groups.iter().map(|group| {
        let namespace = group.namespace().unwrap_or_default();
        json!({
            "kind": "Group",
            "namespace": namespace,
            "name": group.name_any(),
            "members": index.group_members(&namespace, &group.name_any()),
        })
    }));
    drop(index);
    let tiers: Vec<Value> = tiers
        .iter()
        .map(|tier| json!({"name": tier.name_any(), "priority": tier.spec.priority, "description": tier.spec.description}))
        .collect();
    let nodes: Vec<Value> = nodes
        .iter()
        .map(|node| {
            json!({
                "name": node.name_any(),
                "podCIDRs": node.spec.as_ref().and_then(|s| s.pod_cidrs.clone()),
                "addresses": node.status.as_ref().and_then(|s| s.addresses.clone()),
            })
        })
        .collect();

    let log_path = format!(
        "logs/controller/{}",
        log_name(
            "antrea-controller",
            &shared.topology.controller_pod,
            &lines,
            now
        )
    );
    vec![
        (log_path, log_file(&lines, since, now)),
        ("networkpolicies".into(), yaml(&policies)),
        ("addressgroups".into(), yaml(&address_groups)),
        ("controllerinfo".into(), yaml(&info)),
        ("tiers".into(), yaml(&tiers)),
        ("nodes".into(), yaml(&nodes)),
        (
            "memprofile".into(),
            note("antrea-controller", "heap profile"),
        ),
        (
            "goroutinestacks".into(),
            note("antrea-controller", "goroutine dump"),
        ),
    ]
}

/// What an antrea-agent's dumper writes.
async fn agent_files(shared: &Shared, node: &str, since: &str) -> Vec<BundleFile> {
    let now = shared.clock.now();
    let info = Api::<AntreaAgentInfo>::all(shared.client.clone())
        .get_opt(node)
        .await
        .ok()
        .flatten();
    let policies: Vec<Value> = policies(shared)
        .await
        .into_iter()
        .filter(|entry| spans_node(entry, node))
        .collect();
    let pods: Vec<Pod> = list(shared).await;
    let mut ports = vec![
        "1(antrea-tun0): addr:00:00:00:00:00:01".to_string(),
        "2(antrea-gw0): addr:00:00:00:00:00:02".to_string(),
    ];
    let mut local: Vec<(PodName, String)> = pods
        .iter()
        .filter(|pod| {
            pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node)
                && !pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.host_network)
                    .unwrap_or(false)
                && pod
                    .status
                    .as_ref()
                    .and_then(|s| s.pod_ip.as_deref())
                    .is_some()
        })
        .map(|pod| {
            let ip = pod
                .status
                .as_ref()
                .and_then(|s| s.pod_ip.clone())
                .unwrap_or_default();
            (
                PodName::new(pod.namespace().unwrap_or_default(), pod.name_any()),
                ip,
            )
        })
        .collect();
    local.sort();
    for (number, (pod, ip)) in local.iter().enumerate() {
        let digest = hex::encode(Sha256::digest(format!("{}/{}", pod.namespace, pod.name)));
        let interface: String = format!(
            "{}-{}",
            &pod.name.chars().take(6).collect::<String>(),
            &digest[..8]
        );
        ports.push(format!(
            "{}({interface}): addr:{} pod={}/{} ip={ip}",
            number + 3,
            mac_of(&digest),
            pod.namespace,
            pod.name
        ));
    }
    let lines: Vec<LogLine> = shared
        .bundles
        .agent_logs
        .get(node)
        .map(|log| log.lock().iter().cloned().collect())
        .unwrap_or_default();
    let agent_pod = shared
        .topology
        .node(node)
        .map(|n| n.agent_pod.clone())
        .unwrap_or_default();
    let ovs_start = lines.first().map_or(now, |line| line.at);
    let ovs_log = format!(
        "{}|00001|vlog|INFO|opened log file /var/log/openvswitch/ovs-vswitchd.log\n{}|00002|bridge|INFO|bridge br-int: added interface antrea-gw0 on port 2\n",
        ovs_start.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
        ovs_start.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
    );
    vec![
        (
            format!(
                "logs/agent/{}",
                log_name("antrea-agent", &agent_pod, &lines, now)
            ),
            log_file(&lines, since, now),
        ),
        ("logs/ovs/ovs-vswitchd.log".into(), ovs_log.into_bytes()),
        ("agentinfo".into(), yaml(&info)),
        ("networkpolicies".into(), yaml(&policies)),
        ("ovsports".into(), (ports.join("\n") + "\n").into_bytes()),
        ("memprofile".into(), note("antrea-agent", "heap profile")),
        (
            "goroutinestacks".into(),
            note("antrea-agent", "goroutine dump"),
        ),
    ]
}

/// A locally administered MAC derived from a digest.
fn mac_of(digest: &str) -> String {
    let bytes = &digest.as_bytes()[..10];
    let pairs: Vec<String> = bytes
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).into_owned())
        .collect();
    format!("02:{}", pairs.join(":"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_go_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_go_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("2.5h"), Some(Duration::from_secs(9000)));
        assert_eq!(parse_go_duration("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_go_duration("1d"), None);
        assert_eq!(parse_go_duration("h"), None);
        assert_eq!(parse_go_duration(""), None);
    }

    #[test]
    fn logs_are_klog_lines_filtered_by_since() {
        let now = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let line = |seconds_ago: i64, message: &str| LogLine {
            at: now
                .checked_sub(jiff::SignedDuration::from_secs(seconds_ago))
                .unwrap(),
            source: "x.go:1",
            message: message.to_string(),
        };
        let lines = [line(7200, "old"), line(60, "recent")];
        let all = String::from_utf8(log_file(&lines, "", now)).unwrap();
        assert_eq!(all.lines().count(), 2);
        assert!(
            all.starts_with("I1114 20:13:20.000000       1 x.go:1] old"),
            "{all}"
        );
        let recent = String::from_utf8(log_file(&lines, "1h", now)).unwrap();
        assert_eq!(recent.lines().collect::<Vec<_>>().len(), 1);
        assert!(recent.contains("recent"));
        // Antrea ignores a bad duration: the window is empty.
        assert!(log_file(&lines, "soon", now).is_empty());
        assert_eq!(
            log_name("antrea-agent", "antrea-agent-x", &lines, now),
            "antrea-agent.antrea-agent-x.root.log.INFO.20231114-201320.1"
        );
    }

    #[test]
    fn archives_hold_the_files_and_their_directories() {
        let now = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let files = vec![
            ("logs/controller/a.log".to_string(), b"line\n".to_vec()),
            ("networkpolicies".to_string(), b"[]\n".to_vec()),
        ];
        let archive = pack(&files, now).unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(archive.as_slice()));
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mut content = String::new();
            entry.read_to_string(&mut content).unwrap();
            seen.push((path, content));
        }
        let paths: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "logs/",
                "logs/controller/",
                "logs/controller/a.log",
                "networkpolicies"
            ]
        );
        assert_eq!(seen[2].1, "line\n");
    }

    #[test]
    fn bundle_objects_read_as_antreas() {
        let none = bundle_object(&Mode::Controller, &BundleStatus::None);
        assert_eq!(
            none,
            json!({"kind": "SupportBundle", "apiVersion": "system.antrea.io/v1beta1",
                   "metadata": {"name": "controller", "creationTimestamp": null}, "status": "None"})
        );
        let collecting = bundle_object(
            &Mode::Agent("n".into()),
            &BundleStatus::Collecting { since: "1h".into() },
        );
        assert_eq!(collecting["metadata"]["name"], "agent");
        assert_eq!(collecting["since"], "1h");
    }
}
