//! Realized state: what each cluster's CCP adapter reported about each object
//! (`RealizationReport`, docs/protocol.md §6.6), kept durably in the store table [`TABLE`], and
//! how NSX's realized-state views are computed from it.
//!
//! One record per (cluster, object path) holds the latest report about the object: its
//! `unique_id` and `revision`, the state (`IN_PROGRESS`, `SUCCESS`, `ERROR`), the errors, the
//! node counts and the Antrea objects created for it. A report about an older revision of the
//! same object never replaces a newer one. `gone` drops the record; a `complete` report drops
//! the records of every object it leaves out (they are IN_PROGRESS again).
//!
//! At read time a record counts only if it is about the object's *current* `unique_id` and
//! `_revision`, and only for the clusters whose desired state holds the object now; every
//! other cluster of the span is IN_PROGRESS. A rule is realized as its policy is.

use std::collections::BTreeSet;

use nsx_proto::v1::{ObjectRealization, RealizationReport, RealizationState};
use serde_json::{Value, json};

use super::feed::DesiredStateFeed;
use crate::error::ApiError;
use crate::policy::kinds::{Kind, kind_of_path, split_path};
use crate::policy::{self, now_ms};
use crate::store::{Tables, WriteTxn};

/// Store table of realization records, keyed by [`record_key`].
pub const TABLE: &str = "realized_state";

/// The key of the record of `path` in cluster `cluster_id`: the id followed by the path (ids
/// have no `/`, paths start with one, so `"{cluster_id}/"` prefixes exactly one cluster).
pub fn record_key(cluster_id: &str, path: &str) -> String {
    format!("{cluster_id}{path}")
}

/// The cluster id of a `ClusterControlPlane` path (its last segment).
pub fn cluster_id_of(cluster_path: &str) -> &str {
    cluster_path.rsplit('/').next().unwrap_or(cluster_path)
}

/// The realization state of an object in one cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Accepted and being applied, or not reported yet.
    InProgress,
    /// Realized.
    Success,
    /// Refused or failed.
    Error,
}

impl State {
    fn from_proto(value: i32) -> State {
        match RealizationState::try_from(value) {
            Ok(RealizationState::Success) => State::Success,
            Ok(RealizationState::Error) => State::Error,
            _ => State::InProgress,
        }
    }

    fn name(self) -> &'static str {
        match self {
            State::InProgress => "IN_PROGRESS",
            State::Success => "SUCCESS",
            State::Error => "ERROR",
        }
    }

    fn from_name(name: &str) -> State {
        match name {
            "SUCCESS" => State::Success,
            "ERROR" => State::Error,
            _ => State::InProgress,
        }
    }

    /// `GenericPolicyRealizedResource.state`: SUCCESS → REALIZED, ERROR → ERROR,
    /// IN_PROGRESS → UNREALIZED (docs/protocol.md §8).
    pub fn entity_state(self) -> &'static str {
        match self {
            State::InProgress => "UNREALIZED",
            State::Success => "REALIZED",
            State::Error => "ERROR",
        }
    }

    /// `ConsolidatedStatus.consolidated_status`.
    pub fn consolidated(self) -> &'static str {
        self.name()
    }
}

fn record_of(
    cluster_id: &str,
    realization: &ObjectRealization,
    generation: u64,
    now: i64,
) -> Option<Value> {
    let object = realization.object.as_ref()?;
    let observed_at = realization
        .observed_at
        .as_ref()
        .map_or(now, |t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000);
    let errors: Vec<Value> = realization
        .errors
        .iter()
        .map(|e| {
            json!({"reason": e.reason, "message": e.message, "rule_path": e.rule_path,
                   "rule_id": e.rule_id, "field": e.field})
        })
        .collect();
    let entities: Vec<Value> = realization
        .realized_entities
        .iter()
        .map(|e| json!({"api_version": e.api_version, "kind": e.kind, "name": e.name}))
        .collect();
    Some(json!({
        "cluster_id": cluster_id,
        "path": object.path,
        "unique_id": object.unique_id,
        "revision": object.revision,
        "state": State::from_proto(realization.state).name(),
        "errors": errors,
        "observed_at": observed_at,
        "desired_nodes": realization.desired_nodes,
        "realized_nodes": realization.realized_nodes,
        "realized_entities": entities,
        "generation": generation,
        "reported_at": now,
    }))
}

