//! # nsx-sim: an NSX Manager simulator
//!
//! A stand-in for VMware NSX Manager 4.2 that serves, over HTTPS, the part of the NSX REST API
//! the Antrea NSX adapters and an operator use, with NSX's paths, JSON field names, enums,
//! error bodies, paging and revisions. Request bodies are validated against the NSX 4.2 JSON
//! Schemas (`../shared/nsx-schemas`); objects are kept as JSON documents, not Rust model types,
//! so the simulator cannot share a wrong field with the adapters it tests.
//!
//! `docs/nsx-sim.md` lists every endpoint and every deliberate difference from NSX.
//!
//! ## Starting it
//!
//! ```no_run
//! # async fn demo() -> Result<(), nsx_sim::SimError> {
//! use nsx_sim::{NsxSim, SimConfig};
//!
//! let mut config = SimConfig::new("127.0.0.1:0".parse().unwrap(), "Secret!23secret");
//! config.data_dir = Some("/tmp/nsx-sim".into()); // omit to keep everything in memory
//! let sim = NsxSim::start(config).await?;
//! println!("NSX at {} (thumbprint {})", sim.base_url(), sim.thumbprint());
//! // Clients trust `sim.ca_cert_pem()` and log in as `admin` with the password,
//! // or present a client certificate registered for a principal identity.
//! sim.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! * [`NsxSim::start`] binds `listen` (port 0 picks a free port), generates (or, with a data
//!   directory, reloads) a CA and server certificate, and serves until [`RunningSim::shutdown`].
//! * With `data_dir`, every acknowledged write is committed to an embedded transactional store
//!   (`nsx-sim.redb`) before the response is sent, and the CA (`ca.crt`), server certificate and
//!   key, and the server certificate's SHA-256 `thumbprint` are written there.
//! * [`RunningSim::register_principal_identity`] registers a principal identity in-process
//!   (the REST registration endpoints come with the registration module).
//!
//! ## Layout
//!
//! * [`store`]: tables of JSON documents, in memory and mirrored to redb.
//! * [`policy`]: the Policy intent tree (domains, groups, services, security policies, rules,
//!   container-cluster span, hierarchical API), validation and referential integrity.
//! * [`rest`]: the HTTP routes; [`auth`]: basic auth, sessions, client certificates;
//!   [`identity`]: callers and principal identities; [`error`]: NSX `ApiError` bodies;
//!   [`schema`]: the embedded JSON Schemas; [`tls`]: certificates.

pub mod antrea;
pub mod auth;
pub mod channel;
pub mod error;
pub mod identity;
pub mod inventory;
pub mod policy;
pub mod realization;
pub mod registration;
pub mod rest;
pub mod schema;
mod server;
pub mod store;
pub mod tls;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use error::ApiError;
use identity::{Identity, PrincipalIdentitySpec};
use store::{Store, StoreError, TxnError};

/// Name of the database file inside the data directory.
pub const DATABASE_FILE: &str = "nsx-sim.redb";
const NODE_UUID_KEY: &str = "node.uuid";

/// How to run the simulator.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SimConfig {
    /// Address of the HTTPS API (port 0: any free port).
    pub listen: SocketAddr,
    /// Directory for the durable state and the certificates; `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    /// Password of the `admin` user.
    pub admin_password: String,
    /// Extra DNS names or IP addresses for the server certificate (besides `localhost`,
    /// `127.0.0.1`, `::1`, the listen address and the hostname).
    pub server_names: Vec<String>,
    /// The appliance hostname `GET /api/v1/node` reports.
    pub hostname: String,
    /// Address of the adapter channel's gRPC listener (mutual TLS; `--rpc-listen`); `None`
    /// serves no channel.
    pub rpc_listen: Option<SocketAddr>,
    /// Tunables of the adapter channel (tests shorten its timeouts).
    pub channel: channel::ChannelOptions,
}

