//! The applier: carries out a [`Plan`] against the API server.
//!
//! - Creates and updates are server-side applies with one field manager (forced), carrying
//!   only `metadata.name`, our labels and annotations, and `spec`: status and every other
//!   field stay with their owners.
//! - Writes run stage by stage (tiers, criterion groups, parent groups, policies; see
//!   [`write_stage`]), stages one after the other, the objects of a stage with bounded
//!   concurrency; deletes run after every write, in the plan's (reverse) order, also stage by
//!   stage.
//! - A create first reads the object (one GET, or, for more than [`LIST_THRESHOLD`] creates of
//!   a kind, one metadata-only LIST of the kind): an object of that name that is not ours (no
//!   ownership labels for this cluster) is never overwritten; it becomes a rejected write.
//! - Conflicts (409), throttling (429, honouring `Retry-After`), server errors (5xx, which
//!   include a webhook that cannot be called), transport errors and the refusal of a policy
//!   whose just-created Tier the webhook cannot see yet are retried with exponential backoff,
//!   a bounded number of times.
//! - A refusal (400, 403, 422: schema or admission) becomes [`WriteFailure::Rejected`] with
//!   the `Status` message, and the rest of the plan goes on.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use adapter_core::ccp::naming::is_owned;
use adapter_core::ccp::objects::write_stage;
use adapter_core::ccp::{
    AntreaKind, AntreaObject, ClusterIdentity, ObjectKey, ObservedState, Plan, PlanAction,
    WriteFailure,
};
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// The field manager of every write of the CCP adapter.
pub const FIELD_MANAGER: &str = "antrea-nsx-ccp-adapter";

/// Above this many creates of one kind, their existence is checked with one metadata-only
/// LIST of the kind instead of one GET each.
pub const LIST_THRESHOLD: usize = 50;

/// What is known, before a create, about an object of the same name.
#[derive(Debug, Clone)]
enum Existing {
    /// Not known: read it.
    Unknown,
    /// Listed: absent (`None`) or present with this metadata.
    Listed(Option<Box<ObjectMeta>>),
}

/// How the applier writes.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplierOptions {
    /// The server-side apply field manager.
    pub field_manager: String,
    /// Writes in flight at once within a stage (the real product's reconciler runs 8
    /// workers). At least 1.
    pub workers: usize,
    /// Most write requests per second, all workers together; `None` leaves them unthrottled.
    pub writes_per_second: Option<u32>,
    /// Attempts of one write before it is given up (at least 1).
    pub max_attempts: u32,
    /// First retry delay (doubling, with the cap below).
    pub initial_backoff: Duration,
    /// Longest retry delay; also the cap on a server's `Retry-After`.
    pub max_backoff: Duration,
}

