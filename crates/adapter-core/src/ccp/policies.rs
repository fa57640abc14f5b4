//! NSX security policies and rules as ClusterNetworkPolicy specs (nsx-api.md §2.4, §2.5, §3.6,
//! §3.7; antrea-api.md §8.3).
//!
//! - **Direction.** For Antrea clusters the far end of a rule is its applied-to: a rule with
//!   sources is an ingress rule (`from` the sources, into the applied-to), a rule with
//!   destinations an egress rule (`to` the destinations, out of the applied-to); with both ANY,
//!   `IN` is ingress, `OUT` egress and `IN_OUT` both. Sources with `OUT`, destinations with
//!   `IN`, and sources *and* destinations are refused.
//! - **Applied-to.** The policy `scope` wins over rule scopes (as in NSX). Without one, rule
//!   scopes become rule-level `appliedTo` on *every* rule (Antrea's all-or-nothing rule); ANY
//!   is an explicit `podSelector: {}` (every Pod), never an empty list. Groups with IP members
//!   are refused as applied-to (Antrea would ignore them and select nothing).
//! - **Withholding.** A policy with any refused rule is refused as a whole: enforcing the rest
//!   could let traffic reach lower-priority allow rules that the refused rule would have
//!   dropped, or the other way round.

use std::collections::{BTreeMap, BTreeSet};

use antrea_types::policy::{
    AppliedTo, ICMPProtocol, IPBlock, NetworkPolicyPeer, NetworkPolicyProtocol, Rule,
    RuleAction as AntreaAction,
};
use ipnet::IpNet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use nsx_model::policy::{
    ConnectivityPreference, ConnectivityStrategy, IpProtocol, PolicyCategory, Rule as NsxRule,
    RuleAction, RuleDirection, SecurityPolicy, is_any,
};
use serde_json::{Map, Value};

use super::error::{RealizationError, Reason};
use super::groups::is_group_path;
use super::ip::{IpFamily, looks_like_ip_literal, parse_ip_literal};
use super::naming::{RuleSide, log_label, rule_name};
use super::priority::{CategoryTier, MAX_SEQUENCE_NUMBER, tier_for};
use super::reads::ReadLog;
use super::services::{IcmpMatch, ServiceMatch, ServiceResolver};

/// A translated NSX group, as policies use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    /// The parent ClusterGroup's name.
    pub name: String,
    /// Whether it has IP members (it cannot be an applied-to).
    pub has_ip_members: bool,
}

/// What a policy needs from the rest of the translation.
pub struct PolicyContext<'a> {
    /// Every group of the span: its ClusterGroup, or why it has none.
    pub groups: &'a BTreeMap<String, Result<GroupRef, RealizationError>>,
    pub services: ServiceResolver<'a>,
    /// The IP families of the cluster's Pods.
    pub cluster_families: BTreeSet<IpFamily>,
    /// How many Application-category policies the span holds (JUMP_TO_APPLICATION → Pass is
    /// exact only without them).
    pub application_policies: usize,
    /// Where the groups and the count of Application policies read are recorded, if anywhere
    /// (services record into their resolver's log).
    pub reads: Option<&'a ReadLog>,
}

/// A translated policy, without metadata and priority.
#[derive(Debug, Clone, PartialEq)]
pub struct TranslatedPolicy {
    pub tier: &'static CategoryTier,
    pub sequence_number: i64,
    pub applied_to: Option<Vec<AppliedTo>>,
    pub ingress: Vec<Rule>,
    pub egress: Vec<Rule>,
    /// NSX paths of every group the spec references.
    pub groups: BTreeSet<String>,
}

/// A rule or policy scope: ANY, or group paths (with their document fields).
enum Scope {
    Any,
    Groups(Vec<(String, String)>),
}

/// A rule's sources or destinations.
enum Peers {
    Any,
    List {
        groups: Vec<(String, String)>,
        ips: Vec<IpNet>,
    },
}

