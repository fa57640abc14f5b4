//! The kinds of object in the policy tree the simulator serves, where each lives, which schema
//! model describes it and how the hierarchical API wraps it.
//!
//! The tree is `/infra` → `domains/{d}` → `groups/{g}`, `security-policies/{p}` → `rules/{r}`,
//! `container-cluster-span/{c}`; and `/infra` → `services/{s}` → `service-entries/{e}`.
//! A new area adds its kinds here (e.g. sites, enforcement points, cluster control planes).

/// A kind of policy object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `/infra`.
    Infra,
    /// `/infra/domains/{id}`.
    Domain,
    /// `/infra/domains/{d}/groups/{id}`.
    Group,
    /// `/infra/domains/{d}/security-policies/{id}`.
    SecurityPolicy,
    /// `/infra/domains/{d}/security-policies/{p}/rules/{id}`.
    Rule,
    /// `/infra/domains/{d}/security-policies/{p}/container-cluster-span/{id}`.
    ContainerClusterSpan,
    /// `/infra/services/{id}`.
    Service,
    /// `/infra/services/{s}/service-entries/{id}`.
    ServiceEntry,
}

/// How a kind behaves.
#[derive(Debug)]
pub struct KindSpec {
    /// The kind.
    pub kind: Kind,
    /// The kind of its parent (`None` for the root).
    pub parent: Option<Kind>,
    /// The collection segment under the parent's path.
    pub segment: &'static str,
    /// The schema model of one object (for service entries, the `ServiceEntry` union).
    pub model: &'static str,
    /// The schema model of a list response.
    pub list_model: &'static str,
    /// Accepted `resource_type` values; the first is the default.
    pub resource_types: &'static [&'static str],
    /// Hierarchical-API wrapper: its `resource_type` and the key holding the object.
    pub child_wrapper: Option<(&'static str, &'static str)>,
    /// A field of the parent's REST body that embeds objects of this kind.
    pub embedded_in_parent: Option<&'static str>,
}

/// The service entry subtypes.
pub const SERVICE_ENTRY_TYPES: &[&str] = &[
    "L4PortSetServiceEntry",
    "ICMPTypeServiceEntry",
    "IPProtocolServiceEntry",
    "IGMPTypeServiceEntry",
    "EtherTypeServiceEntry",
    "ALGTypeServiceEntry",
    "NestedServiceServiceEntry",
];

const SPECS: &[KindSpec] = &[
    KindSpec {
        kind: Kind::Infra,
        parent: None,
        segment: "infra",
        model: "Infra",
        list_model: "",
        resource_types: &["Infra"],
        child_wrapper: None,
        embedded_in_parent: None,
    },
    KindSpec {
        kind: Kind::Domain,
        parent: Some(Kind::Infra),
        segment: "domains",
        model: "Domain",
        list_model: "DomainListResult",
        resource_types: &["Domain"],
        child_wrapper: Some(("ChildDomain", "Domain")),
        embedded_in_parent: None,
    },
    KindSpec {
        kind: Kind::Group,
        parent: Some(Kind::Domain),
        segment: "groups",
        model: "Group",
        list_model: "GroupListResult",
        resource_types: &["Group"],
        child_wrapper: Some(("ChildGroup", "Group")),
        embedded_in_parent: None,
    },
    KindSpec {
        kind: Kind::SecurityPolicy,
        parent: Some(Kind::Domain),
        segment: "security-policies",
        model: "SecurityPolicy",
        list_model: "SecurityPolicyListResult",
        resource_types: &["SecurityPolicy"],
        child_wrapper: Some(("ChildSecurityPolicy", "SecurityPolicy")),
        embedded_in_parent: None,
    },
    KindSpec {
        kind: Kind::Rule,
        parent: Some(Kind::SecurityPolicy),
        segment: "rules",
        model: "Rule",
        list_model: "RuleListResult",
        resource_types: &["Rule"],
        child_wrapper: Some(("ChildRule", "Rule")),
        embedded_in_parent: Some("rules"),
    },
    KindSpec {
        kind: Kind::ContainerClusterSpan,
        parent: Some(Kind::SecurityPolicy),
        segment: "container-cluster-span",
        model: "SecurityPolicyContainerCluster",
        list_model: "SecurityPolicyContainerClusterListResult",
        resource_types: &["SecurityPolicyContainerCluster"],
        child_wrapper: None,
        embedded_in_parent: None,
    },
    KindSpec {
        kind: Kind::Service,
        parent: Some(Kind::Infra),
        segment: "services",
        model: "Service",
        list_model: "ServiceListResult",
        resource_types: &["Service"],
        child_wrapper: Some(("ChildService", "Service")),
        embedded_in_parent: None,
    },
    KindSpec {
        kind: Kind::ServiceEntry,
        parent: Some(Kind::Service),
        segment: "service-entries",
        model: "ServiceEntry",
        list_model: "ServiceEntryListResult",
        resource_types: SERVICE_ENTRY_TYPES,
        child_wrapper: Some(("ChildServiceEntry", "ServiceEntry")),
        embedded_in_parent: Some("service_entries"),
    },
];

