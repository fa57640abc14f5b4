//! The cluster a test runs against: an in-process emulator by default, or the real
//! cluster named by `ANTREA_NSX_E2E_KUBECONFIG`.

use kube_emu::KubeEmu;

/// Names a kubeconfig; when set, tests run against that cluster instead of an emulator.
pub const E2E_KUBECONFIG_ENV: &str = "ANTREA_NSX_E2E_KUBECONFIG";

/// A Kubernetes API for one test, with the emulator handle when there is one.
pub struct TestCluster {
    client: kube::Client,
    emulator: Option<KubeEmu>,
}

impl TestCluster {
    /// An in-process emulator (no socket), or the real cluster when
    /// `ANTREA_NSX_E2E_KUBECONFIG` is set.
    pub async fn start() -> anyhow::Result<Self> {
        crate::init_test_env();
        if let Some(path) = std::env::var_os(E2E_KUBECONFIG_ENV) {
            let kubeconfig = kube::config::Kubeconfig::read_from(&path)?;
            let config = kube::Config::from_custom_kubeconfig(
                kubeconfig,
                &kube::config::KubeConfigOptions::default(),
            )
            .await?;
            return Ok(TestCluster {
                client: kube::Client::try_from(config)?,
                emulator: None,
            });
        }
        let emulator = KubeEmu::new();
        let client = kube::Client::new(emulator.router(), "default");
        Ok(TestCluster {
            client,
            emulator: Some(emulator),
        })
    }

    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// The emulator, when the test runs against one.
    pub fn emulator(&self) -> Option<&KubeEmu> {
        self.emulator.as_ref()
    }

    /// The emulator for a test that needs an emulator-only hook; `None` (after printing
    /// why the test skips itself) when running against a real cluster.
    pub fn emulator_or_skip(&self, hook: &str) -> Option<&KubeEmu> {
        if self.emulator.is_none() {
            eprintln!(
                "skipped: this test needs the emulator-only hook `{hook}`, \
                 and {E2E_KUBECONFIG_ENV} points it at a real cluster"
            );
        }
        self.emulator.as_ref()
    }
}

/// Whether a test that is emulator-only by nature (it builds its own emulator with special
/// options, serves one on a socket, or talks to its router directly) should run: `false`,
/// after printing why the test skips itself, when `ANTREA_NSX_E2E_KUBECONFIG` points the
/// tests at a real cluster.
pub fn emulator_only(test: &str) -> bool {
    if std::env::var_os(E2E_KUBECONFIG_ENV).is_some() {
        eprintln!(
            "skipped: `{test}` runs only against the in-process emulator, \
             and {E2E_KUBECONFIG_ENV} points the tests at a real cluster"
        );
        return false;
    }
    true
}
