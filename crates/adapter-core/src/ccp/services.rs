//! NSX services (a rule's `services` paths and raw `service_entries`) as Antrea `ports` and
//! `protocols`.
//!
//! Exact mappings only:
//! - `L4PortSetServiceEntry` TCP/UDP (and SCTP, should NSX send it) destination ports → `ports`
//!   (`"80"` → `port: 80`, `"8000-8080"` → `port: 8000, endPort: 8080`; no ports → the
//!   whole protocol); source ports are refused;
//! - `ICMPTypeServiceEntry` → `protocols: [{icmp: {icmpType, icmpCode}}]`, with the IP-family
//!   rules of [`IcmpMatch`];
//! - `IPProtocolServiceEntry` 6/17/132 → a whole L4 protocol, 1/58 → all ICMP of a family;
//! - `NestedServiceServiceEntry` → the nested service's entries (cycles refused).
//!
//! IGMP, EtherType, ALG, other IP protocols and unknown entry types are refused.

use std::collections::BTreeSet;

use antrea_types::policy::{NetworkPolicyPort, Protocol};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use nsx_model::policy::{IcmpProtocol, L4Protocol, ServiceEntry, is_any};
use serde_json::{Map, Value};

use super::error::{RealizationError, Reason};
use super::ip::IpFamily;
use super::reads::ReadLog;
use super::span::Span;

/// Deepest chain of nested services followed.
pub const MAX_SERVICE_NESTING: usize = 5;

/// A destination-port match (`port` alone, `port..=end_port`, or the whole protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortMatch {
    pub protocol: L4,
    pub port: Option<u16>,
    pub end_port: Option<u16>,
}

/// The layer-4 protocols Antrea ports support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum L4 {
    Tcp,
    Udp,
    Sctp,
}

impl PortMatch {
    /// The Antrea `ports` entry (protocol always explicit, so the live object never differs
    /// by a defaulted field).
    pub fn to_antrea(self) -> NetworkPolicyPort {
        NetworkPolicyPort {
            protocol: Some(match self.protocol {
                L4::Tcp => Protocol::TCP,
                L4::Udp => Protocol::UDP,
                L4::Sctp => Protocol::SCTP,
            }),
            port: self.port.map(|port| IntOrString::Int(i32::from(port))),
            end_port: self.end_port.map(i32::from),
            source_port: None,
            source_end_port: None,
        }
    }
}

/// An ICMP match of one family. Antrea's `icmp` protocol matches ICMP *and* ICMPv6 with the
/// same type and code, so a match is exact only when the other family cannot occur (the rule
/// or the cluster has one family) or the same match is asked for both families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IcmpMatch {
    pub family: IpFamily,
    pub icmp_type: Option<u8>,
    pub icmp_code: Option<u8>,
}

/// What a rule's services match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceMatch {
    /// Every protocol and port.
    Any,
    /// The union of these.
    Some {
        ports: BTreeSet<PortMatch>,
        icmp: BTreeSet<IcmpMatch>,
    },
}

fn entry_error(reason: Reason, message: impl Into<String>, field: &str) -> RealizationError {
    RealizationError::new(reason, message).at(field.to_owned())
}

fn unknown_fields(extra: &Map<String, Value>, field: &str) -> Result<(), RealizationError> {
    match extra.keys().next() {
        None => Ok(()),
        Some(name) => Err(entry_error(
            Reason::UnknownField,
            format!(
                "field {field}.{name} is not known to this adapter, which cannot prove it harmless"
            ),
            &format!("{field}.{name}"),
        )),
    }
}

fn parse_port(text: &str) -> Option<u16> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().filter(|port| *port >= 1)
}

/// `"22"` or `"33-70"` as `(port, end_port)`.
pub fn parse_port_range(text: &str) -> Result<(u16, Option<u16>), String> {
    let invalid = || format!("'{text}' is not a port (1-65535) or a range 'a-b' with a ≤ b");
    match text.split_once('-') {
        None => parse_port(text)
            .map(|port| (port, None))
            .ok_or_else(invalid),
        Some((start, end)) => {
            let (start, end) = (
                parse_port(start).ok_or_else(invalid)?,
                parse_port(end).ok_or_else(invalid)?,
            );
            match start.cmp(&end) {
                std::cmp::Ordering::Less => Ok((start, Some(end))),
                std::cmp::Ordering::Equal => Ok((start, None)),
                std::cmp::Ordering::Greater => Err(invalid()),
            }
        }
    }
}

