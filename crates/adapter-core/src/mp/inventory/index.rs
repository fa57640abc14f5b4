//! [`InventoryIndex`]: the projected inventory records the MP adapter keeps in memory, and
//! the changes NSX still has to receive.
//!
//! For every key `(resource_type, external_id)` the index knows the *desired* record (what
//! the cluster says now) and, for keys whose NSX copy may differ, the *confirmed* record
//! (what NSX held at the last acknowledged batch or full comparison). A change is never
//! stored as an event: a dirty key is queued once, however often its object changes, and
//! the operation is computed when a batch is cut, from confirmed to desired:
//!
//! | confirmed | desired | sent |
//! |---|---|---|
//! | none | record | `CREATE`, the whole record |
//! | record | none | `DELETE`, `resource_type` + `external_id` |
//! | record A | record B | `UPDATE`, the changed fields (a `CREATE` replacement when a scalar field was removed, see [`record_delta`]) |
//! | equal | equal | nothing (the key leaves the queue) |
//!
//! A key belongs to at most one batch in flight. Changes to it while its batch is in flight
//! queue it again, and it is not cut into another batch until that batch is acknowledged
//! ([`ack`](InventoryIndex::ack): NSX now holds what was sent) or returned
//! ([`nack`](InventoryIndex::nack): NSX still holds the confirmed record, and the key goes back
//! to its old place in the queue). So a delete is never sent before (or together with) the
//! create of the same key, nothing is lost when a batch fails, and nothing is sent twice
//! once acknowledged.
//!
//! **Refused records.** NSX applies a batch all or nothing, so one record it refuses (a 4xx
//! with an `ApiError`) blocks the whole batch. The I/O layer then bisects:
//! [`split`](InventoryIndex::split) turns a refused batch into two halves (same keys, same order, new
//! ids) to send one after the other, and a refused batch of one change is set aside with
//! [`refuse`](InventoryIndex::refuse): NSX still holds the confirmed record, and the key
//! stays out of the queue until its object changes again (or a full comparison finds that
//! another operation is needed, e.g. a `CREATE` where a refused `UPDATE` found no object).
//! So the rest of the inventory is never held back, and nothing is lost or sent twice.
//!
//! [`diff_against`](InventoryIndex::diff_against) replaces the confirmed state with what NSX
//! actually lists (start-up, and the periodic full comparison), so that objects that changed
//! or vanished while the adapter was away are fixed, deletions included.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use nsx_model::inventory::{
    ContainerInventoryData, ContainerInventoryObject, ContainerObject, ObjectUpdateType,
    ResourceType,
};
use serde_json::Value;

use super::delta::{RecordDelta, delete_body, normalize_nsx_record, record_delta};

/// The identity of an inventory object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InventoryKey {
    pub resource_type: ResourceType,
    pub external_id: Arc<str>,
}

impl InventoryKey {
    /// A key.
    pub fn new(resource_type: ResourceType, external_id: impl Into<Arc<str>>) -> Self {
        Self {
            resource_type,
            external_id: external_id.into(),
        }
    }

    /// The key of a record.
    pub fn of(record: &ContainerObject) -> Self {
        Self::new(record.resource_type(), record.external_id())
    }
}

impl fmt::Display for InventoryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.resource_type, self.external_id)
    }
}

/// What the index refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    /// A record without `external_id` cannot be keyed.
    #[error("{0} record without external_id")]
    MissingExternalId(ResourceType),
    /// `diff_against` needs every batch settled, or it could not tell what NSX holds.
    #[error("{0} inventory batch(es) still in flight: ack or nack them before a full comparison")]
    BatchesInFlight(usize),
    /// `ack`/`nack` of a batch the index does not know (already settled, or never cut).
    #[error("unknown inventory batch {0}")]
    UnknownBatch(u64),
}

/// Identifies a batch cut by [`InventoryIndex::next_batch`].
pub type BatchId = u64;

