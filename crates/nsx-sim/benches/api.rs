//! Throughput of the simulator over HTTPS, in memory and with a data directory. Prints numbers;
//! asserts nothing. Requests go through the test client's unchecked path, so the numbers are
//! the simulator's (including its own request validation), not the client's schema checks.
//! Run with `cargo bench -p nsx-sim --bench api`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Client, Reply, antrea_group, group_url};
use nsx_sim::RunningSim;
use reqwest::Method;
use serde_json::{Value, json};

const SINGLE_WRITES: usize = 300;
const BULK_GROUPS: usize = 4000;

fn per_op(total: Duration, n: usize) -> String {
    format!("{:.3} ms/op", total.as_secs_f64() * 1000.0 / n as f64)
}

async fn send(admin: &Client, method: Method, path: &str, body: Option<Value>) -> Reply {
    admin
        .raw(method, path, body.map(|b| b.to_string().into_bytes()), None)
        .await
        .unwrap()
        .expect(200)
}

async fn measure(label: &str, sim: RunningSim) {
    let admin = Client::admin(&sim);
    let start = Instant::now();
    for i in 0..SINGLE_WRITES {
        let id = format!("single-{i}");
        send(
            &admin,
            Method::PATCH,
            &group_url(&id),
            Some(antrea_group(&id, "a|b")),
        )
        .await;
    }
    println!(
        "{label}: PATCH group, one per request: {}",
        per_op(start.elapsed(), SINGLE_WRITES)
    );

    let start = Instant::now();
    for i in 0..SINGLE_WRITES {
        send(
            &admin,
            Method::GET,
            &group_url(&format!("single-{i}")),
            None,
        )
        .await;
    }
    println!(
        "{label}: GET group: {}",
        per_op(start.elapsed(), SINGLE_WRITES)
    );

    let children: Vec<Value> = (0..BULK_GROUPS)
        .map(|i| json!({"resource_type": "ChildGroup", "Group": antrea_group(&format!("bulk-{i:05}"), "a|b")}))
        .collect();
    let body = json!({"resource_type": "Infra", "children": [
        {"resource_type": "ChildResourceReference", "id": "default", "target_type": "Domain", "children": children}]});
    let start = Instant::now();
    send(&admin, Method::PATCH, "/policy/api/v1/infra", Some(body)).await;
    println!(
        "{label}: hierarchical PATCH of {BULK_GROUPS} groups in one request: {:.0} ms",
        start.elapsed().as_secs_f64() * 1000.0
    );

    let start = Instant::now();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut url = "/policy/api/v1/infra/domains/default/groups?page_size=1000".to_owned();
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page = send(&admin, Method::GET, &url, None).await.body;
        pages += 1;
        match page.get("cursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    println!(
        "{label}: list of {} groups, {pages} pages of 1000: {:.0} ms",
        BULK_GROUPS + SINGLE_WRITES,
        start.elapsed().as_secs_f64() * 1000.0
    );
    sim.shutdown().await.unwrap();
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        measure("in memory", common::start().await).await;
        let dir = tempfile::tempdir().unwrap();
        measure("data dir", common::start_in(dir.path()).await).await;
    });
}
