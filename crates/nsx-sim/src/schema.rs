//! The NSX 4.2 wire-model JSON Schemas (`shared/nsx-schemas` beside the project), loaded at
//! start, and validation of documents against a model by name.
//!
//! The simulator validates every request body it accepts against the model of the operation
//! (as NSX rejects unknown or mistyped fields with a 400), and uses the schemas' `readOnly`
//! markers to drop the server-owned fields a client echoes back. Validators are compiled on
//! first use of a model and cached for the life of the process.
//!
//! The bundles are data the project does not ship: they are found at run time in
//! `$NSX_SCHEMAS_DIR`, else in `shared/nsx-schemas` beside the source tree the binary was
//! built from, else beside the working directory. Without them the simulator still runs,
//! but checks bodies only with its own rules and drops only the common system fields
//! (a warning says so once).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use serde_json::{Value, json};

const POLICY_BUNDLE_FILE: &str = "nsx-policy-4.2.schema.json";
const MANAGER_BUNDLE_FILE: &str = "nsx-manager-4.2.schema.json";
/// The environment variable naming the folder that holds the two bundles.
pub const SCHEMAS_DIR_ENV: &str = "NSX_SCHEMAS_DIR";

/// Server-owned fields of every NSX policy object, dropped from request bodies when no
/// schema bundle is available to say which fields of a model are read-only.
const COMMON_READ_ONLY_FIELDS: &[&str] = &[
    "_create_time",
    "_create_user",
    "_last_modified_time",
    "_last_modified_user",
    "_links",
    "_protection",
    "_schema",
    "_self",
    "_system_owned",
    "marked_for_delete",
    "overridden",
    "parent_path",
    "path",
    "realization_id",
    "relative_path",
    "remote_path",
    "unique_id",
];

/// Where the schema bundles are looked for, in order.
fn candidate_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os(SCHEMAS_DIR_ENV) {
        dirs.push(PathBuf::from(dir));
    }
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/nsx-schemas"));
    if let Ok(cwd) = std::env::current_dir() {
        dirs.push(cwd.join("shared/nsx-schemas"));
        dirs.push(cwd.join("../shared/nsx-schemas"));
    }
    dirs
}

fn load_bundles() -> Option<(Value, Value)> {
    for dir in candidate_dirs() {
        let (Ok(policy), Ok(manager)) = (
            std::fs::read_to_string(dir.join(POLICY_BUNDLE_FILE)),
            std::fs::read_to_string(dir.join(MANAGER_BUNDLE_FILE)),
        ) else {
            continue;
        };
        match (
            serde_json::from_str(&policy),
            serde_json::from_str(&manager),
        ) {
            (Ok(policy), Ok(manager)) => {
                tracing::debug!(dir = %dir.display(), "loaded the NSX schema bundles");
                return Some((policy, manager));
            }
            _ => tracing::warn!(dir = %dir.display(), "the NSX schema bundles there are not JSON"),
        }
    }
    None
}

/// Which NSX API a model belongs to (each bundle defines its own models, e.g. two `ApiError`s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// Policy API (`/policy/api/v1`), `nsx-policy-4.2.schema.json`.
    Policy,
    /// Manager API (`/api/v1`), `nsx-manager-4.2.schema.json`.
    Manager,
}

/// The two schema bundles and a cache of compiled validators.
pub struct SchemaSet {
    /// `None` when the bundles were not found.
    bundles: Option<(Value, Value)>,
    validators: Mutex<HashMap<(Api, String), Arc<jsonschema::Validator>>>,
}

impl std::fmt::Debug for SchemaSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaSet").finish_non_exhaustive()
    }
}

/// The process-wide schema set, loaded on first use (empty when no bundles are found).
pub fn schemas() -> &'static SchemaSet {
    static SET: OnceLock<SchemaSet> = OnceLock::new();
    SET.get_or_init(|| match load_bundles() {
        Some((policy, manager)) => SchemaSet::from_bundles(policy, manager),
        None => {
            tracing::warn!(
                "NSX schema bundles not found (set {SCHEMAS_DIR_ENV}); request bodies are \
                 checked only by the simulator's own rules"
            );
            SchemaSet::unavailable()
        }
    })
}

