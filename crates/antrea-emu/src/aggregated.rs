//! Plumbing shared by the aggregated APIs the emulated antrea-controller serves through the
//! emulator's extension points (`stats.antrea.io`, `system.antrea.io`): request paths and
//! query parameters, and responses shaped as kube-apiserver's generic REST handlers shape
//! them (`Status` errors, tables, the aggregator's "service unavailable").

use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::Response;
use kube_apimachinery::table::{IncludeObject, Representation, requested_representation};
use serde_json::{Value, json};

/// A request to an aggregated group/version, split into what the handlers need.
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    pub method: http::Method,
    /// Path segments after `/apis/{group}/{version}/`.
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
    pub accept: String,
}

impl ApiRequest {
    pub fn new(request: &Request<Body>) -> Self {
        let segments = request
            .uri()
            .path()
            .trim_start_matches('/')
            .trim_end_matches('/')
            .split('/')
            .skip(3)
            .map(percent_decode)
            .collect();
        let query = request.uri().query().map(parse_query).unwrap_or_default();
        let accept = request
            .headers()
            .get(header::ACCEPT)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("application/json")
            .to_string();
        ApiRequest {
            method: request.method().clone(),
            segments,
            query,
            accept,
        }
    }

    /// The value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Whether the request asks for a watch (`?watch=true` or `/watch/...`).
    pub fn is_watch(&self) -> bool {
        matches!(self.param("watch"), Some("true" | "1"))
            || self.segments.first().map(String::as_str) == Some("watch")
    }
}

fn percent_decode(segment: &str) -> String {
    if !segment.contains('%') {
        return segment.to_string();
    }
    let bytes = segment.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(high * 16 + low);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |text: &str| percent_decode(&text.replace('+', " "));
            (decode(key), decode(value))
        })
        .collect()
}

/// A JSON response.
pub(crate) fn json_response(code: StatusCode, value: &Value) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = code;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A `Status` failure as kube-apiserver writes it.
pub(crate) fn status_response(
    code: StatusCode,
    reason: &str,
    message: &str,
    details: Option<Value>,
) -> Response {
    let mut status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
    });
    if !reason.is_empty() {
        status["reason"] = json!(reason);
    }
    if let Some(details) = details {
        status["details"] = details;
    }
    status["code"] = json!(code.as_u16());
    json_response(code, &status)
}

/// `NotFound`: `<resource>.<group> "<name>" not found`.
pub(crate) fn not_found(group: &str, resource: &str, name: &str) -> Response {
    status_response(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("{resource}.{group} \"{name}\" not found"),
        Some(json!({"name": name, "group": group, "kind": resource})),
    )
}

/// A path the group does not serve.
pub(crate) fn no_such_resource() -> Response {
    status_response(
        StatusCode::NOT_FOUND,
        "NotFound",
        "the server could not find the requested resource",
        Some(json!({})),
    )
}

/// A verb the resource does not implement.
pub(crate) fn method_not_allowed() -> Response {
    status_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        Some(json!({})),
    )
}

/// `BadRequest` with a message.
pub(crate) fn bad_request(message: &str) -> Response {
    status_response(StatusCode::BAD_REQUEST, "BadRequest", message, None)
}

/// What kube-aggregator answers for an APIService whose backend (the `antrea` Service) has
/// no ready endpoint: a plain-text 503 (client-go shows it as "the server is currently
/// unable to handle the request").
pub(crate) fn service_unavailable() -> Response {
    let mut response = Response::new(Body::from("service unavailable\n"));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A column of a server-side Table.
pub(crate) struct Column<'a> {
    pub name: &'a str,
    pub type_: &'a str,
    pub format: &'a str,
    pub description: &'a str,
}

/// Whether a `GET` asks for a Table, and with which options; `Err` is the response to send
/// (an unknown `includeObject`, or nothing acceptable).
pub(crate) fn table_request(request: &ApiRequest) -> Result<Option<TableRequest>, Box<Response>> {
    match requested_representation(&request.accept) {
        Representation::Table { version } => {
            let include = IncludeObject::from_query(request.param("includeObject"))
                .map_err(|message| Box::new(bad_request(&message)))?;
            Ok(Some(TableRequest { version, include }))
        }
        Representation::NotAcceptable => Err(Box::new(status_response(
            StatusCode::NOT_ACCEPTABLE,
            "NotAcceptable",
            &format!(
                "the server was unable to respond with a content type that the client supports (accept: {})",
                request.accept
            ),
            None,
        ))),
        _ => Ok(None),
    }
}

/// A Table was asked for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TableRequest {
    pub version: &'static str,
    pub include: IncludeObject,
}

/// `metav1.Table` of rows (`cells`, object) with `columns`.
pub(crate) fn table(
    request: TableRequest,
    columns: &[Column<'_>],
    rows: Vec<(Vec<Value>, &Value)>,
) -> Value {
    let columns: Vec<Value> = columns
        .iter()
        .map(|column| {
            json!({
                "name": column.name,
                "type": column.type_,
                "format": column.format,
                "description": column.description,
                "priority": 0,
            })
        })
        .collect();
    let rows: Vec<Value> = rows
        .into_iter()
        .map(|(cells, object)| {
            let object = match request.include {
                IncludeObject::None => Value::Null,
                IncludeObject::Metadata => json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": format!("meta.k8s.io/{}", request.version),
                    "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
                }),
                IncludeObject::Object => object.clone(),
            };
            json!({"cells": cells, "object": object})
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": format!("meta.k8s.io/{}", request.version),
        "metadata": {},
        "columnDefinitions": columns,
        "rows": rows,
    })
}

/// `time.RFC3339` of a timestamp in UTC (whole seconds), as `metav1.Time` prints.
pub(crate) fn rfc3339(timestamp: jiff::Timestamp) -> String {
    timestamp.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The description Kubernetes gives `metadata.name` in tables.
pub(crate) const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
/// The description Kubernetes gives `metadata.creationTimestamp` in tables.
pub(crate) const CREATION_TIMESTAMP_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_queries_are_split() {
        let request = Request::builder()
            .uri("/apis/stats.antrea.io/v1alpha1/namespaces/a%2Db/antreanetworkpolicystats/x?labelSelector=app%3Dweb&watch=true")
            .body(Body::empty())
            .unwrap();
        let parsed = ApiRequest::new(&request);
        assert_eq!(
            parsed.segments,
            ["namespaces", "a-b", "antreanetworkpolicystats", "x"]
        );
        assert_eq!(parsed.param("labelSelector"), Some("app=web"));
        assert!(parsed.is_watch());
        assert_eq!(parsed.accept, "application/json");
    }

    #[test]
    fn statuses_read_as_kube_apiservers() {
        let response = not_found("stats.antrea.io", "antreaclusternetworkpolicystats", "x");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            rfc3339(jiff::Timestamp::from_second(1_700_000_000).unwrap()),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            service_unavailable().status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
