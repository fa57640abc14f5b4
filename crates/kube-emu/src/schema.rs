//! Structural-schema enforcement for custom resources: pruning of unknown fields,
//! defaulting and validation against the served version's `openAPIV3Schema`.

use std::sync::Arc;

use kube_apimachinery::field_error::FieldError;
use kube_apimachinery::registry::ResourceType;
use serde_json::Value;

use crate::Inner;

/// Prunes (and defaults) a custom resource; returns it with the pruned field paths.
pub(crate) fn prune(
    _inner: &Inner,
    _rt: &Arc<ResourceType>,
    object: Value,
) -> (Value, Vec<String>) {
    (object, Vec::new())
}

/// Validates a custom resource against its schema.
pub(crate) fn validate(
    _inner: &Inner,
    _rt: &Arc<ResourceType>,
    _object: &mut Value,
) -> Vec<FieldError> {
    Vec::new()
}

/// Compiled schemas per served type, dropped whenever a CRD changes.
#[derive(Debug, Default)]
pub(crate) struct SchemaCache {
    schemas: parking_lot::Mutex<std::collections::HashMap<(String, String, String), Arc<Value>>>,
}

impl SchemaCache {
    pub fn clear(&self) {
        self.schemas.lock().clear();
    }
}
