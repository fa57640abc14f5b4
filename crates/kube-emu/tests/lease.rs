//! Lease-based leader election between two contenders (kube-lease-manager, which uses
//! create, server-side apply and strategic merge patches on a `coordination.k8s.io` Lease).

mod common;

use std::time::Duration;

use common::Harness;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube_lease_manager::LeaseManagerBuilder;
use serde_json::Value;

const LEASE: &str = "adapter-leader";

async fn wait_for_leadership(rx: &mut tokio::sync::watch::Receiver<bool>, wanted: bool) {
    tokio::time::timeout(
        Duration::from_secs(20),
        rx.wait_for(|leads| *leads == wanted),
    )
    .await
    .expect("leadership changed in time")
    .expect("lease manager still running");
}

async fn lease_spec(leases: &Api<Lease>) -> Value {
    let lease = leases.get_opt(LEASE).await.expect("lease read");
    lease
        .and_then(|lease| serde_json::to_value(lease).ok())
        .and_then(|lease| lease.get("spec").cloned())
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_contender_leads_and_the_other_takes_over_when_it_stops_renewing() {
    let h = Harness::start().await;
    let client = h.client.clone();
    let leases: Api<Lease> = h.namespaced();
    let manager = |identity: &str| {
        LeaseManagerBuilder::new(client.clone(), LEASE)
            .with_namespace(&h.ns)
            .with_identity(identity)
            .with_duration(2)
            .with_grace(1)
            .build()
    };
    let one = manager("one").await.unwrap();
    let (mut one_rx, one_task) = one.watch().await;
    wait_for_leadership(&mut one_rx, true).await;
    assert_eq!(lease_spec(&leases).await["holderIdentity"], "one");

    let two = manager("two").await.unwrap();
    let (mut two_rx, two_task) = two.watch().await;

    // While "one" keeps renewing (several renewals, longer than the lease duration),
    // "two" does not get the lease.
    let first_renewal = lease_spec(&leases).await["renewTime"].clone();
    let mut renewals = 0;
    let mut last = first_renewal;
    for _ in 0..400 {
        let spec = lease_spec(&leases).await;
        if spec["renewTime"] != last {
            renewals += 1;
            last = spec["renewTime"].clone();
        }
        assert_eq!(spec["holderIdentity"], "one", "only one leader at a time");
        if renewals >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(renewals >= 3, "the leader renewed its lease");
    assert!(!*two_rx.borrow());

    // "one" stops renewing (crashes without releasing); "two" takes over after expiry.
    one_task.abort();
    wait_for_leadership(&mut two_rx, true).await;
    assert_eq!(lease_spec(&leases).await["holderIdentity"], "two");
    let transitions = lease_spec(&leases).await["leaseTransitions"]
        .as_i64()
        .unwrap_or(0);
    assert!(transitions >= 1, "a transition was recorded");
    drop(two_rx);
    let _ = two_task.await;
}
