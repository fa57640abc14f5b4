//! Traceflow through the API: verdicts with Antrea's observations, Services, the 14-tag
//! limit, webhook denials, agent failures and timeouts (tokio's paused clock).

mod common;

use std::time::Duration;

use antrea_types::ClusterNetworkPolicy;
use antrea_types::traceflow::{
    NodeResult, Observation, Traceflow, TraceflowAction, TraceflowComponent, TraceflowPhase,
    TraceflowStatus,
};
use common::{
    acnp_status_where, api_error, cluster, eventually, object, options, pinned_pod, summary,
};
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy as K8sNetworkPolicy;
use kube::Client;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::{Value, json};

/// `a` on k8s-node-1 and `b` on k8s-node-2 (`app=a`, `app=b`), and their addresses.
async fn two_pods(client: &Client) -> (String, String) {
    let a = pinned_pod(client, "default", "a", "k8s-node-1", json!({"app": "a"})).await;
    let b = pinned_pod(client, "default", "b", "k8s-node-2", json!({"app": "b"})).await;
    let ip = |pod: &Pod| pod.status.as_ref().unwrap().pod_ip.clone().unwrap();
    (ip(&a), ip(&b))
}

async fn create_acnp(client: &Client, name: &str, spec: Value) {
    let api: Api<ClusterNetworkPolicy> = Api::all(client.clone());
    api.create(
        &PostParams::default(),
        &object(json!({"metadata": {"name": name}, "spec": spec})),
    )
    .await
    .unwrap();
    acnp_status_where(client, name, |s| summary(s).0 == "Realized").await;
}

fn tcp_traceflow(name: &str, destination: Value, port: u16) -> Traceflow {
    object(json!({
        "metadata": {"name": name},
        "spec": {
            "source": {"namespace": "default", "pod": "a"},
            "destination": destination,
            "packet": {"ipHeader": {"protocol": 6}, "transportHeader": {"tcp": {"srcPort": 10000, "dstPort": port}}},
        },
    }))
}

async fn create(client: &Client, traceflow: &Traceflow) {
    Api::<Traceflow>::all(client.clone())
        .create(&PostParams::default(), traceflow)
        .await
        .unwrap();
}

/// The status once the phase is final.
async fn finished(client: &Client, name: &str) -> TraceflowStatus {
    let api: Api<Traceflow> = Api::all(client.clone());
    eventually(|| {
        let api = api.clone();
        async move {
            let status = api.get(name).await.ok()?.status?;
            matches!(
                status.phase,
                Some(TraceflowPhase::Succeeded | TraceflowPhase::Failed)
            )
            .then_some(status)
        }
    })
    .await
}

fn observation(component: TraceflowComponent, action: TraceflowAction) -> Observation {
    Observation {
        component: Some(component),
        action: Some(action),
        ..Observation::default()
    }
}

fn output(action: TraceflowAction) -> Observation {
    Observation {
        component_info: Some("Output".into()),
        ..observation(TraceflowComponent::Forwarding, action)
    }
}

fn policy(info: &str, action: TraceflowAction, policy: &str, rule: Option<&str>) -> Observation {
    Observation {
        component_info: Some(info.into()),
        network_policy: Some(policy.into()),
        network_policy_rule: rule.map(str::to_string),
        ..observation(TraceflowComponent::NetworkPolicy, action)
    }
}

fn spoof_guard(ip: &str) -> Observation {
    Observation {
        src_pod_ip: Some(ip.into()),
        ..observation(TraceflowComponent::SpoofGuard, TraceflowAction::Forwarded)
    }
}

fn tunnel_to(node_ip: &str) -> Observation {
    Observation {
        tunnel_dst_ip: Some(node_ip.into()),
        ..output(TraceflowAction::Forwarded)
    }
}

/// `(node, observations)` of every result, with the timestamp checked and dropped.
fn results(status: &TraceflowStatus) -> Vec<(String, Vec<Observation>)> {
    status
        .results
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(
            |NodeResult {
                 node,
                 role,
                 timestamp,
                 observations,
             }| {
                assert!(timestamp.is_some_and(|t| t > 1_600_000_000));
                assert_eq!(role, None, "agents leave role empty");
                (node.unwrap(), observations.unwrap_or_default())
            },
        )
        .collect()
}

