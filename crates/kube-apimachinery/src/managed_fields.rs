//! Server-side apply and `metadata.managedFields` (FieldsV1), following
//! sigs.k8s.io/structured-merge-diff (`merge.Updater.Apply`/`Update`) and kube-apiserver's
//! field manager (stripped meta fields, entry identity, sorting, timestamps, the 409
//! conflict Status).
//!
//! [`apply`]: the applied configuration is merged into the live object (scalars replaced,
//! maps merged, lists per their type: atomic lists replaced, `set` lists unioned, `map`
//! lists merged by key, new items appended); fields whose value changes and that another
//! manager owns are conflicts unless `force` (then ownership moves to the applier); the
//! applier then owns exactly the fields it sent, and fields it owned before but no longer
//! sends are removed unless another manager owns them (or something beneath them). Applying
//! the same configuration again produces an identical object (the entry's `time` only
//! changes when the object changes).
//!
//! [`record_update`]: a non-apply write; the manager (operation `Update`) takes the fields
//! it added or changed, removed fields leave every manager, changed fields leave the other
//! managers.
//!
//! FieldsV1 encoding as kube writes it: `f:<field>`, `k:<key fields as JSON>` for items of
//! map lists, `v:<value as JSON>` for set items, `.` when a node that has children is itself
//! owned (list items, maps given whole). kube never records `apiVersion`, `kind`,
//! `metadata.{name,namespace,uid,resourceVersion,generation,creationTimestamp,selfLink,
//! managedFields}`.
//!
//! Known gaps: no version conversion of managed sets (the emulator serves one version per
//! kind); for `Update`s, kube decides which struct fields get a `.` from the Go zero value
//! of the old object, we use unstructured semantics (an absent object node that the update
//! adds gets `.`, as kube does for custom resources); resetting managedFields by sending an
//! empty list is honoured, other hand-edited managedFields are taken as given.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value, json};

use crate::schema::{Node, StructuralSchema};
use crate::strategic::{ListSemantics, builtin_list_semantics};

/// Tells the apply machinery how lists and maps at a path behave. Paths are object field
/// names from the root; list items are not part of the path.
pub trait ListRules {
    fn list_semantics(&self, path: &[&str]) -> ListSemantics;

    /// A map whose entries are owned one by one (`additionalProperties`, labels, ...):
    /// kube records each entry as owned even when it is an object.
    fn is_granular_map(&self, path: &[&str]) -> bool {
        let _ = path;
        false
    }

    /// A map replaced and owned as a whole (`x-kubernetes-map-type: atomic`).
    fn is_atomic_map(&self, path: &[&str]) -> bool {
        let _ = path;
        false
    }

    /// A Go non-pointer struct of a built-in kind: always present in kube's typed objects,
    /// so an update never "adds" it (no `.` in its managedFields node).
    fn is_implicit_struct(&self, path: &[&str]) -> bool {
        let _ = path;
        false
    }
}

/// Rules of a built-in kind, from the strategic-merge table and kube's published schema.
#[derive(Debug, Clone)]
pub struct BuiltinListRules {
    pub group: String,
    pub kind: String,
}

impl BuiltinListRules {
    pub fn new(group: &str, kind: &str) -> Self {
        BuiltinListRules {
            group: group.to_string(),
            kind: kind.to_string(),
        }
    }
}

fn metadata_granular(path: &[&str]) -> bool {
    matches!(path, ["metadata", "labels" | "annotations"])
}

impl ListRules for BuiltinListRules {
    fn list_semantics(&self, path: &[&str]) -> ListSemantics {
        builtin_list_semantics(&self.group, &self.kind, path)
    }

    fn is_granular_map(&self, path: &[&str]) -> bool {
        metadata_granular(path)
            || matches!(
                (self.kind.as_str(), path),
                ("ConfigMap", ["data" | "binaryData"])
                    | ("Secret", ["data" | "stringData"])
                    | ("Node", ["status", "capacity" | "allocatable"])
            )
    }

    fn is_implicit_struct(&self, path: &[&str]) -> bool {
        matches!(path, ["spec" | "status"])
    }

    fn is_atomic_map(&self, path: &[&str]) -> bool {
        matches!(
            (self.kind.as_str(), path),
            ("Service", ["spec", "selector"])
                | ("Pod", ["spec", "nodeSelector"])
                | ("NetworkPolicy", ["spec", "podSelector"])
        )
    }
}

