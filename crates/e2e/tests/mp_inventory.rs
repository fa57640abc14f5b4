//! The MP adapter's inventory through NSX's REST API (nsx-sim) with kube-emu and the Antrea
//! emulation: every kind appearing, changing and disappearing (the optional CRDs included,
//! Gateway's registered while the adapter runs); a restart after changes made while the
//! adapter was down (deletions included); an NSX outage with batches failing, after which
//! NSX holds exactly the cluster's objects, each once; a record NSX refuses, set aside
//! while the rest arrives; a Service without a selector and its hand-written EndpointSlice.

mod mp_common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;

use antrea_emu::AntreaOptions;
use antrea_types::ClusterNetworkPolicy;
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use mp_common::{Env, RewritingRelay, eventually, label_tags, object, text, wait_status};
use nsx_model::inventory::ResourceType;
use serde_json::{Value, json};

fn uid<K: kube::Resource>(object: &K) -> String {
    object
        .meta()
        .uid
        .clone()
        .expect("a created object has a UID")
}

async fn create_namespace(env: &Env, name: &str, labels: Value) -> Namespace {
    Api::<Namespace>::all(env.client.clone())
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": name, "labels": labels}})),
        )
        .await
        .unwrap()
}

fn pod_body(name: &str, labels: Value) -> Pod {
    object(json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "main", "image": "nginx:1.27",
                                  "ports": [{"name": "http", "containerPort": 8080}]}]},
    }))
}

async fn create_pod(env: &Env, namespace: &str, name: &str, labels: Value) -> Pod {
    Api::<Pod>::namespaced(env.client.clone(), namespace)
        .create(&PostParams::default(), &pod_body(name, labels))
        .await
        .unwrap()
}

async fn merge<K>(api: &Api<K>, name: &str, patch: Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

async fn delete<K>(api: &Api<K>, name: &str)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.delete(name, &DeleteParams::default()).await.unwrap();
}

fn real_crds() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/antrea-crds/v2.7.0")
}

fn gateway_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "Gateway"),
        "gateways",
    )
}

