//! Tests of server-side apply and managedFields bookkeeping.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

const T1: &str = "2026-11-26T10:00:00Z";
const T2: &str = "2026-11-26T11:00:00Z";
const T3: &str = "2026-11-26T12:00:00Z";

fn crd_rules() -> StructuralSchema {
    StructuralSchema::new(&json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "replicas": {"type": "integer"},
                    "tier": {"type": "string"},
                    "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                    "rules": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {"type": "object", "properties": {"name": {"type": "string"}, "action": {"type": "string"}}}
                    },
                    "atomic": {"type": "array", "items": {"type": "string"}},
                    "selector": {"type": "object", "additionalProperties": {"type": "string"}}
                }
            }
        }
    }))
    .expect("schema")
}

fn widget(spec: Value) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec})
}

fn entries(obj: &Value) -> Vec<Value> {
    obj["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn apply_creates_entry_in_kube_format() {
    let rules = crd_rules();
    let applied = widget(json!({
        "replicas": 2,
        "tags": ["a", "b"],
        "rules": [{"name": "r1", "action": "Allow"}],
        "atomic": ["x"],
        "selector": {"app": "web"}
    }));
    let result = apply(None, &applied, "adapter", false, &rules, T1).expect("no conflicts");
    insta::assert_json_snapshot!(result["metadata"]["managedFields"], @r#"
    [
      {
        "manager": "adapter",
        "operation": "Apply",
        "apiVersion": "example.com/v1",
        "time": "2026-11-26T10:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {
          "f:spec": {
            "f:atomic": {},
            "f:replicas": {},
            "f:rules": {
              "k:{\"name\":\"r1\"}": {
                ".": {},
                "f:action": {},
                "f:name": {}
              }
            },
            "f:selector": {
              "f:app": {}
            },
            "f:tags": {
              "v:\"a\"": {},
              "v:\"b\"": {}
            }
          }
        }
      }
    ]
    "#);
    assert_eq!(result["spec"], applied["spec"]);
    assert_eq!(result["metadata"]["name"], "w");
}

#[test]
fn reapplying_the_same_configuration_changes_nothing() {
    let rules = crd_rules();
    let applied = widget(json!({"replicas": 2, "rules": [{"name": "r1", "action": "Allow"}]}));
    let first = apply(None, &applied, "adapter", false, &rules, T1).expect("create");
    let second = apply(Some(&first), &applied, "adapter", false, &rules, T2).expect("re-apply");
    assert_eq!(first, second);
    assert_eq!(entries(&second)[0]["time"], T1);
}

#[test]
fn apply_time_changes_when_the_object_changes() {
    let rules = crd_rules();
    let first = apply(
        None,
        &widget(json!({"replicas": 1})),
        "adapter",
        false,
        &rules,
        T1,
    )
    .expect("create");
    let second = apply(
        Some(&first),
        &widget(json!({"replicas": 2})),
        "adapter",
        false,
        &rules,
        T2,
    )
    .expect("update");
    assert_eq!(second["spec"]["replicas"], 2);
    assert_eq!(entries(&second)[0]["time"], T2);
}

#[test]
fn fields_no_longer_applied_are_removed() {
    let rules = crd_rules();
    let first = apply(
        None,
        &widget(json!({"replicas": 1, "tier": "app", "rules": [{"name": "a", "action": "Allow"}, {"name": "b", "action": "Drop"}]})),
        "adapter",
        false,
        &rules,
        T1,
    )
    .expect("create");
    let second = apply(
        Some(&first),
        &widget(json!({"replicas": 1, "rules": [{"name": "b", "action": "Drop"}]})),
        "adapter",
        false,
        &rules,
        T2,
    )
    .expect("apply");
    assert_eq!(
        second["spec"],
        json!({"replicas": 1, "rules": [{"name": "b", "action": "Drop"}]})
    );
}

#[test]
fn fields_owned_by_another_manager_survive_removal() {
    let rules = crd_rules();
    let first = apply(
        None,
        &widget(json!({"replicas": 1, "tier": "app"})),
        "a",
        false,
        &rules,
        T1,
    )
    .expect("a");
    // b applies the same tier: shared ownership, no conflict
    let second = apply(
        Some(&first),
        &widget(json!({"tier": "app"})),
        "b",
        false,
        &rules,
        T2,
    )
    .expect("b");
    // a stops sending tier: b still owns it, so it stays
    let third = apply(
        Some(&second),
        &widget(json!({"replicas": 1})),
        "a",
        false,
        &rules,
        T3,
    )
    .expect("a again");
    assert_eq!(third["spec"], json!({"replicas": 1, "tier": "app"}));
    let managers: Vec<(String, Value)> = entries(&third)
        .iter()
        .map(|e| {
            (
                e["manager"].as_str().unwrap_or("").to_string(),
                e["fieldsV1"].clone(),
            )
        })
        .collect();
    assert_eq!(
        managers,
        // a's entry keeps its time (the object did not change), so it sorts first
        vec![
            ("a".to_string(), json!({"f:spec": {"f:replicas": {}}})),
            ("b".to_string(), json!({"f:spec": {"f:tier": {}}})),
        ]
    );
}

#[test]
fn conflict_with_an_update_manager() {
    let rules = BuiltinListRules::new("apps", "Deployment");
    let created = record_update_with(
        None,
        &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 1}}),
        "kubectl-client-side-apply",
        "apps/v1",
        T1,
        &rules,
        WriteOptions::default(),
    );
    let applied = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 3}});
    let err = apply(Some(&created), &applied, "kubectl", false, &rules, T2).expect_err("conflict");
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas"#
    );
    let status = err.status();
    assert_eq!(status["code"], 409);
    assert_eq!(status["reason"], "Conflict");
    assert_eq!(
        status["details"]["causes"][0],
        json!({"reason": "FieldManagerConflict", "message": "conflict with \"kubectl-client-side-apply\" using apps/v1", "field": ".spec.replicas"})
    );

    let forced = apply(Some(&created), &applied, "kubectl", true, &rules, T2).expect("forced");
    assert_eq!(forced["spec"]["replicas"], 3);
    let managed = entries(&forced);
    assert_eq!(
        managed.len(),
        1,
        "the update manager lost its only field: {managed:?}"
    );
    assert_eq!(managed[0]["manager"], "kubectl");
    assert_eq!(managed[0]["operation"], "Apply");
}

