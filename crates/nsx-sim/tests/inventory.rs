//! Container inventory over HTTPS: the batch write API (CREATE, sparse UPDATE, DELETE, NSX's
//! errors), every `fabric/container-*` list and read with its filters and paging over thousands
//! of objects, cluster isolation for principal identities, persistence, and the Antrea group
//! membership views. Every response body is checked against the NSX schemas by the harness;
//! request bodies of the write API (absent from `operations.json`) are checked here, object by
//! object, against their models.

mod common;

use common::{Auth, Client, Reply, SchemaCheck, client_certificate, group_path, group_url};
use nsx_sim::RunningSim;
use reqwest::Method;
use serde_json::{Value, json};

const CLUSTERS: &str = "/api/v1/fabric/container-clusters";
const PODS: &str = "/api/v1/fabric/container-application-instances";
const CCP_URL: &str =
    "/policy/api/v1/infra/sites/default/enforcement-points/default/cluster-control-planes";

/// `POST /api/v1/inventory/container/{cluster}?action=updates`, checking each object sent.
async fn updates(client: &Client, cluster: &str, objects: Vec<Value>) -> Reply {
    for object in &objects {
        if object["object_update_type"] != "DELETE" {
            let model = object["container_object"]["resource_type"]
                .as_str()
                .unwrap();
            SchemaCheck::get()
                .check(false, model, &object["container_object"])
                .unwrap();
        }
    }
    raw_updates(
        client,
        cluster,
        json!({"container_inventory_objects": objects}),
    )
    .await
}

async fn raw_updates(client: &Client, cluster: &str, body: Value) -> Reply {
    client
        .raw(
            Method::POST,
            &format!("/api/v1/inventory/container/{cluster}?action=updates"),
            Some(body.to_string().into_bytes()),
            None,
        )
        .await
        .unwrap()
}

async fn create_cluster(client: &Client, body: Value) -> Reply {
    SchemaCheck::get()
        .check(false, "ContainerCluster", &body)
        .unwrap();
    client
        .raw(
            Method::POST,
            CLUSTERS,
            Some(body.to_string().into_bytes()),
            Some((false, "ContainerCluster")),
        )
        .await
        .unwrap()
}

/// `DELETE` of a `fabric/container-*` object (absent from `operations.json`): the reply must be
/// empty or an `ApiError`.
async fn fabric_delete(client: &Client, path: &str) -> Reply {
    let reply = client.raw(Method::DELETE, path, None, None).await.unwrap();
    if reply.status == 200 {
        assert!(reply.body.is_null(), "{:#}", reply.body);
    }
    reply
}

fn create(object: Value) -> Value {
    json!({"object_update_type": "CREATE", "container_object": object})
}

fn update(object: Value) -> Value {
    json!({"object_update_type": "UPDATE", "container_object": object})
}

fn delete(resource_type: &str, external_id: &str) -> Value {
    json!({"object_update_type": "DELETE",
           "container_object": {"resource_type": resource_type, "external_id": external_id}})
}

fn pod(id: &str, ns: &str, labels: &[(&str, &str)], services: &[&str], ip: &str) -> Value {
    let tags: Vec<Value> = labels
        .iter()
        .map(|(k, v)| json!({"scope": format!("dis:k8s:{k}"), "tag": v}))
        .collect();
    create(
        json!({"resource_type": "ContainerApplicationInstance", "external_id": id,
                  "display_name": id, "container_project_id": ns, "tags": tags,
                  "container_application_ids": services, "cluster_node_id": "node-1",
                  "status": "UP", "origin_properties": [{"key": "ip", "value": ip}]}),
    )
}

