//! REST facades over the adapter channel: what NSX's REST API shows of the Antrea clusters,
//! and the operations NSX relays to their MP adapters.
//!
//! * [`health`]: `cluster-control-planes/{id}/status` and `cluster-control-planes-status`
//!   (from heartbeats), `heartbeat-config` and `cluster-control-planes-heartbeat-config`;
//! * [`statistics`]: policy and rule `statistics?container_cluster_path=`;
//! * [`traceflow`]: Antrea Traceflow (`infra/antrea/traceflows`);
//! * [`support_bundle`]: `POST /api/v1/administration/support-bundles?action=collect` with
//!   `AntreaSupportBundleContainerNode`s.
//!
//! The handlers reach the channel through an axum `Extension<AdapterChannel>`.

pub mod health;
pub mod statistics;
pub mod support_bundle;
pub mod traceflow;

use std::sync::Arc;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::Uri;

use crate::error::ApiError;
use crate::rest::{AppState, percent_decode};

const SITE_BASE: &str = "/policy/api/v1/infra/sites/{site}/enforcement-points/{enforcement_point}";

/// The facade routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            &format!("{SITE_BASE}/cluster-control-planes/{{id}}/status"),
            get(health::get_status),
        )
        .route(
            &format!("{SITE_BASE}/cluster-control-planes-status"),
            get(health::list_status),
        )
        .route(
            &format!("{SITE_BASE}/cluster-control-planes/{{id}}/heartbeat-config"),
            get(health::get_config)
                .put(health::put_config)
                .patch(health::patch_config),
        )
        .route(
            &format!("{SITE_BASE}/cluster-control-planes-heartbeat-config"),
            get(health::list_config),
        )
        .route(
            "/policy/api/v1/infra/domains/{domain}/security-policies/{policy}/statistics",
            get(statistics::policy_statistics),
        )
        .route(
            "/policy/api/v1/infra/domains/{domain}/security-policies/{policy}/rules/{rule}/statistics",
            get(statistics::rule_statistics),
        )
        .route("/policy/api/v1/infra/antrea/traceflows", get(traceflow::list))
        .route(
            "/policy/api/v1/infra/antrea/traceflows/{traceflow}",
            get(traceflow::get)
                .put(traceflow::put)
                .patch(traceflow::patch)
                .delete(traceflow::delete)
                .post(traceflow::post),
        )
        .route(
            "/policy/api/v1/infra/antrea/traceflows/{traceflow}/observations",
            get(traceflow::observations),
        )
        .route(
            "/policy/api/v1/infra/antrea/traceflows/{traceflow}/status",
            get(traceflow::status),
        )
        .route(
            "/api/v1/administration/support-bundles",
            post(support_bundle::post),
        )
}

/// The percent-decoded segments of a request path (without the empty first one).
pub(crate) fn segments(uri: &Uri) -> Result<Vec<String>, ApiError> {
    uri.path()
        .trim_end_matches('/')
        .split('/')
        .skip(1)
        .map(|s| percent_decode(s, false))
        .collect()
}

/// A handler's result as a response.
pub(crate) fn respond(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}
