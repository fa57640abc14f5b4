//! Registration of the cluster with NSX (register and deregister), as VMware's register and
//! deregister jobs do it (nsx-api.md §3.2):
//!
//! 1. the cluster's certificate: Secret `nsx-cert` (`kubernetes.io/tls`), generated (CN = the
//!    cluster name) when the Secret does not exist;
//! 2. a principal identity named after the cluster with that certificate (enterprise admin,
//!    protected), created with the NSX admin credentials when absent;
//! 3. the `ClusterControlPlane` `/infra/sites/default/enforcement-points/default/cluster-control-planes/<name>`
//!    with the certificate (created by the principal identity, as the register job does), whose
//!    `node_id` NSX assigns: the cluster id;
//! 4. the inventory `ContainerCluster` with that id;
//! 5. ConfigMap `cluster-id` (`cluster-id.conf: clusterID: <id>`), where the adapters read it.
//!
//! Every step first looks at what exists, so a rerun changes nothing, and a run interrupted
//! half-way completes on the next one. An identity or cluster control plane NSX already holds
//! with another certificate is refused, never replaced. [`deregister`] removes all of it
//! (the cluster control plane with `cascade=true`) and tolerates what is already gone.

use std::collections::BTreeMap;
use std::time::Duration;

use adapter_nsx::rest::api::{
    CONTAINER_CLUSTERS, PRINCIPAL_IDENTITIES, PrincipalIdentityWithCertificate,
};
use adapter_nsx::rest::{NsxRequest, NsxRestClient, RestAuth, RestConfig, RestError, RestTrust};
use http::{Method, StatusCode};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, PostParams};
use nsx_model::inventory::{ClusterType, CniType, ContainerCluster};
use serde_json::{Value, json};

use crate::config::{
    AdapterConfigSet, CERTIFICATE_SECRET, CLUSTER_ID_CONFIGMAP, CLUSTER_ID_FILE, ConfigError,
    NsxCertificate, certificate_from_secret, first_certificate_der, parse_cluster_id,
};

/// The label put on what the register command creates in Kubernetes.
pub const MANAGED_BY_LABEL: (&str, &str) = ("app.kubernetes.io/managed-by", "antrea-nsx-register");

/// How to reach NSX for registration.
#[derive(Debug, Clone)]
pub struct NsxAccess {
    /// Manager URLs in failover order (bootstrap.conf `NSXManagers`).
    pub managers: Vec<String>,
    /// How NSX's certificate is trusted.
    pub trust: RestTrust,
    /// NSX admin user and password: needed to create or delete the principal identity. Without
    /// them, the identity must exist already (created by the NSX administrator).
    pub admin: Option<(String, String)>,
    /// Whole-request timeout.
    pub request_timeout: Duration,
}

impl NsxAccess {
    /// From the configuration (managers, trust and `NSXClientTimeout` of mp-adapter.conf).
    pub fn from_config(config: &AdapterConfigSet, admin: Option<(String, String)>) -> NsxAccess {
        NsxAccess {
            managers: config.bootstrap.rest_managers(),
            trust: config.mp.common.nsx.trust.rest_trust(),
            admin,
            request_timeout: config.mp.common.nsx.client_timeout,
        }
    }

    fn client(&self, auth: RestAuth) -> Result<NsxRestClient, RegistrationError> {
        let mut config = RestConfig::new(self.managers.clone(), self.trust.clone(), auth);
        config.request_timeout = self.request_timeout;
        NsxRestClient::new(config).map_err(|source| RegistrationError::Nsx {
            step: "building the NSX client",
            source,
        })
    }

    fn admin_client(&self) -> Result<Option<NsxRestClient>, RegistrationError> {
        self.admin
            .as_ref()
            .map(|(username, password)| {
                self.client(RestAuth::Basic {
                    username: username.clone(),
                    password: password.clone(),
                })
            })
            .transpose()
    }

