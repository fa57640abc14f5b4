//! Errors of the NSX REST client: NSX's own `ApiError` body parsed into a typed value, and
//! the transport and configuration failures around it.
//!
//! NSX answers every failed call with an `ApiError` JSON body (`httpStatus`, `error_code`,
//! `module_name`, `error_message`, `details`, `related_errors`). [`RestError::Api`] keeps it
//! together with the HTTP status, so callers can match on `error_code` the way NSXLIB does
//! (stale revision, object in use, invalid path...).

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// NSX error codes that mean "the `_revision` sent is stale" (NSXLIB's `StaleRevision` list).
const STALE_REVISION_CODES: [i64; 3] = [500087, 500232, 100148];

/// One related error of an [`ApiError`] (NSX `RelatedApiError`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct RelatedApiError {
    /// NSX's numeric error code.
    #[serde(default)]
    pub error_code: Option<i64>,
    /// The sentence NSX shows.
    #[serde(default)]
    pub error_message: Option<String>,
    /// Further details.
    #[serde(default)]
    pub details: Option<String>,
    /// The NSX module that raised it.
    #[serde(default)]
    pub module_name: Option<String>,
    /// The Spring status name, when NSX adds one (`"BAD_REQUEST"`).
    #[serde(default, rename = "httpStatus")]
    pub http_status: Option<String>,
}

/// NSX `ApiError`: the body of every failed NSX REST call.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ApiError {
    /// The Spring status name (`"BAD_REQUEST"`, `"PRECONDITION_FAILED"`...).
    #[serde(default, rename = "httpStatus")]
    pub http_status: Option<String>,
    /// NSX's numeric error code.
    #[serde(default)]
    pub error_code: Option<i64>,
    /// The NSX module that raised it.
    #[serde(default)]
    pub module_name: Option<String>,
    /// The sentence NSX shows.
    #[serde(default)]
    pub error_message: Option<String>,
    /// Further details.
    #[serde(default)]
    pub details: Option<String>,
    /// The errors that make up this one.
    #[serde(default)]
    pub related_errors: Vec<RelatedApiError>,
    /// Structured error data, when NSX sends some.
    #[serde(default)]
    pub error_data: Option<Value>,
}

impl ApiError {
    /// Parses an error body; `None` when it is not an NSX `ApiError` (an HTML page from a
    /// proxy, an empty body).
    pub fn from_body(body: &[u8]) -> Option<ApiError> {
        let value: Value = serde_json::from_slice(body).ok()?;
        let object = value.as_object()?;
        if !object.contains_key("error_code") && !object.contains_key("error_message") {
            return None;
        }
        serde_json::from_value(value).ok()
    }
}

