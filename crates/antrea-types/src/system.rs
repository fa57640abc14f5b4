//! system.antrea.io/v1beta1 `SupportBundle`: an on-demand bundle served by antrea-controller
//! (object name `controller`, aggregated API) and by every agent's own API (name `agent`).
//! POST it with `since`, poll until `status: Collected`, then GET `.../download`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use crate::api_object::aggregated_resource;
use crate::open_enum::open_string_enum;

/// `apiVersion` of the system kinds.
pub const SYSTEM_API_VERSION: &str = "system.antrea.io/v1beta1";
/// The only SupportBundle name antrea-controller accepts.
pub const CONTROLLER_BUNDLE_NAME: &str = "controller";
/// The only SupportBundle name an agent accepts.
pub const AGENT_BUNDLE_NAME: &str = "agent";

open_string_enum! {
    /// Collection state of a bundle.
    pub enum SupportBundleStatus {
        None = "None",
        Collecting = "Collecting",
        Collected = "Collected",
    }
}

fn system_api_version() -> String {
    SYSTEM_API_VERSION.to_owned()
}

fn support_bundle_kind() -> String {
    SupportBundle::KIND.to_owned()
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// A support bundle request and its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SupportBundle {
    #[serde(default = "system_api_version")]
    pub api_version: String,
    #[serde(default = "support_bundle_kind")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<SupportBundleStatus>,
    /// SHA-256 of the bundle file, hex.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sum: String,
    /// Size of the bundle file in bytes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub size: u32,
    /// How far back logs go, e.g. `1h` (request field).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub since: String,
}

impl SupportBundle {
    /// The kind string.
    pub const KIND: &'static str = "SupportBundle";

    /// A collection request for `name` (`controller` or `agent`).
    pub fn request(name: &str, since: Option<&str>) -> Self {
        Self {
            api_version: system_api_version(),
            kind: support_bundle_kind(),
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            status: None,
            sum: String::new(),
            size: 0,
            since: since.unwrap_or_default().to_owned(),
        }
    }
}

aggregated_resource!(
    SupportBundle,
    group = "system.antrea.io",
    version = "v1beta1",
    kind = "SupportBundle",
    plural = "supportbundles",
    scope = k8s_openapi::ClusterResourceScope
);
