//! Groups: the expression list rules NSX enforces (alternation of expressions and
//! `ConjunctionOperator`s, the per-list and per-nesting limits, member-type/key/operator
//! combinations, IP/MAC formats), `group_type` rules (`IPAddress` groups hold only IP
//! addresses; `ANTREA` groups follow the Antrea group rules of VCF 9 "Antrea Groups"; a group's
//! type cannot change), and the ids and paths NSX gives each expression.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::validate::{ip_literal_family, is_mac};
use crate::error::ApiError;
use crate::schema::{Api, schemas};

/// Most Condition + NestedExpression members in one expression list.
pub const MAX_CRITERIA: usize = 5;
/// Most conditions in one NestedExpression.
pub const MAX_NESTED_CONDITIONS: usize = 5;
/// Most MAC addresses across a group's MACAddressExpressions.
pub const MAX_MAC_ADDRESSES: usize = 4000;

const GROUP_TYPES: &[&str] = &["IPAddress", "ANTREA"];

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::policy_invalid(message)
}

/// The path segment NSX uses for expressions of a type under their group.
fn expression_segment(resource_type: &str) -> &'static str {
    match resource_type {
        "Condition" => "condition-expressions",
        "ConjunctionOperator" => "conjunction-expressions",
        "NestedExpression" => "nested-expressions",
        "IPAddressExpression" => "ip-address-expressions",
        "MACAddressExpression" => "mac-address-expressions",
        "ExternalIDExpression" => "external-id-expressions",
        "PathExpression" => "path-expressions",
        _ => "identity-group-expressions",
    }
}

/// Validates and completes a group document.
pub fn normalize(
    doc: &mut Map<String, Value>,
    path: &str,
    existing: Option<&Value>,
) -> Result<(), ApiError> {
    let group_type: Vec<String> = doc
        .get("group_type")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    for t in &group_type {
        if !GROUP_TYPES.contains(&t.as_str()) {
            return Err(invalid(format!("Invalid group_type {t}.")));
        }
    }
    let types: BTreeSet<&str> = group_type.iter().map(String::as_str).collect();
    if let Some(existing) = existing {
        let before: BTreeSet<&str> = existing["group_type"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if before != types {
            return Err(invalid(format!(
                "The group_type of {path} cannot be changed ({before:?} to {types:?})."
            )));
        }
    }
    doc.insert("group_type".into(), json!(group_type));

    let mut expression = take_list(doc, "expression")?;
    check_list(&expression, true)?;
    let mut extended = take_list(doc, "extended_expression")?;
    if extended.len() > 1
        || extended
            .iter()
            .any(|e| e["resource_type"] != "IdentityGroupExpression")
    {
        return Err(invalid(
            "extended_expression supports a single IdentityGroupExpression.",
        ));
    }
    for e in &extended {
        check_member(e)?;
    }
    let macs: usize = expression
        .iter()
        .filter(|e| e["resource_type"] == "MACAddressExpression")
        .map(|e| e["mac_addresses"].as_array().map_or(0, Vec::len))
        .sum();
    if macs > MAX_MAC_ADDRESSES {
        return Err(invalid(format!(
            "A group can hold at most {MAX_MAC_ADDRESSES} MAC addresses; {macs} were given."
        )));
    }
    if types.contains("ANTREA") {
        check_antrea(&expression)?;
        if !extended.is_empty() {
            return Err(invalid(
                "An ANTREA group cannot have an extended_expression.",
            ));
        }
    } else {
        check_nested_same_member_type(&expression)?;
    }
    if types.contains("IPAddress") && !types.contains("ANTREA") {
        for e in &expression {
            let rt = e["resource_type"].as_str().unwrap_or_default();
            let ok = rt == "IPAddressExpression"
                || (rt == "ConjunctionOperator" && e["conjunction_operator"] == "OR");
            if !ok {
                return Err(invalid(format!(
                    "A group of type IPAddress can only contain IPAddressExpressions joined by OR; found {rt}."
                )));
            }
        }
    }
    for e in expression.iter_mut().chain(extended.iter_mut()) {
        stamp_expression(e, path);
    }
    doc.insert("expression".into(), Value::Array(expression));
    doc.insert("extended_expression".into(), Value::Array(extended));
    Ok(())
}

fn take_list(doc: &mut Map<String, Value>, field: &str) -> Result<Vec<Value>, ApiError> {
    match doc.remove(field) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items
            .into_iter()
            .map(|mut item| {
                if let Some(rt) = item["resource_type"].as_str().map(str::to_owned)
                    && let Some(obj) = item.as_object_mut()
                {
                    for ro in schemas().read_only_fields(Api::Policy, &rt) {
                        obj.remove(&ro);
                    }
                }
                item
            })
            .collect()),
        Some(_) => Err(ApiError::field_validation(&[format!(
            "/{field}: must be an array"
        )])),
    }
}

