//! Deterministic Kubernetes names, labels and annotations for everything the CCP adapter
//! writes, and the ownership test that decides what it may touch.
//!
//! NSX ids, paths and tags are not valid Kubernetes names or label values (upper case, `_`,
//! `/`, any length), so every name is a sanitised, readable prefix plus a hash of the NSX
//! `unique_id`. Names stay stable for the life of the NSX object and are at most 63 characters,
//! so they are also valid label values. Two NSX objects can only share a name through a 64-bit
//! hash collision, which the translator detects and reports (`NameConflict`) instead of
//! merging them.

use std::collections::BTreeMap;

use antrea_admission::labels::label_value_errors;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::span::ClusterIdentity;

/// `app.kubernetes.io/managed-by`: the garbage-collection selector.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Our value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY: &str = "antrea-nsx-ccp-adapter";
/// The prefix of our own label and annotation keys.
pub const KEY_PREFIX: &str = "ccp-adapter.antrea-nsx.io";
/// Label: the cluster (NSX identity) the object was written for.
pub const CLUSTER_ID_LABEL: &str = "ccp-adapter.antrea-nsx.io/cluster-id";
/// Label: what the object is ([`ObjectRole`]).
pub const ROLE_LABEL: &str = "ccp-adapter.antrea-nsx.io/kind";
/// Label on a criterion ClusterGroup: the name of its parent ClusterGroup.
pub const PARENT_LABEL: &str = "ccp-adapter.antrea-nsx.io/parent";
/// Annotation: the NSX path of the object the Antrea object was translated from.
pub const NSX_PATH_ANNOTATION: &str = "ccp-adapter.antrea-nsx.io/nsx-path";
/// Annotation: the NSX `unique_id`.
pub const NSX_UNIQUE_ID_ANNOTATION: &str = "ccp-adapter.antrea-nsx.io/nsx-unique-id";
/// Annotation: the NSX `display_name`.
pub const DISPLAY_NAME_ANNOTATION: &str = "ccp-adapter.antrea-nsx.io/display-name";
/// Annotation: the NSX `_revision` at the last write of the object.
pub const NSX_REVISION_ANNOTATION: &str = "ccp-adapter.antrea-nsx.io/nsx-revision";
/// Annotation: the hash of the rendered `spec` ([`spec_hash`]).
pub const SPEC_HASH_ANNOTATION: &str = "ccp-adapter.antrea-nsx.io/spec-hash";
/// Annotation on a Tier: the NSX category it holds.
pub const NSX_CATEGORY_ANNOTATION: &str = "ccp-adapter.antrea-nsx.io/nsx-category";

/// Longest readable part of a name taken from an NSX id.
const READABLE_MAX: usize = 30;
/// Hex digits of the unique-id hash in policy and group names (64 bits).
const NAME_HASH_HEX: usize = 16;
/// Hex digits of the spec hash in criterion names (32 bits; unique within one parent).
const CRITERION_HASH_HEX: usize = 8;
/// Hex digits of [`spec_hash`] (128 bits).
const SPEC_HASH_HEX: usize = 32;
/// NSX truncates a rule `tag` at this length in its logs.
const NSX_TAG_MAX: usize = 32;

/// What an owned object is, as the value of [`ROLE_LABEL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectRole {
    /// A Tier for one NSX category.
    Tier,
    /// The ClusterGroup of an NSX group (a parent of criterion groups).
    Group,
    /// A ClusterGroup holding one criterion of an NSX group (a child).
    GroupCriterion,
    /// The ClusterNetworkPolicy of an NSX security policy.
    Policy,
}

impl ObjectRole {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tier => "tier",
            Self::Group => "group",
            Self::GroupCriterion => "group-criterion",
            Self::Policy => "policy",
        }
    }

    /// The role named by a label value.
    pub fn from_label(value: &str) -> Option<Self> {
        match value {
            "tier" => Some(Self::Tier),
            "group" => Some(Self::Group),
            "group-criterion" => Some(Self::GroupCriterion),
            "policy" => Some(Self::Policy),
            _ => None,
        }
    }
}

/// Hex SHA-256 of `text`, cut to `hex_len` digits.
pub fn short_hash(text: &str, hex_len: usize) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = hex::encode(digest);
    hex.truncate(hex_len);
    hex
}

/// Lower-case alphanumerics and single dashes from `text`, at most `max` characters, never
/// starting or ending with a dash (may be empty).
pub fn sanitize(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= max {
            break;
        }
    }
    out.truncate(max);
    while out.ends_with('-') {
        out.pop();
    }
    out
}

