//! Built-in kinds: decoding through their k8s-openapi types (which finds unknown fields
//! and type errors as kube-apiserver's strict decoder does, and drops unknown fields as
//! its Go structs do), the defaulting the real server applies, and the few per-kind
//! validations clients run into.

use std::net::Ipv4Addr;

use k8s_openapi::api::{apps, batch, coordination, core, discovery, events, networking, rbac};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use kube_apimachinery::field_error::FieldError;
use kube_apimachinery::registry::GroupResource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::store::Allocations;

/// A decoded built-in object.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// The object as the typed decoder keeps it (unknown fields dropped).
    pub object: Value,
    /// Paths of the unknown fields (`spec.containers[0].foo`).
    pub unknown_fields: Vec<String>,
}

fn round_trip<T: DeserializeOwned + Serialize>(object: &Value) -> Result<Value, String> {
    let typed = T::deserialize(object).map_err(|e| e.to_string())?;
    serde_json::to_value(&typed).map_err(|e| e.to_string())
}

/// Decodes a built-in object through its type; `None` for resources that are not
/// built-in (custom resources). The error is the decoder's message.
pub(crate) fn decode(gr: &GroupResource, object: &Value) -> Option<Result<Decoded, String>> {
    let decoded = match (gr.group.as_str(), gr.resource.as_str()) {
        ("", "namespaces") => round_trip::<core::v1::Namespace>(object),
        ("", "pods") => round_trip::<core::v1::Pod>(object),
        ("", "services") => round_trip::<core::v1::Service>(object),
        ("", "endpoints") => round_trip::<core::v1::Endpoints>(object),
        ("", "nodes") => round_trip::<core::v1::Node>(object),
        ("", "configmaps") => round_trip::<core::v1::ConfigMap>(object),
        ("", "secrets") => round_trip::<core::v1::Secret>(object),
        ("", "serviceaccounts") => round_trip::<core::v1::ServiceAccount>(object),
        ("", "events") => round_trip::<core::v1::Event>(object),
        ("networking.k8s.io", "ingresses") => round_trip::<networking::v1::Ingress>(object),
        ("networking.k8s.io", "networkpolicies") => {
            round_trip::<networking::v1::NetworkPolicy>(object)
        }
        ("discovery.k8s.io", "endpointslices") => {
            round_trip::<discovery::v1::EndpointSlice>(object)
        }
        ("coordination.k8s.io", "leases") => round_trip::<coordination::v1::Lease>(object),
        ("events.k8s.io", "events") => round_trip::<events::v1::Event>(object),
        ("apps", "deployments") => round_trip::<apps::v1::Deployment>(object),
        ("batch", "jobs") => round_trip::<batch::v1::Job>(object),
        ("rbac.authorization.k8s.io", "roles") => round_trip::<rbac::v1::Role>(object),
        ("rbac.authorization.k8s.io", "rolebindings") => {
            round_trip::<rbac::v1::RoleBinding>(object)
        }
        ("rbac.authorization.k8s.io", "clusterroles") => {
            round_trip::<rbac::v1::ClusterRole>(object)
        }
        ("rbac.authorization.k8s.io", "clusterrolebindings") => {
            round_trip::<rbac::v1::ClusterRoleBinding>(object)
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            round_trip::<apiextensions::CustomResourceDefinition>(object)
        }
        _ => return None,
    };
    Some(decoded.map(|decoded| {
        let mut unknown_fields = Vec::new();
        dropped_fields(object, &decoded, "", &mut unknown_fields);
        Decoded {
            object: decoded,
            unknown_fields,
        }
    }))
}

/// Collects the paths present (and not null) in `input` but missing from `output`.
pub(crate) fn dropped_fields(input: &Value, output: &Value, path: &str, found: &mut Vec<String>) {
    let mut trail: Vec<PathStep<'_>> = Vec::new();
    if !path.is_empty() {
        trail.push(PathStep::Field(path));
    }
    walk_dropped(input, output, &mut trail, found);
}

/// One step of a field path under construction (rendered only when a field is dropped).
enum PathStep<'a> {
    Field(&'a str),
    Index(usize),
}

