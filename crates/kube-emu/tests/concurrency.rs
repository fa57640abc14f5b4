//! Concurrent writers: patches are retried against newer versions (none is lost),
//! replaces carrying the same resourceVersion conflict (exactly one wins).

mod common;

use common::{Harness, config_map};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_are_all_applied() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
    cms.create(&PostParams::default(), &config_map("shared", json!({})))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let cms = cms.clone();
            tokio::spawn(async move {
                let patch = json!({"data": {format!("k{i}"): i.to_string()}});
                cms.patch("shared", &PatchParams::default(), &Patch::Merge(patch))
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let data = cms.get("shared").await.unwrap().data.unwrap();
    assert_eq!(data.len(), 40, "no patch was lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_replaces_of_one_version_conflict() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
    let base = cms
        .create(&PostParams::default(), &config_map("race", json!({})))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let cms = cms.clone();
            let mut mine = base.clone();
            mine.data = Some([("winner".to_string(), i.to_string())].into());
            tokio::spawn(async move { cms.replace("race", &PostParams::default(), &mine).await })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => wins += 1,
            Err(kube::Error::Api(status)) => assert_eq!(status.code, 409),
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert_eq!(wins, 1);
}
