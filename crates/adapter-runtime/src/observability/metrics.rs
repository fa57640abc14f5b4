//! The Prometheus metric families of the two adapters.
//!
//! The adapter loops keep plain atomic counters; the wiring copies them into these
//! families (with [`set_total`] for counters and [`set_gauges`] for labelled gauges) just
//! before a scrape or on a short tick. Every name starts with `antrea_nsx_ccp_` or
//! `antrea_nsx_mp_`; counters get `_total` appended by the encoder. `docs/operations.md`
//! lists them with their meaning.

use std::sync::atomic::Ordering;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// `kind="..."`: an object kind or an error kind.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

/// `state="..."`: a realization state.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: String,
}

/// `operation="..."`: a write operation (`create`, `update`, `patch`, `delete`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: String,
}

/// `result="..."`: `success` or `failure`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: String,
}

impl KindLabels {
    pub fn new(kind: impl Into<String>) -> Self {
        KindLabels { kind: kind.into() }
    }
}

impl StateLabels {
    pub fn new(state: impl Into<String>) -> Self {
        StateLabels {
            state: state.into(),
        }
    }
}

impl OperationLabels {
    pub fn new(operation: impl Into<String>) -> Self {
        OperationLabels {
            operation: operation.into(),
        }
    }
}

impl ResultLabels {
    pub fn new(result: impl Into<String>) -> Self {
        ResultLabels {
            result: result.into(),
        }
    }
}

/// Raises a counter to `total` (a running total kept elsewhere). Never lowers it, so
/// the counter stays monotonic even if the source is read out of order.
pub fn set_total(counter: &Counter, total: u64) {
    counter.inner().fetch_max(total, Ordering::Relaxed);
}

/// Replaces the gauges of a family with `values`: label values absent from `values`
/// disappear from the output (pass a 0 to keep showing an emptied state).
pub fn set_gauges<L, I, S>(family: &Family<L, Gauge>, values: I, label: impl Fn(String) -> L)
where
    L: Clone + std::hash::Hash + Eq + EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static,
    I: IntoIterator<Item = (S, i64)>,
    S: Into<String>,
{
    let values: Vec<(L, i64)> = values
        .into_iter()
        .map(|(key, value)| (label(key.into()), value))
        .collect();
    family.clear();
    for (labels, value) in values {
        family.get_or_create(&labels).set(value);
    }
}

/// The CCP adapter's metrics (`antrea_nsx_ccp_*`).
#[derive(Debug, Clone, Default)]
pub struct CcpMetricsFamilies {
    /// 1 while the CCP channel to NSX is connected.
    pub channel_connected: Gauge,
    /// The newest desired-state generation received from NSX.
    pub generation_received: Gauge,
    /// The generation whose plan was last applied to Kubernetes.
    pub generation_applied: Gauge,
    /// Received minus applied generation (0 when caught up).
    pub generation_lag: Gauge,
    /// NSX desired-state objects held, by kind (`policy`, `rule`, `group`, ...).
    pub desired_objects: Family<KindLabels, Gauge>,
    /// Antrea objects by realization state (`realized`, `pending`, `failed`, ...).
    pub realization: Family<StateLabels, Gauge>,
    /// NSX rules that cannot be translated (reported back to NSX as errors).
    pub untranslatable_objects: Gauge,
    /// Writes to the Kubernetes API by operation.
    pub kubernetes_writes: Family<OperationLabels, Counter>,
    /// Errors by kind (`channel`, `kubernetes`, `translation`, ...).
    pub errors: Family<KindLabels, Counter>,
    /// Reconnections of the CCP channel.
    pub reconnects: Counter,
    /// 1 while this replica holds the leader Lease.
    pub leader: Gauge,
    /// 1 while `/readyz` answers 200.
    pub ready: Gauge,
}

