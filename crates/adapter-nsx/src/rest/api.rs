//! Typed NSX REST calls the adapters and the register job make: container clusters and the
//! inventory batch API (MP adapter), cluster control planes and principal identities
//! (registration), and the heartbeat configuration.
//!
//! Inventory records use `nsx-model`'s types; the registration objects, whose fields the
//! adapters only pass through, stay `serde_json::Value`.

use http::Method;
use nsx_model::inventory::{
    ContainerCluster, ContainerInventoryData, ContainerObject, ResourceType,
};
use serde::Serialize;
use serde_json::Value;

use super::{NsxRequest, NsxRestClient, RestError};

/// The cluster control planes of the default site and enforcement point.
pub const CLUSTER_CONTROL_PLANES: &str =
    "/policy/api/v1/infra/sites/default/enforcement-points/default/cluster-control-planes";
/// Principal identities.
pub const PRINCIPAL_IDENTITIES: &str = "/api/v1/trust-management/principal-identities";
/// Container clusters of the inventory.
pub const CONTAINER_CLUSTERS: &str = "/api/v1/fabric/container-clusters";

/// How often a PUT is retried after a stale `_revision` (re-reading the object each time).
const STALE_REVISION_ATTEMPTS: usize = 3;

/// NSX `PrincipalIdentityWithCertificate`: the body of
/// `POST /api/v1/trust-management/principal-identities/with-certificate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrincipalIdentityWithCertificate {
    /// The identity's name: the cluster id (= the certificate's CN).
    pub name: String,
    /// Its node id: also the cluster id, by the integration's convention.
    pub node_id: String,
    /// The PEM certificate.
    pub certificate_pem: String,
    /// Whether objects it creates are protected from other users.
    pub is_protected: bool,
    /// The role, e.g. `enterprise_admin`.
    pub role: String,
    /// The role for paths NSX 4.x requires: `[{"path": "/", "roles": [{"role": ...}]}]`.
    pub roles_for_paths: Value,
}

impl PrincipalIdentityWithCertificate {
    /// The identity the Antrea integration registers for a cluster: enterprise admin on
    /// `/`, protected.
    pub fn for_cluster(cluster_id: &str, certificate_pem: &str) -> Self {
        PrincipalIdentityWithCertificate {
            name: cluster_id.to_owned(),
            node_id: cluster_id.to_owned(),
            certificate_pem: certificate_pem.to_owned(),
            is_protected: true,
            role: "enterprise_admin".to_owned(),
            roles_for_paths: serde_json::json!([
                {"path": "/", "roles": [{"role": "enterprise_admin"}]}
            ]),
        }
    }
}

/// Checks an id placed in a URL path: non-empty, no `/`, `?`, `#`, `%` or control
/// characters (NSX ids never have them).
fn segment(id: &str) -> Result<&str, RestError> {
    if id.is_empty()
        || id.len() > 255
        || id
            .chars()
            .any(|c| matches!(c, '/' | '?' | '#' | '%') || c.is_control())
    {
        return Err(RestError::InvalidRequest(format!(
            "{id:?} cannot be used as an NSX id in a path"
        )));
    }
    Ok(id)
}

fn cluster_control_plane_path(cluster_id: &str) -> Result<String, RestError> {
    Ok(format!("{CLUSTER_CONTROL_PLANES}/{}", segment(cluster_id)?))
}

impl NsxRestClient {
    /// `GET /api/v1/fabric/container-clusters/{id}`; `None` when it does not exist.
    pub async fn get_container_cluster(
        &self,
        cluster_id: &str,
    ) -> Result<Option<ContainerCluster>, RestError> {
        let path = format!("{CONTAINER_CLUSTERS}/{}", segment(cluster_id)?);
        let Some(value) = self.get_optional::<Value>(&path).await? else {
            return Ok(None);
        };
        match ContainerObject::from_json(value) {
            Ok(ContainerObject::ContainerCluster(cluster)) => Ok(Some(cluster)),
            Ok(other) => Err(RestError::InvalidRequest(format!(
                "{path} returned a {}, not a ContainerCluster",
                other.resource_type()
            ))),
            Err(error) => Err(RestError::InvalidRequest(format!(
                "{path} returned an unreadable ContainerCluster: {error}"
            ))),
        }
    }

    /// `POST /api/v1/fabric/container-clusters`: creates the inventory's cluster record.
    pub async fn create_container_cluster(
        &self,
        cluster: &ContainerCluster,
    ) -> Result<ContainerCluster, RestError> {
        let body = ContainerObject::ContainerCluster(cluster.clone());
        let reply = self
            .execute(NsxRequest::new(Method::POST, CONTAINER_CLUSTERS).json(&body)?)
            .await?;
        match ContainerObject::from_json(reply.json(CONTAINER_CLUSTERS)?) {
            Ok(ContainerObject::ContainerCluster(created)) => Ok(created),
            _ => Err(RestError::InvalidRequest(format!(
                "{CONTAINER_CLUSTERS} did not answer with a ContainerCluster"
            ))),
        }
    }

    /// `POST /api/v1/inventory/container/{cluster-id}?action=updates`: one batch of
    /// inventory changes, applied by NSX all or nothing.
    pub async fn post_inventory_updates(
        &self,
        cluster_id: &str,
        updates: &ContainerInventoryData,
    ) -> Result<(), RestError> {
        let path = format!("/api/v1/inventory/container/{}", segment(cluster_id)?);
        self.execute(
            NsxRequest::new(Method::POST, path)
                .query("action", "updates")
                .json(updates)?,
        )
        .await?;
        Ok(())
    }

