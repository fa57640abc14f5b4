//! The network-policy brain of the Antrea controller emulation, computed as Antrea does and
//! with no I/O.
//!
//! Feed a [`ClusterIndex`] with the cluster's objects as watches deliver them (`apply_*` /
//! `delete_*` per kind: Pods, Namespaces, Nodes, Services, Endpoints and EndpointSlices,
//! Tiers, ClusterGroups, Groups, Antrea ClusterNetworkPolicies and NetworkPolicies, K8s
//! NetworkPolicies), then ask it:
//!
//! - [`ClusterIndex::cluster_group_members`] / [`ClusterIndex::group_members`]: the members of a
//!   group and its `GroupMembersComputed` state ([`Members`], [`MembersComputed`]);
//! - [`ClusterIndex::policy_span`] / [`ClusterIndex::all_policy_spans`]: the Nodes that must
//!   realize a policy and whether it is realizable ([`PolicySpan`], which also computes the
//!   status antrea-controller writes from per-Node reports);
//! - [`ClusterIndex::evaluate`]: a packet through every policy, egress at the source then
//!   ingress at the destination, with the verdict and the Traceflow observations of each Node
//!   ([`Evaluation`]); [`PacketSpec::from_traceflow`] builds the packet of a Traceflow;
//! - [`ClusterIndex::matching_rules`]: the rules a flow hits in each direction ([`FlowMatch`]),
//!   for traffic models and rule statistics.
//!
//! The semantics follow antrea-controller and antrea-agent v2.7; `docs/antrea-emulation.md`
//! ("Policy evaluation") lists them with each deliberate gap.

mod compile;
mod error;
mod evaluate;
mod groups;
mod index;
mod net;
mod policy_ref;
mod selector;
mod span;
mod traceflow;

pub use error::{EvaluationError, IndexError};
pub use evaluate::{
    DecidedBy, Destination, DirectionDecision, FlowMatch, LoadBalancing, Outcome, PacketSpec,
    PodName, Protocol,
};
pub use groups::{CHILD_GROUPS_NESTING_EXCEEDED, MemberPod, Members, MembersComputed};
pub use index::{ClusterIndex, L4Protocol};
pub use policy_ref::{Direction, PolicyKind, PolicyRef, RuleRef};
pub use selector::SERVICE_ACCOUNT_LABEL;
pub use span::{
    APPLIED_TO_UNSUPPORTED_GROUP, NodeRealization, PolicySpan, REALIZATION_FAILED_ON_NODE,
    SyncError,
};
pub use traceflow::{Evaluation, NodeObservations, NodeRole, Verdict};
