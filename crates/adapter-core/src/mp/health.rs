//! Cluster health for the MP adapter's heartbeat (docs/protocol.md §7.2, nsx-api.md §3.9):
//! the Antrea Controller from AntreaControllerInfo, every agent from its AntreaAgentInfo,
//! and both adapters from their own published states, all judged at `now`.
//!
//! Antrea writes `ControllerHealthy` / `AgentHealthy` as `True` every time it writes
//! (antrea-api.md §8.3 item 16), so the *age* of `lastHeartbeatTime` is what tells a live
//! component from a dead one. The monitors write every 60 s; a heartbeat older than
//! [`HealthPolicy::stale_after`] (default 180 s, three missed writes) counts as missing.
//!
//! Agent rules, first match wins:
//!
//! | AntreaAgentInfo | agent | reason |
//! |---|---|---|
//! | no `agentConditions` (created empty by the controller, never written by the agent) | failed | `AgentNeverReported` |
//! | heartbeat older than `stale_after` | failed | `AgentHeartbeatStale` |
//! | `OpenflowConnectionUp` = False | failed | `OpenflowConnectionDown` |
//! | `OVSDBConnectionUp` = False | degraded | `OVSDBConnectionDown` |
//! | `ControllerConnectionUp` = False | degraded | `ControllerConnectionDown` |
//! | any of those three `Unknown` | degraded | `<Type>Unknown` |
//! | otherwise | healthy | |
//!
//! Why: NSX counts an agent *failed* when its node's networking is broken and *degraded*
//! when networking works but new policies may not be applied. Without OpenFlow the agent
//! cannot (re)install flows, and an OpenFlow connection that drops means ovs-vswitchd itself
//! is gone or restarting, so forwarding on the node cannot be vouched for: failed. With only
//! OVSDB down, the datapath keeps forwarding with the flows it has, but new Pods cannot be
//! attached and bridge changes wait: degraded. Without the controller connection, the node
//! forwards with the policies it has and misses new ones: degraded. An agent that stopped
//! writing is presumed down (its Pod crashed or its node is gone): failed.
//!
//! The controller is FAILED when its AntreaControllerInfo is missing, never written,
//! `ControllerHealthy` is `False`, or its heartbeat is stale; DEGRADED when
//! `ControllerHealthy` is `Unknown`; HEALTHY otherwise. The adapters: see
//! [`mp_adapter_status`] and [`ccp_adapter_status`].

use std::time::Duration;

use antrea_types::info::{AgentCondition, AgentConditionType, ControllerCondition};
use antrea_types::policy::ConditionStatus;
use antrea_types::{AntreaAgentInfo, AntreaControllerInfo};
use k8s_openapi::jiff::Timestamp;

/// `ComponentConditionItem.condition_type` values.
pub mod condition_type {
    pub const CONTROLLER_HEALTHY: &str = "CONTROLLER_HEALTHY";
    pub const MP_ADAPTER_HEALTHY: &str = "MP_ADAPTER_HEALTHY";
    pub const MP_CONNECTED: &str = "MP_CONNECTED";
    pub const CCP_ADAPTER_HEALTHY: &str = "CCP_ADAPTER_HEALTHY";
    pub const CCP_SESSION_STATE_UP: &str = "CCP_SESSION_STATE_UP";
}

/// Component status (`AntreaControllerStatus.status`, `AntreaAdapterStatus.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ComponentStatus {
    Healthy,
    Degraded,
    Failed,
    Unknown,
}

impl ComponentStatus {
    /// NSX's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "HEALTHY",
            Self::Degraded => "DEGRADED",
            Self::Failed => "FAILED",
            Self::Unknown => "UNKNOWN",
        }
    }
}

/// `ComponentConditionItem.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConditionHealth {
    Healthy,
    Unhealthy,
}

impl ConditionHealth {
    /// NSX's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "HEALTHY",
            Self::Unhealthy => "UNHEALTHY",
        }
    }
}

/// NSX `ComponentConditionItem`, mapping 1:1 to the protocol message of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentConditionItem {
    /// One of [`condition_type`].
    pub condition_type: &'static str,
    pub status: ConditionHealth,
    /// UpperCamelCase; empty when healthy.
    pub reason: String,
    pub message: String,
    /// When the component last proved alive, ms since the Unix epoch (0: never).
    pub last_heartbeat_time: i64,
}

