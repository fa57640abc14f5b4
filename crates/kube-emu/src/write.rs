//! Writes: create (with `generateName`), replace, patch (merge, JSON, strategic,
//! server-side apply), the `/status` subresource, delete with finalizers and
//! `deletionTimestamp`, deletecollection, namespace and CRD termination, `dryRun`.
//!
//! Every write runs under the store's write lock through one pipeline: decode (unknown
//! fields per `fieldValidation`), server-owned metadata, defaulting, mutating admission,
//! validation (metadata, kind rules, CRD schema), validating admission, managed fields,
//! no-op detection, commit.

use std::sync::Arc;

use axum::body::Body;
use http::{HeaderMap, Response};
use kube_apimachinery::field_error::FieldError;
use kube_apimachinery::registry::{GroupResource, Origin, ResourceType};
use kube_apimachinery::validation::{self, NameRule};
use serde_json::{Value, json};

use crate::Inner;
use crate::extension::{AdmissionRequest, ObjectReader, Operation};
use crate::http::{Params, Target};
use crate::meta::{finalizers, meta_mut, meta_str, now};
use crate::read::canonical_order;
use crate::status::{ApiError, success_status};
use crate::store::{ObjectKey, State, StoredObject};

/// How unknown fields are treated (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldValidation {
    Strict,
    Warn,
    Ignore,
}

/// The options every write carries.
#[derive(Debug, Clone)]
pub(crate) struct WriteOptions {
    pub dry_run: bool,
    pub field_manager: Option<String>,
    pub field_validation: FieldValidation,
    pub force: Option<bool>,
    pub user_agent: Option<String>,
}

impl WriteOptions {
    pub fn from_params(params: &Params, user_agent: Option<String>) -> Result<Self, ApiError> {
        let field_validation = match params.field_validation.as_deref().unwrap_or("") {
            "Strict" => FieldValidation::Strict,
            "Warn" | "" => FieldValidation::Warn,
            "Ignore" => FieldValidation::Ignore,
            other => {
                return Err(ApiError::bad_request(format!(
                    "fieldValidation: Unsupported value: {other:?}: supported values: \"Ignore\", \"Strict\", \"Warn\""
                )));
            }
        };
        if let Some(manager) = &params.field_manager
            && manager.len() > 128
        {
            return Err(ApiError::invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                &[FieldError::too_long("fieldManager", 128)],
            ));
        }
        Ok(WriteOptions {
            dry_run: params.dry_run,
            field_manager: params.field_manager.clone(),
            field_validation,
            force: params.force,
            user_agent,
        })
    }

    /// Options for writes made through the handle (seeding, CRD loading).
    pub fn internal(manager: &str) -> Self {
        WriteOptions {
            dry_run: false,
            field_manager: Some(manager.to_string()),
            field_validation: FieldValidation::Strict,
            force: Some(true),
            user_agent: None,
        }
    }

    /// The field manager: the parameter, or the user agent's first word, as kube does.
    pub fn manager(&self) -> String {
        if let Some(manager) = self.field_manager.as_deref().filter(|m| !m.is_empty()) {
            return manager.to_string();
        }
        self.user_agent
            .as_deref()
            .and_then(|ua| ua.split('/').next())
            .filter(|m| !m.is_empty())
            .unwrap_or("unknown")
            .to_string()
    }
}

/// `DeleteOptions` from the body and query.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeleteOptions {
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
}

impl DeleteOptions {
    pub fn parse(_headers: &HeaderMap, body: &[u8], params: &Params) -> Result<Self, ApiError> {
        let mut options = DeleteOptions {
            dry_run: params.dry_run,
            ..DeleteOptions::default()
        };
        let mut propagation = params.propagation_policy.clone();
        if !body.iter().all(u8::is_ascii_whitespace) {
            let value: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))?;
            if !value.is_object() {
                return Err(ApiError::bad_request("DeleteOptions must be an object"));
            }
            options.precondition_uid = value
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(str::to_string);
            options.precondition_rv = value
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string);
            if let Some(dry_run) = value.get("dryRun").and_then(Value::as_array) {
                options.dry_run |= dry_run.iter().any(|v| v == "All");
            }
            if let Some(policy) = value.get("propagationPolicy").and_then(Value::as_str) {
                propagation = Some(policy.to_string());
            }
            if let Some(grace) = value.get("gracePeriodSeconds")
                && !grace.is_null()
                && !grace.is_i64()
            {
                return Err(ApiError::bad_request(
                    "gracePeriodSeconds must be an integer",
                ));
            }
        }
        if let Some(policy) = propagation.as_deref()
            && !["Orphan", "Background", "Foreground"].contains(&policy)
        {
            return Err(ApiError::invalid(
                "DeleteOptions",
                "meta.k8s.io",
                "",
                &[FieldError::not_supported(
                    "propagationPolicy",
                    json!(policy),
                    &["Foreground", "Background", "Orphan", "nil"],
                )],
            ));
        }
        Ok(options)
    }
}

/// The body a write answers with.
#[derive(Debug)]
pub(crate) enum Answer {
    /// A committed (or unchanged) stored object: served from its bytes.
    Stored(Arc<StoredObject>),
    /// An object that was not stored (dry run), in the served version.
    Object(Value),
    /// A `Status` (deletes of kinds that do not return the object).
    Status(Value),
}

impl Answer {
    /// The answer as a value in the form `rt` serves.
    pub fn into_value(self, rt: &ResourceType) -> Value {
        match self {
            Answer::Stored(stored) => crate::convert::served_value(&stored, rt),
            Answer::Object(value) | Answer::Status(value) => value,
        }
    }
}

/// What a write answers with.
#[derive(Debug)]
pub(crate) struct WriteOutcome {
    pub code: u16,
    pub body: Answer,
    pub warnings: Vec<String>,
}

impl WriteOutcome {
    pub fn into_response(
        self,
        inner: &Arc<Inner>,
        target: &Target,
        accept: &str,
    ) -> Response<Body> {
        let object = match self.body {
            Answer::Stored(stored) => Some(crate::convert::render(&stored, &target.rt)),
            Answer::Object(value) => Some(bytes::Bytes::from(
                serde_json::to_vec(&value).unwrap_or_default(),
            )),
            Answer::Status(status) => {
                let mut response = crate::http::value_response(self.code, &status);
                crate::http::add_warnings(&mut response, &self.warnings);
                return response;
            }
        };
        let mut response = match object {
            Some(body) => {
                crate::output::respond_object(inner, &target.rt, body, accept, None, self.code)
                    .unwrap_or_else(|e| crate::http::error_response(&e))
            }
            None => crate::http::error_response(&ApiError::internal("no answer")),
        };
        crate::http::add_warnings(&mut response, &self.warnings);
        response
    }
}

