//! The CCP adapter's reconcile loop.
//!
//! One task waits for a trigger — a new desired state, a change of an owned object, a
//! connection change, a `RealizationRefresh`, or a timer (retry after a transient failure,
//! the earliest realization deadline, the error re-report period, the resync period) — then
//! waits `debounce` for more and runs one pass:
//!
//! 1. translate the desired state, only when it changed (on a blocking thread);
//! 2. plan against the reflector's owned objects, leaving out writes the reflector has not
//!    seen come back yet (in flight) and refusals of the same rendering;
//! 3. apply the plan (tiers, child groups, parent groups, policies; deletes last);
//! 4. compute realization from the owned objects' status, the write failures and the
//!    applied-at times, and report to NSX the states that changed (all of them, `complete`,
//!    after each new session; errors again every `error_report_interval`), plus the deleted
//!    NSX objects whose Antrea objects are gone.
//!
//! Nothing is remembered across restarts: the first pass of a new process plans against
//! what the cluster holds, so it writes only what differs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use adapter_core::ccp::naming::NSX_PATH_ANNOTATION;
use adapter_core::ccp::plan::UpdateReason;
use adapter_core::ccp::{
    AntreaKind, AntreaObject, ClusterIdentity, ObjectKey, ObservedState, PlanAction, Realization,
    RealizationInput, RealizationState, Translation, Translator, WriteFailure, gone, plan, realize,
};
use adapter_k8s::policy::{Applier, OwnedObjects, StepResult};
use adapter_nsx::channel::control::{ControlPlaneClient, SpanSnapshot};
use k8s_openapi::jiff::Timestamp;
use nsx_proto::v1 as wire;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::span::{to_span_reusing, unknown_kind_error, wire_realization};
use super::{CcpAdapterOptions, CcpMetrics, CcpStatus, RealizationCounts};

/// How long a write may stay unseen by the reflector before it is planned again anyway.
const IN_FLIGHT_EXPIRY: Duration = Duration::from_secs(10);
/// Longest a pass that wrote waits for the reflector to show its writes (so that the pass can
/// tell the cluster is synced without another pass).
const CATCH_UP_WAIT: Duration = Duration::from_secs(1);
/// Longest delay between retries of a pass after transient failures.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// A write the reflector has not shown back yet.
#[derive(Debug, Clone)]
struct InFlight {
    /// The `resourceVersion` the write returned; `None` for a delete.
    resource_version: Option<String>,
    since: Instant,
}

/// What was last reported for one NSX path.
#[derive(Debug, Clone, PartialEq)]
struct Reported {
    unique_id: String,
    revision: i64,
    state: i32,
    errors: Vec<wire::RealizationError>,
    entities: Vec<wire::RealizedEntity>,
}

impl Reported {
    fn of(realization: &wire::ObjectRealization) -> Reported {
        let object = realization.object.clone().unwrap_or_default();
        Reported {
            unique_id: object.unique_id,
            revision: object.revision,
            state: realization.state,
            errors: realization.errors.clone(),
            entities: realization.realized_entities.clone(),
        }
    }
}

/// The loop and its state.
pub struct Reconciler {
    options: CcpAdapterOptions,
    identity: ClusterIdentity,
    translator: Translator,
    applier: Applier,
    owned: OwnedObjects,
    channel: Arc<ControlPlaneClient>,
    status: watch::Sender<CcpStatus>,
    metrics: Arc<CcpMetrics>,

    /// `(epoch, applied)` of the snapshot translated.
    translated_for: Option<(String, u64)>,
    translation: Option<Arc<Translation>>,
    /// The channel state last translated and its parsed span (documents still the same
    /// objects are not parsed again).
    parsed: Option<(
        adapter_nsx::channel::control::SpanState,
        adapter_core::ccp::Span,
    )>,
    /// When the current version of each NSX path was first applied.
    applied_at: BTreeMap<String, Timestamp>,
    versions: HashMap<String, (String, i64)>,
    /// Refused writes, with the object refused: not retried until the rendering changes or
    /// a resync.
    rejected: HashMap<ObjectKey, (AntreaObject, WriteFailure)>,
    /// Writes that failed after retries (transient), until a write of the key succeeds.
    failed: BTreeMap<ObjectKey, WriteFailure>,
    in_flight: HashMap<ObjectKey, InFlight>,
    /// Paths of the desired state last translated.
    known_paths: BTreeSet<String>,
    /// Removed paths whose Antrea objects may still exist.
    pending_gone: BTreeSet<String>,
    reported: HashMap<String, Reported>,
    /// The next report must list everything (`complete`).
    complete_due: bool,
    /// The next report must repeat every ERROR.
    errors_due: bool,
    /// Paths NSX asked to hear about again.
    refresh: BTreeSet<String>,
    sessions_seen: u64,
    retry_delay: Duration,
    retry_at: Option<Instant>,
    realize_deadline: Option<Instant>,
    last_error: Option<String>,
    /// The owned objects of the previous pass (a create of one of them repairs a deletion
    /// by hand).
    last_live: std::collections::HashSet<ObjectKey>,
}

