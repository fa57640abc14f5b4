//! A pure port of antrea-controller's admission webhooks (Antrea v2.7.0,
//! `pkg/controller/networkpolicy/{mutate,validate}.go`), for the Antrea emulation and for the
//! adapter to pre-check what it writes.
//!
//! - [`mutate`]: ACNP/ANNP defaults (tier `application`, generated rule names).
//! - [`policy`]: ACNP/ANNP validation, in Antrea's order, first failure wins.
//! - [`tier`]: Tier create/update/delete.
//! - [`group`]: ClusterGroup/Group create/update.
//!
//! Cluster state comes from an [`AdmissionContext`]. A rejection is a [`Denial`] whose
//! message is Antrea's. Nothing here does I/O.

pub mod context;
mod go_json;
pub mod group;
pub mod labels;
pub mod mutate;
pub mod net;
pub mod policy;
pub mod tier;

pub use context::{AdmissionContext, ClusterState, FeatureGates, TierSummary};
pub use group::{validate_cluster_group, validate_group};
pub use mutate::{Mutation, mutate_cluster_network_policy, mutate_network_policy};
pub use policy::{validate_cluster_network_policy, validate_network_policy};
pub use tier::{validate_tier_create, validate_tier_delete, validate_tier_update};

/// A rejection by a webhook; `message` is the text antrea-controller returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Denial {
    pub message: String,
}

impl Denial {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// An admitted policy, with the warnings the webhook attaches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admitted {
    pub warnings: Vec<String>,
}
