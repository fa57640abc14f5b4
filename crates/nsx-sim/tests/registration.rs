//! Registration over HTTPS: principal identities with certificates, cluster control planes
//! (NSX's checks, revisions, protection, cascade delete), the registry the adapter channel uses,
//! and persistence. Every body is checked against the NSX schemas by the harness.

mod common;

use common::{Auth, Client, PASSWORD, client_certificate, group_path, group_url, policy_url};
use nsx_sim::RunningSim;
use nsx_sim::registration::RegistrationChange;
use reqwest::Method;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};

const PI_URL: &str = "/api/v1/trust-management/principal-identities";
const CCP_URL: &str =
    "/policy/api/v1/infra/sites/default/enforcement-points/default/cluster-control-planes";

fn ccp_url(id: &str) -> String {
    format!("{CCP_URL}/{id}")
}

fn ccp_path(id: &str) -> String {
    format!("/infra/sites/default/enforcement-points/default/cluster-control-planes/{id}")
}

/// Creates a principal identity over REST; returns `(PrincipalIdentity, cert, key)`.
async fn create_pi(admin: &Client, name: &str, protected: bool) -> (Value, String, String) {
    let (cert, key) = client_certificate(name);
    let reply = admin
        .post(
            &format!("{PI_URL}/with-certificate"),
            Some(json!({
                "name": name, "node_id": name, "role": "enterprise_admin",
                "roles_for_paths": [{"path": "/", "roles": [{"role": "enterprise_admin"}]}],
                "is_protected": protected, "certificate_pem": cert,
            })),
        )
        .await
        .expect(201);
    (reply.body, cert, key)
}

/// Registers a cluster as the register job does: PI over REST, then `PUT` of the cluster
/// control plane authenticated with the PI certificate. Returns `(client, cert, node_id)`.
async fn register_cluster(
    sim: &RunningSim,
    admin: &Client,
    name: &str,
    protected: bool,
) -> (Client, String, String) {
    let (_, cert, key) = create_pi(admin, name, protected).await;
    let pi = Client::new(sim, Auth::Certificate, Some((&cert, &key)));
    let ccp = pi
        .put(
            &ccp_url(name),
            json!({"resource_type": "ClusterControlPlane", "certificate": cert}),
        )
        .await
        .expect(200);
    let node_id = ccp.body["node_id"].as_str().unwrap().to_owned();
    (pi, cert, node_id)
}

