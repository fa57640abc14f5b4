//! The simulator's TLS: a generated CA and server certificate (kept in the data directory so
//! clients keep trusting them across restarts), the SHA-256 thumbprint clients can pin, and a
//! rustls server configuration (ring provider) that asks for, but does not require, a client
//! certificate. A presented client certificate must prove possession of its key during the
//! handshake; whether it belongs to a principal identity is decided later, per request
//! (see `auth`), as NSX answers an unknown certificate with an HTTP 403 rather than a TLS alert.

use std::path::Path;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use sha2::{Digest, Sha256};

use crate::SimError;

/// File names inside the data directory.
pub mod files {
    /// PEM of the CA that signed the server certificate (what clients should trust).
    pub const CA_CERT: &str = "ca.crt";
    /// PEM of the server certificate.
    pub const SERVER_CERT: &str = "server.crt";
    /// PEM of the server certificate's private key.
    pub const SERVER_KEY: &str = "server.key";
    /// Lowercase hex SHA-256 of the server certificate's DER.
    pub const THUMBPRINT: &str = "thumbprint";
}

/// The server's certificate material.
#[derive(Clone)]
pub struct ServerIdentity {
    /// CA certificate, PEM.
    pub ca_cert_pem: String,
    /// Server certificate, PEM.
    pub server_cert_pem: String,
    /// Server private key, PEM.
    server_key_pem: String,
    /// Lowercase hex SHA-256 of the server certificate DER.
    pub thumbprint: String,
}

impl std::fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerIdentity")
            .field("thumbprint", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

/// Lowercase hex SHA-256 of `der`.
pub fn sha256_hex(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// SHA-256 thumbprint of the first certificate in a PEM string.
pub fn pem_thumbprint(pem: &str) -> Result<String, SimError> {
    let der = CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| SimError::Tls(format!("certificate PEM: {e}")))?;
    Ok(sha256_hex(&der))
}

fn tls_err(e: impl std::fmt::Display) -> SimError {
    SimError::Tls(e.to_string())
}

/// Generates a CA and a server certificate for `names` (DNS names or IP addresses).
pub fn generate(names: &[String]) -> Result<ServerIdentity, SimError> {
    let ca_key = KeyPair::generate().map_err(tls_err)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "NSX Manager simulator CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(tls_err)?;
    let issuer = Issuer::from_params(&ca_params, &ca_key);

    let server_key = KeyPair::generate().map_err(tls_err)?;
    let mut server_params = CertificateParams::new(names.to_vec()).map_err(tls_err)?;
    server_params
        .distinguished_name
        .push(DnType::CommonName, "nsx-sim");
    server_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    server_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server_params
        .signed_by(&server_key, &issuer)
        .map_err(tls_err)?;
    Ok(ServerIdentity {
        ca_cert_pem: ca_cert.pem(),
        server_cert_pem: server_cert.pem(),
        server_key_pem: server_key.serialize_pem(),
        thumbprint: sha256_hex(server_cert.der()),
    })
}

/// Loads the certificate material from `dir`, or generates it there on first start.
pub fn load_or_generate(dir: &Path, names: &[String]) -> Result<ServerIdentity, SimError> {
    let read = |name: &str| std::fs::read_to_string(dir.join(name));
    if let (Ok(ca), Ok(cert), Ok(key)) = (
        read(files::CA_CERT),
        read(files::SERVER_CERT),
        read(files::SERVER_KEY),
    ) {
        let thumbprint = pem_thumbprint(&cert)?;
        return Ok(ServerIdentity {
            ca_cert_pem: ca,
            server_cert_pem: cert,
            server_key_pem: key,
            thumbprint,
        });
    }
    let identity = generate(names)?;
    write_file(&dir.join(files::SERVER_KEY), &identity.server_key_pem, true)?;
    write_file(
        &dir.join(files::SERVER_CERT),
        &identity.server_cert_pem,
        false,
    )?;
    write_file(&dir.join(files::CA_CERT), &identity.ca_cert_pem, false)?;
    write_file(
        &dir.join(files::THUMBPRINT),
        &format!("{}\n", identity.thumbprint),
        false,
    )?;
    Ok(identity)
}

fn write_file(path: &Path, contents: &str, private: bool) -> Result<(), SimError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path).map_err(|e| SimError::Io {
        path: path.to_owned(),
        source: e,
    })?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| SimError::Io {
            path: path.to_owned(),
            source: e,
        })
}

/// The rustls server configuration for `identity` (ring provider, HTTP/2 and HTTP/1.1).
pub fn server_config(identity: &ServerIdentity) -> Result<Arc<rustls::ServerConfig>, SimError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = vec![
        CertificateDer::from_pem_slice(identity.server_cert_pem.as_bytes()).map_err(tls_err)?,
        CertificateDer::from_pem_slice(identity.ca_cert_pem.as_bytes()).map_err(tls_err)?,
    ];
    let key = PrivateKeyDer::from_pem_slice(identity.server_key_pem.as_bytes()).map_err(tls_err)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .with_client_cert_verifier(Arc::new(PossessionOnlyClientVerifier { provider }))
        .with_single_cert(chain, key)
        .map_err(tls_err)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A TLS configuration presenting the server certificate, with `verifier` deciding which
/// client certificates to accept and `alpn` as the offered protocols (used by the adapter
/// channel's listener).
pub fn server_config_with_verifier(
    identity: &ServerIdentity,
    verifier: Arc<dyn ClientCertVerifier>,
    alpn: Vec<Vec<u8>>,
) -> Result<Arc<rustls::ServerConfig>, SimError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = vec![
        CertificateDer::from_pem_slice(identity.server_cert_pem.as_bytes()).map_err(tls_err)?,
        CertificateDer::from_pem_slice(identity.ca_cert_pem.as_bytes()).map_err(tls_err)?,
    ];
    let key = PrivateKeyDer::from_pem_slice(identity.server_key_pem.as_bytes()).map_err(tls_err)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(tls_err)?;
    config.alpn_protocols = alpn;
    Ok(Arc::new(config))
}

/// Accepts any client certificate whose holder proves possession of its key. Principal
/// identities use self-signed certificates, so there is no CA to check them against; the
/// certificate is matched against the registered identities per request.
#[derive(Debug)]
struct PossessionOnlyClientVerifier {
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for PossessionOnlyClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn material_is_generated_once_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let first = load_or_generate(dir.path(), &names).unwrap();
        let second = load_or_generate(dir.path(), &names).unwrap();
        assert_eq!(first.thumbprint, second.thumbprint);
        assert_eq!(first.ca_cert_pem, second.ca_cert_pem);
        let on_disk = std::fs::read_to_string(dir.path().join(files::THUMBPRINT)).unwrap();
        assert_eq!(on_disk.trim(), first.thumbprint);
        assert_eq!(first.thumbprint.len(), 64);
        server_config(&first).unwrap();
    }
}
