//! Table-driven tests of packet evaluation: tiers, priorities, rule order, actions, K8s
//! NetworkPolicy isolation, the baseline tier, peers, ports and protocols.

mod support;

use antrea_policy::{
    ClusterIndex, DecidedBy, Destination, DirectionDecision, Outcome, PacketSpec, PodName,
    Protocol, Verdict,
};
use serde_json::{Value, json};
use support::*;

/// An object to apply before evaluating.
enum Object {
    Acnp(&'static str, Value),
    Annp(&'static str, &'static str, Value),
    Knp(&'static str, &'static str, Value),
    Cg(&'static str, Value),
    Tier(&'static str, i32),
    Service(Value),
}

use Object::*;

struct Case {
    name: &'static str,
    objects: Vec<Object>,
    packet: PacketSpec,
    verdict: Verdict,
    /// Egress decision: `default`, `isolation`, or `<policy ref>#<rule name or index>`.
    egress: &'static str,
    /// Ingress decision, `-` when there is none.
    ingress: &'static str,
    /// Pass rules traversed, in either direction.
    passed: &'static [&'static str],
}

fn describe(decision: &DirectionDecision) -> String {
    match &decision.decided_by {
        DecidedBy::Default => "default".to_string(),
        DecidedBy::K8sIsolation => "isolation".to_string(),
        DecidedBy::Rule(rule) => format!(
            "{}#{}",
            rule.policy,
            rule.rule_name
                .clone()
                .unwrap_or_else(|| rule.rule_index.to_string())
        ),
    }
}

fn apply(index: &mut ClusterIndex, objects: &[Object]) {
    for object in objects {
        match object {
            Acnp(name, spec) => index.apply_cluster_network_policy(&acnp(name, spec.clone())),
            Annp(namespace, name, spec) => {
                index.apply_antrea_network_policy(&annp(namespace, name, spec.clone()))
            }
            Knp(namespace, name, spec) => {
                index.apply_k8s_network_policy(&knp(namespace, name, spec.clone()))
            }
            Cg(name, spec) => index.apply_cluster_group(&cluster_group(name, spec.clone())),
            Tier(name, priority) => index.apply_tier(&tier(name, *priority)),
            Service(value) => index.apply_service(&service(value.clone())),
        }
        .expect("apply");
    }
}

fn run(cases: Vec<Case>) {
    let mut failures = Vec::new();
    for case in cases {
        let mut index = cluster();
        apply(&mut index, &case.objects);
        let evaluation = match index.evaluate(&case.packet) {
            Ok(evaluation) => evaluation,
            Err(error) => {
                failures.push(format!("{}: evaluation failed: {error}", case.name));
                continue;
            }
        };
        let egress = describe(&evaluation.flow.egress);
        let ingress = evaluation
            .flow
            .ingress
            .as_ref()
            .map(describe)
            .unwrap_or_else(|| "-".to_string());
        let passed: Vec<String> = evaluation
            .flow
            .egress
            .passed
            .iter()
            .chain(
                evaluation
                    .flow
                    .ingress
                    .iter()
                    .flat_map(|ingress| ingress.passed.iter()),
            )
            .map(|rule| {
                format!(
                    "{}#{}",
                    rule.policy,
                    rule.rule_name.clone().unwrap_or_default()
                )
            })
            .collect();
        let expected_passed: Vec<String> =
            case.passed.iter().map(|pass| pass.to_string()).collect();
        if evaluation.verdict != case.verdict
            || egress != case.egress
            || ingress != case.ingress
            || passed != expected_passed
        {
            failures.push(format!(
                "{}: got verdict {:?}, egress {egress}, ingress {ingress}, passed {passed:?}; \
                 want {:?}, {}, {}, {:?}",
                case.name, evaluation.verdict, case.verdict, case.egress, case.ingress, case.passed
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn client_to_web(port: u16) -> PacketSpec {
    PacketSpec::tcp(from("prod", "client"), to_pod("prod", "web-1"), port)
}

fn ingress_rule(action: &str, name: &str, extra: Value) -> Value {
    let mut rule = json!({"action": action, "name": name});
    if let (Value::Object(rule), Value::Object(extra)) = (&mut rule, extra) {
        rule.extend(extra);
    }
    rule
}

fn on_web(priority: f64, tier: Option<&str>, ingress: Vec<Value>) -> Value {
    let mut spec = json!({
        "priority": priority,
        "appliedTo": [{"podSelector": {"matchLabels": {"app": "web"}}}],
        "ingress": ingress,
    });
    if let Some(tier) = tier {
        spec["tier"] = json!(tier);
    }
    spec
}

#[test]
fn actions_and_defaults() {
    run(vec![
        Case {
            name: "no policy delivers by default",
            objects: vec![],
            packet: client_to_web(80),
            verdict: Verdict::Delivered,
            egress: "default",
            ingress: "default",
            passed: &[],
        },
        Case {
            name: "ingress Allow",
            objects: vec![Acnp(
                "allow",
                on_web(
                    5.0,
                    None,
                    vec![ingress_rule(
                        "Allow",
                        "r1",
                        json!({"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}),
                    )],
                ),
            )],
            packet: client_to_web(80),
            verdict: Verdict::Delivered,
            egress: "default",
            ingress: "AntreaClusterNetworkPolicy:allow#r1",
            passed: &[],
        },
        Case {
            name: "ingress Drop",
            objects: vec![Acnp(
                "drop",
                on_web(5.0, None, vec![ingress_rule("Drop", "r1", json!({}))]),
            )],
            packet: client_to_web(80),
            verdict: Verdict::Dropped,
            egress: "default",
            ingress: "AntreaClusterNetworkPolicy:drop#r1",
            passed: &[],
        },
        Case {
            name: "egress Reject stops before ingress",
            objects: vec![Acnp(
                "reject",
                json!({
                    "priority": 1,
                    "appliedTo": [{"podSelector": {"matchLabels": {"app": "client"}}}],
                    "egress": [{"action": "Reject", "name": "e1", "to": [{"podSelector": {"matchLabels": {"app": "web"}}}]}],
                }),
            )],
            packet: client_to_web(80),
            verdict: Verdict::Rejected,
            egress: "AntreaClusterNetworkPolicy:reject#e1",
            ingress: "-",
            passed: &[],
        },
        Case {
            name: "a rule whose peer does not match is skipped",
            objects: vec![Acnp(
                "drop-db",
                on_web(
                    5.0,
                    None,
                    vec![ingress_rule(
                        "Drop",
                        "r1",
                        json!({"from": [{"podSelector": {"matchLabels": {"app": "db"}}}]}),
                    )],
                ),
            )],
            packet: client_to_web(80),
            verdict: Verdict::Delivered,
            egress: "default",
            ingress: "default",
            passed: &[],
        },
    ]);
}

#[test]
fn tiers_priorities_and_rule_order() {
    run(vec![
        Case {
            name: "securityops is evaluated before application",
            objects: vec![
                Acnp(
                    "app-allow",
                    on_web(
                        1.0,
                        Some("application"),
                        vec![ingress_rule("Allow", "a", json!({}))],
                    ),
                ),
                Acnp(
                    "secops-drop",
                    on_web(
                        10.0,
                        Some("securityops"),
                        vec![ingress_rule("Drop", "d", json!({}))],
                    ),
                ),
            ],
            packet: client_to_web(80),
            verdict: Verdict::Dropped,
            egress: "default",
            ingress: "AntreaClusterNetworkPolicy:secops-drop#d",
            passed: &[],
        },
        Case {
            name: "empty tier means application, after legacy-named Emergency",
            objects: vec![
                Acnp(
                    "no-tier",
                    on_web(1.0, None, vec![ingress_rule("Allow", "a", json!({}))]),
                ),
                Acnp(
                    "emergency",
                    on_web(
                        99.0,
                        Some("Emergency"),
                        vec![ingress_rule("Drop", "d", json!({}))],
                    ),
                ),
            ],
            packet: client_to_web(80),
            verdict: Verdict::Dropped,
            egress: "default",
            ingress: "AntreaClusterNetworkPolicy:emergency#d",
            passed: &[],
        },
        Case {
            name: "a custom tier with priority 10 beats emergency (50)",
            objects: vec![
                Tier("nsx-emergency", 10),
                Acnp(
                    "custom",
                    on_web(
                        9.0,
                        Some("nsx-emergency"),
                        vec![ingress_rule("Allow", "a", json!({}))],
                    ),
                ),
                Acnp(
                    "emergency",
                    on_web(
                        1.0,
                        Some("emergency"),
                        vec![ingress_rule("Drop", "d", json!({}))],
                    ),
                ),
            ],
            packet: client_to_web(80),
            verdict: Verdict::Delivered,
            egress: "default",
            ingress: "AntreaClusterNetworkPolicy:custom#a",
            passed: &[],
        },
        Case {
            name: "an unknown tier falls back to the application priority",
            objects: vec![
                Acnp(
                    "ghost-tier",
                    on_web(
                        1.0,
                        Some("does-not-exist"),
                        vec![ingress_rule("Allow", "a", json!({}))],
                    ),
                ),
                Acnp(
                    "platform",
                    on_web(
                        50.0,
                        Some("platform"),
                        vec![ingress_rule("Drop", "d", json!({}))],
                    ),
                ),
            ],
            packet: client_to_web(80),
            verdict: Verdict::Dropped,
            egress: "default",
            ingress: "AntreaClusterNetworkPolicy:platform#d",
            passed: &[],
        },
        Case {
            name: "lower policy priority first within a tier, ACNP and ANNP alike",
            objects: vec![
                Acnp(
                    "p5-drop",
                    on_web(5.0, None, vec![ingress_rule("Drop", "d", json!({}))]),
                ),
                Annp(
                    "prod",
                    "p1-allow",
                    on_web(1.0, None, vec![ingress_rule("Allow", "a", json!({}))]),
                ),
            ],
            packet: client_to_web(80),
            verdict: Verdict::Delivered,
            egress: "default",
            ingress: "AntreaNetworkPolicy:prod/p1-allow#a",
            passed: &[],
        },
        Case {
            name: "rules in list order: the port rule before the catch-all",
            objects: vec![Acnp(
                "ordered",
                on_web(
                    5.0,
                    None,
                    vec![
                        ingress_rule(
                            "Allow",
                            "http",
                            json!({"ports": [{"protocol": "TCP", "port": 80}]}),
                        ),
                        ingress_rule("Drop", "rest", json!({})),
                    ],
                ),
            )],
            packet: client_to_web(80),
            verdict: Verdict::Delivered,
            egress: "default",
            ingress: "AntreaClusterNetworkPolicy:ordered#http",
            passed: &[],
        },
        Case {
            name: "rules in list order: other ports reach the catch-all",
            objects: vec![Acnp(
                "ordered",
                on_web(
                    5.0,
                    None,
                    vec![
                        ingress_rule(
                            "Allow",
                            "http",
                            json!({"ports": [{"protocol": "TCP", "port": 80}]}),
                        ),
                        ingress_rule("Drop", "rest", json!({})),
                    ],
                ),
            )],
            packet: client_to_web(81),
            verdict: Verdict::Dropped,
            egress: "default",
            ingress: "AntreaClusterNetworkPolicy:ordered#rest",
            passed: &[],
        },
        Case {
            name: "equal priorities interleave by rule index across policies",
            objects: vec![
                Acnp(
                    "a-first",
                    on_web(
                        5.0,
                        None,
                        vec![
                            ingress_rule("Allow", "a0", json!({"ports": [{"port": 9999}]})),
                            ingress_rule("Drop", "a1", json!({})),
                        ],
                    ),
                ),
                Acnp(
                    "b-second",
                    on_web(5.0, None, vec![ingress_rule("Allow", "b0", json!({}))]),
                ),
            ],
            packet: client_to_web(80),
            verdict: Verdict::Delivered,
            egress: "default",
            ingress: "AntreaClusterNetworkPolicy:b-second#b0",
            passed: &[],
        },
        Case {
            name: "rule-level appliedTo limits the rule",
            objects: vec![Acnp(
                "per-rule",
                json!({
                    "priority": 1,
                    "ingress": [
                        {"action": "Drop", "name": "to-db", "appliedTo": [{"podSelector": {"matchLabels": {"app": "db"}}}]},
                        {"action": "Allow", "name": "to-web", "appliedTo": [{"podSelector": {"matchLabels": {"app": "web"}}}]},
                    ],
                }),
            )],
            packet: client_to_web(80),
            verdict: Verdict::Delivered,
            egress: "default",
            ingress: "AntreaClusterNetworkPolicy:per-rule#to-web",
            passed: &[],
        },
    ]);
}

#[test]
fn pass_k8s_isolation_and_baseline() {
    let pass_all = || {
        Acnp(
            "pass",
            on_web(
                1.0,
                Some("securityops"),
                vec![ingress_rule("Pass", "p", json!({}))],
            ),
        )
    };
    let baseline_drop = || {
        Acnp(
            "baseline",
            on_web(
                1.0,
                Some("baseline"),
                vec![ingress_rule("Drop", "b", json!({}))],
            ),
        )
    };
    let web_from_db = || {
        Knp(
            "prod",
            "web-from-db",
            json!({
                "podSelector": {"matchLabels": {"app": "web"}},
                "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "db"}}}]}],
            }),
        )
    };
    let web_from_client = || {
        Knp(
            "prod",
            "web-from-client",
            json!({
                "podSelector": {"matchLabels": {"app": "web"}},
                "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}], "ports": [{"port": 80}]}],
            }),
        )
    };
    run(vec![
        Case {
            name: "Pass hands over to an allowing K8s NetworkPolicy",
            objects: vec![
                pass_all(),
                Acnp(
                    "later-drop",
                    on_web(
                        2.0,
                        Some("securityops"),
                        vec![ingress_rule("Drop", "d", json!({}))],
                    ),
                ),
                web_from_client(),
            ],
            packet: client_to_web(80),
            verdict: Verdict::Delivered,
            egress: "default",
            ingress: "K8sNetworkPolicy:prod/web-from-client#0",
            passed: &["AntreaClusterNetworkPolicy:pass#p"],
        },
        Case {
            name: "Pass then K8s isolation drops",
            objects: vec![pass_all(), web_from_db()],
            packet: client_to_web(80),
            verdict: Verdict::Dropped,
            egress: "default",
            ingress: "isolation",
            passed: &["AntreaClusterNetworkPolicy:pass#p"],
        },
        Case {
            name: "Pass then the baseline tier when not isolated",
            objects: vec![pass_all(), baseline_drop()],
            packet: client_to_web(80),
            verdict: Verdict::Dropped,
            egress: "default",
            ingress: "AntreaClusterNetworkPolicy:baseline#b",
            passed: &["AntreaClusterNetworkPolicy:pass#p"],
        },
        Case {
            name: "Pass with nothing after allows",
            objects: vec![pass_all()],
            packet: client_to_web(80),
            verdict: Verdict::Delivered,
            egress: "default",
            ingress: "default",
            passed: &["AntreaClusterNetworkPolicy:pass#p"],
        },
        Case {
            name: "K8s isolation only allows what some policy allows",
            objects: vec![web_from_db()],
            packet: client_to_web(80),
            verdict: Verdict::Dropped,
            egress: "default",
            ingress: "isolation",
            passed: &[],
        },
        Case {
            name: "K8s policies are additive",
            objects: vec![web_from_db(), web_from_client()],
            packet: client_to_web(80),
            verdict: Verdict::Delivered,
            egress: "default",
            ingress: "K8sNetworkPolicy:prod/web-from-client#0",
            passed: &[],
        },
        Case {
            name: "K8s allow stops before the baseline tier",
            objects: vec![web_from_client(), baseline_drop()],
            packet: client_to_web(80),
            verdict: Verdict::Delivered,
            egress: "default",
            ingress: "K8sNetworkPolicy:prod/web-from-client#0",
            passed: &[],
        },
        Case {
            name: "a baseline Allow cannot lift K8s isolation",
            objects: vec![
                web_from_db(),
                Acnp(
                    "baseline-allow",
                    on_web(
                        1.0,
                        Some("baseline"),
                        vec![ingress_rule("Allow", "b", json!({}))],
                    ),
                ),
            ],
            packet: client_to_web(80),
            verdict: Verdict::Dropped,
            egress: "default",
            ingress: "isolation",
            passed: &[],
        },
        Case {
            name: "Antrea-native Allow is final and skips K8s isolation",
            objects: vec![
                web_from_db(),
                Acnp(
                    "allow",
                    on_web(1.0, None, vec![ingress_rule("Allow", "a", json!({}))]),
                ),
            ],
            packet: client_to_web(80),
            verdict: Verdict::Delivered,
            egress: "default",
            ingress: "AntreaClusterNetworkPolicy:allow#a",
            passed: &[],
        },
        Case {
            name: "baseline tier drops other Namespaces",
            objects: vec![Acnp(
                "ns-isolation",
                json!({
                    "priority": 1, "tier": "baseline",
                    "appliedTo": [{"namespaceSelector": {}}],
                    "ingress": [
                        {"action": "Allow", "name": "same-ns", "from": [{"namespaces": {"match": "Self"}}]},
                        {"action": "Drop", "name": "other-ns", "from": [{"namespaceSelector": {}}]},
                    ],
                }),
            )],
            packet: PacketSpec::tcp(from("dev", "client"), to_pod("prod", "web-1"), 80),
            verdict: Verdict::Dropped,
            egress: "default",
            ingress: "AntreaClusterNetworkPolicy:ns-isolation#other-ns",
            passed: &[],
        },
        Case {
            name: "K8s egress isolation from policyTypes alone",
            objects: vec![Knp(
                "prod",
                "deny-egress",
                json!({"podSelector": {}, "policyTypes": ["Egress"]}),
            )],
            packet: client_to_web(80),
            verdict: Verdict::Dropped,
            egress: "isolation",
            ingress: "-",
            passed: &[],
        },
        Case {
            name: "K8s allow-all egress",
            objects: vec![Knp(
                "prod",
                "allow-egress",
                json!({"podSelector": {}, "egress": [{}], "policyTypes": ["Egress"]}),
            )],
            packet: client_to_web(80),
            verdict: Verdict::Delivered,
            egress: "K8sNetworkPolicy:prod/allow-egress#0",
            ingress: "default",
            passed: &[],
        },
        Case {
            name: "K8s ipBlock peer with except",
            objects: vec![Knp(
                "prod",
                "web-from-block",
                json!({
                    "podSelector": {"matchLabels": {"app": "web"}},
                    "ingress": [{"from": [{"ipBlock": {"cidr": "10.10.0.0/16", "except": ["10.10.0.0/24"]}}]}],
                }),
            )],
            packet: client_to_web(80),
            verdict: Verdict::Dropped,
            egress: "default",
            ingress: "isolation",
            passed: &[],
        },
        Case {
            name: "K8s namespaceSelector peer",
            objects: vec![Knp(
                "prod",
                "web-from-team-a",
                json!({
                    "podSelector": {"matchLabels": {"app": "web"}},
                    "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "a"}}}]}],
                }),
            )],
            packet: PacketSpec::tcp(from("dev", "client"), to_pod("prod", "web-1"), 80),
            verdict: Verdict::Delivered,
            egress: "default",
            ingress: "K8sNetworkPolicy:prod/web-from-team-a#0",
            passed: &[],
        },
    ]);
}

#[test]
fn ports_and_protocols() {
    let db_policy = || {
        Acnp(
            "db",
            json!({
                "priority": 1,
                "appliedTo": [{"podSelector": {"matchLabels": {"app": "db"}}}],
                "ingress": [
                    {"action": "Allow", "name": "postgres", "ports": [{"protocol": "TCP", "port": "postgres"}]},
                    {"action": "Drop", "name": "range", "ports": [{"protocol": "TCP", "port": 8000, "endPort": 8100}]},
                    {"action": "Reject", "name": "dns", "ports": [{"port": 53}]},
                    {"action": "Drop", "name": "ping", "protocols": [{"icmp": {"icmpType": 8, "icmpCode": 0}}]},
                    {"action": "Drop", "name": "sctp", "ports": [{"protocol": "SCTP"}]},
                    {"action": "Drop", "name": "source-port", "ports": [{"protocol": "UDP", "sourcePort": 1000, "sourceEndPort": 1999}]},
                ],
            }),
        )
    };
    let to_db = |protocol: Protocol, port: u16| {
        PacketSpec::l4(
            protocol,
            from("prod", "client"),
            to_pod("prod", "db-0"),
            port,
        )
    };
    let case = |name, packet, verdict, ingress| Case {
        name,
        objects: vec![db_policy()],
        packet,
        verdict,
        egress: "default",
        ingress,
        passed: &[],
    };
    let mut udp_from_1500 = to_db(Protocol::Udp, 7000);
    udp_from_1500.source_port = Some(1500);
    let mut echo_reply = PacketSpec::icmp_echo(from("prod", "client"), to_pod("prod", "db-0"));
    echo_reply.icmp_type = Some(0);
    run(vec![
        case(
            "named port resolves on the destination Pod",
            to_db(Protocol::Tcp, 5432),
            Verdict::Delivered,
            "AntreaClusterNetworkPolicy:db#postgres",
        ),
        case(
            "named port does not match another port",
            to_db(Protocol::Tcp, 5433),
            Verdict::Delivered,
            "default",
        ),
        case(
            "named port needs the protocol of the container port",
            to_db(Protocol::Udp, 5432),
            Verdict::Delivered,
            "default",
        ),
        case(
            "port range start",
            to_db(Protocol::Tcp, 8000),
            Verdict::Dropped,
            "AntreaClusterNetworkPolicy:db#range",
        ),
        case(
            "port range end",
            to_db(Protocol::Tcp, 8100),
            Verdict::Dropped,
            "AntreaClusterNetworkPolicy:db#range",
        ),
        case(
            "past the port range",
            to_db(Protocol::Tcp, 8101),
            Verdict::Delivered,
            "default",
        ),
        case(
            "protocol defaults to TCP",
            to_db(Protocol::Tcp, 53),
            Verdict::Rejected,
            "AntreaClusterNetworkPolicy:db#dns",
        ),
        case(
            "UDP does not match a TCP-defaulted port",
            to_db(Protocol::Udp, 53),
            Verdict::Delivered,
            "default",
        ),
        case(
            "ICMP echo request matches its type and code",
            PacketSpec::icmp_echo(from("prod", "client"), to_pod("prod", "db-0")),
            Verdict::Dropped,
            "AntreaClusterNetworkPolicy:db#ping",
        ),
        case(
            "another ICMP type does not",
            echo_reply,
            Verdict::Delivered,
            "default",
        ),
        case(
            "a protocol without port matches all its ports",
            to_db(Protocol::Sctp, 9),
            Verdict::Dropped,
            "AntreaClusterNetworkPolicy:db#sctp",
        ),
        case(
            "source port ranges",
            udp_from_1500,
            Verdict::Dropped,
            "AntreaClusterNetworkPolicy:db#source-port",
        ),
        case(
            "outside the source port range",
            to_db(Protocol::Udp, 7000),
            Verdict::Delivered,
            "default",
        ),
    ]);
}

#[test]
fn peers() {
    let web_ingress = |rules: Vec<Value>| Acnp("peers", on_web(1.0, None, rules));
    let from_client =
        |namespace| PacketSpec::tcp(from(namespace, "client"), to_pod("prod", "web-1"), 80);
    let client_egress = |to: Value| {
        Acnp(
            "egress",
            json!({
                "priority": 1,
                "appliedTo": [{"podSelector": {"matchLabels": {"app": "client"}}, "namespaceSelector": {"matchLabels": {"env": "prod"}}}],
                "egress": [{"action": "Drop", "name": "e", "to": to}],
            }),
        )
    };
    let to_ip = |ip: &str| {
        PacketSpec::tcp(
            from("prod", "client"),
            Destination::Ip(ip.parse().unwrap()),
            443,
        )
    };
    run(vec![
        Case {
            name: "namespaces match Self allows the same Namespace",
            objects: vec![web_ingress(vec![
                ingress_rule(
                    "Allow",
                    "self",
                    json!({"from": [{"namespaces": {"match": "Self"}}]}),
                ),
                ingress_rule("Drop", "rest", json!({})),
            ])],
            packet: from_client("prod"),
            verdict: Verdict::Delivered,
            egress: "default",
            ingress: "AntreaClusterNetworkPolicy:peers#self",
            passed: &[],
        },
        Case {
            name: "namespaces match Self does not match another Namespace",
            objects: vec![web_ingress(vec![
                ingress_rule(
                    "Allow",
                    "self",
                    json!({"from": [{"namespaces": {"match": "Self"}}]}),
                ),
                ingress_rule("Drop", "rest", json!({})),
            ])],
            packet: from_client("dev"),
            verdict: Verdict::Dropped,
            egress: "default",
            ingress: "AntreaClusterNetworkPolicy:peers#rest",
            passed: &[],
        },
        Case {
            name: "sameLabels matches Namespaces with the same team",
            objects: vec![web_ingress(vec![
                ingress_rule(
                    "Allow",
                    "team",
                    json!({"from": [{"namespaces": {"sameLabels": ["team"]}}]}),
                ),
                ingress_rule("Drop", "rest", json!({})),
            ])],
            packet: from_client("dev"),
            verdict: Verdict::Delivered,
            egress: "default",
            ingress: "AntreaClusterNetworkPolicy:peers#team",
            passed: &[],
        },
        Case {
            name: "sameLabels does not match another team",
            objects: vec![web_ingress(vec![
                ingress_rule(
                    "Allow",
                    "team",
                    json!({"from": [{"namespaces": {"sameLabels": ["team"]}}]}),
                ),
                ingress_rule("Drop", "rest", json!({})),
            ])],
            packet: from_client("other"),
            verdict: Verdict::Dropped,
            egress: "default",
            ingress: "AntreaClusterNetworkPolicy:peers#rest",
            passed: &[],
        },
        Case {
            name: "ClusterGroup peer with pod and namespace selectors",
            objects: vec![
                Cg(
                    "prod-clients",
                    json!({"podSelector": {"matchLabels": {"app": "client"}}, "namespaceSelector": {"matchLabels": {"env": "prod"}}}),
                ),
                web_ingress(vec![ingress_rule(
                    "Drop",
                    "cg",
                    json!({"from": [{"group": "prod-clients"}]}),
                )]),
            ],
            packet: from_client("other"),
            verdict: Verdict::Dropped,
            egress: "default",
            ingress: "AntreaClusterNetworkPolicy:peers#cg",
            passed: &[],
        },
        Case {
            name: "ClusterGroup peer does not match a Namespace it does not select",
            objects: vec![
                Cg(
                    "prod-clients",
                    json!({"podSelector": {"matchLabels": {"app": "client"}}, "namespaceSelector": {"matchLabels": {"env": "prod"}}}),
                ),
                web_ingress(vec![ingress_rule(
                    "Drop",
                    "cg",
                    json!({"from": [{"group": "prod-clients"}]}),
                )]),
            ],
            packet: from_client("dev"),
            verdict: Verdict::Delivered,
            egress: "default",
            ingress: "default",
            passed: &[],
        },
        Case {
            name: "a missing ClusterGroup peer matches nothing",
            objects: vec![web_ingress(vec![ingress_rule(
                "Drop",
                "ghost",
                json!({"from": [{"group": "ghost"}]}),
            )])],
            packet: from_client("prod"),
            verdict: Verdict::Delivered,
            egress: "default",
            ingress: "default",
            passed: &[],
        },
        Case {
            name: "ipBlock ClusterGroup peer",
            objects: vec![
                Cg(
                    "node-a-pods",
                    json!({"ipBlocks": [{"cidr": "10.10.0.0/24"}]}),
                ),
                web_ingress(vec![ingress_rule(
                    "Drop",
                    "cg",
                    json!({"from": [{"group": "node-a-pods"}]}),
                )]),
            ],
            packet: from_client("dev"),
            verdict: Verdict::Dropped,
            egress: "default",
            ingress: "AntreaClusterNetworkPolicy:peers#cg",
            passed: &[],
        },
        Case {
            name: "serviceAccount peer",
            objects: vec![web_ingress(vec![ingress_rule(
                "Drop",
                "sa",
                json!({"from": [{"serviceAccount": {"name": "default", "namespace": "dev"}}]}),
            )])],
            packet: from_client("dev"),
            verdict: Verdict::Dropped,
            egress: "default",
            ingress: "AntreaClusterNetworkPolicy:peers#sa",
            passed: &[],
        },
        Case {
            name: "podSelector peer in an ACNP spans every Namespace",
            objects: vec![web_ingress(vec![ingress_rule(
                "Drop",
                "pods",
                json!({"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}),
            )])],
            packet: from_client("other"),
            verdict: Verdict::Dropped,
            egress: "default",
            ingress: "AntreaClusterNetworkPolicy:peers#pods",
            passed: &[],
        },
        Case {
            name: "podSelector peer in an ANNP stays in the policy's Namespace",
            objects: vec![Annp(
                "prod",
                "annp",
                on_web(
                    1.0,
                    None,
                    vec![ingress_rule(
                        "Drop",
                        "pods",
                        json!({"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}),
                    )],
                ),
            )],
            packet: from_client("dev"),
            verdict: Verdict::Delivered,
            egress: "default",
            ingress: "default",
            passed: &[],
        },
        Case {
            name: "ANNP podSelector peer in its own Namespace",
            objects: vec![Annp(
                "prod",
                "annp",
                on_web(
                    1.0,
                    None,
                    vec![ingress_rule(
                        "Drop",
                        "pods",
                        json!({"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}),
                    )],
                ),
            )],
            packet: from_client("prod"),
            verdict: Verdict::Dropped,
            egress: "default",
            ingress: "AntreaNetworkPolicy:prod/annp#pods",
            passed: &[],
        },
        Case {
            name: "egress ipBlock with except: inside",
            objects: vec![client_egress(
                json!([{"ipBlock": {"cidr": "8.8.0.0/16", "except": ["8.8.8.0/24"]}}]),
            )],
            packet: to_ip("8.8.4.4"),
            verdict: Verdict::Dropped,
            egress: "AntreaClusterNetworkPolicy:egress#e",
            ingress: "-",
            passed: &[],
        },
        Case {
            name: "egress ipBlock with except: excepted",
            objects: vec![client_egress(
                json!([{"ipBlock": {"cidr": "8.8.0.0/16", "except": ["8.8.8.0/24"]}}]),
            )],
            packet: to_ip("8.8.8.8"),
            verdict: Verdict::ForwardedOutOfNetwork,
            egress: "default",
            ingress: "-",
            passed: &[],
        },
        Case {
            name: "an empty peer list matches any address",
            objects: vec![client_egress(json!([]))],
            packet: to_ip("1.1.1.1"),
            verdict: Verdict::Dropped,
            egress: "AntreaClusterNetworkPolicy:egress#e",
            ingress: "-",
            passed: &[],
        },
        Case {
            name: "FQDN peers never match an address",
            objects: vec![client_egress(json!([{"fqdn": "*.example.com"}]))],
            packet: to_ip("93.184.216.34"),
            verdict: Verdict::ForwardedOutOfNetwork,
            egress: "default",
            ingress: "-",
            passed: &[],
        },
        Case {
            name: "nodeSelector peer matches the Node's address",
            objects: vec![client_egress(
                json!([{"nodeSelector": {"matchLabels": {"zone": "b"}}}]),
            )],
            packet: to_ip("192.168.0.2"),
            verdict: Verdict::Dropped,
            egress: "AntreaClusterNetworkPolicy:egress#e",
            ingress: "-",
            passed: &[],
        },
        Case {
            name: "nodeSelector peer does not match another Node",
            objects: vec![client_egress(
                json!([{"nodeSelector": {"matchLabels": {"zone": "b"}}}]),
            )],
            packet: to_ip("192.168.0.1"),
            verdict: Verdict::ForwardedOutOfNetwork,
            egress: "default",
            ingress: "-",
            passed: &[],
        },
        Case {
            name: "a destination IP that is a Pod's is judged as that Pod",
            objects: vec![client_egress(
                json!([{"podSelector": {"matchLabels": {"app": "web"}}}]),
            )],
            packet: PacketSpec::tcp(
                from("prod", "client"),
                Destination::Ip("10.10.1.10".parse().unwrap()),
                80,
            ),
            verdict: Verdict::Dropped,
            egress: "AntreaClusterNetworkPolicy:egress#e",
            ingress: "-",
            passed: &[],
        },
    ]);
}

#[test]
fn applied_to_groups() {
    run(vec![
        Case {
            name: "an ipBlocks-only ClusterGroup as appliedTo is ignored",
            objects: vec![
                Cg("ips", json!({"ipBlocks": [{"cidr": "10.10.0.0/16"}]})),
                Acnp(
                    "on-ips",
                    json!({"priority": 1, "appliedTo": [{"group": "ips"}], "ingress": [{"action": "Drop", "name": "d"}]}),
                ),
            ],
            packet: client_to_web(80),
            verdict: Verdict::Delivered,
            egress: "default",
            ingress: "default",
            passed: &[],
        },
        Case {
            name: "a child group applies through its parent",
            objects: vec![
                Cg(
                    "web",
                    json!({"podSelector": {"matchLabels": {"app": "web"}}}),
                ),
                Cg("parent", json!({"childGroups": ["web", "missing"]})),
                Acnp(
                    "on-parent",
                    json!({"priority": 1, "appliedTo": [{"group": "parent"}], "ingress": [{"action": "Drop", "name": "d"}]}),
                ),
            ],
            packet: client_to_web(80),
            verdict: Verdict::Dropped,
            egress: "default",
            ingress: "AntreaClusterNetworkPolicy:on-parent#d",
            passed: &[],
        },
        Case {
            name: "an over-nested group selects nothing",
            objects: vec![
                Cg(
                    "web",
                    json!({"podSelector": {"matchLabels": {"app": "web"}}}),
                ),
                Cg("middle", json!({"childGroups": ["web"]})),
                Cg("top", json!({"childGroups": ["middle"]})),
                Acnp(
                    "on-top",
                    json!({"priority": 1, "appliedTo": [{"group": "top"}], "ingress": [{"action": "Drop", "name": "d"}]}),
                ),
            ],
            packet: client_to_web(80),
            verdict: Verdict::Delivered,
            egress: "default",
            ingress: "default",
            passed: &[],
        },
        Case {
            name: "serviceAccount appliedTo",
            objects: vec![Acnp(
                "on-sa",
                json!({"priority": 1, "appliedTo": [{"serviceAccount": {"name": "default", "namespace": "prod"}}], "egress": [{"action": "Drop", "name": "d"}]}),
            )],
            packet: client_to_web(80),
            verdict: Verdict::Dropped,
            egress: "AntreaClusterNetworkPolicy:on-sa#d",
            ingress: "-",
            passed: &[],
        },
    ]);
}

#[test]
fn annp_with_cross_namespace_group_applies_to_nothing() {
    let mut index = cluster();
    // Clients live in prod, dev and other: this Group selects Pods outside prod.
    index
        .apply_group(&group(
            "prod",
            "clients",
            json!({"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "client"}}}),
        ))
        .unwrap();
    index
        .apply_antrea_network_policy(&annp("prod", "drop", json!({
            "priority": 1, "appliedTo": [{"group": "clients"}], "egress": [{"action": "Drop", "name": "d"}],
        })))
        .unwrap();
    let evaluation = index.evaluate(&client_to_web(80)).unwrap();
    assert_eq!(evaluation.verdict, Verdict::Delivered);
    // The same Group limited to the policy's Namespace is fine.
    index
        .apply_group(&group(
            "prod",
            "clients",
            json!({"podSelector": {"matchLabels": {"app": "client"}}}),
        ))
        .unwrap();
    let evaluation = index.evaluate(&client_to_web(80)).unwrap();
    assert_eq!(evaluation.verdict, Verdict::Dropped);
}

fn web_service() -> Value {
    json!({
        "metadata": {"namespace": "prod", "name": "web"},
        "spec": {
            "type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
            "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
        },
    })
}

#[test]
fn services() {
    let to_service = |port| {
        PacketSpec::tcp(
            from("prod", "client"),
            Destination::Service {
                namespace: "prod".into(),
                name: "web".into(),
            },
            port,
        )
    };
    run(vec![
        Case {
            name: "toServices matches traffic to the Service",
            objects: vec![
                Service(web_service()),
                Acnp(
                    "no-web-svc",
                    json!({
                        "priority": 1,
                        "appliedTo": [{"podSelector": {"matchLabels": {"app": "client"}}}],
                        "egress": [{"action": "Drop", "name": "svc", "toServices": [{"name": "web", "namespace": "prod"}]}],
                    }),
                ),
            ],
            packet: to_service(80),
            verdict: Verdict::Dropped,
            egress: "AntreaClusterNetworkPolicy:no-web-svc#svc",
            ingress: "-",
            passed: &[],
        },
        Case {
            name: "toServices does not match traffic sent to the Pod directly",
            objects: vec![
                Service(web_service()),
                Acnp(
                    "no-web-svc",
                    json!({
                        "priority": 1,
                        "appliedTo": [{"podSelector": {"matchLabels": {"app": "client"}}}],
                        "egress": [{"action": "Drop", "name": "svc", "toServices": [{"name": "web", "namespace": "prod"}]}],
                    }),
                ),
            ],
            packet: client_to_web(8080),
            verdict: Verdict::Delivered,
            egress: "default",
            ingress: "default",
            passed: &[],
        },
        Case {
            name: "ports are matched after translation to the target port",
            objects: vec![
                Service(web_service()),
                Acnp(
                    "web-8080",
                    on_web(
                        1.0,
                        None,
                        vec![ingress_rule(
                            "Drop",
                            "target",
                            json!({"ports": [{"port": 8080}]}),
                        )],
                    ),
                ),
            ],
            packet: to_service(80),
            verdict: Verdict::Dropped,
            egress: "default",
            ingress: "AntreaClusterNetworkPolicy:web-8080#target",
            passed: &[],
        },
    ]);
}

#[test]
fn service_load_balancing_is_deterministic_and_uses_endpoints() {
    let mut index = cluster();
    index.apply_service(&service(web_service())).unwrap();
    let packet = |source_port| {
        let mut packet = PacketSpec::tcp(
            from("prod", "client"),
            Destination::Service {
                namespace: "prod".into(),
                name: "web".into(),
            },
            80,
        );
        packet.source_port = Some(source_port);
        packet
    };
    let mut chosen = std::collections::BTreeSet::new();
    for source_port in 10000..10040 {
        let first = index.evaluate(&packet(source_port)).unwrap();
        let again = index.evaluate(&packet(source_port)).unwrap();
        assert_eq!(
            first.load_balancing, again.load_balancing,
            "same flow, same Endpoint"
        );
        let lb = first.load_balancing.unwrap();
        assert_eq!(lb.cluster_ip.to_string(), "10.96.0.10");
        assert_eq!(lb.target_port, Some(8080));
        assert_eq!(first.destination_port, Some(8080));
        chosen.insert(lb.endpoint_pod.unwrap().name);
    }
    assert_eq!(
        chosen.into_iter().collect::<Vec<_>>(),
        vec!["web-0", "web-1"],
        "both Endpoints are used"
    );

    // Explicit EndpointSlices win over the selector.
    index
        .apply_endpoint_slice(&endpoint_slice(json!({
            "metadata": {"namespace": "prod", "name": "web-abc", "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "endpoints": [
                {"addresses": ["10.10.1.10"], "conditions": {"ready": true}, "targetRef": {"kind": "Pod", "namespace": "prod", "name": "web-1"}},
                {"addresses": ["10.10.0.10"], "conditions": {"ready": false}, "targetRef": {"kind": "Pod", "namespace": "prod", "name": "web-0"}},
            ],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        })))
        .unwrap();
    for source_port in 10000..10010 {
        let evaluation = index.evaluate(&packet(source_port)).unwrap();
        assert_eq!(
            evaluation.destination_pod,
            Some(PodName::new("prod", "web-1"))
        );
    }
    index.delete_endpoint_slice("prod", "web-abc");

    // A Service without Endpoints cannot be evaluated.
    index
        .apply_service(&service(json!({
            "metadata": {"namespace": "prod", "name": "empty"},
            "spec": {"clusterIP": "10.96.0.11", "selector": {"app": "nothing"}, "ports": [{"port": 80}]},
        })))
        .unwrap();
    let error = index
        .evaluate(&PacketSpec::tcp(
            from("prod", "client"),
            Destination::Service {
                namespace: "prod".into(),
                name: "empty".into(),
            },
            80,
        ))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "destination Service prod/empty has no Endpoints"
    );
}

#[test]
fn matching_rules_reports_counted_rules_per_direction() {
    let mut index = cluster();
    apply(
        &mut index,
        &[
            Acnp(
                "pass",
                on_web(
                    1.0,
                    Some("securityops"),
                    vec![ingress_rule("Pass", "p", json!({}))],
                ),
            ),
            Acnp(
                "client-out",
                json!({
                    "priority": 1,
                    "appliedTo": [{"podSelector": {"matchLabels": {"app": "client"}}}],
                    "egress": [{"action": "Allow", "name": "out"}],
                }),
            ),
            Knp(
                "prod",
                "web-in",
                json!({"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{}]}),
            ),
        ],
    );
    let flow = index.matching_rules(&client_to_web(80)).unwrap();
    assert!(flow.allowed());
    let counted: Vec<String> = flow
        .counted_rules()
        .iter()
        .map(|rule| format!("{:?} {} {:?}", rule.direction, rule.policy, rule.rule_name))
        .collect();
    assert_eq!(
        counted,
        vec![
            "Egress AntreaClusterNetworkPolicy:client-out Some(\"out\")",
            "Ingress K8sNetworkPolicy:prod/web-in None",
        ]
    );
    let ingress = flow.ingress.unwrap();
    assert_eq!(ingress.outcome, Outcome::Allowed);
    assert_eq!(ingress.passed.len(), 1);
}

#[test]
fn incremental_updates_change_the_verdict() {
    let mut index = cluster();
    let policy = acnp(
        "drop-web",
        on_web(
            1.0,
            None,
            vec![ingress_rule(
                "Drop",
                "d",
                json!({"from": [{"namespaceSelector": {"matchLabels": {"env": "dev"}}}]}),
            )],
        ),
    );
    index.apply_cluster_network_policy(&policy).unwrap();
    let from_dev = PacketSpec::tcp(from("dev", "client"), to_pod("prod", "web-1"), 80);
    assert_eq!(index.evaluate(&from_dev).unwrap().verdict, Verdict::Dropped);
    // Relabel the Namespace: the peer no longer matches.
    index
        .apply_namespace(&namespace("dev", &[("env", "staging")]))
        .unwrap();
    assert_eq!(
        index.evaluate(&from_dev).unwrap().verdict,
        Verdict::Delivered
    );
    index
        .apply_namespace(&namespace("dev", &[("env", "dev")]))
        .unwrap();
    // Relabel the destination Pod: the appliedTo no longer selects it.
    index
        .apply_pod(&pod(
            "prod",
            "web-1",
            &[("app", "web2")],
            "node-b",
            "10.10.1.10",
        ))
        .unwrap();
    assert_eq!(
        index.evaluate(&from_dev).unwrap().verdict,
        Verdict::Delivered
    );
    index
        .apply_pod(&pod(
            "prod",
            "web-1",
            &[("app", "web")],
            "node-b",
            "10.10.1.10",
        ))
        .unwrap();
    assert_eq!(index.evaluate(&from_dev).unwrap().verdict, Verdict::Dropped);
    // Moving the policy to a later tier behind an Allow changes the decision.
    index.apply_tier(&tier("early", 10)).unwrap();
    index
        .apply_cluster_network_policy(&acnp(
            "allow-early",
            on_web(
                1.0,
                Some("early"),
                vec![ingress_rule("Allow", "a", json!({}))],
            ),
        ))
        .unwrap();
    assert_eq!(
        index.evaluate(&from_dev).unwrap().verdict,
        Verdict::Delivered
    );
    assert!(index.delete_tier("early"));
    // The Tier is gone: the policy falls back to the application priority, where both
    // policies have priority 1 and rule 0; the documented tie-break orders them by name.
    assert_eq!(
        index.evaluate(&from_dev).unwrap().verdict,
        Verdict::Delivered
    );
    assert!(index.delete_cluster_network_policy("allow-early"));
    assert_eq!(index.evaluate(&from_dev).unwrap().verdict, Verdict::Dropped);
    assert!(index.delete_cluster_network_policy("drop-web"));
    assert!(!index.delete_cluster_network_policy("drop-web"));
    assert_eq!(
        index.evaluate(&from_dev).unwrap().verdict,
        Verdict::Delivered
    );
}

#[test]
fn evaluation_errors() {
    let mut index = cluster();
    let missing = index
        .evaluate(&PacketSpec::tcp(
            from("prod", "client"),
            to_pod("prod", "nope"),
            80,
        ))
        .unwrap_err();
    assert_eq!(
        missing.to_string(),
        "failed to get the destination Pod: pods \"nope\" not found"
    );
    let missing_source = index
        .evaluate(&PacketSpec::tcp(
            from("prod", "ghost"),
            to_pod("prod", "web-0"),
            80,
        ))
        .unwrap_err();
    assert_eq!(
        missing_source.to_string(),
        "failed to get the source Pod: pods \"ghost\" not found"
    );
    let mut ipv6 = client_to_web(80);
    ipv6.ipv6 = true;
    assert!(matches!(
        index.evaluate(&ipv6).unwrap_err(),
        antrea_policy::EvaluationError::SourcePodWithoutAddress { ipv6: true, .. }
    ));
    let mut host = pod("prod", "host", &[], "node-a", "192.168.0.1");
    host.spec.as_mut().unwrap().host_network = Some(true);
    index.apply_pod(&host).unwrap();
    assert!(matches!(
        index
            .evaluate(&PacketSpec::tcp(
                from("prod", "host"),
                to_pod("prod", "web-0"),
                80
            ))
            .unwrap_err(),
        antrea_policy::EvaluationError::SourcePodHostNetwork { .. }
    ));
}

#[test]
fn cached_applied_to_selection_follows_every_change() {
    let mut index = cluster();
    let packet = client_to_web(80);
    let verdict = |index: &ClusterIndex| index.evaluate(&packet).unwrap().verdict;
    index
        .apply_cluster_group(&cluster_group(
            "targets",
            json!({"podSelector": {"matchLabels": {"app": "db"}}}),
        ))
        .unwrap();
    index
        .apply_cluster_network_policy(&acnp("on-group", json!({"priority": 1, "appliedTo": [{"group": "targets"}], "ingress": [{"action": "Drop", "name": "d"}]})))
        .unwrap();
    assert_eq!(verdict(&index), Verdict::Delivered);
    // The group now selects web: the cached selection must not hide it.
    index
        .apply_cluster_group(&cluster_group(
            "targets",
            json!({"podSelector": {"matchLabels": {"app": "web"}}}),
        ))
        .unwrap();
    assert_eq!(verdict(&index), Verdict::Dropped);
    // A Service reference group follows the Service's selector.
    index
        .apply_cluster_group(&cluster_group(
            "targets",
            json!({"serviceReference": {"name": "svc", "namespace": "prod"}}),
        ))
        .unwrap();
    assert_eq!(verdict(&index), Verdict::Delivered);
    index
        .apply_service(&service(json!({"metadata": {"namespace": "prod", "name": "svc"}, "spec": {"clusterIP": "10.96.0.50", "selector": {"app": "web"}, "ports": [{"port": 80}]}})))
        .unwrap();
    assert_eq!(verdict(&index), Verdict::Dropped);
    assert!(index.delete_service("prod", "svc"));
    assert_eq!(verdict(&index), Verdict::Delivered);
    // A label item released and its slot reused by other labels.
    index
        .apply_cluster_group(&cluster_group(
            "targets",
            json!({"podSelector": {"matchLabels": {"app": "web"}}}),
        ))
        .unwrap();
    assert_eq!(verdict(&index), Verdict::Dropped);
    for name in ["web-0", "web-1"] {
        assert!(index.delete_pod("prod", name));
    }
    index
        .apply_pod(&pod(
            "prod",
            "web-1",
            &[("app", "api")],
            "node-b",
            "10.10.1.10",
        ))
        .unwrap();
    assert_eq!(verdict(&index), Verdict::Delivered);
}

#[test]
fn the_index_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ClusterIndex>();
    let index = std::sync::Arc::new(cluster());
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let index = std::sync::Arc::clone(&index);
            std::thread::spawn(move || index.evaluate(&client_to_web(80)).unwrap().verdict)
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap(), Verdict::Delivered);
    }
}