impl StructuralSchema {
    fn node_at(&self, path: &[&str]) -> Option<&Node> {
        let mut node = &self.root;
        for name in path {
            while let Some(item) = node.item() {
                node = item;
            }
            node = node.field(name)?;
        }
        Some(node)
    }
}

impl ListRules for StructuralSchema {
    fn list_semantics(&self, path: &[&str]) -> ListSemantics {
        if path.first() == Some(&"metadata") {
            return builtin_list_semantics("", "Object", path);
        }
        match self.node_at(path) {
            Some(node) => match node.list_type.as_deref() {
                Some("set") => ListSemantics::Set,
                Some("map") => ListSemantics::Map(node.list_map_keys.clone()),
                _ => ListSemantics::Atomic,
            },
            None => ListSemantics::Atomic,
        }
    }

    fn is_granular_map(&self, path: &[&str]) -> bool {
        if path.first() == Some(&"metadata") {
            return metadata_granular(path);
        }
        self.node_at(path).is_some_and(|node| {
            matches!(node.additional, Some(crate::schema::Additional::Schema(_)))
                || (node.preserve_unknown && node.properties.is_empty())
        })
    }

    fn is_atomic_map(&self, path: &[&str]) -> bool {
        self.node_at(path)
            .is_some_and(|node| node.map_type.as_deref() == Some("atomic"))
    }
}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    Field(String),
    /// The key fields of a map-list item, as canonical JSON (`{"name":"a"}`).
    Key(String),
    /// A set item, as JSON.
    Value(String),
    Index(usize),
}

impl fmt::Display for PathElement {
    /// `fieldpath.PathElement.String()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(json) => {
                let parsed: Map<String, Value> = serde_json::from_str(json).unwrap_or_default();
                let parts: Vec<String> = parsed
                    .iter()
                    .map(|(k, v)| format!("{k}={}", serde_json::to_string(v).unwrap_or_default()))
                    .collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(json) => write!(f, "[={json}]"),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

fn path_string(path: &[PathElement]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// A set of field paths, as a tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    member: bool,
    children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(FieldSet::is_empty)
    }

    pub fn insert(&mut self, path: &[PathElement]) {
        match path.split_first() {
            None => self.member = true,
            Some((first, rest)) => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    pub fn contains(&self, path: &[PathElement]) -> bool {
        match path.split_first() {
            None => self.member,
            Some((first, rest)) => self.children.get(first).is_some_and(|c| c.contains(rest)),
        }
    }

    /// Every member path, in order.
    pub fn paths(&self) -> Vec<Vec<PathElement>> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Vec<PathElement>>) {
        if self.member && !prefix.is_empty() {
            out.push(prefix.clone());
        }
        for (element, child) in &self.children {
            prefix.push(element.clone());
            child.collect(prefix, out);
            prefix.pop();
        }
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.member |= other.member;
        for (element, child) in &other.children {
            let merged = match out.children.get(element) {
                Some(existing) => existing.union(child),
                None => child.clone(),
            };
            out.children.insert(element.clone(), merged);
        }
        out
    }

    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && !other.member,
            children: BTreeMap::new(),
        };
        for (element, child) in &self.children {
            let diff = match other.children.get(element) {
                Some(o) => child.difference(o),
                None => child.clone(),
            };
            if !diff.is_empty() {
                out.children.insert(element.clone(), diff);
            }
        }
        out
    }

    /// Members plus every ancestor of a member (`EnsureNamedFieldsAreMembers`, roughly).
    fn touched(&self) -> FieldSet {
        let mut out = FieldSet {
            member: self.member || !self.children.is_empty(),
            children: BTreeMap::new(),
        };
        for (element, child) in &self.children {
            let t = child.touched();
            if !t.is_empty() {
                out.children.insert(element.clone(), t);
            }
        }
        out
    }

    /// The FieldsV1 JSON.
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.is_empty() {
            map.insert(".".into(), json!({}));
        }
        for (element, child) in &self.children {
            if child.is_empty() {
                continue;
            }
            let key = match element {
                PathElement::Field(name) => format!("f:{name}"),
                PathElement::Key(json) => format!("k:{json}"),
                PathElement::Value(json) => format!("v:{json}"),
                PathElement::Index(i) => format!("i:{i}"),
            };
            map.insert(key, child.to_fields_v1());
        }
        Value::Object(map)
    }

    /// Parses FieldsV1 JSON.
    pub fn from_fields_v1(value: &Value) -> Result<FieldSet, String> {
        let Value::Object(map) = value else {
            return Err("FieldsV1 must be an object".into());
        };
        let mut set = FieldSet {
            member: map.is_empty(),
            children: BTreeMap::new(),
        };
        for (key, child) in map {
            if key == "." {
                set.member = true;
                continue;
            }
            let element = if let Some(name) = key.strip_prefix("f:") {
                PathElement::Field(name.to_string())
            } else if let Some(json) = key.strip_prefix("k:") {
                let parsed: Value =
                    serde_json::from_str(json).map_err(|e| format!("invalid key {key}: {e}"))?;
                PathElement::Key(canonical_json(&parsed))
            } else if let Some(json) = key.strip_prefix("v:") {
                let parsed: Value =
                    serde_json::from_str(json).map_err(|e| format!("invalid value {key}: {e}"))?;
                PathElement::Value(canonical_json(&parsed))
            } else if let Some(index) = key.strip_prefix("i:") {
                PathElement::Index(index.parse().map_err(|_| format!("invalid index {key}"))?)
            } else {
                return Err(format!("invalid FieldsV1 key {key:?}"));
            };
            set.children
                .insert(element, FieldSet::from_fields_v1(child)?);
        }
        Ok(set)
    }
}

