//! Container inventory (Manager API, nsx-api.md §1): container clusters and the objects each
//! cluster reports (projects, applications, application instances, nodes, ingress and network
//! policies, egresses, IP pools, gateways), the batch write API
//! `POST /api/v1/inventory/container/{cluster-id}?action=updates`, and the read API
//! `GET /api/v1/fabric/container-*`.
//!
//! Inventory objects have no `id`: NSX names them by `external_id` (the Kubernetes UID).
//! Storage, per object type, in the state store:
//!
//! * `inventory:<Type>`: documents keyed `<container_cluster_id> US <external_id>` (US = the
//!   ASCII unit separator), so that one cluster's objects are a contiguous key range: a list
//!   with `container_cluster_id` and a cursor is a range scan from the cursor, whatever the
//!   total size;
//! * `inventory-ids:<Type>`: `<external_id> US <cluster>` → `true`, for `GET .../{id}`;
//! * `inventory-counts`: `<Type> US <cluster>` → number of objects, for `result_count`;
//! * `inventory:ContainerCluster`: clusters keyed by `external_id` (the cluster id).
//!
//! All of it is written in the same transaction as the objects, so the indexes survive a
//! restart and never disagree with the documents.
//!
//! Who may write: the admin, any cluster; a principal identity, only the cluster whose id is the
//! `node_id` of the cluster control plane named like it, or a container cluster it created.

pub mod membership;
mod routes;

pub use routes::routes;

use std::collections::BTreeMap;

use http::StatusCode;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, MODULE_COMMON};
use crate::identity::{Caller, Identity};
use crate::registration::{self, object_not_found};
use crate::rest::list::{ListParams, decode_cursor, page};
use crate::schema::{Api, schemas};
use crate::store::{Tables, WriteTxn};

/// Error codes of the inventory and registration areas (the simulator's choice; NSX's are not
/// public). Object-not-found uses NSX's 404 / 600.
pub mod code {
    /// The caller may not write this cluster's inventory or registration.
    pub const PERMISSION_DENIED: i64 = 9_403;
    /// An inventory update or object is invalid (beyond schema validation).
    pub const INVALID_INVENTORY: i64 = 9_400;
    /// A container cluster with that id already exists.
    pub const ALREADY_EXISTS: i64 = 9_409;
}

/// Separator inside index keys (ASCII unit separator, refused in ids).
const SEP: char = '\u{1f}';
/// Table of the per-type, per-cluster object counts.
const COUNTS_TABLE: &str = "inventory-counts";
/// Bookkeeping field of a container cluster: the principal identity that created it.
const CREATED_BY: &str = "_sim_created_by";
/// Longest id (cluster id or `external_id`) accepted.
const MAX_ID: usize = 255;

/// The filters a list endpoint takes (besides paging and `scope_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// `container_cluster_id`.
    ClusterId,
    /// `container_project_id`.
    ProjectId,
    /// `container_application_id` (among `container_application_ids`).
    ApplicationId,
    /// `cluster_type` (container clusters).
    ClusterType,
    /// `infra_type` (container clusters, `infrastructure.infra_type`).
    InfraType,
}

/// One kind of inventory object and its endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InventoryType {
    /// `resource_type` (also the schema model).
    pub resource_type: &'static str,
    /// `/api/v1/fabric/<list_segment>` lists.
    pub list_segment: &'static str,
    /// `/api/v1/fabric/<object_segment>/{id}` reads or deletes one.
    pub object_segment: &'static str,
    /// Schema model of the list result.
    pub list_model: &'static str,
    /// Filters of the list endpoint.
    pub filters: &'static [Filter],
}

impl InventoryType {
    /// Whether this is the container cluster type.
    pub fn is_cluster(&self) -> bool {
        self.resource_type == CLUSTER.resource_type
    }

    /// The store table of its documents.
    pub fn table(&self) -> String {
        format!("inventory:{}", self.resource_type)
    }

    fn ids_table(&self) -> String {
        format!("inventory-ids:{}", self.resource_type)
    }
}

/// Container clusters.
pub const CLUSTER: InventoryType = InventoryType {
    resource_type: "ContainerCluster",
    list_segment: "container-clusters",
    object_segment: "container-clusters",
    list_model: "ContainerClusterListResult",
    filters: &[Filter::ClusterType, Filter::InfraType],
};

