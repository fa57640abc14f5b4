//! The MP adapter's heartbeats through NSX's cluster status (nsx-sim, with its "second"
//! shortened so UNKNOWN comes after 1.8 s of silence): HEALTHY with everything up;
//! DEGRADED when an agent stops writing its AntreaAgentInfo (and its Node's
//! `cni_agent_status` UNHEALTHY), HEALTHY again when it resumes; DEGRADED when the CCP
//! adapter reports its session down; UNKNOWN once the MP adapter stops.

mod mp_common;

use mp_common::{CcpStatus, Env, eventually};
use nsx_model::inventory::ResourceType;
use serde_json::{Value, json};

async fn status_where(env: &Env, what: &str, accept: impl Fn(&Value) -> bool) -> Value {
    eventually(what, || async {
        let status = env.cluster_status().await;
        accept(&status).then_some(status)
    })
    .await
}

/// The `cni_agent_status` NSX holds for the Node named `node`.
async fn node_agent_status(env: &Env, node: &str) -> Option<String> {
    env.nsx(ResourceType::ContainerClusterNode)
        .await
        .into_iter()
        .map(|n| Value::Object(n.to_json()))
        .find(|n| n["display_name"] == node)
        .and_then(|n| n["cni_agent_status"].as_str().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_status_follows_agents_adapters_and_the_adapter_stopping() {
    let env = Env::start().await;
    let adapter = env.adapter(env.options()).await;

    let healthy = status_where(&env, "HEALTHY", |s| {
        s["status"] == "HEALTHY" && s["agent_info"]["healthy_agent_num"] == 3
    })
    .await;
    assert_eq!(healthy["controller_status"]["status"], "HEALTHY");
    assert_eq!(healthy["mp_adapter_status"]["status"], "HEALTHY");
    assert_eq!(healthy["ccp_adapter_status"]["status"], "HEALTHY");

    // An agent stops: its heartbeat goes stale (2 s in these options).
    env.antrea.stop_agent_heartbeats("k8s-node-2").unwrap();
    let degraded = status_where(&env, "DEGRADED", |s| {
        s["status"] == "DEGRADED" && s["agent_info"]["failed_agent_num"] == 1
    })
    .await;
    assert_eq!(degraded["controller_status"]["status"], "DEGRADED");
    assert_eq!(degraded["agent_info"]["healthy_agent_num"], 2);
    let message = degraded["controller_status"]["conditions"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("1 of 3 Antrea Agents"), "{message}");
    eventually("the Node's agent UNHEALTHY in the inventory", || async {
        (node_agent_status(&env, "k8s-node-2").await.as_deref() == Some("UNHEALTHY")).then_some(())
    })
    .await;

    env.antrea.resume_agent_heartbeats("k8s-node-2").unwrap();
    status_where(&env, "HEALTHY again", |s| {
        s["status"] == "HEALTHY" && s["agent_info"]["healthy_agent_num"] == 3
    })
    .await;
    eventually("the Node's agent HEALTHY again", || async {
        (node_agent_status(&env, "k8s-node-2").await.as_deref() == Some("HEALTHY")).then_some(())
    })
    .await;

    // The CCP adapter publishes a session down.
    let mut down = CcpStatus::healthy();
    down["connected"] = json!(false);
    env.ccp.set(down);
    let ccp_down = status_where(&env, "CCP DEGRADED", |s| {
        s["status"] == "DEGRADED" && s["ccp_adapter_status"]["status"] == "DEGRADED"
    })
    .await;
    let conditions = ccp_down["ccp_adapter_status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        conditions
            .iter()
            .any(|c| c["condition_type"] == "CCP_SESSION_STATE_UP" && c["status"] == "UNHEALTHY"),
        "{conditions:?}"
    );
    env.ccp.set(CcpStatus::healthy());
    status_where(&env, "HEALTHY with the CCP adapter back", |s| {
        s["status"] == "HEALTHY"
    })
    .await;

    // The MP adapter stops: no more heartbeats, NSX says UNKNOWN.
    adapter.shutdown().await;
    let unknown = status_where(&env, "UNKNOWN", |s| s["status"] == "UNKNOWN").await;
    assert_eq!(unknown["mp_adapter_status"]["status"], "UNKNOWN");
}
