//! System Tiers and Antrea's admission webhooks, driven through the HTTP API with kube-rs:
//! each rejection reaches the client as the Status a real webhook denial produces.

mod common;

use antrea_emu::tiers::SYSTEM_TIERS;
use antrea_types::{ClusterGroup, ClusterNetworkPolicy, Group, NetworkPolicy, Tier};
use common::{api_error, cluster, create_namespace, object, options};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn acnp(name: &str, spec: serde_json::Value) -> ClusterNetworkPolicy {
    object(
        json!({"apiVersion": "crd.antrea.io/v1beta1", "kind": "ClusterNetworkPolicy",
                  "metadata": {"name": name}, "spec": spec}),
    )
}

fn denial(webhook: &str, message: &str) -> String {
    format!("admission webhook \"{webhook}\" denied the request: {message}")
}

#[tokio::test(start_paused = true)]
async fn system_tiers_exist_and_cannot_be_deleted() {
    let (_emu, _antrea, client) = cluster(options(1)).await;
    let tiers: Api<Tier> = Api::all(client.clone());
    for system in &SYSTEM_TIERS {
        let tier = tiers.get(system.name).await.unwrap();
        assert_eq!(tier.spec.priority, system.priority, "{}", system.name);
        assert_eq!(tier.spec.description.as_deref(), Some(system.description));
        let status = api_error(tiers.delete(system.name, &DeleteParams::default()).await);
        assert_eq!(status.code, 400);
        assert_eq!(status.reason, "");
        assert_eq!(
            status.message,
            denial(
                "tiervalidator.antrea.io",
                &format!("cannot delete reserved tier {}", system.name)
            )
        );
    }
    let application = tiers.get("application").await.unwrap();
    assert_eq!(
        application.spec.description.as_deref(),
        Some("[READ-ONLY]: System generated default Application Tier")
    );
}

#[tokio::test(start_paused = true)]
async fn tier_rules_are_enforced() {
    let (_emu, _antrea, client) = cluster(options(1)).await;
    let tiers: Api<Tier> = Api::all(client.clone());
    let tier = |name: &str, priority: i32| -> Tier {
        object(json!({"metadata": {"name": name}, "spec": {"priority": priority}}))
    };
    tiers
        .create(&PostParams::default(), &tier("nsx-app", 240))
        .await
        .unwrap();

    let reserved = api_error(
        tiers
            .create(&PostParams::default(), &tier("reserved", 251))
            .await,
    );
    assert_eq!(
        reserved.message,
        denial(
            "tiervalidator.antrea.io",
            "tier reserved priority 251 is reserved"
        )
    );
    let overlap = api_error(
        tiers
            .create(&PostParams::default(), &tier("overlap", 100))
            .await,
    );
    assert_eq!(
        overlap.message,
        denial(
            "tiervalidator.antrea.io",
            "tier overlap priority 100 overlaps with existing Tier"
        )
    );
    let immutable = api_error(
        tiers
            .patch(
                "nsx-app",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"priority": 241}})),
            )
            .await,
    );
    assert_eq!(
        immutable.message,
        denial(
            "tiervalidator.antrea.io",
            "update to Tier priority is not allowed"
        )
    );
    // The description may change.
    tiers
        .patch(
            "nsx-app",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"description": "NSX"}})),
        )
        .await
        .unwrap();

    // A referenced Tier cannot be deleted; once the policy is gone it can.
    let policies: Api<ClusterNetworkPolicy> = Api::all(client.clone());
    policies
        .create(
            &PostParams::default(),
            &acnp(
                "p",
                json!({"tier": "nsx-app", "priority": 1, "appliedTo": [{"podSelector": {}}],
                              "ingress": [{"action": "Allow", "name": "r"}]}),
            ),
        )
        .await
        .unwrap();
    let referenced = api_error(tiers.delete("nsx-app", &DeleteParams::default()).await);
    assert_eq!(
        referenced.message,
        denial(
            "tiervalidator.antrea.io",
            "tier nsx-app is referenced by 1 Antrea ClusterNetworkPolicies"
        )
    );
    policies
        .delete("p", &DeleteParams::default())
        .await
        .unwrap();
    tiers
        .delete("nsx-app", &DeleteParams::default())
        .await
        .unwrap();

    // The 20-tier limit counts the six system tiers.
    for i in 0..14 {
        tiers
            .create(&PostParams::default(), &tier(&format!("t{i}"), i))
            .await
            .unwrap();
    }
    let limit = api_error(
        tiers
            .create(&PostParams::default(), &tier("one-too-many", 30))
            .await,
    );
    assert_eq!(
        limit.message,
        denial(
            "tiervalidator.antrea.io",
            "maximum number of Tiers supported: 20"
        )
    );
}