impl SchemaSet {
    /// A schema set from two parsed bundles.
    pub fn from_bundles(policy: Value, manager: Value) -> Self {
        Self {
            bundles: Some((policy, manager)),
            validators: Mutex::new(HashMap::new()),
        }
    }

    /// A set with no bundles: every document passes, and only the common system fields
    /// are read-only.
    pub fn unavailable() -> Self {
        Self {
            bundles: None,
            validators: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the schema bundles were found.
    pub fn is_available(&self) -> bool {
        self.bundles.is_some()
    }

    fn bundle(&self, api: Api) -> Option<&Value> {
        let (policy, manager) = self.bundles.as_ref()?;
        Some(match api {
            Api::Policy => policy,
            Api::Manager => manager,
        })
    }

    /// The `$defs` entry of `model`, if the bundle has it.
    pub fn model(&self, api: Api, model: &str) -> Option<&Value> {
        self.bundle(api)?.get("$defs")?.get(model)
    }

    fn validator(&self, api: Api, model: &str) -> Option<Arc<jsonschema::Validator>> {
        if let Some(v) = self.validators.lock().get(&(api, model.to_owned())) {
            return Some(v.clone());
        }
        self.model(api, model)?;
        let mut root = self.bundle(api)?.clone();
        root["$ref"] = json!(format!("#/$defs/{model}"));
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(false)
            .build(&root)
            .map_err(|e| tracing::error!(model, error = %e, "schema does not compile"))
            .ok()?;
        let validator = Arc::new(validator);
        self.validators
            .lock()
            .insert((api, model.to_owned()), validator.clone());
        Some(validator)
    }

    /// Validates `instance` against `model`; on failure, one readable line per problem.
    pub fn validate(&self, api: Api, model: &str, instance: &Value) -> Result<(), Vec<String>> {
        let problems = self.problems(api, model, instance);
        if problems.is_empty() {
            return Ok(());
        }
        let mut lines: Vec<String> = problems
            .into_iter()
            .map(|(at, message)| format!("{}: {message}", display_path(&at)))
            .collect();
        lines.sort();
        lines.dedup();
        Err(lines)
    }

    /// `(JSON pointer, message)` for each problem of `instance` against `model`.
    fn problems(&self, api: Api, model: &str, instance: &Value) -> Vec<(String, String)> {
        if !self.is_available() {
            return Vec::new();
        }
        let Some(validator) = self.validator(api, model) else {
            return vec![(String::new(), format!("no schema for model {model}"))];
        };
        if validator.is_valid(instance) {
            return Vec::new();
        }
        let mut problems = Vec::new();
        for error in validator.iter_errors(instance) {
            let at = error.instance_path().to_string();
            let located = locate(instance, &at);
            // A polymorphic member failed every branch: say why against the subtype it names.
            if matches!(
                error.kind(),
                jsonschema::error::ValidationErrorKind::OneOfNotValid { .. }
            ) && let Some(member) = located
                && let Some(kind) = member.get("resource_type").and_then(Value::as_str)
            {
                if self.model(api, kind).is_some() && kind != model {
                    let inner = self.problems(api, kind, member);
                    if inner.is_empty() {
                        problems.push((at, format!("resource_type '{kind}' is not allowed here")));
                    } else {
                        problems.extend(
                            inner
                                .into_iter()
                                .map(|(p, message)| (format!("{at}{p}"), message)),
                        );
                    }
                } else {
                    problems.push((at, format!("unknown resource_type '{kind}'")));
                }
                continue;
            }
            problems.push((at, error.to_string()));
        }
        problems
    }

    /// The properties `model` marks `readOnly` (server-owned; ignored when a client sends them).
    pub fn read_only_fields(&self, api: Api, model: &str) -> BTreeSet<String> {
        if !self.is_available() {
            return COMMON_READ_ONLY_FIELDS
                .iter()
                .map(|f| f.to_string())
                .collect();
        }
        let mut out = BTreeSet::new();
        if let Some(props) = self
            .model(api, model)
            .and_then(|m| m.get("properties"))
            .and_then(Value::as_object)
        {
            for (name, prop) in props {
                if prop.get("readOnly") == Some(&Value::Bool(true)) {
                    out.insert(name.clone());
                }
            }
        }
        out
    }
}

/// Drops every `null` object member, at any depth (array elements are kept). NSX's wire
/// models read a `null` optional field as absent; NSXLIB sends `null` for every optional
/// argument left at `None` (and, in a PATCH, to unset the field).
pub fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(members) => {
            members.retain(|_, v| !v.is_null());
            members.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

fn display_path(at: &str) -> String {
    if at.is_empty() {
        "/".to_owned()
    } else {
        at.to_owned()
    }
}

/// The value at a JSON pointer.
fn locate<'a>(root: &'a Value, pointer: &str) -> Option<&'a Value> {
    if pointer.is_empty() {
        Some(root)
    } else {
        root.pointer(pointer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/nsx-schemas/examples")
    }

    #[test]
    fn every_manifest_example_passes_or_fails_as_declared() {
        let manifest: Value = serde_json::from_str(
            &std::fs::read_to_string(examples_dir().join("manifest.json")).unwrap(),
        )
        .unwrap();
        for example in manifest["examples"].as_array().unwrap() {
            let file = example["file"].as_str().unwrap();
            let api = if example["schema"] == "nsx-policy-4.2.schema.json" {
                Api::Policy
            } else {
                Api::Manager
            };
            let doc: Value =
                serde_json::from_str(&std::fs::read_to_string(examples_dir().join(file)).unwrap())
                    .unwrap();
            let result = schemas().validate(api, example["model"].as_str().unwrap(), &doc);
            assert_eq!(
                result.is_ok(),
                example["valid"].as_bool().unwrap(),
                "{file}: {result:?}"
            );
            if let Err(problems) = result {
                assert!(!problems.is_empty(), "{file}");
            }
        }
    }

    #[test]
    fn union_failures_name_the_offending_field() {
        let doc = json!({"resource_type": "Group", "expression": [
            {"resource_type": "Condition", "member_type": "Pod", "key": "Tag", "operator": "LIKE", "value": "a|b"}
        ]});
        let problems = schemas().validate(Api::Policy, "Group", &doc).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("/expression/0/operator")),
            "{problems:?}"
        );
    }

