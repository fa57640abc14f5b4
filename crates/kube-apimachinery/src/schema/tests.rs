//! Tests of structural-schema enforcement, mostly against Antrea's real CRD manifests.

use std::path::PathBuf;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn crd_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/antrea-crds/v2.7.0")
}

/// All documents of a CRD manifest file.
fn load_crds(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(crd_dir().join(file)).expect("CRD manifest readable");
    serde_saphyr::from_multiple::<Value>(&text).expect("CRD manifest parses")
}

/// The schema of the named version of the (first) CRD in a manifest file.
fn schema_of(file: &str, version: &str) -> StructuralSchema {
    let crds = load_crds(file);
    let crd = crds
        .iter()
        .find(|d| d.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition"))
        .expect("a CRD");
    let versions = crd["spec"]["versions"].as_array().expect("versions");
    let v = versions
        .iter()
        .find(|v| v["name"] == version)
        .expect("version present");
    StructuralSchema::new(&v["schema"]["openAPIV3Schema"]).expect("schema compiles")
}

static ACNP_SCHEMA: std::sync::LazyLock<StructuralSchema> =
    std::sync::LazyLock::new(|| schema_of("clusternetworkpolicy.yaml", "v1beta1"));

fn acnp_schema() -> StructuralSchema {
    ACNP_SCHEMA.clone()
}

fn valid_acnp() -> Value {
    json!({
        "apiVersion": "crd.antrea.io/v1beta1",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": "nsx-p-3f9a1c0d2b7e4a61", "labels": {"app.kubernetes.io/managed-by": "antrea-nsx-adapter-rs"}},
        "spec": {
            "tier": "nsx-application",
            "priority": 12.5,
            "appliedTo": [{"group": "nsx-g-web"}],
            "ingress": [
                {
                    "name": "r-1017-in",
                    "action": "Allow",
                    "from": [{"group": "nsx-g-lb"}],
                    "ports": [{"protocol": "TCP", "port": 8080, "endPort": 8090}],
                    "enableLogging": true,
                    "logLabel": "r-1017"
                },
                {
                    "name": "r-1018-in",
                    "action": "Drop",
                    "from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
                    "protocols": [{"icmp": {"icmpType": 8, "icmpCode": 0}}]
                }
            ],
            "egress": [
                {"name": "r-1019-out", "action": "Allow", "to": [{"fqdn": "*.example.com"}]}
            ]
        },
        "status": {
            "phase": "Realized",
            "observedGeneration": 3,
            "currentNodesRealized": 4,
            "desiredNodesRealized": 4,
            "conditions": [{"type": "Realizable", "status": "True", "lastTransitionTime": "2026-08-20T10:00:00Z"}]
        }
    })
}

fn admit_err(schema: &StructuralSchema, mut obj: Value) -> Vec<String> {
    schema
        .admit(&mut obj)
        .expect_err("object must be rejected")
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn every_antrea_crd_schema_compiles() {
    let mut count = 0;
    for entry in std::fs::read_dir(crd_dir()).expect("crd dir") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        for doc in load_crds(&name) {
            if doc.get("kind").and_then(Value::as_str) != Some("CustomResourceDefinition") {
                continue;
            }
            for version in doc["spec"]["versions"].as_array().expect("versions") {
                let schema = &version["schema"]["openAPIV3Schema"];
                StructuralSchema::new(schema)
                    .unwrap_or_else(|e| panic!("{name} {}: {e}", version["name"]));
                count += 1;
            }
        }
    }
    assert!(count >= 11, "only {count} schemas found");
}

#[test]
fn valid_cluster_network_policy_passes_unchanged() {
    let schema = acnp_schema();
    let mut obj = valid_acnp();
    schema.admit(&mut obj).expect("valid ACNP");
    assert_eq!(obj, valid_acnp());
}

#[test]
fn external_entity_selector_is_pruned_from_applied_to_and_peers() {
    let schema = acnp_schema();
    let mut obj = valid_acnp();
    obj["spec"]["appliedTo"] =
        json!([{"externalEntitySelector": {"matchLabels": {"a": "b"}}, "podSelector": {}}]);
    obj["spec"]["ingress"][0]["from"] = json!([{"externalEntitySelector": {}, "group": "g"}]);
    obj["spec"]["egress"][0]["to"] = json!([{"fqdn": "x.io", "scope": "ClusterSet"}]);
    schema.admit(&mut obj).expect("valid after pruning");
    assert_eq!(obj["spec"]["appliedTo"], json!([{"podSelector": {}}]));
    assert_eq!(obj["spec"]["ingress"][0]["from"], json!([{"group": "g"}]));
    // egress peers have no `scope` in the ACNP schema
    assert_eq!(obj["spec"]["egress"][0]["to"], json!([{"fqdn": "x.io"}]));
}

#[test]
fn unknown_root_fields_are_pruned_but_meta_kept() {
    let schema = acnp_schema();
    let mut obj = valid_acnp();
    obj["extra"] = json!(1);
    obj["metadata"]["unknownMetaField"] = json!("kept for the emulator");
    obj["spec"]["bogus"] = json!({"x": 1});
    schema.admit(&mut obj).expect("valid");
    assert!(obj.get("extra").is_none());
    assert!(obj["spec"].get("bogus").is_none());
    assert_eq!(obj["metadata"]["unknownMetaField"], "kept for the emulator");
    assert_eq!(obj["kind"], "ClusterNetworkPolicy");
}

#[test]
fn non_nullable_nulls_without_default_are_dropped() {
    let schema = acnp_schema();
    let mut obj = valid_acnp();
    obj["spec"]["tier"] = Value::Null;
    schema.admit(&mut obj).expect("valid");
    assert!(obj["spec"].get("tier").is_none());
}

#[test]
fn null_array_items_are_type_errors() {
    let schema = acnp_schema();
    let mut obj = valid_acnp();
    obj["spec"]["ingress"][1]["from"][0]["ipBlock"]["except"] = json!([null]);
    assert_eq!(
        admit_err(&schema, obj),
        vec![
            r#"spec.ingress[1].from[0].ipBlock.except[0]: Invalid value: "null": spec.ingress[1].from[0].ipBlock.except[0] in body must be of type string: "null""#
        ]
    );
}

#[test]
fn ports_protocol_has_no_default_in_v2_7() {
    // Antrea's v2.7.0 schema declares no default for ports[].protocol: the API server
    // stores the rule as written (the Antrea controller treats a missing protocol as TCP).
    let schema = acnp_schema();
    let mut obj = valid_acnp();
    obj["spec"]["ingress"][0]["ports"] = json!([{"port": 80}]);
    schema.admit(&mut obj).expect("valid");
    assert_eq!(obj["spec"]["ingress"][0]["ports"], json!([{"port": 80}]));
}

#[test]
fn defaults_from_a_real_manifest() {
    let schema = schema_of("supportbundlecollection.yaml", "v1alpha1");
    let mut obj = json!({
        "apiVersion": "crd.antrea.io/v1alpha1",
        "kind": "SupportBundleCollection",
        "metadata": {"name": "sbc"},
        "spec": {
            "nodes": {"nodeNames": ["n1"]},
            "fileServer": {"url": "sftp://10.0.0.1:22/upload"},
            "authentication": {"authType": "BasicAuthentication", "authSecret": {"name": "s", "namespace": "ns"}}
        }
    });
    let _ = schema.admit(&mut obj);
    assert_eq!(obj["spec"]["expirationMinutes"], json!(60));
}

fn defaulting_schema() -> StructuralSchema {
    StructuralSchema::new(&json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "default": {},
                "properties": {
                    "replicas": {"type": "integer", "default": 1},
                    "mode": {"type": "string", "default": "auto", "nullable": true},
                    "strict": {"type": "string", "default": "on"},
                    "ports": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "protocol": {"type": "string", "default": "TCP"},
                                "port": {"type": "integer"}
                            }
                        }
                    },
                    "labels": {
                        "type": "object",
                        "additionalProperties": {"type": "string", "default": "x"}
                    },
                    "tags": {"type": "array", "items": {"type": "string", "default": "t"}},
                    "nested": {
                        "type": "object",
                        "default": {"inner": {}},
                        "properties": {
                            "inner": {
                                "type": "object",
                                "properties": {"depth": {"type": "integer", "default": 2}}
                            }
                        }
                    }
                }
            }
        }
    }))
    .expect("schema")
}

