//! The adapter channel at scale. Prints numbers; asserts nothing. Run with
//! `cargo bench -p nsx-sim --bench channel`.
//!
//! 1. Span computation over 10,000 rules across 50 clusters: 500 security policies of 20 rules
//!    each, 1,000 groups (every fourth one nesting another with a PathExpression), 50 services;
//!    each policy is spanned to two clusters, every 25th one to all 50. Printed: the time to
//!    build the span index from scratch, and the time to apply one commit for the common
//!    changes (a rule edited, a rule moved to another group, a group shared by every cluster
//!    edited, a policy spanned to one more cluster and back), each averaged over many commits.
//! 2. Intent change to channel update: a simulator with 2,000 rules spanned to a cluster, a
//!    fake CCP adapter connected over mutual TLS, and 300 `PATCH`es of a spanned group over
//!    HTTPS; for each, the time from sending the `PATCH` to receiving the matching
//!    `DesiredStateUpdate` (p50, p99, max).

#[path = "../tests/adapter/mod.rs"]
mod adapter;
#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use nsx_proto::v1::ccp_manager_message;
use nsx_sim::identity::{Caller, Identity};
use nsx_sim::policy::kinds::Kind;
use nsx_sim::policy::{Engine, Origin, TABLE, WriteMode, bootstrap};
use nsx_sim::realization::span::SpanIndex;
use nsx_sim::store::{Store, WriteTxn};
use serde_json::{Value, json};

const CLUSTERS: usize = 50;
const POLICIES: usize = 500;
const RULES_PER_POLICY: usize = 20;
const GROUPS: usize = 1_000;
const SERVICES: usize = 50;

fn cluster_path(i: usize) -> String {
    format!("/infra/sites/default/enforcement-points/default/cluster-control-planes/c{i}")
}

fn group_path(i: usize) -> String {
    format!("/infra/domains/default/groups/g{i}")
}

fn policy_path(i: usize) -> String {
    format!("/infra/domains/default/security-policies/p{i}")
}

fn admin() -> Caller {
    Caller {
        identity: Identity::User("admin".into()),
        allow_overwrite: false,
    }
}

fn write(
    store: &Store,
    f: impl FnOnce(&mut Engine<'_, '_>) -> Result<(), nsx_sim::error::ApiError>,
) -> Vec<String> {
    let mut commits = store.subscribe();
    store
        .write_blocking(|tx: &mut WriteTxn<'_>| {
            let mut engine = Engine::new(tx, admin(), nsx_sim::policy::now_ms());
            f(&mut engine)?;
            engine.finish()
        })
        .unwrap();
    commits
        .try_recv()
        .unwrap()
        .touched
        .iter()
        .filter(|(t, _)| t == TABLE)
        .map(|(_, k)| k.clone())
        .collect()
}

fn upsert(
    engine: &mut Engine<'_, '_>,
    kind: Kind,
    path: &str,
    body: Value,
) -> Result<(), nsx_sim::error::ApiError> {
    engine.upsert(kind, path, body, WriteMode::Merge, Origin::Rest)?;
    Ok(())
}

fn rule(policy: usize, r: usize) -> Value {
    let n = policy * RULES_PER_POLICY + r;
    json!({"resource_type": "Rule", "id": format!("r{r}"), "sequence_number": r,
           "source_groups": [group_path(n * 7 % GROUPS)],
           "destination_groups": [group_path(n * 13 % GROUPS)],
           "services": [format!("/infra/services/s{}", n % SERVICES)]})
}

