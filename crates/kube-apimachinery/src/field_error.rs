//! The validation error vocabulary shared by every rule in this crate, modelled on
//! k8s.io/apimachinery's `field.Error` / `field.ErrorList`, and the 422 `Status` that
//! kube-apiserver builds from them (`errors.NewInvalid`).
//!
//! Rendering follows the Go code exactly: `ErrorBody` prints the kind's text
//! (`Invalid value`, `Required value`, ...), then the bad value (strings Go-quoted with
//! `%q`, numbers and booleans with `%v`, anything else JSON-encoded as Go's
//! `encoding/json` does), then `: detail`. `Required`, `Forbidden` and `TooLong` never print
//! the value.
//!
//! Known gaps: Go's `%q` escapes every rune that `unicode.IsPrint` rejects; we approximate
//! that set with Rust's control/whitespace classes (identical for ASCII and the common
//! cases, possibly different for rare unassigned code points).

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Map, Value, json};

/// The machine-readable kind of a field error (`field.ErrorType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldErrorKind {
    NotFound,
    Required,
    Duplicate,
    Invalid,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    Internal,
    TypeInvalid,
}

impl FieldErrorKind {
    /// The `reason` of a `StatusCause` (`metav1.CauseType`).
    pub fn reason(self) -> &'static str {
        match self {
            FieldErrorKind::NotFound => "FieldValueNotFound",
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Duplicate => "FieldValueDuplicate",
            FieldErrorKind::Invalid => "FieldValueInvalid",
            FieldErrorKind::NotSupported => "FieldValueNotSupported",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::TooLong => "FieldValueTooLong",
            FieldErrorKind::TooMany => "FieldValueTooMany",
            FieldErrorKind::Internal => "InternalError",
            FieldErrorKind::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// The human text (`ErrorType.String()`).
    pub fn text(self) -> &'static str {
        match self {
            FieldErrorKind::NotFound => "Not found",
            FieldErrorKind::Required => "Required value",
            FieldErrorKind::Duplicate => "Duplicate value",
            FieldErrorKind::Invalid | FieldErrorKind::TypeInvalid => "Invalid value",
            FieldErrorKind::NotSupported => "Unsupported value",
            FieldErrorKind::Forbidden => "Forbidden",
            FieldErrorKind::TooLong => "Too long",
            FieldErrorKind::TooMany => "Too many",
            FieldErrorKind::Internal => "Internal error",
        }
    }
}

/// One field-level validation error (`field.Error`).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub kind: FieldErrorKind,
    /// The field path as kube renders it (`spec.ingress[0].ports[1].protocol`).
    pub field: String,
    /// The offending value; `None` means "omitted" (only the kind's text is printed).
    pub bad_value: Option<Value>,
    pub detail: String,
}

