//! Server-side apply: create, update, a no-op that writes nothing and emits no event,
//! conflicts between managers and `force`, removal of fields a manager stops sending.

mod common;

use common::{Harness, api_error, next};
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

fn applied(data: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": data})
}

#[tokio::test]
async fn apply_creates_updates_and_leaves_no_ops_alone() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
    let params = PatchParams::apply("manager-a");
    let created = cms
        .patch(
            "cfg",
            &params,
            &Patch::Apply(applied(json!({"a": "1", "b": "2"}))),
        )
        .await
        .unwrap();
    let fields = created.metadata.managed_fields.clone().unwrap();
    assert_eq!(fields.len(), 1);
    assert_eq!(fields[0].manager.as_deref(), Some("manager-a"));
    assert_eq!(fields[0].operation.as_deref(), Some("Apply"));

    let updated = cms
        .patch(
            "cfg",
            &params,
            &Patch::Apply(applied(json!({"a": "1", "b": "3"}))),
        )
        .await
        .unwrap();
    assert_eq!(updated.data.as_ref().unwrap()["b"], "3");

    // The same configuration again: nothing is written and watchers see nothing.
    let rv = updated.metadata.resource_version.clone().unwrap();
    let mut stream = cms
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    let writes = h
        .emulator_or_skip("write_count")
        .map(|emu| (emu, emu.write_count()));
    let again = cms
        .patch(
            "cfg",
            &params,
            &Patch::Apply(applied(json!({"a": "1", "b": "3"}))),
        )
        .await
        .unwrap();
    assert_eq!(
        again.metadata.resource_version.as_deref(),
        Some(rv.as_str())
    );
    assert_eq!(
        again.metadata.managed_fields,
        updated.metadata.managed_fields
    );
    if let Some((emu, writes)) = writes {
        assert_eq!(emu.write_count(), writes);
    }
    // The next event the watcher sees is a later, unrelated write.
    cms.create(
        &PostParams::default(),
        &common::config_map("marker", json!({})),
    )
    .await
    .unwrap();
    match next(&mut stream).await.unwrap() {
        WatchEvent::Added(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("marker")),
        other => panic!("the no-op apply produced an event: {other:?}"),
    }

    // Fields the manager stops sending are removed.
    let trimmed = cms
        .patch("cfg", &params, &Patch::Apply(applied(json!({"a": "1"}))))
        .await
        .unwrap();
    assert!(!trimmed.data.unwrap().contains_key("b"));
}

#[tokio::test]
async fn conflicting_managers_need_force() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
    cms.patch(
        "cfg",
        &PatchParams::apply("owner"),
        &Patch::Apply(applied(json!({"k": "mine"}))),
    )
    .await
    .unwrap();
    let conflict = api_error(
        cms.patch(
            "cfg",
            &PatchParams::apply("intruder"),
            &Patch::Apply(applied(json!({"k": "theirs"}))),
        )
        .await,
    );
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        conflict.message,
        "Apply failed with 1 conflict: conflict with \"owner\": .data.k"
    );

    let forced = cms
        .patch(
            "cfg",
            &PatchParams::apply("intruder").force(),
            &Patch::Apply(applied(json!({"k": "theirs"}))),
        )
        .await
        .unwrap();
    assert_eq!(forced.data.unwrap()["k"], "theirs");
    // Same value, different manager: shared ownership, no conflict.
    cms.patch(
        "cfg",
        &PatchParams::apply("third"),
        &Patch::Apply(applied(json!({"k": "theirs"}))),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn apply_requires_a_field_manager_and_honours_status() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &h.ns);
    let error = api_error(
        cms.patch(
            "cfg",
            &PatchParams::default(),
            &Patch::Apply(applied(json!({}))),
        )
        .await,
    );
    assert_eq!(error.code, 422);

    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client, &h.ns);
    pods.create(&PostParams::default(), &common::pod("p", json!({})))
        .await
        .unwrap();
    let status = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "status": {"phase": "Running", "podIP": "10.0.0.9"}});
    let patched = pods
        .patch_status(
            "p",
            &PatchParams::apply("kubelet").force(),
            &Patch::Apply(status),
        )
        .await
        .unwrap();
    let pod_status = patched.status.unwrap();
    assert_eq!(pod_status.phase.as_deref(), Some("Running"));
    let entry = patched
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .find(|e| e.manager.as_deref() == Some("kubelet"))
        .unwrap();
    assert_eq!(entry.subresource.as_deref(), Some("status"));
}
