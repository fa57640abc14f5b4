//! Bearer-token users and RBAC authorization, as kube-apiserver's `RBAC` authorizer does
//! it.
//!
//! - **Authentication.** Tokens minted by [`KubeEmu::issue_token`] or
//!   [`KubeEmu::service_account_token`] (or the TokenRequest API,
//!   `POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token`, which `kubectl create
//!   token` uses) name a user. A ServiceAccount token stops working when its
//!   ServiceAccount is deleted (401). Requests without a token, or with a token the
//!   emulator did not mint (the `kube-emu` token of the written kubeconfig), stay
//!   unrestricted: they act as the cluster admin, as before.
//! - **Request attributes.** kube-apiserver's `RequestInfoFactory`: the verb from the
//!   method (`list`/`watch` for nameless GETs, `deletecollection` for nameless DELETEs,
//!   the `/watch/` prefix), the API group, resource, subresource, namespace and name
//!   (also from a `metadata.name=` field selector of a list or watch); other paths are
//!   non-resource requests with the lowercase method as verb.
//! - **Authorization.** Every ClusterRoleBinding, and the RoleBindings of the request's
//!   namespace, whose subjects include the user (User, Group, ServiceAccount) grant the
//!   rules of their Role or ClusterRole (an aggregated ClusterRole has the rules of the
//!   ClusterRoles its `aggregationRule` selects). A rule matches on verbs, apiGroups,
//!   resources (`*`, `resource/subresource`, `*/subresource`), resourceNames and
//!   nonResourceURLs (`*` suffix) exactly as `rbac/v1` does. Authenticated users also
//!   get the discovery rules of the default `system:discovery`, `system:basic-user`
//!   and `system:public-info-viewer` ClusterRoles.
//! - **Denial.** 403 with kube-apiserver's message, e.g. `pods is forbidden: User
//!   "system:serviceaccount:ns:sa" cannot list resource "pods" in API group "" in the
//!   namespace "ns"`, followed by `: RBAC: clusterrole.rbac.authorization.k8s.io "x"
//!   not found` when a binding of the user names a missing role.
//! - **Audit.** Every decision about a minted user is recorded
//!   ([`KubeEmu::authorizations`]); [`KubeEmu::unused_permissions`] lists the granted
//!   permissions a user never exercised, so a test can prove a role is not wider than
//!   needed.
//!
//! Not emulated: privilege-escalation checks on writes of RBAC objects (`escalate`,
//! `bind`), impersonation, client certificates, and the bootstrap ClusterRole objects
//! themselves (their discovery rules are applied without being stored).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::Body;
use http::{HeaderValue, Method, Request, Response, header};
use kube_apimachinery::selector::LabelSelector;
use parking_lot::{Mutex, RwLock};
use serde_json::{Value, json};

use crate::status::ApiError;
use crate::{EmuError, Inner, KubeEmu};

const RBAC_API_VERSION: &str = "rbac.authorization.k8s.io/v1";

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserInfo {
    /// `system:serviceaccount:<ns>:<name>` for ServiceAccounts.
    pub name: String,
    pub groups: Vec<String>,
}

impl UserInfo {
    /// A user in `system:authenticated` and the given groups.
    pub fn new(name: impl Into<String>, groups: &[&str]) -> Self {
        let mut all: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        if !all.iter().any(|g| g == "system:authenticated") {
            all.push("system:authenticated".to_string());
        }
        UserInfo {
            name: name.into(),
            groups: all,
        }
    }

    /// The user of a ServiceAccount token, with the groups kube-apiserver gives it.
    pub fn service_account(namespace: &str, name: &str) -> Self {
        UserInfo {
            name: format!("system:serviceaccount:{namespace}:{name}"),
            groups: vec![
                "system:serviceaccounts".to_string(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".to_string(),
            ],
        }
    }

    /// `(namespace, name)` when the user is a ServiceAccount.
    fn service_account_parts(&self) -> Option<(&str, &str)> {
        let rest = self.name.strip_prefix("system:serviceaccount:")?;
        rest.split_once(':')
    }
}

/// What a request asks to do (kube-apiserver's `authorizer.Attributes`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestAttributes {
    pub verb: String,
    /// False for non-resource paths (`/version`, `/apis`, `/healthz`, ...).
    pub resource_request: bool,
    pub api_group: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    /// The request path (used for non-resource requests).
    pub path: String,
}

