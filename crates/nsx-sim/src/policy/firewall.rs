//! Distributed firewall intent: security policies (category, sequence number, stateful /
//! TCP-strict, scope), their rules (defaults, groups and services, `rule_id` assignment), the
//! container-cluster span that aims a policy at Antrea clusters, and `?action=revise`.

use serde_json::{Map, Value, json};

use super::kinds::Kind;
use super::services::normalize_entry;
use super::validate::{any_list, ip_literal_family};
use super::{Engine, META, TABLE, children_of};
use crate::error::ApiError;
use crate::schema::{Api, schemas};

/// The DFW categories in precedence order (Ethernet is layer 2).
pub const CATEGORIES: &[&str] = &[
    "Ethernet",
    "Emergency",
    "Infrastructure",
    "Environment",
    "Application",
];
/// Largest security-policy `sequence_number`.
pub const MAX_POLICY_SEQUENCE: i64 = 999_999;
/// First `rule_id` the simulator assigns (NSX's local-manager range starts at 1000).
pub const FIRST_RULE_ID: i64 = 1000;
const NEXT_RULE_ID_KEY: &str = "policy.next_rule_id";

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::policy_invalid(message)
}

fn non_negative(doc: &Map<String, Value>, field: &str, max: i64) -> Result<(), ApiError> {
    if let Some(v) = doc.get(field)
        && !v.as_i64().is_some_and(|n| (0..=max).contains(&n))
    {
        return Err(invalid(format!(
            "{field} must be an integer from 0 to {max}."
        )));
    }
    Ok(())
}

fn group_paths(doc: &Map<String, Value>, field: &str, allow_ips: bool) -> Result<(), ApiError> {
    for entry in doc
        .get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let text = entry.as_str().unwrap_or_default();
        if text == "ANY" || text.starts_with('/') {
            continue;
        }
        if allow_ips && ip_literal_family(text).is_some() {
            continue;
        }
        return Err(invalid(format!(
            "Invalid entry '{text}' in {field}: expected ANY, a group path{}.",
            if allow_ips {
                " or an IP address, range or CIDR"
            } else {
                ""
            }
        )));
    }
    Ok(())
}

/// Checks a security policy and fills in NSX's defaults.
pub fn normalize_policy(doc: &mut Map<String, Value>) -> Result<(), ApiError> {
    let category = doc.get("category").and_then(Value::as_str);
    if let Some(category) = category
        && !CATEGORIES.contains(&category)
    {
        return Err(invalid(format!(
            "Invalid category {category}; the distributed firewall categories are {}.",
            CATEGORIES.join(", ")
        )));
    }
    let ethernet = category == Some("Ethernet");
    non_negative(doc, "sequence_number", MAX_POLICY_SEQUENCE)?;
    doc.entry("sequence_number").or_insert(json!(0));
    let stateful = doc
        .get("stateful")
        .and_then(Value::as_bool)
        .unwrap_or(!ethernet);
    if ethernet && stateful {
        return Err(invalid(
            "A policy in the Ethernet category cannot be stateful.",
        ));
    }
    doc.insert("stateful".into(), json!(stateful));
    let tcp_strict = doc
        .get("tcp_strict")
        .and_then(Value::as_bool)
        .unwrap_or(stateful);
    if tcp_strict && !stateful {
        return Err(invalid(
            "tcp_strict is only supported for stateful policies.",
        ));
    }
    doc.insert("tcp_strict".into(), json!(tcp_strict));
    doc.entry("locked").or_insert(json!(false));
    any_list(doc, "scope")?;
    group_paths(doc, "scope", false)?;
    Ok(())
}

