//! Leader election against the in-process Kubernetes emulator, on tokio's paused clock:
//! one leader at a time, takeover after the lease expires when the leader crashes,
//! takeover at the next retry when it releases, and stepping down when renewals fail.

use std::time::Duration;

use adapter_runtime::leader::{LeaderElection, LeaderElectionOptions};
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube_emu::{FailureRule, KubeEmu};
use tokio::sync::watch;
use tokio::time::Instant;

const NAMESPACE: &str = "vmware-system-antrea";
const LEASE: &str = "antrea-nsx-ccp-adapter";

fn emulator() -> (KubeEmu, kube::Client) {
    let emu = KubeEmu::new();
    emu.seed_yaml(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NAMESPACE}\n"
    ))
    .unwrap();
    let client = kube::Client::new(emu.router(), "default");
    (emu, client)
}

fn options(identity: &str) -> LeaderElectionOptions {
    LeaderElectionOptions {
        lease_duration: Duration::from_secs(3),
        renew_deadline: Duration::from_secs(2),
        retry_period: Duration::from_millis(200),
        ..LeaderElectionOptions::new(NAMESPACE, LEASE, identity)
    }
}

async fn wait_for(rx: &mut watch::Receiver<bool>, wanted: bool) {
    tokio::time::timeout(Duration::from_secs(60), rx.wait_for(|v| *v == wanted))
        .await
        .expect("leadership changed within a minute of (paused) time")
        .expect("election still running");
}

async fn holder(client: &kube::Client) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), NAMESPACE);
    leases
        .get_opt(LEASE)
        .await
        .unwrap()
        .and_then(|lease| lease.spec)
        .and_then(|spec| spec.holder_identity)
}

async fn transitions(client: &kube::Client) -> i32 {
    let leases: Api<Lease> = Api::namespaced(client.clone(), NAMESPACE);
    leases
        .get(LEASE)
        .await
        .unwrap()
        .spec
        .and_then(|spec| spec.lease_transitions)
        .unwrap_or_default()
}

#[tokio::test(start_paused = true)]
async fn the_standby_takes_over_within_the_lease_duration_after_the_leader_crashes() {
    let (_emu, client) = emulator();
    let one = LeaderElection::start(client.clone(), options("one")).unwrap();
    let mut one_leads = one.is_leader();
    wait_for(&mut one_leads, true).await;
    assert_eq!(holder(&client).await.as_deref(), Some("one"));

    let two = LeaderElection::start(client.clone(), options("two")).unwrap();
    let mut two_leads = two.is_leader();
    // Several lease durations pass while "one" renews: "two" never leads.
    let renewed_before = Instant::now();
    while renewed_before.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!*two_leads.borrow(), "two leaders at once");
        assert!(
            *one_leads.borrow(),
            "the leader lost its lease while renewing"
        );
        assert_eq!(holder(&client).await.as_deref(), Some("one"));
    }

    // "one" crashes (dropped without release): "two" waits out the lease, then leads.
    drop(one);
    let crashed_at = Instant::now();
    wait_for(&mut two_leads, true).await;
    let takeover = crashed_at.elapsed();
    assert!(
        takeover >= Duration::from_secs(3) - Duration::from_millis(200),
        "took over before the lease expired: {takeover:?}"
    );
    assert!(
        takeover <= Duration::from_secs(3) + Duration::from_millis(600),
        "took over later than the lease duration plus a retry: {takeover:?}"
    );
    assert_eq!(holder(&client).await.as_deref(), Some("two"));
    assert_eq!(transitions(&client).await, 1);
    two.release().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn releasing_on_shutdown_hands_over_at_the_next_retry() {
    let (_emu, client) = emulator();
    let one = LeaderElection::start(client.clone(), options("one")).unwrap();
    let mut one_leads = one.is_leader();
    wait_for(&mut one_leads, true).await;
    let two = LeaderElection::start(client.clone(), options("two")).unwrap();
    let mut two_leads = two.is_leader();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!*two_leads.borrow());

    let released_at = Instant::now();
    one.release().await.unwrap();
    assert!(!*one_leads.borrow(), "released leader still claims to lead");
    assert_eq!(holder(&client).await, None, "the holder is cleared");
    wait_for(&mut two_leads, true).await;
    let takeover = released_at.elapsed();
    assert!(
        takeover <= Duration::from_millis(450),
        "a release should hand over at the next retry, took {takeover:?}"
    );
    assert_eq!(holder(&client).await.as_deref(), Some("two"));
    two.release().await.unwrap();
    assert_eq!(holder(&client).await, None);
}

