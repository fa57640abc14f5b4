//! Test hooks: make a Node's agent fail to realize policies or stall (never report), slow
//! one down, silence an agent's heartbeats, flip its OVSDB/OpenFlow connection conditions,
//! and take antrea-controller down and up again.
//!
//! Taking the controller down stops everything antrea-controller does: status and
//! AntreaControllerInfo writes stop, agents report `ControllerConnectionUp=False` and cannot
//! report realization, and every write that Antrea's webhooks would see fails as the API
//! server fails a webhook call with `failurePolicy: Fail` when the `antrea` Service has no
//! endpoints (500 `InternalError`, `failed calling webhook "...": failed to call webhook:
//! Post "https://antrea.kube-system.svc:443/...": no endpoints available for service
//! "antrea"`). Those failures are failure rules of the emulator, so bringing the controller
//! back clears every failure rule (including ones a test injected itself). When it comes
//! back, antrea-controller restarts: it forgets the agents' reports, re-sends every policy,
//! and re-initializes the system Tiers.

use std::collections::HashMap;
use std::time::Duration;

use http::Method;
use kube_emu::{FailureRule, Operation};
use parking_lot::RwLock;
use tokio::sync::{Notify, watch};

use crate::admission::WEBHOOKS;
use crate::workload::Topology;
use crate::{ANTREA_NAMESPACE, ANTREA_SERVICE, AntreaEmu, AntreaEmuError};

/// How an agent handles the policies it receives.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RealizationMode {
    /// Realizes each policy generation after the realize delay and reports success.
    #[default]
    Normal,
    /// Reports `realizationFailure: true` with this message (real agents never do, but
    /// antrea-controller handles it: `RealizationFailure` condition, phase `Failed`).
    Fail { message: String },
    /// Never reports (as a wedged agent).
    Stall,
}

/// Hook-controlled state of one agent.
#[derive(Debug, Clone)]
pub(crate) struct AgentHooks {
    pub realization: RealizationMode,
    pub realize_delay: Option<Duration>,
    pub heartbeats: bool,
    pub ovsdb_up: bool,
    pub openflow_up: bool,
}

impl Default for AgentHooks {
    fn default() -> Self {
        AgentHooks {
            realization: RealizationMode::Normal,
            realize_delay: None,
            heartbeats: true,
            ovsdb_up: true,
            openflow_up: true,
        }
    }
}

/// State the hooks change and the controllers read.
pub(crate) struct HookState {
    agents: RwLock<HashMap<String, AgentHooks>>,
    controller_up: watch::Sender<bool>,
    /// Wakes the agent fleet when a realization mode or delay changes.
    pub agents_changed: Notify,
    /// Bumped to ask for an immediate heartbeat round.
    heartbeat_requests: watch::Sender<u64>,
}

impl HookState {
    pub fn new(topology: &Topology) -> Self {
        HookState {
            agents: RwLock::new(
                topology
                    .nodes
                    .iter()
                    .map(|node| (node.name.clone(), AgentHooks::default()))
                    .collect(),
            ),
            controller_up: watch::Sender::new(true),
            agents_changed: Notify::new(),
            heartbeat_requests: watch::Sender::new(0),
        }
    }

    pub fn agent(&self, node: &str) -> AgentHooks {
        self.agents.read().get(node).cloned().unwrap_or_default()
    }

    fn update_agent(
        &self,
        node: &str,
        change: impl FnOnce(&mut AgentHooks),
    ) -> Result<(), AntreaEmuError> {
        let mut agents = self.agents.write();
        let agent = agents
            .get_mut(node)
            .ok_or_else(|| AntreaEmuError::UnknownNode(node.to_string()))?;
        change(agent);
        Ok(())
    }

    pub fn controller_is_up(&self) -> bool {
        *self.controller_up.borrow()
    }

    pub fn watch_controller(&self) -> watch::Receiver<bool> {
        self.controller_up.subscribe()
    }

    pub fn watch_heartbeat_requests(&self) -> watch::Receiver<u64> {
        self.heartbeat_requests.subscribe()
    }
}

/// The message of a failed call to one of antrea-controller's webhooks.
pub fn webhook_unavailable_message(webhook: &str, path: &str) -> String {
    format!(
        "Internal error occurred: failed calling webhook \"{webhook}\": failed to call webhook: Post \"https://{ANTREA_SERVICE}.{ANTREA_NAMESPACE}.svc:443{path}?timeout=5s\": no endpoints available for service \"{ANTREA_SERVICE}\""
    )
}

impl AntreaEmu {
    /// How an agent currently realizes policies.
    pub fn realization_mode(&self, node: &str) -> Result<RealizationMode, AntreaEmuError> {
        self.known_node(node)?;
        Ok(self.shared().hooks.agent(node).realization)
    }

    fn known_node(&self, node: &str) -> Result<(), AntreaEmuError> {
        self.topology()
            .node(node)
            .map(|_| ())
            .ok_or_else(|| AntreaEmuError::UnknownNode(node.to_string()))
    }

    fn set_realization(&self, node: &str, mode: RealizationMode) -> Result<(), AntreaEmuError> {
        self.shared()
            .hooks
            .update_agent(node, |agent| agent.realization = mode)?;
        self.shared().hooks.agents_changed.notify_one();
        Ok(())
    }