#[test]
fn several_conflicts_are_grouped_by_manager() {
    let rules = crd_rules();
    let base = apply(
        None,
        &widget(json!({"replicas": 1, "tier": "a"})),
        "alpha",
        false,
        &rules,
        T1,
    )
    .expect("alpha");
    let base = apply(
        Some(&base),
        &widget(json!({"rules": [{"name": "r", "action": "Allow"}]})),
        "beta",
        false,
        &rules,
        T1,
    )
    .expect("beta");
    let err = apply(
        Some(&base),
        &widget(json!({"replicas": 2, "tier": "b", "rules": [{"name": "r", "action": "Drop"}]})),
        "gamma",
        false,
        &rules,
        T2,
    )
    .expect_err("conflicts");
    assert_eq!(
        err.to_string(),
        "Apply failed with 3 conflicts: conflicts with \"alpha\":\n- .spec.replicas\n- .spec.tier\nconflicts with \"beta\":\n- .spec.rules[name=\"r\"].action"
    );
}

#[test]
fn set_and_map_lists_merge_with_other_owners() {
    let rules = crd_rules();
    let a = apply(
        None,
        &widget(json!({"tags": ["x"], "rules": [{"name": "r1", "action": "Allow"}]})),
        "a",
        false,
        &rules,
        T1,
    )
    .expect("a");
    let b = apply(
        Some(&a),
        &widget(json!({"tags": ["y"], "rules": [{"name": "r2", "action": "Drop"}]})),
        "b",
        false,
        &rules,
        T2,
    )
    .expect("b");
    assert_eq!(b["spec"]["tags"], json!(["x", "y"]));
    assert_eq!(
        b["spec"]["rules"],
        json!([{"name": "r1", "action": "Allow"}, {"name": "r2", "action": "Drop"}])
    );
    // an atomic list is replaced, and owned whole
    let c = apply(
        Some(&b),
        &widget(json!({"atomic": ["1", "2"]})),
        "c",
        false,
        &rules,
        T3,
    )
    .expect("c");
    let d = apply(
        Some(&c),
        &widget(json!({"atomic": ["3"]})),
        "d",
        false,
        &rules,
        T3,
    )
    .expect_err("atomic conflict");
    assert_eq!(d.conflicts[0].path, ".spec.atomic");
}