/// Records a report from cluster `cluster_id`. Returns how many object states it stored.
pub fn apply_report(tx: &mut WriteTxn<'_>, cluster_id: &str, report: &RealizationReport) -> usize {
    let now = now_ms();
    let mut stored = 0;
    let mut listed = BTreeSet::new();
    for realization in &report.objects {
        let Some(object) = realization.object.as_ref() else {
            continue;
        };
        if object.path.is_empty() || !object.path.starts_with('/') {
            continue;
        }
        listed.insert(object.path.clone());
        let key = record_key(cluster_id, &object.path);
        if let Some(existing) = tx.get(TABLE, &key)
            && existing["unique_id"].as_str() == Some(object.unique_id.as_str())
            && existing["revision"]
                .as_i64()
                .is_some_and(|r| r > object.revision)
        {
            // A report about an older version never replaces a newer one.
            continue;
        }
        if let Some(record) = record_of(cluster_id, realization, report.generation, now) {
            tx.put(TABLE, &key, record);
            stored += 1;
        }
    }
    for gone in &report.gone {
        if !listed.contains(&gone.path) {
            tx.delete(TABLE, &record_key(cluster_id, &gone.path));
        }
    }
    if report.complete {
        let prefix = format!("{cluster_id}/");
        let stale: Vec<String> = tx
            .tables()
            .scan_prefix(TABLE, &prefix)
            .filter(|(_, record)| {
                record["path"]
                    .as_str()
                    .is_none_or(|path| !listed.contains(path))
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in stale {
            tx.delete(TABLE, &key);
        }
    }
    stored
}

/// Drops every record of cluster `cluster_id` (it was deregistered).
pub fn forget_cluster(tx: &mut WriteTxn<'_>, cluster_id: &str) {
    let prefix = format!("{cluster_id}/");
    let keys: Vec<String> = tx
        .tables()
        .scan_prefix(TABLE, &prefix)
        .map(|(key, _)| key.clone())
        .collect();
    for key in keys {
        tx.delete(TABLE, &key);
    }
}

/// One realization error, as the adapter reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedError {
    /// UpperCamelCase reason.
    pub reason: String,
    /// Sentence for the user.
    pub message: String,
    /// The rule concerned, if any.
    pub rule_path: String,
    /// Its `rule_id` (0 when none).
    pub rule_id: i64,
    /// The field concerned, if any.
    pub field: String,
}

/// An Antrea object created for the NSX object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AntreaEntity {
    /// e.g. `crd.antrea.io/v1beta1`.
    pub api_version: String,
    /// e.g. `ClusterNetworkPolicy`.
    pub kind: String,
    /// Its name.
    pub name: String,
}

/// The realization of an intent object in one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterRealization {
    /// The cluster id.
    pub cluster_id: String,
    /// Its `ClusterControlPlane` path.
    pub cluster_path: String,
    /// The state.
    pub state: State,
    /// Errors (for ERROR).
    pub errors: Vec<ReportedError>,
    /// Antrea objects created for it.
    pub entities: Vec<AntreaEntity>,
    /// When the adapter observed the state (ms), if it reported one for this version.
    pub observed_at: Option<i64>,
    /// The generation the report was about.
    pub generation: Option<u64>,
}

/// The realization of an intent object across the clusters of its span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentRealization {
    /// The intent path asked about.
    pub intent_path: String,
    /// Its `_revision`.
    pub revision: i64,
    /// One entry per cluster whose desired state holds it (or its policy), in id order.
    pub clusters: Vec<ClusterRealization>,
}

impl IntentRealization {
    /// The consolidated status: UNINITIALIZED when no cluster holds the object, SUCCESS when
    /// every cluster reported SUCCESS, ERROR when any reported ERROR, IN_PROGRESS otherwise.
    pub fn consolidated(&self) -> &'static str {
        if self.clusters.is_empty() {
            "UNINITIALIZED"
        } else if self.clusters.iter().any(|c| c.state == State::Error) {
            "ERROR"
        } else if self.clusters.iter().all(|c| c.state == State::Success) {
            "SUCCESS"
        } else {
            "IN_PROGRESS"
        }
    }

    /// `publish_status` (UNAVAILABLE when no cluster holds the object).
    pub fn publish_status(&self) -> &'static str {
        match self.consolidated() {
            "SUCCESS" => "REALIZED",
            "ERROR" => "ERROR",
            "IN_PROGRESS" => "UNREALIZED",
            _ => "UNAVAILABLE",
        }
    }
}