/// Fills `store`; with `bare_clusters`, writes stand-in `ClusterControlPlane` documents (the
/// span index needs nothing else of them).
fn populate(store: &Store, clusters: usize, policies: usize, bare_clusters: bool) {
    store
        .write_blocking(|tx| {
            bootstrap(tx, 1)?;
            for c in (0..clusters).filter(|_| bare_clusters) {
                tx.put(
                    TABLE,
                    &cluster_path(c),
                    json!({"resource_type": "ClusterControlPlane", "id": format!("c{c}")}),
                );
            }
            Ok::<_, nsx_sim::error::ApiError>(())
        })
        .unwrap();
    write(store, |e| {
        for s in 0..SERVICES {
            upsert(
                e,
                Kind::Service,
                &format!("/infra/services/s{s}"),
                json!({"resource_type": "Service",
                "service_entries": [{"resource_type": "L4PortSetServiceEntry", "id": "e", "l4_protocol": "TCP",
                                     "destination_ports": [format!("{}", 1000 + s)]}]}),
            )?;
        }
        for g in 0..GROUPS {
            let expression = if g % 4 == 3 {
                json!([{"resource_type": "PathExpression", "paths": [group_path(g - 1)]}])
            } else {
                json!([{"resource_type": "Condition", "member_type": "Pod", "key": "Tag", "operator": "EQUALS", "value": format!("app-{g}")}])
            };
            upsert(
                e,
                Kind::Group,
                &group_path(g),
                json!({"resource_type": "Group", "expression": expression}),
            )?;
        }
        Ok(())
    });
    for chunk in (0..policies).collect::<Vec<_>>().chunks(50) {
        write(store, |e| {
            for &p in chunk {
                let rules: Vec<Value> = (0..RULES_PER_POLICY).map(|r| rule(p, r)).collect();
                upsert(
                    e,
                    Kind::SecurityPolicy,
                    &policy_path(p),
                    json!({"resource_type": "SecurityPolicy",
                    "category": "Application", "sequence_number": p, "rules": rules}),
                )?;
                let spans: Vec<usize> = if p % 25 == 0 {
                    (0..clusters).collect()
                } else {
                    vec![p % clusters, (p * 7 + 3) % clusters]
                };
                for c in spans {
                    upsert(
                        e,
                        Kind::ContainerClusterSpan,
                        &format!("{}/container-cluster-span/c{c}", policy_path(p)),
                        json!({"resource_type": "SecurityPolicyContainerCluster", "container_cluster_path": cluster_path(c)}),
                    )?;
                }
            }
            Ok(())
        });
    }
}

fn report(label: &str, samples: &mut [Duration]) {
    samples.sort();
    let total: Duration = samples.iter().sum();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "  {label:<46} n={:<4} mean {:>9.3?}  p50 {:>9.3?}  p99 {:>9.3?}  max {:>9.3?}",
        samples.len(),
        total / samples.len() as u32,
        pick(0.5),
        pick(0.99),
        samples[samples.len() - 1]
    );
}

/// Applies `change` `n` times (with the iteration number) and times the index update only.
fn measure(
    store: &Store,
    index: &mut SpanIndex,
    n: usize,
    label: &str,
    mut change: impl FnMut(usize, &mut Engine<'_, '_>) -> Result<(), nsx_sim::error::ApiError>,
) {
    let mut samples = Vec::with_capacity(n);
    let mut affected = 0;
    for i in 0..n {
        let keys = write(store, |e| change(i, e));
        let started = Instant::now();
        let deltas = store.read(|t| index.apply(t, keys.iter().map(String::as_str)));
        samples.push(started.elapsed());
        affected += deltas.len();
    }
    report(label, &mut samples);
    println!(
        "  {:<46} clusters changed per commit: {:.1}",
        "",
        affected as f64 / n as f64
    );
}