    fn identity_client(
        &self,
        certificate: &NsxCertificate,
    ) -> Result<NsxRestClient, RegistrationError> {
        self.client(RestAuth::ClientCertificate {
            certificate_chain_pem: certificate.certificate_pem.clone().into_bytes(),
            private_key_pem: certificate.private_key_pem.clone().into_bytes(),
        })
    }
}

/// What to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterOptions {
    /// The namespace of Secret `nsx-cert` and ConfigMap `cluster-id`.
    pub namespace: String,
    /// bootstrap.conf `clusterName`.
    pub cluster_name: String,
    /// bootstrap.conf `vpcPath`, given to the cluster control plane as `vhc_path`.
    pub vpc_path: Option<String>,
    /// mp-adapter.conf `clusterType`, for the inventory cluster.
    pub cluster_type: String,
}

impl RegisterOptions {
    /// From the configuration.
    pub fn from_config(config: &AdapterConfigSet, namespace: &str) -> RegisterOptions {
        RegisterOptions {
            namespace: namespace.to_owned(),
            cluster_name: config.bootstrap.cluster_name.clone(),
            vpc_path: config.bootstrap.vpc_path.clone(),
            cluster_type: config.mp.cluster_type.clone(),
        }
    }
}

/// One change a run made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RegistrationStep {
    /// A certificate was generated and stored in Secret `nsx-cert`.
    CertificateGenerated,
    /// The principal identity was created.
    PrincipalIdentityCreated,
    /// The cluster control plane was created.
    ClusterControlPlaneCreated,
    /// The cluster control plane's `vhc_path` was changed to the configured `vpcPath`.
    ClusterControlPlaneUpdated,
    /// The inventory container cluster was created.
    ContainerClusterCreated,
    /// ConfigMap `cluster-id` was written.
    ClusterIdRecorded,
    /// The cluster control plane was deleted (with cascade).
    ClusterControlPlaneDeleted,
    /// The inventory container cluster was deleted.
    ContainerClusterDeleted,
    /// The principal identity was deleted.
    PrincipalIdentityDeleted,
    /// ConfigMap `cluster-id` was deleted.
    ClusterIdRemoved,
}

/// The outcome of [`register`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The cluster control plane id (= principal identity name = certificate CN).
    pub cluster_name: String,
    /// The cluster id NSX assigned (`node_id`, the inventory cluster id).
    pub cluster_id: String,
    /// The changes made by this run (none on a rerun).
    pub changes: Vec<RegistrationStep>,
}

/// The outcome of [`deregister`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deregistration {
    /// The changes made by this run (none when nothing was registered).
    pub changes: Vec<RegistrationStep>,
}

/// Why registration failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// The configuration (or the certificate Secret) is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The Kubernetes API failed.
    #[error("{what}: {source}")]
    Kubernetes {
        what: String,
        #[source]
        source: kube::Error,
    },
    /// NSX refused or failed a call.
    #[error("{step}: {source}")]
    Nsx {
        step: &'static str,
        #[source]
        source: RestError,
    },
    /// NSX already holds the cluster with another certificate: refused, nothing replaced.
    #[error(
        "NSX already has {object} for cluster {cluster} with a different certificate than Secret \
         nsx-cert holds; deregister the cluster (antrea-nsx deregister) or restore its certificate"
    )]
    CertificateMismatch {
        object: &'static str,
        cluster: String,
    },
    /// The certificate's CommonName is not the cluster name.
    #[error(
        "Secret nsx-cert holds a certificate for {common_name:?}, but clusterName is \
         {cluster:?}; the CommonName must equal the cluster name"
    )]
    CertificateName {
        common_name: String,
        cluster: String,
    },
    /// A step needs the NSX admin credentials.
    #[error("{0}")]
    NeedsAdmin(String),
    /// NSX answered something this command cannot use.
    #[error("unexpected answer from NSX: {0}")]
    Unexpected(String),
}

