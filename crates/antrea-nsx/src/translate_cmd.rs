//! `antrea-nsx translate`: the offline preview. Reads an NSX policy export and prints the
//! Antrea objects the CCP adapter would write, plus every policy and group it would refuse and
//! why, without a cluster or an NSX connection.
//!
//! Accepted input (JSON; `-` reads standard input; `-f` may be repeated):
//! - the hierarchical export `GET /policy/api/v1/infra?filter=...` (an `Infra` whose
//!   `children` are `ChildDomain`/`ChildGroup`/`ChildSecurityPolicy`/`ChildRule`/
//!   `ChildService`/`ChildServiceEntry` wrappers or `ChildResourceReference`s);
//! - a list result (`{"results": [...]}`), a JSON array, or one object, of security policies
//!   (with embedded `rules`), rules (attached by `parent_path`), groups, services and service
//!   entries. A document without `path` gets the one NSX would give it (domain `default`).
//!
//! Output: the objects on standard output (YAML documents, or with `-o json` a `v1` `List`);
//! the refusals and a summary on standard error. Exit codes: 0 when everything translated,
//! [`EXIT_REFUSED`] when some policy or group was refused, 1 when the input cannot be read.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::PathBuf;

use adapter_core::ccp::{
    ClusterIdentity, IpFamilies, ObjectSchemas, Outcome, Span, TranslateOptions, Translation,
    Translator,
};
use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use serde_json::{Map, Value, json};

/// The exit code when some policy or group cannot be translated.
pub const EXIT_REFUSED: i32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Yaml,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IpFamiliesArg {
    /// IPv4 and IPv6 Pods.
    Dual,
    Ipv4,
    Ipv6,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 when every policy and group translates, 3 when some \
    are refused (each is listed with its reasons on standard error), 1 when the input cannot \
    be read."
)]
pub struct TranslateArgs {
    /// The NSX export (JSON); `-` for standard input. Repeat to combine files.
    #[arg(short = 'f', long = "file", value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Output format of the Antrea objects.
    #[arg(short = 'o', long = "output", value_enum, default_value = "yaml")]
    pub output: OutputFormat,
    /// The cluster id the objects' ownership labels name.
    #[arg(long, value_name = "ID", default_value = "preview")]
    pub cluster_id: String,
    /// The IP families of the cluster's Pods.
    #[arg(long, value_enum, default_value = "dual")]
    pub ip_families: IpFamiliesArg,
}

/// The policy objects found in an export.
#[derive(Debug, Default)]
pub struct Export {
    /// Security policies, groups and services, each with its `path`.
    pub documents: Vec<Value>,
    /// Other objects, by `resource_type`.
    pub ignored: BTreeMap<String, usize>,
    /// Things that could not be placed (a rule whose policy is missing...).
    pub problems: Vec<String>,
}

/// The path segment and parent kind of the kinds an export carries.
fn segment(resource_type: &str) -> Option<&'static str> {
    Some(match resource_type {
        "Domain" => "domains",
        "Group" => "groups",
        "SecurityPolicy" => "security-policies",
        "Rule" => "rules",
        "Service" => "services",
        t if t.ends_with("ServiceEntry") => "service-entries",
        _ => return None,
    })
}

/// The default parent path for a document without one.
fn default_parent(resource_type: &str) -> &'static str {
    match resource_type {
        "Group" | "SecurityPolicy" => "/infra/domains/default",
        _ => "/infra",
    }
}

#[derive(Default)]
struct Collector {
    /// Policies and services by path, groups by path.
    objects: BTreeMap<String, Map<String, Value>>,
    /// Rules and service entries waiting for their parent: (parent path, object).
    children: Vec<(String, Map<String, Value>)>,
    ignored: BTreeMap<String, usize>,
    problems: Vec<String>,
}

impl Collector {
    fn value(&mut self, value: Value, parent: Option<&str>) {
        match value {
            Value::Array(items) => {
                for item in items {
                    self.value(item, parent);
                }
            }
            Value::Object(object) => self.object(object, parent),
            other => self
                .problems
                .push(format!("ignored a JSON {other} that is not an NSX object")),
        }
    }

