//! Properties of the CCP translation over generated NSX spans: determinism, every output
//! valid against Antrea's real CRD schemas and the admission port, verdicts consistent with
//! the desired state, plans that converge from any observed state and never touch foreign
//! objects, and priorities that keep NSX order under inserts with few rewrites.

mod ccp_support;
use ccp_support as support;

use std::collections::{BTreeMap, BTreeSet};

use adapter_core::ccp::naming::{MANAGED_BY_LABEL, NSX_PATH_ANNOTATION};
use adapter_core::ccp::plan::apply;
use adapter_core::ccp::priority::{Placement, allocate};
use adapter_core::ccp::{
    AntreaObject, IpFamilies, NsxKind, ObservedState, Outcome, Span, TranslateOptions, plan,
};
use proptest::prelude::*;
use serde_json::{Value, json};

/// A source of choices for building a span from generated numbers.
struct Tape {
    numbers: Vec<u32>,
    next: usize,
}

impl Tape {
    fn pick(&mut self, n: usize) -> usize {
        let value = self.numbers.get(self.next).copied().unwrap_or(0);
        self.next += 1;
        value as usize % n.max(1)
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.pick(100) < percent
    }

    fn one<'a>(&mut self, options: &[&'a str]) -> &'a str {
        options[self.pick(options.len())]
    }
}

const D: &str = "/infra/domains/default";

fn group_path(index: usize) -> String {
    format!("{D}/groups/g{index}")
}

fn condition(tape: &mut Tape, groups: usize) -> Value {
    let good_tag = |tape: &mut Tape| {
        format!(
            "{}|{}",
            tape.one(&["app", "tier", "dis:k8s:env"]),
            tape.one(&["web", "db", "", "api"])
        )
    };
    let cond = |member: &str, key: &str, operator: &str, value: String| json!({"resource_type": "Condition", "member_type": member, "key": key, "operator": operator, "value": value});
    match tape.pick(20) {
        0..=7 => {
            let operator = tape.one(&["EQUALS", "NOTEQUALS", "EQUALS"]);
            cond("Pod", "Tag", operator, good_tag(tape))
        }
        8 | 9 => cond(
            "Namespace",
            "Name",
            "EQUALS",
            tape.one(&["prod", "Dev"]).to_owned(),
        ),
        10 | 11 => cond("Namespace", "Tag", "EQUALS", good_tag(tape)),
        12 => json!({"resource_type": "NestedExpression", "expressions": [
            cond("Service", "Name", "EQUALS", "cache".into()),
            {"resource_type": "ConjunctionOperator", "conjunction_operator": "AND"},
            cond("Namespace", "Name", "EQUALS", "db".into())]}),
        13 | 14 => {
            let a = tape.pick(250);
            json!({"resource_type": "IPAddressExpression",
                   "ip_addresses": [format!("10.{a}.0.0/16"), format!("192.168.{a}.1-192.168.{a}.{}", 1 + tape.pick(250)), "fd00::1"]})
        }
        // Mostly groups defined before (no cycle), sometimes any group (cycles possible).
        15 | 16 if groups > 0 => {
            let target = if tape.chance(80) {
                tape.pick(groups)
            } else {
                tape.pick(groups + 3)
            };
            json!({"resource_type": "PathExpression", "paths": [group_path(target)]})
        }
        17 => {
            let value = tape
                .one(&["bad key|web", "app|x y", "web", "|web"])
                .to_owned();
            cond("Pod", "Tag", "EQUALS", value)
        }
        18 => cond("Pod", "Tag", "CONTAINS", good_tag(tape)),
        19 => {
            json!({"resource_type": "MACAddressExpression", "mac_addresses": ["00:50:56:aa:bb:cc"]})
        }
        _ => cond("Pod", "Tag", "EQUALS", "app|web".into()),
    }
}

fn group(tape: &mut Tape, index: usize) -> Value {
    let mut expression = vec![condition(tape, index)];
    for _ in 0..tape.pick(2) {
        expression.push(json!({"resource_type": "ConjunctionOperator",
                               "conjunction_operator": tape.one(&["OR", "OR", "OR", "AND"])}));
        expression.push(condition(tape, index));
    }
    let path = group_path(index);
    let group_type = if tape.chance(95) {
        json!(["ANTREA"])
    } else {
        json!([])
    };
    json!({"resource_type": "Group", "id": format!("g{index}"), "path": path, "unique_id": format!("ug{index}"),
           "_revision": 1, "group_type": group_type, "expression": expression})
}

