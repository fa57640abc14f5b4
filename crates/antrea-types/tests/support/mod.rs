//! Helpers shared by the integration tests: loading Antrea's real CRD manifests and walking
//! OpenAPI schemas.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};

/// `shared/antrea-crds/v2.7.0`, next to the workspace.
pub fn manifests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/antrea-crds/v2.7.0")
}

/// The real manifest `<file>.yaml` as JSON.
pub fn real_crd(file: &str) -> Value {
    let path = manifests_dir().join(format!("{file}.yaml"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    serde_saphyr::from_str(&text)
        .unwrap_or_else(|error| panic!("parsing {}: {error}", path.display()))
}

/// The `openAPIV3Schema` of the first version of a CRD (as JSON).
pub fn crd_schema(crd: &Value) -> Value {
    crd.pointer("/spec/versions/0/schema/openAPIV3Schema")
        .cloned()
        .unwrap_or(Value::Null)
}

/// Keywords that constrain values, compared between our schema and the real one.
const CONSTRAINT_KEYWORDS: &[&str] = &[
    "type",
    "enum",
    "minimum",
    "maximum",
    "pattern",
    "format",
    "required",
    "minProperties",
    "maxProperties",
    "maxItems",
    "oneOf",
    "anyOf",
    "default",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
];

/// Every schema node by path (`.a.b[]`, `{}` for additionalProperties) with its constraint
/// keywords, normalised: numbers compared as f64, `enum` and `required` sorted, integer
/// formats dropped.
pub fn schema_nodes(schema: &Value) -> BTreeMap<String, BTreeMap<String, Value>> {
    let mut nodes = BTreeMap::new();
    walk(schema, String::new(), &mut nodes);
    nodes
}

fn walk(schema: &Value, path: String, nodes: &mut BTreeMap<String, BTreeMap<String, Value>>) {
    let mut constraints = BTreeMap::new();
    for keyword in CONSTRAINT_KEYWORDS {
        if let Some(value) = schema.get(*keyword) {
            constraints.insert((*keyword).to_owned(), normalise(keyword, value, schema));
        }
    }
    constraints.retain(|_, value| !value.is_null());
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, child) in properties {
            walk(child, format!("{path}.{name}"), nodes);
        }
    }
    if let Some(items) = schema.get("items") {
        walk(items, format!("{path}[]"), nodes);
    }
    if let Some(additional) = schema
        .get("additionalProperties")
        .filter(|value| value.is_object())
    {
        walk(additional, format!("{path}{{}}"), nodes);
    }
    nodes.insert(path, constraints);
}

fn normalise(keyword: &str, value: &Value, schema: &Value) -> Value {
    match keyword {
        "minimum" | "maximum" => json!(value.as_f64()),
        "enum" => {
            let mut values: Vec<Value> = value
                .as_array()
                .map(|values| {
                    values
                        .iter()
                        .filter(|value| !value.is_null())
                        .map(|value| {
                            value
                                .as_f64()
                                .map(|number| json!(number))
                                .unwrap_or_else(|| value.clone())
                        })
                        .collect()
                })
                .unwrap_or_default();
            values.sort_by_key(Value::to_string);
            Value::Array(values)
        }
        "required" => {
            let mut names: Vec<String> = value
                .as_array()
                .map(|names| {
                    names
                        .iter()
                        .filter_map(|name| name.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            if names.is_empty() {
                Value::Null
            } else {
                json!(names)
            }
        }
        // Integer and number formats (int32, int64, double, float) are not validated by the
        // API server; only string formats matter.
        "format" if schema.get("type").and_then(Value::as_str) != Some("string") => Value::Null,
        _ => value.clone(),
    }
}
