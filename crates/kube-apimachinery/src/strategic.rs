//! Strategic merge patch for the built-in kinds the emulator serves, following
//! k8s.io/apimachinery's `strategicpatch` (`mergeMap`, `mergeSlice`, the `$patch`,
//! `$retainKeys`, `$setElementOrder/` and `$deleteFromPrimitiveList/` directives, `null`
//! deleting a key, kube's element-order normalisation) and kube-apiserver's error mapping.
//!
//! Patch strategies come from the `patchStrategy`/`patchMergeKey` tags of the k8s.io/api
//! types (cross-checked against k8s-openapi's merge strategies): merged lists are
//! containers/initContainers/ephemeralContainers (name), volumes (name, retainKeys),
//! imagePullSecrets (name), hostAliases (ip), topologySpreadConstraints (topologyKey),
//! resourceClaims (name), schedulingGates (name), container ports (containerPort), env
//! (name), volumeMounts (mountPath), volumeDevices (devicePath), pod/node/namespace/service
//! status conditions (type), podIPs/hostIPs (ip), node addresses (type), node podCIDRs and
//! metadata finalizers (merged primitives), ownerReferences (uid), service ports (port),
//! service-account secrets (name). Every other list is replaced whole (tolerations, taints,
//! endpoints subsets, NetworkPolicy ingress/egress, Ingress rules, EndpointSlice endpoints,
//! label-selector expressions, ...). Maps are merged.
//!
//! Directive keys left over after merging (kube drops them when decoding into Go structs)
//! are removed from the result. Custom resources do not support strategic merge patch
//! (kube answers 415; that is the emulator's business).
//!
//! The same table gives server-side apply its list semantics for built-in kinds
//! ([`builtin_list_semantics`]), with the `x-kubernetes-list-map-keys` kube publishes
//! (container ports keyed by containerPort and protocol, service ports by port and
//! protocol, topology spread constraints by topologyKey and whenUnsatisfiable).

use serde_json::{Map, Value};

use crate::field_error::go_json;
use crate::merge::PatchError;

/// How a list field is patched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ListMeta {
    /// `None` for a merged list of primitives.
    merge_key: Option<&'static str>,
    /// The keys server-side apply uses (`x-kubernetes-list-map-keys`).
    ssa_keys: &'static [&'static str],
}

/// Patch metadata of one field of a Go type.
#[derive(Debug, Clone, Copy, Default)]
struct FieldMeta {
    /// The Go type of the value (or of list items).
    type_name: Option<&'static str>,
    /// `Some` for lists with `patchStrategy:"merge"`.
    list: Option<ListMeta>,
}

const fn merged(
    type_name: Option<&'static str>,
    merge_key: &'static str,
    ssa_keys: &'static [&'static str],
) -> FieldMeta {
    FieldMeta {
        type_name,
        list: Some(ListMeta {
            merge_key: Some(merge_key),
            ssa_keys,
        }),
    }
}

const fn primitives() -> FieldMeta {
    FieldMeta {
        type_name: None,
        list: Some(ListMeta {
            merge_key: None,
            ssa_keys: &[],
        }),
    }
}

const fn structure(type_name: &'static str) -> FieldMeta {
    FieldMeta {
        type_name: Some(type_name),
        list: None,
    }
}

/// The top-level Go type of a served built-in kind.
fn root_type(group: &str, kind: &str) -> &'static str {
    match (group, kind) {
        ("", "Pod") => "Pod",
        ("", "Service") => "Service",
        ("", "Node") => "Node",
        ("", "Namespace") => "Namespace",
        ("", "ServiceAccount") => "ServiceAccount",
        _ => "Object",
    }
}

