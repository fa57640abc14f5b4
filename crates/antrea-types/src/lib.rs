//! The Antrea API kinds this project uses, as Rust types.
//!
//! - crd.antrea.io CRDs with kube-derive: [`ClusterNetworkPolicy`], [`NetworkPolicy`],
//!   [`Tier`], [`ClusterGroup`], [`Group`], [`Traceflow`], [`AntreaControllerInfo`],
//!   [`AntreaAgentInfo`] (v1beta1) and [`SupportBundleCollection`] (v1alpha1);
//! - aggregated-API objects as plain serde structs: the [`stats`] kinds and the
//!   [`system::SupportBundle`].
//!
//! Field names follow the Go types and CRD manifests of Antrea v2.7.0. Everything optional is
//! an `Option` skipped when `None`, so what we serialize is minimal and round-trips. The
//! generated CRD schemas ([`crds`]) are cut to what the real manifests declare, so an API
//! server using them prunes what the real one prunes (see [`schema`]).

mod api_object;
pub mod cluster_network_policy;
pub mod group;
pub mod info;
pub mod network_policy;
mod open_enum;
pub mod policy;
pub mod schema;
pub mod stats;
pub mod support_bundle_collection;
pub mod system;
pub mod tier;
pub mod traceflow;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

pub use cluster_network_policy::{ClusterNetworkPolicy, ClusterNetworkPolicySpec};
pub use group::{ClusterGroup, ClusterGroupSpec, Group, GroupSpec, GroupStatus};
pub use info::{
    AntreaAgentInfo, AntreaAgentInfoFields, AntreaControllerInfo, AntreaControllerInfoFields,
};
pub use network_policy::{NetworkPolicy, NetworkPolicySpec};
pub use policy::{AppliedTo, NetworkPolicyPeer, NetworkPolicyStatus, Rule, RuleAction};
pub use support_bundle_collection::{SupportBundleCollection, SupportBundleCollectionSpec};
pub use tier::{Tier, TierSpec};
pub use traceflow::{Traceflow, TraceflowSpec, TraceflowStatus};

/// The API group of every Antrea CRD.
pub const CRD_GROUP: &str = "crd.antrea.io";

/// The CustomResourceDefinitions of every CRD kind in this crate, generated from the types,
/// for an emulated API server to register by default.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        ClusterNetworkPolicy::crd(),
        NetworkPolicy::crd(),
        Tier::crd(),
        ClusterGroup::crd(),
        Group::crd(),
        Traceflow::crd(),
        AntreaControllerInfo::crd(),
        AntreaAgentInfo::crd(),
        SupportBundleCollection::crd(),
    ]
}