fn errors_of(record: &Value) -> Vec<ReportedError> {
    record["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| ReportedError {
            reason: e["reason"].as_str().unwrap_or_default().to_owned(),
            message: e["message"].as_str().unwrap_or_default().to_owned(),
            rule_path: e["rule_path"].as_str().unwrap_or_default().to_owned(),
            rule_id: e["rule_id"].as_i64().unwrap_or_default(),
            field: e["field"].as_str().unwrap_or_default().to_owned(),
        })
        .collect()
}

fn entities_of(record: &Value) -> Vec<AntreaEntity> {
    record["realized_entities"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| AntreaEntity {
            api_version: e["api_version"].as_str().unwrap_or_default().to_owned(),
            kind: e["kind"].as_str().unwrap_or_default().to_owned(),
            name: e["name"].as_str().unwrap_or_default().to_owned(),
        })
        .collect()
}

/// The realization of the intent object at `intent_path` (a policy, rule, group or service;
/// any other existing policy object has no cluster span). 404 when it does not exist.
pub fn realization_of(
    tables: &Tables,
    feed: &DesiredStateFeed,
    intent_path: &str,
) -> Result<IntentRealization, ApiError> {
    let doc = tables
        .get(policy::TABLE, intent_path)
        .ok_or_else(|| ApiError::policy_object_not_found(intent_path))?;
    let (target, rule) = match kind_of_path(intent_path) {
        Some(Kind::Rule) => {
            let policy = split_path(intent_path).map_or(intent_path, |(p, _)| p);
            (
                policy,
                Some((intent_path, doc["rule_id"].as_i64().unwrap_or(-1))),
            )
        }
        _ => (intent_path, None),
    };
    let current = tables.get(policy::TABLE, target).unwrap_or(doc);
    let unique_id = current["unique_id"].as_str().unwrap_or_default();
    let revision = current["_revision"].as_i64().unwrap_or_default();
    let mut clusters: Vec<ClusterRealization> = feed
        .clusters_of(target)
        .into_iter()
        .map(|cluster_path| {
            let cluster_id = cluster_id_of(&cluster_path).to_owned();
            let record = tables
                .get(TABLE, &record_key(&cluster_id, target))
                .filter(|r| {
                    r["unique_id"].as_str() == Some(unique_id)
                        && r["revision"].as_i64() == Some(revision)
                });
            let mut realization = ClusterRealization {
                cluster_id,
                cluster_path,
                state: State::InProgress,
                errors: Vec::new(),
                entities: Vec::new(),
                observed_at: None,
                generation: None,
            };
            if let Some(record) = record {
                realization.state = State::from_name(record["state"].as_str().unwrap_or_default());
                realization.errors = errors_of(record);
                realization.entities = entities_of(record);
                realization.observed_at = record["observed_at"].as_i64();
                realization.generation = record["generation"].as_u64();
            }
            if let Some((rule_path, rule_id)) = rule {
                let own: Vec<ReportedError> = realization
                    .errors
                    .iter()
                    .filter(|e| {
                        e.rule_path == rule_path
                            || (e.rule_id != 0 && e.rule_id == rule_id)
                            || (e.rule_path.is_empty() && e.rule_id == 0)
                    })
                    .cloned()
                    .collect();
                if !own.is_empty() {
                    realization.errors = own;
                }
            }
            realization
        })
        .collect();
    clusters.sort_by(|a, b| a.cluster_id.cmp(&b.cluster_id));
    Ok(IntentRealization {
        intent_path: intent_path.to_owned(),
        revision: doc["_revision"].as_i64().unwrap_or_default(),
        clusters,
    })
}