fn render_path(trail: &[PathStep<'_>]) -> String {
    let mut path = String::new();
    for step in trail {
        match step {
            PathStep::Field(name) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(name);
            }
            PathStep::Index(index) => path.push_str(&format!("[{index}]")),
        }
    }
    path
}

fn walk_dropped<'a>(
    input: &'a Value,
    output: &Value,
    trail: &mut Vec<PathStep<'a>>,
    found: &mut Vec<String>,
) {
    match (input, output) {
        (Value::Object(input), Value::Object(output)) => {
            for (key, value) in input {
                trail.push(PathStep::Field(key));
                match output.get(key) {
                    Some(out) => walk_dropped(value, out, trail, found),
                    None if !value.is_null() => found.push(render_path(trail)),
                    None => {}
                }
                trail.pop();
            }
        }
        (Value::Array(input), Value::Array(output)) if input.len() == output.len() => {
            for (index, (value, out)) in input.iter().zip(output).enumerate() {
                trail.push(PathStep::Index(index));
                walk_dropped(value, out, trail, found);
                trail.pop();
            }
        }
        _ => {}
    }
}

fn is(gr: &GroupResource, group: &str, resource: &str) -> bool {
    gr.group == group && gr.resource == resource
}

/// Whether kube-apiserver maintains `metadata.generation` for the kind.
pub(crate) fn tracks_generation(gr: &GroupResource) -> bool {
    matches!(
        (gr.group.as_str(), gr.resource.as_str()),
        ("", "pods")
            | ("networking.k8s.io", "ingresses")
            | ("networking.k8s.io", "networkpolicies")
            | ("apiextensions.k8s.io", "customresourcedefinitions")
    )
}

/// Whether a PUT of a missing object creates it (`AllowCreateOnUpdate`).
pub(crate) fn allows_create_on_update(gr: &GroupResource) -> bool {
    matches!(
        (gr.group.as_str(), gr.resource.as_str()),
        ("", "endpoints")
            | ("", "events")
            | ("coordination.k8s.io", "leases")
            | ("events.k8s.io", "events")
    )
}

/// Whether a status written with the object on create is kept (only nodes register
/// themselves with a status).
pub(crate) fn keeps_status_on_create(gr: &GroupResource) -> bool {
    is(gr, "", "nodes")
}

fn object_mut<'a>(object: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !object.get(key).is_some_and(Value::is_object) {
        object[key] = json!({});
    }
    object[key].as_object_mut().expect("just made an object")
}

/// Defaulting applied on every write (create and update).
pub(crate) fn default_on_write(gr: &GroupResource, object: &mut Value) {
    if is(gr, "", "namespaces") {
        let name = object
            .pointer("/metadata/name")
            .cloned()
            .unwrap_or(Value::Null);
        let meta = object_mut(object, "metadata");
        let labels = meta.entry("labels").or_insert_with(|| json!({}));
        if let Some(labels) = labels.as_object_mut() {
            labels.insert("kubernetes.io/metadata.name".into(), name);
        }
    } else if is(gr, "", "secrets") {
        if object.get("type").is_none_or(Value::is_null) {
            object["type"] = json!("Opaque");
        }
        if let Some(Value::Object(string_data)) =
            object.as_object_mut().and_then(|o| o.remove("stringData"))
        {
            use base64::Engine as _;
            let data = object_mut(object, "data");
            for (key, value) in string_data {
                let text = value.as_str().unwrap_or_default();
                data.insert(
                    key,
                    json!(base64::engine::general_purpose::STANDARD.encode(text)),
                );
            }
        }
    } else if is(gr, "networking.k8s.io", "networkpolicies") {
        default_network_policy(object);
    } else if is(gr, "", "pods") {
        default_pod_spec(object);
    } else if is(gr, "", "services") {
        let spec = object_mut(object, "spec");
        spec.entry("type").or_insert_with(|| json!("ClusterIP"));
        spec.entry("sessionAffinity")
            .or_insert_with(|| json!("None"));
        if let Some(Value::Array(ports)) = spec.get_mut("ports") {
            for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                port.entry("protocol").or_insert_with(|| json!("TCP"));
                if !port.contains_key("targetPort")
                    && let Some(number) = port.get("port").cloned()
                {
                    port.insert("targetPort".into(), number);
                }
            }
        }
    }
}

