//! Go's `encoding/json` rendering of an Antrea `Rule`: Go struct field order, `omitempty`
//! (which also drops empty lists), `enableLogging` always present, sorted map keys and Go's
//! string escaping. The mutating webhook names rules after the SHA-1 of exactly these bytes.

use std::fmt::Write;

use antrea_types::policy::{
    AppliedTo, IPBlock, L7Protocol, NamespacedName, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicyProtocol, PeerNamespaces, PeerService, Protocol, Rule,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Writes a JSON object field by field, skipping what `omitempty` would skip.
struct Object<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Object<'a> {
    fn open(out: &'a mut String) -> Self {
        out.push('{');
        Self { out, first: true }
    }

    fn key(&mut self, name: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        write_string(self.out, name);
        self.out.push(':');
        self.out
    }

    fn string(&mut self, name: &str, value: Option<&str>) {
        if let Some(value) = value.filter(|value| !value.is_empty()) {
            write_string(self.key(name), value);
        }
    }

    fn int(&mut self, name: &str, value: Option<i64>) {
        if let Some(value) = value {
            let out = self.key(name);
            let _ = write!(out, "{value}");
        }
    }

    fn list<T>(
        &mut self,
        name: &str,
        items: Option<&[T]>,
        mut write_item: impl FnMut(&mut String, &T),
    ) {
        if let Some(items) = items.filter(|items| !items.is_empty()) {
            let out = self.key(name);
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_item(out, item);
            }
            out.push(']');
        }
    }

    fn nested<T>(
        &mut self,
        name: &str,
        value: Option<&T>,
        write_value: impl FnOnce(&mut String, &T),
    ) {
        if let Some(value) = value {
            write_value(self.key(name), value);
        }
    }

    fn close(self) {
        self.out.push('}');
    }
}

/// Go's string encoding, HTML-safe escaping included.
fn write_string(out: &mut String, value: &str) {
    out.push('"');
    for character in value.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(character));
            }
            control if u32::from(control) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(control));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

fn write_selector(out: &mut String, selector: &LabelSelector) {
    let mut object = Object::open(out);
    if let Some(labels) = selector
        .match_labels
        .as_ref()
        .filter(|labels| !labels.is_empty())
    {
        let out = object.key("matchLabels");
        out.push('{');
        for (index, (key, value)) in labels.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            write_string(out, key);
            out.push(':');
            write_string(out, value);
        }
        out.push('}');
    }
    object.list(
        "matchExpressions",
        selector.match_expressions.as_deref(),
        |out, requirement| {
            let mut item = Object::open(out);
            write_string(item.key("key"), &requirement.key);
            write_string(item.key("operator"), &requirement.operator);
            item.list("values", requirement.values.as_deref(), |out, value| {
                write_string(out, value)
            });
            item.close();
        },
    );
    object.close();
}

fn write_namespaced_name(out: &mut String, reference: &NamespacedName) {
    let mut object = Object::open(out);
    object.string("name", Some(&reference.name));
    object.string("namespace", Some(&reference.namespace));
    object.close();
}

fn write_applied_to(out: &mut String, applied_to: &AppliedTo) {
    let mut object = Object::open(out);
    object.nested(
        "podSelector",
        applied_to.pod_selector.as_ref(),
        write_selector,
    );
    object.nested(
        "namespaceSelector",
        applied_to.namespace_selector.as_ref(),
        write_selector,
    );
    object.nested(
        "externalEntitySelector",
        applied_to.external_entity_selector.as_ref(),
        write_selector,
    );
    object.string("group", applied_to.group.as_deref());
    object.nested(
        "serviceAccount",
        applied_to.service_account.as_ref(),
        write_namespaced_name,
    );
    object.nested(
        "service",
        applied_to.service.as_ref(),
        write_namespaced_name,
    );
    object.nested(
        "nodeSelector",
        applied_to.node_selector.as_ref(),
        write_selector,
    );
    object.close();
}

fn write_ip_block(out: &mut String, block: &IPBlock) {
    let mut object = Object::open(out);
    // `cidr` has no omitempty in Go.
    write_string(object.key("cidr"), &block.cidr);
    object.list("except", block.except.as_deref(), |out, value| {
        write_string(out, value)
    });
    object.close();
}

fn write_namespaces(out: &mut String, namespaces: &PeerNamespaces) {
    let mut object = Object::open(out);
    object.string("match", namespaces.match_type.map(|_| "Self"));
    object.list(
        "sameLabels",
        namespaces.same_labels.as_deref(),
        |out, value| write_string(out, value),
    );
    object.close();
}

