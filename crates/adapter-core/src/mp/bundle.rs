//! Redaction of secrets in what goes into support bundles: the adapters' logs and state
//! dumps, and the text files of Antrea's bundles. Pure functions over bytes and text.
//!
//! What is redacted (replaced by `[REDACTED]`):
//!
//! - PEM private keys (`-----BEGIN … PRIVATE KEY-----` to the matching END, or to the end of
//!   the text when cut), and base64-encoded PEM private keys (as in a Secret's `tls.key`);
//!   certificates are public and kept;
//! - `Authorization:` and `Proxy-Authorization:` header values, whatever the scheme;
//! - `Bearer <token>` anywhere, and JWTs (`eyJ….….…`);
//! - values of sensitive keys in JSON (`"password": "…"`), YAML (`token: …`, including block
//!   scalars `tls.key: |` and their indented lines), `key=value` (environment, logfmt, query
//!   strings): keys containing password, passwd, passphrase, secret, token, apikey/api-key,
//!   private-key, access-key, credential, cookie, session-id, xsrf, client-key-data, tls.key;
//! - passwords in URLs (`scheme://user:password@host`);
//! - in JSON documents, structurally: every value under a sensitive key, every value of a
//!   Kubernetes Secret's `data`/`stringData`, and every string (by the text rules above).
//!
//! Redaction errs on the side of hiding: a key such as `secretName` loses its value too.
//! Binary content (not UTF-8) is returned unchanged: it is the caller's to leave out.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde_json::Value;

/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// Parts of key names that mark a secret value.
const SENSITIVE_KEY: &str = r"(?:passw(?:or)?d|passphrase|secret|token|api[_.-]?key|private[_.-]?key|access[_.-]?key|credential|cookie|session[_.-]?id|xsrf|client[_.-]?key[_.-]?data|tls[_.-]key|\bauth\b)";

static PEM_PRIVATE_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?s)-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)",
    )
    .expect("valid regex")
});

static BASE64_PRIVATE_KEY: LazyLock<Regex> = LazyLock::new(|| {
    // base64 of "-----BEGIN PRIVATE KEY", "...RSA ...", "...EC ...", "...ENCRYPTED ...",
    // "...OPENSSH ...", "...DSA ..." followed by the rest of the blob.
    Regex::new(concat!(
        r"(?:LS0tLS1CRUdJTiBQUklWQVRFIEtFW|LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRV",
        r"|LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFW|LS0tLS1CRUdJTiBFTkNSWVBURUQgUFJJVkFURSBLRV",
        r"|LS0tLS1CRUdJTiBPUEVOU1NIIFBSSVZBVEUgS0VZ|LS0tLS1CRUdJTiBEU0EgUFJJVkFURSBLRV)",
        r"[A-Za-z0-9+/=]*"
    ))
    .expect("valid regex")
});

static AUTHORIZATION_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?im)((?:proxy-)?authorization["']?\s*[:=]\s*)("(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^\n]*)"#,
    )
    .expect("valid regex")
});

static BEARER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}").expect("valid regex"));

static JWT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*").expect("valid regex")
});

static URL_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+@").expect("valid regex")
});

static JSON_PAIR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r#"(?i)("(?:[^"\\]|\\.)*{SENSITIVE_KEY}(?:[^"\\]|\\.)*"\s*:\s*)("(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*)"#
    ))
    .expect("valid regex")
});

static KEY_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r#"(?im)((?:^|[^A-Za-z0-9_.-])["']?[A-Za-z0-9_.-]*{SENSITIVE_KEY}[A-Za-z0-9_.-]*["']?\s*[:=]\s*)("(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^\s,;&}})]+)"#
    ))
    .expect("valid regex")
});

static YAML_BLOCK_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r#"(?i)^(\s*)(?:-\s+)?["']?[A-Za-z0-9_.-]*{SENSITIVE_KEY}[A-Za-z0-9_.-]*["']?\s*:\s*[|>][-+0-9]*\s*$"#
    ))
    .expect("valid regex")
});

static SENSITIVE_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("(?i){SENSITIVE_KEY}")).expect("valid regex"));

