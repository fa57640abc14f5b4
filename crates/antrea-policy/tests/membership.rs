//! ClusterGroup and Group membership and the `GroupMembersComputed` condition.

mod support;

use antrea_policy::{CHILD_GROUPS_NESTING_EXCEEDED, ClusterIndex, Members, MembersComputed};
use antrea_types::group::GroupCondition;
use antrea_types::policy::ConditionStatus;
use serde_json::{Value, json};
use support::*;

fn pod_names(members: &Members) -> Vec<String> {
    members
        .pods
        .iter()
        .map(|pod| format!("{}/{}", pod.namespace, pod.name))
        .collect()
}

fn cg_members(index: &ClusterIndex, name: &str) -> Members {
    index
        .cluster_group_members(name)
        .expect("cluster group exists")
}

#[test]
fn cluster_group_selectors() {
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "podSelector alone selects in every Namespace",
            json!({"podSelector": {"matchLabels": {"app": "client"}}}),
            vec!["dev/client", "other/client", "prod/client"],
        ),
        (
            "namespaceSelector alone selects every Pod of those Namespaces",
            json!({"namespaceSelector": {"matchLabels": {"team": "a"}}}),
            vec![
                "dev/client",
                "prod/client",
                "prod/db-0",
                "prod/web-0",
                "prod/web-1",
            ],
        ),
        (
            "both selectors intersect",
            json!({"podSelector": {"matchLabels": {"app": "client"}}, "namespaceSelector": {"matchLabels": {"env": "prod"}}}),
            vec!["other/client", "prod/client"],
        ),
        (
            "matchExpressions",
            json!({"podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "db"]}]}}),
            vec!["prod/db-0", "prod/web-0", "prod/web-1"],
        ),
        (
            "an invalid podSelector next to a namespaceSelector broadens to the Namespaces",
            json!({
                "podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": []}]},
                "namespaceSelector": {"matchLabels": {"env": "dev"}},
            }),
            vec!["dev/client"],
        ),
        (
            "externalEntitySelector selects no Pod",
            json!({"externalEntitySelector": {}}),
            vec![],
        ),
        ("nothing set selects nothing", json!({}), vec![]),
    ];
    let mut index = cluster();
    for (name, spec, expected) in cases {
        index
            .apply_cluster_group(&cluster_group("cg", spec))
            .unwrap();
        let members = cg_members(&index, "cg");
        assert_eq!(pod_names(&members), expected, "{name}");
        assert_eq!(members.computed, MembersComputed::Computed, "{name}");
    }
}

