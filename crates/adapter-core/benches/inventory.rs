//! Inventory benchmark: projecting and indexing a large cluster (500 Namespaces, 200 Nodes,
//! 5,000 Services, 50,000 Pods), cutting the initial batches, a burst of Pod changes, and the
//! full comparison against an identical NSX inventory. Prints time and memory per record.
//!
//! Run with `cargo bench -p adapter-core --bench inventory`. Memory is the growth of the
//! process's resident set (VmRSS) while building the projector, divided by the records it
//! holds: the records, the pending queue and the projector's relation facts together.

use std::hint::black_box;
use std::time::{Duration, Instant};

use adapter_core::mp::health::HealthPolicy;
use adapter_core::mp::inventory::InventoryProjector;
use antrea_types::AntreaAgentInfo;
use antrea_types::info::{AgentCondition, AgentConditionType, AntreaAgentInfoFields};
use antrea_types::policy::ConditionStatus;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use nsx_model::inventory::ContainerObject;
use serde_json::{Value, json};

const NAMESPACES: usize = 500;
const NODES: usize = 200;
const SERVICES_PER_NAMESPACE: usize = 10;
const PODS_PER_NAMESPACE: usize = 100;
const BATCH_SIZE: usize = 50;

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn typed<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("valid object")
}

fn uid(kind: &str, i: usize) -> String {
    format!("{kind:0>8}-0000-4000-8000-{i:012}")
}

fn namespace(n: usize) -> Namespace {
    typed(
        json!({"metadata": {"name": format!("team-{n}"), "uid": uid("ns", n),
        "labels": {"kubernetes.io/metadata.name": format!("team-{n}"), "team": format!("t{}", n % 17)}}}),
    )
}

fn node(n: usize) -> Node {
    typed(json!({
        "metadata": {"name": format!("worker-{n}"), "uid": uid("node", n),
            "labels": {"kubernetes.io/hostname": format!("worker-{n}"), "kubernetes.io/os": "linux",
                       "node.kubernetes.io/instance-type": "m5.large"}},
        "spec": {"podCIDR": format!("10.{}.{}.0/24", n / 256, n % 256), "providerID": format!("vsphere://{n}")},
        "status": {"addresses": [{"type": "InternalIP", "address": format!("192.168.{}.{}", n / 250, n % 250 + 1)}],
                   "nodeInfo": {"kubeletVersion": "v1.33.1", "osImage": "Ubuntu 24.04", "machineID": "",
                       "systemUUID": "", "bootID": "", "kernelVersion": "", "containerRuntimeVersion": "",
                       "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64"}}
    }))
}

