//! Test harness: starts the simulator, talks to it over real HTTPS (reqwest + rustls/ring,
//! trusting the simulator's CA), and checks every request body sent and every response body
//! received against the NSX 4.2 JSON Schemas, using the model `operations.json` gives for the
//! operation. The schemas are loaded from `../shared/nsx-schemas` at run time and compiled here,
//! independently of the simulator's own copy.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Context, Result, anyhow, bail};
use nsx_sim::identity::PrincipalIdentitySpec;
use nsx_sim::{NsxSim, RunningSim, SimConfig};
use reqwest::Method;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};

/// The admin password the tests use.
pub const PASSWORD: &str = "Admin!23Admin";

/// Where the shared schema files are.
pub fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/nsx-schemas")
}

/// Validates JSON documents against the NSX bundles by model name.
pub struct SchemaCheck {
    policy: Value,
    manager: Value,
    validators: Mutex<HashMap<(bool, String), Arc<jsonschema::Validator>>>,
    operations: Vec<Operation>,
}

/// One entry of `operations.json`.
pub struct Operation {
    method: String,
    pattern: regex::Regex,
    action: Option<String>,
    template: String,
    request_model: Option<(bool, String)>,
    response_model: Option<(bool, String)>,
}

fn model_ref(reference: &Value) -> Option<(bool, String)> {
    let text = reference.as_str()?;
    let (file, pointer) = text.split_once("#/$defs/")?;
    Some((file.starts_with("nsx-policy"), pointer.to_owned()))
}

impl SchemaCheck {
    /// The process-wide checker.
    pub fn get() -> &'static SchemaCheck {
        static CHECK: OnceLock<SchemaCheck> = OnceLock::new();
        CHECK.get_or_init(|| {
            let read = |name: &str| -> Value {
                serde_json::from_str(&std::fs::read_to_string(schema_dir().join(name)).unwrap())
                    .unwrap()
            };
            let ops = read("operations.json");
            let operations = ops["operations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|op| {
                    let template = op["url_template"].as_str().unwrap().to_owned();
                    let (path, action) = match template.split_once("?action=") {
                        Some((p, a)) => (p.to_owned(), Some(a.to_owned())),
                        None => (template.clone(), None),
                    };
                    let var = regex::Regex::new(r"\{[^}]+\}").unwrap();
                    let escaped = regex::escape(&path).replace(r"\{", "{").replace(r"\}", "}");
                    let pattern = format!("^{}$", var.replace_all(&escaped, "[^/]+"));
                    Operation {
                        method: op["http_method"].as_str().unwrap().to_owned(),
                        pattern: regex::Regex::new(&pattern).unwrap(),
                        action,
                        template,
                        request_model: model_ref(&op["request_body_schema"]),
                        response_model: model_ref(&op["response_schema"]),
                    }
                })
                .collect();
            SchemaCheck {
                policy: read("nsx-policy-4.2.schema.json"),
                manager: read("nsx-manager-4.2.schema.json"),
                validators: Mutex::new(HashMap::new()),
                operations,
            }
        })
    }

    fn validator(&self, policy: bool, model: &str) -> Arc<jsonschema::Validator> {
        let key = (policy, model.to_owned());
        if let Some(v) = self.validators.lock().unwrap().get(&key) {
            return v.clone();
        }
        let mut root = if policy {
            self.policy.clone()
        } else {
            self.manager.clone()
        };
        assert!(
            root["$defs"].get(model).is_some(),
            "no model {model} in the bundle"
        );
        root["$ref"] = json!(format!("#/$defs/{model}"));
        let validator = Arc::new(
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(false)
                .build(&root)
                .unwrap(),
        );
        self.validators
            .lock()
            .unwrap()
            .insert(key, validator.clone());
        validator
    }

    /// Checks `doc` against `model` of the policy (`true`) or manager bundle.
    pub fn check(&self, policy: bool, model: &str, doc: &Value) -> Result<()> {
        let validator = self.validator(policy, model);
        let errors: Vec<String> = validator
            .iter_errors(doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            bail!("not a valid {model}: {errors:?}\n{doc:#}")
        }
    }

    /// The operation `method path?query` is, if `operations.json` lists it.
    pub fn operation(&self, method: &Method, path: &str, query: &str) -> Option<&Operation> {
        let action = query
            .split('&')
            .find_map(|p| p.strip_prefix("action="))
            .map(str::to_owned);
        self.operations.iter().find(|op| {
            op.method == method.as_str() && op.pattern.is_match(path) && op.action == action
        })
    }
}

