//! Registration against the NSX simulator and the Kubernetes emulator, both in-process.

use std::time::Duration;

use adapter_nsx::rest::api::CLUSTER_CONTROL_PLANES;
use k8s_openapi::api::core::v1::Namespace;
use nsx_sim::{NsxSim, RunningSim, SimConfig};

use super::*;
use crate::config::{DEFAULT_NAMESPACE, load_certificate_api, load_cluster_id_api};

const PASSWORD: &str = "Admin!23Admin";
const CLUSTER: &str = "cluster-sales";

struct Setup {
    sim: RunningSim,
    _emu: kube_emu::KubeEmu,
    kube: kube::Client,
    options: RegisterOptions,
}

impl Setup {
    async fn start() -> Setup {
        let sim = NsxSim::start(SimConfig::new("127.0.0.1:0".parse().unwrap(), PASSWORD))
            .await
            .unwrap();
        let emu = kube_emu::KubeEmu::new();
        let kube = kube::Client::new(emu.router(), "default");
        let namespaces: Api<Namespace> = Api::all(kube.clone());
        let mut namespace = Namespace::default();
        namespace.metadata.name = Some(DEFAULT_NAMESPACE.to_owned());
        namespaces
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap();
        Setup {
            sim,
            _emu: emu,
            kube,
            options: RegisterOptions {
                namespace: DEFAULT_NAMESPACE.to_owned(),
                cluster_name: CLUSTER.to_owned(),
                vpc_path: None,
                cluster_type: "kubernetes".to_owned(),
            },
        }
    }

    fn access(&self, admin: bool) -> NsxAccess {
        NsxAccess {
            managers: vec![self.sim.base_url().to_owned()],
            trust: RestTrust::CaCertificates(self.sim.ca_cert_pem().as_bytes().to_vec()),
            admin: admin.then(|| ("admin".to_owned(), PASSWORD.to_owned())),
            request_timeout: Duration::from_secs(10),
        }
    }

    fn admin(&self) -> NsxRestClient {
        self.access(true).admin_client().unwrap().unwrap()
    }

    async fn register(&self) -> Result<Registration, RegistrationError> {
        register(&self.kube, &self.access(true), &self.options).await
    }

    async fn deregister(&self) -> Result<Deregistration, RegistrationError> {
        deregister(&self.kube, &self.access(true), &self.options).await
    }

