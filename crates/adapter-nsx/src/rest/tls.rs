//! TLS for the NSX REST client: how the adapter trusts NSX (a CA bundle, pinned SHA-256
//! thumbprints as NSX clients configure them, or no verification when explicitly asked) and
//! how it authenticates (a principal-identity client certificate, or basic credentials).
//!
//! The rustls configuration is built here and handed to reqwest as is: the pinning verifier
//! is the channel's (`nsx_proto::tls::PinnedServerCertVerifier`) and the crypto provider is
//! the process's (ring in this workspace).

use std::fmt;

use nsx_proto::tls::{PinnedServerCertVerifier, ServerPin};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::RestError;

/// How the client decides it talks to a genuine NSX manager.
#[derive(Clone, PartialEq, Eq)]
pub enum RestTrust {
    /// PEM CA certificate(s): the usual WebPKI checks (chain, validity, host name).
    CaCertificates(Vec<u8>),
    /// SHA-256 thumbprints of the managers' certificates (one per manager, any order): the
    /// certificate presented must be one of them. Chain, dates and name are not checked, as
    /// with NSX's `thumbprint` settings. See [`nsx_proto::tls::parse_sha256_thumbprint`].
    PinnedSha256(Vec<[u8; 32]>),
    /// No verification at all (the real adapter's `NSXInsecure: true`). Only when asked.
    InsecureSkipVerify,
}

impl fmt::Debug for RestTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestTrust::CaCertificates(pem) => write!(f, "CaCertificates({} PEM bytes)", pem.len()),
            RestTrust::PinnedSha256(pins) => f
                .debug_tuple("PinnedSha256")
                .field(&pins.iter().map(hex::encode).collect::<Vec<_>>())
                .finish(),
            RestTrust::InsecureSkipVerify => f.write_str("InsecureSkipVerify"),
        }
    }
}

/// How the client authenticates to NSX.
#[derive(Clone, PartialEq, Eq)]
pub enum RestAuth {
    /// A principal-identity certificate presented in the TLS handshake (the adapters).
    ClientCertificate {
        /// PEM certificate chain, leaf first.
        certificate_chain_pem: Vec<u8>,
        /// PEM private key of the leaf.
        private_key_pem: Vec<u8>,
    },
    /// HTTP basic credentials (the register job, with the NSX admin account).
    Basic {
        /// User name.
        username: String,
        /// Password; never logged.
        password: String,
    },
}

impl fmt::Debug for RestAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestAuth::ClientCertificate {
                certificate_chain_pem,
                ..
            } => write!(
                f,
                "ClientCertificate({} PEM bytes, key redacted)",
                certificate_chain_pem.len()
            ),
            RestAuth::Basic { username, .. } => {
                write!(f, "Basic({username:?}, password redacted)")
            }
        }
    }
}

fn certificates(what: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, RestError> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| RestError::Config(format!("{what}: malformed PEM: {error}")))?;
    if certificates.is_empty() {
        return Err(RestError::Config(format!(
            "{what}: no PEM certificate found"
        )));
    }
    Ok(certificates)
}

/// The rustls client configuration for `trust` and `auth`, with ALPN for HTTP/2 and 1.1.
pub(crate) fn client_config(
    trust: &RestTrust,
    auth: &RestAuth,
) -> Result<rustls::ClientConfig, RestError> {
    let provider = nsx_proto::tls::crypto_provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| RestError::Config(format!("TLS versions: {error}")))?;
    let builder = match trust {
        RestTrust::CaCertificates(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for certificate in certificates("NSX CA certificates", pem)? {
                roots
                    .add(certificate)
                    .map_err(|error| RestError::Config(format!("NSX CA certificates: {error}")))?;
            }
            builder.with_root_certificates(roots)
        }
        RestTrust::PinnedSha256(pins) => {
            if pins.is_empty() {
                return Err(RestError::Config(
                    "thumbprint pinning needs at least one thumbprint".to_owned(),
                ));
            }
            builder
                .dangerous()
                .with_custom_certificate_verifier(PinnedServerCertVerifier::new(ServerPin::Sha256(
                    pins.clone(),
                )))
        }
        RestTrust::InsecureSkipVerify => {
            tracing::warn!("NSX server certificates are not verified (insecure mode)");
            builder
                .dangerous()
                .with_custom_certificate_verifier(PinnedServerCertVerifier::new(ServerPin::Any))
        }
    };
    let mut config = match auth {
        RestAuth::ClientCertificate {
            certificate_chain_pem,
            private_key_pem,
        } => {
            let chain = certificates("client certificate", certificate_chain_pem)?;
            let key = PrivateKeyDer::from_pem_slice(private_key_pem).map_err(|error| {
                RestError::Config(format!("client private key: malformed PEM: {error}"))
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|error| RestError::Config(format!("client certificate: {error}")))?
        }
        RestAuth::Basic { .. } => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let auth = RestAuth::Basic {
            username: "admin".into(),
            password: "s3cret!".into(),
        };
        assert!(!format!("{auth:?}").contains("s3cret"));
        let auth = RestAuth::ClientCertificate {
            certificate_chain_pem: b"CERT".to_vec(),
            private_key_pem: b"-----BEGIN PRIVATE KEY----- secret".to_vec(),
        };
        assert!(!format!("{auth:?}").contains("secret"));
    }

    #[test]
    fn unusable_inputs_are_configuration_errors() {
        let basic = RestAuth::Basic {
            username: "admin".into(),
            password: "x".into(),
        };
        assert!(matches!(
            client_config(&RestTrust::CaCertificates(b"no pem".to_vec()), &basic),
            Err(RestError::Config(_))
        ));
        assert!(matches!(
            client_config(&RestTrust::PinnedSha256(vec![]), &basic),
            Err(RestError::Config(_))
        ));
        let bad_cert = RestAuth::ClientCertificate {
            certificate_chain_pem: Vec::new(),
            private_key_pem: Vec::new(),
        };
        assert!(matches!(
            client_config(&RestTrust::InsecureSkipVerify, &bad_cert),
            Err(RestError::Config(_))
        ));
        let config = client_config(&RestTrust::PinnedSha256(vec![[1; 32]]), &basic).unwrap();
        assert_eq!(config.alpn_protocols[0], b"h2");
    }
}
