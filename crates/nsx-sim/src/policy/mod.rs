//! Policy intent (`/policy/api/v1/infra/...`): the object tree, its system fields, protection,
//! revisions and referential integrity, independent of HTTP.
//!
//! Objects are JSON documents in the store table [`TABLE`], keyed by policy path. Children that
//! NSX embeds in their parent's REST body (rules in a security policy, entries in a service) are
//! stored as their own documents and assembled when rendered. All changes of one request go
//! through one [`Engine`] inside one store transaction; [`Engine::finish`] checks referential
//! integrity over everything the request touched, so a request is applied whole or not at all.

pub mod firewall;
pub mod groups;
pub mod hapi;
pub mod kinds;
pub mod render;
pub mod services;
pub mod validate;

use std::collections::{BTreeMap, BTreeSet};

use http::StatusCode;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, MODULE_POLICY, RelatedError, code};
use crate::identity::{Caller, Identity};
use crate::schema::{Api, schemas, strip_nulls};
use crate::store::{Tables, WriteTxn};
use kinds::{Kind, kind_of_path, split_path};

/// Store table of policy objects, keyed by policy path.
pub const TABLE: &str = "policy";
/// Store table of simulator bookkeeping (counters, generated ids).
pub const META: &str = "meta";
/// Key in [`META`] of the site's owner id (`owner_id` of every policy object).
const OWNER_ID_KEY: &str = "policy.owner_id";

/// Stored-document keys with this prefix are simulator bookkeeping, never sent to clients.
pub const INTERNAL_PREFIX: &str = "_sim_";
/// Name of the principal identity whose protection covers the object.
const PROTECTED_BY: &str = "_sim_protected_by";

/// How a write treats an existing object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Create or replace (`PUT`).
    Replace,
    /// Create or merge the given top-level fields (`PATCH`).
    Merge,
}

/// Where a write comes from, which decides how `_revision` is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The object's own REST endpoint.
    Rest,
    /// Embedded in its parent's REST body.
    Embedded,
    /// A hierarchical API request; `true` when `enforce_revision_check=true`.
    Hierarchical(bool),
}

/// The current time in epoch milliseconds.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Applies the changes of one request inside a store transaction.
pub struct Engine<'t, 'a> {
    tx: &'t mut WriteTxn<'a>,
    caller: Caller,
    now: i64,
    owner_id: String,
    forced_deletes: BTreeSet<String>,
}