/// Checks a rule against its policy, fills in NSX's defaults and assigns `rule_id`.
pub fn normalize_rule(
    engine: &mut Engine<'_, '_>,
    doc: &mut Map<String, Value>,
    policy_path: &str,
    existing: Option<&Value>,
) -> Result<(), ApiError> {
    let category = engine
        .get(policy_path)
        .and_then(|p| p.get("category"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let ethernet = category.as_deref() == Some("Ethernet");
    let action = doc
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or("ALLOW")
        .to_owned();
    if action == "JUMP_TO_APPLICATION" && category.as_deref() != Some("Environment") {
        return Err(invalid(
            "The JUMP_TO_APPLICATION action is only supported in the Environment category.",
        ));
    }
    doc.insert("action".into(), json!(action));
    doc.entry("direction").or_insert(json!("IN_OUT"));
    if ethernet {
        if doc.contains_key("ip_protocol") {
            return Err(invalid(
                "ip_protocol must not be set for a layer 2 (Ethernet) rule.",
            ));
        }
    } else {
        doc.entry("ip_protocol").or_insert(json!("IPV4_IPV6"));
    }
    for flag in [
        "logged",
        "disabled",
        "sources_excluded",
        "destinations_excluded",
    ] {
        doc.entry(flag).or_insert(json!(false));
    }
    non_negative(doc, "sequence_number", i64::from(i32::MAX))?;
    doc.entry("sequence_number").or_insert(json!(0));
    for field in ["source_groups", "destination_groups"] {
        any_list(doc, field)?;
        group_paths(doc, field, true)?;
    }
    for field in ["services", "scope", "profiles"] {
        any_list(doc, field)?;
        group_paths(doc, field, false)?;
    }
    if let Some(Value::Array(entries)) = doc.get_mut("service_entries") {
        for entry in entries.iter_mut() {
            let Value::Object(map) = entry else {
                return Err(invalid("service_entries must hold objects."));
            };
            if let Some(rt) = map
                .get("resource_type")
                .and_then(Value::as_str)
                .map(str::to_owned)
            {
                for field in schemas().read_only_fields(Api::Policy, &rt) {
                    map.remove(&field);
                }
            }
            normalize_entry(map)?;
        }
    }
    let rule_id = match existing
        .and_then(|e| e.get("rule_id"))
        .and_then(Value::as_i64)
    {
        Some(id) => id,
        None => allocate_rule_id(engine)?,
    };
    doc.insert("rule_id".into(), json!(rule_id));
    Ok(())
}

fn allocate_rule_id(engine: &mut Engine<'_, '_>) -> Result<i64, ApiError> {
    let next = engine
        .txn()
        .get(META, NEXT_RULE_ID_KEY)
        .and_then(Value::as_i64)
        .unwrap_or(FIRST_RULE_ID);
    if next > i64::from(i32::MAX) {
        return Err(ApiError::internal("The rule id space is exhausted."));
    }
    engine.txn().put(META, NEXT_RULE_ID_KEY, json!(next + 1));
    Ok(next)
}

/// Checks a container-cluster span entry.
pub fn normalize_span(
    engine: &mut Engine<'_, '_>,
    doc: &mut Map<String, Value>,
    path: &str,
    policy_path: &str,
) -> Result<(), ApiError> {
    let cluster = doc
        .get("container_cluster_path")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("container_cluster_path is required."))?
        .to_owned();
    if let Some(existing) = engine.get(path)
        && existing["container_cluster_path"] != json!(cluster)
    {
        return Err(invalid(format!(
            "The container_cluster_path of {path} cannot be modified."
        )));
    }
    let duplicate = children_of(engine.tables(), policy_path, Kind::ContainerClusterSpan)
        .any(|(p, span)| p != path && span["container_cluster_path"] == json!(cluster));
    if duplicate {
        return Err(invalid(format!(
            "The container cluster {cluster} is already in the span of {policy_path}."
        )));
    }
    doc.entry("container_cluster_type")
        .or_insert(json!("ANTREA"));
    Ok(())
}

/// `?action=revise` operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviseOperation {
    /// Before every sibling.
    InsertTop,
    /// After every sibling.
    InsertBottom,
    /// Right after the anchor.
    InsertAfter,
    /// Right before the anchor.
    InsertBefore,
}

