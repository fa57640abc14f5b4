//! Structural-schema enforcement for custom resources: what kube-apiserver does with a CRD
//! version's `openAPIV3Schema` on every write.
//!
//! [`StructuralSchema::admit`] runs kube's pipeline in its order:
//! 1. pruning (`structuralpruning.Prune`): fields not declared in `properties` (or covered
//!    by `additionalProperties`) are dropped unless `x-kubernetes-preserve-unknown-fields`;
//!    the root and every `x-kubernetes-embedded-resource` keep `apiVersion`, `kind` and
//!    `metadata` (unknown fields inside an embedded resource's `metadata` are dropped, as
//!    `objectmeta.Coerce` does; the root's metadata is the emulator's business);
//! 2. `PruneNonNullableNullsWithoutDefaults`: `null` object fields whose schema is not
//!    `nullable` and has no `default` are removed;
//! 3. defaulting (`structuraldefaulting.Default`): `default`s of missing (or non-nullable
//!    `null`) properties, items and additionalProperties, at every depth;
//! 4. validation by the kube-openapi validator kube uses (`validate.SchemaValidator`), then
//!    embedded-resource metadata checks (`objectmeta.Validate`), then
//!    `x-kubernetes-list-type` set/map uniqueness (`listtype.ValidateListSetsAndMaps`).
//!
//! Messages and field paths are kube's: go-openapi's `"<path> in body ..."` texts converted
//! to field errors as `kubeOpenAPIResultToFieldErrors` does (composite `oneOf`/`anyOf`/
//! `allOf`/`not` failures carry the field `<nil>` exactly as kube-apiserver reports them).
//! Formats are validated only where kube validates them: kube strips every format outside
//! its list (`int32`, `int64`, `float`, `double`, `ip`, ... are not checked); `cidr`,
//! `ipv4`, `ipv6`, `date-time`, `date`, `duration`, `byte`, `uuid*`, `hostname`, `mac`,
//! `hexcolor`, `rgbcolor`, `ssn`, `bsonobjectid`, `isbn*`, `creditcard`, `uri`, `email`,
//! `password` are.
//!
//! Known gaps: CEL rules (`x-kubernetes-validations`) are not evaluated; validation
//! ratcheting is not applied; `email` and `uri` use simplified syntax checks; go-openapi
//! visits object properties in Go map order (random), we visit them in schema order.

use std::net::Ipv6Addr;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::field_error::{FieldError, FieldPath, go_json, go_quote};
use crate::validation::{NameRule, is_dns1035_label, validate_object_meta_at};

/// A schema kube would reject, or that this crate cannot enforce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid schema at {path}: {message}")]
pub struct SchemaError {
    pub path: String,
    pub message: String,
}

/// `additionalProperties`: a boolean or a schema.
#[derive(Debug, Clone)]
pub(crate) enum Additional {
    Allows(bool),
    Schema(Box<Node>),
}

/// One schema node (structural part plus value validations).
#[derive(Debug, Clone, Default)]
pub(crate) struct Node {
    /// Type names used for validation (`["integer", "string"]` for int-or-string).
    pub(crate) types: Vec<String>,
    pub(crate) nullable: bool,
    /// The format when kube validates it (as written, e.g. `date-time`).
    pub(crate) format: Option<String>,
    pub(crate) properties: Vec<(String, Node)>,
    pub(crate) additional: Option<Additional>,
    pub(crate) items: Option<Box<Node>>,
    pub(crate) preserve_unknown: bool,
    pub(crate) embedded_resource: bool,
    pub(crate) default: Option<Value>,
    pub(crate) enum_values: Option<Vec<Value>>,
    pub(crate) maximum: Option<f64>,
    pub(crate) exclusive_maximum: bool,
    pub(crate) minimum: Option<f64>,
    pub(crate) exclusive_minimum: bool,
    pub(crate) multiple_of: Option<f64>,
    pub(crate) max_length: Option<i64>,
    pub(crate) min_length: Option<i64>,
    pub(crate) pattern: Option<(String, Regex)>,
    pub(crate) max_items: Option<i64>,
    pub(crate) min_items: Option<i64>,
    pub(crate) unique_items: bool,
    pub(crate) max_properties: Option<i64>,
    pub(crate) min_properties: Option<i64>,
    pub(crate) required: Vec<String>,
    pub(crate) all_of: Vec<Node>,
    pub(crate) one_of: Vec<Node>,
    pub(crate) any_of: Vec<Node>,
    pub(crate) not: Option<Box<Node>>,
    pub(crate) list_type: Option<String>,
    pub(crate) list_map_keys: Vec<String>,
    pub(crate) map_type: Option<String>,
}

impl Node {
    pub(crate) fn property(&self, name: &str) -> Option<&Node> {
        self.properties
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, node)| node)
    }

    fn additional_schema(&self) -> Option<&Node> {
        match &self.additional {
            Some(Additional::Schema(node)) => Some(node),
            _ => None,
        }
    }

    /// The schema of a map entry: the property's, else additionalProperties'.
    pub(crate) fn field(&self, name: &str) -> Option<&Node> {
        self.property(name).or_else(|| self.additional_schema())
    }

    pub(crate) fn item(&self) -> Option<&Node> {
        self.items.as_deref()
    }
}

/// Formats kube-apiserver validates in CRD schemas (normalized without '-').
const SUPPORTED_FORMATS: &[&str] = &[
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "datetime",
];

fn schema_error(path: &str, message: impl Into<String>) -> SchemaError {
    SchemaError {
        path: if path.is_empty() {
            "<root>".into()
        } else {
            path.into()
        },
        message: message.into(),
    }
}

fn opt_f64(map: &Map<String, Value>, key: &str, path: &str) -> Result<Option<f64>, SchemaError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(schema_error(path, format!("{key} must be a number"))),
    }
}

fn opt_i64(map: &Map<String, Value>, key: &str, path: &str) -> Result<Option<i64>, SchemaError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| schema_error(path, format!("{key} must be an integer"))),
        Some(_) => Err(schema_error(path, format!("{key} must be an integer"))),
    }
}

