//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) decoded into the
//! JSON the same object has in Kubernetes' JSON encoding.
//!
//! Typed clients (kubectl's `create namespace`, `create configmap`, `create secret`,
//! `create service`, `create ingress`, `create token`, ...) send their bodies in protobuf and do
//! not retry in JSON. The emulator stores JSON, so [`decode_request_body`] turns such a body into
//! the JSON that Go's `encoding/json` would write for the Go object kube-apiserver unmarshals
//! from it: field names from the `json` tags, `omitempty` honoured for value fields, pointer
//! fields written whenever set, `metav1.Time` as RFC 3339 (zero time as `null`), `MicroTime` with
//! microseconds, `IntOrString` as a number or a string, `Quantity` as a string, `[]byte` as
//! base64, and the `apiextensions` JSON-schema unions in their JSON shapes.
//!
//! The one departure from Go: a value-struct field missing from the protobuf (no Go client
//! omits one) is left out rather than rendered as an empty struct.

mod messages;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use base64::Engine as _;
use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde_json::{Map, Number, Value};

/// The media type of Kubernetes protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The four bytes every Kubernetes protobuf body starts with.
pub const MAGIC: &[u8; 4] = b"k8s\x00";

/// Whether a `Content-Type` header value names the Kubernetes protobuf encoding (parameters
/// such as `;charset=...` are ignored; the media type is case-insensitive).
pub fn is_protobuf_content_type(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case(CONTENT_TYPE))
}

/// Why a protobuf body could not be turned into JSON.
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    #[error("empty protobuf body")]
    Empty,
    #[error("provided data does not appear to be a protobuf message, expected prefix \"k8s\\x00\"")]
    MissingMagic,
    #[error("malformed protobuf envelope (runtime.Unknown): {0}")]
    Envelope(#[source] prost::DecodeError),
    #[error("protobuf envelope names no {missing}")]
    MissingTypeMeta { missing: &'static str },
    #[error("unsupported content encoding {0:?} in protobuf envelope")]
    ContentEncoding(String),
    #[error("unsupported content type {0:?} inside protobuf envelope")]
    InnerContentType(String),
    /// The envelope names a kind this decoder has no protobuf schema for.
    #[error(
        "the body of the request was in protobuf, which is not supported for {kind} in {api_version}: send it as application/json"
    )]
    UnsupportedKind { api_version: String, kind: String },
    #[error("malformed protobuf {kind} ({api_version}): {source}")]
    Malformed {
        api_version: String,
        kind: String,
        #[source]
        source: prost::DecodeError,
    },
    /// A decoded value that has no JSON form (Go's `json.Marshal` fails on it too).
    #[error("invalid value at {path}: {message}")]
    InvalidValue { path: String, message: String },
}

impl ProtobufError {
    /// The HTTP status kube-apiserver answers with: 415 for a kind it cannot decode from
    /// protobuf, 400 for a body that is not valid.
    pub fn status_code(&self) -> u16 {
        match self {
            ProtobufError::UnsupportedKind { .. }
            | ProtobufError::ContentEncoding(_)
            | ProtobufError::InnerContentType(_) => 415,
            _ => 400,
        }
    }

    /// The `Status.reason` matching [`ProtobufError::status_code`].
    pub fn reason(&self) -> &'static str {
        if self.status_code() == 415 {
            "UnsupportedMediaType"
        } else {
            "BadRequest"
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        ProtobufError::InvalidValue {
            path: String::new(),
            message: message.into(),
        }
    }

    /// Prefixes the path of an [`ProtobufError::InvalidValue`] with the field it was found in.
    fn within(self, segment: &str) -> Self {
        match self {
            ProtobufError::InvalidValue { path, message } => ProtobufError::InvalidValue {
                path: if path.is_empty() {
                    segment.to_string()
                } else if path.starts_with('[') {
                    format!("{segment}{path}")
                } else {
                    format!("{segment}.{path}")
                },
                message,
            },
            other => other,
        }
    }
}

