//! List latency of the container inventory over 100,000 objects, over HTTPS. Prints numbers;
//! asserts nothing. 100,000 pods are written through the batch API (1,000 per request): 90,000
//! in one cluster and 1,000 in each of ten others. Then each list shape is requested repeatedly
//! and its median and 90th percentile printed: the first page, a middle page reached with a
//! cursor, the same with a `container_cluster_id` filter, a field filter (project), and a
//! `sort_by` list (which sorts every match). Run with `cargo bench -p nsx-sim --bench inventory`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::Client;
use reqwest::Method;
use serde_json::{Value, json};

const BIG_CLUSTER_PODS: usize = 90_000;
const SMALL_CLUSTERS: usize = 10;
const SMALL_CLUSTER_PODS: usize = 1_000;
const BATCH: usize = 1_000;
const SAMPLES: usize = 25;
const PODS: &str = "/api/v1/fabric/container-application-instances";

async fn post(client: &Client, path: &str, body: Value) {
    let reply = client
        .raw(
            Method::POST,
            path,
            Some(body.to_string().into_bytes()),
            None,
        )
        .await
        .unwrap();
    assert!(reply.status < 300, "{path}: {:#}", reply.body);
}

async fn get(client: &Client, path: &str) -> Value {
    let reply = client.raw(Method::GET, path, None, None).await.unwrap();
    assert_eq!(reply.status, 200, "{path}: {:#}", reply.body);
    reply.body
}

async fn fill(client: &Client, cluster: &str, pods: usize) {
    post(
        client,
        "/api/v1/fabric/container-clusters",
        json!({"external_id": cluster, "cluster_type": "Kubernetes"}),
    )
    .await;
    for start in (0..pods).step_by(BATCH) {
        let objects: Vec<Value> = (start..(start + BATCH).min(pods))
            .map(|i| {
                json!({"object_update_type": "CREATE", "container_object": {
                    "resource_type": "ContainerApplicationInstance",
                    "external_id": format!("{cluster}-{i:06}"),
                    "display_name": format!("pod-{i}"),
                    "container_project_id": format!("ns-{}", i % 50),
                    "cluster_node_id": format!("node-{}", i % 100),
                    "status": "UP",
                    "tags": [{"scope": "dis:k8s:app", "tag": format!("app-{}", i % 20)}],
                    "origin_properties": [{"key": "ip", "value": format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256)}],
                }})
            })
            .collect();
        post(
            client,
            &format!("/api/v1/inventory/container/{cluster}?action=updates"),
            json!({"container_inventory_objects": objects}),
        )
        .await;
    }
}

/// The cursor that leads to page `n` (0-based) of `base`.
async fn cursor_to_page(client: &Client, base: &str, n: usize) -> String {
    let mut cursor = String::new();
    for _ in 0..n {
        let url = if cursor.is_empty() {
            base.to_owned()
        } else {
            format!("{base}&cursor={cursor}")
        };
        cursor = get(client, &url).await["cursor"]
            .as_str()
            .expect("the list has that many pages")
            .to_owned();
    }
    cursor
}

async fn measure(client: &Client, label: &str, url: &str) {
    let mut times: Vec<Duration> = Vec::with_capacity(SAMPLES);
    let mut returned = 0;
    for _ in 0..SAMPLES {
        let start = Instant::now();
        let page = get(client, url).await;
        times.push(start.elapsed());
        returned = page["results"].as_array().map_or(1, Vec::len);
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label:<58} {returned:>5} results  median {:>8.2} ms  p90 {:>8.2} ms",
        ms(times[SAMPLES / 2]),
        ms(times[SAMPLES * 9 / 10])
    );
}

#[tokio::main]
async fn main() {
    let sim = common::start().await;
    let admin = Client::admin(&sim);
    let start = Instant::now();
    fill(&admin, "big", BIG_CLUSTER_PODS).await;
    for c in 0..SMALL_CLUSTERS {
        fill(&admin, &format!("small-{c:02}"), SMALL_CLUSTER_PODS).await;
    }
    let total = BIG_CLUSTER_PODS + SMALL_CLUSTERS * SMALL_CLUSTER_PODS;
    let elapsed = start.elapsed();
    println!(
        "wrote {total} pods in {:.1} s ({:.0} objects/s, {BATCH} per request)",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    let count = get(&admin, &format!("{PODS}?page_size=1")).await["result_count"].clone();
    println!("result_count {count}");

    let all = format!("{PODS}?page_size=1000");
    measure(&admin, "first page, no filter (page_size=1000)", &all).await;
    let cursor = cursor_to_page(&admin, &all, 50).await;
    measure(
        &admin,
        "page 51 of 100 via cursor, no filter",
        &format!("{all}&cursor={cursor}"),
    )
    .await;

    let big = format!("{PODS}?container_cluster_id=big&page_size=1000");
    measure(
        &admin,
        "first page, container_cluster_id=big (90,000)",
        &big,
    )
    .await;
    let cursor = cursor_to_page(&admin, &big, 45).await;
    measure(
        &admin,
        "page 46 of 90 via cursor, container_cluster_id=big",
        &format!("{big}&cursor={cursor}"),
    )
    .await;

    let small = format!("{PODS}?container_cluster_id=small-05&page_size=100");
    measure(
        &admin,
        "first page, container_cluster_id=small-05 (1,000)",
        &small,
    )
    .await;
    let cursor = cursor_to_page(&admin, &small, 5).await;
    measure(
        &admin,
        "page 6 of 10 via cursor, container_cluster_id=small-05",
        &format!("{small}&cursor={cursor}"),
    )
    .await;

    let project =
        format!("{PODS}?container_cluster_id=big&container_project_id=ns-7&page_size=1000");
    measure(
        &admin,
        "first page, cluster big + container_project_id (1,800)",
        &project,
    )
    .await;
    measure(
        &admin,
        "first page, sort_by=display_name, cluster big",
        &format!("{big}&sort_by=display_name"),
    )
    .await;
    measure(&admin, "one object by id", &format!("{PODS}/big-045000")).await;
    sim.shutdown().await.unwrap();
}
