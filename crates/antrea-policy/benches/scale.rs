//! Scale benchmark (`cargo bench -p antrea-policy`): builds a deterministic cluster of 50,000
//! Pods, 5,000 ClusterGroups and 2,000 ACNPs and prints how long the index takes to build, to
//! evaluate a packet, to compute every policy span and every group's members, and to absorb
//! incremental updates. Numbers are printed, not asserted.

use std::hint::black_box;
use std::time::{Duration, Instant};

use antrea_policy::{ClusterIndex, Destination, PacketSpec, PodName, Verdict};
use antrea_types::{ClusterGroup, ClusterNetworkPolicy, Tier};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::{Value, json};

const NODES: usize = 250;
const NAMESPACES: usize = 500;
const PODS: usize = 50_000;
const APPS_PER_NAMESPACE: usize = 10;
const CLUSTER_GROUPS: usize = 5_000;
const POLICIES: usize = 2_000;
const PACKETS: usize = 2_000;
const TIERS: [&str; 3] = ["frontend", "backend", "data"];
const ENVS: [&str; 3] = ["prod", "dev", "staging"];

/// A small deterministic generator (64-bit LCG).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("generated object")
}

fn pod_address(index: usize) -> String {
    let node = index % NODES;
    let slot = index / NODES;
    format!("10.{}.{}.{}", node, slot / 250, slot % 250 + 2)
}

fn pod_name(index: usize) -> (String, String) {
    let namespace = index % NAMESPACES;
    (format!("ns-{namespace:03}"), format!("pod-{index:05}"))
}

fn pod(index: usize) -> Pod {
    let (namespace, name) = pod_name(index);
    let app = (index / NAMESPACES) % APPS_PER_NAMESPACE;
    from_json(json!({
        "metadata": {"namespace": namespace, "name": name, "labels": {
            "app": format!("app-{app}"),
            "tier": TIERS[app % 3],
            "pod-template-hash": format!("h{app}"),
        }},
        "spec": {
            "nodeName": format!("node-{:03}", index % NODES),
            "serviceAccountName": format!("sa-{}", app % 4),
            "containers": [{"name": "main", "ports": [{"name": "http", "containerPort": 8080}]}],
        },
        "status": {"phase": "Running", "podIP": pod_address(index), "podIPs": [{"ip": pod_address(index)}]},
    }))
}

fn objects_namespaces() -> Vec<Namespace> {
    (0..NAMESPACES)
        .map(|n| {
            from_json(
                json!({"metadata": {"name": format!("ns-{n:03}"), "labels": {
                    "team": format!("team-{}", n % 20),
                    "env": ENVS[n % 3],
                }}}),
            )
        })
        .collect()
}

fn objects_nodes() -> Vec<Node> {
    (0..NODES)
        .map(|n| {
            from_json(json!({
                "metadata": {"name": format!("node-{n:03}"), "labels": {"zone": format!("zone-{}", n % 5)}},
                "spec": {"podCIDR": format!("10.{n}.0.0/16"), "podCIDRs": [format!("10.{n}.0.0/16")]},
                "status": {"addresses": [{"type": "InternalIP", "address": format!("192.168.{}.{}", n / 250, n % 250 + 1)}]},
            }))
        })
        .collect()
}

fn objects_services() -> Vec<Service> {
    (0..NAMESPACES)
        .flat_map(|n| {
            (0..2).map(move |app| {
                from_json(json!({
                    "metadata": {"namespace": format!("ns-{n:03}"), "name": format!("svc-{app}")},
                    "spec": {
                        "clusterIP": format!("10.96.{}.{}", (n * 2 + app) / 250, (n * 2 + app) % 250 + 1),
                        "selector": {"app": format!("app-{app}")},
                        "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
                    },
                }))
            })
        })
        .collect()
}

fn objects_tiers() -> Vec<Tier> {
    [
        ("nsx-emergency", 40),
        ("nsx-infrastructure", 90),
        ("nsx-environment", 140),
        ("nsx-application", 240),
    ]
    .into_iter()
    .map(|(name, priority)| {
        from_json(json!({"metadata": {"name": name}, "spec": {"priority": priority}}))
    })
    .collect()
}

/// Leaf groups first (0..4500), then parents with children (4500..5000).
fn objects_cluster_groups(rng: &mut Lcg) -> Vec<ClusterGroup> {
    (0..CLUSTER_GROUPS)
        .map(|g| {
            let spec = if g >= 4_500 {
                let children: Vec<String> = (0..3).map(|_| format!("cg-{:04}", rng.below(4_500))).collect();
                json!({"childGroups": children})
            } else {
                match g % 20 {
                    0..=11 => json!({
                        "podSelector": {"matchLabels": {"app": format!("app-{}", rng.below(APPS_PER_NAMESPACE))}},
                        "namespaceSelector": {"matchLabels": {"team": format!("team-{}", rng.below(20))}},
                    }),
                    12..=14 => json!({"namespaceSelector": {"matchLabels": {"env": ENVS[rng.below(3)]}}}),
                    15..=17 => json!({"ipBlocks": [{"cidr": format!("172.{}.{}.0/24", 16 + rng.below(16), rng.below(256))}]}),
                    _ => json!({"serviceReference": {"namespace": format!("ns-{:03}", rng.below(NAMESPACES)), "name": format!("svc-{}", rng.below(2))}}),
                }
            };
            from_json(json!({"metadata": {"name": format!("cg-{g:04}")}, "spec": spec}))
        })
        .collect()
}

