//! The sandbox's demo content: a small workload for the emulated cluster and a firewall
//! policy set for the simulated NSX Manager that uses groups of every supported kind and one
//! deliberately unsupported rule.

use serde_json::{Value, json};

/// Labels as (key, value) pairs.
pub type Labels = &'static [(&'static str, &'static str)];

/// Namespaces of the demo workload, with their labels.
pub const NAMESPACES: &[(&str, Labels)] = &[
    ("shop", &[("env", "prod"), ("team", "web")]),
    ("payments", &[("env", "prod"), ("team", "finance")]),
    ("monitoring", &[("env", "ops")]),
];

/// Pods of the demo workload: (namespace, name, labels).
pub const PODS: &[(&str, &str, Labels)] = &[
    ("shop", "web-1", &[("app", "web"), ("tier", "frontend")]),
    ("shop", "web-2", &[("app", "web"), ("tier", "frontend")]),
    ("shop", "api-1", &[("app", "api"), ("tier", "backend")]),
    ("payments", "db-1", &[("app", "db"), ("tier", "data")]),
    (
        "payments",
        "ledger-1",
        &[("app", "ledger"), ("tier", "backend")],
    ),
    ("monitoring", "prometheus-1", &[("app", "prometheus")]),
];

/// The pod an allowed Traceflow starts from, and where it goes (web → db on 5432).
pub const ALLOWED_FLOW: (&str, &str, &str, &str, u16) = ("shop", "web-1", "payments", "db-1", 5432);
/// A flow the demo policies drop (api → db on 5432).
pub const DROPPED_FLOW: (&str, &str, &str, &str, u16) = ("shop", "api-1", "payments", "db-1", 5432);

fn labels(pairs: &[(&str, &str)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), Value::String((*value).to_owned())))
            .collect(),
    )
}

/// The workload objects, in creation order (namespaces first).
pub fn workload() -> Vec<Value> {
    let mut objects = Vec::new();
    for (name, pairs) in NAMESPACES {
        objects.push(json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": labels(pairs)}
        }));
    }
    for (namespace, name, pairs) in PODS {
        objects.push(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels(pairs)},
            "spec": {"containers": [{
                "name": "main",
                "image": "registry.k8s.io/e2e-test-images/agnhost:2.45",
                "ports": [{"containerPort": 8080, "protocol": "TCP"}]
            }]}
        }));
    }
    objects.push(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"app": "web"},
                 "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}
    }));
    objects.push(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "db", "namespace": "payments"},
        "spec": {"selector": {"app": "db"},
                 "ports": [{"name": "postgres", "port": 5432, "protocol": "TCP"}]}
    }));
    objects.push(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "shop", "namespace": "shop"},
        "spec": {"rules": [{"host": "shop.example.com", "http": {"paths": [{
            "path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "web", "port": {"number": 80}}}
        }]}}]}
    }));
    objects.push(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "ledger-from-api", "namespace": "payments"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "ledger"}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "web"}},
                                    "podSelector": {"matchLabels": {"app": "api"}}}]}]
        }
    }));
    objects
}

/// The domain the demo policies live in.
pub const DOMAIN: &str = "default";
/// The demo policies that translate.
pub const SUPPORTED_POLICIES: &[&str] = &["demo-infra", "demo-app"];
/// The policy holding the deliberately unsupported rule (a source port).
pub const UNSUPPORTED_POLICY: &str = "demo-unsupported";
/// The policy the tour changes, and the rule it adds.
pub const CHANGED_POLICY: &str = "demo-app";
pub const ADDED_RULE: &str = "web-to-backend";

/// The NSX path of a demo policy.
pub fn policy_path(id: &str) -> String {
    format!("/infra/domains/{DOMAIN}/security-policies/{id}")
}

fn group_path(id: &str) -> String {
    format!("/infra/domains/{DOMAIN}/groups/{id}")
}

fn condition(member_type: &str, key: &str, value: &str) -> Value {
    json!({"resource_type": "Condition", "member_type": member_type, "key": key,
           "operator": "EQUALS", "value": value})
}

fn and() -> Value {
    json!({"resource_type": "ConjunctionOperator", "conjunction_operator": "AND"})
}

fn or() -> Value {
    json!({"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"})
}

/// A criterion mixing member types (Pod or Service with Namespace): NSX takes it only as a
/// `NestedExpression`.
fn nested(expressions: Value) -> Value {
    json!([{"resource_type": "NestedExpression", "expressions": expressions}])
}

fn group(id: &str, display_name: &str, expression: Value) -> Value {
    json!({"resource_type": "ChildGroup", "Group": {
        "resource_type": "Group", "id": id, "display_name": display_name,
        "group_type": ["ANTREA"], "expression": expression
    }})
}

