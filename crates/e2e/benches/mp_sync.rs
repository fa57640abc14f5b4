//! MP adapter benchmark: initial inventory sync of 50,000 Pods, 5,000 Services, 500
//! Namespaces and 200 Nodes into nsx-sim, the adapter's peak memory, and the latency from a
//! Pod's creation to its record in NSX under a steady churn of 200 Pods per second.
//!
//! Method. The bench binary runs twice: a *server* child process (re-executed with
//! `MP_BENCH_ROLE=server`) holds kube-emu (served over HTTP on 127.0.0.1, seeded directly in
//! its store with the cluster: Nodes, Namespaces, Services, running Pods with addresses, the
//! Antrea monitoring objects) and nsx-sim (HTTPS REST and the adapter channel); the *parent*
//! runs only the MP adapter, so the parent's peak resident set (`VmHWM` of
//! `/proc/self/status`) is the adapter's peak memory (its runtime, watches, projection,
//! index, REST client and batches; nothing of the emulators). Initial sync time runs from
//! `MpAdapter::start` to the status `initial_sync_done` (ContainerCluster created, every kind
//! listed, NSX listed, every record sent and acknowledged). Churn runs in the server: it
//! creates Pods at a steady rate (and deletes each one 5 s after its creation), watches
//! nsx-sim's store commits, and takes, per Pod, the time from the API server's answer to its
//! create until the commit that wrote its record in NSX.
//!
//! `MP_BENCH_SCALE` (default 1) scales Pods, Services and Namespaces; `MP_BENCH_CHURN_SECS`
//! (default 20) the churn phase; `MP_BENCH_CHURN_RATE` (default 200) Pods per second.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

const ROLE: &str = "MP_BENCH_ROLE";
const PASSWORD: &str = "Admin!23Admin";
const CLUSTER: &str = "mp-bench";
const NODES: usize = 200;