impl Reconciler {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        options: CcpAdapterOptions,
        identity: ClusterIdentity,
        translator: Translator,
        applier: Applier,
        owned: OwnedObjects,
        channel: Arc<ControlPlaneClient>,
        status: watch::Sender<CcpStatus>,
        metrics: Arc<CcpMetrics>,
    ) -> Self {
        let retry_delay = options.retry_delay;
        Reconciler {
            options,
            identity,
            translator,
            applier,
            owned,
            channel,
            status,
            metrics,
            translated_for: None,
            translation: None,
            parsed: None,
            applied_at: BTreeMap::new(),
            versions: HashMap::new(),
            rejected: HashMap::new(),
            failed: BTreeMap::new(),
            in_flight: HashMap::new(),
            known_paths: BTreeSet::new(),
            pending_gone: BTreeSet::new(),
            reported: HashMap::new(),
            complete_due: true,
            errors_due: false,
            refresh: BTreeSet::new(),
            sessions_seen: 0,
            retry_delay,
            retry_at: None,
            realize_deadline: None,
            last_error: None,
            last_live: std::collections::HashSet::new(),
        }
    }

    /// Runs until `cancel` fires.
    pub(crate) async fn run(mut self, cancel: CancellationToken) {
        let mut desired = self.channel.desired_state();
        let mut connection = self.channel.connection();
        let mut changes = self.owned.changes();
        let mut refresh = self.channel.take_refresh_requests();
        let far = Duration::from_secs(365 * 86_400);
        let mut resync_at = Instant::now() + self.options.resync_interval;
        let mut errors_at = Instant::now() + self.options.error_report_interval;
        // Nothing can be planned before every kind was listed once (the API server may be
        // unreachable at start: keep waiting, but stop when asked to).
        tokio::select! {
            () = cancel.cancelled() => return,
            () = self.owned.wait_ready() => {}
        }
        loop {
            let timer = [self.retry_at, self.realize_deadline]
                .into_iter()
                .flatten()
                .chain([resync_at, errors_at])
                .min()
                .unwrap_or_else(|| Instant::now() + far);
            let mut full = false;
            tokio::select! {
                () = cancel.cancelled() => break,
                changed = desired.changed() => {
                    if changed.is_err() { break }
                    let received = desired.borrow().generation;
                    self.status.send_if_modified(|status| {
                        std::mem::replace(&mut status.received_generation, received) != received
                    });
                }
                changed = changes.changed() => if changed.is_err() { break },
                changed = connection.changed() => {
                    if changed.is_err() { break }
                    self.connection_changed(&connection.borrow_and_update().clone());
                }
                request = async {
                    match refresh.as_mut() {
                        Some(receiver) => receiver.recv().await,
                        None => std::future::pending().await,
                    }
                } => match request {
                    Some(request) => self.refresh_requested(&request),
                    None => refresh = None,
                },
                () = tokio::time::sleep_until(timer) => {
                    let now = Instant::now();
                    if now >= resync_at {
                        resync_at = now + self.options.resync_interval;
                        full = true;
                    }
                    if now >= errors_at {
                        errors_at = now + self.options.error_report_interval;
                        self.errors_due = true;
                    }
                    if self.retry_at.is_some_and(|at| now >= at) {
                        self.retry_at = None;
                    }
                    // Recomputed by the pass (never a deadline in the past twice).
                    if self.realize_deadline.is_some_and(|at| now >= at) {
                        self.realize_deadline = None;
                    }
                }
            }
            // Coalesce a burst of changes into one pass.
            if !self.options.debounce.is_zero() {
                tokio::select! {
                    () = cancel.cancelled() => break,
                    () = tokio::time::sleep(self.options.debounce) => {}
                }
            }
            desired.borrow_and_update();
            changes.borrow_and_update();
            if connection.has_changed().unwrap_or(false) {
                self.connection_changed(&connection.borrow_and_update().clone());
            }
            if full {
                self.metrics.resyncs.fetch_add(1, Ordering::Relaxed);
                self.rejected.clear();
                self.in_flight.clear();
            }
            self.pass().await;
        }
    }

    fn connection_changed(&mut self, status: &adapter_nsx::channel::ConnectionStatus) {
        if status.sessions_established > self.sessions_seen {
            if self.sessions_seen > 0 {
                self.metrics.reconnects.fetch_add(
                    status.sessions_established - self.sessions_seen,
                    Ordering::Relaxed,
                );
            }
            self.sessions_seen = status.sessions_established;
            // A new session starts with a snapshot: answer it with a complete report.
            self.complete_due = true;
        }
        let connected = status.is_connected();
        self.status.send_modify(|s| s.connected = connected);
    }

    fn refresh_requested(&mut self, request: &wire::RealizationRefresh) {
        if request.objects.is_empty() {
            self.complete_due = true;
        } else {
            self.refresh
                .extend(request.objects.iter().map(|object| object.path.clone()));
        }
    }

    /// Translates the desired state if it changed since the last translation.
    async fn translate(&mut self, snapshot: &Arc<SpanSnapshot>) {
        let key = (snapshot.epoch.clone(), snapshot.applied);
        if self.translated_for.as_ref() == Some(&key) {
            return;
        }
        let started = Instant::now();
        let translator = self.translator.clone();
        let state = snapshot.clone();
        let previous = self.parsed.take();
        let translation = tokio::task::spawn_blocking(move || {
            let span = to_span_reusing(&state.state, previous);
            let translation = translator.translate(&span);
            let retranslated = translator.policies_translated_last();
            (translation, span, retranslated)
        })
        .await;
        let (translation, retranslated) = match translation {
            Ok((translation, span, retranslated)) => {
                self.parsed = Some((snapshot.state.clone(), span));
                (Arc::new(translation), retranslated)
            }
            Err(error) => {
                tracing::error!(%error, "translation task failed");
                self.last_error = Some(format!("translation failed: {error}"));
                return;
            }
        };
        self.metrics.translations.fetch_add(1, Ordering::Relaxed);
        let refused = translation
            .verdicts
            .iter()
            .filter(|verdict| !verdict.errors().is_empty())
            .count() as u64;
        self.status.send_if_modified(|status| {
            std::mem::replace(&mut status.refused_objects, refused) != refused
        });
        tracing::info!(
            generation = snapshot.generation,
            objects = translation.desired.len(),
            policies_translated = retranslated,
            elapsed_ms = started.elapsed().as_millis(),
            "translated the desired state"
        );
        for verdict in &translation.verdicts {
            for error in verdict.errors() {
                tracing::debug!(path = %verdict.id.path, %error, "refused");
            }
        }
        if self
            .translated_for
            .as_ref()
            .is_none_or(|(epoch, _)| *epoch != snapshot.epoch)
        {
            self.metrics.resyncs.fetch_add(1, Ordering::Relaxed);
        }
        let now = Timestamp::now();
        let mut paths = BTreeSet::new();
        for verdict in &translation.verdicts {
            paths.insert(verdict.id.path.clone());
            let version = (verdict.id.unique_id.clone(), verdict.id.revision);
            if self.versions.get(&verdict.id.path) != Some(&version) {
                self.versions.insert(verdict.id.path.clone(), version);
                self.applied_at.insert(verdict.id.path.clone(), now);
            }
        }
        paths.extend(snapshot.state.services.keys().cloned());
        paths.extend(snapshot.state.unknown.keys().cloned());
        for removed in self.known_paths.difference(&paths) {
            self.pending_gone.insert(removed.clone());
        }
        self.pending_gone.retain(|path| !paths.contains(path));
        self.versions.retain(|path, _| paths.contains(path));
        self.applied_at.retain(|path, _| paths.contains(path));
        self.known_paths = paths;
        self.translation = Some(translation);
        self.translated_for = Some(key);
    }

    /// Whether the reflector shows the result of an in-flight write; `live` is the
    /// `resourceVersion` of the object the reflector has (`None`: it has none).
    fn seen(flight: &InFlight, live: Option<&str>) -> bool {
        match (&flight.resource_version, live) {
            (None, live) => live.is_none(),
            (Some(_), None) => false,
            (Some(written), Some(current)) => {
                current == written
                    || matches!(
                        (current.parse::<u64>(), written.parse::<u64>()),
                        (Ok(current), Ok(written)) if current >= written
                    )
            }
        }
    }

    /// One pass; counted when it is over.
    async fn pass(&mut self) {
        self.reconcile().await;
        self.metrics.passes.fetch_add(1, Ordering::Relaxed);
    }

    async fn reconcile(&mut self) {
        let snapshot = self.channel.desired_state().borrow().clone();
        if !snapshot.is_synced() || !self.owned.is_ready() {
            // Before the first snapshot nothing is known to be desired: touch nothing.
            return;
        }
        self.translate(&snapshot).await;
        let Some(translation) = self.translation.clone() else {
            return;
        };
        let observed = self.owned.observed();
        let live = resource_versions(&observed);
        // Objects left behind by an earlier run, or by a removal: reported gone once deleted.
        self.pending_gone
            .extend(stale_paths(&observed, &self.known_paths));

        // Plan, without writes the reflector has not shown back yet, and without refusals
        // of the same rendering.
        let now = Instant::now();
        self.in_flight.retain(|key, flight| {
            now.duration_since(flight.since) < IN_FLIGHT_EXPIRY
                && !Self::seen(flight, live.get(key).map(String::as_str))
        });
        let mut planned = plan(&translation.desired, &observed, &self.identity);
        if !self.rejected.is_empty() {
            let desired_index = translation.desired.index();
            self.rejected
                .retain(|key, (object, _)| desired_index.get(key) == Some(object));
        }
        if !self.failed.is_empty() {
            let desired_keys = resource_versions(&translation.desired);
            self.failed
                .retain(|key, _| desired_keys.contains_key(key) || live.contains_key(key));
        }
        planned.actions.retain(|action| {
            let key = action.key();
            if self.in_flight.contains_key(&key) {
                return false;
            }
            match action {
                PlanAction::Create(object) | PlanAction::Update { object, .. } => self
                    .rejected
                    .get(&key)
                    .is_none_or(|(refused, _)| refused != object),
                PlanAction::Delete(_) => true,
            }
        });
        let mut conflicts: BTreeMap<ObjectKey, WriteFailure> = planned
            .conflicts
            .iter()
            .map(|conflict| {
                (
                    conflict.key.clone(),
                    WriteFailure::Rejected {
                        message: conflict.reason.clone(),
                    },
                )
            })
            .collect();
        let mut wrote = false;
        let mut planned_failed = false;
        let mut transient = false;
        if !planned.actions.is_empty() {
            let drift = planned
                .actions
                .iter()
                .filter(|action| {
                    matches!(
                        action,
                        PlanAction::Update {
                            reason: UpdateReason::LiveSpecDiffers | UpdateReason::MetadataDiffers,
                            ..
                        }
                    ) || matches!(action, PlanAction::Create(object)
                        if self.last_live.contains(&object.key()))
                })
                .count();
            self.metrics
                .drift_repairs
                .fetch_add(drift as u64, Ordering::Relaxed);
            let (creates, updates, deletes) = planned.counts();
            tracing::info!(
                creates,
                updates,
                deletes,
                generation = snapshot.generation,
                "applying"
            );
            let started = Instant::now();
            let outcome = self.applier.apply(&planned, &observed).await;
            tracing::info!(
                requests = outcome.write_requests,
                failures = outcome.failures().len(),
                elapsed_ms = started.elapsed().as_millis(),
                "applied"
            );
            self.metrics
                .writes
                .fetch_add(outcome.write_requests, Ordering::Relaxed);
            self.metrics
                .write_retries
                .fetch_add(outcome.retries, Ordering::Relaxed);
            wrote = outcome.write_requests > 0;
            transient = outcome.has_transient_failures();
            let objects: HashMap<ObjectKey, &AntreaObject> = planned
                .actions
                .iter()
                .filter_map(|action| match action {
                    PlanAction::Create(object) | PlanAction::Update { object, .. } => {
                        Some((object.key(), object))
                    }
                    PlanAction::Delete(_) => None,
                })
                .collect();
            let now = Instant::now();
            for (key, result) in &outcome.results {
                match result {
                    StepResult::Written { resource_version } => {
                        self.failed.remove(key);
                        self.in_flight.insert(
                            key.clone(),
                            InFlight {
                                resource_version: resource_version.clone(),
                                since: now,
                            },
                        );
                    }
                    StepResult::Deleted => {
                        self.failed.remove(key);
                        self.in_flight.insert(
                            key.clone(),
                            InFlight {
                                resource_version: None,
                                since: now,
                            },
                        );
                    }
                    StepResult::Failed(failure) => {
                        planned_failed = true;
                        self.metrics.write_errors.fetch_add(1, Ordering::Relaxed);
                        self.last_error = Some(format!("{key}: {failure:?}"));
                        match (failure, objects.get(key)) {
                            (WriteFailure::Rejected { .. }, Some(object)) => {
                                self.rejected
                                    .insert(key.clone(), ((*object).clone(), failure.clone()));
                            }
                            _ => {
                                self.failed.insert(key.clone(), failure.clone());
                            }
                        }
                    }
                }
            }
        }
        if transient {
            self.retry_at = Some(Instant::now() + self.retry_delay);
            self.retry_delay = (self.retry_delay * 2).min(MAX_RETRY_DELAY);
        } else if self.failed.is_empty() {
            self.retry_delay = self.options.retry_delay;
        }

        let carried_out = wrote && !transient && self.failed.is_empty();
        if carried_out {
            self.catch_up().await;
        }

        let mut write_failures = self.failed.clone();
        write_failures.extend(
            self.rejected
                .iter()
                .map(|(key, (_, failure))| (key.clone(), failure.clone())),
        );
        write_failures.append(&mut conflicts);
        // Realization from the freshest view (the writes just made show as not yet updated
        // until the reflector sees them; their watch events trigger the next pass).
        let observed = if wrote {
            self.owned.observed()
        } else {
            observed
        };
        self.report(&snapshot, &translation, &observed, &write_failures)
            .await;
        // Every planned write done and shown back by the reflector: the cluster holds what
        // this pass planned from (a new plan would be empty).
        let all_written = planned.actions.is_empty()
            || (carried_out && !planned_failed && self.in_flight.is_empty());
        let synced = all_written && self.in_flight.is_empty() && self.failed.is_empty();
        if synced && self.rejected.is_empty() {
            self.last_error = None;
        }
        self.last_live = resource_versions(&observed).into_keys().collect();
        let owned_objects = observed.len() as u64;
        let last_error = self.last_error.clone();
        self.status.send_modify(|status| {
            status.synced = synced;
            status.epoch.clone_from(&snapshot.epoch);
            status.applied_generation = snapshot.generation;
            status.received_generation = status.received_generation.max(snapshot.generation);
            status.owned_objects = owned_objects;
            status.last_error = last_error;
        });
    }

    /// Waits, at most [`CATCH_UP_WAIT`], until the reflector shows every write in flight;
    /// those it shows are no longer in flight.
    async fn catch_up(&mut self) {
        let deadline = Instant::now() + CATCH_UP_WAIT;
        let mut changes = self.owned.changes();
        loop {
            let owned = &self.owned;
            self.in_flight
                .retain(|key, flight| !Self::seen(flight, owned.resource_version(key).as_deref()));
            if self.in_flight.is_empty() {
                return;
            }
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                () = tokio::time::sleep_until(deadline) => return,
            }
        }
    }

    /// Computes realization and sends what changed.
    async fn report(
        &mut self,
        snapshot: &SpanSnapshot,
        translation: &Translation,
        observed: &ObservedState,
        write_failures: &BTreeMap<ObjectKey, WriteFailure>,
    ) {
        let now = Timestamp::now();
        let realizations: Vec<Realization> = realize(&RealizationInput {
            translation,
            observed,
            write_failures,
            applied_at: &self.applied_at,
            now,
            timeout: self.options.realize_timeout,
        });
        // The earliest moment an IN_PROGRESS object times out.
        let timeout_ms =
            i64::try_from(self.options.realize_timeout.as_millis()).unwrap_or(i64::MAX);
        self.realize_deadline = realizations
            .iter()
            .filter(|r| r.state == RealizationState::InProgress)
            .filter_map(|r| self.applied_at.get(&r.id.path))
            .map(|since| {
                let left = since.as_millisecond() + timeout_ms - now.as_millisecond();
                Instant::now() + Duration::from_millis(u64::try_from(left.max(0)).unwrap_or(0) + 10)
            })
            .min();
        let mut counts = RealizationCounts::default();
        // `observed_at`, now (built in place: its type is prost's Timestamp).
        let mut observed_at = wire::ObjectRealization {
            observed_at: Some(Default::default()),
            ..wire::ObjectRealization::default()
        }
        .observed_at;
        if let Some(stamp) = observed_at.as_mut() {
            let since_epoch = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            stamp.seconds = i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX);
            stamp.nanos = i32::try_from(since_epoch.subsec_nanos()).unwrap_or(0);
        }
        let mut objects: Vec<wire::ObjectRealization> = Vec::new();
        for realization in &realizations {
            match realization.state {
                RealizationState::InProgress => counts.in_progress += 1,
                RealizationState::Success => counts.success += 1,
                RealizationState::Error => counts.error += 1,
            }
            objects.push(wire_realization(realization));
        }
        // Services have no Antrea objects of their own (problems are reported on the rules
        // that use them); unknown kinds are refused.
        for service in snapshot.state.services.values() {
            let error = service.invalid_document_error();
            objects.push(wire::ObjectRealization {
                object: Some(service.reference.clone()),
                state: if error.is_some() {
                    wire::RealizationState::Error
                } else {
                    wire::RealizationState::Success
                } as i32,
                errors: error.into_iter().collect(),
                ..wire::ObjectRealization::default()
            });
        }
        for unknown in snapshot.state.unknown.values() {
            counts.error += 1;
            objects.push(wire::ObjectRealization {
                object: Some(unknown.reference.clone()),
                state: wire::RealizationState::Error as i32,
                errors: vec![unknown_kind_error(unknown)],
                ..wire::ObjectRealization::default()
            });
        }
        self.metrics
            .realization_in_progress
            .store(counts.in_progress, Ordering::Relaxed);
        self.metrics
            .realization_success
            .store(counts.success, Ordering::Relaxed);
        self.metrics
            .realization_error
            .store(counts.error, Ordering::Relaxed);
        self.status
            .send_modify(|status| status.realization = counts);

        let complete = self.complete_due;
        let error_state = wire::RealizationState::Error as i32;
        let to_send: Vec<wire::ObjectRealization> = objects
            .into_iter()
            .filter(|object| {
                let path = object
                    .object
                    .as_ref()
                    .map(|o| o.path.as_str())
                    .unwrap_or_default();
                complete
                    || self.refresh.contains(path)
                    || (self.errors_due && object.state == error_state)
                    || self.reported.get(path) != Some(&Reported::of(object))
            })
            .map(|mut object| {
                object.observed_at.clone_from(&observed_at);
                object
            })
            .collect();
        let gone_paths = gone(
            self.pending_gone.iter().map(String::as_str),
            observed,
            &self.identity,
        );
        let gone_refs: Vec<wire::ObjectRef> = gone_paths
            .iter()
            .map(|path| wire::ObjectRef {
                path: path.clone(),
                ..wire::ObjectRef::default()
            })
            .collect();
        if to_send.is_empty() && gone_refs.is_empty() && !complete {
            self.errors_due = false;
            return;
        }
        let sent_states: Vec<(String, Reported)> = to_send
            .iter()
            .filter_map(|object| {
                let path = object.object.as_ref()?.path.clone();
                Some((path, Reported::of(object)))
            })
            .collect();
        let report = wire::RealizationReport {
            generation: snapshot.generation,
            objects: to_send,
            gone: gone_refs.clone(),
            complete,
        };
        match self.channel.report_realization(report).await {
            Ok(()) => {
                self.metrics.reports.fetch_add(1, Ordering::Relaxed);
                if complete {
                    self.reported.clear();
                }
                self.reported.extend(sent_states);
                for gone in &gone_refs {
                    self.pending_gone.remove(&gone.path);
                    self.reported.remove(&gone.path);
                }
                self.reported
                    .retain(|path, _| self.known_paths.contains(path));
                self.complete_due = false;
                self.errors_due = false;
                self.refresh.clear();
            }
            Err(error) => {
                // Reports are state: after the next session's snapshot everything is sent
                // again (`complete`).
                tracing::debug!(%error, "realization report not sent");
                self.complete_due = true;
            }
        }
    }
}