fn service_entry(tape: &mut Tape) -> Value {
    match tape.pick(14) {
        0..=5 => {
            json!({"resource_type": "L4PortSetServiceEntry", "l4_protocol": tape.one(&["TCP", "UDP"]),
                        "destination_ports": [format!("{}", 1 + tape.pick(1000)), "8000-8080"]})
        }
        6 => {
            json!({"resource_type": "ICMPTypeServiceEntry", "protocol": tape.one(&["ICMPv4", "ICMPv6"]), "icmp_type": 8, "icmp_code": 0})
        }
        7 => {
            let number = [6, 17, 1, 58, 47][tape.pick(5)];
            json!({"resource_type": "IPProtocolServiceEntry", "protocol_number": number})
        }
        8 => {
            json!({"resource_type": "L4PortSetServiceEntry", "l4_protocol": "TCP", "destination_ports": ["22"], "source_ports": ["1024"]})
        }
        9 => {
            json!({"resource_type": "NestedServiceServiceEntry", "nested_service_path": format!("/infra/services/s{}", tape.pick(3))})
        }
        10 => {
            json!({"resource_type": "ICMPTypeServiceEntry", "protocol": "ICMPv4", "icmp_type": 3})
        }
        11 => json!({"resource_type": "IGMPTypeServiceEntry"}),
        _ => {
            json!({"resource_type": "L4PortSetServiceEntry", "l4_protocol": "UDP", "destination_ports": ["53"]})
        }
    }
}

fn peers(tape: &mut Tape, groups: usize) -> Value {
    match tape.pick(6) {
        0..=3 => json!([group_path(tape.pick(groups))]),
        4 => json!([group_path(tape.pick(groups)), "10.1.2.3"]),
        _ => json!(["10.1.2.3", "10.9.0.0/24", "fd00::1"]),
    }
}

fn rule(tape: &mut Tape, rule_id: usize, groups: usize) -> Value {
    let (source_groups, destination_groups, direction) = match tape.pick(10) {
        0..=2 => (
            json!(["ANY"]),
            json!(["ANY"]),
            tape.one(&["IN", "OUT", "IN_OUT"]),
        ),
        3..=5 => (
            peers(tape, groups),
            json!(["ANY"]),
            tape.one(&["IN", "IN_OUT", "IN", "OUT"]),
        ),
        6..=8 => (
            json!(["ANY"]),
            peers(tape, groups),
            tape.one(&["OUT", "IN_OUT", "OUT", "IN"]),
        ),
        _ => (peers(tape, groups), peers(tape, groups), "IN_OUT"),
    };
    let services = if tape.chance(60) {
        json!(["ANY"])
    } else {
        json!([format!("/infra/services/s{}", tape.pick(3))])
    };
    let scope = if tape.chance(70) {
        json!(["ANY"])
    } else {
        json!([group_path(tape.pick(groups))])
    };
    json!({"resource_type": "Rule", "id": format!("r{rule_id}"), "rule_id": rule_id,
           "sequence_number": tape.pick(5), "source_groups": source_groups, "destination_groups": destination_groups,
           "services": services, "scope": scope,
           "action": tape.one(&["ALLOW", "DROP", "REJECT", "ALLOW", "DROP", "ALLOW", "JUMP_TO_APPLICATION"]),
           "direction": direction,
           "ip_protocol": tape.one(&["IPV4_IPV6", "IPV4_IPV6", "IPV4_IPV6", "IPV4_IPV6", "IPV4", "IPV6"]),
           "logged": tape.chance(30), "disabled": tape.chance(10), "tag": tape.one(&["", "web", "a b c"]),
           "sources_excluded": tape.chance(3)})
}

