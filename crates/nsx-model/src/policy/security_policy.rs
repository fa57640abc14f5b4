//! `SecurityPolicy` (a DFW section) and its embedded `Rule`s (nsx-api.md §2.4, §2.5), every
//! field of the NSX 4.2 models.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::common::PolicyObjectMeta;
use super::policy_enum;
use super::service::ServiceEntry;

policy_enum! {
    /// `SecurityPolicy.category` for the distributed firewall, highest precedence first
    /// (Ethernet is layer 2; the others are layer 3).
    PolicyCategory {
        Ethernet = "Ethernet",
        Emergency = "Emergency",
        Infrastructure = "Infrastructure",
        Environment = "Environment",
        Application = "Application",
    }
}

policy_enum! {
    /// `SecurityPolicy.connectivity_preference`: a default rule NSX adds to the policy.
    ConnectivityPreference {
        Allowlist = "ALLOWLIST",
        Denylist = "DENYLIST",
        AllowlistEnableLogging = "ALLOWLIST_ENABLE_LOGGING",
        DenylistEnableLogging = "DENYLIST_ENABLE_LOGGING",
        None = "NONE",
    }
}

policy_enum! {
    /// `SecurityPolicy.connectivity_strategy` (the older spelling of the preference).
    ConnectivityStrategy {
        Whitelist = "WHITELIST",
        Blacklist = "BLACKLIST",
        WhitelistEnableLogging = "WHITELIST_ENABLE_LOGGING",
        BlacklistEnableLogging = "BLACKLIST_ENABLE_LOGGING",
        None = "NONE",
    }
}

policy_enum! {
    /// `Rule.action`.
    RuleAction {
        Allow = "ALLOW",
        Drop = "DROP",
        Reject = "REJECT",
        /// Skip the rest of the Environment category (valid there only).
        JumpToApplication = "JUMP_TO_APPLICATION",
    }
}

policy_enum! {
    /// `Rule.direction` (the default is `IN_OUT`).
    RuleDirection {
        In = "IN",
        Out = "OUT",
        InOut = "IN_OUT",
    }
}

policy_enum! {
    /// `Rule.ip_protocol` (the default for layer-3 rules is `IPV4_IPV6`).
    IpProtocol {
        Ipv4 = "IPV4",
        Ipv6 = "IPV6",
        Ipv4Ipv6 = "IPV4_IPV6",
    }
}

/// A DFW security policy with its rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecurityPolicy {
    /// `"SecurityPolicy"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    #[serde(flatten)]
    pub meta: PolicyObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<PolicyCategory>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
    /// Read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_sequence_number: Option<i64>,
    /// Read-only: NSX's default policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
    /// Read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_modified_by: Option<String>,
    /// Read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_modified_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked: Option<bool>,
    /// Read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_count: Option<i64>,
    /// A time window (`/infra/domains/.../schedulers/...`): the policy applies only then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_path: Option<String>,
    /// Policy-level applied-to group paths; wins over rule-level scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<String>>,
    /// Order within the category (0..999,999), lower first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stateful: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_strict: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_connectivity_strategy: Option<Vec<ApplicationConnectivityStrategy>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connectivity_preference: Option<ConnectivityPreference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connectivity_strategy: Option<ConnectivityStrategy>,
    /// Read-only: the rule NSX added for the connectivity strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_rule_id: Option<i64>,
    /// Deprecated: log every rule of the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<Rule>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A granular application connectivity strategy (adds default rules).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApplicationConnectivityStrategy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_connectivity_strategy: Option<String>,
    /// Read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_application_rule_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging_enabled: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A DFW rule: every field of the NSX 4.2 `Rule` model, plus any later field in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// `"Rule"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    #[serde(flatten)]
    pub meta: PolicyObjectMeta,
    /// Group paths, literal IPs/CIDRs/ranges, or `["ANY"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_groups: Option<Vec<String>>,
    /// Negate `destination_groups`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destinations_excluded: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<RuleDirection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_protocol: Option<IpProtocol>,
    /// Read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logged: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Layer-7 context profile paths, or `["ANY"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles: Option<Vec<String>>,
    /// Read-only: the system-assigned number that reaches the data path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<i64>,
    /// Rule-level applied-to group paths, or `["ANY"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<String>>,
    /// Order within the policy, lower first (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<i64>,
    /// Raw service entries, in addition to `services`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_entries: Option<Vec<ServiceEntry>>,
    /// Service paths, or `["ANY"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<String>>,
    /// Group paths, literal IPs/CIDRs/ranges, or `["ANY"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_groups: Option<Vec<String>>,
    /// Negate `source_groups`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources_excluded: Option<bool>,
    /// Printed in logs (NSX truncates it at 32 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<RuleAction>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_policy_with_rules_round_trips() {
        let document = json!({
            "resource_type": "SecurityPolicy", "id": "p", "path": "/infra/domains/default/security-policies/p",
            "unique_id": "0c5f", "_revision": 3, "category": "Application", "sequence_number": 10,
            "stateful": true, "tcp_strict": true, "scope": ["ANY"],
            "rules": [{
                "resource_type": "Rule", "id": "r", "rule_id": 1017, "sequence_number": 1,
                "source_groups": ["/infra/domains/default/groups/a"], "destination_groups": ["ANY"],
                "services": ["/infra/services/HTTP"], "action": "JUMP_TO_APPLICATION",
                "direction": "IN_OUT", "ip_protocol": "IPV4_IPV6", "logged": true, "tag": "t",
                "service_entries": [{"resource_type": "L4PortSetServiceEntry", "l4_protocol": "UDP", "destination_ports": ["53"]}],
                "packet_limit": 5
            }],
            "future_policy_field": "x"
        });
        let policy: SecurityPolicy = serde_json::from_value(document.clone()).unwrap();
        assert_eq!(policy.category, Some(PolicyCategory::Application));
        assert_eq!(policy.meta.revision, Some(3));
        let rule = &policy.rules.as_ref().unwrap()[0];
        assert_eq!(rule.action, Some(RuleAction::JumpToApplication));
        assert_eq!(rule.direction, Some(RuleDirection::InOut));
        assert_eq!(rule.rule_id, Some(1017));
        assert_eq!(rule.extra.keys().collect::<Vec<_>>(), ["packet_limit"]);
        assert_eq!(
            policy.extra.keys().collect::<Vec<_>>(),
            ["future_policy_field"]
        );
        assert_eq!(serde_json::to_value(&policy).unwrap(), document);
    }

    #[test]
    fn wrong_types_are_errors() {
        assert!(serde_json::from_value::<Rule>(json!({"logged": "yes"})).is_err());
        assert!(serde_json::from_value::<SecurityPolicy>(json!({"rules": {}})).is_err());
    }
}