fn error(reason: Reason, message: impl Into<String>, field: impl Into<String>) -> RealizationError {
    RealizationError::new(reason, message).at(field)
}

fn unknown_fields(extra: &Map<String, Value>, field: &str, errors: &mut Vec<RealizationError>) {
    for name in extra.keys() {
        let at = if field.is_empty() {
            name.clone()
        } else {
            format!("{field}.{name}")
        };
        errors.push(error(
            Reason::UnknownField,
            format!("field {at} is not known to this adapter, which cannot prove it harmless"),
            at,
        ));
    }
}

/// Everything selected: every Pod in every Namespace.
fn every_pod() -> AppliedTo {
    AppliedTo {
        pod_selector: Some(LabelSelector::default()),
        ..AppliedTo::default()
    }
}

fn is_cluster_control_plane_path(path: &str) -> bool {
    path.contains("/cluster-control-planes/")
}

fn parse_scope(list: Option<&[String]>, field: &str) -> Result<Scope, RealizationError> {
    let list = list.unwrap_or_default();
    if list.iter().any(|entry| is_any(entry)) {
        if list.len() > 1 {
            return Err(error(
                Reason::InvalidDocument,
                "ANY must be the only element of scope",
                field,
            ));
        }
        return Ok(Scope::Any);
    }
    let mut groups = Vec::new();
    for (index, entry) in list.iter().enumerate() {
        let at = format!("{field}[{index}]");
        if is_cluster_control_plane_path(entry) {
            // The 3.2-era way of spanning a policy to a cluster: not an applied-to group.
            continue;
        }
        if !is_group_path(entry) {
            return Err(error(
                Reason::UnsupportedGroup,
                format!("applied-to {entry} is not a group; only Antrea groups can be applied-to"),
                at,
            ));
        }
        groups.push((entry.clone(), at));
    }
    Ok(if groups.is_empty() {
        Scope::Any
    } else {
        Scope::Groups(groups)
    })
}

fn parse_peers(list: Option<&[String]>, field: &str) -> Result<Peers, RealizationError> {
    let list = list.unwrap_or_default();
    if list.is_empty() {
        return Ok(Peers::Any);
    }
    if list.iter().any(|entry| is_any(entry)) {
        if list.len() > 1 {
            return Err(error(
                Reason::InvalidDocument,
                format!("ANY must be the only element of {field}"),
                field,
            ));
        }
        return Ok(Peers::Any);
    }
    let mut groups = Vec::new();
    let mut ips = Vec::new();
    for (index, entry) in list.iter().enumerate() {
        let at = format!("{field}[{index}]");
        if is_group_path(entry) {
            groups.push((entry.clone(), at));
        } else if looks_like_ip_literal(entry) {
            ips.extend(
                parse_ip_literal(entry)
                    .map_err(|message| error(Reason::InvalidDocument, message, &at))?,
            );
        } else {
            return Err(error(
                Reason::UnsupportedGroup,
                format!("{entry} is neither a group path nor an IP address"),
                at,
            ));
        }
    }
    Ok(Peers::List { groups, ips })
}

/// The effective IP families of a rule (`ip_protocol` within the cluster's families).
fn rule_families(
    ip_protocol: Option<&IpProtocol>,
    cluster: &BTreeSet<IpFamily>,
    field: &str,
) -> Result<BTreeSet<IpFamily>, RealizationError> {
    let wanted: BTreeSet<IpFamily> = match ip_protocol {
        None | Some(IpProtocol::Ipv4Ipv6) => [IpFamily::V4, IpFamily::V6].into(),
        Some(IpProtocol::Ipv4) => [IpFamily::V4].into(),
        Some(IpProtocol::Ipv6) => [IpFamily::V6].into(),
        Some(IpProtocol::Other(other)) => {
            return Err(error(
                Reason::IpProtocolUnsupported,
                format!("ip_protocol {other} is not known to this adapter"),
                format!("{field}.ip_protocol"),
            ));
        }
    };
    Ok(wanted.intersection(cluster).copied().collect())
}

