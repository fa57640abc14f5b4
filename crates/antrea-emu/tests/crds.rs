//! The emulation on Antrea's real v2.7.0 CRD manifests instead of the generated CRDs: objects
//! built from the project's types go through the real schemas unchanged (nothing pruned,
//! nothing rejected), and everything the emulation writes survives them too.

mod common;

use std::path::PathBuf;

use antrea_emu::{AntreaEmu, AntreaOptions};
use antrea_types::{
    AntreaAgentInfo, AntreaControllerInfo, ClusterGroup, ClusterNetworkPolicy, Group,
    NetworkPolicy, Tier,
};
use common::{create_namespace, eventually, object, pinned_pod};
use kube::Client;
use kube::api::{Api, PostParams};
use serde_json::json;

fn real_manifests() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/antrea-crds/v2.7.0")
}

async fn round_trip<K>(api: &Api<K>, value: serde_json::Value) -> (K, K)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let sent: K = object(value);
    let stored = api
        .create(&PostParams::default(), &sent)
        .await
        .expect("admitted by the real schema");
    (sent, stored)
}

#[tokio::test(start_paused = true)]
async fn the_real_manifests_accept_the_projects_types_unchanged() {
    let emu = kube_emu::KubeEmu::new();
    let options = AntreaOptions {
        use_crd_manifests: Some(real_manifests()),
        ..common::options(2)
    };
    let antrea = AntreaEmu::install(&emu, options)
        .await
        .expect("installs on the real manifests");
    let client = Client::new(emu.router(), "default");
    assert!(
        emu.registry()
            .get("crd.antrea.io", "v1beta1", "externalippools")
            .is_some(),
        "the real folder was loaded"
    );

    let tiers: Api<Tier> = Api::all(client.clone());
    let (sent, stored) = round_trip(
        &tiers,
        json!({"metadata": {"name": "nsx-app"}, "spec": {"priority": 240, "description": "NSX"}}),
    )
    .await;
    assert_eq!(stored.spec, sent.spec);

    let groups: Api<ClusterGroup> = Api::all(client.clone());
    let (sent, stored) = round_trip(&groups, json!({"metadata": {"name": "web"}, "spec": {
        "podSelector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]},
        "namespaceSelector": {"matchLabels": {"env": "prod"}}}})).await;
    assert_eq!(stored.spec, sent.spec);
    let (sent, stored) = round_trip(
        &groups,
        json!({"metadata": {"name": "ips"}, "spec": {
        "ipBlocks": [{"cidr": "192.168.0.0/16", "except": ["192.168.1.0/24"]}]}}),
    )
    .await;
    assert_eq!(stored.spec, sent.spec);

    let policies: Api<ClusterNetworkPolicy> = Api::all(client.clone());
    let (sent, stored) = round_trip(&policies, json!({"metadata": {"name": "full"}, "spec": {
        "tier": "nsx-app", "priority": 12.5,
        "appliedTo": [{"group": "web"}],
        "ingress": [
            {"name": "in-1", "action": "Allow", "from": [{"group": "ips"}],
             "ports": [{"protocol": "TCP", "port": 8080, "endPort": 8090}], "enableLogging": true, "logLabel": "r-1"},
            {"name": "in-2", "action": "Drop", "from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
             "protocols": [{"icmp": {"icmpType": 8, "icmpCode": 0}}]},
            {"name": "in-3", "action": "Pass", "from": [{"namespaces": {"match": "Self"}}]}
        ],
        "egress": [
            {"name": "out-1", "action": "Allow", "to": [{"fqdn": "*.example.com"}], "ports": [{"protocol": "UDP", "port": 53}]},
            {"name": "out-2", "action": "Reject", "toServices": [{"name": "db", "namespace": "shop"}]}
        ]}})).await;
    assert_eq!(stored.spec, sent.spec);

    create_namespace(&client, "shop", json!({})).await;
    let namespaced_groups: Api<Group> = Api::namespaced(client.clone(), "shop");
    let (sent, stored) = round_trip(
        &namespaced_groups,
        json!({"metadata": {"name": "g"}, "spec": {"childGroups": ["a", "b"]}}),
    )
    .await;
    assert_eq!(stored.spec, sent.spec);
    let annps: Api<NetworkPolicy> = Api::namespaced(client.clone(), "shop");
    let (sent, stored) = round_trip(&annps, json!({"metadata": {"name": "n"}, "spec": {
        "tier": "application", "priority": 3,
        "appliedTo": [{"podSelector": {"matchLabels": {"app": "web"}}}],
        "ingress": [{"name": "i", "action": "Allow", "from": [{"podSelector": {}, "namespaceSelector": {}}],
                     "ports": [{"port": "http"}]}],
        "egress": [{"name": "e", "action": "Drop", "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}})).await;
    assert_eq!(stored.spec, sent.spec);

    // What the emulation writes survives the real schemas: statuses and monitoring fields.
    pinned_pod(
        &client,
        "default",
        "web",
        "k8s-node-1",
        json!({"app": "web"}),
    )
    .await;
    let status =
        common::acnp_status_where(&client, "full", |s| common::summary(s).0 == "Realized").await;
    assert!(status.conditions.is_some());
    let agents: Api<AntreaAgentInfo> = Api::all(client.clone());
    let agent = eventually(|| {
        let agents = agents.clone();
        async move {
            agents
                .get("k8s-node-1")
                .await
                .ok()
                .filter(|a| a.spec.agent_conditions.is_some())
        }
    })
    .await;
    let fields = agent.spec;
    assert!(fields.ovs_info.and_then(|o| o.flow_table).is_some());
    assert!(
        fields
            .network_info
            .and_then(|n| n.transport_interface_ips)
            .is_some()
    );
    assert!(fields.api_ca_bundle.is_some());
    assert!(fields.node_port_local_port_range.is_some());
    let controllers: Api<AntreaControllerInfo> = Api::all(client.clone());
    let info = controllers.get("antrea-controller").await.unwrap();
    assert!(info.spec.service_ref.is_some() && info.spec.network_policy_controller_info.is_some());
    drop(antrea);
}
