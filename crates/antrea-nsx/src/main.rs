//! `antrea-nsx`: one command for the adapters, the sandbox and the stand-ins.
//!
//! This file only wires things: it installs the TLS provider, sets up logging, parses the
//! command line and hands over to the subcommand.

mod adapter_cmd;
mod cli;
mod kube_emu_cmd;
mod logging;
mod nsx_sim_cmd;
mod register_cmd;
mod sandbox;
mod translate_cmd;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    // One crypto provider for the whole process (ring), before anything opens a TLS session.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = cli::Cli::parse();
    logging::init(&cli.log)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(cli::run(cli.command))
}
