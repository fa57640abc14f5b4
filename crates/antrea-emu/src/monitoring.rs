//! The monitoring CRDs (`pkg/monitor`): antrea-controller keeps one AntreaControllerInfo
//! (`antrea-controller`), creates an empty AntreaAgentInfo for every Node and deletes the ones
//! whose Node is gone; every agent fills its own AntreaAgentInfo. Both rewrite their object
//! every heartbeat (60 s by default): the first write after a start (or a failed write) is a
//! full update from a fresh read, the next ones update the cached object.
//!
//! Conditions are `True` when written (`ControllerHealthy`, `AgentHealthy`); an agent's
//! `ControllerConnectionUp`, `OVSDBConnectionUp` and `OpenflowConnectionUp` follow the hooks.
//! Health is told by `lastHeartbeatTime` staleness, as with the real components. OVS flow
//! counts are synthetic (a plausible count per pipeline table, growing with local Pods and
//! realized policies).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use antrea_types::info::{
    ANTREA_CONTROLLER_INFO_NAME, AgentCondition, AgentConditionType, ControllerCondition,
    ControllerConditionType, NetworkInfo, NetworkPolicyControllerInfo, OVSInfo,
};
use antrea_types::policy::ConditionStatus;
use antrea_types::{
    AntreaAgentInfo, AntreaAgentInfoFields, AntreaControllerInfo, AntreaControllerInfoFields,
};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use tokio::sync::oneshot;
use tokio::time::MissedTickBehavior;

use crate::realization::PolicyCounts;
use crate::workload::NodeInfo;
use crate::{
    AGENT_API_PORT, ANTREA_NAMESPACE, ANTREA_SERVICE, ANTREA_VERSION, CONTROLLER_API_PORT, Shared,
};

/// OVS version the agents report.
pub const OVS_VERSION: &str = "3.4.2";
/// The OVS bridge Antrea uses.
pub const BRIDGE_NAME: &str = "br-int";
/// NodePortLocal's default port range.
pub const NODE_PORT_LOCAL_RANGE: &str = "61000-62000";
/// MTU of the Nodes' transport interface and of Pods (Geneve encapsulation takes 50 bytes).
const TRANSPORT_MTU: i32 = 1500;
const POD_MTU: i32 = 1450;

fn reference(kind: &str, namespace: Option<&str>, name: &str) -> ObjectReference {
    ObjectReference {
        kind: Some(kind.to_string()),
        namespace: namespace.map(str::to_string),
        name: Some(name.to_string()),
        ..ObjectReference::default()
    }
}

fn controller_info_counts(counts: PolicyCounts) -> NetworkPolicyControllerInfo {
    let int = |n: usize| Some(i32::try_from(n).unwrap_or(i32::MAX));
    NetworkPolicyControllerInfo {
        network_policy_num: int(counts.network_policies),
        address_group_num: int(counts.address_groups),
        applied_to_group_num: int(counts.applied_to_groups),
    }
}

/// Synthetic flow counts per OVS table of Antrea's pipeline.
fn flow_table(local_pods: usize, counts: PolicyCounts) -> BTreeMap<String, i32> {
    let pods = i32::try_from(local_pods).unwrap_or(i32::MAX / 8);
    let policies = i32::try_from(counts.network_policies).unwrap_or(i32::MAX / 8);
    let groups =
        i32::try_from(counts.address_groups + counts.applied_to_groups).unwrap_or(i32::MAX / 8);
    [
        ("PipelineRootClassifier", 3),
        ("ARPSpoofGuard", 2 + pods),
        ("ARPResponder", 4),
        ("Classifier", 4 + pods),
        ("SpoofGuard", 2 + pods),
        ("UnSNAT", 3),
        ("ConntrackZone", 3),
        ("ConntrackState", 5),
        ("PreRoutingClassifier", 2),
        ("SessionAffinity", 1),
        ("ServiceLB", 6),
        ("EndpointDNAT", 2),
        ("AntreaPolicyEgressRule", 1 + 2 * policies + groups),
        ("EgressRule", 1),
        ("EgressDefaultRule", 1),
        ("EgressMetric", 1 + 2 * policies),
        ("L3Forwarding", 8 + pods),
        ("EgressMark", 2),
        ("L3DecTTL", 3),
        ("SNATMark", 3),
        ("SNAT", 3),
        ("L2ForwardingCalc", 4 + pods),
        ("TrafficControl", 1),
        ("IngressSecurityClassifier", 4),
        ("AntreaPolicyIngressRule", 1 + 2 * policies + groups),
        ("IngressRule", 1),
        ("IngressDefaultRule", 1),
        ("IngressMetric", 1 + 2 * policies),
        ("ConntrackCommit", 3),
        ("Output", 3),
    ]
    .into_iter()
    .map(|(table, flows)| (table.to_string(), flows))
    .collect()
}

