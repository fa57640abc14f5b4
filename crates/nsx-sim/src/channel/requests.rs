//! NSX → MP adapter requests (docs/protocol.md §7.3–7.6): correlation ids, deadlines,
//! ordered multi-part answers, cancellation, and re-sending across reconnects.
//!
//! A request lives in [`PendingRequests`] from when a REST facade issues it until its last
//! part arrives, its deadline (plus the late-answer grace) passes, or its caller goes away.
//! The cluster's management-plane session sends it (queued behind the session's concurrency
//! limit) and routes the answer parts here by `request_id`, where their `sequence` is checked.
//! When a session ends, its requests are only interrupted: the next session of the cluster
//! sends them again with the same id, and the adapter restarts the answer at `sequence 0`.
//! The caller reads the parts through its [`RequestHandle`].

use std::collections::HashMap;
use std::time::Duration;

use http::StatusCode;
use nsx_proto::v1::{ChannelError, ErrorCode, MpRequest, MpResponse, mp_request, mp_response};
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{AdapterChannel, MODULE_CHANNEL, SessionCommand, api_error_from_channel, code};
use crate::error::ApiError;

struct Pending {
    cluster_id: String,
    request: MpRequest,
    parts: mpsc::UnboundedSender<MpResponse>,
    next_sequence: u32,
}

/// What became of a delivered part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// The request goes on.
    Continues,
    /// That was its last part (or it failed): the session's slot is free.
    Finished,
    /// No such request (ended, timed out, or another cluster's): ignored.
    Unknown,
}

/// The outstanding requests of every cluster.
#[derive(Default)]
pub struct PendingRequests {
    pending: Mutex<HashMap<String, Pending>>,
}

impl std::fmt::Debug for PendingRequests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingRequests")
            .field("count", &self.pending.lock().len())
            .finish()
    }
}

impl PendingRequests {
    /// The request `id` as it should be sent now (with a fresh `sent_at`), if it is still
    /// pending for `cluster_id`; resets its expected sequence (a re-sent request is answered
    /// from `sequence 0`).
    pub(crate) fn to_send(&self, cluster_id: &str, id: &str) -> Option<MpRequest> {
        let mut pending = self.pending.lock();
        let entry = pending.get_mut(id).filter(|p| p.cluster_id == cluster_id)?;
        entry.next_sequence = 0;
        let mut request = entry.request.clone();
        request.sent_at = Some(super::timestamp_now());
        Some(request)
    }