impl Default for ApplierOptions {
    fn default() -> Self {
        ApplierOptions {
            field_manager: FIELD_MANAGER.to_owned(),
            workers: 8,
            writes_per_second: None,
            max_attempts: 8,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// What happened to one planned step.
#[derive(Debug, Clone, PartialEq)]
pub enum StepResult {
    /// Created or updated; the object's new `resourceVersion`.
    Written { resource_version: Option<String> },
    /// Deleted (or already gone).
    Deleted,
    /// Given up.
    Failed(WriteFailure),
}

/// The result of applying a plan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApplyOutcome {
    /// Each step's result, by object.
    pub results: BTreeMap<ObjectKey, StepResult>,
    /// Write requests sent (creates, updates, deletes, retries included; reads excluded).
    pub write_requests: u64,
    /// Requests retried after a transient error.
    pub retries: u64,
}

impl ApplyOutcome {
    /// The failed steps.
    pub fn failures(&self) -> BTreeMap<ObjectKey, WriteFailure> {
        self.results
            .iter()
            .filter_map(|(key, result)| match result {
                StepResult::Failed(failure) => Some((key.clone(), failure.clone())),
                _ => None,
            })
            .collect()
    }

    /// Whether a failure may go away by itself (the API was unavailable or erred), as
    /// opposed to a refusal that needs a different object.
    pub fn has_transient_failures(&self) -> bool {
        self.results.values().any(|result| {
            matches!(
                result,
                StepResult::Failed(WriteFailure::Unavailable { .. } | WriteFailure::Failed { .. })
            )
        })
    }
}

/// Counters shared by every apply of one applier.
#[derive(Debug, Default)]
pub struct ApplierCounters {
    /// Write requests sent.
    pub write_requests: AtomicU64,
    /// Steps given up.
    pub write_failures: AtomicU64,
    /// Retried requests.
    pub retries: AtomicU64,
}

/// Executes plans against the API server.
#[derive(Clone)]
pub struct Applier {
    client: kube::Client,
    identity: ClusterIdentity,
    options: ApplierOptions,
    limiter: Arc<RateLimiter>,
    counters: Arc<ApplierCounters>,
}

impl std::fmt::Debug for Applier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Applier")
            .field("identity", &self.identity)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// The API resource of a kind (all `crd.antrea.io/v1beta1`, cluster-scoped).
pub fn api_resource(kind: AntreaKind) -> ApiResource {
    let plural = match kind {
        AntreaKind::Tier => "tiers",
        AntreaKind::ClusterGroup => "clustergroups",
        AntreaKind::ClusterNetworkPolicy => "clusternetworkpolicies",
    };
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("crd.antrea.io", "v1beta1", kind.as_str()),
        plural,
    )
}

/// The server-side apply body of an object: name, labels, annotations and spec only.
pub fn apply_body(object: &AntreaObject) -> Value {
    let value = object.to_value();
    let meta = object.meta();
    let mut metadata = json!({"name": object.name()});
    if let Some(labels) = &meta.labels {
        metadata["labels"] = json!(labels);
    }
    if let Some(annotations) = &meta.annotations {
        metadata["annotations"] = json!(annotations);
    }
    json!({
        "apiVersion": object.kind().api_version(),
        "kind": object.kind().as_str(),
        "metadata": metadata,
        "spec": value.get("spec").cloned().unwrap_or_else(|| json!({})),
    })
}

/// How an API error is handled.
#[derive(Debug, Clone, PartialEq)]
enum ErrorClass {
    /// Retry after the backoff (or the server's delay).
    Transient {
        after: Option<Duration>,
        failure: WriteFailure,
    },
    /// Retry a few times: the webhook may not see a just-created Tier yet.
    NotYetVisible(WriteFailure),
    /// Give up at once.
    Permanent(WriteFailure),
    /// The object does not exist.
    NotFound,
}

fn classify(error: &kube::Error) -> ErrorClass {
    match error {
        kube::Error::Api(status) => {
            let code = status.code;
            let message = if status.message.is_empty() {
                status.reason.clone()
            } else {
                status.message.clone()
            };
            let retry_after = status
                .details
                .as_ref()
                .map(|details| details.retry_after_seconds)
                .filter(|seconds| *seconds > 0)
                .map(|seconds| Duration::from_secs(u64::from(seconds)));
            match code {
                404 => ErrorClass::NotFound,
                409 | 429 => ErrorClass::Transient {
                    after: retry_after.or((code == 429).then_some(Duration::from_secs(1))),
                    failure: WriteFailure::Failed { code, message },
                },
                400 | 403 | 422
                    if message.contains("does not exist") && message.contains("tier") =>
                {
                    ErrorClass::NotYetVisible(WriteFailure::Rejected { message })
                }
                400 | 403 | 422 => ErrorClass::Permanent(WriteFailure::Rejected { message }),
                500.. => ErrorClass::Transient {
                    after: retry_after,
                    failure: WriteFailure::Failed { code, message },
                },
                _ => ErrorClass::Permanent(WriteFailure::Failed { code, message }),
            }
        }
        other => ErrorClass::Transient {
            after: None,
            failure: WriteFailure::Unavailable {
                message: other.to_string(),
            },
        },
    }
}

/// Spaces requests at most `rate` per second.
#[derive(Debug)]
struct RateLimiter {
    interval: Option<Duration>,
    next: Mutex<Instant>,
}

impl RateLimiter {
    fn new(rate: Option<u32>) -> RateLimiter {
        RateLimiter {
            interval: rate
                .filter(|rate| *rate > 0)
                .map(|rate| Duration::from_secs(1) / rate),
            next: Mutex::new(Instant::now()),
        }
    }

