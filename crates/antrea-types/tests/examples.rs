//! The examples of the Antrea API reference (`shared/reference/antrea-api.md`) parse into our
//! types and serialize back to the same document. Placeholders of the reference (`<policy
//! UID>`) are replaced by concrete values.

use antrea_types::policy::{NetworkPolicyPhase, Protocol, RuleAction};
use antrea_types::stats::AntreaClusterNetworkPolicyStats;
use antrea_types::system::{SupportBundle, SupportBundleStatus};
use antrea_types::traceflow::{TraceflowAction, TraceflowPhase};
use antrea_types::{AntreaAgentInfo, ClusterGroup, ClusterNetworkPolicy, Tier, Traceflow};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

const ACNP: &str = r#"
apiVersion: crd.antrea.io/v1beta1
kind: ClusterNetworkPolicy
metadata:
  name: nsx-p-3f9a1c0d2b7e4a61
  labels: {app.kubernetes.io/managed-by: antrea-nsx-adapter-rs}
spec:
  tier: nsx-application
  priority: 12.5
  appliedTo:
  - group: nsx-g-web
  ingress:
  - name: r-1017-in
    action: Allow
    from:
    - group: nsx-g-lb
    ports:
    - {protocol: TCP, port: 8080, endPort: 8090}
    enableLogging: true
    logLabel: r-1017
  - name: r-1018-in
    action: Drop
    from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]
    protocols: [{icmp: {icmpType: 8, icmpCode: 0}}]
  egress:
  - name: r-1019-out
    action: Allow
    to: [{fqdn: "*.example.com"}]
status:
  phase: Realized
  observedGeneration: 3
  currentNodesRealized: 4
  desiredNodesRealized: 4
  conditions:
  - {type: Realizable, status: "True", lastTransitionTime: "2026-08-20T10:00:00Z"}
"#;

const TIER: &str = r#"
apiVersion: crd.antrea.io/v1beta1
kind: Tier
metadata: {name: nsx-infrastructure}
spec: {priority: 90, description: "NSX DFW category Infrastructure"}
"#;

const CLUSTER_GROUPS: &str = r#"
apiVersion: crd.antrea.io/v1beta1
kind: ClusterGroup
metadata: {name: nsx-g-web}
spec:
  childGroups: [nsx-g-web-tags, nsx-g-web-ips]
---
apiVersion: crd.antrea.io/v1beta1
kind: ClusterGroup
metadata: {name: nsx-g-web-ips}
spec:
  ipBlocks: [{cidr: 192.168.10.0/24}]
status:
  conditions: [{type: GroupMembersComputed, status: "True"}]
"#;

const AGENT_INFO: &str = r#"
apiVersion: crd.antrea.io/v1beta1
kind: AntreaAgentInfo
metadata: {name: worker-1}
version: v2.7.0
nodeRef: {kind: Node, name: worker-1}
podRef: {kind: Pod, namespace: kube-system, name: antrea-agent-x7k2p}
localPodNum: 14
agentConditions:
- {type: AgentHealthy, status: "True", lastHeartbeatTime: "2026-08-20T10:01:00Z"}
- {type: ControllerConnectionUp, status: "True", lastHeartbeatTime: "2026-08-20T10:01:00Z"}
- {type: OVSDBConnectionUp, status: "True", lastHeartbeatTime: "2026-08-20T10:01:00Z"}
- {type: OpenflowConnectionUp, status: "True", lastHeartbeatTime: "2026-08-20T10:01:00Z"}
apiPort: 10350
"#;

const ACNP_STATS: &str = r#"
apiVersion: stats.antrea.io/v1alpha1
kind: AntreaClusterNetworkPolicyStats
metadata: {name: nsx-p-3f9a1c0d2b7e4a61, uid: 6f1c1d8e-2a4b-4c3d-9e8f-0a1b2c3d4e5f, creationTimestamp: "2026-08-20T09:00:00Z"}
trafficStats: {sessions: 2, packets: 6, bytes: 503}
ruleTrafficStats:
- name: r-1017-in
  trafficStats: {sessions: 1, packets: 4, bytes: 392}
"#;

const TRACEFLOW: &str = r#"
apiVersion: crd.antrea.io/v1beta1
kind: Traceflow
metadata: {name: nsx-tf-5b1e}
spec:
  source: {namespace: default, pod: web-0}
  destination: {namespace: default, pod: db-0}
  packet: {ipHeader: {protocol: 6}, transportHeader: {tcp: {srcPort: 10000, dstPort: 5432}}}
  timeout: 30
"#;

/// A Traceflow status as antrea-controller writes it (shape from §4.1 of the reference).
const TRACEFLOW_STATUS: &str = r#"
apiVersion: crd.antrea.io/v1beta1
kind: Traceflow
metadata: {name: nsx-tf-5b1e}
spec:
  source: {namespace: default, pod: web-0}
  destination: {namespace: default, ip: 10.10.1.5}
status:
  phase: Succeeded
  startTime: "2026-08-20T10:02:00Z"
  dataplaneTag: 7
  results:
  - node: worker-1
    role: Sender
    timestamp: 1787220120
    observations:
    - {component: SpoofGuard, action: Forwarded}
    - {component: NetworkPolicy, componentInfo: EgressRule, action: Forwarded, networkPolicy: "AntreaClusterNetworkPolicy:nsx-p-3f9a1c0d2b7e4a61", networkPolicyRule: r-1019-out}
    - {component: Forwarding, componentInfo: Output, action: ForwardedOutOfNetwork, tunnelDstIP: 192.168.1.12}
  - node: worker-2
    role: Receiver
    timestamp: 1787220121
    observations:
    - {component: NetworkPolicy, componentInfo: IngressRule, action: Dropped, networkPolicy: "AntreaClusterNetworkPolicy:nsx-p-3f9a1c0d2b7e4a61", networkPolicyRule: r-1018-in}
  capturedPacket: {srcIP: 10.10.0.4, dstIP: 10.10.1.5, length: 84, ipHeader: {protocol: 1, ttl: 64}}
