//! Traceflow, as antrea-controller (`pkg/controller/traceflow`) and the antrea-agents
//! (`pkg/agent/controller/traceflow`) process it, with the packet judged by
//! `antrea_policy::ClusterIndex::evaluate` instead of OVS.
//!
//! - **Webhook** `traceflowvalidator.antrea.io` (CREATE, UPDATE): a non-live Traceflow needs a
//!   source Pod (`source Pod must be specified in non-live-traffic Traceflow`) that exists
//!   (`requested source Pod <ns>/<name> not found`) and is not on the host network (`using
//!   hostNetwork Pod as source in non-live-traffic Traceflow is not supported`); every
//!   Traceflow needs a source or a destination Pod (`Traceflow <name> has neither source nor
//!   destination Pod specified`).
//! - **Controller**: a Traceflow with no phase gets the lowest free data-plane tag of
//!   7, 11, ... 59 (14 tags) and is written `Running` with `dataplaneTag` and `startTime`.
//!   With all 14 taken it keeps its empty phase and is retried with the work queue's
//!   exponential backoff (5 s doubling up to 300 s) until a tag frees up. Once the sender
//!   and the receiver reported (an observation `SpoofGuard`, and one that `Delivered`,
//!   `Dropped`, `Rejected` or `ForwardedOutOfNetwork` the packet) it writes `Succeeded`
//!   (filling in the `pod` of `LB` observations, clearing `dataplaneTag`) and frees the tag.
//!   Every 10 s it fails Running Traceflows older than `spec.timeout` (default 20 s) with
//!   reason `Traceflow timeout`. Antrea never deletes Traceflows.
//! - **Agents**: the agent of the source Pod's Node prepares the packet: errors fail the
//!   Traceflow with reason `Node: <node>, error: <error>` (for example `failed to get the
//!   destination Pod: pods "x" not found`, `destination Service does not have an IPv4
//!   ClusterIP`, `destination IP does not match the IP header family`). It injects after
//!   100 ms when the destination is a Pod on its Node, else after 2 s; each Node the packet
//!   crosses appends its `results` entry (sender first), with the observations
//!   `antrea_policy` computes. A source Pod that runs nowhere, a stalled agent
//!   ([`AntreaEmu::stall_node`]), a Service without Endpoints and live-traffic Traceflows
//!   report nothing, so such Traceflows time out.
//!
//! While antrea-controller is down, agents still report, and the controller catches up when
//! it comes back (reloading the tags of Running Traceflows, as its `Run` does).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use antrea_policy::{Destination, PacketSpec, PodName, Protocol};
use antrea_types::CRD_GROUP;
use antrea_types::traceflow::{
    DEFAULT_TRACEFLOW_TIMEOUT_SECONDS, NodeResult, Traceflow, TraceflowAction, TraceflowComponent,
    TraceflowPhase, TraceflowSpec, TraceflowStatus,
};
use futures::StreamExt;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube_apimachinery::registry::ResourceType;
use kube_emu::{AdmissionDenial, AdmissionPlugin, AdmissionRequest, Operation};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::Shared;
use crate::admission::TRACEFLOW_VALIDATOR;
use crate::hooks::RealizationMode;
use crate::support_bundle::{log_agent, log_controller};
use crate::workload::watch;

/// Lowest data-plane tag (`minTagNum`, 0b000111).
pub const MIN_TAG: i32 = 7;
/// Highest data-plane tag (`maxTagNum`, 0b111011).
pub const MAX_TAG: i32 = 59;
/// Step between tags (`tagStep`).
pub const TAG_STEP: i32 = 4;
/// Reason of a Traceflow that timed out.
pub const TIMEOUT_REASON: &str = "Traceflow timeout";
/// How often the controller looks for timed-out Traceflows (`timeoutCheckInterval`).
const TIMEOUT_CHECK_INTERVAL: Duration = Duration::from_secs(10);
/// Work-queue backoff of a Traceflow that found no free tag (`minRetryDelay`, `maxRetryDelay`).
const MIN_RETRY_DELAY: Duration = Duration::from_secs(5);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);
/// Injection delays of the sender agent (`injectPacketDelay`, `injectLocalPacketDelay`).
const INJECT_DELAY: Duration = Duration::from_millis(2000);
const INJECT_LOCAL_DELAY: Duration = Duration::from_millis(100);
/// Attempts of a status update on conflicts (`retry.DefaultRetry`).
const UPDATE_ATTEMPTS: usize = 5;

