//! Representations and discovery: metadata-only lists and watches, server-side Tables
//! (what kubectl asks for), YAML, and discovery of built-in and CRD groups.

mod common;

use common::{Harness, antrea_crds_dir, next, pod};
use futures::StreamExt;
use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use serde_json::{Value, json};

/// A raw GET through the test's client (so it reaches a real cluster too).
async fn get_raw(client: &kube::Client, path: &str, accept: &str) -> (u16, String, Vec<u8>) {
    let request = http::Request::get(path)
        .header("accept", accept)
        .body(kube::client::Body::empty())
        .unwrap();
    let response = client.send(request).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, content_type, bytes.to_vec())
}

async fn get(client: &kube::Client, path: &str, accept: &str) -> (u16, Value) {
    let (status, _, bytes) = get_raw(client, path, accept).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn metadata_lists_and_watches() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let pods: Api<Pod> = Api::namespaced(client, &h.ns);
    pods.create(&PostParams::default(), &pod("p", json!({"app": "x"})))
        .await
        .unwrap();
    let listed = pods.list_metadata(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items[0].metadata.name.as_deref(), Some("p"));
    let mut stream = pods
        .watch_metadata(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    match next(&mut stream).await.unwrap() {
        WatchEvent::Added(meta) => assert_eq!(meta.metadata.labels.unwrap()["app"], "x"),
        other => panic!("expected ADDED metadata, got {other:?}"),
    }
}

#[tokio::test]
async fn kubectl_tables_and_yaml() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &h.ns);
    let pods_path = format!("/api/v1/namespaces/{}/pods", h.ns);
    pods.create(&PostParams::default(), &pod("p", json!({})))
        .await
        .unwrap();
    let table_accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    let (status, table) = get(&client, &pods_path, table_accept).await;
    assert_eq!(status, 200);
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["rows"][0]["cells"][0], "p");
    let (status, single) = get(&client, &format!("{pods_path}/p"), table_accept).await;
    assert_eq!(status, 200);
    assert_eq!(single["rows"].as_array().unwrap().len(), 1);

    let (_, content_type, body) =
        get_raw(&client, &format!("{pods_path}/p"), "application/yaml").await;
    assert_eq!(content_type, "application/yaml");
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("name: p"), "{text}");

    // The emulator does not answer in protobuf (a real API server does).
    if h.emulator().is_some() {
        let (status, _) = get(&client, &pods_path, "application/vnd.kubernetes.protobuf").await;
        assert_eq!(status, 406);
    }
}

#[tokio::test]
async fn discovery_lists_builtins_and_crd_groups() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let Some(emu) = h.emulator_or_skip("load_crds_dir") else {
        return;
    };
    emu.load_crds_dir(&antrea_crds_dir()).unwrap();
    let discovery = kube::discovery::Discovery::new(client.clone())
        .run()
        .await
        .unwrap();
    let groups: Vec<String> = discovery.groups().map(|g| g.name().to_string()).collect();
    for expected in [
        "",
        "networking.k8s.io",
        "coordination.k8s.io",
        "crd.antrea.io",
    ] {
        assert!(
            groups.iter().any(|g| g == expected),
            "{expected} missing from {groups:?}"
        );
    }
    let (status, version) = get(&client, "/version", "application/json").await;
    assert_eq!(status, 200);
    assert_eq!(version["major"], "1");
    let (status, _) = get(&client, "/healthz", "*/*").await;
    assert_eq!(status, 200);
}