impl Kind {
    /// This kind's spec.
    pub fn spec(self) -> &'static KindSpec {
        SPECS
            .iter()
            .find(|s| s.kind == self)
            .expect("every kind has a spec")
    }

    /// The kind stored under a parent of kind `parent` at collection `segment`.
    pub fn child(parent: Kind, segment: &str) -> Option<Kind> {
        SPECS
            .iter()
            .find(|s| s.parent == Some(parent) && s.segment == segment)
            .map(|s| s.kind)
    }

    /// Kinds whose parent is this kind.
    pub fn children(self) -> impl Iterator<Item = &'static KindSpec> {
        SPECS.iter().filter(move |s| s.parent == Some(self))
    }

    /// The kind a hierarchical-API wrapper `resource_type` wraps.
    pub fn from_wrapper(wrapper: &str) -> Option<Kind> {
        SPECS
            .iter()
            .find(|s| s.child_wrapper.is_some_and(|(w, _)| w == wrapper))
            .map(|s| s.kind)
    }

    /// The kind whose objects carry `resource_type` (as used by `ChildResourceReference`).
    pub fn from_resource_type(resource_type: &str) -> Option<Kind> {
        SPECS
            .iter()
            .find(|s| s.resource_types.contains(&resource_type))
            .map(|s| s.kind)
    }

    /// The kind embedded in this kind's REST body, with the field name.
    pub fn embedded_child(self) -> Option<(&'static str, Kind)> {
        self.children()
            .find_map(|s| s.embedded_in_parent.map(|field| (field, s.kind)))
    }

    /// A readable name for messages.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Infra => "Infra",
            Kind::Domain => "Domain",
            Kind::Group => "Group",
            Kind::SecurityPolicy => "SecurityPolicy",
            Kind::Rule => "Rule",
            Kind::ContainerClusterSpan => "SecurityPolicyContainerCluster",
            Kind::Service => "Service",
            Kind::ServiceEntry => "ServiceEntry",
        }
    }
}

/// Where a policy API request points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One object (which may or may not exist).
    Object {
        /// Its kind.
        kind: Kind,
        /// Its policy path, e.g. `/infra/domains/default/groups/web`.
        path: String,
    },
    /// The collection of `kind` objects under `parent` (a policy path).
    Collection {
        /// The kind listed.
        kind: Kind,
        /// The parent's policy path.
        parent: String,
    },
}

/// The kind of the object at a policy `path`, if the path has the shape of a known kind.
pub fn kind_of_path(path: &str) -> Option<Kind> {
    match resolve(path)? {
        Target::Object { kind, .. } => Some(kind),
        Target::Collection { .. } => None,
    }
}

/// Resolves a policy path (already percent-decoded per segment) to its target.
pub fn resolve(path: &str) -> Option<Target> {
    let rest = path.strip_prefix('/')?;
    let segments: Vec<&str> = rest.split('/').collect();
    resolve_segments(&segments)
}

/// Resolves the segments of a policy path (`["infra", "domains", "default"]`).
pub fn resolve_segments(segments: &[&str]) -> Option<Target> {
    let (first, mut rest) = segments.split_first()?;
    if *first != "infra" {
        return None;
    }
    let mut kind = Kind::Infra;
    let mut path = String::from("/infra");
    while let Some((segment, after)) = rest.split_first() {
        let child = Kind::child(kind, segment)?;
        match after.split_first() {
            None => {
                return Some(Target::Collection {
                    kind: child,
                    parent: path,
                });
            }
            Some((id, after_id)) => {
                if id.is_empty() {
                    return None;
                }
                path.push('/');
                path.push_str(segment);
                path.push('/');
                path.push_str(id);
                kind = child;
                rest = after_id;
            }
        }
    }
    Some(Target::Object { kind, path })
}

/// The parent path and id of an object path.
pub fn split_path(path: &str) -> Option<(&str, &str)> {
    let (collection, id) = path.rsplit_once('/')?;
    let (parent, _segment) = collection.rsplit_once('/')?;
    Some((parent, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_to_kinds() {
        assert_eq!(
            resolve("/infra/domains/default/groups/web"),
            Some(Target::Object {
                kind: Kind::Group,
                path: "/infra/domains/default/groups/web".into()
            })
        );
        assert_eq!(
            resolve("/infra/domains/default/security-policies/p/rules"),
            Some(Target::Collection {
                kind: Kind::Rule,
                parent: "/infra/domains/default/security-policies/p".into()
            })
        );
        assert_eq!(resolve("/infra/segments/x"), None);
        assert_eq!(resolve("/infra/domains/default/rules/x"), None);
        assert_eq!(kind_of_path("/infra/services/HTTP"), Some(Kind::Service));
        assert_eq!(kind_of_path("/infra"), Some(Kind::Infra));
        assert_eq!(
            split_path("/infra/services/HTTP/service-entries/e"),
            Some(("/infra/services/HTTP", "e"))
        );
    }
}
