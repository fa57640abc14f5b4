//! WATCH: a chunked stream of JSON `WatchEvent`s, one per line. Resumes from a
//! resourceVersion out of the resource's history (410 `Expired` when it is older),
//! sends initial events (`sendInitialEvents`, or no resourceVersion), bookmarks
//! (periodically and on request), honours `timeoutSeconds`, filters by selectors (an
//! object that stops matching produces DELETED) and ends on `drop_watches()`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::Response;
use kube_apimachinery::field_error::FieldError;
use kube_apimachinery::registry::ResourceType;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

use crate::Inner;
use crate::convert::render;
use crate::http::{Params, Target, json_response};
use crate::output::Negotiated;
use crate::select::Filter;
use crate::status::ApiError;
use crate::store::{Change, ChangeType, StoredObject, WatchMessage};

/// Signals shared by all watches of one emulator.
#[derive(Debug)]
pub(crate) struct WatchControl {
    /// Cancelled by `drop_watches()` (and replaced by a fresh token).
    drop_token: Mutex<CancellationToken>,
    /// Bumped by `send_bookmarks()`.
    bookmarks: tokio::sync::watch::Sender<u64>,
}

impl WatchControl {
    pub fn new() -> Self {
        WatchControl {
            drop_token: Mutex::new(CancellationToken::new()),
            bookmarks: tokio::sync::watch::channel(0).0,
        }
    }

    pub fn drop_all(&self) {
        let mut token = self.drop_token.lock();
        token.cancel();
        *token = CancellationToken::new();
    }

    pub fn request_bookmarks(&self) {
        self.bookmarks.send_modify(|n| *n += 1);
    }

    fn current(&self) -> (CancellationToken, tokio::sync::watch::Receiver<u64>) {
        (self.drop_token.lock().clone(), self.bookmarks.subscribe())
    }
}

fn event_line(event_type: &str, object: &[u8]) -> Bytes {
    let mut line = Vec::with_capacity(object.len() + 32);
    line.extend_from_slice(b"{\"type\":\"");
    line.extend_from_slice(event_type.as_bytes());
    line.extend_from_slice(b"\",\"object\":");
    line.extend_from_slice(object);
    line.extend_from_slice(b"}\n");
    Bytes::from(line)
}

fn bookmark_line(api_version: &str, kind: &str, rv: u64, initial_end: bool) -> Bytes {
    let mut metadata = json!({ "resourceVersion": rv.to_string(), "creationTimestamp": null });
    if initial_end {
        metadata["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
    }
    let object = json!({ "kind": kind, "apiVersion": api_version, "metadata": metadata });
    event_line("BOOKMARK", object.to_string().as_bytes())
}

fn error_line(error: &ApiError) -> Bytes {
    event_line("ERROR", error.to_status().to_string().as_bytes())
}

/// Turns objects into event lines in the representation the watch asked for (the
/// objects themselves, or `Table` rows / `PartialObjectMetadata`).
struct Renderer {
    rt: Arc<ResourceType>,
    negotiated: Negotiated,
    /// Whether a Table already carried its column definitions.
    headers_sent: bool,
}

impl Renderer {
    fn line(&mut self, event_type: &str, object: &[u8]) -> Bytes {
        if self.negotiated.is_plain_json() {
            return event_line(event_type, object);
        }
        let converted = serde_json::from_slice::<Value>(object)
            .ok()
            .and_then(|value| {
                self.negotiated
                    .object(&self.rt, &value, !self.headers_sent)
                    .ok()
            });
        self.headers_sent = true;
        match converted {
            Some(value) => event_line(event_type, &serde_json::to_vec(&value).unwrap_or_default()),
            None => event_line(event_type, object),
        }
    }

    fn object(&mut self, event_type: &str, object: &StoredObject) -> Bytes {
        let bytes = render(object, &self.rt);
        self.line(event_type, &bytes)
    }

    /// The event (if any) a change produces for a watcher with `filter`.
    fn change(&mut self, change: &Change, filter: &Filter) -> Option<Bytes> {
        let matches_now = filter.matches(&change.object);
        match change.change_type {
            ChangeType::Added => matches_now.then(|| self.object("ADDED", &change.object)),
            ChangeType::Deleted => matches_now.then(|| self.object("DELETED", &change.object)),
            ChangeType::Modified => {
                let matched_before = change.previous.as_ref().is_some_and(|p| filter.matches(p));
                match (matched_before, matches_now) {
                    (true, true) => Some(self.object("MODIFIED", &change.object)),
                    (false, true) => Some(self.object("ADDED", &change.object)),
                    (true, false) => {
                        // The object left the selection: DELETED with its last matching
                        // state at the new resourceVersion, as kube-apiserver's cacher does.
                        let previous = change.previous.as_ref()?;
                        let mut value = crate::convert::served_value(previous, &self.rt);
                        if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut)
                        {
                            meta.insert("resourceVersion".into(), json!(change.rv.to_string()));
                        }
                        let bytes = serde_json::to_vec(&value).unwrap_or_default();
                        Some(self.line("DELETED", &bytes))
                    }
                    (false, false) => None,
                }
            }
        }
    }
}