/// Decodes a Kubernetes protobuf request body (magic prefix, `runtime.Unknown` envelope, typed
/// object) into the object's JSON form, `kind` and `apiVersion` included.
pub fn decode_request_body(body: &[u8]) -> Result<Value, ProtobufError> {
    if body.is_empty() {
        return Err(ProtobufError::Empty);
    }
    let payload = body
        .strip_prefix(MAGIC.as_slice())
        .ok_or(ProtobufError::MissingMagic)?;
    let envelope = Unknown::decode(payload).map_err(ProtobufError::Envelope)?;
    if let Some(encoding) = envelope.content_encoding.filter(|e| !e.is_empty()) {
        return Err(ProtobufError::ContentEncoding(encoding));
    }
    if let Some(content_type) = envelope
        .content_type
        .filter(|ct| !ct.is_empty() && !is_protobuf_content_type(ct))
    {
        return Err(ProtobufError::InnerContentType(content_type));
    }
    let type_meta = envelope.type_meta.unwrap_or_default();
    let api_version =
        type_meta
            .api_version
            .filter(|v| !v.is_empty())
            .ok_or(ProtobufError::MissingTypeMeta {
                missing: "apiVersion",
            })?;
    let kind = type_meta
        .kind
        .filter(|k| !k.is_empty())
        .ok_or(ProtobufError::MissingTypeMeta { missing: "kind" })?;
    let Some(decode) = decoder_for(&api_version, &kind) else {
        return Err(ProtobufError::UnsupportedKind { api_version, kind });
    };
    let raw = envelope.raw.unwrap_or_default();
    let fields = decode(&raw).map_err(|e| match e {
        Decoding::Prost(source) => ProtobufError::Malformed {
            api_version: api_version.clone(),
            kind: kind.clone(),
            source,
        },
        Decoding::Json(e) => e,
    })?;
    let mut object = Map::with_capacity(fields.len() + 2);
    object.insert("kind".to_string(), Value::String(kind));
    object.insert("apiVersion".to_string(), Value::String(api_version));
    object.extend(fields);
    Ok(Value::Object(object))
}

/// Whether [`decode_request_body`] can decode `kind` of `apiVersion`.
pub fn supports(api_version: &str, kind: &str) -> bool {
    decoder_for(api_version, kind).is_some()
}

enum Decoding {
    Prost(prost::DecodeError),
    Json(ProtobufError),
}

type Decoder = fn(&[u8]) -> Result<Map<String, Value>, Decoding>;

fn decode_as<M: Message + Default + ToJson>(raw: &[u8]) -> Result<Map<String, Value>, Decoding> {
    let message = M::decode(raw).map_err(Decoding::Prost)?;
    match message.to_json().map_err(Decoding::Json)? {
        Value::Object(fields) => Ok(fields),
        _ => Err(Decoding::Json(ProtobufError::invalid(
            "object did not encode to a JSON object",
        ))),
    }
}