#[tokio::test]
async fn principal_identities_over_rest_authenticate_and_can_be_deleted() {
    let sim = common::start().await;
    let admin = Client::admin(&sim);
    let (pi, cert, key) = create_pi(&admin, "cluster-a", true).await;
    assert_eq!(pi["name"], "cluster-a");
    assert_eq!(pi["is_protected"], true);
    assert!(uuid::Uuid::parse_str(pi["certificate_id"].as_str().unwrap()).is_ok());
    let id = pi["id"].as_str().unwrap().to_owned();

    let as_pi = Client::new(&sim, Auth::Certificate, Some((&cert, &key)));
    as_pi.get("/api/v1/node").await.expect(200);

    let list = admin.get(PI_URL).await.expect(200);
    assert_eq!(list.body["result_count"], 1);
    assert_eq!(list.body["results"][0]["id"], json!(id));
    admin.get(&format!("{PI_URL}/{id}")).await.expect(200);
    admin
        .get(&format!("{PI_URL}/nope"))
        .await
        .expect_error(404, 600);

    // The same certificate twice, a missing field, a bad certificate.
    let again = admin
        .post(
            &format!("{PI_URL}/with-certificate"),
            Some(
                json!({"name": "other", "node_id": "other", "role": "enterprise_admin",
                        "certificate_pem": cert}),
            ),
        )
        .await;
    again.expect_error(400, 255);
    admin
        .post(
            &format!("{PI_URL}/with-certificate"),
            Some(json!({"name": "x", "role": "enterprise_admin", "certificate_pem": cert})),
        )
        .await
        .expect_error(400, 255);
    admin
        .post(
            &format!("{PI_URL}/with-certificate"),
            Some(json!({"name": "x", "node_id": "x", "role": "enterprise_admin",
                        "certificate_pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"})),
        )
        .await
        .expect_error(400, 255);

    // No certificate store: the certificate_id forms are refused.
    admin
        .post(
            &format!("{PI_URL}?action=update_certificate"),
            Some(json!({"principal_identity_id": id, "certificate_id": "x"})),
        )
        .await
        .expect_error(400, 255);

    admin.delete(&format!("{PI_URL}/{id}")).await.expect(200);
    as_pi.get("/api/v1/node").await.expect_error(403, 403);
    admin
        .delete(&format!("{PI_URL}/{id}"))
        .await
        .expect_error(404, 600);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn cluster_control_planes_follow_nsx_rules() {
    let sim = common::start().await;
    let admin = Client::admin(&sim);
    let mut changes = sim.registry().subscribe();
    let (pi, cert, node_id) = register_cluster(&sim, &admin, "cluster-a", true).await;
    assert!(uuid::Uuid::parse_str(&node_id).is_ok());
    assert_eq!(
        changes.recv().await.unwrap(),
        RegistrationChange::PrincipalIdentityRegistered {
            name: "cluster-a".into()
        }
    );
    assert_eq!(
        changes.recv().await.unwrap(),
        RegistrationChange::ClusterRegistered {
            id: "cluster-a".into()
        }
    );

    let ccp = admin.get(&ccp_url("cluster-a")).await.expect(200).body;
    assert_eq!(ccp["path"], ccp_path("cluster-a"));
    assert_eq!(ccp["node_id"], json!(node_id));
    assert_eq!(ccp["_revision"], 0);
    assert_eq!(ccp["_create_user"], "cluster-a");
    // Protected by the PI: others see REQUIRE_OVERRIDE, the owner NOT_PROTECTED.
    assert_eq!(ccp["_protection"], "REQUIRE_OVERRIDE");
    let own = pi.get(&ccp_url("cluster-a")).await.expect(200).body;
    assert_eq!(own["_protection"], "NOT_PROTECTED");
    let list = admin.get(CCP_URL).await.expect(200).body;
    assert_eq!(list["result_count"], 1);

    // PUT of an existing object needs the current _revision; node_id never changes.
    pi.put(
        &ccp_url("cluster-a"),
        json!({"certificate": cert, "description": "x"}),
    )
    .await
    .expect_error(412, 500087);
    let updated = pi
        .put(
            &ccp_url("cluster-a"),
            json!({"certificate": cert, "description": "x", "_revision": 0,
                   "node_id": "00000000-0000-0000-0000-000000000000"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(updated["_revision"], 1);
    assert_eq!(updated["node_id"], json!(node_id));
    // The admin needs X-Allow-Overwrite to change a protected cluster control plane.
    admin
        .put(
            &ccp_url("cluster-a"),
            json!({"certificate": cert, "_revision": 1}),
        )
        .await
        .expect_error(403, 500102);

    // NSX serves PUT only (no PATCH) for cluster control planes.
    let patch = admin
        .raw(
            Method::PATCH,
            &ccp_url("cluster-a"),
            Some(b"{}".to_vec()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(patch.status, 405);

    // CN must equal the id; a principal identity must carry that name; a certificate may
    // serve one cluster control plane; a PI cannot register another cluster.
    let (_, b_cert, _) = create_pi(&admin, "cluster-b", false).await;
    admin
        .put(&ccp_url("cluster-c"), json!({"certificate": b_cert}))
        .await
        .expect_error(400, 500100);
    let (orphan_cert, _) = client_certificate("cluster-z");
    let no_pi = admin
        .put(&ccp_url("cluster-z"), json!({"certificate": orphan_cert}))
        .await
        .expect_error(400, 500100);
    assert!(
        no_pi.body["error_message"]
            .as_str()
            .unwrap()
            .contains("principal identity")
    );
    let conflict = admin
        .put(&ccp_url("cluster-b"), json!({"certificate": cert}))
        .await
        .expect_error(400, 500100);
    assert_eq!(
        conflict.body["error_message"],
        json!(format!(
            "certificate conflict with clusterControlPlane node id {node_id}"
        ))
    );
    admin
        .put(&ccp_url("cluster-b"), json!({}))
        .await
        .expect_error(400, 500100);
    pi.put(&ccp_url("cluster-b"), json!({"certificate": b_cert}))
        .await
        .expect_error(403, 9403);
    admin
        .put(&ccp_url("cluster-b"), json!({"certificate": b_cert}))
        .await
        .expect(200);
    admin
        .get("/policy/api/v1/infra/sites/other/enforcement-points/default/cluster-control-planes")
        .await
        .expect_error(404, 500090);
    admin.get(&ccp_url("missing")).await.expect_error(404, 600);

    // The registry the channel uses: the exact certificate authenticates, another one with
    // the same CN does not.
    let der = CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
    let registration = sim.registry().cluster_for_certificate(&der).unwrap();
    assert_eq!(registration.id, "cluster-a");
    assert_eq!(registration.node_id, node_id);
    assert_eq!(registration.certificate_pem, cert);
    assert!(registration.principal_identity.is_some());
    let (impostor, _) = client_certificate("cluster-a");
    let impostor = CertificateDer::from_pem_slice(impostor.as_bytes()).unwrap();
    assert!(sim.registry().cluster_for_certificate(&impostor).is_none());
    assert_eq!(sim.registry().clusters().len(), 2);
    sim.shutdown().await.unwrap();
}

fn pod(id: &str, ns: &str, app: &str) -> Value {
    json!({"object_update_type": "CREATE", "container_object": {
        "resource_type": "ContainerApplicationInstance", "external_id": id, "display_name": id,
        "container_project_id": ns,
        "tags": [{"scope": "dis:k8s:app", "tag": app}]}})
}

#[tokio::test]
async fn cascade_delete_removes_spans_scopes_and_inventory() {
    let sim = common::start().await;
    let admin = Client::admin(&sim).with_header("X-Allow-Overwrite", "true");
    let (pi, _, node_id) = register_cluster(&sim, &admin, "cluster-a", true).await;
    let (_, _, other_node) = register_cluster(&sim, &admin, "cluster-b", false).await;
    let mut changes = sim.registry().subscribe();

    // Inventory for both clusters.
    for (client, cluster) in [(&pi, &node_id), (&admin, &other_node)] {
        let body = json!({"container_inventory_objects": [pod("p1", "ns1", "web"), pod("p2", "ns1", "db")]});
        let reply = client
            .raw(
                Method::POST,
                &format!("/api/v1/inventory/container/{cluster}?action=updates"),
                Some(body.to_string().into_bytes()),
                None,
            )
            .await
            .unwrap();
        assert_eq!(reply.status, 200, "{:#}", reply.body);
    }
    // A policy spanned to cluster-a (span entry) and one scoped to it (old form).
    admin
        .patch(&group_url("web"), common::antrea_group("web", "app|web"))
        .await
        .expect(200);
    admin
        .patch(
            &policy_url("p1"),
            json!({"category": "Application", "rules": [{"id": "r1", "action": "ALLOW",
                   "source_groups": [group_path("web")], "destination_groups": ["ANY"],
                   "services": ["ANY"], "scope": [group_path("web")]}]}),
        )
        .await
        .expect(200);
    admin
        .patch(
            &format!("{}/container-cluster-span/cluster-a", policy_url("p1")),
            json!({"container_cluster_path": ccp_path("cluster-a")}),
        )
        .await
        .expect(200);
    admin
        .patch(
            &policy_url("p2"),
            json!({"category": "Application", "scope": [ccp_path("cluster-a"), ccp_path("cluster-b")]}),
        )
        .await
        .expect(200);

    // Without the override header, a protected cluster cannot be deleted; without cascade, a
    // cluster in use cannot either.
    Client::admin(&sim)
        .delete(&ccp_url("cluster-a"))
        .await
        .expect_error(403, 500102);
    admin
        .delete(&ccp_url("cluster-a"))
        .await
        .expect_error(400, 500030);
    admin.get(&ccp_url("cluster-a")).await.expect(200);

    admin
        .delete(&format!("{}?cascade=true", ccp_url("cluster-a")))
        .await
        .expect(200);
    admin
        .get(&ccp_url("cluster-a"))
        .await
        .expect_error(404, 600);
    let spans = admin
        .get(&format!("{}/container-cluster-span", policy_url("p1")))
        .await
        .expect(200);
    assert_eq!(spans.body["result_count"], 0);
    let p2 = admin.get(&policy_url("p2")).await.expect(200).body;
    assert_eq!(p2["scope"], json!([ccp_path("cluster-b")]));
    assert_eq!(p2["_revision"], 1);
    // The cluster's inventory is gone, the other cluster's is intact.
    admin
        .get(&format!("/api/v1/fabric/container-clusters/{node_id}"))
        .await
        .expect_error(404, 600);
    let pods = admin
        .get("/api/v1/fabric/container-application-instances")
        .await
        .expect(200)
        .body;
    assert_eq!(pods["result_count"], 2);
    assert!(
        pods["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["container_cluster_id"] == json!(other_node))
    );
    assert_eq!(
        changes.recv().await.unwrap(),
        RegistrationChange::ClusterDeregistered {
            id: "cluster-a".into(),
            node_id
        }
    );
    assert!(sim.registry().cluster("cluster-a").is_none());
    // Its PI can no longer write inventory for a cluster it does not own.
    let reply = pi
        .raw(
            Method::POST,
            &format!("/api/v1/inventory/container/{other_node}?action=updates"),
            Some(
                json!({"container_inventory_objects": []})
                    .to_string()
                    .into_bytes(),
            ),
            None,
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 403);
    // Deleting something that is gone is fine.
    admin
        .delete(&format!("{}?cascade=true", ccp_url("cluster-a")))
        .await
        .expect(200);
    admin
        .delete(&format!("{}?cascade=maybe", ccp_url("cluster-b")))
        .await
        .expect_error(400, 255);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn registrations_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let sim = common::start_in(dir.path()).await;
    let admin = Client::admin(&sim);
    let (_, cert, node_id) = register_cluster(&sim, &admin, "cluster-a", false).await;
    let pis = admin.get(PI_URL).await.expect(200).body;
    sim.shutdown().await.unwrap();

    let sim = common::start_in(dir.path()).await;
    let admin = Client::new(&sim, Auth::Basic("admin".into(), PASSWORD.into()), None);
    assert_eq!(admin.get(PI_URL).await.expect(200).body, pis);
    let ccp = admin.get(&ccp_url("cluster-a")).await.expect(200).body;
    assert_eq!(ccp["node_id"], json!(node_id));
    let der = CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
    assert_eq!(
        sim.registry()
            .cluster_for_certificate(&der)
            .unwrap()
            .node_id,
        node_id
    );
    sim.shutdown().await.unwrap();
}
