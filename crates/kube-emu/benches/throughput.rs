//! Throughput and footprint of the emulator, printed as numbers (run with
//! `cargo bench -p kube-emu --bench throughput`):
//! - writes per second through a kube client on the in-process router (creates, then
//!   merge patches), with 8 concurrent writers;
//! - watch fan-out: events per second delivered to 10 concurrent watchers;
//! - memory held by 100,000 pods (RSS from /proc/self/status before and after).
//!
//! `KUBE_EMU_BENCH_PODS` overrides the pod count of the memory measurement.

use std::time::Instant;

use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube_emu::{EmuOptions, KubeEmu};
use serde_json::json;

const WRITERS: usize = 8;

fn pod(name: &str, index: usize) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {"app": format!("app-{}", index % 50), "tier": "backend", "pod-template-hash": "5d8f7c9b6d"},
            "annotations": {"kubernetes.io/psp": "restricted"}
        },
        "spec": {
            "nodeName": format!("node-{}", index % 100),
            "containers": [{
                "name": "main",
                "image": "registry.example.com/team/service:1.4.2",
                "ports": [{"containerPort": 8080, "name": "http"}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}
            }]
        }
    }))
    .expect("valid pod")
}

/// CPU seconds (user + system) used by this process so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of /proc/self/stat (11 and 12 after the name).
    (ticks(11) + ticks(12)) / 100.0
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

/// Creates `count` pods named `{prefix}-{i}` with `WRITERS` concurrent writers.
async fn create_pods(client: &Client, prefix: &str, count: usize) {
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let api: Api<Pod> = Api::namespaced(client.clone(), "default");
        let prefix = prefix.to_string();
        tasks.push(tokio::spawn(async move {
            for i in (writer..count).step_by(WRITERS) {
                api.create(&PostParams::default(), &pod(&format!("{prefix}-{i}"), i))
                    .await
                    .expect("create");
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer");
    }
}

async fn patch_pods(client: &Client, prefix: &str, count: usize) {
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let api: Api<Pod> = Api::namespaced(client.clone(), "default");
        let prefix = prefix.to_string();
        tasks.push(tokio::spawn(async move {
            for i in (writer..count).step_by(WRITERS) {
                let patch = json!({"metadata": {"labels": {"patched": i.to_string()}}});
                api.patch(
                    &format!("{prefix}-{i}"),
                    &PatchParams::default(),
                    &Patch::Merge(patch),
                )
                .await
                .expect("patch");
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer");
    }
}

async fn writes_per_second() {
    let emu = KubeEmu::new();
    let client = Client::new(emu.router(), "default");
    let count = 20_000;
    let (start, cpu) = (Instant::now(), cpu_seconds());
    create_pods(&client, "w", count).await;
    let creates = count as f64 / start.elapsed().as_secs_f64();
    let creates_per_cpu = count as f64 / (cpu_seconds() - cpu).max(0.01);
    let (start, cpu) = (Instant::now(), cpu_seconds());
    patch_pods(&client, "w", count).await;
    let patches = count as f64 / start.elapsed().as_secs_f64();
    let patches_per_cpu = count as f64 / (cpu_seconds() - cpu).max(0.01);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "writes/s: creates {creates:.0}, merge patches {patches:.0} ({count} each, {WRITERS} writers); \
         per CPU-second (kube client included): creates {creates_per_cpu:.0}, patches {patches_per_cpu:.0}; \
         load average {}",
        load.split_whitespace().next().unwrap_or("?")
    );
}

/// Reads a raw watch stream (reconnecting from the last resourceVersion if the server
/// drops a lagging watcher) until `wanted` ADDED events have arrived.
async fn count_added(emu: KubeEmu, wanted: usize) -> usize {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut seen = 0;
    let mut reconnects = 0;
    let mut rv = String::from("1");
    while seen < wanted {
        let request = http::Request::get(format!(
            "/api/v1/namespaces/default/pods?watch=true&resourceVersion={rv}"
        ))
        .body(axum::body::Body::empty())
        .expect("request");
        let response = emu.router().oneshot(request).await.expect("watch");
        let mut body = response.into_body();
        let mut buffer: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame.expect("frame").into_data() else {
                continue;
            };
            buffer.extend_from_slice(&data);
            while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                if line.starts_with(b"{\"type\":\"ADDED\"") {
                    seen += 1;
                }
                if let Some(found) = last_resource_version(&line) {
                    rv = found;
                }
            }
            if seen >= wanted {
                break;
            }
        }
        reconnects += 1;
    }
    reconnects - 1
}

fn last_resource_version(line: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(line).ok()?;
    let start = text.find("\"resourceVersion\":\"")? + "\"resourceVersion\":\"".len();
    let end = text[start..].find('"')? + start;
    Some(text[start..end].to_string())
}

async fn watch_fan_out() {
    let emu = KubeEmu::new();
    let client = Client::new(emu.router(), "default");
    let events = 20_000;
    let watchers = 10;
    let tasks: Vec<_> = (0..watchers)
        .map(|_| tokio::spawn(count_added(emu.clone(), events)))
        .collect();
    let start = Instant::now();
    create_pods(&client, "f", events).await;
    let mut reconnects = 0;
    for task in tasks {
        reconnects += task.await.expect("watcher");
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "watch fan-out: {watchers} watchers x {events} events in {elapsed:.2}s = {:.0} events/s delivered ({reconnects} reconnects of lagging watchers)",
        (watchers * events) as f64 / elapsed
    );
}

async fn memory_of_pods() {
    let count: usize = std::env::var("KUBE_EMU_BENCH_PODS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let emu = KubeEmu::with_options(EmuOptions {
        request_log_limit: 1000,
        ..EmuOptions::default()
    });
    let client = Client::new(emu.router(), "default");
    let before = rss_kib();
    let start = Instant::now();
    create_pods(&client, "m", count).await;
    let elapsed = start.elapsed().as_secs_f64();
    let after = rss_kib();
    let listed = emu.list_objects("v1", "pods", Some("default")).len();
    println!(
        "memory: {count} pods ({listed} stored) take {:.1} MiB of RSS ({:.0} bytes/pod; RSS {:.1} -> {:.1} MiB; created at {:.0}/s)",
        (after.saturating_sub(before)) as f64 / 1024.0,
        (after.saturating_sub(before) * 1024) as f64 / count as f64,
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        count as f64 / elapsed
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        writes_per_second().await;
        watch_fan_out().await;
        memory_of_pods().await;
    });
}