fn opt_bool(map: &Map<String, Value>, key: &str, path: &str) -> Result<bool, SchemaError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(schema_error(path, format!("{key} must be a boolean"))),
    }
}

fn opt_string(
    map: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<String>, SchemaError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(schema_error(path, format!("{key} must be a string"))),
    }
}

fn parse_node(value: &Value, path: &str) -> Result<Node, SchemaError> {
    let Some(map) = value.as_object() else {
        return Err(schema_error(path, "a schema must be an object"));
    };
    let mut node = Node::default();
    let int_or_string = opt_bool(map, "x-kubernetes-int-or-string", path)?;
    if let Some(t) = opt_string(map, "type", path)? {
        if !matches!(
            t.as_str(),
            "object" | "array" | "string" | "integer" | "number" | "boolean"
        ) {
            return Err(schema_error(path, format!("unsupported type {t:?}")));
        }
        node.types = vec![t];
    }
    if int_or_string {
        node.types = vec!["integer".into(), "string".into()];
    }
    node.nullable = opt_bool(map, "nullable", path)?;
    if let Some(format) = opt_string(map, "format", path)?
        && SUPPORTED_FORMATS.contains(&format.replace('-', "").as_str())
    {
        node.format = Some(format);
    }
    if let Some(properties) = map.get("properties") {
        let Some(properties) = properties.as_object() else {
            return Err(schema_error(path, "properties must be an object"));
        };
        for (name, sub) in properties {
            node.properties
                .push((name.clone(), parse_node(sub, &format!("{path}.{name}"))?));
        }
    }
    match map.get("additionalProperties") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => node.additional = Some(Additional::Allows(*b)),
        Some(sub) => {
            node.additional = Some(Additional::Schema(Box::new(parse_node(
                sub,
                &format!("{path}.additionalProperties"),
            )?)))
        }
    }
    match map.get("items") {
        None | Some(Value::Null) => {}
        Some(Value::Array(_)) => {
            return Err(schema_error(path, "items must be a single schema"));
        }
        Some(sub) => node.items = Some(Box::new(parse_node(sub, &format!("{path}[*]"))?)),
    }
    node.preserve_unknown = opt_bool(map, "x-kubernetes-preserve-unknown-fields", path)?;
    node.embedded_resource = opt_bool(map, "x-kubernetes-embedded-resource", path)?;
    node.default = map.get("default").cloned();
    if let Some(values) = map.get("enum") {
        let Some(values) = values.as_array() else {
            return Err(schema_error(path, "enum must be a list"));
        };
        node.enum_values = Some(values.clone());
    }
    node.maximum = opt_f64(map, "maximum", path)?;
    node.exclusive_maximum = opt_bool(map, "exclusiveMaximum", path)?;
    node.minimum = opt_f64(map, "minimum", path)?;
    node.exclusive_minimum = opt_bool(map, "exclusiveMinimum", path)?;
    node.multiple_of = opt_f64(map, "multipleOf", path)?;
    node.max_length = opt_i64(map, "maxLength", path)?;
    node.min_length = opt_i64(map, "minLength", path)?;
    if let Some(pattern) = opt_string(map, "pattern", path)? {
        let regex = Regex::new(&pattern)
            .map_err(|e| schema_error(path, format!("invalid pattern {pattern:?}: {e}")))?;
        node.pattern = Some((pattern, regex));
    }
    node.max_items = opt_i64(map, "maxItems", path)?;
    node.min_items = opt_i64(map, "minItems", path)?;
    node.unique_items = opt_bool(map, "uniqueItems", path)?;
    node.max_properties = opt_i64(map, "maxProperties", path)?;
    node.min_properties = opt_i64(map, "minProperties", path)?;
    if let Some(required) = map.get("required") {
        let Some(required) = required.as_array() else {
            return Err(schema_error(path, "required must be a list"));
        };
        for name in required {
            let Some(name) = name.as_str() else {
                return Err(schema_error(path, "required entries must be strings"));
            };
            node.required.push(name.to_string());
        }
    }
    for (key, target) in [
        ("allOf", &mut node.all_of),
        ("oneOf", &mut node.one_of),
        ("anyOf", &mut node.any_of),
    ] {
        if let Some(list) = map.get(key) {
            let Some(list) = list.as_array() else {
                return Err(schema_error(path, format!("{key} must be a list")));
            };
            for (i, sub) in list.iter().enumerate() {
                target.push(parse_node(sub, &format!("{path}.{key}[{i}]"))?);
            }
        }
    }
    if let Some(sub) = map.get("not") {
        node.not = Some(Box::new(parse_node(sub, &format!("{path}.not"))?));
    }
    node.list_type = opt_string(map, "x-kubernetes-list-type", path)?;
    if let Some(keys) = map.get("x-kubernetes-list-map-keys") {
        let Some(keys) = keys.as_array() else {
            return Err(schema_error(
                path,
                "x-kubernetes-list-map-keys must be a list",
            ));
        };
        node.list_map_keys = keys
            .iter()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect();
    }
    node.map_type = opt_string(map, "x-kubernetes-map-type", path)?;
    if node.list_type.as_deref() == Some("map") && node.list_map_keys.is_empty() {
        return Err(schema_error(
            path,
            "x-kubernetes-list-type map requires x-kubernetes-list-map-keys",
        ));
    }
    Ok(node)
}

/// A CRD version's `openAPIV3Schema`, ready to prune, default and validate objects.
#[derive(Debug, Clone)]
pub struct StructuralSchema {
    pub(crate) root: Node,
}

impl StructuralSchema {
    /// Parses an `openAPIV3Schema`.
    pub fn new(schema: &Value) -> Result<Self, SchemaError> {
        Ok(StructuralSchema {
            root: parse_node(schema, "")?,
        })
    }

