//! NSX's requests served by the MP adapter, through nsx-sim's REST facades: policy
//! statistics equal to the emulated Antrea counters of the ClusterNetworkPolicy translated
//! from the NSX policy; Traceflow verdicts for an allowed and a dropped packet (and the
//! Antrea Traceflows cleaned up); a support bundle whose archives open and hold no secret.

mod mp_common;

use std::collections::BTreeMap;
use std::io::Read as _;

use adapter_core::ccp::naming::{
    MANAGED_BY, MANAGED_BY_LABEL, NSX_PATH_ANNOTATION, NSX_UNIQUE_ID_ANNOTATION, RuleSide,
    policy_name, rule_name,
};
use adapter_nsx::rest::{NsxRequest, NsxRestClient};
use antrea_emu::AntreaOptions;
use antrea_emu::stats::StatsOptions;
use antrea_types::stats::AntreaClusterNetworkPolicyStats;
use antrea_types::{ClusterNetworkPolicy, Traceflow};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams};
use mp_common::{Env, eventually, object};
use serde_json::{Value, json};

const POLICY: &str = "/infra/domains/default/security-policies/web";

async fn patch(admin: &NsxRestClient, path: &str, body: Value) {
    admin
        .execute(
            NsxRequest::new(http::Method::PATCH, format!("/policy/api/v1{path}"))
                .json(&body)
                .unwrap(),
        )
        .await
        .unwrap();
}

/// Pods a, b, c in `default`, running.
async fn pods(env: &Env) -> BTreeMap<String, Pod> {
    let api: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    for name in ["a", "b", "c"] {
        api.create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": name, "labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}})),
        )
        .await
        .unwrap();
    }
    let mut running = BTreeMap::new();
    for name in ["a", "b", "c"] {
        let pod = eventually("a running Pod", || async {
            let pod = api.get(name).await.ok()?;
            let status = pod.status.as_ref()?;
            (status.phase.as_deref() == Some("Running") && status.pod_ip.is_some()).then_some(pod)
        })
        .await;
        running.insert(name.to_owned(), pod);
    }
    running
}

/// The NSX policy `web` (allow, then drop) spanned to the cluster; returns its unique id and
/// its rules' `(path, rule_id)`.
async fn nsx_policy(env: &Env) -> (String, Vec<(String, i64)>) {
    patch(
        &env.admin,
        POLICY,
        json!({"resource_type": "SecurityPolicy", "category": "Application", "rules": [
            {"resource_type": "Rule", "id": "from-a", "sequence_number": 1, "action": "ALLOW"},
            {"resource_type": "Rule", "id": "drop-rest", "sequence_number": 2, "action": "DROP"},
        ]}),
    )
    .await;
    patch(
        &env.admin,
        &format!("{POLICY}/container-cluster-span/{}", env.cluster.id),
        json!({"resource_type": "SecurityPolicyContainerCluster",
               "container_cluster_path": cluster_path(env)}),
    )
    .await;
    let policy: Value = env
        .admin
        .get_json(&format!("/policy/api/v1{POLICY}"))
        .await
        .unwrap();
    let rules = policy["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["path"].as_str().unwrap().to_owned(),
                r["rule_id"].as_i64().unwrap(),
            )
        })
        .collect();
    (policy["unique_id"].as_str().unwrap().to_owned(), rules)
}

fn cluster_path(env: &Env) -> String {
    format!(
        "/infra/sites/default/enforcement-points/default/cluster-control-planes/{}",
        env.cluster.id
    )
}

/// The ClusterNetworkPolicy the CCP adapter would write for policy `web`: on b, allow
/// from a (first NSX rule), drop the rest (second).
async fn translated_acnp(env: &Env, unique_id: &str, rules: &[(String, i64)]) -> String {
    let name = policy_name("web", unique_id);
    let api: Api<ClusterNetworkPolicy> = Api::all(env.client.clone());
    api.create(
        &PostParams::default(),
        &object(json!({
            "metadata": {"name": name,
                "labels": {MANAGED_BY_LABEL: MANAGED_BY},
                "annotations": {NSX_PATH_ANNOTATION: POLICY, NSX_UNIQUE_ID_ANNOTATION: unique_id}},
            "spec": {"priority": 5, "tier": "application",
                "appliedTo": [{"podSelector": {"matchLabels": {"app": "b"}}}],
                "ingress": [
                    {"action": "Allow", "name": rule_name(rules[0].1, RuleSide::Ingress),
                     "from": [{"podSelector": {"matchLabels": {"app": "a"}}}]},
                    {"action": "Drop", "name": rule_name(rules[1].1, RuleSide::Ingress)},
                ]},
        })),
    )
    .await
    .unwrap();
    name
}

