//! Create, get, list, patch, replace and delete of every built-in kind the emulator serves.

mod common;

use std::fmt::Debug;

use common::{Harness, eventually, unique_name};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Event, Namespace, Node, Pod, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::events::v1::Event as EventV1;
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

async fn round_trip<K>(api: Api<K>, object: Value)
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    let object: K = serde_json::from_value(object).expect("valid object");
    let name = object.name_any();
    let created = api
        .create(&PostParams::default(), &object)
        .await
        .expect("created");
    assert!(created.meta().uid.is_some(), "{name}: uid");
    assert_eq!(api.get(&name).await.expect("get").name_any(), name);
    let listed = api.list(&ListParams::default()).await.expect("list");
    assert!(
        listed.items.iter().any(|o| o.name_any() == name),
        "{name}: listed"
    );

    let patch = json!({"metadata": {"labels": {"touched": "yes"}}});
    let patched = api
        .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .expect("patched");
    assert_eq!(
        patched.labels().get("touched").map(String::as_str),
        Some("yes")
    );

    let latest = api.get(&name).await.expect("get latest");
    let replaced = api
        .replace(&name, &PostParams::default(), &latest)
        .await
        .expect("replaced");
    assert_eq!(
        replaced.resource_version(),
        latest.resource_version(),
        "{name}: no-op replace"
    );

    // Grace period 0: a real cluster otherwise keeps a pod until its kubelet stops it.
    api.delete(&name, &DeleteParams::default().grace_period(0))
        .await
        .expect("deleted");
    // A real cluster finalizes a namespace a while after its deletion.
    let gone = eventually(|| async {
        match api.get(&name).await {
            Err(kube::Error::Api(status)) => Some(status.code),
            _ => None,
        }
    })
    .await;
    assert_eq!(gone, 404, "{name}: gone");
}