/// Pods.
pub const APPLICATION_INSTANCE: InventoryType = InventoryType {
    resource_type: "ContainerApplicationInstance",
    list_segment: "container-application-instances",
    object_segment: "container-application-instances",
    list_model: "ContainerApplicationInstanceListResult",
    filters: &[Filter::ClusterId, Filter::ProjectId, Filter::ApplicationId],
};

/// Namespaces.
pub const PROJECT: InventoryType = InventoryType {
    resource_type: "ContainerProject",
    list_segment: "container-projects",
    object_segment: "container-projects",
    list_model: "ContainerProjectListResult",
    filters: &[Filter::ClusterId],
};

/// Services.
pub const APPLICATION: InventoryType = InventoryType {
    resource_type: "ContainerApplication",
    list_segment: "container-applications",
    object_segment: "container-applications",
    list_model: "ContainerApplicationListResult",
    filters: &[Filter::ClusterId, Filter::ProjectId],
};

/// The object types a cluster reports (every type but the cluster itself).
pub const OBJECT_TYPES: &[InventoryType] = &[
    PROJECT,
    APPLICATION,
    APPLICATION_INSTANCE,
    InventoryType {
        resource_type: "ContainerClusterNode",
        list_segment: "container-cluster-nodes",
        object_segment: "container-cluster-nodes",
        list_model: "ContainerClusterNodeListResult",
        filters: &[Filter::ClusterId],
    },
    InventoryType {
        resource_type: "ContainerIngressPolicy",
        list_segment: "container-ingress-policies",
        object_segment: "container-ingress-policies",
        list_model: "ContainerIngressPolicyListResult",
        filters: &[Filter::ClusterId, Filter::ProjectId],
    },
    InventoryType {
        resource_type: "ContainerNetworkPolicy",
        list_segment: "container-network-policies",
        object_segment: "container-network-policies",
        list_model: "ContainerNetworkPolicyListResult",
        filters: &[Filter::ClusterId, Filter::ProjectId],
    },
    InventoryType {
        resource_type: "ContainerEgress",
        list_segment: "container-egresses",
        object_segment: "container-egress",
        list_model: "ContainerEgressListResult",
        filters: &[Filter::ClusterId],
    },
    InventoryType {
        resource_type: "ContainerIpPool",
        list_segment: "container-ip-pools",
        object_segment: "container-ip-pool",
        list_model: "ContainerIpPoolListResult",
        filters: &[Filter::ClusterId],
    },
    InventoryType {
        resource_type: "ContainerGateway",
        list_segment: "container-gateways",
        object_segment: "container-gateway",
        list_model: "ContainerGatewayListResult",
        filters: &[Filter::ClusterId, Filter::ProjectId],
    },
];

/// The type whose `resource_type` is `resource_type` (the cluster type included).
pub fn type_of(resource_type: &str) -> Option<InventoryType> {
    std::iter::once(CLUSTER)
        .chain(OBJECT_TYPES.iter().copied())
        .find(|t| t.resource_type == resource_type)
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        code::INVALID_INVENTORY,
        MODULE_COMMON,
        message,
    )
}

fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        code::PERMISSION_DENIED,
        MODULE_COMMON,
        message,
    )
}

/// Checks a cluster id or `external_id`: 1 to 255 characters, no control characters.
pub fn check_identifier(what: &str, id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.chars().count() > MAX_ID || id.chars().any(char::is_control) {
        return Err(invalid(format!(
            "Invalid {what} '{}': it must have 1 to {MAX_ID} characters and no control \
             characters.",
            id.escape_debug()
        )));
    }
    Ok(())
}

/// Key of an object of cluster `cluster` in its type's table.
pub fn object_key(cluster: &str, external_id: &str) -> String {
    format!("{cluster}{SEP}{external_id}")
}

fn count_key(resource_type: &str, cluster: &str) -> String {
    format!("{resource_type}{SEP}{cluster}")
}

/// Number of objects of `ty` in `cluster`.
pub fn count(tables: &Tables, ty: &InventoryType, cluster: &str) -> usize {
    tables
        .get(COUNTS_TABLE, &count_key(ty.resource_type, cluster))
        .and_then(Value::as_u64)
        .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX))
}

fn adjust_count(tx: &mut WriteTxn<'_>, ty: &InventoryType, cluster: &str, delta: i64) {
    let key = count_key(ty.resource_type, cluster);
    let current = tx
        .get(COUNTS_TABLE, &key)
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let next = current + delta;
    if next <= 0 {
        tx.delete(COUNTS_TABLE, &key);
    } else {
        tx.put(COUNTS_TABLE, &key, json!(next));
    }
}

