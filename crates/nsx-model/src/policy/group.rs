//! `Group` and its membership expressions (nsx-api.md §2.2): `Condition`,
//! `ConjunctionOperator`, `NestedExpression`, `IPAddressExpression`, `MACAddressExpression`,
//! `ExternalIDExpression`, `PathExpression` and `IdentityGroupExpression`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::common::PolicyObjectMeta;
use super::{policy_enum, tagged_union};

policy_enum! {
    /// `Group.group_type` values (an empty list means a generic group).
    GroupType {
        IpAddress = "IPAddress",
        Antrea = "ANTREA",
    }
}

policy_enum! {
    /// `Group.state` (read-only).
    GroupState {
        InProgress = "IN_PROGRESS",
        Success = "SUCCESS",
        Failure = "FAILURE",
    }
}

policy_enum! {
    /// `Condition.member_type`.
    ConditionMemberType {
        IpSet = "IPSet",
        VirtualMachine = "VirtualMachine",
        LogicalPort = "LogicalPort",
        LogicalSwitch = "LogicalSwitch",
        Segment = "Segment",
        SegmentPort = "SegmentPort",
        Pod = "Pod",
        Service = "Service",
        Namespace = "Namespace",
        TransportNode = "TransportNode",
        Group = "Group",
        Dvpg = "DVPG",
        DvPort = "DVPort",
        IpAddress = "IPAddress",
        VpcSubnet = "VpcSubnet",
        KubernetesCluster = "KubernetesCluster",
        KubernetesNamespace = "KubernetesNamespace",
        AntreaEgress = "AntreaEgress",
        AntreaIpPool = "AntreaIPPool",
        KubernetesIngress = "KubernetesIngress",
        KubernetesGateway = "KubernetesGateway",
        KubernetesService = "KubernetesService",
        KubernetesNode = "KubernetesNode",
        VpcSubnetPort = "VpcSubnetPort",
    }
}

policy_enum! {
    /// `Condition.key`.
    ConditionKey {
        Tag = "Tag",
        Name = "Name",
        OsName = "OSName",
        ComputerName = "ComputerName",
        NodeType = "NodeType",
        GroupType = "GroupType",
        All = "ALL",
        IpAddress = "IPAddress",
        PodCidr = "PodCidr",
    }
}

policy_enum! {
    /// `Condition.operator`.
    ConditionOperator {
        Equals = "EQUALS",
        Contains = "CONTAINS",
        StartsWith = "STARTSWITH",
        EndsWith = "ENDSWITH",
        NotEquals = "NOTEQUALS",
        NotIn = "NOTIN",
        Matches = "MATCHES",
        In = "IN",
    }
}

policy_enum! {
    /// `Condition.scope_operator` (the default is `EQUALS`).
    ScopeOperator {
        Equals = "EQUALS",
        NotEquals = "NOTEQUALS",
    }
}

policy_enum! {
    /// `ConjunctionOperator.conjunction_operator`.
    ConjunctionOperator {
        Or = "OR",
        And = "AND",
    }
}

policy_enum! {
    /// `ExternalIDExpression.member_type`.
    ExternalIdMemberType {
        VirtualMachine = "VirtualMachine",
        VirtualNetworkInterface = "VirtualNetworkInterface",
        CloudNativeServiceInstance = "CloudNativeServiceInstance",
        PhysicalServer = "PhysicalServer",
    }
}

/// An NSX group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// `"Group"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    #[serde(flatten)]
    pub meta: PolicyObjectMeta,
    /// Membership criteria: expressions at even indexes, `ConjunctionOperator`s at odd ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<Vec<Expression>>,
    /// Identity (AD group) criteria.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended_expression: Option<Vec<Expression>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_type: Option<Vec<GroupType>>,
    /// Read-only: a remote reference group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<bool>,
    /// Read-only realization state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<GroupState>,
    /// Fields this version does not know, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Group {
    /// Whether `group_type` contains `ANTREA`.
    pub fn is_antrea(&self) -> bool {
        self.group_type
            .iter()
            .flatten()
            .any(|group_type| *group_type == GroupType::Antrea)
    }
}

tagged_union! {
    /// One member of a group's `expression` list (or of a `NestedExpression`), by
    /// `resource_type`.
    Expression {
        Condition(ConditionExpression) = "Condition",
        Conjunction(ConjunctionExpression) = "ConjunctionOperator",
        Nested(NestedExpression) = "NestedExpression",
        IpAddress(IpAddressExpression) = "IPAddressExpression",
        MacAddress(MacAddressExpression) = "MACAddressExpression",
        ExternalId(ExternalIdExpression) = "ExternalIDExpression",
        Path(PathExpression) = "PathExpression",
        IdentityGroup(IdentityGroupExpression) = "IdentityGroupExpression",
    }
}

