//! CCP translation at scale: 10,000 rules in 2,000 policies over 5,000 groups, then planning
//! against an empty cluster and against an identical observed set, and realization.
//!
//! `cargo bench -p adapter-core --bench translate` prints the numbers (no timed assertions).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use adapter_core::ccp::plan::apply;
use adapter_core::ccp::{
    ClusterIdentity, NsxIdentity, NsxKind, ObjectSchemas, ObservedState, RealizationInput, Span,
    TranslateOptions, Translator, Verdict, plan, realize,
};
use antrea_types::group::{GroupCondition, GroupConditionType, GroupStatus};
use antrea_types::policy::{ConditionStatus, NetworkPolicyPhase, NetworkPolicyStatus};
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

const GROUPS: usize = 5_000;
const POLICIES: usize = 2_000;
const RULES_PER_POLICY: usize = 5;
const SERVICES: usize = 50;
const D: &str = "/infra/domains/default";
const ACTIONS: [&str; 3] = ["ALLOW", "DROP", "REJECT"];
const CATEGORIES: [&str; 4] = ["Emergency", "Infrastructure", "Environment", "Application"];

fn group(index: usize) -> Value {
    let path = format!("{D}/groups/group-{index}");
    let condition = |member: &str, key: &str, value: String| json!({"resource_type": "Condition", "member_type": member, "key": key, "operator": "EQUALS", "value": value});
    let or = json!({"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"});
    let expression = match index % 4 {
        0 => json!([condition("Pod", "Tag", format!("app|app-{index}"))]),
        1 => json!([{"resource_type": "NestedExpression", "expressions": [
            condition("Pod", "Tag", format!("app|app-{index}")),
            {"resource_type": "ConjunctionOperator", "conjunction_operator": "AND"},
            condition("Namespace", "Name", format!("ns-{}", index % 100))]}]),
        2 => json!([
            condition("Pod", "Tag", format!("tier|t-{index}")),
            or,
            condition("Namespace", "Tag", format!("env|env-{}", index % 10))
        ]),
        _ => json!([{"resource_type": "IPAddressExpression",
                     "ip_addresses": [format!("10.{}.{}.0/24", index / 256 % 256, index % 256), format!("172.16.{}.1-172.16.{}.20", index % 256, index % 256)]}]),
    };
    json!({"resource_type": "Group", "id": format!("group-{index}"), "display_name": format!("group {index}"),
           "path": path, "unique_id": format!("00000000-0000-4000-8000-{index:012}"), "_revision": 1,
           "group_type": ["ANTREA"], "expression": expression})
}

fn service(index: usize) -> Value {
    json!({"resource_type": "Service", "id": format!("svc-{index}"), "path": format!("/infra/services/svc-{index}"),
           "unique_id": format!("10000000-0000-4000-8000-{index:012}"), "_revision": 1,
           "service_entries": [
               {"resource_type": "L4PortSetServiceEntry", "l4_protocol": "TCP", "destination_ports": [format!("{}", 1000 + index), "8000-8100"]},
               {"resource_type": "L4PortSetServiceEntry", "l4_protocol": "UDP", "destination_ports": [format!("{}", 2000 + index)]}]})
}

fn policy(index: usize) -> Value {
    // Pod groups only for applied-to (indexes ≡ 0, 1, 2 mod 4); any group as a peer.
    let pod_group = |n: usize| format!("{D}/groups/group-{}", (n * 4 + index % 3) % GROUPS);
    let any_group = |n: usize| format!("{D}/groups/group-{}", n % GROUPS);
    let rules: Vec<Value> = (0..RULES_PER_POLICY)
        .map(|r| {
            let id = index * RULES_PER_POLICY + r;
            let (sources, destinations, direction) = if r % 2 == 0 {
                (json!([any_group(id * 7)]), json!(["ANY"]), "IN")
            } else {
                (json!(["ANY"]), json!([any_group(id * 13)]), "OUT")
            };
            json!({"resource_type": "Rule", "id": format!("rule-{id}"), "rule_id": 10_000 + id, "sequence_number": r,
                   "source_groups": sources, "destination_groups": destinations,
                   "services": [format!("/infra/services/svc-{}", id % SERVICES)], "scope": ["ANY"],
                   "action": ACTIONS[id % 3], "direction": direction, "logged": id.is_multiple_of(5)})
        })
        .collect();
    json!({"resource_type": "SecurityPolicy", "id": format!("policy-{index}"), "path": format!("{D}/security-policies/policy-{index}"),
           "unique_id": format!("20000000-0000-4000-8000-{index:012}"), "_revision": 1,
           "category": CATEGORIES[index % 4],
           "sequence_number": index * 10, "stateful": true, "tcp_strict": true,
           "scope": [pod_group(index)], "rules": rules})
}

fn timed<T>(label: &str, f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = f();
    let elapsed = start.elapsed();
    println!("{label:<58} {:>10.1} ms", elapsed.as_secs_f64() * 1000.0);
    (value, elapsed)
}

