//! Mutual-TLS configuration shared by both ends of the channel.
//!
//! - NSX (the server) presents its certificate and **requires** a client certificate that
//!   chains to one of the trust anchors it is given: a CA, or the self-signed principal
//!   identity certificates of the registered clusters (a self-signed certificate is its own
//!   anchor). [`server_tls_config`] builds that.
//! - An adapter (the client) presents its principal-identity certificate (CN = cluster id)
//!   and trusts NSX either through a CA (normal WebPKI checks: chain, validity, server name)
//!   or by pinning NSX's exact certificate or its SHA-256 thumbprint, as NSX clients do with
//!   `thumbprint` settings. [`ClientTls`] builds either.
//!
//! Every PEM input is parsed and checked here (certificates decode, the private key matches
//! the certificate), because tonic silently skips certificates it cannot parse and reports
//! key problems only at the first connection.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use sha2::{Digest as _, Sha256};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig};

/// A TLS input that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// The PEM text holds no certificate.
    #[error("{what}: no PEM certificate found")]
    NoCertificate {
        /// Which input.
        what: &'static str,
    },
    /// The PEM text is malformed.
    #[error("{what}: malformed PEM: {source}")]
    Pem {
        /// Which input.
        what: &'static str,
        /// What is wrong with it.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// rustls refused a certificate or key (unparsable, unsupported, or a key that does not
    /// belong to the certificate).
    #[error("{what}: {source}")]
    Rejected {
        /// Which input.
        what: &'static str,
        /// Why.
        #[source]
        source: rustls::Error,
    },
    /// A thumbprint is not 32 bytes of hex.
    #[error("a SHA-256 thumbprint must be 64 hex digits (colons allowed), got {0:?}")]
    BadThumbprint(String),
}

/// The crypto provider in force: the process default if one is installed, else ring (the
/// only provider this workspace compiles).
pub fn crypto_provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// The SHA-256 thumbprint of a DER certificate.
pub fn sha256_thumbprint(certificate_der: &[u8]) -> [u8; 32] {
    Sha256::digest(certificate_der).into()
}

/// Parses a SHA-256 thumbprint written as 64 hex digits, optionally separated by colons
/// (`"AB:CD:..."`, as NSX and openssl print them).
pub fn parse_sha256_thumbprint(text: &str) -> Result<[u8; 32], TlsConfigError> {
    let digits: String = text.trim().chars().filter(|&c| c != ':').collect();
    let bytes = hex::decode(&digits).map_err(|_| TlsConfigError::BadThumbprint(text.to_owned()))?;
    <[u8; 32]>::try_from(bytes).map_err(|_| TlsConfigError::BadThumbprint(text.to_owned()))
}

fn parse_certificates(
    what: &'static str,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsConfigError::Pem { what, source })?;
    if certificates.is_empty() {
        return Err(TlsConfigError::NoCertificate { what });
    }
    Ok(certificates)
}

/// Checks a certificate chain and its private key: both parse, and the key is the leaf's.
fn check_identity(
    what: &'static str,
    certificate_chain_pem: &[u8],
    private_key_pem: &[u8],
) -> Result<(), TlsConfigError> {
    let chain = parse_certificates(what, certificate_chain_pem)?;
    let key = PrivateKeyDer::from_pem_slice(private_key_pem)
        .map_err(|source| TlsConfigError::Pem { what, source })?;
    rustls::sign::CertifiedKey::from_der(chain, key, &crypto_provider())
        .map_err(|source| TlsConfigError::Rejected { what, source })?;
    Ok(())
}

/// Checks that every certificate of a PEM bundle can be a trust anchor.
fn check_trust_anchors(what: &'static str, pem: &[u8]) -> Result<(), TlsConfigError> {
    let mut store = rustls::RootCertStore::empty();
    for certificate in parse_certificates(what, pem)? {
        store
            .add(certificate)
            .map_err(|source| TlsConfigError::Rejected { what, source })?;
    }
    Ok(())
}

/// The NSX side: present `server_certificate_chain_pem` (leaf first) with its key, and
/// require every client to present a certificate chaining to one of the certificates in
/// `client_trust_pem` (CA certificates, or self-signed principal-identity certificates
/// trusted as they are). The handshake fails for a client without a certificate or with
/// one from elsewhere. Which cluster a client is, is then read with
/// [`crate::peer::peer_common_name`].
pub fn server_tls_config(
    server_certificate_chain_pem: &[u8],
    server_private_key_pem: &[u8],
    client_trust_pem: &[u8],
) -> Result<ServerTlsConfig, TlsConfigError> {
    check_identity(
        "server certificate",
        server_certificate_chain_pem,
        server_private_key_pem,
    )?;
    check_trust_anchors("client trust anchors", client_trust_pem)?;
    Ok(ServerTlsConfig::new()
        .identity(Identity::from_pem(
            server_certificate_chain_pem,
            server_private_key_pem,
        ))
        .client_ca_root(Certificate::from_pem(client_trust_pem))
        .client_auth_optional(false))
}