/// Registers a Gateway API `gateways` CRD (schema left open).
async fn register_gateway_crd(env: &Env) {
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gateways.gateway.networking.k8s.io"},
        "spec": {
            "group": "gateway.networking.k8s.io",
            "scope": "Namespaced",
            "names": {"plural": "gateways", "singular": "gateway", "kind": "Gateway", "listKind": "GatewayList"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}],
        },
    });
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
        "customresourcedefinitions",
    );
    Api::<DynamicObject>::all_with(env.client.clone(), &resource)
        .create(&PostParams::default(), &object(crd))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_appears_changes_and_disappears() {
    let env = Env::start_with(AntreaOptions {
        use_crd_manifests: Some(real_crds()),
        ..mp_common::antrea_options()
    })
    .await;
    let adapter = env.adapter(env.options()).await;

    // The cluster and its Nodes, agents healthy.
    let cluster = env
        .admin
        .get_container_cluster(&env.cluster.node_id)
        .await
        .unwrap()
        .expect("the ContainerCluster exists");
    assert_eq!(cluster.display_name.as_deref(), Some(mp_common::CLUSTER));
    let nodes = eventually("three healthy Nodes", || async {
        let nodes = env.nsx(ResourceType::ContainerClusterNode).await;
        (nodes.len() == 3
            && nodes
                .iter()
                .all(|n| n.to_json()["cni_agent_status"] == "HEALTHY"))
        .then_some(nodes)
    })
    .await;
    let node_uids: BTreeSet<String> = nodes.iter().map(|n| n.external_id().to_owned()).collect();

    // Appearing.
    let namespace = create_namespace(&env, "shop", json!({"team": "a"})).await;
    let services: Api<Service> = Api::namespaced(env.client.clone(), "shop");
    let service = services
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "web", "labels": {"tier": "front"}},
                "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})),
        )
        .await
        .unwrap();
    let pod = create_pod(&env, "shop", "web-0", json!({"app": "web"})).await;
    let ingresses: Api<Ingress> = Api::namespaced(env.client.clone(), "shop");
    let ingress = ingresses
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "web"},
                "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}})),
        )
        .await
        .unwrap();
    let policies: Api<NetworkPolicy> = Api::namespaced(env.client.clone(), "shop");
    let policy = policies
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "isolate"},
                "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"]}})),
        )
        .await
        .unwrap();
    let acnps: Api<ClusterNetworkPolicy> = Api::all(env.client.clone());
    let acnp = acnps
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "deny-db"},
                "spec": {"priority": 5, "appliedTo": [{"podSelector": {"matchLabels": {"app": "db"}}}],
                         "ingress": [{"action": "Drop", "name": "drop-all"}]}})),
        )
        .await
        .unwrap();
    let annps: Api<antrea_types::NetworkPolicy> = Api::namespaced(env.client.clone(), "shop");
    let annp = annps
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "allow-web"},
                "spec": {"priority": 3, "appliedTo": [{"podSelector": {}}],
                         "ingress": [{"action": "Allow", "name": "web", "from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}]}})),
        )
        .await
        .unwrap();
    let egress_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("crd.antrea.io", "v1beta1", "Egress"),
        "egresses",
    );
    let egresses: Api<DynamicObject> = Api::all_with(env.client.clone(), &egress_resource);
    let egress = egresses
        .create(
            &PostParams::default(),
            &object(json!({"apiVersion": "crd.antrea.io/v1beta1", "kind": "Egress",
                "metadata": {"name": "out"},
                "spec": {"appliedTo": {"podSelector": {"matchLabels": {"app": "web"}}}, "egressIP": "172.18.0.100"}})),
        )
        .await
        .unwrap();
    let pool_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("crd.antrea.io", "v1beta1", "ExternalIPPool"),
        "externalippools",
    );
    let pools: Api<DynamicObject> = Api::all_with(env.client.clone(), &pool_resource);
    let pool = pools
        .create(
            &PostParams::default(),
            &object(
                json!({"apiVersion": "crd.antrea.io/v1beta1", "kind": "ExternalIPPool",
                "metadata": {"name": "pool-a"},
                "spec": {"ipRanges": [{"cidr": "10.20.0.0/24"}], "nodeSelector": {}}}),
            ),
        )
        .await
        .unwrap();
    // The Gateway CRD appears only now, while the adapter runs.
    register_gateway_crd(&env).await;
    let gateways: Api<DynamicObject> =
        Api::namespaced_with(env.client.clone(), "shop", &gateway_resource());
    let gateway = eventually("a Gateway created", || async {
        gateways
            .create(
                &PostParams::default(),
                &object(json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                    "metadata": {"name": "edge"},
                    "spec": {"gatewayClassName": "antrea", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}})),
            )
            .await
            .ok()
    })
    .await;

    let project_uid = uid(&namespace);
    let service_uid = uid(&service);
    let pod_uid = uid(&pod);
    let project = env
        .nsx_until(
            "the project",
            ResourceType::ContainerProject,
            &project_uid,
            |r| r.is_some_and(|r| label_tags(r).contains(&"team=a".to_owned())),
        )
        .await
        .unwrap();
    assert_eq!(text(&project, "display_name"), "shop");
    let application = env
        .nsx_until(
            "the application",
            ResourceType::ContainerApplication,
            &service_uid,
            |r| r.is_some_and(|r| r["status"] == "UP"),
        )
        .await
        .unwrap();
    assert_eq!(text(&application, "container_project_id"), project_uid);
    assert_eq!(application["service_ports"][0]["port"], 80);
    let instance = env
        .nsx_until(
            "the pod",
            ResourceType::ContainerApplicationInstance,
            &pod_uid,
            |r| {
                r.is_some_and(|r| {
                    r["status"] == "UP"
                        && r["container_application_ids"] == json!([service_uid])
                        && r["origin_properties"]
                            .as_array()
                            .is_some_and(|p| p.iter().any(|kv| kv["key"] == "ip"))
                })
            },
        )
        .await
        .unwrap();
    assert!(node_uids.contains(text(&instance, "cluster_node_id")));
    assert_eq!(text(&instance, "container_project_id"), project_uid);
    env.nsx_until(
        "the ingress",
        ResourceType::ContainerIngressPolicy,
        &uid(&ingress),
        |r| r.is_some_and(|r| r["container_application_ids"] == json!([service_uid])),
    )
    .await;
    let mut policy_types = BTreeMap::new();
    for (name, id) in [
        ("k8s", uid(&policy)),
        ("acnp", uid(&acnp)),
        ("annp", uid(&annp)),
    ] {
        let record = env
            .nsx_until(name, ResourceType::ContainerNetworkPolicy, &id, |r| {
                r.is_some()
            })
            .await
            .unwrap();
        policy_types.insert(name, text(&record, "policy_type").to_owned());
    }
    assert_eq!(policy_types["k8s"], "NETWORK_POLICY");
    assert_eq!(policy_types["acnp"], "ACNP");
    assert_eq!(policy_types["annp"], "ANP");
    let egress_record = env
        .nsx_until(
            "the egress",
            ResourceType::ContainerEgress,
            &uid(&egress),
            |r| r.is_some(),
        )
        .await
        .unwrap();
    assert_eq!(text(&egress_record, "egress_ip"), "172.18.0.100");
    env.nsx_until(
        "the pool",
        ResourceType::ContainerIpPool,
        &uid(&pool),
        |r| r.is_some_and(|r| r["ip_ranges"][0]["cidr"] == "10.20.0.0/24"),
    )
    .await;
    env.nsx_until(
        "the gateway",
        ResourceType::ContainerGateway,
        &uid(&gateway),
        |r| r.is_some_and(|r| r["listeners"][0]["port"] == 80),
    )
    .await;

    // Changing.
    let namespaces: Api<Namespace> = Api::all(env.client.clone());
    merge(
        &namespaces,
        "shop",
        json!({"metadata": {"labels": {"team": "b"}}}),
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "shop");
    merge(
        &pods,
        "web-0",
        json!({"metadata": {"labels": {"app": "other", "v": "2"}}}),
    )
    .await;
    merge(&acnps, "deny-db", json!({"spec": {"priority": 7}})).await;
    merge(
        &egresses,
        "out",
        json!({"spec": {"egressIP": "172.18.0.101"}}),
    )
    .await;
    env.nsx_until(
        "the project relabelled",
        ResourceType::ContainerProject,
        &project_uid,
        |r| r.is_some_and(|r| label_tags(r) == vec!["kubernetes.io/metadata.name=shop", "team=b"]),
    )
    .await;
    env.nsx_until(
        "the pod relabelled",
        ResourceType::ContainerApplicationInstance,
        &pod_uid,
        |r| {
            r.is_some_and(|r| {
                label_tags(r) == vec!["app=other", "v=2"]
                    && r["container_application_ids"]
                        .as_array()
                        .is_none_or(|ids| ids.is_empty())
            })
        },
    )
    .await;
    env.nsx_until(
        "the service without pods",
        ResourceType::ContainerApplication,
        &service_uid,
        |r| r.is_some_and(|r| r["status"] == "DOWN"),
    )
    .await;
    env.nsx_until(
        "the ACNP changed",
        ResourceType::ContainerNetworkPolicy,
        &uid(&acnp),
        |r| r.is_some_and(|r| text(r, "spec").contains("priority: 7")),
    )
    .await;
    env.nsx_until(
        "the egress changed",
        ResourceType::ContainerEgress,
        &uid(&egress),
        |r| r.is_some_and(|r| r["egress_ip"] == "172.18.0.101"),
    )
    .await;

    // Disappearing.
    delete(&gateways, "edge").await;
    delete(&pools, "pool-a").await;
    delete(&egresses, "out").await;
    delete(&annps, "allow-web").await;
    delete(&acnps, "deny-db").await;
    delete(&policies, "isolate").await;
    delete(&ingresses, "web").await;
    delete(&pods, "web-0").await;
    delete(&services, "web").await;
    delete(&namespaces, "shop").await;
    for (resource_type, id) in [
        (ResourceType::ContainerGateway, uid(&gateway)),
        (ResourceType::ContainerIpPool, uid(&pool)),
        (ResourceType::ContainerEgress, uid(&egress)),
        (ResourceType::ContainerNetworkPolicy, uid(&annp)),
        (ResourceType::ContainerNetworkPolicy, uid(&acnp)),
        (ResourceType::ContainerNetworkPolicy, uid(&policy)),
        (ResourceType::ContainerIngressPolicy, uid(&ingress)),
        (ResourceType::ContainerApplicationInstance, pod_uid.clone()),
        (ResourceType::ContainerApplication, service_uid.clone()),
        (ResourceType::ContainerProject, project_uid.clone()),
    ] {
        env.nsx_until(
            &format!("{resource_type} {id} gone"),
            resource_type,
            &id,
            |r| r.is_none(),
        )
        .await;
    }
    let metrics = adapter.metrics();
    assert!(metrics.batches_sent.load(Ordering::Relaxed) > 0);
    assert_eq!(metrics.batches_failed.load(Ordering::Relaxed), 0);
    adapter.shutdown().await;
}

