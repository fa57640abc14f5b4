//! Who is on the other end: the peer certificate of a mutual-TLS gRPC request and the
//! Common Name (CN) of its subject, which on this channel is the cluster id (the
//! ClusterControlPlane id, equal to the principal identity's name).
//!
//! The certificate reaching these functions was already verified by rustls during the
//! handshake; this module only reads the subject's CN. It does so with a small, strict,
//! bounds-checked DER reader (no new dependency): any malformed input is an error, never a
//! panic.

use rustls_pki_types::CertificateDer;

/// Why the CN could not be read from a certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateNameError {
    /// The bytes are not a well-formed DER X.509 certificate (as far as the subject).
    #[error("malformed certificate: {0}")]
    Malformed(&'static str),
    /// The subject has no CN attribute.
    #[error("the certificate subject has no common name (CN)")]
    NoCommonName,
    /// The subject has more than one CN attribute, which makes the identity ambiguous.
    #[error("the certificate subject has more than one common name (CN)")]
    MultipleCommonNames,
    /// The CN uses a string type we do not decode (TeletexString, UniversalString, ...).
    #[error("the certificate common name uses unsupported ASN.1 string type tag {0:#04x}")]
    UnsupportedStringType(u8),
    /// The CN bytes are not valid in their declared string type.
    #[error("the certificate common name is not valid {0}")]
    InvalidString(&'static str),
}

/// Why the peer of a request could not be identified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerIdentityError {
    /// The connection is not TLS, or the client presented no certificate.
    #[error("the peer presented no client certificate")]
    NoClientCertificate,
    /// The client certificate's subject CN could not be read.
    #[error("cannot read the peer certificate's common name: {0}")]
    Certificate(#[from] CertificateNameError),
}

impl PeerIdentityError {
    /// The gRPC status a server answers with when it cannot identify the peer.
    pub fn to_status(&self) -> tonic::Status {
        tonic::Status::unauthenticated(self.to_string())
    }
}

/// The peer's end-entity (leaf) certificate, when the request came over TLS with a client
/// certificate. Servers can compare it with the principal identity's registered certificate.
pub fn peer_certificate<T>(request: &tonic::Request<T>) -> Option<CertificateDer<'static>> {
    request
        .peer_certs()
        .and_then(|chain| chain.first().cloned())
}

/// The subject CN of the peer's client certificate: on this channel, the cluster id the
/// peer is authenticated as. Compare it with the `cluster_id` of the session's hello.
pub fn peer_common_name<T>(request: &tonic::Request<T>) -> Result<String, PeerIdentityError> {
    let leaf = peer_certificate(request).ok_or(PeerIdentityError::NoClientCertificate)?;
    Ok(certificate_common_name(leaf.as_ref())?)
}

/// The subject CN of a DER-encoded X.509 certificate.
pub fn certificate_common_name(der: &[u8]) -> Result<String, CertificateNameError> {
    let subject = certificate_subject(der)?;
    let mut found: Option<String> = None;
    // Name ::= SEQUENCE OF RelativeDistinguishedName
    let mut rdns = DerReader::new(subject);
    while !rdns.is_empty() {
        // RelativeDistinguishedName ::= SET SIZE (1..MAX) OF AttributeTypeAndValue
        let rdn = rdns.expect(TAG_SET, "subject RDN is not a SET")?;
        let mut attributes = DerReader::new(rdn);
        while !attributes.is_empty() {
            let attribute =
                attributes.expect(TAG_SEQUENCE, "subject attribute is not a SEQUENCE")?;
            let mut fields = DerReader::new(attribute);
            let oid = fields.expect(TAG_OID, "subject attribute type is not an OID")?;
            let (value_tag, value) = fields.any("subject attribute has no value")?;
            if !fields.is_empty() {
                return Err(CertificateNameError::Malformed(
                    "subject attribute has trailing data",
                ));
            }
            if oid == OID_COMMON_NAME {
                if found.is_some() {
                    return Err(CertificateNameError::MultipleCommonNames);
                }
                found = Some(decode_directory_string(value_tag, value)?);
            }
        }
    }
    found.ok_or(CertificateNameError::NoCommonName)
}

