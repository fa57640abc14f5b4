//! Test hooks and extension points: injected failures, the request log, direct reads,
//! seeding, admission plugins, extension API groups, and serving on a loopback socket.

mod common;

use std::sync::Arc;

use common::{Harness, api_error, config_map, next};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, PostParams, WatchEvent,
    WatchParams,
};
use kube_apimachinery::registry::ResourceType;
use kube_emu::{
    AdmissionDenial, AdmissionPlugin, AdmissionRequest, ApiExtension, FailureRule, KubeEmu,
    Operation,
};
use serde_json::json;
use tower::ServiceExt as _;

#[tokio::test]
async fn injected_failures_reach_the_client() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let Some(emu) = h.emulator_or_skip("inject_failure") else {
        return;
    };
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
    emu.inject_failure(FailureRule {
        resource: Some("configmaps".into()),
        times: Some(1),
        ..FailureRule::new(500)
    });
    let internal = api_error(cms.list(&ListParams::default()).await);
    assert_eq!(
        (internal.code, internal.reason.as_str()),
        (500, "InternalError")
    );
    assert!(
        cms.list(&ListParams::default()).await.is_ok(),
        "the rule fired once"
    );

    emu.inject_failure(FailureRule {
        method: Some(http::Method::POST),
        retry_after: Some(7),
        times: Some(1),
        ..FailureRule::new(429)
    });
    let throttled = api_error(
        cms.create(&PostParams::default(), &config_map("c", json!({})))
            .await,
    );
    assert_eq!(
        (throttled.code, throttled.reason.as_str()),
        (429, "TooManyRequests")
    );

    emu.inject_failure(FailureRule {
        path_contains: Some("/configmaps/c".into()),
        times: Some(1),
        ..FailureRule::new(409)
    });
    cms.create(&PostParams::default(), &config_map("c", json!({})))
        .await
        .unwrap();
    let conflict = api_error(cms.get("c").await);
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));

    emu.inject_failure(FailureRule {
        retry_after: Some(3),
        ..FailureRule::new(429)
    });
    let response = emu
        .router()
        .oneshot(
            http::Request::get("/api/v1/pods")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers().get("retry-after").unwrap(), "3");
    emu.clear_failures();
    assert!(cms.get("c").await.is_ok());
}

#[tokio::test]
async fn the_request_log_records_method_path_status_and_manager() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let Some(emu) = h.emulator_or_skip("requests") else {
        return;
    };
    emu.clear_requests();
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
    cms.create(
        &PostParams {
            field_manager: Some("tester".into()),
            ..PostParams::default()
        },
        &config_map("c", json!({})),
    )
    .await
    .unwrap();
    let _ = cms.get("missing").await;
    let log = emu.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].method, "POST");
    assert!(
        log[0]
            .path
            .starts_with(&format!("/api/v1/namespaces/{}/configmaps", h.ns))
    );
    assert_eq!(log[0].status, 201);
    assert_eq!(log[0].field_manager.as_deref(), Some("tester"));
    assert_eq!(log[1].status, 404);
    emu.clear_requests();
    assert!(emu.requests().is_empty());
}

#[tokio::test]
async fn seeding_and_direct_reads() {
    if !e2e::emulator_only("seeding_and_direct_reads") {
        return;
    }
    let emu = KubeEmu::new();
    let written = emu
        .seed_yaml(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: default\ndata:\n  k: v\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: default\nspec:\n  containers:\n  - name: c\n    image: nginx\nstatus:\n  phase: Running\n",
        )
        .unwrap();
    assert_eq!(written, 2);
    assert_eq!(
        emu.get_object("v1", "ConfigMap", Some("default"), "a")
            .unwrap()["data"]["k"],
        "v"
    );
    let pod = emu.get_object("v1", "pods", Some("default"), "p").unwrap();
    assert_eq!(pod["status"]["phase"], "Running", "seeded status is kept");
    assert_eq!(emu.list_objects("v1", "Pod", None).len(), 1);
    let writes = emu.write_count();
    assert!(writes > 0);
    assert!(
        emu.seed_yaml("kind: Widget\napiVersion: nowhere/v1\nmetadata: {name: x}\n")
            .is_err()
    );
}

struct NoForbiddenNames;

impl AdmissionPlugin for NoForbiddenNames {
    fn name(&self) -> &str {
        "names.example.com"
    }

    fn handles(
        &self,
        resource: &ResourceType,
        operation: Operation,
        _subresource: Option<&str>,
    ) -> bool {
        resource.kind == "ConfigMap" && operation != Operation::Delete
    }

