//! Value checks shared by the policy kinds: ids, common fields and their published limits
//! (tags, names), IP literals, ports, "ANY" lists.

use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::error::ApiError;

/// Most tags on one object.
pub const MAX_TAGS: usize = 30;
/// Longest tag scope.
pub const MAX_TAG_SCOPE: usize = 128;
/// Longest tag value.
pub const MAX_TAG_VALUE: usize = 256;
/// Longest `display_name`.
pub const MAX_DISPLAY_NAME: usize = 255;
/// Longest `description`.
pub const MAX_DESCRIPTION: usize = 1024;
/// Longest object id.
pub const MAX_ID: usize = 255;

/// An object id: non-empty, at most [`MAX_ID`] characters, no `/`.
pub fn check_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.chars().count() > MAX_ID || id.contains('/') {
        return Err(ApiError::policy_invalid(format!(
            "Invalid id '{id}': an id has 1 to {MAX_ID} characters and no '/'."
        )));
    }
    Ok(())
}

/// `display_name`, `description` and `tags` limits.
pub fn common_fields(doc: &Map<String, Value>) -> Result<(), ApiError> {
    if let Some(name) = doc.get("display_name").and_then(Value::as_str)
        && name.chars().count() > MAX_DISPLAY_NAME
    {
        return Err(ApiError::policy_invalid(format!(
            "display_name is longer than {MAX_DISPLAY_NAME} characters."
        )));
    }
    if let Some(description) = doc.get("description").and_then(Value::as_str)
        && description.chars().count() > MAX_DESCRIPTION
    {
        return Err(ApiError::policy_invalid(format!(
            "description is longer than {MAX_DESCRIPTION} characters."
        )));
    }
    if let Some(tags) = doc.get("tags").and_then(Value::as_array) {
        if tags.len() > MAX_TAGS {
            return Err(ApiError::policy_invalid(format!(
                "An object can have at most {MAX_TAGS} tags; {} were given.",
                tags.len()
            )));
        }
        for tag in tags {
            let scope = tag.get("scope").and_then(Value::as_str).unwrap_or_default();
            let value = tag.get("tag").and_then(Value::as_str).unwrap_or_default();
            if scope.chars().count() > MAX_TAG_SCOPE {
                return Err(ApiError::policy_invalid(format!(
                    "Tag scope '{scope}' is longer than {MAX_TAG_SCOPE} characters."
                )));
            }
            if value.chars().count() > MAX_TAG_VALUE {
                return Err(ApiError::policy_invalid(format!(
                    "Tag '{value}' is longer than {MAX_TAG_VALUE} characters."
                )));
            }
        }
    }
    Ok(())
}

/// The family of an IP address, CIDR block or `a-b` range; `None` if it is none of these.
pub fn ip_literal_family(text: &str) -> Option<bool> {
    if let Some((from, to)) = text.split_once('-') {
        let from: IpAddr = from.trim().parse().ok()?;
        let to: IpAddr = to.trim().parse().ok()?;
        if from.is_ipv4() != to.is_ipv4() || from > to {
            return None;
        }
        return Some(from.is_ipv4());
    }
    if text.contains('/') {
        return text
            .parse::<ipnet::IpNet>()
            .ok()
            .map(|n| n.addr().is_ipv4());
    }
    text.parse::<IpAddr>().ok().map(|a| a.is_ipv4())
}

/// A MAC address `aa:bb:cc:dd:ee:ff` (or with `-`).
pub fn is_mac(text: &str) -> bool {
    let parts: Vec<&str> = text.split([':', '-']).collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Parses a port or `a-b` range; returns how many values it counts for (1, or 2 for a range).
pub fn port_or_range(text: &str) -> Option<usize> {
    let port = |p: &str| {
        p.trim()
            .parse::<u32>()
            .ok()
            .filter(|p| (1..=65535).contains(p))
    };
    match text.split_once('-') {
        Some((from, to)) => {
            let (from, to) = (port(from)?, port(to)?);
            (from <= to).then_some(2)
        }
        None => port(text).map(|_| 1),
    }
}

/// Checks a list of ports: each a port or range, at most 15 values (a range counts 2).
pub fn port_list(field: &str, ports: Option<&Value>) -> Result<(), ApiError> {
    let mut count = 0;
    for p in ports.and_then(Value::as_array).into_iter().flatten() {
        let text = p.as_str().unwrap_or_default();
        count += port_or_range(text).ok_or_else(|| {
            ApiError::policy_invalid(format!(
                "Invalid port or port range '{text}' in {field}: ports are 1-65535 and ranges a-b with a <= b."
            ))
        })?;
    }
    if count > 15 {
        return Err(ApiError::policy_invalid(format!(
            "{field} has {count} values; at most 15 are allowed (a range counts as 2)."
        )));
    }
    Ok(())
}

/// Normalises a list that accepts `"ANY"` (case-insensitive) as its only element: missing or
/// empty becomes `["ANY"]`, and `"any"` is written `"ANY"`.
pub fn any_list(doc: &mut Map<String, Value>, field: &str) -> Result<(), ApiError> {
    let list = match doc.get(field) {
        None => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => {
            return Err(ApiError::field_validation(&[format!(
                "/{field}: must be an array"
            )]));
        }
    };
    if list.is_empty() {
        doc.insert(field.into(), Value::Array(vec![Value::from("ANY")]));
        return Ok(());
    }
    let any = list
        .iter()
        .filter(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("ANY")))
        .count();
    if any > 0 && list.len() > 1 {
        return Err(ApiError::policy_invalid(format!(
            "{field}: ANY must be the only element when it is used."
        )));
    }
    if any == 1 {
        doc.insert(field.into(), Value::Array(vec![Value::from("ANY")]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals() {
        assert_eq!(ip_literal_family("10.0.0.1"), Some(true));
        assert_eq!(ip_literal_family("10.0.0.0/8"), Some(true));
        assert_eq!(ip_literal_family("10.0.0.1-10.0.0.9"), Some(true));
        assert_eq!(ip_literal_family("fd00::/64"), Some(false));
        assert_eq!(ip_literal_family("10.0.0.9-10.0.0.1"), None);
        assert_eq!(ip_literal_family("10.0.0.1-fd00::1"), None);
        assert_eq!(ip_literal_family("web"), None);
    }

    #[test]
    fn ports() {
        assert_eq!(port_or_range("22"), Some(1));
        assert_eq!(port_or_range("1000-2000"), Some(2));
        assert_eq!(port_or_range("0"), None);
        assert_eq!(port_or_range("70000"), None);
        assert_eq!(port_or_range("20-10"), None);
        let many: Vec<String> = (1..=8).map(|p| format!("{p}00-{p}10")).collect();
        assert!(port_list("destination_ports", Some(&serde_json::json!(many))).is_err());
    }

    #[test]
    fn macs() {
        assert!(is_mac("00:50:56:aa:bb:cc"));
        assert!(is_mac("00-50-56-AA-BB-CC"));
        assert!(!is_mac("00:50:56:aa:bb"));
    }
}
