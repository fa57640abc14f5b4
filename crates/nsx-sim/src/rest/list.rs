//! NSX list responses: `page_size` (default and maximum 1000), `sort_by` / `sort_ascending`,
//! `included_fields`, an opaque `cursor` that is omitted on the last page, and `result_count`
//! (the total across pages) on every page.
//!
//! The cursor names the last item returned (its sort value and its unique key), so paging stays
//! correct when objects are created or deleted between pages. It is URL-safe base64 of JSON and
//! never starts with `0000` (NSXLIB treats such a cursor as the end).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::error::ApiError;

/// Default and largest `page_size`.
pub const MAX_PAGE_SIZE: usize = 1000;

/// The list query parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ListParams {
    /// `cursor` from the previous page.
    pub cursor: Option<String>,
    /// `page_size`.
    pub page_size: usize,
    /// `sort_by`.
    pub sort_by: Option<String>,
    /// `sort_ascending` (default true).
    pub sort_ascending: bool,
    /// Whether the client sent `sort_ascending`.
    pub sort_ascending_given: bool,
    /// `included_fields`.
    pub included_fields: Option<Vec<String>>,
}

impl ListParams {
    /// Reads the parameters from a query string map.
    pub fn parse(query: &BTreeMap<String, String>) -> Result<Self, ApiError> {
        let page_size = match query.get("page_size") {
            None => MAX_PAGE_SIZE,
            Some(v) => {
                let n: i64 = v.parse().map_err(|_| {
                    ApiError::bad_parameter(format!(
                        "Invalid page_size '{v}'; expected an integer."
                    ))
                })?;
                if n < 0 {
                    return Err(ApiError::bad_parameter(format!(
                        "Invalid page_size {n}; it must not be negative."
                    )));
                }
                if n == 0 {
                    MAX_PAGE_SIZE
                } else {
                    usize::try_from(n)
                        .unwrap_or(MAX_PAGE_SIZE)
                        .min(MAX_PAGE_SIZE)
                }
            }
        };
        let sort_ascending_given = query.contains_key("sort_ascending");
        let sort_ascending = super::bool_param(query, "sort_ascending", true)?;
        let included_fields = query.get("included_fields").map(|f| {
            f.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        });
        Ok(Self {
            cursor: query.get("cursor").filter(|c| !c.is_empty()).cloned(),
            page_size,
            sort_by: query.get("sort_by").filter(|s| !s.is_empty()).cloned(),
            sort_ascending,
            sort_ascending_given,
            included_fields,
        })
    }
}

/// Total order on JSON values for sorting: missing/null, booleans, numbers, strings, others.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .partial_cmp(&y.as_f64().unwrap_or(0.0))
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Null, Value::Null) => Ordering::Equal,
        _ if rank(a) != rank(b) => rank(a).cmp(&rank(b)),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

fn encode_cursor(sort_value: &Value, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(json!([sort_value, key]).to_string())
}

/// The `(sort value, key)` a cursor names (for pagers that walk an index instead of calling
/// [`page`]).
pub fn decode_cursor(cursor: &str) -> Result<(Value, String), ApiError> {
    let invalid = || ApiError::bad_parameter(format!("Invalid cursor '{cursor}'."));
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    match value {
        Value::Array(mut parts) if parts.len() == 2 => {
            let key = parts
                .pop()
                .and_then(|k| k.as_str().map(str::to_owned))
                .ok_or_else(invalid)?;
            Ok((parts.pop().unwrap_or(Value::Null), key))
        }
        _ => Err(invalid()),
    }
}

