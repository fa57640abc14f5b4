//! The HTTP face: path parsing (`/api/v1/...`, `/apis/G/V/...`, including the
//! `/api/v1/namespaces/{x}/{y}` ambiguity), query parameters, content types, and the
//! dispatch of each request to reads, watches, writes, extensions or discovery.

use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use kube_apimachinery::registry::{Origin, Registry, ResourceType};
use serde_json::Value;
use tower::ServiceExt as _;

use crate::Inner;
use crate::status::ApiError;
use crate::write::PatchKind;

/// A request for a stored resource.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The type as served at the requested version.
    pub rt: Arc<ResourceType>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// Where a path leads.
pub(crate) enum Route {
    /// Not a resource path: discovery, OpenAPI, version, health.
    NonResource,
    Resource(Target),
    /// A path in a group/version served by an extension router.
    Extension(axum::Router),
}

fn percent_decode(segment: &str) -> String {
    if !segment.contains('%') {
        return segment.to_string();
    }
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(high * 16 + low);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a path against the registry. The second value is true for the legacy
/// `/watch/` path form.
pub(crate) fn route(
    registry: &Registry,
    extensions: &[crate::extension::ApiExtension],
    path: &str,
) -> Result<(Route, bool), ApiError> {
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .trim_end_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let (group, version, rest) = match segments.first().map(String::as_str) {
        Some("api") if segments.len() >= 2 => ("", segments[1].as_str(), &segments[2..]),
        Some("apis") if segments.len() >= 3 => {
            (segments[1].as_str(), segments[2].as_str(), &segments[3..])
        }
        _ => return Ok((Route::NonResource, false)),
    };
    if rest.is_empty() {
        return Ok((Route::NonResource, false));
    }
    if let Some(extension) = extensions.iter().find(|e| e.serves(group, version)) {
        return Ok((Route::Extension(extension.router.clone()), false));
    }
    let (rest, legacy_watch) = match rest.first().map(String::as_str) {
        Some("watch") => (&rest[1..], true),
        _ => (rest, false),
    };
    let lookup = |plural: &str| registry.get(group, version, plural);
    let target = match rest {
        [ns_word, namespace, plural, tail @ ..]
            if ns_word == "namespaces" && lookup(plural).is_some_and(|rt| rt.namespaced) =>
        {
            let rt = lookup(plural).ok_or_else(ApiError::no_such_resource)?;
            if tail.len() > 2 {
                return Err(ApiError::no_such_resource());
            }
            Target {
                rt,
                namespace: Some(namespace.clone()),
                name: tail.first().cloned(),
                subresource: tail.get(1).cloned(),
            }
        }
        [plural, tail @ ..] => {
            let rt = lookup(plural).ok_or_else(ApiError::no_such_resource)?;
            if tail.len() > 2 || (rt.namespaced && !tail.is_empty()) {
                return Err(ApiError::no_such_resource());
            }
            Target {
                rt,
                namespace: None,
                name: tail.first().cloned(),
                subresource: tail.get(1).cloned(),
            }
        }
        [] => return Ok((Route::NonResource, false)),
    };
    if matches!(target.rt.origin, Origin::Extension) {
        return Err(ApiError::no_such_resource());
    }
    Ok((Route::Resource(target), legacy_watch))
}

/// Query parameters of resource requests.
#[derive(Debug, Default, Clone)]
pub(crate) struct Params {
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    pub limit: Option<u64>,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
    pub watch: bool,
    pub allow_watch_bookmarks: bool,
    pub timeout_seconds: Option<u64>,
    pub send_initial_events: Option<bool>,
    pub dry_run: bool,
    pub field_manager: Option<String>,
    pub field_validation: Option<String>,
    pub force: Option<bool>,
    pub grace_period_seconds: Option<i64>,
    pub propagation_policy: Option<String>,
    pub include_object: Option<String>,
}

fn parse_bool(name: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "true" | "1" | "True" | "TRUE" => Ok(true),
        "false" | "0" | "False" | "FALSE" | "" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "invalid boolean value for {name}: {value:?}"
        ))),
    }
}

fn parse_number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ApiError> {
    value
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid value for {name}: {value:?}")))
}

