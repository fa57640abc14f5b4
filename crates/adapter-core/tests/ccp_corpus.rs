//! The golden corpus: each `tests/corpus/<case>/input.json` is an NSX span (policies, groups,
//! services as NSX documents) with a description of what it proves; `output.snap` beside it is
//! the reviewed translation (verdicts, ClusterGroups, ClusterNetworkPolicies). Every case also
//! checks, independently of the translator, that each produced object passes Antrea's real
//! CRD schemas and the admission port, that translation is deterministic (also with the input
//! in reverse order), and that a plan applied once leaves nothing to do.

mod ccp_support;
use ccp_support as support;

use std::path::{Path, PathBuf};

use adapter_core::ccp::plan::apply;
use adapter_core::ccp::{
    DesiredState, IpFamilies, ObservedState, Outcome, Span, TranslateOptions, Translation, plan,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
struct CorpusCase {
    description: String,
    objects: Vec<Value>,
    #[serde(default)]
    ip_families: IpFamilies,
    /// `"full"`: render whole objects (metadata included), else name and spec.
    #[serde(default)]
    render: Option<String>,
    #[serde(default)]
    render_tiers: bool,
}

#[derive(Serialize)]
struct Rendered {
    description: String,
    verdicts: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tiers: Vec<Value>,
    cluster_groups: Vec<Value>,
    cluster_network_policies: Vec<Value>,
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn load(case: &str) -> CorpusCase {
    let path = corpus_dir().join(case).join("input.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("parsing {}: {error}", path.display()))
}

fn span_of(objects: impl IntoIterator<Item = Value>) -> Span {
    let (span, skipped) = Span::from_documents(objects);
    assert!(
        skipped.is_empty(),
        "documents without kind or path: {skipped:?}"
    );
    span
}

fn render_object<T: Serialize>(object: &T, full: bool) -> Value {
    let value = serde_json::to_value(object).expect("serializes");
    if full {
        value
    } else {
        json!({"name": value["metadata"]["name"], "spec": value["spec"]})
    }
}

fn render(case: &CorpusCase, translation: &Translation) -> Rendered {
    let full = case.render.as_deref() == Some("full");
    let verdicts = translation
        .verdicts
        .iter()
        .map(|verdict| match &verdict.outcome {
            Outcome::Translated { objects } => json!({
                "kind": verdict.kind,
                "path": verdict.id.path,
                "translated": objects.iter().map(|key| key.to_string()).collect::<Vec<_>>(),
            }),
            Outcome::Refused { errors } => json!({
                "kind": verdict.kind,
                "path": verdict.id.path,
                "refused": errors,
            }),
        })
        .collect();
    let desired = &translation.desired;
    Rendered {
        description: case.description.clone(),
        verdicts,
        tiers: if case.render_tiers || full {
            desired
                .tiers
                .iter()
                .map(|t| render_object(t, full))
                .collect()
        } else {
            Vec::new()
        },
        cluster_groups: desired
            .cluster_groups
            .iter()
            .map(|g| render_object(g, full))
            .collect(),
        cluster_network_policies: desired
            .cluster_network_policies
            .iter()
            .map(|p| render_object(p, full))
            .collect(),
    }
}

fn assert_converges(desired: &DesiredState) {
    let identity = support::identity();
    let first = plan(desired, &ObservedState::default(), &identity);
    assert!(first.conflicts.is_empty());
    assert_eq!(first.counts(), (desired.len(), 0, 0));
    let after = apply(&first, &ObservedState::default());
    let again = plan(desired, &after, &identity);
    assert!(again.is_empty(), "a second plan is not empty: {again:?}");
}

fn run(case_name: &str) {
    let case = load(case_name);
    let options = TranslateOptions {
        ip_families: case.ip_families,
    };
    let translator = support::translator(options);
    let translation = translator.translate(&span_of(case.objects.clone()));

    let problems = support::independent_problems(&translation.desired);
    assert!(problems.is_empty(), "{case_name}: {problems:#?}");

    let reversed = translator.translate(&span_of(case.objects.iter().rev().cloned()));
    assert_eq!(
        reversed, translation,
        "{case_name}: translation depends on input order"
    );
    assert_converges(&translation.desired);

    let snapshot_dir: &Path = &corpus_dir().join(case_name);
    insta::with_settings!({
        snapshot_path => snapshot_dir,
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_yaml_snapshot!("output", render(&case, &translation));
    });
}

macro_rules! corpus {
    ($($case:ident,)+) => {
        const CASES: &[&str] = &[$(stringify!($case)),+];
        $(
            #[test]
            fn $case() {
                run(stringify!($case));
            }
        )+
    };
}

corpus! {
    actions_allow_drop_reject,
    and_binds_tighter_than_or_and_nested_or_distributes,
    any_any_directions,
    cluster_control_plane_path_in_scope_is_a_span,
    connectivity_strategy_default_rule_refused,
    destinations_become_egress_rules,
    direction_contradicting_peers_refused,
    dis_k8s_scope_prefix_stripped,
    disabled_rules_left_out,
    empty_group_selects_nothing,
    ethernet_and_missing_category_refused,
    generic_group_refused_and_its_users,
    group_cycles_and_depth_refused,
    icmp_same_match_for_both_families,
    icmpv4_in_ipv4_only_cluster,
    icmpv4_only_refused_in_dual_stack,
    icmpv4_with_ipv4_rule_in_dual_stack,
    igmp_ether_alg_and_other_protocols_refused,
    invalid_documents_reported,
    invalid_label_keys_and_values_refused,
    ip_addresses_cidrs_and_ranges_decomposed,
    ip_group_in_applied_to_refused,
    ip_protocol_with_group_peers_refused,
    ipv6_rule_omitted_in_ipv4_only_cluster,
    jump_to_application_is_pass_without_application_policies,
    jump_to_application_outside_environment_refused,
    jump_to_application_refused_with_application_policies,
    l7_profiles_refused,
    literal_ip_peers_become_ip_blocks,
    logging_and_log_labels,
    many_policies_share_groups_and_services,
    missing_group_and_service_references,
    multicast_and_unicast_ips_refused_by_admission,
    namespace_name_uses_metadata_name_label_lowercased,
    naming_labels_and_annotations,
    negation_refused,
    nested_services_and_ip_protocol_numbers,
    one_bad_rule_withholds_the_whole_policy,
    or_across_criteria_becomes_child_groups,
    path_expression_groups_flattened_to_one_level,
    pod_and_namespace_conditions_anded_in_one_criterion,
    pod_tag_equals_ingress_from_group,
    pod_tag_notequals_and_empty_tag,
    policy_scope_wins_over_rule_scope,
    policy_without_enabled_rules_applies_to_all_pods,
    priorities_by_category_and_sequence_with_ties,
    raw_service_entries_on_rule,
    rule_scopes_pushed_to_every_rule,
    rules_ordered_by_sequence_number,
    scheduler_refused,
    service_name_with_namespace_name_is_service_reference,
    services_any_with_entries_refused,
    services_tcp_udp_ports_and_ranges,
    source_ports_refused,
    sources_and_destinations_both_set_refused,
    stateless_refused_tcp_strict_accepted,
    tiers_always_present_for_an_empty_span,
    unknown_fields_refused,
    unsupported_group_expressions,
}

#[test]
fn every_corpus_directory_is_a_test_case() {
    let mut found: Vec<String> = std::fs::read_dir(corpus_dir())
        .expect("corpus directory")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    found.sort();
    let mut listed: Vec<&str> = CASES.to_vec();
    listed.sort();
    assert_eq!(found, listed);
    assert!(CASES.len() >= 40);
}
