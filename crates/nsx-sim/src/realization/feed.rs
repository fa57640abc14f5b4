//! The desired-state feed: the [`SpanIndex`] behind a lock, fed by the store's commit notices,
//! and the per-cluster subscriptions of control-plane sessions.
//!
//! One task ([`run`]) receives the commit notices, coalesces whatever is queued, applies the
//! policy-table keys to the index under the store's read lock, and hands each cluster's delta
//! to that cluster's subscriber as a numbered [`ChangeSet`]. A session subscribes and takes its
//! snapshot under the same lock ([`DesiredStateFeed::subscribe`], [`DesiredStateFeed::resync`]),
//! so the snapshot is exactly the state before change set `seq + 1`: nothing is lost or seen
//! twice, and every snapshot and every change set leaves the cluster referentially closed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::span::{CachedObject, SpanIndex};
use crate::policy::TABLE;
use crate::store::{CommitNotice, Store};

/// One step of a cluster's desired state.
#[derive(Debug)]
pub struct ChangeSet {
    /// Feed-wide sequence number (grows with every processed batch of commits).
    pub seq: u64,
    /// Objects to upsert, in sending order.
    pub upserts: Vec<Arc<CachedObject>>,
    /// Objects to delete, in sending order.
    pub deletes: Vec<Arc<CachedObject>>,
    /// When the newest commit included here was processed.
    pub committed_at: SystemTime,
}

/// A cluster's desired state at feed sequence `seq`.
#[derive(Debug)]
pub struct Snapshot {
    /// Change sets up to and including `seq` are already in `objects`.
    pub seq: u64,
    /// The objects, in sending order.
    pub objects: Vec<Arc<CachedObject>>,
}

/// A session's subscription to one cluster's change sets.
#[derive(Debug)]
pub struct Subscription {
    /// Identifies the subscription (to unsubscribe only one's own).
    pub id: u64,
    /// The change sets after the snapshot taken with it.
    pub changes: mpsc::UnboundedReceiver<Arc<ChangeSet>>,
}

struct Subscriber {
    id: u64,
    sender: mpsc::UnboundedSender<Arc<ChangeSet>>,
}

struct FeedState {
    index: SpanIndex,
    seq: u64,
    next_subscription: u64,
    subscribers: HashMap<String, Subscriber>,
}

/// The span index and its subscribers. Cheap to clone.
#[derive(Clone)]
pub struct DesiredStateFeed {
    state: Arc<Mutex<FeedState>>,
}

impl std::fmt::Debug for DesiredStateFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesiredStateFeed").finish_non_exhaustive()
    }
}

impl DesiredStateFeed {
    /// A feed over everything `store` holds now. Subscribe to the store's commits *before*
    /// building it (see [`start`]), so that no commit falls between the two.
    pub fn new(store: &Store) -> Self {
        let index = store.read(SpanIndex::build);
        DesiredStateFeed {
            state: Arc::new(Mutex::new(FeedState {
                index,
                seq: 0,
                next_subscription: 1,
                subscribers: HashMap::new(),
            })),
        }
    }

    /// Applies commits to the index and sends each affected cluster its change set.
    pub fn process(&self, store: &Store, notices: &[Arc<CommitNotice>]) {
        let keys: Vec<&str> = notices
            .iter()
            .flat_map(|n| n.touched.iter())
            .filter(|(table, _)| table == TABLE)
            .map(|(_, key)| key.as_str())
            .collect();
        if keys.is_empty() {
            return;
        }
        let mut state = self.state.lock();
        let deltas = store.read(|tables| state.index.apply(tables, keys.iter().copied()));
        if deltas.is_empty() {
            return;
        }
        state.seq += 1;
        let seq = state.seq;
        let committed_at = SystemTime::now();
        for delta in deltas {
            if let Some(subscriber) = state.subscribers.get(&delta.cluster_path) {
                let change = Arc::new(ChangeSet {
                    seq,
                    upserts: delta.upserts,
                    deletes: delta.deletes,
                    committed_at,
                });
                if subscriber.sender.send(change).is_err() {
                    state.subscribers.remove(&delta.cluster_path);
                }
            }
        }
    }

    /// Subscribes to the cluster at `cluster_path` (replacing any earlier subscriber, whose
    /// receiver then ends) and takes its snapshot.
    pub fn subscribe(&self, cluster_path: &str) -> (Snapshot, Subscription) {
        let mut state = self.state.lock();
        let id = state.next_subscription;
        state.next_subscription += 1;
        let (sender, changes) = mpsc::unbounded_channel();
        state
            .subscribers
            .insert(cluster_path.to_owned(), Subscriber { id, sender });
        let snapshot = Snapshot {
            seq: state.seq,
            objects: state.index.snapshot(cluster_path),
        };
        (snapshot, Subscription { id, changes })
    }

    /// A fresh snapshot for a subscriber: change sets with `seq` at most the snapshot's are
    /// already in it.
    pub fn resync(&self, cluster_path: &str) -> Snapshot {
        let state = self.state.lock();
        Snapshot {
            seq: state.seq,
            objects: state.index.snapshot(cluster_path),
        }
    }

    /// Ends subscription `id` of `cluster_path` (a newer one is left alone).
    pub fn unsubscribe(&self, cluster_path: &str, id: u64) {
        let mut state = self.state.lock();
        if state
            .subscribers
            .get(cluster_path)
            .is_some_and(|s| s.id == id)
        {
            state.subscribers.remove(cluster_path);
        }
    }

    /// The clusters (paths) whose desired state holds `path`.
    pub fn clusters_of(&self, path: &str) -> Vec<String> {
        self.state.lock().index.clusters_of(path)
    }

    /// Whether the desired state of `cluster_path` holds `path`.
    pub fn contains(&self, cluster_path: &str, path: &str) -> bool {
        self.state.lock().index.contains(cluster_path, path)
    }

    /// The cached object at `path`, if it is a policy, group or service.
    pub fn object(&self, path: &str) -> Option<Arc<CachedObject>> {
        self.state.lock().index.object(path).cloned()
    }
}

/// Subscribes to `store`'s commits, builds the feed, and spawns the task that keeps it up to
/// date until `shutdown`.
pub fn start(store: &Store, shutdown: CancellationToken) -> DesiredStateFeed {
    let commits = store.subscribe();
    let feed = DesiredStateFeed::new(store);
    tokio::spawn(run(feed.clone(), store.clone(), commits, shutdown));
    feed
}

/// Applies commit notices as they come, coalescing whatever is queued into one batch.
pub async fn run(
    feed: DesiredStateFeed,
    store: Store,
    mut commits: mpsc::UnboundedReceiver<Arc<CommitNotice>>,
    shutdown: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            () = shutdown.cancelled() => return,
            notice = commits.recv() => match notice {
                Some(notice) => notice,
                None => return,
            },
        };
        let mut batch = vec![first];
        while let Ok(more) = commits.try_recv() {
            batch.push(more);
        }
        let feed = feed.clone();
        let store = store.clone();
        // The index reads the store under its lock: do it off the async workers.
        let done = tokio::task::spawn_blocking(move || feed.process(&store, &batch)).await;
        if let Err(error) = done {
            tracing::error!(%error, "desired-state feed update failed");
        }
    }
}
