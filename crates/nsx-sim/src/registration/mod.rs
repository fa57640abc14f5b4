//! Registration of Antrea clusters, as NSX does it: principal identities created with their
//! certificate (`/api/v1/trust-management/principal-identities...`) and `ClusterControlPlane`
//! objects (`/policy/api/v1/infra/sites/{s}/enforcement-points/{ep}/cluster-control-planes`).
//!
//! Principal identities live in the tables of [`crate::identity`], so a certificate registered
//! over REST authenticates exactly like one registered in-process. Cluster control planes are
//! policy documents in [`policy::TABLE`] at their policy path, so that container-cluster spans
//! can name them and the policy engine's reference checks see them.
//!
//! NSX checks on create (nsx-api.md §3.2, KB345885): the certificate's CommonName equals the
//! cluster control plane's id and the name of a principal identity; ids are unique; a
//! certificate already used by another cluster control plane is refused with "certificate
//! conflict with clusterControlPlane node id <uuid>". NSX assigns `node_id` (a UUID), which is
//! also the id of the cluster's container inventory.
//!
//! The channel adapter reads registrations through [`Registry`]: look up a cluster by id or by
//! the certificate it presents, and subscribe to changes.

mod routes;

pub use routes::routes;
pub(crate) use routes::{segments as path_segments, write as write_txn};

use http::StatusCode;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Map, Value, json};
use tokio::sync::{broadcast, watch};

use crate::error::{ApiError, MODULE_POLICY, code};
use crate::identity::{Caller, Identity, PI_CERTIFICATES, PRINCIPAL_IDENTITIES};
use crate::inventory;
use crate::policy::kinds::Kind;
use crate::policy::render::strip;
use crate::policy::{self, Engine, TABLE};
use crate::schema::{Api, schemas};
use crate::store::{Store, Tables, WriteTxn};
use crate::tls::sha256_hex;

/// The only site and enforcement point NSX has out of the box (and the simulator serves).
pub const DEFAULT_SITE: &str = "default";
/// See [`DEFAULT_SITE`].
pub const DEFAULT_ENFORCEMENT_POINT: &str = "default";
/// Policy path under which cluster control planes live.
pub const CLUSTER_CONTROL_PLANES: &str =
    "/infra/sites/default/enforcement-points/default/cluster-control-planes";
/// `resource_type` of a cluster control plane.
pub const CCP_RESOURCE_TYPE: &str = "ClusterControlPlane";

/// Bookkeeping key naming the principal identity whose protection covers an object. It is the
/// key the policy engine uses (so [`Engine::check_writable`] and `_protection` rendering apply
/// to cluster control planes); a unit test checks the two agree.
const PROTECTED_BY: &str = "_sim_protected_by";
/// Bookkeeping key: SHA-256 of the cluster control plane's certificate (DER).
const CERTIFICATE_SHA256: &str = "_sim_certificate_sha256";

/// Policy path of the cluster control plane `id`.
pub fn ccp_path(id: &str) -> String {
    format!("{CLUSTER_CONTROL_PLANES}/{id}")
}

/// The subject CommonName of the first certificate of `pem`; exactly one CN is required.
pub fn certificate_common_name(pem: &str) -> Result<String, String> {
    let der = CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| format!("the certificate is not PEM: {e}"))?;
    certificate_der_common_name(&der)
}

/// The subject CommonName of a DER certificate; exactly one CN is required.
pub fn certificate_der_common_name(der: &[u8]) -> Result<String, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("the certificate is not X.509: {e}"))?;
    let mut names = cert.subject().iter_common_name();
    let first = names
        .next()
        .ok_or_else(|| "the certificate subject has no CommonName".to_owned())?;
    if names.next().is_some() {
        return Err("the certificate subject has more than one CommonName".to_owned());
    }
    first
        .as_str()
        .map(str::to_owned)
        .map_err(|e| format!("the certificate CommonName is not a string: {e}"))
}

/// The SHA-256 (lowercase hex) of the first certificate of `pem`, checked to be X.509.
fn certificate_fingerprint(pem: &str) -> Result<(String, Vec<u8>), String> {
    let der = CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| format!("the certificate is not PEM: {e}"))?;
    x509_parser::parse_x509_certificate(&der)
        .map_err(|e| format!("the certificate is not X.509: {e}"))?;
    Ok((sha256_hex(&der), der.to_vec()))
}