fn validate_watch_params(params: &Params) -> Result<(), ApiError> {
    let invalid = |field: &str, detail: &str| {
        ApiError::invalid(
            "ListOptions",
            "meta.k8s.io",
            "",
            &[FieldError::forbidden(field.to_string(), detail.to_string())],
        )
    };
    let send_initial = params.send_initial_events.is_some();
    match params.resource_version_match.as_deref() {
        None => {
            if send_initial {
                return Err(invalid(
                    "sendInitialEvents",
                    "sendInitialEvents is forbidden for watch unless resourceVersionMatch is set to NotOlderThan",
                ));
            }
        }
        Some("NotOlderThan") if send_initial => {}
        Some(_) => {
            return Err(invalid(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            ));
        }
    }
    if params.send_initial_events == Some(true) && !params.allow_watch_bookmarks {
        return Err(invalid(
            "allowWatchBookmarks",
            "allowWatchBookmarks must be set to true when sendInitialEvents is true",
        ));
    }
    Ok(())
}

/// What a watch sends before live events.
struct Opening {
    lines: Vec<Bytes>,
    rx: Option<broadcast::Receiver<WatchMessage>>,
}

/// `GET ...?watch=true`.
pub(crate) fn watch(
    inner: &Arc<Inner>,
    target: &Target,
    params: &Params,
    accept: &str,
) -> Result<Response<Body>, ApiError> {
    validate_watch_params(params)?;
    let negotiated = Negotiated::new(accept, params.include_object.as_deref())?;
    let rt = target.rt.clone();
    let gr = crate::convert::storage_resource(&rt);
    let api_version = rt.api_version();
    let mut renderer = Renderer {
        rt: rt.clone(),
        negotiated,
        headers_sent: false,
    };
    let rv_param = params.resource_version.clone().unwrap_or_default();
    let requested_rv =
        match rv_param.as_str() {
            "" | "0" => None,
            text => Some(text.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("invalid resource version: {text:?}"))
            })?),
        };
    let opening = {
        let mut state = inner.state.write();
        let current = state.rv;
        let selectable = state.crd_fields.get(&gr).cloned().unwrap_or_default();
        let filter = Filter::new(
            target.namespace.clone(),
            params.label_selector.as_deref(),
            params.field_selector.as_deref(),
            &rt,
            &selectable,
        )?;
        let store = state.resource_mut(&gr);
        let send_initial = match params.send_initial_events {
            Some(send) => send,
            None => requested_rv.is_none(),
        };
        let mut lines = Vec::new();
        let mut rx = Some(store.sender.subscribe());
        if send_initial {
            for (_, object) in store.range(target.namespace.as_deref(), None) {
                if filter.matches(object) {
                    lines.push(renderer.object("ADDED", object));
                }
            }
            if params.send_initial_events == Some(true) {
                lines.push(bookmark_line(&api_version, &rt.kind, current, true));
            }
        } else if let Some(from) = requested_rv {
            match store.changes_since(from) {
                Some(changes) => {
                    lines.extend(
                        changes
                            .iter()
                            .filter_map(|change| renderer.change(change, &filter)),
                    );
                }
                None => {
                    let error = ApiError::expired(format!(
                        "too old resource version: {from} ({})",
                        store.floor() + 1
                    ));
                    lines.push(error_line(&error));
                    rx = None;
                }
            }
        }
        (Opening { lines, rx }, filter)
    };
    let (opening, filter) = opening;
    let (drop_token, bookmark_requests) = inner.watch_control.current();
    let session = Session {
        inner: inner.clone(),
        filter,
        api_version,
        kind: rt.kind.clone(),
        renderer,
        bookmarks: params.allow_watch_bookmarks,
        timeout: params.timeout_seconds.map(Duration::from_secs),
        drop_token,
        bookmark_requests,
    };
    let (tx, body_rx) = mpsc::channel::<Result<Bytes, Infallible>>(64);
    tokio::spawn(session.run(opening, tx));
    let mut response = json_response(200, Bytes::new());
    *response.body_mut() = Body::from_stream(ReceiverStream::new(body_rx));
    Ok(response)
}

