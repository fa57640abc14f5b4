//! Table-driven tests of the Tier, ClusterGroup and Group webhooks.

use antrea_admission::context::ANTREA_CONTROLLER_USERNAME;
use antrea_admission::{
    ClusterState, FeatureGates, validate_cluster_group, validate_group, validate_tier_create,
    validate_tier_delete, validate_tier_update,
};
use antrea_types::{ClusterGroup, ClusterGroupSpec, Group, GroupSpec, Tier, TierSpec};

fn tier(name: &str, priority: i32) -> Tier {
    Tier::new(
        name,
        TierSpec {
            priority,
            description: None,
        },
    )
}

fn denial<T>(outcome: Result<T, antrea_admission::Denial>) -> Option<String> {
    outcome.err().map(|denial| denial.message)
}

#[test]
fn tier_create() {
    let mut state = ClusterState::with_system_tiers();
    state.tiers.insert("nsx-emergency".into(), 40);
    let cases: &[(i32, Option<&str>)] = &[
        (45, None),
        (0, None),
        (249, None),
        (220, None),
        (251, Some("tier t priority 251 is reserved")),
        (252, Some("tier t priority 252 is reserved")),
        (254, Some("tier t priority 254 is reserved")),
        (255, Some("tier t priority 255 is reserved")),
        (40, Some("tier t priority 40 overlaps with existing Tier")),
        (50, Some("tier t priority 50 overlaps with existing Tier")),
        (250, Some("tier t priority 250 overlaps with existing Tier")),
        (253, Some("tier t priority 253 overlaps with existing Tier")),
    ];
    for (priority, expected) in cases {
        assert_eq!(
            denial(validate_tier_create(&tier("t", *priority), &state)).as_deref(),
            *expected,
            "{priority}"
        );
    }
    state.feature_gates = FeatureGates {
        cluster_network_policy: true,
        ..FeatureGates::default()
    };
    assert_eq!(
        denial(validate_tier_create(&tier("t", 220), &state)).as_deref(),
        Some("tier t priority 220 is reserved")
    );
}

#[test]
fn at_most_twenty_tier_priorities() {
    let mut state = ClusterState::with_system_tiers();
    for index in 0..13 {
        state.tiers.insert(format!("custom-{index}"), index);
    }
    assert!(validate_tier_create(&tier("one-more", 30), &state).is_ok());
    state.tiers.insert("custom-13".into(), 13);
    assert_eq!(
        denial(validate_tier_create(&tier("one-more", 30), &state)).as_deref(),
        Some("maximum number of Tiers supported: 20")
    );
}

#[test]
fn tier_priority_is_immutable_except_for_antrea_controller() {
    let state = ClusterState::with_system_tiers();
    let old = tier("t", 10);
    assert!(validate_tier_update(&tier("t", 10), &old, "alice", &state).is_ok());
    let mut described = tier("t", 10);
    described.spec.description = Some("changed".into());
    assert!(validate_tier_update(&described, &old, "alice", &state).is_ok());
    assert_eq!(
        denial(validate_tier_update(&tier("t", 11), &old, "alice", &state)).as_deref(),
        Some("update to Tier priority is not allowed")
    );
    assert!(validate_tier_update(&tier("t", 11), &old, ANTREA_CONTROLLER_USERNAME, &state).is_ok());
}

#[test]
fn tier_delete() {
    let mut state = ClusterState::with_system_tiers();
    state
        .cluster_network_policy_tiers
        .insert("p1".into(), "nsx-app".into());
    state
        .cluster_network_policy_tiers
        .insert("p2".into(), "nsx-app".into());
    state
        .network_policy_tiers
        .insert(("ns".into(), "np".into()), "nsx-ns".into());
    assert!(validate_tier_delete(&tier("unused", 10), &state).is_ok());
    assert_eq!(
        denial(validate_tier_delete(&tier("application", 250), &state)).as_deref(),
        Some("cannot delete reserved tier application")
    );
    assert_eq!(
        denial(validate_tier_delete(&tier("emergency", 50), &state)).as_deref(),
        Some("cannot delete reserved tier emergency")
    );
    assert_eq!(
        denial(validate_tier_delete(&tier("nsx-app", 10), &state)).as_deref(),
        Some("tier nsx-app is referenced by 2 Antrea ClusterNetworkPolicies")
    );
    assert_eq!(
        denial(validate_tier_delete(&tier("nsx-ns", 11), &state)).as_deref(),
        Some("tier nsx-ns is referenced by 1 Antrea NetworkPolicies")
    );
}

const CG_ONE_CRITERION: &str = "At most one of podSelector, nodeSelector, externalEntitySelector, serviceReference, ipBlock, ipBlocks or childGroups can be set for a ClusterGroup";

fn cluster_group(name: &str, spec_yaml: &str) -> ClusterGroup {
    let spec: ClusterGroupSpec =
        serde_saphyr::from_str(spec_yaml).unwrap_or_else(|error| panic!("{spec_yaml}: {error}"));
    ClusterGroup::new(name, spec)
}

