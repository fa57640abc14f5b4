//! Tests of the Traceflow translation.

use std::collections::HashMap;
use std::time::Duration;

use antrea_types::TraceflowStatus;
use serde_json::json;

use super::*;

#[derive(Default)]
struct Cluster {
    pods: HashMap<String, PodRef>,
    services: HashMap<String, ServiceRef>,
    nodes: HashMap<String, String>,
}

impl WorkloadLookup for Cluster {
    fn pod(&self, uid: &str) -> Option<PodRef> {
        self.pods.get(uid).cloned()
    }
    fn service(&self, uid: &str) -> Option<ServiceRef> {
        self.services.get(uid).cloned()
    }
    fn node_uid(&self, name: &str) -> Option<String> {
        self.nodes.get(name).cloned()
    }
}

fn cluster() -> Cluster {
    let pod = |name: &str, host: bool| PodRef {
        namespace: "shop".into(),
        name: name.into(),
        host_network: host,
    };
    Cluster {
        pods: [
            ("uid-web".to_owned(), pod("web-0", false)),
            ("uid-db".to_owned(), pod("db-0", false)),
            ("uid-host".to_owned(), pod("node-exporter", true)),
        ]
        .into(),
        services: [(
            "uid-svc".to_owned(),
            ServiceRef {
                namespace: "shop".into(),
                name: "db".into(),
            },
        )]
        .into(),
        nodes: [
            ("worker-1".to_owned(), "node-uid-1".to_owned()),
            ("worker-2".to_owned(), "node-uid-2".to_owned()),
        ]
        .into(),
    }
}

fn config(value: serde_json::Value) -> NsxTraceflowConfig {
    serde_json::from_value(value).expect("NSX AntreaTraceflowConfig JSON")
}

fn spec_json(tf: &antrea_types::Traceflow) -> serde_json::Value {
    serde_json::to_value(&tf.spec).unwrap()
}

#[test]
fn the_nsx_example_becomes_an_icmp_traceflow_between_pods() {
    // The body from NSX's API documentation, with our UIDs.
    let c = config(
        json!({"container_cluster_id": "c1", "source_external_id": "uid-web",
        "destination_external_id": "uid-db",
        "packet": {"ipHeader": {"srcIp": "172.16.14.11", "protocol": 1, "ttl": 64, "flags": 0},
                   "transportHeader": {"icmpEchoRequestHeader": {"id": 0, "sequence": 0}},
                   "frameSize": 255, "resourceType": "FIELDS_PACKET_DATA", "payload": "123",
                   "transportType": "UNICAST"}}),
    );
    let tf = traceflow_for("tf-1", 1, &c, Some(Duration::from_secs(10)), &cluster()).unwrap();
    assert_eq!(
        tf.metadata.name.as_deref(),
        Some(traceflow_name("tf-1", 1).as_str())
    );
    assert_eq!(
        spec_json(&tf),
        json!({"source": {"namespace": "shop", "pod": "web-0"},
               "destination": {"namespace": "shop", "pod": "db-0"},
               "packet": {"ipHeader": {"protocol": 1, "ttl": 64, "flags": 0},
                          "transportHeader": {"icmp": {"id": 0, "sequence": 0}}},
               "timeout": 10})
    );
    let labels = tf.metadata.labels.unwrap();
    assert_eq!(labels[TRACEFLOW_RUN_LABEL], "1");
    assert_eq!(labels[TRACEFLOW_ID_LABEL], id_hash("tf-1"));
}

#[test]
fn names_are_deterministic_per_run_and_valid_kubernetes_names() {
    assert_eq!(traceflow_name("a", 1), traceflow_name("a", 1));
    assert_ne!(traceflow_name("a", 1), traceflow_name("a", 2));
    assert_ne!(traceflow_name("a", 1), traceflow_name("b", 1));
    let name = traceflow_name("Some/NSX_Id", 3);
    assert!(
        name.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
        "{name}"
    );
}

