//! Tests of the projections, including that every record they produce validates against
//! NSX's manager schema bundle.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use nsx_model::inventory::{
    ApplicationType, CniAgentStatus, ContainerObject, ContainerStatus, GatewayAddressType,
    GatewayProtocol, L4Protocol, NetworkPolicyType,
};
use serde_json::{Value, json};

use super::*;
use crate::mp::health::AgentHealth;

const CLUSTER: &str = "cluster-1";

fn typed<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("valid Kubernetes JSON")
}

/// Validates `record` against its model in NSX's manager schema bundle.
pub(crate) fn assert_valid(record: &ContainerObject) {
    type Validators = Mutex<HashMap<&'static str, Arc<jsonschema::Validator>>>;
    static BUNDLE: OnceLock<Value> = OnceLock::new();
    static VALIDATORS: OnceLock<Validators> = OnceLock::new();
    let model = record.resource_type().as_str();
    let validator = VALIDATORS
        .get_or_init(Validators::default)
        .lock()
        .expect("validator cache")
        .entry(model)
        .or_insert_with(|| {
            let bundle = BUNDLE.get_or_init(|| {
                let path = concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../../../shared/nsx-schemas/nsx-manager-4.2.schema.json"
                );
                serde_json::from_str(&std::fs::read_to_string(path).expect("manager bundle"))
                    .expect("bundle is JSON")
            });
            let mut root = bundle.clone();
            root["$ref"] = json!(format!("#/$defs/{model}"));
            Arc::new(
                jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .should_validate_formats(false)
                    .build(&root)
                    .expect("schema compiles"),
            )
        })
        .clone();
    let instance = Value::Object(record.to_json());
    let problems: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(problems.is_empty(), "{model}: {problems:?}\n{instance:#}");
}

pub(crate) fn pod_json(name: &str, labels: Value, phase: &str, ready: bool) -> Value {
    json!({
        "metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{name}"), "labels": labels},
        "spec": {"nodeName": "worker-1", "containers": [{"name": "c", "image": "x",
            "ports": [{"name": "http", "containerPort": 8080}]}]},
        "status": {"phase": phase, "podIP": "10.1.0.5",
            "podIPs": [{"ip": "10.1.0.5"}, {"ip": "fd00::5"}],
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}
    })
}

#[test]
fn a_namespace_becomes_a_project() {
    let ns: Namespace = typed(json!({"metadata": {"name": "shop", "uid": "ns-uid",
        "labels": {"team": "a"}}}));
    let record = project_namespace(&ns, CLUSTER).unwrap();
    assert_valid(&record);
    assert_eq!(
        Value::Object(record.to_json()),
        json!({"resource_type": "ContainerProject", "display_name": "shop",
               "external_id": "ns-uid", "container_cluster_id": CLUSTER,
               "tags": [{"scope": "dis:k8s:team", "tag": "a"}]})
    );
}

#[test]
fn a_pod_becomes_an_instance_with_its_ips_node_services_and_status() {
    let pod: Pod = typed(pod_json("web-0", json!({"app": "web"}), "Running", true));
    let facts = pod_facts(&pod).unwrap();
    assert!(facts.ready);
    assert_eq!(facts.node_name.as_deref(), Some("worker-1"));
    let ids = vec!["svc-a".to_owned(), "svc-b".to_owned()];
    let record = project_pod(
        &pod,
        &facts,
        PodRefs {
            cluster_id: CLUSTER,
            project_id: Some("ns-uid"),
            node_id: Some("node-uid"),
            application_ids: &ids,
        },
    )
    .unwrap();
    assert_valid(&record);
    assert_eq!(
        Value::Object(record.to_json()),
        json!({"resource_type": "ContainerApplicationInstance", "display_name": "web-0",
               "external_id": "uid-web-0", "tags": [{"scope": "dis:k8s:app", "tag": "web"}],
               "origin_properties": [{"key": "ip", "value": "10.1.0.5,fd00::5"}],
               "cluster_node_id": "node-uid", "container_application_ids": ["svc-a", "svc-b"],
               "container_cluster_id": CLUSTER, "container_project_id": "ns-uid",
               "status": "UP"})
    );
}