const TAG_INTEGER: u8 = 0x02;
const TAG_OID: u8 = 0x06;
const TAG_UTF8_STRING: u8 = 0x0c;
const TAG_PRINTABLE_STRING: u8 = 0x13;
const TAG_IA5_STRING: u8 = 0x16;
const TAG_BMP_STRING: u8 = 0x1e;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_SET: u8 = 0x31;
const TAG_EXPLICIT_0: u8 = 0xa0;
/// 2.5.4.3 (id-at-commonName), DER content bytes.
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// The content bytes of the subject Name of a certificate.
fn certificate_subject(der: &[u8]) -> Result<&[u8], CertificateNameError> {
    let mut outer = DerReader::new(der);
    let certificate = outer.expect(TAG_SEQUENCE, "certificate is not a SEQUENCE")?;
    if !outer.is_empty() {
        return Err(CertificateNameError::Malformed(
            "trailing data after the certificate",
        ));
    }
    let mut certificate = DerReader::new(certificate);
    let tbs = certificate.expect(TAG_SEQUENCE, "tbsCertificate is not a SEQUENCE")?;
    let mut tbs = DerReader::new(tbs);
    if tbs.peek_tag() == Some(TAG_EXPLICIT_0) {
        tbs.expect(TAG_EXPLICIT_0, "bad version")?;
    }
    tbs.expect(TAG_INTEGER, "serialNumber is not an INTEGER")?;
    tbs.expect(TAG_SEQUENCE, "signature algorithm is not a SEQUENCE")?;
    tbs.expect(TAG_SEQUENCE, "issuer is not a SEQUENCE")?;
    tbs.expect(TAG_SEQUENCE, "validity is not a SEQUENCE")?;
    tbs.expect(TAG_SEQUENCE, "subject is not a SEQUENCE")
}

fn decode_directory_string(tag: u8, value: &[u8]) -> Result<String, CertificateNameError> {
    match tag {
        TAG_UTF8_STRING => std::str::from_utf8(value)
            .map(str::to_owned)
            .map_err(|_| CertificateNameError::InvalidString("UTF8String")),
        TAG_PRINTABLE_STRING | TAG_IA5_STRING => {
            if value.is_ascii() {
                // ASCII is valid UTF-8.
                Ok(value.iter().map(|&byte| char::from(byte)).collect())
            } else {
                Err(CertificateNameError::InvalidString(
                    "PrintableString/IA5String",
                ))
            }
        }
        TAG_BMP_STRING => {
            if !value.len().is_multiple_of(2) {
                return Err(CertificateNameError::InvalidString("BMPString"));
            }
            let units = value
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .map_err(|_| CertificateNameError::InvalidString("BMPString"))
        }
        other => Err(CertificateNameError::UnsupportedStringType(other)),
    }
}

/// A cursor over DER TLVs with single-byte tags (all the tags this module needs).
struct DerReader<'a> {
    rest: &'a [u8],
}