#[test]
fn tcp_defaults_to_syn_and_a_destination_ip_wins_over_the_external_id() {
    let c = config(
        json!({"source_external_id": "uid-web", "destination_external_id": "uid-db",
        "packet": {"ipHeader": {"dstIp": "10.1.2.3"},
                   "transportHeader": {"tcpHeader": {"srcPort": 10000, "dstPort": 5432}}}}),
    );
    let tf = traceflow_for("tf", 1, &c, None, &cluster()).unwrap();
    assert_eq!(
        spec_json(&tf),
        json!({"source": {"namespace": "shop", "pod": "web-0"}, "destination": {"ip": "10.1.2.3"},
               "packet": {"ipHeader": {"protocol": 6, "ttl": 64},
                          "transportHeader": {"tcp": {"srcPort": 10000, "dstPort": 5432, "flags": 2}}}})
    );
}

#[test]
fn a_service_destination_and_udp_over_ipv6() {
    let c = config(
        json!({"source_external_id": "uid-web", "destination_external_id": "uid-svc",
        "packet": {"ipv6Header": {"hopLimit": 32}, "transportHeader": {"udpHeader": {"dstPort": 53}}}}),
    );
    let tf = traceflow_for("tf", 2, &c, None, &cluster()).unwrap();
    assert_eq!(
        spec_json(&tf),
        json!({"source": {"namespace": "shop", "pod": "web-0"},
               "destination": {"namespace": "shop", "service": "db"},
               "packet": {"ipv6Header": {"nextHeader": 17, "hopLimit": 32},
                          "transportHeader": {"udp": {"dstPort": 53}}}})
    );
    // ICMP over IPv6 is ICMPv6 (58).
    let c = config(
        json!({"source_external_id": "uid-web", "packet": {"ipv6Header": {"dstIp": "fd00::1"}}}),
    );
    let tf = traceflow_for("tf", 1, &c, None, &cluster()).unwrap();
    assert_eq!(spec_json(&tf)["packet"]["ipv6Header"]["nextHeader"], 58);
    assert_eq!(spec_json(&tf)["destination"]["ip"], "fd00::1");
}

fn refused(value: serde_json::Value, timeout: Option<u64>) -> TraceflowError {
    traceflow_for(
        "tf",
        1,
        &config(value),
        timeout.map(Duration::from_secs),
        &cluster(),
    )
    .unwrap_err()
}

#[test]
fn bad_requests_get_clear_errors_with_their_field() {
    use TraceflowErrorCode::{InvalidArgument, NotFound};
    let cases = [
        (
            json!({"source_external_id": "nope", "destination_external_id": "uid-db"}),
            NotFound,
            "source_external_id",
        ),
        (
            json!({"destination_external_id": "uid-db"}),
            InvalidArgument,
            "source_external_id",
        ),
        (
            json!({"source_external_id": "uid-host", "destination_external_id": "uid-db"}),
            InvalidArgument,
            "source_external_id",
        ),
        (
            json!({"source_external_id": "uid-web", "destination_external_id": "nope"}),
            NotFound,
            "destination_external_id",
        ),
        (
            json!({"source_external_id": "uid-web"}),
            InvalidArgument,
            "destination_external_id",
        ),
        (
            json!({"source_external_id": "uid-web", "destination_external_id": "uid-db",
                "packet": {"transportType": "BROADCAST"}}),
            InvalidArgument,
            "packet.transportType",
        ),
        (
            json!({"source_external_id": "uid-web", "destination_external_id": "uid-db",
                "packet": {"resourceType": "BINARY_PACKET_DATA"}}),
            InvalidArgument,
            "packet.resourceType",
        ),
        (
            json!({"source_external_id": "uid-web", "destination_external_id": "uid-db",
                "packet": {"ipHeader": {}, "ipv6Header": {}}}),
            InvalidArgument,
            "packet.ipv6Header",
        ),
        (
            json!({"source_external_id": "uid-web", "destination_external_id": "uid-db",
                "packet": {"ipHeader": {"protocol": 47}}}),
            InvalidArgument,
            "packet.ipHeader.protocol",
        ),
        (
            json!({"source_external_id": "uid-web", "destination_external_id": "uid-db",
                "packet": {"ipHeader": {"protocol": 17}, "transportHeader": {"tcpHeader": {}}}}),
            InvalidArgument,
            "packet.ipHeader.protocol",
        ),
        (
            json!({"source_external_id": "uid-web", "destination_external_id": "uid-db",
                "packet": {"transportHeader": {"tcpHeader": {"tcpFlags": 16}}}}),
            InvalidArgument,
            "packet.transportHeader.tcpHeader.tcpFlags",
        ),
        (
            json!({"source_external_id": "uid-web", "destination_external_id": "uid-db",
                "packet": {"transportHeader": {"udpHeader": {"dstPort": 70000}}}}),
            InvalidArgument,
            "packet.transportHeader.udpHeader.dstPort",
        ),
        (
            json!({"source_external_id": "uid-web", "destination_external_id": "uid-db",
                "packet": {"transportHeader": {"udpHeader": {}, "tcpHeader": {}}}}),
            InvalidArgument,
            "packet.transportHeader",
        ),
        (
            json!({"source_external_id": "uid-web", "packet": {"ipHeader": {"dstIp": "fd00::1"}}}),
            InvalidArgument,
            "packet.ipHeader.dstIp",
        ),
        (
            json!({"source_external_id": "uid-web", "packet": {"ipHeader": {"dstIp": "not-an-ip"}}}),
            InvalidArgument,
            "packet.ipHeader.dstIp",
        ),
        (
            json!({"source_external_id": "uid-web", "destination_external_id": "uid-db",
                "packet": {"ipHeader": {"ttl": 300}}}),
            InvalidArgument,
            "packet.ipHeader.ttl",
        ),
    ];
    for (value, code, target) in cases {
        let error = refused(value.clone(), None);
        assert_eq!(
            (error.code, error.target.as_str()),
            (code, target),
            "{value}: {error}"
        );
        assert!(!error.message.is_empty());
    }
    let error = refused(
        json!({"source_external_id": "uid-web", "destination_external_id": "uid-db"}),
        Some(301),
    );
    assert_eq!(error.target, "trace_timeout");
    assert_eq!(
        TraceflowError::busy().code,
        TraceflowErrorCode::ResourceExhausted
    );
    assert_eq!(
        TraceflowError::timeout(Duration::from_secs(30)).code,
        TraceflowErrorCode::DeadlineExceeded
    );
}

