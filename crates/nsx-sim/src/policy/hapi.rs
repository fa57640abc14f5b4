//! The hierarchical API: `PATCH /policy/api/v1/infra` with an `Infra` body whose `children`
//! are `Child<Type>` wrappers (or `ChildResourceReference`s to existing parents), applied in one
//! transaction (at most [`MAX_OBJECTS`] objects, NSX's local-manager limit); and
//! `GET /policy/api/v1/infra` with `filter`, `type_filter` and `base_path`, which returns the
//! tree in the same wrapper form. (`PUT /infra` updates only the Infra object itself.)

use regex::Regex;
use serde_json::{Map, Value, json};

use super::kinds::{Kind, resolve};
use super::render::{RenderOptions, render};
use super::{Engine, Origin, TABLE, WriteMode, children_of};
use crate::error::ApiError;
use crate::identity::Caller;
use crate::schema::{Api, schemas};
use crate::store::Tables;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::policy_invalid(message)
}

/// Most objects one hierarchical request may carry ("Hierarchical API supports up to 5000
/// intent creation on LM").
pub const MAX_OBJECTS: usize = 5000;

/// Applies a hierarchical `PATCH`: wrapped objects are created or merged, or deleted when the
/// wrapper is `marked_for_delete`.
pub fn apply(
    engine: &mut Engine<'_, '_>,
    body: Value,
    enforce_revision: bool,
) -> Result<(), ApiError> {
    let objects = count_objects(body.get("children"));
    if objects > MAX_OBJECTS {
        return Err(invalid(format!(
            "A hierarchical request can carry at most {MAX_OBJECTS} objects; this one has {objects}."
        )));
    }
    let Value::Object(mut infra) = body else {
        return Err(ApiError::field_validation(&[
            "/: the body must be an Infra object".into(),
        ]));
    };
    if let Some(rt) = infra.get("resource_type").and_then(Value::as_str)
        && rt != "Infra"
    {
        return Err(invalid(format!(
            "The body of /infra must be an Infra, not {rt}."
        )));
    }
    let children = take_children(&mut infra)?;
    let read_only = schemas().read_only_fields(Api::Policy, "Infra");
    if infra.keys().any(|k| {
        !matches!(k.as_str(), "resource_type" | "_revision" | "id") && !read_only.contains(k)
    }) {
        engine.upsert(
            Kind::Infra,
            "/infra",
            Value::Object(infra),
            WriteMode::Merge,
            Origin::Hierarchical(enforce_revision),
        )?;
    }
    apply_children(engine, Kind::Infra, "/infra", children, enforce_revision)
}

/// Wrapped objects in a `children` list, recursively (references do not count).
fn count_objects(children: Option<&Value>) -> usize {
    children
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|child| {
            let own = usize::from(child["resource_type"] != "ChildResourceReference");
            let nested = child
                .as_object()
                .into_iter()
                .flat_map(|w| w.values())
                .filter(|v| v.is_object())
                .map(|v| count_objects(v.get("children")))
                .sum::<usize>();
            own + nested + count_objects(child.get("children"))
        })
        .sum()
}

fn take_children(obj: &mut Map<String, Value>) -> Result<Vec<Value>, ApiError> {
    match obj.remove("children") {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(ApiError::field_validation(&[
            "children: must be an array".into()
        ])),
    }
}

fn apply_children(
    engine: &mut Engine<'_, '_>,
    parent_kind: Kind,
    parent_path: &str,
    children: Vec<Value>,
    enforce_revision: bool,
) -> Result<(), ApiError> {
    for child in children {
        let Value::Object(mut wrapper) = child else {
            return Err(invalid("Every child must be an object."));
        };
        let wrapper_type = wrapper
            .get("resource_type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if wrapper_type == "ChildResourceReference" {
            let target = wrapper
                .get("target_type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let kind = Kind::from_resource_type(target)
                .filter(|k| k.spec().parent == Some(parent_kind))
                .ok_or_else(|| {
                    invalid(format!(
                        "ChildResourceReference target_type {target} cannot be a child of {parent_path}."
                    ))
                })?;
            let id = wrapper
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("A ChildResourceReference needs an id."))?;
            let path = format!("{parent_path}/{}/{id}", kind.spec().segment);
            if engine.get(&path).is_none() {
                return Err(ApiError::new(
                    http::StatusCode::BAD_REQUEST,
                    crate::error::code::INVALID_PATH,
                    crate::error::MODULE_POLICY,
                    format!(
                        "Invalid path {path}: a ChildResourceReference must name an existing object."
                    ),
                ));
            }
            let grandchildren = take_children(&mut wrapper)?;
            apply_children(engine, kind, &path, grandchildren, enforce_revision)?;
            continue;
        }
        let kind = Kind::from_wrapper(&wrapper_type).ok_or_else(|| {
            invalid(format!(
                "The hierarchical API of the simulator does not support {wrapper_type}."
            ))
        })?;
        if kind.spec().parent != Some(parent_kind) {
            return Err(invalid(format!(
                "{wrapper_type} cannot be a child of {parent_path}."
            )));
        }
        let (_, key) = kind.spec().child_wrapper.unwrap_or_default();
        // The bindings also declare ChildServiceEntry.Service; accept either key.
        let object = wrapper
            .remove(key)
            .or_else(|| {
                (kind == Kind::ServiceEntry)
                    .then(|| wrapper.remove("Service"))
                    .flatten()
            })
            .ok_or_else(|| {
                invalid(format!(
                    "{wrapper_type} must hold its object under '{key}'."
                ))
            })?;
        let Value::Object(mut object) = object else {
            return Err(invalid(format!("{wrapper_type}.{key} must be an object.")));
        };
        let id = object
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(format!("{wrapper_type}.{key} needs an id.")))?
            .to_owned();
        let path = format!("{parent_path}/{}/{id}", kind.spec().segment);
        if wrapper.get("marked_for_delete") == Some(&Value::Bool(true)) {
            engine.delete(&path, false)?;
            continue;
        }
        let grandchildren = take_children(&mut object)?;
        engine.upsert(
            kind,
            &path,
            Value::Object(object),
            WriteMode::Merge,
            Origin::Hierarchical(enforce_revision),
        )?;
        apply_children(engine, kind, &path, grandchildren, enforce_revision)?;
    }
    Ok(())
}

