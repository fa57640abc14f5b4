//! Discovery and the other non-resource endpoints of kube-apiserver, as pure functions.
//!
//! [`non_resource_response`] answers `/api`, `/apis`, `/api/v1`, `/apis/{group}`,
//! `/apis/{group}/{version}` (both the legacy `APIVersions`/`APIGroupList`/`APIGroup`/
//! `APIResourceList` documents and the aggregated `apidiscovery.k8s.io` `v2`/`v2beta1`
//! `APIGroupDiscoveryList` that kubectl and client-go ask for first), `/version`,
//! `/healthz`, `/livez`, `/readyz` and the OpenAPI documents (`/openapi/v2`,
//! `/openapi/v3`, `/openapi/v3/{api/v1|apis/G/V}`), choosing the representation from the
//! request's `Accept` header as kube-apiserver does. The server only maps the returned
//! [`NonResourceResponse`] onto HTTP.

use std::cmp::Ordering;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::openapi::{OpenApiCache, OpenApiDocs};
use crate::registry::{Origin, Registry, ResourceType};

/// `application/json`.
pub const JSON: &str = "application/json";
/// The protobuf media type of Kubernetes objects (never produced by the emulator).
pub const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";
/// The protobuf media type of the OpenAPI v2 document that client-go asks for.
pub const OPENAPI_V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/// The group of aggregated discovery documents.
pub const DISCOVERY_GROUP: &str = "apidiscovery.k8s.io";

/// The Kubernetes version the emulator claims (the API level k8s-openapi's `v1_33` models).
pub const KUBE_MAJOR: &str = "1";
pub const KUBE_MINOR: &str = "33";
pub const KUBE_GIT_VERSION: &str = "v1.33.0+kube-emu";

/// A complete answer to a non-resource request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonResourceResponse {
    pub status: u16,
    /// The exact `Content-Type` to send (aggregated discovery needs its parameters).
    pub content_type: String,
    pub body: Vec<u8>,
}

