//! mTLS smoke test of the generated control-plane service: a tiny NSX-side tonic server and
//! adapter-side clients, with certificates made by rcgen. It shows that a client with a
//! valid certificate gets through and is identified by its certificate CN, and that a
//! client without a certificate, or with one from another CA, is refused; and that an
//! adapter can trust NSX through a CA or by pinning NSX's certificate.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures::Stream;
use nsx_proto::control_plane_channel_client::ControlPlaneChannelClient;
use nsx_proto::control_plane_channel_server::{ControlPlaneChannel, ControlPlaneChannelServer};
use nsx_proto::limits::DEFAULT_MAX_MESSAGE_BYTES;
use nsx_proto::peer::{peer_certificate, peer_common_name};
use nsx_proto::tls::{ClientTls, ServerTrust, server_tls_config, sha256_thumbprint};
use nsx_proto::v1::{
    CcpAdapterMessage, CcpHello, CcpManagerMessage, CcpWelcome, ChannelError, ErrorCode, Goodbye,
    ccp_adapter_message, ccp_manager_message,
};
use nsx_proto::{transport, version};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};
use tonic::{Request, Response, Status, Streaming};

/// A certificate and its key, in PEM.
#[derive(Clone)]
struct Pem {
    certificate: String,
    key: String,
}

struct CertificateAuthority {
    pem: Pem,
    issuer: Issuer<'static, KeyPair>,
}

fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name
}

