//! Tests of the health rules.

use antrea_types::info::{
    AgentCondition, AgentConditionType, AntreaAgentInfoFields, AntreaControllerInfoFields,
    ControllerCondition, ControllerConditionType,
};
use antrea_types::policy::ConditionStatus;
use antrea_types::{AntreaAgentInfo, AntreaControllerInfo};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::*;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap()
}

fn agent(
    name: &str,
    conditions: &[(AgentConditionType, ConditionStatus)],
    beat: i64,
) -> AntreaAgentInfo {
    let fields = AntreaAgentInfoFields {
        agent_conditions: (!conditions.is_empty()).then(|| {
            conditions
                .iter()
                .map(|(type_, status)| AgentCondition {
                    type_: *type_,
                    status: *status,
                    last_heartbeat_time: Time(at(beat)),
                    reason: None,
                    message: None,
                })
                .collect()
        }),
        ..Default::default()
    };
    AntreaAgentInfo::new(name, fields)
}

use AgentConditionType::{
    AgentHealthy, ControllerConnectionUp, OpenflowConnectionUp, OvsdbConnectionUp,
};
use ConditionStatus::{False, True, Unknown};

fn all_up() -> Vec<(AgentConditionType, ConditionStatus)> {
    vec![
        (AgentHealthy, True),
        (ControllerConnectionUp, True),
        (OvsdbConnectionUp, True),
        (OpenflowConnectionUp, True),
    ]
}

fn with(
    kind: AgentConditionType,
    status: ConditionStatus,
) -> Vec<(AgentConditionType, ConditionStatus)> {
    let mut conditions = all_up();
    for c in &mut conditions {
        if c.0 == kind {
            c.1 = status;
        }
    }
    conditions
}

fn judge(info: &AntreaAgentInfo, now: i64) -> AgentVerdict {
    agent_health(info, at(now), &HealthPolicy::default())
}

#[test]
fn a_fresh_agent_with_every_connection_up_is_healthy() {
    let v = judge(&agent("n1", &all_up(), 0), 60);
    assert_eq!(v.health, AgentHealth::Healthy);
    assert_eq!(v.reason, "");
    assert_eq!(v.last_heartbeat_time, at(0).as_millisecond());
}

#[test]
fn an_agent_that_never_reported_is_failed() {
    let v = judge(&agent("n1", &[], 0), 0);
    assert_eq!(
        (v.health, v.reason.as_str()),
        (AgentHealth::Failed, "AgentNeverReported")
    );
    assert_eq!(v.last_heartbeat_time, 0);
}

#[test]
fn a_stale_heartbeat_fails_the_agent_after_three_intervals() {
    let info = agent("n1", &all_up(), 0);
    assert_eq!(judge(&info, 180).health, AgentHealth::Healthy);
    let v = judge(&info, 181);
    assert_eq!(
        (v.health, v.reason.as_str()),
        (AgentHealth::Failed, "AgentHeartbeatStale")
    );
}

#[test]
fn a_heartbeat_from_the_future_is_fresh() {
    assert_eq!(
        judge(&agent("n1", &all_up(), 500), 0).health,
        AgentHealth::Healthy
    );
}

#[test]
fn connection_conditions_map_to_failed_or_degraded() {
    let cases = [
        (
            OpenflowConnectionUp,
            False,
            AgentHealth::Failed,
            "OpenflowConnectionDown",
        ),
        (
            OvsdbConnectionUp,
            False,
            AgentHealth::Degraded,
            "OVSDBConnectionDown",
        ),
        (
            ControllerConnectionUp,
            False,
            AgentHealth::Degraded,
            "ControllerConnectionDown",
        ),
        (
            OpenflowConnectionUp,
            Unknown,
            AgentHealth::Degraded,
            "OpenflowConnectionUnknown",
        ),
        (
            OvsdbConnectionUp,
            Unknown,
            AgentHealth::Degraded,
            "OVSDBConnectionUnknown",
        ),
    ];
    for (kind, status, health, reason) in cases {
        let v = judge(&agent("n1", &with(kind, status), 0), 10);
        assert_eq!(
            (v.health, v.reason.as_str()),
            (health, reason),
            "{kind:?}={status:?}"
        );
    }
}

