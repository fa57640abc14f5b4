//! The reflector of owned objects: lists and watches Tiers, ClusterGroups and
//! ClusterNetworkPolicies carrying this cluster's ownership labels
//! ([`ownership_selector`]), keeps them with their status, and signals every change.
//!
//! It is kube-runtime's watcher (re-lists after `410 Gone` and after a dropped watch,
//! with backoff on errors) feeding reflector stores. Every event bumps a counter on a `watch`
//! channel, which is what drives drift repair: the adapter's loop re-plans when an owned
//! object changes or disappears, and the plan reverts anything that is not the rendering.
//! Objects without our labels are never listed, so never touched.

use std::sync::Arc;

use adapter_core::ccp::naming::{is_owned, ownership_selector};
use adapter_core::ccp::{AntreaKind, ClusterIdentity, ObjectKey, ObservedState};
use antrea_types::{ClusterGroup, ClusterNetworkPolicy, Tier};
use futures::StreamExt;
use kube::Api;
use kube::runtime::reflector::{ObjectRef, Store, store};
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The owned objects of one cluster, as the API server has them.
#[derive(Clone)]
pub struct OwnedObjects {
    identity: ClusterIdentity,
    tiers: Store<Tier>,
    groups: Store<ClusterGroup>,
    policies: Store<ClusterNetworkPolicy>,
    changes: watch::Receiver<u64>,
    ready: watch::Receiver<u8>,
    cancel: CancellationToken,
}

impl std::fmt::Debug for OwnedObjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedObjects")
            .field("identity", &self.identity)
            .field("tiers", &self.tiers.len())
            .field("cluster_groups", &self.groups.len())
            .field("cluster_network_policies", &self.policies.len())
            .finish()
    }
}

/// Watches one kind into `writer`, bumping `changes` after every event and counting the
/// kind as listed in `ready` after its first complete list.
fn spawn_watch<K>(
    api: Api<K>,
    selector: String,
    mut writer: kube::runtime::reflector::store::Writer<K>,
    changes: Arc<watch::Sender<u64>>,
    ready: Arc<watch::Sender<u8>>,
    cancel: CancellationToken,
) where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let kind = K::kind(&()).into_owned();
    tokio::spawn(async move {
        let config = watcher::Config::default().labels(&selector);
        let mut events = std::pin::pin!(watcher(api, config).default_backoff());
        let mut listed = false;
        loop {
            let event = tokio::select! {
                () = cancel.cancelled() => return,
                event = events.next() => event,
            };
            match event {
                None => return,
                Some(Err(error)) => {
                    tracing::warn!(%kind, %error, "watch of owned objects failed; retrying");
                }
                Some(Ok(event)) => {
                    writer.apply_watcher_event(&event);
                    let done = matches!(event, watcher::Event::InitDone);
                    if done && !listed {
                        listed = true;
                        ready.send_modify(|count| *count += 1);
                    }
                    if !matches!(event, watcher::Event::Init | watcher::Event::InitApply(_)) {
                        changes.send_modify(|count| *count = count.wrapping_add(1));
                    }
                }
            }
        }
    });
}

impl OwnedObjects {
    /// Starts watching the objects owned by `identity` (spawns on the current runtime). The
    /// watches stop when [`OwnedObjects::stop`] is called.
    pub fn start(client: kube::Client, identity: ClusterIdentity) -> OwnedObjects {
        let selector = ownership_selector(&identity);
        let (changes, changes_receiver) = watch::channel(0u64);
        let (ready, ready_receiver) = watch::channel(0u8);
        let changes = Arc::new(changes);
        let ready = Arc::new(ready);
        let cancel = CancellationToken::new();
        let (tiers, tiers_writer) = store::<Tier>();
        let (groups, groups_writer) = store::<ClusterGroup>();
        let (policies, policies_writer) = store::<ClusterNetworkPolicy>();
        spawn_watch(
            Api::<Tier>::all(client.clone()),
            selector.clone(),
            tiers_writer,
            changes.clone(),
            ready.clone(),
            cancel.clone(),
        );
        spawn_watch(
            Api::<ClusterGroup>::all(client.clone()),
            selector.clone(),
            groups_writer,
            changes.clone(),
            ready.clone(),
            cancel.clone(),
        );
        spawn_watch(
            Api::<ClusterNetworkPolicy>::all(client),
            selector,
            policies_writer,
            changes,
            ready,
            cancel.clone(),
        );
        OwnedObjects {
            identity,
            tiers,
            groups,
            policies,
            changes: changes_receiver,
            ready: ready_receiver,
            cancel,
        }
    }

    /// Whether each kind was listed completely at least once.
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow() >= 3
    }

    /// Waits until each kind was listed completely at least once (or the watches stopped).
    pub async fn wait_ready(&self) {
        let mut ready = self.ready.clone();
        let _ = ready.wait_for(|count| *count >= 3).await;
    }

    /// A counter that changes after every change of an owned object (and after re-lists).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.clone()
    }

    /// The owned objects now, with status, each list sorted by name.
    pub fn observed(&self) -> ObservedState {
        let mut observed = ObservedState {
            tiers: owned(&self.tiers, &self.identity),
            cluster_groups: owned(&self.groups, &self.identity),
            cluster_network_policies: owned(&self.policies, &self.identity),
        };
        observed.sort();
        observed
    }

    /// The `resourceVersion` of one owned object as the reflector has it now (`None`: no such
    /// owned object), without copying the others.
    pub fn resource_version(&self, key: &ObjectKey) -> Option<String> {
        match key.kind {
            AntreaKind::Tier => version_of(&self.tiers, &key.name, &self.identity),
            AntreaKind::ClusterGroup => version_of(&self.groups, &key.name, &self.identity),
            AntreaKind::ClusterNetworkPolicy => {
                version_of(&self.policies, &key.name, &self.identity)
            }
        }
    }

    /// How many owned objects are known.
    pub fn len(&self) -> usize {
        self.tiers.len() + self.groups.len() + self.policies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops the watches.
    pub fn stop(&self) {
        self.cancel.cancel();
    }
}

fn version_of<K>(store: &Store<K>, name: &str, identity: &ClusterIdentity) -> Option<String>
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    store
        .get(&ObjectRef::new(name))
        .filter(|object| is_owned(object.meta(), identity))
        .and_then(|object| object.meta().resource_version.clone())
}

fn owned<K>(store: &Store<K>, identity: &ClusterIdentity) -> Vec<K>
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    store
        .state()
        .into_iter()
        .filter(|object| is_owned(object.meta(), identity))
        .map(|object| (*object).clone())
        .collect()
}
