//! Antrea group membership views (nsx-api.md §3.5, §3.11), computed from the container
//! inventory:
//!
//! * `GET /policy/api/v1/infra/domains/{d}/groups/{g}/members/pods?cluster_id=` →
//!   `PolicyContainerGroupMembersListResult`;
//! * `GET .../groups/{g}/members/ip-addresses` → `PolicyGroupIPMembersListResult`.
//!
//! As NSX documents for Antrea groups, effective members are computed only where the group is
//! used: in the clusters spanned (container-cluster span, or a cluster control plane path in a
//! policy `scope`) by the security policies whose rules (`source_groups`, `destination_groups`,
//! `scope`) or policy `scope` name the group. They are always pods.
//!
//! Criteria: Pod `Tag` / `Name`, Namespace `Name` / `Tag`, Service `Name` (pods whose
//! `container_application_ids` name the service). A tag condition value is `scope|tag`; the
//! scope matches a tag whose scope is the same with or without the `dis:k8s:` prefix inventory
//! labels carry; an empty scope or no `|` matches any scope; an empty tag matches any value.
//! Comparison is case-insensitive. Conditions in a criterion are ANDed; criteria joined by
//! `ConjunctionOperator`s, AND binding tighter than OR. IP address expressions contribute no
//! pods; `members/ip-addresses` lists them, followed by the IPs (`origin_properties` key `ip`)
//! of the member pods.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{StatusCode, Uri};
use serde_json::{Value, json};

use super::{APPLICATION, APPLICATION_INSTANCE, PROJECT, SEP};
use crate::error::ApiError;
use crate::policy::kinds::{Kind, kind_of_path, split_path};
use crate::policy::{TABLE, children_of};
use crate::registration::{CLUSTER_CONTROL_PLANES, cluster_registration, path_segments};
use crate::rest::list::{ListParams, page};
use crate::rest::{AppState, json_response, query};
use crate::store::Tables;

const GROUP_BASE: &str = "/policy/api/v1/infra/domains/{domain}/groups/{group}/members";
/// Prefix Kubernetes labels carry as inventory tag scopes.
pub const K8S_LABEL_PREFIX: &str = "dis:k8s:";
const KEY_FIELD: &str = "_sim_key";

/// The membership routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(&format!("{GROUP_BASE}/pods"), get(pods))
        .route(&format!("{GROUP_BASE}/ip-addresses"), get(ip_addresses))
}

/// A cluster where a group is in use.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SpannedCluster {
    /// The cluster control plane id (the cluster name).
    pub name: String,
    /// Its `node_id`, the container inventory cluster id.
    pub node_id: String,
}

/// One member pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodMember {
    /// Inventory cluster id.
    pub cluster_id: String,
    /// Cluster name (cluster control plane id).
    pub cluster_name: String,
    /// Namespace `external_id` (`container_project_id`).
    pub namespace_id: String,
    /// Namespace name.
    pub namespace_name: String,
    /// Pod `external_id`.
    pub pod_id: String,
    /// Pod `display_name`.
    pub pod_name: String,
    /// Pod IPs (`origin_properties` `ip`, comma-separated for dual stack).
    pub ips: Vec<String>,
}

fn names_group(doc: &Value, field: &str, group_path: &str) -> bool {
    doc[field]
        .as_array()
        .is_some_and(|list| list.iter().any(|p| p.as_str() == Some(group_path)))
}

/// The clusters where the group at `group_path` is in use, by cluster name.
pub fn clusters_using_group(tables: &Tables, group_path: &str) -> Vec<SpannedCluster> {
    let mut policies = BTreeSet::new();
    for (path, doc) in tables.scan_prefix(TABLE, "/infra/domains/") {
        match kind_of_path(path) {
            Some(Kind::Rule)
                if ["source_groups", "destination_groups", "scope"]
                    .iter()
                    .any(|f| names_group(doc, f, group_path)) =>
            {
                if let Some((policy, _)) = split_path(path) {
                    policies.insert(policy.to_owned());
                }
            }
            Some(Kind::SecurityPolicy) if names_group(doc, "scope", group_path) => {
                policies.insert(path.clone());
            }
            _ => {}
        }
    }
    let prefix = format!("{CLUSTER_CONTROL_PLANES}/");
    let mut names = BTreeSet::new();
    for policy in &policies {
        for (_, span) in children_of(tables, policy, Kind::ContainerClusterSpan) {
            if let Some(id) = span["container_cluster_path"]
                .as_str()
                .and_then(|p| p.strip_prefix(&prefix))
            {
                names.insert(id.to_owned());
            }
        }
        if let Some(scope) = tables
            .get(TABLE, policy)
            .and_then(|p| p["scope"].as_array())
        {
            for id in scope
                .iter()
                .filter_map(Value::as_str)
                .filter_map(|p| p.strip_prefix(&prefix))
            {
                names.insert(id.to_owned());
            }
        }
    }
    names
        .into_iter()
        .filter_map(|name| {
            cluster_registration(tables, &name).map(|r| SpannedCluster {
                name: r.id,
                node_id: r.node_id,
            })
        })
        .collect()
}