fn status(value: serde_json::Value) -> TraceflowStatus {
    serde_json::from_value(value).expect("Traceflow status JSON")
}

#[test]
fn antrea_results_map_to_nsx_observations() {
    let s = status(json!({"phase": "Succeeded", "results": [
        {"node": "worker-2", "role": "Receiver", "timestamp": 1700000001, "observations": [
            {"component": "Forwarding", "action": "Received"},
            {"component": "NetworkPolicy", "componentInfo": "IngressRule", "action": "Dropped",
             "networkPolicy": "AntreaClusterNetworkPolicy:nsx-p-web-1", "networkPolicyRule": "r-1017-in"}]},
        {"node": "worker-1", "role": "Sender", "timestamp": 1700000000, "observations": [
            {"component": "SpoofGuard", "action": "Forwarded"},
            {"component": "LB", "action": "Forwarded", "translatedDstIP": "10.1.0.9"},
            {"component": "Routing", "action": "Forwarded"},
            {"component": "Egress", "action": "MarkedForSNAT", "egressIP": "10.2.0.11"},
            {"component": "Forwarding", "action": "ForwardedOutOfNetwork", "tunnelDstIP": "192.168.1.11"}]}]}));
    let (nsx, observations) = nsx_result(Some(&s), &cluster());
    assert_eq!(
        nsx,
        NsxTraceflowStatus {
            phase: "SUCCEEDED".into(),
            reason: String::new()
        }
    );
    let summary: Vec<(&str, &str, &str, i64)> = observations
        .iter()
        .map(|o| {
            (
                o.component_type,
                o.observation_type,
                o.container_node_id.as_str(),
                o.timestamp,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "ANTREA_SPOOFGUARD",
                "AntreaTraceflowObservationForwarded",
                "node-uid-1",
                1_700_000_000_000
            ),
            (
                "ANTREA_LB",
                "AntreaTraceflowObservationForwarded",
                "node-uid-1",
                1_700_000_000_000
            ),
            (
                "ANTREA_ROUTING",
                "AntreaTraceflowObservationForwarded",
                "node-uid-1",
                1_700_000_000_000
            ),
            (
                "UNKNOWN",
                "AntreaTraceflowObservationForwarded",
                "node-uid-1",
                1_700_000_000_000
            ),
            (
                "ANTREA_FORWARDING",
                "AntreaTraceflowObservationForwarded",
                "node-uid-1",
                1_700_000_000_000
            ),
            (
                "ANTREA_FORWARDING",
                "AntreaTraceflowObservationReceived",
                "node-uid-2",
                1_700_000_001_000
            ),
            (
                "ANTREA_DFW",
                "AntreaTraceflowObservationDropped",
                "node-uid-2",
                1_700_000_001_000
            ),
        ]
    );
    let dropped = &observations[6].antrea;
    assert_eq!(dropped.network_policy_rule, "r-1017-in");
    assert_eq!(dropped.component_info, "IngressRule");
    assert_eq!(dropped.action, "Dropped");
    assert_eq!(observations[1].antrea.translated_dst_ip, "10.1.0.9");
    assert_eq!(observations[3].antrea.component, "Egress");
}