impl Params {
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut params = Params::default();
        let Some(query) = query else {
            return Ok(params);
        };
        let pairs: Vec<(String, String)> = serde_urlencoded_pairs(query)?;
        for (key, value) in pairs {
            match key.as_str() {
                "labelSelector" => params.label_selector = Some(value),
                "fieldSelector" => params.field_selector = Some(value),
                "limit" => {
                    let limit: i64 = parse_number("limit", &value)?;
                    params.limit = (limit > 0).then_some(limit as u64);
                }
                "continue" => params.continue_token = Some(value).filter(|v| !v.is_empty()),
                "resourceVersion" => params.resource_version = Some(value),
                "resourceVersionMatch" => {
                    params.resource_version_match = Some(value).filter(|v| !v.is_empty())
                }
                "watch" => params.watch = parse_bool("watch", &value)?,
                "allowWatchBookmarks" => {
                    params.allow_watch_bookmarks = parse_bool("allowWatchBookmarks", &value)?
                }
                "timeoutSeconds" => {
                    params.timeout_seconds = Some(parse_number("timeoutSeconds", &value)?)
                }
                "sendInitialEvents" => {
                    params.send_initial_events = Some(parse_bool("sendInitialEvents", &value)?)
                }
                "dryRun" => {
                    if value != "All" {
                        return Err(ApiError::bad_request(format!(
                            "Unsupported value: {value:?}: supported values: \"All\""
                        )));
                    }
                    params.dry_run = true;
                }
                "fieldManager" => params.field_manager = Some(value),
                "fieldValidation" => params.field_validation = Some(value),
                "force" => params.force = Some(parse_bool("force", &value)?),
                "gracePeriodSeconds" => {
                    params.grace_period_seconds = Some(parse_number("gracePeriodSeconds", &value)?)
                }
                "propagationPolicy" => params.propagation_policy = Some(value),
                "includeObject" => params.include_object = Some(value),
                _ => {}
            }
        }
        Ok(params)
    }
}

fn serde_urlencoded_pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    let uri: http::Uri = format!("/?{query}")
        .parse()
        .map_err(|_| ApiError::bad_request("malformed query string"))?;
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|e| ApiError::bad_request(format!("malformed query string: {e}")))
}

/// A body type of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchType {
    Merge,
    Json,
    Strategic,
    Apply,
}

fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

pub(crate) fn patch_type(headers: &HeaderMap) -> Result<PatchType, ApiError> {
    match media_type(headers).as_str() {
        "application/merge-patch+json" => Ok(PatchType::Merge),
        "application/json-patch+json" => Ok(PatchType::Json),
        "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
        "application/apply-patch+yaml" => Ok(PatchType::Apply),
        other => Err(ApiError::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: \
             application/json-patch+json, application/merge-patch+json, \
             application/apply-patch+yaml, application/strategic-merge-patch+json (got {other:?})"
        ))),
    }
}

/// Decodes a request body: JSON, or YAML when the content type says so (or JSON fails).
pub(crate) fn decode_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let media = media_type(headers);
    if kube_apimachinery::protobuf::is_protobuf_content_type(&media) {
        // Typed clients (kubectl create namespace/configmap/secret/...) send protobuf.
        return kube_apimachinery::protobuf::decode_request_body(body).map_err(|error| {
            ApiError::new(error.status_code(), error.reason(), error.to_string())
        });
    }
    let known = matches!(
        media.as_str(),
        "application/json" | "application/yaml" | "application/apply-patch+yaml"
    );
    if !known {
        return Err(ApiError::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: \
             application/json, application/yaml, application/vnd.kubernetes.protobuf (got {media:?})"
        )));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => Ok(value),
        Err(json_error) => {
            let yaml = media.contains("yaml");
            let text = std::str::from_utf8(body)
                .map_err(|_| ApiError::bad_request("the request body is not valid UTF-8"))?;
            if yaml {
                serde_saphyr::from_str::<Value>(text)
                    .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
            } else {
                Err(ApiError::bad_request(format!(
                    "couldn't get version/kind; json parse error: {json_error}"
                )))
            }
        }
    }
}

/// A response with a JSON body.
pub(crate) fn json_response(code: u16, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Body::from(body.into()));
    *response.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub(crate) fn value_response(code: u16, value: &Value) -> Response<Body> {
    json_response(code, serde_json::to_vec(value).unwrap_or_default())
}

