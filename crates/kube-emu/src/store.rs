//! Object storage: one global resourceVersion counter, objects kept as serialized JSON
//! (plus the few parsed fields selectors need), and a bounded per-resource history of
//! changes that serves watch resumption and consistent (snapshot) list pages.
//!
//! All versions of a group/resource share one storage (objects carry the storage
//! version's `apiVersion`; readers rewrite it).

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use kube_apimachinery::registry::{GroupResource, Registry};
use serde_json::Value;
use tokio::sync::broadcast;

/// Where an object lives inside its resource: namespace ("" for cluster-scoped) and name.
/// The derived order is the order lists are returned in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ObjectKey {
    pub namespace: Box<str>,
    pub name: Box<str>,
}

impl ObjectKey {
    pub fn new(namespace: &str, name: &str) -> Self {
        ObjectKey {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

/// One stored object version.
#[derive(Debug)]
pub(crate) struct StoredObject {
    pub key: ObjectKey,
    /// The object, serialized, with `metadata.resourceVersion` equal to `rv`.
    pub json: Bytes,
    pub labels: Box<[(Box<str>, Box<str>)]>,
    /// Values of the resource's selectable fields (besides `metadata.name` and
    /// `metadata.namespace`, which come from the key).
    pub fields: Box<[(Arc<str>, Box<str>)]>,
}

impl StoredObject {
    #[cfg(test)]
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| &**v)
    }

    /// The value of a field label, `None` when the resource does not support it.
    pub fn field(&self, path: &str) -> Option<&str> {
        match path {
            "metadata.name" => Some(&self.key.name),
            "metadata.namespace" => Some(&self.key.namespace),
            _ => self
                .fields
                .iter()
                .find(|(name, _)| &**name == path)
                .map(|(_, value)| &**value),
        }
    }

    pub fn value(&self) -> Value {
        // The bytes were produced by serde_json from a Value: they always parse.
        serde_json::from_slice(&self.json).unwrap_or(Value::Null)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeType {
    Added,
    Modified,
    Deleted,
}

/// One committed change of one object.
#[derive(Debug)]
pub(crate) struct Change {
    pub rv: u64,
    pub change_type: ChangeType,
    /// The new state (for deletions: the final state, with the deletion's resourceVersion).
    pub object: Arc<StoredObject>,
    /// The state before the change (absent for creations).
    pub previous: Option<Arc<StoredObject>>,
}

/// What watchers receive through a resource's broadcast channel.
#[derive(Debug, Clone)]
pub(crate) enum WatchMessage {
    Change(Arc<Change>),
}

/// The objects and history of one group/resource.
#[derive(Debug)]
pub(crate) struct ResourceStore {
    pub objects: BTreeMap<ObjectKey, Arc<StoredObject>>,
    history: VecDeque<Arc<Change>>,
    /// The history holds every change with `rv > floor`.
    floor: u64,
    history_limit: usize,
    pub sender: broadcast::Sender<WatchMessage>,
    /// Field labels extracted from each object (besides metadata.name/namespace).
    pub field_paths: Arc<[Arc<str>]>,
}

impl ResourceStore {
    fn new(
        floor: u64,
        history_limit: usize,
        capacity: usize,
        field_paths: Arc<[Arc<str>]>,
    ) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(16));
        ResourceStore {
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            floor,
            history_limit,
            sender,
            field_paths,
        }
    }

    /// The lowest resourceVersion a watch or exact list may start from.
    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// Changes after `rv`, oldest first; `None` when some of them are no longer retained.
    pub fn changes_since(&self, rv: u64) -> Option<Vec<Arc<Change>>> {
        if rv < self.floor {
            return None;
        }
        let start = self.history.partition_point(|change| change.rv <= rv);
        Some(self.history.range(start..).cloned().collect())
    }

    fn record(&mut self, change: Arc<Change>) {
        // Nobody listening is fine: send only fails when there are no receivers.
        let _ = self.sender.send(WatchMessage::Change(change.clone()));
        self.history.push_back(change);
        while self.history.len() > self.history_limit {
            if let Some(dropped) = self.history.pop_front() {
                self.floor = dropped.rv;
            }
        }
    }

    fn compact(&mut self, rv: u64) {
        self.history.clear();
        self.floor = rv;
    }

    fn latest_change_rv(&self) -> u64 {
        self.history.back().map_or(self.floor, |change| change.rv)
    }

    /// The objects as they were at `rv` (in key order), restricted to `namespace` and
    /// to keys after `start_after`; `None` when the history no longer reaches `rv`.
    pub fn snapshot<'a>(
        &'a self,
        rv: u64,
        namespace: Option<&'a str>,
        start_after: Option<&'a ObjectKey>,
    ) -> Option<Box<dyn Iterator<Item = Arc<StoredObject>> + 'a>> {
        let in_scope = |key: &ObjectKey| {
            namespace.is_none_or(|ns| &*key.namespace == ns)
                && start_after.is_none_or(|after| key > after)
        };
        let current = self.range(namespace, start_after);
        if rv >= self.latest_change_rv() {
            return Some(Box::new(current.map(|(_, obj)| obj.clone())));
        }
        let changes = self.changes_since(rv)?;
        // Undo the changes newer than rv, newest first, so the oldest undo wins.
        let mut overlay: BTreeMap<ObjectKey, Option<Arc<StoredObject>>> = BTreeMap::new();
        for change in changes.iter().rev() {
            let key = &change.object.key;
            if in_scope(key) {
                overlay.insert(key.clone(), change.previous.clone());
            }
        }
        let mut result = Vec::new();
        let mut current = current.peekable();
        let mut overlay = overlay.into_iter().peekable();
        loop {
            let order = match (current.peek(), overlay.peek()) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some((current_key, _)), Some((overlay_key, _))) => (*current_key).cmp(overlay_key),
            };
            if order == Ordering::Less {
                if let Some((_, obj)) = current.next() {
                    result.push(obj.clone());
                }
                continue;
            }
            if order == Ordering::Equal {
                current.next();
            }
            if let Some((_, Some(obj))) = overlay.next() {
                result.push(obj);
            }
        }
        Some(Box::new(result.into_iter()))
    }

    /// Current objects in key order within a namespace (or all), after a key.
    pub fn range<'a>(
        &'a self,
        namespace: Option<&'a str>,
        start_after: Option<&'a ObjectKey>,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a Arc<StoredObject>)> + 'a {
        use std::ops::Bound;
        let lower = match (start_after, namespace) {
            (Some(after), _) => Bound::Excluded(after.clone()),
            (None, Some(ns)) => Bound::Included(ObjectKey::new(ns, "")),
            (None, None) => Bound::Unbounded,
        };
        self.objects
            .range((lower, Bound::Unbounded))
            .take_while(move |(key, _)| namespace.is_none_or(|ns| &*key.namespace == ns))
    }
}