/// One rule of a demo policy: group ids (empty = ANY), service ids (empty = ANY), the
/// direction, rule scope group ids (empty = ANY) and the action.
pub struct DemoRule<'a> {
    pub id: &'a str,
    pub sequence_number: i64,
    pub sources: &'a [&'a str],
    pub destinations: &'a [&'a str],
    pub services: &'a [&'a str],
    pub direction: &'a str,
    pub scope: &'a [&'a str],
    pub action: &'a str,
    pub ip_protocol: &'a str,
}

impl DemoRule<'_> {
    /// The NSX `Rule`.
    pub fn to_json(&self) -> Value {
        json!({
            "resource_type": "Rule", "id": self.id, "display_name": self.id,
            "sequence_number": self.sequence_number,
            "source_groups": group_paths(self.sources),
            "destination_groups": group_paths(self.destinations),
            "services": service_paths(self.services), "scope": group_paths(self.scope),
            "action": self.action, "direction": self.direction,
            "ip_protocol": self.ip_protocol, "logged": true, "tag": "sandbox demo"
        })
    }
}

fn group_paths(ids: &[&str]) -> Vec<String> {
    if ids.is_empty() {
        vec!["ANY".to_owned()]
    } else {
        ids.iter().map(|id| group_path(id)).collect()
    }
}

fn service_paths(ids: &[&str]) -> Vec<String> {
    if ids.is_empty() {
        vec!["ANY".to_owned()]
    } else {
        ids.iter()
            .map(|id| format!("/infra/services/{id}"))
            .collect()
    }
}

fn policy(
    id: &str,
    category: &str,
    sequence_number: i64,
    scope: &[&str],
    rules: Vec<Value>,
) -> Value {
    let scope = group_paths(scope);
    json!({"resource_type": "ChildSecurityPolicy", "SecurityPolicy": {
        "resource_type": "SecurityPolicy", "id": id, "display_name": id,
        "category": category, "sequence_number": sequence_number, "stateful": true,
        "scope": scope, "rules": rules
    }})
}