fn hashed_name(kind_prefix: &str, readable_from: &str, unique_id: &str) -> String {
    let readable = sanitize(readable_from, READABLE_MAX);
    let hash = short_hash(unique_id, NAME_HASH_HEX);
    if readable.is_empty() {
        format!("{kind_prefix}-{hash}")
    } else {
        format!("{kind_prefix}-{readable}-{hash}")
    }
}

/// The ClusterNetworkPolicy name of an NSX security policy: `nsx-p-<id>-<hash(unique_id)>`.
pub fn policy_name(nsx_id: &str, unique_id: &str) -> String {
    hashed_name("nsx-p", nsx_id, unique_id)
}

/// The ClusterGroup name of an NSX group: `nsx-g-<id>-<hash(unique_id)>`.
pub fn group_name(nsx_id: &str, unique_id: &str) -> String {
    hashed_name("nsx-g", nsx_id, unique_id)
}

/// The name of a criterion ClusterGroup: its parent's name and a hash of its spec, so that a
/// changed criterion is a new child (the parent switches over, the old child is deleted) and
/// identical criteria of one group share a child.
pub fn criterion_name(parent: &str, spec_hash: &str) -> String {
    format!(
        "{parent}-{}",
        &spec_hash[..CRITERION_HASH_HEX.min(spec_hash.len())]
    )
}

/// The last segment of an NSX path (the object id).
pub fn path_id(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// A valid label value standing for `text`: `text` itself when it is one, else a sanitised
/// prefix and a hash (so distinct inputs never share a value).
pub fn label_value(text: &str) -> String {
    if label_value_errors(text).is_empty() {
        return text.to_owned();
    }
    let readable = sanitize(text, 40);
    let hash = short_hash(text, 16);
    if readable.is_empty() {
        hash
    } else {
        format!("{readable}-{hash}")
    }
}

/// Which side of the applied-to an Antrea rule is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleSide {
    Ingress,
    Egress,
}

impl RuleSide {
    fn suffix(self) -> &'static str {
        match self {
            Self::Ingress => "in",
            Self::Egress => "out",
        }
    }
}

/// The Antrea rule name of an NSX rule on one side: `r-<rule_id>-in` or `r-<rule_id>-out`.
/// Unique across ingress and egress; the join key of rule statistics and Traceflow.
pub fn rule_name(rule_id: i64, side: RuleSide) -> String {
    format!("r-{rule_id}-{}", side.suffix())
}

/// The NSX rule id and side an Antrea rule name stands for ([`rule_name`] reversed).
pub fn parse_rule_name(name: &str) -> Option<(i64, RuleSide)> {
    let rest = name.strip_prefix("r-")?;
    let (id, side) = rest.rsplit_once('-')?;
    let side = match side {
        "in" => RuleSide::Ingress,
        "out" => RuleSide::Egress,
        _ => return None,
    };
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((id.parse().ok()?, side))
}

/// The Antrea `logLabel` for an NSX rule `tag`: cut at 32 characters as NSX does, characters
/// outside `[A-Za-z0-9_.-]` replaced by `_`, trimmed to start and end with an alphanumeric.
/// `None` when nothing is left.
pub fn log_label(tag: &str) -> Option<String> {
    let cut: String = tag
        .chars()
        .take(NSX_TAG_MAX)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = cut.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// The hash of a rendered spec (its JSON serialization), for the spec-hash annotation.
pub fn spec_hash<T: Serialize>(spec: &T) -> String {
    let bytes = serde_json::to_vec(spec).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    let mut hex = hex::encode(digest);
    hex.truncate(SPEC_HASH_HEX);
    hex
}

/// The labels every owned object carries.
pub fn ownership_labels(identity: &ClusterIdentity, role: ObjectRole) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY_LABEL.to_owned(), MANAGED_BY.to_owned()),
        (
            CLUSTER_ID_LABEL.to_owned(),
            label_value(&identity.cluster_id),
        ),
        (ROLE_LABEL.to_owned(), role.as_str().to_owned()),
    ])
}

/// The label selector that lists this adapter's objects for this cluster
/// (`app.kubernetes.io/managed-by=...,ccp-adapter.antrea-nsx.io/cluster-id=...`).
pub fn ownership_selector(identity: &ClusterIdentity) -> String {
    format!(
        "{MANAGED_BY_LABEL}={MANAGED_BY},{CLUSTER_ID_LABEL}={}",
        label_value(&identity.cluster_id)
    )
}

/// Whether an object carries our ownership labels for this cluster. Nothing else is ever
/// updated or deleted.
pub fn is_owned(meta: &ObjectMeta, identity: &ClusterIdentity) -> bool {
    let Some(labels) = meta.labels.as_ref() else {
        return false;
    };
    labels.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY)
        && labels.get(CLUSTER_ID_LABEL) == Some(&label_value(&identity.cluster_id))
}

