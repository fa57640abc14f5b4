//! Test harness: the NSX simulator in-process (REST and the adapter channel on 127.0.0.1,
//! ephemeral ports), clusters registered the way the register job does (a principal
//! identity with an rcgen certificate, then the cluster control plane), through this
//! crate's own REST client with admin basic auth.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use adapter_nsx::channel::{ChannelConfig, ReconnectPolicy};
use adapter_nsx::rest::api::PrincipalIdentityWithCertificate;
use adapter_nsx::rest::{NsxRequest, NsxRestClient, RestAuth, RestConfig, RestTrust, RetryPolicy};
use nsx_proto::tls::{ClientTls, ServerTrust};
use nsx_sim::channel::ChannelOptions;
use nsx_sim::{NsxSim, RunningSim, SimConfig};
use serde_json::{Value, json};

/// The simulator's admin password.
pub const PASSWORD: &str = "Admin!23Admin";

/// Installs the ring provider as the process default.
pub fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Channel options for tests: short request deadlines.
pub fn test_options() -> ChannelOptions {
    let mut options = ChannelOptions::default();
    options.request_timeout = Duration::from_secs(5);
    options.support_bundle_timeout = Duration::from_secs(10);
    options.late_response_grace = Duration::from_millis(200);
    options
}

/// Starts a simulator serving REST and the channel; `rpc` fixes the channel address (for a
/// restart on the same port), `dir` the data directory.
pub async fn start(
    options: ChannelOptions,
    dir: Option<&Path>,
    rpc: Option<std::net::SocketAddr>,
) -> RunningSim {
    init();
    let mut config = SimConfig::new("127.0.0.1:0".parse().unwrap(), PASSWORD);
    config.rpc_listen = Some(rpc.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap()));
    config.channel = options;
    if let Some(dir) = dir {
        config.data_dir = Some(dir.to_owned());
    }
    NsxSim::start(config).await.unwrap()
}

/// Fast retries for tests.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        min_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
    }
}

/// A REST client of `managers` trusting the simulator's CA.
pub fn rest_client(sim: &RunningSim, managers: Vec<String>, auth: RestAuth) -> NsxRestClient {
    let mut config = RestConfig::new(
        managers,
        RestTrust::CaCertificates(sim.ca_cert_pem().as_bytes().to_vec()),
        auth,
    );
    config.retry = fast_retries();
    NsxRestClient::new(config).unwrap()
}

/// The admin's REST client (basic auth).
pub fn admin(sim: &RunningSim) -> NsxRestClient {
    rest_client(sim, vec![sim.base_url().to_owned()], admin_auth())
}

/// Basic credentials of the admin.
pub fn admin_auth() -> RestAuth {
    RestAuth::Basic {
        username: "admin".into(),
        password: PASSWORD.into(),
    }
}

/// A self-signed certificate with common name `cn`: `(cert PEM, key PEM)`.
pub fn certificate(cn: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A registered cluster.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub id: String,
    pub cert: String,
    pub key: String,
    pub node_id: String,
    pub pi_id: String,
}

impl Cluster {
    /// Its `ClusterControlPlane` path.
    pub fn path(&self) -> String {
        format!(
            "/infra/sites/default/enforcement-points/default/cluster-control-planes/{}",
            self.id
        )
    }

    /// Client-certificate authentication as this cluster's principal identity.
    pub fn auth(&self) -> RestAuth {
        RestAuth::ClientCertificate {
            certificate_chain_pem: self.cert.clone().into_bytes(),
            private_key_pem: self.key.clone().into_bytes(),
        }
    }
}

/// Registers cluster `id` as the register job does, with the admin's REST client.
pub async fn register(sim: &RunningSim, id: &str) -> Cluster {
    let admin = admin(sim);
    let (cert, key) = certificate(id);
    let pi = admin
        .create_principal_identity(&PrincipalIdentityWithCertificate::for_cluster(id, &cert))
        .await
        .unwrap();
    let ccp = admin
        .put_cluster_control_plane(
            id,
            &json!({"resource_type": "ClusterControlPlane", "certificate": cert}),
        )
        .await
        .unwrap();
    Cluster {
        id: id.to_owned(),
        node_id: ccp["node_id"].as_str().unwrap().to_owned(),
        pi_id: pi["id"].as_str().unwrap().to_owned(),
        cert,
        key,
    }
}

