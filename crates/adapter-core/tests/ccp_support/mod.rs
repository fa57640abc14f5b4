//! Shared by the integration tests: Antrea's real CRD schemas, a translator for a test
//! cluster, and an independent check of every produced object against the real schemas and
//! the admission port.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::LazyLock;

use adapter_core::ccp::{
    AntreaObject, ClusterIdentity, DesiredState, ObjectSchemas, TranslateOptions, Translator,
};
use antrea_admission::{
    ClusterState, validate_cluster_group, validate_cluster_network_policy, validate_tier_create,
};
use serde_json::Value;

/// `shared/antrea-crds/v2.7.0`, next to the workspace.
pub fn crd_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/antrea-crds/v2.7.0")
}

/// The real CRD documents of the three kinds the adapter writes.
pub static REAL_CRDS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    [
        "tier.yaml",
        "clustergroup.yaml",
        "clusternetworkpolicy.yaml",
    ]
    .iter()
    .flat_map(|file| {
        let path = crd_dir().join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
        serde_saphyr::from_multiple::<Value>(&text)
            .unwrap_or_else(|error| panic!("parsing {}: {error}", path.display()))
    })
    .collect()
});

/// The structural schemas of Antrea's real v2.7.0 manifests.
pub static REAL_SCHEMAS: LazyLock<ObjectSchemas> =
    LazyLock::new(|| ObjectSchemas::from_crds(REAL_CRDS.iter()).expect("the real CRDs load"));

pub fn identity() -> ClusterIdentity {
    ClusterIdentity::new("cluster-a")
}

pub fn translator(options: TranslateOptions) -> Translator {
    Translator::new(identity(), options, REAL_SCHEMAS.clone())
}

/// Checks every desired object on its own, as the cluster would on create: the real CRD
/// schema (nothing pruned or changed) and Antrea's webhooks, with the system tiers, the
/// desired tiers and every desired ClusterGroup in place. Returns the problems.
pub fn independent_problems(desired: &DesiredState) -> Vec<String> {
    let mut problems = Vec::new();
    let mut cluster = ClusterState::with_system_tiers();
    for tier in &desired.tiers {
        let mut others = ClusterState::with_system_tiers();
        for other in &desired.tiers {
            if other.metadata.name != tier.metadata.name {
                others
                    .tiers
                    .insert(other.metadata.name.clone().unwrap(), other.spec.priority);
            }
        }
        if let Err(denial) = validate_tier_create(tier, &others) {
            problems.push(format!("tier {:?}: {denial}", tier.metadata.name));
        }
        cluster
            .tiers
            .insert(tier.metadata.name.clone().unwrap(), tier.spec.priority);
    }
    for group in &desired.cluster_groups {
        cluster
            .cluster_groups
            .insert(group.metadata.name.clone().unwrap(), group.spec.clone());
    }
    for group in &desired.cluster_groups {
        if let Err(denial) = validate_cluster_group(group, &cluster) {
            problems.push(format!("group {:?}: {denial}", group.metadata.name));
        }
    }
    for policy in &desired.cluster_network_policies {
        if let Err(denial) = validate_cluster_network_policy(&policy.spec, &cluster) {
            problems.push(format!("policy {:?}: {denial}", policy.metadata.name));
        }
    }
    for policy in &desired.cluster_network_policies {
        let spec = &policy.spec;
        let rules = spec
            .ingress
            .iter()
            .flatten()
            .chain(spec.egress.iter().flatten());
        let mut names: Vec<&String> = spec
            .applied_to
            .iter()
            .flatten()
            .filter_map(|a| a.group.as_ref())
            .collect();
        for rule in rules {
            names.extend(
                rule.applied_to
                    .iter()
                    .flatten()
                    .filter_map(|a| a.group.as_ref()),
            );
            names.extend(rule.from.iter().flatten().filter_map(|p| p.group.as_ref()));
            names.extend(rule.to.iter().flatten().filter_map(|p| p.group.as_ref()));
        }
        for name in names {
            if !desired
                .cluster_groups
                .iter()
                .any(|g| g.metadata.name.as_ref() == Some(name))
            {
                problems.push(format!(
                    "policy {:?}: group {name} is not desired",
                    policy.metadata.name
                ));
            }
        }
    }
    for object in desired.objects() {
        if let Err(problem) = REAL_SCHEMAS.check(&object) {
            problems.push(format!("{}: {problem}", object.key()));
        }
        // Every child a parent names is in the desired state.
        if let AntreaObject::ClusterGroup(group) = &object {
            for child in group.spec.child_groups.iter().flatten() {
                if !desired
                    .cluster_groups
                    .iter()
                    .any(|g| g.metadata.name.as_ref() == Some(child))
                {
                    problems.push(format!("{}: child {child} is not desired", object.key()));
                }
            }
        }
    }
    problems
}
