//! Shared setup of the product end-to-end tests: the whole system as it is deployed. kube-emu
//! with the Antrea emulation (Antrea's real CRD manifests) holds the shipped `deploy/`
//! namespace and RBAC and is served over HTTP on loopback; the adapters run as
//! [`AdapterProcess`]es (what `antrea-nsx ccp-adapter` / `mp-adapter` run) from configuration
//! files written into a temporary folder, with a Kubernetes client that authenticates with a
//! token minted for the adapter ServiceAccount (so every call goes through the shipped
//! ClusterRoles); nsx-sim keeps its state in a data folder so that it can be stopped and
//! started again on the same ports; the cluster is registered with
//! `adapter_runtime::registration::register`, as the register Job does. The same approach
//! as `antrea-nsx sandbox` (crates/antrea-nsx/src/sandbox), reduced to what tests need.
//!
//! Also: a minimal HTTP GET for the adapters' API ports, a parser of the Prometheus text
//! format, bounded polling, and a small NSX policy set with a workload it selects.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use adapter_nsx::rest::{NsxRequest, NsxRestClient, RestAuth, RestConfig, RestTrust, RetryPolicy};
use adapter_runtime::config::{self, AdapterConfigSet};
use adapter_runtime::process::{AdapterProcess, AdapterProcessOptions, AdapterRole};
use adapter_runtime::registration::{self, NsxAccess, RegisterOptions};
use antrea_emu::{AntreaEmu, AntreaOptions};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, PostParams};
use kube_emu::{KubeEmu, UserInfo};
use nsx_sim::{NsxSim, RunningSim, SimConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The adapters' namespace (deploy/00-namespace.yaml).
pub const NAMESPACE: &str = "vmware-system-antrea";
/// The adapters' ServiceAccount (deploy/01-rbac.yaml).
pub const ACCOUNT: &str = "antrea-nsx-adapter";
/// The simulator's admin password.
pub const PASSWORD: &str = "Product!23Admin";
/// The NSX domain of the test policies.
pub const DOMAIN: &str = "/infra/domains/default";
/// The test policies (each applied to one group, with a rule from the other).
pub const POLICIES: [&str; 2] = ["allow-web", "drop-db"];
/// The test groups.
pub const GROUPS: [&str; 2] = ["web", "db"];

/// How many polls a wait makes at most, 50 ms apart (60 s).
const POLLS: usize = 1_200;

/// Polls `probe` until it returns `Some` (bounded); panics with `what` otherwise.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..POLLS {
        if let Some(value) = probe().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not reached in time");
}

fn repository_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

/// A file of `deploy/`.
pub fn deploy_file(name: &str) -> String {
    let path = repository_file(&format!("deploy/{name}"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A CRD standing in for Gateway API's `Gateway` (the MP adapter watches it when served).
fn gateway_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gateways.gateway.networking.k8s.io"},
        "spec": {
            "group": "gateway.networking.k8s.io",
            "scope": "Namespaced",
            "names": {"plural": "gateways", "singular": "gateway", "kind": "Gateway", "listKind": "GatewayList"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
            }]
        }
    })
}

/// What differs between the tests' setups.
#[derive(Debug, Clone, Default)]
pub struct ProductOptions {
    /// Lines appended to ccp-adapter.conf.
    pub ccp_conf: String,
    /// Lines appended to mp-adapter.conf (`InventoryBatchPeriod` is 1 unless given).
    pub mp_conf: String,
}

