//! `antrea-nsx register` and `antrea-nsx deregister`: VMware's register and deregister jobs.
//! The configuration comes from the files the Pod mounts (`--config-dir`) or, without it, from
//! the ConfigMaps in `--namespace`; see docs/configuration.md.

use std::path::PathBuf;

use adapter_runtime::config::{self, AdapterConfigSet, DEFAULT_NAMESPACE};
use adapter_runtime::registration::{self, NsxAccess, RegisterOptions, RegistrationStep};
use anyhow::{Context, bail};
use clap::Args;

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Kubeconfig to use; by default the Pod's in-cluster credentials.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Namespace of ConfigMaps bootstrap-config, antrea-interworking-config, cluster-id and
    /// Secret nsx-cert.
    #[arg(long, default_value = DEFAULT_NAMESPACE)]
    pub namespace: String,
    /// Read bootstrap.conf, mp-adapter.conf and ccp-adapter.conf from this folder (as mounted
    /// in the Pod, e.g. /etc/antrea) instead of the ConfigMaps.
    #[arg(long, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// NSX admin user: needed to create (or delete) the principal identity.
    #[arg(long, env = "NSX_USERNAME")]
    pub nsx_username: Option<String>,
    /// NSX admin password.
    #[arg(long, env = "NSX_PASSWORD", hide_env_values = true)]
    pub nsx_password: Option<String>,
}

struct Prepared {
    kube: kube::Client,
    access: NsxAccess,
    options: RegisterOptions,
}

async fn prepare(args: RegisterArgs) -> anyhow::Result<Prepared> {
    let admin = match (args.nsx_username, args.nsx_password) {
        (Some(username), Some(password)) => Some((username, password)),
        (None, None) => None,
        (Some(_), None) => bail!("--nsx-username needs --nsx-password (or NSX_PASSWORD)"),
        (None, Some(_)) => bail!("--nsx-password needs --nsx-username (or NSX_USERNAME)"),
    };
    let kube = config::kube_client(args.kubeconfig.as_deref()).await?;
    let set: AdapterConfigSet = match &args.config_dir {
        Some(dir) => config::load_dir(dir)?,
        None => config::load_api(&kube, &args.namespace).await?,
    };
    Ok(Prepared {
        kube,
        access: NsxAccess::from_config(&set, admin),
        options: RegisterOptions::from_config(&set, &args.namespace),
    })
}

fn describe(step: RegistrationStep) -> &'static str {
    match step {
        RegistrationStep::CertificateGenerated => "generated the certificate (Secret nsx-cert)",
        RegistrationStep::PrincipalIdentityCreated => "created the principal identity",
        RegistrationStep::ClusterControlPlaneCreated => "created the cluster control plane",
        RegistrationStep::ClusterControlPlaneUpdated => {
            "updated the cluster control plane's vhc_path (vpcPath)"
        }
        RegistrationStep::ContainerClusterCreated => "created the inventory container cluster",
        RegistrationStep::ClusterIdRecorded => "recorded the cluster id (ConfigMap cluster-id)",
        RegistrationStep::ClusterControlPlaneDeleted => {
            "deleted the cluster control plane (cascade)"
        }
        RegistrationStep::ContainerClusterDeleted => "deleted the inventory container cluster",
        RegistrationStep::PrincipalIdentityDeleted => "deleted the principal identity",
        RegistrationStep::ClusterIdRemoved => "deleted ConfigMap cluster-id",
    }
}

pub async fn run_register(args: RegisterArgs) -> anyhow::Result<()> {
    let prepared = prepare(args).await?;
    let registration = registration::register(&prepared.kube, &prepared.access, &prepared.options)
        .await
        .context("registering the cluster with NSX")?;
    for step in &registration.changes {
        println!("{}", describe(*step));
    }
    if registration.changes.is_empty() {
        println!("already registered; nothing changed");
    }
    println!(
        "cluster {} is registered with NSX; cluster id {}",
        registration.cluster_name, registration.cluster_id
    );
    Ok(())
}

pub async fn run_deregister(args: RegisterArgs) -> anyhow::Result<()> {
    let prepared = prepare(args).await?;
    let removed = registration::deregister(&prepared.kube, &prepared.access, &prepared.options)
        .await
        .context("deregistering the cluster from NSX")?;
    for step in &removed.changes {
        println!("{}", describe(*step));
    }
    if removed.changes.is_empty() {
        println!("not registered; nothing changed");
    }
    println!(
        "cluster {} is not registered with NSX",
        prepared.options.cluster_name
    );
    Ok(())
}