impl RequestAttributes {
    /// `resource` or `resource/subresource`.
    pub fn combined_resource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }

    /// kube-apiserver's `RequestInfoFactory.NewRequestInfo` on a method, path and query.
    pub fn from_request(method: &Method, path: &str, query: Option<&str>) -> Self {
        let mut attributes = RequestAttributes {
            verb: method.as_str().to_ascii_lowercase(),
            resource_request: false,
            api_group: String::new(),
            resource: String::new(),
            subresource: String::new(),
            namespace: String::new(),
            name: String::new(),
            path: path.to_string(),
        };
        let parts: Vec<&str> = path
            .trim_matches('/')
            .split('/')
            .filter(|p| !p.is_empty())
            .collect();
        if parts.len() < 3 || !matches!(parts[0], "api" | "apis") {
            return attributes;
        }
        let mut rest = &parts[1..];
        if parts[0] == "apis" {
            if rest.len() < 3 {
                return attributes;
            }
            attributes.api_group = rest[0].to_string();
            rest = &rest[1..];
        }
        attributes.resource_request = true;
        rest = &rest[1..]; // the version
        let via_method = if matches!(rest.first(), Some(&"watch" | &"proxy")) {
            attributes.verb = rest[0].to_string();
            rest = &rest[1..];
            false
        } else {
            attributes.verb = match *method {
                Method::POST => "create",
                Method::GET | Method::HEAD => "get",
                Method::PUT => "update",
                Method::PATCH => "patch",
                Method::DELETE => "delete",
                _ => "",
            }
            .to_string();
            true
        };
        if rest.first() == Some(&"namespaces") && rest.len() > 1 {
            attributes.namespace = rest[1].to_string();
            if rest.len() > 2 && !matches!(rest[2], "status" | "finalize") {
                rest = &rest[2..];
            }
        }
        if rest.len() >= 3 && attributes.verb != "proxy" {
            attributes.subresource = rest[2].to_string();
        }
        if rest.len() >= 2 {
            attributes.name = rest[1].to_string();
        }
        if let Some(resource) = rest.first() {
            attributes.resource = resource.to_string();
        }
        if via_method && attributes.name.is_empty() && attributes.verb == "get" {
            let pairs = query_pairs(query);
            let watch = pairs
                .iter()
                .any(|(k, v)| k == "watch" && matches!(v.as_str(), "true" | "1" | "True"));
            attributes.verb = if watch { "watch" } else { "list" }.to_string();
            if let Some((_, selector)) = pairs.iter().find(|(k, _)| k == "fieldSelector")
                && let Some(name) = exact_name(selector)
            {
                attributes.name = name;
            }
        }
        if via_method && attributes.name.is_empty() && attributes.verb == "delete" {
            attributes.verb = "deletecollection".to_string();
        }
        attributes
    }
}

fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    let Some(query) = query else {
        return Vec::new();
    };
    let Ok(uri) = format!("/?{query}").parse::<http::Uri>() else {
        return Vec::new();
    };
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map(|q| q.0)
        .unwrap_or_default()
}

/// The name a field selector requires exactly (`metadata.name=x` or `==x`), when it is
/// a valid path segment.
fn exact_name(selector: &str) -> Option<String> {
    let mut found = None;
    for term in selector.split(',') {
        let (key, value) = term
            .split_once("==")
            .or_else(|| term.split_once('='))
            .filter(|(key, _)| !key.ends_with('!'))?;
        if key.trim() == "metadata.name" {
            found = Some(value.trim().to_string());
        }
    }
    found.filter(|name| {
        !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '%'])
    })
}

/// One authorization decision (distinct decisions are kept with a count).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AuthorizationRecord {
    pub user: String,
    pub attributes: RequestAttributes,
    pub allowed: bool,
    /// What allowed it (`ClusterRoleBinding "x" of ClusterRole "y"`), or why it was denied.
    pub reason: String,
}

/// A permission a rule grants, for [`KubeEmu::unused_permissions`]: one verb on one
/// group/resource (or one non-resource URL), as the role wrote it (`*` stays `*`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission {
    /// `ClusterRole/name` or `Role/namespace/name`.
    pub role: String,
    /// The namespace the binding limits it to (None for ClusterRoleBindings).
    pub namespace: Option<String>,
    pub verb: String,
    pub api_group: String,
    pub resource: String,
    pub resource_name: Option<String>,
    pub non_resource_url: Option<String>,
}

