//! JSON merge patch (RFC 7386) and JSON patch (RFC 6902) as kube-apiserver applies them,
//! with its error mapping (`patch.go`): an undecodable patch is a 400 `BadRequest`, a JSON
//! patch that does not apply is a 422 with the message "the server rejected our request
//! due to an error in our request" and the library's explanation as the cause.
//!
//! The explanation texts imitate gopkg.in/evanphx/json-patch.v4 (the library kube uses):
//! "replace operation does not apply: doc is missing key: /spec/x: missing value",
//! "testing value /spec/x failed: test failed", ...; they are close but not byte-identical
//! for every corner case.

use serde_json::{Value, json};

/// A patch kube-apiserver would refuse; `code` is the HTTP status.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct PatchError {
    pub code: u16,
    /// `Status.reason` (`BadRequest`, `Invalid`, or "" for an internal error).
    pub reason: String,
    pub message: String,
    /// A cause message, when kube attaches one (422 JSON patch failures).
    pub cause: Option<String>,
}

impl PatchError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        PatchError {
            code: 400,
            reason: "BadRequest".into(),
            message: message.into(),
            cause: None,
        }
    }

    /// `errors.NewGenericServerResponse(422, ...)` with the server message as cause.
    pub fn unprocessable(server_message: impl Into<String>) -> Self {
        PatchError {
            code: 422,
            reason: "Invalid".into(),
            message: "the server rejected our request due to an error in our request".into(),
            cause: Some(server_message.into()),
        }
    }

    /// A plain error kube does not convert (reported as a 500 with reason "").
    pub fn internal(message: impl Into<String>) -> Self {
        PatchError {
            code: 500,
            reason: String::new(),
            message: message.into(),
            cause: None,
        }
    }

    /// The `Status` object kube-apiserver returns for this error.
    pub fn status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "code": self.code,
        });
        if !self.reason.is_empty() {
            status["reason"] = Value::String(self.reason.clone());
        }
        if let Some(cause) = &self.cause {
            status["details"] = json!({"causes": [{"message": cause}]});
        }
        status
    }
}

/// Applies a JSON merge patch (`application/merge-patch+json`).
pub fn merge_patch(target: &mut Value, patch: &Value) {
    json_patch::merge(target, patch);
}

/// Parses and applies a JSON patch (`application/json-patch+json`). The document is left
/// unchanged on error.
pub fn apply_json_patch(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let operations: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| PatchError::bad_request(decode_message(patch, &e.to_string())))?;
    json_patch::patch(target, &operations).map_err(|e| {
        let operation = operations.0.get(e.operation);
        PatchError::unprocessable(explain(operation, &e))
    })
}

fn decode_message(patch: &Value, detail: &str) -> String {
    if !patch.is_array() {
        return "json: cannot unmarshal object into Go value of type jsonpatch.Patch".into();
    }
    format!("invalid JSON patch: {detail}")
}

fn explain(
    operation: Option<&json_patch::PatchOperation>,
    error: &json_patch::PatchError,
) -> String {
    use json_patch::{PatchErrorKind, PatchOperation};
    let path = error.path.to_string();
    match (operation, &error.kind) {
        (Some(PatchOperation::Test(_)), PatchErrorKind::TestFailed) => {
            format!("testing value {path} failed: test failed")
        }
        (Some(PatchOperation::Add(_)), _) => {
            format!("add operation does not apply: doc is missing path: \"{path}\": missing value")
        }
        (Some(PatchOperation::Remove(_)), _) => {
            format!(
                "remove operation does not apply: doc is missing path: \"{path}\": missing value"
            )
        }
        (Some(PatchOperation::Replace(_)), _) => {
            format!("replace operation does not apply: doc is missing key: {path}: missing value")
        }
        (Some(PatchOperation::Move(m)), _) => format!(
            "move operation does not apply: doc is missing from path: {}: missing value",
            m.from
        ),
        (Some(PatchOperation::Copy(c)), _) => format!(
            "copy operation does not apply: doc is missing from path: {}: missing value",
            c.from
        ),
        (Some(PatchOperation::Test(_)), _) => {
            format!("testing value {path} failed: missing value")
        }
        (None, kind) => kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_rfc7386() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        merge_patch(&mut doc, &json!({"a": "z", "c": {"f": null}, "l": [3]}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}, "l": [3]}));
        merge_patch(&mut doc, &json!("scalar"));
        assert_eq!(doc, json!("scalar"));
    }

    #[test]
    fn json_patch_applies() {
        let mut doc = json!({"spec": {"replicas": 1, "list": ["a"]}});
        apply_json_patch(
            &mut doc,
            &json!([
                {"op": "replace", "path": "/spec/replicas", "value": 3},
                {"op": "add", "path": "/spec/list/-", "value": "b"},
                {"op": "test", "path": "/spec/replicas", "value": 3}
            ]),
        )
        .expect("applies");
        assert_eq!(doc, json!({"spec": {"replicas": 3, "list": ["a", "b"]}}));
    }

    #[test]
    fn json_patch_errors_and_atomicity() {
        let original = json!({"spec": {"replicas": 1}});
        let mut doc = original.clone();
        let err = apply_json_patch(
            &mut doc,
            &json!([
                {"op": "replace", "path": "/spec/replicas", "value": 2},
                {"op": "test", "path": "/spec/replicas", "value": 5}
            ]),
        )
        .expect_err("test fails");
        assert_eq!(doc, original, "document unchanged on failure");
        assert_eq!(err.code, 422);
        assert_eq!(
            err.cause.as_deref(),
            Some("testing value /spec/replicas failed: test failed")
        );
        let status = err.status();
        assert_eq!(status["reason"], "Invalid");
        assert_eq!(
            status["message"],
            "the server rejected our request due to an error in our request"
        );

        let err = apply_json_patch(
            &mut doc,
            &json!([{"op": "replace", "path": "/spec/x", "value": 1}]),
        )
        .expect_err("missing");
        assert_eq!(
            err.cause.as_deref(),
            Some("replace operation does not apply: doc is missing key: /spec/x: missing value")
        );
        let err = apply_json_patch(&mut doc, &json!({"op": "add"})).expect_err("not a list");
        assert_eq!(err.code, 400);
        assert_eq!(err.status()["reason"], "BadRequest");
        let err = apply_json_patch(&mut doc, &json!([{"op": "frobnicate", "path": "/a"}]))
            .expect_err("bad op");
        assert_eq!(err.code, 400);
    }
}