#[test]
fn pod_status_follows_phase_and_readiness() {
    let cases = [
        ("Running", true, ContainerStatus::Up),
        ("Running", false, ContainerStatus::Degraded),
        ("Pending", false, ContainerStatus::Down),
        ("Succeeded", false, ContainerStatus::Down),
        ("Failed", false, ContainerStatus::Down),
        ("Unknown", false, ContainerStatus::Unknown),
    ];
    for (phase, ready, expected) in cases {
        let pod: Pod = typed(pod_json("p", json!({}), phase, ready));
        assert_eq!(pod_status(&pod, ready), expected, "{phase}");
    }
    let mut deleting = pod_json("p", json!({}), "Running", true);
    deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    assert_eq!(pod_status(&typed(deleting), true), ContainerStatus::Down);
}

#[test]
fn a_pending_pod_without_ip_or_node_is_still_valid() {
    let pod: Pod = typed(
        json!({"metadata": {"name": "p", "namespace": "shop", "uid": "u"},
        "status": {"phase": "Pending"}}),
    );
    let facts = pod_facts(&pod).unwrap();
    let record = project_pod(
        &pod,
        &facts,
        PodRefs {
            cluster_id: CLUSTER,
            ..Default::default()
        },
    )
    .unwrap();
    assert_valid(&record);
    assert_eq!(record.origin_property("ip"), None);
}

fn service_json(kind: &str, npl: bool) -> Value {
    json!({
        "metadata": {"name": "web", "namespace": "shop", "uid": "svc-uid",
            "annotations": if npl { json!({NPL_SERVICE_ANNOTATION: "true"}) } else { json!({}) }},
        "spec": {"type": kind, "selector": {"app": "web"}, "clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10", "fd00:96::10"],
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "nodePort": 30080},
                      {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 5353}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7",
            "ports": [{"port": 80, "protocol": "TCP"}]}]}}
    })
}

#[test]
fn a_service_becomes_an_application() {
    let service: Service = typed(service_json("LoadBalancer", false));
    let facts = service_facts(&service).unwrap();
    let record = project_service(
        &service,
        &facts,
        ServiceRefs {
            cluster_id: CLUSTER,
            project_id: Some("ns-uid"),
            status: Some(ContainerStatus::Up),
            npl_endpoints: Vec::new(),
        },
    )
    .unwrap();
    assert_valid(&record);
    let json = Value::Object(record.to_json());
    assert_eq!(json["type"], "LOAD_BALANCER");
    assert_eq!(json["cluster_ips"], json!(["10.96.0.10", "fd00:96::10"]));
    assert_eq!(
        json["service_ports"],
        json!([{"name": "http", "port": 80, "node_port": 30080, "protocol": "TCP", "target_port": "http"},
               {"name": "dns", "port": 53, "protocol": "UDP", "target_port": "5353"}])
    );
    assert_eq!(
        json["load_balancer_ingress"],
        json!([{"ip": "203.0.113.7", "ports": [{"port": 80, "protocol": "TCP"}]}])
    );
    assert_eq!(
        json["origin_properties"],
        json!([{"key": "type", "value": "LoadBalancer"}, {"key": "ip", "value": "10.96.0.10,fd00:96::10"}])
    );
    let types = [
        ("ClusterIP", ApplicationType::ClusterIp),
        ("NodePort", ApplicationType::NodePort),
        ("ExternalName", ApplicationType::ExternalName),
    ];
    for (kind, expected) in types {
        let service: Service = typed(service_json(kind, false));
        let facts = service_facts(&service).unwrap();
        let record = project_service(
            &service,
            &facts,
            ServiceRefs {
                cluster_id: CLUSTER,
                ..Default::default()
            },
        )
        .unwrap();
        assert_valid(&record);
        let ContainerObject::ContainerApplication(app) = record else {
            unreachable!()
        };
        assert_eq!(app.application_type, Some(expected));
    }
}