/// Cluster IP and node port allocation for Services.
#[derive(Debug, Default)]
pub(crate) struct Allocations {
    pub cluster_ips: std::collections::HashSet<u32>,
    pub next_cluster_ip: u32,
    pub node_ports: std::collections::HashSet<u16>,
    pub next_node_port: u16,
}

/// Everything the emulator stores, guarded by one lock.
#[derive(Debug)]
pub(crate) struct State {
    /// The last resourceVersion handed out.
    pub rv: u64,
    /// resourceVersion of the last `compact()`: history never reaches below it.
    compacted_rv: u64,
    pub registry: Arc<Registry>,
    resources: HashMap<GroupResource, ResourceStore>,
    history_limit: usize,
    channel_capacity: usize,
    /// Selectable fields declared by CRDs, per group/resource.
    pub crd_fields: HashMap<GroupResource, Vec<String>>,
    pub allocations: Allocations,
    /// Number of committed writes (creates, updates, deletes).
    pub writes: u64,
}

impl State {
    pub fn new(registry: Registry, history_limit: usize, channel_capacity: usize) -> Self {
        State {
            rv: 1,
            compacted_rv: 0,
            registry: Arc::new(registry),
            resources: HashMap::new(),
            history_limit,
            channel_capacity,
            crd_fields: HashMap::new(),
            allocations: Allocations::default(),
            writes: 0,
        }
    }

    pub fn resource(&self, gr: &GroupResource) -> Option<&ResourceStore> {
        self.resources.get(gr)
    }

    /// The store of a group/resource, created empty if needed.
    pub fn resource_mut(&mut self, gr: &GroupResource) -> &mut ResourceStore {
        if !self.resources.contains_key(gr) {
            let fields: Vec<Arc<str>> = crate::fields::field_labels(gr, &self.crd_fields)
                .into_iter()
                .map(Arc::from)
                .collect();
            let store = ResourceStore::new(
                self.compacted_rv,
                self.history_limit,
                self.channel_capacity,
                fields.into(),
            );
            self.resources.insert(gr.clone(), store);
        }
        self.resources.get_mut(gr).expect("inserted above")
    }

    pub fn get(&self, gr: &GroupResource, key: &ObjectKey) -> Option<Arc<StoredObject>> {
        self.resources.get(gr)?.objects.get(key).cloned()
    }

    /// Drops the store of a resource (its CRD is gone): watchers see their stream end.
    pub fn drop_resource(&mut self, gr: &GroupResource) {
        self.resources.remove(gr);
    }

    /// Stores `object` (creating or replacing it) at a new resourceVersion and records
    /// the change. Returns the stored version.
    pub fn put(&mut self, gr: &GroupResource, mut object: Value) -> Arc<StoredObject> {
        self.rv += 1;
        self.writes += 1;
        let rv = self.rv;
        set_resource_version(&mut object, rv);
        let store = self.resource_mut(gr);
        let stored = Arc::new(build_stored(&object, &store.field_paths));
        let previous = store.objects.insert(stored.key.clone(), stored.clone());
        let change_type = if previous.is_some() {
            ChangeType::Modified
        } else {
            ChangeType::Added
        };
        store.record(Arc::new(Change {
            rv,
            change_type,
            object: stored.clone(),
            previous,
        }));
        stored
    }