#[test]
fn members_carry_addresses_and_exclude_pods_antrea_excludes() {
    let mut index = cluster();
    let mut host = pod("prod", "host", &[("app", "web")], "node-a", "192.168.0.1");
    host.spec.as_mut().unwrap().host_network = Some(true);
    let mut done = pod("prod", "done", &[("app", "web")], "node-a", "10.10.0.99");
    done.status.as_mut().unwrap().phase = Some("Succeeded".into());
    let mut pending = pod("prod", "pending", &[("app", "web")], "", "");
    pending.status = None;
    for pod in [host, done, pending] {
        index.apply_pod(&pod).unwrap();
    }
    index
        .apply_cluster_group(&cluster_group(
            "web",
            json!({"podSelector": {"matchLabels": {"app": "web"}}}),
        ))
        .unwrap();
    let members = cg_members(&index, "web");
    assert_eq!(pod_names(&members), vec!["prod/web-0", "prod/web-1"]);
    assert_eq!(
        members.pods[0].ips,
        vec!["10.10.0.10".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(members.pods[0].node.as_deref(), Some("node-a"));
}

#[test]
fn service_reference_selects_backend_pods() {
    let mut index = cluster();
    index
        .apply_cluster_group(&cluster_group(
            "svc",
            json!({"serviceReference": {"name": "web", "namespace": "prod"}}),
        ))
        .unwrap();
    assert!(
        cg_members(&index, "svc").pods.is_empty(),
        "missing Service selects nothing"
    );
    assert_eq!(
        cg_members(&index, "svc").computed,
        MembersComputed::Computed
    );
    index
        .apply_service(&service(json!({
            "metadata": {"namespace": "prod", "name": "web"},
            "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"port": 80}]},
        })))
        .unwrap();
    assert_eq!(
        pod_names(&cg_members(&index, "svc")),
        vec!["prod/web-0", "prod/web-1"]
    );
    index
        .apply_service(&service(json!({
            "metadata": {"namespace": "prod", "name": "web"},
            "spec": {"clusterIP": "10.96.0.10", "ports": [{"port": 80}]},
        })))
        .unwrap();
    assert!(
        cg_members(&index, "svc").pods.is_empty(),
        "selector-less Service is ignored"
    );
}

#[test]
fn ip_blocks_and_node_selectors() {
    let mut index = cluster();
    index
        .apply_cluster_group(&cluster_group(
            "ips",
            json!({"ipBlocks": [{"cidr": "10.0.0.0/8", "except": ["10.10.0.0/16"]}, {"cidr": "192.168.10.0/24"}]}),
        ))
        .unwrap();
    let members = cg_members(&index, "ips");
    assert!(members.pods.is_empty());
    assert_eq!(
        serde_json::to_value(&members.ip_blocks).unwrap(),
        json!([{"cidr": "10.0.0.0/8", "except": ["10.10.0.0/16"]}, {"cidr": "192.168.10.0/24"}])
    );
    index
        .apply_cluster_group(&cluster_group(
            "zone-b",
            json!({"nodeSelector": {"matchLabels": {"zone": "b"}}}),
        ))
        .unwrap();
    assert_eq!(cg_members(&index, "zone-b").nodes, vec!["node-b"]);
    assert!(cg_members(&index, "zone-b").pods.is_empty());
}

#[test]
fn child_groups_are_unioned_one_level_deep() {
    let mut index = cluster();
    index
        .apply_cluster_group(&cluster_group(
            "web",
            json!({"podSelector": {"matchLabels": {"app": "web"}}}),
        ))
        .unwrap();
    index
        .apply_cluster_group(&cluster_group(
            "ips",
            json!({"ipBlocks": [{"cidr": "192.168.10.0/24"}]}),
        ))
        .unwrap();
    index
        .apply_cluster_group(&cluster_group(
            "parent",
            json!({"childGroups": ["web", "ips", "db"]}),
        ))
        .unwrap();
    let members = cg_members(&index, "parent");
    assert_eq!(pod_names(&members), vec!["prod/web-0", "prod/web-1"]);
    assert_eq!(members.ip_blocks.len(), 1);
    assert_eq!(
        members.computed,
        MembersComputed::ChildrenMissing {
            missing: vec!["db".into()]
        }
    );
    assert_eq!(
        index.cluster_group_members_computed("parent"),
        Some(members.computed.clone())
    );
    assert_eq!(index.cluster_group_members_computed("nope"), None);
    assert_eq!(index.cluster_group_parents("db"), vec!["parent"]);

    // The missing child appears: members grow and the parent is computed.
    index
        .apply_cluster_group(&cluster_group(
            "db",
            json!({"podSelector": {"matchLabels": {"app": "db"}}}),
        ))
        .unwrap();
    let members = cg_members(&index, "parent");
    assert_eq!(
        pod_names(&members),
        vec!["prod/db-0", "prod/web-0", "prod/web-1"]
    );
    assert_eq!(members.computed, MembersComputed::Computed);

    // A child gets children of its own: the parent exceeds the nesting and has no members.
    index
        .apply_cluster_group(&cluster_group("db", json!({"childGroups": ["web"]})))
        .unwrap();
    let members = cg_members(&index, "parent");
    assert_eq!(members.computed, MembersComputed::NestingExceeded);
    assert!(members.pods.is_empty() && members.ip_blocks.is_empty());
    // The child itself (one level) is fine.
    assert_eq!(
        pod_names(&cg_members(&index, "db")),
        vec!["prod/web-0", "prod/web-1"]
    );

    // A cycle exceeds the nesting for every member without looping.
    index
        .apply_cluster_group(&cluster_group("loop-a", json!({"childGroups": ["loop-b"]})))
        .unwrap();
    index
        .apply_cluster_group(&cluster_group("loop-b", json!({"childGroups": ["loop-a"]})))
        .unwrap();
    assert_eq!(
        cg_members(&index, "loop-a").computed,
        MembersComputed::NestingExceeded
    );
    assert_eq!(
        cg_members(&index, "loop-b").computed,
        MembersComputed::NestingExceeded
    );
}

#[test]
fn members_computed_conditions_follow_the_controller() {
    let computed = MembersComputed::Computed
        .condition("ClusterGroup", None)
        .unwrap();
    assert_eq!(computed.status, ConditionStatus::True);
    assert_eq!(computed.reason, None);

    let nested = MembersComputed::NestingExceeded
        .condition("ClusterGroup", None)
        .unwrap();
    assert_eq!(nested.status, ConditionStatus::False);
    assert_eq!(
        nested.reason.as_deref(),
        Some(CHILD_GROUPS_NESTING_EXCEEDED)
    );
    assert_eq!(
        nested.message.as_deref(),
        Some(
            "The childGroups of this ClusterGroup must not have childGroups of their own. Its members \
             cannot be computed and it is not realized: fix its definition, or the definition of one of \
             its childGroups."
        )
    );

    let missing = MembersComputed::ChildrenMissing {
        missing: vec!["x".into()],
    };
    assert_eq!(
        missing.condition("ClusterGroup", None),
        None,
        "nothing written while children are missing"
    );
    assert_eq!(missing.condition("ClusterGroup", Some(&computed)), None);
    let cleared: GroupCondition = missing.condition("Group", Some(&nested)).unwrap();
    assert_eq!(cleared.status, ConditionStatus::False);
    assert_eq!(cleared.reason, None, "a stale nesting reason is cleared");
}

#[test]
fn namespaced_groups() {
    let mut index = cluster();
    index
        .apply_group(&group(
            "prod",
            "clients",
            json!({"podSelector": {"matchLabels": {"app": "client"}}}),
        ))
        .unwrap();
    assert_eq!(
        pod_names(&index.group_members("prod", "clients").unwrap()),
        vec!["prod/client"]
    );
    index
        .apply_group(&group(
            "prod",
            "team-a-clients",
            json!({"podSelector": {"matchLabels": {"app": "client"}}, "namespaceSelector": {"matchLabels": {"team": "a"}}}),
        ))
        .unwrap();
    assert_eq!(
        pod_names(&index.group_members("prod", "team-a-clients").unwrap()),
        vec!["dev/client", "prod/client"]
    );
    // Children are Groups of the same Namespace.
    index
        .apply_group(&group(
            "dev",
            "clients",
            json!({"podSelector": {"matchLabels": {"app": "client"}}}),
        ))
        .unwrap();
    index
        .apply_group(&group(
            "prod",
            "parent",
            json!({"childGroups": ["clients"]}),
        ))
        .unwrap();
    assert_eq!(
        pod_names(&index.group_members("prod", "parent").unwrap()),
        vec!["prod/client"]
    );
    assert_eq!(
        index.group_members_computed("prod", "parent"),
        Some(MembersComputed::Computed)
    );
    // A serviceReference without a Namespace uses the Group's.
    index
        .apply_service(&service(json!({
            "metadata": {"namespace": "prod", "name": "db"},
            "spec": {"clusterIP": "10.96.0.20", "selector": {"app": "db"}, "ports": [{"port": 5432}]},
        })))
        .unwrap();
    index
        .apply_group(&group(
            "prod",
            "db",
            json!({"serviceReference": {"name": "db"}}),
        ))
        .unwrap();
    assert_eq!(
        pod_names(&index.group_members("prod", "db").unwrap()),
        vec!["prod/db-0"]
    );
    assert!(index.group_members("prod", "nope").is_none());
    assert!(index.delete_group("prod", "db"));
    assert!(index.group_members("prod", "db").is_none());
}

#[test]
fn membership_follows_pod_and_namespace_updates() {
    let mut index = cluster();
    index
        .apply_cluster_group(&cluster_group(
            "prod-web",
            json!({"podSelector": {"matchLabels": {"app": "web"}}, "namespaceSelector": {"matchLabels": {"env": "prod"}}}),
        ))
        .unwrap();
    assert_eq!(
        pod_names(&cg_members(&index, "prod-web")),
        vec!["prod/web-0", "prod/web-1"]
    );
    index
        .apply_pod(&pod(
            "other",
            "web-9",
            &[("app", "web")],
            "node-b",
            "10.10.1.99",
        ))
        .unwrap();
    assert_eq!(
        pod_names(&cg_members(&index, "prod-web")),
        vec!["other/web-9", "prod/web-0", "prod/web-1"]
    );
    index
        .apply_pod(&pod(
            "prod",
            "web-0",
            &[("app", "api")],
            "node-a",
            "10.10.0.10",
        ))
        .unwrap();
    assert_eq!(
        pod_names(&cg_members(&index, "prod-web")),
        vec!["other/web-9", "prod/web-1"]
    );
    assert!(index.delete_pod("prod", "web-1"));
    assert!(!index.delete_pod("prod", "web-1"));
    assert_eq!(
        pod_names(&cg_members(&index, "prod-web")),
        vec!["other/web-9"]
    );
    index
        .apply_namespace(&namespace("other", &[("env", "staging")]))
        .unwrap();
    assert!(cg_members(&index, "prod-web").pods.is_empty());
    assert!(index.delete_namespace("other"));
    assert!(
        cg_members(&index, "prod-web").pods.is_empty(),
        "unknown Namespace does not match a selector"
    );
    assert!(index.delete_cluster_group("prod-web"));
    assert!(index.cluster_group_members("prod-web").is_none());
}

#[test]
fn objects_without_names_are_rejected() {
    let mut index = ClusterIndex::new();
    let nameless = cluster_group("", json!({}));
    assert_eq!(
        index
            .apply_cluster_group(&nameless)
            .unwrap_err()
            .to_string(),
        "ClusterGroup has no metadata.name"
    );
    let mut pod = pod("ns", "p", &[], "n", "10.0.0.1");
    pod.metadata.namespace = None;
    assert_eq!(
        index.apply_pod(&pod).unwrap_err().to_string(),
        "Pod has no metadata.namespace"
    );
    let slice = endpoint_slice(
        json!({"metadata": {"namespace": "ns", "name": "s"}, "addressType": "IPv4", "endpoints": []}),
    );
    assert!(index.apply_endpoint_slice(&slice).is_err());
}