fn scale() -> f64 {
    std::env::var("MP_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0)
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if std::env::var_os(ROLE).is_some() {
        runtime.block_on(server())
    } else {
        runtime.block_on(adapter())
    }
}

// ------------------------------------------------------------------------------- server

struct Sizes {
    namespaces: usize,
    services: usize,
    pods: usize,
}

fn sizes() -> Sizes {
    let s = scale();
    Sizes {
        namespaces: ((500.0 * s) as usize).max(1),
        services: ((5_000.0 * s) as usize).max(1),
        pods: ((50_000.0 * s) as usize).max(1),
    }
}

fn list(items: Vec<Value>) -> String {
    json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string()
}

/// Seeds `items` in Lists of 400 (the YAML reader has a node budget per document).
fn seed_all(emu: &kube_emu::KubeEmu, items: Vec<Value>) -> anyhow::Result<()> {
    for chunk in items.chunks(400) {
        emu.seed_yaml(&list(chunk.to_vec()))?;
    }
    Ok(())
}

fn now_rfc3339() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .round(k8s_openapi::jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// Seeds kube-emu's store with the cluster.
fn seed(emu: &kube_emu::KubeEmu, sizes: &Sizes) -> anyhow::Result<()> {
    for crd in antrea_types::crds() {
        emu.apply_crd(serde_json::to_value(crd)?)?;
    }
    let now = now_rfc3339();
    let nodes: Vec<Value> = (0..NODES)
        .map(|i| {
            json!({"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": format!("node-{i}"), "labels": {"kubernetes.io/hostname": format!("node-{i}"), "kubernetes.io/os": "linux"}},
                "spec": {"podCIDR": format!("10.{}.{}.0/24", 10 + i / 256, i % 256), "podCIDRs": [format!("10.{}.{}.0/24", 10 + i / 256, i % 256)]},
                "status": {"addresses": [{"type": "InternalIP", "address": format!("172.18.{}.{}", i / 250, i % 250 + 2)}],
                           "nodeInfo": {"kubeletVersion": "v1.33.1", "osImage": "Debian GNU/Linux 12", "architecture": "amd64",
                                        "bootID": "", "containerRuntimeVersion": "containerd://1.7", "kernelVersion": "6.1",
                                        "kubeProxyVersion": "", "machineID": "", "operatingSystem": "linux", "systemUUID": ""}}})
        })
        .collect();
    seed_all(emu, nodes)?;
    let namespaces: Vec<Value> = (0..sizes.namespaces)
        .map(|i| {
            json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": format!("ns-{i}"), "labels": {"team": format!("team-{}", i % 20), "kubernetes.io/metadata.name": format!("ns-{i}")}}})
        })
        .collect();
    seed_all(emu, namespaces)?;
    let services: Vec<Value> = (0..sizes.services)
        .map(|j| {
            json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": format!("svc-{j}"), "namespace": format!("ns-{}", j % sizes.namespaces), "labels": {"app": format!("app-{j}")}},
                "spec": {"selector": {"app": format!("app-{j}")}, "type": "ClusterIP",
                         "clusterIP": format!("10.96.{}.{}", j / 250 + 1, j % 250 + 1), "clusterIPs": [format!("10.96.{}.{}", j / 250 + 1, j % 250 + 1)],
                         "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}})
        })
        .collect();
    seed_all(emu, services)?;
    // Pods: Pod p belongs to Service p % services, in that Service's Namespace.
    for chunk in (0..sizes.pods).collect::<Vec<_>>().chunks(5_000) {
        let pods: Vec<Value> = chunk
            .iter()
            .map(|&p| {
                let service = p % sizes.services;
                let node = p % NODES;
                let ip = format!("10.{}.{}.{}", 10 + node / 256, node % 256, (p / NODES) % 250 + 2);
                json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": format!("pod-{p}"), "namespace": format!("ns-{}", service % sizes.namespaces),
                                 "labels": {"app": format!("app-{service}"), "pod-template-hash": "5d8f7c9b6"}},
                    "spec": {"nodeName": format!("node-{node}"), "containers": [{"name": "main", "image": "nginx:1.27", "ports": [{"name": "http", "containerPort": 8080}]}]},
                    "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": format!("172.18.{}.{}", node / 250, node % 250 + 2),
                               "startTime": now,
                               "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now},
                                              {"type": "ContainersReady", "status": "True", "lastTransitionTime": now}]}})
            })
            .collect();
        seed_all(emu, pods)?;
    }
    let condition = |kind: &str| json!({"type": kind, "status": "True", "lastHeartbeatTime": now});
    let mut antrea = vec![
        json!({"apiVersion": "crd.antrea.io/v1beta1", "kind": "AntreaControllerInfo",
        "metadata": {"name": "antrea-controller"}, "version": "v2.7.0", "connectedAgentNum": NODES,
        "nodeRef": {"kind": "Node", "name": "node-0"},
        "controllerConditions": [{"type": "ControllerHealthy", "status": "True", "lastHeartbeatTime": now}]}),
    ];
    for i in 0..NODES {
        antrea.push(json!({"apiVersion": "crd.antrea.io/v1beta1", "kind": "AntreaAgentInfo",
            "metadata": {"name": format!("node-{i}")}, "version": "v2.7.0",
            "nodeRef": {"kind": "Node", "name": format!("node-{i}")},
            "agentConditions": [condition("AgentHealthy"), condition("ControllerConnectionUp"),
                                condition("OVSDBConnectionUp"), condition("OpenflowConnectionUp")]}));
    }
    seed_all(emu, antrea)?;
    emu.seed_yaml(&list(vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "churn"}}),
    ]))?;
    Ok(())
}

fn certificate(cn: &str) -> anyhow::Result<(String, String)> {
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

async fn server() -> anyhow::Result<()> {
    let sizes = sizes();
    let started = Instant::now();
    let emu = kube_emu::KubeEmu::new();
    seed(&emu, &sizes)?;
    let seeded = started.elapsed();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let kube_url = format!("http://{}", listener.local_addr()?);
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn({
        let emu = emu.clone();
        let shutdown = shutdown.clone();
        async move { emu.serve(listener, shutdown).await }
    });

    let mut config = nsx_sim::SimConfig::new("127.0.0.1:0".parse()?, PASSWORD);
    config.rpc_listen = Some("127.0.0.1:0".parse()?);
    let sim = nsx_sim::NsxSim::start(config).await?;
    let mut admin_config = adapter_nsx::rest::RestConfig::new(
        vec![sim.base_url().to_owned()],
        adapter_nsx::rest::RestTrust::CaCertificates(sim.ca_cert_pem().as_bytes().to_vec()),
        adapter_nsx::rest::RestAuth::Basic {
            username: "admin".into(),
            password: PASSWORD.into(),
        },
    );
    admin_config.request_timeout = Duration::from_secs(120);
    let admin = adapter_nsx::rest::NsxRestClient::new(admin_config)?;
    let (cert, key) = certificate(CLUSTER)?;
    admin
        .create_principal_identity(
            &adapter_nsx::rest::api::PrincipalIdentityWithCertificate::for_cluster(CLUSTER, &cert),
        )
        .await?;
    let ccp = admin
        .put_cluster_control_plane(
            CLUSTER,
            &json!({"resource_type": "ClusterControlPlane", "certificate": cert}),
        )
        .await?;
    let node_id = ccp["node_id"].as_str().context("node_id")?.to_owned();
    let hello = json!({
        "kube_url": kube_url, "nsx_url": sim.base_url(),
        "rpc": format!("https://{}", sim.rpc_local_addr().context("rpc")?),
        "ca": sim.ca_cert_pem(), "node_id": node_id, "cert": cert, "key": key,
        "seeded_ms": seeded.as_millis() as u64,
    });
    println!("{hello}");
    std::io::stdout().flush()?;

    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let line = line?;
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["churn", rate, seconds] => {
                let result = churn(&emu, &sim, rate.parse()?, seconds.parse()?).await?;
                println!("{result}");
                std::io::stdout().flush()?;
            }
            ["quit"] => break,
            _ => bail!("unknown command {line:?}"),
        }
    }
    shutdown.cancel();
    sim.shutdown().await?;
    Ok(())
}

