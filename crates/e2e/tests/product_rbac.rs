//! Both adapters, as deployed, under the shipped RBAC (deploy/00-namespace.yaml and
//! deploy/01-rbac.yaml): `AdapterProcess`es with leader election, authenticating with a token
//! minted for the adapter ServiceAccount over HTTP, realize a small NSX policy set and
//! publish the workload's inventory; NSX's statistics, Traceflow and support-bundle requests
//! are served (and the Traceflow deleted); the policies are then withdrawn and the Antrea
//! objects deleted, as is a Tier an older release left behind. No request
//! of the adapter user is refused, and every permission its roles grant is used.

mod product_common;

use adapter_core::ccp::naming::{CLUSTER_ID_LABEL, ObjectRole, ownership_labels};
use adapter_core::ccp::span::ClusterIdentity;
use adapter_nsx::rest::NsxRequest;
use antrea_types::{ClusterGroup, ClusterNetworkPolicy, Tier};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams};
use product_common::{POLICIES, Product, ProductOptions, eventually, policy_path};
use serde_json::{Value, json};

/// Owned Antrea objects of the cluster: (tiers, groups, policies).
async fn owned(product: &Product) -> (usize, usize, usize) {
    let params =
        ListParams::default().labels(&format!("{CLUSTER_ID_LABEL}={}", product.cluster_name));
    let client = &product.admin_kube;
    (
        Api::<Tier>::all(client.clone())
            .list(&params)
            .await
            .unwrap()
            .items
            .len(),
        Api::<ClusterGroup>::all(client.clone())
            .list(&params)
            .await
            .unwrap()
            .items
            .len(),
        Api::<ClusterNetworkPolicy>::all(client.clone())
            .list(&params)
            .await
            .unwrap()
            .items
            .len(),
    )
}

/// Permissions the shipped roles grant that the adapters, as deployed, do not use:
/// - `get` on AntreaControllerInfo: the MP adapter reads the controller's info through its
///   list/watch; only `adapter_k8s::antrea::info::controller_info`, which no adapter calls,
///   does a `get` (adapter-runtime/tests/rbac_usage.rs exercises that helper).
/// - `agents/supportbundles`: the agents' bundles are fetched from each agent directly
///   (`AgentAccess::Direct`, the default), whose own API authorizes `supportbundles`; the
///   `/agents/<node>/supportbundles` path is kube-emu's (`AgentAccess::ApiServerPath`, used by
///   the adapter-runtime and MP end-to-end tests).
///
/// Empty this list when the role shrinks: the comparison is exact.
const KNOWN_UNUSED: [&str; 3] = [
    "ClusterRole/antrea-nsx-mp-adapter get crd.antrea.io/antreacontrollerinfos ",
    "ClusterRole/antrea-nsx-mp-adapter create system.antrea.io/agents/supportbundles ",
    "ClusterRole/antrea-nsx-mp-adapter get system.antrea.io/agents/supportbundles ",
];

/// A Tier labelled as ours that no NSX category needs (left behind by an older release).
const STALE_TIER: &str = "nsx-category-retired";

async fn stale_tier(product: &Product) {
    let labels = ownership_labels(
        &ClusterIdentity::new(product.cluster_name.clone()),
        ObjectRole::Tier,
    );
    let tier: Tier = serde_json::from_value(json!({
        "apiVersion": "crd.antrea.io/v1beta1",
        "kind": "Tier",
        "metadata": {"name": STALE_TIER, "labels": labels},
        "spec": {"priority": 222, "description": "retired NSX category"}
    }))
    .unwrap();
    Api::<Tier>::all(product.admin_kube.clone())
        .create(&PostParams::default(), &tier)
        .await
        .unwrap();
}