fn span_documents(numbers: Vec<u32>) -> (Vec<Value>, IpFamilies) {
    let mut tape = Tape { numbers, next: 0 };
    let groups = 1 + tape.pick(6);
    let mut documents: Vec<Value> = (0..groups).map(|index| group(&mut tape, index)).collect();
    for index in 0..3 {
        let entries: Vec<Value> = (0..1 + tape.pick(2))
            .map(|_| service_entry(&mut tape))
            .collect();
        documents.push(json!({"resource_type": "Service", "id": format!("s{index}"), "path": format!("/infra/services/s{index}"),
                              "unique_id": format!("us{index}"), "_revision": 1, "service_entries": entries}));
    }
    let mut rule_id = 1000;
    for index in 0..1 + tape.pick(5) {
        let rules: Vec<Value> = (0..tape.pick(4))
            .map(|_| {
                rule_id += 1;
                rule(&mut tape, rule_id, groups)
            })
            .collect();
        let scope = if tape.chance(70) {
            json!(["ANY"])
        } else {
            json!([group_path(tape.pick(groups))])
        };
        documents.push(json!({"resource_type": "SecurityPolicy", "id": format!("p{index}"),
            "path": format!("{D}/security-policies/p{index}"), "unique_id": format!("up{index}"), "_revision": 1,
            "category": tape.one(&["Application", "Application", "Environment", "Emergency", "Infrastructure", "Application", "Environment", "Ethernet"]),
            "sequence_number": tape.pick(4), "stateful": true, "scope": scope, "rules": rules}));
    }
    let families = [
        IpFamilies::DualStack,
        IpFamilies::DualStack,
        IpFamilies::Ipv4Only,
        IpFamilies::Ipv6Only,
    ][tape.pick(4)];
    (documents, families)
}

fn tape() -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(any::<u32>(), 400)
}

