//! ClusterGroup and Group membership, as antrea-controller computes it
//! (`pkg/controller/networkpolicy/clustergroup.go`, `group.go`, `crd_utils.go`).
//!
//! A group holds exactly one kind of criterion, picked in Antrea's order: `childGroups`, then
//! `ipBlocks`, then `serviceReference`, then the selectors. Children are resolved one level
//! deep; a group whose child has children of its own exceeds the supported nesting
//! (`ChildGroupsNestingExceeded`) and has no members at all. A missing child contributes
//! nothing and keeps the parent from reaching `GroupMembersComputed=True`. A Service reference
//! selects the Pods matching the Service's selector in its Namespace (selector-less or missing
//! Services select nothing).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use antrea_types::group::{ClusterGroupSpec, GroupCondition, GroupConditionType, GroupSpec};
use antrea_types::policy::{ConditionStatus, IPBlock};
use serde::Serialize;

use crate::index::{ClusterIndex, PodRecord};
use crate::net::IpBlockNet;
use crate::selector::GroupSelector;

/// Pods of one Namespace and label set, with the Namespace's labels looked up once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LabelSet<'a> {
    pub namespace: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    /// `None` when the Namespace is unknown.
    pub namespace_labels: Option<&'a BTreeMap<String, String>>,
}

/// Reason of `GroupMembersComputed=False` for over-nested groups.
pub const CHILD_GROUPS_NESTING_EXCEEDED: &str = "ChildGroupsNestingExceeded";

/// A ClusterGroup (`namespace: None`) or a namespaced Group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct GroupKey {
    pub namespace: Option<String>,
    pub name: String,
}

impl GroupKey {
    pub(crate) fn cluster(name: &str) -> Self {
        GroupKey {
            namespace: None,
            name: name.to_string(),
        }
    }

    pub(crate) fn namespaced(namespace: &str, name: &str) -> Self {
        GroupKey {
            namespace: Some(namespace.to_string()),
            name: name.to_string(),
        }
    }
}

/// The single criterion of a group.
#[derive(Debug, Clone)]
pub(crate) enum GroupDefinition {
    Children(Vec<String>),
    IpBlocks(Vec<IpBlockNet>),
    ServiceReference { namespace: String, name: String },
    Selector(GroupSelector),
}

/// A group as applied.
#[derive(Debug, Clone)]
pub(crate) struct CompiledGroup {
    pub key: GroupKey,
    pub definition: GroupDefinition,
    /// The `ipBlocks` as written (returned by membership queries).
    pub ip_blocks: Vec<IPBlock>,
}

impl CompiledGroup {
    /// A group defined by `ipBlocks` only (ignored when used as appliedTo).
    pub(crate) fn is_ip_blocks_only(&self) -> bool {
        matches!(self.definition, GroupDefinition::IpBlocks(_))
    }
}

fn ip_block_nets(blocks: &[IPBlock]) -> Vec<IpBlockNet> {
    blocks
        .iter()
        .filter_map(|block| {
            IpBlockNet::parse(&block.cidr, block.except.as_deref().unwrap_or_default())
        })
        .collect()
}

/// `processClusterGroup`. `nodeSelector` (in the v2.7 ClusterGroup manifest) selects Nodes.
pub(crate) fn compile_cluster_group(name: &str, spec: &ClusterGroupSpec) -> CompiledGroup {
    let key = GroupKey::cluster(name);
    let ip_blocks = spec.ip_blocks.clone().unwrap_or_default();
    let definition = if let Some(children) = spec.child_groups.as_ref().filter(|c| !c.is_empty()) {
        GroupDefinition::Children(children.clone())
    } else if !ip_blocks.is_empty() {
        GroupDefinition::IpBlocks(ip_block_nets(&ip_blocks))
    } else if let Some(reference) = &spec.service_reference {
        GroupDefinition::ServiceReference {
            namespace: reference.namespace.clone().unwrap_or_default(),
            name: reference.name.clone().unwrap_or_default(),
        }
    } else {
        GroupDefinition::Selector(GroupSelector::new(
            "",
            spec.pod_selector.as_ref(),
            spec.namespace_selector.as_ref(),
            spec.external_entity_selector.as_ref(),
            spec.node_selector.as_ref(),
        ))
    };
    CompiledGroup {
        key,
        definition,
        ip_blocks,
    }
}

