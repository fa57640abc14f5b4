//! The real `kubectl`, with its default flags, against the `antrea-nsx kube-emu` command.
//!
//! Each test starts its own emulator process and drives the installed kubectl through
//! its kubeconfig (with a private `HOME`, so discovery and OpenAPI caches never leak
//! between tests). Without a kubectl on `PATH` the tests print why and pass; CI installs
//! one.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use e2e::KubeEmuProcess;
use serde_json::Value;

/// How long one kubectl invocation may take before the test fails.
const COMMAND_LIMIT: Duration = Duration::from_secs(60);
/// How long a watch may stay silent before the test fails.
const WATCH_LIMIT: Duration = Duration::from_secs(20);

fn antrea_crds() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/antrea-crds/v2.7.0")
}

/// `None` (after saying why) when there is no usable kubectl.
fn kubectl_available() -> bool {
    match Command::new("kubectl")
        .args(["version", "--client"])
        .output()
    {
        Ok(out) if out.status.success() => true,
        _ => {
            eprintln!("skipping: no usable `kubectl` on PATH (CI installs one; see .ci/run)");
            false
        }
    }
}

/// One emulator process and a kubectl pointed at it.
struct Kubectl {
    emu: KubeEmuProcess,
    home: tempfile::TempDir,
}

impl Drop for Kubectl {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("emulator log:\n{}", clip(&self.emu.log()));
        }
    }
}

/// What one kubectl run printed.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Kubectl {
    fn start() -> Kubectl {
        e2e::init_test_env();
        let emu = KubeEmuProcess::start(&[]).expect("start antrea-nsx kube-emu");
        Kubectl {
            emu,
            home: tempfile::tempdir().expect("temp HOME"),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("kubectl");
        command
            .arg("--kubeconfig")
            .arg(self.emu.kubeconfig())
            .args(args)
            .env("HOME", self.home.path())
            .env_remove("KUBECONFIG")
            .env_remove("KUBECTL_EXTERNAL_DIFF")
            .stdin(Stdio::null());
        command
    }

    /// Runs kubectl with `args` (and `env`), waiting at most [`COMMAND_LIMIT`].
    fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = self.command(args);
        command
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = command.spawn().expect("spawn kubectl");
        let output = wait_with_limit(child, COMMAND_LIMIT, args);
        Run {
            ok: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }

    /// Runs kubectl and requires success; returns stdout.
    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert!(
            run.ok,
            "kubectl {args:?} failed\nstdout:\n{}\nstderr:\n{}\nemulator log:\n{}",
            clip(&run.stdout),
            clip(&run.stderr),
            clip(&self.emu.log())
        );
        run.stdout
    }

    /// Runs kubectl and requires success with nothing on stderr (no warnings).
    #[track_caller]
    fn quiet(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert!(
            run.ok && run.stderr.trim().is_empty(),
            "kubectl {args:?}\nstdout:\n{}\nstderr:\n{}",
            clip(&run.stdout),
            clip(&run.stderr)
        );
        run.stdout
    }

    /// Runs kubectl and requires failure; returns stderr.
    #[track_caller]
    fn fails(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert!(
            !run.ok,
            "kubectl {args:?} should fail\nstdout:\n{}\nstderr:\n{}",
            clip(&run.stdout),
            clip(&run.stderr)
        );
        run.stderr
    }

    /// `kubectl get ... -o json`, parsed.
    #[track_caller]
    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&all)).expect("kubectl -o json output")
    }

    /// Writes `contents` to a file in this test's private folder.
    fn file(&self, name: &str, contents: &str) -> String {
        let path = self.home.path().join(name);
        std::fs::write(&path, contents).expect("write manifest");
        path.to_string_lossy().into_owned()
    }

    /// Starts `kubectl get ... -w` and hands its output lines over a channel.
    fn watch(&self, args: &[&str]) -> Watch {
        let mut command = self.command(args);
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn kubectl watch");
        let (lines, receiver) = mpsc::channel();
        let stdout = child.stdout.take().expect("watch stdout");
        let stderr = child.stderr.take().expect("watch stderr");
        let errors = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if errors.send(format!("stderr: {line}")).is_err() {
                    break;
                }
            }
        });
        Watch {
            child,
            lines: receiver,
            seen: Vec::new(),
        }
    }
}

