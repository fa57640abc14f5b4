//! Defaults, every error path, and the file and API loaders.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{Api, PostParams};

use super::*;

const BOOTSTRAP: &str = r#"
bootstrapFrom: "Inline"
clusterName: cluster-sales
NSXManagers: [nsx1.example.com, "10.0.0.2:8443"]
vpcPath: ""
proxyEndpoints: {rest-api: [], nsx-rpc-fwd-proxy: []}
"#;

const INSECURE: &str = "NSXInsecure: true\n";

fn mp(text: &str) -> Result<MpAdapterConfig, ConfigError> {
    MpAdapterConfig::parse("mp-adapter.conf", text, None)
}

fn ccp(text: &str) -> Result<CcpAdapterConfig, ConfigError> {
    CcpAdapterConfig::parse("ccp-adapter.conf", text, None, &mp(INSECURE).unwrap())
}

/// The error's text, asserting it names the file and the key.
fn error_naming(
    result: Result<impl std::fmt::Debug, ConfigError>,
    file: &str,
    key: &str,
) -> String {
    let error = result.expect_err("configuration accepted");
    let text = error.to_string();
    assert!(text.contains(file), "{text:?} does not name {file}");
    assert!(text.contains(key), "{text:?} does not name {key}");
    assert_eq!(error.key(), Some(key), "{error:?}");
    text
}

#[test]
fn vmware_bootstrap_conf_is_read() {
    let config = BootstrapConfig::parse("bootstrap.conf", BOOTSTRAP).unwrap();
    assert_eq!(config.bootstrap_from, BootstrapFrom::Inline);
    assert_eq!(config.cluster_name, "cluster-sales");
    assert_eq!(config.vpc_path, None);
    assert_eq!(
        config.rest_managers(),
        ["https://nsx1.example.com", "https://10.0.0.2:8443"]
    );
    assert_eq!(
        config.channel_endpoints(),
        ["https://nsx1.example.com:1235", "https://10.0.0.2:1235"]
    );
    assert_eq!(config.channel_port, DEFAULT_CHANNEL_PORT);
}

#[test]
fn proxies_replace_the_managers() {
    let config = BootstrapConfig::parse(
        "bootstrap.conf",
        "clusterName: c\nNSXManagers: [nsx]\nNSXChannelPort: 9000\nproxyEndpoints:\n  rest-api: [\"proxy:443\"]\n  nsx-rpc-fwd-proxy: [rpc-proxy]\n",
    )
    .unwrap();
    assert_eq!(config.rest_managers(), ["https://proxy:443"]);
    assert_eq!(config.channel_endpoints(), ["https://rpc-proxy:9000"]);
    // Only a REST proxy: it is enough, and the channel goes to the proxy's host.
    let config = BootstrapConfig::parse(
        "bootstrap.conf",
        "clusterName: c\nproxyEndpoints: {rest-api: [proxy]}\n",
    )
    .unwrap();
    assert_eq!(config.channel_endpoints(), ["https://proxy:1235"]);
}

#[test]
fn vhc_path_is_the_deprecated_vpc_path() {
    let config = BootstrapConfig::parse(
        "bootstrap.conf",
        "clusterName: c\nNSXManagers: [nsx]\nvhcPath: /orgs/default/projects/p\n",
    )
    .unwrap();
    assert_eq!(config.vpc_path.as_deref(), Some("/orgs/default/projects/p"));
    error_naming(
        BootstrapConfig::parse(
            "bootstrap.conf",
            "clusterName: c\nNSXManagers: [nsx]\nvpcPath: /a\nvhcPath: /b\n",
        ),
        "bootstrap.conf",
        "vhcPath",
    );
    error_naming(
        BootstrapConfig::parse(
            "bootstrap.conf",
            "clusterName: c\nNSXManagers: [nsx]\nvpcPath: a\n",
        ),
        "bootstrap.conf",
        "vpcPath",
    );
}

