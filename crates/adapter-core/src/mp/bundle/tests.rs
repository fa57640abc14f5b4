//! Tests of the redaction rules.

use proptest::prelude::*;
use serde_json::json;

use super::*;

const KEY_PEM: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\nVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n-----END RSA PRIVATE KEY-----";
const CERT_PEM: &str =
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\n-----END CERTIFICATE-----";
const JWT_TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJlLXZhbHVl";

fn redacted(text: &str) -> String {
    redact_text(text).into_owned()
}

#[test]
fn private_keys_are_removed_and_certificates_kept() {
    let text = format!("tls:\n{CERT_PEM}\n{KEY_PEM}\ntrailer");
    let out = redacted(&text);
    assert!(!out.contains("MIIEowIBAAKCAQEA"), "{out}");
    assert!(
        out.contains("-----BEGIN RSA PRIVATE KEY-----\n[REDACTED]\n-----END RSA PRIVATE KEY-----")
    );
    assert!(out.contains(CERT_PEM));
    assert!(out.ends_with("trailer"));
    // A key cut off by log truncation is removed to the end.
    let cut = "start\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC";
    assert!(!redacted(cut).contains("MIIEvQ"));
    for kind in [
        "EC PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
    ] {
        let pem = format!("-----BEGIN {kind}-----\nSECRETBYTES\n-----END {kind}-----");
        assert!(!redacted(&pem).contains("SECRETBYTES"), "{kind}");
    }
}

#[test]
fn base64_encoded_private_keys_are_removed() {
    // A Secret's tls.key as kubectl shows it, under a key that is not itself sensitive.
    let line = "  blob: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFb3dJQkFBS0NBUUVB";
    let out = redacted(line);
    assert_eq!(out, "  blob: [REDACTED]");
    // A base64 certificate stays.
    let cert = "  ca.crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJzekND";
    assert_eq!(redacted(cert), cert);
}

#[test]
fn authorization_headers_and_bearer_tokens_are_removed() {
    let cases = [
        (
            "Authorization: Basic dXNlcjpwYXNzd29yZA==",
            "Authorization: [REDACTED]",
        ),
        (
            "> authorization: Bearer abc.def.ghi",
            "> authorization: [REDACTED]",
        ),
        (
            "Proxy-Authorization: Negotiate YIIabc",
            "Proxy-Authorization: [REDACTED]",
        ),
        (
            r#"{"Authorization":"Bearer xyz123456789"}"#,
            r#"{"Authorization":"[REDACTED]"}"#,
        ),
        (
            "sending request with bearer s3cr3tTOKENvalue to api",
            "sending request with bearer [REDACTED] to api",
        ),
        ("use bearer tokens", "use bearer tokens"),
    ];
    for (input, expected) in cases {
        assert_eq!(redacted(input), expected, "{input}");
    }
    let out = redacted(&format!("token from file {JWT_TOKEN} loaded"));
    assert!(!out.contains("eyJzdWIi"), "{out}");
}

#[test]
fn sensitive_keys_are_redacted_in_every_syntax() {
    let cases = [
        (
            r#"{"user": "admin", "password": "hunter2"}"#,
            r#"{"user": "admin", "password": "[REDACTED]"}"#,
        ),
        (
            r#"{"client_secret":"a\"b"}"#,
            r#"{"client_secret":"[REDACTED]"}"#,
        ),
        ("password: hunter2", "password: [REDACTED]"),
        ("  token: 'abc'", "  token: '[REDACTED]'"),
        (
            "NSX_PASSWORD=hunter2 NSX_USER=admin",
            "NSX_PASSWORD=[REDACTED] NSX_USER=admin",
        ),
        (
            "level=info apiKey=abc123 msg=ok",
            "level=info apiKey=[REDACTED] msg=ok",
        ),
        (
            "GET /login?user=a&j_password=hunter2&x=1",
            "GET /login?user=a&j_password=[REDACTED]&x=1",
        ),
        ("client-key-data: LS0tLS1", "client-key-data: [REDACTED]"),
        ("tls.key: abcdef", "tls.key: [REDACTED]"),
        ("cookie: JSESSIONID=1234", "cookie: [REDACTED]"),
        ("X-XSRF-TOKEN: 9f8e", "X-XSRF-TOKEN: [REDACTED]"),
        ("nothing secret here: value", "nothing secret here: value"),
        ("user: admin", "user: admin"),
    ];
    for (input, expected) in cases {
        assert_eq!(redacted(input), expected, "{input}");
    }
}

