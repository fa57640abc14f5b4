//! The registry of resource types the emulator serves: the built-in kinds and every
//! served version of every CustomResourceDefinition.
//!
//! Everything that needs to know "what is `/apis/G/V/PLURAL`" (routing, storage keys,
//! discovery, OpenAPI, table printing, schema enforcement) reads it from here.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

/// One served `group/version/plural`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    /// API group; empty for the core group (`/api/v1`).
    pub group: String,
    pub version: String,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub list_kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub verbs: Vec<String>,
    pub subresources: Subresources,
    /// `additionalPrinterColumns` of a CRD version; empty for built-ins, whose tables are
    /// produced by per-kind code.
    pub printer_columns: Vec<PrinterColumn>,
    /// The version's `openAPIV3Schema` (CRDs only); enforced on every write.
    pub schema: Option<Value>,
    /// Whether this version is the storage version (CRDs); built-ins have one version.
    pub storage: bool,
    pub origin: Origin,
}

/// Subresources a type serves besides the main resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subresources {
    pub status: bool,
    pub scale: bool,
}

/// An `additionalPrinterColumns` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterColumn {
    pub name: String,
    pub type_: String,
    pub format: Option<String>,
    pub description: Option<String>,
    pub priority: i32,
    pub json_path: String,
}

/// Where a type comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    BuiltIn,
    /// Served because the named CustomResourceDefinition exists.
    Crd {
        crd_name: String,
    },
    /// Served by an extension (an aggregated API such as `stats.antrea.io`), not stored.
    Extension,
}

/// The key under which objects of a type are stored: all versions of a group/resource
/// share one storage, as in kube-apiserver.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupResource {
    pub group: String,
    pub resource: String,
}

impl ResourceType {
    /// `v1` for the core group, `group/version` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn group_resource(&self) -> GroupResource {
        GroupResource {
            group: self.group.clone(),
            resource: self.plural.clone(),
        }
    }

    /// `/api/v1` or `/apis/G/V`.
    pub fn api_prefix(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }

    fn builtin(
        group: &str,
        version: &str,
        plural: &str,
        kind: &str,
        namespaced: bool,
        short_names: &[&str],
        status: bool,
    ) -> Self {
        ResourceType {
            group: group.to_string(),
            version: version.to_string(),
            plural: plural.to_string(),
            singular: kind.to_lowercase(),
            kind: kind.to_string(),
            list_kind: format!("{kind}List"),
            namespaced,
            short_names: short_names.iter().map(|s| s.to_string()).collect(),
            categories: Vec::new(),
            verbs: default_verbs(),
            subresources: Subresources {
                status,
                scale: false,
            },
            printer_columns: Vec::new(),
            schema: None,
            storage: true,
            origin: Origin::BuiltIn,
        }
    }
}

/// The verbs kube-apiserver advertises for an ordinary stored resource.
pub fn default_verbs() -> Vec<String> {
    [
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// All served types. Cheap to clone (types are shared).
#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// Keyed by (group, version, plural).
    types: BTreeMap<(String, String, String), Arc<ResourceType>>,
}

impl Registry {
    /// The built-in kinds the emulator serves before any CRD exists.
    pub fn with_builtins() -> Self {
        let mut registry = Registry::default();
        let b = ResourceType::builtin;
        for rt in [
            b("", "v1", "namespaces", "Namespace", false, &["ns"], true),
            b("", "v1", "pods", "Pod", true, &["po"], true),
            b("", "v1", "services", "Service", true, &["svc"], true),
            b("", "v1", "endpoints", "Endpoints", true, &["ep"], false),
            b("", "v1", "nodes", "Node", false, &["no"], true),
            b("", "v1", "configmaps", "ConfigMap", true, &["cm"], false),
            b("", "v1", "secrets", "Secret", true, &[], false),
            b(
                "",
                "v1",
                "serviceaccounts",
                "ServiceAccount",
                true,
                &["sa"],
                false,
            ),
            b("", "v1", "events", "Event", true, &["ev"], false),
            b(
                "networking.k8s.io",
                "v1",
                "ingresses",
                "Ingress",
                true,
                &["ing"],
                true,
            ),
            b(
                "networking.k8s.io",
                "v1",
                "networkpolicies",
                "NetworkPolicy",
                true,
                &["netpol"],
                false,
            ),
            b(
                "discovery.k8s.io",
                "v1",
                "endpointslices",
                "EndpointSlice",
                true,
                &[],
                false,
            ),
            b(
                "coordination.k8s.io",
                "v1",
                "leases",
                "Lease",
                true,
                &[],
                false,
            ),
            b(
                "events.k8s.io",
                "v1",
                "events",
                "Event",
                true,
                &["ev"],
                false,
            ),
            b(
                "apiextensions.k8s.io",
                "v1",
                "customresourcedefinitions",
                "CustomResourceDefinition",
                false,
                &["crd", "crds"],
                true,
            ),
        ] {
            registry.insert(rt);
        }
        registry
    }

    pub fn insert(&mut self, rt: ResourceType) {
        let key = (rt.group.clone(), rt.version.clone(), rt.plural.clone());
        self.types.insert(key, Arc::new(rt));
    }

    /// Removes every type served by the named CRD.
    pub fn remove_crd(&mut self, crd_name: &str) {
        self.types
            .retain(|_, rt| !matches!(&rt.origin, Origin::Crd { crd_name: n } if n == crd_name));
    }

    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.types
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
            .cloned()
    }

    /// The type of `kind` in `apiVersion` (as found in an object's `apiVersion`/`kind`).
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<Arc<ResourceType>> {
        let (group, version) = split_api_version(api_version);
        self.types
            .values()
            .find(|rt| rt.group == group && rt.version == version && rt.kind == kind)
            .cloned()
    }

    /// The storage version of a group/resource (the version objects are kept in).
    pub fn storage_type(&self, gr: &GroupResource) -> Option<Arc<ResourceType>> {
        let mut candidates = self
            .types
            .values()
            .filter(|rt| rt.group == gr.group && rt.plural == gr.resource);
        let first = candidates.next()?.clone();
        if first.storage {
            return Some(first);
        }
        candidates.find(|rt| rt.storage).cloned().or(Some(first))
    }

    /// Every served type, ordered by group, version and plural.
    pub fn all(&self) -> impl Iterator<Item = &Arc<ResourceType>> {
        self.types.values()
    }

    /// Served group names (core group as ""), in a stable order: core first.
    pub fn groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = Vec::new();
        for rt in self.types.values() {
            if !groups.contains(&rt.group) {
                groups.push(rt.group.clone());
            }
        }
        groups
    }

    /// Served versions of a group.
    pub fn versions(&self, group: &str) -> Vec<String> {
        let mut versions: Vec<String> = Vec::new();
        for rt in self.types.values().filter(|rt| rt.group == group) {
            if !versions.contains(&rt.version) {
                versions.push(rt.version.clone());
            }
        }
        versions
    }
}

/// Splits `group/version` (or `v1`) into its parts.
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_found_by_path_and_kind() {
        let registry = Registry::with_builtins();
        let pods = registry.get("", "v1", "pods").expect("pods");
        assert!(pods.namespaced);
        assert_eq!(pods.api_prefix(), "/api/v1");
        let lease = registry
            .by_kind("coordination.k8s.io/v1", "Lease")
            .expect("lease");
        assert_eq!(lease.plural, "leases");
        assert_eq!(lease.api_prefix(), "/apis/coordination.k8s.io/v1");
        assert!(registry.get("", "v1", "widgets").is_none());
        assert_eq!(registry.groups()[0], "");
    }
}
