//! The cluster's principal-identity certificate (the `nsx-cert` Secret, `tls.crt` and
//! `tls.key`): read, checked (a parseable X.509 certificate with exactly one CommonName, a
//! private key that matches it) and, for the register command, generated.

use std::fmt;
use std::path::Path;

use x509_parser::pem::Pem;

use super::ConfigError;

/// Validity of a generated certificate: ten years, as the documented `openssl req -days 3650`.
const GENERATED_VALIDITY_DAYS: i64 = 3650;

/// A checked certificate and its key. `Debug` leaves the key out.
#[derive(Clone, PartialEq, Eq)]
pub struct NsxCertificate {
    /// PEM of the certificate (leaf first).
    pub certificate_pem: String,
    /// PEM of the private key.
    pub private_key_pem: String,
    /// The certificate's CommonName (= the cluster name).
    pub common_name: String,
    /// DER of the leaf certificate (to compare with what NSX holds).
    pub certificate_der: Vec<u8>,
}

impl fmt::Debug for NsxCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NsxCertificate")
            .field("common_name", &self.common_name)
            .field("private_key_pem", &"(redacted)")
            .finish_non_exhaustive()
    }
}

/// The DER of the first certificate of a PEM text.
pub fn first_certificate_der(pem: &str) -> Result<Vec<u8>, String> {
    for block in Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|error| format!("malformed PEM: {error}"))?;
        if block.label == "CERTIFICATE" {
            return Ok(block.contents);
        }
    }
    Err("no PEM certificate found".to_owned())
}

/// The subject's CommonNames of a DER certificate.
fn common_names(der: &[u8]) -> Result<(Vec<String>, Vec<u8>), String> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der)
        .map_err(|error| format!("not an X.509 certificate: {error}"))?;
    let names = certificate
        .subject()
        .iter_common_name()
        .map(|name| {
            name.as_str()
                .map(str::to_owned)
                .map_err(|error| format!("unreadable CommonName: {error}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let public_key = certificate.public_key().subject_public_key.data.to_vec();
    Ok((names, public_key))
}

impl NsxCertificate {
    /// Checks a certificate and key given as PEM; `source` names where they came from.
    pub fn from_pem(
        source: &str,
        certificate_pem: &str,
        private_key_pem: &str,
    ) -> Result<NsxCertificate, ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            source_name: source.to_owned(),
            key: key.to_owned(),
            message,
        };
        let certificate_der = first_certificate_der(certificate_pem)
            .map_err(|message| invalid("tls.crt", message))?;
        let (names, public_key) =
            common_names(&certificate_der).map_err(|message| invalid("tls.crt", message))?;
        let common_name = match names.as_slice() {
            [name] if !name.is_empty() => name.clone(),
            [] => {
                return Err(invalid(
                    "tls.crt",
                    "the certificate subject has no CommonName (it must be the cluster name)"
                        .to_owned(),
                ));
            }
            _ => {
                return Err(invalid(
                    "tls.crt",
                    "the certificate subject must have exactly one CommonName".to_owned(),
                ));
            }
        };
        let key = rcgen::KeyPair::from_pem(private_key_pem)
            .map_err(|error| invalid("tls.key", format!("not a usable private key: {error}")))?;
        if key.public_key_raw() != public_key.as_slice() {
            return Err(invalid(
                "tls.key",
                "the private key does not belong to the certificate in tls.crt".to_owned(),
            ));
        }
        Ok(NsxCertificate {
            certificate_pem: certificate_pem.to_owned(),
            private_key_pem: private_key_pem.to_owned(),
            common_name,
            certificate_der,
        })
    }

    /// Reads and checks the certificate and key files.
    pub fn load_files(certificate: &Path, key: &Path) -> Result<NsxCertificate, ConfigError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
                source_name: path.display().to_string(),
                message: error.to_string(),
            })
        };
        let certificate_pem = read(certificate)?;
        let key_pem = read(key)?;
        let source = format!("{} and {}", certificate.display(), key.display());
        NsxCertificate::from_pem(&source, &certificate_pem, &key_pem)
    }

    /// A new self-signed certificate (ECDSA P-256) with CommonName `cluster_name`.
    pub fn generate(cluster_name: &str) -> Result<NsxCertificate, ConfigError> {
        let failed = |error: rcgen::Error| ConfigError::Invalid {
            source_name: "generated certificate".to_owned(),
            key: "clusterName".to_owned(),
            message: error.to_string(),
        };
        let key = rcgen::KeyPair::generate().map_err(failed)?;
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cluster_name);
        let now = std::time::SystemTime::now();
        params.not_before = now.into();
        params.not_after = (now
            + std::time::Duration::from_secs(
                u64::try_from(GENERATED_VALIDITY_DAYS).unwrap_or(3650) * 86_400,
            ))
        .into();
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let certificate = params.self_signed(&key).map_err(failed)?;
        NsxCertificate::from_pem(
            "generated certificate",
            &certificate.pem(),
            &key.serialize_pem(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_certificate_names_the_cluster() {
        let certificate = NsxCertificate::generate("cluster-sales").unwrap();
        assert_eq!(certificate.common_name, "cluster-sales");
        let again = NsxCertificate::from_pem(
            "x",
            &certificate.certificate_pem,
            &certificate.private_key_pem,
        )
        .unwrap();
        assert_eq!(again, certificate);
        assert!(!format!("{certificate:?}").contains("PRIVATE KEY"));
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let one = NsxCertificate::generate("a").unwrap();
        let two = NsxCertificate::generate("a").unwrap();
        let error = NsxCertificate::from_pem(
            "secret nsx-cert",
            &one.certificate_pem,
            &two.private_key_pem,
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("tls.key") && error.contains("does not belong"),
            "{error}"
        );
    }

    #[test]
    fn bad_pem_is_refused_naming_the_key() {
        let good = NsxCertificate::generate("a").unwrap();
        let error = NsxCertificate::from_pem("s", "not pem", &good.private_key_pem)
            .unwrap_err()
            .to_string();
        assert!(error.contains("tls.crt"), "{error}");
        let error = NsxCertificate::from_pem("s", &good.certificate_pem, "garbage")
            .unwrap_err()
            .to_string();
        assert!(error.contains("tls.key"), "{error}");
    }

    #[test]
    fn a_certificate_without_common_name_is_refused() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "acme");
        let certificate = params.self_signed(&key).unwrap();
        let error = NsxCertificate::from_pem("s", &certificate.pem(), &key.serialize_pem())
            .unwrap_err()
            .to_string();
        assert!(error.contains("no CommonName"), "{error}");
    }

    #[test]
    fn missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let error =
            NsxCertificate::load_files(&dir.path().join("tls.crt"), &dir.path().join("tls.key"))
                .unwrap_err()
                .to_string();
        assert!(error.contains("tls.crt"), "{error}");
    }
}