/// The RBAC state of an emulator: minted tokens and the decision log.
#[derive(Debug, Default)]
pub(crate) struct Authorizer {
    tokens: RwLock<HashMap<String, UserInfo>>,
    decisions: Mutex<BTreeMap<AuthorizationRecord, u64>>,
}

/// One RBAC `PolicyRule`.
#[derive(Debug, Clone, Default)]
struct Rule {
    verbs: Vec<String>,
    api_groups: Vec<String>,
    resources: Vec<String>,
    resource_names: Vec<String>,
    non_resource_urls: Vec<String>,
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

impl Rule {
    fn from_value(rule: &Value) -> Self {
        Rule {
            verbs: strings(rule.get("verbs")),
            api_groups: strings(rule.get("apiGroups")),
            resources: strings(rule.get("resources")),
            resource_names: strings(rule.get("resourceNames")),
            non_resource_urls: strings(rule.get("nonResourceURLs")),
        }
    }

    fn discovery() -> Vec<Rule> {
        let urls = |list: &[&str]| Rule {
            verbs: vec!["get".into()],
            non_resource_urls: list.iter().map(|s| s.to_string()).collect(),
            ..Rule::default()
        };
        vec![
            // system:discovery
            urls(&[
                "/api",
                "/api/*",
                "/apis",
                "/apis/*",
                "/openapi",
                "/openapi/*",
                "/version",
                "/version/",
            ]),
            // system:public-info-viewer
            urls(&["/healthz", "/livez", "/readyz", "/version", "/version/"]),
            // system:basic-user
            Rule {
                verbs: vec!["create".into()],
                api_groups: vec!["authorization.k8s.io".into()],
                resources: vec![
                    "selfsubjectaccessreviews".into(),
                    "selfsubjectrulesreviews".into(),
                ],
                ..Rule::default()
            },
        ]
    }

    fn has(list: &[String], wanted: &str) -> bool {
        list.iter().any(|item| item == "*" || item == wanted)
    }

    fn resource_matches(&self, combined: &str, subresource: &str) -> bool {
        self.resources.iter().any(|resource| {
            resource == "*"
                || resource == combined
                || (!subresource.is_empty() && *resource == format!("*/{subresource}"))
        })
    }

    fn non_resource_url_matches(&self, path: &str) -> bool {
        self.non_resource_urls.iter().any(|url| {
            url == "*"
                || url == path
                || url
                    .strip_suffix('*')
                    .is_some_and(|prefix| path.starts_with(prefix))
        })
    }