/// How a client authenticates.
#[derive(Clone)]
pub enum Auth {
    /// Nothing.
    None,
    /// HTTP basic.
    Basic(String, String),
    /// A password session.
    Session {
        /// `JSESSIONID` cookie value.
        cookie: String,
        /// `X-XSRF-TOKEN`.
        xsrf: Option<String>,
    },
    /// The TLS client certificate configured in the client.
    Certificate,
}

/// A response.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status.
    pub status: u16,
    /// Body (`Null` when empty).
    pub body: Value,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// Panics unless the status is `status`.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "unexpected reply: {:#}", self.body);
        self
    }

    /// Panics unless this is an NSX error with `status` and `error_code`.
    #[track_caller]
    pub fn expect_error(self, status: u16, error_code: i64) -> Self {
        assert_eq!(self.status, status, "unexpected reply: {:#}", self.body);
        assert_eq!(
            self.body["error_code"],
            json!(error_code),
            "unexpected error: {:#}",
            self.body
        );
        self
    }
}

/// An HTTPS client of the simulator that checks everything against the schemas.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    auth: Auth,
    headers: Vec<(String, String)>,
}

/// A rustls client configuration trusting `ca_pem`, optionally with a client certificate.
pub fn tls_config(ca_pem: &str, identity: Option<(&str, &str)>) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
    }
}

impl Client {
    /// A client of `sim` authenticating with `auth` (and presenting `identity`, a PEM
    /// certificate and key, if given).
    pub fn new(sim: &RunningSim, auth: Auth, identity: Option<(&str, &str)>) -> Self {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config(sim.ca_cert_pem(), identity))
            .build()
            .unwrap();
        Self {
            http,
            base: sim.base_url().to_owned(),
            auth,
            headers: Vec::new(),
        }
    }

    /// The admin, with basic auth.
    pub fn admin(sim: &RunningSim) -> Self {
        Self::new(sim, Auth::Basic("admin".into(), PASSWORD.into()), None)
    }

    /// The same client sending an extra header on every request.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    async fn send(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Result<Reply> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        match &self.auth {
            Auth::None | Auth::Certificate => {}
            Auth::Basic(user, password) => request = request.basic_auth(user, Some(password)),
            Auth::Session { cookie, xsrf } => {
                request = request.header("Cookie", format!("JSESSIONID={cookie}"));
                if let Some(xsrf) = xsrf {
                    request = request.header("X-XSRF-TOKEN", xsrf);
                }
            }
        }
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body);
        }
        let response = request.send().await.context("request failed")?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).with_context(|| {
                format!("response is not JSON: {}", String::from_utf8_lossy(&bytes))
            })?
        };
        Ok(Reply {
            status,
            body,
            headers,
        })
    }

    /// Sends a request and checks the body sent and the body received against the models
    /// `operations.json` gives for it (every error against `ApiError`).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Reply> {
        let check = SchemaCheck::get();
        let (bare, query) = path.split_once('?').unwrap_or((path, ""));
        let operation = check
            .operation(&method, bare, query)
            .ok_or_else(|| anyhow!("{method} {bare} is not an operation in operations.json"))?;
        if let (Some(body), Some((policy, model))) = (&body, &operation.request_model) {
            check
                .check(*policy, model, body)
                .with_context(|| format!("request body of {method} {path}"))?;
        }
        let reply = self
            .send(
                method.clone(),
                path,
                body.map(|b| b.to_string().into_bytes()),
            )
            .await?;
        check_reply(
            &reply,
            bare.starts_with("/policy/"),
            operation.response_model.as_ref(),
            true,
        )
        .with_context(|| format!("reply to {method} {path} ({})", operation.template))?;
        Ok(reply)
    }

    /// Sends raw bytes, without checking the request; a 2xx reply must match `response_model`
    /// when one is given, and an error must be an `ApiError`.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        response_model: Option<(bool, &str)>,
    ) -> Result<Reply> {
        let reply = self.send(method, path, body).await?;
        let model = response_model.map(|(p, m)| (p, m.to_owned()));
        check_reply(&reply, path.starts_with("/policy/"), model.as_ref(), false)?;
        Ok(reply)
    }

    /// `GET`.
    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await.unwrap()
    }

    /// `PUT`.
    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(body)).await.unwrap()
    }

    /// `PATCH`.
    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(body)).await.unwrap()
    }

    /// `DELETE`.
    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await.unwrap()
    }

    /// `POST`.
    pub async fn post(&self, path: &str, body: Option<Value>) -> Reply {
        self.call(Method::POST, path, body).await.unwrap()
    }
}