/// Whether a key names a secret.
pub fn is_sensitive_key(key: &str) -> bool {
    SENSITIVE_NAME.is_match(key) || key.eq_ignore_ascii_case("authorization")
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Blanks the indented lines of YAML block scalars under sensitive keys.
fn redact_yaml_blocks(text: &str) -> Cow<'_, str> {
    if !text.contains('|') && !text.contains('>') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut block: Option<usize> = None;
    let mut changed = false;
    for line in text.split_inclusive('\n') {
        if let Some(indent) = block {
            let content = line.trim_end_matches(['\n', '\r']);
            if content.trim().is_empty() || indentation(content) > indent {
                if !content.trim().is_empty() {
                    out.push_str(&content[..indentation(content)]);
                    out.push_str(REDACTED);
                    out.push_str(&line[content.len()..]);
                    changed = true;
                } else {
                    out.push_str(line);
                }
                continue;
            }
            block = None;
        }
        let content = line.trim_end_matches(['\n', '\r']);
        if let Some(caps) = YAML_BLOCK_KEY.captures(content) {
            block = Some(caps.get(1).map_or(0, |m| m.as_str().len()));
        }
        out.push_str(line);
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

/// Redacts secrets in free text: logs, YAML, `key=value` lines (see the module docs).
pub fn redact_text(text: &str) -> Cow<'_, str> {
    let mut current: Cow<'_, str> = Cow::Borrowed(text);
    let mut apply = |regex: &Regex, replace: &dyn Fn(&Captures<'_>) -> String| {
        if regex.is_match(&current) {
            let replaced = regex.replace_all(&current, |caps: &Captures<'_>| replace(caps));
            current = Cow::Owned(replaced.into_owned());
        }
    };
    apply(&PEM_PRIVATE_KEY, &|caps| {
        format!(
            "-----BEGIN {kind}-----\n{REDACTED}\n-----END {kind}-----",
            kind = &caps[1]
        )
    });
    apply(&BASE64_PRIVATE_KEY, &|_| REDACTED.to_owned());
    apply(&AUTHORIZATION_HEADER, &|caps| {
        let value = &caps[2];
        if value.starts_with('"') {
            format!("{}\"{REDACTED}\"", &caps[1])
        } else {
            format!("{}{REDACTED}", &caps[1])
        }
    });
    apply(&BEARER, &|caps| format!("{} {REDACTED}", &caps[1]));
    apply(&JWT, &|_| REDACTED.to_owned());
    apply(&URL_PASSWORD, &|caps| format!("{}{REDACTED}@", &caps[1]));
    apply(&JSON_PAIR, &|caps| format!("{}\"{REDACTED}\"", &caps[1]));
    apply(&KEY_VALUE, &|caps| {
        let value = &caps[2];
        if value.contains(REDACTED) {
            caps[0].to_owned()
        } else if value.starts_with('"') {
            format!("{}\"{REDACTED}\"", &caps[1])
        } else if value.starts_with('\'') {
            format!("{}'{REDACTED}'", &caps[1])
        } else if value.starts_with(['|', '>']) {
            // A YAML block scalar indicator: its lines are handled below.
            caps[0].to_owned()
        } else {
            format!("{}{REDACTED}", &caps[1])
        }
    });
    match redact_yaml_blocks(&current) {
        Cow::Borrowed(_) => current,
        Cow::Owned(owned) => Cow::Owned(owned),
    }
}

/// Redacts a JSON document in place (see the module docs).
pub fn redact_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let is_secret = map.get("kind").and_then(Value::as_str) == Some("Secret");
            for (key, inner) in map.iter_mut() {
                if is_sensitive_key(key) || (is_secret && (key == "data" || key == "stringData")) {
                    blank(inner);
                } else {
                    redact_json(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::String(text) => {
            if let Cow::Owned(redacted) = redact_text(text) {
                *text = redacted;
            }
        }
        _ => {}
    }
}

/// Replaces every scalar under `value` (keeping the shape of objects, so readers still see
/// which keys existed).
fn blank(value: &mut Value) {
    match value {
        Value::Object(map) => map.values_mut().for_each(blank),
        Value::Array(items) => items.iter_mut().for_each(blank),
        Value::Null | Value::Bool(_) => {}
        other => *other = Value::String(REDACTED.to_owned()),
    }
}

/// Redacts one file of a bundle: a JSON document structurally, other UTF-8 text by the text
/// rules; binary content unchanged.
pub fn redact_file(content: &[u8]) -> Cow<'_, [u8]> {
    let Ok(text) = std::str::from_utf8(content) else {
        return Cow::Borrowed(content);
    };
    let trimmed = text.trim_start();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && let Ok(mut value) = serde_json::from_str::<Value>(text)
    {
        let before = value.clone();
        redact_json(&mut value);
        if value == before {
            return Cow::Borrowed(content);
        }
        if let Ok(rendered) = serde_json::to_vec_pretty(&value) {
            return Cow::Owned(rendered);
        }
    }
    match redact_text(text) {
        Cow::Borrowed(_) => Cow::Borrowed(content),
        Cow::Owned(redacted) => Cow::Owned(redacted.into_bytes()),
    }
}

#[cfg(test)]
mod tests;