impl NonResourceResponse {
    fn json(status: u16, content_type: impl Into<String>, value: &Value) -> Self {
        NonResourceResponse {
            status,
            content_type: content_type.into(),
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }

    fn bytes(content_type: &str, body: Vec<u8>) -> Self {
        NonResourceResponse {
            status: 200,
            content_type: content_type.to_string(),
            body,
        }
    }

    fn text(body: &str) -> Self {
        NonResourceResponse {
            status: 200,
            content_type: "text/plain; charset=utf-8".to_string(),
            body: body.as_bytes().to_vec(),
        }
    }

    /// The body as UTF-8 text (lossy), for logs and tests.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Answers a non-resource `GET` path, or `None` when `path` is not one of them (a resource
/// path such as `/api/v1/pods`, or an unknown path the server should 404 itself).
///
/// `path` may carry a query string (`/openapi/v3/api/v1?hash=...`); it is ignored.
/// `accept` is the raw `Accept` header ("" when absent). OpenAPI documents come from a
/// process-wide cache keyed by the registry's content; a server that keeps its own
/// [`OpenApiCache`] calls [`non_resource_response_cached`] instead.
pub fn non_resource_response(
    registry: &Registry,
    path: &str,
    accept: &str,
) -> Option<NonResourceResponse> {
    static SHARED: std::sync::LazyLock<OpenApiCache> = std::sync::LazyLock::new(OpenApiCache::new);
    non_resource_response_cached(registry, &SHARED, path, accept)
}

/// [`non_resource_response`] with the OpenAPI documents taken from (and built into) `cache`.
pub fn non_resource_response_cached(
    registry: &Registry,
    cache: &OpenApiCache,
    path: &str,
    accept: &str,
) -> Option<NonResourceResponse> {
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    match path {
        "/healthz" | "/livez" | "/readyz" => return Some(NonResourceResponse::text("ok")),
        "/version" => return Some(NonResourceResponse::json(200, JSON, &version_info())),
        "/api" => return Some(core_root(registry, accept)),
        "/apis" => return Some(groups_root(registry, accept)),
        _ => {}
    }
    if let Some(rest) = path
        .strip_prefix("/healthz/")
        .or_else(|| path.strip_prefix("/livez/"))
    {
        return (!rest.is_empty()).then(|| NonResourceResponse::text("ok"));
    }
    if let Some(rest) = path.strip_prefix("/readyz/") {
        return (!rest.is_empty()).then(|| NonResourceResponse::text("ok"));
    }
    if path == "/openapi/v2" || path == "/swagger.json" {
        return Some(openapi_v2(&cache.get(registry), accept));
    }
    if path == "/openapi/v3" {
        return Some(NonResourceResponse::bytes(
            JSON,
            cache.get(registry).v3_index().to_vec(),
        ));
    }
    if let Some(key) = path.strip_prefix("/openapi/v3/") {
        let docs = cache.get(registry);
        return Some(match docs.v3_document(key) {
            Some(doc) => NonResourceResponse::bytes(JSON, doc.to_vec()),
            None => not_found_status(path),
        });
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["api", version] => Some(
            resource_list(registry, "", version, accept).unwrap_or_else(|| not_found_status(path)),
        ),
        ["apis", group] => {
            Some(api_group(registry, group, accept).unwrap_or_else(|| not_found_status(path)))
        }
        ["apis", group, version] => Some(
            resource_list(registry, group, version, accept)
                .unwrap_or_else(|| not_found_status(path)),
        ),
        _ => None,
    }
}

/// The `/version` document (`version.Info`).
pub fn version_info() -> Value {
    json!({
        "major": KUBE_MAJOR,
        "minor": KUBE_MINOR,
        "emulationMajor": KUBE_MAJOR,
        "emulationMinor": KUBE_MINOR,
        "minCompatibilityMajor": KUBE_MAJOR,
        "minCompatibilityMinor": "32",
        "gitVersion": KUBE_GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-04-23T00:00:00Z",
        "goVersion": "go1.24.2",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

// ---------------------------------------------------------------------------------------
// Accept negotiation

/// One media range of an `Accept` header: `type/subtype;k=v;...` with its `q` weight.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaRange {
    pub mime: String,
    pub params: Vec<(String, String)>,
    pub q: f32,
}

impl MediaRange {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether this range accepts plain JSON (`application/json`, `application/*`, `*/*`)
    /// without asking for a converted representation (`as=...`).
    pub fn accepts_plain_json(&self) -> bool {
        self.param("as").is_none()
            && matches!(self.mime.as_str(), JSON | "application/*" | "*/*" | "*")
    }
}

/// Parses an `Accept` header into media ranges ordered by preference (highest `q` first,
/// header order among equals). An empty header yields `*/*`.
pub fn parse_accept(accept: &str) -> Vec<MediaRange> {
    let mut ranges: Vec<MediaRange> = accept
        .split(',')
        .filter_map(|clause| {
            let mut parts = clause.split(';');
            let mime = parts.next()?.trim().to_ascii_lowercase();
            if mime.is_empty() {
                return None;
            }
            let mut params = Vec::new();
            let mut q = 1.0f32;
            for part in parts {
                let Some((k, v)) = part.split_once('=') else {
                    continue;
                };
                let (k, v) = (k.trim(), v.trim().trim_matches('"'));
                if k.eq_ignore_ascii_case("q") {
                    q = v.parse().unwrap_or(0.0);
                } else {
                    params.push((k.to_string(), v.to_string()));
                }
            }
            Some(MediaRange { mime, params, q })
        })
        .filter(|r| r.q > 0.0)
        .collect();
    if ranges.is_empty() && accept.trim().is_empty() {
        ranges.push(MediaRange {
            mime: "*/*".to_string(),
            params: Vec::new(),
            q: 1.0,
        });
    }
    ranges.sort_by(|a, b| b.q.partial_cmp(&a.q).unwrap_or(Ordering::Equal));
    ranges
}

/// The discovery document forms a client can ask for on `/api` and `/apis`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DiscoveryForm {
    AggregatedV2,
    AggregatedV2Beta1,
    Legacy,
}

impl DiscoveryForm {
    fn content_type(self) -> String {
        match self {
            DiscoveryForm::AggregatedV2 => {
                format!("{JSON};g={DISCOVERY_GROUP};v=v2;as=APIGroupDiscoveryList")
            }
            DiscoveryForm::AggregatedV2Beta1 => {
                format!("{JSON};g={DISCOVERY_GROUP};v=v2beta1;as=APIGroupDiscoveryList")
            }
            DiscoveryForm::Legacy => JSON.to_string(),
        }
    }
}

/// `None` when nothing the client accepts can be produced (406).
fn negotiate_discovery(accept: &str) -> Option<DiscoveryForm> {
    for range in parse_accept(accept) {
        if range.mime == JSON
            && range.param("g") == Some(DISCOVERY_GROUP)
            && range.param("as") == Some("APIGroupDiscoveryList")
        {
            match range.param("v") {
                Some("v2") => return Some(DiscoveryForm::AggregatedV2),
                Some("v2beta1") => return Some(DiscoveryForm::AggregatedV2Beta1),
                _ => continue,
            }
        }
        if range.accepts_plain_json() {
            return Some(DiscoveryForm::Legacy);
        }
    }
    None
}

/// Whether plain JSON is acceptable (for the legacy-only documents).
fn accepts_json(accept: &str) -> bool {
    parse_accept(accept)
        .iter()
        .any(MediaRange::accepts_plain_json)
}

/// A `Status` failure in kube-apiserver's shape.
pub fn status_failure(code: u16, reason: &str, message: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    })
}

fn not_found_status(path: &str) -> NonResourceResponse {
    NonResourceResponse::json(
        404,
        JSON,
        &status_failure(
            404,
            "NotFound",
            &format!("the server could not find the requested resource ({path})"),
        ),
    )
}

fn not_acceptable(accept: &str) -> NonResourceResponse {
    NonResourceResponse::json(
        406,
        JSON,
        &status_failure(
            406,
            "NotAcceptable",
            &format!(
                "only the following media types are accepted: application/json, application/yaml (asked for: {accept})"
            ),
        ),
    )
}

// ---------------------------------------------------------------------------------------
// Documents

/// `/api`: `APIVersions`, or the core group's aggregated discovery.
fn core_root(registry: &Registry, accept: &str) -> NonResourceResponse {
    match negotiate_discovery(accept) {
        None => not_acceptable(accept),
        Some(DiscoveryForm::Legacy) => NonResourceResponse::json(
            200,
            JSON,
            &json!({
                "kind": "APIVersions",
                "versions": sorted_versions(registry, ""),
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
            }),
        ),
        Some(form) => {
            let items: Vec<Value> = if registry.versions("").is_empty() {
                Vec::new()
            } else {
                vec![group_discovery(registry, "", form)]
            };
            NonResourceResponse::json(200, form.content_type(), &discovery_list(form, items))
        }
    }
}

/// `/apis`: `APIGroupList`, or every named group's aggregated discovery.
fn groups_root(registry: &Registry, accept: &str) -> NonResourceResponse {
    match negotiate_discovery(accept) {
        None => not_acceptable(accept),
        Some(DiscoveryForm::Legacy) => {
            let groups: Vec<Value> = ordered_groups(registry)
                .iter()
                .map(|g| api_group_value(registry, g))
                .collect();
            NonResourceResponse::json(
                200,
                JSON,
                &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
            )
        }
        Some(form) => {
            let items = ordered_groups(registry)
                .iter()
                .map(|g| group_discovery(registry, g, form))
                .collect();
            NonResourceResponse::json(200, form.content_type(), &discovery_list(form, items))
        }
    }
}

/// `/apis/{group}`: `APIGroup`.
fn api_group(registry: &Registry, group: &str, accept: &str) -> Option<NonResourceResponse> {
    if group.is_empty() || registry.versions(group).is_empty() {
        return None;
    }
    if !accepts_json(accept) {
        return Some(not_acceptable(accept));
    }
    let mut value = api_group_value(registry, group);
    value["kind"] = json!("APIGroup");
    value["apiVersion"] = json!("v1");
    Some(NonResourceResponse::json(200, JSON, &value))
}

/// `/api/v1`, `/apis/{group}/{version}`: `APIResourceList`.
fn resource_list(
    registry: &Registry,
    group: &str,
    version: &str,
    accept: &str,
) -> Option<NonResourceResponse> {
    let types = types_of(registry, group, version);
    if types.is_empty() {
        return None;
    }
    if !accepts_json(accept) {
        return Some(not_acceptable(accept));
    }
    let mut resources = Vec::new();
    for rt in &types {
        resources.push(legacy_resource(rt));
        for (sub, kind_group, kind_version, kind) in subresources(rt) {
            let mut entry = json!({
                "name": format!("{}/{}", rt.plural, sub),
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": kind,
                "verbs": ["get", "patch", "update"],
            });
            if kind_group != rt.group {
                entry["group"] = json!(kind_group);
                entry["version"] = json!(kind_version);
            }
            resources.push(entry);
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(NonResourceResponse::json(
        200,
        JSON,
        &json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": resources,
        }),
    ))
}

fn legacy_resource(rt: &ResourceType) -> Value {
    let mut entry = Map::new();
    entry.insert("name".into(), json!(rt.plural));
    entry.insert("singularName".into(), json!(singular(rt)));
    entry.insert("namespaced".into(), json!(rt.namespaced));
    entry.insert("kind".into(), json!(rt.kind));
    entry.insert("verbs".into(), json!(rt.verbs));
    if !rt.short_names.is_empty() {
        entry.insert("shortNames".into(), json!(rt.short_names));
    }
    let categories = categories(rt);
    if !categories.is_empty() {
        entry.insert("categories".into(), json!(categories));
    }
    Value::Object(entry)
}

fn api_group_value(registry: &Registry, group: &str) -> Value {
    let versions: Vec<Value> = sorted_versions(registry, group)
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    json!({"name": group, "versions": versions, "preferredVersion": preferred})
}

fn discovery_list(form: DiscoveryForm, items: Vec<Value>) -> Value {
    let version = if form == DiscoveryForm::AggregatedV2 {
        "v2"
    } else {
        "v2beta1"
    };
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("{DISCOVERY_GROUP}/{version}"),
        "metadata": {},
        "items": items,
    })
}