#[test]
fn defaults_apply_at_every_depth() {
    let schema = defaulting_schema();
    let mut obj = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"}});
    schema.admit(&mut obj).expect("valid");
    assert_eq!(
        obj["spec"],
        json!({"replicas": 1, "mode": "auto", "strict": "on", "nested": {"inner": {"depth": 2}}})
    );

    let mut obj = json!({
        "spec": {
            "replicas": 3,
            "mode": null,
            "strict": null,
            "ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}],
            "labels": {"a": null, "b": "kept"},
            "tags": [null, "u"]
        }
    });
    schema.admit(&mut obj).expect("valid");
    assert_eq!(obj["spec"]["replicas"], 3);
    // nullable: null stays; non-nullable null with default: defaulted
    assert_eq!(obj["spec"]["mode"], Value::Null);
    assert_eq!(obj["spec"]["strict"], "on");
    assert_eq!(
        obj["spec"]["ports"],
        json!([{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}])
    );
    assert_eq!(obj["spec"]["labels"], json!({"a": "x", "b": "kept"}));
    assert_eq!(obj["spec"]["tags"], json!(["t", "u"]));
}

#[test]
fn priority_below_minimum() {
    let mut obj = valid_acnp();
    obj["spec"]["priority"] = json!(0);
    let schema = acnp_schema();
    let mut copy = obj.clone();
    let errors = schema.admit(&mut copy).expect_err("invalid");
    assert_eq!(
        errors[0].to_string(),
        "spec.priority: Invalid value: 0: spec.priority in body should be greater than or equal to 1"
    );
    assert_eq!(errors[0].kind.reason(), "FieldValueInvalid");
    obj["spec"]["priority"] = json!(10000.5);
    assert_eq!(
        admit_err(&schema, obj),
        vec![
            "spec.priority: Invalid value: 10000.5: spec.priority in body should be less than or equal to 10000"
        ]
    );
}