#[test]
fn map_list_order_follows_structured_merge_diff() {
    let rules = crd_rules();
    let rule = |name: &str| json!({"name": name, "action": "Allow"});
    let live = apply(
        None,
        &widget(json!({"rules": [rule("a"), rule("b"), rule("c")]})),
        "other",
        false,
        &rules,
        T1,
    )
    .expect("live");
    let result = apply(
        Some(&live),
        &widget(json!({"rules": [rule("c"), rule("a")]})),
        "adapter",
        false,
        &rules,
        T2,
    )
    .expect("apply");
    let names: Vec<&str> = result["spec"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, vec!["b", "c", "a"]);
}

#[test]
fn record_update_takes_changed_fields() {
    let rules = crd_rules();
    let applied = apply(
        None,
        &widget(json!({"replicas": 1, "tier": "app"})),
        "adapter",
        false,
        &rules,
        T1,
    )
    .expect("apply");
    let mut edited = applied.clone();
    edited["spec"]["replicas"] = json!(5);
    edited["spec"]["extra"] = json!({"k": "v"});
    let updated = record_update(
        Some(&applied),
        &edited,
        "kubectl-edit",
        "example.com/v1",
        T2,
    );
    let managed = entries(&updated);
    assert_eq!(managed[0]["manager"], "adapter");
    assert_eq!(managed[0]["fieldsV1"], json!({"f:spec": {"f:tier": {}}}));
    assert_eq!(managed[1]["manager"], "kubectl-edit");
    assert_eq!(managed[1]["operation"], "Update");
    assert_eq!(managed[1]["time"], T2);
    assert_eq!(
        managed[1]["fieldsV1"],
        json!({"f:spec": {"f:extra": {".": {}, "f:k": {}}, "f:replicas": {}}})
    );
    // An update that changes nothing leaves managedFields alone.
    let again = record_update(
        Some(&updated),
        &updated,
        "kubectl-edit",
        "example.com/v1",
        T3,
    );
    assert_eq!(again, updated);
}

#[test]
fn record_update_on_create_marks_new_nodes() {
    let created = record_update(
        None,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"app": "x"}}, "data": {"k": "v"}}),
        "kubectl-create",
        "v1",
        T1,
    );
    assert_eq!(
        entries(&created)[0]["fieldsV1"],
        json!({"f:data": {".": {}, "f:k": {}}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}})
    );
}

#[test]
fn removed_fields_leave_every_manager() {
    let rules = crd_rules();
    let applied = apply(
        None,
        &widget(json!({"replicas": 1, "tier": "app"})),
        "adapter",
        false,
        &rules,
        T1,
    )
    .expect("apply");
    let mut edited = applied.clone();
    edited["spec"].as_object_mut().expect("spec").remove("tier");
    let updated = record_update(Some(&applied), &edited, "editor", "example.com/v1", T2);
    let managed = entries(&updated);
    assert_eq!(managed.len(), 1);
    assert_eq!(
        managed[0]["fieldsV1"],
        json!({"f:spec": {"f:replicas": {}}})
    );
}