/// What a rule's services add up to so far.
struct Found<'f> {
    ports: &'f mut BTreeSet<PortMatch>,
    icmp: &'f mut BTreeSet<IcmpMatch>,
    errors: &'f mut Vec<RealizationError>,
}

/// Resolves the services of one rule.
pub struct ServiceResolver<'a> {
    span: &'a Span,
    reads: Option<&'a ReadLog>,
}

impl<'a> ServiceResolver<'a> {
    pub fn new(span: &'a Span) -> Self {
        Self { span, reads: None }
    }

    /// A resolver that records every service path it looks up in `reads`.
    pub fn recording(span: &'a Span, reads: &'a ReadLog) -> Self {
        Self {
            span,
            reads: Some(reads),
        }
    }

    /// The match of a rule's `services` (`field` is its document path, e.g. `rules[0]`).
    pub fn rule_services(
        &self,
        services: Option<&[String]>,
        entries: Option<&[ServiceEntry]>,
        field: &str,
    ) -> Result<ServiceMatch, Vec<RealizationError>> {
        let services = services.unwrap_or_default();
        let entries = entries.unwrap_or_default();
        let any = services.iter().any(|service| is_any(service));
        if any {
            if services.len() > 1 {
                return Err(vec![entry_error(
                    Reason::InvalidDocument,
                    "ANY must be the only element of services",
                    &format!("{field}.services"),
                )]);
            }
            if !entries.is_empty() {
                return Err(vec![entry_error(
                    Reason::InvalidDocument,
                    "services is ANY but service_entries restrict the rule: the intent is ambiguous",
                    &format!("{field}.service_entries"),
                )]);
            }
            return Ok(ServiceMatch::Any);
        }
        if services.is_empty() && entries.is_empty() {
            return Ok(ServiceMatch::Any);
        }
        let mut ports = BTreeSet::new();
        let mut icmp = BTreeSet::new();
        let mut errors = Vec::new();
        let mut found = Found {
            ports: &mut ports,
            icmp: &mut icmp,
            errors: &mut errors,
        };
        for (index, path) in services.iter().enumerate() {
            let at = format!("{field}.services[{index}]");
            self.service(path, &at, &mut Vec::new(), &mut found);
        }
        for (index, entry) in entries.iter().enumerate() {
            let at = format!("{field}.service_entries[{index}]");
            if let Err(error) = self.entry(entry, &at, &mut Vec::new(), &mut found) {
                found.errors.push(error);
            }
        }
        if errors.is_empty() {
            Ok(ServiceMatch::Some { ports, icmp })
        } else {
            Err(errors)
        }
    }

    /// Adds a service's entries; every problem is recorded.
    fn service(&self, path: &str, field: &str, stack: &mut Vec<String>, found: &mut Found<'_>) {
        if let Err(error) = self.service_entries(path, field, stack, found) {
            found.errors.push(error);
        }
    }

    fn service_entries(
        &self,
        path: &str,
        field: &str,
        stack: &mut Vec<String>,
        found: &mut Found<'_>,
    ) -> Result<(), RealizationError> {
        if stack.iter().any(|seen| seen == path) {
            return Err(entry_error(
                Reason::InvalidDocument,
                format!("services nest each other in a cycle through {path}"),
                field,
            ));
        }
        if stack.len() >= MAX_SERVICE_NESTING {
            return Err(entry_error(
                Reason::UnsupportedServiceEntry,
                format!(
                    "services are nested more than {MAX_SERVICE_NESTING} levels deep at {path}"
                ),
                field,
            ));
        }
        if let Some(reads) = self.reads {
            reads.service(path);
        }
        let Some(entry) = self.span.services.get(path) else {
            return Err(entry_error(
                Reason::MissingReference,
                format!("service {path} is not in the desired state"),
                field,
            ));
        };
        let service = entry.object.as_ref().map_err(|error| {
            entry_error(
                Reason::InvalidDocument,
                format!("service {path} is not a valid NSX Service: {error}"),
                field,
            )
        })?;
        if let Some(name) = service.extra.keys().next() {
            return Err(entry_error(
                Reason::UnknownField,
                format!(
                    "service {path} has field {name}, not known to this adapter, which cannot prove it harmless"
                ),
                field,
            ));
        }
        let entries = service.service_entries.as_deref().unwrap_or_default();
        if entries.is_empty() {
            return Err(entry_error(
                Reason::UnsupportedServiceEntry,
                format!(
                    "service {path} has no entries; Antrea would read an empty service as every protocol"
                ),
                field,
            ));
        }
        stack.push(path.to_owned());
        for (index, nested) in entries.iter().enumerate() {
            let at = format!("{field}({path}).service_entries[{index}]");
            if let Err(error) = self.entry(nested, &at, stack, found) {
                found.errors.push(error);
            }
        }
        stack.pop();
        Ok(())
    }