fn is_conjunction(e: &Value) -> bool {
    e["resource_type"] == "ConjunctionOperator"
}

/// The alternation rule, the conjunction values and the limits of one expression list.
fn check_list(list: &[Value], top_level: bool) -> Result<(), ApiError> {
    let where_ = if top_level {
        "expression"
    } else {
        "NestedExpression.expressions"
    };
    if list.len().is_multiple_of(2) && !list.is_empty() {
        return Err(invalid(format!(
            "The {where_} list must have an odd number of members (expressions joined by ConjunctionOperators); it has {}.",
            list.len()
        )));
    }
    let mut criteria = 0;
    for (i, e) in list.iter().enumerate() {
        let conjunction = is_conjunction(e);
        if i % 2 == 1 && !conjunction {
            return Err(invalid(format!(
                "Member {i} of {where_} must be a ConjunctionOperator."
            )));
        }
        if i % 2 == 0 && conjunction {
            return Err(invalid(format!(
                "Member {i} of {where_} cannot be a ConjunctionOperator."
            )));
        }
        if conjunction {
            let op = e["conjunction_operator"].as_str().ok_or_else(|| {
                invalid(format!(
                    "ConjunctionOperator {i} of {where_} has no conjunction_operator."
                ))
            })?;
            let (left, right) = (&list[i - 1], &list[i + 1]);
            if op == "AND" && !top_level {
                continue;
            }
            if op == "AND" && !and_allowed(left, right) {
                return Err(invalid(
                    "AND is only allowed between Conditions or NestedExpressions of the same member type; join other expressions with OR.",
                ));
            }
            if op == "OR" && !top_level {
                return Err(invalid(
                    "Conditions in a NestedExpression can only be joined with AND.",
                ));
            }
            continue;
        }
        let rt = e["resource_type"].as_str().unwrap_or_default();
        match rt {
            "Condition" => criteria += 1,
            "NestedExpression" => {
                if !top_level {
                    return Err(invalid(
                        "A NestedExpression cannot contain a NestedExpression.",
                    ));
                }
                criteria += 1;
                check_nested(e)?;
            }
            _ if !top_level => {
                return Err(invalid(format!(
                    "A NestedExpression can only contain Conditions and ConjunctionOperators; found {rt}."
                )));
            }
            _ => {}
        }
        check_member(e)?;
    }
    if top_level && criteria > MAX_CRITERIA {
        return Err(invalid(format!(
            "An expression list can have at most {MAX_CRITERIA} Conditions and NestedExpressions; it has {criteria}."
        )));
    }
    Ok(())
}

fn member_type(e: &Value) -> Option<BTreeSet<&str>> {
    match e["resource_type"].as_str()? {
        "Condition" => Some(BTreeSet::from([e["member_type"].as_str()?])),
        "NestedExpression" => Some(
            e["expressions"]
                .as_array()?
                .iter()
                .filter(|c| c["resource_type"] == "Condition")
                .filter_map(|c| c["member_type"].as_str())
                .collect(),
        ),
        _ => None,
    }
}

fn and_allowed(left: &Value, right: &Value) -> bool {
    match (member_type(left), member_type(right)) {
        (Some(l), Some(r)) => l.len() == 1 && l == r,
        _ => false,
    }
}

fn check_nested(nested: &Value) -> Result<(), ApiError> {
    let inner = nested["expressions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if inner.is_empty() {
        return Err(invalid(
            "A NestedExpression must contain at least one Condition.",
        ));
    }
    check_list(&inner, false)?;
    let conditions: Vec<&Value> = inner.iter().filter(|e| !is_conjunction(e)).collect();
    if conditions.len() > MAX_NESTED_CONDITIONS {
        return Err(invalid(format!(
            "A NestedExpression can have at most {MAX_NESTED_CONDITIONS} conditions; it has {}.",
            conditions.len()
        )));
    }
    Ok(())
}

