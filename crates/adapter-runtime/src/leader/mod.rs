//! Lease-based leader election, so two replicas of the adapter Pod can run and only one
//! acts.
//!
//! It follows client-go's `leaderelection` package on a `coordination.k8s.io/v1` Lease
//! in the adapter's namespace:
//! - every `retry_period` a contender reads the Lease; it takes it when nobody holds it,
//!   or when the holder's record has not changed for `lease_duration` *as measured on the
//!   contender's own clock* (so clock skew between nodes does not matter);
//! - the leader renews every `retry_period` with an optimistic-concurrency update (PUT
//!   with the resourceVersion read); if it cannot renew for `renew_deadline`, it steps
//!   down (is-leader turns false) and campaigns again;
//! - [`LeaderElection::release`] (graceful shutdown) clears the holder, so a standby
//!   takes over at its next retry instead of waiting for the lease to expire. Dropping a
//!   [`LeaderElection`] without releasing behaves like a crash: the standby waits out the
//!   lease.
//!
//! The API calls are `get`, `create` and `update` on `leases` (see `deploy/01-rbac.yaml`).

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::PostParams;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The Lease of the MP adapter's replicas (named in `deploy/01-rbac.yaml`).
pub const MP_LEASE_NAME: &str = "antrea-nsx-mp-adapter";
/// The Lease of the CCP adapter's replicas (named in `deploy/01-rbac.yaml`).
pub const CCP_LEASE_NAME: &str = "antrea-nsx-ccp-adapter";

/// Tunables of an election (client-go's defaults: 15 s, 10 s, 2 s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderElectionOptions {
    /// Namespace of the Lease (the adapter's own namespace).
    pub namespace: String,
    /// Name of the Lease; every replica of one adapter uses the same name.
    pub lease_name: String,
    /// This replica's identity (unique per replica: the Pod name is the usual choice).
    pub identity: String,
    /// How long a standby waits after the holder's last renewal before taking over.
    /// Written to the Lease as whole seconds (at least 1).
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it steps down.
    pub renew_deadline: Duration,
    /// How often contenders try to acquire and the leader renews.
    pub retry_period: Duration,
}

impl LeaderElectionOptions {
    /// Options with client-go's default durations.
    pub fn new(
        namespace: impl Into<String>,
        lease_name: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        LeaderElectionOptions {
            namespace: namespace.into(),
            lease_name: lease_name.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    /// Checks the durations as client-go does: lease duration > renew deadline >
    /// retry period > 0, and names are present.
    pub fn validate(&self) -> Result<(), LeaderError> {
        let invalid = |message: &str| Err(LeaderError::InvalidOptions(message.to_string()));
        if self.namespace.is_empty() {
            return invalid("namespace must not be empty");
        }
        if self.lease_name.is_empty() {
            return invalid("lease_name must not be empty");
        }
        if self.identity.is_empty() {
            return invalid("identity must not be empty");
        }
        if self.lease_duration < Duration::from_secs(1) {
            return invalid("lease_duration must be at least 1s");
        }
        if self.retry_period.is_zero() {
            return invalid("retry_period must be greater than zero");
        }
        if self.lease_duration <= self.renew_deadline {
            return invalid("lease_duration must be greater than renew_deadline");
        }
        if self.renew_deadline <= self.retry_period {
            return invalid("renew_deadline must be greater than retry_period");
        }
        Ok(())
    }

    fn lease_duration_seconds(&self) -> i32 {
        i32::try_from(self.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX)
    }
}

/// This replica's default identity: `$POD_NAME`, else `$HOSTNAME`, else `adapter`, plus a
/// random suffix so two processes on one host never share an identity.
pub fn default_identity() -> String {
    let base = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "adapter".to_string());
    let suffix = Timestamp::now().as_nanosecond() as u64 ^ u64::from(std::process::id());
    format!("{base}_{:08x}", suffix & 0xffff_ffff)
}

/// Errors of leader election.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("invalid leader election options: {0}")]
    InvalidOptions(String),
    #[error("releasing the Lease {namespace}/{name}: {source}")]
    Release {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("the leader election task failed: {0}")]
    Task(String),
}