/// The role label of an object, if it has a known one.
pub fn role_of(meta: &ObjectMeta) -> Option<ObjectRole> {
    meta.labels
        .as_ref()?
        .get(ROLE_LABEL)
        .and_then(|value| ObjectRole::from_label(value))
}

#[cfg(test)]
mod tests {
    use antrea_admission::labels::{dns1123_subdomain_errors, qualified_name_errors};
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn names_are_readable_hashed_and_short() {
        let name = policy_name("Allow_Web/Traffic", "0c5f6e2a-1111-4222-8333-444455556666");
        assert!(name.starts_with("nsx-p-allow-web-traffic-"), "{name}");
        assert_eq!(name.len(), "nsx-p-allow-web-traffic-".len() + 16);
        assert_eq!(
            name,
            policy_name("Allow_Web/Traffic", "0c5f6e2a-1111-4222-8333-444455556666")
        );
        assert_ne!(name, policy_name("Allow_Web/Traffic", "another"));
        assert!(group_name("___", "u").starts_with("nsx-g-"));
        assert_eq!(group_name("___", "u").len(), "nsx-g-".len() + 16);
        let long = group_name(&"x".repeat(200), "u");
        assert!(long.len() <= 63, "{long}");
        assert!(criterion_name(&long, &spec_hash(&"spec")).len() <= 63);
    }

    #[test]
    fn label_values_are_valid_and_distinct() {
        assert_eq!(label_value("cluster-1"), "cluster-1");
        let odd = label_value("/infra/sites/default/cluster control plane");
        assert!(label_value_errors(&odd).is_empty(), "{odd}");
        assert_ne!(label_value("a b"), label_value("a_b "));
        assert!(label_value_errors(&label_value(&"é".repeat(100))).is_empty());
    }

    #[test]
    fn rule_names_round_trip() {
        assert_eq!(rule_name(1017, RuleSide::Ingress), "r-1017-in");
        assert_eq!(rule_name(1017, RuleSide::Egress), "r-1017-out");
        assert_eq!(
            parse_rule_name("r-1017-out"),
            Some((1017, RuleSide::Egress))
        );
        assert_eq!(parse_rule_name("r--in"), None);
        assert_eq!(parse_rule_name("r-12a-in"), None);
        assert_eq!(parse_rule_name("ingress-allow-1234567"), None);
    }

    #[test]
    fn log_labels_follow_antrea_pattern() {
        assert_eq!(log_label("web").as_deref(), Some("web"));
        assert_eq!(log_label("web tier #1").as_deref(), Some("web_tier__1"));
        assert_eq!(log_label("--x--").as_deref(), Some("x"));
        assert_eq!(log_label("###"), None);
        assert_eq!(log_label(&"a".repeat(40)).map(|l| l.len()), Some(32));
    }

    #[test]
    fn ownership_needs_both_labels() {
        let identity = ClusterIdentity::new("cluster-a");
        let mut meta = ObjectMeta {
            labels: Some(ownership_labels(&identity, ObjectRole::Policy)),
            ..ObjectMeta::default()
        };
        assert!(is_owned(&meta, &identity));
        assert_eq!(role_of(&meta), Some(ObjectRole::Policy));
        assert!(!is_owned(&meta, &ClusterIdentity::new("cluster-b")));
        meta.labels.as_mut().unwrap().remove(MANAGED_BY_LABEL);
        assert!(!is_owned(&meta, &identity));
        assert!(!is_owned(&ObjectMeta::default(), &identity));
        assert_eq!(
            ownership_selector(&identity),
            "app.kubernetes.io/managed-by=antrea-nsx-ccp-adapter,ccp-adapter.antrea-nsx.io/cluster-id=cluster-a"
        );
        for key in ownership_labels(&identity, ObjectRole::Tier).keys() {
            assert!(qualified_name_errors(key).is_empty(), "{key}");
        }
    }

    proptest! {
        #[test]
        fn every_name_is_a_valid_label_value_and_subdomain(id in ".{0,80}", unique in ".{1,40}") {
            for name in [policy_name(&id, &unique), group_name(&id, &unique)] {
                prop_assert!(dns1123_subdomain_errors(&name).is_empty(), "{}", name);
                prop_assert!(label_value_errors(&name).is_empty(), "{}", name);
                let child = criterion_name(&name, &spec_hash(&unique));
                prop_assert!(label_value_errors(&child).is_empty(), "{}", child);
            }
            prop_assert!(label_value_errors(&label_value(&id)).is_empty());
            if let Some(label) = log_label(&id) {
                prop_assert!(label_value_errors(&label).is_empty(), "{}", label);
            }
        }
    }
}