impl FieldError {
    pub fn new(
        kind: FieldErrorKind,
        field: impl Into<String>,
        bad_value: Option<Value>,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            kind,
            field: field.into(),
            bad_value,
            detail: detail.into(),
        }
    }

    /// `field.Invalid`.
    pub fn invalid(field: impl Into<String>, value: Value, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Invalid, field, Some(value), detail)
    }

    /// `field.TypeInvalid`.
    pub fn type_invalid(field: impl Into<String>, value: Value, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::TypeInvalid, field, Some(value), detail)
    }

    /// `field.Required`.
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(
            FieldErrorKind::Required,
            field,
            Some(Value::String(String::new())),
            detail,
        )
    }

    /// `field.Forbidden`.
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(
            FieldErrorKind::Forbidden,
            field,
            Some(Value::String(String::new())),
            detail,
        )
    }

    /// `field.Duplicate`.
    pub fn duplicate(field: impl Into<String>, value: Value) -> Self {
        Self::new(FieldErrorKind::Duplicate, field, Some(value), "")
    }

    /// `field.NotFound`.
    pub fn not_found(field: impl Into<String>, value: Value) -> Self {
        Self::new(FieldErrorKind::NotFound, field, Some(value), "")
    }

    /// `field.NotSupported`: the detail lists the supported values, each Go-quoted.
    pub fn not_supported<S: AsRef<str>>(
        field: impl Into<String>,
        value: Value,
        supported: &[S],
    ) -> Self {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| go_quote(s.as_ref())).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(FieldErrorKind::NotSupported, field, Some(value), detail)
    }

    /// `field.TooLong` (the value is never printed); a negative `max_bytes` gives the
    /// generic "value is too long".
    pub fn too_long(field: impl Into<String>, max_bytes: i64) -> Self {
        let detail = if max_bytes >= 0 {
            let unit = if max_bytes == 1 { "byte" } else { "bytes" };
            format!("may not be more than {max_bytes} {unit}")
        } else {
            "value is too long".to_string()
        };
        Self::new(
            FieldErrorKind::TooLong,
            field,
            Some(Value::String("<value omitted>".into())),
            detail,
        )
    }

    /// `field.TooMany`; negative numbers mean "unknown" as in Go.
    pub fn too_many(field: impl Into<String>, actual: i64, max: i64) -> Self {
        let detail = if max >= 0 {
            let unit = if max == 1 { "item" } else { "items" };
            format!("must have at most {max} {unit}")
        } else {
            "has too many items".to_string()
        };
        let value = (actual >= 0).then(|| Value::from(actual));
        Self::new(FieldErrorKind::TooMany, field, value, detail)
    }

    /// `field.InternalError`.
    pub fn internal(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Internal, field, None, detail)
    }

    /// `ErrorBody()`: the message without the field path.
    pub fn body(&self) -> String {
        let mut body = match self.kind {
            FieldErrorKind::Required
            | FieldErrorKind::Forbidden
            | FieldErrorKind::TooLong
            | FieldErrorKind::Internal => self.kind.text().to_string(),
            _ => match &self.bad_value {
                None => self.kind.text().to_string(),
                Some(value) => format!("{}: {}", self.kind.text(), go_value(value)),
            },
        };
        if !self.detail.is_empty() {
            body.push_str(": ");
            body.push_str(&self.detail);
        }
        body
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

impl std::error::Error for FieldError {}

/// A field path under construction (`field.Path`): `metadata.labels`, `spec.ports[0]`,
/// `spec.selector[app]`. The "nil path" renders as `<nil>` exactly as Go does when a
/// validator is handed no path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldPath(Option<String>);

impl FieldPath {
    /// The nil path (renders as `<nil>`; its children start fresh).
    pub fn nil() -> Self {
        FieldPath(None)
    }

    pub fn new(name: &str) -> Self {
        FieldPath(Some(name.to_string()))
    }

    pub fn child(&self, name: &str) -> Self {
        match &self.0 {
            None => FieldPath::new(name),
            Some(path) if path.is_empty() => FieldPath::new(name),
            Some(path) => FieldPath(Some(format!("{path}.{name}"))),
        }
    }

    pub fn index(&self, index: usize) -> Self {
        FieldPath(Some(format!(
            "{}[{index}]",
            self.0.as_deref().unwrap_or("")
        )))
    }

    pub fn key(&self, key: &str) -> Self {
        FieldPath(Some(format!("{}[{key}]", self.0.as_deref().unwrap_or(""))))
    }

    pub fn is_nil(&self) -> bool {
        self.0.is_none()
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_deref().unwrap_or("<nil>"))
    }
}

impl From<FieldPath> for String {
    fn from(path: FieldPath) -> String {
        path.to_string()
    }
}

impl From<&FieldPath> for String {
    fn from(path: &FieldPath) -> String {
        path.to_string()
    }
}

/// `field.ErrorList.ToAggregate().Error()`: duplicates (by message) dropped, one error
/// printed bare, several joined with ", " inside `[...]`. Empty gives "".
pub fn aggregate_message(errors: &[FieldError]) -> String {
    let mut seen = BTreeSet::new();
    let mut messages = Vec::new();
    for error in errors {
        let message = error.to_string();
        if seen.insert(message.clone()) {
            messages.push(message);
        }
    }
    match messages.len() {
        0 => String::new(),
        1 => messages.remove(0),
        _ => format!("[{}]", messages.join(", ")),
    }
}

