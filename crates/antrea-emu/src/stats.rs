//! antrea-controller's policy statistics: the `stats.antrea.io/v1alpha1` aggregated API
//! (`antreaclusternetworkpolicystats`, `antreanetworkpolicystats`, `networkpolicystats`; get
//! and list, JSON or Table) and the aggregator behind it (`pkg/controller/stats`), fed by the
//! traffic model of [`crate::traffic`] instead of OVS counters.
//!
//! As in Antrea, a stats object exists for every policy the aggregator's informers have
//! seen: its `metadata` carries the policy's name, Namespace and UID, and a
//! `creationTimestamp` that is when counting started (not when the policy was created).
//! Counters start at zero and only grow; they start over when the policy is recreated (a new
//! UID) and when antrea-controller restarts ([`AntreaEmu::bring_controller_up`]). Antrea
//! policies carry `ruleTrafficStats` keyed by rule name, appended as rules first count
//! traffic; the policy's `trafficStats` is the sum of its rules. K8s NetworkPolicies have
//! only `trafficStats`.
//!
//! The agents' reports are the ticks of the traffic model: every [`StatsOptions::tick_interval`]
//! (Antrea's `collectPeriod`, 60 s), or when a test calls [`AntreaEmu::advance_stats_ticks`].
//! A tick while the controller is down counts nothing, and the API answers 503 as
//! kube-aggregator does for an unavailable APIService. With the `NetworkPolicyStats` gate
//! off ([`StatsOptions::enabled`] false) lists are empty and gets return an empty object,
//! both with 200, as antrea-controller answers.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

use antrea_policy::{PodName, PolicyKind};
use antrea_types::stats::{
    AntreaClusterNetworkPolicyStats, AntreaNetworkPolicyStats, NetworkPolicyStats,
    RuleTrafficStats, STATS_API_VERSION, STATS_GROUP, TrafficStats,
};
use antrea_types::{ClusterNetworkPolicy, NetworkPolicy};
use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy as K8sNetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::Api;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use kube_apimachinery::selector::LabelSelector;
use kube_emu::ApiExtension;
use kube_emu::extension::extension_resource;
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::aggregated::{self, ApiRequest, Column, TableRequest};
use crate::traffic::{TickAccumulator, TickTraffic, TrafficModel, add_up};
use crate::workload::watch;
use crate::{AntreaEmu, AntreaEmuError, Shared};

/// Version of the stats group.
pub const STATS_VERSION: &str = "v1alpha1";
const CLUSTER_PLURAL: &str = "antreaclusternetworkpolicystats";
const ANTREA_PLURAL: &str = "antreanetworkpolicystats";
const K8S_PLURAL: &str = "networkpolicystats";
/// Flows evaluated per hold of the index lock.
const FLOWS_PER_CHUNK: usize = 512;

/// Tunables of the policy statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsOptions {
    /// The `NetworkPolicyStats` feature gate (on by default in Antrea).
    pub enabled: bool,
    /// How often the agents report (`collectPeriod`); `None`: only on
    /// [`AntreaEmu::advance_stats_ticks`].
    pub tick_interval: Option<Duration>,
    /// The traffic the workload exchanges.
    pub traffic: TrafficModel,
}

impl Default for StatsOptions {
    fn default() -> Self {
        StatsOptions {
            enabled: true,
            tick_interval: Some(Duration::from_secs(60)),
            traffic: TrafficModel::default(),
        }
    }
}

/// Counters of one policy since `started`.
#[derive(Debug, Clone)]
struct PolicyCounters {
    uid: String,
    started: jiff::Timestamp,
    total: TrafficStats,
    rules: Vec<RuleTrafficStats>,
}

impl PolicyCounters {
    fn new(uid: String, started: jiff::Timestamp) -> Self {
        PolicyCounters {
            uid,
            started,
            total: TrafficStats::default(),
            rules: Vec::new(),
        }
    }

