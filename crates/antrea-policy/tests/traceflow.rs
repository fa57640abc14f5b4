//! Traceflow observations, checked against the shapes Antrea's e2e tests expect
//! (`test/e2e/traceflow_test.go`) and the agent's packet-in parsing.

mod support;

use antrea_policy::{ClusterIndex, Destination, NodeRole, PacketSpec, Verdict};
use antrea_types::traceflow::{Observation, TraceflowSpec};
use serde_json::{Value, json};
use support::*;

/// An observation as compact JSON (only the fields set).
fn observations(index: &ClusterIndex, packet: &PacketSpec) -> (Verdict, Vec<(String, Vec<Value>)>) {
    let evaluation = index.evaluate(packet).expect("evaluate");
    let nodes = evaluation
        .nodes
        .iter()
        .map(|node| {
            let observations = node
                .observations
                .iter()
                .map(|observation: &Observation| serde_json::to_value(observation).unwrap())
                .collect();
            (node.node.clone(), observations)
        })
        .collect();
    (evaluation.verdict, nodes)
}

fn allow_all_egress(index: &mut ClusterIndex) {
    index
        .apply_k8s_network_policy(&knp(
            "prod",
            "allow-all-egress",
            json!({"podSelector": {}, "egress": [{}], "policyTypes": ["Egress"]}),
        ))
        .unwrap();
}

fn deny_ingress_to(index: &mut ClusterIndex, app: &str) {
    index
        .apply_k8s_network_policy(&knp(
            "prod",
            "deny-ingress",
            json!({"podSelector": {"matchLabels": {"app": app}}, "policyTypes": ["Ingress"]}),
        ))
        .unwrap();
}

const EGRESS_RULE_K8S: &str = "K8sNetworkPolicy:prod/allow-all-egress";

#[test]
fn intra_node_dropped_by_k8s_isolation() {
    let mut index = cluster();
    allow_all_egress(&mut index);
    deny_ingress_to(&mut index, "web");
    let (verdict, nodes) = observations(
        &index,
        &PacketSpec::tcp(from("prod", "client"), to_pod("prod", "web-0"), 80),
    );
    assert_eq!(verdict, Verdict::Dropped);
    assert_eq!(
        nodes,
        vec![(
            "node-a".to_string(),
            vec![
                json!({"component": "SpoofGuard", "action": "Forwarded", "srcPodIP": "10.10.0.30"}),
                json!({"component": "NetworkPolicy", "componentInfo": "EgressRule", "action": "Forwarded", "networkPolicy": EGRESS_RULE_K8S}),
                json!({"component": "NetworkPolicy", "componentInfo": "IngressDefaultRule", "action": "Dropped"}),
            ]
        )]
    );
}

#[test]
fn intra_node_delivered() {
    let mut index = cluster();
    allow_all_egress(&mut index);
    let (verdict, nodes) = observations(
        &index,
        &PacketSpec::udp(from("prod", "client"), to_pod("prod", "web-0"), 321),
    );
    assert_eq!(verdict, Verdict::Delivered);
    assert_eq!(
        nodes[0].1,
        vec![
            json!({"component": "SpoofGuard", "action": "Forwarded", "srcPodIP": "10.10.0.30"}),
            json!({"component": "NetworkPolicy", "componentInfo": "EgressRule", "action": "Forwarded", "networkPolicy": EGRESS_RULE_K8S}),
            json!({"component": "Forwarding", "componentInfo": "Output", "action": "Delivered"}),
        ]
    );
}

#[test]
fn inter_node_forwarded_then_delivered() {
    let mut index = cluster();
    allow_all_egress(&mut index);
    let evaluation = index
        .evaluate(&PacketSpec::tcp(
            from("prod", "client"),
            to_pod("prod", "web-1"),
            80,
        ))
        .unwrap();
    assert_eq!(evaluation.verdict, Verdict::Delivered);
    assert_eq!(
        evaluation
            .nodes
            .iter()
            .map(|node| (node.node.as_str(), node.role))
            .collect::<Vec<_>>(),
        vec![("node-a", NodeRole::Sender), ("node-b", NodeRole::Receiver)]
    );
    let (_, nodes) = observations(
        &index,
        &PacketSpec::tcp(from("prod", "client"), to_pod("prod", "web-1"), 80),
    );
    assert_eq!(
        nodes,
        vec![
            (
                "node-a".to_string(),
                vec![
                    json!({"component": "SpoofGuard", "action": "Forwarded", "srcPodIP": "10.10.0.30"}),
                    json!({"component": "NetworkPolicy", "componentInfo": "EgressRule", "action": "Forwarded", "networkPolicy": EGRESS_RULE_K8S}),
                    json!({"component": "Forwarding", "componentInfo": "Output", "action": "Forwarded", "tunnelDstIP": "192.168.0.2"}),
                ]
            ),
            (
                "node-b".to_string(),
                vec![
                    json!({"component": "Forwarding", "action": "Received"}),
                    json!({"component": "Forwarding", "componentInfo": "Output", "action": "Delivered"}),
                ]
            ),
        ]
    );
}

