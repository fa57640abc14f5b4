//! Lists: selectors, paging with `limit`/`continue`, resourceVersion semantics.

mod common;

use common::{Harness, api_error, config_map, pod};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, ListParams, PostParams, VersionMatch};
use serde_json::json;

async fn seed(cms: &Api<ConfigMap>, count: usize) {
    for i in 0..count {
        cms.create(
            &PostParams::default(),
            &config_map(&format!("cm-{i:02}"), json!({})),
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &h.ns);
    for (name, app) in [("a", "web"), ("b", "db"), ("c", "web")] {
        pods.create(&PostParams::default(), &pod(name, json!({"app": app})))
            .await
            .unwrap();
    }
    let names = |list: kube::core::ObjectList<Pod>| -> Vec<String> {
        list.items
            .into_iter()
            .filter_map(|p| p.metadata.name)
            .collect()
    };
    let web = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    assert_eq!(names(web), ["a", "c"]);
    let not_web = pods
        .list(&ListParams::default().labels("app notin (web)"))
        .await
        .unwrap();
    assert_eq!(names(not_web), ["b"]);
    let by_name = pods
        .list(&ListParams::default().fields("metadata.name=b"))
        .await
        .unwrap();
    assert_eq!(names(by_name), ["b"]);
    let pending = pods
        .list(&ListParams::default().fields("status.phase=Pending"))
        .await
        .unwrap();
    assert_eq!(pending.items.len(), 3);
    let all_ns: Api<Pod> = Api::all(client);
    let everywhere = all_ns.list(&ListParams::default()).await.unwrap().items;
    let ours = everywhere
        .iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(h.ns.as_str()))
        .count();
    assert_eq!(ours, 3);
    if h.emulator().is_some() {
        // The emulator holds no other pods.
        assert_eq!(everywhere.len(), 3);
    }

    let bad = api_error(
        pods.list(&ListParams::default().fields("spec.bogus=x"))
            .await,
    );
    assert_eq!((bad.code, bad.reason.as_str()), (400, "BadRequest"));
    let bad_labels = api_error(pods.list(&ListParams::default().labels("app in (")).await);
    assert_eq!(bad_labels.code, 400);
}

#[tokio::test]
async fn pages_are_consistent_snapshots() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
    seed(&cms, 5).await;
    let first = cms.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(first.items.len(), 2);
    assert_eq!(first.metadata.remaining_item_count, Some(3));
    let token = first.metadata.continue_.clone().expect("more pages");
    let list_rv = first.metadata.resource_version.clone();

    // Changes after the first page do not show up in later pages.
    cms.create(&PostParams::default(), &config_map("cm-zz", json!({})))
        .await
        .unwrap();
    cms.delete("cm-04", &Default::default()).await.unwrap();

    let second = cms
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(second.metadata.resource_version, list_rv);
    let third = cms
        .list(
            &ListParams::default()
                .limit(2)
                .continue_token(second.metadata.continue_.as_deref().unwrap()),
        )
        .await
        .unwrap();
    assert!(third.metadata.continue_.is_none());
    let names: Vec<String> = first
        .items
        .into_iter()
        .chain(second.items)
        .chain(third.items)
        .filter_map(|c| c.metadata.name)
        .collect();
    assert_eq!(names, ["cm-00", "cm-01", "cm-02", "cm-03", "cm-04"]);
}

#[tokio::test]
async fn exact_lists_come_from_history_and_expire() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
    seed(&cms, 2).await;
    let rv = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    cms.delete("cm-00", &Default::default()).await.unwrap();
    let exact = ListParams::default().at(&rv).matching(VersionMatch::Exact);
    let old = cms.list(&exact).await.unwrap();
    assert_eq!(old.items.len(), 2);
    assert_eq!(old.metadata.resource_version.as_deref(), Some(rv.as_str()));
    let latest = cms
        .list(
            &ListParams::default()
                .at(&rv)
                .matching(VersionMatch::NotOlderThan),
        )
        .await
        .unwrap();
    assert_eq!(latest.items.len(), 1);

    let Some(emu) = h.emulator_or_skip("compact") else {
        return;
    };
    emu.compact();
    let expired = api_error(cms.list(&exact).await);
    assert_eq!((expired.code, expired.reason.as_str()), (410, "Expired"));

    let future = ListParams::default()
        .at("999999999")
        .matching(VersionMatch::NotOlderThan);
    let too_new = api_error(cms.list(&future).await);
    assert_eq!(too_new.code, 504);
    let any = cms
        .list(
            &ListParams::default()
                .at("0")
                .matching(VersionMatch::NotOlderThan),
        )
        .await
        .unwrap();
    assert_eq!(any.items.len(), 1);
}

#[tokio::test]
async fn an_expired_continue_token_is_410() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
    seed(&cms, 3).await;
    let first = cms.list(&ListParams::default().limit(1)).await.unwrap();
    cms.create(&PostParams::default(), &config_map("later", json!({})))
        .await
        .unwrap();
    let Some(emu) = h.emulator_or_skip("compact") else {
        return;
    };
    emu.compact();
    let error = api_error(
        cms.list(
            &ListParams::default()
                .limit(1)
                .continue_token(first.metadata.continue_.as_deref().unwrap()),
        )
        .await,
    );
    assert_eq!((error.code, error.reason.as_str()), (410, "Expired"));
}
