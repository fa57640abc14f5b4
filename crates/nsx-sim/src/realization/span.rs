//! The span index: which NSX intent objects make up the desired state of each Antrea cluster
//! (docs/protocol.md §4.4), kept up to date incrementally from the store's commit notices.
//!
//! A cluster's desired state is the closure of its *roots* (the security policies whose
//! `container-cluster-span` names the cluster's `ClusterControlPlane` path, or whose `scope`
//! names it directly, the 3.2-era form) over *references*: a policy's `scope` groups, its
//! rules' `source_groups`, `destination_groups`, `scope` groups, `services` and nested
//! service entries, a group's `PathExpression` paths, and a service's nested service entries.
//!
//! The index caches every policy, group and service as it would be sent (rendered once, as
//! `GET` returns it), with its outgoing references and, for policies, the clusters it is
//! spanned to. [`SpanIndex::apply`] takes the keys one commit touched, re-reads only the
//! objects that own them, and recomputes the desired state only of the clusters those objects
//! can affect: additions (a new root, a new reference) extend the closure from the new nodes;
//! removals recompute that one cluster's closure from its roots (which stays correct when
//! groups reference each other in a cycle). The result is one [`ClusterDelta`] per cluster
//! whose desired state changed: objects to upsert and objects to delete, ordered so that a
//! receiver writing them one by one never creates a dangling reference (services, then
//! groups, then policies, each referenced object before its referrers; deletes the reverse).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use nsx_proto::v1::{NsxObject, ObjectKind, ObjectRef};
use serde_json::Value;

use crate::identity::Caller;
use crate::policy::kinds::{Kind, kind_of_path, split_path};
use crate::policy::render::{RenderOptions, render};
use crate::policy::{TABLE, children_of, references};
use crate::store::Tables;

/// Bookkeeping key of the policy engine naming the principal identity that protects an
/// object (a unit test checks it agrees with the engine).
const PROTECTED_BY: &str = "_sim_protected_by";

/// Path segment that marks a `ClusterControlPlane` path named in a policy `scope`.
const CLUSTER_CONTROL_PLANES_SEGMENT: &str = "/cluster-control-planes/";

/// One policy, group or service as the channel sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedObject {
    /// Its kind on the channel.
    pub kind: ObjectKind,
    /// Its intent path.
    pub path: String,
    /// NSX `unique_id`.
    pub unique_id: String,
    /// NSX `_revision`.
    pub revision: i64,
    /// The rendered document (as `GET` returns it) without `_protection`, which depends on
    /// who reads it and is added per cluster.
    document: Vec<u8>,
    /// The principal identity protecting the object, if any.
    protected_by: Option<String>,
    /// Group and service paths it names, sorted, without duplicates.
    refs: Vec<String>,
    /// For policies: the cluster paths it is spanned to, sorted.
    roots: Vec<String>,
}

impl CachedObject {
    /// The envelope for cluster `cluster_id`: the document with the `_protection` the
    /// cluster's principal identity sees (`REQUIRE_OVERRIDE` for objects another principal
    /// identity protects).
    pub fn nsx_object(&self, cluster_id: &str) -> NsxObject {
        let protection = match &self.protected_by {
            Some(owner) if owner != cluster_id => "REQUIRE_OVERRIDE",
            _ => "NOT_PROTECTED",
        };
        let mut document = Vec::with_capacity(self.document.len() + 40);
        // The rendered document is a non-empty JSON object: splice the field before its `}`.
        document.extend_from_slice(&self.document[..self.document.len() - 1]);
        document.extend_from_slice(b",\"_protection\":\"");
        document.extend_from_slice(protection.as_bytes());
        document.extend_from_slice(b"\"}");
        NsxObject {
            kind: self.kind.into(),
            path: self.path.clone(),
            unique_id: self.unique_id.clone(),
            revision: self.revision,
            document,
        }
    }

