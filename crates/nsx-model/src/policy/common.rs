//! Fields every NSX Policy object carries (`PolicyConfigResource` and its bases): identity
//! (`id`, `path`, `unique_id`), version (`_revision`), naming, tags and the read-only
//! bookkeeping NSX adds on GET.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An NSX tag: `scope` and `tag` (both optional on the wire).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tag {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// A hyperlink NSX puts in `_links` and `_self` (read-only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceLink {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rel: Option<String>,
}

/// The common fields of a policy object, flattened into each model. Everything but
/// `description`, `display_name`, `id`, `tags` and `children` is read-only (set by NSX).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyObjectMeta {
    #[serde(rename = "_links", default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<ResourceLink>>,
    #[serde(rename = "_schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(rename = "_self", default, skip_serializing_if = "Option::is_none")]
    pub self_link: Option<ResourceLink>,
    /// The object version; every write increments it.
    #[serde(rename = "_revision", default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
    #[serde(
        rename = "_create_time",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub create_time: Option<i64>,
    #[serde(
        rename = "_create_user",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub create_user: Option<String>,
    #[serde(
        rename = "_last_modified_time",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_modified_time: Option<i64>,
    #[serde(
        rename = "_last_modified_user",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_modified_user: Option<String>,
    #[serde(
        rename = "_protection",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub protection: Option<String>,
    #[serde(
        rename = "_system_owned",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub system_owned: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The last segment of `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_site_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_path: Option<String>,
    /// The policy path, e.g. `/infra/domains/default/groups/web`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realization_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_path: Option<String>,
    /// A UUID, stable for the life of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_id: Option<String>,
    /// Hierarchical-API children (`Child*` wrappers); GET does not return them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marked_for_delete: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overridden: Option<bool>,
}

impl PolicyObjectMeta {
    /// `display_name`, else `id`, else the empty string.
    pub fn name(&self) -> &str {
        self.display_name
            .as_deref()
            .or(self.id.as_deref())
            .unwrap_or_default()
    }
}