/// Stores an object of `ty` (not a cluster), keeping the indexes.
fn put_object(
    tx: &mut WriteTxn<'_>,
    ty: &InventoryType,
    cluster: &str,
    external_id: &str,
    doc: Value,
) {
    let table = ty.table();
    let key = object_key(cluster, external_id);
    if tx.get(&table, &key).is_none() {
        tx.put(
            &ty.ids_table(),
            &format!("{external_id}{SEP}{cluster}"),
            json!(true),
        );
        adjust_count(tx, ty, cluster, 1);
    }
    tx.put(&table, &key, doc);
}

/// Removes an object of `ty` (not a cluster), keeping the indexes.
fn remove_object(
    tx: &mut WriteTxn<'_>,
    ty: &InventoryType,
    cluster: &str,
    external_id: &str,
) -> Option<Value> {
    let removed = tx.delete(&ty.table(), &object_key(cluster, external_id))?;
    tx.delete(&ty.ids_table(), &format!("{external_id}{SEP}{cluster}"));
    adjust_count(tx, ty, cluster, -1);
    Some(removed)
}

/// The stored container cluster `id`.
pub fn cluster<'a>(tables: &'a Tables, id: &str) -> Option<&'a Value> {
    tables.get(&CLUSTER.table(), id)
}

/// Removes the container cluster `cluster_id` and every object it reported; returns how many
/// documents (the cluster included) were removed.
pub fn remove_cluster(tx: &mut WriteTxn<'_>, cluster_id: &str) -> usize {
    let mut removed = 0;
    let prefix = format!("{cluster_id}{SEP}");
    for ty in OBJECT_TYPES {
        let externals: Vec<String> = tx
            .tables()
            .scan_prefix(&ty.table(), &prefix)
            .map(|(k, _)| k[prefix.len()..].to_owned())
            .collect();
        for external_id in externals {
            if remove_object(tx, ty, cluster_id, &external_id).is_some() {
                removed += 1;
            }
        }
    }
    if tx.delete(&CLUSTER.table(), cluster_id).is_some() {
        removed += 1;
    }
    removed
}

/// Whether `identity` may write the inventory of cluster `cluster_id`.
pub fn may_write(tables: &Tables, identity: &Identity, cluster_id: &str) -> bool {
    match identity {
        Identity::Principal { name, .. } => {
            registration::cluster_registration(tables, name)
                .is_some_and(|r| r.node_id == cluster_id)
                || cluster(tables, cluster_id)
                    .and_then(|c| c.get(CREATED_BY))
                    .and_then(Value::as_str)
                    == Some(name.as_str())
        }
        Identity::User(_) | Identity::System => true,
    }
}

fn check_may_write(tables: &Tables, caller: &Caller, cluster_id: &str) -> Result<(), ApiError> {
    if may_write(tables, &caller.identity, cluster_id) {
        Ok(())
    } else {
        Err(forbidden(format!(
            "Principal identity {} may not change the inventory of container cluster {cluster_id}.",
            caller.identity.user_name()
        )))
    }
}