impl ReviseOperation {
    /// Parses the `operation` query parameter (default `insert_top`).
    pub fn parse(value: Option<&str>) -> Result<Self, ApiError> {
        match value.unwrap_or("insert_top") {
            "insert_top" => Ok(Self::InsertTop),
            "insert_bottom" => Ok(Self::InsertBottom),
            "insert_after" => Ok(Self::InsertAfter),
            "insert_before" => Ok(Self::InsertBefore),
            other => Err(ApiError::bad_parameter(format!(
                "Invalid operation {other}; expected insert_top, insert_bottom, insert_after or insert_before."
            ))),
        }
    }
}

fn sequence(doc: &Value) -> i64 {
    doc.get("sequence_number")
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// The siblings a policy or rule is ordered among, by `(sequence_number, path)`.
fn ordered_siblings(engine: &Engine<'_, '_>, kind: Kind, path: &str) -> Vec<(String, i64)> {
    let tables = engine.tables();
    let mut siblings: Vec<(String, i64)> = match kind {
        Kind::SecurityPolicy => {
            let category = engine
                .get(path)
                .and_then(|p| p.get("category"))
                .cloned()
                .unwrap_or(Value::Null);
            tables
                .scan_prefix(TABLE, "/infra/domains/")
                .filter(|(p, doc)| {
                    super::kinds::kind_of_path(p) == Some(Kind::SecurityPolicy)
                        && doc.get("category").cloned().unwrap_or(Value::Null) == category
                })
                .map(|(p, doc)| (p.clone(), sequence(doc)))
                .collect()
        }
        _ => {
            let Some((policy, _)) = super::kinds::split_path(path) else {
                return Vec::new();
            };
            children_of(tables, policy, Kind::Rule)
                .map(|(p, doc)| (p.clone(), sequence(doc)))
                .collect()
        }
    };
    siblings.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    siblings
}

/// Moves the policy or rule at `path` among its siblings and recomputes `sequence_number`s,
/// changing as few siblings as possible.
pub fn revise(
    engine: &mut Engine<'_, '_>,
    kind: Kind,
    path: &str,
    operation: ReviseOperation,
    anchor: Option<&str>,
) -> Result<(), ApiError> {
    let max = if kind == Kind::SecurityPolicy {
        MAX_POLICY_SEQUENCE
    } else {
        i64::from(i32::MAX)
    };
    let mut order: Vec<(String, i64)> = ordered_siblings(engine, kind, path)
        .into_iter()
        .filter(|(p, _)| p != path)
        .collect();
    let index = match operation {
        ReviseOperation::InsertTop => 0,
        ReviseOperation::InsertBottom => order.len(),
        ReviseOperation::InsertAfter | ReviseOperation::InsertBefore => {
            let anchor = anchor.ok_or_else(|| {
                ApiError::bad_parameter(
                    "anchor_path is required for insert_after and insert_before.",
                )
            })?;
            let at = order.iter().position(|(p, _)| p == anchor).ok_or_else(|| {
                invalid(format!(
                    "The anchor {anchor} is not a sibling of {path} (same {}).",
                    if kind == Kind::SecurityPolicy {
                        "category"
                    } else {
                        "policy"
                    }
                ))
            })?;
            if operation == ReviseOperation::InsertAfter {
                at + 1
            } else {
                at
            }
        }
    };
    let before = index.checked_sub(1).map(|i| order[i].1);
    let after = order.get(index).map(|s| s.1);
    let slot = match (before, after) {
        (None, None) => Some(0),
        (None, Some(a)) => (a > 0).then(|| a - 1),
        (Some(b), None) => (b < max).then(|| b + 1),
        (Some(b), Some(a)) => (a - b >= 2).then(|| b + (a - b) / 2),
    };
    match slot {
        Some(n) => engine.touch(path, |doc| {
            doc.insert("sequence_number".into(), json!(n));
        }),
        None => {
            // No gap: renumber the whole sibling list, keeping its order.
            order.insert(index, (path.to_owned(), -1));
            let step = (max / (order.len() as i64 + 1)).clamp(1, 10);
            for (i, (p, old)) in order.iter().enumerate() {
                let n = (i as i64 + 1) * step;
                if *old != n {
                    engine.touch(p, |doc| {
                        doc.insert("sequence_number".into(), json!(n));
                    });
                }
            }
        }
    }
    Ok(())
}