/// The state and request of one write.
struct Write<'a> {
    inner: &'a Inner,
    rt: &'a Arc<ResourceType>,
    /// The served group/resource (what kind of object this is).
    gr: GroupResource,
    /// Where its objects are stored.
    storage_gr: GroupResource,
    options: &'a WriteOptions,
    warnings: Vec<String>,
}

/// A prepared update, waiting for its commit.
enum Prepared {
    /// Nothing changes: no write.
    Unchanged,
    /// A dry run: the object that would be stored.
    DryRun(Value),
    /// The last finalizer went away from a deleting object: remove it.
    Remove(Value),
    /// Store the new object.
    Store(Value),
}

/// How often an update is rebuilt when concurrent writes keep changing the object.
const MAX_UPDATE_ATTEMPTS: usize = 64;

/// Read access for admission plugins.
struct StateReader<'a>(&'a State);

impl ObjectReader for StateReader<'_> {
    fn get(&self, group: &str, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        let gr = GroupResource {
            group: group.to_string(),
            resource: resource.to_string(),
        };
        self.0
            .get(&gr, &ObjectKey::new(namespace, name))
            .map(|o| o.value())
    }

    fn list(&self, group: &str, resource: &str, namespace: Option<&str>) -> Vec<Value> {
        let gr = GroupResource {
            group: group.to_string(),
            resource: resource.to_string(),
        };
        self.0
            .resource(&gr)
            .map(|store| {
                store
                    .range(namespace, None)
                    .map(|(_, o)| o.value())
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn name_rule(rt: &ResourceType) -> NameRule {
    NameRule::for_kind(&rt.group, &rt.kind)
}

/// Checks `apiVersion`/`kind` of a body against the URL (filling them in when absent).
fn check_type_meta(rt: &ResourceType, object: &mut Value) -> Result<(), ApiError> {
    if !object.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON or YAML object",
        ));
    }
    let expected = rt.api_version();
    match object.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => object["apiVersion"] = json!(expected),
        Some(given) if given == expected => {}
        Some(given) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({given}) does not match the expected API version ({expected})"
            )));
        }
    }
    match object.get("kind").and_then(Value::as_str) {
        None | Some("") => object["kind"] = json!(rt.kind),
        Some(given) if given == rt.kind => {}
        Some(given) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({given}) does not match the expected kind ({})",
                rt.kind
            )));
        }
    }
    if let Some(problem) = object
        .get("metadata")
        .and_then(validation::metadata_shape_error)
    {
        return Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: {problem}",
            rt.kind, rt.version, rt.kind
        )));
    }
    Ok(())
}

/// Checks the body's namespace against the path and fills it in.
fn check_namespace(target: &Target, object: &mut Value) -> Result<(), ApiError> {
    let given = meta_str(object, "namespace").to_string();
    if target.rt.namespaced {
        let path_ns = target.namespace.clone().unwrap_or_default();
        if !given.is_empty() && given != path_ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        meta_mut(object).insert("namespace".into(), json!(path_ns));
    } else {
        meta_mut(object).remove("namespace");
    }
    Ok(())
}

fn check_name(target: &Target, object: &Value) -> Result<(), ApiError> {
    let url_name = target.name.as_deref().unwrap_or("");
    let given = meta_str(object, "name");
    if given.is_empty() {
        return Ok(());
    }
    if given != url_name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({given}) does not match the name on the URL ({url_name})"
        )));
    }
    Ok(())
}

impl<'a> Write<'a> {
    fn new(inner: &'a Inner, rt: &'a Arc<ResourceType>, options: &'a WriteOptions) -> Self {
        Write {
            inner,
            rt,
            gr: rt.group_resource(),
            storage_gr: crate::convert::storage_resource(rt),
            options,
            warnings: Vec::new(),
        }
    }

    fn is_custom(&self) -> bool {
        matches!(self.rt.origin, Origin::Crd { .. })
    }

