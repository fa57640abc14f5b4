//! Leader failover of two CCP adapter processes (leader election on, a 3 s Lease from
//! ccp-adapter.conf), under the shipped RBAC: only the leader writes; the standby answers
//! `/readyz` with `ok: standby`; when the leader shuts down (releasing the Lease) the standby
//! takes over, resyncs and, since nothing changed, writes nothing to the Antrea objects; a
//! change made in NSX afterwards is applied by the new leader. A leader that crashes (its
//! runtime dropped: no release, no goodbye) is replaced once its Lease expires, again
//! without a write.

mod product_common;

use std::net::SocketAddr;

use adapter_core::ccp::naming::{CLUSTER_ID_LABEL, NSX_PATH_ANNOTATION};
use adapter_runtime::leader::CCP_LEASE_NAME;
use adapter_runtime::process::{AdapterProcess, AdapterRole};
use antrea_types::ClusterNetworkPolicy;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, ListParams};
use product_common::{
    NAMESPACE, POLICIES, Product, ProductOptions, client_from_kubeconfig, eventually, group_path,
    http_get, policy_path, scrape, scrape_at, status_at,
};
use serde_json::json;

const SHORT_LEASE: &str = "LeaderElection: true\nLeaseDurationSeconds: 3\nLeaseRenewDeadlineSeconds: 2\nLeaseRetryPeriodSeconds: 1\n";

/// The Lease's holder.
async fn holder(product: &Product) -> Option<String> {
    Api::<Lease>::namespaced(product.admin_kube.clone(), NAMESPACE)
        .get_opt(CCP_LEASE_NAME)
        .await
        .unwrap()?
        .spec?
        .holder_identity
        .filter(|holder| !holder.is_empty())
}

/// The process's `antrea_nsx_ccp_kubernetes_writes_total{operation="write"}` (0 before it ever
/// led: the sample appears with the first mirror of a running adapter).
async fn writes_of(process: &AdapterProcess) -> f64 {
    writes_at(process.api_addr()).await
}

async fn writes_at(addr: SocketAddr) -> f64 {
    scrape_at(addr)
        .await
        .samples
        .get("antrea_nsx_ccp_kubernetes_writes_total{operation=\"write\"}")
        .copied()
        .unwrap_or(0.0)
}

/// Waits until `process` leads, is ready and synced.
async fn leading_and_synced(process: &AdapterProcess, what: &str) {
    leading_and_synced_at(process.api_addr(), what).await;
}

async fn leading_and_synced_at(addr: SocketAddr, what: &str) {
    eventually(what, || async {
        let ready = http_get(addr, "/readyz").await;
        let leader = scrape_at(addr).await.value("antrea_nsx_ccp_leader");
        let document = status_at(addr).await;
        (ready.status == 200
            && ready.body == "ok"
            && leader == 1.0
            && document["connected"] == true
            && document["synced"] == true)
            .then_some(())
    })
    .await;
}

/// A CCP adapter process in a runtime of its own, on its own thread, that can crash.
struct Crashable {
    api: SocketAddr,
    crash: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Crashable {
    fn start(product: &Product) -> Crashable {
        let options = product.process_options(AdapterRole::Ccp, true, None);
        let config = product.config.clone();
        let kubeconfig = product.adapter_kubeconfig.clone();
        let (started, api) = std::sync::mpsc::channel();
        let (crash, crashed) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            let process = runtime.block_on(async {
                let kube = client_from_kubeconfig(&kubeconfig).await;
                AdapterProcess::start(options, config, kube)
                    .await
                    .expect("the adapter process starts")
            });
            started.send(process.api_addr()).unwrap();
            let _ = crashed.recv();
            // Every task stops where it is (dropping the process cancels nothing): the Lease
            // is not released, the channel to NSX and the API port just close.
            drop(process);
            runtime.shutdown_background();
        });
        Crashable {
            api: api.recv().unwrap(),
            crash,
            thread,
        }
    }

    fn crash(self) {
        self.crash.send(()).unwrap();
        self.thread.join().unwrap();
    }
}

