//! Watches through kube-rs: raw watch streams (resume, 410, bookmarks, selectors,
//! timeouts) and kube-runtime's `watcher` (resume, relist after 410, streaming lists).

mod common;

use std::time::Duration;

use common::{Harness, config_map, next, pod};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher;
use serde_json::json;

#[tokio::test]
async fn a_watch_resumes_from_a_resource_version() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
    cms.create(&PostParams::default(), &config_map("a", json!({})))
        .await
        .unwrap();
    let rv = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    cms.create(&PostParams::default(), &config_map("b", json!({})))
        .await
        .unwrap();
    cms.delete("a", &Default::default()).await.unwrap();

    let mut stream = cms
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    match next(&mut stream).await.unwrap() {
        WatchEvent::Added(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("b")),
        other => panic!("expected ADDED b, got {other:?}"),
    }
    match next(&mut stream).await.unwrap() {
        WatchEvent::Deleted(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("a")),
        other => panic!("expected DELETED a, got {other:?}"),
    }
    cms.create(&PostParams::default(), &config_map("c", json!({})))
        .await
        .unwrap();
    match next(&mut stream).await.unwrap() {
        WatchEvent::Added(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("c")),
        other => panic!("expected live ADDED c, got {other:?}"),
    }
}

#[tokio::test]
async fn a_watch_from_a_compacted_version_gets_410_expired() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
    let old = cms
        .create(&PostParams::default(), &config_map("a", json!({})))
        .await
        .unwrap();
    cms.create(&PostParams::default(), &config_map("b", json!({})))
        .await
        .unwrap();
    let Some(emu) = h.emulator_or_skip("compact") else {
        return;
    };
    emu.compact();
    let rv = old.metadata.resource_version.unwrap();
    let mut stream = cms
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    match next(&mut stream).await.unwrap() {
        WatchEvent::Error(status) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
        }
        other => panic!("expected ERROR 410, got {other:?}"),
    }
}

#[tokio::test]
async fn bookmarks_are_sent_on_request() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &h.ns);
    let rv = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = pods
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    // Another resource moves the global resourceVersion on.
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
    let cm = cms
        .create(&PostParams::default(), &config_map("x", json!({})))
        .await
        .unwrap();
    let Some(emu) = h.emulator_or_skip("send_bookmarks") else {
        return;
    };
    emu.send_bookmarks();
    match next(&mut stream).await.unwrap() {
        WatchEvent::Bookmark(bookmark) => {
            let bookmarked: u64 = bookmark.metadata.resource_version.parse().unwrap();
            let cm_rv: u64 = cm.metadata.resource_version.unwrap().parse().unwrap();
            assert!(bookmarked >= cm_rv);
        }
        other => panic!("expected BOOKMARK, got {other:?}"),
    }
}

#[tokio::test]
async fn an_object_leaving_the_selection_is_deleted_for_the_watcher() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let pods: Api<Pod> = Api::namespaced(client, &h.ns);
    pods.create(&PostParams::default(), &pod("p", json!({"app": "a"})))
        .await
        .unwrap();
    let rv = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = pods
        .watch(&WatchParams::default().labels("app=a"), &rv)
        .await
        .unwrap()
        .boxed();
    pods.patch(
        "p",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "b"}}})),
    )
    .await
    .unwrap();
    match next(&mut stream).await.unwrap() {
        WatchEvent::Deleted(pod) => {
            assert_eq!(pod.metadata.name.as_deref(), Some("p"));
        }
        other => panic!("expected DELETED, got {other:?}"),
    }
    pods.patch(
        "p",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "a"}}})),
    )
    .await
    .unwrap();
    assert!(matches!(
        next(&mut stream).await.unwrap(),
        WatchEvent::Added(_)
    ));
}

