//! AntreaControllerInfo and AntreaAgentInfo through the API: the fields Antrea fills,
//! heartbeats, and the hooks that silence agents, flip their connections or take the
//! controller down.

mod common;

use std::time::Duration;

use antrea_types::info::AgentConditionType;
use antrea_types::policy::ConditionStatus;
use antrea_types::{AntreaAgentInfo, AntreaControllerInfo, ClusterNetworkPolicy};
use common::{cluster, eventually, object, options, pinned_pod};
use jiff::Timestamp;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

fn heartbeat(agent: &AntreaAgentInfo) -> Option<Timestamp> {
    let conditions = agent.spec.agent_conditions.as_ref()?;
    let healthy = conditions
        .iter()
        .find(|c| c.type_ == AgentConditionType::AgentHealthy)?;
    Some(healthy.last_heartbeat_time.0)
}

fn condition(agent: &AntreaAgentInfo, kind: AgentConditionType) -> ConditionStatus {
    agent
        .spec
        .agent_conditions
        .as_ref()
        .and_then(|conditions| conditions.iter().find(|c| c.type_ == kind))
        .map(|c| c.status)
        .expect("condition present")
}

fn controller_heartbeat(info: &AntreaControllerInfo) -> Timestamp {
    info.spec.controller_conditions.as_ref().unwrap()[0]
        .last_heartbeat_time
        .0
}

