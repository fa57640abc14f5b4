//! antrea-controller's policy status controller (`status_controller.go`) and group status
//! updates, driven by the shared `antrea_policy::ClusterIndex`.
//!
//! For each ClusterNetworkPolicy and Antrea NetworkPolicy the controller computes the span
//! (the Nodes hosting the Pods its appliedTo selects), sends the current generation to the
//! agents of those Nodes, and writes the status Antrea's rules give from their reports:
//!
//! - a policy it has accepted but not processed yet: `Pending` 0/0 (written first for a new
//!   policy);
//! - an ANNP whose appliedTo Group has Pods in other Namespaces: `Pending` 0/0 with
//!   `Realizable=False`, reason `NetworkPolicyAppliedToUnsupportedGroup`;
//! - otherwise `desiredNodesRealized` = |span|, `currentNodesRealized` = Nodes that reported
//!   the current generation without failure: `Realized` when they are equal (0/0 included),
//!   `Failed` when the rest failed (with a `RealizationFailure` condition), else `Realizing`.
//!
//! A new generation is re-sent to every Node of the span; a span change sends the policy to
//! the Nodes that joined and forgets the reports of those that left. ClusterGroups and Groups
//! get the `GroupMembersComputed` condition antrea-controller writes. Statuses go through the
//! `/status` subresource with [`crate::status`]'s writer.
//!
//! It also publishes the counts AntreaControllerInfo and AntreaAgentInfo report
//! ([`Summary`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use antrea_policy::{NodeRealization, PolicyKind, PolicyRef, PolicySpan};
use antrea_types::group::{GroupCondition, GroupConditionType};
use antrea_types::policy::{AppliedTo, NetworkPolicyPeer, NetworkPolicyStatus, Rule};
use antrea_types::{ClusterGroup, ClusterNetworkPolicy, Group, GroupStatus, NetworkPolicy};
use k8s_openapi::api::networking::v1::NetworkPolicy as K8sNetworkPolicy;
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::Shared;
use crate::agents::{AgentCommand, AgentReport, Fleet};
use crate::informers::Change;
use crate::status::StatusWriter;

/// Internal object counts (`networkPolicyControllerInfo`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PolicyCounts {
    pub network_policies: usize,
    pub address_groups: usize,
    pub applied_to_groups: usize,
}

/// The appliedTo and address groups a policy needs (as canonical keys).
#[derive(Debug, Clone, Default)]
struct PolicyGroups {
    applied_to: Vec<String>,
    addresses: Vec<String>,
}

#[derive(Debug, Default)]
struct SummaryData {
    controller: PolicyCounts,
    groups: HashMap<PolicyRef, PolicyGroups>,
    realized: HashMap<String, HashSet<PolicyRef>>,
}

/// What the monitoring CRDs report about policies, shared between the controller, the
/// agents and the monitors.
#[derive(Debug, Default)]
pub struct Summary {
    data: Mutex<SummaryData>,
}

impl Summary {
    /// Counts of the internal objects antrea-controller computed.
    pub fn controller_counts(&self) -> PolicyCounts {
        self.data.lock().controller
    }

    /// Counts of the policies (and their groups) realized on `node`.
    pub fn agent_counts(&self, node: &str) -> PolicyCounts {
        let data = self.data.lock();
        let Some(policies) = data.realized.get(node) else {
            return PolicyCounts::default();
        };
        let mut applied_to = HashSet::new();
        let mut addresses = HashSet::new();
        for policy in policies {
            if let Some(groups) = data.groups.get(policy) {
                applied_to.extend(groups.applied_to.iter());
                addresses.extend(groups.addresses.iter());
            }
        }
        PolicyCounts {
            network_policies: policies.len(),
            address_groups: addresses.len(),
            applied_to_groups: applied_to.len(),
        }
    }

    pub(crate) fn realize(&self, node: &str, policy: &PolicyRef) {
        self.data
            .lock()
            .realized
            .entry(node.to_string())
            .or_default()
            .insert(policy.clone());
    }

