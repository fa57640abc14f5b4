//! Graceful shutdown of the adapter processes: the MP adapter flushes the inventory changes
//! it holds before `shutdown` returns (with a batch period far longer than the test), and
//! both processes release their Leases, so that a standby can take over at once.

mod product_common;

use adapter_runtime::leader::{CCP_LEASE_NAME, MP_LEASE_NAME};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use product_common::{NAMESPACE, Product, ProductOptions, eventually, status};
use serde_json::json;

/// The Lease's holder (None when released).
async fn holder(product: &Product, lease: &str) -> Option<String> {
    Api::<Lease>::namespaced(product.admin_kube.clone(), NAMESPACE)
        .get_opt(lease)
        .await
        .unwrap()?
        .spec?
        .holder_identity
        .filter(|holder| !holder.is_empty())
}

async fn in_nsx(product: &Product, pod: &str) -> bool {
    product
        .inventory("container-application-instances")
        .await
        .iter()
        .any(|record| record["display_name"] == pod)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_flushes_pending_inventory_and_releases_the_leases() {
    let product = Product::start(ProductOptions {
        mp_conf: "InventoryBatchPeriod: 3600\nInventoryBatchSize: 1000\n".to_owned(),
        ..ProductOptions::default()
    })
    .await;
    product.workload().await;
    let (ccp, mp) = product.start_both(true).await;
    product.wait_inventory().await;
    assert!(holder(&product, MP_LEASE_NAME).await.is_some());
    assert!(holder(&product, CCP_LEASE_NAME).await.is_some());

    // A Pod created now waits for the next batch (an hour away).
    let pods: Api<Pod> = Api::namespaced(product.admin_kube.clone(), "shop");
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "metadata": {"name": "late-1", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    eventually("the new Pod pending in the MP adapter", || async {
        let document = status(&mp).await;
        (document["pendingChanges"].as_u64() >= Some(1)).then_some(())
    })
    .await;
    assert!(!in_nsx(&product, "late-1").await, "sent before the period");

    // Shutting down sends it, then releases the Lease.
    mp.shutdown().await;
    assert!(
        in_nsx(&product, "late-1").await,
        "the pending Pod was not flushed at shutdown"
    );
    assert_eq!(holder(&product, MP_LEASE_NAME).await, None);
    ccp.shutdown().await;
    assert_eq!(holder(&product, CCP_LEASE_NAME).await, None);
    product.shutdown().await;
}
