//! Schema building blocks for the generated CRDs.
//!
//! Antrea shares Go types between kinds (one `Rule`, one `AppliedTo`, one `NetworkPolicyPeer`)
//! while each CRD manifest only lists the fields that make sense where the type is used: the
//! ACNP policy-level `appliedTo` has no `externalEntitySelector`, an ingress rule has no `to`,
//! the ingress `igmpType` enum differs from the egress one, and so on. The Rust types mirror the
//! Go types; the functions here, used through `#[schemars(schema_with = ...)]`, cut the derived
//! schema down to what each real manifest declares, so that the API server (or the emulator)
//! prunes exactly what the real one prunes.

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Value, json};

/// The label-value pattern Antrea's manifests put on `matchLabels` and `matchExpressions` values.
pub const LABEL_VALUE_PATTERN: &str = "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$";

/// The `logLabel` pattern of the policy manifests (at most 63 characters).
pub const LOG_LABEL_PATTERN: &str = "^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$";

fn to_schema(value: Value) -> Schema {
    Schema::try_from(value).unwrap_or_default()
}

fn selector_value(match_labels: Value, value_items: Value) -> Value {
    json!({
        "type": "object",
        "properties": {
            "matchExpressions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "key": {"type": "string"},
                        "operator": {"type": "string", "enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                        "values": {"type": "array", "items": value_items}
                    }
                }
            },
            "matchLabels": match_labels
        }
    })
}

/// A `LabelSelector` as the policy and ClusterGroup manifests declare it: label values must
/// match [`LABEL_VALUE_PATTERN`], `matchExpressions` items have no required field.
pub fn label_selector(_: &mut SchemaGenerator) -> Schema {
    to_schema(selector_value(
        json!({
            "type": "object",
            "additionalProperties": {"type": "string", "pattern": LABEL_VALUE_PATTERN}
        }),
        json!({"type": "string", "pattern": LABEL_VALUE_PATTERN}),
    ))
}

/// A `LabelSelector` as the SupportBundleCollection manifest declares it: `matchLabels` is
/// kept as-is (`x-kubernetes-preserve-unknown-fields`), `matchExpressions` values are checked.
pub fn label_selector_preserving_match_labels(_: &mut SchemaGenerator) -> Schema {
    to_schema(selector_value(
        json!({"x-kubernetes-preserve-unknown-fields": true}),
        json!({"type": "string", "pattern": LABEL_VALUE_PATTERN}),
    ))
}

/// A `LabelSelector` as the Group manifest declares it: `matchLabels` kept as-is and no
/// pattern on `matchExpressions` values.
pub fn label_selector_unchecked(_: &mut SchemaGenerator) -> Schema {
    to_schema(selector_value(
        json!({"x-kubernetes-preserve-unknown-fields": true}),
        json!({"type": "string"}),
    ))
}

/// A string with no format (the manifests declare several timestamps as plain strings).
pub fn plain_string(_: &mut SchemaGenerator) -> Schema {
    to_schema(json!({"type": "string"}))
}

/// The inline schema of `T` under the caller's settings.
pub(crate) fn inline_schema_for<T: JsonSchema>(generator: &SchemaGenerator) -> Value {
    let mut inline = generator
        .settings()
        .clone()
        .with(|settings| settings.inline_subschemas = true)
        .into_generator();
    inline.subschema_for::<T>().to_value()
}

/// Navigates a schema by a compact path: `.name` enters `properties.name`, `[]` enters `items`.
/// Returns `None` when the path does not exist.
pub(crate) fn node_mut<'a>(schema: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    let mut node = schema;
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("[]") {
            node = node.get_mut("items")?;
            rest = after;
        } else if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            node = node.get_mut("properties")?.get_mut(&after[..end])?;
            rest = &after[end..];
        } else {
            return None;
        }
    }
    Some(node)
}

/// Keeps only the listed properties of the object schema at `path` (and their `required`).
pub(crate) fn retain_properties(schema: &mut Value, path: &str, keep: &[&str]) {
    let Some(node) = node_mut(schema, path) else {
        return;
    };
    if let Some(properties) = node.get_mut("properties").and_then(Value::as_object_mut) {
        properties.retain(|name, _| keep.contains(&name.as_str()));
    }
    if let Some(required) = node.get_mut("required").and_then(Value::as_array_mut) {
        required.retain(|name| name.as_str().is_some_and(|name| keep.contains(&name)));
    }
}

/// Sets `key` to `value` on the schema at `path`.
pub(crate) fn set_keyword(schema: &mut Value, path: &str, key: &str, value: Value) {
    if let Some(node) = node_mut(schema, path).and_then(Value::as_object_mut) {
        node.insert(key.to_owned(), value);
    }
}

/// Removes `key` from the schema at `path`.
pub(crate) fn remove_keyword(schema: &mut Value, path: &str, key: &str) {
    if let Some(node) = node_mut(schema, path).and_then(Value::as_object_mut) {
        node.remove(key);
    }
}

/// Adds `name` to the `required` list of the object schema at `path`.
pub(crate) fn require(schema: &mut Value, path: &str, name: &str) {
    if let Some(node) = node_mut(schema, path).and_then(Value::as_object_mut) {
        let required = node.entry("required").or_insert_with(|| json!([]));
        if let Some(list) = required.as_array_mut()
            && !list.iter().any(|existing| existing == name)
        {
            list.push(json!(name));
        }
    }
}

/// Finishes a surgery: converts back to a schemars [`Schema`].
pub(crate) fn finish(value: Value) -> Schema {
    to_schema(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_mut_walks_properties_and_items() {
        let mut schema =
            json!({"properties": {"a": {"items": {"properties": {"b": {"type": "string"}}}}}});
        assert_eq!(
            node_mut(&mut schema, ".a[].b").cloned(),
            Some(json!({"type": "string"}))
        );
        assert!(node_mut(&mut schema, ".a.b").is_none());
        assert!(node_mut(&mut schema, "x").is_none());
    }

    #[test]
    fn retain_and_require_edit_the_addressed_node() {
        let mut schema = json!({"properties": {"o": {"properties": {"x": {}, "y": {}}, "required": ["x", "y"]}}});
        retain_properties(&mut schema, ".o", &["y"]);
        require(&mut schema, ".o", "z");
        assert_eq!(
            schema,
            json!({"properties": {"o": {"properties": {"y": {}}, "required": ["y", "z"]}}})
        );
    }
}
