//! Extension points for emulations built on top of the emulator (such as Antrea's):
//! admission plugins, which see every write of the resources they choose, may mutate it
//! and may deny it as a validating webhook would; and API extensions, whole group/versions
//! served by an axum router (aggregated APIs such as `stats.antrea.io/v1alpha1`), listed
//! in discovery like any other group.

use kube_apimachinery::registry::{Origin, ResourceType, Subresources};
use serde_json::Value;

/// The kind of write an admission plugin is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

/// Read access to stored objects during admission (the store is locked for the write,
/// so plugins read through this rather than through a client).
pub trait ObjectReader {
    /// One object of `group`/`resource` (plural), in its storage version.
    fn get(&self, group: &str, resource: &str, namespace: &str, name: &str) -> Option<Value>;
    /// Objects of `group`/`resource`, in one namespace or all.
    fn list(&self, group: &str, resource: &str, namespace: Option<&str>) -> Vec<Value>;
}

/// One write, as an admission plugin sees it.
pub struct AdmissionRequest<'a> {
    pub operation: Operation,
    /// The type as requested (group, version, plural, kind).
    pub resource: &'a ResourceType,
    /// `status` for writes to the status subresource.
    pub subresource: Option<&'a str>,
    pub namespace: &'a str,
    pub name: &'a str,
    /// The object to be stored (`None` for deletes). Mutating plugins change it.
    pub object: Option<&'a mut Value>,
    /// The stored object (`None` for creates).
    pub old_object: Option<&'a Value>,
    pub dry_run: bool,
    pub store: &'a dyn ObjectReader,
}

/// A plugin's refusal, answered as a webhook denial:
/// `admission webhook "<name>" denied the request: <message>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmissionDenial {
    /// HTTP code (kube-apiserver raises anything below 400 to 400).
    pub code: u16,
    /// The Status `reason`; webhooks usually give none.
    pub reason: String,
    pub message: String,
}

impl AdmissionDenial {
    /// A denial with code 400 and no reason (what most webhooks, Antrea's included, send).
    pub fn new(message: impl Into<String>) -> Self {
        AdmissionDenial {
            code: 400,
            reason: String::new(),
            message: message.into(),
        }
    }

    /// A denial with code 403 `Forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        AdmissionDenial {
            code: 403,
            reason: "Forbidden".into(),
            message: message.into(),
        }
    }
}

/// An admission plugin: a stand-in for a mutating and/or validating webhook.
pub trait AdmissionPlugin: Send + Sync + 'static {
    /// The webhook name shown in denials (e.g. `acnpvalidator.antrea.io`).
    fn name(&self) -> &str;

    /// Whether the plugin handles this write.
    fn handles(
        &self,
        resource: &ResourceType,
        operation: Operation,
        subresource: Option<&str>,
    ) -> bool;

    /// Called first (mutating phase); may change `request.object`.
    fn mutate(&self, request: &mut AdmissionRequest<'_>) -> Result<(), AdmissionDenial> {
        let _ = request;
        Ok(())
    }

    /// Called after schema validation (validating phase).
    fn validate(&self, request: &AdmissionRequest<'_>) -> Result<(), AdmissionDenial> {
        let _ = request;
        Ok(())
    }
}

/// A group/version served by a router instead of the store.
#[derive(Clone)]
pub struct ApiExtension {
    pub group: String,
    pub version: String,
    /// The resources listed in discovery (their origin is set to `Extension`).
    pub resources: Vec<ResourceType>,
    /// Receives every request under `/apis/{group}/{version}/` (with the full path).
    pub router: axum::Router,
}

impl std::fmt::Debug for ApiExtension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiExtension")
            .field("group", &self.group)
            .field("version", &self.version)
            .field("resources", &self.resources.len())
            .finish()
    }
}

impl ApiExtension {
    pub fn new(group: impl Into<String>, version: impl Into<String>, router: axum::Router) -> Self {
        ApiExtension {
            group: group.into(),
            version: version.into(),
            resources: Vec::new(),
            router,
        }
    }

    /// Adds a resource to list in discovery.
    pub fn with_resource(mut self, resource: ResourceType) -> Self {
        self.resources.push(resource);
        self
    }

    pub(crate) fn serves(&self, group: &str, version: &str) -> bool {
        self.group == group && self.version == version
    }
}

/// A resource type of an extension group: `verbs` as listed in discovery.
pub fn extension_resource(
    group: &str,
    version: &str,
    plural: &str,
    kind: &str,
    namespaced: bool,
    verbs: &[&str],
) -> ResourceType {
    ResourceType {
        group: group.to_string(),
        version: version.to_string(),
        plural: plural.to_string(),
        singular: kind.to_lowercase(),
        kind: kind.to_string(),
        list_kind: format!("{kind}List"),
        namespaced,
        short_names: Vec::new(),
        categories: Vec::new(),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        subresources: Subresources::default(),
        printer_columns: Vec::new(),
        schema: None,
        storage: true,
        origin: Origin::Extension,
    }
}
