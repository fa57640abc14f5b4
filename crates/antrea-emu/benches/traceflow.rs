//! Traceflow and stats benchmark (`cargo bench -p antrea-emu --bench traceflow`): an emulated
//! cluster of 200 Nodes gets 50,000 Pods, 5,000 ClusterGroups and 2,000
//! ClusterNetworkPolicies through the API (kube-rs on the in-process router); then Traceflows
//! between random Pods are created 14 at a time (the data-plane tag limit) and the time from
//! create to `Succeeded` is printed (p50, p95, max, throughput), next to the time of the
//! bare `ClusterIndex::evaluate` of the same packets and of one stats tick of the traffic
//! model. Injection delays are off, so the numbers are the emulation's own cost. Numbers are
//! printed, not asserted. `ANTREA_BENCH_SCALE` (a fraction such as `0.1`) shrinks every
//! count; `ANTREA_BENCH_TRACEFLOWS` sets how many Traceflows run (default 280).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use antrea_emu::stats::StatsOptions;
use antrea_emu::traceflow::TraceflowOptions;
use antrea_emu::traffic::TrafficModel;
use antrea_emu::{AntreaEmu, AntreaOptions};
use antrea_policy::{Destination, PacketSpec, PodName};
use antrea_types::traceflow::{Traceflow, TraceflowPhase};
use antrea_types::{ClusterGroup, ClusterNetworkPolicy};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Client;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube_emu::{EmuOptions, KubeEmu};
use parking_lot::Mutex;
use serde_json::{Value, json};

const NODES: usize = 200;
const NAMESPACES: usize = 100;
const APPS: usize = 50;
const PODS: usize = 50_000;
const CLUSTER_GROUPS: usize = 5_000;
const POLICIES: usize = 2_000;
const IN_FLIGHT: usize = 64;
const CONCURRENT_TRACEFLOWS: usize = 14;

fn scaled(count: usize, scale: f64) -> usize {
    ((count as f64 * scale).round() as usize).max(1)
}

fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("generated object")
}

/// A small deterministic generator (64-bit LCG).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % bound as u64) as usize
    }
}

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

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn main() {
    let scale: f64 = std::env::var("ANTREA_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let traceflows: usize = std::env::var("ANTREA_BENCH_TRACEFLOWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(280);
    let pods = scaled(PODS, scale);
    let nodes = scaled(NODES, scale)
        .max(pods.div_ceil(240))
        .min(antrea_emu::MAX_NODES);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(
        nodes,
        pods,
        scaled(CLUSTER_GROUPS, scale),
        scaled(POLICIES, scale),
        traceflows,
    ));
}

