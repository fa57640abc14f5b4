//! Field-level comparison of two inventory records: the sparse `UPDATE` body NSX merges
//! (nsx-api.md §1.2), or the verdict that only a full replacement can express the change.
//!
//! NSX merges an UPDATE into the stored object: top-level fields are replaced, nested objects
//! merged, lists replaced. `null` is not accepted (the schemas refuse it), so a field can be
//! *cleared* only where an empty value means "none": a list is cleared by sending `[]`.
//! A scalar or nested field that disappears cannot be expressed as a merge; the change then
//! becomes a full `CREATE`, which NSX stores as a replacement of the object.

use nsx_model::inventory::{ContainerObject, NetworkStatus};
use serde_json::{Map, Value};

/// How to bring NSX from one record to another.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordDelta {
    /// Nothing differs.
    Unchanged,
    /// A sparse UPDATE body: `resource_type`, `external_id` and the changed fields.
    Update(Map<String, Value>),
    /// A field was removed in a way a merge cannot express: send the whole record.
    Replace,
}

/// The fields NSX reports on its own and the adapter never writes: ignored when comparing
/// what NSX holds with what the adapter wants (`network_status` is computed by NSX for NCP
/// and "Not Applicable" for Antrea; `scope` is NSX's, for VPC/project views).
pub fn normalize_nsx_record(record: &mut ContainerObject) {
    record.clear_server_fields();
    macro_rules! clear_network_status {
        ($($variant:ident),*) => {
            match record {
                $(ContainerObject::$variant(r) => r.network_status = None::<NetworkStatus>,)*
                _ => {}
            }
        };
    }
    clear_network_status!(
        ContainerCluster,
        ContainerProject,
        ContainerClusterNode,
        ContainerApplication,
        ContainerApplicationInstance,
        ContainerIngressPolicy,
        ContainerNetworkPolicy
    );
    match record {
        ContainerObject::ContainerCluster(r) => r.scope.clear(),
        ContainerObject::ContainerProject(r) => r.scope.clear(),
        ContainerObject::ContainerClusterNode(r) => r.scope.clear(),
        ContainerObject::ContainerApplication(r) => r.scope.clear(),
        ContainerObject::ContainerApplicationInstance(r) => r.scope.clear(),
        ContainerObject::ContainerIngressPolicy(r) => r.scope.clear(),
        ContainerObject::ContainerNetworkPolicy(r) => r.scope.clear(),
        ContainerObject::ContainerIpPool(r) => r.scope.clear(),
        ContainerObject::ContainerEgress(r) => r.scope.clear(),
        ContainerObject::ContainerGateway(r) => r.scope.clear(),
    }
}

/// The delta from `old` (what NSX holds) to `new` (what the adapter wants). Both must be the
/// same object (same `resource_type` and `external_id`); if they are not, `Replace`.
pub fn record_delta(old: &ContainerObject, new: &ContainerObject) -> RecordDelta {
    if old == new {
        return RecordDelta::Unchanged;
    }
    if old.resource_type() != new.resource_type() || old.external_id() != new.external_id() {
        return RecordDelta::Replace;
    }
    let old = old.to_json();
    let new = new.to_json();
    let mut update = Map::new();
    for (key, value) in &new {
        if old.get(key) == Some(value) {
            continue;
        }
        if let (Some(Value::Object(before)), Value::Object(after)) = (old.get(key), value)
            && before.keys().any(|k| !after.contains_key(k))
        {
            // A nested field vanished: a merge would keep it.
            return RecordDelta::Replace;
        }
        update.insert(key.clone(), value.clone());
    }
    for (key, value) in &old {
        if new.contains_key(key) {
            continue;
        }
        match value {
            Value::Array(_) => {
                update.insert(key.clone(), Value::Array(Vec::new()));
            }
            _ => return RecordDelta::Replace,
        }
    }
    if update.is_empty() {
        return RecordDelta::Unchanged;
    }
    let mut body = Map::with_capacity(update.len() + 2);
    body.insert("resource_type".into(), new["resource_type"].clone());
    body.insert("external_id".into(), new["external_id"].clone());
    body.extend(update);
    RecordDelta::Update(body)
}

