//! The generated CRDs against Antrea's real v2.7.0 manifests: names, scope, subresources,
//! printer columns, and every schema node with its constraints.

mod support;

use std::collections::BTreeSet;

use antrea_types::crds;
use serde_json::{Value, json};
use support::{crd_schema, real_crd, schema_nodes};

/// Manifest file of each generated CRD.
fn manifest_file(crd_name: &str) -> &'static str {
    match crd_name {
        "clusternetworkpolicies.crd.antrea.io" => "clusternetworkpolicy",
        "networkpolicies.crd.antrea.io" => "networkpolicy",
        "tiers.crd.antrea.io" => "tier",
        "clustergroups.crd.antrea.io" => "clustergroup",
        "groups.crd.antrea.io" => "group",
        "traceflows.crd.antrea.io" => "traceflow",
        "antreacontrollerinfos.crd.antrea.io" => "antreacontrollerinfo",
        "antreaagentinfos.crd.antrea.io" => "antreaagentinfo",
        "supportbundlecollections.crd.antrea.io" => "supportbundlecollection",
        other => panic!("no manifest for {other}"),
    }
}

fn generated() -> Vec<(String, Value)> {
    crds()
        .into_iter()
        .map(|crd| {
            let name = crd.metadata.name.clone().unwrap_or_default();
            (name, serde_json::to_value(crd).expect("CRD serializes"))
        })
        .collect()
}

#[test]
fn every_kind_has_one_generated_crd() {
    let names: BTreeSet<String> = generated().into_iter().map(|(name, _)| name).collect();
    assert_eq!(names.len(), 9);
    for name in &names {
        manifest_file(name);
    }
}

#[test]
fn names_scope_versions_and_subresources_match_the_manifests() {
    for (name, ours) in generated() {
        let real = real_crd(manifest_file(&name));
        assert_eq!(
            ours.pointer("/metadata/name"),
            real.pointer("/metadata/name"),
            "{name}"
        );
        assert_eq!(
            ours.pointer("/spec/group"),
            real.pointer("/spec/group"),
            "{name}"
        );
        assert_eq!(
            ours.pointer("/spec/scope"),
            real.pointer("/spec/scope"),
            "{name}"
        );
        assert_eq!(
            ours.pointer("/spec/names"),
            real.pointer("/spec/names"),
            "{name} names"
        );
        let our_version = ours.pointer("/spec/versions/0").unwrap();
        let real_version = real.pointer("/spec/versions/0").unwrap();
        assert_eq!(
            ours.pointer("/spec/versions")
                .and_then(Value::as_array)
                .map(Vec::len),
            Some(1)
        );
        for field in ["name", "served", "storage"] {
            assert_eq!(
                our_version.get(field),
                real_version.get(field),
                "{name} {field}"
            );
        }
        assert_eq!(
            our_version.pointer("/subresources/status").is_some(),
            real_version.pointer("/subresources/status").is_some(),
            "{name} status subresource"
        );
        assert_eq!(
            our_version
                .get("additionalPrinterColumns")
                .cloned()
                .unwrap_or(json!([])),
            real_version
                .get("additionalPrinterColumns")
                .cloned()
                .unwrap_or(json!([])),
            "{name} printer columns"
        );
    }
}

/// Where our generated schema deliberately differs from the manifest, with the reason.
/// Each entry is (CRD, path, keyword); anything else must match exactly.
const DELIBERATE_SCHEMA_DIFFERENCES: &[(&str, &str, &str)] = &[
    // kube-derive always requires `spec` at the root; the manifests (except Traceflow)
    // do not, but every object we write has a spec.
    ("clusternetworkpolicies.crd.antrea.io", "", "required"),
    ("networkpolicies.crd.antrea.io", "", "required"),
    ("tiers.crd.antrea.io", "", "required"),
    ("clustergroups.crd.antrea.io", "", "required"),
    ("groups.crd.antrea.io", "", "required"),
    ("supportbundlecollections.crd.antrea.io", "", "required"),
    // Status conditions: our types require `type` and `status` (antrea-controller always
    // writes both); the manifests require nothing. Only the status writer is affected.
    (
        "clusternetworkpolicies.crd.antrea.io",
        ".status.conditions[]",
        "required",
    ),
    (
        "networkpolicies.crd.antrea.io",
        ".status.conditions[]",
        "required",
    ),
    (
        "clustergroups.crd.antrea.io",
        ".status.conditions[]",
        "required",
    ),
    ("groups.crd.antrea.io", ".status.conditions[]", "required"),
    (
        "supportbundlecollections.crd.antrea.io",
        ".status.conditions[]",
        "required",
    ),
];

#[test]
fn generated_schemas_match_the_manifests_node_by_node() {
    let mut differences = Vec::new();
    for (name, ours) in generated() {
        let real = real_crd(manifest_file(&name));
        let our_nodes = schema_nodes(&crd_schema(&ours));
        let real_nodes = schema_nodes(&crd_schema(&real));
        for path in real_nodes
            .keys()
            .filter(|path| !our_nodes.contains_key(*path))
        {
            differences.push(format!("{name} {path}: missing from ours"));
        }
        for path in our_nodes
            .keys()
            .filter(|path| !real_nodes.contains_key(*path))
        {
            differences.push(format!("{name} {path}: not in the manifest"));
        }
        for (path, real_constraints) in &real_nodes {
            let Some(our_constraints) = our_nodes.get(path) else {
                continue;
            };
            let keywords: BTreeSet<&String> = real_constraints
                .keys()
                .chain(our_constraints.keys())
                .collect();
            for keyword in keywords {
                let (a, b) = (our_constraints.get(keyword), real_constraints.get(keyword));
                if a != b
                    && !DELIBERATE_SCHEMA_DIFFERENCES.contains(&(
                        name.as_str(),
                        path.as_str(),
                        keyword.as_str(),
                    ))
                {
                    differences.push(format!(
                        "{name} {path} {keyword}: ours {a:?}, manifest {b:?}"
                    ));
                }
            }
        }
    }
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