    #[test]
    fn without_bundles_everything_passes_and_system_fields_are_read_only() {
        let set = SchemaSet::unavailable();
        assert!(
            set.validate(Api::Policy, "Group", &json!({"nonsense": 1}))
                .is_ok()
        );
        let ro = set.read_only_fields(Api::Policy, "Rule");
        assert!(ro.contains("path") && ro.contains("_create_time"));
        assert!(!ro.contains("_revision"));
    }

    #[test]
    fn read_only_fields_come_from_the_schema() {
        let ro = schemas().read_only_fields(Api::Policy, "Rule");
        assert!(ro.contains("rule_id"));
        assert!(ro.contains("path"));
        assert!(!ro.contains("_revision"));
        assert!(!ro.contains("sequence_number"));
    }

    #[test]
    fn nulls_are_absent_members() {
        let mut rule = json!({"resource_type": "Rule", "description": null, "scope": null,
            "service_entries": [{"resource_type": "L4PortSetServiceEntry", "source_ports": null}],
            "tags": [null]});
        strip_nulls(&mut rule);
        assert_eq!(
            rule,
            json!({"resource_type": "Rule",
                "service_entries": [{"resource_type": "L4PortSetServiceEntry"}], "tags": [null]})
        );
        assert!(
            schemas().validate(Api::Policy, "Rule", &rule).is_err(),
            "a null element stays"
        );
    }
}
