//! `antrea-nsx translate` on NSX exports: the Antrea objects on standard output, every refusal
//! with its reason on standard error, and the exit status.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

fn antrea_nsx() -> Command {
    Command::new(env!("CARGO_BIN_EXE_antrea-nsx"))
}

const DOMAIN: &str = "/infra/domains/default";

fn group(id: &str, expression: Value, antrea: bool) -> Value {
    let mut group = json!({"resource_type": "Group", "id": id, "display_name": id,
        "path": format!("{DOMAIN}/groups/{id}"), "expression": expression});
    if antrea {
        group["group_type"] = json!(["ANTREA"]);
    }
    group
}

fn pod_tag(tag: &str) -> Value {
    json!([{"resource_type": "Condition", "member_type": "Pod", "key": "Tag",
            "operator": "EQUALS", "value": tag}])
}

/// A rule from `web` to the policy's applied-to (`db`) on TCP 5432.
fn allow_rule() -> Value {
    json!({"resource_type": "Rule", "id": "web-to-db", "display_name": "web to db",
        "rule_id": 1001, "sequence_number": 1, "action": "ALLOW", "direction": "IN",
        "source_groups": [format!("{DOMAIN}/groups/web")], "destination_groups": ["ANY"],
        "services": ["/infra/services/pg"], "scope": ["ANY"]})
}

fn postgres() -> Value {
    json!({"resource_type": "Service", "id": "pg", "path": "/infra/services/pg",
        "service_entries": [{"resource_type": "L4PortSetServiceEntry", "id": "tcp-5432",
            "l4_protocol": "TCP", "destination_ports": ["5432"]}]})
}

/// The hierarchical export `GET /policy/api/v1/infra?filter=...`: one supported policy, one
/// with a negated rule, and a group that is not an Antrea group.
fn hierarchical_export() -> Value {
    let wrap = |kind: &str, object: Value| json!({"resource_type": format!("Child{kind}"), kind: object, "marked_for_delete": false});
    let mut allow = json!({"resource_type": "SecurityPolicy", "id": "allow-web-to-db",
        "display_name": "allow web to db", "category": "Application", "sequence_number": 10,
        "scope": [format!("{DOMAIN}/groups/db")]});
    allow["children"] = json!([wrap("Rule", allow_rule())]);
    let negated = json!({"resource_type": "SecurityPolicy", "id": "negated",
        "display_name": "negated", "category": "Application", "sequence_number": 20,
        "scope": [format!("{DOMAIN}/groups/web")],
        "children": [wrap("Rule", json!({"resource_type": "Rule", "id": "not-db", "rule_id": 2001,
            "sequence_number": 1, "action": "DROP", "direction": "IN", "sources_excluded": true,
            "source_groups": [format!("{DOMAIN}/groups/db")], "destination_groups": ["ANY"],
            "services": ["ANY"], "scope": ["ANY"]}))]});
    json!({"resource_type": "Infra", "id": "infra", "children": [
        wrap("Domain", json!({"resource_type": "Domain", "id": "default", "children": [
            wrap("Group", group("web", pod_tag("app|web"), true)),
            wrap("Group", group("db", pod_tag("app|db"), true)),
            wrap("Group", group("vms", json!([{"resource_type": "Condition",
                "member_type": "VirtualMachine", "key": "Name", "operator": "EQUALS",
                "value": "db-vm"}]), false)),
            wrap("SecurityPolicy", allow),
            wrap("SecurityPolicy", negated),
        ]})),
        wrap("Service", postgres()),
        {"resource_type": "ChildTier1", "Tier1": {"resource_type": "Tier1", "id": "t1"}},
    ]})
}

fn run(dir: &Path, name: &str, export: &Value, extra: &[&str]) -> Output {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(export).unwrap()).unwrap();
    antrea_nsx()
        .arg("translate")
        .arg("-f")
        .arg(&path)
        .args(extra)
        .output()
        .expect("run antrea-nsx")
}