"#;

const SUPPORT_BUNDLE: &str = r#"
apiVersion: system.antrea.io/v1beta1
kind: SupportBundle
metadata: {name: controller, creationTimestamp: "2026-08-20T10:05:00Z"}
status: Collected
sum: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
size: 123456
since: 1h
"#;

/// JSON equality where numbers compare by value (`5` equals `5.0`).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, value)| y.get(key).is_some_and(|other| same_json(value, other)))
        }
        _ => a == b,
    }
}

/// Parses `yaml` as `T`, checks that serializing gives the same document back, returns it.
fn round_trip<T: DeserializeOwned + Serialize>(yaml: &str) -> T {
    let typed: T = serde_saphyr::from_str(yaml).expect("the example parses into our type");
    let original: Value = serde_saphyr::from_str(yaml).expect("the example is YAML");
    let serialized = serde_json::to_value(&typed).expect("serializes");
    assert!(
        same_json(&serialized, &original),
        "round trip changed the document:\nours: {serialized:#}\noriginal: {original:#}"
    );
    let reparsed: T = serde_json::from_value(serialized).expect("our JSON parses back");
    assert!(same_json(
        &serde_json::to_value(&reparsed).unwrap(),
        &original
    ));
    typed
}

#[test]
fn cluster_network_policy_example_round_trips() {
    let acnp: ClusterNetworkPolicy = round_trip(ACNP);
    assert_eq!(acnp.spec.priority, 12.5);
    let ingress = acnp.spec.ingress.as_deref().unwrap();
    assert_eq!(ingress[0].action, RuleAction::Allow);
    let port = &ingress[0].ports.as_deref().unwrap()[0];
    assert_eq!(port.protocol, Some(Protocol::TCP));
    assert_eq!(port.port, Some(IntOrString::Int(8080)));
    assert_eq!(port.end_port, Some(8090));
    assert_eq!(ingress[1].action, RuleAction::Drop);
    let status = acnp.status.unwrap();
    assert_eq!(status.phase, Some(NetworkPolicyPhase::Realized));
    assert_eq!(status.observed_generation, Some(3));
}

#[test]
fn tier_example_round_trips() {
    let tier: Tier = round_trip(TIER);
    assert_eq!(tier.spec.priority, 90);
}

#[test]
fn cluster_group_examples_round_trip() {
    let documents: Vec<Value> =
        serde_saphyr::from_multiple(CLUSTER_GROUPS).expect("two YAML documents");
    assert_eq!(documents.len(), 2);
    for document in documents {
        let yaml = serde_json::to_string(&document).unwrap();
        let group: ClusterGroup = round_trip(&yaml);
        assert!(group.spec.child_groups.is_some() || group.spec.ip_blocks.is_some());
    }
}

#[test]
fn agent_info_example_round_trips() {
    let agent: AntreaAgentInfo = round_trip(AGENT_INFO);
    assert_eq!(agent.spec.api_port, Some(10350));
    assert_eq!(
        agent
            .spec
            .agent_conditions
            .map(|conditions| conditions.len()),
        Some(4)
    );
}

#[test]
fn cluster_policy_stats_example_round_trips() {
    let stats: AntreaClusterNetworkPolicyStats = round_trip(ACNP_STATS);
    assert_eq!(stats.traffic_stats.bytes, 503);
    assert_eq!(stats.rule("r-1017-in").map(|rule| rule.packets), Some(4));
    assert!(stats.rule("r-missing").is_none());
}

#[test]
fn traceflow_examples_round_trip() {
    let traceflow: Traceflow = round_trip(TRACEFLOW);
    assert_eq!(traceflow.spec.timeout, Some(30));
    let traced: Traceflow = round_trip(TRACEFLOW_STATUS);
    let status = traced.status.unwrap();
    assert_eq!(status.phase, Some(TraceflowPhase::Succeeded));
    let receiver = &status.results.as_deref().unwrap()[1];
    let observation = &receiver.observations.as_deref().unwrap()[0];
    assert_eq!(observation.action, Some(TraceflowAction::Dropped));
    assert_eq!(
        observation.network_policy_rule.as_deref(),
        Some("r-1018-in")
    );
}

#[test]
fn support_bundle_round_trips() {
    let bundle: SupportBundle = round_trip(SUPPORT_BUNDLE);
    assert_eq!(bundle.status, Some(SupportBundleStatus::Collected));
    let request = serde_json::to_value(SupportBundle::request("controller", Some("1h"))).unwrap();
    assert_eq!(
        request,
        serde_json::json!({"apiVersion": "system.antrea.io/v1beta1", "kind": "SupportBundle", "metadata": {"name": "controller"}, "since": "1h"})
    );
}

#[test]
fn minimal_objects_serialize_minimally() {
    let tier = Tier::new(
        "t",
        antrea_types::TierSpec {
            priority: 5,
            description: None,
        },
    );
    assert_eq!(
        serde_json::to_value(&tier).unwrap(),
        serde_json::json!({"apiVersion": "crd.antrea.io/v1beta1", "kind": "Tier", "metadata": {"name": "t"}, "spec": {"priority": 5}})
    );
    let rule = antrea_types::Rule::new(RuleAction::Pass);
    assert_eq!(
        serde_json::to_value(&rule).unwrap(),
        serde_json::json!({"action": "Pass"})
    );
}