impl ComponentConditionItem {
    fn healthy(condition_type: &'static str, last_heartbeat_time: i64) -> Self {
        Self {
            condition_type,
            status: ConditionHealth::Healthy,
            reason: String::new(),
            message: String::new(),
            last_heartbeat_time,
        }
    }

    fn unhealthy(
        condition_type: &'static str,
        reason: &str,
        message: impl Into<String>,
        last_heartbeat_time: i64,
    ) -> Self {
        Self {
            condition_type,
            status: ConditionHealth::Unhealthy,
            reason: reason.to_owned(),
            message: message.into(),
            last_heartbeat_time,
        }
    }
}

/// NSX `AntreaControllerStatus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerStatus {
    pub status: ComponentStatus,
    pub connected_agent_num: i32,
    pub conditions: Vec<ComponentConditionItem>,
}

/// NSX `AntreaAdapterStatus` (MP or CCP adapter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterStatus {
    pub status: ComponentStatus,
    pub conditions: Vec<ComponentConditionItem>,
}

/// NSX `AntreaAgentsInfo`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentsInfo {
    pub healthy_agent_num: i32,
    pub degraded_agent_num: i32,
    pub failed_agent_num: i32,
}

/// The heartbeat's `ClusterHealth` (NSX `AntreaClusterInfo` without the roll-up, which NSX
/// computes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterHealth {
    pub controller_status: ControllerStatus,
    pub mp_adapter_status: AdapterStatus,
    pub ccp_adapter_status: AdapterStatus,
    pub agent_info: AgentsInfo,
}

/// The thresholds of the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthPolicy {
    /// A heartbeat older than this is missing (Antrea writes every 60 s; adapters publish
    /// their state at least as often).
    pub stale_after: Duration,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        Self {
            stale_after: Duration::from_secs(180),
        }
    }
}

impl HealthPolicy {
    fn is_stale(&self, heartbeat: Timestamp, now: Timestamp) -> bool {
        let age_ms = now
            .as_millisecond()
            .saturating_sub(heartbeat.as_millisecond());
        // A heartbeat from the future (clock skew) counts as fresh.
        age_ms > i64::try_from(self.stale_after.as_millis()).unwrap_or(i64::MAX)
    }
}

/// The state of one agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentHealth {
    Healthy,
    Degraded,
    Failed,
}

/// An agent's state with why, and when it last wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentVerdict {
    pub health: AgentHealth,
    /// UpperCamelCase; empty when healthy.
    pub reason: String,
    pub message: String,
    /// ms since the epoch, 0 if never.
    pub last_heartbeat_time: i64,
}

fn agent_heartbeat(conditions: &[AgentCondition]) -> Option<Timestamp> {
    conditions
        .iter()
        .find(|c| c.type_ == AgentConditionType::AgentHealthy)
        .or_else(|| conditions.iter().max_by_key(|c| c.last_heartbeat_time.0))
        .map(|c| c.last_heartbeat_time.0)
}

fn condition_name(kind: AgentConditionType) -> &'static str {
    match kind {
        AgentConditionType::AgentHealthy => "AgentHealthy",
        AgentConditionType::ControllerConnectionUp => "ControllerConnection",
        AgentConditionType::OvsdbConnectionUp => "OVSDBConnection",
        AgentConditionType::OpenflowConnectionUp => "OpenflowConnection",
    }
}

