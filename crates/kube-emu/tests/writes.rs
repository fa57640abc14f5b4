//! Writes: patches of each type, status subresources, finalizers, namespace deletion,
//! dry runs, deletecollection, field validation.

mod common;

use common::{Harness, api_error, config_map, create_namespace, eventually, pod, unique_name};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

#[tokio::test]
async fn merge_json_and_strategic_patches() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let pods: Api<Pod> = Api::namespaced(client, &h.ns);
    pods.create(&PostParams::default(), &pod("p", json!({"app": "a"})))
        .await
        .unwrap();

    let merged = pods
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"extra": "1"}}})),
        )
        .await
        .unwrap();
    assert_eq!(merged.metadata.labels.as_ref().unwrap().len(), 2);

    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "replace", "path": "/metadata/labels/app", "value": "b"},
        {"op": "remove", "path": "/metadata/labels/extra"}
    ]))
    .unwrap();
    let jsoned = pods
        .patch("p", &PatchParams::default(), &Patch::Json::<()>(patch))
        .await
        .unwrap();
    assert_eq!(jsoned.metadata.labels.unwrap()["app"], "b");

    // Strategic merge patches merge containers by name instead of replacing the list.
    let strategic = pods
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Strategic(
                json!({"spec": {"containers": [{"name": "side", "image": "busybox"}]}}),
            ),
        )
        .await;
    // Adding a container to a pod is forbidden by the real server's pod validation only
    // for updates of running pods; the emulator accepts the merged spec.
    if let Ok(pod) = strategic {
        let containers = pod.spec.unwrap().containers;
        assert_eq!(containers.len(), 2);
    }

    let failing: json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/metadata/name", "value": "other"}]))
            .unwrap();
    let error = api_error(
        pods.patch("p", &PatchParams::default(), &Patch::Json::<()>(failing))
            .await,
    );
    assert_eq!(error.code, 422);
}

#[tokio::test]
async fn a_resource_version_in_a_patch_is_a_precondition() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
    cms.create(&PostParams::default(), &config_map("c", json!({})))
        .await
        .unwrap();
    let error = api_error(
        cms.patch(
            "c",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"resourceVersion": "1"}, "data": {"a": "b"}})),
        )
        .await,
    );
    assert_eq!((error.code, error.reason.as_str()), (409, "Conflict"));
    let missing = api_error(
        cms.patch("nope", &PatchParams::default(), &Patch::Merge(json!({})))
            .await,
    );
    assert_eq!(missing.code, 404);
}

#[tokio::test]
async fn pod_status_is_written_only_through_the_subresource() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let pods: Api<Pod> = Api::namespaced(client, &h.ns);
    pods.create(&PostParams::default(), &pod("p", json!({})))
        .await
        .unwrap();
    let ignored = pods
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Running"}})),
        )
        .await
        .unwrap();
    assert_eq!(ignored.status.unwrap().phase.as_deref(), Some("Pending"));
    let running = pods
        .patch_status(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Running", "podIP": "10.1.0.5"}, "metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .unwrap();
    assert_eq!(
        running.status.as_ref().unwrap().phase.as_deref(),
        Some("Running")
    );
    let labels = running.metadata.labels.clone().unwrap_or_default();
    assert!(
        !labels.contains_key("x"),
        "status writes ignore metadata changes"
    );
    let mut replaced = running.clone();
    replaced.status.as_mut().unwrap().phase = Some("Succeeded".into());
    let done = pods
        .replace_status("p", &PostParams::default(), &replaced)
        .await
        .unwrap();
    assert_eq!(done.status.unwrap().phase.as_deref(), Some("Succeeded"));
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
    let mut held = config_map("held", json!({}));
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    cms.create(&PostParams::default(), &held).await.unwrap();
    cms.delete("held", &DeleteParams::default()).await.unwrap();
    let deleting = cms.get("held").await.unwrap();
    assert!(deleting.metadata.deletion_timestamp.is_some());
    let error = api_error(
        cms.patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"finalizers": ["example.com/hold", "example.com/new"]}}),
            ),
        )
        .await,
    );
    assert_eq!(error.code, 422);
    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert_eq!(api_error(cms.get("held").await).code, 404);
    let Some(emu) = h.emulator_or_skip("get_object") else {
        return;
    };
    assert!(
        emu.get_object("v1", "configmaps", Some(&h.ns), "held")
            .is_none()
    );
}