/// A principal identity as the channel sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalIdentityRecord {
    /// `PrincipalIdentity.id`.
    pub id: String,
    /// `name` (for Antrea: the cluster name).
    pub name: String,
    /// `is_protected`.
    pub is_protected: bool,
    /// PEM of its certificate.
    pub certificate_pem: String,
    /// SHA-256 (lowercase hex) of the certificate's DER.
    pub certificate_sha256: String,
}

/// A registered cluster: its cluster control plane and the principal identity of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterRegistration {
    /// `ClusterControlPlane.id` (= certificate CN = principal identity name).
    pub id: String,
    /// Its policy path.
    pub path: String,
    /// `node_id`, the UUID NSX assigned; also the container inventory cluster id.
    pub node_id: String,
    /// `unique_id` of the cluster control plane.
    pub unique_id: String,
    /// `ClusterControlPlane.certificate` (PEM).
    pub certificate_pem: String,
    /// SHA-256 (lowercase hex) of that certificate's DER.
    pub certificate_sha256: String,
    /// The principal identity named like the cluster, if it still exists.
    pub principal_identity: Option<PrincipalIdentityRecord>,
}

impl ClusterRegistration {
    /// Whether a client presenting the DER certificate `der` is this cluster: the certificate
    /// must be exactly the cluster control plane's certificate and its principal identity's.
    pub fn accepts_certificate(&self, der: &[u8]) -> bool {
        let presented = sha256_hex(der);
        presented == self.certificate_sha256
            && self
                .principal_identity
                .as_ref()
                .is_some_and(|pi| pi.certificate_sha256 == presented)
    }
}

/// The principal identity called `name`, with its certificate.
pub fn principal_identity_named(tables: &Tables, name: &str) -> Option<PrincipalIdentityRecord> {
    let (id, pi) = tables
        .iter(PRINCIPAL_IDENTITIES)
        .find(|(_, pi)| pi["name"].as_str() == Some(name))?;
    let (sha, link) = tables
        .iter(PI_CERTIFICATES)
        .find(|(_, link)| link["principal_identity_id"].as_str() == Some(id.as_str()))?;
    Some(PrincipalIdentityRecord {
        id: id.clone(),
        name: name.to_owned(),
        is_protected: pi["is_protected"].as_bool().unwrap_or(false),
        certificate_pem: link["certificate_pem"].as_str()?.to_owned(),
        certificate_sha256: sha.clone(),
    })
}

fn registration_of(tables: &Tables, doc: &Value) -> Option<ClusterRegistration> {
    let id = doc["id"].as_str()?.to_owned();
    Some(ClusterRegistration {
        path: ccp_path(&id),
        node_id: doc["node_id"].as_str()?.to_owned(),
        unique_id: doc["unique_id"].as_str().unwrap_or_default().to_owned(),
        certificate_pem: doc["certificate"].as_str().unwrap_or_default().to_owned(),
        certificate_sha256: doc[CERTIFICATE_SHA256]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        principal_identity: principal_identity_named(tables, &id),
        id,
    })
}

/// The cluster control plane documents (stored form), in id order.
pub fn cluster_control_plane_docs(tables: &Tables) -> impl Iterator<Item = &Value> {
    let prefix = format!("{CLUSTER_CONTROL_PLANES}/");
    let depth = prefix.len();
    tables
        .scan_prefix(TABLE, &prefix)
        .filter(move |(k, _)| !k[depth..].contains('/'))
        .map(|(_, v)| v)
}

/// The registered cluster `id`.
pub fn cluster_registration(tables: &Tables, id: &str) -> Option<ClusterRegistration> {
    registration_of(tables, tables.get(TABLE, &ccp_path(id))?)
}

/// Every registered cluster, in id order.
pub fn cluster_registrations(tables: &Tables) -> Vec<ClusterRegistration> {
    cluster_control_plane_docs(tables)
        .filter_map(|doc| registration_of(tables, doc))
        .collect()
}

/// The registered cluster whose `node_id` (container inventory cluster id) is `node_id`.
pub fn cluster_for_node_id(tables: &Tables, node_id: &str) -> Option<ClusterRegistration> {
    cluster_control_plane_docs(tables)
        .find(|doc| doc["node_id"].as_str() == Some(node_id))
        .and_then(|doc| registration_of(tables, doc))
}