/// The namespaced variant: selectors default to the Group's Namespace, and so does a
/// `serviceReference` without a Namespace.
pub(crate) fn compile_group(namespace: &str, name: &str, spec: &GroupSpec) -> CompiledGroup {
    let key = GroupKey::namespaced(namespace, name);
    let ip_blocks = spec.ip_blocks.clone().unwrap_or_default();
    let definition = if let Some(children) = spec.child_groups.as_ref().filter(|c| !c.is_empty()) {
        GroupDefinition::Children(children.clone())
    } else if !ip_blocks.is_empty() {
        GroupDefinition::IpBlocks(ip_block_nets(&ip_blocks))
    } else if let Some(reference) = &spec.service_reference {
        GroupDefinition::ServiceReference {
            namespace: reference
                .namespace
                .clone()
                .filter(|ns| !ns.is_empty())
                .unwrap_or_else(|| namespace.to_string()),
            name: reference.name.clone().unwrap_or_default(),
        }
    } else {
        GroupDefinition::Selector(GroupSelector::new(
            namespace,
            spec.pod_selector.as_ref(),
            spec.namespace_selector.as_ref(),
            spec.external_entity_selector.as_ref(),
            None,
        ))
    };
    CompiledGroup {
        key,
        definition,
        ip_blocks,
    }
}

/// Whether a group's members are computed (the `GroupMembersComputed` condition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum MembersComputed {
    /// All members are known: `GroupMembersComputed=True`.
    Computed,
    /// A child has children of its own: `False` with reason `ChildGroupsNestingExceeded`.
    NestingExceeded,
    /// Some children do not exist (yet). Antrea writes no condition for this transient state.
    ChildrenMissing { missing: Vec<String> },
}

impl MembersComputed {
    /// The condition antrea-controller writes, given the condition the object carries now
    /// (`syncInternalClusterGroup`): `True` when computed; `False`+`ChildGroupsNestingExceeded`
    /// when over-nested; while children are missing nothing is written, except that a stale
    /// nesting reason is replaced by a plain `False`. `None` means "leave the status as is".
    /// `lastTransitionTime` is left to the caller.
    pub fn condition(
        &self,
        kind: &str,
        current: Option<&GroupCondition>,
    ) -> Option<GroupCondition> {
        let condition = |status, reason: Option<&str>, message: Option<String>| GroupCondition {
            type_: GroupConditionType::GroupMembersComputed,
            status,
            reason: reason.map(str::to_string),
            message,
            last_transition_time: None,
        };
        match self {
            MembersComputed::Computed => Some(condition(ConditionStatus::True, None, None)),
            MembersComputed::NestingExceeded => Some(condition(
                ConditionStatus::False,
                Some(CHILD_GROUPS_NESTING_EXCEEDED),
                Some(format!(
                    "The childGroups of this {kind} must not have childGroups of their own. \
                     Its members cannot be computed and it is not realized: fix its definition, \
                     or the definition of one of its childGroups."
                )),
            )),
            MembersComputed::ChildrenMissing { .. } => {
                let stale = current.is_some_and(|current| {
                    current.reason.as_deref() == Some(CHILD_GROUPS_NESTING_EXCEEDED)
                });
                stale.then(|| condition(ConditionStatus::False, None, None))
            }
        }
    }
}

/// A Pod member of a group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct MemberPod {
    pub namespace: String,
    pub name: String,
    pub ips: Vec<IpAddr>,
    pub node: Option<String>,
}

/// The members of a group (`clustergroupmembers` / `groupmembers`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Members {
    /// Pods selected, with an IP, not host-network and not terminated (Antrea's address-group
    /// filter), sorted by Namespace and name.
    pub pods: Vec<MemberPod>,
    /// Nodes selected by a `nodeSelector`, sorted.
    pub nodes: Vec<String>,
    /// The `ipBlocks` of the group, or of its children.
    pub ip_blocks: Vec<IPBlock>,
    pub computed: MembersComputed,
}

