//! Antrea's `GroupSelector`: the pod/namespace/node selection unit behind every appliedTo,
//! address group and ClusterGroup (`pkg/controller/types/group.go`, matched as
//! `pkg/controller/grouping/group_entity_index.go` `match` does).
//!
//! Rules reproduced exactly:
//! - a selector that fails to parse is treated as absent (`NewGroupSelector` drops the error),
//!   so an invalid `podSelector` next to a `namespaceSelector` selects every Pod of those
//!   Namespaces, and an invalid `namespaceSelector` turns the selector cluster-wide;
//! - no `namespaceSelector` means "the policy's Namespace" (empty for cluster-scoped kinds,
//!   which then means every Namespace);
//! - a non-empty `namespaceSelector` needs the Pod's Namespace to be known;
//! - an `externalEntitySelector` makes the selector select ExternalEntities, never Pods;
//! - a selector with nothing set selects nothing.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector as K8sLabelSelector;
use kube_apimachinery::selector::LabelSelector;

/// Label added by antrea-controller to every Pod's label set, carrying its ServiceAccount name
/// (`grouping.CustomLabelKeyPrefix + CustomLabelKeyServiceAccount`).
pub const SERVICE_ACCOUNT_LABEL: &str = "internal.antrea.io/service-account";

/// Parses a Kubernetes label selector with kube's rules; `None` when it does not parse.
pub(crate) fn parse_label_selector(selector: &K8sLabelSelector) -> Option<LabelSelector> {
    let value = serde_json::to_value(selector).ok()?;
    match LabelSelector::from_label_selector(Some(&value)) {
        Ok(parsed) => Some(parsed),
        Err(error) => {
            tracing::debug!(%error, "ignoring a label selector that does not parse, as Antrea does");
            None
        }
    }
}

/// A selector of `matchLabels` only (Service selectors, ServiceAccount selection).
pub(crate) fn match_labels_selector(labels: &BTreeMap<String, String>) -> Option<LabelSelector> {
    let selector = K8sLabelSelector {
        match_labels: Some(labels.clone()),
        match_expressions: None,
    };
    parse_label_selector(&selector)
}

/// Where a [`GroupSelector`] looks for Pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SelectorScope<'a> {
    /// Only this Namespace.
    Namespace(&'a str),
    /// Namespaces whose labels match (a non-empty selector).
    NamespaceSelector,
    /// Every Namespace.
    Cluster,
}

/// Antrea's `GroupSelector`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GroupSelector {
    /// Set when the selector has no (parseable) namespaceSelector and the owner is namespaced.
    namespace: Option<String>,
    pod_selector: Option<LabelSelector>,
    namespace_selector: Option<LabelSelector>,
    /// An `externalEntitySelector` was given: the selector never matches Pods.
    selects_external_entities: bool,
    node_selector: Option<LabelSelector>,
}

impl GroupSelector {
    /// `NewGroupSelector(namespace, podSelector, nsSelector, eeSelector, nodeSelector)`.
    pub(crate) fn new(
        namespace: &str,
        pod_selector: Option<&K8sLabelSelector>,
        namespace_selector: Option<&K8sLabelSelector>,
        external_entity_selector: Option<&K8sLabelSelector>,
        node_selector: Option<&K8sLabelSelector>,
    ) -> Self {
        let pod_selector = pod_selector.and_then(parse_label_selector);
        let (namespace, namespace_selector) = match namespace_selector {
            None => ((!namespace.is_empty()).then(|| namespace.to_string()), None),
            Some(selector) => (None, parse_label_selector(selector)),
        };
        GroupSelector {
            namespace,
            pod_selector,
            namespace_selector,
            selects_external_entities: external_entity_selector.is_some(),
            node_selector: node_selector.and_then(parse_label_selector),
        }
    }

    /// Pods of one Namespace whose labels match an already parsed selector.
    pub(crate) fn namespaced(namespace: &str, pod_selector: Option<LabelSelector>) -> Self {
        GroupSelector {
            namespace: (!namespace.is_empty()).then(|| namespace.to_string()),
            pod_selector,
            namespace_selector: None,
            selects_external_entities: false,
            node_selector: None,
        }
    }

    /// Pods with this ServiceAccount (Antrea matches the custom service-account label).
    pub(crate) fn service_account(namespace: &str, name: &str) -> Self {
        let labels = BTreeMap::from([(SERVICE_ACCOUNT_LABEL.to_string(), name.to_string())]);
        Self::namespaced(namespace, match_labels_selector(&labels))
    }

    /// Whether this selector selects Nodes (a `nodeSelector` group) rather than Pods.
    pub(crate) fn is_node_selector(&self) -> bool {
        self.node_selector.is_some()
    }

