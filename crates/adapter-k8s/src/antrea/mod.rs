//! Calls to Antrea's APIs for NSX: policy statistics, Traceflow, support bundles, and the
//! monitoring CRDs read for health.
//!
//! - [`stats`]: the ClusterNetworkPolicy the CCP adapter translated from an NSX policy (found
//!   by its ownership label and NSX path / unique id annotations), and its
//!   `antreaclusternetworkpolicystats` object from `stats.antrea.io`;
//! - [`traceflow`]: create an Antrea Traceflow, wait for it (queued, running, done), delete
//!   it, with Antrea's refusals mapped to the core's `TraceflowError`s;
//! - [`bundle`]: collect `system.antrea.io` support bundles from the controller and agents
//!   (through [`bundle::AgentAccess`]) and redact their archives;
//! - [`info`]: AntreaControllerInfo and AntreaAgentInfo reads.

pub mod bundle;
pub mod info;
pub mod stats;
pub mod traceflow;

/// What a call to Antrea's APIs failed with.
#[derive(Debug, thiserror::Error)]
pub enum AntreaError {
    /// The API server (or Antrea behind it) answered with an error or could not be reached.
    #[error("{context}: {source}")]
    Api {
        context: String,
        #[source]
        source: kube::Error,
    },
    /// An answer that does not read as expected.
    #[error("{context}: {message}")]
    Unexpected { context: String, message: String },
    /// The caller gave up (deadline or cancellation).
    #[error("{0}: cancelled")]
    Cancelled(String),
}

impl AntreaError {
    pub(crate) fn api(context: impl Into<String>, source: kube::Error) -> Self {
        AntreaError::Api {
            context: context.into(),
            source,
        }
    }

    /// The HTTP status of an API error, if the server answered.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            AntreaError::Api {
                source: kube::Error::Api(status),
                ..
            } => Some(status.code),
            _ => None,
        }
    }
}
