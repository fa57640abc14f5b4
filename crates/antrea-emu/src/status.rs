//! A status writer like antrea-controller's: a work queue per kind (one write per object at
//! a time, the latest wanted status wins) whose workers `UpdateStatus` the object through the
//! `/status` subresource, skip writes that would not change anything (times ignored), and
//! on a conflict re-read the object and try again.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use antrea_types::policy::{NetworkPolicyCondition, NetworkPolicyPhase, NetworkPolicyStatus};
use antrea_types::{ClusterGroup, ClusterNetworkPolicy, Group, GroupStatus, NetworkPolicy};
use kube::api::{Api, PostParams};
use kube::{Resource, ResourceExt};
use parking_lot::Mutex;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Notify;

use crate::Shared;

/// An object whose status the controller writes.
pub(crate) trait StatusObject:
    Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + Debug + Send + Sync + 'static
{
    type Status: Clone + Debug + Send + Sync + 'static;

    /// The API of the kind in `namespace` (ignored for cluster-scoped kinds).
    fn api(client: kube::Client, namespace: &str) -> Api<Self>;

    fn status(&self) -> Option<&Self::Status>;
    fn set_status(&mut self, status: Self::Status);
    /// Whether two statuses are the same, times ignored (`NetworkPolicyStatusEqual`).
    fn same_status(a: &Self::Status, b: &Self::Status) -> bool;
    /// A status to write before `desired` when the object has none yet.
    fn first_status(desired: &Self::Status) -> Option<Self::Status> {
        let _ = desired;
        None
    }
}

fn same_policy_conditions(a: &[NetworkPolicyCondition], b: &[NetworkPolicyCondition]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(a, b)| {
            a.type_ == b.type_
                && a.status == b.status
                && a.reason == b.reason
                && a.message == b.message
        })
}

fn same_policy_status(a: &NetworkPolicyStatus, b: &NetworkPolicyStatus) -> bool {
    a.phase == b.phase
        && a.observed_generation == b.observed_generation
        && a.current_nodes_realized == b.current_nodes_realized
        && a.desired_nodes_realized == b.desired_nodes_realized
        && same_policy_conditions(
            a.conditions.as_deref().unwrap_or_default(),
            b.conditions.as_deref().unwrap_or_default(),
        )
}

/// `Pending` 0/0 for the generation, as antrea-controller writes it for a policy it has
/// accepted but not processed yet.
fn pending_first(desired: &NetworkPolicyStatus) -> Option<NetworkPolicyStatus> {
    if desired.phase == Some(NetworkPolicyPhase::Pending) {
        return None;
    }
    Some(NetworkPolicyStatus {
        phase: Some(NetworkPolicyPhase::Pending),
        observed_generation: desired.observed_generation,
        current_nodes_realized: Some(0),
        desired_nodes_realized: Some(0),
        conditions: desired
            .conditions
            .as_ref()
            .map(|conditions| conditions.iter().take(1).cloned().collect()),
    })
}

impl StatusObject for ClusterNetworkPolicy {
    type Status = NetworkPolicyStatus;

    fn api(client: kube::Client, _: &str) -> Api<Self> {
        Api::all(client)
    }

    fn status(&self) -> Option<&NetworkPolicyStatus> {
        self.status.as_ref()
    }

    fn set_status(&mut self, status: NetworkPolicyStatus) {
        self.status = Some(status);
    }

    fn same_status(a: &NetworkPolicyStatus, b: &NetworkPolicyStatus) -> bool {
        same_policy_status(a, b)
    }

    fn first_status(desired: &NetworkPolicyStatus) -> Option<NetworkPolicyStatus> {
        pending_first(desired)
    }
}

impl StatusObject for NetworkPolicy {
    type Status = NetworkPolicyStatus;

    fn api(client: kube::Client, namespace: &str) -> Api<Self> {
        Api::namespaced(client, namespace)
    }

    fn status(&self) -> Option<&NetworkPolicyStatus> {
        self.status.as_ref()
    }

    fn set_status(&mut self, status: NetworkPolicyStatus) {
        self.status = Some(status);
    }

    fn same_status(a: &NetworkPolicyStatus, b: &NetworkPolicyStatus) -> bool {
        same_policy_status(a, b)
    }

    fn first_status(desired: &NetworkPolicyStatus) -> Option<NetworkPolicyStatus> {
        pending_first(desired)
    }
}

