//! The validating webhook for ACNP and ANNP (`validate.go validatePolicy`, CREATE and UPDATE;
//! DELETE is always allowed). Checks run in Antrea's order and stop at the first failure;
//! the messages are Antrea's.

use std::collections::HashSet;
use std::sync::LazyLock;

use antrea_types::policy::{
    AppliedTo, NetworkPolicyPeer, PeerNamespaces, Protocol, Rule, RuleAction,
};
use antrea_types::tier::{BASELINE_TIER_NAME, SYSTEM_TIERS};
use antrea_types::{ClusterNetworkPolicySpec, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use regex::Regex;

use crate::context::AdmissionContext;
use crate::labels::{label_value_errors, qualified_name_errors};
use crate::net::{display_ip, is_multicast, parse_cidr, parse_ip};
use crate::{Admitted, Denial};

/// Characters allowed in `fqdn` (`allowedFQDNChars`).
static ALLOWED_FQDN_CHARS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("^[-0-9a-zA-Z.*]+$").unwrap_or_else(|error| panic!("constant pattern: {error}"))
});

/// Longest `logLabel` that fits the iptables prefix of Node policies.
const NODE_POLICY_LOG_LABEL_LIMIT: usize = 12;

/// The parts of an ACNP or ANNP spec the validator reads.
#[derive(Debug, Clone, Copy)]
pub struct PolicyView<'a> {
    pub tier: &'a str,
    pub applied_to: &'a [AppliedTo],
    pub ingress: &'a [Rule],
    pub egress: &'a [Rule],
}

impl<'a> PolicyView<'a> {
    pub fn of_cluster_network_policy(spec: &'a ClusterNetworkPolicySpec) -> Self {
        Self {
            tier: spec.tier.as_deref().unwrap_or_default(),
            applied_to: spec.applied_to.as_deref().unwrap_or_default(),
            ingress: spec.ingress.as_deref().unwrap_or_default(),
            egress: spec.egress.as_deref().unwrap_or_default(),
        }
    }

    pub fn of_network_policy(spec: &'a NetworkPolicySpec) -> Self {
        Self {
            tier: spec.tier.as_deref().unwrap_or_default(),
            applied_to: spec.applied_to.as_deref().unwrap_or_default(),
            ingress: spec.ingress.as_deref().unwrap_or_default(),
            egress: spec.egress.as_deref().unwrap_or_default(),
        }
    }
}

/// Validates an ACNP on CREATE or UPDATE.
pub fn validate_cluster_network_policy(
    spec: &ClusterNetworkPolicySpec,
    context: &dyn AdmissionContext,
) -> Result<Admitted, Denial> {
    validate_policy(PolicyView::of_cluster_network_policy(spec), context)
}

/// Validates an ANNP on CREATE or UPDATE.
pub fn validate_network_policy(
    spec: &NetworkPolicySpec,
    context: &dyn AdmissionContext,
) -> Result<Admitted, Denial> {
    validate_policy(PolicyView::of_network_policy(spec), context)
}

/// `validatePolicy`: every check, in Antrea's order.
pub fn validate_policy(
    policy: PolicyView<'_>,
    context: &dyn AdmissionContext,
) -> Result<Admitted, Denial> {
    tier_exists(policy.tier, context)?;
    no_pass_in_baseline(policy.tier, policy.ingress, policy.egress)?;
    if !rule_names_unique(policy.ingress, policy.egress) {
        return Err(Denial::new("rules names must be unique within the policy"));
    }
    applied_to(policy.ingress, policy.egress, policy.applied_to)?;
    peers(policy.ingress, policy.egress)?;
    applied_to_service_ingress_peers(policy.applied_to, policy.ingress)?;
    fqdn_selectors(policy.egress)?;
    egress_multicast_addresses(policy.egress)?;
    multicast_igmp(policy.ingress, policy.egress)?;
    l7_protocols(
        policy.ingress,
        policy.egress,
        context.feature_gates().l7_network_policy,
    )?;
    ports(policy.ingress, policy.egress)?;
    Ok(Admitted {
        warnings: log_label_warnings(policy.applied_to, policy.ingress, policy.egress),
    })
}

fn tier_exists(tier: &str, context: &dyn AdmissionContext) -> Result<(), Denial> {
    let static_name = SYSTEM_TIERS.iter().any(|system| system.legacy_name == tier);
    if tier.is_empty() || static_name || context.tier_exists(tier) {
        Ok(())
    } else {
        Err(Denial::new(format!("tier {tier} does not exist")))
    }
}