    pub(crate) fn unrealize(&self, node: &str, policy: &PolicyRef) {
        if let Some(policies) = self.data.lock().realized.get_mut(node) {
            policies.remove(policy);
        }
    }

    pub(crate) fn clear_realized(&self) {
        self.data.lock().realized.clear();
    }
}

/// A canonical key of a selector-like value.
fn canonical<T: Serialize>(scope: &str, value: &T) -> String {
    format!(
        "{scope}|{}",
        serde_json::to_string(value).unwrap_or_default()
    )
}

fn peer_key(scope: &str, peer: &NetworkPolicyPeer) -> Option<String> {
    // ipBlocks and FQDNs need no address group.
    let value = serde_json::to_value(peer).ok()?;
    let object = value.as_object()?;
    let selects = object
        .keys()
        .any(|key| !matches!(key.as_str(), "ipBlock" | "fqdn" | "scope"));
    selects.then(|| canonical(scope, &value))
}

fn antrea_policy_groups(
    scope: &str,
    applied_to: Option<&[AppliedTo]>,
    ingress: Option<&[Rule]>,
    egress: Option<&[Rule]>,
) -> PolicyGroups {
    let mut groups = PolicyGroups::default();
    let rules = ingress
        .into_iter()
        .flatten()
        .chain(egress.into_iter().flatten());
    for entry in applied_to.into_iter().flatten() {
        groups.applied_to.push(canonical(scope, entry));
    }
    for rule in rules {
        for entry in rule.applied_to.iter().flatten() {
            groups.applied_to.push(canonical(scope, entry));
        }
        for peer in rule.from.iter().flatten().chain(rule.to.iter().flatten()) {
            groups.addresses.extend(peer_key(scope, peer));
        }
    }
    groups
}

fn k8s_policy_groups(policy: &K8sNetworkPolicy) -> PolicyGroups {
    let namespace = policy.metadata.namespace.clone().unwrap_or_default();
    let mut groups = PolicyGroups::default();
    let Some(spec) = &policy.spec else {
        return groups;
    };
    groups
        .applied_to
        .push(canonical(&namespace, &spec.pod_selector));
    let peers = spec
        .ingress
        .iter()
        .flatten()
        .flat_map(|rule| rule.from.iter().flatten())
        .chain(
            spec.egress
                .iter()
                .flatten()
                .flat_map(|rule| rule.to.iter().flatten()),
        );
    for peer in peers {
        if peer.pod_selector.is_some() || peer.namespace_selector.is_some() {
            groups.addresses.push(canonical(&namespace, peer));
        }
    }
    groups
}

/// A policy object as last seen.
#[derive(Debug, Clone)]
enum PolicyObject {
    Cluster(Arc<ClusterNetworkPolicy>),
    Namespaced(Arc<NetworkPolicy>),
}

impl PolicyObject {
    fn generation(&self) -> i64 {
        match self {
            PolicyObject::Cluster(p) => p.metadata.generation,
            PolicyObject::Namespaced(p) => p.metadata.generation,
        }
        .unwrap_or(1)
    }

    fn groups(&self, reference: &PolicyRef) -> PolicyGroups {
        match self {
            PolicyObject::Cluster(p) => antrea_policy_groups(
                "",
                p.spec.applied_to.as_deref(),
                p.spec.ingress.as_deref(),
                p.spec.egress.as_deref(),
            ),
            PolicyObject::Namespaced(p) => antrea_policy_groups(
                reference.namespace.as_deref().unwrap_or_default(),
                p.spec.applied_to.as_deref(),
                p.spec.ingress.as_deref(),
                p.spec.egress.as_deref(),
            ),
        }
    }
}