#[test]
fn bootstrap_errors_name_the_key() {
    let cases = [
        ("NSXManagers: [nsx]\n", "clusterName"),
        ("clusterName: \"a b\"\nNSXManagers: [nsx]\n", "clusterName"),
        ("clusterName: a/b\nNSXManagers: [nsx]\n", "clusterName"),
        ("clusterName: c\n", "NSXManagers"),
        ("clusterName: c\nNSXManagers: []\n", "NSXManagers"),
        ("clusterName: c\nNSXManagers: [\"nsx:0\"]\n", "NSXManagers"),
        (
            "clusterName: c\nNSXManagers: [\"ftp://nsx\"]\n",
            "NSXManagers",
        ),
        ("clusterName: c\nNSXManagers: [1]\n", "NSXManagers"),
        (
            "clusterName: c\nNSXManagers: [nsx]\nbootstrapFrom: SupervisorCluster\n",
            "bootstrapFrom",
        ),
        (
            "clusterName: c\nNSXManagers: [nsx]\nbootstrapFrom: Elsewhere\n",
            "bootstrapFrom",
        ),
        (
            "clusterName: c\nNSXManagers: [nsx]\nNSXChannelPort: 70000\n",
            "NSXChannelPort",
        ),
        (
            "clusterName: c\nNSXManagers: [nsx]\nproxyEndpoints: [a]\n",
            "proxyEndpoints",
        ),
        (
            "clusterName: c\nNSXManagers: [nsx]\nproxyEndpoints: {rest-apis: [a]}\n",
            "rest-apis",
        ),
        (
            "clusterName: c\nNSXManagers: [nsx]\nnsxManagers: [b]\n",
            "nsxManagers",
        ),
    ];
    for (text, key) in cases {
        error_naming(
            BootstrapConfig::parse("bootstrap.conf", text),
            "bootstrap.conf",
            key,
        );
    }
    let text = error_naming(
        BootstrapConfig::parse(
            "bootstrap.conf",
            "clusterName: c\nNSXManagers: [nsx]\nclustername: d\n",
        ),
        "bootstrap.conf",
        "clustername",
    );
    assert!(text.contains("did you mean clusterName?"), "{text}");
}