/// One `APIGroupDiscovery`: versions in preference order, each with its resources.
fn group_discovery(registry: &Registry, group: &str, _form: DiscoveryForm) -> Value {
    let versions: Vec<Value> = sorted_versions(registry, group)
        .iter()
        .map(|version| {
            let resources: Vec<Value> = types_of(registry, group, version)
                .iter()
                .map(|rt| aggregated_resource(rt))
                .collect();
            json!({"version": version, "resources": resources, "freshness": "Current"})
        })
        .collect();
    let mut metadata = Map::new();
    if !group.is_empty() {
        metadata.insert("name".into(), json!(group));
    }
    metadata.insert("creationTimestamp".into(), Value::Null);
    json!({"metadata": metadata, "versions": versions})
}

fn aggregated_resource(rt: &ResourceType) -> Value {
    let mut entry = Map::new();
    entry.insert("resource".into(), json!(rt.plural));
    entry.insert(
        "responseKind".into(),
        json!({"group": rt.group, "version": rt.version, "kind": rt.kind}),
    );
    entry.insert(
        "scope".into(),
        json!(if rt.namespaced {
            "Namespaced"
        } else {
            "Cluster"
        }),
    );
    entry.insert("singularResource".into(), json!(singular(rt)));
    entry.insert("verbs".into(), json!(rt.verbs));
    if !rt.short_names.is_empty() {
        entry.insert("shortNames".into(), json!(rt.short_names));
    }
    let categories = categories(rt);
    if !categories.is_empty() {
        entry.insert("categories".into(), json!(categories));
    }
    let subs: Vec<Value> = subresources(rt)
        .into_iter()
        .map(|(sub, group, version, kind)| {
            json!({
                "subresource": sub,
                "responseKind": {"group": group, "version": version, "kind": kind},
                "verbs": ["get", "patch", "update"],
            })
        })
        .collect();
    if !subs.is_empty() {
        entry.insert("subresources".into(), Value::Array(subs));
    }
    Value::Object(entry)
}