    fn object(&mut self, mut object: Map<String, Value>, parent: Option<&str>) {
        let resource_type = object
            .get("resource_type")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let Some(resource_type) = resource_type else {
            if let Some(Value::Array(results)) = object.remove("results") {
                for item in results {
                    self.value(item, parent);
                }
            } else {
                self.problems
                    .push("ignored an object without resource_type".to_owned());
            }
            return;
        };
        if resource_type == "ChildResourceReference" {
            let (Some(id), Some(target)) = (
                object.get("id").and_then(Value::as_str),
                object.get("target_type").and_then(Value::as_str),
            ) else {
                self.problems
                    .push("ignored a ChildResourceReference without id or target_type".to_owned());
                return;
            };
            let Some(segment) = segment(target) else {
                *self.ignored.entry(target.to_owned()).or_default() += 1;
                return;
            };
            let path = format!("{}/{segment}/{id}", parent.unwrap_or("/infra"));
            if let Some(children) = object.remove("children") {
                self.value(children, Some(&path));
            }
            return;
        }
        if let Some(kind) = resource_type.strip_prefix("Child") {
            if object.get("marked_for_delete") == Some(&Value::Bool(true)) {
                return;
            }
            // The wrapped object is the one member that is an object (`ChildRule.Rule`...).
            let key = if object.contains_key(kind) {
                kind.to_owned()
            } else {
                match object
                    .iter()
                    .find(|(_, value)| value.get("resource_type").is_some())
                {
                    Some((key, _)) => key.clone(),
                    None => {
                        self.problems
                            .push(format!("ignored a {resource_type} that wraps no object"));
                        return;
                    }
                }
            };
            if let Some(inner) = object.remove(&key) {
                self.value(inner, parent);
            }
            return;
        }
        let children = object.remove("children");
        let path = match object.get("path").and_then(Value::as_str) {
            Some(path) => path.to_owned(),
            None => {
                let parent = object
                    .get("parent_path")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| parent.map(str::to_owned))
                    .unwrap_or_else(|| default_parent(&resource_type).to_owned());
                match (
                    resource_type.as_str(),
                    segment(&resource_type),
                    object.get("id").and_then(Value::as_str),
                ) {
                    ("Infra", _, _) => "/infra".to_owned(),
                    (_, Some(segment), Some(id)) => format!("{parent}/{segment}/{id}"),
                    _ => String::new(),
                }
            }
        };
        if let Some(children) = children {
            self.value(children, (!path.is_empty()).then_some(path.as_str()));
        }
        match resource_type.as_str() {
            "Infra" | "Domain" => {}
            "SecurityPolicy" | "Group" | "Service" if !path.is_empty() => {
                object.insert("path".to_owned(), Value::String(path.clone()));
                self.objects.insert(path, object);
            }
            "Rule"
            | "IPProtocolServiceEntry"
            | "L4PortSetServiceEntry"
            | "ICMPTypeServiceEntry"
            | "IGMPTypeServiceEntry"
            | "EtherTypeServiceEntry"
            | "ALGTypeServiceEntry"
            | "NestedServiceServiceEntry"
                if !path.is_empty() =>
            {
                let parent = object
                    .get("parent_path")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| path.rsplitn(3, '/').nth(2).map(str::to_owned))
                    .unwrap_or_default();
                object.insert("path".to_owned(), Value::String(path));
                self.children.push((parent, object));
            }
            "SecurityPolicy" | "Group" | "Service" | "Rule" => self
                .problems
                .push(format!("ignored a {resource_type} without id or path")),
            other => *self.ignored.entry(other.to_owned()).or_default() += 1,
        }
    }

    fn finish(mut self) -> Export {
        for (parent, child) in std::mem::take(&mut self.children) {
            let is_rule = child.get("resource_type").and_then(Value::as_str) == Some("Rule");
            let field = if is_rule { "rules" } else { "service_entries" };
            let Some(owner) = self.objects.get_mut(&parent) else {
                let id = child.get("id").and_then(Value::as_str).unwrap_or("?");
                self.problems.push(format!(
                    "ignored {} {id}: its parent {parent} is not in the export",
                    if is_rule { "rule" } else { "service entry" }
                ));
                continue;
            };
            let list = owner
                .entry(field)
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(items) = list {
                let id = child.get("id").cloned();
                // A child wrapper replaces an embedded copy of the same id.
                items.retain(|item| id.is_none() || item.get("id") != id.as_ref());
                items.push(Value::Object(child));
            }
        }
        Export {
            documents: self.objects.into_values().map(Value::Object).collect(),
            ignored: self.ignored,
            problems: self.problems,
        }
    }
}

