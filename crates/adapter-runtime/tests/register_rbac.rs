//! The register and deregister Jobs under their shipped Role (`deploy/01-rbac.yaml`),
//! with the shipped configuration (`deploy/02-*`, `03-*`) read through the API as the Job
//! does, against the NSX simulator: nothing is refused, and every permission of the Role
//! is used by a first registration, a rerun that repairs ConfigMap cluster-id, and a
//! deregistration.

use std::path::Path;
use std::time::Duration;

use adapter_nsx::rest::RestTrust;
use adapter_runtime::config::{self, CLUSTER_ID_CONFIGMAP, CLUSTER_ID_FILE};
use adapter_runtime::registration::{self, NsxAccess, RegisterOptions, RegistrationStep};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use kube_emu::{KubeEmu, UserInfo};
use nsx_sim::{NsxSim, SimConfig};
use serde_json::json;

const NAMESPACE: &str = "vmware-system-antrea";
const ACCOUNT: &str = "antrea-nsx-register";
const PASSWORD: &str = "Admin!23Admin";

fn deploy_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test]
async fn the_jobs_run_under_the_shipped_role_and_use_all_of_it() {
    let sim = NsxSim::start(SimConfig::new("127.0.0.1:0".parse().unwrap(), PASSWORD))
        .await
        .unwrap();
    let emu = KubeEmu::new();
    for file in [
        "00-namespace.yaml",
        "01-rbac.yaml",
        "02-bootstrap-config.yaml",
        "03-adapter-config.yaml",
    ] {
        emu.seed_yaml(&deploy_file(file)).unwrap();
    }
    let token = emu.service_account_token(NAMESPACE, ACCOUNT).unwrap();
    let client = Client::new(emu.router_with_token(&token), NAMESPACE);

    // What `antrea-nsx register` does without --config-dir: the configuration comes
    // through the API; NSX is the simulator instead of the placeholder managers.
    let set = config::load_api(&client, NAMESPACE).await.unwrap();
    let options = RegisterOptions::from_config(&set, NAMESPACE);
    assert_eq!(options.cluster_name, "my-cluster");
    let access = NsxAccess {
        managers: vec![sim.base_url().to_owned()],
        trust: RestTrust::CaCertificates(sim.ca_cert_pem().as_bytes().to_vec()),
        admin: Some(("admin".to_owned(), PASSWORD.to_owned())),
        request_timeout: Duration::from_secs(10),
    };
    let first = registration::register(&client, &access, &options)
        .await
        .unwrap();
    assert!(
        first
            .changes
            .contains(&RegistrationStep::CertificateGenerated)
    );
    assert!(first.changes.contains(&RegistrationStep::ClusterIdRecorded));

    // Someone damaged ConfigMap cluster-id: a rerun puts the id back (an update).
    let admin = Client::new(emu.router(), NAMESPACE);
    Api::<ConfigMap>::namespaced(admin, NAMESPACE)
        .patch(
            CLUSTER_ID_CONFIGMAP,
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {CLUSTER_ID_FILE: "clusterID: wrong\n"}})),
        )
        .await
        .unwrap();
    let rerun = registration::register(&client, &access, &options)
        .await
        .unwrap();
    assert_eq!(rerun.cluster_id, first.cluster_id);
    assert_eq!(rerun.changes, [RegistrationStep::ClusterIdRecorded]);

    registration::deregister(&client, &access, &options)
        .await
        .unwrap();
    assert!(
        emu.get_object("v1", "configmaps", Some(NAMESPACE), CLUSTER_ID_CONFIGMAP)
            .is_none()
    );

    let user = UserInfo::service_account(NAMESPACE, ACCOUNT);
    let denied: Vec<_> = emu
        .authorizations()
        .into_iter()
        .filter(|(record, _)| record.user == user.name && !record.allowed)
        .map(|(record, _)| record.reason)
        .collect();
    assert!(denied.is_empty(), "refused calls: {denied:#?}");
    let unused: Vec<_> = emu.unused_permissions(&user);
    assert!(unused.is_empty(), "granted but unused: {unused:#?}");
    sim.shutdown().await.unwrap();
}
