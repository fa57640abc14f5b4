//! Configuration: VMware's bootstrap-config, mp-adapter.conf and ccp-adapter.conf, plus ours.
//!
//! The files are the ones VMware's interworking Pod mounts under `/etc/antrea`
//! (`bootstrap.conf`, `mp-adapter.conf`, `ccp-adapter.conf`, `cluster-id.conf`,
//! `nsx-cert/tls.crt`, `nsx-cert/tls.key`), or the same data read from the ConfigMaps and the
//! Secret through the Kubernetes API. Every key has VMware's name and default where VMware has
//! one (docs/configuration.md lists them all, with ours). Parsing gives typed, validated
//! structs; a bad value, an unknown key or a missing required key fails with an error that
//! names the file and the key.

mod address;
mod certificate;
mod keys;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use adapter_core::ccp::{IpFamilies, TranslateOptions};
use adapter_nsx::rest::RestTrust;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;

pub use address::{NsxAddress, Scheme};
pub use certificate::{NsxCertificate, first_certificate_der};
use keys::Keys;

/// Where the interworking Pod mounts its configuration.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/antrea";
/// VMware's namespace for the interworking Pod and its configuration.
pub const DEFAULT_NAMESPACE: &str = "vmware-system-antrea";
/// The ConfigMap holding `bootstrap.conf`.
pub const BOOTSTRAP_CONFIGMAP: &str = "bootstrap-config";
/// The ConfigMap holding `mp-adapter.conf` and `ccp-adapter.conf`.
pub const ADAPTER_CONFIGMAP: &str = "antrea-interworking-config";
/// The ConfigMap the register command writes `cluster-id.conf` into.
pub const CLUSTER_ID_CONFIGMAP: &str = "cluster-id";
/// The Secret (type `kubernetes.io/tls`) with the principal-identity certificate.
pub const CERTIFICATE_SECRET: &str = "nsx-cert";
/// File and ConfigMap key names.
pub const BOOTSTRAP_FILE: &str = "bootstrap.conf";
pub const MP_ADAPTER_FILE: &str = "mp-adapter.conf";
pub const CCP_ADAPTER_FILE: &str = "ccp-adapter.conf";
pub const CLUSTER_ID_FILE: &str = "cluster-id.conf";
/// The default port of the adapter channel on NSX (ours: NSX's CCP port for hosts).
pub const DEFAULT_CHANNEL_PORT: u16 = 1235;

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file, ConfigMap or Secret could not be read.
    #[error("{source_name}: cannot read: {message}")]
    Read {
        source_name: String,
        message: String,
    },
    /// Not YAML, or not a mapping.
    #[error("{source_name}: not a valid configuration file: {message}")]
    Syntax {
        source_name: String,
        message: String,
    },
    /// A key has a bad value, or keys contradict each other.
    #[error("{source_name}: key {key}: {message}")]
    Invalid {
        source_name: String,
        key: String,
        message: String,
    },
    /// A key the file must have.
    #[error("{source_name}: key {key} is required: {message}")]
    Missing {
        source_name: String,
        key: String,
        message: String,
    },
    /// A key this adapter does not know (a typo, or a setting of another product).
    #[error("{source_name}: unknown key {key}{suggestion}")]
    UnknownKey {
        source_name: String,
        key: String,
        suggestion: String,
    },
    /// No Kubernetes client could be built.
    #[error("Kubernetes client: {0}")]
    Kubernetes(String),
}

impl ConfigError {
    /// The key the error is about, if it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. }
            | ConfigError::Missing { key, .. }
            | ConfigError::UnknownKey { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// `bootstrapFrom`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootstrapFrom {
    /// Everything is in bootstrap.conf (the only mode outside vSphere with Tanzu).
    Inline,
}

/// `proxyEndpoints`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyEndpoints {
    /// `rest-api`: when set, REST calls go there and `NSXManagers` is ignored for REST.
    pub rest_api: Vec<NsxAddress>,
    /// `nsx-rpc-fwd-proxy`: when set, the adapter channel goes there.
    pub nsx_rpc_fwd_proxy: Vec<NsxAddress>,
}

/// `bootstrap.conf` (ConfigMap `bootstrap-config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapConfig {
    /// `bootstrapFrom` (`Inline`).
    pub bootstrap_from: BootstrapFrom,
    /// `clusterName`: the cluster control plane id, principal identity name and certificate CN.
    pub cluster_name: String,
    /// `NSXManagers`: one or more managers, tried in order with failover.
    pub nsx_managers: Vec<NsxAddress>,
    /// `vpcPath` (or the deprecated `vhcPath`): the tenancy path given to the cluster control
    /// plane as `vhc_path`.
    pub vpc_path: Option<String>,
    /// `proxyEndpoints`.
    pub proxy_endpoints: ProxyEndpoints,
    /// `NSXChannelPort` (ours): the port of the adapter channel on each manager.
    pub channel_port: u16,
}

