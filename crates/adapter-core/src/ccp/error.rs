//! Realization errors: why an NSX object is not (or not yet) enforced, in the vocabulary of
//! docs/protocol.md §6.8 (`RealizationError{reason, message, rule_path, rule_id, field}`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The reason of a realization error (an UpperCamelCase string on the wire). The list is the
/// protocol's, plus the reasons this adapter adds (marked below); receivers accept unknown ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Reason {
    /// The document is not a valid NSX object of its kind.
    InvalidDocument,
    /// A field this adapter does not know and cannot prove harmless.
    UnknownField,
    /// Not one of Emergency, Infrastructure, Environment, Application.
    UnsupportedCategory,
    /// An action Antrea cannot express here.
    UnsupportedAction,
    /// `sources_excluded` / `destinations_excluded`.
    NegationUnsupported,
    /// A service entry Antrea cannot express exactly.
    UnsupportedServiceEntry,
    /// Layer-7 context profiles.
    ProfilesUnsupported,
    /// `scheduler_path` (time windows).
    SchedulerUnsupported,
    /// `stateful: false`.
    StatefulnessUnsupported,
    /// A group that is not an Antrea group, or identity/MAC/external-id members.
    UnsupportedGroup,
    /// A condition or combination Antrea groups cannot express.
    UnsupportedGroupExpression,
    /// An Antrea group with IP members used as applied-to.
    #[serde(rename = "IPGroupInAppliedTo")]
    IpGroupInAppliedTo,
    /// A referenced group or service is not in the desired state.
    MissingReference,
    /// The Kubernetes API or an Antrea webhook refused an object (or would: the translator
    /// checks every object against Antrea's admission rules and CRD schemas).
    AntreaRejected,
    /// Antrea reports the policy `Failed` or not realizable, or a group not computable.
    AntreaRealizationFailed,
    /// Not realized within the realization timeout.
    RealizationTimeout,
    /// The Kubernetes API cannot be reached.
    KubernetesUnavailable,
    /// (adapter) A rule sets both sources and destinations; for Antrea clusters the far end of
    /// a rule is its applied-to.
    SourcesAndDestinations,
    /// (adapter) The rule's direction contradicts its peers (sources with `OUT`,
    /// destinations with `IN`).
    UnsupportedDirection,
    /// (adapter) An `ip_protocol` restriction Antrea cannot express for these peers.
    IpProtocolUnsupported,
    /// (adapter) `connectivity_preference`/`connectivity_strategy`/
    /// `application_connectivity_strategy`: NSX adds default rules that are not in the document.
    DefaultRuleUnsupported,
    /// (adapter) Two NSX objects map to one Antrea name (a hash collision), or an object with
    /// our name exists and is not ours.
    NameConflict,
}

impl Reason {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidDocument => "InvalidDocument",
            Self::UnknownField => "UnknownField",
            Self::UnsupportedCategory => "UnsupportedCategory",
            Self::UnsupportedAction => "UnsupportedAction",
            Self::NegationUnsupported => "NegationUnsupported",
            Self::UnsupportedServiceEntry => "UnsupportedServiceEntry",
            Self::ProfilesUnsupported => "ProfilesUnsupported",
            Self::SchedulerUnsupported => "SchedulerUnsupported",
            Self::StatefulnessUnsupported => "StatefulnessUnsupported",
            Self::UnsupportedGroup => "UnsupportedGroup",
            Self::UnsupportedGroupExpression => "UnsupportedGroupExpression",
            Self::IpGroupInAppliedTo => "IPGroupInAppliedTo",
            Self::MissingReference => "MissingReference",
            Self::AntreaRejected => "AntreaRejected",
            Self::AntreaRealizationFailed => "AntreaRealizationFailed",
            Self::RealizationTimeout => "RealizationTimeout",
            Self::KubernetesUnavailable => "KubernetesUnavailable",
            Self::SourcesAndDestinations => "SourcesAndDestinations",
            Self::UnsupportedDirection => "UnsupportedDirection",
            Self::IpProtocolUnsupported => "IpProtocolUnsupported",
            Self::DefaultRuleUnsupported => "DefaultRuleUnsupported",
            Self::NameConflict => "NameConflict",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with one NSX object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct RealizationError {
    pub reason: Reason,
    /// A sentence for the NSX user; names the rule (id and display name) when it is about one.
    pub message: String,
    /// The NSX path of the rule, when the problem is one rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_path: Option<String>,
    /// The NSX `rule_id`, when the problem is one rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<i64>,
    /// Where in the document, e.g. `rules[2].service_entries[0].source_ports`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl RealizationError {
    /// An error about the object as a whole.
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            rule_path: None,
            rule_id: None,
            field: None,
        }
    }

    /// Points the error at a field of the document.
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}
