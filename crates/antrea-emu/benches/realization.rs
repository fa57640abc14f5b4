//! Scale benchmark (`cargo bench -p antrea-emu --bench realization`): an emulated cluster of
//! 200 Nodes gets 50,000 Pods, 5,000 ClusterGroups and 2,000 ClusterNetworkPolicies through
//! the API (kube-rs on the in-process router), and the time until every policy is `Realized`
//! for its current generation is printed, with the phases before it. Numbers are printed, not
//! asserted. `ANTREA_BENCH_SCALE` (a fraction such as `0.1`) shrinks every count;
//! `ANTREA_BENCH_PODS`, `ANTREA_BENCH_GROUPS` and `ANTREA_BENCH_POLICIES` set one count.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use antrea_emu::{AntreaEmu, AntreaOptions};
use antrea_types::{ClusterGroup, ClusterNetworkPolicy};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Client;
use kube::api::{Api, ListParams, PostParams};
use kube_emu::{EmuOptions, KubeEmu};
use serde_json::{Value, json};

const NODES: usize = 200;
const NAMESPACES: usize = 100;
const APPS: usize = 50;
const PODS: usize = 50_000;
const CLUSTER_GROUPS: usize = 5_000;
const POLICIES: usize = 2_000;
const IN_FLIGHT: usize = 64;

fn scaled(count: usize, scale: f64) -> usize {
    ((count as f64 * scale).round() as usize).max(1)
}

fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("generated object")
}

