//! RBAC for bearer-token users: Role/ClusterRole and their bindings decide, denials carry
//! kube-apiserver's 403 message, the admin stays unrestricted, ServiceAccount tokens come
//! from the TokenRequest API, and every decision is recorded.

use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod, ServiceAccount};
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, Error};
use kube_emu::{KubeEmu, UserInfo};
use serde_json::{Value, json};

fn emulator() -> KubeEmu {
    let emu = KubeEmu::new();
    emu.seed_yaml(
        "apiVersion: v1
kind: Namespace
metadata: {name: team-a}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-b}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: robot, namespace: team-a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: mine, namespace: team-a}
data: {k: v}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: other, namespace: team-a}
data: {k: v}
",
    )
    .unwrap();
    emu
}

fn robot_client(emu: &KubeEmu) -> Client {
    let token = emu.service_account_token("team-a", "robot").unwrap();
    Client::new(emu.router_with_token(&token), "team-a")
}

fn api_error(error: Error) -> kube::core::Status {
    match error {
        Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

const ROBOT: &str = "system:serviceaccount:team-a:robot";

#[tokio::test]
async fn without_bindings_a_service_account_is_forbidden_with_the_real_message() {
    let emu = emulator();
    let pods: Api<Pod> = Api::namespaced(robot_client(&emu), "team-a");
    let error = api_error(pods.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(error.code, 403);
    assert_eq!(error.reason, "Forbidden");
    assert_eq!(
        error.message,
        format!(
            "pods is forbidden: User \"{ROBOT}\" cannot list resource \"pods\" in API group \"\" in the namespace \"team-a\""
        )
    );
    let nodes: Api<Node> = Api::all(robot_client(&emu));
    let error = api_error(nodes.get("n1").await.unwrap_err());
    assert_eq!(
        error.message,
        format!(
            "nodes \"n1\" is forbidden: User \"{ROBOT}\" cannot get resource \"nodes\" in API group \"\" at the cluster scope"
        )
    );
    let details = error.details.expect("details");
    assert_eq!(
        (
            details.name.as_str(),
            details.group.as_str(),
            details.kind.as_str()
        ),
        ("n1", "", "nodes")
    );
    // The admin (no token, or the kubeconfig's token) is not restricted.
    let admin: Api<Pod> = Api::namespaced(Client::new(emu.router(), "team-a"), "team-a");
    admin.list(&ListParams::default()).await.unwrap();
    let kubeconfig_user: Api<Pod> = Api::namespaced(
        Client::new(emu.router_with_token("kube-emu"), "team-a"),
        "team-a",
    );
    kubeconfig_user.list(&ListParams::default()).await.unwrap();
}

#[tokio::test]
async fn a_role_binding_grants_only_in_its_namespace_and_only_its_verbs() {
    let emu = emulator();
    emu.seed_yaml(
        "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: team-a}
rules:
- apiGroups: ['']
  resources: [pods]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: robot-reads-pods, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects:
- {kind: ServiceAccount, name: robot, namespace: team-a}
",
    )
    .unwrap();
    let client = robot_client(&emu);
    let in_a: Api<Pod> = Api::namespaced(client.clone(), "team-a");
    in_a.list(&ListParams::default()).await.unwrap();
    let in_b: Api<Pod> = Api::namespaced(client.clone(), "team-b");
    let error = api_error(in_b.list(&ListParams::default()).await.unwrap_err());
    assert!(
        error.message.ends_with("in the namespace \"team-b\""),
        "{}",
        error.message
    );
    let all: Api<Pod> = Api::all(client.clone());
    let error = api_error(all.list(&ListParams::default()).await.unwrap_err());
    assert!(
        error.message.ends_with("at the cluster scope"),
        "{}",
        error.message
    );
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}
    }))
    .unwrap();
    let error = api_error(in_a.create(&PostParams::default(), &pod).await.unwrap_err());
    assert!(
        error.message.starts_with(&format!(
            "pods is forbidden: User \"{ROBOT}\" cannot create resource \"pods\""
        )),
        "{}",
        error.message
    );
    // The status subresource is a resource of its own.
    let error = api_error(in_a.get_status("p").await.unwrap_err());
    assert_eq!(
        error.message,
        format!(
            "pods \"p\" is forbidden: User \"{ROBOT}\" cannot get resource \"pods/status\" in API group \"\" in the namespace \"team-a\""
        )
    );
}