/// The emulated cluster served over HTTP, NSX simulated, the cluster registered and the
/// configuration written.
pub struct Product {
    pub dir: tempfile::TempDir,
    pub emu: KubeEmu,
    pub antrea: AntreaEmu,
    /// The cluster's admin (no token), as the person running the tests.
    pub admin_kube: kube::Client,
    /// The adapter ServiceAccount's client over HTTP (a minted token, RBAC applies).
    pub adapter_kube: kube::Client,
    pub adapter_user: UserInfo,
    /// The adapter ServiceAccount's kubeconfig (token included).
    pub adapter_kubeconfig: String,
    pub kube_url: String,
    kube_stop: CancellationToken,
    kube_server: JoinHandle<()>,
    /// The simulator, while it runs.
    pub sim: Option<RunningSim>,
    sim_data: PathBuf,
    sim_listen: SocketAddr,
    rpc_listen: SocketAddr,
    /// NSX as its admin.
    pub nsx: NsxRestClient,
    pub config_dir: PathBuf,
    pub config: AdapterConfigSet,
    /// The cluster control plane id (= `clusterName`).
    pub cluster_name: String,
    /// The inventory cluster id NSX assigned.
    pub cluster_id: String,
}

async fn start_sim(data: &Path, listen: SocketAddr, rpc: SocketAddr) -> RunningSim {
    let mut config = SimConfig::new(listen, PASSWORD).with_data_dir(data);
    config.rpc_listen = Some(rpc);
    NsxSim::start(config).await.expect("nsx-sim starts")
}

fn admin_client(sim: &RunningSim) -> NsxRestClient {
    let mut config = RestConfig::new(
        vec![sim.base_url().to_owned()],
        RestTrust::CaCertificates(sim.ca_cert_pem().as_bytes().to_vec()),
        RestAuth::Basic {
            username: "admin".into(),
            password: PASSWORD.into(),
        },
    );
    config.retry = RetryPolicy {
        max_retries: 3,
        min_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
        max_retry_after: Duration::from_secs(5),
    };
    NsxRestClient::new(config).expect("REST client")
}

/// A client of the Kubernetes API from a kubeconfig's text.
pub async fn client_from_kubeconfig(yaml: &str) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(yaml).expect("a kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("a client configuration");
    kube::Client::try_from(config).expect("a client")
}

