//! Antrea Traceflow through NSX (nsx-api.md §3.8): `AntreaTraceflowConfig` intent objects at
//! `/infra/antrea/traceflows/{id}`, relayed to the cluster's MP adapter as
//! `TraceflowStartRequest` / `TraceflowGetRequest` / `TraceflowDeleteRequest`
//! (docs/protocol.md §7.5).
//!
//! The configurations are stored durably (table [`TABLE`]); results are cached in memory per
//! run. `PUT`/`PATCH` start a run (the first run is 1; a changed configuration starts the next
//! run) and answer once the adapter accepted it (its first answer part) or refused it;
//! `?action=retrace` starts the next run with the same configuration. The rest of the answer
//! is collected in the background. `observations` and `status` serve the cached result, or ask
//! the adapter (`TraceflowGetRequest`) when NSX has none (after a restart).

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use http::{Method, StatusCode, Uri};
use nsx_proto::capabilities::MP_TRACEFLOW;
use nsx_proto::v1::{
    AntreaTraceflowConfig, AntreaTraceflowIcmpEchoRequestHeader, AntreaTraceflowIpHeader,
    AntreaTraceflowIpv6Header, AntreaTraceflowPacketData, AntreaTraceflowTcpHeader,
    AntreaTraceflowTransportHeader, AntreaTraceflowUdpHeader, TraceflowDeleteRequest,
    TraceflowGetRequest, TraceflowResult, TraceflowStartRequest, mp_request, mp_response,
};
use serde_json::{Map, Value, json};

use super::{respond, segments};
use crate::channel::management::TraceflowRecord;
use crate::channel::{AdapterChannel, RequestHandle};
use crate::error::{ApiError, MODULE_POLICY, code};
use crate::identity::Caller;
use crate::policy::{INTERNAL_PREFIX, now_ms};
use crate::rest::list::{ListParams, page};
use crate::rest::{AppState, empty_ok, json_body, json_response, query};
use crate::schema::{Api, schemas};
use crate::store::TxnError;

/// Store table of `AntreaTraceflowConfig` documents, keyed by id.
pub const TABLE: &str = "antrea_traceflows";
const PARENT: &str = "/infra/antrea";
const RUN: &str = "_sim_run";
const CLUSTER: &str = "_sim_cluster_id";
/// When the configuration was last written or retraced (ms).
const LAST_ACTIVITY: &str = "_sim_last_activity";

fn traceflow_path(id: &str) -> String {
    format!("{PARENT}/traceflows/{id}")
}

fn traceflow_id(uri: &Uri) -> Result<String, ApiError> {
    segments(uri)?
        .get(6)
        .cloned()
        .ok_or_else(|| ApiError::uri_not_found(uri.path()))
}

fn render(doc: &Value) -> Value {
    let mut out: Map<String, Value> = doc
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !k.starts_with(INTERNAL_PREFIX))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    out.insert("_protection".into(), json!("NOT_PROTECTED"));
    Value::Object(out)
}

fn int(value: &Value, field: &str) -> Option<i64> {
    value.get(field).and_then(Value::as_i64)
}