/// A change of the registrations, sent after it is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationChange {
    /// A cluster control plane was created.
    ClusterRegistered {
        /// Its id.
        id: String,
    },
    /// A cluster control plane was replaced (e.g. a new certificate).
    ClusterUpdated {
        /// Its id.
        id: String,
    },
    /// A cluster control plane was deleted (with its inventory).
    ClusterDeregistered {
        /// Its id.
        id: String,
        /// Its former `node_id`.
        node_id: String,
    },
    /// A principal identity was created.
    PrincipalIdentityRegistered {
        /// Its name.
        name: String,
    },
    /// A principal identity was deleted.
    PrincipalIdentityDeleted {
        /// Its name.
        name: String,
    },
}

/// Registrations as the rest of the simulator (the adapter channel) sees them: lookups over the
/// store and a feed of committed changes.
#[derive(Clone)]
pub struct Registry {
    store: Store,
    changes: broadcast::Sender<RegistrationChange>,
    generation: watch::Sender<u64>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("generation", &*self.generation.borrow())
            .finish_non_exhaustive()
    }
}

/// How many changes a slow subscriber may fall behind before it sees `Lagged`.
const CHANGE_BUFFER: usize = 1024;

impl Registry {
    /// A registry over `store`.
    pub fn new(store: Store) -> Self {
        let (changes, _) = broadcast::channel(CHANGE_BUFFER);
        let (generation, _) = watch::channel(0);
        Self {
            store,
            changes,
            generation,
        }
    }

    /// The registered cluster `id`.
    pub fn cluster(&self, id: &str) -> Option<ClusterRegistration> {
        self.store.read(|t| cluster_registration(t, id))
    }

    /// Every registered cluster.
    pub fn clusters(&self) -> Vec<ClusterRegistration> {
        self.store.read(cluster_registrations)
    }

    /// The registered cluster a client certificate (DER) belongs to: its CN names a cluster
    /// control plane whose certificate and principal identity certificate are exactly `der`.
    pub fn cluster_for_certificate(&self, der: &[u8]) -> Option<ClusterRegistration> {
        let cn = certificate_der_common_name(der).ok()?;
        self.cluster(&cn)
            .filter(|registration| registration.accepts_certificate(der))
    }

    /// Every committed change from now on. A receiver that falls more than 1024 changes behind
    /// gets `RecvError::Lagged` and should re-read [`Registry::clusters`].
    pub fn subscribe(&self) -> broadcast::Receiver<RegistrationChange> {
        self.changes.subscribe()
    }

    /// A counter bumped after every committed change (for "something changed, re-read").
    pub fn watch_generation(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Publishes committed changes.
    pub(crate) fn publish(&self, changes: Vec<RegistrationChange>) {
        if changes.is_empty() {
            return;
        }
        for change in changes {
            tracing::debug!(?change, "registration changed");
            // No subscriber is fine.
            let _ = self.changes.send(change);
        }
        self.generation.send_modify(|g| *g += 1);
    }
}

/// NSX's Manager API "object not found" error (404, `error_code` 600, as real NSX sends it).
pub fn object_not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        code::URI_NOT_FOUND,
        crate::error::MODULE_COMMON,
        format!(
            "The requested object : {id} could not be found. Object identifiers are case sensitive."
        ),
    )
}

fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        inventory::code::PERMISSION_DENIED,
        crate::error::MODULE_COMMON,
        message,
    )
}

// ---------------------------------------------------------------------------------------
// Principal identities
// ---------------------------------------------------------------------------------------

