//! Services and service entries: the checks of each of the seven entry types, the rule that a
//! service is either all-Ethernet or not at all, and the default services NSX ships
//! (`_system_owned`, `is_default`).

use serde_json::{Map, Value, json};

use super::kinds::{Kind, SERVICE_ENTRY_TYPES};
use super::validate::{port_list, port_or_range};
use super::{TABLE, children_of};
use crate::error::ApiError;
use crate::store::Tables;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::policy_invalid(message)
}

fn int_in(doc: &Map<String, Value>, field: &str, max: i64) -> Result<Option<i64>, ApiError> {
    match doc.get(field) {
        None => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if (0..=max).contains(&n) => Ok(Some(n)),
            _ => Err(invalid(format!(
                "{field} must be an integer from 0 to {max}."
            ))),
        },
    }
}

/// Checks one service entry (stored, or embedded in a rule's `service_entries`) and fills in
/// the defaults NSX shows.
pub fn normalize_entry(doc: &mut Map<String, Value>) -> Result<(), ApiError> {
    let rt = doc
        .get("resource_type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if !SERVICE_ENTRY_TYPES.contains(&rt.as_str()) {
        return Err(invalid(format!("Unknown service entry type {rt}.")));
    }
    match rt.as_str() {
        "L4PortSetServiceEntry" => {
            if doc.get("l4_protocol").is_none() {
                return Err(invalid("An L4PortSetServiceEntry needs an l4_protocol."));
            }
            port_list("destination_ports", doc.get("destination_ports"))?;
            port_list("source_ports", doc.get("source_ports"))?;
            doc.entry("destination_ports").or_insert(json!([]));
            doc.entry("source_ports").or_insert(json!([]));
        }
        "ICMPTypeServiceEntry" => {
            if doc.get("protocol").is_none() {
                return Err(invalid(
                    "An ICMPTypeServiceEntry needs a protocol (ICMPv4 or ICMPv6).",
                ));
            }
            let icmp_type = int_in(doc, "icmp_type", 255)?;
            if int_in(doc, "icmp_code", 255)?.is_some() && icmp_type.is_none() {
                return Err(invalid("icmp_code needs an icmp_type."));
            }
        }
        "IPProtocolServiceEntry" if int_in(doc, "protocol_number", 255)?.is_none() => {
            return Err(invalid(
                "An IPProtocolServiceEntry needs a protocol_number.",
            ));
        }
        "EtherTypeServiceEntry" if int_in(doc, "ether_type", 65535)?.is_none() => {
            return Err(invalid("An EtherTypeServiceEntry needs an ether_type."));
        }
        "ALGTypeServiceEntry" => {
            if doc.get("alg").is_none() {
                return Err(invalid("An ALGTypeServiceEntry needs an alg."));
            }
            let ports = doc
                .get("destination_ports")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let single = ports.len() == 1
                && ports[0]
                    .as_str()
                    .is_some_and(|p| port_or_range(p) == Some(1));
            if !single {
                return Err(invalid(
                    "The destination_ports of an ALGTypeServiceEntry must be a single port.",
                ));
            }
            port_list("source_ports", doc.get("source_ports"))?;
        }
        "NestedServiceServiceEntry"
            if doc
                .get("nested_service_path")
                .and_then(Value::as_str)
                .is_none() =>
        {
            return Err(invalid(
                "A NestedServiceServiceEntry needs a nested_service_path.",
            ));
        }
        _ => {}
    }
    Ok(())
}

/// Cross-entry rules of a stored service: Ethernet entries cannot be mixed with others, and a
/// service cannot nest itself.
pub fn check_service(tables: &Tables, service_path: &str) -> Result<(), ApiError> {
    if !tables.contains(TABLE, service_path) {
        return Ok(());
    }
    let mut ether = 0;
    let mut other = 0;
    for (_, entry) in children_of(tables, service_path, Kind::ServiceEntry) {
        if entry["resource_type"] == "EtherTypeServiceEntry" {
            ether += 1;
        } else {
            other += 1;
        }
        if entry["nested_service_path"] == json!(service_path) {
            return Err(invalid(format!(
                "The service {service_path} cannot nest itself."
            )));
        }
    }
    if ether > 0 && other > 0 {
        return Err(invalid(format!(
            "The service {service_path} mixes EtherTypeServiceEntry with other entry types."
        )));
    }
    Ok(())
}