/// The ingress rules of the ClusterNetworkPolicy translated from NSX policy `id`.
async fn ingress_rules(product: &Product, id: &str) -> usize {
    let path = policy_path(id);
    Api::<ClusterNetworkPolicy>::all(product.admin_kube.clone())
        .list(
            &ListParams::default().labels(&format!("{CLUSTER_ID_LABEL}={}", product.cluster_name)),
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|policy| {
            policy
                .metadata
                .annotations
                .as_ref()
                .and_then(|annotations| annotations.get(NSX_PATH_ANNOTATION))
                .is_some_and(|annotated| *annotated == path)
        })
        .map(|policy| policy.spec.ingress.map_or(0, |rules| rules.len()))
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_takes_over_without_writing_and_applies_later_changes() {
    let product = Product::start(ProductOptions {
        ccp_conf: SHORT_LEASE.to_owned(),
        ..ProductOptions::default()
    })
    .await;
    assert!(product.config.ccp.common.leader_election.enabled);
    product.workload().await;
    product.policies().await;

    // The first replica leads and converges.
    let first = product.start_process(AdapterRole::Ccp, true, None).await;
    leading_and_synced(&first, "the first replica leads").await;
    product.wait_realized().await;
    let first_holder = holder(&product).await.expect("the Lease has a holder");

    // The second replica waits as a healthy standby and writes nothing.
    let second = product.start_process(AdapterRole::Ccp, true, None).await;
    eventually("the second replica is a standby", || async {
        let ready = http_get(second.api_addr(), "/readyz").await;
        (ready.status == 200 && ready.body == "ok: standby").then_some(())
    })
    .await;
    assert_eq!(scrape(&second).await.value("antrea_nsx_ccp_leader"), 0.0);
    assert_eq!(writes_of(&second).await, 0.0);
    assert_eq!(
        holder(&product).await.as_deref(),
        Some(first_holder.as_str())
    );
    let writes = product.policy_writes();
    assert_eq!(writes.len() as f64, writes_of(&first).await, "{writes:#?}");

    // The leader goes; the standby takes over, resyncs, and writes nothing.
    first.shutdown().await;
    leading_and_synced(&second, "the second replica leads").await;
    let second_holder = holder(&product).await.expect("the Lease has a holder");
    assert_ne!(second_holder, first_holder);
    product.wait_realized().await;
    assert_eq!(
        product.policy_writes(),
        writes,
        "the new leader wrote although nothing changed"
    );
    assert_eq!(writes_of(&second).await, 0.0);

    // A change in NSX is applied by the new leader.
    assert_eq!(ingress_rules(&product, POLICIES[0]).await, 1);
    product
        .patch(
            &format!("{}/rules/r2", policy_path(POLICIES[0])),
            json!({"resource_type": "Rule", "display_name": "r2", "sequence_number": 2,
                   "source_groups": [group_path("db")], "destination_groups": ["ANY"],
                   "direction": "IN", "scope": ["ANY"],
                   "services": ["/infra/services/tcp-80"], "action": "DROP"}),
        )
        .await;
    eventually("the new rule in the cluster", || async {
        (ingress_rules(&product, POLICIES[0]).await == 2).then_some(())
    })
    .await;
    product.wait_realized().await;
    let after = product.policy_writes();
    assert!(after.len() > writes.len(), "{after:#?}");
    eventually("the new leader counted its writes", || async {
        let counted = writes_of(&second).await;
        (counted == (after.len() - writes.len()) as f64).then_some(())
    })
    .await;

    second.shutdown().await;
    assert!(
        product.refused().is_empty(),
        "refused: {:#?}",
        product.refused()
    );
    product.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_leader_is_replaced_when_its_lease_expires() {
    let product = Product::start(ProductOptions {
        ccp_conf: SHORT_LEASE.to_owned(),
        ..ProductOptions::default()
    })
    .await;
    product.workload().await;
    product.policies().await;
    let first = Crashable::start(&product);
    leading_and_synced_at(first.api, "the first replica leads").await;
    product.wait_realized().await;
    let first_holder = holder(&product).await.expect("the Lease has a holder");
    let second = product.start_process(AdapterRole::Ccp, true, None).await;
    eventually("the second replica is a standby", || async {
        let ready = http_get(second.api_addr(), "/readyz").await;
        (ready.status == 200 && ready.body == "ok: standby").then_some(())
    })
    .await;
    let writes = product.policy_writes();
    assert_eq!(
        writes.len() as f64,
        writes_at(first.api).await,
        "{writes:#?}"
    );

    first.crash();
    // The Lease still names the crashed leader until it expires.
    leading_and_synced(&second, "the second replica leads").await;
    assert_ne!(
        holder(&product).await.expect("the Lease has a holder"),
        first_holder
    );
    product.wait_realized().await;
    assert_eq!(
        product.policy_writes(),
        writes,
        "the new leader wrote although nothing changed"
    );
    assert_eq!(writes_of(&second).await, 0.0);

    product
        .patch(
            &format!("{}/rules/r2", policy_path(POLICIES[0])),
            json!({"resource_type": "Rule", "display_name": "r2", "sequence_number": 2,
                   "source_groups": [group_path("db")], "destination_groups": ["ANY"],
                   "direction": "IN", "scope": ["ANY"],
                   "services": ["/infra/services/tcp-80"], "action": "DROP"}),
        )
        .await;
    eventually("the new rule in the cluster", || async {
        (ingress_rules(&product, POLICIES[0]).await == 2).then_some(())
    })
    .await;
    second.shutdown().await;
    product.shutdown().await;
}