fn text(value: &Value, field: &str) -> String {
    value
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The channel mirror of a stored configuration.
pub fn config_of(doc: &Value) -> AntreaTraceflowConfig {
    let packet = doc.get("packet").map(|p| {
        let transport = p.get("transportHeader");
        AntreaTraceflowPacketData {
            resource_type: text(p, "resourceType"),
            transport_type: text(p, "transportType"),
            frame_size: int(p, "frameSize"),
            payload: text(p, "payload"),
            ip_header: p.get("ipHeader").map(|h| AntreaTraceflowIpHeader {
                src_ip: text(h, "srcIp"),
                dst_ip: text(h, "dstIp"),
                protocol: int(h, "protocol"),
                ttl: int(h, "ttl"),
                flags: int(h, "flags"),
            }),
            ipv6_header: p.get("ipv6Header").map(|h| AntreaTraceflowIpv6Header {
                src_ip: text(h, "srcIp"),
                dst_ip: text(h, "dstIp"),
                next_header: int(h, "nextHeader"),
                hop_limit: int(h, "hopLimit"),
            }),
            transport_header: transport.map(|t| AntreaTraceflowTransportHeader {
                tcp_header: t.get("tcpHeader").map(|h| AntreaTraceflowTcpHeader {
                    src_port: int(h, "srcPort"),
                    dst_port: int(h, "dstPort"),
                    tcp_flags: int(h, "tcpFlags"),
                }),
                udp_header: t.get("udpHeader").map(|h| AntreaTraceflowUdpHeader {
                    src_port: int(h, "srcPort"),
                    dst_port: int(h, "dstPort"),
                }),
                icmp_echo_request_header: t.get("icmpEchoRequestHeader").map(|h| {
                    AntreaTraceflowIcmpEchoRequestHeader {
                        sequence: int(h, "sequence"),
                        id: int(h, "id"),
                    }
                }),
            }),
        }
    });
    AntreaTraceflowConfig {
        container_cluster_id: text(doc, "container_cluster_id"),
        source_external_id: text(doc, "source_external_id"),
        destination_external_id: text(doc, "destination_external_id"),
        is_transient: doc.get("is_transient").and_then(Value::as_bool),
        packet,
    }
}

fn store_error(e: TxnError<ApiError>) -> ApiError {
    match e {
        TxnError::Aborted(e) => e,
        TxnError::Store(e) => ApiError::internal(format!("The change could not be stored: {e}")),
    }
}

/// Sends a start request and waits for the adapter to accept or refuse it.
async fn start_run(
    channel: &AdapterChannel,
    cluster_id: &str,
    id: &str,
    run: u32,
    doc: &Value,
) -> Result<(RequestHandle, TraceflowResult, bool), ApiError> {
    let mut handle = channel.request(
        cluster_id,
        MP_TRACEFLOW,
        mp_request::Body::TraceflowStart(TraceflowStartRequest {
            traceflow_id: id.to_owned(),
            traceflow_path: traceflow_path(id),
            run,
            config: Some(config_of(doc)),
            trace_timeout: None,
        }),
        channel.options().request_timeout,
    )?;
    let part = handle.next_part().await?;
    match part.body {
        mp_response::Body::Traceflow(result) => Ok((handle, result, part.last)),
        _ => Err(unexpected(cluster_id)),
    }
}

fn unexpected(cluster_id: &str) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        crate::channel::code::ADAPTER_PROTOCOL,
        crate::channel::MODULE_CHANNEL,
        format!(
            "The adapter of Antrea cluster {cluster_id} answered a Traceflow request with something else."
        ),
    )
}

/// Records the first part of a run and collects the rest in the background.
fn follow_run(
    channel: &AdapterChannel,
    cluster_id: &str,
    id: &str,
    run: u32,
    first: TraceflowResult,
    last: bool,
    mut handle: RequestHandle,
) {
    channel.traceflows().lock().insert(
        id.to_owned(),
        TraceflowRecord {
            cluster_id: cluster_id.to_owned(),
            run,
            result: Some(first),
            failure: None,
        },
    );
    if last {
        return;
    }
    let channel = channel.clone();
    let id = id.to_owned();
    tokio::spawn(async move {
        loop {
            let outcome = handle.next_part().await;
            let mut records = channel.traceflows().lock();
            let Some(record) = records.get_mut(&id).filter(|r| r.run == run) else {
                return;
            };
            match outcome {
                Ok(part) => {
                    if let mp_response::Body::Traceflow(result) = part.body {
                        record.result = Some(result);
                    }
                    if part.last {
                        return;
                    }
                }
                Err(error) => {
                    record.failure = Some(error.error_message);
                    return;
                }
            }
        }
    });
}

/// The cluster a configuration's `container_cluster_id` names (its id or its `node_id`).
fn cluster_for(channel: &AdapterChannel, doc: &Value) -> Result<String, ApiError> {
    let id = doc
        .get("container_cluster_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::policy_invalid("container_cluster_id is required."))?;
    channel.cluster_by_any_id(id).map(|c| c.id).ok_or_else(|| {
        ApiError::policy_invalid(format!(
            "container_cluster_id {id} is not a registered Antrea cluster."
        ))
    })
}

/// `GET /infra/antrea/traceflows`.
pub async fn list(State(app): State<Arc<AppState>>, uri: Uri) -> Response {
    respond((|| {
        let params = ListParams::parse(&query(&uri)?)?;
        let items: Vec<Value> = app
            .store
            .read(|t| t.iter(TABLE).map(|(_, doc)| render(doc)).collect());
        Ok(json_response(
            StatusCode::OK,
            page(items, &params, "id", None)?,
        ))
    })())
}

/// `GET /infra/antrea/traceflows/{id}`.
pub async fn get(State(app): State<Arc<AppState>>, uri: Uri) -> Response {
    respond((|| {
        let id = traceflow_id(&uri)?;
        let doc = app
            .store
            .read(|t| t.get(TABLE, &id).cloned())
            .ok_or_else(|| ApiError::policy_object_not_found(&traceflow_path(&id)))?;
        Ok(json_response(StatusCode::OK, render(&doc)))
    })())
}

/// `PUT /infra/antrea/traceflows/{id}`.
pub async fn put(
    State(app): State<Arc<AppState>>,
    Extension(channel): Extension<AdapterChannel>,
    Extension(caller): Extension<Caller>,
    uri: Uri,
    body: Bytes,
) -> Response {
    respond(write(&app, &channel, &caller, &uri, &body, true).await)
}

/// `PATCH /infra/antrea/traceflows/{id}`.
pub async fn patch(
    State(app): State<Arc<AppState>>,
    Extension(channel): Extension<AdapterChannel>,
    Extension(caller): Extension<Caller>,
    uri: Uri,
    body: Bytes,
) -> Response {
    respond(write(&app, &channel, &caller, &uri, &body, false).await)
}

fn stale(path: &str, given: Option<i64>, current: i64) -> ApiError {
    ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        code::STALE_REVISION,
        MODULE_POLICY,
        format!(
            "The object {path} was modified by somebody else or the _revision is missing (given \
             {given:?}, current {current}). Read it again and retry."
        ),
    )
}

