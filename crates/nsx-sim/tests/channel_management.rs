//! The management plane of the adapter channel against a fake MP adapter: heartbeats and the
//! cluster status roll-up (DEGRADED, FAILED, UNKNOWN after missed heartbeats), the heartbeat
//! configuration and its push, and the REST facades the adapter answers (policy and rule
//! statistics, Antrea Traceflow, support bundles), including a cluster that is not connected,
//! a capability not offered, an adapter that does not answer in time, and a request re-sent
//! after a reconnect. REST bodies are checked against the NSX schemas.

mod adapter;
mod common;

use std::io::Read as _;
use std::time::Duration;

use adapter::{
    ALL_CAPABILITIES, CCP_URL, CcpSession, Cluster, MpSession, ccp_hello, mp_hello, register,
};
use common::{Client, SchemaCheck, group_path, policy_url};
use nsx_proto::v1::{
    AntreaAdapterStatus, AntreaAgentsInfo, AntreaControllerStatus, AntreaObservationDetails,
    AntreaTraceflowObservation, AntreaTraceflowStatus, ChannelError, ClusterHealth,
    ComponentConditionItem, ErrorCode, Heartbeat, PolicyStatisticsResult, RuleStatistics,
    StreamEnd, SupportBundleChunk, SupportBundleFailure, SupportBundleNodeResult,
    SupportBundleSuccess, TraceflowDeleted, TraceflowResult, mp_adapter_message,
    mp_manager_message, mp_request, mp_response, support_bundle_node_result,
};
use nsx_sim::RunningSim;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

fn status_url(cluster: &str) -> String {
    format!("{CCP_URL}/{cluster}/status")
}

fn config_url(cluster: &str) -> String {
    format!("{CCP_URL}/{cluster}/heartbeat-config")
}

fn condition(kind: &str, status: &str) -> ComponentConditionItem {
    ComponentConditionItem {
        condition_type: kind.into(),
        status: status.into(),
        reason: if status == "HEALTHY" {
            String::new()
        } else {
            "Broken".into()
        },
        message: String::new(),
        last_heartbeat_time: 1_700_000_000_000,
    }
}

fn health(controller: &str, mp: &str, ccp: &str) -> ClusterHealth {
    ClusterHealth {
        controller_status: Some(AntreaControllerStatus {
            status: controller.into(),
            connected_agent_num: 3,
            conditions: vec![condition(
                "CONTROLLER_HEALTHY",
                if controller == "HEALTHY" {
                    "HEALTHY"
                } else {
                    "UNHEALTHY"
                },
            )],
        }),
        mp_adapter_status: Some(AntreaAdapterStatus {
            status: mp.into(),
            conditions: vec![
                condition("MP_ADAPTER_HEALTHY", "HEALTHY"),
                condition("MP_CONNECTED", "HEALTHY"),
            ],
        }),
        ccp_adapter_status: Some(AntreaAdapterStatus {
            status: ccp.into(),
            conditions: vec![condition("CCP_ADAPTER_HEALTHY", "HEALTHY")],
        }),
        agent_info: Some(AntreaAgentsInfo {
            healthy_agent_num: 2,
            degraded_agent_num: 1,
            failed_agent_num: 0,
        }),
    }
}

async fn heartbeat(session: &mut MpSession, sequence: u64, health: ClusterHealth) {
    session
        .send(mp_adapter_message::Body::Heartbeat(Heartbeat {
            sequence,
            sent_at: None,
            health: Some(health),
        }))
        .await;
    loop {
        match session.expect().await {
            mp_manager_message::Body::HeartbeatAck(ack) => {
                assert_eq!(ack.sequence, sequence);
                return;
            }
            mp_manager_message::Body::HeartbeatConfig(_) => {}
            other => panic!("expected a heartbeat ack, got {other:?}"),
        }
    }
}

fn ccp_condition<'a>(info: &'a Value, kind: &str) -> &'a Value {
    info["ccp_adapter_status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["condition_type"] == kind)
        .unwrap()
}