    /// Prunes, defaults and validates `obj` in place, in kube-apiserver's order. On error
    /// the object is left pruned and defaulted (kube discards it anyway).
    pub fn admit(&self, obj: &mut Value) -> Result<(), Vec<FieldError>> {
        self.prune(obj);
        self.apply_defaults(obj);
        let errors = self.validate(obj);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Pruning plus removal of non-nullable nulls without defaults (the decoding step).
    pub fn prune(&self, obj: &mut Value) {
        prune_node(obj, Some(&self.root), true);
        prune_nulls(obj, Some(&self.root));
    }

    /// Applies `default`s.
    pub fn apply_defaults(&self, obj: &mut Value) {
        apply_defaults(obj, &self.root);
    }

    /// Validates without modifying: schema validation, embedded-resource metadata, list
    /// types, in kube's order.
    pub fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let (schema_errors, _) = validate_node(&self.root, "", obj, true);
        errors.extend(
            schema_errors
                .into_iter()
                .map(ValidationError::into_field_error),
        );
        validate_embedded(&self.root, &FieldPath::nil(), obj, true, &mut errors);
        validate_list_types(&self.root, &FieldPath::nil(), obj, &mut errors);
        errors
    }
}

// ---------------------------------------------------------------------------------------
// Pruning and defaulting

const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// ObjectMeta's JSON fields (unknown ones are dropped from embedded metadata).
const OBJECT_META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

fn prune_node(value: &mut Value, node: Option<&Node>, embedded_root: bool) {
    let embedded = embedded_root || node.is_some_and(|n| n.embedded_resource);
    if let Some(node) = node
        && node.preserve_unknown
    {
        skip_prune(value, node, embedded);
        return;
    }
    match value {
        Value::Object(map) => {
            let Some(node) = node else {
                map.clear();
                return;
            };
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                if embedded && META_FIELDS.contains(&key.as_str()) {
                    if !embedded_root && key == "metadata" {
                        coerce_embedded_metadata(map.get_mut(&key));
                    }
                    continue;
                }
                if let Some(prop) = node.property(&key) {
                    if let Some(child) = map.get_mut(&key) {
                        prune_node(child, Some(prop), false);
                    }
                } else if let Some(additional) = &node.additional {
                    let sub = match additional {
                        Additional::Schema(schema) => Some(schema.as_ref()),
                        Additional::Allows(_) => None,
                    };
                    if let Some(child) = map.get_mut(&key) {
                        prune_node(child, sub, false);
                    }
                } else {
                    map.shift_remove(&key);
                }
            }
        }
        Value::Array(items) => {
            let item_node = node.and_then(Node::item);
            for item in items {
                prune_node(item, item_node, false);
            }
        }
        _ => {}
    }
}

fn skip_prune(value: &mut Value, node: &Node, embedded: bool) {
    match value {
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                if embedded && META_FIELDS.contains(&key.as_str()) {
                    continue;
                }
                let sub = node
                    .property(&key)
                    .map(Some)
                    .or_else(|| match &node.additional {
                        Some(Additional::Schema(schema)) => Some(Some(schema.as_ref())),
                        Some(Additional::Allows(_)) => Some(None),
                        None => None,
                    });
                if let (Some(sub), Some(child)) = (sub, map.get_mut(&key)) {
                    prune_node(child, sub, false);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_node) = node.item() {
                for item in items {
                    skip_prune(item, item_node, false);
                }
            }
        }
        _ => {}
    }
}

fn coerce_embedded_metadata(metadata: Option<&mut Value>) {
    if let Some(Value::Object(meta)) = metadata {
        meta.retain(|key, _| OBJECT_META_FIELDS.contains(&key.as_str()));
    }
}

fn prune_nulls(value: &mut Value, node: Option<&Node>) {
    match value {
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let sub = node.and_then(|n| n.field(&key));
                let remove = map.get(&key).is_some_and(Value::is_null)
                    && sub.is_some_and(|s| !s.nullable && s.default.is_none());
                if remove {
                    map.shift_remove(&key);
                } else if let Some(child) = map.get_mut(&key) {
                    prune_nulls(child, sub);
                }
            }
        }
        Value::Array(items) => {
            let item_node = node.and_then(Node::item);
            for item in items {
                prune_nulls(item, item_node);
            }
        }
        _ => {}
    }
}

fn is_non_nullable_null(value: &Value, node: Option<&Node>) -> bool {
    value.is_null() && node.is_some_and(|n| !n.nullable)
}

