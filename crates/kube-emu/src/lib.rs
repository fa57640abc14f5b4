//! An emulator of the Kubernetes API server, good enough for kube-rs and kubectl.
//!
//! It serves list/watch with resourceVersions, CRDs with structural-schema enforcement,
//! patches of every kind, status subresources and discovery, from memory. Tests use it
//! in-process through [`KubeEmu::router`]; the `antrea-nsx kube-emu` command serves it on
//! loopback. See `docs/kube-emu.md` for what is emulated and what is deliberately not.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let emu = kube_emu::KubeEmu::new();
//! let client = kube::Client::new(emu.router(), "default");
//! # Ok(()) }
//! ```

mod builtin;
mod convert;
mod crd;
mod discovery;
pub mod extension;
mod extra_kinds;
mod fieldmgr;
mod fields;
mod hooks;
mod http;
mod kubeconfig;
mod meta;
mod output;
mod patching;
mod rbac;
mod read;
mod schema;
mod select;
mod status;
mod store;
mod watch;
mod write;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use kube_apimachinery::openapi::OpenApiCache;
use kube_apimachinery::registry::{Origin, Registry, ResourceType, split_api_version};
use parking_lot::RwLock;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub use extension::{
    AdmissionDenial, AdmissionPlugin, AdmissionRequest, ApiExtension, ObjectReader, Operation,
};
pub use hooks::{FailureRule, RequestRecord};
pub use kubeconfig::kubeconfig_yaml;
pub use rbac::{AuthorizationRecord, Permission, RequestAttributes, UserInfo};
pub use status::ApiError;

/// Tunables of an emulator.
#[derive(Debug, Clone)]
pub struct EmuOptions {
    /// Changes kept per resource for watch resumption (older resumes get 410).
    pub history_limit: usize,
    /// Events buffered per resource for each watcher; one that falls further behind is
    /// disconnected (and resumes from its last resourceVersion).
    pub watch_buffer: usize,
    /// How often watches with `allowWatchBookmarks` get a bookmark.
    pub bookmark_interval: Duration,
    /// Requests kept in the request log.
    pub request_log_limit: usize,
    /// Create what a fresh cluster has: namespaces `default`, `kube-system`,
    /// `kube-public`, `kube-node-lease`, and the `kubernetes` Service.
    pub bootstrap: bool,
    /// Give each new namespace a `default` ServiceAccount (the ServiceAccount controller).
    pub default_service_accounts: bool,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
}

