//! Built-in kinds served beyond `kube_apimachinery`'s registry: the RBAC kinds
//! (`rbac.authorization.k8s.io/v1` Role, ClusterRole, RoleBinding, ClusterRoleBinding),
//! which the authorizer reads, and the workload kinds of the deployment manifests
//! (`apps/v1` Deployment, `batch/v1` Job), stored and validated through their k8s-openapi
//! types but not run. Their request bodies are accepted as JSON or YAML; protobuf bodies
//! of these kinds are refused (415), as no protobuf decoder exists for them yet.

use kube_apimachinery::registry::{Origin, Registry, ResourceType, Subresources, default_verbs};

fn kind(
    group: &str,
    plural: &str,
    kind: &str,
    namespaced: bool,
    short_names: &[&str],
    status: bool,
) -> ResourceType {
    ResourceType {
        group: group.to_string(),
        version: "v1".to_string(),
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

/// Adds the kinds to a registry.
pub(crate) fn add_to(registry: &mut Registry) {
    const RBAC: &str = "rbac.authorization.k8s.io";
    for rt in [
        kind("apps", "deployments", "Deployment", true, &["deploy"], true),
        kind("batch", "jobs", "Job", true, &[], true),
        kind(RBAC, "roles", "Role", true, &[], false),
        kind(RBAC, "rolebindings", "RoleBinding", true, &[], false),
        kind(RBAC, "clusterroles", "ClusterRole", false, &[], false),
        kind(
            RBAC,
            "clusterrolebindings",
            "ClusterRoleBinding",
            false,
            &[],
            false,
        ),
    ] {
        registry.insert(rt);
    }
}