/// Compact JSON with object keys sorted (kube's key and value encoding).
fn canonical_json(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&map[k])))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_string(&sorted(value)).unwrap_or_default()
}

/// The key of a map-list item. A missing `protocol` key field counts as `TCP`, the value
/// kube defaults it to before computing ownership.
fn item_key(item: &Value, keys: &[String]) -> String {
    let mut key = Map::new();
    let mut names: Vec<&String> = keys.iter().collect();
    names.sort();
    for name in names {
        match item.get(name.as_str()) {
            Some(v) if !v.is_null() => {
                key.insert(name.clone(), v.clone());
            }
            _ if name == "protocol" => {
                key.insert(name.clone(), Value::String("TCP".into()));
            }
            _ => {}
        }
    }
    canonical_json(&Value::Object(key))
}

fn item_element(item: &Value, semantics: &ListSemantics) -> PathElement {
    match semantics {
        ListSemantics::Map(keys) => PathElement::Key(item_key(item, keys)),
        _ => PathElement::Value(canonical_json(item)),
    }
}

/// Walks a value, collecting the paths kube's `ToFieldSet` would.
fn to_field_set(
    value: &Value,
    fields: &mut Vec<String>,
    prefix: &mut Vec<PathElement>,
    rules: &dyn ListRules,
    set: &mut FieldSet,
) {
    let field_path: Vec<String> = fields.clone();
    let field_refs: Vec<&str> = field_path.iter().map(String::as_str).collect();
    match value {
        Value::Object(map) => {
            if !prefix.is_empty() && rules.is_atomic_map(&field_refs) {
                set.insert(prefix);
                return;
            }
            let granular = rules.is_granular_map(&field_refs);
            for (key, child) in map {
                prefix.push(PathElement::Field(key.clone()));
                fields.push(key.clone());
                to_field_set(child, fields, prefix, rules, set);
                let empty_object = child.as_object().is_some_and(Map::is_empty);
                if child.is_null() || empty_object || granular {
                    set.insert(prefix);
                }
                fields.pop();
                prefix.pop();
            }
        }
        Value::Array(items) => match rules.list_semantics(&field_refs) {
            ListSemantics::Atomic => set.insert(prefix),
            semantics @ ListSemantics::Set => {
                for item in items {
                    prefix.push(item_element(item, &semantics));
                    set.insert(prefix);
                    prefix.pop();
                }
            }
            semantics @ ListSemantics::Map(_) => {
                for item in items {
                    prefix.push(item_element(item, &semantics));
                    to_field_set(item, fields, prefix, rules, set);
                    set.insert(prefix);
                    prefix.pop();
                }
            }
        },
        _ => set.insert(prefix),
    }
}

