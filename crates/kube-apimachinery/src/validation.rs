//! Object-metadata validation every write gets, as kube-apiserver's
//! `ValidateObjectMetaAccessor` / `ValidateObjectMetaAccessorUpdate` and the string
//! validators of `k8s.io/apimachinery/pkg/util/validation` do it, with their exact messages.
//!
//! Scope: name (per-kind rule: DNS-1123 subdomain for most kinds, DNS-1123 label for
//! namespaces, DNS-1035 label for services, path segment for kinds that use it),
//! `generateName` (with kube's trailing-dash masking), namespace presence and syntax,
//! `generation`, labels, annotations (keys and the 256 KiB total), owner references,
//! finalizers, managedFields entries; plus the immutable-field and resourceVersion checks
//! of an update. Errors are returned in kube's order; map entries (labels, annotations) are
//! visited in sorted key order (Go's map order is random).
//!
//! Not here: kind-specific spec validation of built-in kinds (Pod containers, Service
//! ports, ...), which the emulator does not emulate, and the CRD name rule
//! (`<plural>.<group>`), which the emulator checks when it registers a CRD.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::field_error::{FieldError, FieldPath};

/// Longest name a generated name may start from (`maxGeneratedNameLength`).
pub const MAX_GENERATED_NAME_LENGTH: usize = 63 - 5;
/// `TotalAnnotationSizeLimitB`: 256 KiB for all annotation keys and values together.
pub const TOTAL_ANNOTATION_SIZE_LIMIT_BYTES: usize = 256 * 1024;
/// `FieldManagerMaxLength`.
pub const FIELD_MANAGER_MAX_LENGTH: usize = 128;

const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_ERR_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const QUALIFIED_NAME_MAX_LENGTH: usize = 63;
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_MAX_LENGTH: usize = 63;
const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_ERR_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_LABEL_MAX_LENGTH: usize = 63;
const DNS1123_SUBDOMAIN_FMT: &str =
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_ERR_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const DNS1035_LABEL_MAX_LENGTH: usize = 63;

fn anchored(fmt: &str) -> Regex {
    Regex::new(&format!("^(?:{fmt})$")).expect("static regex")
}

static QUALIFIED_NAME_RE: LazyLock<Regex> = LazyLock::new(|| anchored(QUALIFIED_NAME_FMT));
static LABEL_VALUE_RE: LazyLock<Regex> = LazyLock::new(|| anchored(LABEL_VALUE_FMT));
static DNS1123_LABEL_RE: LazyLock<Regex> = LazyLock::new(|| anchored(DNS1123_LABEL_FMT));
static DNS1123_SUBDOMAIN_RE: LazyLock<Regex> = LazyLock::new(|| anchored(DNS1123_SUBDOMAIN_FMT));
static DNS1035_LABEL_RE: LazyLock<Regex> = LazyLock::new(|| anchored(DNS1035_LABEL_FMT));

/// `validation.MaxLenError`.
pub fn max_len_error(length: usize) -> String {
    format!("must be no more than {length} characters")
}

/// `validation.RegexError`.
pub fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut out = format!("{msg} (e.g. ");
    for (i, example) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push_str(&format!("'{example}', "));
    }
    out.push_str(&format!("regex used for validation is '{fmt}')"));
    out
}

/// `validation.EmptyError`.
pub fn empty_error() -> &'static str {
    "must be non-empty"
}