fn no_pass_in_baseline(tier: &str, ingress: &[Rule], egress: &[Rule]) -> Result<(), Denial> {
    if tier.to_lowercase() == BASELINE_TIER_NAME
        && ingress
            .iter()
            .chain(egress)
            .any(|rule| rule.action == RuleAction::Pass)
    {
        return Err(Denial::new(
            "`Pass` action should not be set for Baseline Tier policy rules",
        ));
    }
    Ok(())
}

/// Names must be unique across ingress and egress; an absent name counts as `""`.
fn rule_names_unique(ingress: &[Rule], egress: &[Rule]) -> bool {
    let mut seen = HashSet::new();
    ingress
        .iter()
        .chain(egress)
        .all(|rule| seen.insert(rule.name.as_deref().unwrap_or_default()))
}

fn non_empty(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|value| !value.is_empty())
}

/// Go's `numFieldsSetInStruct(AppliedTo)`.
fn applied_to_fields_set(entry: &AppliedTo) -> usize {
    [
        entry.pod_selector.is_some(),
        entry.namespace_selector.is_some(),
        entry.external_entity_selector.is_some(),
        non_empty(&entry.group),
        entry.service_account.is_some(),
        entry.service.is_some(),
        entry.node_selector.is_some(),
    ]
    .into_iter()
    .filter(|set| *set)
    .count()
}

/// Go's `numFieldsSetInStruct(NetworkPolicyPeer)`.
fn peer_fields_set(peer: &NetworkPolicyPeer) -> usize {
    [
        peer.ip_block.is_some(),
        peer.pod_selector.is_some(),
        peer.namespace_selector.is_some(),
        peer.namespaces.is_some(),
        peer.external_entity_selector.is_some(),
        non_empty(&peer.group),
        non_empty(&peer.fqdn),
        peer.service_account.is_some(),
        peer.node_selector.is_some(),
        peer.scope.is_some(),
    ]
    .into_iter()
    .filter(|set| *set)
    .count()
}

/// Go's `numFieldsSetInStruct(PeerNamespaces)`.
fn namespaces_fields_set(namespaces: &PeerNamespaces) -> usize {
    usize::from(namespaces.match_type.is_some()) + usize::from(namespaces.same_labels.is_some())
}

