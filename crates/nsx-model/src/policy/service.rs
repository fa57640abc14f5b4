//! `Service` and its entries (nsx-api.md §2.3): `L4PortSetServiceEntry`,
//! `ICMPTypeServiceEntry`, `IPProtocolServiceEntry`, `IGMPTypeServiceEntry`,
//! `EtherTypeServiceEntry`, `ALGTypeServiceEntry` and `NestedServiceServiceEntry`. A rule's raw
//! `service_entries` use the same entry types.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::common::PolicyObjectMeta;
use super::{policy_enum, tagged_union};

policy_enum! {
    /// `L4PortSetServiceEntry.l4_protocol` (NSX 4.2 knows TCP and UDP).
    L4Protocol {
        Tcp = "TCP",
        Udp = "UDP",
    }
}

policy_enum! {
    /// `ICMPTypeServiceEntry.protocol`.
    IcmpProtocol {
        IcmpV4 = "ICMPv4",
        IcmpV6 = "ICMPv6",
    }
}

policy_enum! {
    /// `ALGTypeServiceEntry.alg`.
    AlgType {
        OracleTns = "ORACLE_TNS",
        Ftp = "FTP",
        SunRpcTcp = "SUN_RPC_TCP",
        SunRpcUdp = "SUN_RPC_UDP",
        MsRpcTcp = "MS_RPC_TCP",
        MsRpcUdp = "MS_RPC_UDP",
        NbnsBroadcast = "NBNS_BROADCAST",
        NbdgBroadcast = "NBDG_BROADCAST",
        Tftp = "TFTP",
    }
}

/// An NSX service: a named set of entries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Service {
    /// `"Service"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    #[serde(flatten)]
    pub meta: PolicyObjectMeta,
    /// Read-only: a system-defined service such as `/infra/services/SSH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_entries: Option<Vec<ServiceEntry>>,
    /// `ETHER` or `NON_ETHER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_type: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

tagged_union! {
    /// One entry of a service (or of a rule's `service_entries`), by `resource_type`.
    ServiceEntry {
        L4PortSet(L4PortSetServiceEntry) = "L4PortSetServiceEntry",
        IcmpType(IcmpTypeServiceEntry) = "ICMPTypeServiceEntry",
        IpProtocol(IpProtocolServiceEntry) = "IPProtocolServiceEntry",
        IgmpType(IgmpTypeServiceEntry) = "IGMPTypeServiceEntry",
        EtherType(EtherTypeServiceEntry) = "EtherTypeServiceEntry",
        AlgType(AlgTypeServiceEntry) = "ALGTypeServiceEntry",
        NestedService(NestedServiceServiceEntry) = "NestedServiceServiceEntry",
    }
}

/// TCP or UDP ports: each list element is a port (`"22"`) or a range (`"33-70"`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct L4PortSetServiceEntry {
    #[serde(flatten)]
    pub meta: PolicyObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_ports: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l4_protocol: Option<L4Protocol>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ports: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// ICMP or ICMPv6 by type and code (absent type: every type).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IcmpTypeServiceEntry {
    #[serde(flatten)]
    pub meta: PolicyObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<IcmpProtocol>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Any IP protocol by number.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IpProtocolServiceEntry {
    #[serde(flatten)]
    pub meta: PolicyObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_number: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Every IGMP message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IgmpTypeServiceEntry {
    #[serde(flatten)]
    pub meta: PolicyObjectMeta,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A layer-2 EtherType.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EtherTypeServiceEntry {
    #[serde(flatten)]
    pub meta: PolicyObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ether_type: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An application-level gateway (FTP, TFTP, RPC, ...).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlgTypeServiceEntry {
    #[serde(flatten)]
    pub meta: PolicyObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<AlgType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_ports: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ports: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Another service's entries, by path.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NestedServiceServiceEntry {
    #[serde(flatten)]
    pub meta: PolicyObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nested_service_path: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn entries_round_trip_with_their_tag() {
        let document = json!({
            "resource_type": "Service", "id": "app", "service_type": "NON_ETHER",
            "service_entries": [
                {"resource_type": "L4PortSetServiceEntry", "id": "tcp", "l4_protocol": "TCP", "destination_ports": ["80", "8000-8080"], "source_ports": []},
                {"resource_type": "ICMPTypeServiceEntry", "id": "ping", "protocol": "ICMPv4", "icmp_type": 8, "icmp_code": 0},
                {"resource_type": "IPProtocolServiceEntry", "id": "gre", "protocol_number": 47},
                {"resource_type": "IGMPTypeServiceEntry", "id": "igmp"},
                {"resource_type": "EtherTypeServiceEntry", "id": "arp", "ether_type": 2054},
                {"resource_type": "ALGTypeServiceEntry", "id": "ftp", "alg": "FTP", "destination_ports": ["21"]},
                {"resource_type": "NestedServiceServiceEntry", "id": "nested", "nested_service_path": "/infra/services/HTTPS"},
                {"resource_type": "QuicServiceEntry", "id": "future", "streams": 3}
            ]
        });
        let service: Service = serde_json::from_value(document.clone()).unwrap();
        let entries = service.service_entries.as_ref().unwrap();
        assert!(
            matches!(&entries[0], ServiceEntry::L4PortSet(e) if e.l4_protocol == Some(L4Protocol::Tcp))
        );
        assert!(
            matches!(&entries[2], ServiceEntry::IpProtocol(e) if e.protocol_number == Some(47))
        );
        assert!(matches!(&entries[5], ServiceEntry::AlgType(e) if e.alg == Some(AlgType::Ftp)));
        assert!(matches!(&entries[7], ServiceEntry::Unknown(_)));
        // Key order differs (the tag is written first), values are identical.
        assert_eq!(serde_json::to_value(&service).unwrap(), document);
    }
}