    fn mutate(&self, request: &mut AdmissionRequest<'_>) -> Result<(), AdmissionDenial> {
        if let Some(object) = request.object.as_deref_mut() {
            object["metadata"]["labels"]["admitted"] = json!("true");
        }
        Ok(())
    }

    fn validate(&self, request: &AdmissionRequest<'_>) -> Result<(), AdmissionDenial> {
        if request.name.starts_with("forbidden") {
            return Err(AdmissionDenial::new(format!(
                "the name {} is not allowed",
                request.name
            )));
        }
        if request
            .store
            .get("", "configmaps", request.namespace, "blocker")
            .is_some()
        {
            return Err(AdmissionDenial::forbidden("a blocker exists"));
        }
        Ok(())
    }
}

#[tokio::test]
async fn admission_plugins_mutate_and_deny_like_webhooks() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let Some(emu) = h.emulator_or_skip("add_admission_plugin") else {
        return;
    };
    emu.add_admission_plugin(Arc::new(NoForbiddenNames));
    let cms: Api<ConfigMap> = Api::namespaced(client, &h.ns);
    let admitted = cms
        .create(&PostParams::default(), &config_map("fine", json!({})))
        .await
        .unwrap();
    assert_eq!(admitted.metadata.labels.unwrap()["admitted"], "true");
    let denied = api_error(
        cms.create(
            &PostParams::default(),
            &config_map("forbidden-x", json!({})),
        )
        .await,
    );
    assert_eq!(denied.code, 400);
    assert_eq!(
        denied.message,
        "admission webhook \"names.example.com\" denied the request: the name forbidden-x is not allowed"
    );
    emu.seed_yaml(&format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: blocker, namespace: {}}}\n",
        h.ns
    ))
    .unwrap();
    let blocked = api_error(
        cms.create(&PostParams::default(), &config_map("other", json!({})))
            .await,
    );
    assert_eq!((blocked.code, blocked.reason.as_str()), (403, "Forbidden"));
}

#[tokio::test]
async fn extension_groups_are_routed_and_discovered() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let Some(emu) = h.emulator_or_skip("register_extension") else {
        return;
    };
    let router = axum::Router::new().route(
        "/apis/stats.example.io/v1alpha1/nodestats",
        axum::routing::get(|| async {
            axum::Json(json!({
                "apiVersion": "stats.example.io/v1alpha1",
                "kind": "NodeStatsList",
                "metadata": {"resourceVersion": "1"},
                "items": [{"apiVersion": "stats.example.io/v1alpha1", "kind": "NodeStats", "metadata": {"name": "n1"}}]
            }))
        }),
    );
    let extension = ApiExtension::new("stats.example.io", "v1alpha1", router).with_resource(
        kube_emu::extension::extension_resource(
            "stats.example.io",
            "v1alpha1",
            "nodestats",
            "NodeStats",
            false,
            &["get", "list"],
        ),
    );
    emu.register_extension(extension).unwrap();
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("stats.example.io", "v1alpha1", "NodeStats"),
        "nodestats",
    );
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let listed = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items[0].metadata.name.as_deref(), Some("n1"));
    let discovered = kube::discovery::Discovery::new(client).run().await.unwrap();
    assert!(discovered.groups().any(|g| g.name() == "stats.example.io"));
    let again = ApiExtension::new("stats.example.io", "v1alpha1", axum::Router::new());
    assert!(emu.register_extension(again).is_err());
}

#[tokio::test]
async fn serves_kube_clients_over_a_loopback_socket() {
    if !e2e::emulator_only("serves_kube_clients_over_a_loopback_socket") {
        return;
    }
    let emu = KubeEmu::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = {
        let emu = emu.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move { emu.serve(listener, shutdown).await })
    };
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&emu.kubeconfig_yaml(&url)).unwrap();
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let version = client.apiserver_version().await.unwrap();
    assert_eq!(version.major, "1");

    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let mut stream = pods
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    cms.create(&PostParams::default(), &config_map("over-tcp", json!({})))
        .await
        .unwrap();
    pods.create(&PostParams::default(), &common::pod("p", json!({})))
        .await
        .unwrap();
    assert!(matches!(
        next(&mut stream).await.unwrap(),
        WatchEvent::Added(_)
    ));

    shutdown.cancel();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("server stopped")
        .unwrap();
    assert!(ended.is_ok());
}
