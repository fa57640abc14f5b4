//! The OpenAPI documents kube-apiserver publishes, built from the resource registry.
//!
//! Built-in kinds get the schemas of `k8s-openapi`'s types (generated with `schemars` as
//! OpenAPI 3.0 components named like kube's, e.g. `io.k8s.api.core.v1.Pod`), with the
//! `x-kubernetes-group-version-kind` extension and the strategic-merge
//! `x-kubernetes-patch-merge-key`/`x-kubernetes-patch-strategy` extensions that kubectl
//! reads to compute client-side apply patches. Every CRD version publishes its
//! `openAPIV3Schema` (with `apiVersion`, `kind` and `metadata` filled in, as
//! kube-apiserver does). Each type gets paths with operations, whose `PATCH` lists the
//! accepted patch media types and the `fieldValidation` parameter kubectl's
//! `QueryParamVerifierV3` looks for before it lets the server validate fields.
//!
//! [`OpenApiDocs`] holds the documents of one registry state, each serialized on first use;
//! [`OpenApiCache`] replaces it only when the registry's content changes, keeping the
//! rendered documents of unchanged group-versions.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use k8s_openapi::schemars::{self, JsonSchema};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha512};

use crate::registry::{Origin, Registry, ResourceType};

const V3_REF_PREFIX: &str = "#/components/schemas/";
const V2_REF_PREFIX: &str = "#/definitions/";
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";
const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";

const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const METADATA_DESCRIPTION: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const LIST_METADATA_DESCRIPTION: &str = "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

/// Strategic-merge metadata of built-in types, as the `patchStrategy`/`patchMergeKey` struct
/// tags of `k8s.io/api` declare them: `(schema, property, strategy, merge key)`.
/// kubectl reads them (as OpenAPI extensions) to compute client-side apply patches.
pub const BUILTIN_PATCH_META: &[(&str, &str, &str, Option<&str>)] = &[
    (OBJECT_META, "finalizers", "merge", None),
    (OBJECT_META, "ownerReferences", "merge", Some("uid")),
    (
        "io.k8s.api.core.v1.PodSpec",
        "containers",
        "merge",
        Some("name"),
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "initContainers",
        "merge",
        Some("name"),
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "ephemeralContainers",
        "merge",
        Some("name"),
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "volumes",
        "merge,retainKeys",
        Some("name"),
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "imagePullSecrets",
        "merge",
        Some("name"),
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "hostAliases",
        "merge",
        Some("ip"),
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "topologySpreadConstraints",
        "merge",
        Some("topologyKey"),
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "resourceClaims",
        "merge,retainKeys",
        Some("name"),
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "schedulingGates",
        "merge",
        Some("name"),
    ),
    (
        "io.k8s.api.core.v1.Container",
        "ports",
        "merge",
        Some("containerPort"),
    ),
    ("io.k8s.api.core.v1.Container", "env", "merge", Some("name")),
    (
        "io.k8s.api.core.v1.Container",
        "volumeMounts",
        "merge",
        Some("mountPath"),
    ),
    (
        "io.k8s.api.core.v1.Container",
        "volumeDevices",
        "merge",
        Some("devicePath"),
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "ports",
        "merge",
        Some("containerPort"),
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "env",
        "merge",
        Some("name"),
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "volumeMounts",
        "merge",
        Some("mountPath"),
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "volumeDevices",
        "merge",
        Some("devicePath"),
    ),
    (
        "io.k8s.api.core.v1.PodStatus",
        "conditions",
        "merge",
        Some("type"),
    ),
    (
        "io.k8s.api.core.v1.PodStatus",
        "podIPs",
        "merge",
        Some("ip"),
    ),
    (
        "io.k8s.api.core.v1.PodStatus",
        "hostIPs",
        "merge",
        Some("ip"),
    ),
    (
        "io.k8s.api.core.v1.PodStatus",
        "resourceClaimStatuses",
        "merge,retainKeys",
        Some("name"),
    ),
    (
        "io.k8s.api.core.v1.ServiceSpec",
        "ports",
        "merge",
        Some("port"),
    ),
    (
        "io.k8s.api.core.v1.ServiceStatus",
        "conditions",
        "merge",
        Some("type"),
    ),
    ("io.k8s.api.core.v1.NodeSpec", "podCIDRs", "merge", None),
    (
        "io.k8s.api.core.v1.NodeStatus",
        "conditions",
        "merge",
        Some("type"),
    ),
    (
        "io.k8s.api.core.v1.NodeStatus",
        "addresses",
        "merge",
        Some("type"),
    ),
    (
        "io.k8s.api.core.v1.NamespaceStatus",
        "conditions",
        "merge",
        Some("type"),
    ),
    (
        "io.k8s.api.core.v1.ServiceAccount",
        "secrets",
        "merge",
        Some("name"),
    ),
];

/// The strategic-merge `(strategy, merge key)` of `property` in the built-in schema
/// `schema_name`, if it has one.
pub fn builtin_patch_meta(
    schema_name: &str,
    property: &str,
) -> Option<(&'static str, Option<&'static str>)> {
    BUILTIN_PATCH_META
        .iter()
        .find(|(s, p, _, _)| *s == schema_name && *p == property)
        .map(|(_, _, strategy, key)| (*strategy, *key))
}

// ---------------------------------------------------------------------------------------
// Built-in schemas (generated once per process)

struct BuiltinSchemas {
    /// OpenAPI 3 components, keyed by kube's schema names.
    definitions: Map<String, Value>,
    /// `(group, version, kind) -> schema name` of every built-in kind with a k8s-openapi type.
    kinds: BTreeMap<(String, String, String), String>,
}

static BUILTINS: LazyLock<BuiltinSchemas> = LazyLock::new(generate_builtins);

