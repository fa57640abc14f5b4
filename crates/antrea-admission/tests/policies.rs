//! Table-driven tests of the ACNP/ANNP webhooks: every rule with a passing and a failing case,
//! each failure checked against Antrea's exact message.

use antrea_admission::{
    ClusterState, FeatureGates, mutate_cluster_network_policy, mutate_network_policy,
    validate_cluster_network_policy, validate_network_policy,
};
use antrea_types::{ClusterNetworkPolicySpec, NetworkPolicySpec};

fn acnp(yaml: &str) -> ClusterNetworkPolicySpec {
    serde_saphyr::from_str(yaml).unwrap_or_else(|error| panic!("bad test spec {yaml}: {error}"))
}

fn cluster() -> ClusterState {
    let mut state = ClusterState::with_system_tiers();
    state.tiers.insert("nsx-application".into(), 240);
    state
}

/// (case, spec, expected denial message or `None` when admitted)
const CASES: &[(&str, &str, Option<&str>)] = &[
    // 1. The tier must exist (or be empty, or a capitalised static name).
    (
        "tier exists",
        "{tier: nsx-application, priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow}]}",
        None,
    ),
    (
        "tier empty",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow}]}",
        None,
    ),
    (
        "tier legacy name",
        "{tier: Emergency, priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow}]}",
        None,
    ),
    (
        "tier missing",
        "{tier: nsx-x, priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow}]}",
        Some("tier nsx-x does not exist"),
    ),
    (
        "tier wrong case",
        "{tier: EMERGENCY, priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow}]}",
        Some("tier EMERGENCY does not exist"),
    ),
    // 2. No Pass in the baseline tier.
    (
        "pass outside baseline",
        "{tier: application, priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Pass}]}",
        None,
    ),
    (
        "pass in baseline",
        "{tier: baseline, priority: 1, appliedTo: [{group: g}], egress: [{name: a, action: Pass}]}",
        Some("`Pass` action should not be set for Baseline Tier policy rules"),
    ),
    (
        "pass in legacy Baseline",
        "{tier: Baseline, priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Pass}]}",
        Some("`Pass` action should not be set for Baseline Tier policy rules"),
    ),
    // 3. Rule names unique across ingress and egress.
    (
        "names unique",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow}], egress: [{name: b, action: Allow}]}",
        None,
    ),
    (
        "names repeated across directions",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow}], egress: [{name: a, action: Allow}]}",
        Some("rules names must be unique within the policy"),
    ),
    (
        "two unnamed rules",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{action: Allow}, {action: Drop}]}",
        Some("rules names must be unique within the policy"),
    ),
    // 4. appliedTo all-or-nothing.
    (
        "appliedTo in every rule",
        "{priority: 1, ingress: [{name: a, action: Allow, appliedTo: [{group: g}]}], egress: [{name: b, action: Allow, appliedTo: [{group: g}]}]}",
        None,
    ),
    (
        "appliedTo in spec and rules",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, appliedTo: [{group: g}]}]}",
        Some("appliedTo should not be set in both spec and rules"),
    ),
    (
        "appliedTo nowhere",
        "{priority: 1, ingress: [{name: a, action: Allow}]}",
        Some("appliedTo needs to be set in either spec or rules"),
    ),
    (
        "appliedTo in some rules",
        "{priority: 1, ingress: [{name: a, action: Allow, appliedTo: [{group: g}]}, {name: b, action: Allow}]}",
        Some("appliedTo field should either be set in all rules or in none of them"),
    ),
    // 4b. Exclusive appliedTo fields.
    (
        "appliedTo pod and namespace selectors",
        "{priority: 1, appliedTo: [{podSelector: {}, namespaceSelector: {}}], ingress: [{name: a, action: Allow}]}",
        None,
    ),
    (
        "appliedTo group with selector",
        "{priority: 1, appliedTo: [{group: g, podSelector: {}}], ingress: [{name: a, action: Allow}]}",
        Some("group cannot be set with other peers in appliedTo"),
    ),
    (
        "appliedTo nodeSelector with selector",
        "{priority: 1, appliedTo: [{nodeSelector: {}, podSelector: {}}], ingress: [{name: a, action: Allow}]}",
        Some("nodeSelector cannot be set with other peers in appliedTo"),
    ),
    (
        "appliedTo serviceAccount with selector",
        "{priority: 1, appliedTo: [{serviceAccount: {name: s, namespace: n}, podSelector: {}}], ingress: [{name: a, action: Allow}]}",
        Some("serviceAccount cannot be set with other peers in appliedTo"),
    ),
    (
        "appliedTo service with selector",
        "{priority: 1, appliedTo: [{service: {name: s, namespace: n}, namespaceSelector: {}}], ingress: [{name: a, action: Allow}]}",
        Some("service cannot be set with other peers in appliedTo"),
    ),
    (
        "service on an ingress-only policy",
        "{priority: 1, appliedTo: [{service: {name: s, namespace: n}}], ingress: [{name: a, action: Allow, from: [{ipBlock: {cidr: 10.0.0.0/8}}]}]}",
        None,
    ),
    (
        "service on a policy with egress",
        "{priority: 1, appliedTo: [{service: {name: s, namespace: n}}], egress: [{name: a, action: Allow}]}",
        Some("egress rule cannot be applied to Services"),
    ),
    (
        "service on an egress rule",
        "{priority: 1, egress: [{name: a, action: Allow, appliedTo: [{service: {name: s, namespace: n}}]}]}",
        Some("egress rule cannot be applied to Services"),
    ),
    (
        "service mixed with other entries",
        "{priority: 1, appliedTo: [{service: {name: s, namespace: n}}, {group: g}], ingress: [{name: a, action: Allow}]}",
        Some("a rule/policy cannot be applied to Services and other peers at the same time"),
    ),
    // 4c/5. matchLabels syntax.
    (
        "good labels",
        "{priority: 1, appliedTo: [{podSelector: {matchLabels: {example.com/app: web-1}}}], ingress: [{name: a, action: Allow}]}",
        None,
    ),
    (
        "bad label key",
        "{priority: 1, appliedTo: [{podSelector: {matchLabels: {-app: web}}}], ingress: [{name: a, action: Allow}]}",
        Some(
            "Invalid label key: -app: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        ),
    ),
    (
        "bad label value in a peer",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, from: [{namespaceSelector: {matchLabels: {app: web!}}}]}]}",
        Some(
            "Invalid label value: web!: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ),
    ),
    // 5. Peers.
    (
        "namespaces match Self",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, from: [{namespaces: {match: Self}, podSelector: {}}]}]}",
        None,
    ),
    (
        "namespaces with namespaceSelector",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, from: [{namespaces: {match: Self}, namespaceSelector: {}}]}]}",
        Some(
            "namespaces and namespaceSelector cannot be set at the same time for a single NetworkPolicyPeer",
        ),
    ),
    (
        "two namespaces criteria",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, from: [{namespaces: {match: Self, sameLabels: [env]}}]}]}",
        Some("only one matching criteria can be specified in a single peer namespaces field"),
    ),
    (
        "bad sameLabels key",
        "{priority: 1, appliedTo: [{group: g}], egress: [{name: a, action: Allow, to: [{namespaces: {sameLabels: [env, bad/key/x]}}]}]}",
        Some("Invalid label key in sameLabels rule: bad/key/x"),
    ),
    (
        "ipBlock with strict except",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]}]}",
        None,
    ),
    (
        "ipBlock without cidr",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, from: [{ipBlock: {except: [10.1.0.0/16]}}]}]}",
        Some("field 'cidr' is required in an ipBlock"),
    ),
    (
        "ipBlock bad cidr",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, from: [{ipBlock: {cidr: 10.0.0.300/8}}]}]}",
        Some("invalid CIDR address: 10.0.0.300/8"),
    ),
    (
        "ipBlock bad except",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0]}}]}]}",
        Some("invalid except CIDR value: invalid CIDR address: 10.1.0.0"),
    ),
    (
        "ipBlock except equal to cidr",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}}]}]}",
        Some("except CIDR 10.0.0.0/8 is not a strict subset of CIDR 10.0.0.0/8"),
    ),
    (
        "ipBlock except outside",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, from: [{ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16]}}]}]}",
        Some("except CIDR 11.0.0.0/16 is not a strict subset of CIDR 10.0.0.0/8"),
    ),
    (
        "peer group with scope",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, from: [{group: g2, scope: Cluster}]}]}",
        Some("group cannot be set with other peers in rules"),
    ),
    (
        "peer serviceAccount with selector",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, from: [{serviceAccount: {name: s, namespace: n}, podSelector: {}}]}]}",
        Some("serviceAccount cannot be set with other peers in rules"),
    ),
    (
        "peer nodeSelector with ipBlock",
        "{priority: 1, appliedTo: [{group: g}], egress: [{name: a, action: Allow, to: [{nodeSelector: {}, ipBlock: {cidr: 10.0.0.0/8}}]}]}",
        Some("nodeSelector cannot be set with other peers in rules"),
    ),
    (
        "peer group alone",
        "{priority: 1, appliedTo: [{group: g}], egress: [{name: a, action: Allow, to: [{group: g2}]}]}",
        None,
    ),
    // 5b. toServices exclusivity.
    (
        "toServices alone",
        "{priority: 1, appliedTo: [{group: g}], egress: [{name: a, action: Allow, toServices: [{name: s, namespace: n}]}]}",
        None,
    ),
    (
        "toServices with ports",
        "{priority: 1, appliedTo: [{group: g}], egress: [{name: a, action: Allow, toServices: [{name: s, namespace: n}], ports: [{port: 80}]}]}",
        Some("`toServices` cannot be used with `to`, `ports` or `protocols`"),
    ),
    (
        "toServices with empty ports list",
        "{priority: 1, appliedTo: [{group: g}], egress: [{name: a, action: Allow, toServices: [{name: s, namespace: n}], ports: []}]}",
        Some("`toServices` cannot be used with `to`, `ports` or `protocols`"),
    ),
    (
        "toServices with to",
        "{priority: 1, appliedTo: [{group: g}], egress: [{name: a, action: Allow, toServices: [{name: s, namespace: n}], to: [{group: g2}]}]}",
        Some("`toServices` cannot be used with `to`, `ports` or `protocols`"),
    ),
    (
        "toServices with protocols",
        "{priority: 1, appliedTo: [{group: g}], egress: [{name: a, action: Allow, toServices: [{name: s, namespace: n}], protocols: [{icmp: {}}]}]}",
        Some("`toServices` cannot be used with `to`, `ports` or `protocols`"),
    ),
    // 6. Policies applied to Services take only ipBlock peers.
    (
        "service policy with selector peer",
        "{priority: 1, appliedTo: [{service: {name: s, namespace: n}}], ingress: [{name: a, action: Allow, from: [{podSelector: {}}]}]}",
        Some("a rule/policy that is applied to Services can only use ipBlock to select workloads"),
    ),
    (
        "service rule with ipBlock and scope",
        "{priority: 1, ingress: [{name: a, action: Allow, appliedTo: [{service: {name: s, namespace: n}}], from: [{ipBlock: {cidr: 10.0.0.0/8}, scope: Cluster}]}]}",
        Some("a rule/policy that is applied to Services can only use ipBlock to select workloads"),
    ),
    // 7. FQDN characters.
    (
        "fqdn wildcard",
        "{priority: 1, appliedTo: [{group: g}], egress: [{name: a, action: Allow, to: [{fqdn: '*.example.com'}]}]}",
        None,
    ),
    (
        "fqdn bad characters",
        "{priority: 1, appliedTo: [{group: g}], egress: [{name: a, action: Allow, to: [{fqdn: 'exa_mple.com'}]}]}",
        Some("invalid characters in egress rule fqdn field: exa_mple.com"),
    ),
    // 8. Egress multicast.
    (
        "multicast allow",
        "{priority: 1, appliedTo: [{group: g}], egress: [{name: a, action: Drop, to: [{ipBlock: {cidr: 225.1.2.3/32}}]}]}",
        None,
    ),
    (
        "multicast and unicast",
        "{priority: 1, appliedTo: [{group: g}], egress: [{name: a, action: Drop, to: [{ipBlock: {cidr: 225.1.2.3/32}}, {ipBlock: {cidr: 10.0.0.0/8}}]}]}",
        Some("can not set multicast groupAddress and unicast ip address at the same time"),
    ),
    (
        "multicast with a selector peer",
        "{priority: 1, appliedTo: [{group: g}], egress: [{name: a, action: Drop, to: [{ipBlock: {cidr: 225.1.2.3/32}, podSelector: {}}]}]}",
        Some("can not set multicast groupAddress and selectors at the same time"),
    ),
    (
        "multicast reject",
        "{priority: 1, appliedTo: [{group: g}], egress: [{name: a, action: Reject, to: [{ipBlock: {cidr: 225.1.2.3/32}}]}]}",
        Some("multicast does not support action Pass or Reject"),
    ),
    // 9. IGMP.
    (
        "igmp query",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Drop, protocols: [{igmp: {igmpType: 17, groupAddress: 224.0.0.1}}]}]}",
        None,
    ),
    (
        "igmp unicast group",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Drop, protocols: [{igmp: {igmpType: 17, groupAddress: 10.0.0.1}}]}]}",
        Some("groupAddress 10.0.0.1 is not multicast address"),
    ),
    (
        "igmp unparsable group",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Drop, protocols: [{igmp: {groupAddress: nope}}]}]}",
        Some("groupAddress <nil> is not multicast address"),
    ),
    (
        "igmp pass",
        "{priority: 1, appliedTo: [{group: g}], egress: [{name: a, action: Pass, protocols: [{igmp: {igmpType: 18}}]}]}",
        Some("protocol IGMP does not support Pass or Reject"),
    ),
    (
        "igmp with ports",
        "{priority: 1, appliedTo: [{group: g}], egress: [{name: a, action: Allow, protocols: [{igmp: {igmpType: 18}}], ports: [{port: 80}]}]}",
        Some(
            "protocol IGMP can not be used with other protocols or other properties like from, to",
        ),
    ),
    (
        "igmp then an ICMP rule",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Drop, protocols: [{igmp: {}}]}, {name: b, action: Drop, protocols: [{icmp: {}}]}]}",
        Some(
            "protocol IGMP can not be used with other protocols or other properties like from, to",
        ),
    ),
    (
        "igmp then a rule with peers",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Drop, protocols: [{igmp: {}}]}, {name: b, action: Drop, from: [{group: g}]}]}",
        Some(
            "protocol IGMP can not be used with other protocols or other properties like from, to",
        ),
    ),
    // 10. L7 (gate off in this table; see the gated test below).
    (
        "l7 without the gate",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, l7Protocols: [{http: {}}]}]}",
        Some("layer 7 protocols can only be used when L7NetworkPolicy is enabled"),
    ),
    // 11. Ports.
    (
        "port range",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, ports: [{protocol: TCP, port: 8080, endPort: 8090, sourcePort: 1000, sourceEndPort: 2000}]}]}",
        None,
    ),
    (
        "named port",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, ports: [{port: http}]}]}",
        None,
    ),
    (
        "endPort without port",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, ports: [{endPort: 90}]}]}",
        Some("if `endPort` is specified `port` must be specified"),
    ),
    (
        "endPort with named port",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, ports: [{port: http, endPort: 90}]}]}",
        Some("if `port` is a string `endPort` cannot be specified"),
    ),
    (
        "endPort below port",
        "{priority: 1, appliedTo: [{group: g}], egress: [{name: a, action: Allow, ports: [{port: 100, endPort: 90}]}]}",
        Some("`endPort` should be greater than or equal to `port`"),
    ),
    (
        "sourceEndPort without sourcePort",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, ports: [{sourceEndPort: 90}]}]}",
        Some("if `sourceEndPort` is specified `sourcePort` must be specified"),
    ),
    (
        "sourceEndPort below sourcePort",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, ports: [{sourcePort: 100, sourceEndPort: 90}]}]}",
        Some("`sourceEndPort` should be greater than or equal to `sourcePort`"),
    ),
    (
        "port not range-checked",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, ports: [{port: 70000}]}]}",
        None,
    ),
    // Not validated by Antrea: an ipBlock next to other peer fields.
    (
        "ipBlock next to a selector",
        "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]}",
        None,
    ),
];