#[test]
fn openflow_down_wins_over_a_degraded_condition() {
    let mut conditions = with(OpenflowConnectionUp, False);
    conditions[1].1 = False;
    let v = judge(&agent("n1", &conditions, 0), 10);
    assert_eq!(v.health, AgentHealth::Failed);
}

#[test]
fn agents_are_counted_by_state() {
    let agents = [
        agent("a", &all_up(), 0),
        agent("b", &all_up(), 0),
        agent("c", &with(ControllerConnectionUp, False), 0),
        agent("d", &[], 0),
        agent("e", &all_up(), -1000),
    ];
    let info = agents_info(&agents, at(10), &HealthPolicy::default());
    assert_eq!(
        info,
        AgentsInfo {
            healthy_agent_num: 2,
            degraded_agent_num: 1,
            failed_agent_num: 2
        }
    );
}

fn controller(status: Option<ConditionStatus>, beat: i64, connected: i32) -> AntreaControllerInfo {
    AntreaControllerInfo::new(
        "antrea-controller",
        AntreaControllerInfoFields {
            connected_agent_num: Some(connected),
            controller_conditions: status.map(|status| {
                vec![ControllerCondition {
                    type_: ControllerConditionType::ControllerHealthy,
                    status,
                    last_heartbeat_time: Time(at(beat)),
                    reason: None,
                    message: None,
                }]
            }),
            ..Default::default()
        },
    )
}

#[test]
fn the_controller_is_judged_by_heartbeat_age_and_condition() {
    let policy = HealthPolicy::default();
    let healthy = controller_status(Some(&controller(Some(True), 0, 3)), at(60), &policy);
    assert_eq!(healthy.status, ComponentStatus::Healthy);
    assert_eq!(healthy.connected_agent_num, 3);
    assert_eq!(
        healthy.conditions[0].condition_type,
        condition_type::CONTROLLER_HEALTHY
    );
    assert_eq!(healthy.conditions[0].status, ConditionHealth::Healthy);
    assert_eq!(
        healthy.conditions[0].last_heartbeat_time,
        at(0).as_millisecond()
    );

    // "Always True when written": only the age shows that it stopped writing.
    let stale = controller_status(Some(&controller(Some(True), 0, 3)), at(181), &policy);
    assert_eq!(stale.status, ComponentStatus::Failed);
    assert_eq!(stale.conditions[0].reason, "ControllerHeartbeatStale");
    assert_eq!(stale.conditions[0].status, ConditionHealth::Unhealthy);

    let missing = controller_status(None, at(0), &policy);
    assert_eq!(missing.status, ComponentStatus::Failed);
    assert_eq!(missing.conditions[0].reason, "ControllerInfoMissing");

    let never = controller_status(Some(&controller(None, 0, 0)), at(0), &policy);
    assert_eq!(never.conditions[0].reason, "ControllerNeverReported");

    let unknown = controller_status(Some(&controller(Some(Unknown), 0, 1)), at(0), &policy);
    assert_eq!(unknown.status, ComponentStatus::Degraded);
    let down = controller_status(Some(&controller(Some(False), 0, 1)), at(0), &policy);
    assert_eq!(down.status, ComponentStatus::Failed);
}

fn mp_ok() -> MpAdapterState {
    MpAdapterState {
        kubernetes_reachable: true,
        inventory_error: None,
        session_up: true,
        last_heartbeat_ack: Some(at(0).as_millisecond()),
    }
}

#[test]
fn mp_adapter_rules() {
    let ok = mp_adapter_status(&mp_ok(), at(0));
    assert_eq!(ok.status, ComponentStatus::Healthy);
    let types: Vec<_> = ok.conditions.iter().map(|c| c.condition_type).collect();
    assert_eq!(
        types,
        [
            condition_type::MP_ADAPTER_HEALTHY,
            condition_type::MP_CONNECTED
        ]
    );

    let no_k8s = mp_adapter_status(
        &MpAdapterState {
            kubernetes_reachable: false,
            ..mp_ok()
        },
        at(0),
    );
    assert_eq!(no_k8s.status, ComponentStatus::Failed);
    assert_eq!(no_k8s.conditions[0].reason, "KubernetesUnreachable");

    let refused = mp_adapter_status(
        &MpAdapterState {
            inventory_error: Some("HTTP 503".into()),
            ..mp_ok()
        },
        at(0),
    );
    assert_eq!(refused.status, ComponentStatus::Degraded);
    assert_eq!(refused.conditions[0].reason, "InventorySyncFailing");
    assert_eq!(refused.conditions[0].message, "HTTP 503");

    let no_session = mp_adapter_status(
        &MpAdapterState {
            session_up: false,
            ..mp_ok()
        },
        at(0),
    );
    assert_eq!(no_session.status, ComponentStatus::Degraded);
    assert_eq!(no_session.conditions[1].status, ConditionHealth::Unhealthy);
    assert_eq!(no_session.conditions[1].reason, "SessionDown");
}

