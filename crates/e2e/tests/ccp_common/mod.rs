//! Shared setup of the CCP adapter's end-to-end tests: the NSX simulator in-process (REST and
//! the adapter channel on 127.0.0.1, ephemeral ports) with clusters registered as the
//! register job does it (principal identity with an rcgen certificate, then the cluster
//! control plane), the Kubernetes API emulator with the Antrea emulation, the adapter under
//! test, NSX edits through the REST API as an admin makes them, and bounded polling.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use adapter_core::ccp::naming::{CLUSTER_ID_LABEL, NSX_PATH_ANNOTATION};
use adapter_nsx::channel::{ChannelConfig, ReconnectPolicy};
use adapter_nsx::rest::api::PrincipalIdentityWithCertificate;
use adapter_nsx::rest::{NsxRequest, NsxRestClient, RestAuth, RestConfig, RestTrust, RetryPolicy};
use adapter_runtime::ccp::{CcpAdapter, CcpAdapterOptions, CcpStatus};
use antrea_emu::{AntreaEmu, AntreaOptions};
use antrea_types::{ClusterGroup, ClusterNetworkPolicy, Tier};
use kube::Api;
use kube::api::ListParams;
use kube_emu::KubeEmu;
use nsx_proto::tls::{ClientTls, ServerTrust};
use nsx_sim::{NsxSim, RunningSim, SimConfig};
use serde_json::{Value, json};

/// The simulator's admin password.
pub const PASSWORD: &str = "Admin!23Admin";
/// The default domain.
pub const DOMAIN: &str = "/infra/domains/default";
/// How long any wait may take before the test fails.
pub const WAIT_LIMIT: Duration = Duration::from_secs(60);

/// A registered cluster: its id and principal-identity certificate.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub id: String,
    pub cert: String,
    pub key: String,
}

impl Cluster {
    /// Its `ClusterControlPlane` path.
    pub fn path(&self) -> String {
        format!(
            "/infra/sites/default/enforcement-points/default/cluster-control-planes/{}",
            self.id
        )
    }
}

/// NSX (simulated), one registered cluster, and a Kubernetes API with Antrea.
pub struct Env {
    pub sim: RunningSim,
    pub admin: NsxRestClient,
    pub cluster: Cluster,
    pub emu: KubeEmu,
    pub antrea: AntreaEmu,
    pub client: kube::Client,
}

/// Starts the simulator, registers cluster `cluster_id`, and starts an emulated cluster
/// with Antrea (2 Nodes, 50 ms realization).
pub async fn env(cluster_id: &str) -> Env {
    e2e::init_test_env();
    let sim = start_sim().await;
    let admin = admin(&sim);
    let cluster = register(&sim, &admin, cluster_id).await;
    let emu = KubeEmu::new();
    let antrea = AntreaEmu::install(
        &emu,
        AntreaOptions {
            nodes: 2,
            realize_delay: Duration::from_millis(50),
            ..AntreaOptions::default()
        },
    )
    .await
    .expect("Antrea installs");
    let client = kube::Client::new(emu.router(), "default");
    Env {
        sim,
        admin,
        cluster,
        emu,
        antrea,
        client,
    }
}

/// A simulator serving REST and the adapter channel, in memory.
pub async fn start_sim() -> RunningSim {
    let mut config = SimConfig::new("127.0.0.1:0".parse().unwrap(), PASSWORD);
    config.rpc_listen = Some("127.0.0.1:0".parse().unwrap());
    NsxSim::start(config).await.expect("nsx-sim starts")
}

/// The admin's REST client (basic auth), with fast retries.
pub fn admin(sim: &RunningSim) -> NsxRestClient {
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
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
    };
    NsxRestClient::new(config).expect("REST client")
}