async fn pod_uid(product: &Product, name: &str) -> String {
    Api::<Pod>::namespaced(product.admin_kube.clone(), "shop")
        .get(name)
        .await
        .unwrap()
        .metadata
        .uid
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adapters_work_under_the_shipped_rbac_and_use_every_permission() {
    let product = Product::start(ProductOptions::default()).await;
    product.workload().await;
    product.policies().await;
    stale_tier(&product).await;
    let (ccp, mp) = product.start_both(true).await;

    // Policies realized, inventory visible.
    product.wait_realized().await;
    product.wait_inventory().await;
    let (tiers, groups, policies) = owned(&product).await;
    assert!(
        tiers >= 1 && groups >= 2 && policies >= 2,
        "{tiers} tiers, {groups} groups, {policies} policies"
    );

    // Statistics of a policy, from Antrea through the MP adapter.
    let statistics: Value = eventually("statistics of allow-web", || async {
        let body: Value = product
            .nsx
            .get_json(&format!(
                "/policy/api/v1{}/statistics?container_cluster_path={}",
                policy_path(POLICIES[0]),
                product.cluster_path()
            ))
            .await
            .ok()?;
        body["results"][0]["statistics"]["results"]
            .as_array()
            .is_some_and(|rules| !rules.is_empty())
            .then_some(body)
    })
    .await;
    assert!(
        statistics["results"][0]["statistics"]["internal_section_id"].is_string(),
        "{statistics:#}"
    );

    // A Traceflow web-2 → web-1:80.
    let traceflow = "/policy/api/v1/infra/antrea/traceflows/product-rbac";
    product
        .nsx
        .execute(
            NsxRequest::new(http::Method::PUT, traceflow)
                .json(&json!({
                    "resource_type": "AntreaTraceflowConfig",
                    "container_cluster_id": product.cluster_id,
                    "source_external_id": pod_uid(&product, "web-2").await,
                    "destination_external_id": pod_uid(&product, "web-1").await,
                    "packet": {"resourceType": "FIELDS_PACKET_DATA", "transportType": "UNICAST",
                               "transportHeader": {"tcpHeader": {"srcPort": 40000, "dstPort": 80, "tcpFlags": 2}}},
                }))
                .unwrap(),
        )
        .await
        .unwrap();
    let status: Value = eventually("the Traceflow finished", || async {
        let status: Value = product
            .nsx
            .get_json(&format!("{traceflow}/status"))
            .await
            .ok()?;
        status["phase"]
            .as_str()
            .is_some_and(|p| !p.is_empty())
            .then_some(status)
    })
    .await;
    assert_eq!(status["phase"], "SUCCEEDED", "{status:#}");
    product
        .nsx
        .execute(NsxRequest::new(http::Method::DELETE, traceflow))
        .await
        .unwrap();

    // A support bundle of the controller and one agent.
    let node = product.inventory("container-cluster-nodes").await;
    let node = node[0]["external_id"].as_str().unwrap().to_owned();
    let reply = product
        .nsx
        .execute(
            NsxRequest::new(http::Method::POST, "/api/v1/administration/support-bundles")
                .query("action", "collect")
                .json(
                    &json!({"content_filters": ["DEFAULT"], "container_nodes": [{
                    "container_type": "ANTREA",
                    "clusters": [{"cluster_id": product.cluster_id, "nodes": [node]}]}]}),
                )
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(!reply.body.is_empty());

    // The policies withdrawn from the cluster: every owned object is deleted.
    for policy in POLICIES {
        product
            .nsx
            .execute(NsxRequest::new(
                http::Method::DELETE,
                format!(
                    "/policy/api/v1{}/container-cluster-span/{}",
                    policy_path(policy),
                    product.cluster_name
                ),
            ))
            .await
            .unwrap();
    }
    // The four category Tiers stay; the retired one went at the first reconcile.
    eventually("the policies' Antrea objects deleted", || async {
        (owned(&product).await == (4, 0, 0)).then_some(())
    })
    .await;
    let tiers = Api::<Tier>::all(product.admin_kube.clone());
    assert!(tiers.get_opt(STALE_TIER).await.unwrap().is_none());

    mp.shutdown().await;
    ccp.shutdown().await;

    let refused = product.refused();
    assert!(refused.is_empty(), "refused requests: {refused:#?}");
    let unused: Vec<String> = product
        .emu
        .unused_permissions(&product.adapter_user)
        .into_iter()
        .map(|p| {
            format!(
                "{} {} {}/{} {}",
                p.role,
                p.verb,
                p.api_group,
                p.resource,
                p.resource_name.unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(unused, KNOWN_UNUSED, "granted but unused");
    product.shutdown().await;
}
