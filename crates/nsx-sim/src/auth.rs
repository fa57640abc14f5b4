//! Authentication, as NSX does it: HTTP basic auth for the `admin` user, a password session
//! (`POST /api/session/create` → `JSESSIONID` cookie + `X-XSRF-TOKEN` header that later
//! requests send back), or a TLS client certificate registered for a principal identity.
//! Anything else is answered with NSX's 403 ApiError.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use http::header::{AUTHORIZATION, COOKIE};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::identity::{Caller, Identity, principal_for_certificate};
use crate::rest::AppState;

/// The admin user name.
pub const ADMIN_USER: &str = "admin";
/// Session cookie name.
pub const SESSION_COOKIE: &str = "JSESSIONID";
/// Header carrying the session's anti-XSRF token.
pub const XSRF_HEADER: &str = "X-XSRF-TOKEN";
/// Header that lets a caller change objects protected by a principal identity.
pub const ALLOW_OVERWRITE_HEADER: &str = "X-Allow-Overwrite";
/// NSX's default session idle timeout.
pub const SESSION_IDLE_TIMEOUT: Duration = Duration::from_secs(1800);

/// SHA-256 (lowercase hex) of the client certificate the TLS peer presented, if any.
/// The server inserts it into every request of the connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientCertificate(pub Option<String>);

struct Session {
    identity: Identity,
    xsrf_token: String,
    last_used: Instant,
}

/// Password sessions. Kept in memory: like NSX's, they do not survive a restart.
#[derive(Default)]
pub struct Sessions {
    sessions: Mutex<HashMap<String, Session>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").finish_non_exhaustive()
    }
}

fn random_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Sessions {
    /// Opens a session; returns `(session id, XSRF token)`.
    pub fn create(&self, identity: Identity) -> (String, String) {
        let id = random_token();
        let xsrf_token = uuid::Uuid::new_v4().to_string();
        let mut sessions = self.sessions.lock();
        let now = Instant::now();
        sessions.retain(|_, s| now.duration_since(s.last_used) < SESSION_IDLE_TIMEOUT);
        sessions.insert(
            id.clone(),
            Session {
                identity,
                xsrf_token: xsrf_token.clone(),
                last_used: now,
            },
        );
        (id, xsrf_token)
    }

    /// The identity of a live session whose XSRF token matches.
    pub fn check(&self, id: &str, xsrf_token: Option<&str>) -> Result<Identity, ApiError> {
        let mut sessions = self.sessions.lock();
        let now = Instant::now();
        let Some(session) = sessions.get_mut(id) else {
            return Err(ApiError::bad_credentials());
        };
        if now.duration_since(session.last_used) >= SESSION_IDLE_TIMEOUT {
            sessions.remove(id);
            return Err(ApiError::bad_credentials());
        }
        if xsrf_token != Some(session.xsrf_token.as_str()) {
            return Err(ApiError::bad_xsrf_token());
        }
        session.last_used = now;
        Ok(session.identity.clone())
    }

    /// Ends a session.
    pub fn destroy(&self, id: &str) {
        self.sessions.lock().remove(id);
    }
}

/// Compares two secrets without an early exit on the first difference.
pub fn same_secret(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

/// The value of cookie `name`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn identify(app: &AppState, request: &Request) -> Result<Identity, ApiError> {
    let headers = request.headers();
    if let Some(value) = headers.get(AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ApiError::bad_credentials())?;
        let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("Basic") {
            return Err(ApiError::bad_credentials());
        }
        let decoded = STANDARD
            .decode(credentials.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(ApiError::bad_credentials)?;
        let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
        if user == ADMIN_USER && same_secret(password, &app.admin_password) {
            return Ok(Identity::User(ADMIN_USER.to_owned()));
        }
        return Err(ApiError::bad_credentials());
    }
    if let Some(session) = cookie(headers, SESSION_COOKIE) {
        let xsrf = headers.get(XSRF_HEADER).and_then(|v| v.to_str().ok());
        return app.sessions.check(&session, xsrf);
    }
    if let Some(ClientCertificate(Some(fingerprint))) = request.extensions().get() {
        return app
            .store
            .read(|tables| principal_for_certificate(tables, fingerprint))
            .ok_or_else(ApiError::bad_credentials);
    }
    Err(ApiError::bad_credentials())
}

/// Middleware: authenticates the request and attaches its [`Caller`].
pub async fn authenticate(
    State(app): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    if request.uri().path() == "/api/session/create" {
        return next.run(request).await;
    }
    match identify(&app, &request) {
        Ok(identity) => {
            let allow_overwrite = request
                .headers()
                .get(ALLOW_OVERWRITE_HEADER)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
            tracing::debug!(user = identity.user_name(), method = %request.method(), path = request.uri().path(), "request");
            request.extensions_mut().insert(Caller {
                identity,
                allow_overwrite,
            });
            next.run(request).await
        }
        Err(error) => {
            tracing::debug!(path = request.uri().path(), %error, "authentication refused");
            error.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_need_the_xsrf_token() {
        let sessions = Sessions::default();
        let (id, token) = sessions.create(Identity::User("admin".into()));
        assert_eq!(
            sessions.check(&id, Some(&token)).unwrap(),
            Identity::User("admin".into())
        );
        assert_eq!(sessions.check(&id, None).unwrap_err().error_code, 98);
        assert_eq!(sessions.check(&id, Some("x")).unwrap_err().error_code, 98);
        assert_eq!(
            sessions.check("nope", Some(&token)).unwrap_err().error_code,
            403
        );
        sessions.destroy(&id);
        assert!(sessions.check(&id, Some(&token)).is_err());
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, "a=1; JSESSIONID=abc; b=2".parse().unwrap());
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("abc"));
    }
}