fn default_network_policy(object: &mut Value) {
    let spec = object_mut(object, "spec");
    if !spec.contains_key("policyTypes") {
        let mut types = vec![json!("Ingress")];
        if spec.get("egress").is_some_and(|e| !e.is_null()) {
            types.push(json!("Egress"));
        }
        spec.insert("policyTypes".into(), Value::Array(types));
    }
    for direction in ["ingress", "egress"] {
        if let Some(Value::Array(rules)) = spec.get_mut(direction) {
            for rule in rules.iter_mut() {
                if let Some(Value::Array(ports)) = rule.get_mut("ports") {
                    for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                        port.entry("protocol").or_insert_with(|| json!("TCP"));
                    }
                }
            }
        }
    }
}

fn default_pod_spec(object: &mut Value) {
    let spec = object_mut(object, "spec");
    spec.entry("restartPolicy")
        .or_insert_with(|| json!("Always"));
    spec.entry("dnsPolicy")
        .or_insert_with(|| json!("ClusterFirst"));
    spec.entry("schedulerName")
        .or_insert_with(|| json!("default-scheduler"));
    spec.entry("terminationGracePeriodSeconds")
        .or_insert_with(|| json!(30));
    spec.entry("securityContext").or_insert_with(|| json!({}));
    spec.entry("enableServiceLinks")
        .or_insert_with(|| json!(true));
    let account = spec
        .get("serviceAccountName")
        .or_else(|| spec.get("serviceAccount"))
        .cloned()
        .unwrap_or_else(|| json!("default"));
    spec.insert("serviceAccountName".into(), account.clone());
    spec.insert("serviceAccount".into(), account);
    for list in ["initContainers", "containers"] {
        if let Some(Value::Array(containers)) = spec.get_mut(list) {
            for container in containers.iter_mut().filter_map(Value::as_object_mut) {
                container
                    .entry("terminationMessagePath")
                    .or_insert_with(|| json!("/dev/termination-log"));
                container
                    .entry("terminationMessagePolicy")
                    .or_insert_with(|| json!("File"));
                if !container.contains_key("imagePullPolicy") {
                    let image = container
                        .get("image")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let policy = if image_uses_latest(image) {
                        "Always"
                    } else {
                        "IfNotPresent"
                    };
                    container.insert("imagePullPolicy".into(), json!(policy));
                }
                container.entry("resources").or_insert_with(|| json!({}));
                if let Some(Value::Array(ports)) = container.get_mut("ports") {
                    for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                        port.entry("protocol").or_insert_with(|| json!("TCP"));
                    }
                }
            }
        }
    }
}

fn image_uses_latest(image: &str) -> bool {
    if image.contains('@') {
        return false;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, tag)) => tag == "latest",
        None => true,
    }
}

/// Defaulting applied only when an object is created (after `default_on_write`).
/// Allocates Service cluster IPs and node ports.
pub(crate) fn default_on_create(
    gr: &GroupResource,
    object: &mut Value,
    allocations: &mut Allocations,
) -> Vec<FieldError> {
    if is(gr, "", "namespaces") {
        let spec = object_mut(object, "spec");
        spec.entry("finalizers")
            .or_insert_with(|| json!(["kubernetes"]));
        object["status"] = json!({ "phase": "Active" });
    } else if is(gr, "", "pods") {
        let qos = qos_class(object);
        object["status"] = json!({ "phase": "Pending", "qosClass": qos });
    } else if is(gr, "", "services") {
        return allocate_service(object, allocations);
    }
    Vec::new()
}

