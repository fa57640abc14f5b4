//! Shared helpers of the Antrea emulation tests: a cluster with a kube client on the
//! emulator's router, object builders and bounded polling (on tokio's paused clock, polling
//! costs no real time).

#![allow(dead_code)]

use std::time::Duration;

use antrea_emu::{AntreaEmu, AntreaOptions};
use antrea_types::ClusterNetworkPolicy;
use antrea_types::policy::NetworkPolicyStatus;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Client;
use kube::api::{Api, PostParams};
use kube_emu::KubeEmu;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// An emulator with Antrea installed, and a client on it.
pub async fn cluster(options: AntreaOptions) -> (KubeEmu, AntreaEmu, Client) {
    let emu = KubeEmu::new();
    let antrea = AntreaEmu::install(&emu, options)
        .await
        .expect("Antrea installs");
    let client = Client::new(emu.router(), "default");
    (emu, antrea, client)
}

/// Options with a realize delay of one second (tests run on paused time).
pub fn options(nodes: usize) -> AntreaOptions {
    AntreaOptions {
        nodes,
        realize_delay: Duration::from_secs(1),
        ..AntreaOptions::default()
    }
}

/// Deserializes a JSON literal into a typed object.
pub fn object<T: DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("a valid object")
}

pub fn pod(name: &str, labels: Value) -> Pod {
    object(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "main", "image": "nginx:1.27",
                                  "ports": [{"name": "http", "containerPort": 8080}]}]},
    }))
}

pub async fn create_namespace(client: &Client, name: &str, labels: Value) {
    let api: Api<Namespace> = Api::all(client.clone());
    api.create(
        &PostParams::default(),
        &object(json!({"metadata": {"name": name, "labels": labels}})),
    )
    .await
    .expect("namespace created");
}

/// Creates Pods in `namespace` and waits until each runs with an address.
pub async fn running_pods(client: &Client, namespace: &str, pods: &[(&str, Value)]) -> Vec<Pod> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    for (name, labels) in pods {
        api.create(&PostParams::default(), &pod(name, labels.clone()))
            .await
            .expect("pod created");
    }
    let mut running = Vec::new();
    for (name, _) in pods {
        let pod = eventually(|| {
            let api = api.clone();
            async move {
                let pod = api.get(name).await.ok()?;
                let status = pod.status.as_ref()?;
                (status.phase.as_deref() == Some("Running") && status.pod_ip.is_some())
                    .then_some(pod)
            }
        })
        .await;
        running.push(pod);
    }
    running
}

/// Polls `check` until it returns `Some` (at most 2,000 polls of 50 ms).
pub async fn eventually<T, F, Fut>(mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..2_000 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not reached");
}

/// The kube API error of a result.
pub fn api_error<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> kube::core::Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// The status of a ClusterNetworkPolicy once it satisfies `check`.
pub async fn acnp_status_where(
    client: &Client,
    name: &str,
    check: impl Fn(&NetworkPolicyStatus) -> bool,
) -> NetworkPolicyStatus {
    let api: Api<ClusterNetworkPolicy> = Api::all(client.clone());
    eventually(|| {
        let api = api.clone();
        let check = &check;
        async move {
            let status = api.get(name).await.ok()?.status?;
            check(&status).then_some(status)
        }
    })
    .await
}

/// `(phase, current, desired, observedGeneration)` of a status.
pub fn summary(status: &NetworkPolicyStatus) -> (String, i32, i32, i64) {
    (
        status
            .phase
            .as_ref()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        status.current_nodes_realized.unwrap_or(-1),
        status.desired_nodes_realized.unwrap_or(-1),
        status.observed_generation.unwrap_or(-1),
    )
}

/// One observed status: phase, current and desired nodes realized, observed generation.
type StatusSeen = (String, i32, i32, i64);

/// Records every distinct status a ClusterNetworkPolicy goes through, from a watch started
/// before the policy is created.
pub struct Transitions {
    seen: std::sync::Arc<parking_lot::Mutex<Vec<StatusSeen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Transitions {
    pub fn watch_acnp(client: &Client, name: &str) -> Self {
        use futures::StreamExt as _;
        let api: Api<ClusterNetworkPolicy> = Api::all(client.clone());
        let config =
            kube::runtime::watcher::Config::default().fields(&format!("metadata.name={name}"));
        let seen = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
        let record = seen.clone();
        let task = tokio::spawn(async move {
            use kube::runtime::WatchStreamExt as _;
            let events = kube::runtime::watcher(api, config).default_backoff();
            futures::pin_mut!(events);
            while let Some(event) = events.next().await {
                let policy = match event {
                    Ok(
                        kube::runtime::watcher::Event::Apply(policy)
                        | kube::runtime::watcher::Event::InitApply(policy),
                    ) => policy,
                    Ok(_) => continue,
                    Err(error) => {
                        eprintln!("watch error: {error}");
                        continue;
                    }
                };
                if let Some(status) = policy.status.as_ref() {
                    let entry = summary(status);
                    let mut seen = record.lock();
                    if seen.last() != Some(&entry) {
                        seen.push(entry);
                    }
                }
            }
        });
        Transitions { seen, task }
    }

    /// The statuses seen once the last one is `last`.
    pub async fn until(&self, last: (&str, i32, i32, i64)) -> Vec<StatusSeen> {
        let last = (last.0.to_string(), last.1, last.2, last.3);
        eventually(|| async {
            let seen = self.seen.lock().clone();
            (seen.last() == Some(&last)).then_some(seen)
        })
        .await
    }
}

impl Drop for Transitions {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Pins a Pod to a Node and waits until it runs.
pub async fn pinned_pod(
    client: &Client,
    namespace: &str,
    name: &str,
    node: &str,
    labels: Value,
) -> Pod {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut pod = pod(name, labels);
    pod.spec.as_mut().unwrap().node_name = Some(node.to_string());
    api.create(&PostParams::default(), &pod)
        .await
        .expect("pod created");
    eventually(|| {
        let api = api.clone();
        async move {
            let pod = api.get(name).await.ok()?;
            pod.status.as_ref()?.pod_ip.is_some().then_some(pod)
        }
    })
    .await
}