impl Default for EmuOptions {
    fn default() -> Self {
        EmuOptions {
            history_limit: 10_000,
            watch_buffer: 4096,
            bookmark_interval: Duration::from_secs(60),
            request_log_limit: 10_000,
            bootstrap: true,
            default_service_accounts: true,
            max_body_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Errors of the handle's own operations (loading, seeding, serving).
#[derive(Debug, thiserror::Error)]
pub enum EmuError {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parsing YAML{}: {message}", path.as_ref().map(|p| format!(" in {}", p.display())).unwrap_or_default())]
    Yaml {
        path: Option<PathBuf>,
        message: String,
    },
    #[error("{context}: {error}")]
    Api {
        context: String,
        #[source]
        error: ApiError,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("serving: {0}")]
    Serve(std::io::Error),
}

/// The emulator: a cheap-to-clone handle on shared state.
#[derive(Clone)]
pub struct KubeEmu {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for KubeEmu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeEmu")
            .field("resource_version", &self.resource_version())
            .finish()
    }
}

pub(crate) struct Inner {
    pub state: RwLock<store::State>,
    pub options: EmuOptions,
    pub hooks: hooks::Hooks,
    pub watch_control: watch::WatchControl,
    pub admission: RwLock<Vec<Arc<dyn AdmissionPlugin>>>,
    pub extensions: RwLock<Vec<ApiExtension>>,
    pub schemas: schema::SchemaCache,
    pub openapi: OpenApiCache,
    pub rbac: rbac::Authorizer,
}

impl Inner {
    pub fn registry(&self) -> Arc<Registry> {
        self.state.read().registry.clone()
    }
}

impl Default for KubeEmu {
    fn default() -> Self {
        KubeEmu::new()
    }
}

impl KubeEmu {
    /// An emulator with default options (bootstrapped namespaces and `kubernetes` Service).
    pub fn new() -> Self {
        KubeEmu::with_options(EmuOptions::default())
    }

    pub fn with_options(options: EmuOptions) -> Self {
        let mut registry = Registry::with_builtins();
        extra_kinds::add_to(&mut registry);
        let state = store::State::new(registry, options.history_limit, options.watch_buffer);
        let emu = KubeEmu {
            inner: Arc::new(Inner {
                state: RwLock::new(state),
                hooks: hooks::Hooks::new(options.request_log_limit),
                watch_control: watch::WatchControl::new(),
                admission: RwLock::new(Vec::new()),
                extensions: RwLock::new(Vec::new()),
                schemas: schema::SchemaCache::default(),
                openapi: OpenApiCache::new(),
                rbac: rbac::Authorizer::default(),
                options,
            }),
        };
        if emu.inner.options.bootstrap {
            emu.bootstrap();
        }
        emu
    }

    fn bootstrap(&self) {
        for namespace in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let object =
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
            if let Err(error) = write::upsert(&self.inner, object) {
                tracing::error!(%error, namespace, "bootstrap namespace failed");
            }
        }
        let service = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"component": "apiserver", "provider": "kubernetes"}
            },
            "spec": {
                "clusterIP": "10.96.0.1",
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
                "type": "ClusterIP"
            }
        });
        if let Err(error) = write::upsert(&self.inner, service) {
            tracing::error!(%error, "bootstrap kubernetes service failed");
        }
    }

    /// The API as an axum router: hand it to `kube::Client::new(router, "default")`, or
    /// serve it.
    pub fn router(&self) -> axum::Router {
        let inner = self.inner.clone();
        axum::Router::new().fallback(move |request: ::http::Request<Body>| {
            let inner = inner.clone();
            async move { crate::http::handle(inner, request).await }
        })
    }

    /// Serves the API on `listener` (plain HTTP) until `shutdown` is cancelled; open
    /// watches are ended then.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: CancellationToken,
    ) -> Result<(), EmuError> {
        let emu = self.clone();
        let stop = shutdown.clone();
        let ender = tokio::spawn(async move {
            stop.cancelled().await;
            emu.drop_watches();
        });
        let result = axum::serve(listener, self.router())
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        ender.abort();
        result.map_err(EmuError::Serve)
    }

    /// A kubeconfig pointing at `server_url` (see [`kubeconfig_yaml`]).
    pub fn kubeconfig_yaml(&self, server_url: &str) -> String {
        kubeconfig_yaml(server_url)
    }

    /// Creates or updates a CustomResourceDefinition; its versions are served at once.
    pub fn apply_crd(&self, crd: Value) -> Result<(), EmuError> {
        let name = crd
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if crd.get("kind").and_then(Value::as_str) != Some("CustomResourceDefinition") {
            return Err(EmuError::Invalid(format!(
                "{name:?} is not a CustomResourceDefinition"
            )));
        }
        write::upsert(&self.inner, crd).map_err(|error| EmuError::Api {
            context: format!("applying CRD {name:?}"),
            error,
        })?;
        Ok(())
    }

    /// Applies every CustomResourceDefinition in the `.yaml`/`.yml`/`.json` files of a
    /// folder (multi-document YAML allowed; other kinds are skipped). Returns how many.
    pub fn load_crds_dir(&self, dir: &Path) -> Result<usize, EmuError> {
        let io_error = |source| EmuError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io_error)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| {
                matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                )
            })
            .collect();
        files.sort();
        let mut count = 0;
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|source| EmuError::Io {
                path: file.clone(),
                source,
            })?;
            for document in parse_documents(&text, Some(&file))? {
                if document.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition")
                {
                    self.apply_crd(document)?;
                    count += 1;
                }
            }
        }
        Ok(count)
    }

    /// Creates (or updates) every object of a multi-document YAML text, in order; a
    /// `List` document contributes its items. Objects keep the `status` they carry.
    /// Returns how many objects were written.
    pub fn seed_yaml(&self, yaml: &str) -> Result<usize, EmuError> {
        let mut count = 0;
        for document in parse_documents(yaml, None)? {
            let objects = match document.get("items").and_then(Value::as_array) {
                Some(items)
                    if document
                        .get("kind")
                        .and_then(Value::as_str)
                        .is_some_and(|k| k.ends_with("List")) =>
                {
                    items.clone()
                }
                _ => vec![document],
            };
            for object in objects {
                let description = format!(
                    "seeding {} {:?}",
                    object
                        .get("kind")
                        .and_then(Value::as_str)
                        .unwrap_or("object"),
                    object
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                );
                write::upsert(&self.inner, object).map_err(|error| EmuError::Api {
                    context: description,
                    error,
                })?;
                count += 1;
            }
        }
        Ok(count)
    }

    /// Fails matching requests as the rule says (see [`FailureRule`]).
    pub fn inject_failure(&self, rule: FailureRule) {
        self.inner.hooks.add_failure(rule);
    }

    /// Removes every failure rule.
    pub fn clear_failures(&self) {
        self.inner.hooks.clear_failures();
    }

    /// Ends every open watch (clients see their stream close and re-watch).
    pub fn drop_watches(&self) {
        self.inner.watch_control.drop_all();
    }

    /// Forgets all history: watches and exact lists from older resourceVersions get 410.
    pub fn compact(&self) {
        self.inner.state.write().compact();
    }

    /// Sends a bookmark on every watch that asked for bookmarks.
    pub fn send_bookmarks(&self) {
        self.inner.watch_control.request_bookmarks();
    }

    /// The request log (oldest first, bounded by `EmuOptions::request_log_limit`).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.inner.hooks.requests()
    }

    pub fn clear_requests(&self) {
        self.inner.hooks.clear_requests();
    }

    /// How many writes were committed (creates, updates, deletes; dry runs and no-op
    /// updates are not writes).
    pub fn write_count(&self) -> u64 {
        self.inner.state.read().writes
    }

    /// The current (global) resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.inner.state.read().rv
    }

    /// The served types (built-ins, CRD versions, extensions).
    pub fn registry(&self) -> Arc<Registry> {
        self.inner.registry()
    }

    fn resolve(&self, api_version: &str, kind_or_plural: &str) -> Option<Arc<ResourceType>> {
        let registry = self.inner.registry();
        let (group, version) = split_api_version(api_version);
        registry
            .by_kind(api_version, kind_or_plural)
            .or_else(|| registry.get(group, version, kind_or_plural))
            .filter(|rt| !matches!(rt.origin, Origin::Extension))
    }

    /// A stored object, in `api_version`; `kind_or_plural` is `Pod` or `pods`.
    pub fn get_object(
        &self,
        api_version: &str,
        kind_or_plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let rt = self.resolve(api_version, kind_or_plural)?;
        let key = store::ObjectKey::new(namespace.unwrap_or(""), name);
        let stored = self
            .inner
            .state
            .read()
            .get(&convert::storage_resource(&rt), &key)?;
        Some(convert::served_value(&stored, &rt))
    }

    /// Stored objects of a type, in one namespace (or all), in list order.
    pub fn list_objects(
        &self,
        api_version: &str,
        kind_or_plural: &str,
        namespace: Option<&str>,
    ) -> Vec<Value> {
        let Some(rt) = self.resolve(api_version, kind_or_plural) else {
            return Vec::new();
        };
        let state = self.inner.state.read();
        let Some(store) = state.resource(&convert::storage_resource(&rt)) else {
            return Vec::new();
        };
        store
            .range(namespace, None)
            .map(|(_, object)| convert::served_value(object, &rt))
            .collect()
    }

    /// Adds an admission plugin (called on writes of the resources it handles).
    pub fn add_admission_plugin(&self, plugin: Arc<dyn AdmissionPlugin>) {
        self.inner.admission.write().push(plugin);
    }

    /// Serves a group/version through a router (an aggregated API); its resources appear
    /// in discovery. Fails when the group/version is already served.
    pub fn register_extension(&self, extension: ApiExtension) -> Result<(), EmuError> {
        let mut state = self.inner.state.write();
        let taken = state.registry.all().any(|rt| {
            rt.group == extension.group
                && rt.version == extension.version
                && !matches!(rt.origin, Origin::Extension)
        });
        let mut extensions = self.inner.extensions.write();
        if taken
            || extensions
                .iter()
                .any(|e| e.group == extension.group && e.version == extension.version)
        {
            return Err(EmuError::Invalid(format!(
                "{}/{} is already served",
                extension.group, extension.version
            )));
        }
        let registry = Arc::make_mut(&mut state.registry);
        for resource in &extension.resources {
            let mut rt = resource.clone();
            rt.group = extension.group.clone();
            rt.version = extension.version.clone();
            rt.origin = Origin::Extension;
            registry.insert(rt);
        }
        extensions.push(extension);
        Ok(())
    }
}

/// Parses (multi-document) YAML into objects, skipping empty documents.
fn parse_documents(text: &str, path: Option<&Path>) -> Result<Vec<Value>, EmuError> {
    let documents: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| EmuError::Yaml {
        path: path.map(Path::to_path_buf),
        message: e.to_string(),
    })?;
    Ok(documents.into_iter().filter(|d| !d.is_null()).collect())
}