/// `service_type` as NSX reports it: `ETHER` when the service has Ethernet entries.
pub fn service_type(entries: &[Value]) -> &'static str {
    if entries
        .iter()
        .any(|e| e["resource_type"] == "EtherTypeServiceEntry")
    {
        "ETHER"
    } else {
        "NON_ETHER"
    }
}

fn l4(id: &str, protocol: &str, ports: &[&str]) -> Value {
    json!({"resource_type": "L4PortSetServiceEntry", "id": id, "display_name": id,
           "l4_protocol": protocol, "destination_ports": ports, "source_ports": []})
}

fn service(id: &str, description: &str, entries: Vec<Value>) -> Value {
    json!({"resource_type": "Service", "id": id, "display_name": id,
           "description": description, "service_entries": entries})
}

/// The default services the simulator creates (a subset of NSX's catalogue, with NSX's ids).
pub fn default_services() -> Vec<Value> {
    vec![
        service("HTTP", "HTTP", vec![l4("HTTP", "TCP", &["80"])]),
        service("HTTPS", "HTTPS", vec![l4("HTTPS", "TCP", &["443"])]),
        service("SSH", "SSH", vec![l4("SSH", "TCP", &["22"])]),
        service("DNS", "DNS over TCP", vec![l4("DNS-TCP", "TCP", &["53"])]),
        service(
            "DNS-UDP",
            "DNS over UDP",
            vec![l4("DNS-UDP", "UDP", &["53"])],
        ),
        service("NTP", "NTP", vec![l4("NTP", "UDP", &["123"])]),
        service("SMTP", "SMTP", vec![l4("SMTP", "TCP", &["25"])]),
        service("SNMP", "SNMP", vec![l4("SNMP", "UDP", &["161"])]),
        service("LDAP", "LDAP", vec![l4("LDAP", "TCP", &["389"])]),
        service(
            "LDAP-over-SSL",
            "LDAP over SSL",
            vec![l4("LDAP-over-SSL", "TCP", &["636"])],
        ),
        service("MySQL", "MySQL", vec![l4("MySQL", "TCP", &["3306"])]),
        service(
            "RDP",
            "Remote Desktop Protocol",
            vec![l4("RDP", "TCP", &["3389"])],
        ),
        service("Telnet", "Telnet", vec![l4("Telnet", "TCP", &["23"])]),
        service("POP3", "POP3", vec![l4("POP3", "TCP", &["110"])]),
        service("IMAP", "IMAP", vec![l4("IMAP", "TCP", &["143"])]),
        service(
            "FTP",
            "FTP",
            vec![
                json!({"resource_type": "ALGTypeServiceEntry", "id": "FTP", "display_name": "FTP",
                        "alg": "FTP", "destination_ports": ["21"], "source_ports": []}),
            ],
        ),
        service(
            "TFTP",
            "TFTP",
            vec![
                json!({"resource_type": "ALGTypeServiceEntry", "id": "TFTP", "display_name": "TFTP",
                        "alg": "TFTP", "destination_ports": ["69"], "source_ports": []}),
            ],
        ),
        service(
            "ICMP-ALL",
            "All ICMPv4 messages",
            vec![
                json!({"resource_type": "ICMPTypeServiceEntry", "id": "ICMP-ALL", "display_name": "ICMP-ALL", "protocol": "ICMPv4"}),
            ],
        ),
        service(
            "ICMPv6-ALL",
            "All ICMPv6 messages",
            vec![
                json!({"resource_type": "ICMPTypeServiceEntry", "id": "ICMPv6-ALL", "display_name": "ICMPv6-ALL", "protocol": "ICMPv6"}),
            ],
        ),
        service(
            "ICMP_Echo_Request",
            "ICMPv4 echo request",
            vec![
                json!({"resource_type": "ICMPTypeServiceEntry", "id": "ICMP_Echo_Request", "display_name": "ICMP Echo Request",
                        "protocol": "ICMPv4", "icmp_type": 8}),
            ],
        ),
        service(
            "ICMP_Echo_Reply",
            "ICMPv4 echo reply",
            vec![
                json!({"resource_type": "ICMPTypeServiceEntry", "id": "ICMP_Echo_Reply", "display_name": "ICMP Echo Reply",
                        "protocol": "ICMPv4", "icmp_type": 0}),
            ],
        ),
        service(
            "GRE",
            "Generic Routing Encapsulation",
            vec![
                json!({"resource_type": "IPProtocolServiceEntry", "id": "GRE", "display_name": "GRE", "protocol_number": 47}),
            ],
        ),
        service(
            "IGMP",
            "IGMP",
            vec![
                json!({"resource_type": "IGMPTypeServiceEntry", "id": "IGMP", "display_name": "IGMP"}),
            ],
        ),
        service(
            "IPv6",
            "IPv6 EtherType",
            vec![
                json!({"resource_type": "EtherTypeServiceEntry", "id": "IPv6", "display_name": "IPv6", "ether_type": 34525}),
            ],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(doc: Value) -> Result<Map<String, Value>, ApiError> {
        let mut map = doc.as_object().cloned().unwrap();
        normalize_entry(&mut map)?;
        Ok(map)
    }

    #[test]
    fn entry_types_are_checked() {
        let ok = entry(json!({"resource_type": "L4PortSetServiceEntry", "l4_protocol": "TCP", "destination_ports": ["80", "8000-8080"]})).unwrap();
        assert_eq!(ok["source_ports"], json!([]));
        assert!(
            entry(json!({"resource_type": "L4PortSetServiceEntry", "destination_ports": ["80"]}))
                .is_err()
        );
        assert!(entry(json!({"resource_type": "L4PortSetServiceEntry", "l4_protocol": "TCP", "destination_ports": ["0"]})).is_err());
        assert!(entry(json!({"resource_type": "ICMPTypeServiceEntry", "protocol": "ICMPv4", "icmp_code": 0})).is_err());
        assert!(entry(json!({"resource_type": "ICMPTypeServiceEntry", "protocol": "ICMPv4", "icmp_type": 300})).is_err());
        assert!(entry(json!({"resource_type": "IPProtocolServiceEntry"})).is_err());
        assert!(
            entry(json!({"resource_type": "IPProtocolServiceEntry", "protocol_number": 47}))
                .is_ok()
        );
        assert!(
            entry(json!({"resource_type": "EtherTypeServiceEntry", "ether_type": 2048})).is_ok()
        );
        assert!(entry(json!({"resource_type": "ALGTypeServiceEntry", "alg": "FTP", "destination_ports": ["21", "22"]})).is_err());
        assert!(entry(json!({"resource_type": "ALGTypeServiceEntry", "alg": "FTP", "destination_ports": ["20-21"]})).is_err());
        assert!(entry(json!({"resource_type": "ALGTypeServiceEntry", "alg": "FTP", "destination_ports": ["21"]})).is_ok());
        assert!(entry(json!({"resource_type": "NestedServiceServiceEntry"})).is_err());
        assert!(entry(json!({"resource_type": "IGMPTypeServiceEntry"})).is_ok());
    }

    #[test]
    fn default_services_cover_every_entry_type() {
        let services = default_services();
        for t in SERVICE_ENTRY_TYPES
            .iter()
            .filter(|t| **t != "NestedServiceServiceEntry")
        {
            assert!(
                services.iter().any(|s| s["service_entries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["resource_type"] == *t)),
                "{t}"
            );
        }
        for s in services {
            for e in s["service_entries"].as_array().unwrap() {
                entry(e.clone()).unwrap();
            }
        }
    }
}
