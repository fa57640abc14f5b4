//! Tests of the protobuf request-body decoder.
//!
//! Three oracles: bodies captured from kubectl v1.33 against the emulator, checked against the
//! JSON kubectl itself prints for the same objects (`--dry-run=client -o json`, Go's
//! encoder); k8s-openapi's serialization of the same objects built field by field (names and
//! shapes of every field); and Go's `encoding/json` rules, spelled out per case.

use std::collections::BTreeMap;

use k8s_openapi::api as oa;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as oa_apiext;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as OaQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as oa_meta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString as OaIntOrString;
use k8s_openapi::jiff::Timestamp;
use k8s_pb::api::authentication::v1 as authn;
use k8s_pb::api::coordination::v1 as coordination;
use k8s_pb::api::core::v1 as core;
use k8s_pb::api::discovery::v1 as discovery;
use k8s_pb::api::events::v1 as events;
use k8s_pb::api::networking::v1 as networking;
use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde_json::{Value, json};

use super::*;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn s(value: &str) -> Option<String> {
    Some(value.to_string())
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

fn string_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn quantity(value: &str) -> Quantity {
    Quantity { string: s(value) }
}

fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), quantity(v)))
        .collect()
}

fn oa_quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, OaQuantity> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), OaQuantity(v.to_string())))
        .collect()
}

fn int_or_int(value: i32) -> IntOrString {
    IntOrString {
        r#type: Some(0),
        int_val: Some(value),
        str_val: s(""),
    }
}

fn int_or_str(value: &str) -> IntOrString {
    IntOrString {
        r#type: Some(1),
        int_val: Some(0),
        str_val: s(value),
    }
}

/// 2026-01-02T03:04:05.123456789Z
const SECONDS: i64 = 1_767_323_045;
const NANOS: i32 = 123_456_789;

fn time() -> meta::Time {
    meta::Time {
        seconds: Some(SECONDS),
        nanos: Some(NANOS),
    }
}

fn micro_time() -> meta::MicroTime {
    meta::MicroTime {
        seconds: Some(SECONDS),
        nanos: Some(NANOS),
    }
}

/// The same instant, as k8s-openapi holds it (whole seconds for `Time`, micros for
/// `MicroTime`, as the Go JSON forms keep them).
fn oa_time() -> oa_meta::Time {
    oa_meta::Time(Timestamp::from_second(SECONDS).unwrap())
}

fn oa_micro_time() -> oa_meta::MicroTime {
    oa_meta::MicroTime(Timestamp::new(SECONDS, 123_456_000).unwrap())
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// A body as Go clients write it: magic, then `runtime.Unknown` with the typed object.
fn envelope(api_version: &str, kind: &str, object: &impl Message) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s(api_version),
            kind: s(kind),
        }),
        raw: Some(object.encode_to_vec()),
        content_encoding: s(""),
        content_type: s(""),
    };
    let mut body = MAGIC.to_vec();
    body.extend(unknown.encode_to_vec());
    body
}

fn decode(api_version: &str, kind: &str, object: &impl Message) -> Value {
    decode_request_body(&envelope(api_version, kind, object)).expect("decodes")
}

/// Go writes a float64 without fraction as an integer (`0`), serde as a float (`0.0`): the
/// one place k8s-openapi's JSON is not Go's.
fn integral_floats_as_integers(value: &mut Value) {
    match value {
        Value::Number(number) if number.is_f64() => {
            let float = number.as_f64().unwrap_or(f64::NAN);
            if float.fract() == 0.0 && float.abs() < 9e15 {
                *value = json!(float as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(integral_floats_as_integers),
        _ => {}
    }
}

/// Asserts the decoded JSON equals k8s-openapi's serialization of the same object, showing
/// both when they differ.
fn assert_same_json(decoded: &Value, expected: &impl serde::Serialize) {
    let mut expected = serde_json::to_value(expected).unwrap();
    integral_floats_as_integers(&mut expected);
    assert!(
        decoded == &expected,
        "decoded:\n{}\nexpected (k8s-openapi):\n{}",
        serde_json::to_string_pretty(decoded).unwrap(),
        serde_json::to_string_pretty(&expected).unwrap()
    );
}

fn meta_named(name: &str, namespace: &str) -> meta::ObjectMeta {
    meta::ObjectMeta {
        name: s(name),
        namespace: s(namespace),
        ..Default::default()
    }
}

fn oa_meta_named(name: &str, namespace: &str) -> oa_meta::ObjectMeta {
    oa_meta::ObjectMeta {
        name: s(name),
        namespace: s(namespace),
        ..Default::default()
    }
}

fn label_selector() -> meta::LabelSelector {
    meta::LabelSelector {
        match_labels: string_map(&[("app", "web")]),
        match_expressions: vec![meta::LabelSelectorRequirement {
            key: s("tier"),
            operator: s("In"),
            values: strings(&["front", "back"]),
        }],
    }
}

fn oa_label_selector() -> oa_meta::LabelSelector {
    oa_meta::LabelSelector {
        match_labels: Some(string_map(&[("app", "web")])),
        match_expressions: Some(vec![oa_meta::LabelSelectorRequirement {
            key: "tier".into(),
            operator: "In".into(),
            values: Some(strings(&["front", "back"])),
        }]),
    }
}

fn object_reference() -> core::ObjectReference {
    core::ObjectReference {
        kind: s("Pod"),
        namespace: s("default"),
        name: s("web-0"),
        uid: s("0b7a7c4e-0000-4000-8000-000000000001"),
        api_version: s("v1"),
        resource_version: s("42"),
        field_path: s("spec.containers{web}"),
    }
}

fn oa_object_reference() -> oa::core::v1::ObjectReference {
    oa::core::v1::ObjectReference {
        kind: s("Pod"),
        namespace: s("default"),
        name: s("web-0"),
        uid: s("0b7a7c4e-0000-4000-8000-000000000001"),
        api_version: s("v1"),
        resource_version: s("42"),
        field_path: s("spec.containers{web}"),
    }
}

// ---------------------------------------------------------------------------------------
// Bodies kubectl v1.33 sends, against the JSON kubectl prints for the same objects
// ---------------------------------------------------------------------------------------

/// (command, body captured with `kubectl -v=8`, `kubectl ... --dry-run=client -o json`).
const KUBECTL_BODIES: &[(&str, &str, &str)] = &[
    (
        "create namespace demo",
        "6b3873000a0f0a02763112094e616d657370616365121c0a140a0464656d6f12001a0022002a00320038004200120\
         01a020a001a002200",
        r#"{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"demo","creationTimestamp":null},"spec":{},"status":{}}"#,
    ),
    (
        "create configmap demo-cm --from-literal=a=b --from-literal=c=d",
        "6b3873000a0f0a0276311209436f6e6669674d617012300a1e0a0764656d6f2d636d12001a0764656661756c7422\
         002a0032003800420012060a016112016212060a01631201641a002200",
        r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"demo-cm","namespace":"default","creationTimestamp":null},"data":{"a":"b","c":"d"}}"#,
    ),
    (
        "create secret generic s1 --from-literal=k=v",
        "6b3873000a0c0a027631120653656372657412250a190a02733112001a0764656661756c7422002a003200380042\
         0012060a016b1201761a001a002200",
        r#"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"s1","namespace":"default","creationTimestamp":null},"data":{"k":"dg=="}}"#,
    ),
    (
        "create secret docker-registry d1 --docker-username=u --docker-password=p --docker-server=r.io",
        "6b3873000a0c0a02763112065365637265741292010a190a02643112001a0764656661756c7422002a0032003800\
         420012550a112e646f636b6572636f6e6669676a736f6e12407b226175746873223a7b22722e696f223a7b227573\
         65726e616d65223a2275222c2270617373776f7264223a2270222c2261757468223a2264547077227d7d7d1a1e6b\
         756265726e657465732e696f2f646f636b6572636f6e6669676a736f6e1a002200",
        r#"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"d1","namespace":"default","creationTimestamp":null},"data":{".dockerconfigjson":"eyJhdXRocyI6eyJyLmlvIjp7InVzZXJuYW1lIjoidSIsInBhc3N3b3JkIjoicCIsImF1dGgiOiJkVHB3In19fQ=="},"type":"kubernetes.io/dockerconfigjson"}"#,
    ),
    (
        "create serviceaccount sa1",
        "6b3873000a140a027631120e536572766963654163636f756e74121c0a1a0a0373613112001a0764656661756c74\
         22002a003200380042001a002200",
        r#"{"kind":"ServiceAccount","apiVersion":"v1","metadata":{"name":"sa1","namespace":"default","creationTimestamp":null}}"#,
    ),
    (
        "create service clusterip web --tcp=80:8080",
        "6b3873000a0d0a02763112075365727669636512700a260a0377656212001a0764656661756c7422002a00320038\
         0042005a0a0a03617070120377656212420a1b0a0738302d38303830120354435018502207080010903f1a002800\
         120a0a0361707012037765621a002209436c757374657249503a00420052005a00600068001a020a001a002200",
        r#"{"kind":"Service","apiVersion":"v1","metadata":{"name":"web","namespace":"default","creationTimestamp":null,"labels":{"app":"web"}},"spec":{"ports":[{"name":"80-8080","protocol":"TCP","port":80,"targetPort":8080}],"selector":{"app":"web"},"type":"ClusterIP"},"status":{"loadBalancer":{}}}"#,
    ),
    (
        "create service nodeport np --tcp=80:8080 --node-port=30080",
        "6b3873000a0d0a027631120753657276696365126e0a240a026e7012001a0764656661756c7422002a0032003800\
         42005a090a0361707012026e7012420a1d0a0738302d38303830120354435018502207080010903f1a002880eb01\
         12090a0361707012026e701a0022084e6f6465506f72743a00420052005a00600068001a020a001a002200",
        r#"{"kind":"Service","apiVersion":"v1","metadata":{"name":"np","namespace":"default","creationTimestamp":null,"labels":{"app":"np"}},"spec":{"ports":[{"name":"80-8080","protocol":"TCP","port":80,"targetPort":8080,"nodePort":30080}],"selector":{"app":"np"},"type":"NodePort"},"status":{"loadBalancer":{}}}"#,
    ),
    (
        "create service externalname ext --external-name=db.example.com",
        "6b3873000a0d0a02763112075365727669636512640a260a0365787412001a0764656661756c7422002a0032003800\
         42005a0a0a0361707012036578741236120a0a0361707012036578741a00220c45787465726e616c4e616d653a0042\
         00520e64622e6578616d706c652e636f6d5a00600068001a020a001a002200",
        r#"{"kind":"Service","apiVersion":"v1","metadata":{"name":"ext","namespace":"default","creationTimestamp":null,"labels":{"app":"ext"}},"spec":{"selector":{"app":"ext"},"type":"ExternalName","externalName":"db.example.com"},"status":{"loadBalancer":{}}}"#,
    ),
    (
        "create service loadbalancer lb --tcp=443:8443",
        "6b3873000a0d0a02763112075365727669636512720a240a026c6212001a0764656661756c7422002a003200380042\
         005a090a0361707012026c6212460a1d0a083434332d38343433120354435018bb032207080010fb411a0028001209\
         0a0361707012026c621a00220c4c6f616442616c616e6365723a00420052005a00600068001a020a001a002200",
        r#"{"kind":"Service","apiVersion":"v1","metadata":{"name":"lb","namespace":"default","creationTimestamp":null,"labels":{"app":"lb"}},"spec":{"ports":[{"name":"443-8443","protocol":"TCP","port":443,"targetPort":8443}],"selector":{"app":"lb"},"type":"LoadBalancer"},"status":{"loadBalancer":{}}}"#,
    ),
    (
        "create ingress ing1 --rule=foo.com/bar=svc1:8080,tls=my-cert --class=nginx",
        "6b3873000a1f0a146e6574776f726b696e672e6b38732e696f2f76311207496e6772657373126d0a1b0a04696e67\
         3112001a0764656661756c7422002a00320038004200124a12120a07666f6f2e636f6d12076d792d636572741a2d\
         0a07666f6f2e636f6d12220a200a1e0a042f626172120f220d0a047376633112050a0010903f1a05457861637422\
         056e67696e781a020a001a002200",
        r#"{"kind":"Ingress","apiVersion":"networking.k8s.io/v1","metadata":{"name":"ing1","namespace":"default","creationTimestamp":null},"spec":{"ingressClassName":"nginx","tls":[{"hosts":["foo.com"],"secretName":"my-cert"}],"rules":[{"host":"foo.com","http":{"paths":[{"path":"/bar","pathType":"Exact","backend":{"service":{"name":"svc1","port":{"number":8080}}}}]}}]},"status":{"loadBalancer":{}}}"#,
    ),
];

#[test]
fn kubectl_bodies_decode_to_the_json_kubectl_writes_for_them() {
    for (command, hex, expected) in KUBECTL_BODIES {
        let decoded = decode_request_body(&hex_bytes(hex))
            .unwrap_or_else(|e| panic!("kubectl {command}: {e}"));
        let expected: Value = serde_json::from_str(expected).unwrap();
        assert_eq!(decoded, expected, "kubectl {command}");
    }
}

// ---------------------------------------------------------------------------------------
// The envelope and its errors
// ---------------------------------------------------------------------------------------

#[test]
fn protobuf_content_type_is_recognised_with_parameters_and_any_case() {
    assert!(is_protobuf_content_type(
        "application/vnd.kubernetes.protobuf"
    ));
    assert!(is_protobuf_content_type(
        "Application/VND.Kubernetes.Protobuf; charset=utf-8"
    ));
    assert!(!is_protobuf_content_type(
        "application/vnd.kubernetes.protobuf;stream=watch-x"
            .replace("protobuf", "protobuf2")
            .as_str()
    ));
    assert!(!is_protobuf_content_type("application/json"));
}

#[test]
fn bodies_that_are_not_kubernetes_protobuf_are_bad_requests() {
    let empty = decode_request_body(b"").unwrap_err();
    assert!(matches!(empty, ProtobufError::Empty));
    assert_eq!(empty.status_code(), 400);

    let json = decode_request_body(br#"{"kind":"Namespace"}"#).unwrap_err();
    assert!(matches!(json, ProtobufError::MissingMagic), "{json}");
    assert_eq!(json.reason(), "BadRequest");

    let garbage = decode_request_body(b"k8s\x00\xff\xff\xff").unwrap_err();
    assert!(matches!(garbage, ProtobufError::Envelope(_)), "{garbage}");
    assert_eq!(garbage.status_code(), 400);

    let no_kind = decode_request_body(&envelope("v1", "", &meta::ObjectMeta::default()));
    assert!(matches!(
        no_kind,
        Err(ProtobufError::MissingTypeMeta { missing: "kind" })
    ));
    let no_version = decode_request_body(&envelope("", "Pod", &meta::ObjectMeta::default()));
    assert!(matches!(
        no_version,
        Err(ProtobufError::MissingTypeMeta {
            missing: "apiVersion"
        })
    ));
}

#[test]
fn a_malformed_object_inside_a_valid_envelope_names_its_kind() {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s("v1"),
            kind: s("Pod"),
        }),
        // Field 1 (metadata), length 5, but only two bytes follow.
        raw: Some(vec![0x0a, 0x05, 0x0a, 0x01]),
        ..Default::default()
    };
    let mut body = MAGIC.to_vec();
    body.extend(unknown.encode_to_vec());
    let error = decode_request_body(&body).unwrap_err();
    assert!(
        matches!(&error, ProtobufError::Malformed { kind, .. } if kind == "Pod"),
        "{error}"
    );
    assert_eq!(error.status_code(), 400);
}

#[test]
fn kinds_without_a_decoder_are_unsupported_media_type_naming_the_kind() {
    let body = envelope(
        "crd.antrea.io/v1beta1",
        "ClusterNetworkPolicy",
        &meta::ObjectMeta::default(),
    );
    let error = decode_request_body(&body).unwrap_err();
    assert_eq!(error.status_code(), 415);
    assert_eq!(error.reason(), "UnsupportedMediaType");
    let message = error.to_string();
    assert!(message.contains("ClusterNetworkPolicy"), "{message}");
    assert!(message.contains("crd.antrea.io/v1beta1"), "{message}");
    // Same kind name, other group version: not decoded as the core type.
    assert!(!supports("apps/v1", "Pod"));
}