/// Paths kube never records in managedFields.
fn strip_meta(set: &mut FieldSet) {
    for field in ["apiVersion", "kind"] {
        set.children.remove(&PathElement::Field(field.into()));
    }
    if let Some(metadata) = set.children.get_mut(&PathElement::Field("metadata".into())) {
        metadata.member = false;
        for field in [
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        ] {
            metadata.children.remove(&PathElement::Field(field.into()));
        }
    }
    set.children.retain(|_, child| !child.is_empty());
}

/// The set of fields a value specifies.
pub fn field_set_of(value: &Value, rules: &dyn ListRules) -> FieldSet {
    let mut set = FieldSet::default();
    to_field_set(value, &mut Vec::new(), &mut Vec::new(), rules, &mut set);
    strip_meta(&mut set);
    set
}

fn list_position(
    items: &[Value],
    element: &PathElement,
    semantics: &ListSemantics,
) -> Option<usize> {
    match element {
        PathElement::Index(i) => (*i < items.len()).then_some(*i),
        _ => items
            .iter()
            .position(|item| &item_element(item, semantics) == element),
    }
}

/// The value at a path (field names drive the list rules).
fn value_at<'a>(
    value: &'a Value,
    path: &[PathElement],
    rules: &dyn ListRules,
) -> Option<&'a Value> {
    let mut current = value;
    let mut fields: Vec<&str> = Vec::new();
    for element in path {
        current = match (current, element) {
            (Value::Object(map), PathElement::Field(name)) => {
                fields.push(name);
                map.get(name)?
            }
            (Value::Array(items), element) => {
                let semantics = rules.list_semantics(&fields);
                &items[list_position(items, element, &semantics)?]
            }
            _ => return None,
        };
    }
    Some(current)
}

fn remove_at(
    value: &mut Value,
    path: &[PathElement],
    rules: &dyn ListRules,
    fields: &mut Vec<String>,
) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    match (value, first) {
        (Value::Object(map), PathElement::Field(name)) => {
            if rest.is_empty() {
                map.shift_remove(name);
            } else if let Some(child) = map.get_mut(name) {
                fields.push(name.clone());
                remove_at(child, rest, rules, fields);
                fields.pop();
            }
        }
        (Value::Array(items), element) => {
            let field_path: Vec<String> = fields.clone();
            let field_refs: Vec<&str> = field_path.iter().map(String::as_str).collect();
            let semantics = rules.list_semantics(&field_refs);
            if let Some(position) = list_position(items, element, &semantics) {
                if rest.is_empty() {
                    items.remove(position);
                } else {
                    remove_at(&mut items[position], rest, rules, fields);
                }
            }
        }
        _ => {}
    }
}

/// Whether the node at a path is a leaf for comparisons (scalar, null, atomic list/map).
fn is_leaf(value: &Value, path: &[PathElement], rules: &dyn ListRules) -> bool {
    let fields: Vec<&str> = path
        .iter()
        .filter_map(|e| match e {
            PathElement::Field(name) => Some(name.as_str()),
            _ => None,
        })
        .collect();
    match value {
        Value::Array(_) => rules.list_semantics(&fields) == ListSemantics::Atomic,
        Value::Object(_) => rules.is_atomic_map(&fields),
        _ => true,
    }
}

