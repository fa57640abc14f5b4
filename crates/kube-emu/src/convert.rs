//! Where each served type is stored and how objects move between the stored and the
//! served form. All versions of a resource share one storage and differ only in
//! `apiVersion`; `events.k8s.io/v1` Events share the storage of core `v1` Events, as in
//! kube-apiserver, and are converted field by field (`regarding` ↔ `involvedObject`,
//! `note` ↔ `message`, ...).

use bytes::Bytes;
use kube_apimachinery::registry::{GroupResource, ResourceType};
use serde_json::{Map, Value, json};

use crate::store::StoredObject;

fn is_events_v1(rt: &ResourceType) -> bool {
    rt.group == "events.k8s.io" && rt.plural == "events"
}

/// The storage of a served type.
pub(crate) fn storage_resource(rt: &ResourceType) -> GroupResource {
    if is_events_v1(rt) {
        return GroupResource {
            group: String::new(),
            resource: "events".into(),
        };
    }
    rt.group_resource()
}

/// events.k8s.io/v1 field ↔ core v1 field.
const EVENT_FIELDS: [(&str, &str); 8] = [
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("series", "series"),
];

fn rename_fields(object: Value, to_core: bool) -> Value {
    let Value::Object(map) = object else {
        return object;
    };
    let mut out = Map::with_capacity(map.len());
    for (key, value) in map {
        let renamed = EVENT_FIELDS.iter().find_map(|(v1, core)| {
            let (from, to) = if to_core { (v1, core) } else { (core, v1) };
            (key == *from).then_some(*to)
        });
        let value = match (key.as_str(), value) {
            // Series: `count` and `lastObservedTime` in both, core also keeps `state`.
            ("series", Value::Object(mut series)) if !to_core => {
                series.remove("state");
                Value::Object(series)
            }
            (_, value) => value,
        };
        out.insert(renamed.map_or(key, str::to_string), value);
    }
    Value::Object(out)
}

/// The object in the form and version `rt` serves.
pub(crate) fn to_served(mut object: Value, rt: &ResourceType) -> Value {
    if is_events_v1(rt) && object.get("apiVersion").and_then(Value::as_str) == Some("v1") {
        object = rename_fields(object, false);
    }
    object["apiVersion"] = json!(rt.api_version());
    object
}

/// The object in the stored form (`storage_api_version` for ordinary types).
pub(crate) fn to_storage(mut object: Value, rt: &ResourceType, storage_api_version: &str) -> Value {
    if is_events_v1(rt) {
        object = rename_fields(object, true);
        object["apiVersion"] = json!("v1");
        return object;
    }
    object["apiVersion"] = json!(storage_api_version);
    object
}

/// The stored bytes of an object as `rt` serves it: unchanged when the stored
/// `apiVersion` is the served one, converted otherwise.
pub(crate) fn render(stored: &StoredObject, rt: &ResourceType) -> Bytes {
    let prefix = format!("{{\"apiVersion\":\"{}\",", rt.api_version());
    if stored.json.starts_with(prefix.as_bytes()) {
        return stored.json.clone();
    }
    let value = to_served(stored.value(), rt);
    Bytes::from(serde_json::to_vec(&value).unwrap_or_default())
}

/// A stored object as a value in the form `rt` serves.
pub(crate) fn served_value(stored: &StoredObject, rt: &ResourceType) -> Value {
    to_served(stored.value(), rt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube_apimachinery::registry::Registry;

    #[test]
    fn events_convert_both_ways() {
        let registry = Registry::with_builtins();
        let v1 = registry.get("events.k8s.io", "v1", "events").unwrap();
        let core = json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "e", "namespace": "ns", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "involvedObject": {"kind": "Pod", "name": "p"}, "message": "hello",
            "reportingComponent": "ctl", "count": 2, "reason": "R"});
        let served = to_served(core.clone(), &v1);
        assert_eq!(served["apiVersion"], "events.k8s.io/v1");
        assert_eq!(served["regarding"]["name"], "p");
        assert_eq!(served["note"], "hello");
        assert_eq!(served["reportingController"], "ctl");
        assert_eq!(served["deprecatedCount"], 2);
        let stored = to_storage(served, &v1, "events.k8s.io/v1");
        assert_eq!(stored["apiVersion"], "v1");
        assert_eq!(stored["involvedObject"], core["involvedObject"]);
        assert_eq!(stored["message"], "hello");
        assert_eq!(storage_resource(&v1).group, "");
    }
}