/// The document as sent to clients (bookkeeping removed).
pub fn render(doc: &Value) -> Value {
    match doc {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !k.starts_with(crate::policy::INTERNAL_PREFIX))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Validates `object` against its model; problems are reported at `at` (a JSON pointer).
fn validate_model(resource_type: &str, object: &Value, at: &str) -> Result<(), ApiError> {
    schemas()
        .validate(Api::Manager, resource_type, object)
        .map_err(|problems| {
            let located: Vec<String> = problems
                .iter()
                .map(|p| match p.strip_prefix("/:") {
                    Some(rest) => format!("{at}:{rest}"),
                    None => format!("{at}{p}"),
                })
                .collect();
            ApiError::field_validation(&located)
        })
}

/// Drops server-owned and bookkeeping fields a client sent, and checks the published tag and
/// name limits.
fn client_fields(
    resource_type: &str,
    object: &Map<String, Value>,
    at: &str,
) -> Result<Map<String, Value>, ApiError> {
    let read_only = schemas().read_only_fields(Api::Manager, resource_type);
    let fields: Map<String, Value> = object
        .iter()
        .filter(|(k, _)| {
            !read_only.contains(k.as_str()) && !k.starts_with(crate::policy::INTERNAL_PREFIX)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    crate::policy::validate::common_fields(&fields)
        .map_err(|e| invalid(format!("{at}: {}", e.error_message)))?;
    Ok(fields)
}

/// Merges `patch` into `target`: objects recursively, everything else replaced.
fn merge(target: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (key, value) in patch {
        match (target.get_mut(&key), value) {
            (Some(Value::Object(existing)), Value::Object(inner)) => merge(existing, inner),
            (_, value) => {
                target.insert(key, value);
            }
        }
    }
}

/// What an inventory update changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpdateSummary {
    /// Objects created (or replaced by a `CREATE`).
    pub created: usize,
    /// Objects merged by an `UPDATE`.
    pub updated: usize,
    /// Objects deleted.
    pub deleted: usize,
}

/// Creates the container cluster of a registered cluster control plane whose inventory is
/// written before the adapter created it (display name: the cluster control plane id).
fn ensure_registered_cluster(tx: &mut WriteTxn<'_>, cluster_id: &str, now: i64) {
    if cluster(tx.tables(), cluster_id).is_some() {
        return;
    }
    if let Some(registration) = registration::cluster_for_node_id(tx.tables(), cluster_id) {
        tx.put(
            &CLUSTER.table(),
            cluster_id,
            json!({
                "resource_type": CLUSTER.resource_type,
                "external_id": cluster_id,
                "display_name": registration.id,
                "cni_type": "Antrea",
                "_last_sync_time": now,
            }),
        );
    }
}

/// `POST /api/v1/inventory/container/{cluster-id}?action=updates` with a
/// `ContainerInventoryData` body, applied all or nothing.
pub fn apply_updates(
    tx: &mut WriteTxn<'_>,
    caller: &Caller,
    cluster_id: &str,
    body: &Value,
    now: i64,
) -> Result<UpdateSummary, ApiError> {
    check_identifier("container cluster id", cluster_id)?;
    check_may_write(tx.tables(), caller, cluster_id)?;
    let Value::Object(data) = body else {
        return Err(ApiError::field_validation(&[
            "/: a ContainerInventoryData object is required".to_owned(),
        ]));
    };
    if let Some(unknown) = data.keys().find(|k| *k != "container_inventory_objects") {
        return Err(ApiError::field_validation(&[format!(
            "/{unknown}: unknown property of ContainerInventoryData"
        )]));
    }
    let objects = match data.get("container_inventory_objects") {
        None => &Vec::new(),
        Some(Value::Array(objects)) => objects,
        Some(_) => {
            return Err(ApiError::field_validation(&[
                "/container_inventory_objects: must be an array".to_owned(),
            ]));
        }
    };
    ensure_registered_cluster(tx, cluster_id, now);
    let mut summary = UpdateSummary::default();
    for (index, entry) in objects.iter().enumerate() {
        let at = format!("/container_inventory_objects/{index}");
        let Value::Object(entry) = entry else {
            return Err(ApiError::field_validation(&[format!(
                "{at}: a ContainerInventoryObject must be an object"
            )]));
        };
        if let Some(unknown) = entry
            .keys()
            .find(|k| !matches!(k.as_str(), "object_update_type" | "container_object"))
        {
            return Err(ApiError::field_validation(&[format!(
                "{at}/{unknown}: unknown property of ContainerInventoryObject"
            )]));
        }
        let update_type = match entry.get("object_update_type").and_then(Value::as_str) {
            Some(t @ ("CREATE" | "UPDATE" | "DELETE")) => t,
            Some(other) => {
                return Err(ApiError::field_validation(&[format!(
                    "{at}/object_update_type: '{other}' is not one of CREATE, UPDATE, DELETE"
                )]));
            }
            None => {
                return Err(ApiError::field_validation(&[format!(
                    "{at}/object_update_type: required"
                )]));
            }
        };
        let at = format!("{at}/container_object");
        let Some(Value::Object(object)) = entry.get("container_object") else {
            return Err(ApiError::field_validation(&[format!(
                "{at}: required, a DiscoveredResource object"
            )]));
        };
        let resource_type = object
            .get("resource_type")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ApiError::field_validation(&[format!("{at}/resource_type: required")])
            })?;
        let ty = type_of(resource_type).ok_or_else(|| {
            invalid(format!(
                "{at}/resource_type: '{resource_type}' is not a container inventory type"
            ))
        })?;
        let external_id = object
            .get("external_id")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::field_validation(&[format!("{at}/external_id: required")]))?;
        check_identifier("external_id", external_id)?;
        if update_type != "DELETE" {
            validate_model(resource_type, &Value::Object(object.clone()), &at)?;
        }
        if ty.is_cluster() {
            if external_id != cluster_id {
                return Err(invalid(format!(
                    "{at}/external_id: a ContainerCluster in the updates of cluster {cluster_id} \
                     must have external_id {cluster_id}, not {external_id}"
                )));
            }
        } else {
            if let Some(given) = object.get("container_cluster_id")
                && given.as_str() != Some(cluster_id)
            {
                return Err(invalid(format!(
                    "{at}/container_cluster_id: {given} is not the cluster of this update \
                     ({cluster_id})"
                )));
            }
            if update_type != "DELETE" && cluster(tx.tables(), cluster_id).is_none() {
                return Err(object_not_found(cluster_id).with_details(format!(
                    "{at}: container cluster {cluster_id} does not exist; create it first"
                )));
            }
        }
        match update_type {
            "DELETE" => {
                let existed = if ty.is_cluster() {
                    remove_cluster(tx, cluster_id) > 0
                } else {
                    remove_object(tx, &ty, cluster_id, external_id).is_some()
                };
                if existed {
                    summary.deleted += 1;
                }
            }
            "CREATE" => {
                let mut doc = client_fields(resource_type, object, &at)?;
                finish_document(tx.tables(), &mut doc, &ty, cluster_id, caller, now);
                store(tx, &ty, cluster_id, external_id, doc);
                summary.created += 1;
            }
            _ => {
                let existing = if ty.is_cluster() {
                    cluster(tx.tables(), cluster_id).cloned()
                } else {
                    tx.get(&ty.table(), &object_key(cluster_id, external_id))
                        .cloned()
                };
                let Some(Value::Object(mut doc)) = existing else {
                    return Err(object_not_found(external_id).with_details(format!(
                        "{at}: UPDATE of a {resource_type} that does not exist in cluster \
                         {cluster_id}"
                    )));
                };
                merge(&mut doc, client_fields(resource_type, object, &at)?);
                finish_document(tx.tables(), &mut doc, &ty, cluster_id, caller, now);
                store(tx, &ty, cluster_id, external_id, doc);
                summary.updated += 1;
            }
        }
    }
    Ok(summary)
}