#[tokio::test(start_paused = true)]
async fn an_allowed_packet_is_delivered_with_the_allowing_rule() {
    let (_emu, _antrea, client) = cluster(options(3)).await;
    let (a_ip, _) = two_pods(&client).await;
    create_acnp(
        &client,
        "allow-a",
        json!({"priority": 1, "appliedTo": [{"podSelector": {"matchLabels": {"app": "b"}}}],
               "ingress": [{"action": "Allow", "name": "from-a", "from": [{"podSelector": {"matchLabels": {"app": "a"}}}],
                            "ports": [{"protocol": "TCP", "port": 8080}]}]}),
    )
    .await;
    let api: Api<Traceflow> = Api::all(client.clone());
    create(
        &client,
        &tcp_traceflow(
            "tf-allow",
            json!({"namespace": "default", "pod": "b"}),
            8080,
        ),
    )
    .await;
    // First Running, with the first tag and a start time.
    let running = eventually(|| {
        let api = api.clone();
        async move {
            let status = api.get("tf-allow").await.ok()?.status?;
            (status.phase == Some(TraceflowPhase::Running)).then_some(status)
        }
    })
    .await;
    assert_eq!(running.dataplane_tag, Some(7));
    assert!(running.start_time.is_some());

    let status = finished(&client, "tf-allow").await;
    assert_eq!(status.phase, Some(TraceflowPhase::Succeeded));
    assert_eq!(status.dataplane_tag, None, "the tag is released");
    assert_eq!(status.start_time, running.start_time);
    assert_eq!(status.reason, None);
    assert_eq!(
        status.captured_packet, None,
        "only live traces capture a packet"
    );
    assert_eq!(
        results(&status),
        [
            (
                "k8s-node-1".to_string(),
                vec![spoof_guard(&a_ip), tunnel_to("172.18.0.3")]
            ),
            (
                "k8s-node-2".to_string(),
                vec![
                    observation(TraceflowComponent::Forwarding, TraceflowAction::Received),
                    policy(
                        "IngressRule",
                        TraceflowAction::Forwarded,
                        "AntreaClusterNetworkPolicy:allow-a",
                        Some("from-a")
                    ),
                    output(TraceflowAction::Delivered),
                ]
            ),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn dropped_and_rejected_packets_name_the_rule_that_stopped_them() {
    let (_emu, _antrea, client) = cluster(options(3)).await;
    let (a_ip, _) = two_pods(&client).await;
    create_acnp(
        &client,
        "drop-to-b",
        json!({"priority": 2, "appliedTo": [{"podSelector": {"matchLabels": {"app": "b"}}}],
               "ingress": [{"action": "Drop", "name": "no-80", "ports": [{"protocol": "TCP", "port": 80}]}]}),
    )
    .await;
    create_acnp(
        &client,
        "reject-from-a",
        json!({"priority": 1, "appliedTo": [{"podSelector": {"matchLabels": {"app": "a"}}}],
               "egress": [{"action": "Reject", "name": "no-443", "ports": [{"protocol": "TCP", "port": 443}]}]}),
    )
    .await;
    create(
        &client,
        &tcp_traceflow("tf-drop", json!({"namespace": "default", "pod": "b"}), 80),
    )
    .await;
    create(
        &client,
        &tcp_traceflow(
            "tf-reject",
            json!({"namespace": "default", "pod": "b"}),
            443,
        ),
    )
    .await;

    // Succeeded even though the packet never arrived.
    let dropped = finished(&client, "tf-drop").await;
    assert_eq!(dropped.phase, Some(TraceflowPhase::Succeeded));
    assert_eq!(
        results(&dropped),
        [
            (
                "k8s-node-1".to_string(),
                vec![spoof_guard(&a_ip), tunnel_to("172.18.0.3")]
            ),
            (
                "k8s-node-2".to_string(),
                vec![
                    observation(TraceflowComponent::Forwarding, TraceflowAction::Received),
                    policy(
                        "IngressMetric",
                        TraceflowAction::Dropped,
                        "AntreaClusterNetworkPolicy:drop-to-b",
                        Some("no-80")
                    ),
                ]
            ),
        ]
    );

    let rejected = finished(&client, "tf-reject").await;
    assert_eq!(rejected.phase, Some(TraceflowPhase::Succeeded));
    assert_eq!(
        results(&rejected),
        [(
            "k8s-node-1".to_string(),
            vec![
                spoof_guard(&a_ip),
                policy(
                    "EgressMetric",
                    TraceflowAction::Rejected,
                    "AntreaClusterNetworkPolicy:reject-from-a",
                    Some("no-443")
                ),
            ]
        )]
    );
}

#[tokio::test(start_paused = true)]
async fn a_passed_packet_is_decided_by_the_k8s_network_policy_after_the_pass() {
    let (_emu, _antrea, client) = cluster(options(3)).await;
    let (a_ip, _) = two_pods(&client).await;
    create_acnp(
        &client,
        "pass-to-k8s",
        json!({"priority": 1, "tier": "securityops", "appliedTo": [{"podSelector": {"matchLabels": {"app": "b"}}}],
               "ingress": [{"action": "Pass", "name": "delegate", "from": [{"podSelector": {"matchLabels": {"app": "a"}}}]}]}),
    )
    .await;
    // Lower in the same direction: a Drop that the Pass skips.
    create_acnp(
        &client,
        "drop-later",
        json!({"priority": 10, "tier": "application", "appliedTo": [{"podSelector": {"matchLabels": {"app": "b"}}}],
               "ingress": [{"action": "Drop", "name": "drop-all"}]}),
    )
    .await;
    let k8s: Api<K8sNetworkPolicy> = Api::namespaced(client.clone(), "default");
    k8s.create(
        &PostParams::default(),
        &object(json!({"metadata": {"name": "allow-a"},
                       "spec": {"podSelector": {"matchLabels": {"app": "b"}},
                                "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "a"}}}]}]}})),
    )
    .await
    .unwrap();
    // Let the controller's informers index the K8s NetworkPolicy.
    tokio::time::sleep(Duration::from_secs(1)).await;
    create(
        &client,
        &tcp_traceflow("tf-pass", json!({"namespace": "default", "pod": "b"}), 8080),
    )
    .await;
    let status = finished(&client, "tf-pass").await;
    assert_eq!(status.phase, Some(TraceflowPhase::Succeeded));
    assert_eq!(
        results(&status),
        [
            (
                "k8s-node-1".to_string(),
                vec![spoof_guard(&a_ip), tunnel_to("172.18.0.3")]
            ),
            (
                "k8s-node-2".to_string(),
                vec![
                    observation(TraceflowComponent::Forwarding, TraceflowAction::Received),
                    policy(
                        "IngressRule",
                        TraceflowAction::Forwarded,
                        "K8sNetworkPolicy:default/allow-a",
                        None
                    ),
                    output(TraceflowAction::Delivered),
                ]
            ),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_service_destination_is_load_balanced_with_an_lb_observation() {
    let (_emu, _antrea, client) = cluster(options(3)).await;
    let (a_ip, b_ip) = two_pods(&client).await;
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    services
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "web"},
                           "spec": {"selector": {"app": "b"}, "ports": [{"port": 80, "targetPort": "http"}]}})),
        )
        .await
        .unwrap();
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    eventually(|| {
        let endpoints = endpoints.clone();
        async move {
            let found = endpoints.get("web").await.ok()?;
            let ready = found.subsets?.first()?.addresses.clone()?;
            (!ready.is_empty()).then_some(())
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    create(
        &client,
        &tcp_traceflow(
            "tf-svc",
            json!({"namespace": "default", "service": "web"}),
            80,
        ),
    )
    .await;
    let status = finished(&client, "tf-svc").await;
    assert_eq!(status.phase, Some(TraceflowPhase::Succeeded));
    let lb = Observation {
        translated_dst_ip: Some(b_ip.clone()),
        pod: Some("default/b".into()),
        ..observation(TraceflowComponent::LB, TraceflowAction::Forwarded)
    };
    assert_eq!(
        results(&status),
        [
            (
                "k8s-node-1".to_string(),
                vec![spoof_guard(&a_ip), lb, tunnel_to("172.18.0.3")]
            ),
            (
                "k8s-node-2".to_string(),
                vec![
                    observation(TraceflowComponent::Forwarding, TraceflowAction::Received),
                    output(TraceflowAction::Delivered),
                ]
            ),
        ]
    );

    // A local destination, and an address outside the cluster.
    pinned_pod(&client, "default", "a2", "k8s-node-1", json!({"app": "a2"})).await;
    create(
        &client,
        &tcp_traceflow("tf-local", json!({"namespace": "default", "pod": "a2"}), 80),
    )
    .await;
    let local = finished(&client, "tf-local").await;
    assert_eq!(
        results(&local),
        [(
            "k8s-node-1".to_string(),
            vec![spoof_guard(&a_ip), output(TraceflowAction::Delivered)]
        )]
    );
    create(
        &client,
        &tcp_traceflow("tf-out", json!({"ip": "8.8.8.8"}), 53),
    )
    .await;
    let out = finished(&client, "tf-out").await;
    assert_eq!(out.phase, Some(TraceflowPhase::Succeeded));
    assert_eq!(
        results(&out),
        [(
            "k8s-node-1".to_string(),
            vec![
                spoof_guard(&a_ip),
                output(TraceflowAction::ForwardedOutOfNetwork)
            ]
        )]
    );
}

/// A Traceflow from `a` (on a stalled Node: it stays Running) with a long timeout.
fn stuck(name: &str) -> Traceflow {
    let mut traceflow = tcp_traceflow(name, json!({"namespace": "default", "pod": "b"}), 80);
    traceflow.spec.timeout = Some(300);
    traceflow
}

async fn phase_and_tag(api: &Api<Traceflow>, name: &str) -> (Option<TraceflowPhase>, Option<i32>) {
    let status = api.get(name).await.unwrap().status.unwrap_or_default();
    (status.phase, status.dataplane_tag)
}

#[tokio::test(start_paused = true)]
async fn at_most_14_traceflows_run_and_the_15th_waits_for_a_tag() {
    let (_emu, antrea, client) = cluster(options(3)).await;
    two_pods(&client).await;
    antrea.stall_node("k8s-node-1").unwrap();
    let api: Api<Traceflow> = Api::all(client.clone());
    for i in 1..=14 {
        create(&client, &stuck(&format!("tf-{i:02}"))).await;
        eventually(|| {
            let api = api.clone();
            async move {
                (phase_and_tag(&api, &format!("tf-{i:02}")).await.0
                    == Some(TraceflowPhase::Running))
                .then_some(())
            }
        })
        .await;
    }
    let mut tags = Vec::new();
    for i in 1..=14 {
        tags.push(phase_and_tag(&api, &format!("tf-{i:02}")).await.1.unwrap());
    }
    assert_eq!(tags, (7..=59).step_by(4).collect::<Vec<i32>>());
    assert_eq!(antrea_emu::traceflow::max_concurrent(), 14);

    // The 15th keeps an empty phase: antrea-controller retries it with backoff.
    create(&client, &stuck("tf-15")).await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(phase_and_tag(&api, "tf-15").await, (None, None));

    // Once a tag is free, the next retry takes it.
    api.delete("tf-03", &DeleteParams::default()).await.unwrap();
    let tag = eventually(|| {
        let api = api.clone();
        async move {
            match phase_and_tag(&api, "tf-15").await {
                (Some(TraceflowPhase::Running), tag) => tag,
                _ => None,
            }
        }
    })
    .await;
    assert_eq!(tag, 15);
}

#[tokio::test(start_paused = true)]
async fn a_traceflow_that_gets_no_report_times_out() {
    let (_emu, antrea, client) = cluster(options(3)).await;
    two_pods(&client).await;
    antrea.stall_node("k8s-node-2").unwrap();
    let mut traceflow = tcp_traceflow(
        "tf-timeout",
        json!({"namespace": "default", "pod": "b"}),
        80,
    );
    traceflow.spec.timeout = Some(5);
    let started = tokio::time::Instant::now();
    create(&client, &traceflow).await;
    let status = finished(&client, "tf-timeout").await;
    assert_eq!(status.phase, Some(TraceflowPhase::Failed));
    assert_eq!(status.reason.as_deref(), Some("Traceflow timeout"));
    assert_eq!(status.dataplane_tag, None);
    // The sender reported; the receiver's agent did not.
    assert_eq!(results(&status).len(), 1);
    // Checked every 10 s: failed after the timeout, within one check interval.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(5) && waited <= Duration::from_secs(16),
        "{waited:?}"
    );

    // Without spec.timeout, 20 s.
    let started = tokio::time::Instant::now();
    create(
        &client,
        &tcp_traceflow(
            "tf-default",
            json!({"namespace": "default", "pod": "b"}),
            80,
        ),
    )
    .await;
    assert_eq!(
        finished(&client, "tf-default").await.reason.as_deref(),
        Some("Traceflow timeout")
    );
    assert!(started.elapsed() >= Duration::from_secs(20));
}

#[tokio::test(start_paused = true)]
async fn the_webhook_denies_traceflows_antrea_cannot_run() {
    let (_emu, _antrea, client) = cluster(options(2)).await;
    two_pods(&client).await;
    let api: Api<Traceflow> = Api::all(client.clone());
    let denied = |traceflow: Value| {
        let api = api.clone();
        async move { api_error(api.create(&PostParams::default(), &object(traceflow)).await) }
    };
    let status = denied(json!({"metadata": {"name": "ghost"},
        "spec": {"source": {"namespace": "default", "pod": "ghost"}, "destination": {"namespace": "default", "pod": "b"}}}))
    .await;
    assert_eq!(status.code, 400);
    assert_eq!(
        status.message,
        "admission webhook \"traceflowvalidator.antrea.io\" denied the request: requested source Pod default/ghost not found"
    );
    let status = denied(json!({"metadata": {"name": "nosource"}, "spec": {"destination": {"namespace": "default", "pod": "b"}}})).await;
    assert_eq!(
        status.message,
        "admission webhook \"traceflowvalidator.antrea.io\" denied the request: source Pod must be specified in non-live-traffic Traceflow"
    );
    let status = denied(json!({"metadata": {"name": "live"}, "spec": {"liveTraffic": true, "destination": {"ip": "10.10.0.9"}}})).await;
    assert_eq!(
        status.message,
        "admission webhook \"traceflowvalidator.antrea.io\" denied the request: Traceflow live has neither source nor destination Pod specified"
    );
    // Antrea's own Pods are host-network.
    let agents: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    let agent = agents
        .list(&kube::api::ListParams::default().labels("component=antrea-agent"))
        .await
        .unwrap()
        .items
        .remove(0);
    let status = denied(json!({"metadata": {"name": "host"},
        "spec": {"source": {"namespace": "kube-system", "pod": agent.metadata.name}, "destination": {"namespace": "default", "pod": "b"}}}))
    .await;
    assert_eq!(
        status.message,
        "admission webhook \"traceflowvalidator.antrea.io\" denied the request: using hostNetwork Pod as source in non-live-traffic Traceflow is not supported"
    );
}

#[tokio::test(start_paused = true)]
async fn the_sender_agent_fails_traceflows_it_cannot_prepare() {
    let (_emu, _antrea, client) = cluster(options(2)).await;
    two_pods(&client).await;
    let cases = [
        (
            "no-pod",
            json!({"namespace": "default", "pod": "ghost"}),
            None,
            "Node: k8s-node-1, error: failed to get the destination Pod: pods \"ghost\" not found",
        ),
        (
            "no-service",
            json!({"namespace": "default", "service": "ghost"}),
            None,
            "Node: k8s-node-1, error: failed to get the destination Service: service \"ghost\" not found",
        ),
        (
            "family",
            json!({"ip": "fd00::1"}),
            None,
            "Node: k8s-node-1, error: destination IP does not match the IP header family",
        ),
        (
            "ipv6",
            json!({"namespace": "default", "pod": "b"}),
            Some(json!({"ipv6Header": {"nextHeader": 58}})),
            "Node: k8s-node-1, error: source Pod does not have an IPv6 address",
        ),
    ];
    for (name, destination, packet, _) in &cases {
        let mut spec =
            json!({"source": {"namespace": "default", "pod": "a"}, "destination": destination});
        if let Some(packet) = packet {
            spec["packet"] = packet.clone();
        }
        create(
            &client,
            &object(json!({"metadata": {"name": name}, "spec": spec})),
        )
        .await;
    }
    for (name, _, _, reason) in cases {
        let status = finished(&client, name).await;
        assert_eq!(status.phase, Some(TraceflowPhase::Failed), "{name}");
        assert_eq!(status.reason.as_deref(), Some(reason), "{name}");
        assert!(status.results.is_none(), "{name}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_restarted_controller_keeps_the_tags_of_running_traceflows() {
    let (_emu, antrea, client) = cluster(options(2)).await;
    two_pods(&client).await;
    antrea.stall_node("k8s-node-1").unwrap();
    let api: Api<Traceflow> = Api::all(client.clone());
    let mut first = stuck("tf-before");
    first.spec.timeout = Some(60);
    create(&client, &first).await;
    eventually(|| {
        let api = api.clone();
        async move {
            (phase_and_tag(&api, "tf-before").await == (Some(TraceflowPhase::Running), Some(7)))
                .then_some(())
        }
    })
    .await;

    antrea.take_controller_down();
    // The webhook is down with the controller: no Traceflow can be created.
    let status = api_error(
        api.create(&PostParams::default(), &stuck("tf-while-down"))
            .await,
    );
    assert_eq!(status.code, 500);
    antrea.bring_controller_up();

    // The restarted controller reloads tag 7 from the Running Traceflow.
    create(&client, &stuck("tf-after")).await;
    let tag = eventually(|| {
        let api = api.clone();
        async move {
            match phase_and_tag(&api, "tf-after").await {
                (Some(TraceflowPhase::Running), tag) => tag,
                _ => None,
            }
        }
    })
    .await;
    assert_eq!(tag, 11);
    // And still times the old one out.
    let status = finished(&client, "tf-before").await;
    assert_eq!(status.reason.as_deref(), Some("Traceflow timeout"));
    // Antrea never deletes Traceflows.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert!(api.get("tf-before").await.is_ok());
}