impl Product {
    pub async fn start(options: ProductOptions) -> Product {
        e2e::init_test_env();
        let dir = tempfile::tempdir().unwrap();

        // The cluster: Antrea (real CRDs), the shipped namespace and RBAC, served on loopback.
        let emu = KubeEmu::new();
        let antrea = AntreaEmu::install(
            &emu,
            AntreaOptions {
                nodes: 2,
                realize_delay: Duration::from_millis(50),
                heartbeat_interval: Duration::from_secs(1),
                use_crd_manifests: Some(repository_file("../shared/antrea-crds/v2.7.0")),
                ..AntreaOptions::default()
            },
        )
        .await
        .expect("Antrea installs");
        emu.apply_crd(gateway_crd()).unwrap();
        emu.seed_yaml(&deploy_file("00-namespace.yaml")).unwrap();
        emu.seed_yaml(&deploy_file("01-rbac.yaml")).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let kube_url = format!("http://{}", listener.local_addr().unwrap());
        let kube_stop = CancellationToken::new();
        let kube_server = tokio::spawn({
            let emu = emu.clone();
            let stop = kube_stop.clone();
            async move {
                let _ = emu.serve(listener, stop).await;
            }
        });
        let admin_kube = client_from_kubeconfig(&emu.kubeconfig_yaml(&kube_url)).await;
        let token = emu.service_account_token(NAMESPACE, ACCOUNT).unwrap();
        let adapter_kubeconfig = emu.kubeconfig_yaml_for_token(&kube_url, &token);
        let adapter_kube = client_from_kubeconfig(&adapter_kubeconfig).await;

        // NSX, with its state in a folder so that it can restart on the same ports.
        let sim_data = dir.path().join("nsx-sim");
        let sim = start_sim(
            &sim_data,
            "127.0.0.1:0".parse().unwrap(),
            "127.0.0.1:0".parse().unwrap(),
        )
        .await;
        let sim_listen = sim.local_addr();
        let rpc_listen = sim.rpc_local_addr().unwrap();
        let nsx = admin_client(&sim);

        // The configuration as the Pod mounts it, then the register Job.
        let cluster_name = "product-e2e".to_owned();
        let config_dir = dir.path().join("config");
        std::fs::create_dir_all(config_dir.join("nsx-cert")).unwrap();
        std::fs::write(config_dir.join("nsx-ca.pem"), sim.ca_cert_pem()).unwrap();
        let files = [
            (
                config::BOOTSTRAP_FILE,
                format!(
                    "clusterName: {cluster_name}\nNSXManagers: [\"{sim_listen}\"]\nNSXChannelPort: {}\n",
                    rpc_listen.port()
                ),
            ),
            (
                config::MP_ADAPTER_FILE,
                format!(
                    "NSXCAFile: nsx-ca.pem\nNSXClientAuthCertFile: {}\nNSXClientAuthKeyFile: {}\n{}{}",
                    config_dir.join("nsx-cert/tls.crt").display(),
                    config_dir.join("nsx-cert/tls.key").display(),
                    if options.mp_conf.contains("InventoryBatchPeriod") {
                        ""
                    } else {
                        "InventoryBatchPeriod: 1\n"
                    },
                    options.mp_conf
                ),
            ),
            (
                config::CCP_ADAPTER_FILE,
                format!(
                    "IPFamilies: IPv4\nReconcilerQPS: 100\nRealizeTimeoutSeconds: 30\n{}",
                    options.ccp_conf
                ),
            ),
        ];
        for (name, text) in files {
            std::fs::write(config_dir.join(name), text).unwrap();
        }
        let config = config::load_dir(&config_dir).expect("the written configuration loads");
        let namespace_exists = Api::<Namespace>::all(admin_kube.clone())
            .get_opt(NAMESPACE)
            .await
            .unwrap()
            .is_some();
        assert!(namespace_exists, "deploy/00-namespace.yaml applied");
        let registered = registration::register(
            &admin_kube,
            &NsxAccess::from_config(&config, Some(("admin".to_owned(), PASSWORD.to_owned()))),
            &RegisterOptions::from_config(&config, NAMESPACE),
        )
        .await
        .expect("the cluster registers");
        let certificate = config::load_certificate_api(&admin_kube, NAMESPACE)
            .await
            .unwrap()
            .expect("Secret nsx-cert after registration");
        std::fs::write(
            config_dir.join("nsx-cert/tls.crt"),
            &certificate.certificate_pem,
        )
        .unwrap();
        std::fs::write(
            config_dir.join("nsx-cert/tls.key"),
            &certificate.private_key_pem,
        )
        .unwrap();
        Product {
            dir,
            emu,
            antrea,
            admin_kube,
            adapter_kube,
            adapter_user: UserInfo::service_account(NAMESPACE, ACCOUNT),
            adapter_kubeconfig,
            kube_url,
            kube_stop,
            kube_server,
            sim: Some(sim),
            sim_data,
            sim_listen,
            rpc_listen,
            nsx,
            config_dir,
            config,
            cluster_name: registered.cluster_name,
            cluster_id: registered.cluster_id,
        }
    }

    /// The cluster control plane's policy path.
    pub fn cluster_path(&self) -> String {
        format!(
            "/infra/sites/default/enforcement-points/default/cluster-control-planes/{}",
            self.cluster_name
        )
    }

    /// The process options of `role` (API port on an ephemeral loopback port).
    pub fn process_options(
        &self,
        role: AdapterRole,
        leader_election: bool,
        ccp_status_url: Option<String>,
    ) -> AdapterProcessOptions {
        AdapterProcessOptions {
            role,
            namespace: NAMESPACE.to_owned(),
            api_listen: "127.0.0.1:0".parse().unwrap(),
            leader_election,
            cluster_id: self.cluster_id.clone(),
            ccp_status_url,
        }
    }

    /// Starts an adapter process under the adapter ServiceAccount.
    pub async fn start_process(
        &self,
        role: AdapterRole,
        leader_election: bool,
        ccp_status_url: Option<String>,
    ) -> AdapterProcess {
        AdapterProcess::start(
            self.process_options(role, leader_election, ccp_status_url),
            self.config.clone(),
            self.adapter_kube.clone(),
        )
        .await
        .expect("the adapter process starts")
    }