#[test]
fn headless_and_external_name_services_have_no_cluster_ip_and_no_selection() {
    let mut headless = service_json("ClusterIP", false);
    headless["spec"]["clusterIP"] = json!("None");
    headless["spec"]["clusterIPs"] = json!(["None"]);
    let service: Service = typed(headless);
    let facts = service_facts(&service).unwrap();
    let record = project_service(
        &service,
        &facts,
        ServiceRefs {
            cluster_id: CLUSTER,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(record.origin_property("ip"), None);
    let external: Service = typed(service_json("ExternalName", false));
    let facts = service_facts(&external).unwrap();
    assert_eq!(facts.selector, None);
    assert_eq!(service_status(&facts, []), ContainerStatus::Unknown);
}

#[test]
fn service_status_needs_a_ready_selected_pod() {
    let service: Service = typed(service_json("ClusterIP", false));
    let facts = service_facts(&service).unwrap();
    let ready = pod_facts(&typed(pod_json(
        "a",
        json!({"app": "web"}),
        "Running",
        true,
    )))
    .unwrap();
    let not_ready = pod_facts(&typed(pod_json(
        "b",
        json!({"app": "web"}),
        "Running",
        false,
    )))
    .unwrap();
    assert_eq!(
        service_status(&facts, [not_ready.ready]),
        ContainerStatus::Down
    );
    assert_eq!(
        service_status(&facts, [not_ready.ready, ready.ready]),
        ContainerStatus::Up
    );
    assert_eq!(service_status(&facts, []), ContainerStatus::Down);
}

#[test]
fn node_port_local_endpoints_come_from_the_selected_pods_annotations() {
    let mut pod = pod_json("a", json!({"app": "web"}), "Running", true);
    pod["metadata"]["annotations"] = json!({NPL_POD_ANNOTATION: r#"[
        {"podPort": 8080, "nodeIP": "192.168.1.10", "nodePort": 61001, "protocol": "tcp", "protocols": ["tcp"]},
        {"podPort": 5353, "nodeIP": "192.168.1.10", "nodePort": 61002, "protocol": "udp"},
        {"podPort": 9999, "nodeIP": "192.168.1.10", "nodePort": 61003, "protocol": "tcp"}]"#});
    let pod = pod_facts(&typed(pod)).unwrap();
    assert_eq!(
        pod.named_ports,
        vec![("http".to_owned(), 8080, L4Protocol::Tcp)]
    );
    let enabled = service_facts(&typed(service_json("ClusterIP", true))).unwrap();
    let endpoints = npl_endpoints(&enabled, [pod.ports()]);
    let found: Vec<(i64, L4Protocol)> = endpoints
        .iter()
        .map(|e| (e.node_port.unwrap(), e.protocol.clone().unwrap()))
        .collect();
    // 8080 through the named target "http", 5353/UDP by number; 9999 is no target.
    assert_eq!(
        found,
        vec![(61001, L4Protocol::Tcp), (61002, L4Protocol::Udp)]
    );
    let disabled = service_facts(&typed(service_json("ClusterIP", false))).unwrap();
    assert!(npl_endpoints(&disabled, [pod.ports()]).is_empty());
    // A garbled annotation is ignored.
    let mut garbled = pod_json("b", json!({}), "Running", true);
    garbled["metadata"]["annotations"] = json!({NPL_POD_ANNOTATION: "{not json"});
    assert!(pod_facts(&typed(garbled)).unwrap().npl.is_empty());
}

#[test]
fn a_node_becomes_a_cluster_node_with_addresses_cidrs_and_agent_status() {
    let node: Node = typed(json!({
        "metadata": {"name": "worker-1", "uid": "node-uid", "labels": {"kubernetes.io/os": "linux"}},
        "spec": {"podCIDR": "10.1.0.0/24", "podCIDRs": ["10.1.0.0/24", "fd00:1::/64"], "providerID": "kind://w1"},
        "status": {"addresses": [{"type": "InternalIP", "address": "192.168.1.10"},
                                 {"type": "ExternalIP", "address": "203.0.113.10"},
                                 {"type": "Hostname", "address": "worker-1"}],
                   "nodeInfo": {"kubeletVersion": "v1.33.1", "osImage": "Debian 12",
                       "machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "",
                       "containerRuntimeVersion": "", "kubeProxyVersion": "",
                       "operatingSystem": "linux", "architecture": "amd64"}}
    }));
    let record = project_node(&node, CLUSTER, Some(AgentHealth::Healthy)).unwrap();
    assert_valid(&record);
    assert_eq!(
        Value::Object(record.to_json()),
        json!({"resource_type": "ContainerClusterNode", "display_name": "worker-1",
               "external_id": "node-uid", "tags": [{"scope": "dis:k8s:kubernetes.io/os", "tag": "linux"}],
               "origin_properties": [{"key": "kubelet_version", "value": "v1.33.1"},
                                     {"key": "os_image", "value": "Debian 12"}],
               "cni_agent_status": "HEALTHY", "container_cluster_id": CLUSTER,
               "external_ip_addresses": ["203.0.113.10"], "ip_addresses": ["192.168.1.10"],
               "pod_cidrs": ["10.1.0.0/24", "fd00:1::/64"], "provider_id": "kind://w1"})
    );
    for agent in [None, Some(AgentHealth::Degraded), Some(AgentHealth::Failed)] {
        let ContainerObject::ContainerClusterNode(n) = project_node(&node, CLUSTER, agent).unwrap()
        else {
            unreachable!()
        };
        assert_eq!(n.cni_agent_status, Some(CniAgentStatus::Unhealthy));
    }
}

#[test]
fn an_ingress_becomes_an_ingress_policy_with_its_spec_as_yaml() {
    let ingress: Ingress = typed(json!({
        "metadata": {"name": "shop", "namespace": "shop", "uid": "ing-uid"},
        "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}},
                 "rules": [{"host": "shop.example.com", "http": {"paths": [
                    {"path": "/api", "pathType": "Prefix", "backend": {"service": {"name": "api", "port": {"number": 8080}}}},
                    {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]},
        "status": {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}]}}
    }));
    assert_eq!(ingress_service_names(&ingress), ["api", "web"]);
    let ids = vec!["svc-uid".to_owned()];
    let record = project_ingress(&ingress, CLUSTER, Some("ns-uid"), &ids).unwrap();
    assert_valid(&record);
    let json = Value::Object(record.to_json());
    assert_eq!(json["container_application_ids"], json!(["svc-uid"]));
    assert_eq!(
        json["load_balance_ingress"],
        json!([{"hostname": "lb.example.com"}])
    );
    let spec = json["spec"].as_str().unwrap();
    assert!(spec.contains("shop.example.com"), "{spec}");
    assert!(spec.contains("defaultBackend"), "{spec}");
}

#[test]
fn network_policies_carry_their_type_and_yaml_spec() {
    let np: NetworkPolicy = typed(json!({
        "metadata": {"name": "deny", "namespace": "shop", "uid": "np-uid"},
        "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"]}
    }));
    let record = project_network_policy(&np, CLUSTER, Some("ns-uid")).unwrap();
    assert_valid(&record);
    let ContainerObject::ContainerNetworkPolicy(p) = &record else {
        unreachable!()
    };
    assert_eq!(p.policy_type, Some(NetworkPolicyType::NetworkPolicy));
    assert_eq!(p.container_project_id.as_deref(), Some("ns-uid"));
    let spec = p.spec.as_deref().unwrap();
    assert!(
        spec.contains("podSelector:") && spec.contains("app: web"),
        "{spec}"
    );

    let acnp: antrea_types::ClusterNetworkPolicy = typed(json!({
        "apiVersion": "crd.antrea.io/v1beta1", "kind": "ClusterNetworkPolicy",
        "metadata": {"name": "acnp", "uid": "acnp-uid"},
        "spec": {"priority": 5, "tier": "application",
                 "appliedTo": [{"namespaceSelector": {}}],
                 "ingress": [{"name": "r-1-in", "action": "Drop", "from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]}
    }));
    let record = project_cluster_network_policy(&acnp, CLUSTER).unwrap();
    assert_valid(&record);
    let ContainerObject::ContainerNetworkPolicy(p) = &record else {
        unreachable!()
    };
    assert_eq!(p.policy_type, Some(NetworkPolicyType::Acnp));
    assert_eq!(p.container_project_id, None);
    assert!(p.spec.as_deref().unwrap().contains("r-1-in"));

    let annp: antrea_types::NetworkPolicy = typed(json!({
        "apiVersion": "crd.antrea.io/v1beta1", "kind": "NetworkPolicy",
        "metadata": {"name": "annp", "namespace": "shop", "uid": "annp-uid"},
        "spec": {"priority": 5, "appliedTo": [{"podSelector": {}}], "egress": []}
    }));
    let record = project_antrea_network_policy(&annp, CLUSTER, Some("ns-uid")).unwrap();
    assert_valid(&record);
    let ContainerObject::ContainerNetworkPolicy(p) = &record else {
        unreachable!()
    };
    assert_eq!(p.policy_type, Some(NetworkPolicyType::Anp));
}

#[test]
fn egress_pool_and_gateway_are_read_from_json() {
    let egress = json!({"apiVersion": "crd.antrea.io/v1beta1", "kind": "Egress",
        "metadata": {"name": "eg", "uid": "eg-uid", "labels": {"a": "b"}},
        "spec": {"appliedTo": {"podSelector": {}}, "externalIPPool": "pool"},
        "status": {"egressIP": "10.2.0.11", "egressNode": "worker-1"}});
    let record = project_egress(&egress, CLUSTER).unwrap();
    assert_valid(&record);
    let json = Value::Object(record.to_json());
    assert_eq!(json["egress_ip"], "10.2.0.11");
    assert_eq!(
        json["origin_properties"],
        json!([{"key": "externalIPPool", "value": "pool"}, {"key": "egressNode", "value": "worker-1"}])
    );
    assert!(
        json["spec"]
            .as_str()
            .unwrap()
            .contains("externalIPPool: pool")
    );

    let pool = json!({"metadata": {"name": "pool", "uid": "pool-uid"},
        "spec": {"ipRanges": [{"start": "10.2.0.10", "end": "10.2.0.20"}, {"cidr": "10.3.0.0/24"}],
                 "subnetInfo": {"gateway": "10.2.0.1", "prefixLength": 24, "vlan": 10}}});
    let record = project_external_ip_pool(&pool, CLUSTER).unwrap();
    assert_valid(&record);
    let json = Value::Object(record.to_json());
    assert_eq!(json["ip_version"], 4);
    assert_eq!(
        json["ip_ranges"],
        json!([{"start": "10.2.0.10", "end": "10.2.0.20", "gateway": "10.2.0.1", "prefix_length": 24, "vlan": 10},
               {"cidr": "10.3.0.0/24", "gateway": "10.2.0.1", "prefix_length": 24, "vlan": 10}])
    );
    let v6 = json!({"metadata": {"name": "p6", "uid": "p6"}, "spec": {"ipRanges": [{"cidr": "fd00::/120"}]}});
    let ContainerObject::ContainerIpPool(p) = project_external_ip_pool(&v6, CLUSTER).unwrap()
    else {
        unreachable!()
    };
    assert_eq!(p.ip_version, Some(6));

    let gateway = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "gw", "namespace": "shop", "uid": "gw-uid"},
        "spec": {"gatewayClassName": "x", "listeners": [
            {"name": "http", "port": 80, "protocol": "HTTP", "hostname": "*.example.com"},
            {"name": "grpc", "port": 9000, "protocol": "example.com/GRPC"}]},
        "status": {"addresses": [{"type": "IPAddress", "value": "203.0.113.9"},
                                 {"type": "Hostname", "value": "gw.example.com"},
                                 {"type": "example.com/custom", "value": "x"}]}});
    let record = project_gateway(&gateway, CLUSTER, Some("ns-uid")).unwrap();
    assert_valid(&record);
    let ContainerObject::ContainerGateway(g) = &record else {
        unreachable!()
    };
    let types: Vec<_> = g
        .addresses
        .iter()
        .map(|a| a.address_type.clone().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            GatewayAddressType::IpAddress,
            GatewayAddressType::HostName,
            GatewayAddressType::NamedAddress
        ]
    );
    assert_eq!(g.listeners[0].protocol, Some(GatewayProtocol::Http));
    assert_eq!(g.listeners[1].protocol, None);
    assert_eq!(g.listeners[1].port, Some(9000));
}

