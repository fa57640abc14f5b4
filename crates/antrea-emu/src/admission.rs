//! Antrea's admission webhooks as admission plugins of the emulator, wrapping the pure port
//! in `antrea-admission`.
//!
//! The plugins carry the webhook names of Antrea's manifests
//! (`build/charts/antrea/templates/webhooks/{mutating/crdmutator,validating/crdvalidator}.yaml`),
//! so a denial reads exactly as the real one:
//! `admission webhook "acnpvalidator.antrea.io" denied the request: <Antrea's message>`.
//!
//! | Webhook | Resource | Operations |
//! |---|---|---|
//! | `acnpmutator.antrea.io` (mutating) | clusternetworkpolicies | CREATE, UPDATE |
//! | `annpmutator.antrea.io` (mutating) | networkpolicies | CREATE, UPDATE |
//! | `tiervalidator.antrea.io` | tiers | CREATE, UPDATE, DELETE |
//! | `acnpvalidator.antrea.io` | clusternetworkpolicies | CREATE, UPDATE |
//! | `annpvalidator.antrea.io` | networkpolicies | CREATE, UPDATE |
//! | `clustergroupvalidator.antrea.io` | clustergroups | CREATE, UPDATE |
//! | `groupvalidator.antrea.io` | groups | CREATE, UPDATE |
//!
//! The cluster state the webhooks consult (antrea-controller's informer caches) is read from
//! the store at the time of the write, so it never lags. The emulator has no authentication:
//! antrea-controller's own Tier priority resets are recognised through [`ControllerWrites`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use antrea_admission::{AdmissionContext, TierSummary};
use antrea_types::{
    CRD_GROUP, ClusterGroup, ClusterGroupSpec, ClusterNetworkPolicy, Group, GroupSpec,
    NetworkPolicy, Tier,
};
use kube_apimachinery::registry::ResourceType;
use kube_emu::{AdmissionDenial, AdmissionPlugin, AdmissionRequest, ObjectReader, Operation};
use parking_lot::Mutex;
use serde_json::Value;

use crate::Shared;

/// One of antrea-controller's webhooks, as its manifest declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Webhook {
    pub name: &'static str,
    /// Plural of the crd.antrea.io resource.
    pub resource: &'static str,
    /// Path on the `antrea` Service.
    pub path: &'static str,
    pub operations: &'static [Operation],
    pub mutating: bool,
}

const CREATE_UPDATE: &[Operation] = &[Operation::Create, Operation::Update];
const CREATE_UPDATE_DELETE: &[Operation] =
    &[Operation::Create, Operation::Update, Operation::Delete];

pub const ACNP_MUTATOR: Webhook = Webhook {
    name: "acnpmutator.antrea.io",
    resource: "clusternetworkpolicies",
    path: "/mutate/acnp",
    operations: CREATE_UPDATE,
    mutating: true,
};
pub const ANNP_MUTATOR: Webhook = Webhook {
    name: "annpmutator.antrea.io",
    resource: "networkpolicies",
    path: "/mutate/annp",
    operations: CREATE_UPDATE,
    mutating: true,
};
pub const TIER_VALIDATOR: Webhook = Webhook {
    name: "tiervalidator.antrea.io",
    resource: "tiers",
    path: "/validate/tier",
    operations: CREATE_UPDATE_DELETE,
    mutating: false,
};
pub const ACNP_VALIDATOR: Webhook = Webhook {
    name: "acnpvalidator.antrea.io",
    resource: "clusternetworkpolicies",
    path: "/validate/acnp",
    operations: CREATE_UPDATE,
    mutating: false,
};
pub const ANNP_VALIDATOR: Webhook = Webhook {
    name: "annpvalidator.antrea.io",
    resource: "networkpolicies",
    path: "/validate/annp",
    operations: CREATE_UPDATE,
    mutating: false,
};
pub const CLUSTER_GROUP_VALIDATOR: Webhook = Webhook {
    name: "clustergroupvalidator.antrea.io",
    resource: "clustergroups",
    path: "/validate/clustergroup",
    operations: CREATE_UPDATE,
    mutating: false,
};
pub const GROUP_VALIDATOR: Webhook = Webhook {
    name: "groupvalidator.antrea.io",
    resource: "groups",
    path: "/validate/group",
    operations: CREATE_UPDATE,
    mutating: false,
};
pub const TRACEFLOW_VALIDATOR: Webhook = Webhook {
    name: "traceflowvalidator.antrea.io",
    resource: "traceflows",
    path: "/validate/traceflow",
    operations: CREATE_UPDATE,
    mutating: false,
};
pub const SUPPORT_BUNDLE_COLLECTION_VALIDATOR: Webhook = Webhook {
    name: "supportbundlecollectionvalidator.antrea.io",
    resource: "supportbundlecollections",
    path: "/validate/supportbundlecollection",
    operations: CREATE_UPDATE_DELETE,
    mutating: false,
};