/// Creates `rate` Pods per second for `seconds` (each deleted 5 s after its creation) and
/// measures creation → NSX commit.
async fn churn(
    emu: &kube_emu::KubeEmu,
    sim: &nsx_sim::RunningSim,
    rate: u64,
    seconds: u64,
) -> anyhow::Result<Value> {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, DeleteParams, PostParams};
    let client = kube::Client::new(emu.router(), "churn");
    let pods: Api<Pod> = Api::namespaced(client, "churn");
    let mut commits = sim.adapter_channel().store().subscribe();
    let created: std::sync::Arc<times::Times> = Default::default();
    let visible: std::sync::Arc<times::Times> = Default::default();
    let watcher = tokio::spawn({
        let visible = visible.clone();
        async move {
            while let Some(notice) = commits.recv().await {
                let at = SystemTime::now();
                for (table, key) in &notice.touched {
                    if table == "inventory:ContainerApplicationInstance"
                        && let Some(uid) = key.get(key.len().saturating_sub(36)..)
                    {
                        visible.first(uid, at);
                    }
                }
            }
        }
    });
    let total = rate * seconds;
    let period = Duration::from_secs_f64(1.0 / rate as f64);
    let start = tokio::time::Instant::now();
    let mut deletions = tokio::task::JoinSet::new();
    let mut creations = tokio::task::JoinSet::new();
    for n in 0..total {
        tokio::time::sleep_until(start + period * n as u32).await;
        let api = pods.clone();
        let created = created.clone();
        creations.spawn(async move {
            let body: Pod = serde_json::from_value(json!({
                "metadata": {"name": format!("churn-{n}"), "labels": {"app": "churn", "wave": (n / rate).to_string()}},
                "spec": {"nodeName": format!("node-{}", n as usize % NODES), "containers": [{"name": "main", "image": "busybox"}]},
            }))
            .expect("a Pod");
            if let Ok(pod) = api.create(&PostParams::default(), &body).await
                && let Some(uid) = pod.metadata.uid
            {
                created.first(&uid, SystemTime::now());
            }
        });
        if n >= rate * 5 {
            let pods = pods.clone();
            let name = format!("churn-{}", n - rate * 5);
            deletions.spawn(async move {
                let _ = pods.delete(&name, &DeleteParams::default()).await;
            });
        }
        while creations.try_join_next().is_some() {}
        while deletions.try_join_next().is_some() {}
    }
    while creations.join_next().await.is_some() {}
    while deletions.join_next().await.is_some() {}
    let achieved = total as f64 / start.elapsed().as_secs_f64();
    // Wait (bounded) for the last ones.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut latencies: Vec<f64>;
    loop {
        let created = created.snapshot();
        let visible = visible.snapshot();
        latencies = created
            .iter()
            .filter_map(|(uid, at)| {
                let seen = visible.get(uid)?;
                Some(seen.duration_since(*at).unwrap_or_default().as_secs_f64() * 1000.0)
            })
            .collect();
        if latencies.len() == created.len() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    watcher.abort();
    latencies.sort_by(|a, b| a.total_cmp(b));
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    Ok(json!({
        "created": created.len(), "visible": latencies.len(), "rate_achieved": achieved,
        "p50_ms": pick(0.5), "p99_ms": pick(0.99), "max_ms": latencies.last().copied().unwrap_or(f64::NAN),
    }))
}

/// First-seen times by UID, shared between tasks (std only).
mod times {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::SystemTime;

    #[derive(Default)]
    pub struct Times(Mutex<HashMap<String, SystemTime>>);

    impl Times {
        pub fn first(&self, uid: &str, at: SystemTime) {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(uid.to_owned())
                .or_insert(at);
        }

        pub fn snapshot(&self) -> HashMap<String, SystemTime> {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
        }

        pub fn len(&self) -> usize {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
        }
    }
}