/// Every object type once, as an Antrea MP adapter reports them.
fn one_of_each() -> Vec<Value> {
    vec![
        create(
            json!({"resource_type": "ContainerProject", "external_id": "ns-1",
                      "display_name": "default", "tags": [{"scope": "dis:k8s:env", "tag": "prod"}]}),
        ),
        create(
            json!({"resource_type": "ContainerApplication", "external_id": "svc-1",
                      "display_name": "web", "container_project_id": "ns-1", "type": "CLUSTER_IP",
                      "cluster_ips": ["10.96.0.10"], "status": "UP",
                      "service_ports": [{"name": "http", "port": 80, "protocol": "TCP", "target_port": "8080"}]}),
        ),
        pod("pod-1", "ns-1", &[("app", "web")], &["svc-1"], "10.1.0.5"),
        create(
            json!({"resource_type": "ContainerClusterNode", "external_id": "node-1",
                      "display_name": "node-1", "ip_addresses": ["192.168.0.11"],
                      "pod_cidrs": ["10.1.0.0/24"], "cni_agent_status": "HEALTHY"}),
        ),
        create(
            json!({"resource_type": "ContainerIngressPolicy", "external_id": "ing-1",
                      "display_name": "ing", "container_project_id": "ns-1", "spec": "{}",
                      "container_application_ids": ["svc-1"]}),
        ),
        create(
            json!({"resource_type": "ContainerNetworkPolicy", "external_id": "np-1",
                      "display_name": "deny", "container_project_id": "ns-1",
                      "policy_type": "NETWORK_POLICY", "spec": "podSelector: {}"}),
        ),
        create(
            json!({"resource_type": "ContainerEgress", "external_id": "eg-1",
                      "display_name": "eg", "egress_ip": "192.168.0.100",
                      "origin_properties": [{"key": "externalIPPool", "value": "pool-1"}]}),
        ),
        create(
            json!({"resource_type": "ContainerIpPool", "external_id": "pool-1",
                      "display_name": "pool", "ip_version": 4, "spec": "{}"}),
        ),
        create(
            json!({"resource_type": "ContainerGateway", "external_id": "gw-1",
                      "display_name": "gw", "container_project_id": "ns-1",
                      "addresses": [{"address": "192.168.0.200", "type": "IP_ADDRESS"}],
                      "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}),
        ),
    ]
}

/// `(list path, object path prefix, external id)` of each type in [`one_of_each`].
const ENDPOINTS: &[(&str, &str, &str)] = &[
    ("container-projects", "container-projects", "ns-1"),
    ("container-applications", "container-applications", "svc-1"),
    (
        "container-application-instances",
        "container-application-instances",
        "pod-1",
    ),
    (
        "container-cluster-nodes",
        "container-cluster-nodes",
        "node-1",
    ),
    (
        "container-ingress-policies",
        "container-ingress-policies",
        "ing-1",
    ),
    (
        "container-network-policies",
        "container-network-policies",
        "np-1",
    ),
    ("container-egresses", "container-egress", "eg-1"),
    ("container-ip-pools", "container-ip-pool", "pool-1"),
    ("container-gateways", "container-gateway", "gw-1"),
];

#[tokio::test]
async fn container_clusters_create_filter_and_delete() {
    let sim = common::start().await;
    let admin = Client::admin(&sim);
    let created = create_cluster(
        &admin,
        json!({"resource_type": "ContainerCluster", "external_id": "c-1", "display_name": "one",
               "cluster_type": "Kubernetes", "cni_type": "Antrea",
               "infrastructure": {"infra_type": "vSphere"},
               "scope": [{"scope_id": "vpc-1", "scope_type": "VPC"}]}),
    )
    .await;
    assert_eq!(created.status, 201);
    assert!(created.body["_last_sync_time"].as_i64().unwrap() > 0);
    let generated = create_cluster(
        &admin,
        json!({"display_name": "two", "cluster_type": "WorkloadCluster",
               "infrastructure": {"infra_type": "KVM"}}),
    )
    .await;
    assert_eq!(generated.status, 201);
    let generated_id = generated.body["external_id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&generated_id).is_ok());
    let duplicate = create_cluster(&admin, json!({"external_id": "c-1"})).await;
    assert_eq!(duplicate.status, 400);
    let bad = admin
        .raw(
            Method::POST,
            CLUSTERS,
            Some(br#"{"external_id": "c-3", "cluster_type": "Mesos"}"#.to_vec()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (bad.status, bad.body["error_code"].clone()),
        (400, json!(255))
    );

    let all = admin.get(CLUSTERS).await.expect(200).body;
    assert_eq!(all["result_count"], 2);
    for (query, expected) in [
        ("cluster_type=Kubernetes", vec!["c-1"]),
        ("infra_type=KVM", vec![generated_id.as_str()]),
        ("scope_id=vpc-1", vec!["c-1"]),
        ("cluster_type=PKS", vec![]),
    ] {
        let page = admin
            .get(&format!("{CLUSTERS}?{query}"))
            .await
            .expect(200)
            .body;
        let ids: Vec<&str> = page["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["external_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, expected, "{query}");
        assert_eq!(page["result_count"], json!(expected.len()));
    }
    let one = admin.get(&format!("{CLUSTERS}/c-1")).await.expect(200).body;
    assert_eq!(one["display_name"], "one");

    let reply = updates(&admin, "c-1", one_of_each()).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    fabric_delete(&admin, &format!("{CLUSTERS}/c-1"))
        .await
        .expect(200);
    admin
        .get(&format!("{CLUSTERS}/c-1"))
        .await
        .expect_error(404, 600);
    fabric_delete(&admin, &format!("{CLUSTERS}/c-1"))
        .await
        .expect_error(404, 600);
    for (list, _, _) in ENDPOINTS {
        let page = admin
            .get(&format!("/api/v1/fabric/{list}"))
            .await
            .expect(200);
        assert_eq!(page.body["result_count"], 0, "{list}");
    }
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_type_is_written_read_merged_and_deleted() {
    let sim = common::start().await;
    let admin = Client::admin(&sim);
    assert_eq!(
        create_cluster(&admin, json!({"external_id": "c-1"}))
            .await
            .status,
        201
    );
    assert_eq!(
        create_cluster(&admin, json!({"external_id": "c-2"}))
            .await
            .status,
        201
    );
    let reply = updates(&admin, "c-1", one_of_each()).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert!(reply.body.is_null());
    let reply = updates(&admin, "c-2", one_of_each()).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);

    for (list, object, id) in ENDPOINTS {
        let all = admin
            .get(&format!("/api/v1/fabric/{list}"))
            .await
            .expect(200)
            .body;
        assert_eq!(all["result_count"], 2, "{list}");
        let mine = admin
            .get(&format!("/api/v1/fabric/{list}?container_cluster_id=c-2"))
            .await
            .expect(200)
            .body;
        assert_eq!(mine["result_count"], 1, "{list}");
        let item = &mine["results"][0];
        assert_eq!(item["container_cluster_id"], "c-2", "{list}");
        assert_eq!(item["external_id"], json!(id));
        assert!(item["_last_sync_time"].as_i64().unwrap() > 0);
        let got = admin
            .get(&format!("/api/v1/fabric/{object}/{id}"))
            .await
            .expect(200)
            .body;
        assert_eq!(got["external_id"], json!(id));
        admin
            .get(&format!("/api/v1/fabric/{object}/missing"))
            .await
            .expect_error(404, 600);
    }
    let filtered = admin
        .get(&format!(
            "{PODS}?container_cluster_id=c-1&container_project_id=ns-1&container_application_id=svc-1"
        ))
        .await
        .expect(200)
        .body;
    assert_eq!(filtered["result_count"], 1);
    let none = admin
        .get(&format!("{PODS}?container_application_id=svc-9"))
        .await
        .expect(200)
        .body;
    assert_eq!(none["result_count"], 0);
    let projected = admin
        .get(&format!(
            "{PODS}?container_cluster_id=c-1&included_fields=external_id,status"
        ))
        .await
        .expect(200)
        .body;
    assert_eq!(
        projected["results"][0],
        json!({"external_id": "pod-1", "status": "UP"})
    );

    // A sparse UPDATE merges: changed fields replaced, the rest kept.
    let before = admin
        .get(&format!("{PODS}?container_cluster_id=c-1"))
        .await
        .body["results"][0]
        .clone();
    let reply = updates(
        &admin,
        "c-1",
        vec![update(
            json!({"resource_type": "ContainerApplicationInstance",
                           "external_id": "pod-1", "status": "DOWN",
                           "tags": [{"scope": "dis:k8s:app", "tag": "api"}]}),
        )],
    )
    .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    let after = admin
        .get(&format!("{PODS}?container_cluster_id=c-1"))
        .await
        .body["results"][0]
        .clone();
    assert_eq!(after["status"], "DOWN");
    assert_eq!(
        after["tags"],
        json!([{"scope": "dis:k8s:app", "tag": "api"}])
    );
    for kept in [
        "display_name",
        "container_project_id",
        "container_application_ids",
        "origin_properties",
    ] {
        assert_eq!(after[kept], before[kept], "{kept}");
    }
    // The other cluster's pod of the same external_id is untouched.
    let other = admin
        .get(&format!("{PODS}?container_cluster_id=c-2"))
        .await
        .body["results"][0]
        .clone();
    assert_eq!(other["status"], "UP");

    // An UPDATE of something missing fails the whole batch.
    let reply = updates(
        &admin,
        "c-1",
        vec![
            delete("ContainerApplicationInstance", "pod-1"),
            update(
                json!({"resource_type": "ContainerProject", "external_id": "ns-9",
                          "display_name": "x"}),
            ),
        ],
    )
    .await;
    assert_eq!(
        (reply.status, reply.body["error_code"].clone()),
        (404, json!(600))
    );
    admin
        .get(&format!("{PODS}?container_cluster_id=c-1"))
        .await
        .expect(200);
    assert_eq!(
        admin
            .get(&format!("{PODS}?container_cluster_id=c-1"))
            .await
            .body["result_count"],
        1
    );

    // DELETE through the updates API, and DELETE of one object by id.
    let reply = updates(
        &admin,
        "c-1",
        vec![
            delete("ContainerApplicationInstance", "pod-1"),
            delete("ContainerGateway", "never-existed"),
        ],
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        admin
            .get(&format!("{PODS}?container_cluster_id=c-1"))
            .await
            .body["result_count"],
        0
    );
    fabric_delete(&admin, "/api/v1/fabric/container-egress/eg-1")
        .await
        .expect(200);
    admin
        .get("/api/v1/fabric/container-egress/eg-1")
        .await
        .expect_error(404, 600);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_updates_get_nsx_errors_and_change_nothing() {
    let sim = common::start().await;
    let admin = Client::admin(&sim);
    assert_eq!(
        create_cluster(&admin, json!({"external_id": "c-1"}))
            .await
            .status,
        201
    );
    let pod_body = |extra: Value| {
        let mut object =
            json!({"resource_type": "ContainerApplicationInstance", "external_id": "p"});
        for (k, v) in extra.as_object().unwrap() {
            object[k] = v.clone();
        }
        json!({"container_inventory_objects": [{"object_update_type": "CREATE", "container_object": object}]})
    };
    let cases: Vec<(&str, Value, u16, i64)> = vec![
        (
            "unknown field",
            pod_body(json!({"ip": "10.0.0.1"})),
            400,
            255,
        ),
        (
            "wrong enum",
            pod_body(json!({"status": "RUNNING"})),
            400,
            255,
        ),
        (
            "wrong type",
            pod_body(json!({"container_application_ids": "svc"})),
            400,
            255,
        ),
        (
            "other cluster id",
            pod_body(json!({"container_cluster_id": "c-2"})),
            400,
            9400,
        ),
        (
            "no external_id",
            json!({"container_inventory_objects": [{"object_update_type": "CREATE",
            "container_object": {"resource_type": "ContainerProject"}}]}),
            400,
            255,
        ),
        (
            "unknown type",
            json!({"container_inventory_objects": [{"object_update_type": "CREATE",
            "container_object": {"resource_type": "VirtualMachine", "external_id": "x"}}]}),
            400,
            9400,
        ),
        (
            "bad update type",
            json!({"container_inventory_objects": [{"object_update_type": "UPSERT",
            "container_object": {"resource_type": "ContainerProject", "external_id": "x"}}]}),
            400,
            255,
        ),
        ("unknown envelope field", json!({"objects": []}), 400, 255),
        (
            "not a list",
            json!({"container_inventory_objects": {}}),
            400,
            255,
        ),
        (
            "control character",
            pod_body(json!({"external_id": "a\u{1f}b"})),
            400,
            9400,
        ),
    ];
    for (what, body, status, code) in cases {
        let reply = raw_updates(&admin, "c-1", body).await;
        assert_eq!(
            (reply.status, reply.body["error_code"].clone()),
            (status, json!(code)),
            "{what}: {:#}",
            reply.body
        );
    }
    let reply = raw_updates(&admin, "missing", pod_body(json!({}))).await;
    assert_eq!(
        (reply.status, reply.body["error_code"].clone()),
        (404, json!(600))
    );
    let not_json = admin
        .raw(
            Method::POST,
            "/api/v1/inventory/container/c-1?action=updates",
            Some(b"{".to_vec()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(not_json.status, 400);
    let no_action = admin
        .raw(
            Method::POST,
            "/api/v1/inventory/container/c-1",
            Some(b"{}".to_vec()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(no_action.status, 400);
    let bad_cursor = admin
        .raw(Method::GET, &format!("{PODS}?cursor=!!"), None, None)
        .await
        .unwrap();
    assert_eq!(bad_cursor.status, 400);
    assert_eq!(admin.get(PODS).await.body["result_count"], 0);
    sim.shutdown().await.unwrap();
}

/// Registers cluster `name` (PI + cluster control plane); returns its client and `node_id`.
async fn register(sim: &RunningSim, admin: &Client, name: &str) -> (Client, String) {
    let (cert, key) = client_certificate(name);
    admin
        .post(
            "/api/v1/trust-management/principal-identities/with-certificate",
            Some(
                json!({"name": name, "node_id": name, "role": "enterprise_admin",
                        "is_protected": true, "certificate_pem": cert}),
            ),
        )
        .await
        .expect(201);
    let pi = Client::new(sim, Auth::Certificate, Some((&cert, &key)));
    let ccp = pi
        .put(&format!("{CCP_URL}/{name}"), json!({"certificate": cert}))
        .await
        .expect(200);
    (pi, ccp.body["node_id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn principal_identities_write_only_their_own_cluster() {
    let sim = common::start().await;
    let admin = Client::admin(&sim);
    let (a, a_id) = register(&sim, &admin, "cluster-a").await;
    let (b, b_id) = register(&sim, &admin, "cluster-b").await;

    // The inventory of a registered cluster can be written before its ContainerCluster exists.
    let reply = updates(&a, &a_id, one_of_each()).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    let cluster = admin
        .get(&format!("{CLUSTERS}/{a_id}"))
        .await
        .expect(200)
        .body;
    assert_eq!(cluster["display_name"], "cluster-a");
    assert_eq!(cluster["cni_type"], "Antrea");
    // The adapter reports its cluster object in the same API.
    let reply = updates(
        &a,
        &a_id,
        vec![update(
            json!({"resource_type": "ContainerCluster", "external_id": a_id,
                           "cluster_type": "Kubernetes", "network_status": "HEALTHY"}),
        )],
    )
    .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    let cluster = admin
        .get(&format!("{CLUSTERS}/{a_id}"))
        .await
        .expect(200)
        .body;
    assert_eq!(cluster["cluster_type"], "Kubernetes");
    assert_eq!(cluster["display_name"], "cluster-a");

    // Cluster B may not write, delete or read-modify cluster A's inventory.
    let reply = updates(&b, &a_id, vec![pod("x", "ns-1", &[], &[], "10.0.0.9")]).await;
    assert_eq!(
        (reply.status, reply.body["error_code"].clone()),
        (403, json!(9403))
    );
    fabric_delete(&b, &format!("{PODS}/pod-1"))
        .await
        .expect_error(403, 9403);
    fabric_delete(&b, &format!("{CLUSTERS}/{a_id}"))
        .await
        .expect_error(403, 9403);
    let reply = updates(&b, &b_id, vec![pod("x", "ns-1", &[], &[], "10.0.0.9")]).await;
    assert_eq!(reply.status, 200);
    // A cluster a PI created itself is its own.
    let created = b
        .raw(
            Method::POST,
            CLUSTERS,
            Some(json!({"external_id": "b-extra"}).to_string().into_bytes()),
            Some((false, "ContainerCluster")),
        )
        .await
        .unwrap();
    assert_eq!(created.status, 201);
    assert_eq!(updates(&b, "b-extra", one_of_each()).await.status, 200);
    assert_eq!(updates(&a, "b-extra", one_of_each()).await.status, 403);

    // Each cluster sees only its own objects through the cluster filter.
    let a_pods = a
        .get(&format!("{PODS}?container_cluster_id={a_id}"))
        .await
        .expect(200)
        .body;
    assert_eq!(a_pods["result_count"], 1);
    assert_eq!(a_pods["results"][0]["external_id"], "pod-1");
    let b_pods = b
        .get(&format!("{PODS}?container_cluster_id={b_id}"))
        .await
        .expect(200)
        .body;
    assert_eq!(b_pods["results"][0]["external_id"], "x");
    sim.shutdown().await.unwrap();
}

async fn walk(client: &Client, base: &str) -> (Vec<Value>, Vec<i64>) {
    let mut items = Vec::new();
    let mut counts = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{base}&cursor={c}"),
            None => base.to_owned(),
        };
        let page = client.get(&url).await.expect(200).body;
        counts.push(page["result_count"].as_i64().unwrap());
        items.extend(page["results"].as_array().unwrap().iter().cloned());
        match page.get("cursor").and_then(Value::as_str) {
            Some(c) => {
                assert!(!c.starts_with("0000"));
                cursor = Some(c.to_owned());
            }
            None => break,
        }
    }
    (items, counts)
}

#[tokio::test]
async fn paging_across_thousands_of_objects_per_cluster() {
    let sim = common::start().await;
    let admin = Client::admin(&sim);
    for (cluster, n) in [("c-1", 3000usize), ("c-2", 1200)] {
        assert_eq!(
            create_cluster(&admin, json!({"external_id": cluster}))
                .await
                .status,
            201
        );
        for batch in (0..n).collect::<Vec<_>>().chunks(1000) {
            let objects = batch
                .iter()
                .map(|i| {
                    pod(
                        &format!("{cluster}-pod-{i:05}"),
                        if i % 3 == 0 { "ns-a" } else { "ns-b" },
                        &[("app", "web")],
                        if i % 10 == 0 { &["svc-1"] } else { &[] },
                        "10.0.0.1",
                    )
                })
                .collect();
            let reply = updates(&admin, cluster, objects).await;
            assert_eq!(reply.status, 200, "{:#}", reply.body);
        }
    }
    let (items, counts) = walk(
        &admin,
        &format!("{PODS}?container_cluster_id=c-1&page_size=700"),
    )
    .await;
    assert_eq!(items.len(), 3000);
    assert_eq!(counts.len(), 5);
    assert!(counts.iter().all(|c| *c == 3000));
    assert!(items.iter().all(|p| p["container_cluster_id"] == "c-1"));
    let ids: Vec<&str> = items
        .iter()
        .map(|p| p["external_id"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted, ids);

    let (all, _) = walk(&admin, &format!("{PODS}?page_size=1000")).await;
    assert_eq!(all.len(), 4200);
    let (ns_a, counts) = walk(
        &admin,
        &format!("{PODS}?container_cluster_id=c-2&container_project_id=ns-a&page_size=150"),
    )
    .await;
    assert_eq!(ns_a.len(), 400);
    assert!(counts.iter().all(|c| *c == 400));
    let (selected, _) = walk(
        &admin,
        &format!("{PODS}?container_cluster_id=c-1&container_application_id=svc-1&page_size=100"),
    )
    .await;
    assert_eq!(selected.len(), 300);
    let (by_name, _) = walk(
        &admin,
        &format!("{PODS}?container_cluster_id=c-2&sort_by=display_name&sort_ascending=false&page_size=500"),
    )
    .await;
    assert_eq!(by_name.len(), 1200);
    assert!(
        by_name
            .windows(2)
            .all(|w| w[0]["display_name"].as_str() >= w[1]["display_name"].as_str())
    );
    // A page size above 1000 is capped.
    let capped = admin.get(&format!("{PODS}?page_size=5000")).await.body;
    assert_eq!(capped["results"].as_array().unwrap().len(), 1000);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn inventory_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let sim = common::start_in(dir.path()).await;
    let admin = Client::admin(&sim);
    let (_, node_id) = register(&sim, &admin, "cluster-a").await;
    let reply = updates(&admin, &node_id, one_of_each()).await;
    assert_eq!(reply.status, 200);
    let mut before = Vec::new();
    for (list, _, _) in ENDPOINTS {
        before.push(
            admin
                .get(&format!("/api/v1/fabric/{list}"))
                .await
                .expect(200)
                .body,
        );
    }
    sim.shutdown().await.unwrap();

    let sim = common::start_in(dir.path()).await;
    let admin = Client::admin(&sim);
    for ((list, object, id), expected) in ENDPOINTS.iter().zip(before) {
        let filtered = admin
            .get(&format!(
                "/api/v1/fabric/{list}?container_cluster_id={node_id}"
            ))
            .await
            .expect(200)
            .body;
        assert_eq!(filtered, expected, "{list}");
        admin
            .get(&format!("/api/v1/fabric/{object}/{id}"))
            .await
            .expect(200);
    }
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn antrea_group_membership_views() {
    let sim = common::start().await;
    let admin = Client::admin(&sim);
    let (a, a_id) = register(&sim, &admin, "cluster-a").await;
    let (b, b_id) = register(&sim, &admin, "cluster-b").await;
    let inventory = |web_ip: &str| {
        vec![
            create(
                json!({"resource_type": "ContainerProject", "external_id": "ns-prod",
                          "display_name": "prod", "tags": [{"scope": "dis:k8s:env", "tag": "production"}]}),
            ),
            create(
                json!({"resource_type": "ContainerProject", "external_id": "ns-dev",
                          "display_name": "dev"}),
            ),
            create(
                json!({"resource_type": "ContainerApplication", "external_id": "svc-cache",
                          "display_name": "cache", "container_project_id": "ns-prod"}),
            ),
            pod("web-1", "ns-prod", &[("app", "web")], &[], web_ip),
            pod(
                "cache-1",
                "ns-prod",
                &[("app", "cache")],
                &["svc-cache"],
                "10.0.0.2",
            ),
            pod(
                "web-dev",
                "ns-dev",
                &[("app", "web")],
                &[],
                "10.0.1.1,fd00::1",
            ),
        ]
    };
    assert_eq!(updates(&a, &a_id, inventory("10.0.0.1")).await.status, 200);
    assert_eq!(updates(&b, &b_id, inventory("10.9.0.1")).await.status, 200);

    let groups = [
        (
            "web",
            json!([{"resource_type": "Condition", "member_type": "Pod", "key": "Tag",
                        "operator": "EQUALS", "value": "app|web"}]),
        ),
        (
            "prod",
            json!([{"resource_type": "Condition", "member_type": "Namespace", "key": "Name",
                         "operator": "EQUALS", "value": "prod"}]),
        ),
        (
            "production",
            json!([{"resource_type": "Condition", "member_type": "Namespace", "key": "Tag",
                               "operator": "EQUALS", "value": "env|production"}]),
        ),
        (
            "cache",
            json!([{"resource_type": "NestedExpression", "expressions": [
                            {"resource_type": "Condition", "member_type": "Service", "key": "Name",
                             "operator": "EQUALS", "value": "cache"},
                            {"resource_type": "ConjunctionOperator", "conjunction_operator": "AND"},
                            {"resource_type": "Condition", "member_type": "Namespace", "key": "Name",
                             "operator": "EQUALS", "value": "prod"}]}]),
        ),
        (
            "not-web",
            json!([{"resource_type": "Condition", "member_type": "Pod", "key": "Tag",
                            "operator": "NOTEQUALS", "value": "app|web", "scope_operator": "EQUALS"}]),
        ),
        (
            "web-or-ips",
            json!([{"resource_type": "Condition", "member_type": "Pod", "key": "Tag",
                               "operator": "EQUALS", "value": "app|web"},
                              {"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"},
                              {"resource_type": "IPAddressExpression", "ip_addresses": ["172.16.0.0/16"]}]),
        ),
    ];
    for (id, expression) in &groups {
        admin
            .patch(
                &group_url(id),
                json!({"resource_type": "Group", "group_type": ["ANTREA"], "expression": expression}),
            )
            .await
            .expect(200);
    }
    let members = |id: &str, query: &str| {
        let admin = admin.clone();
        let url = format!("{}/members/pods{query}", group_url(id));
        async move {
            let body = admin.get(&url).await.expect(200).body;
            let mut pods: Vec<String> = body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let cluster = &r["cluster"][0];
                    let ns = &cluster["namespaces"][0];
                    format!(
                        "{}/{}/{}",
                        cluster["cluster_name"].as_str().unwrap(),
                        ns["display_name"].as_str().unwrap(),
                        ns["pods"][0]["id"].as_str().unwrap()
                    )
                })
                .collect();
            pods.sort();
            assert_eq!(body["result_count"], json!(pods.len()));
            pods
        }
    };
    // Not used by any rule yet: no effective members.
    assert!(members("web", "").await.is_empty());

    // A policy spanned to cluster-a uses every group.
    let rules: Vec<Value> = groups
        .iter()
        .map(|(id, _)| {
            json!({"id": format!("r-{id}"), "action": "ALLOW", "source_groups": [group_path(id)],
                   "destination_groups": ["ANY"], "services": ["ANY"]})
        })
        .collect();
    admin
        .patch(
            &common::policy_url("p"),
            json!({"category": "Application", "rules": rules}),
        )
        .await
        .expect(200);
    admin
        .patch(
            &format!("{}/container-cluster-span/a", common::policy_url("p")),
            json!({"container_cluster_path": format!(
                "/infra/sites/default/enforcement-points/default/cluster-control-planes/cluster-a")}),
        )
        .await
        .expect(200);
    assert_eq!(
        members("web", "").await,
        ["cluster-a/dev/web-dev", "cluster-a/prod/web-1"]
    );
    assert_eq!(
        members("prod", "").await,
        ["cluster-a/prod/cache-1", "cluster-a/prod/web-1"]
    );
    assert_eq!(
        members("production", "").await,
        ["cluster-a/prod/cache-1", "cluster-a/prod/web-1"]
    );
    assert_eq!(members("cache", "").await, ["cluster-a/prod/cache-1"]);
    assert_eq!(members("not-web", "").await, ["cluster-a/prod/cache-1"]);

    // Spanning cluster-b too: both clusters, and the cluster_id filter (id or name).
    admin
        .patch(
            &format!("{}/container-cluster-span/b", common::policy_url("p")),
            json!({"container_cluster_path": format!(
                "/infra/sites/default/enforcement-points/default/cluster-control-planes/cluster-b")}),
        )
        .await
        .expect(200);
    assert_eq!(members("cache", "").await.len(), 2);
    assert_eq!(
        members("cache", &format!("?cluster_id={b_id}")).await,
        ["cluster-b/prod/cache-1"]
    );
    assert_eq!(
        members("cache", "?cluster_id=cluster-a").await,
        ["cluster-a/prod/cache-1"]
    );
    let paged = admin
        .get(&format!("{}/members/pods?page_size=1", group_url("web")))
        .await
        .expect(200)
        .body;
    assert_eq!(paged["result_count"], 4);
    assert_eq!(paged["results"].as_array().unwrap().len(), 1);
    assert!(paged["cursor"].is_string());

    // IP members: the static IPs, then the member pods' IPs.
    let ips = admin
        .get(&format!("{}/members/ip-addresses", group_url("web-or-ips")))
        .await
        .expect(200)
        .body;
    let ips: Vec<&str> = ips["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        ips,
        [
            "172.16.0.0/16",
            "10.0.0.1",
            "10.0.1.1",
            "fd00::1",
            "10.9.0.1"
        ]
    );
    admin
        .get(&format!("{}/members/pods", group_url("missing")))
        .await
        .expect_error(404, 600);
    sim.shutdown().await.unwrap();
}
