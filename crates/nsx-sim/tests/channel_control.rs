//! The control plane of the adapter channel against a fake CCP adapter (generated tonic
//! client, mutual TLS with rcgen certificates, clusters registered over REST): who may
//! connect, snapshot content, ordered incremental updates, flow control and resync, two
//! clusters with their own spans, realization reports as the REST realized-state API shows
//! them (bodies checked against the NSX schemas), and persistence.

mod adapter;
mod common;

use std::time::Duration;

use adapter::{CcpSession, Cluster, PATIENCE, ccp_hello, connect, register, update_paths};
use common::{Client, SchemaCheck, group_path, group_url, policy_url};
use nsx_proto::v1::{
    ErrorCode, ObjectKind, ObjectRealization, ObjectRef, RealizationError, RealizationReport,
    RealizationState, RealizedEntity, ResyncRequest, ccp_adapter_message, ccp_manager_message,
};
use nsx_sim::RunningSim;
use reqwest::Method;
use serde_json::{Value, json};

const STATUS: &str = "/policy/api/v1/infra/realized-state/status";
const ENTITIES: &str = "/policy/api/v1/infra/realized-state/realized-entities";

fn service_path(id: &str) -> String {
    format!("/infra/services/{id}")
}

fn policy_path(id: &str) -> String {
    format!("/infra/domains/default/security-policies/{id}")
}

async fn group(admin: &Client, id: &str, members: &[&str]) {
    let expression = if members.is_empty() {
        json!([{"resource_type": "Condition", "member_type": "Pod", "key": "Tag",
                "operator": "EQUALS", "value": id}])
    } else {
        json!([{"resource_type": "PathExpression",
                "paths": members.iter().map(|m| group_path(m)).collect::<Vec<_>>()}])
    };
    admin
        .patch(
            &group_url(id),
            json!({"resource_type": "Group", "expression": expression}),
        )
        .await
        .expect(200);
}

async fn policy(admin: &Client, id: &str, body: Value) {
    admin.patch(&policy_url(id), body).await.expect(200);
}

async fn span(admin: &Client, policy: &str, cluster: &Cluster) {
    admin
        .patch(
            &format!(
                "{}/container-cluster-span/{}",
                policy_url(policy),
                cluster.id
            ),
            json!({"resource_type": "SecurityPolicyContainerCluster",
                   "container_cluster_path": cluster.path()}),
        )
        .await
        .expect(200);
}

async fn unspan(admin: &Client, policy: &str, cluster: &Cluster) {
    admin
        .delete(&format!(
            "{}/container-cluster-span/{}",
            policy_url(policy),
            cluster.id
        ))
        .await
        .expect(200);
}

