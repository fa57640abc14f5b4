//! Tests of the statistics mapping and the reset handling.

use antrea_types::stats::{AntreaClusterNetworkPolicyStats, RuleTrafficStats, TrafficStats};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use proptest::prelude::*;

use super::*;

/// The CCP translator's naming, `r-<rule_id>-in|out`, as test data uses it.
fn nsx_rule_of(name: &str) -> Option<(i64, RuleDirection)> {
    let rest = name.strip_prefix("r-")?;
    let (id, side) = rest.rsplit_once('-')?;
    let side = match side {
        "in" => RuleDirection::In,
        "out" => RuleDirection::Out,
        _ => return None,
    };
    Some((id.parse().ok()?, side))
}

fn stats(
    uid: &str,
    started: i64,
    rules: &[(&str, i64, i64, i64)],
) -> AntreaClusterNetworkPolicyStats {
    let mut s = AntreaClusterNetworkPolicyStats::named("nsx-p-web-1234");
    s.metadata.uid = Some(uid.to_owned());
    s.metadata.creation_timestamp = Some(Time(Timestamp::from_second(started).unwrap()));
    s.rule_traffic_stats = rules
        .iter()
        .map(|(name, sessions, packets, bytes)| RuleTrafficStats {
            name: name.to_string(),
            traffic_stats: TrafficStats {
                sessions: *sessions,
                packets: *packets,
                bytes: *bytes,
            },
        })
        .collect();
    s
}

fn refs(ids: &[i64]) -> Vec<RuleRef> {
    ids.iter()
        .map(|id| RuleRef {
            path: format!("/infra/domains/default/security-policies/web/rules/r{id}"),
            rule_id: *id,
        })
        .collect()
}

#[test]
fn both_sides_of_an_in_out_rule_are_summed_and_mapped_to_nsx_names() {
    let s = stats(
        "u1",
        1000,
        &[
            ("r-1017-in", 1, 4, 392),
            ("r-1017-out", 2, 6, 500),
            ("r-1018-in", 5, 9, 900),
            ("unrelated", 9, 9, 9),
        ],
    );
    let result = policy_statistics(&s, &refs(&[1017, 1018, 1019]), nsx_rule_of);
    assert_eq!(result.internal_section_id, "nsx-p-web-1234");
    assert_eq!(
        result.counting_since,
        Some(Timestamp::from_second(1000).unwrap())
    );
    let r = &result.results;
    assert_eq!(r.len(), 3);
    assert_eq!(
        r[0].rule,
        "/infra/domains/default/security-policies/web/rules/r1017"
    );
    assert_eq!(r[0].internal_rule_id, "r-1017-in,r-1017-out");
    assert_eq!(
        (
            r[0].hit_count,
            r[0].session_count,
            r[0].packet_count,
            r[0].byte_count
        ),
        (3, 3, 10, 892)
    );
    assert_eq!(r[1].internal_rule_id, "r-1018-in");
    assert_eq!((r[1].packet_count, r[1].byte_count), (9, 900));
    // A rule without counters is present with zeros, in request order.
    assert_eq!(
        r[2],
        RuleStatistics {
            rule: refs(&[1019])[0].path.clone(),
            ..Default::default()
        }
    );
}

#[test]
fn negative_counters_are_never_reported() {
    let s = stats("u1", 1000, &[("r-1-in", -5, -1, -7)]);
    let r = &policy_statistics(&s, &refs(&[1]), nsx_rule_of).results[0];
    assert_eq!((r.hit_count, r.packet_count, r.byte_count), (0, 0, 0));
}

#[test]
fn a_controller_restart_folds_the_old_counters_into_the_totals() {
    let mut tracker = StatsTracker::new();
    let first = tracker.policy_statistics(
        &stats("u1", 1000, &[("r-1-in", 2, 10, 100)]),
        &refs(&[1]),
        nsx_rule_of,
    );
    assert_eq!(first.results[0].packet_count, 10);
    let grown = tracker.policy_statistics(
        &stats("u1", 1000, &[("r-1-in", 3, 15, 150)]),
        &refs(&[1]),
        nsx_rule_of,
    );
    assert_eq!(grown.results[0].packet_count, 15);
    // antrea-controller restarts: counters start over with a new creationTimestamp.
    let after = tracker.policy_statistics(
        &stats("u1", 2000, &[("r-1-in", 1, 4, 40)]),
        &refs(&[1]),
        nsx_rule_of,
    );
    assert_eq!(
        (
            after.results[0].session_count,
            after.results[0].packet_count,
            after.results[0].byte_count
        ),
        (4, 19, 190)
    );
    assert_eq!(
        after.counting_since,
        Some(Timestamp::from_second(1000).unwrap())
    );
    // A decrease without a new timestamp is a reset too.
    let dropped = tracker.policy_statistics(
        &stats("u1", 2000, &[("r-1-in", 1, 2, 20)]),
        &refs(&[1]),
        nsx_rule_of,
    );
    assert_eq!(dropped.results[0].packet_count, 21);
    // A re-created policy (new UID) carries the totals as well.
    let recreated = tracker.policy_statistics(
        &stats("u2", 3000, &[("r-1-in", 0, 1, 1)]),
        &refs(&[1]),
        nsx_rule_of,
    );
    assert_eq!(recreated.results[0].packet_count, 22);
    tracker.forget("nsx-p-web-1234");
    let fresh = tracker.policy_statistics(
        &stats("u2", 3000, &[("r-1-in", 0, 1, 1)]),
        &refs(&[1]),
        nsx_rule_of,
    );
    assert_eq!(fresh.results[0].packet_count, 1);
}

proptest! {
    /// Whatever Antrea reports (growing counters, resets, restarts), the tracker's totals
    /// never decrease and never go negative.
    #[test]
    fn tracked_totals_never_decrease(
        reads in prop::collection::vec((0u8..3, -3i64..50, -3i64..50, any::<bool>()), 1..30)
    ) {
        let mut tracker = StatsTracker::new();
        let mut previous: Option<RuleStatistics> = None;
        for (period, packets, bytes, both_sides) in reads {
            let mut rules = vec![("r-7-in", packets, packets, bytes)];
            if both_sides {
                rules.push(("r-7-out", bytes, packets, bytes));
            }
            let s = stats(&format!("u{period}"), 1000 + i64::from(period), &rules);
            let now = tracker.policy_statistics(&s, &refs(&[7]), nsx_rule_of).results.remove(0);
            prop_assert!(now.packet_count >= 0 && now.byte_count >= 0 && now.session_count >= 0);
            if let Some(before) = &previous {
                prop_assert!(now.packet_count >= before.packet_count);
                prop_assert!(now.byte_count >= before.byte_count);
                prop_assert!(now.session_count >= before.session_count);
            }
            previous = Some(now);
        }
    }
}