/// The decoder of every kind the emulator serves, plus the option and subresource bodies
/// typed clients send (`DeleteOptions` in any group version, `TokenRequest`).
fn decoder_for(api_version: &str, kind: &str) -> Option<Decoder> {
    use k8s_pb::api::{authentication, coordination, core, discovery, events, networking};
    let decoder: Decoder = match (api_version, kind) {
        ("v1", "Namespace") => decode_as::<core::v1::Namespace>,
        ("v1", "Pod") => decode_as::<core::v1::Pod>,
        ("v1", "Service") => decode_as::<core::v1::Service>,
        ("v1", "Endpoints") => decode_as::<core::v1::Endpoints>,
        ("v1", "Node") => decode_as::<core::v1::Node>,
        ("v1", "ConfigMap") => decode_as::<core::v1::ConfigMap>,
        ("v1", "Secret") => decode_as::<core::v1::Secret>,
        ("v1", "ServiceAccount") => decode_as::<core::v1::ServiceAccount>,
        ("v1", "Event") => decode_as::<core::v1::Event>,
        ("events.k8s.io/v1", "Event") => decode_as::<events::v1::Event>,
        ("networking.k8s.io/v1", "Ingress") => decode_as::<networking::v1::Ingress>,
        ("networking.k8s.io/v1", "NetworkPolicy") => decode_as::<networking::v1::NetworkPolicy>,
        ("discovery.k8s.io/v1", "EndpointSlice") => decode_as::<discovery::v1::EndpointSlice>,
        ("coordination.k8s.io/v1", "Lease") => decode_as::<coordination::v1::Lease>,
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition") => {
            decode_as::<apiext::CustomResourceDefinition>
        }
        ("authentication.k8s.io/v1", "TokenRequest") => {
            decode_as::<authentication::v1::TokenRequest>
        }
        // kube-apiserver registers DeleteOptions in every group version (clients send it
        // under the resource's own group version) and in meta.k8s.io.
        (_, "DeleteOptions") => decode_as::<meta::DeleteOptions>,
        _ => return None,
    };
    Some(decoder)
}

/// A protobuf value with a Kubernetes JSON form.
trait ToJson {
    fn to_json(&self) -> Result<Value, ProtobufError>;

    /// Whether this is its Go type's zero value, which `omitempty` leaves out.
    fn is_zero(&self) -> bool {
        false
    }

    /// The JSON of the Go zero value, written for an unset field without `omitempty`; `None`
    /// for structs (left out when missing, see the module doc).
    fn zero_json() -> Option<Value>
    where
        Self: Sized,
    {
        None
    }
}

/// How Go's `encoding/json` treats a field, from its Go type and `json` tag.
#[derive(Clone, Copy, Debug)]
enum GoField {
    /// A value without `omitempty`: always written, as the zero value when unset (`null` for a
    /// nil slice or map).
    Always,
    /// A value with `omitempty`: left out when it is the zero value.
    OmitEmpty,
    /// A pointer with `omitempty`: written whenever set, even to a zero value.
    Ptr,
    /// A pointer without `omitempty`: `null` when unset.
    PtrOrNull,
}

/// A field of a prost message (optional, repeated or map) rendered under a [`GoField`] rule.
trait FieldJson {
    fn field_json(&self, rule: GoField) -> Result<Option<Value>, ProtobufError>;
}

impl<T: ToJson> FieldJson for Option<T> {
    fn field_json(&self, rule: GoField) -> Result<Option<Value>, ProtobufError> {
        match (self, rule) {
            (Some(value), GoField::OmitEmpty) if value.is_zero() => Ok(None),
            (Some(value), _) => value.to_json().map(Some),
            (None, GoField::Always) => Ok(T::zero_json()),
            (None, GoField::PtrOrNull) => Ok(Some(Value::Null)),
            (None, GoField::OmitEmpty | GoField::Ptr) => Ok(None),
        }
    }
}

