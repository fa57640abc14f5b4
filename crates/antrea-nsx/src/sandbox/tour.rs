//! `sandbox --once`: a scripted tour that checks, through NSX's REST API and the Kubernetes
//! API as a user would, that the whole system works end to end. Every step polls (bounded)
//! until it passes; the tour passes only when every step did.

use std::future::Future;
use std::time::{Duration, Instant};

use adapter_nsx::rest::{NsxRequest, NsxRestClient};
use http::Method;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use serde_json::{Value, json};

use super::demo;

/// The annotation naming the NSX object an Antrea object was translated from
/// (docs/translation.md).
const NSX_PATH_ANNOTATION: &str = "ccp-adapter.antrea-nsx.io/nsx-path";

/// What the tour needs to know about the running sandbox.
pub struct TourContext {
    /// NSX as the admin.
    pub nsx: NsxRestClient,
    /// The cluster as its admin.
    pub kube: kube::Client,
    /// The cluster control plane id.
    pub cluster_id: String,
    /// How long one step may take.
    pub step_timeout: Duration,
}

/// The outcome of one step.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    pub name: &'static str,
    pub passed: bool,
    /// What was seen (on success) or the last reason it was not yet true.
    pub detail: String,
    pub elapsed: Duration,
}

type Check = Result<String, String>;

