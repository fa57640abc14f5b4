//! Create, read, update and delete of built-in kinds through kube-rs.

mod common;

use common::{Harness, api_error, config_map, pod};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;

#[tokio::test]
async fn pods_are_created_read_listed_replaced_and_deleted() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &h.ns);
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

    // Grace period 0: a real cluster otherwise keeps the pod until its kubelet stops it.
    pods.delete("web", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    let missing = api_error(pods.get("web").await);
    assert_eq!(missing.code, 404);
    assert_eq!(missing.reason, "NotFound");
    assert_eq!(missing.message, "pods \"web\" not found");
    let Some(emu) = h.emulator_or_skip("get_object") else {
        return;
    };
    assert!(emu.get_object("v1", "Pod", Some(&h.ns), "web").is_none());
}

#[tokio::test]
async fn generate_name_and_duplicates() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
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
    let h = Harness::start().await;
    let client = h.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
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
    let h = Harness::start().await;
    let client = h.client.clone();
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
    let h = Harness::start().await;
    let client = h.client.clone();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|ns| ns.metadata.name)
        .collect();
    for expected in ["default", "kube-node-lease", "kube-public", "kube-system"] {
        assert!(names.iter().any(|name| name == expected), "{names:?}");
    }
    if h.emulator().is_some() {
        // A fresh emulator holds only these and the test's own namespace.
        let mut expected = vec![
            "default".to_string(),
            "kube-node-lease".into(),
            "kube-public".into(),
            "kube-system".into(),
            h.ns.clone(),
        ];
        expected.sort();
        assert_eq!(names, expected);
    }
    let services: Api<Service> = Api::namespaced(client, "default");
    let kubernetes = services.get("kubernetes").await.unwrap();
    let cluster_ip = kubernetes.spec.unwrap().cluster_ip;
    assert!(cluster_ip.is_some());
    if h.emulator().is_some() {
        // The first address of the emulator's service range (a real cluster's may differ).
        assert_eq!(cluster_ip.as_deref(), Some("10.96.0.1"));
    }
}