async fn write(
    app: &AppState,
    channel: &AdapterChannel,
    caller: &Caller,
    uri: &Uri,
    body: &Bytes,
    replace: bool,
) -> Result<Response, ApiError> {
    let id = traceflow_id(uri)?;
    crate::policy::validate::check_id(&id)?;
    let path = traceflow_path(&id);
    let Value::Object(mut input) = json_body(body, Api::Policy, "AntreaTraceflowConfig")? else {
        return Err(ApiError::field_validation(&["/: must be an object".into()]));
    };
    if let Some(given) = input.get("id")
        && given.as_str() != Some(id.as_str())
    {
        return Err(ApiError::policy_invalid(format!(
            "The id {given} in the request body does not match the id {id} in the path {path}."
        )));
    }
    let given_revision = input.get("_revision").and_then(Value::as_i64);
    for field in schemas().read_only_fields(Api::Policy, "AntreaTraceflowConfig") {
        input.remove(&field);
    }
    input.retain(|k, _| !k.starts_with('_') && k != "children");
    let existing = app.store.read(|t| t.get(TABLE, &id).cloned());
    let current_revision = existing
        .as_ref()
        .and_then(|e| e["_revision"].as_i64())
        .unwrap_or_default();
    if existing.is_some()
        && (replace || given_revision.is_some())
        && given_revision != Some(current_revision)
    {
        return Err(stale(&path, given_revision, current_revision));
    }
    let mut doc = match (&existing, replace) {
        (Some(Value::Object(old)), false) => {
            let mut merged = old.clone();
            merged.extend(input);
            merged
        }
        (Some(Value::Object(old)), true) => {
            let mut replaced = input;
            for keep in [
                "unique_id",
                "realization_id",
                "_create_time",
                "_create_user",
                RUN,
                CLUSTER,
            ] {
                if let Some(value) = old.get(keep) {
                    replaced.insert(keep.into(), value.clone());
                }
            }
            replaced
        }
        _ => input,
    };
    let now = now_ms();
    let user = caller.identity.user_name().to_owned();
    let unique_id = doc
        .get("unique_id")
        .cloned()
        .unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string()));
    for (field, value) in [
        ("resource_type", json!("AntreaTraceflowConfig")),
        ("id", json!(id)),
        (
            "display_name",
            doc.get("display_name").cloned().unwrap_or(json!(id)),
        ),
        ("path", json!(path)),
        ("parent_path", json!(PARENT)),
        ("relative_path", json!(id)),
        ("realization_id", unique_id.clone()),
        ("unique_id", unique_id),
        ("marked_for_delete", json!(false)),
        ("overridden", json!(false)),
        ("_system_owned", json!(false)),
        (
            "_revision",
            json!(if existing.is_some() {
                current_revision + 1
            } else {
                0
            }),
        ),
        ("_last_modified_time", json!(now)),
        ("_last_modified_user", json!(user)),
    ] {
        doc.insert(field.into(), value);
    }
    doc.entry("_create_time").or_insert(json!(now));
    doc.entry("_create_user").or_insert(json!(user));
    let mut doc = Value::Object(doc);
    let cluster_id = cluster_for(channel, &doc)?;
    let run = existing
        .as_ref()
        .and_then(|e| e[RUN].as_u64())
        .map_or(1, |r| r as u32 + 1);
    doc[RUN] = json!(run);
    doc[CLUSTER] = json!(cluster_id);
    doc[LAST_ACTIVITY] = json!(now);
    let (handle, first, last) = start_run(channel, &cluster_id, &id, run, &doc).await?;
    let stored = doc.clone();
    let key = id.clone();
    app.store
        .write(move |tx| {
            let now_revision = tx.get(TABLE, &key).and_then(|d| d["_revision"].as_i64());
            if now_revision.is_some_and(|r| r != current_revision) {
                return Err(stale(
                    &traceflow_path(&key),
                    Some(current_revision),
                    now_revision.unwrap_or_default(),
                ));
            }
            tx.put(TABLE, &key, stored);
            Ok(())
        })
        .await
        .map_err(store_error)?;
    follow_run(channel, &cluster_id, &id, run, first, last, handle);
    Ok(if replace {
        json_response(StatusCode::OK, render(&doc))
    } else {
        empty_ok()
    })
}