/// The `PrincipalIdentity` document as sent to clients.
fn render_principal(doc: &Value) -> Value {
    match doc {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !k.starts_with(policy::INTERNAL_PREFIX))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `POST /api/v1/trust-management/principal-identities/with-certificate`.
pub fn create_principal_identity(
    tx: &mut WriteTxn<'_>,
    body: &Value,
    by: &Identity,
    now: i64,
) -> Result<Value, ApiError> {
    let text = |field: &str| -> Result<String, ApiError> {
        match body.get(field).and_then(Value::as_str) {
            Some(v) if !v.trim().is_empty() => Ok(v.to_owned()),
            _ => Err(ApiError::field_validation(&[format!(
                "/{field}: required property missing or empty"
            )])),
        }
    };
    let name = text("name")?;
    let node_id = text("node_id")?;
    let certificate_pem = text("certificate_pem")?;
    certificate_fingerprint(&certificate_pem)
        .map_err(|e| ApiError::bad_parameter(format!("Invalid certificate_pem: {e}.")))?;
    let roles_for_paths = body.get("roles_for_paths").cloned();
    let role = match body.get("role").and_then(Value::as_str) {
        Some(role) => role.to_owned(),
        None => roles_for_paths
            .as_ref()
            .and_then(|r| r.as_array())
            .and_then(|paths| {
                paths
                    .iter()
                    .find(|p| p["path"] == "/")
                    .or_else(|| paths.first())
            })
            .and_then(|p| p["roles"][0]["role"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| {
                ApiError::field_validation(&[
                    "/: a principal identity needs role or roles_for_paths".to_owned(),
                ])
            })?,
    };
    let spec = crate::identity::PrincipalIdentitySpec {
        name,
        node_id,
        certificate_pem,
        is_protected: body
            .get("is_protected")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        role,
    };
    let mut doc = crate::identity::register_principal_identity(tx, &spec, by, now)?;
    if let Some(roles) = roles_for_paths {
        doc["roles_for_paths"] = roles;
        if body.get("role").is_none()
            && let Value::Object(map) = &mut doc
        {
            map.remove("role");
        }
        let id = doc["id"].as_str().unwrap_or_default().to_owned();
        tx.put(PRINCIPAL_IDENTITIES, &id, doc.clone());
    }
    for (key, value) in body.as_object().into_iter().flatten() {
        if matches!(key.as_str(), "display_name" | "description" | "tags") {
            doc[key] = value.clone();
        }
    }
    let id = doc["id"].as_str().unwrap_or_default().to_owned();
    tx.put(PRINCIPAL_IDENTITIES, &id, doc.clone());
    Ok(render_principal(&doc))
}

/// `GET /api/v1/trust-management/principal-identities/{id}`.
pub fn principal_identity(tables: &Tables, id: &str) -> Result<Value, ApiError> {
    tables
        .get(PRINCIPAL_IDENTITIES, id)
        .map(render_principal)
        .ok_or_else(|| object_not_found(id))
}

/// Every principal identity, in id order.
pub fn principal_identities(tables: &Tables) -> Vec<Value> {
    tables
        .iter(PRINCIPAL_IDENTITIES)
        .map(|(_, v)| render_principal(v))
        .collect()
}

fn certificate_links_of(tables: &Tables, pi_id: &str) -> Vec<String> {
    tables
        .iter(PI_CERTIFICATES)
        .filter(|(_, link)| link["principal_identity_id"].as_str() == Some(pi_id))
        .map(|(k, _)| k.clone())
        .collect()
}

/// `DELETE /api/v1/trust-management/principal-identities/{id}`: the identity and its
/// certificate. Returns its name.
pub fn delete_principal_identity(
    tx: &mut WriteTxn<'_>,
    caller: &Caller,
    id: &str,
) -> Result<String, ApiError> {
    let doc = tx
        .get(PRINCIPAL_IDENTITIES, id)
        .cloned()
        .ok_or_else(|| object_not_found(id))?;
    let name = doc["name"].as_str().unwrap_or_default().to_owned();
    if let Identity::Principal {
        name: caller_name, ..
    } = &caller.identity
        && caller_name != &name
        && doc["is_protected"] == json!(true)
        && !caller.allow_overwrite
    {
        return Err(forbidden(format!(
            "Principal identity {name} is protected; deleting it requires the header \
             X-Allow-Overwrite: true."
        )));
    }
    for key in certificate_links_of(tx.tables(), id) {
        tx.delete(PI_CERTIFICATES, &key);
    }
    tx.delete(PRINCIPAL_IDENTITIES, id);
    Ok(name)
}

// ---------------------------------------------------------------------------------------
// Cluster control planes
// ---------------------------------------------------------------------------------------

/// Refuses sites and enforcement points other than `default`.
pub fn check_site(site: &str, enforcement_point: &str) -> Result<(), ApiError> {
    if site != DEFAULT_SITE {
        return Err(ApiError::policy_not_found(&format!("/infra/sites/{site}")));
    }
    if enforcement_point != DEFAULT_ENFORCEMENT_POINT {
        return Err(ApiError::policy_not_found(&format!(
            "/infra/sites/{site}/enforcement-points/{enforcement_point}"
        )));
    }
    Ok(())
}

/// A cluster control plane document as sent to `caller`.
pub fn render_ccp(doc: &Value, caller: &Caller) -> Value {
    Value::Object(strip(doc, caller))
}

/// What a `PUT` of a cluster control plane did.
#[derive(Debug, Clone)]
pub struct CcpWrite {
    /// The stored document.
    pub doc: Value,
    /// Whether it was created.
    pub created: bool,
}

fn stale_revision(path: &str, given: Option<&Value>, current: &Value) -> ApiError {
    let message = match given {
        None => format!(
            "The _revision of {path} is missing; the current revision is {current}. Read the \
             object again and retry."
        ),
        Some(given) => format!(
            "The object {path} was modified by somebody else (_revision {given} is stale; the \
             current revision is {current}). Read the object again and retry."
        ),
    };
    ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        code::STALE_REVISION,
        MODULE_POLICY,
        message,
    )
}

/// `PUT .../cluster-control-planes/{id}`: joins a cluster (create) or replaces its fields.
pub fn put_cluster_control_plane(
    tx: &mut WriteTxn<'_>,
    caller: &Caller,
    id: &str,
    body: Value,
    now: i64,
) -> Result<CcpWrite, ApiError> {
    policy::validate::check_id(id)?;
    let path = ccp_path(id);
    let Value::Object(mut input) = body else {
        return Err(ApiError::field_validation(&[
            "/: a ClusterControlPlane must be a JSON object".to_owned(),
        ]));
    };
    if let Some(given) = input.get("id")
        && given.as_str() != Some(id)
    {
        return Err(ApiError::policy_invalid(format!(
            "The id {given} in the request body does not match the id {id} in the path {path}."
        )));
    }
    if let Some(rt) = input.get("resource_type")
        && rt.as_str() != Some(CCP_RESOURCE_TYPE)
    {
        return Err(ApiError::policy_invalid(format!(
            "Invalid resource_type {rt} for {path}; expected {CCP_RESOURCE_TYPE}."
        )));
    }
    if let Identity::Principal { name, .. } = &caller.identity
        && name != id
    {
        return Err(forbidden(format!(
            "Principal identity {name} cannot register or change the cluster control plane {id}."
        )));
    }
    for field in schemas().read_only_fields(Api::Policy, CCP_RESOURCE_TYPE) {
        input.remove(&field);
    }
    input.retain(|k, _| !k.starts_with(policy::INTERNAL_PREFIX));
    // NSX assigns node_id on create and keeps it.
    input.remove("node_id");
    policy::validate::common_fields(&input)?;

    let existing = tx.get(TABLE, &path).cloned();
    {
        let engine = Engine::new(tx, caller.clone(), now);
        if let Some(existing) = &existing {
            engine.check_writable(existing, &path)?;
        }
    }
    if let Some(existing) = &existing {
        let current = existing.get("_revision").cloned().unwrap_or(json!(0));
        let given = input.get("_revision");
        if given != Some(&current) {
            return Err(stale_revision(&path, given, &current));
        }
    }
    input.remove("_revision");

    let certificate = match input.get("certificate").and_then(Value::as_str) {
        Some(pem) if !pem.trim().is_empty() => pem.to_owned(),
        _ => match existing.as_ref().and_then(|e| e["certificate"].as_str()) {
            Some(pem) => pem.to_owned(),
            None => {
                return Err(ApiError::policy_invalid(format!(
                    "The certificate of cluster control plane {id} is required on create."
                )));
            }
        },
    };
    let invalid_certificate = |e: String| {
        ApiError::policy_invalid(format!(
            "Invalid certificate for cluster control plane {id}: {e}."
        ))
    };
    let (fingerprint, _) = certificate_fingerprint(&certificate).map_err(invalid_certificate)?;
    let conflict = cluster_control_plane_docs(tx.tables()).find(|doc| {
        doc["id"].as_str() != Some(id) && doc[CERTIFICATE_SHA256].as_str() == Some(&fingerprint)
    });
    if let Some(other) = conflict {
        return Err(ApiError::policy_invalid(format!(
            "certificate conflict with clusterControlPlane node id {}",
            other["node_id"].as_str().unwrap_or_default()
        )));
    }

    let common_name = certificate_common_name(&certificate).map_err(invalid_certificate)?;
    if common_name != id {
        return Err(ApiError::policy_invalid(format!(
            "The certificate's CommonName {common_name} should equal the ClusterControlPlane's \
             id {id} and the principal identity's name."
        )));
    }
    if principal_identity_named(tx.tables(), id).is_none() {
        return Err(ApiError::policy_invalid(format!(
            "No principal identity is named {id}: the certificate's CommonName should equal \
             the ClusterControlPlane's id and the principal identity's name."
        )));
    }
    let old = |k: &str| existing.as_ref().and_then(|e| e.get(k)).cloned();
    let user = json!(caller.identity.user_name());
    let mut doc: Map<String, Value> = input;
    doc.insert("resource_type".into(), json!(CCP_RESOURCE_TYPE));
    doc.insert("id".into(), json!(id));
    doc.entry("display_name").or_insert(json!(id));
    doc.insert("certificate".into(), json!(certificate));
    doc.insert(
        "node_id".into(),
        old("node_id").unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string())),
    );
    doc.insert("path".into(), json!(path));
    doc.insert("parent_path".into(), json!(CLUSTER_CONTROL_PLANES));
    doc.insert("relative_path".into(), json!(id));
    let unique_id = old("unique_id").unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string()));
    doc.insert("unique_id".into(), unique_id.clone());
    doc.insert("realization_id".into(), unique_id);
    if let Some(owner) = tx
        .get(TABLE, "/infra")
        .and_then(|infra| infra.get("owner_id"))
    {
        doc.insert("owner_id".into(), owner.clone());
    }
    doc.insert("remote_path".into(), json!(""));
    doc.insert("marked_for_delete".into(), json!(false));
    doc.insert("overridden".into(), json!(false));
    doc.insert(
        "_create_time".into(),
        old("_create_time").unwrap_or(json!(now)),
    );
    doc.insert(
        "_create_user".into(),
        old("_create_user").unwrap_or(user.clone()),
    );
    doc.insert("_last_modified_time".into(), json!(now));
    doc.insert("_last_modified_user".into(), user);
    doc.insert("_system_owned".into(), json!(false));
    doc.insert("_protection".into(), json!("NOT_PROTECTED"));
    doc.insert(
        "_revision".into(),
        json!(
            old("_revision")
                .and_then(|r| r.as_i64())
                .map_or(0, |r| r + 1)
        ),
    );
    let protected_by = old(PROTECTED_BY).or_else(|| match &caller.identity {
        Identity::Principal {
            name,
            protected: true,
        } => Some(json!(name)),
        _ => None,
    });
    if let Some(owner) = protected_by {
        doc.insert(PROTECTED_BY.into(), owner);
    }
    doc.insert(CERTIFICATE_SHA256.into(), json!(fingerprint));
    let doc = Value::Object(doc);
    tx.put(TABLE, &path, doc.clone());
    Ok(CcpWrite {
        doc,
        created: existing.is_none(),
    })
}