/// `(subresource, response group, response version, response kind)` for each served
/// subresource; `scale` answers `autoscaling/v1` `Scale` as kube-apiserver does.
fn subresources(rt: &ResourceType) -> Vec<(&'static str, String, String, String)> {
    let mut subs = Vec::new();
    if rt.subresources.scale {
        subs.push((
            "scale",
            "autoscaling".to_string(),
            "v1".to_string(),
            "Scale".to_string(),
        ));
    }
    if rt.subresources.status {
        subs.push((
            "status",
            rt.group.clone(),
            rt.version.clone(),
            rt.kind.clone(),
        ));
    }
    subs
}

fn singular(rt: &ResourceType) -> String {
    if rt.singular.is_empty() {
        rt.kind.to_lowercase()
    } else {
        rt.singular.clone()
    }
}

/// The categories a type is listed under. Built-ins the registry leaves without categories
/// get kube-apiserver's (`pods` and `services` are in `all`).
pub fn categories(rt: &ResourceType) -> Vec<String> {
    if !rt.categories.is_empty() || rt.origin != Origin::BuiltIn {
        return rt.categories.clone();
    }
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "pods" | "services" | "replicationcontrollers") => vec!["all".to_string()],
        _ => Vec::new(),
    }
}

fn types_of(registry: &Registry, group: &str, version: &str) -> Vec<Arc<ResourceType>> {
    registry
        .all()
        .filter(|rt| rt.group == group && rt.version == version)
        .cloned()
        .collect()
}

