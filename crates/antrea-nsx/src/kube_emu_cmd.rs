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
}

pub async fn run(args: KubeEmuArgs) -> anyhow::Result<()> {
    let emu = KubeEmu::new();
    for dir in &args.crd_dirs {
        let count = emu
            .load_crds_dir(dir)
            .with_context(|| format!("loading CRDs from {}", dir.display()))?;
        tracing::info!(dir = %dir.display(), count, "loaded CRDs");
    }
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
