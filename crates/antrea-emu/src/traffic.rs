//! The traffic model behind the emulated policy statistics: which flows the workload
//! exchanges on every stats tick, and what each flow adds to the rules it hits.
//!
//! The workload Pods are those running with an address and not on the host network, sorted
//! by Namespace then name: `p[0] .. p[n-1]`. Every Pod talks to `k` peers, the Pods that
//! follow it in that order (wrapping around): `k = n - 1` (every ordered pair) when
//! `n <= full_mesh_limit`, else `k = min(peers_per_pod, n - 1)`. Each (source, peer) pair
//! opens one flow per entry of `ports`, from source port 10000. Flows are numbered
//! `f = (i * k + (j - 1)) * ports.len() + port_index` for source `p[i]`, peer `p[(i + j) % n]`
//! (`1 <= j <= k`); a tick takes the next `max_flows_per_tick` flows from a cursor that
//! carries over from tick to tick, so every flow is visited in turn when they do not all fit.
//!
//! Each flow is judged by `antrea_policy::ClusterIndex::matching_rules` (egress at the source,
//! then ingress at the peer). The deciding rule of each direction (`FlowMatch::counted_rules`:
//! Pass rules and K8s isolation count nothing) gains `allowed` when the flow is allowed end
//! to end, else `denied` (the first packet, dropped or rejected).

use std::collections::HashMap;

use antrea_policy::{
    ClusterIndex, Destination, Direction, FlowMatch, PacketSpec, PodName, PolicyRef, Protocol,
};
use antrea_types::stats::TrafficStats;

/// Tunables of the traffic model.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficModel {
    /// Protocol and destination port of the flows every Pod pair opens per tick.
    pub ports: Vec<(Protocol, u16)>,
    /// Up to this many workload Pods, every ordered pair exchanges traffic.
    pub full_mesh_limit: usize,
    /// Peers per Pod above `full_mesh_limit`.
    pub peers_per_pod: usize,
    /// Most flows evaluated in one tick.
    pub max_flows_per_tick: usize,
    /// What an allowed flow adds to each rule it hits, per tick.
    pub allowed: TrafficStats,
    /// What a dropped or rejected flow adds to each rule it hits, per tick.
    pub denied: TrafficStats,
}

impl Default for TrafficModel {
    fn default() -> Self {
        TrafficModel {
            ports: vec![
                (Protocol::Tcp, 80),
                (Protocol::Tcp, 443),
                (Protocol::Udp, 53),
            ],
            full_mesh_limit: 64,
            peers_per_pod: 8,
            max_flows_per_tick: 10_000,
            allowed: TrafficStats {
                sessions: 1,
                packets: 10,
                bytes: 1_000,
            },
            denied: TrafficStats {
                sessions: 1,
                packets: 1,
                bytes: 100,
            },
        }
    }
}

/// One flow of a tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub source: PodName,
    pub destination: PodName,
    pub protocol: Protocol,
    pub port: u16,
}

impl Flow {
    /// The first packet of the flow.
    pub fn packet(&self) -> PacketSpec {
        PacketSpec::l4(
            self.protocol,
            self.source.clone(),
            Destination::Pod(self.destination.clone()),
            self.port,
        )
    }
}

/// A rule that counts traffic: its policy, direction, position and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountedRule {
    pub policy: PolicyRef,
    pub direction: Direction,
    pub rule_index: usize,
    /// The rule name (K8s NetworkPolicy rules have none).
    pub name: Option<String>,
}

/// What one tick added, per rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TickTraffic {
    /// Increments, in the order the rules first counted traffic during the tick.
    pub rules: Vec<(CountedRule, TrafficStats)>,
    /// Flows evaluated.
    pub flows: usize,
    /// Flows allowed end to end.
    pub allowed: usize,
    /// Flows that could not be evaluated (a Pod went away).
    pub skipped: usize,
}

impl TrafficModel {
    /// How many peers each of `pods` workload Pods talks to.
    pub fn peers(&self, pods: usize) -> usize {
        if pods < 2 {
            0
        } else if pods <= self.full_mesh_limit {
            pods - 1
        } else {
            self.peers_per_pod.min(pods - 1)
        }
    }

    /// Number of distinct flows among `pods` workload Pods.
    pub fn flow_count(&self, pods: usize) -> usize {
        pods * self.peers(pods) * self.ports.len()
    }

    /// Flow number `number` among `pods` (sorted).
    pub fn flow(&self, pods: &[PodName], number: usize) -> Option<Flow> {
        let n = pods.len();
        let peers = self.peers(n);
        let per_port = self.ports.len();
        if peers == 0 || per_port == 0 || number >= self.flow_count(n) {
            return None;
        }
        let port_index = number % per_port;
        let pair = number / per_port;
        let source = pair / peers;
        let offset = pair % peers + 1;
        let (protocol, port) = self.ports[port_index];
        Some(Flow {
            source: pods[source].clone(),
            destination: pods[(source + offset) % n].clone(),
            protocol,
            port,
        })
    }

    /// The flows of the tick that starts at `cursor`, and the cursor of the next tick.
    pub fn tick_flows(&self, pods: &[PodName], cursor: usize) -> (Vec<Flow>, usize) {
        let total = self.flow_count(pods.len());
        if total == 0 {
            return (Vec::new(), 0);
        }
        let count = total.min(self.max_flows_per_tick);
        let start = cursor % total;
        let flows = (0..count)
            .filter_map(|offset| self.flow(pods, (start + offset) % total))
            .collect();
        (flows, (start + count) % total)
    }