/// A group's versions, most preferred first (kube's version priority: GA, then beta, then
/// alpha, each by descending number; other names last, alphabetically).
pub fn sorted_versions(registry: &Registry, group: &str) -> Vec<String> {
    let mut versions = registry.versions(group);
    versions.sort_by(|a, b| compare_kube_versions(a, b));
    versions
}

/// Groups served under `/apis`, in kube-apiserver's order: built-in groups by their fixed
/// priority, then every other group alphabetically.
pub fn ordered_groups(registry: &Registry) -> Vec<String> {
    const BUILTIN_ORDER: &[&str] = &[
        "apiregistration.k8s.io",
        "apps",
        "events.k8s.io",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "autoscaling",
        "batch",
        "certificates.k8s.io",
        "networking.k8s.io",
        "policy",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "scheduling.k8s.io",
        "coordination.k8s.io",
        "node.k8s.io",
        "discovery.k8s.io",
        "resource.k8s.io",
        "flowcontrol.apiserver.k8s.io",
    ];
    let mut groups: Vec<String> = registry
        .groups()
        .into_iter()
        .filter(|g| !g.is_empty())
        .collect();
    groups.sort_by_key(|g| {
        let rank = BUILTIN_ORDER
            .iter()
            .position(|b| b == g)
            .unwrap_or(BUILTIN_ORDER.len());
        (rank, g.clone())
    });
    groups
}