#[test]
fn objects_without_identity_are_refused_with_a_clear_error() {
    let pod: Pod = typed(json!({"metadata": {"name": "p", "namespace": "shop"}}));
    assert_eq!(
        pod_facts(&pod).unwrap_err(),
        ProjectionError::MissingUid {
            kind: "Pod",
            name: "p".into()
        }
    );
    let ns: Namespace = typed(json!({"metadata": {"uid": "u"}}));
    assert_eq!(
        project_namespace(&ns, CLUSTER).unwrap_err(),
        ProjectionError::MissingName { kind: "Namespace" }
    );
    let pod: Pod = typed(json!({"metadata": {"name": "p", "uid": "u"}}));
    assert!(matches!(
        pod_facts(&pod),
        Err(ProjectionError::MissingNamespace { .. })
    ));
    assert!(project_egress(&json!({"metadata": {"name": "e"}}), CLUSTER).is_err());
    assert!(project_gateway(&json!([]), CLUSTER, None).is_err());
}

#[test]
fn very_long_names_are_cut_to_nsx_display_name_limit() {
    let name = "n".repeat(300);
    let ns: Namespace = typed(json!({"metadata": {"name": name, "uid": "u"}}));
    let record = project_namespace(&ns, CLUSTER).unwrap();
    assert_eq!(record.display_name().unwrap().len(), 255);
}