#[test]
fn compressed_or_non_protobuf_payloads_are_unsupported() {
    let mut unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s("v1"),
            kind: s("Namespace"),
        }),
        raw: Some(Vec::new()),
        content_encoding: s("gzip"),
        content_type: s(""),
    };
    let mut body = MAGIC.to_vec();
    body.extend(unknown.encode_to_vec());
    let error = decode_request_body(&body).unwrap_err();
    assert!(matches!(error, ProtobufError::ContentEncoding(ref e) if e == "gzip"));
    assert_eq!(error.status_code(), 415);

    unknown.content_encoding = s("");
    unknown.content_type = s("application/json");
    let mut body = MAGIC.to_vec();
    body.extend(unknown.encode_to_vec());
    assert!(matches!(
        decode_request_body(&body),
        Err(ProtobufError::InnerContentType(_))
    ));

    unknown.content_type = s(CONTENT_TYPE);
    let mut body = MAGIC.to_vec();
    body.extend(unknown.encode_to_vec());
    assert_eq!(
        decode_request_body(&body).unwrap(),
        json!({"kind": "Namespace", "apiVersion": "v1"})
    );
}

#[test]
fn every_built_in_kind_the_registry_serves_has_a_decoder() {
    let registry = crate::registry::Registry::with_builtins();
    let mut count = 0;
    for resource in registry.all() {
        assert!(
            supports(&resource.api_version(), &resource.kind),
            "no protobuf decoder for {} {}",
            resource.api_version(),
            resource.kind
        );
        count += 1;
    }
    assert!(count >= 15, "only {count} built-in types");
    for api_version in ["v1", "meta.k8s.io/v1", "networking.k8s.io/v1"] {
        assert!(supports(api_version, "DeleteOptions"));
    }
    assert!(supports("authentication.k8s.io/v1", "TokenRequest"));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Arbitrary bytes after the magic never panic: they decode or give an error.
    #[test]
    fn arbitrary_bodies_never_panic(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
        let mut body = MAGIC.to_vec();
        body.extend(tail);
        let _ = decode_request_body(&body);
    }

    /// Arbitrary objects of every kind inside a valid envelope never panic either.
    #[test]
    fn arbitrary_objects_never_panic(
        raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
        kind in proptest::sample::select(vec![
            ("v1", "Pod"), ("v1", "Service"), ("v1", "Node"), ("v1", "Secret"),
            ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
            ("coordination.k8s.io/v1", "Lease"), ("events.k8s.io/v1", "Event"),
        ]),
    ) {
        let unknown = Unknown {
            type_meta: Some(TypeMeta { api_version: s(kind.0), kind: s(kind.1) }),
            raw: Some(raw),
            ..Default::default()
        };
        let mut body = MAGIC.to_vec();
        body.extend(unknown.encode_to_vec());
        let _ = decode_request_body(&body);
    }
}

// ---------------------------------------------------------------------------------------
// Every kind, field by field, against k8s-openapi
// ---------------------------------------------------------------------------------------