/// Registers cluster `id` as the register job does.
pub async fn register(sim: &RunningSim, admin: &NsxRestClient, id: &str) -> Cluster {
    let _ = sim;
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, id);
    let cert = params.self_signed(&key).unwrap().pem();
    admin
        .create_principal_identity(&PrincipalIdentityWithCertificate::for_cluster(id, &cert))
        .await
        .expect("principal identity");
    admin
        .put_cluster_control_plane(
            id,
            &json!({"resource_type": "ClusterControlPlane", "certificate": cert}),
        )
        .await
        .expect("cluster control plane");
    Cluster {
        id: id.to_owned(),
        cert,
        key: key.serialize_pem(),
    }
}

/// The channel configuration of `cluster` (quick reconnects).
pub fn channel_config(sim: &RunningSim, cluster: &Cluster) -> ChannelConfig {
    let tls = ClientTls::new(
        cluster.cert.as_bytes(),
        cluster.key.as_bytes(),
        ServerTrust::CaCertificates(sim.ca_cert_pem().as_bytes().to_vec()),
    )
    .unwrap();
    let endpoint = format!("https://{}", sim.rpc_local_addr().unwrap());
    let mut config = ChannelConfig::new(vec![endpoint], cluster.id.clone(), tls);
    config.adapter_instance = "e2e".into();
    config.reconnect = ReconnectPolicy {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(400),
        jitter_percent: 20,
        reset_after: Duration::from_secs(60),
    };
    config
}

/// Adapter options for tests: short debounce and retry delay, a 20 s realization timeout.
pub fn options(env: &Env, cluster: &Cluster) -> CcpAdapterOptions {
    let mut options = CcpAdapterOptions::new(channel_config(&env.sim, cluster));
    options.debounce = Duration::from_millis(20);
    options.retry_delay = Duration::from_millis(100);
    options.realize_timeout = Duration::from_secs(20);
    options
}

/// Starts the adapter for the env's cluster.
pub async fn start_adapter(env: &Env) -> CcpAdapter {
    CcpAdapter::start(options(env, &env.cluster), env.client.clone())
        .await
        .expect("the CCP adapter starts")
}

/// Polls `probe` every 20 ms until it returns `Some` (at most [`WAIT_LIMIT`]).
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT_LIMIT;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not reached in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the adapter's status satisfies `accept`.
pub async fn wait_status(
    adapter: &CcpAdapter,
    what: &str,
    accept: impl Fn(&CcpStatus) -> bool,
) -> CcpStatus {
    let mut status = adapter.status();
    let reached = match tokio::time::timeout(WAIT_LIMIT, status.wait_for(|s| accept(s))).await {
        Ok(Ok(status)) => Some(status.clone()),
        Ok(Err(_)) => panic!("{what}: the adapter stopped"),
        Err(_) => None,
    };
    reached.unwrap_or_else(|| {
        panic!(
            "{what}: not reached in time; last status {:?}",
            *adapter.status().borrow()
        )
    })
}

// ---- NSX, as an admin edits it -------------------------------------------------------------

/// `PATCH` a policy API path.
pub async fn patch(admin: &NsxRestClient, path: &str, body: Value) {
    admin
        .execute(
            NsxRequest::new(http::Method::PATCH, format!("/policy/api/v1{path}"))
                .json(&body)
                .unwrap(),
        )
        .await
        .unwrap_or_else(|error| panic!("PATCH {path}: {error}"));
}

/// `DELETE` a policy API path.
pub async fn delete(admin: &NsxRestClient, path: &str) {
    admin
        .execute(NsxRequest::new(
            http::Method::DELETE,
            format!("/policy/api/v1{path}"),
        ))
        .await
        .unwrap_or_else(|error| panic!("DELETE {path}: {error}"));
}

pub fn group_path(id: &str) -> String {
    format!("{DOMAIN}/groups/{id}")
}

pub fn policy_path(id: &str) -> String {
    format!("{DOMAIN}/security-policies/{id}")
}

/// An Antrea group of Pods with label `app=<app>`.
pub async fn pod_group(admin: &NsxRestClient, id: &str, app: &str) {
    patch(
        admin,
        &group_path(id),
        json!({"resource_type": "Group", "group_type": ["ANTREA"], "display_name": id,
               "expression": [{"resource_type": "Condition", "member_type": "Pod", "key": "Tag",
                               "operator": "EQUALS", "value": format!("app|{app}")}]}),
    )
    .await;
}