#[test]
fn mp_adapter_defaults_are_vmwares() {
    let config = mp(INSECURE).unwrap();
    assert_eq!(config.common.api_server_port, 16664);
    assert_eq!(config.common.debug_server_port, 16666);
    assert!(!config.common.enable_debug_server);
    assert_eq!(config.common.nsx.client_timeout, Duration::from_secs(120));
    assert_eq!(
        config.common.nsx.client_certificate_file,
        PathBuf::from("/etc/antrea/nsx-cert/tls.crt")
    );
    assert_eq!(
        config.common.nsx.client_key_file,
        PathBuf::from("/etc/antrea/nsx-cert/tls.key")
    );
    assert_eq!(config.common.nsx.trust, NsxTrust::Insecure);
    assert_eq!(config.inventory_batch_size, 50);
    assert_eq!(config.inventory_batch_period, Duration::from_secs(5));
    assert_eq!(config.inventory_gc_period, Duration::from_secs(600));
    assert_eq!(config.cluster_type, "kubernetes");
    assert_eq!(config.condition_timeout, Duration::from_secs(150));
    assert_eq!(config.common.log_level, tracing::Level::INFO);
    assert_eq!(config.common.log_format, LogFormat::Text);
    assert_eq!(
        config.common.leader_election,
        LeaderElectionConfig {
            enabled: true,
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    );
}

#[test]
fn the_tce_mp_adapter_conf_is_accepted() {
    // VMware's default mp-adapter.conf (TCE interworking.yaml), every key.
    let text = "NSXRemoteAuth: false\nNSXClientAuthCertFile: /etc/antrea/nsx-cert/tls.crt\n\
                NSXClientAuthKeyFile: /etc/antrea/nsx-cert/tls.key\nNSXCAFile: \"\"\n\
                NSXInsecure: true\nNSXClientTimeout: 120\nInventoryBatchSize: 50\n\
                InventoryBatchPeriod: 5\nNSXRPCConnType: tnproxy\nclusterType: kubernetes\n\
                EnableDebugServer: false\nAPIServerPort: 16664\nDebugServerPort: 16666\n\
                NSXRPCDebug: false\nConditionTimeout: 150\n";
    let config = mp(text).unwrap();
    assert_eq!(config, mp(INSECURE).unwrap());
}

#[test]
fn ccp_adapter_defaults_are_vmwares() {
    let config = ccp("").unwrap();
    assert_eq!(config.common.api_server_port, 16665);
    assert_eq!(config.common.debug_server_port, 16667);
    assert_eq!(config.realize_timeout, Duration::from_secs(60));
    assert_eq!(config.realize_error_sync_interval, Duration::from_secs(600));
    assert_eq!(config.reconciler_worker_count, 8);
    assert_eq!(config.reconciler_qps, 5.0);
    assert_eq!(config.reconciler_burst, 10);
    assert_eq!(config.reconciler_resync, Duration::from_secs(86_400));
    assert_eq!(config.ip_families, IpFamilies::DualStack);
    // The NSX connection is inherited from mp-adapter.conf.
    assert_eq!(config.common.nsx, mp(INSECURE).unwrap().common.nsx);
    let config =
        ccp("IPFamilies: ipv4\nReconcilerQPS: 2.5\nLogFormat: json\nLogLevel: debug\n").unwrap();
    assert_eq!(config.translate_options().ip_families, IpFamilies::Ipv4Only);
    assert_eq!(config.reconciler_qps, 2.5);
    assert_eq!(config.common.log_format, LogFormat::Json);
    assert_eq!(config.common.log_level, tracing::Level::DEBUG);
}

#[test]
fn adapter_errors_name_the_key() {
    let mp_cases = [
        ("", "NSXCAFile"),
        ("NSXInsecure: false\n", "NSXCAFile"),
        ("NSXInsecure: maybe\n", "NSXInsecure"),
        ("NSXInsecure: true\nNSXThumbprint: ab\n", "NSXInsecure"),
        ("NSXThumbprint: ab\n", "NSXThumbprint"),
        ("NSXCAFile: /no/such/ca.crt\n", "NSXCAFile"),
        ("NSXRemoteAuth: true\nNSXInsecure: true\n", "NSXRemoteAuth"),
        (
            "NSXInsecure: true\nInventoryBatchSize: 0\n",
            "InventoryBatchSize",
        ),
        (
            "NSXInsecure: true\nInventoryBatchSize: 5000\n",
            "InventoryBatchSize",
        ),
        (
            "NSXInsecure: true\nInventoryBatchPeriod: -1\n",
            "InventoryBatchPeriod",
        ),
        (
            "NSXInsecure: true\nInventoryBatchPeriod: 1.5\n",
            "InventoryBatchPeriod",
        ),
        (
            "NSXInsecure: true\nInventoryGCPeriod: 1\n",
            "InventoryGCPeriod",
        ),
        (
            "NSXInsecure: true\nNSXClientTimeout: 0\n",
            "NSXClientTimeout",
        ),
        ("NSXInsecure: true\nAPIServerPort: 0\n", "APIServerPort"),
        (
            "NSXInsecure: true\nEnableDebugServer: true\nDebugServerPort: 16664\n",
            "DebugServerPort",
        ),
        (
            "NSXInsecure: true\nNSXRPCConnType: grpc\n",
            "NSXRPCConnType",
        ),
        ("NSXInsecure: true\nNSXRPCDebug: 1\n", "NSXRPCDebug"),
        ("NSXInsecure: true\nLogLevel: loud\n", "LogLevel"),
        ("NSXInsecure: true\nLogFormat: xml\n", "LogFormat"),
        (
            "NSXInsecure: true\nLeaseDurationSeconds: 10\n",
            "LeaseRenewDeadlineSeconds",
        ),
        (
            "NSXInsecure: true\nLeaseRetryPeriodSeconds: 10\n",
            "LeaseRetryPeriodSeconds",
        ),
        (
            "NSXInsecure: true\nConditionTimeout: 0\n",
            "ConditionTimeout",
        ),
        (
            "NSXInsecure: true\nInventoryBatchSise: 10\n",
            "InventoryBatchSise",
        ),
        (
            "NSXInsecure: true\nRealizeTimeoutSeconds: 10\n",
            "RealizeTimeoutSeconds",
        ),
    ];
    for (text, key) in mp_cases {
        error_naming(mp(text), "mp-adapter.conf", key);
    }
    let ccp_cases = [
        ("RealizeTimeoutSeconds: 0\n", "RealizeTimeoutSeconds"),
        (
            "RealizeErrorSyncIntervalSeconds: 1\n",
            "RealizeErrorSyncIntervalSeconds",
        ),
        ("ReconcilerWorkerCount: 0\n", "ReconcilerWorkerCount"),
        ("ReconcilerQPS: 0\n", "ReconcilerQPS"),
        ("ReconcilerQPS: fast\n", "ReconcilerQPS"),
        ("ReconcilerBurst: 0\n", "ReconcilerBurst"),
        ("ReconcilerResyncSeconds: 5\n", "ReconcilerResyncSeconds"),
        ("IPFamilies: IPv5\n", "IPFamilies"),
        ("InventoryBatchSize: 10\n", "InventoryBatchSize"),
        ("NSXInsecure: false\n", "NSXCAFile"),
    ];
    for (text, key) in ccp_cases {
        error_naming(ccp(text), "ccp-adapter.conf", key);
    }
    // A file that is not YAML names the file.
    let error = mp("NSXInsecure: [true\n").unwrap_err();
    assert!(matches!(error, ConfigError::Syntax { .. }), "{error:?}");
    assert!(error.to_string().contains("mp-adapter.conf"));
}

#[test]
fn trust_by_ca_file_or_thumbprint() {
    let dir = tempfile::tempdir().unwrap();
    let ca = NsxCertificate::generate("nsx-ca").unwrap();
    std::fs::write(dir.path().join("ca.crt"), &ca.certificate_pem).unwrap();
    // A relative path is taken from the configuration folder.
    let config =
        MpAdapterConfig::parse("mp-adapter.conf", "NSXCAFile: ca.crt\n", Some(dir.path())).unwrap();
    let NsxTrust::CaFile { path, pem } = &config.common.nsx.trust else {
        panic!("{:?}", config.common.nsx.trust);
    };
    assert_eq!(path, &dir.path().join("ca.crt"));
    assert_eq!(
        config.common.nsx.trust.rest_trust(),
        RestTrust::CaCertificates(pem.clone())
    );
    error_naming(
        MpAdapterConfig::parse(
            "mp-adapter.conf",
            "NSXCAFile: ca.crt\nNSXVerifyServerName: false\n",
            Some(dir.path()),
        ),
        "mp-adapter.conf",
        "NSXVerifyServerName",
    );
    std::fs::write(dir.path().join("bad.crt"), "not a certificate").unwrap();
    error_naming(
        MpAdapterConfig::parse("mp-adapter.conf", "NSXCAFile: bad.crt\n", Some(dir.path())),
        "mp-adapter.conf",
        "NSXCAFile",
    );
    let error = error_naming(
        MpAdapterConfig::parse(
            "mp-adapter.conf",
            "NSXCAFile: ca.crt\nNSXThumbprint: aa\n",
            Some(dir.path()),
        ),
        "mp-adapter.conf",
        "NSXThumbprint",
    );
    assert!(error.contains("only one"), "{error}");

    let hex = "ab".repeat(32);
    let colons = vec!["CD"; 32].join(":");
    let config = mp(&format!("NSXThumbprint: [{hex}, \"{colons}\"]\n")).unwrap();
    assert_eq!(
        config.common.nsx.trust,
        NsxTrust::Thumbprints(vec![[0xab; 32], [0xcd; 32]])
    );
    // The CCP adapter may pin differently; otherwise it inherits.
    let ccp = CcpAdapterConfig::parse(
        "ccp-adapter.conf",
        &format!("NSXThumbprint: {hex}\nNSXClientTimeout: 30\n"),
        None,
        &mp(INSECURE).unwrap(),
    )
    .unwrap();
    assert_eq!(
        ccp.common.nsx.trust,
        NsxTrust::Thumbprints(vec![[0xab; 32]])
    );
    assert_eq!(ccp.common.nsx.client_timeout, Duration::from_secs(30));
}

#[test]
fn cluster_id_conf() {
    let id = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    assert_eq!(
        parse_cluster_id("cluster-id.conf", &format!("clusterID: {id}\n")).unwrap(),
        id
    );
    error_naming(
        parse_cluster_id("cluster-id.conf", ""),
        "cluster-id.conf",
        "clusterID",
    );
    error_naming(
        parse_cluster_id("cluster-id.conf", "clusterID: cluster-sales\n"),
        "cluster-id.conf",
        "clusterID",
    );
    error_naming(
        parse_cluster_id(
            "cluster-id.conf",
            &format!("clusterID: {id}\nclusterName: x\n"),
        ),
        "cluster-id.conf",
        "clusterName",
    );
}

#[test]
fn loading_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let error = load_dir(dir.path()).unwrap_err().to_string();
    assert!(error.contains("bootstrap.conf"), "{error}");
    std::fs::write(dir.path().join(BOOTSTRAP_FILE), BOOTSTRAP).unwrap();
    // No mp-adapter.conf: defaults, which do not say how to trust NSX.
    error_naming(load_dir(dir.path()), "mp-adapter.conf", "NSXCAFile");
    std::fs::write(dir.path().join(MP_ADAPTER_FILE), INSECURE).unwrap();
    let set = load_dir(dir.path()).unwrap();
    assert_eq!(set.bootstrap.cluster_name, "cluster-sales");
    assert_eq!(set.ccp.common.nsx.trust, NsxTrust::Insecure);
    std::fs::write(dir.path().join(CCP_ADAPTER_FILE), "ReconcilerBurst: x\n").unwrap();
    error_naming(load_dir(dir.path()), "ccp-adapter.conf", "ReconcilerBurst");

    assert_eq!(load_cluster_id_dir(dir.path()).unwrap(), None);
    std::fs::write(dir.path().join(CLUSTER_ID_FILE), "clusterID: nope\n").unwrap();
    error_naming(
        load_cluster_id_dir(dir.path()),
        "cluster-id.conf",
        "clusterID",
    );
}

