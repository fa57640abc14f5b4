//! HTTP routes of the container inventory: the batch write API, the `fabric/container-*`
//! reads and deletes, and the Antrea group membership views.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use bytes::Bytes;
use http::{StatusCode, Uri};
use serde_json::Value;

use super::{CLUSTER, InventoryType, OBJECT_TYPES};
use crate::error::ApiError;
use crate::identity::Caller;
use crate::policy::now_ms;
use crate::registration::{path_segments as segments, write_txn as write};
use crate::rest::{AppState, empty_ok, json_body, json_response, query};
use crate::schema::Api;

/// The inventory routes, to merge into the main router (before its auth layer).
pub fn routes() -> Router<Arc<AppState>> {
    let mut router = Router::new()
        .route(
            "/api/v1/inventory/container/{cluster_id}",
            post(inventory_updates),
        )
        .route(
            "/api/v1/fabric/container-clusters",
            get(|state: State<Arc<AppState>>, uri: Uri| list(state, uri, CLUSTER))
                .post(create_cluster),
        )
        .route(
            "/api/v1/fabric/container-clusters/{id}",
            get(|state: State<Arc<AppState>>, uri: Uri| get_one(state, uri, CLUSTER))
                .delete(delete_cluster),
        );
    for ty in OBJECT_TYPES {
        let ty = *ty;
        router = router
            .route(
                &format!("/api/v1/fabric/{}", ty.list_segment),
                get(move |state: State<Arc<AppState>>, uri: Uri| list(state, uri, ty)),
            )
            .route(
                &format!("/api/v1/fabric/{}/{{id}}", ty.object_segment),
                get(move |state: State<Arc<AppState>>, uri: Uri| get_one(state, uri, ty)).delete(
                    move |state: State<Arc<AppState>>, caller: Extension<Caller>, uri: Uri| {
                        delete_one(state, caller, uri, ty)
                    },
                ),
            );
    }
    router.merge(super::membership::routes())
}

fn respond(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

fn last_segment(uri: &Uri) -> Result<String, ApiError> {
    segments(uri)?
        .pop()
        .ok_or_else(|| ApiError::uri_not_found(uri.path()))
}

async fn inventory_updates(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    uri: Uri,
    body: Bytes,
) -> Response {
    respond(
        async {
            let query = query(&uri)?;
            match query.get("action").map(String::as_str) {
                Some("updates") => {}
                Some(other) => {
                    return Err(ApiError::bad_parameter(format!(
                        "Invalid action '{other}'; expected updates."
                    )));
                }
                None => {
                    return Err(ApiError::bad_parameter(
                        "The query parameter action=updates is required.",
                    ));
                }
            }
            let cluster_id = last_segment(&uri)?;
            if body.iter().all(u8::is_ascii_whitespace) {
                return Err(ApiError::field_validation(&[
                    "/: a ContainerInventoryData request body is required".to_owned(),
                ]));
            }
            let body: Value = serde_json::from_slice(&body).map_err(|e| {
                ApiError::field_validation(&[format!("/: the body is not valid JSON ({e})")])
            })?;
            let summary = write(&app, move |tx| {
                super::apply_updates(tx, &caller, &cluster_id, &body, now_ms())
            })
            .await?;
            tracing::debug!(?summary, "inventory updated");
            Ok(empty_ok())
        }
        .await,
    )
}

async fn list(State(app): State<Arc<AppState>>, uri: Uri, ty: InventoryType) -> Response {
    respond((|| {
        let query = query(&uri)?;
        let list = app.store.read(|t| super::list(t, &ty, &query))?;
        Ok(json_response(StatusCode::OK, list))
    })())
}

async fn get_one(State(app): State<Arc<AppState>>, uri: Uri, ty: InventoryType) -> Response {
    respond((|| {
        let id = last_segment(&uri)?;
        let doc = app.store.read(|t| super::get_object(t, &ty, &id))?;
        Ok(json_response(StatusCode::OK, doc))
    })())
}

async fn delete_one(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    uri: Uri,
    ty: InventoryType,
) -> Response {
    respond(
        async {
            let id = last_segment(&uri)?;
            write(&app, move |tx| super::delete_object(tx, &caller, &ty, &id)).await?;
            Ok(empty_ok())
        }
        .await,
    )
}

async fn create_cluster(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let body = json_body(&body, Api::Manager, CLUSTER.resource_type)?;
            let doc = write(&app, move |tx| {
                super::create_cluster(tx, &caller, &body, now_ms())
            })
            .await?;
            Ok(json_response(StatusCode::CREATED, doc))
        }
        .await,
    )
}

async fn delete_cluster(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    uri: Uri,
) -> Response {
    respond(
        async {
            let id = last_segment(&uri)?;
            write(&app, move |tx| super::delete_cluster(tx, &caller, &id)).await?;
            Ok(empty_ok())
        }
        .await,
    )
}
