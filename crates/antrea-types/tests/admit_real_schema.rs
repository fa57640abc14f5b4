//! Objects built with our types pass the real manifests' structural schemas
//! (`kube_apimachinery::schema`) unchanged: nothing pruned, no validation error. The
//! reverse check, that every property of the real schemas exists in ours, is
//! `manifests.rs::generated_schemas_match_the_manifests_node_by_node` (which also compares
//! every constraint, so no "deliberately unused" property exists).

mod support;

use std::collections::BTreeMap;

use antrea_types::policy::{
    AppliedTo, ICMPProtocol, IGMP_QUERY, IGMP_REPORT_V2, IGMPProtocol, IPBlock, NamespacedName,
    NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicyProtocol, PeerScope, PeerService, Protocol,
    Rule, RuleAction,
};
use antrea_types::traceflow::{
    IPHeader, Packet, TCPHeader, TraceflowDestination, TraceflowSource, TransportHeader,
};
use antrea_types::{
    ClusterGroup, ClusterGroupSpec, ClusterNetworkPolicy, ClusterNetworkPolicySpec, Tier, TierSpec,
    Traceflow, TraceflowSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube_apimachinery::schema::StructuralSchema;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use serde::Serialize;
use support::{crd_schema, real_crd};

fn real_schema(file: &str) -> StructuralSchema {
    StructuralSchema::new(&crd_schema(&real_crd(file)))
        .expect("the real manifest has a structural schema")
}

/// Admits `object` against `schema` and requires it to come out unchanged.
fn assert_admitted_unchanged<T: Serialize>(
    schema: &StructuralSchema,
    object: &T,
) -> Result<(), TestCaseError> {
    let original = serde_json::to_value(object).expect("serializes");
    let mut admitted = original.clone();
    let outcome = schema.admit(&mut admitted);
    prop_assert!(outcome.is_ok(), "rejected: {:?}\n{:#}", outcome, original);
    prop_assert_eq!(
        admitted,
        original,
        "admission changed the object (pruned or defaulted)"
    );
    Ok(())
}

fn label_value() -> impl Strategy<Value = String> {
    "([a-z0-9]([-a-z0-9_.]{0,8}[a-z0-9])?)?"
}

fn selector() -> impl Strategy<Value = LabelSelector> {
    (option::of(proptest::collection::btree_map(
        "[a-z]{1,6}",
        label_value(),
        0..3,
    )))
    .prop_map(|labels| LabelSelector {
        match_labels: labels.map(|labels: BTreeMap<String, String>| labels),
        match_expressions: None,
    })
}

fn cidr() -> impl Strategy<Value = String> {
    (1u8..=223, 8u8..=24).prop_map(|(octet, prefix)| format!("{octet}.0.0.0/{prefix}"))
}

fn namespaced_name() -> impl Strategy<Value = NamespacedName> {
    ("[a-z]{1,8}", "[a-z]{1,8}").prop_map(|(namespace, name)| NamespacedName::new(namespace, name))
}

fn applied_to(service: bool, node: bool) -> impl Strategy<Value = AppliedTo> {
    let mut choices: Vec<BoxedStrategy<AppliedTo>> = vec![
        (option::of(selector()), option::of(selector()))
            .prop_map(|(pod_selector, namespace_selector)| AppliedTo {
                pod_selector,
                namespace_selector,
                ..AppliedTo::default()
            })
            .boxed(),
        "[a-z]{1,10}"
            .prop_map(|group| AppliedTo {
                group: Some(group),
                ..AppliedTo::default()
            })
            .boxed(),
        namespaced_name()
            .prop_map(|account| AppliedTo {
                service_account: Some(account),
                ..AppliedTo::default()
            })
            .boxed(),
    ];
    if service {
        choices.push(
            namespaced_name()
                .prop_map(|svc| AppliedTo {
                    service: Some(svc),
                    ..AppliedTo::default()
                })
                .boxed(),
        );
    }
    if node {
        choices.push(
            selector()
                .prop_map(|nodes| AppliedTo {
                    node_selector: Some(nodes),
                    ..AppliedTo::default()
                })
                .boxed(),
        );
    }
    proptest::strategy::Union::new(choices)
}

fn peer(ingress: bool) -> impl Strategy<Value = NetworkPolicyPeer> {
    let mut choices: Vec<BoxedStrategy<NetworkPolicyPeer>> = vec![
        (cidr(), option::of(Just(())))
            .prop_map(|(cidr, with_except)| {
                let except = with_except
                    .map(|()| vec![format!("{}/28", cidr.split('/').next().unwrap_or_default())]);
                NetworkPolicyPeer {
                    ip_block: Some(IPBlock { cidr, except }),
                    ..NetworkPolicyPeer::default()
                }
            })
            .boxed(),
        (option::of(selector()), option::of(selector()))
            .prop_map(|(pod_selector, namespace_selector)| NetworkPolicyPeer {
                pod_selector,
                namespace_selector,
                ..NetworkPolicyPeer::default()
            })
            .boxed(),
        "[a-z]{1,10}"
            .prop_map(|group| NetworkPolicyPeer {
                group: Some(group),
                ..NetworkPolicyPeer::default()
            })
            .boxed(),
        namespaced_name()
            .prop_map(|account| NetworkPolicyPeer {
                service_account: Some(account),
                ..NetworkPolicyPeer::default()
            })
            .boxed(),
        selector()
            .prop_map(|nodes| NetworkPolicyPeer {
                node_selector: Some(nodes),
                ..NetworkPolicyPeer::default()
            })
            .boxed(),
    ];
    if ingress {
        choices.push(
            (
                selector(),
                prop_oneof![Just(PeerScope::Cluster), Just(PeerScope::ClusterSet)],
            )
                .prop_map(|(pods, scope)| NetworkPolicyPeer {
                    pod_selector: Some(pods),
                    scope: Some(scope),
                    ..NetworkPolicyPeer::default()
                })
                .boxed(),
        );
    } else {
        choices.push(
            "(\\*\\.)?[a-z]{1,8}\\.com"
                .prop_map(|fqdn| NetworkPolicyPeer {
                    fqdn: Some(fqdn),
                    ..NetworkPolicyPeer::default()
                })
                .boxed(),
        );
    }
    proptest::strategy::Union::new(choices)
}

fn port() -> impl Strategy<Value = NetworkPolicyPort> {
    (
        option::of(prop_oneof![
            Just(Protocol::TCP),
            Just(Protocol::UDP),
            Just(Protocol::SCTP)
        ]),
        option::of(prop_oneof![
            (1..65535i32).prop_map(IntOrString::Int),
            "[a-z]{1,8}".prop_map(IntOrString::String)
        ]),
        option::of(1..65535i32),
    )
        .prop_map(|(protocol, port, end_port)| NetworkPolicyPort {
            protocol,
            port,
            end_port,
            ..NetworkPolicyPort::default()
        })
}

fn protocol(ingress: bool) -> impl Strategy<Value = NetworkPolicyProtocol> {
    let igmp_type = if ingress { IGMP_QUERY } else { IGMP_REPORT_V2 };
    prop_oneof![
        (option::of(0..=255i32), option::of(0..=255i32)).prop_map(|(icmp_type, icmp_code)| {
            NetworkPolicyProtocol {
                icmp: Some(ICMPProtocol {
                    icmp_type,
                    icmp_code,
                }),
                igmp: None,
            }
        }),
        option::of(Just("224.0.0.1".to_owned())).prop_map(move |group_address| {
            NetworkPolicyProtocol {
                icmp: None,
                igmp: Some(IGMPProtocol {
                    igmp_type: Some(igmp_type),
                    group_address,
                }),
            }
        }),
    ]
}

fn rule(ingress: bool) -> impl Strategy<Value = Rule> {
    (
        prop_oneof![
            Just(RuleAction::Allow),
            Just(RuleAction::Drop),
            Just(RuleAction::Reject),
            Just(RuleAction::Pass)
        ],
        option::of(vec(port(), 0..3)),
        option::of(vec(protocol(ingress), 0..2)),
        option::of(vec(peer(ingress), 0..3)),
        "r-[0-9]{1,5}",
        option::of(any::<bool>()),
        option::of("[A-Za-z0-9]([-A-Za-z0-9_.]{0,20}[A-Za-z0-9])?"),
        option::of(vec(namespaced_name(), 1..2)),
    )
        .prop_map(
            move |(action, ports, protocols, peers, name, enable_logging, log_label, services)| {
                let mut rule = Rule::new(action);
                rule.ports = ports;
                rule.protocols = protocols;
                rule.name = Some(name);
                rule.enable_logging = enable_logging;
                rule.log_label = log_label;
                if ingress {
                    rule.from = peers;
                } else {
                    rule.to = peers;
                    rule.to_services = services.map(|services| {
                        services
                            .into_iter()
                            .map(|service| PeerService {
                                name: service.name,
                                namespace: Some(service.namespace),
                                scope: None,
                            })
                            .collect()
                    });
                }
                rule
            },
        )
}

fn cluster_network_policy() -> impl Strategy<Value = ClusterNetworkPolicy> {
    (
        option::of("[a-z]{1,10}"),
        1.0..=10000.0f64,
        option::of(vec(applied_to(true, true), 1..3)),
        option::of(vec(rule(true), 0..3)),
        option::of(vec(rule(false), 0..3)),
    )
        .prop_map(|(tier, priority, applied_to, ingress, egress)| {
            ClusterNetworkPolicy::new(
                "p",
                ClusterNetworkPolicySpec {
                    tier,
                    priority,
                    applied_to,
                    ingress,
                    egress,
                },
            )
        })
}

fn cluster_group() -> impl Strategy<Value = ClusterGroup> {
    prop_oneof![
        (option::of(selector()), option::of(selector())).prop_map(
            |(pod_selector, namespace_selector)| ClusterGroupSpec {
                pod_selector,
                namespace_selector,
                ..ClusterGroupSpec::default()
            }
        ),
        vec(cidr(), 1..4).prop_map(|cidrs| ClusterGroupSpec {
            ip_blocks: Some(cidrs.into_iter().map(IPBlock::new).collect()),
            ..ClusterGroupSpec::default()
        }),
        vec("[a-z]{1,8}", 1..4).prop_map(|children| ClusterGroupSpec {
            child_groups: Some(children),
            ..ClusterGroupSpec::default()
        }),
        selector().prop_map(|nodes| ClusterGroupSpec {
            node_selector: Some(nodes),
            ..ClusterGroupSpec::default()
        }),
    ]
    .prop_map(|spec| ClusterGroup::new("g", spec))
}

fn traceflow() -> impl Strategy<Value = Traceflow> {
    (
        "[a-z]{1,8}",
        prop_oneof![
            "[a-z]{1,8}".prop_map(|pod| TraceflowDestination {
                namespace: Some("default".into()),
                pod: Some(pod),
                ..TraceflowDestination::default()
            }),
            (1u8..=223).prop_map(|octet| TraceflowDestination {
                ip: Some(format!("{octet}.1.2.3")),
                ..TraceflowDestination::default()
            }),
        ],
        option::of(0..=255i32),
        option::of((1..=65535i32, 1..=65535i32)),
        option::of(1..=300i32),
        option::of(any::<bool>()),
    )
        .prop_map(|(pod, destination, protocol, tcp, timeout, live_traffic)| {
            let packet = Packet {
                ip_header: Some(IPHeader {
                    protocol,
                    ttl: Some(64),
                    flags: None,
                }),
                transport_header: tcp.map(|(src_port, dst_port)| TransportHeader {
                    tcp: Some(TCPHeader {
                        src_port: Some(src_port),
                        dst_port: Some(dst_port),
                        flags: Some(2),
                    }),
                    ..TransportHeader::default()
                }),
                ..Packet::default()
            };
            Traceflow::new(
                "tf",
                TraceflowSpec {
                    source: Some(TraceflowSource {
                        namespace: Some("default".into()),
                        pod: Some(pod),
                        ip: None,
                    }),
                    destination: Some(destination),
                    packet: Some(packet),
                    live_traffic,
                    dropped_only: None,
                    timeout,
                },
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn cluster_network_policies_pass_the_real_schema(policy in cluster_network_policy()) {
        assert_admitted_unchanged(&real_schema("clusternetworkpolicy"), &policy)?;
    }

    #[test]
    fn cluster_groups_pass_the_real_schema(group in cluster_group()) {
        assert_admitted_unchanged(&real_schema("clustergroup"), &group)?;
    }

    #[test]
    fn tiers_pass_the_real_schema(priority in 0..=255i32, description in option::of("[ -~]{0,30}")) {
        assert_admitted_unchanged(&real_schema("tier"), &Tier::new("t", TierSpec { priority, description }))?;
    }

    #[test]
    fn traceflows_pass_the_real_schema(traceflow in traceflow()) {
        assert_admitted_unchanged(&real_schema("traceflow"), &traceflow)?;
    }
}

#[test]
fn fields_the_real_schema_prunes_are_pruned_by_ours_too() {
    // An externalEntitySelector in an ACNP appliedTo is pruned by the real schema; the CRD we
    // generate for the emulator must prune it the same way.
    let policy = ClusterNetworkPolicy::new(
        "p",
        ClusterNetworkPolicySpec {
            tier: None,
            priority: 1.0,
            applied_to: Some(vec![AppliedTo {
                external_entity_selector: Some(LabelSelector::default()),
                ..AppliedTo::default()
            }]),
            ingress: None,
            egress: None,
        },
    );
    let generated =
        serde_json::to_value(<ClusterNetworkPolicy as kube::CustomResourceExt>::crd()).unwrap();
    let ours =
        StructuralSchema::new(&crd_schema(&generated)).expect("our CRD has a structural schema");
    for schema in [real_schema("clusternetworkpolicy"), ours] {
        let mut object = serde_json::to_value(&policy).unwrap();
        assert!(schema.admit(&mut object).is_ok());
        assert_eq!(
            object.pointer("/spec/appliedTo/0"),
            Some(&serde_json::json!({}))
        );
    }
}