/// A batch of changes for one `POST /api/v1/inventory/container/{cluster-id}?action=updates`.
#[derive(Debug, Clone, PartialEq)]
pub struct InventoryBatch {
    pub id: BatchId,
    /// The request body.
    pub data: ContainerInventoryData,
}

impl InventoryBatch {
    /// How many objects the batch changes.
    pub fn len(&self) -> usize {
        self.data.container_inventory_objects.len()
    }

    /// Whether the batch is empty (never the case for a batch `next_batch` returns).
    pub fn is_empty(&self) -> bool {
        self.data.container_inventory_objects.is_empty()
    }
}

/// A change NSX refused on its own, set aside by [`InventoryIndex::refuse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedRecord {
    pub key: InventoryKey,
    /// The refused operation.
    pub update_type: ObjectUpdateType,
    /// The object's name (the record's `display_name`).
    pub name: Option<String>,
    /// The name of its Namespace (its ContainerProject's `display_name`), if namespaced.
    pub namespace: Option<String>,
}

/// What a full comparison found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiffSummary {
    /// Objects NSX lacks.
    pub creates: usize,
    /// Objects NSX holds with other content.
    pub updates: usize,
    /// Objects NSX holds that the cluster no longer has.
    pub deletes: usize,
    /// Objects NSX holds as they should be.
    pub unchanged: usize,
}

/// A key whose NSX copy may differ from the desired record.
#[derive(Debug)]
struct Dirty {
    /// What NSX holds, as of the last acknowledged batch or full comparison.
    confirmed: Option<Arc<ContainerObject>>,
    /// Its place in the queue, when it waits to be cut into a batch.
    queued: Option<u64>,
    /// The batch carrying it, with what NSX will hold once that batch is acknowledged and
    /// the queue place it had.
    in_flight: Option<InFlight>,
}

#[derive(Debug)]
struct InFlight {
    batch: BatchId,
    sent: Option<Arc<ContainerObject>>,
    queue_place: u64,
}

/// The projected records and the changes pending for NSX. See the module documentation.
#[derive(Debug, Default)]
pub struct InventoryIndex {
    records: HashMap<InventoryKey, Arc<ContainerObject>>,
    dirty: HashMap<InventoryKey, Dirty>,
    /// Queue place → key, oldest first.
    queue: BTreeMap<u64, InventoryKey>,
    batches: HashMap<BatchId, Vec<InventoryKey>>,
    /// Keys whose last change NSX refused, with the refused operation. Such a key is dirty
    /// (NSX holds its confirmed record) but not queued.
    refused: HashMap<InventoryKey, ContainerInventoryObject>,
    next_place: u64,
    next_batch_id: BatchId,
}

/// The order of types inside a batch: referenced objects are created before their referrers
/// (projects and nodes before the services and pods that name them) and deleted after them.
fn type_rank(resource_type: ResourceType) -> u8 {
    match resource_type {
        ResourceType::ContainerCluster => 0,
        ResourceType::ContainerProject => 1,
        ResourceType::ContainerClusterNode => 2,
        ResourceType::ContainerIpPool => 3,
        ResourceType::ContainerApplication => 4,
        ResourceType::ContainerApplicationInstance => 5,
        ResourceType::ContainerIngressPolicy => 6,
        ResourceType::ContainerNetworkPolicy => 7,
        ResourceType::ContainerEgress => 8,
        ResourceType::ContainerGateway => 9,
    }
}