impl<'t, 'a> Engine<'t, 'a> {
    /// An engine acting for `caller` at time `now` (epoch ms).
    pub fn new(tx: &'t mut WriteTxn<'a>, caller: Caller, now: i64) -> Self {
        let owner_id = match tx.get(META, OWNER_ID_KEY).and_then(Value::as_str) {
            Some(id) => id.to_owned(),
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                tx.put(META, OWNER_ID_KEY, json!(id));
                id
            }
        };
        Self {
            tx,
            caller,
            now,
            owner_id,
            forced_deletes: BTreeSet::new(),
        }
    }

    /// The tables as this transaction sees them.
    pub fn tables(&self) -> &Tables {
        self.tx.tables()
    }

    /// The caller.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// The stored document at `path`.
    pub fn get(&self, path: &str) -> Option<&Value> {
        self.tx.get(TABLE, path)
    }

    /// Mutable access to the transaction (for kind modules' bookkeeping).
    pub(crate) fn txn(&mut self) -> &mut WriteTxn<'a> {
        self.tx
    }

    /// Creates or updates the object of `kind` at `path` from a request `body`, including the
    /// children NSX embeds in it. Returns whether the object was created.
    pub fn upsert(
        &mut self,
        kind: Kind,
        path: &str,
        body: Value,
        mode: WriteMode,
        origin: Origin,
    ) -> Result<bool, ApiError> {
        let spec = kind.spec();
        let Value::Object(mut input) = body else {
            return Err(ApiError::field_validation(&[format!(
                "/: a {} must be a JSON object",
                kind.label()
            )]));
        };
        // `null` means "not set": a merge unsets the fields named so; nested nulls are absent.
        let unset: Vec<String> = input
            .iter()
            .filter(|(_, v)| v.is_null())
            .map(|(k, _)| k.clone())
            .collect();
        input.retain(|_, v| !v.is_null());
        input.values_mut().for_each(strip_nulls);
        let (parent, id) = if kind == Kind::Infra {
            ("", "infra")
        } else {
            split_path(path).ok_or_else(|| ApiError::uri_not_found(path))?
        };
        validate::check_id(id)?;
        if let Some(given) = input.get("id")
            && given.as_str() != Some(id)
        {
            return Err(ApiError::policy_invalid(format!(
                "The id {given} in the request body does not match the id {id} in the path {path}."
            )));
        }
        let resource_type = match input.get("resource_type").and_then(Value::as_str) {
            Some(rt) if spec.resource_types.contains(&rt) => rt.to_owned(),
            Some(rt) => {
                return Err(ApiError::policy_invalid(format!(
                    "Invalid resource_type {rt} for {path}; expected {}.",
                    spec.resource_types.join(" or ")
                )));
            }
            None if kind == Kind::ServiceEntry => {
                return Err(ApiError::field_validation(&[
                    "/resource_type: required for a service entry".into(),
                ]));
            }
            None => spec.resource_types[0].to_owned(),
        };
        if kind != Kind::Infra && !self.tx.tables().contains(TABLE, parent) {
            return Err(ApiError::policy_not_found(parent));
        }

        let embedded = kind
            .embedded_child()
            .and_then(|(field, child)| input.remove(field).map(|v| (field, child, v)));
        input.remove("children");
        let read_only = schemas().read_only_fields(Api::Policy, &resource_type);
        for field in &read_only {
            input.remove(field);
        }
        input.retain(|k, _| !k.starts_with(INTERNAL_PREFIX));

        let existing = self.tx.get(TABLE, path).cloned();
        let system_owned = existing
            .as_ref()
            .is_some_and(|e| e.get("_system_owned") == Some(&Value::Bool(true)))
            && self.caller.identity != Identity::System;
        if let Some(existing) = &existing {
            self.check_protection(existing, path)?;
            let current = existing.get("_revision").cloned().unwrap_or(json!(0));
            let given = input.get("_revision");
            let enforce = match (origin, mode) {
                (Origin::Rest, WriteMode::Replace) => true,
                (Origin::Rest, WriteMode::Merge) | (Origin::Hierarchical(true), _) => {
                    given.is_some()
                }
                (Origin::Embedded, _) | (Origin::Hierarchical(false), _) => false,
            };
            if enforce && given != Some(&current) {
                return Err(stale_revision(path, given, &current));
            }
        } else if kind != Kind::Infra {
            self.check_parent_writable(parent)?;
        }
        input.remove("_revision");

        let mut doc = match (&existing, mode) {
            (Some(Value::Object(old)), WriteMode::Merge) => {
                let mut merged = old.clone();
                for (k, v) in input {
                    merged.insert(k, v);
                }
                for field in &unset {
                    let client_owned = !field.starts_with('_')
                        && !matches!(field.as_str(), "id" | "resource_type")
                        && !read_only.contains(field);
                    if client_owned {
                        merged.remove(field);
                    }
                }
                merged
            }
            _ => input,
        };
        doc.insert("resource_type".into(), json!(resource_type));
        validate::common_fields(&doc)?;
        match kind {
            Kind::Infra | Kind::Domain => {}
            Kind::Group => groups::normalize(&mut doc, path, existing.as_ref())?,
            Kind::SecurityPolicy => firewall::normalize_policy(&mut doc)?,
            Kind::Rule => firewall::normalize_rule(self, &mut doc, parent, existing.as_ref())?,
            Kind::ContainerClusterSpan => firewall::normalize_span(self, &mut doc, path, parent)?,
            Kind::Service => {}
            Kind::ServiceEntry => services::normalize_entry(&mut doc)?,
        }
        self.stamp(&mut doc, kind, path, parent, id, existing.as_ref());
        let created = existing.is_none();
        if system_owned {
            // NSX's own objects can be named in a write (e.g. the default domain wrapping new
            // groups in a hierarchical request) but not changed.
            let unchanged = existing
                .as_ref()
                .is_some_and(|e| user_view(e) == user_view(&Value::Object(doc.clone())));
            if !unchanged {
                return Err(system_owned_error(path));
            }
        } else {
            self.tx.put(TABLE, path, Value::Object(doc));
        }

        if let Some((field, child_kind, items)) = embedded {
            self.apply_embedded(path, field, child_kind, items, mode)?;
        }
        Ok(created)
    }

    /// Applies the embedded children of a REST body: merged for `PATCH`; for `PUT` the list
    /// replaces the existing children.
    fn apply_embedded(
        &mut self,
        parent_path: &str,
        field: &str,
        kind: Kind,
        items: Value,
        mode: WriteMode,
    ) -> Result<(), ApiError> {
        let Value::Array(items) = items else {
            return Err(ApiError::field_validation(&[format!(
                "/{field}: must be an array"
            )]));
        };
        let mut listed = BTreeSet::new();
        for item in items {
            let id = item
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ApiError::policy_invalid(format!(
                        "Every entry of {field} must have an id ({parent_path})."
                    ))
                })?
                .to_owned();
            let child_path = format!("{parent_path}/{}/{id}", kind.spec().segment);
            if !listed.insert(child_path.clone()) {
                return Err(ApiError::policy_invalid(format!(
                    "Duplicate id {id} in {field} of {parent_path}."
                )));
            }
            self.upsert(kind, &child_path, item, mode, Origin::Embedded)?;
        }
        if mode == WriteMode::Replace {
            let stale: Vec<String> = children_of(self.tables(), parent_path, kind)
                .map(|(p, _)| p.clone())
                .filter(|p| !listed.contains(p))
                .collect();
            for path in stale {
                self.delete(&path, false)?;
            }
        }
        Ok(())
    }

    /// Deletes the object at `path` and its subtree. `force` skips the in-use check for it.
    /// Returns whether it existed.
    pub fn delete(&mut self, path: &str, force: bool) -> Result<bool, ApiError> {
        let Some(existing) = self.tx.get(TABLE, path).cloned() else {
            return Ok(false);
        };
        self.check_writable(&existing, path)?;
        let prefix = format!("{path}/");
        let subtree: Vec<String> = self
            .tables()
            .scan_prefix(TABLE, &prefix)
            .map(|(k, _)| k.clone())
            .collect();
        for key in subtree.iter().rev() {
            self.tx.delete(TABLE, key);
        }
        self.tx.delete(TABLE, path);
        if force {
            self.forced_deletes.insert(path.to_owned());
        }
        Ok(true)
    }

    /// Refuses changes to system-owned objects and to objects protected by another principal
    /// identity unless the caller sent `X-Allow-Overwrite: true`.
    pub fn check_writable(&self, existing: &Value, path: &str) -> Result<(), ApiError> {
        if self.caller.identity != Identity::System
            && existing.get("_system_owned") == Some(&Value::Bool(true))
        {
            return Err(system_owned_error(path));
        }
        self.check_protection(existing, path)
    }

    /// Refuses changes to objects protected by another principal identity unless the caller
    /// sent `X-Allow-Overwrite: true`.
    fn check_protection(&self, existing: &Value, path: &str) -> Result<(), ApiError> {
        if self.caller.identity == Identity::System {
            return Ok(());
        }
        if let Some(owner) = existing.get(PROTECTED_BY).and_then(Value::as_str)
            && self.caller.identity.principal_name() != Some(owner)
            && !self.caller.allow_overwrite
        {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                code::PROTECTED_OBJECT,
                MODULE_POLICY,
                format!(
                    "The object {path} is owned by principal identity {owner}; modifying it \
                     requires the header X-Allow-Overwrite: true."
                ),
            ));
        }
        Ok(())
    }

    /// Creating a child changes its parent: a protected parent needs the override as well.
    fn check_parent_writable(&self, parent: &str) -> Result<(), ApiError> {
        match self.tx.get(TABLE, parent) {
            Some(p) if p.get(PROTECTED_BY).is_some() => self.check_writable(p, parent),
            _ => Ok(()),
        }
    }

    /// Sets the server-owned fields of a document being written.
    fn stamp(
        &self,
        doc: &mut Map<String, Value>,
        kind: Kind,
        path: &str,
        parent: &str,
        id: &str,
        existing: Option<&Value>,
    ) {
        let old = |k: &str| existing.and_then(|e| e.get(k)).cloned();
        let user = json!(self.caller.identity.user_name());
        doc.insert("id".into(), json!(id));
        if !doc.contains_key("display_name") {
            doc.insert("display_name".into(), json!(id));
        }
        doc.insert("path".into(), json!(path));
        if kind == Kind::Infra {
            doc.insert("relative_path".into(), json!("infra"));
        } else {
            doc.insert("parent_path".into(), json!(parent));
            doc.insert("relative_path".into(), json!(id));
        }
        let unique_id = old("unique_id").unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string()));
        doc.insert("unique_id".into(), unique_id.clone());
        doc.insert("realization_id".into(), unique_id);
        doc.insert("owner_id".into(), json!(self.owner_id));
        doc.insert("remote_path".into(), json!(""));
        doc.insert("marked_for_delete".into(), json!(false));
        doc.insert("overridden".into(), json!(false));
        doc.insert(
            "_create_time".into(),
            old("_create_time").unwrap_or(json!(self.now)),
        );
        doc.insert(
            "_create_user".into(),
            old("_create_user").unwrap_or(user.clone()),
        );
        doc.insert("_last_modified_time".into(), json!(self.now));
        doc.insert("_last_modified_user".into(), user);
        // `/infra` itself is not NSX's to keep: its fields can be patched.
        let system_owned = old("_system_owned").unwrap_or(json!(
            self.caller.identity == Identity::System && kind != Kind::Infra
        ));
        doc.insert("_system_owned".into(), system_owned);
        doc.insert("_protection".into(), json!("NOT_PROTECTED"));
        let revision = old("_revision")
            .and_then(|r| r.as_i64())
            .map_or(0, |r| r + 1);
        doc.insert("_revision".into(), json!(revision));
        let protected_by = old(PROTECTED_BY).or_else(|| match &self.caller.identity {
            Identity::Principal {
                name,
                protected: true,
            } => Some(json!(name)),
            _ => None,
        });
        if let Some(owner) = protected_by {
            doc.insert(PROTECTED_BY.into(), owner);
        }
        match kind {
            Kind::Group => {
                doc.insert("reference".into(), json!(false));
                doc.insert("state".into(), json!("SUCCESS"));
            }
            Kind::SecurityPolicy | Kind::Rule => {
                doc.insert("is_default".into(), json!(false));
            }
            Kind::Service => {
                let is_default =
                    old("is_default").unwrap_or(json!(self.caller.identity == Identity::System));
                doc.insert("is_default".into(), is_default);
            }
            _ => {}
        }
    }

    /// Bumps the revision and modification stamp of an existing object whose server-computed
    /// fields changed (e.g. a `sequence_number` moved by `?action=revise`).
    /// An object already written by this request keeps the revision that write gave it: one
    /// request moves an object's `_revision` by one.
    pub(crate) fn touch(&mut self, path: &str, update: impl FnOnce(&mut Map<String, Value>)) {
        if let Some(Value::Object(mut doc)) = self.tx.get(TABLE, path).cloned() {
            update(&mut doc);
            let before = self
                .tx
                .original(TABLE, path)
                .map(|o| o.get("_revision").cloned());
            let current = doc.get("_revision").and_then(Value::as_i64).unwrap_or(0);
            let already_bumped = match before {
                None => true,
                Some(before) => before != Some(json!(current)),
            };
            let revision = if already_bumped { current } else { current + 1 };
            doc.insert("_revision".into(), json!(revision));
            doc.insert("_last_modified_time".into(), json!(self.now));
            doc.insert(
                "_last_modified_user".into(),
                json!(self.caller.identity.user_name()),
            );
            self.tx.put(TABLE, path, Value::Object(doc));
        }
    }

    /// Checks referential integrity and cross-object rules over everything this transaction
    /// touched. Call once, after the last change.
    pub fn finish(self) -> Result<(), ApiError> {
        let tables = self.tx.tables();
        let touched: Vec<String> = self
            .tx
            .touched()
            .filter(|(t, _)| *t == TABLE)
            .map(|(_, k)| k.to_owned())
            .collect();
        let mut deleted = BTreeSet::new();
        let mut services_to_check = BTreeSet::new();
        for path in &touched {
            let kind = kind_of_path(path);
            match tables.get(TABLE, path) {
                Some(doc) => {
                    if let Some(kind) = kind {
                        for reference in references(kind, doc) {
                            check_reference(tables, path, &reference)?;
                        }
                        match kind {
                            Kind::Service => {
                                services_to_check.insert(path.clone());
                            }
                            Kind::ServiceEntry => {
                                if let Some((service, _)) = split_path(path) {
                                    services_to_check.insert(service.to_owned());
                                }
                            }
                            _ => {}
                        }
                    }
                }
                None => {
                    if self.tx.original(TABLE, path).is_some()
                        && !self.forced_deletes.contains(path)
                    {
                        deleted.insert(path.clone());
                    }
                }
            }
        }
        for service in &services_to_check {
            services::check_service(tables, service)?;
        }
        if deleted.is_empty() {
            return Ok(());
        }
        let mut users: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (path, doc) in tables.iter(TABLE) {
            let Some(kind) = kind_of_path(path) else {
                continue;
            };
            for reference in references(kind, doc) {
                if let Some(target) = deleted.get(reference.path.as_str()) {
                    users.entry(target).or_default().push(path);
                }
            }
        }
        if let Some((target, by)) = users.into_iter().next() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                code::RESOURCE_IN_USE,
                MODULE_POLICY,
                format!(
                    "The object path=[{target}] cannot be deleted as either it has children or it \
                     is being referenced by other objects path=[{}].",
                    by.join(",")
                ),
            ));
        }
        Ok(())
    }
}