    fn cannot_handle(&self, detail: &str) -> ApiError {
        ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: {detail}",
            self.rt.kind, self.rt.version, self.rt.kind
        ))
    }

    /// Decodes the object as the real server does: built-ins through their types, custom
    /// resources through their schema (pruning); unknown fields per `fieldValidation`.
    fn decode(&mut self, object: Value) -> Result<Value, ApiError> {
        let (decoded, unknown) = match crate::builtin::decode(&self.gr, &object) {
            Some(Ok(decoded)) => (decoded.object, decoded.unknown_fields),
            Some(Err(message)) => return Err(self.cannot_handle(&message)),
            None => crate::schema::prune(self.inner, self.rt, object),
        };
        if !unknown.is_empty() {
            match self.options.field_validation {
                FieldValidation::Strict => {
                    let list: Vec<String> = unknown
                        .iter()
                        .map(|path| format!("unknown field \"{path}\""))
                        .collect();
                    return Err(
                        self.cannot_handle(&format!("strict decoding error: {}", list.join(", ")))
                    );
                }
                FieldValidation::Warn => self.warnings.extend(
                    unknown
                        .iter()
                        .map(|path| format!("unknown field \"{path}\"")),
                ),
                FieldValidation::Ignore => {}
            }
        }
        Ok(decoded)
    }

    fn admission(
        &self,
        state: Option<&State>,
        operation: Operation,
        subresource: Option<&str>,
        object: Option<&mut Value>,
        old: Option<&Value>,
        mutate: bool,
    ) -> Result<(), ApiError> {
        let plugins: Vec<_> = self
            .inner
            .admission
            .read()
            .iter()
            .filter(|p| p.handles(self.rt, operation, subresource))
            .cloned()
            .collect();
        if plugins.is_empty() {
            return Ok(());
        }
        // Writes prepared outside the store lock read the store here.
        let guard;
        let state = match state {
            Some(state) => state,
            None => {
                guard = self.inner.state.read();
                &*guard
            }
        };
        let mut object = object;
        for plugin in &plugins {
            let namespace = object
                .as_deref()
                .or(old)
                .map(|o| meta_str(o, "namespace").to_string())
                .unwrap_or_default();
            let name = object
                .as_deref()
                .or(old)
                .map(|o| meta_str(o, "name").to_string())
                .unwrap_or_default();
            let reader = StateReader(state);
            let mut request = AdmissionRequest {
                operation,
                resource: self.rt,
                subresource,
                namespace: &namespace,
                name: &name,
                object: object.as_deref_mut(),
                old_object: old,
                dry_run: self.options.dry_run,
                store: &reader,
            };
            let result = if mutate {
                plugin.mutate(&mut request)
            } else {
                plugin.validate(&request)
            };
            if let Err(denial) = result {
                let denied_by =
                    format!("admission webhook \"{}\" denied the request", plugin.name());
                let message = if denial.message.is_empty() {
                    format!("{denied_by} without explanation")
                } else {
                    format!("{denied_by}: {}", denial.message)
                };
                return Err(ApiError::new(denial.code.max(400), &denial.reason, message));
            }
        }
        Ok(())
    }

    /// Validation of a candidate object: metadata, kind rules, CRD schema.
    fn validate(&self, object: &mut Value, old: Option<&Value>) -> Result<(), ApiError> {
        let null = Value::Null;
        let mut errors = {
            let metadata = object.get("metadata").unwrap_or(&null);
            match old {
                None => validation::validate_object_meta(
                    metadata,
                    self.rt.namespaced,
                    name_rule(self.rt),
                ),
                Some(old) => validation::validate_object_meta_update(
                    metadata,
                    old.get("metadata").unwrap_or(&null),
                ),
            }
        };
        errors.extend(crate::builtin::validate(&self.gr, object));
        if crate::crd::is_crd(&self.gr) {
            errors.extend(crate::crd::validate(object));
        }
        errors.extend(crate::schema::validate(self.inner, self.rt, object));
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(
                &self.rt.kind,
                &self.rt.group,
                meta_str(object, "name"),
                &errors,
            ))
        }
    }

    /// The namespace admission (`NamespaceLifecycle`): 404 for a missing namespace, 403
    /// for a terminating one.
    fn check_namespace_lifecycle(&self, state: &State, object: &Value) -> Result<(), ApiError> {
        if !self.rt.namespaced {
            return Ok(());
        }
        let namespace = meta_str(object, "namespace");
        let ns_key = ObjectKey::new("", namespace);
        match state.get(&namespaces(), &ns_key) {
            None => Err(ApiError::not_found("", "namespaces", namespace)),
            Some(ns) => {
                let ns = ns.value();
                if crate::meta::has_meta(&ns, "deletionTimestamp") {
                    let name = meta_str(object, "name");
                    Err(ApiError::forbidden(format!(
                        "{} \"{name}\" is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
                        crate::status::qualified_resource(&self.rt.group, &self.rt.plural)
                    ))
                    .with_details(json!({
                        "name": name,
                        "kind": self.rt.plural,
                        "causes": [{
                            "reason": "NamespaceTerminating",
                            "message": format!("namespace {namespace} is being terminated"),
                            "field": "metadata.namespace"
                        }]
                    })))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Instances of a terminating CRD cannot be created.
    fn check_crd_not_terminating(&self, state: &State) -> Result<(), ApiError> {
        let Origin::Crd { crd_name } = &self.rt.origin else {
            return Ok(());
        };
        let terminating = state
            .get(&crate::crd::crds(), &ObjectKey::new("", crd_name))
            .is_some_and(|crd| crate::meta::has_meta(&crd.value(), "deletionTimestamp"));
        if terminating {
            return Err(ApiError::new(
                405,
                "MethodNotAllowed",
                "create not allowed while custom resource definition is terminating",
            ));
        }
        Ok(())
    }

    fn tracks_generation(&self) -> bool {
        self.is_custom() || crate::builtin::tracks_generation(&self.gr)
    }

    /// Puts the object in storage form: storage apiVersion, canonical key order.
    fn storage_form(&self, state: &State, object: Value) -> Value {
        let storage_version = state
            .registry
            .storage_type(&self.gr)
            .map(|storage| storage.api_version())
            .unwrap_or_else(|| self.rt.api_version());
        canonical_order(crate::convert::to_storage(
            object,
            self.rt,
            &storage_version,
        ))
    }

    /// The object as answered (served version).
    fn served_form(&self, stored: &StoredObject) -> Value {
        crate::convert::served_value(stored, self.rt)
    }

    /// Creates `object` (already decoded, namespace set): prepared without the store
    /// lock, committed under it.
    fn create(&mut self, object: Value, apply_fields: bool) -> Result<Answer, ApiError> {
        let object = self.prepare_create(object, apply_fields)?;
        let mut state = self.inner.state.write();
        self.commit_create(&mut state, object)
    }

    /// The part of a create that needs no lock: name generation, server-owned metadata,
    /// defaults, admission, validation, managed fields.
    fn prepare_create(&mut self, mut object: Value, apply_fields: bool) -> Result<Value, ApiError> {
        let name = meta_str(&object, "name").to_string();
        let generate = meta_str(&object, "generateName").to_string();
        if name.is_empty() && !generate.is_empty() {
            let name = validation::generate_name(&generate, &crate::meta::random_suffix());
            meta_mut(&mut object).insert("name".into(), json!(name));
        }
        if !meta_str(&object, "resourceVersion").is_empty() {
            return Err(ApiError::bad_request(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        {
            // Namespace admission comes before validation, as in kube-apiserver.
            let state = self.inner.state.read();
            self.check_namespace_lifecycle(&state, &object)?;
            self.check_crd_not_terminating(&state)?;
        }
        {
            let meta = meta_mut(&mut object);
            for key in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "selfLink",
            ] {
                meta.remove(key);
            }
            meta.insert("uid".into(), json!(crate::meta::new_uid()));
            meta.insert("creationTimestamp".into(), json!(now()));
        }
        if self.tracks_generation() {
            meta_mut(&mut object).insert("generation".into(), json!(1));
        }
        if self.rt.subresources.status
            && !crate::builtin::keeps_status_on_create(&self.gr)
            && let Some(map) = object.as_object_mut()
        {
            map.remove("status");
        }
        crate::builtin::default_on_write(&self.gr, &mut object);
        if crate::crd::is_crd(&self.gr) {
            crate::crd::prepare_create(&mut object);
        }
        self.admission(None, Operation::Create, None, Some(&mut object), None, true)?;
        check_type_meta(self.rt, &mut object)?;
        self.validate(&mut object, None)?;
        self.admission(
            None,
            Operation::Create,
            None,
            Some(&mut object),
            None,
            false,
        )?;
        if !apply_fields {
            crate::fieldmgr::record_update(
                self.inner,
                self.rt,
                None,
                &mut object,
                &self.options.manager(),
                None,
            );
        }
        Ok(object)
    }

    /// The part of a create done under the store lock: namespace and uniqueness checks,
    /// Service allocations, storage.
    fn commit_create(&self, state: &mut State, mut object: Value) -> Result<Answer, ApiError> {
        self.check_namespace_lifecycle(state, &object)?;
        self.check_crd_not_terminating(state)?;
        let name = meta_str(&object, "name").to_string();
        let key = ObjectKey::new(meta_str(&object, "namespace"), &name);
        if state.get(&self.storage_gr, &key).is_some() {
            return Err(ApiError::already_exists(
                &self.rt.group,
                &self.rt.plural,
                &name,
            ));
        }
        let errors =
            crate::builtin::default_on_create(&self.gr, &mut object, &mut state.allocations);
        if !errors.is_empty() {
            crate::builtin::release(&self.gr, &object, &mut state.allocations);
            return Err(ApiError::invalid(
                &self.rt.kind,
                &self.rt.group,
                &name,
                &errors,
            ));
        }
        if self.options.dry_run {
            crate::builtin::release(&self.gr, &object, &mut state.allocations);
            return Ok(Answer::Object(object));
        }
        let stored = state.put(&self.storage_gr, self.storage_form(state, object));
        self.after_commit(state, &stored);
        Ok(Answer::Stored(stored))
    }

    /// Side effects of a committed create or update.
    fn after_commit(&self, state: &mut State, stored: &Arc<StoredObject>) {
        if crate::crd::is_crd(&self.gr) {
            crate::crd::register(state, &stored.value());
            self.inner.schemas.clear();
        }
        if self.gr == namespaces() && self.inner.options.default_service_accounts {
            create_default_service_account(state, &stored.key.name);
        }
    }

    /// The part of an update of `old` to `new` (decoded) that needs no lock:
    /// preconditions, server-owned fields, defaults, admission, generation, validation,
    /// managed fields. `subresource` is `status` or `finalize` for those writes;
    /// `fields_done` when managed fields were computed by apply.
    fn prepare_update(
        &self,
        old_stored: &Arc<StoredObject>,
        old: &Value,
        mut new: Value,
        subresource: Option<&str>,
        fields_done: bool,
    ) -> Result<Prepared, ApiError> {
        let name = old_stored.key.name.to_string();
        let old_rv = meta_str(old, "resourceVersion").to_string();
        // Preconditions.
        let given_rv = meta_str(&new, "resourceVersion").to_string();
        if given_rv.is_empty() {
            if self.is_custom() && !fields_done {
                return Err(ApiError::invalid(
                    &self.rt.kind,
                    &self.rt.group,
                    &name,
                    &[FieldError::invalid(
                        "metadata.resourceVersion",
                        json!("0x0"),
                        "must be specified for an update",
                    )],
                ));
            }
        } else if given_rv != old_rv {
            return Err(ApiError::stale(&self.rt.group, &self.rt.plural, &name));
        }
        let given_uid = meta_str(&new, "uid").to_string();
        let old_uid = meta_str(old, "uid").to_string();
        if !given_uid.is_empty() && given_uid != old_uid {
            return Err(ApiError::conflict(
                &self.rt.group,
                &self.rt.plural,
                &name,
                &format!(
                    "Precondition failed: UID in precondition: {given_uid}, UID in object meta: {old_uid}"
                ),
            ));
        }
        // Server-owned metadata comes from the stored object.
        {
            let old_meta = old.get("metadata").cloned().unwrap_or_else(|| json!({}));
            let meta = meta_mut(&mut new);
            meta.insert("resourceVersion".into(), json!(old_rv));
            for key in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ] {
                match old_meta.get(key) {
                    Some(value) => meta.insert(key.into(), value.clone()),
                    None => meta.remove(key),
                };
            }
            meta.remove("selfLink");
            if !meta.contains_key("managedFields")
                && let Some(fields) = old_meta.get("managedFields")
            {
                meta.insert("managedFields".into(), fields.clone());
            }
        }
        match subresource {
            Some("status") => {
                // Only the status changes (and managed fields).
                let mut result = old.clone();
                match new.get("status") {
                    Some(status) => result["status"] = status.clone(),
                    None => {
                        if let Some(map) = result.as_object_mut() {
                            map.remove("status");
                        }
                    }
                }
                if let Some(fields) = new.pointer("/metadata/managedFields") {
                    meta_mut(&mut result).insert("managedFields".into(), fields.clone());
                }
                new = result;
            }
            Some("finalize") => {
                let mut result = old.clone();
                let finalizers = new
                    .pointer("/spec/finalizers")
                    .cloned()
                    .unwrap_or_else(|| json!([]));
                result["spec"]["finalizers"] = finalizers;
                new = result;
            }
            _ => {
                if self.rt.subresources.status {
                    match old.get("status") {
                        Some(status) => new["status"] = status.clone(),
                        None => {
                            if let Some(map) = new.as_object_mut() {
                                map.remove("status");
                            }
                        }
                    }
                }
            }
        }
        crate::builtin::default_on_write(&self.gr, &mut new);
        let carry_errors = crate::builtin::carry_over_on_update(&self.gr, old, &mut new);
        if !carry_errors.is_empty() {
            return Err(ApiError::invalid(
                &self.rt.kind,
                &self.rt.group,
                &name,
                &carry_errors,
            ));
        }
        if crate::crd::is_crd(&self.gr) {
            crate::crd::prepare_update(old, &mut new);
        }
        let operation = Operation::Update;
        self.admission(
            None,
            operation,
            subresource,
            Some(&mut new),
            Some(old),
            true,
        )?;
        check_type_meta(self.rt, &mut new)?;
        if subresource.is_none() && self.tracks_generation() {
            let ignore_status = self.rt.subresources.status;
            if crate::meta::spec_changed(old, &new, ignore_status) {
                let generation = old
                    .pointer("/metadata/generation")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                meta_mut(&mut new).insert("generation".into(), json!(generation + 1));
            }
        }
        self.validate(&mut new, Some(old))?;
        self.admission(
            None,
            operation,
            subresource,
            Some(&mut new),
            Some(old),
            false,
        )?;
        if !fields_done {
            crate::fieldmgr::record_update(
                self.inner,
                self.rt,
                Some(old),
                &mut new,
                &self.options.manager(),
                subresource,
            );
        }
        // Finalization: a deleting object whose last finalizer went away is removed.
        let deleting = crate::meta::has_meta(&new, "deletionTimestamp");
        if deleting && finalizers(&new).is_empty() && !self.is_namespace_with_spec_finalizers(&new)
        {
            if self.options.dry_run {
                return Ok(Prepared::DryRun(new));
            }
            return Ok(Prepared::Remove(new));
        }
        if equal_ignoring_resource_version(old, &new) {
            return Ok(Prepared::Unchanged);
        }
        if self.options.dry_run {
            return Ok(Prepared::DryRun(new));
        }
        Ok(Prepared::Store(new))
    }

    /// Commits a prepared update under the store lock.
    fn commit_update(
        &self,
        state: &mut State,
        old_stored: &Arc<StoredObject>,
        prepared: Prepared,
    ) -> (u16, Answer) {
        match prepared {
            Prepared::Unchanged => (200, Answer::Stored(old_stored.clone())),
            Prepared::DryRun(new) => (200, Answer::Object(new)),
            Prepared::Remove(new) => {
                let key = old_stored.key.clone();
                let last = self.storage_form(state, new);
                match remove_object(self.inner, state, &self.storage_gr, &key, last) {
                    Some(removed) => (200, Answer::Stored(removed)),
                    None => (200, Answer::Stored(old_stored.clone())),
                }
            }
            Prepared::Store(new) => {
                let terminating_namespace =
                    self.gr == namespaces() && crate::meta::has_meta(&new, "deletionTimestamp");
                let stored = state.put(&self.storage_gr, self.storage_form(state, new));
                self.after_commit(state, &stored);
                if terminating_namespace {
                    try_finalize_namespace(self.inner, state, &stored.key.name);
                }
                let current = state.get(&self.storage_gr, &stored.key).unwrap_or(stored);
                (200, Answer::Stored(current))
            }
        }
    }

    /// Updates the object at `key` with optimistic concurrency: `build` turns the
    /// current object (served form) into the new one without the store lock; the result
    /// is committed only if nobody wrote the object meanwhile (else `build` runs again on
    /// the newer object, as kube-apiserver's `GuaranteedUpdate` does). `None` when the
    /// object does not exist.
    fn update_with<F>(
        &mut self,
        key: &ObjectKey,
        subresource: Option<&str>,
        fields_done: bool,
        mut build: F,
    ) -> Result<Option<(u16, Answer)>, ApiError>
    where
        F: FnMut(&mut Self, &Value) -> Result<Value, ApiError>,
    {
        let warnings = self.warnings.len();
        for _ in 0..MAX_UPDATE_ATTEMPTS {
            let Some(old_stored) = self.inner.state.read().get(&self.storage_gr, key) else {
                return Ok(None);
            };
            let old = self.served_form(&old_stored);
            self.warnings.truncate(warnings);
            let new = build(self, &old)?;
            let prepared = self.prepare_update(&old_stored, &old, new, subresource, fields_done)?;
            let mut state = self.inner.state.write();
            match state.get(&self.storage_gr, key) {
                Some(current) if Arc::ptr_eq(&current, &old_stored) => {
                    return Ok(Some(self.commit_update(&mut state, &old_stored, prepared)));
                }
                _ => continue,
            }
        }
        Err(ApiError::conflict(
            &self.rt.group,
            &self.rt.plural,
            &key.name,
            "the object is being modified too often; please try again",
        ))
    }

    fn is_namespace_with_spec_finalizers(&self, object: &Value) -> bool {
        self.gr == namespaces()
            && object
                .pointer("/spec/finalizers")
                .and_then(Value::as_array)
                .is_some_and(|f| !f.is_empty())
    }
}

/// Whether two objects are equal apart from `metadata.resourceVersion` (the test for a
/// no-op write).
fn equal_ignoring_resource_version(a: &Value, b: &Value) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    if a.len() != b.len() {
        return false;
    }
    a.iter().all(|(key, value)| match b.get(key) {
        None => false,
        Some(other) if key == "metadata" => {
            let (Some(x), Some(y)) = (value.as_object(), other.as_object()) else {
                return value == other;
            };
            let relevant = |map: &serde_json::Map<String, Value>| {
                map.iter().filter(|(k, _)| *k != "resourceVersion").count()
            };
            relevant(x) == relevant(y)
                && x.iter()
                    .filter(|(k, _)| *k != "resourceVersion")
                    .all(|(k, v)| y.get(k) == Some(v))
        }
        Some(other) => value == other,
    })
}

pub(crate) fn namespaces() -> GroupResource {
    GroupResource {
        group: String::new(),
        resource: "namespaces".into(),
    }
}

fn service_accounts() -> GroupResource {
    GroupResource {
        group: String::new(),
        resource: "serviceaccounts".into(),
    }
}

/// The ServiceAccount controller's `default` account of a new namespace.
fn create_default_service_account(state: &mut State, namespace: &str) {
    let key = ObjectKey::new(namespace, "default");
    if state.get(&service_accounts(), &key).is_some() {
        return;
    }
    let account = json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": "default",
            "namespace": namespace,
            "uid": crate::meta::new_uid(),
            "creationTimestamp": now(),
        }
    });
    state.put(&service_accounts(), account);
}