/// How an adapter decides it is talking to the right NSX.
#[derive(Clone, PartialEq, Eq)]
pub enum ServerTrust {
    /// PEM CA certificate(s): the server certificate must chain to one of them, be valid
    /// now, and name the host connected to (or the domain name set on [`ClientTls`]).
    CaCertificates(Vec<u8>),
    /// A PEM certificate: the server must present exactly this certificate. Chain, validity
    /// period and name are not checked (the pin replaces them); the handshake still proves
    /// the server holds the certificate's private key.
    PinnedCertificate(Vec<u8>),
    /// The SHA-256 thumbprint of the one certificate the server must present (see
    /// [`parse_sha256_thumbprint`]); otherwise as [`ServerTrust::PinnedCertificate`].
    PinnedSha256([u8; 32]),
}

impl fmt::Debug for ServerTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerTrust::CaCertificates(pem) => {
                write!(f, "CaCertificates({} PEM bytes)", pem.len())
            }
            ServerTrust::PinnedCertificate(pem) => {
                write!(f, "PinnedCertificate({} PEM bytes)", pem.len())
            }
            ServerTrust::PinnedSha256(thumbprint) => {
                write!(f, "PinnedSha256({})", hex::encode(thumbprint))
            }
        }
    }
}

/// The adapter side: a client identity plus a way to trust NSX, ready to apply to a tonic
/// [`Endpoint`].
#[derive(Clone, Debug)]
pub struct ClientTls {
    config: ClientTlsConfig,
    pinned: Option<Arc<PinnedServerCertVerifier>>,
}

impl ClientTls {
    /// Presents `client_certificate_chain_pem` (leaf first, CN = cluster id) with its key
    /// and trusts the server as `trust` says.
    pub fn new(
        client_certificate_chain_pem: &[u8],
        client_private_key_pem: &[u8],
        trust: ServerTrust,
    ) -> Result<ClientTls, TlsConfigError> {
        check_identity(
            "client certificate",
            client_certificate_chain_pem,
            client_private_key_pem,
        )?;
        let config = ClientTlsConfig::new().identity(Identity::from_pem(
            client_certificate_chain_pem,
            client_private_key_pem,
        ));
        let (config, pinned) = match trust {
            ServerTrust::CaCertificates(pem) => {
                check_trust_anchors("server CA certificates", &pem)?;
                (config.ca_certificate(Certificate::from_pem(pem)), None)
            }
            ServerTrust::PinnedCertificate(pem) => {
                let mut certificates = parse_certificates("pinned server certificate", &pem)?;
                let pin = certificates.swap_remove(0);
                (
                    config,
                    Some(PinnedServerCertVerifier::new(ServerPin::Certificate(pin))),
                )
            }
            ServerTrust::PinnedSha256(thumbprint) => (
                config,
                Some(PinnedServerCertVerifier::new(ServerPin::Sha256(vec![
                    thumbprint,
                ]))),
            ),
        };
        Ok(ClientTls { config, pinned })
    }

    /// Verifies the server (and sends SNI) for this name instead of the endpoint's host.
    #[must_use]
    pub fn with_domain_name(mut self, domain_name: impl Into<String>) -> ClientTls {
        self.config = self.config.domain_name(domain_name);
        self
    }

    /// The tonic configuration. For a pinned server it has no trust anchors: use
    /// [`ClientTls::apply`], which installs the pin.
    pub fn tls_config(&self) -> ClientTlsConfig {
        self.config.clone()
    }

    /// Configures `endpoint` (an `https://` URI) with this TLS setup.
    pub fn apply(&self, endpoint: Endpoint) -> Result<Endpoint, tonic::transport::Error> {
        match &self.pinned {
            Some(verifier) => {
                endpoint.tls_config_with_verifier(self.config.clone(), verifier.clone())
            }
            None => endpoint.tls_config(self.config.clone()),
        }
    }
}

/// The adapter side with a CA-verified server, as a plain tonic configuration.
pub fn client_tls_config(
    client_certificate_chain_pem: &[u8],
    client_private_key_pem: &[u8],
    server_ca_pem: &[u8],
) -> Result<ClientTlsConfig, TlsConfigError> {
    Ok(ClientTls::new(
        client_certificate_chain_pem,
        client_private_key_pem,
        ServerTrust::CaCertificates(server_ca_pem.to_vec()),
    )?
    .tls_config())
}