/// Sets the server-owned fields of an object being stored.
fn finish_document(
    tables: &Tables,
    doc: &mut Map<String, Value>,
    ty: &InventoryType,
    cluster_id: &str,
    caller: &Caller,
    now: i64,
) {
    doc.insert("resource_type".into(), json!(ty.resource_type));
    if ty.is_cluster() {
        let creator = cluster(tables, cluster_id)
            .and_then(|c| c.get(CREATED_BY))
            .cloned()
            .or_else(|| caller.identity.principal_name().map(|n| json!(n)));
        if let Some(creator) = creator {
            doc.insert(CREATED_BY.into(), creator);
        }
    } else {
        doc.insert("container_cluster_id".into(), json!(cluster_id));
    }
    doc.insert("_last_sync_time".into(), json!(now));
}

fn store(
    tx: &mut WriteTxn<'_>,
    ty: &InventoryType,
    cluster_id: &str,
    external_id: &str,
    doc: Map<String, Value>,
) {
    if ty.is_cluster() {
        tx.put(&CLUSTER.table(), cluster_id, Value::Object(doc));
    } else {
        put_object(tx, ty, cluster_id, external_id, Value::Object(doc));
    }
}

/// `POST /api/v1/fabric/container-clusters`: creates a container cluster (its `external_id`
/// is its id; one is generated when the body has none).
pub fn create_cluster(
    tx: &mut WriteTxn<'_>,
    caller: &Caller,
    body: &Value,
    now: i64,
) -> Result<Value, ApiError> {
    let Value::Object(object) = body else {
        return Err(ApiError::field_validation(&[
            "/: a ContainerCluster object is required".to_owned(),
        ]));
    };
    if let Some(rt) = object.get("resource_type")
        && rt.as_str() != Some(CLUSTER.resource_type)
    {
        return Err(invalid(format!(
            "/resource_type: {rt} is not ContainerCluster"
        )));
    }
    let cluster_id = match object.get("external_id").and_then(Value::as_str) {
        Some(id) => id.to_owned(),
        None => uuid::Uuid::new_v4().to_string(),
    };
    check_identifier("external_id", &cluster_id)?;
    if cluster(tx.tables(), &cluster_id).is_some() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            code::ALREADY_EXISTS,
            MODULE_COMMON,
            format!("A container cluster with external_id {cluster_id} already exists."),
        ));
    }
    let mut doc = client_fields(CLUSTER.resource_type, object, "")?;
    doc.insert("external_id".into(), json!(cluster_id));
    finish_document(tx.tables(), &mut doc, &CLUSTER, &cluster_id, caller, now);
    let doc = Value::Object(doc);
    tx.put(&CLUSTER.table(), &cluster_id, doc.clone());
    Ok(render(&doc))
}