    fn entry(
        &self,
        entry: &ServiceEntry,
        field: &str,
        stack: &mut Vec<String>,
        found: &mut Found<'_>,
    ) -> Result<(), RealizationError> {
        let (ports, icmp) = (&mut *found.ports, &mut *found.icmp);
        let unsupported =
            |message: String| Err(entry_error(Reason::UnsupportedServiceEntry, message, field));
        match entry {
            ServiceEntry::L4PortSet(set) => {
                unknown_fields(&set.extra, field)?;
                let protocol = match &set.l4_protocol {
                    Some(L4Protocol::Tcp) => L4::Tcp,
                    Some(L4Protocol::Udp) => L4::Udp,
                    Some(L4Protocol::Other(other)) if other == "SCTP" => L4::Sctp,
                    other => {
                        return unsupported(format!(
                            "L4PortSetServiceEntry with l4_protocol {} cannot be expressed in Antrea",
                            other.as_ref().map_or("(missing)", |p| p.as_str())
                        ));
                    }
                };
                if set.source_ports.as_ref().is_some_and(|p| !p.is_empty()) {
                    return Err(entry_error(
                        Reason::UnsupportedServiceEntry,
                        "L4PortSetServiceEntry with source_ports: only destination ports are supported for Antrea clusters",
                        &format!("{field}.source_ports"),
                    ));
                }
                let destination = set.destination_ports.as_deref().unwrap_or_default();
                if destination.is_empty() {
                    ports.insert(PortMatch { protocol, port: None, end_port: None });
                }
                for (index, text) in destination.iter().enumerate() {
                    let (port, end_port) = parse_port_range(text).map_err(|message| {
                        entry_error(Reason::InvalidDocument, message, &format!("{field}.destination_ports[{index}]"))
                    })?;
                    ports.insert(PortMatch { protocol, port: Some(port), end_port });
                }
                Ok(())
            }
            ServiceEntry::IcmpType(entry) => {
                unknown_fields(&entry.extra, field)?;
                let family = match &entry.protocol {
                    Some(IcmpProtocol::IcmpV4) => IpFamily::V4,
                    Some(IcmpProtocol::IcmpV6) => IpFamily::V6,
                    other => {
                        return unsupported(format!(
                            "ICMPTypeServiceEntry with protocol {} cannot be expressed in Antrea",
                            other.as_ref().map_or("(missing)", |p| p.as_str())
                        ));
                    }
                };
                let byte = |value: Option<i64>, name: &str| -> Result<Option<u8>, RealizationError> {
                    value
                        .map(|v| u8::try_from(v).map_err(|_| entry_error(Reason::InvalidDocument, format!("{name} {v} is not 0-255"), &format!("{field}.{name}"))))
                        .transpose()
                };
                let icmp_type = byte(entry.icmp_type, "icmp_type")?;
                let icmp_code = byte(entry.icmp_code, "icmp_code")?;
                if icmp_type.is_none() && icmp_code.is_some() {
                    return Err(entry_error(
                        Reason::InvalidDocument,
                        "icmp_code without icmp_type",
                        &format!("{field}.icmp_code"),
                    ));
                }
                icmp.insert(IcmpMatch { family, icmp_type, icmp_code });
                Ok(())
            }
            ServiceEntry::IpProtocol(entry) => {
                unknown_fields(&entry.extra, field)?;
                let whole = |protocol| PortMatch { protocol, port: None, end_port: None };
                let all_icmp = |family| IcmpMatch { family, icmp_type: None, icmp_code: None };
                match entry.protocol_number {
                    Some(6) => ports.insert(whole(L4::Tcp)),
                    Some(17) => ports.insert(whole(L4::Udp)),
                    Some(132) => ports.insert(whole(L4::Sctp)),
                    Some(1) => icmp.insert(all_icmp(IpFamily::V4)),
                    Some(58) => icmp.insert(all_icmp(IpFamily::V6)),
                    Some(2) => {
                        return unsupported(
                            "IPProtocolServiceEntry 2 (IGMP): Antrea IGMP rules match only queries on ingress and reports on egress and take no peers".into(),
                        );
                    }
                    other => {
                        return unsupported(format!(
                            "IPProtocolServiceEntry with protocol_number {}: Antrea matches only TCP, UDP, SCTP and ICMP",
                            other.map_or("(missing)".to_owned(), |n| n.to_string())
                        ));
                    }
                };
                Ok(())
            }
            ServiceEntry::IgmpType(_) => unsupported(
                "IGMPTypeServiceEntry: Antrea IGMP rules match only queries on ingress and reports on egress and take no peers, while NSX matches every IGMP message".into(),
            ),
            ServiceEntry::EtherType(_) => {
                unsupported("EtherTypeServiceEntry (layer 2) cannot be expressed in Antrea".into())
            }
            ServiceEntry::AlgType(entry) => unsupported(format!(
                "ALGTypeServiceEntry {}: Antrea has no application-level gateways",
                entry.alg.as_ref().map_or("(missing)", |a| a.as_str())
            )),
            ServiceEntry::NestedService(entry) => {
                unknown_fields(&entry.extra, field)?;
                let Some(path) = entry.nested_service_path.as_deref() else {
                    return Err(entry_error(
                        Reason::InvalidDocument,
                        "NestedServiceServiceEntry without nested_service_path",
                        field,
                    ));
                };
                self.service(path, field, stack, found);
                Ok(())
            }
            ServiceEntry::Unknown(object) => unsupported(format!(
                "service entry type {} is not known to this adapter",
                object.get("resource_type").and_then(Value::as_str).unwrap_or("(none)")
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ccp::span::{NsxIdentity, SpanEntry};

    fn span(services: Value) -> Span {
        let mut span = Span::default();
        for service in services.as_array().unwrap() {
            let path = format!("/infra/services/{}", service["id"].as_str().unwrap());
            span.services.insert(
                path.clone(),
                SpanEntry::from_value(NsxIdentity::new(path, "u", 1), service.clone()),
            );
        }
        span
    }

    fn entries(value: Value) -> Vec<ServiceEntry> {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn ports_and_ranges() {
        assert_eq!(parse_port_range("22"), Ok((22, None)));
        assert_eq!(parse_port_range("33-70"), Ok((33, Some(70))));
        assert_eq!(parse_port_range("70-70"), Ok((70, None)));
        for bad in ["0", "65536", "70-33", "a", "1-", "-1", " "] {
            assert!(parse_port_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn services_expand_through_nesting() {
        let span = span(json!([
            {"resource_type": "Service", "id": "web", "service_entries": [
                {"resource_type": "L4PortSetServiceEntry", "l4_protocol": "TCP", "destination_ports": ["80", "8000-8080"]},
                {"resource_type": "NestedServiceServiceEntry", "nested_service_path": "/infra/services/dns"}
            ]},
            {"resource_type": "Service", "id": "dns", "service_entries": [
                {"resource_type": "L4PortSetServiceEntry", "l4_protocol": "UDP", "destination_ports": ["53"]},
                {"resource_type": "IPProtocolServiceEntry", "protocol_number": 6}
            ]},
            {"resource_type": "Service", "id": "loop", "service_entries": [
                {"resource_type": "NestedServiceServiceEntry", "nested_service_path": "/infra/services/loop"}
            ]}
        ]));
        let resolver = ServiceResolver::new(&span);
        let ServiceMatch::Some { ports, icmp } = resolver
            .rule_services(Some(&["/infra/services/web".into()]), None, "rules[0]")
            .unwrap()
        else {
            panic!("not Some");
        };
        assert!(icmp.is_empty());
        assert_eq!(ports.len(), 4);
        assert!(ports.contains(&PortMatch {
            protocol: L4::Tcp,
            port: Some(8000),
            end_port: Some(8080)
        }));
        assert!(ports.contains(&PortMatch {
            protocol: L4::Tcp,
            port: None,
            end_port: None
        }));
        let errors = resolver
            .rule_services(Some(&["/infra/services/loop".into()]), None, "rules[0]")
            .unwrap_err();
        assert!(errors[0].message.contains("cycle"), "{errors:?}");
        let missing = resolver
            .rule_services(Some(&["/infra/services/absent".into()]), None, "rules[0]")
            .unwrap_err();
        assert_eq!(missing[0].reason, Reason::MissingReference);
    }

    #[test]
    fn any_and_empty_match_everything() {
        let span = Span::default();
        let resolver = ServiceResolver::new(&span);
        assert_eq!(
            resolver.rule_services(Some(&["ANY".into()]), None, "r"),
            Ok(ServiceMatch::Any)
        );
        assert_eq!(
            resolver.rule_services(None, Some(&[]), "r"),
            Ok(ServiceMatch::Any)
        );
        let both = entries(json!([{"resource_type": "IGMPTypeServiceEntry"}]));
        assert!(
            resolver
                .rule_services(Some(&["ANY".into()]), Some(&both), "r")
                .is_err()
        );
    }

    #[test]
    fn unsupported_entries_are_refused_with_their_field() {
        let span = Span::default();
        let resolver = ServiceResolver::new(&span);
        for (entry, needle, field) in [
            (
                json!({"resource_type": "L4PortSetServiceEntry", "l4_protocol": "TCP", "destination_ports": ["80"], "source_ports": ["1024"]}),
                "source_ports",
                "r.service_entries[0].source_ports",
            ),
            (
                json!({"resource_type": "IGMPTypeServiceEntry"}),
                "IGMP",
                "r.service_entries[0]",
            ),
            (
                json!({"resource_type": "EtherTypeServiceEntry", "ether_type": 2054}),
                "layer 2",
                "r.service_entries[0]",
            ),
            (
                json!({"resource_type": "ALGTypeServiceEntry", "alg": "FTP", "destination_ports": ["21"]}),
                "FTP",
                "r.service_entries[0]",
            ),
            (
                json!({"resource_type": "IPProtocolServiceEntry", "protocol_number": 47}),
                "47",
                "r.service_entries[0]",
            ),
            (
                json!({"resource_type": "QuicServiceEntry"}),
                "QuicServiceEntry",
                "r.service_entries[0]",
            ),
            (
                json!({"resource_type": "L4PortSetServiceEntry", "l4_protocol": "TCP", "destination_ports": ["99999"]}),
                "not a port",
                "r.service_entries[0].destination_ports[0]",
            ),
            (
                json!({"resource_type": "L4PortSetServiceEntry", "l4_protocol": "TCP", "window": 3}),
                "window",
                "r.service_entries[0].window",
            ),
        ] {
            let list = entries(json!([entry]));
            let errors = resolver.rule_services(None, Some(&list), "r").unwrap_err();
            assert!(errors[0].message.contains(needle), "{needle}: {errors:?}");
            assert_eq!(errors[0].field.as_deref(), Some(field));
        }
    }

    #[test]
    fn icmp_entries_keep_their_family() {
        let span = Span::default();
        let resolver = ServiceResolver::new(&span);
        let list = entries(json!([
            {"resource_type": "ICMPTypeServiceEntry", "protocol": "ICMPv4", "icmp_type": 8, "icmp_code": 0},
            {"resource_type": "IPProtocolServiceEntry", "protocol_number": 58}
        ]));
        let ServiceMatch::Some { icmp, .. } =
            resolver.rule_services(None, Some(&list), "r").unwrap()
        else {
            panic!("not Some");
        };
        assert_eq!(
            icmp.into_iter().collect::<Vec<_>>(),
            vec![
                IcmpMatch {
                    family: IpFamily::V4,
                    icmp_type: Some(8),
                    icmp_code: Some(0)
                },
                IcmpMatch {
                    family: IpFamily::V6,
                    icmp_type: None,
                    icmp_code: None
                },
            ]
        );
        let code_only = entries(
            json!([{"resource_type": "ICMPTypeServiceEntry", "protocol": "ICMPv4", "icmp_code": 1}]),
        );
        assert!(resolver.rule_services(None, Some(&code_only), "r").is_err());
    }
}