    async fn replace_certificate(&self, certificate: &NsxCertificate) {
        let secrets: Api<Secret> = Api::namespaced(self.kube.clone(), DEFAULT_NAMESPACE);
        let mut secret = secrets.get(CERTIFICATE_SECRET).await.unwrap();
        secret.data = Some(BTreeMap::from([
            (
                "tls.crt".to_owned(),
                ByteString(certificate.certificate_pem.clone().into_bytes()),
            ),
            (
                "tls.key".to_owned(),
                ByteString(certificate.private_key_pem.clone().into_bytes()),
            ),
        ]));
        secrets
            .replace(CERTIFICATE_SECRET, &PostParams::default(), &secret)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn first_run_registers_everything_and_a_rerun_changes_nothing() {
    let setup = Setup::start().await;
    let registration = setup.register().await.unwrap();
    assert_eq!(
        registration.changes,
        [
            RegistrationStep::CertificateGenerated,
            RegistrationStep::PrincipalIdentityCreated,
            RegistrationStep::ClusterControlPlaneCreated,
            RegistrationStep::ContainerClusterCreated,
            RegistrationStep::ClusterIdRecorded,
        ]
    );
    // NSX: the cluster control plane with our certificate and its PI, the inventory cluster.
    let certificate = load_certificate_api(&setup.kube, DEFAULT_NAMESPACE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(certificate.common_name, CLUSTER);
    let record = setup.sim.registry().cluster(CLUSTER).expect("registered");
    assert_eq!(record.node_id, registration.cluster_id);
    assert!(record.accepts_certificate(&certificate.certificate_der));
    let inventory = setup
        .admin()
        .get_container_cluster(&registration.cluster_id)
        .await
        .unwrap()
        .expect("container cluster");
    assert_eq!(inventory.display_name.as_deref(), Some(CLUSTER));
    assert_eq!(inventory.cni_type, Some(CniType::Antrea));
    // The adapters find the id where they read it.
    assert_eq!(
        load_cluster_id_api(&setup.kube, DEFAULT_NAMESPACE)
            .await
            .unwrap()
            .as_deref(),
        Some(registration.cluster_id.as_str())
    );

    let again = setup.register().await.unwrap();
    assert_eq!(again.cluster_id, registration.cluster_id);
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    // Without the admin credentials too: the identity exists, the certificate proves it.
    let without_admin = register(&setup.kube, &setup.access(false), &setup.options)
        .await
        .unwrap();
    assert_eq!(without_admin.cluster_id, registration.cluster_id);
    assert!(without_admin.changes.is_empty());
}

#[tokio::test]
async fn an_interrupted_registration_completes_on_rerun() {
    let setup = Setup::start().await;
    let first = setup.register().await.unwrap();
    // Lose the ConfigMap and the inventory cluster (as if the job died before them).
    let configmaps: Api<ConfigMap> = Api::namespaced(setup.kube.clone(), DEFAULT_NAMESPACE);
    configmaps
        .delete(CLUSTER_ID_CONFIGMAP, &DeleteParams::default())
        .await
        .unwrap();
    setup
        .admin()
        .execute(NsxRequest::new(
            Method::DELETE,
            format!("{CONTAINER_CLUSTERS}/{}", first.cluster_id),
        ))
        .await
        .unwrap();
    let rerun = setup.register().await.unwrap();
    assert_eq!(
        rerun.changes,
        [
            RegistrationStep::ContainerClusterCreated,
            RegistrationStep::ClusterIdRecorded
        ]
    );
    assert_eq!(rerun.cluster_id, first.cluster_id);
}

#[tokio::test]
async fn a_different_certificate_is_refused() {
    let setup = Setup::start().await;
    setup.register().await.unwrap();
    // Same CommonName, another key: NSX's cluster control plane holds the first one.
    setup
        .replace_certificate(&NsxCertificate::generate(CLUSTER).unwrap())
        .await;
    let error = setup.register().await.unwrap_err();
    assert!(
        matches!(
            error,
            RegistrationError::CertificateMismatch {
                object: "a cluster control plane",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("different certificate"),
        "{error}"
    );
    // Nothing was replaced.
    assert!(setup.sim.registry().cluster(CLUSTER).is_some());
}

#[tokio::test]
async fn an_identity_with_another_certificate_is_refused() {
    let setup = Setup::start().await;
    // The NSX administrator created the identity with some other certificate.
    let other = NsxCertificate::generate(CLUSTER).unwrap();
    setup
        .admin()
        .create_principal_identity(&PrincipalIdentityWithCertificate::for_cluster(
            CLUSTER,
            &other.certificate_pem,
        ))
        .await
        .unwrap();
    let error = setup.register().await.unwrap_err();
    assert!(
        matches!(
            error,
            RegistrationError::CertificateMismatch {
                object: "a principal identity",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(setup.sim.registry().cluster(CLUSTER).is_none());
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let setup = Setup::start().await;
    setup.register().await.unwrap();
    setup
        .replace_certificate(&NsxCertificate::generate("cluster-hr").unwrap())
        .await;
    let error = setup.register().await.unwrap_err();
    assert!(
        matches!(error, RegistrationError::CertificateName { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn without_admin_credentials_the_identity_must_exist() {
    let setup = Setup::start().await;
    let error = register(&setup.kube, &setup.access(false), &setup.options)
        .await
        .unwrap_err();
    assert!(
        matches!(error, RegistrationError::NeedsAdmin(_)),
        "{error:?}"
    );
    assert!(setup.sim.registry().cluster(CLUSTER).is_none());
    // The certificate was generated and kept: the administrator can now create the identity
    // with it, and registration completes without the admin credentials.
    let certificate = load_certificate_api(&setup.kube, DEFAULT_NAMESPACE)
        .await
        .unwrap()
        .unwrap();
    setup
        .admin()
        .create_principal_identity(&PrincipalIdentityWithCertificate::for_cluster(
            CLUSTER,
            &certificate.certificate_pem,
        ))
        .await
        .unwrap();
    let registration = register(&setup.kube, &setup.access(false), &setup.options)
        .await
        .unwrap();
    assert_eq!(
        registration.changes,
        [
            RegistrationStep::ClusterControlPlaneCreated,
            RegistrationStep::ContainerClusterCreated,
            RegistrationStep::ClusterIdRecorded,
        ]
    );
}

#[tokio::test]
async fn deregister_cascades_and_registering_again_works() {
    let setup = Setup::start().await;
    let first = setup.register().await.unwrap();
    // A policy spanned to the cluster: only a cascade delete removes the cluster.
    let admin = setup.admin();
    let policy = "/policy/api/v1/infra/domains/default/security-policies/p1";
    admin
        .execute(
            NsxRequest::new(Method::PATCH, policy)
                .json(&json!({"resource_type": "SecurityPolicy", "category": "Application"}))
                .unwrap(),
        )
        .await
        .unwrap();
    admin
        .execute(
            NsxRequest::new(Method::PATCH, format!("{policy}/container-cluster-span/{CLUSTER}"))
                .json(&json!({"resource_type": "SecurityPolicyContainerCluster",
                    "container_cluster_path": format!(
                        "/infra/sites/default/enforcement-points/default/cluster-control-planes/{CLUSTER}")}))
                .unwrap(),
        )
        .await
        .unwrap();

    let removed = setup.deregister().await.unwrap();
    assert!(
        removed
            .changes
            .starts_with(&[RegistrationStep::ClusterControlPlaneDeleted]),
        "{:?}",
        removed.changes
    );
    assert!(
        removed
            .changes
            .contains(&RegistrationStep::PrincipalIdentityDeleted)
    );
    assert!(
        removed
            .changes
            .contains(&RegistrationStep::ClusterIdRemoved)
    );
    assert!(setup.sim.registry().cluster(CLUSTER).is_none());
    assert!(
        find_principal_identity(&admin, CLUSTER)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        admin
            .get_container_cluster(&first.cluster_id)
            .await
            .unwrap()
            .is_none()
    );
    let spans: Value = admin
        .get_json(&format!("{policy}/container-cluster-span"))
        .await
        .unwrap();
    assert_eq!(spans["result_count"], 0, "{spans}");
    assert_eq!(
        load_cluster_id_api(&setup.kube, DEFAULT_NAMESPACE)
            .await
            .unwrap(),
        None
    );
    let listed: Value = admin.get_json(CLUSTER_CONTROL_PLANES).await.unwrap();
    assert_eq!(listed["result_count"], 0, "{listed}");

    // Deregistering again is a no-op.
    assert!(setup.deregister().await.unwrap().changes.is_empty());

    // Registering again reuses the kept certificate and gets a new cluster id.
    let second = setup.register().await.unwrap();
    assert_eq!(
        second.changes,
        [
            RegistrationStep::PrincipalIdentityCreated,
            RegistrationStep::ClusterControlPlaneCreated,
            RegistrationStep::ContainerClusterCreated,
            RegistrationStep::ClusterIdRecorded,
        ]
    );
    assert_ne!(second.cluster_id, first.cluster_id);
}

#[tokio::test]
async fn deregister_with_the_cluster_certificate_only() {
    let setup = Setup::start().await;
    setup.register().await.unwrap();
    let removed = deregister(&setup.kube, &setup.access(false), &setup.options)
        .await
        .unwrap();
    assert!(
        removed
            .changes
            .contains(&RegistrationStep::PrincipalIdentityDeleted)
    );
    assert!(setup.sim.registry().cluster(CLUSTER).is_none());
    // Now nothing accepts the certificate, and without admin there is nothing to do it with.
    let error = deregister(&setup.kube, &setup.access(false), &setup.options)
        .await
        .unwrap_err();
    assert!(
        matches!(error, RegistrationError::NeedsAdmin(_)),
        "{error:?}"
    );
}

#[test]
fn certificates_are_compared_by_der() {
    let ours = NsxCertificate::generate(CLUSTER).unwrap();
    let other = NsxCertificate::generate(CLUSTER).unwrap();
    // NSX may reformat the PEM (line breaks, surrounding text): only the DER counts.
    let reformatted = format!("subject=CN = {CLUSTER}\n{}", ours.certificate_pem);
    assert!(same_certificate(Some(&reformatted), &ours));
    assert!(!same_certificate(Some(&other.certificate_pem), &ours));
    assert!(!same_certificate(Some("not a certificate"), &ours));
    assert!(!same_certificate(None, &ours));
}

#[tokio::test]
async fn a_changed_vpc_path_is_applied_on_rerun() {
    let mut setup = Setup::start().await;
    let first = setup.register().await.unwrap();
    setup.options.vpc_path = Some("/orgs/default/projects/sales".to_owned());
    let rerun = setup.register().await.unwrap();
    assert_eq!(
        rerun.changes,
        [RegistrationStep::ClusterControlPlaneUpdated]
    );
    assert_eq!(rerun.cluster_id, first.cluster_id);
    let control_plane = setup
        .admin()
        .get_cluster_control_plane(CLUSTER)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(control_plane["vhc_path"], "/orgs/default/projects/sales");
    assert!(setup.register().await.unwrap().changes.is_empty());
}