/// `live.Merge(config)` of structured-merge-diff.
fn merge_values(
    live: &Value,
    config: &Value,
    fields: &mut Vec<String>,
    rules: &dyn ListRules,
) -> Value {
    let field_path: Vec<String> = fields.clone();
    let field_refs: Vec<&str> = field_path.iter().map(String::as_str).collect();
    match (live, config) {
        (Value::Object(l), Value::Object(c)) if !rules.is_atomic_map(&field_refs) => {
            let mut out = l.clone();
            for (key, config_value) in c {
                let merged = match l.get(key) {
                    Some(live_value) => {
                        fields.push(key.clone());
                        let m = merge_values(live_value, config_value, fields, rules);
                        fields.pop();
                        m
                    }
                    None => config_value.clone(),
                };
                out.insert(key.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(c)) => {
            let semantics = rules.list_semantics(&field_refs);
            if semantics == ListSemantics::Atomic {
                return config.clone();
            }
            let l_ids: Vec<PathElement> = l.iter().map(|v| item_element(v, &semantics)).collect();
            let r_ids: Vec<PathElement> = c.iter().map(|v| item_element(v, &semantics)).collect();
            // structured-merge-diff's visitListItems ordering.
            let mut out = Vec::with_capacity(l.len().max(c.len()));
            let merge_item =
                |li: Option<usize>, rj: usize, fields: &mut Vec<String>| match (li, &semantics) {
                    (Some(li), ListSemantics::Map(_)) => {
                        merge_values(&l[li], &c[rj], fields, rules)
                    }
                    _ => c[rj].clone(),
                };
            let in_lhs = |id: &PathElement| l_ids.iter().position(|x| x == id);
            let mut shared: std::collections::VecDeque<&PathElement> =
                r_ids.iter().filter(|id| in_lhs(id).is_some()).collect();
            let mut next_shared = shared.pop_front();
            let (mut i, mut j) = (0, 0);
            while i < l.len() || j < c.len() {
                if i < l.len() && j < c.len() {
                    if l_ids[i] == r_ids[j] {
                        out.push(merge_item(Some(i), j, fields));
                        i += 1;
                        j += 1;
                        next_shared = shared.pop_front();
                        continue;
                    }
                    if r_ids.contains(&l_ids[i]) && next_shared.is_some_and(|n| *n != l_ids[i]) {
                        // shared item, but not the one wanted in this round
                        i += 1;
                        continue;
                    }
                }
                if i < l.len() && !r_ids.contains(&l_ids[i]) {
                    out.push(l[i].clone());
                    i += 1;
                    continue;
                }
                if j < c.len() {
                    let id = &r_ids[j];
                    out.push(merge_item(in_lhs(id), j, fields));
                    if next_shared.is_some_and(|n| n == id) {
                        next_shared = shared.pop_front();
                    }
                    j += 1;
                } else {
                    // only shared lhs items remain, already emitted with their rhs match
                    i += 1;
                }
            }
            Value::Array(out)
        }
        (_, c) => c.clone(),
    }
}

/// Paths that differ between two values (structured-merge-diff's `Compare`).
#[derive(Debug, Default)]
struct Comparison {
    added: FieldSet,
    modified: FieldSet,
    removed: FieldSet,
}

fn compare(
    old: Option<&Value>,
    new: Option<&Value>,
    fields: &mut Vec<String>,
    prefix: &mut Vec<PathElement>,
    rules: &dyn ListRules,
    out: &mut Comparison,
) {
    let field_path: Vec<String> = fields.clone();
    let field_refs: Vec<&str> = field_path.iter().map(String::as_str).collect();
    let leaf = |v: &Value| match v {
        Value::Array(_) => rules.list_semantics(&field_refs) == ListSemantics::Atomic,
        Value::Object(_) => !prefix.is_empty() && rules.is_atomic_map(&field_refs),
        _ => true,
    };
    let old_leaf = old.is_some_and(leaf);
    let new_leaf = new.is_some_and(leaf);
    if old_leaf || new_leaf || (old.is_none() && new.is_none()) {
        match (old, new) {
            (None, Some(_)) => out.added.insert(prefix),
            (Some(_), None) => out.removed.insert(prefix),
            (Some(a), Some(b)) if a != b => out.modified.insert(prefix),
            _ => {}
        }
        return;
    }
    match (old, new) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let mut keys: Vec<&String> = a.keys().collect();
            keys.extend(b.keys().filter(|k| !a.contains_key(*k)));
            for key in keys {
                prefix.push(PathElement::Field(key.clone()));
                fields.push(key.clone());
                compare(a.get(key), b.get(key), fields, prefix, rules, out);
                fields.pop();
                prefix.pop();
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            let semantics = rules.list_semantics(&field_refs);
            let a_ids: Vec<PathElement> = a.iter().map(|v| item_element(v, &semantics)).collect();
            let b_ids: Vec<PathElement> = b.iter().map(|v| item_element(v, &semantics)).collect();
            let mut ids = a_ids.clone();
            ids.extend(b_ids.iter().filter(|id| !a_ids.contains(id)).cloned());
            for id in ids {
                let old_item = a_ids.iter().position(|x| *x == id).map(|i| &a[i]);
                let new_item = b_ids.iter().position(|x| *x == id).map(|i| &b[i]);
                prefix.push(id);
                if semantics == ListSemantics::Set {
                    match (old_item, new_item) {
                        (None, Some(_)) => out.added.insert(prefix),
                        (Some(_), None) => out.removed.insert(prefix),
                        _ => {}
                    }
                } else {
                    compare(old_item, new_item, fields, prefix, rules, out);
                }
                prefix.pop();
            }
        }
        (old, new) => {
            // An inner node appearing or disappearing, or changing shape.
            if let Some(Value::Object(b)) = new {
                for (key, child) in b {
                    prefix.push(PathElement::Field(key.clone()));
                    fields.push(key.clone());
                    compare(None, Some(child), fields, prefix, rules, out);
                    fields.pop();
                    prefix.pop();
                }
            } else if let Some(Value::Array(b)) = new {
                let semantics = rules.list_semantics(&field_refs);
                for item in b {
                    prefix.push(item_element(item, &semantics));
                    compare(None, Some(item), fields, prefix, rules, out);
                    prefix.pop();
                }
            }
            if let Some(Value::Object(a)) = old {
                for (key, child) in a {
                    prefix.push(PathElement::Field(key.clone()));
                    fields.push(key.clone());
                    compare(Some(child), None, fields, prefix, rules, out);
                    fields.pop();
                    prefix.pop();
                }
            } else if let Some(Value::Array(a)) = old {
                let semantics = rules.list_semantics(&field_refs);
                for item in a {
                    prefix.push(item_element(item, &semantics));
                    compare(Some(item), None, fields, prefix, rules, out);
                    prefix.pop();
                }
            }
            if !prefix.is_empty() && !rules.is_implicit_struct(&field_refs) {
                match (old, new) {
                    (None, Some(_)) => out.added.insert(prefix),
                    (Some(_), None) => out.removed.insert(prefix),
                    _ => {}
                }
            }
        }
    }
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: Option<String>,
    subresource: String,
    set: FieldSet,
}

impl Entry {
    fn same_identity(
        &self,
        manager: &str,
        operation: &str,
        subresource: &str,
        api_version: &str,
    ) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource == subresource
            && (operation == "Apply" || self.api_version == api_version)
    }

    /// `printManager` of kube's conflict messages.
    fn display(&self) -> String {
        let mut text = crate::field_error::go_quote(&self.manager);
        if !self.subresource.is_empty() {
            text = format!(
                "{text} with subresource {}",
                crate::field_error::go_quote(&self.subresource)
            );
        }
        if self.operation == "Update" {
            text = format!("{text} using {}", self.api_version);
        }
        text
    }

    fn to_json(&self) -> Value {
        let mut entry = Map::new();
        entry.insert("manager".into(), Value::String(self.manager.clone()));
        entry.insert("operation".into(), Value::String(self.operation.clone()));
        entry.insert("apiVersion".into(), Value::String(self.api_version.clone()));
        if let Some(time) = &self.time {
            entry.insert("time".into(), Value::String(time.clone()));
        }
        entry.insert("fieldsType".into(), Value::String("FieldsV1".into()));
        entry.insert("fieldsV1".into(), self.set.to_fields_v1());
        if !self.subresource.is_empty() {
            entry.insert(
                "subresource".into(),
                Value::String(self.subresource.clone()),
            );
        }
        Value::Object(entry)
    }
}

