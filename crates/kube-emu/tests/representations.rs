//! Representations and discovery: metadata-only lists and watches, server-side Tables
//! (what kubectl asks for), YAML, and discovery of built-in and CRD groups.

mod common;

use common::{antrea_crds_dir, emulator, next, pod};
use futures::StreamExt;
use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use serde_json::{Value, json};
use tower::ServiceExt as _;

async fn get(emu: &kube_emu::KubeEmu, path: &str, accept: &str) -> (u16, Value) {
    let request = http::Request::get(path)
        .header("accept", accept)
        .body(axum::body::Body::empty())
        .unwrap();
    let response = emu.router().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn metadata_lists_and_watches() {
    let (_emu, client) = emulator();
    let pods: Api<Pod> = Api::namespaced(client, "default");
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
    let (emu, client) = emulator();
    let pods: Api<Pod> = Api::namespaced(client, "default");
    pods.create(&PostParams::default(), &pod("p", json!({})))
        .await
        .unwrap();
    let table_accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    let (status, table) = get(&emu, "/api/v1/namespaces/default/pods", table_accept).await;
    assert_eq!(status, 200);
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["rows"][0]["cells"][0], "p");
    let (status, single) = get(&emu, "/api/v1/namespaces/default/pods/p", table_accept).await;
    assert_eq!(status, 200);
    assert_eq!(single["rows"].as_array().unwrap().len(), 1);

    let request = http::Request::get("/api/v1/namespaces/default/pods/p")
        .header("accept", "application/yaml")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = emu.router().oneshot(request).await.unwrap();
    assert_eq!(response.headers()["content-type"], "application/yaml");
    let text = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(text.contains("name: p"), "{text}");

    let (status, _) = get(
        &emu,
        "/api/v1/namespaces/default/pods",
        "application/vnd.kubernetes.protobuf",
    )
    .await;
    assert_eq!(status, 406);
}

#[tokio::test]
async fn discovery_lists_builtins_and_crd_groups() {
    let (emu, client) = emulator();
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
    let (status, version) = get(&emu, "/version", "application/json").await;
    assert_eq!(status, 200);
    assert_eq!(version["major"], "1");
    let (status, _) = get(&emu, "/healthz", "*/*").await;
    assert_eq!(status, 200);
}
