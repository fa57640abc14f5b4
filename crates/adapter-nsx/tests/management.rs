//! The management-plane client against the simulator: heartbeats make the cluster status
//! HEALTHY, a heartbeat-config change is pushed and applied, statistics are answered by a
//! test handler and read through NSX's REST statistics facade, a request whose REST caller
//! gives up is cancelled in the handler, a support bundle travels in chunks and comes out of
//! NSX's collect API, and the welcome's capability intersection is enforced.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use adapter_nsx::channel::management::{
    HealthSource, ManagementPlaneClient, RequestContext, RequestHandler, ResponseSink,
};
use adapter_nsx::rest::{NsxRequest, NsxRestClient};
use common::{
    Cluster, channel_config, group, group_path, policy, policy_path, register, rpc_endpoint, span,
    wait_for,
};
use nsx_proto::capabilities;
use nsx_proto::v1::{
    AntreaAdapterStatus, AntreaAgentsInfo, AntreaControllerStatus, ChannelError, ClusterHealth,
    ComponentConditionItem, ErrorCode, PolicyStatisticsRequest, PolicyStatisticsResult,
    RuleStatistics, SupportBundleNodeResult, SupportBundleRequest, SupportBundleSuccess,
    mp_response, support_bundle_node_result,
};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

const CCP: &str =
    "/policy/api/v1/infra/sites/default/enforcement-points/default/cluster-control-planes";

struct Healthy;

fn condition(kind: &str) -> ComponentConditionItem {
    ComponentConditionItem {
        condition_type: kind.into(),
        status: "HEALTHY".into(),
        last_heartbeat_time: 1_700_000_000_000,
        ..ComponentConditionItem::default()
    }
}

impl HealthSource for Healthy {
    async fn cluster_health(&self) -> ClusterHealth {
        ClusterHealth {
            controller_status: Some(AntreaControllerStatus {
                status: "HEALTHY".into(),
                connected_agent_num: 2,
                conditions: vec![condition("CONTROLLER_HEALTHY")],
            }),
            mp_adapter_status: Some(AntreaAdapterStatus {
                status: "HEALTHY".into(),
                conditions: vec![condition("MP_ADAPTER_HEALTHY"), condition("MP_CONNECTED")],
            }),
            ccp_adapter_status: Some(AntreaAdapterStatus {
                status: "HEALTHY".into(),
                conditions: vec![condition("CCP_ADAPTER_HEALTHY")],
            }),
            agent_info: Some(AntreaAgentsInfo {
                healthy_agent_num: 2,
                ..AntreaAgentsInfo::default()
            }),
        }
    }
}

/// Answers statistics with hits = 10 × the rule's position; a policy named "slow" never
/// answers (and records that its work was stopped); bundles are one 600 KiB file per node.
#[derive(Default)]
struct TestHandler {
    statistics_served: AtomicUsize,
    slow_cancelled: AtomicBool,
    /// Requests for a policy named "held" wait for this.
    release: tokio::sync::Notify,
    held_started: AtomicUsize,
}

/// Sets its flag when dropped.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

const BUNDLE_BYTES: usize = 600 * 1024;

fn bundle_data() -> Vec<u8> {
    (0..BUNDLE_BYTES).map(|i| (i % 251) as u8).collect()
}

impl RequestHandler for TestHandler {
    fn capabilities(&self) -> Vec<String> {
        vec![
            capabilities::MP_STATISTICS.to_owned(),
            capabilities::MP_SUPPORT_BUNDLE.to_owned(),
        ]
    }

    async fn policy_statistics(
        &self,
        request: PolicyStatisticsRequest,
        context: RequestContext,
    ) -> Result<PolicyStatisticsResult, ChannelError> {
        assert!(context.deadline > tokio::time::Instant::now());
        assert!(!context.request_id.is_empty());
        if request.policy_path.ends_with("/slow") {
            // Never answers: the client stops (drops) this work at the deadline or on
            // NSX's cancel, which the guard records.
            let _guard = SetOnDrop(&self.slow_cancelled);
            let () = std::future::pending().await;
        }
        if request.policy_path.ends_with("/held") {
            self.held_started.fetch_add(1, Ordering::SeqCst);
            self.release.notified().await;
        }
        if request.policy_path.ends_with("/missing") {
            return Err(
                ChannelError::new(ErrorCode::NotFound, "no Antrea policy for it")
                    .with_target(request.policy_unique_id),
            );
        }
        self.statistics_served.fetch_add(1, Ordering::SeqCst);
        Ok(PolicyStatisticsResult {
            policy_path: request.policy_path.clone(),
            container_cluster_path: request.container_cluster_path.clone(),
            internal_section_id: request.policy_unique_id.clone(),
            results: request
                .rules
                .iter()
                .enumerate()
                .map(|(index, rule)| RuleStatistics {
                    rule: rule.path.clone(),
                    internal_rule_id: rule.rule_id.to_string(),
                    hit_count: 10 * (index as i64 + 1),
                    packet_count: 100,
                    ..RuleStatistics::default()
                })
                .collect(),
            counting_since: None,
            collected_at: None,
        })
    }

