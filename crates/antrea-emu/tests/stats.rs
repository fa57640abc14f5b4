//! Policy statistics through `stats.antrea.io/v1alpha1`, driven by explicit ticks of the
//! traffic model (tokio's paused clock, no periodic ticks), plus one run of the real kubectl.

mod common;

use std::time::Duration;

use antrea_emu::stats::StatsOptions;
use antrea_emu::traffic::TrafficModel;
use antrea_emu::{AntreaEmu, AntreaOptions};
use antrea_policy::{Destination, PacketSpec, PodName, PolicyKind, PolicyRef, Protocol};
use antrea_types::stats::{
    AntreaClusterNetworkPolicyStats, AntreaNetworkPolicyStats, NetworkPolicyStats, TrafficStats,
};
use antrea_types::{ClusterNetworkPolicy, NetworkPolicy};
use common::{acnp_status_where, api_error, cluster, eventually, object, running_pods, summary};
use k8s_openapi::api::networking::v1::NetworkPolicy as K8sNetworkPolicy;
use kube::Client;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::{Value, json};

/// Three Nodes, one TCP/80 flow per Pod pair and tick, no periodic ticks.
fn options() -> AntreaOptions {
    AntreaOptions {
        nodes: 3,
        realize_delay: Duration::from_secs(1),
        stats: StatsOptions {
            tick_interval: None,
            traffic: TrafficModel {
                ports: vec![(Protocol::Tcp, 80)],
                ..TrafficModel::default()
            },
            ..StatsOptions::default()
        },
        ..AntreaOptions::default()
    }
}

fn stats(sessions: i64, packets: i64, bytes: i64) -> TrafficStats {
    TrafficStats {
        sessions,
        packets,
        bytes,
    }
}

async fn create_acnp(client: &Client, name: &str) -> ClusterNetworkPolicy {
    let api: Api<ClusterNetworkPolicy> = Api::all(client.clone());
    let policy: ClusterNetworkPolicy = object(json!({
        "metadata": {"name": name},
        "spec": {
            "priority": 5,
            "appliedTo": [{"podSelector": {"matchLabels": {"app": "b"}}}],
            "ingress": [
                {"action": "Allow", "name": "from-a", "from": [{"podSelector": {"matchLabels": {"app": "a"}}}]},
                {"action": "Drop", "name": "drop-rest"},
            ],
        },
    }));
    api.create(&PostParams::default(), &policy).await.unwrap()
}

