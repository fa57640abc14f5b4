//! Test hooks that act on requests: injected failures and the request log.

use std::collections::VecDeque;

use http::Method;
use parking_lot::Mutex;

use crate::status::ApiError;

/// Makes matching requests fail with `status` (500, 429, 409, ...) before they are
/// handled. Every set condition must match.
#[derive(Debug, Clone, Default)]
pub struct FailureRule {
    /// Only requests with this method (`GET`, `PATCH`, ...).
    pub method: Option<Method>,
    /// Only requests whose path contains this text.
    pub path_contains: Option<String>,
    /// Only requests for this resource (plural, e.g. `pods`).
    pub resource: Option<String>,
    /// The HTTP status to answer with.
    pub status: u16,
    /// `Retry-After` seconds (used for 429; defaults to 1 there).
    pub retry_after: Option<u64>,
    /// How many requests fail; `None` means every matching request until cleared.
    pub times: Option<u32>,
    /// Overrides the message of the `Status`.
    pub message: Option<String>,
}

impl FailureRule {
    /// A rule failing every request with `status` (narrow it with the other fields).
    pub fn new(status: u16) -> Self {
        FailureRule {
            status,
            ..FailureRule::default()
        }
    }

    fn matches(&self, method: &Method, path: &str, resource: Option<&str>) -> bool {
        self.method.as_ref().is_none_or(|m| m == method)
            && self
                .path_contains
                .as_deref()
                .is_none_or(|text| path.contains(text))
            && self.resource.as_deref().is_none_or(|r| resource == Some(r))
    }

    fn error(&self) -> ApiError {
        let mut error = match self.status {
            429 => ApiError::too_many_requests(self.retry_after.unwrap_or(1)),
            409 => ApiError::new(409, "Conflict", crate::status::OBJECT_MODIFIED),
            500 => ApiError::internal("injected failure"),
            503 => ApiError::new(
                503,
                "ServiceUnavailable",
                "the server is currently unable to handle the request",
            ),
            504 => ApiError::new(
                504,
                "Timeout",
                "the server was unable to return a response in the time allotted",
            ),
            404 => ApiError::no_such_resource(),
            403 => ApiError::forbidden("forbidden by an injected failure"),
            400 => ApiError::bad_request("bad request (injected failure)"),
            code => ApiError::new(code, "InternalError", format!("injected failure {code}")),
        };
        if let Some(message) = &self.message {
            error.message = message.clone();
        }
        if self.status != 429
            && let Some(seconds) = self.retry_after
        {
            error.retry_after = Some(seconds);
        }
        error
    }
}

/// One handled request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    /// Path and query string.
    pub path: String,
    /// The HTTP status answered.
    pub status: u16,
    pub user_agent: Option<String>,
    /// The `fieldManager` query parameter, if any.
    pub field_manager: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Hooks {
    failures: Mutex<Vec<FailureRule>>,
    log: Mutex<VecDeque<RequestRecord>>,
    log_limit: usize,
}

impl Hooks {
    pub fn new(log_limit: usize) -> Self {
        Hooks {
            failures: Mutex::new(Vec::new()),
            log: Mutex::new(VecDeque::new()),
            log_limit,
        }
    }

    pub fn add_failure(&self, rule: FailureRule) {
        self.failures.lock().push(rule);
    }

    pub fn clear_failures(&self) {
        self.failures.lock().clear();
    }

    /// The failure for a request, if a rule matches (consuming one of its `times`).
    pub fn take_failure(
        &self,
        method: &Method,
        path: &str,
        resource: Option<&str>,
    ) -> Option<ApiError> {
        let mut failures = self.failures.lock();
        let index = failures
            .iter()
            .position(|rule| rule.matches(method, path, resource))?;
        let error = failures[index].error();
        if let Some(times) = &mut failures[index].times {
            *times = times.saturating_sub(1);
            if *times == 0 {
                failures.remove(index);
            }
        }
        Some(error)
    }

    pub fn log(&self, record: RequestRecord) {
        let mut log = self.log.lock();
        log.push_back(record);
        while log.len() > self.log_limit {
            log.pop_front();
        }
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.log.lock().iter().cloned().collect()
    }

    pub fn clear_requests(&self) {
        self.log.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_fire_the_given_number_of_times() {
        let hooks = Hooks::new(10);
        hooks.add_failure(FailureRule {
            resource: Some("pods".into()),
            method: Some(Method::GET),
            times: Some(2),
            ..FailureRule::new(429)
        });
        assert!(
            hooks
                .take_failure(&Method::GET, "/api/v1/services", Some("services"))
                .is_none()
        );
        assert!(
            hooks
                .take_failure(&Method::POST, "/api/v1/pods", Some("pods"))
                .is_none()
        );
        let error = hooks
            .take_failure(&Method::GET, "/api/v1/pods", Some("pods"))
            .unwrap();
        assert_eq!((error.code, error.retry_after), (429, Some(1)));
        assert!(
            hooks
                .take_failure(&Method::GET, "/api/v1/pods", Some("pods"))
                .is_some()
        );
        assert!(
            hooks
                .take_failure(&Method::GET, "/api/v1/pods", Some("pods"))
                .is_none()
        );
    }

    #[test]
    fn the_log_is_bounded() {
        let hooks = Hooks::new(2);
        for status in [200, 201, 404] {
            hooks.log(RequestRecord {
                method: "GET".into(),
                path: "/".into(),
                status,
                user_agent: None,
                field_manager: None,
            });
        }
        let statuses: Vec<u16> = hooks.requests().iter().map(|r| r.status).collect();
        assert_eq!(statuses, [201, 404]);
    }
}