/// Generic groups: the conditions of a NestedExpression share one member type.
fn check_nested_same_member_type(list: &[Value]) -> Result<(), ApiError> {
    for e in list
        .iter()
        .filter(|e| e["resource_type"] == "NestedExpression")
    {
        if member_type(e).is_some_and(|types| types.len() > 1) {
            return Err(invalid(
                "All conditions of a NestedExpression must have the same member_type.",
            ));
        }
    }
    Ok(())
}

/// Keys allowed for a Condition member type.
fn keys_for(member_type: &str) -> &'static [&'static str] {
    match member_type {
        "VirtualMachine" => &["Name", "Tag", "OSName", "ComputerName"],
        "TransportNode" => &["NodeType", "Tag"],
        "KubernetesNode" => &["IPAddress", "PodCidr", "Name", "Tag"],
        "KubernetesCluster" => &["Name", "Tag", "ALL"],
        "Group" => &["Name", "Tag", "GroupType"],
        _ => &["Name", "Tag"],
    }
}

/// Operators allowed with a Condition key.
fn operators_for(key: &str) -> &'static [&'static str] {
    match key {
        "Tag" => &["EQUALS", "NOTEQUALS", "CONTAINS", "STARTSWITH", "ENDSWITH"],
        "Name" | "OSName" | "ComputerName" => &[
            "EQUALS",
            "NOTEQUALS",
            "CONTAINS",
            "STARTSWITH",
            "ENDSWITH",
            "MATCHES",
        ],
        "IPAddress" | "PodCidr" => &["EQUALS", "IN", "NOTIN"],
        _ => &["EQUALS"],
    }
}