/// The outcome of one NSX rule: Antrea rules (one per side), or nothing when the rule can
/// never match in this cluster (e.g. an IPv6-only rule in an IPv4 cluster).
struct RuleOutcome {
    rules: Vec<(RuleSide, Rule)>,
    groups: BTreeSet<String>,
}

struct RuleInput<'a> {
    rule: &'a NsxRule,
    field: String,
    category: &'a PolicyCategory,
    rule_level_applied_to: bool,
    logging_enabled: bool,
}

impl PolicyContext<'_> {
    /// The count of Application policies, recorded as read.
    fn read_application_policies(&self) -> usize {
        if let Some(reads) = self.reads {
            reads.application_policies();
        }
        self.application_policies
    }

    fn group(
        &self,
        path: &str,
        field: &str,
        applied_to: bool,
    ) -> Result<&GroupRef, RealizationError> {
        if let Some(reads) = self.reads {
            reads.group(path);
        }
        match self.groups.get(path) {
            None => Err(error(
                Reason::MissingReference,
                format!("group {path} is not in the desired state"),
                field,
            )),
            Some(Err(cause)) => Err(RealizationError {
                message: format!("group {path} cannot be translated: {}", cause.message),
                field: Some(field.to_owned()),
                ..cause.clone()
            }),
            Some(Ok(group)) if applied_to && group.has_ip_members => Err(error(
                Reason::IpGroupInAppliedTo,
                format!(
                    "group {path} has IP members and cannot be applied-to (Antrea selects Pods only)"
                ),
                field,
            )),
            Some(Ok(group)) => Ok(group),
        }
    }

    fn applied_to(
        &self,
        scope: &Scope,
        groups: &mut BTreeSet<String>,
    ) -> Result<Vec<AppliedTo>, Vec<RealizationError>> {
        match scope {
            Scope::Any => Ok(vec![every_pod()]),
            Scope::Groups(list) => {
                let mut errors = Vec::new();
                let mut names = BTreeSet::new();
                for (path, field) in list {
                    match self.group(path, field, true) {
                        Ok(group) => {
                            groups.insert(path.clone());
                            names.insert(group.name.clone());
                        }
                        Err(e) => errors.push(e),
                    }
                }
                if !errors.is_empty() {
                    return Err(errors);
                }
                Ok(names
                    .into_iter()
                    .map(|name| AppliedTo {
                        group: Some(name),
                        ..AppliedTo::default()
                    })
                    .collect())
            }
        }
    }

    fn action(&self, input: &RuleInput<'_>) -> Result<AntreaAction, RealizationError> {
        let field = format!("{}.action", input.field);
        match &input.rule.action {
            Some(RuleAction::Allow) => Ok(AntreaAction::Allow),
            Some(RuleAction::Drop) => Ok(AntreaAction::Drop),
            Some(RuleAction::Reject) => Ok(AntreaAction::Reject),
            Some(RuleAction::JumpToApplication) => {
                if *input.category != PolicyCategory::Environment {
                    Err(error(
                        Reason::UnsupportedAction,
                        "JUMP_TO_APPLICATION is valid only in the Environment category",
                        field,
                    ))
                } else if self.read_application_policies() > 0 {
                    Err(error(
                        Reason::UnsupportedAction,
                        format!(
                            "JUMP_TO_APPLICATION cannot be expressed while the span has {} Application-category {}: Antrea's Pass skips every remaining tier, the Application tier included",
                            self.application_policies,
                            if self.application_policies == 1 {
                                "policy"
                            } else {
                                "policies"
                            }
                        ),
                        field,
                    ))
                } else {
                    Ok(AntreaAction::Pass)
                }
            }
            Some(RuleAction::Other(other)) => Err(error(
                Reason::UnsupportedAction,
                format!("action {other} is not known to this adapter"),
                field,
            )),
            None => Err(error(
                Reason::InvalidDocument,
                "the rule has no action",
                field,
            )),
        }
    }

    /// Translates one enabled rule; every problem is collected.
    fn rule(&self, input: &RuleInput<'_>) -> Result<RuleOutcome, Vec<RealizationError>> {
        let rule = input.rule;
        let field = input.field.as_str();
        let mut errors = Vec::new();
        unknown_fields(&rule.extra, field, &mut errors);
        if rule.meta.children.as_ref().is_some_and(|c| !c.is_empty()) {
            errors.push(error(
                Reason::InvalidDocument,
                "a rule document carries hierarchical-API children",
                format!("{field}.children"),
            ));
        }
        let rule_id = rule.rule_id;
        if rule_id.is_none() {
            errors.push(error(
                Reason::InvalidDocument,
                "the rule has no rule_id",
                format!("{field}.rule_id"),
            ));
        }
        let action = self.action(input).map_err(|e| errors.push(e)).ok();
        if rule.sources_excluded == Some(true) {
            errors.push(error(
                Reason::NegationUnsupported,
                "sources_excluded (negated sources) cannot be expressed in Antrea",
                format!("{field}.sources_excluded"),
            ));
        }
        if rule.destinations_excluded == Some(true) {
            errors.push(error(
                Reason::NegationUnsupported,
                "destinations_excluded (negated destinations) cannot be expressed in Antrea",
                format!("{field}.destinations_excluded"),
            ));
        }
        let profiles = rule.profiles.as_deref().unwrap_or_default();
        if !(profiles.is_empty() || (profiles.len() == 1 && is_any(&profiles[0]))) {
            errors.push(error(
                Reason::ProfilesUnsupported,
                "layer-7 context profiles cannot be expressed for Antrea clusters",
                format!("{field}.profiles"),
            ));
        }
        let direction = match &rule.direction {
            None | Some(RuleDirection::InOut) => Some((true, true)),
            Some(RuleDirection::In) => Some((true, false)),
            Some(RuleDirection::Out) => Some((false, true)),
            Some(RuleDirection::Other(other)) => {
                errors.push(error(
                    Reason::UnsupportedDirection,
                    format!("direction {other} is not known to this adapter"),
                    format!("{field}.direction"),
                ));
                None
            }
        };
        let families = rule_families(rule.ip_protocol.as_ref(), &self.cluster_families, field)
            .map_err(|e| errors.push(e))
            .ok();
        let sources = parse_peers(
            rule.source_groups.as_deref(),
            &format!("{field}.source_groups"),
        )
        .map_err(|e| errors.push(e))
        .ok();
        let destinations = parse_peers(
            rule.destination_groups.as_deref(),
            &format!("{field}.destination_groups"),
        )
        .map_err(|e| errors.push(e))
        .ok();
        let services = self
            .services
            .rule_services(
                rule.services.as_deref(),
                rule.service_entries.as_deref(),
                field,
            )
            .map_err(|e| errors.extend(e))
            .ok();
        let scope = if input.rule_level_applied_to {
            parse_scope(rule.scope.as_deref(), &format!("{field}.scope"))
                .map_err(|e| errors.push(e))
                .ok()
        } else {
            None
        };

        // Which sides, from the peers and the direction.
        let mut sides: Vec<(RuleSide, Peers)> = Vec::new();
        if let (Some(sources), Some(destinations), Some((inbound, outbound))) =
            (sources, destinations, direction)
        {
            match (sources, destinations) {
                (Peers::Any, Peers::Any) => {
                    if inbound {
                        sides.push((RuleSide::Ingress, Peers::Any));
                    }
                    if outbound {
                        sides.push((RuleSide::Egress, Peers::Any));
                    }
                }
                (sources @ Peers::List { .. }, Peers::Any) => {
                    if inbound {
                        sides.push((RuleSide::Ingress, sources));
                    } else {
                        errors.push(error(
                            Reason::UnsupportedDirection,
                            "a rule with sources is an ingress rule into its applied-to; direction OUT contradicts it",
                            format!("{field}.direction"),
                        ));
                    }
                }
                (Peers::Any, destinations @ Peers::List { .. }) => {
                    if outbound {
                        sides.push((RuleSide::Egress, destinations));
                    } else {
                        errors.push(error(
                            Reason::UnsupportedDirection,
                            "a rule with destinations is an egress rule out of its applied-to; direction IN contradicts it",
                            format!("{field}.direction"),
                        ));
                    }
                }
                (Peers::List { .. }, Peers::List { .. }) => errors.push(error(
                    Reason::SourcesAndDestinations,
                    "both sources and destinations are set; for Antrea clusters the far end of a rule is its applied-to, so set only one of them",
                    field,
                )),
            }
        }

        let mut groups = BTreeSet::new();
        let applied_to = match &scope {
            Some(scope) => self
                .applied_to(scope, &mut groups)
                .map_err(|e| errors.extend(e))
                .ok(),
            None => None,
        };
        let mut rules = Vec::new();
        // With a bad ip_protocol the rule is refused anyway; go on to report peer problems too.
        let families = families.unwrap_or_else(|| self.cluster_families.clone());
        for (side, peers) in sides {
            let Some(services) = &services else {
                // The services are refused; still report every problem with the peers.
                if let Peers::List { groups: paths, .. } = &peers {
                    for (path, at) in paths {
                        if let Err(e) = self.group(path, at, false) {
                            errors.push(e);
                        }
                    }
                }
                continue;
            };
            match self.side(peers, &families, services, field, &mut groups) {
                Ok(Some((peers, ports, protocols))) => {
                    let mut out = Rule::new(action.unwrap_or(AntreaAction::Drop));
                    out.name = rule_id.map(|id| rule_name(id, side));
                    match side {
                        RuleSide::Ingress => out.from = peers,
                        RuleSide::Egress => out.to = peers,
                    }
                    out.ports = ports;
                    out.protocols = protocols;
                    if rule.logged == Some(true) || input.logging_enabled {
                        out.enable_logging = Some(true);
                    }
                    out.log_label = rule.tag.as_deref().and_then(log_label);
                    out.applied_to = applied_to.clone();
                    rules.push((side, out));
                }
                Ok(None) => {}
                Err(e) => errors.extend(e),
            }
        }
        if errors.is_empty() {
            Ok(RuleOutcome { rules, groups })
        } else {
            Err(errors)
        }
    }

    /// The peers, ports and protocols of one side, or `None` when the side can never match.
    #[allow(clippy::type_complexity)]
    fn side(
        &self,
        peers: Peers,
        families: &BTreeSet<IpFamily>,
        services: &ServiceMatch,
        field: &str,
        groups: &mut BTreeSet<String>,
    ) -> Result<
        Option<(
            Option<Vec<NetworkPolicyPeer>>,
            Option<Vec<antrea_types::policy::NetworkPolicyPort>>,
            Option<Vec<NetworkPolicyProtocol>>,
        )>,
        Vec<RealizationError>,
    > {
        if families.is_empty() {
            return Ok(None);
        }
        let restricted = *families != self.cluster_families;
        let mut errors = Vec::new();
        // The families packets matching the peers can have.
        let packet_families: BTreeSet<IpFamily>;
        let antrea_peers = match peers {
            Peers::Any => {
                packet_families = families.clone();
                if restricted {
                    Some(
                        families
                            .iter()
                            .map(|family| NetworkPolicyPeer {
                                ip_block: Some(IPBlock::new(family.everything().to_string())),
                                ..NetworkPolicyPeer::default()
                            })
                            .collect(),
                    )
                } else {
                    None
                }
            }
            Peers::List {
                groups: group_paths,
                ips,
            } => {
                let mut list = Vec::new();
                let mut names = BTreeSet::new();
                if restricted && !group_paths.is_empty() {
                    errors.push(error(
                        Reason::IpProtocolUnsupported,
                        format!(
                            "ip_protocol restricts the rule to {} but its peers are groups, whose Pods may have addresses of both families; Antrea cannot restrict a group peer to one family",
                            families.iter().map(|f| f.label()).collect::<Vec<_>>().join(" and ")
                        ),
                        format!("{field}.ip_protocol"),
                    ));
                }
                for (path, at) in &group_paths {
                    match self.group(path, at, false) {
                        Ok(group) => {
                            groups.insert(path.clone());
                            names.insert(group.name.clone());
                        }
                        Err(e) => errors.push(e),
                    }
                }
                list.extend(names.into_iter().map(|name| NetworkPolicyPeer {
                    group: Some(name),
                    ..NetworkPolicyPeer::default()
                }));
                let kept: BTreeSet<IpNet> = ips
                    .into_iter()
                    .filter(|net| families.contains(&IpFamily::of(net)))
                    .collect();
                let mut peer_families: BTreeSet<IpFamily> = kept.iter().map(IpFamily::of).collect();
                if !group_paths.is_empty() {
                    peer_families.extend(families.iter().copied());
                }
                packet_families = peer_families;
                list.extend(kept.into_iter().map(|net| NetworkPolicyPeer {
                    ip_block: Some(IPBlock::new(net.to_string())),
                    ..NetworkPolicyPeer::default()
                }));
                if list.is_empty() && errors.is_empty() {
                    // Only addresses of families that cannot occur: the side never matches.
                    return Ok(None);
                }
                Some(list)
            }
        };
        let (ports, protocols) = match services {
            ServiceMatch::Any => (None, None),
            ServiceMatch::Some { ports, icmp } => {
                let icmp: BTreeSet<IcmpMatch> = icmp
                    .iter()
                    .filter(|m| packet_families.contains(&m.family))
                    .copied()
                    .collect();
                // A match inside a broader one of the same family adds nothing.
                let icmp: BTreeSet<IcmpMatch> = icmp
                    .iter()
                    .filter(|m| {
                        let all = IcmpMatch {
                            family: m.family,
                            icmp_type: None,
                            icmp_code: None,
                        };
                        let all_codes = IcmpMatch {
                            icmp_code: None,
                            ..**m
                        };
                        !((m.icmp_type.is_some() && icmp.contains(&all))
                            || (m.icmp_code.is_some() && icmp.contains(&all_codes)))
                    })
                    .copied()
                    .collect();
                let whole: BTreeSet<_> = ports
                    .iter()
                    .filter(|p| p.port.is_none())
                    .map(|p| p.protocol)
                    .collect();
                let ports: Vec<_> = ports
                    .iter()
                    .filter(|p| p.port.is_none() || !whole.contains(&p.protocol))
                    .collect();
                // Antrea's icmp matches both families with the same type and code.
                let mut by_match: BTreeMap<(Option<u8>, Option<u8>), BTreeSet<IpFamily>> =
                    BTreeMap::new();
                for m in &icmp {
                    by_match
                        .entry((m.icmp_type, m.icmp_code))
                        .or_default()
                        .insert(m.family);
                }
                for ((icmp_type, icmp_code), found) in &by_match {
                    if *found != packet_families {
                        let family = found.iter().next().copied().unwrap_or(IpFamily::V4);
                        let other = if family == IpFamily::V4 {
                            "ICMPv6"
                        } else {
                            "ICMPv4"
                        };
                        errors.push(error(
                            Reason::UnsupportedServiceEntry,
                            format!(
                                "{} {} would also match {other} with the same type and code in Antrea, whose icmp match covers both IP families; restrict the rule's ip_protocol to one family",
                                if family == IpFamily::V4 { "ICMPv4" } else { "ICMPv6" },
                                describe_icmp(*icmp_type, *icmp_code)
                            ),
                            format!("{field}.services"),
                        ));
                    }
                }
                if ports.is_empty() && by_match.is_empty() {
                    // Only ICMP of families that cannot occur: the side never matches.
                    return if errors.is_empty() {
                        Ok(None)
                    } else {
                        Err(errors)
                    };
                }
                let ports =
                    (!ports.is_empty()).then(|| ports.iter().map(|p| p.to_antrea()).collect());
                let protocols = (!by_match.is_empty()).then(|| {
                    by_match
                        .keys()
                        .map(|(icmp_type, icmp_code)| NetworkPolicyProtocol {
                            icmp: Some(ICMPProtocol {
                                icmp_type: icmp_type.map(i32::from),
                                icmp_code: icmp_code.map(i32::from),
                            }),
                            igmp: None,
                        })
                        .collect()
                });
                (ports, protocols)
            }
        };
        if errors.is_empty() {
            Ok(Some((antrea_peers, ports, protocols)))
        } else {
            Err(errors)
        }
    }

    /// Translates a policy; every problem of the policy and of each rule is collected.
    pub fn policy(
        &self,
        path: &str,
        policy: &SecurityPolicy,
    ) -> Result<TranslatedPolicy, Vec<RealizationError>> {
        let mut errors = Vec::new();
        unknown_fields(&policy.extra, "", &mut errors);
        if policy.meta.children.as_ref().is_some_and(|c| !c.is_empty()) {
            errors.push(error(
                Reason::InvalidDocument,
                "a policy document carries hierarchical-API children (rules belong in rules)",
                "children",
            ));
        }
        let tier = tier_for(policy.category.as_ref());
        if tier.is_none() {
            let message = match &policy.category {
                None => "the policy has no category; Antrea clusters enforce Emergency, Infrastructure, Environment and Application policies".to_owned(),
                Some(PolicyCategory::Ethernet) => "Ethernet (layer 2) policies cannot be enforced by Antrea".to_owned(),
                Some(other) => format!("category {other} is not supported for Antrea clusters (Emergency, Infrastructure, Environment, Application)"),
            };
            errors.push(error(Reason::UnsupportedCategory, message, "category"));
        }
        let sequence_number = policy.sequence_number.unwrap_or(0);
        if !(0..=MAX_SEQUENCE_NUMBER).contains(&sequence_number) {
            errors.push(error(
                Reason::InvalidDocument,
                format!("sequence_number {sequence_number} is outside 0..={MAX_SEQUENCE_NUMBER}"),
                "sequence_number",
            ));
        }
        if policy.stateful == Some(false) {
            errors.push(error(
                Reason::StatefulnessUnsupported,
                "stateless policies cannot be expressed: Antrea tracks connections and always lets replies through",
                "stateful",
            ));
        }
        if policy
            .scheduler_path
            .as_deref()
            .is_some_and(|p| !p.is_empty())
        {
            errors.push(error(
                Reason::SchedulerUnsupported,
                "time-based rules (scheduler_path) cannot be expressed in Antrea",
                "scheduler_path",
            ));
        }
        if policy
            .connectivity_preference
            .as_ref()
            .is_some_and(|p| *p != ConnectivityPreference::None)
        {
            errors.push(error(
                Reason::DefaultRuleUnsupported,
                "connectivity_preference makes NSX add a default rule that is not in the policy document",
                "connectivity_preference",
            ));
        }
        if policy
            .connectivity_strategy
            .as_ref()
            .is_some_and(|s| *s != ConnectivityStrategy::None)
        {
            errors.push(error(
                Reason::DefaultRuleUnsupported,
                "connectivity_strategy makes NSX add a default rule that is not in the policy document",
                "connectivity_strategy",
            ));
        }
        if policy
            .application_connectivity_strategy
            .as_ref()
            .is_some_and(|s| !s.is_empty())
        {
            errors.push(error(
                Reason::DefaultRuleUnsupported,
                "application_connectivity_strategy makes NSX add default rules that are not in the policy document",
                "application_connectivity_strategy",
            ));
        }

        // Rules in NSX order (sequence_number, then document order).
        let rules = policy.rules.as_deref().unwrap_or_default();
        let mut order: Vec<usize> = (0..rules.len()).collect();
        order.sort_by_key(|&index| rules[index].sequence_number.unwrap_or(0));
        let enabled: Vec<usize> = order
            .into_iter()
            .filter(|&index| rules[index].disabled != Some(true))
            .collect();
        let mut seen_ids = BTreeSet::new();
        for &index in &enabled {
            if let Some(id) = rules[index].rule_id
                && !seen_ids.insert(id)
            {
                errors.push(error(
                    Reason::InvalidDocument,
                    format!("rule_id {id} appears twice in the policy"),
                    format!("rules[{index}].rule_id"),
                ));
            }
        }

        let mut groups = BTreeSet::new();
        let policy_scope = parse_scope(policy.scope.as_deref(), "scope")
            .map_err(|e| errors.push(e))
            .ok();
        // Policy scope wins; without one, rule scopes become rule-level appliedTo on every rule.
        let mut rule_level = false;
        let mut applied_to = None;
        match &policy_scope {
            Some(scope @ Scope::Groups(_)) => match self.applied_to(scope, &mut groups) {
                Ok(list) => applied_to = Some(list),
                Err(e) => errors.extend(e),
            },
            Some(Scope::Any) => {
                rule_level = enabled.iter().any(|&index| {
                    matches!(
                        parse_scope(rules[index].scope.as_deref(), ""),
                        Ok(Scope::Groups(_)) | Err(_)
                    )
                });
                if !rule_level {
                    applied_to = Some(vec![every_pod()]);
                }
            }
            None => {}
        }

        let category = policy
            .category
            .clone()
            .unwrap_or(PolicyCategory::Other(String::new()));
        let mut ingress = Vec::new();
        let mut egress = Vec::new();
        for &index in &enabled {
            let rule = &rules[index];
            let input = RuleInput {
                rule,
                field: format!("rules[{index}]"),
                category: &category,
                rule_level_applied_to: rule_level,
                logging_enabled: policy.logging_enabled == Some(true),
            };
            match self.rule(&input) {
                Ok(outcome) => {
                    groups.extend(outcome.groups);
                    for (side, out) in outcome.rules {
                        match side {
                            RuleSide::Ingress => ingress.push(out),
                            RuleSide::Egress => egress.push(out),
                        }
                    }
                }
                Err(rule_errors) => {
                    errors.extend(rule_errors.into_iter().map(|e| about_rule(e, path, rule)));
                }
            }
        }
        match (errors.is_empty(), tier) {
            (true, Some(tier)) => Ok(TranslatedPolicy {
                tier,
                sequence_number,
                applied_to,
                ingress,
                egress,
                groups,
            }),
            _ => Err(errors),
        }
    }
}

fn describe_icmp(icmp_type: Option<u8>, icmp_code: Option<u8>) -> String {
    match (icmp_type, icmp_code) {
        (None, _) => "(every type)".to_owned(),
        (Some(t), None) => format!("type {t}"),
        (Some(t), Some(c)) => format!("type {t} code {c}"),
    }
}

/// Names the rule in an error: `rule 1017 (allow-web): ...`, with its id and path.
fn about_rule(mut e: RealizationError, policy_path: &str, rule: &NsxRule) -> RealizationError {
    let name = rule.meta.name();
    let id = match rule.rule_id {
        Some(id) => id.to_string(),
        None => "without rule_id".to_owned(),
    };
    e.message = if name.is_empty() {
        format!("rule {id}: {}", e.message)
    } else {
        format!("rule {id} ({name}): {}", e.message)
    };
    e.rule_id = rule.rule_id;
    e.rule_path = Some(rule.meta.path.clone().unwrap_or_else(|| {
        format!(
            "{policy_path}/rules/{}",
            rule.meta.id.as_deref().unwrap_or(&id)
        )
    }));
    e
}