/// Every crd.antrea.io webhook antrea-controller serves, mutating ones first (the order the
/// API server calls them in). Traceflow and SupportBundleCollection validation belong to
/// other modules; they are listed for the "controller down" failures.
pub const WEBHOOKS: &[Webhook] = &[
    ACNP_MUTATOR,
    ANNP_MUTATOR,
    TIER_VALIDATOR,
    ACNP_VALIDATOR,
    ANNP_VALIDATOR,
    CLUSTER_GROUP_VALIDATOR,
    GROUP_VALIDATOR,
    TRACEFLOW_VALIDATOR,
    SUPPORT_BUNDLE_COLLECTION_VALIDATOR,
];

/// Username the webhooks see for requests that are not antrea-controller's.
const OTHER_USERNAME: &str = "kubernetes-admin";

/// Writes antrea-controller is about to make under its own identity (Tier priority resets):
/// the Tier validator lets exactly these change a Tier's priority.
#[derive(Debug, Default)]
pub struct ControllerWrites {
    tier_priorities: Mutex<HashSet<(String, i32)>>,
}

impl ControllerWrites {
    pub(crate) fn authorize_tier_priority(&self, tier: &str, priority: i32) {
        self.tier_priorities
            .lock()
            .insert((tier.to_string(), priority));
    }

    pub(crate) fn revoke_tier_priority(&self, tier: &str, priority: i32) {
        self.tier_priorities
            .lock()
            .remove(&(tier.to_string(), priority));
    }

    fn is_tier_priority_authorized(&self, tier: &str, priority: i32) -> bool {
        self.tier_priorities
            .lock()
            .contains(&(tier.to_string(), priority))
    }
}

/// Registers every plugin on the emulator.
pub(crate) fn install(shared: &Arc<Shared>) {
    let emu = &shared.emu;
    emu.add_admission_plugin(Arc::new(PolicyMutator {
        webhook: ACNP_MUTATOR,
    }));
    emu.add_admission_plugin(Arc::new(PolicyMutator {
        webhook: ANNP_MUTATOR,
    }));
    let children = Arc::new(Mutex::new(ChildIndex::default()));
    for webhook in [
        TIER_VALIDATOR,
        ACNP_VALIDATOR,
        ANNP_VALIDATOR,
        CLUSTER_GROUP_VALIDATOR,
        GROUP_VALIDATOR,
    ] {
        emu.add_admission_plugin(Arc::new(Validator {
            webhook,
            controller_writes: shared.controller_writes.clone(),
            children: children.clone(),
        }));
    }
}

fn handles(
    webhook: &Webhook,
    resource: &ResourceType,
    operation: Operation,
    subresource: Option<&str>,
) -> bool {
    resource.group == CRD_GROUP
        && resource.plural == webhook.resource
        && subresource.is_none()
        && webhook.operations.contains(&operation)
}

/// The mutating webhook of ACNPs or ANNPs: default tier and generated rule names.
struct PolicyMutator {
    webhook: Webhook,
}

impl AdmissionPlugin for PolicyMutator {
    fn name(&self) -> &str {
        self.webhook.name
    }

    fn handles(
        &self,
        resource: &ResourceType,
        operation: Operation,
        subresource: Option<&str>,
    ) -> bool {
        handles(&self.webhook, resource, operation, subresource)
    }

    fn mutate(&self, request: &mut AdmissionRequest<'_>) -> Result<(), AdmissionDenial> {
        let Some(object) = request.object.as_deref_mut() else {
            return Ok(());
        };
        let Some(spec) = object.get("spec").cloned() else {
            return Ok(());
        };
        // An object whose spec does not decode is left for schema validation to reject.
        let mutation = if self.webhook == ACNP_MUTATOR {
            match serde_json::from_value(spec) {
                Ok(spec) => antrea_admission::mutate_cluster_network_policy(&spec),
                Err(_) => return Ok(()),
            }
        } else {
            match serde_json::from_value(spec) {
                Ok(spec) => antrea_admission::mutate_network_policy(&spec),
                Err(_) => return Ok(()),
            }
        };
        for replace in &mutation.replacements {
            set_pointer(object, &replace.path, Value::String(replace.value.clone()));
        }
        Ok(())
    }
}

/// Sets the value at a JSON pointer whose parent exists (adding the last key if missing).
fn set_pointer(object: &mut Value, pointer: &str, value: Value) {
    let Some((parent, key)) = pointer.rsplit_once('/') else {
        return;
    };
    match object.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(key.to_string(), value);
        }
        Some(Value::Array(items)) => {
            if let Some(slot) = key.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                *slot = value;
            }
        }
        _ => {}
    }
}

