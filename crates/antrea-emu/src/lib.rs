//! An emulation of the Antrea Controller and its Agents on top of the Kubernetes API emulator
//! ([`kube_emu::KubeEmu`]).
//!
//! [`AntreaEmu::install`] makes an emulated API server look like a cluster running Antrea
//! v2.7.0 (see `docs/antrea-emulation.md`):
//!
//! - the Antrea CRDs ([`crds`]), generated from `antrea-types` or loaded from real manifests;
//! - the six system Tiers, created and kept as antrea-controller does ([`tiers`]);
//! - Antrea's mutating and validating webhooks as admission plugins ([`admission`]);
//! - a workload model: Nodes with Pod CIDRs, a scheduler and kubelets that run Pods, an
//!   endpoints controller ([`workload`], [`endpoints`]);
//! - policy realization status for ClusterNetworkPolicies and Antrea NetworkPolicies and the
//!   `GroupMembersComputed` condition of groups, computed with `antrea-policy` from what
//!   emulated agents report ([`realization`], [`agents`]);
//! - AntreaControllerInfo and AntreaAgentInfo, refreshed every heartbeat ([`monitoring`]);
//! - policy statistics (`stats.antrea.io`) fed by a deterministic traffic model ([`stats`],
//!   [`traffic`]), Traceflow processing ([`traceflow`]) and on-demand support bundles of the
//!   controller and the agents (`system.antrea.io`, [`support_bundle`]);
//! - test hooks: failing or stalling Nodes, silencing agents, flipping their connections,
//!   taking the controller down ([`hooks`]).
//!
//! Every controller is a tokio task that talks to the emulator through a kube [`Client`] on
//! [`KubeEmu::router`], watching and writing through the API as the real components do.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let emu = kube_emu::KubeEmu::new();
//! let antrea = antrea_emu::AntreaEmu::install(&emu, antrea_emu::AntreaOptions::default()).await?;
//! let client = kube::Client::new(emu.router(), "default");
//! # let _ = (antrea, client); Ok(()) }
//! ```

pub mod admission;
pub mod agents;
mod aggregated;
pub mod crds;
pub mod endpoints;
pub mod hooks;
mod informers;
pub mod monitoring;
pub mod realization;
pub mod stats;
mod status;
pub mod support_bundle;
pub mod tiers;
pub mod traceflow;
pub mod traffic;
pub mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use antrea_policy::ClusterIndex;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Client;
use kube_emu::KubeEmu;
use parking_lot::RwLock;
use tokio_util::sync::{CancellationToken, DropGuard};

pub use hooks::RealizationMode;
pub use workload::{NodeInfo, Topology};

/// The Antrea version the emulation reports (AntreaControllerInfo, AntreaAgentInfo, images).
pub const ANTREA_VERSION: &str = "v2.7.0";
/// The Namespace Antrea runs in.
pub const ANTREA_NAMESPACE: &str = "kube-system";
/// The Service fronting antrea-controller's API and webhooks.
pub const ANTREA_SERVICE: &str = "antrea";
/// antrea-controller's API port (`apiPort` of AntreaControllerInfo).
pub const CONTROLLER_API_PORT: i32 = 10349;
/// antrea-agent's API port (`apiPort` of AntreaAgentInfo).
pub const AGENT_API_PORT: i32 = 10350;
/// Most Nodes the Pod CIDR 10.10.0.0/16 can be split into (one /24 each).
pub const MAX_NODES: usize = 256;

/// Tunables of the emulation.
#[derive(Debug, Clone)]
pub struct AntreaOptions {
    /// How many Nodes (`k8s-node-1` ...), each with an Antrea agent. 1 to [`MAX_NODES`].
    pub nodes: usize,
    /// How long an agent takes to realize a policy generation after receiving it.
    pub realize_delay: Duration,
    /// How often antrea-controller and the agents rewrite their monitoring CRDs.
    pub heartbeat_interval: Duration,
    /// Load the CRD manifests (`*.yaml`) of this folder instead of the CRDs generated from
    /// `antrea-types` (for example Antrea's real v2.7.0 manifests).
    pub use_crd_manifests: Option<PathBuf>,
    /// Policy statistics (`stats.antrea.io`) and their traffic model.
    pub stats: stats::StatsOptions,
    /// Traceflow processing.
    pub traceflow: traceflow::TraceflowOptions,
    /// On-demand support bundles (`system.antrea.io`).
    pub support_bundles: support_bundle::SupportBundleOptions,
}

impl Default for AntreaOptions {
    fn default() -> Self {
        AntreaOptions {
            nodes: 3,
            realize_delay: Duration::from_millis(100),
            heartbeat_interval: Duration::from_secs(60),
            use_crd_manifests: None,
            stats: stats::StatsOptions::default(),
            traceflow: traceflow::TraceflowOptions::default(),
            support_bundles: support_bundle::SupportBundleOptions::default(),
        }
    }
}

/// Errors of installing the emulation and of its hooks.
#[derive(Debug, thiserror::Error)]
pub enum AntreaEmuError {
    #[error("invalid options: {0}")]
    Options(String),
    #[error("registering the Antrea CRDs: {0}")]
    Crds(#[source] kube_emu::EmuError),
    #[error("{context}: {source}")]
    Api {
        context: String,
        #[source]
        source: kube::Error,
    },
    #[error("encoding {what}: {source}")]
    Encode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("generating the agent certificate of {node}: {message}")]
    Certificate { node: String, message: String },
    #[error("no emulated Node is named {0:?}")]
    UnknownNode(String),
    #[error("the emulation stopped before it was ready")]
    Stopped,
}

impl AntreaEmuError {
    pub(crate) fn api(context: impl Into<String>, source: kube::Error) -> Self {
        AntreaEmuError::Api {
            context: context.into(),
            source,
        }
    }
}

