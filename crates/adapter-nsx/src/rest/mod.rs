//! The NSX REST client of both adapters (and of the register job).
//!
//! It behaves like NSX's own open clients (NSXLIB, nsx-operator):
//!
//! - **Several managers.** Requests go to the manager that last answered. On a connection
//!   failure, or a 502/503/504 (or a 5xx whose body is not an NSX `ApiError`, i.e. a proxy),
//!   the next manager is tried at once, and the one that answers is remembered. A 500 that is
//!   an NSX `ApiError` is NSX's answer, not a dead manager, and is returned as is.
//! - **Retries** with exponential backoff and jitter ([`backon`]) when every manager failed
//!   that way, and on 429: NSX's `Retry-After` is honoured (as a lower bound, up to
//!   [`RetryPolicy::max_retry_after`]). A `POST` that timed out after being sent is not
//!   retried (it may have been executed).
//! - **Errors** are NSX's `ApiError` parsed into [`RestError::Api`], with helpers for the
//!   classes callers handle ([`RestError::is_stale_revision`], [`RestError::is_not_found`]).
//! - **Paging**: [`NsxRestClient::list_all`] follows `cursor` until it is absent (or empty, or
//!   NSX's null cursor `0000...`).
//! - **Trust and authentication**: see [`RestTrust`] and [`RestAuth`]. Managers are reached
//!   over HTTPS; plain `http://` only when a manager address spells it out (a local
//!   TLS-terminating proxy, or a test double).
//! - **No secrets in logs**: requests are logged by method, path and status only; headers,
//!   passwords and keys never are, and the configuration's `Debug` redacts them.
//!
//! Typed helpers for the calls the adapters make are in [`api`].

pub mod api;
mod error;
mod tls;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable as _};
use http::{Method, StatusCode};
use reqwest::Url;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use error::{ApiError, RelatedApiError, RestError};
pub use tls::{RestAuth, RestTrust};

/// A JSON request body, shared so a retry or a failover resends it without copying.
type Body = bytes::Bytes;

/// How failed calls are retried.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (each attempt tries every manager once).
    pub max_retries: usize,
    /// First delay.
    pub min_delay: Duration,
    /// Longest delay between two attempts.
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not waited for: the error is returned.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

/// Configuration of an [`NsxRestClient`].
#[derive(Debug, Clone)]
pub struct RestConfig {
    /// The NSX managers: `host`, `host:port` or `https://host:port` (as `NSXManagers` in
    /// bootstrap.conf). At least one.
    pub managers: Vec<String>,
    /// How NSX's certificate is trusted.
    pub trust: RestTrust,
    /// How the client authenticates.
    pub auth: RestAuth,
    /// Whole-request timeout (`NSXClientTimeout`).
    pub request_timeout: Duration,
    /// TCP + TLS connect timeout per manager.
    pub connect_timeout: Duration,
    /// Retries.
    pub retry: RetryPolicy,
}

impl RestConfig {
    /// A configuration with the default timeouts and retries.
    pub fn new(managers: Vec<String>, trust: RestTrust, auth: RestAuth) -> RestConfig {
        RestConfig {
            managers,
            trust,
            auth,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        }
    }
}

/// One NSX REST request: method, path (beginning with `/api/` or `/policy/api/`), query,
/// optional JSON body, and the `X-Allow-Overwrite` flag.
#[derive(Debug, Clone)]
pub struct NsxRequest {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Body>,
    allow_overwrite: bool,
}

impl NsxRequest {
    /// A request without query or body.
    pub fn new(method: Method, path: impl Into<String>) -> NsxRequest {
        NsxRequest {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            allow_overwrite: false,
        }
    }

    /// Adds a query parameter.
    #[must_use]
    pub fn query(mut self, name: &str, value: impl Into<String>) -> NsxRequest {
        self.query.push((name.to_owned(), value.into()));
        self
    }

