//! `/metrics` of both adapter processes after they converged: the families are there with
//! their Prometheus types, and the values agree with what NSX, the Kubernetes API and the
//! adapters' `/status` show (realization counts by state equal NSX's realized states, the
//! Kubernetes writes counted equal the API server's log, a drift repair is counted, owned
//! objects, inventory objects and batches, connection, leader and ready gauges).

mod product_common;

use adapter_core::ccp::naming::CLUSTER_ID_LABEL;
use adapter_runtime::observability::METRICS_CONTENT_TYPE;
use antrea_types::{ClusterGroup, ClusterNetworkPolicy, Tier};
use kube::api::{Api, ListParams};
use product_common::{
    Product, ProductOptions, Scrape, eventually, group_path, http_get, policy_path, scrape, status,
};
use serde_json::json;

/// A policy whose only rule uses a service with source ports, which Antrea cannot express.
const UNSUPPORTED: &str = "source-ports";

async fn unsupported_policy(product: &Product) {
    product
        .patch(
            "/infra/services/from-1024",
            json!({"resource_type": "Service", "display_name": "from 1024",
                   "service_entries": [{"resource_type": "L4PortSetServiceEntry", "id": "tcp",
                                        "l4_protocol": "TCP", "source_ports": ["1024-65535"],
                                        "destination_ports": ["443"]}]}),
        )
        .await;
    product
        .patch(
            &policy_path(UNSUPPORTED),
            json!({"resource_type": "SecurityPolicy", "display_name": UNSUPPORTED,
                   "category": "Application", "sequence_number": 9,
                   "scope": [group_path("web")],
                   "rules": [{"resource_type": "Rule", "id": "r1", "display_name": "r1",
                              "sequence_number": 1, "source_groups": [group_path("db")],
                              "destination_groups": ["ANY"], "direction": "IN", "scope": ["ANY"],
                              "services": ["/infra/services/from-1024"], "action": "ALLOW"}]}),
        )
        .await;
    product.span(UNSUPPORTED).await;
}

async fn owned_objects(product: &Product) -> usize {
    let params =
        ListParams::default().labels(&format!("{CLUSTER_ID_LABEL}={}", product.cluster_name));
    let client = &product.admin_kube;
    Api::<Tier>::all(client.clone())
        .list(&params)
        .await
        .unwrap()
        .items
        .len()
        + Api::<ClusterGroup>::all(client.clone())
            .list(&params)
            .await
            .unwrap()
            .items
            .len()
        + Api::<ClusterNetworkPolicy>::all(client.clone())
            .list(&params)
            .await
            .unwrap()
            .items
            .len()
}

