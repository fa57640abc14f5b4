//! With a data directory, intent, identities, counters and the certificate survive a restart;
//! refused requests leave nothing behind.

mod common;

use common::{
    Auth, Client, antrea_group, group_path, group_url, policy_url, register_principal, start_in,
};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_in(dir.path()).await;
    let thumbprint = sim.thumbprint().to_owned();
    let ca = sim.ca_cert_pem().to_owned();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("thumbprint"))
            .unwrap()
            .trim(),
        thumbprint
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ca.crt")).unwrap(),
        ca
    );
    let admin = Client::admin(&sim);
    let (cert, key) = register_principal(&sim, "cluster-a", true).await;
    let pi = Client::new(&sim, Auth::Certificate, Some((&cert, &key)));
    pi.patch(&group_url("web"), antrea_group("web", "app|web"))
        .await
        .expect(200);
    admin
        .patch(
            &policy_url("p"),
            json!({"resource_type": "SecurityPolicy", "category": "Application", "rules": [
                {"resource_type": "Rule", "id": "r", "source_groups": ["ANY"], "destination_groups": [group_path("web")],
                 "services": ["ANY"], "action": "DROP"}]}),
        )
        .await
        .expect(200);
    // A refused request is not persisted.
    admin
        .call(
            Method::PATCH,
            &policy_url("p"),
            Some(json!({"resource_type": "SecurityPolicy", "rules": [
                {"resource_type": "Rule", "id": "bad", "source_groups": [group_path("missing")]}]})),
        )
        .await
        .unwrap()
        .expect(400);
    let node = admin.get("/api/v1/node").await.body;
    let group_before = admin.get(&group_url("web")).await.body;
    let policy_before = admin.get(&policy_url("p")).await.body;
    sim.shutdown().await.unwrap();

    let sim = start_in(dir.path()).await;
    assert_eq!(sim.thumbprint(), thumbprint);
    assert_eq!(sim.ca_cert_pem(), ca);
    let admin = Client::admin(&sim);
    assert_eq!(admin.get(&group_url("web")).await.body, group_before);
    assert_eq!(admin.get(&policy_url("p")).await.body, policy_before);
    admin
        .call(Method::GET, &format!("{}/rules/bad", policy_url("p")), None)
        .await
        .unwrap()
        .expect(404);
    assert_eq!(
        admin.get("/api/v1/node").await.body["node_uuid"],
        node["node_uuid"]
    );
    // The principal identity is still registered, and its objects still protected.
    let pi = Client::new(&sim, Auth::Certificate, Some((&cert, &key)));
    assert_eq!(
        pi.get(&group_url("web")).await.body["_protection"],
        "NOT_PROTECTED"
    );
    assert_eq!(
        admin.get(&group_url("web")).await.body["_protection"],
        "REQUIRE_OVERRIDE"
    );
    // Revisions and rule ids continue where they were.
    admin
        .patch(
            &format!("{}/rules/r2", policy_url("p")),
            json!({"resource_type": "Rule", "source_groups": ["ANY"], "destination_groups": ["ANY"], "services": ["ANY"]}),
        )
        .await
        .expect(200);
    let policy = admin.get(&policy_url("p")).await.body;
    let r = policy["rules"][0]["rule_id"].as_i64().unwrap();
    let r2 = policy["rules"][1]["rule_id"].as_i64().unwrap();
    assert!(
        r2 > r,
        "rule ids keep increasing across restarts ({r} then {r2})"
    );
    sim.shutdown().await.unwrap();
}
