//! `antrea-nsx ccp-adapter` and `antrea-nsx mp-adapter`: one adapter, as its container in the
//! interworking Pod runs it. The configuration is read from the mounted files (see
//! docs/configuration.md), checked completely before anything starts, and the process runs
//! until SIGTERM or Ctrl-C, then shuts down gracefully (the MP adapter flushes pending
//! inventory; the Lease is released so the standby takes over at once).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use adapter_runtime::config::{self, DEFAULT_CONFIG_DIR, DEFAULT_NAMESPACE};
use adapter_runtime::process::{AdapterProcess, AdapterProcessOptions, AdapterRole};
use anyhow::{Context, bail};
use clap::Args;

#[derive(Debug, Args)]
pub struct AdapterArgs {
    /// The adapter's configuration file (mp-adapter.conf or ccp-adapter.conf); bootstrap.conf,
    /// the other adapter's file and cluster-id.conf are read from the same folder.
    #[arg(long, value_name = "FILE", conflicts_with = "config_dir")]
    pub config: Option<PathBuf>,
    /// The folder the configuration is mounted in.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_CONFIG_DIR)]
    pub config_dir: PathBuf,
    /// Kubeconfig to use; by default the Pod's in-cluster credentials.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Namespace of the Lease (and of ConfigMap cluster-id when cluster-id.conf is not
    /// mounted); in the Pod, its own namespace (`POD_NAMESPACE`, set by the Deployment).
    #[arg(long, env = "POD_NAMESPACE", default_value = DEFAULT_NAMESPACE)]
    pub namespace: String,
    /// Address of the API port; by default all interfaces on `APIServerPort`.
    #[arg(long, value_name = "ADDR")]
    pub api_listen: Option<SocketAddr>,
}

impl AdapterArgs {
    /// The configuration folder. `--config` must name the adapter's own file: the folder's
    /// files are read by their fixed names, so another name would be silently ignored.
    fn config_dir(&self, role: AdapterRole) -> anyhow::Result<PathBuf> {
        match &self.config {
            Some(file) => {
                if !file.is_file() {
                    bail!("--config {}: no such file", file.display());
                }
                let expected = match role {
                    AdapterRole::Ccp => config::CCP_ADAPTER_FILE,
                    AdapterRole::Mp => config::MP_ADAPTER_FILE,
                };
                if file.file_name().and_then(|name| name.to_str()) != Some(expected) {
                    bail!(
                        "--config {}: the file must be named {expected} (bootstrap.conf and the \
                         other files are read from the same folder); or use --config-dir",
                        file.display()
                    );
                }
                Ok(file
                    .parent()
                    .map(Path::to_path_buf)
                    .filter(|dir| !dir.as_os_str().is_empty())
                    .unwrap_or_else(|| PathBuf::from(".")))
            }
            None => Ok(self.config_dir.clone()),
        }
    }
}

pub async fn run(role: AdapterRole, args: AdapterArgs) -> anyhow::Result<()> {
    let dir = args.config_dir(role)?;
    let config = config::load_dir(&dir)?;
    let kube = config::kube_client(args.kubeconfig.as_deref()).await?;
    let cluster_id = match config::load_cluster_id_dir(&dir)? {
        Some(id) => id,
        None => config::load_cluster_id_api(&kube, &args.namespace)
            .await?
            .with_context(|| {
                format!(
                    "the cluster is not registered: no cluster-id.conf in the configuration \
                     folder and no ConfigMap {}/cluster-id (run `antrea-nsx register` first)",
                    args.namespace
                )
            })?,
    };
    let common = match role {
        AdapterRole::Ccp => &config.ccp.common,
        AdapterRole::Mp => &config.mp.common,
    };
    let api_listen = args.api_listen.unwrap_or(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        common.api_server_port,
    ));
    let ccp_status_url = format!(
        "http://127.0.0.1:{}/status",
        config.ccp.common.api_server_port
    );
    let options = AdapterProcessOptions {
        role,
        namespace: args.namespace.clone(),
        api_listen,
        leader_election: common.leader_election.enabled,
        cluster_id,
        ccp_status_url: Some(ccp_status_url),
    };
    let process = AdapterProcess::start(options, config, kube).await?;
    println!(
        "{role:?} adapter running; API on http://{}",
        process.api_addr()
    );
    crate::cli::shutdown_signal().await;
    tracing::info!("stopping");
    process.shutdown().await;
    Ok(())
}