/// `POST` of a collection.
pub(crate) fn create(
    inner: &Inner,
    target: &Target,
    mut object: Value,
    options: &WriteOptions,
) -> Result<WriteOutcome, ApiError> {
    check_type_meta(&target.rt, &mut object)?;
    check_namespace(target, &mut object)?;
    let mut write = Write::new(inner, &target.rt, options);
    let object = write.decode(object)?;
    let created = write.create(object, false)?;
    Ok(WriteOutcome {
        code: 201,
        body: created,
        warnings: write.warnings,
    })
}

/// `PUT` of an object (or of its `status`/`finalize` subresource).
pub(crate) fn update(
    inner: &Inner,
    target: &Target,
    mut object: Value,
    options: &WriteOptions,
) -> Result<WriteOutcome, ApiError> {
    check_type_meta(&target.rt, &mut object)?;
    check_name(target, &object)?;
    check_namespace(target, &mut object)?;
    let name = target.name.clone().unwrap_or_default();
    meta_mut(&mut object).insert("name".into(), json!(name));
    let mut write = Write::new(inner, &target.rt, options);
    let object = write.decode(object)?;
    let key = ObjectKey::new(target.namespace.as_deref().unwrap_or(""), &name);
    let subresource = target.subresource.as_deref();
    let updated = write.update_with(&key, subresource, false, |_, _| Ok(object.clone()))?;
    let Some((code, body)) = updated else {
        if subresource.is_none() && crate::builtin::allows_create_on_update(&write.gr) {
            let mut object = object;
            meta_mut(&mut object).remove("resourceVersion");
            let created = write.create(object, false)?;
            return Ok(WriteOutcome {
                code: 201,
                body: created,
                warnings: write.warnings,
            });
        }
        return Err(ApiError::not_found(
            &target.rt.group,
            &target.rt.plural,
            &name,
        ));
    };
    Ok(WriteOutcome {
        code,
        body,
        warnings: write.warnings,
    })
}