#[tokio::test]
async fn every_built_in_kind_supports_crud() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let ns = || Api::<ConfigMap>::namespaced(client.clone(), &h.ns);
    round_trip(
        ns(),
        json!({"metadata": {"name": "cm"}, "data": {"k": "v"}}),
    )
    .await;
    round_trip(
        Api::<Namespace>::all(client.clone()),
        json!({"metadata": {"name": unique_name("scratch")}}),
    )
    .await;
    round_trip(
        Api::<Pod>::namespaced(client.clone(), &h.ns),
        json!({"metadata": {"name": "pod"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}),
    )
    .await;
    round_trip(
        Api::<Service>::namespaced(client.clone(), &h.ns),
        json!({"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}}),
    )
    .await;
    round_trip(
        Api::<Endpoints>::namespaced(client.clone(), &h.ns),
        json!({"metadata": {"name": "ep"}, "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]}),
    )
    .await;
    round_trip(
        Api::<Node>::all(client.clone()),
        json!({"metadata": {"name": unique_name("node")}, "spec": {"podCIDR": "10.244.1.0/24"}}),
    )
    .await;
    round_trip(
        Api::<Secret>::namespaced(client.clone(), &h.ns),
        json!({"metadata": {"name": "secret"}, "stringData": {"password": "hunter2"}}),
    )
    .await;
    round_trip(
        Api::<ServiceAccount>::namespaced(client.clone(), &h.ns),
        json!({"metadata": {"name": "robot"}}),
    )
    .await;
    round_trip(
        Api::<Event>::namespaced(client.clone(), &h.ns),
        json!({"metadata": {"name": "ev"}, "involvedObject": {"kind": "Pod", "name": "pod"}, "reason": "Test", "message": "hello"}),
    )
    .await;
    round_trip(
        Api::<EventV1>::namespaced(client.clone(), &h.ns),
        json!({"metadata": {"name": "ev1"}, "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "test", "reportingInstance": "t-1", "action": "Test", "reason": "Test", "type": "Normal"}),
    )
    .await;
    round_trip(
        Api::<Ingress>::namespaced(client.clone(), &h.ns),
        json!({"metadata": {"name": "ing"}, "spec": {"defaultBackend": {"service": {"name": "svc", "port": {"number": 80}}}}}),
    )
    .await;
    round_trip(
        Api::<NetworkPolicy>::namespaced(client.clone(), &h.ns),
        json!({"metadata": {"name": "np"}, "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]}}),
    )
    .await;
    round_trip(
        Api::<EndpointSlice>::namespaced(client.clone(), &h.ns),
        json!({"metadata": {"name": "slice"}, "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}]}),
    )
    .await;
    round_trip(
        Api::<Lease>::namespaced(client.clone(), &h.ns),
        json!({"metadata": {"name": "lease"}, "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15}}),
    )
    .await;
}

#[tokio::test]
async fn built_in_defaults_are_applied() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &h.ns);
    let secret: Secret =
        serde_json::from_value(json!({"metadata": {"name": "s"}, "stringData": {"k": "v"}}))
            .unwrap();
    let created = secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    assert_eq!(created.type_.as_deref(), Some("Opaque"));
    assert_eq!(created.data.unwrap()["k"].0, b"v");

    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), &h.ns);
    let policy: NetworkPolicy = serde_json::from_value(json!({"metadata": {"name": "np"},
        "spec": {"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]}}))
    .unwrap();
    let spec = policies
        .create(&PostParams::default(), &policy)
        .await
        .unwrap()
        .spec
        .unwrap();
    assert_eq!(spec.policy_types.unwrap(), ["Ingress", "Egress"]);
    assert_eq!(
        spec.egress.unwrap()[0].ports.as_ref().unwrap()[0]
            .protocol
            .as_deref(),
        Some("TCP")
    );

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let team = unique_name("team");
    let created = namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": team}})).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(created.labels()["kubernetes.io/metadata.name"], team);
    assert_eq!(created.spec.unwrap().finalizers.unwrap(), ["kubernetes"]);
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &team);
    // A real cluster's controller creates the account a moment after the namespace.
    eventually(|| async { accounts.get_opt("default").await.unwrap() }).await;
    namespaces
        .delete(&team, &DeleteParams::default())
        .await
        .unwrap();

    let nodes: Api<Node> = Api::all(client);
    let node_name = unique_name("n");
    let node: Node = serde_json::from_value(json!({"metadata": {"name": node_name},
        "status": {"addresses": [{"type": "InternalIP", "address": "192.168.0.10"}]}}))
    .unwrap();
    let created = nodes.create(&PostParams::default(), &node).await.unwrap();
    assert_eq!(
        created.status.unwrap().addresses.unwrap()[0].address,
        "192.168.0.10",
        "nodes keep their status"
    );
    nodes
        .delete(&node_name, &DeleteParams::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn both_event_apis_share_one_storage() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let modern: Api<EventV1> = Api::namespaced(client.clone(), &h.ns);
    let event: EventV1 = serde_json::from_value(json!({
        "metadata": {"name": "scaled"},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "adapter", "reportingInstance": "adapter-0",
        "action": "Sync", "reason": "Synced", "type": "Normal", "note": "synced 3 rules",
        "regarding": {"kind": "Pod", "name": "web", "namespace": h.ns}
    }))
    .unwrap();
    modern.create(&PostParams::default(), &event).await.unwrap();
    let legacy: Api<Event> = Api::namespaced(client, &h.ns);
    let seen = legacy.get("scaled").await.unwrap();
    assert_eq!(seen.message.as_deref(), Some("synced 3 rules"));
    assert_eq!(seen.involved_object.name.as_deref(), Some("web"));
    assert_eq!(seen.reporting_component.as_deref(), Some("adapter"));
    let selected = modern
        .list(&ListParams::default().fields("regarding.name=web"))
        .await
        .unwrap();
    assert_eq!(selected.items.len(), 1);
    assert_eq!(selected.items[0].note.as_deref(), Some("synced 3 rules"));
    let none = legacy
        .list(&ListParams::default().fields("involvedObject.name=other"))
        .await
        .unwrap();
    assert!(none.items.is_empty());
}