#[test]
fn supported_and_unsupported_rules() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(dir.path(), "infra.json", &hierarchical_export(), &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "stderr:\n{stderr}");

    // The refused policy and group, each with its reason.
    assert!(
        stderr.contains(&format!(
            "refused SecurityPolicy {DOMAIN}/security-policies/negated (\"negated\"):"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("  - NegationUnsupported: "), "{stderr}");
    assert!(
        stderr.contains(&format!("refused Group {DOMAIN}/groups/vms (\"vms\"):")),
        "{stderr}"
    );
    assert!(stderr.contains("  - UnsupportedGroup: "), "{stderr}");
    assert!(!stderr.contains("allow-web-to-db"), "{stderr}");
    assert!(
        stderr.contains("not translated (not security policies, groups or services): 1 Tier1"),
        "{stderr}"
    );
    assert!(stderr.contains("3 translated, 2 refused;"), "{stderr}");
    assert!(!stderr.contains("warning:"), "{stderr}");

    // The objects: YAML documents, the supported policy among them, none for the refused one.
    let documents: Vec<Value> = serde_saphyr::from_multiple(&stdout).expect("YAML documents");
    let kinds: Vec<&str> = documents
        .iter()
        .map(|d| d["kind"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "Tier").count(),
        4,
        "{kinds:?}"
    );
    let policies: Vec<&Value> = documents
        .iter()
        .filter(|d| d["kind"] == "ClusterNetworkPolicy")
        .collect();
    assert_eq!(policies.len(), 1, "{stdout}");
    let policy = policies[0];
    assert_eq!(
        policy["metadata"]["annotations"]["ccp-adapter.antrea-nsx.io/nsx-path"],
        format!("{DOMAIN}/security-policies/allow-web-to-db"),
        "{policy}"
    );
    assert_eq!(
        policy["metadata"]["labels"]["ccp-adapter.antrea-nsx.io/cluster-id"],
        "preview"
    );
    // Applied to db, from web, TCP 5432, in the Application tier (exactly).
    assert_eq!(
        policy["spec"],
        json!({"tier": "nsx-category-application", "priority": 1.01,
            "appliedTo": [{"group": "nsx-g-db-2f578012164ac881"}],
            "ingress": [{"action": "Allow", "name": "r-1001-in",
                "ports": [{"protocol": "TCP", "port": 5432}],
                "from": [{"group": "nsx-g-web-2ee4e34601910cc9"}]}]}),
        "{policy}"
    );
    // The groups of the refused policy are still translated (they are valid on their own).
    assert_eq!(
        documents
            .iter()
            .filter(|d| d["kind"] == "ClusterGroup" && d["spec"]["childGroups"].is_array())
            .count(),
        2,
        "{stdout}"
    );
}

#[test]
fn a_list_export_that_translates_fully_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    // Lists as `GET .../security-policies` and `.../groups` return them, rules embedded, no
    // paths (NSX's are derived), and the service in a second file.
    let mut policy = json!({"resource_type": "SecurityPolicy", "id": "allow-web-to-db",
        "category": "Application", "sequence_number": 10,
        "scope": [format!("{DOMAIN}/groups/db")], "rules": [allow_rule()]});
    policy.as_object_mut().unwrap().remove("path");
    let mut web = group("web", pod_tag("app|web"), true);
    web.as_object_mut().unwrap().remove("path");
    let export = json!({"results": [policy, web, group("db", pod_tag("app|db"), true)],
        "result_count": 3});
    std::fs::write(dir.path().join("pg.json"), postgres().to_string()).unwrap();
    let output = run(
        dir.path(),
        "list.json",
        &export,
        &[
            "-f",
            dir.path().join("pg.json").to_str().unwrap(),
            "-o",
            "json",
            "--cluster-id",
            "c1",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(stderr.contains("3 translated, 0 refused;"), "{stderr}");
    let list: Value = serde_json::from_slice(&output.stdout).expect("a JSON List");
    assert_eq!(list["kind"], "List");
    let items = list["items"].as_array().unwrap();
    let policy = items
        .iter()
        .find(|item| item["kind"] == "ClusterNetworkPolicy")
        .expect("the policy");
    assert_eq!(policy["spec"]["ingress"][0]["ports"][0]["port"], 5432);
    // Every object carries the cluster id given in its labels.
    for item in items {
        let labels = item["metadata"]["labels"].as_object().unwrap();
        assert!(labels.values().any(|v| v == "c1"), "{item}");
    }
}

#[test]
fn a_missing_service_is_a_refusal_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let export = json!([
        {"resource_type": "SecurityPolicy", "id": "p", "category": "Application",
         "sequence_number": 1, "scope": [format!("{DOMAIN}/groups/db")], "rules": [allow_rule()]},
        group("web", pod_tag("app|web"), true),
        group("db", pod_tag("app|db"), true),
    ]);
    let output = run(dir.path(), "no-service.json", &export, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "stderr:\n{stderr}");
    assert!(stderr.contains("MissingReference"), "{stderr}");
    assert!(stderr.contains("/infra/services/pg"), "{stderr}");
}

#[test]
fn unreadable_input_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken-export.json");
    std::fs::write(&path, "{not json").unwrap();
    let output = antrea_nsx()
        .arg("translate")
        .arg("-f")
        .arg(&path)
        .output()
        .expect("run antrea-nsx");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("broken-export.json"), "{stderr}");
    let output = antrea_nsx()
        .args(["translate", "-f"])
        .arg(dir.path().join("absent.json"))
        .output()
        .expect("run antrea-nsx");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("absent.json"));
}

