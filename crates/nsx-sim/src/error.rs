//! NSX's `ApiError` response body and the error codes the simulator uses.
//!
//! Every error the simulator sends, from authentication to routing to validation, is an
//! `ApiError` JSON body: `httpStatus` (the Spring status name real NSX bodies carry),
//! `error_code`, `module_name`, `error_message`, and `details` / `related_errors` /
//! `error_data` when there is something to put in them. Codes documented by public NSX clients
//! are marked as such below; the others are the simulator's choice and are listed in
//! `docs/nsx-sim.md`.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Map, Value, json};

/// Module name NSX uses for platform errors (authentication, routing, field validation).
pub const MODULE_COMMON: &str = "common-services";
/// Module name NSX uses for Policy API errors.
pub const MODULE_POLICY: &str = "Policy";

/// Error codes.
pub mod code {
    /// Bad or missing credentials (public NSX client tests: 403 / 403).
    pub const BAD_CREDENTIALS: i64 = 403;
    /// Missing or wrong `X-XSRF-TOKEN` on a session request (NSXLIB maps 403/98 to BadXSRFToken).
    pub const BAD_XSRF_TOKEN: i64 = 98;
    /// Field-level validation of a request body failed (simulator's choice).
    pub const FIELD_VALIDATION: i64 = 255;
    /// Unknown URI (simulator's choice), and an object that does not exist (NSX's Manager API
    /// code, also used for policy objects read by path).
    pub const URI_NOT_FOUND: i64 = 600;
    /// Method not supported on the URI (simulator's choice).
    pub const METHOD_NOT_ALLOWED: i64 = 601;
    /// Invalid path, e.g. a rule naming a missing group (NSXLIB maps 400/500012 to NsxInvalidPath).
    pub const INVALID_PATH: i64 = 500012;
    /// An object that a path names does not exist (related error of [`INVALID_PATH`]).
    pub const OBJECT_NOT_FOUND: i64 = 500013;
    /// An object in use cannot be deleted (NSXLIB maps 400/500030 to ResourceInUse).
    pub const RESOURCE_IN_USE: i64 = 500030;
    /// Stale or missing `_revision` (one of the codes NSXLIB treats as StaleRevision).
    pub const STALE_REVISION: i64 = 500087;
    /// A path names no policy object where one must exist, e.g. the parent of an object being
    /// created (simulator's choice; NSXLIB maps 404/500090 to StaleRevision and retries).
    pub const POLICY_NOT_FOUND: i64 = 500090;
    /// Semantic validation of a policy object failed (simulator's choice).
    pub const POLICY_VALIDATION: i64 = 500100;
    /// A system-owned object cannot be changed (simulator's choice).
    pub const SYSTEM_OWNED: i64 = 500101;
    /// An object protected by a principal identity needs `X-Allow-Overwrite` (simulator's choice).
    pub const PROTECTED_OBJECT: i64 = 500102;
    /// Internal failure, e.g. the durable store (simulator's choice).
    pub const INTERNAL: i64 = 99;
}

/// One entry of `related_errors`.
#[derive(Debug, Clone, PartialEq)]
pub struct RelatedError {
    /// HTTP status of the related error.
    pub status: StatusCode,
    /// NSX error code.
    pub error_code: i64,
    /// NSX module.
    pub module_name: String,
    /// Message.
    pub error_message: String,
}

/// An NSX `ApiError`: the status it is sent with and its body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// NSX error code.
    pub error_code: i64,
    /// NSX module that raised the error.
    pub module_name: String,
    /// Message.
    pub error_message: String,
    /// Optional `details`.
    pub details: Option<String>,
    /// `related_errors` (omitted from the body when empty, as NSX does).
    pub related_errors: Vec<RelatedError>,
}

/// Spring's name of an HTTP status, as NSX puts it in `httpStatus`.
pub fn status_name(status: StatusCode) -> String {
    status
        .canonical_reason()
        .unwrap_or("UNKNOWN")
        .to_ascii_uppercase()
        .replace([' ', '-'], "_")
}