/// Waits for `child` (reading its pipes meanwhile, so a large output cannot stall it),
/// killing it after `limit`.
fn wait_with_limit(mut child: Child, limit: Duration, args: &[&str]) -> Output {
    fn drain(
        pipe: Option<impl std::io::Read + Send + 'static>,
    ) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let started = Instant::now();
    let status = loop {
        match child.try_wait().expect("poll kubectl") {
            Some(status) => break Some(status),
            None if started.elapsed() < limit => std::thread::sleep(Duration::from_millis(10)),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let output = Output {
        status: status.unwrap_or_else(|| child.wait().expect("kubectl status")),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    assert!(
        status.is_some(),
        "kubectl {args:?} did not finish within {limit:?}\nstdout:\n{}\nstderr:\n{}",
        clip(&String::from_utf8_lossy(&output.stdout)),
        clip(&String::from_utf8_lossy(&output.stderr))
    );
    output
}

/// At most the first 4000 characters of `text`, for failure messages.
fn clip(text: &str) -> String {
    match text.char_indices().nth(4000) {
        Some((end, _)) => format!("{}... ({} bytes in all)", &text[..end], text.len()),
        None => text.to_string(),
    }
}

/// A running `kubectl get -w`; killed on drop.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Watch {
    /// Waits for the next output line that contains every one of `needles`.
    #[track_caller]
    fn expect_line(&mut self, needles: &[&str]) -> String {
        let deadline = Instant::now() + WATCH_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if needles.iter().all(|n| line.contains(n)) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "watch printed no line with {needles:?}; it printed:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The cells of a kubectl table line (columns are separated by at least two spaces;
/// kubectl pads with three).
fn cells(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

/// The header and the row named `name` of kubectl's table output.
#[track_caller]
fn table_row(output: &str, name: &str) -> (Vec<String>, Vec<String>) {
    let mut lines = output.lines();
    let header = cells(lines.next().unwrap_or_default());
    let name_column = header.iter().position(|h| h == "NAME").unwrap_or(0);
    let row = lines
        .map(cells)
        .find(|row| row.get(name_column).map(String::as_str) == Some(name))
        .unwrap_or_else(|| panic!("no row {name} in:\n{output}"));
    (header, row)
}

fn header_of(output: &str) -> Vec<String> {
    cells(output.lines().next().unwrap_or_default())
}

const POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web, tier: frontend}
spec:
  nodeName: node-1
  containers:
  - name: app
    image: nginx:1.27
    ports:
    - containerPort: 80
    env:
    - {name: MODE, value: blue}
"#;

const CONFIGMAP: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {app: web}
data:
  color: blue
  size: "3"
"#;

const SERVICE: &str = r#"
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: ClusterIP
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080, protocol: TCP}
"#;

const ACNP: &str = r#"
apiVersion: crd.antrea.io/v1beta1
kind: ClusterNetworkPolicy
metadata:
  name: allow-client-to-web
spec:
  priority: 5
  tier: application
  appliedTo:
  - podSelector:
      matchLabels: {app: web}
  ingress:
  - action: Allow
    from:
    - podSelector:
        matchLabels: {app: client}
    ports:
    - {protocol: TCP, port: 80}
"#;

#[test]
fn discovery_version_and_openapi() {
    if !kubectl_available() {
        return;
    }
    let k = Kubectl::start();
    let resources = k.quiet(&["api-resources"]);
    let (header, pods) = table_row(&resources, "pods");
    assert_eq!(
        header,
        ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    );
    assert_eq!(pods, ["pods", "po", "v1", "true", "Pod"]);
    let (_, leases) = table_row(&resources, "leases");
    assert_eq!(leases[1..], ["coordination.k8s.io/v1", "true", "Lease"]);
    let (_, crds) = table_row(&resources, "customresourcedefinitions");
    assert_eq!(
        crds[1..],
        [
            "crd,crds",
            "apiextensions.k8s.io/v1",
            "false",
            "CustomResourceDefinition"
        ]
    );
    let namespaced = k.ok(&["api-resources", "--namespaced=false", "-o", "name"]);
    assert!(namespaced.lines().any(|l| l == "nodes") && !namespaced.lines().any(|l| l == "pods"));
    let versions = k.ok(&["api-versions"]);
    for gv in [
        "v1",
        "networking.k8s.io/v1",
        "coordination.k8s.io/v1",
        "apiextensions.k8s.io/v1",
    ] {
        assert!(
            versions.lines().any(|l| l == gv),
            "{gv} missing from:\n{versions}"
        );
    }

    let version: Value = serde_json::from_str(&k.ok(&["get", "--raw", "/version"])).unwrap();
    assert_eq!(
        (version["major"].as_str(), version["minor"].as_str()),
        (Some("1"), Some("33"))
    );
    let server = k.ok(&["version", "-o", "json"]);
    let server: Value = serde_json::from_str(&server).unwrap();
    assert!(
        server["serverVersion"]["gitVersion"]
            .as_str()
            .unwrap()
            .starts_with("v1.33")
    );
    // kubectl asks for aggregated discovery first and gets it.
    let fresh_cache = k.home.path().join("fresh-cache");
    let discovery = k.run(&[
        "api-resources",
        "-v=8",
        "--cache-dir",
        &fresh_cache.to_string_lossy(),
    ]);
    assert!(discovery.ok);
    assert!(
        discovery.stderr.contains(
            "Content-Type: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        ),
        "kubectl did not get aggregated discovery:\n{}",
        discovery.stderr
    );

    // OpenAPI: the v3 index and documents, `kubectl explain` (which reads them), and v2.
    let index: Value = serde_json::from_str(&k.ok(&["get", "--raw", "/openapi/v3"])).unwrap();
    let core_url = index["paths"]["api/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(core_url.starts_with("/openapi/v3/api/v1?hash="));
    let core: Value = serde_json::from_str(&k.ok(&["get", "--raw", &core_url])).unwrap();
    assert_eq!(core["openapi"], "3.0.0");
    let explain = k.quiet(&["explain", "pods.spec.containers.ports"]);
    assert!(
        explain.contains("FIELD: ports <[]ContainerPort>") && explain.contains("containerPort"),
        "{explain}"
    );
    let swagger: Value = serde_json::from_str(&k.ok(&["get", "--raw", "/openapi/v2"])).unwrap();
    assert_eq!(swagger["swagger"], "2.0");
    assert!(swagger["definitions"]["io.k8s.api.core.v1.Pod"].is_object());
    assert_eq!(k.ok(&["get", "--raw", "/healthz"]), "ok");
    assert_eq!(k.ok(&["get", "--raw", "/readyz"]), "ok");
}

#[test]
fn get_in_every_output_format() {
    if !kubectl_available() {
        return;
    }
    let k = Kubectl::start();
    assert!(
        k.run(&["get", "pods"])
            .stderr
            .contains("No resources found in default namespace.")
    );
    k.ok(&["create", "-f", &k.file("pod.yaml", POD)]);
    k.ok(&["create", "-f", &k.file("cm.yaml", CONFIGMAP)]);
    k.ok(&["create", "-f", &k.file("svc.yaml", SERVICE)]);
    k.ok(&[
        "create",
        "-f",
        &k.file(
            "ns.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n",
        ),
    ]);
    let other = CONFIGMAP.replace("name: settings", "name: elsewhere\n  namespace: team-a");
    k.ok(&["apply", "-f", &k.file("cm-team-a.yaml", &other)]);

    // The server's Table: kube-apiserver's pod columns, wide columns only with -o wide.
    let (header, row) = table_row(&k.quiet(&["get", "pods"]), "web");
    assert_eq!(header, ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    assert_eq!(row[..4], ["web", "0/1", "Pending", "0"]);
    let (header, row) = table_row(&k.quiet(&["get", "pods", "-o", "wide"]), "web");
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED NODE",
            "READINESS GATES"
        ]
    );
    assert_eq!(row[5..], ["<none>", "node-1", "<none>", "<none>"]);
    let (header, row) = table_row(&k.quiet(&["get", "configmaps"]), "settings");
    assert_eq!(header, ["NAME", "DATA", "AGE"]);
    assert_eq!(row[1], "2");
    let (header, row) = table_row(&k.quiet(&["get", "svc", "-o", "wide"]), "web");
    assert_eq!(
        header,
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE",
            "SELECTOR"
        ]
    );
    assert_eq!(
        (
            row[1].as_str(),
            row[3].as_str(),
            row[4].as_str(),
            row[6].as_str()
        ),
        ("ClusterIP", "<none>", "80/TCP", "app=web")
    );
    let (header, row) = table_row(&k.quiet(&["get", "namespaces"]), "team-a");
    assert_eq!(header, ["NAME", "STATUS", "AGE"]);
    assert_eq!(row[1], "Active");
    let (header, row) = table_row(&k.quiet(&["get", "pods", "--show-labels"]), "web");
    assert_eq!(header.last().map(String::as_str), Some("LABELS"));
    assert_eq!(
        row.last().map(String::as_str),
        Some("app=web,tier=frontend")
    );

    // Plain objects: yaml, json, name, jsonpath, custom-columns.
    let yaml = k.quiet(&["get", "pod", "web", "-o", "yaml"]);
    assert!(
        yaml.contains("kind: Pod")
            && yaml.contains("image: nginx:1.27")
            && yaml.contains("resourceVersion:"),
        "{yaml}"
    );
    let pod = k.json(&["get", "pod", "web"]);
    assert_eq!(pod["metadata"]["namespace"], "default");
    assert!(
        pod["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| !u.is_empty())
    );
    let list = k.json(&["get", "pods"]);
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"][0]["metadata"]["name"], "web");
    assert_eq!(
        k.quiet(&["get", "pods,cm", "-o", "name"]),
        "pod/web\nconfigmap/settings\n"
    );
    assert_eq!(
        k.quiet(&[
            "get",
            "pod",
            "web",
            "-o",
            "jsonpath={.spec.containers[0].image} {.metadata.labels.tier}"
        ]),
        "nginx:1.27 frontend"
    );
    let columns = k.quiet(&[
        "get",
        "cm",
        "-o",
        "custom-columns=NAME:.metadata.name,COLOR:.data.color",
    ]);
    assert_eq!(table_row(&columns, "settings").1, ["settings", "blue"]);

    // Selectors and namespaces.
    assert_eq!(
        k.quiet(&["get", "pods", "-l", "tier=frontend", "-o", "name"]),
        "pod/web\n"
    );
    assert!(
        k.run(&["get", "pods", "-l", "tier in (backend)"])
            .stderr
            .contains("No resources found")
    );
    assert_eq!(
        k.quiet(&[
            "get",
            "pods",
            "--field-selector",
            "metadata.name=web",
            "-o",
            "name"
        ]),
        "pod/web\n"
    );
    assert_eq!(
        k.quiet(&[
            "get",
            "pods",
            "--field-selector",
            "spec.nodeName=node-1",
            "-o",
            "name"
        ]),
        "pod/web\n"
    );
    assert!(
        k.run(&["get", "pods", "--field-selector", "status.phase=Running"])
            .stderr
            .contains("No resources found")
    );
    let all = k.quiet(&["get", "configmaps", "-A"]);
    assert_eq!(header_of(&all), ["NAMESPACE", "NAME", "DATA", "AGE"]);
    assert!(
        all.lines()
            .any(|l| cells(l)[..2] == ["team-a", "elsewhere"]),
        "{all}"
    );
    assert!(
        all.lines()
            .any(|l| cells(l)[..2] == ["default", "settings"]),
        "{all}"
    );
    assert_eq!(
        k.quiet(&["get", "cm", "-n", "team-a", "-o", "name"]),
        "configmap/elsewhere\n"
    );
    let missing = k.fails(&["get", "pod", "nope"]);
    assert!(missing.contains(r#"pods "nope" not found"#), "{missing}");
}

#[test]
fn create_apply_patch_edit_label_annotate_delete() {
    if !kubectl_available() {
        return;
    }
    let k = Kubectl::start();
    let pod_file = k.file("pod.yaml", POD);
    assert_eq!(k.quiet(&["create", "-f", &pod_file]), "pod/web created\n");
    let exists = k.fails(&["create", "-f", &pod_file]);
    assert!(
        exists.contains("AlreadyExists") && exists.contains(r#"pods "web" already exists"#),
        "{exists}"
    );

    // Client-side apply: create, no-op, then a change computed as a three-way patch.
    let cm_file = k.file("cm.yaml", CONFIGMAP);
    assert_eq!(
        k.quiet(&["apply", "-f", &cm_file]),
        "configmap/settings created\n"
    );
    assert_eq!(
        k.quiet(&["apply", "-f", &cm_file]),
        "configmap/settings unchanged\n"
    );
    let changed = CONFIGMAP
        .replace("color: blue", "color: green")
        .replace("  size: \"3\"\n", "");
    let cm_file = k.file("cm.yaml", &changed);
    assert_eq!(
        k.quiet(&["apply", "-f", &cm_file]),
        "configmap/settings configured\n"
    );
    let cm = k.json(&["get", "cm", "settings"]);
    assert_eq!(
        cm["data"],
        serde_json::json!({"color": "green"}),
        "the field dropped from the manifest is pruned"
    );
    assert!(
        cm["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .is_string()
    );

    // Applying a built-in with a list merges by key (strategic merge patch from OpenAPI).
    let svc_file = k.file("svc.yaml", SERVICE);
    k.quiet(&["apply", "-f", &svc_file]);
    let two_ports = SERVICE.replace(
        "  - {name: http, port: 80, targetPort: 8080, protocol: TCP}\n",
        "  - {name: http, port: 80, targetPort: 8081, protocol: TCP}\n  - {name: https, port: 443, targetPort: 8443, protocol: TCP}\n",
    );
    assert_eq!(
        k.quiet(&["apply", "-f", &k.file("svc.yaml", &two_ports)]),
        "service/web configured\n"
    );
    let ports = k.quiet(&[
        "get",
        "svc",
        "web",
        "-o",
        "jsonpath={range .spec.ports[*]}{.name}:{.targetPort} {end}",
    ]);
    assert_eq!(ports.trim(), "http:8081 https:8443");

    // Server-side apply, then again with a changed field, then a conflicting manager.
    let ssa = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  owner: kubectl\n";
    assert_eq!(
        k.quiet(&["apply", "--server-side", "-f", &k.file("ssa.yaml", ssa)]),
        "configmap/ssa serverside-applied\n"
    );
    let ssa2 = ssa.replace("owner: kubectl", "owner: kubectl-2");
    assert_eq!(
        k.quiet(&["apply", "--server-side", "-f", &k.file("ssa.yaml", &ssa2)]),
        "configmap/ssa serverside-applied\n"
    );
    assert_eq!(
        k.quiet(&["get", "cm", "ssa", "-o", "jsonpath={.data.owner}"]),
        "kubectl-2"
    );
    let managers = k.quiet(&[
        "get",
        "cm",
        "ssa",
        "--show-managed-fields",
        "-o",
        "jsonpath={.metadata.managedFields[*].manager}",
    ]);
    assert!(managers.split(' ').any(|m| m == "kubectl"), "{managers}");
    let conflict = k.fails(&[
        "apply",
        "--server-side",
        "--field-manager",
        "other",
        "-f",
        &k.file("ssa3.yaml", &ssa.replace("owner: kubectl", "owner: other")),
    ]);
    assert!(conflict.contains("conflict"), "{conflict}");
    k.quiet(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager",
        "other",
        "-f",
        &k.file("ssa3.yaml", &ssa.replace("owner: kubectl", "owner: other")),
    ]);
    assert_eq!(
        k.quiet(&["get", "cm", "ssa", "-o", "jsonpath={.data.owner}"]),
        "other"
    );

    // Patches of every type.
    assert_eq!(
        k.quiet(&[
            "patch",
            "cm",
            "settings",
            "--type",
            "merge",
            "-p",
            r#"{"data":{"merge":"yes"}}"#
        ]),
        "configmap/settings patched\n"
    );
    k.quiet(&[
        "patch",
        "cm",
        "settings",
        "--type",
        "json",
        "-p",
        r#"[{"op":"add","path":"/data/json","value":"yes"},{"op":"remove","path":"/data/merge"}]"#,
    ]);
    assert_eq!(
        k.json(&["get", "cm", "settings"])["data"],
        serde_json::json!({"color": "green", "json": "yes"})
    );
    let bad_json_patch = k.fails(&[
        "patch",
        "cm",
        "settings",
        "--type",
        "json",
        "-p",
        r#"[{"op":"test","path":"/data/color","value":"red"}]"#,
    ]);
    assert!(!bad_json_patch.is_empty());
    // The default patch type is strategic: containers merge by name.
    k.quiet(&[
        "patch",
        "pod",
        "web",
        "-p",
        r#"{"spec":{"containers":[{"name":"app","image":"nginx:1.28"}]}}"#,
    ]);
    let pod = k.json(&["get", "pod", "web"]);
    assert_eq!(pod["spec"]["containers"][0]["image"], "nginx:1.28");
    assert_eq!(
        pod["spec"]["containers"][0]["ports"][0]["containerPort"], 80,
        "strategic merge kept the other fields"
    );
    k.quiet(&[
        "patch",
        "pod",
        "web",
        "--type",
        "strategic",
        "-p",
        r#"{"spec":{"containers":[{"name":"app","env":[{"name":"EXTRA","value":"1"}]}]}}"#,
    ]);
    let env = k.quiet(&[
        "get",
        "pod",
        "web",
        "-o",
        "jsonpath={.spec.containers[0].env[*].name}",
    ]);
    assert_eq!(
        env, "EXTRA MODE",
        "keyed items new in the patch come first, as kube orders them"
    );

    // Labels and annotations (merge patches).
    assert_eq!(
        k.quiet(&["label", "pod", "web", "env=prod"]),
        "pod/web labeled\n"
    );
    let relabel = k.fails(&["label", "pod", "web", "env=dev"]);
    assert!(relabel.contains("already has a value (prod)"), "{relabel}");
    k.quiet(&["label", "pod", "web", "env=dev", "--overwrite"]);
    k.quiet(&["label", "pod", "web", "tier-"]);
    assert_eq!(
        k.quiet(&["annotate", "pod", "web", "owner=team-a"]),
        "pod/web annotated\n"
    );
    let pod = k.json(&["get", "pod", "web"]);
    assert_eq!(
        pod["metadata"]["labels"],
        serde_json::json!({"app": "web", "env": "dev"})
    );
    assert_eq!(pod["metadata"]["annotations"]["owner"], "team-a");

    // kubectl edit with an editor script that changes the object.
    let editor = k.file(
        "editor.sh",
        "#!/bin/sh\nsed -i 's/color: green/color: edited/' \"$1\"\n",
    );
    make_executable(&editor);
    let edit = k.run_env(
        &["edit", "cm", "settings"],
        &[("EDITOR", &editor), ("KUBE_EDITOR", &editor)],
    );
    assert!(edit.ok, "{}\n{}", edit.stdout, edit.stderr);
    assert_eq!(edit.stdout, "configmap/settings edited\n");
    assert_eq!(
        k.quiet(&["get", "cm", "settings", "-o", "jsonpath={.data.color}"]),
        "edited"
    );
    let noop_editor = k.file("noop.sh", "#!/bin/sh\ntrue\n");
    make_executable(&noop_editor);
    let edit = k.run_env(
        &["edit", "pod", "web"],
        &[("EDITOR", &noop_editor), ("KUBE_EDITOR", &noop_editor)],
    );
    assert!(
        edit.ok && edit.stderr.contains("Edit cancelled, no changes made."),
        "{}",
        edit.stderr
    );

    // A status update through the subresource leaves the spec alone.
    k.quiet(&[
        "patch",
        "pod",
        "web",
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        r#"{"status":{"phase":"Running","podIP":"10.1.0.7","podIPs":[{"ip":"10.1.0.7"}]}}"#,
    ]);
    let (_, row) = table_row(&k.quiet(&["get", "pod", "web", "-o", "wide"]), "web");
    assert_eq!((row[2].as_str(), row[5].as_str()), ("Running", "10.1.0.7"));

    // Deletes.
    assert_eq!(
        k.quiet(&["delete", "cm", "settings"]),
        "configmap \"settings\" deleted\n"
    );
    assert!(
        k.fails(&["delete", "cm", "settings"])
            .contains(r#"configmaps "settings" not found"#)
    );
    assert_eq!(
        k.quiet(&["delete", "-f", &pod_file]),
        "pod \"web\" deleted\n"
    );
    k.quiet(&["delete", "cm", "-l", "app=web", "--ignore-not-found"]);
    assert!(
        k.run(&["get", "pods"])
            .stderr
            .contains("No resources found")
    );
}

#[test]
fn watch_prints_changes_until_killed() {
    if !kubectl_available() {
        return;
    }
    let k = Kubectl::start();
    k.quiet(&["apply", "-f", &k.file("cm.yaml", CONFIGMAP)]);
    let mut watch = k.watch(&["get", "configmaps", "-w"]);
    let header = watch.expect_line(&["NAME"]);
    assert_eq!(cells(&header), ["NAME", "DATA", "AGE"]);
    watch.expect_line(&["settings", "2"]);
    k.quiet(&[
        "patch",
        "cm",
        "settings",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"third":"3"}}"#,
    ]);
    let modified = watch.expect_line(&["settings"]);
    assert_eq!(
        cells(&modified)[..2],
        ["settings", "3"],
        "the watch event is a Table row too"
    );
    k.quiet(&[
        "create",
        "-f",
        &k.file(
            "cm2.yaml",
            &CONFIGMAP.replace("name: settings", "name: second"),
        ),
    ]);
    watch.expect_line(&["second", "2"]);
    k.quiet(&["delete", "cm", "second"]);
    watch.expect_line(&["second"]);
    drop(watch);

    // --output-watch-events names each event in its own column.
    let mut events = k.watch(&["get", "configmaps", "-w", "--output-watch-events"]);
    let header = events.expect_line(&["EVENT"]);
    assert_eq!(cells(&header), ["EVENT", "NAME", "DATA", "AGE"]);
    assert_eq!(
        cells(&events.expect_line(&["settings"]))[..3],
        ["ADDED", "settings", "3"]
    );
    k.quiet(&["label", "cm", "settings", "seen=yes"]);
    assert_eq!(
        cells(&events.expect_line(&["settings"]))[..2],
        ["MODIFIED", "settings"]
    );
    k.quiet(&["delete", "cm", "settings"]);
    assert_eq!(
        cells(&events.expect_line(&["settings"]))[..2],
        ["DELETED", "settings"]
    );
}

#[test]
fn wait_for_condition_jsonpath_and_delete() {
    if !kubectl_available() {
        return;
    }
    let k = Kubectl::start();
    k.quiet(&["create", "-f", &k.file("pod.yaml", POD)]);
    let not_yet = k.fails(&["wait", "--for=condition=Ready", "pod/web", "--timeout=1s"]);
    assert!(not_yet.contains("timed out"), "{not_yet}");

    // Another client makes the pod Ready while kubectl waits.
    let mut waiting = k.command(&["wait", "--for=condition=Ready", "pod/web", "--timeout=30s"]);
    waiting.stdout(Stdio::piped()).stderr(Stdio::piped());
    let waiting = waiting.spawn().expect("spawn kubectl wait");
    std::thread::sleep(Duration::from_millis(300));
    k.quiet(&[
        "patch",
        "pod",
        "web",
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        r#"{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}"#,
    ]);
    let output = wait_with_limit(waiting, COMMAND_LIMIT, &["wait", "--for=condition=Ready"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "pod/web condition met\n"
    );

    assert_eq!(
        k.quiet(&[
            "wait",
            "--for=jsonpath={.status.phase}=Running",
            "pod/web",
            "--timeout=10s"
        ]),
        "pod/web condition met\n"
    );
    assert_eq!(
        k.quiet(&[
            "wait",
            "--for=condition=Ready=true",
            "pod",
            "-l",
            "app=web",
            "--timeout=10s"
        ]),
        "pod/web condition met\n"
    );

    let mut waiting = k.command(&["wait", "--for=delete", "pod/web", "--timeout=30s"]);
    waiting.stdout(Stdio::piped()).stderr(Stdio::piped());
    let waiting = waiting.spawn().expect("spawn kubectl wait");
    std::thread::sleep(Duration::from_millis(300));
    k.quiet(&["delete", "pod", "web", "--wait=false"]);
    let output = wait_with_limit(waiting, COMMAND_LIMIT, &["wait", "--for=delete"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "pod/web condition met\n"
    );
}

#[test]
fn antrea_crds_and_a_cluster_network_policy() {
    if !kubectl_available() {
        return;
    }
    let k = Kubectl::start();
    let crds = antrea_crds();
    let crds = crds.to_string_lossy();
    let applied = k.quiet(&["apply", "-f", &crds]);
    assert_eq!(applied.lines().count(), 11, "{applied}");
    assert!(applied.contains(
        "customresourcedefinition.apiextensions.k8s.io/clusternetworkpolicies.crd.antrea.io created"
    ));
    assert!(
        k.quiet(&["apply", "-f", &crds])
            .lines()
            .all(|l| l.ends_with(" unchanged"))
    );
    let (header, row) = table_row(&k.quiet(&["get", "crd"]), "tiers.crd.antrea.io");
    assert_eq!(header, ["NAME", "CREATED AT"]);
    assert!(row[1].ends_with('Z'), "{row:?}");

    let resources = k.quiet(&["api-resources", "--api-group=crd.antrea.io"]);
    let (_, acnp) = table_row(&resources, "clusternetworkpolicies");
    assert_eq!(
        acnp,
        [
            "clusternetworkpolicies",
            "acnp",
            "crd.antrea.io/v1beta1",
            "false",
            "ClusterNetworkPolicy"
        ]
    );
    let (_, anp) = table_row(&resources, "networkpolicies");
    assert_eq!(
        anp[1..],
        ["annp,anp", "crd.antrea.io/v1beta1", "true", "NetworkPolicy"]
    );

    // Create and read back through the short name, with the CRD's printer columns.
    let file = k.file("acnp.yaml", ACNP);
    assert_eq!(
        k.quiet(&["create", "-f", &file]),
        "clusternetworkpolicy.crd.antrea.io/allow-client-to-web created\n"
    );
    let (header, row) = table_row(&k.quiet(&["get", "acnp"]), "allow-client-to-web");
    assert_eq!(
        header,
        [
            "NAME",
            "TIER",
            "PRIORITY",
            "DESIRED NODES",
            "CURRENT NODES",
            "AGE"
        ]
    );
    assert_eq!(row[..3], ["allow-client-to-web", "application", "5"]);
    let policy = k.json(&["get", "clusternetworkpolicy", "allow-client-to-web"]);
    assert_eq!(policy["spec"]["ingress"][0]["ports"][0]["port"], 80);
    assert_eq!(policy["metadata"]["generation"], 1);

    // Status through the subresource fills the node columns.
    k.quiet(&["patch", "acnp", "allow-client-to-web", "--subresource=status", "--type", "merge", "-p", r#"{"status":{"phase":"Realized","observedGeneration":1,"desiredNodesRealized":3,"currentNodesRealized":2}}"#]);
    let (_, row) = table_row(&k.quiet(&["get", "acnp"]), "allow-client-to-web");
    assert_eq!(row[1..5], ["application", "5", "3", "2"]);
    assert_eq!(
        k.quiet(&[
            "wait",
            "--for=jsonpath={.status.phase}=Realized",
            "acnp/allow-client-to-web",
            "--timeout=10s"
        ]),
        "clusternetworkpolicy.crd.antrea.io/allow-client-to-web condition met\n"
    );

    // Watch while patching (merge and JSON patches), then see the 415 for a strategic one.
    let mut watch = k.watch(&["get", "acnp", "-w"]);
    assert_eq!(
        cells(&watch.expect_line(&["NAME"])),
        [
            "NAME",
            "TIER",
            "PRIORITY",
            "DESIRED NODES",
            "CURRENT NODES",
            "AGE"
        ]
    );
    watch.expect_line(&["allow-client-to-web", "application"]);
    k.quiet(&[
        "patch",
        "acnp",
        "allow-client-to-web",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"priority":7}}"#,
    ]);
    let row = watch.expect_line(&["allow-client-to-web", "7"]);
    assert_eq!(cells(&row)[1..3], ["application", "7"]);
    k.quiet(&[
        "patch",
        "acnp",
        "allow-client-to-web",
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/spec/tier","value":"securityops"}]"#,
    ]);
    watch.expect_line(&["allow-client-to-web", "securityops"]);
    let strategic = k.fails(&[
        "patch",
        "acnp",
        "allow-client-to-web",
        "-p",
        r#"{"spec":{"priority":8}}"#,
    ]);
    assert!(
        strategic.contains("application/strategic-merge-patch+json is not supported by crd.antrea.io/v1beta1, Kind=ClusterNetworkPolicy")
            && strategic.contains("application/merge-patch+json"),
        "{strategic}"
    );
    assert_eq!(
        k.json(&["get", "acnp", "allow-client-to-web"])["metadata"]["generation"],
        3
    );

    // Client-side apply of a custom resource: a JSON merge patch (kubectl asks for the v2
    // document, gets 406 and falls back), then server-side apply.
    let applied = k.run(&[
        "apply",
        "-f",
        &k.file("acnp.yaml", &ACNP.replace("priority: 5", "priority: 9")),
        "-v=6",
    ]);
    assert!(applied.ok, "{}", applied.stderr);
    assert_eq!(
        applied.stdout,
        "clusternetworkpolicy.crd.antrea.io/allow-client-to-web configured\n"
    );
    assert!(
        !applied.stderr.contains("error calculating patch"),
        "{}",
        applied.stderr
    );
    assert!(
        applied
            .stderr
            .lines()
            .any(|l| l.contains("/openapi/v2") && l.contains("406")),
        "{}",
        applied.stderr
    );
    let policy = k.json(&["get", "acnp", "allow-client-to-web"]);
    assert_eq!(
        (
            policy["spec"]["priority"].as_f64(),
            policy["spec"]["tier"].as_str()
        ),
        (Some(9.0), Some("application"))
    );
    let ssa = k.quiet(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        &k.file("acnp.yaml", &ACNP.replace("priority: 5", "priority: 10")),
    ]);
    assert_eq!(
        ssa,
        "clusternetworkpolicy.crd.antrea.io/allow-client-to-web serverside-applied\n"
    );
    watch.expect_line(&["allow-client-to-web", "10"]);

    // Objects that break the CRD schema are rejected with kube's 422 message.
    let bad = ACNP
        .replace("name: allow-client-to-web", "name: bad-priority")
        .replace("priority: 5", "priority: high");
    let invalid = k.fails(&["create", "-f", &k.file("bad.yaml", &bad)]);
    assert!(
        invalid.contains(r#"The ClusterNetworkPolicy "bad-priority" is invalid"#),
        "{invalid}"
    );
    assert!(invalid.contains("spec.priority"), "{invalid}");
    let bad_action = ACNP
        .replace("name: allow-client-to-web", "name: bad-action")
        .replace("action: Allow", "action: Permit");
    let invalid = k.fails(&["apply", "-f", &k.file("bad2.yaml", &bad_action)]);
    assert!(
        invalid.contains(r#"The ClusterNetworkPolicy "bad-action" is invalid"#)
            && invalid.contains("spec.ingress[0].action"),
        "{invalid}"
    );
    let unknown = ACNP
        .replace("name: allow-client-to-web", "name: unknown-field")
        .replace(
            "  tier: application\n",
            "  tier: application\n  colour: red\n",
        );
    let strict = k.fails(&["create", "-f", &k.file("bad3.yaml", &unknown)]);
    assert!(
        strict.contains(r#"unknown field "spec.colour""#),
        "{strict}"
    );
    assert!(
        k.run(&["get", "acnp", "bad-priority"])
            .stderr
            .contains("NotFound")
    );

    // Delete, seen by the watch.
    assert_eq!(
        k.quiet(&["delete", "acnp", "allow-client-to-web"]),
        "clusternetworkpolicy.crd.antrea.io \"allow-client-to-web\" deleted\n"
    );
    watch.expect_line(&["allow-client-to-web"]);
    assert!(
        k.run(&["get", "acnp"])
            .stderr
            .contains("No resources found")
    );
}

fn make_executable(path: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod editor");
}
