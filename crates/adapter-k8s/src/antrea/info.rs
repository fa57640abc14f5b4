//! Reads of Antrea's monitoring CRDs (the MP adapter's watches keep them current; these are
//! for one-off reads such as a heartbeat without watches).

use antrea_types::{AntreaAgentInfo, AntreaControllerInfo};
use kube::Client;
use kube::api::{Api, ListParams};

use super::AntreaError;

/// The name of antrea-controller's AntreaControllerInfo.
pub const CONTROLLER_INFO_NAME: &str = "antrea-controller";

/// The AntreaControllerInfo; `None` when it does not exist.
pub async fn controller_info(client: &Client) -> Result<Option<AntreaControllerInfo>, AntreaError> {
    let api: Api<AntreaControllerInfo> = Api::all(client.clone());
    api.get_opt(CONTROLLER_INFO_NAME)
        .await
        .map_err(|e| AntreaError::api("reading AntreaControllerInfo antrea-controller", e))
}

/// Every AntreaAgentInfo.
pub async fn agent_infos(client: &Client) -> Result<Vec<AntreaAgentInfo>, AntreaError> {
    let api: Api<AntreaAgentInfo> = Api::all(client.clone());
    Ok(api
        .list(&ListParams::default())
        .await
        .map_err(|e| AntreaError::api("listing AntreaAgentInfos", e))?
        .items)
}