impl BootstrapConfig {
    const KEYS: &'static [&'static str] = &[
        "bootstrapFrom",
        "bootstrapSupervisorResourceName",
        "clusterName",
        "NSXManagers",
        "vpcPath",
        "vhcPath",
        "proxyEndpoints",
        "NSXChannelPort",
    ];

    /// Parses `bootstrap.conf`; `source` names the file in errors.
    pub fn parse(source: &str, text: &str) -> Result<BootstrapConfig, ConfigError> {
        let mut keys = Keys::parse(source, text)?;
        let bootstrap_from =
            match keys.choice("bootstrapFrom", "Inline", &["Inline", "SupervisorCluster"])? {
                "Inline" => BootstrapFrom::Inline,
                _ => {
                    return Err(keys.invalid(
                    "bootstrapFrom",
                    "SupervisorCluster is not supported: give clusterName and NSXManagers inline \
                     (bootstrapFrom: Inline)",
                ));
                }
            };
        keys.ignore(&["bootstrapSupervisorResourceName"]);
        let cluster_name = keys
            .string("clusterName")?
            .ok_or_else(|| ConfigError::Missing {
                source_name: source.to_owned(),
                key: "clusterName".to_owned(),
                message: "the cluster's name in NSX (its certificate's CommonName)".to_owned(),
            })?;
        check_cluster_name(&cluster_name)
            .map_err(|message| keys.invalid("clusterName", message))?;
        let nsx_managers = addresses(&mut keys, "NSXManagers")?;
        let vpc_path = keys.string("vpcPath")?;
        let vhc_path = keys.string("vhcPath")?;
        let vpc_path = match (vpc_path, vhc_path) {
            (Some(vpc), Some(vhc)) if vpc != vhc => {
                return Err(keys.invalid(
                    "vhcPath",
                    "vhcPath is the deprecated name of vpcPath; give only vpcPath",
                ));
            }
            (vpc, vhc) => vpc.or(vhc),
        };
        if let Some(path) = &vpc_path
            && !path.starts_with('/')
        {
            return Err(keys.invalid("vpcPath", format!("{path:?} is not an NSX path")));
        }
        let mut proxies = keys.nested("proxyEndpoints")?;
        let proxy_endpoints = ProxyEndpoints {
            rest_api: addresses(&mut proxies, "rest-api")?,
            nsx_rpc_fwd_proxy: addresses(&mut proxies, "nsx-rpc-fwd-proxy")?,
        };
        proxies.finish(&["rest-api", "nsx-rpc-fwd-proxy"])?;
        if nsx_managers.is_empty() && proxy_endpoints.rest_api.is_empty() {
            return Err(ConfigError::Missing {
                source_name: source.to_owned(),
                key: "NSXManagers".to_owned(),
                message: "at least one NSX manager address (or proxyEndpoints.rest-api)".to_owned(),
            });
        }
        let channel_port = keys.port("NSXChannelPort", DEFAULT_CHANNEL_PORT)?;
        keys.finish(Self::KEYS)?;
        Ok(BootstrapConfig {
            bootstrap_from,
            cluster_name,
            nsx_managers,
            vpc_path,
            proxy_endpoints,
            channel_port,
        })
    }

    /// The REST endpoints, in failover order: `proxyEndpoints.rest-api` when set, else
    /// `NSXManagers`, as URLs for [`adapter_nsx::rest::RestConfig::managers`].
    pub fn rest_managers(&self) -> Vec<String> {
        let addresses = if self.proxy_endpoints.rest_api.is_empty() {
            &self.nsx_managers
        } else {
            &self.proxy_endpoints.rest_api
        };
        addresses.iter().map(NsxAddress::url).collect()
    }

    /// The adapter channel endpoints (`https://host:port`): `proxyEndpoints.nsx-rpc-fwd-proxy`
    /// when set, else each manager's host at `NSXChannelPort`.
    pub fn channel_endpoints(&self) -> Vec<String> {
        if !self.proxy_endpoints.nsx_rpc_fwd_proxy.is_empty() {
            return self
                .proxy_endpoints
                .nsx_rpc_fwd_proxy
                .iter()
                .map(|address| address.https_url_with_port(self.channel_port))
                .collect();
        }
        let managers = if self.nsx_managers.is_empty() {
            &self.proxy_endpoints.rest_api
        } else {
            &self.nsx_managers
        };
        managers
            .iter()
            .map(|address| {
                address
                    .with_port(self.channel_port)
                    .https_url_with_port(self.channel_port)
            })
            .collect()
    }
}

