//! The command line as a user meets it: help, and errors that name what is wrong.

use std::process::Command;

fn antrea_nsx() -> Command {
    Command::new(env!("CARGO_BIN_EXE_antrea-nsx"))
}

#[test]
fn help_lists_the_subcommands() {
    let output = antrea_nsx().arg("--help").output().expect("run antrea-nsx");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("kube-emu"), "help was:\n{text}");
}

#[test]
fn a_bad_log_filter_is_refused_with_its_name() {
    let output = antrea_nsx()
        .args([
            "--log-level",
            "info,=[",
            "kube-emu",
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .expect("run antrea-nsx");
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(text.contains("--log-level"), "stderr was:\n{text}");
}

#[test]
fn kube_emu_names_a_missing_crd_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such-folder");
    let output = antrea_nsx()
        .args(["kube-emu", "--listen", "127.0.0.1:0", "--kubeconfig-out"])
        .arg(dir.path().join("kubeconfig"))
        .arg("--crds")
        .arg(&missing)
        .output()
        .expect("run antrea-nsx");
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(text.contains("no-such-folder"), "stderr was:\n{text}");
}