fn lookup(type_name: Option<&str>, field: &str) -> FieldMeta {
    let Some(type_name) = type_name else {
        return FieldMeta::default();
    };
    match (type_name, field) {
        (_, "metadata") if type_name != "ObjectMeta" => structure("ObjectMeta"),
        ("ObjectMeta", "finalizers") => primitives(),
        ("ObjectMeta", "ownerReferences") => merged(None, "uid", &["uid"]),
        ("Pod", "spec") => structure("PodSpec"),
        ("Pod", "status") => structure("PodStatus"),
        ("PodSpec", "containers" | "initContainers" | "ephemeralContainers") => {
            merged(Some("Container"), "name", &["name"])
        }
        ("PodSpec", "volumes" | "imagePullSecrets" | "resourceClaims" | "schedulingGates") => {
            merged(None, "name", &["name"])
        }
        ("PodSpec", "hostAliases") => merged(None, "ip", &["ip"]),
        ("PodSpec", "topologySpreadConstraints") => {
            merged(None, "topologyKey", &["topologyKey", "whenUnsatisfiable"])
        }
        ("Container", "ports") => merged(None, "containerPort", &["containerPort", "protocol"]),
        ("Container", "env") => merged(None, "name", &["name"]),
        ("Container", "volumeMounts") => merged(None, "mountPath", &["mountPath"]),
        ("Container", "volumeDevices") => merged(None, "devicePath", &["devicePath"]),
        ("PodStatus", "conditions") => merged(None, "type", &["type"]),
        ("PodStatus", "podIPs" | "hostIPs") => merged(None, "ip", &["ip"]),
        ("PodStatus", "resourceClaimStatuses") => merged(None, "name", &["name"]),
        ("Service", "spec") => structure("ServiceSpec"),
        ("Service", "status") => structure("ServiceStatus"),
        ("ServiceSpec", "ports") => merged(None, "port", &["port", "protocol"]),
        ("ServiceStatus", "conditions") => merged(None, "type", &["type"]),
        ("Node", "spec") => structure("NodeSpec"),
        ("Node", "status") => structure("NodeStatus"),
        ("NodeSpec", "podCIDRs") => primitives(),
        ("NodeStatus", "conditions" | "addresses") => merged(None, "type", &["type"]),
        ("Namespace", "status") => structure("NamespaceStatus"),
        ("NamespaceStatus", "conditions") => merged(None, "type", &["type"]),
        ("ServiceAccount", "secrets") => merged(None, "name", &["name"]),
        _ => FieldMeta::default(),
    }
}

/// How server-side apply treats a list of a built-in kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListSemantics {
    /// Replaced and owned as a whole.
    Atomic,
    /// A set of scalars, owned per value.
    Set,
    /// A map keyed by these fields, owned per entry.
    Map(Vec<String>),
}

/// The list semantics of the field at `path` (field names only, list items skipped) of a
/// built-in kind.
pub fn builtin_list_semantics(group: &str, kind: &str, path: &[&str]) -> ListSemantics {
    let mut type_name = Some(root_type(group, kind));
    let mut meta = FieldMeta::default();
    for field in path {
        meta = lookup(type_name, field);
        type_name = meta.type_name;
    }
    match meta.list {
        None => ListSemantics::Atomic,
        Some(ListMeta {
            merge_key: None, ..
        }) => ListSemantics::Set,
        Some(ListMeta { ssa_keys, .. }) => {
            ListSemantics::Map(ssa_keys.iter().map(|k| k.to_string()).collect())
        }
    }
}

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Applies a strategic merge patch to a built-in object of `group`/`kind`.
pub fn strategic_merge_patch(
    original: &Value,
    patch: &Value,
    group: &str,
    kind: &str,
) -> Result<Value, PatchError> {
    let Value::Object(patch) = patch else {
        return Err(PatchError::bad_request(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            go_kind_name(patch)
        )));
    };
    let original = match original {
        Value::Object(map) => map.clone(),
        Value::Null => Map::new(),
        _ => return Err(PatchError::bad_request("invalid JSON document")),
    };
    let mut merged = merge_map(original, patch.clone(), Some(root_type(group, kind)))?;
    strip_directives(&mut merged);
    Ok(Value::Object(merged))
}