/// A cluster name NSX accepts as a policy id and a CommonName.
fn check_cluster_name(name: &str) -> Result<(), String> {
    if name.len() > 255 {
        return Err("longer than 255 characters".to_owned());
    }
    if let Some(bad) = name.chars().find(|c| {
        matches!(c, '/' | '?' | '#' | '%' | '\\' | '"' | '\'')
            || c.is_whitespace()
            || c.is_control()
    }) {
        return Err(format!(
            "{name:?} contains {bad:?}; the name becomes an NSX id and a certificate CommonName"
        ));
    }
    Ok(())
}

fn addresses(keys: &mut Keys, key: &str) -> Result<Vec<NsxAddress>, ConfigError> {
    keys.strings(key)?
        .iter()
        .map(|text| NsxAddress::parse(text).map_err(|message| keys.invalid(key, message)))
        .collect()
}

/// How the adapters trust NSX's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NsxTrust {
    /// `NSXCAFile`: a PEM CA bundle (chain, validity and host name are checked).
    CaFile { path: PathBuf, pem: Vec<u8> },
    /// `NSXThumbprint` (ours): SHA-256 thumbprints of the managers' certificates.
    Thumbprints(Vec<[u8; 32]>),
    /// `NSXInsecure: true`: no verification. Only when asked for.
    Insecure,
}

impl NsxTrust {
    /// The REST client's trust.
    pub fn rest_trust(&self) -> RestTrust {
        match self {
            NsxTrust::CaFile { pem, .. } => RestTrust::CaCertificates(pem.clone()),
            NsxTrust::Thumbprints(pins) => RestTrust::PinnedSha256(pins.clone()),
            NsxTrust::Insecure => RestTrust::InsecureSkipVerify,
        }
    }
}

/// How an adapter reaches and authenticates to NSX.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsxConnectionConfig {
    /// `NSXCAFile` / `NSXThumbprint` / `NSXInsecure`.
    pub trust: NsxTrust,
    /// `NSXClientAuthCertFile`.
    pub client_certificate_file: PathBuf,
    /// `NSXClientAuthKeyFile`.
    pub client_key_file: PathBuf,
    /// `NSXClientTimeout`.
    pub client_timeout: Duration,
}

impl NsxConnectionConfig {
    /// Reads and checks the principal-identity certificate and key files.
    pub fn load_certificate(&self) -> Result<NsxCertificate, ConfigError> {
        NsxCertificate::load_files(&self.client_certificate_file, &self.client_key_file)
    }

    /// The REST client configuration: `bootstrap`'s managers, this trust and timeout, and the
    /// principal-identity certificate as client authentication.
    pub fn rest_config(
        &self,
        bootstrap: &BootstrapConfig,
        certificate: &NsxCertificate,
    ) -> adapter_nsx::rest::RestConfig {
        let mut config = adapter_nsx::rest::RestConfig::new(
            bootstrap.rest_managers(),
            self.trust.rest_trust(),
            adapter_nsx::rest::RestAuth::ClientCertificate {
                certificate_chain_pem: certificate.certificate_pem.clone().into_bytes(),
                private_key_pem: certificate.private_key_pem.clone().into_bytes(),
            },
        );
        config.request_timeout = self.client_timeout;
        config
    }
}

const CONNECTION_KEYS: &[&str] = &[
    "NSXCAFile",
    "NSXThumbprint",
    "NSXInsecure",
    "NSXVerifyServerName",
    "NSXClientAuthCertFile",
    "NSXClientAuthKeyFile",
    "NSXClientTimeout",
];

fn resolve(base: Option<&Path>, path: &str) -> PathBuf {
    let path = PathBuf::from(path);
    match base {
        Some(base) if path.is_relative() => base.join(path),
        _ => path,
    }
}