    async fn acquire(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let at = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

impl Applier {
    /// An applier writing as `options.field_manager`, touching only objects owned by
    /// `identity`.
    pub fn new(client: kube::Client, identity: ClusterIdentity, options: ApplierOptions) -> Self {
        let limiter = Arc::new(RateLimiter::new(options.writes_per_second));
        Applier {
            client,
            identity,
            options,
            limiter,
            counters: Arc::default(),
        }
    }

    /// The counters of every apply so far.
    pub fn counters(&self) -> Arc<ApplierCounters> {
        self.counters.clone()
    }

    fn api(&self, kind: AntreaKind) -> Api<DynamicObject> {
        Api::all_with(self.client.clone(), &api_resource(kind))
    }

    /// Applies `plan`. `observed` is the state the plan was made from (it gives the stage of
    /// each object to delete).
    pub async fn apply(&self, plan: &Plan, observed: &ObservedState) -> ApplyOutcome {
        let mut outcome = ApplyOutcome::default();
        let live = observed.index();
        // Owned copies: the concurrent steps borrow nothing from the caller.
        let mut write_stages: BTreeMap<u8, Vec<(AntreaObject, bool)>> = BTreeMap::new();
        let mut delete_stages: BTreeMap<std::cmp::Reverse<u8>, Vec<ObjectKey>> = BTreeMap::new();
        for action in &plan.actions {
            match action {
                PlanAction::Create(object) => write_stages
                    .entry(write_stage(object))
                    .or_default()
                    .push((object.clone(), true)),
                PlanAction::Update { object, .. } => write_stages
                    .entry(write_stage(object))
                    .or_default()
                    .push((object.clone(), false)),
                PlanAction::Delete(key) => {
                    let stage = live.get(key).map_or(3, write_stage);
                    delete_stages
                        .entry(std::cmp::Reverse(stage))
                        .or_default()
                        .push(key.clone());
                }
            }
        }
        let listed = self.list_for_creates(&write_stages).await;
        let workers = self.options.workers.max(1);
        for (stage, objects) in write_stages {
            tracing::debug!(stage, objects = objects.len(), "writing a stage");
            let steps: Vec<_> = objects
                .into_iter()
                .map(|(object, create)| {
                    let applier = self.clone();
                    let existing = if !create {
                        None
                    } else if listed.contains_key(&object.kind()) {
                        Some(Existing::Listed(
                            listed
                                .get(&object.kind())
                                .and_then(|names| names.get(object.name()))
                                .cloned()
                                .map(Box::new),
                        ))
                    } else {
                        Some(Existing::Unknown)
                    };
                    async move {
                        let mut tally = Tally::default();
                        let result = applier.write(&object, existing, &mut tally).await;
                        (object.key(), result, tally)
                    }
                })
                .collect();
            let results: Vec<(ObjectKey, StepResult, Tally)> = futures::stream::iter(steps)
                .buffer_unordered(workers)
                .collect()
                .await;
            self.record(&mut outcome, results);
        }
        for (_, keys) in delete_stages {
            let steps: Vec<_> = keys
                .into_iter()
                .map(|key| {
                    let applier = self.clone();
                    async move {
                        let mut tally = Tally::default();
                        let result = applier.delete(&key, &mut tally).await;
                        (key, result, tally)
                    }
                })
                .collect();
            let results: Vec<(ObjectKey, StepResult, Tally)> = futures::stream::iter(steps)
                .buffer_unordered(workers)
                .collect()
                .await;
            self.record(&mut outcome, results);
        }
        outcome
    }

    fn record(&self, outcome: &mut ApplyOutcome, results: Vec<(ObjectKey, StepResult, Tally)>) {
        for (key, result, tally) in results {
            outcome.write_requests += tally.requests;
            outcome.retries += tally.retries;
            self.counters
                .write_requests
                .fetch_add(tally.requests, Ordering::Relaxed);
            self.counters
                .retries
                .fetch_add(tally.retries, Ordering::Relaxed);
            if let StepResult::Failed(failure) = &result {
                self.counters.write_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(object = %key, ?failure, "write failed");
            }
            outcome.results.insert(key, result);
        }
    }

    /// Runs `request` with retries; `None` for not found.
    async fn with_retries<T, F, Fut>(
        &self,
        what: &ObjectKey,
        tally: &mut Tally,
        counts_as_write: bool,
        mut request: F,
    ) -> Result<Option<T>, WriteFailure>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, kube::Error>>,
    {
        let mut delay = self.options.initial_backoff;
        let attempts = self.options.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            if counts_as_write {
                self.limiter.acquire().await;
                tally.requests += 1;
            }
            let error = match request().await {
                Ok(value) => return Ok(Some(value)),
                Err(error) => error,
            };
            let (after, failure) = match classify(&error) {
                ErrorClass::NotFound => return Ok(None),
                ErrorClass::Permanent(failure) => return Err(failure),
                ErrorClass::NotYetVisible(failure) => (None, failure),
                ErrorClass::Transient { after, failure } => (after, failure),
            };
            if attempt >= attempts {
                return Err(failure);
            }
            tally.retries += 1;
            let wait = after.unwrap_or(delay).min(self.options.max_backoff);
            tracing::debug!(object = %what, attempt, ?wait, %error, "retrying");
            tokio::time::sleep(wait).await;
            delay = (delay * 2).min(self.options.max_backoff);
        }
    }

    /// For kinds with more than [`LIST_THRESHOLD`] creates: the metadata of every object of
    /// the kind, by name (a kind whose LIST fails is left out: its creates read one by one).
    async fn list_for_creates(
        &self,
        stages: &BTreeMap<u8, Vec<(AntreaObject, bool)>>,
    ) -> BTreeMap<AntreaKind, HashMap<String, ObjectMeta>> {
        let mut creates: BTreeMap<AntreaKind, usize> = BTreeMap::new();
        for (object, create) in stages.values().flatten() {
            if *create {
                *creates.entry(object.kind()).or_default() += 1;
            }
        }
        let mut listed = BTreeMap::new();
        for (kind, count) in creates {
            if count <= LIST_THRESHOLD {
                continue;
            }
            match self.api(kind).list_metadata(&ListParams::default()).await {
                Ok(list) => {
                    let names = list
                        .items
                        .into_iter()
                        .filter_map(|item| Some((item.metadata.name.clone()?, item.metadata)))
                        .collect();
                    listed.insert(kind, names);
                }
                Err(error) => {
                    tracing::debug!(%kind, %error, "listing before creates failed; reading one by one");
                }
            }
        }
        listed
    }

    async fn write(
        &self,
        object: &AntreaObject,
        existing: Option<Existing>,
        tally: &mut Tally,
    ) -> StepResult {
        let key = object.key();
        let api = self.api(key.kind);
        // A create never takes over an object of that name that is not ours.
        let found = match existing {
            None => None,
            Some(Existing::Listed(meta)) => meta.map(|meta| *meta),
            Some(Existing::Unknown) => {
                match self
                    .with_retries(&key, tally, false, || api.get(&key.name))
                    .await
                {
                    Err(failure) => return StepResult::Failed(failure),
                    Ok(found) => found.map(|found| found.metadata),
                }
            }
        };
        if let Some(meta) = found
            && !is_owned(&meta, &self.identity)
        {
            return StepResult::Failed(WriteFailure::Rejected {
                message: not_ours_message(&key, &meta),
            });
        }
        let patch = Patch::Apply(apply_body(object));
        let params = PatchParams::apply(&self.options.field_manager).force();
        let result = self
            .with_retries(&key, tally, true, || api.patch(&key.name, &params, &patch))
            .await;
        match result {
            Ok(Some(written)) => StepResult::Written {
                resource_version: written.metadata.resource_version,
            },
            Ok(None) => StepResult::Failed(WriteFailure::Failed {
                code: 404,
                message: format!("{key}: the API server does not know this kind"),
            }),
            Err(failure) => StepResult::Failed(failure),
        }
    }

    async fn delete(&self, key: &ObjectKey, tally: &mut Tally) -> StepResult {
        let api = self.api(key.kind);
        // Re-check ownership on the live object: the plan only deletes what it saw as
        // ours, and a delete is never sent for anything else.
        let existing = self
            .with_retries(key, tally, false, || api.get(&key.name))
            .await;
        let found = match existing {
            Err(failure) => return StepResult::Failed(failure),
            Ok(None) => return StepResult::Deleted,
            Ok(Some(found)) => found,
        };
        if !is_owned(&found.metadata, &self.identity) {
            return StepResult::Failed(WriteFailure::Rejected {
                message: not_ours_message(key, &found.metadata),
            });
        }
        let params = DeleteParams {
            preconditions: found
                .metadata
                .uid
                .clone()
                .map(|uid| kube::api::Preconditions {
                    uid: Some(uid),
                    resource_version: None,
                }),
            ..DeleteParams::default()
        };
        match self
            .with_retries(key, tally, true, || api.delete(&key.name, &params))
            .await
        {
            Ok(_) => StepResult::Deleted,
            Err(WriteFailure::Failed { code: 409, .. }) => {
                // The uid precondition failed: the object was replaced meanwhile; the next
                // plan decides about the new one.
                StepResult::Deleted
            }
            Err(failure) => StepResult::Failed(failure),
        }
    }
}

fn not_ours_message(key: &ObjectKey, meta: &ObjectMeta) -> String {
    let owner = meta
        .labels
        .as_ref()
        .and_then(|labels| labels.get(adapter_core::ccp::naming::CLUSTER_ID_LABEL))
        .map_or_else(String::new, |cluster| {
            format!(" (it belongs to cluster {cluster})")
        });
    format!(
        "{key} already exists and is not owned by this adapter for this cluster{owner}; it is left untouched"
    )
}

/// Requests of one step.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    requests: u64,
    retries: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api_error(code: u16, message: &str) -> kube::Error {
        kube::Error::Api(
            Status {
                code,
                message: message.to_owned(),
                ..Status::default()
            }
            .boxed(),
        )
    }