impl ApiError {
    /// A new error.
    pub fn new(
        status: StatusCode,
        error_code: i64,
        module_name: &str,
        error_message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error_code,
            module_name: module_name.to_owned(),
            error_message: error_message.into(),
            details: None,
            related_errors: Vec::new(),
        }
    }

    /// 403: bad or missing credentials.
    pub fn bad_credentials() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            code::BAD_CREDENTIALS,
            MODULE_COMMON,
            "The credentials were incorrect or the account specified has been locked.",
        )
    }

    /// 403: the session request lacks a valid `X-XSRF-TOKEN`.
    pub fn bad_xsrf_token() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            code::BAD_XSRF_TOKEN,
            MODULE_COMMON,
            "The credentials were incorrect or the account specified has been locked.",
        )
    }

    /// 404: unknown URI.
    pub fn uri_not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            code::URI_NOT_FOUND,
            MODULE_COMMON,
            format!("The requested URI: {path} could not be found."),
        )
    }

    /// 405: the URI exists but not with this method.
    pub fn method_not_allowed(method: &http::Method, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            code::METHOD_NOT_ALLOWED,
            MODULE_COMMON,
            format!("Method {method} is not supported for the URI {path}."),
        )
    }

    /// 400: the body is not JSON or violates the model.
    pub fn field_validation(problems: &[String]) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            code::FIELD_VALIDATION,
            MODULE_COMMON,
            format!("Field level validation errors: {{{}}}", problems.join(", ")),
        )
    }

    /// 400: a bad request parameter.
    pub fn bad_parameter(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            code::FIELD_VALIDATION,
            MODULE_COMMON,
            message,
        )
    }

    /// 404: a policy object does not exist.
    pub fn policy_not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            code::POLICY_NOT_FOUND,
            MODULE_POLICY,
            format!("The path=[{path}] is invalid."),
        )
    }

    /// 404: the policy object a `GET` names does not exist. NSX's "object not found" body, as
    /// its Manager API sends it (404, `error_code` 600); NSXLIB maps this to ResourceNotFound and
    /// relies on it (e.g. to find the first free rule sequence number of a new policy), whereas
    /// it reads 404 / 500090 as a stale revision to retry.
    pub fn policy_object_not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            code::URI_NOT_FOUND,
            MODULE_COMMON,
            format!(
                "The requested object : {path} could not be found. Object identifiers are case sensitive."
            ),
        )
    }

    /// 400: a policy object failed semantic validation.
    pub fn policy_invalid(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            code::POLICY_VALIDATION,
            MODULE_POLICY,
            message,
        )
    }

    /// 500: internal failure.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            code::INTERNAL,
            MODULE_COMMON,
            message,
        )
    }

    /// Adds a related error.
    pub fn with_related(mut self, related: RelatedError) -> Self {
        self.related_errors.push(related);
        self
    }

    /// Sets `details`.
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    /// The wire body.
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("httpStatus".into(), json!(status_name(self.status)));
        body.insert("error_code".into(), json!(self.error_code));
        body.insert("module_name".into(), json!(self.module_name));
        body.insert("error_message".into(), json!(self.error_message));
        if let Some(details) = &self.details {
            body.insert("details".into(), json!(details));
        }
        if !self.related_errors.is_empty() {
            let related: Vec<Value> = self
                .related_errors
                .iter()
                .map(|r| {
                    json!({
                        "httpStatus": status_name(r.status),
                        "error_code": r.error_code,
                        "module_name": r.module_name,
                        "error_message": r.error_message,
                    })
                })
                .collect();
            body.insert("related_errors".into(), Value::Array(related));
        }
        Value::Object(body)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} ({}): {}",
            self.status.as_u16(),
            self.error_code,
            self.module_name,
            self.error_message
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_are_spring_enum_names() {
        assert_eq!(status_name(StatusCode::BAD_REQUEST), "BAD_REQUEST");
        assert_eq!(status_name(StatusCode::NOT_FOUND), "NOT_FOUND");
        assert_eq!(
            status_name(StatusCode::PRECONDITION_FAILED),
            "PRECONDITION_FAILED"
        );
        assert_eq!(
            status_name(StatusCode::METHOD_NOT_ALLOWED),
            "METHOD_NOT_ALLOWED"
        );
    }

    #[test]
    fn body_omits_empty_optional_parts() {
        let body = ApiError::uri_not_found("/x").body();
        assert!(body.get("related_errors").is_none());
        assert!(body.get("details").is_none());
        assert_eq!(body["httpStatus"], "NOT_FOUND");
    }
}