/// Pods a, b, c, d in `default`; an ACNP on b (allow from a, drop the rest), a K8s
/// NetworkPolicy isolating c (allow from a), and an ANNP on d (reject egress to a).
async fn workload(client: &Client, antrea: &AntreaEmu) {
    running_pods(
        client,
        "default",
        &[
            ("a", json!({"app": "a"})),
            ("b", json!({"app": "b"})),
            ("c", json!({"app": "c"})),
            ("d", json!({"app": "d"})),
        ],
    )
    .await;
    create_acnp(client, "web").await;
    let k8s: Api<K8sNetworkPolicy> = Api::namespaced(client.clone(), "default");
    k8s.create(
        &PostParams::default(),
        &object(json!({
            "metadata": {"name": "np-c"},
            "spec": {"podSelector": {"matchLabels": {"app": "c"}},
                     "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "a"}}}]}]},
        })),
    )
    .await
    .unwrap();
    let annp: Api<NetworkPolicy> = Api::namespaced(client.clone(), "default");
    annp.create(
        &PostParams::default(),
        &object(json!({
            "metadata": {"name": "annp-d"},
            "spec": {"priority": 3, "appliedTo": [{"podSelector": {"matchLabels": {"app": "d"}}}],
                     "egress": [{"action": "Reject", "name": "no-a",
                                 "to": [{"podSelector": {"matchLabels": {"app": "a"}}}]}]},
        })),
    )
    .await
    .unwrap();
    acnp_status_where(client, "web", |s| {
        summary(s).0 == "Realized" && summary(s).2 == 1
    })
    .await;
    let k8s_ref = PolicyRef::namespaced(PolicyKind::K8sNetworkPolicy, "default", "np-c");
    let annp_ref = PolicyRef::namespaced(PolicyKind::AntreaNetworkPolicy, "default", "annp-d");
    eventually(|| async {
        let indexed = antrea.with_index(|index| {
            let a_to_c = PacketSpec::tcp(
                PodName::new("default", "a"),
                Destination::Pod(PodName::new("default", "c")),
                80,
            );
            let k8s_indexed = index.matching_rules(&a_to_c).ok().is_some_and(|m| {
                m.ingress
                    .and_then(|i| i.rule().map(|r| r.policy.clone()))
                    .as_ref()
                    == Some(&k8s_ref)
            });
            k8s_indexed
                && index
                    .policy_span(&annp_ref)
                    .is_some_and(|s| s.nodes.len() == 1)
        });
        (indexed && antrea.traffic_pods().len() == 4).then_some(())
    })
    .await;
    // The stats objects exist once the aggregator's informers have seen the policies.
    let cluster_stats: Api<AntreaClusterNetworkPolicyStats> = Api::all(client.clone());
    let k8s_stats: Api<NetworkPolicyStats> = Api::namespaced(client.clone(), "default");
    let annp_stats: Api<AntreaNetworkPolicyStats> = Api::namespaced(client.clone(), "default");
    eventually(|| {
        let (a, b, c) = (cluster_stats.clone(), k8s_stats.clone(), annp_stats.clone());
        async move {
            (a.get("web").await.is_ok()
                && b.get("np-c").await.is_ok()
                && c.get("annp-d").await.is_ok())
            .then_some(())
        }
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn counters_grow_per_tick_by_rule_and_reset_when_a_policy_is_recreated() {
    let (_emu, antrea, client) = cluster(options()).await;
    workload(&client, &antrea).await;
    let cluster_stats: Api<AntreaClusterNetworkPolicyStats> = Api::all(client.clone());
    let annp_stats: Api<AntreaNetworkPolicyStats> = Api::namespaced(client.clone(), "default");
    let k8s_stats: Api<NetworkPolicyStats> = Api::namespaced(client.clone(), "default");

    // Nothing counted before the first tick.
    let before = cluster_stats.get("web").await.unwrap();
    assert_eq!(before.traffic_stats, TrafficStats::default());
    assert!(before.rule_traffic_stats.is_empty());
    let policy: Api<ClusterNetworkPolicy> = Api::all(client.clone());
    let web = policy.get("web").await.unwrap();
    assert_eq!(before.metadata.uid, web.metadata.uid);
    assert_eq!(before.metadata.name.as_deref(), Some("web"));
    assert!(before.metadata.creation_timestamp.is_some());

    let rounds = antrea.advance_stats_ticks(1).await;
    let round = rounds[0].as_ref().expect("the controller is up");
    // Four Pods, every ordered pair, one port.
    assert_eq!(round.flows, 12);

    // Per tick: a->b allowed by web/from-a; c->b and d->b dropped by web/drop-rest;
    // a->c allowed by np-c; d->a rejected by annp-d/no-a; b->c and d->c hit K8s isolation
    // (counted nowhere); the rest hit no rule.
    let web = cluster_stats.get("web").await.unwrap();
    assert_eq!(web.traffic_stats, stats(3, 12, 1_200));
    let names: Vec<&str> = web
        .rule_traffic_stats
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(names, ["from-a", "drop-rest"]);
    assert_eq!(web.rule("from-a"), Some(&stats(1, 10, 1_000)));
    assert_eq!(web.rule("drop-rest"), Some(&stats(2, 2, 200)));
    let annp = annp_stats.get("annp-d").await.unwrap();
    assert_eq!(annp.traffic_stats, stats(1, 1, 100));
    assert_eq!(annp.rule("no-a"), Some(&stats(1, 1, 100)));
    let np = k8s_stats.get("np-c").await.unwrap();
    assert_eq!(np.traffic_stats, stats(1, 10, 1_000));

    antrea.advance_stats_ticks(2).await;
    assert_eq!(antrea.stats_ticks(), 3);
    let web = cluster_stats.get("web").await.unwrap();
    assert_eq!(web.traffic_stats, stats(9, 36, 3_600));
    assert_eq!(web.rule("drop-rest"), Some(&stats(6, 6, 600)));
    assert_eq!(
        k8s_stats.get("np-c").await.unwrap().traffic_stats,
        stats(3, 30, 3_000)
    );
    let started = web.metadata.creation_timestamp.clone().unwrap();

    // Recreated (new UID): counting starts over, later.
    tokio::time::sleep(Duration::from_secs(30)).await;
    policy
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    eventually(|| {
        let api = cluster_stats.clone();
        async move { api.get("web").await.is_err().then_some(()) }
    })
    .await;
    let recreated = create_acnp(&client, "web").await;
    let fresh = eventually(|| {
        let api = cluster_stats.clone();
        let uid = recreated.uid();
        async move { api.get("web").await.ok().filter(|s| s.metadata.uid == uid) }
    })
    .await;
    assert_eq!(fresh.traffic_stats, TrafficStats::default());
    assert!(fresh.metadata.creation_timestamp.unwrap().0 > started.0);
    acnp_status_where(&client, "web", |s| summary(s).0 == "Realized").await;
    antrea.advance_stats_ticks(1).await;
    assert_eq!(
        cluster_stats.get("web").await.unwrap().traffic_stats,
        stats(3, 12, 1_200)
    );
    // The other policies kept counting.
    assert_eq!(
        k8s_stats.get("np-c").await.unwrap().traffic_stats,
        stats(4, 40, 4_000)
    );
}

#[tokio::test(start_paused = true)]
async fn lists_gets_and_errors_read_as_antrea_controllers() {
    let (_emu, antrea, client) = cluster(options()).await;
    workload(&client, &antrea).await;
    antrea.advance_stats_ticks(1).await;

    let all: Api<AntreaClusterNetworkPolicyStats> = Api::all(client.clone());
    let list = all.list(&Default::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].name_any(), "web");
    // Namespaced kinds list across Namespaces, or in one.
    let everywhere: Api<NetworkPolicyStats> = Api::all(client.clone());
    assert_eq!(
        everywhere
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let elsewhere: Api<AntreaNetworkPolicyStats> = Api::namespaced(client.clone(), "kube-system");
    assert!(
        elsewhere
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // Stats objects carry no labels: a selector that needs one matches nothing.
    let selected = all
        .list(&kube::api::ListParams::default().labels("app=web"))
        .await
        .unwrap();
    assert!(selected.items.is_empty());

    let missing = api_error(all.get("nope").await);
    assert_eq!(missing.code, 404);
    assert_eq!(
        missing.message,
        "antreaclusternetworkpolicystats.stats.antrea.io \"nope\" not found"
    );
    // The resources are read-only and cannot be watched.
    let raw = raw(
        &client,
        "POST",
        "/apis/stats.antrea.io/v1alpha1/antreaclusternetworkpolicystats",
        None,
    )
    .await;
    assert_eq!(raw.0, 405);
    let raw = raw_get(
        &client,
        "/apis/stats.antrea.io/v1alpha1/antreaclusternetworkpolicystats?watch=true",
        None,
    )
    .await;
    assert_eq!(raw.0, 405);

    // Discovery lists the three resources with get and list.
    let (code, discovery) = raw_get(&client, "/apis/stats.antrea.io/v1alpha1", None).await;
    assert_eq!(code, 200);
    let mut resources: Vec<(String, bool)> = discovery["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["namespaced"].as_bool().unwrap(),
            )
        })
        .collect();
    resources.sort();
    assert_eq!(
        resources,
        [
            ("antreaclusternetworkpolicystats".to_string(), false),
            ("antreanetworkpolicystats".to_string(), true),
            ("networkpolicystats".to_string(), true),
        ]
    );

    // kubectl's Table: Name, Sessions, Packets, Bytes, Created At.
    let table_accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    let (code, table) = raw_get(
        &client,
        "/apis/stats.antrea.io/v1alpha1/antreaclusternetworkpolicystats",
        Some(table_accept),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(table["kind"], "Table");
    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        ["Name", "Sessions", "Packets", "Bytes", "Created At"]
    );
    let cells = &table["rows"][0]["cells"];
    assert_eq!(cells[0], "web");
    assert_eq!(
        (cells[1].as_i64(), cells[2].as_i64(), cells[3].as_i64()),
        (Some(3), Some(12), Some(1_200))
    );
    assert!(cells[4].as_str().unwrap().ends_with('Z'));
    assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    let (_, one) = raw_get(
        &client,
        "/apis/stats.antrea.io/v1alpha1/namespaces/default/networkpolicystats/np-c",
        Some(table_accept),
    )
    .await;
    assert_eq!(one["rows"].as_array().unwrap().len(), 1);
    assert_eq!(
        one["columnDefinitions"][1]["description"],
        "The sessions count hit by the K8s NetworkPolicy."
    );
}

#[tokio::test(start_paused = true)]
async fn a_controller_restart_resets_every_counter_and_the_api_is_unavailable_meanwhile() {
    let (_emu, antrea, client) = cluster(options()).await;
    workload(&client, &antrea).await;
    antrea.advance_stats_ticks(2).await;
    let all: Api<AntreaClusterNetworkPolicyStats> = Api::all(client.clone());
    let before = all.get("web").await.unwrap();
    assert_eq!(before.traffic_stats, stats(6, 24, 2_400));

    antrea.take_controller_down();
    // kube-aggregator answers for the unavailable APIService.
    let (code, _) = raw_get(
        &client,
        "/apis/stats.antrea.io/v1alpha1/antreaclusternetworkpolicystats",
        None,
    )
    .await;
    assert_eq!(code, 503);
    assert!(all.get("web").await.is_err());
    // Agents cannot report while the controller is down.
    assert_eq!(antrea.advance_stats_ticks(1).await, [None]);

    tokio::time::sleep(Duration::from_secs(5)).await;
    antrea.bring_controller_up();
    let after = eventually(|| {
        let all = all.clone();
        async move { all.get("web").await.ok() }
    })
    .await;
    assert_eq!(after.traffic_stats, TrafficStats::default());
    assert_eq!(after.metadata.uid, before.metadata.uid);
    assert!(
        after.metadata.creation_timestamp.unwrap().0
            > before.metadata.creation_timestamp.unwrap().0
    );
    antrea.advance_stats_ticks(1).await;
    assert_eq!(
        all.get("web").await.unwrap().traffic_stats,
        stats(3, 12, 1_200)
    );
}

#[tokio::test(start_paused = true)]
async fn with_the_feature_gate_off_answers_are_empty_and_200() {
    let mut options = options();
    options.stats.enabled = false;
    let (_emu, antrea, client) = cluster(options).await;
    running_pods(&client, "default", &[("b", json!({"app": "b"}))]).await;
    create_acnp(&client, "web").await;
    antrea.advance_stats_ticks(1).await;
    let all: Api<AntreaClusterNetworkPolicyStats> = Api::all(client.clone());
    assert!(
        all.list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let (code, list) = raw_get(
        &client,
        "/apis/stats.antrea.io/v1alpha1/antreaclusternetworkpolicystats",
        None,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(list["items"], Value::Null);
    assert_eq!(list["kind"], "AntreaClusterNetworkPolicyStatsList");
    let (code, one) = raw_get(
        &client,
        "/apis/stats.antrea.io/v1alpha1/antreaclusternetworkpolicystats/web",
        None,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(
        one,
        json!({"kind": "AntreaClusterNetworkPolicyStats", "apiVersion": "stats.antrea.io/v1alpha1",
               "metadata": {"creationTimestamp": null}, "trafficStats": {}})
    );
    let (code, _) = raw_get(
        &client,
        "/apis/stats.antrea.io/v1alpha1/namespaces/x/networkpolicystats/none",
        None,
    )
    .await;
    assert_eq!(code, 200);
}

/// `(status, JSON body)` of a raw request.
async fn raw(client: &Client, method: &str, path: &str, accept: Option<&str>) -> (u16, Value) {
    let mut request = http::Request::builder().method(method).uri(path);
    if let Some(accept) = accept {
        request = request.header(http::header::ACCEPT, accept);
    }
    let request = request.body(Vec::new()).unwrap();
    let response = client
        .send(request.map(kube::client::Body::from))
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn raw_get(client: &Client, path: &str, accept: Option<&str>) -> (u16, Value) {
    raw(client, "GET", path, accept).await
}

/// The real kubectl prints the stats table (skipped without a kubectl on PATH).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_gets_antrea_cluster_network_policy_stats() {
    let available = std::process::Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !available {
        eprintln!("skipping: no usable `kubectl` on PATH");
        return;
    }
    let emu = kube_emu::KubeEmu::new();
    let antrea = AntreaEmu::install(&emu, options()).await.unwrap();
    let client = Client::new(emu.router(), "default");
    running_pods(
        &client,
        "default",
        &[("a", json!({"app": "a"})), ("b", json!({"app": "b"}))],
    )
    .await;
    create_acnp(&client, "web").await;
    acnp_status_where(&client, "web", |s| {
        summary(s).0 == "Realized" && summary(s).2 == 1
    })
    .await;
    eventually(|| async { (antrea.traffic_pods().len() == 2).then_some(()) }).await;
    let stats: Api<AntreaClusterNetworkPolicyStats> = Api::all(client.clone());
    eventually(|| {
        let stats = stats.clone();
        async move { stats.get("web").await.ok() }
    })
    .await;
    antrea.advance_stats_ticks(1).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let stop = tokio_util::sync::CancellationToken::new();
    let server = {
        let emu = emu.clone();
        let stop = stop.clone();
        tokio::spawn(async move { emu.serve(listener, stop).await })
    };
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = home.path().join("kubeconfig");
    std::fs::write(&kubeconfig, emu.kubeconfig_yaml(&url)).unwrap();
    let run = |args: Vec<String>| {
        let kubeconfig = kubeconfig.clone();
        let home = home.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new("kubectl")
                .env("HOME", home)
                .arg("--kubeconfig")
                .arg(kubeconfig)
                .args(args)
                .output()
                .unwrap()
        })
    };
    let table = run(vec!["get".into(), "antreaclusternetworkpolicystats".into()])
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.status.success(),
        "{}",
        String::from_utf8_lossy(&table.stderr)
    );
    let mut lines = stdout.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "SESSIONS", "PACKETS", "BYTES", "CREATED", "AT"]
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    // a->b is allowed by from-a; b->a hits no rule.
    assert_eq!(&row[..4], ["web", "1", "10", "1000"]);
    let json = run(vec![
        "get".into(),
        "antreaclusternetworkpolicystats".into(),
        "web".into(),
        "-o".into(),
        "json".into(),
    ])
    .await
    .unwrap();
    assert!(
        json.status.success(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let object: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(object["ruleTrafficStats"][0]["name"], "from-a");
    assert_eq!(object["trafficStats"]["packets"], 10);
    stop.cancel();
    let _ = server.await;
}