fn go_kind_name(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Null => "null",
        Value::Object(_) => "object",
    }
}

fn strip_directives(map: &mut Map<String, Value>) {
    map.retain(|k, _| {
        !(k == DIRECTIVE
            || k == RETAIN_KEYS
            || k.starts_with(SET_ELEMENT_ORDER)
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST))
    });
    for value in map.values_mut() {
        strip_value(value);
    }
}

fn strip_value(value: &mut Value) {
    match value {
        Value::Object(map) => strip_directives(map),
        Value::Array(items) => items.iter_mut().for_each(strip_value),
        _ => {}
    }
}

fn bad_patch_type(directive: &Value, map: &Map<String, Value>) -> PatchError {
    let directive = directive
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| go_json(directive));
    PatchError::internal(format!(
        "unknown patch type: {directive} in map: {}",
        go_json(&Value::Object(map.clone()))
    ))
}

fn no_merge_key(map: &Map<String, Value>, key: &str) -> PatchError {
    PatchError::internal(format!(
        "map: {} does not contain declared merge key: {key}",
        go_json(&Value::Object(map.clone()))
    ))
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Kind {
    Map,
    List,
    Other,
}

fn kind_of(value: &Value) -> Kind {
    match value {
        Value::Object(_) => Kind::Map,
        Value::Array(_) => Kind::List,
        _ => Kind::Other,
    }
}

/// Element type names as Go's reflect would distinguish them in unstructured content.
fn element_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
    }
}

fn discard_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(discard_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(discard_nulls),
        _ => {}
    }
}

fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    type_name: Option<&str>,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE).cloned() {
        return match directive.as_str() {
            Some("replace") => {
                patch.shift_remove(DIRECTIVE);
                Ok(patch)
            }
            Some("delete") => Ok(Map::new()),
            _ => Err(bad_patch_type(&directive, &patch)),
        };
    }
    apply_retain_keys(&mut original, &mut patch)?;
    merge_set_element_order(&mut original, &mut patch, type_name)?;

    for (key, patch_value) in patch {
        let (key, is_delete_list) = match key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            Some(rest) => (rest.to_string(), true),
            None => (key, false),
        };
        if patch_value.is_null() {
            original.shift_remove(&key);
            continue;
        }
        let Some(original_value) = original.get(&key) else {
            if !is_delete_list {
                let mut value = patch_value;
                discard_nulls(&mut value);
                original.insert(key, value);
            }
            continue;
        };
        if kind_of(original_value) != kind_of(&patch_value) {
            if !is_delete_list {
                let mut value = patch_value;
                discard_nulls(&mut value);
                original.insert(key, value);
            }
            continue;
        }
        let meta = lookup(type_name, &key);
        let slot = original.get_mut(&key).map(std::mem::take);
        let merged_value = match (slot, patch_value) {
            (Some(Value::Object(o)), Value::Object(p)) => {
                Value::Object(merge_map(o, p, meta.type_name)?)
            }
            (Some(Value::Array(o)), Value::Array(p)) => {
                match meta.list {
                    Some(list) => Value::Array(merge_slice(
                        o,
                        p,
                        list.merge_key,
                        meta.type_name,
                        is_delete_list,
                    )?),
                    // Delete lists are merged whatever the field's strategy.
                    None if is_delete_list => Value::Array(merge_slice(o, p, None, None, true)?),
                    None => Value::Array(p),
                }
            }
            (_, p) => p,
        };
        original.insert(key, merged_value);
    }
    Ok(original)
}

fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(retain) = patch.shift_remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(PatchError::bad_request(
            "invalid patch format of retainKeys",
        ));
    };
    let keep: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
    for (key, value) in patch.iter() {
        if value.is_null()
            || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || key.starts_with(SET_ELEMENT_ORDER)
        {
            continue;
        }
        if !keep.contains(&key.as_str()) {
            return Err(PatchError::bad_request(
                "invalid patch format of retainKeys",
            ));
        }
    }
    original.retain(|key, _| keep.contains(&key.as_str()));
    Ok(())
}