#[tokio::test(start_paused = true)]
async fn drifted_system_tier_priorities_are_reset_when_the_controller_starts() {
    let emu = kube_emu::KubeEmu::new();
    antrea_emu::crds::register(&emu, None).unwrap();
    emu.seed_yaml(
        "apiVersion: crd.antrea.io/v1beta1\nkind: Tier\nmetadata: {name: platform}\nspec: {priority: 199}\n",
    )
    .unwrap();
    let antrea = antrea_emu::AntreaEmu::install(&emu, options(1))
        .await
        .unwrap();
    let tiers: Api<Tier> = Api::all(kube::Client::new(emu.router(), "default"));
    assert_eq!(tiers.get("platform").await.unwrap().spec.priority, 200);

    // Afterwards nobody but antrea-controller may change it.
    let status = api_error(
        tiers
            .patch(
                "platform",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"priority": 199}})),
            )
            .await,
    );
    assert_eq!(
        status.message,
        denial(
            "tiervalidator.antrea.io",
            "update to Tier priority is not allowed"
        )
    );
    drop(antrea);
}

#[tokio::test(start_paused = true)]
async fn policies_get_the_mutating_defaults() {
    let (_emu, _antrea, client) = cluster(options(1)).await;
    let policies: Api<ClusterNetworkPolicy> = Api::all(client.clone());
    let created = policies
        .create(
            &PostParams::default(),
            &acnp("defaults", json!({"priority": 5, "appliedTo": [{"podSelector": {}}],
                                     "ingress": [{"action": "Allow"}, {"action": "Drop", "name": "named"}],
                                     "egress": [{"action": "Reject"}]})),
        )
        .await
        .unwrap();
    assert_eq!(created.spec.tier.as_deref(), Some("application"));
    let ingress = created.spec.ingress.unwrap();
    let generated = ingress[0].name.clone().unwrap();
    assert!(
        generated.starts_with("ingress-allow-") && generated.len() == "ingress-allow-".len() + 7,
        "{generated}"
    );
    assert_eq!(ingress[1].name.as_deref(), Some("named"));
    assert!(
        created.spec.egress.unwrap()[0]
            .name
            .clone()
            .unwrap()
            .starts_with("egress-reject-")
    );

    create_namespace(&client, "prod", json!({})).await;
    let annps: Api<NetworkPolicy> = Api::namespaced(client.clone(), "prod");
    let annp: NetworkPolicy = object(json!({"metadata": {"name": "n"},
        "spec": {"priority": 1, "appliedTo": [{"podSelector": {}}], "egress": [{"action": "Pass"}]}}));
    let created = annps.create(&PostParams::default(), &annp).await.unwrap();
    assert_eq!(created.spec.tier.as_deref(), Some("application"));
    assert!(
        created.spec.egress.unwrap()[0]
            .name
            .clone()
            .unwrap()
            .starts_with("egress-pass-")
    );
}

#[tokio::test(start_paused = true)]
async fn policy_rejections_read_as_webhook_denials() {
    let (_emu, _antrea, client) = cluster(options(1)).await;
    let policies: Api<ClusterNetworkPolicy> = Api::all(client.clone());
    let cases = [
        (
            json!({"tier": "nope", "priority": 1, "appliedTo": [{"podSelector": {}}]}),
            "tier nope does not exist",
        ),
        (
            json!({"tier": "baseline", "priority": 1, "appliedTo": [{"podSelector": {}}],
                   "ingress": [{"action": "Pass", "name": "r"}]}),
            "`Pass` action should not be set for Baseline Tier policy rules",
        ),
        (
            json!({"priority": 1, "appliedTo": [{"podSelector": {}}],
                   "ingress": [{"action": "Allow", "name": "r"}], "egress": [{"action": "Drop", "name": "r"}]}),
            "rules names must be unique within the policy",
        ),
        (
            json!({"priority": 1, "ingress": [{"action": "Allow", "name": "r"}]}),
            "appliedTo needs to be set in either spec or rules",
        ),
        (
            json!({"priority": 1, "appliedTo": [{"podSelector": {}}],
                   "ingress": [{"action": "Allow", "name": "r", "appliedTo": [{"podSelector": {}}]}]}),
            "appliedTo should not be set in both spec and rules",
        ),
        (
            json!({"priority": 1, "appliedTo": [{"podSelector": {}}],
                   "ingress": [{"action": "Allow", "name": "r", "ports": [{"port": "http", "endPort": 90}]}]}),
            "if `port` is a string `endPort` cannot be specified",
        ),
    ];
    for (i, (spec, message)) in cases.into_iter().enumerate() {
        let status = api_error(
            policies
                .create(&PostParams::default(), &acnp(&format!("bad-{i}"), spec))
                .await,
        );
        assert_eq!(status.code, 400, "{message}");
        assert_eq!(status.message, denial("acnpvalidator.antrea.io", message));
    }
    // Updates are validated too.
    policies
        .create(
            &PostParams::default(),
            &acnp(
                "good",
                json!({"priority": 1, "appliedTo": [{"podSelector": {}}]}),
            ),
        )
        .await
        .unwrap();
    let status = api_error(
        policies
            .patch(
                "good",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"tier": "missing"}})),
            )
            .await,
    );
    assert_eq!(
        status.message,
        denial("acnpvalidator.antrea.io", "tier missing does not exist")
    );

    create_namespace(&client, "prod", json!({})).await;
    let annps: Api<NetworkPolicy> = Api::namespaced(client.clone(), "prod");
    let annp: NetworkPolicy = object(json!({"metadata": {"name": "n"},
        "spec": {"priority": 1, "tier": "ghost", "appliedTo": [{"podSelector": {}}]}}));
    let status = api_error(annps.create(&PostParams::default(), &annp).await);
    assert_eq!(
        status.message,
        denial("annpvalidator.antrea.io", "tier ghost does not exist")
    );
}