async fn emulated_cluster() -> (kube_emu::KubeEmu, kube::Client) {
    let emu = kube_emu::KubeEmu::new();
    let client = kube::Client::new(emu.router(), "default");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let mut namespace = Namespace::default();
    namespace.metadata.name = Some(DEFAULT_NAMESPACE.to_owned());
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    (emu, client)
}

fn configmap(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    let mut configmap = ConfigMap::default();
    configmap.metadata.name = Some(name.to_owned());
    configmap.data = Some(
        data.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    );
    configmap
}

#[tokio::test]
async fn loading_from_the_api() {
    let (_emu, client) = emulated_cluster().await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), DEFAULT_NAMESPACE);
    let error = load_api(&client, DEFAULT_NAMESPACE)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("bootstrap-config"), "{error}");
    assert_eq!(
        load_cluster_id_api(&client, DEFAULT_NAMESPACE)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        load_certificate_api(&client, DEFAULT_NAMESPACE)
            .await
            .unwrap(),
        None
    );

    configmaps
        .create(
            &PostParams::default(),
            &configmap(BOOTSTRAP_CONFIGMAP, &[(BOOTSTRAP_FILE, BOOTSTRAP)]),
        )
        .await
        .unwrap();
    configmaps
        .create(
            &PostParams::default(),
            &configmap(
                ADAPTER_CONFIGMAP,
                &[
                    (MP_ADAPTER_FILE, INSECURE),
                    (CCP_ADAPTER_FILE, "ReconcilerWorkerCount: 0\n"),
                ],
            ),
        )
        .await
        .unwrap();
    let error = error_naming(
        load_api(&client, DEFAULT_NAMESPACE).await,
        "antrea-interworking-config",
        "ReconcilerWorkerCount",
    );
    assert!(error.contains("ccp-adapter.conf"), "{error}");
    configmaps
        .replace(ADAPTER_CONFIGMAP, &PostParams::default(), &{
            let mut current = configmaps.get(ADAPTER_CONFIGMAP).await.unwrap();
            current.data = Some(BTreeMap::from([(
                MP_ADAPTER_FILE.to_owned(),
                INSECURE.to_owned(),
            )]));
            current
        })
        .await
        .unwrap();
    let set = load_api(&client, DEFAULT_NAMESPACE).await.unwrap();
    assert_eq!(set.bootstrap.cluster_name, "cluster-sales");
    assert_eq!(set.ccp.reconciler_worker_count, 8);

    let id = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    configmaps
        .create(
            &PostParams::default(),
            &configmap(
                CLUSTER_ID_CONFIGMAP,
                &[(CLUSTER_ID_FILE, &format!("clusterID: {id}\n"))],
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        load_cluster_id_api(&client, DEFAULT_NAMESPACE)
            .await
            .unwrap()
            .as_deref(),
        Some(id)
    );

    let certificate = NsxCertificate::generate("cluster-sales").unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), DEFAULT_NAMESPACE);
    let mut secret = Secret::default();
    secret.metadata.name = Some(CERTIFICATE_SECRET.to_owned());
    secret.type_ = Some("kubernetes.io/tls".to_owned());
    secret.data = Some(BTreeMap::from([(
        "tls.crt".to_owned(),
        ByteString(certificate.certificate_pem.clone().into_bytes()),
    )]));
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    error_naming(
        load_certificate_api(&client, DEFAULT_NAMESPACE).await,
        "Secret vmware-system-antrea/nsx-cert",
        "tls.key",
    );
    let mut stored = secrets.get(CERTIFICATE_SECRET).await.unwrap();
    stored.data.get_or_insert_default().insert(
        "tls.key".to_owned(),
        ByteString(certificate.private_key_pem.clone().into_bytes()),
    );
    secrets
        .replace(CERTIFICATE_SECRET, &PostParams::default(), &stored)
        .await
        .unwrap();
    assert_eq!(
        load_certificate_api(&client, DEFAULT_NAMESPACE)
            .await
            .unwrap(),
        Some(certificate)
    );
}

