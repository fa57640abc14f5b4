//! The adapters' Kubernetes calls under the shipped ClusterRoles (`deploy/01-rbac.yaml`),
//! against kube-emu with the Antrea emulation: every call the MP and CCP adapters' I/O
//! layer (`adapter-k8s`) makes is allowed, and every permission the two ClusterRoles grant
//! is used by one of them. A call added without its permission, or a permission left
//! behind, fails here.

use std::path::Path;
use std::time::Duration;

use adapter_core::ccp::naming::{CLUSTER_ID_LABEL, MANAGED_BY, MANAGED_BY_LABEL};
use adapter_core::ccp::objects::{AntreaObject, DesiredState};
use adapter_core::ccp::plan::plan;
use adapter_core::ccp::span::ClusterIdentity;
use adapter_core::mp::health::HealthPolicy;
use adapter_core::mp::inventory::InventoryProjector;
use adapter_k8s::antrea::bundle::{self, BundleOptions, BundleSource};
use adapter_k8s::antrea::{info, stats, traceflow};
use adapter_k8s::inventory::{InventoryOptions, InventoryState, InventoryWatches};
use adapter_k8s::policy::OwnedObjects;
use adapter_k8s::policy::applier::{Applier, ApplierOptions};
use antrea_emu::{AntreaEmu, AntreaOptions};
use k8s_openapi::api::core::v1::Node;
use kube::Client;
use kube::api::{Api, ListParams};
use kube_emu::{KubeEmu, UserInfo};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const NAMESPACE: &str = "vmware-system-antrea";
const ACCOUNT: &str = "antrea-nsx-adapter";
const CLUSTER_ID: &str = "rbac-usage";

fn deploy_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Polls `check` every 20 ms, at most 30 s.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..1_500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what}: not reached within 30 s");
}

/// A CRD standing in for Gateway API's `Gateway` (the MP adapter watches it when served).
fn gateway_crd() -> serde_json::Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gateways.gateway.networking.k8s.io"},
        "spec": {
            "group": "gateway.networking.k8s.io",
            "scope": "Namespaced",
            "names": {"plural": "gateways", "singular": "gateway", "kind": "Gateway", "listKind": "GatewayList"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
            }]
        }
    })
}