fn merge_key_value<'a>(item: &'a Value, key: &str) -> Option<&'a Value> {
    item.as_object().and_then(|m| m.get(key))
}

/// `index()`: position of `item` in `list` (by merge key for maps, by value otherwise).
fn index_of(list: &[Value], item: &Value, merge_key: Option<&str>) -> Option<usize> {
    match merge_key {
        Some(key) if item.is_object() => {
            let wanted = merge_key_value(item, key)?;
            list.iter()
                .position(|candidate| merge_key_value(candidate, key) == Some(wanted))
        }
        _ => list.iter().position(|candidate| candidate == item),
    }
}

fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: Option<&str>,
    item_type: Option<&str>,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let element = slice_element_type(&[&original, &patch])?;
    let (original, patch, merged) = if element != "map" {
        if is_delete_list {
            return Ok(original
                .into_iter()
                .filter(|v| !patch.contains(v))
                .collect());
        }
        let mut merged: Vec<Value> = Vec::new();
        for value in original.iter().chain(patch.iter()) {
            if !merged.contains(value) {
                merged.push(value.clone());
            }
        }
        (original, patch, merged)
    } else {
        let Some(key) = merge_key else {
            return Err(PatchError::internal(
                "cannot merge lists without merge key for ".to_string(),
            ));
        };
        let (original, patch) = merge_slice_with_special_elements(original, patch, key)?;
        let merged =
            merge_slice_without_special_elements(original.clone(), &patch, key, item_type)?;
        (original, patch, merged)
    };
    let key = if element == "map" { merge_key } else { None };
    let (patch_items, server_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|item| index_of(&patch, item, key).is_some());
    normalize_element_order(patch_items, server_only, &patch, &original, key)
}

fn slice_element_type(slices: &[&Vec<Value>]) -> Result<&'static str, PatchError> {
    let mut previous: Option<&'static str> = None;
    for slice in slices {
        for value in slice.iter() {
            let current = element_type(value);
            match previous {
                None => {
                    if current == "slice" {
                        return Err(PatchError {
                            code: 422,
                            reason: "Invalid".into(),
                            message:
                                "the server rejected our request due to an error in our request"
                                    .into(),
                            cause: Some("lists of lists are not supported".into()),
                        });
                    }
                    previous = Some(current);
                }
                Some(p) if p != current => {
                    return Err(PatchError::internal(format!(
                        "list element types are not identical: {}",
                        slices
                            .iter()
                            .map(|s| go_json(&Value::Array(s.to_vec())))
                            .collect::<Vec<_>>()
                            .join(" ")
                    )));
                }
                Some(_) => {}
            }
        }
    }
    previous.ok_or_else(|| PatchError::internal("no elements in any of the given slices"))
}

fn merge_slice_with_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut without_special = Vec::new();
    let mut replace = false;
    for item in patch {
        let Value::Object(map) = &item else {
            without_special.push(item);
            continue;
        };
        match map.get(DIRECTIVE) {
            None => without_special.push(item),
            Some(directive) => match directive.as_str() {
                Some("delete") => {
                    let Some(value) = map.get(merge_key) else {
                        return Err(no_merge_key(map, merge_key));
                    };
                    original.retain(|o| merge_key_value(o, merge_key) != Some(value));
                }
                Some("replace") => replace = true,
                Some("merge") => {
                    return Err(PatchError::internal(
                        "merging lists cannot yet be specified in the patch",
                    ));
                }
                _ => return Err(bad_patch_type(directive, map)),
            },
        }
    }
    if replace {
        Ok((without_special, Vec::new()))
    } else {
        Ok((original, without_special))
    }
}