fn generate_builtins() -> BuiltinSchemas {
    use k8s_openapi::api::coordination::v1 as coordination;
    use k8s_openapi::api::core::v1 as core;
    use k8s_openapi::api::discovery::v1 as discovery;
    use k8s_openapi::api::events::v1 as events;
    use k8s_openapi::api::networking::v1 as networking;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;

    let mut generator = schemars::generate::SchemaSettings::openapi3()
        .with(|s| s.meta_schema = None)
        .into_generator();
    let mut kinds = BTreeMap::new();
    macro_rules! builtin {
        ($group:expr, $version:expr, $kind:expr, $ty:ty) => {{
            generator.subschema_for::<$ty>();
            kinds.insert(
                ($group.to_string(), $version.to_string(), $kind.to_string()),
                <$ty as JsonSchema>::schema_name().into_owned(),
            );
        }};
    }
    builtin!("", "v1", "Pod", core::Pod);
    builtin!("", "v1", "Service", core::Service);
    builtin!("", "v1", "Endpoints", core::Endpoints);
    builtin!("", "v1", "Node", core::Node);
    builtin!("", "v1", "Namespace", core::Namespace);
    builtin!("", "v1", "ConfigMap", core::ConfigMap);
    builtin!("", "v1", "Secret", core::Secret);
    builtin!("", "v1", "ServiceAccount", core::ServiceAccount);
    builtin!("", "v1", "Event", core::Event);
    builtin!(
        "",
        "v1",
        "PersistentVolumeClaim",
        core::PersistentVolumeClaim
    );
    builtin!("networking.k8s.io", "v1", "Ingress", networking::Ingress);
    builtin!(
        "networking.k8s.io",
        "v1",
        "IngressClass",
        networking::IngressClass
    );
    builtin!(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        networking::NetworkPolicy
    );
    builtin!(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        discovery::EndpointSlice
    );
    builtin!("coordination.k8s.io", "v1", "Lease", coordination::Lease);
    builtin!("events.k8s.io", "v1", "Event", events::Event);
    builtin!(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        apiextensions::CustomResourceDefinition
    );
    generator.subschema_for::<meta::Status>();
    generator.subschema_for::<meta::DeleteOptions>();
    generator.subschema_for::<meta::Patch>();
    generator.subschema_for::<meta::WatchEvent<core::Pod>>();
    generator.subschema_for::<meta::ListMeta>();
    generator.subschema_for::<k8s_openapi::api::autoscaling::v1::Scale>();
    let mut definitions = generator.take_definitions(true);

    for ((group, version, kind), name) in &kinds {
        if let Some(Value::Object(schema)) = definitions.get_mut(name) {
            // k8s-openapi marks `metadata` required because Rust needs a value; kube does not.
            if let Some(Value::Array(required)) = schema.get_mut("required") {
                required.retain(|r| r != "metadata");
                if required.is_empty() {
                    schema.remove("required");
                }
            }
            schema.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([gvk(group, version, kind)]),
            );
        }
    }
    for (name, group, version, kind) in [
        (STATUS, "", "v1", "Status"),
        (DELETE_OPTIONS, "", "v1", "DeleteOptions"),
        (WATCH_EVENT, "", "v1", "WatchEvent"),
        (SCALE, "autoscaling", "v1", "Scale"),
    ] {
        if let Some(Value::Object(schema)) = definitions.get_mut(name) {
            schema.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([gvk(group, version, kind)]),
            );
        }
    }
    for (schema_name, property, strategy, key) in BUILTIN_PATCH_META {
        if let Some(prop) = definitions
            .get_mut(*schema_name)
            .and_then(|s| s.get_mut("properties"))
            .and_then(|p| p.get_mut(*property))
            .and_then(Value::as_object_mut)
        {
            prop.insert("x-kubernetes-patch-strategy".into(), json!(strategy));
            if let Some(key) = key {
                prop.insert("x-kubernetes-patch-merge-key".into(), json!(key));
            }
        }
    }
    BuiltinSchemas { definitions, kinds }
}

/// The `description` of `property` in the built-in schema `schema` (kube's names, e.g.
/// `io.k8s.api.core.v1.PodStatus`), as the API documents it.
pub fn builtin_property_description(schema: &str, property: &str) -> Option<String> {
    BUILTINS
        .definitions
        .get(schema)?
        .get("properties")?
        .get(property)?
        .get("description")?
        .as_str()
        .map(str::to_string)
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "kind": kind, "version": version})
}

// ---------------------------------------------------------------------------------------
// Documents

/// The OpenAPI documents of one registry state. The `/openapi/v3` index is computed up
/// front; each group-version document and the Swagger 2.0 document are rendered on first
/// use and kept. Group-versions whose types did not change are shared with the previous
/// state by [`OpenApiCache`], so a CRD change re-renders only its own group-version.
#[derive(Debug)]
pub struct OpenApiDocs {
    fingerprint: u64,
    types: Vec<Arc<ResourceType>>,
    /// `api/v1` or `apis/{group}/{version}` -> that group-version's document.
    group_versions: BTreeMap<String, Arc<GroupVersionDoc>>,
    v3_index: Vec<u8>,
    v2: OnceLock<Vec<u8>>,
}

#[derive(Debug)]
struct GroupVersionDoc {
    fingerprint: u64,
    hash: String,
    types: Vec<Arc<ResourceType>>,
    rendered: OnceLock<Vec<u8>>,
}

impl GroupVersionDoc {
    fn document(&self) -> &[u8] {
        self.rendered
            .get_or_init(|| render_group_version(&self.types))
    }
}

impl OpenApiDocs {
    /// The documents for `registry` (rendered lazily).
    pub fn build(registry: &Registry) -> Self {
        Self::build_reusing(registry, None)
    }

    fn build_reusing(registry: &Registry, previous: Option<&OpenApiDocs>) -> Self {
        let types: Vec<Arc<ResourceType>> = registry.all().cloned().collect();
        let mut by_key: BTreeMap<String, Vec<Arc<ResourceType>>> = BTreeMap::new();
        for rt in &types {
            by_key
                .entry(group_version_key(&rt.group, &rt.version))
                .or_default()
                .push(rt.clone());
        }
        let group_versions: BTreeMap<String, Arc<GroupVersionDoc>> = by_key
            .into_iter()
            .map(|(key, types)| {
                let fingerprint = types_fingerprint(&types);
                let reused = previous
                    .and_then(|p| p.group_versions.get(&key))
                    .filter(|doc| doc.fingerprint == fingerprint)
                    .cloned();
                let doc = reused.unwrap_or_else(|| {
                    let mut hasher = Sha512::new();
                    hasher.update(key.as_bytes());
                    hasher.update(fingerprint.to_be_bytes());
                    hasher.update(crate::discovery::KUBE_GIT_VERSION.as_bytes());
                    Arc::new(GroupVersionDoc {
                        fingerprint,
                        hash: hex_upper(&hasher.finalize()),
                        types,
                        rendered: OnceLock::new(),
                    })
                });
                (key, doc)
            })
            .collect();
        let index_paths: Map<String, Value> = group_versions
            .iter()
            .map(|(key, doc)| {
                (
                    key.clone(),
                    json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={}", doc.hash)}),
                )
            })
            .collect();
        OpenApiDocs {
            fingerprint: types_fingerprint(&types),
            v3_index: serde_json::to_vec(&json!({"paths": index_paths})).unwrap_or_default(),
            types,
            group_versions,
            v2: OnceLock::new(),
        }
    }

    /// The Swagger 2.0 document (`/openapi/v2`), JSON.
    pub fn v2_json(&self) -> &[u8] {
        self.v2.get_or_init(|| render_v2(&self.types))
    }

    /// The `/openapi/v3` index: `{"paths": {"api/v1": {"serverRelativeURL": ...}}}`.
    pub fn v3_index(&self) -> &[u8] {
        &self.v3_index
    }

    /// The OpenAPI 3.0 document of one group-version: `key` is `api/v1` or
    /// `apis/{group}/{version}` (as in the index, without `/openapi/v3/`).
    pub fn v3_document(&self, key: &str) -> Option<&[u8]> {
        self.group_versions
            .get(key.trim_matches('/'))
            .map(|doc| doc.document())
    }

