//! The heartbeat's health ([`MpHealth`], the channel's `HealthSource`) and the monitor that
//! re-judges it every `health_check_interval`: a changed component status sends a heartbeat
//! at once, stale agents turn their Nodes' `cni_agent_status` UNHEALTHY, and the status and
//! reconnect counters follow the connections.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, UNIX_EPOCH};

use adapter_core::mp::health::{
    AdapterStatus, CcpAdapterState, ClusterHealth, ComponentConditionItem, HealthInputs,
    MpAdapterState,
};
use adapter_core::mp::heartbeat::heartbeat_health;
use adapter_k8s::inventory::SharedInventory;
use adapter_nsx::channel::ConnectionStatus;
use adapter_nsx::channel::management::{HealthSource, HeartbeatStatus, ManagementPlaneClient};
use antrea_types::AntreaAgentInfo;
use k8s_openapi::jiff::Timestamp;
use nsx_proto::v1 as proto;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{MpAdapterOptions, MpMetrics, MpStatus, ccp};

/// How long a read of the CCP adapter's status may take.
const CCP_READ_TIMEOUT: Duration = Duration::from_secs(2);

type Connections = (
    watch::Receiver<ConnectionStatus>,
    watch::Receiver<HeartbeatStatus>,
);

/// Computes the cluster's health from the watched monitoring CRDs, the adapter's own state
/// and the CCP adapter's published state.
pub(crate) struct MpHealth {
    inventory: Arc<SharedInventory>,
    options: Arc<MpAdapterOptions>,
    status: watch::Receiver<MpStatus>,
    connections: OnceLock<Connections>,
    /// The CCP adapter's last state read successfully.
    ccp: std::sync::Mutex<Option<CcpAdapterState>>,
}

impl MpHealth {
    pub(crate) fn new(
        inventory: Arc<SharedInventory>,
        options: Arc<MpAdapterOptions>,
        status: watch::Receiver<MpStatus>,
    ) -> Self {
        MpHealth {
            inventory,
            options,
            status,
            connections: OnceLock::new(),
            ccp: std::sync::Mutex::new(None),
        }
    }

    /// Gives the health source the channel's connection and heartbeat status.
    pub(crate) fn attach(
        &self,
        connection: watch::Receiver<ConnectionStatus>,
        heartbeats: watch::Receiver<HeartbeatStatus>,
    ) {
        let _ = self.connections.set((connection, heartbeats));
    }

    fn session(&self) -> (bool, Option<i64>, u64) {
        let Some((connection, heartbeats)) = self.connections.get() else {
            return (false, None, 0);
        };
        let connection = connection.borrow();
        let last_ack = heartbeats.borrow().last_ack_at.and_then(|at| {
            at.duration_since(UNIX_EPOCH)
                .ok()
                .and_then(|d| i64::try_from(d.as_millis()).ok())
        });
        (
            connection.is_connected(),
            last_ack,
            connection.sessions_established,
        )
    }

