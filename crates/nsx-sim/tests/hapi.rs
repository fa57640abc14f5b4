//! The hierarchical API: create, update and delete in one `PATCH /infra`, all-or-nothing, and
//! the hierarchical `GET /infra`.

mod common;

use common::{Client, antrea_group, group_path, group_url, policy_url, start};
use reqwest::Method;
use serde_json::{Value, json};

fn child_group(id: &str, tag: &str) -> Value {
    json!({"resource_type": "ChildGroup", "Group": antrea_group(id, tag)})
}

fn child_rule(id: &str, seq: i64, destination: &str) -> Value {
    json!({"resource_type": "ChildRule", "Rule": {"resource_type": "Rule", "id": id, "sequence_number": seq,
           "action": "ALLOW", "direction": "IN", "source_groups": ["ANY"], "destination_groups": [destination],
           "services": ["ANY"]}})
}

fn default_domain(children: Vec<Value>) -> Value {
    json!({"resource_type": "Infra", "children": [
        {"resource_type": "ChildResourceReference", "id": "default", "target_type": "Domain", "children": children}
    ]})
}

#[tokio::test]
async fn create_update_and_delete_in_one_call() {
    let sim = start().await;
    let admin = Client::admin(&sim);
    // Create: groups, a policy with rules, and a service, in one request.
    let create = json!({"resource_type": "Infra", "children": [
        {"resource_type": "ChildResourceReference", "id": "default", "target_type": "Domain", "children": [
            child_group("web", "app|web"),
            child_group("db", "app|db"),
            {"resource_type": "ChildSecurityPolicy", "SecurityPolicy": {
                "resource_type": "SecurityPolicy", "id": "p1", "category": "Application", "sequence_number": 5,
                "children": [child_rule("r1", 1, &group_path("web")), child_rule("r2", 2, &group_path("db"))]}}
        ]},
        {"resource_type": "ChildService", "Service": {"resource_type": "Service", "id": "app", "children": [
            {"resource_type": "ChildServiceEntry", "ServiceEntry": {"resource_type": "L4PortSetServiceEntry", "id": "tcp",
             "l4_protocol": "TCP", "destination_ports": ["8080"]}}]}}
    ]});
    admin
        .patch("/policy/api/v1/infra", create)
        .await
        .expect(200);
    let policy = admin.get(&policy_url("p1")).await.body;
    assert_eq!(policy["rules"].as_array().unwrap().len(), 2);
    let r1_id = policy["rules"][0]["rule_id"].clone();
    let service = admin.get("/policy/api/v1/infra/services/app").await.body;
    assert_eq!(
        service["service_entries"][0]["destination_ports"],
        json!(["8080"])
    );

    // Update one rule, add a group and a rule, delete a rule and a group, in one request.
    let mut r1 = child_rule("r1", 1, &group_path("web"));
    r1["Rule"]["services"] = json!(["/infra/services/app"]);
    let change = default_domain(vec![
        child_group("cache", "app|cache"),
        {
            json!({"resource_type": "ChildResourceReference", "id": "p1", "target_type": "SecurityPolicy",
                   "children": [r1, child_rule("r3", 3, &group_path("cache")),
                                {"resource_type": "ChildRule", "marked_for_delete": true, "Rule": {"resource_type": "Rule", "id": "r2"}}]})
        },
        json!({"resource_type": "ChildGroup", "marked_for_delete": true, "Group": {"resource_type": "Group", "id": "db"}}),
    ]);
    admin
        .patch("/policy/api/v1/infra", change)
        .await
        .expect(200);
    let policy = admin.get(&policy_url("p1")).await.body;
    let ids: Vec<&str> = policy["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["r1", "r3"]);
    assert_eq!(
        policy["rules"][0]["services"],
        json!(["/infra/services/app"])
    );
    assert_eq!(
        policy["rules"][0]["rule_id"], r1_id,
        "rule_id survives updates"
    );
    assert_eq!(policy["rules"][0]["_revision"], 1);
    admin
        .call(Method::GET, &group_url("db"), None)
        .await
        .unwrap()
        .expect(404);
    admin.get(&group_url("cache")).await.expect(200);

    // Delete everything in one request.
    let delete = json!({"resource_type": "Infra", "children": [
        {"resource_type": "ChildResourceReference", "id": "default", "target_type": "Domain", "children": [
            {"resource_type": "ChildSecurityPolicy", "marked_for_delete": true, "SecurityPolicy": {"resource_type": "SecurityPolicy", "id": "p1"}},
            {"resource_type": "ChildGroup", "marked_for_delete": true, "Group": {"resource_type": "Group", "id": "web"}},
            {"resource_type": "ChildGroup", "marked_for_delete": true, "Group": {"resource_type": "Group", "id": "cache"}}
        ]},
        {"resource_type": "ChildService", "marked_for_delete": true, "Service": {"resource_type": "Service", "id": "app"}}
    ]});
    admin
        .patch("/policy/api/v1/infra", delete)
        .await
        .expect(200);
    let groups = admin
        .get("/policy/api/v1/infra/domains/default/groups")
        .await
        .body;
    assert_eq!(groups["result_count"], 0);
    admin
        .call(Method::GET, &policy_url("p1"), None)
        .await
        .unwrap()
        .expect(404);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_failing_child_aborts_the_whole_request() {
    let sim = start().await;
    let admin = Client::admin(&sim);
    admin
        .patch(&group_url("kept"), antrea_group("kept", "app|kept"))
        .await
        .expect(200);
    let before = admin.get(&group_url("kept")).await.body;
    let body = default_domain(vec![
        child_group("new-1", "app|n1"),
        json!({"resource_type": "ChildGroup", "marked_for_delete": true, "Group": {"resource_type": "Group", "id": "kept"}}),
        json!({"resource_type": "ChildSecurityPolicy", "SecurityPolicy": {"resource_type": "SecurityPolicy", "id": "p",
               "children": [child_rule("r", 1, &group_path("does-not-exist"))]}}),
    ]);
    admin
        .call(Method::PATCH, "/policy/api/v1/infra", Some(body))
        .await
        .unwrap()
        .expect_error(400, 500_012);
    assert_eq!(admin.get(&group_url("kept")).await.body, before);
    admin
        .call(Method::GET, &group_url("new-1"), None)
        .await
        .unwrap()
        .expect(404);
    // A reference to a missing parent, and an unsupported child type.
    let missing_parent = json!({"resource_type": "Infra", "children": [
        {"resource_type": "ChildResourceReference", "id": "nope", "target_type": "Domain", "children": [child_group("x", "a|b")]}]});
    admin
        .call(Method::PATCH, "/policy/api/v1/infra", Some(missing_parent))
        .await
        .unwrap()
        .expect_error(400, 500_012);
    let unsupported = json!({"resource_type": "Infra", "children": [{"resource_type": "ChildTier0", "Tier0": {"id": "t0"}}]});
    admin
        .raw(
            Method::PATCH,
            "/policy/api/v1/infra",
            Some(unsupported.to_string().into_bytes()),
            None,
        )
        .await
        .unwrap()
        .expect(400);
    // A group at the wrong level.
    let misplaced = json!({"resource_type": "Infra", "children": [child_group("x", "a|b")]});
    admin
        .call(Method::PATCH, "/policy/api/v1/infra", Some(misplaced))
        .await
        .unwrap()
        .expect_error(400, 500_100);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn revision_check_is_opt_in() {
    let sim = start().await;
    let admin = Client::admin(&sim);
    admin
        .patch(&group_url("g"), antrea_group("g", "a|b"))
        .await
        .expect(200);
    let mut stale = antrea_group("g", "a|c");
    stale["_revision"] = json!(7);
    let body = default_domain(vec![json!({"resource_type": "ChildGroup", "Group": stale})]);
    admin
        .call(
            Method::PATCH,
            "/policy/api/v1/infra?enforce_revision_check=true",
            Some(body.clone()),
        )
        .await
        .unwrap()
        .expect_error(412, 500_087);
    admin.patch("/policy/api/v1/infra", body).await.expect(200);
    assert_eq!(admin.get(&group_url("g")).await.body["_revision"], 1);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn hierarchical_get_returns_child_wrappers() {
    let sim = start().await;
    let admin = Client::admin(&sim);
    let create = default_domain(vec![
        child_group("web", "app|web"),
        json!({"resource_type": "ChildSecurityPolicy", "SecurityPolicy": {"resource_type": "SecurityPolicy", "id": "p",
               "children": [child_rule("r", 1, &group_path("web"))]}}),
    ]);
    admin
        .patch("/policy/api/v1/infra", create)
        .await
        .expect(200);
    let plain = admin.get("/policy/api/v1/infra").await.body;
    assert_eq!(plain["resource_type"], "Infra");
    assert!(plain.get("children").is_none());

    let tree = admin
        .get("/policy/api/v1/infra?filter=Type-Domain%7CGroup%7CSecurityPolicy%7CRule")
        .await
        .body;
    let domain = tree["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["resource_type"] == "ChildDomain")
        .unwrap();
    assert_eq!(domain["Domain"]["id"], "default");
    let kids = domain["Domain"]["children"].as_array().unwrap();
    let group = kids
        .iter()
        .find(|c| c["resource_type"] == "ChildGroup")
        .unwrap();
    assert_eq!(group["Group"]["id"], "web");
    let policy = kids
        .iter()
        .find(|c| c["resource_type"] == "ChildSecurityPolicy")
        .unwrap();
    assert_eq!(policy["SecurityPolicy"]["children"][0]["Rule"]["id"], "r");
    assert!(
        tree["children"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["resource_type"] != "ChildService"),
        "services were filtered out"
    );
    let services = admin
        .get("/policy/api/v1/infra?type_filter=Service")
        .await
        .body;
    assert!(services["children"].as_array().unwrap().len() >= 6);
    let subtree = admin
        .get("/policy/api/v1/infra?base_path=/infra/domains/default/security-policies/p")
        .await
        .body;
    let reference = &subtree["children"][0];
    assert_eq!(reference["resource_type"], "ChildResourceReference");
    assert_eq!(
        reference["children"][0]["SecurityPolicy"]["children"][0]["Rule"]["id"],
        "r"
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_default_domain_can_be_wrapped_but_not_changed() {
    let sim = start().await;
    let admin = Client::admin(&sim);
    let wrapped = |domain: Value| json!({"resource_type": "Infra", "children": [{"resource_type": "ChildDomain", "Domain": domain}]});
    admin
        .patch(
            "/policy/api/v1/infra",
            wrapped(json!({"resource_type": "Domain", "id": "default", "children": [child_group("g", "a|b")]})),
        )
        .await
        .expect(200);
    admin.get(&group_url("g")).await.expect(200);
    let domain = admin.get("/policy/api/v1/infra/domains/default").await.body;
    assert_eq!(
        domain["_revision"], 0,
        "naming the domain does not change it"
    );
    admin
        .call(
            Method::PATCH,
            "/policy/api/v1/infra",
            Some(wrapped(
                json!({"resource_type": "Domain", "id": "default", "description": "mine"}),
            )),
        )
        .await
        .unwrap()
        .expect_error(403, 500_101);
    // The Infra object's own fields can be patched.
    admin
        .patch(
            "/policy/api/v1/infra",
            json!({"resource_type": "Infra", "tags": [{"scope": "owner", "tag": "tests"}]}),
        )
        .await
        .expect(200);
    let infra = admin.get("/policy/api/v1/infra").await.body;
    assert_eq!(infra["tags"][0]["tag"], "tests");
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn put_infra_updates_only_the_infra_object_and_patch_is_bounded() {
    let sim = start().await;
    let admin = Client::admin(&sim);
    let infra = admin.get("/policy/api/v1/infra").await.body;
    admin
        .call(
            Method::PUT,
            "/policy/api/v1/infra",
            Some(json!({"resource_type": "Infra", "_revision": infra["_revision"],
                        "children": [{"resource_type": "ChildService", "Service": {"resource_type": "Service", "id": "s"}}]})),
        )
        .await
        .unwrap()
        .expect_error(400, 500_100);
    admin
        .call(
            Method::PUT,
            "/policy/api/v1/infra",
            Some(json!({"resource_type": "Infra", "description": "no revision"})),
        )
        .await
        .unwrap()
        .expect_error(412, 500_087);
    let updated = admin
        .put(
            "/policy/api/v1/infra",
            json!({"resource_type": "Infra", "_revision": infra["_revision"], "description": "replaced"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(updated["description"], "replaced");
    // More than 5000 objects in one hierarchical request are refused.
    let children: Vec<Value> = (0..5001)
        .map(|i| child_group(&format!("g{i}"), "a|b"))
        .collect();
    admin
        .call(
            Method::PATCH,
            "/policy/api/v1/infra",
            Some(default_domain(children)),
        )
        .await
        .unwrap()
        .expect_error(400, 500_100);
    sim.shutdown().await.unwrap();
}
