//! NSX's requests over the management-plane channel ([`MpRequests`], the channel's
//! `RequestHandler`): policy statistics, Traceflow start/get/delete, support bundles and logs.

// `ChannelError` is the protocol's error value, returned as it is (as the channel client does).
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use adapter_core::ccp::naming::{RuleSide, parse_rule_name};
use adapter_core::mp::stats::{
    PolicyStatistics, RuleDirection, RuleRef, RuleStatistics, StatsTracker, rule_statistics,
};
use adapter_core::mp::traceflow::{
    NsxIcmpEchoRequestHeader, NsxIpHeader, NsxIpv6Header, NsxPacketData, NsxTcpHeader,
    NsxTraceflowConfig, NsxTransportHeader, NsxUdpHeader, TraceflowError, TraceflowErrorCode,
    TraceflowProgress, nsx_result, progress, traceflow_for, traceflow_name,
};
use adapter_k8s::antrea::bundle::{self, BundleSource};
use adapter_k8s::antrea::traceflow::{self as antrea_traceflow, TraceflowFailure};
use adapter_k8s::antrea::{AntreaError, stats};
use adapter_k8s::inventory::SharedInventory;
use adapter_nsx::channel::management::{RequestContext, RequestHandler, ResponseSink};
use antrea_types::Traceflow;
use futures::StreamExt as _;
use nsx_proto::capabilities;
use nsx_proto::v1::{
    AntreaObservationDetails, AntreaTraceflowConfig, AntreaTraceflowObservation,
    AntreaTraceflowStatus, ChannelError, ErrorCode, LogCollectionRequest, LogSourceResult,
    PolicyStatisticsRequest, PolicyStatisticsResult, SupportBundleFailure, SupportBundleNodeResult,
    SupportBundleRequest, SupportBundleSuccess, TraceflowDeleteRequest, TraceflowDeleted,
    TraceflowGetRequest, TraceflowResult, TraceflowStartRequest, mp_response,
    support_bundle_node_result,
};
use tokio::sync::watch;
use tokio::time::Instant;

use super::{MpAdapterOptions, MpMetrics, MpStatus, ccp};

/// Most Traceflow results kept for `TraceflowGetRequest`.
const TRACEFLOW_RESULTS_KEPT: usize = 256;
/// Antrea's Traceflow timeout when NSX gives none.
const ANTREA_TRACEFLOW_TIMEOUT: Duration = Duration::from_secs(20);
/// Extra time given to Antrea beyond its own Traceflow timeout.
const TRACEFLOW_MARGIN: Duration = Duration::from_secs(15);
/// Bundles collected at once.
const BUNDLE_CONCURRENCY: usize = 8;
/// Most bytes of one log file included in a bundle or a log answer.
const LOG_TAIL_BYTES: usize = 16 * 1024 * 1024;