/// `DELETE /infra/antrea/traceflows/{id}`: the adapter removes the Antrea Traceflows of every
/// run (when the cluster is connected), then the configuration is deleted.
pub async fn delete(
    State(app): State<Arc<AppState>>,
    Extension(channel): Extension<AdapterChannel>,
    uri: Uri,
) -> Response {
    respond(
        async {
            let id = traceflow_id(&uri)?;
            let Some(doc) = app.store.read(|t| t.get(TABLE, &id).cloned()) else {
                return Ok(empty_ok());
            };
            let cluster_id = doc[CLUSTER].as_str().unwrap_or_default().to_owned();
            if channel.management_connected(&cluster_id) {
                let mut handle = channel.request(
                    &cluster_id,
                    MP_TRACEFLOW,
                    mp_request::Body::TraceflowDelete(TraceflowDeleteRequest {
                        traceflow_id: id.clone(),
                    }),
                    channel.options().request_timeout,
                )?;
                handle.next_part().await?;
            }
            let key = id.clone();
            app.store
                .write(move |tx| {
                    tx.delete(TABLE, &key);
                    Ok::<_, ApiError>(())
                })
                .await
                .map_err(store_error)?;
            channel.traceflows().lock().remove(&id);
            Ok(empty_ok())
        }
        .await,
    )
}

/// `POST /infra/antrea/traceflows/{id}?action=retrace`: the next run, same configuration.
pub async fn post(
    State(app): State<Arc<AppState>>,
    Extension(channel): Extension<AdapterChannel>,
    method: Method,
    uri: Uri,
) -> Response {
    respond(
        async {
            let query = query(&uri)?;
            if query.get("action").map(String::as_str) != Some("retrace") {
                return Err(ApiError::method_not_allowed(&method, uri.path()));
            }
            let id = traceflow_id(&uri)?;
            let mut doc = app
                .store
                .read(|t| t.get(TABLE, &id).cloned())
                .ok_or_else(|| ApiError::policy_object_not_found(&traceflow_path(&id)))?;
            let cluster_id = cluster_for(&channel, &doc)?;
            let run = doc[RUN].as_u64().map_or(1, |r| r as u32 + 1);
            let (handle, first, last) = start_run(&channel, &cluster_id, &id, run, &doc).await?;
            doc[RUN] = json!(run);
            doc[CLUSTER] = json!(cluster_id);
            doc[LAST_ACTIVITY] = json!(now_ms());
            let stored = doc.clone();
            let key = id.clone();
            app.store
                .write(move |tx| {
                    tx.put(TABLE, &key, stored);
                    Ok::<_, ApiError>(())
                })
                .await
                .map_err(store_error)?;
            follow_run(&channel, &cluster_id, &id, run, first, last, handle);
            Ok(json_response(StatusCode::OK, render(&doc)))
        }
        .await,
    )
}

/// The latest known result of a traceflow: cached, or asked of the adapter.
async fn current(
    app: &AppState,
    channel: &AdapterChannel,
    uri: &Uri,
) -> Result<TraceflowRecord, ApiError> {
    let id = traceflow_id(uri)?;
    let doc = app
        .store
        .read(|t| t.get(TABLE, &id).cloned())
        .ok_or_else(|| ApiError::policy_object_not_found(&traceflow_path(&id)))?;
    let run = doc[RUN].as_u64().unwrap_or(1) as u32;
    if let Some(record) = channel
        .traceflows()
        .lock()
        .get(&id)
        .filter(|r| r.run == run)
    {
        return Ok(record.clone());
    }
    let cluster_id = doc[CLUSTER].as_str().unwrap_or_default().to_owned();
    let mut handle = channel.request(
        &cluster_id,
        MP_TRACEFLOW,
        mp_request::Body::TraceflowGet(TraceflowGetRequest {
            traceflow_id: id.clone(),
            run,
        }),
        channel.options().request_timeout,
    )?;
    let part = handle.next_part().await?;
    let mp_response::Body::Traceflow(result) = part.body else {
        return Err(unexpected(&cluster_id));
    };
    let record = TraceflowRecord {
        cluster_id,
        run,
        result: Some(result),
        failure: None,
    };
    if record.result.as_ref().is_some_and(|r| r.completed) {
        channel.traceflows().lock().insert(id, record.clone());
    }
    Ok(record)
}