/// The non-apply patch types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchKind {
    Merge,
    Json,
    Strategic,
}

/// `PATCH` of an object (or its status) with a merge, JSON or strategic merge patch.
pub(crate) fn patch(
    inner: &Inner,
    target: &Target,
    patch_type: PatchKind,
    body: &[u8],
    options: &WriteOptions,
) -> Result<WriteOutcome, ApiError> {
    let rt = &target.rt;
    let custom = matches!(rt.origin, Origin::Crd { .. });
    if patch_type == PatchKind::Strategic && custom {
        return Err(ApiError::unsupported_media_type(
            "the body of the request was in an unknown format - accepted media types include: \
             application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
        ));
    }
    if options.force.is_some() {
        return Err(ApiError::invalid(
            "PatchOptions",
            "meta.k8s.io",
            "",
            &[FieldError::forbidden(
                "force",
                "may not be specified for non-apply patch",
            )],
        ));
    }
    let name = target.name.clone().unwrap_or_default();
    let namespace = target.namespace.clone().unwrap_or_default();
    let mut write = Write::new(inner, rt, options);
    let patch_body: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    let key = ObjectKey::new(&namespace, &name);
    let updated = write.update_with(&key, target.subresource.as_deref(), false, |write, current| {
        let mut patched = match patch_type {
            PatchKind::Merge => crate::patching::merge(current, &patch_body)?,
            PatchKind::Json => crate::patching::json_patch(current, &patch_body)?,
            PatchKind::Strategic => crate::patching::strategic(rt, current, &patch_body)?,
        };
        check_type_meta(rt, &mut patched)?;
        check_name(target, &patched)?;
        if meta_str(&patched, "namespace") != namespace && rt.namespaced {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        write.decode(patched)
    })?;
    let (code, body) = updated.ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, &name))?;
    Ok(WriteOutcome {
        code,
        body,
        warnings: write.warnings,
    })
}

