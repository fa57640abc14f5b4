//! Policy statistics for NSX (docs/protocol.md §7.5, nsx-api.md §2.8, antrea-api.md §3):
//! Antrea's per-rule counters of the ClusterNetworkPolicy translated from an NSX security
//! policy, mapped back to NSX rule ids as NSX `RuleStatistics`.
//!
//! - Antrea rules are found by name: the CCP translator names them after the NSX rule id and
//!   side (`r-<rule_id>-in` / `r-<rule_id>-out`, `ccp::naming::rule_name`), so an `IN_OUT`
//!   NSX rule has two Antrea rules, whose counters are summed. Which NSX rule a name stands
//!   for is a parameter, `rule_id_of`: the I/O layer passes the CCP translator's own
//!   inverse (`ccp::naming::parse_rule_name`, its side mapped to [`RuleDirection`]), so the
//!   two cannot disagree.
//! - `sessions` → `hit_count` and `session_count`, `packets` → `packet_count`, `bytes` →
//!   `byte_count`. Counters Antrea does not have (popularity, maxima, L7) are 0.
//! - `internal_rule_id` lists the Antrea rule names that were summed, comma-separated.
//!
//! Counter resets: Antrea's counters are cumulative since the stats object's
//! `creationTimestamp` and start over when antrea-controller restarts or the policy is
//! re-created (new UID). [`StatsTracker`] keeps per policy the last counters it saw and
//! folds them into a carried total whenever a counter goes down or the UID or
//! `creationTimestamp` changes, so what it reports never decreases and is never negative,
//! and `counting_since` stays the start of the first counting period it saw. (An MP adapter
//! restart forgets the carried totals and starts from Antrea's current counters.)

use std::collections::{BTreeMap, HashMap};

use antrea_types::stats::{AntreaClusterNetworkPolicyStats, TrafficStats};
use k8s_openapi::jiff::Timestamp;

/// Which side of an NSX rule an Antrea rule carries (an `IN_OUT` NSX rule has both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleDirection {
    /// The Antrea ingress rule (`IN`).
    In,
    /// The Antrea egress rule (`OUT`).
    Out,
}

/// An NSX rule NSX wants counters for (`RuleRef` of the protocol).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    /// The rule path, echoed in the result.
    pub path: String,
    pub rule_id: i64,
}

/// NSX `RuleStatistics`, mapping 1:1 to the protocol message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleStatistics {
    pub rule: String,
    pub internal_rule_id: String,
    pub hit_count: i64,
    pub packet_count: i64,
    pub byte_count: i64,
    pub session_count: i64,
    pub popularity_index: i64,
    pub max_popularity_index: i64,
    pub max_session_count: i64,
    pub total_session_count: i64,
    pub l7_accept_count: i64,
    pub l7_reject_count: i64,
    pub l7_reject_with_response_count: i64,
    pub lr_path: String,
}

/// The statistics of one policy in this cluster (`PolicyStatisticsResult` without the
/// request's echo fields, which the I/O layer adds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyStatistics {
    /// The Antrea ClusterNetworkPolicy name (NSX `internal_section_id`).
    pub internal_section_id: String,
    /// One entry per requested rule, in request order.
    pub results: Vec<RuleStatistics>,
    /// Start of counting (the stats object's `creationTimestamp`, or the first one the
    /// tracker saw).
    pub counting_since: Option<Timestamp>,
}

fn non_negative(stats: TrafficStats) -> TrafficStats {
    TrafficStats {
        packets: stats.packets.max(0),
        sessions: stats.sessions.max(0),
        bytes: stats.bytes.max(0),
    }
}

fn add(a: TrafficStats, b: TrafficStats) -> TrafficStats {
    TrafficStats {
        packets: a.packets.saturating_add(b.packets),
        sessions: a.sessions.saturating_add(b.sessions),
        bytes: a.bytes.saturating_add(b.bytes),
    }
}

/// Maps per-rule counters (Antrea rule name → counters) to the requested NSX rules.
/// `rule_id_of` tells which NSX rule (and side) an Antrea rule name belongs to.
pub fn rule_statistics(
    rules: &[RuleRef],
    counters: &BTreeMap<String, TrafficStats>,
    rule_id_of: impl Fn(&str) -> Option<(i64, RuleDirection)>,
) -> Vec<RuleStatistics> {
    let mut by_rule: HashMap<i64, Vec<(RuleDirection, &str, TrafficStats)>> = HashMap::new();
    for (name, stats) in counters {
        if let Some((rule_id, side)) = rule_id_of(name) {
            by_rule
                .entry(rule_id)
                .or_default()
                .push((side, name.as_str(), non_negative(*stats)));
        }
    }
    rules
        .iter()
        .map(|rule| {
            let mut parts = by_rule.get(&rule.rule_id).cloned().unwrap_or_default();
            parts.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
            let total = parts
                .iter()
                .fold(TrafficStats::default(), |sum, (_, _, s)| add(sum, *s));
            RuleStatistics {
                rule: rule.path.clone(),
                internal_rule_id: parts
                    .iter()
                    .map(|(_, name, _)| *name)
                    .collect::<Vec<_>>()
                    .join(","),
                hit_count: total.sessions,
                packet_count: total.packets,
                byte_count: total.bytes,
                session_count: total.sessions,
                ..Default::default()
            }
        })
        .collect()
}