    /// The ids of the requests still pending for `cluster_id`.
    pub(crate) fn of_cluster(&self, cluster_id: &str) -> Vec<String> {
        self.pending
            .lock()
            .iter()
            .filter(|(_, p)| p.cluster_id == cluster_id)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Routes an answer part from `cluster_id`'s session.
    pub(crate) fn deliver(&self, cluster_id: &str, response: MpResponse) -> Delivery {
        let mut pending = self.pending.lock();
        let Some(entry) = pending
            .get_mut(&response.request_id)
            .filter(|p| p.cluster_id == cluster_id)
        else {
            tracing::debug!(request_id = %response.request_id, "answer to an unknown request ignored");
            return Delivery::Unknown;
        };
        let violation = if response.body.is_none() {
            Some("an answer part without a body".to_owned())
        } else if response.sequence != entry.next_sequence {
            Some(format!(
                "answer part {} arrived where part {} was expected",
                response.sequence, entry.next_sequence
            ))
        } else {
            None
        };
        let id = response.request_id.clone();
        if let Some(violation) = violation {
            tracing::warn!(request_id = %id, %violation, "protocol violation in an answer");
            let _ = entry.parts.send(MpResponse {
                request_id: id.clone(),
                sequence: response.sequence,
                last: true,
                body: Some(mp_response::Body::Error(
                    ChannelError::new(ErrorCode::ProtocolViolation, violation)
                        .with_target("sequence"),
                )),
            });
            pending.remove(&id);
            return Delivery::Finished;
        }
        entry.next_sequence += 1;
        let last = response.last || matches!(response.body, Some(mp_response::Body::Error(_)));
        let caller_gone = entry.parts.send(response).is_err();
        if last || caller_gone {
            pending.remove(&id);
            return Delivery::Finished;
        }
        Delivery::Continues
    }

    fn remove(&self, id: &str) -> Option<String> {
        self.pending.lock().remove(id).map(|p| p.cluster_id)
    }
}

/// One answer part as the caller sees it.
#[derive(Debug, Clone)]
pub struct Part {
    /// The body (never an error: errors come back as `Err`).
    pub body: mp_response::Body,
    /// Whether it is the last part.
    pub last: bool,
}

/// The caller's end of a request. Dropping it before the last part cancels the request.
#[derive(Debug)]
pub struct RequestHandle {
    channel: AdapterChannel,
    cluster_id: String,
    request_id: String,
    parts: mpsc::UnboundedReceiver<MpResponse>,
    deadline: Instant,
    done: bool,
}

impl AdapterChannel {
    /// Sends a request to the MP adapter of `cluster_id`, which must have a session that
    /// negotiated `capability`; the answer must be complete within `timeout` (plus the late
    /// grace). Fails at once, with an NSX `ApiError`, when the cluster is not connected or did
    /// not offer the capability.
    pub fn request(
        &self,
        cluster_id: &str,
        capability: &str,
        body: mp_request::Body,
        timeout: Duration,
    ) -> Result<RequestHandle, ApiError> {
        let session = self
            .session(false, cluster_id)
            .ok_or_else(|| super::not_connected(cluster_id))?;
        if !session.capabilities.iter().any(|c| c == capability) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                code::CAPABILITY_UNAVAILABLE,
                MODULE_CHANNEL,
                format!(
                    "The adapter of Antrea cluster {cluster_id} does not offer {capability}; \
                     the request is unavailable for this cluster."
                ),
            ));
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        let (sender, parts) = mpsc::unbounded_channel();
        let request = MpRequest {
            request_id: request_id.clone(),
            timeout: Some(super::proto_duration(timeout)),
            sent_at: None,
            body: Some(body),
        };
        self.requests().pending.lock().insert(
            request_id.clone(),
            Pending {
                cluster_id: cluster_id.to_owned(),
                request,
                parts: sender,
                next_sequence: 0,
            },
        );
        if session
            .commands
            .send(SessionCommand::Request(request_id.clone()))
            .is_err()
        {
            self.requests().remove(&request_id);
            return Err(super::not_connected(cluster_id));
        }
        Ok(RequestHandle {
            channel: self.clone(),
            cluster_id: cluster_id.to_owned(),
            request_id,
            parts,
            deadline: Instant::now() + timeout + self.options().late_response_grace,
            done: false,
        })
    }

    /// Withdraws request `id` and tells its cluster's session to cancel it.
    pub(crate) fn cancel_request(&self, id: &str, reason: &str) {
        if let Some(cluster_id) = self.requests().remove(id)
            && let Some(session) = self.session(false, &cluster_id)
        {
            let _ = session
                .commands
                .send(SessionCommand::Cancel(id.to_owned(), reason.to_owned()));
        }
    }
}

impl RequestHandle {
    /// The request's correlation id.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The cluster it went to.
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// The next answer part. An error part, a protocol violation or the deadline end the
    /// request with an NSX `ApiError`.
    pub async fn next_part(&mut self) -> Result<Part, ApiError> {
        if self.done {
            return Err(ApiError::internal("The request has already ended."));
        }
        let received = tokio::time::timeout_at(self.deadline, self.parts.recv()).await;
        let response = match received {
            Ok(Some(response)) => response,
            Ok(None) => {
                self.done = true;
                return Err(ApiError::internal("The request was withdrawn."));
            }
            Err(_) => {
                self.done = true;
                self.channel
                    .cancel_request(&self.request_id, "the deadline passed");
                return Err(ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    code::ADAPTER_TIMEOUT,
                    MODULE_CHANNEL,
                    format!(
                        "The adapter of Antrea cluster {} did not answer in time.",
                        self.cluster_id
                    ),
                ));
            }
        };
        match response.body {
            Some(mp_response::Body::Error(error)) => {
                self.done = true;
                let code = ErrorCode::try_from(error.code).unwrap_or(ErrorCode::Internal);
                if code == ErrorCode::ProtocolViolation {
                    return Err(ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        super::code::ADAPTER_PROTOCOL,
                        MODULE_CHANNEL,
                        format!(
                            "The adapter of Antrea cluster {} broke the protocol: {}",
                            self.cluster_id, error.message
                        ),
                    ));
                }
                Err(api_error_from_channel(&self.cluster_id, &error))
            }
            Some(body) => {
                if response.last {
                    self.done = true;
                }
                Ok(Part {
                    body,
                    last: response.last,
                })
            }
            None => {
                self.done = true;
                Err(ApiError::internal("An answer part had no body."))
            }
        }
    }
}

impl Drop for RequestHandle {
    fn drop(&mut self) {
        if !self.done {
            self.channel
                .cancel_request(&self.request_id, "the REST caller went away");
        }
    }
}
