//! The manifests of `deploy/`: every one is accepted by the API server (strict field
//! validation), the roles grant no wildcards, the shipped configuration parses with the
//! adapters' own parsers, the Deployment runs both adapters hardened, and the adapter's
//! ServiceAccount gets exactly what the roles say: leader election runs under the shipped
//! Role and uses every permission of it, and what was not granted is refused.

use std::path::{Path, PathBuf};
use std::time::Duration;

use adapter_runtime::config::{self, BootstrapConfig, CcpAdapterConfig, MpAdapterConfig};
use adapter_runtime::leader::{
    CCP_LEASE_NAME, LeaderElection, LeaderElectionOptions, MP_LEASE_NAME,
};
use adapter_runtime::observability::{CCP_API_PORT, MP_API_PORT};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Client, Error};
use kube_emu::{KubeEmu, UserInfo};
use serde_json::{Value, json};

const NAMESPACE: &str = "vmware-system-antrea";

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn yaml_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            yaml_files(&path, found);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            found.push(path);
        }
    }
}

/// Every object of every manifest, in apply order (files sorted, subfolders after).
fn manifests() -> Vec<(PathBuf, Value)> {
    let mut files = Vec::new();
    yaml_files(&deploy_dir(), &mut files);
    assert!(files.len() >= 8, "manifests found: {files:?}");
    let mut objects = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let documents: Vec<Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{}: not YAML: {e}", file.display()));
        for document in documents.into_iter().filter(|d| !d.is_null()) {
            objects.push((file.clone(), document));
        }
    }
    objects
}

fn kind(object: &Value) -> &str {
    object["kind"].as_str().unwrap_or_default()
}

fn name(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

fn find<'a>(objects: &'a [(PathBuf, Value)], wanted_kind: &str, wanted_name: &str) -> &'a Value {
    objects
        .iter()
        .map(|(_, o)| o)
        .find(|o| kind(o) == wanted_kind && name(o) == wanted_name)
        .unwrap_or_else(|| panic!("no {wanted_kind} {wanted_name} in deploy/"))
}

fn crds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/antrea-crds/v2.7.0")
}

/// An emulator with Antrea's CRDs and every manifest of deploy/ applied as kubectl
/// would (server-side apply, strict field validation).
async fn emulator_with_manifests() -> (KubeEmu, Vec<(PathBuf, Value)>) {
    let emu = KubeEmu::new();
    emu.load_crds_dir(&crds_dir()).unwrap();
    let admin = Client::new(emu.router(), "default");
    let objects = manifests();
    for (file, object) in &objects {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let rt = emu
            .registry()
            .by_kind(api_version, kind(object))
            .unwrap_or_else(|| {
                panic!(
                    "{}: {api_version} {} is not served",
                    file.display(),
                    kind(object)
                )
            });
        let resource = ApiResource {
            group: rt.group.clone(),
            version: rt.version.clone(),
            api_version: api_version.to_string(),
            kind: rt.kind.clone(),
            plural: rt.plural.clone(),
        };
        let api: Api<DynamicObject> = if rt.namespaced {
            let namespace = object["metadata"]["namespace"].as_str().unwrap_or_else(|| {
                panic!("{}: {} without a namespace", file.display(), name(object))
            });
            assert_eq!(namespace, NAMESPACE, "{}", file.display());
            Api::namespaced_with(admin.clone(), namespace, &resource)
        } else {
            assert!(
                object["metadata"].get("namespace").is_none(),
                "{}: cluster-scoped {} has a namespace",
                file.display(),
                name(object)
            );
            Api::all_with(admin.clone(), &resource)
        };
        let params = PatchParams::apply("kubectl").validation_strict();
        api.patch(name(object), &params, &Patch::Apply(object))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {} {} refused: {e}",
                    file.display(),
                    kind(object),
                    name(object)
                )
            });
        let namespace = rt.namespaced.then_some(NAMESPACE);
        assert!(
            emu.get_object(api_version, kind(object), namespace, name(object))
                .is_some(),
            "{} {} not stored",
            kind(object),
            name(object)
        );
    }
    (emu, objects)
}