/// Lowercase, without the `dis:k8s:` label prefix.
fn normalize_scope(scope: &str) -> String {
    let lower = scope.to_lowercase();
    match lower.strip_prefix(K8S_LABEL_PREFIX) {
        Some(rest) => rest.to_owned(),
        None => lower,
    }
}

fn text_matches(operator: &str, actual: &str, wanted: &str) -> bool {
    let actual = actual.to_lowercase();
    let wanted = wanted.to_lowercase();
    match operator {
        "EQUALS" => actual == wanted,
        "NOTEQUALS" => actual != wanted,
        "CONTAINS" => actual.contains(&wanted),
        "STARTSWITH" => actual.starts_with(&wanted),
        "ENDSWITH" => actual.ends_with(&wanted),
        _ => false,
    }
}

/// Whether an object's `tags` satisfy a Tag condition.
pub fn tags_match(tags: &Value, operator: &str, value: &str, scope_operator: &str) -> bool {
    let (scope, tag) = match value.split_once('|') {
        Some((scope, tag)) => (Some(scope).filter(|s| !s.is_empty()), tag),
        None => (None, value),
    };
    let wanted_scope = scope.map(normalize_scope);
    let found = tags.as_array().into_iter().flatten().any(|t| {
        let their_scope = normalize_scope(t["scope"].as_str().unwrap_or_default());
        let scope_ok = match &wanted_scope {
            None => true,
            Some(w) if scope_operator == "NOTEQUALS" => &their_scope != w,
            Some(w) => &their_scope == w,
        };
        let their_tag = t["tag"].as_str().unwrap_or_default();
        let tag_ok = match operator {
            "EQUALS" | "NOTEQUALS" => tag.is_empty() || their_tag.eq_ignore_ascii_case(tag),
            other => text_matches(other, their_tag, tag),
        };
        scope_ok && tag_ok
    });
    if operator == "NOTEQUALS" {
        !found
    } else {
        found
    }
}

/// What a pod's criteria are evaluated against.
struct PodContext<'a> {
    pod: &'a Value,
    namespace: Option<&'a Value>,
    services: &'a HashMap<String, &'a Value>,
}

fn namespace_name(namespace: &Value) -> Option<String> {
    namespace["display_name"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| {
            namespace["tags"].as_array()?.iter().find_map(|t| {
                (normalize_scope(t["scope"].as_str()?) == "kubernetes.io/metadata.name")
                    .then(|| t["tag"].as_str().map(str::to_owned))
                    .flatten()
            })
        })
}

fn condition_matches(condition: &Value, ctx: &PodContext<'_>) -> bool {
    let operator = condition["operator"].as_str().unwrap_or("EQUALS");
    let scope_operator = condition["scope_operator"].as_str().unwrap_or("EQUALS");
    let value = condition["value"].as_str().unwrap_or_default();
    let key = condition["key"].as_str().unwrap_or_default();
    match (condition["member_type"].as_str().unwrap_or_default(), key) {
        ("Pod", "Tag") => tags_match(&ctx.pod["tags"], operator, value, scope_operator),
        ("Pod", "Name") => text_matches(
            operator,
            ctx.pod["display_name"].as_str().unwrap_or_default(),
            value,
        ),
        ("Namespace", "Name") => ctx
            .namespace
            .and_then(namespace_name)
            .is_some_and(|name| text_matches(operator, &name, value)),
        ("Namespace", "Tag") => ctx
            .namespace
            .is_some_and(|ns| tags_match(&ns["tags"], operator, value, scope_operator)),
        ("Service", "Name") => ctx.pod["container_application_ids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter_map(|id| ctx.services.get(id))
            .any(|service| {
                text_matches(
                    operator,
                    service["display_name"].as_str().unwrap_or_default(),
                    value,
                )
            }),
        _ => false,
    }
}

fn expression_matches(expression: &Value, ctx: &PodContext<'_>) -> bool {
    match expression["resource_type"].as_str() {
        Some("Condition") => condition_matches(expression, ctx),
        Some("NestedExpression") => list_matches(
            expression["expressions"]
                .as_array()
                .map_or(&[][..], Vec::as_slice),
            ctx,
        ),
        _ => false,
    }
}

/// Evaluates an expression list (expressions at even indexes, conjunctions at odd ones; AND
/// binds tighter than OR). An empty list matches nothing.
fn list_matches(list: &[Value], ctx: &PodContext<'_>) -> bool {
    if list.is_empty() {
        return false;
    }
    let mut any = false;
    let mut term = true;
    for (index, item) in list.iter().enumerate() {
        if index % 2 == 0 {
            term = term && expression_matches(item, ctx);
        } else if item["conjunction_operator"].as_str() == Some("OR") {
            any = any || term;
            term = true;
        }
    }
    any || term
}

/// The IPs of a pod (`origin_properties` key `ip`, comma-separated).
pub fn pod_ips(pod: &Value) -> Vec<String> {
    pod["origin_properties"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["key"].as_str() == Some("ip"))
        .filter_map(|p| p["value"].as_str())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|ip| !ip.is_empty())
        .map(str::to_owned)
        .collect()
}