fn assert_types(scrape: &Scrape, expected: &[(&str, &str)]) {
    for (family, kind) in expected {
        assert_eq!(scrape.kind(family), *kind, "type of {family}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_name_type_and_count_what_the_adapters_did() {
    let product = Product::start(ProductOptions::default()).await;
    product.workload().await;
    product.policies().await;
    unsupported_policy(&product).await;
    let (ccp, mp) = product.start_both(false).await;
    product.wait_realized().await;
    eventually("the unsupported policy reported as an error", || async {
        (product.realization(&policy_path(UNSUPPORTED)).await == "ERROR").then_some(())
    })
    .await;
    product.wait_inventory().await;

    // What NSX shows realized, by state.
    let mut nsx_objects = Product::nsx_objects();
    nsx_objects.push(policy_path(UNSUPPORTED));
    let mut success = 0.0;
    let mut error = 0.0;
    for path in &nsx_objects {
        match product.realization(path).await.as_str() {
            "SUCCESS" => success += 1.0,
            "ERROR" => error += 1.0,
            other => panic!("{path} is {other}"),
        }
    }
    assert_eq!((success, error), (4.0, 1.0));

    // /metrics is OpenMetrics text.
    let answer = http_get(ccp.api_addr(), "/metrics").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type, METRICS_CONTENT_TYPE);
    assert!(answer.body.ends_with("# EOF\n"), "{}", answer.body);

    // The CCP adapter: realization counts equal NSX's, writes equal the API server's log.
    let writes = product.policy_writes();
    let owned = owned_objects(&product).await as f64;
    let ccp_metrics = eventually("the CCP metrics caught up", || async {
        let metrics = scrape(&ccp).await;
        let caught_up = metrics.value("antrea_nsx_ccp_realization_objects{state=\"SUCCESS\"}")
            == success
            && metrics.value("antrea_nsx_ccp_realization_objects{state=\"ERROR\"}") == error
            && metrics.value("antrea_nsx_ccp_kubernetes_writes_total{operation=\"write\"}")
                == writes.len() as f64
            && metrics.value("antrea_nsx_ccp_desired_objects{kind=\"owned\"}") == owned;
        caught_up.then_some(metrics)
    })
    .await;
    assert_types(
        &ccp_metrics,
        &[
            ("antrea_nsx_ccp_channel_connected", "gauge"),
            ("antrea_nsx_ccp_generation_applied", "gauge"),
            ("antrea_nsx_ccp_generation_lag", "gauge"),
            ("antrea_nsx_ccp_untranslatable_objects", "gauge"),
            ("antrea_nsx_ccp_realization_objects", "gauge"),
            ("antrea_nsx_ccp_desired_objects", "gauge"),
            ("antrea_nsx_ccp_kubernetes_writes", "counter"),
            ("antrea_nsx_ccp_errors", "counter"),
            ("antrea_nsx_ccp_reconnects", "counter"),
            ("antrea_nsx_ccp_leader", "gauge"),
            ("antrea_nsx_ccp_ready", "gauge"),
        ],
    );
    assert!(!writes.is_empty());
    assert_eq!(
        ccp_metrics.value("antrea_nsx_ccp_realization_objects{state=\"IN_PROGRESS\"}"),
        0.0
    );
    assert_eq!(ccp_metrics.value("antrea_nsx_ccp_channel_connected"), 1.0);
    // The unsupported policy is the one object the translation refused; in sync, the
    // generation applied is the one received.
    assert_eq!(
        ccp_metrics.value("antrea_nsx_ccp_untranslatable_objects"),
        error
    );
    assert!(ccp_metrics.value("antrea_nsx_ccp_generation_applied") > 0.0);
    assert_eq!(
        ccp_metrics.value("antrea_nsx_ccp_generation_received"),
        ccp_metrics.value("antrea_nsx_ccp_generation_applied")
    );
    assert_eq!(ccp_metrics.value("antrea_nsx_ccp_generation_lag"), 0.0);
    assert_eq!(ccp_metrics.value("antrea_nsx_ccp_leader"), 1.0);
    assert_eq!(ccp_metrics.value("antrea_nsx_ccp_ready"), 1.0);
    assert_eq!(
        ccp_metrics.value("antrea_nsx_ccp_errors_total{kind=\"write\"}"),
        0.0
    );
    let ccp_status = status(&ccp).await;
    assert_eq!(
        ccp_metrics.value("antrea_nsx_ccp_generation_applied"),
        ccp_status["applied_generation"].as_f64().unwrap()
    );
    assert!(ccp_metrics.value("antrea_nsx_ccp_generation_applied") >= 1.0);
    assert_eq!(ccp_status["realization"]["success"], 4);
    assert_eq!(ccp_status["realization"]["error"], 1);

    // A ClusterNetworkPolicy deleted by hand is put back: a drift repair, counted as a write.
    let policies: Api<ClusterNetworkPolicy> = Api::all(product.admin_kube.clone());
    let victim = policies
        .list(
            &ListParams::default().labels(&format!("{CLUSTER_ID_LABEL}={}", product.cluster_name)),
        )
        .await
        .unwrap()
        .items[0]
        .metadata
        .name
        .clone()
        .unwrap();
    policies.delete(&victim, &Default::default()).await.unwrap();
    eventually("the deleted policy put back", || async {
        policies.get_opt(&victim).await.ok()?.map(|_| ())
    })
    .await;
    eventually("the repair counted", || async {
        let metrics = scrape(&ccp).await;
        // The log holds the hand-made DELETE too.
        let adapter_writes = product.policy_writes().len() - 1;
        (metrics.value("antrea_nsx_ccp_kubernetes_writes_total{operation=\"drift_repair\"}") >= 1.0
            && metrics.value("antrea_nsx_ccp_kubernetes_writes_total{operation=\"write\"}")
                == adapter_writes as f64
            && adapter_writes > writes.len())
        .then_some(())
    })
    .await;

    // The MP adapter: inventory objects and batches, connection, leader, ready.
    let mp_metrics = eventually("the MP metrics caught up", || async {
        let metrics = scrape(&mp).await;
        let document = status(&mp).await;
        let objects = metrics.value("antrea_nsx_mp_inventory_objects{kind=\"all\"}");
        (objects > 0.0
            && Some(objects) == document["inventoryObjects"].as_f64()
            && metrics.value("antrea_nsx_mp_inventory_pending") == 0.0
            && metrics.value("antrea_nsx_mp_ready") == 1.0)
            .then_some(metrics)
    })
    .await;
    assert_types(
        &mp_metrics,
        &[
            ("antrea_nsx_mp_nsx_connected", "gauge"),
            ("antrea_nsx_mp_inventory_objects", "gauge"),
            ("antrea_nsx_mp_inventory_pending", "gauge"),
            ("antrea_nsx_mp_inventory_batches", "counter"),
            ("antrea_nsx_mp_inventory_updates", "counter"),
            ("antrea_nsx_mp_errors", "counter"),
            ("antrea_nsx_mp_reconnects", "counter"),
            ("antrea_nsx_mp_leader", "gauge"),
            ("antrea_nsx_mp_ready", "gauge"),
        ],
    );
    // The namespace, the Pods, the Nodes and the cluster's other records: held, sent in
    // accepted batches, none refused.
    let objects = mp_metrics.value("antrea_nsx_mp_inventory_objects{kind=\"all\"}");
    let pods = product
        .inventory("container-application-instances")
        .await
        .len() as f64;
    let projects = product.inventory("container-projects").await.len() as f64;
    assert!(
        objects >= pods + projects,
        "{objects} objects, {pods} pods, {projects} projects"
    );
    let updates = mp_metrics.value("antrea_nsx_mp_inventory_updates_total");
    assert!(updates >= pods + projects, "{}", mp_metrics.text);
    assert!(mp_metrics.value("antrea_nsx_mp_inventory_batches_total{result=\"success\"}") >= 1.0);
    assert_eq!(
        mp_metrics.value("antrea_nsx_mp_inventory_batches_total{result=\"failure\"}"),
        0.0
    );
    assert_eq!(mp_metrics.value("antrea_nsx_mp_nsx_connected"), 1.0);
    assert_eq!(mp_metrics.value("antrea_nsx_mp_leader"), 1.0);

    mp.shutdown().await;
    ccp.shutdown().await;
    product.shutdown().await;
}