fn apply_defaults(value: &mut Value, node: &Node) {
    match value {
        Value::Object(map) => {
            for (key, prop) in &node.properties {
                let Some(default) = &prop.default else {
                    continue;
                };
                let missing = match map.get(key) {
                    None => true,
                    Some(v) => is_non_nullable_null(v, Some(prop)),
                };
                if missing {
                    map.insert(key.clone(), default.clone());
                }
            }
            let additional = node.additional_schema();
            for (key, child) in map.iter_mut() {
                if let Some(prop) = node.property(key) {
                    apply_defaults(child, prop);
                } else if let Some(additional) = additional {
                    if is_non_nullable_null(child, Some(additional))
                        && let Some(default) = &additional.default
                    {
                        *child = default.clone();
                    }
                    apply_defaults(child, additional);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_node) = node.item() {
                for item in items {
                    if is_non_nullable_null(item, Some(item_node))
                        && let Some(default) = &item_node.default
                    {
                        *item = default.clone();
                    }
                    apply_defaults(item, item_node);
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------
// Validation (kube-openapi's SchemaValidator)

/// A go-openapi error before conversion to a field error.
#[derive(Debug, Clone)]
enum ValidationError {
    /// An `errors.Validation` (has a name/path).
    Validation {
        code: Code,
        name: String,
        value: Option<Value>,
        message: String,
        /// For enum failures: the allowed values.
        values: Vec<Value>,
        /// `Valid()`: the bound for TooLong / TooMany.
        bound: Option<i64>,
    },
    /// A composite error (`errors.New(422, ...)`): oneOf/anyOf/allOf/not.
    Composite(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Code {
    InvalidType,
    Required,
    TooLong,
    TooShort,
    Pattern,
    Enum,
    MultipleOf,
    Max,
    Min,
    Unique,
    MaxItems,
    MinItems,
    TooFewProperties,
    TooManyProperties,
    UnallowedProperty,
}

impl ValidationError {
    fn validation(code: Code, name: &str, value: Option<Value>, message: String) -> Self {
        ValidationError::Validation {
            code,
            name: name.to_string(),
            value,
            message,
            values: Vec::new(),
            bound: None,
        }
    }

    /// `kubeOpenAPIResultToFieldErrors` with a nil root path.
    fn into_field_error(self) -> FieldError {
        match self {
            ValidationError::Composite(message) => {
                FieldError::invalid(FieldPath::nil(), Value::String(String::new()), message)
            }
            ValidationError::Validation {
                code,
                name,
                value,
                message,
                values,
                bound,
            } => {
                let trimmed = name.strip_prefix('.').unwrap_or(&name);
                let field = if name.is_empty() || name == "." {
                    FieldPath::nil()
                } else {
                    FieldPath::new(trimmed)
                };
                let value_or_empty = value.clone().unwrap_or(Value::String(String::new()));
                match code {
                    Code::Required => FieldError::required(field, ""),
                    Code::Enum => {
                        let allowed: Vec<String> = values
                            .iter()
                            .map(|v| match v {
                                Value::String(s) => s.clone(),
                                other => go_json(other),
                            })
                            .collect();
                        FieldError::not_supported(field, value.unwrap_or(Value::Null), &allowed)
                    }
                    Code::TooLong => FieldError::too_long(field, bound.unwrap_or(-1)),
                    Code::MaxItems | Code::TooManyProperties => {
                        let actual = value.as_ref().and_then(Value::as_i64).unwrap_or(-1);
                        FieldError::too_many(field, actual, bound.unwrap_or(-1))
                    }
                    Code::InvalidType => FieldError::type_invalid(field, value_or_empty, message),
                    _ => FieldError::invalid(field, value_or_empty, message),
                }
            }
        }
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The go-openapi format name of a decoded value (`schemaInfoForType`).
fn data_format(value: &Value) -> &'static str {
    match value {
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        _ => "",
    }
}

fn is_json_integer(f: f64) -> bool {
    f.is_finite() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0
}

/// go-openapi's `%v` of a float64 bound, or of an int64 for integer data.
fn bound_text(bound: f64, integer_data: bool) -> String {
    if integer_data {
        (bound as i64).to_string()
    } else {
        crate::field_error::go_float_g(bound)
    }
}

type Outcome = (Vec<ValidationError>, u64);

/// `SchemaValidator.Validate`: returns the errors and go-openapi's MatchCount.
fn validate_node(node: &Node, path: &str, data: &Value, root: bool) -> Outcome {
    let mut errors = Vec::new();
    let mut count = 0u64;
    if data.is_null() {
        // type validator (run even when it would not "apply", as go-openapi does)
        if !node.types.is_empty() && !node.nullable {
            errors.push(type_error(path, &node.types.join(","), "null"));
        } else {
            count += 1;
        }
        // common (enum) validator
        if let Some(err) = enum_check(node, path, data) {
            errors.push(err);
        }
        return (errors, count);
    }

    // type validator
    if !node.types.is_empty() || node.format.is_some() {
        match type_check(node, path, data) {
            None => count += 2,
            Some(err) => {
                errors.push(err);
                count += 1;
            }
        }
    }
    // schema props validator (allOf/oneOf/anyOf/not): always applies
    let (props_errors, props_count) = validate_schema_props(node, path, data);
    errors.extend(props_errors);
    count += props_count + 1;
    if let Value::String(s) = data {
        // string validator
        if let Some(err) = string_check(node, path, s) {
            errors.push(err);
        }
        count += 1;
        // format validator
        if let Some(format) = &node.format {
            if !format_valid(format, s) {
                errors.push(ValidationError::validation(
                    Code::InvalidType,
                    path,
                    Some(Value::String(s.clone())),
                    format!("{path} in body must be of type {format}: {}", go_quote(s)),
                ));
            }
            count += 1;
        }
    }
    if let Value::Number(_) = data {
        errors.extend(number_check(node, path, data));
        count += 2;
    }
    if let Value::Array(items) = data {
        let (slice_errors, slice_count) = slice_check(node, path, items);
        errors.extend(slice_errors);
        count += slice_count + 2;
    }
    // common validator
    if let Some(err) = enum_check(node, path, data) {
        errors.push(err);
    }
    count += 1;
    if let Value::Object(map) = data {
        let (object_errors, object_count) = object_check(node, path, map, root);
        errors.extend(object_errors);
        count += object_count + 1;
    }
    (errors, count + 1)
}

fn type_error(path: &str, types: &str, actual: &str) -> ValidationError {
    ValidationError::validation(
        Code::InvalidType,
        path,
        Some(Value::String(actual.to_string())),
        format!(
            "{path} in body must be of type {types}: {}",
            go_quote(actual)
        ),
    )
}

/// `typeValidator.Validate` for non-null data.
fn type_check(node: &Node, path: &str, data: &Value) -> Option<ValidationError> {
    let sch_type = json_type(data);
    let contains = |t: &str| node.types.iter().any(|x| x == t);
    let is_float_int =
        sch_type == "number" && data.as_f64().is_some_and(is_json_integer) && contains("integer");
    let is_int_float = sch_type == "integer" && contains("number");
    let is_string_or_slice = matches!(data, Value::String(_) | Value::Array(_));
    if let Some(format) = &node.format {
        let data_fmt = data_format(data);
        if !is_string_or_slice
            && !contains(sch_type)
            && data_fmt != format
            && !is_float_int
            && !is_int_float
        {
            return Some(ValidationError::validation(
                Code::InvalidType,
                path,
                Some(Value::String(data_fmt.to_string())),
                format!(
                    "{path} in body must be of type {format}: {}",
                    go_quote(data_fmt)
                ),
            ));
        }
        if !(contains("number") || contains("integer")) && is_string_or_slice {
            return None;
        }
    }
    if node.types.is_empty() || contains(sch_type) || is_float_int || is_int_float {
        None
    } else {
        Some(type_error(path, &node.types.join(","), sch_type))
    }
}

fn validate_schema_props(node: &Node, path: &str, data: &Value) -> Outcome {
    let mut errors = Vec::new();
    let mut count = 0u64;
    if !node.any_of.is_empty() {
        let mut best: Option<Outcome> = None;
        let mut first_success: Option<Outcome> = None;
        for sub in &node.any_of {
            let outcome = validate_node(sub, path, data, false);
            if outcome.0.is_empty() {
                best = None;
                first_success = Some(outcome);
                break;
            }
            if best.as_ref().is_none_or(|b| outcome.1 > b.1) {
                best = Some(outcome);
            }
        }
        if first_success.is_none() {
            errors.push(ValidationError::Composite(format!(
                "{} must validate at least one schema (anyOf)",
                go_quote(path)
            )));
        }
        if let Some((e, c)) = best.or(first_success) {
            errors.extend(e);
            count += c;
        }
    }
    if !node.one_of.is_empty() {
        let mut best: Option<Outcome> = None;
        let mut first_success: Option<Outcome> = None;
        let mut validated = 0;
        for sub in &node.one_of {
            let outcome = validate_node(sub, path, data, false);
            if outcome.0.is_empty() {
                validated += 1;
                best = None;
                if first_success.is_none() {
                    first_success = Some(outcome);
                }
                continue;
            }
            if validated == 0 && best.as_ref().is_none_or(|b| outcome.1 > b.1) {
                best = Some(outcome);
            }
        }
        if validated != 1 {
            let additional = if validated == 0 {
                "Found none valid".to_string()
            } else {
                format!("Found {validated} valid alternatives")
            };
            errors.push(ValidationError::Composite(format!(
                "{} must validate one and only one schema (oneOf). {additional}",
                go_quote(path)
            )));
            if let Some((e, c)) = best {
                errors.extend(e);
                count += c;
            }
        } else if let Some((e, c)) = first_success {
            errors.extend(e);
            count += c;
        }
    }
    if !node.all_of.is_empty() {
        let mut validated = 0;
        for sub in &node.all_of {
            let (e, c) = validate_node(sub, path, data, false);
            if e.is_empty() {
                validated += 1;
            }
            errors.extend(e);
            count += c;
        }
        if validated != node.all_of.len() {
            let additional = if validated == 0 {
                ". None validated"
            } else {
                ""
            };
            errors.push(ValidationError::Composite(format!(
                "{} must validate all the schemas (allOf){additional}",
                go_quote(path)
            )));
        }
    }
    if let Some(not) = &node.not {
        let (e, _) = validate_node(not, path, data, false);
        if e.is_empty() {
            errors.push(ValidationError::Composite(format!(
                "{} must not validate the schema (not)",
                go_quote(path)
            )));
        }
    }
    (errors, count + 1)
}

/// `stringValidator`: only the first failure is reported.
fn string_check(node: &Node, path: &str, s: &str) -> Option<ValidationError> {
    let length = s.chars().count() as i64;
    if let Some(max) = node.max_length
        && length > max
    {
        let mut err = ValidationError::validation(
            Code::TooLong,
            path,
            Some(Value::String(s.into())),
            format!("{path} in body should be at most {max} chars long"),
        );
        if let ValidationError::Validation { bound, .. } = &mut err {
            *bound = Some(max);
        }
        return Some(err);
    }
    if let Some(min) = node.min_length
        && length < min
    {
        return Some(ValidationError::validation(
            Code::TooShort,
            path,
            Some(Value::String(s.into())),
            format!("{path} in body should be at least {min} chars long"),
        ));
    }
    if let Some((pattern, regex)) = &node.pattern
        && !regex.is_match(s)
    {
        return Some(ValidationError::validation(
            Code::Pattern,
            path,
            Some(Value::String(s.into())),
            format!("{path} in body should match '{pattern}'"),
        ));
    }
    None
}

/// `numberValidator`: multipleOf, minimum, maximum (integers compared against truncated
/// bounds, as go-openapi does for int64 data).
fn number_check(node: &Node, path: &str, data: &Value) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    let integer = data.as_i64();
    let float = data.as_f64().unwrap_or(0.0);
    if let Some(factor) = node.multiple_of {
        let failed = match integer {
            Some(i) => {
                let f = factor as i64;
                f != 0 && i % f != 0
            }
            None => {
                let mult = if factor < 1.0 {
                    1.0 / factor * float
                } else {
                    float / factor
                };
                !is_json_integer(mult)
            }
        };
        if failed {
            errors.push(ValidationError::validation(
                Code::MultipleOf,
                path,
                Some(data.clone()),
                format!(
                    "{path} in body should be a multiple of {}",
                    bound_text(factor, integer.is_some())
                ),
            ));
        }
    }
    if let Some(min) = node.minimum {
        let failed = match integer {
            Some(i) => {
                let m = min as i64;
                if node.exclusive_minimum {
                    i <= m
                } else {
                    i < m
                }
            }
            None => {
                if node.exclusive_minimum {
                    float <= min
                } else {
                    float < min
                }
            }
        };
        if failed {
            let op = if node.exclusive_minimum {
                "greater than"
            } else {
                "greater than or equal to"
            };
            errors.push(ValidationError::validation(
                Code::Min,
                path,
                Some(data.clone()),
                format!(
                    "{path} in body should be {op} {}",
                    bound_text(min, integer.is_some())
                ),
            ));
        }
    }
    if let Some(max) = node.maximum {
        let failed = match integer {
            Some(i) => {
                let m = max as i64;
                if node.exclusive_maximum {
                    i >= m
                } else {
                    i > m
                }
            }
            None => {
                if node.exclusive_maximum {
                    float >= max
                } else {
                    float > max
                }
            }
        };
        if failed {
            let op = if node.exclusive_maximum {
                "less than"
            } else {
                "less than or equal to"
            };
            errors.push(ValidationError::validation(
                Code::Max,
                path,
                Some(data.clone()),
                format!(
                    "{path} in body should be {op} {}",
                    bound_text(max, integer.is_some())
                ),
            ));
        }
    }
    errors
}

fn slice_check(node: &Node, path: &str, items: &[Value]) -> Outcome {
    let mut errors = Vec::new();
    let mut count = 0;
    if let Some(item_node) = node.item() {
        for (i, item) in items.iter().enumerate() {
            let (e, c) = validate_node(item_node, &format!("{path}[{i}]"), item, false);
            errors.extend(e);
            count += c;
        }
    }
    let size = items.len() as i64;
    if let Some(min) = node.min_items
        && size < min
    {
        errors.push(ValidationError::validation(
            Code::MinItems,
            path,
            Some(Value::from(size)),
            format!("{path} in body should have at least {min} items"),
        ));
    }
    if let Some(max) = node.max_items
        && size > max
    {
        let mut err = ValidationError::validation(
            Code::MaxItems,
            path,
            Some(Value::from(size)),
            format!("{path} in body should have at most {max} items"),
        );
        if let ValidationError::Validation { bound, .. } = &mut err {
            *bound = Some(max);
        }
        errors.push(err);
    }
    if node.unique_items {
        let mut seen: Vec<&Value> = Vec::new();
        for item in items {
            if seen.contains(&item) {
                errors.push(ValidationError::validation(
                    Code::Unique,
                    path,
                    None,
                    format!("{path} in body shouldn't contain duplicates"),
                ));
                break;
            }
            seen.push(item);
        }
    }
    (errors, count)
}

/// Go's `reflect` comparison after converting the data to the enum value's type.
fn enum_matches(data: &Value, allowed: &Value) -> bool {
    match (data, allowed) {
        (Value::Number(d), Value::Number(a)) => {
            if a.is_f64() {
                d.as_f64() == a.as_f64()
            } else if let Some(a) = a.as_i64() {
                match d.as_i64() {
                    Some(d) => d == a,
                    None => d.as_f64().map(|f| f as i64) == Some(a),
                }
            } else {
                d == a
            }
        }
        _ => data == allowed,
    }
}

fn enum_check(node: &Node, path: &str, data: &Value) -> Option<ValidationError> {
    let allowed = node.enum_values.as_ref()?;
    if allowed.is_empty() || (!data.is_null() && allowed.iter().any(|a| enum_matches(data, a))) {
        return None;
    }
    let rendered: Vec<String> = allowed.iter().map(go_v_any).collect();
    Some(ValidationError::Validation {
        code: Code::Enum,
        name: path.to_string(),
        value: Some(data.clone()),
        message: format!("{path} in body should be one of [{}]", rendered.join(" ")),
        values: allowed.clone(),
        bound: None,
    })
}

/// `%v` of an `interface{}` holding decoded JSON (only used in enum messages).
fn go_v_any(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => crate::field_error::go_number_v(n),
        Value::Bool(b) => b.to_string(),
        Value::Null => "<nil>".into(),
        other => go_json(other),
    }
}

fn object_check(node: &Node, path: &str, map: &Map<String, Value>, root: bool) -> Outcome {
    let mut errors = Vec::new();
    let mut count = 0;
    let num_keys = map.len() as i64;
    if let Some(min) = node.min_properties
        && num_keys < min
    {
        errors.push(ValidationError::validation(
            Code::TooFewProperties,
            path,
            Some(Value::from(num_keys)),
            format!("{path} in body should have at least {min} properties"),
        ));
        return (errors, 0);
    }
    if let Some(max) = node.max_properties
        && num_keys > max
    {
        let mut err = ValidationError::validation(
            Code::TooManyProperties,
            path,
            Some(Value::from(num_keys)),
            format!("{path} in body should have at most {max} properties"),
        );
        if let ValidationError::Validation { bound, .. } = &mut err {
            *bound = Some(max);
        }
        errors.push(err);
        return (errors, 0);
    }
    match &node.additional {
        Some(Additional::Allows(false)) => {
            for key in map.keys() {
                if node.property(key).is_none() && !(root && META_FIELDS.contains(&key.as_str())) {
                    errors.push(ValidationError::validation(
                        Code::UnallowedProperty,
                        path,
                        Some(Value::String(key.clone())),
                        format!("{path}.{key} in body is a forbidden property"),
                    ));
                }
            }
        }
        Some(Additional::Schema(additional)) => {
            for (key, value) in map {
                if node.property(key).is_none() {
                    let (e, c) = validate_node(additional, &format!("{path}.{key}"), value, false);
                    errors.extend(e);
                    count += c;
                }
            }
        }
        _ => {}
    }
    for (name, prop) in &node.properties {
        if let Some(value) = map.get(name) {
            let child_path = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            let (e, c) = validate_node(prop, &child_path, value, false);
            errors.extend(e);
            count += c;
        }
    }
    for name in &node.required {
        if !map.contains_key(name) {
            errors.push(ValidationError::validation(
                Code::Required,
                &format!("{path}.{name}"),
                None,
                format!("{path}.{name} in body is required"),
            ));
        }
    }
    (errors, count)
}

// ---------------------------------------------------------------------------------------
// Embedded resources and list types

fn validate_embedded(
    node: &Node,
    path: &FieldPath,
    value: &Value,
    root: bool,
    errors: &mut Vec<FieldError>,
) {
    match value {
        Value::Object(map) => {
            if node.embedded_resource && !root {
                validate_embedded_resource(path, map, errors);
            }
            for (key, child) in map {
                if let Some(prop) = node.property(key) {
                    validate_embedded(prop, &path.child(key), child, false, errors);
                } else if let Some(additional) = node.additional_schema() {
                    validate_embedded(additional, &path.key(key), child, false, errors);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_node) = node.item() {
                for (i, item) in items.iter().enumerate() {
                    validate_embedded(item_node, &path.index(i), item, false, errors);
                }
            }
        }
        _ => {}
    }
}

fn validate_embedded_resource(
    path: &FieldPath,
    map: &Map<String, Value>,
    errors: &mut Vec<FieldError>,
) {
    if !map.contains_key("apiVersion") {
        errors.push(FieldError::required(path.child("apiVersion"), ""));
    }
    if !map.contains_key("kind") {
        errors.push(FieldError::required(path.child("kind"), ""));
    }
    for (key, value) in map {
        match key.as_str() {
            "apiVersion" => match value.as_str() {
                None => errors.push(FieldError::invalid(
                    path.child("apiVersion"),
                    value.clone(),
                    "must be a string",
                )),
                Some("") => errors.push(FieldError::invalid(
                    path.child("apiVersion"),
                    value.clone(),
                    "must not be empty",
                )),
                Some(api_version) if api_version.matches('/').count() > 1 => {
                    errors.push(FieldError::invalid(
                        path.child("apiVersion"),
                        value.clone(),
                        format!("unexpected GroupVersion string: {api_version}"),
                    ))
                }
                Some(_) => {}
            },
            "kind" => match value.as_str() {
                None => errors.push(FieldError::invalid(
                    path.child("kind"),
                    value.clone(),
                    "must be a string",
                )),
                Some("") => errors.push(FieldError::invalid(
                    path.child("kind"),
                    value.clone(),
                    "must not be empty",
                )),
                Some(kind) => {
                    let kind_errors = is_dns1035_label(&kind.to_lowercase());
                    if !kind_errors.is_empty() {
                        errors.push(FieldError::invalid(
                            path.child("kind"),
                            value.clone(),
                            format!(
                                "may have mixed case, but should otherwise match: {}",
                                kind_errors.join(",")
                            ),
                        ));
                    }
                }
            },
            "metadata" => {
                let mut meta = value.clone();
                if let Value::Object(m) = &mut meta
                    && m.get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .is_empty()
                {
                    m.insert("name".into(), Value::String("fakename".into()));
                }
                let namespaced = meta
                    .get("namespace")
                    .and_then(Value::as_str)
                    .is_some_and(|ns| !ns.is_empty());
                errors.extend(validate_object_meta_at(
                    &meta,
                    namespaced,
                    NameRule::PathSegment,
                    &path.child("metadata"),
                ));
            }
            _ => {}
        }
    }
}

fn validate_list_types(node: &Node, path: &FieldPath, value: &Value, errors: &mut Vec<FieldError>) {
    match value {
        Value::Object(map) => {
            if let Some(additional) = node.additional_schema() {
                for (key, child) in map {
                    validate_list_types(additional, &path.key(key), child, errors);
                }
            }
            for (key, child) in map {
                if let Some(prop) = node.property(key) {
                    validate_list_types(prop, &path.child(key), child, errors);
                }
            }
        }
        Value::Array(items) => {
            match node.list_type.as_deref() {
                Some("set") => {
                    for i in first_duplicates(items.iter()) {
                        errors.push(FieldError::duplicate(path.index(i), items[i].clone()));
                    }
                }
                Some("map") => validate_list_map(node, path, items, errors),
                _ => {}
            }
            if let Some(item_node) = node.item() {
                for (i, item) in items.iter().enumerate() {
                    validate_list_types(item_node, &path.index(i), item, errors);
                }
            }
        }
        _ => {}
    }
}

/// Indices of the second occurrence of each repeated value (`validateListSet`).
fn first_duplicates<'a>(items: impl Iterator<Item = &'a Value>) -> Vec<usize> {
    let mut seen: Vec<(String, usize)> = Vec::new();
    let mut duplicates = Vec::new();
    for (i, item) in items.enumerate() {
        let key = go_json(item);
        match seen.iter_mut().find(|(k, _)| *k == key) {
            Some((_, times)) => {
                *times += 1;
                if *times == 2 {
                    duplicates.push(i);
                }
            }
            None => seen.push((key, 1)),
        }
    }
    duplicates
}

fn validate_list_map(node: &Node, path: &FieldPath, items: &[Value], errors: &mut Vec<FieldError>) {
    for (i, item) in items.iter().enumerate() {
        if !item.is_null() && !item.is_object() {
            errors.push(FieldError::invalid(
                path.index(i),
                item.clone(),
                "must be an object for an array of list-type map",
            ));
            return;
        }
    }
    if items.len() <= 1 {
        return;
    }
    let keys: Vec<Value> = items
        .iter()
        .map(|item| {
            let mut key = Map::new();
            if let Some(map) = item.as_object() {
                for name in &node.list_map_keys {
                    if let Some(v) = map.get(name) {
                        key.insert(name.clone(), v.clone());
                    }
                }
            }
            Value::Object(key)
        })
        .collect();
    for i in first_duplicates(keys.iter()) {
        errors.push(FieldError::duplicate(path.index(i), keys[i].clone()));
    }
}

// ---------------------------------------------------------------------------------------
// Formats (kube-openapi strfmt)

static HOSTNAME_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|([a-zA-Z0-9\p{S}\p{L}](([a-zA-Z0-9-\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)(\.)){1,}([a-zA-Z\p{L}]){2,63})$").expect("static regex")
});
static UUID_RE: LazyLock<[Regex; 4]> = LazyLock::new(|| {
    [
        r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$",
        r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$",
        r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$",
        r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$",
    ]
    .map(|p| Regex::new(p).expect("static regex"))
});
static BASE64_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$")
        .expect("static regex")
});
static DATETIME_TIME_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$")
        .expect("static regex")
});
static DURATION_WORDS_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"((\d+)\s*([A-Za-zµ]+))").expect("static regex"));
static GO_DURATION_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$")
        .expect("static regex")
});
static HEXCOLOR_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$").expect("static regex"));
static RGBCOLOR_RE: LazyLock<Regex> = LazyLock::new(|| {
    let part = r"(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])";
    Regex::new(&format!(r"^rgb\(\s*{part}\s*,\s*{part}\s*,\s*{part}\s*\)$")).expect("static regex")
});
static SSN_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$").expect("static regex"));