/// `DELETE /api/v1/fabric/container-clusters/{id}`: the cluster and all its inventory.
pub fn delete_cluster(tx: &mut WriteTxn<'_>, caller: &Caller, id: &str) -> Result<usize, ApiError> {
    if cluster(tx.tables(), id).is_none() {
        return Err(object_not_found(id));
    }
    check_may_write(tx.tables(), caller, id)?;
    Ok(remove_cluster(tx, id))
}

/// The clusters holding an object of `ty` with `external_id`, in cluster order.
pub fn clusters_holding(tables: &Tables, ty: &InventoryType, external_id: &str) -> Vec<String> {
    let prefix = format!("{external_id}{SEP}");
    tables
        .scan_prefix(&ty.ids_table(), &prefix)
        .map(|(k, _)| k[prefix.len()..].to_owned())
        .collect()
}

/// `GET /api/v1/fabric/<type>/{id}`: the object with that `external_id` (if several clusters
/// report one, the first cluster in id order).
pub fn get_object(tables: &Tables, ty: &InventoryType, id: &str) -> Result<Value, ApiError> {
    let doc = if ty.is_cluster() {
        cluster(tables, id)
    } else {
        clusters_holding(tables, ty, id)
            .first()
            .and_then(|c| tables.get(&ty.table(), &object_key(c, id)))
    };
    doc.map(render).ok_or_else(|| object_not_found(id))
}

/// `DELETE /api/v1/fabric/<type>/{id}` (not clusters): the object with that `external_id` in
/// every cluster the caller may write. Returns how many were removed.
pub fn delete_object(
    tx: &mut WriteTxn<'_>,
    caller: &Caller,
    ty: &InventoryType,
    id: &str,
) -> Result<usize, ApiError> {
    let holders = clusters_holding(tx.tables(), ty, id);
    if holders.is_empty() {
        return Err(object_not_found(id));
    }
    let writable: Vec<String> = holders
        .into_iter()
        .filter(|c| may_write(tx.tables(), &caller.identity, c))
        .collect();
    if writable.is_empty() {
        return Err(forbidden(format!(
            "Principal identity {} may not delete {} {id} of another cluster.",
            caller.identity.user_name(),
            ty.resource_type
        )));
    }
    let mut removed = 0;
    for cluster_id in writable {
        if remove_object(tx, ty, &cluster_id, id).is_some() {
            removed += 1;
        }
    }
    Ok(removed)
}

/// The filters of a list request.
#[derive(Debug, Clone, Default)]
struct Filters {
    cluster_id: Option<String>,
    project_id: Option<String>,
    application_id: Option<String>,
    cluster_type: Option<String>,
    infra_type: Option<String>,
    scope_id: Option<String>,
}

impl Filters {
    fn parse(ty: &InventoryType, query: &BTreeMap<String, String>) -> Self {
        let get = |filter: Filter, name: &str| {
            ty.filters
                .contains(&filter)
                .then(|| query.get(name).filter(|v| !v.is_empty()).cloned())
                .flatten()
        };
        Self {
            cluster_id: get(Filter::ClusterId, "container_cluster_id"),
            project_id: get(Filter::ProjectId, "container_project_id"),
            application_id: get(Filter::ApplicationId, "container_application_id"),
            cluster_type: get(Filter::ClusterType, "cluster_type"),
            infra_type: get(Filter::InfraType, "infra_type"),
            scope_id: query.get("scope_id").filter(|v| !v.is_empty()).cloned(),
        }
    }

    /// Whether a filter other than the cluster (which the key range handles) is set.
    fn has_field_filters(&self) -> bool {
        self.project_id.is_some()
            || self.application_id.is_some()
            || self.cluster_type.is_some()
            || self.infra_type.is_some()
            || self.scope_id.is_some()
    }