/// The agent conditions written at `now`.
fn agent_conditions(shared: &Shared, node: &str) -> Vec<AgentCondition> {
    let hooks = shared.hooks.agent(node);
    let now = shared.clock.time();
    let status = |up: bool| {
        if up {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        }
    };
    [
        (AgentConditionType::AgentHealthy, true),
        (
            AgentConditionType::ControllerConnectionUp,
            shared.hooks.controller_is_up(),
        ),
        (AgentConditionType::OvsdbConnectionUp, hooks.ovsdb_up),
        (AgentConditionType::OpenflowConnectionUp, hooks.openflow_up),
    ]
    .into_iter()
    .map(|(type_, up)| AgentCondition {
        type_,
        status: status(up),
        last_heartbeat_time: now.clone(),
        reason: None,
        message: None,
    })
    .collect()
}

struct Monitors {
    shared: Arc<Shared>,
    controller_cache: Option<AntreaControllerInfo>,
    agent_caches: HashMap<String, AntreaAgentInfo>,
}

/// Starts the monitors; the receiver fires after their first round.
pub(crate) fn spawn(shared: &Arc<Shared>) -> oneshot::Receiver<()> {
    let (ready_tx, ready_rx) = oneshot::channel();
    let mut monitors = Monitors {
        shared: shared.clone(),
        controller_cache: None,
        agent_caches: HashMap::new(),
    };
    tokio::spawn(async move {
        let cancel = monitors.shared.cancel.clone();
        let mut ticks = tokio::time::interval(monitors.shared.options.heartbeat_interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut requests = monitors.shared.hooks.watch_heartbeat_requests();
        let mut controller_state = monitors.shared.hooks.watch_controller();
        let mut ready = Some(ready_tx);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = ticks.tick() => {}
                changed = requests.changed() => if changed.is_err() { return },
                changed = controller_state.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let up = *controller_state.borrow_and_update();
                    if !up {
                        continue;
                    }
                    // A restarted controller reads its object again before writing it.
                    monitors.controller_cache = None;
                }
            }
            monitors.round().await;
            if let Some(ready) = ready.take() {
                let _ = ready.send(());
            }
        }
    });
    ready_rx
}

impl Monitors {
    async fn round(&mut self) {
        if self.shared.hooks.controller_is_up() {
            self.sync_agent_objects().await;
            self.sync_controller().await;
        }
        let nodes: Vec<NodeInfo> = self.shared.topology.nodes.clone();
        let local_pods = self.local_pods().await;
        for node in &nodes {
            if self.shared.hooks.agent(&node.name).heartbeats {
                let pods = local_pods.get(&node.name).copied().unwrap_or(0);
                self.sync_agent(node, pods).await;
            }
        }
    }

