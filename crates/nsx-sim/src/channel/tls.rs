//! Mutual TLS on the channel listener.
//!
//! Real principal-identity certificates are self-signed, one per cluster, so the set of
//! trusted client certificates is the set of registrations, and it changes at run time.
//! [`RegisteredClusterVerifier`] is a rustls `ClientCertVerifier` that asks the registry at
//! every handshake: the client must present a certificate, its subject must have exactly one
//! CN, a `ClusterControlPlane` with that id must exist, and the presented certificate must be
//! exactly (DER) the one registered for it and for its principal identity; it must also be
//! within its validity period. The handshake signature is verified with the ring provider, so
//! the client proves it holds the key. Anything else fails the handshake.
//!
//! [`serve`] accepts TCP connections, runs each handshake in its own task (a slow client
//! cannot hold up others) and hands the TLS streams to tonic (`serve_with_incoming`), which
//! exposes the peer certificate to the services.

use std::sync::Arc;

use nsx_proto::control_plane_channel_server::ControlPlaneChannelServer;
use nsx_proto::management_plane_channel_server::ManagementPlaneChannelServer;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;

use super::AdapterChannel;
use super::control::ControlPlaneService;
use super::management::ManagementPlaneService;
use crate::registration::Registry;

/// Accepts only the registered principal-identity certificates of clusters.
pub struct RegisteredClusterVerifier {
    registry: Registry,
    provider: Arc<CryptoProvider>,
}

impl std::fmt::Debug for RegisteredClusterVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredClusterVerifier")
            .finish_non_exhaustive()
    }
}

impl RegisteredClusterVerifier {
    /// A verifier over `registry`.
    pub fn new(registry: Registry) -> Self {
        RegisteredClusterVerifier {
            registry,
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        }
    }
}

fn within_validity(der: &[u8], now: UnixTime) -> Result<(), rustls::Error> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der)
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let validity = certificate.validity();
    if now < validity.not_before.timestamp() {
        return Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidYet,
        ));
    }
    if now > validity.not_after.timestamp() {
        return Err(rustls::Error::InvalidCertificate(CertificateError::Expired));
    }
    Ok(())
}

impl ClientCertVerifier for RegisteredClusterVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        within_validity(end_entity.as_ref(), now)?;
        match self.registry.cluster_for_certificate(end_entity.as_ref()) {
            Some(cluster) => {
                tracing::debug!(cluster = %cluster.id, "channel client certificate accepted");
                Ok(ClientCertVerified::assertion())
            }
            None => Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            )),
        }
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

/// Accepts connections on `listener`, runs the TLS handshakes and serves both services until
/// the channel's shutdown token is cancelled.
pub(crate) async fn serve(
    channel: AdapterChannel,
    listener: TcpListener,
    server_config: Arc<rustls::ServerConfig>,
) {
    let acceptor = TlsAcceptor::from(server_config);
    let shutdown = channel.shutdown_token().clone();
    let (streams, incoming) = tokio::sync::mpsc::channel(16);
    let accept_shutdown = shutdown.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = tokio::select! {
                () = accept_shutdown.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "channel accept failed");
                        tokio::task::yield_now().await;
                        continue;
                    }
                },
            };
            let acceptor = acceptor.clone();
            let streams = streams.clone();
            tokio::spawn(async move {
                match acceptor.accept(tcp).await {
                    Ok(stream) => {
                        let _ = streams.send(Ok::<_, std::io::Error>(stream)).await;
                    }
                    Err(error) => {
                        tracing::info!(%peer, %error, "channel TLS handshake refused");
                    }
                }
            });
        }
    });
    let limit = nsx_proto::limits::DEFAULT_MAX_MESSAGE_BYTES;
    let control = ControlPlaneChannelServer::new(ControlPlaneService::new(channel.clone()))
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    let management =
        ManagementPlaneChannelServer::new(ManagementPlaneService::new(channel.clone()))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit);
    let signal_channel = channel.clone();
    let signal = async move {
        shutdown.cancelled().await;
        signal_channel.shutdown_sessions();
    };
    let result = nsx_proto::transport::server_builder()
        .add_service(control)
        .add_service(management)
        .serve_with_incoming_shutdown(ReceiverStream::new(incoming), signal)
        .await;
    if let Err(error) = result {
        tracing::error!(%error, "channel server failed");
    }
}