/// Reads the connection keys; `inherited` supplies the defaults (the CCP adapter inherits
/// the MP adapter's); without it, a way to trust NSX is required.
fn connection(
    keys: &mut Keys,
    base: Option<&Path>,
    inherited: Option<&NsxConnectionConfig>,
) -> Result<NsxConnectionConfig, ConfigError> {
    let ca_file = keys.string("NSXCAFile")?;
    let thumbprints = keys.strings("NSXThumbprint")?;
    let insecure_given = keys.take("NSXInsecure");
    let insecure = match &insecure_given {
        None => false,
        Some(serde_json::Value::Bool(value)) => *value,
        Some(serde_json::Value::String(text)) if text == "true" || text == "false" => {
            text == "true"
        }
        Some(other) => {
            return Err(keys.invalid(
                "NSXInsecure",
                format!("expected true or false, found {other}"),
            ));
        }
    };
    let verify_name = keys.bool("NSXVerifyServerName", true)?;
    let given = usize::from(ca_file.is_some())
        + usize::from(!thumbprints.is_empty())
        + usize::from(insecure);
    if given > 1 {
        let key = if insecure {
            "NSXInsecure"
        } else {
            "NSXThumbprint"
        };
        return Err(keys.invalid(
            key,
            "give only one of NSXCAFile, NSXThumbprint and NSXInsecure: true",
        ));
    }
    let trust = if let Some(path) = ca_file {
        let path = resolve(base, &path);
        let pem = std::fs::read(&path).map_err(|error| {
            keys.invalid(
                "NSXCAFile",
                format!("cannot read {}: {error}", path.display()),
            )
        })?;
        let text = String::from_utf8_lossy(&pem);
        first_certificate_der(&text).map_err(|message| {
            keys.invalid("NSXCAFile", format!("{}: {message}", path.display()))
        })?;
        Some(NsxTrust::CaFile { path, pem })
    } else if !thumbprints.is_empty() {
        let pins = thumbprints
            .iter()
            .map(|text| {
                nsx_proto::tls::parse_sha256_thumbprint(text)
                    .map_err(|error| keys.invalid("NSXThumbprint", error.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Some(NsxTrust::Thumbprints(pins))
    } else if insecure {
        tracing::warn!(source = %keys.source(), "NSXInsecure: true: NSX's certificate is not verified");
        Some(NsxTrust::Insecure)
    } else {
        None
    };
    let trust = match (trust, inherited) {
        (Some(trust), _) => trust,
        (None, Some(inherited)) if insecure_given.is_none() => inherited.trust.clone(),
        (None, _) => {
            return Err(ConfigError::Missing {
                source_name: keys.source().to_owned(),
                key: "NSXCAFile".to_owned(),
                message: "no way to trust NSX's certificate: set NSXCAFile (a CA bundle), \
                          NSXThumbprint (SHA-256 thumbprints), or NSXInsecure: true"
                    .to_owned(),
            });
        }
    };
    if !verify_name && matches!(trust, NsxTrust::CaFile { .. }) {
        return Err(keys.invalid(
            "NSXVerifyServerName",
            "false is not supported with NSXCAFile: pin the managers' certificates with \
             NSXThumbprint instead",
        ));
    }
    let defaults = inherited.cloned();
    let client_certificate_file = keys
        .string("NSXClientAuthCertFile")?
        .map(|path| resolve(base, &path))
        .or_else(|| defaults.as_ref().map(|d| d.client_certificate_file.clone()))
        .unwrap_or_else(|| PathBuf::from("/etc/antrea/nsx-cert/tls.crt"));
    let client_key_file = keys
        .string("NSXClientAuthKeyFile")?
        .map(|path| resolve(base, &path))
        .or_else(|| defaults.as_ref().map(|d| d.client_key_file.clone()))
        .unwrap_or_else(|| PathBuf::from("/etc/antrea/nsx-cert/tls.key"));
    let default_timeout = defaults
        .as_ref()
        .map_or(120, |d| d.client_timeout.as_secs());
    let client_timeout = keys.seconds("NSXClientTimeout", default_timeout, 1, 3600)?;
    Ok(NsxConnectionConfig {
        trust,
        client_certificate_file,
        client_key_file,
        client_timeout,
    })
}

/// `LogFormat` (ours).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Lease-based leader election (ours).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderElectionConfig {
    /// `LeaderElection`: elect a leader among replicas (default true).
    pub enabled: bool,
    /// `LeaseDurationSeconds` (15).
    pub lease_duration: Duration,
    /// `LeaseRenewDeadlineSeconds` (10): the leader steps down when it cannot renew by then.
    pub renew_deadline: Duration,
    /// `LeaseRetryPeriodSeconds` (2).
    pub retry_period: Duration,
}

/// Keys both adapter files have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterCommonConfig {
    /// `APIServerPort`: `/livez`, `/readyz`, `/metrics`.
    pub api_server_port: u16,
    /// `EnableDebugServer`.
    pub enable_debug_server: bool,
    /// `DebugServerPort`.
    pub debug_server_port: u16,
    /// `LogLevel` (ours): `trace`, `debug`, `info`, `warn` or `error`.
    pub log_level: tracing::Level,
    /// `LogFormat` (ours): `text` or `json`.
    pub log_format: LogFormat,
    /// Leader election (ours).
    pub leader_election: LeaderElectionConfig,
    /// NSX trust, client certificate and timeout.
    pub nsx: NsxConnectionConfig,
}

const COMMON_KEYS: &[&str] = &[
    "APIServerPort",
    "EnableDebugServer",
    "DebugServerPort",
    "NSXRPCDebug",
    "NSXRPCConnType",
    "LogLevel",
    "LogFormat",
    "LeaderElection",
    "LeaseDurationSeconds",
    "LeaseRenewDeadlineSeconds",
    "LeaseRetryPeriodSeconds",
];

fn common(
    keys: &mut Keys,
    base: Option<&Path>,
    api_port: u16,
    debug_port: u16,
    inherited: Option<&NsxConnectionConfig>,
) -> Result<AdapterCommonConfig, ConfigError> {
    let api_server_port = keys.port("APIServerPort", api_port)?;
    let enable_debug_server = keys.bool("EnableDebugServer", false)?;
    let debug_server_port = keys.port("DebugServerPort", debug_port)?;
    if enable_debug_server && debug_server_port == api_server_port {
        return Err(keys.invalid("DebugServerPort", "must differ from APIServerPort"));
    }
    // VMware's NSX-RPC settings: the adapter channel replaces NSX-RPC; the values are still
    // checked so a typo is caught.
    keys.bool("NSXRPCDebug", false)?;
    keys.choice("NSXRPCConnType", "tnproxy", &["tnproxy", "mock"])?;
    let log_level = match keys.choice(
        "LogLevel",
        "info",
        &["trace", "debug", "info", "warn", "error"],
    )? {
        "trace" => tracing::Level::TRACE,
        "debug" => tracing::Level::DEBUG,
        "warn" => tracing::Level::WARN,
        "error" => tracing::Level::ERROR,
        _ => tracing::Level::INFO,
    };
    let log_format = match keys.choice("LogFormat", "text", &["text", "json"])? {
        "json" => LogFormat::Json,
        _ => LogFormat::Text,
    };
    let enabled = keys.bool("LeaderElection", true)?;
    let lease_duration = keys.seconds("LeaseDurationSeconds", 15, 2, 3600)?;
    let renew_deadline = keys.seconds("LeaseRenewDeadlineSeconds", 10, 1, 3600)?;
    let retry_period = keys.seconds("LeaseRetryPeriodSeconds", 2, 1, 3600)?;
    if renew_deadline >= lease_duration {
        return Err(keys.invalid(
            "LeaseRenewDeadlineSeconds",
            "must be shorter than LeaseDurationSeconds",
        ));
    }
    if retry_period >= renew_deadline {
        return Err(keys.invalid(
            "LeaseRetryPeriodSeconds",
            "must be shorter than LeaseRenewDeadlineSeconds",
        ));
    }
    let nsx = connection(keys, base, inherited)?;
    Ok(AdapterCommonConfig {
        api_server_port,
        enable_debug_server,
        debug_server_port,
        log_level,
        log_format,
        leader_election: LeaderElectionConfig {
            enabled,
            lease_duration,
            renew_deadline,
            retry_period,
        },
        nsx,
    })
}

/// `mp-adapter.conf` (ConfigMap `antrea-interworking-config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpAdapterConfig {
    /// Keys both adapters have (`APIServerPort` default 16664, `DebugServerPort` 16666).
    pub common: AdapterCommonConfig,
    /// `InventoryBatchSize` (50): most objects in one inventory update request.
    pub inventory_batch_size: usize,
    /// `InventoryBatchPeriod` (5 s): longest wait before a partial batch is sent.
    pub inventory_batch_period: Duration,
    /// `InventoryGCPeriod` (600 s, our default): how often stale inventory is collected.
    pub inventory_gc_period: Duration,
    /// `clusterType` (`kubernetes`): the inventory cluster's type.
    pub cluster_type: String,
    /// `ConditionTimeout` (150 s): how long a health condition may stay stale.
    pub condition_timeout: Duration,
}

impl MpAdapterConfig {
    /// Parses `mp-adapter.conf`. `base` resolves relative file paths (the config folder).
    pub fn parse(
        source: &str,
        text: &str,
        base: Option<&Path>,
    ) -> Result<MpAdapterConfig, ConfigError> {
        let mut keys = Keys::parse(source, text)?;
        if keys.bool("NSXRemoteAuth", false)? {
            return Err(keys.invalid(
                "NSXRemoteAuth",
                "remote (vIDM) authentication is not supported: the adapter authenticates with \
                 the principal-identity certificate",
            ));
        }
        let common = common(&mut keys, base, 16664, 16666, None)?;
        let inventory_batch_size =
            usize::try_from(keys.integer("InventoryBatchSize", 50, 1, 1000)?).unwrap_or(50);
        let inventory_batch_period = keys.seconds("InventoryBatchPeriod", 5, 1, 3600)?;
        let inventory_gc_period = keys.seconds("InventoryGCPeriod", 600, 10, 7 * 86_400)?;
        let cluster_type = keys
            .string("clusterType")?
            .unwrap_or_else(|| "kubernetes".to_owned());
        let condition_timeout = keys.seconds("ConditionTimeout", 150, 1, 86_400)?;
        let known: Vec<&str> = COMMON_KEYS
            .iter()
            .chain(CONNECTION_KEYS)
            .chain(&[
                "NSXRemoteAuth",
                "InventoryBatchSize",
                "InventoryBatchPeriod",
                "InventoryGCPeriod",
                "clusterType",
                "ConditionTimeout",
            ])
            .copied()
            .collect();
        keys.finish(&known)?;
        Ok(MpAdapterConfig {
            common,
            inventory_batch_size,
            inventory_batch_period,
            inventory_gc_period,
            cluster_type,
            condition_timeout,
        })
    }
}

/// `ccp-adapter.conf` (ConfigMap `antrea-interworking-config`).
#[derive(Debug, Clone, PartialEq)]
pub struct CcpAdapterConfig {
    /// Keys both adapters have (`APIServerPort` default 16665, `DebugServerPort` 16667). The
    /// NSX connection keys default to the MP adapter's.
    pub common: AdapterCommonConfig,
    /// `RealizeTimeoutSeconds` (60).
    pub realize_timeout: Duration,
    /// `RealizeErrorSyncIntervalSeconds` (600): the last realization error is re-reported.
    pub realize_error_sync_interval: Duration,
    /// `ReconcilerWorkerCount` (8).
    pub reconciler_worker_count: usize,
    /// `ReconcilerQPS` (5.0) per worker.
    pub reconciler_qps: f64,
    /// `ReconcilerBurst` (10).
    pub reconciler_burst: u32,
    /// `ReconcilerResyncSeconds` (86400): full re-list and re-apply period.
    pub reconciler_resync: Duration,
    /// `IPFamilies` (ours): `DualStack`, `IPv4` or `IPv6` (the Pods' families).
    pub ip_families: IpFamilies,
}

impl CcpAdapterConfig {
    /// Parses `ccp-adapter.conf`; the NSX connection keys default to `mp`'s.
    pub fn parse(
        source: &str,
        text: &str,
        base: Option<&Path>,
        mp: &MpAdapterConfig,
    ) -> Result<CcpAdapterConfig, ConfigError> {
        let mut keys = Keys::parse(source, text)?;
        let common = common(&mut keys, base, 16665, 16667, Some(&mp.common.nsx))?;
        let realize_timeout = keys.seconds("RealizeTimeoutSeconds", 60, 1, 86_400)?;
        let realize_error_sync_interval =
            keys.seconds("RealizeErrorSyncIntervalSeconds", 600, 10, 7 * 86_400)?;
        let reconciler_worker_count =
            usize::try_from(keys.integer("ReconcilerWorkerCount", 8, 1, 256)?).unwrap_or(8);
        let reconciler_qps = keys.positive_number("ReconcilerQPS", 5.0)?;
        let reconciler_burst =
            u32::try_from(keys.integer("ReconcilerBurst", 10, 1, 10_000)?).unwrap_or(10);
        let reconciler_resync = keys.seconds("ReconcilerResyncSeconds", 86_400, 60, 30 * 86_400)?;
        let ip_families =
            match keys.choice("IPFamilies", "DualStack", &["DualStack", "IPv4", "IPv6"])? {
                "IPv4" => IpFamilies::Ipv4Only,
                "IPv6" => IpFamilies::Ipv6Only,
                _ => IpFamilies::DualStack,
            };
        let known: Vec<&str> = COMMON_KEYS
            .iter()
            .chain(CONNECTION_KEYS)
            .chain(&[
                "RealizeTimeoutSeconds",
                "RealizeErrorSyncIntervalSeconds",
                "ReconcilerWorkerCount",
                "ReconcilerQPS",
                "ReconcilerBurst",
                "ReconcilerResyncSeconds",
                "IPFamilies",
            ])
            .copied()
            .collect();
        keys.finish(&known)?;
        Ok(CcpAdapterConfig {
            common,
            realize_timeout,
            realize_error_sync_interval,
            reconciler_worker_count,
            reconciler_qps,
            reconciler_burst,
            reconciler_resync,
            ip_families,
        })
    }

    /// The translator's options.
    pub fn translate_options(&self) -> TranslateOptions {
        TranslateOptions {
            ip_families: self.ip_families,
        }
    }
}

/// Parses `cluster-id.conf` (`clusterID: <UUID>`, the cluster's inventory id that the
/// register command records).
pub fn parse_cluster_id(source: &str, text: &str) -> Result<String, ConfigError> {
    let mut keys = Keys::parse(source, text)?;
    let id = keys
        .string("clusterID")?
        .ok_or_else(|| ConfigError::Missing {
            source_name: source.to_owned(),
            key: "clusterID".to_owned(),
            message: "the cluster's NSX id, written by `antrea-nsx register`".to_owned(),
        })?;
    if !is_uuid(&id) {
        return Err(keys.invalid("clusterID", format!("{id:?} is not a UUID")));
    }
    keys.finish(&["clusterID"])?;
    Ok(id)
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The three configuration files, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterConfigSet {
    pub bootstrap: BootstrapConfig,
    pub mp: MpAdapterConfig,
    pub ccp: CcpAdapterConfig,
}

fn read_optional(path: &Path) -> Result<Option<String>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(ConfigError::Read {
            source_name: path.display().to_string(),
            message: error.to_string(),
        }),
    }
}