#[derive(Debug)]
struct PolicyState {
    object: PolicyObject,
    generation: i64,
    /// The generation and span last processed (what the agents were sent).
    processed: Option<(i64, PolicySpan)>,
    dispatched: BTreeSet<String>,
    reports: BTreeMap<String, NodeRealization>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum GroupKey {
    Cluster(String),
    Namespaced(String, String),
}

struct Controller {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<AgentCommand>,
    policies: HashMap<PolicyRef, PolicyState>,
    cluster_groups: HashMap<String, Arc<ClusterGroup>>,
    groups: HashMap<(String, String), Arc<Group>>,
    k8s_policies: HashMap<(String, String), Arc<K8sNetworkPolicy>>,
    all_spans_dirty: bool,
    spans_dirty: HashSet<PolicyRef>,
    status_dirty: HashSet<PolicyRef>,
    groups_dirty: HashSet<GroupKey>,
    counts_dirty: bool,
    up: bool,
    acnp_writer: StatusWriter<ClusterNetworkPolicy>,
    annp_writer: StatusWriter<NetworkPolicy>,
    cluster_group_writer: StatusWriter<ClusterGroup>,
    group_writer: StatusWriter<Group>,
}

/// Workers per status writer (antrea-controller's `defaultWorkers`).
const STATUS_WORKERS: usize = 4;

/// Starts the controller; the receiver fires once it has processed the initial state.
pub(crate) fn spawn(
    shared: &Arc<Shared>,
    mut changes: mpsc::UnboundedReceiver<Change>,
    fleet: Fleet,
) -> oneshot::Receiver<()> {
    let (ready_tx, ready_rx) = oneshot::channel();
    let mut controller = Controller {
        shared: shared.clone(),
        commands: fleet.commands,
        policies: HashMap::new(),
        cluster_groups: HashMap::new(),
        groups: HashMap::new(),
        k8s_policies: HashMap::new(),
        all_spans_dirty: false,
        spans_dirty: HashSet::new(),
        status_dirty: HashSet::new(),
        groups_dirty: HashSet::new(),
        counts_dirty: true,
        up: shared.hooks.controller_is_up(),
        acnp_writer: StatusWriter::spawn(shared, STATUS_WORKERS),
        annp_writer: StatusWriter::spawn(shared, STATUS_WORKERS),
        cluster_group_writer: StatusWriter::spawn(shared, STATUS_WORKERS),
        group_writer: StatusWriter::spawn(shared, STATUS_WORKERS),
    };
    let mut reports = fleet.reports;
    tokio::spawn(async move {
        let cancel = controller.shared.cancel.clone();
        let mut controller_state = controller.shared.hooks.watch_controller();
        let mut ready = Some(ready_tx);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                change = changes.recv() => {
                    let Some(change) = change else { return };
                    controller.change(change);
                    while let Ok(change) = changes.try_recv() {
                        controller.change(change);
                    }
                }
                report = reports.recv() => {
                    let Some(report) = report else { return };
                    controller.report(report);
                    while let Ok(report) = reports.try_recv() {
                        controller.report(report);
                    }
                }
                changed = controller_state.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let up = *controller_state.borrow_and_update();
                    controller.set_up(up);
                }
            }
            controller.process();
            if let Some(ready) = ready.take() {
                let _ = ready.send(());
            }
        }
    });
    ready_rx
}

