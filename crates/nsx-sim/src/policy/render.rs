//! Turning stored policy documents into what NSX sends: bookkeeping removed, `_protection` as
//! seen by the caller, and the children NSX embeds (a policy's `rules`, a service's
//! `service_entries`, with `rule_count` and `service_type`).

use serde_json::{Map, Value, json};

use super::kinds::{Kind, kind_of_path};
use super::services::service_type;
use super::{INTERNAL_PREFIX, PROTECTED_BY, children_of};
use crate::identity::Caller;
use crate::store::Tables;

/// What to include when rendering.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderOptions {
    /// Embed children (`rules`, `service_entries`) as NSX does in REST responses.
    pub embed_children: bool,
    /// Include a security policy's `rule_count`.
    pub rule_count: bool,
}

impl RenderOptions {
    /// A single-object `GET`.
    pub fn object() -> Self {
        Self {
            embed_children: true,
            rule_count: true,
        }
    }
}

/// `_protection` of `doc` for `caller`: objects protected by a principal identity are
/// `REQUIRE_OVERRIDE` for everyone else.
pub fn protection(doc: &Value, caller: &Caller) -> &'static str {
    match doc.get(PROTECTED_BY).and_then(Value::as_str) {
        Some(owner) if caller.identity.principal_name() != Some(owner) => "REQUIRE_OVERRIDE",
        _ => "NOT_PROTECTED",
    }
}

/// The document without simulator bookkeeping and with the caller's `_protection`.
pub fn strip(doc: &Value, caller: &Caller) -> Map<String, Value> {
    let mut out: Map<String, Value> = doc
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !k.starts_with(INTERNAL_PREFIX))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    out.insert("_protection".into(), json!(protection(doc, caller)));
    out
}

/// The rules of a policy in evaluation order: `sequence_number`, then `rule_id`.
pub fn ordered_rules<'a>(tables: &'a Tables, policy_path: &str) -> Vec<(&'a String, &'a Value)> {
    let mut rules: Vec<_> = children_of(tables, policy_path, Kind::Rule).collect();
    rules.sort_by_key(|(_, r)| {
        (
            r.get("sequence_number")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            r.get("rule_id").and_then(Value::as_i64).unwrap_or(0),
        )
    });
    rules
}

/// Renders the stored document at `path` for `caller`.
pub fn render(
    tables: &Tables,
    path: &str,
    doc: &Value,
    caller: &Caller,
    options: RenderOptions,
) -> Value {
    let mut out = strip(doc, caller);
    match kind_of_path(path) {
        Some(Kind::SecurityPolicy) => {
            let rules = ordered_rules(tables, path);
            if options.rule_count {
                out.insert("rule_count".into(), json!(rules.len()));
            }
            if options.embed_children {
                let rendered: Vec<Value> = rules
                    .into_iter()
                    .map(|(_, r)| Value::Object(strip(r, caller)))
                    .collect();
                out.insert("rules".into(), Value::Array(rendered));
            }
        }
        Some(Kind::Service) => {
            let entries: Vec<Value> = children_of(tables, path, Kind::ServiceEntry)
                .map(|(_, e)| Value::Object(strip(e, caller)))
                .collect();
            out.insert("service_type".into(), json!(service_type(&entries)));
            if options.embed_children {
                out.insert("service_entries".into(), Value::Array(entries));
            }
        }
        _ => {}
    }
    Value::Object(out)
}
