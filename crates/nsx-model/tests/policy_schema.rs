//! The policy types against NSX's own 4.2 schema (`shared/nsx-schemas`): the examples
//! round-trip unchanged, every field of each model is declared (a fully populated value
//! serializes to exactly the schema's property set and validates), and generated values
//! validate.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::LazyLock;

use nsx_model::policy::*;
use proptest::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value, json};

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/nsx-schemas")
}

static BUNDLE: LazyLock<Value> = LazyLock::new(|| {
    let text = std::fs::read_to_string(schemas_dir().join("nsx-policy-4.2.schema.json"))
        .expect("the NSX policy schema bundle");
    serde_json::from_str(&text).expect("bundle is JSON")
});

fn validator(model: &str) -> jsonschema::Validator {
    let mut root = BUNDLE.clone();
    root["$ref"] = json!(format!("#/$defs/{model}"));
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(false)
        .build(&root)
        .expect("schema compiles")
}

static VALIDATORS: LazyLock<Vec<(&'static str, jsonschema::Validator)>> = LazyLock::new(|| {
    [
        "Group",
        "SecurityPolicy",
        "Rule",
        "Service",
        "Expression",
        "ServiceEntry",
    ]
    .into_iter()
    .map(|model| (model, validator(model)))
    .collect()
});

fn problems(model: &str, instance: &Value) -> Vec<String> {
    let (_, validator) = VALIDATORS
        .iter()
        .find(|(name, _)| *name == model)
        .expect("a known model");
    validator
        .iter_errors(instance)
        .map(|error| format!("{error} at {}", error.instance_path()))
        .collect()
}

fn assert_valid(model: &str, instance: &Value) {
    let problems = problems(model, instance);
    assert!(
        problems.is_empty(),
        "{model} does not validate: {problems:#?}\n{instance:#}"
    );
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("serializes")
}

fn example(file: &str) -> Value {
    let text = std::fs::read_to_string(schemas_dir().join("examples").join(file))
        .unwrap_or_else(|error| panic!("{file}: {error}"));
    serde_json::from_str(&text).expect("example is JSON")
}

/// The declared properties of a model (for a union member, its own struct).
fn schema_properties(model: &str) -> BTreeSet<String> {
    BUNDLE["$defs"][model]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{model} has properties"))
        .keys()
        .cloned()
        .collect()
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect()
}

#[test]
fn the_examples_round_trip_unchanged_and_validate() {
    let cases: [(&str, &str); 5] = [
        ("policy/group-with-conditions.json", "Group"),
        ("policy/group-get-response.json", "Group"),
        ("policy/security-policy-two-rules.json", "SecurityPolicy"),
        ("policy/service-with-entries.json", "Service"),
        ("policy/service-ether.json", "Service"),
    ];
    for (file, model) in cases {
        let document = example(file);
        let again = match model {
            "Group" => to_json(&serde_json::from_value::<Group>(document.clone()).unwrap()),
            "SecurityPolicy" => {
                to_json(&serde_json::from_value::<SecurityPolicy>(document.clone()).unwrap())
            }
            _ => to_json(&serde_json::from_value::<Service>(document.clone()).unwrap()),
        };
        assert_eq!(again, document, "{file} changed in a round trip");
        assert_valid(model, &again);
    }
}

#[test]
fn invalid_examples_stay_invalid_after_a_round_trip() {
    // Nothing is normalised away: what NSX's schema refuses is still refused after our types
    // read and wrote it (unknown expression types, unknown enum values).
    let cases: [(&str, &str); 4] = [
        ("invalid/group-unknown-expression.json", "Group"),
        ("invalid/group-condition-bad-operator.json", "Group"),
        (
            "invalid/security-policy-bad-rule-action.json",
            "SecurityPolicy",
        ),
        ("invalid/service-entry-bad-protocol.json", "Service"),
    ];
    for (file, model) in cases {
        let document = example(file);
        assert!(!problems(model, &document).is_empty(), "{file} is invalid");
        let again = match model {
            "Group" => to_json(&serde_json::from_value::<Group>(document.clone()).unwrap()),
            "SecurityPolicy" => {
                to_json(&serde_json::from_value::<SecurityPolicy>(document.clone()).unwrap())
            }
            _ => to_json(&serde_json::from_value::<Service>(document.clone()).unwrap()),
        };
        assert_eq!(again, document, "{file} changed in a round trip");
        assert!(!problems(model, &again).is_empty(), "{file} became valid");
    }
    // A member without its discriminator cannot be read at all.
    let missing = example("invalid/group-condition-missing-resource-type.json");
    assert!(serde_json::from_value::<Group>(missing).is_err());
}

