//! Policy intent over HTTPS: system fields and revisions, protection, groups, services,
//! security policies and rules, `?action=revise` and referential integrity.

mod common;

use common::{Client, antrea_group, group_path, group_url, policy_url, principal_client, start};
use reqwest::Method;
use serde_json::{Value, json};

fn is_uuid(v: &Value) -> bool {
    v.as_str().is_some_and(|s| uuid::Uuid::parse_str(s).is_ok())
}

#[tokio::test]
async fn group_lifecycle_with_system_fields_and_revisions() {
    let sim = start().await;
    let admin = Client::admin(&sim);
    let url = group_url("web");
    admin
        .patch(&url, antrea_group("web", "app|web"))
        .await
        .expect(200);
    let created = admin.get(&url).await.expect(200).body;
    assert_eq!(created["path"], group_path("web"));
    assert_eq!(created["parent_path"], "/infra/domains/default");
    assert_eq!(created["relative_path"], "web");
    assert!(is_uuid(&created["unique_id"]));
    assert_eq!(created["realization_id"], created["unique_id"]);
    assert_eq!(created["_revision"], 0);
    assert_eq!(created["_create_user"], "admin");
    assert_eq!(created["_system_owned"], false);
    assert_eq!(created["_protection"], "NOT_PROTECTED");
    assert_eq!(created["marked_for_delete"], false);
    let condition = &created["expression"][0];
    assert!(
        condition["path"]
            .as_str()
            .unwrap()
            .starts_with("/infra/domains/default/groups/web/")
    );
    assert!(created["_create_time"].as_i64().unwrap() > 1_600_000_000_000);

    // PATCH merges and bumps the revision.
    admin
        .patch(
            &url,
            json!({"resource_type": "Group", "description": "web pods"}),
        )
        .await
        .expect(200);
    let patched = admin.get(&url).await.expect(200).body;
    assert_eq!(patched["_revision"], 1);
    assert_eq!(patched["description"], "web pods");
    assert_eq!(patched["group_type"], json!(["ANTREA"]));
    assert_eq!(patched["unique_id"], created["unique_id"]);
    assert_eq!(patched["_create_time"], created["_create_time"]);

    // PUT needs the current revision.
    let mut body = antrea_group("web", "app|web2");
    admin
        .call(Method::PUT, &url, Some(body.clone()))
        .await
        .unwrap()
        .expect_error(412, 500_087);
    body["_revision"] = json!(0);
    admin
        .call(Method::PUT, &url, Some(body.clone()))
        .await
        .unwrap()
        .expect_error(412, 500_087);
    body["_revision"] = json!(1);
    let replaced = admin.put(&url, body.clone()).await.expect(200).body;
    assert_eq!(replaced["_revision"], 2);
    assert!(replaced.get("description").is_none(), "PUT replaces");
    assert_eq!(replaced["expression"][0]["value"], "app|web2");
    // The same stale body again is refused.
    admin
        .call(Method::PUT, &url, Some(body))
        .await
        .unwrap()
        .expect_error(412, 500_087);
    // A stale revision in a PATCH is refused too.
    admin
        .call(
            Method::PATCH,
            &url,
            Some(json!({"resource_type": "Group", "_revision": 0})),
        )
        .await
        .unwrap()
        .expect_error(412, 500_087);

    let list = admin
        .get("/policy/api/v1/infra/domains/default/groups")
        .await
        .expect(200)
        .body;
    assert_eq!(list["result_count"], 1);
    assert!(list.get("cursor").is_none());
    admin.delete(&url).await.expect(200);
    // NSX's "object not found" (NSXLIB: ResourceNotFound; 404 / 500090 would read as stale).
    admin
        .call(Method::GET, &url, None)
        .await
        .unwrap()
        .expect_error(404, 600);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn group_validation_follows_nsx_rules() {
    let sim = start().await;
    let admin = Client::admin(&sim);
    let cond = |member: &str, key: &str, op: &str, value: &str| json!({"resource_type": "Condition", "member_type": member, "key": key, "operator": op, "value": value});
    let or = json!({"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"});
    let and = json!({"resource_type": "ConjunctionOperator", "conjunction_operator": "AND"});
    let refused = [
        // Not alternating.
        json!({"resource_type": "Group", "expression": [cond("Pod", "Tag", "EQUALS", "a|b"), cond("Pod", "Tag", "EQUALS", "c|d")]}),
        // OR inside a NestedExpression.
        json!({"resource_type": "Group", "expression": [{"resource_type": "NestedExpression", "expressions": [cond("Pod", "Tag", "EQUALS", "a|b"), or.clone(), cond("Pod", "Tag", "EQUALS", "c|d")]}]}),
        // A key the member type does not have.
        json!({"resource_type": "Group", "expression": [cond("Pod", "OSName", "EQUALS", "linux")]}),
        // CONTAINS in an ANTREA group.
        json!({"resource_type": "Group", "group_type": ["ANTREA"], "expression": [cond("Pod", "Tag", "CONTAINS", "a|b")]}),
        // A Service condition without a Namespace Name condition.
        json!({"resource_type": "Group", "group_type": ["ANTREA"], "expression": [cond("Service", "Name", "EQUALS", "cache")]}),
        // AND between criteria of different member types in an ANTREA group.
        json!({"resource_type": "Group", "group_type": ["ANTREA"], "expression": [cond("Pod", "Tag", "EQUALS", "a|b"), and.clone(), cond("Namespace", "Name", "EQUALS", "prod")]}),
        // IPv4 and IPv6 in one IPAddressExpression.
        json!({"resource_type": "Group", "expression": [{"resource_type": "IPAddressExpression", "ip_addresses": ["10.0.0.1", "fd00::1"]}]}),
    ];
    for (i, body) in refused.into_iter().enumerate() {
        let reply = admin
            .call(Method::PATCH, &group_url(&format!("bad-{i}")), Some(body))
            .await
            .unwrap();
        assert_eq!(reply.status, 400, "case {i}: {:#}", reply.body);
        assert_eq!(reply.body["error_code"], 500_100, "case {i}");
    }
    // Every expression type in one generic group.
    admin
        .patch(&group_url("db"), antrea_group("db", "app|db"))
        .await
        .expect(200);
    let every = json!({"resource_type": "Group", "expression": [
        cond("VirtualMachine", "Name", "STARTSWITH", "web"), or.clone(),
        {"resource_type": "NestedExpression", "expressions": [cond("Pod", "Tag", "EQUALS", "app|web"), and.clone(), cond("Pod", "Tag", "NOTEQUALS", "tier|db")]}, or.clone(),
        {"resource_type": "IPAddressExpression", "ip_addresses": ["10.0.0.0/24", "10.1.0.1-10.1.0.9"]}, or.clone(),
        {"resource_type": "PathExpression", "paths": [group_path("db")]}, or.clone(),
        {"resource_type": "ExternalIDExpression", "member_type": "VirtualMachine", "external_ids": ["502b1c2a"]}, or.clone(),
        {"resource_type": "MACAddressExpression", "mac_addresses": ["00:50:56:aa:bb:cc"]}, or.clone(),
        {"resource_type": "IdentityGroupExpression", "identity_groups": [{"distinguished_name": "CN=web,DC=corp", "domain_base_distinguished_name": "DC=corp"}]}
    ]});
    admin.patch(&group_url("every"), every).await.expect(200);
    let stored = admin.get(&group_url("every")).await.expect(200).body;
    assert_eq!(stored["expression"].as_array().unwrap().len(), 13);
    // The type of a group is fixed once saved.
    admin
        .call(
            Method::PATCH,
            &group_url("db"),
            Some(json!({"resource_type": "Group", "group_type": []})),
        )
        .await
        .unwrap()
        .expect_error(400, 500_100);
    // A group naming a missing group.
    admin
        .call(
            Method::PATCH,
            &group_url("dangling"),
            Some(json!({"resource_type": "Group", "expression": [{"resource_type": "PathExpression", "paths": [group_path("nope")]}]})),
        )
        .await
        .unwrap()
        .expect_error(400, 500_012);
    // Listing by member type.
    let pods = admin
        .get("/policy/api/v1/infra/domains/default/groups?member_types=VirtualMachine")
        .await
        .body;
    assert_eq!(pods["result_count"], 1);
    assert_eq!(pods["results"][0]["id"], "every");
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn objects_of_a_protected_principal_identity_need_the_override_header() {
    let sim = start().await;
    let admin = Client::admin(&sim);
    let pi = principal_client(&sim, "cluster-a", true).await;
    let url = group_url("owned");
    pi.patch(&url, antrea_group("owned", "app|web"))
        .await
        .expect(200);
    assert_eq!(
        admin.get(&url).await.body["_protection"],
        "REQUIRE_OVERRIDE"
    );
    assert_eq!(pi.get(&url).await.body["_protection"], "NOT_PROTECTED");
    let change = json!({"resource_type": "Group", "description": "admin was here"});
    admin
        .call(Method::PATCH, &url, Some(change.clone()))
        .await
        .unwrap()
        .expect_error(403, 500_102);
    admin
        .call(Method::DELETE, &url, None)
        .await
        .unwrap()
        .expect_error(403, 500_102);
    let overriding = admin.clone().with_header("X-Allow-Overwrite", "true");
    overriding.patch(&url, change).await.expect(200);
    let after = pi.get(&url).await.body;
    assert_eq!(after["_last_modified_user"], "admin");
    assert_eq!(after["_create_user"], "cluster-a");
    assert_eq!(after["_protection"], "NOT_PROTECTED");
    // Another principal identity is refused too; an unprotected one's objects are open.
    let other = principal_client(&sim, "cluster-b", false).await;
    other
        .call(Method::DELETE, &url, None)
        .await
        .unwrap()
        .expect_error(403, 500_102);
    other
        .patch(&group_url("open"), antrea_group("open", "app|x"))
        .await
        .expect(200);
    assert_eq!(
        admin.get(&group_url("open")).await.body["_protection"],
        "NOT_PROTECTED"
    );
    admin.delete(&group_url("open")).await.expect(200);
    overriding.delete(&url).await.expect(200);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn services_entries_and_defaults() {
    let sim = start().await;
    let admin = Client::admin(&sim);
    let defaults = admin
        .get("/policy/api/v1/infra/services?default_service=true")
        .await
        .body;
    let ids: Vec<&str> = defaults["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    for id in ["HTTP", "HTTPS", "SSH", "DNS", "DNS-UDP", "ICMP-ALL"] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let https = admin.get("/policy/api/v1/infra/services/HTTPS").await.body;
    assert_eq!(https["_system_owned"], true);
    assert_eq!(https["is_default"], true);
    assert_eq!(
        https["service_entries"][0]["destination_ports"],
        json!(["443"])
    );
    admin
        .call(
            Method::PATCH,
            "/policy/api/v1/infra/services/HTTPS",
            Some(json!({"resource_type": "Service", "description": "mine now"})),
        )
        .await
        .unwrap()
        .expect_error(403, 500_101);
    admin
        .call(Method::DELETE, "/policy/api/v1/infra/services/SSH", None)
        .await
        .unwrap()
        .expect_error(403, 500_101);

    let url = "/policy/api/v1/infra/services/app";
    admin
        .patch(
            url,
            json!({"resource_type": "Service", "service_entries": [
                {"resource_type": "L4PortSetServiceEntry", "id": "tcp", "l4_protocol": "TCP", "destination_ports": ["80", "8000-8080"]},
                {"resource_type": "ICMPTypeServiceEntry", "id": "ping", "protocol": "ICMPv4", "icmp_type": 8, "icmp_code": 0},
                {"resource_type": "IPProtocolServiceEntry", "id": "gre", "protocol_number": 47},
                {"resource_type": "IGMPTypeServiceEntry", "id": "igmp"},
                {"resource_type": "ALGTypeServiceEntry", "id": "ftp", "alg": "FTP", "destination_ports": ["21"]},
                {"resource_type": "NestedServiceServiceEntry", "id": "nested", "nested_service_path": "/infra/services/HTTPS"}
            ]}),
        )
        .await
        .expect(200);
    let app = admin.get(url).await.body;
    assert_eq!(app["service_entries"].as_array().unwrap().len(), 6);
    assert_eq!(app["service_type"], "NON_ETHER");
    assert_eq!(app["is_default"], false);
    let entries = admin.get(&format!("{url}/service-entries")).await.body;
    assert_eq!(entries["result_count"], 6);
    let tcp = admin.get(&format!("{url}/service-entries/tcp")).await.body;
    assert_eq!(tcp["parent_path"], "/infra/services/app");
    // An entry on its own.
    admin
        .patch(
            &format!("{url}/service-entries/udp"),
            json!({"resource_type": "L4PortSetServiceEntry", "l4_protocol": "UDP", "destination_ports": ["53"]}),
        )
        .await
        .expect(200);
    // Ethernet entries cannot join a layer-3 service.
    admin
        .call(
            Method::PATCH,
            &format!("{url}/service-entries/eth"),
            Some(json!({"resource_type": "EtherTypeServiceEntry", "ether_type": 2054})),
        )
        .await
        .unwrap()
        .expect_error(400, 500_100);
    // Too many ports.
    let ports: Vec<String> = (1..=8).map(|i| format!("{i}000-{i}001")).collect();
    admin
        .call(
            Method::PATCH,
            &format!("{url}/service-entries/many"),
            Some(json!({"resource_type": "L4PortSetServiceEntry", "l4_protocol": "TCP", "destination_ports": ports})),
        )
        .await
        .unwrap()
        .expect_error(400, 500_100);
    // PUT replaces the list of entries.
    let current = admin.get(url).await.body;
    let replaced = admin
        .put(
            url,
            json!({"resource_type": "Service", "_revision": current["_revision"], "service_entries": [
                {"resource_type": "L4PortSetServiceEntry", "id": "tcp", "l4_protocol": "TCP", "destination_ports": ["443"]}
            ]}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(replaced["service_entries"].as_array().unwrap().len(), 1);
    admin
        .call(Method::GET, &format!("{url}/service-entries/udp"), None)
        .await
        .unwrap()
        .expect(404);
    // A service nested in another is in use.
    admin
        .patch(
            "/policy/api/v1/infra/services/outer",
            json!({"resource_type": "Service", "service_entries": [
                {"resource_type": "NestedServiceServiceEntry", "id": "n", "nested_service_path": "/infra/services/app"}]}),
        )
        .await
        .expect(200);
    admin
        .call(Method::DELETE, url, None)
        .await
        .unwrap()
        .expect_error(400, 500_030);
    sim.shutdown().await.unwrap();
}

fn rule(id: &str, seq: i64, source: &str, destination: &str) -> Value {
    json!({"resource_type": "Rule", "id": id, "sequence_number": seq, "action": "ALLOW",
           "source_groups": [source], "destination_groups": [destination], "services": ["/infra/services/HTTPS"]})
}

#[tokio::test]
async fn security_policies_rules_and_rule_ids() {
    let sim = start().await;
    let admin = Client::admin(&sim);
    for g in ["a", "b"] {
        admin
            .patch(&group_url(g), antrea_group(g, &format!("app|{g}")))
            .await
            .expect(200);
    }
    let url = policy_url("p1");
    admin
        .patch(
            &url,
            json!({"resource_type": "SecurityPolicy", "category": "Application", "sequence_number": 10,
                   "scope": [group_path("a")],
                   "rules": [rule("r2", 2, &group_path("a"), &group_path("b")),
                             rule("r1", 1, "ANY", &group_path("b"))]}),
        )
        .await
        .expect(200);
    let policy = admin.get(&url).await.body;
    assert_eq!(policy["rule_count"], 2);
    assert_eq!(policy["stateful"], true);
    assert_eq!(policy["tcp_strict"], true);
    let rules = policy["rules"].as_array().unwrap();
    assert_eq!(rules[0]["id"], "r1", "rules come in sequence order");
    let r1 = &rules[0];
    assert_eq!(r1["direction"], "IN_OUT");
    assert_eq!(r1["ip_protocol"], "IPV4_IPV6");
    assert_eq!(r1["scope"], json!(["ANY"]));
    assert_eq!(r1["logged"], false);
    let ids: Vec<i64> = rules
        .iter()
        .map(|r| r["rule_id"].as_i64().unwrap())
        .collect();
    assert!(
        ids.iter().all(|id| *id >= 1000) && ids[0] != ids[1],
        "{ids:?}"
    );

    // A rule on its own: PUT answers with the rule, the rule_id survives updates.
    let r1_url = format!("{url}/rules/r1");
    let mut body = rule("r1", 1, "10.0.0.0/8", &group_path("b"));
    body["_revision"] = r1["_revision"].clone();
    body["logged"] = json!(true);
    let updated = admin.put(&r1_url, body).await.expect(200).body;
    assert_eq!(updated["rule_id"], r1["rule_id"]);
    assert_eq!(updated["logged"], true);
    admin
        .patch(&format!("{url}/rules/r3"), rule("r3", 3, "ANY", "ANY"))
        .await
        .expect(200);
    let r3 = admin.get(&format!("{url}/rules/r3")).await.body;
    assert!(r3["rule_id"].as_i64().unwrap() > ids.iter().copied().max().unwrap());
    let listed = admin.get(&format!("{url}/rules")).await.body;
    assert_eq!(listed["result_count"], 3);

    // Bad rules.
    let refused = [
        json!({"resource_type": "Rule", "action": "JUMP_TO_APPLICATION"}),
        json!({"resource_type": "Rule", "source_groups": ["ANY", group_path("a")]}),
        json!({"resource_type": "Rule", "source_groups": ["not-a-path"]}),
    ];
    for body in refused {
        admin
            .call(Method::PATCH, &format!("{url}/rules/bad"), Some(body))
            .await
            .unwrap()
            .expect_error(400, 500_100);
    }
    // A PUT of the policy with a shorter rule list deletes the others.
    let current = admin.get(&url).await.body;
    let mut replacement = json!({"resource_type": "SecurityPolicy", "category": "Application",
        "_revision": current["_revision"], "rules": [rule("r1", 1, "ANY", &group_path("b"))]});
    let replaced = admin.put(&url, replacement.clone()).await.expect(200).body;
    assert_eq!(replaced["rules"].as_array().unwrap().len(), 1);
    assert_eq!(replaced["rules"][0]["rule_id"], r1["rule_id"]);
    // Bad policies.
    replacement["_revision"] = replaced["_revision"].clone();
    for (field, value) in [
        ("category", json!("Sometimes")),
        ("sequence_number", json!(1_000_000)),
        ("tcp_strict", json!(true)),
    ] {
        let mut body = replacement.clone();
        body[field] = value;
        if field == "tcp_strict" {
            body["stateful"] = json!(false);
        }
        admin
            .call(Method::PUT, &url, Some(body))
            .await
            .unwrap()
            .expect_error(400, 500_100);
    }
    // Deleting the policy deletes its rules.
    admin.delete(&url).await.expect(200);
    admin
        .call(Method::GET, &r1_url, None)
        .await
        .unwrap()
        .expect(404);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn referential_integrity_errors() {
    let sim = start().await;
    let admin = Client::admin(&sim);
    admin
        .patch(&group_url("web"), antrea_group("web", "app|web"))
        .await
        .expect(200);
    let url = policy_url("p");
    // A rule cannot name a missing group or service.
    let reply = admin
        .call(
            Method::PATCH,
            &url,
            Some(
                json!({"resource_type": "SecurityPolicy", "category": "Application",
                        "rules": [rule("r", 1, &group_path("missing"), &group_path("web"))]}),
            ),
        )
        .await
        .unwrap()
        .expect_error(400, 500_012);
    assert!(
        reply.body["error_message"]
            .as_str()
            .unwrap()
            .contains("/infra/domains/default/groups/missing")
    );
    assert_eq!(reply.body["related_errors"][0]["error_code"], 500_013);
    // Nothing of the refused request was stored.
    admin
        .call(Method::GET, &url, None)
        .await
        .unwrap()
        .expect(404);
    let mut bad_service = rule("r", 1, "ANY", &group_path("web"));
    bad_service["services"] = json!(["/infra/services/nope"]);
    admin
        .call(
            Method::PATCH,
            &url,
            Some(json!({"resource_type": "SecurityPolicy", "rules": [bad_service]})),
        )
        .await
        .unwrap()
        .expect_error(400, 500_012);
    let mut not_a_group = rule("r", 1, "ANY", &group_path("web"));
    not_a_group["source_groups"] = json!(["/infra/services/HTTP"]);
    admin
        .call(
            Method::PATCH,
            &url,
            Some(json!({"resource_type": "SecurityPolicy", "rules": [not_a_group]})),
        )
        .await
        .unwrap()
        .expect_error(400, 500_012);

    // A group in use cannot be deleted.
    admin
        .patch(
            &url,
            json!({"resource_type": "SecurityPolicy", "category": "Application",
                   "rules": [rule("r", 1, "ANY", &group_path("web"))]}),
        )
        .await
        .expect(200);
    let reply = admin
        .call(Method::DELETE, &group_url("web"), None)
        .await
        .unwrap()
        .expect_error(400, 500_030);
    assert!(
        reply.body["error_message"]
            .as_str()
            .unwrap()
            .contains("/infra/domains/default/security-policies/p/rules/r"),
        "{:#}",
        reply.body
    );
    // A service in use neither.
    admin
        .call(Method::DELETE, "/policy/api/v1/infra/services/HTTPS", None)
        .await
        .unwrap()
        .expect(403); // system owned before in use
    admin
        .patch(
            "/policy/api/v1/infra/services/mine",
            json!({"resource_type": "Service", "service_entries": [{"resource_type": "L4PortSetServiceEntry", "id": "e", "l4_protocol": "TCP", "destination_ports": ["9"]}]}),
        )
        .await
        .expect(200);
    admin
        .patch(
            &format!("{url}/rules/r2"),
            json!({"resource_type": "Rule", "services": ["/infra/services/mine"]}),
        )
        .await
        .expect(200);
    admin
        .call(Method::DELETE, "/policy/api/v1/infra/services/mine", None)
        .await
        .unwrap()
        .expect_error(400, 500_030);
    // force=true deletes a group in use.
    admin
        .patch(&group_url("forced"), antrea_group("forced", "app|f"))
        .await
        .expect(200);
    admin
        .patch(
            &format!("{url}/rules/r3"),
            json!({"resource_type": "Rule", "destination_groups": [group_path("forced")]}),
        )
        .await
        .expect(200);
    admin
        .delete(&format!("{}?force=true", group_url("forced")))
        .await
        .expect(200);
    // Once the policy is gone, the group and service can go.
    admin.delete(&url).await.expect(200);
    admin.delete(&group_url("web")).await.expect(200);
    admin
        .delete("/policy/api/v1/infra/services/mine")
        .await
        .expect(200);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn revise_reorders_policies_and_rules() {
    let sim = start().await;
    let admin = Client::admin(&sim);
    for (id, seq) in [("p1", 10), ("p2", 20), ("p3", 30)] {
        admin
            .patch(
                &policy_url(id),
                json!({"resource_type": "SecurityPolicy", "category": "Application", "sequence_number": seq}),
            )
            .await
            .expect(200);
    }
    admin
        .patch(
            &policy_url("other"),
            json!({"resource_type": "SecurityPolicy", "category": "Emergency", "sequence_number": 1}),
        )
        .await
        .expect(200);
    let order = |admin: Client| async move {
        let list = admin
            .get("/policy/api/v1/infra/domains/default/security-policies?sort_by=sequence_number")
            .await
            .body;
        list["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["category"] == "Application")
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let revised = admin
        .post(
            &format!("{}?action=revise&operation=insert_top", policy_url("p3")),
            Some(json!({"resource_type": "SecurityPolicy", "description": "first"})),
        )
        .await
        .expect(200)
        .body;
    assert!(revised["sequence_number"].as_i64().unwrap() < 10);
    assert_eq!(revised["description"], "first");
    assert_eq!(revised["_revision"], 1, "one request, one revision");
    assert_eq!(order(admin.clone()).await, ["p3", "p1", "p2"]);
    admin
        .post(
            &format!(
                "{}?action=revise&operation=insert_after&anchor_path=/infra/domains/default/security-policies/p2",
                policy_url("p3")
            ),
            None,
        )
        .await
        .expect(200);
    assert_eq!(order(admin.clone()).await, ["p1", "p2", "p3"]);
    admin
        .post(
            &format!(
                "{}?action=revise&operation=insert_before&anchor_path=/infra/domains/default/security-policies/p1",
                policy_url("p2")
            ),
            None,
        )
        .await
        .expect(200);
    assert_eq!(order(admin.clone()).await, ["p2", "p1", "p3"]);
    // The anchor must be a sibling in the same category.
    admin
        .call(
            Method::POST,
            &format!(
                "{}?action=revise&operation=insert_after&anchor_path=/infra/domains/default/security-policies/other",
                policy_url("p1")
            ),
            None,
        )
        .await
        .unwrap()
        .expect_error(400, 500_100);
    // Rules: no gap forces a renumbering that keeps the order.
    admin
        .patch(
            &policy_url("p1"),
            json!({"resource_type": "SecurityPolicy", "rules": [
                rule("a", 1, "ANY", "ANY"), rule("b", 2, "ANY", "ANY"), rule("c", 3, "ANY", "ANY")]}),
        )
        .await
        .expect(200);
    admin
        .post(
            &format!(
                "{}/rules/c?action=revise&operation=insert_after&anchor_path=/infra/domains/default/security-policies/p1/rules/a",
                policy_url("p1")
            ),
            None,
        )
        .await
        .expect(200);
    let rules: Vec<String> = admin.get(&policy_url("p1")).await.body["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(rules, ["a", "c", "b"]);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn domains() {
    let sim = start().await;
    let admin = Client::admin(&sim);
    let domains = admin.get("/policy/api/v1/infra/domains").await.body;
    assert_eq!(domains["results"][0]["id"], "default");
    assert_eq!(domains["results"][0]["_system_owned"], true);
    admin
        .call(Method::DELETE, "/policy/api/v1/infra/domains/default", None)
        .await
        .unwrap()
        .expect_error(403, 500_101);
    admin
        .patch(
            "/policy/api/v1/infra/domains/tenant",
            json!({"resource_type": "Domain"}),
        )
        .await
        .expect(200);
    admin
        .patch(
            "/policy/api/v1/infra/domains/tenant/groups/g",
            antrea_group("g", "a|b"),
        )
        .await
        .expect(200);
    // A group in another domain's rule keeps the domain in use.
    admin
        .patch(
            &policy_url("p"),
            json!({"resource_type": "SecurityPolicy", "rules": [rule("r", 1, "/infra/domains/tenant/groups/g", "ANY")]}),
        )
        .await
        .expect(200);
    admin
        .call(Method::DELETE, "/policy/api/v1/infra/domains/tenant", None)
        .await
        .unwrap()
        .expect_error(400, 500_030);
    admin.delete(&policy_url("p")).await.expect(200);
    admin
        .delete("/policy/api/v1/infra/domains/tenant")
        .await
        .expect(200);
    admin
        .call(
            Method::GET,
            "/policy/api/v1/infra/domains/tenant/groups/g",
            None,
        )
        .await
        .unwrap()
        .expect(404);
    // Creating under a missing parent fails.
    admin
        .call(
            Method::PATCH,
            "/policy/api/v1/infra/domains/nowhere/groups/g",
            Some(antrea_group("g", "a|b")),
        )
        .await
        .unwrap()
        .expect(404);
    sim.shutdown().await.unwrap();
}
