//! Policy and rule statistics per Antrea cluster (nsx-api.md §2.8), asked of the clusters' MP
//! adapters with `PolicyStatisticsRequest` (docs/protocol.md §7.5).
//!
//! With `container_cluster_path`, the named cluster is asked; without it, every cluster whose
//! desired state holds the policy. A cluster that is not connected, or whose adapter does not
//! offer statistics, fails the request at once; an adapter that does not answer in time fails
//! it with a timeout.

use axum::Extension;
use axum::response::Response;
use http::{StatusCode, Uri};
use nsx_proto::capabilities::MP_STATISTICS;
use nsx_proto::v1::{
    PolicyStatisticsRequest, PolicyStatisticsResult, RuleRef, RuleStatistics, mp_request,
    mp_response,
};
use serde_json::{Value, json};

use super::{respond, segments};
use crate::channel::AdapterChannel;
use crate::error::ApiError;
use crate::policy::render::ordered_rules;
use crate::policy::{self, kinds::Kind, kinds::kind_of_path};
use crate::realization::state::cluster_id_of;
use crate::registration::ccp_path;
use crate::rest::{json_response, query};

/// The enforcement point of every Antrea cluster.
const ENFORCEMENT_POINT: &str = "/infra/sites/default/enforcement-points/default";

struct Target {
    policy_path: String,
    policy_unique_id: String,
    rules: Vec<RuleRef>,
}

fn target(channel: &AdapterChannel, uri: &Uri, rule: bool) -> Result<Target, ApiError> {
    let segments = segments(uri)?;
    // policy api v1 infra domains {d} security-policies {p} [rules {r}] statistics
    let (domain, policy_id) = (&segments[5], &segments[7]);
    let policy_path = format!("/infra/domains/{domain}/security-policies/{policy_id}");
    channel.store().read(|tables| {
        let policy = tables
            .get(policy::TABLE, &policy_path)
            .filter(|_| kind_of_path(&policy_path) == Some(Kind::SecurityPolicy))
            .ok_or_else(|| ApiError::policy_object_not_found(&policy_path))?;
        let rules: Vec<RuleRef> = if rule {
            let rule_path = format!("{policy_path}/rules/{}", segments[9]);
            let doc = tables
                .get(policy::TABLE, &rule_path)
                .ok_or_else(|| ApiError::policy_object_not_found(&rule_path))?;
            vec![RuleRef {
                rule_id: doc["rule_id"].as_i64().unwrap_or_default(),
                path: rule_path,
            }]
        } else {
            ordered_rules(tables, &policy_path)
                .into_iter()
                .map(|(path, doc)| RuleRef {
                    path: path.clone(),
                    rule_id: doc["rule_id"].as_i64().unwrap_or_default(),
                })
                .collect()
        };
        Ok(Target {
            policy_unique_id: policy["unique_id"].as_str().unwrap_or_default().to_owned(),
            policy_path: policy_path.clone(),
            rules,
        })
    })
}

/// The clusters to ask: the one named, or every cluster whose desired state holds the policy.
fn clusters(
    channel: &AdapterChannel,
    uri: &Uri,
    policy_path: &str,
) -> Result<Vec<String>, ApiError> {
    let query = query(uri)?;
    match query.get("container_cluster_path") {
        Some(path) => {
            let id = cluster_id_of(path);
            match channel.registry().cluster(id) {
                Some(cluster) if ccp_path(&cluster.id) == *path => Ok(vec![cluster.id]),
                _ => Err(ApiError::bad_parameter(format!(
                    "container_cluster_path {path} is not the path of a registered Antrea cluster."
                ))),
            }
        }
        None => Ok(channel
            .feed()
            .clusters_of(policy_path)
            .iter()
            .map(|p| cluster_id_of(p).to_owned())
            .collect()),
    }
}

async fn ask(
    channel: &AdapterChannel,
    cluster_id: &str,
    target: &Target,
) -> Result<PolicyStatisticsResult, ApiError> {
    let request = mp_request::Body::PolicyStatistics(PolicyStatisticsRequest {
        policy_path: target.policy_path.clone(),
        policy_unique_id: target.policy_unique_id.clone(),
        rules: target.rules.clone(),
        container_cluster_path: ccp_path(cluster_id),
    });
    let mut handle = channel.request(
        cluster_id,
        MP_STATISTICS,
        request,
        channel.options().request_timeout,
    )?;
    let part = handle.next_part().await?;
    match part.body {
        mp_response::Body::PolicyStatistics(result) => Ok(result),
        other => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            crate::channel::code::ADAPTER_PROTOCOL,
            crate::channel::MODULE_CHANNEL,
            format!(
                "The adapter of Antrea cluster {cluster_id} answered a statistics request with {}.",
                body_name(&other)
            ),
        )),
    }
}

