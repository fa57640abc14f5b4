//! Support bundles of Antrea clusters (nsx-api.md §3.10): `POST
//! /api/v1/administration/support-bundles?action=collect` with `container_nodes` of type
//! `AntreaSupportBundleContainerNode`, relayed to each cluster's MP adapter as a
//! `SupportBundleRequest` (docs/protocol.md §7.5).
//!
//! Every target's file arrives in chunks, in offset order; NSX checks each file against the
//! size and SHA-256 thumbprint the adapter reports, and answers with one `.tar.gz` archive
//! (`application/octet-stream`, as NSX downloads a bundle to the client when no
//! `remote_file_server` is given). The archive holds `{cluster_id}/{bundle_name}` for each
//! collected target and `support_bundle_result.json`, an NSX `SupportBundleResult` naming the
//! targets that succeeded and those that failed. The simulator reaches no remote file server:
//! a request naming one is refused, and so is one naming NSX fabric `nodes` (it has none).

use std::collections::BTreeMap;
use std::io::Write as _;

use axum::Extension;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use http::{Method, StatusCode, Uri};
use nsx_proto::capabilities::MP_SUPPORT_BUNDLE;
use nsx_proto::v1::{SupportBundleRequest, mp_request, mp_response, support_bundle_node_result};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::respond;
use crate::channel::AdapterChannel;
use crate::error::ApiError;
use crate::rest::{json_body, query};
use crate::schema::Api;

/// Name of the result file inside the archive.
pub const RESULT_FILE: &str = "support_bundle_result.json";
/// Largest total size of the files one collection may gather.
pub const MAX_COLLECTED_BYTES: usize = 512 * 1024 * 1024;

/// One cluster of the request.
struct ClusterTarget {
    cluster_id: String,
    nodes: Vec<String>,
}

/// What one cluster's adapter delivered.
#[derive(Default)]
struct Collected {
    files: Vec<(String, Vec<u8>)>,
    success: Vec<Value>,
    failed: Vec<Value>,
}