fn full_meta(id: &str) -> PolicyObjectMeta {
    PolicyObjectMeta {
        links: Some(vec![ResourceLink {
            action: Some("GET".into()),
            href: Some(format!("/policy/api/v1/x/{id}")),
            rel: Some("self".into()),
        }]),
        schema: Some("/v1/schema/X".into()),
        self_link: Some(ResourceLink {
            action: None,
            href: Some(format!("/policy/api/v1/x/{id}")),
            rel: Some("self".into()),
        }),
        revision: Some(4),
        create_time: Some(1_717_000_000_000),
        create_user: Some("admin".into()),
        last_modified_time: Some(1_717_000_000_001),
        last_modified_user: Some("admin".into()),
        protection: Some("NOT_PROTECTED".into()),
        system_owned: Some(false),
        description: Some("d".into()),
        display_name: Some(id.to_uppercase()),
        id: Some(id.into()),
        tags: Some(vec![Tag {
            scope: Some("s".into()),
            tag: Some("t".into()),
        }]),
        origin_site_id: Some("site".into()),
        owner_id: Some("owner".into()),
        parent_path: Some("/infra/domains/default".into()),
        path: Some(format!("/infra/domains/default/x/{id}")),
        realization_id: Some("r".into()),
        relative_path: Some(id.into()),
        remote_path: Some(String::new()),
        unique_id: Some(format!("{id}-uuid")),
        children: Some(Vec::new()),
        marked_for_delete: Some(false),
        overridden: Some(false),
    }
}

fn full_ip_expression() -> IpAddressExpression {
    IpAddressExpression {
        meta: full_meta("ips"),
        ip_addresses: Some(vec!["10.0.0.0/8".into(), "10.1.1.1-10.1.1.9".into()]),
        extra: Map::new(),
    }
}

fn full_path_expression() -> PathExpression {
    PathExpression {
        meta: full_meta("paths"),
        paths: Some(vec!["/infra/domains/default/groups/g".into()]),
        extra: Map::new(),
    }
}

fn full_condition() -> ConditionExpression {
    ConditionExpression {
        meta: full_meta("cond"),
        exclude: Some(ExcludedMembersList {
            ip_address_expression: Some(Box::new(Expression::IpAddress(full_ip_expression()))),
            path_expression: Some(Box::new(Expression::Path(full_path_expression()))),
            extra: Map::new(),
        }),
        key: Some(ConditionKey::Tag),
        member_type: Some(ConditionMemberType::Pod),
        operator: Some(ConditionOperator::NotEquals),
        scope_operator: Some(ScopeOperator::Equals),
        value: Some("app|web".into()),
        extra: Map::new(),
    }
}

fn every_expression() -> Vec<Expression> {
    let conjunction = |operator| {
        Expression::Conjunction(ConjunctionExpression {
            meta: full_meta("conj"),
            conjunction_operator: Some(operator),
            extra: Map::new(),
        })
    };
    vec![
        Expression::Condition(full_condition()),
        conjunction(ConjunctionOperator::And),
        Expression::Nested(NestedExpression {
            meta: full_meta("nested"),
            expressions: Some(vec![Expression::Condition(full_condition())]),
            extra: Map::new(),
        }),
        conjunction(ConjunctionOperator::Or),
        Expression::IpAddress(full_ip_expression()),
        conjunction(ConjunctionOperator::Or),
        Expression::MacAddress(MacAddressExpression {
            meta: full_meta("macs"),
            mac_addresses: Some(vec!["00:50:56:aa:bb:cc".into()]),
            extra: Map::new(),
        }),
        conjunction(ConjunctionOperator::Or),
        Expression::ExternalId(ExternalIdExpression {
            meta: full_meta("ext"),
            external_ids: Some(vec!["vm-1".into()]),
            member_type: Some(ExternalIdMemberType::VirtualMachine),
            extra: Map::new(),
        }),
        conjunction(ConjunctionOperator::Or),
        Expression::Path(full_path_expression()),
        conjunction(ConjunctionOperator::Or),
        Expression::IdentityGroup(IdentityGroupExpression {
            meta: full_meta("ad"),
            identity_groups: Some(vec![IdentityGroupInfo {
                distinguished_name: Some("CN=g".into()),
                domain_base_distinguished_name: Some("DC=x".into()),
                sid: Some("S-1".into()),
                extra: Map::new(),
            }]),
            extra: Map::new(),
        }),
    ]
}