/// Which server certificates a [`PinnedServerCertVerifier`] accepts.
#[derive(Debug, Clone)]
pub enum ServerPin {
    /// Exactly this certificate.
    Certificate(CertificateDer<'static>),
    /// A certificate whose SHA-256 thumbprint is one of these (one per NSX manager).
    Sha256(Vec<[u8; 32]>),
    /// Any certificate: no verification (insecure; only when explicitly asked for).
    Any,
}

/// Accepts the server certificates its [`ServerPin`] names instead of WebPKI checks (chain,
/// validity and name are replaced by the pin); handshake signatures are always checked, so
/// the server still proves it holds the certificate's key. Used by the channel's
/// [`ClientTls`] and by the adapters' REST client.
#[derive(Debug)]
pub struct PinnedServerCertVerifier {
    pin: ServerPin,
    provider: Arc<CryptoProvider>,
}

impl PinnedServerCertVerifier {
    /// A verifier for `pin` with the process's crypto provider.
    pub fn new(pin: ServerPin) -> Arc<PinnedServerCertVerifier> {
        Arc::new(PinnedServerCertVerifier {
            pin,
            provider: crypto_provider(),
        })
    }
}

impl ServerCertVerifier for PinnedServerCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let matches = match &self.pin {
            ServerPin::Certificate(pinned) => pinned.as_ref() == end_entity.as_ref(),
            ServerPin::Sha256(thumbprints) => {
                thumbprints.contains(&sha256_thumbprint(end_entity.as_ref()))
            }
            ServerPin::Any => true,
        };
        if matches {
            Ok(ServerCertVerified::assertion())
        } else {
            tracing::warn!(
                presented = %hex::encode(sha256_thumbprint(end_entity.as_ref())),
                "server certificate does not match the pinned one"
            );
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            certificate,
            signature,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            certificate,
            signature,
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
    use rcgen::{CertificateParams, KeyPair};

    fn self_signed(name: &str) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let certificate = CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (certificate.pem(), key.serialize_pem())
    }

    #[test]
    fn good_inputs_are_accepted() {
        let (server_cert, server_key) = self_signed("localhost");
        let (client_cert, client_key) = self_signed("cluster-1");
        server_tls_config(
            server_cert.as_bytes(),
            server_key.as_bytes(),
            client_cert.as_bytes(),
        )
        .unwrap();
        for trust in [
            ServerTrust::CaCertificates(server_cert.clone().into_bytes()),
            ServerTrust::PinnedCertificate(server_cert.clone().into_bytes()),
            ServerTrust::PinnedSha256([7; 32]),
        ] {
            ClientTls::new(client_cert.as_bytes(), client_key.as_bytes(), trust).unwrap();
        }
    }

    #[test]
    fn key_of_another_certificate_is_rejected() {
        let (server_cert, _) = self_signed("localhost");
        let (_, other_key) = self_signed("elsewhere");
        let error = server_tls_config(
            server_cert.as_bytes(),
            other_key.as_bytes(),
            server_cert.as_bytes(),
        )
        .unwrap_err();
        assert!(matches!(error, TlsConfigError::Rejected { .. }), "{error}");
    }

    #[test]
    fn missing_or_garbled_pem_is_rejected() {
        let (cert, key) = self_signed("localhost");
        let error = server_tls_config(b"", key.as_bytes(), cert.as_bytes()).unwrap_err();
        assert!(
            matches!(error, TlsConfigError::NoCertificate { .. }),
            "{error}"
        );
        let error = server_tls_config(cert.as_bytes(), key.as_bytes(), b"no pem here").unwrap_err();
        assert!(
            matches!(error, TlsConfigError::NoCertificate { .. }),
            "{error}"
        );
        let truncated = &cert[..cert.len() / 2];
        let error =
            server_tls_config(truncated.as_bytes(), key.as_bytes(), cert.as_bytes()).unwrap_err();
        assert!(matches!(error, TlsConfigError::Pem { .. }), "{error}");
        let error =
            ClientTls::new(cert.as_bytes(), b"", ServerTrust::PinnedSha256([0; 32])).unwrap_err();
        assert!(matches!(error, TlsConfigError::Pem { .. }), "{error}");
    }

    #[test]
    fn undecodable_certificate_in_pem_is_rejected() {
        let (cert, key) = self_signed("localhost");
        let junk = "-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n";
        let error =
            server_tls_config(cert.as_bytes(), key.as_bytes(), junk.as_bytes()).unwrap_err();
        assert!(matches!(error, TlsConfigError::Rejected { .. }), "{error}");
    }

    #[test]
    fn thumbprints_parse_with_or_without_colons() {
        let (cert, _) = self_signed("localhost");
        let der = CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
        let thumbprint = sha256_thumbprint(der.as_ref());
        let plain = hex::encode(thumbprint);
        let colons = thumbprint
            .iter()
            .map(|byte| format!("{byte:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(parse_sha256_thumbprint(&plain).unwrap(), thumbprint);
        assert_eq!(parse_sha256_thumbprint(&colons).unwrap(), thumbprint);
        assert!(parse_sha256_thumbprint("abcd").is_err());
        assert!(parse_sha256_thumbprint(&"zz".repeat(32)).is_err());
    }
}