    /// `addRulesUp` (per-rule) or `addUp` (K8s NetworkPolicies, `rule` is `None`).
    fn add(&mut self, rule: Option<&str>, increment: &TrafficStats) {
        add_up(&mut self.total, increment);
        let Some(name) = rule else { return };
        match self.rules.iter_mut().find(|r| r.name == name) {
            Some(existing) => add_up(&mut existing.traffic_stats, increment),
            None => self.rules.push(RuleTrafficStats {
                name: name.to_string(),
                traffic_stats: *increment,
            }),
        }
    }

    fn metadata(&self, namespace: Option<&str>, name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_string()),
            namespace: namespace.map(str::to_string),
            uid: Some(self.uid.clone()),
            creation_timestamp: Some(Time(self.started)),
            ..ObjectMeta::default()
        }
    }
}

type NamespacedKey = (String, String);

#[derive(Debug, Default)]
struct StatsData {
    cluster: BTreeMap<String, PolicyCounters>,
    antrea: BTreeMap<NamespacedKey, PolicyCounters>,
    k8s: BTreeMap<NamespacedKey, PolicyCounters>,
    cursor: usize,
    ticks: u64,
}

impl StatsData {
    fn table(&mut self, kind: PolicyKind) -> &mut BTreeMap<NamespacedKey, PolicyCounters> {
        match kind {
            PolicyKind::AntreaNetworkPolicy => &mut self.antrea,
            _ => &mut self.k8s,
        }
    }
}

/// The aggregator's state, shared with the API handlers and the hooks.
#[derive(Debug, Default)]
pub(crate) struct StatsState {
    data: Mutex<StatsData>,
    /// The workload Pods of the traffic model.
    pods: Mutex<BTreeSet<PodName>>,
    /// One tick at a time.
    tick: tokio::sync::Mutex<()>,
}

impl StatsState {
    pub fn new() -> Self {
        StatsState::default()
    }

    /// Forgets every counter (antrea-controller restarted): counting starts again at `now`.
    fn restart(&self, now: jiff::Timestamp) {
        let mut data = self.data.lock();
        let data = &mut *data;
        let reset = |counters: &mut PolicyCounters| {
            *counters = PolicyCounters::new(std::mem::take(&mut counters.uid), now);
        };
        data.cluster.values_mut().for_each(reset);
        data.antrea.values_mut().for_each(reset);
        data.k8s.values_mut().for_each(reset);
    }

    fn apply(&self, traffic: &TickTraffic, next_cursor: usize) {
        let mut data = self.data.lock();
        data.cursor = next_cursor;
        data.ticks += 1;
        for (rule, increment) in &traffic.rules {
            let policy = &rule.policy;
            let counters = match (policy.kind, &policy.namespace) {
                (PolicyKind::AntreaClusterNetworkPolicy, _) => data.cluster.get_mut(&policy.name),
                (kind, Some(namespace)) => data
                    .table(kind)
                    .get_mut(&(namespace.clone(), policy.name.clone())),
                (_, None) => None,
            };
            let Some(counters) = counters else { continue };
            let name = match policy.kind {
                PolicyKind::K8sNetworkPolicy => None,
                _ => Some(rule.name.as_deref().unwrap_or_default()),
            };
            counters.add(name, increment);
        }
    }
}

/// A policy kind the aggregator counts.
trait Counted:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static
{
    const KIND: PolicyKind;
}

impl Counted for ClusterNetworkPolicy {
    const KIND: PolicyKind = PolicyKind::AntreaClusterNetworkPolicy;
}
impl Counted for NetworkPolicy {
    const KIND: PolicyKind = PolicyKind::AntreaNetworkPolicy;
}
impl Counted for K8sNetworkPolicy {
    const KIND: PolicyKind = PolicyKind::K8sNetworkPolicy;
}

