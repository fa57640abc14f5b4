//! The translator's input: the desired state NSX sends for one cluster (docs/protocol.md §4.4)
//! — its security policies, groups and services, each with the identity and version of its
//! envelope and the parsed NSX document — and the identity of the cluster.

use std::collections::BTreeMap;
use std::fmt;

use nsx_model::policy::{Group, SecurityPolicy, Service};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The kinds of NSX objects on the control plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum NsxKind {
    SecurityPolicy,
    Group,
    Service,
}

impl NsxKind {
    /// The NSX `resource_type`.
    pub fn resource_type(self) -> &'static str {
        match self {
            Self::SecurityPolicy => "SecurityPolicy",
            Self::Group => "Group",
            Self::Service => "Service",
        }
    }
}

impl fmt::Display for NsxKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.resource_type())
    }
}

/// Identity and version of one NSX object (the envelope's `path`, `unique_id`, `revision`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NsxIdentity {
    pub path: String,
    pub unique_id: String,
    pub revision: i64,
}

impl NsxIdentity {
    pub fn new(path: impl Into<String>, unique_id: impl Into<String>, revision: i64) -> Self {
        Self {
            path: path.into(),
            unique_id: unique_id.into(),
            revision,
        }
    }
}

/// One object of the span: its identity and its parsed document, or why the document could
/// not be read as the NSX model (reported as `InvalidDocument`).
#[derive(Debug, Clone, PartialEq)]
pub struct SpanEntry<T> {
    pub id: NsxIdentity,
    pub object: Result<T, String>,
}

impl<T: DeserializeOwned> SpanEntry<T> {
    /// Parses a document (UTF-8 JSON, one object).
    pub fn parse(id: NsxIdentity, document: &[u8]) -> Self {
        let object = serde_json::from_slice(document).map_err(|error| error.to_string());
        Self { id, object }
    }

    /// Reads an already-parsed JSON document.
    pub fn from_value(id: NsxIdentity, document: serde_json::Value) -> Self {
        let object = serde_json::from_value(document).map_err(|error| error.to_string());
        Self { id, object }
    }
}

/// The desired state of one cluster, keyed by NSX path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Span {
    pub policies: BTreeMap<String, SpanEntry<SecurityPolicy>>,
    pub groups: BTreeMap<String, SpanEntry<Group>>,
    pub services: BTreeMap<String, SpanEntry<Service>>,
}

impl Span {
    /// Adds or replaces an object from its envelope identity and document.
    pub fn upsert(&mut self, kind: NsxKind, id: NsxIdentity, document: &[u8]) {
        let path = id.path.clone();
        match kind {
            NsxKind::SecurityPolicy => {
                self.policies.insert(path, SpanEntry::parse(id, document));
            }
            NsxKind::Group => {
                self.groups.insert(path, SpanEntry::parse(id, document));
            }
            NsxKind::Service => {
                self.services.insert(path, SpanEntry::parse(id, document));
            }
        }
    }

    /// Removes an object; removing an absent one is a no-op.
    pub fn remove(&mut self, kind: NsxKind, path: &str) {
        match kind {
            NsxKind::SecurityPolicy => self.policies.remove(path).map(|_| ()),
            NsxKind::Group => self.groups.remove(path).map(|_| ()),
            NsxKind::Service => self.services.remove(path).map(|_| ()),
        };
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.policies.len() + self.groups.len() + self.services.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Builds a span from whole NSX documents (as GET returns them), taking each identity from
    /// the document's `path`, `unique_id` and `_revision`. Documents without a `resource_type`
    /// of the three kinds, or without a `path`, are skipped and returned.
    pub fn from_documents(
        documents: impl IntoIterator<Item = serde_json::Value>,
    ) -> (Self, Vec<serde_json::Value>) {
        let mut span = Self::default();
        let mut skipped = Vec::new();
        for document in documents {
            let kind = match document.get("resource_type").and_then(|v| v.as_str()) {
                Some("SecurityPolicy") => NsxKind::SecurityPolicy,
                Some("Group") => NsxKind::Group,
                Some("Service") => NsxKind::Service,
                _ => {
                    skipped.push(document);
                    continue;
                }
            };
            let Some(path) = document.get("path").and_then(|v| v.as_str()) else {
                skipped.push(document);
                continue;
            };
            let unique_id = document
                .get("unique_id")
                .and_then(|v| v.as_str())
                .unwrap_or(path);
            let revision = document
                .get("_revision")
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(0);
            let id = NsxIdentity::new(path, unique_id, revision);
            match kind {
                NsxKind::SecurityPolicy => {
                    span.policies
                        .insert(id.path.clone(), SpanEntry::from_value(id, document));
                }
                NsxKind::Group => {
                    span.groups
                        .insert(id.path.clone(), SpanEntry::from_value(id, document));
                }
                NsxKind::Service => {
                    span.services
                        .insert(id.path.clone(), SpanEntry::from_value(id, document));
                }
            }
        }
        (span, skipped)
    }
}

/// Who the translated objects belong to: the cluster's identity in NSX (its cluster control
/// plane id or inventory cluster id). Written into every object's ownership label, so that two
/// adapters, or a re-registration, never collect each other's objects.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClusterIdentity {
    pub cluster_id: String,
}

impl ClusterIdentity {
    pub fn new(cluster_id: impl Into<String>) -> Self {
        Self {
            cluster_id: cluster_id.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn documents_are_parsed_or_marked_invalid() {
        let mut span = Span::default();
        span.upsert(
            NsxKind::Group,
            NsxIdentity::new("/infra/domains/default/groups/g", "u1", 1),
            br#"{"resource_type":"Group","id":"g","group_type":["ANTREA"]}"#,
        );
        span.upsert(
            NsxKind::Service,
            NsxIdentity::new("/infra/services/s", "u2", 1),
            b"not json",
        );
        assert!(
            span.groups["/infra/domains/default/groups/g"]
                .object
                .is_ok()
        );
        assert!(span.services["/infra/services/s"].object.is_err());
        span.remove(NsxKind::Service, "/infra/services/s");
        span.remove(NsxKind::Service, "/infra/services/absent");
        assert_eq!(span.len(), 1);
    }

    #[test]
    fn identities_come_from_whole_documents() {
        let (span, skipped) = Span::from_documents([
            json!({"resource_type": "SecurityPolicy", "path": "/p", "unique_id": "u", "_revision": 7}),
            json!({"resource_type": "Domain", "path": "/d"}),
        ]);
        assert_eq!(span.policies["/p"].id, NsxIdentity::new("/p", "u", 7));
        assert_eq!(skipped.len(), 1);
    }
}