    async fn support_bundle(
        &self,
        request: SupportBundleRequest,
        _context: RequestContext,
        sink: ResponseSink,
    ) -> Result<(), ChannelError> {
        let data = bundle_data();
        let thumbprint = hex::encode(Sha256::digest(&data));
        for node in &request.nodes {
            let name = format!("antrea-agent_{node}_{}.tar.gz", request.bundle_id);
            sink.send_bundle_file(node, "antrea-agent", &name, &data)
                .await
                .map_err(|error| ChannelError::new(ErrorCode::Cancelled, error.to_string()))?;
            sink.send(mp_response::Body::SupportBundleNode(
                SupportBundleNodeResult {
                    node_id: node.clone(),
                    component: "antrea-agent".into(),
                    node_display_name: format!("node-{node}"),
                    outcome: Some(support_bundle_node_result::Outcome::Success(
                        SupportBundleSuccess {
                            bundle_name: name,
                            bundle_size: data.len() as i64,
                            sha256_thumbprint: thumbprint.clone(),
                        },
                    )),
                    ..SupportBundleNodeResult::default()
                },
            ))
            .await
            .map_err(|error| ChannelError::new(ErrorCode::Cancelled, error.to_string()))?;
        }
        Ok(())
    }
}

async fn start_client(
    sim: &nsx_sim::RunningSim,
    cluster: &Cluster,
) -> (ManagementPlaneClient, Arc<TestHandler>) {
    let handler = Arc::new(TestHandler::default());
    let client = ManagementPlaneClient::start(
        channel_config(sim, cluster, vec![rpc_endpoint(sim)]),
        Arc::new(Healthy),
        handler.clone(),
    );
    let mut connection = client.connection();
    wait_for(&mut connection, "the session", |s| s.is_connected()).await;
    (client, handler)
}

async fn get(client: &NsxRestClient, path: &str) -> Result<Value, adapter_nsx::rest::RestError> {
    client.get_json(path).await
}

#[tokio::test]
async fn heartbeats_make_the_cluster_healthy_and_follow_the_configured_interval() {
    let sim = common::start(common::test_options(), None, None).await;
    let cluster = register(&sim, "c1").await;
    let admin = common::admin(&sim);
    let status_path = format!("{CCP}/c1/status");
    assert_eq!(
        get(&admin, &status_path).await.unwrap()["status"],
        "UNKNOWN"
    );

    let (client, _) = start_client(&sim, &cluster).await;
    let mut heartbeats = client.heartbeats();
    let acked = wait_for(&mut heartbeats, "the first heartbeat ack", |h| {
        h.last_acked >= 1
    })
    .await;
    assert_eq!(acked.report_interval, 60);
    let info = common::eventually(&admin, &status_path, |info| info["status"] == "HEALTHY").await;
    assert_eq!(info["controller_status"]["connected_agent_num"], 2);
    assert_eq!(info["agent_info"]["healthy_agent_num"], 2);

    // A status change is reported at once.
    client.health_changed();
    wait_for(&mut heartbeats, "the second heartbeat ack", |h| {
        h.last_acked >= 2
    })
    .await;

    // NSX pushes a new interval.
    let config_path = format!("{CCP}/c1/heartbeat-config");
    admin
        .execute(
            NsxRequest::new(http::Method::PATCH, &config_path)
                .json(&json!({"resource_type": "AntreaHeartbeatConfig", "report_interval": 120}))
                .unwrap(),
        )
        .await
        .unwrap();
    wait_for(&mut heartbeats, "the new interval", |h| {
        h.report_interval == 120
    })
    .await;
    client.shutdown().await;
    sim.shutdown().await.unwrap();
}

async fn spanned_policy(admin: &NsxRestClient, cluster: &Cluster, id: &str) {
    group(admin, "web").await;
    policy(
        admin,
        id,
        json!([
            {"resource_type": "Rule", "id": "r1", "sequence_number": 1,
             "source_groups": [group_path("web")]},
            {"resource_type": "Rule", "id": "r2", "sequence_number": 2, "action": "DROP"}
        ]),
    )
    .await;
    span(admin, id, cluster).await;
}

