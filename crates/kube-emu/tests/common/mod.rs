//! Shared helpers of the conformance tests: an emulator with a kube client on its router,
//! object builders and bounded polling.

#![allow(dead_code)]

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::Client;
use kube::api::{Api, PostParams};
use kube_emu::KubeEmu;
use serde_json::json;

/// An emulator and a client talking to it in-process.
pub fn emulator() -> (KubeEmu, Client) {
    let emu = KubeEmu::new();
    let client = Client::new(emu.router(), "default");
    (emu, client)
}

/// Antrea's real CRD manifests.
pub fn antrea_crds_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/antrea-crds/v2.7.0")
}

pub fn pod(name: &str, labels: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}
    }))
    .expect("valid pod")
}

pub fn config_map(name: &str, data: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": data
    }))
    .expect("valid configmap")
}

pub async fn create_namespace(client: &Client, name: &str) -> Namespace {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    api.create(&PostParams::default(), &ns)
        .await
        .expect("namespace created")
}

/// Polls `check` until it returns `Some`, up to ~5 s.
pub async fn eventually<T, F, Fut>(mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..500 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in time");
}

/// The next item of a stream, failing after 5 s.
pub async fn next<S: futures::Stream + Unpin>(stream: &mut S) -> S::Item {
    use futures::StreamExt as _;
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("stream produced an item in time")
        .expect("stream did not end")
}

/// The kube API error of a result.
pub fn api_error<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> kube::core::Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}
