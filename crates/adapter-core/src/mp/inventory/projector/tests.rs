//! Tests of the projector: dependencies between objects, and convergence whatever the order
//! of events.

use std::collections::BTreeMap;

use antrea_types::AntreaAgentInfo;
use antrea_types::info::{AgentCondition, AgentConditionType, AntreaAgentInfoFields};
use antrea_types::policy::ConditionStatus;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use nsx_model::inventory::{CniAgentStatus, ContainerObject, ContainerStatus, ResourceType};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::mp::inventory::project::NPL_POD_ANNOTATION;

const CLUSTER: &str = "cluster-1";

fn typed<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("valid Kubernetes JSON")
}

fn namespace(name: &str) -> Namespace {
    typed(json!({"metadata": {"name": name, "uid": format!("ns-{name}")}}))
}

fn node(name: &str) -> Node {
    typed(
        json!({"metadata": {"name": name, "uid": format!("node-{name}")},
        "status": {"addresses": [{"type": "InternalIP", "address": "192.168.1.10"}]}}),
    )
}

fn pod(name: &str, ns: &str, node: &str, labels: Value, ready: bool) -> Pod {
    typed(json!({
        "metadata": {"name": name, "namespace": ns, "uid": format!("pod-{name}"), "labels": labels},
        "spec": {"nodeName": node, "containers": []},
        "status": {"phase": "Running", "podIP": "10.1.0.5",
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}
    }))
}

fn service(name: &str, ns: &str, selector: Value) -> Service {
    typed(json!({
        "metadata": {"name": name, "namespace": ns, "uid": format!("svc-{name}")},
        "spec": {"selector": selector, "clusterIP": "10.96.0.1", "ports": [{"port": 80, "targetPort": 8080}]}
    }))
}

fn projector() -> InventoryProjector {
    InventoryProjector::new(CLUSTER, HealthPolicy::default())
}

fn record(p: &InventoryProjector, t: ResourceType, id: &str) -> ContainerObject {
    (**p.index()
        .get(&InventoryKey::new(t, id))
        .expect("record exists"))
    .clone()
}

fn instance(
    p: &InventoryProjector,
    id: &str,
) -> nsx_model::inventory::ContainerApplicationInstance {
    match record(p, ResourceType::ContainerApplicationInstance, id) {
        ContainerObject::ContainerApplicationInstance(r) => r,
        other => panic!("{other:?}"),
    }
}