fn same_group_status(a: &GroupStatus, b: &GroupStatus) -> bool {
    let (a, b) = (
        a.conditions.as_deref().unwrap_or_default(),
        b.conditions.as_deref().unwrap_or_default(),
    );
    a.len() == b.len()
        && a.iter().zip(b).all(|(a, b)| {
            a.type_ == b.type_
                && a.status == b.status
                && a.reason == b.reason
                && a.message == b.message
        })
}

impl StatusObject for ClusterGroup {
    type Status = GroupStatus;

    fn api(client: kube::Client, _: &str) -> Api<Self> {
        Api::all(client)
    }

    fn status(&self) -> Option<&GroupStatus> {
        self.status.as_ref()
    }

    fn set_status(&mut self, status: GroupStatus) {
        self.status = Some(status);
    }

    fn same_status(a: &GroupStatus, b: &GroupStatus) -> bool {
        same_group_status(a, b)
    }
}

impl StatusObject for Group {
    type Status = GroupStatus;

    fn api(client: kube::Client, namespace: &str) -> Api<Self> {
        Api::namespaced(client, namespace)
    }

    fn status(&self) -> Option<&GroupStatus> {
        self.status.as_ref()
    }

    fn set_status(&mut self, status: GroupStatus) {
        self.status = Some(status);
    }

    fn same_status(a: &GroupStatus, b: &GroupStatus) -> bool {
        same_group_status(a, b)
    }
}

/// (namespace, name); the namespace is empty for cluster-scoped kinds.
pub(crate) type ObjectKey = (String, String);

fn key_of<K: Resource>(object: &K) -> ObjectKey {
    (
        object.meta().namespace.clone().unwrap_or_default(),
        object.meta().name.clone().unwrap_or_default(),
    )
}

fn resource_version<K: Resource>(object: &K) -> u64 {
    object
        .meta()
        .resource_version
        .as_deref()
        .and_then(|rv| rv.parse().ok())
        .unwrap_or(0)
}

struct Job<K: StatusObject> {
    object: K,
    status: K::Status,
}

struct Queue<K: StatusObject> {
    order: VecDeque<ObjectKey>,
    jobs: HashMap<ObjectKey, Job<K>>,
    in_flight: HashSet<ObjectKey>,
    /// The object as our last write returned it (newer than a lagging watch snapshot).
    latest: HashMap<ObjectKey, K>,
}

/// Writes statuses of one kind; cheap to clone.
pub(crate) struct StatusWriter<K: StatusObject> {
    inner: Arc<WriterInner<K>>,
}

impl<K: StatusObject> Clone for StatusWriter<K> {
    fn clone(&self) -> Self {
        StatusWriter {
            inner: self.inner.clone(),
        }
    }
}

struct WriterInner<K: StatusObject> {
    shared: Arc<Shared>,
    queue: Mutex<Queue<K>>,
    wake: Notify,
}

/// Attempts per write before giving up until the next change.
const ATTEMPTS: usize = 5;

impl<K: StatusObject> StatusWriter<K> {
    /// A writer with `workers` concurrent workers (antrea-controller runs 4).
    pub fn spawn(shared: &Arc<Shared>, workers: usize) -> Self {
        let inner = Arc::new(WriterInner {
            shared: shared.clone(),
            queue: Mutex::new(Queue {
                order: VecDeque::new(),
                jobs: HashMap::new(),
                in_flight: HashSet::new(),
                latest: HashMap::new(),
            }),
            wake: Notify::new(),
        });
        for _ in 0..workers.max(1) {
            let inner = inner.clone();
            tokio::spawn(async move { inner.work().await });
        }
        StatusWriter { inner }
    }

    /// Asks for `status` on the object (`object` is the latest copy the caller has).
    pub fn submit(&self, object: &K, status: K::Status) {
        let key = key_of(object);
        {
            let mut queue = self.inner.queue.lock();
            let queued = queue.jobs.contains_key(&key) || queue.in_flight.contains(&key);
            queue.jobs.insert(
                key.clone(),
                Job {
                    object: object.clone(),
                    status,
                },
            );
            if !queued {
                queue.order.push_back(key);
            }
        }
        self.inner.wake.notify_one();
    }

    /// Forgets an object that was deleted.
    pub fn forget(&self, namespace: &str, name: &str) {
        let key = (namespace.to_string(), name.to_string());
        let mut queue = self.inner.queue.lock();
        queue.jobs.remove(&key);
        queue.latest.remove(&key);
    }

    /// Drops every pending write (antrea-controller went down).
    pub fn clear(&self) {
        let mut queue = self.inner.queue.lock();
        queue.jobs.clear();
        queue.order.clear();
        queue.latest.clear();
    }