/// Tunables of Traceflow processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceflowOptions {
    /// Wait before injecting as the agents do (2 s, or 100 ms to a Pod on the same Node).
    /// Off, the packet is injected as soon as the Traceflow is Running (benchmarks).
    pub injection_delays: bool,
}

impl Default for TraceflowOptions {
    fn default() -> Self {
        TraceflowOptions {
            injection_delays: true,
        }
    }
}

/// The number of Traceflows that can run at once (the data-plane tags).
pub fn max_concurrent() -> usize {
    usize::try_from((MAX_TAG - MIN_TAG) / TAG_STEP + 1).unwrap_or(0)
}

/// `traceflowvalidator.antrea.io`.
struct TraceflowValidator;

impl AdmissionPlugin for TraceflowValidator {
    fn name(&self) -> &str {
        TRACEFLOW_VALIDATOR.name
    }

    fn handles(
        &self,
        resource: &ResourceType,
        operation: Operation,
        subresource: Option<&str>,
    ) -> bool {
        resource.group == CRD_GROUP
            && resource.plural == TRACEFLOW_VALIDATOR.resource
            && subresource.is_none()
            && TRACEFLOW_VALIDATOR.operations.contains(&operation)
    }

    fn validate(&self, request: &AdmissionRequest<'_>) -> Result<(), AdmissionDenial> {
        let Some(object) = request.object.as_deref() else {
            return Ok(());
        };
        let field = |path: &str| {
            object
                .pointer(path)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        let live = object
            .pointer("/spec/liveTraffic")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let (source_namespace, source_pod) =
            (field("/spec/source/namespace"), field("/spec/source/pod"));
        if !live {
            if source_namespace.is_empty() || source_pod.is_empty() {
                return Err(AdmissionDenial::new(
                    "source Pod must be specified in non-live-traffic Traceflow",
                ));
            }
            let Some(pod) = request.store.get("", "pods", source_namespace, source_pod) else {
                return Err(AdmissionDenial::new(format!(
                    "requested source Pod {source_namespace}/{source_pod} not found"
                )));
            };
            if pod
                .pointer("/spec/hostNetwork")
                .and_then(Value::as_bool)
                .unwrap_or(false)
            {
                return Err(AdmissionDenial::new(
                    "using hostNetwork Pod as source in non-live-traffic Traceflow is not supported",
                ));
            }
        }
        if source_pod.is_empty() && field("/spec/destination/pod").is_empty() {
            return Err(AdmissionDenial::new(format!(
                "Traceflow {} has neither source nor destination Pod specified",
                request.name
            )));
        }
        Ok(())
    }
}

/// Registers the webhook and starts the controller and agents; the receiver fires once the
/// Traceflows are listed.
pub(crate) fn install(shared: &Arc<Shared>) -> oneshot::Receiver<()> {
    shared
        .emu
        .add_admission_plugin(Arc::new(TraceflowValidator));
    let (ready_tx, ready_rx) = oneshot::channel();
    let (outcomes_tx, outcomes_rx) = mpsc::unbounded_channel();
    let tracer = Tracer {
        shared: shared.clone(),
        cache: HashMap::new(),
        tags: BTreeMap::new(),
        failures: HashMap::new(),
        finishing: HashSet::new(),
        runs: HashMap::new(),
        endpoint_pods: HashMap::new(),
        timers: BinaryHeap::new(),
        sequence: 0,
        outcomes: outcomes_tx,
        up: shared.hooks.controller_is_up(),
    };
    tokio::spawn(tracer.run(outcomes_rx, ready_tx));
    log_controller(
        shared,
        "traceflow/controller.go:128",
        "Starting TraceflowController",
    );
    ready_rx
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// Retry starting a Traceflow that found no free tag.
    Retry(String),
    /// The sender agent injects the packet of a Traceflow (by UID).
    Inject { name: String, uid: String },
    /// The controller's periodic timeout check.
    TimeoutCheck,
}

/// What a write reported back.
#[derive(Debug)]
enum Outcome {
    /// Writing `Running` with `tag` failed.
    StartFailed { name: String, tag: i32 },
    /// `Succeeded` or `Failed` was written (`done`), or could not be.
    Finished { name: String, done: bool },
}

/// What the agents do for one Running Traceflow.
#[derive(Debug, Clone)]
struct Run {
    uid: String,
}

struct Tracer {
    shared: Arc<Shared>,
    cache: HashMap<String, Arc<Traceflow>>,
    /// Controller: tag -> Traceflow name (`runningTraceflows`).
    tags: BTreeMap<i32, String>,
    /// Controller: failed starts per Traceflow (work-queue backoff).
    failures: HashMap<String, u32>,
    /// Controller: Traceflows whose final status is being written.
    finishing: HashSet<String>,
    /// Agents: Traceflows they have started, by name.
    runs: HashMap<String, Run>,
    /// The Pod behind a Service endpoint, per Traceflow UID (the controller's Pod-by-IP index).
    endpoint_pods: HashMap<String, String>,
    timers: BinaryHeap<Reverse<(Instant, u64, Timer)>>,
    sequence: u64,
    outcomes: mpsc::UnboundedSender<Outcome>,
    up: bool,
}

impl Tracer {
    async fn run(
        mut self,
        mut outcomes: mpsc::UnboundedReceiver<Outcome>,
        ready: oneshot::Sender<()>,
    ) {
        let cancel = self.shared.cancel.clone();
        let events = watch(Api::<Traceflow>::all(self.shared.client.clone()));
        futures::pin_mut!(events);
        let mut controller_state = self.shared.hooks.watch_controller();
        let mut ready = Some(ready);
        let mut relist: Option<HashSet<String>> = None;
        self.schedule(Instant::now() + TIMEOUT_CHECK_INTERVAL, Timer::TimeoutCheck);
        loop {
            let next = self.timers.peek().map(|Reverse((at, ..))| *at);
            tokio::select! {
                () = cancel.cancelled() => return,
                event = events.next() => {
                    let Some(event) = event else { return };
                    match event {
                        watcher::Event::Init => relist = Some(HashSet::new()),
                        watcher::Event::InitApply(traceflow) | watcher::Event::Apply(traceflow) => {
                            let name = traceflow.name_any();
                            if let Some(seen) = &mut relist {
                                seen.insert(name.clone());
                            }
                            if !self.cache.contains_key(&name) && self.up {
                                log_controller(
                                    &self.shared,
                                    "traceflow/controller.go:149",
                                    format!("Processing Traceflow {name} ADD event"),
                                );
                            }
                            self.cache.insert(name.clone(), Arc::new(traceflow));
                            if relist.is_none() {
                                self.sync(&name);
                            }
                        }
                        watcher::Event::InitDone => {
                            if let Some(seen) = relist.take() {
                                let gone: Vec<String> = self
                                    .cache
                                    .keys()
                                    .filter(|name| !seen.contains(*name))
                                    .cloned()
                                    .collect();
                                for name in gone {
                                    self.deleted(&name);
                                }
                            }
                            if ready.is_some() && self.up {
                                self.reload_tags();
                            }
                            let names: Vec<String> = self.cache.keys().cloned().collect();
                            for name in names {
                                self.sync(&name);
                            }
                            if let Some(ready) = ready.take() {
                                let _ = ready.send(());
                            }
                        }
                        watcher::Event::Delete(traceflow) => self.deleted(&traceflow.name_any()),
                    }
                }
                outcome = outcomes.recv() => {
                    let Some(outcome) = outcome else { return };
                    self.outcome(outcome);
                }
                changed = controller_state.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let up = *controller_state.borrow_and_update();
                    if up && !self.up {
                        // A restarted controller forgets its tags and reloads those of the
                        // Running Traceflows, then processes every Traceflow.
                        self.up = true;
                        self.tags.clear();
                        self.failures.clear();
                        self.finishing.clear();
                        self.reload_tags();
                        log_controller(&self.shared, "traceflow/controller.go:128", "Starting TraceflowController");
                        let names: Vec<String> = self.cache.keys().cloned().collect();
                        for name in names {
                            self.sync(&name);
                        }
                    }
                    self.up = up;
                }
                () = sleep_until(next), if next.is_some() => self.fire(),
            }
        }
    }