impl Controller {
    fn change(&mut self, change: Change) {
        match change {
            Change::Workload => self.all_spans_dirty = true,
            Change::Tier => {}
            Change::ClusterNetworkPolicy(name, object) => {
                let reference = PolicyRef::cluster(name);
                self.policy_changed(reference, object.map(PolicyObject::Cluster));
            }
            Change::AntreaNetworkPolicy(namespace, name, object) => {
                let reference =
                    PolicyRef::namespaced(PolicyKind::AntreaNetworkPolicy, namespace, name);
                self.policy_changed(reference, object.map(PolicyObject::Namespaced));
            }
            Change::ClusterGroup(name, object, indexed) => {
                match object {
                    Some(object) => {
                        self.cluster_groups.insert(name.clone(), object);
                    }
                    None => {
                        self.cluster_groups.remove(&name);
                        self.cluster_group_writer.forget("", &name);
                    }
                }
                if !indexed {
                    return;
                }
                let parents = self.shared.index.read().cluster_group_parents(&name);
                self.groups_dirty
                    .extend(parents.into_iter().map(GroupKey::Cluster));
                self.groups_dirty.insert(GroupKey::Cluster(name));
                self.all_spans_dirty = true;
            }
            Change::Group(namespace, name, object, indexed) => {
                match object {
                    Some(object) => {
                        self.groups
                            .insert((namespace.clone(), name.clone()), object);
                    }
                    None => {
                        self.groups.remove(&(namespace.clone(), name.clone()));
                        self.group_writer.forget(&namespace, &name);
                    }
                }
                if !indexed {
                    return;
                }
                let parents: Vec<GroupKey> = self
                    .groups
                    .iter()
                    .filter(|((ns, _), group)| {
                        *ns == namespace
                            && group
                                .spec
                                .child_groups
                                .iter()
                                .flatten()
                                .any(|child| *child == name)
                    })
                    .map(|((ns, parent), _)| GroupKey::Namespaced(ns.clone(), parent.clone()))
                    .collect();
                self.groups_dirty.extend(parents);
                self.groups_dirty
                    .insert(GroupKey::Namespaced(namespace, name));
                self.all_spans_dirty = true;
            }
            Change::K8sNetworkPolicy(namespace, name, object) => {
                match object {
                    Some(object) => self.k8s_policies.insert((namespace, name), object),
                    None => self.k8s_policies.remove(&(namespace, name)),
                };
                self.counts_dirty = true;
            }
        }
    }

    fn policy_changed(&mut self, reference: PolicyRef, object: Option<PolicyObject>) {
        let Some(object) = object else {
            if let Some(state) = self.policies.remove(&reference) {
                for node in state.dispatched {
                    let _ = self.commands.send(AgentCommand::Withdraw {
                        node,
                        policy: reference.clone(),
                    });
                }
            }
            let namespace = reference.namespace.clone().unwrap_or_default();
            match reference.kind {
                PolicyKind::AntreaNetworkPolicy => {
                    self.annp_writer.forget(&namespace, &reference.name)
                }
                _ => self.acnp_writer.forget(&namespace, &reference.name),
            }
            self.spans_dirty.remove(&reference);
            self.status_dirty.remove(&reference);
            self.counts_dirty = true;
            return;
        };
        let generation = object.generation();
        match self.policies.get_mut(&reference) {
            Some(state) => {
                state.object = object;
                if state.generation != generation {
                    state.generation = generation;
                    self.spans_dirty.insert(reference.clone());
                    self.counts_dirty = true;
                }
            }
            None => {
                self.policies.insert(
                    reference.clone(),
                    PolicyState {
                        object,
                        generation,
                        processed: None,
                        dispatched: BTreeSet::new(),
                        reports: BTreeMap::new(),
                    },
                );
                self.spans_dirty.insert(reference.clone());
                self.counts_dirty = true;
            }
        }
        // The status may have been changed by someone else: re-check it.
        self.status_dirty.insert(reference);
    }

    fn report(&mut self, report: AgentReport) {
        if !self.up {
            return;
        }
        let Some(state) = self.policies.get_mut(&report.policy) else {
            return;
        };
        if !state.dispatched.contains(&report.node) {
            return;
        }
        state.reports.insert(
            report.node,
            NodeRealization {
                generation: report.generation,
                realization_failure: report.failure.is_some(),
                message: report.failure.unwrap_or_default(),
            },
        );
        self.status_dirty.insert(report.policy);
    }

