//! The CCP adapter end to end, against nsx-sim and kube-emu with the Antrea emulation: an
//! admin's NSX edits (create, update, reorder, delete of policies, rules and groups; span
//! changes) reach the cluster, and realization comes back in NSX's realized-state API;
//! invalid NSX input is reported as errors while the rest applies; manual edits and
//! deletions of owned objects are reverted; look-alike objects are never touched.

mod ccp_common;

use adapter_core::ccp::naming::{CLUSTER_ID_LABEL, MANAGED_BY, MANAGED_BY_LABEL, ROLE_LABEL};
use adapter_runtime::ccp::CcpMetrics;
use antrea_types::{ClusterGroup, ClusterNetworkPolicy};
use ccp_common::*;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

/// The TCP ports of a policy's ingress rules, in order.
fn ingress_ports(policy: &ClusterNetworkPolicy) -> Vec<i64> {
    let spec = serde_json::to_value(&policy.spec).unwrap();
    spec["ingress"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .filter_map(|rule| rule["ports"][0]["port"].as_i64())
                .collect()
        })
        .unwrap_or_default()
}

fn ingress_actions(policy: &ClusterNetworkPolicy) -> Vec<String> {
    let spec = serde_json::to_value(&policy.spec).unwrap();
    spec["ingress"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .map(|rule| rule["action"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn pod_selector_value(group: &ClusterGroup) -> Option<String> {
    let spec = serde_json::to_value(&group.spec).unwrap();
    let selector = &spec["podSelector"];
    selector["matchExpressions"][0]["values"][0]
        .as_str()
        .or_else(|| selector["matchLabels"]["app"].as_str())
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nsx_policies_rules_and_groups_reach_the_cluster_and_realization_comes_back() {
    let env = env("c1").await;
    let admin = &env.admin;
    let c1 = env.cluster.id.clone();
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
    span(admin, "p1", &env.cluster).await;
    let adapter = start_adapter(&env).await;
    let p1 = policy_path("p1");

    // Created, realized by Antrea, reported SUCCESS at the current revision.
    let cnp = wait_policy(&env.client, &c1, &p1, "p1 created", |p| {
        ingress_ports(p) == [5432]
    })
    .await;
    assert_eq!(ingress_actions(&cnp), ["Allow"]);
    wait_nsx(admin, &p1, "SUCCESS").await;
    wait_nsx(admin, &group_path("web"), "SUCCESS").await;
    wait_nsx(admin, &group_path("db"), "SUCCESS").await;
    let entities: Value = admin
        .get_json(&format!(
            "/policy/api/v1/infra/realized-state/realized-entities?intent_path={p1}"
        ))
        .await
        .unwrap();
    assert!(
        entities.to_string().contains("ClusterNetworkPolicy")
            && entities
                .to_string()
                .contains(cnp.metadata.name.as_deref().unwrap()),
        "{entities:#}"
    );

    // A rule added, then the two reordered, then one action changed.
    policy(
        admin,
        "p1",
        10,
        "db",
        json!([
            ingress_rule("r1", 1, &["web"], 5432, "ALLOW"),
            ingress_rule("r2", 2, &["web"], 8080, "DROP")
        ]),
    )
    .await;
    wait_policy(&env.client, &c1, &p1, "rule r2 added", |p| {
        ingress_ports(p) == [5432, 8080]
    })
    .await;
    policy(
        admin,
        "p1",
        10,
        "db",
        json!([
            ingress_rule("r1", 3, &["web"], 5432, "ALLOW"),
            ingress_rule("r2", 2, &["web"], 8080, "REJECT")
        ]),
    )
    .await;
    let cnp = wait_policy(&env.client, &c1, &p1, "rules reordered", |p| {
        ingress_ports(p) == [8080, 5432]
    })
    .await;
    assert_eq!(ingress_actions(&cnp), ["Reject", "Allow"]);
    wait_nsx(admin, &p1, "SUCCESS").await;

    // A group's criterion changes: its ClusterGroup follows.
    pod_group(admin, "web", "frontend").await;
    eventually("web selects app=frontend", || async {
        groups_for(&env.client, &c1, &group_path("web"))
            .await
            .iter()
            .any(|g| pod_selector_value(g).as_deref() == Some("frontend"))
            .then_some(())
    })
    .await;
    wait_nsx(admin, &group_path("web"), "SUCCESS").await;

    // A second policy in another category, and policy order: a lower sequence number
    // comes first (a lower Antrea priority number within the tier).
    pod_group(admin, "api", "api").await;
    policy(
        admin,
        "p2",
        20,
        "db",
        json!([ingress_rule("r3", 1, &["api"], 9000, "ALLOW")]),
    )
    .await;
    policy_in(
        admin,
        "p3",
        "Emergency",
        5,
        "db",
        json!([ingress_rule("r4", 1, &["api"], 22, "DROP")]),
    )
    .await;
    span(admin, "p2", &env.cluster).await;
    span(admin, "p3", &env.cluster).await;
    let p2 = policy_path("p2");
    let p3 = policy_path("p3");
    let first = wait_policy(&env.client, &c1, &p1, "p1", |_| true).await;
    let second = wait_policy(&env.client, &c1, &p2, "p2 created", |_| true).await;
    let emergency = wait_policy(&env.client, &c1, &p3, "p3 created", |_| true).await;
    assert_eq!(first.spec.tier, second.spec.tier);
    assert_ne!(first.spec.tier, emergency.spec.tier);
    assert!(first.spec.priority < second.spec.priority);
    // Reorder: p2 before p1.
    policy(
        admin,
        "p2",
        5,
        "db",
        json!([ingress_rule("r3", 1, &["api"], 9000, "ALLOW")]),
    )
    .await;
    eventually("p2 ahead of p1", || async {
        let first = policies_for(&env.client, &c1, &p1).await;
        let second = policies_for(&env.client, &c1, &p2).await;
        (first.len() == 1 && second.len() == 1 && second[0].spec.priority < first[0].spec.priority)
            .then_some(())
    })
    .await;
    for path in [&p1, &p2, &p3] {
        wait_nsx(admin, path, "SUCCESS").await;
    }

    // A rule deleted, then a policy deleted: its objects, and the groups only it used, go.
    policy(
        admin,
        "p1",
        10,
        "db",
        json!([ingress_rule("r2", 2, &["web"], 8080, "REJECT")]),
    )
    .await;
    delete(admin, &format!("{p1}/rules/r1")).await;
    wait_policy(&env.client, &c1, &p1, "rule r1 deleted", |p| {
        ingress_ports(p) == [8080]
    })
    .await;
    delete(admin, &p2).await;
    eventually("p2 deleted from the cluster", || async {
        policies_for(&env.client, &c1, &p2)
            .await
            .is_empty()
            .then_some(())
    })
    .await;
    delete(admin, &p3).await;
    eventually("p3 and group api gone", || async {
        (policies_for(&env.client, &c1, &p3).await.is_empty()
            && groups_for(&env.client, &c1, &group_path("api"))
                .await
                .is_empty())
        .then_some(())
    })
    .await;
    wait_nsx(admin, &p1, "SUCCESS").await;
    let metrics = adapter.metrics();
    assert!(CcpMetrics::get(&metrics.writes) > 0);
    assert_eq!(CcpMetrics::get(&metrics.write_errors), 0);
    let status = wait_status(&adapter, "synced", |s| {
        s.synced && s.realization.in_progress == 0
    })
    .await;
    assert!(status.connected);
    assert_eq!(status.last_error, None);
    adapter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn span_changes_add_and_remove_policies() {
    let env = env("c1").await;
    let admin = &env.admin;
    let c1 = env.cluster.id.clone();
    let c2 = register(&env.sim, admin, "c2").await;
    pod_group(admin, "web", "web").await;
    pod_group(admin, "db", "db").await;
    policy(
        admin,
        "shared",
        10,
        "db",
        json!([ingress_rule("r1", 1, &["web"], 80, "ALLOW")]),
    )
    .await;
    policy(
        admin,
        "other",
        20,
        "web",
        json!([ingress_rule("r2", 1, &["db"], 81, "ALLOW")]),
    )
    .await;
    span(admin, "shared", &env.cluster).await;
    span(admin, "shared", &c2).await;
    span(admin, "other", &c2).await;
    let adapter = start_adapter(&env).await;
    let shared = policy_path("shared");
    let other = policy_path("other");
    wait_policy(&env.client, &c1, &shared, "shared in c1", |_| true).await;
    wait_status(&adapter, "synced", |s| s.synced).await;
    // Only what is spanned to this cluster.
    assert!(policies_for(&env.client, &c1, &other).await.is_empty());
    assert_eq!(owned_counts(&env.client, &c1).await.2, 1);

    // `other` enters the span, `shared` leaves it.
    span(admin, "other", &env.cluster).await;
    wait_policy(&env.client, &c1, &other, "other enters c1", |_| true).await;
    unspan(admin, "shared", &env.cluster).await;
    eventually("shared leaves c1", || async {
        policies_for(&env.client, &c1, &shared)
            .await
            .is_empty()
            .then_some(())
    })
    .await;
    // Also spanned to c2, where no adapter runs: SUCCESS for c1 only.
    let status = wait_nsx_for(admin, &other, &c1, "SUCCESS").await;
    assert_eq!(
        status["consolidated_status"]["consolidated_status"], "IN_PROGRESS",
        "{status:#}"
    );
    // `shared` no longer in c1: only c2's (missing) state counts.
    let status = nsx_status(admin, &shared).await;
    let clusters = status["consolidated_status_per_enforcement_point"].to_string();
    assert!(!clusters.contains(&format!("\"{c1}\"")), "{status:#}");
    // And back again.
    span(admin, "shared", &env.cluster).await;
    wait_policy(&env.client, &c1, &shared, "shared back in c1", |_| true).await;
    let status = wait_status(&adapter, "synced again", |s| s.synced).await;
    assert_eq!(status.owned_objects as usize, {
        let (tiers, groups, policies) = owned_counts(&env.client, &c1).await;
        tiers + groups + policies
    });
    adapter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_nsx_input_is_reported_while_the_rest_applies() {
    let env = env("c1").await;
    let admin = &env.admin;
    let c1 = env.cluster.id.clone();
    pod_group(admin, "web", "web").await;
    pod_group(admin, "db", "db").await;
    ip_group(admin, "ips", &["10.0.0.0/24"]).await;
    patch(
        admin,
        &group_path("vms"),
        json!({"resource_type": "Group", "display_name": "vms",
               "expression": [{"resource_type": "Condition", "member_type": "VirtualMachine",
                               "key": "Tag", "operator": "EQUALS", "value": "a|b"}]}),
    )
    .await;
    policy(
        admin,
        "good",
        10,
        "db",
        json!([ingress_rule("r1", 1, &["web"], 80, "ALLOW")]),
    )
    .await;
    let mut negated = ingress_rule("r2", 1, &["web"], 81, "ALLOW");
    negated["sources_excluded"] = json!(true);
    policy(admin, "negated", 20, "db", json!([negated])).await;
    // An IP group as applied-to: Antrea selects Pods only.
    policy(
        admin,
        "ipscope",
        30,
        "ips",
        json!([ingress_rule("r3", 1, &["web"], 82, "ALLOW")]),
    )
    .await;
    policy(
        admin,
        "nonantrea",
        40,
        "db",
        json!([ingress_rule("r4", 1, &["vms"], 83, "ALLOW")]),
    )
    .await;
    for id in ["good", "negated", "ipscope", "nonantrea"] {
        span(admin, id, &env.cluster).await;
    }
    let adapter = start_adapter(&env).await;
    wait_policy(
        &env.client,
        &c1,
        &policy_path("good"),
        "good applied",
        |_| true,
    )
    .await;
    wait_nsx(admin, &policy_path("good"), "SUCCESS").await;
    for (id, reason) in [
        ("negated", "NegationUnsupported"),
        ("ipscope", "IPGroupInAppliedTo"),
        ("nonantrea", "UnsupportedGroup"),
    ] {
        let status = wait_nsx(admin, &policy_path(id), "ERROR").await;
        assert!(status.to_string().contains(reason), "{id}: {status:#}");
        assert!(
            policies_for(&env.client, &c1, &policy_path(id))
                .await
                .is_empty()
        );
    }
    let status = wait_nsx(admin, &group_path("vms"), "ERROR").await;
    assert!(
        status.to_string().contains("UnsupportedGroup"),
        "{status:#}"
    );

    // Fixing the input clears the error.
    let mut fixed = ingress_rule("r2", 1, &["web"], 81, "ALLOW");
    fixed["sources_excluded"] = json!(false);
    policy(admin, "negated", 20, "db", json!([fixed])).await;
    wait_policy(
        &env.client,
        &c1,
        &policy_path("negated"),
        "fixed policy applied",
        |_| true,
    )
    .await;
    wait_nsx(admin, &policy_path("negated"), "SUCCESS").await;
    let status = wait_status(&adapter, "counts", |s| {
        s.synced && s.realization.in_progress == 0
    })
    .await;
    assert!(status.realization.error >= 3, "{status:?}");
    adapter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_edits_and_deletions_are_reverted_and_look_alikes_are_left_alone() {
    let env = env("c1").await;
    let admin = &env.admin;
    let c1 = env.cluster.id.clone();
    pod_group(admin, "web", "web").await;
    pod_group(admin, "db", "db").await;
    policy(
        admin,
        "p1",
        10,
        "db",
        json!([ingress_rule("r1", 1, &["web"], 443, "ALLOW")]),
    )
    .await;
    span(admin, "p1", &env.cluster).await;
    let p1 = policy_path("p1");

    // Look-alikes made before the adapter starts: same labels for another cluster, and our
    // managed-by label without a cluster label.
    let policies: Api<ClusterNetworkPolicy> = Api::all(env.client.clone());
    let lookalike = |name: &str, labels: Value| -> ClusterNetworkPolicy {
        serde_json::from_value(json!({
            "apiVersion": "crd.antrea.io/v1beta1", "kind": "ClusterNetworkPolicy",
            "metadata": {"name": name, "labels": labels},
            "spec": {"priority": 5, "tier": "application",
                     "appliedTo": [{"podSelector": {}}],
                     "ingress": [{"action": "Allow", "from": [{"podSelector": {}}]}]}
        }))
        .unwrap()
    };
    let other_cluster = policies
        .create(
            &PostParams::default(),
            &lookalike(
                "other-cluster",
                json!({MANAGED_BY_LABEL: MANAGED_BY, CLUSTER_ID_LABEL: "c9", ROLE_LABEL: "policy"}),
            ),
        )
        .await
        .unwrap();
    let unlabelled = policies
        .create(
            &PostParams::default(),
            &lookalike("no-cluster", json!({MANAGED_BY_LABEL: MANAGED_BY})),
        )
        .await
        .unwrap();

    let adapter = start_adapter(&env).await;
    let original = wait_policy(&env.client, &c1, &p1, "p1 created", |_| true).await;
    wait_status(&adapter, "synced", |s| s.synced).await;
    wait_nsx(admin, &p1, "SUCCESS").await;
    let name = original.metadata.name.clone().unwrap();

    // A spec edit by hand is reverted.
    policies
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"priority": 99.5}})),
        )
        .await
        .unwrap();
    let reverted = wait_policy(&env.client, &c1, &p1, "spec edit reverted", |p| {
        p.spec == original.spec && p.metadata.generation > original.metadata.generation
    })
    .await;
    assert_eq!(reverted.spec, original.spec);

    // A label or annotation added by hand is not ours to remove; ours are restored.
    policies
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"team": "sec", ROLE_LABEL: "edited"}}})),
        )
        .await
        .unwrap();
    wait_policy(&env.client, &c1, &p1, "role label restored", |p| {
        let labels = p.metadata.labels.clone().unwrap_or_default();
        labels.get(ROLE_LABEL).map(String::as_str) == Some("policy")
            && labels.get("team").map(String::as_str) == Some("sec")
    })
    .await;

    // Deletions by hand are undone.
    policies
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
    let groups: Api<ClusterGroup> = Api::all(env.client.clone());
    let web = groups_for(&env.client, &c1, &group_path("web")).await;
    let web_names: Vec<String> = web.iter().filter_map(|g| g.metadata.name.clone()).collect();
    for group in &web_names {
        groups
            .delete(group, &DeleteParams::default())
            .await
            .unwrap();
    }
    wait_policy(&env.client, &c1, &p1, "deleted policy re-created", |p| {
        p.metadata.uid != original.metadata.uid && p.spec == original.spec
    })
    .await;
    eventually("deleted groups re-created", || async {
        let now: Vec<String> = groups_for(&env.client, &c1, &group_path("web"))
            .await
            .iter()
            .filter_map(|g| g.metadata.name.clone())
            .collect();
        (now.len() == web_names.len()).then_some(())
    })
    .await;
    wait_status(&adapter, "synced again", |s| s.synced).await;
    wait_nsx(admin, &p1, "SUCCESS").await;
    assert!(CcpMetrics::get(&adapter.metrics().drift_repairs) >= 3);

    // The look-alikes were never touched (Antrea writes their status; nobody else writes).
    let writes = policy_writes(&env.emu);
    for before in [&other_cluster, &unlabelled] {
        let name = before.metadata.name.as_deref().unwrap();
        let now = policies.get(name).await.unwrap();
        assert_eq!(now.spec, before.spec, "{name}");
        assert_eq!(now.metadata.labels, before.metadata.labels, "{name}");
        assert_eq!(
            now.metadata.generation, before.metadata.generation,
            "{name}"
        );
        let touched: Vec<&String> = writes
            .iter()
            .filter(|w| w.contains(&format!("/clusternetworkpolicies/{name}")))
            .collect();
        assert!(touched.is_empty(), "{name}: {touched:?}");
    }
    adapter.shutdown().await;
}
