//! HTTP routes of registration: principal identities (Manager API) and cluster control planes
//! (Policy API). Writes run as one store transaction each; committed changes are published on
//! the [`super::Registry`].

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use bytes::Bytes;
use http::{StatusCode, Uri};

use super::{RegistrationChange, check_site};
use crate::error::ApiError;
use crate::identity::Caller;
use crate::policy::now_ms;
use crate::rest::list::{ListParams, page};
use crate::rest::{
    AppState, bool_param, empty_ok, json_body, json_response, percent_decode, query,
};
use crate::schema::Api;
use crate::store::{TxnError, WriteTxn};

const PI_BASE: &str = "/api/v1/trust-management/principal-identities";
const CCP_BASE: &str = "/policy/api/v1/infra/sites/{site}/enforcement-points/{enforcement_point}/cluster-control-planes";

/// The registration routes, to merge into the main router (before its auth layer).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(PI_BASE, get(list_principals).post(post_principals))
        .route(
            &format!("{PI_BASE}/with-certificate"),
            post(create_principal),
        )
        .route(
            &format!("{PI_BASE}/{{id}}"),
            get(get_principal).delete(delete_principal),
        )
        .route(CCP_BASE, get(list_ccps))
        .route(
            &format!("{CCP_BASE}/{{id}}"),
            get(get_ccp).put(put_ccp).delete(delete_ccp),
        )
}

/// The percent-decoded path segments of a request.
pub(crate) fn segments(uri: &Uri) -> Result<Vec<String>, ApiError> {
    uri.path()
        .trim_end_matches('/')
        .split('/')
        .map(|s| percent_decode(s, false))
        .collect()
}

/// Runs `change` as one durable transaction; maps storage failures to NSX's 500.
pub(crate) async fn write<R: Send + 'static>(
    app: &AppState,
    change: impl FnOnce(&mut WriteTxn<'_>) -> Result<R, ApiError> + Send + 'static,
) -> Result<R, ApiError> {
    match app.store.write(change).await {
        Ok(value) => Ok(value),
        Err(TxnError::Aborted(error)) => Err(error),
        Err(TxnError::Store(error)) => {
            tracing::error!(%error, "store write failed");
            Err(ApiError::internal(format!(
                "The change could not be stored: {error}"
            )))
        }
    }
}

fn respond(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn list_principals(State(app): State<Arc<AppState>>, uri: Uri) -> Response {
    respond((|| {
        let params = ListParams::parse(&query(&uri)?)?;
        let items = app.store.read(super::principal_identities);
        Ok(json_response(
            StatusCode::OK,
            page(items, &params, "id", None)?,
        ))
    })())
}

/// `POST /api/v1/trust-management/principal-identities` (deprecated create, and
/// `?action=update_certificate`) both name a certificate by the `certificate_id` of NSX's
/// certificate store, which the simulator does not have.
async fn post_principals() -> Response {
    ApiError::bad_parameter(
        "Principal identities referring to an imported certificate (certificate_id) are not \
         available in the simulator, which has no certificate store. Use POST \
         /api/v1/trust-management/principal-identities/with-certificate, and delete and \
         recreate the principal identity to change its certificate.",
    )
    .into_response()
}

async fn create_principal(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let body = json_body(&body, Api::Manager, "PrincipalIdentityWithCertificate")?;
            let by = caller.identity.clone();
            let doc = write(&app, move |tx| {
                super::create_principal_identity(tx, &body, &by, now_ms())
            })
            .await?;
            app.registry
                .publish(vec![RegistrationChange::PrincipalIdentityRegistered {
                    name: doc["name"].as_str().unwrap_or_default().to_owned(),
                }]);
            Ok(json_response(StatusCode::CREATED, doc))
        }
        .await,
    )
}

fn last_segment(uri: &Uri) -> Result<String, ApiError> {
    segments(uri)?
        .pop()
        .ok_or_else(|| ApiError::uri_not_found(uri.path()))
}