/// One expression's own fields.
fn check_member(e: &Value) -> Result<(), ApiError> {
    let rt = e["resource_type"].as_str().unwrap_or_default();
    match rt {
        "Condition" => check_condition(e),
        "IPAddressExpression" => {
            let addresses = e["ip_addresses"].as_array().cloned().unwrap_or_default();
            if addresses.is_empty() {
                return Err(invalid(
                    "An IPAddressExpression needs at least one ip_addresses entry.",
                ));
            }
            let mut families = BTreeSet::new();
            for a in &addresses {
                let text = a.as_str().unwrap_or_default();
                let family = ip_literal_family(text).ok_or_else(|| {
                    invalid(format!(
                        "Invalid IP address, range or CIDR '{text}' in an IPAddressExpression."
                    ))
                })?;
                families.insert(family);
            }
            if families.len() > 1 {
                return Err(invalid(
                    "IPv4 and IPv6 addresses cannot be mixed in one IPAddressExpression.",
                ));
            }
            Ok(())
        }
        "MACAddressExpression" => {
            let macs = e["mac_addresses"].as_array().cloned().unwrap_or_default();
            if macs.is_empty() {
                return Err(invalid(
                    "A MACAddressExpression needs at least one MAC address.",
                ));
            }
            for m in &macs {
                let text = m.as_str().unwrap_or_default();
                if !is_mac(text) {
                    return Err(invalid(format!("Invalid MAC address '{text}'.")));
                }
            }
            Ok(())
        }
        "PathExpression" => {
            let paths = e["paths"].as_array().cloned().unwrap_or_default();
            if paths.is_empty() {
                return Err(invalid("A PathExpression needs at least one path."));
            }
            if paths
                .iter()
                .any(|p| !p.as_str().is_some_and(|p| p.starts_with("/infra/")))
            {
                return Err(invalid(
                    "PathExpression paths must be policy paths (/infra/...).",
                ));
            }
            Ok(())
        }
        "ExternalIDExpression" => {
            if e.get("member_type").is_none() {
                return Err(invalid("An ExternalIDExpression needs a member_type."));
            }
            if e["external_ids"].as_array().is_none_or(Vec::is_empty) {
                return Err(invalid(
                    "An ExternalIDExpression needs at least one external id.",
                ));
            }
            Ok(())
        }
        "IdentityGroupExpression" => {
            let groups = e["identity_groups"].as_array().cloned().unwrap_or_default();
            if groups.is_empty() {
                return Err(invalid(
                    "An IdentityGroupExpression needs at least one identity group.",
                ));
            }
            if groups.iter().any(|g| g.get("distinguished_name").is_none()) {
                return Err(invalid("Every identity group needs a distinguished_name."));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn check_condition(c: &Value) -> Result<(), ApiError> {
    let member_type = c["member_type"]
        .as_str()
        .ok_or_else(|| invalid("A Condition needs a member_type."))?;
    let key = c["key"]
        .as_str()
        .ok_or_else(|| invalid("A Condition needs a key."))?;
    if c.get("value").and_then(Value::as_str).is_none() {
        return Err(invalid("A Condition needs a value."));
    }
    if !keys_for(member_type).contains(&key) {
        return Err(invalid(format!(
            "Key {key} is not supported for member type {member_type}; supported keys are {}.",
            keys_for(member_type).join(", ")
        )));
    }
    let scope_operator = c.get("scope_operator").and_then(Value::as_str);
    if scope_operator.is_some() && key != "Tag" {
        return Err(invalid("scope_operator is only supported with key Tag."));
    }
    match c.get("operator").and_then(Value::as_str) {
        Some(op) => {
            if !operators_for(key).contains(&op) {
                return Err(invalid(format!(
                    "Operator {op} is not supported with key {key}; supported operators are {}.",
                    operators_for(key).join(", ")
                )));
            }
        }
        None => {
            let optional = key == "Tag"
                && (matches!(member_type, "Segment" | "SegmentPort")
                    || scope_operator == Some("NOTEQUALS"));
            if !optional {
                return Err(invalid(format!(
                    "A Condition on {member_type} {key} needs an operator."
                )));
            }
        }
    }
    Ok(())
}

/// The ANTREA group rules.
fn check_antrea(list: &[Value]) -> Result<(), ApiError> {
    for (i, e) in list.iter().enumerate() {
        let rt = e["resource_type"].as_str().unwrap_or_default();
        match rt {
            "ConjunctionOperator" => {
                if e["conjunction_operator"] == "AND" {
                    let (l, r) = (&list[i - 1], &list[i + 1]);
                    let single = |x: &Value| x["resource_type"] == "Condition";
                    if !(single(l) && single(r) && l["member_type"] == r["member_type"]) {
                        return Err(invalid(
                            "In an ANTREA group, criteria can only be joined with AND when both are single conditions of the same member type.",
                        ));
                    }
                }
            }
            "Condition" => check_antrea_criterion(std::slice::from_ref(e))?,
            "NestedExpression" => {
                let conditions: Vec<Value> = e["expressions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|c| c["resource_type"] == "Condition")
                    .cloned()
                    .collect();
                check_antrea_criterion(&conditions)?;
            }
            "IPAddressExpression" => {}
            other => {
                return Err(invalid(format!(
                    "{other} is not supported in an ANTREA group; use Pod, Namespace or Service conditions and IP addresses."
                )));
            }
        }
    }
    Ok(())
}

/// One ANTREA criterion: a Condition or the AND'ed conditions of a NestedExpression.
fn check_antrea_criterion(conditions: &[Value]) -> Result<(), ApiError> {
    let mut has_service = false;
    let mut has_pod = false;
    let mut has_namespace_name = false;
    for c in conditions {
        let member_type = c["member_type"].as_str().unwrap_or_default();
        let key = c["key"].as_str().unwrap_or_default();
        let operator = c.get("operator").and_then(Value::as_str);
        let scope_operator = c.get("scope_operator").and_then(Value::as_str);
        let tag_ok = || {
            matches!(operator, Some("EQUALS" | "NOTEQUALS"))
                && matches!(scope_operator, None | Some("EQUALS"))
        };
        match (member_type, key) {
            ("Namespace", "Name") if operator == Some("EQUALS") => has_namespace_name = true,
            ("Namespace", "Tag") if tag_ok() => {}
            ("Pod", "Tag") if tag_ok() => has_pod = true,
            ("Service", "Name") if operator == Some("EQUALS") => has_service = true,
            _ => {
                return Err(invalid(format!(
                    "Condition {member_type} {key} {} is not supported in an ANTREA group: use Namespace Name EQUALS, Namespace or Pod Tag EQUALS/NOTEQUALS (scope EQUALS), or Service Name EQUALS.",
                    operator.unwrap_or("(no operator)")
                )));
            }
        }
    }
    if has_service && !has_namespace_name {
        return Err(invalid(
            "In an ANTREA group, a Service condition must be combined with a Namespace Name condition.",
        ));
    }
    if has_service && has_pod {
        return Err(invalid(
            "In an ANTREA group, a Service condition cannot share a criterion with a Pod condition.",
        ));
    }
    Ok(())
}

/// Gives an expression (and the members of a NestedExpression) its id, path and system fields.
fn stamp_expression(e: &mut Value, group_path: &str) {
    let rt = e["resource_type"].as_str().unwrap_or_default().to_owned();
    let id = e
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let path = format!("{group_path}/{}/{id}", expression_segment(&rt));
    let unique_id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, path.as_bytes()).to_string();
    if let Some(obj) = e.as_object_mut() {
        obj.insert("id".into(), json!(id));
        obj.insert("path".into(), json!(path));
        obj.insert("relative_path".into(), json!(id));
        obj.insert("parent_path".into(), json!(group_path));
        obj.insert("remote_path".into(), json!(""));
        obj.insert("unique_id".into(), json!(unique_id));
        obj.insert("realization_id".into(), json!(unique_id));
        obj.insert("marked_for_delete".into(), json!(false));
        obj.insert("overridden".into(), json!(false));
        obj.insert("_protection".into(), json!("NOT_PROTECTED"));
        if rt == "Condition" && obj.get("key") == Some(&json!("Tag")) {
            obj.entry("scope_operator").or_insert(json!("EQUALS"));
        }
        if let Some(Value::Array(inner)) = obj.get_mut("expressions") {
            for member in inner {
                stamp_expression(member, group_path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(doc: Value) -> Result<Map<String, Value>, ApiError> {
        let mut map = doc.as_object().cloned().unwrap();
        normalize(&mut map, "/infra/domains/default/groups/g", None)?;
        Ok(map)
    }

    fn cond(member: &str, key: &str, op: &str, value: &str) -> Value {
        json!({"resource_type": "Condition", "member_type": member, "key": key, "operator": op, "value": value})
    }

    fn or() -> Value {
        json!({"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"})
    }

    fn and() -> Value {
        json!({"resource_type": "ConjunctionOperator", "conjunction_operator": "AND"})
    }

    #[test]
    fn alternation_is_enforced() {
        assert!(group(json!({"expression": [cond("Pod", "Tag", "EQUALS", "a|b"), or()]})).is_err());
        assert!(group(json!({"expression": [or()]})).is_err());
        assert!(
            group(json!({"expression": [cond("Pod", "Tag", "EQUALS", "a|b"), cond("Pod", "Tag", "EQUALS", "c|d"), or()]}))
                .is_err()
        );
        let ok = group(json!({"expression": [cond("Pod", "Tag", "EQUALS", "a|b"), or(), cond("VirtualMachine", "Name", "STARTSWITH", "web")]})).unwrap();
        let first = &ok["expression"][0];
        assert!(
            first["path"]
                .as_str()
                .unwrap()
                .starts_with("/infra/domains/default/groups/g/condition-expressions/")
        );
        assert_eq!(first["scope_operator"], "EQUALS");
    }

    #[test]
    fn criteria_limit() {
        let mut list = vec![cond("Pod", "Tag", "EQUALS", "a|1")];
        for i in 2..=6 {
            list.push(or());
            list.push(cond("Pod", "Tag", "EQUALS", &format!("a|{i}")));
        }
        let err = group(json!({"expression": list})).unwrap_err();
        assert!(err.error_message.contains("at most 5"), "{err}");
    }

    #[test]
    fn nested_rules() {
        let nested = |members: Vec<Value>| json!({"resource_type": "NestedExpression", "expressions": members});
        assert!(group(json!({"expression": [nested(vec![cond("Pod", "Tag", "EQUALS", "a|b"), and(), cond("Pod", "Tag", "EQUALS", "c|d")])]})).is_ok());
        assert!(group(json!({"expression": [nested(vec![cond("Pod", "Tag", "EQUALS", "a|b"), or(), cond("Pod", "Tag", "EQUALS", "c|d")])]})).is_err());
        assert!(group(json!({"expression": [nested(vec![cond("Pod", "Tag", "EQUALS", "a|b"), and(), cond("VirtualMachine", "Tag", "EQUALS", "c|d")])]})).is_err());
        let six: Vec<Value> = (0..6)
            .flat_map(|i| [and(), cond("Pod", "Tag", "EQUALS", &format!("a|{i}"))])
            .skip(1)
            .collect();
        assert!(group(json!({"expression": [nested(six)]})).is_err());
    }

    #[test]
    fn key_operator_combinations() {
        assert!(group(json!({"expression": [cond("Pod", "OSName", "EQUALS", "x")]})).is_err());
        assert!(group(json!({"expression": [cond("Pod", "Tag", "MATCHES", "x")]})).is_err());
        assert!(
            group(json!({"expression": [cond("VirtualMachine", "Name", "MATCHES", "web.*")]}))
                .is_ok()
        );
        assert!(group(json!({"expression": [{"resource_type": "Condition", "member_type": "Pod", "key": "Tag", "value": "a|b"}]})).is_err());
        assert!(group(json!({"expression": [{"resource_type": "Condition", "member_type": "Segment", "key": "Tag", "value": "a|b"}]})).is_ok());
    }

    #[test]
    fn ip_and_mac_expressions() {
        let ips = |list: Value| json!({"expression": [{"resource_type": "IPAddressExpression", "ip_addresses": list}]});
        assert!(group(ips(json!(["10.0.0.1", "10.1.0.0/16", "10.2.0.1-10.2.0.9"]))).is_ok());
        assert!(group(ips(json!(["10.0.0.1", "fd00::1"]))).is_err());
        assert!(group(ips(json!(["not-an-ip"]))).is_err());
        assert!(group(json!({"expression": [{"resource_type": "MACAddressExpression", "mac_addresses": ["zz:00:00:00:00:00"]}]})).is_err());
    }

    #[test]
    fn ip_address_groups_hold_only_ips() {
        assert!(group(json!({"group_type": ["IPAddress"], "expression": [{"resource_type": "IPAddressExpression", "ip_addresses": ["10.0.0.1"]}]})).is_ok());
        assert!(group(json!({"group_type": ["IPAddress"], "expression": [cond("Pod", "Tag", "EQUALS", "a|b")]})).is_err());
    }

    #[test]
    fn antrea_rules() {
        let antrea =
            |expression: Value| json!({"group_type": ["ANTREA"], "expression": expression});
        let nested = |members: Vec<Value>| json!({"resource_type": "NestedExpression", "expressions": members});
        // Supported conditions.
        assert!(group(antrea(json!([cond("Namespace", "Name", "EQUALS", "prod")]))).is_ok());
        assert!(group(antrea(json!([cond("Pod", "Tag", "NOTEQUALS", "app|web")]))).is_ok());
        assert!(
            group(antrea(json!([nested(vec![
                cond("Pod", "Tag", "EQUALS", "app|web"),
                and(),
                cond("Namespace", "Name", "EQUALS", "prod")
            ])])))
            .is_ok()
        );
        assert!(
            group(antrea(json!([nested(vec![
                cond("Service", "Name", "EQUALS", "cache"),
                and(),
                cond("Namespace", "Name", "EQUALS", "prod")
            ])])))
            .is_ok()
        );
        // Unsupported operators and member types.
        assert!(group(antrea(json!([cond("Pod", "Tag", "CONTAINS", "app|web")]))).is_err());
        assert!(
            group(antrea(json!([cond(
                "Namespace",
                "Name",
                "STARTSWITH",
                "p"
            )])))
            .is_err()
        );
        assert!(
            group(antrea(json!([cond(
                "VirtualMachine",
                "Name",
                "EQUALS",
                "vm"
            )])))
            .is_err()
        );
        // A Service needs a Namespace Name and no Pod.
        assert!(group(antrea(json!([cond("Service", "Name", "EQUALS", "cache")]))).is_err());
        assert!(
            group(antrea(json!([nested(vec![
                cond("Service", "Name", "EQUALS", "c"),
                and(),
                cond("Namespace", "Name", "EQUALS", "p"),
                and(),
                cond("Pod", "Tag", "EQUALS", "a|b")
            ])])))
            .is_err()
        );
        // AND between criteria only for single conditions of one member type.
        assert!(
            group(antrea(json!([
                cond("Pod", "Tag", "EQUALS", "a|b"),
                and(),
                cond("Pod", "Tag", "EQUALS", "c|d")
            ])))
            .is_ok()
        );
        assert!(
            group(antrea(json!([
                cond("Pod", "Tag", "EQUALS", "a|b"),
                and(),
                cond("Namespace", "Name", "EQUALS", "p")
            ])))
            .is_err()
        );
        // Static members are IP addresses only.
        assert!(
            group(antrea(
                json!([{"resource_type": "IPAddressExpression", "ip_addresses": ["10.0.0.1"]}])
            ))
            .is_ok()
        );
        assert!(group(antrea(json!([{"resource_type": "PathExpression", "paths": ["/infra/domains/default/groups/x"]}]))).is_err());
    }

    #[test]
    fn group_type_cannot_change() {
        let mut doc = json!({"group_type": []}).as_object().cloned().unwrap();
        let existing = json!({"group_type": ["ANTREA"]});
        assert!(normalize(&mut doc, "/infra/domains/default/groups/g", Some(&existing)).is_err());
    }
}