/// Registers the stats API and starts the aggregator; the receivers fire once its informers
/// have listed the cluster.
pub(crate) fn install(shared: &Arc<Shared>) -> Result<Vec<oneshot::Receiver<()>>, AntreaEmuError> {
    shared
        .emu
        .register_extension(extension(Arc::downgrade(shared)))
        .map_err(AntreaEmuError::Crds)?;
    let ready = vec![
        policy_informer::<ClusterNetworkPolicy>(shared),
        policy_informer::<NetworkPolicy>(shared),
        policy_informer::<K8sNetworkPolicy>(shared),
        pod_informer(shared),
    ];
    spawn_restarts(shared);
    if let Some(interval) = shared.options.stats.tick_interval.filter(|i| !i.is_zero()) {
        let shared = shared.clone();
        tokio::spawn(async move {
            let cancel = shared.cancel.clone();
            let start = tokio::time::Instant::now() + interval;
            let mut ticks = tokio::time::interval_at(start, interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    _ = ticks.tick() => { run_tick(&shared).await; }
                }
            }
        });
    }
    crate::support_bundle::log_controller(
        shared,
        "stats/aggregator.go:164",
        "Starting stats aggregator",
    );
    Ok(ready)
}

fn extension(shared: Weak<Shared>) -> ApiExtension {
    let resource = |plural: &str, kind: &str, namespaced: bool| {
        extension_resource(
            STATS_GROUP,
            STATS_VERSION,
            plural,
            kind,
            namespaced,
            &["get", "list"],
        )
    };
    let router = axum::Router::new().fallback(serve).with_state(shared);
    ApiExtension::new(STATS_GROUP, STATS_VERSION, router)
        .with_resource(resource(
            CLUSTER_PLURAL,
            AntreaClusterNetworkPolicyStats::KIND,
            false,
        ))
        .with_resource(resource(
            ANTREA_PLURAL,
            AntreaNetworkPolicyStats::KIND,
            true,
        ))
        .with_resource(resource(K8S_PLURAL, NetworkPolicyStats::KIND, true))
}

fn policy_informer<K: Counted>(shared: &Arc<Shared>) -> oneshot::Receiver<()> {
    let (ready_tx, ready_rx) = oneshot::channel();
    let shared = shared.clone();
    tokio::spawn(async move {
        let cancel = shared.cancel.clone();
        let events = watch(Api::<K>::all(shared.client.clone()));
        futures::pin_mut!(events);
        let mut ready = Some(ready_tx);
        let mut relist: Option<HashSet<NamespacedKey>> = None;
        loop {
            let event = tokio::select! {
                () = cancel.cancelled() => return,
                event = events.next() => match event {
                    Some(event) => event,
                    None => return,
                },
            };
            match event {
                watcher::Event::Init => relist = Some(HashSet::new()),
                watcher::Event::InitApply(object) | watcher::Event::Apply(object) => {
                    let key = (object.namespace().unwrap_or_default(), object.name_any());
                    if let Some(seen) = &mut relist {
                        seen.insert(key.clone());
                    }
                    let uid = object.uid().unwrap_or_default();
                    added::<K>(&shared, key, uid);
                }
                watcher::Event::InitDone => {
                    if let Some(seen) = relist.take() {
                        let mut data = shared.stats.data.lock();
                        match K::KIND {
                            PolicyKind::AntreaClusterNetworkPolicy => data
                                .cluster
                                .retain(|name, _| seen.contains(&(String::new(), name.clone()))),
                            kind => data.table(kind).retain(|key, _| seen.contains(key)),
                        }
                    }
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(());
                    }
                }
                watcher::Event::Delete(object) => {
                    let key = (object.namespace().unwrap_or_default(), object.name_any());
                    let mut data = shared.stats.data.lock();
                    match K::KIND {
                        PolicyKind::AntreaClusterNetworkPolicy => {
                            data.cluster.remove(&key.1);
                        }
                        kind => {
                            data.table(kind).remove(&key);
                        }
                    }
                }
            }
        }
    });
    ready_rx
}