fn merge_slice_without_special_elements(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    item_type: Option<&str>,
) -> Result<Vec<Value>, PatchError> {
    for item in patch {
        let Value::Object(patch_map) = item else {
            continue;
        };
        let Some(value) = patch_map.get(merge_key) else {
            return Err(no_merge_key(patch_map, merge_key));
        };
        let position = original
            .iter()
            .position(|o| merge_key_value(o, merge_key) == Some(value));
        match position {
            Some(i) => {
                let original_map = match std::mem::take(&mut original[i]) {
                    Value::Object(m) => m,
                    _ => Map::new(),
                };
                original[i] = Value::Object(merge_map(original_map, patch_map.clone(), item_type)?);
            }
            None => original.push(item.clone()),
        }
    }
    Ok(original)
}

/// `normalizeElementOrder`: patch items in patch order, server-only items in live order,
/// interleaved by their live positions.
fn normalize_element_order(
    mut patch_items: Vec<Value>,
    mut server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: Option<&str>,
) -> Result<Vec<Value>, PatchError> {
    if let Some(key) = merge_key {
        for item in patch_items
            .iter()
            .chain(server_only.iter())
            .chain(patch_order.iter())
            .chain(server_order.iter())
        {
            if let Value::Object(map) = item
                && !map.contains_key(key)
            {
                return Err(no_merge_key(map, key));
            }
        }
    }
    sort_by_order(&mut patch_items, patch_order, merge_key);
    sort_by_order(&mut server_only, server_order, merge_key);
    // mergeSortedSlice(left = server-only, right = patch items)
    let mut result = Vec::with_capacity(patch_items.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = patch_items.into_iter().peekable();
    loop {
        match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => result.extend(left.next()),
            (None, Some(_)) => result.extend(right.next()),
            (Some(l), Some(r)) => {
                let li = index_of(server_order, l, merge_key);
                let ri = index_of(server_order, r, merge_key);
                match (li, ri) {
                    (Some(li), Some(ri)) if li < ri => result.extend(left.next()),
                    _ => result.extend(right.next()),
                }
            }
        }
    }
    Ok(result)
}

fn sort_by_order(items: &mut [Value], order: &[Value], merge_key: Option<&str>) {
    items.sort_by_key(|item| index_of(order, item, merge_key).unwrap_or(usize::MAX));
}

