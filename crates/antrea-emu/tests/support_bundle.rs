//! On-demand support bundles through `system.antrea.io/v1beta1`: the controller's (aggregated
//! API) and the agents' (their own API, and the emulator path), with real tar.gz archives.

mod common;

use std::collections::BTreeMap;
use std::io::Read as _;
use std::time::Duration;

use antrea_emu::AntreaOptions;
use antrea_emu::support_bundle::SupportBundleOptions;
use antrea_types::ClusterNetworkPolicy;
use antrea_types::system::{SupportBundle, SupportBundleStatus};
use common::{api_error, cluster, eventually, object, pinned_pod};
use futures::AsyncReadExt as _;
use kube::Client;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn options(expiry: Duration) -> AntreaOptions {
    AntreaOptions {
        nodes: 2,
        realize_delay: Duration::from_secs(1),
        support_bundles: SupportBundleOptions {
            expiry,
            collect_duration: Duration::from_secs(2),
        },
        ..AntreaOptions::default()
    }
}

/// The bundle once it reaches `status`.
async fn bundle_when(
    api: &Api<SupportBundle>,
    name: &str,
    status: SupportBundleStatus,
) -> SupportBundle {
    eventually(|| {
        let api = api.clone();
        let status = status.clone();
        async move {
            api.get(name)
                .await
                .ok()
                .filter(|b| b.status.as_ref() == Some(&status))
        }
    })
    .await
}

/// `(status, body)` of a GET.
async fn download(client: &Client, path: &str) -> (u16, Vec<u8>) {
    let request = http::Request::get(path).body(Vec::new()).unwrap();
    let response = client
        .send(request.map(kube::client::Body::from))
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, bytes.to_vec())
}

/// Path -> content of the files of a tar.gz (directories end with `/`).
fn unpack(archive: &[u8]) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    for entry in archive.entries().expect("a tar archive") {
        let mut entry = entry.expect("an entry");
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut content = String::new();
        entry.read_to_string(&mut content).expect("a text file");
        files.insert(path, content);
    }
    files
}