/// The per-rule counters of a stats object (a rule listed twice is summed).
pub fn counters_of(stats: &AntreaClusterNetworkPolicyStats) -> BTreeMap<String, TrafficStats> {
    let mut counters: BTreeMap<String, TrafficStats> = BTreeMap::new();
    for rule in &stats.rule_traffic_stats {
        let entry = counters.entry(rule.name.clone()).or_default();
        *entry = add(*entry, non_negative(rule.traffic_stats));
    }
    counters
}

/// Statistics of the requested rules straight from Antrea's counters (no reset handling).
pub fn policy_statistics(
    stats: &AntreaClusterNetworkPolicyStats,
    rules: &[RuleRef],
    rule_id_of: impl Fn(&str) -> Option<(i64, RuleDirection)>,
) -> PolicyStatistics {
    PolicyStatistics {
        internal_section_id: stats.metadata.name.clone().unwrap_or_default(),
        results: rule_statistics(rules, &counters_of(stats), rule_id_of),
        counting_since: stats.metadata.creation_timestamp.as_ref().map(|t| t.0),
    }
}

/// What the tracker remembers of one policy.
#[derive(Debug, Clone, Default)]
struct Baseline {
    uid: Option<String>,
    started: Option<Timestamp>,
    /// The start of the first counting period seen.
    since: Option<Timestamp>,
    /// Antrea's counters at the last read.
    last: BTreeMap<String, TrafficStats>,
    /// Totals of earlier counting periods.
    carried: BTreeMap<String, TrafficStats>,
}

/// Keeps counters monotonic across Antrea's resets (see the module documentation).
#[derive(Debug, Default)]
pub struct StatsTracker {
    policies: HashMap<String, Baseline>,
}

impl StatsTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a read of `stats` and returns the per-rule totals since the first read.
    pub fn observe(
        &mut self,
        stats: &AntreaClusterNetworkPolicyStats,
    ) -> (BTreeMap<String, TrafficStats>, Option<Timestamp>) {
        let name = stats.metadata.name.clone().unwrap_or_default();
        let uid = stats.metadata.uid.clone();
        let started = stats.metadata.creation_timestamp.as_ref().map(|t| t.0);
        let current = counters_of(stats);
        let baseline = self.policies.entry(name).or_default();
        let restarted =
            baseline.uid.is_some() && (baseline.uid != uid || baseline.started != started);
        if restarted {
            // A new counting period: everything counted before is carried.
            for (rule, last) in std::mem::take(&mut baseline.last) {
                let carried = baseline.carried.entry(rule).or_default();
                *carried = add(*carried, last);
            }
        } else {
            for (rule, now) in &current {
                if let Some(last) = baseline.last.get(rule)
                    && (now.packets < last.packets
                        || now.sessions < last.sessions
                        || now.bytes < last.bytes)
                {
                    let carried = baseline.carried.entry(rule.clone()).or_default();
                    *carried = add(*carried, *last);
                }
            }
            // A rule that vanished from the counters restarted too.
            let gone: Vec<String> = baseline
                .last
                .keys()
                .filter(|rule| !current.contains_key(*rule))
                .cloned()
                .collect();
            for rule in gone {
                if let Some(last) = baseline.last.remove(&rule) {
                    let carried = baseline.carried.entry(rule).or_default();
                    *carried = add(*carried, last);
                }
            }
        }
        baseline.uid = uid;
        baseline.started = started;
        if baseline.since.is_none() {
            baseline.since = started;
        }
        baseline.last = current.clone();
        let mut totals = baseline.carried.clone();
        for (rule, now) in current {
            let total = totals.entry(rule).or_default();
            *total = add(*total, now);
        }
        (totals, baseline.since)
    }

    /// [`policy_statistics`] with reset handling.
    pub fn policy_statistics(
        &mut self,
        stats: &AntreaClusterNetworkPolicyStats,
        rules: &[RuleRef],
        rule_id_of: impl Fn(&str) -> Option<(i64, RuleDirection)>,
    ) -> PolicyStatistics {
        let (totals, since) = self.observe(stats);
        PolicyStatistics {
            internal_section_id: stats.metadata.name.clone().unwrap_or_default(),
            results: rule_statistics(rules, &totals, rule_id_of),
            counting_since: since,
        }
    }

    /// Forgets a policy (deleted in NSX).
    pub fn forget(&mut self, policy_name: &str) {
        self.policies.remove(policy_name);
    }
}

#[cfg(test)]
mod tests;