    /// The hash the index advertises for `key` (changes whenever that document does).
    pub fn v3_hash(&self, key: &str) -> Option<&str> {
        self.group_versions
            .get(key.trim_matches('/'))
            .map(|doc| doc.hash.as_str())
    }

    /// The index keys (`api/v1`, `apis/{group}/{version}`...).
    pub fn v3_keys(&self) -> impl Iterator<Item = &str> {
        self.group_versions.keys().map(String::as_str)
    }

    /// The fingerprint of the registry content these documents were built from.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }
}

fn group_version_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// Renders the OpenAPI 3.0 document of one group-version's types.
fn render_group_version(types: &[Arc<ResourceType>]) -> Vec<u8> {
    let mut extra = Map::new();
    let mut roots: BTreeSet<String> = [STATUS, DELETE_OPTIONS, PATCH, WATCH_EVENT]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut paths: BTreeMap<String, PathItem> = BTreeMap::new();
    for rt in types {
        let names = schema_names(rt);
        if !BUILTINS.definitions.contains_key(&names.item) {
            extra.insert(names.item.clone(), object_schema(rt));
        }
        if !BUILTINS.definitions.contains_key(&names.list) {
            extra.insert(names.list.clone(), list_schema(rt, &names.item));
        }
        roots.insert(names.item.clone());
        roots.insert(names.list.clone());
        if rt.subresources.scale {
            roots.insert(SCALE.to_string());
        }
        paths.extend(path_items(rt, &names));
    }
    let lookup = |name: &str| extra.get(name).or_else(|| BUILTINS.definitions.get(name));
    let document = json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": crate::discovery::KUBE_GIT_VERSION},
        "paths": paths_v3(&paths),
        "components": {
            "schemas": closure(&lookup, &roots),
            "securitySchemes": {"BearerToken": {"type": "apiKey", "description": "Bearer Token authentication", "name": "authorization", "in": "header"}},
        },
    });
    serde_json::to_vec(&document).unwrap_or_default()
}

/// Renders the Swagger 2.0 document of every type.
fn render_v2(types: &[Arc<ResourceType>]) -> Vec<u8> {
    let mut definitions = BUILTINS.definitions.clone();
    let mut paths: BTreeMap<String, PathItem> = BTreeMap::new();
    for rt in types {
        let names = schema_names(rt);
        if !definitions.contains_key(&names.item) {
            definitions.insert(names.item.clone(), object_schema(rt));
        }
        if !definitions.contains_key(&names.list) {
            definitions.insert(names.list.clone(), list_schema(rt, &names.item));
        }
        paths.extend(path_items(rt, &names));
    }
    let document = json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": crate::discovery::KUBE_GIT_VERSION},
        "paths": paths_v2(&paths),
        "definitions": definitions_v2(&definitions),
        "securityDefinitions": {"BearerToken": {"type": "apiKey", "description": "Bearer Token authentication", "name": "authorization", "in": "header"}},
        "security": [{"BearerToken": []}],
    });
    serde_json::to_vec(&document).unwrap_or_default()
}

/// Keeps the [`OpenApiDocs`] of the latest registry state; builds new ones only when the
/// registry's content (types, schemas, columns) changed since the last call, reusing the
/// rendered documents of unchanged group-versions.
#[derive(Debug, Default)]
pub struct OpenApiCache {
    current: Mutex<Option<Arc<OpenApiDocs>>>,
}

impl OpenApiCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The documents for `registry`.
    pub fn get(&self, registry: &Registry) -> Arc<OpenApiDocs> {
        let fingerprint = registry_fingerprint(registry);
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(docs) = current.as_ref().filter(|d| d.fingerprint == fingerprint) {
            return docs.clone();
        }
        let docs = Arc::new(OpenApiDocs::build_reusing(registry, current.as_deref()));
        *current = Some(docs.clone());
        docs
    }

    /// Drops the cached documents (the next [`get`](Self::get) renders everything anew).
    pub fn invalidate(&self) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// A hash of everything in the registry that the documents depend on.
pub fn registry_fingerprint(registry: &Registry) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for rt in registry.all() {
        hash_type(rt, &mut hasher);
    }
    hasher.finish()
}

fn types_fingerprint(types: &[Arc<ResourceType>]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for rt in types {
        hash_type(rt, &mut hasher);
    }
    hasher.finish()
}

fn hash_type(rt: &ResourceType, hasher: &mut impl Hasher) {
    rt.group.hash(hasher);
    rt.version.hash(hasher);
    rt.plural.hash(hasher);
    rt.singular.hash(hasher);
    rt.kind.hash(hasher);
    rt.list_kind.hash(hasher);
    rt.namespaced.hash(hasher);
    rt.short_names.hash(hasher);
    rt.categories.hash(hasher);
    rt.verbs.hash(hasher);
    rt.subresources.status.hash(hasher);
    rt.subresources.scale.hash(hasher);
    rt.storage.hash(hasher);
    match &rt.origin {
        Origin::BuiltIn => 0u8.hash(hasher),
        Origin::Crd { crd_name } => (1u8, crd_name).hash(hasher),
        Origin::Extension => 2u8.hash(hasher),
    }
    for column in &rt.printer_columns {
        column.name.hash(hasher);
        column.json_path.hash(hasher);
    }
    match &rt.schema {
        Some(schema) => hash_value(schema, hasher),
        None => 6u8.hash(hasher),
    }
}