impl InventoryIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// The desired record of `key`.
    pub fn get(&self, key: &InventoryKey) -> Option<&Arc<ContainerObject>> {
        self.records.get(key)
    }

    /// Number of desired records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the index holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Every desired record.
    pub fn records(&self) -> impl Iterator<Item = &Arc<ContainerObject>> {
        self.records.values()
    }

    /// Keys waiting to be cut into a batch.
    pub fn pending_len(&self) -> usize {
        self.queue.len()
    }

    /// Keys set aside because NSX refused their last change.
    pub fn refused_len(&self) -> usize {
        self.refused.len()
    }

    /// Whether NSX refused the last change of `key` (it waits for the object to change).
    pub fn is_refused(&self, key: &InventoryKey) -> bool {
        self.refused.contains_key(key)
    }

    /// Batches cut and not yet acknowledged or returned.
    pub fn batches_in_flight(&self) -> usize {
        self.batches.len()
    }

    /// Sets the desired record of its key. Returns whether that changed anything.
    pub fn apply(&mut self, record: ContainerObject) -> Result<bool, InventoryError> {
        if record.external_id().is_empty() {
            return Err(InventoryError::MissingExternalId(record.resource_type()));
        }
        let key = InventoryKey::of(&record);
        if self.records.get(&key).is_some_and(|old| **old == record) {
            return Ok(false);
        }
        let previous = self.records.insert(key.clone(), Arc::new(record));
        self.mark_dirty(key, previous);
        Ok(true)
    }

    /// Removes the desired record of `key`. Returns whether there was one.
    pub fn delete(&mut self, key: &InventoryKey) -> bool {
        let Some(previous) = self.records.remove(key) else {
            return false;
        };
        self.mark_dirty(key.clone(), Some(previous));
        true
    }

    /// Queues `key` after its desired record changed from `previous`.
    fn mark_dirty(&mut self, key: InventoryKey, previous: Option<Arc<ContainerObject>>) {
        // The object changed: a change NSX refused before is worth trying again.
        self.refused.remove(&key);
        let desired = self.records.get(&key).cloned();
        match self.dirty.get_mut(&key) {
            Some(entry) => {
                if entry.in_flight.is_none() && same(entry.confirmed.as_ref(), desired.as_ref()) {
                    // Changed back to what NSX holds: nothing to send any more.
                    if let Some(place) = entry.queued {
                        self.queue.remove(&place);
                    }
                    self.dirty.remove(&key);
                } else if entry.queued.is_none() {
                    let place = self.next_place;
                    self.next_place += 1;
                    entry.queued = Some(place);
                    self.queue.insert(place, key);
                }
            }
            None => {
                let place = self.next_place;
                self.next_place += 1;
                self.queue.insert(place, key.clone());
                self.dirty.insert(
                    key,
                    Dirty {
                        confirmed: previous,
                        queued: Some(place),
                        in_flight: None,
                    },
                );
            }
        }
    }

    /// Cuts the next batch: at most `max` changes, oldest first, skipping keys whose previous
    /// batch is still in flight. Inside the batch, creates and updates come first in
    /// dependency order (projects, nodes, pools, services, pods, ...), then deletes in the
    /// reverse order. `None` when there is nothing to send now.
    pub fn next_batch(&mut self, max: usize) -> Option<InventoryBatch> {
        let max = max.max(1);
        let mut chosen: Vec<(InventoryKey, ContainerInventoryObject)> = Vec::new();
        let mut settled: Vec<(u64, InventoryKey)> = Vec::new();
        let mut taken: Vec<(u64, InventoryKey, Option<Arc<ContainerObject>>)> = Vec::new();
        for (&place, key) in &self.queue {
            if chosen.len() >= max {
                break;
            }
            let Some(entry) = self.dirty.get(key) else {
                // Cannot happen: queued keys are dirty. Drop the stray place.
                settled.push((place, key.clone()));
                continue;
            };
            if entry.in_flight.is_some() {
                continue;
            }
            let desired = self.records.get(key);
            let object = operation(key, entry.confirmed.as_ref(), desired);
            match object {
                None => settled.push((place, key.clone())),
                Some(object) => {
                    taken.push((place, key.clone(), desired.cloned()));
                    chosen.push((key.clone(), object));
                }
            }
        }
        for (place, key) in settled {
            self.queue.remove(&place);
            self.dirty.remove(&key);
        }
        if chosen.is_empty() {
            return None;
        }
        let id = self.next_batch_id;
        self.next_batch_id += 1;
        for (place, key, sent) in taken {
            self.queue.remove(&place);
            if let Some(entry) = self.dirty.get_mut(&key) {
                entry.queued = None;
                entry.in_flight = Some(InFlight {
                    batch: id,
                    sent,
                    queue_place: place,
                });
            }
        }
        chosen.sort_by_key(|(key, object)| {
            let rank = type_rank(key.resource_type);
            match object.object_update_type {
                ObjectUpdateType::Delete => (1, u8::MAX - rank),
                _ => (0, rank),
            }
        });
        let keys = chosen.iter().map(|(key, _)| key.clone()).collect();
        self.batches.insert(id, keys);
        Some(InventoryBatch {
            id,
            data: ContainerInventoryData {
                container_inventory_objects: chosen.into_iter().map(|(_, o)| o).collect(),
            },
        })
    }

    /// NSX applied batch `id`: what it carried is now confirmed.
    pub fn ack(&mut self, id: BatchId) -> Result<(), InventoryError> {
        let keys = self
            .batches
            .remove(&id)
            .ok_or(InventoryError::UnknownBatch(id))?;
        for key in keys {
            let Some(entry) = self.dirty.get_mut(&key) else {
                continue;
            };
            if entry.in_flight.as_ref().is_none_or(|f| f.batch != id) {
                continue;
            }
            let Some(flight) = entry.in_flight.take() else {
                continue;
            };
            entry.confirmed = flight.sent;
            let desired = self.records.get(&key);
            if same(entry.confirmed.as_ref(), desired) {
                if let Some(place) = entry.queued {
                    self.queue.remove(&place);
                }
                self.dirty.remove(&key);
            } else if entry.queued.is_none() {
                // Changes while in flight queue the key; this only keeps that invariant.
                entry.queued = Some(flight.queue_place);
                self.queue.insert(flight.queue_place, key);
            }
        }
        Ok(())
    }

    /// Batch `id` failed: NSX still holds the confirmed records, and the keys go back to the
    /// queue at their old places (so they are retried first), merged with any change that
    /// arrived meanwhile.
    pub fn nack(&mut self, id: BatchId) -> Result<(), InventoryError> {
        let keys = self
            .batches
            .remove(&id)
            .ok_or(InventoryError::UnknownBatch(id))?;
        for key in keys {
            let Some(entry) = self.dirty.get_mut(&key) else {
                continue;
            };
            if entry.in_flight.as_ref().is_none_or(|f| f.batch != id) {
                continue;
            }
            let Some(flight) = entry.in_flight.take() else {
                continue;
            };
            if let Some(place) = entry.queued.take() {
                self.queue.remove(&place);
            }
            if same(entry.confirmed.as_ref(), self.records.get(&key)) {
                self.dirty.remove(&key);
            } else {
                entry.queued = Some(flight.queue_place);
                self.queue.insert(flight.queue_place, key);
            }
        }
        Ok(())
    }

    /// Splits batch `batch` (cut by [`next_batch`](Self::next_batch) or an earlier split, and
    /// refused by NSX) into two halves with new ids, in the same order, to be sent one after
    /// the other. A batch of one change comes back unchanged: it is the refused record
    /// (see [`refuse`](Self::refuse)).
    pub fn split(&mut self, batch: InventoryBatch) -> Result<Vec<InventoryBatch>, InventoryError> {
        if batch.len() < 2 {
            return if self.batches.contains_key(&batch.id) {
                Ok(vec![batch])
            } else {
                Err(InventoryError::UnknownBatch(batch.id))
            };
        }
        let keys = self
            .batches
            .remove(&batch.id)
            .ok_or(InventoryError::UnknownBatch(batch.id))?;
        let mut objects = batch.data.container_inventory_objects;
        let middle = objects.len() / 2;
        let second_objects = objects.split_off(middle);
        let mut first_keys = keys;
        let second_keys = first_keys.split_off(middle.min(first_keys.len()));
        let mut halves = Vec::with_capacity(2);
        for (keys, objects) in [(first_keys, objects), (second_keys, second_objects)] {
            let id = self.next_batch_id;
            self.next_batch_id += 1;
            for key in &keys {
                if let Some(flight) = self
                    .dirty
                    .get_mut(key)
                    .and_then(|entry| entry.in_flight.as_mut())
                    .filter(|flight| flight.batch == batch.id)
                {
                    flight.batch = id;
                }
            }
            self.batches.insert(id, keys);
            halves.push(InventoryBatch {
                id,
                data: ContainerInventoryData {
                    container_inventory_objects: objects,
                },
            });
        }
        Ok(halves)
    }

    /// NSX refused `batch` because of its own content: NSX still holds the confirmed
    /// records, and each change that is still the latest one is set aside (out of the queue)
    /// until its object changes again. A key whose object changed while the batch was in
    /// flight is queued again instead, at its new place. Returns the records set aside.
    /// Meant for batches of one change (see [`split`](Self::split)).
    pub fn refuse(&mut self, batch: &InventoryBatch) -> Result<Vec<RefusedRecord>, InventoryError> {
        let keys = self
            .batches
            .remove(&batch.id)
            .ok_or(InventoryError::UnknownBatch(batch.id))?;
        let mut refused = Vec::new();
        for (key, object) in keys
            .into_iter()
            .zip(&batch.data.container_inventory_objects)
        {
            let Some(entry) = self.dirty.get_mut(&key) else {
                continue;
            };
            if entry.in_flight.as_ref().is_none_or(|f| f.batch != batch.id) {
                continue;
            }
            entry.in_flight = None;
            if entry.queued.is_some() {
                // Changed meanwhile: the new change is tried as any other.
                continue;
            }
            if same(entry.confirmed.as_ref(), self.records.get(&key)) {
                self.dirty.remove(&key);
                continue;
            }
            let record = self.records.get(&key).or(entry.confirmed.as_ref()).cloned();
            let name = record
                .as_ref()
                .and_then(|r| r.display_name())
                .map(str::to_owned);
            let namespace = record.as_ref().and_then(|r| self.namespace_of(r));
            self.refused.insert(key.clone(), object.clone());
            refused.push(RefusedRecord {
                key,
                update_type: object.object_update_type.clone(),
                name,
                namespace,
            });
        }
        Ok(refused)
    }

    /// Gives every change set aside by [`refuse`](Self::refuse) another chance: the keys
    /// are queued again (after everything already queued). The MP adapter does this before
    /// each periodic full comparison, so a refusal NSX no longer makes (or one that was not
    /// about the record after all) is healed within one `InventoryGCPeriod`.
    pub fn retry_refused(&mut self) -> usize {
        let keys: Vec<InventoryKey> = self.refused.drain().map(|(key, _)| key).collect();
        let count = keys.len();
        for key in keys {
            let Some(entry) = self.dirty.get_mut(&key) else {
                continue;
            };
            if entry.queued.is_none() && entry.in_flight.is_none() {
                let place = self.next_place;
                self.next_place += 1;
                entry.queued = Some(place);
                self.queue.insert(place, key);
            }
        }
        count
    }

    /// The name of the Namespace `record` belongs to, from its ContainerProject.
    fn namespace_of(&self, record: &ContainerObject) -> Option<String> {
        let json = record.to_json();
        let project = json.get("container_project_id").and_then(Value::as_str)?;
        let key = InventoryKey::new(ResourceType::ContainerProject, project);
        self.records
            .get(&key)
            .and_then(|p| p.display_name())
            .map(str::to_owned)
    }

    /// Full comparison with what NSX lists for this cluster (every type the adapter
    /// reports). Afterwards the queue holds exactly the creates, updates and deletes that
    /// make NSX equal to the desired records; NSX's own fields (`_last_sync_time`,
    /// `network_status`, ...) are ignored ([`normalize_nsx_record`]). Needs every batch
    /// settled. A ContainerCluster NSX lists is compared only if the index holds one with
    /// that id; it is never deleted.
    pub fn diff_against(
        &mut self,
        nsx_records: impl IntoIterator<Item = ContainerObject>,
    ) -> Result<DiffSummary, InventoryError> {
        if !self.batches.is_empty() {
            return Err(InventoryError::BatchesInFlight(self.batches.len()));
        }
        let mut nsx: HashMap<InventoryKey, Arc<ContainerObject>> = HashMap::new();
        for mut record in nsx_records {
            if record.external_id().is_empty() {
                continue;
            }
            // Deleting the ContainerCluster would delete the whole inventory: the full
            // comparison only updates it, and only when the index holds it.
            if record.resource_type() == ResourceType::ContainerCluster
                && !self.records.contains_key(&InventoryKey::of(&record))
            {
                continue;
            }
            normalize_nsx_record(&mut record);
            nsx.insert(InventoryKey::of(&record), Arc::new(record));
        }
        self.dirty.clear();
        self.queue.clear();
        let refused = std::mem::take(&mut self.refused);
        let mut summary = DiffSummary::default();
        let mut keys: Vec<&InventoryKey> = self.records.keys().collect();
        keys.extend(nsx.keys().filter(|k| !self.records.contains_key(*k)));
        keys.sort_unstable();
        let mut dirty = Vec::new();
        for key in keys {
            let confirmed = nsx.get(key);
            match (confirmed, self.records.get(key)) {
                (None, Some(_)) => summary.creates += 1,
                (Some(_), None) => summary.deletes += 1,
                (Some(old), Some(new)) => {
                    if record_delta(old, new) == RecordDelta::Unchanged {
                        summary.unchanged += 1;
                        continue;
                    }
                    summary.updates += 1;
                }
                (None, None) => continue,
            }
            dirty.push((key.clone(), confirmed.cloned()));
        }
        for (key, confirmed) in dirty {
            if let Some(refused_op) = refused.get(&key)
                && operation(&key, confirmed.as_ref(), self.records.get(&key)).as_ref()
                    == Some(refused_op)
            {
                // The very change NSX refused: it waits for the object to change.
                self.dirty.insert(
                    key.clone(),
                    Dirty {
                        confirmed,
                        queued: None,
                        in_flight: None,
                    },
                );
                self.refused.insert(key, refused_op.clone());
                continue;
            }
            let place = self.next_place;
            self.next_place += 1;
            self.queue.insert(place, key.clone());
            self.dirty.insert(
                key,
                Dirty {
                    confirmed,
                    queued: Some(place),
                    in_flight: None,
                },
            );
        }
        Ok(summary)
    }
}