impl CcpMetricsFamilies {
    /// Registers every family under `antrea_nsx_ccp_` and returns the handles.
    pub fn register(registry: &mut Registry) -> Self {
        let families = CcpMetricsFamilies::default();
        let r = registry.sub_registry_with_prefix("antrea_nsx_ccp");
        r.register(
            "channel_connected",
            "1 while the CCP channel to NSX is connected",
            families.channel_connected.clone(),
        );
        r.register(
            "generation_received",
            "Newest desired-state generation received from NSX",
            families.generation_received.clone(),
        );
        r.register(
            "generation_applied",
            "Desired-state generation last applied to Kubernetes",
            families.generation_applied.clone(),
        );
        r.register(
            "generation_lag",
            "Received minus applied desired-state generation",
            families.generation_lag.clone(),
        );
        r.register(
            "desired_objects",
            "NSX desired-state objects held, by kind",
            families.desired_objects.clone(),
        );
        r.register(
            "realization_objects",
            "Antrea objects by realization state",
            families.realization.clone(),
        );
        r.register(
            "untranslatable_objects",
            "NSX policies and groups the translation refused (reported to NSX as errors)",
            families.untranslatable_objects.clone(),
        );
        r.register(
            "kubernetes_writes",
            "Writes to the Kubernetes API, by operation",
            families.kubernetes_writes.clone(),
        );
        r.register("errors", "Errors, by kind", families.errors.clone());
        r.register(
            "reconnects",
            "Reconnections of the CCP channel",
            families.reconnects.clone(),
        );
        r.register(
            "leader",
            "1 while this replica holds the leader Lease",
            families.leader.clone(),
        );
        r.register(
            "ready",
            "1 while the adapter is ready",
            families.ready.clone(),
        );
        families
    }

    /// Sets the three generation gauges from the received and applied generations.
    pub fn set_generations(&self, received: u64, applied: u64) {
        let received = i64::try_from(received).unwrap_or(i64::MAX);
        let applied = i64::try_from(applied).unwrap_or(i64::MAX);
        self.generation_received.set(received);
        self.generation_applied.set(applied);
        self.generation_lag
            .set(received.saturating_sub(applied).max(0));
    }
}

/// The MP adapter's metrics (`antrea_nsx_mp_*`).
#[derive(Debug, Clone, Default)]
pub struct MpMetricsFamilies {
    /// 1 while the MP adapter reaches NSX Manager.
    pub nsx_connected: Gauge,
    /// Inventory objects known to NSX, by NSX type (`ContainerProject`, ...).
    pub inventory_objects: Family<KindLabels, Gauge>,
    /// Inventory changes waiting to be sent.
    pub inventory_pending: Gauge,
    /// Inventory batches sent, by result.
    pub inventory_batches: Family<ResultLabels, Counter>,
    /// Inventory object updates sent (created, changed or deleted objects).
    pub inventory_updates: Counter,
    /// NSX requests answered over the management channel (statistics, Traceflow, support
    /// bundles, logs), by result (`success`, `failure`).
    pub requests: Family<ResultLabels, Counter>,
    /// Errors by kind (`nsx`, `kubernetes`, `inventory`, ...).
    pub errors: Family<KindLabels, Counter>,
    /// Reconnections to NSX Manager (including failovers to another manager).
    pub reconnects: Counter,
    /// 1 while this replica holds the leader Lease.
    pub leader: Gauge,
    /// 1 while `/readyz` answers 200.
    pub ready: Gauge,
}

impl MpMetricsFamilies {
    /// Registers every family under `antrea_nsx_mp_` and returns the handles.
    pub fn register(registry: &mut Registry) -> Self {
        let families = MpMetricsFamilies::default();
        let r = registry.sub_registry_with_prefix("antrea_nsx_mp");
        r.register(
            "nsx_connected",
            "1 while NSX Manager is reachable",
            families.nsx_connected.clone(),
        );
        r.register(
            "inventory_objects",
            "Inventory objects known to NSX, by NSX type",
            families.inventory_objects.clone(),
        );
        r.register(
            "inventory_pending",
            "Inventory changes waiting to be sent",
            families.inventory_pending.clone(),
        );
        r.register(
            "inventory_batches",
            "Inventory batches sent to NSX, by result",
            families.inventory_batches.clone(),
        );
        r.register(
            "inventory_updates",
            "Inventory object updates sent to NSX",
            families.inventory_updates.clone(),
        );
        r.register(
            "requests",
            "NSX requests answered (statistics, Traceflow, support bundles, logs), by result",
            families.requests.clone(),
        );
        r.register("errors", "Errors, by kind", families.errors.clone());
        r.register(
            "reconnects",
            "Reconnections to NSX Manager",
            families.reconnects.clone(),
        );
        r.register(
            "leader",
            "1 while this replica holds the leader Lease",
            families.leader.clone(),
        );
        r.register(
            "ready",
            "1 while the adapter is ready",
            families.ready.clone(),
        );
        families
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(registry: &Registry) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
        text
    }