fn hash_value(value: &Value, hasher: &mut impl Hasher) {
    match value {
        Value::Null => 0u8.hash(hasher),
        Value::Bool(b) => (1u8, b).hash(hasher),
        Value::Number(n) => (2u8, n.to_string()).hash(hasher),
        Value::String(s) => (3u8, s).hash(hasher),
        Value::Array(items) => {
            (4u8, items.len()).hash(hasher);
            items.iter().for_each(|v| hash_value(v, hasher));
        }
        Value::Object(map) => {
            (5u8, map.len()).hash(hasher);
            for (k, v) in map {
                k.hash(hasher);
                hash_value(v, hasher);
            }
        }
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

// ---------------------------------------------------------------------------------------
// Schemas of registry types

struct SchemaNames {
    item: String,
    list: String,
}

/// kube's reverse-domain name of a CRD type: `crd.antrea.io` `v1beta1` `Tier` ->
/// `io.antrea.crd.v1beta1.Tier`.
pub fn crd_schema_name(group: &str, version: &str, kind: &str) -> String {
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

fn schema_names(rt: &ResourceType) -> SchemaNames {
    let item = match rt.origin {
        Origin::BuiltIn => BUILTINS
            .kinds
            .get(&(rt.group.clone(), rt.version.clone(), rt.kind.clone()))
            .cloned()
            .unwrap_or_else(|| {
                crd_schema_name(&builtin_group_name(&rt.group), &rt.version, &rt.kind)
            }),
        _ => crd_schema_name(&rt.group, &rt.version, &rt.kind),
    };
    let list = match item.strip_suffix(&rt.kind) {
        Some(prefix) => format!("{prefix}{}", rt.list_kind),
        None => format!("{item}List"),
    };
    SchemaNames { item, list }
}

fn builtin_group_name(group: &str) -> String {
    if group.is_empty() {
        "core".to_string()
    } else {
        group.to_string()
    }
}

/// The published schema of a type with no k8s-openapi model: a CRD's `openAPIV3Schema`
/// with `apiVersion`, `kind`, `metadata` set as kube-apiserver publishes them, or an open
/// object for types without a schema.
fn object_schema(rt: &ResourceType) -> Value {
    let mut schema = match &rt.schema {
        Some(Value::Object(schema)) => schema.clone(),
        _ => {
            let mut open = Map::new();
            open.insert("type".into(), json!("object"));
            open.insert("x-kubernetes-preserve-unknown-fields".into(), json!(true));
            open
        }
    };
    schema.entry("type").or_insert_with(|| json!("object"));
    let properties = schema.entry("properties").or_insert_with(|| json!({}));
    if let Value::Object(properties) = properties {
        properties.insert(
            "apiVersion".into(),
            json!({"description": API_VERSION_DESCRIPTION, "type": "string"}),
        );
        properties.insert(
            "kind".into(),
            json!({"description": KIND_DESCRIPTION, "type": "string"}),
        );
        properties.insert(
            "metadata".into(),
            json!({"allOf": [{"$ref": format!("{V3_REF_PREFIX}{OBJECT_META}")}], "description": METADATA_DESCRIPTION}),
        );
    }
    schema.insert(
        "x-kubernetes-group-version-kind".into(),
        json!([gvk(&rt.group, &rt.version, &rt.kind)]),
    );
    Value::Object(schema)
}

fn list_schema(rt: &ResourceType, item: &str) -> Value {
    json!({
        "description": format!("{} is a list of {}", rt.list_kind, rt.kind),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"description": API_VERSION_DESCRIPTION, "type": "string"},
            "items": {
                "description": format!("List of {}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md", rt.plural),
                "type": "array",
                "items": {"$ref": format!("{V3_REF_PREFIX}{item}")},
            },
            "kind": {"description": KIND_DESCRIPTION, "type": "string"},
            "metadata": {"allOf": [{"$ref": format!("{V3_REF_PREFIX}{LIST_META}")}], "description": LIST_METADATA_DESCRIPTION},
        },
        "x-kubernetes-group-version-kind": [gvk(&rt.group, &rt.version, &rt.list_kind)],
    })
}

/// The definitions reachable (through `$ref`s) from `roots`.
fn closure<'d>(
    lookup: &impl Fn(&str) -> Option<&'d Value>,
    roots: &BTreeSet<String>,
) -> Map<String, Value> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut stack: Vec<String> = roots.iter().cloned().collect();
    while let Some(name) = stack.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = lookup(&name) {
            collect_refs(schema, &mut |r| {
                if !seen.contains(r) {
                    stack.push(r.to_string());
                }
            });
        }
    }
    seen.into_iter()
        .filter_map(|name| lookup(&name).map(|s| (name, s.clone())))
        .collect()
}

fn collect_refs(value: &Value, found: &mut impl FnMut(&str)) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        if let Some(name) = r.strip_prefix(V3_REF_PREFIX) {
                            found(name);
                        }
                    }
                    _ => collect_refs(v, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, found)),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------
// Paths and operations (kept abstract, rendered as OpenAPI 3 or Swagger 2)

#[derive(Clone)]
enum Body {
    Object(String),
    Patch(&'static [&'static str]),
    DeleteOptions,
}

#[derive(Clone)]
struct Operation {
    method: &'static str,
    action: &'static str,
    id: String,
    description: String,
    query: &'static [&'static str],
    body: Option<Body>,
    response: String,
    codes: &'static [u16],
    gvk: Value,
    tag: String,
}

#[derive(Clone)]
struct PathItem {
    params: Vec<&'static str>,
    ops: Vec<Operation>,
}

const LIST_QUERY: &[&str] = &[
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
];
const WRITE_QUERY: &[&str] = &["dryRun", "fieldManager", "fieldValidation"];
const PATCH_QUERY: &[&str] = &["dryRun", "fieldManager", "fieldValidation", "force"];
const DELETE_QUERY: &[&str] = &[
    "dryRun",
    "gracePeriodSeconds",
    "orphanDependents",
    "propagationPolicy",
];
const DELETE_COLLECTION_QUERY: &[&str] = &[
    "continue",
    "dryRun",
    "fieldSelector",
    "gracePeriodSeconds",
    "labelSelector",
    "limit",
    "orphanDependents",
    "propagationPolicy",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
];
const BUILTIN_PATCH_TYPES: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];
const CUSTOM_PATCH_TYPES: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
];

fn query_param(name: &str) -> (&'static str, &'static str) {
    match name {
        "allowWatchBookmarks" => (
            "boolean",
            "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion.",
        ),
        "continue" => (
            "string",
            "The continue option should be set when retrieving more results from the server.",
        ),
        "dryRun" => (
            "string",
            "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed",
        ),
        "fieldManager" => (
            "string",
            "fieldManager is a name associated with the actor or entity that is making these changes.",
        ),
        "fieldSelector" => (
            "string",
            "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
        ),
        "fieldValidation" => (
            "string",
            "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict (the default).",
        ),
        "force" => (
            "boolean",
            "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",
        ),
        "gracePeriodSeconds" => (
            "integer",
            "The duration in seconds before the object should be deleted.",
        ),
        "labelSelector" => (
            "string",
            "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
        ),
        "limit" => (
            "integer",
            "limit is a maximum number of responses to return for a list call.",
        ),
        "orphanDependents" => (
            "boolean",
            "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7.",
        ),
        "propagationPolicy" => (
            "string",
            "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan', 'Background', 'Foreground'.",
        ),
        "resourceVersion" => (
            "string",
            "resourceVersion sets a constraint on what resource versions a request may be served from.",
        ),
        "resourceVersionMatch" => (
            "string",
            "resourceVersionMatch determines how resourceVersion is applied to list calls.",
        ),
        "sendInitialEvents" => (
            "boolean",
            "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will begin with synthetic events to produce the current state of objects in the collection.",
        ),
        "timeoutSeconds" => ("integer", "Timeout for the list/watch call."),
        "watch" => (
            "boolean",
            "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.",
        ),
        "pretty" => ("string", "If 'true', then the output is pretty printed."),
        _ => ("string", ""),
    }
}

