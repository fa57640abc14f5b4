//! The NSX REST client against the simulator (registration, inventory with paging, trust
//! by CA, pinned thumbprint or none, client-certificate and basic authentication, failover
//! from a dead manager) and against wiremock for faults the simulator does not make (429
//! with Retry-After, 503, a failing manager, a 500 ApiError, a cursor that loops).

mod common;

use std::time::Duration;

use adapter_nsx::rest::{NsxRequest, NsxRestClient, RestConfig, RestError, RestTrust};
use common::{Cluster, admin, admin_auth, fast_retries, register, rest_client};
use nsx_model::inventory::{
    ContainerApplicationInstance, ContainerCluster, ContainerInventoryData,
    ContainerInventoryObject, ContainerObject, ObjectUpdateType, ResourceType,
};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn pod(uid: &str) -> ContainerInventoryObject {
    let record = ContainerObject::ContainerApplicationInstance(ContainerApplicationInstance {
        display_name: Some(format!("pod-{uid}")),
        external_id: uid.to_owned(),
        ..Default::default()
    });
    ContainerInventoryObject {
        object_update_type: ObjectUpdateType::Create,
        container_object: record.to_json(),
    }
}

#[tokio::test]
async fn registration_inventory_and_paging_against_the_simulator() {
    let sim = common::start(common::test_options(), None, None).await;
    let cluster: Cluster = register(&sim, "cluster-sales").await;
    let admin = admin(&sim);

    // Registration is visible, and a second PUT goes through with the current _revision.
    let identities = admin.list_principal_identities().await.unwrap();
    assert!(identities.iter().any(|pi| pi["name"] == "cluster-sales"));
    let ccp = admin
        .get_cluster_control_plane("cluster-sales")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ccp["node_id"], cluster.node_id.as_str());
    let again = admin
        .put_cluster_control_plane(
            "cluster-sales",
            &json!({"resource_type": "ClusterControlPlane", "display_name": "sales"}),
        )
        .await
        .unwrap();
    assert_eq!(again["display_name"], "sales");
    assert!(again["_revision"].as_i64().unwrap() > ccp["_revision"].as_i64().unwrap());
    assert!(
        admin
            .get_cluster_control_plane("nope")
            .await
            .unwrap()
            .is_none()
    );
    let heartbeat = admin.get_heartbeat_config("cluster-sales").await.unwrap();
    assert_eq!(heartbeat["report_interval"], 60);

    // The cluster's own identity (client certificate) writes its inventory.
    let pi = rest_client(&sim, vec![sim.base_url().to_owned()], cluster.auth());
    assert!(
        pi.get_container_cluster(&cluster.node_id)
            .await
            .unwrap()
            .is_none()
    );
    let created = pi
        .create_container_cluster(&ContainerCluster {
            display_name: Some("cluster-sales".into()),
            external_id: cluster.node_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(created.external_id, cluster.node_id);
    let fetched = pi
        .get_container_cluster(&cluster.node_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fetched.display_name.as_deref(), Some("cluster-sales"));

    let pods: Vec<String> = (0..1234).map(|i| format!("pod-uid-{i:05}")).collect();
    for batch in pods.chunks(500) {
        pi.post_inventory_updates(
            &cluster.node_id,
            &ContainerInventoryData {
                container_inventory_objects: batch.iter().map(|uid| pod(uid)).collect(),
            },
        )
        .await
        .unwrap();
    }
    // Two pages of the default 1000, then thirteen pages of 100.
    let listed = pi
        .list_inventory(ResourceType::ContainerApplicationInstance, &cluster.node_id)
        .await
        .unwrap();
    let mut uids: Vec<String> = listed.iter().map(|o| o.external_id().to_owned()).collect();
    uids.sort();
    assert_eq!(uids, pods);
    let paged: Vec<Value> = pi
        .list_all(
            ResourceType::ContainerApplicationInstance.fabric_path(),
            &[
                ("container_cluster_id", &cluster.node_id),
                ("page_size", "100"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(paged.len(), pods.len());
    let mut distinct: Vec<&str> = paged
        .iter()
        .map(|p| p["external_id"].as_str().unwrap())
        .collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), pods.len());

    // A bad batch is NSX's ApiError, typed.
    let bad = ContainerInventoryData {
        container_inventory_objects: vec![ContainerInventoryObject {
            object_update_type: ObjectUpdateType::Update,
            container_object:
                json!({"resource_type": "ContainerProject", "external_id": "missing"})
                    .as_object()
                    .unwrap()
                    .clone(),
        }],
    };
    let error = pi
        .post_inventory_updates(&cluster.node_id, &bad)
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(404));
    assert_eq!(error.error_code(), Some(600));
    assert!(!error.is_retryable());

    // Deregistration.
    admin
        .delete_cluster_control_plane("cluster-sales", true, true)
        .await
        .unwrap();
    assert!(
        admin
            .get_cluster_control_plane("cluster-sales")
            .await
            .unwrap()
            .is_none()
    );
    admin
        .delete_principal_identity(&cluster.pi_id)
        .await
        .unwrap();
    let error = pi
        .get_container_cluster(&cluster.node_id)
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(403), "{error}");
    assert_eq!(error.error_code(), Some(403));
    sim.shutdown().await.unwrap();
}

