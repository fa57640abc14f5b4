//! The Antrea objects the CCP adapter owns (Tiers, ClusterGroups, ClusterNetworkPolicies),
//! addressed by kind and name, and sets of them: the desired state the translator computes
//! and the observed state the I/O layer lists.

use std::collections::BTreeMap;
use std::fmt;

use antrea_types::{ClusterGroup, ClusterNetworkPolicy, Tier};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use super::naming::{ObjectRole, role_of};

/// The kinds the CCP adapter writes (all `crd.antrea.io/v1beta1`, cluster-scoped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AntreaKind {
    Tier,
    ClusterGroup,
    ClusterNetworkPolicy,
}

impl AntreaKind {
    /// The Kubernetes kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tier => "Tier",
            Self::ClusterGroup => "ClusterGroup",
            Self::ClusterNetworkPolicy => "ClusterNetworkPolicy",
        }
    }

    /// `crd.antrea.io/v1beta1`.
    pub fn api_version(self) -> &'static str {
        "crd.antrea.io/v1beta1"
    }
}

impl fmt::Display for AntreaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One Antrea object by kind and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectKey {
    pub kind: AntreaKind,
    pub name: String,
}

impl ObjectKey {
    pub fn new(kind: AntreaKind, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

/// An object of one of the three kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum AntreaObject {
    Tier(Tier),
    ClusterGroup(ClusterGroup),
    ClusterNetworkPolicy(ClusterNetworkPolicy),
}

impl AntreaObject {
    pub fn kind(&self) -> AntreaKind {
        match self {
            Self::Tier(_) => AntreaKind::Tier,
            Self::ClusterGroup(_) => AntreaKind::ClusterGroup,
            Self::ClusterNetworkPolicy(_) => AntreaKind::ClusterNetworkPolicy,
        }
    }

    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Self::Tier(object) => &object.metadata,
            Self::ClusterGroup(object) => &object.metadata,
            Self::ClusterNetworkPolicy(object) => &object.metadata,
        }
    }

    pub fn name(&self) -> &str {
        self.meta().name.as_deref().unwrap_or_default()
    }

    pub fn key(&self) -> ObjectKey {
        ObjectKey::new(self.kind(), self.name())
    }

    /// The object as JSON (`apiVersion`, `kind`, `metadata`, `spec`, and `status` if set).
    pub fn to_value(&self) -> serde_json::Value {
        match self {
            Self::Tier(object) => serde_json::to_value(object),
            Self::ClusterGroup(object) => serde_json::to_value(object),
            Self::ClusterNetworkPolicy(object) => serde_json::to_value(object),
        }
        .unwrap_or_default()
    }
}

/// A set of owned Antrea objects, each list sorted by name: the translator's desired state, or
/// what the I/O layer found in the cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AntreaObjects {
    pub tiers: Vec<Tier>,
    pub cluster_groups: Vec<ClusterGroup>,
    pub cluster_network_policies: Vec<ClusterNetworkPolicy>,
}

/// What the translator wants in the cluster.
pub type DesiredState = AntreaObjects;
/// What the I/O layer found in the cluster (objects listed by the ownership selector, with
/// their status).
pub type ObservedState = AntreaObjects;

impl AntreaObjects {
    /// Every object, tiers first, then ClusterGroups, then policies.
    pub fn objects(&self) -> impl Iterator<Item = AntreaObject> + '_ {
        self.tiers
            .iter()
            .cloned()
            .map(AntreaObject::Tier)
            .chain(
                self.cluster_groups
                    .iter()
                    .cloned()
                    .map(AntreaObject::ClusterGroup),
            )
            .chain(
                self.cluster_network_policies
                    .iter()
                    .cloned()
                    .map(AntreaObject::ClusterNetworkPolicy),
            )
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.tiers.len() + self.cluster_groups.len() + self.cluster_network_policies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sorts each list by name (the order every consumer relies on).
    pub fn sort(&mut self) {
        self.tiers
            .sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        self.cluster_groups
            .sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        self.cluster_network_policies
            .sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    }

    /// The objects by key.
    pub fn index(&self) -> BTreeMap<ObjectKey, AntreaObject> {
        self.objects()
            .map(|object| (object.key(), object))
            .collect()
    }

    /// Adds an object to its list (callers sort afterwards).
    pub fn push(&mut self, object: AntreaObject) {
        match object {
            AntreaObject::Tier(object) => self.tiers.push(object),
            AntreaObject::ClusterGroup(object) => self.cluster_groups.push(object),
            AntreaObject::ClusterNetworkPolicy(object) => {
                self.cluster_network_policies.push(object)
            }
        }
    }
}

/// The write stage of an object: tiers, then criterion (child) groups, then NSX-group (parent)
/// groups, then policies. Deletes run in the reverse order.
pub fn write_stage(object: &AntreaObject) -> u8 {
    match object {
        AntreaObject::Tier(_) => 0,
        AntreaObject::ClusterGroup(group) => match role_of(&group.metadata) {
            Some(ObjectRole::Group) => 2,
            Some(ObjectRole::GroupCriterion) => 1,
            _ if group.spec.child_groups.is_some() => 2,
            _ => 1,
        },
        AntreaObject::ClusterNetworkPolicy(_) => 3,
    }
}