#[test]
fn builtin_lists_use_kube_keys() {
    let rules = BuiltinListRules::new("", "Pod");
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns", "labels": {"app": "web"}, "finalizers": ["a.io/x"]},
        "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}], "tolerations": [{"key": "k"}]}
    });
    let result = apply(None, &pod, "mgr", false, &rules, T1).expect("apply");
    assert_eq!(
        entries(&result)[0]["fieldsV1"],
        json!({
            "f:metadata": {"f:finalizers": {"v:\"a.io/x\"": {}}, "f:labels": {"f:app": {}}},
            "f:spec": {
                "f:containers": {"k:{\"name\":\"c\"}": {
                    ".": {},
                    "f:image": {},
                    "f:name": {},
                    "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
                }},
                "f:tolerations": {}
            }
        })
    );
}

#[test]
fn fields_v1_round_trip() {
    let fields = json!({
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
        "f:spec": {"f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}}}, "f:tags": {"v:\"a\"": {}}}
    });
    let set = FieldSet::from_fields_v1(&fields).expect("parses");
    assert_eq!(set.to_fields_v1(), fields);
    assert!(set.contains(&[
        PathElement::Field("metadata".into()),
        PathElement::Field("labels".into())
    ]));
    assert!(FieldSet::from_fields_v1(&json!({"x:bad": {}})).is_err());
    let path = [
        PathElement::Field("spec".into()),
        PathElement::Field("ports".into()),
        PathElement::Key(r#"{"port":80,"protocol":"TCP"}"#.into()),
        PathElement::Field("name".into()),
    ];
    assert_eq!(
        path_string(&path),
        r#".spec.ports[port=80,protocol="TCP"].name"#
    );
}

#[test]
fn entries_are_sorted_like_kube() {
    let rules = crd_rules();
    let a = apply(
        None,
        &widget(json!({"replicas": 1})),
        "zeta",
        false,
        &rules,
        T2,
    )
    .expect("zeta");
    let b = apply(
        Some(&a),
        &widget(json!({"tier": "x"})),
        "alpha",
        false,
        &rules,
        T2,
    )
    .expect("alpha");
    let c = record_update(
        Some(&b),
        &{
            let mut v = b.clone();
            v["spec"]["tags"] = json!(["t"]);
            v
        },
        "editor",
        "example.com/v1",
        T1,
    );
    let order: Vec<(String, String)> = entries(&c)
        .iter()
        .map(|e| {
            (
                e["operation"].as_str().unwrap_or("").into(),
                e["manager"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(
        order,
        vec![
            ("Apply".into(), "alpha".into()),
            ("Apply".into(), "zeta".into()),
            ("Update".into(), "editor".into())
        ]
    );
}

fn arb_spec() -> impl Strategy<Value = Value> {
    (
        proptest::option::of(0i64..5),
        proptest::option::of("[a-c]"),
        proptest::collection::btree_set("[a-d]", 0..3),
        proptest::collection::btree_map("[a-c]", "[A-C]", 0..3),
    )
        .prop_map(|(replicas, tier, tags, rules)| {
            let mut spec = json!({});
            if let Some(r) = replicas {
                spec["replicas"] = json!(r);
            }
            if let Some(t) = tier {
                spec["tier"] = json!(t);
            }
            spec["tags"] = json!(tags.into_iter().collect::<Vec<_>>());
            spec["rules"] = Value::Array(
                rules
                    .into_iter()
                    .map(|(name, action)| json!({"name": name, "action": action}))
                    .collect(),
            );
            spec
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn apply_is_idempotent(first in arb_spec(), second in arb_spec()) {
        let rules = crd_rules();
        let live = apply(None, &widget(first), "other", false, &rules, T1).expect("create");
        let config = widget(second);
        let once = apply(Some(&live), &config, "adapter", true, &rules, T2).expect("forced apply");
        let twice = apply(Some(&once), &config, "adapter", false, &rules, T3).expect("re-apply has no conflicts");
        prop_assert_eq!(once, twice);
    }
}