    /// `rbac/v1` `RuleAllows`.
    fn allows(&self, attributes: &RequestAttributes) -> bool {
        if !Rule::has(&self.verbs, &attributes.verb) {
            return false;
        }
        if !attributes.resource_request {
            return self.non_resource_url_matches(&attributes.path);
        }
        Rule::has(&self.api_groups, &attributes.api_group)
            && self.resource_matches(&attributes.combined_resource(), &attributes.subresource)
            && (self.resource_names.is_empty() || self.resource_names.contains(&attributes.name))
    }
}

/// A binding that applies to a user, with the rules of its role (or why they are missing).
struct Grant {
    binding: String,
    role: String,
    namespace: Option<String>,
    rules: Result<Vec<Rule>, String>,
}

fn applies_to(subject: &Value, user: &UserInfo, binding_namespace: &str) -> bool {
    let kind = subject.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = subject.get("name").and_then(Value::as_str).unwrap_or("");
    match kind {
        "User" => name == user.name,
        "Group" => user.groups.iter().any(|g| g == name),
        "ServiceAccount" => {
            let namespace = subject
                .get("namespace")
                .and_then(Value::as_str)
                .filter(|ns| !ns.is_empty())
                .unwrap_or(binding_namespace);
            user.service_account_parts() == Some((namespace, name))
        }
        _ => false,
    }
}

fn name_of(object: &Value) -> &str {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn namespace_of(object: &Value) -> &str {
    object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn rules_of(role: &Value) -> Vec<Rule> {
    role.get("rules")
        .and_then(Value::as_array)
        .map(|rules| rules.iter().map(Rule::from_value).collect())
        .unwrap_or_default()
}

fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

impl KubeEmu {
    fn rbac_objects(&self, plural: &str, namespace: Option<&str>) -> Vec<Value> {
        self.list_objects(RBAC_API_VERSION, plural, namespace)
    }

    /// The rules of a ClusterRole, aggregated when it has an `aggregationRule`.
    fn cluster_role_rules(&self, name: &str, all: &[Value]) -> Result<Vec<Rule>, String> {
        let role = all
            .iter()
            .find(|role| name_of(role) == name)
            .ok_or_else(|| format!("clusterrole.rbac.authorization.k8s.io {name:?} not found"))?;
        let Some(selectors) = role
            .pointer("/aggregationRule/clusterRoleSelectors")
            .and_then(Value::as_array)
        else {
            return Ok(rules_of(role));
        };
        let selectors: Vec<LabelSelector> = selectors
            .iter()
            .filter_map(|s| LabelSelector::from_label_selector(Some(s)).ok())
            .collect();
        Ok(all
            .iter()
            .filter(|other| name_of(other) != name)
            .filter(|other| {
                let labels = labels_of(other);
                selectors.iter().any(|s| s.matches(&labels))
            })
            .flat_map(rules_of)
            .collect())
    }

    /// The bindings that apply to `user` for a request in `namespace` ("" for cluster
    /// scope), or in every namespace when `namespace` is None.
    fn grants(&self, user: &UserInfo, namespace: Option<&str>) -> Vec<Grant> {
        let cluster_roles = self.rbac_objects("clusterroles", None);
        let mut grants = Vec::new();
        for binding in self.rbac_objects("clusterrolebindings", None) {
            let subjects = binding.get("subjects").and_then(Value::as_array);
            if !subjects.is_some_and(|s| s.iter().any(|s| applies_to(s, user, ""))) {
                continue;
            }
            let role = binding
                .pointer("/roleRef/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            grants.push(Grant {
                binding: format!("ClusterRoleBinding {:?}", name_of(&binding)),
                role: format!("ClusterRole/{role}"),
                namespace: None,
                rules: self.cluster_role_rules(role, &cluster_roles),
            });
        }
        let role_bindings = match namespace {
            Some("") => Vec::new(),
            Some(namespace) => self.rbac_objects("rolebindings", Some(namespace)),
            None => self.rbac_objects("rolebindings", None),
        };
        for binding in role_bindings {
            let binding_namespace = namespace_of(&binding).to_string();
            let subjects = binding.get("subjects").and_then(Value::as_array);
            if !subjects.is_some_and(|s| s.iter().any(|s| applies_to(s, user, &binding_namespace)))
            {
                continue;
            }
            let kind = binding
                .pointer("/roleRef/kind")
                .and_then(Value::as_str)
                .unwrap_or("");
            let role = binding
                .pointer("/roleRef/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            let (role_id, rules) = if kind == "ClusterRole" {
                (
                    format!("ClusterRole/{role}"),
                    self.cluster_role_rules(role, &cluster_roles),
                )
            } else {
                let rules = self
                    .get_object(RBAC_API_VERSION, "roles", Some(&binding_namespace), role)
                    .map(|r| rules_of(&r))
                    .ok_or_else(|| format!("role.rbac.authorization.k8s.io {role:?} not found"));
                (format!("Role/{binding_namespace}/{role}"), rules)
            };
            grants.push(Grant {
                binding: format!("RoleBinding \"{binding_namespace}/{}\"", name_of(&binding)),
                role: role_id,
                namespace: Some(binding_namespace),
                rules,
            });
        }
        grants
    }

    /// Decides whether `user` may do what `attributes` say, as kube-apiserver's RBAC
    /// authorizer does. `Ok(reason)` names the binding that allows it; `Err(message)`
    /// is the 403 message.
    pub fn authorize(
        &self,
        user: &UserInfo,
        attributes: &RequestAttributes,
    ) -> Result<String, String> {
        if user.groups.iter().any(|g| g == "system:authenticated")
            && Rule::discovery().iter().any(|rule| rule.allows(attributes))
        {
            return Ok("system:discovery".to_string());
        }
        let namespace = if attributes.resource_request {
            Some(attributes.namespace.as_str())
        } else {
            Some("")
        };
        let mut errors = Vec::new();
        for grant in self.grants(user, namespace) {
            match &grant.rules {
                Ok(rules) => {
                    if rules.iter().any(|rule| rule.allows(attributes)) {
                        return Ok(format!("{} of {}", grant.binding, grant.role));
                    }
                }
                Err(error) => errors.push(error.clone()),
            }
        }
        let mut message = forbidden_message(&user.name, attributes);
        if !errors.is_empty() {
            message = format!("{message}: RBAC: {}", errors.join(", "));
        }
        Err(message)
    }

    /// Mints a bearer token for `user`; requests with it are authorized by RBAC.
    pub fn issue_token(&self, user: UserInfo) -> String {
        let token = format!("kube-emu-{}", uuid::Uuid::new_v4().simple());
        self.inner.rbac.tokens.write().insert(token.clone(), user);
        token
    }

    /// Mints a token for an existing ServiceAccount (what the TokenRequest API returns).
    pub fn service_account_token(&self, namespace: &str, name: &str) -> Result<String, EmuError> {
        if self
            .get_object("v1", "serviceaccounts", Some(namespace), name)
            .is_none()
        {
            return Err(EmuError::Invalid(format!(
                "serviceaccounts {name:?} not found in namespace {namespace:?}"
            )));
        }
        Ok(self.issue_token(UserInfo::service_account(namespace, name)))
    }

    /// The API as a router whose requests all carry `Authorization: Bearer <token>`
    /// (an in-process client acting as that token's user).
    pub fn router_with_token(&self, token: &str) -> axum::Router {
        let value = HeaderValue::from_str(&format!("Bearer {token}")).ok();
        self.router().layer(axum::middleware::map_request(
            move |mut request: Request<Body>| {
                let value = value.clone();
                async move {
                    if let Some(value) = value {
                        request.headers_mut().insert(header::AUTHORIZATION, value);
                    }
                    request
                }
            },
        ))
    }

    /// A kubeconfig pointing at `server_url` whose user authenticates with `token` (for a
    /// process that should run as a minted user, e.g. an adapter under its ServiceAccount).
    pub fn kubeconfig_yaml_for_token(&self, server_url: &str, token: &str) -> String {
        crate::kubeconfig_yaml(server_url).replace(
            "    token: kube-emu\n",
            &format!("    token: {}\n", Value::String(token.to_string())),
        )
    }

    /// Every distinct authorization decision about minted users so far, with how many
    /// requests it covered.
    pub fn authorizations(&self) -> Vec<(AuthorizationRecord, u64)> {
        self.inner
            .rbac
            .decisions
            .lock()
            .iter()
            .map(|(record, count)| (record.clone(), *count))
            .collect()
    }

    /// Forgets the recorded decisions.
    pub fn clear_authorizations(&self) {
        self.inner.rbac.decisions.lock().clear();
    }

    /// The permissions the roles bound to `user` grant that no allowed request of that
    /// user used (one entry per verb × group × resource × resourceName of each rule).
    pub fn unused_permissions(&self, user: &UserInfo) -> Vec<Permission> {
        let used: Vec<RequestAttributes> = self
            .inner
            .rbac
            .decisions
            .lock()
            .keys()
            .filter(|record| record.allowed && record.user == user.name)
            .map(|record| record.attributes.clone())
            .collect();
        let mut unused = Vec::new();
        for grant in self.grants(user, None) {
            let Ok(rules) = &grant.rules else { continue };
            for rule in rules {
                for permission in expand(rule, &grant) {
                    let single = Rule {
                        verbs: vec![permission.verb.clone()],
                        api_groups: vec![permission.api_group.clone()],
                        resources: vec![permission.resource.clone()],
                        resource_names: permission.resource_name.iter().cloned().collect(),
                        non_resource_urls: permission.non_resource_url.iter().cloned().collect(),
                    };
                    let in_scope = |a: &RequestAttributes| {
                        permission
                            .namespace
                            .as_deref()
                            .is_none_or(|ns| a.namespace == ns)
                    };
                    let non_resource = permission.non_resource_url.is_some();
                    if !used.iter().any(|a| {
                        a.resource_request != non_resource && in_scope(a) && single.allows(a)
                    }) && !unused.contains(&permission)
                    {
                        unused.push(permission);
                    }
                }
            }
        }
        unused
    }
}

fn expand(rule: &Rule, grant: &Grant) -> Vec<Permission> {
    let mut permissions = Vec::new();
    for verb in &rule.verbs {
        for url in &rule.non_resource_urls {
            permissions.push(Permission {
                role: grant.role.clone(),
                namespace: grant.namespace.clone(),
                verb: verb.clone(),
                api_group: String::new(),
                resource: String::new(),
                resource_name: None,
                non_resource_url: Some(url.clone()),
            });
        }
        for group in &rule.api_groups {
            for resource in &rule.resources {
                let names: Vec<Option<String>> = if rule.resource_names.is_empty() {
                    vec![None]
                } else {
                    rule.resource_names.iter().cloned().map(Some).collect()
                };
                for resource_name in names {
                    permissions.push(Permission {
                        role: grant.role.clone(),
                        namespace: grant.namespace.clone(),
                        verb: verb.clone(),
                        api_group: group.clone(),
                        resource: resource.clone(),
                        resource_name,
                        non_resource_url: None,
                    });
                }
            }
        }
    }
    permissions
}

/// kube-apiserver's `forbiddenMessage` wrapped in `NewForbidden`'s prefix.
fn forbidden_message(user: &str, attributes: &RequestAttributes) -> String {
    if !attributes.resource_request {
        return format!(
            "forbidden: User {user:?} cannot {} path {:?}",
            attributes.verb, attributes.path
        );
    }
    let resource = attributes.combined_resource();
    let what = if attributes.namespace.is_empty() {
        format!(
            "User {user:?} cannot {} resource {resource:?} in API group {:?} at the cluster scope",
            attributes.verb, attributes.api_group
        )
    } else {
        format!(
            "User {user:?} cannot {} resource {resource:?} in API group {:?} in the namespace {:?}",
            attributes.verb, attributes.api_group, attributes.namespace
        )
    };
    let qualified = if attributes.api_group.is_empty() {
        attributes.resource.clone()
    } else {
        format!("{}.{}", attributes.resource, attributes.api_group)
    };
    if attributes.name.is_empty() {
        format!("{qualified} is forbidden: {what}")
    } else {
        format!("{qualified} {:?} is forbidden: {what}", attributes.name)
    }
}

/// `details` of a 403: Go's `StatusDetails` omits empty fields, so a non-resource denial
/// has `{}`.
fn status_details(attributes: &RequestAttributes) -> Value {
    let mut details = serde_json::Map::new();
    for (key, value) in [
        ("name", &attributes.name),
        ("group", &attributes.api_group),
        ("kind", &attributes.resource),
    ] {
        if !value.is_empty() {
            details.insert(key.to_string(), Value::String(value.clone()));
        }
    }
    Value::Object(details)
}

fn bearer_token(request: &Request<Body>) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn unauthorized() -> ApiError {
    ApiError::new(401, "Unauthorized", "Unauthorized")
}

/// The request-path hook: authenticates a minted token and authorizes the request
/// (`Err` is the 401 or 403 to answer). Requests without a minted token pass.
pub(crate) fn check(inner: &Arc<Inner>, request: &Request<Body>) -> Result<(), ApiError> {
    let Some(token) = bearer_token(request) else {
        return Ok(());
    };
    let Some(user) = inner.rbac.tokens.read().get(token).cloned() else {
        // Not minted here: the admin token of the written kubeconfig, or any other.
        return Ok(());
    };
    let emu = KubeEmu {
        inner: inner.clone(),
    };
    if let Some((namespace, name)) = user.service_account_parts()
        && emu
            .get_object("v1", "serviceaccounts", Some(namespace), name)
            .is_none()
    {
        return Err(unauthorized());
    }
    let attributes = RequestAttributes::from_request(
        request.method(),
        request.uri().path(),
        request.uri().query(),
    );
    let decision = emu.authorize(&user, &attributes);
    let (allowed, reason) = match &decision {
        Ok(reason) => (true, reason.clone()),
        Err(message) => (false, message.clone()),
    };
    *inner
        .rbac
        .decisions
        .lock()
        .entry(AuthorizationRecord {
            user: user.name.clone(),
            attributes: attributes.clone(),
            allowed,
            reason,
        })
        .or_insert(0) += 1;
    match decision {
        Ok(_) => Ok(()),
        Err(message) => {
            tracing::debug!(user = %user.name, %message, "RBAC denied a request");
            Err(ApiError::new(403, "Forbidden", message).with_details(status_details(&attributes)))
        }
    }
}

/// The TokenRequest API: `POST .../serviceaccounts/{name}/token` returns a token for
/// that ServiceAccount. Every other request is handed back (`Err`).
pub(crate) async fn token_request(
    inner: &Arc<Inner>,
    request: Request<Body>,
) -> Result<Response<Body>, Request<Body>> {
    let path = request.uri().path().to_string();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (namespace, name) = match parts.as_slice() {
        [
            "api",
            "v1",
            "namespaces",
            namespace,
            "serviceaccounts",
            name,
            "token",
        ] if request.method() == Method::POST => (namespace.to_string(), name.to_string()),
        _ => return Err(request),
    };
    let body = axum::body::to_bytes(request.into_body(), inner.options.max_body_bytes)
        .await
        .unwrap_or_default();
    let spec = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("spec").cloned())
        .unwrap_or_else(|| json!({}));
    let seconds = match spec.get("expirationSeconds") {
        None | Some(Value::Null) => 3600,
        Some(value) => value.as_i64().unwrap_or(0),
    };
    let too_short = seconds < 600;
    if too_short || seconds > 1 << 32 {
        let detail = if too_short {
            "may not specify a duration less than 10 minutes"
        } else {
            "may not specify a duration larger than 2^32 seconds"
        };
        let error = kube_apimachinery::field_error::FieldError::invalid(
            "spec.expirationSeconds",
            json!(seconds),
            detail,
        );
        let error = ApiError::invalid("TokenRequest", "authentication.k8s.io", &name, &[error]);
        return Ok(crate::http::error_response(&error));
    }
    let emu = KubeEmu {
        inner: inner.clone(),
    };
    let token = match emu.service_account_token(&namespace, &name) {
        Ok(token) => token,
        Err(_) => {
            let error = ApiError::not_found("", "serviceaccounts", &name);
            return Ok(crate::http::error_response(&error));
        }
    };
    let expiration = k8s_openapi::jiff::Timestamp::now()
        .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(seconds))
        .map(|t| t.to_string())
        .unwrap_or_default();
    let answer = json!({
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "audiences": spec.get("audiences").cloned().unwrap_or_else(|| json!(["https://kubernetes.default.svc"])),
            "expirationSeconds": seconds,
        },
        "status": {"token": token, "expirationTimestamp": expiration},
    });
    Ok(crate::http::value_response(201, &answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(method: Method, path: &str, query: Option<&str>) -> RequestAttributes {
        RequestAttributes::from_request(&method, path, query)
    }

    #[test]
    fn request_attributes_follow_the_request_info_factory() {
        let a = attrs(Method::GET, "/api/v1/namespaces/ns/pods", None);
        assert_eq!(
            (a.verb.as_str(), a.resource.as_str(), a.namespace.as_str()),
            ("list", "pods", "ns")
        );
        let a = attrs(Method::GET, "/api/v1/pods", Some("watch=true"));
        assert_eq!((a.verb.as_str(), a.namespace.as_str()), ("watch", ""));
        let a = attrs(
            Method::GET,
            "/apis/coordination.k8s.io/v1/namespaces/ns/leases",
            Some("fieldSelector=metadata.name%3Dl&watch=1"),
        );
        assert_eq!(
            (a.verb.as_str(), a.api_group.as_str(), a.name.as_str()),
            ("watch", "coordination.k8s.io", "l")
        );
        let a = attrs(
            Method::PATCH,
            "/apis/crd.antrea.io/v1beta1/clusternetworkpolicies/p/status",
            None,
        );
        assert_eq!(a.combined_resource(), "clusternetworkpolicies/status");
        assert_eq!(a.name, "p");
        let a = attrs(Method::DELETE, "/api/v1/namespaces/ns/configmaps", None);
        assert_eq!(a.verb, "deletecollection");
        let a = attrs(Method::GET, "/api/v1/namespaces/ns", None);
        assert_eq!(
            (a.resource.as_str(), a.name.as_str(), a.namespace.as_str()),
            ("namespaces", "ns", "ns")
        );
        let a = attrs(Method::PUT, "/api/v1/namespaces/ns/finalize", None);
        assert_eq!(
            (a.resource.as_str(), a.subresource.as_str()),
            ("namespaces", "finalize")
        );
        let a = attrs(Method::GET, "/api/v1/watch/namespaces/ns/pods/p", None);
        assert_eq!((a.verb.as_str(), a.name.as_str()), ("watch", "p"));
        for path in ["/version", "/apis", "/api/v1", "/apis/apps/v1", "/healthz"] {
            let a = attrs(Method::GET, path, None);
            assert!(!a.resource_request, "{path}");
            assert_eq!(a.verb, "get");
        }
    }

    #[test]
    fn rules_match_like_rbac_v1() {
        let rule = Rule {
            verbs: vec!["get".into(), "list".into()],
            api_groups: vec!["".into()],
            resources: vec!["pods".into(), "*/status".into()],
            resource_names: vec![],
            non_resource_urls: vec![],
        };
        assert!(rule.allows(&attrs(Method::GET, "/api/v1/namespaces/n/pods/p", None)));
        assert!(rule.allows(&attrs(
            Method::GET,
            "/api/v1/namespaces/n/services/s/status",
            None
        )));
        assert!(!rule.allows(&attrs(Method::GET, "/api/v1/namespaces/n/pods/p/log", None)));
        assert!(!rule.allows(&attrs(Method::DELETE, "/api/v1/namespaces/n/pods/p", None)));
        assert!(!rule.allows(&attrs(
            Method::GET,
            "/apis/apps/v1/namespaces/n/deployments",
            None
        )));
        let named = Rule {
            verbs: vec!["get".into(), "update".into()],
            api_groups: vec!["".into()],
            resources: vec!["configmaps".into()],
            resource_names: vec!["mine".into()],
            non_resource_urls: vec![],
        };
        assert!(named.allows(&attrs(
            Method::PUT,
            "/api/v1/namespaces/n/configmaps/mine",
            None
        )));
        assert!(!named.allows(&attrs(
            Method::PUT,
            "/api/v1/namespaces/n/configmaps/other",
            None
        )));
        let urls = Rule {
            verbs: vec!["get".into()],
            non_resource_urls: vec!["/metrics".into(), "/logs/*".into()],
            ..Rule::default()
        };
        assert!(urls.allows(&attrs(Method::GET, "/metrics", None)));
        assert!(urls.allows(&attrs(Method::GET, "/logs/a/b", None)));
        assert!(!urls.allows(&attrs(Method::GET, "/logsx", None)));
        assert!(!urls.allows(&attrs(Method::GET, "/api/v1/pods", None)));
    }

    #[test]
    fn a_kubeconfig_for_a_token_carries_that_token() {
        let emu = KubeEmu::new();
        let text = emu.kubeconfig_yaml_for_token("http://127.0.0.1:1", "kube-emu-abc");
        let value: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(value["users"][0]["user"]["token"], "kube-emu-abc");
        assert_eq!(
            value["clusters"][0]["cluster"]["server"],
            "http://127.0.0.1:1"
        );
    }

    #[test]
    fn forbidden_messages_are_kube_apiservers() {
        let user = "system:serviceaccount:ns:sa";
        assert_eq!(
            forbidden_message(
                user,
                &attrs(Method::GET, "/api/v1/namespaces/ns/pods", None)
            ),
            "pods is forbidden: User \"system:serviceaccount:ns:sa\" cannot list resource \"pods\" in API group \"\" in the namespace \"ns\""
        );
        assert_eq!(
            forbidden_message(
                user,
                &attrs(
                    Method::PATCH,
                    "/apis/crd.antrea.io/v1beta1/tiers/t/status",
                    None
                )
            ),
            "tiers.crd.antrea.io \"t\" is forbidden: User \"system:serviceaccount:ns:sa\" cannot patch resource \"tiers/status\" in API group \"crd.antrea.io\" at the cluster scope"
        );
        assert_eq!(
            forbidden_message(user, &attrs(Method::GET, "/metrics", None)),
            "forbidden: User \"system:serviceaccount:ns:sa\" cannot get path \"/metrics\""
        );
    }
}