    /// What one flow adds: `(rule, increment)` for each rule it counts toward.
    pub fn judge(&self, matched: &FlowMatch) -> Vec<(CountedRule, TrafficStats)> {
        let increment = if matched.allowed() {
            self.allowed
        } else {
            self.denied
        };
        matched
            .counted_rules()
            .into_iter()
            .map(|rule| {
                (
                    CountedRule {
                        policy: rule.policy.clone(),
                        direction: rule.direction,
                        rule_index: rule.rule_index,
                        name: rule.rule_name.clone(),
                    },
                    increment,
                )
            })
            .collect()
    }

    /// Evaluates `flows` against `index` and adds up what they count.
    pub fn evaluate(&self, index: &ClusterIndex, flows: &[Flow], into: &mut TickAccumulator) {
        for flow in flows {
            into.traffic.flows += 1;
            match index.matching_rules(&flow.packet()) {
                Ok(matched) => {
                    if matched.allowed() {
                        into.traffic.allowed += 1;
                    }
                    for (rule, increment) in self.judge(&matched) {
                        into.add(rule, increment);
                    }
                }
                Err(_) => into.traffic.skipped += 1,
            }
        }
    }
}

/// Adds up the increments of a tick, keeping the order rules first appear in.
#[derive(Debug, Default)]
pub struct TickAccumulator {
    positions: HashMap<CountedRule, usize>,
    traffic: TickTraffic,
}

impl TickAccumulator {
    fn add(&mut self, rule: CountedRule, increment: TrafficStats) {
        let position = match self.positions.get(&rule) {
            Some(position) => *position,
            None => {
                self.positions
                    .insert(rule.clone(), self.traffic.rules.len());
                self.traffic.rules.push((rule, TrafficStats::default()));
                self.traffic.rules.len() - 1
            }
        };
        add_up(&mut self.traffic.rules[position].1, &increment);
    }

    /// What the tick added.
    pub fn finish(self) -> TickTraffic {
        self.traffic
    }
}

/// `addUp` of antrea-controller's stats aggregator.
pub fn add_up(stats: &mut TrafficStats, increment: &TrafficStats) {
    stats.sessions += increment.sessions;
    stats.packets += increment.packets;
    stats.bytes += increment.bytes;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pods(n: usize) -> Vec<PodName> {
        (0..n)
            .map(|i| PodName::new("ns", format!("p{i}")))
            .collect()
    }

    #[test]
    fn small_workloads_are_a_full_mesh() {
        let model = TrafficModel::default();
        assert_eq!(model.peers(0), 0);
        assert_eq!(model.peers(1), 0);
        assert_eq!(model.peers(3), 2);
        assert_eq!(model.flow_count(3), 3 * 2 * 3);
        let pods = pods(3);
        let (flows, cursor) = model.tick_flows(&pods, 0);
        assert_eq!(flows.len(), 18);
        assert_eq!(cursor, 0);
        let first = &flows[0];
        assert_eq!(
            (first.source.name.as_str(), first.destination.name.as_str()),
            ("p0", "p1")
        );
        assert_eq!((first.protocol, first.port), (Protocol::Tcp, 80));
        assert_eq!(flows[2].port, 53);
        assert_eq!(flows[3].destination.name, "p2");
        // p2's peers wrap around to p0 and p1.
        assert_eq!(flows[12].source.name, "p2");
        assert_eq!(flows[12].destination.name, "p0");
        assert_eq!(flows[15].destination.name, "p1");
        // Every ordered pair appears once per port.
        let mut pairs: Vec<(String, String)> = flows
            .iter()
            .filter(|f| f.port == 80)
            .map(|f| (f.source.name.clone(), f.destination.name.clone()))
            .collect();
        pairs.sort();
        pairs.dedup();
        assert_eq!(pairs.len(), 6);
    }

    #[test]
    fn large_workloads_talk_to_their_next_peers_and_ticks_rotate() {
        let model = TrafficModel {
            full_mesh_limit: 4,
            peers_per_pod: 2,
            max_flows_per_tick: 7,
            ports: vec![(Protocol::Tcp, 80)],
            ..TrafficModel::default()
        };
        let pods = pods(5);
        assert_eq!(model.flow_count(5), 10);
        let (first, cursor) = model.tick_flows(&pods, 0);
        assert_eq!(first.len(), 7);
        assert_eq!(cursor, 7);
        let (second, cursor) = model.tick_flows(&pods, cursor);
        assert_eq!(second.len(), 7);
        assert_eq!(cursor, 4);
        // The second tick starts where the first stopped and wraps around.
        assert_eq!(second[0], model.flow(&pods, 7).unwrap());
        assert_eq!(second[3], model.flow(&pods, 0).unwrap());
        let last = model.flow(&pods, 9).unwrap();
        assert_eq!(
            (last.source.name.as_str(), last.destination.name.as_str()),
            ("p4", "p1")
        );
        assert!(model.flow(&pods, 10).is_none());
        assert!(model.tick_flows(&pods[..1], 0).0.is_empty());
    }

    #[test]
    fn increments_keep_first_seen_order() {
        let mut accumulator = TickAccumulator::default();
        let rule = |name: &str| CountedRule {
            policy: PolicyRef::cluster("p"),
            direction: Direction::Ingress,
            rule_index: 0,
            name: Some(name.to_string()),
        };
        let one = TrafficStats {
            sessions: 1,
            packets: 2,
            bytes: 3,
        };
        accumulator.add(rule("b"), one);
        accumulator.add(rule("a"), one);
        accumulator.add(rule("b"), one);
        let traffic = accumulator.finish();
        assert_eq!(traffic.rules.len(), 2);
        assert_eq!(traffic.rules[0].0.name.as_deref(), Some("b"));
        assert_eq!(
            traffic.rules[0].1,
            TrafficStats {
                sessions: 2,
                packets: 4,
                bytes: 6
            }
        );
    }
}