fn camel(segment: &str) -> String {
    segment
        .split(['.', '-'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut chars = p.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

fn path_items(rt: &ResourceType, names: &SchemaNames) -> Vec<(String, PathItem)> {
    let group_camel = if rt.group.is_empty() {
        "Core".to_string()
    } else {
        camel(&rt.group)
    };
    let gv_camel = format!("{group_camel}{}", camel(&rt.version));
    let tag = if rt.group.is_empty() {
        format!("core_{}", rt.version)
    } else {
        let mut g = camel(&rt.group);
        if let Some(first) = g.get(..1) {
            g = first.to_ascii_lowercase() + &g[1..];
        }
        format!("{g}_{}", rt.version)
    };
    let scope = if rt.namespaced { "Namespaced" } else { "" };
    let gvk_value = gvk(&rt.group, &rt.version, &rt.kind);
    let can = |verb: &str| rt.verbs.iter().any(|v| v == verb);
    let patch_types = if rt.origin == Origin::BuiltIn {
        BUILTIN_PATCH_TYPES
    } else {
        CUSTOM_PATCH_TYPES
    };
    let item_ref = names.item.clone();
    let op = |method: &'static str,
              action: &'static str,
              id: String,
              description: String,
              query: &'static [&'static str],
              body: Option<Body>,
              response: String,
              codes: &'static [u16]| Operation {
        method,
        action,
        id,
        description,
        query,
        body,
        response,
        codes,
        gvk: gvk_value.clone(),
        tag: tag.clone(),
    };

    let prefix = rt.api_prefix();
    let (collection, ns_params): (String, Vec<&'static str>) = if rt.namespaced {
        (
            format!("{prefix}/namespaces/{{namespace}}/{}", rt.plural),
            vec!["namespace"],
        )
    } else {
        (format!("{prefix}/{}", rt.plural), vec![])
    };
    let kind = &rt.kind;
    let mut items = Vec::new();

    let mut collection_ops = Vec::new();
    if can("list") || can("watch") {
        collection_ops.push(op(
            "get",
            "list",
            format!("list{gv_camel}{scope}{kind}"),
            format!("list or watch objects of kind {kind}"),
            LIST_QUERY,
            None,
            names.list.clone(),
            &[200],
        ));
    }
    if can("create") {
        collection_ops.push(op(
            "post",
            "post",
            format!("create{gv_camel}{scope}{kind}"),
            format!("create a {kind}"),
            WRITE_QUERY,
            Some(Body::Object(item_ref.clone())),
            item_ref.clone(),
            &[200, 201, 202],
        ));
    }
    if can("deletecollection") {
        collection_ops.push(op(
            "delete",
            "deletecollection",
            format!("delete{gv_camel}Collection{scope}{kind}"),
            format!("delete collection of {kind}"),
            DELETE_COLLECTION_QUERY,
            Some(Body::DeleteOptions),
            STATUS.to_string(),
            &[200],
        ));
    }
    if !collection_ops.is_empty() {
        items.push((
            collection.clone(),
            PathItem {
                params: ns_params.clone(),
                ops: collection_ops,
            },
        ));
    }

    let mut item_params = vec!["name"];
    item_params.extend(ns_params.iter().copied());
    let mut item_ops = Vec::new();
    if can("get") {
        item_ops.push(op(
            "get",
            "get",
            format!("read{gv_camel}{scope}{kind}"),
            format!("read the specified {kind}"),
            &[],
            None,
            item_ref.clone(),
            &[200],
        ));
    }
    if can("update") {
        item_ops.push(op(
            "put",
            "put",
            format!("replace{gv_camel}{scope}{kind}"),
            format!("replace the specified {kind}"),
            WRITE_QUERY,
            Some(Body::Object(item_ref.clone())),
            item_ref.clone(),
            &[200, 201],
        ));
    }
    if can("delete") {
        item_ops.push(op(
            "delete",
            "delete",
            format!("delete{gv_camel}{scope}{kind}"),
            format!("delete a {kind}"),
            DELETE_QUERY,
            Some(Body::DeleteOptions),
            STATUS.to_string(),
            &[200, 202],
        ));
    }
    if can("patch") {
        item_ops.push(op(
            "patch",
            "patch",
            format!("patch{gv_camel}{scope}{kind}"),
            format!("partially update the specified {kind}"),
            PATCH_QUERY,
            Some(Body::Patch(patch_types)),
            item_ref.clone(),
            &[200, 201],
        ));
    }
    if !item_ops.is_empty() {
        items.push((
            format!("{collection}/{{name}}"),
            PathItem {
                params: item_params.clone(),
                ops: item_ops,
            },
        ));
    }

    let subresources: Vec<(&str, String)> = [
        (rt.subresources.status, "status", item_ref.clone()),
        (rt.subresources.scale, "scale", SCALE.to_string()),
    ]
    .into_iter()
    .filter(|(on, _, _)| *on)
    .map(|(_, sub, schema)| (sub, schema))
    .collect();
    for (sub, schema) in subresources {
        let sub_camel = camel(sub);
        let ops = vec![
            op(
                "get",
                "get",
                format!("read{gv_camel}{scope}{kind}{sub_camel}"),
                format!("read {sub} of the specified {kind}"),
                &[],
                None,
                schema.clone(),
                &[200],
            ),
            op(
                "put",
                "put",
                format!("replace{gv_camel}{scope}{kind}{sub_camel}"),
                format!("replace {sub} of the specified {kind}"),
                WRITE_QUERY,
                Some(Body::Object(schema.clone())),
                schema.clone(),
                &[200, 201],
            ),
            op(
                "patch",
                "patch",
                format!("patch{gv_camel}{scope}{kind}{sub_camel}"),
                format!("partially update {sub} of the specified {kind}"),
                PATCH_QUERY,
                Some(Body::Patch(patch_types)),
                schema.clone(),
                &[200, 201],
            ),
        ];
        items.push((
            format!("{collection}/{{name}}/{sub}"),
            PathItem {
                params: item_params.clone(),
                ops,
            },
        ));
    }

    if rt.namespaced && can("list") {
        let all = op(
            "get",
            "list",
            format!("list{gv_camel}{kind}ForAllNamespaces"),
            format!("list or watch objects of kind {kind}"),
            LIST_QUERY,
            None,
            names.list.clone(),
            &[200],
        );
        items.push((
            format!("{prefix}/{}", rt.plural),
            PathItem {
                params: vec![],
                ops: vec![all],
            },
        ));
    }
    items
}

fn paths_v3(paths: &BTreeMap<String, PathItem>) -> Value {
    Value::Object(
        paths
            .iter()
            .map(|(path, item)| (path.clone(), render_item_v3(item)))
            .collect(),
    )
}

fn paths_v2(paths: &BTreeMap<String, PathItem>) -> Value {
    Value::Object(
        paths
            .iter()
            .map(|(path, item)| (path.clone(), render_item_v2(item)))
            .collect(),
    )
}

fn path_param_v3(name: &str) -> Value {
    let description = if name == "namespace" {
        "object name and auth scope, such as for teams and projects".to_string()
    } else {
        "name of the resource".to_string()
    };
    json!({"name": name, "in": "path", "description": description, "required": true, "schema": {"type": "string", "uniqueItems": true}})
}

fn query_param_v3(name: &str) -> Value {
    let (type_, description) = query_param(name);
    json!({"name": name, "in": "query", "description": description, "schema": {"type": type_, "uniqueItems": true}})
}

fn response_content_v3(schema: &str, watch: bool) -> Value {
    let reference = json!({"$ref": format!("{V3_REF_PREFIX}{schema}")});
    let mut content = Map::new();
    content.insert("application/json".into(), json!({"schema": reference}));
    content.insert("application/yaml".into(), json!({"schema": reference}));
    if watch {
        content.insert(
            "application/json;stream=watch".into(),
            json!({"schema": reference}),
        );
    }
    Value::Object(content)
}

fn render_item_v3(item: &PathItem) -> Value {
    let mut out = Map::new();
    for op in &item.ops {
        let mut rendered = Map::new();
        rendered.insert("tags".into(), json!([op.tag]));
        rendered.insert("description".into(), json!(op.description));
        rendered.insert("operationId".into(), json!(op.id));
        let params: Vec<Value> = op.query.iter().map(|q| query_param_v3(q)).collect();
        if !params.is_empty() {
            rendered.insert("parameters".into(), Value::Array(params));
        }
        match &op.body {
            Some(Body::Object(schema)) => {
                rendered.insert(
                    "requestBody".into(),
                    json!({"content": {"*/*": {"schema": {"$ref": format!("{V3_REF_PREFIX}{schema}")}}}, "required": true}),
                );
            }
            Some(Body::Patch(types)) => {
                let content: Map<String, Value> = types
                    .iter()
                    .map(|t| {
                        (
                            t.to_string(),
                            json!({"schema": {"$ref": format!("{V3_REF_PREFIX}{PATCH}")}}),
                        )
                    })
                    .collect();
                rendered.insert(
                    "requestBody".into(),
                    json!({"content": content, "required": true}),
                );
            }
            Some(Body::DeleteOptions) => {
                rendered.insert(
                    "requestBody".into(),
                    json!({"content": {"*/*": {"schema": {"$ref": format!("{V3_REF_PREFIX}{DELETE_OPTIONS}")}}}}),
                );
            }
            None => {}
        }
        let watch = op.action == "list";
        let mut responses = Map::new();
        for code in op.codes {
            let description = match code {
                201 => "Created",
                202 => "Accepted",
                _ => "OK",
            };
            responses.insert(
                code.to_string(),
                json!({"description": description, "content": response_content_v3(&op.response, watch)}),
            );
        }
        responses.insert("401".into(), json!({"description": "Unauthorized"}));
        rendered.insert("responses".into(), Value::Object(responses));
        rendered.insert("x-kubernetes-action".into(), json!(op.action));
        rendered.insert("x-kubernetes-group-version-kind".into(), op.gvk.clone());
        out.insert(op.method.into(), Value::Object(rendered));
    }
    let mut params: Vec<Value> = item.params.iter().map(|p| path_param_v3(p)).collect();
    params.push(query_param_v3("pretty"));
    out.insert("parameters".into(), Value::Array(params));
    Value::Object(out)
}

fn render_item_v2(item: &PathItem) -> Value {
    let mut out = Map::new();
    for op in &item.ops {
        let mut rendered = Map::new();
        rendered.insert("description".into(), json!(op.description));
        let consumes: Vec<&str> = match &op.body {
            Some(Body::Patch(types)) => types.to_vec(),
            _ => vec!["*/*"],
        };
        rendered.insert("consumes".into(), json!(consumes));
        let mut produces = vec!["application/json", "application/yaml"];
        if op.action == "list" {
            produces.push("application/json;stream=watch");
        }
        rendered.insert("produces".into(), json!(produces));
        rendered.insert("schemes".into(), json!(["https"]));
        rendered.insert("tags".into(), json!([op.tag]));
        rendered.insert("operationId".into(), json!(op.id));
        let mut params: Vec<Value> = Vec::new();
        match &op.body {
            Some(Body::Object(schema)) => params.push(json!({"name": "body", "in": "body", "required": true, "schema": {"$ref": format!("{V2_REF_PREFIX}{schema}")}})),
            Some(Body::Patch(_)) => params.push(json!({"name": "body", "in": "body", "required": true, "schema": {"$ref": format!("{V2_REF_PREFIX}{PATCH}")}})),
            Some(Body::DeleteOptions) => params.push(json!({"name": "body", "in": "body", "schema": {"$ref": format!("{V2_REF_PREFIX}{DELETE_OPTIONS}")}})),
            None => {}
        }
        for q in op.query {
            let (type_, description) = query_param(q);
            params.push(json!({"uniqueItems": true, "type": type_, "description": description, "name": q, "in": "query"}));
        }
        if !params.is_empty() {
            rendered.insert("parameters".into(), Value::Array(params));
        }
        let mut responses = Map::new();
        for code in op.codes {
            let description = match code {
                201 => "Created",
                202 => "Accepted",
                _ => "OK",
            };
            responses.insert(
                code.to_string(),
                json!({"description": description, "schema": {"$ref": format!("{V2_REF_PREFIX}{}", op.response)}}),
            );
        }
        responses.insert("401".into(), json!({"description": "Unauthorized"}));
        rendered.insert("responses".into(), Value::Object(responses));
        rendered.insert("x-kubernetes-action".into(), json!(op.action));
        rendered.insert("x-kubernetes-group-version-kind".into(), op.gvk.clone());
        out.insert(op.method.into(), Value::Object(rendered));
    }
    let mut params: Vec<Value> = item
        .params
        .iter()
        .map(|p| json!({"uniqueItems": true, "type": "string", "description": if *p == "namespace" { "object name and auth scope, such as for teams and projects" } else { "name of the resource" }, "name": p, "in": "path", "required": true}))
        .collect();
    let (_, pretty) = query_param("pretty");
    params.push(json!({"uniqueItems": true, "type": "string", "description": pretty, "name": "pretty", "in": "query"}));
    out.insert("parameters".into(), Value::Array(params));
    Value::Object(out)
}

/// Swagger 2.0 definitions from the OpenAPI 3 components: references re-rooted at
/// `#/definitions/` and the keywords Swagger 2.0 lacks (`nullable`, `anyOf`, `oneOf`,
/// `not`) dropped, as kube-apiserver does when it publishes CRD schemas in v2. Names
/// inside `properties` maps are field names, never keywords, and are kept.
fn definitions_v2(definitions: &Map<String, Value>) -> Value {
    fn convert(value: &Value, keys_are_names: bool) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter(|(k, _)| {
                        keys_are_names
                            || !matches!(k.as_str(), "nullable" | "anyOf" | "oneOf" | "not")
                    })
                    .map(|(k, v)| {
                        let converted = match (keys_are_names, k.as_str(), v) {
                            (false, "$ref", Value::String(r)) => {
                                match r.strip_prefix(V3_REF_PREFIX) {
                                    Some(name) => json!(format!("{V2_REF_PREFIX}{name}")),
                                    None => v.clone(),
                                }
                            }
                            (false, "properties" | "patternProperties" | "definitions", _) => {
                                convert(v, true)
                            }
                            _ => convert(v, false),
                        };
                        (k.clone(), converted)
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|v| convert(v, false)).collect()),
            other => other.clone(),
        }
    }
    Value::Object(
        definitions
            .iter()
            .map(|(k, v)| (k.clone(), convert(v, false)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{PrinterColumn, Subresources};

    /// A registry type from one version of a real CRD manifest (test-only, minimal).
    fn types_from_crd_manifest(file: &str) -> Vec<ResourceType> {
        let path = format!(
            "{}/../../../shared/antrea-crds/v2.7.0/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("CRD manifest");
        let crd: Value = serde_saphyr::from_str(&text).expect("CRD yaml");
        let spec = &crd["spec"];
        let names = &spec["names"];
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        spec["versions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["served"] == true)
            .map(|v| ResourceType {
                group: spec["group"].as_str().unwrap().into(),
                version: v["name"].as_str().unwrap().into(),
                plural: names["plural"].as_str().unwrap().into(),
                singular: names["singular"].as_str().unwrap_or_default().into(),
                kind: names["kind"].as_str().unwrap().into(),
                list_kind: format!("{}List", names["kind"].as_str().unwrap()),
                namespaced: spec["scope"] == "Namespaced",
                short_names: strings(&names["shortNames"]),
                categories: strings(&names["categories"]),
                verbs: crate::registry::default_verbs(),
                subresources: Subresources {
                    status: v["subresources"].get("status").is_some(),
                    scale: v["subresources"].get("scale").is_some(),
                },
                printer_columns: v["additionalPrinterColumns"]
                    .as_array()
                    .map(|cols| {
                        cols.iter()
                            .map(|c| PrinterColumn {
                                name: c["name"].as_str().unwrap().into(),
                                type_: c["type"].as_str().unwrap().into(),
                                format: c["format"].as_str().map(str::to_string),
                                description: c["description"].as_str().map(str::to_string),
                                priority: c["priority"].as_i64().unwrap_or(0) as i32,
                                json_path: c["jsonPath"].as_str().unwrap().into(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                schema: v["schema"].get("openAPIV3Schema").cloned(),
                storage: v["storage"] == true,
                origin: Origin::Crd {
                    crd_name: crd["metadata"]["name"].as_str().unwrap().into(),
                },
            })
            .collect()
    }

    fn registry_with(files: &[&str]) -> Registry {
        let mut registry = Registry::with_builtins();
        for file in files {
            for rt in types_from_crd_manifest(file) {
                registry.insert(rt);
            }
        }
        registry
    }

    fn doc(docs: &OpenApiDocs, key: &str) -> Value {
        serde_json::from_slice(docs.v3_document(key).expect(key)).unwrap()
    }

    fn assert_refs_resolve(document: &Value, prefix: &str, definitions: &Value) {
        let mut missing = Vec::new();
        fn walk(v: &Value, prefix: &str, definitions: &Value, missing: &mut Vec<String>) {
            match v {
                Value::Object(map) => {
                    for (k, v) in map {
                        if let ("$ref", Some(r)) = (k.as_str(), v.as_str()) {
                            let name = r
                                .strip_prefix(prefix)
                                .unwrap_or_else(|| panic!("foreign ref {r}"));
                            if definitions.get(name).is_none() {
                                missing.push(name.to_string());
                            }
                        } else {
                            walk(v, prefix, definitions, missing);
                        }
                    }
                }
                Value::Array(items) => items
                    .iter()
                    .for_each(|v| walk(v, prefix, definitions, missing)),
                _ => {}
            }
        }
        walk(document, prefix, definitions, &mut missing);
        assert!(missing.is_empty(), "unresolved refs: {missing:?}");
    }

    #[test]
    fn builtin_schemas_carry_kube_extensions() {
        let docs = OpenApiDocs::build(&Registry::with_builtins());
        let core = doc(&docs, "api/v1");
        let schemas = &core["components"]["schemas"];
        let pod = &schemas["io.k8s.api.core.v1.Pod"];
        assert_eq!(
            pod["x-kubernetes-group-version-kind"],
            json!([{"group": "", "kind": "Pod", "version": "v1"}])
        );
        assert!(pod.get("required").is_none(), "metadata is not required");
        assert_eq!(
            pod["properties"]["metadata"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        );
        let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(
            schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["volumes"]["x-kubernetes-patch-strategy"],
            "merge,retainKeys"
        );
        assert_eq!(
            schemas["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"]["x-kubernetes-patch-merge-key"],
            "port"
        );
        assert_eq!(
            schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["ownerReferences"]
                ["x-kubernetes-patch-merge-key"],
            "uid"
        );
        assert_eq!(
            schemas["io.k8s.api.core.v1.PodList"]["x-kubernetes-group-version-kind"][0]["kind"],
            "PodList"
        );
        assert!(
            schemas.get("io.k8s.api.networking.v1.Ingress").is_none(),
            "other groups stay in their documents"
        );
        assert_refs_resolve(&core, V3_REF_PREFIX, schemas);
        assert_eq!(
            builtin_patch_meta("io.k8s.api.core.v1.Container", "env"),
            Some(("merge", Some("name")))
        );
        assert!(
            builtin_property_description("io.k8s.api.core.v1.PodStatus", "podIP")
                .unwrap()
                .contains("IP")
        );
    }

    #[test]
    fn builtin_patch_operations_advertise_field_validation_and_strategic_merge() {
        let docs = OpenApiDocs::build(&Registry::with_builtins());
        let core = doc(&docs, "api/v1");
        let item = &core["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"];
        let patch = &item["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"],
            json!({"group": "", "kind": "Pod", "version": "v1"})
        );
        assert_eq!(patch["x-kubernetes-action"], "patch");
        assert_eq!(patch["operationId"], "patchCoreV1NamespacedPod");
        let params: Vec<&str> = patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(
            params.contains(&"fieldValidation")
                && params.contains(&"fieldManager")
                && params.contains(&"force")
        );
        assert!(
            patch["requestBody"]["content"]
                .get("application/strategic-merge-patch+json")
                .is_some()
        );
        let path_params: Vec<&str> = item["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(path_params, ["name", "namespace", "pretty"]);
        assert!(
            core["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/status"]["patch"].is_object()
        );
        assert_eq!(
            core["paths"]["/api/v1/pods"]["get"]["operationId"],
            "listCoreV1PodForAllNamespaces"
        );
        let nodes = &core["paths"]["/api/v1/nodes/{name}"];
        assert_eq!(nodes["patch"]["operationId"], "patchCoreV1Node");
        let post = &core["paths"]["/api/v1/namespaces/{namespace}/configmaps"]["post"];
        assert!(
            post["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        let leases = doc(&docs, "apis/coordination.k8s.io/v1");
        assert_eq!(
            leases["paths"]["/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"]["patch"]
                ["operationId"],
            "patchCoordinationK8sIoV1NamespacedLease"
        );
    }

    #[test]
    fn crd_versions_publish_their_schemas() {
        let registry = registry_with(&[
            "clusternetworkpolicy.yaml",
            "tier.yaml",
            "clustergroup.yaml",
        ]);
        let docs = OpenApiDocs::build(&registry);
        let antrea = doc(&docs, "apis/crd.antrea.io/v1beta1");
        let schemas = &antrea["components"]["schemas"];
        let acnp = &schemas["io.antrea.crd.v1beta1.ClusterNetworkPolicy"];
        assert_eq!(
            acnp["x-kubernetes-group-version-kind"],
            json!([{"group": "crd.antrea.io", "kind": "ClusterNetworkPolicy", "version": "v1beta1"}])
        );
        assert_eq!(acnp["properties"]["spec"]["required"], json!(["priority"]));
        assert_eq!(acnp["properties"]["apiVersion"]["type"], "string");
        assert!(schemas["io.antrea.crd.v1beta1.ClusterNetworkPolicyList"].is_object());
        assert!(schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"].is_object());
        assert_refs_resolve(&antrea, V3_REF_PREFIX, schemas);
        let item = &antrea["paths"]["/apis/crd.antrea.io/v1beta1/clusternetworkpolicies/{name}"];
        let content = &item["patch"]["requestBody"]["content"];
        assert!(content.get("application/merge-patch+json").is_some());
        assert!(
            content
                .get("application/strategic-merge-patch+json")
                .is_none(),
            "custom resources take no strategic merge"
        );
        assert!(
            item["patch"]["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(antrea["paths"]["/apis/crd.antrea.io/v1beta1/clusternetworkpolicies/{name}/status"]["put"].is_object());
        let crds = doc(&docs, "apis/apiextensions.k8s.io/v1");
        let crd_patch = &crds["paths"]["/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"]
            ["patch"];
        assert!(
            crd_patch["requestBody"]["content"]
                .get("application/strategic-merge-patch+json")
                .is_some()
        );
    }

    #[test]
    fn swagger_v2_has_every_path_and_definition() {
        let registry = registry_with(&["clusternetworkpolicy.yaml"]);
        let docs = OpenApiDocs::build(&registry);
        let v2: Value = serde_json::from_slice(docs.v2_json()).unwrap();
        assert_eq!(v2["swagger"], "2.0");
        let definitions = &v2["definitions"];
        assert!(definitions["io.k8s.api.core.v1.Pod"].is_object());
        assert!(definitions["io.antrea.crd.v1beta1.ClusterNetworkPolicy"].is_object());
        assert_refs_resolve(&v2, V2_REF_PREFIX, definitions);
        let patch =
            &v2["paths"]["/apis/crd.antrea.io/v1beta1/clusternetworkpolicies/{name}"]["patch"];
        assert_eq!(patch["consumes"].as_array().unwrap().len(), 3);
        assert!(
            patch["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation" && p["type"] == "string")
        );
        // JSONSchemaProps' fields named like keywords stay; keywords themselves go.
        let props = &definitions["io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"]
            ["properties"];
        assert!(
            props["not"].is_object() && props["anyOf"].is_object() && props["$ref"].is_object()
        );
    }

    #[test]
    fn index_hashes_follow_content_and_cache_rebuilds_on_change() {
        let cache = OpenApiCache::new();
        let mut registry = Registry::with_builtins();
        let first = cache.get(&registry);
        assert!(
            Arc::ptr_eq(&first, &cache.get(&registry)),
            "unchanged registry reuses the documents"
        );
        assert!(first.v3_document("apis/crd.antrea.io/v1beta1").is_none());
        let index: Value = serde_json::from_slice(first.v3_index()).unwrap();
        let core_url = index["paths"]["api/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            core_url,
            format!(
                "/openapi/v3/api/v1?hash={}",
                first.v3_hash("api/v1").unwrap()
            )
        );
        assert_eq!(first.v3_hash("api/v1").unwrap().len(), 128);

        for rt in types_from_crd_manifest("tier.yaml") {
            registry.insert(rt);
        }
        let second = cache.get(&registry);
        assert!(!Arc::ptr_eq(&first, &second));
        assert!(second.v3_document("/apis/crd.antrea.io/v1beta1/").is_some());
        assert_eq!(
            first.v3_hash("api/v1"),
            second.v3_hash("api/v1"),
            "untouched groups keep their hash"
        );

        let mut changed = registry.clone();
        let mut tier = types_from_crd_manifest("tier.yaml").remove(0);
        tier.schema = Some(json!({"type": "object", "properties": {"spec": {"type": "object"}}}));
        changed.insert(tier);
        let third = cache.get(&changed);
        assert_ne!(
            second.v3_hash("apis/crd.antrea.io/v1beta1"),
            third.v3_hash("apis/crd.antrea.io/v1beta1")
        );
        registry.remove_crd("tiers.crd.antrea.io");
        assert!(
            cache
                .get(&registry)
                .v3_document("apis/crd.antrea.io/v1beta1")
                .is_none()
        );
        cache.invalidate();
        assert!(!Arc::ptr_eq(&cache.get(&registry), &first));
    }

    #[test]
    fn build_cost_with_every_antrea_crd() {
        let files: Vec<String> = std::fs::read_dir(format!(
            "{}/../../../shared/antrea-crds/v2.7.0",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
        let files: Vec<&str> = files.iter().map(String::as_str).collect();
        let mut registry = registry_with(&files);
        let _ = BUILTINS.definitions.len(); // generates the built-in schemas once
        let cache = OpenApiCache::new();
        let started = std::time::Instant::now();
        let docs = cache.get(&registry);
        let index = started.elapsed();
        let started = std::time::Instant::now();
        let keys: Vec<String> = docs.v3_keys().map(str::to_string).collect();
        let v3_bytes: usize = keys
            .iter()
            .map(|k| docs.v3_document(k).unwrap().len())
            .sum();
        let v3 = started.elapsed();
        let started = std::time::Instant::now();
        let v2_bytes = docs.v2_json().len();
        let v2 = started.elapsed();
        let tier = types_from_crd_manifest("tier.yaml").remove(0);
        let mut changed = tier.clone();
        changed.short_names.push("tr".into());
        registry.insert(changed);
        let started = std::time::Instant::now();
        let after = cache.get(&registry);
        let _ = after.v3_document("apis/crd.antrea.io/v1beta1");
        let _ = after.v3_document("api/v1");
        let rebuild = started.elapsed();
        eprintln!(
            "openapi with {} types: index {index:?}; all {} v3 documents ({} KiB) {v3:?}; v2 ({} KiB) {v2:?}; \
             after one CRD change, index + its document + api/v1 {rebuild:?}",
            registry.all().count(),
            keys.len(),
            v3_bytes / 1024,
            v2_bytes / 1024,
        );
        assert_eq!(
            after.v3_document("api/v1").map(<[u8]>::as_ptr),
            docs.v3_document("api/v1").map(<[u8]>::as_ptr),
            "unchanged group-versions are not rendered again"
        );
    }
}
