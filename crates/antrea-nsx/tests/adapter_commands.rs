//! `antrea-nsx ccp-adapter` and `antrea-nsx mp-adapter` refuse bad configuration at start:
//! the built binary is run against a configuration folder with one thing wrong and must exit
//! non-zero with a message naming the file or key (missing bootstrap.conf, an unknown key, a
//! bad value, a cluster that is not registered, missing certificate files, NSXInsecure as the
//! only trust for the adapter channel, `--config` naming another file).
//!
//! A Kubernetes API (kube-emu, served on loopback) is there for the cases that get as far as
//! reading the cluster id from it.

use std::path::{Path, PathBuf};
use std::process::Output;

use adapter_runtime::config::NsxCertificate;
use kube_emu::KubeEmu;
use tokio_util::sync::CancellationToken;

/// A configuration folder and a kubeconfig of a running Kubernetes API emulator.
struct Setup {
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    stop: CancellationToken,
}

impl Setup {
    async fn start() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let emu = KubeEmu::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, emu.kubeconfig_yaml(&url)).unwrap();
        let stop = CancellationToken::new();
        tokio::spawn({
            let stop = stop.clone();
            async move {
                let _ = emu.serve(listener, stop).await;
            }
        });
        let config = dir.path().join("config");
        std::fs::create_dir_all(config.join("nsx-cert")).unwrap();
        Setup {
            dir,
            kubeconfig,
            stop,
        }
    }

    fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.config_dir().join(name), text).unwrap();
    }

    /// A complete, valid configuration of a registered cluster `c1`: bootstrap.conf, a CA
    /// file, the certificate files, mp-adapter.conf (CA trust) and cluster-id.conf.
    fn valid(&self) {
        let certificate = NsxCertificate::generate("c1").unwrap();
        let ca = NsxCertificate::generate("nsx-ca").unwrap();
        self.write("nsx-ca.pem", &ca.certificate_pem);
        self.write("nsx-cert/tls.crt", &certificate.certificate_pem);
        self.write("nsx-cert/tls.key", &certificate.private_key_pem);
        self.write(
            "bootstrap.conf",
            "clusterName: c1\nNSXManagers: [\"127.0.0.1:9\"]\n",
        );
        self.write("mp-adapter.conf", &self.mp_conf("NSXCAFile: nsx-ca.pem\n"));
        self.write("ccp-adapter.conf", "");
        self.write(
            "cluster-id.conf",
            "clusterID: 0b6c1f7e-3d4a-4c55-9d1e-2f7a8b9c0d1e\n",
        );
    }

    /// mp-adapter.conf with the certificate files of the folder and `trust`.
    fn mp_conf(&self, trust: &str) -> String {
        format!(
            "{trust}NSXClientAuthCertFile: {}\nNSXClientAuthKeyFile: {}\n",
            self.config_dir().join("nsx-cert/tls.crt").display(),
            self.config_dir().join("nsx-cert/tls.key").display()
        )
    }

    /// Runs `antrea-nsx <command> --config-dir <folder> --kubeconfig <file>` plus `extra`
    /// on an ephemeral API port (outside a Pod: no `POD_NAMESPACE`).
    async fn run(&self, command: &str, extra: &[&str]) -> Output {
        self.run_with_env(command, extra, &[]).await
    }

    /// [`Setup::run`] with environment variables set.
    async fn run_with_env(&self, command: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
        let mut process = tokio::process::Command::new(env!("CARGO_BIN_EXE_antrea-nsx"));
        process
            .arg(command)
            .args(extra)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["--api-listen", "127.0.0.1:0"])
            .env_remove("POD_NAMESPACE")
            .kill_on_drop(true);
        for (name, value) in env {
            process.env(name, value);
        }
        if !extra.contains(&"--config") {
            process.arg("--config-dir").arg(self.config_dir());
        }
        // A valid configuration would run until interrupted: bound the wait.
        tokio::time::timeout(std::time::Duration::from_secs(60), process.output())
            .await
            .unwrap_or_else(|_| panic!("antrea-nsx {command} kept running"))
            .expect("antrea-nsx runs")
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Asserts that the command failed and that its error names every one of `names`.
fn refused(output: &Output, names: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "exit status {:?}; stderr:\n{stderr}",
        output.status
    );
    for name in names {
        assert!(stderr.contains(name), "{name} not named in:\n{stderr}");
    }
    stderr
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bootstrap_conf_is_named() {
    let setup = Setup::start().await;
    for command in ["ccp-adapter", "mp-adapter"] {
        let output = setup.run(command, &[]).await;
        refused(
            &output,
            &[&path_text(&setup.config_dir().join("bootstrap.conf"))],
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_key_is_named_with_its_file() {
    let setup = Setup::start().await;
    setup.valid();
    setup.write(
        "bootstrap.conf",
        "clusterName: c1\nNSXManagers: [\"127.0.0.1:9\"]\nvpcpath: /orgs/default/projects/p1/vpcs/v1\n",
    );
    let stderr = refused(
        &setup.run("ccp-adapter", &[]).await,
        &["bootstrap.conf", "vpcpath"],
    );
    assert!(stderr.contains("vpcPath"), "no suggestion in:\n{stderr}");

    setup.valid();
    setup.write(
        "ccp-adapter.conf",
        "ReconcilerWorkerCount: 4\nInventoryBatchSise: 10\n",
    );
    refused(
        &setup.run("mp-adapter", &[]).await,
        &["ccp-adapter.conf", "InventoryBatchSise"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_value_is_named_with_its_key() {
    let setup = Setup::start().await;
    setup.valid();
    setup.write(
        "mp-adapter.conf",
        &setup.mp_conf("NSXCAFile: nsx-ca.pem\nInventoryBatchSize: 5000\n"),
    );
    refused(
        &setup.run("mp-adapter", &[]).await,
        &["mp-adapter.conf", "InventoryBatchSize", "5000"],
    );

    setup.valid();
    setup.write(
        "ccp-adapter.conf",
        "LeaseDurationSeconds: 3\nLeaseRenewDeadlineSeconds: 5\n",
    );
    refused(
        &setup.run("ccp-adapter", &[]).await,
        &["ccp-adapter.conf", "LeaseRenewDeadlineSeconds"],
    );

    setup.valid();
    setup.write("cluster-id.conf", "clusterID: not-a-uuid\n");
    refused(
        &setup.run("mp-adapter", &[]).await,
        &["cluster-id.conf", "clusterID"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unregistered_cluster_is_refused() {
    let setup = Setup::start().await;
    setup.valid();
    std::fs::remove_file(setup.config_dir().join("cluster-id.conf")).unwrap();
    for command in ["ccp-adapter", "mp-adapter"] {
        refused(
            &setup.run(command, &[]).await,
            &[
                "not registered",
                "vmware-system-antrea/cluster-id",
                "antrea-nsx register",
            ],
        );
    }
    // In a Pod, the namespace is the Pod's own (POD_NAMESPACE, from the Deployment).
    refused(
        &setup
            .run_with_env("ccp-adapter", &[], &[("POD_NAMESPACE", "team-a")])
            .await,
        &["not registered", "team-a/cluster-id"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_certificate_files_are_named() {
    let setup = Setup::start().await;
    setup.valid();
    std::fs::remove_file(setup.config_dir().join("nsx-cert/tls.crt")).unwrap();
    for command in ["ccp-adapter", "mp-adapter"] {
        refused(
            &setup.run(command, &[]).await,
            &[&path_text(&setup.config_dir().join("nsx-cert/tls.crt"))],
        );
    }

    setup.valid();
    setup.write(
        "mp-adapter.conf",
        "NSXCAFile: no-such-ca.pem\nNSXClientAuthCertFile: nsx-cert/tls.crt\nNSXClientAuthKeyFile: nsx-cert/tls.key\n",
    );
    refused(
        &setup.run("ccp-adapter", &[]).await,
        &["NSXCAFile", "no-such-ca.pem"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nsx_insecure_alone_cannot_secure_the_adapter_channel() {
    let setup = Setup::start().await;
    setup.valid();
    setup.write("mp-adapter.conf", &setup.mp_conf("NSXInsecure: true\n"));
    for command in ["ccp-adapter", "mp-adapter"] {
        refused(
            &setup.run(command, &[]).await,
            &["NSXInsecure", "NSXCAFile", "NSXThumbprint"],
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_must_name_the_adapters_own_file() {
    let setup = Setup::start().await;
    setup.valid();
    setup.write("ccp-adapter.conf", "ReconcilerWorkerCount: 4\n");
    let ccp_conf = path_text(&setup.config_dir().join("ccp-adapter.conf"));
    let mp_conf = path_text(&setup.config_dir().join("mp-adapter.conf"));
    refused(
        &setup.run("mp-adapter", &["--config", &ccp_conf]).await,
        &["--config", "mp-adapter.conf"],
    );
    refused(
        &setup.run("ccp-adapter", &["--config", &mp_conf]).await,
        &["--config", "ccp-adapter.conf"],
    );
    let missing = path_text(&setup.config_dir().join("no-such.conf"));
    refused(
        &setup.run("ccp-adapter", &["--config", &missing]).await,
        &["--config", "no-such.conf"],
    );
}

/// The baseline of every case above: the valid configuration starts both adapters (they
/// then wait for NSX), so each refusal comes from the one thing a case breaks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_valid_configuration_starts() {
    use tokio::io::AsyncBufReadExt as _;
    let setup = Setup::start().await;
    setup.valid();
    for command in ["ccp-adapter", "mp-adapter"] {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_antrea-nsx"))
            .arg(command)
            .arg("--config-dir")
            .arg(setup.config_dir())
            .arg("--kubeconfig")
            .arg(&setup.kubeconfig)
            .args(["--api-listen", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("antrea-nsx starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let first = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line())
            .await
            .expect("a first line")
            .unwrap()
            .unwrap_or_default();
        assert!(
            first.contains("adapter running; API on http://127.0.0.1:"),
            "{command}: {first}"
        );
        child.kill().await.unwrap();
    }
}

/// More refusals, one key each: the file and the key are named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refused_key_is_named() {
    let setup = Setup::start().await;
    let cert_files = setup.mp_conf("");
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "bootstrap.conf",
            "bootstrapFrom: SupervisorCluster\nclusterName: c1\nNSXManagers: [\"127.0.0.1:9\"]\n"
                .to_owned(),
            vec!["bootstrapFrom", "SupervisorCluster"],
        ),
        (
            "bootstrap.conf",
            "NSXManagers: [\"127.0.0.1:9\"]\n".to_owned(),
            vec!["bootstrap.conf", "clusterName"],
        ),
        (
            "bootstrap.conf",
            "clusterName: \"two words\"\nNSXManagers: [\"127.0.0.1:9\"]\n".to_owned(),
            vec!["bootstrap.conf", "clusterName"],
        ),
        (
            "bootstrap.conf",
            "clusterName: c1\nNSXManagers: [\"127.0.0.1:9\"]\nvpcPath: no-slash\n".to_owned(),
            vec!["bootstrap.conf", "vpcPath"],
        ),
        (
            "mp-adapter.conf",
            cert_files.clone(),
            vec![
                "mp-adapter.conf",
                "NSXCAFile",
                "NSXThumbprint",
                "NSXInsecure",
            ],
        ),
        (
            "mp-adapter.conf",
            format!("NSXCAFile: nsx-ca.pem\nNSXInsecure: true\n{cert_files}"),
            vec!["mp-adapter.conf", "NSXCAFile", "NSXInsecure"],
        ),
        (
            "mp-adapter.conf",
            format!("NSXCAFile: nsx-ca.pem\nNSXRemoteAuth: true\n{cert_files}"),
            vec!["mp-adapter.conf", "NSXRemoteAuth"],
        ),
        (
            "mp-adapter.conf",
            format!("NSXCAFile: nsx-ca.pem\nNSXVerifyServerName: false\n{cert_files}"),
            vec!["mp-adapter.conf", "NSXVerifyServerName"],
        ),
        (
            "mp-adapter.conf",
            format!("NSXThumbprint: not-hex\n{cert_files}"),
            vec!["mp-adapter.conf", "NSXThumbprint"],
        ),
        (
            "mp-adapter.conf",
            format!(
                "NSXCAFile: nsx-ca.pem\nEnableDebugServer: true\nDebugServerPort: 16664\n{cert_files}"
            ),
            vec!["mp-adapter.conf", "DebugServerPort"],
        ),
        (
            "mp-adapter.conf",
            format!("NSXCAFile: nsx-ca.pem\nLogFormat: xml\n{cert_files}"),
            vec!["mp-adapter.conf", "LogFormat"],
        ),
        (
            "ccp-adapter.conf",
            "IPFamilies: IPv5\n".to_owned(),
            vec!["ccp-adapter.conf", "IPFamilies"],
        ),
        (
            "ccp-adapter.conf",
            "ReconcilerQPS: 0\n".to_owned(),
            vec!["ccp-adapter.conf", "ReconcilerQPS"],
        ),
        (
            "ccp-adapter.conf",
            "NSXInsecure: false\n".to_owned(),
            vec!["ccp-adapter.conf", "NSXCAFile"],
        ),
    ];
    for (file, text, names) in cases {
        setup.valid();
        setup.write(file, &text);
        for command in ["ccp-adapter", "mp-adapter"] {
            let output = setup.run(command, &[]).await;
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            assert!(
                !output.status.success(),
                "{command} accepted {file}:\n{text}"
            );
            for name in &names {
                assert!(
                    stderr.contains(name),
                    "{command}, {file}:\n{text}\n{name} not named in:\n{stderr}"
                );
            }
        }
    }

    // A key that does not belong to the certificate.
    setup.valid();
    let other = NsxCertificate::generate("c1").unwrap();
    setup.write("nsx-cert/tls.key", &other.private_key_pem);
    for command in ["ccp-adapter", "mp-adapter"] {
        refused(&setup.run(command, &[]).await, &["tls.key"]);
    }
}
