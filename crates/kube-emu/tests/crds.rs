//! CustomResourceDefinitions: serving at once, Antrea's real manifests, schema
//! enforcement (422), status subresource and deletion of the instances with the CRD.

mod common;

use common::{Harness, antrea_crds_dir, api_error, unique_name};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::json;

fn acnp_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("crd.antrea.io", "v1beta1", "ClusterNetworkPolicy"),
        "clusternetworkpolicies",
    )
}

fn acnp(name: &str, priority: serde_json::Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "crd.antrea.io/v1beta1",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": name},
        "spec": {
            "priority": priority,
            "tier": "application",
            "appliedTo": [{"podSelector": {"matchLabels": {"app": "web"}}}],
            "ingress": [{"action": "Allow", "from": [{"podSelector": {}}]}]
        }
    }))
    .unwrap()
}

/// An API group of the test's own, so that tests sharing a real cluster do not collide.
fn widget_group() -> String {
    format!("{}.example.com", unique_name("test"))
}

fn widget_crd(group: &str) -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("widgets.{group}")},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "properties": {
                            "size": {"type": "integer", "minimum": 1, "default": 3},
                            "color": {"type": "string", "enum": ["red", "blue"]}
                        }},
                        "status": {"type": "object", "properties": {"phase": {"type": "string"}}}
                    }
                }}
            }]
        }
    }))
    .unwrap()
}

fn widget_resource(group: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, "v1", "Widget"), "widgets")
}

#[tokio::test]
async fn antrea_crds_serve_cluster_network_policies() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let Some(emu) = h.emulator_or_skip("load_crds_dir") else {
        return;
    };
    let count = emu.load_crds_dir(&antrea_crds_dir()).unwrap();
    assert!(count >= 10, "loaded {count} CRDs");
    let api: Api<DynamicObject> = Api::all_with(client, &acnp_resource());
    let created = api
        .create(&PostParams::default(), &acnp("allow-web", json!(10)))
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let listed = api.list(&Default::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].data["spec"]["priority"], 10);
}

#[tokio::test]
async fn schema_violations_are_422_with_field_causes() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let Some(emu) = h.emulator_or_skip("load_crds_dir") else {
        return;
    };
    emu.load_crds_dir(&antrea_crds_dir()).unwrap();
    let api: Api<DynamicObject> = Api::all_with(client, &acnp_resource());
    let error = api_error(
        api.create(&PostParams::default(), &acnp("bad", json!(0)))
            .await,
    );
    assert_eq!((error.code, error.reason.as_str()), (422, "Invalid"));
    assert!(
        error
            .message
            .starts_with("ClusterNetworkPolicy.crd.antrea.io \"bad\" is invalid: "),
        "{}",
        error.message
    );
    let causes = error.details.unwrap().causes;
    assert!(
        causes.iter().any(|c| c.field == "spec.priority"),
        "{causes:?}"
    );
}

#[tokio::test]
async fn unknown_fields_are_pruned_with_a_warning_or_rejected_when_strict() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let Some(emu) = h.emulator_or_skip("load_crds_dir") else {
        return;
    };
    emu.load_crds_dir(&antrea_crds_dir()).unwrap();
    let api: Api<DynamicObject> = Api::all_with(client, &acnp_resource());
    let mut object = acnp("extra", json!(5));
    object.data["spec"]["bogus"] = json!(true);
    let created = api.create(&PostParams::default(), &object).await.unwrap();
    assert!(created.data["spec"].get("bogus").is_none());

    // A strict merge patch reports the unknown field instead of pruning it.
    let strict = PatchParams::default().validation_strict();
    let error = api_error(
        api.patch(
            "extra",
            &strict,
            &Patch::Merge(json!({"spec": {"bogus": true}})),
        )
        .await,
    );
    assert_eq!((error.code, error.reason.as_str()), (400, "BadRequest"));
    assert!(
        error.message.contains("unknown field \"spec.bogus\""),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn strategic_merge_patch_of_a_custom_resource_is_415() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let Some(emu) = h.emulator_or_skip("load_crds_dir") else {
        return;
    };
    emu.load_crds_dir(&antrea_crds_dir()).unwrap();
    let api: Api<DynamicObject> = Api::all_with(client, &acnp_resource());
    api.create(&PostParams::default(), &acnp("p", json!(5)))
        .await
        .unwrap();
    let error = api_error(
        api.patch(
            "p",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"priority": 6}})),
        )
        .await,
    );
    assert_eq!(
        (error.code, error.reason.as_str()),
        (415, "UnsupportedMediaType")
    );
    let merged = api
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"priority": 6}})),
        )
        .await
        .unwrap();
    assert_eq!(merged.data["spec"]["priority"], 6);
    assert_eq!(merged.metadata.generation, Some(2));
}