/// The export as the NSX simulator serves it (`GET /policy/api/v1/infra?filter=...`, with
/// system fields, every system service, rules as `ChildRule`s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_from_the_simulator() {
    use adapter_nsx::rest::{NsxRequest, NsxRestClient, RestAuth, RestConfig, RestTrust};

    let _ = rustls::crypto::ring::default_provider().install_default();
    let password = "Admin!23Admin";
    let sim = nsx_sim::NsxSim::start(nsx_sim::SimConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        password,
    ))
    .await
    .unwrap();
    let admin = NsxRestClient::new(RestConfig::new(
        vec![sim.base_url().to_owned()],
        RestTrust::CaCertificates(sim.ca_cert_pem().as_bytes().to_vec()),
        RestAuth::Basic {
            username: "admin".into(),
            password: password.into(),
        },
    ))
    .unwrap();
    let patch = |path: String, body: Value| {
        let admin = admin.clone();
        async move {
            admin
                .execute(
                    NsxRequest::new(http::Method::PATCH, format!("/policy/api/v1{path}"))
                        .json(&body)
                        .unwrap(),
                )
                .await
                .unwrap();
        }
    };
    for (id, tag) in [("web", "app|web"), ("db", "app|db")] {
        let mut body = group(id, pod_tag(tag), true);
        body.as_object_mut().unwrap().remove("path");
        patch(format!("{DOMAIN}/groups/{id}"), body).await;
    }
    let mut rule = allow_rule();
    rule["services"] = json!(["/infra/services/HTTPS"]);
    patch(
        format!("{DOMAIN}/security-policies/allow-web-to-db"),
        json!({"resource_type": "SecurityPolicy", "category": "Application",
            "sequence_number": 10, "scope": [format!("{DOMAIN}/groups/db")], "rules": [rule]}),
    )
    .await;
    patch(
        format!("{DOMAIN}/security-policies/stateless"),
        json!({"resource_type": "SecurityPolicy", "category": "Application",
            "sequence_number": 20, "stateful": false, "scope": [format!("{DOMAIN}/groups/web")],
            "rules": [{"resource_type": "Rule", "id": "any", "action": "ALLOW",
                "direction": "IN", "sequence_number": 1, "source_groups": ["ANY"],
                "destination_groups": ["ANY"], "services": ["ANY"], "scope": ["ANY"]}]}),
    )
    .await;
    let export: Value = admin
        .execute(
            NsxRequest::new(http::Method::GET, "/policy/api/v1/infra").query(
                "filter",
                "Type-Domain|Group|SecurityPolicy|Rule|Service|ServiceEntry",
            ),
        )
        .await
        .unwrap()
        .json("/policy/api/v1/infra")
        .unwrap();
    sim.shutdown().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let output = run(dir.path(), "nsx-export.json", &export, &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "stderr:\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "refused SecurityPolicy {DOMAIN}/security-policies/stateless"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("  - StatefulnessUnsupported: "), "{stderr}");
    assert!(stderr.contains("3 translated, 1 refused;"), "{stderr}");
    assert!(!stderr.contains("warning:"), "{stderr}");
    let documents: Vec<Value> = serde_saphyr::from_multiple(&stdout).expect("YAML documents");
    let policy = documents
        .iter()
        .find(|d| d["kind"] == "ClusterNetworkPolicy")
        .expect("the translated policy");
    let ingress = &policy["spec"]["ingress"][0];
    assert_eq!(
        ingress["ports"],
        json!([{"protocol": "TCP", "port": 443}]),
        "{policy}"
    );
    assert_eq!(ingress["action"], "Allow", "{policy}");
}