/// The pod's QoS class (`GetPodQOS`): BestEffort without any request or limit,
/// Guaranteed when every container limits cpu and memory with requests equal to the
/// limits, Burstable otherwise.
fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = ["initContainers", "containers"]
        .iter()
        .filter_map(|list| {
            pod.pointer(&format!("/spec/{list}"))
                .and_then(Value::as_array)
        })
        .flatten()
        .collect();
    let resources = |c: &Value, kind: &str| {
        c.pointer(&format!("/resources/{kind}"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let any = containers
        .iter()
        .any(|c| !resources(c, "requests").is_empty() || !resources(c, "limits").is_empty());
    if !any {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        let limits = resources(c, "limits");
        let requests = resources(c, "requests");
        ["cpu", "memory"].iter().all(|r| {
            limits
                .get(*r)
                .is_some_and(|limit| requests.get(*r).is_none_or(|req| req == limit))
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// Carries values the server owns over from the stored object into an update that
/// omits them (Service cluster IPs and node ports), and rejects changes to them.
pub(crate) fn carry_over_on_update(
    gr: &GroupResource,
    old: &Value,
    new: &mut Value,
) -> Vec<FieldError> {
    if !is(gr, "", "services") {
        return Vec::new();
    }
    let mut errors = Vec::new();
    let old_spec = old.get("spec").cloned().unwrap_or_else(|| json!({}));
    let spec = object_mut(new, "spec");
    let old_ip = old_spec.get("clusterIP").cloned();
    match (spec.get("clusterIP").and_then(Value::as_str), &old_ip) {
        (None | Some(""), Some(ip)) => {
            spec.insert("clusterIP".into(), ip.clone());
            for key in [
                "clusterIPs",
                "ipFamilies",
                "ipFamilyPolicy",
                "internalTrafficPolicy",
            ] {
                if let Some(value) = old_spec.get(key)
                    && !spec.contains_key(key)
                {
                    spec.insert(key.into(), value.clone());
                }
            }
        }
        (Some(new_ip), Some(Value::String(old_ip))) if new_ip != old_ip => {
            errors.push(FieldError::invalid(
                "spec.clusterIPs[0]",
                json!([new_ip]),
                "may not change once set",
            ));
        }
        _ => {
            for key in [
                "clusterIPs",
                "ipFamilies",
                "ipFamilyPolicy",
                "internalTrafficPolicy",
            ] {
                if let Some(value) = old_spec.get(key)
                    && !spec.contains_key(key)
                {
                    spec.insert(key.into(), value.clone());
                }
            }
        }
    }
    // Keep allocated node ports for ports that name none.
    let old_ports = old_spec
        .get("ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            if port.contains_key("nodePort") {
                continue;
            }
            let same = old_ports.iter().find(|old| {
                old.get("port") == port.get("port") && old.get("protocol") == port.get("protocol")
            });
            if let Some(node_port) = same.and_then(|old| old.get("nodePort")) {
                port.insert("nodePort".into(), node_port.clone());
            }
        }
    }
    errors
}

const SERVICE_CIDR_BASE: u32 = u32::from_be_bytes([10, 96, 0, 0]);
const SERVICE_CIDR_SIZE: u32 = 1 << 20; // 10.96.0.0/12
const NODE_PORT_MIN: u16 = 30000;
const NODE_PORT_MAX: u16 = 32767;

fn allocate_service(object: &mut Value, allocations: &mut Allocations) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let spec = object_mut(object, "spec");
    let service_type = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    if service_type != "ExternalName" {
        let requested = spec
            .get("clusterIP")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let ip = if requested == "None" {
            Some("None".to_string())
        } else if requested.is_empty() {
            allocate_cluster_ip(allocations).map(|ip| ip.to_string())
        } else {
            match requested.parse::<Ipv4Addr>() {
                Ok(addr) => {
                    let n = u32::from(addr);
                    if !(SERVICE_CIDR_BASE..SERVICE_CIDR_BASE + SERVICE_CIDR_SIZE).contains(&n) {
                        errors.push(FieldError::invalid(
                            "spec.clusterIPs",
                            json!([requested]),
                            format!(
                                "failed to allocate IP {requested}: provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12"
                            ),
                        ));
                        None
                    } else if !allocations.cluster_ips.insert(n) {
                        errors.push(FieldError::invalid(
                            "spec.clusterIPs",
                            json!([requested]),
                            format!("failed to allocate IP {requested}: provided IP is already allocated"),
                        ));
                        None
                    } else {
                        Some(requested.clone())
                    }
                }
                Err(_) => {
                    errors.push(FieldError::invalid(
                        "spec.clusterIPs[0]",
                        json!(requested),
                        "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                    ));
                    None
                }
            }
        };
        if let Some(ip) = ip {
            spec.insert("clusterIP".into(), json!(ip));
            spec.insert("clusterIPs".into(), json!([ip]));
            spec.entry("ipFamilies").or_insert_with(|| json!(["IPv4"]));
            spec.entry("ipFamilyPolicy")
                .or_insert_with(|| json!("SingleStack"));
        }
        spec.entry("internalTrafficPolicy")
            .or_insert_with(|| json!("Cluster"));
    }
    if service_type == "NodePort" || service_type == "LoadBalancer" {
        spec.entry("externalTrafficPolicy")
            .or_insert_with(|| json!("Cluster"));
        if let Some(Value::Array(ports)) = spec.get_mut("ports") {
            for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                match port.get("nodePort").and_then(Value::as_u64) {
                    Some(requested) => {
                        let requested = u16::try_from(requested).unwrap_or(0);
                        if !allocations.node_ports.insert(requested) {
                            errors.push(FieldError::invalid(
                                "spec.ports[0].nodePort",
                                json!(requested),
                                "provided port is already allocated",
                            ));
                        }
                    }
                    None => {
                        if let Some(node_port) = allocate_node_port(allocations) {
                            port.insert("nodePort".into(), json!(node_port));
                        }
                    }
                }
            }
        }
    }
    if service_type == "LoadBalancer" {
        spec.entry("allocateLoadBalancerNodePorts")
            .or_insert_with(|| json!(true));
    }
    object["status"] = json!({ "loadBalancer": {} });
    errors
}

fn allocate_cluster_ip(allocations: &mut Allocations) -> Option<Ipv4Addr> {
    // .0 is the network address and .1 belongs to the `kubernetes` Service.
    for _ in 0..SERVICE_CIDR_SIZE {
        let offset = allocations.next_cluster_ip.max(2);
        allocations.next_cluster_ip = if offset + 1 >= SERVICE_CIDR_SIZE - 1 {
            2
        } else {
            offset + 1
        };
        let candidate = SERVICE_CIDR_BASE + offset;
        if allocations.cluster_ips.insert(candidate) {
            return Some(Ipv4Addr::from(candidate));
        }
    }
    None
}

fn allocate_node_port(allocations: &mut Allocations) -> Option<u16> {
    for _ in NODE_PORT_MIN..=NODE_PORT_MAX {
        let port = allocations
            .next_node_port
            .clamp(NODE_PORT_MIN, NODE_PORT_MAX);
        allocations.next_node_port = if port >= NODE_PORT_MAX {
            NODE_PORT_MIN
        } else {
            port + 1
        };
        if allocations.node_ports.insert(port) {
            return Some(port);
        }
    }
    None
}

/// Frees what a deleted Service held.
pub(crate) fn release(gr: &GroupResource, object: &Value, allocations: &mut Allocations) {
    if !is(gr, "", "services") {
        return;
    }
    if let Some(ip) = object
        .pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .and_then(|ip| ip.parse::<Ipv4Addr>().ok())
    {
        allocations.cluster_ips.remove(&u32::from(ip));
    }
    for port in node_ports(object) {
        allocations.node_ports.remove(&port);
    }
}

fn node_ports(object: &Value) -> Vec<u16> {
    object
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(|ports| {
            ports
                .iter()
                .filter_map(|p| p.get("nodePort").and_then(Value::as_u64))
                .filter_map(|p| u16::try_from(p).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Per-kind validation of the fields clients most often get wrong.
pub(crate) fn validate(gr: &GroupResource, object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if is(gr, "", "pods") {
        match object.pointer("/spec/containers").and_then(Value::as_array) {
            Some(containers) if !containers.is_empty() => {
                for (i, container) in containers.iter().enumerate() {
                    for field in ["name", "image"] {
                        if container
                            .get(field)
                            .and_then(Value::as_str)
                            .is_none_or(str::is_empty)
                        {
                            errors.push(FieldError::required(
                                format!("spec.containers[{i}].{field}"),
                                "",
                            ));
                        }
                    }
                }
            }
            _ => errors.push(FieldError::required("spec.containers", "")),
        }
    } else if is(gr, "", "services") {
        let spec = object.get("spec").cloned().unwrap_or(Value::Null);
        let service_type = spec
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("ClusterIP");
        let headless = spec.get("clusterIP").and_then(Value::as_str) == Some("None");
        let ports = spec.get("ports").and_then(Value::as_array);
        if service_type != "ExternalName" && !headless && ports.is_none_or(Vec::is_empty) {
            errors.push(FieldError::required("spec.ports", ""));
        }
        for (i, port) in ports.into_iter().flatten().enumerate() {
            let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
            if !(1..=65535).contains(&number) {
                errors.push(FieldError::invalid(
                    format!("spec.ports[{i}].port"),
                    json!(number),
                    "must be between 1 and 65535, inclusive",
                ));
            }
        }
        if !["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"].contains(&service_type) {
            errors.push(FieldError::not_supported(
                "spec.type",
                json!(service_type),
                &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gr(group: &str, resource: &str) -> GroupResource {
        GroupResource {
            group: group.into(),
            resource: resource.into(),
        }
    }

    #[test]
    fn decoding_reports_unknown_fields_and_drops_them() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "i", "bogus": 1}], "extra": true}});
        let decoded = decode(&gr("", "pods"), &pod).unwrap().unwrap();
        assert_eq!(
            decoded.unknown_fields,
            ["spec.containers[0].bogus", "spec.extra"]
        );
        assert!(decoded.object["spec"].get("extra").is_none());
        assert!(decode(&gr("crd.antrea.io", "tiers"), &pod).is_none());
    }

    #[test]
    fn decoding_rejects_wrong_types() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": "nope"}});
        assert!(decode(&gr("", "pods"), &pod).unwrap().is_err());
    }

    #[test]
    fn services_get_cluster_ips_from_the_service_cidr() {
        let mut allocations = Allocations::default();
        let mut svc = json!({"spec": {"ports": [{"port": 80}]}});
        default_on_write(&gr("", "services"), &mut svc);
        assert!(default_on_create(&gr("", "services"), &mut svc, &mut allocations).is_empty());
        assert_eq!(svc["spec"]["type"], "ClusterIP");
        assert_eq!(svc["spec"]["clusterIP"], "10.96.0.2");
        assert_eq!(svc["spec"]["ports"][0]["targetPort"], 80);
        let mut taken = json!({"spec": {"clusterIP": "10.96.0.2", "ports": [{"port": 80}]}});
        let errors = default_on_create(&gr("", "services"), &mut taken, &mut allocations);
        assert_eq!(errors.len(), 1);
        let mut node_port = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}]}});
        default_on_create(&gr("", "services"), &mut node_port, &mut allocations);
        assert_eq!(node_port["spec"]["ports"][0]["nodePort"], 30000);
    }

    #[test]
    fn namespaces_and_secrets_are_defaulted() {
        let mut ns = json!({"metadata": {"name": "team"}});
        default_on_write(&gr("", "namespaces"), &mut ns);
        default_on_create(&gr("", "namespaces"), &mut ns, &mut Allocations::default());
        assert_eq!(
            ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
            "team"
        );
        assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(ns["status"]["phase"], "Active");
        let mut secret = json!({"stringData": {"k": "v"}});
        default_on_write(&gr("", "secrets"), &mut secret);
        assert_eq!(secret["data"]["k"], "dg==");
        assert_eq!(secret["type"], "Opaque");
        assert!(secret.get("stringData").is_none());
    }

    #[test]
    fn pods_get_their_qos_class() {
        let pod = |resources: Value| json!({"spec": {"containers": [{"name": "c", "resources": resources}]}});
        assert_eq!(qos_class(&pod(json!({}))), "BestEffort");
        assert_eq!(
            qos_class(&pod(json!({"requests": {"cpu": "100m"}}))),
            "Burstable"
        );
        let limits = json!({"limits": {"cpu": "1", "memory": "1Gi"}});
        assert_eq!(qos_class(&pod(limits)), "Guaranteed");
    }

    #[test]
    fn pods_need_containers_with_images() {
        let errors = validate(
            &gr("", "pods"),
            &json!({"spec": {"containers": [{"name": "c"}]}}),
        );
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "spec.containers[0].image");
    }
}
