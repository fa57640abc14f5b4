//! `antrea-nsx nsx-sim`: serve the NSX Manager simulator until stopped.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use nsx_sim::{NsxSim, SimConfig};

#[derive(Debug, Args)]
pub struct NsxSimArgs {
    /// Address of the HTTPS REST API (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// Address of the adapter channel (gRPC over mutual TLS).
    #[arg(long, default_value = "127.0.0.1:1235")]
    pub rpc_listen: SocketAddr,
    /// Folder for durable state and certificates; without it everything is in memory.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Password of the `admin` user; a random one is generated (and printed) when absent.
    #[arg(long, env = "NSX_SIM_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
}

pub async fn run(args: NsxSimArgs) -> anyhow::Result<()> {
    let generated = args.admin_password.is_none();
    let password = args.admin_password.unwrap_or_else(generate_password);
    let mut config = SimConfig::new(args.listen, password.clone());
    config.rpc_listen = Some(args.rpc_listen);
    if let Some(dir) = &args.data_dir {
        config = config.with_data_dir(dir);
    }
    let sim = NsxSim::start(config)
        .await
        .context("starting the NSX Manager simulator")?;
    println!("nsx-sim serving the NSX REST API on {}", sim.base_url());
    if let Some(rpc) = sim.rpc_local_addr() {
        println!("adapter channel (gRPC, mutual TLS) on {rpc}");
    }
    println!(
        "server certificate SHA-256 thumbprint: {}",
        sim.thumbprint()
    );
    if let Some(dir) = sim.data_dir() {
        println!("state and CA certificate in {}", dir.display());
    }
    if generated {
        // Printed once to the terminal for the operator, never logged.
        println!("admin password: {password}");
    }
    crate::cli::shutdown_signal().await;
    sim.shutdown().await.context("stopping the simulator")?;
    tracing::info!("nsx-sim stopped");
    Ok(())
}

/// A password that meets NSX's complexity rules (upper, lower, digit, special, ≥ 12).
fn generate_password() -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("Nsx!{}{}", &random[..12], "A9z")
}
