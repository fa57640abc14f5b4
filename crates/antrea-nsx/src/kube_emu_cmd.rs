//! `antrea-nsx kube-emu`: serve the Kubernetes API emulator on loopback until stopped.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use kube_emu::KubeEmu;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Args)]
pub struct KubeEmuArgs {
    /// Address to serve plain HTTP on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:6443")]
    pub listen: SocketAddr,
    /// Where to write a kubeconfig that points at the emulator.
    #[arg(long, default_value = "kube-emu.kubeconfig")]
    pub kubeconfig_out: PathBuf,
    /// A folder of CustomResourceDefinition manifests to load at start (repeatable).
    #[arg(long = "crds", value_name = "DIR")]
    pub crd_dirs: Vec<PathBuf>,
    #[command(flatten)]
    pub antrea: AntreaArgs,
}

/// The Antrea controller emulation on top of the API emulator.
#[derive(Debug, Args)]
pub struct AntreaArgs {
    /// Emulate an Antrea Controller and its Agents: CRDs, system tiers, webhooks, nodes,
    /// pod scheduling, realization status, monitoring CRDs, stats, Traceflow.
    #[arg(long)]
    pub antrea: bool,
    /// Nodes to emulate, each with an Antrea Agent.
    #[arg(long, default_value_t = 3, requires = "antrea")]
    pub nodes: usize,
    /// How long an agent takes to realize a policy generation.
    #[arg(long, default_value_t = 100, requires = "antrea")]
    pub realize_delay_ms: u64,
    /// How often the controller and agents rewrite AntreaControllerInfo/AntreaAgentInfo.
    #[arg(long, default_value_t = 60, requires = "antrea")]
    pub heartbeat_s: u64,
    /// Register the Antrea CRDs from this folder of real manifests instead of the ones
    /// generated from the project's types.
    #[arg(long, value_name = "DIR", requires = "antrea")]
    pub antrea_crds: Option<PathBuf>,
}

impl AntreaArgs {
    fn options(&self) -> antrea_emu::AntreaOptions {
        antrea_emu::AntreaOptions {
            nodes: self.nodes,
            realize_delay: std::time::Duration::from_millis(self.realize_delay_ms),
            heartbeat_interval: std::time::Duration::from_secs(self.heartbeat_s),
            use_crd_manifests: self.antrea_crds.clone(),
            ..Default::default()
        }
    }
}

pub async fn run(args: KubeEmuArgs) -> anyhow::Result<()> {
    let emu = KubeEmu::new();
    for dir in &args.crd_dirs {
        let count = emu
            .load_crds_dir(dir)
            .with_context(|| format!("loading CRDs from {}", dir.display()))?;
        tracing::info!(dir = %dir.display(), count, "loaded CRDs");
    }
    // Kept alive while serving: dropping it stops the emulated controllers.
    let _antrea = if args.antrea.antrea {
        let antrea = antrea_emu::AntreaEmu::install(&emu, args.antrea.options())
            .await
            .context("starting the Antrea emulation")?;
        tracing::info!(nodes = args.antrea.nodes, "Antrea emulation running");
        Some(antrea)
    } else {
        None
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}");
    write_atomically(&args.kubeconfig_out, &emu.kubeconfig_yaml(&url))
        .with_context(|| format!("writing kubeconfig {}", args.kubeconfig_out.display()))?;
    println!(
        "kube-emu serving on {url}\nkubeconfig: {}\ntry: kubectl --kubeconfig {} api-resources",
        args.kubeconfig_out.display(),
        args.kubeconfig_out.display()
    );
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        crate::cli::shutdown_signal().await;
        stop.cancel();
    });
    emu.serve(listener, shutdown).await.context("serving")?;
    tracing::info!("kube-emu stopped");
    Ok(())
}

/// Writes through a temporary file and a rename, so a reader never sees half a file.
fn write_atomically(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents)?;
    std::fs::rename(tmp, path)
}