/// The minimal DELETE body of a record.
pub fn delete_body(resource_type: &str, external_id: &str) -> Map<String, Value> {
    let mut body = Map::with_capacity(2);
    body.insert(
        "resource_type".into(),
        Value::String(resource_type.to_owned()),
    );
    body.insert("external_id".into(), Value::String(external_id.to_owned()));
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use nsx_model::inventory::{
        ContainerApplicationInstance, ContainerCluster, ContainerInfrastructureInfo,
        ContainerStatus, InfraType, Tag,
    };
    use serde_json::json;

    fn pod(status: ContainerStatus, app_ids: &[&str], node: Option<&str>) -> ContainerObject {
        ContainerObject::ContainerApplicationInstance(ContainerApplicationInstance {
            external_id: "p1".into(),
            display_name: Some("web-0".into()),
            status: Some(status),
            container_application_ids: app_ids.iter().map(|s| (*s).into()).collect(),
            cluster_node_id: node.map(Into::into),
            ..Default::default()
        })
    }

    #[test]
    fn equal_records_are_unchanged() {
        let a = pod(ContainerStatus::Up, &["s"], Some("n"));
        assert_eq!(record_delta(&a, &a.clone()), RecordDelta::Unchanged);
    }

    #[test]
    fn changed_fields_make_a_sparse_update_with_the_identity() {
        let a = pod(ContainerStatus::Down, &["s"], Some("n"));
        let b = pod(ContainerStatus::Up, &["s", "t"], Some("n"));
        let RecordDelta::Update(body) = record_delta(&a, &b) else {
            panic!("expected an update");
        };
        assert_eq!(
            Value::Object(body),
            json!({"resource_type": "ContainerApplicationInstance", "external_id": "p1",
                   "status": "UP", "container_application_ids": ["s", "t"]})
        );
    }

    #[test]
    fn an_emptied_list_is_sent_as_an_empty_list() {
        let a = pod(ContainerStatus::Up, &["s"], Some("n"));
        let b = pod(ContainerStatus::Up, &[], Some("n"));
        let RecordDelta::Update(body) = record_delta(&a, &b) else {
            panic!("expected an update");
        };
        assert_eq!(body["container_application_ids"], json!([]));
    }

    #[test]
    fn a_removed_scalar_needs_a_replacement() {
        let a = pod(ContainerStatus::Up, &[], Some("n"));
        let b = pod(ContainerStatus::Up, &[], None);
        assert_eq!(record_delta(&a, &b), RecordDelta::Replace);
    }

    #[test]
    fn a_removed_nested_field_needs_a_replacement() {
        let cluster = |infra: Option<InfraType>| {
            ContainerObject::ContainerCluster(ContainerCluster {
                external_id: "c".into(),
                infrastructure: Some(ContainerInfrastructureInfo { infra_type: infra }),
                ..Default::default()
            })
        };
        assert_eq!(
            record_delta(&cluster(Some(InfraType::VSphere)), &cluster(None)),
            RecordDelta::Replace
        );
        let RecordDelta::Update(body) = record_delta(
            &cluster(Some(InfraType::VSphere)),
            &cluster(Some(InfraType::Kvm)),
        ) else {
            panic!("expected an update");
        };
        assert_eq!(body["infrastructure"], json!({"infra_type": "KVM"}));
    }

    #[test]
    fn different_objects_are_replaced() {
        let a = pod(ContainerStatus::Up, &[], None);
        let mut b = a.clone();
        if let ContainerObject::ContainerApplicationInstance(p) = &mut b {
            p.external_id = "p2".into();
        }
        assert_eq!(record_delta(&a, &b), RecordDelta::Replace);
    }

    #[test]
    fn nsx_only_fields_are_ignored_after_normalizing() {
        let ours = pod(ContainerStatus::Up, &[], Some("n"));
        let mut theirs = ContainerObject::from_json(json!({
            "resource_type": "ContainerApplicationInstance", "external_id": "p1",
            "display_name": "web-0", "status": "UP", "cluster_node_id": "n",
            "_last_sync_time": 12, "network_status": "HEALTHY",
            "scope": [{"scope_id": "x", "scope_type": "CONTAINER_CLUSTER"}],
        }))
        .unwrap();
        normalize_nsx_record(&mut theirs);
        assert_eq!(record_delta(&theirs, &ours), RecordDelta::Unchanged);
        // Tags NSX holds that the adapter no longer wants are cleared with an empty list.
        if let ContainerObject::ContainerApplicationInstance(p) = &mut theirs {
            p.tags.push(Tag {
                scope: "dis:k8s:x".into(),
                tag: "y".into(),
            });
        }
        let RecordDelta::Update(body) = record_delta(&theirs, &ours) else {
            panic!("expected an update");
        };
        assert_eq!(body["tags"], json!([]));
    }

    #[test]
    fn delete_bodies_are_minimal() {
        assert_eq!(
            Value::Object(delete_body("ContainerProject", "u")),
            json!({"resource_type": "ContainerProject", "external_id": "u"})
        );
    }
}