/// A running election: watch [`LeaderElection::is_leader`], call
/// [`LeaderElection::release`] on shutdown.
#[derive(Debug)]
pub struct LeaderElection {
    is_leader: watch::Receiver<bool>,
    stop: CancellationToken,
    task: Option<JoinHandle<Result<(), LeaderError>>>,
}

impl LeaderElection {
    /// Validates the options and starts campaigning in a background task.
    pub fn start(
        client: kube::Client,
        options: LeaderElectionOptions,
    ) -> Result<LeaderElection, LeaderError> {
        options.validate()?;
        let (sender, is_leader) = watch::channel(false);
        let stop = CancellationToken::new();
        let elector = Elector {
            api: Api::namespaced(client, &options.namespace),
            options,
            observed: None,
            sender,
        };
        let task = tokio::spawn(elector.run(stop.clone()));
        Ok(LeaderElection {
            is_leader,
            stop,
            task: Some(task),
        })
    }

    /// True while this replica leads. Turns false when it steps down or is released.
    pub fn is_leader(&self) -> watch::Receiver<bool> {
        self.is_leader.clone()
    }

    /// Graceful shutdown: stops campaigning and, if this replica leads, turns is-leader
    /// false and then clears the Lease's holder so a standby takes over at its next try.
    /// Stop the work guarded by leadership before calling this.
    pub async fn release(mut self) -> Result<(), LeaderError> {
        self.stop.cancel();
        match self.task.take() {
            Some(task) => task
                .await
                .map_err(|join| LeaderError::Task(join.to_string()))?,
            None => Ok(()),
        }
    }
}

/// Runs `work` only while this replica leads, until `shutdown`.
///
/// Each time leadership is gained, `work` is called with a fresh token and its future is
/// driven; when leadership is lost the token is cancelled and the future is awaited to
/// its end before campaigning goes on (the work must stop writing promptly once its
/// token is cancelled). On `shutdown` the running work is cancelled and awaited (so it can
/// flush), and only then is the Lease released, so the standby never overlaps with it.
pub async fn run_as_leader<F, Fut>(
    election: LeaderElection,
    shutdown: CancellationToken,
    mut work: F,
) -> Result<(), LeaderError>
where
    F: FnMut(CancellationToken) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut leads = election.is_leader();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            changed = leads.wait_for(|leading| *leading) => {
                if changed.is_err() {
                    break;
                }
            }
        }
        let token = shutdown.child_token();
        let running = work(token.clone());
        tokio::pin!(running);
        let finished_alone = tokio::select! {
            () = &mut running => true,
            _ = leads.wait_for(|leading| !*leading) => false,
            _ = shutdown.cancelled() => false,
        };
        token.cancel();
        if !finished_alone {
            running.await;
        }
        if shutdown.is_cancelled() {
            break;
        }
        if finished_alone {
            // The work ended by itself while leading: wait for the next term.
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = leads.wait_for(|leading| !*leading) => {}
            }
        }
    }
    election.release().await
}

impl Drop for LeaderElection {
    /// Dropping without [`LeaderElection::release`] abandons the Lease as a crash would.
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The Lease record as last seen, with the local time it was first seen that way.
#[derive(Debug, Clone)]
struct Observation {
    holder: Option<String>,
    renew_time: Option<Timestamp>,
    lease_duration: Duration,
    resource_version: Option<String>,
    seen_at: Instant,
}

struct Elector {
    api: Api<Lease>,
    options: LeaderElectionOptions,
    observed: Option<Observation>,
    sender: watch::Sender<bool>,
}

/// The outcome of one acquire-or-renew attempt.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    /// We hold the Lease (acquired or renewed).
    Held,
    /// Someone else holds a valid Lease.
    HeldByOther,
    /// The API call failed (transient: retried).
    Failed,
}