#[tokio::test]
async fn heartbeats_make_the_cluster_status() {
    let mut options = adapter::test_options();
    // One "second" of report_interval lasts 20 ms: UNKNOWN after 3 × 60 × 20 ms = 3.6 s.
    options.heartbeat_second = Duration::from_millis(20);
    let sim = adapter::start_with(options, None).await;
    let admin = Client::admin(&sim);
    let c1 = register(&sim, "c1").await;

    let info = admin.get(&status_url("c1")).await.expect(200).body;
    assert_eq!(info["status"], "UNKNOWN");
    assert_eq!(info["controller_status"]["status"], "UNKNOWN");
    admin.get(&status_url("nope")).await.expect(404);

    let (mut session, welcome) =
        MpSession::welcome(&sim, &c1, mp_hello("c1", ALL_CAPABILITIES)).await;
    assert_eq!(welcome.heartbeat_config.unwrap().report_interval, 60);
    assert_eq!(welcome.capabilities, ALL_CAPABILITIES);
    assert_eq!(welcome.max_concurrent_requests, 16);
    assert_eq!(welcome.cluster_path, c1.path());

    heartbeat(&mut session, 1, health("HEALTHY", "HEALTHY", "HEALTHY")).await;
    let info = admin.get(&status_url("c1")).await.expect(200).body;
    assert_eq!(info["status"], "HEALTHY");
    assert_eq!(info["controller_status"]["connected_agent_num"], 3);
    assert_eq!(info["agent_info"]["degraded_agent_num"], 1);
    // NSX adds its own view of the control-plane session: none yet.
    assert_eq!(
        ccp_condition(&info, "CCP_SESSION_STATE_UP")["status"],
        "UNHEALTHY"
    );
    let (mut ccp, _) = CcpSession::welcome(&sim, &c1, ccp_hello("c1")).await;
    ccp.snapshot().await;
    let info = admin.get(&status_url("c1")).await.expect(200).body;
    assert_eq!(
        ccp_condition(&info, "CCP_SESSION_STATE_UP")["status"],
        "HEALTHY"
    );

    heartbeat(&mut session, 2, health("HEALTHY", "DEGRADED", "HEALTHY")).await;
    assert_eq!(
        admin.get(&status_url("c1")).await.expect(200).body["status"],
        "DEGRADED"
    );
    heartbeat(&mut session, 3, health("FAILED", "DEGRADED", "HEALTHY")).await;
    assert_eq!(
        admin.get(&status_url("c1")).await.expect(200).body["status"],
        "FAILED"
    );

    // The list form holds every cluster.
    let list = admin
        .raw(Method::GET, &format!("{}-status", CCP_URL), None, None)
        .await
        .unwrap()
        .expect(200)
        .body;
    assert_eq!(list["result_count"], 1);
    SchemaCheck::get()
        .check(true, "AntreaClusterInfo", &list["results"][0])
        .unwrap();

    // No heartbeat for three intervals: everything UNKNOWN.
    let mut info = Value::Null;
    for _ in 0..1500 {
        info = admin.get(&status_url("c1")).await.expect(200).body;
        if info["status"] == "UNKNOWN" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(info["status"], "UNKNOWN");
    for component in [
        "controller_status",
        "mp_adapter_status",
        "ccp_adapter_status",
    ] {
        assert_eq!(info[component]["status"], "UNKNOWN", "{component}");
    }
    // A heartbeat brings it back.
    heartbeat(&mut session, 4, health("HEALTHY", "HEALTHY", "HEALTHY")).await;
    assert_eq!(
        admin.get(&status_url("c1")).await.expect(200).body["status"],
        "HEALTHY"
    );
}

#[tokio::test]
async fn heartbeat_config_is_checked_versioned_and_pushed() {
    let sim = adapter::start().await;
    let admin = Client::admin(&sim);
    let c1 = register(&sim, "c1").await;
    register(&sim, "c2").await;
    let config = admin.get(&config_url("c1")).await.expect(200).body;
    assert_eq!(config["report_interval"], 60);
    assert_eq!(config["_revision"], 0);
    admin.get(&config_url("nope")).await.expect(404);

    let (mut session, _) = MpSession::welcome(&sim, &c1, mp_hello("c1", ALL_CAPABILITIES)).await;
    admin
        .put(&config_url("c1"), json!({"report_interval": 120}))
        .await
        .expect_error(412, 500087);
    admin
        .put(
            &config_url("c1"),
            json!({"report_interval": 30, "_revision": 0}),
        )
        .await
        .expect(400);
    admin
        .patch(&config_url("c1"), json!({"report_interval": 601}))
        .await
        .expect(400);
    let put = admin
        .put(
            &config_url("c1"),
            json!({"report_interval": 120, "_revision": 0}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(put["_revision"], 1);
    match session.expect().await {
        mp_manager_message::Body::HeartbeatConfig(config) => {
            assert_eq!((config.report_interval, config.revision), (120, 1));
        }
        other => panic!("expected the new heartbeat configuration, got {other:?}"),
    }
    admin
        .patch(&config_url("c1"), json!({"report_interval": 600}))
        .await
        .expect(200);
    match session.expect().await {
        mp_manager_message::Body::HeartbeatConfig(config) => {
            assert_eq!((config.report_interval, config.revision), (600, 2));
        }
        other => panic!("expected the new heartbeat configuration, got {other:?}"),
    }
    admin
        .patch(
            &config_url("c1"),
            json!({"report_interval": 60, "_revision": 1}),
        )
        .await
        .expect_error(412, 500087);
    let list = admin
        .raw(
            Method::GET,
            &format!("{}-heartbeat-config", CCP_URL),
            None,
            Some((true, "AntreaHeartbeatConfigListResult")),
        )
        .await
        .unwrap()
        .expect(200)
        .body;
    assert_eq!(list["result_count"], 2);
    assert_eq!(list["results"][0]["report_interval"], 600);
    assert_eq!(list["results"][1]["report_interval"], 60);
    // A new session starts with the configuration in force.
    drop(session);
    let (_, welcome) = MpSession::welcome(&sim, &c1, mp_hello("c1", ALL_CAPABILITIES)).await;
    let config = welcome.heartbeat_config.unwrap();
    assert_eq!((config.report_interval, config.revision), (600, 2));
}

async fn spanned_policy(sim: &RunningSim, cluster: &Cluster) {
    let admin = Client::admin(sim);
    admin
        .patch(
            &common::group_url("g"),
            json!({"resource_type": "Group", "expression": [{"resource_type": "Condition",
                   "member_type": "Pod", "key": "Tag", "operator": "EQUALS", "value": "g"}]}),
        )
        .await
        .expect(200);
    admin
        .patch(
            &policy_url("p1"),
            json!({"resource_type": "SecurityPolicy", "rules": [
                {"resource_type": "Rule", "id": "r1", "source_groups": [group_path("g")], "sequence_number": 1},
                {"resource_type": "Rule", "id": "r2", "action": "DROP", "sequence_number": 2}]}),
        )
        .await
        .expect(200);
    admin
        .patch(
            &format!("{}/container-cluster-span/{}", policy_url("p1"), cluster.id),
            json!({"resource_type": "SecurityPolicyContainerCluster", "container_cluster_path": cluster.path()}),
        )
        .await
        .expect(200);
    let channel = sim.adapter_channel().clone();
    let policy = "/infra/domains/default/security-policies/p1".to_owned();
    for _ in 0..2000 {
        if channel.feed().contains(&cluster.path(), &policy) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the policy never entered the span");
}

fn rule_statistics(rule: &str, hits: i64) -> RuleStatistics {
    RuleStatistics {
        rule: rule.into(),
        internal_rule_id: "1000".into(),
        hit_count: hits,
        packet_count: hits * 10,
        byte_count: hits * 1000,
        session_count: hits,
        ..Default::default()
    }
}

#[tokio::test]
async fn statistics_are_asked_of_the_cluster() {
    let mut options = adapter::test_options();
    options.request_timeout = Duration::from_millis(800);
    let sim = adapter::start_with(options, None).await;
    let admin = Client::admin(&sim);
    let c1 = register(&sim, "c1").await;
    let c2 = register(&sim, "c2").await;
    register(&sim, "c3").await;
    spanned_policy(&sim, &c1).await;
    let (mut session, _) = MpSession::welcome(&sim, &c1, mp_hello("c1", ALL_CAPABILITIES)).await;
    let url = format!(
        "{}/statistics?container_cluster_path={}",
        policy_url("p1"),
        c1.path()
    );

    let rest = admin.get(&url);
    let answer = async {
        let request = session.request().await;
        let Some(mp_request::Body::PolicyStatistics(stats)) = request.body else {
            panic!("expected a statistics request");
        };
        assert_eq!(
            stats.policy_path,
            "/infra/domains/default/security-policies/p1"
        );
        assert_eq!(stats.container_cluster_path, c1.path());
        let rules: Vec<&str> = stats.rules.iter().map(|r| r.path.as_str()).collect();
        assert!(rules[0].ends_with("/rules/r1") && rules[1].ends_with("/rules/r2"));
        assert!(stats.rules[0].rule_id >= 1000);
        assert!(!stats.policy_unique_id.is_empty());
        session
            .respond(
                &request.request_id,
                0,
                true,
                mp_response::Body::PolicyStatistics(PolicyStatisticsResult {
                    policy_path: stats.policy_path.clone(),
                    container_cluster_path: stats.container_cluster_path.clone(),
                    internal_section_id: stats.policy_unique_id.clone(),
                    results: vec![
                        rule_statistics(&stats.rules[0].path, 7),
                        rule_statistics(&stats.rules[1].path, 0),
                    ],
                    counting_since: None,
                    collected_at: None,
                }),
            )
            .await;
    };
    let (reply, ()) = tokio::join!(rest, answer);
    let body = reply.expect(200).body;
    assert_eq!(body["result_count"], 1);
    let entry = &body["results"][0];
    assert_eq!(entry["container_cluster_path"], c1.path());
    assert_eq!(entry["statistics"]["results"][0]["hit_count"], 7);
    assert_eq!(entry["statistics"]["results"][0]["packet_count"], 70);
    assert_eq!(entry["statistics"]["result_count"], 2);

    // A rule, without naming the cluster: every cluster of the span is asked.
    let rule_url = format!("{}/rules/r1/statistics", policy_url("p1"));
    let rest = admin.get(&rule_url);
    let answer = async {
        let request = session.request().await;
        let Some(mp_request::Body::PolicyStatistics(stats)) = request.body else {
            panic!("expected a statistics request");
        };
        assert_eq!(stats.rules.len(), 1);
        session
            .respond(
                &request.request_id,
                0,
                true,
                mp_response::Body::PolicyStatistics(PolicyStatisticsResult {
                    results: vec![rule_statistics(&stats.rules[0].path, 3)],
                    ..Default::default()
                }),
            )
            .await;
    };
    let (reply, ()) = tokio::join!(rest, answer);
    let body = reply.expect(200).body;
    assert_eq!(body["results"][0]["statistics"]["hit_count"], 3);
    assert_eq!(body["results"][0]["container_cluster_path"], c1.path());

    // The adapter's error becomes the NSX error.
    let rest = admin.get(&url);
    let answer = async {
        let request = session.request().await;
        session
            .respond(
                &request.request_id,
                0,
                true,
                mp_response::Body::Error(ChannelError::new(
                    ErrorCode::NotFound,
                    "no Antrea policy for it",
                )),
            )
            .await;
    };
    let (reply, ()) = tokio::join!(rest, answer);
    let reply = reply.expect(404);
    assert!(
        reply.body["error_message"]
            .as_str()
            .unwrap()
            .contains("no Antrea policy")
    );

    // An adapter that does not answer in time: 504.
    let rest = admin.get(&url);
    let ignore = async {
        let request = session.request().await;
        // NSX gives up and tells the adapter.
        match session.expect().await {
            mp_manager_message::Body::Cancel(cancel) => {
                assert_eq!(cancel.request_id, request.request_id)
            }
            other => panic!("expected a cancel, got {other:?}"),
        }
    };
    let (reply, ()) = tokio::join!(rest, ignore);
    reply.expect_error(504, 521003);

    // A request interrupted by a reconnect is sent again with the same id.
    let rest = admin.get(&url);
    let reconnect = async {
        let first = session.request().await;
        drop(std::mem::replace(
            &mut session,
            MpSession::welcome(&sim, &c1, mp_hello("c1", ALL_CAPABILITIES))
                .await
                .0,
        ));
        let again = session.request().await;
        assert_eq!(again.request_id, first.request_id);
        session
            .respond(
                &again.request_id,
                0,
                true,
                mp_response::Body::PolicyStatistics(PolicyStatisticsResult {
                    results: vec![rule_statistics("r", 1), rule_statistics("r", 2)],
                    ..Default::default()
                }),
            )
            .await;
    };
    let (reply, ()) = tokio::join!(rest, reconnect);
    assert_eq!(
        reply.expect(200).body["results"][0]["statistics"]["results"][1]["hit_count"],
        2
    );

    // A cluster without a session: a clear error at once. One that did not offer statistics:
    // unavailable without asking.
    admin
        .get(&format!(
            "{}/statistics?container_cluster_path={}",
            policy_url("p1"),
            "/infra/sites/default/enforcement-points/default/cluster-control-planes/c3"
        ))
        .await
        .expect_error(503, 521001);
    let (_s2, _) = MpSession::welcome(
        &sim,
        &c2,
        mp_hello("c2", &[nsx_proto::capabilities::MP_TRACEFLOW]),
    )
    .await;
    admin
        .get(&format!(
            "{}/statistics?container_cluster_path={}",
            policy_url("p1"),
            c2.path()
        ))
        .await
        .expect_error(400, 521002);
    admin
        .get(&format!(
            "{}/statistics?container_cluster_path=/infra/nothing",
            policy_url("p1")
        ))
        .await
        .expect(400);
    admin
        .get(&format!("{}/statistics", policy_url("missing")))
        .await
        .expect(404);
}

fn traceflow_body(cluster: &Cluster) -> Value {
    json!({
        "resource_type": "AntreaTraceflowConfig",
        "container_cluster_id": cluster.node_id,
        "source_external_id": "pod-uid-1",
        "destination_external_id": "pod-uid-2",
        "packet": {
            "resourceType": "FIELDS_PACKET_DATA", "transportType": "UNICAST", "frameSize": 128,
            "ipHeader": {"srcIp": "10.0.0.1", "dstIp": "10.0.0.2", "protocol": 6, "ttl": 64, "flags": 0},
            "transportHeader": {"tcpHeader": {"srcPort": 1234, "dstPort": 80, "tcpFlags": 2}},
        },
    })
}

fn traceflow_result(id: &str, run: u32, completed: bool) -> TraceflowResult {
    TraceflowResult {
        traceflow_id: id.into(),
        run,
        completed,
        status: completed.then(|| AntreaTraceflowStatus {
            phase: "SUCCEEDED".into(),
            reason: String::new(),
        }),
        observations: if completed {
            vec![
                AntreaTraceflowObservation {
                    component_type: "ANTREA_SPOOFGUARD".into(),
                    observation_type: "AntreaTraceflowObservationForwarded".into(),
                    container_node_id: "node-uid-1".into(),
                    timestamp: 1_700_000_000_000,
                    antrea: Some(AntreaObservationDetails {
                        component: "SpoofGuard".into(),
                        action: "Forwarded".into(),
                        ..Default::default()
                    }),
                },
                AntreaTraceflowObservation {
                    component_type: "ANTREA_DFW".into(),
                    observation_type: "AntreaTraceflowObservationDropped".into(),
                    container_node_id: "node-uid-2".into(),
                    timestamp: 1_700_000_000_100,
                    antrea: None,
                },
            ]
        } else {
            Vec::new()
        },
        antrea_traceflow_name: format!("{id}-{run}"),
    }
}

#[tokio::test]
async fn traceflows_run_in_the_cluster() {
    let sim = adapter::start().await;
    let admin = Client::admin(&sim);
    let c1 = register(&sim, "c1").await;
    let url = "/policy/api/v1/infra/antrea/traceflows/tf1";
    // Not connected: refused at once, nothing stored.
    admin
        .put(url, traceflow_body(&c1))
        .await
        .expect_error(503, 521001);
    admin.get(url).await.expect(404);
    // A cluster id nobody registered.
    let mut unknown = traceflow_body(&c1);
    unknown["container_cluster_id"] = json!("no-such-cluster");
    admin.put(url, unknown).await.expect(400);

    let (mut session, _) = MpSession::welcome(&sim, &c1, mp_hello("c1", ALL_CAPABILITIES)).await;
    let rest = admin.put(url, traceflow_body(&c1));
    let answer = async {
        let request = session.request().await;
        let Some(mp_request::Body::TraceflowStart(start)) = request.body else {
            panic!("expected a traceflow start");
        };
        assert_eq!(start.traceflow_id, "tf1");
        assert_eq!(start.traceflow_path, "/infra/antrea/traceflows/tf1");
        assert_eq!(start.run, 1);
        let config = start.config.unwrap();
        assert_eq!(config.source_external_id, "pod-uid-1");
        let packet = config.packet.unwrap();
        assert_eq!(packet.ip_header.unwrap().dst_ip, "10.0.0.2");
        assert_eq!(
            packet
                .transport_header
                .unwrap()
                .tcp_header
                .unwrap()
                .tcp_flags,
            Some(2)
        );
        session
            .respond(
                &request.request_id,
                0,
                false,
                mp_response::Body::Traceflow(traceflow_result("tf1", 1, false)),
            )
            .await;
        request.request_id
    };
    let (reply, request_id) = tokio::join!(rest, answer);
    let config = reply.expect(200).body;
    assert_eq!(config["id"], "tf1");
    assert_eq!(config["_revision"], 0);
    // Running: no phase yet.
    let status = admin.get(&format!("{url}/status")).await.expect(200).body;
    assert!(status.get("phase").is_none());
    session
        .respond(
            &request_id,
            1,
            true,
            mp_response::Body::Traceflow(traceflow_result("tf1", 1, true)),
        )
        .await;
    let mut observations = Value::Null;
    for _ in 0..400 {
        observations = admin
            .get(&format!("{url}/observations"))
            .await
            .expect(200)
            .body;
        if observations["result_count"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(observations["result_count"], 2);
    assert_eq!(observations["results"][1]["component_type"], "ANTREA_DFW");
    assert_eq!(
        observations["results"][1]["observation_type"],
        "AntreaTraceflowObservationDropped"
    );
    assert_eq!(
        admin.get(&format!("{url}/status")).await.expect(200).body["phase"],
        "SUCCEEDED"
    );
    let list = admin
        .get("/policy/api/v1/infra/antrea/traceflows")
        .await
        .expect(200)
        .body;
    assert_eq!(list["result_count"], 1);

    // Retrace: the next run, same configuration.
    let retrace = format!("{url}?action=retrace");
    let rest = admin.raw(
        Method::POST,
        &retrace,
        None,
        Some((true, "AntreaTraceflowConfig")),
    );
    let answer = async {
        let request = session.request().await;
        let Some(mp_request::Body::TraceflowStart(start)) = request.body else {
            panic!("expected a traceflow start");
        };
        assert_eq!(start.run, 2);
        let mut result = traceflow_result("tf1", 2, true);
        result.status = Some(AntreaTraceflowStatus {
            phase: "FAILED".into(),
            reason: "Traceflow timeout".into(),
        });
        result.observations.truncate(1);
        session
            .respond(
                &request.request_id,
                0,
                true,
                mp_response::Body::Traceflow(result),
            )
            .await;
    };
    let (reply, ()) = tokio::join!(rest, answer);
    reply.unwrap().expect(200);
    let status = admin.get(&format!("{url}/status")).await.expect(200).body;
    assert_eq!(
        status,
        json!({"phase": "FAILED", "reason": "Traceflow timeout"})
    );
    assert_eq!(
        admin
            .get(&format!("{url}/observations"))
            .await
            .expect(200)
            .body["result_count"],
        1
    );

    // The adapter refuses a configuration: the error reaches the caller, nothing is stored.
    let other = "/policy/api/v1/infra/antrea/traceflows/tf2";
    let rest = admin.put(other, traceflow_body(&c1));
    let refuse = async {
        let request = session.request().await;
        session
            .respond(
                &request.request_id,
                0,
                true,
                mp_response::Body::Error(
                    ChannelError::new(
                        ErrorCode::InvalidArgument,
                        "TCP traceflows need the SYN flag",
                    )
                    .with_target("packet.transportHeader.tcpHeader.tcpFlags"),
                ),
            )
            .await;
    };
    let (reply, ()) = tokio::join!(rest, refuse);
    let reply = reply.expect(400);
    assert!(reply.body["details"].as_str().unwrap().contains("tcpFlags"));
    admin.get(other).await.expect(404);

    // Delete: the adapter removes the Antrea Traceflows.
    let rest = admin.delete(url);
    let answer = async {
        let request = session.request().await;
        let Some(mp_request::Body::TraceflowDelete(delete)) = request.body else {
            panic!("expected a traceflow delete");
        };
        assert_eq!(delete.traceflow_id, "tf1");
        session
            .respond(
                &request.request_id,
                0,
                true,
                mp_response::Body::TraceflowDeleted(TraceflowDeleted {
                    traceflow_id: "tf1".into(),
                    removed: 2,
                }),
            )
            .await;
    };
    let (reply, ()) = tokio::join!(rest, answer);
    reply.expect(200);
    admin.get(url).await.expect(404);
}

fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// POSTs a support-bundle request; returns the status and the raw body.
async fn collect(sim: &RunningSim, body: Value) -> (u16, Vec<u8>) {
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(common::tls_config(sim.ca_cert_pem(), None))
        .build()
        .unwrap();
    let reply = http
        .post(format!(
            "{}/api/v1/administration/support-bundles?action=collect",
            sim.base_url()
        ))
        .basic_auth("admin", Some(common::PASSWORD))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    if status == 200 {
        assert_eq!(reply.headers()["content-type"], "application/octet-stream");
        assert!(
            reply.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .contains(".tar.gz")
        );
    }
    (status, reply.bytes().await.unwrap().to_vec())
}

fn bundle_request(cluster_id: &str, nodes: &[&str]) -> Value {
    json!({"content_filters": ["DEFAULT"], "log_age_limit": 2,
           "container_nodes": [{"container_type": "ANTREA",
               "clusters": [{"cluster_id": cluster_id, "nodes": nodes}]}]})
}

#[tokio::test]
async fn support_bundles_are_collected_and_downloaded() {
    let sim = adapter::start().await;
    let c1 = register(&sim, "c1").await;
    SchemaCheck::get()
        .check(
            false,
            "SupportBundleRequest",
            &bundle_request(&c1.node_id, &["n1"]),
        )
        .unwrap();
    let (status, body) = collect(&sim, bundle_request(&c1.node_id, &["n1"])).await;
    assert_eq!(status, 503);
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["error_code"], 521001);
    SchemaCheck::get().check(false, "ApiError", &error).unwrap();
    let too_many: Vec<String> = (0..201).map(|i| format!("n{i}")).collect();
    let too_many: Vec<&str> = too_many.iter().map(String::as_str).collect();
    assert_eq!(
        collect(&sim, bundle_request(&c1.node_id, &too_many))
            .await
            .0,
        400
    );

    let (mut session, _) = MpSession::welcome(&sim, &c1, mp_hello("c1", ALL_CAPABILITIES)).await;
    let agent_bundle: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let controller_bundle = b"controller logs".to_vec();
    let rest = collect(&sim, bundle_request(&c1.node_id, &["n1", "n2"]));
    let answer = async {
        let request = session.request().await;
        let Some(mp_request::Body::SupportBundle(bundle)) = request.body.clone() else {
            panic!("expected a support bundle request");
        };
        assert_eq!(bundle.nodes, ["n1", "n2"]);
        assert!(bundle.include_controller);
        assert_eq!(bundle.content_filters, ["DEFAULT"]);
        assert_eq!(bundle.log_age_limit, 2);
        let id = request.request_id.clone();
        let mut bodies = vec![
            // The agent's bundle in two chunks, interleaved with the controller's.
            mp_response::Body::SupportBundleChunk(SupportBundleChunk {
                node_id: "n1".into(),
                component: "antrea-agent".into(),
                bundle_name: "agent-n1.tar.gz".into(),
                offset: 0,
                data: agent_bundle[..200_000].to_vec(),
            }),
            mp_response::Body::SupportBundleChunk(SupportBundleChunk {
                node_id: "n0".into(),
                component: "antrea-controller".into(),
                bundle_name: "controller.tar.gz".into(),
                offset: 0,
                data: controller_bundle.clone(),
            }),
            mp_response::Body::SupportBundleChunk(SupportBundleChunk {
                node_id: "n1".into(),
                component: "antrea-agent".into(),
                bundle_name: "agent-n1.tar.gz".into(),
                offset: 200_000,
                data: agent_bundle[200_000..].to_vec(),
            }),
            mp_response::Body::SupportBundleNode(SupportBundleNodeResult {
                node_id: "n1".into(),
                component: "antrea-agent".into(),
                node_display_name: "worker-1".into(),
                node_ip: "192.0.2.11".into(),
                node_ipv6: String::new(),
                outcome: Some(support_bundle_node_result::Outcome::Success(
                    SupportBundleSuccess {
                        bundle_name: "agent-n1.tar.gz".into(),
                        bundle_size: agent_bundle.len() as i64,
                        sha256_thumbprint: sha256(&agent_bundle),
                    },
                )),
            }),
            mp_response::Body::SupportBundleNode(SupportBundleNodeResult {
                node_id: "n2".into(),
                component: "antrea-agent".into(),
                node_display_name: "worker-2".into(),
                node_ip: String::new(),
                node_ipv6: String::new(),
                outcome: Some(support_bundle_node_result::Outcome::Failure(
                    SupportBundleFailure {
                        error_code: "NodeUnreachable".into(),
                        error_message: "the agent did not answer".into(),
                    },
                )),
            }),
            // The controller's file arrives corrupted (wrong thumbprint).
            mp_response::Body::SupportBundleNode(SupportBundleNodeResult {
                node_id: "n0".into(),
                component: "antrea-controller".into(),
                node_display_name: "control".into(),
                node_ip: String::new(),
                node_ipv6: String::new(),
                outcome: Some(support_bundle_node_result::Outcome::Success(
                    SupportBundleSuccess {
                        bundle_name: "controller.tar.gz".into(),
                        bundle_size: controller_bundle.len() as i64,
                        sha256_thumbprint: sha256(b"something else"),
                    },
                )),
            }),
        ];
        let total = bodies.len() as u32;
        bodies.push(mp_response::Body::End(StreamEnd {
            total_bytes: 0,
            parts: total + 1,
        }));
        let parts: Vec<(u32, mp_response::Body)> = bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| (i as u32, body))
            .collect();
        let count = parts.len();
        for (i, (sequence, body)) in parts.into_iter().enumerate() {
            session.respond(&id, sequence, i + 1 == count, body).await;
        }
    };
    let ((status, archive), ()) = tokio::join!(rest, answer);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&archive));
    let mut files = std::collections::BTreeMap::new();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive.as_slice()));
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        files.insert(name, data);
    }
    assert_eq!(
        files.keys().cloned().collect::<Vec<_>>(),
        ["c1/agent-n1.tar.gz", "support_bundle_result.json"]
    );
    assert_eq!(files["c1/agent-n1.tar.gz"], agent_bundle);
    let result: Value = serde_json::from_slice(&files["support_bundle_result.json"]).unwrap();
    SchemaCheck::get()
        .check(false, "SupportBundleResult", &result)
        .unwrap();
    assert_eq!(
        result["success_nodes"][0]["bundle_size"],
        agent_bundle.len()
    );
    assert_eq!(result["success_nodes"][0]["node_display_name"], "worker-1");
    let failed: Vec<(&str, &str)> = result["failed_nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["node_id"].as_str().unwrap(),
                f["error_code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        failed,
        [("n2", "NodeUnreachable"), ("n0", "BUNDLE_CORRUPTED")]
    );
    // The request as the result file echoes it.
    assert_eq!(
        result["request_properties"]["container_nodes"][0]["clusters"][0]["cluster_id"],
        json!(c1.node_id)
    );
}