#[tokio::test]
async fn every_manifest_is_accepted_and_the_set_is_complete() {
    let (_emu, objects) = emulator_with_manifests().await;
    let mut kinds: Vec<String> = objects
        .iter()
        .map(|(_, o)| format!("{}/{}", kind(o), name(o)))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "ClusterRole/antrea-nsx-ccp-adapter",
            "ClusterRole/antrea-nsx-mp-adapter",
            "ClusterRoleBinding/antrea-nsx-ccp-adapter",
            "ClusterRoleBinding/antrea-nsx-mp-adapter",
            "ConfigMap/antrea-interworking-config",
            "ConfigMap/bootstrap-config",
            "Deployment/antrea-nsx-adapter",
            "Job/antrea-nsx-deregister",
            "Job/antrea-nsx-register",
            "Namespace/vmware-system-antrea",
            "Role/antrea-nsx-adapter-leader-election",
            "Role/antrea-nsx-register",
            "RoleBinding/antrea-nsx-adapter-leader-election",
            "RoleBinding/antrea-nsx-register",
            "Secret/nsx-admin",
            "Secret/nsx-cert",
            "ServiceAccount/antrea-nsx-adapter",
            "ServiceAccount/antrea-nsx-register",
        ]
    );
    // `kubectl apply -f deploy/` (not recursive) must not deregister the cluster nor
    // overwrite the Secrets with empty templates.
    for (file, object) in &objects {
        let top_level = file.parent() == Some(deploy_dir().as_path());
        let template = matches!(
            (kind(object), name(object)),
            ("Job", "antrea-nsx-deregister") | ("Secret", _)
        );
        assert_eq!(
            top_level,
            !template,
            "{}: {} {}",
            file.display(),
            kind(object),
            name(object)
        );
    }
}

#[tokio::test]
async fn roles_grant_no_wildcards_and_nothing_dangerous() {
    let objects = manifests();
    let mut roles = 0;
    for (file, role) in objects
        .iter()
        .filter(|(_, o)| matches!(kind(o), "ClusterRole" | "Role"))
    {
        roles += 1;
        assert!(role.get("aggregationRule").is_none());
        let rules = role["rules"].as_array().expect("rules");
        assert!(!rules.is_empty());
        for rule in rules {
            for field in [
                "verbs",
                "apiGroups",
                "resources",
                "resourceNames",
                "nonResourceURLs",
            ] {
                for item in rule[field].as_array().into_iter().flatten() {
                    let item = item.as_str().unwrap();
                    assert!(
                        !item.contains('*'),
                        "{}: {} has a wildcard {field} {item:?}",
                        file.display(),
                        name(role)
                    );
                }
            }
            for verb in rule["verbs"].as_array().unwrap() {
                assert!(
                    [
                        "get", "list", "watch", "create", "update", "patch", "delete"
                    ]
                    .contains(&verb.as_str().unwrap()),
                    "{}: verb {verb}",
                    name(role)
                );
            }
            assert!(rule.get("nonResourceURLs").is_none());
            // Cluster-wide roles never reach Secrets or ConfigMaps.
            if kind(role) == "ClusterRole" {
                for resource in rule["resources"].as_array().unwrap() {
                    assert!(
                        !matches!(resource.as_str(), Some("secrets" | "configmaps")),
                        "{} grants {resource} cluster-wide",
                        name(role)
                    );
                }
            }
        }
    }
    assert_eq!(roles, 4);
}

#[test]
fn the_shipped_configuration_parses_with_the_adapters_own_parsers() {
    let objects = manifests();
    let bootstrap = find(&objects, "ConfigMap", config::BOOTSTRAP_CONFIGMAP);
    let text = bootstrap["data"][config::BOOTSTRAP_FILE].as_str().unwrap();
    let bootstrap = BootstrapConfig::parse("bootstrap.conf", text).unwrap();
    assert_eq!(bootstrap.cluster_name, "my-cluster");

    let adapters = find(&objects, "ConfigMap", config::ADAPTER_CONFIGMAP);
    let mp_text = adapters["data"][config::MP_ADAPTER_FILE].as_str().unwrap();
    let mp = MpAdapterConfig::parse("mp-adapter.conf", mp_text, None).unwrap();
    let ccp_text = adapters["data"][config::CCP_ADAPTER_FILE].as_str().unwrap();
    let ccp = CcpAdapterConfig::parse("ccp-adapter.conf", ccp_text, None, &mp).unwrap();
    assert_eq!(mp.common.api_server_port, MP_API_PORT);
    assert_eq!(ccp.common.api_server_port, CCP_API_PORT);
    for leader in [&mp.common.leader_election, &ccp.common.leader_election] {
        assert!(leader.enabled);
        LeaderElectionOptions {
            lease_duration: leader.lease_duration,
            renew_deadline: leader.renew_deadline,
            retry_period: leader.retry_period,
            ..LeaderElectionOptions::new(NAMESPACE, MP_LEASE_NAME, "x")
        }
        .validate()
        .unwrap();
    }
}