    /// Sets a JSON body.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<NsxRequest, RestError> {
        let bytes = serde_json::to_vec(body).map_err(|error| {
            RestError::InvalidRequest(format!("body does not serialize: {error}"))
        })?;
        self.body = Some(bytes.into());
        Ok(self)
    }

    /// Sends `X-Allow-Overwrite: true`, needed to change objects another principal
    /// identity protects.
    #[must_use]
    pub fn allow_overwrite(mut self) -> NsxRequest {
        self.allow_overwrite = true;
        self
    }

    /// Whether repeating the request after an unclear failure is harmless.
    fn idempotent(&self) -> bool {
        self.method != Method::POST
    }
}

/// A 2xx answer.
#[derive(Debug, Clone)]
pub struct NsxReply {
    /// The status.
    pub status: StatusCode,
    /// The body (empty for NSX's PATCH and DELETE).
    pub body: bytes::Bytes,
}

impl NsxReply {
    /// The body as JSON of type `T`.
    pub fn json<T: DeserializeOwned>(&self, path: &str) -> Result<T, RestError> {
        serde_json::from_slice(&self.body).map_err(|source| RestError::Decode {
            path: path.to_owned(),
            source,
        })
    }
}

/// One page of an NSX list (`*ListResult`).
#[derive(Debug, serde::Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    results: Vec<T>,
    #[serde(default)]
    cursor: Option<String>,
}

