//! Which objects a list or watch selects: namespace, label selector and field selector
//! (parsed and validated by `kube_apimachinery::selector`), evaluated against the labels
//! and field values kept beside each stored object.

use std::collections::BTreeMap;

use kube_apimachinery::registry::ResourceType;
use kube_apimachinery::selector::{FieldSelector, FieldSelectorTarget, LabelSelector};

use crate::status::ApiError;
use crate::store::StoredObject;

/// The selection of one list/watch request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    pub namespace: Option<String>,
    labels: Option<LabelSelector>,
    fields: Option<FieldSelector>,
}

impl Filter {
    /// Parses the request's selectors for a resource; `selectable_fields` are a custom
    /// resource's `selectableFields`.
    pub fn new(
        namespace: Option<String>,
        label_selector: Option<&str>,
        field_selector: Option<&str>,
        rt: &ResourceType,
        selectable_fields: &[String],
    ) -> Result<Self, ApiError> {
        let labels = match label_selector.filter(|s| !s.trim().is_empty()) {
            Some(text) => {
                Some(LabelSelector::parse(text).map_err(|e| ApiError::bad_request(e.to_string()))?)
            }
            None => None,
        };
        let fields = match field_selector.filter(|s| !s.trim().is_empty()) {
            Some(text) => {
                let target = match rt.origin {
                    kube_apimachinery::registry::Origin::Crd { .. } => {
                        FieldSelectorTarget::Custom {
                            namespaced: rt.namespaced,
                            selectable_fields,
                        }
                    }
                    _ => FieldSelectorTarget::BuiltIn {
                        group: &rt.group,
                        kind: &rt.kind,
                    },
                };
                let parsed = FieldSelector::parse(text)
                    .and_then(|selector| selector.validate_for(target))
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                Some(parsed)
            }
            None => None,
        };
        Ok(Filter {
            namespace,
            labels: labels.filter(|l| !l.is_everything()),
            fields: fields.filter(|f| !f.is_everything()),
        })
    }

    /// Whether any selector restricts the result (lists then omit `remainingItemCount`).
    pub fn has_selectors(&self) -> bool {
        self.labels.is_some() || self.fields.is_some()
    }

    pub fn matches(&self, object: &StoredObject) -> bool {
        if let Some(ns) = &self.namespace
            && &*object.key.namespace != ns
        {
            return false;
        }
        if let Some(selector) = &self.labels {
            let labels: BTreeMap<String, String> = object
                .labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            if !selector.matches(&labels) {
                return false;
            }
        }
        if let Some(selector) = &self.fields {
            let mut parsed = None;
            for term in selector.terms() {
                let actual = match object.field(&term.field) {
                    Some(value) => value.to_string(),
                    // Not kept beside the object: read it from the object itself.
                    None => {
                        let value = parsed.get_or_insert_with(|| object.value());
                        kube_apimachinery::selector::field_value(value, &term.field)
                    }
                };
                if (actual == term.value) == term.negated {
                    return false;
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::build_stored;
    use kube_apimachinery::registry::Registry;
    use serde_json::json;
    use std::sync::Arc;

    fn pod(labels: serde_json::Value, node: &str) -> StoredObject {
        let fields: Vec<Arc<str>> = vec![Arc::from("spec.nodeName")];
        build_stored(
            &json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "p", "namespace": "ns", "labels": labels},
                    "spec": {"nodeName": node}}),
            &fields,
        )
    }

    #[test]
    fn label_and_field_selectors_combine() {
        let registry = Registry::with_builtins();
        let pods = registry.get("", "v1", "pods").unwrap();
        let filter = Filter::new(
            Some("ns".into()),
            Some("app in (web,db),!canary"),
            Some("spec.nodeName=n1"),
            &pods,
            &[],
        )
        .unwrap();
        assert!(filter.has_selectors());
        assert!(filter.matches(&pod(json!({"app": "web"}), "n1")));
        assert!(!filter.matches(&pod(json!({"app": "web", "canary": "1"}), "n1")));
        assert!(!filter.matches(&pod(json!({"app": "web"}), "n2")));
        assert!(!filter.matches(&pod(json!({"app": "cache"}), "n1")));
    }

    #[test]
    fn unsupported_field_labels_are_bad_requests() {
        let registry = Registry::with_builtins();
        let cms = registry.get("", "v1", "configmaps").unwrap();
        let error = Filter::new(None, None, Some("data.x=1"), &cms, &[]).unwrap_err();
        assert_eq!(error.code, 400);
        assert!(error.message.contains("not a known field selector"));
    }
}
