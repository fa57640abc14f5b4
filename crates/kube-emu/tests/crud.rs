//! Create, read, update and delete of built-in kinds through kube-rs.

mod common;

use common::{api_error, config_map, emulator, pod};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;

#[tokio::test]
async fn pods_are_created_read_listed_replaced_and_deleted() {
    let (emu, client) = emulator();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let created = pods
        .create(&PostParams::default(), &pod("web", json!({"app": "web"})))
        .await
        .unwrap();
    let meta = &created.metadata;
    assert!(meta.uid.is_some());
    assert!(meta.creation_timestamp.is_some());
    assert!(meta.resource_version.is_some());
    assert_eq!(created.status.unwrap().phase.as_deref(), Some("Pending"));

    let fetched = pods.get("web").await.unwrap();
    assert_eq!(fetched.metadata.uid, meta.uid);
    let listed = pods.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert!(listed.metadata.resource_version.is_some());

    let mut changed = fetched.clone();
    changed
        .metadata
        .labels
        .get_or_insert_default()
        .insert("tier".into(), "front".into());
    let replaced = pods
        .replace("web", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert_ne!(
        replaced.metadata.resource_version,
        fetched.metadata.resource_version
    );
    assert_eq!(replaced.metadata.labels.unwrap()["tier"], "front");

    pods.delete("web", &DeleteParams::default()).await.unwrap();
    let missing = api_error(pods.get("web").await);
    assert_eq!(missing.code, 404);
    assert_eq!(missing.reason, "NotFound");
    assert_eq!(missing.message, "pods \"web\" not found");
    assert!(
        emu.get_object("v1", "Pod", Some("default"), "web")
            .is_none()
    );
}

#[tokio::test]
async fn generate_name_and_duplicates() {
    let (_emu, client) = emulator();
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut template = config_map("", json!({"k": "v"}));
    template.metadata.name = None;
    template.metadata.generate_name = Some("cfg-".into());
    let a = cms.create(&PostParams::default(), &template).await.unwrap();
    let b = cms.create(&PostParams::default(), &template).await.unwrap();
    let (a, b) = (a.metadata.name.unwrap(), b.metadata.name.unwrap());
    assert!(a.starts_with("cfg-") && a.len() == "cfg-".len() + 5, "{a}");
    assert_ne!(a, b);

    cms.create(&PostParams::default(), &config_map("fixed", json!({})))
        .await
        .unwrap();
    let duplicate = api_error(
        cms.create(&PostParams::default(), &config_map("fixed", json!({})))
            .await,
    );
    assert_eq!(
        (duplicate.code, duplicate.reason.as_str()),
        (409, "AlreadyExists")
    );
    assert_eq!(duplicate.message, "configmaps \"fixed\" already exists");
}

#[tokio::test]
async fn stale_replace_is_a_conflict() {
    let (_emu, client) = emulator();
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let first = cms
        .create(&PostParams::default(), &config_map("c", json!({"a": "1"})))
        .await
        .unwrap();
    let mut update = first.clone();
    update.data = Some([("a".to_string(), "2".to_string())].into());
    cms.replace("c", &PostParams::default(), &update)
        .await
        .unwrap();
    // `first` still carries the old resourceVersion.
    let conflict = api_error(cms.replace("c", &PostParams::default(), &first).await);
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        conflict.message,
        "Operation cannot be fulfilled on configmaps \"c\": the object has been modified; \
         please apply your changes to the latest version and try again"
    );
}

#[tokio::test]
async fn creating_in_a_missing_namespace_is_not_found() {
    let (_emu, client) = emulator();
    let cms: Api<ConfigMap> = Api::namespaced(client, "nowhere");
    let error = api_error(
        cms.create(&PostParams::default(), &config_map("c", json!({})))
            .await,
    );
    assert_eq!(error.code, 404);
    assert_eq!(error.message, "namespaces \"nowhere\" not found");
}

#[tokio::test]
async fn a_fresh_cluster_has_its_namespaces_and_kubernetes_service() {
    let (_emu, client) = emulator();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|ns| ns.metadata.name)
        .collect();
    assert_eq!(
        names,
        ["default", "kube-node-lease", "kube-public", "kube-system"]
    );
    let services: Api<Service> = Api::namespaced(client, "default");
    let kubernetes = services.get("kubernetes").await.unwrap();
    assert_eq!(
        kubernetes.spec.unwrap().cluster_ip.as_deref(),
        Some("10.96.0.1")
    );
}