    #[test]
    fn errors_are_classified_as_the_api_conventions_say() {
        assert_eq!(classify(&api_error(404, "gone")), ErrorClass::NotFound);
        assert!(matches!(
            classify(&api_error(409, "modified")),
            ErrorClass::Transient { .. }
        ));
        assert!(matches!(
            classify(&api_error(429, "slow down")),
            ErrorClass::Transient { after: Some(after), .. } if after == Duration::from_secs(1)
        ));
        assert!(matches!(
            classify(&api_error(503, "failed calling webhook")),
            ErrorClass::Transient { .. }
        ));
        assert_eq!(
            classify(&api_error(403, "tier nsx-application does not exist")),
            ErrorClass::NotYetVisible(WriteFailure::Rejected {
                message: "tier nsx-application does not exist".into()
            })
        );
        assert_eq!(
            classify(&api_error(422, "spec.priority: Invalid value")),
            ErrorClass::Permanent(WriteFailure::Rejected {
                message: "spec.priority: Invalid value".into()
            })
        );
    }

    #[test]
    fn the_apply_body_carries_spec_labels_and_annotations_only() {
        let mut tier = antrea_types::Tier::new(
            "t",
            antrea_types::TierSpec {
                priority: 10,
                description: None,
            },
        );
        tier.metadata.labels = Some([("a".to_owned(), "b".to_owned())].into());
        tier.metadata.resource_version = Some("7".into());
        tier.metadata.uid = Some("u".into());
        let body = apply_body(&AntreaObject::Tier(tier));
        assert_eq!(
            body,
            json!({"apiVersion": "crd.antrea.io/v1beta1", "kind": "Tier",
                   "metadata": {"name": "t", "labels": {"a": "b"}}, "spec": {"priority": 10}})
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_limiter_spaces_requests() {
        let limiter = RateLimiter::new(Some(10));
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        assert_eq!(Instant::now() - start, Duration::from_millis(400));
        let unlimited = RateLimiter::new(None);
        let start = Instant::now();
        unlimited.acquire().await;
        assert_eq!(Instant::now(), start);
    }
}