/// Reads the policy objects of one or more export documents.
pub fn read_export(values: Vec<Value>) -> Export {
    let mut collector = Collector::default();
    for value in values {
        collector.value(value, None);
    }
    collector.finish()
}

fn read_input(path: &PathBuf) -> anyhow::Result<Value> {
    let text = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading standard input")?;
        text
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
    };
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON (an NSX policy export)", path.display()))
}

/// The Antrea objects as text.
fn render(translation: &Translation, format: OutputFormat) -> anyhow::Result<String> {
    let objects: Vec<Value> = translation
        .desired
        .objects()
        .map(|object| object.to_value())
        .collect();
    Ok(match format {
        OutputFormat::Json => {
            let list = json!({"apiVersion": "v1", "kind": "List", "items": objects});
            format!("{}\n", serde_json::to_string_pretty(&list)?)
        }
        OutputFormat::Yaml => {
            let mut out = String::new();
            for object in &objects {
                let text = serde_saphyr::to_string(object).context("writing YAML")?;
                out.push_str("---\n");
                out.push_str(text.strip_prefix("---\n").unwrap_or(&text));
                if !out.ends_with('\n') {
                    out.push('\n');
                }
            }
            out
        }
    })
}

/// The refusals and a summary, for standard error. Returns the text and whether anything was
/// refused.
fn report(translation: &Translation, export: &Export) -> (String, bool) {
    let mut out = String::new();
    let mut refused = 0;
    let mut translated = 0;
    for verdict in &translation.verdicts {
        match &verdict.outcome {
            Outcome::Translated { .. } => translated += 1,
            Outcome::Refused { errors } => {
                refused += 1;
                out.push_str(&format!(
                    "refused {} {} ({:?}):\n",
                    verdict.kind, verdict.id.path, verdict.display_name
                ));
                for error in errors {
                    out.push_str(&format!("  - {}: {}", error.reason, error.message));
                    if let Some(field) = &error.field {
                        out.push_str(&format!(" [{field}]"));
                    }
                    out.push('\n');
                }
            }
        }
    }
    for problem in &export.problems {
        out.push_str(&format!("warning: {problem}\n"));
    }
    if !export.ignored.is_empty() {
        let kinds: Vec<String> = export
            .ignored
            .iter()
            .map(|(kind, count)| format!("{count} {kind}"))
            .collect();
        out.push_str(&format!(
            "not translated (not security policies, groups or services): {}\n",
            kinds.join(", ")
        ));
    }
    out.push_str(&format!(
        "{translated} translated, {refused} refused; {} Antrea objects\n",
        translation.desired.len()
    ));
    (out, refused > 0)
}