#[tokio::test]
async fn deleting_a_namespace_deletes_its_objects_then_itself() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let team = unique_name("team");
    create_namespace(&client, &team).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &team);
    pods.create(&PostParams::default(), &pod("p", json!({})))
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &team);
    let mut held = config_map("held", json!({}));
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    cms.create(&PostParams::default(), &held).await.unwrap();

    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .delete(&team, &DeleteParams::default())
        .await
        .unwrap();
    let terminating = namespaces.get(&team).await.unwrap();
    assert_eq!(
        terminating.status.unwrap().phase.as_deref(),
        Some("Terminating")
    );
    // A real cluster's namespace controller removes the contents a moment later.
    let gone = eventually(|| async { not_found_code(pods.get("p").await) }).await;
    assert_eq!(gone, 404);

    let forbidden = api_error(
        cms.create(&PostParams::default(), &config_map("new", json!({})))
            .await,
    );
    assert_eq!(
        (forbidden.code, forbidden.reason.as_str()),
        (403, "Forbidden")
    );
    assert_eq!(
        forbidden.message,
        format!(
            "configmaps \"new\" is forbidden: unable to create new content in namespace {team} \
             because it is being terminated"
        )
    );

    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    let gone = eventually(|| async { not_found_code(namespaces.get(&team).await) }).await;
    assert_eq!(gone, 404);

    let immortal = api_error(namespaces.delete("default", &DeleteParams::default()).await);
    assert_eq!(immortal.code, 403);

    let Some(emu) = h.emulator_or_skip("list_objects") else {
        return;
    };
    assert!(
        emu.list_objects("v1", "ServiceAccount", Some(&team))
            .is_empty()
    );
}

#[tokio::test]
async fn dry_runs_change_nothing() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
    let writes = h
        .emulator_or_skip("write_count")
        .map(|emu| (emu, emu.write_count()));
    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let answered = cms
        .create(&dry, &config_map("dry", json!({"a": "b"})))
        .await
        .unwrap();
    assert_eq!(answered.metadata.name.as_deref(), Some("dry"));
    assert_eq!(api_error(cms.get("dry").await).code, 404);
    if let Some((emu, writes)) = writes {
        assert_eq!(emu.write_count(), writes);
    }

    cms.create(&PostParams::default(), &config_map("real", json!({})))
        .await
        .unwrap();
    cms.delete(
        "real",
        &DeleteParams {
            dry_run: true,
            ..DeleteParams::default()
        },
    )
    .await
    .unwrap();
    assert!(cms.get("real").await.is_ok());
    let patched = cms
        .patch(
            "real",
            &PatchParams::default().dry_run(),
            &Patch::Merge(json!({"data": {"x": "1"}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.data.unwrap()["x"], "1");
    let stored = cms.get("real").await.unwrap().data.unwrap_or_default();
    assert!(!stored.contains_key("x"));
}

#[tokio::test]
async fn delete_collection_honours_selectors() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let pods: Api<Pod> = Api::namespaced(client, &h.ns);
    for (name, app) in [("a", "x"), ("b", "y"), ("c", "x")] {
        pods.create(&PostParams::default(), &pod(name, json!({"app": app})))
            .await
            .unwrap();
    }
    pods.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("app=x"),
    )
    .await
    .unwrap();
    let left: Vec<String> = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    assert_eq!(left, ["b"]);
}

#[tokio::test]
async fn services_get_cluster_ips_and_keep_them() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let services: Api<Service> = Api::namespaced(client, &h.ns);
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    }))
    .unwrap();
    let created = services.create(&PostParams::default(), &svc).await.unwrap();
    let spec = created.spec.clone().unwrap();
    let ip = spec.cluster_ip.clone().unwrap();
    assert!(
        ip.starts_with("10.9") || ip.starts_with("10.10") || ip.starts_with("10.11"),
        "{ip}"
    );
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    let replaced = services
        .replace("web", &PostParams::default(), &{
            let mut s = svc.clone();
            s.metadata.resource_version = created.metadata.resource_version.clone();
            s
        })
        .await
        .unwrap();
    assert_eq!(replaced.spec.unwrap().cluster_ip, Some(ip));
}

#[tokio::test]
async fn unknown_fields_warn_or_fail_by_field_validation() {
    let h = Harness::start().await;
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c"}, "data": {}, "bogus": 1});
    let request = |query: &str, name: &str| {
        let mut body = body.clone();
        body["metadata"]["name"] = json!(name);
        http::Request::post(format!("/api/v1/namespaces/{}/configmaps{query}", h.ns))
            .header("content-type", "application/json")
            .body(kube::client::Body::from(body.to_string().into_bytes()))
            .unwrap()
    };
    // Raw requests through the test's client, so they reach a real cluster too.
    let warned = h.client.send(request("", "warned")).await.unwrap();
    assert_eq!(warned.status(), 201);
    let warning = warned.headers().get("warning").unwrap().to_str().unwrap();
    assert_eq!(warning, "299 - \"unknown field \\\"bogus\\\"\"");
    let strict = h
        .client
        .send(request("?fieldValidation=Strict", "strict"))
        .await
        .unwrap();
    assert_eq!(strict.status(), 400);
    let ignored = h
        .client
        .send(request("?fieldValidation=Ignore", "ignored"))
        .await
        .unwrap();
    assert_eq!(ignored.status(), 201);
    assert!(ignored.headers().get("warning").is_none());
}

/// The status code of a failed read, `None` while the object is still there.
fn not_found_code<T>(result: Result<T, kube::Error>) -> Option<u16> {
    match result {
        Err(kube::Error::Api(status)) => Some(status.code),
        _ => None,
    }
}
