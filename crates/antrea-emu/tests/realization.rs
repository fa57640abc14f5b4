//! Realization status of ClusterNetworkPolicies and Antrea NetworkPolicies, and the
//! `GroupMembersComputed` condition of groups, through the API (tokio's paused clock makes
//! the one-second realize delay free).

mod common;

use antrea_types::policy::{ConditionStatus, NetworkPolicyConditionType, NetworkPolicyPhase};
use antrea_types::{ClusterGroup, ClusterNetworkPolicy, Group, NetworkPolicy};
use common::{
    Transitions, acnp_status_where, cluster, create_namespace, eventually, object, options,
    pinned_pod, summary,
};
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

async fn create_acnp(client: &Client, name: &str, spec: serde_json::Value) {
    let api: Api<ClusterNetworkPolicy> = Api::all(client.clone());
    let policy: ClusterNetworkPolicy = object(json!({"metadata": {"name": name}, "spec": spec}));
    api.create(&PostParams::default(), &policy).await.unwrap();
}

fn web_policy() -> serde_json::Value {
    json!({"priority": 5, "tier": "application", "appliedTo": [{"podSelector": {"matchLabels": {"app": "web"}}}],
           "ingress": [{"action": "Allow", "name": "in", "from": [{"podSelector": {"matchLabels": {"app": "lb"}}}]}]})
}

/// Pods labelled `app=web` on each of the given Nodes (one Pod per Node).
async fn web_pods(client: &Client, nodes: &[usize]) {
    for node in nodes {
        pinned_pod(
            client,
            "default",
            &format!("web-{node}"),
            &format!("k8s-node-{node}"),
            json!({"app": "web"}),
        )
        .await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_policy_goes_from_pending_through_realizing_to_realized() {
    let (_emu, _antrea, client) = cluster(options(3)).await;
    web_pods(&client, &[1, 2, 3]).await;
    let transitions = Transitions::watch_acnp(&client, "web");
    create_acnp(&client, "web", web_policy()).await;
    let seen = transitions.until(("Realized", 3, 3, 1)).await;
    assert_eq!(
        seen.first().unwrap(),
        &("Pending".to_string(), 0, 0, 1),
        "{seen:?}"
    );
    assert_eq!(seen[1], ("Realizing".to_string(), 0, 3, 1), "{seen:?}");
    assert!(
        seen.iter().all(|s| s.2 == 3 || s.0 == "Pending"),
        "{seen:?}"
    );

    let status = acnp_status_where(&client, "web", |s| summary(s).0 == "Realized").await;
    let conditions = status.conditions.unwrap();
    assert_eq!(conditions.len(), 1);
    assert_eq!(conditions[0].type_, NetworkPolicyConditionType::Realizable);
    assert_eq!(conditions[0].status, ConditionStatus::True);
    assert!(conditions[0].last_transition_time.is_some());

    // A new generation is realized again on every Node.
    let api: Api<ClusterNetworkPolicy> = Api::all(client.clone());
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"priority": 6}})),
    )
    .await
    .unwrap();
    let seen = transitions.until(("Realized", 3, 3, 2)).await;
    assert!(
        seen.contains(&("Realizing".to_string(), 0, 3, 2)),
        "{seen:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_policy_that_selects_nothing_is_realized_0_of_0() {
    let (_emu, _antrea, client) = cluster(options(3)).await;
    let transitions = Transitions::watch_acnp(&client, "nothing");
    create_acnp(&client, "nothing", web_policy()).await;
    let seen = transitions.until(("Realized", 0, 0, 1)).await;
    assert_eq!(
        seen,
        [
            ("Pending".to_string(), 0, 0, 1),
            ("Realized".to_string(), 0, 0, 1)
        ]
    );
    // A policy applied to a ClusterGroup that does not exist is realized 0/0 too.
    create_acnp(
        &client,
        "ghost",
        json!({"priority": 1, "appliedTo": [{"group": "missing"}]}),
    )
    .await;
    let status = acnp_status_where(&client, "ghost", |s| summary(s).0 == "Realized").await;
    assert_eq!(summary(&status), ("Realized".to_string(), 0, 0, 1));
}