/// Server-side apply (`application/apply-patch+yaml`).
pub(crate) fn apply(
    inner: &Inner,
    target: &Target,
    headers: &HeaderMap,
    body: &[u8],
    options: &WriteOptions,
) -> Result<WriteOutcome, ApiError> {
    let rt = &target.rt;
    let Some(manager) = options.field_manager.clone().filter(|m| !m.is_empty()) else {
        return Err(ApiError::invalid(
            "PatchOptions",
            "meta.k8s.io",
            "",
            &[FieldError::required(
                "fieldManager",
                "is required for apply patch",
            )],
        ));
    };
    let mut applied = crate::http::decode_body(headers, body)?;
    if !applied.is_object() {
        return Err(ApiError::bad_request(
            "the apply configuration must be an object",
        ));
    }
    // An applied configuration must name its type (kube rejects it otherwise).
    for field in ["apiVersion", "kind"] {
        if applied
            .get(field)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(ApiError::bad_request(format!(
                "error decoding YAML: Object '{}' is missing in '{}'",
                if field == "kind" {
                    "Kind"
                } else {
                    "apiVersion"
                },
                String::from_utf8_lossy(body)
            )));
        }
    }
    check_type_meta(rt, &mut applied)?;
    check_name(target, &applied)?;
    let name = target.name.clone().unwrap_or_default();
    meta_mut(&mut applied).insert("name".into(), json!(name));
    check_namespace(target, &mut applied)?;
    let mut write = Write::new(inner, rt, options);
    let applied = write.decode(applied)?;
    let force = options.force.unwrap_or(false);
    let key = ObjectKey::new(target.namespace.as_deref().unwrap_or(""), &name);
    let subresource = target.subresource.as_deref();
    let updated = write.update_with(&key, subresource, true, |_, live| {
        let given_rv = meta_str(&applied, "resourceVersion");
        if !given_rv.is_empty() && given_rv != meta_str(live, "resourceVersion") {
            return Err(ApiError::stale(&rt.group, &rt.plural, &name));
        }
        crate::fieldmgr::apply(
            inner,
            rt,
            Some(live),
            &applied,
            &manager,
            force,
            subresource,
        )
    })?;
    if let Some((code, body)) = updated {
        return Ok(WriteOutcome {
            code,
            body,
            warnings: write.warnings,
        });
    }
    if subresource.is_some() {
        return Err(ApiError::not_found(&rt.group, &rt.plural, &name));
    }
    let object = crate::fieldmgr::apply(inner, rt, None, &applied, &manager, force, None)?;
    let created = write.create(object, true)?;
    Ok(WriteOutcome {
        code: 201,
        body: created,
        warnings: write.warnings,
    })
}

/// What deleting one object did.
enum Deleted {
    /// Removed; the final state.
    Gone(Arc<StoredObject>),
    /// Marked for deletion (finalizers remain); the updated state.
    Pending(Arc<StoredObject>),
}

/// Kinds whose DELETE answers with the deleted object rather than a `Status`.
fn returns_deleted_object(gr: &GroupResource, custom: bool) -> bool {
    custom
        || (gr.group.is_empty()
            && matches!(gr.resource.as_str(), "pods" | "namespaces" | "services"))
}

/// Removes an object for good and runs what follows a removal: releasing Service
/// allocations, finishing a terminating namespace or CRD.
fn remove_object(
    inner: &Inner,
    state: &mut State,
    gr: &GroupResource,
    key: &ObjectKey,
    last: Value,
) -> Option<Arc<StoredObject>> {
    crate::builtin::release(gr, &last, &mut state.allocations);
    let removed = state.remove(gr, key, last)?;
    if crate::crd::is_crd(gr) {
        crate::crd::unregister(state, &removed.value());
        inner.schemas.clear();
    }
    if !key.namespace.is_empty() {
        try_finalize_namespace(inner, state, &key.namespace);
    }
    if let Some(crd_name) = crate::crd::crd_name_of(state, gr) {
        try_finalize_crd(inner, state, &crd_name);
    }
    Some(removed)
}