fn main() {
    let documents: Vec<Value> = (0..GROUPS)
        .map(group)
        .chain((0..SERVICES).map(service))
        .chain((0..POLICIES).map(policy))
        .collect();
    // As the control plane delivers them: an envelope identity and the document's bytes.
    let envelopes: Vec<(NsxKind, NsxIdentity, Vec<u8>)> = documents
        .iter()
        .map(|document| {
            let kind = match document["resource_type"].as_str() {
                Some("Group") => NsxKind::Group,
                Some("Service") => NsxKind::Service,
                _ => NsxKind::SecurityPolicy,
            };
            let id = NsxIdentity::new(
                document["path"].as_str().unwrap_or_default(),
                document["unique_id"].as_str().unwrap_or_default(),
                document["_revision"].as_i64().unwrap_or_default(),
            );
            (kind, id, serde_json::to_vec(document).unwrap_or_default())
        })
        .collect();
    println!(
        "span: {GROUPS} groups, {SERVICES} services, {POLICIES} policies, {} rules, {} KiB of NSX JSON",
        POLICIES * RULES_PER_POLICY,
        envelopes
            .iter()
            .map(|(_, _, bytes)| bytes.len())
            .sum::<usize>()
            / 1024
    );

    let (span, _) = timed("parse the documents into the span", || {
        let mut span = Span::default();
        for (kind, id, bytes) in &envelopes {
            span.upsert(*kind, id.clone(), bytes);
        }
        span
    });
    let schemas = ObjectSchemas::builtin().expect("schemas");
    let identity = ClusterIdentity::new("cluster-bench");
    let translator = Translator::new(identity.clone(), TranslateOptions::default(), schemas);

    let (translation, first) = timed("translate (cold)", || translator.translate(&span));
    let (_, second) = timed("translate (again)", || translator.translate(&span));
    let refused: Vec<&Verdict> = translation
        .verdicts
        .iter()
        .filter(|v| !v.errors().is_empty())
        .collect();
    println!(
        "desired: {} tiers, {} cluster groups, {} policies; {} verdicts, {} refused",
        translation.desired.tiers.len(),
        translation.desired.cluster_groups.len(),
        translation.desired.cluster_network_policies.len(),
        translation.verdicts.len(),
        refused.len()
    );
    if let Some(verdict) = refused.first() {
        println!(
            "  first refusal: {} {:?}",
            verdict.id.path,
            verdict.errors()[0]
        );
    }
    let rules = (POLICIES * RULES_PER_POLICY) as f64;
    println!(
        "  per rule: {:.1} µs (cold), {:.1} µs (again)",
        first.as_secs_f64() * 1e6 / rules,
        second.as_secs_f64() * 1e6 / rules
    );

    let checker = ObjectSchemas::builtin().expect("schemas");
    let objects: Vec<_> = translation.desired.objects().collect();
    timed(
        "  for scale: an uncached CRD-schema check of every object",
        || {
            objects
                .iter()
                .filter(|object| checker.check(object).is_ok())
                .count()
        },
    );

    let (create_plan, _) = timed("plan against an empty cluster", || {
        plan(&translation.desired, &ObservedState::default(), &identity)
    });
    println!("  {:?} creates/updates/deletes", create_plan.counts());
    let mut observed = apply(&create_plan, &ObservedState::default());
    let (noop, _) = timed("plan against an identical observed set", || {
        plan(&translation.desired, &observed, &identity)
    });
    assert!(noop.is_empty(), "an identical observed set needs no writes");
    println!("  {:?} creates/updates/deletes", noop.counts());

    let now = Timestamp::from_second(1_800_000_000).unwrap();
    for group in &mut observed.cluster_groups {
        group.status = Some(GroupStatus {
            conditions: Some(vec![GroupCondition {
                type_: GroupConditionType::GroupMembersComputed,
                status: ConditionStatus::True,
                reason: None,
                message: None,
                last_transition_time: None,
            }]),
        });
    }
    for policy in &mut observed.cluster_network_policies {
        policy.metadata.generation = Some(1);
        policy.status = Some(NetworkPolicyStatus {
            phase: Some(NetworkPolicyPhase::Realized),
            observed_generation: Some(1),
            current_nodes_realized: Some(10),
            desired_nodes_realized: Some(10),
            conditions: None,
        });
    }
    let (realizations, _) = timed("realize every policy and group", || {
        realize(&RealizationInput {
            translation: &translation,
            observed: &observed,
            write_failures: &BTreeMap::new(),
            applied_at: &BTreeMap::new(),
            now,
            timeout: Duration::from_secs(60),
        })
    });
    let successes = realizations
        .iter()
        .filter(|r| r.state == adapter_core::ccp::RealizationState::Success)
        .count();
    println!("  {successes} of {} SUCCESS", realizations.len());
}
