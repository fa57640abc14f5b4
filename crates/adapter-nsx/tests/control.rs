//! The control-plane client against the simulator: the span's snapshot, ordered updates and
//! deletes (with a window of one generation, so nothing arrives unless every generation is
//! acknowledged), realization reports in NSX's realized-state API, refresh requests, a resync
//! the adapter asks for, failover from a dead endpoint, and a full resync after NSX restarts.

mod common;

use std::sync::Arc;

use adapter_nsx::channel::ConnectionState;
use adapter_nsx::channel::control::{
    ControlPlaneClient, ControlPlaneOptions, SpanChange, SpanSnapshot,
};
use common::{
    Cluster, channel_config, group, group_path, policy, policy_path, register, rpc_endpoint, span,
    wait_for,
};
use nsx_proto::v1::{
    ObjectRealization, RealizationError, RealizationReport, RealizationState, RealizedEntity,
};
use serde_json::{Value, json};

const SERVICE: &str = "/infra/services/HTTPS";

fn rule(id: &str, sources: &[&str], sequence: u32) -> Value {
    json!({"resource_type": "Rule", "id": id, "sequence_number": sequence,
           "source_groups": sources.iter().map(|g| group_path(g)).collect::<Vec<_>>(),
           "services": [SERVICE], "action": "ALLOW"})
}

fn realization(snapshot: &SpanSnapshot, path: &str, state: RealizationState) -> ObjectRealization {
    ObjectRealization {
        object: Some(snapshot.state.get(path).unwrap().reference.clone()),
        state: state as i32,
        ..ObjectRealization::default()
    }
}

async fn consolidated(
    admin: &adapter_nsx::rest::NsxRestClient,
    path: &str,
    expected: &str,
) -> Value {
    common::eventually(
        admin,
        &format!("/policy/api/v1/infra/realized-state/status?intent_path={path}"),
        |body| body["consolidated_status"]["consolidated_status"] == expected,
    )
    .await
}

async fn setup() -> (
    nsx_sim::RunningSim,
    Cluster,
    adapter_nsx::rest::NsxRestClient,
) {
    let sim = common::start(common::test_options(), None, None).await;
    let cluster = register(&sim, "c1").await;
    let admin = common::admin(&sim);
    group(&admin, "web").await;
    group(&admin, "db").await;
    policy(&admin, "p1", json!([rule("r1", &["web"], 1)])).await;
    span(&admin, "p1", &cluster).await;
    (sim, cluster, admin)
}