    /// Starts the CCP adapter, then the MP adapter reading the CCP adapter's `/status`.
    pub async fn start_both(&self, leader_election: bool) -> (AdapterProcess, AdapterProcess) {
        let ccp = self
            .start_process(AdapterRole::Ccp, leader_election, None)
            .await;
        let mp = self
            .start_process(
                AdapterRole::Mp,
                leader_election,
                Some(format!("http://{}/status", ccp.api_addr())),
            )
            .await;
        (ccp, mp)
    }

    /// Stops NSX (REST and the adapter channel); its state stays in the data folder.
    pub async fn stop_nsx(&mut self) {
        if let Some(sim) = self.sim.take() {
            sim.shutdown().await.expect("nsx-sim stops");
        }
    }

    /// Starts NSX again on the same ports from the same data folder.
    pub async fn restart_nsx(&mut self) {
        assert!(self.sim.is_none(), "NSX is running");
        let mut last = None;
        // The ports were released a moment ago; retry a bind refused meanwhile.
        for _ in 0..100 {
            let mut config =
                SimConfig::new(self.sim_listen, PASSWORD).with_data_dir(&self.sim_data);
            config.rpc_listen = Some(self.rpc_listen);
            match NsxSim::start(config).await {
                Ok(sim) => {
                    self.sim = Some(sim);
                    return;
                }
                Err(error) => last = Some(error),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("nsx-sim does not start again: {last:?}");
    }

    pub async fn shutdown(mut self) {
        self.stop_nsx().await;
        self.antrea.shutdown();
        self.kube_stop.cancel();
        let _ = (&mut self.kube_server).await;
    }

    // ---- the workload and the NSX policies ----------------------------------------------

    /// Namespace `shop` with Pods `web-1`, `web-2` (app=web) and `db-1` (app=db), running.
    pub async fn workload(&self) {
        let namespaces: Api<Namespace> = Api::all(self.admin_kube.clone());
        namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "shop"}})).unwrap(),
            )
            .await
            .unwrap();
        let pods: Api<Pod> = Api::namespaced(self.admin_kube.clone(), "shop");
        for (name, app) in [("web-1", "web"), ("web-2", "web"), ("db-1", "db")] {
            pods.create(
                &PostParams::default(),
                &serde_json::from_value(json!({
                    "metadata": {"name": name, "labels": {"app": app}},
                    "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}
                }))
                .unwrap(),
            )
            .await
            .unwrap();
        }
        for name in ["web-1", "web-2", "db-1"] {
            eventually(&format!("Pod {name} running"), || async {
                let pod = pods.get(name).await.ok()?;
                let status = pod.status?;
                (status.phase.as_deref() == Some("Running") && status.pod_ip.is_some())
                    .then_some(())
            })
            .await;
        }
    }

    /// `PATCH` a policy API path as the admin.
    pub async fn patch(&self, path: &str, body: Value) {
        self.nsx
            .execute(
                NsxRequest::new(http::Method::PATCH, format!("/policy/api/v1{path}"))
                    .json(&body)
                    .unwrap(),
            )
            .await
            .unwrap_or_else(|error| panic!("PATCH {path}: {error}"));
    }

    /// Groups `web` and `db` (Pods by tag `app`), service `tcp-80`, and the two policies
    /// (allow web → web:80, drop web → db), spanned to the cluster.
    pub async fn policies(&self) {
        for group in GROUPS {
            self.patch(
                &group_path(group),
                json!({"resource_type": "Group", "group_type": ["ANTREA"], "display_name": group,
                       "expression": [{"resource_type": "Condition", "member_type": "Pod", "key": "Tag",
                                       "operator": "EQUALS", "value": format!("app|{group}")}]}),
            )
            .await;
        }
        self.patch(
            "/infra/services/tcp-80",
            json!({"resource_type": "Service", "display_name": "tcp 80",
                   "service_entries": [{"resource_type": "L4PortSetServiceEntry", "id": "tcp",
                                        "l4_protocol": "TCP", "destination_ports": ["80"]}]}),
        )
        .await;
        for (sequence, (policy, (applied_to, action))) in POLICIES
            .iter()
            .zip([("web", "ALLOW"), ("db", "DROP")])
            .enumerate()
        {
            self.patch(
                &policy_path(policy),
                json!({"resource_type": "SecurityPolicy", "display_name": policy,
                       "category": "Application", "sequence_number": sequence + 1,
                       "scope": [group_path(applied_to)],
                       "rules": [{"resource_type": "Rule", "id": "r1", "display_name": "r1",
                                  "sequence_number": 1, "source_groups": [group_path("web")],
                                  "destination_groups": ["ANY"], "direction": "IN", "scope": ["ANY"],
                                  "services": ["/infra/services/tcp-80"], "action": action}]}),
            )
            .await;
            self.span(policy).await;
        }
    }

    /// Spans policy `id` to the cluster.
    pub async fn span(&self, id: &str) {
        self.patch(
            &format!(
                "{}/container-cluster-span/{}",
                policy_path(id),
                self.cluster_name
            ),
            json!({"resource_type": "SecurityPolicyContainerCluster",
                   "container_cluster_path": self.cluster_path()}),
        )
        .await;
    }

    /// NSX's consolidated realization state of `path` (`SUCCESS`, `IN_PROGRESS`, ...).
    pub async fn realization(&self, path: &str) -> String {
        let body: Value = self
            .nsx
            .get_json(&format!(
                "/policy/api/v1/infra/realized-state/status?intent_path={path}"
            ))
            .await
            .unwrap_or_else(|error| panic!("realized state of {path}: {error}"));
        body["consolidated_status"]["consolidated_status"]
            .as_str()
            .unwrap_or("UNKNOWN")
            .to_owned()
    }

    /// The test policies' and groups' paths.
    pub fn nsx_objects() -> Vec<String> {
        POLICIES
            .iter()
            .map(|p| policy_path(p))
            .chain(GROUPS.iter().map(|g| group_path(g)))
            .collect()
    }

    /// Waits until NSX shows every test policy and group realized (SUCCESS).
    pub async fn wait_realized(&self) {
        for path in Self::nsx_objects() {
            eventually(&format!("{path} SUCCESS in NSX"), || async {
                (self.realization(&path).await == "SUCCESS").then_some(())
            })
            .await;
        }
    }

    /// The inventory records of one kind NSX holds for the cluster (`container-projects`,
    /// `container-application-instances`, ...).
    pub async fn inventory(&self, collection: &str) -> Vec<Value> {
        let body: Value = self
            .nsx
            .get_json(&format!(
                "/api/v1/fabric/{collection}?container_cluster_id={}",
                self.cluster_id
            ))
            .await
            .unwrap_or_else(|error| panic!("listing {collection}: {error}"));
        body["results"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until NSX's inventory holds the workload's Pods and namespace.
    pub async fn wait_inventory(&self) {
        eventually("the workload in NSX's inventory", || async {
            let pods = self.inventory("container-application-instances").await;
            let projects = self.inventory("container-projects").await;
            let names: Vec<&str> = pods
                .iter()
                .filter_map(|p| p["display_name"].as_str())
                .collect();
            let has_pods = ["web-1", "web-2", "db-1"]
                .iter()
                .all(|name| names.contains(name));
            let has_namespace = projects.iter().any(|p| p["display_name"] == "shop");
            (has_pods && has_namespace).then_some(())
        })
        .await;
    }

    /// The CCP adapter's writes (server-side applies with its field manager, deletes) to the
    /// Antrea policy objects, from the request log of the Kubernetes API. (The Antrea
    /// emulation creates Antrea's own Tiers with plain POSTs.)
    pub fn policy_writes(&self) -> Vec<String> {
        self.emu
            .requests()
            .into_iter()
            .filter(|r| {
                r.method == "DELETE"
                    || (r.method == "PATCH"
                        && r.field_manager.as_deref() == Some("antrea-nsx-ccp-adapter"))
            })
            .filter(|r| r.path.contains("/apis/crd.antrea.io/"))
            .filter(|r| {
                ["tiers", "clustergroups", "clusternetworkpolicies"]
                    .iter()
                    .any(|kind| r.path.contains(&format!("/{kind}")))
            })
            .filter(|r| !r.path.contains("/status"))
            .map(|r| format!("{} {} -> {}", r.method, r.path, r.status))
            .collect()
    }

    /// Requests of the adapter ServiceAccount that RBAC refused.
    pub fn refused(&self) -> Vec<String> {
        self.emu
            .authorizations()
            .into_iter()
            .filter(|(record, _)| record.user == self.adapter_user.name && !record.allowed)
            .map(|(record, _)| format!("{:?}: {}", record.attributes, record.reason))
            .collect()
    }
}

pub fn group_path(id: &str) -> String {
    format!("{DOMAIN}/groups/{id}")
}

pub fn policy_path(id: &str) -> String {
    format!("{DOMAIN}/security-policies/{id}")
}

// ---- the API port ---------------------------------------------------------------------------

/// A response of the API port.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// `GET path` over a fresh HTTP/1.1 connection (the answer is read to the end).
pub async fn http_get(addr: SocketAddr, path: &str) -> HttpAnswer {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let header = |name: &str| {
        head.lines()
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let body = if header("transfer-encoding").eq_ignore_ascii_case("chunked") {
        dechunk(body)
    } else {
        body.to_owned()
    };
    HttpAnswer {
        status,
        content_type: header("content-type"),
        body,
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        body.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    body
}

/// `/readyz`'s status code.
pub async fn readyz(process: &AdapterProcess) -> u16 {
    http_get(process.api_addr(), "/readyz").await.status
}

/// Waits until `/readyz` answers `code`; returns the body.
pub async fn wait_readyz(process: &AdapterProcess, code: u16, what: &str) -> String {
    eventually(what, || async {
        let answer = http_get(process.api_addr(), "/readyz").await;
        (answer.status == code).then_some(answer.body)
    })
    .await
}

/// A scrape of `/metrics`: the declared type of each family and every sample's value.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    /// Family name → `gauge`, `counter`, ...
    pub types: BTreeMap<String, String>,
    /// Sample (`name` or `name{labels}`, as written) → value.
    pub samples: BTreeMap<String, f64>,
    pub text: String,
}

impl Scrape {
    pub fn parse(text: &str) -> Scrape {
        let mut scrape = Scrape {
            text: text.to_owned(),
            ..Scrape::default()
        };
        for line in text.lines() {
            if let Some(declaration) = line.strip_prefix("# TYPE ") {
                if let Some((name, kind)) = declaration.split_once(' ') {
                    scrape.types.insert(name.to_owned(), kind.to_owned());
                }
            } else if !line.starts_with('#')
                && let Some((sample, value)) = line.rsplit_once(' ')
                && let Ok(value) = value.parse::<f64>()
            {
                scrape.samples.insert(sample.to_owned(), value);
            }
        }
        scrape
    }

    /// The value of `sample` (exactly as written, labels included).
    pub fn value(&self, sample: &str) -> f64 {
        *self
            .samples
            .get(sample)
            .unwrap_or_else(|| panic!("no sample {sample} in\n{}", self.text))
    }

    /// The family's declared type.
    pub fn kind(&self, family: &str) -> &str {
        self.types
            .get(family)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no family {family} in\n{}", self.text))
    }
}

/// Scrapes `/metrics` of `process`.
pub async fn scrape(process: &AdapterProcess) -> Scrape {
    scrape_at(process.api_addr()).await
}

/// Scrapes `/metrics` on the API port at `addr`.
pub async fn scrape_at(addr: SocketAddr) -> Scrape {
    let answer = http_get(addr, "/metrics").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    Scrape::parse(&answer.body)
}

/// `/status` of `process`.
pub async fn status(process: &AdapterProcess) -> Value {
    status_at(process.api_addr()).await
}

/// `/status` on the API port at `addr`.
pub async fn status_at(addr: SocketAddr) -> Value {
    let answer = http_get(addr, "/status").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    serde_json::from_str(&answer.body).unwrap_or_else(|e| panic!("{e}: {}", answer.body))
}
