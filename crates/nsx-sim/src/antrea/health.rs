//! Cluster health (nsx-api.md §3.9, docs/protocol.md §7.2): `AntreaClusterInfo` built from the
//! latest heartbeat, and the `AntreaHeartbeatConfig` of each cluster, pushed to its MP adapter
//! whenever it changes.
//!
//! The roll-up `status` is HEALTHY only when the controller and both adapters are HEALTHY,
//! FAILED when any of them is FAILED, DEGRADED otherwise. Without a heartbeat for three
//! report intervals (or ever), every status is UNKNOWN. When a heartbeat carries no
//! `CCP_SESSION_STATE_UP` condition, NSX adds it from its own view of the cluster's
//! control-plane session.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use http::{StatusCode, Uri};
use nsx_proto::v1::{AntreaAdapterStatus, ComponentConditionItem};
use serde_json::{Value, json};

use super::{respond, segments};
use crate::channel::management::{
    HEARTBEAT_TABLE, HeartbeatSettings, heartbeat_config_doc, heartbeat_settings,
};
use crate::channel::{AdapterChannel, ClusterHealthRecord};
use crate::error::{ApiError, MODULE_POLICY, code};
use crate::identity::Caller;
use crate::policy::now_ms;
use crate::registration::{ClusterRegistration, ccp_path, check_site};
use crate::rest::list::{ListParams, page};
use crate::rest::{AppState, empty_ok, json_body, json_response, query};
use crate::schema::Api;
use crate::store::TxnError;

const UNKNOWN: &str = "UNKNOWN";

/// The cluster a `.../cluster-control-planes/{id}/...` request names.
fn cluster_of(channel: &AdapterChannel, uri: &Uri) -> Result<ClusterRegistration, ApiError> {
    let segments = segments(uri)?;
    let (site, enforcement_point, id) = match segments.as_slice() {
        [_, _, _, _, _, site, _, ep, _, id, ..] => (site, ep, id),
        _ => return Err(ApiError::uri_not_found(uri.path())),
    };
    check_site(site, enforcement_point)?;
    channel
        .registry()
        .cluster(id)
        .ok_or_else(|| ApiError::policy_object_not_found(&ccp_path(id)))
}

fn check_list_site(uri: &Uri) -> Result<(), ApiError> {
    let segments = segments(uri)?;
    match segments.as_slice() {
        [_, _, _, _, _, site, _, ep, ..] => check_site(site, ep),
        _ => Err(ApiError::uri_not_found(uri.path())),
    }
}

fn condition_json(condition: &ComponentConditionItem) -> Value {
    let mut item = json!({
        "condition_type": condition.condition_type,
        "status": condition.status,
        "last_heartbeat_time": condition.last_heartbeat_time,
    });
    if !condition.reason.is_empty() {
        item["reason"] = json!(condition.reason);
    }
    if !condition.message.is_empty() {
        item["message"] = json!(condition.message);
    }
    item
}

fn adapter_json(status: Option<&AntreaAdapterStatus>, fresh: bool, extra: Option<Value>) -> Value {
    let mut conditions: Vec<Value> = status
        .map(|s| s.conditions.iter().map(condition_json).collect())
        .unwrap_or_default();
    if let Some(extra) = extra
        && !conditions
            .iter()
            .any(|c| c["condition_type"] == extra["condition_type"])
    {
        conditions.push(extra);
    }
    let value = status
        .map(|s| s.status.as_str())
        .filter(|s| fresh && !s.is_empty())
        .unwrap_or(UNKNOWN);
    json!({"status": value, "conditions": conditions})
}

/// The roll-up of the three component statuses.
pub fn roll_up(controller: &str, mp_adapter: &str, ccp_adapter: &str) -> &'static str {
    let all = [controller, mp_adapter, ccp_adapter];
    if all.iter().all(|s| *s == UNKNOWN) {
        UNKNOWN
    } else if all.iter().all(|s| *s == "HEALTHY") {
        "HEALTHY"
    } else if all.contains(&"FAILED") {
        "FAILED"
    } else {
        "DEGRADED"
    }
}