impl ClusterIndex {
    /// `childGroupsNestingExceeded`: one of the children has childGroups of its own. Decided
    /// on the children's own definitions, so a missing child never counts.
    pub(crate) fn nesting_exceeded(&self, group: &CompiledGroup) -> bool {
        let GroupDefinition::Children(children) = &group.definition else {
            return false;
        };
        children.iter().any(|child| {
            self.group_named(group.key.namespace.as_deref(), child)
                .is_some_and(|child| matches!(child.definition, GroupDefinition::Children(_)))
        })
    }

    pub(crate) fn members_computed(&self, group: &CompiledGroup) -> MembersComputed {
        if self.nesting_exceeded(group) {
            return MembersComputed::NestingExceeded;
        }
        let GroupDefinition::Children(children) = &group.definition else {
            return MembersComputed::Computed;
        };
        let missing: Vec<String> = children
            .iter()
            .filter(|child| {
                self.group_named(group.key.namespace.as_deref(), child)
                    .is_none()
            })
            .cloned()
            .collect();
        if missing.is_empty() {
            MembersComputed::Computed
        } else {
            MembersComputed::ChildrenMissing { missing }
        }
    }

    /// The selector a Service reference resolves to (`serviceToGroupSelector`).
    pub(crate) fn service_reference_selector(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<&GroupSelector> {
        self.service(namespace, name)?.pod_selector.as_ref()
    }

    /// Calls `visit` on each selector a group's membership comes from (its own, or its
    /// children's) until it returns `true`; `false` when none did or the group is over-nested.
    pub(crate) fn any_group_selector(
        &self,
        group: &CompiledGroup,
        mut visit: impl FnMut(&GroupSelector) -> bool,
    ) -> bool {
        if self.nesting_exceeded(group) {
            return false;
        }
        let mut own = |group: &CompiledGroup| -> bool {
            match &group.definition {
                GroupDefinition::Selector(selector) => visit(selector),
                GroupDefinition::ServiceReference { namespace, name } => self
                    .service_reference_selector(namespace, name)
                    .is_some_and(&mut visit),
                GroupDefinition::IpBlocks(_) | GroupDefinition::Children(_) => false,
            }
        };
        match &group.definition {
            GroupDefinition::Children(children) => children
                .iter()
                .filter_map(|child| self.group_named(group.key.namespace.as_deref(), child))
                .any(own),
            _ => own(group),
        }
    }

    /// Calls `visit` on each ipBlock of a group, or of its children
    /// (`processInternalGroupForRule`), until it returns `true`.
    pub(crate) fn any_group_ip_block(
        &self,
        group: &CompiledGroup,
        mut visit: impl FnMut(&IpBlockNet, &IPBlock) -> bool,
    ) -> bool {
        if self.nesting_exceeded(group) {
            return false;
        }
        let mut own = |group: &CompiledGroup| -> bool {
            match &group.definition {
                GroupDefinition::IpBlocks(nets) => nets
                    .iter()
                    .zip(group.ip_blocks.iter())
                    .any(|(net, block)| visit(net, block)),
                _ => false,
            }
        };
        match &group.definition {
            GroupDefinition::Children(children) => children
                .iter()
                .filter_map(|child| self.group_named(group.key.namespace.as_deref(), child))
                .any(own),
            _ => own(group),
        }
    }

    /// Whether a group's selectors (own or children's) select Pods with this Namespace and
    /// labels, whatever their state.
    pub(crate) fn group_selects_labels(&self, group: &CompiledGroup, pods: &LabelSet<'_>) -> bool {
        self.any_group_selector(group, |selector| {
            !selector.is_node_selector()
                && selector.matches_pod(pods.namespace, pods.labels, pods.namespace_labels)
        })
    }

    /// Nodes selected by a group's node selectors.
    pub(crate) fn group_nodes(&self, group: &CompiledGroup) -> BTreeSet<String> {
        let mut nodes = BTreeSet::new();
        self.any_group_selector(group, |selector| {
            if selector.is_node_selector() {
                nodes.extend(self.matching_nodes(selector));
            }
            false
        });
        nodes
    }

    /// Label items selected by a group's Pod selectors.
    pub(crate) fn group_label_items(&self, group: &CompiledGroup) -> BTreeSet<usize> {
        let mut items = BTreeSet::new();
        self.any_group_selector(group, |selector| {
            if !selector.is_node_selector() {
                items.extend(self.matching_label_items(selector));
            }
            false
        });
        items
    }

    /// Whether an address belongs to a group as a peer: a selected Pod's address, a selected
    /// Node's address, or an address inside one of its ipBlocks.
    pub(crate) fn group_contains_address(
        &self,
        group: &CompiledGroup,
        address: IpAddr,
        pod: Option<&PodRecord>,
    ) -> bool {
        let selected = self.any_group_selector(group, |selector| {
            if selector.is_node_selector() {
                self.node_by_ip
                    .get(&address)
                    .and_then(|node| self.nodes.get(node))
                    .is_some_and(|node| selector.matches_node(&node.labels))
            } else {
                pod.is_some_and(|pod| {
                    pod.address_eligible() && self.selector_matches_pod(selector, pod)
                })
            }
        });
        selected || self.any_group_ip_block(group, |net, _| net.contains(address))
    }

    fn members(&self, group: &CompiledGroup) -> Members {
        let computed = self.members_computed(group);
        // A Pod belongs to exactly one label item: no duplicates to remove.
        let mut pods: Vec<MemberPod> = self
            .group_label_items(group)
            .into_iter()
            .flat_map(|item| self.pods_of_label_item(item))
            .filter(|pod| pod.address_eligible())
            .map(|pod| MemberPod {
                namespace: pod.namespace.clone(),
                name: pod.name.clone(),
                ips: pod.ips.clone(),
                node: pod.node.clone(),
            })
            .collect();
        pods.sort_unstable_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        let mut ip_blocks = Vec::new();
        self.any_group_ip_block(group, |_, block| {
            ip_blocks.push(block.clone());
            false
        });
        Members {
            pods,
            nodes: self.group_nodes(group).into_iter().collect(),
            ip_blocks,
            computed,
        }
    }

    /// Members of a ClusterGroup; `None` when it does not exist.
    pub fn cluster_group_members(&self, name: &str) -> Option<Members> {
        self.cluster_groups
            .get(name)
            .map(|group| self.members(group))
    }

    /// Members of a namespaced Group; `None` when it does not exist.
    pub fn group_members(&self, namespace: &str, name: &str) -> Option<Members> {
        self.group_named(Some(namespace), name)
            .map(|group| self.members(group))
    }

    /// Only the `GroupMembersComputed` state of a ClusterGroup (cheap: no member is listed);
    /// `None` when it does not exist.
    pub fn cluster_group_members_computed(&self, name: &str) -> Option<MembersComputed> {
        self.cluster_groups
            .get(name)
            .map(|group| self.members_computed(group))
    }

    /// Only the `GroupMembersComputed` state of a namespaced Group; `None` when it does not
    /// exist.
    pub fn group_members_computed(&self, namespace: &str, name: &str) -> Option<MembersComputed> {
        self.group_named(Some(namespace), name)
            .map(|group| self.members_computed(group))
    }

    /// Names of the ClusterGroups that list `name` as a child (to re-compute their
    /// conditions when a child appears, changes or goes away).
    pub fn cluster_group_parents(&self, name: &str) -> Vec<String> {
        let mut parents: Vec<String> = self
            .cluster_groups
            .values()
            .filter(|group| {
                matches!(&group.definition, GroupDefinition::Children(children)
                    if children.iter().any(|child| child == name))
            })
            .map(|group| group.key.name.clone())
            .collect();
        parents.sort();
        parents
    }
}