/// An Antrea group of IP addresses.
pub async fn ip_group(admin: &NsxRestClient, id: &str, addresses: &[&str]) {
    patch(
        admin,
        &group_path(id),
        json!({"resource_type": "Group", "group_type": ["ANTREA"], "display_name": id,
               "expression": [{"resource_type": "IPAddressExpression", "ip_addresses": addresses}]}),
    )
    .await;
}

/// An ingress rule from `sources` on TCP `port` (through service `tcp-<port>`, which
/// [`policy`] creates).
pub fn ingress_rule(id: &str, sequence: u32, sources: &[&str], port: u16, action: &str) -> Value {
    json!({"resource_type": "Rule", "id": id, "display_name": id, "sequence_number": sequence,
           "source_groups": sources.iter().map(|g| group_path(g)).collect::<Vec<_>>(),
           "destination_groups": ["ANY"], "direction": "IN", "scope": ["ANY"],
           "services": [format!("/infra/services/tcp-{port}")],
           "action": action})
}

/// Creates the `tcp-<port>` services the rules use.
async fn services_of(admin: &NsxRestClient, rules: &Value) {
    for rule in rules.as_array().into_iter().flatten() {
        for service in rule["services"].as_array().into_iter().flatten() {
            let Some(port) = service
                .as_str()
                .and_then(|s| s.strip_prefix("/infra/services/tcp-"))
            else {
                continue;
            };
            patch(
                admin,
                &format!("/infra/services/tcp-{port}"),
                json!({"resource_type": "Service", "display_name": format!("tcp {port}"),
                       "service_entries": [{"resource_type": "L4PortSetServiceEntry", "id": "tcp",
                                            "l4_protocol": "TCP", "destination_ports": [port]}]}),
            )
            .await;
        }
    }
}

/// Creates or replaces policy `id` (category Application unless given) applied to
/// `applied_to`, with `rules`.
pub async fn policy(
    admin: &NsxRestClient,
    id: &str,
    sequence: u32,
    applied_to: &str,
    rules: Value,
) {
    policy_in(admin, id, "Application", sequence, applied_to, rules).await;
}

pub async fn policy_in(
    admin: &NsxRestClient,
    id: &str,
    category: &str,
    sequence: u32,
    applied_to: &str,
    rules: Value,
) {
    services_of(admin, &rules).await;
    patch(
        admin,
        &policy_path(id),
        json!({"resource_type": "SecurityPolicy", "display_name": id, "category": category,
               "sequence_number": sequence, "scope": [group_path(applied_to)], "rules": rules}),
    )
    .await;
}

/// Spans policy `id` to `cluster`.
pub async fn span(admin: &NsxRestClient, id: &str, cluster: &Cluster) {
    patch(
        admin,
        &format!("{}/container-cluster-span/{}", policy_path(id), cluster.id),
        json!({"resource_type": "SecurityPolicyContainerCluster",
               "container_cluster_path": cluster.path()}),
    )
    .await;
}

/// Removes policy `id`'s span to `cluster`.
pub async fn unspan(admin: &NsxRestClient, id: &str, cluster: &Cluster) {
    delete(
        admin,
        &format!("{}/container-cluster-span/{}", policy_path(id), cluster.id),
    )
    .await;
}

/// The consolidated realization status NSX shows for `path`.
pub async fn nsx_status(admin: &NsxRestClient, path: &str) -> Value {
    admin
        .get_json(&format!(
            "/policy/api/v1/infra/realized-state/status?intent_path={path}"
        ))
        .await
        .unwrap_or_else(|error| panic!("realized status of {path}: {error}"))
}

/// The NSX `_revision` of `path`.
pub async fn revision(admin: &NsxRestClient, path: &str) -> i64 {
    let body: Value = admin
        .get_json(&format!("/policy/api/v1{path}"))
        .await
        .unwrap();
    body["_revision"].as_i64().unwrap()
}