/// `AntreaClusterInfo` of a cluster now.
pub fn cluster_info(channel: &AdapterChannel, cluster: &ClusterRegistration) -> Value {
    let settings = channel.store().read(|t| heartbeat_settings(t, &cluster.id));
    let record: Option<ClusterHealthRecord> = channel.latest_health(&cluster.id);
    let unknown_after = channel.options().heartbeat_second
        * settings.report_interval
        * nsx_proto::limits::HEARTBEAT_MISSES_BEFORE_UNKNOWN;
    let fresh = record
        .as_ref()
        .is_some_and(|r| r.received.elapsed() <= unknown_after);
    let health = record.as_ref().map(|r| &r.health);
    let session_condition = {
        let last_seen = channel.control_session_last_seen(&cluster.id);
        let mut condition = json!({
            "condition_type": "CCP_SESSION_STATE_UP",
            "status": if last_seen.is_some() { "HEALTHY" } else { "UNHEALTHY" },
            "last_heartbeat_time": last_seen.unwrap_or(0),
        });
        if last_seen.is_none() {
            condition["reason"] = json!("SessionDown");
            condition["message"] = json!("The CCP adapter has no control-plane session with NSX.");
        }
        condition
    };
    let controller = health.and_then(|h| h.controller_status.as_ref());
    let controller_status = controller
        .map(|c| c.status.as_str())
        .filter(|s| fresh && !s.is_empty())
        .unwrap_or(UNKNOWN);
    let controller_json = json!({
        "status": controller_status,
        "connected_agent_num": controller.map_or(0, |c| c.connected_agent_num),
        "conditions": controller.map(|c| c.conditions.iter().map(condition_json).collect::<Vec<_>>()).unwrap_or_default(),
    });
    let mp = adapter_json(
        health.and_then(|h| h.mp_adapter_status.as_ref()),
        fresh,
        None,
    );
    let ccp = adapter_json(
        health.and_then(|h| h.ccp_adapter_status.as_ref()),
        fresh,
        Some(session_condition),
    );
    let agents = health.and_then(|h| h.agent_info.as_ref());
    let status = roll_up(
        controller_status,
        mp["status"].as_str().unwrap_or(UNKNOWN),
        ccp["status"].as_str().unwrap_or(UNKNOWN),
    );
    let mut info = json!({
        "resource_type": "AntreaClusterInfo",
        "id": cluster.id,
        "display_name": cluster.id,
        "path": format!("{}/status", cluster.path),
        "parent_path": cluster.path,
        "relative_path": "status",
        "status": status,
        "controller_status": controller_json,
        "mp_adapter_status": mp,
        "ccp_adapter_status": ccp,
        "agent_info": {
            "healthy_agent_num": agents.map_or(0, |a| a.healthy_agent_num),
            "degraded_agent_num": agents.map_or(0, |a| a.degraded_agent_num),
            "failed_agent_num": agents.map_or(0, |a| a.failed_agent_num),
        },
    });
    if let Some(record) = &record {
        info["_last_modified_time"] = json!(record.received_ms);
    }
    info
}

/// `GET .../cluster-control-planes/{id}/status`.
pub async fn get_status(Extension(channel): Extension<AdapterChannel>, uri: Uri) -> Response {
    respond((|| {
        let cluster = cluster_of(&channel, &uri)?;
        Ok(json_response(
            StatusCode::OK,
            cluster_info(&channel, &cluster),
        ))
    })())
}

/// `GET .../cluster-control-planes-status`: one `AntreaClusterInfo` per cluster.
pub async fn list_status(Extension(channel): Extension<AdapterChannel>, uri: Uri) -> Response {
    respond((|| {
        check_list_site(&uri)?;
        let params = ListParams::parse(&query(&uri)?)?;
        let items: Vec<Value> = channel
            .registry()
            .clusters()
            .iter()
            .map(|c| cluster_info(&channel, c))
            .collect();
        Ok(json_response(
            StatusCode::OK,
            page(items, &params, "id", None)?,
        ))
    })())
}

/// `GET .../cluster-control-planes/{id}/heartbeat-config`.
pub async fn get_config(
    State(app): State<Arc<AppState>>,
    Extension(channel): Extension<AdapterChannel>,
    uri: Uri,
) -> Response {
    respond((|| {
        let cluster = cluster_of(&channel, &uri)?;
        let doc = app.store.read(|t| heartbeat_config_doc(t, &cluster));
        Ok(json_response(StatusCode::OK, doc))
    })())
}

/// `GET .../cluster-control-planes-heartbeat-config`.
pub async fn list_config(
    State(app): State<Arc<AppState>>,
    Extension(channel): Extension<AdapterChannel>,
    uri: Uri,
) -> Response {
    respond((|| {
        check_list_site(&uri)?;
        let params = ListParams::parse(&query(&uri)?)?;
        let clusters = channel.registry().clusters();
        let items: Vec<Value> = app.store.read(|t| {
            clusters
                .iter()
                .map(|c| {
                    let mut doc = heartbeat_config_doc(t, c);
                    // The list is keyed by cluster: give each entry its cluster's id.
                    doc["id"] = json!(c.id);
                    doc
                })
                .collect()
        });
        Ok(json_response(
            StatusCode::OK,
            page(items, &params, "id", None)?,
        ))
    })())
}