/// Reads `bootstrap.conf` (required), `mp-adapter.conf` and `ccp-adapter.conf` (absent: all
/// defaults) from a folder, as the Pod mounts them.
pub fn load_dir(dir: &Path) -> Result<AdapterConfigSet, ConfigError> {
    let path = dir.join(BOOTSTRAP_FILE);
    let name = |path: &Path| path.display().to_string();
    let text = read_optional(&path)?.ok_or_else(|| ConfigError::Read {
        source_name: name(&path),
        message: "file not found (mount ConfigMap bootstrap-config there)".to_owned(),
    })?;
    let bootstrap = BootstrapConfig::parse(&name(&path), &text)?;
    let mp_path = dir.join(MP_ADAPTER_FILE);
    let mp_text = read_optional(&mp_path)?.unwrap_or_default();
    let mp = MpAdapterConfig::parse(&name(&mp_path), &mp_text, Some(dir))?;
    let ccp_path = dir.join(CCP_ADAPTER_FILE);
    let ccp_text = read_optional(&ccp_path)?.unwrap_or_default();
    let ccp = CcpAdapterConfig::parse(&name(&ccp_path), &ccp_text, Some(dir), &mp)?;
    Ok(AdapterConfigSet { bootstrap, mp, ccp })
}

/// Reads `cluster-id.conf` from a folder; `None` when the cluster is not registered yet.
pub fn load_cluster_id_dir(dir: &Path) -> Result<Option<String>, ConfigError> {
    let path = dir.join(CLUSTER_ID_FILE);
    read_optional(&path)?
        .map(|text| parse_cluster_id(&path.display().to_string(), &text))
        .transpose()
}