/// Creates every object with `IN_FLIGHT` requests at a time.
async fn create_all<K>(api: &Api<K>, objects: Vec<K>)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let results: Vec<_> = futures::stream::iter(objects)
        .map(|object| {
            let api = api.clone();
            async move { api.create(&PostParams::default(), &object).await }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    if failed > 0 {
        println!(
            "  {failed} creations failed, first: {:?}",
            results.iter().find_map(|r| r.as_ref().err())
        );
    }
}

async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> (usize, usize)) {
    let start = Instant::now();
    let mut last_report = Instant::now();
    loop {
        let (done, total) = check().await;
        if done >= total {
            return;
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            println!("  ... {what}: {done}/{total} after {:.1?}", start.elapsed());
            last_report = Instant::now();
        }
        if start.elapsed() > Duration::from_secs(1_800) {
            println!("  gave up waiting for {what}: {done}/{total}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn main() {
    let scale: f64 = std::env::var("ANTREA_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let count = |variable: &str, default: usize| {
        std::env::var(variable)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| scaled(default, scale))
    };
    let pods = count("ANTREA_BENCH_PODS", PODS);
    let groups = count("ANTREA_BENCH_GROUPS", CLUSTER_GROUPS);
    let policies = count("ANTREA_BENCH_POLICIES", POLICIES);
    let nodes = scaled(NODES, scale)
        .max(pods.div_ceil(240))
        .min(antrea_emu::MAX_NODES);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(nodes, pods, groups, policies));
}

async fn run(nodes: usize, pods: usize, groups: usize, policies: usize) {
    println!(
        "antrea-emu realization benchmark: {nodes} Nodes, {pods} Pods, {groups} ClusterGroups, {policies} ACNPs"
    );
    let emu = KubeEmu::with_options(EmuOptions {
        history_limit: 400_000,
        watch_buffer: 400_000,
        request_log_limit: 1_000,
        ..EmuOptions::default()
    });
    let started = Instant::now();
    let antrea = AntreaEmu::install(
        &emu,
        AntreaOptions {
            nodes,
            realize_delay: Duration::ZERO,
            ..AntreaOptions::default()
        },
    )
    .await
    .expect("install");
    println!(
        "install ({nodes} Nodes, CRDs, tiers, monitors): {:.2?}",
        started.elapsed()
    );
    let client = Client::new(emu.router(), "default");

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace_objects = (0..NAMESPACES)
        .map(|n| {
            from_json(json!({"metadata": {"name": format!("ns-{n:03}"),
                "labels": {"team": format!("team-{}", n % 20), "env": (["prod", "dev", "staging"][n % 3])}}}))
        })
        .collect();
    create_all(&namespaces, namespace_objects).await;

    // Pods: created without a Node, scheduled and started by the emulation.
    let phase = Instant::now();
    let mut by_namespace: BTreeMap<String, Vec<Pod>> = BTreeMap::new();
    for i in 0..pods {
        let namespace = format!("ns-{:03}", i % NAMESPACES);
        let app = (i / NAMESPACES) % APPS;
        by_namespace.entry(namespace.clone()).or_default().push(from_json(json!({
            "metadata": {"name": format!("pod-{i:05}"), "namespace": namespace,
                         "labels": {"app": format!("app-{app}"), "tier": (["frontend", "backend", "data"][app % 3])}},
            "spec": {"containers": [{"name": "main", "image": "nginx:1.27",
                                     "ports": [{"name": "http", "containerPort": 8080}]}]},
        })));
    }
    let all_pods: Vec<(String, Pod)> = by_namespace
        .into_iter()
        .flat_map(|(ns, list)| list.into_iter().map(move |pod| (ns.clone(), pod)))
        .collect();
    let results: Vec<_> = futures::stream::iter(all_pods)
        .map(|(namespace, pod)| {
            let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
            async move { api.create(&PostParams::default(), &pod).await }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    println!(
        "created {pods} Pods in {:.2?} ({failed} failed)",
        phase.elapsed()
    );
    let pod_api: Api<Pod> = Api::all(client.clone());
    wait_until("Pods running", async || {
        let list = pod_api
            .list(&ListParams::default().fields("status.phase=Running"))
            .await
            .map(|l| l.items.len())
            .unwrap_or(0);
        (list, pods + nodes + 1)
    })
    .await;
    println!("{pods} Pods scheduled and running: {:.2?}", phase.elapsed());

    // ClusterGroups: 80% selectors, 10% ipBlocks, 10% parents of three leaves.
    let phase = Instant::now();
    let leaves = groups - groups / 10;
    let group_objects: Vec<ClusterGroup> = (0..groups)
        .map(|g| {
            let spec = if g >= leaves {
                json!({"childGroups": [format!("cg-{:04}", g % leaves), format!("cg-{:04}", (g * 7) % leaves), format!("cg-{:04}", (g * 13) % leaves)]})
            } else if g % 9 == 8 {
                json!({"ipBlocks": [{"cidr": format!("172.{}.{}.0/24", 16 + g % 16, g % 256)}]})
            } else if g % 3 == 0 {
                json!({"podSelector": {"matchLabels": {"app": format!("app-{}", g % APPS)}},
                       "namespaceSelector": {"matchLabels": {"team": format!("team-{}", g % 20)}}})
            } else {
                json!({"podSelector": {"matchLabels": {"app": format!("app-{}", g % APPS)}}})
            };
            from_json(json!({"metadata": {"name": format!("cg-{g:04}")}, "spec": spec}))
        })
        .collect();
    let group_api: Api<ClusterGroup> = Api::all(client.clone());
    // Leaves first, so parents never wait for a child.
    create_all(&group_api, group_objects).await;
    println!("created {groups} ClusterGroups in {:.2?}", phase.elapsed());
    wait_until("GroupMembersComputed", async || {
        let computed = group_api
            .list(&ListParams::default())
            .await
            .map(|l| {
                l.items
                    .iter()
                    .filter(|g| {
                        g.status
                            .as_ref()
                            .and_then(|s| s.conditions.as_ref())
                            .is_some_and(|c| {
                                c.iter().any(|c| c.type_.as_str() == "GroupMembersComputed")
                            })
                    })
                    .count()
            })
            .unwrap_or(0);
        (computed, groups)
    })
    .await;
    println!(
        "{groups} ClusterGroups with GroupMembersComputed: {:.2?}",
        phase.elapsed()
    );

    // Policies, each applied to a selector group, with rules on other groups.
    let phase = Instant::now();
    let selector_group = |n: usize| {
        let mut g = n % leaves;
        while g % 9 == 8 {
            g = (g + 1) % leaves;
        }
        format!("cg-{g:04}")
    };
    let tiers = [
        "emergency",
        "securityops",
        "networkops",
        "platform",
        "application",
        "baseline",
    ];
    let policy_objects: Vec<ClusterNetworkPolicy> = (0..policies)
        .map(|p| {
            let tier = tiers[p % tiers.len()];
            from_json(json!({"metadata": {"name": format!("acnp-{p:04}")}, "spec": {
                "tier": tier, "priority": 1 + (p % 100),
                "appliedTo": [{"group": selector_group(p * 31)}],
                "ingress": [
                    {"name": format!("r-{p}-in-0"), "action": "Allow", "from": [{"group": format!("cg-{:04}", (p * 17) % groups)}],
                     "ports": [{"protocol": "TCP", "port": "http"}]},
                    {"name": format!("r-{p}-in-1"), "action": "Drop", "from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]},
                ],
                "egress": [
                    {"name": format!("r-{p}-out-0"), "action": "Allow", "to": [{"group": format!("cg-{:04}", (p * 7) % groups)}],
                     "ports": [{"protocol": "UDP", "port": 53}]},
                ],
            }}))
        })
        .collect();
    let policy_api: Api<ClusterNetworkPolicy> = Api::all(client.clone());
    create_all(&policy_api, policy_objects).await;
    println!("created {policies} ACNPs in {:.2?}", phase.elapsed());
    let mut spans = (0usize, 0usize);
    wait_until("ACNPs Realized", async || {
        let Ok(list) = policy_api.list(&ListParams::default()).await else {
            return (0, policies);
        };
        let realized = list
            .items
            .iter()
            .filter(|p| {
                p.status.as_ref().is_some_and(|s| {
                    s.phase.as_ref().map(|p| p.as_str()) == Some("Realized")
                        && s.observed_generation == p.metadata.generation
                })
            })
            .count();
        spans = (
            list.items
                .iter()
                .filter_map(|p| p.status.as_ref()?.desired_nodes_realized)
                .map(|n| n as usize)
                .sum(),
            list.items.len(),
        );
        (realized, policies)
    })
    .await;
    let realized = phase.elapsed();
    println!(
        "{policies} ACNPs Realized {realized:.2?} after their creation began (average span {:.1} Nodes, {} Node realizations)",
        spans.0 as f64 / spans.1.max(1) as f64,
        spans.0
    );
    println!(
        "total: {:.2?}; API writes: {}",
        started.elapsed(),
        emu.write_count()
    );
    antrea.shutdown();
}