fn container<'a>(deployment: &'a Value, wanted: &str) -> &'a Value {
    deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == wanted)
        .unwrap_or_else(|| panic!("no container {wanted}"))
}

#[test]
fn the_deployment_runs_both_adapters_hardened_with_the_configuration_mounted() {
    let objects = manifests();
    let deployment = find(&objects, "Deployment", "antrea-nsx-adapter");
    let pod = &deployment["spec"]["template"]["spec"];
    let account = pod["serviceAccountName"].as_str().unwrap();
    find(&objects, "ServiceAccount", account);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    for (name, subcommand, port) in [
        ("mp-adapter", "mp-adapter", MP_API_PORT),
        ("ccp-adapter", "ccp-adapter", CCP_API_PORT),
    ] {
        let c = container(deployment, name);
        assert_eq!(
            c["args"],
            json!([subcommand, "--config-dir", config::DEFAULT_CONFIG_DIR])
        );
        assert_eq!(c["ports"][0]["containerPort"], port);
        let port_name = c["ports"][0]["name"].clone();
        assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/livez");
        assert_eq!(c["livenessProbe"]["httpGet"]["port"], port_name);
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
        assert_eq!(c["readinessProbe"]["httpGet"]["port"], port_name);
        let security = &c["securityContext"];
        assert_eq!(security["readOnlyRootFilesystem"], true);
        assert_eq!(security["allowPrivilegeEscalation"], false);
        assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));
        assert!(c["resources"]["limits"]["memory"].is_string());
        assert!(c["resources"]["requests"]["cpu"].is_string());
        let mount = c["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == "config")
            .expect("config mount");
        assert_eq!(mount["mountPath"], config::DEFAULT_CONFIG_DIR);
        assert!(
            c["env"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["name"] == "POD_NAME"),
            "the leader identity comes from POD_NAME"
        );
    }
    // The projected files are where the adapters read them.
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "config")
        .unwrap();
    let mut files: Vec<(String, String)> = Vec::new();
    for source in volume["projected"]["sources"].as_array().unwrap() {
        let (kind, body) = source.as_object().unwrap().iter().next().unwrap();
        for item in body["items"].as_array().unwrap() {
            files.push((
                format!("{kind}/{}", body["name"].as_str().unwrap()),
                item["path"].as_str().unwrap().to_string(),
            ));
        }
    }
    let expected = [
        (
            format!("configMap/{}", config::BOOTSTRAP_CONFIGMAP),
            config::BOOTSTRAP_FILE.to_string(),
        ),
        (
            format!("configMap/{}", config::ADAPTER_CONFIGMAP),
            config::MP_ADAPTER_FILE.to_string(),
        ),
        (
            format!("configMap/{}", config::ADAPTER_CONFIGMAP),
            config::CCP_ADAPTER_FILE.to_string(),
        ),
        (
            format!("configMap/{}", config::CLUSTER_ID_CONFIGMAP),
            config::CLUSTER_ID_FILE.to_string(),
        ),
        (
            format!("secret/{}", config::CERTIFICATE_SECRET),
            "nsx-cert/tls.crt".to_string(),
        ),
        (
            format!("secret/{}", config::CERTIFICATE_SECRET),
            "nsx-cert/tls.key".to_string(),
        ),
    ];
    assert_eq!(files, expected);
    // The Jobs run the register and deregister commands under their own account.
    for (job, command) in [
        ("antrea-nsx-register", "register"),
        ("antrea-nsx-deregister", "deregister"),
    ] {
        let job = find(&objects, "Job", job);
        let spec = &job["spec"]["template"]["spec"];
        assert_eq!(spec["serviceAccountName"], "antrea-nsx-register");
        assert_eq!(
            spec["containers"][0]["args"],
            json!([command, "--namespace", NAMESPACE])
        );
    }
}