#[tokio::test(start_paused = true)]
async fn controller_and_agents_report_what_antrea_fills() {
    let (_emu, antrea, client) = cluster(options(2)).await;
    pinned_pod(
        &client,
        "default",
        "web",
        "k8s-node-2",
        json!({"app": "web"}),
    )
    .await;
    let policies: Api<ClusterNetworkPolicy> = Api::all(client.clone());
    let policy: ClusterNetworkPolicy = object(json!({"metadata": {"name": "p"},
        "spec": {"priority": 1, "appliedTo": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                 "ingress": [{"action": "Allow", "name": "r", "from": [{"podSelector": {}}]}]}}));
    policies
        .create(&PostParams::default(), &policy)
        .await
        .unwrap();
    common::acnp_status_where(&client, "p", |s| common::summary(s).0 == "Realized").await;
    antrea.heartbeat_now();

    let controllers: Api<AntreaControllerInfo> = Api::all(client.clone());
    let info = eventually(|| {
        let controllers = controllers.clone();
        async move {
            let info = controllers.get("antrea-controller").await.ok()?;
            let counts = info.spec.network_policy_controller_info.as_ref()?;
            (counts.network_policy_num == Some(1)).then_some(info)
        }
    })
    .await;
    let fields = &info.spec;
    assert_eq!(fields.version.as_deref(), Some(antrea_emu::ANTREA_VERSION));
    let pod_ref = fields.pod_ref.as_ref().unwrap();
    assert_eq!(pod_ref.kind.as_deref(), Some("Pod"));
    assert_eq!(pod_ref.namespace.as_deref(), Some("kube-system"));
    assert_eq!(
        pod_ref.name.as_deref(),
        Some(antrea.topology().controller_pod.as_str())
    );
    assert_eq!(
        fields.node_ref.as_ref().unwrap().name.as_deref(),
        Some("k8s-node-1")
    );
    assert_eq!(
        fields.service_ref.as_ref().unwrap().name.as_deref(),
        Some("antrea")
    );
    assert_eq!(fields.connected_agent_num, Some(2));
    assert_eq!(fields.api_port, Some(10349));
    let counts = fields.network_policy_controller_info.as_ref().unwrap();
    assert_eq!(
        (counts.applied_to_group_num, counts.address_group_num),
        (Some(1), Some(1))
    );
    let healthy = &fields.controller_conditions.as_ref().unwrap()[0];
    assert_eq!(healthy.status, ConditionStatus::True);

    let agents: Api<AntreaAgentInfo> = Api::all(client.clone());
    let list = agents.list(&ListParams::default()).await.unwrap();
    let names: Vec<String> = list
        .items
        .iter()
        .filter_map(|a| a.metadata.name.clone())
        .collect();
    assert_eq!(names, ["k8s-node-1", "k8s-node-2"]);
    let agent = eventually(|| {
        let agents = agents.clone();
        async move {
            let agent = agents.get("k8s-node-2").await.ok()?;
            (agent.spec.local_pod_num == Some(1)).then_some(agent)
        }
    })
    .await;
    let fields = &agent.spec;
    assert_eq!(
        fields.node_ref.as_ref().unwrap().name.as_deref(),
        Some("k8s-node-2")
    );
    assert_eq!(
        fields.pod_ref.as_ref().unwrap().name.as_deref(),
        Some(antrea.topology().nodes[1].agent_pod.as_str())
    );
    assert_eq!(
        fields.node_subnets.as_deref(),
        Some(&["10.10.1.0/24".to_string()][..])
    );
    let ovs = fields.ovs_info.as_ref().unwrap();
    assert_eq!(ovs.bridge_name.as_deref(), Some("br-int"));
    assert!(
        ovs.flow_table
            .as_ref()
            .unwrap()
            .contains_key("AntreaPolicyIngressRule")
    );
    assert_eq!(
        fields
            .network_policy_controller_info
            .as_ref()
            .unwrap()
            .network_policy_num,
        Some(1)
    );
    assert_eq!(fields.api_port, Some(10350));
    let bundle = String::from_utf8(fields.api_ca_bundle.as_ref().unwrap().0.clone()).unwrap();
    assert!(bundle.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(
        fields
            .network_info
            .as_ref()
            .unwrap()
            .transport_interface_ips
            .as_deref(),
        Some(&["172.18.0.3".to_string()][..])
    );
    for kind in [
        AgentConditionType::AgentHealthy,
        AgentConditionType::ControllerConnectionUp,
        AgentConditionType::OvsdbConnectionUp,
        AgentConditionType::OpenflowConnectionUp,
    ] {
        assert_eq!(condition(&agent, kind), ConditionStatus::True, "{kind:?}");
    }
    // Node 1 runs no policy.
    let first = agents.get("k8s-node-1").await.unwrap();
    assert_eq!(
        first
            .spec
            .network_policy_controller_info
            .unwrap()
            .network_policy_num,
        Some(0)
    );
}

#[tokio::test(start_paused = true)]
async fn heartbeats_refresh_every_interval_and_stop_on_demand() {
    let (_emu, antrea, client) = cluster(options(2)).await;
    let agents: Api<AntreaAgentInfo> = Api::all(client.clone());
    let first = heartbeat(&agents.get("k8s-node-1").await.unwrap()).unwrap();
    tokio::time::sleep(Duration::from_secs(61)).await;
    let second = eventually(|| {
        let agents = agents.clone();
        async move { heartbeat(&agents.get("k8s-node-1").await.ok()?).filter(|t| *t > first) }
    })
    .await;
    assert!(
        second.duration_since(first) >= jiff::SignedDuration::from_secs(59),
        "{first} {second}"
    );

    antrea.stop_agent_heartbeats("k8s-node-2").unwrap();
    let frozen = heartbeat(&agents.get("k8s-node-2").await.unwrap()).unwrap();
    tokio::time::sleep(Duration::from_secs(185)).await;
    let node1 = heartbeat(&agents.get("k8s-node-1").await.unwrap()).unwrap();
    let node2 = heartbeat(&agents.get("k8s-node-2").await.unwrap()).unwrap();
    assert_eq!(node2, frozen, "a silenced agent stops writing");
    assert!(node1.duration_since(node2) >= jiff::SignedDuration::from_secs(120));
    let controllers: Api<AntreaControllerInfo> = Api::all(client.clone());
    let info = controllers.get("antrea-controller").await.unwrap();
    assert_eq!(info.spec.connected_agent_num, Some(1));

    antrea.resume_agent_heartbeats("k8s-node-2").unwrap();
    antrea.heartbeat_now();
    eventually(|| {
        let agents = agents.clone();
        async move { heartbeat(&agents.get("k8s-node-2").await.ok()?).filter(|t| *t > frozen) }
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn connection_conditions_follow_the_hooks() {
    let (_emu, antrea, client) = cluster(options(1)).await;
    let agents: Api<AntreaAgentInfo> = Api::all(client.clone());
    antrea.set_ovsdb_connection("k8s-node-1", false).unwrap();
    antrea.set_openflow_connection("k8s-node-1", false).unwrap();
    // Conditions follow at the next heartbeat.
    tokio::time::sleep(Duration::from_secs(61)).await;
    let agent = eventually(|| {
        let agents = agents.clone();
        async move {
            let agent = agents.get("k8s-node-1").await.ok()?;
            (condition(&agent, AgentConditionType::OvsdbConnectionUp) == ConditionStatus::False)
                .then_some(agent)
        }
    })
    .await;
    assert_eq!(
        condition(&agent, AgentConditionType::OpenflowConnectionUp),
        ConditionStatus::False
    );
    assert_eq!(
        condition(&agent, AgentConditionType::AgentHealthy),
        ConditionStatus::True
    );

    antrea.set_openflow_connection("k8s-node-1", true).unwrap();
    antrea.heartbeat_now();
    let agent = eventually(|| {
        let agents = agents.clone();
        async move {
            let agent = agents.get("k8s-node-1").await.ok()?;
            (condition(&agent, AgentConditionType::OpenflowConnectionUp) == ConditionStatus::True)
                .then_some(agent)
        }
    })
    .await;
    assert_eq!(
        condition(&agent, AgentConditionType::OvsdbConnectionUp),
        ConditionStatus::False
    );
    assert!(antrea.set_ovsdb_connection("k8s-node-7", true).is_err());
}

#[tokio::test(start_paused = true)]
async fn a_controller_that_is_down_stops_its_heartbeat_and_agents_see_it() {
    let (_emu, antrea, client) = cluster(options(1)).await;
    let controllers: Api<AntreaControllerInfo> = Api::all(client.clone());
    let agents: Api<AntreaAgentInfo> = Api::all(client.clone());
    antrea.take_controller_down();
    let last = controller_heartbeat(&controllers.get("antrea-controller").await.unwrap());
    tokio::time::sleep(Duration::from_secs(200)).await;
    assert_eq!(
        controller_heartbeat(&controllers.get("antrea-controller").await.unwrap()),
        last
    );
    let agent = agents.get("k8s-node-1").await.unwrap();
    assert_eq!(
        condition(&agent, AgentConditionType::ControllerConnectionUp),
        ConditionStatus::False
    );
    assert!(heartbeat(&agent).unwrap() > last, "agents keep writing");

    antrea.bring_controller_up();
    eventually(|| {
        let controllers = controllers.clone();
        async move {
            let info = controllers.get("antrea-controller").await.ok()?;
            (controller_heartbeat(&info) > last).then_some(())
        }
    })
    .await;
    antrea.heartbeat_now();
    eventually(|| {
        let agents = agents.clone();
        async move {
            let agent = agents.get("k8s-node-1").await.ok()?;
            (condition(&agent, AgentConditionType::ControllerConnectionUp) == ConditionStatus::True)
                .then_some(())
        }
    })
    .await;
}
