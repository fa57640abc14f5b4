//! Support bundles from antrea-controller and the agents (`system.antrea.io/v1beta1`
//! `supportbundles`): request a collection, wait until `Collected`, download the tar.gz, and
//! redact it (every text file of the archive through `adapter_core::mp::bundle`).
//!
//! antrea-controller's API is aggregated behind the API server. Each agent serves the same
//! API itself on its Node; [`AgentAccess`] says how to reach it.

use std::io::{Read as _, Write as _};
use std::time::Duration;

use adapter_core::mp::bundle::redact_file;
use antrea_types::system::{
    AGENT_BUNDLE_NAME, CONTROLLER_BUNDLE_NAME, SupportBundle, SupportBundleStatus,
};
use futures::AsyncReadExt as _;
use kube::Client;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::AntreaError;

/// The API path of antrea-controller's support bundles.
pub const CONTROLLER_PREFIX: &str = "/apis/system.antrea.io/v1beta1";

/// How the agents' own API is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentAccess {
    /// Through the API server at `/apis/system.antrea.io/v1beta1/agents/<node>/...` (the
    /// path kube-emu serves, or that of a proxy in front of the agents).
    ApiServerPath,
    /// Directly, as antrea-controller and `antctl` do: `https://<Node InternalIP>:<apiPort>`
    /// of the agent's AntreaAgentInfo (10350 when absent), trusting its `apiCABundle` with
    /// server name `localhost`, authenticated by the bearer token in `token_file` (the
    /// adapter's ServiceAccount token, re-read as it rotates).
    Direct { token_file: Option<String> },
}

/// The Pod's ServiceAccount token, the default credential for agents.
pub const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// The agent API port when AntreaAgentInfo gives none.
const AGENT_API_PORT: i32 = 10350;

/// The DER certificates of a PEM bundle.
fn pem_certificates(pem: &[u8]) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let text = String::from_utf8_lossy(pem);
    let mut certificates = Vec::new();
    let mut body: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line == "-----BEGIN CERTIFICATE-----" {
            body = Some(String::new());
        } else if line == "-----END CERTIFICATE-----" {
            if let Some(encoded) = body.take()
                && let Ok(der) = base64::engine::general_purpose::STANDARD.decode(encoded)
            {
                certificates.push(der);
            }
        } else if let Some(encoded) = body.as_mut() {
            encoded.push_str(line);
        }
    }
    certificates
}

/// The URL and trust of the agent on `node`, from its AntreaAgentInfo and Node.
pub async fn agent_endpoint(
    client: &Client,
    node: &str,
) -> Result<(String, Vec<Vec<u8>>), AntreaError> {
    use antrea_types::AntreaAgentInfo;
    use k8s_openapi::api::core::v1::Node;
    let info = kube::Api::<AntreaAgentInfo>::all(client.clone())
        .get(node)
        .await
        .map_err(|e| AntreaError::api(format!("reading AntreaAgentInfo {node}"), e))?;
    let port = info.spec.api_port.unwrap_or(AGENT_API_PORT);
    let ca = info
        .spec
        .api_ca_bundle
        .as_ref()
        .map(|b| pem_certificates(&b.0))
        .unwrap_or_default();
    if ca.is_empty() {
        return Err(AntreaError::Unexpected {
            context: format!("reaching the agent on {node}"),
            message: "its AntreaAgentInfo has no apiCABundle".into(),
        });
    }
    let node_object = kube::Api::<Node>::all(client.clone())
        .get(node)
        .await
        .map_err(|e| AntreaError::api(format!("reading Node {node}"), e))?;
    let address = node_object
        .status
        .and_then(|s| s.addresses)
        .into_iter()
        .flatten()
        .find(|a| a.type_ == "InternalIP")
        .map(|a| a.address)
        .ok_or_else(|| AntreaError::Unexpected {
            context: format!("reaching the agent on {node}"),
            message: "the Node has no InternalIP".into(),
        })?;
    let host = if address.contains(':') {
        format!("[{address}]")
    } else {
        address
    };
    Ok((format!("https://{host}:{port}"), ca))
}

