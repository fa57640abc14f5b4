//! Managed fields through `kube_apimachinery::managed_fields`: server-side apply (with
//! conflicts and `force`) and the bookkeeping of every other write, using the list
//! semantics of the kind (built-in strategic-merge table, or the CRD's structural schema).

use kube_apimachinery::managed_fields::{
    self, BuiltinListRules, ListRules, NoListRules, WriteOptions,
};
use kube_apimachinery::registry::{Origin, ResourceType};
use serde_json::Value;

use crate::Inner;
use crate::status::ApiError;

fn with_rules<T>(inner: &Inner, rt: &ResourceType, run: impl FnOnce(&dyn ListRules) -> T) -> T {
    match rt.origin {
        Origin::Crd { .. } => match crate::schema::schema_of(inner, rt) {
            Some(schema) => run(schema.as_ref()),
            None => run(&NoListRules),
        },
        _ => run(&BuiltinListRules::new(&rt.group, &rt.kind)),
    }
}

/// Records a non-apply write of `manager` in `new`'s managed fields.
pub(crate) fn record_update(
    inner: &Inner,
    rt: &ResourceType,
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
) {
    let options = WriteOptions {
        subresource: subresource.unwrap_or(""),
    };
    let now = crate::meta::now();
    *new = with_rules(inner, rt, |rules| {
        managed_fields::record_update_with(
            old,
            new,
            manager,
            &rt.api_version(),
            &now,
            rules,
            options,
        )
    });
}

/// Server-side apply of `applied` by `manager` onto `live` (absent: creation); a 409
/// `Conflict` listing the conflicts unless `force`.
pub(crate) fn apply(
    inner: &Inner,
    rt: &ResourceType,
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    subresource: Option<&str>,
) -> Result<Value, ApiError> {
    let options = WriteOptions {
        subresource: subresource.unwrap_or(""),
    };
    let now = crate::meta::now();
    with_rules(inner, rt, |rules| {
        managed_fields::apply_with(live, applied, manager, force, rules, &now, options)
    })
    .map_err(|conflicts| {
        let status = conflicts.status();
        let mut error = ApiError::new(409, "Conflict", conflicts.to_string());
        error.body = Some(Box::new(status));
        error
    })
}