fn service(ns: usize, s: usize) -> Service {
    typed(json!({
        "metadata": {"name": format!("svc-{s}"), "namespace": format!("team-{ns}"),
            "uid": uid("svc", ns * SERVICES_PER_NAMESPACE + s), "labels": {"app": format!("app-{s}")}},
        "spec": {"selector": {"app": format!("app-{s}")}, "clusterIP": format!("10.96.{}.{}", ns % 250, s + 1),
                 "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    }))
}

fn pod(ns: usize, p: usize, ready: bool) -> Pod {
    let i = ns * PODS_PER_NAMESPACE + p;
    typed(json!({
        "metadata": {"name": format!("app-{}-{p}-7d9f8", p % SERVICES_PER_NAMESPACE),
            "namespace": format!("team-{ns}"), "uid": uid("pod", i),
            "labels": {"app": format!("app-{}", p % SERVICES_PER_NAMESPACE),
                       "pod-template-hash": "7d9f8c6b5", "version": "v1"}},
        "spec": {"nodeName": format!("worker-{}", i % NODES), "containers": []},
        "status": {"phase": "Running", "podIP": format!("10.{}.{}.{}", 100 + i / 65536, (i / 256) % 256, i % 256),
                   "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}
    }))
}

fn agent(n: usize, now: Timestamp) -> AntreaAgentInfo {
    let condition = |type_| AgentCondition {
        type_,
        status: ConditionStatus::True,
        last_heartbeat_time: Time(now),
        reason: None,
        message: None,
    };
    AntreaAgentInfo::new(
        &format!("worker-{n}"),
        AntreaAgentInfoFields {
            agent_conditions: Some(vec![
                condition(AgentConditionType::AgentHealthy),
                condition(AgentConditionType::OvsdbConnectionUp),
                condition(AgentConditionType::OpenflowConnectionUp),
            ]),
            ..Default::default()
        },
    )
}

fn per(d: Duration, n: usize) -> String {
    format!("{:.2} µs", d.as_secs_f64() * 1e6 / n as f64)
}

fn main() {
    let now = Timestamp::now();
    let rss_start = rss_bytes();
    let mut projector = InventoryProjector::new("cluster-bench", HealthPolicy::default());

    let started = Instant::now();
    for n in 0..NODES {
        projector.apply_agent_info(&agent(n, now), now);
        projector.apply_node(&node(n)).expect("node");
    }
    for ns in 0..NAMESPACES {
        projector
            .apply_namespace(&namespace(ns))
            .expect("namespace");
        for s in 0..SERVICES_PER_NAMESPACE {
            projector.apply_service(&service(ns, s)).expect("service");
        }
    }
    let pods_started = Instant::now();
    for ns in 0..NAMESPACES {
        for p in 0..PODS_PER_NAMESPACE {
            projector.apply_pod(&pod(ns, p, true)).expect("pod");
        }
    }
    let pods_time = pods_started.elapsed();
    let build_time = started.elapsed();
    let records = projector.index().len();
    let pods = NAMESPACES * PODS_PER_NAMESPACE;
    let rss_built = rss_bytes();
    println!(
        "records: {records} ({pods} pods, {} services, {NAMESPACES} namespaces, {NODES} nodes)",
        NAMESPACES * SERVICES_PER_NAMESPACE
    );
    println!(
        "project + index, everything: {:.3} s ({} per record); pods alone: {:.3} s ({} per pod)",
        build_time.as_secs_f64(),
        per(build_time, records),
        pods_time.as_secs_f64(),
        per(pods_time, pods)
    );
    println!(
        "memory (RSS growth, objects generated on the fly and dropped): {:.1} MiB, {} bytes per record",
        (rss_built - rss_start) as f64 / (1 << 20) as f64,
        (rss_built - rss_start) / records as u64
    );

    // The first full sync: every record as a CREATE, in batches of 50.
    let started = Instant::now();
    let mut batches = 0;
    let mut bytes = 0usize;
    while let Some(batch) = projector.index_mut().next_batch(BATCH_SIZE) {
        bytes += serde_json::to_vec(&batch.data).expect("json").len();
        projector.index_mut().ack(batch.id).expect("ack");
        batches += 1;
    }
    let drain_time = started.elapsed();
    println!(
        "initial sync: {batches} batches of {BATCH_SIZE} cut, serialized and acked in {:.3} s ({} per record), {:.1} MiB of JSON",
        drain_time.as_secs_f64(),
        per(drain_time, records),
        bytes as f64 / (1 << 20) as f64
    );
    let rss_synced = rss_bytes();
    println!(
        "memory after the initial sync (no pending changes): {:.1} MiB above start, {} bytes per record",
        (rss_synced.saturating_sub(rss_start)) as f64 / (1 << 20) as f64,
        rss_synced.saturating_sub(rss_start) / records as u64
    );

    // Steady state: 5,000 Pods lose readiness (each also changes its Service's status).
    let started = Instant::now();
    for i in 0..5_000 {
        let (ns, p) = (i % NAMESPACES, i / NAMESPACES);
        projector.apply_pod(&pod(ns, p, false)).expect("pod");
    }
    let mut changes = 0;
    while let Some(batch) = projector.index_mut().next_batch(BATCH_SIZE) {
        changes += batch.len();
        black_box(serde_json::to_vec(&batch.data).expect("json"));
        projector.index_mut().ack(batch.id).expect("ack");
    }
    let burst = started.elapsed();
    println!(
        "burst of 5,000 pod readiness changes: {changes} sparse updates sent in {:.3} s ({} per pod event)",
        burst.as_secs_f64(),
        per(burst, 5_000)
    );

    // The periodic full comparison against an identical NSX inventory, as NSX lists it
    // (JSON with its own fields added).
    let listed: Vec<Value> = projector
        .index()
        .records()
        .map(|r| {
            let mut json = r.to_json();
            json.insert("_last_sync_time".into(), json!(1_700_000_000_000_i64));
            Value::Object(json)
        })
        .collect();
    let started = Instant::now();
    let parsed: Vec<ContainerObject> = listed
        .into_iter()
        .map(|v| ContainerObject::from_json(v).expect("record"))
        .collect();
    let parse_time = started.elapsed();
    let started = Instant::now();
    let summary = projector.index_mut().diff_against(parsed).expect("diff");
    let diff_time = started.elapsed();
    assert_eq!(
        summary.creates + summary.updates + summary.deletes,
        0,
        "{summary:?}"
    );
    println!(
        "full comparison with an identical NSX set: parse {:.3} s ({} per record), diff {:.3} s ({} per record); {} unchanged",
        parse_time.as_secs_f64(),
        per(parse_time, records),
        diff_time.as_secs_f64(),
        per(diff_time, records),
        summary.unchanged
    );
}
