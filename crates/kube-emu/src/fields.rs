//! Field labels kept beside each stored object, so field selectors are evaluated without
//! decoding the object: the labels kube-apiserver supports per kind (besides
//! `metadata.name`/`metadata.namespace`, which come from the object's key) and a custom
//! resource's `selectableFields`. Values come from `kube_apimachinery::selector::field_value`.

use std::collections::HashMap;

use kube_apimachinery::registry::GroupResource;

/// Field labels kept for a resource.
pub(crate) fn field_labels(
    gr: &GroupResource,
    crd_fields: &HashMap<GroupResource, Vec<String>>,
) -> Vec<String> {
    if let Some(fields) = crd_fields.get(gr) {
        return fields.clone();
    }
    let labels: &[&str] = match (gr.group.as_str(), gr.resource.as_str()) {
        ("", "pods") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "nodes") => &["spec.unschedulable"],
        ("", "namespaces") => &["status.phase"],
        ("", "secrets") => &["type"],
        ("", "events") | ("events.k8s.io", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        _ => &[],
    };
    labels.iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_keep_their_node_name() {
        let gr = GroupResource {
            group: String::new(),
            resource: "pods".into(),
        };
        assert!(field_labels(&gr, &HashMap::new()).contains(&"spec.nodeName".to_string()));
        let crs = GroupResource {
            group: "example.com".into(),
            resource: "widgets".into(),
        };
        let declared = HashMap::from([(crs.clone(), vec!["spec.color".to_string()])]);
        assert_eq!(field_labels(&crs, &declared), ["spec.color"]);
    }
}