fn parse_entries(object: &Value) -> Vec<Entry> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .filter_map(|entry| {
                    let text = |key: &str| {
                        entry
                            .get(key)
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string()
                    };
                    let set = entry
                        .get("fieldsV1")
                        .map(FieldSet::from_fields_v1)
                        .transpose()
                        .ok()?
                        .unwrap_or_default();
                    Some(Entry {
                        manager: text("manager"),
                        operation: text("operation"),
                        api_version: text("apiVersion"),
                        time: entry
                            .get("time")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                        subresource: text("subresource"),
                        set,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn unix_seconds(time: Option<&str>) -> i64 {
    time.and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_second())
        .unwrap_or(0)
}

/// Writes entries into the object, sorted as kube sorts them.
fn store_entries(object: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.set.is_empty());
    entries.sort_by(|p, q| {
        p.operation
            .cmp(&q.operation)
            .then(unix_seconds(p.time.as_deref()).cmp(&unix_seconds(q.time.as_deref())))
            .then(p.manager.cmp(&q.manager))
            .then(p.api_version.cmp(&q.api_version))
            .then(p.subresource.cmp(&q.subresource))
    });
    let Some(root) = object.as_object_mut() else {
        return;
    };
    let metadata = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(metadata) = metadata.as_object_mut() else {
        return;
    };
    if entries.is_empty() {
        metadata.shift_remove("managedFields");
    } else {
        metadata.insert(
            "managedFields".into(),
            Value::Array(entries.iter().map(Entry::to_json).collect()),
        );
    }
}

fn without_managed_fields(value: &Value) -> Value {
    let mut copy = value.clone();
    if let Some(metadata) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.shift_remove("managedFields");
    }
    copy
}

/// One apply conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The other manager as kube prints it (`"kubectl" using v1` for Update managers).
    pub manager: String,
    /// The field path as kube prints it (`.spec.replicas`, `.spec.ports[port=80,protocol="TCP"].name`).
    pub path: String,
}

