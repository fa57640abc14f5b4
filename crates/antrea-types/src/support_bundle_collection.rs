//! `SupportBundleCollection`, crd.antrea.io/v1alpha1, cluster-scoped (Alpha, gate off by
//! default): agents upload bundles to an SFTP server.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::open_enum::open_string_enum;
use crate::policy::{ConditionStatus, SchemaInteger};

/// What to collect and where to upload it. One of `nodes` and `externalNodes` is required.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "crd.antrea.io",
    version = "v1alpha1",
    kind = "SupportBundleCollection",
    plural = "supportbundlecollections",
    singular = "supportbundlecollection",
    shortname = "sbc",
    status = "SupportBundleCollectionStatus",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("anyOf" = [{"required": ["nodes"]}, {"required": ["externalNodes"]}]))]
pub struct SupportBundleCollectionSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<BundleNodes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_nodes: Option<BundleExternalNodes>,
    /// The collection fails if not done in time; the manifest defaults it to 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>", extend("default" = 60))]
    pub expiration_minutes: Option<i32>,
    /// A duration such as `2h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "duration"))]
    pub since_time: Option<String>,
    pub file_server: BundleFileServer,
    pub authentication: BundleServerAuthConfiguration,
}

/// Nodes to collect from; both fields empty means all Nodes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BundleNodes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_names: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::label_selector_preserving_match_labels")]
    pub node_selector: Option<LabelSelector>,
}

/// ExternalNodes of one Namespace to collect from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BundleExternalNodes {
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_names: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::label_selector_preserving_match_labels")]
    pub node_selector: Option<LabelSelector>,
}

/// The upload target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BundleFileServer {
    /// `sftp://host:port/path` (the scheme may be omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// SSH host key in wire format, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "byte"))]
    pub host_public_key: Option<String>,
}

/// How agents authenticate to the file server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum BundleServerAuthType {
    BearerToken,
    #[serde(rename = "APIKey")]
    ApiKey,
    BasicAuthentication,
}

/// A Secret reference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretReference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Credentials for the file server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BundleServerAuthConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_type: Option<BundleServerAuthType>,
    /// Keys `username`/`password`, `token` or `apikey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_secret: Option<SecretReference>,
}

open_string_enum! {
    /// Condition types of a SupportBundleCollection.
    pub enum SupportBundleCollectionConditionType {
        Started = "Started",
        BundleCollected = "BundleCollected",
        CollectionFailure = "CollectionFailure",
        Completed = "Completed",
    }
}

/// Progress of a collection; success is `Completed=True` and `CollectionFailure=False`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SupportBundleCollectionStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>")]
    pub collected_nodes: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>")]
    pub desired_nodes: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<SupportBundleCollectionCondition>>,
}

/// A condition of a SupportBundleCollection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SupportBundleCollectionCondition {
    #[serde(rename = "type")]
    pub type_: SupportBundleCollectionConditionType,
    #[schemars(with = "String")]
    pub status: ConditionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub last_transition_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
