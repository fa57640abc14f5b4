//! `AntreaControllerInfo` and `AntreaAgentInfo`, crd.antrea.io/v1beta1, cluster-scoped.
//! Their fields sit at the top level of the object (no spec, no status); antrea-controller
//! and each agent rewrite them every 60 s.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::policy::{ConditionStatus, SchemaInteger};

/// Name of the single AntreaControllerInfo object (`AntreaControllerInfoResourceName`).
pub const ANTREA_CONTROLLER_INFO_NAME: &str = "antrea-controller";

/// Counts of the internal policy objects computed (controller) or installed (agent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyControllerInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy_num: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_group_num: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_to_group_num: Option<i32>,
}

/// The only controller condition type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ControllerConditionType {
    /// Always `True` when written; staleness of `lastHeartbeatTime` is what tells health.
    ControllerHealthy,
}

/// A controller condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ControllerCondition {
    #[serde(rename = "type")]
    pub type_: ControllerConditionType,
    pub status: ConditionStatus,
    pub last_heartbeat_time: Time,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Top-level fields of the AntreaControllerInfo object.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "crd.antrea.io",
    version = "v1beta1",
    kind = "AntreaControllerInfo",
    plural = "antreacontrollerinfos",
    singular = "antreacontrollerinfo",
    shortname = "aci",
    no_spec,
    derive = "PartialEq",
    printcolumn = r#"{"description":"Health status of the Controller","jsonPath":".controllerConditions[?(@.type=='ControllerHealthy')].status","name":"Healthy","type":"string"}"#,
    printcolumn = r#"{"description":"Last time the Healthy Condition was updated","jsonPath":".controllerConditions[?(@.type=='ControllerHealthy')].lastHeartbeatTime","name":"Last Heartbeat","type":"date"}"#,
    printcolumn = r#"{"description":"Version of the Controller","jsonPath":".version","name":"Version","type":"string","priority":1}"#,
    printcolumn = r#"{"description":"Number of Agents connected to the Controller","jsonPath":".connectedAgentNum","name":"Connected Agents","type":"integer","priority":1}"#,
    printcolumn = r#"{"description":"Node on which the Controller is running","jsonPath":".nodeRef.name","name":"Node","type":"string","priority":1}"#,
    printcolumn = r#"{"description":"Number of Network Policies computed by Controller","jsonPath":".networkPolicyControllerInfo.networkPolicyNum","name":"Num Network Policies","type":"integer","priority":2}"#
)]
#[serde(rename_all = "camelCase")]
pub struct AntreaControllerInfoFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_ref: Option<ObjectReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_ref: Option<ObjectReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_ref: Option<ObjectReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy_controller_info: Option<NetworkPolicyControllerInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_agent_num: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_conditions: Option<Vec<ControllerCondition>>,
    /// 10349 by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>", range(min = 1, max = 65535))]
    pub api_port: Option<i32>,
}

/// Agent condition types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum AgentConditionType {
    /// Always `True` when written.
    AgentHealthy,
    ControllerConnectionUp,
    #[serde(rename = "OVSDBConnectionUp")]
    OvsdbConnectionUp,
    OpenflowConnectionUp,
}

/// An agent condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentCondition {
    #[serde(rename = "type")]
    pub type_: AgentConditionType,
    pub status: ConditionStatus,
    pub last_heartbeat_time: Time,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// OVS details of an agent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OVSInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge_name: Option<String>,
    /// Flow count per OVS table name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_table: Option<BTreeMap<String, i32>>,
}

/// Network details of an agent's Node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport_interface: Option<String>,
    #[serde(
        default,
        rename = "transportInterfaceMTU",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 0))]
    pub transport_interface_mtu: Option<i32>,
    #[serde(default, rename = "podMTU", skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub pod_mtu: Option<i32>,
    /// At most one per IP family.
    #[serde(
        default,
        rename = "transportInterfaceIPs",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(max = 2))]
    pub transport_interface_ips: Option<Vec<String>>,
}

/// Top-level fields of an AntreaAgentInfo object (one per Node, named after it). An object
/// with no `agentConditions` belongs to an agent that never reported.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "crd.antrea.io",
    version = "v1beta1",
    kind = "AntreaAgentInfo",
    plural = "antreaagentinfos",
    singular = "antreaagentinfo",
    shortname = "aai",
    no_spec,
    derive = "PartialEq",
    printcolumn = r#"{"description":"Health status of this Agent","jsonPath":".agentConditions[?(@.type=='AgentHealthy')].status","name":"Healthy","type":"string"}"#,
    printcolumn = r#"{"description":"Last time the Healthy Condition was updated","jsonPath":".agentConditions[?(@.type=='AgentHealthy')].lastHeartbeatTime","name":"Last Heartbeat","type":"date"}"#,
    printcolumn = r#"{"description":"Version of this Agent","jsonPath":".version","name":"Version","type":"string","priority":1}"#,
    printcolumn = r#"{"description":"Node on which this Agent is running","jsonPath":".nodeRef.name","name":"Node","type":"string","priority":1}"#,
    printcolumn = r#"{"description":"Number of local Pods managed by this Agent","jsonPath":".localPodNum","name":"Num Pods","type":"integer","priority":2}"#,
    printcolumn = r#"{"description":"Subnets used by this Agent for Pod IPAM","jsonPath":".nodeSubnets","name":"Subnets","type":"string","priority":2}"#
)]
#[serde(rename_all = "camelCase")]
pub struct AntreaAgentInfoFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_ref: Option<ObjectReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_ref: Option<ObjectReference>,
    /// Pod CIDRs of the Node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_subnets: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ovs_info: Option<OVSInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy_controller_info: Option<NetworkPolicyControllerInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_pod_num: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_conditions: Option<Vec<AgentCondition>>,
    /// 10350 by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SchemaInteger>", range(min = 1, max = 65535))]
    pub api_port: Option<i32>,
    /// PEM CA bundle validating the agent API certificate (ServerName `localhost`).
    #[serde(
        default,
        rename = "apiCABundle",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>", extend("format" = "byte"))]
    pub api_ca_bundle: Option<ByteString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_port_local_port_range: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_info: Option<NetworkInfo>,
}