/// Waits (bounded) until the desired-state feed has processed the change `done` checks.
async fn feed_settles(sim: &RunningSim, done: impl Fn(&RunningSim) -> bool) {
    for _ in 0..2000 {
        if done(sim) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the desired-state feed did not catch up");
}

/// Polls `GET url` until `accept` holds for the body (bounded); returns the body.
async fn eventually(admin: &Client, url: &str, accept: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..1500 {
        last = admin.get(url).await.expect(200).body;
        if accept(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{url} never reached the expected state; last: {last:#}");
}

fn status_url(path: &str) -> String {
    format!("{STATUS}?intent_path={path}")
}

fn consolidated(body: &Value) -> &str {
    body["consolidated_status"]["consolidated_status"]
        .as_str()
        .unwrap()
}

fn per_cluster(body: &Value, cluster: &str) -> String {
    body["consolidated_status_per_enforcement_point"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["enforcement_point_id"] == cluster)
        .map(|e| {
            e["consolidated_status"]["consolidated_status"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .unwrap_or_default()
}

/// Whether a session attempt with this certificate is refused (at the handshake or with an
/// error status before any welcome).
async fn refused(sim: &RunningSim, cert: &str, key: &str, cluster_id: &str) -> bool {
    match connect(sim, cert, key).await {
        Err(_) => true,
        Ok(channel) => match CcpSession::open(channel, ccp_hello(cluster_id)).await {
            Err(_) => true,
            Ok((_, first)) => !matches!(first.body, Some(ccp_manager_message::Body::Welcome(_))),
        },
    }
}

#[tokio::test]
async fn only_the_registered_certificate_of_a_cluster_gets_a_session() {
    let sim = adapter::start().await;
    let c1 = register(&sim, "c1").await;
    // A certificate with the right CN that is not the registered one.
    let (other_cert, other_key) = common::client_certificate("c1");
    assert!(refused(&sim, &other_cert, &other_key, "c1").await);
    // A certificate for a cluster that is not registered.
    let (cert, key) = common::client_certificate("c9");
    assert!(refused(&sim, &cert, &key, "c9").await);
    // No client certificate at all.
    let endpoint = tonic::transport::Endpoint::from_shared(format!(
        "https://{}",
        sim.rpc_local_addr().unwrap()
    ))
    .unwrap()
    .tls_config(
        tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(sim.ca_cert_pem())),
    )
    .unwrap();
    let no_certificate = match endpoint.connect().await {
        Err(_) => true,
        Ok(channel) => CcpSession::open(channel, ccp_hello("c1")).await.is_err(),
    };
    assert!(
        no_certificate,
        "a client without a certificate must be refused"
    );

    // The registered certificate naming another cluster in its hello: PERMISSION_DENIED.
    let channel = connect(&sim, &c1.cert, &c1.key).await.unwrap();
    let (mut session, first) = CcpSession::open(channel, ccp_hello("c2")).await.unwrap();
    match first.body {
        Some(ccp_manager_message::Body::Goodbye(bye)) => {
            let reason = bye.reason.unwrap();
            assert_eq!(reason.code, ErrorCode::PermissionDenied as i32);
            assert_eq!(reason.target, "cluster_id");
        }
        other => panic!("expected a goodbye, got {other:?}"),
    }
    assert_eq!(
        session.next().await.unwrap_err().code(),
        tonic::Code::PermissionDenied
    );

    // A version NSX does not speak.
    let mut hello = ccp_hello("c1");
    hello.protocol_version = Some(nsx_proto::v1::ProtocolVersion { major: 2, minor: 0 });
    hello.min_protocol_version = None;
    let channel = connect(&sim, &c1.cert, &c1.key).await.unwrap();
    let (_, first) = CcpSession::open(channel, hello).await.unwrap();
    match first.body {
        Some(ccp_manager_message::Body::Goodbye(bye)) => {
            assert_eq!(
                bye.reason.unwrap().code,
                ErrorCode::VersionUnsupported as i32
            );
        }
        other => panic!("expected a goodbye, got {other:?}"),
    }

    // The right certificate and hello: welcome. Deregistration ends the session.
    let (mut session, welcome) = CcpSession::welcome(&sim, &c1, ccp_hello("c1")).await;
    assert_eq!(welcome.cluster_path, c1.path());
    assert_eq!(welcome.max_unacked_generations, 8);
    assert_eq!(welcome.epoch, sim.adapter_channel().epoch());
    session.snapshot().await;
    Client::admin(&sim)
        .with_header("X-Allow-Overwrite", "true")
        .delete(&format!("{}/c1?cascade=true", adapter::CCP_URL))
        .await
        .expect(200);
    match session.expect().await {
        ccp_manager_message::Body::Goodbye(bye) => {
            assert_eq!(bye.reason.unwrap().code, ErrorCode::PermissionDenied as i32);
        }
        other => panic!("expected a goodbye, got {other:?}"),
    }
    // And the certificate no longer opens a session.
    assert!(refused(&sim, &c1.cert, &c1.key, "c1").await);
}

#[tokio::test]
async fn the_snapshot_is_the_span_closed_under_references() {
    let sim = adapter::start().await;
    let admin = Client::admin(&sim);
    let c1 = register(&sim, "c1").await;
    group(&admin, "leaf", &[]).await;
    group(&admin, "mid", &["leaf"]).await;
    group(&admin, "top", &["mid"]).await;
    group(&admin, "applied", &[]).await;
    group(&admin, "unused", &[]).await;
    admin
        .patch(
            "/policy/api/v1/infra/services/web",
            json!({"resource_type": "Service", "service_entries": [
                {"resource_type": "NestedServiceServiceEntry", "id": "https",
                 "nested_service_path": service_path("HTTPS")},
                {"resource_type": "L4PortSetServiceEntry", "id": "alt", "l4_protocol": "TCP",
                 "destination_ports": ["8443"]}]}),
        )
        .await
        .expect(200);
    policy(
        &admin,
        "p1",
        json!({"resource_type": "SecurityPolicy", "category": "Application",
               "scope": [group_path("applied")],
               "rules": [{"resource_type": "Rule", "id": "r1", "action": "ALLOW",
                          "source_groups": [group_path("top")], "destination_groups": ["10.0.0.0/8"],
                          "services": [service_path("web")]},
                         {"resource_type": "Rule", "id": "r2", "action": "DROP",
                          "services": [service_path("SSH")]}]}),
    )
    .await;
    policy(
        &admin,
        "elsewhere",
        json!({"resource_type": "SecurityPolicy", "rules": [
        {"resource_type": "Rule", "id": "r", "source_groups": [group_path("unused")]}]}),
    )
    .await;
    span(&admin, "p1", &c1).await;

    let (mut session, _) = CcpSession::welcome(&sim, &c1, ccp_hello("c1")).await;
    let snapshot = session.snapshot().await;
    assert_eq!(snapshot.epoch, sim.adapter_channel().epoch());
    let mut expected = vec![
        group_path("applied"),
        group_path("leaf"),
        group_path("mid"),
        group_path("top"),
        policy_path("p1"),
        service_path("HTTPS"),
        service_path("SSH"),
        service_path("web"),
    ];
    expected.sort();
    assert_eq!(snapshot.paths(), expected);
    assert_eq!(snapshot.counts, (1, 4, 3));
    // Each document is what GET returns for the cluster's principal identity, and a valid
    // NSX model.
    let as_c1 = Client::new(&sim, common::Auth::Certificate, Some((&c1.cert, &c1.key)));
    let check = SchemaCheck::get();
    for object in &snapshot.objects {
        let document: Value = serde_json::from_slice(&object.document).unwrap();
        let rest = as_c1
            .get(&format!("/policy/api/v1{}", object.path))
            .await
            .expect(200)
            .body;
        assert_eq!(document, rest, "{}", object.path);
        let model = ObjectKind::try_from(object.kind)
            .unwrap()
            .resource_type()
            .unwrap();
        check.check(true, model, &document).unwrap();
        assert_eq!(object.revision, document["_revision"].as_i64().unwrap());
    }
    let p1: Value = serde_json::from_slice(&snapshot.object(&policy_path("p1")).document).unwrap();
    assert_eq!(p1["rules"].as_array().unwrap().len(), 2);
    // Referenced objects come before their referrers.
    let position = |p: &str| snapshot.objects.iter().position(|o| o.path == p).unwrap();
    assert!(position(&service_path("HTTPS")) < position(&service_path("web")));
    assert!(position(&group_path("leaf")) < position(&group_path("mid")));
    assert!(position(&group_path("top")) < position(&policy_path("p1")));
}

#[tokio::test]
async fn updates_follow_every_change_of_the_span() {
    let sim = adapter::start().await;
    let admin = Client::admin(&sim);
    let c1 = register(&sim, "c1").await;
    let (mut session, _) = CcpSession::welcome(&sim, &c1, ccp_hello("c1")).await;
    let snapshot = session.snapshot().await;
    assert!(snapshot.objects.is_empty());
    session.ack(snapshot.generation).await;

    // A new policy does not concern the cluster until it is spanned to it.
    group(&admin, "g1", &[]).await;
    policy(
        &admin,
        "p1",
        json!({"resource_type": "SecurityPolicy", "category": "Application",
        "rules": [{"resource_type": "Rule", "id": "r1", "source_groups": [group_path("g1")]}]}),
    )
    .await;
    span(&admin, "p1", &c1).await;
    let update = session.update().await;
    assert_eq!(update.previous_generation, snapshot.generation);
    assert_eq!(
        update
            .upserts
            .iter()
            .map(|o| o.path.clone())
            .collect::<Vec<_>>(),
        [group_path("g1"), policy_path("p1")],
        "referenced objects first"
    );
    assert!(update.committed_at.is_some());
    session.ack(update.generation).await;
    let mut last = update.generation;

    // A rule change re-sends its policy, with the rule changed.
    admin
        .patch(
            &format!("{}/rules/r1", policy_url("p1")),
            json!({"resource_type": "Rule", "action": "DROP"}),
        )
        .await
        .expect(200);
    let update = session.update().await;
    assert_eq!(update.previous_generation, last);
    assert_eq!(update_paths(&update), (vec![policy_path("p1")], vec![]));
    let document = update.upserts[0].parse_document().unwrap();
    assert_eq!(document["rules"][0]["action"], "DROP");
    session.ack(update.generation).await;
    last = update.generation;

    // A group change re-sends the group.
    admin
        .patch(
            &group_url("g1"),
            json!({"resource_type": "Group", "description": "web pods"}),
        )
        .await
        .expect(200);
    let update = session.update().await;
    assert_eq!(update_paths(&update), (vec![group_path("g1")], vec![]));
    assert_eq!(
        update.upserts[0].parse_document().unwrap()["description"],
        "web pods"
    );
    assert_eq!(update.previous_generation, last);
    session.ack(update.generation).await;

    // Moving the rule to another group: the new group comes, the old one goes.
    group(&admin, "g2", &[]).await;
    admin
        .patch(
            &format!("{}/rules/r1", policy_url("p1")),
            json!({"resource_type": "Rule", "source_groups": [group_path("g2")],
                      "services": [service_path("DNS")]}),
        )
        .await
        .expect(200);
    let update = session.update().await;
    assert_eq!(
        update_paths(&update),
        (
            vec![group_path("g2"), policy_path("p1"), service_path("DNS")],
            vec![group_path("g1")]
        )
    );
    session.ack(update.generation).await;

    // A service change reaches the cluster.
    admin
        .patch("/policy/api/v1/infra/services/mine", json!({"resource_type": "Service", "service_entries": [
            {"resource_type": "L4PortSetServiceEntry", "id": "e", "l4_protocol": "UDP", "destination_ports": ["53"]}]}))
        .await
        .expect(200);
    admin
        .patch(
            &format!("{}/rules/r1", policy_url("p1")),
            json!({"resource_type": "Rule", "services": [service_path("mine")]}),
        )
        .await
        .expect(200);
    let update = session.update().await;
    assert_eq!(
        update_paths(&update),
        (
            vec![policy_path("p1"), service_path("mine")],
            vec![service_path("DNS")]
        )
    );
    session.ack(update.generation).await;
    admin
        .patch("/policy/api/v1/infra/services/mine/service-entries/e",
               json!({"resource_type": "L4PortSetServiceEntry", "l4_protocol": "UDP", "destination_ports": ["5353"]}))
        .await
        .expect(200);
    let update = session.update().await;
    assert_eq!(update_paths(&update), (vec![service_path("mine")], vec![]));
    let document = update.upserts[0].parse_document().unwrap();
    assert_eq!(
        document["service_entries"][0]["destination_ports"],
        json!(["5353"])
    );
    session.ack(update.generation).await;

    // The policy leaves the span: it and everything only it used are deleted, referrers first.
    unspan(&admin, "p1", &c1).await;
    let update = session.update().await;
    assert!(update.upserts.is_empty());
    assert_eq!(
        update
            .deletes
            .iter()
            .map(|o| o.path.clone())
            .collect::<Vec<_>>(),
        [policy_path("p1"), group_path("g2"), service_path("mine")]
    );
    session.ack(update.generation).await;

    // Spanned again, then deleted outright.
    span(&admin, "p1", &c1).await;
    let update = session.update().await;
    assert_eq!(update.upserts.len(), 3);
    session.ack(update.generation).await;
    admin.delete(&policy_url("p1")).await.expect(200);
    let update = session.update().await;
    assert_eq!(
        update_paths(&update),
        (
            vec![],
            vec![group_path("g2"), policy_path("p1"), service_path("mine")]
        )
    );
}

#[tokio::test]
async fn two_clusters_each_see_only_their_span() {
    let sim = adapter::start().await;
    let admin = Client::admin(&sim);
    let c1 = register(&sim, "c1").await;
    let c2 = register(&sim, "c2").await;
    group(&admin, "shared", &[]).await;
    group(&admin, "one", &[]).await;
    policy(
        &admin,
        "p1",
        json!({"resource_type": "SecurityPolicy", "rules": [
        {"resource_type": "Rule", "id": "r", "source_groups": [group_path("shared")],
         "destination_groups": [group_path("one")]}]}),
    )
    .await;
    span(&admin, "p1", &c1).await;
    // p2 names c2 in its scope, the 3.2-era form.
    policy(
        &admin,
        "p2",
        json!({"resource_type": "SecurityPolicy", "scope": [c2.path()], "rules": [
        {"resource_type": "Rule", "id": "r", "source_groups": [group_path("shared")]}]}),
    )
    .await;

    let (mut s1, _) = CcpSession::welcome(&sim, &c1, ccp_hello("c1")).await;
    let (mut s2, _) = CcpSession::welcome(&sim, &c2, ccp_hello("c2")).await;
    let snap1 = s1.snapshot().await;
    let snap2 = s2.snapshot().await;
    assert_eq!(
        snap1.paths(),
        [group_path("one"), group_path("shared"), policy_path("p1")]
    );
    assert_eq!(snap2.paths(), [group_path("shared"), policy_path("p2")]);
    s1.ack(snap1.generation).await;
    s2.ack(snap2.generation).await;

    // A change to p1 reaches c1 only: c2's next update is the shared group's change.
    admin
        .patch(
            &policy_url("p1"),
            json!({"resource_type": "SecurityPolicy", "description": "x"}),
        )
        .await
        .expect(200);
    assert_eq!(
        update_paths(&s1.update().await),
        (vec![policy_path("p1")], vec![])
    );
    admin
        .patch(
            &group_url("shared"),
            json!({"resource_type": "Group", "description": "both"}),
        )
        .await
        .expect(200);
    assert_eq!(
        update_paths(&s2.update().await),
        (vec![group_path("shared")], vec![])
    );
    assert_eq!(
        update_paths(&s1.update().await),
        (vec![group_path("shared")], vec![])
    );
}

#[tokio::test]
async fn the_window_holds_updates_back_and_resync_sends_a_fresh_snapshot() {
    let sim = adapter::start().await;
    let admin = Client::admin(&sim);
    let c1 = register(&sim, "c1").await;
    let mut hello = ccp_hello("c1");
    hello.max_unacked_generations = 1;
    let (mut session, welcome) = CcpSession::welcome(&sim, &c1, hello).await;
    assert_eq!(welcome.max_unacked_generations, 1);
    let snapshot = session.snapshot().await;

    // Changes while the snapshot is unacknowledged are held back and coalesced; an object
    // created and deleted meanwhile is not mentioned at all.
    let channel = sim.adapter_channel().clone();
    group(&admin, "g1", &[]).await;
    policy(
        &admin,
        "p1",
        json!({"resource_type": "SecurityPolicy", "rules": [
        {"resource_type": "Rule", "id": "r1", "source_groups": [group_path("g1")]}]}),
    )
    .await;
    span(&admin, "p1", &c1).await;
    admin
        .patch(
            &group_url("g1"),
            json!({"resource_type": "Group", "description": "latest"}),
        )
        .await
        .expect(200);
    group(&admin, "tmp", &[]).await;
    admin
        .patch(
            &format!("{}/rules/t", policy_url("p1")),
            json!({"resource_type": "Rule", "source_groups": [group_path("tmp")]}),
        )
        .await
        .expect(200);
    feed_settles(&sim, |_| {
        channel.feed().contains(&c1.path(), &group_path("tmp"))
    })
    .await;
    admin
        .delete(&format!("{}/rules/t", policy_url("p1")))
        .await
        .expect(200);
    admin.delete(&group_url("tmp")).await.expect(200);
    feed_settles(&sim, |_| {
        channel.feed().object(&group_path("tmp")).is_none()
    })
    .await;

    session.ack(snapshot.generation).await;
    let update = session.update().await;
    assert_eq!(update.generation, snapshot.generation + 1);
    assert_eq!(
        update_paths(&update),
        (vec![group_path("g1"), policy_path("p1")], vec![])
    );
    assert_eq!(
        update.upserts[0].parse_document().unwrap()["description"],
        "latest"
    );
    let policy_doc = update.upserts[1].parse_document().unwrap();
    assert_eq!(policy_doc["rules"].as_array().unwrap().len(), 1);

    // The window is closed again: a new change waits; a resync answers with a snapshot that
    // already holds it (no update was sent in between).
    admin
        .patch(
            &group_url("g1"),
            json!({"resource_type": "Group", "description": "newer"}),
        )
        .await
        .expect(200);
    feed_settles(&sim, |_| {
        channel
            .feed()
            .object(&group_path("g1"))
            .is_some_and(|o| o.nsx_object("c1").parse_document().unwrap()["description"] == "newer")
    })
    .await;
    session
        .send(ccp_adapter_message::Body::Resync(ResyncRequest {
            reason: Some(nsx_proto::v1::ChannelError::new(
                ErrorCode::ProtocolViolation,
                "test",
            )),
            last_applied_generation: update.generation,
        }))
        .await;
    let resync = session.snapshot().await;
    assert_eq!(resync.generation, update.generation + 1);
    assert_eq!(resync.paths(), [group_path("g1"), policy_path("p1")]);
    let g1: Value = serde_json::from_slice(&resync.object(&group_path("g1")).document).unwrap();
    assert_eq!(g1["description"], "newer");
    // After acking the resync snapshot, the next change flows as the next generation.
    session.ack(resync.generation).await;
    admin
        .patch(
            &group_url("g1"),
            json!({"resource_type": "Group", "description": "after"}),
        )
        .await
        .expect(200);
    let next = session.update().await;
    assert_eq!(next.previous_generation, resync.generation);
}

fn realization(object: &nsx_proto::v1::NsxObject, state: RealizationState) -> ObjectRealization {
    ObjectRealization {
        object: Some(object.object_ref()),
        state: state.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn realization_reports_become_the_realized_state() {
    let sim = adapter::start().await;
    let admin = Client::admin(&sim);
    let c1 = register(&sim, "c1").await;
    let c2 = register(&sim, "c2").await;
    group(&admin, "g1", &[]).await;
    policy(
        &admin,
        "p1",
        json!({"resource_type": "SecurityPolicy", "rules": [
        {"resource_type": "Rule", "id": "r1", "source_groups": [group_path("g1")]}]}),
    )
    .await;
    policy(&admin, "p2", json!({"resource_type": "SecurityPolicy"})).await;
    span(&admin, "p1", &c1).await;
    span(&admin, "p1", &c2).await;
    let channel = sim.adapter_channel().clone();
    feed_settles(&sim, |_| {
        channel.feed().contains(&c2.path(), &policy_path("p1"))
    })
    .await;

    // Never reported: IN_PROGRESS in both clusters; not spanned at all: UNINITIALIZED.
    let body = admin
        .get(&status_url(&policy_path("p1")))
        .await
        .expect(200)
        .body;
    assert_eq!(consolidated(&body), "IN_PROGRESS");
    assert_eq!(per_cluster(&body, "c1"), "IN_PROGRESS");
    assert_eq!(per_cluster(&body, "c2"), "IN_PROGRESS");
    let body = admin
        .get(&status_url(&policy_path("p2")))
        .await
        .expect(200)
        .body;
    assert_eq!(consolidated(&body), "UNINITIALIZED");
    admin
        .get(&status_url("/infra/domains/default/security-policies/none"))
        .await
        .expect_error(404, 600);
    admin.get(STATUS).await.expect(400);

    let (mut s1, _) = CcpSession::welcome(&sim, &c1, ccp_hello("c1")).await;
    let snap1 = s1.snapshot().await;
    let p1 = snap1.object(&policy_path("p1")).clone();
    let g1 = snap1.object(&group_path("g1")).clone();
    let mut policy_state = realization(&p1, RealizationState::Success);
    policy_state.realized_entities = vec![RealizedEntity {
        api_version: "crd.antrea.io/v1beta1".into(),
        kind: "ClusterNetworkPolicy".into(),
        name: p1.unique_id.clone(),
    }];
    let mut group_state = realization(&g1, RealizationState::Error);
    group_state.errors = vec![RealizationError {
        reason: "UnsupportedGroupExpression".into(),
        message: "group g1: condition Pod Tag cannot be expressed".into(),
        ..Default::default()
    }];
    s1.send(ccp_adapter_message::Body::Realization(RealizationReport {
        generation: snap1.generation,
        objects: vec![policy_state, group_state],
        gone: vec![],
        complete: true,
    }))
    .await;
    let body = eventually(&admin, &status_url(&policy_path("p1")), |b| {
        per_cluster(b, "c1") == "SUCCESS"
    })
    .await;
    assert_eq!(consolidated(&body), "IN_PROGRESS", "c2 has not reported");
    let body = admin
        .get(&status_url(&group_path("g1")))
        .await
        .expect(200)
        .body;
    assert_eq!(consolidated(&body), "ERROR");
    let c1_entry = body["consolidated_status_per_enforcement_point"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["enforcement_point_id"] == "c1")
        .unwrap();
    assert!(
        c1_entry["alarm"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot be expressed")
    );
    assert_eq!(c1_entry["enforcement_point_path"], c1.path());

    let (mut s2, _) = CcpSession::welcome(&sim, &c2, ccp_hello("c2")).await;
    let snap2 = s2.snapshot().await;
    s2.send(ccp_adapter_message::Body::Realization(RealizationReport {
        generation: snap2.generation,
        objects: vec![
            realization(snap2.object(&policy_path("p1")), RealizationState::Success),
            realization(snap2.object(&group_path("g1")), RealizationState::Success),
        ],
        gone: vec![],
        complete: true,
    }))
    .await;
    let body = eventually(&admin, &status_url(&policy_path("p1")), |b| {
        consolidated(b) == "SUCCESS"
    })
    .await;
    assert_eq!(body["publish_status"], "REALIZED");
    let rule = admin
        .get(&status_url(&format!("{}/rules/r1", policy_path("p1"))))
        .await
        .expect(200)
        .body;
    assert_eq!(consolidated(&rule), "SUCCESS");
    let entities = admin
        .get(&format!("{ENTITIES}?intent_path={}", policy_path("p1")))
        .await
        .expect(200)
        .body;
    let results = entities["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|e| e["state"] == "REALIZED"));
    assert!(
        results
            .iter()
            .any(|e| e["entity_type"] == "ClusterNetworkPolicy"
                && e["id"] == json!(p1.unique_id)
                && e["enforcement_point_path"] == json!(c1.path()))
    );
    let entities = admin
        .get(&format!("{ENTITIES}?intent_path={}", group_path("g1")))
        .await
        .expect(200)
        .body;
    let errors: Vec<&Value> = entities["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["state"] == "ERROR")
        .collect();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["alarms"][0]["id"], "UnsupportedGroupExpression");

    // A new revision is IN_PROGRESS until reported; a report about the old revision is stale.
    s1.ack(snap1.generation).await;
    admin
        .patch(
            &policy_url("p1"),
            json!({"resource_type": "SecurityPolicy", "description": "v2"}),
        )
        .await
        .expect(200);
    let update = s1.update().await;
    let body = admin
        .get(&status_url(&policy_path("p1")))
        .await
        .expect(200)
        .body;
    assert_eq!(per_cluster(&body, "c1"), "IN_PROGRESS");
    s1.send(ccp_adapter_message::Body::Realization(RealizationReport {
        generation: update.generation,
        objects: vec![realization(&update.upserts[0], RealizationState::Success)],
        gone: vec![],
        complete: false,
    }))
    .await;
    eventually(&admin, &status_url(&policy_path("p1")), |b| {
        per_cluster(b, "c1") == "SUCCESS"
    })
    .await;

    // Refresh: every cluster of the span is asked to report the object again.
    admin
        .call(
            Method::POST,
            &format!(
                "/policy/api/v1/infra/realized-state/realized-entity?action=refresh&intent_path={}",
                policy_path("p1")
            ),
            None,
        )
        .await
        .unwrap()
        .expect(204);
    for session in [&mut s1, &mut s2] {
        loop {
            match session.expect().await {
                ccp_manager_message::Body::Refresh(refresh) => {
                    assert_eq!(refresh.objects.len(), 1);
                    assert_eq!(refresh.objects[0].path, policy_path("p1"));
                    break;
                }
                // c2 was never told to stop at its snapshot: it also gets p1's new revision.
                ccp_manager_message::Body::Update(_) => {}
                _ => panic!("expected a refresh"),
            }
        }
    }

    // `gone` drops the record.
    s2.send(ccp_adapter_message::Body::Realization(RealizationReport {
        generation: snap2.generation,
        objects: vec![],
        gone: vec![ObjectRef {
            path: group_path("g1"),
            ..Default::default()
        }],
        complete: false,
    }))
    .await;
    eventually(&admin, &status_url(&group_path("g1")), |b| {
        per_cluster(b, "c2") == "IN_PROGRESS"
    })
    .await;
}

#[tokio::test]
async fn realized_state_and_heartbeat_config_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (c1, p1_path) = {
        let sim = adapter::start_with(adapter::test_options(), Some(dir.path())).await;
        let admin = Client::admin(&sim);
        let c1 = register(&sim, "c1").await;
        policy(&admin, "p1", json!({"resource_type": "SecurityPolicy"})).await;
        span(&admin, "p1", &c1).await;
        let channel = sim.adapter_channel().clone();
        feed_settles(&sim, |_| {
            channel.feed().contains(&c1.path(), &policy_path("p1"))
        })
        .await;
        let (session, _) = CcpSession::welcome(&sim, &c1, ccp_hello("c1")).await;
        let mut session = session;
        let snapshot = session.snapshot().await;
        session
            .send(ccp_adapter_message::Body::Realization(RealizationReport {
                generation: snapshot.generation,
                objects: vec![realization(
                    snapshot.object(&policy_path("p1")),
                    RealizationState::Success,
                )],
                gone: vec![],
                complete: true,
            }))
            .await;
        eventually(&admin, &status_url(&policy_path("p1")), |b| {
            consolidated(b) == "SUCCESS"
        })
        .await;
        admin
            .patch(
                &format!("{}/c1/heartbeat-config", adapter::CCP_URL),
                json!({"report_interval": 120}),
            )
            .await
            .expect(200);
        drop(session);
        sim.shutdown().await.unwrap();
        (c1, policy_path("p1"))
    };
    let sim = tokio::time::timeout(
        PATIENCE,
        adapter::start_with(adapter::test_options(), Some(dir.path())),
    )
    .await
    .unwrap();
    let admin = Client::admin(&sim);
    let body = admin.get(&status_url(&p1_path)).await.expect(200).body;
    assert_eq!(consolidated(&body), "SUCCESS");
    assert_eq!(per_cluster(&body, &c1.id), "SUCCESS");
    let config = admin
        .get(&format!("{}/c1/heartbeat-config", adapter::CCP_URL))
        .await
        .expect(200)
        .body;
    assert_eq!(config["report_interval"], 120);
    assert_eq!(config["_revision"], 1);
}