fn kube_read_error(what: String, error: kube::Error) -> ConfigError {
    ConfigError::Read {
        source_name: what,
        message: error.to_string(),
    }
}

/// A ConfigMap's data, `None` when it does not exist.
async fn configmap_data(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Option<BTreeMap<String, String>>, ConfigError> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let configmap = api
        .get_opt(name)
        .await
        .map_err(|error| kube_read_error(format!("ConfigMap {namespace}/{name}"), error))?;
    Ok(configmap.map(|configmap| configmap.data.unwrap_or_default()))
}

/// Reads the same three files from ConfigMaps `bootstrap-config` (required) and
/// `antrea-interworking-config` (optional; keys `mp-adapter.conf`, `ccp-adapter.conf`).
/// Relative file paths in them (e.g. `NSXCAFile`) are taken as they are.
pub async fn load_api(
    client: &kube::Client,
    namespace: &str,
) -> Result<AdapterConfigSet, ConfigError> {
    let source =
        |configmap: &str, key: &str| format!("ConfigMap {namespace}/{configmap} key {key}");
    let bootstrap_data = configmap_data(client, namespace, BOOTSTRAP_CONFIGMAP)
        .await?
        .ok_or_else(|| ConfigError::Read {
            source_name: format!("ConfigMap {namespace}/{BOOTSTRAP_CONFIGMAP}"),
            message: "not found".to_owned(),
        })?;
    let bootstrap_source = source(BOOTSTRAP_CONFIGMAP, BOOTSTRAP_FILE);
    let text = bootstrap_data
        .get(BOOTSTRAP_FILE)
        .ok_or_else(|| ConfigError::Read {
            source_name: bootstrap_source.clone(),
            message: "the key is missing".to_owned(),
        })?;
    let bootstrap = BootstrapConfig::parse(&bootstrap_source, text)?;
    let adapters = configmap_data(client, namespace, ADAPTER_CONFIGMAP)
        .await?
        .unwrap_or_default();
    let empty = String::new();
    let mp = MpAdapterConfig::parse(
        &source(ADAPTER_CONFIGMAP, MP_ADAPTER_FILE),
        adapters.get(MP_ADAPTER_FILE).unwrap_or(&empty),
        None,
    )?;
    let ccp = CcpAdapterConfig::parse(
        &source(ADAPTER_CONFIGMAP, CCP_ADAPTER_FILE),
        adapters.get(CCP_ADAPTER_FILE).unwrap_or(&empty),
        None,
        &mp,
    )?;
    Ok(AdapterConfigSet { bootstrap, mp, ccp })
}