    /// Every inventory record of `resource_type` NSX holds for the cluster (all pages of
    /// `GET /api/v1/fabric/container-*?container_cluster_id=`).
    pub async fn list_inventory(
        &self,
        resource_type: ResourceType,
        cluster_id: &str,
    ) -> Result<Vec<ContainerObject>, RestError> {
        let path = resource_type.fabric_path();
        let values: Vec<Value> = self
            .list_all(path, &[("container_cluster_id", segment(cluster_id)?)])
            .await?;
        values
            .into_iter()
            .map(|value| {
                ContainerObject::from_json(value).map_err(|error| {
                    RestError::InvalidRequest(format!(
                        "{path} returned an unreadable record: {error}"
                    ))
                })
            })
            .collect()
    }

    /// `GET .../cluster-control-planes/{id}`; `None` when it does not exist.
    pub async fn get_cluster_control_plane(
        &self,
        cluster_id: &str,
    ) -> Result<Option<Value>, RestError> {
        self.get_optional(&cluster_control_plane_path(cluster_id)?)
            .await
    }

    /// Creates or replaces `.../cluster-control-planes/{id}` with `body` (a
    /// `ClusterControlPlane`). The current `_revision` is read first and sent with the PUT;
    /// a stale revision (someone else wrote in between) is re-read and retried.
    pub async fn put_cluster_control_plane(
        &self,
        cluster_id: &str,
        body: &Value,
    ) -> Result<Value, RestError> {
        let path = cluster_control_plane_path(cluster_id)?;
        self.put_with_revision(&path, body).await
    }

    /// `PUT path` with the object's current `_revision` (none when it does not exist yet),
    /// re-reading and retrying on a stale revision.
    pub async fn put_with_revision(&self, path: &str, body: &Value) -> Result<Value, RestError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut body = body.clone();
            let Some(object) = body.as_object_mut() else {
                return Err(RestError::InvalidRequest(format!(
                    "the body of PUT {path} must be a JSON object"
                )));
            };
            object.remove("_revision");
            if let Some(current) = self.get_optional::<Value>(path).await?
                && let Some(revision) = current.get("_revision")
            {
                object.insert("_revision".to_owned(), revision.clone());
            }
            match self
                .execute(NsxRequest::new(Method::PUT, path).json(&body)?)
                .await
            {
                Ok(reply) => return reply.json(path),
                Err(error) if error.is_stale_revision() && attempt < STALE_REVISION_ATTEMPTS => {
                    tracing::info!(path, "stale _revision; reading the object again");
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// `DELETE .../cluster-control-planes/{id}?cascade=`: deregisters the cluster
    /// (`cascade` also removes it from spans and scopes). Sends `X-Allow-Overwrite` when
    /// `allow_overwrite`, as needed for an object a protected identity created.
    pub async fn delete_cluster_control_plane(
        &self,
        cluster_id: &str,
        cascade: bool,
        allow_overwrite: bool,
    ) -> Result<(), RestError> {
        let mut request = NsxRequest::new(Method::DELETE, cluster_control_plane_path(cluster_id)?)
            .query("cascade", cascade.to_string());
        if allow_overwrite {
            request = request.allow_overwrite();
        }
        self.execute(request).await?;
        Ok(())
    }

    /// `GET .../cluster-control-planes/{id}/heartbeat-config` (`AntreaHeartbeatConfig`).
    pub async fn get_heartbeat_config(&self, cluster_id: &str) -> Result<Value, RestError> {
        self.get_json(&format!(
            "{}/heartbeat-config",
            cluster_control_plane_path(cluster_id)?
        ))
        .await
    }

    /// `POST .../principal-identities/with-certificate`: registers an identity with its
    /// certificate; answers the `PrincipalIdentity` (with `id` and `certificate_id`).
    pub async fn create_principal_identity(
        &self,
        identity: &PrincipalIdentityWithCertificate,
    ) -> Result<Value, RestError> {
        let path = format!("{PRINCIPAL_IDENTITIES}/with-certificate");
        self.execute(NsxRequest::new(Method::POST, &path).json(identity)?)
            .await?
            .json(&path)
    }

    /// Every principal identity (`PrincipalIdentityList`, all pages).
    pub async fn list_principal_identities(&self) -> Result<Vec<Value>, RestError> {
        self.list_all(PRINCIPAL_IDENTITIES, &[]).await
    }

    /// `DELETE .../principal-identities/{id}` (the identity's `id`, not its name).
    pub async fn delete_principal_identity(&self, id: &str) -> Result<(), RestError> {
        self.execute(NsxRequest::new(
            Method::DELETE,
            format!("{PRINCIPAL_IDENTITIES}/{}", segment(id)?),
        ))
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_with_path_characters_are_refused() {
        assert!(segment("cluster-sales").is_ok());
        for bad in ["", "a/b", "a?b", "a#b", "a%2Fb", "a\nb"] {
            assert!(segment(bad).is_err(), "{bad:?}");
        }
        assert!(segment(&"x".repeat(256)).is_err());
    }

    #[test]
    fn principal_identity_body_is_nsx_shaped() {
        let body = serde_json::to_value(PrincipalIdentityWithCertificate::for_cluster("c1", "PEM"))
            .unwrap();
        assert_eq!(body["name"], "c1");
        assert_eq!(body["node_id"], "c1");
        assert_eq!(body["is_protected"], true);
        assert_eq!(body["roles_for_paths"][0]["path"], "/");
    }
}