fn nsx(step: &'static str) -> impl FnOnce(RestError) -> RegistrationError {
    move |source| RegistrationError::Nsx { step, source }
}

fn kube_error(what: impl Into<String>) -> impl FnOnce(kube::Error) -> RegistrationError {
    let what = what.into();
    move |source| RegistrationError::Kubernetes { what, source }
}

fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}

fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([(MANAGED_BY_LABEL.0.to_owned(), MANAGED_BY_LABEL.1.to_owned())])
}

/// The certificate of Secret `nsx-cert`, generated and stored when the Secret is absent.
async fn ensure_certificate(
    kube: &kube::Client,
    options: &RegisterOptions,
    changes: &mut Vec<RegistrationStep>,
) -> Result<NsxCertificate, RegistrationError> {
    let secrets: Api<Secret> = Api::namespaced(kube.clone(), &options.namespace);
    let source = format!("Secret {}/{CERTIFICATE_SECRET}", options.namespace);
    let certificate = match secrets
        .get_opt(CERTIFICATE_SECRET)
        .await
        .map_err(kube_error(format!("reading {source}")))?
    {
        Some(secret) => certificate_from_secret(&source, &secret)?,
        None => {
            let certificate = NsxCertificate::generate(&options.cluster_name)?;
            let mut secret = Secret::default();
            secret.metadata.name = Some(CERTIFICATE_SECRET.to_owned());
            secret.metadata.labels = Some(labels());
            secret.type_ = Some("kubernetes.io/tls".to_owned());
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
            match secrets.create(&PostParams::default(), &secret).await {
                Ok(_) => {
                    tracing::info!(cluster = %options.cluster_name, "generated the cluster certificate");
                    changes.push(RegistrationStep::CertificateGenerated);
                    certificate
                }
                // Another run stored one in between: use it.
                Err(error) if is_conflict(&error) => {
                    let secret = secrets
                        .get(CERTIFICATE_SECRET)
                        .await
                        .map_err(kube_error(format!("reading {source}")))?;
                    certificate_from_secret(&source, &secret)?
                }
                Err(error) => return Err(kube_error(format!("creating {source}"))(error)),
            }
        }
    };
    if certificate.common_name != options.cluster_name {
        return Err(RegistrationError::CertificateName {
            common_name: certificate.common_name,
            cluster: options.cluster_name.clone(),
        });
    }
    Ok(certificate)
}

/// The principal identity named `name`, if any (`id` and document).
async fn find_principal_identity(
    client: &NsxRestClient,
    name: &str,
) -> Result<Option<Value>, RegistrationError> {
    let identities = client
        .list_principal_identities()
        .await
        .map_err(nsx("listing principal identities"))?;
    Ok(identities
        .into_iter()
        .find(|identity| identity.get("name").and_then(Value::as_str) == Some(name)))
}

/// Whether NSX accepts `certificate` as a principal identity: a read with it succeeds (403
/// when no identity holds it).
async fn certificate_accepted(identity_client: &NsxRestClient) -> Result<bool, RegistrationError> {
    match identity_client.list_principal_identities().await {
        Ok(_) => Ok(true),
        Err(error)
            if matches!(
                error.status(),
                Some(StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED)
            ) =>
        {
            Ok(false)
        }
        Err(error) => Err(nsx("authenticating with the cluster certificate")(error)),
    }
}

/// Whether NSX's copy of a certificate (PEM) is exactly `ours`.
fn same_certificate(theirs: Option<&str>, ours: &NsxCertificate) -> bool {
    theirs
        .and_then(|pem| first_certificate_der(pem).ok())
        .is_some_and(|der| der == ours.certificate_der)
}

fn node_id(control_plane: &Value) -> Result<String, RegistrationError> {
    control_plane
        .get("node_id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            RegistrationError::Unexpected(
                "the cluster control plane has no node_id (the cluster id)".to_owned(),
            )
        })
}