/// A validating webhook.
struct Validator {
    webhook: Webhook,
    controller_writes: Arc<ControllerWrites>,
    /// Shared by the ClusterGroup and Group validators.
    children: Arc<Mutex<ChildIndex>>,
}

fn decode<T: serde::de::DeserializeOwned>(
    object: Option<&Value>,
) -> Result<Option<T>, AdmissionDenial> {
    object
        .map(|object| serde_json::from_value(object.clone()))
        .transpose()
        .map_err(|error| AdmissionDenial::new(error.to_string()))
}

fn denial(denial: antrea_admission::Denial) -> AdmissionDenial {
    AdmissionDenial::new(denial.message)
}

impl AdmissionPlugin for Validator {
    fn name(&self) -> &str {
        self.webhook.name
    }

    fn handles(
        &self,
        resource: &ResourceType,
        operation: Operation,
        subresource: Option<&str>,
    ) -> bool {
        handles(&self.webhook, resource, operation, subresource)
    }

    fn validate(&self, request: &AdmissionRequest<'_>) -> Result<(), AdmissionDenial> {
        let context = StoreContext {
            store: request.store,
            children: &self.children,
        };
        let object = request.object.as_deref();
        match self.webhook.name {
            name if name == ACNP_VALIDATOR.name => {
                if let Some(policy) = decode::<ClusterNetworkPolicy>(object)? {
                    antrea_admission::validate_cluster_network_policy(&policy.spec, &context)
                        .map_err(denial)?;
                }
            }
            name if name == ANNP_VALIDATOR.name => {
                if let Some(policy) = decode::<NetworkPolicy>(object)? {
                    antrea_admission::validate_network_policy(&policy.spec, &context)
                        .map_err(denial)?;
                }
            }
            name if name == CLUSTER_GROUP_VALIDATOR.name => {
                if let Some(group) = decode::<ClusterGroup>(object)? {
                    antrea_admission::validate_cluster_group(&group, &context).map_err(denial)?;
                    self.children.lock().record(
                        "clustergroups",
                        "",
                        request.name,
                        object.and_then(|o| o.get("spec")),
                    );
                }
            }
            name if name == GROUP_VALIDATOR.name => {
                if let Some(group) = decode::<Group>(object)? {
                    antrea_admission::validate_group(&group, &context).map_err(denial)?;
                    self.children.lock().record(
                        "groups",
                        request.namespace,
                        request.name,
                        object.and_then(|o| o.get("spec")),
                    );
                }
            }
            name if name == TIER_VALIDATOR.name => self.validate_tier(request, &context)?,
            _ => {}
        }
        Ok(())
    }
}

impl Validator {
    fn validate_tier(
        &self,
        request: &AdmissionRequest<'_>,
        context: &StoreContext<'_>,
    ) -> Result<(), AdmissionDenial> {
        let new = decode::<Tier>(request.object.as_deref())?;
        let old = decode::<Tier>(request.old_object)?;
        match (request.operation, new, old) {
            (Operation::Create, Some(new), _) => {
                antrea_admission::validate_tier_create(&new, context).map_err(denial)
            }
            (Operation::Update, Some(new), Some(old)) => {
                let name = new.metadata.name.as_deref().unwrap_or_default();
                let username = if self
                    .controller_writes
                    .is_tier_priority_authorized(name, new.spec.priority)
                {
                    context.antrea_controller_username()
                } else {
                    OTHER_USERNAME
                };
                antrea_admission::validate_tier_update(&new, &old, username, context)
                    .map_err(denial)
            }
            (Operation::Delete, _, Some(old)) => {
                antrea_admission::validate_tier_delete(&old, context).map_err(denial)
            }
            _ => Ok(()),
        }
    }
}

/// Which groups list a child, per (namespace, child): a superset of the truth (entries are
/// added when a write is validated and checked against the store when read), so finding a
/// group's parents costs a few reads instead of a list of every group.
#[derive(Debug, Default)]
struct ChildIndex {
    built: HashSet<&'static str>,
    parents: HashMap<(&'static str, String, String), HashSet<String>>,
}

impl ChildIndex {
    fn record(
        &mut self,
        resource: &'static str,
        namespace: &str,
        parent: &str,
        spec: Option<&Value>,
    ) {
        for child in children(spec) {
            self.parents
                .entry((resource, namespace.to_string(), child.to_string()))
                .or_default()
                .insert(parent.to_string());
        }
    }

