//! The sandbox's stand-ins: the emulated cluster (kube-emu with the Antrea emulation) served
//! on loopback with a kubeconfig, the NSX Manager simulator, and the demo content written
//! into both through their public APIs.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use adapter_nsx::rest::{NsxRequest, NsxRestClient, RestAuth, RestConfig, RestTrust};
use anyhow::Context;
use http::Method;
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use kube::api::{Api, PostParams};
use kube_emu::KubeEmu;
use nsx_sim::{NsxSim, RunningSim, SimConfig};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::demo;

/// The emulated cluster, served over HTTP.
pub struct EmulatedCluster {
    pub antrea: antrea_emu::AntreaEmu,
    pub url: String,
    pub kubeconfig_path: std::path::PathBuf,
    stop: CancellationToken,
    server: JoinHandle<()>,
}

impl EmulatedCluster {
    /// Starts kube-emu with `nodes` emulated Antrea nodes on `listen` and writes its
    /// kubeconfig into `dir`.
    pub async fn start(listen: SocketAddr, nodes: usize, dir: &Path) -> anyhow::Result<Self> {
        let emu = KubeEmu::new();
        let antrea = antrea_emu::AntreaEmu::install(
            &emu,
            antrea_emu::AntreaOptions {
                nodes,
                realize_delay: Duration::from_millis(100),
                heartbeat_interval: Duration::from_secs(10),
                ..Default::default()
            },
        )
        .await
        .context("starting the Antrea emulation")?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding the Kubernetes API on {listen}"))?;
        let url = format!("http://{}", listener.local_addr()?);
        let kubeconfig_path = dir.join("kubeconfig");
        std::fs::write(&kubeconfig_path, emu.kubeconfig_yaml(&url))
            .with_context(|| format!("writing {}", kubeconfig_path.display()))?;
        let stop = CancellationToken::new();
        let serving = emu.clone();
        let token = stop.clone();
        let server = tokio::spawn(async move {
            if let Err(error) = serving.serve(listener, token).await {
                tracing::error!(%error, "the Kubernetes API emulator stopped");
            }
        });
        Ok(Self {
            antrea,
            url,
            kubeconfig_path,
            stop,
            server,
        })
    }

    /// A client of the cluster's API over HTTP, as a user's kubectl.
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig_path)?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
        Ok(kube::Client::try_from(config)?)
    }

    /// Stops serving and the emulated controllers.
    pub async fn shutdown(self) {
        self.antrea.shutdown();
        self.stop.cancel();
        let _ = self.server.await;
    }
}

async fn create<K>(api: Api<K>, object: &Value) -> anyhow::Result<()>
where
    K: kube::Resource + Clone + DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let typed: K = serde_json::from_value(object.clone())?;
    match api.create(&PostParams::default(), &typed).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// Creates the demo workload (existing objects are kept).
pub async fn seed_workload(client: &kube::Client) -> anyhow::Result<usize> {
    let objects = demo::workload();
    for object in &objects {
        let kind = object["kind"].as_str().unwrap_or_default();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default");
        match kind {
            "Namespace" => create::<Namespace>(Api::all(client.clone()), object).await,
            "Pod" => create::<Pod>(Api::namespaced(client.clone(), namespace), object).await,
            "Service" => {
                create::<Service>(Api::namespaced(client.clone(), namespace), object).await
            }
            "Ingress" => {
                create::<Ingress>(Api::namespaced(client.clone(), namespace), object).await
            }
            "NetworkPolicy" => {
                create::<NetworkPolicy>(Api::namespaced(client.clone(), namespace), object).await
            }
            other => anyhow::bail!("the demo workload has an unexpected kind {other}"),
        }
        .with_context(|| format!("creating {kind} {name}"))?;
    }
    Ok(objects.len())
}

/// The simulated NSX Manager and its admin's REST client.
pub struct SimulatedNsx {
    pub sim: RunningSim,
    pub admin: NsxRestClient,
    pub password: String,
    pub ca_file: std::path::PathBuf,
}

impl SimulatedNsx {
    /// Starts nsx-sim (in memory) on `listen` and `rpc_listen`, writing its CA into `dir`.
    pub async fn start(
        listen: SocketAddr,
        rpc_listen: SocketAddr,
        password: String,
        dir: &Path,
    ) -> anyhow::Result<Self> {
        let mut config = SimConfig::new(listen, password.clone());
        config.rpc_listen = Some(rpc_listen);
        let sim = NsxSim::start(config)
            .await
            .context("starting the NSX Manager simulator")?;
        let ca_file = dir.join("nsx-ca.pem");
        std::fs::write(&ca_file, sim.ca_cert_pem())
            .with_context(|| format!("writing {}", ca_file.display()))?;
        let admin = NsxRestClient::new(RestConfig::new(
            vec![sim.base_url().to_owned()],
            RestTrust::CaCertificates(sim.ca_cert_pem().as_bytes().to_vec()),
            RestAuth::Basic {
                username: "admin".to_owned(),
                password: password.clone(),
            },
        ))?;
        Ok(Self {
            sim,
            admin,
            password,
            ca_file,
        })
    }

    /// `host:port` of the REST API.
    pub fn manager(&self) -> String {
        self.sim
            .base_url()
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_owned()
    }

    /// Writes the demo groups, services and policies (idempotent: a merge).
    pub async fn seed_policies(&self) -> anyhow::Result<()> {
        let request =
            NsxRequest::new(Method::PATCH, "/policy/api/v1/infra").json(&demo::nsx_policy_set())?;
        self.admin
            .execute(request)
            .await
            .context("writing the demo firewall policies (PATCH /policy/api/v1/infra)")?;
        Ok(())
    }

    /// Spans every demo policy to the cluster.
    pub async fn span_policies(&self, cluster_id: &str) -> anyhow::Result<()> {
        let cluster_path = format!(
            "/infra/sites/default/enforcement-points/default/cluster-control-planes/{cluster_id}"
        );
        for policy in demo::SUPPORTED_POLICIES
            .iter()
            .chain(std::iter::once(&demo::UNSUPPORTED_POLICY))
        {
            let path = format!(
                "/policy/api/v1{}/container-cluster-span/{cluster_id}",
                demo::policy_path(policy)
            );
            let request = NsxRequest::new(Method::PATCH, path.clone()).json(&json!({
                "resource_type": "SecurityPolicyContainerCluster",
                "container_cluster_path": cluster_path,
            }))?;
            self.admin
                .execute(request)
                .await
                .with_context(|| format!("PATCH {path}"))?;
        }
        Ok(())
    }

    pub async fn shutdown(self) {
        if let Err(error) = self.sim.shutdown().await {
            tracing::warn!(%error, "stopping the NSX Manager simulator");
        }
    }
}