fn container_cluster_type(configured: &str) -> ClusterType {
    if configured.eq_ignore_ascii_case("kubernetes") {
        ClusterType::Kubernetes
    } else {
        ClusterType::from_wire(configured)
    }
}

/// Registers the cluster with NSX, creating or reusing each part. Safe to rerun.
pub async fn register(
    kube: &kube::Client,
    access: &NsxAccess,
    options: &RegisterOptions,
) -> Result<Registration, RegistrationError> {
    let mut changes = Vec::new();
    let name = options.cluster_name.as_str();
    let certificate = ensure_certificate(kube, options, &mut changes).await?;
    let admin = access.admin_client()?;
    let identity = access.identity_client(&certificate)?;

    // An existing cluster control plane must hold our certificate.
    let reader = admin.as_ref().unwrap_or(&identity);
    let mut control_plane = match reader.get_cluster_control_plane(name).await {
        Ok(found) => found,
        // Without admin credentials and before the identity exists, NSX does not let us look.
        Err(error) if admin.is_none() && error.status() == Some(StatusCode::FORBIDDEN) => None,
        Err(error) => return Err(nsx("reading the cluster control plane")(error)),
    };
    if let Some(existing) = &control_plane {
        let held = match existing.get("certificate").and_then(Value::as_str) {
            Some(pem) => same_certificate(Some(pem), &certificate),
            // NSX did not show the certificate: NSX accepting ours for the identity of the
            // same name is what the cluster control plane requires of it.
            None => certificate_accepted(&identity).await?,
        };
        if !held {
            return Err(RegistrationError::CertificateMismatch {
                object: "a cluster control plane",
                cluster: name.to_owned(),
            });
        }
    }

    // The principal identity.
    match &admin {
        Some(admin) => match find_principal_identity(admin, name).await? {
            Some(_) => {
                if !certificate_accepted(&identity).await? {
                    return Err(RegistrationError::CertificateMismatch {
                        object: "a principal identity",
                        cluster: name.to_owned(),
                    });
                }
            }
            None => {
                admin
                    .create_principal_identity(&PrincipalIdentityWithCertificate::for_cluster(
                        name,
                        &certificate.certificate_pem,
                    ))
                    .await
                    .map_err(nsx("creating the principal identity"))?;
                tracing::info!(cluster = name, "created the principal identity");
                changes.push(RegistrationStep::PrincipalIdentityCreated);
            }
        },
        None => {
            if !certificate_accepted(&identity).await? {
                return Err(RegistrationError::NeedsAdmin(format!(
                    "NSX has no principal identity with the certificate of Secret nsx-cert \
                     (CN {name}); give the NSX admin credentials so it can be created, or \
                     create it in NSX"
                )));
            }
            if control_plane.is_none() {
                control_plane = identity
                    .get_cluster_control_plane(name)
                    .await
                    .map_err(nsx("reading the cluster control plane"))?;
            }
        }
    }

    // The cluster control plane, created by the identity (so it is protected as its own);
    // an existing one is brought to the configured `vpcPath`.
    let mut body = json!({
        "resource_type": "ClusterControlPlane",
        "id": name,
        "display_name": name,
        "certificate": certificate.certificate_pem,
    });
    if let Some(path) = &options.vpc_path {
        body["vhc_path"] = json!(path);
    }
    let control_plane = match control_plane {
        Some(existing)
            if existing
                .get("vhc_path")
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty())
                == options.vpc_path.as_deref() =>
        {
            existing
        }
        Some(existing) => {
            if let Some(display_name) = existing.get("display_name") {
                body["display_name"] = display_name.clone();
            }
            let updated = identity
                .put_cluster_control_plane(name, &body)
                .await
                .map_err(nsx("updating the cluster control plane's vhc_path"))?;
            tracing::info!(cluster = name, vpc_path = ?options.vpc_path,
                "updated the cluster control plane's vhc_path");
            changes.push(RegistrationStep::ClusterControlPlaneUpdated);
            updated
        }
        None => {
            let created = identity
                .put_cluster_control_plane(name, &body)
                .await
                .map_err(nsx("creating the cluster control plane"))?;
            tracing::info!(cluster = name, "created the cluster control plane");
            changes.push(RegistrationStep::ClusterControlPlaneCreated);
            created
        }
    };
    let cluster_id = node_id(&control_plane)?;

    // The inventory cluster.
    let existing = identity
        .get_container_cluster(&cluster_id)
        .await
        .map_err(nsx("reading the container cluster"))?;
    if existing.is_none() {
        let cluster = ContainerCluster {
            external_id: cluster_id.clone(),
            display_name: Some(name.to_owned()),
            cluster_type: Some(container_cluster_type(&options.cluster_type)),
            cni_type: Some(CniType::Antrea),
            ..ContainerCluster::default()
        };
        identity
            .create_container_cluster(&cluster)
            .await
            .map_err(nsx("creating the container cluster"))?;
        tracing::info!(cluster = name, %cluster_id, "created the container cluster");
        changes.push(RegistrationStep::ContainerClusterCreated);
    }

    // Where the adapters read the cluster id.
    if record_cluster_id(kube, &options.namespace, &cluster_id).await? {
        changes.push(RegistrationStep::ClusterIdRecorded);
    }
    Ok(Registration {
        cluster_name: name.to_owned(),
        cluster_id,
        changes,
    })
}