/// `addCNP` / `addANP` / `addNetworkPolicy`: a policy not counted yet (or recreated with a
/// new UID) starts from zero now.
fn added<K: Counted>(shared: &Shared, key: NamespacedKey, uid: String) {
    fn upsert<Q: Ord>(
        table: &mut BTreeMap<Q, PolicyCounters>,
        key: Q,
        uid: String,
        now: jiff::Timestamp,
    ) {
        if table.get(&key).is_none_or(|counters| counters.uid != uid) {
            table.insert(key, PolicyCounters::new(uid, now));
        }
    }
    let now = shared.clock.now();
    let mut data = shared.stats.data.lock();
    match K::KIND {
        PolicyKind::AntreaClusterNetworkPolicy => upsert(&mut data.cluster, key.1, uid, now),
        kind => upsert(data.table(kind), key, uid, now),
    }
}

fn is_workload(pod: &Pod) -> bool {
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    pod.metadata.deletion_timestamp.is_none()
        && !spec.and_then(|s| s.host_network).unwrap_or(false)
        && status.and_then(|s| s.phase.as_deref()) == Some("Running")
        && status
            .and_then(|s| s.pod_ip.as_deref())
            .is_some_and(|ip| !ip.is_empty())
}

fn pod_informer(shared: &Arc<Shared>) -> oneshot::Receiver<()> {
    let (ready_tx, ready_rx) = oneshot::channel();
    let shared = shared.clone();
    tokio::spawn(async move {
        let cancel = shared.cancel.clone();
        let events = watch(Api::<Pod>::all(shared.client.clone()));
        futures::pin_mut!(events);
        let mut ready = Some(ready_tx);
        let mut relist: Option<BTreeSet<PodName>> = None;
        loop {
            let event = tokio::select! {
                () = cancel.cancelled() => return,
                event = events.next() => match event {
                    Some(event) => event,
                    None => return,
                },
            };
            let name_of =
                |pod: &Pod| PodName::new(pod.namespace().unwrap_or_default(), pod.name_any());
            match event {
                watcher::Event::Init => relist = Some(BTreeSet::new()),
                watcher::Event::InitApply(pod) | watcher::Event::Apply(pod) => {
                    let name = name_of(&pod);
                    let mut pods = shared.stats.pods.lock();
                    if is_workload(&pod) {
                        if let Some(seen) = &mut relist {
                            seen.insert(name.clone());
                        }
                        pods.insert(name);
                    } else {
                        pods.remove(&name);
                    }
                }
                watcher::Event::InitDone => {
                    if let Some(seen) = relist.take() {
                        *shared.stats.pods.lock() = seen;
                    }
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(());
                    }
                }
                watcher::Event::Delete(pod) => {
                    shared.stats.pods.lock().remove(&name_of(&pod));
                }
            }
        }
    });
    ready_rx
}

/// Restarts of antrea-controller reset every counter.
fn spawn_restarts(shared: &Arc<Shared>) {
    let shared = shared.clone();
    tokio::spawn(async move {
        let cancel = shared.cancel.clone();
        let mut state = shared.hooks.watch_controller();
        let mut up = *state.borrow_and_update();
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                changed = state.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let now_up = *state.borrow_and_update();
                    if now_up && !up {
                        shared.stats.restart(shared.clock.now());
                        crate::support_bundle::log_controller(
                            &shared,
                            "stats/aggregator.go:164",
                            "Starting stats aggregator",
                        );
                    }
                    up = now_up;
                }
            }
        }
    });
}

/// One report round of the agents: the traffic model's next flows, judged and added up.
/// Returns `None` when antrea-controller is down (nothing is counted).
async fn run_tick(shared: &Shared) -> Option<TickTraffic> {
    let _one_at_a_time = shared.stats.tick.lock().await;
    if !shared.hooks.controller_is_up() {
        return None;
    }
    let model = &shared.options.stats.traffic;
    let pods: Vec<PodName> = shared.stats.pods.lock().iter().cloned().collect();
    let cursor = shared.stats.data.lock().cursor;
    let (flows, next_cursor) = model.tick_flows(&pods, cursor);
    let mut accumulator = TickAccumulator::default();
    for chunk in flows.chunks(FLOWS_PER_CHUNK) {
        {
            let index = shared.index.read();
            model.evaluate(&index, chunk, &mut accumulator);
        }
        if flows.len() > FLOWS_PER_CHUNK {
            tokio::task::yield_now().await;
        }
    }
    let traffic = accumulator.finish();
    shared.stats.apply(&traffic, next_cursor);
    tracing::debug!(
        flows = traffic.flows,
        allowed = traffic.allowed,
        "stats tick"
    );
    Some(traffic)
}

