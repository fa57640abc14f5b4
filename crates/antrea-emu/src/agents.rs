//! The emulated antrea-agents' side of policy realization: each agent receives the policies
//! whose span includes its Node (a policy and its generation), realizes each one after the
//! realize delay, and reports `{nodeName, generation, realizationFailure, message}` to
//! antrea-controller as `networkpolicies/{uid}/status` does. Hooks make an agent report
//! failures or hold its reports back ([`crate::RealizationMode`]).
//!
//! All agents run in one task with one timer queue, so thousands of Nodes and policies cost
//! little.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

use antrea_policy::PolicyRef;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::Shared;
use crate::hooks::RealizationMode;

/// What antrea-controller sends agents.
#[derive(Debug, Clone)]
pub(crate) enum AgentCommand {
    /// Realize this generation of the policy on the Node.
    Dispatch {
        node: String,
        policy: PolicyRef,
        generation: i64,
    },
    /// The Node left the policy's span, or the policy is gone.
    Withdraw { node: String, policy: PolicyRef },
    /// antrea-controller restarted: agents drop what they were sent and wait for it again.
    Reset,
}

/// What an agent reports.
#[derive(Debug, Clone)]
pub(crate) struct AgentReport {
    pub node: String,
    pub policy: PolicyRef,
    pub generation: i64,
    /// `Some(message)` for `realizationFailure: true`.
    pub failure: Option<String>,
}

/// The controller's ends of the channels to and from the agents.
pub(crate) struct Fleet {
    pub commands: mpsc::UnboundedSender<AgentCommand>,
    pub reports: mpsc::UnboundedReceiver<AgentReport>,
}

/// A policy generation an agent holds back (stalled) or failed, with the mode it was held
/// under: it is retried once the agent's mode changes.
#[derive(Debug, Clone)]
struct Held {
    policy: PolicyRef,
    generation: i64,
    mode: RealizationMode,
}

type Due = Reverse<(Instant, u64, String, PolicyRef, i64)>;

struct Agents {
    shared: Arc<Shared>,
    reports: mpsc::UnboundedSender<AgentReport>,
    /// Generation each Node must realize, per policy.
    assigned: HashMap<(String, PolicyRef), i64>,
    timers: BinaryHeap<Due>,
    sequence: u64,
    held: HashMap<String, Vec<Held>>,
}

/// Starts the agents.
pub(crate) fn spawn(shared: &Arc<Shared>) -> Fleet {
    let (commands_tx, commands_rx) = mpsc::unbounded_channel();
    let (reports_tx, reports_rx) = mpsc::unbounded_channel();
    let agents = Agents {
        shared: shared.clone(),
        reports: reports_tx,
        assigned: HashMap::new(),
        timers: BinaryHeap::new(),
        sequence: 0,
        held: HashMap::new(),
    };
    tokio::spawn(agents.run(commands_rx));
    Fleet {
        commands: commands_tx,
        reports: reports_rx,
    }
}

impl Agents {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<AgentCommand>) {
        let cancel = self.shared.cancel.clone();
        loop {
            let next = self.timers.peek().map(|Reverse((at, ..))| *at);
            tokio::select! {
                () = cancel.cancelled() => return,
                command = commands.recv() => match command {
                    Some(command) => {
                        self.command(command);
                        while let Ok(command) = commands.try_recv() {
                            self.command(command);
                        }
                    }
                    None => return,
                },
                () = sleep_until(next), if next.is_some() => self.fire(),
                () = self.shared.hooks.agents_changed.notified() => self.release_held(),
            }
        }
    }

    fn delay(&self, node: &str) -> std::time::Duration {
        self.shared
            .hooks
            .agent(node)
            .realize_delay
            .unwrap_or(self.shared.options.realize_delay)
    }

    fn schedule(&mut self, node: String, policy: PolicyRef, generation: i64) {
        let at = Instant::now() + self.delay(&node);
        self.sequence += 1;
        self.timers
            .push(Reverse((at, self.sequence, node, policy, generation)));
    }

    fn command(&mut self, command: AgentCommand) {
        match command {
            AgentCommand::Dispatch {
                node,
                policy,
                generation,
            } => {
                if let Some(held) = self.held.get_mut(&node) {
                    held.retain(|h| h.policy != policy);
                }
                self.assigned
                    .insert((node.clone(), policy.clone()), generation);
                self.schedule(node, policy, generation);
            }
            AgentCommand::Withdraw { node, policy } => {
                if let Some(held) = self.held.get_mut(&node) {
                    held.retain(|h| h.policy != policy);
                }
                self.shared.summary.unrealize(&node, &policy);
                self.assigned.remove(&(node, policy));
            }
            AgentCommand::Reset => {
                self.assigned.clear();
                self.timers.clear();
                self.held.clear();
                self.shared.summary.clear_realized();
            }
        }
    }

    /// Realizes everything that is due.
    fn fire(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, ..))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, _, node, policy, generation))) = self.timers.pop() else {
                break;
            };
            if self.assigned.get(&(node.clone(), policy.clone())) != Some(&generation) {
                continue;
            }
            let mode = self.shared.hooks.agent(&node).realization;
            match &mode {
                RealizationMode::Normal => {
                    self.shared.summary.realize(&node, &policy);
                    let _ = self.reports.send(AgentReport {
                        node,
                        policy,
                        generation,
                        failure: None,
                    });
                }
                RealizationMode::Fail { message } => {
                    let _ = self.reports.send(AgentReport {
                        node: node.clone(),
                        policy: policy.clone(),
                        generation,
                        failure: Some(message.clone()),
                    });
                    self.hold(node, policy, generation, mode);
                }
                RealizationMode::Stall => self.hold(node, policy, generation, mode),
            }
        }
    }

    fn hold(&mut self, node: String, policy: PolicyRef, generation: i64, mode: RealizationMode) {
        self.held.entry(node).or_default().push(Held {
            policy,
            generation,
            mode,
        });
    }

    /// Retries what agents held back under a mode they no longer have.
    fn release_held(&mut self) {
        let nodes: Vec<String> = self.held.keys().cloned().collect();
        for node in nodes {
            let mode = self.shared.hooks.agent(&node).realization;
            let entries = self.held.remove(&node).unwrap_or_default();
            let (retry, keep): (Vec<Held>, Vec<Held>) =
                entries.into_iter().partition(|held| held.mode != mode);
            if !keep.is_empty() {
                self.held.insert(node.clone(), keep);
            }
            let mut seen = HashSet::new();
            for held in retry {
                let current = self.assigned.get(&(node.clone(), held.policy.clone()));
                if current == Some(&held.generation) && seen.insert(held.policy.clone()) {
                    self.schedule(node.clone(), held.policy, held.generation);
                }
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