fn targets(channel: &AdapterChannel, request: &Value) -> Result<Vec<ClusterTarget>, ApiError> {
    if request.get("remote_file_server").is_some() {
        return Err(ApiError::bad_parameter(
            "The simulator cannot upload to a remote file server; omit remote_file_server to \
             download the bundle.",
        ));
    }
    if request["nodes"].as_array().is_some_and(|n| !n.is_empty()) {
        return Err(ApiError::bad_parameter(
            "The simulator has no NSX fabric or cluster nodes to collect; use container_nodes.",
        ));
    }
    let mut out = Vec::new();
    for container in request["container_nodes"].as_array().into_iter().flatten() {
        for cluster in container["clusters"].as_array().into_iter().flatten() {
            let id = cluster["cluster_id"].as_str().unwrap_or_default();
            let registration = channel.cluster_by_any_id(id).ok_or_else(|| {
                ApiError::bad_parameter(format!(
                    "cluster_id {id} is not a registered Antrea container cluster."
                ))
            })?;
            let nodes: Vec<String> = cluster["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect();
            if nodes.len() > nsx_proto::limits::MAX_SUPPORT_BUNDLE_NODES {
                return Err(ApiError::bad_parameter(format!(
                    "At most {} container nodes of one cluster can be collected at once; {} \
                     were named for cluster {id}.",
                    nsx_proto::limits::MAX_SUPPORT_BUNDLE_NODES,
                    nodes.len()
                )));
            }
            out.push(ClusterTarget {
                cluster_id: registration.id,
                nodes,
            });
        }
    }
    if out.is_empty() {
        return Err(ApiError::bad_parameter(
            "The request names no Antrea container cluster (container_nodes).",
        ));
    }
    Ok(out)
}

fn failure(node_id: &str, display: &str, code: &str, message: impl Into<String>) -> Value {
    json!({"node_id": node_id, "node_display_name": display, "error_code": code,
           "error_message": message.into()})
}

/// Collects one cluster's bundles.
async fn collect(
    channel: AdapterChannel,
    target: ClusterTarget,
    request: &Value,
) -> Result<Collected, ApiError> {
    let filters: Vec<String> = request["content_filters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().map(str::to_owned))
        .collect();
    let mut handle = channel.request(
        &target.cluster_id,
        MP_SUPPORT_BUNDLE,
        mp_request::Body::SupportBundle(SupportBundleRequest {
            bundle_id: uuid::Uuid::new_v4().to_string(),
            nodes: target.nodes.clone(),
            include_controller: true,
            content_filters: filters,
            log_age_limit: request["log_age_limit"].as_i64().unwrap_or_default(),
            max_chunk_bytes: 0,
        }),
        channel.options().support_bundle_timeout,
    )?;
    // Files in progress, by (node, component, name).
    let mut buffers: BTreeMap<(String, String, String), (Vec<u8>, bool)> = BTreeMap::new();
    let mut collected = Collected::default();
    let mut total = 0usize;
    loop {
        let part = handle.next_part().await?;
        match part.body {
            mp_response::Body::SupportBundleChunk(chunk) => {
                let key = (chunk.node_id, chunk.component, chunk.bundle_name);
                let (buffer, broken) = buffers.entry(key).or_default();
                if chunk.offset == 0 {
                    // A transfer restarted after a reconnect starts over.
                    total -= buffer.len();
                    buffer.clear();
                    *broken = false;
                }
                if chunk.offset != buffer.len() as u64 {
                    *broken = true;
                    continue;
                }
                total += chunk.data.len();
                if total > MAX_COLLECTED_BYTES {
                    return Err(ApiError::bad_parameter(format!(
                        "The support bundle of cluster {} exceeds {MAX_COLLECTED_BYTES} bytes.",
                        target.cluster_id
                    )));
                }
                buffer.extend_from_slice(&chunk.data);
            }
            mp_response::Body::SupportBundleNode(node) => {
                let key = (
                    node.node_id.clone(),
                    node.component.clone(),
                    match &node.outcome {
                        Some(support_bundle_node_result::Outcome::Success(s)) => {
                            s.bundle_name.clone()
                        }
                        _ => String::new(),
                    },
                );
                let display = if node.node_display_name.is_empty() {
                    format!("{}/{}", target.cluster_id, node.component)
                } else {
                    node.node_display_name.clone()
                };
                match node.outcome {
                    Some(support_bundle_node_result::Outcome::Success(success)) => {
                        let (data, broken) = buffers.remove(&key).unwrap_or_default();
                        if broken {
                            collected.failed.push(failure(
                                &node.node_id,
                                &display,
                                "BUNDLE_CORRUPTED",
                                format!(
                                    "{} arrived with a gap between its chunks.",
                                    success.bundle_name
                                ),
                            ));
                            continue;
                        }
                        let thumbprint = hex::encode(Sha256::digest(&data));
                        if data.len() as i64 != success.bundle_size
                            || !thumbprint.eq_ignore_ascii_case(&success.sha256_thumbprint)
                        {
                            collected.failed.push(failure(
                                &node.node_id,
                                &display,
                                "BUNDLE_CORRUPTED",
                                format!(
                                    "{} arrived with {} bytes and SHA-256 {thumbprint}; the \
                                     adapter reported {} bytes and {}.",
                                    success.bundle_name,
                                    data.len(),
                                    success.bundle_size,
                                    success.sha256_thumbprint
                                ),
                            ));
                            continue;
                        }
                        let mut entry = json!({
                            "node_id": node.node_id,
                            "node_display_name": display,
                            "bundle_name": success.bundle_name,
                            "bundle_size": success.bundle_size,
                            "sha256_thumbprint": thumbprint,
                        });
                        if !node.node_ip.is_empty() {
                            entry["node_ip"] = json!(node.node_ip);
                        }
                        if !node.node_ipv6.is_empty() {
                            entry["node_ipv6"] = json!(node.node_ipv6);
                        }
                        collected.success.push(entry);
                        let name = success.bundle_name.replace(['/', '\\'], "_");
                        collected
                            .files
                            .push((format!("{}/{name}", target.cluster_id), data));
                    }
                    Some(support_bundle_node_result::Outcome::Failure(failed)) => {
                        let mut entry = failure(
                            &node.node_id,
                            &display,
                            &failed.error_code,
                            failed.error_message,
                        );
                        if !node.node_ip.is_empty() {
                            entry["node_ip"] = json!(node.node_ip);
                        }
                        collected.failed.push(entry);
                    }
                    None => collected.failed.push(failure(
                        &node.node_id,
                        &display,
                        "UNKNOWN",
                        "The adapter reported no outcome for this target.",
                    )),
                }
            }
            mp_response::Body::End(_) => break,
            _ => {}
        }
        if part.last {
            break;
        }
    }
    Ok(collected)
}

fn archive(files: &[(String, Vec<u8>)], result: &Value) -> Result<Vec<u8>, ApiError> {
    let io = |e: std::io::Error| ApiError::internal(format!("Cannot build the archive: {e}"));
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    let now = u64::try_from(crate::policy::now_ms() / 1000).unwrap_or_default();
    let mut add = |name: &str, data: &[u8]| -> Result<(), ApiError> {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(now);
        header.set_cksum();
        builder.append_data(&mut header, name, data).map_err(io)
    };
    for (name, data) in files {
        add(name, data)?;
    }
    let result =
        serde_json::to_vec_pretty(result).map_err(|e| ApiError::internal(e.to_string()))?;
    add(RESULT_FILE, &result)?;
    let mut encoder = builder.into_inner().map_err(io)?;
    encoder.flush().map_err(io)?;
    encoder.finish().map_err(io)
}

/// `POST /api/v1/administration/support-bundles?action=collect`.
pub async fn post(
    Extension(channel): Extension<AdapterChannel>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    respond(
        async {
            let query = query(&uri)?;
            if query.get("action").map(String::as_str) != Some("collect") {
                return Err(ApiError::method_not_allowed(&method, uri.path()));
            }
            let request = json_body(&body, Api::Manager, "SupportBundleRequest")?;
            let targets = targets(&channel, &request)?;
            for target in &targets {
                if !channel.management_connected(&target.cluster_id) {
                    return Err(crate::channel::not_connected(&target.cluster_id));
                }
            }
            let mut tasks = tokio::task::JoinSet::new();
            for target in targets {
                let channel = channel.clone();
                let request = request.clone();
                tasks.spawn(async move { collect(channel, target, &request).await });
            }
            let mut files = Vec::new();
            let mut success = Vec::new();
            let mut failed = Vec::new();
            while let Some(joined) = tasks.join_next().await {
                let collected = joined.map_err(|e| ApiError::internal(e.to_string()))??;
                files.extend(collected.files);
                success.extend(collected.success);
                failed.extend(collected.failed);
            }
            files.sort_by(|a, b| a.0.cmp(&b.0));
            let result = json!({
                "request_properties": request,
                "success_nodes": success,
                "failed_nodes": failed,
                "remaining_nodes": [],
            });
            let archive = archive(&files, &result)?;
            let name = format!(
                "nsx_support_archive_{}.tar.gz",
                jiff::Timestamp::now().strftime("%Y%m%d_%H%M%S")
            );
            Ok((
                StatusCode::OK,
                [
                    (CONTENT_TYPE, "application/octet-stream".to_owned()),
                    (
                        CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                ],
                archive,
            )
                .into_response())
        }
        .await,
    )
}