/// One open watch.
struct Session {
    inner: Arc<Inner>,
    filter: Filter,
    api_version: String,
    kind: String,
    renderer: Renderer,
    bookmarks: bool,
    timeout: Option<Duration>,
    drop_token: CancellationToken,
    bookmark_requests: tokio::sync::watch::Receiver<u64>,
}

impl Session {
    async fn run(mut self, opening: Opening, tx: mpsc::Sender<Result<Bytes, Infallible>>) {
        for line in opening.lines {
            if tx.send(Ok(line)).await.is_err() {
                return;
            }
        }
        let Some(mut rx) = opening.rx else {
            return;
        };
        let deadline = self.timeout.map(|t| tokio::time::Instant::now() + t);
        let interval = self.inner.options.bookmark_interval;
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        let mut bookmark_due = false;
        loop {
            if bookmark_due && let Some(rv) = self.safe_bookmark_rv(&rx) {
                bookmark_due = false;
                let line = bookmark_line(&self.api_version, &self.kind, rv, false);
                if tx.send(Ok(line)).await.is_err() {
                    return;
                }
            }
            let sleep = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = self.drop_token.cancelled() => return,
                _ = tx.closed() => return,
                _ = sleep => return,
                message = rx.recv() => match message {
                    Ok(WatchMessage::Change(change)) => {
                        if let Some(line) = self.renderer.change(&change, &self.filter)
                            && tx.send(Ok(line)).await.is_err()
                        {
                            return;
                        }
                    }
                    // A watcher that falls behind is closed, as kube-apiserver closes
                    // unresponsive watchers; the client resumes from its last version.
                    Err(broadcast::error::RecvError::Lagged(_)) => return,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = ticker.tick(), if self.bookmarks => bookmark_due = true,
                changed = self.bookmark_requests.changed(), if self.bookmarks => {
                    if changed.is_err() {
                        return;
                    }
                    bookmark_due = true;
                }
            }
        }
    }

    /// The global resourceVersion when every event up to it has been taken from `rx`
    /// (checked under the store lock, so no write is half-way): a bookmark carrying it
    /// never claims more than this watch has seen.
    fn safe_bookmark_rv(&self, rx: &broadcast::Receiver<WatchMessage>) -> Option<u64> {
        let state = self.inner.state.read();
        rx.is_empty().then_some(state.rv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::build_stored;

    fn pod(app: &str, rv: u64) -> Arc<StoredObject> {
        let value = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "ns", "resourceVersion": rv.to_string(),
                         "labels": {"app": app}}});
        Arc::new(build_stored(&value, &[]))
    }

    fn renderer() -> Renderer {
        let registry = kube_apimachinery::registry::Registry::with_builtins();
        Renderer {
            rt: registry.get("", "v1", "pods").unwrap(),
            negotiated: Negotiated::new("application/json", None).unwrap(),
            headers_sent: false,
        }
    }

    fn filter(selector: &str) -> Filter {
        let registry = kube_apimachinery::registry::Registry::with_builtins();
        let pods = registry.get("", "v1", "pods").unwrap();
        Filter::new(None, Some(selector), None, &pods, &[]).unwrap()
    }

    #[test]
    fn leaving_a_selection_is_a_deletion() {
        let change = Change {
            rv: 9,
            change_type: ChangeType::Modified,
            object: pod("b", 9),
            previous: Some(pod("a", 5)),
        };
        let line = renderer().change(&change, &filter("app=a")).unwrap();
        let event: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(event["type"], "DELETED");
        assert_eq!(event["object"]["metadata"]["resourceVersion"], "9");
        assert_eq!(event["object"]["metadata"]["labels"]["app"], "a");
        let entering = renderer().change(&change, &filter("app=b")).unwrap();
        assert!(entering.starts_with(b"{\"type\":\"ADDED\""));
        assert!(renderer().change(&change, &filter("app=c")).is_none());
    }

    #[test]
    fn bookmarks_carry_only_type_and_version() {
        let line = bookmark_line("v1", "Pod", 12, true);
        let event: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(event["type"], "BOOKMARK");
        assert_eq!(event["object"]["metadata"]["resourceVersion"], "12");
        assert_eq!(
            event["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
            "true"
        );
    }

    #[test]
    fn send_initial_events_needs_not_older_than() {
        let params = Params {
            send_initial_events: Some(true),
            allow_watch_bookmarks: true,
            ..Params::default()
        };
        assert_eq!(validate_watch_params(&params).unwrap_err().code, 422);
        let params = Params {
            resource_version_match: Some("NotOlderThan".into()),
            ..params
        };
        assert!(validate_watch_params(&params).is_ok());
    }
}