/// Polls `check` until it returns `Ok` or the step's time is up.
async fn eventually<F, Fut>(name: &'static str, timeout: Duration, mut check: F) -> StepOutcome
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Check>,
{
    let started = Instant::now();
    let mut last = String::from("not checked");
    while started.elapsed() < timeout {
        match check().await {
            Ok(detail) => {
                return StepOutcome {
                    name,
                    passed: true,
                    detail,
                    elapsed: started.elapsed(),
                };
            }
            Err(reason) => last = reason,
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    StepOutcome {
        name,
        passed: false,
        detail: last,
        elapsed: started.elapsed(),
    }
}

impl TourContext {
    fn cluster_path(&self) -> String {
        format!(
            "/infra/sites/default/enforcement-points/default/cluster-control-planes/{}",
            self.cluster_id
        )
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        self.nsx
            .get_json::<Value>(path)
            .await
            .map_err(|error| format!("GET {path}: {error}"))
    }

    async fn consolidated_status(&self, intent_path: &str) -> Result<(String, Value), String> {
        let body = self
            .get(&format!(
                "/policy/api/v1/infra/realized-state/status?intent_path={intent_path}"
            ))
            .await?;
        let state = body["consolidated_status"]["consolidated_status"]
            .as_str()
            .unwrap_or("UNKNOWN")
            .to_owned();
        Ok((state, body))
    }

    /// The cluster's inventory id (the cluster control plane's `node_id`).
    async fn inventory_id(&self) -> Result<String, String> {
        let body = self
            .get(&format!("/policy/api/v1{}", self.cluster_path()))
            .await?;
        body["node_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "the cluster control plane has no node_id".to_owned())
    }

    async fn pod_uid(&self, namespace: &str, name: &str) -> Result<String, String> {
        let pods: Api<Pod> = Api::namespaced(self.kube.clone(), namespace);
        let pod = pods
            .get(name)
            .await
            .map_err(|error| format!("reading Pod {namespace}/{name}: {error}"))?;
        pod.metadata
            .uid
            .ok_or_else(|| format!("Pod {namespace}/{name} has no uid"))
    }

    /// How many of the demo policies that translate are realized (for progress).
    pub async fn realized_policy_count(&self) -> usize {
        let mut count = 0;
        for id in demo::SUPPORTED_POLICIES {
            if let Ok((state, _)) = self.consolidated_status(&demo::policy_path(id)).await
                && state == "SUCCESS"
            {
                count += 1;
            }
        }
        count
    }

    /// How many demo pods NSX's inventory holds (for progress).
    pub async fn inventory_pod_count(&self) -> usize {
        let Ok(inventory_id) = self.inventory_id().await else {
            return 0;
        };
        let Ok(instances) = self
            .get(&format!(
                "/api/v1/fabric/container-application-instances?container_cluster_id={inventory_id}"
            ))
            .await
        else {
            return 0;
        };
        instances["results"]
            .as_array()
            .map(|results| {
                results
                    .iter()
                    .filter(|pod| {
                        let name = pod["display_name"].as_str().unwrap_or_default();
                        demo::PODS.iter().any(|(_, pod, _)| *pod == name)
                    })
                    .count()
            })
            .unwrap_or(0)
    }

    async fn policies_realized(&self) -> Check {
        let mut seen = Vec::new();
        for id in demo::SUPPORTED_POLICIES {
            let (state, body) = self.consolidated_status(&demo::policy_path(id)).await?;
            if state != "SUCCESS" {
                return Err(format!("{id} is {state}: {body}"));
            }
            seen.push(format!("{id} SUCCESS"));
        }
        Ok(seen.join(", "))
    }

    async fn unsupported_reported(&self) -> Check {
        let (state, body) = self
            .consolidated_status(&demo::policy_path(demo::UNSUPPORTED_POLICY))
            .await?;
        let text = body.to_string();
        if state == "ERROR" && text.contains("source") {
            let message = body["consolidated_status_per_enforcement_point"][0]["alarm"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            Ok(format!("{} is ERROR: {message}", demo::UNSUPPORTED_POLICY))
        } else {
            Err(format!("{} is {state}: {text}", demo::UNSUPPORTED_POLICY))
        }
    }

    async fn inventory_visible(&self) -> Check {
        let inventory_id = self.inventory_id().await?;
        let instances = self
            .get(&format!(
                "/api/v1/fabric/container-application-instances?container_cluster_id={inventory_id}"
            ))
            .await?;
        let names: Vec<&str> = instances["results"]
            .as_array()
            .map(|results| {
                results
                    .iter()
                    .filter_map(|pod| pod["display_name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        for (_, pod, _) in demo::PODS {
            if !names.contains(pod) {
                return Err(format!(
                    "Pod {pod} not in NSX's inventory yet (has {names:?})"
                ));
            }
        }
        let projects = self
            .get(&format!(
                "/api/v1/fabric/container-projects?container_cluster_id={inventory_id}"
            ))
            .await?;
        let project_names: Vec<&str> = projects["results"]
            .as_array()
            .map(|results| {
                results
                    .iter()
                    .filter_map(|project| project["display_name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        for (namespace, _) in demo::NAMESPACES {
            if !project_names.contains(namespace) {
                return Err(format!("Namespace {namespace} not in NSX's inventory yet"));
            }
        }
        Ok(format!(
            "{} pods and {} namespaces in NSX's inventory",
            names.len(),
            project_names.len()
        ))
    }

    async fn health(&self) -> Check {
        let body = self
            .get(&format!("/policy/api/v1{}/status", self.cluster_path()))
            .await?;
        let status = body["status"].as_str().unwrap_or("UNKNOWN");
        if status == "HEALTHY" {
            Ok(format!(
                "cluster HEALTHY (controller {}, mp adapter {}, ccp adapter {})",
                body["controller_status"]["status"].as_str().unwrap_or("?"),
                body["mp_adapter_status"]["status"].as_str().unwrap_or("?"),
                body["ccp_adapter_status"]["status"].as_str().unwrap_or("?")
            ))
        } else {
            Err(format!("cluster status {status}: {body}"))
        }
    }

    /// Starts a Traceflow from one demo pod to another on a TCP port and waits for its
    /// verdict; `Ok` when the last observation is the expected one.
    async fn traceflow(
        &self,
        id: &str,
        flow: (&str, &str, &str, &str, u16),
        expect_delivered: bool,
    ) -> Check {
        let (source_ns, source, destination_ns, destination, port) = flow;
        let inventory_id = self.inventory_id().await?;
        let source_uid = self.pod_uid(source_ns, source).await?;
        let destination_uid = self.pod_uid(destination_ns, destination).await?;
        let path = format!("/policy/api/v1/infra/antrea/traceflows/{id}");
        let config = json!({
            "resource_type": "AntreaTraceflowConfig",
            "id": id,
            "display_name": id,
            "container_cluster_id": inventory_id,
            "source_external_id": source_uid,
            "destination_external_id": destination_uid,
            "packet": {
                "resourceType": "FIELDS_PACKET_DATA", "transportType": "UNICAST",
                "transportHeader": {"tcpHeader": {"srcPort": 40000, "dstPort": port, "tcpFlags": 2}}
            }
        });
        if self.get(&path).await.is_err() {
            let request = NsxRequest::new(Method::PUT, path.clone())
                .json(&config)
                .map_err(|error| error.to_string())?;
            self.nsx
                .execute(request)
                .await
                .map_err(|error| format!("PUT {path}: {error}"))?;
        }
        let status = self.get(&format!("{path}/status")).await?;
        match status["phase"].as_str() {
            Some("SUCCEEDED") => {}
            Some(phase) => {
                // A failed run is not retried by waiting: report it.
                let reason = status["reason"].as_str().unwrap_or_default();
                return Err(format!("Traceflow {id} {phase}: {reason}"));
            }
            None => return Err(format!("Traceflow {id} still running")),
        }
        let observations = self.get(&format!("{path}/observations")).await?;
        let types: Vec<String> = observations["results"]
            .as_array()
            .map(|results| {
                results
                    .iter()
                    .map(|observation| {
                        format!(
                            "{}:{}",
                            observation["component_type"].as_str().unwrap_or("?"),
                            observation["observation_type"]
                                .as_str()
                                .unwrap_or("?")
                                .trim_start_matches("AntreaTraceflowObservation")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let last = types.last().cloned().unwrap_or_default();
        let delivered = last.ends_with(":Delivered");
        let dropped = last.ends_with(":Dropped");
        if (expect_delivered && delivered) || (!expect_delivered && dropped) {
            Ok(format!(
                "{source} → {destination}:{port}: {}",
                types.join(" → ")
            ))
        } else {
            Err(format!(
                "Traceflow {id}: observations {types:?}, expected {}",
                if expect_delivered {
                    "Delivered"
                } else {
                    "Dropped"
                }
            ))
        }
    }

    async fn statistics(&self) -> Check {
        let path = format!(
            "/policy/api/v1/infra/domains/{}/security-policies/{}/statistics?container_cluster_path={}",
            demo::DOMAIN,
            demo::CHANGED_POLICY,
            self.cluster_path()
        );
        let body = self.get(&path).await?;
        let per_cluster = body["results"]
            .as_array()
            .and_then(|results| results.first())
            .ok_or_else(|| format!("no statistics yet: {body}"))?;
        let rules = per_cluster["statistics"]["results"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if rules.is_empty() {
            return Err(format!("no rule statistics yet: {body}"));
        }
        let packets: i64 = rules
            .iter()
            .map(|rule| rule["packet_count"].as_i64().unwrap_or(0))
            .sum();
        Ok(format!(
            "{} rules of {} with statistics, {packets} packets in all",
            rules.len(),
            demo::CHANGED_POLICY
        ))
    }

    /// Adds a rule to the top of a demo policy through the REST API and waits until the
    /// ClusterNetworkPolicy translated from it holds the rule (named after NSX's `rule_id`,
    /// docs/translation.md) and NSX shows the policy realized.
    async fn change_policy(&self, added: &mut bool) -> Check {
        let policy = demo::policy_path(demo::CHANGED_POLICY);
        let rule_path = format!("{policy}/rules/{}", demo::ADDED_RULE);
        if !*added {
            let request = NsxRequest::new(Method::PATCH, format!("/policy/api/v1{rule_path}"))
                .json(&demo::added_rule())
                .map_err(|error| error.to_string())?;
            self.nsx
                .execute(request)
                .await
                .map_err(|error| format!("PATCH {rule_path}: {error}"))?;
            *added = true;
        }
        let rule_id = self.get(&format!("/policy/api/v1{rule_path}")).await?["rule_id"]
            .as_i64()
            .ok_or_else(|| format!("{rule_path} has no rule_id"))?;
        let expected = format!("r-{rule_id}-in");
        let resource = kube::api::ApiResource {
            group: "crd.antrea.io".to_owned(),
            version: "v1beta1".to_owned(),
            api_version: "crd.antrea.io/v1beta1".to_owned(),
            kind: "ClusterNetworkPolicy".to_owned(),
            plural: "clusternetworkpolicies".to_owned(),
        };
        let policies: Api<kube::api::DynamicObject> = Api::all_with(self.kube.clone(), &resource);
        let listed = policies
            .list(&Default::default())
            .await
            .map_err(|error| format!("listing ClusterNetworkPolicies: {error}"))?;
        let translated = listed
            .items
            .iter()
            .find(|object| {
                object
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|annotations| annotations.get(NSX_PATH_ANNOTATION))
                    .is_some_and(|path| *path == policy)
            })
            .ok_or_else(|| format!("no ClusterNetworkPolicy annotated with {policy}"))?;
        let name = translated.metadata.name.clone().unwrap_or_default();
        let has_rule = translated.data["spec"]["ingress"]
            .as_array()
            .is_some_and(|rules| rules.iter().any(|rule| rule["name"] == expected.as_str()));
        if !has_rule {
            return Err(format!(
                "ClusterNetworkPolicy {name} has no rule {expected} yet"
            ));
        }
        let (state, _) = self.consolidated_status(&policy).await?;
        if state == "SUCCESS" {
            Ok(format!(
                "rule {} added in NSX; ClusterNetworkPolicy {name} has rule {expected}; NSX shows SUCCESS",
                demo::ADDED_RULE
            ))
        } else {
            Err(format!("{} is {state}", demo::CHANGED_POLICY))
        }
    }

    /// Runs every step in order, calling `report` after each.
    pub async fn run(&self, mut report: impl FnMut(&StepOutcome)) -> Vec<StepOutcome> {
        let timeout = self.step_timeout;
        let mut outcomes = Vec::new();
        let mut push = |outcome: StepOutcome| {
            report(&outcome);
            outcomes.push(outcome);
        };
        push(
            eventually("policies realized in the cluster", timeout, || {
                self.policies_realized()
            })
            .await,
        );
        push(
            eventually("unsupported rule reported as an error", timeout, || {
                self.unsupported_reported()
            })
            .await,
        );
        push(
            eventually("inventory visible in NSX", timeout, || {
                self.inventory_visible()
            })
            .await,
        );
        push(eventually("cluster health HEALTHY in NSX", timeout, || self.health()).await);
        push(
            eventually("Traceflow of an allowed packet", timeout, || {
                self.traceflow("sandbox-tour-allowed", demo::ALLOWED_FLOW, true)
            })
            .await,
        );
        push(
            eventually("Traceflow of a dropped packet", timeout, || {
                self.traceflow("sandbox-tour-dropped", demo::DROPPED_FLOW, false)
            })
            .await,
        );
        push(
            eventually("policy statistics from Antrea", timeout, || {
                self.statistics()
            })
            .await,
        );
        let mut added = false;
        let added = &mut added;
        let started = Instant::now();
        let mut last = String::new();
        let mut passed = None;
        while started.elapsed() < timeout {
            match self.change_policy(added).await {
                Ok(detail) => {
                    passed = Some(detail);
                    break;
                }
                Err(reason) => last = reason,
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        push(StepOutcome {
            name: "a policy change reflected",
            passed: passed.is_some(),
            detail: passed.unwrap_or(last),
            elapsed: started.elapsed(),
        });
        outcomes
    }
}