/// One line summing up the errors of a cluster.
pub fn error_summary(errors: &[ReportedError]) -> String {
    errors
        .iter()
        .map(|e| {
            if e.message.is_empty() {
                e.reason.clone()
            } else {
                format!("{}: {}", e.reason, e.message)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use nsx_proto::v1::{ObjectKind, ObjectRef, RealizationError};

    fn realization(path: &str, revision: i64, state: RealizationState) -> ObjectRealization {
        ObjectRealization {
            object: Some(ObjectRef {
                kind: ObjectKind::Group.into(),
                path: path.into(),
                unique_id: "u".into(),
                revision,
            }),
            state: state.into(),
            errors: vec![RealizationError {
                reason: "UnsupportedGroup".into(),
                message: "no".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn report(objects: Vec<ObjectRealization>, gone: &[&str], complete: bool) -> RealizationReport {
        RealizationReport {
            generation: 3,
            objects,
            gone: gone
                .iter()
                .map(|p| ObjectRef {
                    path: (*p).into(),
                    ..Default::default()
                })
                .collect(),
            complete,
        }
    }

    fn state_of(store: &Store, cluster: &str, path: &str) -> Option<(String, i64)> {
        store.read(|t| {
            t.get(TABLE, &record_key(cluster, path)).map(|r| {
                (
                    r["state"].as_str().unwrap().to_owned(),
                    r["revision"].as_i64().unwrap(),
                )
            })
        })
    }

    #[test]
    fn newer_versions_win_and_gone_or_complete_forget() {
        let store = Store::in_memory();
        let write = |r: RealizationReport| {
            store
                .write_blocking(|tx| Ok::<_, ()>(apply_report(tx, "c1", &r)))
                .unwrap()
        };
        write(report(
            vec![realization("/a", 2, RealizationState::Success)],
            &[],
            false,
        ));
        write(report(
            vec![realization("/a", 1, RealizationState::Error)],
            &[],
            false,
        ));
        assert_eq!(state_of(&store, "c1", "/a"), Some(("SUCCESS".into(), 2)));
        write(report(
            vec![realization("/a", 3, RealizationState::Error)],
            &[],
            false,
        ));
        assert_eq!(state_of(&store, "c1", "/a"), Some(("ERROR".into(), 3)));
        write(report(
            vec![realization("/b", 1, RealizationState::InProgress)],
            &["/a"],
            false,
        ));
        assert_eq!(state_of(&store, "c1", "/a"), None);
        write(report(
            vec![realization("/c", 1, RealizationState::Success)],
            &[],
            false,
        ));
        // A complete report forgets what it leaves out, in its own cluster only.
        store
            .write_blocking(|tx| {
                Ok::<_, ()>(apply_report(
                    tx,
                    "c10",
                    &report(
                        vec![realization("/b", 1, RealizationState::Success)],
                        &[],
                        false,
                    ),
                ))
            })
            .unwrap();
        write(report(
            vec![realization("/c", 1, RealizationState::Success)],
            &[],
            true,
        ));
        assert_eq!(state_of(&store, "c1", "/b"), None);
        assert_eq!(state_of(&store, "c1", "/c"), Some(("SUCCESS".into(), 1)));
        assert_eq!(state_of(&store, "c10", "/b"), Some(("SUCCESS".into(), 1)));
        store
            .write_blocking(|tx| {
                forget_cluster(tx, "c1");
                Ok::<_, ()>(())
            })
            .unwrap();
        assert_eq!(state_of(&store, "c1", "/c"), None);
        assert!(state_of(&store, "c10", "/b").is_some());
    }

    #[test]
    fn consolidation() {
        let cluster = |state| ClusterRealization {
            cluster_id: "c".into(),
            cluster_path: "/c".into(),
            state,
            errors: Vec::new(),
            entities: Vec::new(),
            observed_at: None,
            generation: None,
        };
        let mut r = IntentRealization {
            intent_path: "/x".into(),
            revision: 0,
            clusters: Vec::new(),
        };
        assert_eq!(r.consolidated(), "UNINITIALIZED");
        r.clusters = vec![cluster(State::Success), cluster(State::InProgress)];
        assert_eq!(r.consolidated(), "IN_PROGRESS");
        r.clusters.push(cluster(State::Error));
        assert_eq!(r.consolidated(), "ERROR");
        r.clusters = vec![cluster(State::Success)];
        assert_eq!(r.consolidated(), "SUCCESS");
        assert_eq!(r.publish_status(), "REALIZED");
    }
}