    fn matches(&self, doc: &Value) -> bool {
        let eq = |wanted: &Option<String>, value: Option<&Value>| {
            wanted
                .as_ref()
                .is_none_or(|w| value.and_then(Value::as_str) == Some(w.as_str()))
        };
        eq(&self.project_id, doc.get("container_project_id"))
            && eq(&self.cluster_type, doc.get("cluster_type"))
            && eq(&self.infra_type, doc.pointer("/infrastructure/infra_type"))
            && self.application_id.as_ref().is_none_or(|app| {
                doc["container_application_ids"]
                    .as_array()
                    .is_some_and(|ids| ids.iter().any(|i| i.as_str() == Some(app)))
            })
            && self.scope_id.as_ref().is_none_or(|scope| {
                doc["scope"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|e| e["scope_id"].as_str() == Some(scope)))
            })
    }
}

/// Field name carrying the store key through [`page`] (removed from the answer).
const KEY_FIELD: &str = "_sim_key";

fn keyed(key: &str, doc: &Value) -> Value {
    let mut item = render(doc);
    if let Value::Object(map) = &mut item {
        map.insert(KEY_FIELD.into(), json!(key));
    }
    item
}

fn unkey(mut envelope: Value) -> Value {
    if let Some(results) = envelope.get_mut("results").and_then(Value::as_array_mut) {
        for item in results {
            if let Value::Object(map) = item {
                map.remove(KEY_FIELD);
            }
        }
    }
    envelope
}

