//! Who is calling: the admin user, a principal identity (authenticated by its client
//! certificate), or the simulator itself; and the principal-identity registry in the store.
//!
//! The registry keeps NSX `PrincipalIdentity` documents (Manager model) in
//! [`PRINCIPAL_IDENTITIES`] and, in [`PI_CERTIFICATES`], the SHA-256 of each registered
//! certificate pointing at its identity. The REST registration endpoints
//! (`/api/v1/trust-management/principal-identities...`) belong to a later module; it should use
//! [`register_principal_identity`] so that authentication sees what it registers.

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::store::{Tables, WriteTxn};
use crate::tls;

/// Table of `PrincipalIdentity` documents, keyed by id.
pub const PRINCIPAL_IDENTITIES: &str = "principal_identities";
/// Table mapping a certificate's SHA-256 (lowercase hex) to `{"principal_identity_id", "certificate_pem"}`.
pub const PI_CERTIFICATES: &str = "principal_identity_certificates";

/// The authenticated party of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A local user authenticated by password (basic auth or session).
    User(String),
    /// A principal identity authenticated by its client certificate.
    Principal {
        /// The PI's `name` (NSX shows it as `_create_user`).
        name: String,
        /// Whether objects it creates are protected (`is_protected`).
        protected: bool,
    },
    /// The simulator itself (default objects).
    System,
}

impl Identity {
    /// The user name NSX records in `_create_user` / `_last_modified_user`.
    pub fn user_name(&self) -> &str {
        match self {
            Identity::User(name) => name,
            Identity::Principal { name, .. } => name,
            Identity::System => "system",
        }
    }

    /// The PI name, if this is a principal identity.
    pub fn principal_name(&self) -> Option<&str> {
        match self {
            Identity::Principal { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// A request's caller: who, and whether it sent `X-Allow-Overwrite: true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Who is calling.
    pub identity: Identity,
    /// `X-Allow-Overwrite: true` was sent.
    pub allow_overwrite: bool,
}

impl Caller {
    /// The simulator itself.
    pub fn system() -> Self {
        Self {
            identity: Identity::System,
            allow_overwrite: true,
        }
    }
}

/// A principal identity to register.
#[derive(Debug, Clone)]
pub struct PrincipalIdentitySpec {
    /// `name` (for Antrea: the cluster name, which must equal the certificate CN).
    pub name: String,
    /// `node_id`.
    pub node_id: String,
    /// PEM of its certificate.
    pub certificate_pem: String,
    /// `is_protected`.
    pub is_protected: bool,
    /// `role`, e.g. `enterprise_admin`.
    pub role: String,
}

/// Registers a principal identity and its certificate; returns the `PrincipalIdentity` document.
pub fn register_principal_identity(
    tx: &mut WriteTxn<'_>,
    spec: &PrincipalIdentitySpec,
    by: &Identity,
    now_ms: i64,
) -> Result<Value, ApiError> {
    let fingerprint = tls::pem_thumbprint(&spec.certificate_pem)
        .map_err(|e| ApiError::bad_parameter(format!("Invalid certificate: {e}")))?;
    if tx.get(PI_CERTIFICATES, &fingerprint).is_some() {
        return Err(ApiError::bad_parameter(
            "The certificate is already used by another principal identity.",
        ));
    }
    let taken = tx
        .tables()
        .iter(PRINCIPAL_IDENTITIES)
        .any(|(_, pi)| pi["name"] == json!(spec.name) && pi["node_id"] == json!(spec.node_id));
    if taken {
        return Err(ApiError::bad_parameter(format!(
            "Principal identity with name {} and node_id {} already exists.",
            spec.name, spec.node_id
        )));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let certificate_id = uuid::Uuid::new_v4().to_string();
    let doc = json!({
        "resource_type": "PrincipalIdentity",
        "id": id,
        "display_name": spec.name,
        "name": spec.name,
        "node_id": spec.node_id,
        "role": spec.role,
        "roles_for_paths": [{"path": "/", "roles": [{"role": spec.role}]}],
        "is_protected": spec.is_protected,
        "certificate_id": certificate_id,
        "_create_time": now_ms,
        "_create_user": by.user_name(),
        "_last_modified_time": now_ms,
        "_last_modified_user": by.user_name(),
        "_system_owned": false,
        "_protection": "NOT_PROTECTED",
        "_revision": 0,
    });
    tx.put(PRINCIPAL_IDENTITIES, &id, doc.clone());
    tx.put(
        PI_CERTIFICATES,
        &fingerprint,
        json!({"principal_identity_id": id, "certificate_id": certificate_id, "certificate_pem": spec.certificate_pem}),
    );
    Ok(doc)
}

/// The principal identity whose registered certificate has SHA-256 `fingerprint`.
pub fn principal_for_certificate(tables: &Tables, fingerprint: &str) -> Option<Identity> {
    let link = tables.get(PI_CERTIFICATES, fingerprint)?;
    let pi = tables.get(
        PRINCIPAL_IDENTITIES,
        link["principal_identity_id"].as_str()?,
    )?;
    Some(Identity::Principal {
        name: pi["name"].as_str()?.to_owned(),
        protected: pi["is_protected"].as_bool().unwrap_or(false),
    })
}
