//! End-to-end test harness.
//!
//! Starts the stand-ins (in-process or as the built `antrea-nsx` binary) and hands tests
//! kube-rs clients. When `ANTREA_NSX_E2E_KUBECONFIG` names a kubeconfig, [`TestCluster`]
//! targets that cluster instead of an emulator, and tests that need an emulator-only hook
//! skip themselves with a message (see [`TestCluster::emulator_or_skip`]).

mod binary;
mod cluster;
mod process;

pub use binary::antrea_nsx_binary;
pub use cluster::{E2E_KUBECONFIG_ENV, TestCluster, emulator_only};
pub use process::KubeEmuProcess;

/// Installs the process-wide TLS provider and a test log writer; safe to call repeatedly.
pub fn init_test_env() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}
