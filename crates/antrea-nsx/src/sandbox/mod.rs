//! `antrea-nsx sandbox`: the whole system on one machine with one command. It starts the
//! emulated cluster (kube-emu with the Antrea emulation) with a demo workload, the NSX
//! Manager simulator with a demo firewall policy set, registers the cluster as the register
//! job does, writes the adapters' configuration files as the Pod mounts them, and runs both
//! adapters from those files exactly as `antrea-nsx ccp-adapter` and `mp-adapter` do.
//!
//! It prints what runs and what to try, shows progress while converging, and runs until
//! interrupted; `--once` runs the scripted tour of [`tour`] instead and exits 0 only if every
//! step passed.

pub mod demo;
pub mod stand_ins;
pub mod tour;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use adapter_runtime::config::{self, AdapterConfigSet};
use adapter_runtime::process::{AdapterProcess, AdapterProcessOptions, AdapterRole};
use adapter_runtime::registration::{self, NsxAccess, RegisterOptions};
use anyhow::Context;
use clap::Args;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};

use stand_ins::{EmulatedCluster, SimulatedNsx};

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Folder for the kubeconfig, NSX's CA certificate, the adapters' configuration and the
    /// env file (created if missing).
    #[arg(long, default_value = "sandbox")]
    pub dir: PathBuf,
    /// Address of the emulated Kubernetes API (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:6443")]
    pub kube_listen: SocketAddr,
    /// Address of the simulated NSX Manager's REST API.
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub nsx_listen: SocketAddr,
    /// Address of the simulated NSX Manager's adapter channel.
    #[arg(long, default_value = "127.0.0.1:1235")]
    pub rpc_listen: SocketAddr,
    /// API port (`/livez`, `/readyz`, `/metrics`) of the MP adapter.
    #[arg(long, default_value = "127.0.0.1:16664")]
    pub mp_api_listen: SocketAddr,
    /// API port of the CCP adapter.
    #[arg(long, default_value = "127.0.0.1:16665")]
    pub ccp_api_listen: SocketAddr,
    /// Emulated Nodes, each with an Antrea Agent.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// The cluster's name in NSX.
    #[arg(long, default_value = "sandbox")]
    pub cluster_name: String,
    /// Once everything is up, write shell-sourceable `KUBECONFIG=`, `NSX_MANAGER=`,
    /// `NSX_USERNAME=`, `NSX_PASSWORD=` and `NSX_CLUSTER=` lines to this file.
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// Run the scripted tour and exit: 0 only if every step passed.
    #[arg(long)]
    pub once: bool,
    /// How long one tour step (or the initial convergence) may take.
    #[arg(long, default_value_t = 90)]
    pub step_timeout_s: u64,
}

/// The namespace the adapters run in (VMware's).
const ADAPTER_NAMESPACE: &str = config::DEFAULT_NAMESPACE;

/// A password that meets NSX's complexity rules (upper, lower, digit, special) and needs no
/// quoting in a shell.
fn generate_password() -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("Sandbox-{}", &random[..12])
}

/// Writes bootstrap.conf, mp-adapter.conf and ccp-adapter.conf as the Pod mounts them.
fn write_config(
    dir: &Path,
    args: &SandboxArgs,
    nsx: &SimulatedNsx,
) -> anyhow::Result<AdapterConfigSet> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let channel_port = args
        .rpc_listen
        .port()
        .to_string()
        .parse::<u16>()
        .unwrap_or(1235);
    let rpc_port = nsx
        .sim
        .rpc_local_addr()
        .map(|addr| addr.port())
        .unwrap_or(channel_port);
    let bootstrap = format!(
        "# Written by antrea-nsx sandbox.\nclusterName: {}\nNSXManagers: [\"{}\"]\nNSXChannelPort: {rpc_port}\n",
        args.cluster_name,
        nsx.manager()
    );
    let ca = nsx.ca_file.display();
    let cert = dir.join("nsx-cert").join("tls.crt");
    let key = dir.join("nsx-cert").join("tls.key");
    // The API ports are given on the command line (port 0 is not a valid APIServerPort).
    let api_port = |listen: SocketAddr| match listen.port() {
        0 => String::new(),
        port => format!("APIServerPort: {port}\n"),
    };
    let mp = format!(
        "# Written by antrea-nsx sandbox.\nNSXCAFile: {ca}\nNSXClientAuthCertFile: {}\nNSXClientAuthKeyFile: {}\nInventoryBatchPeriod: 1\n{}",
        cert.display(),
        key.display(),
        api_port(args.mp_api_listen)
    );
    let ccp = format!(
        "# Written by antrea-nsx sandbox.\n# The emulated Pods have IPv4 addresses only.\nIPFamilies: IPv4\n{}",
        api_port(args.ccp_api_listen)
    );
    for (name, text) in [
        (config::BOOTSTRAP_FILE, bootstrap),
        (config::MP_ADAPTER_FILE, mp),
        (config::CCP_ADAPTER_FILE, ccp),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    config::load_dir(dir).context("reading the configuration the sandbox wrote")
}