impl CertificateAuthority {
    fn new(name: &str) -> CertificateAuthority {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = distinguished_name(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let certificate = params.self_signed(&key).unwrap();
        let pem = Pem {
            certificate: certificate.pem(),
            key: key.serialize_pem(),
        };
        CertificateAuthority {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    fn issue(&self, common_name: &str, subject_alt_names: &[&str]) -> Pem {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = subject_alt_names
            .iter()
            .map(|&name| name.to_owned())
            .collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name = distinguished_name(common_name);
        let certificate = params.signed_by(&key, &self.issuer).unwrap();
        Pem {
            certificate: certificate.pem(),
            key: key.serialize_pem(),
        }
    }
}

/// A self-signed certificate, like the principal-identity certificate an operator makes
/// with `openssl req -x509 ... -subj /CN=<cluster>`.
fn self_signed(common_name: &str, subject_alt_names: &[&str]) -> Pem {
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = subject_alt_names
        .iter()
        .map(|&name| name.to_owned())
        .collect();
    let mut params = CertificateParams::new(names).unwrap();
    params.distinguished_name = distinguished_name(common_name);
    let certificate = params.self_signed(&key).unwrap();
    Pem {
        certificate: certificate.pem(),
        key: key.serialize_pem(),
    }
}

fn der_of(pem: &str) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject as _;
    rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

/// The NSX side of the test: identifies the client by its certificate CN, checks it against
/// the hello (and, when registered, against the exact principal-identity certificate), and
/// welcomes it.
#[derive(Default)]
struct TestNsx {
    registered_certificates: HashMap<String, Vec<u8>>,
}

type ManagerStream = Pin<Box<dyn Stream<Item = Result<CcpManagerMessage, Status>> + Send>>;

fn goodbye(error: ChannelError) -> ManagerStream {
    let message = CcpManagerMessage {
        body: Some(ccp_manager_message::Body::Goodbye(Goodbye {
            reason: Some(error.clone()),
            reconnect_after: None,
        })),
    };
    Box::pin(tokio_stream::iter([Ok(message), Err(error.to_status())]))
}

#[tonic::async_trait]
impl ControlPlaneChannel for TestNsx {
    type SessionStream = ManagerStream;

    async fn session(
        &self,
        request: Request<Streaming<CcpAdapterMessage>>,
    ) -> Result<Response<ManagerStream>, Status> {
        let cluster = peer_common_name(&request).map_err(|error| error.to_status())?;
        if let Some(registered) = self.registered_certificates.get(&cluster) {
            let presented = peer_certificate(&request).map(|der| der.to_vec());
            if presented.as_ref() != Some(registered) {
                return Ok(Response::new(goodbye(ChannelError::new(
                    ErrorCode::PermissionDenied,
                    format!("certificate is not the one registered for {cluster}"),
                ))));
            }
        }
        let mut inbound = request.into_inner();
        let hello = match inbound.message().await? {
            Some(CcpAdapterMessage {
                body: Some(ccp_adapter_message::Body::Hello(hello)),
            }) => hello,
            _ => {
                return Ok(Response::new(goodbye(ChannelError::new(
                    ErrorCode::ProtocolViolation,
                    "the first message must be hello",
                ))));
            }
        };
        if hello.cluster_id != cluster {
            return Ok(Response::new(goodbye(
                ChannelError::new(
                    ErrorCode::PermissionDenied,
                    format!(
                        "hello names cluster {:?} but the certificate is for {cluster:?}",
                        hello.cluster_id
                    ),
                )
                .with_target("cluster_id"),
            )));
        }
        let protocol_version = match version::negotiate_hello(
            hello.protocol_version.as_ref(),
            hello.min_protocol_version.as_ref(),
        ) {
            Ok(version) => version,
            Err(error) => return Ok(Response::new(goodbye(error.into()))),
        };
        let welcome = CcpManagerMessage {
            body: Some(ccp_manager_message::Body::Welcome(CcpWelcome {
                protocol_version: Some(protocol_version),
                session_id: format!("session-of-{cluster}"),
                cluster_path: format!(
                    "/infra/sites/default/enforcement-points/default/cluster-control-planes/{cluster}"
                ),
                ..Default::default()
            })),
        };
        Ok(Response::new(Box::pin(tokio_stream::iter([Ok(welcome)]))))
    }
}

async fn start_nsx(server: &Pem, client_trust_pem: &str, nsx: TestNsx) -> SocketAddr {
    let tls = server_tls_config(
        server.certificate.as_bytes(),
        server.key.as_bytes(),
        client_trust_pem.as_bytes(),
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let service =
        ControlPlaneChannelServer::new(nsx).max_decoding_message_size(DEFAULT_MAX_MESSAGE_BYTES);
    let router = transport::server_builder()
        .tls_config(tls)
        .unwrap()
        .add_service(service);
    tokio::spawn(router.serve_with_incoming(TcpListenerStream::new(listener)));
    address
}

/// What the adapter got back on its session.
#[derive(Debug)]
enum Outcome {
    Welcome(CcpWelcome),
    Goodbye(ChannelError),
}

/// Connects, says hello as `cluster_id`, and returns NSX's first answer.
async fn open_session(endpoint: Endpoint, cluster_id: &str) -> anyhow::Result<Outcome> {
    let attempt = async {
        let channel = transport::configure_endpoint(endpoint)
            .connect()
            .await
            .context("connect")?;
        let mut client = ControlPlaneChannelClient::new(channel);
        let hello = CcpAdapterMessage {
            body: Some(ccp_adapter_message::Body::Hello(CcpHello {
                protocol_version: Some(version::VersionRange::SUPPORTED.max_version()),
                min_protocol_version: Some(version::VersionRange::SUPPORTED.min_version()),
                cluster_id: cluster_id.to_owned(),
                adapter_version: "test".to_owned(),
                ..Default::default()
            })),
        };
        let mut inbound = client
            .session(tokio_stream::iter([hello]))
            .await
            .context("session")?
            .into_inner();
        match inbound.message().await.context("first message")? {
            Some(CcpManagerMessage {
                body: Some(ccp_manager_message::Body::Welcome(welcome)),
            }) => Ok(Outcome::Welcome(welcome)),
            Some(CcpManagerMessage {
                body: Some(ccp_manager_message::Body::Goodbye(goodbye)),
            }) => Ok(Outcome::Goodbye(goodbye.reason.unwrap_or_default())),
            other => bail!("unexpected first message {other:?}"),
        }
    };
    // A guard against a hang, not a timing assertion.
    tokio::time::timeout(Duration::from_secs(60), attempt)
        .await
        .context("the session attempt hung")?
}

fn endpoint(address: SocketAddr) -> Endpoint {
    Endpoint::from_shared(format!("https://{address}")).unwrap()
}

fn welcomed(outcome: anyhow::Result<Outcome>) -> CcpWelcome {
    match outcome {
        Ok(Outcome::Welcome(welcome)) => welcome,
        other => panic!("expected a welcome, got {other:?}"),
    }
}

/// The server refused the client's certificate during the handshake.
const SERVER_REFUSED: &str = "received fatal alert";
/// The client refused the server's certificate.
const CLIENT_REFUSED: &str = "invalid peer certificate";

/// Expects the attempt to fail in the TLS handshake, for the reason given.
fn refused(outcome: anyhow::Result<Outcome>, why: &str) {
    match outcome {
        Err(error) => {
            let text = format!("{error:#}");
            assert!(text.contains(why), "refused, but not with {why:?}: {text}");
        }
        Ok(outcome) => panic!("expected a TLS refusal, got {outcome:?}"),
    }
}

/// The usual setup: one CA issues NSX's server certificate and the clusters' certificates.
struct Pki {
    ca: CertificateAuthority,
    server: Pem,
}

impl Pki {
    fn new() -> Pki {
        let ca = CertificateAuthority::new("test NSX CA");
        let server = ca.issue("nsx-manager", &["127.0.0.1", "localhost"]);
        Pki { ca, server }
    }

    fn server_trust(&self) -> ServerTrust {
        ServerTrust::CaCertificates(self.ca.pem.certificate.clone().into_bytes())
    }
}

#[tokio::test]
async fn client_with_certificate_from_the_ca_is_welcomed_as_its_cn() {
    let pki = Pki::new();
    let address = start_nsx(&pki.server, &pki.ca.pem.certificate, TestNsx::default()).await;
    let cluster = pki.ca.issue("cluster-sales", &[]);
    let tls = ClientTls::new(
        cluster.certificate.as_bytes(),
        cluster.key.as_bytes(),
        pki.server_trust(),
    )
    .unwrap();
    let welcome =
        welcomed(open_session(tls.apply(endpoint(address)).unwrap(), "cluster-sales").await);
    assert_eq!(welcome.session_id, "session-of-cluster-sales");
    assert_eq!(
        welcome.protocol_version,
        Some(version::VersionRange::SUPPORTED.max_version())
    );

    // Verifying the server by name instead of IP works the same.
    let by_name = tls.clone().with_domain_name("localhost");
    welcomed(open_session(by_name.apply(endpoint(address)).unwrap(), "cluster-sales").await);
}

#[tokio::test]
async fn hello_for_another_cluster_than_the_certificate_is_denied() {
    let pki = Pki::new();
    let address = start_nsx(&pki.server, &pki.ca.pem.certificate, TestNsx::default()).await;
    let cluster = pki.ca.issue("cluster-sales", &[]);
    let tls = ClientTls::new(
        cluster.certificate.as_bytes(),
        cluster.key.as_bytes(),
        pki.server_trust(),
    )
    .unwrap();
    match open_session(tls.apply(endpoint(address)).unwrap(), "cluster-finance").await {
        Ok(Outcome::Goodbye(reason)) => {
            assert_eq!(reason.code(), ErrorCode::PermissionDenied);
            assert_eq!(reason.target, "cluster_id");
        }
        other => panic!("expected a goodbye, got {other:?}"),
    }
}

#[tokio::test]
async fn client_without_a_certificate_is_refused() {
    let pki = Pki::new();
    let address = start_nsx(&pki.server, &pki.ca.pem.certificate, TestNsx::default()).await;
    let no_identity =
        ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&pki.ca.pem.certificate));
    let endpoint = endpoint(address).tls_config(no_identity).unwrap();
    refused(
        open_session(endpoint, "cluster-sales").await,
        "CertificateRequired",
    );
}

#[tokio::test]
async fn client_with_a_certificate_from_another_ca_is_refused() {
    let pki = Pki::new();
    let address = start_nsx(&pki.server, &pki.ca.pem.certificate, TestNsx::default()).await;
    let rogue_ca = CertificateAuthority::new("test NSX CA");
    let impostor = rogue_ca.issue("cluster-sales", &[]);
    let tls = ClientTls::new(
        impostor.certificate.as_bytes(),
        impostor.key.as_bytes(),
        pki.server_trust(),
    )
    .unwrap();
    refused(
        open_session(tls.apply(endpoint(address)).unwrap(), "cluster-sales").await,
        SERVER_REFUSED,
    );
}

#[tokio::test]
async fn client_does_not_trust_a_server_from_another_ca() {
    let pki = Pki::new();
    let address = start_nsx(&pki.server, &pki.ca.pem.certificate, TestNsx::default()).await;
    let cluster = pki.ca.issue("cluster-sales", &[]);
    let other_ca = CertificateAuthority::new("someone else");
    let tls = ClientTls::new(
        cluster.certificate.as_bytes(),
        cluster.key.as_bytes(),
        ServerTrust::CaCertificates(other_ca.pem.certificate.into_bytes()),
    )
    .unwrap();
    refused(
        open_session(tls.apply(endpoint(address)).unwrap(), "cluster-sales").await,
        "UnknownIssuer",
    );
}

#[tokio::test]
async fn self_signed_principal_identity_is_trusted_as_registered() {
    // Real principal-identity certificates are self-signed. NSX trusts each registered one
    // as its own anchor and checks the presented certificate is exactly the registered one.
    let pki = Pki::new();
    let sales = self_signed("cluster-sales", &[]);
    let finance = self_signed("cluster-finance", &[]);
    let trust = format!("{}{}", sales.certificate, finance.certificate);
    let nsx = TestNsx {
        registered_certificates: HashMap::from([
            ("cluster-sales".to_owned(), der_of(&sales.certificate)),
            ("cluster-finance".to_owned(), der_of(&finance.certificate)),
        ]),
    };
    let address = start_nsx(&pki.server, &trust, nsx).await;
    for (cluster, pem) in [("cluster-sales", &sales), ("cluster-finance", &finance)] {
        let tls = ClientTls::new(
            pem.certificate.as_bytes(),
            pem.key.as_bytes(),
            pki.server_trust(),
        )
        .unwrap();
        let welcome = welcomed(open_session(tls.apply(endpoint(address)).unwrap(), cluster).await);
        assert_eq!(welcome.session_id, format!("session-of-{cluster}"));
    }
    // A self-signed certificate with a registered CN but another key is not registered.
    let forged = self_signed("cluster-sales", &[]);
    let tls = ClientTls::new(
        forged.certificate.as_bytes(),
        forged.key.as_bytes(),
        pki.server_trust(),
    )
    .unwrap();
    refused(
        open_session(tls.apply(endpoint(address)).unwrap(), "cluster-sales").await,
        SERVER_REFUSED,
    );
}

#[tokio::test]
async fn adapter_can_pin_the_nsx_certificate() {
    let client_ca = CertificateAuthority::new("cluster CA");
    let cluster = client_ca.issue("cluster-sales", &[]);
    // A self-signed NSX certificate without the address we connect to: only a pin can
    // trust it.
    let server = self_signed("nsx-manager", &["nsx.example.invalid"]);
    let address = start_nsx(&server, &client_ca.pem.certificate, TestNsx::default()).await;

    let pinned = ClientTls::new(
        cluster.certificate.as_bytes(),
        cluster.key.as_bytes(),
        ServerTrust::PinnedCertificate(server.certificate.clone().into_bytes()),
    )
    .unwrap();
    welcomed(open_session(pinned.apply(endpoint(address)).unwrap(), "cluster-sales").await);

    let thumbprint = sha256_thumbprint(&der_of(&server.certificate));
    let by_thumbprint = ClientTls::new(
        cluster.certificate.as_bytes(),
        cluster.key.as_bytes(),
        ServerTrust::PinnedSha256(thumbprint),
    )
    .unwrap();
    welcomed(
        open_session(
            by_thumbprint.apply(endpoint(address)).unwrap(),
            "cluster-sales",
        )
        .await,
    );

    let other = self_signed("nsx-manager", &["nsx.example.invalid"]);
    let wrong_pin = ClientTls::new(
        cluster.certificate.as_bytes(),
        cluster.key.as_bytes(),
        ServerTrust::PinnedCertificate(other.certificate.into_bytes()),
    )
    .unwrap();
    refused(
        open_session(wrong_pin.apply(endpoint(address)).unwrap(), "cluster-sales").await,
        CLIENT_REFUSED,
    );

    // The same certificate trusted as a CA fails: its name does not match the address.
    let as_ca = ClientTls::new(
        cluster.certificate.as_bytes(),
        cluster.key.as_bytes(),
        ServerTrust::CaCertificates(server.certificate.into_bytes()),
    )
    .unwrap();
    refused(
        open_session(as_ca.apply(endpoint(address)).unwrap(), "cluster-sales").await,
        "certificate not valid for name",
    );
}