    fn set_up(&mut self, up: bool) {
        if up == self.up {
            return;
        }
        self.up = up;
        if !up {
            self.acnp_writer.clear();
            self.annp_writer.clear();
            self.cluster_group_writer.clear();
            self.group_writer.clear();
            return;
        }
        // A restart: nothing is remembered of the agents; everything is processed again.
        let _ = self.commands.send(AgentCommand::Reset);
        for (reference, state) in &mut self.policies {
            state.processed = None;
            state.dispatched.clear();
            state.reports.clear();
            self.status_dirty.insert(reference.clone());
        }
        self.all_spans_dirty = true;
        self.counts_dirty = true;
        self.groups_dirty
            .extend(self.cluster_groups.keys().cloned().map(GroupKey::Cluster));
        self.groups_dirty.extend(
            self.groups
                .keys()
                .map(|(ns, name)| GroupKey::Namespaced(ns.clone(), name.clone())),
        );
    }

    fn process(&mut self) {
        if !self.up {
            return;
        }
        self.process_spans();
        self.process_statuses();
        self.process_groups();
        if self.counts_dirty {
            self.counts_dirty = false;
            self.publish_counts();
        }
    }

    fn process_spans(&mut self) {
        if !self.all_spans_dirty && self.spans_dirty.is_empty() {
            return;
        }
        let spans: Vec<(PolicyRef, PolicySpan)> = {
            let index = self.shared.index.read();
            if self.all_spans_dirty {
                index.all_policy_spans().into_iter().collect()
            } else {
                self.spans_dirty
                    .iter()
                    .filter_map(|reference| {
                        Some((reference.clone(), index.policy_span(reference)?))
                    })
                    .collect()
            }
        };
        self.all_spans_dirty = false;
        self.spans_dirty.clear();
        for (reference, span) in spans {
            self.apply_span(reference, span);
        }
    }

    fn apply_span(&mut self, reference: PolicyRef, span: PolicySpan) {
        let Some(state) = self.policies.get_mut(&reference) else {
            return;
        };
        let generation = state.generation;
        let unchanged = state
            .processed
            .as_ref()
            .is_some_and(|(processed, previous)| *processed == generation && *previous == span);
        if unchanged {
            return;
        }
        if state
            .processed
            .as_ref()
            .is_none_or(|(processed, _)| *processed != generation)
        {
            // A new generation goes to every Node again.
            state.dispatched.clear();
        }
        let target: BTreeSet<String> = if span.sync_error.is_some() {
            BTreeSet::new()
        } else {
            span.nodes.clone()
        };
        for node in state.dispatched.difference(&target) {
            state.reports.remove(node);
            let _ = self.commands.send(AgentCommand::Withdraw {
                node: node.clone(),
                policy: reference.clone(),
            });
        }
        for node in target.difference(&state.dispatched) {
            let _ = self.commands.send(AgentCommand::Dispatch {
                node: node.clone(),
                policy: reference.clone(),
                generation,
            });
        }
        state.dispatched = target;
        state.processed = Some((generation, span));
        self.status_dirty.insert(reference);
    }

    fn process_statuses(&mut self) {
        let now = self.shared.clock.time();
        for reference in std::mem::take(&mut self.status_dirty) {
            let Some(state) = self.policies.get(&reference) else {
                continue;
            };
            let Some((generation, span)) = &state.processed else {
                continue;
            };
            let mut status: NetworkPolicyStatus = span.status(*generation, &state.reports);
            for condition in status.conditions.iter_mut().flatten() {
                condition.last_transition_time = Some(now.clone());
            }
            match &state.object {
                PolicyObject::Cluster(object) => self.acnp_writer.submit(object, status),
                PolicyObject::Namespaced(object) => self.annp_writer.submit(object, status),
            }
        }
    }

