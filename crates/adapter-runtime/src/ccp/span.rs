//! The channel's desired state ([`SpanState`]) as the translator's input ([`Span`]), and the
//! conversions of realization results to the protocol's messages.

use adapter_core::ccp::{
    NsxIdentity, NsxKind, ObjectKey, Realization, RealizationError, RealizationState, Span,
    SpanEntry,
};
use std::collections::BTreeMap;
use std::sync::Arc;

use adapter_nsx::channel::control::{SpanObject, SpanState};
use nsx_proto::v1 as wire;
use serde_json::Value;

/// The identity of a span object, from its envelope.
pub fn identity(object: &SpanObject) -> NsxIdentity {
    NsxIdentity::new(
        object.reference.path.clone(),
        object.reference.unique_id.clone(),
        object.reference.revision,
    )
}

fn entry<T: serde::de::DeserializeOwned>(object: &SpanObject) -> SpanEntry<T> {
    match &object.document {
        Ok(document) => {
            SpanEntry::from_value(identity(object), Value::Object((**document).clone()))
        }
        Err(message) => SpanEntry {
            id: identity(object),
            object: Err(message.clone()),
        },
    }
}

/// The translator's span of a channel state. Objects of unknown kinds are left out (they are
/// reported on their own, see [`unknown_kind_error`]).
pub fn to_span(state: &SpanState) -> Span {
    Span {
        policies: state
            .policies
            .iter()
            .map(|(path, object)| (path.clone(), entry(object)))
            .collect(),
        groups: state
            .groups
            .iter()
            .map(|(path, object)| (path.clone(), entry(object)))
            .collect(),
        services: state
            .services
            .iter()
            .map(|(path, object)| (path.clone(), entry(object)))
            .collect(),
    }
}

/// Like [`to_span`], but reuses the parsed entries of `previous` (an earlier state and the
/// span made of it) for every object that is still the very same (`Arc`) object.
pub fn to_span_reusing(state: &SpanState, previous: Option<(SpanState, Span)>) -> Span {
    let Some((old_state, mut old)) = previous else {
        return to_span(state);
    };
    Span {
        policies: reuse(&state.policies, &old_state.policies, &mut old.policies),
        groups: reuse(&state.groups, &old_state.groups, &mut old.groups),
        services: reuse(&state.services, &old_state.services, &mut old.services),
    }
}

fn reuse<T: serde::de::DeserializeOwned>(
    objects: &BTreeMap<String, Arc<SpanObject>>,
    old_objects: &BTreeMap<String, Arc<SpanObject>>,
    old_entries: &mut BTreeMap<String, SpanEntry<T>>,
) -> BTreeMap<String, SpanEntry<T>> {
    objects
        .iter()
        .map(|(path, object)| {
            let reused = old_objects
                .get(path)
                .filter(|old| Arc::ptr_eq(old, object))
                .and_then(|_| old_entries.remove(path));
            (path.clone(), reused.unwrap_or_else(|| entry(object)))
        })
        .collect()
}

/// The error reported for an object of a kind this adapter does not know.
pub fn unknown_kind_error(object: &SpanObject) -> wire::RealizationError {
    object
        .invalid_document_error()
        .unwrap_or_else(|| wire::RealizationError {
            reason: "InvalidDocument".to_owned(),
            message: format!(
                "{}: objects of kind {} are not supported by this adapter",
                object.reference.path, object.reference.kind
            ),
            ..wire::RealizationError::default()
        })
}

/// The protocol's object kind.
pub fn wire_kind(kind: NsxKind) -> wire::ObjectKind {
    match kind {
        NsxKind::SecurityPolicy => wire::ObjectKind::SecurityPolicy,
        NsxKind::Group => wire::ObjectKind::Group,
        NsxKind::Service => wire::ObjectKind::Service,
    }
}

/// The protocol's realization state.
pub fn wire_state(state: RealizationState) -> wire::RealizationState {
    match state {
        RealizationState::InProgress => wire::RealizationState::InProgress,
        RealizationState::Success => wire::RealizationState::Success,
        RealizationState::Error => wire::RealizationState::Error,
    }
}

/// One error in the protocol's form.
pub fn wire_error(error: &RealizationError) -> wire::RealizationError {
    wire::RealizationError {
        reason: error.reason.as_str().to_owned(),
        message: error.message.clone(),
        rule_path: error.rule_path.clone().unwrap_or_default(),
        rule_id: error.rule_id.unwrap_or_default(),
        field: error.field.clone().unwrap_or_default(),
    }
}

/// An Antrea object as a realized entity.
pub fn wire_entity(key: &ObjectKey) -> wire::RealizedEntity {
    wire::RealizedEntity {
        api_version: key.kind.api_version().to_owned(),
        kind: key.kind.as_str().to_owned(),
        name: key.name.clone(),
    }
}