    fn schedule(&mut self, at: Instant, timer: Timer) {
        self.sequence += 1;
        self.timers.push(Reverse((at, self.sequence, timer)));
    }

    fn fire(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, ..))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, _, timer))) = self.timers.pop() else {
                break;
            };
            match timer {
                Timer::Retry(name) => self.sync(&name),
                Timer::Inject { name, uid } => self.inject(&name, &uid),
                Timer::TimeoutCheck => {
                    self.schedule(now + TIMEOUT_CHECK_INTERVAL, Timer::TimeoutCheck);
                    let running: Vec<String> = self.tags.values().cloned().collect();
                    for name in running {
                        self.sync(&name);
                    }
                }
            }
        }
    }

    fn deleted(&mut self, name: &str) {
        self.cache.remove(name);
        self.tags.retain(|_, holder| holder != name);
        self.failures.remove(name);
        self.finishing.remove(name);
        if let Some(run) = self.runs.remove(name) {
            self.endpoint_pods.remove(&run.uid);
        }
    }

    /// `occupyTag` for every Running Traceflow (controller start).
    fn reload_tags(&mut self) {
        for (name, traceflow) in &self.cache {
            let status = traceflow.status.as_ref();
            if status.and_then(|s| s.phase.as_ref()) == Some(&TraceflowPhase::Running)
                && let Some(tag) = status.and_then(|s| s.dataplane_tag)
                && (MIN_TAG..=MAX_TAG).contains(&tag)
            {
                self.tags.entry(tag).or_insert_with(|| name.clone());
            }
        }
    }

    fn sync(&mut self, name: &str) {
        let Some(traceflow) = self.cache.get(name).cloned() else {
            return;
        };
        let phase = traceflow.status.as_ref().and_then(|s| s.phase.clone());
        if self.up {
            match &phase {
                None => self.start(&traceflow),
                Some(TraceflowPhase::Running) => self.check(&traceflow),
                Some(_) => self.release(&traceflow),
            }
        }
        match &phase {
            Some(TraceflowPhase::Running) => self.agents_start(&traceflow),
            _ => {
                if let Some(run) = self.runs.remove(name) {
                    self.endpoint_pods.remove(&run.uid);
                }
            }
        }
    }

    /// `deallocateTagForTF`.
    fn release(&mut self, traceflow: &Traceflow) {
        let name = traceflow.name_any();
        if let Some(tag) = traceflow.status.as_ref().and_then(|s| s.dataplane_tag)
            && self.tags.get(&tag) == Some(&name)
        {
            self.tags.remove(&tag);
        }
    }

    /// `startTraceflow`: allocate a tag and write `Running`.
    fn start(&mut self, traceflow: &Traceflow) {
        let name = traceflow.name_any();
        if self.tags.values().any(|holder| *holder == name) {
            return;
        }
        let free = (MIN_TAG..=MAX_TAG)
            .step_by(TAG_STEP as usize)
            .find(|tag| !self.tags.contains_key(tag));
        let Some(tag) = free else {
            let failures = self.failures.entry(name.clone()).or_insert(0);
            *failures += 1;
            let delay = backoff(*failures);
            log_controller(
                &self.shared,
                "traceflow/controller.go:203",
                format!(
                    "Error syncing Traceflow {name}, exiting. Error: number of on-going Traceflow operations already reached the upper limit: {MAX_TAG}"
                ),
            );
            self.schedule(Instant::now() + delay, Timer::Retry(name));
            return;
        };
        self.failures.remove(&name);
        self.tags.insert(tag, name.clone());
        let mut update = traceflow.clone();
        let status = update.status.get_or_insert_with(TraceflowStatus::default);
        status.phase = Some(TraceflowPhase::Running);
        if status.start_time.is_none() {
            status.start_time = Some(self.shared.clock.time());
        }
        status.dataplane_tag = Some(tag);
        let api = Api::<Traceflow>::all(self.shared.client.clone());
        let outcomes = self.outcomes.clone();
        tokio::spawn(async move {
            if let Err(error) = api
                .replace_status(&name, &PostParams::default(), &update)
                .await
            {
                tracing::debug!(%error, name, "writing Running failed");
                let _ = outcomes.send(Outcome::StartFailed { name, tag });
            }
        });
    }

    /// `checkTraceflowStatus`: success, or timeout.
    fn check(&mut self, traceflow: &Traceflow) {
        let name = traceflow.name_any();
        if self.finishing.contains(&name) {
            return;
        }
        let spec = &traceflow.spec;
        let status = traceflow.status.clone().unwrap_or_default();
        let results = status.results.clone().unwrap_or_default();
        let live = spec.live_traffic.unwrap_or(false);
        let succeeded = if live && spec.dropped_only.unwrap_or(false) {
            !results.is_empty()
        } else {
            let observations = || results.iter().flat_map(|r| r.observations.iter().flatten());
            let sender = observations()
                .any(|o| o.component.as_ref() == Some(&TraceflowComponent::SpoofGuard));
            let receiver = observations().any(|o| {
                matches!(
                    o.action,
                    Some(
                        TraceflowAction::Delivered
                            | TraceflowAction::Dropped
                            | TraceflowAction::Rejected
                            | TraceflowAction::ForwardedOutOfNetwork
                    )
                )
            });
            let no_source = spec
                .source
                .as_ref()
                .and_then(|s| s.pod.as_deref())
                .is_none_or(str::is_empty);
            receiver && (sender || no_source)
        };
        if succeeded {
            let uid = traceflow.uid().unwrap_or_default();
            let endpoint_pod = self.endpoint_pods.get(&uid).cloned();
            self.finish(traceflow, TraceflowPhase::Succeeded, None, endpoint_pod);
            return;
        }
        let timeout = match spec.timeout.unwrap_or(0) {
            0 => DEFAULT_TRACEFLOW_TIMEOUT_SECONDS,
            seconds => seconds,
        };
        let start = status
            .start_time
            .map(|time| time.0)
            .or_else(|| traceflow.metadata.creation_timestamp.as_ref().map(|t| t.0));
        let now = self.shared.clock.now();
        let timed_out = start
            .and_then(|start| {
                start
                    .checked_add(jiff::SignedDuration::from_secs(i64::from(timeout)))
                    .ok()
            })
            .is_some_and(|deadline| deadline < now);
        if timed_out {
            self.finish(
                traceflow,
                TraceflowPhase::Failed,
                Some(TIMEOUT_REASON.to_string()),
                None,
            );
        }
    }

    /// `updateTraceflowStatus` with a final phase (the tag is cleared), then frees the tag.
    fn finish(
        &mut self,
        traceflow: &Traceflow,
        phase: TraceflowPhase,
        reason: Option<String>,
        endpoint_pod: Option<String>,
    ) {
        let name = traceflow.name_any();
        self.finishing.insert(name.clone());
        let mut update = traceflow.clone();
        let status = update.status.get_or_insert_with(TraceflowStatus::default);
        status.phase = Some(phase.clone());
        status.dataplane_tag = None;
        if reason.is_some() {
            status.reason = reason;
        }
        for observation in status
            .results
            .iter_mut()
            .flatten()
            .flat_map(|result| result.observations.iter_mut().flatten())
        {
            if observation.translated_dst_ip.is_some() {
                observation.pod = endpoint_pod.clone().or_else(|| {
                    observation
                        .translated_dst_ip
                        .as_deref()
                        .and_then(|ip| pod_with_ip(&self.shared, ip))
                });
            }
        }
        log_controller(
            &self.shared,
            "traceflow/controller.go:317",
            format!("Traceflow {name} {}", phase.as_str()),
        );
        let api = Api::<Traceflow>::all(self.shared.client.clone());
        let outcomes = self.outcomes.clone();
        tokio::spawn(async move {
            let done = match api
                .replace_status(&name, &PostParams::default(), &update)
                .await
            {
                Ok(_) => true,
                Err(error) => {
                    tracing::debug!(%error, name, "writing the final Traceflow status failed");
                    false
                }
            };
            let _ = outcomes.send(Outcome::Finished { name, done });
        });
    }

    fn outcome(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::StartFailed { name, tag } => {
                if self.tags.get(&tag) == Some(&name) {
                    self.tags.remove(&tag);
                }
                let failures = self.failures.entry(name.clone()).or_insert(0);
                *failures += 1;
                let delay = backoff(*failures);
                self.schedule(Instant::now() + delay, Timer::Retry(name));
            }
            Outcome::Finished { name, done } => {
                self.finishing.remove(&name);
                if done {
                    self.tags.retain(|_, holder| *holder != name);
                } else {
                    // Conflicts and other errors: the work queue retries after its backoff.
                    let failures = self.failures.entry(name.clone()).or_insert(0);
                    *failures += 1;
                    let delay = backoff(*failures);
                    self.schedule(Instant::now() + delay, Timer::Retry(name));
                }
            }
        }
    }

    /// Agents: the first time a Traceflow is Running with a tag, the source Pod's agent
    /// prepares the packet and schedules the injection (or fails the Traceflow).
    fn agents_start(&mut self, traceflow: &Traceflow) {
        let name = traceflow.name_any();
        let uid = traceflow.uid().unwrap_or_default();
        if self.runs.get(&name).is_some_and(|run| run.uid == uid) {
            return;
        }
        let status = traceflow.status.as_ref();
        if status.and_then(|s| s.dataplane_tag).unwrap_or(0) == 0 {
            return;
        }
        if status
            .and_then(|s| s.results.as_ref())
            .is_some_and(|results| !results.is_empty())
        {
            // Reported already (before the emulation restarted its agents).
            self.runs.insert(name, Run { uid });
            return;
        }
        self.runs.insert(name.clone(), Run { uid: uid.clone() });
        let spec = &traceflow.spec;
        if spec.live_traffic.unwrap_or(false) {
            // No real packets cross the emulated datapath: a live trace captures nothing.
            return;
        }
        let Some(source) = source_pod(&self.shared, spec) else {
            // No agent has the source Pod's interface: nothing is injected.
            return;
        };
        if self.stalled(&source.node) {
            return;
        }
        log_agent(
            &self.shared,
            &source.node,
            "traceflow/traceflow_controller.go:330",
            format!("Installing flow entries for Traceflow {name}"),
        );
        match prepare_packet(&self.shared, spec, &source) {
            Err(error) => {
                let reason = format!("Node: {}, error: {error}", source.node);
                let api = Api::<Traceflow>::all(self.shared.client.clone());
                let patch = json!({"status": {"phase": "Failed", "reason": reason}});
                tokio::spawn(async move {
                    if let Err(error) = api
                        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await
                    {
                        tracing::debug!(%error, name, "failing the Traceflow failed");
                    }
                });
            }
            Ok(prepared) => {
                let delay = match (
                    self.shared.options.traceflow.injection_delays,
                    prepared.local,
                ) {
                    (false, _) => Duration::ZERO,
                    (true, true) => INJECT_LOCAL_DELAY,
                    (true, false) => INJECT_DELAY,
                };
                self.schedule(Instant::now() + delay, Timer::Inject { name, uid });
            }
        }
    }

    fn stalled(&self, node: &str) -> bool {
        self.shared.hooks.agent(node).realization == RealizationMode::Stall
    }

    /// The sender injects; every Node on the path reports its observations.
    fn inject(&mut self, name: &str, uid: &str) {
        let Some(traceflow) = self.cache.get(name).cloned() else {
            return;
        };
        let running = traceflow.status.as_ref().and_then(|s| s.phase.as_ref())
            == Some(&TraceflowPhase::Running);
        if traceflow.uid().as_deref() != Some(uid) || !running {
            return;
        }
        let Some(source) = source_pod(&self.shared, &traceflow.spec) else {
            return;
        };
        let Ok(prepared) = prepare_packet(&self.shared, &traceflow.spec, &source) else {
            return;
        };
        log_agent(
            &self.shared,
            &source.node,
            "traceflow/traceflow_controller.go:351",
            format!("Injecting packet for Traceflow {name}"),
        );
        let evaluation = self.shared.index.read().evaluate(&prepared.packet);
        let evaluation = match evaluation {
            Ok(evaluation) => evaluation,
            Err(error) => {
                // The packet never reaches a Traceflow packet-in (for example a Service
                // without Endpoints is rejected by AntreaProxy): nothing is reported.
                tracing::debug!(%error, name, "the Traceflow packet was not traced");
                return;
            }
        };
        if let Some(pod) = evaluation
            .load_balancing
            .as_ref()
            .and_then(|lb| lb.endpoint_pod.as_ref())
        {
            self.endpoint_pods
                .insert(uid.to_string(), format!("{}/{}", pod.namespace, pod.name));
        }
        let timestamp = self.shared.clock.now().as_second();
        let mut reports = Vec::new();
        for node in &evaluation.nodes {
            if self.stalled(&node.node) {
                continue;
            }
            let mut observations = node.observations.clone();
            for observation in &mut observations {
                // antrea-controller adds the Pod of a translated address when it succeeds.
                observation.pod = None;
            }
            reports.push(NodeResult {
                node: Some(node.node.clone()),
                role: None,
                timestamp: Some(timestamp),
                observations: Some(observations),
            });
            log_agent(
                &self.shared,
                &node.node,
                "traceflow/packetin.go:80",
                format!("\"Updated Traceflow\" tf=\"{name}\""),
            );
        }
        let api = Api::<Traceflow>::all(self.shared.client.clone());
        let name = name.to_string();
        let uid = uid.to_string();
        tokio::spawn(async move {
            for report in reports {
                append_result(&api, &name, &uid, report).await;
            }
        });
    }
}