fn api_error(error: Error) -> kube::core::Status {
    match error {
        Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn leader_election_runs_under_the_shipped_role_and_uses_every_permission_of_it() {
    let (emu, _) = emulator_with_manifests().await;
    let token = emu
        .service_account_token(NAMESPACE, "antrea-nsx-adapter")
        .unwrap();
    let client = Client::new(emu.router_with_token(&token), NAMESPACE);
    let options = |lease: &str, identity: &str| LeaderElectionOptions {
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1500),
        retry_period: Duration::from_millis(50),
        ..LeaderElectionOptions::new(NAMESPACE, lease, identity)
    };
    for lease in [MP_LEASE_NAME, CCP_LEASE_NAME] {
        let election = LeaderElection::start(client.clone(), options(lease, "pod-a")).unwrap();
        let mut leads = election.is_leader();
        tokio::time::timeout(Duration::from_secs(20), leads.wait_for(|l| *l))
            .await
            .expect("became the leader under the shipped Role")
            .unwrap();
        election.release().await.unwrap();
    }
    let user = UserInfo::service_account(NAMESPACE, "antrea-nsx-adapter");
    let unused: Vec<_> = emu
        .unused_permissions(&user)
        .into_iter()
        .filter(|p| p.role.starts_with("Role/"))
        .collect();
    assert!(unused.is_empty(), "granted but unused: {unused:#?}");
    // Other Leases of the namespace stay out of reach.
    let leases: Api<Lease> = Api::namespaced(client, NAMESPACE);
    let error = api_error(leases.get("someone-else").await.unwrap_err());
    assert_eq!(
        error.message,
        "leases.coordination.k8s.io \"someone-else\" is forbidden: User \"system:serviceaccount:vmware-system-antrea:antrea-nsx-adapter\" cannot get resource \"leases\" in API group \"coordination.k8s.io\" in the namespace \"vmware-system-antrea\""
    );
}

#[tokio::test]
async fn the_adapter_account_gets_what_the_cluster_roles_say_and_nothing_else() {
    let (emu, _) = emulator_with_manifests().await;
    let token = emu
        .service_account_token(NAMESPACE, "antrea-nsx-adapter")
        .unwrap();
    let client = Client::new(emu.router_with_token(&token), NAMESPACE);
    let user = "system:serviceaccount:vmware-system-antrea:antrea-nsx-adapter";
    // Granted: the MP adapter's inventory reads, the CCP adapter's policy writes.
    Api::<Pod>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    let tiers = ApiResource {
        group: "crd.antrea.io".into(),
        version: "v1beta1".into(),
        api_version: "crd.antrea.io/v1beta1".into(),
        kind: "Tier".into(),
        plural: "tiers".into(),
    };
    let tier_api: Api<DynamicObject> = Api::all_with(client.clone(), &tiers);
    let tier = json!({
        "apiVersion": "crd.antrea.io/v1beta1",
        "kind": "Tier",
        "metadata": {"name": "nsx-category-application"},
        "spec": {"priority": 4, "description": "NSX Application category"}
    });
    tier_api
        .patch(
            "nsx-category-application",
            &PatchParams::apply("antrea-nsx-ccp-adapter"),
            &Patch::Apply(&tier),
        )
        .await
        .unwrap();
    tier_api
        .delete("nsx-category-application", &Default::default())
        .await
        .unwrap();
    // Refused: the Secrets (mounted by the kubelet, never read through the API), Pod
    // writes, and the status subresource (realization comes with the watched objects).
    let error = api_error(
        Api::<Secret>::namespaced(client.clone(), NAMESPACE)
            .get(config::CERTIFICATE_SECRET)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        error.message,
        format!(
            "secrets \"nsx-cert\" is forbidden: User \"{user}\" cannot get resource \"secrets\" in API group \"\" in the namespace \"vmware-system-antrea\""
        )
    );
    let pods = Api::<Pod>::namespaced(client.clone(), "default");
    let error = api_error(pods.delete("p", &Default::default()).await.unwrap_err());
    assert_eq!(error.code, 403);
    let error = api_error(
        tier_api
            .patch_status("x", &PatchParams::default(), &Patch::Merge(json!({})))
            .await
            .unwrap_err(),
    );
    assert!(
        error.message.ends_with(
            "cannot patch resource \"tiers/status\" in API group \"crd.antrea.io\" at the cluster scope"
        ),
        "{}",
        error.message
    );
    // The register account reads only the named configuration.
    let register = Client::new(
        emu.router_with_token(
            &emu.service_account_token(NAMESPACE, "antrea-nsx-register")
                .unwrap(),
        ),
        NAMESPACE,
    );
    let maps: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(register, NAMESPACE);
    maps.get(config::BOOTSTRAP_CONFIGMAP).await.unwrap();
    assert_eq!(
        api_error(maps.list(&ListParams::default()).await.unwrap_err()).code,
        403
    );
}