    /// Non-hostNetwork Pods running on each Node (the agents' interface stores).
    async fn local_pods(&self) -> HashMap<String, usize> {
        let api: Api<Pod> = Api::all(self.shared.client.clone());
        let mut counts = HashMap::new();
        match api.list(&ListParams::default()).await {
            Ok(pods) => {
                for pod in pods {
                    let spec = pod.spec.unwrap_or_default();
                    let running = pod
                        .status
                        .as_ref()
                        .and_then(|s| s.pod_ip.as_deref())
                        .is_some_and(|ip| !ip.is_empty());
                    if let (Some(node), false, true) =
                        (spec.node_name, spec.host_network.unwrap_or(false), running)
                    {
                        *counts.entry(node).or_insert(0) += 1;
                    }
                }
            }
            Err(error) => tracing::debug!(%error, "listing Pods for the agents failed"),
        }
        counts
    }

    /// antrea-controller's `createAgentCRD` / `deleteStaleAgentCRDs`.
    async fn sync_agent_objects(&self) {
        let agents: Api<AntreaAgentInfo> = Api::all(self.shared.client.clone());
        let nodes: Api<Node> = Api::all(self.shared.client.clone());
        let (Ok(existing), Ok(nodes)) = (
            agents.list(&ListParams::default()).await,
            nodes.list(&ListParams::default()).await,
        ) else {
            return;
        };
        let node_names: Vec<String> = nodes
            .into_iter()
            .filter_map(|node| node.metadata.name)
            .collect();
        let agent_names: Vec<String> = existing
            .into_iter()
            .filter_map(|agent| agent.metadata.name)
            .collect();
        for name in &agent_names {
            if !node_names.contains(name)
                && let Err(error) = agents.delete(name, &DeleteParams::default()).await
            {
                tracing::debug!(%error, agent = name, "deleting a stale AntreaAgentInfo failed");
            }
        }
        for name in &node_names {
            if !agent_names.contains(name) {
                let empty = AntreaAgentInfo::new(name, AntreaAgentInfoFields::default());
                if let Err(error) = agents.create(&PostParams::default(), &empty).await {
                    tracing::debug!(%error, node = name, "creating an AntreaAgentInfo failed");
                }
            }
        }
    }

    fn controller_fields(&self) -> AntreaControllerInfoFields {
        let shared = &self.shared;
        let topology = &shared.topology;
        let connected = topology
            .nodes
            .iter()
            .filter(|node| shared.hooks.agent(&node.name).heartbeats)
            .count();
        AntreaControllerInfoFields {
            version: Some(ANTREA_VERSION.to_string()),
            pod_ref: Some(reference(
                "Pod",
                Some(ANTREA_NAMESPACE),
                &topology.controller_pod,
            )),
            node_ref: Some(reference("Node", None, &topology.controller_node)),
            service_ref: Some(reference("Service", Some(ANTREA_NAMESPACE), ANTREA_SERVICE)),
            network_policy_controller_info: Some(controller_info_counts(
                shared.summary.controller_counts(),
            )),
            connected_agent_num: Some(i32::try_from(connected).unwrap_or(i32::MAX)),
            controller_conditions: Some(vec![ControllerCondition {
                type_: ControllerConditionType::ControllerHealthy,
                status: ConditionStatus::True,
                last_heartbeat_time: shared.clock.time(),
                reason: None,
                message: None,
            }]),
            api_port: Some(CONTROLLER_API_PORT),
        }
    }

    async fn sync_controller(&mut self) {
        let api: Api<AntreaControllerInfo> = Api::all(self.shared.client.clone());
        let fields = self.controller_fields();
        if let Some(mut cached) = self.controller_cache.take() {
            cached.spec = fields.clone();
            match api
                .replace(ANTREA_CONTROLLER_INFO_NAME, &PostParams::default(), &cached)
                .await
            {
                Ok(updated) => {
                    self.controller_cache = Some(updated);
                    return;
                }
                Err(error) => tracing::debug!(%error, "partial AntreaControllerInfo update failed"),
            }
        }
        let result = match api.get_opt(ANTREA_CONTROLLER_INFO_NAME).await {
            Ok(None) => {
                let object = AntreaControllerInfo::new(ANTREA_CONTROLLER_INFO_NAME, fields);
                api.create(&PostParams::default(), &object).await
            }
            Ok(Some(mut existing)) => {
                existing.spec = fields;
                api.replace(
                    ANTREA_CONTROLLER_INFO_NAME,
                    &PostParams::default(),
                    &existing,
                )
                .await
            }
            Err(error) => Err(error),
        };
        match result {
            Ok(object) => self.controller_cache = Some(object),
            Err(error) => tracing::debug!(%error, "writing AntreaControllerInfo failed"),
        }
    }