#[test]
fn cluster_network_policy_rules() {
    let state = cluster();
    let mut failures = Vec::new();
    for (case, yaml, expected) in CASES {
        let outcome = validate_cluster_network_policy(&acnp(yaml), &state);
        let got = outcome.as_ref().err().map(|denial| denial.message.as_str());
        if got != *expected {
            failures.push(format!("{case}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn annp_uses_the_same_rules() {
    let state = cluster();
    let allowed: NetworkPolicySpec = serde_saphyr::from_str(
        "{priority: 5, appliedTo: [{podSelector: {}}], ingress: [{name: a, action: Allow}]}",
    )
    .unwrap();
    assert!(validate_network_policy(&allowed, &state).is_ok());
    let denied: NetworkPolicySpec =
        serde_saphyr::from_str("{tier: nope, priority: 5, appliedTo: [{podSelector: {}}]}")
            .unwrap();
    assert_eq!(
        validate_network_policy(&denied, &state)
            .unwrap_err()
            .message,
        "tier nope does not exist"
    );
}

#[test]
fn l7_rules_with_the_gate_on() {
    let mut state = cluster();
    state.feature_gates = FeatureGates {
        l7_network_policy: true,
        ..FeatureGates::default()
    };
    let cases: &[(&str, Option<&str>)] = &[
        (
            "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, ports: [{protocol: TCP, port: 80}], l7Protocols: [{http: {method: GET, path: /}}]}]}",
            None,
        ),
        (
            "{priority: 1, appliedTo: [{group: g}], egress: [{name: a, action: Allow, l7Protocols: [{tls: {sni: a.example.com}}]}]}",
            None,
        ),
        (
            "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Drop, l7Protocols: [{http: {}}]}]}",
            Some("layer 7 protocols only support Allow"),
        ),
        (
            "{priority: 1, appliedTo: [{group: g}], egress: [{name: a, action: Allow, toServices: [{name: s, namespace: n}], l7Protocols: [{http: {}}]}]}",
            Some("layer 7 protocols can not be used with toServices"),
        ),
        (
            "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, ports: [{protocol: UDP, port: 53}], l7Protocols: [{http: {}}]}]}",
            Some("HTTP protocol can only be used when layer 4 protocol is TCP or unset"),
        ),
        (
            "{priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow, protocols: [{icmp: {}}], l7Protocols: [{http: {}}]}]}",
            Some("HTTP protocol can not be used with protocol IGMP or ICMP"),
        ),
    ];
    for (yaml, expected) in cases {
        let got = validate_cluster_network_policy(&acnp(yaml), &state)
            .err()
            .map(|denial| denial.message);
        assert_eq!(got.as_deref(), *expected, "{yaml}");
    }
}

#[test]
fn node_policies_warn_about_long_log_labels() {
    let state = cluster();
    let long = acnp(
        "{priority: 1, appliedTo: [{nodeSelector: {}}], ingress: [{name: r1, action: Allow, enableLogging: true, logLabel: thirteen-char}]}",
    );
    let admitted = validate_cluster_network_policy(&long, &state).unwrap();
    assert_eq!(
        admitted.warnings,
        vec![
            "LogLabels for Node NetworkPolicies are limited to 12 characters, but the label \"thirteen-char\" for policy rule \"r1\" exceeds the limit and will be truncated in kernel logs"
        ]
    );
    let short = acnp(
        "{priority: 1, appliedTo: [{nodeSelector: {}}], ingress: [{name: r1, action: Allow, enableLogging: true, logLabel: twelve-chars}]}",
    );
    assert!(
        validate_cluster_network_policy(&short, &state)
            .unwrap()
            .warnings
            .is_empty()
    );
    let pods = acnp(
        "{priority: 1, appliedTo: [{podSelector: {}}], ingress: [{name: r1, action: Allow, enableLogging: true, logLabel: thirteen-char}]}",
    );
    assert!(
        validate_cluster_network_policy(&pods, &state)
            .unwrap()
            .warnings
            .is_empty()
    );
}

/// Antrea's own vectors (`mutate_test.go`): generated names and the default tier.
#[test]
fn mutation_matches_antrea() {
    let spec = acnp(
        "{priority: 1, appliedTo: [{podSelector: {matchLabels: {foo: bar}}}],
          ingress: [{action: Allow, from: [{podSelector: {matchLabels: {foo1: bar1}}}]},
                    {action: Allow, from: [{podSelector: {matchLabels: {foo2: bar2}}}]}],
          egress: [{action: Allow, to: [{podSelector: {matchLabels: {foo2: bar2}}}]}]}",
    );
    let mutation = mutate_cluster_network_policy(&spec);
    assert_eq!(
        mutation.json_patch(),
        serde_json::json!([
            {"op": "replace", "path": "/spec/ingress/0/name", "value": "ingress-allow-c4f16d3"},
            {"op": "replace", "path": "/spec/ingress/1/name", "value": "ingress-allow-be87b58"},
            {"op": "replace", "path": "/spec/egress/0/name", "value": "egress-allow-44b2575"},
            {"op": "replace", "path": "/spec/tier", "value": "application"},
        ])
    );
    let mut mutated = spec.clone();
    mutation.apply_to_cluster_network_policy(&mut mutated);
    assert_eq!(mutated.tier.as_deref(), Some("application"));
    assert_eq!(
        mutated.egress.as_ref().unwrap()[0].name.as_deref(),
        Some("egress-allow-44b2575")
    );
    assert!(validate_cluster_network_policy(&mutated, &cluster()).is_ok());
    // Nothing left to do once mutated; legacy tier names are kept as written.
    assert!(mutate_cluster_network_policy(&mutated).is_empty());
    let legacy = acnp(
        "{tier: Emergency, priority: 1, appliedTo: [{group: g}], ingress: [{name: a, action: Allow}]}",
    );
    assert!(mutate_cluster_network_policy(&legacy).is_empty());
}

#[test]
fn annp_mutation_names_rules_by_content() {
    let spec: NetworkPolicySpec = serde_saphyr::from_str(
        "{tier: application, priority: 1, appliedTo: [{podSelector: {}}], ingress: [{action: Drop, ports: [{port: 80}]}, {name: keep, action: Drop}]}",
    )
    .unwrap();
    let mutation = mutate_network_policy(&spec);
    assert_eq!(mutation.replacements.len(), 1);
    assert_eq!(mutation.replacements[0].path, "/spec/ingress/0/name");
    assert!(mutation.replacements[0].value.starts_with("ingress-drop-"));
    assert_eq!(
        mutation.replacements[0].value.len(),
        "ingress-drop-".len() + 7
    );
    let mut other = spec.clone();
    other.ingress.as_mut().unwrap()[0].ports.as_mut().unwrap()[0].port =
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(81));
    assert_ne!(
        mutate_network_policy(&other).replacements[0].value,
        mutation.replacements[0].value
    );
}