fn watched(emu: &KubeEmu, user: &str, group: &str, resource: &str) -> bool {
    emu.authorizations().iter().any(|(record, _)| {
        record.user == user
            && record.allowed
            && record.attributes.verb == "watch"
            && record.attributes.api_group == group
            && record.attributes.resource == resource
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adapters_run_under_the_shipped_cluster_roles_and_use_all_of_them() {
    let emu = KubeEmu::new();
    let _antrea = AntreaEmu::install(
        &emu,
        AntreaOptions {
            nodes: 2,
            // Antrea's real CRDs: they include Egress and ExternalIPPool.
            use_crd_manifests: Some(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/antrea-crds/v2.7.0"),
            ),
            ..AntreaOptions::default()
        },
    )
    .await
    .unwrap();
    emu.apply_crd(gateway_crd()).unwrap();
    emu.seed_yaml(&deploy_file("00-namespace.yaml")).unwrap();
    emu.seed_yaml(&deploy_file("01-rbac.yaml")).unwrap();
    let token = emu.service_account_token(NAMESPACE, ACCOUNT).unwrap();
    let client = Client::new(emu.router_with_token(&token), NAMESPACE);
    let user = UserInfo::service_account(NAMESPACE, ACCOUNT);

    // --- the MP adapter -----------------------------------------------------------------
    let projector = InventoryProjector::new(CLUSTER_ID, HealthPolicy::default());
    let mut watches = InventoryWatches::start(
        client.clone(),
        InventoryState::new(projector),
        InventoryOptions {
            crd_recheck_interval: Duration::from_millis(100),
            ..InventoryOptions::default()
        },
    );
    let mut lists_done = watches.initial_lists_done();
    tokio::time::timeout(Duration::from_secs(30), lists_done.wait_for(|done| *done))
        .await
        .expect("initial lists under the shipped role")
        .unwrap();
    // Every kind's watch (after its list) is running before the watches stop.
    for (group, resource) in [
        ("", "namespaces"),
        ("", "nodes"),
        ("", "pods"),
        ("", "services"),
        ("discovery.k8s.io", "endpointslices"),
        ("networking.k8s.io", "ingresses"),
        ("networking.k8s.io", "networkpolicies"),
        ("crd.antrea.io", "clusternetworkpolicies"),
        ("crd.antrea.io", "networkpolicies"),
        ("crd.antrea.io", "antreaagentinfos"),
        ("crd.antrea.io", "antreacontrollerinfos"),
        ("crd.antrea.io", "egresses"),
        ("crd.antrea.io", "externalippools"),
        ("gateway.networking.k8s.io", "gateways"),
    ] {
        eventually(&format!("a watch on {resource}"), || {
            watched(&emu, &user.name, group, resource)
        })
        .await;
    }
    watches.stop().await;

    info::controller_info(&client).await.unwrap();
    info::agent_infos(&client).await.unwrap();
    stats::translated_policy(&client, "/infra/domains/default/security-policies/p", "u")
        .await
        .unwrap();
    stats::cluster_policy_stats(&client, "no-such-policy")
        .await
        .unwrap();

    let run: antrea_types::Traceflow = serde_json::from_value(json!({
        "apiVersion": "crd.antrea.io/v1beta1",
        "kind": "Traceflow",
        "metadata": {"name": "rbac-usage-run"},
        "spec": {
            "source": {"namespace": "default", "pod": "nobody"},
            "destination": {"ip": "10.0.0.1"}
        }
    }))
    .unwrap();
    // Antrea may refuse this Traceflow: authorization came first either way.
    let _ = traceflow::create(&client, &run).await;
    traceflow::get(&client, "rbac-usage-run").await.unwrap();
    traceflow::delete(&client, "rbac-usage-run").await.unwrap();
    traceflow::delete_runs(&client, "nsx-traceflow")
        .await
        .unwrap();

    let admin = Client::new(emu.router(), "default");
    let node = Api::<Node>::all(admin)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items[0]
        .metadata
        .name
        .clone()
        .unwrap();
    let cancel = CancellationToken::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for source in [BundleSource::Controller, BundleSource::Agent(node.clone())] {
        let archive = bundle::collect(
            &client,
            &source,
            None,
            &BundleOptions {
                poll: Duration::from_millis(20),
                // The emulated agents answer through the emulator's API path.
                agents: adapter_k8s::antrea::bundle::AgentAccess::ApiServerPath,
            },
            deadline,
            &cancel,
        )
        .await
        .unwrap_or_else(|e| panic!("collecting the {source:?} bundle: {e}"));
        assert!(!archive.is_empty());
    }
    // The default, direct access to an agent first reads its Node and AntreaAgentInfo
    // under the role (get); the emulated agent does not listen at the Node's address, so
    // the collection itself fails after that, which is not what is checked here.
    let token = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token.path(), "token").unwrap();
    let direct = BundleOptions {
        poll: Duration::from_millis(20),
        agents: adapter_k8s::antrea::bundle::AgentAccess::Direct {
            token_file: Some(token.path().display().to_string()),
        },
    };
    let _ = tokio::time::timeout(
        Duration::from_secs(10),
        bundle::collect(
            &client,
            &BundleSource::Agent(node.clone()),
            None,
            &direct,
            tokio::time::Instant::now() + Duration::from_secs(5),
            &cancel,
        ),
    )
    .await;

    // --- the CCP adapter ----------------------------------------------------------------
    let identity = ClusterIdentity::new(CLUSTER_ID);
    let owned = OwnedObjects::start(client.clone(), identity.clone());
    owned.wait_ready().await;
    let tier: antrea_types::Tier = serde_json::from_value(json!({
        "apiVersion": "crd.antrea.io/v1beta1",
        "kind": "Tier",
        "metadata": {
            "name": "nsx-category-application",
            "labels": {MANAGED_BY_LABEL: MANAGED_BY, CLUSTER_ID_LABEL: CLUSTER_ID}
        },
        "spec": {"priority": 4, "description": "NSX category Application"}
    }))
    .unwrap();
    let labels = json!({MANAGED_BY_LABEL: MANAGED_BY, CLUSTER_ID_LABEL: CLUSTER_ID});
    let group: antrea_types::ClusterGroup = serde_json::from_value(json!({
        "apiVersion": "crd.antrea.io/v1beta1",
        "kind": "ClusterGroup",
        "metadata": {"name": "rbac-usage-web", "labels": labels},
        "spec": {"podSelector": {"matchLabels": {"app": "web"}}}
    }))
    .unwrap();
    let policy: antrea_types::ClusterNetworkPolicy = serde_json::from_value(json!({
        "apiVersion": "crd.antrea.io/v1beta1",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": "rbac-usage-policy", "labels": labels},
        "spec": {
            "tier": "nsx-category-application",
            "priority": 1,
            "appliedTo": [{"group": "rbac-usage-web"}],
            "ingress": [{"action": "Drop", "name": "r1", "from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]
        }
    }))
    .unwrap();
    let mut desired = DesiredState::default();
    desired.push(AntreaObject::Tier(tier));
    desired.push(AntreaObject::ClusterGroup(group));
    desired.push(AntreaObject::ClusterNetworkPolicy(policy));
    let applier = Applier::new(client.clone(), identity.clone(), ApplierOptions::default());
    let create = plan(&desired, &owned.observed(), &identity);
    let outcome = applier.apply(&create, &owned.observed()).await;
    assert!(outcome.failures().is_empty(), "{:?}", outcome.failures());
    eventually("the reflector sees the objects", || owned.len() == 3).await;
    let delete = plan(&DesiredState::default(), &owned.observed(), &identity);
    let outcome = applier.apply(&delete, &owned.observed()).await;
    assert!(outcome.failures().is_empty(), "{:?}", outcome.failures());
    eventually("the reflector sees them go", || owned.is_empty()).await;
    owned.stop();

    // --- every call was allowed, every permission was used --------------------------------
    let denied: Vec<_> = emu
        .authorizations()
        .into_iter()
        .filter(|(record, _)| record.user == user.name && !record.allowed)
        .map(|(record, _)| record.reason)
        .collect();
    assert!(denied.is_empty(), "refused calls: {denied:#?}");
    let unused: Vec<_> = emu
        .unused_permissions(&user)
        .into_iter()
        .filter(|p| p.role.starts_with("ClusterRole/"))
        .map(|p| format!("{} {} {}/{}", p.role, p.verb, p.api_group, p.resource))
        .collect();
    assert!(unused.is_empty(), "granted but unused: {unused:#?}");
}