/// What a cluster control plane delete removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CcpDeletion {
    /// `node_id` of the deleted cluster control plane (`None`: there was none).
    pub node_id: Option<String>,
    /// Container-cluster span entries removed (`cascade=true`).
    pub spans_removed: Vec<String>,
    /// Policies and rules whose `scope` named the cluster and was changed (`cascade=true`).
    pub scopes_changed: Vec<String>,
    /// Inventory objects removed (the container cluster included).
    pub inventory_removed: usize,
}

/// `DELETE .../cluster-control-planes/{id}[?cascade=true]`.
///
/// Without `cascade`, a cluster still named by a container-cluster span or a `scope` is
/// refused (400, 500030) as any object in use. With it, those references go first: span
/// entries are deleted, the path is taken out of `scope` lists (a list left empty becomes
/// `["ANY"]`). Either way the cluster's container inventory and anything stored under the
/// cluster control plane's path (heartbeat configuration, status) go with it.
pub fn delete_cluster_control_plane(
    tx: &mut WriteTxn<'_>,
    caller: &Caller,
    id: &str,
    cascade: bool,
    now: i64,
) -> Result<CcpDeletion, ApiError> {
    let path = ccp_path(id);
    let Some(existing) = tx.get(TABLE, &path).cloned() else {
        return Ok(CcpDeletion::default());
    };
    let node_id = existing["node_id"].as_str().unwrap_or_default().to_owned();
    let mut deletion = CcpDeletion {
        node_id: Some(node_id.clone()),
        ..CcpDeletion::default()
    };
    let mut engine = Engine::new(tx, caller.clone(), now);
    engine.check_writable(&existing, &path)?;
    if cascade {
        let mut spans = Vec::new();
        let mut scoped = Vec::new();
        for (doc_path, doc) in engine.tables().iter(TABLE) {
            let names_cluster = |field: &str| {
                doc[field]
                    .as_array()
                    .is_some_and(|list| list.iter().any(|p| p.as_str() == Some(&path)))
            };
            match policy::kinds::kind_of_path(doc_path) {
                Some(Kind::ContainerClusterSpan)
                    if doc["container_cluster_path"].as_str() == Some(&path) =>
                {
                    spans.push(doc_path.clone());
                }
                Some(Kind::SecurityPolicy | Kind::Rule) if names_cluster("scope") => {
                    scoped.push(doc_path.clone());
                }
                _ => {}
            }
        }
        for span in &spans {
            engine.delete(span, false)?;
        }
        for doc_path in &scoped {
            if let Some(doc) = engine.get(doc_path) {
                engine.check_writable(&doc.clone(), doc_path)?;
            }
            let path = path.clone();
            engine.touch(doc_path, move |doc| {
                if let Some(Value::Array(list)) = doc.get_mut("scope") {
                    list.retain(|p| p.as_str() != Some(&path));
                    if list.is_empty() {
                        list.push(json!("ANY"));
                    }
                }
            });
        }
        deletion.spans_removed = spans;
        deletion.scopes_changed = scoped;
    }
    engine.delete(&path, false)?;
    deletion.inventory_removed = inventory::remove_cluster(engine.txn(), &node_id);
    engine.finish()?;
    Ok(deletion)
}