impl AntreaEmu {
    /// Runs `ticks` report rounds of the agents now (each one a tick of the traffic model),
    /// and returns what each one counted (`None` for rounds while the controller is down).
    pub async fn advance_stats_ticks(&self, ticks: usize) -> Vec<Option<TickTraffic>> {
        let mut rounds = Vec::with_capacity(ticks);
        for _ in 0..ticks {
            rounds.push(run_tick(self.shared()).await);
        }
        rounds
    }

    /// How many ticks have been counted since the emulation started.
    pub fn stats_ticks(&self) -> u64 {
        self.shared().stats.data.lock().ticks
    }

    /// The workload Pods of the traffic model, in flow order.
    pub fn traffic_pods(&self) -> Vec<PodName> {
        self.shared().stats.pods.lock().iter().cloned().collect()
    }
}

/// The stats resource a request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatsResource {
    Cluster,
    Antrea,
    K8s,
}

impl StatsResource {
    fn from_plural(plural: &str) -> Option<Self> {
        match plural {
            CLUSTER_PLURAL => Some(StatsResource::Cluster),
            ANTREA_PLURAL => Some(StatsResource::Antrea),
            K8S_PLURAL => Some(StatsResource::K8s),
            _ => None,
        }
    }

    fn plural(self) -> &'static str {
        match self {
            StatsResource::Cluster => CLUSTER_PLURAL,
            StatsResource::Antrea => ANTREA_PLURAL,
            StatsResource::K8s => K8S_PLURAL,
        }
    }

    fn kind(self) -> &'static str {
        match self {
            StatsResource::Cluster => AntreaClusterNetworkPolicyStats::KIND,
            StatsResource::Antrea => AntreaNetworkPolicyStats::KIND,
            StatsResource::K8s => NetworkPolicyStats::KIND,
        }
    }

    /// What the `Sessions`/`Packets`/`Bytes` column descriptions call the policy.
    fn policy_words(self) -> &'static str {
        match self {
            StatsResource::Cluster => "Antrea ClusterNetworkPolicy",
            StatsResource::Antrea => "Antrea NetworkPolicy",
            StatsResource::K8s => "K8s NetworkPolicy",
        }
    }

    fn namespaced(self) -> bool {
        self != StatsResource::Cluster
    }
}

fn object(
    resource: StatsResource,
    namespace: Option<&str>,
    name: &str,
    c: &PolicyCounters,
) -> Value {
    let metadata = c.metadata(namespace, name);
    let value = match resource {
        StatsResource::Cluster => serde_json::to_value(AntreaClusterNetworkPolicyStats {
            metadata,
            traffic_stats: c.total,
            rule_traffic_stats: c.rules.clone(),
            ..AntreaClusterNetworkPolicyStats::default()
        }),
        StatsResource::Antrea => serde_json::to_value(AntreaNetworkPolicyStats {
            metadata,
            traffic_stats: c.total,
            rule_traffic_stats: c.rules.clone(),
            ..AntreaNetworkPolicyStats::default()
        }),
        StatsResource::K8s => serde_json::to_value(NetworkPolicyStats {
            metadata,
            traffic_stats: c.total,
            ..NetworkPolicyStats::default()
        }),
    };
    value.unwrap_or(Value::Null)
}

/// The empty object antrea-controller returns with the gate off.
fn empty_object(resource: StatsResource) -> Value {
    json!({
        "kind": resource.kind(),
        "apiVersion": STATS_API_VERSION,
        "metadata": {"creationTimestamp": null},
        "trafficStats": {},
    })
}