#[tokio::test]
async fn a_posted_crd_is_established_and_served_at_once_and_its_deletion_removes_instances() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let group = widget_group();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let created = crds
        .create(&PostParams::default(), &widget_crd(&group))
        .await
        .unwrap();
    let status = created.status.unwrap();
    let conditions = status.conditions.unwrap();
    assert!(
        conditions
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True")
    );
    assert!(
        conditions
            .iter()
            .any(|c| c.type_ == "NamesAccepted" && c.status == "True")
    );
    assert_eq!(status.accepted_names.unwrap().kind, "Widget");

    let widgets: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &h.ns, &widget_resource(&group));
    let widget: DynamicObject = serde_json::from_value(json!({
        "apiVersion": format!("{group}/v1"), "kind": "Widget",
        "metadata": {"name": "w1"}, "spec": {"color": "red"}
    }))
    .unwrap();
    let created = widgets
        .create(&PostParams::default(), &widget)
        .await
        .unwrap();
    assert_eq!(created.data["spec"]["size"], 3, "schema default applied");

    let crd_name = format!("widgets.{group}");
    crds.delete(&crd_name, &DeleteParams::default())
        .await
        .unwrap();
    let gone = api_error(widgets.list(&Default::default()).await);
    assert_eq!(gone.code, 404);
    let Some(emu) = h.emulator_or_skip("get_object") else {
        return;
    };
    assert!(
        emu.get_object(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            None,
            &crd_name
        )
        .is_none()
    );
    assert!(
        emu.list_objects(&format!("{group}/v1"), "widgets", None)
            .is_empty()
    );
}

#[tokio::test]
async fn custom_resource_status_subresource_and_generation() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let group = widget_group();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &widget_crd(&group))
        .await
        .unwrap();
    let widgets: Api<DynamicObject> = Api::namespaced_with(client, &h.ns, &widget_resource(&group));
    let widget: DynamicObject = serde_json::from_value(json!({
        "apiVersion": format!("{group}/v1"), "kind": "Widget",
        "metadata": {"name": "w"}, "spec": {"size": 1}, "status": {"phase": "ignored"}
    }))
    .unwrap();
    let created = widgets
        .create(&PostParams::default(), &widget)
        .await
        .unwrap();
    assert!(
        created.data.get("status").is_none(),
        "status is dropped on create"
    );

    // Writing status through the main resource is ignored.
    let ignored = widgets
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Ready"}})),
        )
        .await
        .unwrap();
    assert!(ignored.data.get("status").is_none());
    assert_eq!(
        ignored.metadata.resource_version,
        created.metadata.resource_version
    );

    // The status subresource changes only status, and not the generation.
    let status = widgets
        .patch_status(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Ready"}, "spec": {"size": 9}})),
        )
        .await
        .unwrap();
    assert_eq!(status.data["status"]["phase"], "Ready");
    assert_eq!(status.data["spec"]["size"], 1);
    assert_eq!(status.metadata.generation, Some(1));

    // A label change does not bump the generation, a spec change does.
    let relabeled = widgets
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .unwrap();
    assert_eq!(relabeled.metadata.generation, Some(1));
    let resized = widgets
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 2}})),
        )
        .await
        .unwrap();
    assert_eq!(resized.metadata.generation, Some(2));
    assert_eq!(resized.data["status"]["phase"], "Ready");

    crds.delete(&format!("widgets.{group}"), &DeleteParams::default())
        .await
        .unwrap();
}