/// Serves NSX's requests.
pub(crate) struct MpRequests {
    client: kube::Client,
    inventory: Arc<SharedInventory>,
    options: Arc<MpAdapterOptions>,
    status: watch::Receiver<MpStatus>,
    metrics: Arc<MpMetrics>,
    stats: Mutex<StatsTracker>,
    /// Latest results by `(traceflow id, run)`, oldest first.
    traceflows: Mutex<VecDeque<TraceflowResult>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A ChannelError for a failed Antrea call.
fn antrea_error(error: &AntreaError) -> ChannelError {
    let code = match error {
        AntreaError::Cancelled(_) => ErrorCode::Cancelled,
        _ => match error.status_code() {
            Some(404) => ErrorCode::NotFound,
            Some(403) => ErrorCode::PermissionDenied,
            Some(429) => ErrorCode::ResourceExhausted,
            Some(500..=599) | None => ErrorCode::Unavailable,
            Some(_) => ErrorCode::Internal,
        },
    };
    ChannelError::new(code, error.to_string())
}

fn traceflow_error(error: &TraceflowError) -> ChannelError {
    let code = match error.code {
        TraceflowErrorCode::InvalidArgument => ErrorCode::InvalidArgument,
        TraceflowErrorCode::NotFound => ErrorCode::NotFound,
        TraceflowErrorCode::ResourceExhausted => ErrorCode::ResourceExhausted,
        TraceflowErrorCode::DeadlineExceeded => ErrorCode::DeadlineExceeded,
    };
    let channel_error = ChannelError::new(code, error.message.clone());
    if error.target.is_empty() {
        channel_error
    } else {
        channel_error.with_target(error.target.clone())
    }
}

fn failure_error(failure: &TraceflowFailure) -> ChannelError {
    match failure {
        TraceflowFailure::Refused(error) => traceflow_error(error),
        TraceflowFailure::Api(error) => antrea_error(error),
    }
}

fn direction(side: RuleSide) -> RuleDirection {
    match side {
        RuleSide::Ingress => RuleDirection::In,
        RuleSide::Egress => RuleDirection::Out,
    }
}

fn rule_id_of(name: &str) -> Option<(i64, RuleDirection)> {
    parse_rule_name(name).map(|(id, side)| (id, direction(side)))
}

fn system_time(ms: i64) -> SystemTime {
    let ms = u64::try_from(ms).unwrap_or(0);
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

fn rule_result(rule: RuleStatistics) -> nsx_proto::v1::RuleStatistics {
    nsx_proto::v1::RuleStatistics {
        rule: rule.rule,
        internal_rule_id: rule.internal_rule_id,
        hit_count: rule.hit_count,
        packet_count: rule.packet_count,
        byte_count: rule.byte_count,
        session_count: rule.session_count,
        popularity_index: rule.popularity_index,
        max_popularity_index: rule.max_popularity_index,
        max_session_count: rule.max_session_count,
        total_session_count: rule.total_session_count,
        l7_accept_count: rule.l7_accept_count,
        l7_reject_count: rule.l7_reject_count,
        l7_reject_with_response_count: rule.l7_reject_with_response_count,
        lr_path: rule.lr_path,
    }
}

/// NSX's Traceflow configuration in the core's terms.
pub(crate) fn nsx_config(config: Option<&AntreaTraceflowConfig>) -> NsxTraceflowConfig {
    let Some(config) = config else {
        return NsxTraceflowConfig::default();
    };
    let packet = config.packet.as_ref().map(|p| NsxPacketData {
        resource_type: p.resource_type.clone(),
        transport_type: p.transport_type.clone(),
        frame_size: p.frame_size,
        payload: p.payload.clone(),
        ip_header: p.ip_header.as_ref().map(|h| NsxIpHeader {
            src_ip: h.src_ip.clone(),
            dst_ip: h.dst_ip.clone(),
            protocol: h.protocol,
            ttl: h.ttl,
            flags: h.flags,
        }),
        ipv6_header: p.ipv6_header.as_ref().map(|h| NsxIpv6Header {
            src_ip: h.src_ip.clone(),
            dst_ip: h.dst_ip.clone(),
            next_header: h.next_header,
            hop_limit: h.hop_limit,
        }),
        transport_header: p.transport_header.as_ref().map(|t| NsxTransportHeader {
            tcp_header: t.tcp_header.as_ref().map(|h| NsxTcpHeader {
                src_port: h.src_port,
                dst_port: h.dst_port,
                tcp_flags: h.tcp_flags,
            }),
            udp_header: t.udp_header.as_ref().map(|h| NsxUdpHeader {
                src_port: h.src_port,
                dst_port: h.dst_port,
            }),
            icmp_echo_request_header: t.icmp_echo_request_header.as_ref().map(|h| {
                NsxIcmpEchoRequestHeader {
                    sequence: h.sequence,
                    id: h.id,
                }
            }),
        }),
    });
    NsxTraceflowConfig {
        container_cluster_id: config.container_cluster_id.clone(),
        source_external_id: config.source_external_id.clone(),
        destination_external_id: config.destination_external_id.clone(),
        is_transient: config.is_transient,
        packet,
    }
}

impl MpRequests {
    pub(crate) fn new(
        client: kube::Client,
        inventory: Arc<SharedInventory>,
        options: Arc<MpAdapterOptions>,
        status: watch::Receiver<MpStatus>,
        metrics: Arc<MpMetrics>,
    ) -> Self {
        MpRequests {
            client,
            inventory,
            options,
            status,
            metrics,
            stats: Mutex::new(StatsTracker::new()),
            traceflows: Mutex::new(VecDeque::new()),
        }
    }

    fn served<T>(&self, result: Result<T, ChannelError>) -> Result<T, ChannelError> {
        MpMetrics::add(&self.metrics.requests_served, 1);
        if let Err(error) = &result {
            MpMetrics::add(&self.metrics.requests_failed, 1);
            tracing::info!(code = ?error.code(), message = %error.message, "request failed");
        }
        result
    }

    async fn statistics(
        &self,
        request: PolicyStatisticsRequest,
    ) -> Result<PolicyStatisticsResult, ChannelError> {
        let name = stats::translated_policy(
            &self.client,
            &request.policy_path,
            &request.policy_unique_id,
        )
        .await
        .map_err(|e| antrea_error(&e))?
        .ok_or_else(|| {
            ChannelError::new(
                ErrorCode::NotFound,
                format!(
                    "no ClusterNetworkPolicy in this cluster was translated from {}",
                    request.policy_path
                ),
            )
            .with_target("policy_path")
        })?;
        let rules: Vec<RuleRef> = request
            .rules
            .iter()
            .map(|r| RuleRef {
                path: r.path.clone(),
                rule_id: r.rule_id,
            })
            .collect();
        let counters = stats::cluster_policy_stats(&self.client, &name)
            .await
            .map_err(|e| antrea_error(&e))?;
        let statistics = match counters {
            Some(counters) => lock(&self.stats).policy_statistics(&counters, &rules, rule_id_of),
            None => PolicyStatistics {
                internal_section_id: name,
                results: rule_statistics(&rules, &BTreeMap::new(), rule_id_of),
                counting_since: None,
            },
        };
        Ok(PolicyStatisticsResult {
            policy_path: request.policy_path,
            container_cluster_path: request.container_cluster_path,
            internal_section_id: statistics.internal_section_id,
            results: statistics.results.into_iter().map(rule_result).collect(),
            counting_since: statistics
                .counting_since
                .map(|t| system_time(t.as_millisecond()).into()),
            collected_at: Some(SystemTime::now().into()),
        })
    }

    /// The NSX result of an Antrea Traceflow.
    fn result_of(&self, traceflow_id: &str, run: u32, traceflow: &Traceflow) -> TraceflowResult {
        let (status, observations) = self
            .inventory
            .with(|s| nsx_result(traceflow.status.as_ref(), &s.workloads));
        TraceflowResult {
            traceflow_id: traceflow_id.to_owned(),
            run,
            completed: progress(traceflow.status.as_ref()) == TraceflowProgress::Completed,
            status: Some(AntreaTraceflowStatus {
                phase: status.phase,
                reason: status.reason,
            }),
            observations: observations
                .into_iter()
                .map(|o| AntreaTraceflowObservation {
                    component_type: o.component_type.to_owned(),
                    observation_type: o.observation_type.to_owned(),
                    container_node_id: o.container_node_id,
                    timestamp: o.timestamp,
                    antrea: Some(AntreaObservationDetails {
                        component: o.antrea.component,
                        component_info: o.antrea.component_info,
                        action: o.antrea.action,
                        network_policy: o.antrea.network_policy,
                        network_policy_rule: o.antrea.network_policy_rule,
                        pod: o.antrea.pod,
                        translated_src_ip: o.antrea.translated_src_ip,
                        translated_dst_ip: o.antrea.translated_dst_ip,
                        tunnel_dst_ip: o.antrea.tunnel_dst_ip,
                        egress_ip: o.antrea.egress_ip,
                        egress_node: o.antrea.egress_node,
                    }),
                })
                .collect(),
            antrea_traceflow_name: traceflow.metadata.name.clone().unwrap_or_default(),
        }
    }

    fn remember(&self, result: &TraceflowResult) {
        let mut kept = lock(&self.traceflows);
        kept.retain(|r| !(r.traceflow_id == result.traceflow_id && r.run == result.run));
        kept.push_back(result.clone());
        while kept.len() > TRACEFLOW_RESULTS_KEPT {
            kept.pop_front();
        }
    }

    async fn start_traceflow(
        &self,
        request: TraceflowStartRequest,
        context: RequestContext,
        progress_sink: ResponseSink,
    ) -> Result<TraceflowResult, ChannelError> {
        let config = nsx_config(request.config.as_ref());
        let trace_timeout = request
            .trace_timeout
            .as_ref()
            .filter(|d| d.seconds > 0 || d.nanos > 0)
            .map(|d| {
                Duration::new(
                    u64::try_from(d.seconds).unwrap_or(0),
                    u32::try_from(d.nanos).unwrap_or(0),
                )
            });
        let traceflow = self
            .inventory
            .with(|s| {
                traceflow_for(
                    &request.traceflow_id,
                    request.run,
                    &config,
                    trace_timeout,
                    &s.workloads,
                )
            })
            .map_err(|e| traceflow_error(&e))?;
        let name = traceflow.metadata.name.clone().unwrap_or_default();
        antrea_traceflow::create(&self.client, &traceflow)
            .await
            .map_err(|e| failure_error(&e))?;
        // Refused as busy while Antrea's 14 data-plane tags stay taken: NSX then answers the
        // start with the error, and nothing is left behind.
        if let Err(failure) = antrea_traceflow::wait_started(
            &self.client,
            &name,
            self.options.traceflow,
            &context.cancel,
        )
        .await
        {
            if let Err(error) = antrea_traceflow::delete(&self.client, &name).await {
                tracing::warn!(%error, traceflow = %name, "deleting a Traceflow that did not start");
            }
            return Err(failure_error(&failure));
        }
        let started = TraceflowResult {
            traceflow_id: request.traceflow_id.clone(),
            run: request.run,
            completed: false,
            antrea_traceflow_name: name.clone(),
            ..TraceflowResult::default()
        };
        // NSX accepts the start once this first part arrives (the Traceflow runs).
        let _ = progress_sink
            .send(mp_response::Body::Traceflow(started))
            .await;
        let deadline =
            Instant::now() + trace_timeout.unwrap_or(ANTREA_TRACEFLOW_TIMEOUT) + TRACEFLOW_MARGIN;
        let finished = antrea_traceflow::wait(
            &self.client,
            &name,
            deadline,
            self.options.traceflow,
            &context.cancel,
        )
        .await;
        let outcome = finished.map(|tf| self.result_of(&request.traceflow_id, request.run, &tf));
        if let Err(error) = antrea_traceflow::delete(&self.client, &name).await {
            tracing::warn!(%error, traceflow = %name, "deleting a finished Traceflow");
        }
        let result = outcome.map_err(|e| failure_error(&e))?;
        self.remember(&result);
        Ok(result)
    }

    async fn get_traceflow(
        &self,
        request: TraceflowGetRequest,
    ) -> Result<TraceflowResult, ChannelError> {
        let kept = lock(&self.traceflows)
            .iter()
            .find(|r| r.traceflow_id == request.traceflow_id && r.run == request.run)
            .cloned();
        if let Some(result) = kept {
            return Ok(result);
        }
        let name = traceflow_name(&request.traceflow_id, request.run);
        match antrea_traceflow::get(&self.client, &name).await {
            Ok(Some(traceflow)) => {
                Ok(self.result_of(&request.traceflow_id, request.run, &traceflow))
            }
            Ok(None) => Err(ChannelError::new(
                ErrorCode::NotFound,
                format!(
                    "run {} of Traceflow {} is not known to this adapter",
                    request.run, request.traceflow_id
                ),
            )
            .with_target("traceflow_id")),
            Err(error) => Err(antrea_error(&error)),
        }
    }

    async fn delete_traceflow(
        &self,
        request: TraceflowDeleteRequest,
    ) -> Result<TraceflowDeleted, ChannelError> {
        let removed = antrea_traceflow::delete_runs(&self.client, &request.traceflow_id)
            .await
            .map_err(|e| antrea_error(&e))?;
        lock(&self.traceflows).retain(|r| r.traceflow_id != request.traceflow_id);
        Ok(TraceflowDeleted {
            traceflow_id: request.traceflow_id,
            removed,
        })
    }

    /// The adapters' own files for a bundle: the MP adapter's status and options, the CCP
    /// adapter's status, and the log files (each redacted by `archive_of`).
    async fn adapter_files(&self) -> Vec<(String, Vec<u8>)> {
        let mut files = Vec::new();
        let status = serde_json::to_vec_pretty(&*self.status.borrow()).unwrap_or_default();
        files.push(("mp-adapter/status.json".to_owned(), status));
        files.push((
            "mp-adapter/options.txt".to_owned(),
            format!("{:#?}\n", self.options).into_bytes(),
        ));
        match ccp::fetch(&self.options.ccp_status_url, Duration::from_secs(2)).await {
            Ok(body) => files.push(("ccp-adapter/status.json".to_owned(), body)),
            Err(error) => files.push((
                "ccp-adapter/status-unavailable.txt".to_owned(),
                format!("{error}\n").into_bytes(),
            )),
        }
        for path in &self.options.log_files {
            let name = path
                .file_name()
                .map_or_else(|| "log".to_owned(), |n| n.to_string_lossy().into_owned());
            match read_tail(path, LOG_TAIL_BYTES).await {
                Ok((data, _)) => files.push((format!("logs/{name}"), data)),
                Err(error) => files.push((
                    format!("logs/{name}.unreadable.txt"),
                    format!("{}: {error}\n", path.display()).into_bytes(),
                )),
            }
        }
        files
    }

    async fn support_bundle(
        &self,
        request: SupportBundleRequest,
        context: RequestContext,
        sink: ResponseSink,
    ) -> Result<(), ChannelError> {
        let since = (request.log_age_limit > 0).then(|| format!("{}h", request.log_age_limit * 24));
        // Targets: (node id, component, display name, source or why it cannot be collected).
        let mut targets: Vec<(String, String, String, Result<BundleSource, String>)> = Vec::new();
        let (controller_node, agents) = self.inventory.with(|s| {
            let controller_node = s
                .controller
                .as_ref()
                .and_then(|c| c.spec.node_ref.as_ref())
                .and_then(|n| n.name.clone())
                .unwrap_or_default();
            let controller_uid = s
                .workloads
                .nodes()
                .into_iter()
                .find(|(name, _)| *name == controller_node)
                .map(|(_, uid)| uid);
            let agents: Vec<(String, Option<String>)> = request
                .nodes
                .iter()
                .map(|id| {
                    let name = s.workloads.node_name(id).map(str::to_owned).or_else(|| {
                        s.workloads
                            .nodes()
                            .into_iter()
                            .any(|(name, _)| name == *id)
                            .then(|| id.clone())
                    });
                    (id.clone(), name)
                })
                .collect();
            ((controller_node, controller_uid), agents)
        });
        if request.include_controller {
            let (name, uid) = controller_node;
            targets.push((
                uid.unwrap_or_else(|| name.clone()),
                "antrea-controller".to_owned(),
                name,
                Ok(BundleSource::Controller),
            ));
        }
        for (id, name) in agents {
            match name {
                Some(name) => targets.push((
                    id,
                    "antrea-agent".to_owned(),
                    name.clone(),
                    Ok(BundleSource::Agent(name)),
                )),
                None => targets.push((
                    id.clone(),
                    "antrea-agent".to_owned(),
                    String::new(),
                    Err(format!("no Node of this cluster has the id {id}")),
                )),
            }
        }
        let client = &self.client;
        let options = &self.options.bundles;
        let deadline = context.deadline;
        let cancel = &context.cancel;
        let since = since.as_deref();
        let collections = futures::stream::iter(targets.into_iter().map(
            |(node_id, component, display, source)| async move {
                let data = match source {
                    Err(message) => Err(("NODE_NOT_FOUND", message)),
                    Ok(source) => {
                        match bundle::collect(client, &source, since, options, deadline, cancel)
                            .await
                        {
                            Err(error) => Err(("COLLECTION_FAILED", error.to_string())),
                            Ok(archive) => bundle::redact_archive(&archive)
                                .map_err(|e| ("BUNDLE_UNREADABLE", e.to_string())),
                        }
                    }
                };
                (node_id, component, display, data)
            },
        ))
        .buffered(BUNDLE_CONCURRENCY);
        let mut collections = std::pin::pin!(collections);
        let sink_error = |e: adapter_nsx::channel::management::SinkError| {
            ChannelError::new(ErrorCode::Cancelled, e.to_string())
        };
        while let Some((node_id, component, display, data)) = collections.next().await {
            let bundle_name = if display.is_empty() {
                format!("{component}_{node_id}.tar.gz")
            } else {
                format!("{component}_{display}.tar.gz")
            };
            let outcome = match data {
                Ok(data) => {
                    sink.send_bundle_file(&node_id, &component, &bundle_name, &data)
                        .await
                        .map_err(sink_error)?;
                    support_bundle_node_result::Outcome::Success(SupportBundleSuccess {
                        bundle_name,
                        bundle_size: data.len() as i64,
                        sha256_thumbprint: bundle::sha256_hex(&data),
                    })
                }
                Err((code, message)) => {
                    tracing::warn!(node = %node_id, %component, %message, "bundle not collected");
                    support_bundle_node_result::Outcome::Failure(SupportBundleFailure {
                        error_code: code.to_owned(),
                        error_message: message,
                    })
                }
            };
            sink.send(mp_response::Body::SupportBundleNode(
                SupportBundleNodeResult {
                    node_id,
                    component: component.to_owned(),
                    node_display_name: display,
                    outcome: Some(outcome),
                    ..SupportBundleNodeResult::default()
                },
            ))
            .await
            .map_err(sink_error)?;
        }
        // The adapters' own logs and state.
        let files = self.adapter_files().await;
        let component = "antrea-nsx-adapters";
        let node_id = self.options.cluster_id.clone();
        let bundle_name = format!("{component}.tar.gz");
        let outcome = match bundle::archive_of(&files) {
            Ok(data) => {
                sink.send_bundle_file(&node_id, component, &bundle_name, &data)
                    .await
                    .map_err(sink_error)?;
                support_bundle_node_result::Outcome::Success(SupportBundleSuccess {
                    bundle_name,
                    bundle_size: data.len() as i64,
                    sha256_thumbprint: bundle::sha256_hex(&data),
                })
            }
            Err(error) => support_bundle_node_result::Outcome::Failure(SupportBundleFailure {
                error_code: "BUNDLE_UNREADABLE".into(),
                error_message: error.to_string(),
            }),
        };
        sink.send(mp_response::Body::SupportBundleNode(
            SupportBundleNodeResult {
                node_id,
                component: component.to_owned(),
                node_display_name: "antrea-nsx adapters".into(),
                outcome: Some(outcome),
                ..SupportBundleNodeResult::default()
            },
        ))
        .await
        .map_err(sink_error)?;
        Ok(())
    }

    async fn logs(
        &self,
        request: LogCollectionRequest,
        sink: ResponseSink,
    ) -> Result<(), ChannelError> {
        let sink_error = |e: adapter_nsx::channel::management::SinkError| {
            ChannelError::new(ErrorCode::Cancelled, e.to_string())
        };
        let limit = if request.limit_bytes == 0 {
            LOG_TAIL_BYTES
        } else {
            usize::try_from(request.limit_bytes).unwrap_or(LOG_TAIL_BYTES)
        };
        for path in &self.options.log_files {
            let file_name = path
                .file_name()
                .map_or_else(|| "log".to_owned(), |n| n.to_string_lossy().into_owned());
            let component = if file_name.contains("ccp") {
                "ccp-adapter"
            } else {
                "mp-adapter"
            };
            if !request.components.is_empty() && !request.components.iter().any(|c| c == component)
            {
                continue;
            }
            let mut result = LogSourceResult {
                node_id: self.options.cluster_id.clone(),
                component: component.to_owned(),
                file_name: file_name.clone(),
                ..LogSourceResult::default()
            };
            match read_tail(path, limit).await {
                Ok((data, truncated)) => {
                    let mut text = adapter_core::mp::bundle::redact_file(&data).into_owned();
                    let mut cut = truncated;
                    if request.tail_lines > 0 {
                        let lines = text.split(|b| *b == b'\n').count();
                        let keep = request.tail_lines as usize;
                        if lines > keep + 1 {
                            let start = text
                                .iter()
                                .enumerate()
                                .filter(|(_, b)| **b == b'\n')
                                .nth(lines - keep - 2)
                                .map_or(0, |(at, _)| at + 1);
                            text.drain(..start);
                            cut = true;
                        }
                    }
                    sink.send_log_file(&result.node_id, component, &file_name, &text)
                        .await
                        .map_err(sink_error)?;
                    result.total_bytes = text.len() as u64;
                    result.truncated = cut;
                }
                Err(error) => {
                    result.error = Some(ChannelError::new(
                        ErrorCode::NotFound,
                        format!("{}: {error}", path.display()),
                    ));
                }
            }
            sink.send(mp_response::Body::LogSource(result))
                .await
                .map_err(sink_error)?;
        }
        Ok(())
    }
}

/// The last `limit` bytes of a file, and whether it was cut.
async fn read_tail(path: &std::path::Path, limit: usize) -> std::io::Result<(Vec<u8>, bool)> {
    let data = tokio::fs::read(path).await?;
    if data.len() > limit {
        Ok((data[data.len() - limit..].to_vec(), true))
    } else {
        Ok((data, false))
    }
}

impl RequestHandler for MpRequests {
    fn capabilities(&self) -> Vec<String> {
        vec![
            capabilities::MP_STATISTICS.to_owned(),
            capabilities::MP_TRACEFLOW.to_owned(),
            capabilities::MP_SUPPORT_BUNDLE.to_owned(),
            capabilities::MP_LOGS.to_owned(),
        ]
    }

    async fn policy_statistics(
        &self,
        request: PolicyStatisticsRequest,
        _context: RequestContext,
    ) -> Result<PolicyStatisticsResult, ChannelError> {
        let result = self.statistics(request).await;
        self.served(result)
    }

    async fn traceflow_start(
        &self,
        request: TraceflowStartRequest,
        context: RequestContext,
        progress: ResponseSink,
    ) -> Result<TraceflowResult, ChannelError> {
        let result = self.start_traceflow(request, context, progress).await;
        self.served(result)
    }

    async fn traceflow_get(
        &self,
        request: TraceflowGetRequest,
        _context: RequestContext,
    ) -> Result<TraceflowResult, ChannelError> {
        let result = self.get_traceflow(request).await;
        self.served(result)
    }

    async fn traceflow_delete(
        &self,
        request: TraceflowDeleteRequest,
        _context: RequestContext,
    ) -> Result<TraceflowDeleted, ChannelError> {
        let result = self.delete_traceflow(request).await;
        self.served(result)
    }

    async fn support_bundle(
        &self,
        request: SupportBundleRequest,
        context: RequestContext,
        sink: ResponseSink,
    ) -> Result<(), ChannelError> {
        let result = self.support_bundle(request, context, sink).await;
        self.served(result)
    }

    async fn logs(
        &self,
        request: LogCollectionRequest,
        _context: RequestContext,
        sink: ResponseSink,
    ) -> Result<(), ChannelError> {
        let result = MpRequests::logs(self, request, sink).await;
        self.served(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nsx_proto::v1::{
        AntreaTraceflowIpHeader, AntreaTraceflowPacketData, AntreaTraceflowTcpHeader,
        AntreaTraceflowTransportHeader,
    };

    #[test]
    fn nsx_traceflow_configs_are_carried_over_field_by_field() {
        let config = AntreaTraceflowConfig {
            container_cluster_id: "c".into(),
            source_external_id: "pod-a".into(),
            destination_external_id: "pod-b".into(),
            is_transient: Some(true),
            packet: Some(AntreaTraceflowPacketData {
                resource_type: "FIELDS_PACKET_DATA".into(),
                transport_type: "UNICAST".into(),
                ip_header: Some(AntreaTraceflowIpHeader {
                    dst_ip: "10.10.0.5".into(),
                    protocol: Some(6),
                    ttl: Some(32),
                    ..Default::default()
                }),
                transport_header: Some(AntreaTraceflowTransportHeader {
                    tcp_header: Some(AntreaTraceflowTcpHeader {
                        dst_port: Some(80),
                        tcp_flags: Some(2),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        };
        let ours = nsx_config(Some(&config));
        assert_eq!(ours.source_external_id, "pod-a");
        assert_eq!(ours.is_transient, Some(true));
        let packet = ours.packet.unwrap();
        assert_eq!(packet.ip_header.as_ref().unwrap().ttl, Some(32));
        assert_eq!(packet.ip_header.unwrap().dst_ip, "10.10.0.5");
        assert_eq!(
            packet
                .transport_header
                .unwrap()
                .tcp_header
                .unwrap()
                .dst_port,
            Some(80)
        );
        assert_eq!(nsx_config(None), NsxTraceflowConfig::default());
    }

    #[test]
    fn errors_map_to_the_protocols_codes() {
        let busy = traceflow_error(&TraceflowError::busy());
        assert_eq!(busy.code(), ErrorCode::ResourceExhausted);
        let timeout = traceflow_error(&TraceflowError::timeout(Duration::from_secs(20)));
        assert_eq!(timeout.code(), ErrorCode::DeadlineExceeded);
        let missing = traceflow_error(&TraceflowError {
            code: TraceflowErrorCode::NotFound,
            target: "source_external_id".into(),
            message: "no Pod".into(),
        });
        assert_eq!(missing.code(), ErrorCode::NotFound);
        assert_eq!(missing.target, "source_external_id");
        assert_eq!(
            antrea_error(&AntreaError::Cancelled("x".into())).code(),
            ErrorCode::Cancelled
        );
        assert_eq!(rule_id_of("r-12-in"), Some((12, RuleDirection::In)));
        assert_eq!(rule_id_of("r-12-out"), Some((12, RuleDirection::Out)));
        assert_eq!(rule_id_of("ingress-allow-1"), None);
    }

    #[tokio::test]
    async fn log_tails_are_cut_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mp-adapter.log");
        tokio::fs::write(&path, b"0123456789").await.unwrap();
        assert_eq!(read_tail(&path, 4).await.unwrap(), (b"6789".to_vec(), true));
        assert_eq!(
            read_tail(&path, 40).await.unwrap(),
            (b"0123456789".to_vec(), false)
        );
        assert!(read_tail(&dir.path().join("none"), 4).await.is_err());
    }
}