/// The NSX REST client. Cheap to clone; clones share the remembered healthy manager.
#[derive(Clone, Debug)]
pub struct NsxRestClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    managers: Vec<Url>,
    active: AtomicUsize,
    basic: Option<(String, String)>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NsxRestClient")
            .field(
                "managers",
                &self.managers.iter().map(Url::as_str).collect::<Vec<_>>(),
            )
            .field("active", &self.active.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// What one try at one manager gave.
enum Attempt {
    /// NSX answered (any status).
    Answered(StatusCode, http::HeaderMap, bytes::Bytes),
    /// The manager could not be reached, or the exchange failed.
    Failed {
        message: String,
        /// The request may have reached NSX (a timeout after sending).
        maybe_sent: bool,
    },
}

/// Parses a manager address into its base URL.
fn manager_url(manager: &str) -> Result<Url, RestError> {
    let manager = manager.trim().trim_end_matches('/');
    if manager.is_empty() {
        return Err(RestError::Config("an NSX manager address is empty".into()));
    }
    let text = if manager.contains("://") {
        manager.to_owned()
    } else {
        format!("https://{manager}")
    };
    let url = Url::parse(&text)
        .map_err(|error| RestError::Config(format!("NSX manager {manager:?}: {error}")))?;
    match url.scheme() {
        "https" => {}
        // Only when written out: a local TLS-terminating proxy, or a test double.
        "http" => tracing::warn!(manager, "NSX manager reached over plain HTTP"),
        _ => {
            return Err(RestError::Config(format!(
                "NSX manager {manager:?}: only https (or an explicit http://) is supported"
            )));
        }
    }
    if url.path() != "/" || url.query().is_some() {
        return Err(RestError::Config(format!(
            "NSX manager {manager:?}: give only scheme, host and port"
        )));
    }
    Ok(url)
}

/// The `Retry-After` of a response, as delay seconds or an HTTP date.
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let text = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(text)
        .ok()?;
    let wait = at.duration_since(jiff::Timestamp::now());
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// A 5xx that means "this manager cannot serve now": try the next one.
fn is_failover_status(status: StatusCode, body: &[u8]) -> bool {
    matches!(
        status,
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
    ) || (status.is_server_error() && ApiError::from_body(body).is_none())
}

fn api_error(
    request: &NsxRequest,
    status: StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
) -> RestError {
    let error = ApiError::from_body(body).map(Box::new);
    let body_excerpt = if error.is_some() {
        String::new()
    } else {
        String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
    };
    RestError::Api {
        method: request.method.clone(),
        path: request.path.clone(),
        status,
        error,
        body_excerpt,
        retry_after: retry_after(headers),
    }
}

impl NsxRestClient {
    /// Builds a client. Fails on an unusable configuration (no manager, bad PEM...).
    pub fn new(config: RestConfig) -> Result<NsxRestClient, RestError> {
        if config.managers.is_empty() {
            return Err(RestError::Config("no NSX manager configured".into()));
        }
        let managers = config
            .managers
            .iter()
            .map(|manager| manager_url(manager))
            .collect::<Result<Vec<_>, _>>()?;
        let tls = tls::client_config(&config.trust, &config.auth)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|error| RestError::Config(format!("HTTP client: {error}")))?;
        let basic = match config.auth {
            RestAuth::Basic { username, password } => Some((username, password)),
            RestAuth::ClientCertificate { .. } => None,
        };
        Ok(NsxRestClient {
            inner: Arc::new(Inner {
                http,
                managers,
                active: AtomicUsize::new(0),
                basic,
                retry: config.retry,
            }),
        })
    }

    /// The base URL of the manager requests currently go to.
    pub fn active_manager(&self) -> &str {
        let index = self.inner.active.load(Ordering::Relaxed);
        self.inner.managers[index].as_str()
    }

    async fn attempt(&self, manager: &Url, request: &NsxRequest) -> Attempt {
        let mut url = match manager.join(request.path.trim_start_matches('/')) {
            Ok(url) => url,
            Err(error) => {
                return Attempt::Failed {
                    message: format!("bad path: {error}"),
                    maybe_sent: false,
                };
            }
        };
        if !request.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&request.query);
        }
        let mut builder = self
            .inner
            .http
            .request(request.method.clone(), url)
            .header(http::header::ACCEPT, "application/json");
        if let Some((username, password)) = &self.inner.basic {
            builder = builder.basic_auth(username, Some(password));
        }
        if request.allow_overwrite {
            builder = builder.header("X-Allow-Overwrite", "true");
        }
        if let Some(body) = &request.body {
            builder = builder
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let response = match builder.send().await {
            Ok(response) => response,
            Err(error) => {
                return Attempt::Failed {
                    maybe_sent: !error.is_connect(),
                    message: error_chain(&error),
                };
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        match response.bytes().await {
            Ok(body) => Attempt::Answered(status, headers, body),
            Err(error) => Attempt::Failed {
                maybe_sent: true,
                message: error_chain(&error),
            },
        }
    }

    /// One pass over the managers, starting with the remembered one.
    async fn round(&self, request: &NsxRequest) -> Result<NsxReply, RestError> {
        let managers = &self.inner.managers;
        let start = self.inner.active.load(Ordering::Relaxed);
        let mut last_error = None;
        for step in 0..managers.len() {
            let index = (start + step) % managers.len();
            let manager = &managers[index];
            match self.attempt(manager, request).await {
                Attempt::Answered(status, headers, body) => {
                    tracing::debug!(method = %request.method, path = %request.path,
                        manager = %manager, status = status.as_u16(), "NSX answered");
                    if is_failover_status(status, &body) {
                        tracing::warn!(manager = %manager, status = status.as_u16(),
                            path = %request.path, "NSX manager cannot serve; trying the next");
                        last_error = Some(api_error(request, status, &headers, &body));
                        continue;
                    }
                    if step > 0 {
                        tracing::info!(manager = %manager, "switched to another NSX manager");
                    }
                    self.inner.active.store(index, Ordering::Relaxed);
                    if status.is_success() {
                        return Ok(NsxReply { status, body });
                    }
                    return Err(api_error(request, status, &headers, &body));
                }
                Attempt::Failed {
                    message,
                    maybe_sent,
                } => {
                    tracing::warn!(manager = %manager, path = %request.path, error = %message,
                        "NSX manager unreachable");
                    if maybe_sent && !request.idempotent() {
                        return Err(RestError::Interrupted {
                            method: request.method.clone(),
                            path: request.path.clone(),
                            message,
                        });
                    }
                    last_error = Some(RestError::Unreachable {
                        method: request.method.clone(),
                        path: request.path.clone(),
                        message,
                    });
                }
            }
        }
        Err(last_error.unwrap_or_else(|| RestError::Config("no NSX manager configured".into())))
    }

    /// Sends `request` with failover and retries; a 2xx reply, or the error.
    pub async fn execute(&self, request: NsxRequest) -> Result<NsxReply, RestError> {
        let policy = &self.inner.retry;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(policy.min_delay)
            .with_max_delay(policy.max_delay)
            .with_max_times(policy.max_retries)
            .with_jitter();
        let max_retry_after = policy.max_retry_after;
        let request = &request;
        (|| self.round(request))
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(RestError::is_retryable)
            .adjust(move |error, delay| {
                let delay = delay?;
                match error.retry_after() {
                    Some(wait) if wait > max_retry_after => None,
                    Some(wait) => Some(wait.max(delay)),
                    None => Some(delay),
                }
            })
            .notify(|error, delay| {
                tracing::warn!(%error, ?delay, "NSX REST call failed; retrying");
            })
            .await
    }

    /// `GET path` as JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, RestError> {
        self.execute(NsxRequest::new(Method::GET, path))
            .await?
            .json(path)
    }

    /// `GET path` as JSON; `None` on 404.
    pub async fn get_optional<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Option<T>, RestError> {
        match self.execute(NsxRequest::new(Method::GET, path)).await {
            Ok(reply) => reply.json(path).map(Some),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Every element of the list at `path` with `query`, following `cursor` until NSX omits
    /// it. A cursor that comes back twice is an error rather than an endless loop.
    pub async fn list_all<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<T>, RestError> {
        let mut results = Vec::new();
        let mut seen = HashSet::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut request = NsxRequest::new(Method::GET, path);
            for (name, value) in query {
                request = request.query(name, *value);
            }
            if let Some(cursor) = &cursor {
                request = request.query("cursor", cursor.clone());
            }
            let page: Page<T> = self.execute(request).await?.json(path)?;
            results.extend(page.results);
            match page
                .cursor
                .filter(|cursor| !cursor.is_empty() && !cursor.starts_with("0000"))
            {
                None => return Ok(results),
                Some(next) => {
                    if !seen.insert(next.clone()) {
                        return Err(RestError::Paging {
                            path: path.to_owned(),
                            cursor: next,
                        });
                    }
                    cursor = Some(next);
                }
            }
        }
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manager_addresses_become_base_urls() {
        assert_eq!(
            manager_url("nsx1.example.com").unwrap().as_str(),
            "https://nsx1.example.com/"
        );
        assert_eq!(
            manager_url("10.0.0.1:8443").unwrap().as_str(),
            "https://10.0.0.1:8443/"
        );
        assert_eq!(
            manager_url("https://[::1]:443/").unwrap().as_str(),
            "https://[::1]/"
        );
        assert_eq!(
            manager_url("http://127.0.0.1:8080").unwrap().as_str(),
            "http://127.0.0.1:8080/"
        );
        assert!(manager_url("ftp://nsx").is_err());
        assert!(manager_url("").is_err());
        assert!(manager_url("https://nsx/api").is_err());
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(http::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            http::header::RETRY_AFTER,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn failover_only_for_dead_managers() {
        assert!(is_failover_status(StatusCode::SERVICE_UNAVAILABLE, b""));
        assert!(is_failover_status(StatusCode::BAD_GATEWAY, b"{}"));
        assert!(is_failover_status(
            StatusCode::INTERNAL_SERVER_ERROR,
            b"<html>proxy</html>"
        ));
        assert!(!is_failover_status(
            StatusCode::INTERNAL_SERVER_ERROR,
            br#"{"error_code": 99, "error_message": "store"}"#
        ));
        assert!(!is_failover_status(StatusCode::TOO_MANY_REQUESTS, b""));
        assert!(!is_failover_status(StatusCode::NOT_FOUND, b""));
    }

    #[test]
    fn configuration_needs_a_manager() {
        let config = RestConfig::new(
            Vec::new(),
            RestTrust::InsecureSkipVerify,
            RestAuth::Basic {
                username: "admin".into(),
                password: "x".into(),
            },
        );
        assert!(matches!(
            NsxRestClient::new(config),
            Err(RestError::Config(_))
        ));
    }
}