/// Starts deleting one object: removed at once without finalizers, else marked with
/// `deletionTimestamp`.
fn delete_object(
    inner: &Inner,
    state: &mut State,
    gr: &GroupResource,
    stored: &Arc<StoredObject>,
) -> Deleted {
    let mut object = stored.value();
    let is_namespace = *gr == namespaces();
    let has_spec_finalizers = is_namespace
        && object
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
    let is_crd = crate::crd::is_crd(gr);
    if finalizers(&object).is_empty() && !has_spec_finalizers {
        return match remove_object(inner, state, gr, &stored.key, object) {
            Some(gone) => Deleted::Gone(gone),
            None => Deleted::Gone(stored.clone()),
        };
    }
    if crate::meta::has_meta(&object, "deletionTimestamp") {
        return Deleted::Pending(stored.clone());
    }
    {
        let meta = meta_mut(&mut object);
        meta.insert("deletionTimestamp".into(), json!(now()));
        meta.insert("deletionGracePeriodSeconds".into(), json!(0));
    }
    if is_namespace {
        object["status"]["phase"] = json!("Terminating");
    }
    if is_crd {
        crate::crd::mark_terminating(&mut object);
    }
    let updated = state.put(gr, object);
    if is_namespace {
        terminate_namespace(inner, state, &stored.key.name);
    }
    if is_crd {
        terminate_crd(inner, state, &stored.key.name);
    }
    let current = state.get(gr, &stored.key);
    match current {
        Some(current) => Deleted::Pending(current),
        None => Deleted::Gone(updated),
    }
}

/// The namespace controller: delete everything in a terminating namespace.
fn terminate_namespace(inner: &Inner, state: &mut State, namespace: &str) {
    let mut victims: Vec<(GroupResource, Arc<StoredObject>)> = Vec::new();
    for (gr, store) in state.resources() {
        if *gr == namespaces() {
            continue;
        }
        for (_, object) in store.range(Some(namespace), None) {
            victims.push((gr.clone(), object.clone()));
        }
    }
    for (gr, object) in victims {
        if let Some(current) = state.get(&gr, &object.key) {
            delete_object(inner, state, &gr, &current);
        }
    }
    try_finalize_namespace(inner, state, namespace);
}

/// Finishes a terminating namespace once it is empty: its `kubernetes` finalizer is
/// removed (MODIFIED), then the namespace itself (DELETED).
fn try_finalize_namespace(inner: &Inner, state: &mut State, namespace: &str) {
    let key = ObjectKey::new("", namespace);
    let Some(ns) = state.get(&namespaces(), &key) else {
        return;
    };
    let mut ns = ns.value();
    if !crate::meta::has_meta(&ns, "deletionTimestamp") {
        return;
    }
    let occupied = state.resources().any(|(gr, store)| {
        *gr != namespaces() && store.range(Some(namespace), None).next().is_some()
    });
    if occupied {
        return;
    }
    let has_spec_finalizers = ns
        .pointer("/spec/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty());
    if has_spec_finalizers {
        ns["spec"]["finalizers"] = json!([]);
        state.put(&namespaces(), ns.clone());
        ns = state
            .get(&namespaces(), &key)
            .map(|s| s.value())
            .unwrap_or(ns);
    }
    if finalizers(&ns).is_empty() {
        remove_object(inner, state, &namespaces(), &key, ns);
    }
}

/// The CRD cleanup controller: delete every instance of a terminating CRD.
fn terminate_crd(inner: &Inner, state: &mut State, crd_name: &str) {
    let Some(crd) = state.get(&crate::crd::crds(), &ObjectKey::new("", crd_name)) else {
        return;
    };
    let gr = crate::crd::defined_resource(&crd.value());
    let victims: Vec<Arc<StoredObject>> = state
        .resource(&gr)
        .map(|store| store.range(None, None).map(|(_, o)| o.clone()).collect())
        .unwrap_or_default();
    for victim in victims {
        if let Some(current) = state.get(&gr, &victim.key) {
            delete_object(inner, state, &gr, &current);
        }
    }
    try_finalize_crd(inner, state, crd_name);
}

/// Finishes a terminating CRD once it has no instances left: the cleanup finalizer is
/// removed (MODIFIED), then the CRD (DELETED), which stops serving its resources.
fn try_finalize_crd(inner: &Inner, state: &mut State, crd_name: &str) {
    let key = ObjectKey::new("", crd_name);
    let Some(crd) = state.get(&crate::crd::crds(), &key) else {
        return;
    };
    let mut crd = crd.value();
    if !crate::meta::has_meta(&crd, "deletionTimestamp") {
        return;
    }
    let gr = crate::crd::defined_resource(&crd);
    if state
        .resource(&gr)
        .is_some_and(|store| !store.objects.is_empty())
    {
        return;
    }
    let mut remaining = finalizers(&crd);
    if remaining.iter().any(|f| f == crate::crd::CLEANUP_FINALIZER) {
        remaining.retain(|f| f != crate::crd::CLEANUP_FINALIZER);
        meta_mut(&mut crd).insert("finalizers".into(), json!(remaining));
        state.put(&crate::crd::crds(), crd.clone());
        crd = state
            .get(&crate::crd::crds(), &key)
            .map(|s| s.value())
            .unwrap_or(crd);
    }
    if finalizers(&crd).is_empty() {
        remove_object(inner, state, &crate::crd::crds(), &key, crd);
    }
}

/// Namespaces kube-apiserver refuses to delete.
const IMMORTAL_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];