async fn get_principal(State(app): State<Arc<AppState>>, uri: Uri) -> Response {
    respond((|| {
        let id = last_segment(&uri)?;
        let doc = app.store.read(|t| super::principal_identity(t, &id))?;
        Ok(json_response(StatusCode::OK, doc))
    })())
}

async fn delete_principal(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    uri: Uri,
) -> Response {
    respond(
        async {
            let id = last_segment(&uri)?;
            let name = write(&app, move |tx| {
                super::delete_principal_identity(tx, &caller, &id)
            })
            .await?;
            app.registry
                .publish(vec![RegistrationChange::PrincipalIdentityDeleted { name }]);
            Ok(empty_ok())
        }
        .await,
    )
}

/// `(site, enforcement point, optional cluster control plane id)` of a CCP URI.
fn ccp_target(uri: &Uri) -> Result<(String, String, Option<String>), ApiError> {
    // "", policy, api, v1, infra, sites, {s}, enforcement-points, {ep}, cluster-control-planes[, {id}]
    let mut parts = segments(uri)?;
    let id = if parts.len() == 11 { parts.pop() } else { None };
    if parts.len() != 10 {
        return Err(ApiError::uri_not_found(uri.path()));
    }
    let site = parts[6].clone();
    let enforcement_point = parts[8].clone();
    check_site(&site, &enforcement_point)?;
    Ok((site, enforcement_point, id))
}

async fn list_ccps(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    uri: Uri,
) -> Response {
    respond((|| {
        ccp_target(&uri)?;
        let query = query(&uri)?;
        bool_param(&query, "include_mark_for_delete_objects", false)?;
        let params = ListParams::parse(&query)?;
        let list = app
            .store
            .read(|t| super::list_cluster_control_planes(t, &caller, &params))?;
        Ok(json_response(StatusCode::OK, list))
    })())
}

async fn get_ccp(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    uri: Uri,
) -> Response {
    respond((|| {
        let (_, _, id) = ccp_target(&uri)?;
        let path = super::ccp_path(&id.unwrap_or_default());
        app.store.read(|t| {
            let doc = t
                .get(crate::policy::TABLE, &path)
                .ok_or_else(|| ApiError::policy_object_not_found(&path))?;
            Ok(json_response(
                StatusCode::OK,
                super::render_ccp(doc, &caller),
            ))
        })
    })())
}

async fn put_ccp(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    uri: Uri,
    body: Bytes,
) -> Response {
    respond(
        async {
            let (_, _, id) = ccp_target(&uri)?;
            let id = id.unwrap_or_default();
            let body = json_body(&body, Api::Policy, super::CCP_RESOURCE_TYPE)?;
            let writer = caller.clone();
            let change_id = id.clone();
            let written = write(&app, move |tx| {
                super::put_cluster_control_plane(tx, &writer, &id, body, now_ms())
            })
            .await?;
            app.registry.publish(vec![if written.created {
                RegistrationChange::ClusterRegistered { id: change_id }
            } else {
                RegistrationChange::ClusterUpdated { id: change_id }
            }]);
            Ok(json_response(
                StatusCode::OK,
                super::render_ccp(&written.doc, &caller),
            ))
        }
        .await,
    )
}

async fn delete_ccp(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    uri: Uri,
) -> Response {
    respond(
        async {
            let (_, _, id) = ccp_target(&uri)?;
            let id = id.unwrap_or_default();
            let cascade = bool_param(&query(&uri)?, "cascade", false)?;
            let change_id = id.clone();
            let deletion = write(&app, move |tx| {
                super::delete_cluster_control_plane(tx, &caller, &id, cascade, now_ms())
            })
            .await?;
            if let Some(node_id) = deletion.node_id {
                tracing::info!(
                    cluster = %change_id,
                    spans = deletion.spans_removed.len(),
                    scopes = deletion.scopes_changed.len(),
                    inventory = deletion.inventory_removed,
                    "cluster control plane deleted"
                );
                app.registry
                    .publish(vec![RegistrationChange::ClusterDeregistered {
                        id: change_id,
                        node_id,
                    }]);
            }
            Ok(empty_ok())
        }
        .await,
    )
}