#[tokio::test(start_paused = true)]
async fn span_changes_are_realized_on_the_nodes_that_join() {
    let (_emu, _antrea, client) = cluster(options(3)).await;
    web_pods(&client, &[1, 2]).await;
    create_acnp(&client, "web", web_policy()).await;
    acnp_status_where(&client, "web", |s| {
        summary(s) == ("Realized".to_string(), 2, 2, 1)
    })
    .await;

    let transitions = Transitions::watch_acnp(&client, "web");
    web_pods(&client, &[3]).await;
    let seen = transitions.until(("Realized", 3, 3, 1)).await;
    assert!(
        seen.contains(&("Realizing".to_string(), 2, 3, 1)),
        "{seen:?}"
    );

    // Pods leaving a Node shrink the span.
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), "default");
    pods.delete("web-1", &DeleteParams::default())
        .await
        .unwrap();
    transitions.until(("Realized", 2, 2, 1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_failing_node_makes_the_policy_fail_until_it_recovers() {
    let (_emu, antrea, client) = cluster(options(3)).await;
    web_pods(&client, &[1, 2, 3]).await;
    antrea
        .fail_node_realization("k8s-node-2", "OVS flow installation failed")
        .unwrap();
    create_acnp(&client, "web", web_policy()).await;
    let status = acnp_status_where(&client, "web", |s| summary(s).0 == "Failed").await;
    assert_eq!(summary(&status), ("Failed".to_string(), 2, 3, 1));
    let failure = status
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == NetworkPolicyConditionType::RealizationFailure)
        .unwrap();
    assert_eq!(failure.status, ConditionStatus::True);
    assert_eq!(
        failure.reason.as_deref(),
        Some("NetworkPolicyRealizationFailedOnNode")
    );
    assert_eq!(
        failure.message.as_deref(),
        Some("Failed Nodes count 1: \"k8s-node-2\":\"OVS flow installation failed\"")
    );

    antrea.restore_node("k8s-node-2").unwrap();
    let status = acnp_status_where(&client, "web", |s| summary(s).0 == "Realized").await;
    assert_eq!(summary(&status), ("Realized".to_string(), 3, 3, 1));
    assert_eq!(
        status.conditions.unwrap().len(),
        1,
        "the failure condition is gone"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stalled_node_keeps_the_policy_realizing() {
    let (_emu, antrea, client) = cluster(options(3)).await;
    web_pods(&client, &[1, 2, 3]).await;
    antrea.stall_node("k8s-node-3").unwrap();
    assert_eq!(
        antrea.realization_mode("k8s-node-3").unwrap(),
        antrea_emu::RealizationMode::Stall
    );
    create_acnp(&client, "web", web_policy()).await;
    acnp_status_where(&client, "web", |s| {
        summary(s) == ("Realizing".to_string(), 2, 3, 1)
    })
    .await;
    // Time passes; nothing changes while the agent is stalled.
    tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    let api: Api<ClusterNetworkPolicy> = Api::all(client.clone());
    let status = api.get("web").await.unwrap().status.unwrap();
    assert_eq!(summary(&status), ("Realizing".to_string(), 2, 3, 1));

    antrea.restore_node("k8s-node-3").unwrap();
    acnp_status_where(&client, "web", |s| {
        summary(s) == ("Realized".to_string(), 3, 3, 1)
    })
    .await;
    assert!(antrea.stall_node("k8s-node-9").is_err());
}

#[tokio::test(start_paused = true)]
async fn antrea_network_policies_are_realized_and_cross_namespace_groups_are_not_realizable() {
    let (_emu, _antrea, client) = cluster(options(2)).await;
    create_namespace(&client, "shop", json!({"team": "a"})).await;
    create_namespace(&client, "other", json!({"team": "a"})).await;
    pinned_pod(&client, "shop", "web", "k8s-node-1", json!({"app": "web"})).await;
    pinned_pod(&client, "other", "web", "k8s-node-2", json!({"app": "web"})).await;

    let annps: Api<NetworkPolicy> = Api::namespaced(client.clone(), "shop");
    let annp: NetworkPolicy = object(json!({"metadata": {"name": "local"},
        "spec": {"priority": 1, "appliedTo": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                 "ingress": [{"action": "Drop", "name": "deny"}]}}));
    annps.create(&PostParams::default(), &annp).await.unwrap();
    let status = eventually(|| {
        let annps = annps.clone();
        async move {
            let status = annps.get("local").await.ok()?.status?;
            (status.phase == Some(NetworkPolicyPhase::Realized)).then_some(status)
        }
    })
    .await;
    assert_eq!(summary(&status), ("Realized".to_string(), 1, 1, 1));

    // A Group selecting Pods in other Namespaces cannot be an ANNP's appliedTo.
    let groups: Api<Group> = Api::namespaced(client.clone(), "shop");
    let group: Group = object(json!({"metadata": {"name": "team-a"},
        "spec": {"namespaceSelector": {"matchLabels": {"team": "a"}}, "podSelector": {"matchLabels": {"app": "web"}}}}));
    groups.create(&PostParams::default(), &group).await.unwrap();
    let wide: NetworkPolicy = object(json!({"metadata": {"name": "wide"},
        "spec": {"priority": 1, "appliedTo": [{"group": "team-a"}], "ingress": [{"action": "Drop", "name": "deny"}]}}));
    annps.create(&PostParams::default(), &wide).await.unwrap();
    let status = eventually(|| {
        let annps = annps.clone();
        async move {
            let status = annps.get("wide").await.ok()?.status?;
            let realizable = status
                .conditions
                .as_ref()?
                .iter()
                .find(|c| c.type_ == NetworkPolicyConditionType::Realizable)?;
            (realizable.status == ConditionStatus::False).then_some(status)
        }
    })
    .await;
    assert_eq!(summary(&status), ("Pending".to_string(), 0, 0, 1));
    let realizable = &status.conditions.unwrap()[0];
    assert_eq!(
        realizable.reason.as_deref(),
        Some("NetworkPolicyAppliedToUnsupportedGroup")
    );
    assert_eq!(
        realizable.message.as_deref(),
        Some("Group shop/team-a with Pods in other Namespaces can not be used as AppliedTo")
    );
}

fn members_computed(
    status: Option<&antrea_types::GroupStatus>,
) -> Option<(String, Option<String>)> {
    let condition = status?.conditions.as_ref()?.first()?;
    Some((format!("{:?}", condition.status), condition.reason.clone()))
}

#[tokio::test(start_paused = true)]
async fn groups_get_group_members_computed() {
    let (_emu, _antrea, client) = cluster(options(2)).await;
    let groups: Api<ClusterGroup> = Api::all(client.clone());
    let group = |name: &str, spec: serde_json::Value| -> ClusterGroup {
        object(json!({"metadata": {"name": name}, "spec": spec}))
    };
    groups
        .create(
            &PostParams::default(),
            &group(
                "web",
                json!({"podSelector": {"matchLabels": {"app": "web"}}}),
            ),
        )
        .await
        .unwrap();
    let computed = eventually(|| {
        let groups = groups.clone();
        async move { members_computed(groups.get("web").await.ok()?.status.as_ref()) }
    })
    .await;
    assert_eq!(computed, ("True".to_string(), None));
    let web = groups.get("web").await.unwrap();
    let condition = &web.status.unwrap().conditions.unwrap()[0];
    assert_eq!(condition.type_.as_str(), "GroupMembersComputed");
    assert!(condition.last_transition_time.is_some());

    // A parent whose child is missing gets no condition until the child exists.
    groups
        .create(
            &PostParams::default(),
            &group("parent", json!({"childGroups": ["web", "later"]})),
        )
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    assert!(members_computed(groups.get("parent").await.unwrap().status.as_ref()).is_none());
    groups
        .create(
            &PostParams::default(),
            &group("later", json!({"ipBlocks": [{"cidr": "10.0.0.0/8"}]})),
        )
        .await
        .unwrap();
    let computed = eventually(|| {
        let groups = groups.clone();
        async move { members_computed(groups.get("parent").await.ok()?.status.as_ref()) }
    })
    .await;
    assert_eq!(computed, ("True".to_string(), None));

    // Namespaced Groups get the condition too.
    create_namespace(&client, "shop", json!({})).await;
    let namespaced: Api<Group> = Api::namespaced(client.clone(), "shop");
    let g: Group = object(json!({"metadata": {"name": "g"}, "spec": {"podSelector": {}}}));
    namespaced.create(&PostParams::default(), &g).await.unwrap();
    let computed = eventually(|| {
        let namespaced = namespaced.clone();
        async move { members_computed(namespaced.get("g").await.ok()?.status.as_ref()) }
    })
    .await;
    assert_eq!(computed, ("True".to_string(), None));
}

#[tokio::test(start_paused = true)]
async fn over_nested_groups_report_child_groups_nesting_exceeded() {
    // The webhook refuses nesting through the API; only groups that existed before the
    // controller (or that raced its informers) can be over-nested.
    let emu = kube_emu::KubeEmu::new();
    antrea_emu::crds::register(&emu, None).unwrap();
    emu.seed_yaml(
        "apiVersion: crd.antrea.io/v1beta1\nkind: ClusterGroup\nmetadata: {name: top}\nspec: {childGroups: [middle]}\n---\n\
         apiVersion: crd.antrea.io/v1beta1\nkind: ClusterGroup\nmetadata: {name: middle}\nspec: {childGroups: [leaf]}\n---\n\
         apiVersion: crd.antrea.io/v1beta1\nkind: ClusterGroup\nmetadata: {name: leaf}\nspec: {podSelector: {}}\n",
    )
    .unwrap();
    let _antrea = antrea_emu::AntreaEmu::install(&emu, options(1))
        .await
        .unwrap();
    let groups: Api<ClusterGroup> = Api::all(Client::new(emu.router(), "default"));
    let top = eventually(|| {
        let groups = groups.clone();
        async move {
            groups
                .get("top")
                .await
                .ok()?
                .status?
                .conditions?
                .into_iter()
                .next()
        }
    })
    .await;
    assert_eq!(top.status, ConditionStatus::False);
    assert_eq!(
        top.reason.as_deref(),
        Some(antrea_policy::CHILD_GROUPS_NESTING_EXCEEDED)
    );
    assert!(top.message.is_some());
    let middle = eventually(|| {
        let groups = groups.clone();
        async move {
            groups
                .get("middle")
                .await
                .ok()?
                .status?
                .conditions?
                .into_iter()
                .next()
        }
    })
    .await;
    assert_eq!(middle.status, ConditionStatus::True);
}

#[tokio::test(start_paused = true)]
async fn statuses_freeze_while_the_controller_is_down_and_resync_after() {
    let (_emu, antrea, client) = cluster(options(2)).await;
    web_pods(&client, &[1]).await;
    create_acnp(&client, "web", web_policy()).await;
    acnp_status_where(&client, "web", |s| {
        summary(s) == ("Realized".to_string(), 1, 1, 1)
    })
    .await;

    antrea.take_controller_down();
    web_pods(&client, &[2]).await;
    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
    let api: Api<ClusterNetworkPolicy> = Api::all(client.clone());
    assert_eq!(
        summary(&api.get("web").await.unwrap().status.unwrap()),
        ("Realized".to_string(), 1, 1, 1)
    );

    antrea.bring_controller_up();
    acnp_status_where(&client, "web", |s| {
        summary(s) == ("Realized".to_string(), 2, 2, 1)
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_slow_node_is_realized_last() {
    let (_emu, antrea, client) = cluster(options(3)).await;
    web_pods(&client, &[1, 2, 3]).await;
    antrea
        .set_node_realize_delay("k8s-node-1", Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let transitions = Transitions::watch_acnp(&client, "web");
    create_acnp(&client, "web", web_policy()).await;
    let seen = transitions.until(("Realized", 3, 3, 1)).await;
    assert!(
        seen.iter()
            .any(|s| (s.0.as_str(), s.1, s.2) == ("Realizing", 2, 3)),
        "{seen:?}"
    );
    antrea.set_node_realize_delay("k8s-node-1", None).unwrap();
    assert!(antrea.set_node_realize_delay("k8s-node-0", None).is_err());
}