fn owned_paths(object: &AntreaObject) -> Option<&String> {
    object.meta().annotations.as_ref()?.get(NSX_PATH_ANNOTATION)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn translation_is_deterministic_valid_and_consistent(numbers in tape()) {
        let (documents, ip_families) = span_documents(numbers);
        let (span, skipped) = Span::from_documents(documents.clone());
        prop_assert!(skipped.is_empty());
        let translator = support::translator(TranslateOptions { ip_families });
        let translation = translator.translate(&span);

        // Deterministic, whatever the order the documents came in.
        let (reversed, _) = Span::from_documents(documents.into_iter().rev());
        prop_assert_eq!(&translator.translate(&reversed), &translation);

        // Every object passes the real CRD schemas and Antrea's admission, independently.
        let problems = support::independent_problems(&translation.desired);
        prop_assert!(problems.is_empty(), "{:#?}", problems);

        // Verdicts and desired state agree: what is translated is there, what is refused is not.
        let desired = translation.desired.index();
        let mut needed = BTreeSet::new();
        for verdict in &translation.verdicts {
            match &verdict.outcome {
                Outcome::Translated { objects } => {
                    for key in objects {
                        prop_assert!(desired.contains_key(key), "{} needs missing {}", verdict.id.path, key);
                        needed.insert(key.clone());
                    }
                }
                Outcome::Refused { errors } => {
                    prop_assert!(!errors.is_empty());
                    prop_assert!(
                        !desired.values().any(|o| owned_paths(o) == Some(&verdict.id.path)),
                        "refused {} has objects", verdict.id.path
                    );
                }
            }
        }
        for (key, object) in &desired {
            prop_assert!(needed.contains(key) || matches!(object, AntreaObject::Tier(_)), "{} is needed by nothing", key);
        }
        prop_assert_eq!(
            translation.verdicts.iter().filter(|v| v.kind == NsxKind::SecurityPolicy).count(),
            span.policies.len()
        );

        // A plan from nothing, applied, leaves nothing to do.
        let identity = support::identity();
        let first = plan(&translation.desired, &ObservedState::default(), &identity);
        let after = apply(&first, &ObservedState::default());
        prop_assert!(plan(&translation.desired, &after, &identity).is_empty());
    }

    #[test]
    fn plans_converge_from_any_observed_state_and_keep_foreign_objects(numbers in tape(), edits in prop::collection::vec(any::<u8>(), 64)) {
        let (documents, ip_families) = span_documents(numbers);
        let (span, _) = Span::from_documents(documents);
        let translator = support::translator(TranslateOptions { ip_families });
        let desired = translator.translate(&span).desired;
        let identity = support::identity();

        // Observed: some desired objects (some edited by hand), some stale ones of ours, and
        // foreign objects (one squatting a desired name).
        let mut observed = ObservedState::default();
        let mut edits = edits.into_iter().cycle();
        for object in desired.objects() {
            match edits.next().unwrap_or(0) % 4 {
                0 => {}
                1 => observed.push(object),
                2 => {
                    let mut object = object;
                    if let AntreaObject::ClusterNetworkPolicy(policy) = &mut object {
                        policy.spec.priority += 1.0;
                    }
                    if let AntreaObject::ClusterGroup(group) = &mut object {
                        group.spec.child_groups = Some(vec!["hand-made".into()]);
                    }
                    observed.push(object);
                }
                _ => {
                    let mut stale = object;
                    match &mut stale {
                        AntreaObject::Tier(tier) => tier.metadata.name = Some("nsx-category-retired".into()),
                        AntreaObject::ClusterGroup(group) => group.metadata.name = Some(format!("{}-old", group.metadata.name.clone().unwrap())),
                        AntreaObject::ClusterNetworkPolicy(policy) => policy.metadata.name = Some(format!("{}-old", policy.metadata.name.clone().unwrap())),
                    }
                    observed.push(stale);
                }
            }
        }
        let mut foreign = desired.cluster_network_policies.first().cloned();
        if let Some(policy) = foreign.as_mut() {
            policy.metadata.labels = Some([(MANAGED_BY_LABEL.to_owned(), "someone-else".to_owned())].into());
            observed.cluster_network_policies.retain(|p| p.metadata.name != policy.metadata.name);
            observed.cluster_network_policies.push(policy.clone());
        }
        observed.sort();

        let first = plan(&desired, &observed, &identity);
        let after = apply(&first, &observed);
        let second = plan(&desired, &after, &identity);
        prop_assert!(second.actions.is_empty(), "{:?}", second.actions);
        prop_assert_eq!(&second.conflicts, &first.conflicts);
        if let Some(policy) = foreign {
            // Untouched, and reported as a conflict.
            prop_assert!(after.cluster_network_policies.contains(&policy));
            prop_assert!(first.conflicts.iter().any(|c| Some(&c.key.name) == policy.metadata.name.as_ref()));
        }
        // Nothing but the foreign object and the desired state is left.
        let left: BTreeSet<_> = after.index().into_keys().collect();
        let wanted: BTreeSet<_> = desired.index().into_keys().collect();
        prop_assert_eq!(left, wanted);
    }

    #[test]
    fn incremental_translation_equals_a_full_one_after_any_edits(
        base in tape(),
        other in tape(),
        third in tape(),
        edits in prop::collection::vec((0u8..6, any::<u16>()), 1..14),
    ) {
        let (documents, ip_families) = span_documents(base);
        let options = TranslateOptions { ip_families };
        // Other documents for the same paths (and more), to edit with.
        let pool: Vec<Value> = span_documents(other).0.into_iter().chain(span_documents(third).0).collect();
        let path_of = |document: &Value| document["path"].as_str().unwrap_or_default().to_owned();
        let mut current: BTreeMap<String, Value> = documents.into_iter().map(|d| (path_of(&d), d)).collect();
        let incremental = support::translator(options);
        prop_assert_eq!(
            incremental.translate(&Span::from_documents(current.values().cloned()).0),
            support::translator(options).translate(&Span::from_documents(current.values().cloned()).0)
        );
        for (operation, pick) in edits {
            let pick = usize::from(pick);
            let paths: Vec<String> = current.keys().cloned().collect();
            let chosen = paths.get(pick % paths.len().max(1)).cloned();
            match (operation, chosen) {
                // Another document for an existing path (same identity and revision).
                (0 | 1, Some(path)) => {
                    if let Some(document) = pool.iter().find(|d| path_of(d) == path) {
                        current.insert(path, document.clone());
                    }
                }
                (2, Some(path)) => {
                    current.remove(&path);
                }
                // A new revision with a new display name, or a re-created object.
                (3, Some(path)) => {
                    if let Some(document) = current.get_mut(&path) {
                        let revision = document["_revision"].as_i64().unwrap_or(0);
                        document["_revision"] = json!(revision + 1);
                        document["display_name"] = json!(format!("renamed {pick}"));
                    }
                }
                (4, Some(path)) => {
                    if let Some(document) = current.get_mut(&path) {
                        document["unique_id"] = json!(format!("recreated-{pick}"));
                    }
                }
                // Any pool document, added or replacing.
                _ => {
                    if let Some(document) = pool.get(pick % pool.len().max(1)) {
                        current.insert(path_of(document), document.clone());
                    }
                }
            }
            let (span, _) = Span::from_documents(current.values().cloned());
            let full = support::translator(options).translate(&span);
            prop_assert_eq!(incremental.translate(&span), full);
        }
    }

    #[test]
    fn priorities_keep_nsx_order_under_inserts_with_few_rewrites(inserts in prop::collection::vec((0i64..40, 0u32..1000), 1..16)) {
        let translator = support::translator(TranslateOptions::default());
        let mut documents: Vec<Value> = Vec::new();
        let mut previous: BTreeMap<String, f64> = BTreeMap::new();
        let mut total_rewrites = 0;
        for (step, (sequence_number, salt)) in inserts.iter().enumerate() {
            let id = format!("p{salt}-{step}");
            documents.push(json!({"resource_type": "SecurityPolicy", "id": id, "path": format!("{D}/security-policies/{id}"),
                "unique_id": format!("u-{id}"), "_revision": 1, "category": "Application", "sequence_number": sequence_number,
                "rules": []}));
            let (span, _) = Span::from_documents(documents.clone());
            let translation = translator.translate(&span);
            let priorities: BTreeMap<String, f64> = translation.desired.cluster_network_policies.iter()
                .map(|p| (p.metadata.annotations.as_ref().unwrap()[NSX_PATH_ANNOTATION].clone(), p.spec.priority))
                .collect();
            // NSX order (sequence number, then path) is priority order, strictly.
            let mut order: Vec<(i64, &String)> = documents.iter()
                .map(|d| (d["sequence_number"].as_i64().unwrap(), priorities.keys().find(|p| **p == d["path"].as_str().unwrap()).unwrap()))
                .collect();
            order.sort();
            for pair in order.windows(2) {
                prop_assert!(priorities[pair[0].1] < priorities[pair[1].1]);
            }
            for priority in priorities.values() {
                prop_assert!((1.0..=10000.0).contains(priority));
            }
            // Only policies sharing the new policy's sequence number may move.
            for (path, priority) in &previous {
                if priorities[path] != *priority {
                    total_rewrites += 1;
                    let document = documents.iter().find(|d| d["path"] == json!(path)).unwrap();
                    prop_assert_eq!(document["sequence_number"].as_i64(), Some(*sequence_number));
                }
            }
            previous = priorities;
        }
        prop_assert!(total_rewrites <= inserts.len() * inserts.len());
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn allocation_rewrites_only_the_tie_group_at_scale(inserts in prop::collection::vec(0i64..1_000_000, 1..250)) {
        let mut paths: Vec<(i64, String)> = Vec::new();
        let mut previous: BTreeMap<String, f64> = BTreeMap::new();
        let mut rewrites = 0usize;
        for (step, sequence_number) in inserts.iter().enumerate() {
            paths.push((*sequence_number, format!("/p/{:08x}", (step as u64).wrapping_mul(0x9e37_79b9) as u32)));
            let priorities: BTreeMap<String, f64> = allocate(paths.iter().map(|(sequence_number, path)| Placement {
                tier: "t",
                sequence_number: *sequence_number,
                path,
            }))
            .into_iter()
            .map(|(path, priority)| (path.to_owned(), priority.unwrap()))
            .collect();
            let mut order = paths.clone();
            order.sort();
            for pair in order.windows(2) {
                prop_assert!(priorities[&pair[0].1] < priorities[&pair[1].1]);
            }
            for (path, priority) in &previous {
                if priorities[path] != *priority {
                    rewrites += 1;
                    prop_assert!(paths.iter().any(|(s, p)| p == path && s == sequence_number));
                }
            }
            previous = priorities;
        }
        // With sequence numbers spread over 0..1e6, ties (and so rewrites) are rare.
        prop_assert!(rewrites <= inserts.len() / 4 + 1, "{} rewrites for {} inserts", rewrites, inserts.len());
    }
}