#[tokio::test]
async fn a_kubeconfig_that_does_not_exist_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-kubeconfig");
    let Err(error) = kube_client(Some(&path)).await else {
        panic!("a missing kubeconfig was accepted");
    };
    assert!(error.to_string().contains("missing-kubeconfig"), "{error}");
}

#[tokio::test]
async fn a_kubeconfig_builds_a_client() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, kube_emu::kubeconfig_yaml("http://127.0.0.1:1")).unwrap();
    let client = kube_client(Some(&path)).await.unwrap();
    assert_eq!(client.default_namespace(), "default");
}

#[test]
fn the_connection_builds_the_rest_client_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let certificate = NsxCertificate::generate("cluster-sales").unwrap();
    std::fs::write(dir.path().join("tls.crt"), &certificate.certificate_pem).unwrap();
    std::fs::write(dir.path().join("tls.key"), &certificate.private_key_pem).unwrap();
    let mp = MpAdapterConfig::parse(
        "mp-adapter.conf",
        "NSXInsecure: true\nNSXClientAuthCertFile: tls.crt\nNSXClientAuthKeyFile: tls.key\nNSXClientTimeout: 7\n",
        Some(dir.path()),
    )
    .unwrap();
    let loaded = mp.common.nsx.load_certificate().unwrap();
    assert_eq!(loaded, certificate);
    let bootstrap = BootstrapConfig::parse("bootstrap.conf", BOOTSTRAP).unwrap();
    let rest = mp.common.nsx.rest_config(&bootstrap, &loaded);
    assert_eq!(rest.managers, bootstrap.rest_managers());
    assert_eq!(rest.trust, RestTrust::InsecureSkipVerify);
    assert_eq!(rest.request_timeout, Duration::from_secs(7));
    assert!(matches!(
        rest.auth,
        adapter_nsx::rest::RestAuth::ClientCertificate { .. }
    ));
    // Missing files are named.
    let mp = MpAdapterConfig::parse(
        "mp-adapter.conf",
        "NSXInsecure: true\nNSXClientAuthCertFile: none.crt\n",
        Some(dir.path()),
    )
    .unwrap();
    let error = mp.common.nsx.load_certificate().unwrap_err().to_string();
    assert!(error.contains("none.crt"), "{error}");
}