#[test]
fn cluster_group_rules() {
    let mut state = ClusterState::with_system_tiers();
    state
        .cluster_groups
        .insert("leaf".into(), ClusterGroupSpec::default());
    state.cluster_groups.insert(
        "parent".into(),
        serde_saphyr::from_str("{childGroups: [leaf]}").unwrap(),
    );
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("cg", "{podSelector: {matchLabels: {app: web}}}", None),
        ("cg", "{podSelector: {}, namespaceSelector: {}}", None),
        (
            "cg",
            "{externalEntitySelector: {}, namespaceSelector: {}}",
            None,
        ),
        ("cg", "{nodeSelector: {}}", None),
        ("cg", "{serviceReference: {name: s, namespace: n}}", None),
        (
            "cg",
            "{ipBlocks: [{cidr: 10.0.0.0/8}, {cidr: 192.168.0.0/16}]}",
            None,
        ),
        (
            "cg",
            "{podSelector: {}, externalEntitySelector: {}}",
            Some(CG_ONE_CRITERION),
        ),
        (
            "cg",
            "{namespaceSelector: {}, ipBlocks: [{cidr: 10.0.0.0/8}]}",
            Some(CG_ONE_CRITERION),
        ),
        (
            "cg",
            "{nodeSelector: {}, namespaceSelector: {}}",
            Some(CG_ONE_CRITERION),
        ),
        (
            "cg",
            "{podSelector: {}, namespaceSelector: {}, externalEntitySelector: {}}",
            Some(CG_ONE_CRITERION),
        ),
        (
            "cg",
            "{childGroups: [a], serviceReference: {name: s}}",
            Some(CG_ONE_CRITERION),
        ),
        (
            "cg",
            "{podSelector: {matchLabels: {app: 'web app'}}}",
            Some(
                "Invalid label value: web app: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            ),
        ),
        (
            "cg",
            "{ipBlocks: [{cidr: 224.0.0.0/4}, {cidr: 10.0.0.0/8}]}",
            Some("can not set multicast groupAddress together with unicast ip address"),
        ),
        (
            "cg",
            "{ipBlocks: [{cidr: 10.0.0.0/8, except: [10.0.0.0/4]}]}",
            Some("except CIDR 10.0.0.0/4 is not a strict subset of CIDR 10.0.0.0/8"),
        ),
        (
            "cg",
            "{ipBlocks: [{cidr: bad}]}",
            Some("invalid CIDR address: bad"),
        ),
        ("cg", "{childGroups: [leaf, not-yet-created]}", None),
        (
            "cg",
            "{childGroups: [parent]}",
            Some("cannot set ClusterGroup parent as childGroup, who has 1 childGroups itself"),
        ),
        (
            "leaf",
            "{childGroups: [other]}",
            Some("cannot set childGroups for ClusterGroup leaf, who has 1 parents"),
        ),
        (
            "cg",
            "{childGroups: [cg]}",
            Some("cannot set ClusterGroup cg as its own childGroup"),
        ),
    ];
    for (name, yaml, expected) in cases {
        let outcome = validate_cluster_group(&cluster_group(name, yaml), &state);
        assert_eq!(denial(outcome).as_deref(), *expected, "{name} {yaml}");
    }
}

const GROUP_ONE_CRITERION: &str = "At most one of podSelector, externalEntitySelector, serviceReference, ipBlocks or childGroups can be set for a Group";

#[test]
fn group_rules() {
    let mut state = ClusterState::with_system_tiers();
    state
        .groups
        .insert(("ns".into(), "leaf".into()), GroupSpec::default());
    state.groups.insert(
        ("ns".into(), "parent".into()),
        serde_saphyr::from_str("{childGroups: [leaf]}").unwrap(),
    );
    state.groups.insert(
        ("other".into(), "nested".into()),
        serde_saphyr::from_str("{childGroups: [x]}").unwrap(),
    );
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("g", "{podSelector: {}, namespaceSelector: {}}", None),
        ("g", "{ipBlocks: [{cidr: 10.0.0.0/8}]}", None),
        (
            "g",
            "{podSelector: {}, ipBlocks: [{cidr: 10.0.0.0/8}]}",
            Some(GROUP_ONE_CRITERION),
        ),
        (
            "g",
            "{podSelector: {matchLabels: {-x: y}}}",
            Some(
                "Invalid label key: -x: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ),
        ),
        ("g", "{childGroups: [leaf, nested]}", None),
        (
            "g",
            "{childGroups: [parent]}",
            Some("cannot set Group ns/parent as childGroup, who has 1 childGroups itself"),
        ),
        (
            "leaf",
            "{childGroups: [x]}",
            Some("cannot set childGroups for Group ns/leaf, who has 1 parents"),
        ),
        (
            "g",
            "{childGroups: [g]}",
            Some("cannot set Group ns/g as its own childGroup"),
        ),
    ];
    for (name, yaml, expected) in cases {
        let spec: GroupSpec = serde_saphyr::from_str(yaml).unwrap();
        let mut group = Group::new(name, spec);
        group.metadata.namespace = Some("ns".into());
        assert_eq!(
            denial(validate_group(&group, &state)).as_deref(),
            *expected,
            "{name} {yaml}"
        );
    }
}