/// `DELETE` of an object.
pub(crate) fn delete(
    inner: &Inner,
    target: &Target,
    delete_options: &DeleteOptions,
    options: &WriteOptions,
) -> Result<WriteOutcome, ApiError> {
    let rt = &target.rt;
    let name = target.name.clone().unwrap_or_default();
    let gr = crate::convert::storage_resource(rt);
    if gr == namespaces() && IMMORTAL_NAMESPACES.contains(&name.as_str()) {
        return Err(ApiError::forbidden(format!(
            "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
        ))
        .with_details(json!({"name": name, "kind": "namespaces"})));
    }
    let mut options = options.clone();
    options.dry_run |= delete_options.dry_run;
    let write = Write::new(inner, rt, &options);
    let mut state = inner.state.write();
    let key = ObjectKey::new(target.namespace.as_deref().unwrap_or(""), &name);
    let stored = state
        .get(&gr, &key)
        .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, &name))?;
    let current = stored.value();
    if let Some(uid) = &delete_options.precondition_uid {
        let actual = meta_str(&current, "uid");
        if uid != actual {
            return Err(ApiError::conflict(
                &rt.group,
                &rt.plural,
                &name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"
                ),
            ));
        }
    }
    if let Some(rv) = &delete_options.precondition_rv {
        let actual = meta_str(&current, "resourceVersion");
        if rv != actual {
            return Err(ApiError::conflict(
                &rt.group,
                &rt.plural,
                &name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {actual}"
                ),
            ));
        }
    }
    write.admission(
        Some(&state),
        Operation::Delete,
        None,
        None,
        Some(&current),
        false,
    )?;
    let custom = write.is_custom();
    if options.dry_run {
        let mut answer = write.served_form(&stored);
        let pending = !finalizers(&current).is_empty();
        if pending {
            meta_mut(&mut answer).insert("deletionTimestamp".into(), json!(now()));
        }
        return Ok(if pending || returns_deleted_object(&gr, custom) {
            WriteOutcome {
                code: 200,
                body: Answer::Object(answer),
                warnings: Vec::new(),
            }
        } else {
            WriteOutcome {
                code: 200,
                body: Answer::Status(success_status(
                    &rt.group,
                    &rt.plural,
                    &name,
                    Some(meta_str(&current, "uid")),
                )),
                warnings: Vec::new(),
            }
        });
    }
    let outcome = match delete_object(inner, &mut state, &gr, &stored) {
        Deleted::Pending(updated) => WriteOutcome {
            code: 200,
            body: Answer::Stored(updated),
            warnings: Vec::new(),
        },
        Deleted::Gone(last) if returns_deleted_object(&gr, custom) => WriteOutcome {
            code: 200,
            body: Answer::Stored(last),
            warnings: Vec::new(),
        },
        Deleted::Gone(last) => WriteOutcome {
            code: 200,
            body: Answer::Status(success_status(
                &rt.group,
                &rt.plural,
                &name,
                Some(meta_str(&last.value(), "uid")),
            )),
            warnings: Vec::new(),
        },
    };
    Ok(outcome)
}

/// `DELETE` of a collection (with selectors).
pub(crate) fn delete_collection(
    inner: &Inner,
    target: &Target,
    params: &Params,
    delete_options: &DeleteOptions,
    options: &WriteOptions,
) -> Result<Value, ApiError> {
    let rt = &target.rt;
    let gr = crate::convert::storage_resource(rt);
    let mut options = options.clone();
    options.dry_run |= delete_options.dry_run;
    let write = Write::new(inner, rt, &options);
    let mut state = inner.state.write();
    let Some(store) = state.resource(&gr) else {
        return Ok(
            json!({"apiVersion": rt.api_version(), "kind": rt.list_kind, "metadata": {"resourceVersion": state.rv.to_string()}, "items": []}),
        );
    };
    let selectable = state.crd_fields.get(&gr).cloned().unwrap_or_default();
    let filter = crate::select::Filter::new(
        target.namespace.clone(),
        params.label_selector.as_deref(),
        params.field_selector.as_deref(),
        rt,
        &selectable,
    )?;
    let victims: Vec<Arc<StoredObject>> = store
        .range(target.namespace.as_deref(), None)
        .map(|(_, o)| o.clone())
        .filter(|o| filter.matches(o))
        .collect();
    let mut items = Vec::new();
    for victim in victims {
        let current = victim.value();
        if gr == namespaces() && IMMORTAL_NAMESPACES.contains(&&*victim.key.name) {
            continue;
        }
        write.admission(
            Some(&state),
            Operation::Delete,
            None,
            None,
            Some(&current),
            false,
        )?;
        if options.dry_run {
            items.push(write.served_form(&victim));
            continue;
        }
        match delete_object(inner, &mut state, &gr, &victim) {
            Deleted::Pending(o) | Deleted::Gone(o) => items.push(write.served_form(&o)),
        }
    }
    Ok(json!({
        "apiVersion": rt.api_version(),
        "kind": rt.list_kind,
        "metadata": {"resourceVersion": state.rv.to_string()},
        "items": items,
    }))
}

/// Creates or replaces an object through the handle (seeding, CRD loading), as a
/// client's create-or-update would.
pub(crate) fn upsert(inner: &Inner, mut object: Value) -> Result<Value, ApiError> {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let rt = inner
        .registry()
        .by_kind(&api_version, &kind)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "no kind \"{kind}\" is registered for version \"{api_version}\""
            ))
        })?;
    let namespace = if rt.namespaced {
        let ns = meta_str(&object, "namespace");
        Some(if ns.is_empty() {
            "default".to_string()
        } else {
            ns.to_string()
        })
    } else {
        None
    };
    let name = meta_str(&object, "name").to_string();
    let options = WriteOptions::internal("kube-emu");
    let existing = {
        let state = inner.state.read();
        state
            .get(
                &rt.group_resource(),
                &ObjectKey::new(namespace.as_deref().unwrap_or(""), &name),
            )
            .map(|o| o.value())
    };
    let target = Target {
        rt: rt.clone(),
        namespace,
        name: (!name.is_empty()).then(|| name.clone()),
        subresource: None,
    };
    match existing {
        None => {
            let status = object.get("status").cloned();
            let outcome = create(
                inner,
                &Target {
                    name: None,
                    ..target.clone()
                },
                object,
                &options,
            )?;
            let created = outcome.body.into_value(&rt);
            // Seeded objects keep the status they were written with.
            if let Some(status) = status
                && rt.subresources.status
            {
                let mut with_status = created;
                with_status["status"] = status;
                let target = Target {
                    name: Some(meta_str(&with_status, "name").to_string()),
                    subresource: Some("status".into()),
                    ..target
                };
                return update(inner, &target, with_status, &options)
                    .map(|o| o.body.into_value(&rt));
            }
            Ok(created)
        }
        Some(existing) => {
            meta_mut(&mut object).insert(
                "resourceVersion".into(),
                json!(meta_str(&existing, "resourceVersion")),
            );
            update(inner, &target, object, &options).map(|o| o.body.into_value(&rt))
        }
    }
}