/// The hierarchical `PATCH /policy/api/v1/infra` body with the demo groups, services and
/// policies (span entries are added separately, once the cluster is registered).
pub fn nsx_policy_set() -> Value {
    let groups = vec![
        // Namespace Name.
        group(
            "ns-shop",
            "Namespace shop",
            json!([condition("Namespace", "Name", "shop")]),
        ),
        // Namespace Tag.
        group(
            "ns-prod",
            "Production namespaces",
            json!([condition("Namespace", "Tag", "env|prod")]),
        ),
        // Pod Tag with the dis:k8s: scope prefix.
        group(
            "web-pods",
            "Web pods",
            json!([condition("Pod", "Tag", "dis:k8s:app|web")]),
        ),
        // Pod Tag AND Namespace Name in one criterion.
        group(
            "db-pods",
            "Database pods",
            nested(json!([
                condition("Pod", "Tag", "app|db"),
                and(),
                condition("Namespace", "Name", "payments")
            ])),
        ),
        group(
            "api-pods",
            "API pods",
            nested(json!([
                condition("Pod", "Tag", "app|api"),
                and(),
                condition("Namespace", "Name", "shop")
            ])),
        ),
        group(
            "ledger-pods",
            "Ledger pods",
            json!([condition("Pod", "Tag", "app|ledger")]),
        ),
        // OR across criteria, and Pod Tag NOTEQUALS.
        group(
            "backend-or-data",
            "Backend or data tier",
            json!([
                condition("Pod", "Tag", "tier|backend"),
                or(),
                condition("Pod", "Tag", "tier|data")
            ]),
        ),
        // Service Name with Namespace Name.
        group(
            "db-service",
            "Database service",
            nested(json!([
                condition("Service", "Name", "db"),
                and(),
                condition("Namespace", "Name", "payments")
            ])),
        ),
        // IP addresses, CIDRs and a range.
        group(
            "monitoring-ips",
            "Monitoring networks",
            json!([{"resource_type": "IPAddressExpression",
                    "ip_addresses": ["10.96.0.10", "172.16.0.0/16", "192.168.10.10-192.168.10.20"]}]),
        ),
        // Pod Tag AND Namespace Tag in one criterion. (NSX takes no PathExpression in an
        // ANTREA group, so there is no nesting here.)
        group(
            "frontend",
            "Frontend",
            nested(json!([
                condition("Pod", "Tag", "tier|frontend"),
                and(),
                condition("Namespace", "Tag", "team|web")
            ])),
        ),
    ];
    let services = vec![
        json!({"resource_type": "ChildService", "Service": {
            "resource_type": "Service", "id": "postgres", "display_name": "PostgreSQL",
            "service_entries": [{"resource_type": "L4PortSetServiceEntry", "id": "tcp-5432",
                                 "l4_protocol": "TCP", "destination_ports": ["5432"]}]
        }}),
        json!({"resource_type": "ChildService", "Service": {
            "resource_type": "Service", "id": "web-ports", "display_name": "Web ports",
            "service_entries": [{"resource_type": "L4PortSetServiceEntry", "id": "tcp-web",
                                 "l4_protocol": "TCP", "destination_ports": ["80", "8080-8090"]}]
        }}),
        json!({"resource_type": "ChildService", "Service": {
            "resource_type": "Service", "id": "from-port-1024", "display_name": "From port 1024",
            "service_entries": [{"resource_type": "L4PortSetServiceEntry", "id": "src-1024",
                                 "l4_protocol": "TCP", "source_ports": ["1024"],
                                 "destination_ports": ["443"]}]
        }}),
    ];
    let any = DemoRule {
        id: "",
        sequence_number: 0,
        sources: &[],
        destinations: &[],
        services: &[],
        direction: "IN_OUT",
        scope: &[],
        action: "ALLOW",
        ip_protocol: "IPV4_IPV6",
    };
    let policies = vec![
        policy(
            "demo-infra",
            "Infrastructure",
            10,
            &[],
            vec![
                DemoRule {
                    id: "dns-out",
                    sequence_number: 1,
                    services: &["DNS-UDP", "DNS"],
                    direction: "OUT",
                    ..any
                }
                .to_json(),
                DemoRule {
                    id: "monitoring-scrape",
                    sequence_number: 2,
                    sources: &["monitoring-ips"],
                    services: &["web-ports"],
                    direction: "IN",
                    scope: &["frontend"],
                    ..any
                }
                .to_json(),
                DemoRule {
                    id: "ledger-to-db-service",
                    sequence_number: 3,
                    destinations: &["db-service"],
                    services: &["postgres"],
                    direction: "OUT",
                    scope: &["ledger-pods"],
                    ..any
                }
                .to_json(),
            ],
        ),
        policy(
            "demo-app",
            "Application",
            20,
            &["backend-or-data"],
            vec![
                DemoRule {
                    id: "web-to-db",
                    sequence_number: 1,
                    sources: &["web-pods"],
                    services: &["postgres"],
                    direction: "IN",
                    ..any
                }
                .to_json(),
                DemoRule {
                    id: "ping-from-prod",
                    sequence_number: 2,
                    sources: &["ns-prod"],
                    services: &["ICMP_Echo_Request"],
                    direction: "IN",
                    ip_protocol: "IPV4",
                    ..any
                }
                .to_json(),
                DemoRule {
                    id: "deny-rest",
                    sequence_number: 3,
                    action: "DROP",
                    ..any
                }
                .to_json(),
            ],
        ),
        policy(
            UNSUPPORTED_POLICY,
            "Application",
            30,
            &["db-pods"],
            vec![
                DemoRule {
                    id: "source-port-rule",
                    sequence_number: 1,
                    sources: &["api-pods"],
                    services: &["from-port-1024"],
                    direction: "IN",
                    ..any
                }
                .to_json(),
            ],
        ),
    ];
    let mut children = groups;
    children.extend(policies);
    let mut infra_children = vec![json!({"resource_type": "ChildDomain", "Domain": {
        "resource_type": "Domain", "id": DOMAIN, "children": children
    }})];
    infra_children.extend(services);
    json!({"resource_type": "Infra", "children": infra_children})
}

/// The rule the tour adds at the top of [`CHANGED_POLICY`]: web pods may reach the backend
/// on the web ports.
pub fn added_rule() -> Value {
    DemoRule {
        id: ADDED_RULE,
        sequence_number: 0,
        sources: &["web-pods"],
        destinations: &[],
        services: &["web-ports"],
        direction: "IN",
        scope: &[],
        action: "ALLOW",
        ip_protocol: "IPV4_IPV6",
    }
    .to_json()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_has_every_inventory_kind_the_tour_checks() {
        let kinds: Vec<String> = workload()
            .iter()
            .map(|object| object["kind"].as_str().unwrap_or_default().to_owned())
            .collect();
        for kind in ["Namespace", "Pod", "Service", "Ingress", "NetworkPolicy"] {
            assert!(kinds.iter().any(|k| k == kind), "no {kind}");
        }
    }

    #[test]
    fn policy_set_names_every_group_it_uses() {
        let body = nsx_policy_set().to_string();
        for id in [
            "web-pods",
            "db-pods",
            "monitoring-ips",
            "frontend",
            "db-service",
        ] {
            assert!(body.contains(&format!("\"id\":\"{id}\"")), "{id} missing");
        }
        assert!(body.contains(UNSUPPORTED_POLICY));
    }
}
