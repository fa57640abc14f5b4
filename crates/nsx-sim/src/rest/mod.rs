//! The REST surface: the router, request helpers (query strings, JSON bodies checked against
//! the schemas) and the NSX error for unknown URIs and methods. Each API area has its module;
//! later areas (registration, inventory, realized state...) add theirs and a `routes` call here.

pub mod list;
pub mod policy;
pub mod system;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use bytes::Bytes;
use http::{Method, StatusCode, Uri};
use serde_json::Value;

use crate::auth::{self, Sessions};
use crate::error::ApiError;
use crate::schema::{Api, schemas};
use crate::store::Store;

/// Largest request body accepted (hierarchical requests can carry thousands of objects).
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// What the handlers share.
pub struct AppState {
    /// The state store.
    pub store: Store,
    /// Password sessions (`/api/session/create`).
    pub sessions: Sessions,
    /// Password of the `admin` user.
    pub admin_password: String,
    /// What `GET /api/v1/node` reports.
    pub node: system::NodeInfo,
    /// Cluster registrations: lookups and the feed of changes.
    pub registry: crate::registration::Registry,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// The full router: every route is authenticated except `POST /api/session/create`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/session/create", post(system::session_create))
        .route("/api/session/destroy", post(system::session_destroy))
        .route("/api/v1/reverse-proxy/node/health", get(system::health))
        .route("/api/v1/node", get(system::node))
        .route("/api/v1/node/version", get(system::node_version))
        .route("/policy/api/v1/{*rest}", any(policy::dispatch))
        .merge(crate::registration::routes())
        .merge(crate::inventory::routes())
        .merge(crate::realization::routes())
        .merge(crate::antrea::routes())
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn not_found(uri: Uri) -> Response {
    ApiError::uri_not_found(uri.path()).into_response()
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    ApiError::method_not_allowed(&method, uri.path()).into_response()
}

/// A JSON response.
pub fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// `200 OK` with an empty body, as NSX answers `PATCH` and `DELETE`.
pub fn empty_ok() -> Response {
    StatusCode::OK.into_response()
}

/// Decodes `%XX` escapes (and `+` as space when `form` is true).
pub fn percent_decode(text: &str, form: bool) -> Result<String, ApiError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        ApiError::bad_parameter(format!("Invalid escape in '{text}'."))
                    })?;
                out.push(hex);
                i += 3;
            }
            b'+' if form => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| ApiError::bad_parameter(format!("'{text}' is not UTF-8.")))
}

/// Parses `a=b&c=d` (query strings and form bodies).
pub fn parse_pairs(text: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(percent_decode(k, true)?, percent_decode(v, true)?);
    }
    Ok(out)
}

/// The query parameters of a request.
pub fn query(uri: &Uri) -> Result<BTreeMap<String, String>, ApiError> {
    parse_pairs(uri.query().unwrap_or_default())
}

/// A boolean query parameter.
pub fn bool_param(
    query: &BTreeMap<String, String>,
    name: &str,
    default: bool,
) -> Result<bool, ApiError> {
    match query.get(name).map(String::as_str) {
        None => Ok(default),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(ApiError::bad_parameter(format!(
            "Invalid value '{v}' for query parameter {name}; expected true or false."
        ))),
    }
}

/// Parses a JSON request body and validates it against `model`.
pub fn json_body(body: &Bytes, api: Api, model: &str) -> Result<Value, ApiError> {
    let value = parse_json_body(body, model)?;
    schemas()
        .validate(api, model, &value)
        .map_err(|problems| ApiError::field_validation(&problems))?;
    Ok(value)
}

/// Like [`json_body`], but a `null` object member counts as absent when the body is checked
/// against `model` ([`crate::schema::strip_nulls`]). The nulls are kept in the result: a
/// policy merge reads a top-level one as "unset this field".
pub fn json_body_with_nulls(body: &Bytes, api: Api, model: &str) -> Result<Value, ApiError> {
    let value = parse_json_body(body, model)?;
    let mut checked = value.clone();
    crate::schema::strip_nulls(&mut checked);
    schemas()
        .validate(api, model, &checked)
        .map_err(|problems| ApiError::field_validation(&problems))?;
    Ok(value)
}

fn parse_json_body(body: &Bytes, model: &str) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::field_validation(&[format!(
            "/: a {model} request body is required"
        )]));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::field_validation(&[format!("/: the body is not valid JSON ({e})")]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%20b", false).unwrap(), "a b");
        assert_eq!(percent_decode("a+b", true).unwrap(), "a b");
        assert_eq!(percent_decode("a+b", false).unwrap(), "a+b");
        assert!(percent_decode("%zz", false).is_err());
        let pairs = parse_pairs("j_username=admin&j_password=p%40ss+word").unwrap();
        assert_eq!(pairs["j_password"], "p@ss word");
    }
}