/// Reads the cluster id from ConfigMap `cluster-id`; `None` when the cluster is not
/// registered yet.
pub async fn load_cluster_id_api(
    client: &kube::Client,
    namespace: &str,
) -> Result<Option<String>, ConfigError> {
    let Some(data) = configmap_data(client, namespace, CLUSTER_ID_CONFIGMAP).await? else {
        return Ok(None);
    };
    let source = format!("ConfigMap {namespace}/{CLUSTER_ID_CONFIGMAP} key {CLUSTER_ID_FILE}");
    let text = data.get(CLUSTER_ID_FILE).ok_or_else(|| ConfigError::Read {
        source_name: source.clone(),
        message: "the key is missing".to_owned(),
    })?;
    parse_cluster_id(&source, text).map(Some)
}

/// The certificate of Secret `nsx-cert` (`tls.crt`, `tls.key`); `None` when the Secret does
/// not exist.
pub async fn load_certificate_api(
    client: &kube::Client,
    namespace: &str,
) -> Result<Option<NsxCertificate>, ConfigError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let source = format!("Secret {namespace}/{CERTIFICATE_SECRET}");
    let Some(secret) = api
        .get_opt(CERTIFICATE_SECRET)
        .await
        .map_err(|error| kube_read_error(source.clone(), error))?
    else {
        return Ok(None);
    };
    certificate_from_secret(&source, &secret).map(Some)
}

