//! `antrea-nsx register` and `deregister` as an operator runs them: against the NSX simulator
//! and the Kubernetes emulator (served on loopback), configuration from the ConfigMaps.

use std::process::Output;

use kube_emu::KubeEmu;
use nsx_sim::{NsxSim, SimConfig};
use tokio_util::sync::CancellationToken;

const PASSWORD: &str = "Admin!23Admin";
const CLUSTER: &str = "cli-cluster";

async fn antrea_nsx(args: &[&str], kubeconfig: &std::path::Path, admin: bool) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_antrea-nsx"));
    command
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .env_remove("NSX_USERNAME")
        .env_remove("NSX_PASSWORD");
    if admin {
        command
            .env("NSX_USERNAME", "admin")
            .env("NSX_PASSWORD", PASSWORD);
    }
    command.output().await.expect("run antrea-nsx")
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_rerun_and_deregister() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let sim = NsxSim::start(SimConfig::new("127.0.0.1:0".parse().unwrap(), PASSWORD))
        .await
        .unwrap();
    let ca = dir.path().join("nsx-ca.crt");
    std::fs::write(&ca, sim.ca_cert_pem()).unwrap();

    let emu = KubeEmu::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let server = {
        let emu = emu.clone();
        let stop = stop.clone();
        tokio::spawn(async move { emu.serve(listener, stop).await })
    };
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        emu.kubeconfig_yaml(&format!("http://{address}")),
    )
    .unwrap();
    emu.seed_yaml(&format!(
        r#"apiVersion: v1
kind: Namespace
metadata: {{name: vmware-system-antrea}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: bootstrap-config, namespace: vmware-system-antrea}}
data:
  bootstrap.conf: |
    bootstrapFrom: Inline
    clusterName: {CLUSTER}
    NSXManagers: ["{}"]
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: antrea-interworking-config, namespace: vmware-system-antrea}}
data:
  mp-adapter.conf: |
    NSXCAFile: {}
"#,
        sim.base_url(),
        ca.display()
    ))
    .unwrap();

    // Without the admin credentials the principal identity cannot be created.
    let output = antrea_nsx(&["register"], &kubeconfig, false).await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("admin credentials"),
        "{}",
        text(&output)
    );

    let output = antrea_nsx(&["register"], &kubeconfig, true).await;
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("created the principal identity"),
        "{stdout}"
    );
    assert!(
        stdout.contains("created the cluster control plane"),
        "{stdout}"
    );
    let registered = sim.registry().cluster(CLUSTER).expect("registered");
    assert!(
        stdout.contains(&format!("cluster id {}", registered.node_id)),
        "{stdout}"
    );

    let output = antrea_nsx(&["register"], &kubeconfig, true).await;
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("already registered; nothing changed"),
        "{}",
        text(&output)
    );

    let output = antrea_nsx(&["deregister"], &kubeconfig, true).await;
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("deleted the principal identity"),
        "{}",
        text(&output)
    );
    assert!(sim.registry().cluster(CLUSTER).is_none());

    stop.cancel();
    server.await.unwrap().unwrap();
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_bad_configuration_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bootstrap.conf"),
        "clusterName: c\nNSXManagers: [nsx]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("mp-adapter.conf"),
        "InventoryBatchSize: 0\nNSXInsecure: true\n",
    )
    .unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, kube_emu::kubeconfig_yaml("http://127.0.0.1:1")).unwrap();
    let output = antrea_nsx(
        &["register", "--config-dir", dir.path().to_str().unwrap()],
        &kubeconfig,
        true,
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("mp-adapter.conf") && stderr.contains("InventoryBatchSize"),
        "{stderr}"
    );
}