/// `checkSelectorsLabels`: `matchLabels` keys and values of every selector given.
pub(crate) fn selector_labels(selectors: &[Option<&LabelSelector>]) -> Result<(), Denial> {
    for selector in selectors.iter().flatten() {
        for (key, value) in selector.match_labels.iter().flatten() {
            let key_errors = qualified_name_errors(key);
            if !key_errors.is_empty() {
                return Err(Denial::new(format!(
                    "Invalid label key: {key}: {}",
                    key_errors.join("; ")
                )));
            }
            let value_errors = label_value_errors(value);
            if !value_errors.is_empty() {
                return Err(Denial::new(format!(
                    "Invalid label value: {value}: {}",
                    value_errors.join("; ")
                )));
            }
        }
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum AppliedToScope {
    Policy,
    IngressRule,
    EgressRule,
}

fn applied_to(
    ingress: &[Rule],
    egress: &[Rule],
    spec_applied_to: &[AppliedTo],
) -> Result<(), Denial> {
    let in_spec = !spec_applied_to.is_empty();
    let rules_with_applied_to = ingress
        .iter()
        .chain(egress)
        .filter(|rule| !rule.applied_to.as_deref().unwrap_or_default().is_empty())
        .count();
    if in_spec && rules_with_applied_to > 0 {
        return Err(Denial::new(
            "appliedTo should not be set in both spec and rules",
        ));
    }
    if !in_spec && rules_with_applied_to == 0 {
        return Err(Denial::new(
            "appliedTo needs to be set in either spec or rules",
        ));
    }
    if rules_with_applied_to > 0 && rules_with_applied_to != ingress.len() + egress.len() {
        return Err(Denial::new(
            "appliedTo field should either be set in all rules or in none of them",
        ));
    }

    let check = |entries: &[AppliedTo], scope: AppliedToScope| -> Result<(), Denial> {
        let mut services = 0;
        for entry in entries {
            let fields = applied_to_fields_set(entry);
            if non_empty(&entry.group) && fields > 1 {
                return Err(Denial::new(
                    "group cannot be set with other peers in appliedTo",
                ));
            }
            if entry.node_selector.is_some() && fields > 1 {
                return Err(Denial::new(
                    "nodeSelector cannot be set with other peers in appliedTo",
                ));
            }
            if entry.service_account.is_some() && fields > 1 {
                return Err(Denial::new(
                    "serviceAccount cannot be set with other peers in appliedTo",
                ));
            }
            if entry.service.is_some() {
                if fields > 1 {
                    return Err(Denial::new(
                        "service cannot be set with other peers in appliedTo",
                    ));
                }
                if scope == AppliedToScope::EgressRule
                    || (scope == AppliedToScope::Policy && !egress.is_empty())
                {
                    return Err(Denial::new("egress rule cannot be applied to Services"));
                }
                services += 1;
            }
            selector_labels(&[
                entry.pod_selector.as_ref(),
                entry.namespace_selector.as_ref(),
                entry.external_entity_selector.as_ref(),
                entry.node_selector.as_ref(),
            ])?;
        }
        if services > 0 && services < entries.len() {
            return Err(Denial::new(
                "a rule/policy cannot be applied to Services and other peers at the same time",
            ));
        }
        Ok(())
    };

    check(spec_applied_to, AppliedToScope::Policy)?;
    for rule in ingress {
        check(
            rule.applied_to.as_deref().unwrap_or_default(),
            AppliedToScope::IngressRule,
        )?;
    }
    for rule in egress {
        check(
            rule.applied_to.as_deref().unwrap_or_default(),
            AppliedToScope::EgressRule,
        )?;
    }
    Ok(())
}

/// `validateIPBlock`.
pub(crate) fn ip_block(block: &antrea_types::policy::IPBlock) -> Result<(), Denial> {
    if block.cidr.is_empty() {
        return Err(Denial::new("field 'cidr' is required in an ipBlock"));
    }
    let cidr = parse_cidr(&block.cidr).map_err(Denial::new)?;
    for except_text in block.except.iter().flatten() {
        let except = parse_cidr(except_text)
            .map_err(|error| Denial::new(format!("invalid except CIDR value: {error}")))?;
        let strict_subset = crate::net::contains(&cidr.network, except.network.network())
            && cidr.network.prefix_len() < except.network.prefix_len();
        if !strict_subset {
            return Err(Denial::new(format!(
                "except CIDR {except_text} is not a strict subset of CIDR {}",
                block.cidr
            )));
        }
    }
    Ok(())
}

fn check_peers(peers: &[NetworkPolicyPeer]) -> Result<(), Denial> {
    for peer in peers {
        if peer.namespace_selector.is_some() && peer.namespaces.is_some() {
            return Err(Denial::new(
                "namespaces and namespaceSelector cannot be set at the same time for a single NetworkPolicyPeer",
            ));
        }
        if let Some(namespaces) = &peer.namespaces {
            if namespaces_fields_set(namespaces) > 1 {
                return Err(Denial::new(
                    "only one matching criteria can be specified in a single peer namespaces field",
                ));
            }
            for key in namespaces.same_labels.iter().flatten() {
                if !qualified_name_errors(key).is_empty() {
                    return Err(Denial::new(format!(
                        "Invalid label key in sameLabels rule: {key}"
                    )));
                }
            }
        }
        if let Some(block) = &peer.ip_block {
            ip_block(block)?;
        }
        let fields = peer_fields_set(peer);
        if non_empty(&peer.group) && fields > 1 {
            return Err(Denial::new("group cannot be set with other peers in rules"));
        }
        if peer.service_account.is_some() && fields > 1 {
            return Err(Denial::new(
                "serviceAccount cannot be set with other peers in rules",
            ));
        }
        if peer.node_selector.is_some() && fields > 1 {
            return Err(Denial::new(
                "nodeSelector cannot be set with other peers in rules",
            ));
        }
        selector_labels(&[
            peer.pod_selector.as_ref(),
            peer.namespace_selector.as_ref(),
            peer.external_entity_selector.as_ref(),
            peer.node_selector.as_ref(),
        ])?;
    }
    Ok(())
}

fn peers(ingress: &[Rule], egress: &[Rule]) -> Result<(), Denial> {
    for rule in ingress {
        check_peers(rule.from.as_deref().unwrap_or_default())?;
    }
    for rule in egress {
        if rule.to_services.is_some()
            && (!rule.to.as_deref().unwrap_or_default().is_empty()
                || rule.ports.is_some()
                || rule.protocols.is_some())
        {
            return Err(Denial::new(
                "`toServices` cannot be used with `to`, `ports` or `protocols`",
            ));
        }
        check_peers(rule.to.as_deref().unwrap_or_default())?;
    }
    Ok(())
}

fn applied_to_service_ingress_peers(
    spec_applied_to: &[AppliedTo],
    ingress: &[Rule],
) -> Result<(), Denial> {
    let applies_to_service =
        |entries: &[AppliedTo]| entries.first().is_some_and(|entry| entry.service.is_some());
    let policy_applies_to_service = applies_to_service(spec_applied_to);
    for rule in ingress {
        if policy_applies_to_service
            || applies_to_service(rule.applied_to.as_deref().unwrap_or_default())
        {
            for peer in rule.from.iter().flatten() {
                if peer.ip_block.is_none() || peer_fields_set(peer) > 1 {
                    return Err(Denial::new(
                        "a rule/policy that is applied to Services can only use ipBlock to select workloads",
                    ));
                }
            }
        }
    }
    Ok(())
}

fn fqdn_selectors(egress: &[Rule]) -> Result<(), Denial> {
    for peer in egress.iter().flat_map(|rule| rule.to.iter().flatten()) {
        if let Some(fqdn) = peer.fqdn.as_deref().filter(|fqdn| !fqdn.is_empty())
            && !ALLOWED_FQDN_CHARS.is_match(fqdn)
        {
            return Err(Denial::new(format!(
                "invalid characters in egress rule fqdn field: {fqdn}"
            )));
        }
    }
    Ok(())
}

fn egress_multicast_addresses(egress: &[Rule]) -> Result<(), Denial> {
    for rule in egress {
        let (mut multicast, mut unicast, mut other_selectors) = (false, false, false);
        for peer in rule.to.iter().flatten() {
            let Some(block) = &peer.ip_block else {
                continue;
            };
            let cidr = parse_cidr(&block.cidr).map_err(|error| {
                Denial::new(format!(
                    "invalid multicast groupAddress address (to.IPBlock.CIDR): {error}"
                ))
            })?;
            if is_multicast(cidr.address) {
                multicast = true;
            } else {
                unicast = true;
            }
            if peer.pod_selector.is_some()
                || peer.namespace_selector.is_some()
                || peer.namespaces.is_some()
                || peer.external_entity_selector.is_some()
                || peer.service_account.is_some()
                || peer.node_selector.is_some()
            {
                other_selectors = true;
            }
            if multicast && matches!(rule.action, RuleAction::Pass | RuleAction::Reject) {
                return Err(Denial::new(
                    "multicast does not support action Pass or Reject",
                ));
            }
        }
        if multicast && unicast {
            return Err(Denial::new(
                "can not set multicast groupAddress and unicast ip address at the same time",
            ));
        }
        if multicast && other_selectors {
            return Err(Denial::new(
                "can not set multicast groupAddress and selectors at the same time",
            ));
        }
    }
    Ok(())
}

/// `validateMulticastIGMP`. As in Antrea, "has IGMP" and "has ICMP" accumulate across the
/// rules (ingress then egress), so a rule after an IGMP rule is judged with them set.
fn multicast_igmp(ingress: &[Rule], egress: &[Rule]) -> Result<(), Denial> {
    let (mut have_igmp, mut have_icmp) = (false, false);
    for rule in ingress.iter().chain(egress) {
        for protocol in rule.protocols.iter().flatten() {
            if let Some(igmp) = &protocol.igmp {
                have_igmp = true;
                if let Some(address) = igmp
                    .group_address
                    .as_deref()
                    .filter(|address| !address.is_empty())
                {
                    let parsed = parse_ip(address);
                    if !parsed.is_some_and(is_multicast) {
                        return Err(Denial::new(format!(
                            "groupAddress {} is not multicast address",
                            display_ip(parsed)
                        )));
                    }
                }
                if matches!(rule.action, RuleAction::Pass | RuleAction::Reject) {
                    return Err(Denial::new("protocol IGMP does not support Pass or Reject"));
                }
            }
            if protocol.icmp.is_some() {
                have_icmp = true;
            }
        }
        let non_empty_list = |len: usize| len != 0;
        if have_igmp
            && (non_empty_list(rule.ports.as_deref().unwrap_or_default().len())
                || non_empty_list(rule.to_services.as_deref().unwrap_or_default().len())
                || non_empty_list(rule.from.as_deref().unwrap_or_default().len())
                || non_empty_list(rule.to.as_deref().unwrap_or_default().len())
                || have_icmp)
        {
            return Err(Denial::new(
                "protocol IGMP can not be used with other protocols or other properties like from, to",
            ));
        }
    }
    Ok(())
}

fn l7_protocols(ingress: &[Rule], egress: &[Rule], gate_enabled: bool) -> Result<(), Denial> {
    for rule in ingress.iter().chain(egress) {
        let l7 = rule.l7_protocols.as_deref().unwrap_or_default();
        if l7.is_empty() {
            continue;
        }
        if !gate_enabled {
            return Err(Denial::new(
                "layer 7 protocols can only be used when L7NetworkPolicy is enabled",
            ));
        }
        if rule.action != RuleAction::Allow {
            return Err(Denial::new("layer 7 protocols only support Allow"));
        }
        if !rule.to_services.as_deref().unwrap_or_default().is_empty() {
            return Err(Denial::new(
                "layer 7 protocols can not be used with toServices",
            ));
        }
        let have_http = l7.iter().any(|protocol| protocol.http.is_some());
        for port in rule.ports.iter().flatten() {
            if have_http
                && port
                    .protocol
                    .is_some_and(|protocol| protocol != Protocol::TCP)
            {
                return Err(Denial::new(
                    "HTTP protocol can only be used when layer 4 protocol is TCP or unset",
                ));
            }
        }
        for protocol in rule.protocols.iter().flatten() {
            if have_http && (protocol.igmp.is_some() || protocol.icmp.is_some()) {
                return Err(Denial::new(
                    "HTTP protocol can not be used with protocol IGMP or ICMP",
                ));
            }
        }
    }
    Ok(())
}

fn ports(ingress: &[Rule], egress: &[Rule]) -> Result<(), Denial> {
    for port in ingress
        .iter()
        .chain(egress)
        .flat_map(|rule| rule.ports.iter().flatten())
    {
        if let Some(end_port) = port.end_port {
            match &port.port {
                None => {
                    return Err(Denial::new(
                        "if `endPort` is specified `port` must be specified",
                    ));
                }
                Some(IntOrString::String(_)) => {
                    return Err(Denial::new(
                        "if `port` is a string `endPort` cannot be specified",
                    ));
                }
                Some(IntOrString::Int(start)) if end_port < *start => {
                    return Err(Denial::new(
                        "`endPort` should be greater than or equal to `port`",
                    ));
                }
                Some(IntOrString::Int(_)) => {}
            }
        }
        if let Some(source_end_port) = port.source_end_port {
            match port.source_port {
                None => {
                    return Err(Denial::new(
                        "if `sourceEndPort` is specified `sourcePort` must be specified",
                    ));
                }
                Some(source_port) if source_end_port < source_port => {
                    return Err(Denial::new(
                        "`sourceEndPort` should be greater than or equal to `sourcePort`",
                    ));
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

/// Go's `%q` for the strings these warnings quote.
fn go_quote(value: &str) -> String {
    let mut quoted = String::from("\"");
    for character in value.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            '\r' => quoted.push_str("\\r"),
            control if control.is_control() => {
                quoted.push_str(&format!("\\x{:02x}", u32::from(control)))
            }
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    quoted
}

/// `checkLogLabel`: Node policies truncate log labels to 12 characters in kernel logs.
fn log_label_warnings(
    spec_applied_to: &[AppliedTo],
    ingress: &[Rule],
    egress: &[Rule],
) -> Vec<String> {
    if !spec_applied_to
        .iter()
        .any(|entry| entry.node_selector.is_some())
    {
        return Vec::new();
    }
    ingress
        .iter()
        .chain(egress)
        .filter_map(|rule| {
            let label = rule.log_label.as_deref().unwrap_or_default();
            (rule.enable_logging.unwrap_or(false) && label.len() > NODE_POLICY_LOG_LABEL_LIMIT).then(|| {
                format!(
                    "LogLabels for Node NetworkPolicies are limited to 12 characters, but the label {} for policy rule {} exceeds the limit and will be truncated in kernel logs",
                    go_quote(label),
                    go_quote(rule.name.as_deref().unwrap_or_default())
                )
            })
        })
        .collect()
}