    #[test]
    fn ccp_families_have_their_names_types_and_labels() {
        let mut registry = Registry::default();
        let ccp = CcpMetricsFamilies::register(&mut registry);
        ccp.set_generations(12, 9);
        set_gauges(
            &ccp.realization,
            [("realized", 7), ("pending", 2)],
            StateLabels::new,
        );
        ccp.kubernetes_writes
            .get_or_create(&OperationLabels::new("create"))
            .inc_by(3);
        ccp.errors.get_or_create(&KindLabels::new("channel")).inc();
        set_total(&ccp.reconnects, 4);
        let text = encode(&registry);
        for expected in [
            "# TYPE antrea_nsx_ccp_generation_lag gauge",
            "antrea_nsx_ccp_generation_received 12",
            "antrea_nsx_ccp_generation_applied 9",
            "antrea_nsx_ccp_generation_lag 3",
            "# TYPE antrea_nsx_ccp_realization_objects gauge",
            "antrea_nsx_ccp_realization_objects{state=\"realized\"} 7",
            "antrea_nsx_ccp_realization_objects{state=\"pending\"} 2",
            "# TYPE antrea_nsx_ccp_kubernetes_writes counter",
            "antrea_nsx_ccp_kubernetes_writes_total{operation=\"create\"} 3",
            "antrea_nsx_ccp_errors_total{kind=\"channel\"} 1",
            "antrea_nsx_ccp_reconnects_total 4",
            "# HELP antrea_nsx_ccp_leader 1 while this replica holds the leader Lease.",
        ] {
            assert!(
                text.lines().any(|line| line == expected),
                "missing {expected:?} in\n{text}"
            );
        }
    }

    #[test]
    fn set_gauges_replaces_the_whole_family() {
        let mut registry = Registry::default();
        let ccp = CcpMetricsFamilies::register(&mut registry);
        set_gauges(
            &ccp.realization,
            [("realized", 3), ("failed", 1), ("pending", 2)],
            StateLabels::new,
        );
        set_gauges(
            &ccp.realization,
            [("realized", 4), ("failed", 0)],
            StateLabels::new,
        );
        let text = encode(&registry);
        assert!(!text.contains("state=\"pending\""), "{text}");
        assert!(text.contains("antrea_nsx_ccp_realization_objects{state=\"failed\"} 0\n"));
        assert!(text.contains("antrea_nsx_ccp_realization_objects{state=\"realized\"} 4\n"));
    }

    #[test]
    fn totals_never_go_backwards() {
        let counter = Counter::default();
        set_total(&counter, 10);
        set_total(&counter, 7);
        assert_eq!(counter.get(), 10);
        set_total(&counter, 11);
        assert_eq!(counter.get(), 11);
    }

    #[test]
    fn generation_lag_is_never_negative() {
        let mut registry = Registry::default();
        let ccp = CcpMetricsFamilies::register(&mut registry);
        ccp.set_generations(3, 5);
        assert_eq!(ccp.generation_lag.get(), 0);
        ccp.set_generations(u64::MAX, 0);
        assert_eq!(ccp.generation_lag.get(), i64::MAX);
    }

    #[test]
    fn mp_families_have_their_names_types_and_labels() {
        let mut registry = Registry::default();
        let mp = MpMetricsFamilies::register(&mut registry);
        set_gauges(
            &mp.inventory_objects,
            [
                ("ContainerProject", 3),
                ("ContainerApplicationInstance", 40),
            ],
            KindLabels::new,
        );
        mp.inventory_batches
            .get_or_create(&ResultLabels::new("success"))
            .inc_by(5);
        mp.inventory_batches
            .get_or_create(&ResultLabels::new("failure"))
            .inc();
        set_total(&mp.inventory_updates, 43);
        mp.nsx_connected.set(1);
        let text = encode(&registry);
        for expected in [
            "# TYPE antrea_nsx_mp_inventory_objects gauge",
            "antrea_nsx_mp_inventory_objects{kind=\"ContainerProject\"} 3",
            "antrea_nsx_mp_inventory_objects{kind=\"ContainerApplicationInstance\"} 40",
            "# TYPE antrea_nsx_mp_inventory_batches counter",
            "antrea_nsx_mp_inventory_batches_total{result=\"success\"} 5",
            "antrea_nsx_mp_inventory_batches_total{result=\"failure\"} 1",
            "antrea_nsx_mp_inventory_updates_total 43",
            "antrea_nsx_mp_nsx_connected 1",
            "# TYPE antrea_nsx_mp_reconnects counter",
            "antrea_nsx_mp_reconnects_total 0",
        ] {
            assert!(
                text.lines().any(|line| line == expected),
                "missing {expected:?} in\n{text}"
            );
        }
    }
}