/// One page of `items` as an NSX list envelope.
///
/// `key_field` names a field unique per item (e.g. `path`) used to break ties and in cursors;
/// `default_sort` is the field the list is ordered by when the client gives no `sort_by`.
pub fn page(
    mut items: Vec<Value>,
    params: &ListParams,
    key_field: &str,
    default_sort: Option<&str>,
) -> Result<Value, ApiError> {
    let sort_field = params.sort_by.as_deref().or(default_sort);
    let sort_value = |item: &Value| -> Value {
        sort_field
            .and_then(|f| item.get(f).cloned())
            .unwrap_or(Value::Null)
    };
    let key = |item: &Value| -> String {
        item.get(key_field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let direction = |o: Ordering| {
        if params.sort_ascending {
            o
        } else {
            o.reverse()
        }
    };
    let compare = |a: (&Value, &str), b: (&Value, &str)| {
        direction(compare_values(a.0, b.0).then_with(|| a.1.cmp(b.1)))
    };
    let mut keyed: Vec<(Value, String, Value)> = items
        .drain(..)
        .map(|item| (sort_value(&item), key(&item), item))
        .collect();
    keyed.sort_by(|a, b| compare((&a.0, &a.1), (&b.0, &b.1)));
    let total = keyed.len();
    let start = match &params.cursor {
        None => 0,
        Some(cursor) => {
            let (value, last) = decode_cursor(cursor)?;
            keyed.partition_point(|item| {
                compare((&item.0, &item.1), (&value, &last)) != Ordering::Greater
            })
        }
    };
    let end = (start + params.page_size).min(total);
    let mut envelope = Map::new();
    let results: Vec<Value> = keyed[start..end]
        .iter()
        .map(|(_, _, item)| project(item, params.included_fields.as_deref()))
        .collect();
    if end < total
        && let Some((value, last, _)) = keyed.get(end - 1)
    {
        envelope.insert("cursor".into(), json!(encode_cursor(value, last)));
    }
    envelope.insert("result_count".into(), json!(total));
    if let Some(sort_by) = &params.sort_by {
        envelope.insert("sort_by".into(), json!(sort_by));
        envelope.insert("sort_ascending".into(), json!(params.sort_ascending));
    } else if params.sort_ascending_given {
        envelope.insert("sort_ascending".into(), json!(params.sort_ascending));
    }
    envelope.insert("results".into(), Value::Array(results));
    Ok(Value::Object(envelope))
}

fn project(item: &Value, fields: Option<&[String]>) -> Value {
    match (fields, item) {
        (Some(fields), Value::Object(map)) => Value::Object(
            map.iter()
                .filter(|(k, _)| fields.iter().any(|f| f == *k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        _ => item.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> ListParams {
        let map = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ListParams::parse(&map).unwrap()
    }

    fn items(n: usize) -> Vec<Value> {
        (0..n)
            .map(|i| json!({"path": format!("/x/{i:05}"), "n": i % 7, "name": format!("item-{i}")}))
            .collect()
    }

    fn walk(all: Vec<Value>, base: &[(&str, &str)]) -> Vec<Value> {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut pairs: Vec<(&str, &str)> = base.to_vec();
            if let Some(c) = &cursor {
                pairs.push(("cursor", c));
            }
            let page = page(all.clone(), &params(&pairs), "path", None).unwrap();
            assert_eq!(page["result_count"], json!(all.len()));
            seen.extend(page["results"].as_array().unwrap().iter().cloned());
            match page.get("cursor") {
                Some(c) => {
                    assert!(!c.as_str().unwrap().starts_with("0000"));
                    cursor = Some(c.as_str().unwrap().to_owned());
                }
                None => break,
            }
        }
        seen
    }

    #[test]
    fn cursor_walk_visits_every_item_once_in_order() {
        let all = items(2345);
        let seen = walk(all.clone(), &[("page_size", "100")]);
        assert_eq!(seen, all);
        let sorted = walk(
            all.clone(),
            &[
                ("page_size", "33"),
                ("sort_by", "n"),
                ("sort_ascending", "false"),
            ],
        );
        assert_eq!(sorted.len(), all.len());
        assert!(
            sorted
                .windows(2)
                .all(|w| w[0]["n"].as_i64() >= w[1]["n"].as_i64())
        );
    }

    #[test]
    fn page_size_defaults_and_caps_at_1000() {
        let all = items(1500);
        let first = page(all.clone(), &params(&[]), "path", None).unwrap();
        assert_eq!(first["results"].as_array().unwrap().len(), 1000);
        let capped = page(all, &params(&[("page_size", "5000")]), "path", None).unwrap();
        assert_eq!(capped["results"].as_array().unwrap().len(), 1000);
    }

    #[test]
    fn included_fields_project_results() {
        let p = page(
            items(3),
            &params(&[("included_fields", "name")]),
            "path",
            None,
        )
        .unwrap();
        assert_eq!(p["results"][0], json!({"name": "item-0"}));
    }

    #[test]
    fn bad_parameters_are_refused() {
        let map = |k: &str, v: &str| BTreeMap::from([(k.to_owned(), v.to_owned())]);
        assert!(ListParams::parse(&map("page_size", "-1")).is_err());
        assert!(ListParams::parse(&map("page_size", "ten")).is_err());
        assert!(ListParams::parse(&map("sort_ascending", "maybe")).is_err());
        assert!(page(items(1), &params(&[("cursor", "!!")]), "path", None).is_err());
    }
}