    fn process_groups(&mut self) {
        if self.groups_dirty.is_empty() {
            return;
        }
        let now = self.shared.clock.time();
        let index = self.shared.index.read();
        for key in std::mem::take(&mut self.groups_dirty) {
            match &key {
                GroupKey::Cluster(name) => {
                    let (Some(object), Some(computed)) = (
                        self.cluster_groups.get(name),
                        index.cluster_group_members_computed(name),
                    ) else {
                        continue;
                    };
                    if let Some(status) =
                        group_status(&computed, "ClusterGroup", object.status.as_ref(), &now)
                    {
                        self.cluster_group_writer.submit(object, status);
                    }
                }
                GroupKey::Namespaced(namespace, name) => {
                    let (Some(object), Some(computed)) = (
                        self.groups.get(&(namespace.clone(), name.clone())),
                        index.group_members_computed(namespace, name),
                    ) else {
                        continue;
                    };
                    if let Some(status) =
                        group_status(&computed, "Group", object.status.as_ref(), &now)
                    {
                        self.group_writer.submit(object, status);
                    }
                }
            }
        }
    }

    fn publish_counts(&self) {
        let mut groups = HashMap::new();
        let mut applied_to = HashSet::new();
        let mut addresses = HashSet::new();
        for (reference, state) in &self.policies {
            let policy_groups = state.object.groups(reference);
            applied_to.extend(policy_groups.applied_to.iter().cloned());
            addresses.extend(policy_groups.addresses.iter().cloned());
            groups.insert(reference.clone(), policy_groups);
        }
        for policy in self.k8s_policies.values() {
            let policy_groups = k8s_policy_groups(policy);
            applied_to.extend(policy_groups.applied_to);
            addresses.extend(policy_groups.addresses);
        }
        let mut data = self.shared.summary.data.lock();
        data.controller = PolicyCounts {
            network_policies: self.policies.len() + self.k8s_policies.len(),
            address_groups: addresses.len(),
            applied_to_groups: applied_to.len(),
        };
        data.groups = groups;
    }
}

/// The group status to write, if the condition changes.
fn group_status(
    computed: &antrea_policy::MembersComputed,
    kind: &str,
    current: Option<&GroupStatus>,
    now: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
) -> Option<GroupStatus> {
    let current_condition = current.and_then(|status| {
        status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == GroupConditionType::GroupMembersComputed)
    });
    let mut condition: GroupCondition = computed.condition(kind, current_condition)?;
    let same = current_condition.is_some_and(|current| {
        current.status == condition.status
            && current.reason == condition.reason
            && current.message == condition.message
    });
    if same {
        return None;
    }
    condition.last_transition_time = Some(now.clone());
    Some(GroupStatus {
        conditions: Some(vec![condition]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn groups_are_counted_once_per_distinct_selector() {
        let policy: ClusterNetworkPolicy = serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {
                "priority": 1,
                "appliedTo": [{"group": "web"}],
                "ingress": [
                    {"action": "Allow", "from": [{"group": "lb"}, {"ipBlock": {"cidr": "10.0.0.0/8"}}]},
                    {"action": "Drop", "from": [{"group": "lb"}]},
                ],
                "egress": [{"action": "Allow", "to": [{"fqdn": "*.example.com"}]}],
            },
        }))
        .unwrap();
        let groups = PolicyObject::Cluster(Arc::new(policy)).groups(&PolicyRef::cluster("p"));
        assert_eq!(groups.applied_to.len(), 1);
        let distinct: HashSet<&String> = groups.addresses.iter().collect();
        assert_eq!(distinct.len(), 1);
    }

    #[test]
    fn group_conditions_are_written_only_when_they_change() {
        let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::UNIX_EPOCH);
        let computed = antrea_policy::MembersComputed::Computed;
        let status = group_status(&computed, "ClusterGroup", None, &now).unwrap();
        let condition = &status.conditions.as_ref().unwrap()[0];
        assert_eq!(condition.type_, GroupConditionType::GroupMembersComputed);
        assert!(group_status(&computed, "ClusterGroup", Some(&status), &now).is_none());
        let missing = antrea_policy::MembersComputed::ChildrenMissing {
            missing: vec!["child".into()],
        };
        assert!(group_status(&missing, "ClusterGroup", None, &now).is_none());
    }
}