#[tokio::test]
async fn idle_traceflows_are_cleaned_up() {
    let mut options = adapter::test_options();
    options.traceflow_idle_timeout = Duration::from_millis(300);
    let sim = adapter::start_with(options, None).await;
    let admin = Client::admin(&sim);
    let c1 = register(&sim, "c1").await;
    let (mut session, _) = MpSession::welcome(&sim, &c1, mp_hello("c1", ALL_CAPABILITIES)).await;
    let url = "/policy/api/v1/infra/antrea/traceflows/idle";
    let rest = admin.put(url, traceflow_body(&c1));
    let answer = async {
        let request = session.request().await;
        session
            .respond(
                &request.request_id,
                0,
                true,
                mp_response::Body::Traceflow(traceflow_result("idle", 1, true)),
            )
            .await;
    };
    let (reply, ()) = tokio::join!(rest, answer);
    reply.expect(200);
    // After the idle time NSX asks the adapter to delete the Antrea Traceflows, then forgets
    // the configuration.
    let request = session.request().await;
    let Some(mp_request::Body::TraceflowDelete(delete)) = request.body else {
        panic!("expected a traceflow delete");
    };
    assert_eq!(delete.traceflow_id, "idle");
    session
        .respond(
            &request.request_id,
            0,
            true,
            mp_response::Body::TraceflowDeleted(TraceflowDeleted {
                traceflow_id: "idle".into(),
                removed: 1,
            }),
        )
        .await;
    for _ in 0..1000 {
        if admin.get(url).await.status == 404 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the idle traceflow was not deleted");
}