/// The Pods NSX holds: external id → labels as tags.
async fn nsx_pods(env: &Env) -> Vec<(String, Vec<String>)> {
    let mut pods: Vec<(String, Vec<String>)> = env
        .nsx(ResourceType::ContainerApplicationInstance)
        .await
        .into_iter()
        .map(|r| {
            let json = Value::Object(r.to_json());
            (r.external_id().to_owned(), label_tags(&json))
        })
        .collect();
    pods.sort();
    pods
}

/// The workload Pods of the cluster: UID → labels as `key=value`.
async fn kube_pods(env: &Env, namespace: &str) -> Vec<(String, Vec<String>)> {
    let pods = Api::<Pod>::namespaced(env.client.clone(), namespace)
        .list(&Default::default())
        .await
        .unwrap();
    let mut out: Vec<(String, Vec<String>)> = pods
        .items
        .iter()
        .map(|p| {
            let mut labels: Vec<String> = p
                .metadata
                .labels
                .iter()
                .flatten()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            labels.sort();
            (uid(p), labels)
        })
        .collect();
    out.sort();
    out
}

/// NSX's Pods of namespace `project`, as [`kube_pods`] lists them.
async fn nsx_pods_of(env: &Env, project: &str) -> Vec<(String, Vec<String>)> {
    let records = env.nsx(ResourceType::ContainerApplicationInstance).await;
    let mut out: Vec<(String, Vec<String>)> = records
        .iter()
        .map(|r| Value::Object(r.to_json()))
        .filter(|r| text(r, "container_project_id") == project)
        .map(|r| (text(&r, "external_id").to_owned(), label_tags(&r)))
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_fixes_what_changed_while_the_adapter_was_down() {
    let env = Env::start().await;
    let namespace = create_namespace(&env, "batch", json!({})).await;
    let project = uid(&namespace);
    for i in 0..4 {
        create_pod(
            &env,
            "batch",
            &format!("job-{i}"),
            json!({"job": i.to_string()}),
        )
        .await;
    }
    let services: Api<Service> = Api::namespaced(env.client.clone(), "batch");
    let service = services
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "jobs"}, "spec": {"selector": {"role": "job"}, "ports": [{"port": 9000}]}})),
        )
        .await
        .unwrap();
    let adapter = env.adapter(env.options()).await;
    eventually("NSX holds the four Pods", || async {
        let want = kube_pods(&env, "batch").await;
        (nsx_pods_of(&env, &project).await == want).then_some(())
    })
    .await;
    env.nsx_until(
        "the service",
        ResourceType::ContainerApplication,
        &uid(&service),
        |r| r.is_some(),
    )
    .await;
    adapter.shutdown().await;
    assert_eq!(
        adapter.status().borrow().phase,
        adapter_runtime::mp::MpPhase::Stopped
    );

    // While the adapter is down: a Pod created, one relabelled, one deleted, the Service
    // deleted.
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "batch");
    create_pod(&env, "batch", "job-new", json!({"job": "new"})).await;
    merge(
        &pods,
        "job-1",
        json!({"metadata": {"labels": {"job": "one", "retried": "yes"}}}),
    )
    .await;
    delete(&pods, "job-2").await;
    delete(&services, "jobs").await;
    let before = nsx_pods_of(&env, &project).await;
    assert_eq!(before.len(), 4, "NSX still holds the old Pods");

    let restarted = env.adapter(env.options()).await;
    let want = kube_pods(&env, "batch").await;
    assert_eq!(want.len(), 4);
    eventually("NSX holds exactly the cluster's Pods", || async {
        (nsx_pods_of(&env, &project).await == want).then_some(())
    })
    .await;
    env.nsx_until(
        "the service gone",
        ResourceType::ContainerApplication,
        &uid(&service),
        |r| r.is_none(),
    )
    .await;
    restarted.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_nsx_outage_loses_and_duplicates_nothing() {
    let env = Env::start().await;
    let namespace = create_namespace(&env, "web", json!({})).await;
    let project = uid(&namespace);
    for i in 0..10 {
        create_pod(&env, "web", &format!("old-{i}"), json!({"gen": "1"})).await;
    }
    let adapter = env.adapter(env.options()).await;
    eventually("NSX holds the first Pods", || async {
        (nsx_pods_of(&env, &project).await == kube_pods(&env, "web").await).then_some(())
    })
    .await;

    env.relay.down();
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "web");
    for i in 0..40 {
        create_pod(&env, "web", &format!("new-{i}"), json!({"gen": "2"})).await;
    }
    for i in 0..5 {
        delete(&pods, &format!("old-{i}")).await;
    }
    for i in 5..10 {
        merge(
            &pods,
            &format!("old-{i}"),
            json!({"metadata": {"labels": {"gen": "3"}}}),
        )
        .await;
    }
    // A Pod created and deleted during the outage must never reach NSX.
    create_pod(&env, "web", "ephemeral", json!({"gen": "x"})).await;
    delete(&pods, "ephemeral").await;
    let failing = wait_status(&adapter, "inventory failing", |s| {
        s.inventory_error.is_some()
    })
    .await;
    assert!(failing.pending_changes > 0);
    let metrics = adapter.metrics();
    eventually("several failed batches", || async {
        (metrics.batches_failed.load(Ordering::Relaxed) >= 2).then_some(())
    })
    .await;
    assert_eq!(
        nsx_pods_of(&env, &project).await.len(),
        10,
        "nothing got through"
    );

    env.relay.up();
    let want = kube_pods(&env, "web").await;
    assert_eq!(want.len(), 45);
    eventually("NSX holds exactly the cluster's Pods", || async {
        (nsx_pods_of(&env, &project).await == want).then_some(())
    })
    .await;
    wait_status(&adapter, "inventory healthy again", |s| {
        s.inventory_error.is_none() && s.pending_changes == 0
    })
    .await;
    // Each object once: no external id twice in the whole listing.
    let all = nsx_pods(&env).await;
    let distinct: BTreeSet<&String> = all.iter().map(|(id, _)| id).collect();
    assert_eq!(distinct.len(), all.len());
    assert!(
        !all.iter()
            .any(|(_, tags)| tags.contains(&"gen=x".to_owned()))
    );
    // Nothing left to send: a fresh full comparison finds NSX equal to the cluster.
    adapter.shutdown().await;
    let again = env.adapter(env.options()).await;
    assert_eq!(again.metrics().objects_sent.load(Ordering::Relaxed), 0);
    again.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relist_after_410_removes_what_was_deleted_unseen() {
    let env = Env::start().await;
    let namespace = create_namespace(&env, "relist", json!({})).await;
    let project = uid(&namespace);
    for i in 0..3 {
        create_pod(
            &env,
            "relist",
            &format!("p{i}"),
            json!({"n": i.to_string()}),
        )
        .await;
    }
    let adapter = env.adapter(env.options()).await;
    eventually("NSX holds the Pods", || async {
        (nsx_pods_of(&env, &project).await == kube_pods(&env, "relist").await).then_some(())
    })
    .await;

    // Pod reads fail and every watch ends: the adapter cannot see the next changes...
    env.kube.inject_failure(kube_emu::FailureRule {
        method: Some(http::Method::GET),
        resource: Some("pods".into()),
        ..kube_emu::FailureRule::new(503)
    });
    env.kube.drop_watches();
    wait_status(&adapter, "Kubernetes unreachable", |s| {
        !s.kubernetes_reachable
    })
    .await;
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "relist");
    delete(&pods, "p0").await;
    create_pod(&env, "relist", "p3", json!({"n": "3"})).await;
    // ...and the history is gone, so resuming the watch gets 410 and the Pods are relisted.
    env.kube.compact();
    env.kube.clear_failures();
    let want = kube_pods(&env, "relist").await;
    assert_eq!(want.len(), 3);
    eventually("NSX holds exactly the relisted Pods", || async {
        (nsx_pods_of(&env, &project).await == want).then_some(())
    })
    .await;
    wait_status(&adapter, "Kubernetes reachable again", |s| {
        s.kubernetes_reachable
    })
    .await;
    assert!(adapter.metrics().reconnects.load(Ordering::Relaxed) > 0);
    adapter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_comparisons_repair_what_nsx_lost() {
    let env = Env::start().await;
    let namespace = create_namespace(&env, "repair", json!({})).await;
    let project = uid(&namespace);
    let first = create_pod(&env, "repair", "first", json!({"v": "1"})).await;
    let second = create_pod(&env, "repair", "second", json!({"v": "1"})).await;
    let admin_delete = |id: String| {
        let admin = env.admin.clone();
        async move {
            admin
                .execute(adapter_nsx::rest::NsxRequest::new(
                    http::Method::DELETE,
                    format!("/api/v1/fabric/container-application-instances/{id}"),
                ))
                .await
                .unwrap();
        }
    };

    // An UPDATE of a record someone deleted in NSX: NSX refuses the batch (404), the adapter
    // compares with NSX at once and sends the record whole.
    let adapter = env.adapter(env.options()).await;
    eventually("NSX holds the Pods", || async {
        (nsx_pods_of(&env, &project).await == kube_pods(&env, "repair").await).then_some(())
    })
    .await;
    admin_delete(uid(&first)).await;
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "repair");
    merge(&pods, "first", json!({"metadata": {"labels": {"v": "2"}}})).await;
    env.nsx_until(
        "the Pod back with its change",
        ResourceType::ContainerApplicationInstance,
        &uid(&first),
        |r| r.is_some_and(|r| label_tags(r) == vec!["v=2"]),
    )
    .await;
    let metrics = adapter.metrics();
    assert!(metrics.batches_failed.load(Ordering::Relaxed) >= 1);
    assert!(metrics.full_comparisons.load(Ordering::Relaxed) >= 2);
    adapter.shutdown().await;

    // A record deleted in NSX with nothing changing in the cluster: the periodic full
    // comparison (InventoryGCPeriod, 1 s here) puts it back.
    let mut options = env.options();
    options.inventory_gc_period = std::time::Duration::from_secs(1);
    let adapter = env.adapter(options).await;
    admin_delete(uid(&second)).await;
    // It was deleted (the DELETE succeeded): finding it again means it was re-created.
    env.nsx_until(
        "the Pod restored",
        ResourceType::ContainerApplicationInstance,
        &uid(&second),
        |r| r.is_some(),
    )
    .await;
    adapter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_nsx_refuses_is_set_aside_and_the_rest_arrives() {
    let env = Env::start().await;
    // NSX refuses every record named "bad" (its display_name made too long on the way).
    let relay = RewritingRelay::start(env.admin.clone()).await;
    relay.poison(Some("bad"));
    let adapter = env.adapter(env.options_through(&relay)).await;

    // The refused Pod first, then changes queued after it.
    let namespace = create_namespace(&env, "after", json!({})).await;
    let project = uid(&namespace);
    let bad = create_pod(&env, "after", "bad", json!({"n": "bad"})).await;
    for i in 0..6 {
        create_pod(&env, "after", &format!("p{i}"), json!({"n": i.to_string()})).await;
    }

    // Everything else arrives; the refused Pod is counted and set aside (nothing pending,
    // no retry loop).
    let others = || async {
        let mut pods = kube_pods(&env, "after").await;
        pods.retain(|(id, _)| *id != uid(&bad));
        pods
    };
    eventually("the Pods queued after the refused one in NSX", || async {
        let expected = others().await;
        (expected.len() == 6 && nsx_pods_of(&env, &project).await == expected).then_some(())
    })
    .await;
    let metrics = adapter.metrics();
    eventually("the refusal counted", || async {
        (metrics.records_refused.load(Ordering::Relaxed) >= 1).then_some(())
    })
    .await;
    wait_status(&adapter, "nothing pending", |s| s.pending_changes == 0).await;
    let refused_once = metrics.records_refused.load(Ordering::Relaxed);
    let batches_before = metrics.batches_sent.load(Ordering::Relaxed);
    assert!(
        env.nsx_record(ResourceType::ContainerApplicationInstance, &uid(&bad))
            .await
            .is_none()
    );
    assert_eq!(refused_once, 1, "set aside, not retried");

    // Once NSX would take it and the object changes, it is sent again and arrives.
    relay.poison(None);
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "after");
    merge(
        &pods,
        "bad",
        json!({"metadata": {"labels": {"n": "fixed"}}}),
    )
    .await;
    env.nsx_until(
        "the changed Pod in NSX",
        ResourceType::ContainerApplicationInstance,
        &uid(&bad),
        |r| r.is_some_and(|r| label_tags(r) == vec!["n=fixed"]),
    )
    .await;
    assert!(metrics.batches_sent.load(Ordering::Relaxed) > batches_before);
    // Each Pod once, as the cluster has them.
    assert_eq!(
        nsx_pods_of(&env, &project).await,
        kube_pods(&env, "after").await
    );
    adapter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_without_selector_gets_the_pods_of_its_endpoint_slices() {
    let env = Env::start().await;
    let adapter = env.adapter(env.options()).await;
    create_namespace(&env, "manual", json!({})).await;
    let backend = create_pod(&env, "manual", "backend", json!({"role": "db"})).await;
    let other = create_pod(&env, "manual", "other", json!({"role": "db"})).await;
    let service = Api::<Service>::namespaced(env.client.clone(), "manual")
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "external-db"},
                "spec": {"ports": [{"name": "pg", "port": 5432, "targetPort": 5432}]}})),
        )
        .await
        .unwrap();
    let service_id = uid(&service);
    env.nsx_until(
        "the Service without endpoints",
        ResourceType::ContainerApplication,
        &service_id,
        |r| r.is_some_and(|r| text(r, "status") == "UNKNOWN"),
    )
    .await;

    // A hand-written EndpointSlice names the backend Pod (ready) and the other (not ready).
    let slices: Api<EndpointSlice> = Api::namespaced(env.client.clone(), "manual");
    let endpoint = |pod: &Pod, ready: bool| {
        json!({"addresses": ["10.10.0.7"], "conditions": {"ready": ready},
               "targetRef": {"kind": "Pod", "namespace": "manual",
                             "name": pod.metadata.name, "uid": uid(pod)}})
    };
    slices
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "external-db-1",
                    "labels": {"kubernetes.io/service-name": "external-db",
                               "endpointslice.kubernetes.io/managed-by": "staff"}},
                "addressType": "IPv4",
                "endpoints": [endpoint(&backend, true), endpoint(&other, false)],
                "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]})),
        )
        .await
        .unwrap();
    let application_ids = |r: &Value| -> Vec<String> {
        r["container_application_ids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    env.nsx_until(
        "the backend Pod in the Service",
        ResourceType::ContainerApplicationInstance,
        &uid(&backend),
        |r| r.is_some_and(|r| application_ids(r) == vec![service_id.clone()]),
    )
    .await;
    env.nsx_until(
        "the Service UP",
        ResourceType::ContainerApplication,
        &service_id,
        |r| r.is_some_and(|r| text(r, "status") == "UP"),
    )
    .await;
    let not_ready = env
        .nsx_record(ResourceType::ContainerApplicationInstance, &uid(&other))
        .await
        .expect("the other Pod in NSX");
    assert!(application_ids(&not_ready).is_empty());

    // The slice goes: the Pod leaves the Service, which is UNKNOWN again.
    delete(&slices, "external-db-1").await;
    env.nsx_until(
        "the backend Pod out of the Service",
        ResourceType::ContainerApplicationInstance,
        &uid(&backend),
        |r| r.is_some_and(|r| application_ids(r).is_empty()),
    )
    .await;
    env.nsx_until(
        "the Service UNKNOWN",
        ResourceType::ContainerApplication,
        &service_id,
        |r| r.is_some_and(|r| text(r, "status") == "UNKNOWN"),
    )
    .await;
    adapter.shutdown().await;
}