fn objects_policies(rng: &mut Lcg) -> Vec<ClusterNetworkPolicy> {
    let tiers = [
        "emergency",
        "securityops",
        "networkops",
        "platform",
        "application",
        "baseline",
        "nsx-emergency",
        "nsx-infrastructure",
        "nsx-environment",
        "nsx-application",
    ];
    (0..POLICIES)
        .map(|p| {
            let tier = tiers[rng.below(tiers.len())];
            let group = |rng: &mut Lcg| format!("cg-{:04}", rng.below(CLUSTER_GROUPS));
            let applied_to = group(rng);
            let pass_or_drop = if tier == "baseline" { "Drop" } else { ["Drop", "Pass"][rng.below(2)] };
            from_json(json!({
                "metadata": {"name": format!("acnp-{p:04}")},
                "spec": {
                    "tier": tier,
                    "priority": 1 + rng.below(100),
                    "appliedTo": [{"group": applied_to}],
                    "ingress": [
                        {"action": "Allow", "name": format!("r-{p}-in-0"), "from": [{"group": group(rng)}],
                         "ports": [{"protocol": "TCP", "port": "http"}]},
                        {"action": pass_or_drop, "name": format!("r-{p}-in-1"), "from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": [format!("10.{}.0.0/16", rng.below(NODES))]}}],
                         "ports": [{"protocol": "TCP", "port": 8000, "endPort": 8100}]},
                        {"action": "Drop", "name": format!("r-{p}-in-2"), "from": [{"group": group(rng)}],
                         "protocols": [{"icmp": {"icmpType": 8}}]},
                    ],
                    "egress": [
                        {"action": "Allow", "name": format!("r-{p}-out-0"), "to": [{"group": group(rng)}], "ports": [{"protocol": "UDP", "port": 53}]},
                        {"action": "Reject", "name": format!("r-{p}-out-1"), "to": [{"group": group(rng)}],
                         "ports": [{"protocol": "TCP", "port": 6000 + rng.below(10)}]},
                    ],
                },
            }))
        })
        .collect()
}

fn objects_k8s_policies() -> Vec<NetworkPolicy> {
    (0..NAMESPACES)
        .map(|n| {
            from_json(json!({
                "metadata": {"namespace": format!("ns-{n:03}"), "name": "web"},
                "spec": {
                    "podSelector": {"matchLabels": {"app": "app-0"}},
                    "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "app-1"}}}], "ports": [{"port": "http"}]}],
                },
            }))
        })
        .collect()
}

fn per_item(total: Duration, count: usize) -> String {
    format!("{:.1} µs", total.as_secs_f64() * 1e6 / count as f64)
}