fn full_group() -> Group {
    Group {
        resource_type: Some("Group".into()),
        meta: full_meta("g"),
        expression: Some(every_expression()),
        extended_expression: Some(Vec::new()),
        group_type: Some(vec![GroupType::Antrea]),
        reference: Some(false),
        state: Some(GroupState::Success),
        extra: Map::new(),
    }
}

fn every_service_entry() -> Vec<ServiceEntry> {
    vec![
        ServiceEntry::L4PortSet(L4PortSetServiceEntry {
            meta: full_meta("l4"),
            destination_ports: Some(vec!["80".into(), "8000-8080".into()]),
            l4_protocol: Some(L4Protocol::Tcp),
            source_ports: Some(Vec::new()),
            extra: Map::new(),
        }),
        ServiceEntry::IcmpType(IcmpTypeServiceEntry {
            meta: full_meta("icmp"),
            icmp_code: Some(0),
            icmp_type: Some(8),
            protocol: Some(IcmpProtocol::IcmpV4),
            extra: Map::new(),
        }),
        ServiceEntry::IpProtocol(IpProtocolServiceEntry {
            meta: full_meta("proto"),
            protocol_number: Some(47),
            extra: Map::new(),
        }),
        ServiceEntry::IgmpType(IgmpTypeServiceEntry {
            meta: full_meta("igmp"),
            extra: Map::new(),
        }),
        ServiceEntry::EtherType(EtherTypeServiceEntry {
            meta: full_meta("ether"),
            ether_type: Some(2054),
            extra: Map::new(),
        }),
        ServiceEntry::AlgType(AlgTypeServiceEntry {
            meta: full_meta("alg"),
            alg: Some(AlgType::Ftp),
            destination_ports: Some(vec!["21".into()]),
            source_ports: Some(vec!["1024-65535".into()]),
            extra: Map::new(),
        }),
        ServiceEntry::NestedService(NestedServiceServiceEntry {
            meta: full_meta("nested"),
            nested_service_path: Some("/infra/services/HTTPS".into()),
            extra: Map::new(),
        }),
    ]
}

fn full_service() -> Service {
    Service {
        resource_type: Some("Service".into()),
        meta: full_meta("svc"),
        is_default: Some(false),
        service_entries: Some(every_service_entry()),
        service_type: Some("NON_ETHER".into()),
        extra: Map::new(),
    }
}

fn full_rule() -> Rule {
    Rule {
        resource_type: Some("Rule".into()),
        meta: full_meta("r"),
        destination_groups: Some(vec!["ANY".into()]),
        destinations_excluded: Some(false),
        direction: Some(RuleDirection::InOut),
        disabled: Some(false),
        ip_protocol: Some(IpProtocol::Ipv4Ipv6),
        is_default: Some(false),
        logged: Some(true),
        notes: Some("n".into()),
        profiles: Some(vec!["ANY".into()]),
        rule_id: Some(1017),
        scope: Some(vec!["/infra/domains/default/groups/a".into()]),
        sequence_number: Some(10),
        service_entries: Some(every_service_entry()),
        services: Some(vec!["/infra/services/HTTP".into()]),
        source_groups: Some(vec!["/infra/domains/default/groups/b".into()]),
        sources_excluded: Some(false),
        tag: Some("web".into()),
        action: Some(RuleAction::Allow),
        extra: Map::new(),
    }
}

fn full_policy() -> SecurityPolicy {
    SecurityPolicy {
        resource_type: Some("SecurityPolicy".into()),
        meta: full_meta("p"),
        category: Some(PolicyCategory::Application),
        comments: Some("c".into()),
        internal_sequence_number: Some(7),
        is_default: Some(false),
        lock_modified_by: Some("admin".into()),
        lock_modified_time: Some(1),
        locked: Some(false),
        rule_count: Some(1),
        scheduler_path: Some("/infra/domains/default/schedulers/s".into()),
        scope: Some(vec!["ANY".into()]),
        sequence_number: Some(10),
        stateful: Some(true),
        tcp_strict: Some(true),
        application_connectivity_strategy: Some(vec![ApplicationConnectivityStrategy {
            application_connectivity_strategy: Some("ALLOW_INTRA".into()),
            default_application_rule_id: Some(2),
            logging_enabled: Some(false),
            extra: Map::new(),
        }]),
        connectivity_preference: Some(ConnectivityPreference::None),
        connectivity_strategy: Some(ConnectivityStrategy::None),
        default_rule_id: Some(3),
        logging_enabled: Some(false),
        rules: Some(vec![full_rule()]),
        extra: Map::new(),
    }
}