/// Which objects a hierarchical `GET` returns.
#[derive(Debug, Default)]
pub struct ReadFilter {
    /// `filter`: a regular expression searched in `Type-<resource_type>`.
    pub filter: Option<Regex>,
    /// `type_filter`: resource types separated by `,`, `;` or `|`.
    pub types: Option<Vec<String>>,
}

impl ReadFilter {
    /// From the query parameters.
    pub fn parse(filter: Option<&str>, type_filter: Option<&str>) -> Result<Self, ApiError> {
        let filter = filter
            .map(|f| {
                Regex::new(f)
                    .map_err(|e| ApiError::bad_parameter(format!("Invalid filter {f}: {e}")))
            })
            .transpose()?;
        let types = type_filter.map(|t| {
            t.split([',', ';', '|'])
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        });
        Ok(Self { filter, types })
    }

    fn is_hierarchical(&self) -> bool {
        self.filter.is_some() || self.types.is_some()
    }

    fn matches(&self, resource_type: &str) -> bool {
        let by_filter = self
            .filter
            .as_ref()
            .is_none_or(|f| f.is_match(&format!("Type-{resource_type}")));
        let by_type = self
            .types
            .as_ref()
            .is_none_or(|t| t.iter().any(|x| x == resource_type));
        by_filter && by_type
    }
}

/// `GET /infra`: the Infra object; with `filter`, `type_filter` or `base_path`, the tree of
/// matching objects (and their ancestors) as `Child<Type>` wrappers.
pub fn read(
    tables: &Tables,
    caller: &Caller,
    base_path: Option<&str>,
    filter: &ReadFilter,
) -> Result<Value, ApiError> {
    let infra = tables
        .get(TABLE, "/infra")
        .ok_or_else(|| ApiError::internal("/infra is missing"))?;
    let mut out = render(tables, "/infra", infra, caller, RenderOptions::default());
    if !filter.is_hierarchical() && base_path.is_none() {
        return Ok(out);
    }
    let everything = ReadFilter::default();
    let filter = if filter.is_hierarchical() {
        filter
    } else {
        &everything
    };
    let children = match base_path {
        None | Some("/infra") => subtree_children(tables, caller, Kind::Infra, "/infra", filter),
        Some(base) => {
            let Some(super::kinds::Target::Object { kind, path }) = resolve(base) else {
                return Err(ApiError::bad_parameter(format!(
                    "Invalid base_path {base}."
                )));
            };
            if tables.get(TABLE, &path).is_none() {
                return Err(ApiError::policy_not_found(&path));
            }
            // Wrap the base object in its ancestors' references.
            let mut node = node(tables, caller, kind, &path, filter, true);
            let mut current = path.clone();
            let mut current_kind = kind;
            while let Some(parent_kind) = current_kind.spec().parent {
                if parent_kind == Kind::Infra {
                    break;
                }
                let (parent, _) = super::kinds::split_path(&current).unwrap_or(("/infra", ""));
                let (_, parent_id) = super::kinds::split_path(parent).unwrap_or(("", ""));
                node = node.map(|n| {
                    json!({"resource_type": "ChildResourceReference", "id": parent_id,
                           "target_type": parent_kind.spec().resource_types[0], "children": [n]})
                });
                current = parent.to_owned();
                current_kind = parent_kind;
            }
            node.into_iter().collect()
        }
    };
    if let Value::Object(map) = &mut out {
        map.insert("children".into(), Value::Array(children));
    }
    Ok(out)
}

fn subtree_children(
    tables: &Tables,
    caller: &Caller,
    kind: Kind,
    path: &str,
    filter: &ReadFilter,
) -> Vec<Value> {
    let mut out = Vec::new();
    for spec in kind.children() {
        if spec.child_wrapper.is_none() {
            continue;
        }
        for (child_path, _) in children_of(tables, path, spec.kind) {
            if let Some(n) = node(tables, caller, spec.kind, child_path, filter, false) {
                out.push(n);
            }
        }
    }
    out
}

/// The wrapper of the object at `path` with its subtree, if it or a descendant matches.
fn node(
    tables: &Tables,
    caller: &Caller,
    kind: Kind,
    path: &str,
    filter: &ReadFilter,
    force: bool,
) -> Option<Value> {
    let doc = tables.get(TABLE, path)?;
    let (wrapper, key) = kind.spec().child_wrapper?;
    let resource_type = doc["resource_type"].as_str().unwrap_or_default();
    let children = subtree_children(tables, caller, kind, path, filter);
    if !force && children.is_empty() && !filter.matches(resource_type) {
        return None;
    }
    let mut object = render(tables, path, doc, caller, RenderOptions::default());
    if !children.is_empty()
        && let Value::Object(map) = &mut object
    {
        map.insert("children".into(), Value::Array(children));
    }
    Some(json!({"resource_type": wrapper, key: object, "marked_for_delete": false}))
}