/// Writes ConfigMap `cluster-id`; `false` when it already says `cluster_id`.
async fn record_cluster_id(
    kube: &kube::Client,
    namespace: &str,
    cluster_id: &str,
) -> Result<bool, RegistrationError> {
    let configmaps: Api<ConfigMap> = Api::namespaced(kube.clone(), namespace);
    let what = format!("ConfigMap {namespace}/{CLUSTER_ID_CONFIGMAP}");
    let data = BTreeMap::from([(
        CLUSTER_ID_FILE.to_owned(),
        format!("clusterID: {cluster_id}\n"),
    )]);
    match configmaps
        .get_opt(CLUSTER_ID_CONFIGMAP)
        .await
        .map_err(kube_error(format!("reading {what}")))?
    {
        Some(mut existing) => {
            let current = existing
                .data
                .as_ref()
                .and_then(|data| data.get(CLUSTER_ID_FILE))
                .and_then(|text| parse_cluster_id(&what, text).ok());
            if current.as_deref() == Some(cluster_id) {
                return Ok(false);
            }
            existing.data = Some(data);
            configmaps
                .replace(CLUSTER_ID_CONFIGMAP, &PostParams::default(), &existing)
                .await
                .map_err(kube_error(format!("updating {what}")))?;
        }
        None => {
            let mut configmap = ConfigMap::default();
            configmap.metadata.name = Some(CLUSTER_ID_CONFIGMAP.to_owned());
            configmap.metadata.labels = Some(labels());
            configmap.data = Some(data);
            configmaps
                .create(&PostParams::default(), &configmap)
                .await
                .map_err(kube_error(format!("creating {what}")))?;
        }
    }
    Ok(true)
}

