//! GET and LIST: objects rendered in the requested version, lists with
//! `limit`/`continue`, `resourceVersion`/`resourceVersionMatch` semantics and selectors.

use std::sync::Arc;

use axum::body::Body;
use base64::Engine as _;
use bytes::Bytes;
use http::Response;
use kube_apimachinery::registry::ResourceType;
use serde_json::{Value, json};

use crate::Inner;
use crate::convert::render;
use crate::http::{Params, Target};
use crate::select::Filter;
use crate::status::ApiError;
use crate::store::{ObjectKey, StoredObject};

/// Re-serializes a value with `apiVersion` and `kind` first (so `render` can recognize
/// the version from the first bytes), then `metadata`, then the rest in order.
pub(crate) fn canonical_order(value: Value) -> Value {
    let Value::Object(mut map) = value else {
        return value;
    };
    let mut ordered = serde_json::Map::with_capacity(map.len());
    for key in ["apiVersion", "kind", "metadata"] {
        if let Some(v) = map.shift_remove(key) {
            ordered.insert(key.to_string(), v);
        }
    }
    ordered.extend(map);
    Value::Object(ordered)
}

/// `GET .../{name}` (and `.../{name}/status`).
pub(crate) fn get(
    inner: &Arc<Inner>,
    target: &Target,
    params: &Params,
    accept: &str,
) -> Result<Response<Body>, ApiError> {
    let rt = &target.rt;
    let name = target.name.as_deref().unwrap_or_default();
    let key = ObjectKey::new(target.namespace.as_deref().unwrap_or(""), name);
    let body = {
        let state = inner.state.read();
        let stored = state
            .get(&crate::convert::storage_resource(rt), &key)
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))?;
        render(&stored, rt)
    };
    crate::output::respond_object(
        inner,
        rt,
        body,
        accept,
        params.include_object.as_deref(),
        200,
    )
}

#[derive(Debug)]
struct ContinueToken {
    rv: u64,
    after: ObjectKey,
}

fn encode_continue(rv: u64, after: &ObjectKey) -> String {
    let start = if after.namespace.is_empty() {
        format!("{}\u{0}", after.name)
    } else {
        format!("{}/{}\u{0}", after.namespace, after.name)
    };
    let token = json!({ "v": "meta.k8s.io/v1", "rv": rv, "start": start });
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token.to_string())
}

fn decode_continue(token: &str) -> Result<ContinueToken, ApiError> {
    let invalid = |why: &str| ApiError::bad_request(format!("continue key is not valid: {why}"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| invalid("incorrect encoded start resourceVersion (version meta.k8s.io/v1)"))?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| invalid("malformed token"))?;
    if value.get("v").and_then(Value::as_str) != Some("meta.k8s.io/v1") {
        return Err(invalid("server does not recognize this encoded key"));
    }
    let rv = value
        .get("rv")
        .and_then(Value::as_u64)
        .filter(|rv| *rv > 0)
        .ok_or_else(|| {
            invalid("incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
        })?;
    let start = value
        .get("start")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("malformed token"))?
        .trim_end_matches('\u{0}');
    let after = match start.split_once('/') {
        Some((namespace, name)) => ObjectKey::new(namespace, name),
        None => ObjectKey::new("", start),
    };
    Ok(ContinueToken { rv, after })
}

fn parse_rv(text: &str) -> Result<u64, ApiError> {
    text.parse::<u64>().map_err(|_| {
        ApiError::bad_request(format!("invalid resource version: {text:?}")).with_details(json!({}))
    })
}

pub(crate) fn too_large_rv(requested: u64, current: u64) -> ApiError {
    let mut error = ApiError::new(
        504,
        "Timeout",
        format!("Too large resource version: {requested}, current: {current}"),
    )
    .with_details(json!({
        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        "retryAfterSeconds": 1
    }));
    error.retry_after = Some(1);
    error
}