/// Judges one agent (see the module documentation for the rules).
pub fn agent_health(info: &AntreaAgentInfo, now: Timestamp, policy: &HealthPolicy) -> AgentVerdict {
    let node = info.metadata.name.as_deref().unwrap_or("<unnamed>");
    let conditions = info.spec.agent_conditions.as_deref().unwrap_or_default();
    let Some(heartbeat) = agent_heartbeat(conditions) else {
        return AgentVerdict {
            health: AgentHealth::Failed,
            reason: "AgentNeverReported".into(),
            message: format!("the Antrea Agent on {node} has never reported"),
            last_heartbeat_time: 0,
        };
    };
    let last = heartbeat.as_millisecond();
    let verdict = |health, reason: String, message: String| AgentVerdict {
        health,
        reason,
        message,
        last_heartbeat_time: last,
    };
    if policy.is_stale(heartbeat, now) {
        return verdict(
            AgentHealth::Failed,
            "AgentHeartbeatStale".into(),
            format!("the Antrea Agent on {node} last reported at {heartbeat}"),
        );
    }
    let status_of = |kind| {
        conditions
            .iter()
            .find(|c| c.type_ == kind)
            .map(|c| (c.status, c.message.clone().unwrap_or_default()))
    };
    let order = [
        (
            AgentConditionType::OpenflowConnectionUp,
            AgentHealth::Failed,
        ),
        (AgentConditionType::OvsdbConnectionUp, AgentHealth::Degraded),
        (
            AgentConditionType::ControllerConnectionUp,
            AgentHealth::Degraded,
        ),
    ];
    for (kind, health) in order {
        if let Some((ConditionStatus::False, message)) = status_of(kind) {
            let name = condition_name(kind);
            let message = if message.is_empty() {
                format!("{name} of the Antrea Agent on {node} is down")
            } else {
                message
            };
            return verdict(health, format!("{name}Down"), message);
        }
    }
    for (kind, _) in order {
        if let Some((ConditionStatus::Unknown, _)) = status_of(kind) {
            let name = condition_name(kind);
            return verdict(
                AgentHealth::Degraded,
                format!("{name}Unknown"),
                format!("{name} of the Antrea Agent on {node} is unknown"),
            );
        }
    }
    verdict(AgentHealth::Healthy, String::new(), String::new())
}

/// Counts agents by state.
pub fn agents_info<'a>(
    agents: impl IntoIterator<Item = &'a AntreaAgentInfo>,
    now: Timestamp,
    policy: &HealthPolicy,
) -> AgentsInfo {
    let mut info = AgentsInfo::default();
    for agent in agents {
        match agent_health(agent, now, policy).health {
            AgentHealth::Healthy => info.healthy_agent_num += 1,
            AgentHealth::Degraded => info.degraded_agent_num += 1,
            AgentHealth::Failed => info.failed_agent_num += 1,
        }
    }
    info
}

fn controller_heartbeat(conditions: &[ControllerCondition]) -> Option<&ControllerCondition> {
    conditions.iter().max_by_key(|c| c.last_heartbeat_time.0)
}

/// Judges the Antrea Controller from its AntreaControllerInfo (`None`: the object does not
/// exist).
pub fn controller_status(
    info: Option<&AntreaControllerInfo>,
    now: Timestamp,
    policy: &HealthPolicy,
) -> ControllerStatus {
    use condition_type::CONTROLLER_HEALTHY;
    let failed = |reason: &str, message: String, last: i64| ControllerStatus {
        status: ComponentStatus::Failed,
        connected_agent_num: 0,
        conditions: vec![ComponentConditionItem::unhealthy(
            CONTROLLER_HEALTHY,
            reason,
            message,
            last,
        )],
    };
    let Some(info) = info else {
        return failed(
            "ControllerInfoMissing",
            "AntreaControllerInfo antrea-controller does not exist".into(),
            0,
        );
    };
    let connected = info.spec.connected_agent_num.unwrap_or(0);
    let conditions = info
        .spec
        .controller_conditions
        .as_deref()
        .unwrap_or_default();
    let Some(condition) = controller_heartbeat(conditions) else {
        return failed(
            "ControllerNeverReported",
            "the Antrea Controller has never reported".into(),
            0,
        );
    };
    let last = condition.last_heartbeat_time.0.as_millisecond();
    let item = if policy.is_stale(condition.last_heartbeat_time.0, now) {
        let message = format!(
            "the Antrea Controller last reported at {}",
            condition.last_heartbeat_time.0
        );
        return ControllerStatus {
            connected_agent_num: connected,
            ..failed("ControllerHeartbeatStale", message, last)
        };
    } else {
        match condition.status {
            ConditionStatus::True => ComponentConditionItem::healthy(CONTROLLER_HEALTHY, last),
            ConditionStatus::False | ConditionStatus::Unknown => {
                let reason = condition.reason.clone().unwrap_or_else(|| {
                    if condition.status == ConditionStatus::False {
                        "ControllerUnhealthy".into()
                    } else {
                        "ControllerHealthUnknown".into()
                    }
                });
                ComponentConditionItem::unhealthy(
                    CONTROLLER_HEALTHY,
                    &reason,
                    condition.message.clone().unwrap_or_default(),
                    last,
                )
            }
        }
    };
    let status = match condition.status {
        ConditionStatus::True => ComponentStatus::Healthy,
        ConditionStatus::False => ComponentStatus::Failed,
        ConditionStatus::Unknown => ComponentStatus::Degraded,
    };
    ControllerStatus {
        status,
        connected_agent_num: connected,
        conditions: vec![item],
    }
}

