//! Kubernetes `Status` errors: every failure the emulator answers with, built with the
//! reason, code and message text kube-apiserver uses.

use kube_apimachinery::field_error::{FieldError, invalid_status};
use serde_json::{Value, json};

/// A failed API request, rendered as a `Status` body with `code` as the HTTP status.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    pub code: u16,
    /// The `reason` field (`NotFound`, `Conflict`, ...); empty for webhook denials that
    /// give none, as the real server does.
    pub reason: String,
    pub message: String,
    /// The `details` field, if any.
    pub details: Option<Box<Value>>,
    /// Seconds for `Retry-After` (and `details.retryAfterSeconds`).
    pub retry_after: Option<u64>,
    /// A complete `Status` body to send instead of one built from the fields above
    /// (used for 422 bodies produced by the schema/validation code).
    pub body: Option<Box<Value>>,
}

/// The resource part of messages: `pods` or `clusternetworkpolicies.crd.antrea.io`.
pub fn qualified_resource(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

fn name_details(group: &str, plural: &str, name: &str) -> Value {
    let mut details = json!({ "name": name, "kind": plural });
    if !group.is_empty() {
        details["group"] = json!(group);
    }
    details
}

impl ApiError {
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason: reason.to_string(),
            message: message.into(),
            details: None,
            retry_after: None,
            body: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    /// `pods "x" not found`.
    pub fn not_found(group: &str, plural: &str, name: &str) -> Self {
        ApiError::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified_resource(group, plural)),
        )
        .with_details(name_details(group, plural, name))
    }

    /// The answer for a path that names no served resource.
    pub fn no_such_resource() -> Self {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({}))
    }

    /// `pods "x" already exists`.
    pub fn already_exists(group: &str, plural: &str, name: &str) -> Self {
        ApiError::new(
            409,
            "AlreadyExists",
            format!(
                "{} \"{name}\" already exists",
                qualified_resource(group, plural)
            ),
        )
        .with_details(name_details(group, plural, name))
    }

    /// `Operation cannot be fulfilled on pods "x": <why>`.
    pub fn conflict(group: &str, plural: &str, name: &str, why: &str) -> Self {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                qualified_resource(group, plural)
            ),
        )
        .with_details(name_details(group, plural, name))
    }

    /// The optimistic-concurrency conflict.
    pub fn stale(group: &str, plural: &str, name: &str) -> Self {
        ApiError::conflict(group, plural, name, OBJECT_MODIFIED)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(400, "BadRequest", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(403, "Forbidden", message)
    }

    /// 410 `Expired`, for resourceVersions older than the retained history.
    pub fn expired(message: impl Into<String>) -> Self {
        ApiError::new(410, "Expired", message)
    }

    pub fn method_not_allowed() -> Self {
        ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
        .with_details(json!({}))
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        ApiError::new(415, "UnsupportedMediaType", message)
    }

    pub fn not_acceptable() -> Self {
        ApiError::new(
            406,
            "NotAcceptable",
            "only the following media types are accepted: application/json, application/yaml",
        )
    }

    pub fn too_many_requests(retry_after: u64) -> Self {
        let mut error = ApiError::new(
            429,
            "TooManyRequests",
            "Too many requests, please try again later.",
        )
        .with_details(json!({ "retryAfterSeconds": retry_after }));
        error.retry_after = Some(retry_after);
        error
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        ApiError::new(
            500,
            "InternalError",
            format!("Internal error occurred: {message}"),
        )
        .with_details(json!({ "causes": [{ "message": message.to_string() }] }))
    }

    /// 422 `Invalid` from a prepared `Status` body (see `kube_apimachinery::field_error`).
    pub fn invalid_body(body: Value) -> Self {
        let message = body
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("the request is invalid")
            .to_string();
        let mut error = ApiError::new(422, "Invalid", message);
        error.details = body.get("details").cloned().map(Box::new);
        error.body = Some(Box::new(body));
        error
    }

    /// 422 `Invalid` for an object of `kind` in `group` with these field errors.
    pub fn invalid(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> Self {
        ApiError::invalid_body(invalid_status(kind, group, name, errors))
    }

    /// The `Status` body.
    pub fn to_status(&self) -> Value {
        if let Some(body) = &self.body {
            return (**body).clone();
        }
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = (**details).clone();
        }
        status
    }
}

/// The text of the optimistic-concurrency conflict.
pub const OBJECT_MODIFIED: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

/// A `Status` with `status: Success` (returned by deletes of kinds that do not return
/// the deleted object).
pub fn success_status(group: &str, plural: &str, name: &str, uid: Option<&str>) -> Value {
    let mut details = name_details(group, plural, name);
    if let Some(uid) = uid {
        details["uid"] = json!(uid);
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_matches_kube_apiserver_text() {
        let status = ApiError::not_found("", "pods", "x").to_status();
        assert_eq!(status["message"], "pods \"x\" not found");
        assert_eq!(status["reason"], "NotFound");
        assert_eq!(status["code"], 404);
        assert_eq!(status["details"], json!({"name": "x", "kind": "pods"}));
        let grouped = ApiError::not_found("crd.antrea.io", "tiers", "t").to_status();
        assert_eq!(grouped["message"], "tiers.crd.antrea.io \"t\" not found");
        assert_eq!(grouped["details"]["group"], "crd.antrea.io");
    }

    #[test]
    fn conflict_carries_the_standard_message() {
        let status = ApiError::stale("coordination.k8s.io", "leases", "l").to_status();
        assert_eq!(
            status["message"],
            "Operation cannot be fulfilled on leases.coordination.k8s.io \"l\": the object has \
             been modified; please apply your changes to the latest version and try again"
        );
        assert_eq!(status["code"], 409);
    }

    #[test]
    fn too_many_requests_has_retry_after() {
        let error = ApiError::too_many_requests(3);
        assert_eq!(error.retry_after, Some(3));
        assert_eq!(error.to_status()["details"]["retryAfterSeconds"], 3);
    }
}