/// The conflicts that make an apply fail (HTTP 409).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ApplyConflicts {
    pub conflicts: Vec<Conflict>,
}

impl fmt::Display for ApplyConflicts {
    /// kube's `getConflictMessage`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [only] = self.conflicts.as_slice() {
            return write!(
                f,
                "Apply failed with 1 conflict: conflict with {}: {}",
                only.manager, only.path
            );
        }
        let mut managers: Vec<&str> = self.conflicts.iter().map(|c| c.manager.as_str()).collect();
        managers.sort();
        managers.dedup();
        let mut lines = Vec::new();
        for manager in managers {
            lines.push(format!("conflicts with {manager}:"));
            for conflict in self.conflicts.iter().filter(|c| c.manager == manager) {
                lines.push(format!("- {}", conflict.path));
            }
        }
        write!(
            f,
            "Apply failed with {} conflicts: {}",
            self.conflicts.len(),
            lines.join("\n")
        )
    }
}

impl ApplyConflicts {
    /// The 409 `Status` (`errors.NewApplyConflict`).
    pub fn status(&self) -> Value {
        let causes: Vec<Value> = self
            .conflicts
            .iter()
            .map(|c| {
                json!({
                    "reason": "FieldManagerConflict",
                    "message": format!("conflict with {}", c.manager),
                    "field": c.path,
                })
            })
            .collect();
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": "Conflict",
            "details": {"causes": causes},
            "code": 409,
        })
    }
}

/// Options of an apply or update beyond the brief's signature.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions<'a> {
    /// `status` for writes through the status subresource.
    pub subresource: &'a str,
}

/// Server-side apply of `applied` by `manager` onto `live` (None: the object does not
/// exist yet). Returns the new object with updated `metadata.managedFields`.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    list_rules: &dyn ListRules,
    now: &str,
) -> Result<Value, ApplyConflicts> {
    apply_with(
        live,
        applied,
        manager,
        force,
        list_rules,
        now,
        WriteOptions::default(),
    )
}