fn write_peer(out: &mut String, peer: &NetworkPolicyPeer) {
    let mut object = Object::open(out);
    object.nested("ipBlock", peer.ip_block.as_ref(), write_ip_block);
    object.nested("podSelector", peer.pod_selector.as_ref(), write_selector);
    object.nested(
        "namespaceSelector",
        peer.namespace_selector.as_ref(),
        write_selector,
    );
    object.nested("namespaces", peer.namespaces.as_ref(), write_namespaces);
    object.nested(
        "externalEntitySelector",
        peer.external_entity_selector.as_ref(),
        write_selector,
    );
    object.string("group", peer.group.as_deref());
    object.string("fqdn", peer.fqdn.as_deref());
    object.nested(
        "serviceAccount",
        peer.service_account.as_ref(),
        write_namespaced_name,
    );
    object.nested("nodeSelector", peer.node_selector.as_ref(), write_selector);
    object.string("scope", peer.scope.map(scope_str));
    object.close();
}

fn scope_str(scope: antrea_types::policy::PeerScope) -> &'static str {
    match scope {
        antrea_types::policy::PeerScope::Cluster => "Cluster",
        antrea_types::policy::PeerScope::ClusterSet => "ClusterSet",
    }
}

fn protocol_str(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::TCP => "TCP",
        Protocol::UDP => "UDP",
        Protocol::SCTP => "SCTP",
    }
}

fn write_port(out: &mut String, port: &NetworkPolicyPort) {
    let mut object = Object::open(out);
    object.string("protocol", port.protocol.map(protocol_str));
    match &port.port {
        Some(IntOrString::Int(number)) => object.int("port", Some(i64::from(*number))),
        Some(IntOrString::String(name)) => write_string(object.key("port"), name),
        None => {}
    }
    object.int("endPort", port.end_port.map(i64::from));
    object.int("sourcePort", port.source_port.map(i64::from));
    object.int("sourceEndPort", port.source_end_port.map(i64::from));
    object.close();
}

fn write_protocol(out: &mut String, protocol: &NetworkPolicyProtocol) {
    let mut object = Object::open(out);
    object.nested("icmp", protocol.icmp.as_ref(), |out, icmp| {
        let mut item = Object::open(out);
        item.int("icmpType", icmp.icmp_type.map(i64::from));
        item.int("icmpCode", icmp.icmp_code.map(i64::from));
        item.close();
    });
    object.nested("igmp", protocol.igmp.as_ref(), |out, igmp| {
        let mut item = Object::open(out);
        item.int("igmpType", igmp.igmp_type.map(i64::from));
        item.string("groupAddress", igmp.group_address.as_deref());
        item.close();
    });
    object.close();
}

fn write_l7_protocol(out: &mut String, protocol: &L7Protocol) {
    let mut object = Object::open(out);
    object.nested("http", protocol.http.as_ref(), |out, http| {
        let mut item = Object::open(out);
        item.string("host", http.host.as_deref());
        let method = http.method.map(|method| format!("{method:?}"));
        item.string("method", method.as_deref());
        item.string("path", http.path.as_deref());
        item.close();
    });
    object.nested("tls", protocol.tls.as_ref(), |out, tls| {
        let mut item = Object::open(out);
        item.string("sni", tls.sni.as_deref());
        item.close();
    });
    object.close();
}

fn write_peer_service(out: &mut String, service: &PeerService) {
    let mut object = Object::open(out);
    object.string("name", Some(&service.name));
    object.string("namespace", service.namespace.as_deref());
    object.string("scope", service.scope.map(scope_str));
    object.close();
}

/// The bytes Go's `json.Marshal(rule)` produces for this rule.
pub fn marshal_rule(rule: &Rule) -> String {
    let mut out = String::new();
    let mut object = Object::open(&mut out);
    write_string(object.key("action"), rule.action.as_str());
    object.list("ports", rule.ports.as_deref(), write_port);
    object.list("protocols", rule.protocols.as_deref(), write_protocol);
    object.list(
        "l7Protocols",
        rule.l7_protocols.as_deref(),
        write_l7_protocol,
    );
    object.list("from", rule.from.as_deref(), write_peer);
    object.list("to", rule.to.as_deref(), write_peer);
    object.list(
        "toServices",
        rule.to_services.as_deref(),
        write_peer_service,
    );
    object.string("name", rule.name.as_deref());
    let logging = if rule.enable_logging.unwrap_or(false) {
        "true"
    } else {
        "false"
    };
    object.key("enableLogging").push_str(logging);
    object.string("logLabel", rule.log_label.as_deref());
    object.list("appliedTo", rule.applied_to.as_deref(), write_applied_to);
    object.close();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_like_go() {
        let mut out = String::new();
        write_string(&mut out, "a<b>&\"\\\n\u{1}\u{2028}é");
        assert_eq!(out, r#""a\u003cb\u003e\u0026\"\\\n\u0001\u2028é""#);
    }
}