pub(crate) fn error_response(error: &ApiError) -> Response<Body> {
    let mut response = value_response(error.code, &error.to_status());
    if let Some(seconds) = error.retry_after
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Adds `Warning: 299 - "..."` headers.
pub(crate) fn add_warnings(response: &mut Response<Body>, warnings: &[String]) {
    for warning in warnings {
        let text = format!("299 - {}", serde_json::Value::String(warning.clone()));
        if let Ok(value) = HeaderValue::from_str(&text) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
}

/// The whole request pipeline: failure injection, routing, handling, request log.
pub(crate) async fn handle(inner: Arc<Inner>, request: Request<Body>) -> Response<Body> {
    let method = request.method().clone();
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_else(|| request.uri().path().to_string());
    let user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let field_manager = request.uri().query().and_then(|q| {
        serde_urlencoded_pairs(q)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == "fieldManager")
            .map(|(_, v)| v)
    });
    let response = dispatch(&inner, request).await;
    inner.hooks.log(crate::hooks::RequestRecord {
        method: method.to_string(),
        path: path_and_query,
        status: response.status().as_u16(),
        user_agent,
        field_manager,
    });
    response
}

async fn dispatch(inner: &Arc<Inner>, request: Request<Body>) -> Response<Body> {
    if let Err(error) = crate::rbac::check(inner, &request) {
        return error_response(&error);
    }
    let request = match crate::rbac::token_request(inner, request).await {
        Ok(response) => return response,
        Err(request) => request,
    };
    let path = request.uri().path().to_string();
    let registry = inner.registry();
    let extensions = inner.extensions.read().clone();
    let routed = route(&registry, &extensions, &path);
    let plural = match &routed {
        Ok((Route::Resource(target), _)) => Some(target.rt.plural.clone()),
        _ => None,
    };
    if let Some(error) = inner
        .hooks
        .take_failure(request.method(), &path, plural.as_deref())
    {
        return error_response(&error);
    }
    match routed {
        Err(error) => error_response(&error),
        Ok((Route::NonResource, _)) => non_resource(inner, &registry, request),
        Ok((Route::Extension(router), _)) => match router.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        },
        Ok((Route::Resource(target), legacy_watch)) => {
            match resource(inner, target, legacy_watch, request).await {
                Ok(response) => response,
                Err(error) => error_response(&error),
            }
        }
    }
}

fn non_resource(inner: &Arc<Inner>, registry: &Registry, request: Request<Body>) -> Response<Body> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return error_response(&ApiError::method_not_allowed());
    }
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match crate::discovery::respond(inner, registry, request.uri().path(), accept) {
        Some(response) => response,
        None => error_response(&ApiError::no_such_resource()),
    }
}

async fn read_body(inner: &Inner, request: Request<Body>) -> Result<(HeaderMap, Bytes), ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, inner.options.max_body_bytes)
        .await
        .map_err(|e| {
            ApiError::new(
                413,
                "RequestEntityTooLarge",
                format!("request entity too large: {e}"),
            )
        })?;
    Ok((parts.headers, bytes))
}