#[tokio::test]
async fn field_selected_watches_see_only_their_node() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let pods: Api<Pod> = Api::namespaced(client, &h.ns);
    let mut stream = pods
        .watch(&WatchParams::default().fields("spec.nodeName=n1"), "0")
        .await
        .unwrap()
        .boxed();
    let mut other = pod("elsewhere", json!({}));
    other.spec.as_mut().unwrap().node_name = Some("n2".into());
    pods.create(&PostParams::default(), &other).await.unwrap();
    let mut here = pod("here", json!({}));
    here.spec.as_mut().unwrap().node_name = Some("n1".into());
    pods.create(&PostParams::default(), &here).await.unwrap();
    match next(&mut stream).await.unwrap() {
        WatchEvent::Added(pod) => assert_eq!(pod.metadata.name.as_deref(), Some("here")),
        other => panic!("expected ADDED here, got {other:?}"),
    }
}

#[tokio::test]
async fn timeout_seconds_ends_the_stream() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
    let stream = cms
        .watch(&WatchParams::default().timeout(1), "0")
        .await
        .unwrap();
    let events: Vec<_> = tokio::time::timeout(Duration::from_secs(10), stream.collect::<Vec<_>>())
        .await
        .expect("the stream ended");
    assert!(events.is_empty());
}

#[tokio::test]
async fn drop_watches_ends_every_stream() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
    let stream = cms.watch(&WatchParams::default(), "0").await.unwrap();
    let Some(emu) = h.emulator_or_skip("drop_watches") else {
        return;
    };
    emu.drop_watches();
    let events: Vec<_> = tokio::time::timeout(Duration::from_secs(10), stream.collect::<Vec<_>>())
        .await
        .expect("the stream ended");
    assert!(events.is_empty());
}

/// Pulls watcher events until `done` says so.
async fn until<S>(
    stream: &mut S,
    mut done: impl FnMut(&watcher::Event<ConfigMap>) -> bool,
) -> Vec<watcher::Event<ConfigMap>>
where
    S: futures::Stream<Item = Result<watcher::Event<ConfigMap>, watcher::Error>> + Unpin,
{
    let mut seen = Vec::new();
    loop {
        match next(stream).await {
            Ok(event) => {
                let stop = done(&event);
                seen.push(event);
                if stop {
                    return seen;
                }
            }
            Err(_) => continue,
        }
    }
}

fn is_apply_of(event: &watcher::Event<ConfigMap>, name: &str) -> bool {
    matches!(event, watcher::Event::Apply(cm) if cm.metadata.name.as_deref() == Some(name))
}

#[tokio::test]
async fn the_runtime_watcher_resumes_after_a_dropped_watch_without_relisting() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
    cms.create(&PostParams::default(), &config_map("first", json!({})))
        .await
        .unwrap();
    let mut stream = watcher(cms.clone(), watcher::Config::default()).boxed();
    until(&mut stream, |e| matches!(e, watcher::Event::InitDone)).await;
    // The watcher opens its watch when next polled; the first event proves it is open.
    cms.create(&PostParams::default(), &config_map("second", json!({})))
        .await
        .unwrap();
    until(&mut stream, |e| is_apply_of(e, "second")).await;
    let Some(emu) = h.emulator_or_skip("drop_watches") else {
        return;
    };
    emu.drop_watches();
    cms.create(&PostParams::default(), &config_map("third", json!({})))
        .await
        .unwrap();
    let seen = until(&mut stream, |e| is_apply_of(e, "third")).await;
    assert!(
        !seen.iter().any(|e| matches!(e, watcher::Event::Init)),
        "no relist: {seen:?}"
    );
    let watches = emu
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("watch=true"))
        .count();
    assert!(watches >= 2, "the watcher watched again");
}