// ------------------------------------------------------------------------------ adapter

/// `VmHWM` (peak resident set) of this process, in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

async fn adapter() -> anyhow::Result<()> {
    use adapter_nsx::channel::ChannelConfig;
    use adapter_nsx::rest::{RestAuth, RestConfig, RestTrust};
    use adapter_runtime::mp::{MpAdapter, MpAdapterOptions};

    let sizes = sizes();
    let rss_at_start = rss_kib().unwrap_or(0);
    let mut server = Command::new(std::env::current_exe()?)
        .env(ROLE, "server")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut server_in = server.stdin.take().context("stdin")?;
    let mut server_out = BufReader::new(server.stdout.take().context("stdout")?);
    let mut line = String::new();
    server_out.read_line(&mut line)?;
    let hello: Value = serde_json::from_str(&line).context("the server's hello")?;
    let text = |key: &str| hello[key].as_str().unwrap_or_default().to_owned();

    let auth = RestAuth::ClientCertificate {
        certificate_chain_pem: text("cert").into_bytes(),
        private_key_pem: text("key").into_bytes(),
    };
    let mut nsx = RestConfig::new(
        vec![text("nsx_url")],
        RestTrust::CaCertificates(text("ca").into_bytes()),
        auth,
    );
    nsx.request_timeout = Duration::from_secs(60);
    let tls = nsx_proto::tls::ClientTls::new(
        text("cert").as_bytes(),
        text("key").as_bytes(),
        nsx_proto::tls::ServerTrust::CaCertificates(text("ca").into_bytes()),
    )?;
    let channel = ChannelConfig::new(vec![text("rpc")], CLUSTER, tls);
    let options = MpAdapterOptions::new(text("node_id"), nsx, channel);
    let kube = kube::Client::try_from(kube::Config::new(text("kube_url").parse()?))?;

    let started = Instant::now();
    let adapter = MpAdapter::start(options, kube).await?;
    let mut status = adapter.status();
    let lists = {
        let mut status = adapter.status();
        tokio::time::timeout(
            Duration::from_secs(600),
            status.wait_for(|s| s.initial_lists_done),
        )
        .await??;
        started.elapsed()
    };
    tokio::time::timeout(
        Duration::from_secs(600),
        status.wait_for(|s| s.initial_sync_done),
    )
    .await??;
    let sync = started.elapsed();
    let synced = adapter.status().borrow().clone();
    let peak_sync = peak_rss_kib().unwrap_or(0);
    let rss_synced = rss_kib().unwrap_or(0);
    let metrics = adapter.metrics();
    let sent = metrics
        .objects_sent
        .load(std::sync::atomic::Ordering::Relaxed);
    let batches = metrics
        .batches_sent
        .load(std::sync::atomic::Ordering::Relaxed);

    let rate = env_number("MP_BENCH_CHURN_RATE", 200);
    let seconds = env_number("MP_BENCH_CHURN_SECS", 20);
    writeln!(server_in, "churn {rate} {seconds}")?;
    server_in.flush()?;
    line.clear();
    server_out.read_line(&mut line)?;
    let churn: Value = serde_json::from_str(&line).context("the churn result")?;
    let peak_total = peak_rss_kib().unwrap_or(0);
    adapter.shutdown().await;
    writeln!(server_in, "quit")?;
    let _ = server.wait();

    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "MP adapter sync benchmark ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "  cluster: {} Pods, {} Services, {} Namespaces, {NODES} Nodes (seeded in {} ms)",
        sizes.pods, sizes.services, sizes.namespaces, hello["seeded_ms"]
    );
    println!(
        "  initial sync: {:.2} s (lists done at {:.2} s); {} records, {sent} objects in {batches} batches",
        sync.as_secs_f64(),
        lists.as_secs_f64(),
        synced.inventory_objects
    );
    println!(
        "  adapter process memory: start {:.1} MiB, after sync {:.1} MiB, peak during sync {:.1} MiB, peak overall {:.1} MiB",
        mib(rss_at_start),
        mib(rss_synced),
        mib(peak_sync),
        mib(peak_total)
    );
    println!(
        "  churn {rate} Pods/s for {seconds} s (achieved {:.0}/s, each deleted after 5 s): {} created, {} seen in NSX; creation -> NSX p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        churn["rate_achieved"].as_f64().unwrap_or(0.0),
        churn["created"],
        churn["visible"],
        churn["p50_ms"].as_f64().unwrap_or(f64::NAN),
        churn["p99_ms"].as_f64().unwrap_or(f64::NAN),
        churn["max_ms"].as_f64().unwrap_or(f64::NAN)
    );
    Ok(())
}