#[test]
fn fully_populated_values_cover_every_schema_property_and_validate() {
    let group = to_json(&full_group());
    assert_eq!(keys(&group), schema_properties("Group"));
    assert_valid("Group", &group);

    let policy = to_json(&full_policy());
    assert_eq!(keys(&policy), schema_properties("SecurityPolicy"));
    assert_valid("SecurityPolicy", &policy);
    let rule = &policy["rules"][0];
    assert_eq!(keys(rule), schema_properties("Rule"));
    assert_valid("Rule", rule);
    assert_eq!(
        keys(&policy["application_connectivity_strategy"][0]),
        schema_properties("ApplicationConnectivityStrategy")
    );

    let service = to_json(&full_service());
    assert_eq!(keys(&service), schema_properties("Service"));
    assert_valid("Service", &service);

    for expression in group["expression"].as_array().unwrap() {
        let model = expression["resource_type"].as_str().unwrap();
        assert_eq!(keys(expression), schema_properties(model), "{model}");
        assert_valid("Expression", expression);
    }
    assert_eq!(
        keys(&group["expression"][0]["exclude"]),
        schema_properties("ExcludedMembersList")
    );
    for entry in service["service_entries"].as_array().unwrap() {
        let model = entry["resource_type"].as_str().unwrap();
        assert_eq!(keys(entry), schema_properties(model), "{model}");
        assert_valid("ServiceEntry", entry);
    }

    // And reading them back gives the same values.
    assert_eq!(
        serde_json::from_value::<Group>(group).unwrap(),
        full_group()
    );
    assert_eq!(
        serde_json::from_value::<SecurityPolicy>(policy).unwrap(),
        full_policy()
    );
    assert_eq!(
        serde_json::from_value::<Service>(service).unwrap(),
        full_service()
    );
}

fn optional<T: std::fmt::Debug + Clone + 'static>(
    strategy: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    prop_oneof![Just(None), strategy.prop_map(Some)].boxed()
}

fn words() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9/|._-]{0,12}"
}

fn rule_strategy() -> impl Strategy<Value = Rule> {
    let action = prop_oneof![
        Just(RuleAction::Allow),
        Just(RuleAction::Drop),
        Just(RuleAction::Reject),
        Just(RuleAction::JumpToApplication)
    ];
    let direction = prop_oneof![
        Just(RuleDirection::In),
        Just(RuleDirection::Out),
        Just(RuleDirection::InOut)
    ];
    let ip_protocol = prop_oneof![
        Just(IpProtocol::Ipv4),
        Just(IpProtocol::Ipv6),
        Just(IpProtocol::Ipv4Ipv6)
    ];
    (
        (
            optional(action),
            optional(direction),
            optional(ip_protocol),
            optional(any::<bool>()),
            optional(any::<bool>()),
            optional(0i64..1_000_000),
        ),
        (
            optional(prop::collection::vec(words(), 0..3)),
            optional(prop::collection::vec(words(), 0..3)),
            optional(prop::collection::vec(words(), 0..3)),
            optional(words()),
            optional(1000i64..100_000),
        ),
    )
        .prop_map(
            |(
                (action, direction, ip_protocol, logged, disabled, sequence_number),
                (source_groups, destination_groups, services, tag, rule_id),
            )| Rule {
                resource_type: Some("Rule".into()),
                action,
                direction,
                ip_protocol,
                logged,
                disabled,
                sequence_number,
                source_groups,
                destination_groups,
                services,
                tag,
                rule_id,
                ..Rule::default()
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn generated_rules_validate_and_round_trip(rule in rule_strategy()) {
        let value = to_json(&rule);
        prop_assert!(problems("Rule", &value).is_empty(), "{value}");
        prop_assert_eq!(serde_json::from_value::<Rule>(value).unwrap(), rule);
    }
}