#[test]
fn rejected_is_dropped_and_phases_map() {
    assert_eq!(
        observation_type(Some(&TraceflowAction::Rejected)),
        "AntreaTraceflowObservationDropped"
    );
    assert_eq!(
        observation_type(Some(&TraceflowAction::Delivered)),
        "AntreaTraceflowObservationDelivered"
    );
    let failed = status(json!({"phase": "Failed", "reason": "Traceflow timeout"}));
    assert_eq!(
        nsx_result(Some(&failed), &cluster()).0,
        NsxTraceflowStatus {
            phase: "FAILED".into(),
            reason: "Traceflow timeout".into()
        }
    );
    assert_eq!(progress(Some(&failed)), TraceflowProgress::Completed);
    assert_eq!(
        progress(Some(&status(json!({"phase": "Running"})))),
        TraceflowProgress::Running
    );
    assert_eq!(
        progress(Some(&status(json!({})))),
        TraceflowProgress::Queued
    );
    assert_eq!(progress(None), TraceflowProgress::Queued);
    let running = nsx_result(Some(&status(json!({"phase": "Running"}))), &cluster());
    assert_eq!(running.0.phase, "");
    // An unknown Node keeps its name.
    let s = status(
        json!({"phase": "Succeeded", "results": [{"node": "gone", "observations": [{"component": "Forwarding", "action": "Delivered"}]}]}),
    );
    assert_eq!(
        nsx_result(Some(&s), &cluster()).1[0].container_node_id,
        "gone"
    );
}

#[test]
fn generated_traceflows_validate_against_antreas_crd_schema() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/antrea-crds/v2.7.0/traceflow.yaml"
    );
    let crd: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(path).expect("Antrea's Traceflow CRD"))
            .unwrap();
    let schema = crd
        .pointer("/spec/versions/0/schema/openAPIV3Schema")
        .expect("openAPIV3Schema")
        .clone();
    // Kubernetes checks formats (the ip field is oneOf ipv4/ipv6).
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("CRD schema compiles");
    let configs = [
        json!({"source_external_id": "uid-web", "destination_external_id": "uid-svc",
               "packet": {"transportHeader": {"tcpHeader": {"dstPort": 80, "tcpFlags": 18}}}}),
        json!({"source_external_id": "uid-web", "destination_external_id": "uid-db",
               "packet": {"ipHeader": {"ttl": 8, "flags": 2}, "transportHeader": {"icmpEchoRequestHeader": {"id": 7, "sequence": 1}}}}),
        json!({"source_external_id": "uid-web", "packet": {"ipv6Header": {"dstIp": "fd00::1", "hopLimit": 3},
               "transportHeader": {"udpHeader": {"srcPort": 1000, "dstPort": 53}}}}),
    ];
    for value in configs {
        let tf = traceflow_for(
            "tf",
            1,
            &config(value),
            Some(Duration::from_secs(300)),
            &cluster(),
        )
        .unwrap();
        let object = serde_json::to_value(&tf).unwrap();
        let problems: Vec<String> = validator
            .iter_errors(&object)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(problems.is_empty(), "{problems:?}\n{object:#}");
    }
    // The check can fail: a port out of the CRD's range is refused by the schema.
    let mut bad = serde_json::to_value(
        traceflow_for(
            "tf",
            1,
            &config(json!({"source_external_id": "uid-web", "destination_external_id": "uid-db"})),
            None,
            &cluster(),
        )
        .unwrap(),
    )
    .unwrap();
    bad["spec"]["timeout"] = json!(301);
    assert!(!validator.is_valid(&bad));
}
