//! NSX intent objects on the control plane: the typed envelope ([`NsxObject`]) around the
//! verbatim NSX JSON document, and the checks both ends make so that envelope and document
//! never disagree.
//!
//! The sender builds an envelope from the document ([`NsxObject::from_document`]), so the
//! identity fields are taken from the document itself. The receiver checks them again
//! ([`NsxObject::parse_document`]) before trusting either.

use serde_json::{Map, Value};

use crate::v1::{ChannelError, ErrorCode, NsxObject, ObjectKind, ObjectRef};

/// Why an NSX document cannot travel in, or be accepted from, an [`NsxObject`].
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// The envelope's kind is unspecified or unknown to this version.
    #[error("object kind {0} is not a known kind")]
    UnknownKind(i32),
    /// The document is not JSON.
    #[error("the document is not valid JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The document is JSON but not a JSON object.
    #[error("the document is not a JSON object")]
    NotAnObject,
    /// A field the protocol relies on is absent or has the wrong JSON type.
    #[error("the document's \"{field}\" is missing or not {expected}")]
    BadField {
        /// The NSX field name.
        field: &'static str,
        /// What it should be.
        expected: &'static str,
    },
    /// The document's `resource_type` does not belong to the envelope's kind.
    #[error("the document's resource_type {found:?} does not match kind {kind}")]
    KindMismatch {
        /// The envelope's kind.
        kind: &'static str,
        /// The document's `resource_type`.
        found: String,
    },
    /// An envelope field differs from the same field in the document.
    #[error("envelope {field} {envelope:?} differs from the document's {document:?}")]
    EnvelopeMismatch {
        /// The envelope field.
        field: &'static str,
        /// Its value in the envelope.
        envelope: String,
        /// Its value in the document.
        document: String,
    },
}

impl DocumentError {
    /// The protocol error for a refused document, naming the object.
    pub fn to_channel_error(&self, path: &str) -> ChannelError {
        ChannelError::new(ErrorCode::InvalidArgument, self.to_string()).with_target(path)
    }
}

impl ObjectKind {
    /// The NSX `resource_type` of documents of this kind.
    pub fn resource_type(self) -> Option<&'static str> {
        match self {
            ObjectKind::Unspecified => None,
            ObjectKind::SecurityPolicy => Some("SecurityPolicy"),
            ObjectKind::Group => Some("Group"),
            ObjectKind::Service => Some("Service"),
        }
    }

    /// The kind whose documents have this NSX `resource_type`.
    pub fn from_resource_type(resource_type: &str) -> Option<ObjectKind> {
        match resource_type {
            "SecurityPolicy" => Some(ObjectKind::SecurityPolicy),
            "Group" => Some(ObjectKind::Group),
            "Service" => Some(ObjectKind::Service),
            _ => None,
        }
    }
}

/// The identity fields of a document, read and type-checked.
struct DocumentIdentity<'a> {
    resource_type: &'a str,
    path: &'a str,
    unique_id: &'a str,
    revision: i64,
}

fn document_identity(document: &Map<String, Value>) -> Result<DocumentIdentity<'_>, DocumentError> {
    let string = |field: &'static str| {
        document
            .get(field)
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
            .ok_or(DocumentError::BadField {
                field,
                expected: "a non-empty string",
            })
    };
    let revision =
        document
            .get("_revision")
            .and_then(Value::as_i64)
            .ok_or(DocumentError::BadField {
                field: "_revision",
                expected: "an integer",
            })?;
    Ok(DocumentIdentity {
        resource_type: string("resource_type")?,
        path: string("path")?,
        unique_id: string("unique_id")?,
        revision,
    })
}

fn parse_object(document: &[u8]) -> Result<Map<String, Value>, DocumentError> {
    match serde_json::from_slice::<Value>(document).map_err(DocumentError::NotJson)? {
        Value::Object(map) => Ok(map),
        _ => Err(DocumentError::NotAnObject),
    }
}

fn check_kind(kind: ObjectKind, resource_type: &str) -> Result<(), DocumentError> {
    let expected = kind
        .resource_type()
        .ok_or(DocumentError::UnknownKind(kind.into()))?;
    if resource_type == expected {
        Ok(())
    } else {
        Err(DocumentError::KindMismatch {
            kind: kind.as_str_name(),
            found: resource_type.to_owned(),
        })
    }
}

impl NsxObject {
    /// Wraps an NSX JSON document (as the Policy API returns it for GET on its path) in an
    /// envelope whose identity fields come from the document: `path`, `unique_id` and
    /// `_revision`. The document's `resource_type` must belong to `kind`. The bytes are kept
    /// exactly as given.
    pub fn from_document(kind: ObjectKind, document: Vec<u8>) -> Result<NsxObject, DocumentError> {
        let parsed = parse_object(&document)?;
        let identity = document_identity(&parsed)?;
        check_kind(kind, identity.resource_type)?;
        Ok(NsxObject {
            kind: kind.into(),
            path: identity.path.to_owned(),
            unique_id: identity.unique_id.to_owned(),
            revision: identity.revision,
            document,
        })
    }

    /// Wraps a parsed NSX JSON document; see [`NsxObject::from_document`].
    pub fn from_json(kind: ObjectKind, document: &Value) -> Result<NsxObject, DocumentError> {
        let bytes = serde_json::to_vec(document).map_err(DocumentError::NotJson)?;
        NsxObject::from_document(kind, bytes)
    }