fn system_owned_error(path: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        code::SYSTEM_OWNED,
        MODULE_POLICY,
        format!("The object {path} is system owned and cannot be modified or deleted."),
    )
}

/// The fields of a stored document a client controls (no system fields, no bookkeeping).
fn user_view(doc: &Value) -> Map<String, Value> {
    let resource_type = doc["resource_type"].as_str().unwrap_or_default();
    let read_only = schemas().read_only_fields(Api::Policy, resource_type);
    doc.as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !k.starts_with('_') && !read_only.contains(k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn stale_revision(path: &str, given: Option<&Value>, current: &Value) -> ApiError {
    let message = match given {
        None => format!(
            "The _revision of {path} is missing; the current revision is {current}. Read the \
             object again and retry."
        ),
        Some(given) => format!(
            "The object {path} was modified by somebody else (_revision {given} is stale; the \
             current revision is {current}). Read the object again and retry."
        ),
    };
    ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        code::STALE_REVISION,
        MODULE_POLICY,
        message,
    )
}

/// A path one object names in one of its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The path named.
    pub path: String,
    /// The field naming it.
    pub field: &'static str,
    /// The kinds the path may point at (empty: any existing object).
    pub expected: &'static [Kind],
}

/// The paths `doc` (of `kind`) names.
pub fn references(kind: Kind, doc: &Value) -> Vec<Reference> {
    let mut out = Vec::new();
    let mut paths = |field: &'static str, expected: &'static [Kind], value: Option<&Value>| {
        for p in value
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|p| p.starts_with('/'))
        {
            out.push(Reference {
                path: p.to_owned(),
                field,
                expected,
            });
        }
    };
    match kind {
        Kind::Group => {
            for e in doc["expression"].as_array().into_iter().flatten() {
                if e["resource_type"] == "PathExpression" {
                    paths("expression.paths", &[Kind::Group], e.get("paths"));
                }
            }
        }
        Kind::SecurityPolicy => paths("scope", &[], doc.get("scope")),
        Kind::Rule => {
            paths("source_groups", &[Kind::Group], doc.get("source_groups"));
            paths(
                "destination_groups",
                &[Kind::Group],
                doc.get("destination_groups"),
            );
            paths("scope", &[], doc.get("scope"));
            paths("services", &[Kind::Service], doc.get("services"));
            paths("profiles", &[], doc.get("profiles"));
            for e in doc["service_entries"].as_array().into_iter().flatten() {
                if let Some(p) = e.get("nested_service_path").and_then(Value::as_str) {
                    out.push(Reference {
                        path: p.to_owned(),
                        field: "service_entries.nested_service_path",
                        expected: &[Kind::Service],
                    });
                }
            }
        }
        Kind::ServiceEntry => {
            if let Some(p) = doc.get("nested_service_path").and_then(Value::as_str) {
                out.push(Reference {
                    path: p.to_owned(),
                    field: "nested_service_path",
                    expected: &[Kind::Service],
                });
            }
        }
        Kind::ContainerClusterSpan => {
            if let Some(p) = doc.get("container_cluster_path").and_then(Value::as_str) {
                out.push(Reference {
                    path: p.to_owned(),
                    field: "container_cluster_path",
                    expected: &[],
                });
            }
        }
        Kind::Infra | Kind::Domain | Kind::Service => {}
    }
    out
}