impl Elector {
    async fn run(mut self, stop: CancellationToken) -> Result<(), LeaderError> {
        let options = self.options.clone();
        tracing::info!(
            lease = %format!("{}/{}", options.namespace, options.lease_name),
            identity = %options.identity,
            "leader election: campaigning"
        );
        loop {
            // Campaign until we hold the Lease.
            loop {
                if self.try_acquire_or_renew().await == Attempt::Held {
                    break;
                }
                tokio::select! {
                    _ = stop.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(options.retry_period) => {}
                }
            }
            tracing::info!(identity = %options.identity, "leader election: became the leader");
            self.sender.send_replace(true);

            // Renew until we fail for renew_deadline, or are stopped.
            let mut last_renewal = Instant::now();
            loop {
                tokio::select! {
                    _ = stop.cancelled() => {
                        self.sender.send_replace(false);
                        return self.release().await;
                    }
                    _ = tokio::time::sleep(options.retry_period) => {}
                }
                match self.try_acquire_or_renew().await {
                    Attempt::Held => last_renewal = Instant::now(),
                    Attempt::HeldByOther => {
                        tracing::warn!(identity = %options.identity, "leader election: the Lease was taken by another holder");
                        break;
                    }
                    Attempt::Failed if last_renewal.elapsed() >= options.renew_deadline => {
                        tracing::warn!(identity = %options.identity, "leader election: could not renew within the renew deadline");
                        break;
                    }
                    Attempt::Failed => {}
                }
            }
            self.sender.send_replace(false);
            tracing::info!(identity = %options.identity, "leader election: stepped down");
        }
    }

    fn now() -> MicroTime {
        MicroTime(Timestamp::now())
    }

    /// Records what the Lease says; the observation time moves only when the record
    /// changed (holder, renew time or duration).
    fn observe(&mut self, lease: &Lease) {
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.filter(|h| !h.is_empty());
        let renew_time = spec.renew_time.map(|t| t.0);
        let lease_duration = Duration::from_secs(
            u64::try_from(spec.lease_duration_seconds.unwrap_or(0)).unwrap_or(0),
        );
        let resource_version = lease.metadata.resource_version.clone();
        let unchanged = self.observed.as_ref().is_some_and(|o| {
            o.holder == holder && o.renew_time == renew_time && o.lease_duration == lease_duration
        });
        let seen_at = match (&self.observed, unchanged) {
            (Some(previous), true) => previous.seen_at,
            _ => Instant::now(),
        };
        self.observed = Some(Observation {
            holder,
            renew_time,
            lease_duration,
            resource_version,
            seen_at,
        });
    }

    async fn try_acquire_or_renew(&mut self) -> Attempt {
        let options = self.options.clone();
        let existing = match self.api.get_opt(&options.lease_name).await {
            Ok(existing) => existing,
            Err(error) => {
                tracing::debug!(%error, "leader election: reading the Lease failed");
                return Attempt::Failed;
            }
        };
        let Some(existing) = existing else {
            return self.create().await;
        };
        self.observe(&existing);
        let Some(observed) = self.observed.clone() else {
            return Attempt::Failed;
        };
        let ours = observed.holder.as_deref() == Some(options.identity.as_str());
        let expired = observed.seen_at.elapsed() >= observed.lease_duration;
        if !ours && observed.holder.is_some() && !expired {
            return Attempt::HeldByOther;
        }
        let previous = existing.spec.clone().unwrap_or_default();
        let now = Self::now();
        let spec = LeaseSpec {
            holder_identity: Some(options.identity.clone()),
            lease_duration_seconds: Some(options.lease_duration_seconds()),
            renew_time: Some(now.clone()),
            acquire_time: if ours {
                previous.acquire_time.clone().or(Some(now))
            } else {
                Some(now)
            },
            lease_transitions: Some(if ours {
                previous.lease_transitions.unwrap_or(0)
            } else {
                previous.lease_transitions.unwrap_or(0) + i32::from(observed.holder.is_some())
            }),
            ..previous
        };
        let mut lease = existing;
        lease.metadata.resource_version = observed.resource_version;
        lease.metadata.managed_fields = None;
        lease.spec = Some(spec);
        match self
            .api
            .replace(&options.lease_name, &PostParams::default(), &lease)
            .await
        {
            Ok(updated) => {
                self.observe(&updated);
                Attempt::Held
            }
            Err(error) => {
                tracing::debug!(%error, "leader election: updating the Lease failed");
                Attempt::Failed
            }
        }
    }