impl<T: ToJson> FieldJson for Vec<T> {
    fn field_json(&self, rule: GoField) -> Result<Option<Value>, ProtobufError> {
        if self.is_empty() {
            return Ok(match rule {
                GoField::Always | GoField::PtrOrNull => Some(Value::Null),
                GoField::OmitEmpty | GoField::Ptr => None,
            });
        }
        let items = self
            .iter()
            .enumerate()
            .map(|(index, item)| item.to_json().map_err(|e| e.within(&format!("[{index}]"))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(Value::Array(items)))
    }
}

impl<T: ToJson> FieldJson for BTreeMap<String, T> {
    fn field_json(&self, rule: GoField) -> Result<Option<Value>, ProtobufError> {
        if self.is_empty() {
            return Ok(match rule {
                GoField::Always | GoField::PtrOrNull => Some(Value::Null),
                GoField::OmitEmpty | GoField::Ptr => None,
            });
        }
        map_json(self).map(Some)
    }
}

/// A Go map as a JSON object (keys sorted, as Go writes them and as `BTreeMap` holds them).
fn map_json<T: ToJson>(map: &BTreeMap<String, T>) -> Result<Value, ProtobufError> {
    let mut object = Map::with_capacity(map.len());
    for (key, value) in map {
        let json = value
            .to_json()
            .map_err(|e| e.within(&format!("[{key:?}]")))?;
        object.insert(key.clone(), json);
    }
    Ok(Value::Object(object))
}

/// Writes one field into a JSON object under its Go rule.
fn put_field<F: FieldJson>(
    out: &mut Map<String, Value>,
    name: &str,
    field: &F,
    rule: GoField,
) -> Result<(), ProtobufError> {
    if let Some(json) = field.field_json(rule).map_err(|e| e.within(name))? {
        out.insert(name.to_string(), json);
    }
    Ok(())
}

/// Merges an embedded Go struct (`json:",inline"`) into the enclosing object.
fn put_inline<T: ToJson>(
    out: &mut Map<String, Value>,
    field: &Option<T>,
) -> Result<(), ProtobufError> {
    if let Some(value) = field {
        match value.to_json()? {
            Value::Object(fields) => out.extend(fields),
            _ => return Err(ProtobufError::invalid("inline struct is not an object")),
        }
    }
    Ok(())
}

/// `impl ToJson` for prost messages from a table of their fields.
///
/// Each field is `rust_name: rule "jsonName"`, where the rule is how Go encodes it
/// (`always`, `omitempty`, `ptr`, `ptr_or_null`; see [`GoField`]), or `rust_name: inline` for
/// an embedded Go struct whose fields the JSON flattens into the enclosing object.
macro_rules! go_json {
    ($( $ty:path { $( $field:ident : $rule:ident $($json:literal)? ),* $(,)? } )*) => {
        $(
            impl $crate::protobuf::ToJson for $ty {
                fn to_json(&self) -> Result<serde_json::Value, $crate::protobuf::ProtobufError> {
                    #[allow(unused_mut)]
                    let mut out = serde_json::Map::new();
                    $( go_json!(@field out, self.$field, $rule $(, $json)?); )*
                    Ok(serde_json::Value::Object(out))
                }
            }
        )*
    };
    (@field $out:ident, $value:expr, inline) => {
        $crate::protobuf::put_inline(&mut $out, &$value)?
    };
    (@field $out:ident, $value:expr, $rule:ident, $json:literal) => {
        $crate::protobuf::put_field(&mut $out, $json, &$value, go_json!(@rule $rule))?
    };
    (@rule always) => { $crate::protobuf::GoField::Always };
    (@rule omitempty) => { $crate::protobuf::GoField::OmitEmpty };
    (@rule ptr) => { $crate::protobuf::GoField::Ptr };
    (@rule ptr_or_null) => { $crate::protobuf::GoField::PtrOrNull };
}
use go_json;

impl ToJson for String {
    fn to_json(&self) -> Result<Value, ProtobufError> {
        Ok(Value::String(self.clone()))
    }
    fn is_zero(&self) -> bool {
        self.is_empty()
    }
    fn zero_json() -> Option<Value> {
        Some(Value::String(String::new()))
    }
}

impl ToJson for bool {
    fn to_json(&self) -> Result<Value, ProtobufError> {
        Ok(Value::Bool(*self))
    }
    fn is_zero(&self) -> bool {
        !*self
    }
    fn zero_json() -> Option<Value> {
        Some(Value::Bool(false))
    }
}

impl ToJson for i32 {
    fn to_json(&self) -> Result<Value, ProtobufError> {
        Ok(Value::from(*self))
    }
    fn is_zero(&self) -> bool {
        *self == 0
    }
    fn zero_json() -> Option<Value> {
        Some(Value::from(0))
    }
}

impl ToJson for i64 {
    fn to_json(&self) -> Result<Value, ProtobufError> {
        Ok(Value::from(*self))
    }
    fn is_zero(&self) -> bool {
        *self == 0
    }
    fn zero_json() -> Option<Value> {
        Some(Value::from(0))
    }
}

/// Go writes a float64 without a fraction as an integer (`1`, not `1.0`); JSON has no NaN or
/// infinity, and Go's encoder refuses them.
impl ToJson for f64 {
    fn to_json(&self) -> Result<Value, ProtobufError> {
        const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53
        if !self.is_finite() {
            return Err(ProtobufError::invalid(format!(
                "{self} has no JSON representation"
            )));
        }
        if self.fract() == 0.0 && self.abs() < EXACT_INTEGER_LIMIT {
            // Exact: the value is an integer of magnitude below 2^53.
            return Ok(Value::from(*self as i64));
        }
        Number::from_f64(*self)
            .map(Value::Number)
            .ok_or_else(|| ProtobufError::invalid(format!("{self} has no JSON representation")))
    }
    fn is_zero(&self) -> bool {
        *self == 0.0
    }
    fn zero_json() -> Option<Value> {
        Some(Value::from(0))
    }
}

/// `[]byte`: base64 (standard alphabet, padded) as Go writes it.
impl ToJson for Vec<u8> {
    fn to_json(&self) -> Result<Value, ProtobufError> {
        Ok(Value::String(
            base64::engine::general_purpose::STANDARD.encode(self),
        ))
    }
    fn is_zero(&self) -> bool {
        self.is_empty()
    }
    fn zero_json() -> Option<Value> {
        Some(Value::Null)
    }
}

impl<T: ToJson> ToJson for Box<T> {
    fn to_json(&self) -> Result<Value, ProtobufError> {
        (**self).to_json()
    }
    fn is_zero(&self) -> bool {
        (**self).is_zero()
    }
    fn zero_json() -> Option<Value> {
        T::zero_json()
    }
}

/// Seconds from 0001-01-01T00:00:00Z to the Unix epoch: Go's zero `time.Time`.
const GO_ZERO_TIME_UNIX_SECONDS: i64 = -62_135_596_800;

/// The UTC civil time of a protobuf `Timestamp`, or `None` for Go's zero time (an empty
/// message, as Go writes a zero `metav1.Time`, or 0001-01-01T00:00:00Z).
fn civil_time(
    seconds: Option<i64>,
    nanos: Option<i32>,
) -> Result<Option<jiff::civil::DateTime>, ProtobufError> {
    if seconds.is_none() && nanos.is_none() {
        return Ok(None);
    }
    let (seconds, nanos) = (seconds.unwrap_or(0), nanos.unwrap_or(0));
    if seconds == GO_ZERO_TIME_UNIX_SECONDS && nanos == 0 {
        return Ok(None);
    }
    // Go's time.Unix normalises nanoseconds outside [0, 1e9) into the seconds.
    let total_nanos = i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
    let timestamp = jiff::Timestamp::from_nanosecond(total_nanos)
        .map_err(|_| ProtobufError::invalid("time outside of range [0,9999] years"))?;
    let civil = jiff::tz::Offset::UTC.to_datetime(timestamp);
    if !(0..=9999).contains(&civil.year()) {
        return Err(ProtobufError::invalid(
            "Time.MarshalJSON: year outside of range [0,9999]",
        ));
    }
    Ok(Some(civil))
}

fn rfc3339_seconds(civil: &jiff::civil::DateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        civil.year(),
        civil.month(),
        civil.day(),
        civil.hour(),
        civil.minute(),
        civil.second()
    )
}