/// `mergePatchIntoOriginal`: lists that carry a `$setElementOrder/<field>` directive.
fn merge_set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    type_name: Option<&str>,
) -> Result<(), PatchError> {
    let directives: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for directive in directives {
        let Some(Value::Array(order)) = patch.get(&directive).cloned() else {
            return Err(PatchError::bad_request(
                "invalid patch format of setElementOrder list",
            ));
        };
        let field = directive[SET_ELEMENT_ORDER.len()..].to_string();
        let meta = lookup(type_name, &field);
        let merge_key = meta.list.and_then(|l| l.merge_key);
        let original_list = match original.get(&field) {
            None => None,
            Some(Value::Array(items)) => Some(items.clone()),
            Some(_) => return Err(PatchError::internal(format!("{field}: not a list"))),
        };
        let patch_list = match patch.get(&field) {
            None => None,
            Some(Value::Array(items)) => Some(items.clone()),
            Some(_) => {
                return Err(PatchError::bad_request(
                    "invalid patch format of setElementOrder list",
                ));
            }
        };
        let merged = match (&original_list, &patch_list) {
            (Some(o), None) => o.clone(),
            (None, Some(p)) => {
                let mut p = Value::Array(p.clone());
                strip_value(&mut p);
                match p {
                    Value::Array(items) => items,
                    _ => Vec::new(),
                }
            }
            (Some(o), Some(p)) => match meta.list {
                Some(list) => {
                    merge_slice(o.clone(), p.clone(), list.merge_key, meta.type_name, false)?
                }
                None => p.clone(),
            },
            (None, None) => continue,
        };
        let all: Vec<&Value> = original_list
            .iter()
            .flatten()
            .chain(patch_list.iter().flatten())
            .collect();
        let key = if all.iter().any(|v| v.is_object()) {
            merge_key
        } else {
            None
        };
        let (patch_items, server_only): (Vec<Value>, Vec<Value>) = merged
            .into_iter()
            .partition(|item| index_of(&order, item, key).is_some());
        let both = normalize_element_order(
            patch_items,
            server_only,
            &order,
            original_list.as_deref().unwrap_or(&[]),
            key,
        )?;
        original.insert(field.clone(), Value::Array(both));
        patch.shift_remove(&field);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod_patch(original: Value, patch: Value) -> Value {
        strategic_merge_patch(&original, &patch, "", "Pod").expect("patch applies")
    }

    #[test]
    fn containers_merge_by_name() {
        let original = json!({"spec": {"containers": [
            {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
            {"name": "b", "image": "b:1"}
        ]}});
        let result = pod_patch(
            original,
            json!({"spec": {"containers": [{"name": "a", "image": "a:2", "env": [{"name": "Y", "value": "2"}]}]}}),
        );
        assert_eq!(
            result["spec"]["containers"],
            json!([
                // kube puts patch items missing from the live list before the live ones
                {"name": "a", "image": "a:2", "env": [{"name": "Y", "value": "2"}, {"name": "X", "value": "1"}]},
                {"name": "b", "image": "b:1"}
            ])
        );
    }

    #[test]
    fn new_patch_items_go_before_later_server_items() {
        let original =
            json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}});
        let result = pod_patch(
            original,
            json!({"spec": {"containers": [{"name": "b", "image": "x"}, {"name": "d"}]}}),
        );
        let names: Vec<&str> = result["spec"]["containers"]
            .as_array()
            .expect("list")
            .iter()
            .map(|c| c["name"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(names, vec!["a", "b", "d", "c"]);
    }

    #[test]
    fn delete_directive_in_list_and_null_deletes_key() {
        let original = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        let result = pod_patch(
            original,
            json!({"metadata": {"labels": {"a": null, "c": "3"}}, "spec": {"containers": [{"name": "a", "$patch": "delete"}]}}),
        );
        assert_eq!(result["metadata"]["labels"], json!({"b": "2", "c": "3"}));
        assert_eq!(result["spec"]["containers"], json!([{"name": "b"}]));
    }

    #[test]
    fn replace_directives() {
        let original = json!({"spec": {"containers": [{"name": "a", "image": "x"}], "securityContext": {"runAsUser": 1, "fsGroup": 2}}});
        let result = pod_patch(
            original,
            json!({"spec": {
                "containers": [{"name": "z"}, {"$patch": "replace"}],
                "securityContext": {"$patch": "replace", "runAsNonRoot": true}
            }}),
        );
        assert_eq!(result["spec"]["containers"], json!([{"name": "z"}]));
        assert_eq!(
            result["spec"]["securityContext"],
            json!({"runAsNonRoot": true})
        );
        let result = pod_patch(
            json!({"spec": {"securityContext": {"runAsUser": 1}}}),
            json!({"spec": {"securityContext": {"$patch": "delete"}}}),
        );
        assert_eq!(result["spec"]["securityContext"], json!({}));
    }

    #[test]
    fn atomic_lists_are_replaced() {
        let original = json!({"spec": {"tolerations": [{"key": "a"}, {"key": "b"}], "containers": [{"name": "c", "args": ["1", "2"]}]}});
        let result = pod_patch(
            original,
            json!({"spec": {"tolerations": [{"key": "c"}], "containers": [{"name": "c", "args": ["3"]}]}}),
        );
        assert_eq!(result["spec"]["tolerations"], json!([{"key": "c"}]));
        assert_eq!(result["spec"]["containers"][0]["args"], json!(["3"]));
        let netpol = strategic_merge_patch(
            &json!({"spec": {"ingress": [{"from": [{"podSelector": {}}]}], "podSelector": {"matchLabels": {"a": "b"}}}}),
            &json!({"spec": {"ingress": [], "podSelector": {"matchLabels": {"c": "d"}}}}),
            "networking.k8s.io",
            "NetworkPolicy",
        )
        .expect("applies");
        assert_eq!(
            netpol,
            json!({"spec": {"ingress": [], "podSelector": {"matchLabels": {"a": "b", "c": "d"}}}})
        );
        let node = strategic_merge_patch(
            &json!({"spec": {"taints": [{"key": "a", "effect": "NoSchedule"}]}}),
            &json!({"spec": {"taints": [{"key": "b", "effect": "NoSchedule"}]}}),
            "",
            "Node",
        )
        .expect("applies");
        assert_eq!(
            node["spec"]["taints"],
            json!([{"key": "b", "effect": "NoSchedule"}])
        );
    }

    #[test]
    fn finalizers_merge_as_primitives_and_delete_from_primitive_list() {
        let original = json!({"metadata": {"finalizers": ["a", "b"]}});
        let result = pod_patch(
            original.clone(),
            json!({"metadata": {"finalizers": ["c", "a"]}}),
        );
        assert_eq!(result["metadata"]["finalizers"], json!(["c", "a", "b"]));
        let result = pod_patch(
            original,
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
        );
        assert_eq!(result["metadata"], json!({"finalizers": ["b"]}));
    }

    #[test]
    fn owner_references_merge_by_uid() {
        let original = json!({"metadata": {"ownerReferences": [{"uid": "1", "name": "x"}]}});
        let result = strategic_merge_patch(
            &original,
            &json!({"metadata": {"ownerReferences": [{"uid": "2", "name": "y"}]}}),
            "",
            "ConfigMap",
        )
        .expect("applies");
        assert_eq!(
            result["metadata"]["ownerReferences"],
            json!([{"uid": "2", "name": "y"}, {"uid": "1", "name": "x"}])
        );
    }

    #[test]
    fn service_ports_and_node_status() {
        let service = strategic_merge_patch(
            &json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}}),
            &json!({"spec": {"ports": [{"port": 443, "targetPort": 8443}]}}),
            "",
            "Service",
        )
        .expect("applies");
        assert_eq!(
            service["spec"]["ports"],
            json!([{"port": 80, "name": "http"}, {"port": 443, "name": "https", "targetPort": 8443}])
        );
        let node = strategic_merge_patch(
            &json!({"status": {"conditions": [{"type": "Ready", "status": "False"}], "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}}),
            &json!({"status": {"conditions": [{"type": "Ready", "status": "True"}], "addresses": [{"type": "Hostname", "address": "n1"}]}}),
            "",
            "Node",
        )
        .expect("applies");
        assert_eq!(
            node["status"]["conditions"],
            json!([{"type": "Ready", "status": "True"}])
        );
        assert_eq!(
            node["status"]["addresses"].as_array().map(Vec::len),
            Some(2)
        );
    }

    #[test]
    fn retain_keys_clears_other_fields() {
        let original = json!({"spec": {"volumes": [{"name": "v", "emptyDir": {}}]}});
        let result = pod_patch(
            original,
            json!({"spec": {"volumes": [{"name": "v", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/x"}}]}}),
        );
        assert_eq!(
            result["spec"]["volumes"],
            json!([{"name": "v", "hostPath": {"path": "/x"}}])
        );
        let err = strategic_merge_patch(
            &json!({"spec": {"volumes": [{"name": "v"}]}}),
            &json!({"spec": {"volumes": [{"name": "v", "$retainKeys": ["name"], "hostPath": {}}]}}),
            "",
            "Pod",
        )
        .expect_err("field outside retainKeys");
        assert_eq!(err.code, 400);
        assert_eq!(err.message, "invalid patch format of retainKeys");
    }

    #[test]
    fn set_element_order() {
        let original =
            json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}});
        let result = pod_patch(
            original,
            json!({"spec": {
                "$setElementOrder/containers": [{"name": "c"}, {"name": "b"}, {"name": "a"}],
                "containers": [{"name": "b", "image": "x"}]
            }}),
        );
        let names: Vec<&str> = result["spec"]["containers"]
            .as_array()
            .expect("list")
            .iter()
            .map(|c| c["name"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(names, vec!["c", "b", "a"]);
        assert!(result["spec"].get("$setElementOrder/containers").is_none());
    }

    #[test]
    fn errors() {
        let err = strategic_merge_patch(&json!({}), &json!([1]), "", "Pod").expect_err("not a map");
        assert_eq!(err.code, 400);
        let err = pod_patch_err(
            json!({"spec": {"containers": [{"name": "a"}]}}),
            json!({"spec": {"containers": [{"image": "x"}]}}),
        );
        assert_eq!(
            err.message,
            r#"map: {"image":"x"} does not contain declared merge key: name"#
        );
        let err = pod_patch_err(json!({"spec": {}}), json!({"spec": {"$patch": "merge"}}));
        assert!(err.message.starts_with("unknown patch type: merge in map"));
    }

    fn pod_patch_err(original: Value, patch: Value) -> PatchError {
        strategic_merge_patch(&original, &patch, "", "Pod").expect_err("patch fails")
    }

    fn arb_container() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        (
            "[a-c]",
            proptest::option::of("[x-z]"),
            proptest::collection::btree_map("[A-C]", "[0-2]", 0..3),
        )
            .prop_map(|(name, image, env)| {
                let mut c = json!({"name": name});
                if let Some(image) = image {
                    c["image"] = json!(image);
                }
                c["env"] = Value::Array(
                    env.into_iter()
                        .map(|(n, v)| json!({"name": n, "value": v}))
                        .collect(),
                );
                c
            })
    }

    fn dedup_by_name(items: Vec<Value>) -> Vec<Value> {
        let mut seen = Vec::new();
        items
            .into_iter()
            .filter(|c| {
                let name = c["name"].clone();
                let fresh = !seen.contains(&name);
                seen.push(name);
                fresh
            })
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn applying_a_patch_twice_changes_nothing_more(
            live in proptest::collection::vec(arb_container(), 0..4),
            patch in proptest::collection::vec(arb_container(), 0..3),
            finalizers in proptest::collection::vec("[a-d]", 0..3),
        ) {
            let original = json!({"metadata": {"finalizers": ["a"]}, "spec": {"containers": dedup_by_name(live)}});
            let patch = json!({"metadata": {"finalizers": finalizers}, "spec": {"containers": dedup_by_name(patch)}});
            let once = strategic_merge_patch(&original, &patch, "", "Pod").expect("applies");
            let twice = strategic_merge_patch(&once, &patch, "", "Pod").expect("applies again");
            proptest::prop_assert_eq!(&once, &twice);
            let identity = strategic_merge_patch(&once, &json!({}), "", "Pod").expect("empty patch");
            proptest::prop_assert_eq!(once, identity);
        }
    }

    #[test]
    fn list_semantics_for_apply() {
        assert_eq!(
            builtin_list_semantics("", "Pod", &["spec", "containers"]),
            ListSemantics::Map(vec!["name".into()])
        );
        assert_eq!(
            builtin_list_semantics("", "Pod", &["spec", "containers", "ports"]),
            ListSemantics::Map(vec!["containerPort".into(), "protocol".into()])
        );
        assert_eq!(
            builtin_list_semantics("", "Pod", &["metadata", "finalizers"]),
            ListSemantics::Set
        );
        assert_eq!(
            builtin_list_semantics("", "Node", &["spec", "taints"]),
            ListSemantics::Atomic
        );
        assert_eq!(
            builtin_list_semantics(
                "coordination.k8s.io",
                "Lease",
                &["metadata", "ownerReferences"]
            ),
            ListSemantics::Map(vec!["uid".into()])
        );
    }
}