impl<'a> DerReader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// Reads the next TLV, whatever its tag.
    fn any(&mut self, missing: &'static str) -> Result<(u8, &'a [u8]), CertificateNameError> {
        let (&tag, after_tag) = self
            .rest
            .split_first()
            .ok_or(CertificateNameError::Malformed(missing))?;
        if tag & 0x1f == 0x1f {
            return Err(CertificateNameError::Malformed("multi-byte DER tag"));
        }
        let (&first, after_length_byte) = after_tag
            .split_first()
            .ok_or(CertificateNameError::Malformed("truncated DER length"))?;
        let (length, after_length) = if first < 0x80 {
            (usize::from(first), after_length_byte)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 {
                return Err(CertificateNameError::Malformed(
                    "indefinite DER length is not allowed",
                ));
            }
            if count > 4 {
                return Err(CertificateNameError::Malformed("DER length too large"));
            }
            if after_length_byte.len() < count {
                return Err(CertificateNameError::Malformed("truncated DER length"));
            }
            let (length_bytes, after) = after_length_byte.split_at(count);
            let length = length_bytes
                .iter()
                .fold(0usize, |length, &byte| (length << 8) | usize::from(byte));
            (length, after)
        };
        if after_length.len() < length {
            return Err(CertificateNameError::Malformed("truncated DER value"));
        }
        let (content, rest) = after_length.split_at(length);
        self.rest = rest;
        Ok((tag, content))
    }

    /// Reads the next TLV and requires its tag.
    fn expect(&mut self, tag: u8, wrong: &'static str) -> Result<&'a [u8], CertificateNameError> {
        match self.any(wrong)? {
            (found, content) if found == tag => Ok(content),
            _ => Err(CertificateNameError::Malformed(wrong)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rcgen::{CertificateParams, DistinguishedName, DnType, DnValue, KeyPair};

    fn certificate_with_subject(subject: DistinguishedName) -> Vec<u8> {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.distinguished_name = subject;
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    fn certificate_with_cn(value: DnValue) -> Vec<u8> {
        let mut subject = DistinguishedName::new();
        subject.push(DnType::OrganizationName, "VMware");
        subject.push(DnType::CommonName, value);
        subject.push(DnType::CountryName, "US");
        certificate_with_subject(subject)
    }

    #[test]
    fn reads_utf8_cn() {
        let der = certificate_with_cn(DnValue::Utf8String("cluster-sales".to_owned()));
        assert_eq!(certificate_common_name(&der).unwrap(), "cluster-sales");
    }

    #[test]
    fn reads_non_ascii_utf8_cn() {
        let der = certificate_with_cn(DnValue::Utf8String("clüster-ß".to_owned()));
        assert_eq!(certificate_common_name(&der).unwrap(), "clüster-ß");
    }

    #[test]
    fn reads_printable_string_cn() {
        let value = rcgen::string::PrintableString::try_from("cluster-1").unwrap();
        let der = certificate_with_cn(DnValue::PrintableString(value));
        assert_eq!(certificate_common_name(&der).unwrap(), "cluster-1");
    }

    #[test]
    fn reads_bmp_string_cn() {
        let value = rcgen::string::BmpString::try_from("clüster-2").unwrap();
        let der = certificate_with_cn(DnValue::BmpString(value));
        assert_eq!(certificate_common_name(&der).unwrap(), "clüster-2");
    }

    #[test]
    fn missing_cn_is_an_error() {
        let mut subject = DistinguishedName::new();
        subject.push(DnType::OrganizationName, "VMware");
        let der = certificate_with_subject(subject);
        assert_eq!(
            certificate_common_name(&der),
            Err(CertificateNameError::NoCommonName)
        );
    }

    #[test]
    fn unsupported_string_type_is_an_error() {
        let value = rcgen::string::UniversalString::try_from("c1").unwrap();
        let der = certificate_with_cn(DnValue::UniversalString(value));
        assert_eq!(
            certificate_common_name(&der),
            Err(CertificateNameError::UnsupportedStringType(0x1c))
        );
    }

    #[test]
    fn two_cns_are_ambiguous() {
        // rcgen keeps one value per attribute type, so build the subject by hand: replace
        // the O attribute (2.5.4.10) of a real certificate with a second CN (2.5.4.3). Both
        // OIDs have the same length, so every DER length stays valid. The subject comes after
        // the (identical, self-signed) issuer, hence the last occurrence.
        let mut subject = DistinguishedName::new();
        subject.push(
            DnType::OrganizationName,
            DnValue::Utf8String("b".to_owned()),
        );
        subject.push(DnType::CommonName, DnValue::Utf8String("a".to_owned()));
        let mut der = certificate_with_subject(subject);
        let organization = [0x06, 0x03, 0x55, 0x04, 0x0a, 0x0c, 0x01, b'b'];
        let position = der
            .windows(organization.len())
            .rposition(|window| window == organization)
            .expect("the O attribute is in the certificate");
        der[position + 4] = 0x03;
        assert_eq!(
            certificate_common_name(&der),
            Err(CertificateNameError::MultipleCommonNames)
        );
    }

    #[test]
    fn garbage_is_malformed() {
        for bytes in [
            &b""[..],
            b"\x30",
            b"\x30\x80",
            b"\x30\x85\x01\x02\x03\x04\x05",
            b"hello",
        ] {
            assert!(matches!(
                certificate_common_name(bytes),
                Err(CertificateNameError::Malformed(_))
            ));
        }
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let der = certificate_with_cn(DnValue::Utf8String("c1".to_owned()));
        for length in 0..der.len() {
            assert!(certificate_common_name(&der[..length]).is_err(), "{length}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = certificate_common_name(&bytes);
        }

        #[test]
        fn corrupted_certificates_never_panic(index in any::<usize>(), byte in any::<u8>()) {
            static CERTIFICATE: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
                certificate_with_cn(DnValue::Utf8String("cluster-x".to_owned()))
            });
            let mut der = CERTIFICATE.clone();
            let index = index % der.len();
            der[index] = byte;
            let _ = certificate_common_name(&der);
        }
    }
}