async fn ensure_namespace(client: &kube::Client, name: &str) -> anyhow::Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    let namespace: Namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}
    }))?;
    match api.create(&PostParams::default(), &namespace).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(error) => Err(error).with_context(|| format!("creating Namespace {name}")),
    }
}

/// Copies the registered certificate from Secret nsx-cert into the files the configuration
/// names (as the Pod mounts the Secret).
async fn mount_certificate(client: &kube::Client, dir: &Path) -> anyhow::Result<()> {
    let certificate = config::load_certificate_api(client, ADAPTER_NAMESPACE)
        .await?
        .context("Secret nsx-cert is missing after registration")?;
    let folder = dir.join("nsx-cert");
    std::fs::create_dir_all(&folder)?;
    std::fs::write(folder.join("tls.crt"), &certificate.certificate_pem)?;
    std::fs::write(folder.join("tls.key"), &certificate.private_key_pem)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            folder.join("tls.key"),
            std::fs::Permissions::from_mode(0o600),
        )?;
    }
    Ok(())
}

fn write_env_file(
    path: &Path,
    cluster: &EmulatedCluster,
    nsx: &SimulatedNsx,
    cluster_name: &str,
) -> anyhow::Result<()> {
    let kubeconfig = std::fs::canonicalize(&cluster.kubeconfig_path)
        .unwrap_or_else(|_| cluster.kubeconfig_path.clone());
    // Plain `NAME=value` lines, quoted only when the shell needs it.
    let quote = |value: &str| {
        let plain = value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._:-@+,=%".contains(c));
        if plain && !value.is_empty() {
            value.to_owned()
        } else {
            format!("'{}'", value.replace('\'', r"'\''"))
        }
    };
    let text = format!(
        "KUBECONFIG={}\nNSX_MANAGER={}\nNSX_USERNAME=admin\nNSX_PASSWORD={}\nNSX_CLUSTER={}\n",
        quote(&kubeconfig.display().to_string()),
        quote(&nsx.manager()),
        quote(&nsx.password),
        quote(cluster_name),
    );
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn print_banner(
    cluster: &EmulatedCluster,
    nsx: &SimulatedNsx,
    args: &SandboxArgs,
    mp_api: SocketAddr,
    ccp_api: SocketAddr,
) {
    let kubeconfig = cluster.kubeconfig_path.display();
    let manager = nsx.manager();
    let ca = nsx.ca_file.display();
    let password = &nsx.password;
    let cluster_name = &args.cluster_name;
    println!(
        "\nantrea-nsx sandbox is running.\n\
         \n  Kubernetes API (emulated, {nodes} Antrea nodes): {url}\n  \
         NSX Manager (simulated): https://{manager}  user admin, password {password}\n  \
         MP adapter API: http://{mp_api}  CCP adapter API: http://{ccp_api}\n\
         \nTry:\n  \
         kubectl --kubeconfig {kubeconfig} get pods -A -o wide\n  \
         kubectl --kubeconfig {kubeconfig} get tiers,clustergroups,acnp\n  \
         curl --cacert {ca} -u 'admin:{password}' https://{manager}/policy/api/v1/infra/domains/default/security-policies\n  \
         curl --cacert {ca} -u 'admin:{password}' 'https://{manager}/policy/api/v1/infra/realized-state/status?intent_path=/infra/domains/default/security-policies/demo-unsupported'\n  \
         curl --cacert {ca} -u 'admin:{password}' https://{manager}/policy/api/v1/infra/sites/default/enforcement-points/default/cluster-control-planes/{cluster_name}/status\n  \
         curl --cacert {ca} -u 'admin:{password}' https://{manager}/api/v1/fabric/container-application-instances\n  \
         curl http://{mp_api}/metrics\n\
         \nPress Ctrl-C to stop.",
        nodes = args.nodes,
        url = cluster.url,
    );
}

/// Polls NSX until the demo policies are realized and the demo pods are in its inventory,
/// printing progress; returns whether it converged in time.
async fn show_convergence(context: &tour::TourContext, timeout: Duration) -> bool {
    let started = Instant::now();
    let mut last_line = String::new();
    while started.elapsed() < timeout {
        let policies = context.realized_policy_count().await;
        let pods = context.inventory_pod_count().await;
        let line = format!(
            "converging: {policies}/{} demo policies realized, {pods}/{} demo pods in NSX's inventory",
            demo::SUPPORTED_POLICIES.len(),
            demo::PODS.len()
        );
        if line != last_line {
            println!("{line}");
            last_line = line;
        }
        if policies == demo::SUPPORTED_POLICIES.len() && pods >= demo::PODS.len() {
            println!("converged in {:.1} s", started.elapsed().as_secs_f64());
            return true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("not converged after {} s: {last_line}", timeout.as_secs());
    false
}

pub async fn run(mut args: SandboxArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    // Absolute, so the configuration files name paths that do not depend on where they are.
    args.dir = std::fs::canonicalize(&args.dir)
        .with_context(|| format!("resolving {}", args.dir.display()))?;
    let step_timeout = Duration::from_secs(args.step_timeout_s);

    println!("starting the emulated cluster ({} nodes) ...", args.nodes);
    let cluster = EmulatedCluster::start(args.kube_listen, args.nodes, &args.dir).await?;
    let kube = cluster.client().await?;
    let objects = stand_ins::seed_workload(&kube).await?;
    println!("demo workload: {objects} objects created");

    println!("starting the simulated NSX Manager ...");
    let nsx = SimulatedNsx::start(
        args.nsx_listen,
        args.rpc_listen,
        generate_password(),
        &args.dir,
    )
    .await?;
    nsx.seed_policies().await?;
    println!("demo firewall policies written to NSX");

    let config_dir = args.dir.join("config");
    let config = write_config(&config_dir, &args, &nsx)?;
    ensure_namespace(&kube, ADAPTER_NAMESPACE).await?;
    let registration = registration::register(
        &kube,
        &NsxAccess::from_config(&config, Some(("admin".to_owned(), nsx.password.clone()))),
        &RegisterOptions::from_config(&config, ADAPTER_NAMESPACE),
    )
    .await
    .context("registering the cluster with NSX")?;
    println!(
        "cluster {} registered with NSX (cluster id {})",
        registration.cluster_name, registration.cluster_id
    );
    mount_certificate(&kube, &config_dir).await?;
    nsx.span_policies(&registration.cluster_name).await?;

    let process_options =
        |role: AdapterRole, listen: SocketAddr, ccp_status: Option<String>| AdapterProcessOptions {
            role,
            namespace: ADAPTER_NAMESPACE.to_owned(),
            api_listen: listen,
            leader_election: false,
            cluster_id: registration.cluster_id.clone(),
            ccp_status_url: ccp_status,
        };
    let ccp = AdapterProcess::start(
        process_options(AdapterRole::Ccp, args.ccp_api_listen, None),
        config.clone(),
        kube.clone(),
    )
    .await
    .context("starting the CCP adapter")?;
    // The MP adapter reads the CCP adapter's state on its API port, as in the Pod.
    let mp = AdapterProcess::start(
        process_options(
            AdapterRole::Mp,
            args.mp_api_listen,
            Some(format!("http://{}/status", ccp.api_addr())),
        ),
        config.clone(),
        kube.clone(),
    )
    .await
    .context("starting the MP adapter")?;

    let context = tour::TourContext {
        nsx: nsx.admin.clone(),
        kube: kube.clone(),
        cluster_id: registration.cluster_name.clone(),
        step_timeout,
    };
    let converged = show_convergence(&context, step_timeout).await;
    if let Some(path) = &args.env_file {
        write_env_file(path, &cluster, &nsx, &registration.cluster_name)?;
        println!("environment written to {}", path.display());
    }

    let passed = if args.once {
        println!("\nrunning the tour:");
        let outcomes = context
            .run(|outcome| {
                println!(
                    "  [{}] {} ({:.1} s): {}",
                    if outcome.passed { "PASS" } else { "FAIL" },
                    outcome.name,
                    outcome.elapsed.as_secs_f64(),
                    outcome.detail
                );
            })
            .await;
        let failed = outcomes.iter().filter(|outcome| !outcome.passed).count();
        println!(
            "\ntour: {} of {} steps passed",
            outcomes.len() - failed,
            outcomes.len()
        );
        converged && failed == 0
    } else {
        print_banner(&cluster, &nsx, &args, mp.api_addr(), ccp.api_addr());
        crate::cli::shutdown_signal().await;
        println!("stopping ...");
        true
    };

    mp.shutdown().await;
    ccp.shutdown().await;
    nsx.shutdown().await;
    cluster.shutdown().await;
    if passed {
        Ok(())
    } else {
        anyhow::bail!("the sandbox tour failed")
    }
}