impl AgentAccess {
    /// The client and path prefix of the agent on `node`.
    async fn locate(&self, client: &Client, node: &str) -> Result<(Client, String), AntreaError> {
        match self {
            AgentAccess::ApiServerPath => {
                Ok((client.clone(), format!("{CONTROLLER_PREFIX}/agents/{node}")))
            }
            AgentAccess::Direct { token_file } => {
                let (url, ca) = agent_endpoint(client, node).await?;
                let unexpected = |message: String| AntreaError::Unexpected {
                    context: format!("a client for the agent on {node} at {url}"),
                    message,
                };
                let mut config =
                    kube::Config::new(url.parse().map_err(|e| unexpected(format!("{e}")))?);
                config.root_cert = Some(ca);
                config.tls_server_name = Some("localhost".into());
                config.auth_info.token_file = token_file.clone();
                let agent = Client::try_from(config).map_err(|e| unexpected(e.to_string()))?;
                Ok((agent, CONTROLLER_PREFIX.to_owned()))
            }
        }
    }
}

/// Which component a bundle comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleSource {
    Controller,
    /// The agent on this Node.
    Agent(String),
}

/// How bundles are collected.
#[derive(Debug, Clone)]
pub struct BundleOptions {
    pub agents: AgentAccess,
    /// Time between two reads of a collection's state.
    pub poll: Duration,
}

impl Default for BundleOptions {
    fn default() -> Self {
        BundleOptions {
            agents: AgentAccess::Direct {
                token_file: Some(SERVICE_ACCOUNT_TOKEN.to_owned()),
            },
            poll: Duration::from_millis(250),
        }
    }
}

fn request(
    method: http::Method,
    uri: &str,
    body: Vec<u8>,
) -> Result<http::Request<Vec<u8>>, AntreaError> {
    http::Request::builder()
        .method(method)
        .uri(uri)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body)
        .map_err(|e| AntreaError::Unexpected {
            context: format!("building a request for {uri}"),
            message: e.to_string(),
        })
}

/// Collects one bundle (not redacted): the tar.gz bytes.
pub async fn collect(
    client: &Client,
    source: &BundleSource,
    since: Option<&str>,
    options: &BundleOptions,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<Vec<u8>, AntreaError> {
    let (client, prefix, name) = match source {
        BundleSource::Controller => (
            client.clone(),
            CONTROLLER_PREFIX.to_owned(),
            CONTROLLER_BUNDLE_NAME,
        ),
        BundleSource::Agent(node) => {
            let (client, prefix) = options.agents.locate(client, node).await?;
            (client, prefix, AGENT_BUNDLE_NAME)
        }
    };
    let collection = format!("{prefix}/supportbundles");
    let object = format!("{collection}/{name}");
    let body = serde_json::to_vec(&SupportBundle::request(name, since)).map_err(|e| {
        AntreaError::Unexpected {
            context: "encoding a SupportBundle".into(),
            message: e.to_string(),
        }
    })?;
    let _: SupportBundle = client
        .request(request(http::Method::POST, &collection, body)?)
        .await
        .map_err(|e| AntreaError::api(format!("requesting a support bundle at {collection}"), e))?;
    loop {
        let state: SupportBundle = client
            .request(request(http::Method::GET, &object, Vec::new())?)
            .await
            .map_err(|e| AntreaError::api(format!("reading {object}"), e))?;
        if state.status == Some(SupportBundleStatus::Collected) {
            break;
        }
        if Instant::now() >= deadline {
            return Err(AntreaError::Unexpected {
                context: format!("collecting {object}"),
                message: "not collected before the deadline".into(),
            });
        }
        tokio::select! {
            () = cancel.cancelled() => return Err(AntreaError::Cancelled(format!("collecting {object}"))),
            () = tokio::time::sleep(options.poll) => {}
        }
    }
    let download = format!("{object}/download");
    let mut reader = client
        .request_stream(request(http::Method::GET, &download, Vec::new())?)
        .await
        .map_err(|e| AntreaError::api(format!("downloading {download}"), e))?;
    let mut data = Vec::new();
    reader
        .read_to_end(&mut data)
        .await
        .map_err(|e| AntreaError::Unexpected {
            context: format!("downloading {download}"),
            message: e.to_string(),
        })?;
    Ok(data)
}

/// The SHA-256 of `data`, lower-case hex (NSX's `sha256_thumbprint`).
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(data))
}