#[test]
fn yaml_block_scalars_under_sensitive_keys_are_redacted() {
    let yaml =
        "data:\n  tls.key: |\n    line-one\n    line-two\n  tls.crt: |\n    cert-one\nnext: 1\n";
    let out = redacted(yaml);
    assert_eq!(
        out,
        "data:\n  tls.key: |\n    [REDACTED]\n    [REDACTED]\n  tls.crt: |\n    cert-one\nnext: 1\n"
    );
}

#[test]
fn urls_lose_their_passwords() {
    assert_eq!(
        redacted("uploading to sftp://bundle:p4ss@files.example.com:22/upload"),
        "uploading to sftp://bundle:[REDACTED]@files.example.com:22/upload"
    );
    assert_eq!(
        redacted("https://nsx.example.com/api"),
        "https://nsx.example.com/api"
    );
}

#[test]
fn json_documents_are_redacted_structurally() {
    let mut doc = json!({
        "kind": "Secret", "metadata": {"name": "nsx-cert"},
        "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5"},
        "config": {"nsx": {"password": {"nested": "x"}, "user": "admin", "retries": 3},
                   "headers": ["Authorization: Bearer abcdefghijk"]},
        "notes": format!("token {JWT_TOKEN}"),
        "enabled": true
    });
    redact_json(&mut doc);
    assert_eq!(
        doc,
        json!({
            "kind": "Secret", "metadata": {"name": "nsx-cert"},
            "data": {"tls.crt": REDACTED, "tls.key": REDACTED},
            "config": {"nsx": {"password": {"nested": REDACTED}, "user": "admin", "retries": 3},
                       "headers": ["Authorization: [REDACTED]"]},
            "notes": format!("token {REDACTED}"),
            "enabled": true
        })
    );
}

#[test]
fn files_are_redacted_by_kind_and_left_alone_when_clean_or_binary() {
    let json_file = br#"{"token": "abc", "ok": 1}"#;
    let out = redact_file(json_file);
    let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(value, json!({"token": REDACTED, "ok": 1}));
    let clean = b"I0101 12:00:00 controller started\n";
    assert!(matches!(redact_file(clean), Cow::Borrowed(_)));
    let log = b"I0101 12:00:00 password=hunter2\n";
    assert_eq!(&*redact_file(log), b"I0101 12:00:00 password=[REDACTED]\n");
    let binary = [0xff_u8, 0xfe, 0x00, b'p', b'a', b's', b's'];
    assert_eq!(&*redact_file(&binary), &binary);
    // Not JSON after all: text rules apply.
    assert_eq!(
        &*redact_file(b"[warn] secret=x"),
        b"[warn] secret=[REDACTED]"
    );
}

proptest! {
    /// A secret planted in arbitrary surrounding text never survives, in any of the syntaxes.
    #[test]
    fn planted_secrets_never_survive(
        before in "[ -~\n]{0,60}",
        after in "[ -~\n]{0,60}",
        secret in "[A-Za-z0-9]{12,24}",
        syntax in 0usize..7,
    ) {
        let planted = match syntax {
            0 => format!("password={secret}"),
            1 => format!("\n  token: {secret}\n"),
            2 => format!(r#""apiKey": "{secret}""#),
            3 => format!("\nAuthorization: Bearer {secret}\n"),
            4 => format!(" Bearer {secret} "),
            5 => format!("\n-----BEGIN PRIVATE KEY-----\n{secret}\n-----END PRIVATE KEY-----\n"),
            _ => format!(" https://u:{secret}@host/ "),
        };
        let text = format!("{before}{planted}{after}");
        let out = redacted(&text);
        prop_assert!(!out.contains(&secret), "{:?} -> {:?}", text, out);
        // Redacting twice changes nothing more.
        prop_assert_eq!(redacted(&out), out.clone());
    }
}