#[tokio::test]
async fn statistics_are_answered_by_the_handler_and_cancellations_reach_it() {
    let mut options = common::test_options();
    options.request_timeout = Duration::from_secs(1);
    let sim = common::start(options, None, None).await;
    let cluster = register(&sim, "c1").await;
    let admin = common::admin(&sim);
    spanned_policy(&admin, &cluster, "p1").await;
    spanned_policy(&admin, &cluster, "slow").await;
    spanned_policy(&admin, &cluster, "missing").await;
    let (client, handler) = start_client(&sim, &cluster).await;

    let url = |id: &str| {
        format!(
            "/policy/api/v1{}/statistics?container_cluster_path={}",
            policy_path(id),
            cluster.path()
        )
    };
    let body = get(&admin, &url("p1")).await.unwrap();
    assert_eq!(body["result_count"], 1);
    let statistics = &body["results"][0]["statistics"];
    assert_eq!(statistics["results"][0]["hit_count"], 10);
    assert_eq!(statistics["results"][1]["hit_count"], 20);
    assert_eq!(statistics["results"][1]["packet_count"], 100);
    assert_eq!(handler.statistics_served.load(Ordering::SeqCst), 1);

    // The handler's error is NSX's error.
    let error = get(&admin, &url("missing")).await.unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(404), "{error}");

    // A handler that never answers: NSX gives up (504), and the handler is cancelled.
    let error = get(&admin, &url("slow")).await.unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(504), "{error}");
    for _ in 0..500 {
        if handler.slow_cancelled.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(handler.slow_cancelled.load(Ordering::SeqCst));

    // Traceflow was not offered: NSX says so without asking.
    let error = admin
        .execute(
            NsxRequest::new(
                http::Method::PUT,
                "/policy/api/v1/infra/antrea/traceflows/t1",
            )
            .json(&json!({"resource_type": "AntreaTraceflowConfig",
                               "container_cluster_id": cluster.node_id,
                               "source_external_id": "pod-uid"}))
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(400), "{error}");
    client.shutdown().await;
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_support_bundle_travels_in_chunks() {
    let sim = common::start(common::test_options(), None, None).await;
    let cluster = register(&sim, "c1").await;
    let admin = common::admin(&sim);
    let (client, _) = start_client(&sim, &cluster).await;

    let reply = admin
        .execute(
            NsxRequest::new(http::Method::POST, "/api/v1/administration/support-bundles")
                .query("action", "collect")
                .json(
                    &json!({"content_filters": ["DEFAULT"], "container_nodes": [{
                    "container_type": "ANTREA",
                    "clusters": [{"cluster_id": cluster.node_id, "nodes": ["n1", "n2"]}]}]}),
                )
                .unwrap(),
        )
        .await
        .unwrap();
    let archive = inflated_text(&reply.body);
    assert!(archive.contains("antrea-agent_n1_"), "{archive}");
    assert!(archive.contains("antrea-agent_n2_"), "{archive}");
    assert!(!archive.contains("BUNDLE_CORRUPTED"), "{archive}");
    client.shutdown().await;
    sim.shutdown().await.unwrap();
}

/// NSX's gzip'd tar inflated, as text: enough to see the file names and the
/// `support_bundle_result.json` NSX wrote after verifying each file's size and SHA-256.
fn inflated_text(gzip: &[u8]) -> String {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(gzip)
        .read_to_end(&mut bytes)
        .unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test]
async fn a_request_interrupted_by_a_reconnect_is_answered_on_the_next_session() {
    let sim = common::start(common::test_options(), None, None).await;
    let cluster = register(&sim, "c1").await;
    let admin = common::admin(&sim);
    spanned_policy(&admin, &cluster, "held").await;
    let (client, handler) = start_client(&sim, &cluster).await;
    let url = format!(
        "/policy/api/v1{}/statistics?container_cluster_path={}",
        policy_path("held"),
        cluster.path()
    );
    let rest = tokio::spawn({
        let admin = admin.clone();
        async move { get(&admin, &url).await }
    });
    for _ in 0..500 {
        if handler.held_started.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(handler.held_started.load(Ordering::SeqCst), 1);

    // The session ends while the request runs; the client reconnects, NSX re-sends the
    // request with the same id, and the running work answers on the new session.
    let mut connection = client.connection();
    sim.adapter_channel().shutdown_sessions();
    wait_for(&mut connection, "a second session", |s| {
        s.sessions_established == 2 && s.is_connected()
    })
    .await;
    handler.release.notify_one();
    let body = rest.await.unwrap().unwrap();
    assert_eq!(
        body["results"][0]["statistics"]["results"][0]["hit_count"],
        10
    );
    // The work ran once.
    assert_eq!(handler.held_started.load(Ordering::SeqCst), 1);
    assert_eq!(handler.statistics_served.load(Ordering::SeqCst), 1);
    client.shutdown().await;
    sim.shutdown().await.unwrap();
}