/// A tar.gz with every regular file redacted (`redact_file`: JSON structurally, text by
/// patterns, binary kept). Paths, modes and directories are kept.
pub fn redact_archive(archive: &[u8]) -> Result<Vec<u8>, std::io::Error> {
    let mut input = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut output = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for entry in input.entries()? {
        let mut entry = entry?;
        let mut header = entry.header().clone();
        let path = entry.path()?.into_owned();
        if header.entry_type().is_file() {
            let mut content = Vec::new();
            entry.read_to_end(&mut content)?;
            let redacted = redact_file(&content);
            header.set_size(redacted.len() as u64);
            header.set_cksum();
            output.append_data(&mut header, &path, &redacted[..])?;
        } else if header.entry_type().is_dir() {
            output.append_data(&mut header, &path, std::io::empty())?;
        }
    }
    let mut encoder = output.into_inner()?;
    encoder.flush()?;
    encoder.finish()
}

/// A tar.gz of `files` (path, content), each redacted.
pub fn archive_of(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, std::io::Error> {
    let mut output = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (path, content) in files {
        let redacted = redact_file(content);
        let mut header = tar::Header::new_gnu();
        header.set_size(redacted.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        output.append_data(&mut header, path, &redacted[..])?;
    }
    output.into_inner()?.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_of(archive: &[u8]) -> Vec<(String, String)> {
        let mut input = tar::Archive::new(flate2::read::GzDecoder::new(archive));
        let mut files = Vec::new();
        for entry in input.entries().unwrap() {
            let mut entry = entry.unwrap();
            if entry.header().entry_type().is_file() {
                let path = entry.path().unwrap().display().to_string();
                let mut text = String::new();
                entry.read_to_string(&mut text).unwrap();
                files.push((path, text));
            }
        }
        files
    }

    #[test]
    fn archives_are_redacted_file_by_file() {
        let secret_key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n";
        let original = archive_of(&[]).unwrap();
        assert!(files_of(&original).is_empty());
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::default(),
        ));
        for (path, content) in [
            (
                "logs/agent.log",
                format!("I1 started\npassword=hunter2\n{secret_key}"),
            ),
            (
                "agentinfo",
                "{\"token\": \"abc123\", \"version\": \"v2.7.0\"}".to_owned(),
            ),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, path, content.as_bytes())
                .unwrap();
        }
        let archive = builder.into_inner().unwrap().finish().unwrap();
        let redacted = files_of(&redact_archive(&archive).unwrap());
        assert_eq!(redacted.len(), 2);
        let all: String = redacted.iter().map(|(_, t)| t.as_str()).collect();
        assert!(all.contains("I1 started"));
        assert!(all.contains("v2.7.0"));
        for secret in ["hunter2", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "abc123"] {
            assert!(!all.contains(secret), "{secret} survived: {all}");
        }
    }

    #[test]
    fn pem_bundles_decode_to_der() {
        let pem = b"junk\n-----BEGIN CERTIFICATE-----\nAAEC\nAw==\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nBAU=\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_certificates(pem), vec![vec![0, 1, 2, 3], vec![4, 5]]);
        assert!(pem_certificates(b"no certificate").is_empty());
    }

    #[tokio::test]
    async fn direct_agent_endpoints_come_from_agent_info_and_node() {
        let emu = kube_emu::KubeEmu::new();
        let antrea = antrea_emu::AntreaEmu::install(
            &emu,
            antrea_emu::AntreaOptions {
                nodes: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let client = Client::new(emu.router(), "default");
        let (url, ca) = agent_endpoint(&client, "k8s-node-2").await.unwrap();
        let node = &antrea.topology().nodes[1];
        assert_eq!(url, format!("https://{}:10350", node.internal_ip));
        assert_eq!(ca.len(), 1);
        let (_, prefix) = AgentAccess::Direct { token_file: None }
            .locate(&client, "k8s-node-2")
            .await
            .unwrap();
        assert_eq!(prefix, CONTROLLER_PREFIX);
        assert!(agent_endpoint(&client, "no-such-node").await.is_err());
    }

    #[test]
    fn a_damaged_archive_is_an_error() {
        assert!(redact_archive(b"not a gzip").is_err());
    }
}