#[tokio::test]
async fn the_runtime_watcher_relists_after_410() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
    cms.create(&PostParams::default(), &config_map("first", json!({})))
        .await
        .unwrap();
    let mut stream = watcher(cms.clone(), watcher::Config::default()).boxed();
    until(&mut stream, |e| matches!(e, watcher::Event::InitDone)).await;
    // The watcher makes progress only when polled: while it is idle its watch is
    // dropped and the history it would resume from is compacted away.
    let Some(emu) = h.emulator_or_skip("drop_watches") else {
        return;
    };
    emu.drop_watches();
    cms.create(&PostParams::default(), &config_map("second", json!({})))
        .await
        .unwrap();
    emu.compact();
    let mut errors = Vec::new();
    let mut relisted = false;
    loop {
        match next(&mut stream).await {
            Err(error) => errors.push(error.to_string()),
            Ok(watcher::Event::Init) => relisted = true,
            Ok(watcher::Event::InitDone) => break,
            Ok(_) => {}
        }
    }
    assert!(relisted, "the watcher listed again");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("410") || e.contains("too old")),
        "{errors:?}"
    );
}

#[tokio::test]
async fn the_runtime_watcher_uses_bookmarked_versions() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &h.ns);
    let config = watcher::Config::default().labels("app=quiet");
    let mut stream = watcher(pods.clone(), config).boxed();
    loop {
        if let Ok(watcher::Event::InitDone) = next(&mut stream).await {
            break;
        }
    }
    // The watcher opens its watch when next polled; the first event proves it is open.
    pods.create(
        &PostParams::default(),
        &pod("marker", json!({"app": "quiet"})),
    )
    .await
    .unwrap();
    loop {
        if let Ok(watcher::Event::Apply(_)) = next(&mut stream).await {
            break;
        }
    }
    // Another resource moves the global resourceVersion on; the bookmark carries it.
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
    cms.create(&PostParams::default(), &config_map("moves-rv", json!({})))
        .await
        .unwrap();
    let Some(emu) = h.emulator_or_skip("resource_version") else {
        return;
    };
    let bookmarked = emu.resource_version();
    emu.send_bookmarks();
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    // Let the watcher read the bookmark (it yields no event for it).
    let _ = tokio::time::timeout(Duration::from_millis(500), stream.next()).await;
    emu.drop_watches();
    pods.create(
        &PostParams::default(),
        &pod("after", json!({"app": "quiet"})),
    )
    .await
    .unwrap();
    loop {
        if let Ok(watcher::Event::Apply(p)) = next(&mut stream).await
            && p.metadata.name.as_deref() == Some("after")
        {
            break;
        }
    }
    let resumed = emu.requests().iter().any(|r| {
        r.path.contains("watch=true") && r.path.contains(&format!("resourceVersion={bookmarked}"))
    });
    assert!(
        resumed,
        "re-watched from the bookmark: {:#?}",
        emu.requests()
    );
}

#[tokio::test]
async fn streaming_lists_send_initial_events_then_live_ones() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
    cms.create(&PostParams::default(), &config_map("existing", json!({})))
        .await
        .unwrap();
    let mut stream = watcher(cms.clone(), watcher::Config::default().streaming_lists()).boxed();
    let initial = until(&mut stream, |e| matches!(e, watcher::Event::InitDone)).await;
    assert!(initial.iter().any(|e| matches!(e, watcher::Event::InitApply(cm) if cm.metadata.name.as_deref() == Some("existing"))));
    cms.create(&PostParams::default(), &config_map("live", json!({})))
        .await
        .unwrap();
    until(&mut stream, |e| is_apply_of(e, "live")).await;
}

#[tokio::test]
async fn watcher_delete_events_follow_deletions() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
    cms.create(&PostParams::default(), &config_map("doomed", json!({})))
        .await
        .unwrap();
    let stream = watcher(cms.clone(), watcher::Config::default()).boxed();
    let mut stream = stream.map_err(|e| e.to_string()).boxed();
    loop {
        if let Ok(watcher::Event::InitDone) = next(&mut stream).await {
            break;
        }
    }
    cms.delete("doomed", &Default::default()).await.unwrap();
    loop {
        if let Ok(watcher::Event::Delete(cm)) = next(&mut stream).await {
            assert_eq!(cm.metadata.name.as_deref(), Some("doomed"));
            break;
        }
    }
}