/// Removes the cluster from NSX (cluster control plane with `cascade=true`, its inventory
/// cluster, the principal identity) and ConfigMap `cluster-id`. Secret `nsx-cert` is kept, so
/// registering again reuses the certificate. Safe to rerun; what is gone is skipped.
pub async fn deregister(
    kube: &kube::Client,
    access: &NsxAccess,
    options: &RegisterOptions,
) -> Result<Deregistration, RegistrationError> {
    let mut changes = Vec::new();
    let name = options.cluster_name.as_str();
    let namespace = options.namespace.as_str();
    let secrets: Api<Secret> = Api::namespaced(kube.clone(), namespace);
    let source = format!("Secret {namespace}/{CERTIFICATE_SECRET}");
    let certificate = secrets
        .get_opt(CERTIFICATE_SECRET)
        .await
        .map_err(kube_error(format!("reading {source}")))?
        .map(|secret| certificate_from_secret(&source, &secret))
        .transpose()?;
    let admin = access.admin_client()?;
    let identity = certificate
        .as_ref()
        .map(|certificate| access.identity_client(certificate))
        .transpose()?;
    let identity_usable = match &identity {
        Some(client) => certificate_accepted(client).await?,
        None => false,
    };
    let client = match (&admin, &identity) {
        (Some(admin), _) => admin,
        (None, Some(identity)) if identity_usable => identity,
        (None, _) => {
            return Err(RegistrationError::NeedsAdmin(
                "the certificate of Secret nsx-cert is not (or no longer) a principal identity \
                 in NSX; give the NSX admin credentials to deregister"
                    .to_owned(),
            ));
        }
    };

    // The cluster id: from the cluster control plane, else from the ConfigMap.
    let configmaps: Api<ConfigMap> = Api::namespaced(kube.clone(), namespace);
    let recorded = crate::config::load_cluster_id_api(kube, namespace)
        .await
        .ok()
        .flatten();
    let control_plane = client
        .get_cluster_control_plane(name)
        .await
        .map_err(nsx("reading the cluster control plane"))?;
    let cluster_id = match &control_plane {
        Some(existing) => Some(node_id(existing)?),
        None => recorded,
    };
    if control_plane.is_some() {
        client
            .delete_cluster_control_plane(name, true, true)
            .await
            .map_err(nsx("deleting the cluster control plane"))?;
        tracing::info!(
            cluster = name,
            "deleted the cluster control plane (cascade)"
        );
        changes.push(RegistrationStep::ClusterControlPlaneDeleted);
    }
    if let Some(cluster_id) = &cluster_id
        && client
            .get_container_cluster(cluster_id)
            .await
            .map_err(nsx("reading the container cluster"))?
            .is_some()
    {
        let path = format!("{CONTAINER_CLUSTERS}/{cluster_id}");
        match client
            .execute(NsxRequest::new(Method::DELETE, path).allow_overwrite())
            .await
        {
            Ok(_) => changes.push(RegistrationStep::ContainerClusterDeleted),
            Err(error) if error.is_not_found() => {}
            Err(error) => return Err(nsx("deleting the container cluster")(error)),
        }
    }
    // The identity last: once gone, its certificate no longer authenticates.
    let identity_record = match (&admin, &identity) {
        (Some(admin), _) => find_principal_identity(admin, name).await?,
        (None, Some(identity)) if identity_usable => {
            find_principal_identity(identity, name).await?
        }
        _ => None,
    };
    if let Some(record) = identity_record {
        let id = record.get("id").and_then(Value::as_str).ok_or_else(|| {
            RegistrationError::Unexpected("a principal identity without id".to_owned())
        })?;
        let path = format!("{PRINCIPAL_IDENTITIES}/{id}");
        match client
            .execute(NsxRequest::new(Method::DELETE, path).allow_overwrite())
            .await
        {
            Ok(_) => changes.push(RegistrationStep::PrincipalIdentityDeleted),
            Err(error) if error.is_not_found() => {}
            Err(error) => return Err(nsx("deleting the principal identity")(error)),
        }
    }
    match configmaps
        .delete(CLUSTER_ID_CONFIGMAP, &DeleteParams::default())
        .await
    {
        Ok(_) => changes.push(RegistrationStep::ClusterIdRemoved),
        Err(kube::Error::Api(status)) if status.code == 404 => {}
        Err(error) => {
            return Err(kube_error(format!(
                "deleting ConfigMap {namespace}/{CLUSTER_ID_CONFIGMAP}"
            ))(error));
        }
    }
    Ok(Deregistration { changes })
}

#[cfg(test)]
mod tests;