/// What the MP adapter knows about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MpAdapterState {
    /// The Kubernetes API answered the adapter's last request or watch.
    pub kubernetes_reachable: bool,
    /// The last inventory update or list NSX refused or did not answer, if the latest one
    /// failed.
    pub inventory_error: Option<String>,
    /// The management-plane session is up (welcomed).
    pub session_up: bool,
    /// When NSX last acknowledged a heartbeat (ms since the epoch).
    pub last_heartbeat_ack: Option<i64>,
}

/// MP adapter: FAILED when it cannot reach Kubernetes (it then sees nothing to report),
/// DEGRADED when NSX refuses or does not answer its inventory updates, or when its session is
/// not up; HEALTHY otherwise. Conditions: `MP_ADAPTER_HEALTHY` (Kubernetes and inventory)
/// and `MP_CONNECTED` (the session; its time is the last heartbeat NSX acknowledged).
pub fn mp_adapter_status(state: &MpAdapterState, now: Timestamp) -> AdapterStatus {
    use condition_type::{MP_ADAPTER_HEALTHY, MP_CONNECTED};
    let now_ms = now.as_millisecond();
    let adapter = if !state.kubernetes_reachable {
        ComponentConditionItem::unhealthy(
            MP_ADAPTER_HEALTHY,
            "KubernetesUnreachable",
            "the MP adapter cannot reach the Kubernetes API",
            now_ms,
        )
    } else if let Some(error) = &state.inventory_error {
        ComponentConditionItem::unhealthy(
            MP_ADAPTER_HEALTHY,
            "InventorySyncFailing",
            error.clone(),
            now_ms,
        )
    } else {
        ComponentConditionItem::healthy(MP_ADAPTER_HEALTHY, now_ms)
    };
    let last_ack = state.last_heartbeat_ack.unwrap_or(0);
    let connected = if state.session_up {
        ComponentConditionItem::healthy(MP_CONNECTED, last_ack)
    } else {
        ComponentConditionItem::unhealthy(
            MP_CONNECTED,
            "SessionDown",
            "the management-plane session to NSX is not up",
            last_ack,
        )
    };
    let status = if !state.kubernetes_reachable {
        ComponentStatus::Failed
    } else if state.inventory_error.is_some() || !state.session_up {
        ComponentStatus::Degraded
    } else {
        ComponentStatus::Healthy
    };
    AdapterStatus {
        status,
        conditions: vec![adapter, connected],
    }
}

/// What the CCP adapter publishes about itself for the MP adapter to read (they are separate
/// processes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CcpAdapterState {
    /// When the CCP adapter last published this state (ms since the epoch).
    pub published_at: i64,
    /// It can reach the Kubernetes API.
    pub kubernetes_reachable: bool,
    /// Its control-plane session is up and the last snapshot was applied.
    pub session_up: bool,
    /// Why the session is down, as the CCP adapter says (UpperCamelCase), if it is.
    pub session_reason: Option<String>,
    /// Objects currently in realization ERROR.
    pub realization_errors: u32,
}