fn backoff(failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1));
    MIN_RETRY_DELAY.saturating_mul(factor).min(MAX_RETRY_DELAY)
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// `HandlePacketIn`: appends a Node's result to the latest object, retrying on conflicts.
async fn append_result(api: &Api<Traceflow>, name: &str, uid: &str, report: NodeResult) {
    for _ in 0..UPDATE_ATTEMPTS {
        let Ok(mut current) = api.get(name).await else {
            return;
        };
        if current.uid().as_deref() != Some(uid) {
            return;
        }
        let status = current.status.get_or_insert_with(TraceflowStatus::default);
        status
            .results
            .get_or_insert_with(Vec::new)
            .push(report.clone());
        match api
            .replace_status(name, &PostParams::default(), &current)
            .await
        {
            Ok(_) => return,
            Err(kube::Error::Api(status)) if status.code == 409 => continue,
            Err(error) => {
                tracing::debug!(%error, name, "reporting a Traceflow result failed");
                return;
            }
        }
    }
}

/// A Pod by its address, as `ns/name` (the controller's `PodIPsIndex`).
fn pod_with_ip(shared: &Shared, ip: &str) -> Option<String> {
    shared
        .emu
        .list_objects("v1", "pods", None)
        .into_iter()
        .find(|pod| {
            pod.pointer("/status/podIPs")
                .and_then(Value::as_array)
                .is_some_and(|ips| ips.iter().any(|entry| entry["ip"] == ip))
                || pod.pointer("/status/podIP").and_then(Value::as_str) == Some(ip)
        })
        .map(|pod| {
            format!(
                "{}/{}",
                pod.pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                pod.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            )
        })
}