#[tokio::test]
async fn snapshot_then_ordered_updates_acks_and_realization() {
    let (sim, cluster, admin) = setup().await;
    let options = ControlPlaneOptions {
        max_unacked_generations: 1,
        ..ControlPlaneOptions::default()
    };
    let client = ControlPlaneClient::start_with(
        channel_config(&sim, &cluster, vec![rpc_endpoint(&sim)]),
        options,
    );
    let mut state = client.desired_state();
    let snapshot = wait_for(&mut state, "the snapshot", |s| s.is_synced()).await;
    assert_eq!(snapshot.change, SpanChange::Snapshot);
    assert_eq!(
        snapshot.state.policies.keys().collect::<Vec<_>>(),
        [&policy_path("p1")]
    );
    assert!(snapshot.state.groups.contains_key(&group_path("web")));
    assert!(!snapshot.state.groups.contains_key(&group_path("db")));
    assert!(snapshot.state.services.contains_key(SERVICE));
    let document = snapshot.state.policies[&policy_path("p1")]
        .document
        .as_ref()
        .unwrap();
    assert_eq!(document["rules"][0]["id"], "r1");
    let status = client.connection().borrow().clone();
    assert_eq!(status.state, ConnectionState::Connected);
    assert_eq!(status.sessions_established, 1);

    // Realization: IN_PROGRESS for everything, then SUCCESS for the policy.
    let complete = RealizationReport {
        generation: 0,
        objects: snapshot
            .state
            .iter()
            .map(|object| ObjectRealization {
                object: Some(object.reference.clone()),
                state: RealizationState::InProgress as i32,
                ..ObjectRealization::default()
            })
            .collect(),
        gone: Vec::new(),
        complete: true,
    };
    client.report_realization(complete).await.unwrap();
    consolidated(&admin, &policy_path("p1"), "IN_PROGRESS").await;
    let mut success = realization(&snapshot, &policy_path("p1"), RealizationState::Success);
    success.realized_entities.push(RealizedEntity {
        api_version: "crd.antrea.io/v1beta1".into(),
        kind: "ClusterNetworkPolicy".into(),
        name: snapshot.state.policies[&policy_path("p1")]
            .reference
            .unique_id
            .clone(),
    });
    client
        .report_realization(RealizationReport {
            objects: vec![success],
            ..RealizationReport::default()
        })
        .await
        .unwrap();
    consolidated(&admin, &policy_path("p1"), "SUCCESS").await;
    let mut failed = realization(&snapshot, &group_path("web"), RealizationState::Error);
    failed.errors.push(RealizationError {
        reason: "UnsupportedGroupExpression".into(),
        message: "group web cannot be expressed".into(),
        ..RealizationError::default()
    });
    client
        .report_realization(RealizationReport {
            objects: vec![failed],
            ..RealizationReport::default()
        })
        .await
        .unwrap();
    let status = consolidated(&admin, &group_path("web"), "ERROR").await;
    assert!(
        status.to_string().contains("UnsupportedGroupExpression"),
        "{status:#}"
    );

    // Three changes, each a generation: with a window of one, each arrives only after the
    // previous one was acknowledged.
    let mut generation = snapshot.generation;
    policy(&admin, "p1", json!([rule("r2", &["db"], 2)])).await;
    let update = wait_for(&mut state, "db enters", |s| s.generation > generation).await;
    assert_eq!(update.generation, generation + 1);
    let SpanChange::Update { upserted, deleted } = &update.change else {
        panic!("expected an update, got {:?}", update.change);
    };
    assert!(upserted.contains(&group_path("db")) && upserted.contains(&policy_path("p1")));
    assert!(deleted.is_empty());
    generation = update.generation;

    group(&admin, "api").await;
    policy(&admin, "p1", json!([rule("r1", &["web", "api"], 1)])).await;
    let update = wait_for(&mut state, "api enters", |s| {
        s.state.groups.contains_key(&group_path("api"))
    })
    .await;
    assert!(update.generation > generation);
    generation = update.generation;

    // Removing rule r2 drops db from the span: a delete.
    adapter_nsx_delete_rule(&admin, "p1", "r2").await;
    let update = wait_for(&mut state, "db leaves", |s| {
        !s.state.groups.contains_key(&group_path("db"))
    })
    .await;
    assert!(update.generation > generation);
    let SpanChange::Update { deleted, .. } = &update.change else {
        panic!("expected an update");
    };
    assert_eq!(deleted, &vec![group_path("db")]);
    let rules = update.state.policies[&policy_path("p1")]
        .document
        .as_ref()
        .unwrap()["rules"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(rules, 1);
    assert_eq!(client.connection().borrow().sessions_established, 1);

    client.shutdown().await;
    assert_eq!(client.connection().borrow().state, ConnectionState::Stopped);
    assert!(
        client
            .report_realization(RealizationReport::default())
            .await
            .is_err()
    );
    sim.shutdown().await.unwrap();
}

async fn adapter_nsx_delete_rule(
    admin: &adapter_nsx::rest::NsxRestClient,
    policy: &str,
    rule: &str,
) {
    common::delete(admin, &format!("{}/rules/{rule}", policy_path(policy))).await;
}

#[tokio::test]
async fn refresh_resync_and_failover_from_a_dead_endpoint() {
    let (sim, cluster, _admin) = setup().await;
    let dead = format!("https://{}", common::dead_address());
    let client = ControlPlaneClient::start(channel_config(
        &sim,
        &cluster,
        vec![dead, rpc_endpoint(&sim)],
    ));
    let mut state = client.desired_state();
    let first = wait_for(&mut state, "the snapshot", |s| s.is_synced()).await;
    assert_eq!(
        client.connection().borrow().endpoint.as_deref(),
        Some(rpc_endpoint(&sim).as_str())
    );

    // NSX asks for a refresh; the adapter sees it.
    let mut refreshes = client.take_refresh_requests().unwrap();
    assert!(client.take_refresh_requests().is_none());
    let wanted = first.state.policies[&policy_path("p1")].reference.clone();
    assert!(sim.adapter_channel().refresh("c1", vec![wanted.clone()]));
    let refresh = tokio::time::timeout(std::time::Duration::from_secs(20), refreshes.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refresh.objects, vec![wanted]);

    // The adapter asks for a resync: a new snapshot replaces the state.
    client.request_resync("reconciler restarted").unwrap();
    let again = wait_for(&mut state, "the resync snapshot", |s| {
        s.applied > first.applied
    })
    .await;
    assert_eq!(again.change, SpanChange::Snapshot);
    assert_eq!(again.state, first.state);
    assert!(again.generation >= first.generation);
    client.shutdown().await;
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_restarted_nsx_gets_a_new_session_and_a_full_resync() {
    let dir = tempfile::tempdir().unwrap();
    let sim = common::start(common::test_options(), Some(dir.path()), None).await;
    let cluster = register(&sim, "c1").await;
    let admin = common::admin(&sim);
    group(&admin, "web").await;
    policy(&admin, "p1", json!([rule("r1", &["web"], 1)])).await;
    span(&admin, "p1", &cluster).await;
    let rpc = sim.rpc_local_addr().unwrap();
    let endpoint = rpc_endpoint(&sim);
    let client = Arc::new(ControlPlaneClient::start(channel_config(
        &sim,
        &cluster,
        vec![endpoint],
    )));
    let mut state = client.desired_state();
    let before = wait_for(&mut state, "the snapshot", |s| s.is_synced()).await;
    let mut connection = client.connection();

    sim.shutdown().await.unwrap();
    wait_for(&mut connection, "the session ends", |s| !s.is_connected()).await;
    // While NSX is away the adapter keeps the state it has.
    assert_eq!(state.borrow().state, before.state);

    let sim = common::start(common::test_options(), Some(dir.path()), Some(rpc)).await;
    let after = wait_for(&mut state, "the resync after the restart", |s| {
        s.applied > before.applied
    })
    .await;
    assert_eq!(after.change, SpanChange::Snapshot);
    assert_ne!(after.epoch, before.epoch, "a restart starts a new epoch");
    assert_eq!(
        after.state.policies.keys().collect::<Vec<_>>(),
        before.state.policies.keys().collect::<Vec<_>>()
    );
    let status = wait_for(&mut connection, "connected again", |s| s.is_connected()).await;
    assert_eq!(status.sessions_established, 2);

    // The new session carries updates.
    let admin = common::admin(&sim);
    group(&admin, "db").await;
    policy(&admin, "p1", json!([rule("r2", &["db"], 2)])).await;
    wait_for(&mut state, "db enters", |s| {
        s.state.groups.contains_key(&group_path("db"))
    })
    .await;
    client.shutdown().await;
    sim.shutdown().await.unwrap();
}