#[test]
fn inter_node_dropped_at_the_receiver() {
    let mut index = cluster();
    allow_all_egress(&mut index);
    deny_ingress_to(&mut index, "web");
    let (verdict, nodes) = observations(
        &index,
        &PacketSpec::icmp_echo(from("prod", "client"), to_pod("prod", "web-1")),
    );
    assert_eq!(verdict, Verdict::Dropped);
    assert_eq!(
        nodes[1],
        (
            "node-b".to_string(),
            vec![
                json!({"component": "Forwarding", "action": "Received"}),
                json!({"component": "NetworkPolicy", "componentInfo": "IngressDefaultRule", "action": "Dropped"}),
            ]
        )
    );
}

#[test]
fn annp_drop_and_reject_name_the_rule() {
    let mut index = cluster();
    for (name, action, app) in [("deny", "Drop", "web"), ("reject", "Reject", "db")] {
        index
            .apply_antrea_network_policy(&annp(
                "prod",
                name,
                json!({
                    "priority": 1,
                    "appliedTo": [{"podSelector": {"matchLabels": {"app": app}}}],
                    "ingress": [{"action": action, "name": format!("{name}-rule")}],
                }),
            ))
            .unwrap();
    }
    let (verdict, nodes) = observations(
        &index,
        &PacketSpec::tcp(from("prod", "client"), to_pod("prod", "web-0"), 80),
    );
    assert_eq!(verdict, Verdict::Dropped);
    assert_eq!(
        nodes[0].1,
        vec![
            json!({"component": "SpoofGuard", "action": "Forwarded", "srcPodIP": "10.10.0.30"}),
            json!({"component": "NetworkPolicy", "componentInfo": "IngressMetric", "action": "Dropped",
                   "networkPolicy": "AntreaNetworkPolicy:prod/deny", "networkPolicyRule": "deny-rule"}),
        ]
    );
    let (verdict, nodes) = observations(
        &index,
        &PacketSpec::tcp(from("prod", "client"), to_pod("prod", "db-0"), 80),
    );
    assert_eq!(verdict, Verdict::Rejected);
    assert_eq!(
        nodes[1].1[1],
        json!({"component": "NetworkPolicy", "componentInfo": "IngressMetric", "action": "Rejected",
               "networkPolicy": "AntreaNetworkPolicy:prod/reject", "networkPolicyRule": "reject-rule"})
    );
}

#[test]
fn egress_drop_has_no_receiver() {
    let mut index = cluster();
    index
        .apply_cluster_network_policy(&acnp(
            "no-egress",
            json!({
                "priority": 1, "tier": "securityops",
                "appliedTo": [{"podSelector": {"matchLabels": {"app": "client"}}}],
                "egress": [{"action": "Drop", "name": "drop-all"}],
            }),
        ))
        .unwrap();
    let (verdict, nodes) = observations(
        &index,
        &PacketSpec::tcp(from("prod", "client"), to_pod("prod", "web-1"), 80),
    );
    assert_eq!(verdict, Verdict::Dropped);
    assert_eq!(nodes.len(), 1);
    assert_eq!(
        nodes[0].1[1],
        json!({"component": "NetworkPolicy", "componentInfo": "EgressMetric", "action": "Dropped",
               "networkPolicy": "AntreaClusterNetworkPolicy:no-egress", "networkPolicyRule": "drop-all"})
    );
}

