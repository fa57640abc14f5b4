//! `antrea-nsx sandbox --once`, as the README's first command runs it: the whole system on
//! loopback, the scripted tour, exit 0 only when every step passed.

use std::process::Command;

#[test]
fn sandbox_tour_passes_and_writes_the_env_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env_file = dir.path().join("sandbox.env");
    let output = Command::new(env!("CARGO_BIN_EXE_antrea-nsx"))
        .args(["--log-level", "warn", "sandbox", "--once"])
        .args([
            "--kube-listen",
            "127.0.0.1:0",
            "--nsx-listen",
            "127.0.0.1:0",
        ])
        .args([
            "--rpc-listen",
            "127.0.0.1:0",
            "--mp-api-listen",
            "127.0.0.1:0",
        ])
        .args(["--ccp-api-listen", "127.0.0.1:0", "--step-timeout-s", "120"])
        .arg("--dir")
        .arg(dir.path().join("sandbox"))
        .arg("--env-file")
        .arg(&env_file)
        .output()
        .expect("run antrea-nsx sandbox");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the tour failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("tour: 8 of 8 steps passed"), "{stdout}");
    assert!(!stdout.contains("[FAIL]"), "{stdout}");
    let env = std::fs::read_to_string(&env_file).expect("env file written");
    for key in [
        "KUBECONFIG=",
        "NSX_MANAGER=",
        "NSX_USERNAME=",
        "NSX_PASSWORD=",
        "NSX_CLUSTER=",
    ] {
        assert!(
            env.lines().any(|line| line.starts_with(key)),
            "{key} missing from:\n{env}"
        );
    }
    let kubeconfig = env
        .lines()
        .find_map(|line| line.strip_prefix("KUBECONFIG="))
        .expect("KUBECONFIG line");
    assert!(std::path::Path::new(kubeconfig).is_file(), "{kubeconfig}");
}