    /// Its identity and version.
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef {
            kind: self.kind.into(),
            path: self.path.clone(),
            unique_id: self.unique_id.clone(),
            revision: self.revision,
        }
    }

    /// Size of the document in bytes (for chunking).
    pub fn document_len(&self) -> usize {
        self.document.len() + 40
    }

    /// The group and service paths it names.
    pub fn references(&self) -> &[String] {
        &self.refs
    }

    /// For a policy, the cluster paths it is spanned to.
    pub fn spanned_clusters(&self) -> &[String] {
        &self.roots
    }
}

/// The change of one cluster's desired state.
#[derive(Debug, Clone, Default)]
pub struct ClusterDelta {
    /// The cluster's `ClusterControlPlane` path.
    pub cluster_path: String,
    /// Objects that entered the desired state or changed, in sending order.
    pub upserts: Vec<Arc<CachedObject>>,
    /// Objects that left it (as the adapter last had them), in sending order.
    pub deletes: Vec<Arc<CachedObject>>,
}

/// What one cluster needs recomputed.
#[derive(Default)]
struct Work {
    /// Recompute the closure from the roots.
    full: bool,
    /// Nodes that enter with their closure.
    frontier: Vec<String>,
    /// Objects whose content changed.
    changed: BTreeSet<String>,
}

/// The desired state of every cluster, kept incrementally.
#[derive(Debug, Default)]
pub struct SpanIndex {
    objects: HashMap<String, Arc<CachedObject>>,
    roots: HashMap<String, BTreeSet<String>>,
    desired: HashMap<String, HashSet<String>>,
    membership: HashMap<String, BTreeSet<String>>,
}

/// The channel kind of a policy-tree kind, for the kinds the channel carries.
fn channel_kind(kind: Kind) -> Option<ObjectKind> {
    match kind {
        Kind::SecurityPolicy => Some(ObjectKind::SecurityPolicy),
        Kind::Group => Some(ObjectKind::Group),
        Kind::Service => Some(ObjectKind::Service),
        _ => None,
    }
}

/// The object a stored key belongs to on the channel: rules and span entries belong to their
/// policy, service entries to their service.
pub fn owner_of(path: &str) -> Option<(String, Kind)> {
    let kind = kind_of_path(path)?;
    match kind {
        Kind::SecurityPolicy | Kind::Group | Kind::Service => Some((path.to_owned(), kind)),
        Kind::Rule | Kind::ContainerClusterSpan => {
            split_path(path).map(|(p, _)| (p.to_owned(), Kind::SecurityPolicy))
        }
        Kind::ServiceEntry => split_path(path).map(|(s, _)| (s.to_owned(), Kind::Service)),
        Kind::Infra | Kind::Domain => None,
    }
}

fn is_group_or_service(path: &str) -> bool {
    matches!(kind_of_path(path), Some(Kind::Group | Kind::Service))
}

/// Builds the cached form of the stored object `doc` of `kind` at `path`.
fn build(tables: &Tables, kind: Kind, path: &str, doc: &Value) -> Option<CachedObject> {
    let channel_kind = channel_kind(kind)?;
    let mut refs = BTreeSet::new();
    let mut roots = BTreeSet::new();
    let add_refs = |kind: Kind, doc: &Value, refs: &mut BTreeSet<String>| {
        for reference in references(kind, doc) {
            if is_group_or_service(&reference.path) {
                refs.insert(reference.path);
            }
        }
    };
    add_refs(kind, doc, &mut refs);
    match kind {
        Kind::SecurityPolicy => {
            for entry in doc["scope"].as_array().into_iter().flatten() {
                if let Some(p) = entry.as_str()
                    && p.contains(CLUSTER_CONTROL_PLANES_SEGMENT)
                {
                    roots.insert(p.to_owned());
                }
            }
            for (_, span) in children_of(tables, path, Kind::ContainerClusterSpan) {
                if let Some(cluster) = span["container_cluster_path"].as_str() {
                    roots.insert(cluster.to_owned());
                }
            }
            for (_, rule) in children_of(tables, path, Kind::Rule) {
                add_refs(Kind::Rule, rule, &mut refs);
            }
        }
        Kind::Service => {
            for (_, entry) in children_of(tables, path, Kind::ServiceEntry) {
                add_refs(Kind::ServiceEntry, entry, &mut refs);
            }
        }
        _ => {}
    }
    refs.remove(path);
    let Value::Object(mut rendered) = render(
        tables,
        path,
        doc,
        &Caller::system(),
        RenderOptions::object(),
    ) else {
        return None;
    };
    rendered.remove("_protection");
    let document = serde_json::to_vec(&Value::Object(rendered)).ok()?;
    Some(CachedObject {
        kind: channel_kind,
        path: path.to_owned(),
        unique_id: doc["unique_id"].as_str().unwrap_or_default().to_owned(),
        revision: doc["_revision"].as_i64().unwrap_or_default(),
        document,
        protected_by: doc[PROTECTED_BY].as_str().map(str::to_owned),
        refs: refs.into_iter().collect(),
        roots: roots.into_iter().collect(),
    })
}