/// The certificate of a `kubernetes.io/tls` Secret.
pub fn certificate_from_secret(
    source: &str,
    secret: &Secret,
) -> Result<NsxCertificate, ConfigError> {
    let data = secret.data.clone().unwrap_or_default();
    let text = |key: &str| -> Result<String, ConfigError> {
        let bytes = data.get(key).ok_or_else(|| ConfigError::Missing {
            source_name: source.to_owned(),
            key: key.to_owned(),
            message: "a kubernetes.io/tls Secret has tls.crt and tls.key".to_owned(),
        })?;
        String::from_utf8(bytes.0.clone()).map_err(|_| ConfigError::Invalid {
            source_name: source.to_owned(),
            key: key.to_owned(),
            message: "not UTF-8 PEM text".to_owned(),
        })
    };
    NsxCertificate::from_pem(source, &text("tls.crt")?, &text("tls.key")?)
}

/// A Kubernetes client: from `kubeconfig` when given, else the Pod's in-cluster credentials,
/// else (outside a cluster) the kubeconfig that `$KUBECONFIG` names.
pub async fn kube_client(kubeconfig: Option<&Path>) -> Result<kube::Client, ConfigError> {
    let config = match kubeconfig {
        Some(path) => {
            let file =
                kube::config::Kubeconfig::read_from(path).map_err(|error| ConfigError::Read {
                    source_name: path.display().to_string(),
                    message: error.to_string(),
                })?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|error| ConfigError::Kubernetes(format!("{}: {error}", path.display())))?
        }
        None => match kube::Config::incluster() {
            Ok(config) => config,
            Err(in_cluster) => {
                if std::env::var_os("KUBECONFIG").is_none() {
                    return Err(ConfigError::Kubernetes(format!(
                        "not running in a cluster ({in_cluster}); pass --kubeconfig"
                    )));
                }
                kube::Config::from_kubeconfig(&kube::config::KubeConfigOptions::default())
                    .await
                    .map_err(|error| ConfigError::Kubernetes(format!("$KUBECONFIG: {error}")))?
            }
        },
    };
    kube::Client::try_from(config).map_err(|error| ConfigError::Kubernetes(error.to_string()))
}

#[cfg(test)]
mod tests;
