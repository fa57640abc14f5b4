//! CustomResourceDefinitions: validation of the definition, the status kube-apiserver's
//! controllers write (`NamesAccepted`, `Established`, `acceptedNames`, `storedVersions`,
//! `Terminating`), and turning a definition into served resource types in the registry.

use std::sync::Arc;

use kube_apimachinery::field_error::FieldError;
use kube_apimachinery::registry::{
    GroupResource, Origin, PrinterColumn, ResourceType, Subresources, default_verbs,
};
use serde_json::{Value, json};

use crate::meta::{meta_mut, meta_str, now};
use crate::store::State;

/// The finalizer kube-apiserver puts on every CRD (it deletes the instances first).
pub(crate) const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

pub(crate) fn is_crd(gr: &GroupResource) -> bool {
    gr.group == "apiextensions.k8s.io" && gr.resource == "customresourcedefinitions"
}

pub(crate) fn crds() -> GroupResource {
    GroupResource {
        group: "apiextensions.k8s.io".into(),
        resource: "customresourcedefinitions".into(),
    }
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The group/resource a CRD defines.
pub(crate) fn defined_resource(crd: &Value) -> GroupResource {
    GroupResource {
        group: text(crd, "/spec/group").to_string(),
        resource: text(crd, "/spec/names/plural").to_string(),
    }
}

/// The CRD that defines `gr`, if it is a custom resource.
pub(crate) fn crd_name_of(state: &State, gr: &GroupResource) -> Option<String> {
    match &state.registry.storage_type(gr)?.origin {
        Origin::Crd { crd_name } => Some(crd_name.clone()),
        _ => None,
    }
}

/// Validation of a CRD beyond its metadata.
pub(crate) fn validate(crd: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let group = text(crd, "/spec/group");
    let plural = text(crd, "/spec/names/plural");
    let kind = text(crd, "/spec/names/kind");
    let name = meta_str(crd, "name");
    if group.is_empty() {
        errors.push(FieldError::required("spec.group", ""));
    } else if !group.contains('.') {
        errors.push(FieldError::invalid(
            "spec.group",
            json!(group),
            "should be a domain with at least one dot",
        ));
    }
    if plural.is_empty() {
        errors.push(FieldError::required("spec.names.plural", ""));
    }
    if kind.is_empty() {
        errors.push(FieldError::required("spec.names.kind", ""));
    }
    if !group.is_empty() && !plural.is_empty() && name != format!("{plural}.{group}") {
        errors.push(FieldError::invalid(
            "metadata.name",
            json!(name),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    match text(crd, "/spec/scope") {
        "Namespaced" | "Cluster" => {}
        "" => errors.push(FieldError::required("spec.scope", "")),
        other => errors.push(FieldError::not_supported(
            "spec.scope",
            json!(other),
            &["Cluster", "Namespaced"],
        )),
    }
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        errors.push(FieldError::invalid(
            "spec.versions",
            json!(versions),
            "must have exactly one version marked as storage version",
        ));
    } else {
        let storage = versions
            .iter()
            .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
            .count();
        if storage != 1 {
            errors.push(FieldError::invalid(
                "spec.versions",
                json!(versions),
                "must have exactly one version marked as storage version",
            ));
        }
        for (i, version) in versions.iter().enumerate() {
            if text(version, "/name").is_empty() {
                errors.push(FieldError::required(format!("spec.versions[{i}].name"), ""));
            }
            if let Some(schema) = version.pointer("/schema/openAPIV3Schema") {
                errors.extend(crate::schema::schema_errors(
                    schema,
                    &format!("spec.versions[{i}].schema.openAPIV3Schema"),
                ));
            }
        }
    }
    errors
}

fn accepted_names(crd: &Value) -> Value {
    let mut names = crd
        .pointer("/spec/names")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let kind = text(crd, "/spec/names/kind").to_string();
    if text(&names, "/singular").is_empty() {
        names["singular"] = json!(kind.to_lowercase());
    }
    if text(&names, "/listKind").is_empty() {
        names["listKind"] = json!(format!("{kind}List"));
    }
    names
}

fn storage_version(crd: &Value) -> Option<String> {
    crd.pointer("/spec/versions")
        .and_then(Value::as_array)?
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .map(|v| text(v, "/name").to_string())
}

/// Spec defaults of the CRD type (`SetDefaults_CustomResourceDefinitionSpec`).
fn default_spec(crd: &mut Value) {
    let names = accepted_names(crd);
    if crd.pointer("/spec/names").is_some() {
        crd["spec"]["names"]["singular"] = names["singular"].clone();
        crd["spec"]["names"]["listKind"] = names["listKind"].clone();
    }
    if crd.get("spec").is_some_and(Value::is_object) && crd.pointer("/spec/conversion").is_none() {
        crd["spec"]["conversion"] = json!({ "strategy": "None" });
    }
}

fn condition(kind: &str, reason: &str, message: &str, old: Option<&Value>) -> Value {
    let previous = old
        .and_then(|o| o.pointer("/status/conditions"))
        .and_then(Value::as_array)
        .and_then(|conditions| {
            conditions
                .iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
        });
    let time = previous
        .filter(|c| c.get("status").and_then(Value::as_str) == Some("True"))
        .and_then(|c| c.get("lastTransitionTime").cloned())
        .unwrap_or_else(|| json!(now()));
    json!({
        "type": kind,
        "status": "True",
        "lastTransitionTime": time,
        "reason": reason,
        "message": message,
    })
}

/// Defaults, the cleanup finalizer, and the status the CRD controllers would write.
pub(crate) fn prepare_create(crd: &mut Value) {
    default_spec(crd);
    let meta = meta_mut(crd);
    let finalizers = meta.entry("finalizers").or_insert_with(|| json!([]));
    if let Some(list) = finalizers.as_array_mut()
        && !list.iter().any(|f| f == CLEANUP_FINALIZER)
    {
        list.push(json!(CLEANUP_FINALIZER));
    }
    set_status(crd, None);
}

/// Recomputes the status after a spec change (keeping transition times).
pub(crate) fn prepare_update(old: &Value, crd: &mut Value) {
    default_spec(crd);
    set_status(crd, Some(old));
}

fn set_status(crd: &mut Value, old: Option<&Value>) {
    let mut stored: Vec<Value> = old
        .and_then(|o| o.pointer("/status/storedVersions"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(version) = storage_version(crd)
        && !stored.iter().any(|v| v == version.as_str())
    {
        stored.push(json!(version));
    }
    let mut conditions = vec![
        condition("NamesAccepted", "NoConflicts", "no conflicts found", old),
        condition(
            "Established",
            "InitialNamesAccepted",
            "the initial names have been accepted",
            old,
        ),
    ];
    if crate::meta::has_meta(crd, "deletionTimestamp") {
        conditions.push(terminating_condition());
    }
    crd["status"] = json!({
        "acceptedNames": accepted_names(crd),
        "conditions": conditions,
        "storedVersions": stored,
    });
}

fn terminating_condition() -> Value {
    json!({
        "type": "Terminating",
        "status": "True",
        "lastTransitionTime": now(),
        "reason": "InstanceDeletionInProgress",
        "message": "CustomResource deletion is in progress",
    })
}

/// Adds the `Terminating` condition of a CRD being deleted.
pub(crate) fn mark_terminating(crd: &mut Value) {
    if let Some(conditions) = crd
        .pointer_mut("/status/conditions")
        .and_then(Value::as_array_mut)
    {
        conditions.push(terminating_condition());
    }
}

/// The served resource types of a CRD (one per served version).
pub(crate) fn resource_types(crd: &Value) -> Vec<ResourceType> {
    let crd_name = meta_str(crd, "name").to_string();
    let names = accepted_names(crd);
    let strings = |value: &Value, key: &str| -> Vec<String> {
        value
            .get(key)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    versions
        .iter()
        .filter(|v| v.get("served").and_then(Value::as_bool) != Some(false))
        .map(|version| ResourceType {
            group: text(crd, "/spec/group").to_string(),
            version: text(version, "/name").to_string(),
            plural: text(&names, "/plural").to_string(),
            singular: text(&names, "/singular").to_string(),
            kind: text(&names, "/kind").to_string(),
            list_kind: text(&names, "/listKind").to_string(),
            namespaced: text(crd, "/spec/scope") == "Namespaced",
            short_names: strings(&names, "shortNames"),
            categories: strings(&names, "categories"),
            verbs: default_verbs(),
            subresources: Subresources {
                status: version.pointer("/subresources/status").is_some(),
                scale: version.pointer("/subresources/scale").is_some(),
            },
            printer_columns: version
                .get("additionalPrinterColumns")
                .and_then(Value::as_array)
                .map(|columns| columns.iter().map(printer_column).collect())
                .unwrap_or_default(),
            schema: version.pointer("/schema/openAPIV3Schema").cloned(),
            storage: version.get("storage").and_then(Value::as_bool) == Some(true),
            origin: Origin::Crd {
                crd_name: crd_name.clone(),
            },
        })
        .collect()
}

fn printer_column(column: &Value) -> PrinterColumn {
    PrinterColumn {
        name: text(column, "/name").to_string(),
        type_: text(column, "/type").to_string(),
        format: column
            .get("format")
            .and_then(Value::as_str)
            .map(str::to_string),
        description: column
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string),
        priority: column.get("priority").and_then(Value::as_i64).unwrap_or(0) as i32,
        json_path: text(column, "/jsonPath").to_string(),
    }
}

/// The `selectableFields` of the storage version, as field labels (`spec.color`).
fn selectable_fields(crd: &Value) -> Vec<String> {
    crd.pointer("/spec/versions")
        .and_then(Value::as_array)
        .and_then(|versions| {
            versions
                .iter()
                .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        })
        .map(kube_apimachinery::selector::crd_selectable_fields)
        .unwrap_or_default()
}

/// Serves (or re-serves, after an update) the versions of a stored CRD.
pub(crate) fn register(state: &mut State, crd: &Value) {
    let name = meta_str(crd, "name").to_string();
    let types = resource_types(crd);
    let registry = Arc::make_mut(&mut state.registry);
    registry.remove_crd(&name);
    for rt in types {
        registry.insert(rt);
    }
    let fields = selectable_fields(crd);
    let gr = defined_resource(crd);
    if fields.is_empty() {
        state.crd_fields.remove(&gr);
    } else {
        state.crd_fields.insert(gr, fields);
    }
}

/// Stops serving a removed CRD and drops its objects (ending their watches).
pub(crate) fn unregister(state: &mut State, crd: &Value) {
    let name = meta_str(crd, "name").to_string();
    Arc::make_mut(&mut state.registry).remove_crd(&name);
    let gr = defined_resource(crd);
    state.crd_fields.remove(&gr);
    state.drop_resource(&gr);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widget_crd() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
                "versions": [
                    {"name": "v1", "served": true, "storage": true,
                     "subresources": {"status": {}},
                     "additionalPrinterColumns": [{"name": "Color", "type": "string", "jsonPath": ".spec.color"}],
                     "schema": {"openAPIV3Schema": {"type": "object"}}},
                    {"name": "v1beta1", "served": true, "storage": false,
                     "schema": {"openAPIV3Schema": {"type": "object"}}}
                ]
            }
        })
    }

    #[test]
    fn a_crd_gets_the_status_of_an_established_definition() {
        let mut crd = widget_crd();
        assert!(validate(&crd).is_empty());
        prepare_create(&mut crd);
        let conditions = crd["status"]["conditions"].as_array().unwrap();
        let types: Vec<&str> = conditions
            .iter()
            .map(|c| c["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["NamesAccepted", "Established"]);
        assert_eq!(crd["status"]["acceptedNames"]["listKind"], "WidgetList");
        assert_eq!(crd["status"]["acceptedNames"]["singular"], "widget");
        assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));
        assert_eq!(crd["metadata"]["finalizers"], json!([CLEANUP_FINALIZER]));
    }

    #[test]
    fn every_served_version_becomes_a_resource_type() {
        let types = resource_types(&widget_crd());
        assert_eq!(types.len(), 2);
        assert!(types[0].storage && types[0].subresources.status && types[0].namespaced);
        assert_eq!(types[0].printer_columns[0].json_path, ".spec.color");
        assert_eq!(types[1].version, "v1beta1");
        assert!(!types[1].subresources.status);
    }

    #[test]
    fn bad_definitions_are_reported() {
        let mut crd = widget_crd();
        crd["metadata"]["name"] = json!("wrong");
        crd["spec"]["versions"][1]["storage"] = json!(true);
        let fields: Vec<String> = validate(&crd).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["metadata.name", "spec.versions"]);
    }
}