fn options() -> AntreaOptions {
    AntreaOptions {
        stats: StatsOptions {
            tick_interval: None,
            ..StatsOptions::default()
        },
        ..mp_common::antrea_options()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_and_traceflows_come_from_antrea() {
    let env = Env::start_with(options()).await;
    let pods = pods(&env).await;
    let (unique_id, rules) = nsx_policy(&env).await;
    let acnp = translated_acnp(&env, &unique_id, &rules).await;
    let adapter = env.adapter(env.options()).await;

    // Statistics: two report rounds of the traffic model, then NSX asks.
    eventually("the ACNP realized", || async {
        let api: Api<ClusterNetworkPolicy> = Api::all(env.client.clone());
        let status = api.get(&acnp).await.ok()?.status?;
        (status.phase.map(|p| p.as_str().to_owned()).as_deref() == Some("Realized")).then_some(())
    })
    .await;
    env.antrea.advance_stats_ticks(2).await;
    let antrea: AntreaClusterNetworkPolicyStats =
        Api::all(env.client.clone()).get(&acnp).await.unwrap();
    let counters: BTreeMap<String, (i64, i64, i64)> = antrea
        .rule_traffic_stats
        .iter()
        .map(|r| {
            (
                r.name.clone(),
                (
                    r.traffic_stats.sessions,
                    r.traffic_stats.packets,
                    r.traffic_stats.bytes,
                ),
            )
        })
        .collect();
    let allowed = counters[&rule_name(rules[0].1, RuleSide::Ingress)];
    let dropped = counters[&rule_name(rules[1].1, RuleSide::Ingress)];
    assert!(allowed.1 > 0 && dropped.1 > 0, "{counters:?}");
    let body: Value = env
        .admin
        .get_json(&format!(
            "/policy/api/v1{POLICY}/statistics?container_cluster_path={}",
            cluster_path(&env)
        ))
        .await
        .unwrap();
    let statistics = &body["results"][0]["statistics"];
    assert_eq!(statistics["internal_section_id"], acnp.as_str(), "{body:#}");
    for (index, (sessions, packets, bytes)) in [allowed, dropped].into_iter().enumerate() {
        let result = &statistics["results"][index];
        assert_eq!(result["rule"], rules[index].0.as_str(), "{body:#}");
        assert_eq!(result["hit_count"], sessions, "{body:#}");
        assert_eq!(result["session_count"], sessions, "{body:#}");
        assert_eq!(result["packet_count"], packets, "{body:#}");
        assert_eq!(result["byte_count"], bytes, "{body:#}");
    }

    // Traceflow: a → b is allowed, c → b dropped by the second rule.
    let uid = |name: &str| pods[name].metadata.uid.clone().unwrap();
    let mut verdicts = BTreeMap::new();
    for (id, source) in [("tf-allowed", "a"), ("tf-dropped", "c")] {
        let url = format!("/policy/api/v1/infra/antrea/traceflows/{id}");
        env.admin
            .execute(
                NsxRequest::new(http::Method::PUT, &url)
                    .json(&json!({
                        "resource_type": "AntreaTraceflowConfig",
                        "container_cluster_id": env.cluster.node_id,
                        "source_external_id": uid(source),
                        "destination_external_id": uid("b"),
                        "packet": {"resourceType": "FIELDS_PACKET_DATA", "transportType": "UNICAST",
                                   "transportHeader": {"tcpHeader": {"srcPort": 1234, "dstPort": 80, "tcpFlags": 2}}},
                    }))
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = eventually("the Traceflow finished", || async {
            let status: Value = env.admin.get_json(&format!("{url}/status")).await.ok()?;
            status["phase"]
                .as_str()
                .is_some_and(|p| !p.is_empty())
                .then_some(status)
        })
        .await;
        assert_eq!(status["phase"], "SUCCEEDED", "{status:#}");
        let observations: Value = env
            .admin
            .get_json(&format!("{url}/observations"))
            .await
            .unwrap();
        verdicts.insert(id, observations["results"].clone());
    }
    let kinds = |id: &str| -> Vec<(String, String)> {
        verdicts[id]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["component_type"].as_str().unwrap_or_default().to_owned(),
                    o["observation_type"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect()
    };
    let allowed = kinds("tf-allowed");
    assert_eq!(
        allowed.last().map(|(_, o)| o.as_str()),
        Some("AntreaTraceflowObservationDelivered"),
        "{allowed:?}"
    );
    assert!(!allowed.iter().any(|(_, o)| o.ends_with("Dropped")));
    let dropped = kinds("tf-dropped");
    assert!(
        dropped.contains(&(
            "ANTREA_DFW".to_owned(),
            "AntreaTraceflowObservationDropped".to_owned()
        )),
        "{dropped:?}"
    );
    assert!(!dropped.iter().any(|(_, o)| o.ends_with("Delivered")));
    // Node ids are the Nodes' UIDs, as in the inventory.
    let node = verdicts["tf-allowed"][0]["container_node_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        env.nsx(nsx_model::inventory::ResourceType::ContainerClusterNode)
            .await
            .iter()
            .any(|n| n.external_id() == node)
    );
    // The adapter deleted its Antrea Traceflows.
    eventually("no Antrea Traceflow left", || async {
        let api: Api<Traceflow> = Api::all(env.client.clone());
        api.list(&ListParams::default())
            .await
            .ok()?
            .items
            .is_empty()
            .then_some(())
    })
    .await;
    adapter.shutdown().await;
}

/// Every file of a tar.gz: path → content.
fn unpack(archive: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    for entry in tar.entries().expect("a tar.gz") {
        let mut entry = entry.expect("a readable entry");
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().unwrap().display().to_string();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        files.insert(path, content);
    }
    files
}

const PLANTED_KEY: &str = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_support_bundle_opens_and_holds_no_secret() {
    let env = Env::start().await;
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("mp-adapter.log");
    std::fs::write(
        &log,
        format!(
            "I1126 started the MP adapter\nconnecting with password=hunter2\n\
             Authorization: Bearer sEcReTtOkEn42\n-----BEGIN PRIVATE KEY-----\n{PLANTED_KEY}\n-----END PRIVATE KEY-----\n"
        ),
    )
    .unwrap();
    let mut options = env.options();
    options.log_files = vec![log];
    let adapter = env.adapter(options).await;
    let node_2 = env
        .antrea
        .topology()
        .nodes
        .iter()
        .find(|n| n.name == "k8s-node-2")
        .map(|n| n.name.clone())
        .unwrap();
    let node_uid = eventually("k8s-node-2 in the inventory", || async {
        env.nsx(nsx_model::inventory::ResourceType::ContainerClusterNode)
            .await
            .into_iter()
            .map(|n| Value::Object(n.to_json()))
            .find(|n| n["display_name"] == node_2.as_str())
            .and_then(|n| n["external_id"].as_str().map(str::to_owned))
    })
    .await;

    let reply = env
        .admin
        .execute(
            NsxRequest::new(http::Method::POST, "/api/v1/administration/support-bundles")
                .query("action", "collect")
                .json(
                    &json!({"content_filters": ["DEFAULT"], "container_nodes": [{
                    "container_type": "ANTREA",
                    "clusters": [{"cluster_id": env.cluster.node_id, "nodes": [node_uid]}]}]}),
                )
                .unwrap(),
        )
        .await
        .unwrap();
    let outer = unpack(&reply.body);
    let result: Value = serde_json::from_slice(
        outer
            .iter()
            .find(|(path, _)| path.ends_with("support_bundle_result.json"))
            .map(|(_, content)| content)
            .expect("NSX's result file"),
    )
    .unwrap();
    assert_eq!(
        result["failed_nodes"].as_array().map_or(0, Vec::len),
        0,
        "{result:#}"
    );
    let bundle = |suffix: &str| -> BTreeMap<String, Vec<u8>> {
        let (_, archive) = outer
            .iter()
            .find(|(path, _)| path.ends_with(suffix))
            .unwrap_or_else(|| panic!("no {suffix} in {:?}", outer.keys().collect::<Vec<_>>()));
        unpack(archive)
    };
    let controller = bundle("antrea-controller_k8s-node-1.tar.gz");
    let agent = bundle("antrea-agent_k8s-node-2.tar.gz");
    let adapters = bundle("antrea-nsx-adapters.tar.gz");
    assert!(
        controller.contains_key("controllerinfo"),
        "{:?}",
        controller.keys()
    );
    assert!(agent.contains_key("agentinfo"), "{:?}", agent.keys());
    let adapter_log = String::from_utf8_lossy(&adapters["logs/mp-adapter.log"]).into_owned();
    assert!(
        adapter_log.contains("started the MP adapter"),
        "{adapter_log}"
    );
    let status: Value = serde_json::from_slice(&adapters["mp-adapter/status.json"]).unwrap();
    assert_eq!(status["initialSyncDone"], true);
    assert!(adapters.contains_key("ccp-adapter/status.json"));

    let cluster_key_line = env
        .cluster
        .key
        .lines()
        .find(|l| l.len() > 40)
        .unwrap()
        .to_owned();
    for (name, files) in [
        ("controller", &controller),
        ("agent", &agent),
        ("adapters", &adapters),
    ] {
        for (path, content) in files {
            let text = String::from_utf8_lossy(content);
            for secret in ["hunter2", "sEcReTtOkEn42", PLANTED_KEY, &cluster_key_line] {
                assert!(
                    !text.contains(secret),
                    "{name} bundle file {path} holds a secret"
                );
            }
        }
    }
    adapter.shutdown().await;
}

/// PUTs a Traceflow configuration from `source` to `destination` (Pod UIDs); NSX's answer.
async fn start_traceflow(
    env: &Env,
    id: &str,
    source: &str,
    destination: &str,
) -> Result<(), adapter_nsx::rest::RestError> {
    env.admin
        .execute(
            NsxRequest::new(
                http::Method::PUT,
                format!("/policy/api/v1/infra/antrea/traceflows/{id}"),
            )
            .json(&json!({
                "resource_type": "AntreaTraceflowConfig",
                "container_cluster_id": env.cluster.node_id,
                "source_external_id": source,
                "destination_external_id": destination,
                "packet": {"transportHeader": {"tcpHeader": {"dstPort": 80, "tcpFlags": 2}}},
            }))
            .unwrap(),
        )
        .await
        .map(|_| ())
}

fn status_of(result: Result<(), adapter_nsx::rest::RestError>) -> u16 {
    match result {
        Err(error) => error.status().map_or(0, |s| s.as_u16()),
        Ok(()) => 200,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traceflow_refusals_are_nsx_errors() {
    let env = Env::start().await;
    let pods = pods(&env).await;
    let uid = |name: &str| pods[name].metadata.uid.clone().unwrap();
    let mut options = env.options();
    options.traceflow.queued_limit = std::time::Duration::from_secs(1);
    let adapter = env.adapter(options).await;

    // A source Pod the cluster does not have.
    let unknown = start_traceflow(&env, "tf-unknown", "no-such-pod", &uid("b")).await;
    assert_eq!(status_of(unknown), 404);

    // A host-network source (antrea-agent's Pod).
    let agents: Api<Pod> = Api::namespaced(env.client.clone(), "kube-system");
    let agent = agents
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|p| p.spec.as_ref().and_then(|s| s.host_network) == Some(true))
        .expect("a host-network Pod");
    let agent_uid = agent.metadata.uid.clone().unwrap();
    eventually("the agent Pod watched", || async {
        env.nsx_record(
            nsx_model::inventory::ResourceType::ContainerApplicationInstance,
            &agent_uid,
        )
        .await
    })
    .await;
    let host = start_traceflow(&env, "tf-host", &agent_uid, &uid("b")).await;
    assert_eq!(status_of(host), 400);

    // Antrea's 14 data-plane tags taken by live-traffic Traceflows (which never finish).
    let traceflows: Api<Traceflow> = Api::all(env.client.clone());
    for i in 0..14 {
        traceflows
            .create(
                &PostParams::default(),
                &object(json!({"metadata": {"name": format!("live-{i}")},
                    "spec": {"source": {"namespace": "default", "pod": "a"},
                             "destination": {"namespace": "default", "pod": "b"},
                             "liveTraffic": true, "timeout": 300}})),
            )
            .await
            .unwrap();
    }
    eventually("14 Traceflows running", || async {
        let list = traceflows.list(&ListParams::default()).await.ok()?;
        (list
            .items
            .iter()
            .filter(|t| t.status.as_ref().and_then(|s| s.phase.as_ref()).is_some())
            .count()
            == 14)
            .then_some(())
    })
    .await;
    let busy = start_traceflow(&env, "tf-busy", &uid("a"), &uid("b")).await;
    assert_eq!(status_of(busy), 429);
    // The refused Traceflow was not left behind.
    eventually("only the live Traceflows left", || async {
        let list = traceflows.list(&ListParams::default()).await.ok()?;
        (list.items.len() == 14).then_some(())
    })
    .await;
    let metrics = adapter.metrics();
    assert!(
        metrics
            .requests_failed
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 3
    );
    adapter.shutdown().await;
}