fn client_with(trust: RestTrust, managers: Vec<String>) -> NsxRestClient {
    let mut config = RestConfig::new(managers, trust, admin_auth());
    config.retry = fast_retries();
    config.retry.max_retries = 1;
    NsxRestClient::new(config).unwrap()
}

#[tokio::test]
async fn thumbprint_pinning_accepts_the_managers_certificate_and_refuses_others() {
    let sim = common::start(common::test_options(), None, None).await;
    let managers = vec![sim.base_url().to_owned()];
    let thumbprint = nsx_proto::tls::parse_sha256_thumbprint(sim.thumbprint()).unwrap();

    let pinned = client_with(
        RestTrust::PinnedSha256(vec![[0; 32], thumbprint]),
        managers.clone(),
    );
    let node: Value = pinned.get_json("/api/v1/node").await.unwrap();
    assert!(node["node_version"].is_string());

    let wrong = client_with(RestTrust::PinnedSha256(vec![[7; 32]]), managers.clone());
    let error = wrong.get_json::<Value>("/api/v1/node").await.unwrap_err();
    assert!(matches!(error, RestError::Unreachable { .. }), "{error}");

    let (other_ca, _) = common::certificate("some-other-ca");
    let untrusted = client_with(
        RestTrust::CaCertificates(other_ca.into_bytes()),
        managers.clone(),
    );
    assert!(untrusted.get_json::<Value>("/api/v1/node").await.is_err());

    let insecure = client_with(RestTrust::InsecureSkipVerify, managers);
    insecure.get_json::<Value>("/api/v1/node").await.unwrap();
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_dead_manager_is_skipped_and_the_healthy_one_remembered() {
    let sim = common::start(common::test_options(), None, None).await;
    let dead = format!("https://{}", common::dead_address());
    let client = rest_client(&sim, vec![dead, sim.base_url().to_owned()], admin_auth());
    let health: Value = client
        .get_json("/api/v1/reverse-proxy/node/health")
        .await
        .unwrap();
    assert_eq!(health["healthy"], true);
    assert_eq!(client.active_manager(), format!("{}/", sim.base_url()));
    // Wrong credentials are NSX's 403, not a reason to fail over or retry.
    let stranger = rest_client(
        &sim,
        vec![sim.base_url().to_owned()],
        adapter_nsx::rest::RestAuth::Basic {
            username: "admin".into(),
            password: "wrong".into(),
        },
    );
    let error = stranger
        .get_json::<Value>("/api/v1/node")
        .await
        .unwrap_err();
    assert_eq!(error.error_code(), Some(403));
    sim.shutdown().await.unwrap();
}

fn mock_client(managers: Vec<String>) -> NsxRestClient {
    common::init();
    client_with_retries(managers, 3)
}

fn client_with_retries(managers: Vec<String>, retries: usize) -> NsxRestClient {
    let mut config = RestConfig::new(managers, RestTrust::InsecureSkipVerify, admin_auth());
    config.retry = fast_retries();
    config.retry.max_retries = retries;
    NsxRestClient::new(config).unwrap()
}

#[tokio::test]
async fn throttling_and_unavailability_are_retried_honouring_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/node"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_json(json!({"httpStatus": "TOO_MANY_REQUESTS", "error_code": 429,
                                      "error_message": "Too many requests"})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/node"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/node"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"node_version": "4.2"})))
        .mount(&server)
        .await;
    let client = mock_client(vec![server.uri()]);
    let started = std::time::Instant::now();
    let node: Value = client.get_json("/api/v1/node").await.unwrap();
    assert_eq!(node["node_version"], "4.2");
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
    // Retry-After: 1 was waited for (the backoff alone is at most 50 ms).
    assert!(started.elapsed() >= Duration::from_millis(950));

    // Retries run out: the last error comes back, typed.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({
            "httpStatus": "SERVICE_UNAVAILABLE", "error_code": 503, "error_message": "busy"})))
        .mount(&server)
        .await;
    let error = client_with_retries(vec![server.uri()], 2)
        .get_json::<Value>("/api/v1/node")
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(server.received_requests().await.unwrap().len(), 3);

    // A Retry-After beyond the policy's limit is not waited for.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3600"))
        .mount(&server)
        .await;
    let error = mock_client(vec![server.uri()])
        .get_json::<Value>("/api/v1/node")
        .await
        .unwrap_err();
    assert_eq!(error.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_failing_manager_is_left_for_the_next_and_nsx_errors_are_not_retried() {
    let failing = MockServer::start().await;
    let healthy = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"))
        .mount(&failing)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/node"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"node_version": "4.2"})))
        .mount(&healthy)
        .await;
    Mock::given(method("PUT"))
        .and(path("/policy/api/v1/infra/domains/default/groups/g"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({
            "httpStatus": "INTERNAL_SERVER_ERROR", "error_code": 99, "module_name": "Policy",
            "error_message": "store failed", "details": "disk",
            "related_errors": [{"error_code": 98, "error_message": "inner"}]})))
        .mount(&healthy)
        .await;
    let client = mock_client(vec![failing.uri(), healthy.uri()]);
    for _ in 0..3 {
        let _: Value = client.get_json("/api/v1/node").await.unwrap();
    }
    // The failing manager was asked once; then the healthy one was remembered.
    assert_eq!(failing.received_requests().await.unwrap().len(), 1);
    assert_eq!(healthy.received_requests().await.unwrap().len(), 3);

    let error = client
        .execute(
            NsxRequest::new(
                http::Method::PUT,
                "/policy/api/v1/infra/domains/default/groups/g",
            )
            .json(&json!({"resource_type": "Group"}))
            .unwrap(),
        )
        .await
        .unwrap_err();
    let api = error.api_error().unwrap();
    assert_eq!(api.error_code, Some(99));
    assert_eq!(api.details.as_deref(), Some("disk"));
    assert_eq!(api.related_errors[0].error_code, Some(98));
    assert_eq!(api.http_status.as_deref(), Some("INTERNAL_SERVER_ERROR"));
    // Not retried, not failed over.
    assert_eq!(healthy.received_requests().await.unwrap().len(), 4);
    assert_eq!(failing.received_requests().await.unwrap().len(), 1);

    // Both dead: the error says so.
    let error = mock_client(vec![failing.uri()])
        .get_json::<Value>("/api/v1/node")
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(502));
}

#[tokio::test]
async fn paging_follows_cursors_and_refuses_a_loop() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/trust-management/principal-identities"))
        .and(query_param("cursor", "c2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [{"id": "3"}], "cursor": ""})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/trust-management/principal-identities"))
        .and(query_param("cursor", "c1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [{"id": "2"}], "cursor": "c2"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/trust-management/principal-identities"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [{"id": "1"}], "cursor": "c1", "result_count": 3})))
        .mount(&server)
        .await;
    let client = mock_client(vec![server.uri()]);
    let identities = client.list_principal_identities().await.unwrap();
    let ids: Vec<&str> = identities
        .iter()
        .map(|pi| pi["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1", "2", "3"]);

    let looping = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [{"id": "1"}], "cursor": "again"})))
        .mount(&looping)
        .await;
    let error = mock_client(vec![looping.uri()])
        .list_all::<Value>("/api/v1/fabric/container-projects", &[])
        .await
        .unwrap_err();
    assert!(matches!(error, RestError::Paging { .. }), "{error}");
}