fn same(a: Option<&Arc<ContainerObject>>, b: Option<&Arc<ContainerObject>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a == b,
        _ => false,
    }
}

/// The operation that brings NSX from `confirmed` to `desired`; `None` when they agree.
fn operation(
    key: &InventoryKey,
    confirmed: Option<&Arc<ContainerObject>>,
    desired: Option<&Arc<ContainerObject>>,
) -> Option<ContainerInventoryObject> {
    match (confirmed, desired) {
        (None, None) => None,
        (None, Some(record)) => Some(create(record)),
        (Some(_), None) => Some(ContainerInventoryObject {
            object_update_type: ObjectUpdateType::Delete,
            container_object: delete_body(key.resource_type.as_str(), &key.external_id),
        }),
        (Some(old), Some(new)) => match record_delta(old, new) {
            RecordDelta::Unchanged => None,
            RecordDelta::Replace => Some(create(new)),
            RecordDelta::Update(body) => Some(ContainerInventoryObject {
                object_update_type: ObjectUpdateType::Update,
                container_object: body,
            }),
        },
    }
}

fn create(record: &ContainerObject) -> ContainerInventoryObject {
    ContainerInventoryObject {
        object_update_type: ObjectUpdateType::Create,
        container_object: record.to_json(),
    }
}

#[cfg(test)]
mod tests;
