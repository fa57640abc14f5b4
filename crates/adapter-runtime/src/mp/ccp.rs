//! The CCP adapter's state, read from its `/status` (it runs as a separate process in the
//! same Pod, so plain HTTP on 127.0.0.1).
//!
//! The document is the CCP adapter's `CcpStatus` JSON. Read fields (snake_case, camelCase
//! accepted too): `connected` (or `session_up`): its control-plane session is up;
//! `realization.error`: objects in realization ERROR; optional `kubernetes_reachable`
//! (default true: it answers, so it runs), `session_reason`, and `published_at` (ms; default:
//! the time of the read, since the process answered now). An unreachable URL, an error status
//! or an unreadable document means "not published" (the core judges the CCP adapter FAILED
//! with `NoHeartbeat` once its last state is older than the health policy allows).

use std::time::Duration;

use adapter_core::mp::health::CcpAdapterState;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// `GET http://127.0.0.1:16665/status` (the CCP adapter's `APIServerPort`).
pub const DEFAULT_CCP_STATUS_URL: &str = "http://127.0.0.1:16665/status";

/// Largest status document read.
const MAX_STATUS_BYTES: usize = 1024 * 1024;

fn field<'a>(document: &'a Value, names: &[&str]) -> Option<&'a Value> {
    names.iter().find_map(|name| document.get(*name))
}

/// The CCP adapter's state from its status document read at `now_ms`; `None` when the
/// document is not a JSON object.
pub fn parse_ccp_status(body: &[u8], now_ms: i64) -> Option<CcpAdapterState> {
    let document: Value = serde_json::from_slice(body).ok()?;
    if !document.is_object() {
        return None;
    }
    let session_up = field(&document, &["connected", "session_up", "sessionUp"])
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let kubernetes_reachable = field(&document, &["kubernetes_reachable", "kubernetesReachable"])
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let realization_errors = field(&document, &["realization"])
        .and_then(|r| r.get("error"))
        .and_then(Value::as_u64)
        .or_else(|| {
            field(&document, &["realization_errors", "realizationErrors"]).and_then(Value::as_u64)
        })
        .unwrap_or(0);
    let session_reason = field(&document, &["session_reason", "sessionReason"])
        .and_then(Value::as_str)
        .map(str::to_owned);
    let published_at = field(&document, &["published_at", "publishedAt"])
        .and_then(Value::as_i64)
        .unwrap_or(now_ms);
    Some(CcpAdapterState {
        published_at,
        kubernetes_reachable,
        session_up,
        session_reason,
        realization_errors: u32::try_from(realization_errors).unwrap_or(u32::MAX),
    })
}

/// Why a status could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("the CCP status URL {0:?} is not http://host:port/path")]
    Url(String),
    #[error("reading {url}: {source}")]
    Io { url: String, source: std::io::Error },
    #[error("reading {0}: no answer in time")]
    Timeout(String),
    #[error("reading {url}: {message}")]
    Http { url: String, message: String },
}

/// `(host:port, path)` of an `http://` URL.
fn split_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    (!authority.is_empty() && !path.contains(char::is_whitespace)).then_some((authority, path))
}

/// `GET url` (plain HTTP/1.1, `Connection: close`); the body of a 200.
pub(crate) async fn fetch(url: &str, timeout: Duration) -> Result<Vec<u8>, FetchError> {
    let (authority, path) = split_url(url).ok_or_else(|| FetchError::Url(url.to_owned()))?;
    let io = |source| FetchError::Io {
        url: url.to_owned(),
        source,
    };
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(authority)
            .await
            .map_err(io)?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.map_err(io)?;
        let mut answer = Vec::new();
        (&mut stream)
            .take(MAX_STATUS_BYTES as u64 + 16 * 1024)
            .read_to_end(&mut answer)
            .await
            .map_err(io)?;
        Ok::<_, FetchError>(answer)
    };
    let answer = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| FetchError::Timeout(url.to_owned()))??;
    let http = |message: &str| FetchError::Http {
        url: url.to_owned(),
        message: message.to_owned(),
    };
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| http("no end of headers"))?;
    let head = String::from_utf8_lossy(&answer[..split]);
    let status_line = head.lines().next().unwrap_or_default();
    let code = status_line.split_whitespace().nth(1).unwrap_or_default();
    if code != "200" {
        return Err(http(&format!("status {status_line:?}")));
    }
    if head
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.contains("chunked"))
    {
        return dechunk(&answer[split + 4..]).ok_or_else(|| http("bad chunked body"));
    }
    Ok(answer[split + 4..].to_vec())
}

/// Decodes a chunked body.
fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ccp_adapters_status_document_is_read() {
        let body = br#"{"connected": true, "synced": true, "epoch": "e", "applied_generation": 4,
            "owned_objects": 9, "realization": {"in_progress": 0, "success": 3, "error": 2},
            "last_error": null}"#;
        let state = parse_ccp_status(body, 1_000).unwrap();
        assert_eq!(
            state,
            CcpAdapterState {
                published_at: 1_000,
                kubernetes_reachable: true,
                session_up: true,
                session_reason: None,
                realization_errors: 2,
            }
        );
        let down = parse_ccp_status(
            br#"{"sessionUp": false, "sessionReason": "CertificateRejected", "publishedAt": 7, "kubernetesReachable": false}"#,
            1_000,
        )
        .unwrap();
        assert!(!down.session_up && !down.kubernetes_reachable);
        assert_eq!(down.session_reason.as_deref(), Some("CertificateRejected"));
        assert_eq!(down.published_at, 7);
        assert!(parse_ccp_status(b"[1]", 0).is_none());
        assert!(parse_ccp_status(b"not json", 0).is_none());
    }

    #[test]
    fn urls_and_chunked_bodies_are_parsed() {
        assert_eq!(
            split_url("http://127.0.0.1:16665/status"),
            Some(("127.0.0.1:16665", "/status"))
        );
        assert_eq!(split_url("http://h:1"), Some(("h:1", "/")));
        assert_eq!(split_url("https://h:1/x"), None);
        assert_eq!(
            dechunk(b"4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n").as_deref(),
            Some(&b"{\"a\":1}"[..])
        );
        assert_eq!(dechunk(b"zz\r\n"), None);
    }

    #[tokio::test]
    async fn a_status_is_fetched_and_an_unreachable_one_is_an_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0u8; 1024];
            let n = socket.read(&mut request).await.unwrap();
            assert!(String::from_utf8_lossy(&request[..n]).starts_with("GET /status HTTP/1.1"));
            let body = r#"{"connected":true}"#;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(answer.as_bytes()).await.unwrap();
        });
        let body = fetch(&format!("http://{address}/status"), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(body, br#"{"connected":true}"#);
        server.await.unwrap();
        // Nothing listens there any more.
        assert!(
            fetch(&format!("http://{address}/status"), Duration::from_secs(5))
                .await
                .is_err()
        );
    }
}