    /// Parses the document and checks it against the envelope: a known kind, a matching
    /// `resource_type`, and the same `path`, `unique_id` and `_revision`. Receivers call this
    /// before using an object, and refuse the object (realization ERROR) when it fails.
    pub fn parse_document(&self) -> Result<Map<String, Value>, DocumentError> {
        let kind =
            ObjectKind::try_from(self.kind).map_err(|_| DocumentError::UnknownKind(self.kind))?;
        let parsed = parse_object(&self.document)?;
        let identity = document_identity(&parsed)?;
        check_kind(kind, identity.resource_type)?;
        let mismatch = |field: &'static str, envelope: String, document: String| {
            Err(DocumentError::EnvelopeMismatch {
                field,
                envelope,
                document,
            })
        };
        if identity.path != self.path {
            return mismatch("path", self.path.clone(), identity.path.to_owned());
        }
        if identity.unique_id != self.unique_id {
            return mismatch(
                "unique_id",
                self.unique_id.clone(),
                identity.unique_id.to_owned(),
            );
        }
        if identity.revision != self.revision {
            return mismatch(
                "revision",
                self.revision.to_string(),
                identity.revision.to_string(),
            );
        }
        Ok(parsed)
    }

    /// The object's identity and version, without its content.
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef {
            kind: self.kind,
            path: self.path.clone(),
            unique_id: self.unique_id.clone(),
            revision: self.revision,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn group_document() -> Value {
        json!({
            "resource_type": "Group",
            "id": "web",
            "display_name": "web",
            "path": "/infra/domains/default/groups/web",
            "parent_path": "/infra/domains/default",
            "unique_id": "8a1b2c3d-0000-4000-8000-000000000003",
            "_revision": 3,
            "group_type": ["ANTREA"],
            "expression": [{"resource_type": "Condition", "member_type": "Pod", "key": "Tag",
                            "operator": "EQUALS", "value": "app|web"}],
            "a_field_from_a_newer_nsx": {"kept": true}
        })
    }

    #[test]
    fn envelope_comes_from_the_document_and_bytes_are_kept() {
        let bytes = serde_json::to_vec_pretty(&group_document()).unwrap();
        let object = NsxObject::from_document(ObjectKind::Group, bytes.clone()).unwrap();
        assert_eq!(object.kind(), ObjectKind::Group);
        assert_eq!(object.path, "/infra/domains/default/groups/web");
        assert_eq!(object.unique_id, "8a1b2c3d-0000-4000-8000-000000000003");
        assert_eq!(object.revision, 3);
        assert_eq!(object.document, bytes);
        let parsed = object.parse_document().unwrap();
        assert_eq!(parsed["a_field_from_a_newer_nsx"]["kept"], json!(true));
        assert_eq!(object.object_ref().path, object.path);
    }

    #[test]
    fn wrong_kind_is_refused() {
        let error = NsxObject::from_json(ObjectKind::Service, &group_document()).unwrap_err();
        assert!(
            matches!(error, DocumentError::KindMismatch { .. }),
            "{error}"
        );
        let error = NsxObject::from_json(ObjectKind::Unspecified, &group_document()).unwrap_err();
        assert!(matches!(error, DocumentError::UnknownKind(0)), "{error}");
    }

    #[test]
    fn missing_identity_is_refused() {
        for field in ["resource_type", "path", "unique_id", "_revision"] {
            let mut document = group_document();
            document.as_object_mut().unwrap().remove(field);
            let error = NsxObject::from_json(ObjectKind::Group, &document).unwrap_err();
            assert!(
                matches!(error, DocumentError::BadField { field: f, .. } if f == field),
                "{field}: {error}"
            );
        }
        let mut document = group_document();
        document["_revision"] = json!("3");
        assert!(NsxObject::from_json(ObjectKind::Group, &document).is_err());
    }

    #[test]
    fn non_objects_are_refused() {
        assert!(matches!(
            NsxObject::from_document(ObjectKind::Group, b"{not json".to_vec()),
            Err(DocumentError::NotJson(_))
        ));
        assert!(matches!(
            NsxObject::from_document(ObjectKind::Group, b"[1,2]".to_vec()),
            Err(DocumentError::NotAnObject)
        ));
    }

    #[test]
    fn receiver_detects_envelope_tampering() {
        let object = NsxObject::from_json(ObjectKind::Group, &group_document()).unwrap();
        let mut moved = object.clone();
        moved.path = "/infra/domains/default/groups/other".to_owned();
        assert!(matches!(
            moved.parse_document(),
            Err(DocumentError::EnvelopeMismatch { field: "path", .. })
        ));
        let mut stale = object.clone();
        stale.revision = 2;
        assert!(matches!(
            stale.parse_document(),
            Err(DocumentError::EnvelopeMismatch {
                field: "revision",
                ..
            })
        ));
        let mut recreated = object.clone();
        recreated.unique_id = "another".to_owned();
        assert!(matches!(
            recreated.parse_document(),
            Err(DocumentError::EnvelopeMismatch {
                field: "unique_id",
                ..
            })
        ));
        let mut unknown = object;
        unknown.kind = 42;
        assert!(matches!(
            unknown.parse_document(),
            Err(DocumentError::UnknownKind(42))
        ));
    }

    #[test]
    fn error_becomes_invalid_argument_naming_the_object() {
        let error = NsxObject::from_document(ObjectKind::Group, b"[]".to_vec()).unwrap_err();
        let channel = error.to_channel_error("/infra/domains/default/groups/web");
        assert_eq!(channel.code(), ErrorCode::InvalidArgument);
        assert_eq!(channel.target, "/infra/domains/default/groups/web");
    }

    #[test]
    fn kinds_and_resource_types_correspond() {
        for kind in [
            ObjectKind::SecurityPolicy,
            ObjectKind::Group,
            ObjectKind::Service,
        ] {
            let resource_type = kind.resource_type().unwrap();
            assert_eq!(ObjectKind::from_resource_type(resource_type), Some(kind));
        }
        assert_eq!(ObjectKind::from_resource_type("Rule"), None);
    }
}