/// `GET .../traceflows/{id}/observations`: `AntreaTraceflowObservationListResult`.
pub async fn observations(
    State(app): State<Arc<AppState>>,
    Extension(channel): Extension<AdapterChannel>,
    uri: Uri,
) -> Response {
    respond(
        async {
            let record = current(&app, &channel, &uri).await?;
            let results: Vec<Value> = record
                .result
                .iter()
                .flat_map(|r| r.observations.iter())
                .map(|o| {
                    json!({
                        "component_type": o.component_type,
                        "observation_type": o.observation_type,
                        "container_node_id": o.container_node_id,
                        "timestamp": o.timestamp,
                    })
                })
                .collect();
            let count = results.len();
            Ok(json_response(
                StatusCode::OK,
                json!({"results": results, "result_count": count}),
            ))
        }
        .await,
    )
}

/// `GET .../traceflows/{id}/status`: `AntreaTraceflowStatus` (no `phase` while it runs).
pub async fn status(
    State(app): State<Arc<AppState>>,
    Extension(channel): Extension<AdapterChannel>,
    uri: Uri,
) -> Response {
    respond(
        async {
            let record = current(&app, &channel, &uri).await?;
            let mut status = json!({});
            if let Some(failure) = &record.failure {
                status = json!({"phase": "FAILED", "reason": failure});
            } else if let Some(s) = record.result.as_ref().and_then(|r| r.status.as_ref())
                && !s.phase.is_empty()
            {
                status["phase"] = json!(s.phase);
                if !s.reason.is_empty() {
                    status["reason"] = json!(s.reason);
                }
            }
            Ok(json_response(StatusCode::OK, status))
        }
        .await,
    )
}

/// Deletes the Traceflow configurations idle for longer than
/// [`crate::channel::ChannelOptions::traceflow_idle_timeout`] ("cleaned up by the system after
/// two hours of inactivity"), asking the adapter to remove their Antrea Traceflows when the
/// cluster is connected. Runs until the channel shuts down.
pub(crate) async fn clean_up_idle(channel: AdapterChannel) {
    let idle = channel.options().traceflow_idle_timeout;
    let period = (idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(60));
    let idle_ms = i64::try_from(idle.as_millis()).unwrap_or(i64::MAX);
    loop {
        tokio::select! {
            () = channel.shutdown_token().cancelled() => return,
            () = tokio::time::sleep(period) => {}
        }
        let cutoff = now_ms().saturating_sub(idle_ms);
        let idle_since = |doc: &Value| {
            doc[LAST_ACTIVITY]
                .as_i64()
                .unwrap_or(0)
                .max(doc["_last_modified_time"].as_i64().unwrap_or(0))
        };
        let stale: Vec<(String, String)> = channel.store().read(|t| {
            t.iter(TABLE)
                .filter(|(_, doc)| idle_since(doc) < cutoff)
                .map(|(id, doc)| {
                    (
                        id.clone(),
                        doc[CLUSTER].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        });
        for (id, cluster_id) in stale {
            if channel.management_connected(&cluster_id)
                && let Ok(mut handle) = channel.request(
                    &cluster_id,
                    MP_TRACEFLOW,
                    mp_request::Body::TraceflowDelete(TraceflowDeleteRequest {
                        traceflow_id: id.clone(),
                    }),
                    channel.options().request_timeout,
                )
                && let Err(error) = handle.next_part().await
            {
                tracing::warn!(traceflow = %id, %error, "the adapter did not delete an idle Traceflow");
            }
            let key = id.clone();
            let deleted = channel
                .store()
                .write(move |tx| {
                    // Still idle? (It may have been written meanwhile.)
                    let still = tx
                        .get(TABLE, &key)
                        .is_some_and(|doc| idle_since(doc) < cutoff);
                    if still {
                        tx.delete(TABLE, &key);
                    }
                    Ok::<_, ApiError>(still)
                })
                .await;
            if matches!(deleted, Ok(true)) {
                channel.traceflows().lock().remove(&id);
                tracing::info!(traceflow = %id, "idle Traceflow cleaned up");
            }
        }
    }
}