/// `ParseIPSloppy`: IPv4 with leading zeros tolerated, or IPv6.
fn parse_ip_sloppy(s: &str) -> bool {
    parse_ipv4_sloppy(s) || s.parse::<Ipv6Addr>().is_ok()
}

fn parse_ipv4_sloppy(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

fn is_cidr(s: &str) -> bool {
    let Some((ip, prefix)) = s.split_once('/') else {
        return false;
    };
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(bits) = prefix.parse::<u32>() else {
        return false;
    };
    if parse_ipv4_sloppy(ip) {
        bits <= 32
    } else if ip.parse::<Ipv6Addr>().is_ok() {
        bits <= 128
    } else {
        false
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Ok(year), Ok(month), Ok(day)) = (
        s[0..4].parse::<i32>(),
        s[5..7].parse::<u32>(),
        s[8..10].parse::<u32>(),
    ) else {
        return false;
    };
    if !s[0..4].bytes().all(|c| c.is_ascii_digit())
        || !s[5..7].bytes().all(|c| c.is_ascii_digit())
        || !s[8..10].bytes().all(|c| c.is_ascii_digit())
    {
        return false;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

fn is_date_time(s: &str) -> bool {
    if s.len() < 4 {
        return false;
    }
    let lower = s.to_lowercase();
    let parts: Vec<&str> = lower.split('t').collect();
    if parts.len() < 2 || !is_date(parts[0]) {
        return false;
    }
    let Some(captures) = DATETIME_TIME_RE.captures(parts[1]) else {
        return false;
    };
    &captures[1] <= "23" && &captures[2] <= "59" && &captures[3] <= "59"
}

fn is_duration(s: &str) -> bool {
    if GO_DURATION_RE.is_match(s) {
        return true;
    }
    const UNITS: &[&str] = &[
        "ns",
        "nanosecond",
        "nanoseconds",
        "us",
        "µs",
        "microsecond",
        "microseconds",
        "ms",
        "millisecond",
        "milliseconds",
        "s",
        "sec",
        "second",
        "seconds",
        "m",
        "min",
        "minute",
        "minutes",
        "h",
        "hr",
        "hour",
        "hours",
        "d",
        "day",
        "days",
        "w",
        "wk",
        "week",
        "weeks",
    ];
    DURATION_WORDS_RE.captures_iter(s).any(|c| {
        let unit = c[3].trim().to_lowercase();
        c[2].parse::<i64>().is_ok() && UNITS.contains(&unit.as_str())
    })
}

fn is_mac(s: &str) -> bool {
    let valid_len = |n: usize| matches!(n, 6 | 8 | 20);
    if s.contains(':') || s.contains('-') {
        let sep = if s.contains(':') { ':' } else { '-' };
        let groups: Vec<&str> = s.split(sep).collect();
        valid_len(groups.len())
            && groups
                .iter()
                .all(|g| g.len() == 2 && g.bytes().all(|b| b.is_ascii_hexdigit()))
    } else {
        let groups: Vec<&str> = s.split('.').collect();
        valid_len(groups.len() * 2)
            && groups
                .iter()
                .all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_hexdigit()))
    }
}

fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                *d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn isbn_digits(s: &str) -> Vec<char> {
    s.chars().filter(|c| *c != '-' && *c != ' ').collect()
}

fn is_isbn10(s: &str) -> bool {
    let chars = isbn_digits(s);
    if chars.len() != 10 {
        return false;
    }
    let mut sum = 0;
    for (i, c) in chars.iter().enumerate() {
        let value = match c {
            'X' if i == 9 => 10,
            c if c.is_ascii_digit() => c.to_digit(10).unwrap_or(0),
            _ => return false,
        };
        sum += (i as u32 + 1) * value;
    }
    sum % 11 == 0
}

fn is_isbn13(s: &str) -> bool {
    let chars = isbn_digits(s);
    if chars.len() != 13 || !chars.iter().all(char::is_ascii_digit) {
        return false;
    }
    let sum: u32 = chars
        .iter()
        .enumerate()
        .map(|(i, c)| c.to_digit(10).unwrap_or(0) * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    sum.is_multiple_of(10)
}

fn is_credit_card(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    (12..=19).contains(&digits.len()) && luhn(&digits)
}

fn format_valid(format: &str, s: &str) -> bool {
    match format.replace('-', "").as_str() {
        "ipv4" => parse_ip_sloppy(s) && s.contains('.'),
        "ipv6" => s.parse::<Ipv6Addr>().is_ok() && s.contains(':'),
        "cidr" => is_cidr(s),
        "datetime" => is_date_time(s),
        "date" => is_date(s),
        "duration" => is_duration(s),
        "byte" => BASE64_RE.is_match(s),
        "password" => true,
        "uuid" => UUID_RE[0].is_match(s),
        "uuid3" => UUID_RE[1].is_match(s),
        "uuid4" => UUID_RE[2].is_match(s),
        "uuid5" => UUID_RE[3].is_match(s),
        "hostname" => {
            HOSTNAME_RE.is_match(s) && s.len() <= 255 && s.split('.').all(|p| p.len() <= 63)
        }
        "mac" => is_mac(s),
        "hexcolor" => HEXCOLOR_RE.is_match(s),
        "rgbcolor" => RGBCOLOR_RE.is_match(s),
        "ssn" => SSN_RE.is_match(s),
        "bsonobjectid" => s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()),
        "isbn" => is_isbn10(s) || is_isbn13(s),
        "isbn10" => is_isbn10(s),
        "isbn13" => is_isbn13(s),
        "creditcard" => is_credit_card(s),
        "uri" => {
            !s.is_empty()
                && !s.chars().any(|c| c.is_whitespace() || c.is_control())
                && (s.starts_with('/')
                    || s.split_once(':').is_some_and(|(scheme, _)| {
                        !scheme.is_empty()
                            && scheme
                                .chars()
                                .next()
                                .is_some_and(|c| c.is_ascii_alphabetic())
                            && scheme
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                    }))
        }
        "email" => {
            let address = match (s.find('<'), s.rfind('>')) {
                (Some(start), Some(end)) if start < end => &s[start + 1..end],
                _ => s,
            };
            address.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && !address.chars().any(char::is_whitespace)
            })
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests;
