//! The health a heartbeat carries: [`cluster_health`](super::health::cluster_health) plus
//! the agents' weight on the controller's status.
//!
//! NSX's roll-up looks only at the controller and the two adapters (docs/protocol.md §7.2),
//! so an agent that stops would leave the cluster HEALTHY. The Antrea Controller's job is to
//! get policies realized on every Node; when an agent is failed or degraded it cannot, so the
//! controller's *status* becomes DEGRADED (never worse: the controller process itself is
//! fine), with a message counting the agents, while its `CONTROLLER_HEALTHY` condition keeps
//! describing the controller process. A FAILED or DEGRADED controller stays as it is.

use k8s_openapi::jiff::Timestamp;

use super::health::{ClusterHealth, ComponentStatus, HealthInputs, HealthPolicy, cluster_health};

/// The heartbeat content: see the module documentation.
pub fn heartbeat_health(
    inputs: HealthInputs<'_>,
    now: Timestamp,
    policy: &HealthPolicy,
) -> ClusterHealth {
    let mut health = cluster_health(inputs, now, policy);
    degrade_controller_for_agents(&mut health);
    health
}

/// Marks a HEALTHY controller DEGRADED when some agent is failed or degraded.
pub fn degrade_controller_for_agents(health: &mut ClusterHealth) {
    let agents = health.agent_info;
    let unhealthy = agents.failed_agent_num + agents.degraded_agent_num;
    if unhealthy == 0 || health.controller_status.status != ComponentStatus::Healthy {
        return;
    }
    health.controller_status.status = ComponentStatus::Degraded;
    let total = unhealthy + agents.healthy_agent_num;
    let message = format!(
        "{unhealthy} of {total} Antrea Agents are not healthy ({} failed, {} degraded): policies may not be realized on their Nodes",
        agents.failed_agent_num, agents.degraded_agent_num
    );
    for condition in &mut health.controller_status.conditions {
        if condition.message.is_empty() {
            condition.message = message.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mp::health::{
        AdapterStatus, AgentsInfo, ComponentConditionItem, ConditionHealth, ControllerStatus,
        condition_type,
    };

    fn health(controller: ComponentStatus, agents: AgentsInfo) -> ClusterHealth {
        let adapter = AdapterStatus {
            status: ComponentStatus::Healthy,
            conditions: Vec::new(),
        };
        ClusterHealth {
            controller_status: ControllerStatus {
                status: controller,
                connected_agent_num: 3,
                conditions: vec![ComponentConditionItem {
                    condition_type: condition_type::CONTROLLER_HEALTHY,
                    status: ConditionHealth::Healthy,
                    reason: String::new(),
                    message: String::new(),
                    last_heartbeat_time: 5,
                }],
            },
            mp_adapter_status: adapter.clone(),
            ccp_adapter_status: adapter,
            agent_info: agents,
        }
    }

    #[test]
    fn a_failed_agent_degrades_a_healthy_controller() {
        let mut h = health(
            ComponentStatus::Healthy,
            AgentsInfo {
                healthy_agent_num: 2,
                degraded_agent_num: 0,
                failed_agent_num: 1,
            },
        );
        degrade_controller_for_agents(&mut h);
        assert_eq!(h.controller_status.status, ComponentStatus::Degraded);
        assert!(
            h.controller_status.conditions[0]
                .message
                .starts_with("1 of 3 Antrea Agents are not healthy (1 failed, 0 degraded)")
        );
        assert_eq!(crate::mp::health::roll_up(&h), ComponentStatus::Degraded);
    }

    #[test]
    fn healthy_agents_change_nothing_and_a_failed_controller_stays_failed() {
        let all_healthy = AgentsInfo {
            healthy_agent_num: 3,
            ..AgentsInfo::default()
        };
        let mut h = health(ComponentStatus::Healthy, all_healthy);
        let before = h.clone();
        degrade_controller_for_agents(&mut h);
        assert_eq!(h, before);
        let mut failed = health(
            ComponentStatus::Failed,
            AgentsInfo {
                degraded_agent_num: 1,
                ..all_healthy
            },
        );
        degrade_controller_for_agents(&mut failed);
        assert_eq!(failed.controller_status.status, ComponentStatus::Failed);
    }
}