/// Why an NSX REST call failed.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// NSX answered with an error status.
    #[error("NSX answered {method} {path} with {status}: {}", describe(.error, .body_excerpt))]
    Api {
        /// The request method.
        method: http::Method,
        /// The request path (without the manager's address).
        path: String,
        /// The HTTP status.
        status: http::StatusCode,
        /// The parsed `ApiError`, when the body is one.
        error: Option<Box<ApiError>>,
        /// The start of the body when it is not an `ApiError`.
        body_excerpt: String,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// No manager could be reached (connection refused, TLS failure, timeout).
    #[error("no NSX manager answered {method} {path}: {message}")]
    Unreachable {
        /// The request method.
        method: http::Method,
        /// The request path.
        path: String,
        /// What the last attempt saw.
        message: String,
    },
    /// A non-idempotent request (`POST`) failed after it may have reached NSX: it is not
    /// retried, as NSX may have executed it. Read the state back before trying again.
    #[error("{method} {path} was interrupted and may or may not have been executed: {message}")]
    Interrupted {
        /// The request method.
        method: http::Method,
        /// The request path.
        path: String,
        /// What failed.
        message: String,
    },
    /// NSX answered 2xx with a body that is not the expected JSON.
    #[error("NSX answered {path} with a body that is not the expected JSON: {source}")]
    Decode {
        /// The request path.
        path: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The request could not be built (bad path, body that does not serialize).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The client configuration is unusable.
    #[error("invalid NSX REST configuration: {0}")]
    Config(String),
    /// A list did not terminate (a cursor repeated).
    #[error("paging {path} did not terminate: cursor {cursor:?} came back twice")]
    Paging {
        /// The list path.
        path: String,
        /// The repeated cursor.
        cursor: String,
    },
}

fn describe(error: &Option<Box<ApiError>>, excerpt: &str) -> String {
    match error {
        Some(error) => format!(
            "error_code {}: {}",
            error
                .error_code
                .map_or_else(|| "-".to_owned(), |code| code.to_string()),
            error.error_message.as_deref().unwrap_or("")
        ),
        None if excerpt.is_empty() => "no body".to_owned(),
        None => excerpt.to_owned(),
    }
}

impl RestError {
    /// The HTTP status NSX answered, if it answered.
    pub fn status(&self) -> Option<http::StatusCode> {
        match self {
            RestError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The parsed NSX `ApiError`, if NSX sent one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            RestError::Api { error, .. } => error.as_deref(),
            _ => None,
        }
    }

    /// NSX's `error_code`, if NSX sent one.
    pub fn error_code(&self) -> Option<i64> {
        self.api_error().and_then(|error| error.error_code)
    }

    /// 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(http::StatusCode::NOT_FOUND)
    }

    /// The `_revision` sent was missing or stale (412 or 409, or one of NSX's stale-revision
    /// error codes): re-read the object and try again.
    pub fn is_stale_revision(&self) -> bool {
        matches!(
            self.status(),
            Some(http::StatusCode::PRECONDITION_FAILED | http::StatusCode::CONFLICT)
        ) || self
            .error_code()
            .is_some_and(|code| STALE_REVISION_CODES.contains(&code))
    }

    /// Worth retrying unchanged later: 429, 503, or no manager reachable.
    pub fn is_retryable(&self) -> bool {
        match self {
            RestError::Api { status, .. } => matches!(
                *status,
                http::StatusCode::TOO_MANY_REQUESTS | http::StatusCode::SERVICE_UNAVAILABLE
            ),
            RestError::Unreachable { .. } => true,
            _ => false,
        }
    }

    /// The `Retry-After` NSX asked for.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RestError::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_bodies_parse_with_related_errors() {
        let body = br#"{"httpStatus":"BAD_REQUEST","error_code":500012,"module_name":"Policy",
            "error_message":"Invalid path","details":"source_groups",
            "related_errors":[{"error_code":500013,"error_message":"inner","module_name":"Policy"}]}"#;
        let error = ApiError::from_body(body).unwrap();
        assert_eq!(error.http_status.as_deref(), Some("BAD_REQUEST"));
        assert_eq!(error.error_code, Some(500012));
        assert_eq!(error.related_errors.len(), 1);
        assert_eq!(error.related_errors[0].error_code, Some(500013));
        assert!(ApiError::from_body(b"<html>bad gateway</html>").is_none());
        assert!(ApiError::from_body(b"{\"other\": 1}").is_none());
        assert!(ApiError::from_body(b"").is_none());
    }

    fn api(status: u16, code: Option<i64>) -> RestError {
        RestError::Api {
            method: http::Method::PUT,
            path: "/x".into(),
            status: http::StatusCode::from_u16(status).unwrap(),
            error: code.map(|code| {
                Box::new(ApiError {
                    error_code: Some(code),
                    error_message: Some("m".into()),
                    ..ApiError::default()
                })
            }),
            body_excerpt: String::new(),
            retry_after: None,
        }
    }

    #[test]
    fn classification_follows_nsxlib() {
        assert!(api(412, Some(500087)).is_stale_revision());
        assert!(api(409, None).is_stale_revision());
        assert!(api(400, Some(500232)).is_stale_revision());
        assert!(!api(400, Some(500012)).is_stale_revision());
        assert!(api(429, None).is_retryable());
        assert!(api(503, None).is_retryable());
        assert!(!api(500, Some(99)).is_retryable());
        assert!(api(404, Some(600)).is_not_found());
        assert_eq!(
            api(400, Some(500012)).to_string(),
            "NSX answered PUT /x with 400 Bad Request: error_code 500012: m"
        );
    }
}
