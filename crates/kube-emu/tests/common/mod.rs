//! Shared helpers of the conformance tests: the cluster a test runs against (an in-process
//! emulator, or the real cluster named by `ANTREA_NSX_E2E_KUBECONFIG`) with a fresh namespace
//! of the test's own, object builders and bounded polling.

#![allow(dead_code)]

use std::time::Duration;

use e2e::{E2E_KUBECONFIG_ENV, TestCluster};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::Client;
use kube::api::{Api, DeleteParams, PostParams};
use kube_emu::KubeEmu;
use serde_json::json;

/// The cluster of one test, with a namespace created for it (`ns`) that is deleted again
/// when the test ends (on a real cluster; an in-process emulator simply goes away).
pub struct Harness {
    cluster: TestCluster,
    pub client: Client,
    pub ns: String,
}

impl Harness {
    /// Starts the cluster (see [`TestCluster::start`]) and creates the test's namespace.
    pub async fn start() -> Harness {
        let cluster = TestCluster::start().await.expect("test cluster");
        let client = cluster.client();
        let ns = unique_name("kube-emu-test");
        create_namespace(&client, &ns).await;
        Harness {
            cluster,
            client,
            ns,
        }
    }

    /// The emulator, when the test runs against one.
    pub fn emulator(&self) -> Option<&KubeEmu> {
        self.cluster.emulator()
    }

    /// The emulator for a step that needs the emulator-only `hook`; `None`, after printing
    /// that the test skips the rest, against a real cluster.
    pub fn emulator_or_skip(&self, hook: &str) -> Option<&KubeEmu> {
        self.cluster.emulator_or_skip(hook)
    }

    /// A typed API on the test's namespace.
    pub fn namespaced<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.ns)
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if self.cluster.emulator().is_some() {
            return;
        }
        // The test's runtime is blocked in this drop, so the namespace is deleted from a
        // thread of its own, with a client and runtime of its own.
        let ns = self.ns.clone();
        let deleted = std::thread::spawn(move || delete_namespace_on_real_cluster(&ns)).join();
        if !matches!(deleted, Ok(Ok(()))) {
            eprintln!(
                "could not delete the test namespace {}: {deleted:?}",
                self.ns
            );
        }
    }
}

fn delete_namespace_on_real_cluster(ns: &str) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let path = std::env::var_os(E2E_KUBECONFIG_ENV).expect("set for a real cluster");
        let kubeconfig = kube::config::Kubeconfig::read_from(path)?;
        let config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await?;
        let namespaces: Api<Namespace> = Api::all(Client::try_from(config)?);
        namespaces.delete(ns, &DeleteParams::default()).await?;
        Ok(())
    })
}

/// `prefix` with a random suffix, so that tests sharing a real cluster do not collide.
pub fn unique_name(prefix: &str) -> String {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &suffix[..10])
}

/// Antrea's real CRD manifests.
pub fn antrea_crds_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/antrea-crds/v2.7.0")
}

pub fn pod(name: &str, labels: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}
    }))
    .expect("valid pod")
}

pub fn config_map(name: &str, data: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": data
    }))
    .expect("valid configmap")
}

pub async fn create_namespace(client: &Client, name: &str) -> Namespace {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    api.create(&PostParams::default(), &ns)
        .await
        .expect("namespace created")
}

/// Polls `check` until it returns `Some`, up to ~5 s.
pub async fn eventually<T, F, Fut>(mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..500 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in time");
}

/// The next item of a stream, failing after 5 s.
pub async fn next<S: futures::Stream + Unpin>(stream: &mut S) -> S::Item {
    use futures::StreamExt as _;
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("stream produced an item in time")
        .expect("stream did not end")
}

/// The kube API error of a result.
pub fn api_error<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> kube::core::Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}
