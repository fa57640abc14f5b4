//! Tests of the inventory index against a model of NSX's batch update API (CREATE replaces,
//! UPDATE merges and needs the object, DELETE removes; a failed batch changes nothing).

use std::collections::HashMap;

use nsx_model::inventory::{
    ContainerApplicationInstance, ContainerObject, ContainerProject, ContainerStatus, KeyValuePair,
    ObjectUpdateType, ResourceType, Tag,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;

/// NSX's container inventory for one cluster, as the simulator applies updates.
#[derive(Debug, Default)]
struct NsxModel {
    objects: HashMap<(String, String), Map<String, Value>>,
}

fn merge(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (key, value) in patch {
        match (target.get_mut(key), value) {
            (Some(Value::Object(existing)), Value::Object(inner)) => merge(existing, inner),
            _ => {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

impl NsxModel {
    /// Applies a batch all or nothing; `Err` (and no change) when an UPDATE names an object
    /// NSX does not hold.
    fn apply(&mut self, batch: &InventoryBatch) -> Result<(), String> {
        let mut next = self.objects.clone();
        for object in &batch.data.container_inventory_objects {
            let body = &object.container_object;
            let key = (
                body["resource_type"].as_str().unwrap().to_owned(),
                body["external_id"].as_str().unwrap().to_owned(),
            );
            match object.object_update_type {
                ObjectUpdateType::Create => {
                    next.insert(key, body.clone());
                }
                ObjectUpdateType::Update => match next.get_mut(&key) {
                    Some(existing) => merge(existing, body),
                    None => return Err(format!("UPDATE of missing {key:?}")),
                },
                ObjectUpdateType::Delete => {
                    next.remove(&key);
                }
                ObjectUpdateType::Other(_) => return Err("unknown update type".into()),
            }
        }
        self.objects = next;
        Ok(())
    }

    fn records(&self) -> Vec<ContainerObject> {
        self.objects
            .values()
            .map(|m| ContainerObject::from_json(Value::Object(m.clone())).unwrap())
            .collect()
    }
}

fn desired_json(index: &InventoryIndex) -> HashMap<(String, String), ContainerObject> {
    index
        .records()
        .map(|r| {
            (
                (
                    r.resource_type().as_str().to_owned(),
                    r.external_id().to_owned(),
                ),
                (**r).clone(),
            )
        })
        .collect()
}

impl NsxModel {
    /// What NSX holds, read back as records (an empty list and an absent one are the same).
    fn parsed(&self) -> HashMap<(String, String), ContainerObject> {
        self.objects
            .iter()
            .map(|(k, m)| {
                (
                    k.clone(),
                    ContainerObject::from_json(Value::Object(m.clone())).unwrap(),
                )
            })
            .collect()
    }
}

/// Object `k` at version `v`: versions differ in scalars, lists emptied and refilled, and a
/// scalar that comes and goes (which needs a replacement).
fn record(k: u8, v: u8) -> ContainerObject {
    if k.is_multiple_of(3) {
        ContainerObject::ContainerProject(ContainerProject {
            external_id: format!("ns-{k}"),
            display_name: Some(format!("ns-{k}")),
            tags: (0..v % 3)
                .map(|i| Tag {
                    scope: format!("dis:k8s:l{i}").into(),
                    tag: format!("{v}").into(),
                })
                .collect(),
            ..Default::default()
        })
    } else {
        ContainerObject::ContainerApplicationInstance(ContainerApplicationInstance {
            external_id: format!("pod-{k}"),
            display_name: Some(format!("pod-{k}")),
            container_project_id: Some(format!("ns-{}", k - k % 3).into()),
            cluster_node_id: v.is_multiple_of(2).then(|| format!("node-{v}").into()),
            container_application_ids: (0..v % 3).map(|i| format!("svc-{i}").into()).collect(),
            status: Some(if v % 4 < 2 {
                ContainerStatus::Up
            } else {
                ContainerStatus::Down
            }),
            origin_properties: vec![KeyValuePair::new("ip", format!("10.0.0.{v}"))],
            ..Default::default()
        })
    }
}

fn key(k: u8) -> InventoryKey {
    let r = record(k, 0);
    InventoryKey::of(&r)
}

/// A batch cut and not yet settled, with its keys.
type Flying = (BatchId, Vec<(String, String)>, InventoryBatch);

#[derive(Debug, Clone)]
enum Op {
    Apply(u8, u8),
    Delete(u8),
    Cut(usize),
    /// Settle the oldest batch in flight: deliver it to NSX (which may refuse it) or lose it.
    Settle {
        deliver: bool,
    },
    /// Full comparison with NSX (only when nothing is in flight).
    Diff,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..7, 0u8..6).prop_map(|(k, v)| Op::Apply(k, v)),
        2 => (0u8..7).prop_map(Op::Delete),
        2 => (1usize..4).prop_map(Op::Cut),
        2 => any::<bool>().prop_map(|deliver| Op::Settle { deliver }),
        1 => Just(Op::Diff),
    ]
}

/// Checks the structure of a batch: one entry per key, none in another batch in flight,
/// UPDATEs sparse with their identity, DELETEs minimal.
fn check_batch(batch: &InventoryBatch, in_flight: &[(BatchId, Vec<(String, String)>)]) {
    let mut seen = std::collections::HashSet::new();
    for object in &batch.data.container_inventory_objects {
        let body = &object.container_object;
        let key = (
            body["resource_type"].as_str().unwrap().to_owned(),
            body["external_id"].as_str().unwrap().to_owned(),
        );
        assert!(seen.insert(key.clone()), "{key:?} twice in one batch");
        for (_, keys) in in_flight {
            assert!(!keys.contains(&key), "{key:?} cut while in flight");
        }
        match object.object_update_type {
            ObjectUpdateType::Delete => assert_eq!(body.len(), 2),
            ObjectUpdateType::Update => assert!(body.len() > 2, "empty UPDATE {body:?}"),
            _ => {}
        }
    }
}

fn keys_of(batch: &InventoryBatch) -> Vec<(String, String)> {
    batch
        .data
        .container_inventory_objects
        .iter()
        .map(|o| {
            (
                o.container_object["resource_type"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                o.container_object["external_id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect()
}

/// Sends everything pending until the index has nothing left, with no failures.
fn drain(index: &mut InventoryIndex, nsx: &mut NsxModel) -> usize {
    let mut sent = 0;
    for _ in 0..100 {
        let Some(batch) = index.next_batch(3) else {
            return sent;
        };
        check_batch(&batch, &[]);
        sent += batch.len();
        nsx.apply(&batch)
            .expect("NSX accepts a batch built from confirmed state");
        index.ack(batch.id).unwrap();
    }
    panic!("the index never ran dry");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Whatever happens (coalescing, batches lost or refused, full comparisons), once the
    /// index is drained NSX equals the desired records, and a second drain sends nothing.
    #[test]
    fn deltas_converge_nsx_to_the_index(ops in prop::collection::vec(op(), 1..60)) {
        let mut index = InventoryIndex::new();
        let mut nsx = NsxModel::default();
        let mut in_flight: Vec<Flying> = Vec::new();
        for op in ops {
            match op {
                Op::Apply(k, v) => { index.apply(record(k, v)).unwrap(); }
                Op::Delete(k) => { index.delete(&key(k)); }
                Op::Cut(max) => {
                    if let Some(batch) = index.next_batch(max) {
                        prop_assert!(batch.len() <= max);
                        let flying: Vec<_> = in_flight.iter().map(|(id, k, _)| (*id, k.clone())).collect();
                        check_batch(&batch, &flying);
                        in_flight.push((batch.id, keys_of(&batch), batch));
                    }
                }
                Op::Settle { deliver } => {
                    if in_flight.is_empty() { continue; }
                    let (id, _, batch) = in_flight.remove(0);
                    if deliver && nsx.apply(&batch).is_ok() {
                        index.ack(id).unwrap();
                    } else {
                        index.nack(id).unwrap();
                    }
                }
                Op::Diff => {
                    if in_flight.is_empty() {
                        index.diff_against(nsx.records()).unwrap();
                    } else {
                        prop_assert!(index.diff_against(nsx.records()).is_err());
                    }
                }
            }
        }
        for (id, _, _) in in_flight.drain(..) {
            index.nack(id).unwrap();
        }
        drain(&mut index, &mut nsx);
        prop_assert_eq!(nsx.parsed(), desired_json(&index));
        prop_assert_eq!(drain(&mut index, &mut nsx), 0);
        // A full comparison now finds nothing to do.
        let summary = index.diff_against(nsx.records()).unwrap();
        prop_assert_eq!(summary.creates + summary.updates + summary.deletes, 0);
        prop_assert_eq!(index.next_batch(10), None);
    }

    /// A restart: a fresh index holding the cluster's state compares with whatever NSX kept
    /// (stale, missing, extra objects) and one drain makes NSX equal to it.
    #[test]
    fn diff_against_fixes_whatever_nsx_holds(
        nsx_side in prop::collection::btree_map(0u8..9, 0u8..6, 0..9),
        cluster_side in prop::collection::btree_map(0u8..9, 0u8..6, 0..9),
    ) {
        let mut nsx = NsxModel::default();
        for (&k, &v) in &nsx_side {
            let r = record(k, v);
            nsx.objects.insert((r.resource_type().as_str().into(), r.external_id().into()), r.to_json());
        }
        let mut index = InventoryIndex::new();
        for (&k, &v) in &cluster_side {
            index.apply(record(k, v)).unwrap();
        }
        let summary = index.diff_against(nsx.records()).unwrap();
        let creates = cluster_side.keys().filter(|k| !nsx_side.contains_key(k)).count();
        let deletes = nsx_side.keys().filter(|k| !cluster_side.contains_key(k)).count();
        let changed = cluster_side.iter().filter(|(k, v)| {
            nsx_side.get(k).is_some_and(|w| record(**k, *w) != record(**k, **v))
        }).count();
        prop_assert_eq!(summary.creates, creates);
        prop_assert_eq!(summary.deletes, deletes);
        prop_assert_eq!(summary.updates, changed);
        let sent = drain(&mut index, &mut nsx);
        prop_assert_eq!(sent, creates + deletes + changed);
        prop_assert_eq!(nsx.parsed(), desired_json(&index));
    }
}

#[test]
fn repeated_changes_to_one_object_coalesce_into_one_create() {
    let mut index = InventoryIndex::new();
    for v in 0..5 {
        index.apply(record(1, v)).unwrap();
    }
    let batch = index.next_batch(10).unwrap();
    assert_eq!(batch.len(), 1);
    let object = &batch.data.container_inventory_objects[0];
    assert_eq!(object.object_update_type, ObjectUpdateType::Create);
    assert_eq!(object.container_object, record(1, 4).to_json());
}

#[test]
fn create_then_delete_before_sending_sends_nothing() {
    let mut index = InventoryIndex::new();
    index.apply(record(1, 0)).unwrap();
    assert!(index.delete(&key(1)));
    assert_eq!(index.next_batch(10), None);
    assert_eq!(index.pending_len(), 0);
}

#[test]
fn an_update_carries_only_the_changed_fields() {
    let mut index = InventoryIndex::new();
    let mut nsx = NsxModel::default();
    index.apply(record(1, 0)).unwrap();
    drain(&mut index, &mut nsx);
    index.apply(record(1, 2)).unwrap();
    let batch = index.next_batch(10).unwrap();
    let object = &batch.data.container_inventory_objects[0];
    assert_eq!(object.object_update_type, ObjectUpdateType::Update);
    assert_eq!(
        Value::Object(object.container_object.clone()),
        json!({"resource_type": "ContainerApplicationInstance", "external_id": "pod-1",
               "cluster_node_id": "node-2", "status": "DOWN",
               "container_application_ids": ["svc-0", "svc-1"],
               "origin_properties": [{"key": "ip", "value": "10.0.0.2"}]})
    );
}

#[test]
fn a_change_back_to_what_nsx_holds_leaves_the_queue() {
    let mut index = InventoryIndex::new();
    let mut nsx = NsxModel::default();
    index.apply(record(1, 0)).unwrap();
    drain(&mut index, &mut nsx);
    index.apply(record(1, 2)).unwrap();
    index.apply(record(1, 0)).unwrap();
    assert_eq!(index.pending_len(), 0);
    assert_eq!(index.next_batch(10), None);
    // Re-applying an identical record is not a change at all.
    assert!(!index.apply(record(1, 0)).unwrap());
}

#[test]
fn a_delete_waits_for_the_create_in_flight() {
    let mut index = InventoryIndex::new();
    index.apply(record(1, 0)).unwrap();
    let create = index.next_batch(10).unwrap();
    assert!(index.delete(&key(1)));
    // The delete may not overtake the create still in flight.
    assert_eq!(index.next_batch(10), None);
    index.ack(create.id).unwrap();
    let delete = index.next_batch(10).unwrap();
    assert_eq!(
        delete.data.container_inventory_objects[0].object_update_type,
        ObjectUpdateType::Delete
    );
}

#[test]
fn a_refused_create_followed_by_a_delete_sends_nothing() {
    let mut index = InventoryIndex::new();
    index.apply(record(1, 0)).unwrap();
    let create = index.next_batch(10).unwrap();
    index.delete(&key(1));
    index.nack(create.id).unwrap();
    assert_eq!(index.next_batch(10), None);
}

#[test]
fn a_refused_batch_is_retried_first_with_the_latest_state() {
    let mut index = InventoryIndex::new();
    index.apply(record(1, 0)).unwrap();
    index.apply(record(2, 0)).unwrap();
    let first = index.next_batch(1).unwrap();
    index.apply(record(4, 0)).unwrap();
    index.apply(record(1, 3)).unwrap();
    index.nack(first.id).unwrap();
    let retry = index.next_batch(1).unwrap();
    let object = &retry.data.container_inventory_objects[0];
    assert_eq!(object.container_object["external_id"], json!("pod-1"));
    assert_eq!(object.object_update_type, ObjectUpdateType::Create);
    assert_eq!(object.container_object, record(1, 3).to_json());
}

#[test]
fn batches_order_creates_by_dependency_and_deletes_in_reverse() {
    let mut index = InventoryIndex::new();
    let mut nsx = NsxModel::default();
    index.apply(record(3, 0)).unwrap();
    index.apply(record(4, 0)).unwrap();
    drain(&mut index, &mut nsx);
    // Pod first in time, then its project: the project is still created first.
    index.apply(record(1, 0)).unwrap();
    index.apply(record(0, 0)).unwrap();
    index.delete(&key(4));
    index.delete(&key(3));
    let batch = index.next_batch(10).unwrap();
    let order: Vec<(String, String)> = batch
        .data
        .container_inventory_objects
        .iter()
        .map(|o| {
            (
                o.object_update_type.to_string(),
                o.container_object["resource_type"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            ("CREATE".into(), "ContainerProject".into()),
            ("CREATE".into(), "ContainerApplicationInstance".into()),
            ("DELETE".into(), "ContainerApplicationInstance".into()),
            ("DELETE".into(), "ContainerProject".into()),
        ]
    );
}

#[test]
fn unknown_batches_and_unkeyed_records_are_errors() {
    let mut index = InventoryIndex::new();
    assert_eq!(index.ack(7), Err(InventoryError::UnknownBatch(7)));
    assert_eq!(index.nack(7), Err(InventoryError::UnknownBatch(7)));
    let unkeyed = ContainerObject::ContainerProject(ContainerProject::default());
    assert_eq!(
        index.apply(unkeyed),
        Err(InventoryError::MissingExternalId(
            ResourceType::ContainerProject
        ))
    );
    index.apply(record(1, 0)).unwrap();
    let batch = index.next_batch(1).unwrap();
    assert_eq!(index.ack(batch.id), Ok(()));
    assert_eq!(
        index.ack(batch.id),
        Err(InventoryError::UnknownBatch(batch.id))
    );
}

#[test]
fn diff_against_deletes_what_vanished_during_an_outage() {
    let mut nsx = NsxModel::default();
    let mut before = InventoryIndex::new();
    for k in 0..4 {
        before.apply(record(k, 1)).unwrap();
    }
    drain(&mut before, &mut nsx);
    // Restart: pod-2 was deleted and pod-1 changed while the adapter was down.
    let mut after = InventoryIndex::new();
    for (k, v) in [(0, 1), (1, 2), (3, 1)] {
        after.apply(record(k, v)).unwrap();
    }
    let summary = after.diff_against(nsx.records()).unwrap();
    assert_eq!(
        summary,
        DiffSummary {
            creates: 0,
            updates: 1,
            deletes: 1,
            unchanged: 2
        }
    );
    drain(&mut after, &mut nsx);
    assert_eq!(nsx.parsed(), desired_json(&after));
}

#[test]
fn a_full_comparison_never_deletes_the_container_cluster() {
    use nsx_model::inventory::{ClusterType, ContainerCluster};
    let cluster = |kind: ClusterType| {
        ContainerObject::ContainerCluster(ContainerCluster {
            external_id: "cluster-1".into(),
            display_name: Some("sales".into()),
            cluster_type: Some(kind),
            ..Default::default()
        })
    };
    let mut index = InventoryIndex::new();
    index.apply(record(1, 0)).unwrap();
    let summary = index
        .diff_against([cluster(ClusterType::Kubernetes)])
        .unwrap();
    assert_eq!(summary.deletes, 0);
    let batch = index.next_batch(10).unwrap();
    assert!(
        batch
            .data
            .container_inventory_objects
            .iter()
            .all(|o| o.object_update_type != ObjectUpdateType::Delete)
    );
    index.ack(batch.id).unwrap();
    // When the index holds the cluster record, a difference is an update.
    index.apply(cluster(ClusterType::WorkloadCluster)).unwrap();
    let summary = index
        .diff_against([cluster(ClusterType::Kubernetes), record(1, 0)])
        .unwrap();
    assert_eq!((summary.updates, summary.deletes), (1, 0));
}

/// Sends everything pending as the MP adapter does: a refused batch is split in halves sent
/// one after the other, and a refused change alone is set aside. `refuses` says which
/// external ids NSX refuses to create or update. Returns the records set aside.
fn send_bisecting(
    index: &mut InventoryIndex,
    nsx: &mut NsxModel,
    refuses: &dyn Fn(&str) -> bool,
    max: usize,
) -> Vec<RefusedRecord> {
    let mut refused = Vec::new();
    for _ in 0..1000 {
        let Some(batch) = index.next_batch(max) else {
            return refused;
        };
        let mut todo = std::collections::VecDeque::from([batch]);
        while let Some(batch) = todo.pop_front() {
            let poisoned = batch.data.container_inventory_objects.iter().any(|o| {
                o.object_update_type != ObjectUpdateType::Delete
                    && refuses(o.container_object["external_id"].as_str().unwrap())
            });
            let accepted = !poisoned && nsx.apply(&batch).is_ok();
            if accepted {
                index.ack(batch.id).unwrap();
            } else if batch.len() > 1 {
                let halves = index.split(batch).unwrap();
                assert_eq!(halves.len(), 2);
                for half in halves.into_iter().rev() {
                    todo.push_front(half);
                }
            } else {
                refused.extend(index.refuse(&batch).unwrap());
            }
        }
    }
    panic!("the index never ran dry");
}

#[test]
fn a_refused_record_is_isolated_and_the_rest_is_sent() {
    let mut index = InventoryIndex::new();
    let mut nsx = NsxModel::default();
    for k in 0..12 {
        index.apply(record(k, 1)).unwrap();
    }
    let refused = send_bisecting(&mut index, &mut nsx, &|id| id == "pod-4", 10);
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].key, key(4));
    assert_eq!(refused[0].update_type, ObjectUpdateType::Create);
    assert_eq!(refused[0].name.as_deref(), Some("pod-4"));
    assert_eq!(refused[0].namespace.as_deref(), Some("ns-3"));
    let mut expected = desired_json(&index);
    expected.remove(&("ContainerApplicationInstance".into(), "pod-4".into()));
    assert_eq!(nsx.parsed(), expected);
    // Set aside: nothing pending, nothing retried.
    assert_eq!(index.pending_len(), 0);
    assert_eq!(index.refused_len(), 1);
    assert!(index.is_refused(&key(4)));
    assert_eq!(index.next_batch(10), None);
    // A full comparison finds the same refused change: still set aside.
    index.diff_against(nsx.records()).unwrap();
    assert_eq!(index.next_batch(10), None);
    assert_eq!(index.refused_len(), 1);
    // Once the object changes, it is sent again (and accepted now).
    index.apply(record(4, 2)).unwrap();
    assert_eq!(index.refused_len(), 0);
    assert!(send_bisecting(&mut index, &mut nsx, &|_| false, 10).is_empty());
    assert_eq!(nsx.parsed(), desired_json(&index));
}

#[test]
fn a_refused_record_that_is_deleted_sends_nothing_more() {
    let mut index = InventoryIndex::new();
    let mut nsx = NsxModel::default();
    index.apply(record(1, 1)).unwrap();
    index.apply(record(2, 1)).unwrap();
    let refused = send_bisecting(&mut index, &mut nsx, &|id| id == "pod-1", 10);
    assert_eq!(refused.len(), 1);
    index.delete(&key(1));
    assert_eq!(index.refused_len(), 0);
    assert_eq!(index.next_batch(10), None);
    assert_eq!(nsx.parsed(), desired_json(&index));
}

#[test]
fn a_change_while_in_flight_is_queued_rather_than_set_aside() {
    let mut index = InventoryIndex::new();
    index.apply(record(1, 1)).unwrap();
    let batch = index.next_batch(10).unwrap();
    index.apply(record(1, 2)).unwrap();
    assert!(index.refuse(&batch).unwrap().is_empty());
    assert_eq!(index.refused_len(), 0);
    let retry = index.next_batch(10).unwrap();
    assert_eq!(
        retry.data.container_inventory_objects[0].container_object,
        record(1, 2).to_json()
    );
}

#[test]
fn a_refused_update_of_a_vanished_object_becomes_a_create_after_a_full_comparison() {
    let mut index = InventoryIndex::new();
    let mut nsx = NsxModel::default();
    index.apply(record(1, 1)).unwrap();
    index.apply(record(2, 1)).unwrap();
    drain(&mut index, &mut nsx);
    // Someone deletes pod-1 in NSX; its next change is an UPDATE NSX refuses.
    nsx.objects
        .remove(&("ContainerApplicationInstance".into(), "pod-1".into()));
    index.apply(record(1, 2)).unwrap();
    index.apply(record(2, 2)).unwrap();
    let refused = send_bisecting(&mut index, &mut nsx, &|_| false, 10);
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].update_type, ObjectUpdateType::Update);
    index.diff_against(nsx.records()).unwrap();
    assert_eq!(index.refused_len(), 0);
    assert!(send_bisecting(&mut index, &mut nsx, &|_| false, 10).is_empty());
    assert_eq!(nsx.parsed(), desired_json(&index));
}

#[test]
fn split_keeps_order_and_a_single_change_is_not_split() {
    let mut index = InventoryIndex::new();
    for k in 0..5 {
        index.apply(record(k, 1)).unwrap();
    }
    let batch = index.next_batch(10).unwrap();
    let order = keys_of(&batch);
    let halves = index.split(batch).unwrap();
    assert_eq!(halves.len(), 2);
    let rejoined: Vec<_> = halves.iter().flat_map(keys_of).collect();
    assert_eq!(rejoined, order);
    assert_eq!(index.batches_in_flight(), 2);
    // The halves settle like any batch.
    index.nack(halves[0].id).unwrap();
    index.ack(halves[1].id).unwrap();
    let retry = index.next_batch(10).unwrap();
    assert_eq!(keys_of(&retry), keys_of(&halves[0]));
    let alone = index.next_batch(10);
    assert_eq!(alone, None);
    let single = index.split(retry.clone()).unwrap();
    assert_eq!(single.len(), 2);
    let one = single.into_iter().next().unwrap();
    let same = index.split(one.clone()).unwrap();
    assert_eq!(same, vec![one]);
    assert_eq!(
        index.split(InventoryBatch {
            id: 999,
            data: retry.data
        }),
        Err(InventoryError::UnknownBatch(999))
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Whatever NSX refuses, every other change arrives once bisected, NSX holds exactly the
    /// desired records except the refused ones (which keep what NSX held), and nothing stays
    /// pending.
    #[test]
    fn bisecting_delivers_everything_but_the_refused_records(
        versions in prop::collection::vec(0u8..6, 1..12),
        refused_ids in prop::collection::hash_set(0u8..12, 0..4),
        max in 1usize..8,
    ) {
        let mut index = InventoryIndex::new();
        let mut nsx = NsxModel::default();
        for (k, v) in versions.iter().enumerate() {
            index.apply(record(k as u8, *v)).unwrap();
        }
        let bad: std::collections::HashSet<String> = refused_ids
            .iter()
            .map(|k| record(*k, 0).external_id().to_owned())
            .collect();
        let refused = send_bisecting(&mut index, &mut nsx, &|id| bad.contains(id), max);
        prop_assert_eq!(index.pending_len(), 0);
        prop_assert_eq!(index.batches_in_flight(), 0);
        prop_assert_eq!(refused.len(), index.refused_len());
        let mut expected = desired_json(&index);
        for r in &refused {
            prop_assert!(bad.contains(&*r.key.external_id));
            expected.remove(&(r.key.resource_type.as_str().to_owned(), r.key.external_id.to_string()));
        }
        prop_assert_eq!(nsx.parsed(), expected);
    }
}

#[test]
fn refused_changes_can_be_given_another_chance() {
    let mut index = InventoryIndex::new();
    let mut nsx = NsxModel::default();
    index.apply(record(1, 1)).unwrap();
    index.apply(record(2, 1)).unwrap();
    send_bisecting(&mut index, &mut nsx, &|id| id == "pod-2", 10);
    assert_eq!(index.refused_len(), 1);
    assert_eq!(index.retry_refused(), 1);
    assert_eq!(index.refused_len(), 0);
    assert_eq!(index.pending_len(), 1);
    assert!(send_bisecting(&mut index, &mut nsx, &|_| false, 10).is_empty());
    assert_eq!(nsx.parsed(), desired_json(&index));
}
