//! Antrea Traceflows on NSX's behalf: create (a repeated start attaches to the existing
//! object), wait until Antrea finishes, delete.
//!
//! Waiting polls the object. A Traceflow without a phase is queued for one of Antrea's 14
//! data-plane tags; one still queued after [`TraceflowWait::queued_limit`] ends with
//! `TraceflowError::busy()` (RESOURCE_EXHAUSTED), one not finished by the deadline with
//! `TraceflowError::timeout()` (DEADLINE_EXCEEDED). Refusals of Antrea's webhook
//! (`traceflowvalidator.antrea.io`) become INVALID_ARGUMENT, or NOT_FOUND for a Pod that does
//! not exist.

use std::time::Duration;

use adapter_core::mp::traceflow::{
    TRACEFLOW_ID_LABEL, TraceflowError, TraceflowErrorCode, TraceflowProgress, id_hash, progress,
};
use antrea_types::Traceflow;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::AntreaError;

/// How a Traceflow is waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceflowWait {
    /// Time between two reads of the Traceflow.
    pub poll: Duration,
    /// How long a Traceflow may stay queued (no phase) before the request is refused as busy.
    pub queued_limit: Duration,
}

impl Default for TraceflowWait {
    fn default() -> Self {
        TraceflowWait {
            poll: Duration::from_millis(250),
            queued_limit: Duration::from_secs(10),
        }
    }
}

/// Why a Traceflow gave no result.
#[derive(Debug, thiserror::Error)]
pub enum TraceflowFailure {
    /// Antrea refused it, it stayed queued, or it did not finish in time.
    #[error(transparent)]
    Refused(#[from] TraceflowError),
    /// The API call failed.
    #[error(transparent)]
    Api(#[from] AntreaError),
}

/// Maps an admission denial of Antrea's Traceflow webhook.
fn refusal(message: &str) -> TraceflowError {
    let said = message
        .split_once("denied the request: ")
        .map_or(message, |(_, said)| said);
    let code = if said.contains("not found") {
        TraceflowErrorCode::NotFound
    } else {
        TraceflowErrorCode::InvalidArgument
    };
    let target = if said.contains("source") {
        "source_external_id"
    } else if said.contains("destination") {
        "destination_external_id"
    } else {
        ""
    };
    TraceflowError {
        code,
        target: target.to_owned(),
        message: format!("Antrea refused the Traceflow: {said}"),
    }
}

/// Creates `traceflow`; when one of that name exists already (a repeated start of the same
/// run), returns it instead.
pub async fn create(client: &Client, traceflow: &Traceflow) -> Result<Traceflow, TraceflowFailure> {
    let api: Api<Traceflow> = Api::all(client.clone());
    let name = traceflow.metadata.name.clone().unwrap_or_default();
    match api.create(&PostParams::default(), traceflow).await {
        Ok(created) => Ok(created),
        Err(kube::Error::Api(status)) if status.code == 409 => api
            .get(&name)
            .await
            .map_err(|e| AntreaError::api(format!("reading Traceflow {name}"), e).into()),
        Err(kube::Error::Api(status))
            if status.code == 400 && status.message.contains("denied the request") =>
        {
            Err(refusal(&status.message).into())
        }
        Err(error) => Err(AntreaError::api(format!("creating Traceflow {name}"), error).into()),
    }
}

/// Reads Traceflow `name`; `None` when it does not exist.
pub async fn get(client: &Client, name: &str) -> Result<Option<Traceflow>, AntreaError> {
    let api: Api<Traceflow> = Api::all(client.clone());
    api.get_opt(name)
        .await
        .map_err(|e| AntreaError::api(format!("reading Traceflow {name}"), e))
}

/// Waits until Traceflow `name` has a phase (Antrea gave it a data-plane tag); still queued
/// after `wait.queued_limit`: `TraceflowError::busy()`.
pub async fn wait_started(
    client: &Client,
    name: &str,
    wait: TraceflowWait,
    cancel: &CancellationToken,
) -> Result<Traceflow, TraceflowFailure> {
    let deadline = Instant::now() + wait.queued_limit;
    loop {
        let Some(traceflow) = get(client, name).await? else {
            return Err(AntreaError::Unexpected {
                context: format!("waiting for Traceflow {name} to start"),
                message: "it was deleted".into(),
            }
            .into());
        };
        if progress(traceflow.status.as_ref()) != TraceflowProgress::Queued {
            return Ok(traceflow);
        }
        if Instant::now() >= deadline {
            return Err(TraceflowError::busy().into());
        }
        tokio::select! {
            () = cancel.cancelled() => {
                return Err(AntreaError::Cancelled(format!("waiting for Traceflow {name}")).into());
            }
            () = tokio::time::sleep(wait.poll) => {}
        }
    }
}

/// Waits until Traceflow `name` is Succeeded or Failed; see the module documentation.
pub async fn wait(
    client: &Client,
    name: &str,
    deadline: Instant,
    wait: TraceflowWait,
    cancel: &CancellationToken,
) -> Result<Traceflow, TraceflowFailure> {
    let started = Instant::now();
    loop {
        let Some(traceflow) = get(client, name).await? else {
            return Err(AntreaError::Unexpected {
                context: format!("waiting for Traceflow {name}"),
                message: "it was deleted".into(),
            }
            .into());
        };
        let now = Instant::now();
        match progress(traceflow.status.as_ref()) {
            TraceflowProgress::Completed => return Ok(traceflow),
            TraceflowProgress::Queued if now.duration_since(started) >= wait.queued_limit => {
                return Err(TraceflowError::busy().into());
            }
            _ => {}
        }
        if now >= deadline {
            return Err(TraceflowError::timeout(now.duration_since(started)).into());
        }
        let pause = wait.poll.min(deadline.saturating_duration_since(now));
        tokio::select! {
            () = cancel.cancelled() => {
                return Err(AntreaError::Cancelled(format!("waiting for Traceflow {name}")).into());
            }
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// Deletes Traceflow `name`; returns whether it existed.
pub async fn delete(client: &Client, name: &str) -> Result<bool, AntreaError> {
    let api: Api<Traceflow> = Api::all(client.clone());
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(error) => Err(AntreaError::api(
            format!("deleting Traceflow {name}"),
            error,
        )),
    }
}

/// Deletes every run of NSX traceflow `traceflow_id` (found by label); returns how many.
pub async fn delete_runs(client: &Client, traceflow_id: &str) -> Result<u32, AntreaError> {
    let api: Api<Traceflow> = Api::all(client.clone());
    let selector = format!("{TRACEFLOW_ID_LABEL}={}", id_hash(traceflow_id));
    let list = api
        .list_metadata(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| AntreaError::api("listing Traceflows", e))?;
    let mut removed = 0;
    for item in list.items {
        if let Some(name) = item.metadata.name
            && delete(client, &name).await?
        {
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_denials_are_mapped() {
        let missing = refusal(
            "admission webhook \"traceflowvalidator.antrea.io\" denied the request: requested source Pod default/x not found",
        );
        assert_eq!(missing.code, TraceflowErrorCode::NotFound);
        assert_eq!(missing.target, "source_external_id");
        assert!(
            missing
                .message
                .ends_with("requested source Pod default/x not found")
        );
        let host = refusal(
            "admission webhook \"traceflowvalidator.antrea.io\" denied the request: using hostNetwork Pod as source in non-live-traffic Traceflow is not supported",
        );
        assert_eq!(host.code, TraceflowErrorCode::InvalidArgument);
        assert_eq!(host.target, "source_external_id");
    }
}