fn check_reference(tables: &Tables, from: &str, reference: &Reference) -> Result<(), ApiError> {
    let target_kind = kind_of_path(&reference.path);
    let wrong_kind = !reference.expected.is_empty()
        && target_kind.is_none_or(|k| !reference.expected.contains(&k));
    if !wrong_kind && tables.contains(TABLE, &reference.path) {
        return Ok(());
    }
    let what = match reference.expected.first() {
        Some(kind) => kind.label(),
        None => "Object",
    };
    let id = reference.path.rsplit('/').next().unwrap_or_default();
    let related = if wrong_kind {
        format!("{} is not a {what} path", reference.path)
    } else {
        format!("{what} {id} not found")
    };
    Err(ApiError::new(
        StatusCode::BAD_REQUEST,
        code::INVALID_PATH,
        MODULE_POLICY,
        format!("Invalid path {}", reference.path),
    )
    .with_details(format!("{} of {from}", reference.field))
    .with_related(RelatedError {
        status: StatusCode::BAD_REQUEST,
        error_code: code::OBJECT_NOT_FOUND,
        module_name: MODULE_POLICY.into(),
        error_message: related,
    }))
}

/// The stored children of `kind` directly under `parent`, in path order.
pub fn children_of<'a>(
    tables: &'a Tables,
    parent: &str,
    kind: Kind,
) -> impl Iterator<Item = (&'a String, &'a Value)> + use<'a> {
    let prefix = format!("{parent}/{}/", kind.spec().segment);
    let depth = prefix.len();
    tables
        .scan_prefix(TABLE, &prefix)
        .filter(move |(k, _)| !k[depth..].contains('/'))
}