    /// Makes the agent of `node` report a realization failure with `message` for every
    /// policy generation it has not realized yet (and every new one).
    pub fn fail_node_realization(&self, node: &str, message: &str) -> Result<(), AntreaEmuError> {
        self.set_realization(
            node,
            RealizationMode::Fail {
                message: message.to_string(),
            },
        )
    }

    /// Makes the agent of `node` stop reporting (policies it has not realized yet stay so).
    pub fn stall_node(&self, node: &str) -> Result<(), AntreaEmuError> {
        self.set_realization(node, RealizationMode::Stall)
    }

    /// Lets the agent of `node` realize normally again; what it failed or held back is
    /// realized after the realize delay.
    pub fn restore_node(&self, node: &str) -> Result<(), AntreaEmuError> {
        self.set_realization(node, RealizationMode::Normal)
    }

    /// Overrides the realize delay of one agent (`None`: back to the option's delay).
    pub fn set_node_realize_delay(
        &self,
        node: &str,
        delay: Option<Duration>,
    ) -> Result<(), AntreaEmuError> {
        self.shared()
            .hooks
            .update_agent(node, |agent| agent.realize_delay = delay)?;
        self.shared().hooks.agents_changed.notify_one();
        Ok(())
    }

    /// Stops the heartbeats of the agent of `node`: its AntreaAgentInfo is no longer
    /// rewritten and antrea-controller no longer counts it as connected.
    pub fn stop_agent_heartbeats(&self, node: &str) -> Result<(), AntreaEmuError> {
        self.shared()
            .hooks
            .update_agent(node, |agent| agent.heartbeats = false)
    }

    /// Resumes the heartbeats of the agent of `node`.
    pub fn resume_agent_heartbeats(&self, node: &str) -> Result<(), AntreaEmuError> {
        self.shared()
            .hooks
            .update_agent(node, |agent| agent.heartbeats = true)
    }

    /// Sets the agent's OVSDB connection; its `OVSDBConnectionUp` condition follows at the
    /// next heartbeat.
    pub fn set_ovsdb_connection(&self, node: &str, up: bool) -> Result<(), AntreaEmuError> {
        self.shared()
            .hooks
            .update_agent(node, |agent| agent.ovsdb_up = up)
    }

    /// Sets the agent's OpenFlow connection; its `OpenflowConnectionUp` condition follows
    /// at the next heartbeat.
    pub fn set_openflow_connection(&self, node: &str, up: bool) -> Result<(), AntreaEmuError> {
        self.shared()
            .hooks
            .update_agent(node, |agent| agent.openflow_up = up)
    }

    /// Runs a heartbeat round now (controller and agents write their monitoring CRDs as at
    /// the end of an interval).
    pub fn heartbeat_now(&self) {
        self.shared()
            .hooks
            .heartbeat_requests
            .send_modify(|n| *n += 1);
    }

    /// Whether antrea-controller is running.
    pub fn controller_is_up(&self) -> bool {
        self.shared().hooks.controller_is_up()
    }

    /// Takes antrea-controller down (see the module documentation).
    pub fn take_controller_down(&self) {
        let shared = self.shared();
        if !shared.hooks.controller_is_up() {
            return;
        }
        for webhook in WEBHOOKS {
            let message = webhook_unavailable_message(webhook.name, webhook.path);
            for operation in webhook.operations {
                let methods: &[Method] = match operation {
                    Operation::Create => &[Method::POST],
                    Operation::Update => &[Method::PUT, Method::PATCH],
                    Operation::Delete => &[Method::DELETE],
                };
                for method in methods {
                    shared.emu.inject_failure(FailureRule {
                        method: Some(method.clone()),
                        path_contains: Some("/apis/crd.antrea.io/".into()),
                        resource: Some(webhook.resource.into()),
                        message: Some(message.clone()),
                        ..FailureRule::new(500)
                    });
                }
            }
        }
        shared.hooks.controller_up.send_replace(false);
    }

    /// Brings antrea-controller back (a restart: see the module documentation).
    pub fn bring_controller_up(&self) {
        let shared = self.shared();
        if shared.hooks.controller_is_up() {
            return;
        }
        shared.emu.clear_failures();
        shared.hooks.controller_up.send_replace(true);
        let shared = shared.clone();
        tokio::spawn(async move { crate::tiers::initialize(&shared).await });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failure_message_reads_as_kube_apiservers() {
        assert_eq!(
            webhook_unavailable_message("acnpmutator.antrea.io", "/mutate/acnp"),
            "Internal error occurred: failed calling webhook \"acnpmutator.antrea.io\": failed to call webhook: Post \"https://antrea.kube-system.svc:443/mutate/acnp?timeout=5s\": no endpoints available for service \"antrea\""
        );
    }

    #[test]
    fn agents_start_healthy_and_unknown_nodes_are_errors() {
        let topology = Topology::new(2).unwrap();
        let hooks = HookState::new(&topology);
        let agent = hooks.agent("k8s-node-2");
        assert!(agent.heartbeats && agent.ovsdb_up && agent.openflow_up);
        assert_eq!(agent.realization, RealizationMode::Normal);
        assert!(matches!(
            hooks.update_agent("k8s-node-9", |_| {}),
            Err(AntreaEmuError::UnknownNode(_))
        ));
        hooks
            .update_agent("k8s-node-1", |a| a.ovsdb_up = false)
            .unwrap();
        assert!(!hooks.agent("k8s-node-1").ovsdb_up);
        assert!(hooks.controller_is_up());
    }
}
