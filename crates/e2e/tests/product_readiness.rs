//! Readiness of both adapter processes as NSX comes and goes: `/readyz` answers 503 while
//! NSX is not there (before any sync), 200 once connected and synced, 503 again when NSX
//! stops (REST and the adapter channel), and 200 after NSX starts again on the same ports
//! with the same data; `/livez` answers 200 throughout. The `ready` and connection gauges
//! follow.

mod product_common;

use adapter_runtime::process::AdapterProcess;
use product_common::{Product, ProductOptions, http_get, readyz, scrape, status, wait_readyz};

async fn live(process: &AdapterProcess) {
    let answer = http_get(process.api_addr(), "/livez").await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "ok"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_nsx_and_liveness_stays() {
    let mut product = Product::start(ProductOptions::default()).await;
    product.workload().await;
    product.policies().await;
    // NSX is away before the adapters start: nothing can sync.
    product.stop_nsx().await;
    let (ccp, mp) = product.start_both(false).await;
    for process in [&ccp, &mp] {
        live(process).await;
        let answer = http_get(process.api_addr(), "/readyz").await;
        assert_eq!(answer.status, 503, "{answer:?}");
        assert!(answer.body.starts_with("not ready: "), "{answer:?}");
    }
    let first = product_common::eventually("the CCP adapter's first status", || async {
        let document = status(&ccp).await;
        document["synced"].is_boolean().then_some(document)
    })
    .await;
    assert_eq!(
        (&first["connected"], &first["synced"]),
        (&false.into(), &false.into()),
        "{first:#}"
    );
    assert_eq!(readyz(&ccp).await, 503);

    // NSX arrives: both become ready; the CCP adapter is synced and the policies realized.
    product.restart_nsx().await;
    wait_readyz(&ccp, 200, "the CCP adapter ready").await;
    wait_readyz(&mp, 200, "the MP adapter ready").await;
    let ccp_status = status(&ccp).await;
    assert_eq!(
        (&ccp_status["connected"], &ccp_status["synced"]),
        (&true.into(), &true.into()),
        "{ccp_status:#}"
    );
    product.wait_realized().await;
    product.wait_inventory().await;
    product_common::eventually("the ready gauges at 1", || async {
        let ccp_metrics = scrape(&ccp).await;
        let mp_metrics = scrape(&mp).await;
        (ccp_metrics.value("antrea_nsx_ccp_ready") == 1.0
            && ccp_metrics.value("antrea_nsx_ccp_channel_connected") == 1.0
            && mp_metrics.value("antrea_nsx_mp_ready") == 1.0
            && mp_metrics.value("antrea_nsx_mp_nsx_connected") == 1.0)
            .then_some(())
    })
    .await;

    // NSX goes away: not ready, still alive.
    product.stop_nsx().await;
    let ccp_reason = wait_readyz(&ccp, 503, "the CCP adapter not ready without NSX").await;
    let mp_reason = wait_readyz(&mp, 503, "the MP adapter not ready without NSX").await;
    assert!(ccp_reason.contains("NSX"), "{ccp_reason}");
    assert!(mp_reason.starts_with("not ready: "), "{mp_reason}");
    live(&ccp).await;
    live(&mp).await;
    product_common::eventually("the ready gauges at 0", || async {
        let ccp_metrics = scrape(&ccp).await;
        let mp_metrics = scrape(&mp).await;
        (ccp_metrics.value("antrea_nsx_ccp_ready") == 0.0
            && ccp_metrics.value("antrea_nsx_ccp_channel_connected") == 0.0
            && mp_metrics.value("antrea_nsx_mp_ready") == 0.0)
            .then_some(())
    })
    .await;

    // NSX is back (same ports, same data): ready again, reconnections counted.
    product.restart_nsx().await;
    wait_readyz(&ccp, 200, "the CCP adapter ready again").await;
    wait_readyz(&mp, 200, "the MP adapter ready again").await;
    assert_eq!(readyz(&ccp).await, 200);
    product.wait_realized().await;
    product_common::eventually("reconnections counted", || async {
        let ccp_metrics = scrape(&ccp).await;
        let mp_metrics = scrape(&mp).await;
        (ccp_metrics.value("antrea_nsx_ccp_reconnects_total") >= 1.0
            && mp_metrics.value("antrea_nsx_mp_reconnects_total") >= 1.0)
            .then_some(())
    })
    .await;
    live(&ccp).await;
    live(&mp).await;

    mp.shutdown().await;
    ccp.shutdown().await;
    product.shutdown().await;
}