    async fn create(&mut self) -> Attempt {
        let options = self.options.clone();
        let now = Self::now();
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(options.lease_name.clone()),
                namespace: Some(options.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(options.identity.clone()),
                lease_duration_seconds: Some(options.lease_duration_seconds()),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        match self.api.create(&PostParams::default(), &lease).await {
            Ok(created) => {
                self.observe(&created);
                Attempt::Held
            }
            Err(error) => {
                tracing::debug!(%error, "leader election: creating the Lease failed");
                Attempt::Failed
            }
        }
    }

    /// Clears the holder if we still hold the Lease (client-go's ReleaseOnCancel).
    async fn release(&mut self) -> Result<(), LeaderError> {
        let options = self.options.clone();
        let release_error = |source| LeaderError::Release {
            namespace: options.namespace.clone(),
            name: options.lease_name.clone(),
            source,
        };
        let Some(mut lease) = self
            .api
            .get_opt(&options.lease_name)
            .await
            .map_err(release_error)?
        else {
            return Ok(());
        };
        let mut spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(options.identity.as_str()) {
            return Ok(());
        }
        let now = Self::now();
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(now.clone());
        spec.acquire_time = Some(now);
        lease.spec = Some(spec);
        lease.metadata.managed_fields = None;
        self.api
            .replace(&options.lease_name, &PostParams::default(), &lease)
            .await
            .map_err(release_error)?;
        tracing::info!(identity = %options.identity, "leader election: released the Lease");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked_like_client_go() {
        let good = LeaderElectionOptions::new("ns", "lease", "me");
        good.validate().unwrap();
        let cases: Vec<(LeaderElectionOptions, &str)> = vec![
            (
                LeaderElectionOptions {
                    renew_deadline: Duration::from_secs(15),
                    ..good.clone()
                },
                "lease_duration must be greater than renew_deadline",
            ),
            (
                LeaderElectionOptions {
                    retry_period: Duration::from_secs(10),
                    ..good.clone()
                },
                "renew_deadline must be greater than retry_period",
            ),
            (
                LeaderElectionOptions {
                    retry_period: Duration::ZERO,
                    ..good.clone()
                },
                "retry_period must be greater than zero",
            ),
            (
                LeaderElectionOptions {
                    lease_duration: Duration::from_millis(500),
                    renew_deadline: Duration::from_millis(400),
                    retry_period: Duration::from_millis(100),
                    ..good.clone()
                },
                "lease_duration must be at least 1s",
            ),
            (
                LeaderElectionOptions {
                    identity: String::new(),
                    ..good.clone()
                },
                "identity must not be empty",
            ),
        ];
        for (options, message) in cases {
            let error = options.validate().unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("invalid leader election options: {message}")
            );
        }
    }

    #[test]
    fn a_default_identity_has_a_base_and_a_suffix() {
        let one = default_identity();
        let (base, suffix) = one.rsplit_once('_').expect("a suffix");
        assert!(!base.is_empty(), "{one}");
        assert_eq!(suffix.len(), 8, "{one}");
        assert!(suffix.chars().all(|c| c.is_ascii_hexdigit()), "{one}");
    }
}
