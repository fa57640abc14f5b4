//! Shared setup of the MP adapter's end-to-end tests: nsx-sim (REST and the adapter channel,
//! in-process, 127.0.0.1, ephemeral ports) with the cluster registered as the register job
//! does; kube-emu with the Antrea emulation; a TCP relay in front of NSX's REST API that a
//! test can cut (NSX outages); a stand-in for the CCP adapter's `/status`; and the MP adapter
//! started in-process with short periods.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use adapter_nsx::channel::{ChannelConfig, ReconnectPolicy};
use adapter_nsx::rest::api::PrincipalIdentityWithCertificate;
use adapter_nsx::rest::{NsxRestClient, RestAuth, RestConfig, RestTrust, RetryPolicy};
use adapter_runtime::mp::{MpAdapter, MpAdapterOptions, MpStatus};
use antrea_emu::{AntreaEmu, AntreaOptions};
use kube_emu::KubeEmu;
use nsx_model::inventory::{ContainerObject, ResourceType};
use nsx_proto::tls::{ClientTls, ServerTrust};
use nsx_sim::channel::ChannelOptions;
use nsx_sim::{NsxSim, RunningSim, SimConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// The simulator's admin password.
pub const PASSWORD: &str = "Admin!23Admin";
/// The cluster control plane id (= certificate CN).
pub const CLUSTER: &str = "mp-e2e";

/// How many 50 ms polls a wait takes at most (60 s).
const POLLS: usize = 1_200;

/// Polls `check` until it returns `Some` (bounded); panics with `what` otherwise.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..POLLS {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not reached in time");
}

/// A registered cluster.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub id: String,
    pub node_id: String,
    pub cert: String,
    pub key: String,
}