/// `PUT .../heartbeat-config`: replaces the interval; needs the current `_revision`.
pub async fn put_config(
    State(app): State<Arc<AppState>>,
    Extension(channel): Extension<AdapterChannel>,
    Extension(caller): Extension<Caller>,
    uri: Uri,
    body: Bytes,
) -> Response {
    respond(write_config(&app, &channel, &caller, &uri, &body, true).await)
}

/// `PATCH .../heartbeat-config`: merges; checks `_revision` only when given.
pub async fn patch_config(
    State(app): State<Arc<AppState>>,
    Extension(channel): Extension<AdapterChannel>,
    Extension(caller): Extension<Caller>,
    uri: Uri,
    body: Bytes,
) -> Response {
    respond(write_config(&app, &channel, &caller, &uri, &body, false).await)
}

async fn write_config(
    app: &AppState,
    channel: &AdapterChannel,
    caller: &Caller,
    uri: &Uri,
    body: &Bytes,
    replace: bool,
) -> Result<Response, ApiError> {
    let cluster = cluster_of(channel, uri)?;
    let body = json_body(body, Api::Policy, "AntreaHeartbeatConfig")?;
    let given_revision = body.get("_revision").and_then(Value::as_i64);
    let interval = body.get("report_interval").and_then(Value::as_i64);
    let (min, max) = (
        i64::from(nsx_proto::limits::MIN_HEARTBEAT_INTERVAL_SECONDS),
        i64::from(nsx_proto::limits::MAX_HEARTBEAT_INTERVAL_SECONDS),
    );
    if let Some(interval) = interval
        && !(min..=max).contains(&interval)
    {
        return Err(ApiError::policy_invalid(format!(
            "report_interval {interval} is out of range: it must be from {min} to {max} seconds."
        )));
    }
    if replace && interval.is_none() {
        return Err(ApiError::policy_invalid(
            "report_interval is required in a PUT of the heartbeat configuration.",
        ));
    }
    let user = caller.identity.user_name().to_owned();
    let now = now_ms();
    let cluster_for_write = cluster.clone();
    let written = app
        .store
        .write(move |tx| {
            let current = heartbeat_config_doc(tx.tables(), &cluster_for_write);
            let revision = current["_revision"].as_i64().unwrap_or_default();
            let must_match = replace || given_revision.is_some();
            if must_match && given_revision != Some(revision) {
                return Err(ApiError::new(
                    StatusCode::PRECONDITION_FAILED,
                    code::STALE_REVISION,
                    MODULE_POLICY,
                    format!(
                        "The object {} was modified by somebody else or the _revision is missing \
                         (given {given_revision:?}, current {revision}). Read it again and retry.",
                        current["path"].as_str().unwrap_or_default()
                    ),
                ));
            }
            let mut doc = current;
            if let Some(interval) = interval {
                doc["report_interval"] = json!(interval);
            }
            for field in ["display_name", "description", "tags"] {
                if let Some(value) = body.get(field) {
                    doc[field] = value.clone();
                }
            }
            doc["_revision"] = json!(revision + 1);
            doc["_last_modified_time"] = json!(now);
            doc["_last_modified_user"] = json!(user);
            if doc.get("_create_time").is_none() {
                doc["_create_time"] = json!(now);
                doc["_create_user"] = json!(user);
            }
            tx.put(HEARTBEAT_TABLE, &cluster_for_write.id, doc.clone());
            Ok(doc)
        })
        .await
        .map_err(|e| match e {
            TxnError::Aborted(e) => e,
            TxnError::Store(e) => {
                ApiError::internal(format!("The change could not be stored: {e}"))
            }
        })?;
    let settings = HeartbeatSettings {
        report_interval: written["report_interval"]
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(nsx_proto::limits::DEFAULT_HEARTBEAT_INTERVAL_SECONDS),
        revision: written["_revision"].as_i64().unwrap_or_default(),
    };
    channel.push_heartbeat_config(&cluster.id, settings);
    Ok(if replace {
        json_response(StatusCode::OK, written)
    } else {
        empty_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roll_up_rules() {
        assert_eq!(roll_up("HEALTHY", "HEALTHY", "HEALTHY"), "HEALTHY");
        assert_eq!(roll_up("HEALTHY", "DEGRADED", "HEALTHY"), "DEGRADED");
        assert_eq!(roll_up("DEGRADED", "FAILED", "HEALTHY"), "FAILED");
        assert_eq!(roll_up("HEALTHY", "UNKNOWN", "HEALTHY"), "DEGRADED");
        assert_eq!(roll_up(UNKNOWN, UNKNOWN, UNKNOWN), UNKNOWN);
    }
}