#[tokio::test(start_paused = true)]
async fn group_rejections_read_as_webhook_denials() {
    let (_emu, _antrea, client) = cluster(options(1)).await;
    let groups: Api<ClusterGroup> = Api::all(client.clone());
    let group = |name: &str, spec: serde_json::Value| -> ClusterGroup {
        object(json!({"metadata": {"name": name}, "spec": spec}))
    };
    let mixed = api_error(
        groups
            .create(
                &PostParams::default(),
                &group(
                    "mixed",
                    json!({"podSelector": {}, "ipBlocks": [{"cidr": "10.0.0.0/8"}]}),
                ),
            )
            .await,
    );
    assert_eq!(
        mixed.message,
        denial(
            "clustergroupvalidator.antrea.io",
            antrea_admission::group::CLUSTER_GROUP_ONE_CRITERION
        )
    );
    let own_child = api_error(
        groups
            .create(
                &PostParams::default(),
                &group("self", json!({"childGroups": ["self"]})),
            )
            .await,
    );
    assert_eq!(
        own_child.message,
        denial(
            "clustergroupvalidator.antrea.io",
            "cannot set ClusterGroup self as its own childGroup"
        )
    );
    groups
        .create(
            &PostParams::default(),
            &group("leaf", json!({"podSelector": {}})),
        )
        .await
        .unwrap();
    groups
        .create(
            &PostParams::default(),
            &group("parent", json!({"childGroups": ["leaf", "missing"]})),
        )
        .await
        .unwrap();
    let nested = api_error(
        groups
            .create(
                &PostParams::default(),
                &group("grandparent", json!({"childGroups": ["parent"]})),
            )
            .await,
    );
    assert_eq!(
        nested.message,
        denial(
            "clustergroupvalidator.antrea.io",
            "cannot set ClusterGroup parent as childGroup, who has 2 childGroups itself"
        )
    );
    let has_parents = api_error(
        groups
            .patch(
                "leaf",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"podSelector": null, "childGroups": ["x"]}})),
            )
            .await,
    );
    assert_eq!(
        has_parents.message,
        denial(
            "clustergroupvalidator.antrea.io",
            "cannot set childGroups for ClusterGroup leaf, who has 1 parents"
        )
    );
    // Deletes are not validated: a referenced child can go.
    groups
        .delete("leaf", &DeleteParams::default())
        .await
        .unwrap();

    create_namespace(&client, "prod", json!({})).await;
    let namespaced: Api<Group> = Api::namespaced(client.clone(), "prod");
    let bad: Group = object(json!({"metadata": {"name": "g"},
        "spec": {"childGroups": ["g"]}}));
    let status = api_error(namespaced.create(&PostParams::default(), &bad).await);
    assert_eq!(
        status.message,
        denial(
            "groupvalidator.antrea.io",
            "cannot set Group prod/g as its own childGroup"
        )
    );
}

#[tokio::test(start_paused = true)]
async fn webhooks_fail_while_the_controller_is_down() {
    let (_emu, antrea, client) = cluster(options(1)).await;
    let policies: Api<ClusterNetworkPolicy> = Api::all(client.clone());
    policies
        .create(
            &PostParams::default(),
            &acnp(
                "before",
                json!({"priority": 1, "appliedTo": [{"podSelector": {}}]}),
            ),
        )
        .await
        .unwrap();
    antrea.take_controller_down();
    assert!(!antrea.controller_is_up());
    let status = api_error(
        policies
            .create(
                &PostParams::default(),
                &acnp(
                    "during",
                    json!({"priority": 1, "appliedTo": [{"podSelector": {}}]}),
                ),
            )
            .await,
    );
    assert_eq!(status.code, 500);
    assert_eq!(status.reason, "InternalError");
    assert_eq!(
        status.message,
        "Internal error occurred: failed calling webhook \"acnpmutator.antrea.io\": failed to call webhook: Post \"https://antrea.kube-system.svc:443/mutate/acnp?timeout=5s\": no endpoints available for service \"antrea\""
    );
    let tiers: Api<Tier> = Api::all(client.clone());
    let status = api_error(tiers.delete("application", &DeleteParams::default()).await);
    assert!(
        status
            .message
            .contains("failed calling webhook \"tiervalidator.antrea.io\""),
        "{}",
        status.message
    );
    // ACNP deletes are not sent to any webhook.
    policies
        .delete("before", &DeleteParams::default())
        .await
        .unwrap();
    // Reads still work.
    assert!(policies.get_opt("before").await.unwrap().is_none());

    antrea.bring_controller_up();
    policies
        .create(
            &PostParams::default(),
            &acnp(
                "after",
                json!({"priority": 1, "appliedTo": [{"podSelector": {}}]}),
            ),
        )
        .await
        .unwrap();
}