#[test]
fn allowing_antrea_rules_are_reported_on_both_sides() {
    let mut index = cluster();
    index
        .apply_cluster_network_policy(&acnp(
            "allow",
            json!({
                "priority": 1,
                "appliedTo": [{"podSelector": {}}],
                "egress": [{"action": "Allow", "name": "out"}],
                "ingress": [{"action": "Allow", "name": "in"}],
            }),
        ))
        .unwrap();
    let (_, nodes) = observations(
        &index,
        &PacketSpec::tcp(from("prod", "client"), to_pod("prod", "web-1"), 80),
    );
    assert_eq!(
        nodes[0].1[1],
        json!({"component": "NetworkPolicy", "componentInfo": "EgressRule", "action": "Forwarded",
               "networkPolicy": "AntreaClusterNetworkPolicy:allow", "networkPolicyRule": "out"})
    );
    assert_eq!(
        nodes[1].1,
        vec![
            json!({"component": "Forwarding", "action": "Received"}),
            json!({"component": "NetworkPolicy", "componentInfo": "IngressRule", "action": "Forwarded",
                   "networkPolicy": "AntreaClusterNetworkPolicy:allow", "networkPolicyRule": "in"}),
            json!({"component": "Forwarding", "componentInfo": "Output", "action": "Delivered"}),
        ]
    );
}

#[test]
fn pass_then_isolation_reports_the_pass_register_and_the_default_drop() {
    let mut index = cluster();
    index
        .apply_cluster_network_policy(&acnp(
            "pass",
            json!({
                "priority": 1,
                "appliedTo": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                "ingress": [{"action": "Pass", "name": "to-k8s"}],
            }),
        ))
        .unwrap();
    deny_ingress_to(&mut index, "web");
    let (_, nodes) = observations(
        &index,
        &PacketSpec::tcp(from("prod", "client"), to_pod("prod", "web-0"), 80),
    );
    assert_eq!(
        nodes[0].1[1..],
        [
            json!({"component": "NetworkPolicy", "componentInfo": "IngressDefaultRule", "action": "Dropped",
                   "networkPolicy": "AntreaClusterNetworkPolicy:pass", "networkPolicyRule": "to-k8s"}),
            json!({"component": "NetworkPolicy", "componentInfo": "IngressDefaultRule", "action": "Dropped"}),
        ]
    );
}

fn web_service(index: &mut ClusterIndex) {
    index
        .apply_service(&service(json!({
            "metadata": {"namespace": "prod", "name": "db"},
            "spec": {"clusterIP": "10.96.0.20", "selector": {"app": "db"}, "ports": [{"port": 80, "targetPort": "postgres"}]},
        })))
        .unwrap();
}

#[test]
fn service_destination_reports_lb_with_the_endpoint_pod() {
    let mut index = cluster();
    web_service(&mut index);
    let packet = PacketSpec::tcp(
        from("prod", "client"),
        Destination::Service {
            namespace: "prod".into(),
            name: "db".into(),
        },
        80,
    );
    let (verdict, nodes) = observations(&index, &packet);
    assert_eq!(verdict, Verdict::Delivered);
    assert_eq!(
        nodes[0].1,
        vec![
            json!({"component": "SpoofGuard", "action": "Forwarded", "srcPodIP": "10.10.0.30"}),
            json!({"component": "LB", "action": "Forwarded", "pod": "prod/db-0", "translatedDstIP": "10.10.1.20"}),
            json!({"component": "Forwarding", "componentInfo": "Output", "action": "Forwarded", "tunnelDstIP": "192.168.0.2"}),
        ]
    );
    let evaluation = index.evaluate(&packet).unwrap();
    assert_eq!(
        evaluation.destination_port,
        Some(5432),
        "named targetPort resolved on the Pod"
    );
}

#[test]
fn hairpin_service_translates_the_source_to_the_gateway() {
    let mut index = cluster();
    web_service(&mut index);
    let packet = PacketSpec::tcp(
        from("prod", "db-0"),
        Destination::Service {
            namespace: "prod".into(),
            name: "db".into(),
        },
        80,
    );
    let (verdict, nodes) = observations(&index, &packet);
    assert_eq!(verdict, Verdict::Delivered);
    assert_eq!(nodes.len(), 1);
    assert_eq!(
        nodes[0].1[1],
        json!({"component": "LB", "action": "Forwarded", "pod": "prod/db-0", "translatedDstIP": "10.10.1.20", "translatedSrcIP": "10.10.1.1"})
    );
}

#[test]
fn external_destination_leaves_the_network() {
    let index = cluster();
    let (verdict, nodes) = observations(
        &index,
        &PacketSpec::tcp(
            from("prod", "client"),
            Destination::Ip("8.8.8.8".parse().unwrap()),
            53,
        ),
    );
    assert_eq!(verdict, Verdict::ForwardedOutOfNetwork);
    assert_eq!(
        nodes,
        vec![(
            "node-a".to_string(),
            vec![
                json!({"component": "SpoofGuard", "action": "Forwarded", "srcPodIP": "10.10.0.30"}),
                json!({"component": "Forwarding", "componentInfo": "Output", "action": "ForwardedOutOfNetwork"}),
            ]
        )]
    );
}