    /// Whether nothing is queued or being written.
    #[allow(dead_code)]
    pub fn is_idle(&self) -> bool {
        let queue = self.inner.queue.lock();
        queue.jobs.is_empty() && queue.in_flight.is_empty()
    }
}

impl<K: StatusObject> WriterInner<K> {
    async fn work(self: Arc<Self>) {
        let cancel = self.shared.cancel.clone();
        loop {
            let next = self.take();
            let Some((key, job)) = next else {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = self.wake.notified() => continue,
                }
            };
            let written = self.write(&key, job).await;
            let mut queue = self.queue.lock();
            queue.in_flight.remove(&key);
            if let Some(object) = written {
                queue.latest.insert(key.clone(), object);
            }
            if queue.jobs.contains_key(&key) {
                queue.order.push_back(key);
                drop(queue);
                self.wake.notify_one();
            }
        }
    }

    fn take(&self) -> Option<(ObjectKey, Job<K>)> {
        let mut queue = self.queue.lock();
        while let Some(key) = queue.order.pop_front() {
            if queue.in_flight.contains(&key) {
                continue;
            }
            if let Some(mut job) = queue.jobs.remove(&key) {
                if let Some(latest) = queue.latest.get(&key)
                    && resource_version(latest) > resource_version(&job.object)
                {
                    job.object = latest.clone();
                }
                queue.in_flight.insert(key.clone());
                return Some((key, job));
            }
        }
        None
    }

    /// Writes the job's status; returns the object as last written.
    async fn write(&self, key: &ObjectKey, job: Job<K>) -> Option<K> {
        let api = K::api(self.shared.client.clone(), &key.0);
        let mut object = job.object;
        let mut written = None;
        for _ in 0..ATTEMPTS {
            if !self.shared.hooks.controller_is_up() {
                return written;
            }
            if object
                .status()
                .is_some_and(|current| K::same_status(current, &job.status))
            {
                return written;
            }
            let status = match (object.status(), K::first_status(&job.status)) {
                (None, Some(first)) => first,
                _ => job.status.clone(),
            };
            let mut candidate = object.clone();
            candidate.set_status(status);
            match api
                .replace_status(&key.1, &PostParams::default(), &candidate)
                .await
            {
                Ok(updated) => {
                    object = updated.clone();
                    written = Some(updated);
                }
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    match api.get_opt(&key.1).await {
                        Ok(Some(fresh)) => object = fresh,
                        _ => return written,
                    }
                }
                Err(kube::Error::Api(status)) if status.code == 404 => return written,
                Err(error) => {
                    tracing::debug!(name = %object.name_any(), %error, "writing a status failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    match api.get_opt(&key.1).await {
                        Ok(Some(fresh)) => object = fresh,
                        _ => return written,
                    }
                }
            }
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use antrea_types::policy::{ConditionStatus, NetworkPolicyConditionType};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn status(phase: NetworkPolicyPhase, current: i32, time: i64) -> NetworkPolicyStatus {
        NetworkPolicyStatus {
            phase: Some(phase),
            observed_generation: Some(2),
            current_nodes_realized: Some(current),
            desired_nodes_realized: Some(3),
            conditions: Some(vec![NetworkPolicyCondition {
                type_: NetworkPolicyConditionType::Realizable,
                status: ConditionStatus::True,
                last_transition_time: Some(Time(jiff::Timestamp::from_second(time).unwrap())),
                reason: None,
                message: None,
            }]),
        }
    }

    #[test]
    fn equality_ignores_times() {
        assert!(same_policy_status(
            &status(NetworkPolicyPhase::Realizing, 1, 10),
            &status(NetworkPolicyPhase::Realizing, 1, 20)
        ));
        assert!(!same_policy_status(
            &status(NetworkPolicyPhase::Realizing, 1, 10),
            &status(NetworkPolicyPhase::Realizing, 2, 10)
        ));
    }

    #[test]
    fn pending_comes_first_for_the_same_generation() {
        let first = pending_first(&status(NetworkPolicyPhase::Realized, 3, 10)).unwrap();
        assert_eq!(first.phase, Some(NetworkPolicyPhase::Pending));
        assert_eq!(first.observed_generation, Some(2));
        assert_eq!(
            (first.current_nodes_realized, first.desired_nodes_realized),
            (Some(0), Some(0))
        );
        assert_eq!(first.conditions.unwrap().len(), 1);
        assert!(pending_first(&status(NetworkPolicyPhase::Pending, 0, 10)).is_none());
    }
}