fn body_name(body: &mp_response::Body) -> &'static str {
    match body {
        mp_response::Body::Error(_) => "an error",
        mp_response::Body::PolicyStatistics(_) => "statistics",
        mp_response::Body::Traceflow(_) => "a Traceflow result",
        mp_response::Body::TraceflowDeleted(_) => "a Traceflow deletion",
        mp_response::Body::SupportBundleChunk(_) | mp_response::Body::SupportBundleNode(_) => {
            "a support bundle"
        }
        mp_response::Body::LogChunk(_) | mp_response::Body::LogSource(_) => "logs",
        mp_response::Body::End(_) => "a stream end",
    }
}

/// NSX `RuleStatistics` from the channel's mirror.
pub fn rule_statistics_json(rule: &RuleStatistics) -> Value {
    let mut out = json!({
        "rule": rule.rule,
        "internal_rule_id": rule.internal_rule_id,
        "hit_count": rule.hit_count,
        "packet_count": rule.packet_count,
        "byte_count": rule.byte_count,
        "session_count": rule.session_count,
        "popularity_index": rule.popularity_index,
        "max_popularity_index": rule.max_popularity_index,
        "max_session_count": rule.max_session_count,
        "total_session_count": rule.total_session_count,
        "l7_accept_count": rule.l7_accept_count,
        "l7_reject_count": rule.l7_reject_count,
        "l7_reject_with_response_count": rule.l7_reject_with_response_count,
    });
    if !rule.lr_path.is_empty() {
        out["lr_path"] = json!(rule.lr_path);
    }
    out
}

/// The adapters' answers for every cluster, in cluster order (asked concurrently).
async fn collect(
    channel: &AdapterChannel,
    uri: &Uri,
    rule: bool,
) -> Result<(Target, Vec<(String, PolicyStatisticsResult)>), ApiError> {
    let target = target(channel, uri, rule)?;
    let mut clusters = clusters(channel, uri, &target.policy_path)?;
    clusters.sort();
    let answers = futures_join(channel, &clusters, &target).await?;
    Ok((target, clusters.into_iter().zip(answers).collect()))
}

async fn futures_join(
    channel: &AdapterChannel,
    clusters: &[String],
    target: &Target,
) -> Result<Vec<PolicyStatisticsResult>, ApiError> {
    // Fail at once when any cluster cannot be asked, before asking the others.
    for cluster in clusters {
        if !channel.management_connected(cluster) {
            return Err(crate::channel::not_connected(cluster));
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (i, cluster) in clusters.iter().enumerate() {
        let channel = channel.clone();
        let cluster = cluster.clone();
        let target = Target {
            policy_path: target.policy_path.clone(),
            policy_unique_id: target.policy_unique_id.clone(),
            rules: target.rules.clone(),
        };
        tasks.spawn(async move { (i, ask(&channel, &cluster, &target).await) });
    }
    let mut answers: Vec<Option<PolicyStatisticsResult>> = vec![None; clusters.len()];
    while let Some(joined) = tasks.join_next().await {
        let (i, answer) = joined.map_err(|e| ApiError::internal(e.to_string()))?;
        answers[i] = Some(answer?);
    }
    Ok(answers.into_iter().flatten().collect())
}

/// `GET .../security-policies/{p}/statistics`: `SecurityPolicyStatisticsListResult`.
pub async fn policy_statistics(
    Extension(channel): Extension<AdapterChannel>,
    uri: Uri,
) -> Response {
    respond(
        async {
            let (_, answers) = collect(&channel, &uri, false).await?;
            let results: Vec<Value> = answers
                .iter()
                .map(|(cluster, answer)| {
                    let rules: Vec<Value> =
                        answer.results.iter().map(rule_statistics_json).collect();
                    json!({
                        "container_cluster_path": ccp_path(cluster),
                        "enforcement_point": ENFORCEMENT_POINT,
                        "statistics": {
                            "internal_section_id": answer.internal_section_id,
                            "result_count": rules.len(),
                            "results": rules,
                        },
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

/// `GET .../rules/{r}/statistics`: `RuleStatisticsListResult`.
pub async fn rule_statistics(Extension(channel): Extension<AdapterChannel>, uri: Uri) -> Response {
    respond(
        async {
            let (target, answers) = collect(&channel, &uri, true).await?;
            let rule_path = target
                .rules
                .first()
                .map(|r| r.path.clone())
                .unwrap_or_default();
            let results: Vec<Value> = answers
                .iter()
                .map(|(cluster, answer)| {
                    let statistics = answer
                        .results
                        .iter()
                        .find(|r| r.rule == rule_path)
                        .or_else(|| answer.results.first())
                        .map(rule_statistics_json)
                        .unwrap_or_else(|| json!({"rule": rule_path}));
                    json!({
                        "container_cluster_path": ccp_path(cluster),
                        "enforcement_point": ENFORCEMENT_POINT,
                        "statistics": statistics,
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