/// CCP adapter, from its published state (`None`: never published): FAILED when it has not
/// published within `stale_after` (the process is presumed dead) or cannot reach Kubernetes
/// (it cannot write Antrea policies); DEGRADED when its session is down (Antrea keeps
/// enforcing the last policies, but NSX changes do not arrive); HEALTHY otherwise.
/// Realization errors of single objects do not make the adapter unhealthy; they are
/// mentioned in the message and reported per object.
pub fn ccp_adapter_status(
    state: Option<&CcpAdapterState>,
    now: Timestamp,
    policy: &HealthPolicy,
) -> AdapterStatus {
    use condition_type::{CCP_ADAPTER_HEALTHY, CCP_SESSION_STATE_UP};
    let stale = state.is_none_or(|s| {
        Timestamp::from_millisecond(s.published_at).is_ok_and(|at| policy.is_stale(at, now))
    });
    let Some(state) = state.filter(|_| !stale) else {
        let last = state.map_or(0, |s| s.published_at);
        return AdapterStatus {
            status: ComponentStatus::Failed,
            conditions: vec![
                ComponentConditionItem::unhealthy(
                    CCP_ADAPTER_HEALTHY,
                    "NoHeartbeat",
                    "the CCP adapter has not published its state recently",
                    last,
                ),
                ComponentConditionItem::unhealthy(
                    CCP_SESSION_STATE_UP,
                    "Unknown",
                    "the CCP adapter's session state is unknown",
                    last,
                ),
            ],
        };
    };
    let last = state.published_at;
    let adapter = if state.kubernetes_reachable {
        let mut item = ComponentConditionItem::healthy(CCP_ADAPTER_HEALTHY, last);
        if state.realization_errors > 0 {
            item.message = format!(
                "{} object(s) in realization ERROR",
                state.realization_errors
            );
        }
        item
    } else {
        ComponentConditionItem::unhealthy(
            CCP_ADAPTER_HEALTHY,
            "KubernetesUnreachable",
            "the CCP adapter cannot reach the Kubernetes API",
            last,
        )
    };
    let session = if state.session_up {
        ComponentConditionItem::healthy(CCP_SESSION_STATE_UP, last)
    } else {
        ComponentConditionItem::unhealthy(
            CCP_SESSION_STATE_UP,
            state.session_reason.as_deref().unwrap_or("SessionDown"),
            "the control-plane session to NSX is not up",
            last,
        )
    };
    let status = if !state.kubernetes_reachable {
        ComponentStatus::Failed
    } else if !state.session_up {
        ComponentStatus::Degraded
    } else {
        ComponentStatus::Healthy
    };
    AdapterStatus {
        status,
        conditions: vec![adapter, session],
    }
}

/// Everything a heartbeat needs.
#[derive(Debug, Clone, Copy)]
pub struct HealthInputs<'a> {
    /// `None` when the object does not exist.
    pub controller: Option<&'a AntreaControllerInfo>,
    pub agents: &'a [AntreaAgentInfo],
    pub mp_adapter: &'a MpAdapterState,
    /// `None` when the CCP adapter never published.
    pub ccp_adapter: Option<&'a CcpAdapterState>,
}

/// The heartbeat content.
pub fn cluster_health(
    inputs: HealthInputs<'_>,
    now: Timestamp,
    policy: &HealthPolicy,
) -> ClusterHealth {
    ClusterHealth {
        controller_status: controller_status(inputs.controller, now, policy),
        mp_adapter_status: mp_adapter_status(inputs.mp_adapter, now),
        ccp_adapter_status: ccp_adapter_status(inputs.ccp_adapter, now, policy),
        agent_info: agents_info(inputs.agents, now, policy),
    }
}

/// NSX's roll-up of a heartbeat (docs/protocol.md §7.2), for tests and diagnostics: HEALTHY
/// only when the controller and both adapters are, FAILED if any of them is, DEGRADED
/// otherwise.
pub fn roll_up(health: &ClusterHealth) -> ComponentStatus {
    let parts = [
        health.controller_status.status,
        health.mp_adapter_status.status,
        health.ccp_adapter_status.status,
    ];
    if parts.iter().all(|s| *s == ComponentStatus::Healthy) {
        ComponentStatus::Healthy
    } else if parts.contains(&ComponentStatus::Failed) {
        ComponentStatus::Failed
    } else {
        ComponentStatus::Degraded
    }
}

#[cfg(test)]
mod tests;