async fn create_policy(client: &Client) {
    let api: Api<ClusterNetworkPolicy> = Api::all(client.clone());
    api.create(
        &PostParams::default(),
        &object(json!({"metadata": {"name": "web"},
            "spec": {"priority": 5, "appliedTo": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                     "ingress": [{"action": "Allow", "name": "in"}]}})),
    )
    .await
    .unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_controller_bundle_is_collected_downloaded_and_expires() {
    let (_emu, _antrea, client) = cluster(options(Duration::from_secs(600))).await;
    pinned_pod(
        &client,
        "default",
        "web-1",
        "k8s-node-2",
        json!({"app": "web"}),
    )
    .await;
    create_policy(&client).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let api: Api<SupportBundle> = Api::all(client.clone());

    let idle = api.get("controller").await.unwrap();
    assert_eq!(idle.status, Some(SupportBundleStatus::None));
    // Nothing to download yet.
    let (code, body) = download(
        &client,
        "/apis/system.antrea.io/v1beta1/supportbundles/controller/download",
    )
    .await;
    assert_eq!(code, 500);
    let status: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status["message"], "open : no such file or directory");

    let created = api
        .create(
            &PostParams::default(),
            &SupportBundle::request("controller", Some("1h")),
        )
        .await
        .unwrap();
    assert_eq!(created.status, Some(SupportBundleStatus::Collecting));
    assert_eq!(created.since, "1h");
    let collected = bundle_when(&api, "controller", SupportBundleStatus::Collected).await;
    assert_eq!(collected.since, "1h");
    let created_at = collected.metadata.creation_timestamp.clone().unwrap().0;
    let expires = collected.metadata.deletion_timestamp.clone().unwrap().0;
    assert_eq!(expires.duration_since(created_at).as_secs(), 600);

    let (code, archive) = download(
        &client,
        "/apis/system.antrea.io/v1beta1/supportbundles/controller/download",
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(hex::encode(Sha256::digest(&archive)), collected.sum);
    assert_eq!(archive.len(), collected.size as usize);
    let files = unpack(&archive);
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    for expected in [
        "logs/",
        "logs/controller/",
        "networkpolicies",
        "addressgroups",
        "controllerinfo",
        "tiers",
        "nodes",
        "memprofile",
        "goroutinestacks",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let (log_name, log) = files
        .iter()
        .find(|(name, _)| name.starts_with("logs/controller/antrea-controller.antrea-controller-"))
        .expect("the controller log");
    assert!(log_name.contains(".root.log.INFO."), "{log_name}");
    assert!(
        log.contains("\"Starting Antrea Controller\" version=\"v2.7.0\""),
        "{log}"
    );
    assert!(
        log.contains("\"Processing ClusterNetworkPolicy ADD event\" name=\"web\""),
        "{log}"
    );
    assert!(log.lines().all(|line| line.starts_with('I')), "{log}");
    let policies: Value = serde_saphyr::from_str(&files["networkpolicies"]).unwrap();
    assert_eq!(policies[0]["sourceRef"]["name"], "web");
    assert_eq!(policies[0]["span"]["nodes"], json!(["k8s-node-2"]));
    assert_eq!(policies[0]["tierPriority"], 250);
    let tiers: Value = serde_saphyr::from_str(&files["tiers"]).unwrap();
    assert_eq!(tiers.as_array().unwrap().len(), 6);
    let nodes: Value = serde_saphyr::from_str(&files["nodes"]).unwrap();
    assert_eq!(nodes[1]["name"], "k8s-node-2");
    assert!(files["controllerinfo"].contains("antrea-controller"));

    // `since` bounds the log: nothing is that recent after an hour of quiet.
    tokio::time::sleep(Duration::from_secs(120)).await;
    api.create(
        &PostParams::default(),
        &SupportBundle::request("controller", Some("1m")),
    )
    .await
    .unwrap();
    bundle_when(&api, "controller", SupportBundleStatus::Collected).await;
    let (_, archive) = download(
        &client,
        "/apis/system.antrea.io/v1beta1/supportbundles/controller/download",
    )
    .await;
    let files = unpack(&archive);
    let log = files
        .iter()
        .find(|(name, _)| name.starts_with("logs/controller/"))
        .map(|(_, log)| log.clone())
        .unwrap();
    assert!(!log.contains("Starting Antrea Controller"), "{log}");

    // Expiry: back to None, and the file is gone.
    tokio::time::sleep(Duration::from_secs(601)).await;
    let expired = api.get("controller").await.unwrap();
    assert_eq!(expired.status, Some(SupportBundleStatus::None));
    assert_eq!(expired.sum, "");
    let (code, _) = download(
        &client,
        "/apis/system.antrea.io/v1beta1/supportbundles/controller/download",
    )
    .await;
    assert_eq!(code, 500);
}

#[tokio::test(start_paused = true)]
async fn names_other_than_the_mode_are_refused_and_delete_cancels() {
    let (_emu, antrea, client) = cluster(options(Duration::from_secs(3600))).await;
    let api: Api<SupportBundle> = Api::all(client.clone());
    let refused = api_error(
        api.create(
            &PostParams::default(),
            &SupportBundle::request("agent", None),
        )
        .await,
    );
    assert_eq!(refused.code, 403);
    assert_eq!(refused.reason, "Forbidden");
    assert_eq!(
        refused.message,
        "controllerinfos.system.antrea.io \"agent\" is forbidden: only resource name \"controller\" is allowed"
    );
    let missing = api_error(api.get("agent").await);
    assert_eq!(missing.code, 404);
    assert_eq!(
        missing.message,
        "supportBundle.system.antrea.io \"agent\" not found"
    );
    // Only create, get and delete exist.
    assert_eq!(api_error(api.list(&Default::default()).await).code, 405);
    let mut bundle = SupportBundle::request("controller", None);
    bundle.metadata.resource_version = Some("1".into());
    assert_eq!(
        api_error(
            api.replace("controller", &PostParams::default(), &bundle)
                .await
        )
        .code,
        405
    );

    // A delete while collecting cancels the collection.
    api.create(
        &PostParams::default(),
        &SupportBundle::request("controller", None),
    )
    .await
    .unwrap();
    api.delete("controller", &DeleteParams::default())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        api.get("controller").await.unwrap().status,
        Some(SupportBundleStatus::None)
    );
    // A new request replaces the one in progress.
    api.create(
        &PostParams::default(),
        &SupportBundle::request("controller", Some("2h")),
    )
    .await
    .unwrap();
    api.create(
        &PostParams::default(),
        &SupportBundle::request("controller", Some("3h")),
    )
    .await
    .unwrap();
    let collected = bundle_when(&api, "controller", SupportBundleStatus::Collected).await;
    assert_eq!(collected.since, "3h");

    // The controller's API goes away with the controller.
    antrea.take_controller_down();
    let (code, _) = download(
        &client,
        "/apis/system.antrea.io/v1beta1/supportbundles/controller",
    )
    .await;
    assert_eq!(code, 503);
    antrea.bring_controller_up();
    assert!(api.get("controller").await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn agent_bundles_are_served_by_each_agent() {
    let (_emu, antrea, client) = cluster(options(Duration::from_secs(3600))).await;
    pinned_pod(
        &client,
        "default",
        "web-1",
        "k8s-node-2",
        json!({"app": "web"}),
    )
    .await;
    create_policy(&client).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    antrea.heartbeat_now();
    tokio::time::sleep(Duration::from_secs(1)).await;

    // The agent's own API, as a kube client.
    let agent = Client::new(
        antrea.agent_api("k8s-node-2").expect("a known Node"),
        "default",
    );
    assert!(antrea.agent_api("k8s-node-9").is_none());
    let api: Api<SupportBundle> = Api::all(agent.clone());
    assert_eq!(
        api.get("agent").await.unwrap().status,
        Some(SupportBundleStatus::None)
    );
    let refused = api_error(
        api.create(
            &PostParams::default(),
            &SupportBundle::request("controller", None),
        )
        .await,
    );
    assert_eq!(
        refused.message,
        "controllerinfos.system.antrea.io \"controller\" is forbidden: only resource name \"agent\" is allowed"
    );
    api.create(
        &PostParams::default(),
        &SupportBundle::request("agent", None),
    )
    .await
    .unwrap();
    let collected = bundle_when(&api, "agent", SupportBundleStatus::Collected).await;
    let mut stream = agent
        .request_stream(
            http::Request::get("/apis/system.antrea.io/v1beta1/supportbundles/agent/download")
                .body(Vec::new())
                .unwrap(),
        )
        .await
        .unwrap();
    let mut archive = Vec::new();
    stream.read_to_end(&mut archive).await.unwrap();
    assert_eq!(hex::encode(Sha256::digest(&archive)), collected.sum);
    let files = unpack(&archive);
    for expected in [
        "agentinfo",
        "networkpolicies",
        "ovsports",
        "logs/ovs/ovs-vswitchd.log",
        "memprofile",
    ] {
        assert!(
            files.contains_key(expected),
            "{expected} missing from {:?}",
            files.keys()
        );
    }
    let log = files
        .iter()
        .find(|(name, _)| name.starts_with("logs/agent/antrea-agent.antrea-agent-"))
        .map(|(_, log)| log.clone())
        .expect("the agent log");
    assert!(log.contains("Starting Antrea Agent"), "{log}");
    let policies: Value = serde_saphyr::from_str(&files["networkpolicies"]).unwrap();
    assert_eq!(policies[0]["sourceRef"]["name"], "web");
    assert!(
        files["ovsports"].contains("pod=default/web-1"),
        "{}",
        files["ovsports"]
    );
    assert!(files["agentinfo"].contains("k8s-node-2"));

    // The same agent through the emulator path; another agent realizes no policy.
    let base = "/apis/system.antrea.io/v1beta1/agents/k8s-node-1/supportbundles";
    let post = http::Request::post(base)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(&json!({"metadata": {"name": "agent"}})).unwrap())
        .unwrap();
    let created: Value = client.request(post).await.unwrap();
    assert_eq!(created["status"], "Collecting");
    let node_one: Value = eventually(|| {
        let client = client.clone();
        async move {
            let get = http::Request::get(format!("{base}/agent"))
                .body(Vec::new())
                .unwrap();
            let bundle: Value = client.request(get).await.ok()?;
            (bundle["status"] == "Collected").then_some(bundle)
        }
    })
    .await;
    let (code, archive) = download(&client, &format!("{base}/agent/download")).await;
    assert_eq!(code, 200);
    assert_eq!(node_one["size"].as_u64(), Some(archive.len() as u64));
    let files = unpack(&archive);
    let policies: Value = serde_saphyr::from_str(&files["networkpolicies"]).unwrap();
    assert_eq!(policies, json!([]));
    // The controller's bundle is unaffected, and agents answer while it is down.
    assert_eq!(
        Api::<SupportBundle>::all(client.clone())
            .get("controller")
            .await
            .unwrap()
            .status,
        Some(SupportBundleStatus::None)
    );
    antrea.take_controller_down();
    assert_eq!(download(&client, &format!("{base}/agent")).await.0, 200);
    let (code, _) = download(
        &client,
        "/apis/system.antrea.io/v1beta1/agents/k8s-node-7/supportbundles/agent",
    )
    .await;
    assert_eq!(code, 404);
}
