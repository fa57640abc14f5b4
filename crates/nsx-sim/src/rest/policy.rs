//! `/policy/api/v1/...`: maps a URI onto the policy tree and runs the request through the
//! policy engine (reads under the shared lock, writes as one durable transaction).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{Method, StatusCode, Uri};
use serde_json::Value;

use super::list::{ListParams, page};
use super::{
    AppState, bool_param, empty_ok, json_body_with_nulls, json_response, percent_decode, query,
};
use crate::error::ApiError;
use crate::identity::Caller;
use crate::policy::firewall::{ReviseOperation, revise};
use crate::policy::hapi::{self, ReadFilter};
use crate::policy::kinds::{Kind, Target, resolve_segments};
use crate::policy::render::{RenderOptions, ordered_rules, render};
use crate::policy::{Engine, Origin, TABLE, WriteMode, children_of, now_ms};
use crate::schema::Api;
use crate::store::TxnError;

/// Prefix of the Policy API.
pub const PREFIX: &str = "/policy/api/v1";

/// Entry point of every `/policy/api/v1/...` request.
pub async fn dispatch(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    match handle(app, caller, method, uri, body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

fn target_of(uri: &Uri) -> Result<Target, ApiError> {
    let raw = uri.path();
    let rest = raw
        .strip_prefix(PREFIX)
        .ok_or_else(|| ApiError::uri_not_found(raw))?;
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let segments = rest
        .split('/')
        .map(|s| percent_decode(s, false))
        .collect::<Result<Vec<_>, _>>()?;
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    resolve_segments(&segments).ok_or_else(|| ApiError::uri_not_found(raw))
}

async fn handle(
    app: Arc<AppState>,
    caller: Caller,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ApiError> {
    let target = target_of(&uri)?;
    let query = query(&uri)?;
    match target {
        Target::Object {
            kind: Kind::Infra, ..
        } => infra(app, caller, method, &uri, query, body).await,
        Target::Collection { kind, parent } => {
            if method != Method::GET {
                return Err(ApiError::method_not_allowed(&method, uri.path()));
            }
            list(&app, &caller, kind, &parent, &query)
        }
        Target::Object { kind, path } => match method {
            Method::GET => get(&app, &caller, &path),
            Method::PUT | Method::PATCH => {
                let body = json_body_with_nulls(&body, Api::Policy, kind.spec().model)?;
                let mode = if method == Method::PUT {
                    WriteMode::Replace
                } else {
                    WriteMode::Merge
                };
                let rendered = write(&app, caller, move |engine| {
                    engine.upsert(kind, &path, body, mode, Origin::Rest)?;
                    Ok(path)
                })
                .await?;
                Ok(match mode {
                    WriteMode::Replace => json_response(StatusCode::OK, rendered),
                    WriteMode::Merge => empty_ok(),
                })
            }
            Method::DELETE => {
                let force = bool_param(&query, "force", false)?;
                // Groups have no stored subtree in the simulator: the flag is checked, never refuses.
                bool_param(&query, "fail_if_subtree_exists", false)?;
                write(&app, caller, move |engine| {
                    engine.delete(&path, force)?;
                    Ok(String::new())
                })
                .await?;
                Ok(empty_ok())
            }
            Method::POST => {
                match query.get("action").map(String::as_str) {
                    Some("revise") if matches!(kind, Kind::SecurityPolicy | Kind::Rule) => {}
                    _ => return Err(ApiError::method_not_allowed(&method, uri.path())),
                }
                let operation = ReviseOperation::parse(query.get("operation").map(String::as_str))?;
                let anchor = query.get("anchor_path").cloned();
                let body = if body.iter().all(u8::is_ascii_whitespace) {
                    None
                } else {
                    Some(json_body_with_nulls(&body, Api::Policy, kind.spec().model)?)
                };
                let rendered = write(&app, caller, move |engine| {
                    match body {
                        Some(body) => {
                            engine.upsert(kind, &path, body, WriteMode::Merge, Origin::Rest)?;
                        }
                        None if engine.get(&path).is_none() => {
                            return Err(ApiError::policy_not_found(&path));
                        }
                        None => {}
                    }
                    revise(engine, kind, &path, operation, anchor.as_deref())?;
                    Ok(path)
                })
                .await?;
                Ok(json_response(StatusCode::OK, rendered))
            }
            _ => Err(ApiError::method_not_allowed(&method, uri.path())),
        },
    }
}

/// Runs `change` in one transaction as `caller`; returns the rendered object at the path it
/// returns (or `null` for an empty path).
async fn write(
    app: &AppState,
    caller: Caller,
    change: impl FnOnce(&mut Engine<'_, '_>) -> Result<String, ApiError> + Send + 'static,
) -> Result<Value, ApiError> {
    let result = app
        .store
        .write(move |tx| {
            let mut engine = Engine::new(tx, caller.clone(), now_ms());
            let path = change(&mut engine)?;
            engine.finish()?;
            let tables = tx.tables();
            Ok(match tables.get(TABLE, &path) {
                Some(doc) if !path.is_empty() => {
                    render(tables, &path, doc, &caller, RenderOptions::object())
                }
                _ => Value::Null,
            })
        })
        .await;
    match result {
        Ok(value) => Ok(value),
        Err(TxnError::Aborted(error)) => Err(error),
        Err(TxnError::Store(error)) => {
            tracing::error!(%error, "store write failed");
            Err(ApiError::internal(format!(
                "The change could not be stored: {error}"
            )))
        }
    }
}

fn get(app: &AppState, caller: &Caller, path: &str) -> Result<Response, ApiError> {
    app.store.read(|tables| {
        let doc = tables
            .get(TABLE, path)
            .ok_or_else(|| ApiError::policy_object_not_found(path))?;
        Ok(json_response(
            StatusCode::OK,
            render(tables, path, doc, caller, RenderOptions::object()),
        ))
    })
}

fn list(
    app: &AppState,
    caller: &Caller,
    kind: Kind,
    parent: &str,
    query: &BTreeMap<String, String>,
) -> Result<Response, ApiError> {
    let params = ListParams::parse(query)?;
    let options = RenderOptions {
        embed_children: kind == Kind::Service,
        rule_count: bool_param(query, "include_rule_count", false)?,
    };
    let member_types: Option<Vec<String>> = query
        .get("member_types")
        .map(|m| m.split(',').map(|s| s.trim().to_owned()).collect());
    let default_service = match query.get("default_service") {
        Some(_) => Some(bool_param(query, "default_service", false)?),
        None => None,
    };
    app.store.read(|tables| {
        if !tables.contains(TABLE, parent) {
            return Err(ApiError::policy_not_found(parent));
        }
        let docs: Vec<(&String, &Value)> = if kind == Kind::Rule {
            ordered_rules(tables, parent)
        } else {
            children_of(tables, parent, kind).collect()
        };
        let items: Vec<Value> = docs
            .into_iter()
            .filter(|(_, doc)| match (&member_types, kind) {
                (Some(types), Kind::Group) => group_has_member_type(doc, types),
                _ => true,
            })
            .filter(|(_, doc)| match (default_service, kind) {
                (Some(wanted), Kind::Service) => doc["is_default"].as_bool() == Some(wanted),
                _ => true,
            })
            .map(|(path, doc)| render(tables, path, doc, caller, options))
            .collect();
        let default_sort = (kind == Kind::Rule).then_some("sequence_number");
        Ok(json_response(
            StatusCode::OK,
            page(items, &params, "path", default_sort)?,
        ))
    })
}

fn group_has_member_type(group: &Value, types: &[String]) -> bool {
    let mut conditions: Vec<&Value> = Vec::new();
    for e in group["expression"].as_array().into_iter().flatten() {
        conditions.push(e);
        conditions.extend(e["expressions"].as_array().into_iter().flatten());
    }
    conditions.iter().any(|c| {
        c["member_type"]
            .as_str()
            .is_some_and(|m| types.iter().any(|t| t == m))
    })
}

async fn infra(
    app: Arc<AppState>,
    caller: Caller,
    method: Method,
    uri: &Uri,
    query: BTreeMap<String, String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    match method {
        Method::GET => {
            let filter = ReadFilter::parse(
                query.get("filter").map(String::as_str),
                query.get("type_filter").map(String::as_str),
            )?;
            let base_path = query.get("base_path").cloned();
            app.store.read(|tables| {
                Ok(json_response(
                    StatusCode::OK,
                    hapi::read(tables, &caller, base_path.as_deref(), &filter)?,
                ))
            })
        }
        Method::PATCH => {
            let body = json_body_with_nulls(&body, Api::Policy, "Infra")?;
            let enforce = bool_param(&query, "enforce_revision_check", false)?;
            write(&app, caller, move |engine| {
                hapi::apply(engine, body, enforce)?;
                Ok(String::new())
            })
            .await?;
            Ok(empty_ok())
        }
        Method::PUT => {
            // "Updates only the single infra object. This does not allow hierarchical updates."
            let body = json_body_with_nulls(&body, Api::Policy, "Infra")?;
            if body["children"].as_array().is_some_and(|c| !c.is_empty()) {
                return Err(ApiError::policy_invalid(
                    "PUT /infra updates only the Infra object; use PATCH /infra for hierarchical changes.",
                ));
            }
            let rendered = write(&app, caller, move |engine| {
                engine.upsert(
                    Kind::Infra,
                    "/infra",
                    body,
                    WriteMode::Replace,
                    Origin::Rest,
                )?;
                Ok("/infra".to_owned())
            })
            .await?;
            Ok(json_response(StatusCode::OK, rendered))
        }
        _ => Err(ApiError::method_not_allowed(&method, uri.path())),
    }
}
