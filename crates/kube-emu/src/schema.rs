//! Structural-schema enforcement for custom resources through
//! `kube_apimachinery::schema`: pruning of unknown fields and defaulting when an object is
//! decoded, and pruning, defaulting and validation again after admission (as
//! kube-apiserver re-applies them after mutating webhooks). Compiled schemas are cached
//! per served type until a CRD changes.

use std::collections::HashMap;
use std::sync::Arc;

use kube_apimachinery::field_error::FieldError;
use kube_apimachinery::registry::ResourceType;
use kube_apimachinery::schema::StructuralSchema;
use parking_lot::Mutex;
use serde_json::Value;

use crate::Inner;

type TypeKey = (String, String, String);

/// Compiled schemas per served type, dropped whenever a CRD changes.
#[derive(Debug, Default)]
pub(crate) struct SchemaCache {
    schemas: Mutex<HashMap<TypeKey, Option<Arc<StructuralSchema>>>>,
}

impl SchemaCache {
    pub fn clear(&self) {
        self.schemas.lock().clear();
    }

    fn get(&self, rt: &ResourceType) -> Option<Arc<StructuralSchema>> {
        let source = rt.schema.as_ref()?;
        let key = (rt.group.clone(), rt.version.clone(), rt.plural.clone());
        self.schemas
            .lock()
            .entry(key)
            .or_insert_with(|| match StructuralSchema::new(source) {
                Ok(schema) => Some(Arc::new(schema)),
                Err(error) => {
                    tracing::warn!(%error, kind = %rt.kind, "schema not enforced");
                    None
                }
            })
            .clone()
    }
}

/// The compiled schema of a served type (custom resources only).
pub(crate) fn schema_of(inner: &Inner, rt: &ResourceType) -> Option<Arc<StructuralSchema>> {
    inner.schemas.get(rt)
}

/// Prunes and defaults a custom resource as its decoding does; returns it with the paths
/// of the pruned (unknown) fields.
pub(crate) fn prune(inner: &Inner, rt: &Arc<ResourceType>, object: Value) -> (Value, Vec<String>) {
    let Some(schema) = inner.schemas.get(rt) else {
        return (object, Vec::new());
    };
    let mut pruned = object.clone();
    schema.prune(&mut pruned);
    schema.apply_defaults(&mut pruned);
    let mut unknown = Vec::new();
    crate::builtin::dropped_fields(&object, &pruned, "", &mut unknown);
    (pruned, unknown)
}

/// Prunes, defaults and validates a custom resource against its schema.
pub(crate) fn validate(
    inner: &Inner,
    rt: &Arc<ResourceType>,
    object: &mut Value,
) -> Vec<FieldError> {
    match inner.schemas.get(rt) {
        Some(schema) => schema.admit(object).err().unwrap_or_default(),
        None => Vec::new(),
    }
}

/// Errors of a CRD version schema that cannot be enforced (reported on CRD writes).
pub(crate) fn schema_errors(schema: &Value, field: &str) -> Vec<FieldError> {
    match StructuralSchema::new(schema) {
        Ok(_) => Vec::new(),
        Err(error) => vec![FieldError::invalid(
            field.to_string(),
            Value::String(error.path.clone()),
            error.message,
        )],
    }
}
