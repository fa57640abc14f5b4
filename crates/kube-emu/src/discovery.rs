//! Non-resource paths (discovery, OpenAPI, `/version`, health), answered by
//! `kube_apimachinery::discovery` from the current registry.

use axum::body::Body;
use http::{HeaderValue, Response, StatusCode, header};
use kube_apimachinery::discovery::non_resource_response_cached;
use kube_apimachinery::registry::Registry;

use crate::Inner;

/// The answer for a non-resource path, `None` when the path is unknown.
pub(crate) fn respond(
    inner: &Inner,
    registry: &Registry,
    path: &str,
    accept: &str,
) -> Option<Response<Body>> {
    let answer = non_resource_response_cached(registry, &inner.openapi, path, accept)?;
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    if let Ok(value) = HeaderValue::from_str(&answer.content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    Some(response)
}