/// A channel configuration for `cluster` with `endpoints`, trusting the simulator's CA, with
/// quick reconnects.
pub fn channel_config(
    sim: &RunningSim,
    cluster: &Cluster,
    endpoints: Vec<String>,
) -> ChannelConfig {
    let tls = ClientTls::new(
        cluster.cert.as_bytes(),
        cluster.key.as_bytes(),
        ServerTrust::CaCertificates(sim.ca_cert_pem().as_bytes().to_vec()),
    )
    .unwrap();
    let mut config = ChannelConfig::new(endpoints, cluster.id.clone(), tls);
    config.adapter_instance = "test-pod".into();
    config.reconnect = ReconnectPolicy {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(400),
        jitter_percent: 20,
        reset_after: Duration::from_secs(60),
    };
    config
}

/// The simulator's channel endpoint.
pub fn rpc_endpoint(sim: &RunningSim) -> String {
    format!("https://{}", sim.rpc_local_addr().unwrap())
}

/// An address on which nothing listens.
pub fn dead_address() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    address
}

/// `PATCH path` (a policy API path below `/policy/api/v1`) as the admin.
pub async fn patch(admin: &NsxRestClient, path: &str, body: Value) {
    admin
        .execute(
            NsxRequest::new(http::Method::PATCH, format!("/policy/api/v1{path}"))
                .json(&body)
                .unwrap(),
        )
        .await
        .unwrap();
}

/// `DELETE path` (a policy API path below `/policy/api/v1`) as the admin.
pub async fn delete(admin: &NsxRestClient, path: &str) {
    admin
        .execute(NsxRequest::new(
            http::Method::DELETE,
            format!("/policy/api/v1{path}"),
        ))
        .await
        .unwrap();
}

/// Path of group `id` in the default domain.
pub fn group_path(id: &str) -> String {
    format!("/infra/domains/default/groups/{id}")
}

/// Path of security policy `id` in the default domain.
pub fn policy_path(id: &str) -> String {
    format!("/infra/domains/default/security-policies/{id}")
}

/// Creates a group on pods tagged `id`.
pub async fn group(admin: &NsxRestClient, id: &str) {
    patch(
        admin,
        &group_path(id),
        json!({"resource_type": "Group", "expression": [{"resource_type": "Condition",
               "member_type": "Pod", "key": "Tag", "operator": "EQUALS", "value": id}]}),
    )
    .await;
}

/// Creates (or merges) policy `id` with `rules`.
pub async fn policy(admin: &NsxRestClient, id: &str, rules: Value) {
    patch(
        admin,
        &policy_path(id),
        json!({"resource_type": "SecurityPolicy", "category": "Application", "rules": rules}),
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

/// Waits (bounded) for `receiver` to hold a value `accept` takes; returns it.
pub async fn wait_for<T: Clone>(
    receiver: &mut tokio::sync::watch::Receiver<T>,
    what: &str,
    accept: impl Fn(&T) -> bool,
) -> T {
    let waited = tokio::time::timeout(
        Duration::from_secs(20),
        receiver.wait_for(|value| accept(value)),
    )
    .await;
    match waited {
        Ok(Ok(value)) => value.clone(),
        Ok(Err(_)) => panic!("{what}: the sender is gone"),
        Err(_) => panic!("{what}: not reached in time; last: (see logs)"),
    }
}

/// Polls `GET path` as `client` until `accept` holds (bounded); returns the body.
pub async fn eventually(
    client: &NsxRestClient,
    path: &str,
    accept: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    for _ in 0..1000 {
        last = client.get_json(path).await.unwrap();
        if accept(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{path} never reached the expected state; last: {last:#}");
}