impl SimConfig {
    /// A configuration listening on `listen`, in memory, with the given admin password.
    pub fn new(listen: SocketAddr, admin_password: impl Into<String>) -> Self {
        Self {
            listen,
            data_dir: None,
            admin_password: admin_password.into(),
            server_names: Vec::new(),
            hostname: "nsx-sim".to_owned(),
            rpc_listen: None,
            channel: channel::ChannelOptions::default(),
        }
    }

    /// The same configuration with a data directory.
    pub fn with_data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }
}

/// Why the simulator could not start or stop.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A file in the data directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// Certificate generation or TLS configuration failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The simulator refused an in-process request.
    #[error("{0}")]
    Api(#[from] ApiError),
}

impl From<TxnError<ApiError>> for SimError {
    fn from(e: TxnError<ApiError>) -> Self {
        match e {
            TxnError::Aborted(e) => SimError::Api(e),
            TxnError::Store(e) => SimError::Store(e),
        }
    }
}

/// The simulator.
#[derive(Debug)]
pub struct NsxSim;

impl NsxSim {
    /// Starts the simulator and returns once it accepts connections.
    pub async fn start(config: SimConfig) -> Result<RunningSim, SimError> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: config.listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: config.listen,
            source,
        })?;
        let names = certificate_names(&config, local_addr.ip());
        let (store, identity) = match &config.data_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| SimError::Io {
                    path: dir.clone(),
                    source,
                })?;
                let db = dir.join(DATABASE_FILE);
                let store = tokio::task::spawn_blocking(move || Store::open(&db))
                    .await
                    .map_err(|e| StoreError::Task(e.to_string()))??;
                (store, tls::load_or_generate(dir, &names)?)
            }
            None => (Store::in_memory(), tls::generate(&names)?),
        };
        let node_uuid = store
            .write(|tx| {
                policy::bootstrap(tx, policy::now_ms())?;
                let uuid = match tx.get(policy::META, NODE_UUID_KEY).and_then(Value::as_str) {
                    Some(uuid) => uuid.to_owned(),
                    None => {
                        let uuid = uuid::Uuid::new_v4().to_string();
                        tx.put(policy::META, NODE_UUID_KEY, json!(uuid));
                        uuid
                    }
                };
                Ok::<_, ApiError>(uuid)
            })
            .await?;
        let tls_config = tls::server_config(&identity)?;
        let registry = registration::Registry::new(store.clone());
        let state = Arc::new(rest::AppState {
            store: store.clone(),
            sessions: auth::Sessions::default(),
            admin_password: config.admin_password.clone(),
            node: rest::system::NodeInfo {
                node_uuid,
                hostname: config.hostname.clone(),
                version: rest::system::NODE_VERSION.to_owned(),
            },
            registry: registry.clone(),
        });
        let shutdown = CancellationToken::new();
        let adapter_channel = channel::AdapterChannel::start(
            store.clone(),
            registry.clone(),
            config.channel.clone(),
            shutdown.clone(),
        );
        let rpc = match config.rpc_listen {
            Some(addr) => match start_rpc(&adapter_channel, &identity, addr).await {
                Ok(rpc) => Some(rpc),
                Err(error) => {
                    shutdown.cancel();
                    return Err(error);
                }
            },
            None => None,
        };
        let task = tokio::spawn(server::serve(
            listener,
            tls_config,
            rest::router(state).layer(axum::Extension(adapter_channel.clone())),
            shutdown.clone(),
        ));
        let host = if local_addr.ip().is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            local_addr.ip()
        };
        let base_url = format!("https://{}", SocketAddr::new(host, local_addr.port()));
        tracing::info!(%base_url, durable = store.is_durable(), "NSX simulator started");
        Ok(RunningSim {
            base_url,
            local_addr,
            ca_cert_pem: identity.ca_cert_pem.clone(),
            thumbprint: identity.thumbprint.clone(),
            data_dir: config.data_dir.clone(),
            store,
            registry,
            rpc_addr: rpc.as_ref().map(|(addr, _)| *addr),
            rpc_task: rpc.map(|(_, task)| task),
            adapter_channel,
            shutdown,
            task: Some(task),
        })
    }
}