async fn run(nodes: usize, pods: usize, groups: usize, policies: usize, traceflows: usize) {
    println!(
        "antrea-emu Traceflow benchmark: {nodes} Nodes, {pods} Pods, {groups} ClusterGroups, {policies} ACNPs, {traceflows} Traceflows"
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
            stats: StatsOptions {
                tick_interval: None,
                traffic: TrafficModel {
                    max_flows_per_tick: 100_000,
                    ..TrafficModel::default()
                },
                ..StatsOptions::default()
            },
            traceflow: TraceflowOptions {
                injection_delays: false,
            },
            ..AntreaOptions::default()
        },
    )
    .await
    .expect("install");
    println!("install: {:.2?}", started.elapsed());
    let client = Client::new(emu.router(), "default");
    populate(&client, &antrea, nodes, pods, groups, policies).await;

    // The packets: TCP 8080 between random Pods.
    let mut random = Lcg(42);
    let pairs: Vec<(usize, usize)> = (0..traceflows)
        .map(|_| (random.below(pods), random.below(pods)))
        .collect();
    let pod_name =
        |i: usize| PodName::new(format!("ns-{:03}", i % NAMESPACES), format!("pod-{i:05}"));

    let phase = Instant::now();
    let mut verdicts: HashMap<String, usize> = HashMap::new();
    for (source, destination) in &pairs {
        let packet = PacketSpec::tcp(
            pod_name(*source),
            Destination::Pod(pod_name(*destination)),
            8080,
        );
        let verdict = antrea
            .with_index(|index| index.evaluate(&packet).map(|e| format!("{:?}", e.verdict)))
            .unwrap_or_else(|error| format!("error: {error}"));
        *verdicts.entry(verdict).or_default() += 1;
    }
    let evaluation = phase.elapsed();
    println!(
        "ClusterIndex::evaluate: {traceflows} packets in {evaluation:.2?} ({:.1?} each); verdicts {verdicts:?}",
        evaluation / traceflows.max(1) as u32
    );

    // Traceflows, 14 at a time; a watch records when each one finishes.
    let api: Api<Traceflow> = Api::all(client.clone());
    let finished: Arc<Mutex<HashMap<String, (Instant, String)>>> = Arc::default();
    let recorder = {
        let finished = finished.clone();
        let api = api.clone();
        tokio::spawn(async move {
            let events = watcher(api, watcher::Config::default()).applied_objects();
            futures::pin_mut!(events);
            while let Some(Ok(traceflow)) = events.next().await {
                let Some(phase) = traceflow.status.as_ref().and_then(|s| s.phase.clone()) else {
                    continue;
                };
                if matches!(phase, TraceflowPhase::Succeeded | TraceflowPhase::Failed) {
                    let name = traceflow.metadata.name.clone().unwrap_or_default();
                    finished
                        .lock()
                        .entry(name)
                        .or_insert((Instant::now(), phase.as_str().to_string()));
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let phase = Instant::now();
    let mut latencies = Vec::with_capacity(traceflows);
    let mut outcomes: HashMap<String, usize> = HashMap::new();
    for (wave, chunk) in pairs.chunks(CONCURRENT_TRACEFLOWS).enumerate() {
        let mut created = Vec::new();
        for (offset, (source, destination)) in chunk.iter().enumerate() {
            let name = format!("tf-{:05}", wave * CONCURRENT_TRACEFLOWS + offset);
            let (source, destination) = (pod_name(*source), pod_name(*destination));
            let traceflow: Traceflow = from_json(json!({
                "metadata": {"name": name},
                "spec": {
                    "source": {"namespace": source.namespace, "pod": source.name},
                    "destination": {"namespace": destination.namespace, "pod": destination.name},
                    "packet": {"ipHeader": {"protocol": 6}, "transportHeader": {"tcp": {"srcPort": 10000, "dstPort": 8080}}},
                },
            }));
            let at = Instant::now();
            api.create(&PostParams::default(), &traceflow)
                .await
                .expect("Traceflow created");
            created.push((name, at));
        }
        let names: Vec<String> = created.iter().map(|(name, _)| name.clone()).collect();
        let wave_start = Instant::now();
        loop {
            let done = {
                let finished = finished.lock();
                names.iter().all(|name| finished.contains_key(name))
            };
            if done {
                break;
            }
            if wave_start.elapsed() > Duration::from_secs(120) {
                println!("  wave {wave} did not finish in 120 s");
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let finished = finished.lock();
        for (name, at) in created {
            if let Some((end, outcome)) = finished.get(&name) {
                latencies.push(end.duration_since(at));
                *outcomes.entry(outcome.clone()).or_default() += 1;
            }
        }
    }
    let total = phase.elapsed();
    recorder.abort();
    latencies.sort();
    println!(
        "Traceflow create -> final phase: {} Traceflows in {total:.2?} ({:.1} per second); p50 {:.2?}, p95 {:.2?}, max {:.2?}; phases {outcomes:?}",
        latencies.len(),
        latencies.len() as f64 / total.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95),
        latencies.last().copied().unwrap_or_default(),
    );

    // One stats tick of the traffic model, with the cap raised to 100,000 flows.
    let phase = Instant::now();
    let rounds = antrea.advance_stats_ticks(1).await;
    let elapsed = phase.elapsed();
    if let Some(Some(round)) = rounds.first() {
        println!(
            "stats tick: {} flows ({} allowed, {} skipped), {} rules counted, in {elapsed:.2?} ({:.2?} per flow)",
            round.flows,
            round.allowed,
            round.skipped,
            round.rules.len(),
            elapsed / round.flows.max(1) as u32
        );
    }
}

/// Namespaces, Pods (scheduled and started by the emulation), ClusterGroups and ACNPs, as
/// the realization benchmark builds them; returns once antrea-controller indexed them all.
async fn populate(
    client: &Client,
    antrea: &AntreaEmu,
    nodes: usize,
    pods: usize,
    groups: usize,
    policies: usize,
) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace_objects = (0..NAMESPACES)
        .map(|n| {
            from_json(json!({"metadata": {"name": format!("ns-{n:03}"),
                "labels": {"team": format!("team-{}", n % 20), "env": (["prod", "dev", "staging"][n % 3])}}}))
        })
        .collect();
    create_all(&namespaces, namespace_objects).await;

    let phase = Instant::now();
    let results: Vec<_> = futures::stream::iter(0..pods)
        .map(|i| {
            let namespace = format!("ns-{:03}", i % NAMESPACES);
            let app = (i / NAMESPACES) % APPS;
            let pod: Pod = from_json(json!({
                "metadata": {"name": format!("pod-{i:05}"), "namespace": namespace,
                             "labels": {"app": format!("app-{app}"), "tier": (["frontend", "backend", "data"][app % 3])}},
                "spec": {"containers": [{"name": "main", "image": "nginx:1.27",
                                         "ports": [{"name": "http", "containerPort": 8080}]}]},
            }));
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
        let running = pod_api
            .list(&ListParams::default().fields("status.phase=Running"))
            .await
            .map(|l| l.items.len())
            .unwrap_or(0);
        (running, pods + nodes + 1)
    })
    .await;
    println!("{pods} Pods running: {:.2?}", phase.elapsed());

    let phase = Instant::now();
    let leaves = groups - groups / 10;
    let group_objects: Vec<ClusterGroup> = (0..groups)
        .map(|g| {
            let spec = if g >= leaves {
                json!({"childGroups": [format!("cg-{:04}", g % leaves), format!("cg-{:04}", (g * 7) % leaves)]})
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
    create_all(&Api::<ClusterGroup>::all(client.clone()), group_objects).await;
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
            let second = if tier == "baseline" { "Drop" } else { "Pass" };
            from_json(json!({"metadata": {"name": format!("acnp-{p:04}")}, "spec": {
                "tier": tier, "priority": 1 + (p % 100),
                "appliedTo": [{"group": selector_group(p * 31)}],
                "ingress": [
                    {"name": format!("r-{p}-in-0"), "action": "Allow", "from": [{"group": format!("cg-{:04}", (p * 17) % groups)}],
                     "ports": [{"protocol": "TCP", "port": "http"}]},
                    {"name": format!("r-{p}-in-1"), "action": second, "from": [{"group": format!("cg-{:04}", (p * 5) % groups)}]},
                    {"name": format!("r-{p}-in-2"), "action": "Drop", "from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}],
                     "ports": [{"protocol": "TCP", "port": 9090}]},
                ],
                "egress": [
                    {"name": format!("r-{p}-out-0"), "action": "Reject", "to": [{"group": format!("cg-{:04}", (p * 7) % groups)}],
                     "ports": [{"protocol": "TCP", "port": 8080}]},
                ],
            }}))
        })
        .collect();
    create_all(
        &Api::<ClusterNetworkPolicy>::all(client.clone()),
        policy_objects,
    )
    .await;
    wait_until("groups and policies indexed", async || {
        let (pods_indexed, policies_indexed) =
            antrea.with_index(|index| (index.pod_count(), index.antrea_policy_count()));
        (
            usize::from(pods_indexed >= pods) + usize::from(policies_indexed >= policies),
            2,
        )
    })
    .await;
    println!(
        "{groups} ClusterGroups and {policies} ACNPs created and indexed: {:.2?}",
        phase.elapsed()
    );
}