    /// Where the matching Pods can live.
    pub(crate) fn scope(&self) -> SelectorScope<'_> {
        if let Some(namespace) = &self.namespace {
            SelectorScope::Namespace(namespace)
        } else if self
            .namespace_selector
            .as_ref()
            .is_some_and(|selector| !selector.is_everything())
        {
            SelectorScope::NamespaceSelector
        } else {
            SelectorScope::Cluster
        }
    }

    /// Whether a Namespace with these labels is in scope (for [`SelectorScope::NamespaceSelector`]).
    pub(crate) fn namespace_matches(&self, namespace_labels: &BTreeMap<String, String>) -> bool {
        self.namespace_selector
            .as_ref()
            .is_none_or(|selector| selector.is_everything() || selector.matches(namespace_labels))
    }

    /// `GroupEntityIndex.match` for a Pod. `namespace_labels` is `None` when the Namespace is
    /// unknown to the index.
    pub(crate) fn matches_pod(
        &self,
        pod_namespace: &str,
        pod_labels: &BTreeMap<String, String>,
        namespace_labels: Option<&BTreeMap<String, String>>,
    ) -> bool {
        if self.selects_external_entities || self.node_selector.is_some() {
            return false;
        }
        let pod_selector_matches = || {
            self.pod_selector
                .as_ref()
                .is_none_or(|selector| selector.matches(pod_labels))
        };
        if let Some(namespace) = &self.namespace {
            return namespace == pod_namespace && pod_selector_matches();
        }
        if let Some(namespace_selector) = &self.namespace_selector {
            if !namespace_selector.is_everything() {
                let Some(labels) = namespace_labels else {
                    return false;
                };
                if !namespace_selector.matches(labels) {
                    return false;
                }
            }
            return pod_selector_matches();
        }
        match &self.pod_selector {
            Some(selector) => selector.matches(pod_labels),
            None => false,
        }
    }

    /// Whether a Node with these labels is selected by the `nodeSelector`.
    pub(crate) fn matches_node(&self, node_labels: &BTreeMap<String, String>) -> bool {
        self.node_selector
            .as_ref()
            .is_some_and(|selector| selector.matches(node_labels))
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn match_labels(pairs: &[(&str, &str)]) -> K8sLabelSelector {
        K8sLabelSelector {
            match_labels: Some(labels(pairs)),
            match_expressions: None,
        }
    }

    fn invalid() -> K8sLabelSelector {
        K8sLabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "app".into(),
                operator: "Bogus".into(),
                values: None,
            }]),
        }
    }

    #[test]
    fn cluster_scoped_pod_selector_matches_every_namespace() {
        let selector =
            GroupSelector::new("", Some(&match_labels(&[("app", "web")])), None, None, None);
        assert_eq!(selector.scope(), SelectorScope::Cluster);
        assert!(selector.matches_pod("a", &labels(&[("app", "web")]), None));
        assert!(selector.matches_pod("b", &labels(&[("app", "web")]), Some(&labels(&[]))));
        assert!(!selector.matches_pod("b", &labels(&[("app", "db")]), None));
    }

    #[test]
    fn namespaced_selector_stays_in_its_namespace() {
        let selector = GroupSelector::new(
            "prod",
            Some(&match_labels(&[("app", "web")])),
            None,
            None,
            None,
        );
        assert!(selector.matches_pod("prod", &labels(&[("app", "web")]), None));
        assert!(!selector.matches_pod("dev", &labels(&[("app", "web")]), None));
        // No podSelector in a Namespace selects all its Pods.
        let all = GroupSelector::new("prod", None, None, None, None);
        assert!(all.matches_pod("prod", &labels(&[]), None));
    }

    #[test]
    fn namespace_selector_needs_known_namespace_unless_empty() {
        let selector = GroupSelector::new(
            "",
            None,
            Some(&match_labels(&[("env", "prod")])),
            None,
            None,
        );
        assert_eq!(selector.scope(), SelectorScope::NamespaceSelector);
        assert!(selector.matches_pod("p", &labels(&[]), Some(&labels(&[("env", "prod")]))));
        assert!(!selector.matches_pod("p", &labels(&[]), None));
        let everything =
            GroupSelector::new("", None, Some(&K8sLabelSelector::default()), None, None);
        assert_eq!(everything.scope(), SelectorScope::Cluster);
        assert!(everything.matches_pod("unknown", &labels(&[]), None));
    }

    #[test]
    fn invalid_pod_selector_broadens_to_namespace_selection() {
        let selector = GroupSelector::new(
            "",
            Some(&invalid()),
            Some(&match_labels(&[("env", "prod")])),
            None,
            None,
        );
        assert!(selector.matches_pod(
            "p",
            &labels(&[("any", "thing")]),
            Some(&labels(&[("env", "prod")]))
        ));
    }

    #[test]
    fn empty_and_external_entity_selectors_select_no_pod() {
        let nothing = GroupSelector::new("", None, None, None, None);
        assert!(!nothing.matches_pod("a", &labels(&[]), Some(&labels(&[]))));
        let external = GroupSelector::new("", None, None, Some(&K8sLabelSelector::default()), None);
        assert!(!external.matches_pod("a", &labels(&[]), Some(&labels(&[]))));
    }

    #[test]
    fn node_selector_selects_nodes_only() {
        let nodes = GroupSelector::new("", None, None, None, Some(&match_labels(&[("zone", "a")])));
        assert!(nodes.is_node_selector());
        assert!(nodes.matches_node(&labels(&[("zone", "a")])));
        assert!(!nodes.matches_pod("a", &labels(&[("zone", "a")]), None));
    }

    #[test]
    fn service_account_selector_uses_the_custom_label() {
        let selector = GroupSelector::service_account("ns", "builder");
        assert!(selector.matches_pod("ns", &labels(&[(SERVICE_ACCOUNT_LABEL, "builder")]), None));
        assert!(!selector.matches_pod("ns", &labels(&[(SERVICE_ACCOUNT_LABEL, "other")]), None));
        assert!(!selector.matches_pod(
            "other",
            &labels(&[(SERVICE_ACCOUNT_LABEL, "builder")]),
            None
        ));
    }
}