fn certificate(cn: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A REST client of NSX through `managers`, trusting the simulator's CA.
pub fn rest_config(sim: &RunningSim, managers: Vec<String>, auth: RestAuth) -> RestConfig {
    let mut config = RestConfig::new(
        managers,
        RestTrust::CaCertificates(sim.ca_cert_pem().as_bytes().to_vec()),
        auth,
    );
    config.retry = RetryPolicy {
        max_retries: 1,
        min_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
    };
    config.request_timeout = Duration::from_secs(20);
    config.connect_timeout = Duration::from_secs(2);
    config
}

/// The admin's REST client.
pub fn admin(sim: &RunningSim) -> NsxRestClient {
    NsxRestClient::new(rest_config(
        sim,
        vec![sim.base_url().to_owned()],
        RestAuth::Basic {
            username: "admin".into(),
            password: PASSWORD.into(),
        },
    ))
    .unwrap()
}

/// A TCP relay to NSX's REST port that can be cut: while down it closes every connection
/// (open ones included), so requests fail as when NSX is unreachable.
pub struct Relay {
    pub address: SocketAddr,
    up: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    pub async fn start(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let (cut, cuts) = watch::channel(0u64);
        let task = tokio::spawn({
            let up = up.clone();
            async move {
                let mut connections = JoinSet::new();
                loop {
                    let Ok((mut inbound, _)) = listener.accept().await else {
                        return;
                    };
                    if !up.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let mut cuts = cuts.clone();
                    cuts.mark_unchanged();
                    connections.spawn(async move {
                        let Ok(mut outbound) = TcpStream::connect(target).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = cuts.changed() => {}
                        }
                    });
                    while connections.try_join_next().is_some() {}
                }
            }
        });
        Relay {
            address,
            up,
            cut,
            task,
        }
    }

    /// NSX becomes unreachable through the relay.
    pub fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    /// NSX is reachable again.
    pub fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    /// The relay's URL.
    pub fn url(&self) -> String {
        format!("https://{}", self.address)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A stand-in for the CCP adapter's `GET /status`, serving whatever JSON is set.
pub struct CcpStatus {
    pub url: String,
    document: watch::Sender<Value>,
    task: tokio::task::JoinHandle<()>,
}

impl CcpStatus {
    pub async fn start(document: Value) -> CcpStatus {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/status", listener.local_addr().unwrap());
        let (document, current) = watch::channel(document);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let body = current.borrow().to_string();
                tokio::spawn(async move {
                    let mut request = vec![0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        CcpStatus {
            url,
            document,
            task,
        }
    }

    /// A healthy CCP adapter's document.
    pub fn healthy() -> Value {
        json!({"connected": true, "synced": true, "epoch": "e1", "applied_generation": 1,
               "owned_objects": 0, "realization": {"in_progress": 0, "success": 0, "error": 0},
               "last_error": null})
    }

    pub fn set(&self, document: Value) {
        self.document.send_replace(document);
    }
}

impl Drop for CcpStatus {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The whole setup.
pub struct Env {
    pub sim: RunningSim,
    pub cluster: Cluster,
    pub relay: Relay,
    pub kube: KubeEmu,
    pub antrea: AntreaEmu,
    pub client: kube::Client,
    pub ccp: CcpStatus,
    pub admin: NsxRestClient,
}

/// Simulator channel options: short deadlines, UNKNOWN after 3 × 60 × 10 ms = 1.8 s.
fn sim_options() -> ChannelOptions {
    let mut options = ChannelOptions::default();
    options.heartbeat_second = Duration::from_millis(10);
    options.request_timeout = Duration::from_secs(30);
    options.support_bundle_timeout = Duration::from_secs(60);
    options.late_response_grace = Duration::from_millis(500);
    options
}

/// Antrea emulation options for these tests: 3 Nodes, heartbeats every 300 ms.
pub fn antrea_options() -> AntreaOptions {
    AntreaOptions {
        nodes: 3,
        realize_delay: Duration::from_millis(20),
        heartbeat_interval: Duration::from_millis(300),
        ..AntreaOptions::default()
    }
}

impl Env {
    pub async fn start() -> Env {
        Env::start_with(antrea_options()).await
    }

    pub async fn start_with(antrea_options: AntreaOptions) -> Env {
        e2e::init_test_env();
        let mut config = SimConfig::new("127.0.0.1:0".parse().unwrap(), PASSWORD);
        config.rpc_listen = Some("127.0.0.1:0".parse().unwrap());
        config.channel = sim_options();
        let sim = NsxSim::start(config).await.unwrap();
        let admin = admin(&sim);
        let (cert, key) = certificate(CLUSTER);
        admin
            .create_principal_identity(&PrincipalIdentityWithCertificate::for_cluster(
                CLUSTER, &cert,
            ))
            .await
            .unwrap();
        let ccp = admin
            .put_cluster_control_plane(
                CLUSTER,
                &json!({"resource_type": "ClusterControlPlane", "certificate": cert}),
            )
            .await
            .unwrap();
        let cluster = Cluster {
            id: CLUSTER.into(),
            node_id: ccp["node_id"].as_str().unwrap().to_owned(),
            cert,
            key,
        };
        let relay = Relay::start(sim.local_addr()).await;
        let kube = KubeEmu::new();
        let antrea = AntreaEmu::install(&kube, antrea_options).await.unwrap();
        let client = kube::Client::new(kube.router(), "default");
        let ccp = CcpStatus::start(CcpStatus::healthy()).await;
        Env {
            sim,
            cluster,
            relay,
            kube,
            antrea,
            client,
            ccp,
            admin,
        }
    }

    /// The MP adapter's options: REST through the relay with the cluster's certificate,
    /// the channel with it too, short periods.
    pub fn options(&self) -> MpAdapterOptions {
        let auth = RestAuth::ClientCertificate {
            certificate_chain_pem: self.cluster.cert.clone().into_bytes(),
            private_key_pem: self.cluster.key.clone().into_bytes(),
        };
        let nsx = rest_config(&self.sim, vec![self.relay.url()], auth);
        let tls = ClientTls::new(
            self.cluster.cert.as_bytes(),
            self.cluster.key.as_bytes(),
            ServerTrust::CaCertificates(self.sim.ca_cert_pem().as_bytes().to_vec()),
        )
        .unwrap();
        let endpoint = format!("https://{}", self.sim.rpc_local_addr().unwrap());
        let mut channel = ChannelConfig::new(vec![endpoint], self.cluster.id.clone(), tls);
        channel.adapter_instance = "mp-e2e-0".into();
        channel.reconnect = ReconnectPolicy {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(400),
            jitter_percent: 20,
            reset_after: Duration::from_secs(60),
        };
        let mut options = MpAdapterOptions::new(self.cluster.node_id.clone(), nsx, channel);
        options.inventory_batch_size = 20;
        options.inventory_batch_period = Duration::from_millis(100);
        options.inventory_gc_period = Duration::from_secs(3600);
        options.retry_min_delay = Duration::from_millis(20);
        options.retry_max_delay = Duration::from_millis(200);
        options.ccp_status_url = self.ccp.url.clone();
        options.health_policy.stale_after = Duration::from_secs(2);
        options.health_check_interval = Duration::from_millis(100);
        options.watches.crd_recheck_interval = Duration::from_millis(200);
        options.traceflow.poll = Duration::from_millis(50);
        options.bundles.poll = Duration::from_millis(50);
        // The emulated agents answer through the emulator's API path.
        options.bundles.agents = adapter_k8s::antrea::bundle::AgentAccess::ApiServerPath;
        options.shutdown_flush_timeout = Duration::from_secs(10);
        options
    }

    /// Starts an MP adapter and waits until its initial sync is done.
    pub async fn adapter(&self, options: MpAdapterOptions) -> MpAdapter {
        let adapter = MpAdapter::start(options, self.client.clone())
            .await
            .expect("the MP adapter starts");
        wait_status(&adapter, "initial sync", |s| s.initial_sync_done).await;
        adapter
    }

    /// Every record NSX holds for the cluster, of one type.
    pub async fn nsx(&self, resource_type: ResourceType) -> Vec<ContainerObject> {
        self.admin
            .list_inventory(resource_type, &self.cluster.node_id)
            .await
            .unwrap()
    }

    /// The record NSX holds of type `resource_type` for `external_id`.
    pub async fn nsx_record(
        &self,
        resource_type: ResourceType,
        external_id: &str,
    ) -> Option<Value> {
        self.nsx(resource_type)
            .await
            .into_iter()
            .find(|r| r.external_id() == external_id)
            .map(|r| Value::Object(r.to_json()))
    }

    /// Waits until NSX's record `external_id` satisfies `accept` (`None`: absent).
    pub async fn nsx_until(
        &self,
        what: &str,
        resource_type: ResourceType,
        external_id: &str,
        accept: impl Fn(Option<&Value>) -> bool,
    ) -> Option<Value> {
        eventually(what, || async {
            let record = self.nsx_record(resource_type, external_id).await;
            accept(record.as_ref()).then_some(record)
        })
        .await
    }

    /// The cluster's `AntreaClusterInfo` as NSX serves it.
    pub async fn cluster_status(&self) -> Value {
        self.admin
            .get_json(&format!(
                "/policy/api/v1/infra/sites/default/enforcement-points/default/cluster-control-planes/{}/status",
                self.cluster.id
            ))
            .await
            .unwrap()
    }
}

/// Waits until the adapter's status satisfies `accept`.
pub async fn wait_status(
    adapter: &MpAdapter,
    what: &str,
    accept: impl Fn(&MpStatus) -> bool,
) -> MpStatus {
    let mut status = adapter.status();
    let waited =
        tokio::time::timeout(Duration::from_secs(60), status.wait_for(|s| accept(s))).await;
    match waited {
        Ok(Ok(status)) => status.clone(),
        Ok(Err(_)) => panic!("{what}: the adapter's status is gone"),
        Err(_) => panic!(
            "{what}: not reached in time; last: {:?}",
            *adapter.status().borrow()
        ),
    }
}

/// A string field of a record.
pub fn text<'a>(record: &'a Value, field: &str) -> &'a str {
    record[field].as_str().unwrap_or_default()
}

/// The `dis:k8s:` tags of a record as `key=value`, sorted.
pub fn label_tags(record: &Value) -> Vec<String> {
    let mut tags: Vec<String> = record["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let scope = t["scope"].as_str()?.strip_prefix("dis:k8s:")?;
            Some(format!("{scope}={}", t["tag"].as_str().unwrap_or_default()))
        })
        .collect();
    tags.sort();
    tags
}

/// Deserializes a JSON literal.
pub fn object<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("a valid object")
}

/// A plain-HTTP relay in front of NSX's REST API that rewrites inventory updates: while a
/// name is poisoned, every CREATE or UPDATE of a record with that `display_name` gets a
/// `display_name` longer than NSX accepts, so NSX refuses its whole batch (400), as it
/// would a record it cannot take. Requests go on to NSX as the admin; answers come back
/// with their status and NSX's `ApiError`.
pub struct RewritingRelay {
    pub url: String,
    poisoned: Arc<std::sync::Mutex<Option<String>>>,
    task: tokio::task::JoinHandle<()>,
}

/// Reads one HTTP/1.1 request: method, path with query, body.
async fn read_request(socket: &mut TcpStream) -> Option<(String, String, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let mut lines = head.lines();
    let mut first = lines.next()?.split_whitespace();
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let length: usize = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((method, path, body))
}

impl RewritingRelay {
    pub async fn start(admin: NsxRestClient) -> RewritingRelay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let poisoned: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
        let task = tokio::spawn({
            let poisoned = poisoned.clone();
            async move {
                loop {
                    let Ok((mut socket, _)) = listener.accept().await else {
                        return;
                    };
                    let admin = admin.clone();
                    let poisoned = poisoned.clone();
                    tokio::spawn(async move {
                        let Some((method, path, body)) = read_request(&mut socket).await else {
                            return;
                        };
                        let poison = poisoned.lock().unwrap().clone();
                        let (status, answer) =
                            forward(&admin, &method, &path, body, poison.as_deref()).await;
                        let reply = format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            answer.len()
                        );
                        let _ = socket.write_all(reply.as_bytes()).await;
                        let _ = socket.write_all(&answer).await;
                        let _ = socket.shutdown().await;
                    });
                }
            }
        });
        RewritingRelay {
            url,
            poisoned,
            task,
        }
    }

    /// Records named `name` are made unacceptable from now on (`None`: none).
    pub fn poison(&self, name: Option<&str>) {
        *self.poisoned.lock().unwrap() = name.map(str::to_owned);
    }
}

