//! The realized-state endpoints (nsx-api.md §2.7) for objects spanned to Antrea clusters.
//!
//! Each cluster of an object's span is an enforcement point of its own (VCF 9: "the
//! enforcement point is each cluster's Antrea Controller"): `enforcement_point_path` is the
//! cluster's `ClusterControlPlane` path and `enforcement_point_id` its id.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use http::{StatusCode, Uri};
use nsx_proto::v1::ObjectRef;
use serde_json::{Value, json};

use super::state::{IntentRealization, State as RealizedState, error_summary, realization_of};
use crate::channel::AdapterChannel;
use crate::error::ApiError;
use crate::rest::{AppState, json_response, query};

const BASE: &str = "/policy/api/v1/infra/realized-state";
/// The site every cluster control plane belongs to.
const SITE_PATH: &str = "/infra/sites/default";

/// The realized-state routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(&format!("{BASE}/realized-entities"), get(realized_entities))
        .route(&format!("{BASE}/status"), get(status))
        .route(&format!("{BASE}/realized-entity"), post(refresh))
}

fn respond(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

fn intent_path(query: &std::collections::BTreeMap<String, String>) -> Result<String, ApiError> {
    query
        .get("intent_path")
        .filter(|p| p.starts_with('/'))
        .cloned()
        .ok_or_else(|| ApiError::bad_parameter("The query parameter intent_path is required."))
}

fn realization(
    app: &AppState,
    channel: &AdapterChannel,
    uri: &Uri,
) -> Result<IntentRealization, ApiError> {
    let query = query(uri)?;
    let path = intent_path(&query)?;
    app.store
        .read(|tables| realization_of(tables, channel.feed(), &path))
}

fn alarm(message: &str, reason: &str) -> Value {
    json!({
        "message": message,
        "error_id": reason,
        "error_details": {
            "httpStatus": "BAD_REQUEST",
            "error_code": crate::channel::code::ADAPTER_ERROR,
            "module_name": crate::channel::MODULE_CHANNEL,
            "error_message": message,
        },
    })
}

/// `GET .../realized-entities?intent_path=`: one realized entity per Antrea object each
/// cluster created for the intent (one per cluster while it reported none).
async fn realized_entities(
    State(app): State<Arc<AppState>>,
    Extension(channel): Extension<AdapterChannel>,
    uri: Uri,
) -> Response {
    respond((|| {
        let realization = realization(&app, &channel, &uri)?;
        let intent_id = realization
            .intent_path
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let mut results = Vec::new();
        for cluster in &realization.clusters {
            let errors = error_summary(&cluster.errors);
            let entities: Vec<(String, String)> = if cluster.entities.is_empty() {
                vec![(intent_id.clone(), "RealizedAntreaObject".to_owned())]
            } else {
                cluster
                    .entities
                    .iter()
                    .map(|e| (e.name.clone(), e.kind.clone()))
                    .collect()
            };
            for (name, kind) in entities {
                let mut entity = json!({
                    "resource_type": "GenericPolicyRealizedResource",
                    "id": name,
                    "display_name": name,
                    "path": format!("{}/realized-state/{}/{}", cluster.cluster_path, kind, name),
                    "parent_path": cluster.cluster_path,
                    "relative_path": name,
                    "entity_type": kind,
                    "intent_paths": [realization.intent_path],
                    "intent_reference": [realization.intent_path],
                    "enforcement_point_path": cluster.cluster_path,
                    "site_path": SITE_PATH,
                    "state": cluster.state.entity_state(),
                    "publish_status": cluster.state.entity_state(),
                    "realization_specific_identifier": name,
                    "runtime_status": match cluster.state {
                        RealizedState::Success => "UP",
                        RealizedState::Error => "DOWN",
                        RealizedState::InProgress => "UNKNOWN",
                    },
                    "extended_attributes": [
                        {"key": "cluster_id", "values": [cluster.cluster_id], "data_type": "STRING", "multivalue": false},
                    ],
                    "_revision": 0,
                });
                if let Some(observed) = cluster.observed_at {
                    entity["publish_time"] = json!(observed);
                    entity["_last_modified_time"] = json!(observed);
                }
                if cluster.state == RealizedState::Error {
                    entity["publish_status_error"] = json!(errors);
                    entity["alarms"] = Value::Array(
                        cluster
                            .errors
                            .iter()
                            .map(|e| {
                                json!({
                                    "resource_type": "PolicyAlarmResource",
                                    "id": e.reason,
                                    "message": e.message,
                                    "source_reference": if e.rule_path.is_empty() { realization.intent_path.clone() } else { e.rule_path.clone() },
                                    "error_details": {
                                        "httpStatus": "BAD_REQUEST",
                                        "error_code": crate::channel::code::ADAPTER_ERROR,
                                        "module_name": crate::channel::MODULE_CHANNEL,
                                        "error_message": e.message,
                                        "details": e.reason,
                                    },
                                })
                            })
                            .collect(),
                    );
                }
                results.push(entity);
            }
        }
        let count = results.len();
        Ok(json_response(
            StatusCode::OK,
            json!({"results": results, "result_count": count}),
        ))
    })())
}

/// `GET .../status?intent_path=`: `ConsolidatedRealizedStatus`.
async fn status(
    State(app): State<Arc<AppState>>,
    Extension(channel): Extension<AdapterChannel>,
    uri: Uri,
) -> Response {
    respond((|| {
        let realization = realization(&app, &channel, &uri)?;
        let per_cluster: Vec<Value> = realization
            .clusters
            .iter()
            .map(|cluster| {
                let mut entry = json!({
                    "resource_type": "ConsolidatedStatusPerEnforcementPoint",
                    "enforcement_point_path": cluster.cluster_path,
                    "enforcement_point_id": cluster.cluster_id,
                    "site_path": SITE_PATH,
                    "consolidated_status": {"consolidated_status": cluster.state.consolidated()},
                });
                if cluster.state == RealizedState::Error {
                    let reason = cluster
                        .errors
                        .first()
                        .map(|e| e.reason.clone())
                        .unwrap_or_default();
                    entry["alarm"] = alarm(&error_summary(&cluster.errors), &reason);
                }
                entry
            })
            .collect();
        Ok(json_response(
            StatusCode::OK,
            json!({
                "intent_path": realization.intent_path,
                "consolidated_status": {"consolidated_status": realization.consolidated()},
                "consolidated_status_per_enforcement_point": per_cluster,
                "publish_status": realization.publish_status(),
                "intent_version": realization.revision.to_string(),
            }),
        ))
    })())
}

/// `POST .../realized-entity?action=refresh&intent_path=[&enforcement_point_path=]`: asks
/// the clusters of the object's span (or the one named) to report it again; 204.
async fn refresh(
    State(app): State<Arc<AppState>>,
    Extension(channel): Extension<AdapterChannel>,
    uri: Uri,
) -> Response {
    respond((|| {
        let query = query(&uri)?;
        if query.get("action").map(String::as_str) != Some("refresh") {
            return Err(ApiError::bad_parameter(
                "The only action of realized-entity is refresh.",
            ));
        }
        let realization = realization(&app, &channel, &uri)?;
        let only = query.get("enforcement_point_path");
        let target = realization.intent_path.clone();
        let target = match crate::policy::kinds::kind_of_path(&target) {
            Some(crate::policy::kinds::Kind::Rule) => crate::policy::kinds::split_path(&target)
                .map_or(target.clone(), |(p, _)| p.to_owned()),
            _ => target,
        };
        let object = channel.feed().object(&target);
        for cluster in &realization.clusters {
            if only.is_some_and(|p| *p != cluster.cluster_path) {
                continue;
            }
            let objects: Vec<ObjectRef> = object.iter().map(|o| o.object_ref()).collect();
            if !channel.refresh(&cluster.cluster_id, objects) {
                tracing::debug!(cluster = %cluster.cluster_id, "refresh skipped: no control-plane session");
            }
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })())
}