fn objects_of<'a>(tables: &'a Tables, table: &str, cluster: &str) -> HashMap<String, &'a Value> {
    let prefix = format!("{cluster}{SEP}");
    tables
        .scan_prefix(table, &prefix)
        .map(|(k, v)| (k[prefix.len()..].to_owned(), v))
        .collect()
}

/// The member pods of the group at `group_path` (a stored policy group), in the clusters where
/// it is in use, optionally only cluster `cluster_filter` (inventory id or cluster name).
pub fn member_pods(
    tables: &Tables,
    group: &Value,
    group_path: &str,
    cluster_filter: Option<&str>,
) -> Vec<PodMember> {
    let expression = group["expression"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let mut out = Vec::new();
    for cluster in clusters_using_group(tables, group_path) {
        if cluster_filter.is_some_and(|f| f != cluster.node_id && f != cluster.name) {
            continue;
        }
        let namespaces = objects_of(tables, &PROJECT.table(), &cluster.node_id);
        let services = objects_of(tables, &APPLICATION.table(), &cluster.node_id);
        let prefix = format!("{}{SEP}", cluster.node_id);
        for (_, pod) in tables.scan_prefix(&APPLICATION_INSTANCE.table(), &prefix) {
            let namespace_id = pod["container_project_id"].as_str().unwrap_or_default();
            let namespace = namespaces.get(namespace_id).copied();
            let ctx = PodContext {
                pod,
                namespace,
                services: &services,
            };
            if list_matches(expression, &ctx) {
                out.push(PodMember {
                    cluster_id: cluster.node_id.clone(),
                    cluster_name: cluster.name.clone(),
                    namespace_id: namespace_id.to_owned(),
                    namespace_name: namespace.and_then(namespace_name).unwrap_or_default(),
                    pod_id: pod["external_id"].as_str().unwrap_or_default().to_owned(),
                    pod_name: pod["display_name"].as_str().unwrap_or_default().to_owned(),
                    ips: pod_ips(pod),
                });
            }
        }
    }
    out
}

/// The IP members: the group's IP address expressions, then its member pods' IPs.
pub fn member_ip_addresses(tables: &Tables, group: &Value, group_path: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let statics = group["expression"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["resource_type"] == "IPAddressExpression")
        .flat_map(|e| e["ip_addresses"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .map(str::to_owned);
    let pods = member_pods(tables, group, group_path, None)
        .into_iter()
        .flat_map(|p| p.ips);
    for ip in statics.chain(pods) {
        if seen.insert(ip.clone()) {
            out.push(ip);
        }
    }
    out
}

fn group_of(uri: &Uri) -> Result<String, ApiError> {
    // "", policy, api, v1, infra, domains, {d}, groups, {g}, members, {view}
    let parts = path_segments(uri)?;
    if parts.len() != 11 {
        return Err(ApiError::uri_not_found(uri.path()));
    }
    Ok(format!("/infra/domains/{}/groups/{}", parts[6], parts[8]))
}

fn respond(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

fn pod_item(member: &PodMember) -> Value {
    json!({
        KEY_FIELD: format!("{}{SEP}{}{SEP}{}", member.cluster_id, member.namespace_id, member.pod_id),
        "cluster": [{
            "cluster_id": member.cluster_id,
            "cluster_name": member.cluster_name,
            "namespaces": [{
                "id": member.namespace_id,
                "display_name": member.namespace_name,
                "pods": [{"id": member.pod_id, "display_name": member.pod_name}],
            }],
        }],
    })
}

fn strip_keys(mut envelope: Value) -> Value {
    if let Some(results) = envelope.get_mut("results").and_then(Value::as_array_mut) {
        for item in results {
            if let Value::Object(map) = item {
                map.remove(KEY_FIELD);
            }
        }
    }
    envelope
}

async fn pods(State(app): State<Arc<AppState>>, uri: Uri) -> Response {
    respond((|| {
        let group_path = group_of(&uri)?;
        let query = query(&uri)?;
        let params = ListParams::parse(&query)?;
        let cluster = query.get("cluster_id").filter(|c| !c.is_empty()).cloned();
        let members = app.store.read(|t| {
            let group = t
                .get(TABLE, &group_path)
                .ok_or_else(|| ApiError::policy_object_not_found(&group_path))?;
            Ok::<_, ApiError>(member_pods(t, group, &group_path, cluster.as_deref()))
        })?;
        let items: Vec<Value> = members.iter().map(pod_item).collect();
        Ok(json_response(
            StatusCode::OK,
            strip_keys(page(items, &params, KEY_FIELD, None)?),
        ))
    })())
}

async fn ip_addresses(State(app): State<Arc<AppState>>, uri: Uri) -> Response {
    respond((|| {
        let group_path = group_of(&uri)?;
        let params = ListParams::parse(&query(&uri)?)?;
        let ips = app.store.read(|t| {
            let group = t
                .get(TABLE, &group_path)
                .ok_or_else(|| ApiError::policy_object_not_found(&group_path))?;
            Ok::<_, ApiError>(member_ip_addresses(t, group, &group_path))
        })?;
        let items: Vec<Value> = ips
            .iter()
            .enumerate()
            .map(|(i, ip)| json!({KEY_FIELD: format!("{i:010}"), "ip": ip}))
            .collect();
        let mut envelope = page(items, &params, KEY_FIELD, None)?;
        if let Some(results) = envelope.get_mut("results").and_then(Value::as_array_mut) {
            for item in results.iter_mut() {
                *item = item["ip"].clone();
            }
        }
        Ok(json_response(StatusCode::OK, envelope))
    })())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_conditions_follow_nsx_notation_and_label_prefix() {
        let tags = json!([{"scope": "dis:k8s:app", "tag": "Web"}, {"scope": "tier", "tag": "db"}]);
        assert!(tags_match(&tags, "EQUALS", "app|web", "EQUALS"));
        assert!(tags_match(&tags, "EQUALS", "dis:k8s:app|web", "EQUALS"));
        assert!(tags_match(&tags, "EQUALS", "|db", "EQUALS"));
        assert!(tags_match(&tags, "EQUALS", "db", "EQUALS"));
        assert!(tags_match(&tags, "EQUALS", "app|", "EQUALS"));
        assert!(!tags_match(&tags, "EQUALS", "app|db", "EQUALS"));
        assert!(tags_match(&tags, "NOTEQUALS", "app|db", "EQUALS"));
        assert!(!tags_match(&tags, "NOTEQUALS", "app|web", "EQUALS"));
        assert!(tags_match(&tags, "STARTSWITH", "app|we", "EQUALS"));
        assert!(tags_match(&tags, "EQUALS", "app|db", "NOTEQUALS"));
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let services = HashMap::new();
        let pod = json!({"tags": [{"scope": "a", "tag": "1"}]});
        let ctx = PodContext {
            pod: &pod,
            namespace: None,
            services: &services,
        };
        let cond = |v: &str| {
            json!({"resource_type": "Condition", "member_type": "Pod", "key": "Tag",
                   "operator": "EQUALS", "value": v})
        };
        let conj =
            |op: &str| json!({"resource_type": "ConjunctionOperator", "conjunction_operator": op});
        // a|1 OR (a|2 AND a|3) → true; (a|2 AND a|1) → false.
        assert!(list_matches(
            &[
                cond("a|1"),
                conj("OR"),
                cond("a|2"),
                conj("AND"),
                cond("a|3")
            ],
            &ctx
        ));
        assert!(!list_matches(
            &[cond("a|2"), conj("AND"), cond("a|1")],
            &ctx
        ));
        assert!(!list_matches(&[], &ctx));
    }

    #[test]
    fn pod_ips_split_dual_stack_values() {
        let pod = json!({"origin_properties": [{"key": "ip", "value": "10.0.0.1, fd00::1"},
                                               {"key": "other", "value": "x"}]});
        assert_eq!(pod_ips(&pod), ["10.0.0.1", "fd00::1"]);
    }
}