/// The source Pod as its agent's interface store knows it.
#[derive(Debug, Clone)]
struct SourcePod {
    name: PodName,
    node: String,
    ips: Vec<IpAddr>,
}

fn pod_ips(pod: &Value) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = pod
        .pointer("/status/podIPs")
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .filter_map(|entry| entry["ip"].as_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    if ips.is_empty()
        && let Some(ip) = pod
            .pointer("/status/podIP")
            .and_then(Value::as_str)
            .and_then(|ip| ip.parse().ok())
    {
        ips.push(ip);
    }
    ips
}

/// The source Pod, if an emulated agent has its interface (running, with an address, not
/// on the host network, on one of the emulated Nodes).
fn source_pod(shared: &Shared, spec: &TraceflowSpec) -> Option<SourcePod> {
    let source = spec.source.as_ref()?;
    let (namespace, name) = (source.namespace.as_deref()?, source.pod.as_deref()?);
    let pod = shared.emu.get_object("v1", "pods", Some(namespace), name)?;
    if pod.pointer("/spec/hostNetwork").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    let node = pod.pointer("/spec/nodeName").and_then(Value::as_str)?;
    shared.topology.node(node)?;
    let ips = pod_ips(&pod);
    if ips.is_empty() {
        return None;
    }
    Some(SourcePod {
        name: PodName::new(namespace, name),
        node: node.to_string(),
        ips,
    })
}

