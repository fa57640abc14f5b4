//! Appliance endpoints: the health probe NSXLIB calls before anything else, the node
//! properties and version (`/api/v1/node`), and password sessions.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::SET_COOKIE;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::json;

use super::{AppState, json_response, parse_pairs};
use crate::auth::{ADMIN_USER, SESSION_COOKIE, XSRF_HEADER, cookie, same_secret};
use crate::error::ApiError;
use crate::identity::{Caller, Identity};

/// The NSX version the simulator reports.
pub const NODE_VERSION: &str = "4.2.0.0.0.24105817";

/// What `GET /api/v1/node` reports.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// `node_uuid` (stable across restarts when there is a data directory).
    pub node_uuid: String,
    /// `hostname`.
    pub hostname: String,
    /// `node_version` and `product_version`.
    pub version: String,
}

/// `GET /api/v1/reverse-proxy/node/health`.
pub async fn health() -> Response {
    json_response(
        StatusCode::OK,
        json!({"healthy": true, "components_health": "POLICY:UP, SEARCH:UP, MANAGER:UP, NODE_MGMT:UP, UI:UP"}),
    )
}

/// `GET /api/v1/node` → `NodeProperties`.
pub async fn node(State(app): State<Arc<AppState>>) -> Response {
    let now = jiff::Timestamp::now();
    let node = &app.node;
    json_response(
        StatusCode::OK,
        json!({
            "hostname": node.hostname,
            "fully_qualified_domain_name": node.hostname,
            "node_uuid": node.node_uuid,
            "node_version": node.version,
            "product_version": node.version,
            "kernel_version": "5.15.0-nsx-sim",
            "node_type": "NSX Manager",
            "export_type": "UNRESTRICTED",
            "system_time": now.as_millisecond(),
            "system_datetime": now.strftime("%Y-%m-%d %H:%M:%S").to_string(),
            "timezone": "Etc/UTC",
            "cli_timeout": 600,
            "cli_history_size": 100,
            "cli_output_datetime": false,
            "_schema": "NodeProperties",
            "_self": {"href": "/node", "rel": "self"},
        }),
    )
}

/// `GET /api/v1/node/version` → `NodeVersion`.
pub async fn node_version(State(app): State<Arc<AppState>>) -> Response {
    json_response(
        StatusCode::OK,
        json!({"node_version": app.node.version, "product_version": app.node.version}),
    )
}

/// `POST /api/session/create` with form fields `j_username` and `j_password`.
pub async fn session_create(State(app): State<Arc<AppState>>, body: Bytes) -> Response {
    let form = match std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_credentials())
        .and_then(parse_pairs)
    {
        Ok(form) => form,
        Err(error) => return error.into_response(),
    };
    let user = form.get("j_username").map(String::as_str);
    let password = form
        .get("j_password")
        .map(String::as_str)
        .unwrap_or_default();
    if user != Some(ADMIN_USER) || !same_secret(password, &app.admin_password) {
        return ApiError::bad_credentials().into_response();
    }
    let (session, xsrf) = app.sessions.create(Identity::User(ADMIN_USER.to_owned()));
    let mut headers = HeaderMap::new();
    if let (Ok(cookie), Ok(token)) = (
        HeaderValue::from_str(&format!(
            "{SESSION_COOKIE}={session}; Path=/; Secure; HttpOnly"
        )),
        HeaderValue::from_str(&xsrf),
    ) {
        headers.insert(SET_COOKIE, cookie);
        headers.insert(XSRF_HEADER, token);
    }
    (StatusCode::OK, headers).into_response()
}

/// `POST /api/session/destroy`: ends the caller's session.
pub async fn session_destroy(
    State(app): State<Arc<AppState>>,
    Extension(_caller): Extension<Caller>,
    headers: HeaderMap,
) -> Response {
    if let Some(session) = cookie(&headers, SESSION_COOKIE) {
        app.sessions.destroy(&session);
    }
    StatusCode::OK.into_response()
}