    /// Reads the CCP adapter's state; keeps the last good one when the read fails.
    async fn read_ccp(&self) -> Option<CcpAdapterState> {
        match ccp::fetch(&self.options.ccp_status_url, CCP_READ_TIMEOUT).await {
            Ok(body) => {
                let now = Timestamp::now().as_millisecond();
                match ccp::parse_ccp_status(&body, now) {
                    Some(state) => {
                        *self.ccp.lock().unwrap_or_else(|e| e.into_inner()) = Some(state)
                    }
                    None => tracing::debug!("the CCP adapter's status is not a JSON object"),
                }
            }
            Err(error) => tracing::debug!(%error, "the CCP adapter's status is unavailable"),
        }
        self.ccp.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The health now.
    pub(crate) async fn compute(&self) -> ClusterHealth {
        let ccp = self.read_ccp().await;
        let (session_up, last_heartbeat_ack, _) = self.session();
        let mp_adapter = MpAdapterState {
            kubernetes_reachable: self.inventory.kubernetes_reachable(),
            inventory_error: self.status.borrow().inventory_error.clone(),
            session_up,
            last_heartbeat_ack,
        };
        let now = Timestamp::now();
        let policy = self.options.health_policy;
        self.inventory.with(|state| {
            let agents: Vec<AntreaAgentInfo> = state.agents.values().cloned().collect();
            heartbeat_health(
                HealthInputs {
                    controller: state.controller.as_ref(),
                    agents: &agents,
                    mp_adapter: &mp_adapter,
                    ccp_adapter: ccp.as_ref(),
                },
                now,
                &policy,
            )
        })
    }
}

fn condition(item: &ComponentConditionItem) -> proto::ComponentConditionItem {
    proto::ComponentConditionItem {
        condition_type: item.condition_type.to_owned(),
        status: item.status.as_str().to_owned(),
        reason: item.reason.clone(),
        message: item.message.clone(),
        last_heartbeat_time: item.last_heartbeat_time,
    }
}

fn adapter(status: &AdapterStatus) -> proto::AntreaAdapterStatus {
    proto::AntreaAdapterStatus {
        status: status.status.as_str().to_owned(),
        conditions: status.conditions.iter().map(condition).collect(),
    }
}

/// The protocol message of a health.
pub(crate) fn to_proto(health: &ClusterHealth) -> proto::ClusterHealth {
    proto::ClusterHealth {
        controller_status: Some(proto::AntreaControllerStatus {
            status: health.controller_status.status.as_str().to_owned(),
            connected_agent_num: health.controller_status.connected_agent_num,
            conditions: health
                .controller_status
                .conditions
                .iter()
                .map(condition)
                .collect(),
        }),
        mp_adapter_status: Some(adapter(&health.mp_adapter_status)),
        ccp_adapter_status: Some(adapter(&health.ccp_adapter_status)),
        agent_info: Some(proto::AntreaAgentsInfo {
            healthy_agent_num: health.agent_info.healthy_agent_num,
            degraded_agent_num: health.agent_info.degraded_agent_num,
            failed_agent_num: health.agent_info.failed_agent_num,
        }),
    }
}

impl HealthSource for MpHealth {
    async fn cluster_health(&self) -> proto::ClusterHealth {
        to_proto(&self.compute().await)
    }
}

/// What a change of makes a heartbeat due at once.
fn summary(health: &ClusterHealth) -> impl PartialEq + use<> {
    (
        health.controller_status.status,
        health.mp_adapter_status.status,
        health.ccp_adapter_status.status,
        health.agent_info,
    )
}

/// Re-judges health every `health_check_interval` until cancelled.
pub(crate) async fn monitor(
    health: Arc<MpHealth>,
    channel: Arc<ManagementPlaneClient>,
    inventory: Arc<SharedInventory>,
    status: Arc<watch::Sender<MpStatus>>,
    metrics: Arc<MpMetrics>,
    cancel: CancellationToken,
) {
    let interval = health.options.health_check_interval;
    let mut last = None;
    loop {
        let now = Timestamp::now();
        let changed_nodes = inventory.with(|s| s.projector.refresh_agent_health(now));
        if changed_nodes > 0 {
            inventory.notify_changed();
        }
        let current = health.compute().await;
        let current_summary = summary(&current);
        if last.as_ref().is_some_and(|l| *l != current_summary) {
            tracing::info!(
                controller = current.controller_status.status.as_str(),
                mp_adapter = current.mp_adapter_status.status.as_str(),
                ccp_adapter = current.ccp_adapter_status.status.as_str(),
                "component health changed: heartbeat now"
            );
            channel.health_changed();
        }
        last = Some(current_summary);
        let (session_up, _, sessions) = health.session();
        let reachable = inventory.kubernetes_reachable();
        status.send_if_modified(|s| {
            let changed = s.nsx_session_up != session_up || s.kubernetes_reachable != reachable;
            s.nsx_session_up = session_up;
            s.kubernetes_reachable = reachable;
            changed
        });
        metrics.reconnects.store(
            inventory.relists() + sessions.saturating_sub(1),
            Ordering::Relaxed,
        );
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}