    /// Indexes every stored group of `resource` the first time it is needed.
    fn build(&mut self, resource: &'static str, store: &dyn ObjectReader) {
        if !self.built.insert(resource) {
            return;
        }
        for object in store.list(CRD_GROUP, resource, None) {
            let namespace = object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let name = object
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            self.record(resource, &namespace, &name, object.get("spec"));
        }
    }
}

fn children(spec: Option<&Value>) -> impl Iterator<Item = &str> {
    spec.and_then(|spec| spec.get("childGroups"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// The cluster state the webhooks consult, read from the store.
struct StoreContext<'a> {
    store: &'a dyn ObjectReader,
    children: &'a Mutex<ChildIndex>,
}

impl StoreContext<'_> {
    fn spec<T: serde::de::DeserializeOwned>(
        &self,
        resource: &str,
        namespace: &str,
        name: &str,
    ) -> Option<T> {
        let object = self.store.get(CRD_GROUP, resource, namespace, name)?;
        serde_json::from_value(object.get("spec")?.clone()).ok()
    }

    fn policies_in_tier(&self, resource: &str, tier: &str) -> usize {
        self.store
            .list(CRD_GROUP, resource, None)
            .iter()
            .filter(|policy| policy.pointer("/spec/tier").and_then(Value::as_str) == Some(tier))
            .count()
    }

    /// Groups of `resource` in `namespace` that list `child` now (pruning stale candidates).
    fn parents(&self, resource: &'static str, namespace: &str, child: &str) -> usize {
        let mut index = self.children.lock();
        index.build(resource, self.store);
        let key = (resource, namespace.to_string(), child.to_string());
        let Some(candidates) = index.parents.get_mut(&key) else {
            return 0;
        };
        candidates.retain(|parent| {
            self.store
                .get(CRD_GROUP, resource, namespace, parent)
                .is_some_and(|object| children(object.get("spec")).any(|c| c == child))
        });
        candidates.len()
    }
}

impl AdmissionContext for StoreContext<'_> {
    fn tiers(&self) -> Vec<TierSummary> {
        self.store
            .list(CRD_GROUP, "tiers", None)
            .iter()
            .filter_map(|tier| {
                Some(TierSummary {
                    name: tier.pointer("/metadata/name")?.as_str()?.to_string(),
                    priority: i32::try_from(tier.pointer("/spec/priority")?.as_i64()?).ok()?,
                })
            })
            .collect()
    }

    fn tier_exists(&self, name: &str) -> bool {
        self.store.get(CRD_GROUP, "tiers", "", name).is_some()
    }

    fn cluster_group(&self, name: &str) -> Option<ClusterGroupSpec> {
        self.spec("clustergroups", "", name)
    }

    fn group(&self, namespace: &str, name: &str) -> Option<GroupSpec> {
        self.spec("groups", namespace, name)
    }

    fn cluster_group_parents(&self, name: &str) -> usize {
        self.parents("clustergroups", "", name)
    }

    fn group_parents(&self, namespace: &str, name: &str) -> usize {
        self.parents("groups", namespace, name)
    }

    fn cluster_network_policies_in_tier(&self, tier: &str) -> usize {
        self.policies_in_tier("clusternetworkpolicies", tier)
    }

    fn network_policies_in_tier(&self, tier: &str) -> usize {
        self.policies_in_tier("networkpolicies", tier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers_set_missing_keys_and_list_items() {
        let mut object = json!({"spec": {"ingress": [{"action": "Allow"}]}});
        set_pointer(&mut object, "/spec/tier", json!("application"));
        set_pointer(
            &mut object,
            "/spec/ingress/0/name",
            json!("ingress-allow-1234567"),
        );
        set_pointer(&mut object, "/spec/egress/0/name", json!("ignored"));
        assert_eq!(
            object,
            json!({"spec": {"tier": "application", "ingress": [{"action": "Allow", "name": "ingress-allow-1234567"}]}})
        );
    }

    #[test]
    fn every_webhook_name_is_antreas() {
        let names: Vec<&str> = WEBHOOKS.iter().map(|w| w.name).collect();
        assert!(names.iter().all(|name| name.ends_with(".antrea.io")));
        assert_eq!(WEBHOOKS.iter().filter(|w| w.mutating).count(), 2);
        assert!(TIER_VALIDATOR.operations.contains(&Operation::Delete));
        assert!(!ACNP_VALIDATOR.operations.contains(&Operation::Delete));
    }

    #[test]
    fn controller_writes_authorize_one_priority() {
        let writes = ControllerWrites::default();
        writes.authorize_tier_priority("application", 250);
        assert!(writes.is_tier_priority_authorized("application", 250));
        assert!(!writes.is_tier_priority_authorized("application", 240));
        writes.revoke_tier_priority("application", 250);
        assert!(!writes.is_tier_priority_authorized("application", 250));
    }
}