#[tokio::test]
async fn cluster_roles_with_resource_names_subresources_and_groups() {
    let emu = emulator();
    emu.seed_yaml(
        "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: narrow}
rules:
- apiGroups: ['']
  resources: [configmaps]
  resourceNames: [mine]
  verbs: [get, update]
- apiGroups: ['']
  resources: ['*/status']
  verbs: [get]
- apiGroups: ['']
  resources: [nodes]
  verbs: [list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: all-service-accounts-of-team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: narrow}
subjects:
- {kind: Group, apiGroup: rbac.authorization.k8s.io, name: 'system:serviceaccounts:team-a'}
",
    )
    .unwrap();
    let client = robot_client(&emu);
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "team-a");
    let mut mine = maps.get("mine").await.unwrap();
    mine.data = Some([("k".to_string(), "w".to_string())].into());
    maps.replace("mine", &PostParams::default(), &mine)
        .await
        .unwrap();
    let error = api_error(maps.get("other").await.unwrap_err());
    assert_eq!(error.code, 403);
    // resourceNames cannot restrict list or create (they carry no name).
    assert_eq!(
        api_error(maps.list(&ListParams::default()).await.unwrap_err()).code,
        403
    );
    // ...but a list or watch narrowed to one name by a field selector is about that name.
    let error = api_error(
        maps.list(&ListParams::default().fields("metadata.name=mine"))
            .await
            .unwrap_err(),
    );
    assert!(
        error
            .message
            .contains("cannot list resource \"configmaps\"")
    );
    let nodes: Api<Node> = Api::all(client.clone());
    nodes.list(&ListParams::default()).await.unwrap();
    // `*/status` covers the status of any resource of the group.
    let admin = Api::<Pod>::namespaced(Client::new(emu.router(), "team-a"), "team-a");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}
    }))
    .unwrap();
    admin.create(&PostParams::default(), &pod).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "team-a");
    pods.get_status("p").await.unwrap();
    assert_eq!(api_error(pods.get("p").await.unwrap_err()).code, 403);
}

#[tokio::test]
async fn a_binding_to_a_missing_role_says_so_and_aggregated_roles_collect_rules() {
    let emu = emulator();
    emu.seed_yaml(
        "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: dangling}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: gone}
subjects:
- {kind: ServiceAccount, name: robot, namespace: team-a}
",
    )
    .unwrap();
    let client = robot_client(&emu);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "team-a");
    let error = api_error(pods.list(&ListParams::default()).await.unwrap_err());
    assert!(
        error
            .message
            .ends_with(": RBAC: clusterrole.rbac.authorization.k8s.io \"gone\" not found"),
        "{}",
        error.message
    );
    emu.seed_yaml(
        "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: gone}
aggregationRule:
  clusterRoleSelectors:
  - matchLabels: {aggregate-to-gone: 'true'}
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: pods-part
  labels: {aggregate-to-gone: 'true'}
rules:
- apiGroups: ['']
  resources: [pods]
  verbs: [list]
",
    )
    .unwrap();
    pods.list(&ListParams::default()).await.unwrap();
}

#[tokio::test]
async fn token_requests_mint_tokens_that_die_with_their_service_account() {
    let emu = emulator();
    let admin = Client::new(emu.router(), "team-a");
    let request = http::Request::post("/api/v1/namespaces/team-a/serviceaccounts/robot/token")
        .header("content-type", "application/json")
        .body(
            serde_json::to_vec(&json!({
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": 600}
            }))
            .unwrap(),
        )
        .unwrap();
    let answer: Value = admin.request(request).await.unwrap();
    assert_eq!(answer["kind"], "TokenRequest");
    assert_eq!(answer["spec"]["expirationSeconds"], 600);
    let token = answer["status"]["token"].as_str().unwrap().to_string();
    let robot = Client::new(emu.router_with_token(&token), "team-a");
    // Discovery and /version are open to every authenticated user.
    robot.apiserver_version().await.unwrap();
    // Tokens live at least ten minutes, as kube-apiserver requires.
    let request = http::Request::post("/api/v1/namespaces/team-a/serviceaccounts/robot/token")
        .body(serde_json::to_vec(&json!({"spec": {"expirationSeconds": 60}})).unwrap())
        .unwrap();
    let error = api_error(admin.request::<Value>(request).await.unwrap_err());
    assert_eq!(error.code, 422);
    assert_eq!(
        error.message,
        "TokenRequest.authentication.k8s.io \"robot\" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"
    );
    // An unknown ServiceAccount gets a NotFound.
    let request = http::Request::post("/api/v1/namespaces/team-a/serviceaccounts/nobody/token")
        .body(b"{}".to_vec())
        .unwrap();
    let error = api_error(admin.request::<Value>(request).await.unwrap_err());
    assert_eq!(error.code, 404);
    // A ServiceAccount cannot mint tokens without the permission to.
    let request = http::Request::post("/api/v1/namespaces/team-a/serviceaccounts/robot/token")
        .body(b"{}".to_vec())
        .unwrap();
    let error = api_error(robot.request::<Value>(request).await.unwrap_err());
    assert_eq!(
        error.message,
        format!(
            "serviceaccounts \"robot\" is forbidden: User \"{ROBOT}\" cannot create resource \"serviceaccounts/token\" in API group \"\" in the namespace \"team-a\""
        )
    );
    // Deleting the ServiceAccount invalidates its tokens.
    let accounts: Api<ServiceAccount> = Api::namespaced(admin, "team-a");
    accounts.delete("robot", &Default::default()).await.unwrap();
    let error = api_error(robot.apiserver_version().await.unwrap_err());
    assert_eq!((error.code, error.reason.as_str()), (401, "Unauthorized"));
}

