//! Builders shared by the integration tests: Kubernetes and Antrea objects from compact
//! descriptions, and a small two-Node cluster.

#![allow(dead_code)]

use antrea_policy::{ClusterIndex, Destination, PodName};
use antrea_types::{ClusterGroup, ClusterNetworkPolicy, Group, NetworkPolicy, Tier};
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy as K8sNetworkPolicy;
use serde_json::{Value, json};

fn labels_json(labels: &[(&str, &str)]) -> Value {
    Value::Object(
        labels
            .iter()
            .map(|(key, value)| (key.to_string(), Value::String(value.to_string())))
            .collect(),
    )
}

/// A running Pod with one IPv4 address.
pub fn pod(namespace: &str, name: &str, labels: &[(&str, &str)], node: &str, ip: &str) -> Pod {
    pod_value(namespace, name, labels, node, ip, json!([]))
}

/// A running Pod whose single container exposes named ports `(name, port, protocol)`.
pub fn pod_with_ports(
    namespace: &str,
    name: &str,
    labels: &[(&str, &str)],
    node: &str,
    ip: &str,
    ports: &[(&str, i32, &str)],
) -> Pod {
    let ports: Vec<Value> = ports
        .iter()
        .map(|(name, port, protocol)| json!({"name": name, "containerPort": port, "protocol": protocol}))
        .collect();
    pod_value(namespace, name, labels, node, ip, Value::Array(ports))
}

fn pod_value(
    namespace: &str,
    name: &str,
    labels: &[(&str, &str)],
    node: &str,
    ip: &str,
    ports: Value,
) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"namespace": namespace, "name": name, "labels": labels_json(labels)},
        "spec": {
            "nodeName": node,
            "serviceAccountName": "default",
            "containers": [{"name": "main", "image": "agnhost", "ports": ports}],
        },
        "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]},
    }))
    .expect("pod")
}

pub fn namespace(name: &str, labels: &[(&str, &str)]) -> Namespace {
    let mut all = vec![("kubernetes.io/metadata.name", name)];
    all.extend_from_slice(labels);
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels_json(&all)}}))
        .expect("namespace")
}

pub fn node(name: &str, internal_ip: &str, pod_cidr: &str, labels: &[(&str, &str)]) -> Node {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels_json(labels)},
        "spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]},
        "status": {"addresses": [{"type": "InternalIP", "address": internal_ip}, {"type": "Hostname", "address": name}]},
    }))
    .expect("node")
}

pub fn service(value: Value) -> Service {
    serde_json::from_value(value).expect("service")
}

pub fn endpoints(value: Value) -> Endpoints {
    serde_json::from_value(value).expect("endpoints")
}

pub fn endpoint_slice(value: Value) -> EndpointSlice {
    serde_json::from_value(value).expect("endpoint slice")
}

/// An ACNP from its `spec`.
pub fn acnp(name: &str, spec: Value) -> ClusterNetworkPolicy {
    serde_json::from_value(json!({
        "apiVersion": "crd.antrea.io/v1beta1", "kind": "ClusterNetworkPolicy",
        "metadata": {"name": name}, "spec": spec,
    }))
    .expect("acnp")
}

/// An ANNP from its `spec`.
pub fn annp(namespace: &str, name: &str, spec: Value) -> NetworkPolicy {
    serde_json::from_value(json!({
        "apiVersion": "crd.antrea.io/v1beta1", "kind": "NetworkPolicy",
        "metadata": {"namespace": namespace, "name": name}, "spec": spec,
    }))
    .expect("annp")
}

pub fn knp(namespace: &str, name: &str, spec: Value) -> K8sNetworkPolicy {
    serde_json::from_value(json!({
        "metadata": {"namespace": namespace, "name": name}, "spec": spec,
    }))
    .expect("k8s network policy")
}

pub fn cluster_group(name: &str, spec: Value) -> ClusterGroup {
    serde_json::from_value(json!({
        "apiVersion": "crd.antrea.io/v1beta1", "kind": "ClusterGroup",
        "metadata": {"name": name}, "spec": spec,
    }))
    .expect("cluster group")
}

pub fn group(namespace: &str, name: &str, spec: Value) -> Group {
    serde_json::from_value(json!({
        "apiVersion": "crd.antrea.io/v1beta1", "kind": "Group",
        "metadata": {"namespace": namespace, "name": name}, "spec": spec,
    }))
    .expect("group")
}

pub fn tier(name: &str, priority: i32) -> Tier {
    serde_json::from_value(json!({
        "apiVersion": "crd.antrea.io/v1beta1", "kind": "Tier",
        "metadata": {"name": name}, "spec": {"priority": priority},
    }))
    .expect("tier")
}

pub fn to_pod(namespace: &str, name: &str) -> Destination {
    Destination::Pod(PodName::new(namespace, name))
}

pub fn from(namespace: &str, name: &str) -> PodName {
    PodName::new(namespace, name)
}

/// Two Nodes (`node-a` 192.168.0.1 with Pods in 10.10.0.0/24, `node-b` 192.168.0.2 with
/// 10.10.1.0/24), Namespaces `prod` (env=prod, team=a), `dev` (env=dev, team=a) and `other`
/// (env=prod, team=b), and Pods:
///
/// | Pod | labels | Node | IP |
/// |---|---|---|---|
/// | prod/web-0 | app=web | node-a | 10.10.0.10 |
/// | prod/web-1 | app=web | node-b | 10.10.1.10 |
/// | prod/db-0 | app=db | node-b | 10.10.1.20 (named port `postgres` 5432/TCP) |
/// | prod/client | app=client | node-a | 10.10.0.30 |
/// | dev/client | app=client | node-a | 10.10.0.40 |
/// | other/client | app=client | node-b | 10.10.1.40 |
pub fn cluster() -> ClusterIndex {
    let mut index = ClusterIndex::new();
    index
        .apply_node(&node(
            "node-a",
            "192.168.0.1",
            "10.10.0.0/24",
            &[("zone", "a")],
        ))
        .unwrap();
    index
        .apply_node(&node(
            "node-b",
            "192.168.0.2",
            "10.10.1.0/24",
            &[("zone", "b")],
        ))
        .unwrap();
    index
        .apply_namespace(&namespace("prod", &[("env", "prod"), ("team", "a")]))
        .unwrap();
    index
        .apply_namespace(&namespace("dev", &[("env", "dev"), ("team", "a")]))
        .unwrap();
    index
        .apply_namespace(&namespace("other", &[("env", "prod"), ("team", "b")]))
        .unwrap();
    index
        .apply_pod(&pod(
            "prod",
            "web-0",
            &[("app", "web")],
            "node-a",
            "10.10.0.10",
        ))
        .unwrap();
    index
        .apply_pod(&pod(
            "prod",
            "web-1",
            &[("app", "web")],
            "node-b",
            "10.10.1.10",
        ))
        .unwrap();
    index
        .apply_pod(&pod_with_ports(
            "prod",
            "db-0",
            &[("app", "db")],
            "node-b",
            "10.10.1.20",
            &[("postgres", 5432, "TCP")],
        ))
        .unwrap();
    index
        .apply_pod(&pod(
            "prod",
            "client",
            &[("app", "client")],
            "node-a",
            "10.10.0.30",
        ))
        .unwrap();
    index
        .apply_pod(&pod(
            "dev",
            "client",
            &[("app", "client")],
            "node-a",
            "10.10.0.40",
        ))
        .unwrap();
    index
        .apply_pod(&pod(
            "other",
            "client",
            &[("app", "client")],
            "node-b",
            "10.10.1.40",
        ))
        .unwrap();
    index
}