/// `GET /api/v1/fabric/<type>` with its filters and NSX paging.
///
/// In the default order (store key: cluster id, then `external_id`) a page is read straight
/// from the key range after the cursor, and `result_count` comes from the count index when no
/// field filter is set, so the cost of a page does not grow with the inventory. With `sort_by`
/// or `sort_ascending=false` every matching object is sorted ([`page`]).
pub fn list(
    tables: &Tables,
    ty: &InventoryType,
    query: &BTreeMap<String, String>,
) -> Result<Value, ApiError> {
    let params = ListParams::parse(query)?;
    let filters = Filters::parse(ty, query);
    let table = ty.table();
    let prefix = match &filters.cluster_id {
        Some(cluster) => format!("{cluster}{SEP}"),
        None => String::new(),
    };
    if params.sort_by.is_some() || !params.sort_ascending {
        let items: Vec<Value> = tables
            .scan_prefix(&table, &prefix)
            .filter(|(_, doc)| filters.matches(doc))
            .map(|(k, doc)| keyed(k, doc))
            .collect();
        return Ok(unkey(page(items, &params, KEY_FIELD, None)?));
    }
    let total = if filters.has_field_filters() {
        tables
            .scan_prefix(&table, &prefix)
            .filter(|(_, doc)| filters.matches(doc))
            .count()
    } else {
        match &filters.cluster_id {
            Some(cluster) if !ty.is_cluster() => count(tables, ty, cluster),
            _ => tables.len(&table),
        }
    };
    let after = match &params.cursor {
        Some(cursor) => Some(decode_cursor(cursor)?.1),
        None => None,
    };
    let window: Vec<Value> = match &after {
        Some(after) => tables
            .scan_prefix_after(&table, &prefix, after)
            .filter(|(_, doc)| filters.matches(doc))
            .take(params.page_size + 1)
            .map(|(k, doc)| keyed(k, doc))
            .collect(),
        None => tables
            .scan_prefix(&table, &prefix)
            .filter(|(_, doc)| filters.matches(doc))
            .take(params.page_size + 1)
            .map(|(k, doc)| keyed(k, doc))
            .collect(),
    };
    let first_page = ListParams {
        cursor: None,
        ..params
    };
    let mut envelope = page(window, &first_page, KEY_FIELD, None)?;
    envelope["result_count"] = json!(total);
    Ok(unkey(envelope))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn admin() -> Caller {
        Caller {
            identity: Identity::User("admin".into()),
            allow_overwrite: false,
        }
    }

    fn pods(n: usize, start: usize) -> Value {
        let objects: Vec<Value> = (start..start + n)
            .map(|i| {
                json!({"object_update_type": "CREATE", "container_object": {
                    "resource_type": "ContainerApplicationInstance",
                    "external_id": format!("pod-{i:05}"),
                    "display_name": format!("pod-{i}"),
                    "container_project_id": if i % 2 == 0 { "ns-even" } else { "ns-odd" },
                }})
            })
            .collect();
        json!({"container_inventory_objects": objects})
    }

    fn store_with(clusters: &[(&str, usize)]) -> Store {
        let store = Store::in_memory();
        store
            .write_blocking(|tx| {
                for (cluster, n) in clusters {
                    create_cluster(tx, &admin(), &json!({"external_id": cluster}), 1)?;
                    apply_updates(tx, &admin(), cluster, &pods(*n, 0), 2)?;
                }
                Ok::<_, ApiError>(())
            })
            .unwrap();
        store
    }

    fn query(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn walk(store: &Store, base: &[(&str, &str)]) -> (Vec<String>, Vec<u64>) {
        let mut seen = Vec::new();
        let mut counts = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut pairs = base.to_vec();
            if let Some(c) = &cursor {
                pairs.push(("cursor", c));
            }
            let page = store
                .read(|t| list(t, &APPLICATION_INSTANCE, &query(&pairs)))
                .unwrap();
            counts.push(page["result_count"].as_u64().unwrap());
            for item in page["results"].as_array().unwrap() {
                assert!(item.get(KEY_FIELD).is_none());
                seen.push(item["external_id"].as_str().unwrap().to_owned());
            }
            match page.get("cursor").and_then(Value::as_str) {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        (seen, counts)
    }

    #[test]
    fn indexed_paging_visits_each_object_once_per_cluster() {
        let store = store_with(&[("a", 250), ("b", 120)]);
        let (seen, counts) = walk(
            &store,
            &[("container_cluster_id", "b"), ("page_size", "50")],
        );
        assert_eq!(seen.len(), 120);
        assert!(counts.iter().all(|c| *c == 120));
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, seen);
        let (all, _) = walk(&store, &[("page_size", "1000")]);
        assert_eq!(all.len(), 370);
        let (even, counts) = walk(
            &store,
            &[
                ("container_cluster_id", "a"),
                ("container_project_id", "ns-even"),
                ("page_size", "40"),
            ],
        );
        assert_eq!(even.len(), 125);
        assert!(counts.iter().all(|c| *c == 125));
        let (sorted_desc, _) = walk(
            &store,
            &[
                ("container_cluster_id", "a"),
                ("sort_by", "display_name"),
                ("sort_ascending", "false"),
                ("page_size", "100"),
            ],
        );
        assert_eq!(sorted_desc.len(), 250);
    }

    #[test]
    fn counts_follow_creates_replaces_and_deletes() {
        let store = store_with(&[("a", 10)]);
        store
            .write_blocking(|tx| {
                // A CREATE of an existing object replaces it and counts once.
                apply_updates(tx, &admin(), "a", &pods(5, 8), 3)?;
                let delete = json!({"container_inventory_objects": [
                    {"object_update_type": "DELETE", "container_object":
                        {"resource_type": "ContainerApplicationInstance", "external_id": "pod-00000"}},
                    {"object_update_type": "DELETE", "container_object":
                        {"resource_type": "ContainerApplicationInstance", "external_id": "missing"}}]});
                let summary = apply_updates(tx, &admin(), "a", &delete, 4)?;
                assert_eq!(summary.deleted, 1);
                Ok::<_, ApiError>(())
            })
            .unwrap();
        store.read(|t| {
            assert_eq!(count(t, &APPLICATION_INSTANCE, "a"), 12);
            assert_eq!(t.len(&APPLICATION_INSTANCE.table()), 12);
        });
        store
            .write_blocking(|tx| {
                assert_eq!(remove_cluster(tx, "a"), 13);
                Ok::<_, ApiError>(())
            })
            .unwrap();
        store.read(|t| {
            assert_eq!(count(t, &APPLICATION_INSTANCE, "a"), 0);
            assert_eq!(t.len(COUNTS_TABLE), 0);
            assert_eq!(t.len(&APPLICATION_INSTANCE.ids_table()), 0);
        });
    }

    #[test]
    fn sparse_update_merges_nested_objects() {
        let mut doc = json!({"a": {"x": 1, "y": 2}, "list": [1, 2], "keep": true})
            .as_object()
            .unwrap()
            .clone();
        let patch = json!({"a": {"y": 3}, "list": [9]})
            .as_object()
            .unwrap()
            .clone();
        merge(&mut doc, patch);
        assert_eq!(
            Value::Object(doc),
            json!({"a": {"x": 1, "y": 3}, "list": [9], "keep": true})
        );
    }

    #[test]
    fn identifiers_with_control_characters_are_refused() {
        assert!(check_identifier("id", "ok-1").is_ok());
        assert!(check_identifier("id", "").is_err());
        assert!(check_identifier("id", "a\u{1f}b").is_err());
        assert!(check_identifier("id", &"x".repeat(256)).is_err());
    }
}