/// Wall-clock time that follows tokio's clock, so timestamps written by the emulation move
/// with `tokio::time::pause`/`advance` in tests.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    wall: jiff::Timestamp,
    start: tokio::time::Instant,
}

impl Clock {
    fn new() -> Self {
        Clock {
            wall: jiff::Timestamp::now(),
            start: tokio::time::Instant::now(),
        }
    }

    pub fn now(&self) -> jiff::Timestamp {
        let elapsed = tokio::time::Instant::now().saturating_duration_since(self.start);
        jiff::SignedDuration::try_from(elapsed)
            .ok()
            .and_then(|elapsed| self.wall.checked_add(elapsed).ok())
            .unwrap_or(self.wall)
    }

    /// `now` as a Kubernetes `Time` (which serializes to whole seconds).
    pub fn time(&self) -> Time {
        Time(self.now())
    }
}

/// State shared by the controllers, the admission plugins and the hooks.
pub(crate) struct Shared {
    pub emu: KubeEmu,
    pub client: Client,
    pub options: AntreaOptions,
    pub topology: Topology,
    pub clock: Clock,
    pub hooks: hooks::HookState,
    pub index: Arc<RwLock<ClusterIndex>>,
    pub stats: stats::StatsState,
    pub bundles: support_bundle::BundleState,
    pub summary: realization::Summary,
    pub controller_writes: Arc<admission::ControllerWrites>,
    pub cancel: CancellationToken,
}

/// The installed emulation: test hooks and read access to what it computed. Clones share
/// the emulation; it stops when the last handle is dropped (or on [`AntreaEmu::shutdown`]).
#[derive(Clone)]
pub struct AntreaEmu {
    handle: Arc<Handle>,
}

struct Handle {
    shared: Arc<Shared>,
    _stop: DropGuard,
}

impl std::fmt::Debug for AntreaEmu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AntreaEmu")
            .field("nodes", &self.shared().topology.nodes.len())
            .field("controller_up", &self.controller_is_up())
            .finish()
    }
}

impl AntreaEmu {
    /// Installs the emulation on `emu` and starts its controllers; returns once the CRDs,
    /// webhooks, Nodes, system Tiers and monitoring objects exist and every controller has
    /// listed the cluster. Must run inside a tokio runtime.
    pub async fn install(
        emu: &KubeEmu,
        options: AntreaOptions,
    ) -> Result<AntreaEmu, AntreaEmuError> {
        if options.nodes == 0 || options.nodes > MAX_NODES {
            return Err(AntreaEmuError::Options(format!(
                "nodes must be between 1 and {MAX_NODES} (one /24 of 10.10.0.0/16 each), not {}",
                options.nodes
            )));
        }
        if options.heartbeat_interval.is_zero() {
            return Err(AntreaEmuError::Options(
                "heartbeat_interval must be longer than zero".into(),
            ));
        }
        crds::register(emu, options.use_crd_manifests.as_deref())?;
        let client = Client::new(emu.router(), "default");
        let topology = Topology::new(options.nodes)?;
        let cancel = CancellationToken::new();
        let shared = Arc::new(Shared {
            emu: emu.clone(),
            client,
            hooks: hooks::HookState::new(&topology),
            bundles: support_bundle::BundleState::new(&topology),
            topology,
            options,
            clock: Clock::new(),
            index: Arc::new(RwLock::new(ClusterIndex::new())),
            stats: stats::StatsState::new(),
            summary: realization::Summary::default(),
            controller_writes: Arc::new(admission::ControllerWrites::default()),
            cancel: cancel.clone(),
        });
        admission::install(&shared);
        workload::create_cluster(&shared).await?;
        tiers::initialize(&shared).await;

        let mut ready = Vec::new();
        ready.push(workload::spawn(&shared));
        ready.push(endpoints::spawn(&shared));
        let (changes_tx, changes_rx) = tokio::sync::mpsc::unbounded_channel();
        ready.extend(informers::spawn(&shared, changes_tx));
        let fleet = agents::spawn(&shared);
        ready.push(realization::spawn(&shared, changes_rx, fleet));
        ready.push(monitoring::spawn(&shared));
        support_bundle::install(&shared)?;
        ready.extend(stats::install(&shared)?);
        ready.push(traceflow::install(&shared));
        for signal in ready {
            signal.await.map_err(|_| AntreaEmuError::Stopped)?;
        }
        Ok(AntreaEmu {
            handle: Arc::new(Handle {
                shared,
                _stop: cancel.drop_guard(),
            }),
        })
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.handle.shared
    }

    /// The emulated API server.
    pub fn kube(&self) -> &KubeEmu {
        &self.shared().emu
    }

    /// A client on the emulated API server (default Namespace `default`).
    pub fn client(&self) -> Client {
        self.shared().client.clone()
    }

    /// The emulated Nodes, their Pod CIDRs and addresses.
    pub fn topology(&self) -> &Topology {
        &self.shared().topology
    }

    /// Node names, `k8s-node-1` first.
    pub fn node_names(&self) -> Vec<String> {
        self.topology()
            .nodes
            .iter()
            .map(|n| n.name.clone())
            .collect()
    }

    /// The options the emulation runs with.
    pub fn options(&self) -> &AntreaOptions {
        &self.shared().options
    }

    /// Reads antrea-controller's view of the cluster (the index its controllers keep up to
    /// date from watches): group members, policy spans, packet evaluation.
    pub fn with_index<R>(&self, read: impl FnOnce(&ClusterIndex) -> R) -> R {
        read(&self.shared().index.read())
    }

    /// Stops every controller of the emulation (the API server keeps running).
    pub fn shutdown(&self) {
        self.shared().cancel.cancel();
    }
}