fn span_benchmark() {
    println!(
        "span computation: {POLICIES} policies x {RULES_PER_POLICY} rules = {} rules, {GROUPS} groups, {SERVICES} services, {CLUSTERS} clusters",
        POLICIES * RULES_PER_POLICY
    );
    let store = Store::in_memory();
    let started = Instant::now();
    populate(&store, CLUSTERS, POLICIES, true);
    println!("  populated the store in {:.2?}", started.elapsed());
    let started = Instant::now();
    let mut index = store.read(SpanIndex::build);
    println!("  build the index from scratch: {:.2?}", started.elapsed());
    let sizes: Vec<usize> = (0..CLUSTERS)
        .map(|c| index.snapshot(&cluster_path(c)).len())
        .collect();
    println!(
        "  desired state per cluster: min {} / max {} objects",
        sizes.iter().min().unwrap(),
        sizes.iter().max().unwrap()
    );
    measure(
        &store,
        &mut index,
        300,
        "a rule edited (policy in 2 clusters)",
        |i, e| {
            let p = 1 + (i % 24);
            upsert(
                e,
                Kind::Rule,
                &format!("{}/rules/r{}", policy_path(p), i % RULES_PER_POLICY),
                json!({"resource_type": "Rule", "action": if i % 2 == 0 { "DROP" } else { "ALLOW" }}),
            )
        },
    );
    measure(
        &store,
        &mut index,
        300,
        "a rule moved to another group",
        |i, e| {
            let p = 1 + (i % 24);
            upsert(
                e,
                Kind::Rule,
                &format!("{}/rules/r3", policy_path(p)),
                json!({"resource_type": "Rule", "source_groups": [group_path((i * 31 + 5) % GROUPS)]}),
            )
        },
    );
    measure(
        &store,
        &mut index,
        300,
        "a rule edited (policy in all 50 clusters)",
        |i, e| {
            upsert(
                e,
                Kind::Rule,
                &format!("{}/rules/r{}", policy_path(25), i % RULES_PER_POLICY),
                json!({"resource_type": "Rule", "notes": format!("n{i}")}),
            )
        },
    );
    measure(
        &store,
        &mut index,
        300,
        "a group edited (used in every cluster)",
        |i, e| {
            let rule = rule(0, 0);
            let group = rule["source_groups"][0].as_str().unwrap().to_owned();
            upsert(
                e,
                Kind::Group,
                &group,
                json!({"resource_type": "Group", "description": format!("d{i}")}),
            )
        },
    );
    measure(
        &store,
        &mut index,
        300,
        "a policy spanned to one more cluster / back",
        |i, e| {
            let p = 1 + (i / 2) % 24;
            let span = format!("{}/container-cluster-span/extra", policy_path(p));
            if i % 2 == 0 {
                let c = (p + 20) % CLUSTERS;
                upsert(
                    e,
                    Kind::ContainerClusterSpan,
                    &span,
                    json!({"resource_type": "SecurityPolicyContainerCluster", "container_cluster_path": cluster_path(c)}),
                )
            } else {
                e.delete(&span, false)?;
                Ok(())
            }
        },
    );
    let started = Instant::now();
    let rebuilt = store.read(SpanIndex::build);
    let rebuild = started.elapsed();
    let same = (0..CLUSTERS).all(|c| {
        index.snapshot(&cluster_path(c)).len() == rebuilt.snapshot(&cluster_path(c)).len()
    });
    println!(
        "  rebuild after the changes: {rebuild:.2?}; incremental index equals the rebuild: {same}"
    );
}

async fn latency_benchmark() {
    let sim = adapter::start().await;
    let cluster = adapter::register(&sim, "c0").await;
    let store = sim.adapter_channel().store().clone();
    let background = 100;
    tokio::task::spawn_blocking(move || populate(&store, 1, background, false))
        .await
        .unwrap();
    let channel = sim.adapter_channel().clone();
    let target = policy_path(background - 1);
    while !channel.feed().contains(&cluster.path(), &target) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (mut session, _) =
        adapter::CcpSession::welcome(&sim, &cluster, adapter::ccp_hello("c0")).await;
    let snapshot = session.snapshot().await;
    println!(
        "intent change to channel update: {} rules spanned to the cluster, snapshot of {} objects",
        background * RULES_PER_POLICY,
        snapshot.objects.len()
    );
    session.ack(snapshot.generation).await;
    let admin = common::Client::admin(&sim);
    let group = rule(0, 0)["source_groups"][0].as_str().unwrap().to_owned();
    let url = format!("/policy/api/v1{group}");
    let mut samples = Vec::new();
    for i in 0..300 {
        let started = Instant::now();
        let body = json!({"resource_type": "Group", "description": format!("change {i}")});
        let patch = admin.raw(
            reqwest::Method::PATCH,
            &url,
            Some(body.to_string().into_bytes()),
            None,
        );
        let receive = async {
            loop {
                if let ccp_manager_message::Body::Update(update) = session.expect().await {
                    return update;
                }
            }
        };
        let (reply, update) = tokio::join!(patch, receive);
        samples.push(started.elapsed());
        assert_eq!(reply.unwrap().status, 200);
        session.ack(update.generation).await;
    }
    report("PATCH group -> DesiredStateUpdate received", &mut samples);
    sim.shutdown().await.unwrap();
}

fn main() {
    span_benchmark();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(latency_benchmark());
}