/// The complete 422 `Status` kube-apiserver returns for invalid objects
/// (`errors.NewInvalid(schema.GroupKind{group, kind}, name, errors)`).
pub fn invalid_status(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> Value {
    let qualified_kind = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    let quoted_name = go_quote(name);
    let message = if errors.is_empty() {
        format!("{qualified_kind} {quoted_name} is invalid")
    } else {
        format!(
            "{qualified_kind} {quoted_name} is invalid: {}",
            aggregate_message(errors)
        )
    };
    let causes: Vec<Value> = errors
        .iter()
        .map(|error| {
            let mut cause = Map::new();
            cause.insert("reason".into(), Value::String(error.kind.reason().into()));
            let body = error.body();
            if !body.is_empty() {
                cause.insert("message".into(), Value::String(body));
            }
            if !error.field.is_empty() {
                cause.insert("field".into(), Value::String(error.field.clone()));
            }
            Value::Object(cause)
        })
        .collect();
    let mut details = Map::new();
    if !name.is_empty() {
        details.insert("name".into(), Value::String(name.into()));
    }
    if !group.is_empty() {
        details.insert("group".into(), Value::String(group.into()));
    }
    if !kind.is_empty() {
        details.insert("kind".into(), Value::String(kind.into()));
    }
    if !causes.is_empty() {
        details.insert("causes".into(), Value::Array(causes));
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Invalid",
        "details": Value::Object(details),
        "code": 422,
    })
}

/// Renders a bad value the way `ErrorBody` does: strings `%q`, numbers and booleans `%v`,
/// null as `null`, arrays and objects as Go's `json.Marshal`.
pub fn go_value(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => go_number_v(n),
        Value::String(s) => go_quote(s),
        Value::Array(_) | Value::Object(_) => go_json(value),
    }
}

/// `fmt.Sprintf("%v", x)` for a JSON number as decoded into unstructured content
/// (`int64` for integers, `float64` otherwise).
pub fn go_number_v(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        go_float_g(n.as_f64().unwrap_or(0.0))
    }
}

/// Go's `%v` / `strconv.FormatFloat(f, 'g', -1, 64)`.
pub fn go_float_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let (negative, digits, exp) = shortest_digits(f);
    let sign = if negative { "-" } else { "" };
    // Go uses %e when the exponent is < -4 or >= 6 for the shortest representation.
    if !(-4..6).contains(&exp) {
        format!("{sign}{}", format_e(&digits, exp))
    } else {
        format!("{sign}{}", format_f(&digits, exp))
    }
}

/// Go's `encoding/json` float encoding (`'f'` unless the magnitude is < 1e-6 or >= 1e21).
pub fn go_json_float(f: f64) -> String {
    if !f.is_finite() {
        return "null".into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let (negative, digits, exp) = shortest_digits(f);
    let sign = if negative { "-" } else { "" };
    let abs = f.abs();
    if !(1e-6..1e21).contains(&abs) {
        let mut e = format_e(&digits, exp);
        // Go cleans up e-09 to e-9 (negative exponents only).
        if let Some(pos) = e.find("e-0") {
            e.replace_range(pos..pos + 3, "e-");
        }
        format!("{sign}{e}")
    } else {
        format!("{sign}{}", format_f(&digits, exp))
    }
}

/// Shortest round-trip decimal digits of `f` and the decimal exponent of the first digit.
fn shortest_digits(f: f64) -> (bool, String, i32) {
    let formatted = format!("{:e}", f.abs());
    let (mantissa, exponent) = formatted.split_once('e').unwrap_or((&formatted, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exp: i32 = exponent.parse().unwrap_or(0);
    (f.is_sign_negative(), digits, exp)
}

/// `d.ddde±XX` with at least two exponent digits.
fn format_e(digits: &str, exp: i32) -> String {
    let mut out = String::new();
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    let magnitude = exp.unsigned_abs();
    if magnitude < 10 {
        out.push('0');
    }
    out.push_str(&magnitude.to_string());
    out
}

/// Plain decimal notation of `0.digits × 10^(exp+1)`.
fn format_f(digits: &str, exp: i32) -> String {
    let point = exp + 1; // digits before the decimal point
    if point <= 0 {
        format!("0.{}{}", "0".repeat(point.unsigned_abs() as usize), digits)
    } else if point as usize >= digits.len() {
        format!("{}{}", digits, "0".repeat(point as usize - digits.len()))
    } else {
        let (int_part, frac) = digits.split_at(point as usize);
        format!("{int_part}.{frac}")
    }
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let code = c as u32;
    // Private use, surrogates and noncharacters are not printable in Go.
    !((0xE000..=0xF8FF).contains(&code)
        || (0xFDD0..=0xFDEF).contains(&code)
        || code & 0xFFFE == 0xFFFE
        || (0xF0000..).contains(&code)
        || matches!(code, 0x00AD | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x206F | 0xFEFF))
}

/// Go's `json.Marshal` of an unstructured value: object keys sorted, HTML-sensitive
/// characters escaped, floats in Go's format.
pub fn go_json(value: &Value) -> String {
    let mut out = String::new();
    write_go_json(value, &mut out);
    out
}

fn write_go_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                out.push_str(&go_json_float(n.as_f64().unwrap_or(0.0)));
            }
        }
        Value::String(s) => write_go_json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json_string(key, out);
                out.push(':');
                write_go_json(&map[key], out);
            }
            out.push('}');
        }
    }
}