    /// Removes an object; `last` is its final state (the DELETED event carries it with
    /// the deletion's resourceVersion). Returns the final stored version.
    pub fn remove(
        &mut self,
        gr: &GroupResource,
        key: &ObjectKey,
        mut last: Value,
    ) -> Option<Arc<StoredObject>> {
        let store = self.resources.get_mut(gr)?;
        let previous = store.objects.remove(key)?;
        self.rv += 1;
        self.writes += 1;
        let rv = self.rv;
        set_resource_version(&mut last, rv);
        let store = self.resources.get_mut(gr).expect("checked above");
        let stored = Arc::new(build_stored(&last, &store.field_paths));
        store.record(Arc::new(Change {
            rv,
            change_type: ChangeType::Deleted,
            object: stored.clone(),
            previous: Some(previous),
        }));
        Some(stored)
    }

    /// Forgets all history: watches and exact lists from older resourceVersions get 410.
    pub fn compact(&mut self) {
        self.compacted_rv = self.rv;
        let rv = self.rv;
        for store in self.resources.values_mut() {
            store.compact(rv);
        }
    }

    pub fn resources(&self) -> impl Iterator<Item = (&GroupResource, &ResourceStore)> {
        self.resources.iter()
    }
}

pub(crate) fn set_resource_version(object: &mut Value, rv: u64) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
}

/// Serializes an object and extracts what selectors need.
pub(crate) fn build_stored(object: &Value, field_paths: &[Arc<str>]) -> StoredObject {
    let meta = object.get("metadata");
    let text = |key: &str| {
        meta.and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let key = ObjectKey::new(text("namespace"), text("name"));
    let labels = meta
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .map(|(k, v)| (k.as_str().into(), v.as_str().unwrap_or("").into()))
                .collect()
        })
        .unwrap_or_default();
    let fields = field_paths
        .iter()
        .map(|path| {
            (
                path.clone(),
                kube_apimachinery::selector::field_value(object, path).into(),
            )
        })
        .collect();
    let json = Bytes::from(serde_json::to_vec(object).unwrap_or_default());
    StoredObject {
        key,
        json,
        labels,
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pods() -> GroupResource {
        GroupResource {
            group: String::new(),
            resource: "pods".into(),
        }
    }

    fn pod(ns: &str, name: &str, label: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"namespace": ns, "name": name, "labels": {"app": label}},
               "spec": {"nodeName": "n1"}})
    }

    #[test]
    fn put_assigns_increasing_resource_versions_and_extracts_selectors() {
        let mut state = State::new(Registry::with_builtins(), 100, 16);
        let a = state.put(&pods(), pod("ns", "a", "x"));
        let a_rv = state.rv;
        state.put(&pods(), pod("ns", "b", "y"));
        assert!(state.rv > a_rv);
        assert_eq!(a.label("app"), Some("x"));
        assert_eq!(a.field("spec.nodeName"), Some("n1"));
        assert_eq!(a.field("metadata.namespace"), Some("ns"));
        let stored: Value = serde_json::from_slice(&a.json).unwrap();
        assert_eq!(stored["metadata"]["resourceVersion"], a_rv.to_string());
    }

    #[test]
    fn snapshot_undoes_later_changes() {
        let mut state = State::new(Registry::with_builtins(), 100, 16);
        state.put(&pods(), pod("ns", "a", "1"));
        state.put(&pods(), pod("ns", "b", "1"));
        let at = state.rv;
        state.put(&pods(), pod("ns", "a", "2"));
        state.put(&pods(), pod("ns", "c", "1"));
        state.remove(&pods(), &ObjectKey::new("ns", "b"), pod("ns", "b", "1"));
        let store = state.resource(&pods()).unwrap();
        let snapshot: Vec<_> = store.snapshot(at, Some("ns"), None).unwrap().collect();
        let names: Vec<_> = snapshot.iter().map(|o| &*o.key.name).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(snapshot[0].label("app"), Some("1"));
        let after = ObjectKey::new("ns", "a");
        let after_a: Vec<_> = store.snapshot(at, None, Some(&after)).unwrap().collect();
        assert_eq!(after_a.len(), 1);
        let now: Vec<_> = store
            .snapshot(state.rv, None, None)
            .unwrap()
            .map(|o| o.key.name.to_string())
            .collect();
        assert_eq!(now, ["a", "c"]);
    }

    #[test]
    fn history_is_bounded_and_compaction_expires_it() {
        let mut state = State::new(Registry::with_builtins(), 2, 16);
        state.put(&pods(), pod("ns", "a", "1"));
        let first = state.rv;
        state.put(&pods(), pod("ns", "b", "1"));
        state.put(&pods(), pod("ns", "c", "1"));
        let store = state.resource(&pods()).unwrap();
        assert!(store.changes_since(first - 1).is_none());
        assert_eq!(store.changes_since(first).unwrap().len(), 2);
        state.compact();
        let store = state.resource(&pods()).unwrap();
        assert!(store.changes_since(first).is_none());
        assert_eq!(store.changes_since(state.rv).unwrap().len(), 0);
    }
}