fn check_reply(
    reply: &Reply,
    policy: bool,
    model: Option<&(bool, String)>,
    empty_unless_model: bool,
) -> Result<()> {
    let check = SchemaCheck::get();
    if (200..300).contains(&reply.status) {
        match model {
            Some((bundle, model)) => check.check(*bundle, model, &reply.body),
            None if reply.body.is_null() || !empty_unless_model => Ok(()),
            None => bail!("expected an empty body, got {:#}", reply.body),
        }
    } else {
        check.check(policy, "ApiError", &reply.body)?;
        let name = reqwest::StatusCode::from_u16(reply.status)?
            .canonical_reason()
            .unwrap_or_default()
            .to_ascii_uppercase()
            .replace(' ', "_");
        if reply.body["httpStatus"] != json!(name) {
            bail!(
                "httpStatus {} does not match {}",
                reply.body["httpStatus"],
                reply.status
            );
        }
        Ok(())
    }
}

/// Installs the ring provider as the process default (reqwest needs one).
pub fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Starts an in-memory simulator.
pub async fn start() -> RunningSim {
    init();
    NsxSim::start(SimConfig::new("127.0.0.1:0".parse().unwrap(), PASSWORD))
        .await
        .unwrap()
}

/// Starts a simulator on a data directory.
pub async fn start_in(dir: &std::path::Path) -> RunningSim {
    init();
    NsxSim::start(SimConfig::new("127.0.0.1:0".parse().unwrap(), PASSWORD).with_data_dir(dir))
        .await
        .unwrap()
}

/// A self-signed client certificate with common name `cn`: `(cert PEM, key PEM)`.
pub fn client_certificate(cn: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// Registers a principal identity for a fresh certificate; returns a client using it.
pub async fn principal_client(sim: &RunningSim, name: &str, protected: bool) -> Client {
    let (cert, key) = register_principal(sim, name, protected).await;
    Client::new(sim, Auth::Certificate, Some((&cert, &key)))
}

/// Registers a principal identity for a fresh certificate; returns `(cert PEM, key PEM)`.
pub async fn register_principal(sim: &RunningSim, name: &str, protected: bool) -> (String, String) {
    let (cert, key) = client_certificate(name);
    sim.register_principal_identity(PrincipalIdentitySpec {
        name: name.to_owned(),
        node_id: name.to_owned(),
        certificate_pem: cert.clone(),
        is_protected: protected,
        role: "enterprise_admin".to_owned(),
    })
    .await
    .unwrap();
    (cert, key)
}

/// A minimal ANTREA group on pods with a tag.
pub fn antrea_group(id: &str, tag: &str) -> Value {
    json!({"resource_type": "Group", "id": id, "display_name": id, "group_type": ["ANTREA"],
           "expression": [{"resource_type": "Condition", "member_type": "Pod", "key": "Tag",
                           "operator": "EQUALS", "value": tag}]})
}

/// Path of a group in the default domain.
pub fn group_path(id: &str) -> String {
    format!("/infra/domains/default/groups/{id}")
}

/// API path of a group in the default domain.
pub fn group_url(id: &str) -> String {
    format!("/policy/api/v1{}", group_path(id))
}

/// API path of a security policy in the default domain.
pub fn policy_url(id: &str) -> String {
    format!("/policy/api/v1/infra/domains/default/security-policies/{id}")
}