/// Binds the adapter channel's listener and serves it (mutual TLS with the registered
/// principal-identity certificates).
async fn start_rpc(
    adapter_channel: &channel::AdapterChannel,
    identity: &tls::ServerIdentity,
    addr: SocketAddr,
) -> Result<(SocketAddr, JoinHandle<()>), SimError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| SimError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| SimError::Bind { addr, source })?;
    let verifier = Arc::new(channel::tls::RegisteredClusterVerifier::new(
        adapter_channel.registry().clone(),
    ));
    let config = tls::server_config_with_verifier(identity, verifier, vec![b"h2".to_vec()])?;
    tracing::info!(%local, "adapter channel listening");
    Ok((local, adapter_channel.serve(listener, config)))
}

fn certificate_names(config: &SimConfig, ip: IpAddr) -> Vec<String> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
        config.hostname.clone(),
    ];
    if !ip.is_unspecified() {
        names.push(ip.to_string());
    }
    names.extend(config.server_names.iter().cloned());
    let mut seen = std::collections::BTreeSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// A running simulator. Dropping it stops the server in the background; prefer
/// [`RunningSim::shutdown`], which waits until everything is released (so the same data
/// directory can be opened again).
#[derive(Debug)]
pub struct RunningSim {
    base_url: String,
    local_addr: SocketAddr,
    ca_cert_pem: String,
    thumbprint: String,
    data_dir: Option<PathBuf>,
    store: Store,
    registry: registration::Registry,
    rpc_addr: Option<SocketAddr>,
    rpc_task: Option<JoinHandle<()>>,
    adapter_channel: channel::AdapterChannel,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl RunningSim {
    /// `https://IP:PORT` of the API.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// PEM of the CA clients should trust.
    pub fn ca_cert_pem(&self) -> &str {
        &self.ca_cert_pem
    }

    /// Lowercase hex SHA-256 of the server certificate (DER).
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The data directory, if any.
    pub fn data_dir(&self) -> Option<&Path> {
        self.data_dir.as_deref()
    }

    /// Registered clusters (cluster control planes and their certificates) and the feed of
    /// registration changes, for the adapter channel.
    pub fn registry(&self) -> &registration::Registry {
        &self.registry
    }

    /// The bound address of the adapter channel, when `rpc_listen` was set.
    pub fn rpc_local_addr(&self) -> Option<SocketAddr> {
        self.rpc_addr
    }

    /// The adapter channel's shared state (sessions, desired-state feed, health).
    pub fn adapter_channel(&self) -> &channel::AdapterChannel {
        &self.adapter_channel
    }

    /// Registers a principal identity whose client certificate then authenticates as it.
    /// Returns the `PrincipalIdentity` document.
    pub async fn register_principal_identity(
        &self,
        spec: PrincipalIdentitySpec,
    ) -> Result<Value, SimError> {
        Ok(self
            .store
            .write(move |tx| {
                identity::register_principal_identity(
                    tx,
                    &spec,
                    &Identity::User(auth::ADMIN_USER.to_owned()),
                    policy::now_ms(),
                )
            })
            .await?)
    }

    /// Stops accepting connections, lets open requests finish, and releases the store.
    pub async fn shutdown(mut self) -> Result<(), SimError> {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await
                .map_err(|e| SimError::Store(StoreError::Task(e.to_string())))?;
        }
        if let Some(task) = self.rpc_task.take() {
            task.await
                .map_err(|e| SimError::Store(StoreError::Task(e.to_string())))?;
        }
        // Session and background tasks winding down may still hold the store for a moment;
        // the data dir is released only once the last holder has let go.
        let release = self.store.release_watch();
        let base_url = std::mem::take(&mut self.base_url);
        drop(self);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while !release.is_released() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        if !release.is_released() {
            tracing::warn!(%base_url, "the simulator's store is still held after shutdown");
        }
        tracing::info!(%base_url, "NSX simulator stopped");
        Ok(())
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