/// `Condition`: `member_type` objects whose `key` compares with `value` by `operator`.
/// A `Tag` value is `scope|tag`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConditionExpression {
    #[serde(flatten)]
    pub meta: PolicyObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<ExcludedMembersList>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<ConditionKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_type: Option<ConditionMemberType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<ConditionOperator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_operator: Option<ScopeOperator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Members a `Condition` excludes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExcludedMembersList {
    /// An `IPAddressExpression` (tagged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address_expression: Option<Box<Expression>>,
    /// A `PathExpression` (tagged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_expression: Option<Box<Expression>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ExcludedMembersList {
    /// Whether it excludes nothing.
    pub fn is_empty(&self) -> bool {
        self.ip_address_expression.is_none()
            && self.path_expression.is_none()
            && self.extra.is_empty()
    }
}

/// `ConjunctionOperator`: joins the expressions on either side.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConjunctionExpression {
    #[serde(flatten)]
    pub meta: PolicyObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conjunction_operator: Option<ConjunctionOperator>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `NestedExpression`: conditions ANDed together.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NestedExpression {
    #[serde(flatten)]
    pub meta: PolicyObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expressions: Option<Vec<Expression>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `IPAddressExpression`: IPs, ranges `a-b` and CIDRs (one family per expression).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IpAddressExpression {
    #[serde(flatten)]
    pub meta: PolicyObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_addresses: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `MACAddressExpression`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MacAddressExpression {
    #[serde(flatten)]
    pub meta: PolicyObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_addresses: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `ExternalIDExpression`: VMs, VNICs, ... by external id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExternalIdExpression {
    #[serde(flatten)]
    pub meta: PolicyObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_type: Option<ExternalIdMemberType>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `PathExpression`: the members of other policy objects (groups, segments, ports) by path.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PathExpression {
    #[serde(flatten)]
    pub meta: PolicyObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `IdentityGroupExpression`: Active Directory groups (identity firewall).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IdentityGroupExpression {
    #[serde(flatten)]
    pub meta: PolicyObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_groups: Option<Vec<IdentityGroupInfo>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One Active Directory group of an `IdentityGroupExpression`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IdentityGroupInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distinguished_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_base_distinguished_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn expressions_dispatch_on_resource_type() {
        let list: Vec<Expression> = serde_json::from_value(json!([
            {"resource_type": "Condition", "member_type": "Pod", "key": "Tag", "operator": "EQUALS", "value": "app|web"},
            {"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"},
            {"resource_type": "IPAddressExpression", "ip_addresses": ["10.0.0.0/8"]},
            {"resource_type": "FutureExpression", "magic": true}
        ]))
        .unwrap();
        let Expression::Condition(condition) = &list[0] else {
            panic!("not a condition: {:?}", list[0]);
        };
        assert_eq!(condition.member_type, Some(ConditionMemberType::Pod));
        assert_eq!(condition.operator, Some(ConditionOperator::Equals));
        assert!(condition.extra.is_empty(), "resource_type is not an extra");
        assert!(
            matches!(&list[1], Expression::Conjunction(c) if c.conjunction_operator == Some(ConjunctionOperator::Or))
        );
        assert_eq!(list[3].resource_type(), Some("FutureExpression"));
        assert!(matches!(&list[3], Expression::Unknown(object) if object["magic"] == json!(true)));
    }

    #[test]
    fn unknown_fields_and_values_are_kept() {
        let document = json!({
            "resource_type": "Group", "id": "g", "group_type": ["ANTREA", "Future"],
            "expression": [{"resource_type": "Condition", "member_type": "Pod", "key": "Tag",
                            "operator": "SOUNDSLIKE", "value": "a|b", "fuzzy": 3}],
            "new_field": {"x": 1}
        });
        let group: Group = serde_json::from_value(document.clone()).unwrap();
        assert!(group.is_antrea());
        assert_eq!(group.extra["new_field"], json!({"x": 1}));
        let Some(Expression::Condition(condition)) = group.expression.as_ref().map(|e| &e[0])
        else {
            panic!("no condition");
        };
        assert_eq!(
            condition.operator,
            Some(ConditionOperator::Other("SOUNDSLIKE".into()))
        );
        assert_eq!(condition.extra["fuzzy"], json!(3));
        assert_eq!(serde_json::to_value(&group).unwrap(), document);
    }

    #[test]
    fn a_member_without_resource_type_is_an_error() {
        let error = serde_json::from_value::<Expression>(json!({"value": "x"})).unwrap_err();
        assert!(error.to_string().contains("resource_type"), "{error}");
        let error =
            serde_json::from_value::<Expression>(json!({"resource_type": "Condition", "value": 3}))
                .unwrap_err();
        assert!(error.to_string().starts_with("Condition:"), "{error}");
    }
}