fn main() {
    let mut rng = Lcg(0x5eed);
    let generate = Instant::now();
    let nodes = objects_nodes();
    let namespaces = objects_namespaces();
    let pods: Vec<Pod> = (0..PODS).map(pod).collect();
    let services = objects_services();
    let tiers = objects_tiers();
    let groups = objects_cluster_groups(&mut rng);
    let policies = objects_policies(&mut rng);
    let k8s_policies = objects_k8s_policies();
    println!("generated objects in {:.2?}", generate.elapsed());

    let mut index = ClusterIndex::new();
    let build = Instant::now();
    for node in &nodes {
        index.apply_node(node).unwrap();
    }
    for namespace in &namespaces {
        index.apply_namespace(namespace).unwrap();
    }
    let pods_start = Instant::now();
    for pod in &pods {
        index.apply_pod(pod).unwrap();
    }
    let pods_time = pods_start.elapsed();
    for service in &services {
        index.apply_service(service).unwrap();
    }
    for tier in &tiers {
        index.apply_tier(tier).unwrap();
    }
    let groups_start = Instant::now();
    for group in &groups {
        index.apply_cluster_group(group).unwrap();
    }
    let groups_time = groups_start.elapsed();
    let policies_start = Instant::now();
    for policy in &policies {
        index.apply_cluster_network_policy(policy).unwrap();
    }
    let policies_time = policies_start.elapsed();
    for policy in &k8s_policies {
        index.apply_k8s_network_policy(policy).unwrap();
    }
    let build_time = build.elapsed();
    println!(
        "index build: {build_time:.2?} total ({} pods in {pods_time:.2?}, {} ClusterGroups in {groups_time:.2?}, {} ACNPs in {policies_time:.2?}, {} Services, {} K8s NetworkPolicies)",
        index.pod_count(),
        groups.len(),
        index.antrea_policy_count(),
        services.len(),
        k8s_policies.len(),
    );

    let packets: Vec<PacketSpec> = (0..PACKETS)
        .map(|i| {
            let (source_namespace, source) = pod_name(rng.below(PODS));
            let source = PodName::new(source_namespace, source);
            match i % 4 {
                0 => {
                    let (namespace, name) = pod_name(rng.below(PODS));
                    PacketSpec::tcp(
                        source,
                        Destination::Pod(PodName::new(namespace, name)),
                        8080,
                    )
                }
                1 => {
                    let (namespace, name) = pod_name(rng.below(PODS));
                    PacketSpec::icmp_echo(source, Destination::Pod(PodName::new(namespace, name)))
                }
                2 => PacketSpec::tcp(
                    source,
                    Destination::Service {
                        namespace: format!("ns-{:03}", rng.below(NAMESPACES)),
                        name: format!("svc-{}", rng.below(2)),
                    },
                    80,
                ),
                _ => PacketSpec::udp(
                    source,
                    Destination::Ip(
                        format!("172.{}.{}.9", 16 + rng.below(16), rng.below(256))
                            .parse()
                            .unwrap(),
                    ),
                    53,
                ),
            }
        })
        .collect();
    let mut verdicts = [0usize; 4];
    let mut run = |label: &str| {
        let evaluate = Instant::now();
        for packet in &packets {
            let evaluation = index.evaluate(packet).expect("evaluate");
            verdicts[match evaluation.verdict {
                Verdict::Delivered => 0,
                Verdict::Dropped => 1,
                Verdict::Rejected => 2,
                Verdict::ForwardedOutOfNetwork => 3,
            }] += 1;
            black_box(evaluation);
        }
        let evaluate_time = evaluate.elapsed();
        println!(
            "evaluate ({label}): {} packets in {evaluate_time:.2?} = {} per packet",
            packets.len(),
            per_item(evaluate_time, packets.len()),
        );
    };
    run("cold appliedTo cache");
    run("warm appliedTo cache");
    println!(
        "  verdicts over both runs: delivered {}, dropped {}, rejected {}, out of network {}",
        verdicts[0], verdicts[1], verdicts[2], verdicts[3],
    );
    let matching = Instant::now();
    for packet in &packets {
        black_box(index.matching_rules(packet).expect("matching rules"));
    }
    let matching_time = matching.elapsed();
    println!(
        "matching_rules: {} per flow",
        per_item(matching_time, packets.len())
    );

    let spans = Instant::now();
    let all = index.all_policy_spans();
    let spans_time = spans.elapsed();
    let total_nodes: usize = all.values().map(|span| span.nodes.len()).sum();
    println!(
        "all_policy_spans: {} policies in {spans_time:.2?} = {} per policy (average span {:.1} Nodes)",
        all.len(),
        per_item(spans_time, all.len()),
        total_nodes as f64 / all.len() as f64,
    );
    let single = Instant::now();
    for p in 0..200 {
        black_box(index.cluster_network_policy_span(&format!("acnp-{p:04}")));
    }
    println!(
        "policy_span (one policy, no sharing): {} per policy",
        per_item(single.elapsed(), 200)
    );

    let computed = Instant::now();
    for g in 0..CLUSTER_GROUPS {
        black_box(index.cluster_group_members_computed(&format!("cg-{g:04}")));
    }
    println!(
        "cluster_group_members_computed: {} per group",
        per_item(computed.elapsed(), CLUSTER_GROUPS)
    );
    let members = Instant::now();
    let mut member_pods = 0usize;
    let sampled: Vec<usize> = (0..CLUSTER_GROUPS).step_by(5).collect();
    for g in &sampled {
        member_pods += index
            .cluster_group_members(&format!("cg-{g:04}"))
            .unwrap()
            .pods
            .len();
    }
    let members_time = members.elapsed();
    println!(
        "cluster_group_members: {} groups in {members_time:.2?} = {} per group (average {} Pods, {} per member Pod)",
        sampled.len(),
        per_item(members_time, sampled.len()),
        member_pods / sampled.len(),
        per_item(members_time, member_pods.max(1)),
    );

    let updates = Instant::now();
    for i in 0..5_000 {
        let mut changed = pod(i * 7 % PODS);
        changed
            .metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("app".into(), format!("app-{}", i % APPS_PER_NAMESPACE));
        index.apply_pod(&changed).unwrap();
    }
    for p in 0..500 {
        index.apply_cluster_network_policy(&policies[p]).unwrap();
        index.apply_cluster_group(&groups[p]).unwrap();
    }
    let updates_time = updates.elapsed();
    println!(
        "incremental: 5000 Pod relabels + 500 ACNP and 500 ClusterGroup re-applies in {updates_time:.2?} = {} per update",
        per_item(updates_time, 6_000),
    );
}