#[test]
fn priority_of_wrong_type() {
    let mut obj = valid_acnp();
    obj["spec"]["priority"] = json!("high");
    let errors = acnp_schema().admit(&mut obj).expect_err("invalid");
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].to_string(),
        r#"spec.priority: Invalid value: "string": spec.priority in body must be of type number: "string""#
    );
    assert_eq!(errors[0].kind.reason(), "FieldValueTypeInvalid");
}

#[test]
fn missing_required_priority() {
    let mut obj = valid_acnp();
    obj["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("priority");
    let errors = acnp_schema().admit(&mut obj).expect_err("invalid");
    assert_eq!(
        errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec!["spec.priority: Required value"]
    );
    assert_eq!(errors[0].kind.reason(), "FieldValueRequired");
}

#[test]
fn unsupported_action() {
    let mut obj = valid_acnp();
    obj["spec"]["ingress"][0]["action"] = json!("Foo");
    assert_eq!(
        admit_err(&acnp_schema(), obj),
        vec![
            r#"spec.ingress[0].action: Unsupported value: "Foo": supported values: "Allow", "Drop", "Reject", "Pass""#
        ]
    );
}

#[test]
fn unsupported_port_protocol_and_required_action() {
    let mut obj = valid_acnp();
    obj["spec"]["egress"][0] = json!({"name": "r", "ports": [{"port": 1}, {"protocol": "ICMP"}]});
    assert_eq!(
        admit_err(&acnp_schema(), obj),
        vec![
            r#"spec.egress[0].ports[1].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP""#,
            "spec.egress[0].action: Required value",
        ]
    );
}

#[test]
fn int_or_string_port() {
    let schema = acnp_schema();
    let mut obj = valid_acnp();
    obj["spec"]["ingress"][0]["ports"][0]["port"] = json!("http");
    schema.admit(&mut obj).expect("named port is valid");
    obj["spec"]["ingress"][0]["ports"][0]["port"] = json!(true);
    assert_eq!(
        admit_err(&schema, obj),
        vec![
            r#"spec.ingress[0].ports[0].port: Invalid value: "boolean": spec.ingress[0].ports[0].port in body must be of type integer,string: "boolean""#
        ]
    );
}

#[test]
fn log_label_pattern() {
    let mut obj = valid_acnp();
    obj["spec"]["ingress"][0]["logLabel"] = json!("bad label!");
    assert_eq!(
        admit_err(&acnp_schema(), obj),
        vec![
            r#"spec.ingress[0].logLabel: Invalid value: "bad label!": spec.ingress[0].logLabel in body should match '^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$'"#
        ]
    );
}

#[test]
fn cidr_format() {
    let mut obj = valid_acnp();
    obj["spec"]["ingress"][1]["from"][0]["ipBlock"]["cidr"] = json!("10.0.0.0/33");
    assert_eq!(
        admit_err(&acnp_schema(), obj),
        vec![
            r#"spec.ingress[1].from[0].ipBlock.cidr: Invalid value: "10.0.0.0/33": spec.ingress[1].from[0].ipBlock.cidr in body must be of type cidr: "10.0.0.0/33""#
        ]
    );
}

#[test]
fn protocols_one_of() {
    let schema = acnp_schema();
    let mut obj = valid_acnp();
    obj["spec"]["ingress"][1]["protocols"] = json!([{}]);
    assert_eq!(
        admit_err(&schema, obj.clone()),
        vec![
            r#"<nil>: Invalid value: "": "spec.ingress[1].protocols[0]" must validate one and only one schema (oneOf). Found none valid"#,
            "spec.ingress[1].protocols[0].icmp: Required value",
        ]
    );
    obj["spec"]["ingress"][1]["protocols"] = json!([{"icmp": {}, "igmp": {"igmpType": 17}}]);
    assert_eq!(
        admit_err(&schema, obj.clone()),
        vec![
            r#"<nil>: Invalid value: "": "spec.ingress[1].protocols[0]" must validate one and only one schema (oneOf). Found 2 valid alternatives"#,
        ]
    );
    obj["spec"]["ingress"][1]["protocols"] =
        json!([{"igmp": {"igmpType": 18, "groupAddress": "224.0.0.1"}}]);
    assert_eq!(
        admit_err(&schema, obj.clone()),
        vec![
            r#"spec.ingress[1].protocols[0].igmp.igmpType: Unsupported value: 18: supported values: "17""#
        ]
    );
    obj["spec"]["ingress"][1]["protocols"] =
        json!([{"igmp": {"igmpType": 17, "groupAddress": "nope"}}]);
    let errors = admit_err(&schema, obj);
    assert_eq!(
        errors[0],
        r#"<nil>: Invalid value: "": "spec.ingress[1].protocols[0].igmp.groupAddress" must validate one and only one schema (oneOf). Found none valid"#
    );
    assert_eq!(
        errors[1],
        r#"spec.ingress[1].protocols[0].igmp.groupAddress: Invalid value: "nope": spec.ingress[1].protocols[0].igmp.groupAddress in body must be of type ipv4: "nope""#
    );
}

#[test]
fn tier_priority_bounds_and_integer_type() {
    let schema = schema_of("tier.yaml", "v1beta1");
    let tier = |p: Value| json!({"apiVersion": "crd.antrea.io/v1beta1", "kind": "Tier", "metadata": {"name": "t"}, "spec": {"priority": p}});
    let mut ok = tier(json!(10));
    schema.admit(&mut ok).expect("valid");
    // 10.0 is a JSON integer value for go-openapi
    let mut ok = tier(json!(10.0));
    schema.admit(&mut ok).expect("valid");
    assert_eq!(
        admit_err(&schema, tier(json!(300))),
        vec![
            "spec.priority: Invalid value: 300: spec.priority in body should be less than or equal to 255"
        ]
    );
    assert_eq!(
        admit_err(&schema, tier(json!(-1))),
        vec![
            "spec.priority: Invalid value: -1: spec.priority in body should be greater than or equal to 0"
        ]
    );
    assert_eq!(
        admit_err(&schema, tier(json!(1.5))),
        vec![
            r#"spec.priority: Invalid value: "number": spec.priority in body must be of type integer: "number""#
        ]
    );
}

#[test]
fn object_and_array_type_errors() {
    let mut obj = valid_acnp();
    obj["spec"]["appliedTo"] = json!({"group": "g"});
    assert_eq!(
        admit_err(&acnp_schema(), obj),
        vec![
            r#"spec.appliedTo: Invalid value: "object": spec.appliedTo in body must be of type array: "object""#
        ]
    );
    let mut obj = valid_acnp();
    obj["spec"] = json!("x");
    let errors = admit_err(&acnp_schema(), obj);
    assert_eq!(
        errors,
        vec![r#"spec: Invalid value: "string": spec in body must be of type object: "string""#]
    );
}

#[test]
fn match_labels_values_pattern_via_additional_properties() {
    let mut obj = valid_acnp();
    obj["spec"]["appliedTo"] = json!([{"podSelector": {"matchLabels": {"app": "bad value"}}}]);
    assert_eq!(
        admit_err(&acnp_schema(), obj),
        vec![
            r#"spec.appliedTo[0].podSelector.matchLabels.app: Invalid value: "bad value": spec.appliedTo[0].podSelector.matchLabels.app in body should match '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$'"#
        ]
    );
}

#[test]
fn namespaces_min_and_max_properties() {
    let schema = acnp_schema();
    let mut obj = valid_acnp();
    obj["spec"]["ingress"][0]["from"] = json!([{"namespaces": {}}]);
    assert_eq!(
        admit_err(&schema, obj.clone()),
        vec![
            "spec.ingress[0].from[0].namespaces: Invalid value: 0: spec.ingress[0].from[0].namespaces in body should have at least 1 properties"
        ]
    );
    obj["spec"]["ingress"][0]["from"] =
        json!([{"namespaces": {"match": "Self", "sameLabels": ["a"]}}]);
    assert_eq!(
        admit_err(&schema, obj),
        vec!["spec.ingress[0].from[0].namespaces: Too many: 2: must have at most 1 item"]
    );
}

fn synthetic(schema: Value) -> StructuralSchema {
    StructuralSchema::new(&json!({"type": "object", "properties": {"spec": schema}}))
        .expect("schema")
}

fn spec_errors(schema: &StructuralSchema, spec: Value) -> Vec<String> {
    admit_err(schema, json!({"spec": spec}))
}

#[test]
fn string_lengths_and_first_failure_only() {
    let schema =
        synthetic(json!({"type": "string", "minLength": 3, "maxLength": 5, "pattern": "^a"}));
    assert_eq!(
        spec_errors(&schema, json!("bcdefgh")),
        vec!["spec: Too long: may not be more than 5 bytes"]
    );
    assert_eq!(
        spec_errors(&schema, json!("b")),
        vec![r#"spec: Invalid value: "b": spec in body should be at least 3 chars long"#]
    );
    assert_eq!(
        spec_errors(&schema, json!("bcd")),
        vec![r#"spec: Invalid value: "bcd": spec in body should match '^a'"#]
    );
    let mut ok = json!({"spec": "abc"});
    schema.admit(&mut ok).expect("valid");
    // length counts characters, not bytes
    let mut ok = json!({"spec": "aéééé"});
    schema.admit(&mut ok).expect("5 characters");
}

#[test]
fn array_bounds_and_exclusive_numbers() {
    let schema = synthetic(json!({
        "type": "object",
        "properties": {
            "list": {"type": "array", "minItems": 2, "maxItems": 3, "items": {"type": "integer", "exclusiveMinimum": true, "minimum": 0, "exclusiveMaximum": true, "maximum": 10, "multipleOf": 2}},
            "ratio": {"type": "number", "multipleOf": 0.5}
        }
    }));
    assert_eq!(
        spec_errors(&schema, json!({"list": [2]})),
        vec!["spec.list: Invalid value: 1: spec.list in body should have at least 2 items"]
    );
    assert_eq!(
        spec_errors(&schema, json!({"list": [2, 4, 6, 8]})),
        vec!["spec.list: Too many: 4: must have at most 3 items"]
    );
    assert_eq!(
        spec_errors(&schema, json!({"list": [0, 10, 3]})),
        vec![
            "spec.list[0]: Invalid value: 0: spec.list[0] in body should be greater than 0",
            "spec.list[1]: Invalid value: 10: spec.list[1] in body should be less than 10",
            "spec.list[2]: Invalid value: 3: spec.list[2] in body should be a multiple of 2",
        ]
    );
    assert_eq!(
        spec_errors(&schema, json!({"ratio": 0.3})),
        vec!["spec.ratio: Invalid value: 0.3: spec.ratio in body should be a multiple of 0.5"]
    );
}

#[test]
fn any_of_all_of_not() {
    let schema = synthetic(json!({
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}, "c": {"type": "integer"}},
        "anyOf": [{"required": ["a"]}, {"required": ["b"]}],
        "allOf": [{"properties": {"c": {"minimum": 1}}}, {"properties": {"c": {"maximum": 5}}}],
        "not": {"required": ["a", "b"]}
    }));
    let mut ok = json!({"spec": {"a": "x", "c": 3}});
    schema.admit(&mut ok).expect("valid");
    assert_eq!(
        spec_errors(&schema, json!({"c": 3})),
        vec![
            r#"<nil>: Invalid value: "": "spec" must validate at least one schema (anyOf)"#,
            "spec.a: Required value",
        ]
    );
    assert_eq!(
        spec_errors(&schema, json!({"a": "x", "c": 9})),
        vec![
            "spec.c: Invalid value: 9: spec.c in body should be less than or equal to 5",
            r#"<nil>: Invalid value: "": "spec" must validate all the schemas (allOf)"#,
        ]
    );
    assert_eq!(
        spec_errors(&schema, json!({"a": "x", "b": "y", "c": 2})),
        vec![r#"<nil>: Invalid value: "": "spec" must not validate the schema (not)"#]
    );
}

#[test]
fn additional_properties_false_and_nullable() {
    let schema = synthetic(json!({
        "type": "object",
        "nullable": true,
        "additionalProperties": false,
        "properties": {"a": {"type": "string"}}
    }));
    let mut ok = json!({"spec": null});
    schema.admit(&mut ok).expect("nullable");
    assert_eq!(ok, json!({"spec": null}));
    // Structural schemas may not say `additionalProperties: false` (kube rejects such CRDs);
    // if one does, pruning keeps the unknown scalar and validation forbids it, as kube's
    // algorithms would.
    assert_eq!(
        spec_errors(&schema, json!({"a": "x", "b": 1})),
        vec![r#"spec: Invalid value: "b": spec.b in body is a forbidden property"#]
    );
}

#[test]
fn preserve_unknown_fields_keeps_data_but_prunes_known_subtrees() {
    let schema = synthetic(json!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
        "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}}
    }));
    let mut obj = json!({"spec": {"free": {"anything": [1, 2]}, "known": {"a": "x", "b": "gone"}}});
    schema.admit(&mut obj).expect("valid");
    assert_eq!(
        obj,
        json!({"spec": {"free": {"anything": [1, 2]}, "known": {"a": "x"}}})
    );
}

#[test]
fn embedded_resources_keep_meta_and_are_validated() {
    let schema = synthetic(json!({
        "type": "object",
        "properties": {
            "template": {
                "type": "object",
                "x-kubernetes-embedded-resource": true,
                "properties": {"spec": {"type": "object", "properties": {"x": {"type": "string"}}}}
            }
        }
    }));
    let mut obj = json!({"spec": {"template": {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "n", "labels": {"a": "b"}, "bogus": 1},
        "spec": {"x": "y", "z": 1}
    }}});
    schema.admit(&mut obj).expect("valid");
    assert_eq!(
        obj["spec"]["template"],
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n", "labels": {"a": "b"}}, "spec": {"x": "y"}})
    );
    assert_eq!(
        spec_errors(&schema, json!({"template": {"metadata": {"name": "a/b"}}})),
        vec![
            "spec.template.apiVersion: Required value",
            "spec.template.kind: Required value",
            r#"spec.template.metadata.name: Invalid value: "a/b": may not contain '/'"#,
        ]
    );
    assert_eq!(
        spec_errors(
            &schema,
            json!({"template": {"apiVersion": "a/b/c", "kind": "Bad_Kind"}})
        ),
        vec![
            r#"spec.template.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c"#,
            r#"spec.template.kind: Invalid value: "Bad_Kind": may have mixed case, but should otherwise match: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"#,
        ]
    );
}

#[test]
fn list_type_set_and_map_duplicates() {
    let schema = synthetic(json!({
        "type": "object",
        "properties": {
            "set": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "map": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "properties": {"name": {"type": "string"}, "v": {"type": "integer"}}}
            },
            "multi": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["port", "protocol"],
                "items": {"type": "object", "properties": {"port": {"type": "integer"}, "protocol": {"type": "string"}}}
            }
        }
    }));
    assert_eq!(
        spec_errors(&schema, json!({"set": ["a", "b", "a", "a"]})),
        vec![r#"spec.set[2]: Duplicate value: "a""#]
    );
    assert_eq!(
        spec_errors(
            &schema,
            json!({"map": [{"name": "a", "v": 1}, {"name": "a", "v": 2}]})
        ),
        vec![r#"spec.map[1]: Duplicate value: {"name":"a"}"#]
    );
    assert_eq!(
        spec_errors(
            &schema,
            json!({"multi": [{"port": 80, "protocol": "TCP"}, {"port": 80, "protocol": "UDP"}, {"port": 80, "protocol": "TCP"}]})
        ),
        vec![r#"spec.multi[2]: Duplicate value: {"port":80,"protocol":"TCP"}"#]
    );
    let mut ok = json!({"spec": {"set": ["a", "b"], "map": [{"name": "a"}, {"name": "b"}]}});
    schema.admit(&mut ok).expect("unique");
    let errors = StructuralSchema::new(&json!({"type": "array", "x-kubernetes-list-type": "map"}));
    assert!(errors.is_err());
}

#[test]
fn formats_kube_checks_and_ignores() {
    let schema = synthetic(json!({
        "type": "object",
        "properties": {
            "i32": {"type": "integer", "format": "int32"},
            "ip": {"type": "string", "format": "ip"},
            "v4": {"type": "string", "format": "ipv4"},
            "v6": {"type": "string", "format": "ipv6"},
            "when": {"type": "string", "format": "date-time"},
            "day": {"type": "string", "format": "date"},
            "dur": {"type": "string", "format": "duration"},
            "data": {"type": "string", "format": "byte"},
            "id": {"type": "string", "format": "uuid"},
            "host": {"type": "string", "format": "hostname"}
        }
    }));
    let mut ok = json!({"spec": {
        "i32": 99999999999i64, "ip": "not an ip", "v4": "010.0.0.1", "v6": "fe80::1",
        "when": "2026-08-20T10:00:00Z", "day": "2024-02-29", "dur": "1h30m", "data": "aGVsbG8=",
        "id": "123e4567-e89b-12d3-a456-426614174000", "host": "example.com"
    }});
    schema
        .admit(&mut ok)
        .expect("valid formats (int32 and ip are not checked by kube)");
    let errors = spec_errors(
        &schema,
        json!({"v4": "fe80::1", "v6": "1.2.3.4", "when": "2026-08-20 10:00", "day": "2023-02-29", "dur": "soon", "data": "***", "id": "x", "host": "-bad-"}),
    );
    let fields: Vec<&str> = errors
        .iter()
        .map(|e| e.split(':').next().unwrap_or(""))
        .collect();
    assert_eq!(
        fields,
        vec![
            "spec.v4",
            "spec.v6",
            "spec.when",
            "spec.day",
            "spec.dur",
            "spec.data",
            "spec.id",
            "spec.host"
        ]
    );
    assert!(
        errors[2].ends_with(r#"spec.when in body must be of type date-time: "2026-08-20 10:00""#)
    );
}

#[test]
fn enum_integer_values_render_as_json() {
    let schema = synthetic(json!({"type": "integer", "enum": [18, 22, 34]}));
    assert_eq!(
        spec_errors(&schema, json!(1)),
        vec![r#"spec: Unsupported value: 1: supported values: "18", "22", "34""#]
    );
}

#[test]
fn bad_schemas_are_rejected() {
    assert!(StructuralSchema::new(&json!("x")).is_err());
    assert!(StructuralSchema::new(&json!({"type": "widget"})).is_err());
    assert!(StructuralSchema::new(&json!({"type": "string", "pattern": "("})).is_err());
    assert!(StructuralSchema::new(&json!({"type": "object", "properties": []})).is_err());
}

#[test]
fn other_antrea_kinds() {
    let cluster_group = schema_of("clustergroup.yaml", "v1beta1");
    let mut cg = json!({
        "apiVersion": "crd.antrea.io/v1beta1", "kind": "ClusterGroup", "metadata": {"name": "cg"},
        "spec": {"podSelector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]}}
    });
    let before = cg.clone();
    cluster_group.admit(&mut cg).expect("valid ClusterGroup");
    assert_eq!(cg, before);
    let mut bad = before.clone();
    bad["spec"]["podSelector"]["matchExpressions"][0]["operator"] = json!("Equals");
    assert_eq!(
        admit_err(&cluster_group, bad),
        vec![
            r#"spec.podSelector.matchExpressions[0].operator: Unsupported value: "Equals": supported values: "In", "NotIn", "Exists", "DoesNotExist""#
        ]
    );

    let tier = schema_of("tier.yaml", "v1beta1");
    let mut no_spec_priority = json!({"apiVersion": "crd.antrea.io/v1beta1", "kind": "Tier", "metadata": {"name": "t"}, "spec": {"description": "d"}});
    assert_eq!(
        tier.admit(&mut no_spec_priority)
            .expect_err("priority required")
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec!["spec.priority: Required value"]
    );
}

#[test]
fn hex_enum_from_yaml_is_an_integer() {
    // The ACNP manifest writes `enum: [ 0x11 ]`; it must compare equal to 17.
    let schema = acnp_schema();
    let mut obj = valid_acnp();
    obj["spec"]["ingress"][1]["protocols"] = json!([{"igmp": {"igmpType": 17}}]);
    schema.admit(&mut obj).expect("0x11 == 17");
}

/// Random ACNP-shaped objects: some valid, some not, with unknown fields and nulls.
fn arb_acnp() -> impl Strategy<Value = Value> {
    let action = prop_oneof![
        Just(json!("Allow")),
        Just(json!("Drop")),
        Just(json!("Bad")),
        Just(Value::Null)
    ];
    let port = prop_oneof![
        (1i64..70000).prop_map(|p| json!({"port": p})),
        Just(json!({"port": "http", "protocol": "UDP"})),
        Just(json!({"protocol": null, "junk": 1})),
    ];
    let rule = (action, proptest::collection::vec(port, 0..3), any::<bool>()).prop_map(
        |(action, ports, junk)| {
            let mut rule = json!({"action": action, "ports": ports});
            if junk {
                rule["externalEntitySelector"] = json!({});
                rule["from"] = json!([{"externalEntitySelector": {}, "group": "g"}]);
            }
            rule
        },
    );
    (
        prop_oneof![
            Just(json!(0)),
            Just(json!(5.5)),
            Just(json!("x")),
            Just(Value::Null)
        ],
        proptest::collection::vec(rule, 0..3),
        any::<bool>(),
    )
        .prop_map(|(priority, ingress, extra)| {
            let mut obj = json!({
                "apiVersion": "crd.antrea.io/v1beta1",
                "kind": "ClusterNetworkPolicy",
                "metadata": {"name": "p"},
                "spec": {"priority": priority, "ingress": ingress}
            });
            if extra {
                obj["spec"]["unknown"] = json!({"deep": [1]});
                obj["status"] = json!({"phase": "Realized", "bogus": true});
            }
            obj
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn admit_is_idempotent(obj in arb_acnp()) {
        let schema = acnp_schema();
        let mut once = obj.clone();
        let first = schema.admit(&mut once);
        let mut twice = once.clone();
        let second = schema.admit(&mut twice);
        prop_assert_eq!(&once, &twice);
        prop_assert_eq!(first.is_ok(), second.is_ok());
        if let (Err(a), Err(b)) = (first, second) {
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn admit_never_panics_on_arbitrary_json(value in arb_json()) {
        let schema = acnp_schema();
        let mut obj = json!({"spec": value.clone(), "status": value});
        let _ = schema.admit(&mut obj);
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-z]{0,6}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("priority".to_string()),
                    Just("ingress".to_string()),
                    Just("action".to_string()),
                    "[a-z]{1,5}"
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