    fn agent_fields(&self, node: &NodeInfo, local_pods: usize) -> AntreaAgentInfoFields {
        let counts = self.shared.summary.agent_counts(&node.name);
        AntreaAgentInfoFields {
            version: Some(ANTREA_VERSION.to_string()),
            pod_ref: Some(reference("Pod", Some(ANTREA_NAMESPACE), &node.agent_pod)),
            node_ref: Some(reference("Node", None, &node.name)),
            node_subnets: Some(vec![node.pod_cidr.to_string()]),
            ovs_info: Some(OVSInfo {
                version: Some(OVS_VERSION.to_string()),
                bridge_name: Some(BRIDGE_NAME.to_string()),
                flow_table: Some(flow_table(local_pods, counts)),
            }),
            network_policy_controller_info: Some(controller_info_counts(counts)),
            local_pod_num: Some(i32::try_from(local_pods).unwrap_or(i32::MAX)),
            agent_conditions: Some(agent_conditions(&self.shared, &node.name)),
            api_port: Some(AGENT_API_PORT),
            api_ca_bundle: Some(ByteString(
                node.agent_api_certificate_pem.clone().into_bytes(),
            )),
            node_port_local_port_range: Some(NODE_PORT_LOCAL_RANGE.to_string()),
            network_info: Some(NetworkInfo {
                transport_interface: Some("eth0".to_string()),
                transport_interface_mtu: Some(TRANSPORT_MTU),
                pod_mtu: Some(POD_MTU),
                transport_interface_ips: Some(vec![node.internal_ip.to_string()]),
            }),
        }
    }

    /// The agent's `syncAgentCRD`: it never creates its object (antrea-controller does).
    async fn sync_agent(&mut self, node: &NodeInfo, local_pods: usize) {
        let api: Api<AntreaAgentInfo> = Api::all(self.shared.client.clone());
        let fields = self.agent_fields(node, local_pods);
        if let Some(mut cached) = self.agent_caches.remove(&node.name) {
            cached.spec = fields.clone();
            match api
                .replace(&node.name, &PostParams::default(), &cached)
                .await
            {
                Ok(updated) => {
                    self.agent_caches.insert(node.name.clone(), updated);
                    return;
                }
                Err(error) => {
                    tracing::debug!(%error, node = node.name, "partial AntreaAgentInfo update failed")
                }
            }
        }
        match api.get_opt(&node.name).await {
            Ok(Some(mut existing)) => {
                existing.spec = fields;
                match api
                    .replace(&node.name, &PostParams::default(), &existing)
                    .await
                {
                    Ok(updated) => {
                        self.agent_caches.insert(node.name.clone(), updated);
                    }
                    Err(error) => {
                        tracing::debug!(%error, node = node.name, "writing AntreaAgentInfo failed")
                    }
                }
            }
            Ok(None) => tracing::debug!(node = node.name, "AntreaAgentInfo not created yet"),
            Err(error) => {
                tracing::debug!(%error, node = node.name, "reading AntreaAgentInfo failed")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_counts_grow_with_pods_and_policies() {
        let idle = flow_table(0, PolicyCounts::default());
        let busy = flow_table(
            10,
            PolicyCounts {
                network_policies: 3,
                address_groups: 2,
                applied_to_groups: 1,
            },
        );
        assert_eq!(idle.len(), busy.len());
        assert!(busy["Classifier"] > idle["Classifier"]);
        assert!(busy["AntreaPolicyIngressRule"] > idle["AntreaPolicyIngressRule"]);
    }
}