/// `validation.IsQualifiedName` (label keys, annotation keys, finalizers).
pub fn is_qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push(format!("prefix part {}", empty_error()));
            } else {
                errs.extend(
                    is_dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(
                    QUALIFIED_NAME_ERR_MSG,
                    QUALIFIED_NAME_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push(format!("name part {}", empty_error()));
    } else if name.len() > QUALIFIED_NAME_MAX_LENGTH {
        errs.push(format!(
            "name part {}",
            max_len_error(QUALIFIED_NAME_MAX_LENGTH)
        ));
    }
    if !QUALIFIED_NAME_RE.is_match(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_ERR_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// `validation.IsValidLabelValue`.
pub fn is_valid_label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(max_len_error(LABEL_VALUE_MAX_LENGTH));
    }
    if !LABEL_VALUE_RE.is_match(value) {
        errs.push(regex_error(
            LABEL_VALUE_ERR_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// `validation.IsDNS1123Label`.
pub fn is_dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    if !DNS1123_LABEL_RE.is_match(value) {
        if DNS1123_SUBDOMAIN_RE.is_match(value) {
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_ERR_MSG,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// `validation.IsDNS1123Subdomain`.
pub fn is_dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if !DNS1123_SUBDOMAIN_RE.is_match(value) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// `validation.IsDNS1035Label`.
pub fn is_dns1035_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1035_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1035_LABEL_MAX_LENGTH));
    }
    if !DNS1035_LABEL_RE.is_match(value) {
        errs.push(regex_error(
            DNS1035_LABEL_ERR_MSG,
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// `path.IsValidPathSegmentName`.
pub fn is_valid_path_segment_name(name: &str) -> Vec<String> {
    if name == "." || name == ".." {
        return vec![format!("may not be '{name}'")];
    }
    is_valid_path_segment_prefix(name)
}

/// `path.IsValidPathSegmentPrefix`.
pub fn is_valid_path_segment_prefix(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    for illegal in ["/", "%"] {
        if name.contains(illegal) {
            errs.push(format!("may not contain '{illegal}'"));
        }
    }
    errs
}

/// `maskTrailingDash`: a generateName may end with '-', the random suffix follows it.
fn mask_trailing_dash(name: &str) -> String {
    if name.len() > 1 && name.ends_with('-') {
        format!("{}a", &name[..name.len() - 2])
    } else {
        name.to_string()
    }
}

/// How a kind's `metadata.name` is validated (`ValidateNameFunc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// `NameIsDNSSubdomain`: most kinds, every custom resource.
    Dns1123Subdomain,
    /// `NameIsDNSLabel`: namespaces.
    Dns1123Label,
    /// `NameIsDNS1035Label`: services (without the alpha RelaxedServiceNameValidation gate).
    Dns1035Label,
    /// `path.ValidatePathSegmentName`: e.g. RBAC objects, embedded resources.
    PathSegment,
}

impl NameRule {
    /// Runs the rule; `prefix` is true for a `generateName`.
    pub fn check(self, name: &str, prefix: bool) -> Vec<String> {
        match self {
            NameRule::PathSegment => {
                if prefix {
                    is_valid_path_segment_prefix(name)
                } else {
                    is_valid_path_segment_name(name)
                }
            }
            rule => {
                let name = if prefix {
                    mask_trailing_dash(name)
                } else {
                    name.to_string()
                };
                match rule {
                    NameRule::Dns1123Label => is_dns1123_label(&name),
                    NameRule::Dns1035Label => is_dns1035_label(&name),
                    _ => is_dns1123_subdomain(&name),
                }
            }
        }
    }

    /// The rule kube-apiserver applies to a kind (group "" is the core group).
    pub fn for_kind(group: &str, kind: &str) -> NameRule {
        match (group, kind) {
            ("", "Namespace") => NameRule::Dns1123Label,
            ("", "Service") => NameRule::Dns1035Label,
            ("rbac.authorization.k8s.io", _) => NameRule::PathSegment,
            _ => NameRule::Dns1123Subdomain,
        }
    }
}

/// The name `rest.BeforeCreate` generates from a `generateName` and a random suffix
/// (kube uses 5 random characters from `bcdfghjklmnpqrstvwxz2456789`).
pub fn generate_name(base: &str, random_suffix: &str) -> String {
    let mut base = base.to_string();
    if base.len() > MAX_GENERATED_NAME_LENGTH {
        let mut cut = MAX_GENERATED_NAME_LENGTH;
        while !base.is_char_boundary(cut) {
            cut -= 1;
        }
        base.truncate(cut);
    }
    format!("{base}{random_suffix}")
}

fn string_field<'a>(meta: &'a Map<String, Value>, key: &str) -> &'a str {
    meta.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Checks that `metadata` has the shape ObjectMeta decoding needs (labels and annotations
/// maps of strings, finalizers a list of strings, ...). kube-apiserver rejects anything
/// else while decoding, with a 400; the returned message says what is wrong.
pub fn metadata_shape_error(metadata: &Value) -> Option<String> {
    let Some(meta) = metadata.as_object() else {
        if metadata.is_null() {
            return None;
        }
        return Some("metadata: must be an object".into());
    };
    for key in [
        "name",
        "generateName",
        "namespace",
        "uid",
        "resourceVersion",
    ] {
        if let Some(v) = meta.get(key)
            && !v.is_string()
            && !v.is_null()
        {
            return Some(format!("metadata.{key}: must be a string"));
        }
    }
    for key in ["labels", "annotations"] {
        match meta.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                if let Some((k, _)) = map.iter().find(|(_, v)| !v.is_string()) {
                    return Some(format!("metadata.{key}.{k}: must be a string"));
                }
            }
            Some(_) => return Some(format!("metadata.{key}: must be a map of strings")),
        }
    }
    match meta.get("finalizers") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
        Some(_) => return Some("metadata.finalizers: must be a list of strings".into()),
    }
    for key in ["ownerReferences", "managedFields"] {
        match meta.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) if items.iter().all(Value::is_object) => {}
            Some(_) => return Some(format!("metadata.{key}: must be a list of objects")),
        }
    }
    if let Some(v) = meta.get("generation")
        && !v.is_i64()
        && !v.is_null()
    {
        return Some("metadata.generation: must be an integer".into());
    }
    None
}

fn sorted_string_map(meta: &Map<String, Value>, key: &str) -> Vec<(String, String)> {
    let mut entries: Vec<(String, String)> = meta
        .get(key)
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    entries.sort();
    entries
}

/// `ValidateLabels` on a `labels` map.
pub fn validate_labels(labels: &[(String, String)], path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (key, value) in labels {
        for msg in is_qualified_name(key) {
            errors.push(FieldError::invalid(path, Value::String(key.clone()), msg));
        }
        for msg in is_valid_label_value(value) {
            errors.push(FieldError::invalid(path, Value::String(value.clone()), msg));
        }
    }
    errors
}

/// `ValidateAnnotations`: keys are qualified names (case-insensitive), total size limited.
pub fn validate_annotations(annotations: &[(String, String)], path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut total = 0usize;
    for (key, value) in annotations {
        for msg in is_qualified_name(&key.to_lowercase()) {
            errors.push(FieldError::invalid(path, Value::String(key.clone()), msg));
        }
        total += key.len() + value.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT_BYTES {
        errors.push(FieldError::too_long(
            path,
            TOTAL_ANNOTATION_SIZE_LIMIT_BYTES as i64,
        ));
    }
    errors
}

/// `ValidateFinalizers`.
pub fn validate_finalizers(finalizers: &[String], path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for finalizer in finalizers {
        for msg in is_qualified_name(finalizer) {
            errors.push(FieldError::invalid(
                path,
                Value::String(finalizer.clone()),
                msg,
            ));
        }
    }
    let orphan = finalizers.iter().any(|f| f == "orphan");
    let foreground = finalizers.iter().any(|f| f == "foregroundDeletion");
    if orphan && foreground {
        errors.push(FieldError::invalid(
            path,
            Value::Array(finalizers.iter().cloned().map(Value::String).collect()),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errors
}

/// `ValidateOwnerReferences`.
pub fn validate_owner_references(references: &[Value], path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut first_controller = String::new();
    for reference in references {
        let Some(reference_map) = reference.as_object() else {
            continue;
        };
        let api_version = string_field(reference_map, "apiVersion");
        let kind = string_field(reference_map, "kind");
        let name = string_field(reference_map, "name");
        let uid = string_field(reference_map, "uid");
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        if version.is_empty() {
            errors.push(FieldError::invalid(
                path.child("apiVersion"),
                Value::String(api_version.into()),
                "version must not be empty",
            ));
        }
        if kind.is_empty() {
            errors.push(FieldError::invalid(
                path.child("kind"),
                Value::String(kind.into()),
                "kind must not be empty",
            ));
        }
        if name.is_empty() {
            errors.push(FieldError::invalid(
                path.child("name"),
                Value::String(name.into()),
                "name must not be empty",
            ));
        }
        if uid.is_empty() {
            errors.push(FieldError::invalid(
                path.child("uid"),
                Value::String(uid.into()),
                "uid must not be empty",
            ));
        }
        if group.is_empty() && version == "v1" && kind == "Event" {
            errors.push(FieldError::invalid(
                path,
                reference.clone(),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if reference_map.get("controller").and_then(Value::as_bool) == Some(true) {
            let current = format!("{kind}/{name}");
            if first_controller.is_empty() {
                first_controller = current;
            } else {
                errors.push(FieldError::invalid(
                    path,
                    Value::Array(references.to_vec()),
                    format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first_controller} and {current}"
                    ),
                ));
            }
        }
    }
    errors
}

/// `ValidateFieldManager` (also used for the `fieldManager` query parameter).
pub fn validate_field_manager(manager: &str, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if manager.len() > FIELD_MANAGER_MAX_LENGTH {
        errors.push(FieldError::too_long(path, FIELD_MANAGER_MAX_LENGTH as i64));
    }
    for (position, c) in manager.char_indices() {
        if c.is_control() || (c.is_whitespace() && c != ' ') {
            errors.push(FieldError::invalid(
                path,
                Value::String(manager.into()),
                format!(
                    "invalid character U+{:04X} (at position {position})",
                    c as u32
                ),
            ));
        }
    }
    errors
}

/// `ValidateManagedFields`.
pub fn validate_managed_fields(entries: &[Value], path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let entry_path = path.index(i);
        let Some(entry) = entry.as_object() else {
            continue;
        };
        let operation = string_field(entry, "operation");
        if operation != "Apply" && operation != "Update" {
            errors.push(FieldError::invalid(
                entry_path.child("operation"),
                Value::String(operation.into()),
                "must be `Apply` or `Update`",
            ));
        }
        let fields_type = string_field(entry, "fieldsType");
        if !fields_type.is_empty() && fields_type != "FieldsV1" {
            errors.push(FieldError::invalid(
                entry_path.child("fieldsType"),
                Value::String(fields_type.into()),
                "must be `FieldsV1`",
            ));
        }
        errors.extend(validate_field_manager(
            string_field(entry, "manager"),
            &entry_path.child("manager"),
        ));
        let subresource = string_field(entry, "subresource");
        if !subresource.is_empty() {
            errors.extend(validate_field_manager(
                subresource,
                &entry_path.child("subresource"),
            ));
        }
    }
    errors
}

fn string_list(meta: &Map<String, Value>, key: &str) -> Vec<String> {
    meta.get(key)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn object_list(meta: &Map<String, Value>, key: &str) -> Vec<Value> {
    meta.get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// `ValidateObjectMetaAccessor` for a create: `metadata` is the object's metadata (after
/// name generation), `namespaced` whether the kind is namespaced. Paths start at
/// `metadata`.
pub fn validate_object_meta(metadata: &Value, namespaced: bool, rule: NameRule) -> Vec<FieldError> {
    validate_object_meta_at(metadata, namespaced, rule, &FieldPath::new("metadata"))
}

/// [`validate_object_meta`] for metadata found at another path (embedded resources).
pub fn validate_object_meta_at(
    metadata: &Value,
    namespaced: bool,
    rule: NameRule,
    path: &FieldPath,
) -> Vec<FieldError> {
    let empty = Map::new();
    let meta = metadata.as_object().unwrap_or(&empty);
    let path = path.clone();
    let mut errors = Vec::new();

    let generate_name = string_field(meta, "generateName");
    if !generate_name.is_empty() {
        for msg in rule.check(generate_name, true) {
            errors.push(FieldError::invalid(
                path.child("generateName"),
                Value::String(generate_name.into()),
                msg,
            ));
        }
    }
    let name = string_field(meta, "name");
    if name.is_empty() {
        errors.push(FieldError::required(
            path.child("name"),
            "name or generateName is required",
        ));
    } else {
        for msg in rule.check(name, false) {
            errors.push(FieldError::invalid(
                path.child("name"),
                Value::String(name.into()),
                msg,
            ));
        }
    }
    let namespace = string_field(meta, "namespace");
    if namespaced {
        if namespace.is_empty() {
            errors.push(FieldError::required(path.child("namespace"), ""));
        } else {
            for msg in NameRule::Dns1123Label.check(namespace, false) {
                errors.push(FieldError::invalid(
                    path.child("namespace"),
                    Value::String(namespace.into()),
                    msg,
                ));
            }
        }
    } else if !namespace.is_empty() {
        errors.push(FieldError::forbidden(
            path.child("namespace"),
            "not allowed on this type",
        ));
    }
    errors.extend(common_meta_errors(meta, &path, true));
    errors
}

/// Checks shared by create and update: generation (create only), labels, annotations,
/// owner references, finalizers (create only), managed fields.
fn common_meta_errors(
    meta: &Map<String, Value>,
    path: &FieldPath,
    create: bool,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if create
        && let Some(generation) = meta.get("generation").and_then(Value::as_i64)
        && generation < 0
    {
        errors.push(FieldError::invalid(
            path.child("generation"),
            Value::from(generation),
            "must be greater than or equal to 0",
        ));
    }
    errors.extend(validate_labels(
        &sorted_string_map(meta, "labels"),
        &path.child("labels"),
    ));
    errors.extend(validate_annotations(
        &sorted_string_map(meta, "annotations"),
        &path.child("annotations"),
    ));
    errors.extend(validate_owner_references(
        &object_list(meta, "ownerReferences"),
        &path.child("ownerReferences"),
    ));
    if create {
        errors.extend(validate_finalizers(
            &string_list(meta, "finalizers"),
            &path.child("finalizers"),
        ));
    }
    errors.extend(validate_managed_fields(
        &object_list(meta, "managedFields"),
        &path.child("managedFields"),
    ));
    errors
}

/// `ValidateObjectMetaAccessorUpdate` (plus the finalizer-name checks kube runs on every
/// update through `ValidateObjectMetaUpdate`'s callers): the new metadata against the
/// stored one.
pub fn validate_object_meta_update(new_metadata: &Value, old_metadata: &Value) -> Vec<FieldError> {
    let empty = Map::new();
    let new = new_metadata.as_object().unwrap_or(&empty);
    let old = old_metadata.as_object().unwrap_or(&empty);
    let path = FieldPath::new("metadata");
    let mut errors = Vec::new();

    if old.get("deletionTimestamp").is_some_and(|v| !v.is_null()) {
        let old_finalizers = string_list(old, "finalizers");
        let extra: Vec<String> = string_list(new, "finalizers")
            .into_iter()
            .filter(|f| !old_finalizers.contains(f))
            .collect();
        if !extra.is_empty() {
            errors.push(FieldError::forbidden(
                path.child("finalizers"),
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers {}",
                    go_string_slice(&extra)
                ),
            ));
        }
    }
    let resource_version = string_field(new, "resourceVersion");
    if resource_version.is_empty() {
        errors.push(FieldError::invalid(
            path.child("resourceVersion"),
            Value::String(String::new()),
            "must be specified for an update",
        ));
    }
    let new_generation = new.get("generation").and_then(Value::as_i64).unwrap_or(0);
    let old_generation = old.get("generation").and_then(Value::as_i64).unwrap_or(0);
    if new_generation < old_generation {
        errors.push(FieldError::invalid(
            path.child("generation"),
            Value::from(new_generation),
            "must not be decremented",
        ));
    }
    for key in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        let new_value = new.get(key).cloned().unwrap_or(Value::Null);
        let old_value = old.get(key).cloned().unwrap_or(Value::Null);
        if normalize_empty(&new_value) != normalize_empty(&old_value) {
            errors.push(FieldError::invalid(
                path.child(key),
                immutable_bad_value(key, &new_value),
                "field is immutable",
            ));
        }
    }
    for finalizer in string_list(new, "finalizers") {
        for msg in is_qualified_name(&finalizer) {
            errors.push(FieldError::invalid(
                path.child("finalizers"),
                Value::String(finalizer.clone()),
                msg,
            ));
        }
    }
    errors.extend(common_meta_errors(new, &path, false));
    errors
}

fn normalize_empty(value: &Value) -> Value {
    match value {
        Value::String(s) if s.is_empty() => Value::Null,
        other => other.clone(),
    }
}

/// Go prints a typed string (name, uid) as a quoted string and a missing pointer as null.
fn immutable_bad_value(key: &str, value: &Value) -> Value {
    match (key, value) {
        ("name" | "namespace" | "uid", Value::Null) => Value::String(String::new()),
        _ => value.clone(),
    }
}

/// `%v` of a `[]string`: `[a b]`.
fn go_string_slice(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(errors: &[FieldError]) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn subdomain_name_error_matches_kube() {
        let errors =
            validate_object_meta(&json!({"name": "Foo"}), false, NameRule::Dns1123Subdomain);
        assert_eq!(
            messages(&errors),
            vec![
                r#"metadata.name: Invalid value: "Foo": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#
            ]
        );
    }

    #[test]
    fn valid_names_pass_per_rule() {
        assert!(
            NameRule::Dns1123Subdomain
                .check("a.b-c.d", false)
                .is_empty()
        );
        assert!(
            NameRule::Dns1123Label
                .check("kube-system", false)
                .is_empty()
        );
        assert!(NameRule::Dns1035Label.check("my-svc", false).is_empty());
        assert!(
            NameRule::PathSegment
                .check("system:admin", false)
                .is_empty()
        );
        assert!(
            NameRule::Dns1123Subdomain
                .check(&"a".repeat(253), false)
                .is_empty()
        );
    }

    #[test]
    fn namespace_names_are_labels() {
        assert_eq!(
            NameRule::Dns1123Label.check("a.b", false),
            vec!["must not contain dots".to_string()]
        );
        let long = "a".repeat(64);
        assert_eq!(
            NameRule::Dns1123Label.check(&long, false),
            vec!["must be no more than 63 characters".to_string()]
        );
        assert_eq!(NameRule::for_kind("", "Namespace"), NameRule::Dns1123Label);
    }

    #[test]
    fn service_names_are_dns1035_labels() {
        assert_eq!(NameRule::for_kind("", "Service"), NameRule::Dns1035Label);
        assert_eq!(
            NameRule::Dns1035Label.check("1abc", false),
            vec![
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
            ]
        );
    }

    #[test]
    fn path_segment_rules() {
        assert_eq!(
            NameRule::PathSegment.check("..", false),
            vec!["may not be '..'"]
        );
        assert_eq!(
            NameRule::PathSegment.check("a/b%", false),
            vec!["may not contain '/'", "may not contain '%'"]
        );
        assert!(NameRule::PathSegment.check(".", true).is_empty());
    }

    #[test]
    fn generate_name_masks_trailing_dash() {
        let errors = validate_object_meta(
            &json!({"generateName": "web-", "name": "web-x7k2p"}),
            false,
            NameRule::Dns1123Subdomain,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let errors = validate_object_meta(
            &json!({"generateName": "Web-", "name": "web-x7k2p"}),
            false,
            NameRule::Dns1123Subdomain,
        );
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "metadata.generateName");
        assert_eq!(generate_name("web-", "abcde"), "web-abcde");
        assert_eq!(generate_name(&"x".repeat(70), "abcde").len(), 63);
    }

    #[test]
    fn missing_name_and_namespace() {
        let errors = validate_object_meta(&json!({}), true, NameRule::Dns1123Subdomain);
        assert_eq!(
            messages(&errors),
            vec![
                "metadata.name: Required value: name or generateName is required",
                "metadata.namespace: Required value"
            ]
        );
        let errors = validate_object_meta(
            &json!({"name": "a", "namespace": "ns"}),
            false,
            NameRule::Dns1123Subdomain,
        );
        assert_eq!(
            messages(&errors),
            vec!["metadata.namespace: Forbidden: not allowed on this type"]
        );
        let errors = validate_object_meta(
            &json!({"name": "a", "namespace": "Bad_NS"}),
            true,
            NameRule::Dns1123Subdomain,
        );
        assert_eq!(errors[0].field, "metadata.namespace");
    }

    #[test]
    fn label_key_and_value_errors() {
        let errors = validate_object_meta(
            &json!({"name": "a", "labels": {"bad key": "ok", "good": "bad value", "example.com/app": "x"}}),
            false,
            NameRule::Dns1123Subdomain,
        );
        assert_eq!(
            messages(&errors),
            vec![
                r#"metadata.labels: Invalid value: "bad key": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"#,
                r#"metadata.labels: Invalid value: "bad value": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"#,
            ]
        );
    }

    #[test]
    fn qualified_name_prefix_and_length() {
        assert!(is_qualified_name("app.kubernetes.io/managed-by").is_empty());
        assert_eq!(
            is_qualified_name("/x"),
            vec!["prefix part must be non-empty"]
        );
        assert_eq!(
            is_qualified_name("a/b/c")[0],
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        );
        assert_eq!(
            is_qualified_name(&"a".repeat(64)),
            vec!["name part must be no more than 63 characters"]
        );
        assert_eq!(
            is_qualified_name("Example.com/x")[0],
            "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        );
        assert_eq!(is_qualified_name("x/")[0], "name part must be non-empty");
    }

    #[test]
    fn label_values() {
        assert!(is_valid_label_value("").is_empty());
        assert!(is_valid_label_value("a_b.c-d").is_empty());
        assert_eq!(is_valid_label_value(&"a".repeat(64)).len(), 1);
        assert_eq!(is_valid_label_value("-a").len(), 1);
    }

    #[test]
    fn annotations_case_insensitive_keys_and_size() {
        let errors = validate_object_meta(
            &json!({"name": "a", "annotations": {"Example.COM/Key": "v"}}),
            false,
            NameRule::Dns1123Subdomain,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let errors = validate_object_meta(
            &json!({"name": "a", "annotations": {"k": "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT_BYTES)}}),
            false,
            NameRule::Dns1123Subdomain,
        );
        assert_eq!(
            messages(&errors),
            vec!["metadata.annotations: Too long: may not be more than 262144 bytes"]
        );
    }

    #[test]
    fn finalizers_must_be_qualified_names() {
        let errors = validate_object_meta(
            &json!({"name": "a", "finalizers": ["example.com/cleanup", "bad finalizer"]}),
            false,
            NameRule::Dns1123Subdomain,
        );
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "metadata.finalizers");
        let errors = validate_object_meta(
            &json!({"name": "a", "finalizers": ["orphan", "foregroundDeletion"]}),
            false,
            NameRule::Dns1123Subdomain,
        );
        assert_eq!(
            messages(&errors),
            vec![
                r#"metadata.finalizers: Invalid value: ["orphan","foregroundDeletion"]: finalizer orphan and foregroundDeletion cannot be both set"#
            ]
        );
    }

    #[test]
    fn owner_references() {
        let errors = validate_object_meta(
            &json!({"name": "a", "ownerReferences": [
                {"apiVersion": "", "kind": "", "name": "", "uid": ""},
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "a", "uid": "1", "controller": true},
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "b", "uid": "2", "controller": true}
            ]}),
            false,
            NameRule::Dns1123Subdomain,
        );
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "metadata.ownerReferences.apiVersion",
                "metadata.ownerReferences.kind",
                "metadata.ownerReferences.name",
                "metadata.ownerReferences.uid",
                "metadata.ownerReferences"
            ]
        );
        assert!(errors[4].detail.contains("ConfigMap/a and ConfigMap/b"));
    }

    #[test]
    fn managed_fields_entries() {
        let errors = validate_object_meta(
            &json!({"name": "a", "managedFields": [{"manager": "m", "operation": "Patch", "fieldsType": "FieldsV2"}]}),
            false,
            NameRule::Dns1123Subdomain,
        );
        assert_eq!(
            messages(&errors),
            vec![
                "metadata.managedFields[0].operation: Invalid value: \"Patch\": must be `Apply` or `Update`",
                "metadata.managedFields[0].fieldsType: Invalid value: \"FieldsV2\": must be `FieldsV1`"
            ]
        );
        assert_eq!(
            validate_field_manager(&"m".repeat(129), &FieldPath::new("fieldManager")).len(),
            1
        );
    }

    #[test]
    fn update_checks_immutables_and_resource_version() {
        let old = json!({"name": "a", "uid": "u1", "generation": 3, "resourceVersion": "5", "creationTimestamp": "2024-01-01T00:00:00Z"});
        let new = json!({"name": "b", "uid": "u1", "generation": 2, "creationTimestamp": "2024-01-01T00:00:00Z"});
        let errors = validate_object_meta_update(&new, &old);
        assert_eq!(
            messages(&errors),
            vec![
                "metadata.resourceVersion: Invalid value: \"\": must be specified for an update",
                "metadata.generation: Invalid value: 2: must not be decremented",
                "metadata.name: Invalid value: \"b\": field is immutable",
            ]
        );
        let same = json!({"name": "a", "uid": "u1", "generation": 3, "resourceVersion": "5", "creationTimestamp": "2024-01-01T00:00:00Z"});
        assert!(validate_object_meta_update(&same, &old).is_empty());
    }

    #[test]
    fn no_new_finalizers_while_deleting() {
        let old = json!({"name": "a", "resourceVersion": "1", "deletionTimestamp": "2024-01-01T00:00:00Z", "finalizers": ["a.io/x"]});
        let new = json!({"name": "a", "resourceVersion": "1", "deletionTimestamp": "2024-01-01T00:00:00Z", "finalizers": ["a.io/x", "b.io/y"]});
        let errors = validate_object_meta_update(&new, &old);
        assert_eq!(
            messages(&errors),
            vec![
                "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers [b.io/y]"
            ]
        );
    }

    #[test]
    fn metadata_shapes() {
        assert_eq!(metadata_shape_error(&json!({"labels": {"a": "b"}})), None);
        assert_eq!(
            metadata_shape_error(&json!({"labels": {"a": 1}})),
            Some("metadata.labels.a: must be a string".into())
        );
        assert_eq!(
            metadata_shape_error(&json!({"finalizers": "x"})),
            Some("metadata.finalizers: must be a list of strings".into())
        );
        assert!(metadata_shape_error(&json!(3)).is_some());
    }
}
