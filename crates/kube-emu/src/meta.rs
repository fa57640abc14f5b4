//! Small helpers over an object's `metadata` and the server's clock.

use serde_json::{Map, Value, json};

/// `metadata` as a map, created if missing or not an object.
pub(crate) fn meta_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({});
    }
    object["metadata"]
        .as_object_mut()
        .expect("metadata was just made an object")
}

/// A string field of `metadata` ("" when absent).
pub(crate) fn meta_str<'a>(object: &'a Value, key: &str) -> &'a str {
    object
        .get("metadata")
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

pub(crate) fn has_meta(object: &Value, key: &str) -> bool {
    object
        .get("metadata")
        .and_then(|m| m.get(key))
        .is_some_and(|v| !v.is_null())
}

/// `metadata.finalizers`.
pub(crate) fn finalizers(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The current time as kube-apiserver writes `metav1.Time` (seconds, UTC).
pub(crate) fn now() -> String {
    let now = jiff::Timestamp::now();
    jiff::fmt::strtime::format("%Y-%m-%dT%H:%M:%SZ", now).unwrap_or_else(|_| now.to_string())
}

/// A fresh object UID.
pub(crate) fn new_uid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Five random characters from kube's alphabet (for `generateName`).
pub(crate) fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .take(5)
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// Whether anything outside `metadata` (and `status`, when `ignore_status`) differs:
/// the test for bumping `metadata.generation`.
pub(crate) fn spec_changed(old: &Value, new: &Value, ignore_status: bool) -> bool {
    let relevant = |key: &str| {
        key != "metadata"
            && key != "apiVersion"
            && key != "kind"
            && !(ignore_status && key == "status")
    };
    let empty = Map::new();
    let old = old.as_object().unwrap_or(&empty);
    let new = new.as_object().unwrap_or(&empty);
    let keys = old.keys().chain(new.keys()).filter(|k| relevant(k));
    for key in keys {
        let a = old.get(key).filter(|v| !v.is_null());
        let b = new.get(key).filter(|v| !v.is_null());
        if a != b {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_change_ignores_metadata_and_status() {
        let old = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"x": 1}, "status": {"s": 1}});
        let relabeled =
            json!({"metadata": {"labels": {"a": "2"}}, "spec": {"x": 1}, "status": {"s": 2}});
        assert!(!spec_changed(&old, &relabeled, true));
        assert!(spec_changed(&old, &relabeled, false));
        let respec = json!({"metadata": {}, "spec": {"x": 2}, "status": {"s": 1}});
        assert!(spec_changed(&old, &respec, true));
    }

    #[test]
    fn suffixes_use_kubes_alphabet() {
        let suffix = random_suffix();
        assert_eq!(suffix.len(), 5);
        assert!(
            suffix
                .chars()
                .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c))
        );
        assert!(now().ends_with('Z'));
    }
}