#[test]
fn node_results_have_the_status_shape() {
    let index = cluster();
    let evaluation = index
        .evaluate(&PacketSpec::tcp(
            from("prod", "client"),
            to_pod("prod", "web-1"),
            80,
        ))
        .unwrap();
    let results = serde_json::to_value(evaluation.node_results(Some(1_700_000_000))).unwrap();
    assert_eq!(
        results,
        json!([
            {"node": "node-a", "timestamp": 1_700_000_000, "observations": [
                {"component": "SpoofGuard", "action": "Forwarded", "srcPodIP": "10.10.0.30"},
                {"component": "Forwarding", "componentInfo": "Output", "action": "Forwarded", "tunnelDstIP": "192.168.0.2"},
            ]},
            {"node": "node-b", "timestamp": 1_700_000_000, "observations": [
                {"component": "Forwarding", "action": "Received"},
                {"component": "Forwarding", "componentInfo": "Output", "action": "Delivered"},
            ]},
        ])
    );
}

fn traceflow(spec: Value) -> TraceflowSpec {
    serde_json::from_value(spec).unwrap()
}

#[test]
fn packets_from_traceflow_specs() {
    let tcp = PacketSpec::from_traceflow(&traceflow(json!({
        "source": {"namespace": "prod", "pod": "client"},
        "destination": {"namespace": "prod", "pod": "db-0"},
        "packet": {"ipHeader": {"protocol": 6}, "transportHeader": {"tcp": {"srcPort": 10000, "dstPort": 5432, "flags": 2}}},
    })))
    .unwrap();
    assert_eq!(
        tcp,
        PacketSpec::tcp(from("prod", "client"), to_pod("prod", "db-0"), 5432)
    );

    let ping = PacketSpec::from_traceflow(&traceflow(json!({
        "source": {"namespace": "prod", "pod": "client"},
        "destination": {"ip": "10.10.1.10"},
    })))
    .unwrap();
    assert_eq!(ping.protocol, antrea_policy::Protocol::Icmp);
    assert_eq!((ping.icmp_type, ping.icmp_code), (Some(8), Some(0)));
    assert_eq!(
        ping.destination,
        Destination::Ip("10.10.1.10".parse().unwrap())
    );

    let ping6 = PacketSpec::from_traceflow(&traceflow(json!({
        "source": {"namespace": "prod", "pod": "client"},
        "destination": {"namespace": "prod", "service": "db"},
        "packet": {"ipv6Header": {}},
    })))
    .unwrap();
    assert!(ping6.ipv6);
    assert_eq!(ping6.icmp_type, Some(128));

    for bad in [
        json!({"destination": {"ip": "1.1.1.1"}}),
        json!({"source": {"namespace": "prod", "pod": "client"}, "destination": {"ip": "not-an-ip"}}),
        json!({"source": {"namespace": "prod", "pod": "client"}, "destination": {"pod": "a", "ip": "1.1.1.1"}}),
        json!({"source": {"namespace": "prod", "pod": "client"}, "destination": {"ip": "1.1.1.1"}, "packet": {"ipHeader": {"protocol": 300}}}),
    ] {
        assert!(
            PacketSpec::from_traceflow(&traceflow(bad.clone())).is_err(),
            "{bad}"
        );
    }

    // End to end: the Traceflow spec of Antrea's e2e "ANNPDenyIngressIPv4" case.
    let mut index = cluster();
    index
        .apply_antrea_network_policy(&annp(
            "prod",
            "deny",
            json!({"priority": 1, "appliedTo": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ingress": [{"action": "Drop", "name": "d"}]}),
        ))
        .unwrap();
    let packet = PacketSpec::from_traceflow(&traceflow(json!({
        "source": {"namespace": "prod", "pod": "client"},
        "destination": {"namespace": "prod", "pod": "web-0"},
        "packet": {"ipHeader": {"protocol": 6}, "transportHeader": {"tcp": {"srcPort": 10000, "dstPort": 80, "flags": 2}}},
    })))
    .unwrap();
    assert_eq!(index.evaluate(&packet).unwrap().verdict, Verdict::Dropped);
}