/// The packet the sender injects.
struct Prepared {
    packet: PacketSpec,
    /// The destination is a Pod on the sender's Node (the agent knows its MAC).
    local: bool,
}

/// `preparePacket` of the sender agent: the packet, or the error it fails the Traceflow with.
fn prepare_packet(
    shared: &Shared,
    spec: &TraceflowSpec,
    source: &SourcePod,
) -> Result<Prepared, String> {
    let header = spec.packet.clone().unwrap_or_default();
    let ipv6 = header.ipv6_header.is_some();
    let family = if ipv6 { "IPv6" } else { "IPv4" };
    if !source.ips.iter().any(|ip| ip.is_ipv6() == ipv6) {
        return Err(format!("source Pod does not have an {family} address"));
    }
    let destination = spec.destination.clone().unwrap_or_default();
    let namespace = destination.namespace.clone().unwrap_or_default();
    let non_empty = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
    let pod_on = |pod: &Value| {
        pod.pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let (target, local) = if let Some(ip) = non_empty(&destination.ip) {
        let address: IpAddr = ip
            .parse()
            .map_err(|_| "invalid destination IP address".to_string())?;
        if address.is_ipv6() != ipv6 {
            return Err("destination IP does not match the IP header family".into());
        }
        let local = shared
            .emu
            .list_objects("v1", "pods", None)
            .iter()
            .any(|pod| {
                pod_on(pod).as_deref() == Some(source.node.as_str())
                    && pod.pointer("/spec/hostNetwork").and_then(Value::as_bool) != Some(true)
                    && pod_ips(pod).contains(&address)
            });
        (Destination::Ip(address), local)
    } else if let Some(pod_name) = non_empty(&destination.pod) {
        let Some(pod) = shared
            .emu
            .get_object("v1", "pods", Some(&namespace), &pod_name)
        else {
            return Err(format!(
                "failed to get the destination Pod: pods \"{pod_name}\" not found"
            ));
        };
        if !pod_ips(&pod).iter().any(|ip| ip.is_ipv6() == ipv6) {
            return Err(format!("destination Pod does not have an {family} address"));
        }
        let local = pod_on(&pod).as_deref() == Some(source.node.as_str());
        (Destination::Pod(PodName::new(namespace, pod_name)), local)
    } else if let Some(service_name) = non_empty(&destination.service) {
        let Some(service) =
            shared
                .emu
                .get_object("v1", "services", Some(&namespace), &service_name)
        else {
            return Err(format!(
                "failed to get the destination Service: service \"{service_name}\" not found"
            ));
        };
        let cluster_ip = service
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if cluster_ip.is_empty() {
            return Err("destination Service does not have a ClusterIP".into());
        }
        let parsed: Option<IpAddr> = cluster_ip.parse().ok();
        if parsed.is_none_or(|ip| ip.is_ipv6() != ipv6) {
            return Err(format!(
                "destination Service does not have an {family} ClusterIP"
            ));
        }
        (
            Destination::Service {
                namespace,
                name: service_name,
            },
            false,
        )
    } else {
        return Err("destination is not specified".into());
    };

    // TCP > UDP > ICMP > other IP protocol; no protocol means ICMP.
    let mut number: u8 = if ipv6 {
        header
            .ipv6_header
            .as_ref()
            .and_then(|h| h.next_header)
            .map_or(0, low_byte)
    } else {
        header
            .ip_header
            .as_ref()
            .and_then(|h| h.protocol)
            .map_or(0, low_byte)
    };
    let transport = header.transport_header.clone().unwrap_or_default();
    let port = |port: Option<i32>| Some(port.and_then(|p| u16::try_from(p).ok()).unwrap_or(0));
    let (mut source_port, mut destination_port) = (None, None);
    if let Some(tcp) = &transport.tcp {
        number = 6;
        (source_port, destination_port) = (port(tcp.src_port), port(tcp.dst_port));
    } else if let Some(udp) = &transport.udp {
        number = 17;
        (source_port, destination_port) = (port(udp.src_port), port(udp.dst_port));
    } else if transport.icmp.is_some() {
        number = 1;
    }
    let protocol = if matches!(number, 0 | 1 | 58) {
        Protocol::Icmp
    } else {
        Protocol::from_number(number)
    };
    let (icmp_type, icmp_code) = match protocol {
        Protocol::Icmp if ipv6 => (Some(128), Some(0)),
        Protocol::Icmp => (Some(8), Some(0)),
        _ => (None, None),
    };
    Ok(Prepared {
        packet: PacketSpec {
            source: source.name.clone(),
            destination: target,
            protocol,
            source_port,
            destination_port,
            icmp_type,
            icmp_code,
            ipv6,
        },
        local,
    })
}

/// `uint8(value)` of Go.
fn low_byte(value: i32) -> u8 {
    u8::try_from(value & 0xff).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_14_tags_from_7_to_59() {
        let tags: Vec<i32> = (MIN_TAG..=MAX_TAG).step_by(TAG_STEP as usize).collect();
        assert_eq!(tags.len(), 14);
        assert_eq!(max_concurrent(), 14);
        assert_eq!(tags[0], 7);
        assert_eq!(tags[13], 59);
        assert!(tags.iter().all(|t| t & 0b11 == 0b11));
    }

    #[test]
    fn retries_back_off_exponentially_up_to_five_minutes() {
        assert_eq!(backoff(1), Duration::from_secs(5));
        assert_eq!(backoff(2), Duration::from_secs(10));
        assert_eq!(backoff(4), Duration::from_secs(40));
        assert_eq!(backoff(7), Duration::from_secs(300));
        assert_eq!(backoff(40), Duration::from_secs(300));
    }

    #[test]
    fn protocols_follow_the_agent() {
        assert_eq!(low_byte(6), 6);
        assert_eq!(low_byte(256 + 17), 17);
    }
}