#[test]
fn a_secret_that_is_not_pem_text_is_refused() {
    let secret = Secret {
        data: Some(BTreeMap::from([
            ("tls.crt".to_owned(), ByteString(vec![0xff, 0xfe])),
            ("tls.key".to_owned(), ByteString(b"k".to_vec())),
        ])),
        ..Secret::default()
    };
    error_naming(
        certificate_from_secret("Secret ns/nsx-cert", &secret),
        "Secret ns/nsx-cert",
        "tls.crt",
    );
    error_naming(
        certificate_from_secret("Secret ns/nsx-cert", &Secret::default()),
        "Secret ns/nsx-cert",
        "tls.crt",
    );
}

/// The shipped manifests (deploy/) parse with these loaders, so the Pod starts with them.
#[tokio::test]
async fn the_shipped_configmaps_load() {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let emu = kube_emu::KubeEmu::new();
    for file in [
        "00-namespace.yaml",
        "02-bootstrap-config.yaml",
        "03-adapter-config.yaml",
    ] {
        let text = std::fs::read_to_string(deploy.join(file)).unwrap();
        emu.seed_yaml(&text).unwrap();
    }
    let client = kube::Client::new(emu.router(), "default");
    let set = load_api(&client, DEFAULT_NAMESPACE).await.unwrap();
    assert_eq!(set.bootstrap.cluster_name, "my-cluster");
    assert_eq!(set.mp.common.nsx.trust, NsxTrust::Insecure);
    assert_eq!(set.mp.common.api_server_port, 16664);
    assert_eq!(set.ccp.common.api_server_port, 16665);
    assert_eq!(set.ccp.common.log_format, LogFormat::Json);
}