/// Creates the objects NSX has out of the box (`/infra`, the `default` domain and the default
/// services) when they are missing.
pub fn bootstrap(tx: &mut WriteTxn<'_>, now: i64) -> Result<(), ApiError> {
    let mut engine = Engine::new(tx, Caller::system(), now);
    if engine.get("/infra").is_none() {
        engine.upsert(
            Kind::Infra,
            "/infra",
            json!({"resource_type": "Infra"}),
            WriteMode::Replace,
            Origin::Rest,
        )?;
    }
    if engine.get("/infra/domains/default").is_none() {
        engine.upsert(
            Kind::Domain,
            "/infra/domains/default",
            json!({"resource_type": "Domain", "display_name": "default"}),
            WriteMode::Replace,
            Origin::Rest,
        )?;
    }
    for service in services::default_services() {
        let id = service["id"].as_str().unwrap_or_default().to_owned();
        let path = format!("/infra/services/{id}");
        if engine.get(&path).is_none() {
            engine.upsert(
                Kind::Service,
                &path,
                service,
                WriteMode::Replace,
                Origin::Rest,
            )?;
        }
    }
    engine.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    const CCP: &str = "/infra/sites/default/enforcement-points/default/cluster-control-planes/c1";
    const POLICY: &str = "/infra/domains/default/security-policies/p";

    fn store() -> Store {
        let store = Store::in_memory();
        store
            .write_blocking(|tx| {
                bootstrap(tx, 1)?;
                // Cluster control planes belong to the registration module; a bare document
                // stands in for one here.
                tx.put(
                    TABLE,
                    CCP,
                    json!({"resource_type": "ClusterControlPlane", "id": "c1"}),
                );
                let mut engine = Engine::new(tx, Caller::system(), 1);
                engine.upsert(
                    Kind::SecurityPolicy,
                    POLICY,
                    json!({"resource_type": "SecurityPolicy", "category": "Application"}),
                    WriteMode::Merge,
                    Origin::Rest,
                )?;
                engine.finish()
            })
            .unwrap();
        store
    }

    fn admin() -> Caller {
        Caller {
            identity: Identity::User("admin".into()),
            allow_overwrite: false,
        }
    }

    fn span(store: &Store, id: &str, cluster: &str) -> Result<(), ApiError> {
        let path = format!("{POLICY}/container-cluster-span/{id}");
        let body = json!({"resource_type": "SecurityPolicyContainerCluster", "container_cluster_path": cluster});
        store
            .write_blocking(|tx| {
                let mut engine = Engine::new(tx, admin(), 2);
                engine.upsert(
                    Kind::ContainerClusterSpan,
                    &path,
                    body,
                    WriteMode::Merge,
                    Origin::Rest,
                )?;
                engine.finish()
            })
            .map_err(|e| match e {
                crate::store::TxnError::Aborted(e) => e,
                crate::store::TxnError::Store(e) => ApiError::internal(e.to_string()),
            })
    }

    #[test]
    fn container_cluster_span_rules() {
        let store = store();
        span(&store, "c1", CCP).unwrap();
        let stored = store.read(|t| {
            t.get(TABLE, &format!("{POLICY}/container-cluster-span/c1"))
                .cloned()
        });
        let stored = stored.unwrap();
        assert_eq!(stored["container_cluster_type"], "ANTREA");
        assert_eq!(stored["parent_path"], POLICY);
        // The same cluster twice in one span, a changed path, and a missing cluster.
        assert_eq!(
            span(&store, "again", CCP).unwrap_err().error_code,
            code::POLICY_VALIDATION
        );
        assert_eq!(
            span(
                &store,
                "c1",
                "/infra/sites/default/enforcement-points/default/cluster-control-planes/c2"
            )
            .unwrap_err()
            .error_code,
            code::POLICY_VALIDATION
        );
        assert_eq!(
            span(
                &store,
                "c2",
                "/infra/sites/default/enforcement-points/default/cluster-control-planes/c2"
            )
            .unwrap_err()
            .error_code,
            code::INVALID_PATH
        );
        // The cluster is in use by the span.
        let delete_ccp = store.write_blocking(|tx| {
            let mut engine = Engine::new(tx, admin(), 3);
            engine.delete(CCP, false)?;
            engine.finish()
        });
        assert!(matches!(
            delete_ccp,
            Err(crate::store::TxnError::Aborted(ApiError {
                error_code: code::RESOURCE_IN_USE,
                ..
            }))
        ));
    }

    #[test]
    fn null_members_are_absent_and_a_merge_unsets_them() {
        let store = store();
        let path = "/infra/domains/default/security-policies/q";
        let write = |body: Value, mode: WriteMode| {
            store.write_blocking(|tx| {
                let mut engine = Engine::new(tx, admin(), 2);
                engine.upsert(Kind::SecurityPolicy, path, body, mode, Origin::Rest)?;
                engine.finish()
            })
        };
        write(
            json!({"description": "d", "comments": "c", "tags": null, "id": null}),
            WriteMode::Merge,
        )
        .unwrap();
        // Nested nulls are dropped, a top-level null unsets (but never a system field).
        write(
            json!({"description": null, "resource_type": null, "_revision": null,
                   "rules": [{"id": "r", "resource_type": "Rule", "description": null}]}),
            WriteMode::Merge,
        )
        .unwrap();
        store.read(|t| {
            let policy = t.get(TABLE, path).unwrap();
            assert!(policy.get("description").is_none());
            assert!(policy.get("tags").is_none());
            assert_eq!(policy["comments"], "c");
            assert_eq!(policy["id"], "q");
            assert_eq!(policy["resource_type"], "SecurityPolicy");
            let rule = t.get(TABLE, &format!("{path}/rules/r")).unwrap();
            assert!(rule.get("description").is_none());
            assert_eq!(rule["source_groups"], json!(["ANY"]));
        });
    }

    #[test]
    fn bootstrap_is_idempotent_and_system_owned() {
        let store = store();
        let before = store.read(|t| t.len(TABLE));
        store.write_blocking(|tx| bootstrap(tx, 5)).unwrap();
        assert_eq!(store.read(|t| t.len(TABLE)), before);
        store.read(|t| {
            let domain = t.get(TABLE, "/infra/domains/default").unwrap();
            assert_eq!(domain["_system_owned"], true);
            assert_eq!(domain["_create_user"], "system");
            let http = t.get(TABLE, "/infra/services/HTTP").unwrap();
            assert_eq!(http["is_default"], true);
        });
    }
}