#[tokio::test(start_paused = true)]
async fn a_leader_that_cannot_renew_steps_down_and_campaigns_again() {
    let (emu, client) = emulator();
    let one = LeaderElection::start(client.clone(), options("one")).unwrap();
    let mut leads = one.is_leader();
    wait_for(&mut leads, true).await;

    emu.inject_failure(FailureRule {
        resource: Some("leases".to_string()),
        ..FailureRule::new(503)
    });
    let failing_since = Instant::now();
    wait_for(&mut leads, false).await;
    let stepped_down = failing_since.elapsed();
    assert!(
        stepped_down >= Duration::from_secs(2) - Duration::from_millis(200),
        "stepped down before the renew deadline: {stepped_down:?}"
    );
    assert!(
        stepped_down < Duration::from_secs(3),
        "kept leading past the lease duration: {stepped_down:?}"
    );

    // The API recovers: the same replica wins again (nobody else took the Lease).
    emu.clear_failures();
    wait_for(&mut leads, true).await;
    assert_eq!(holder(&client).await.as_deref(), Some("one"));
    one.release().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_lone_contender_creates_the_lease_and_renews_it() {
    let (_emu, client) = emulator();
    let only = LeaderElection::start(client.clone(), options("only")).unwrap();
    let mut leads = only.is_leader();
    wait_for(&mut leads, true).await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), NAMESPACE);
    let first = leases.get(LEASE).await.unwrap().spec.unwrap();
    assert_eq!(first.lease_duration_seconds, Some(3));
    assert_eq!(first.lease_transitions, Some(0));
    let first_version = leases.get(LEASE).await.unwrap().metadata.resource_version;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let later = leases.get(LEASE).await.unwrap();
    assert_ne!(later.metadata.resource_version, first_version, "renewed");
    assert_eq!(later.spec.unwrap().holder_identity.as_deref(), Some("only"));
    only.release().await.unwrap();
}

/// Work guarded by leadership: how many replicas run it at once, and how many times each
/// started and stopped.
#[derive(Default)]
struct Guarded {
    running: std::sync::atomic::AtomicUsize,
    most_at_once: std::sync::atomic::AtomicUsize,
    starts: std::sync::Mutex<Vec<&'static str>>,
    stops: std::sync::Mutex<Vec<&'static str>>,
}

fn spawn_replica(
    client: &kube::Client,
    identity: &'static str,
    guarded: &std::sync::Arc<Guarded>,
) -> (
    tokio_util::sync::CancellationToken,
    tokio::task::JoinHandle<Result<(), adapter_runtime::leader::LeaderError>>,
) {
    use std::sync::atomic::Ordering;
    let election = LeaderElection::start(client.clone(), options(identity)).unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let guarded = guarded.clone();
    let task = tokio::spawn(adapter_runtime::leader::run_as_leader(
        election,
        shutdown.clone(),
        move |token| {
            let guarded = guarded.clone();
            async move {
                let now = guarded.running.fetch_add(1, Ordering::SeqCst) + 1;
                guarded.most_at_once.fetch_max(now, Ordering::SeqCst);
                guarded.starts.lock().unwrap().push(identity);
                token.cancelled().await;
                // Flushing takes a while; the standby must not start meanwhile.
                tokio::time::sleep(Duration::from_millis(500)).await;
                guarded.stops.lock().unwrap().push(identity);
                guarded.running.fetch_sub(1, Ordering::SeqCst);
            }
        },
    ));
    (shutdown, task)
}

#[tokio::test(start_paused = true)]
async fn guarded_work_runs_on_one_replica_at_a_time_and_moves_on_shutdown() {
    use std::sync::atomic::Ordering;
    let (_emu, client) = emulator();
    let guarded = std::sync::Arc::new(Guarded::default());
    let (stop_one, one) = spawn_replica(&client, "one", &guarded);
    for _ in 0..100 {
        if !guarded.starts.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(*guarded.starts.lock().unwrap(), ["one"]);
    let (stop_two, two) = spawn_replica(&client, "two", &guarded);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        *guarded.starts.lock().unwrap(),
        ["one"],
        "the standby stays idle"
    );

    // "one" shuts down: its work stops (and flushes) before the Lease is released, then
    // "two" starts its work.
    stop_one.cancel();
    one.await.unwrap().unwrap();
    assert_eq!(*guarded.stops.lock().unwrap(), ["one"]);
    for _ in 0..100 {
        if guarded.starts.lock().unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(*guarded.starts.lock().unwrap(), ["one", "two"]);
    assert_eq!(holder(&client).await.as_deref(), Some("two"));

    stop_two.cancel();
    two.await.unwrap().unwrap();
    assert_eq!(*guarded.stops.lock().unwrap(), ["one", "two"]);
    assert_eq!(guarded.most_at_once.load(Ordering::SeqCst), 1);
    assert_eq!(holder(&client).await, None);
}

#[tokio::test(start_paused = true)]
async fn guarded_work_stops_when_leadership_is_lost_and_starts_again_when_regained() {
    let (emu, client) = emulator();
    let guarded = std::sync::Arc::new(Guarded::default());
    let (stop, replica) = spawn_replica(&client, "only", &guarded);
    let wait_for_count = |list: &'static str, count: usize| {
        let guarded = guarded.clone();
        async move {
            for _ in 0..400 {
                let seen = match list {
                    "starts" => guarded.starts.lock().unwrap().len(),
                    _ => guarded.stops.lock().unwrap().len(),
                };
                if seen >= count {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("{list} did not reach {count}");
        }
    };
    wait_for_count("starts", 1).await;
    emu.inject_failure(FailureRule {
        resource: Some("leases".to_string()),
        ..FailureRule::new(503)
    });
    wait_for_count("stops", 1).await;
    assert_eq!(guarded.starts.lock().unwrap().len(), 1);
    emu.clear_failures();
    wait_for_count("starts", 2).await;
    stop.cancel();
    replica.await.unwrap().unwrap();
    assert_eq!(guarded.stops.lock().unwrap().len(), 2);
}