#[test]
fn the_cluster_record_names_antrea_and_matches_nsx_enum_spellings() {
    let record = project_cluster(&ClusterSettings {
        cluster_id: "cluster-1".into(),
        display_name: "sales".into(),
        cluster_type: "kubernetes".into(),
        cluster_ip_ranges: vec!["10.96.0.0/12".into()],
        node_port_range: Some("30000-32767".into()),
        node_port_local_range: Some("61000-62000".into()),
        infra_type: Some("VSPHERE".into()),
    });
    assert_valid(&record);
    assert_eq!(
        Value::Object(record.to_json()),
        json!({"resource_type": "ContainerCluster", "display_name": "sales", "external_id": "cluster-1",
               "cluster_ip_ranges": ["10.96.0.0/12"], "cluster_type": "Kubernetes", "cni_type": "Antrea",
               "infrastructure": {"infra_type": "vSphere"}, "node_port_local_range": "61000-62000",
               "node_port_range": "30000-32767"})
    );
    let workload = project_cluster(&ClusterSettings {
        cluster_id: "c".into(),
        cluster_type: "WorkloadCluster".into(),
        ..Default::default()
    });
    assert_eq!(workload.to_json()["cluster_type"], "WorkloadCluster");
    assert!(workload.to_json().get("infrastructure").is_none());
}
