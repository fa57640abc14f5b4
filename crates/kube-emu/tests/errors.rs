//! Bad requests get Kubernetes `Status` answers with the right code and reason, never a
//! crash.

use http_body_util::BodyExt;
use kube_emu::KubeEmu;
use serde_json::Value;
use tower::ServiceExt as _;

async fn send(
    emu: &KubeEmu,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, Value) {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let response = emu.router().oneshot(request).await.unwrap();
    let code = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn malformed_requests_are_answered_with_statuses() {
    // Raw requests to the emulator's router.
    if !e2e::emulator_only("malformed_requests_are_answered_with_statuses") {
        return;
    }
    let emu = KubeEmu::new();
    let json = "application/json";
    let cases: Vec<(&str, &str, &str, &str, u16, &str)> = vec![
        ("GET", "/api/v1/widgets", json, "", 404, "NotFound"),
        (
            "GET",
            "/apis/nowhere.io/v1/things",
            json,
            "",
            404,
            "NotFound",
        ),
        (
            "GET",
            "/api/v1/namespaces/default/pods/p/log",
            json,
            "",
            404,
            "NotFound",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps/named",
            json,
            "{}",
            405,
            "MethodNotAllowed",
        ),
        (
            "PUT",
            "/api/v1/namespaces/default/configmaps",
            json,
            "{}",
            405,
            "MethodNotAllowed",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            json,
            "{not json",
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            json,
            "[1, 2]",
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            json,
            "\"text\"",
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            json,
            r#"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"x"}}"#,
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            json,
            r#"{"metadata":{"name":"x","labels":"oops"}}"#,
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            json,
            r#"{"metadata":{"name":"Bad_Name"}}"#,
            422,
            "Invalid",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            json,
            r#"{"metadata":{}}"#,
            422,
            "Invalid",
        ),
        (
            "POST",
            "/api/v1/namespaces/other/configmaps",
            json,
            r#"{"metadata":{"name":"x","namespace":"default"}}"#,
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/pods",
            json,
            r#"{"metadata":{"name":"p"},"spec":{"containers":"nope"}}"#,
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/pods",
            json,
            r#"{"metadata":{"name":"p"},"spec":{}}"#,
            422,
            "Invalid",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "text/plain",
            "{}",
            415,
            "UnsupportedMediaType",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default/configmaps/x",
            "text/plain",
            "{}",
            415,
            "UnsupportedMediaType",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default/configmaps/x",
            "application/merge-patch+json",
            "{",
            400,
            "BadRequest",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default/configmaps/x",
            "application/apply-patch+yaml",
            "data: {}",
            422,
            "Invalid",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default/configmaps/x?fieldManager=m",
            "application/apply-patch+yaml",
            "data: {}",
            400,
            "BadRequest",
        ),
        ("GET", "/api/v1/pods?limit=abc", json, "", 400, "BadRequest"),
        (
            "GET",
            "/api/v1/pods?resourceVersion=xyz&resourceVersionMatch=Exact",
            json,
            "",
            400,
            "BadRequest",
        ),
        (
            "GET",
            "/api/v1/pods?continue=garbage",
            json,
            "",
            400,
            "BadRequest",
        ),
        (
            "GET",
            "/api/v1/pods?labelSelector=a%20in%20(",
            json,
            "",
            400,
            "BadRequest",
        ),
        (
            "GET",
            "/api/v1/pods?watch=true&sendInitialEvents=true",
            json,
            "",
            422,
            "Invalid",
        ),
        (
            "DELETE",
            "/api/v1/namespaces/default/configmaps/x",
            json,
            "not json",
            400,
            "BadRequest",
        ),
        (
            "DELETE",
            "/api/v1/namespaces/default/configmaps/missing",
            json,
            "",
            404,
            "NotFound",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps?dryRun=Some",
            json,
            "{}",
            400,
            "BadRequest",
        ),
    ];
    for (method, path, content_type, body, code, reason) in cases {
        let (got, status) = send(&emu, method, path, content_type, body).await;
        assert_eq!(got, code, "{method} {path} {body}: {status}");
        assert_eq!(status["kind"], "Status", "{method} {path}");
        assert_eq!(status["reason"], reason, "{method} {path} {body}: {status}");
        assert_eq!(status["code"], code);
    }
}