fn application(p: &InventoryProjector, id: &str) -> nsx_model::inventory::ContainerApplication {
    match record(p, ResourceType::ContainerApplication, id) {
        ContainerObject::ContainerApplication(r) => r,
        other => panic!("{other:?}"),
    }
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn pods_learn_their_namespace_node_and_services_whatever_the_order() {
    let mut p = projector();
    // The Pod arrives first: nothing to refer to yet.
    p.apply_pod(&pod(
        "web-0",
        "shop",
        "w1",
        json!({"app": "web", "v": "1"}),
        true,
    ))
    .unwrap();
    let first = instance(&p, "pod-web-0");
    assert_eq!(first.container_project_id, None);
    assert_eq!(first.cluster_node_id, None);
    assert!(first.container_application_ids.is_empty());
    p.apply_namespace(&namespace("shop")).unwrap();
    p.apply_node(&node("w1")).unwrap();
    p.apply_service(&service("web", "shop", json!({"app": "web"})))
        .unwrap();
    p.apply_service(&service("other", "shop", json!({"app": "db"})))
        .unwrap();
    p.apply_service(&service("elsewhere", "prod", json!({"app": "web"})))
        .unwrap();
    let pod = instance(&p, "pod-web-0");
    assert_eq!(pod.container_project_id.as_deref(), Some("ns-shop"));
    assert_eq!(pod.cluster_node_id.as_deref(), Some("node-w1"));
    assert_eq!(pod.container_application_ids, ids(&["svc-web"]));
    assert_eq!(application(&p, "svc-web").status, Some(ContainerStatus::Up));
    assert_eq!(
        application(&p, "svc-web").container_project_id.as_deref(),
        Some("ns-shop")
    );
    assert_eq!(
        application(&p, "svc-other").status,
        Some(ContainerStatus::Down)
    );
}

#[test]
fn selector_and_label_changes_move_pods_between_services() {
    let mut p = projector();
    p.apply_pod(&pod("a", "shop", "w1", json!({"app": "web"}), true))
        .unwrap();
    p.apply_pod(&pod("b", "shop", "w1", json!({"app": "db"}), false))
        .unwrap();
    p.apply_service(&service("s", "shop", json!({"app": "web"})))
        .unwrap();
    assert_eq!(
        instance(&p, "pod-a").container_application_ids,
        ids(&["svc-s"])
    );
    assert!(instance(&p, "pod-b").container_application_ids.is_empty());
    // The Service now selects the db Pod instead.
    p.apply_service(&service("s", "shop", json!({"app": "db"})))
        .unwrap();
    assert!(instance(&p, "pod-a").container_application_ids.is_empty());
    assert_eq!(
        instance(&p, "pod-b").container_application_ids,
        ids(&["svc-s"])
    );
    assert_eq!(application(&p, "svc-s").status, Some(ContainerStatus::Down));
    // The db Pod becomes ready: the Service is up.
    p.apply_pod(&pod("b", "shop", "w1", json!({"app": "db"}), true))
        .unwrap();
    assert_eq!(application(&p, "svc-s").status, Some(ContainerStatus::Up));
    // Its labels change: the Service loses it and goes down.
    p.apply_pod(&pod("b", "shop", "w1", json!({"app": "cache"}), true))
        .unwrap();
    assert!(instance(&p, "pod-b").container_application_ids.is_empty());
    assert_eq!(application(&p, "svc-s").status, Some(ContainerStatus::Down));
    // A multi-key selector needs every key.
    p.apply_service(&service("t", "shop", json!({"app": "cache", "tier": "x"})))
        .unwrap();
    assert!(instance(&p, "pod-b").container_application_ids.is_empty());
    p.apply_pod(&pod(
        "b",
        "shop",
        "w1",
        json!({"app": "cache", "tier": "x"}),
        true,
    ))
    .unwrap();
    assert_eq!(
        instance(&p, "pod-b").container_application_ids,
        ids(&["svc-t"])
    );
}

#[test]
fn deleting_a_service_or_pod_cleans_up_both_sides() {
    let mut p = projector();
    p.apply_service(&service("s", "shop", json!({"app": "web"})))
        .unwrap();
    p.apply_pod(&pod("a", "shop", "w1", json!({"app": "web"}), true))
        .unwrap();
    p.apply_pod(&pod("b", "shop", "w1", json!({"app": "web"}), true))
        .unwrap();
    p.delete_pod(&pod("a", "shop", "w1", json!({}), true))
        .unwrap();
    assert!(
        p.index()
            .get(&InventoryKey::new(
                ResourceType::ContainerApplicationInstance,
                "pod-a"
            ))
            .is_none()
    );
    assert_eq!(application(&p, "svc-s").status, Some(ContainerStatus::Up));
    p.delete_pod(&pod("b", "shop", "w1", json!({}), true))
        .unwrap();
    assert_eq!(application(&p, "svc-s").status, Some(ContainerStatus::Down));
    p.apply_pod(&pod("c", "shop", "w1", json!({"app": "web"}), true))
        .unwrap();
    p.delete_service(&service("s", "shop", json!({}))).unwrap();
    assert!(instance(&p, "pod-c").container_application_ids.is_empty());
    assert!(
        p.index()
            .get(&InventoryKey::new(
                ResourceType::ContainerApplication,
                "svc-s"
            ))
            .is_none()
    );
}

fn agent(node: &str, openflow: ConditionStatus, at: Timestamp) -> AntreaAgentInfo {
    let condition = |type_, status| AgentCondition {
        type_,
        status,
        last_heartbeat_time: Time(at),
        reason: None,
        message: None,
    };
    AntreaAgentInfo::new(
        node,
        AntreaAgentInfoFields {
            agent_conditions: Some(vec![
                condition(AgentConditionType::AgentHealthy, ConditionStatus::True),
                condition(AgentConditionType::OpenflowConnectionUp, openflow),
            ]),
            ..Default::default()
        },
    )
}

fn node_status(p: &InventoryProjector, id: &str) -> Option<CniAgentStatus> {
    match record(p, ResourceType::ContainerClusterNode, id) {
        ContainerObject::ContainerClusterNode(n) => n.cni_agent_status,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_nodes_agent_status_follows_its_agent_info_and_time() {
    let t0 = Timestamp::from_second(1_800_000_000).unwrap();
    let later = |s: i64| Timestamp::from_second(1_800_000_000 + s).unwrap();
    let mut p = projector();
    p.apply_node(&node("w1")).unwrap();
    assert_eq!(node_status(&p, "node-w1"), Some(CniAgentStatus::Unhealthy));
    p.apply_agent_info(&agent("w1", ConditionStatus::True, t0), t0);
    assert_eq!(node_status(&p, "node-w1"), Some(CniAgentStatus::Healthy));
    // A Node update keeps the agent's status.
    p.apply_node(&node("w1")).unwrap();
    assert_eq!(node_status(&p, "node-w1"), Some(CniAgentStatus::Healthy));
    p.apply_agent_info(&agent("w1", ConditionStatus::False, t0), t0);
    assert_eq!(node_status(&p, "node-w1"), Some(CniAgentStatus::Unhealthy));
    p.apply_agent_info(&agent("w1", ConditionStatus::True, t0), t0);
    assert_eq!(p.refresh_agent_health(later(60)), 0);
    assert_eq!(node_status(&p, "node-w1"), Some(CniAgentStatus::Healthy));
    // No heartbeat for more than three intervals.
    assert_eq!(p.refresh_agent_health(later(400)), 1);
    assert_eq!(node_status(&p, "node-w1"), Some(CniAgentStatus::Unhealthy));
    p.apply_agent_info(&agent("w1", ConditionStatus::True, later(400)), later(400));
    assert_eq!(node_status(&p, "node-w1"), Some(CniAgentStatus::Healthy));
    p.delete_agent_info("w1");
    assert_eq!(node_status(&p, "node-w1"), Some(CniAgentStatus::Unhealthy));
    // An agent seen before its Node: the Node starts with the agent's status.
    p.apply_agent_info(&agent("w2", ConditionStatus::True, t0), t0);
    p.apply_node(&node("w2")).unwrap();
    assert_eq!(node_status(&p, "node-w2"), Some(CniAgentStatus::Healthy));
}

fn ingress(backends: &[&str]) -> Ingress {
    let paths: Vec<Value> = backends
        .iter()
        .map(|b| json!({"path": "/", "pathType": "Prefix", "backend": {"service": {"name": b, "port": {"number": 80}}}}))
        .collect();
    typed(
        json!({"metadata": {"name": "ing", "namespace": "shop", "uid": "ing-uid"},
        "spec": {"rules": [{"http": {"paths": paths}}]}}),
    )
}

#[test]
fn ingresses_follow_their_backend_services() {
    let mut p = projector();
    p.apply_ingress(&ingress(&["web", "api"])).unwrap();
    let ids_of =
        |p: &InventoryProjector| match record(p, ResourceType::ContainerIngressPolicy, "ing-uid") {
            ContainerObject::ContainerIngressPolicy(i) => i.container_application_ids,
            other => panic!("{other:?}"),
        };
    assert!(ids_of(&p).is_empty());
    p.apply_service(&service("web", "shop", json!({"app": "web"})))
        .unwrap();
    p.apply_service(&service("api", "shop", json!({"app": "api"})))
        .unwrap();
    assert_eq!(ids_of(&p), ids(&["svc-api", "svc-web"]));
    p.delete_service(&service("api", "shop", json!({})))
        .unwrap();
    assert_eq!(ids_of(&p), ids(&["svc-web"]));
    p.apply_ingress(&ingress(&["api"])).unwrap();
    assert!(ids_of(&p).is_empty());
    p.delete_ingress(&ingress(&[])).unwrap();
    assert!(
        p.index()
            .get(&InventoryKey::new(
                ResourceType::ContainerIngressPolicy,
                "ing-uid"
            ))
            .is_none()
    );
}

#[test]
fn node_port_local_endpoints_follow_pod_annotations() {
    let mut p = projector();
    let mut svc: Value =
        serde_json::to_value(service("web", "shop", json!({"app": "web"}))).unwrap();
    svc["metadata"]["annotations"] = json!({"nodeportlocal.antrea.io/enabled": "true"});
    p.apply_service(&typed(svc)).unwrap();
    let mut annotated: Value =
        serde_json::to_value(pod("a", "shop", "w1", json!({"app": "web"}), true)).unwrap();
    annotated["metadata"]["annotations"] = json!({NPL_POD_ANNOTATION:
        r#"[{"podPort": 8080, "nodeIP": "192.168.1.10", "nodePort": 61001, "protocol": "tcp"}]"#});
    p.apply_pod(&typed(annotated)).unwrap();
    let endpoints = application(&p, "svc-web").node_port_local_endpoints;
    assert_eq!(endpoints.len(), 1);
    assert_eq!(endpoints[0].node_port, Some(61001));
    p.apply_pod(&pod("a", "shop", "w1", json!({"app": "web"}), true))
        .unwrap();
    assert!(
        application(&p, "svc-web")
            .node_port_local_endpoints
            .is_empty()
    );
}

#[test]
fn a_namespace_uid_reaches_every_namespaced_record() {
    let mut p = projector();
    p.apply_ingress(&ingress(&[])).unwrap();
    p.apply_gateway(
        &json!({"metadata": {"name": "gw", "namespace": "shop", "uid": "gw-uid"}, "spec": {}}),
    )
    .unwrap();
    let np: k8s_openapi::api::networking::v1::NetworkPolicy = typed(json!({
        "metadata": {"name": "np", "namespace": "shop", "uid": "np-uid"}, "spec": {"podSelector": {}}}));
    p.apply_network_policy(&np).unwrap();
    p.apply_namespace(&namespace("shop")).unwrap();
    for (t, id) in [
        (ResourceType::ContainerIngressPolicy, "ing-uid"),
        (ResourceType::ContainerGateway, "gw-uid"),
        (ResourceType::ContainerNetworkPolicy, "np-uid"),
    ] {
        let json = record(&p, t, id).to_json();
        assert_eq!(json["container_project_id"], "ns-shop", "{t}");
    }
    p.delete_network_policy(&np).unwrap();
    p.delete_gateway(&json!({"metadata": {"name": "gw", "namespace": "shop", "uid": "gw-uid"}}))
        .unwrap();
    assert_eq!(p.index().len(), 2);
}

/// One watch event of a small cluster.
#[derive(Debug, Clone)]
enum Event {
    Namespace(&'static str),
    Node(&'static str),
    Pod(&'static str, &'static str, &'static str, &'static str, bool),
    Service(&'static str, &'static str, &'static str),
    /// A Service without a selector.
    ManualService(&'static str, &'static str),
    /// An EndpointSlice (name, namespace, Service, ready Pods).
    Slice(
        &'static str,
        &'static str,
        &'static str,
        &'static [&'static str],
    ),
}

fn apply(p: &mut InventoryProjector, event: &Event) {
    match event {
        Event::Namespace(n) => p.apply_namespace(&namespace(n)).unwrap(),
        Event::Node(n) => p.apply_node(&node(n)).unwrap(),
        Event::Pod(name, ns, node, app, ready) => p
            .apply_pod(&pod(name, ns, node, json!({"app": app}), *ready))
            .unwrap(),
        Event::Service(name, ns, app) => p
            .apply_service(&service(name, ns, json!({"app": app})))
            .unwrap(),
        Event::ManualService(name, ns) => p.apply_service(&service(name, ns, json!(null))).unwrap(),
        Event::Slice(name, ns, service, pods) => p
            .apply_endpoint_slice(&endpoint_slice(name, ns, service, pods, &[]))
            .unwrap(),
    }
}

fn snapshot(p: &InventoryProjector) -> BTreeMap<String, ContainerObject> {
    p.index()
        .records()
        .map(|r| {
            (
                format!("{}/{}", r.resource_type(), r.external_id()),
                (**r).clone(),
            )
        })
        .collect()
}

fn scenario() -> Vec<Event> {
    vec![
        Event::Namespace("shop"),
        Event::Namespace("prod"),
        Event::Node("w1"),
        Event::Node("w2"),
        Event::Service("web", "shop", "web"),
        Event::Service("db", "shop", "db"),
        Event::Service("papi", "prod", "web"),
        Event::Pod("a", "shop", "w1", "web", true),
        Event::Pod("b", "shop", "w2", "web", false),
        Event::Pod("c", "shop", "w2", "db", false),
        Event::Pod("d", "prod", "w1", "web", true),
        Event::Pod("e", "prod", "w3", "api", true),
        Event::ManualService("ext", "shop"),
        Event::Slice("ext-1", "shop", "ext", &["a", "c"]),
        Event::Slice("ext-2", "shop", "ext", &["b"]),
    ]
}

proptest! {
    /// The records do not depend on the order the watch events arrive in.
    #[test]
    fn records_converge_whatever_the_event_order(order in Just(scenario()).prop_shuffle()) {
        let mut in_order = projector();
        for event in scenario() {
            apply(&mut in_order, &event);
        }
        let mut shuffled = projector();
        for event in &order {
            apply(&mut shuffled, event);
        }
        prop_assert_eq!(snapshot(&shuffled), snapshot(&in_order));
    }
}

#[test]
fn every_projected_record_is_valid_nsx() {
    let mut p = projector();
    for event in scenario() {
        apply(&mut p, &event);
    }
    for record in p.index().records() {
        crate::mp::inventory::project::tests::assert_valid(record);
    }
}

/// An EndpointSlice of Service `service` with ready endpoints for `ready` and not-ready
/// ones for `not_ready` (Pod names; their UIDs are `pod-<name>`).
fn endpoint_slice(
    name: &str,
    ns: &str,
    service: &str,
    ready: &[&str],
    not_ready: &[&str],
) -> EndpointSlice {
    let endpoint = |pod: &str, ready: bool| {
        json!({"addresses": ["10.1.0.9"], "conditions": {"ready": ready},
               "targetRef": {"kind": "Pod", "name": pod, "namespace": ns, "uid": format!("pod-{pod}")}})
    };
    let endpoints: Vec<Value> = ready
        .iter()
        .map(|p| endpoint(p, true))
        .chain(not_ready.iter().map(|p| endpoint(p, false)))
        .collect();
    typed(json!({
        "metadata": {"name": name, "namespace": ns, "uid": format!("slice-{name}"),
                     "labels": {"kubernetes.io/service-name": service,
                                "endpointslice.kubernetes.io/managed-by": "staff"}},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"port": 8080, "protocol": "TCP"}]
    }))
}

#[test]
fn a_service_without_selector_gets_the_pods_of_its_endpoint_slices() {
    let mut p = projector();
    p.apply_namespace(&namespace("shop")).unwrap();
    p.apply_pod(&pod("a", "shop", "w1", json!({"app": "web"}), true))
        .unwrap();
    p.apply_pod(&pod("b", "shop", "w1", json!({"app": "web"}), true))
        .unwrap();
    p.apply_service(&service("ext", "shop", json!(null)))
        .unwrap();
    assert_eq!(
        application(&p, "svc-ext").status,
        Some(ContainerStatus::Unknown)
    );
    // A slice naming a, with b not ready, and a Pod not seen yet.
    p.apply_endpoint_slice(&endpoint_slice(
        "ext-1",
        "shop",
        "ext",
        &["a", "late"],
        &["b"],
    ))
    .unwrap();
    assert_eq!(
        instance(&p, "pod-a").container_application_ids,
        ids(&["svc-ext"])
    );
    assert!(instance(&p, "pod-b").container_application_ids.is_empty());
    assert_eq!(application(&p, "svc-ext").status, Some(ContainerStatus::Up));
    // The late Pod learns its Service when it arrives.
    p.apply_pod(&pod("late", "shop", "w1", json!({}), true))
        .unwrap();
    assert_eq!(
        instance(&p, "pod-late").container_application_ids,
        ids(&["svc-ext"])
    );
    // b becomes ready, a leaves.
    p.apply_endpoint_slice(&endpoint_slice("ext-1", "shop", "ext", &["b"], &[]))
        .unwrap();
    assert!(instance(&p, "pod-a").container_application_ids.is_empty());
    assert!(
        instance(&p, "pod-late")
            .container_application_ids
            .is_empty()
    );
    assert_eq!(
        instance(&p, "pod-b").container_application_ids,
        ids(&["svc-ext"])
    );
    // No ready endpoint: DOWN; no slice at all: UNKNOWN again.
    p.apply_endpoint_slice(&endpoint_slice("ext-1", "shop", "ext", &[], &["b"]))
        .unwrap();
    assert_eq!(
        application(&p, "svc-ext").status,
        Some(ContainerStatus::Down)
    );
    assert!(instance(&p, "pod-b").container_application_ids.is_empty());
    p.delete_endpoint_slice(&endpoint_slice("ext-1", "shop", "ext", &[], &[]))
        .unwrap();
    assert_eq!(
        application(&p, "svc-ext").status,
        Some(ContainerStatus::Unknown)
    );
}

#[test]
fn slices_of_services_with_a_selector_change_nothing() {
    let mut p = projector();
    p.apply_pod(&pod("a", "shop", "w1", json!({"app": "web"}), true))
        .unwrap();
    p.apply_pod(&pod("z", "shop", "w1", json!({"app": "other"}), true))
        .unwrap();
    p.apply_service(&service("web", "shop", json!({"app": "web"})))
        .unwrap();
    let before = snapshot(&p);
    // A hand-made slice naming z for a Service with a selector, and the controller's own.
    p.apply_endpoint_slice(&endpoint_slice("web-x", "shop", "web", &["z"], &[]))
        .unwrap();
    let mut by_controller = endpoint_slice("web-y", "shop", "web", &["a"], &[]);
    by_controller
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .insert(MANAGED_BY_LABEL.into(), ENDPOINTSLICE_CONTROLLER.into());
    p.apply_endpoint_slice(&by_controller).unwrap();
    assert_eq!(snapshot(&p), before);
    assert_eq!(
        instance(&p, "pod-a").container_application_ids,
        ids(&["svc-web"])
    );
    // The controller's slices are not even kept.
    assert!(!p.slices.contains_key("slice-web-y"));
}

#[test]
fn a_service_losing_or_gaining_a_selector_switches_source() {
    let mut p = projector();
    p.apply_pod(&pod("a", "shop", "w1", json!({"app": "web"}), true))
        .unwrap();
    p.apply_pod(&pod("b", "shop", "w1", json!({"app": "db"}), true))
        .unwrap();
    p.apply_endpoint_slice(&endpoint_slice("s-1", "shop", "s", &["b"], &[]))
        .unwrap();
    p.apply_service(&service("s", "shop", json!({"app": "web"})))
        .unwrap();
    assert_eq!(
        instance(&p, "pod-a").container_application_ids,
        ids(&["svc-s"])
    );
    assert!(instance(&p, "pod-b").container_application_ids.is_empty());
    p.apply_service(&service("s", "shop", json!(null))).unwrap();
    assert!(instance(&p, "pod-a").container_application_ids.is_empty());
    assert_eq!(
        instance(&p, "pod-b").container_application_ids,
        ids(&["svc-s"])
    );
    p.delete_service(&service("s", "shop", json!(null)))
        .unwrap();
    assert!(instance(&p, "pod-b").container_application_ids.is_empty());
    assert!(p.endpoint_services.is_empty());
}