/// `metav1.Time`: RFC 3339 in UTC with whole seconds; the zero time is `null`.
impl ToJson for meta::Time {
    fn to_json(&self) -> Result<Value, ProtobufError> {
        Ok(match civil_time(self.seconds, self.nanos)? {
            Some(civil) => Value::String(format!("{}Z", rfc3339_seconds(&civil))),
            None => Value::Null,
        })
    }
}

/// `metav1.MicroTime`: RFC 3339 in UTC with exactly six fractional digits (truncated); the
/// zero time is `null`.
impl ToJson for meta::MicroTime {
    fn to_json(&self) -> Result<Value, ProtobufError> {
        Ok(match civil_time(self.seconds, self.nanos)? {
            Some(civil) => Value::String(format!(
                "{}.{:06}Z",
                rfc3339_seconds(&civil),
                civil.subsec_nanosecond() / 1000
            )),
            None => Value::Null,
        })
    }
}

/// `intstr.IntOrString`: type 0 is the int, type 1 the string.
impl ToJson for IntOrString {
    fn to_json(&self) -> Result<Value, ProtobufError> {
        match self.r#type.unwrap_or(0) {
            0 => Ok(Value::from(self.int_val.unwrap_or(0))),
            1 => Ok(Value::String(self.str_val.clone().unwrap_or_default())),
            other => Err(ProtobufError::invalid(format!(
                "impossible IntOrString.Type {other}"
            ))),
        }
    }
}