#[tokio::test]
async fn non_resource_urls_need_their_own_rules() {
    let emu = emulator();
    let token = emu.issue_token(UserInfo::new("alice", &["auditors"]));
    let alice = Client::new(emu.router_with_token(&token), "default");
    let get = |path: &str| http::Request::get(path).body(Vec::new()).unwrap();
    let error = api_error(alice.request_text(get("/metrics")).await.unwrap_err());
    assert_eq!(
        error.message,
        "forbidden: User \"alice\" cannot get path \"/metrics\""
    );
    // The raw body is kube-apiserver's, `details` empty as Go omits empty fields.
    let raw = tower::ServiceExt::oneshot(
        emu.router_with_token(&token),
        http::Request::get("/metrics")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(raw.status(), 403);
    let body = axum::body::to_bytes(raw.into_body(), 1 << 20)
        .await
        .unwrap();
    let status: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status["details"], json!({}));
    assert_eq!(status["reason"], "Forbidden");
    assert_eq!(status["code"], 403);
    emu.seed_yaml(
        "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: metrics-reader}
rules:
- nonResourceURLs: ['/metrics']
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: auditors-read-metrics}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: metrics-reader}
subjects:
- {kind: Group, apiGroup: rbac.authorization.k8s.io, name: auditors}
",
    )
    .unwrap();
    // Allowed now: the emulator has no /metrics, so the answer is a 404, not a 403.
    let error = api_error(alice.request_text(get("/metrics")).await.unwrap_err());
    assert_eq!(error.code, 404);
}

#[tokio::test]
async fn every_decision_is_recorded_and_unused_grants_are_listed() {
    let emu = emulator();
    emu.seed_yaml(
        "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: worker, namespace: team-a}
rules:
- apiGroups: ['']
  resources: [configmaps]
  verbs: [get, list, watch, delete]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  resourceNames: [my-lease]
  verbs: [get, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: worker, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: worker}
subjects:
- {kind: ServiceAccount, name: robot}
",
    )
    .unwrap();
    let client = robot_client(&emu);
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "team-a");
    maps.list(&ListParams::default()).await.unwrap();
    maps.get("mine").await.unwrap();
    maps.get("other").await.unwrap();
    let _ = maps
        .create(&PostParams::default(), &ConfigMap::default())
        .await;

    let user = UserInfo::service_account("team-a", "robot");
    let decisions = emu.authorizations();
    let find = |verb: &str, allowed: bool| {
        decisions
            .iter()
            .find(|(r, _)| r.user == ROBOT && r.attributes.verb == verb && r.allowed == allowed)
            .cloned()
    };
    let (list, _) = find("list", true).expect("list recorded");
    assert_eq!(list.attributes.resource, "configmaps");
    assert_eq!(
        list.reason,
        "RoleBinding \"team-a/worker\" of Role/team-a/worker"
    );
    let gets: u64 = decisions
        .iter()
        .filter(|(r, _)| r.attributes.verb == "get" && r.attributes.resource == "configmaps")
        .map(|(_, count)| count)
        .sum();
    assert_eq!(gets, 2);
    let (create, _) = find("create", false).expect("denied create recorded");
    assert!(
        create
            .reason
            .contains("cannot create resource \"configmaps\"")
    );

    let unused: Vec<String> = emu
        .unused_permissions(&user)
        .into_iter()
        .map(|p| {
            format!(
                "{} {}/{}{}",
                p.verb,
                p.api_group,
                p.resource,
                p.resource_name.map(|n| format!(":{n}")).unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        unused,
        [
            "watch /configmaps",
            "delete /configmaps",
            "get coordination.k8s.io/leases:my-lease",
            "update coordination.k8s.io/leases:my-lease",
        ]
    );
    emu.clear_authorizations();
    assert!(emu.authorizations().is_empty());
    assert_eq!(emu.unused_permissions(&user).len(), 6);
}

#[tokio::test]
async fn over_loopback_a_kubeconfig_with_a_minted_token_acts_as_its_user() {
    let emu = emulator();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = {
        let emu = emu.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move { emu.serve(listener, shutdown).await })
    };
    let token = emu.service_account_token("team-a", "robot").unwrap();
    let text = emu.kubeconfig_yaml_for_token(&url, &token);
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&text).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let client = Client::try_from(config).unwrap();
    let pods: Api<Pod> = Api::namespaced(client, "team-a");
    let error = api_error(pods.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(error.code, 403);
    assert!(error.message.contains(ROBOT), "{}", error.message);
    shutdown.cancel();
    server.await.unwrap().unwrap();
}