/// The `resourceVersion` of every object of a set, by key (without copying the objects).
fn resource_versions(objects: &ObservedState) -> HashMap<ObjectKey, String> {
    let entry =
        |kind: AntreaKind, meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            (
                ObjectKey::new(kind, meta.name.clone().unwrap_or_default()),
                meta.resource_version.clone().unwrap_or_default(),
            )
        };
    objects
        .tiers
        .iter()
        .map(|o| entry(AntreaKind::Tier, &o.metadata))
        .chain(
            objects
                .cluster_groups
                .iter()
                .map(|o| entry(AntreaKind::ClusterGroup, &o.metadata)),
        )
        .chain(
            objects
                .cluster_network_policies
                .iter()
                .map(|o| entry(AntreaKind::ClusterNetworkPolicy, &o.metadata)),
        )
        .collect()
}

/// NSX paths named by owned objects that are not in the desired state.
fn stale_paths(observed: &ObservedState, known: &BTreeSet<String>) -> BTreeSet<String> {
    observed
        .tiers
        .iter()
        .map(|object| &object.metadata)
        .chain(
            observed
                .cluster_groups
                .iter()
                .map(|object| &object.metadata),
        )
        .chain(
            observed
                .cluster_network_policies
                .iter()
                .map(|object| &object.metadata),
        )
        .filter_map(|meta| meta.annotations.as_ref()?.get(NSX_PATH_ANNOTATION))
        .filter(|path| !known.contains(*path))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use adapter_core::ccp::naming::NSX_PATH_ANNOTATION;
    use antrea_types::{ClusterGroup, ClusterGroupSpec};

    use super::*;

    fn group(name: &str, resource_version: &str, path: Option<&str>) -> ClusterGroup {
        let mut group = ClusterGroup::new(name, ClusterGroupSpec::default());
        group.metadata.resource_version = Some(resource_version.to_owned());
        group.metadata.annotations =
            path.map(|path| BTreeMap::from([(NSX_PATH_ANNOTATION.to_owned(), path.to_owned())]));
        group
    }

    #[test]
    fn an_in_flight_write_is_seen_once_the_reflector_reaches_its_version() {
        let flight = InFlight {
            resource_version: Some("12".into()),
            since: Instant::now(),
        };
        let (older, same, newer) = ("11", "12", "15");
        assert!(!Reconciler::seen(&flight, None));
        assert!(!Reconciler::seen(&flight, Some(older)));
        assert!(Reconciler::seen(&flight, Some(same)));
        assert!(Reconciler::seen(&flight, Some(newer)));
        let opaque = InFlight {
            resource_version: Some("abc".into()),
            since: Instant::now(),
        };
        assert!(!Reconciler::seen(&opaque, Some(newer)));
        let delete = InFlight {
            resource_version: None,
            since: Instant::now(),
        };
        assert!(!Reconciler::seen(&delete, Some(same)));
        assert!(Reconciler::seen(&delete, None));
    }

    #[test]
    fn stale_paths_are_the_annotated_paths_no_longer_desired() {
        let observed = ObservedState {
            cluster_groups: vec![
                group("a", "1", Some("/infra/domains/default/groups/kept")),
                group("b", "1", Some("/infra/domains/default/groups/removed")),
                group("c", "1", None),
            ],
            ..ObservedState::default()
        };
        let known = BTreeSet::from(["/infra/domains/default/groups/kept".to_owned()]);
        assert_eq!(
            stale_paths(&observed, &known),
            BTreeSet::from(["/infra/domains/default/groups/removed".to_owned()])
        );
    }

    #[test]
    fn a_report_differs_when_state_errors_or_version_differ() {
        let realization = wire::ObjectRealization {
            object: Some(wire::ObjectRef {
                path: "/p".into(),
                unique_id: "u".into(),
                revision: 1,
                ..wire::ObjectRef::default()
            }),
            state: wire::RealizationState::InProgress as i32,
            ..wire::ObjectRealization::default()
        };
        let mut newer = realization.clone();
        newer.object.as_mut().unwrap().revision = 2;
        let mut success = realization.clone();
        success.state = wire::RealizationState::Success as i32;
        let mut counted = realization.clone();
        counted.realized_nodes = 3;
        assert_ne!(Reported::of(&realization), Reported::of(&newer));
        assert_ne!(Reported::of(&realization), Reported::of(&success));
        // Node counts alone do not make a new report.
        assert_eq!(Reported::of(&realization), Reported::of(&counted));
    }
}
