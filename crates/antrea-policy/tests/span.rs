//! Policy span: the Nodes that realize an ACNP/ANNP, and realizability.

mod support;

use std::collections::BTreeMap;

use antrea_policy::{
    APPLIED_TO_UNSUPPORTED_GROUP, ClusterIndex, NodeRealization, PolicyKind, PolicyRef, SyncError,
};
use antrea_types::policy::NetworkPolicyPhase;
use serde_json::{Value, json};
use support::*;

fn acnp_span(index: &mut ClusterIndex, spec: Value) -> Vec<String> {
    index
        .apply_cluster_network_policy(&acnp("p", spec))
        .unwrap();
    let span = index.cluster_network_policy_span("p").unwrap();
    assert!(span.sync_error.is_none());
    span.nodes.into_iter().collect()
}

#[test]
fn span_is_the_nodes_of_applied_to_pods() {
    let mut index = cluster();
    index
        .apply_cluster_group(&cluster_group(
            "ips",
            json!({"ipBlocks": [{"cidr": "10.0.0.0/8"}]}),
        ))
        .unwrap();
    index
        .apply_cluster_group(&cluster_group(
            "db",
            json!({"podSelector": {"matchLabels": {"app": "db"}}}),
        ))
        .unwrap();
    index
        .apply_cluster_group(&cluster_group(
            "parent",
            json!({"childGroups": ["db", "ips"]}),
        ))
        .unwrap();
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "policy-level podSelector",
            json!({"priority": 1, "appliedTo": [{"podSelector": {"matchLabels": {"app": "db"}}}], "ingress": [{"action": "Drop"}]}),
            vec!["node-b"],
        ),
        (
            "namespaceSelector",
            json!({"priority": 1, "appliedTo": [{"namespaceSelector": {"matchLabels": {"env": "dev"}}}], "ingress": [{"action": "Drop"}]}),
            vec!["node-a"],
        ),
        (
            "union of rule-level appliedTo",
            json!({"priority": 1, "ingress": [
                {"action": "Drop", "appliedTo": [{"podSelector": {"matchLabels": {"app": "db"}}}]},
                {"action": "Drop", "appliedTo": [{"namespaceSelector": {"matchLabels": {"env": "dev"}}}]},
            ]}),
            vec!["node-a", "node-b"],
        ),
        (
            "nothing selected spans no Node",
            json!({"priority": 1, "appliedTo": [{"podSelector": {"matchLabels": {"app": "nothing"}}}], "ingress": [{"action": "Drop"}]}),
            vec![],
        ),
        (
            "an ipBlocks-only ClusterGroup is ignored",
            json!({"priority": 1, "appliedTo": [{"group": "ips"}], "ingress": [{"action": "Drop"}]}),
            vec![],
        ),
        (
            "a missing ClusterGroup selects nothing",
            json!({"priority": 1, "appliedTo": [{"group": "ghost"}], "ingress": [{"action": "Drop"}]}),
            vec![],
        ),
        (
            "a parent ClusterGroup spans its children's Pods",
            json!({"priority": 1, "appliedTo": [{"group": "parent"}], "ingress": [{"action": "Drop"}]}),
            vec!["node-b"],
        ),
        (
            "a NodePort Service appliedTo spans every Node",
            json!({"priority": 1, "appliedTo": [{"service": {"name": "np", "namespace": "prod"}}], "ingress": [{"action": "Drop", "from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}),
            vec!["node-a", "node-b"],
        ),
        (
            "a nodeSelector spans the Nodes it selects",
            json!({"priority": 1, "appliedTo": [{"nodeSelector": {"matchLabels": {"zone": "a"}}}], "ingress": [{"action": "Drop"}]}),
            vec!["node-a"],
        ),
        (
            "serviceAccount",
            json!({"priority": 1, "appliedTo": [{"serviceAccount": {"name": "default", "namespace": "other"}}], "ingress": [{"action": "Drop"}]}),
            vec!["node-b"],
        ),
    ];
    for (name, spec, expected) in cases {
        assert_eq!(acnp_span(&mut index, spec), expected, "{name}");
    }
}

#[test]
fn unscheduled_host_network_and_terminated_pods_do_not_count() {
    let mut index = cluster();
    let mut pending = pod("dev", "pending", &[("app", "batch")], "", "");
    pending.status = None;
    let mut host = pod("dev", "host", &[("app", "batch")], "node-b", "192.168.0.2");
    host.spec.as_mut().unwrap().host_network = Some(true);
    let mut done = pod("dev", "done", &[("app", "batch")], "node-b", "10.10.1.77");
    done.status.as_mut().unwrap().phase = Some("Failed".into());
    for pod in [pending, host, done] {
        index.apply_pod(&pod).unwrap();
    }
    let spec = json!({"priority": 1, "appliedTo": [{"podSelector": {"matchLabels": {"app": "batch"}}}], "ingress": [{"action": "Drop"}]});
    assert!(acnp_span(&mut index, spec.clone()).is_empty());
    index
        .apply_pod(&pod(
            "dev",
            "pending",
            &[("app", "batch")],
            "node-a",
            "10.10.0.77",
        ))
        .unwrap();
    assert_eq!(acnp_span(&mut index, spec.clone()), vec!["node-a"]);
    // The Pod moves: the span follows.
    index
        .apply_pod(&pod(
            "dev",
            "pending",
            &[("app", "batch")],
            "node-b",
            "10.10.1.78",
        ))
        .unwrap();
    assert_eq!(acnp_span(&mut index, spec.clone()), vec!["node-b"]);
    index.delete_pod("dev", "pending");
    assert!(acnp_span(&mut index, spec).is_empty());
}

#[test]
fn annp_with_a_cross_namespace_group_is_not_realizable() {
    let mut index = cluster();
    index
        .apply_group(&group(
            "prod",
            "clients",
            json!({"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "client"}}}),
        ))
        .unwrap();
    index
        .apply_antrea_network_policy(&annp("prod", "p", json!({"priority": 1, "appliedTo": [{"group": "clients"}], "egress": [{"action": "Drop"}]})))
        .unwrap();
    let span = index.antrea_network_policy_span("prod", "p").unwrap();
    assert_eq!(
        span.sync_error,
        Some(SyncError::AppliedToUnsupportedGroup {
            namespace: "prod".into(),
            group: "clients".into()
        })
    );
    assert!(span.nodes.is_empty());
    assert_eq!(span.desired_nodes(), 0);
    let condition = span.realizable_condition();
    assert_eq!(
        condition.reason.as_deref(),
        Some(APPLIED_TO_UNSUPPORTED_GROUP)
    );
    let status = span.status(7, &BTreeMap::new());
    assert_eq!(status.phase, Some(NetworkPolicyPhase::Pending));
    assert_eq!(status.observed_generation, Some(7));

    // Restricted to its own Namespace, the Group is fine.
    index
        .apply_group(&group(
            "prod",
            "clients",
            json!({"podSelector": {"matchLabels": {"app": "client"}}}),
        ))
        .unwrap();
    let span = index.antrea_network_policy_span("prod", "p").unwrap();
    assert_eq!(span.sync_error, None);
    assert_eq!(span.nodes.into_iter().collect::<Vec<_>>(), vec!["node-a"]);
}

#[test]
fn realization_status_from_node_reports() {
    let mut index = cluster();
    index
        .apply_cluster_network_policy(&acnp(
            "p",
            json!({"priority": 1, "appliedTo": [{"podSelector": {"matchLabels": {"app": "client"}}}], "ingress": [{"action": "Drop"}]}),
        ))
        .unwrap();
    let span = index.cluster_network_policy_span("p").unwrap();
    assert_eq!(span.desired_nodes(), 2);
    let report = |generation| NodeRealization {
        generation,
        realization_failure: false,
        message: String::new(),
    };
    let mut reports = BTreeMap::from([("node-a".to_string(), report(2))]);
    assert_eq!(
        span.status(2, &reports).phase,
        Some(NetworkPolicyPhase::Realizing)
    );
    reports.insert("node-b".into(), report(2));
    let status = span.status(2, &reports);
    assert_eq!(status.phase, Some(NetworkPolicyPhase::Realized));
    assert_eq!(
        (status.current_nodes_realized, status.desired_nodes_realized),
        (Some(2), Some(2))
    );
    assert_eq!(
        span.status(3, &reports).phase,
        Some(NetworkPolicyPhase::Realizing),
        "old generation"
    );
}

#[test]
fn all_policy_spans_and_unknown_policies() {
    let mut index = cluster();
    index
        .apply_cluster_group(&cluster_group(
            "web",
            json!({"podSelector": {"matchLabels": {"app": "web"}}}),
        ))
        .unwrap();
    for name in ["a", "b"] {
        index
            .apply_cluster_network_policy(&acnp(name, json!({"priority": 1, "appliedTo": [{"group": "web"}], "ingress": [{"action": "Drop"}]})))
            .unwrap();
    }
    index
        .apply_antrea_network_policy(&annp("dev", "c", json!({"priority": 1, "appliedTo": [{"podSelector": {}}], "ingress": [{"action": "Drop"}]})))
        .unwrap();
    let spans = index.all_policy_spans();
    assert_eq!(spans.len(), 3);
    let nodes = |policy: &PolicyRef| spans[policy].nodes.iter().cloned().collect::<Vec<_>>();
    assert_eq!(nodes(&PolicyRef::cluster("a")), vec!["node-a", "node-b"]);
    assert_eq!(nodes(&PolicyRef::cluster("b")), vec!["node-a", "node-b"]);
    assert_eq!(
        nodes(&PolicyRef::namespaced(
            PolicyKind::AntreaNetworkPolicy,
            "dev",
            "c"
        )),
        vec!["node-a"]
    );
    assert!(index.cluster_network_policy_span("zzz").is_none());
    assert!(index.antrea_network_policy_span("dev", "zzz").is_none());
}