fn sorted_difference<'a>(a: &'a [String], b: &'a [String]) -> impl Iterator<Item = &'a String> {
    a.iter().filter(|x| b.binary_search(x).is_err())
}

impl SpanIndex {
    /// An index of everything in `tables`.
    pub fn build(tables: &Tables) -> Self {
        let mut index = SpanIndex::default();
        let keys: Vec<&str> = ["/infra/domains/", "/infra/services/"]
            .into_iter()
            .flat_map(|prefix| tables.scan_prefix(TABLE, prefix))
            .map(|(k, _)| k.as_str())
            .filter(|k| {
                matches!(
                    kind_of_path(k),
                    Some(Kind::SecurityPolicy | Kind::Group | Kind::Service)
                )
            })
            .collect();
        index.apply(tables, keys);
        index
    }

    /// Updates the index after a commit that touched the policy-table keys `touched`, reading
    /// the objects that own them from `tables`; returns how each cluster's desired state
    /// changed.
    pub fn apply<'k>(
        &mut self,
        tables: &Tables,
        touched: impl IntoIterator<Item = &'k str>,
    ) -> Vec<ClusterDelta> {
        let owners: BTreeMap<String, Kind> = touched.into_iter().filter_map(owner_of).collect();
        let mut work: BTreeMap<String, Work> = BTreeMap::new();
        let mut removed: HashMap<String, Arc<CachedObject>> = HashMap::new();
        for (path, kind) in owners {
            let old = self.objects.get(&path).cloned();
            let new = tables
                .get(TABLE, &path)
                .and_then(|doc| build(tables, kind, &path, doc))
                .map(Arc::new);
            let members: Vec<String> = self
                .membership
                .get(&path)
                .map(|m| m.iter().cloned().collect())
                .unwrap_or_default();
            match (old, new) {
                (None, None) => {}
                (Some(old), None) => {
                    self.objects.remove(&path);
                    for cluster in &old.roots {
                        self.remove_root(cluster, &path);
                    }
                    for cluster in old.roots.iter().chain(&members) {
                        work.entry(cluster.clone()).or_default().full = true;
                    }
                    removed.insert(path, old);
                }
                (old, Some(new)) => {
                    let empty = Vec::new();
                    let (old_roots, old_refs) = old
                        .as_ref()
                        .map_or((&empty, &empty), |o| (&o.roots, &o.refs));
                    for cluster in sorted_difference(&new.roots, old_roots) {
                        self.roots
                            .entry(cluster.clone())
                            .or_default()
                            .insert(path.clone());
                        work.entry(cluster.clone())
                            .or_default()
                            .frontier
                            .push(path.clone());
                    }
                    for cluster in sorted_difference(old_roots, &new.roots) {
                        self.remove_root(cluster, &path);
                        work.entry(cluster.clone()).or_default().full = true;
                    }
                    // What the adapter sees changed (not the spans or references alone).
                    let content_changed = old.as_ref().is_some_and(|o| {
                        o.document != new.document
                            || o.unique_id != new.unique_id
                            || o.revision != new.revision
                            || o.protected_by != new.protected_by
                    });
                    let refs_removed = sorted_difference(old_refs, &new.refs).next().is_some();
                    let refs_added: Vec<String> =
                        sorted_difference(&new.refs, old_refs).cloned().collect();
                    for cluster in &members {
                        let w = work.entry(cluster.clone()).or_default();
                        if content_changed {
                            w.changed.insert(path.clone());
                        }
                        if refs_removed {
                            w.full = true;
                        }
                        w.frontier.extend(refs_added.iter().cloned());
                    }
                    if let Some(old) = old {
                        removed.insert(path.clone(), old);
                    }
                    self.objects.insert(path, new);
                }
            }
        }
        let mut deltas = Vec::new();
        for (cluster, w) in work {
            if let Some(delta) = self.recompute(&cluster, w, &removed) {
                deltas.push(delta);
            }
        }
        deltas
    }

    fn remove_root(&mut self, cluster: &str, policy: &str) {
        if let Some(roots) = self.roots.get_mut(cluster) {
            roots.remove(policy);
            if roots.is_empty() {
                self.roots.remove(cluster);
            }
        }
    }

    /// The closure of `start` over references, skipping what `seen` already holds; adds the
    /// new nodes to `seen` and returns them.
    fn closure_into(&self, start: Vec<String>, seen: &mut HashSet<String>) -> Vec<String> {
        let mut added = Vec::new();
        let mut stack = start;
        while let Some(path) = stack.pop() {
            if seen.contains(&path) {
                continue;
            }
            let Some(object) = self.objects.get(&path) else {
                continue;
            };
            seen.insert(path.clone());
            stack.extend(object.refs.iter().filter(|r| !seen.contains(*r)).cloned());
            added.push(path);
        }
        added
    }

    fn recompute(
        &mut self,
        cluster: &str,
        work: Work,
        removed: &HashMap<String, Arc<CachedObject>>,
    ) -> Option<ClusterDelta> {
        let old = self.desired.remove(cluster).unwrap_or_default();
        let (new, entered, left): (HashSet<String>, Vec<String>, Vec<String>) = if work.full {
            let roots: Vec<String> = self
                .roots
                .get(cluster)
                .map(|r| r.iter().cloned().collect())
                .unwrap_or_default();
            let mut new = HashSet::new();
            self.closure_into(roots, &mut new);
            let entered = new.iter().filter(|p| !old.contains(*p)).cloned().collect();
            let left = old.iter().filter(|p| !new.contains(*p)).cloned().collect();
            (new, entered, left)
        } else {
            let mut new = old.clone();
            let entered = self.closure_into(work.frontier, &mut new);
            (new, entered, Vec::new())
        };
        for path in &entered {
            self.membership
                .entry(path.clone())
                .or_default()
                .insert(cluster.to_owned());
        }
        for path in &left {
            if let Some(members) = self.membership.get_mut(path) {
                members.remove(cluster);
                if members.is_empty() {
                    self.membership.remove(path);
                }
            }
        }
        let mut upserts: BTreeSet<&String> = entered.iter().collect();
        upserts.extend(work.changed.iter().filter(|p| new.contains(*p)));
        let upserts: Vec<Arc<CachedObject>> = upserts
            .into_iter()
            .filter_map(|p| self.objects.get(p).cloned())
            .collect();
        let deletes: Vec<Arc<CachedObject>> = left
            .iter()
            .filter_map(|p| removed.get(p).or_else(|| self.objects.get(p)).cloned())
            .collect();
        if !new.is_empty() {
            self.desired.insert(cluster.to_owned(), new);
        }
        if upserts.is_empty() && deletes.is_empty() {
            return None;
        }
        Some(ClusterDelta {
            cluster_path: cluster.to_owned(),
            upserts: sending_order(upserts, false),
            deletes: sending_order(deletes, true),
        })
    }

    /// The desired state of the cluster at `cluster_path`, in sending order.
    pub fn snapshot(&self, cluster_path: &str) -> Vec<Arc<CachedObject>> {
        let objects = self
            .desired
            .get(cluster_path)
            .into_iter()
            .flatten()
            .filter_map(|p| self.objects.get(p).cloned())
            .collect();
        sending_order(objects, false)
    }

    /// The clusters (paths) whose desired state holds `path`.
    pub fn clusters_of(&self, path: &str) -> Vec<String> {
        self.membership
            .get(path)
            .map(|m| m.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether the desired state of `cluster_path` holds `path`.
    pub fn contains(&self, cluster_path: &str, path: &str) -> bool {
        self.desired
            .get(cluster_path)
            .is_some_and(|d| d.contains(path))
    }

    /// How many objects the desired state of `cluster_path` holds.
    pub fn desired_len(&self, cluster_path: &str) -> usize {
        self.desired.get(cluster_path).map_or(0, HashSet::len)
    }

    /// The cached object at `path`.
    pub fn object(&self, path: &str) -> Option<&Arc<CachedObject>> {
        self.objects.get(path)
    }
}

fn kind_rank(kind: ObjectKind) -> u8 {
    match kind {
        ObjectKind::Service => 0,
        ObjectKind::Group => 1,
        ObjectKind::SecurityPolicy => 2,
        ObjectKind::Unspecified => 3,
    }
}

/// Orders objects for sending: services, groups, policies, and inside a kind every object
/// after the objects of the list it references (a depth-first topological order; a cycle is
/// cut where it closes). `reverse` gives the order for deletes.
pub fn sending_order(mut objects: Vec<Arc<CachedObject>>, reverse: bool) -> Vec<Arc<CachedObject>> {
    objects.sort_by(|a, b| {
        kind_rank(a.kind)
            .cmp(&kind_rank(b.kind))
            .then_with(|| a.path.cmp(&b.path))
    });
    let position: HashMap<&str, usize> = objects
        .iter()
        .enumerate()
        .map(|(i, o)| (o.path.as_str(), i))
        .collect();
    let mut visited = vec![false; objects.len()];
    let mut order = Vec::with_capacity(objects.len());
    for start in 0..objects.len() {
        if visited[start] {
            continue;
        }
        // Iterative post-order DFS over references inside the list.
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        visited[start] = true;
        while let Some((node, next)) = stack.pop() {
            let refs = &objects[node].refs;
            match refs[next..]
                .iter()
                .position(|r| position.get(r.as_str()).is_some_and(|&i| !visited[i]))
            {
                Some(offset) => {
                    let child = position[refs[next + offset].as_str()];
                    stack.push((node, next + offset + 1));
                    visited[child] = true;
                    stack.push((child, 0));
                }
                None => order.push(node),
            }
        }
    }
    let mut slots: Vec<Option<Arc<CachedObject>>> = objects.into_iter().map(Some).collect();
    let mut out: Vec<Arc<CachedObject>> =
        order.into_iter().filter_map(|i| slots[i].take()).collect();
    // Keep the kind order even where a reference crosses kinds the other way.
    out.sort_by_key(|o| kind_rank(o.kind));
    if reverse {
        out.reverse();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;
    use crate::policy::{Engine, Origin, WriteMode, bootstrap};
    use crate::store::{Store, WriteTxn};
    use serde_json::json;

    const C1: &str = "/infra/sites/default/enforcement-points/default/cluster-control-planes/c1";
    const C2: &str = "/infra/sites/default/enforcement-points/default/cluster-control-planes/c2";

    fn group(id: &str) -> String {
        format!("/infra/domains/default/groups/{id}")
    }

    fn policy(id: &str) -> String {
        format!("/infra/domains/default/security-policies/{id}")
    }

    struct Fixture {
        store: Store,
        index: SpanIndex,
        commits: tokio::sync::mpsc::UnboundedReceiver<Arc<crate::store::CommitNotice>>,
    }

    impl Fixture {
        fn new() -> Self {
            let store = Store::in_memory();
            store
                .write_blocking(|tx| {
                    bootstrap(tx, 1)?;
                    for cluster in [C1, C2] {
                        tx.put(
                            TABLE,
                            cluster,
                            json!({"resource_type": "ClusterControlPlane", "id": cluster}),
                        );
                    }
                    Ok::<_, crate::error::ApiError>(())
                })
                .unwrap();
            let index = store.read(SpanIndex::build);
            let commits = store.subscribe();
            Fixture {
                store,
                index,
                commits,
            }
        }

        fn change(
            &mut self,
            f: impl FnOnce(&mut Engine<'_, '_>) -> Result<(), crate::error::ApiError>,
        ) -> Vec<ClusterDelta> {
            self.store
                .write_blocking(|tx: &mut WriteTxn<'_>| {
                    let caller = Caller {
                        identity: Identity::User("admin".into()),
                        allow_overwrite: false,
                    };
                    let mut engine = Engine::new(tx, caller, 2);
                    f(&mut engine)?;
                    engine.finish()
                })
                .unwrap();
            let notice = self.commits.try_recv().unwrap();
            let keys: Vec<&str> = notice
                .touched
                .iter()
                .filter(|(t, _)| t == TABLE)
                .map(|(_, k)| k.as_str())
                .collect();
            let deltas = self.store.read(|t| self.index.apply(t, keys));
            // The incremental result always equals a rebuild from scratch.
            let rebuilt = self.store.read(SpanIndex::build);
            for cluster in [C1, C2] {
                let paths = |i: &SpanIndex| {
                    i.snapshot(cluster)
                        .iter()
                        .map(|o| o.path.clone())
                        .collect::<BTreeSet<_>>()
                };
                assert_eq!(paths(&self.index), paths(&rebuilt), "{cluster}");
            }
            deltas
        }

        fn paths(&self, cluster: &str) -> Vec<String> {
            let mut paths: Vec<String> = self
                .index
                .snapshot(cluster)
                .iter()
                .map(|o| o.path.clone())
                .collect();
            paths.sort();
            paths
        }
    }

    fn upsert(
        engine: &mut Engine<'_, '_>,
        kind: Kind,
        path: &str,
        body: serde_json::Value,
    ) -> Result<(), crate::error::ApiError> {
        engine.upsert(kind, path, body, WriteMode::Merge, Origin::Rest)?;
        Ok(())
    }

    fn path_group(
        engine: &mut Engine<'_, '_>,
        id: &str,
        members: &[&str],
    ) -> Result<(), crate::error::ApiError> {
        let expression = if members.is_empty() {
            json!([{"resource_type": "Condition", "member_type": "Pod", "key": "Tag", "operator": "EQUALS", "value": id}])
        } else {
            json!([{"resource_type": "PathExpression", "paths": members.iter().map(|m| group(m)).collect::<Vec<_>>()}])
        };
        upsert(
            engine,
            Kind::Group,
            &group(id),
            json!({"resource_type": "Group", "expression": expression}),
        )
    }

    fn paths_of(objects: &[Arc<CachedObject>]) -> Vec<&str> {
        objects.iter().map(|o| o.path.as_str()).collect()
    }

    #[test]
    fn span_is_the_transitive_closure_of_spanned_policies() {
        let mut f = Fixture::new();
        f.change(|e| {
            path_group(e, "leaf", &[])?;
            path_group(e, "mid", &["leaf"])?;
            path_group(e, "top", &["mid"])?;
            path_group(e, "unused", &[])?;
            upsert(e, Kind::Service, "/infra/services/web", json!({"service_entries": [
                {"resource_type": "NestedServiceServiceEntry", "id": "n", "nested_service_path": "/infra/services/HTTPS"}]}))?;
            upsert(e, Kind::SecurityPolicy, &policy("p"), json!({"category": "Application", "rules": [
                {"id": "r", "source_groups": [group("top")], "destination_groups": ["10.0.0.0/8"],
                 "services": ["/infra/services/web"], "action": "ALLOW"}]}))
        });
        assert!(f.paths(C1).is_empty(), "not spanned yet");
        let deltas = f.change(|e| {
            upsert(e, Kind::ContainerClusterSpan, &format!("{}/container-cluster-span/c1", policy("p")),
                json!({"resource_type": "SecurityPolicyContainerCluster", "container_cluster_path": C1}))
        });
        assert_eq!(deltas.len(), 1);
        assert_eq!(deltas[0].cluster_path, C1);
        assert_eq!(
            paths_of(&deltas[0].upserts),
            [
                "/infra/services/HTTPS",
                "/infra/services/web",
                group("leaf").as_str(),
                group("mid").as_str(),
                group("top").as_str(),
                policy("p").as_str()
            ]
        );
        assert!(f.paths(C2).is_empty());
        // The policy document embeds its rules and is what GET returns.
        let object = f.index.object(&policy("p")).unwrap().nsx_object("c1");
        let document = object.parse_document().unwrap();
        assert_eq!(document["rules"][0]["id"], "r");
        assert_eq!(document["_protection"], "NOT_PROTECTED");
    }

    #[test]
    fn changes_reach_only_the_clusters_that_hold_the_object() {
        let mut f = Fixture::new();
        f.change(|e| {
            path_group(e, "a", &[])?;
            path_group(e, "b", &[])?;
            upsert(
                e,
                Kind::SecurityPolicy,
                &policy("p1"),
                json!({"rules": [{"id": "r", "source_groups": [group("a")]}]}),
            )?;
            upsert(
                e,
                Kind::SecurityPolicy,
                &policy("p2"),
                json!({"scope": [C2], "rules": [{"id": "r", "source_groups": [group("b")]}]}),
            )?;
            upsert(
                e,
                Kind::ContainerClusterSpan,
                &format!("{}/container-cluster-span/c1", policy("p1")),
                json!({"container_cluster_path": C1}),
            )
        });
        assert_eq!(f.paths(C1), [group("a"), policy("p1")]);
        assert_eq!(f.paths(C2), [group("b"), policy("p2")]);
        // A rule change re-sends its policy to its cluster only.
        let deltas = f.change(|e| {
            upsert(
                e,
                Kind::Rule,
                &format!("{}/rules/r", policy("p1")),
                json!({"action": "DROP"}),
            )
        });
        assert_eq!(deltas.len(), 1);
        assert_eq!(deltas[0].cluster_path, C1);
        assert_eq!(paths_of(&deltas[0].upserts), [policy("p1").as_str()]);
        // Moving the rule to group b: a leaves C1, b enters it; C2 is untouched.
        let deltas = f.change(|e| {
            upsert(
                e,
                Kind::Rule,
                &format!("{}/rules/r", policy("p1")),
                json!({"source_groups": [group("b")]}),
            )
        });
        assert_eq!(deltas.len(), 1);
        assert_eq!(
            paths_of(&deltas[0].upserts),
            [group("b").as_str(), policy("p1").as_str()]
        );
        assert_eq!(paths_of(&deltas[0].deletes), [group("a").as_str()]);
        // A change to b reaches both clusters.
        let deltas = f.change(|e| upsert(e, Kind::Group, &group("b"), json!({"description": "x"})));
        let clusters: Vec<&str> = deltas.iter().map(|d| d.cluster_path.as_str()).collect();
        assert_eq!(clusters, [C1, C2]);
        // Spanning p1 to C2 as well concerns C2 only: C1 already has p1 as it is.
        let deltas = f.change(|e| {
            upsert(
                e,
                Kind::ContainerClusterSpan,
                &format!("{}/container-cluster-span/c2", policy("p1")),
                json!({"container_cluster_path": C2}),
            )
        });
        let clusters: Vec<&str> = deltas.iter().map(|d| d.cluster_path.as_str()).collect();
        assert_eq!(clusters, [C2]);
        assert_eq!(paths_of(&deltas[0].upserts), [policy("p1").as_str()]);
        // A group nobody spans changes nothing.
        assert!(
            f.change(|e| upsert(e, Kind::Group, &group("a"), json!({"description": "y"})))
                .is_empty()
        );
    }

    #[test]
    fn leaving_the_span_deletes_in_reverse_dependency_order() {
        let mut f = Fixture::new();
        f.change(|e| {
            path_group(e, "leaf", &[])?;
            path_group(e, "top", &["leaf"])?;
            upsert(e, Kind::SecurityPolicy, &policy("p"), json!({"rules": [{"id": "r", "destination_groups": [group("top")], "services": ["/infra/services/SSH"]}]}))?;
            upsert(e, Kind::ContainerClusterSpan, &format!("{}/container-cluster-span/c1", policy("p")),
                json!({"container_cluster_path": C1}))
        });
        let deltas = f.change(|e| {
            e.delete(&format!("{}/container-cluster-span/c1", policy("p")), false)?;
            Ok(())
        });
        assert_eq!(
            paths_of(&deltas[0].deletes),
            [
                policy("p").as_str(),
                group("top").as_str(),
                group("leaf").as_str(),
                "/infra/services/SSH"
            ]
        );
        assert!(deltas[0].upserts.is_empty());
        assert!(f.paths(C1).is_empty());
    }

    #[test]
    fn cycles_between_groups_are_released_when_unreferenced() {
        let mut f = Fixture::new();
        f.change(|e| {
            path_group(e, "a", &[])?;
            path_group(e, "b", &["a"])?;
            upsert(
                e,
                Kind::SecurityPolicy,
                &policy("p"),
                json!({"scope": [C1, group("b")]}),
            )
        });
        f.change(|e| path_group(e, "a", &["b"]));
        assert_eq!(f.paths(C1), [group("a"), group("b"), policy("p")]);
        let deltas = f.change(|e| {
            upsert(
                e,
                Kind::SecurityPolicy,
                &policy("p"),
                json!({"scope": [C1]}),
            )
        });
        assert_eq!(paths_of(&deltas[0].upserts), [policy("p").as_str()]);
        assert_eq!(deltas[0].deletes.len(), 2);
        assert_eq!(f.paths(C1), [policy("p")]);
    }

    #[test]
    fn deleting_a_spanned_policy_deletes_what_only_it_used() {
        let mut f = Fixture::new();
        f.change(|e| {
            path_group(e, "g", &[])?;
            upsert(
                e,
                Kind::SecurityPolicy,
                &policy("p"),
                json!({"scope": [C1], "rules": [{"id": "r", "source_groups": [group("g")]}]}),
            )?;
            upsert(
                e,
                Kind::SecurityPolicy,
                &policy("q"),
                json!({"scope": [C1]}),
            )
        });
        let deltas = f.change(|e| {
            e.delete(&policy("p"), false)?;
            Ok(())
        });
        assert_eq!(
            paths_of(&deltas[0].deletes),
            [policy("p").as_str(), group("g").as_str()]
        );
        assert_eq!(f.paths(C1), [policy("q")]);
    }

    #[test]
    fn protection_is_as_the_cluster_sees_it() {
        let object = CachedObject {
            kind: ObjectKind::Group,
            path: group("g"),
            unique_id: "u".into(),
            revision: 3,
            document: br#"{"resource_type":"Group","path":"/infra/domains/default/groups/g","unique_id":"u","_revision":3}"#.to_vec(),
            protected_by: Some("c1".into()),
            refs: Vec::new(),
            roots: Vec::new(),
        };
        assert_eq!(
            object.nsx_object("c1").parse_document().unwrap()["_protection"],
            "NOT_PROTECTED"
        );
        assert_eq!(
            object.nsx_object("c2").parse_document().unwrap()["_protection"],
            "REQUIRE_OVERRIDE"
        );
    }

    #[test]
    fn protected_by_key_matches_the_policy_engine() {
        let store = Store::in_memory();
        store
            .write_blocking(|tx| {
                bootstrap(tx, 1)?;
                let caller = Caller {
                    identity: Identity::Principal {
                        name: "c1".into(),
                        protected: true,
                    },
                    allow_overwrite: false,
                };
                let mut engine = Engine::new(tx, caller, 2);
                path_group(&mut engine, "g", &[])?;
                engine.finish()
            })
            .unwrap();
        store.read(|t| {
            let doc = t.get(TABLE, &group("g")).unwrap();
            assert_eq!(doc[PROTECTED_BY], "c1");
        });
    }
}