fn write_go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_value_with_number_and_detail() {
        let error = FieldError::invalid(
            "spec.priority",
            json!(0),
            "spec.priority in body should be greater than or equal to 1",
        );
        assert_eq!(
            error.to_string(),
            "spec.priority: Invalid value: 0: spec.priority in body should be greater than or equal to 1"
        );
        assert_eq!(error.kind.reason(), "FieldValueInvalid");
    }

    #[test]
    fn required_never_prints_value() {
        assert_eq!(
            FieldError::required("spec.tier", "").to_string(),
            "spec.tier: Required value"
        );
        assert_eq!(
            FieldError::required("metadata.name", "name or generateName is required").to_string(),
            "metadata.name: Required value: name or generateName is required"
        );
    }

    #[test]
    fn not_supported_lists_quoted_values() {
        let error = FieldError::not_supported(
            "spec.ingress[0].action",
            json!("Foo"),
            &["Allow", "Drop", "Reject", "Pass"],
        );
        assert_eq!(
            error.to_string(),
            r#"spec.ingress[0].action: Unsupported value: "Foo": supported values: "Allow", "Drop", "Reject", "Pass""#
        );
        assert_eq!(error.kind.reason(), "FieldValueNotSupported");
    }

    #[test]
    fn too_long_and_too_many() {
        assert_eq!(
            FieldError::too_long("metadata.annotations", 262144).to_string(),
            "metadata.annotations: Too long: may not be more than 262144 bytes"
        );
        assert_eq!(
            FieldError::too_long("x", 1).to_string(),
            "x: Too long: may not be more than 1 byte"
        );
        assert_eq!(
            FieldError::too_long("x", -1).to_string(),
            "x: Too long: value is too long"
        );
        assert_eq!(
            FieldError::too_many("spec.x", 3, 2).to_string(),
            "spec.x: Too many: 3: must have at most 2 items"
        );
        assert_eq!(
            FieldError::too_many("spec.x", -1, 1).to_string(),
            "spec.x: Too many: must have at most 1 item"
        );
    }

    #[test]
    fn forbidden_and_duplicate_and_type_invalid() {
        assert_eq!(
            FieldError::forbidden("metadata.namespace", "not allowed on this type").to_string(),
            "metadata.namespace: Forbidden: not allowed on this type"
        );
        assert_eq!(
            FieldError::duplicate("spec.x[1]", json!({"name": "a"})).to_string(),
            r#"spec.x[1]: Duplicate value: {"name":"a"}"#
        );
        let error = FieldError::type_invalid(
            "spec.x",
            json!("string"),
            r#"spec.x in body must be of type integer: "string""#,
        );
        assert_eq!(
            error.to_string(),
            r#"spec.x: Invalid value: "string": spec.x in body must be of type integer: "string""#
        );
        assert_eq!(error.kind.reason(), "FieldValueTypeInvalid");
    }

    #[test]
    fn values_render_like_go() {
        assert_eq!(go_value(&json!(null)), "null");
        assert_eq!(go_value(&json!(true)), "true");
        assert_eq!(go_value(&json!(-12)), "-12");
        assert_eq!(go_value(&json!(0.5)), "0.5");
        assert_eq!(go_value(&json!(1.0)), "1");
        assert_eq!(go_value(&json!(1e6)), "1e+06");
        assert_eq!(go_value(&json!(123456.0)), "123456");
        assert_eq!(go_value(&json!(1.5e-7)), "1.5e-07");
        assert_eq!(go_value(&json!(0.0001)), "0.0001");
        assert_eq!(go_value(&json!(10000.5)), "10000.5");
        assert_eq!(go_value(&json!("a\"b\n")), r#""a\"b\n""#);
        assert_eq!(go_value(&json!("é")), "\"é\"");
        assert_eq!(go_value(&json!("\u{1}")), r#""\x01""#);
        assert_eq!(
            go_value(&json!({"b": [1, 2.5, "<x>"], "a": null})),
            r#"{"a":null,"b":[1,2.5,"\u003cx\u003e"]}"#
        );
        assert_eq!(go_json(&json!(1e21)), "1e+21");
        assert_eq!(go_json(&json!(1e-7)), "1e-7");
        assert_eq!(go_json(&json!(123.25)), "123.25");
    }

    #[test]
    fn paths_render_like_field_path() {
        let path = FieldPath::new("spec")
            .child("ingress")
            .index(0)
            .child("ports");
        assert_eq!(path.to_string(), "spec.ingress[0].ports");
        assert_eq!(FieldPath::nil().to_string(), "<nil>");
        assert_eq!(FieldPath::nil().child("key").to_string(), "key");
        assert_eq!(
            FieldPath::nil()
                .child("values")
                .index(0)
                .key("app")
                .to_string(),
            "values[0][app]"
        );
    }

    #[test]
    fn aggregate_dedups_and_brackets() {
        let a = FieldError::required("a", "");
        let b = FieldError::required("b", "");
        assert_eq!(
            aggregate_message(std::slice::from_ref(&a)),
            "a: Required value"
        );
        assert_eq!(
            aggregate_message(&[a.clone(), b.clone(), a.clone()]),
            "[a: Required value, b: Required value]"
        );
        assert_eq!(aggregate_message(&[a.clone(), a]), "a: Required value");
    }

    #[test]
    fn invalid_status_single_cause() {
        let status = invalid_status(
            "ClusterNetworkPolicy",
            "crd.antrea.io",
            "p1",
            &[FieldError::invalid(
                "spec.priority",
                json!(0),
                "spec.priority in body should be greater than or equal to 1",
            )],
        );
        insta::assert_json_snapshot!(status, @r#"
        {
          "kind": "Status",
          "apiVersion": "v1",
          "metadata": {},
          "status": "Failure",
          "message": "ClusterNetworkPolicy.crd.antrea.io \"p1\" is invalid: spec.priority: Invalid value: 0: spec.priority in body should be greater than or equal to 1",
          "reason": "Invalid",
          "details": {
            "name": "p1",
            "group": "crd.antrea.io",
            "kind": "ClusterNetworkPolicy",
            "causes": [
              {
                "reason": "FieldValueInvalid",
                "message": "Invalid value: 0: spec.priority in body should be greater than or equal to 1",
                "field": "spec.priority"
              }
            ]
          },
          "code": 422
        }
        "#);
    }

    #[test]
    fn invalid_status_core_group_and_many_causes() {
        let status = invalid_status(
            "Pod",
            "",
            "Foo",
            &[
                FieldError::required("spec.containers", ""),
                FieldError::invalid("metadata.name", json!("Foo"), "bad"),
            ],
        );
        assert_eq!(
            status["message"],
            "Pod \"Foo\" is invalid: [spec.containers: Required value, metadata.name: Invalid value: \"Foo\": bad]"
        );
        assert!(status["details"].get("group").is_none());
        assert_eq!(status["details"]["causes"][0]["message"], "Required value");
        assert_eq!(
            status["details"]["causes"].as_array().map(Vec::len),
            Some(2)
        );
    }
}