/// The cluster control planes as an NSX list (`ClusterControlPlaneListResult`).
pub fn list_cluster_control_planes(
    tables: &Tables,
    caller: &Caller,
    params: &crate::rest::list::ListParams,
) -> Result<Value, ApiError> {
    let items: Vec<Value> = cluster_control_plane_docs(tables)
        .map(|doc| render_ccp(doc, caller))
        .collect();
    crate::rest::list::page(items, params, "path", None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::render::protection;

    fn certificate(cn: &str) -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn common_name_is_read_from_the_subject() {
        assert_eq!(
            certificate_common_name(&certificate("cluster-sales")).unwrap(),
            "cluster-sales"
        );
        assert!(certificate_common_name("not a certificate").is_err());
        let key = rcgen::KeyPair::generate().unwrap();
        let no_cn = rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap()
            .self_signed(&key)
            .unwrap()
            .pem();
        // rcgen puts a default CN in; an explicitly empty DN has none.
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        let empty = params.self_signed(&key).unwrap().pem();
        assert!(certificate_common_name(&no_cn).is_ok());
        assert!(certificate_common_name(&empty).is_err());
    }

    #[test]
    fn protection_key_matches_the_policy_engine() {
        let doc = json!({PROTECTED_BY: "c1"});
        let admin = Caller {
            identity: Identity::User("admin".into()),
            allow_overwrite: false,
        };
        assert_eq!(protection(&doc, &admin), "REQUIRE_OVERRIDE");
        let owner = Caller {
            identity: Identity::Principal {
                name: "c1".into(),
                protected: true,
            },
            allow_overwrite: false,
        };
        assert_eq!(protection(&doc, &owner), "NOT_PROTECTED");
    }

    #[tokio::test]
    async fn registry_publishes_changes_and_bumps_the_generation() {
        let registry = Registry::new(Store::in_memory());
        let mut changes = registry.subscribe();
        let generation = registry.watch_generation();
        registry.publish(vec![RegistrationChange::ClusterRegistered {
            id: "c".into(),
        }]);
        assert_eq!(
            changes.recv().await.unwrap(),
            RegistrationChange::ClusterRegistered { id: "c".into() }
        );
        assert_eq!(*generation.borrow(), 1);
        registry.publish(Vec::new());
        assert_eq!(*generation.borrow(), 1);
    }
}