async fn serve(State(shared): State<Weak<Shared>>, request: Request<Body>) -> Response {
    let Some(shared) = shared.upgrade() else {
        return aggregated::service_unavailable();
    };
    if !shared.hooks.controller_is_up() {
        return aggregated::service_unavailable();
    }
    let request = ApiRequest::new(&request);
    let (resource, namespace, name) = match request.segments.as_slice() {
        [plural] => (StatsResource::from_plural(plural), None, None),
        [plural, name] => match StatsResource::from_plural(plural) {
            Some(StatsResource::Cluster) => (Some(StatsResource::Cluster), None, Some(name)),
            _ => (None, None, None),
        },
        [word, namespace, plural, rest @ ..] if word == "namespaces" && rest.len() <= 1 => {
            match StatsResource::from_plural(plural) {
                Some(resource) if resource.namespaced() => {
                    (Some(resource), Some(namespace.as_str()), rest.first())
                }
                _ => (None, None, None),
            }
        }
        _ => (None, None, None),
    };
    let Some(resource) = resource else {
        return aggregated::no_such_resource();
    };
    if request.method != http::Method::GET || request.is_watch() {
        return aggregated::method_not_allowed();
    }
    let table = match aggregated::table_request(&request) {
        Ok(table) => table,
        Err(response) => return *response,
    };
    let enabled = shared.options.stats.enabled;
    match name {
        Some(name) => {
            let object = if enabled {
                let data = shared.stats.data.lock();
                let counters = match (resource, namespace) {
                    (StatsResource::Cluster, _) => data.cluster.get(name),
                    (StatsResource::Antrea, Some(ns)) => {
                        data.antrea.get(&(ns.to_string(), name.clone()))
                    }
                    (StatsResource::K8s, Some(ns)) => data.k8s.get(&(ns.to_string(), name.clone())),
                    _ => None,
                };
                match counters {
                    Some(counters) => self::object(resource, namespace, name, counters),
                    None => return aggregated::not_found(STATS_GROUP, resource.plural(), name),
                }
            } else {
                empty_object(resource)
            };
            respond(resource, table, std::slice::from_ref(&object), None)
        }
        None => {
            let selector = match request.param("labelSelector").filter(|s| !s.is_empty()) {
                None => LabelSelector::everything(),
                Some(text) => match LabelSelector::parse(text) {
                    Ok(selector) => selector,
                    Err(error) => return aggregated::bad_request(&error.to_string()),
                },
            };
            if !enabled {
                return respond(resource, table, &[], Some(Value::Null));
            }
            // Stats objects carry no labels.
            if !selector.matches(&BTreeMap::new()) {
                return respond(resource, table, &[], Some(json!([])));
            }
            let data = shared.stats.data.lock();
            let items: Vec<Value> = match resource {
                StatsResource::Cluster => data
                    .cluster
                    .iter()
                    .map(|(name, c)| object(resource, None, name, c))
                    .collect(),
                StatsResource::Antrea | StatsResource::K8s => {
                    let table = if resource == StatsResource::Antrea {
                        &data.antrea
                    } else {
                        &data.k8s
                    };
                    table
                        .iter()
                        .filter(|((ns, _), _)| namespace.is_none_or(|wanted| wanted == ns))
                        .map(|((ns, name), c)| object(resource, Some(ns), name, c))
                        .collect()
                }
            };
            drop(data);
            let listed = Value::Array(items.clone());
            respond(resource, table, &items, Some(listed))
        }
    }
}