fn full_object_meta() -> meta::ObjectMeta {
    meta::ObjectMeta {
        name: s("web-0"),
        generate_name: s("web-"),
        namespace: s("default"),
        self_link: s("/api/v1/namespaces/default/pods/web-0"),
        uid: s("0b7a7c4e-0000-4000-8000-000000000001"),
        resource_version: s("42"),
        generation: Some(3),
        creation_timestamp: Some(time()),
        deletion_timestamp: Some(time()),
        deletion_grace_period_seconds: Some(30),
        labels: string_map(&[("app", "web"), ("tier", "front")]),
        annotations: string_map(&[("note", "a \"quoted\" value")]),
        owner_references: vec![meta::OwnerReference {
            api_version: s("apps/v1"),
            kind: s("ReplicaSet"),
            name: s("web-5d4f"),
            uid: s("0b7a7c4e-0000-4000-8000-000000000002"),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }],
        finalizers: strings(&["example.com/cleanup"]),
        managed_fields: vec![meta::ManagedFieldsEntry {
            manager: s("kubectl"),
            operation: s("Update"),
            api_version: s("v1"),
            time: Some(time()),
            fields_type: s("FieldsV1"),
            fields_v1: Some(meta::FieldsV1 {
                raw: Some(br#"{"f:metadata":{"f:labels":{"f:app":{}}}}"#.to_vec()),
            }),
            subresource: s("status"),
        }],
    }
}

fn oa_full_object_meta() -> oa_meta::ObjectMeta {
    oa_meta::ObjectMeta {
        name: s("web-0"),
        generate_name: s("web-"),
        namespace: s("default"),
        self_link: s("/api/v1/namespaces/default/pods/web-0"),
        uid: s("0b7a7c4e-0000-4000-8000-000000000001"),
        resource_version: s("42"),
        generation: Some(3),
        creation_timestamp: Some(oa_time()),
        deletion_timestamp: Some(oa_time()),
        deletion_grace_period_seconds: Some(30),
        labels: Some(string_map(&[("app", "web"), ("tier", "front")])),
        annotations: Some(string_map(&[("note", "a \"quoted\" value")])),
        owner_references: Some(vec![oa_meta::OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: "web-5d4f".into(),
            uid: "0b7a7c4e-0000-4000-8000-000000000002".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]),
        finalizers: Some(strings(&["example.com/cleanup"])),
        managed_fields: Some(vec![oa_meta::ManagedFieldsEntry {
            manager: s("kubectl"),
            operation: s("Update"),
            api_version: s("v1"),
            time: Some(oa_time()),
            fields_type: s("FieldsV1"),
            fields_v1: Some(oa_meta::FieldsV1(
                json!({"f:metadata": {"f:labels": {"f:app": {}}}}),
            )),
            subresource: s("status"),
        }]),
    }
}

fn probe(handler: core::ProbeHandler) -> core::Probe {
    core::Probe {
        handler: Some(handler),
        initial_delay_seconds: Some(5),
        timeout_seconds: Some(2),
        period_seconds: Some(10),
        success_threshold: Some(1),
        failure_threshold: Some(3),
        termination_grace_period_seconds: Some(15),
    }
}

fn oa_probe() -> oa::core::v1::Probe {
    oa::core::v1::Probe {
        initial_delay_seconds: Some(5),
        timeout_seconds: Some(2),
        period_seconds: Some(10),
        success_threshold: Some(1),
        failure_threshold: Some(3),
        termination_grace_period_seconds: Some(15),
        ..Default::default()
    }
}

fn web_container() -> core::Container {
    core::Container {
        name: s("web"),
        image: s("nginx:1.27"),
        command: strings(&["nginx"]),
        args: strings(&["-g", "daemon off;"]),
        working_dir: s("/srv"),
        ports: vec![core::ContainerPort {
            name: s("http"),
            host_port: Some(8080),
            container_port: Some(80),
            protocol: s("TCP"),
            host_ip: s("127.0.0.1"),
        }],
        env_from: vec![
            core::EnvFromSource {
                prefix: s("CM_"),
                config_map_ref: Some(core::ConfigMapEnvSource {
                    local_object_reference: Some(core::LocalObjectReference { name: s("cm") }),
                    optional: Some(true),
                }),
                secret_ref: None,
            },
            core::EnvFromSource {
                prefix: None,
                config_map_ref: None,
                secret_ref: Some(core::SecretEnvSource {
                    local_object_reference: Some(core::LocalObjectReference { name: s("sec") }),
                    optional: Some(false),
                }),
            },
        ],
        env: vec![
            core::EnvVar {
                name: s("PLAIN"),
                value: s("1"),
                value_from: None,
            },
            core::EnvVar {
                name: s("NODE"),
                value: None,
                value_from: Some(core::EnvVarSource {
                    field_ref: Some(core::ObjectFieldSelector {
                        api_version: s("v1"),
                        field_path: s("spec.nodeName"),
                    }),
                    ..Default::default()
                }),
            },
            core::EnvVar {
                name: s("MEM"),
                value: None,
                value_from: Some(core::EnvVarSource {
                    resource_field_ref: Some(core::ResourceFieldSelector {
                        container_name: s("web"),
                        resource: s("limits.memory"),
                        divisor: Some(quantity("1Mi")),
                    }),
                    ..Default::default()
                }),
            },
            core::EnvVar {
                name: s("FROM_CM"),
                value: None,
                value_from: Some(core::EnvVarSource {
                    config_map_key_ref: Some(core::ConfigMapKeySelector {
                        local_object_reference: Some(core::LocalObjectReference { name: s("cm") }),
                        key: s("k"),
                        optional: Some(false),
                    }),
                    ..Default::default()
                }),
            },
            core::EnvVar {
                name: s("FROM_SECRET"),
                value: None,
                value_from: Some(core::EnvVarSource {
                    secret_key_ref: Some(core::SecretKeySelector {
                        local_object_reference: Some(core::LocalObjectReference { name: s("sec") }),
                        key: s("password"),
                        optional: Some(true),
                    }),
                    ..Default::default()
                }),
            },
        ],
        resources: Some(core::ResourceRequirements {
            limits: quantities(&[("cpu", "500m"), ("memory", "128Mi")]),
            requests: quantities(&[("cpu", "250m"), ("memory", "64Mi")]),
            claims: vec![core::ResourceClaim {
                name: s("gpu"),
                request: s("one"),
            }],
        }),
        resize_policy: vec![core::ContainerResizePolicy {
            resource_name: s("cpu"),
            restart_policy: s("NotRequired"),
        }],
        restart_policy: None,
        restart_policy_rules: Vec::new(),
        volume_mounts: vec![core::VolumeMount {
            name: s("data"),
            read_only: Some(true),
            recursive_read_only: s("IfPossible"),
            mount_path: s("/data"),
            sub_path: s("sub"),
            mount_propagation: s("HostToContainer"),
            sub_path_expr: None,
        }],
        volume_devices: vec![core::VolumeDevice {
            name: s("block"),
            device_path: s("/dev/xvda"),
        }],
        liveness_probe: Some(probe(core::ProbeHandler {
            http_get: Some(core::HttpGetAction {
                path: s("/healthz"),
                port: Some(int_or_str("http")),
                host: s("localhost"),
                scheme: s("HTTP"),
                http_headers: vec![core::HttpHeader {
                    name: s("X-Probe"),
                    value: s("1"),
                }],
            }),
            ..Default::default()
        })),
        readiness_probe: Some(probe(core::ProbeHandler {
            tcp_socket: Some(core::TcpSocketAction {
                port: Some(int_or_int(80)),
                host: s("localhost"),
            }),
            ..Default::default()
        })),
        startup_probe: Some(probe(core::ProbeHandler {
            grpc: Some(core::GrpcAction {
                port: Some(9000),
                service: s("health"),
            }),
            ..Default::default()
        })),
        lifecycle: Some(core::Lifecycle {
            post_start: Some(core::LifecycleHandler {
                exec: Some(core::ExecAction {
                    command: strings(&["sh", "-c", "echo up"]),
                }),
                ..Default::default()
            }),
            pre_stop: Some(core::LifecycleHandler {
                sleep: Some(core::SleepAction { seconds: Some(5) }),
                ..Default::default()
            }),
            stop_signal: s("SIGTERM"),
        }),
        termination_message_path: s("/dev/termination-log"),
        termination_message_policy: s("File"),
        image_pull_policy: s("IfNotPresent"),
        security_context: Some(core::SecurityContext {
            capabilities: Some(core::Capabilities {
                add: strings(&["NET_ADMIN"]),
                drop: strings(&["ALL"]),
            }),
            privileged: Some(false),
            se_linux_options: Some(core::SeLinuxOptions {
                user: s("u"),
                role: s("r"),
                r#type: s("t"),
                level: s("s0"),
            }),
            windows_options: Some(core::WindowsSecurityContextOptions {
                gmsa_credential_spec_name: s("gmsa"),
                gmsa_credential_spec: s("{}"),
                run_as_user_name: s("ContainerUser"),
                host_process: Some(false),
            }),
            run_as_user: Some(1000),
            run_as_group: Some(1000),
            run_as_non_root: Some(true),
            read_only_root_filesystem: Some(true),
            allow_privilege_escalation: Some(false),
            proc_mount: s("Default"),
            seccomp_profile: Some(core::SeccompProfile {
                r#type: s("Localhost"),
                localhost_profile: s("profiles/web.json"),
            }),
            app_armor_profile: Some(core::AppArmorProfile {
                r#type: s("RuntimeDefault"),
                localhost_profile: None,
            }),
        }),
        stdin: Some(true),
        stdin_once: Some(true),
        tty: Some(true),
    }
}

fn oa_web_container() -> oa::core::v1::Container {
    use oa::core::v1 as c;
    c::Container {
        name: "web".into(),
        image: s("nginx:1.27"),
        command: Some(strings(&["nginx"])),
        args: Some(strings(&["-g", "daemon off;"])),
        working_dir: s("/srv"),
        ports: Some(vec![c::ContainerPort {
            name: s("http"),
            host_port: Some(8080),
            container_port: 80,
            protocol: s("TCP"),
            host_ip: s("127.0.0.1"),
        }]),
        env_from: Some(vec![
            c::EnvFromSource {
                prefix: s("CM_"),
                config_map_ref: Some(c::ConfigMapEnvSource {
                    name: "cm".into(),
                    optional: Some(true),
                }),
                secret_ref: None,
            },
            c::EnvFromSource {
                prefix: None,
                config_map_ref: None,
                secret_ref: Some(c::SecretEnvSource {
                    name: "sec".into(),
                    optional: Some(false),
                }),
            },
        ]),
        env: Some(vec![
            c::EnvVar {
                name: "PLAIN".into(),
                value: s("1"),
                value_from: None,
            },
            c::EnvVar {
                name: "NODE".into(),
                value: None,
                value_from: Some(c::EnvVarSource {
                    field_ref: Some(c::ObjectFieldSelector {
                        api_version: s("v1"),
                        field_path: "spec.nodeName".into(),
                    }),
                    ..Default::default()
                }),
            },
            c::EnvVar {
                name: "MEM".into(),
                value: None,
                value_from: Some(c::EnvVarSource {
                    resource_field_ref: Some(c::ResourceFieldSelector {
                        container_name: s("web"),
                        resource: "limits.memory".into(),
                        divisor: Some(OaQuantity("1Mi".into())),
                    }),
                    ..Default::default()
                }),
            },
            c::EnvVar {
                name: "FROM_CM".into(),
                value: None,
                value_from: Some(c::EnvVarSource {
                    config_map_key_ref: Some(c::ConfigMapKeySelector {
                        name: "cm".into(),
                        key: "k".into(),
                        optional: Some(false),
                    }),
                    ..Default::default()
                }),
            },
            c::EnvVar {
                name: "FROM_SECRET".into(),
                value: None,
                value_from: Some(c::EnvVarSource {
                    secret_key_ref: Some(c::SecretKeySelector {
                        name: "sec".into(),
                        key: "password".into(),
                        optional: Some(true),
                    }),
                    ..Default::default()
                }),
            },
        ]),
        resources: Some(c::ResourceRequirements {
            limits: Some(oa_quantities(&[("cpu", "500m"), ("memory", "128Mi")])),
            requests: Some(oa_quantities(&[("cpu", "250m"), ("memory", "64Mi")])),
            claims: Some(vec![c::ResourceClaim {
                name: "gpu".into(),
                request: s("one"),
            }]),
        }),
        resize_policy: Some(vec![c::ContainerResizePolicy {
            resource_name: "cpu".into(),
            restart_policy: "NotRequired".into(),
        }]),
        restart_policy: None,
        volume_mounts: Some(vec![c::VolumeMount {
            name: "data".into(),
            read_only: Some(true),
            recursive_read_only: s("IfPossible"),
            mount_path: "/data".into(),
            sub_path: s("sub"),
            mount_propagation: s("HostToContainer"),
            sub_path_expr: None,
        }]),
        volume_devices: Some(vec![c::VolumeDevice {
            name: "block".into(),
            device_path: "/dev/xvda".into(),
        }]),
        liveness_probe: Some(c::Probe {
            http_get: Some(c::HTTPGetAction {
                path: s("/healthz"),
                port: OaIntOrString::String("http".into()),
                host: s("localhost"),
                scheme: s("HTTP"),
                http_headers: Some(vec![c::HTTPHeader {
                    name: "X-Probe".into(),
                    value: "1".into(),
                }]),
            }),
            ..oa_probe()
        }),
        readiness_probe: Some(c::Probe {
            tcp_socket: Some(c::TCPSocketAction {
                port: OaIntOrString::Int(80),
                host: s("localhost"),
            }),
            ..oa_probe()
        }),
        startup_probe: Some(c::Probe {
            grpc: Some(c::GRPCAction {
                port: 9000,
                service: s("health"),
            }),
            ..oa_probe()
        }),
        lifecycle: Some(c::Lifecycle {
            post_start: Some(c::LifecycleHandler {
                exec: Some(c::ExecAction {
                    command: Some(strings(&["sh", "-c", "echo up"])),
                }),
                ..Default::default()
            }),
            pre_stop: Some(c::LifecycleHandler {
                sleep: Some(c::SleepAction { seconds: 5 }),
                ..Default::default()
            }),
            stop_signal: s("SIGTERM"),
        }),
        termination_message_path: s("/dev/termination-log"),
        termination_message_policy: s("File"),
        image_pull_policy: s("IfNotPresent"),
        security_context: Some(c::SecurityContext {
            capabilities: Some(c::Capabilities {
                add: Some(strings(&["NET_ADMIN"])),
                drop: Some(strings(&["ALL"])),
            }),
            privileged: Some(false),
            se_linux_options: Some(c::SELinuxOptions {
                user: s("u"),
                role: s("r"),
                type_: s("t"),
                level: s("s0"),
            }),
            windows_options: Some(c::WindowsSecurityContextOptions {
                gmsa_credential_spec_name: s("gmsa"),
                gmsa_credential_spec: s("{}"),
                run_as_user_name: s("ContainerUser"),
                host_process: Some(false),
            }),
            run_as_user: Some(1000),
            run_as_group: Some(1000),
            run_as_non_root: Some(true),
            read_only_root_filesystem: Some(true),
            allow_privilege_escalation: Some(false),
            proc_mount: s("Default"),
            seccomp_profile: Some(c::SeccompProfile {
                type_: "Localhost".into(),
                localhost_profile: s("profiles/web.json"),
            }),
            app_armor_profile: Some(c::AppArmorProfile {
                type_: "RuntimeDefault".into(),
                localhost_profile: None,
            }),
        }),
        stdin: Some(true),
        stdin_once: Some(true),
        tty: Some(true),
    }
}

fn volumes() -> Vec<core::Volume> {
    let volume = |name: &str, source: core::VolumeSource| core::Volume {
        name: s(name),
        volume_source: Some(source),
    };
    vec![
        volume(
            "scratch",
            core::VolumeSource {
                empty_dir: Some(core::EmptyDirVolumeSource {
                    medium: s("Memory"),
                    size_limit: Some(quantity("1Gi")),
                }),
                ..Default::default()
            },
        ),
        volume(
            "config",
            core::VolumeSource {
                config_map: Some(core::ConfigMapVolumeSource {
                    local_object_reference: Some(core::LocalObjectReference { name: s("cm") }),
                    items: vec![core::KeyToPath {
                        key: s("k"),
                        path: s("k.txt"),
                        mode: Some(0o400),
                    }],
                    default_mode: Some(0o644),
                    optional: Some(false),
                }),
                ..Default::default()
            },
        ),
        volume(
            "creds",
            core::VolumeSource {
                secret: Some(core::SecretVolumeSource {
                    secret_name: s("sec"),
                    items: Vec::new(),
                    default_mode: Some(0o600),
                    optional: Some(true),
                }),
                ..Default::default()
            },
        ),
        volume(
            "host",
            core::VolumeSource {
                host_path: Some(core::HostPathVolumeSource {
                    path: s("/var/log"),
                    r#type: s("Directory"),
                }),
                ..Default::default()
            },
        ),
        volume(
            "data",
            core::VolumeSource {
                persistent_volume_claim: Some(core::PersistentVolumeClaimVolumeSource {
                    claim_name: s("data-web-0"),
                    read_only: Some(true),
                }),
                ..Default::default()
            },
        ),
        volume(
            "csi",
            core::VolumeSource {
                csi: Some(core::CSIVolumeSource {
                    driver: s("csi.example.com"),
                    read_only: Some(false),
                    fs_type: s("ext4"),
                    volume_attributes: string_map(&[("size", "small")]),
                    node_publish_secret_ref: Some(core::LocalObjectReference { name: s("csi") }),
                }),
                ..Default::default()
            },
        ),
        volume(
            "projected",
            core::VolumeSource {
                projected: Some(core::ProjectedVolumeSource {
                    sources: vec![
                        core::VolumeProjection {
                            service_account_token: Some(core::ServiceAccountTokenProjection {
                                audience: s("vault"),
                                expiration_seconds: Some(3600),
                                path: s("token"),
                            }),
                            ..Default::default()
                        },
                        core::VolumeProjection {
                            downward_api: Some(core::DownwardAPIProjection {
                                items: vec![core::DownwardAPIVolumeFile {
                                    path: s("labels"),
                                    field_ref: Some(core::ObjectFieldSelector {
                                        api_version: s("v1"),
                                        field_path: s("metadata.labels"),
                                    }),
                                    resource_field_ref: None,
                                    mode: Some(0o444),
                                }],
                            }),
                            ..Default::default()
                        },
                        core::VolumeProjection {
                            config_map: Some(core::ConfigMapProjection {
                                local_object_reference: Some(core::LocalObjectReference {
                                    name: s("ca"),
                                }),
                                items: Vec::new(),
                                optional: Some(true),
                            }),
                            ..Default::default()
                        },
                    ],
                    default_mode: Some(0o420),
                }),
                ..Default::default()
            },
        ),
        volume(
            "ephemeral",
            core::VolumeSource {
                ephemeral: Some(core::EphemeralVolumeSource {
                    volume_claim_template: Some(core::PersistentVolumeClaimTemplate {
                        metadata: Some(meta::ObjectMeta {
                            labels: string_map(&[("type", "scratch")]),
                            ..Default::default()
                        }),
                        spec: Some(core::PersistentVolumeClaimSpec {
                            access_modes: strings(&["ReadWriteOnce"]),
                            selector: None,
                            resources: Some(core::VolumeResourceRequirements {
                                limits: BTreeMap::new(),
                                requests: quantities(&[("storage", "1Gi")]),
                            }),
                            volume_name: None,
                            storage_class_name: s("fast"),
                            volume_mode: s("Filesystem"),
                            data_source: Some(core::TypedLocalObjectReference {
                                api_group: s("snapshot.storage.k8s.io"),
                                kind: s("VolumeSnapshot"),
                                name: s("snap"),
                            }),
                            data_source_ref: None,
                            volume_attributes_class_name: None,
                        }),
                    }),
                }),
                ..Default::default()
            },
        ),
    ]
}

fn oa_volumes() -> Vec<oa::core::v1::Volume> {
    use oa::core::v1 as c;
    let volume = |name: &str| c::Volume {
        name: name.into(),
        ..Default::default()
    };
    vec![
        c::Volume {
            empty_dir: Some(c::EmptyDirVolumeSource {
                medium: s("Memory"),
                size_limit: Some(OaQuantity("1Gi".into())),
            }),
            ..volume("scratch")
        },
        c::Volume {
            config_map: Some(c::ConfigMapVolumeSource {
                name: "cm".into(),
                items: Some(vec![c::KeyToPath {
                    key: "k".into(),
                    path: "k.txt".into(),
                    mode: Some(0o400),
                }]),
                default_mode: Some(0o644),
                optional: Some(false),
            }),
            ..volume("config")
        },
        c::Volume {
            secret: Some(c::SecretVolumeSource {
                secret_name: s("sec"),
                items: None,
                default_mode: Some(0o600),
                optional: Some(true),
            }),
            ..volume("creds")
        },
        c::Volume {
            host_path: Some(c::HostPathVolumeSource {
                path: "/var/log".into(),
                type_: s("Directory"),
            }),
            ..volume("host")
        },
        c::Volume {
            persistent_volume_claim: Some(c::PersistentVolumeClaimVolumeSource {
                claim_name: "data-web-0".into(),
                read_only: Some(true),
            }),
            ..volume("data")
        },
        c::Volume {
            csi: Some(c::CSIVolumeSource {
                driver: "csi.example.com".into(),
                read_only: Some(false),
                fs_type: s("ext4"),
                volume_attributes: Some(string_map(&[("size", "small")])),
                node_publish_secret_ref: Some(c::LocalObjectReference { name: "csi".into() }),
            }),
            ..volume("csi")
        },
        c::Volume {
            projected: Some(c::ProjectedVolumeSource {
                sources: Some(vec![
                    c::VolumeProjection {
                        service_account_token: Some(c::ServiceAccountTokenProjection {
                            audience: s("vault"),
                            expiration_seconds: Some(3600),
                            path: "token".into(),
                        }),
                        ..Default::default()
                    },
                    c::VolumeProjection {
                        downward_api: Some(c::DownwardAPIProjection {
                            items: Some(vec![c::DownwardAPIVolumeFile {
                                path: "labels".into(),
                                field_ref: Some(c::ObjectFieldSelector {
                                    api_version: s("v1"),
                                    field_path: "metadata.labels".into(),
                                }),
                                resource_field_ref: None,
                                mode: Some(0o444),
                            }]),
                        }),
                        ..Default::default()
                    },
                    c::VolumeProjection {
                        config_map: Some(c::ConfigMapProjection {
                            name: "ca".into(),
                            items: None,
                            optional: Some(true),
                        }),
                        ..Default::default()
                    },
                ]),
                default_mode: Some(0o420),
            }),
            ..volume("projected")
        },
        c::Volume {
            ephemeral: Some(c::EphemeralVolumeSource {
                volume_claim_template: Some(c::PersistentVolumeClaimTemplate {
                    metadata: Some(oa_meta::ObjectMeta {
                        labels: Some(string_map(&[("type", "scratch")])),
                        ..Default::default()
                    }),
                    spec: c::PersistentVolumeClaimSpec {
                        access_modes: Some(strings(&["ReadWriteOnce"])),
                        resources: Some(c::VolumeResourceRequirements {
                            limits: None,
                            requests: Some(oa_quantities(&[("storage", "1Gi")])),
                        }),
                        storage_class_name: s("fast"),
                        volume_mode: s("Filesystem"),
                        data_source: Some(c::TypedLocalObjectReference {
                            api_group: s("snapshot.storage.k8s.io"),
                            kind: "VolumeSnapshot".into(),
                            name: "snap".into(),
                        }),
                        ..Default::default()
                    },
                }),
            }),
            ..volume("ephemeral")
        },
    ]
}

#[test]
fn pod_with_a_full_spec_and_status_matches_k8s_openapi() {
    let mut init = web_container();
    init.name = s("init");
    init.restart_policy = s("Always");
    init.liveness_probe = None;
    init.readiness_probe = None;
    init.startup_probe = None;
    init.lifecycle = None;

    let pod = core::Pod {
        metadata: Some(full_object_meta()),
        spec: Some(core::PodSpec {
            volumes: volumes(),
            init_containers: vec![init],
            containers: vec![web_container()],
            ephemeral_containers: vec![core::EphemeralContainer {
                ephemeral_container_common: Some(core::EphemeralContainerCommon {
                    name: s("debug"),
                    image: s("busybox"),
                    stdin: Some(true),
                    tty: Some(true),
                    ..Default::default()
                }),
                target_container_name: s("web"),
            }],
            restart_policy: s("Always"),
            termination_grace_period_seconds: Some(30),
            active_deadline_seconds: Some(600),
            dns_policy: s("ClusterFirst"),
            node_selector: string_map(&[("kubernetes.io/os", "linux")]),
            service_account_name: s("web"),
            service_account: s("web"),
            automount_service_account_token: Some(false),
            node_name: s("node-1"),
            host_network: Some(true),
            host_pid: Some(true),
            host_ipc: Some(true),
            share_process_namespace: Some(true),
            security_context: Some(core::PodSecurityContext {
                se_linux_options: Some(core::SeLinuxOptions {
                    level: s("s0:c1"),
                    ..Default::default()
                }),
                windows_options: None,
                run_as_user: Some(1000),
                run_as_group: Some(2000),
                run_as_non_root: Some(true),
                supplemental_groups: vec![3000, 4000],
                supplemental_groups_policy: s("Strict"),
                fs_group: Some(2000),
                sysctls: vec![core::Sysctl {
                    name: s("net.core.somaxconn"),
                    value: s("1024"),
                }],
                fs_group_change_policy: s("OnRootMismatch"),
                seccomp_profile: Some(core::SeccompProfile {
                    r#type: s("RuntimeDefault"),
                    localhost_profile: None,
                }),
                app_armor_profile: None,
                se_linux_change_policy: s("MountOption"),
            }),
            image_pull_secrets: vec![core::LocalObjectReference {
                name: s("registry"),
            }],
            hostname: s("web-0"),
            subdomain: s("web"),
            affinity: Some(core::Affinity {
                node_affinity: Some(core::NodeAffinity {
                    required_during_scheduling_ignored_during_execution: Some(core::NodeSelector {
                        node_selector_terms: vec![core::NodeSelectorTerm {
                            match_expressions: vec![core::NodeSelectorRequirement {
                                key: s("zone"),
                                operator: s("In"),
                                values: strings(&["a", "b"]),
                            }],
                            match_fields: vec![core::NodeSelectorRequirement {
                                key: s("metadata.name"),
                                operator: s("NotIn"),
                                values: strings(&["node-9"]),
                            }],
                        }],
                    }),
                    preferred_during_scheduling_ignored_during_execution: vec![
                        core::PreferredSchedulingTerm {
                            weight: Some(10),
                            preference: Some(core::NodeSelectorTerm {
                                match_expressions: vec![core::NodeSelectorRequirement {
                                    key: s("disk"),
                                    operator: s("Exists"),
                                    values: Vec::new(),
                                }],
                                match_fields: Vec::new(),
                            }),
                        },
                    ],
                }),
                pod_affinity: Some(core::PodAffinity {
                    required_during_scheduling_ignored_during_execution: vec![
                        core::PodAffinityTerm {
                            label_selector: Some(label_selector()),
                            namespaces: strings(&["default"]),
                            topology_key: s("kubernetes.io/hostname"),
                            namespace_selector: Some(meta::LabelSelector::default()),
                            match_label_keys: strings(&["pod-template-hash"]),
                            mismatch_label_keys: strings(&["tenant"]),
                        },
                    ],
                    preferred_during_scheduling_ignored_during_execution: Vec::new(),
                }),
                pod_anti_affinity: Some(core::PodAntiAffinity {
                    required_during_scheduling_ignored_during_execution: Vec::new(),
                    preferred_during_scheduling_ignored_during_execution: vec![
                        core::WeightedPodAffinityTerm {
                            weight: Some(100),
                            pod_affinity_term: Some(core::PodAffinityTerm {
                                topology_key: s("zone"),
                                ..Default::default()
                            }),
                        },
                    ],
                }),
            }),
            scheduler_name: s("default-scheduler"),
            tolerations: vec![core::Toleration {
                key: s("node.kubernetes.io/not-ready"),
                operator: s("Exists"),
                value: None,
                effect: s("NoExecute"),
                toleration_seconds: Some(300),
            }],
            host_aliases: vec![core::HostAlias {
                ip: s("10.0.0.1"),
                hostnames: strings(&["db"]),
            }],
            priority_class_name: s("high"),
            priority: Some(1000),
            dns_config: Some(core::PodDnsConfig {
                nameservers: strings(&["1.1.1.1"]),
                searches: strings(&["svc.cluster.local"]),
                options: vec![core::PodDnsConfigOption {
                    name: s("ndots"),
                    value: s("2"),
                }],
            }),
            readiness_gates: vec![core::PodReadinessGate {
                condition_type: s("example.com/ready"),
            }],
            runtime_class_name: s("gvisor"),
            enable_service_links: Some(false),
            preemption_policy: s("Never"),
            overhead: quantities(&[("cpu", "100m")]),
            topology_spread_constraints: vec![core::TopologySpreadConstraint {
                max_skew: Some(1),
                topology_key: s("zone"),
                when_unsatisfiable: s("DoNotSchedule"),
                label_selector: Some(label_selector()),
                min_domains: Some(2),
                node_affinity_policy: s("Honor"),
                node_taints_policy: s("Ignore"),
                match_label_keys: strings(&["pod-template-hash"]),
            }],
            set_hostname_as_fqdn: Some(true),
            os: Some(core::PodOs { name: s("linux") }),
            host_users: Some(false),
            scheduling_gates: vec![core::PodSchedulingGate {
                name: s("example.com/gate"),
            }],
            resource_claims: vec![core::PodResourceClaim {
                name: s("gpu"),
                resource_claim_name: s("gpu-claim"),
                resource_claim_template_name: None,
            }],
            resources: Some(core::ResourceRequirements {
                limits: quantities(&[("cpu", "2")]),
                ..Default::default()
            }),
            hostname_override: None,
            workload_ref: None,
        }),
        status: Some(core::PodStatus {
            observed_generation: Some(3),
            phase: s("Running"),
            conditions: vec![core::PodCondition {
                r#type: s("Ready"),
                observed_generation: Some(3),
                status: s("True"),
                last_probe_time: Some(time()),
                last_transition_time: Some(time()),
                reason: s("PodReady"),
                message: s("all good"),
            }],
            message: s("running"),
            reason: s("Started"),
            nominated_node_name: s("node-2"),
            host_ip: s("192.0.2.10"),
            host_ips: vec![core::HostIp {
                ip: s("192.0.2.10"),
            }],
            pod_ip: s("10.244.0.5"),
            pod_ips: vec![
                core::PodIp {
                    ip: s("10.244.0.5"),
                },
                core::PodIp { ip: s("fd00::5") },
            ],
            start_time: Some(time()),
            init_container_statuses: Vec::new(),
            container_statuses: vec![core::ContainerStatus {
                name: s("web"),
                state: Some(core::ContainerState {
                    running: Some(core::ContainerStateRunning {
                        started_at: Some(time()),
                    }),
                    ..Default::default()
                }),
                last_state: Some(core::ContainerState {
                    terminated: Some(core::ContainerStateTerminated {
                        exit_code: Some(137),
                        signal: Some(9),
                        reason: s("OOMKilled"),
                        message: s("out of memory"),
                        started_at: Some(time()),
                        finished_at: Some(time()),
                        container_id: s("containerd://abc"),
                    }),
                    ..Default::default()
                }),
                ready: Some(true),
                restart_count: Some(2),
                image: s("nginx:1.27"),
                image_id: s("docker.io/library/nginx@sha256:00"),
                container_id: s("containerd://def"),
                started: Some(true),
                allocated_resources: quantities(&[("cpu", "250m")]),
                resources: Some(core::ResourceRequirements {
                    requests: quantities(&[("cpu", "250m")]),
                    ..Default::default()
                }),
                volume_mounts: vec![core::VolumeMountStatus {
                    name: s("data"),
                    mount_path: s("/data"),
                    read_only: Some(true),
                    recursive_read_only: s("Enabled"),
                }],
                user: Some(core::ContainerUser {
                    linux: Some(core::LinuxContainerUser {
                        uid: Some(1000),
                        gid: Some(1000),
                        supplemental_groups: vec![3000],
                    }),
                }),
                allocated_resources_status: vec![core::ResourceStatus {
                    name: s("claim:gpu"),
                    resources: vec![core::ResourceHealth {
                        resource_id: s("gpu-0"),
                        health: s("Healthy"),
                    }],
                }],
                stop_signal: s("SIGQUIT"),
            }],
            qos_class: s("Burstable"),
            ephemeral_container_statuses: Vec::new(),
            resize: s("InProgress"),
            resource_claim_statuses: vec![core::PodResourceClaimStatus {
                name: s("gpu"),
                resource_claim_name: s("gpu-claim"),
            }],
            extended_resource_claim_status: None,
            allocated_resources: BTreeMap::new(),
            resources: None,
        }),
    };

    use oa::core::v1 as c;
    let mut oa_init = oa_web_container();
    oa_init.name = "init".into();
    oa_init.restart_policy = s("Always");
    oa_init.liveness_probe = None;
    oa_init.readiness_probe = None;
    oa_init.startup_probe = None;
    oa_init.lifecycle = None;
    let oa_label_selector = oa_label_selector();
    let expected = c::Pod {
        metadata: oa_full_object_meta(),
        spec: Some(c::PodSpec {
            volumes: Some(oa_volumes()),
            init_containers: Some(vec![oa_init]),
            containers: vec![oa_web_container()],
            ephemeral_containers: Some(vec![c::EphemeralContainer {
                name: "debug".into(),
                image: s("busybox"),
                stdin: Some(true),
                tty: Some(true),
                target_container_name: s("web"),
                ..Default::default()
            }]),
            restart_policy: s("Always"),
            termination_grace_period_seconds: Some(30),
            active_deadline_seconds: Some(600),
            dns_policy: s("ClusterFirst"),
            node_selector: Some(string_map(&[("kubernetes.io/os", "linux")])),
            service_account_name: s("web"),
            service_account: s("web"),
            automount_service_account_token: Some(false),
            node_name: s("node-1"),
            host_network: Some(true),
            host_pid: Some(true),
            host_ipc: Some(true),
            share_process_namespace: Some(true),
            security_context: Some(c::PodSecurityContext {
                se_linux_options: Some(c::SELinuxOptions {
                    level: s("s0:c1"),
                    ..Default::default()
                }),
                run_as_user: Some(1000),
                run_as_group: Some(2000),
                run_as_non_root: Some(true),
                supplemental_groups: Some(vec![3000, 4000]),
                supplemental_groups_policy: s("Strict"),
                fs_group: Some(2000),
                sysctls: Some(vec![c::Sysctl {
                    name: "net.core.somaxconn".into(),
                    value: "1024".into(),
                }]),
                fs_group_change_policy: s("OnRootMismatch"),
                seccomp_profile: Some(c::SeccompProfile {
                    type_: "RuntimeDefault".into(),
                    localhost_profile: None,
                }),
                se_linux_change_policy: s("MountOption"),
                ..Default::default()
            }),
            image_pull_secrets: Some(vec![c::LocalObjectReference {
                name: "registry".into(),
            }]),
            hostname: s("web-0"),
            subdomain: s("web"),
            affinity: Some(c::Affinity {
                node_affinity: Some(c::NodeAffinity {
                    required_during_scheduling_ignored_during_execution: Some(c::NodeSelector {
                        node_selector_terms: vec![c::NodeSelectorTerm {
                            match_expressions: Some(vec![c::NodeSelectorRequirement {
                                key: "zone".into(),
                                operator: "In".into(),
                                values: Some(strings(&["a", "b"])),
                            }]),
                            match_fields: Some(vec![c::NodeSelectorRequirement {
                                key: "metadata.name".into(),
                                operator: "NotIn".into(),
                                values: Some(strings(&["node-9"])),
                            }]),
                        }],
                    }),
                    preferred_during_scheduling_ignored_during_execution: Some(vec![
                        c::PreferredSchedulingTerm {
                            weight: 10,
                            preference: c::NodeSelectorTerm {
                                match_expressions: Some(vec![c::NodeSelectorRequirement {
                                    key: "disk".into(),
                                    operator: "Exists".into(),
                                    values: None,
                                }]),
                                match_fields: None,
                            },
                        },
                    ]),
                }),
                pod_affinity: Some(c::PodAffinity {
                    required_during_scheduling_ignored_during_execution: Some(vec![
                        c::PodAffinityTerm {
                            label_selector: Some(oa_label_selector.clone()),
                            namespaces: Some(strings(&["default"])),
                            topology_key: "kubernetes.io/hostname".into(),
                            namespace_selector: Some(oa_meta::LabelSelector::default()),
                            match_label_keys: Some(strings(&["pod-template-hash"])),
                            mismatch_label_keys: Some(strings(&["tenant"])),
                        },
                    ]),
                    preferred_during_scheduling_ignored_during_execution: None,
                }),
                pod_anti_affinity: Some(c::PodAntiAffinity {
                    required_during_scheduling_ignored_during_execution: None,
                    preferred_during_scheduling_ignored_during_execution: Some(vec![
                        c::WeightedPodAffinityTerm {
                            weight: 100,
                            pod_affinity_term: c::PodAffinityTerm {
                                topology_key: "zone".into(),
                                ..Default::default()
                            },
                        },
                    ]),
                }),
            }),
            scheduler_name: s("default-scheduler"),
            tolerations: Some(vec![c::Toleration {
                key: s("node.kubernetes.io/not-ready"),
                operator: s("Exists"),
                value: None,
                effect: s("NoExecute"),
                toleration_seconds: Some(300),
            }]),
            host_aliases: Some(vec![c::HostAlias {
                ip: "10.0.0.1".into(),
                hostnames: Some(strings(&["db"])),
            }]),
            priority_class_name: s("high"),
            priority: Some(1000),
            dns_config: Some(c::PodDNSConfig {
                nameservers: Some(strings(&["1.1.1.1"])),
                searches: Some(strings(&["svc.cluster.local"])),
                options: Some(vec![c::PodDNSConfigOption {
                    name: s("ndots"),
                    value: s("2"),
                }]),
            }),
            readiness_gates: Some(vec![c::PodReadinessGate {
                condition_type: "example.com/ready".into(),
            }]),
            runtime_class_name: s("gvisor"),
            enable_service_links: Some(false),
            preemption_policy: s("Never"),
            overhead: Some(oa_quantities(&[("cpu", "100m")])),
            topology_spread_constraints: Some(vec![c::TopologySpreadConstraint {
                max_skew: 1,
                topology_key: "zone".into(),
                when_unsatisfiable: "DoNotSchedule".into(),
                label_selector: Some(oa_label_selector),
                min_domains: Some(2),
                node_affinity_policy: s("Honor"),
                node_taints_policy: s("Ignore"),
                match_label_keys: Some(strings(&["pod-template-hash"])),
            }]),
            set_hostname_as_fqdn: Some(true),
            os: Some(c::PodOS {
                name: "linux".into(),
            }),
            host_users: Some(false),
            scheduling_gates: Some(vec![c::PodSchedulingGate {
                name: "example.com/gate".into(),
            }]),
            resource_claims: Some(vec![c::PodResourceClaim {
                name: "gpu".into(),
                resource_claim_name: s("gpu-claim"),
                resource_claim_template_name: None,
            }]),
            resources: Some(c::ResourceRequirements {
                limits: Some(oa_quantities(&[("cpu", "2")])),
                ..Default::default()
            }),
        }),
        status: Some(c::PodStatus {
            observed_generation: Some(3),
            phase: s("Running"),
            conditions: Some(vec![c::PodCondition {
                type_: "Ready".into(),
                observed_generation: Some(3),
                status: "True".into(),
                last_probe_time: Some(oa_time()),
                last_transition_time: Some(oa_time()),
                reason: s("PodReady"),
                message: s("all good"),
            }]),
            message: s("running"),
            reason: s("Started"),
            nominated_node_name: s("node-2"),
            host_ip: s("192.0.2.10"),
            host_ips: Some(vec![c::HostIP {
                ip: "192.0.2.10".into(),
            }]),
            pod_ip: s("10.244.0.5"),
            pod_ips: Some(vec![
                c::PodIP {
                    ip: "10.244.0.5".into(),
                },
                c::PodIP {
                    ip: "fd00::5".into(),
                },
            ]),
            start_time: Some(oa_time()),
            init_container_statuses: None,
            container_statuses: Some(vec![c::ContainerStatus {
                name: "web".into(),
                state: Some(c::ContainerState {
                    running: Some(c::ContainerStateRunning {
                        started_at: Some(oa_time()),
                    }),
                    ..Default::default()
                }),
                last_state: Some(c::ContainerState {
                    terminated: Some(c::ContainerStateTerminated {
                        exit_code: 137,
                        signal: Some(9),
                        reason: s("OOMKilled"),
                        message: s("out of memory"),
                        started_at: Some(oa_time()),
                        finished_at: Some(oa_time()),
                        container_id: s("containerd://abc"),
                    }),
                    ..Default::default()
                }),
                ready: true,
                restart_count: 2,
                image: "nginx:1.27".into(),
                image_id: "docker.io/library/nginx@sha256:00".into(),
                container_id: s("containerd://def"),
                started: Some(true),
                allocated_resources: Some(oa_quantities(&[("cpu", "250m")])),
                resources: Some(c::ResourceRequirements {
                    requests: Some(oa_quantities(&[("cpu", "250m")])),
                    ..Default::default()
                }),
                volume_mounts: Some(vec![c::VolumeMountStatus {
                    name: "data".into(),
                    mount_path: "/data".into(),
                    read_only: Some(true),
                    recursive_read_only: s("Enabled"),
                }]),
                user: Some(c::ContainerUser {
                    linux: Some(c::LinuxContainerUser {
                        uid: 1000,
                        gid: 1000,
                        supplemental_groups: Some(vec![3000]),
                    }),
                }),
                allocated_resources_status: Some(vec![c::ResourceStatus {
                    name: "claim:gpu".into(),
                    resources: Some(vec![c::ResourceHealth {
                        resource_id: "gpu-0".into(),
                        health: s("Healthy"),
                    }]),
                }]),
                stop_signal: s("SIGQUIT"),
            }]),
            qos_class: s("Burstable"),
            ephemeral_container_statuses: None,
            resize: s("InProgress"),
            resource_claim_statuses: Some(vec![c::PodResourceClaimStatus {
                name: "gpu".into(),
                resource_claim_name: s("gpu-claim"),
            }]),
        }),
    };
    assert_same_json(&decode("v1", "Pod", &pod), &expected);
}

#[test]
fn namespace_matches_k8s_openapi() {
    let namespace = core::Namespace {
        metadata: Some(meta::ObjectMeta {
            name: s("demo"),
            labels: string_map(&[("team", "net")]),
            ..Default::default()
        }),
        spec: Some(core::NamespaceSpec {
            finalizers: strings(&["kubernetes"]),
        }),
        status: Some(core::NamespaceStatus {
            phase: s("Terminating"),
            conditions: vec![core::NamespaceCondition {
                r#type: s("NamespaceContentRemaining"),
                status: s("True"),
                last_transition_time: Some(time()),
                reason: s("SomeResourcesRemain"),
                message: s("pods remain"),
            }],
        }),
    };
    use oa::core::v1 as c;
    let expected = c::Namespace {
        metadata: oa_meta::ObjectMeta {
            name: s("demo"),
            labels: Some(string_map(&[("team", "net")])),
            ..Default::default()
        },
        spec: Some(c::NamespaceSpec {
            finalizers: Some(strings(&["kubernetes"])),
        }),
        status: Some(c::NamespaceStatus {
            phase: s("Terminating"),
            conditions: Some(vec![c::NamespaceCondition {
                type_: "NamespaceContentRemaining".into(),
                status: "True".into(),
                last_transition_time: Some(oa_time()),
                reason: s("SomeResourcesRemain"),
                message: s("pods remain"),
            }]),
        }),
    };
    assert_same_json(&decode("v1", "Namespace", &namespace), &expected);
}

#[test]
fn service_with_ports_and_int_or_string_target_ports_matches_k8s_openapi() {
    let service = core::Service {
        metadata: Some(meta_named("web", "default")),
        spec: Some(core::ServiceSpec {
            ports: vec![
                core::ServicePort {
                    name: s("http"),
                    protocol: s("TCP"),
                    app_protocol: s("http"),
                    port: Some(80),
                    target_port: Some(int_or_str("http")),
                    node_port: Some(30080),
                },
                core::ServicePort {
                    name: s("metrics"),
                    protocol: s("TCP"),
                    app_protocol: None,
                    port: Some(9090),
                    target_port: Some(int_or_int(9091)),
                    node_port: None,
                },
            ],
            selector: string_map(&[("app", "web")]),
            cluster_ip: s("10.96.0.10"),
            cluster_ips: strings(&["10.96.0.10", "fd00::10"]),
            r#type: s("LoadBalancer"),
            external_ips: strings(&["198.51.100.7"]),
            session_affinity: s("ClientIP"),
            load_balancer_ip: s("203.0.113.5"),
            load_balancer_source_ranges: strings(&["0.0.0.0/0"]),
            external_name: s("web.example.com"),
            external_traffic_policy: s("Local"),
            health_check_node_port: Some(32000),
            publish_not_ready_addresses: Some(true),
            session_affinity_config: Some(core::SessionAffinityConfig {
                client_ip: Some(core::ClientIpConfig {
                    timeout_seconds: Some(10800),
                }),
            }),
            ip_families: strings(&["IPv4", "IPv6"]),
            ip_family_policy: s("PreferDualStack"),
            allocate_load_balancer_node_ports: Some(false),
            load_balancer_class: s("example.com/lb"),
            internal_traffic_policy: s("Cluster"),
            traffic_distribution: s("PreferClose"),
        }),
        status: Some(core::ServiceStatus {
            load_balancer: Some(core::LoadBalancerStatus {
                ingress: vec![core::LoadBalancerIngress {
                    ip: s("203.0.113.5"),
                    hostname: s("lb.example.com"),
                    ip_mode: s("VIP"),
                    ports: vec![core::PortStatus {
                        port: Some(80),
                        protocol: s("TCP"),
                        error: s("Pending"),
                    }],
                }],
            }),
            conditions: vec![meta::Condition {
                r#type: s("Ready"),
                status: s("True"),
                observed_generation: Some(1),
                last_transition_time: Some(time()),
                reason: s("Allocated"),
                message: s("ok"),
            }],
        }),
    };
    use oa::core::v1 as c;
    let expected = c::Service {
        metadata: oa_meta_named("web", "default"),
        spec: Some(c::ServiceSpec {
            ports: Some(vec![
                c::ServicePort {
                    name: s("http"),
                    protocol: s("TCP"),
                    app_protocol: s("http"),
                    port: 80,
                    target_port: Some(OaIntOrString::String("http".into())),
                    node_port: Some(30080),
                },
                c::ServicePort {
                    name: s("metrics"),
                    protocol: s("TCP"),
                    app_protocol: None,
                    port: 9090,
                    target_port: Some(OaIntOrString::Int(9091)),
                    node_port: None,
                },
            ]),
            selector: Some(string_map(&[("app", "web")])),
            cluster_ip: s("10.96.0.10"),
            cluster_ips: Some(strings(&["10.96.0.10", "fd00::10"])),
            type_: s("LoadBalancer"),
            external_ips: Some(strings(&["198.51.100.7"])),
            session_affinity: s("ClientIP"),
            load_balancer_ip: s("203.0.113.5"),
            load_balancer_source_ranges: Some(strings(&["0.0.0.0/0"])),
            external_name: s("web.example.com"),
            external_traffic_policy: s("Local"),
            health_check_node_port: Some(32000),
            publish_not_ready_addresses: Some(true),
            session_affinity_config: Some(c::SessionAffinityConfig {
                client_ip: Some(c::ClientIPConfig {
                    timeout_seconds: Some(10800),
                }),
            }),
            ip_families: Some(strings(&["IPv4", "IPv6"])),
            ip_family_policy: s("PreferDualStack"),
            allocate_load_balancer_node_ports: Some(false),
            load_balancer_class: s("example.com/lb"),
            internal_traffic_policy: s("Cluster"),
            traffic_distribution: s("PreferClose"),
        }),
        status: Some(c::ServiceStatus {
            load_balancer: Some(c::LoadBalancerStatus {
                ingress: Some(vec![c::LoadBalancerIngress {
                    ip: s("203.0.113.5"),
                    hostname: s("lb.example.com"),
                    ip_mode: s("VIP"),
                    ports: Some(vec![c::PortStatus {
                        port: 80,
                        protocol: "TCP".into(),
                        error: s("Pending"),
                    }]),
                }]),
            }),
            conditions: Some(vec![oa_meta::Condition {
                type_: "Ready".into(),
                status: "True".into(),
                observed_generation: Some(1),
                last_transition_time: oa_time(),
                reason: "Allocated".into(),
                message: "ok".into(),
            }]),
        }),
    };
    assert_same_json(&decode("v1", "Service", &service), &expected);
}

#[test]
fn endpoints_match_k8s_openapi() {
    let endpoints = core::Endpoints {
        metadata: Some(meta_named("web", "default")),
        subsets: vec![core::EndpointSubset {
            addresses: vec![core::EndpointAddress {
                ip: s("10.244.0.5"),
                hostname: s("web-0"),
                node_name: s("node-1"),
                target_ref: Some(object_reference()),
            }],
            not_ready_addresses: vec![core::EndpointAddress {
                ip: s("10.244.0.6"),
                ..Default::default()
            }],
            ports: vec![core::EndpointPort {
                name: s("http"),
                port: Some(80),
                protocol: s("TCP"),
                app_protocol: s("http"),
            }],
        }],
    };
    use oa::core::v1 as c;
    let expected = c::Endpoints {
        metadata: oa_meta_named("web", "default"),
        subsets: Some(vec![c::EndpointSubset {
            addresses: Some(vec![c::EndpointAddress {
                ip: "10.244.0.5".into(),
                hostname: s("web-0"),
                node_name: s("node-1"),
                target_ref: Some(oa_object_reference()),
            }]),
            not_ready_addresses: Some(vec![c::EndpointAddress {
                ip: "10.244.0.6".into(),
                ..Default::default()
            }]),
            ports: Some(vec![c::EndpointPort {
                name: s("http"),
                port: 80,
                protocol: s("TCP"),
                app_protocol: s("http"),
            }]),
        }]),
    };
    assert_same_json(&decode("v1", "Endpoints", &endpoints), &expected);
}

#[test]
fn node_matches_k8s_openapi() {
    let node = core::Node {
        metadata: Some(meta_named("node-1", "")),
        spec: Some(core::NodeSpec {
            pod_cidr: s("10.244.1.0/24"),
            pod_cid_rs: strings(&["10.244.1.0/24", "fd00:1::/64"]),
            provider_id: s("kind://docker/kind/node-1"),
            unschedulable: Some(true),
            taints: vec![core::Taint {
                key: s("node.kubernetes.io/unschedulable"),
                value: s("yes"),
                effect: s("NoSchedule"),
                time_added: Some(time()),
            }],
            config_source: Some(core::NodeConfigSource {
                config_map: Some(core::ConfigMapNodeConfigSource {
                    namespace: s("kube-system"),
                    name: s("kubelet"),
                    uid: s("0b7a7c4e-0000-4000-8000-000000000003"),
                    resource_version: s("7"),
                    kubelet_config_key: s("kubelet"),
                }),
            }),
            external_id: s("i-123"),
        }),
        status: Some(core::NodeStatus {
            capacity: quantities(&[("cpu", "4"), ("pods", "110")]),
            allocatable: quantities(&[("cpu", "3800m")]),
            phase: s("Running"),
            conditions: vec![core::NodeCondition {
                r#type: s("Ready"),
                status: s("True"),
                last_heartbeat_time: Some(time()),
                last_transition_time: Some(time()),
                reason: s("KubeletReady"),
                message: s("kubelet is posting ready status"),
            }],
            addresses: vec![core::NodeAddress {
                r#type: s("InternalIP"),
                address: s("192.0.2.10"),
            }],
            daemon_endpoints: Some(core::NodeDaemonEndpoints {
                kubelet_endpoint: Some(core::DaemonEndpoint { port: Some(10250) }),
            }),
            node_info: Some(core::NodeSystemInfo {
                machine_id: s("m"),
                system_uuid: s("u"),
                boot_id: s("b"),
                kernel_version: s("6.1.0"),
                os_image: s("Debian GNU/Linux 12"),
                container_runtime_version: s("containerd://1.7.0"),
                kubelet_version: s("v1.33.1"),
                kube_proxy_version: s(""),
                operating_system: s("linux"),
                architecture: s("amd64"),
                swap: Some(core::NodeSwapStatus {
                    capacity: Some(1 << 30),
                }),
            }),
            images: vec![core::ContainerImage {
                names: strings(&["nginx:1.27"]),
                size_bytes: Some(70_000_000),
            }],
            volumes_in_use: strings(&["kubernetes.io/csi/vol-1"]),
            volumes_attached: vec![core::AttachedVolume {
                name: s("kubernetes.io/csi/vol-1"),
                device_path: s("/dev/xvdb"),
            }],
            config: Some(core::NodeConfigStatus {
                assigned: None,
                active: None,
                last_known_good: None,
                error: s("none"),
            }),
            runtime_handlers: vec![core::NodeRuntimeHandler {
                name: s("runc"),
                features: Some(core::NodeRuntimeHandlerFeatures {
                    recursive_read_only_mounts: Some(true),
                    user_namespaces: Some(false),
                }),
            }],
            features: Some(core::NodeFeatures {
                supplemental_groups_policy: Some(true),
            }),
            declared_features: Vec::new(),
        }),
    };
    use oa::core::v1 as c;
    let expected = c::Node {
        metadata: oa_meta::ObjectMeta {
            name: s("node-1"),
            ..Default::default()
        },
        spec: Some(c::NodeSpec {
            pod_cidr: s("10.244.1.0/24"),
            pod_cidrs: Some(strings(&["10.244.1.0/24", "fd00:1::/64"])),
            provider_id: s("kind://docker/kind/node-1"),
            unschedulable: Some(true),
            taints: Some(vec![c::Taint {
                key: "node.kubernetes.io/unschedulable".into(),
                value: s("yes"),
                effect: "NoSchedule".into(),
                time_added: Some(oa_time()),
            }]),
            config_source: Some(c::NodeConfigSource {
                config_map: Some(c::ConfigMapNodeConfigSource {
                    namespace: "kube-system".into(),
                    name: "kubelet".into(),
                    uid: s("0b7a7c4e-0000-4000-8000-000000000003"),
                    resource_version: s("7"),
                    kubelet_config_key: "kubelet".into(),
                }),
            }),
            external_id: s("i-123"),
        }),
        status: Some(c::NodeStatus {
            capacity: Some(oa_quantities(&[("cpu", "4"), ("pods", "110")])),
            allocatable: Some(oa_quantities(&[("cpu", "3800m")])),
            phase: s("Running"),
            conditions: Some(vec![c::NodeCondition {
                type_: "Ready".into(),
                status: "True".into(),
                last_heartbeat_time: Some(oa_time()),
                last_transition_time: Some(oa_time()),
                reason: s("KubeletReady"),
                message: s("kubelet is posting ready status"),
            }]),
            addresses: Some(vec![c::NodeAddress {
                type_: "InternalIP".into(),
                address: "192.0.2.10".into(),
            }]),
            daemon_endpoints: Some(c::NodeDaemonEndpoints {
                kubelet_endpoint: Some(c::DaemonEndpoint { port: 10250 }),
            }),
            node_info: Some(c::NodeSystemInfo {
                machine_id: "m".into(),
                system_uuid: "u".into(),
                boot_id: "b".into(),
                kernel_version: "6.1.0".into(),
                os_image: "Debian GNU/Linux 12".into(),
                container_runtime_version: "containerd://1.7.0".into(),
                kubelet_version: "v1.33.1".into(),
                // Go writes the empty string: the field has no `omitempty`.
                kube_proxy_version: "".into(),
                operating_system: "linux".into(),
                architecture: "amd64".into(),
                swap: Some(c::NodeSwapStatus {
                    capacity: Some(1 << 30),
                }),
            }),
            images: Some(vec![c::ContainerImage {
                names: Some(strings(&["nginx:1.27"])),
                size_bytes: Some(70_000_000),
            }]),
            volumes_in_use: Some(strings(&["kubernetes.io/csi/vol-1"])),
            volumes_attached: Some(vec![c::AttachedVolume {
                name: "kubernetes.io/csi/vol-1".into(),
                device_path: "/dev/xvdb".into(),
            }]),
            config: Some(c::NodeConfigStatus {
                error: s("none"),
                ..Default::default()
            }),
            runtime_handlers: Some(vec![c::NodeRuntimeHandler {
                name: s("runc"),
                features: Some(c::NodeRuntimeHandlerFeatures {
                    recursive_read_only_mounts: Some(true),
                    user_namespaces: Some(false),
                }),
            }]),
            features: Some(c::NodeFeatures {
                supplemental_groups_policy: Some(true),
            }),
        }),
    };
    assert_same_json(&decode("v1", "Node", &node), &expected);
}

#[test]
fn config_map_with_binary_data_matches_k8s_openapi() {
    let binary = vec![0u8, 1, 2, 0xfe, 0xff];
    let config_map = core::ConfigMap {
        metadata: Some(meta_named("cm", "default")),
        immutable: Some(false),
        data: string_map(&[("a", "b"), ("multi", "line 1\nline 2")]),
        binary_data: [("blob".to_string(), binary.clone())].into(),
    };
    let expected = oa::core::v1::ConfigMap {
        metadata: oa_meta_named("cm", "default"),
        immutable: Some(false),
        data: Some(string_map(&[("a", "b"), ("multi", "line 1\nline 2")])),
        binary_data: Some([("blob".to_string(), k8s_openapi::ByteString(binary))].into()),
    };
    let decoded = decode("v1", "ConfigMap", &config_map);
    assert_eq!(decoded["binaryData"]["blob"], "AAEC/v8=");
    assert_same_json(&decoded, &expected);
}

#[test]
fn secret_with_binary_data_matches_k8s_openapi() {
    let key = vec![0x30, 0x82, 0x01, 0x0a, 0x00, 0xff];
    let secret = core::Secret {
        metadata: Some(meta_named("tls", "default")),
        immutable: Some(true),
        data: [
            ("tls.key".to_string(), key.clone()),
            ("empty".to_string(), Vec::new()),
        ]
        .into(),
        string_data: string_map(&[("note", "plain")]),
        r#type: s("kubernetes.io/tls"),
    };
    let expected = oa::core::v1::Secret {
        metadata: oa_meta_named("tls", "default"),
        immutable: Some(true),
        data: Some(
            [
                ("tls.key".to_string(), k8s_openapi::ByteString(key)),
                ("empty".to_string(), k8s_openapi::ByteString(Vec::new())),
            ]
            .into(),
        ),
        string_data: Some(string_map(&[("note", "plain")])),
        type_: s("kubernetes.io/tls"),
    };
    let decoded = decode("v1", "Secret", &secret);
    assert_eq!(decoded["data"]["tls.key"], "MIIBCgD/");
    assert_same_json(&decoded, &expected);
}

#[test]
fn service_account_matches_k8s_openapi() {
    let account = core::ServiceAccount {
        metadata: Some(meta_named("builder", "default")),
        secrets: vec![core::ObjectReference {
            name: s("builder-token"),
            ..Default::default()
        }],
        image_pull_secrets: vec![core::LocalObjectReference {
            name: s("registry"),
        }],
        automount_service_account_token: Some(false),
    };
    let expected = oa::core::v1::ServiceAccount {
        metadata: oa_meta_named("builder", "default"),
        secrets: Some(vec![oa::core::v1::ObjectReference {
            name: s("builder-token"),
            ..Default::default()
        }]),
        image_pull_secrets: Some(vec![oa::core::v1::LocalObjectReference {
            name: "registry".into(),
        }]),
        automount_service_account_token: Some(false),
    };
    assert_same_json(&decode("v1", "ServiceAccount", &account), &expected);
}

#[test]
fn core_event_matches_k8s_openapi() {
    let event = core::Event {
        metadata: Some(meta_named("web-0.1", "default")),
        involved_object: Some(object_reference()),
        reason: s("Pulled"),
        message: s("image pulled"),
        source: Some(core::EventSource {
            component: s("kubelet"),
            host: s("node-1"),
        }),
        first_timestamp: Some(time()),
        last_timestamp: Some(time()),
        count: Some(4),
        r#type: s("Normal"),
        event_time: Some(micro_time()),
        series: Some(core::EventSeries {
            count: Some(4),
            last_observed_time: Some(micro_time()),
        }),
        action: s("Pull"),
        related: Some(object_reference()),
        reporting_component: s("kubelet"),
        reporting_instance: s("node-1"),
    };
    use oa::core::v1 as c;
    let expected = c::Event {
        metadata: oa_meta_named("web-0.1", "default"),
        involved_object: oa_object_reference(),
        reason: s("Pulled"),
        message: s("image pulled"),
        source: Some(c::EventSource {
            component: s("kubelet"),
            host: s("node-1"),
        }),
        first_timestamp: Some(oa_time()),
        last_timestamp: Some(oa_time()),
        count: Some(4),
        type_: s("Normal"),
        event_time: Some(oa_micro_time()),
        series: Some(c::EventSeries {
            count: Some(4),
            last_observed_time: Some(oa_micro_time()),
        }),
        action: s("Pull"),
        related: Some(oa_object_reference()),
        reporting_component: s("kubelet"),
        reporting_instance: s("node-1"),
    };
    let decoded = decode("v1", "Event", &event);
    assert_eq!(decoded["eventTime"], "2026-01-02T03:04:05.123456Z");
    assert_eq!(decoded["firstTimestamp"], "2026-01-02T03:04:05Z");
    assert_same_json(&decoded, &expected);
}

#[test]
fn events_k8s_io_event_matches_k8s_openapi() {
    let event = events::Event {
        metadata: Some(meta_named("web-0.2", "default")),
        event_time: Some(micro_time()),
        series: Some(events::EventSeries {
            count: Some(2),
            last_observed_time: Some(micro_time()),
        }),
        reporting_controller: s("example.com/controller"),
        reporting_instance: s("controller-0"),
        action: s("Reconcile"),
        reason: s("Synced"),
        regarding: Some(object_reference()),
        related: Some(object_reference()),
        note: s("synced"),
        r#type: s("Normal"),
        deprecated_source: Some(core::EventSource {
            component: s("controller"),
            host: None,
        }),
        deprecated_first_timestamp: Some(time()),
        deprecated_last_timestamp: Some(time()),
        deprecated_count: Some(2),
    };
    let expected = oa::events::v1::Event {
        metadata: oa_meta_named("web-0.2", "default"),
        event_time: Some(oa_micro_time()),
        series: Some(oa::events::v1::EventSeries {
            count: 2,
            last_observed_time: oa_micro_time(),
        }),
        reporting_controller: s("example.com/controller"),
        reporting_instance: s("controller-0"),
        action: s("Reconcile"),
        reason: s("Synced"),
        regarding: Some(oa_object_reference()),
        related: Some(oa_object_reference()),
        note: s("synced"),
        type_: s("Normal"),
        deprecated_source: Some(oa::core::v1::EventSource {
            component: s("controller"),
            host: None,
        }),
        deprecated_first_timestamp: Some(oa_time()),
        deprecated_last_timestamp: Some(oa_time()),
        deprecated_count: Some(2),
    };
    assert_same_json(&decode("events.k8s.io/v1", "Event", &event), &expected);
}

#[test]
fn ingress_matches_k8s_openapi() {
    let backend = networking::IngressBackend {
        service: Some(networking::IngressServiceBackend {
            name: s("web"),
            port: Some(networking::ServiceBackendPort {
                name: s("http"),
                number: None,
            }),
        }),
        resource: None,
    };
    let ingress = networking::Ingress {
        metadata: Some(meta_named("web", "default")),
        spec: Some(networking::IngressSpec {
            ingress_class_name: s("nginx"),
            default_backend: Some(networking::IngressBackend {
                service: None,
                resource: Some(core::TypedLocalObjectReference {
                    api_group: s("storage.example.com"),
                    kind: s("Bucket"),
                    name: s("static"),
                }),
            }),
            tls: vec![networking::IngressTls {
                hosts: strings(&["web.example.com"]),
                secret_name: s("web-tls"),
            }],
            rules: vec![networking::IngressRule {
                host: s("web.example.com"),
                ingress_rule_value: Some(networking::IngressRuleValue {
                    http: Some(networking::HttpIngressRuleValue {
                        paths: vec![networking::HttpIngressPath {
                            path: s("/"),
                            path_type: s("Prefix"),
                            backend: Some(backend),
                        }],
                    }),
                }),
            }],
        }),
        status: Some(networking::IngressStatus {
            load_balancer: Some(networking::IngressLoadBalancerStatus {
                ingress: vec![networking::IngressLoadBalancerIngress {
                    ip: s("203.0.113.9"),
                    hostname: s("lb.example.com"),
                    ports: vec![networking::IngressPortStatus {
                        port: Some(443),
                        protocol: s("TCP"),
                        error: None,
                    }],
                }],
            }),
        }),
    };
    use oa::networking::v1 as n;
    let expected = n::Ingress {
        metadata: oa_meta_named("web", "default"),
        spec: Some(n::IngressSpec {
            ingress_class_name: s("nginx"),
            default_backend: Some(n::IngressBackend {
                service: None,
                resource: Some(oa::core::v1::TypedLocalObjectReference {
                    api_group: s("storage.example.com"),
                    kind: "Bucket".into(),
                    name: "static".into(),
                }),
            }),
            tls: Some(vec![n::IngressTLS {
                hosts: Some(strings(&["web.example.com"])),
                secret_name: s("web-tls"),
            }]),
            rules: Some(vec![n::IngressRule {
                host: s("web.example.com"),
                http: Some(n::HTTPIngressRuleValue {
                    paths: vec![n::HTTPIngressPath {
                        path: s("/"),
                        path_type: "Prefix".into(),
                        backend: n::IngressBackend {
                            service: Some(n::IngressServiceBackend {
                                name: "web".into(),
                                port: Some(n::ServiceBackendPort {
                                    name: s("http"),
                                    number: None,
                                }),
                            }),
                            resource: None,
                        },
                    }],
                }),
            }]),
        }),
        status: Some(n::IngressStatus {
            load_balancer: Some(n::IngressLoadBalancerStatus {
                ingress: Some(vec![n::IngressLoadBalancerIngress {
                    ip: s("203.0.113.9"),
                    hostname: s("lb.example.com"),
                    ports: Some(vec![n::IngressPortStatus {
                        port: 443,
                        protocol: "TCP".into(),
                        error: None,
                    }]),
                }]),
            }),
        }),
    };
    assert_same_json(
        &decode("networking.k8s.io/v1", "Ingress", &ingress),
        &expected,
    );
}

#[test]
fn network_policy_matches_k8s_openapi() {
    let peer = networking::NetworkPolicyPeer {
        pod_selector: Some(label_selector()),
        namespace_selector: Some(meta::LabelSelector {
            match_labels: string_map(&[("team", "net")]),
            match_expressions: Vec::new(),
        }),
        ip_block: None,
    };
    let policy = networking::NetworkPolicy {
        metadata: Some(meta_named("allow-web", "default")),
        spec: Some(networking::NetworkPolicySpec {
            pod_selector: Some(label_selector()),
            ingress: vec![networking::NetworkPolicyIngressRule {
                ports: vec![
                    networking::NetworkPolicyPort {
                        protocol: s("TCP"),
                        port: Some(int_or_int(80)),
                        end_port: Some(90),
                    },
                    networking::NetworkPolicyPort {
                        protocol: s("UDP"),
                        port: Some(int_or_str("dns")),
                        end_port: None,
                    },
                ],
                from: vec![peer],
            }],
            egress: vec![networking::NetworkPolicyEgressRule {
                ports: Vec::new(),
                to: vec![networking::NetworkPolicyPeer {
                    ip_block: Some(networking::IpBlock {
                        cidr: s("10.0.0.0/8"),
                        except: strings(&["10.1.0.0/16"]),
                    }),
                    ..Default::default()
                }],
            }],
            policy_types: strings(&["Ingress", "Egress"]),
        }),
    };
    use oa::networking::v1 as n;
    let expected = n::NetworkPolicy {
        metadata: oa_meta_named("allow-web", "default"),
        spec: Some(n::NetworkPolicySpec {
            pod_selector: Some(oa_label_selector()),
            ingress: Some(vec![n::NetworkPolicyIngressRule {
                ports: Some(vec![
                    n::NetworkPolicyPort {
                        protocol: s("TCP"),
                        port: Some(OaIntOrString::Int(80)),
                        end_port: Some(90),
                    },
                    n::NetworkPolicyPort {
                        protocol: s("UDP"),
                        port: Some(OaIntOrString::String("dns".into())),
                        end_port: None,
                    },
                ]),
                from: Some(vec![n::NetworkPolicyPeer {
                    pod_selector: Some(oa_label_selector()),
                    namespace_selector: Some(oa_meta::LabelSelector {
                        match_labels: Some(string_map(&[("team", "net")])),
                        match_expressions: None,
                    }),
                    ip_block: None,
                }]),
            }]),
            egress: Some(vec![n::NetworkPolicyEgressRule {
                ports: None,
                to: Some(vec![n::NetworkPolicyPeer {
                    ip_block: Some(n::IPBlock {
                        cidr: "10.0.0.0/8".into(),
                        except: Some(strings(&["10.1.0.0/16"])),
                    }),
                    ..Default::default()
                }]),
            }]),
            policy_types: Some(strings(&["Ingress", "Egress"])),
        }),
    };
    assert_same_json(
        &decode("networking.k8s.io/v1", "NetworkPolicy", &policy),
        &expected,
    );
}

#[test]
fn endpoint_slice_matches_k8s_openapi() {
    let slice = discovery::EndpointSlice {
        metadata: Some(meta_named("web-abc", "default")),
        address_type: s("IPv4"),
        endpoints: vec![discovery::Endpoint {
            addresses: strings(&["10.244.0.5"]),
            conditions: Some(discovery::EndpointConditions {
                ready: Some(true),
                serving: Some(true),
                terminating: Some(false),
            }),
            hostname: s("web-0"),
            target_ref: Some(object_reference()),
            deprecated_topology: string_map(&[("zone", "a")]),
            node_name: s("node-1"),
            zone: s("a"),
            hints: Some(discovery::EndpointHints {
                for_zones: vec![discovery::ForZone { name: s("a") }],
                for_nodes: vec![discovery::ForNode { name: s("node-1") }],
            }),
        }],
        ports: vec![discovery::EndpointPort {
            name: s("http"),
            protocol: s("TCP"),
            port: Some(80),
            app_protocol: s("kubernetes.io/h2c"),
        }],
    };
    use oa::discovery::v1 as d;
    let expected = d::EndpointSlice {
        metadata: oa_meta_named("web-abc", "default"),
        address_type: "IPv4".into(),
        endpoints: vec![d::Endpoint {
            addresses: strings(&["10.244.0.5"]),
            conditions: Some(d::EndpointConditions {
                ready: Some(true),
                serving: Some(true),
                terminating: Some(false),
            }),
            hostname: s("web-0"),
            target_ref: Some(oa_object_reference()),
            deprecated_topology: Some(string_map(&[("zone", "a")])),
            node_name: s("node-1"),
            zone: s("a"),
            hints: Some(d::EndpointHints {
                for_zones: Some(vec![d::ForZone { name: "a".into() }]),
                for_nodes: Some(vec![d::ForNode {
                    name: "node-1".into(),
                }]),
            }),
        }],
        ports: Some(vec![d::EndpointPort {
            name: s("http"),
            protocol: s("TCP"),
            port: Some(80),
            app_protocol: s("kubernetes.io/h2c"),
        }]),
    };
    assert_same_json(
        &decode("discovery.k8s.io/v1", "EndpointSlice", &slice),
        &expected,
    );
}

#[test]
fn lease_with_micro_times_matches_k8s_openapi() {
    let lease = coordination::Lease {
        metadata: Some(meta_named("leader", "kube-system")),
        spec: Some(coordination::LeaseSpec {
            holder_identity: s("adapter-0"),
            lease_duration_seconds: Some(15),
            acquire_time: Some(micro_time()),
            renew_time: Some(meta::MicroTime {
                seconds: Some(SECONDS + 10),
                nanos: Some(999_999_999),
            }),
            lease_transitions: Some(0),
            strategy: s("OldestEmulationVersion"),
            preferred_holder: s("adapter-1"),
        }),
    };
    let expected = oa::coordination::v1::Lease {
        metadata: oa_meta_named("leader", "kube-system"),
        spec: Some(oa::coordination::v1::LeaseSpec {
            holder_identity: s("adapter-0"),
            lease_duration_seconds: Some(15),
            acquire_time: Some(oa_micro_time()),
            renew_time: Some(oa_meta::MicroTime(
                Timestamp::new(SECONDS + 10, 999_999_000).unwrap(),
            )),
            lease_transitions: Some(0),
            strategy: s("OldestEmulationVersion"),
            preferred_holder: s("adapter-1"),
        }),
    };
    let decoded = decode("coordination.k8s.io/v1", "Lease", &lease);
    // Truncated to microseconds, never rounded up into the next second.
    assert_eq!(decoded["spec"]["renewTime"], "2026-01-02T03:04:15.999999Z");
    // A pointer set to zero is still written.
    assert_eq!(decoded["spec"]["leaseTransitions"], 0);
    assert_same_json(&decoded, &expected);
}

fn schema(type_: &str) -> apiext::JsonSchemaProps {
    apiext::JsonSchemaProps {
        r#type: s(type_),
        ..Default::default()
    }
}

fn oa_schema(type_: &str) -> oa_apiext::JSONSchemaProps {
    oa_apiext::JSONSchemaProps {
        type_: s(type_),
        ..Default::default()
    }
}

fn raw_json(value: Value) -> apiext::Json {
    apiext::Json {
        raw: Some(serde_json::to_vec(&value).unwrap()),
    }
}

#[test]
fn custom_resource_definition_with_a_recursive_schema_matches_k8s_openapi() {
    let port_schema = apiext::JsonSchemaProps {
        x_kubernetes_int_or_string: Some(true),
        any_of: vec![schema("integer"), schema("string")],
        ..Default::default()
    };
    let spec_schema = apiext::JsonSchemaProps {
        id: s("spec"),
        schema: s("http://json-schema.org/draft-04/schema#"),
        description: s("the desired state"),
        r#type: s("object"),
        title: s("Spec"),
        required: strings(&["replicas"]),
        properties: [
            (
                "replicas".to_string(),
                apiext::JsonSchemaProps {
                    r#type: s("integer"),
                    format: s("int32"),
                    default: Some(raw_json(json!(1))),
                    minimum: Some(0.0),
                    maximum: Some(100.5),
                    exclusive_maximum: Some(true),
                    multiple_of: Some(0.5),
                    ..Default::default()
                },
            ),
            (
                "mode".to_string(),
                apiext::JsonSchemaProps {
                    r#type: s("string"),
                    r#enum: vec![raw_json(json!("Fast")), raw_json(json!("Slow"))],
                    pattern: s("^[A-Z]"),
                    max_length: Some(16),
                    min_length: Some(1),
                    example: Some(raw_json(json!("Fast"))),
                    x_kubernetes_validations: vec![apiext::ValidationRule {
                        rule: s("self != 'Slow' || oldSelf == 'Slow'"),
                        message: s("cannot slow down"),
                        message_expression: s("'no: ' + self"),
                        reason: s("FieldValueForbidden"),
                        field_path: s(".mode"),
                        optional_old_self: Some(true),
                    }],
                    ..Default::default()
                },
            ),
            (
                "ports".to_string(),
                apiext::JsonSchemaProps {
                    r#type: s("array"),
                    items: Some(Box::new(apiext::JsonSchemaPropsOrArray {
                        schema: Some(Box::new(port_schema.clone())),
                        j_son_schemas: Vec::new(),
                    })),
                    max_items: Some(8),
                    min_items: Some(1),
                    unique_items: Some(true),
                    x_kubernetes_list_type: s("set"),
                    ..Default::default()
                },
            ),
            (
                "tuple".to_string(),
                apiext::JsonSchemaProps {
                    r#type: s("array"),
                    items: Some(Box::new(apiext::JsonSchemaPropsOrArray {
                        schema: None,
                        j_son_schemas: vec![schema("string"), schema("integer")],
                    })),
                    additional_items: Some(Box::new(apiext::JsonSchemaPropsOrBool {
                        allows: Some(false),
                        schema: None,
                    })),
                    ..Default::default()
                },
            ),
            (
                "labels".to_string(),
                apiext::JsonSchemaProps {
                    r#type: s("object"),
                    additional_properties: Some(Box::new(apiext::JsonSchemaPropsOrBool {
                        allows: Some(true),
                        schema: Some(Box::new(schema("string"))),
                    })),
                    max_properties: Some(10),
                    min_properties: Some(0),
                    x_kubernetes_map_type: s("granular"),
                    ..Default::default()
                },
            ),
            (
                "rules".to_string(),
                apiext::JsonSchemaProps {
                    r#type: s("array"),
                    x_kubernetes_list_type: s("map"),
                    x_kubernetes_list_map_keys: strings(&["name"]),
                    items: Some(Box::new(apiext::JsonSchemaPropsOrArray {
                        schema: Some(Box::new(apiext::JsonSchemaProps {
                            r#type: s("object"),
                            x_kubernetes_preserve_unknown_fields: Some(true),
                            x_kubernetes_embedded_resource: Some(true),
                            nullable: Some(true),
                            not: Some(Box::new(schema("null"))),
                            ..Default::default()
                        })),
                        j_son_schemas: Vec::new(),
                    })),
                    ..Default::default()
                },
            ),
        ]
        .into(),
        pattern_properties: [("^x-".to_string(), schema("string"))].into(),
        dependencies: [
            (
                "mode".to_string(),
                apiext::JsonSchemaPropsOrStringArray {
                    schema: None,
                    property: strings(&["replicas"]),
                },
            ),
            (
                "ports".to_string(),
                apiext::JsonSchemaPropsOrStringArray {
                    schema: Some(schema("object")),
                    property: Vec::new(),
                },
            ),
        ]
        .into(),
        definitions: [("port".to_string(), port_schema)].into(),
        external_docs: Some(apiext::ExternalDocumentation {
            description: s("docs"),
            url: s("https://example.com/docs"),
        }),
        all_of: vec![schema("object")],
        one_of: vec![apiext::JsonSchemaProps {
            required: strings(&["replicas"]),
            ..Default::default()
        }],
        r#ref: s("#/definitions/port"),
        exclusive_minimum: Some(true),
        ..Default::default()
    };
    let crd = apiext::CustomResourceDefinition {
        metadata: Some(meta::ObjectMeta {
            name: s("widgets.example.com"),
            ..Default::default()
        }),
        spec: Some(apiext::CustomResourceDefinitionSpec {
            group: s("example.com"),
            names: Some(apiext::CustomResourceDefinitionNames {
                plural: s("widgets"),
                singular: s("widget"),
                short_names: strings(&["wg"]),
                kind: s("Widget"),
                list_kind: s("WidgetList"),
                categories: strings(&["all"]),
            }),
            scope: s("Namespaced"),
            versions: vec![apiext::CustomResourceDefinitionVersion {
                name: s("v1"),
                served: Some(true),
                storage: Some(true),
                deprecated: Some(true),
                deprecation_warning: s("use v2"),
                schema: Some(apiext::CustomResourceValidation {
                    open_apiv3_schema: Some(apiext::JsonSchemaProps {
                        r#type: s("object"),
                        properties: [("spec".to_string(), spec_schema)].into(),
                        ..Default::default()
                    }),
                }),
                subresources: Some(apiext::CustomResourceSubresources {
                    status: Some(apiext::CustomResourceSubresourceStatus {}),
                    scale: Some(apiext::CustomResourceSubresourceScale {
                        spec_replicas_path: s(".spec.replicas"),
                        status_replicas_path: s(".status.replicas"),
                        label_selector_path: s(".status.selector"),
                    }),
                }),
                additional_printer_columns: vec![apiext::CustomResourceColumnDefinition {
                    name: s("Replicas"),
                    r#type: s("integer"),
                    format: s("int32"),
                    description: s("desired replicas"),
                    priority: Some(1),
                    json_path: s(".spec.replicas"),
                }],
                selectable_fields: vec![apiext::SelectableField {
                    json_path: s(".spec.mode"),
                }],
            }],
            conversion: Some(apiext::CustomResourceConversion {
                strategy: s("Webhook"),
                webhook: Some(apiext::WebhookConversion {
                    client_config: Some(apiext::WebhookClientConfig {
                        url: None,
                        service: Some(apiext::ServiceReference {
                            namespace: s("default"),
                            name: s("convert"),
                            path: s("/convert"),
                            port: Some(443),
                        }),
                        ca_bundle: Some(b"-----BEGIN CERTIFICATE-----".to_vec()),
                    }),
                    conversion_review_versions: strings(&["v1"]),
                }),
            }),
            preserve_unknown_fields: Some(true),
        }),
        status: Some(apiext::CustomResourceDefinitionStatus {
            conditions: vec![apiext::CustomResourceDefinitionCondition {
                r#type: s("Established"),
                status: s("True"),
                last_transition_time: Some(time()),
                reason: s("InitialNamesAccepted"),
                message: s("the initial names have been accepted"),
                observed_generation: None,
            }],
            accepted_names: Some(apiext::CustomResourceDefinitionNames {
                plural: s("widgets"),
                kind: s("Widget"),
                ..Default::default()
            }),
            stored_versions: strings(&["v1"]),
            observed_generation: None,
        }),
    };

    let oa_port_schema = oa_apiext::JSONSchemaProps {
        x_kubernetes_int_or_string: Some(true),
        any_of: Some(vec![oa_schema("integer"), oa_schema("string")]),
        ..Default::default()
    };
    let oa_spec_schema = oa_apiext::JSONSchemaProps {
        id: s("spec"),
        schema: s("http://json-schema.org/draft-04/schema#"),
        description: s("the desired state"),
        type_: s("object"),
        title: s("Spec"),
        required: Some(strings(&["replicas"])),
        properties: Some(
            [
                (
                    "replicas".to_string(),
                    oa_apiext::JSONSchemaProps {
                        type_: s("integer"),
                        format: s("int32"),
                        default: Some(oa_apiext::JSON(json!(1))),
                        minimum: Some(0.0),
                        maximum: Some(100.5),
                        exclusive_maximum: Some(true),
                        multiple_of: Some(0.5),
                        ..Default::default()
                    },
                ),
                (
                    "mode".to_string(),
                    oa_apiext::JSONSchemaProps {
                        type_: s("string"),
                        enum_: Some(vec![
                            oa_apiext::JSON(json!("Fast")),
                            oa_apiext::JSON(json!("Slow")),
                        ]),
                        pattern: s("^[A-Z]"),
                        max_length: Some(16),
                        min_length: Some(1),
                        example: Some(oa_apiext::JSON(json!("Fast"))),
                        x_kubernetes_validations: Some(vec![oa_apiext::ValidationRule {
                            rule: "self != 'Slow' || oldSelf == 'Slow'".into(),
                            message: s("cannot slow down"),
                            message_expression: s("'no: ' + self"),
                            reason: s("FieldValueForbidden"),
                            field_path: s(".mode"),
                            optional_old_self: Some(true),
                        }]),
                        ..Default::default()
                    },
                ),
                (
                    "ports".to_string(),
                    oa_apiext::JSONSchemaProps {
                        type_: s("array"),
                        items: Some(oa_apiext::JSONSchemaPropsOrArray::Schema(Box::new(
                            oa_port_schema.clone(),
                        ))),
                        max_items: Some(8),
                        min_items: Some(1),
                        unique_items: Some(true),
                        x_kubernetes_list_type: s("set"),
                        ..Default::default()
                    },
                ),
                (
                    "tuple".to_string(),
                    oa_apiext::JSONSchemaProps {
                        type_: s("array"),
                        items: Some(oa_apiext::JSONSchemaPropsOrArray::Schemas(vec![
                            oa_schema("string"),
                            oa_schema("integer"),
                        ])),
                        additional_items: Some(oa_apiext::JSONSchemaPropsOrBool::Bool(false)),
                        ..Default::default()
                    },
                ),
                (
                    "labels".to_string(),
                    oa_apiext::JSONSchemaProps {
                        type_: s("object"),
                        additional_properties: Some(oa_apiext::JSONSchemaPropsOrBool::Schema(
                            Box::new(oa_schema("string")),
                        )),
                        max_properties: Some(10),
                        min_properties: Some(0),
                        x_kubernetes_map_type: s("granular"),
                        ..Default::default()
                    },
                ),
                (
                    "rules".to_string(),
                    oa_apiext::JSONSchemaProps {
                        type_: s("array"),
                        x_kubernetes_list_type: s("map"),
                        x_kubernetes_list_map_keys: Some(strings(&["name"])),
                        items: Some(oa_apiext::JSONSchemaPropsOrArray::Schema(Box::new(
                            oa_apiext::JSONSchemaProps {
                                type_: s("object"),
                                x_kubernetes_preserve_unknown_fields: Some(true),
                                x_kubernetes_embedded_resource: Some(true),
                                nullable: Some(true),
                                not: Some(Box::new(oa_schema("null"))),
                                ..Default::default()
                            },
                        ))),
                        ..Default::default()
                    },
                ),
            ]
            .into(),
        ),
        pattern_properties: Some([("^x-".to_string(), oa_schema("string"))].into()),
        dependencies: Some(
            [
                (
                    "mode".to_string(),
                    oa_apiext::JSONSchemaPropsOrStringArray::Strings(strings(&["replicas"])),
                ),
                (
                    "ports".to_string(),
                    oa_apiext::JSONSchemaPropsOrStringArray::Schema(Box::new(oa_schema("object"))),
                ),
            ]
            .into(),
        ),
        definitions: Some([("port".to_string(), oa_port_schema)].into()),
        external_docs: Some(oa_apiext::ExternalDocumentation {
            description: s("docs"),
            url: s("https://example.com/docs"),
        }),
        all_of: Some(vec![oa_schema("object")]),
        one_of: Some(vec![oa_apiext::JSONSchemaProps {
            required: Some(strings(&["replicas"])),
            ..Default::default()
        }]),
        ref_path: s("#/definitions/port"),
        exclusive_minimum: Some(true),
        ..Default::default()
    };
    let expected = oa_apiext::CustomResourceDefinition {
        metadata: oa_meta::ObjectMeta {
            name: s("widgets.example.com"),
            ..Default::default()
        },
        spec: oa_apiext::CustomResourceDefinitionSpec {
            group: "example.com".into(),
            names: oa_apiext::CustomResourceDefinitionNames {
                plural: "widgets".into(),
                singular: s("widget"),
                short_names: Some(strings(&["wg"])),
                kind: "Widget".into(),
                list_kind: s("WidgetList"),
                categories: Some(strings(&["all"])),
            },
            scope: "Namespaced".into(),
            versions: vec![oa_apiext::CustomResourceDefinitionVersion {
                name: "v1".into(),
                served: true,
                storage: true,
                deprecated: Some(true),
                deprecation_warning: s("use v2"),
                schema: Some(oa_apiext::CustomResourceValidation {
                    open_api_v3_schema: Some(oa_apiext::JSONSchemaProps {
                        type_: s("object"),
                        properties: Some([("spec".to_string(), oa_spec_schema)].into()),
                        ..Default::default()
                    }),
                }),
                subresources: Some(oa_apiext::CustomResourceSubresources {
                    status: Some(oa_apiext::CustomResourceSubresourceStatus(json!({}))),
                    scale: Some(oa_apiext::CustomResourceSubresourceScale {
                        spec_replicas_path: ".spec.replicas".into(),
                        status_replicas_path: ".status.replicas".into(),
                        label_selector_path: s(".status.selector"),
                    }),
                }),
                additional_printer_columns: Some(vec![oa_apiext::CustomResourceColumnDefinition {
                    name: "Replicas".into(),
                    type_: "integer".into(),
                    format: s("int32"),
                    description: s("desired replicas"),
                    priority: Some(1),
                    json_path: ".spec.replicas".into(),
                }]),
                selectable_fields: Some(vec![oa_apiext::SelectableField {
                    json_path: ".spec.mode".into(),
                }]),
            }],
            conversion: Some(oa_apiext::CustomResourceConversion {
                strategy: "Webhook".into(),
                webhook: Some(oa_apiext::WebhookConversion {
                    client_config: Some(oa_apiext::WebhookClientConfig {
                        url: None,
                        service: Some(oa_apiext::ServiceReference {
                            namespace: "default".into(),
                            name: "convert".into(),
                            path: s("/convert"),
                            port: Some(443),
                        }),
                        ca_bundle: Some(k8s_openapi::ByteString(
                            b"-----BEGIN CERTIFICATE-----".to_vec(),
                        )),
                    }),
                    conversion_review_versions: strings(&["v1"]),
                }),
            }),
            preserve_unknown_fields: Some(true),
        },
        status: Some(oa_apiext::CustomResourceDefinitionStatus {
            conditions: Some(vec![oa_apiext::CustomResourceDefinitionCondition {
                type_: "Established".into(),
                status: "True".into(),
                last_transition_time: Some(oa_time()),
                reason: s("InitialNamesAccepted"),
                message: s("the initial names have been accepted"),
            }]),
            accepted_names: Some(oa_apiext::CustomResourceDefinitionNames {
                plural: "widgets".into(),
                kind: "Widget".into(),
                ..Default::default()
            }),
            stored_versions: Some(strings(&["v1"])),
        }),
    };
    let decoded = decode("apiextensions.k8s.io/v1", "CustomResourceDefinition", &crd);
    let replicas = &decoded["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        ["properties"]["replicas"];
    // Go writes a float64 without fraction as an integer.
    assert_eq!(replicas["minimum"], json!(0));
    assert_same_json(&decoded, &expected);
}

#[test]
fn delete_options_in_any_group_version_match_k8s_openapi() {
    let options = meta::DeleteOptions {
        grace_period_seconds: Some(0),
        preconditions: Some(meta::Preconditions {
            uid: s("0b7a7c4e-0000-4000-8000-000000000001"),
            resource_version: s("42"),
        }),
        orphan_dependents: Some(false),
        propagation_policy: s("Foreground"),
        dry_run: strings(&["All"]),
        ignore_store_read_error_with_cluster_breaking_potential: Some(false),
    };
    let expected = oa_meta::DeleteOptions {
        api_version: s("meta.k8s.io/v1"),
        kind: s("DeleteOptions"),
        grace_period_seconds: Some(0),
        preconditions: Some(oa_meta::Preconditions {
            uid: s("0b7a7c4e-0000-4000-8000-000000000001"),
            resource_version: s("42"),
        }),
        orphan_dependents: Some(false),
        propagation_policy: s("Foreground"),
        dry_run: Some(strings(&["All"])),
        ignore_store_read_error_with_cluster_breaking_potential: Some(false),
    };
    let decoded = decode("meta.k8s.io/v1", "DeleteOptions", &options);
    // Pointers set to zero values are written: gracePeriodSeconds 0 means "now".
    assert_eq!(decoded["gracePeriodSeconds"], 0);
    assert_same_json(&decoded, &expected);
    let core = decode("v1", "DeleteOptions", &options);
    assert_eq!(core["apiVersion"], "v1");
    assert_eq!(core["propagationPolicy"], "Foreground");
}

#[test]
fn token_request_matches_k8s_openapi() {
    let request = authn::TokenRequest {
        metadata: Some(meta_named("builder", "default")),
        spec: Some(authn::TokenRequestSpec {
            audiences: strings(&["https://kubernetes.default.svc"]),
            expiration_seconds: Some(3600),
            bound_object_ref: Some(authn::BoundObjectReference {
                kind: s("Pod"),
                api_version: s("v1"),
                name: s("web-0"),
                u_id: s("0b7a7c4e-0000-4000-8000-000000000001"),
            }),
        }),
        status: Some(authn::TokenRequestStatus {
            token: s("eyJ"),
            expiration_timestamp: Some(time()),
        }),
    };
    use oa::authentication::v1 as a;
    let expected = a::TokenRequest {
        metadata: oa_meta_named("builder", "default"),
        spec: a::TokenRequestSpec {
            audiences: strings(&["https://kubernetes.default.svc"]),
            expiration_seconds: Some(3600),
            bound_object_ref: Some(a::BoundObjectReference {
                kind: s("Pod"),
                api_version: s("v1"),
                name: s("web-0"),
                uid: s("0b7a7c4e-0000-4000-8000-000000000001"),
            }),
        },
        status: Some(a::TokenRequestStatus {
            token: "eyJ".into(),
            expiration_timestamp: oa_time(),
        }),
    };
    assert_same_json(
        &decode("authentication.k8s.io/v1", "TokenRequest", &request),
        &expected,
    );
}

// ---------------------------------------------------------------------------------------
// Go's encoding rules, case by case
// ---------------------------------------------------------------------------------------

fn pod_with(spec: core::PodSpec) -> Value {
    decode(
        "v1",
        "Pod",
        &core::Pod {
            metadata: Some(meta_named("p", "default")),
            spec: Some(spec),
            status: None,
        },
    )
}

#[test]
fn zero_values_follow_omitempty_and_pointer_rules() {
    let spec = core::PodSpec {
        containers: vec![core::Container {
            // Go clients always send value fields; zero ones must vanish under omitempty.
            name: s("c"),
            image: s(""),
            working_dir: s(""),
            stdin: Some(false),
            tty: Some(false),
            ports: vec![core::ContainerPort {
                name: s(""),
                host_port: Some(0),
                container_port: None,
                protocol: s("TCP"),
                host_ip: s(""),
            }],
            ..Default::default()
        }],
        host_network: Some(false),
        restart_policy: s(""),
        // Pointers set to zero values are kept: false and 0 carry meaning here.
        automount_service_account_token: Some(false),
        termination_grace_period_seconds: Some(0),
        enable_service_links: Some(false),
        priority: Some(0),
        ..Default::default()
    };
    let decoded = pod_with(spec);
    assert_eq!(
        decoded["spec"],
        json!({
            "containers": [{
                "name": "c",
                // Unset but not omitempty: written as Go's zero value.
                "ports": [{"containerPort": 0, "protocol": "TCP"}],
            }],
            "automountServiceAccountToken": false,
            "terminationGracePeriodSeconds": 0,
            "enableServiceLinks": false,
            "priority": 0,
        })
    );
}

#[test]
fn unset_required_fields_are_written_as_go_zero_values() {
    let spec = core::PodSpec {
        // `containers` has no omitempty: a nil slice is written as null.
        containers: Vec::new(),
        affinity: Some(core::Affinity {
            node_affinity: Some(core::NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(core::NodeSelector {
                    node_selector_terms: Vec::new(),
                }),
                preferred_during_scheduling_ignored_during_execution: Vec::new(),
            }),
            ..Default::default()
        }),
        readiness_gates: vec![core::PodReadinessGate {
            condition_type: None,
        }],
        ..Default::default()
    };
    let decoded = pod_with(spec);
    assert_eq!(decoded["spec"]["containers"], Value::Null);
    assert_eq!(
        decoded["spec"]["affinity"],
        json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": null
        }}})
    );
    assert_eq!(
        decoded["spec"]["readinessGates"],
        json!([{"conditionType": ""}])
    );
}

