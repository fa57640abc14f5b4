//! The inventory sync loop: ContainerCluster, first full comparison, batched deltas with
//! retries, periodic full comparison, flush at shutdown.
//!
//! A batch NSX refuses because of its content (a 4xx other than 401, 403, 408 and 429) is
//! bisected: its halves are sent one after the other, down to the single refused change,
//! which is logged, counted (`records_refused`) and set aside until its object changes
//! (the core's `InventoryIndex::split` / `refuse`). A refusal with 404 (an UPDATE of an
//! object NSX no longer holds) brings a full comparison forward; each periodic full
//! comparison gives the changes set aside another chance. Transport errors, 5xx and 429
//! return the batch for a plain retry with backoff, as before.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use std::collections::VecDeque;

use adapter_core::mp::inventory::project::project_cluster;
use adapter_core::mp::inventory::{DiffSummary, InventoryBatch};
use adapter_k8s::inventory::SharedInventory;
use adapter_nsx::rest::{NsxRestClient, RestError};
use nsx_model::inventory::{ContainerObject, ResourceType};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{MpAdapterOptions, MpMetrics, MpPhase, MpStatus};

/// NSX's error code for "the container cluster exists" (nsx-sim; NSX's own is not public).
const CLUSTER_EXISTS: i64 = 9409;

pub(crate) struct Syncer {
    pub(crate) rest: NsxRestClient,
    pub(crate) inventory: Arc<SharedInventory>,
    pub(crate) options: Arc<MpAdapterOptions>,
    pub(crate) metrics: Arc<MpMetrics>,
    pub(crate) status: Arc<watch::Sender<MpStatus>>,
}

/// Exponential retry delays.
struct Retry {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Retry {
    fn new(min: Duration, max: Duration) -> Self {
        Retry {
            min,
            max,
            next: min,
        }
    }

    fn delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    fn reset(&mut self) {
        self.next = self.min;
    }
}

/// Whether NSX refused a batch because of what it holds (a record it does not accept, an
/// UPDATE of an object it no longer has): worth bisecting rather than retrying as is. Not
/// for authentication, permission, timeout and throttling answers, which are about the
/// request, not its records.
fn refused_for_content(error: &RestError) -> bool {
    matches!(error, RestError::Api { status, .. }
        if status.is_client_error() && !matches!(status.as_u16(), 401 | 403 | 408 | 429))
}

/// NSX's own words in a refusal (its `ApiError` message, with related errors).
fn nsx_message(error: &RestError) -> String {
    match error {
        RestError::Api {
            error: Some(api), ..
        } => {
            let mut message = api.error_message.clone().unwrap_or_default();
            if let Some(details) = &api.details {
                message.push_str(" (");
                message.push_str(details);
                message.push(')');
            }
            for related in &api.related_errors {
                if let Some(text) = &related.error_message {
                    message.push_str("; ");
                    message.push_str(text);
                }
            }
            if message.is_empty() {
                error.to_string()
            } else {
                message
            }
        }
        _ => error.to_string(),
    }
}

/// What sending did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct SendOutcome {
    /// Something was sent (or set aside).
    sent: bool,
    /// NSX's answer suggests its inventory differs from what the adapter believes: compare
    /// now.
    compare: bool,
}

impl Syncer {
    fn set_error(&self, error: Option<String>) {
        self.status.send_if_modified(|s| {
            if s.inventory_error == error {
                return false;
            }
            s.inventory_error = error;
            true
        });
    }

    fn publish_counts(&self) {
        let (records, pending) = self.inventory.with(|s| {
            let index = s.projector.index();
            (index.len() as u64, index.pending_len() as u64)
        });
        self.metrics
            .inventory_objects
            .store(records, Ordering::Relaxed);
        self.metrics
            .inventory_pending
            .store(pending, Ordering::Relaxed);
        self.metrics
            .watch_events
            .store(self.inventory.events(), Ordering::Relaxed);
        self.status.send_if_modified(|s| {
            let changed = s.inventory_objects != records || s.pending_changes != pending;
            s.inventory_objects = records;
            s.pending_changes = pending;
            changed
        });
    }

