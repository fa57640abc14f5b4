//! Policy statistics: the ClusterNetworkPolicy the CCP adapter wrote for an NSX policy, and
//! its counters from `stats.antrea.io/v1alpha1` `antreaclusternetworkpolicystats`.
//!
//! The CCP adapter names its ClusterNetworkPolicies `nsx-p-<id>-<hash(unique id)>`, labels
//! them `app.kubernetes.io/managed-by: antrea-nsx-ccp-adapter` and annotates them with the NSX
//! path and unique id (`adapter_core::ccp::naming`). The policy is found by listing the
//! managed ClusterNetworkPolicies and matching the unique id, else the path.

use adapter_core::ccp::naming::{
    MANAGED_BY, MANAGED_BY_LABEL, NSX_PATH_ANNOTATION, NSX_UNIQUE_ID_ANNOTATION,
};
use antrea_types::ClusterNetworkPolicy;
use antrea_types::stats::AntreaClusterNetworkPolicyStats;
use kube::Client;
use kube::api::{Api, ListParams};

use super::AntreaError;

/// The NSX policy path without the API prefix (`/infra/domains/...`).
fn policy_path_key(path: &str) -> &str {
    path.strip_prefix("/policy/api/v1").unwrap_or(path)
}

/// The name of the ClusterNetworkPolicy translated from the NSX policy with this unique id
/// (if not empty) or path; `None` when the CCP adapter has written none.
pub async fn translated_policy(
    client: &Client,
    policy_path: &str,
    policy_unique_id: &str,
) -> Result<Option<String>, AntreaError> {
    let api: Api<ClusterNetworkPolicy> = Api::all(client.clone());
    let policies = api
        .list_metadata(&ListParams::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY}")))
        .await
        .map_err(|e| AntreaError::api("listing the CCP adapter's ClusterNetworkPolicies", e))?;
    let wanted_path = policy_path_key(policy_path);
    let annotation = |meta: &kube::core::ObjectMeta, key: &str| {
        meta.annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .cloned()
            .unwrap_or_default()
    };
    let by_unique_id = (!policy_unique_id.is_empty())
        .then(|| {
            policies
                .items
                .iter()
                .find(|p| annotation(&p.metadata, NSX_UNIQUE_ID_ANNOTATION) == policy_unique_id)
        })
        .flatten();
    let found = by_unique_id.or_else(|| {
        policies
            .items
            .iter()
            .find(|p| policy_path_key(&annotation(&p.metadata, NSX_PATH_ANNOTATION)) == wanted_path)
    });
    Ok(found.and_then(|p| p.metadata.name.clone()))
}

/// The stats object of ClusterNetworkPolicy `name`; `None` when Antrea has none (the policy
/// is unknown to its aggregator).
pub async fn cluster_policy_stats(
    client: &Client,
    name: &str,
) -> Result<Option<AntreaClusterNetworkPolicyStats>, AntreaError> {
    let api: Api<AntreaClusterNetworkPolicyStats> = Api::all(client.clone());
    api.get_opt(name)
        .await
        .map_err(|e| AntreaError::api(format!("reading antreaclusternetworkpolicystats {name}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_compare_without_the_api_prefix() {
        assert_eq!(
            policy_path_key("/policy/api/v1/infra/domains/default/security-policies/p"),
            "/infra/domains/default/security-policies/p"
        );
        assert_eq!(policy_path_key("/infra/x"), "/infra/x");
    }
}