#[test]
fn pointers_without_omitempty_are_null_when_unset() {
    let ingress = networking::Ingress {
        metadata: Some(meta_named("i", "default")),
        spec: Some(networking::IngressSpec {
            rules: vec![networking::IngressRule {
                host: None,
                ingress_rule_value: Some(networking::IngressRuleValue {
                    http: Some(networking::HttpIngressRuleValue {
                        paths: vec![networking::HttpIngressPath {
                            path: s("/"),
                            path_type: None,
                            backend: Some(networking::IngressBackend {
                                service: None,
                                resource: Some(core::TypedLocalObjectReference {
                                    api_group: None,
                                    kind: s("Bucket"),
                                    name: s("b"),
                                }),
                            }),
                        }],
                    }),
                }),
            }],
            ..Default::default()
        }),
        status: None,
    };
    let decoded = decode("networking.k8s.io/v1", "Ingress", &ingress);
    assert_eq!(
        decoded["spec"]["rules"][0]["http"]["paths"][0],
        json!({
            "path": "/",
            "pathType": null,
            "backend": {"resource": {"apiGroup": null, "kind": "Bucket", "name": "b"}},
        })
    );
}

#[test]
fn times_are_rfc3339_in_utc_and_the_zero_time_is_null() {
    let at = |seconds: Option<i64>, nanos: Option<i32>| meta::Time { seconds, nanos }.to_json();
    assert_eq!(
        at(Some(SECONDS), Some(NANOS)).unwrap(),
        json!("2026-01-02T03:04:05Z")
    );
    assert_eq!(at(Some(0), Some(0)).unwrap(), json!("1970-01-01T00:00:00Z"));
    assert_eq!(at(Some(-1), None).unwrap(), json!("1969-12-31T23:59:59Z"));
    // Nanoseconds beyond a second carry into the seconds, as Go's time.Unix does.
    assert_eq!(
        at(Some(0), Some(1_500_000_000)).unwrap(),
        json!("1970-01-01T00:00:01Z")
    );
    // Go writes a zero time as an empty message; 0001-01-01 is the zero time too.
    assert_eq!(at(None, None).unwrap(), Value::Null);
    assert_eq!(
        at(Some(GO_ZERO_TIME_UNIX_SECONDS), Some(0)).unwrap(),
        Value::Null
    );
    // Years Go's MarshalJSON refuses.
    let year_10000 = 253_402_300_800;
    assert!(matches!(
        at(Some(year_10000), None),
        Err(ProtobufError::InvalidValue { .. })
    ));
    assert!(at(Some(i64::MAX), None).is_err());

    let micro = |seconds: Option<i64>, nanos: Option<i32>| {
        meta::MicroTime { seconds, nanos }.to_json().unwrap()
    };
    assert_eq!(
        micro(Some(0), Some(7_000)),
        json!("1970-01-01T00:00:00.000007Z")
    );
    assert_eq!(micro(Some(0), None), json!("1970-01-01T00:00:00.000000Z"));
    assert_eq!(micro(None, None), Value::Null);

    let meta = decode(
        "v1",
        "ConfigMap",
        &core::ConfigMap {
            metadata: Some(meta::ObjectMeta {
                name: s("cm"),
                creation_timestamp: Some(meta::Time::default()),
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    assert_eq!(
        meta["metadata"],
        json!({"name": "cm", "creationTimestamp": null})
    );
}

#[test]
fn invalid_values_are_errors_naming_the_field() {
    let bad_time = core::Pod {
        metadata: Some(meta::ObjectMeta {
            managed_fields: vec![
                meta::ManagedFieldsEntry::default(),
                meta::ManagedFieldsEntry {
                    time: Some(meta::Time {
                        seconds: Some(i64::MAX / 2),
                        nanos: None,
                    }),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }),
        ..Default::default()
    };
    let error = decode_request_body(&envelope("v1", "Pod", &bad_time)).unwrap_err();
    assert!(
        matches!(&error, ProtobufError::InvalidValue { path, .. } if path == "metadata.managedFields[1].time"),
        "{error}"
    );
    assert_eq!(error.status_code(), 400);

    let bad_fields = meta::ObjectMeta {
        managed_fields: vec![meta::ManagedFieldsEntry {
            fields_v1: Some(meta::FieldsV1 {
                raw: Some(b"{not json".to_vec()),
            }),
            ..Default::default()
        }],
        ..Default::default()
    };
    let error = decode_request_body(&envelope(
        "v1",
        "Secret",
        &core::Secret {
            metadata: Some(bad_fields),
            ..Default::default()
        },
    ))
    .unwrap_err();
    assert!(
        matches!(&error, ProtobufError::InvalidValue { path, .. } if path == "metadata.managedFields[0].fieldsV1"),
        "{error}"
    );

    let bad_quantity = core::Node {
        status: Some(core::NodeStatus {
            capacity: quantities(&[("cpu", "")]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let error = decode_request_body(&envelope("v1", "Node", &bad_quantity)).unwrap_err();
    assert!(
        matches!(&error, ProtobufError::InvalidValue { path, .. } if path == r#"status.capacity["cpu"]"#),
        "{error}"
    );

    let bad_port = core::Service {
        spec: Some(core::ServiceSpec {
            ports: vec![core::ServicePort {
                port: Some(80),
                target_port: Some(IntOrString {
                    r#type: Some(7),
                    int_val: None,
                    str_val: None,
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let error = decode_request_body(&envelope("v1", "Service", &bad_port)).unwrap_err();
    assert!(
        matches!(&error, ProtobufError::InvalidValue { path, .. } if path == "spec.ports[0].targetPort"),
        "{error}"
    );

    assert!(f64::NAN.to_json().is_err());
    assert!(f64::INFINITY.to_json().is_err());
}

#[test]
fn scalars_have_go_json_forms() {
    assert_eq!(2.0f64.to_json().unwrap(), json!(2));
    assert_eq!((-3.0f64).to_json().unwrap(), json!(-3));
    assert_eq!(0.25f64.to_json().unwrap(), json!(0.25));
    assert_eq!(1e300f64.to_json().unwrap(), json!(1e300));
    assert_eq!(i64::MAX.to_json().unwrap(), json!(i64::MAX));
    assert_eq!(Quantity { string: None }.to_json().unwrap(), json!("0"));
    assert_eq!(quantity("1.5Gi").to_json().unwrap(), json!("1.5Gi"));
    assert_eq!(int_or_int(8080).to_json().unwrap(), json!(8080));
    assert_eq!(int_or_str("http").to_json().unwrap(), json!("http"));
    // Go's zero IntOrString is the int 0, and a missing type means int.
    assert_eq!(IntOrString::default().to_json().unwrap(), json!(0));
    assert_eq!(vec![0xffu8, 0x00].to_json().unwrap(), json!("/wA="));
}

#[test]
fn json_schema_unions_take_their_json_shapes() {
    let or_array = |schema: Option<apiext::JsonSchemaProps>,
                    schemas: Vec<apiext::JsonSchemaProps>| {
        apiext::JsonSchemaPropsOrArray {
            schema: schema.map(Box::new),
            j_son_schemas: schemas,
        }
        .to_json()
        .unwrap()
    };
    assert_eq!(
        or_array(Some(schema("string")), Vec::new()),
        json!({"type": "string"})
    );
    assert_eq!(
        or_array(Some(schema("string")), vec![schema("integer")]),
        json!([{"type": "integer"}])
    );
    assert_eq!(or_array(None, Vec::new()), Value::Null);

    let or_bool = |allows: Option<bool>, schema: Option<apiext::JsonSchemaProps>| {
        apiext::JsonSchemaPropsOrBool {
            allows,
            schema: schema.map(Box::new),
        }
        .to_json()
        .unwrap()
    };
    assert_eq!(or_bool(Some(true), None), json!(true));
    assert_eq!(or_bool(None, None), json!(false));
    assert_eq!(
        or_bool(Some(false), Some(schema("integer"))),
        json!({"type": "integer"})
    );

    let or_strings = apiext::JsonSchemaPropsOrStringArray {
        schema: None,
        property: Vec::new(),
    };
    assert_eq!(or_strings.to_json().unwrap(), Value::Null);

    assert_eq!(apiext::Json { raw: None }.to_json().unwrap(), Value::Null);
    assert_eq!(
        raw_json(json!({"a": [1, "b", null]})).to_json().unwrap(),
        json!({"a": [1, "b", null]})
    );
}

#[test]
fn fields_newer_than_k8s_openapi_have_their_go_names() {
    let spec = core::PodSpec {
        containers: vec![core::Container {
            name: s("c"),
            restart_policy: s("Never"),
            restart_policy_rules: vec![core::ContainerRestartRule {
                action: s("Restart"),
                exit_codes: Some(core::ContainerRestartRuleOnExitCodes {
                    operator: s("In"),
                    values: vec![42, 43],
                }),
            }],
            env: vec![core::EnvVar {
                name: s("F"),
                value: None,
                value_from: Some(core::EnvVarSource {
                    file_key_ref: Some(core::FileKeySelector {
                        volume_name: s("cfg"),
                        path: s("env"),
                        key: s("F"),
                        optional: Some(false),
                    }),
                    ..Default::default()
                }),
            }],
            ..Default::default()
        }],
        volumes: vec![core::Volume {
            name: s("cert"),
            volume_source: Some(core::VolumeSource {
                projected: Some(core::ProjectedVolumeSource {
                    sources: vec![core::VolumeProjection {
                        pod_certificate: Some(core::PodCertificateProjection {
                            signer_name: s("example.com/signer"),
                            key_type: s("ED25519"),
                            max_expiration_seconds: Some(86400),
                            credential_bundle_path: s("bundle.pem"),
                            key_path: None,
                            certificate_chain_path: None,
                            user_annotations: string_map(&[("a", "b")]),
                        }),
                        ..Default::default()
                    }],
                    default_mode: None,
                }),
                ..Default::default()
            }),
        }],
        hostname_override: s("custom-host"),
        workload_ref: Some(core::WorkloadReference {
            name: s("training"),
            pod_group: s("workers"),
            pod_group_replica_key: s("0"),
        }),
        ..Default::default()
    };
    let decoded = pod_with(spec);
    assert_eq!(
        decoded["spec"],
        json!({
            "volumes": [{"name": "cert", "projected": {"sources": [{"podCertificate": {
                "signerName": "example.com/signer",
                "keyType": "ED25519",
                "maxExpirationSeconds": 86400,
                "credentialBundlePath": "bundle.pem",
                "userAnnotations": {"a": "b"},
            }}]}}],
            "containers": [{
                "name": "c",
                "env": [{"name": "F", "valueFrom": {"fileKeyRef": {
                    "volumeName": "cfg", "path": "env", "key": "F", "optional": false,
                }}}],
                "restartPolicy": "Never",
                "restartPolicyRules": [{"action": "Restart", "exitCodes": {
                    "operator": "In", "values": [42, 43],
                }}],
            }],
            "hostnameOverride": "custom-host",
            "workloadRef": {"name": "training", "podGroup": "workers", "podGroupReplicaKey": "0"},
        })
    );

    let status = core::Pod {
        status: Some(core::PodStatus {
            allocated_resources: quantities(&[("cpu", "1")]),
            resources: Some(core::ResourceRequirements {
                requests: quantities(&[("cpu", "1")]),
                ..Default::default()
            }),
            extended_resource_claim_status: Some(core::PodExtendedResourceClaimStatus {
                request_mappings: vec![core::ContainerExtendedResourceRequest {
                    container_name: s("c"),
                    resource_name: s("example.com/gpu"),
                    request_name: s("gpu"),
                }],
                resource_claim_name: s("p-extended"),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        decode("v1", "Pod", &status)["status"],
        json!({
            "extendedResourceClaimStatus": {
                "requestMappings": [{"containerName": "c", "resourceName": "example.com/gpu", "requestName": "gpu"}],
                "resourceClaimName": "p-extended",
            },
            "allocatedResources": {"cpu": "1"},
            "resources": {"requests": {"cpu": "1"}},
        })
    );

    let node = core::Node {
        status: Some(core::NodeStatus {
            declared_features: strings(&["InPlacePodVerticalScaling"]),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        decode("v1", "Node", &node)["status"],
        json!({"declaredFeatures": ["InPlacePodVerticalScaling"]})
    );
}