/// Rejects parameter combinations kube-apiserver rejects for lists.
fn validate_list_params(params: &Params) -> Result<(), ApiError> {
    let rv = params.resource_version.as_deref().unwrap_or("");
    let invalid = |field: &str, detail: &str| {
        ApiError::invalid(
            "ListOptions",
            "meta.k8s.io",
            "",
            &[kube_apimachinery::field_error::FieldError::forbidden(
                field.to_string(),
                detail.to_string(),
            )],
        )
    };
    if let Some(rv_match) = params.resource_version_match.as_deref() {
        if rv.is_empty() {
            return Err(invalid(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        match rv_match {
            "NotOlderThan" => {}
            "Exact" if rv == "0" => {
                return Err(invalid(
                    "resourceVersionMatch",
                    "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                ));
            }
            "Exact" => {}
            other => {
                return Err(ApiError::invalid(
                    "ListOptions",
                    "meta.k8s.io",
                    "",
                    &[kube_apimachinery::field_error::FieldError::not_supported(
                        "resourceVersionMatch",
                        json!(other),
                        &["Exact", "NotOlderThan", ""],
                    )],
                ));
            }
        }
        if params.continue_token.is_some() {
            return Err(invalid(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden when continue is provided",
            ));
        }
    }
    if params.continue_token.is_some() && !rv.is_empty() && rv != "0" {
        return Err(invalid(
            "resourceVersion",
            "specifying resource version is not allowed when using continue",
        ));
    }
    Ok(())
}

/// The list body (JSON) with its items in `api_version`.
pub(crate) struct ListPage {
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<usize>,
    pub items: Vec<Bytes>,
}

impl ListPage {
    pub fn to_bytes(&self, rt: &ResourceType) -> Bytes {
        let mut meta = json!({ "resourceVersion": self.resource_version.to_string() });
        if let Some(token) = &self.continue_token {
            meta["continue"] = json!(token);
        }
        if let Some(remaining) = self.remaining {
            meta["remainingItemCount"] = json!(remaining);
        }
        let size: usize = self.items.iter().map(|i| i.len() + 1).sum();
        let mut out = Vec::with_capacity(size + 200);
        out.extend_from_slice(
            format!(
                "{{\"apiVersion\":\"{}\",\"kind\":\"{}\",\"metadata\":{},\"items\":[",
                rt.api_version(),
                rt.list_kind,
                meta
            )
            .as_bytes(),
        );
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(item);
        }
        out.extend_from_slice(b"]}");
        Bytes::from(out)
    }
}

/// Collects one page of a list.
pub(crate) fn list_page(
    inner: &Inner,
    target: &Target,
    params: &Params,
) -> Result<ListPage, ApiError> {
    validate_list_params(params)?;
    let rt = &target.rt;
    let gr = crate::convert::storage_resource(rt);
    let state = inner.state.read();
    let selectable = state.crd_fields.get(&gr).cloned().unwrap_or_default();
    let filter = Filter::new(
        target.namespace.clone(),
        params.label_selector.as_deref(),
        params.field_selector.as_deref(),
        rt,
        &selectable,
    )?;
    let current = state.rv;
    let (list_rv, start_after) = match &params.continue_token {
        Some(token) => {
            let token = decode_continue(token)?;
            (token.rv, Some(token.after))
        }
        None => {
            let rv = params.resource_version.as_deref().unwrap_or("");
            let exact = params.resource_version_match.as_deref() == Some("Exact");
            if rv.is_empty() || rv == "0" {
                (current, None)
            } else {
                let requested = parse_rv(rv)?;
                if requested > current {
                    return Err(too_large_rv(requested, current));
                }
                (if exact { requested } else { current }, None)
            }
        }
    };
    let snapshot: Option<Box<dyn Iterator<Item = Arc<StoredObject>>>> = match state.resource(&gr) {
        None => Some(Box::new(std::iter::empty())),
        Some(store) => store.snapshot(list_rv, target.namespace.as_deref(), start_after.as_ref()),
    };
    let Some(snapshot) = snapshot else {
        return Err(if params.continue_token.is_some() {
            ApiError::expired(
                "The provided continue parameter is too old to display a consistent list result. \
                 You can start a new list without the continue parameter, or use the continue \
                 token in this response to retrieve the remainder of the results. Continuing with \
                 the provided token results in an inconsistent list - objects that were created, \
                 modified, or deleted between the time the first chunk was returned and now may \
                 show up in the list.",
            )
        } else {
            ApiError::expired("The resourceVersion for the provided list is too old.")
        });
    };
    let limit = params.limit.map(|l| l as usize).unwrap_or(usize::MAX);
    let mut items = Vec::new();
    let mut matching = snapshot.filter(|o| filter.matches(o));
    let mut last_key = None;
    for object in matching.by_ref() {
        items.push(render(&object, rt));
        last_key = Some(object.key.clone());
        if items.len() >= limit {
            break;
        }
    }
    let mut continue_token = None;
    let mut remaining = None;
    if items.len() >= limit {
        let rest = matching.count();
        if rest > 0 {
            continue_token = last_key.map(|key| encode_continue(list_rv, &key));
            if !filter.has_selectors() {
                remaining = Some(rest);
            }
        }
    }
    Ok(ListPage {
        resource_version: list_rv,
        continue_token,
        remaining,
        items,
    })
}

/// `GET` of a collection.
pub(crate) fn list(
    inner: &Arc<Inner>,
    target: &Target,
    params: &Params,
    accept: &str,
) -> Result<Response<Body>, ApiError> {
    let page = list_page(inner, target, params)?;
    crate::output::respond_list(
        inner,
        &target.rt,
        &page,
        accept,
        params.include_object.as_deref(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let key = ObjectKey::new("ns", "pod-1");
        let token = decode_continue(&encode_continue(42, &key)).unwrap();
        assert_eq!(token.rv, 42);
        assert_eq!(token.after, key);
        let cluster = decode_continue(&encode_continue(7, &ObjectKey::new("", "node-a"))).unwrap();
        assert_eq!(cluster.after, ObjectKey::new("", "node-a"));
        assert_eq!(decode_continue("%%%").unwrap_err().code, 400);
    }

    #[test]
    fn canonical_order_puts_type_meta_first() {
        let value =
            canonical_order(json!({"spec": {}, "kind": "Pod", "metadata": {}, "apiVersion": "v1"}));
        let text = serde_json::to_string(&value).unwrap();
        assert!(text.starts_with("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\""));
    }

    #[test]
    fn exact_without_resource_version_is_invalid() {
        let params = Params {
            resource_version_match: Some("Exact".into()),
            ..Params::default()
        };
        assert_eq!(validate_list_params(&params).unwrap_err().code, 422);
    }
}