/// Sends one request on to NSX, rewriting poisoned inventory records.
async fn forward(
    admin: &NsxRestClient,
    method: &str,
    path: &str,
    body: Vec<u8>,
    poison: Option<&str>,
) -> (u16, Vec<u8>) {
    let method = http::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = adapter_nsx::rest::NsxRequest::new(method, path).allow_overwrite();
    if !body.is_empty() {
        let mut json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if let (Some(poison), Some(objects)) = (
            poison,
            json.get_mut("container_inventory_objects")
                .and_then(Value::as_array_mut),
        ) {
            for entry in objects {
                if entry["object_update_type"] != "DELETE"
                    && entry["container_object"]["display_name"] == poison
                {
                    entry["container_object"]["display_name"] = json!("x".repeat(300));
                }
            }
        }
        request = request.json(&json).unwrap();
    }
    match admin.execute(request).await {
        Ok(reply) => (reply.status.as_u16(), reply.body.to_vec()),
        Err(adapter_nsx::rest::RestError::Api { status, error, .. }) => {
            let api = error.map(|e| {
                json!({"httpStatus": e.http_status, "error_code": e.error_code,
                       "module_name": e.module_name, "error_message": e.error_message,
                       "details": e.details})
            });
            (
                status.as_u16(),
                serde_json::to_vec(&api.unwrap_or(json!({}))).unwrap(),
            )
        }
        Err(error) => (
            502,
            serde_json::to_vec(&json!({"error_message": error.to_string()})).unwrap(),
        ),
    }
}

impl Drop for RewritingRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Env {
    /// Options whose NSX REST API is reached through `relay` (as the admin).
    pub fn options_through(&self, relay: &RewritingRelay) -> MpAdapterOptions {
        let mut options = self.options();
        options.nsx = rest_config(
            &self.sim,
            vec![relay.url.clone()],
            RestAuth::Basic {
                username: "admin".into(),
                password: PASSWORD.into(),
            },
        );
        options
    }
}
