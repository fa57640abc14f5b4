//! The CCP adapter end to end, through restarts and failures: a restart with nothing
//! changed writes nothing; a restart converges stale objects left behind; NSX disconnects,
//! API server errors (500, 429), dropped watches, a compacted history (410) and an Antrea
//! webhook outage are survived with nothing lost; Antrea failures and realization timeouts
//! are reported as errors; nothing is touched before the first snapshot; NSX refresh requests
//! are answered.

mod ccp_common;

use adapter_runtime::ccp::CcpMetrics;
use ccp_common::*;
use kube_emu::FailureRule;
use serde_json::json;

/// Two groups and two policies spanned to the env's cluster.
async fn two_policies(env: &Env) {
    let admin = &env.admin;
    pod_group(admin, "web", "web").await;
    pod_group(admin, "db", "db").await;
    policy(
        admin,
        "p1",
        10,
        "db",
        json!([ingress_rule("r1", 1, &["web"], 5432, "ALLOW")]),
    )
    .await;
    policy(
        admin,
        "p2",
        20,
        "web",
        json!([ingress_rule("r2", 1, &["db"], 80, "DROP")]),
    )
    .await;
    span(admin, "p1", &env.cluster).await;
    span(admin, "p2", &env.cluster).await;
}

async fn converged(env: &Env, adapter: &adapter_runtime::ccp::CcpAdapter) {
    wait_status(adapter, "synced and realized", |s| {
        s.synced && s.realization.in_progress == 0 && s.realization.success > 0
    })
    .await;
    for path in [
        policy_path("p1"),
        policy_path("p2"),
        group_path("web"),
        group_path("db"),
    ] {
        wait_nsx(&env.admin, &path, "SUCCESS").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_write_nothing_when_nothing_changed_and_converge_stale_objects() {
    let env = env("c1").await;
    let c1 = env.cluster.id.clone();
    two_policies(&env).await;
    let adapter = start_adapter(&env).await;
    converged(&env, &adapter).await;
    let cold_writes = CcpMetrics::get(&adapter.metrics().writes);
    assert!(cold_writes > 0);
    adapter.shutdown().await;

    // Restart with nothing changed: not one write request.
    env.emu.clear_requests();
    let writes_before = env.emu.write_count();
    let adapter = start_adapter(&env).await;
    converged(&env, &adapter).await;
    assert_eq!(CcpMetrics::get(&adapter.metrics().writes), 0);
    assert_eq!(policy_writes(&env.emu), Vec::<String>::new());
    // Antrea's own status writes may happen; no object of ours was written.
    let _ = writes_before;
    adapter.shutdown().await;

    // While the adapter is down: p2 deleted, p1 changed, a new policy added.
    let p1 = policy_path("p1");
    let p2 = policy_path("p2");
    delete(&env.admin, &p2).await;
    policy(
        &env.admin,
        "p1",
        10,
        "db",
        json!([ingress_rule("r1", 1, &["web"], 6432, "ALLOW")]),
    )
    .await;
    policy(
        &env.admin,
        "p3",
        30,
        "db",
        json!([ingress_rule("r3", 1, &["web"], 7000, "ALLOW")]),
    )
    .await;
    span(&env.admin, "p3", &env.cluster).await;
    assert_eq!(
        policies_for(&env.client, &c1, &p2).await.len(),
        1,
        "stale p2 is still there"
    );
    let adapter = start_adapter(&env).await;
    wait_policy(&env.client, &c1, &p1, "p1 updated", |p| {
        serde_json::to_value(&p.spec).unwrap()["ingress"][0]["ports"][0]["port"] == 6432
    })
    .await;
    wait_policy(&env.client, &c1, &policy_path("p3"), "p3 created", |_| true).await;
    eventually("stale p2 removed", || async {
        policies_for(&env.client, &c1, &p2)
            .await
            .is_empty()
            .then_some(())
    })
    .await;
    wait_status(&adapter, "synced", |s| {
        s.synced && s.realization.in_progress == 0
    })
    .await;
    wait_nsx(&env.admin, &p1, "SUCCESS").await;
    wait_nsx(&env.admin, &policy_path("p3"), "SUCCESS").await;
    adapter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nsx_disconnects_are_survived_and_changes_made_meanwhile_arrive() {
    let env = env("c1").await;
    let c1 = env.cluster.id.clone();
    two_policies(&env).await;
    let adapter = start_adapter(&env).await;
    converged(&env, &adapter).await;
    let writes = CcpMetrics::get(&adapter.metrics().writes);

    // NSX ends the session; the adapter reconnects, gets a snapshot, and changes nothing.
    env.sim.adapter_channel().shutdown_sessions();
    eventually("reconnected", || async {
        (CcpMetrics::get(&adapter.metrics().reconnects) >= 1 && adapter.status().borrow().connected)
            .then_some(())
    })
    .await;
    converged(&env, &adapter).await;
    assert_eq!(CcpMetrics::get(&adapter.metrics().writes), writes);

    // A change right after another disconnect is not lost.
    env.sim.adapter_channel().shutdown_sessions();
    policy(
        &env.admin,
        "p2",
        20,
        "web",
        json!([ingress_rule("r2", 1, &["db"], 8443, "DROP")]),
    )
    .await;
    wait_policy(
        &env.client,
        &c1,
        &policy_path("p2"),
        "p2 updated after reconnect",
        |p| serde_json::to_value(&p.spec).unwrap()["ingress"][0]["ports"][0]["port"] == 8443,
    )
    .await;
    converged(&env, &adapter).await;
    adapter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_server_errors_dropped_watches_and_410_are_survived() {
    let env = env("c1").await;
    let c1 = env.cluster.id.clone();
    two_policies(&env).await;
    // The first writes of policies fail with 500, then with 429 (Retry-After 1 s).
    env.emu.inject_failure(FailureRule {
        method: Some(http::Method::PATCH),
        resource: Some("clusternetworkpolicies".into()),
        times: Some(2),
        ..FailureRule::new(500)
    });
    env.emu.inject_failure(FailureRule {
        method: Some(http::Method::PATCH),
        resource: Some("clustergroups".into()),
        times: Some(2),
        retry_after: Some(1),
        ..FailureRule::new(429)
    });
    let adapter = start_adapter(&env).await;
    converged(&env, &adapter).await;
    assert!(CcpMetrics::get(&adapter.metrics().write_retries) >= 4);
    assert_eq!(CcpMetrics::get(&adapter.metrics().write_errors), 0);

    // Watches dropped and history compacted (re-watching from an old resourceVersion gets
    // 410): the reflector re-lists, and a deletion by hand meanwhile is still repaired.
    let p1 = policy_path("p1");
    let name = policies_for(&env.client, &c1, &p1).await[0]
        .metadata
        .name
        .clone()
        .unwrap();
    env.emu.compact();
    env.emu.drop_watches();
    let api: kube::Api<antrea_types::ClusterNetworkPolicy> = kube::Api::all(env.client.clone());
    api.delete(&name, &Default::default()).await.unwrap();
    wait_policy(
        &env.client,
        &c1,
        &p1,
        "p1 re-created after the re-list",
        |p| p.metadata.name.as_deref() == Some(name.as_str()),
    )
    .await;

    // The API server fails every policy write for a while: the NSX change is retried until
    // it goes through.
    env.emu.inject_failure(FailureRule {
        method: Some(http::Method::PATCH),
        resource: Some("clusternetworkpolicies".into()),
        ..FailureRule::new(503)
    });
    policy(
        &env.admin,
        "p1",
        10,
        "db",
        json!([ingress_rule("r1", 1, &["web"], 15432, "ALLOW")]),
    )
    .await;
    eventually("write failures seen", || async {
        (CcpMetrics::get(&adapter.metrics().write_errors) > 0).then_some(())
    })
    .await;
    env.emu.clear_failures();
    wait_policy(&env.client, &c1, &p1, "p1 updated after the outage", |p| {
        serde_json::to_value(&p.spec).unwrap()["ingress"][0]["ports"][0]["port"] == 15432
    })
    .await;
    converged(&env, &adapter).await;
    adapter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_antrea_webhook_outage_is_retried() {
    let env = env("c1").await;
    let c1 = env.cluster.id.clone();
    two_policies(&env).await;
    env.antrea.take_controller_down();
    let adapter = start_adapter(&env).await;
    eventually("writes refused while the webhook is down", || async {
        (CcpMetrics::get(&adapter.metrics().write_retries) > 0).then_some(())
    })
    .await;
    assert!(
        policies_for(&env.client, &c1, &policy_path("p1"))
            .await
            .is_empty()
    );
    env.antrea.bring_controller_up();
    wait_policy(&env.client, &c1, &policy_path("p1"), "p1 created", |_| true).await;
    converged(&env, &adapter).await;
    adapter.shutdown().await;
}

/// Pods labelled `app=db` in Namespace `shop`, running.
async fn db_pods(env: &Env) {
    use k8s_openapi::api::core::v1::{Namespace, Pod};
    use kube::api::PostParams;
    let namespaces: kube::Api<Namespace> = kube::Api::all(env.client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "shop"}})).unwrap(),
        )
        .await
        .unwrap();
    let pods: kube::Api<Pod> = kube::Api::namespaced(env.client.clone(), "shop");
    for name in ["db-0", "db-1"] {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"app": "db"}},
            "spec": {"containers": [{"name": "db", "image": "postgres:17"}]}
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
    }
    eventually("db pods running", || async {
        let list = pods.list(&Default::default()).await.ok()?;
        list.items
            .iter()
            .all(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn antrea_failures_and_realization_timeouts_are_reported_as_errors() {
    let env = env("c1").await;
    db_pods(&env).await;
    two_policies(&env).await;
    let nodes = env.antrea.node_names();
    for node in &nodes {
        env.antrea.stall_node(node).unwrap();
    }
    let mut options = options(&env, &env.cluster);
    options.realize_timeout = std::time::Duration::from_secs(2);
    let adapter = adapter_runtime::ccp::CcpAdapter::start(options, env.client.clone())
        .await
        .unwrap();
    let p1 = policy_path("p1");
    // Applied to the db Pods, whose agents never report: ERROR after the timeout.
    let status = wait_nsx(&env.admin, &p1, "ERROR").await;
    assert!(
        status.to_string().contains("RealizationTimeout"),
        "{status:#}"
    );
    for node in &nodes {
        env.antrea.restore_node(node).unwrap();
    }
    wait_nsx(&env.admin, &p1, "SUCCESS").await;

    // Agents failing a new generation: Antrea's failure is reported.
    for node in &nodes {
        env.antrea
            .fail_node_realization(node, "OVS flows could not be installed")
            .unwrap();
    }
    policy(
        &env.admin,
        "p1",
        10,
        "db",
        json!([ingress_rule("r1", 1, &["web"], 3306, "ALLOW")]),
    )
    .await;
    let status = wait_nsx(&env.admin, &p1, "ERROR").await;
    assert!(
        status.to_string().contains("AntreaRealizationFailed"),
        "{status:#}"
    );
    let adapter_status = wait_status(&adapter, "error counted", |s| s.realization.error >= 1).await;
    assert!(adapter_status.connected);
    adapter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_touched_before_the_first_snapshot() {
    let env = env("c1").await;
    two_policies(&env).await;
    let adapter = start_adapter(&env).await;
    converged(&env, &adapter).await;
    adapter.shutdown().await;
    let before = owned_counts(&env.client, &env.cluster.id).await;

    // NSX unreachable: the desired state is unknown, which is not "nothing desired".
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = dead.local_addr().unwrap();
    drop(dead);
    let mut options = options(&env, &env.cluster);
    options.channel.endpoints = vec![format!("https://{address}")];
    let adapter = adapter_runtime::ccp::CcpAdapter::start(options, env.client.clone())
        .await
        .unwrap();
    eventually("a pass over the listed objects completed", || async {
        (CcpMetrics::get(&adapter.metrics().passes) >= 1).then_some(())
    })
    .await;
    assert_eq!(owned_counts(&env.client, &env.cluster.id).await, before);
    assert_eq!(CcpMetrics::get(&adapter.metrics().writes), 0);
    let status = adapter.status().borrow().clone();
    assert!(!status.connected && !status.synced, "{status:?}");
    adapter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_realization_refresh_from_nsx_is_answered() {
    let env = env("c1").await;
    two_policies(&env).await;
    let adapter = start_adapter(&env).await;
    converged(&env, &adapter).await;
    let reports = CcpMetrics::get(&adapter.metrics().reports);
    let writes = CcpMetrics::get(&adapter.metrics().writes);
    env.admin
        .execute(
            adapter_nsx::rest::NsxRequest::new(
                http::Method::POST,
                "/policy/api/v1/infra/realized-state/realized-entity",
            )
            .query("action", "refresh")
            .query("intent_path", policy_path("p1")),
        )
        .await
        .unwrap();
    eventually("the refresh answered with a report", || async {
        (CcpMetrics::get(&adapter.metrics().reports) > reports).then_some(())
    })
    .await;
    wait_nsx(&env.admin, &policy_path("p1"), "SUCCESS").await;
    assert_eq!(CcpMetrics::get(&adapter.metrics().writes), writes);
    adapter.shutdown().await;
}