fn accept_header(headers: &HeaderMap) -> String {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn resource(
    inner: &Arc<Inner>,
    mut target: Target,
    legacy_watch: bool,
    request: Request<Body>,
) -> Result<Response<Body>, ApiError> {
    let mut params = Params::parse(request.uri().query())?;
    if legacy_watch {
        params.watch = true;
        if let Some(name) = target.name.take() {
            let by_name = format!("metadata.name={name}");
            params.field_selector = Some(match params.field_selector.take() {
                Some(existing) if !existing.is_empty() => format!("{existing},{by_name}"),
                _ => by_name,
            });
        }
    }
    let method = request.method().clone();
    let accept = accept_header(request.headers());
    let ua = user_agent(request.headers());
    let subresource = target.subresource.clone();
    match subresource.as_deref() {
        None => {}
        Some("status") if target.rt.subresources.status => {}
        Some("finalize") if target.rt.group.is_empty() && target.rt.plural == "namespaces" => {}
        Some(_) => return Err(ApiError::no_such_resource()),
    }
    let has_name = target.name.is_some();
    match (method, has_name) {
        (Method::GET, _) if params.watch => crate::watch::watch(inner, &target, &params, &accept),
        (Method::GET, true) => crate::read::get(inner, &target, &params, &accept),
        (Method::GET, false) => crate::read::list(inner, &target, &params, &accept),
        (Method::POST, false) if subresource.is_none() => {
            let (headers, body) = read_body(inner, request).await?;
            let object = decode_body(&headers, &body)?;
            let options = crate::write::WriteOptions::from_params(&params, ua)?;
            let outcome = crate::write::create(inner, &target, object, &options)?;
            Ok(outcome.into_response(inner, &target, &accept))
        }
        (Method::PUT, true) => {
            let (headers, body) = read_body(inner, request).await?;
            let object = decode_body(&headers, &body)?;
            let options = crate::write::WriteOptions::from_params(&params, ua)?;
            let outcome = crate::write::update(inner, &target, object, &options)?;
            Ok(outcome.into_response(inner, &target, &accept))
        }
        (Method::PATCH, true) => {
            let (headers, body) = read_body(inner, request).await?;
            let options = crate::write::WriteOptions::from_params(&params, ua)?;
            let kind = match patch_type(&headers)? {
                PatchType::Apply => {
                    let outcome = crate::write::apply(inner, &target, &headers, &body, &options)?;
                    return Ok(outcome.into_response(inner, &target, &accept));
                }
                PatchType::Merge => PatchKind::Merge,
                PatchType::Json => PatchKind::Json,
                PatchType::Strategic => PatchKind::Strategic,
            };
            let outcome = crate::write::patch(inner, &target, kind, &body, &options)?;
            Ok(outcome.into_response(inner, &target, &accept))
        }
        (Method::DELETE, true) if subresource.is_none() => {
            let (headers, body) = read_body(inner, request).await?;
            let delete_options = crate::write::DeleteOptions::parse(&headers, &body, &params)?;
            let options = crate::write::WriteOptions::from_params(&params, ua)?;
            let outcome = crate::write::delete(inner, &target, &delete_options, &options)?;
            Ok(outcome.into_response(inner, &target, &accept))
        }
        (Method::DELETE, false) if subresource.is_none() => {
            let (headers, body) = read_body(inner, request).await?;
            let delete_options = crate::write::DeleteOptions::parse(&headers, &body, &params)?;
            let options = crate::write::WriteOptions::from_params(&params, ua)?;
            let list = crate::write::delete_collection(
                inner,
                &target,
                &params,
                &delete_options,
                &options,
            )?;
            Ok(value_response(200, &list))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(path: &str) -> Target {
        let registry = Registry::with_builtins();
        match route(&registry, &[], path).expect("routes") {
            (Route::Resource(target), _) => target,
            _ => panic!("not a resource path: {path}"),
        }
    }

    #[test]
    fn namespaced_and_cluster_paths_are_told_apart() {
        let pods = target("/api/v1/namespaces/ns/pods/p/status");
        assert_eq!(pods.rt.plural, "pods");
        assert_eq!(pods.namespace.as_deref(), Some("ns"));
        assert_eq!(pods.name.as_deref(), Some("p"));
        assert_eq!(pods.subresource.as_deref(), Some("status"));
        let ns_status = target("/api/v1/namespaces/ns/status");
        assert_eq!(ns_status.rt.plural, "namespaces");
        assert_eq!(ns_status.name.as_deref(), Some("ns"));
        assert_eq!(ns_status.subresource.as_deref(), Some("status"));
        let all_pods = target("/api/v1/pods");
        assert!(all_pods.namespace.is_none() && all_pods.name.is_none());
        let lease = target("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l");
        assert_eq!(lease.rt.kind, "Lease");
    }

    #[test]
    fn unknown_paths_are_not_found() {
        let registry = Registry::with_builtins();
        for path in ["/api/v1/widgets", "/apis/x.io/v1/things", "/api/v1/pods/p"] {
            let error = route(&registry, &[], path).err().expect(path);
            assert_eq!(error.code, 404);
        }
        assert!(matches!(
            route(&registry, &[], "/apis").unwrap().0,
            Route::NonResource
        ));
    }

    #[test]
    fn query_parameters_are_parsed() {
        let params = Params::parse(Some(
            "labelSelector=app%3Dx&limit=5&watch=true&dryRun=All&timeoutSeconds=3",
        ))
        .unwrap();
        assert_eq!(params.label_selector.as_deref(), Some("app=x"));
        assert_eq!(params.limit, Some(5));
        assert!(params.watch && params.dry_run);
        assert_eq!(params.timeout_seconds, Some(3));
        assert_eq!(Params::parse(Some("limit=x")).unwrap_err().code, 400);
    }
}