/// Waits until NSX shows `expected` (SUCCESS, ERROR, IN_PROGRESS, UNINITIALIZED) for `path`
/// at its current revision; returns the status body.
pub async fn wait_nsx(admin: &NsxRestClient, path: &str, expected: &str) -> Value {
    eventually(&format!("{path} {expected} in NSX"), || async {
        let status = nsx_status(admin, path).await;
        (status["consolidated_status"]["consolidated_status"] == expected).then_some(status)
    })
    .await
}

/// Waits until NSX shows `expected` for `path` in cluster `cluster_id` (one entry of
/// `consolidated_status_per_enforcement_point`); returns the status body.
pub async fn wait_nsx_for(
    admin: &NsxRestClient,
    path: &str,
    cluster_id: &str,
    expected: &str,
) -> Value {
    eventually(
        &format!("{path} {expected} in NSX for {cluster_id}"),
        || async {
            let status = nsx_status(admin, path).await;
            let reached = status["consolidated_status_per_enforcement_point"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|entry| {
                    entry["enforcement_point_id"] == cluster_id
                        && entry["consolidated_status"]["consolidated_status"] == expected
                });
            reached.then_some(status)
        },
    )
    .await
}

// ---- the cluster ------------------------------------------------------------------------

/// The ClusterNetworkPolicies of cluster `cluster_id` made for NSX path `path`.
pub async fn policies_for(
    client: &kube::Client,
    cluster_id: &str,
    path: &str,
) -> Vec<ClusterNetworkPolicy> {
    let api: Api<ClusterNetworkPolicy> = Api::all(client.clone());
    api.list(&ListParams::default().labels(&format!("{CLUSTER_ID_LABEL}={cluster_id}")))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| annotation(&p.metadata, NSX_PATH_ANNOTATION) == Some(path))
        .collect()
}

/// The ClusterGroups of cluster `cluster_id` made for NSX path `path`.
pub async fn groups_for(client: &kube::Client, cluster_id: &str, path: &str) -> Vec<ClusterGroup> {
    let api: Api<ClusterGroup> = Api::all(client.clone());
    api.list(&ListParams::default().labels(&format!("{CLUSTER_ID_LABEL}={cluster_id}")))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|g| annotation(&g.metadata, NSX_PATH_ANNOTATION) == Some(path))
        .collect()
}

/// Every owned object of cluster `cluster_id`: (tiers, groups, policies).
pub async fn owned_counts(client: &kube::Client, cluster_id: &str) -> (usize, usize, usize) {
    let params = ListParams::default().labels(&format!("{CLUSTER_ID_LABEL}={cluster_id}"));
    let tiers = Api::<Tier>::all(client.clone())
        .list(&params)
        .await
        .unwrap()
        .items
        .len();
    let groups = Api::<ClusterGroup>::all(client.clone())
        .list(&params)
        .await
        .unwrap()
        .items
        .len();
    let policies = Api::<ClusterNetworkPolicy>::all(client.clone())
        .list(&params)
        .await
        .unwrap()
        .items
        .len();
    (tiers, groups, policies)
}

/// Waits until cluster `cluster_id` has exactly one ClusterNetworkPolicy for `path`
/// satisfying `accept`; returns it.
pub async fn wait_policy(
    client: &kube::Client,
    cluster_id: &str,
    path: &str,
    what: &str,
    accept: impl Fn(&ClusterNetworkPolicy) -> bool,
) -> ClusterNetworkPolicy {
    eventually(what, || async {
        let mut found = policies_for(client, cluster_id, path).await;
        (found.len() == 1 && accept(&found[0])).then(|| found.remove(0))
    })
    .await
}

pub fn annotation<'a>(
    meta: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    key: &str,
) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

/// Write requests (not GET/LIST/WATCH, not status) to Antrea policy objects in the
/// emulator's request log.
pub fn policy_writes(emu: &KubeEmu) -> Vec<String> {
    emu.requests()
        .into_iter()
        .filter(|r| r.method != "GET")
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