/// kube's `CompareKubeAwareVersionStrings`, as an ordering where the preferred version
/// sorts first.
pub fn compare_kube_versions(a: &str, b: &str) -> Ordering {
    fn parse(v: &str) -> Option<(u32, u8, u32)> {
        let rest = v.strip_prefix('v')?;
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let major: u32 = rest[..digits_end].parse().ok()?;
        let tail = &rest[digits_end..];
        if tail.is_empty() {
            return Some((major, 2, 0));
        }
        let (stage, number) = if let Some(n) = tail.strip_prefix("beta") {
            (1, n)
        } else if let Some(n) = tail.strip_prefix("alpha") {
            (0, n)
        } else {
            return None;
        };
        Some((major, stage, number.parse().ok()?))
    }
    match (parse(a), parse(b)) {
        (Some((ma, sa, na)), Some((mb, sb, nb))) => sb.cmp(&sa).then(mb.cmp(&ma)).then(nb.cmp(&na)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

fn openapi_v2(docs: &OpenApiDocs, accept: &str) -> NonResourceResponse {
    // client-go asks for protobuf only and falls back (ending with baked-in strategic
    // merge metadata) on 406; anything accepting JSON gets the Swagger 2.0 JSON document.
    if accepts_json(accept) {
        NonResourceResponse::bytes(JSON, docs.v2_json().to_vec())
    } else {
        not_acceptable(accept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{PrinterColumn, Subresources};

    const KUBECTL_DISCOVERY_ACCEPT: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

    fn crd_type(version: &str, storage: bool) -> ResourceType {
        ResourceType {
            group: "crd.antrea.io".into(),
            version: version.into(),
            plural: "clusternetworkpolicies".into(),
            singular: "clusternetworkpolicy".into(),
            kind: "ClusterNetworkPolicy".into(),
            list_kind: "ClusterNetworkPolicyList".into(),
            namespaced: false,
            short_names: vec!["acnp".into()],
            categories: vec!["antrea".into()],
            verbs: crate::registry::default_verbs(),
            subresources: Subresources {
                status: true,
                scale: false,
            },
            printer_columns: vec![PrinterColumn {
                name: "Tier".into(),
                type_: "string".into(),
                format: None,
                description: None,
                priority: 0,
                json_path: ".spec.tier".into(),
            }],
            schema: Some(json!({"type": "object"})),
            storage,
            origin: Origin::Crd {
                crd_name: "clusternetworkpolicies.crd.antrea.io".into(),
            },
        }
    }

    fn registry() -> Registry {
        let mut registry = Registry::with_builtins();
        registry.insert(crd_type("v1beta1", true));
        registry.insert(crd_type("v1alpha1", false));
        registry
    }

    fn body(resp: &NonResourceResponse) -> Value {
        serde_json::from_slice(&resp.body).expect("json body")
    }

    #[test]
    fn aggregated_core_discovery_is_chosen_for_kubectl_accept() {
        let resp = non_resource_response(&registry(), "/api", KUBECTL_DISCOVERY_ACCEPT).unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(
            resp.content_type,
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        );
        let doc = body(&resp);
        assert_eq!(doc["kind"], "APIGroupDiscoveryList");
        assert_eq!(doc["apiVersion"], "apidiscovery.k8s.io/v2");
        let items = doc["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert!(items[0]["metadata"].get("name").is_none());
        let v1 = &items[0]["versions"][0];
        assert_eq!(v1["version"], "v1");
        assert_eq!(v1["freshness"], "Current");
        let pods = v1["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "pods")
            .unwrap();
        assert_eq!(pods["scope"], "Namespaced");
        assert_eq!(pods["singularResource"], "pod");
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["categories"], json!(["all"]));
        assert_eq!(
            pods["responseKind"],
            json!({"group": "", "version": "v1", "kind": "Pod"})
        );
        assert_eq!(pods["subresources"][0]["subresource"], "status");
        assert_eq!(
            pods["subresources"][0]["verbs"],
            json!(["get", "patch", "update"])
        );
    }

    #[test]
    fn v2beta1_is_served_when_it_is_the_only_aggregated_form_asked() {
        let accept = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        let resp = non_resource_response(&registry(), "/apis", accept).unwrap();
        assert!(resp.content_type.contains("v=v2beta1"));
        assert_eq!(body(&resp)["apiVersion"], "apidiscovery.k8s.io/v2beta1");
    }

    #[test]
    fn aggregated_groups_order_versions_by_preference() {
        let resp = non_resource_response(&registry(), "/apis", KUBECTL_DISCOVERY_ACCEPT).unwrap();
        let doc = body(&resp);
        let items = doc["items"].as_array().unwrap();
        let antrea = items
            .iter()
            .find(|i| i["metadata"]["name"] == "crd.antrea.io")
            .unwrap();
        let versions: Vec<&str> = antrea["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["version"].as_str().unwrap())
            .collect();
        assert_eq!(versions, ["v1beta1", "v1alpha1"]);
        let acnp = &antrea["versions"][0]["resources"][0];
        assert_eq!(acnp["scope"], "Cluster");
        assert_eq!(acnp["categories"], json!(["antrea"]));
        // Built-in groups come before CRD groups.
        let names: Vec<&str> = items
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap())
            .collect();
        assert!(
            names.iter().position(|n| *n == "networking.k8s.io")
                < names.iter().position(|n| *n == "crd.antrea.io")
        );
    }

    #[test]
    fn legacy_documents_are_served_for_plain_json() {
        let reg = registry();
        let api = body(&non_resource_response(&reg, "/api", "application/json").unwrap());
        assert_eq!(api["kind"], "APIVersions");
        assert_eq!(api["versions"], json!(["v1"]));

        let apis = non_resource_response(&reg, "/apis", "").unwrap();
        assert_eq!(apis.content_type, "application/json");
        let apis = body(&apis);
        assert_eq!(apis["kind"], "APIGroupList");
        let antrea = apis["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == "crd.antrea.io")
            .unwrap();
        assert_eq!(
            antrea["preferredVersion"]["groupVersion"],
            "crd.antrea.io/v1beta1"
        );

        let group =
            body(&non_resource_response(&reg, "/apis/crd.antrea.io", "application/json").unwrap());
        assert_eq!(group["kind"], "APIGroup");
        assert_eq!(group["versions"].as_array().unwrap().len(), 2);

        let list = body(&non_resource_response(&reg, "/api/v1", "application/json, */*").unwrap());
        assert_eq!(list["kind"], "APIResourceList");
        assert_eq!(list["groupVersion"], "v1");
        let names: Vec<&str> = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"pods")
                && names.contains(&"pods/status")
                && names.contains(&"namespaces/status")
        );
        let pods = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "pods")
            .unwrap();
        assert_eq!(pods["singularName"], "pod");
        assert_eq!(pods["namespaced"], true);

        let crd = body(
            &non_resource_response(&reg, "/apis/crd.antrea.io/v1beta1", "application/json")
                .unwrap(),
        );
        assert_eq!(crd["groupVersion"], "crd.antrea.io/v1beta1");
        assert_eq!(crd["resources"][0]["shortNames"], json!(["acnp"]));
        assert_eq!(crd["resources"][1]["name"], "clusternetworkpolicies/status");
    }

    #[test]
    fn unknown_group_versions_are_404_and_resource_paths_are_not_answered() {
        let reg = registry();
        assert_eq!(
            non_resource_response(&reg, "/apis/nope.io/v1", "")
                .unwrap()
                .status,
            404
        );
        assert_eq!(
            non_resource_response(&reg, "/apis/nope.io", "")
                .unwrap()
                .status,
            404
        );
        assert_eq!(
            non_resource_response(&reg, "/api/v2", "").unwrap().status,
            404
        );
        assert!(non_resource_response(&reg, "/api/v1/pods", "").is_none());
        assert!(non_resource_response(&reg, "/apis/crd.antrea.io/v1beta1/tiers", "").is_none());
        assert!(non_resource_response(&reg, "/metrics", "").is_none());
    }

    #[test]
    fn protobuf_only_accepts_get_406() {
        let reg = registry();
        let resp = non_resource_response(&reg, "/openapi/v2", OPENAPI_V2_PROTOBUF).unwrap();
        assert_eq!(resp.status, 406);
        assert_eq!(body(&resp)["reason"], "NotAcceptable");
        let resp = non_resource_response(&reg, "/openapi/v2", "application/json").unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(body(&resp)["swagger"], "2.0");
        assert_eq!(
            non_resource_response(&reg, "/api", PROTOBUF)
                .unwrap()
                .status,
            406
        );
    }

    #[test]
    fn health_and_version() {
        let reg = registry();
        for path in [
            "/healthz",
            "/livez",
            "/readyz",
            "/readyz?verbose",
            "/healthz/ping",
        ] {
            let resp = non_resource_response(&reg, path, "").unwrap();
            assert_eq!(
                (resp.status, resp.body_text().as_str()),
                (200, "ok"),
                "{path}"
            );
        }
        let version = body(&non_resource_response(&reg, "/version", "").unwrap());
        assert_eq!(version["major"], "1");
        assert_eq!(version["minor"], "33");
        assert!(
            version["gitVersion"]
                .as_str()
                .unwrap()
                .starts_with("v1.33.")
        );
    }

    #[test]
    fn openapi_v3_index_and_documents() {
        let reg = registry();
        let index = body(&non_resource_response(&reg, "/openapi/v3", "application/json").unwrap());
        let url = index["paths"]["apis/crd.antrea.io/v1beta1"]["serverRelativeURL"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(url.starts_with("/openapi/v3/apis/crd.antrea.io/v1beta1?hash="));
        let doc = non_resource_response(&reg, &url, "application/json").unwrap();
        assert_eq!(doc.status, 200);
        assert_eq!(body(&doc)["openapi"], "3.0.0");
        assert_eq!(
            non_resource_response(&reg, "/openapi/v3/apis/nope/v1", "")
                .unwrap()
                .status,
            404
        );
    }

    #[test]
    fn accept_parsing_orders_by_q() {
        let ranges = parse_accept(
            "application/yaml;q=0.5, application/json;as=Table;v=v1;g=meta.k8s.io, */*;q=0.1",
        );
        assert_eq!(ranges[0].param("as"), Some("Table"));
        assert_eq!(ranges[1].mime, "application/yaml");
        assert_eq!(ranges[2].mime, "*/*");
        assert_eq!(parse_accept("")[0].mime, "*/*");
    }

    #[test]
    fn kube_version_priority() {
        let mut versions = vec![
            "v1alpha1",
            "v1",
            "v2beta1",
            "v1beta2",
            "foo",
            "v2",
            "v1beta1",
            "v10alpha3",
        ];
        versions.sort_by(|a, b| compare_kube_versions(a, b));
        assert_eq!(
            versions,
            [
                "v2",
                "v1",
                "v2beta1",
                "v1beta2",
                "v1beta1",
                "v10alpha3",
                "v1alpha1",
                "foo"
            ]
        );
    }
}