/// [`apply`] with options (subresource).
pub fn apply_with(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    list_rules: &dyn ListRules,
    now: &str,
    options: WriteOptions<'_>,
) -> Result<Value, ApplyConflicts> {
    let empty = Value::Object(Map::new());
    let live_full = live.unwrap_or(&empty);
    let live_value = without_managed_fields(live_full);
    let applied_value = without_managed_fields(applied);
    let api_version = applied
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut entries = parse_entries(live_full);
    let own_index = entries
        .iter()
        .position(|e| e.same_identity(manager, "Apply", options.subresource, &api_version));
    let previous = own_index.map(|i| entries.remove(i));
    let last_set = previous.as_ref().map(|e| e.set.clone()).unwrap_or_default();

    let mut merged = merge_values(&live_value, &applied_value, &mut Vec::new(), list_rules);

    // Conflicts and removals against every other manager.
    let mut conflicts = Vec::new();
    for entry in entries.iter_mut() {
        let mut conflicting = FieldSet::default();
        let mut removed = FieldSet::default();
        for path in entry.set.paths() {
            let before = value_at(&live_value, &path, list_rules);
            let after = value_at(&merged, &path, list_rules);
            match (before, after) {
                (Some(_), None) => removed.insert(&path),
                (None, Some(_)) => conflicting.insert(&path),
                (Some(b), Some(a)) if is_leaf(b, &path, list_rules) && a != b => {
                    conflicting.insert(&path)
                }
                _ => {}
            }
        }
        for path in conflicting.paths() {
            conflicts.push(Conflict {
                manager: entry.display(),
                path: path_string(&path),
            });
        }
        entry.set = entry.set.difference(&conflicting).difference(&removed);
    }
    if !force && !conflicts.is_empty() {
        conflicts.sort_by(|a, b| a.manager.cmp(&b.manager).then(a.path.cmp(&b.path)));
        return Err(ApplyConflicts { conflicts });
    }

    let applied_set = field_set_of(&applied_value, list_rules);
    // Prune fields the applier owned before and no one owns now.
    let owned = entries
        .iter()
        .fold(applied_set.clone(), |acc, e| acc.union(&e.set));
    // Only paths the applier itself recorded go; unowned neighbours stay (kube's
    // addBackDanglingItems), and a path with an owned descendant stays.
    let stale = last_set.difference(&owned.touched());
    let all_stale = stale.paths();
    let mut stale_paths: Vec<Vec<PathElement>> = all_stale
        .iter()
        .filter(|p| {
            !all_stale
                .iter()
                .any(|q| q.len() < p.len() && p.starts_with(q))
        })
        .cloned()
        .collect();
    // Remove deepest first so list positions stay valid.
    stale_paths.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for path in stale_paths {
        remove_at(&mut merged, &path, list_rules, &mut Vec::new());
    }

    let changed = merged != live_value;
    let time = match (&previous, changed) {
        (Some(previous), false) => previous.time.clone(),
        _ => Some(now.to_string()),
    };
    entries.push(Entry {
        manager: manager.to_string(),
        operation: "Apply".into(),
        api_version,
        time,
        subresource: options.subresource.to_string(),
        set: applied_set,
    });
    store_entries(&mut merged, entries);
    Ok(merged)
}

/// Records a non-apply write (create, update, patch) by `manager`: returns `new` with
/// `metadata.managedFields` updated.
pub fn record_update(
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    api_version: &str,
    now: &str,
) -> Value {
    record_update_with(
        old,
        new,
        manager,
        api_version,
        now,
        &NoListRules,
        WriteOptions::default(),
    )
}

/// [`record_update`] with list rules (for exact list-item ownership) and options.
pub fn record_update_with(
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    api_version: &str,
    now: &str,
    list_rules: &dyn ListRules,
    options: WriteOptions<'_>,
) -> Value {
    let empty = Value::Object(Map::new());
    let old_full = old.unwrap_or(&empty);
    let old_value = without_managed_fields(old_full);
    let new_value = without_managed_fields(new);
    let old_managed = old_full.pointer("/metadata/managedFields");
    let new_managed = new.pointer("/metadata/managedFields");
    // A client that changes managedFields itself sets them (an empty list resets them).
    let mut entries = match new_managed {
        Some(given) if Some(given) != old_managed => parse_entries(new),
        _ => parse_entries(old_full),
    };

    let mut comparison = Comparison::default();
    compare(
        Some(&old_value),
        Some(&new_value),
        &mut Vec::new(),
        &mut Vec::new(),
        list_rules,
        &mut comparison,
    );
    strip_meta(&mut comparison.added);
    strip_meta(&mut comparison.modified);
    strip_meta(&mut comparison.removed);
    let taken = comparison.added.union(&comparison.modified);

    for entry in entries.iter_mut() {
        entry.set = entry.set.difference(&taken).difference(&comparison.removed);
    }
    let mut result = new_value;
    if !taken.is_empty() {
        let position = entries
            .iter()
            .position(|e| e.same_identity(manager, "Update", options.subresource, api_version));
        let previous = position
            .map(|i| entries.remove(i))
            .map(|e| e.set)
            .unwrap_or_default();
        entries.push(Entry {
            manager: manager.to_string(),
            operation: "Update".into(),
            api_version: api_version.to_string(),
            time: Some(now.to_string()),
            subresource: options.subresource.to_string(),
            set: previous.union(&taken),
        });
    }
    store_entries(&mut result, entries);
    result
}

/// List rules that know nothing: every list atomic, every map granular by structure.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoListRules;

impl ListRules for NoListRules {
    fn list_semantics(&self, path: &[&str]) -> ListSemantics {
        builtin_list_semantics("", "Object", path)
    }

    fn is_granular_map(&self, path: &[&str]) -> bool {
        metadata_granular(path)
    }
}

#[cfg(test)]
mod tests;