    /// Finds the ContainerCluster, or creates it.
    async fn ensure_cluster(&self) -> Result<(), RestError> {
        let id = &self.options.cluster_id;
        if self.rest.get_container_cluster(id).await?.is_some() {
            return Ok(());
        }
        let ContainerObject::ContainerCluster(cluster) = project_cluster(&self.options.cluster)
        else {
            unreachable!("project_cluster returns a ContainerCluster");
        };
        match self.rest.create_container_cluster(&cluster).await {
            Ok(_) => {
                tracing::info!(cluster = %id, "ContainerCluster created");
                Ok(())
            }
            Err(RestError::Api {
                error: Some(api), ..
            }) if api.error_code == Some(CLUSTER_EXISTS) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Lists what NSX holds for the cluster and makes the pending changes its difference.
    async fn full_comparison(&self) -> Result<DiffSummary, RestError> {
        let id = &self.options.cluster_id;
        let mut listing: Vec<ContainerObject> = Vec::new();
        if let Some(cluster) = self.rest.get_container_cluster(id).await? {
            listing.push(ContainerObject::ContainerCluster(cluster));
        }
        for resource_type in ResourceType::ALL {
            if resource_type == ResourceType::ContainerCluster {
                continue;
            }
            listing.extend(self.rest.list_inventory(resource_type, id).await?);
        }
        let summary = self
            .inventory
            .with(|s| s.projector.index_mut().diff_against(listing))
            .map_err(|e| RestError::InvalidRequest(e.to_string()))?;
        self.metrics
            .full_comparisons
            .fetch_add(1, Ordering::Relaxed);
        let now = k8s_openapi::jiff::Timestamp::now().as_millisecond();
        self.status
            .send_modify(|s| s.last_full_comparison = Some(now));
        tracing::info!(
            creates = summary.creates,
            updates = summary.updates,
            deletes = summary.deletes,
            unchanged = summary.unchanged,
            "full comparison with NSX"
        );
        Ok(summary)
    }

    /// Sends the next batch if there is one, bisecting it when NSX refuses its content.
    /// `Err` when a request failed for another reason: every part not yet accepted is back
    /// in the queue.
    async fn send_one(&self) -> Result<SendOutcome, RestError> {
        let size = self.options.inventory_batch_size;
        let Some(batch) = self
            .inventory
            .with(|s| s.projector.index_mut().next_batch(size))
        else {
            return Ok(SendOutcome::default());
        };
        let mut outcome = SendOutcome {
            sent: true,
            compare: false,
        };
        let mut todo = VecDeque::from([batch]);
        while let Some(batch) = todo.pop_front() {
            let result = self
                .rest
                .post_inventory_updates(&self.options.cluster_id, &batch.data)
                .await;
            match result {
                Ok(()) => {
                    let acked = self
                        .inventory
                        .with(|s| s.projector.index_mut().ack(batch.id));
                    if let Err(error) = acked {
                        tracing::error!(%error, "acknowledging an inventory batch");
                    }
                    MpMetrics::add(&self.metrics.batches_sent, 1);
                    MpMetrics::add(&self.metrics.objects_sent, batch.len() as u64);
                    self.set_error(None);
                }
                Err(error) if refused_for_content(&error) => {
                    MpMetrics::add(&self.metrics.batches_failed, 1);
                    if matches!(&error, RestError::Api { status, .. } if status.as_u16() == 404) {
                        outcome.compare = true;
                    }
                    if batch.len() > 1 {
                        tracing::debug!(%error, objects = batch.len(), "NSX refused an inventory batch; bisecting");
                        match self
                            .inventory
                            .with(|s| s.projector.index_mut().split(batch))
                        {
                            Ok(halves) => {
                                for half in halves.into_iter().rev() {
                                    todo.push_front(half);
                                }
                            }
                            Err(split_error) => {
                                tracing::error!(%split_error, "splitting an inventory batch");
                            }
                        }
                    } else {
                        self.set_aside(&batch, &error);
                    }
                }
                Err(error) => {
                    todo.push_front(batch);
                    self.inventory.with(|s| {
                        for batch in &todo {
                            if let Err(error) = s.projector.index_mut().nack(batch.id) {
                                tracing::error!(%error, "returning an inventory batch");
                            }
                        }
                    });
                    let objects: usize = todo.iter().map(InventoryBatch::len).sum();
                    MpMetrics::add(&self.metrics.batches_failed, 1);
                    tracing::warn!(%error, objects, "inventory batch failed; will retry");
                    self.set_error(Some(error.to_string()));
                    return Err(error);
                }
            }
        }
        Ok(outcome)
    }

    /// NSX refused `batch`, a single change: log it, count it, and set it aside until its
    /// object changes.
    fn set_aside(&self, batch: &InventoryBatch, error: &RestError) {
        let refused = self
            .inventory
            .with(|s| s.projector.index_mut().refuse(batch));
        let refused = match refused {
            Ok(refused) => refused,
            Err(error) => {
                tracing::error!(%error, "setting a refused inventory change aside");
                return;
            }
        };
        let message = nsx_message(error);
        for record in &refused {
            tracing::error!(
                kind = %record.key.resource_type,
                namespace = record.namespace.as_deref().unwrap_or(""),
                name = record.name.as_deref().unwrap_or(""),
                uid = %record.key.external_id,
                operation = %record.update_type,
                nsx_error = %message,
                "NSX refused an inventory record; it is set aside until the object changes"
            );
        }
        MpMetrics::add(&self.metrics.records_refused, refused.len() as u64);
        if let Some(record) = refused.first() {
            self.set_error(Some(format!(
                "NSX refused {} {}: {message}",
                record.key.resource_type,
                record.name.as_deref().unwrap_or(&record.key.external_id)
            )));
        }
    }

    /// Sleeps `delay` unless cancelled first; returns whether it was cancelled.
    async fn pause(delay: Duration, cancel: &CancellationToken) -> bool {
        tokio::select! {
            () = cancel.cancelled() => true,
            () = tokio::time::sleep(delay) => false,
        }
    }

    /// Repeats `step` with backoff until it succeeds; `None` when cancelled.
    async fn until_ok<T, F, Fut>(
        &self,
        what: &str,
        cancel: &CancellationToken,
        step: F,
    ) -> Option<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, RestError>>,
    {
        let mut retry = Retry::new(self.options.retry_min_delay, self.options.retry_max_delay);
        loop {
            match step().await {
                Ok(value) => {
                    self.set_error(None);
                    return Some(value);
                }
                Err(error) => {
                    tracing::warn!(%error, "{what} failed; retrying");
                    self.set_error(Some(format!("{what}: {error}")));
                    if Self::pause(retry.delay(), cancel).await {
                        return None;
                    }
                }
            }
        }
    }

    pub(crate) async fn run(
        self,
        mut initial_lists: watch::Receiver<bool>,
        cancel: CancellationToken,
    ) {
        self.drive(&mut initial_lists, &cancel).await;
        self.flush().await;
        self.publish_counts();
        self.status.send_modify(|s| s.phase = MpPhase::Stopped);
    }

    async fn drive(&self, initial_lists: &mut watch::Receiver<bool>, cancel: &CancellationToken) {
        if self
            .until_ok("finding or creating the ContainerCluster", cancel, || {
                self.ensure_cluster()
            })
            .await
            .is_none()
        {
            return;
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            done = initial_lists.wait_for(|done| *done) => if done.is_err() { return },
        }
        self.status.send_modify(|s| {
            s.initial_lists_done = true;
            s.phase = MpPhase::InitialSync;
        });
        if self
            .until_ok("listing NSX's inventory", cancel, || self.full_comparison())
            .await
            .is_none()
        {
            return;
        }
        let options = &self.options;
        let period = options.inventory_batch_period;
        let mut retry = Retry::new(options.retry_min_delay, options.retry_max_delay);
        let mut first_pending: Option<Instant> = None;
        let mut next_comparison = Instant::now() + options.inventory_gc_period;
        let mut initial_sync_done = false;
        let mut comparison_wanted = false;
        loop {
            if cancel.is_cancelled() {
                return;
            }
            self.publish_counts();
            let pending = self.inventory.with(|s| s.projector.index().pending_len());
            let now = Instant::now();
            if pending == 0 {
                first_pending = None;
                if !initial_sync_done {
                    initial_sync_done = true;
                    self.status.send_modify(|s| {
                        s.initial_sync_done = true;
                        s.phase = MpPhase::Running;
                    });
                    tracing::info!("initial inventory sync done");
                }
            } else if first_pending.is_none() {
                first_pending = Some(now);
            }
            let due = pending > 0
                && (!initial_sync_done
                    || pending >= options.inventory_batch_size
                    || first_pending.is_some_and(|at| now >= at + period));
            if due {
                match self.send_one().await {
                    Ok(outcome) => {
                        retry.reset();
                        if outcome.compare {
                            // Compare with what NSX really holds once the queue is sent.
                            comparison_wanted = true;
                        }
                        if outcome.sent {
                            first_pending = None;
                            continue;
                        }
                    }
                    Err(_) => {
                        if Self::pause(retry.delay(), cancel).await {
                            return;
                        }
                        continue;
                    }
                }
            }
            let periodic = Instant::now() >= next_comparison;
            if periodic || comparison_wanted {
                if periodic {
                    // Changes NSX refused get another chance once per period.
                    let retried = self
                        .inventory
                        .with(|s| s.projector.index_mut().retry_refused());
                    if retried > 0 {
                        tracing::info!(retried, "retrying inventory changes NSX refused");
                    }
                }
                comparison_wanted = false;
                match self.full_comparison().await {
                    Ok(_) => {
                        next_comparison = Instant::now() + options.inventory_gc_period;
                        continue;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "full comparison failed; retrying");
                        self.set_error(Some(format!("listing NSX's inventory: {error}")));
                        next_comparison = Instant::now() + retry.delay();
                    }
                }
            }
            let mut wake = next_comparison;
            if let Some(at) = first_pending {
                wake = wake.min(at + period);
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = self.inventory.changed() => {}
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// Sends what is pending, for at most `shutdown_flush_timeout`.
    async fn flush(&self) {
        let flushing = async {
            loop {
                match self.send_one().await {
                    Ok(outcome) if outcome.sent => {}
                    Ok(_) => return true,
                    Err(_) => return false,
                }
            }
        };
        match tokio::time::timeout(self.options.shutdown_flush_timeout, flushing).await {
            Ok(true) => tracing::info!("pending inventory flushed"),
            Ok(false) => tracing::warn!("pending inventory not flushed: NSX is unreachable"),
            Err(_) => tracing::warn!("pending inventory not flushed in time"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(status: u16) -> RestError {
        RestError::Api {
            method: http::Method::POST,
            path: "/api/v1/inventory/container/c?action=updates".into(),
            status: http::StatusCode::from_u16(status).unwrap(),
            error: None,
            body_excerpt: String::new(),
            retry_after: None,
        }
    }

    #[test]
    fn only_content_refusals_are_bisected() {
        for status in [400, 404, 409, 412, 413, 422] {
            assert!(refused_for_content(&api_error(status)), "{status}");
        }
        for status in [401, 403, 408, 429, 500, 503] {
            assert!(!refused_for_content(&api_error(status)), "{status}");
        }
        let unreachable = RestError::Unreachable {
            method: http::Method::POST,
            path: "/".into(),
            message: "connection refused".into(),
        };
        assert!(!refused_for_content(&unreachable));
    }

    #[test]
    fn retry_delays_double_up_to_the_maximum_and_reset() {
        let mut retry = Retry::new(Duration::from_millis(100), Duration::from_millis(350));
        let delays: Vec<u128> = (0..4).map(|_| retry.delay().as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 350, 350]);
        retry.reset();
        assert_eq!(retry.delay(), Duration::from_millis(100));
    }
}
