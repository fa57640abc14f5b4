//! Response representations negotiated from `Accept`: the objects as JSON or YAML, or
//! the `meta.k8s.io` `Table` / `PartialObjectMetadata(List)` forms kubectl and
//! metadata-only clients ask for (rendered by `kube_apimachinery::table`).

use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderValue, Response, header};
use kube_apimachinery::registry::ResourceType;
use kube_apimachinery::table::{
    IncludeObject, ListMeta, Representation, TableOptions, requested_representation,
    to_partial_object_metadata, to_partial_object_metadata_list, to_table_at,
};
use serde_json::Value;

use crate::Inner;
use crate::http::{json_response, value_response};
use crate::read::ListPage;
use crate::status::ApiError;

/// How a request wants its objects.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Negotiated {
    pub representation: Representation,
    pub include_object: IncludeObject,
}

impl Negotiated {
    pub fn new(accept: &str, include_object: Option<&str>) -> Result<Self, ApiError> {
        let representation = requested_representation(accept);
        if representation == Representation::NotAcceptable {
            return Err(ApiError::not_acceptable());
        }
        let include_object =
            IncludeObject::from_query(include_object).map_err(ApiError::bad_request)?;
        Ok(Negotiated {
            representation,
            include_object,
        })
    }

    pub fn is_plain_json(&self) -> bool {
        self.representation == Representation::Json
    }

    /// One object in the negotiated form (for GET and watch events); `headers` says
    /// whether a Table carries its column definitions.
    pub fn object(
        &self,
        rt: &ResourceType,
        object: &Value,
        headers: bool,
    ) -> Result<Value, ApiError> {
        match self.representation {
            Representation::Json | Representation::Yaml => Ok(object.clone()),
            Representation::Table { version } => Ok(to_table_at(
                rt,
                std::slice::from_ref(object),
                &TableOptions {
                    include_object: self.include_object,
                    no_headers: !headers,
                    version,
                },
                &ListMeta {
                    resource_version: object
                        .pointer("/metadata/resourceVersion")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    ..ListMeta::default()
                },
                jiff::Timestamp::now(),
            )),
            Representation::PartialObjectMetadata { version } => {
                Ok(to_partial_object_metadata(object, version))
            }
            Representation::PartialObjectMetadataList { .. } | Representation::NotAcceptable => {
                Err(ApiError::not_acceptable())
            }
        }
    }
}

fn yaml_response(code: u16, value: &Value) -> Result<Response<Body>, ApiError> {
    let text = serde_saphyr::to_string(value).map_err(ApiError::internal)?;
    let mut response = json_response(code, Bytes::from(text));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/yaml"),
    );
    Ok(response)
}

/// Answers with one object (JSON bytes in the served version).
pub(crate) fn respond_object(
    _inner: &Arc<Inner>,
    rt: &ResourceType,
    body: Bytes,
    accept: &str,
    include_object: Option<&str>,
    code: u16,
) -> Result<Response<Body>, ApiError> {
    let negotiated = Negotiated::new(accept, include_object)?;
    if negotiated.is_plain_json() {
        return Ok(json_response(code, body));
    }
    let object: Value = serde_json::from_slice(&body).map_err(ApiError::internal)?;
    match negotiated.representation {
        Representation::Yaml => yaml_response(code, &object),
        _ => Ok(value_response(code, &negotiated.object(rt, &object, true)?)),
    }
}

/// Answers with a list page.
pub(crate) fn respond_list(
    _inner: &Arc<Inner>,
    rt: &ResourceType,
    page: &ListPage,
    accept: &str,
    include_object: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let negotiated = Negotiated::new(accept, include_object)?;
    if negotiated.is_plain_json() {
        return Ok(json_response(200, page.to_bytes(rt)));
    }
    let list_meta = ListMeta {
        resource_version: Some(page.resource_version.to_string()),
        continue_token: page.continue_token.clone(),
        remaining_item_count: page.remaining.map(|n| n as i64),
    };
    let objects = || -> Result<Vec<Value>, ApiError> {
        page.items
            .iter()
            .map(|item| serde_json::from_slice(item).map_err(ApiError::internal))
            .collect()
    };
    match negotiated.representation {
        Representation::Yaml => {
            let list: Value =
                serde_json::from_slice(&page.to_bytes(rt)).map_err(ApiError::internal)?;
            yaml_response(200, &list)
        }
        Representation::Table { version } => Ok(value_response(
            200,
            &to_table_at(
                rt,
                &objects()?,
                &TableOptions {
                    include_object: negotiated.include_object,
                    no_headers: false,
                    version,
                },
                &list_meta,
                jiff::Timestamp::now(),
            ),
        )),
        Representation::PartialObjectMetadataList { version }
        | Representation::PartialObjectMetadata { version } => Ok(value_response(
            200,
            &to_partial_object_metadata_list(&objects()?, &list_meta, version),
        )),
        Representation::Json | Representation::NotAcceptable => Err(ApiError::not_acceptable()),
    }
}
