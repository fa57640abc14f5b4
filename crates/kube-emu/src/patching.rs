//! Patch application for PATCH requests through `kube_apimachinery`: JSON merge patch
//! (RFC 7386), JSON patch (RFC 6902) and strategic merge patch for built-in kinds, with
//! kube-apiserver's error mapping.

use kube_apimachinery::merge::{PatchError, apply_json_patch, merge_patch};
use kube_apimachinery::registry::ResourceType;
use kube_apimachinery::strategic::strategic_merge_patch;
use serde_json::Value;

use crate::status::ApiError;

fn api_error(error: PatchError) -> ApiError {
    let mut api = ApiError::new(error.code, &error.reason, error.message.clone());
    api.body = Some(Box::new(error.status()));
    api
}

/// RFC 7386 merge patch.
pub(crate) fn merge(current: &Value, patch: &Value) -> Result<Value, ApiError> {
    if !patch.is_object() {
        return Err(ApiError::bad_request(
            "json: cannot unmarshal array into Go value of type map[string]interface {}",
        ));
    }
    let mut result = current.clone();
    merge_patch(&mut result, patch);
    Ok(result)
}

/// RFC 6902 JSON patch.
pub(crate) fn json_patch(current: &Value, patch: &Value) -> Result<Value, ApiError> {
    let mut result = current.clone();
    apply_json_patch(&mut result, patch).map_err(api_error)?;
    Ok(result)
}

/// Strategic merge patch of a built-in kind.
pub(crate) fn strategic(
    rt: &ResourceType,
    current: &Value,
    patch: &Value,
) -> Result<Value, ApiError> {
    strategic_merge_patch(current, patch, &rt.group, &rt.kind).map_err(api_error)
}
