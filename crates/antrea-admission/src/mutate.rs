//! The mutating webhook for ACNP/ANNP (`mutate.go`, CREATE and UPDATE): an empty `spec.tier`
//! becomes `application`, and every rule without a name gets
//! `<ingress|egress>-<lower-case action>-<first 7 hex digits of SHA-1 of the rule's Go JSON>`.

use antrea_types::policy::Rule;
use antrea_types::tier::DEFAULT_TIER_NAME;
use antrea_types::{ClusterNetworkPolicySpec, NetworkPolicySpec};
use serde_json::{Value, json};

use crate::go_json::marshal_rule;

/// Number of hex digits of the rule hash in a generated name (`ruleNameSuffixLen`).
const RULE_NAME_SUFFIX_LEN: usize = 7;

/// One `replace` operation of the webhook's JSON Patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replace {
    /// JSON Pointer, e.g. `/spec/ingress/0/name` or `/spec/tier`.
    pub path: String,
    pub value: String,
}

/// What the mutating webhook changes; empty when the policy already names its tier and rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mutation {
    /// In Antrea's order: ingress rule names, egress rule names, then the tier.
    pub replacements: Vec<Replace>,
}

impl Mutation {
    pub fn is_empty(&self) -> bool {
        self.replacements.is_empty()
    }

    /// The JSON Patch Antrea returns (`[{"op":"replace","path":...,"value":...}]`).
    pub fn json_patch(&self) -> Value {
        Value::Array(
            self.replacements
                .iter()
                .map(|replace| json!({"op": "replace", "path": replace.path, "value": replace.value}))
                .collect(),
        )
    }

    /// Applies the mutation to an ACNP spec (setting the fields, present or not).
    pub fn apply_to_cluster_network_policy(&self, spec: &mut ClusterNetworkPolicySpec) {
        self.apply(
            &mut spec.tier,
            spec.ingress.as_deref_mut(),
            spec.egress.as_deref_mut(),
        );
    }

    /// Applies the mutation to an ANNP spec.
    pub fn apply_to_network_policy(&self, spec: &mut NetworkPolicySpec) {
        self.apply(
            &mut spec.tier,
            spec.ingress.as_deref_mut(),
            spec.egress.as_deref_mut(),
        );
    }

    fn apply(
        &self,
        tier: &mut Option<String>,
        mut ingress: Option<&mut [Rule]>,
        mut egress: Option<&mut [Rule]>,
    ) {
        for replace in &self.replacements {
            let parts: Vec<&str> = replace.path.trim_start_matches('/').split('/').collect();
            match parts.as_slice() {
                ["spec", "tier"] => *tier = Some(replace.value.clone()),
                ["spec", direction, index, "name"] => {
                    let rules = if *direction == "ingress" {
                        ingress.as_deref_mut()
                    } else {
                        egress.as_deref_mut()
                    };
                    if let Some(rule) = index
                        .parse::<usize>()
                        .ok()
                        .and_then(|index| rules?.get_mut(index))
                    {
                        rule.name = Some(replace.value.clone());
                    }
                }
                _ => {}
            }
        }
    }
}

/// The name the webhook gives a rule without one (`direction` is `ingress` or `egress`).
pub fn generated_rule_name(direction: &str, rule: &Rule) -> String {
    let digest = sha1_smol::Sha1::from(marshal_rule(rule))
        .digest()
        .to_string();
    format!(
        "{direction}-{}-{}",
        rule.action.as_str().to_lowercase(),
        &digest[..RULE_NAME_SUFFIX_LEN]
    )
}

fn rule_names(direction: &str, rules: Option<&[Rule]>, replacements: &mut Vec<Replace>) {
    for (index, rule) in rules.unwrap_or_default().iter().enumerate() {
        if rule.name.as_deref().unwrap_or_default().is_empty() {
            replacements.push(Replace {
                path: format!("/spec/{direction}/{index}/name"),
                value: generated_rule_name(direction, rule),
            });
        }
    }
}

fn mutate(tier: Option<&str>, ingress: Option<&[Rule]>, egress: Option<&[Rule]>) -> Mutation {
    let mut replacements = Vec::new();
    rule_names("ingress", ingress, &mut replacements);
    rule_names("egress", egress, &mut replacements);
    if tier.unwrap_or_default().is_empty() {
        replacements.push(Replace {
            path: "/spec/tier".to_owned(),
            value: DEFAULT_TIER_NAME.to_owned(),
        });
    }
    Mutation { replacements }
}

/// The mutation of an ACNP on CREATE or UPDATE (DELETE is not mutated).
pub fn mutate_cluster_network_policy(spec: &ClusterNetworkPolicySpec) -> Mutation {
    mutate(
        spec.tier.as_deref(),
        spec.ingress.as_deref(),
        spec.egress.as_deref(),
    )
}

/// The mutation of an ANNP on CREATE or UPDATE.
pub fn mutate_network_policy(spec: &NetworkPolicySpec) -> Mutation {
    mutate(
        spec.tier.as_deref(),
        spec.ingress.as_deref(),
        spec.egress.as_deref(),
    )
}