fn ccp_ok() -> CcpAdapterState {
    CcpAdapterState {
        published_at: at(0).as_millisecond(),
        kubernetes_reachable: true,
        session_up: true,
        session_reason: None,
        realization_errors: 0,
    }
}

#[test]
fn ccp_adapter_rules() {
    let policy = HealthPolicy::default();
    assert_eq!(
        ccp_adapter_status(Some(&ccp_ok()), at(30), &policy).status,
        ComponentStatus::Healthy
    );

    let never = ccp_adapter_status(None, at(30), &policy);
    assert_eq!(never.status, ComponentStatus::Failed);
    assert_eq!(never.conditions[0].reason, "NoHeartbeat");

    let stale = ccp_adapter_status(Some(&ccp_ok()), at(181), &policy);
    assert_eq!(stale.status, ComponentStatus::Failed);
    assert_eq!(
        stale.conditions[1].condition_type,
        condition_type::CCP_SESSION_STATE_UP
    );

    let down = ccp_adapter_status(
        Some(&CcpAdapterState {
            session_up: false,
            session_reason: Some("SessionReplaced".into()),
            ..ccp_ok()
        }),
        at(30),
        &policy,
    );
    assert_eq!(down.status, ComponentStatus::Degraded);
    assert_eq!(down.conditions[1].reason, "SessionReplaced");

    let errors = ccp_adapter_status(
        Some(&CcpAdapterState {
            realization_errors: 2,
            ..ccp_ok()
        }),
        at(30),
        &policy,
    );
    assert_eq!(errors.status, ComponentStatus::Healthy);
    assert!(errors.conditions[0].message.contains('2'));

    let no_k8s = ccp_adapter_status(
        Some(&CcpAdapterState {
            kubernetes_reachable: false,
            ..ccp_ok()
        }),
        at(30),
        &policy,
    );
    assert_eq!(no_k8s.status, ComponentStatus::Failed);
}

#[test]
fn the_cluster_rolls_up_as_nsx_does() {
    let policy = HealthPolicy::default();
    let controller_info = controller(Some(True), 0, 2);
    let agents = [
        agent("a", &all_up(), 0),
        agent("b", &with(OpenflowConnectionUp, False), 0),
    ];
    let mp = mp_ok();
    let ccp = ccp_ok();
    let inputs = HealthInputs {
        controller: Some(&controller_info),
        agents: &agents,
        mp_adapter: &mp,
        ccp_adapter: Some(&ccp),
    };
    let health = cluster_health(inputs, at(30), &policy);
    assert_eq!(roll_up(&health), ComponentStatus::Healthy);
    assert_eq!(health.agent_info.failed_agent_num, 1);

    // The CCP adapter's session drops: DEGRADED.
    let ccp_down = CcpAdapterState {
        session_up: false,
        ..ccp_ok()
    };
    let health = cluster_health(
        HealthInputs {
            ccp_adapter: Some(&ccp_down),
            ..inputs
        },
        at(30),
        &policy,
    );
    assert_eq!(roll_up(&health), ComponentStatus::Degraded);

    // The controller stops writing: FAILED.
    let health = cluster_health(inputs, at(400), &policy);
    assert_eq!(roll_up(&health), ComponentStatus::Failed);
    assert_eq!(health.controller_status.status, ComponentStatus::Failed);
}

#[test]
fn status_spellings_are_nsx_enum_values() {
    let all = [
        ComponentStatus::Healthy,
        ComponentStatus::Degraded,
        ComponentStatus::Failed,
        ComponentStatus::Unknown,
    ];
    let names: Vec<_> = all.iter().map(|s| s.as_str()).collect();
    assert_eq!(names, ["HEALTHY", "DEGRADED", "FAILED", "UNKNOWN"]);
    assert_eq!(ConditionHealth::Unhealthy.as_str(), "UNHEALTHY");
}