pub async fn run(args: TranslateArgs) -> anyhow::Result<()> {
    let mut values = Vec::new();
    for path in &args.files {
        values.push(read_input(path)?);
    }
    let export = read_export(values);
    let (span, skipped) = Span::from_documents(export.documents.clone());
    if !skipped.is_empty() {
        bail!(
            "{} documents could not be placed in the span",
            skipped.len()
        );
    }
    let ip_families = match args.ip_families {
        IpFamiliesArg::Dual => IpFamilies::DualStack,
        IpFamiliesArg::Ipv4 => IpFamilies::Ipv4Only,
        IpFamiliesArg::Ipv6 => IpFamilies::Ipv6Only,
    };
    let schemas = ObjectSchemas::builtin().context("loading Antrea's CRD schemas")?;
    let translator = Translator::new(
        ClusterIdentity::new(args.cluster_id.clone()),
        TranslateOptions { ip_families },
        schemas,
    );
    let translation = translator.translate(&span);
    let objects = render(&translation, args.output)?;
    let (summary, refused) = report(&translation, &export);
    {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(objects.as_bytes())?;
        stdout.flush()?;
    }
    eprint!("{summary}");
    if refused {
        std::process::exit(EXIT_REFUSED);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hierarchical_exports_are_flattened() {
        let export = read_export(vec![json!({
            "resource_type": "Infra",
            "children": [
                {"resource_type": "ChildDomain", "marked_for_delete": false, "Domain": {
                    "resource_type": "Domain", "id": "default", "path": "/infra/domains/default",
                    "children": [
                        {"resource_type": "ChildGroup", "Group": {"resource_type": "Group", "id": "g"}},
                        {"resource_type": "ChildSecurityPolicy", "SecurityPolicy": {
                            "resource_type": "SecurityPolicy", "id": "p",
                            "rules": [{"resource_type": "Rule", "id": "r1", "rule_id": 1}],
                            "children": [
                                {"resource_type": "ChildRule", "Rule": {"resource_type": "Rule", "id": "r1", "rule_id": 7}},
                                {"resource_type": "ChildRule", "Rule": {"resource_type": "Rule", "id": "r2", "rule_id": 8}},
                                {"resource_type": "ChildRule", "marked_for_delete": true, "Rule": {"resource_type": "Rule", "id": "r3"}}
                            ]}}
                    ]}},
                {"resource_type": "ChildResourceReference", "id": "other", "target_type": "Domain",
                 "children": [{"resource_type": "ChildGroup", "Group": {"resource_type": "Group", "id": "h"}}]},
                {"resource_type": "ChildService", "Service": {"resource_type": "Service", "id": "s",
                    "children": [{"resource_type": "ChildServiceEntry", "ServiceEntry": {
                        "resource_type": "L4PortSetServiceEntry", "id": "e", "l4_protocol": "TCP"}}]}},
                {"resource_type": "ChildTier1", "Tier1": {"resource_type": "Tier1", "id": "t1"}}
            ]
        })]);
        let paths: Vec<&str> = export
            .documents
            .iter()
            .map(|d| d["path"].as_str().unwrap())
            .collect();
        assert_eq!(
            paths,
            [
                "/infra/domains/default/groups/g",
                "/infra/domains/default/security-policies/p",
                "/infra/domains/other/groups/h",
                "/infra/services/s",
            ]
        );
        let policy = &export.documents[1];
        assert!(policy.get("children").is_none());
        assert_eq!(policy["rules"].as_array().unwrap().len(), 2);
        assert_eq!(policy["rules"][0]["rule_id"], 7);
        assert_eq!(export.documents[3]["service_entries"][0]["id"], "e");
        assert_eq!(export.ignored.get("Tier1"), Some(&1));
        assert!(export.problems.is_empty(), "{:?}", export.problems);
    }

    #[test]
    fn lists_and_loose_rules_are_placed() {
        let export = read_export(vec![
            json!({"results": [{"resource_type": "SecurityPolicy", "id": "p"}], "result_count": 1}),
            json!([
                {"resource_type": "Rule", "id": "r", "parent_path": "/infra/domains/default/security-policies/p"},
                {"resource_type": "Rule", "id": "lost", "parent_path": "/infra/domains/default/security-policies/gone"},
                7
            ]),
        ]);
        assert_eq!(export.documents.len(), 1);
        assert_eq!(export.documents[0]["rules"][0]["id"], "r");
        assert_eq!(export.problems.len(), 2, "{:?}", export.problems);
        assert!(export.problems[1].contains("lost"));
    }
}