/// The answer to a get (`list` is `None`) or a list: the object(s), or a Table of them.
fn respond(
    resource: StatsResource,
    table: Option<TableRequest>,
    objects: &[Value],
    list: Option<Value>,
) -> Response {
    if let Some(request) = table {
        let words = resource.policy_words();
        let descriptions = [
            format!("The sessions count hit by the {words}."),
            format!("The packets count hit by the {words}."),
            format!("The bytes count hit by the {words}."),
        ];
        let columns = [
            Column {
                name: "Name",
                type_: "string",
                format: "name",
                description: aggregated::NAME_DESCRIPTION,
            },
            Column {
                name: "Sessions",
                type_: "integer",
                format: "",
                description: &descriptions[0],
            },
            Column {
                name: "Packets",
                type_: "integer",
                format: "",
                description: &descriptions[1],
            },
            Column {
                name: "Bytes",
                type_: "integer",
                format: "",
                description: &descriptions[2],
            },
            Column {
                name: "Created At",
                type_: "date",
                format: "",
                description: aggregated::CREATION_TIMESTAMP_DESCRIPTION,
            },
        ];
        let rows = objects
            .iter()
            .map(|object| {
                let stats = &object["trafficStats"];
                let count = |field: &str| stats.get(field).cloned().unwrap_or(json!(0));
                let created = object
                    .pointer("/metadata/creationTimestamp")
                    .and_then(Value::as_str)
                    .and_then(|text| text.parse::<jiff::Timestamp>().ok())
                    .map(aggregated::rfc3339)
                    .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string());
                let cells = vec![
                    object
                        .pointer("/metadata/name")
                        .cloned()
                        .unwrap_or(json!("")),
                    count("sessions"),
                    count("packets"),
                    count("bytes"),
                    json!(created),
                ];
                (cells, object)
            })
            .collect();
        return aggregated::json_response(
            StatusCode::OK,
            &aggregated::table(request, &columns, rows),
        );
    }
    match list {
        None => aggregated::json_response(StatusCode::OK, objects.first().unwrap_or(&Value::Null)),
        Some(items) => aggregated::json_response(
            StatusCode::OK,
            &json!({
                "kind": format!("{}List", resource.kind()),
                "apiVersion": STATS_API_VERSION,
                "metadata": {},
                "items": items,
            }),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_added_up_by_name_in_first_seen_order() {
        let now = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let mut counters = PolicyCounters::new("uid-1".into(), now);
        let one = TrafficStats {
            sessions: 1,
            packets: 10,
            bytes: 1000,
        };
        counters.add(Some("b"), &one);
        counters.add(Some("a"), &one);
        counters.add(Some("b"), &one);
        assert_eq!(counters.total.sessions, 3);
        assert_eq!(counters.rules.len(), 2);
        assert_eq!(counters.rules[0].name, "b");
        assert_eq!(counters.rules[0].traffic_stats.packets, 20);
        let meta = counters.metadata(Some("ns"), "p");
        assert_eq!(meta.uid.as_deref(), Some("uid-1"));
        let value = object(StatsResource::Antrea, Some("ns"), "p", &counters);
        assert_eq!(value["kind"], "AntreaNetworkPolicyStats");
        assert_eq!(value["ruleTrafficStats"][1]["name"], "a");
        assert_eq!(value["trafficStats"]["bytes"], 3000);
        let k8s = object(StatsResource::K8s, Some("ns"), "p", &counters);
        assert!(k8s.get("ruleTrafficStats").is_none());
    }

    #[test]
    fn a_restart_starts_counting_again() {
        let state = StatsState::new();
        let then = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let mut counters = PolicyCounters::new("uid".into(), then);
        counters.add(
            Some("r"),
            &TrafficStats {
                sessions: 1,
                packets: 1,
                bytes: 1,
            },
        );
        state.data.lock().cluster.insert("p".into(), counters);
        let now = jiff::Timestamp::from_second(1_700_000_600).unwrap();
        state.restart(now);
        let data = state.data.lock();
        let counters = &data.cluster["p"];
        assert_eq!(counters.uid, "uid");
        assert_eq!(counters.started, now);
        assert_eq!(counters.total, TrafficStats::default());
        assert!(counters.rules.is_empty());
    }

    #[test]
    fn the_disabled_answer_is_an_empty_object() {
        let value = empty_object(StatsResource::Cluster);
        assert_eq!(value["kind"], "AntreaClusterNetworkPolicyStats");
        assert_eq!(value["metadata"]["creationTimestamp"], Value::Null);
    }
}