/// `resource.Quantity`: its string; an unset string is the zero quantity `"0"`. Go clients
/// send the canonical form, which is kept as it is.
impl ToJson for Quantity {
    fn to_json(&self) -> Result<Value, ProtobufError> {
        match self.string.as_deref() {
            None => Ok(Value::String("0".to_string())),
            Some("") => Err(ProtobufError::invalid(
                "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            )),
            Some(quantity) => Ok(Value::String(quantity.to_string())),
        }
    }
}

/// Raw JSON carried in protobuf bytes (`FieldsV1`, apiextensions `JSON`); nothing is `null`.
fn embedded_json(raw: Option<&[u8]>) -> Result<Value, ProtobufError> {
    match raw {
        None | Some([]) => Ok(Value::Null),
        Some(bytes) => serde_json::from_slice(bytes)
            .map_err(|e| ProtobufError::invalid(format!("embedded JSON is not valid: {e}"))),
    }
}

/// `metav1.FieldsV1`: the raw JSON of the field set.
impl ToJson for meta::FieldsV1 {
    fn to_json(&self) -> Result<Value, ProtobufError> {
        embedded_json(self.raw.as_deref())
    }
}

/// apiextensions `JSON` (schema `default`, `example`, `enum` items): the raw JSON value.
impl ToJson for apiext::Json {
    fn to_json(&self) -> Result<Value, ProtobufError> {
        embedded_json(self.raw.as_deref())
    }
}

/// `items`: an array of schemas when several are given, otherwise the one schema (or `null`).
impl ToJson for apiext::JsonSchemaPropsOrArray {
    fn to_json(&self) -> Result<Value, ProtobufError> {
        if !self.j_son_schemas.is_empty() {
            return Ok(self
                .j_son_schemas
                .field_json(GoField::OmitEmpty)?
                .unwrap_or(Value::Null));
        }
        match &self.schema {
            Some(schema) => schema.to_json(),
            None => Ok(Value::Null),
        }
    }
}

/// `additionalProperties`/`additionalItems`: the schema when given, else the boolean.
impl ToJson for apiext::JsonSchemaPropsOrBool {
    fn to_json(&self) -> Result<Value, ProtobufError> {
        match &self.schema {
            Some(schema) => schema.to_json(),
            None => Ok(Value::Bool(self.allows.unwrap_or(false))),
        }
    }
}

/// `dependencies` values: the property list when given, else the schema (or `null`).
impl ToJson for apiext::JsonSchemaPropsOrStringArray {
    fn to_json(&self) -> Result<Value, ProtobufError> {
        if !self.property.is_empty() {
            return Ok(Value::Array(
                self.property.iter().cloned().map(Value::String).collect(),
            ));
        }
        match &self.schema {
            Some(schema) => schema.to_json(),
            None => Ok(Value::Null),
        }
    }
}
