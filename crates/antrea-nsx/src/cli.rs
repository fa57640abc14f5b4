//! The command line: global options and the subcommands.

use clap::{Parser, Subcommand};

use crate::adapter_cmd::AdapterArgs;
use crate::kube_emu_cmd::KubeEmuArgs;
use crate::logging::LogArgs;
use crate::nsx_sim_cmd::NsxSimArgs;
use crate::register_cmd::RegisterArgs;
use crate::sandbox::SandboxArgs;
use crate::translate_cmd::TranslateArgs;

/// Antrea NSX Adapter: connects a Kubernetes cluster running Antrea to VMware NSX.
#[derive(Debug, Parser)]
#[command(name = "antrea-nsx", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub log: LogArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole system on this machine: an emulated cluster with Antrea and a demo
    /// workload, a simulated NSX Manager with demo policies, registration and both adapters.
    Sandbox(SandboxArgs),
    /// Run the CCP adapter: NSX firewall policy to Antrea policy, with realization status.
    CcpAdapter(AdapterArgs),
    /// Run the MP adapter: inventory, health, policy statistics and troubleshooting for NSX.
    MpAdapter(AdapterArgs),
    /// Run the Kubernetes API emulator on loopback and write a kubeconfig for it.
    KubeEmu(KubeEmuArgs),
    /// Run the NSX Manager simulator (REST API over HTTPS and the adapter channel).
    NsxSim(NsxSimArgs),
    /// Register the cluster with NSX (principal identity, cluster control plane, container
    /// cluster, ConfigMap cluster-id); safe to rerun.
    Register(RegisterArgs),
    /// Remove the cluster from NSX (cascade) and delete ConfigMap cluster-id; safe to rerun.
    Deregister(RegisterArgs),
    /// Preview offline how an NSX policy export translates to Antrea objects.
    Translate(TranslateArgs),
}

pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Sandbox(args) => crate::sandbox::run(args).await,
        Command::CcpAdapter(args) => {
            crate::adapter_cmd::run(adapter_runtime::process::AdapterRole::Ccp, args).await
        }
        Command::MpAdapter(args) => {
            crate::adapter_cmd::run(adapter_runtime::process::AdapterRole::Mp, args).await
        }
        Command::KubeEmu(args) => crate::kube_emu_cmd::run(args).await,
        Command::NsxSim(args) => crate::nsx_sim_cmd::run(args).await,
        Command::Register(args) => crate::register_cmd::run_register(args).await,
        Command::Deregister(args) => crate::register_cmd::run_deregister(args).await,
        Command::Translate(args) => crate::translate_cmd::run(args).await,
    }
}

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