/// A realization in the protocol's form (without `observed_at`).
pub fn wire_realization(realization: &Realization) -> wire::ObjectRealization {
    let count = |value: Option<i32>| value.and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
    wire::ObjectRealization {
        object: Some(wire::ObjectRef {
            kind: wire_kind(realization.kind) as i32,
            path: realization.id.path.clone(),
            unique_id: realization.id.unique_id.clone(),
            revision: realization.id.revision,
        }),
        state: wire_state(realization.state) as i32,
        errors: realization.errors.iter().map(wire_error).collect(),
        observed_at: None,
        desired_nodes: count(realization.desired_nodes),
        realized_nodes: count(realization.realized_nodes),
        realized_entities: realization
            .realized_entities
            .iter()
            .map(wire_entity)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use adapter_core::ccp::Reason;
    use serde_json::json;

    use super::*;

    fn span_object(
        kind: wire::ObjectKind,
        path: &str,
        document: Result<Value, String>,
    ) -> SpanObject {
        SpanObject {
            reference: wire::ObjectRef {
                kind: kind as i32,
                path: path.to_owned(),
                unique_id: format!("u-{path}"),
                revision: 3,
            },
            document: document.map(|value| match value {
                Value::Object(map) => Arc::new(map),
                _ => Arc::default(),
            }),
        }
    }

    #[test]
    fn span_entries_keep_envelope_identity_and_document_errors() {
        let mut state = SpanState::default();
        let group = span_object(
            wire::ObjectKind::Group,
            "/infra/domains/default/groups/g",
            Ok(json!({"resource_type": "Group", "id": "g", "group_type": ["ANTREA"]})),
        );
        let broken = span_object(
            wire::ObjectKind::Service,
            "/infra/services/s",
            Err("document path differs from the envelope".into()),
        );
        state
            .groups
            .insert(group.reference.path.clone(), Arc::new(group));
        state
            .services
            .insert(broken.reference.path.clone(), Arc::new(broken));
        let span = to_span(&state);
        let entry = &span.groups["/infra/domains/default/groups/g"];
        assert_eq!(entry.id.revision, 3);
        assert_eq!(entry.id.unique_id, "u-/infra/domains/default/groups/g");
        assert!(entry.object.is_ok());
        assert_eq!(
            span.services["/infra/services/s"].object,
            Err("document path differs from the envelope".into())
        );
    }

    #[test]
    fn only_objects_that_are_new_are_parsed_again() {
        let object = |path: &str, kind: &str| {
            Arc::new(span_object(
                wire::ObjectKind::Group,
                path,
                Ok(json!({"resource_type": "Group", "id": "g", "group_type": [kind]})),
            ))
        };
        let (kept, changed) = (
            "/infra/domains/default/groups/kept",
            "/infra/domains/default/groups/changed",
        );
        let mut before = SpanState::default();
        before.groups.insert(kept.into(), object(kept, "ANTREA"));
        before
            .groups
            .insert(changed.into(), object(changed, "ANTREA"));
        let mut previous = to_span(&before);
        // Marks the parsed entries, to see which are reused.
        for entry in previous.groups.values_mut() {
            entry.object = Err("parsed before".into());
        }
        let mut after = before.clone();
        after
            .groups
            .insert(changed.into(), object(changed, "IPAddress"));
        let added = "/infra/domains/default/groups/added";
        after.groups.insert(added.into(), object(added, "ANTREA"));

        let span = to_span_reusing(&after, Some((before, previous)));
        assert_eq!(span.groups[kept].object, Err("parsed before".into()));
        assert!(span.groups[changed].object.is_ok());
        assert!(span.groups[added].object.is_ok());
        assert_eq!(span.groups.len(), 3);
        assert_eq!(to_span_reusing(&after, None), to_span(&after));
    }

    #[test]
    fn realizations_map_to_the_wire() {
        let realization = Realization {
            kind: NsxKind::SecurityPolicy,
            id: NsxIdentity::new("/p", "u", 4),
            state: RealizationState::Error,
            errors: vec![RealizationError::new(
                Reason::NegationUnsupported,
                "rule 1: negation",
            )],
            desired_nodes: Some(3),
            realized_nodes: Some(-1),
            realized_entities: vec![ObjectKey::new(
                adapter_core::ccp::AntreaKind::ClusterNetworkPolicy,
                "nsx-p",
            )],
        };
        let wire = wire_realization(&realization);
        assert_eq!(wire.state, wire::RealizationState::Error as i32);
        assert_eq!(wire.errors[0].reason, "NegationUnsupported");
        assert_eq!((wire.desired_nodes, wire.realized_nodes), (3, 0));
        assert_eq!(wire.realized_entities[0].kind, "ClusterNetworkPolicy");
        assert_eq!(
            wire.object.unwrap().kind,
            wire::ObjectKind::SecurityPolicy as i32
        );
    }
}
