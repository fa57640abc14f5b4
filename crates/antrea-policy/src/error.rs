//! Errors: objects the index cannot store, and packets that cannot be evaluated.

/// An object the index cannot store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    #[error("{kind} has no metadata.name")]
    MissingName { kind: &'static str },
    #[error("{kind} has no metadata.namespace")]
    MissingNamespace { kind: &'static str },
    #[error("EndpointSlice has no kubernetes.io/service-name label")]
    EndpointSliceWithoutService,
}

/// A packet that cannot be evaluated. Messages follow the Antrea agent's Traceflow errors where
/// it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvaluationError {
    #[error("failed to get the source Pod: pods \"{name}\" not found")]
    SourcePodNotFound { namespace: String, name: String },
    #[error(
        "using hostNetwork Pod {namespace}/{name} as source in non-live-traffic Traceflow is not supported"
    )]
    SourcePodHostNetwork { namespace: String, name: String },
    #[error("source Pod {namespace}/{name} is not scheduled to a Node")]
    SourcePodNotScheduled { namespace: String, name: String },
    #[error("source Pod {namespace}/{name} has no {} address", family(*ipv6))]
    SourcePodWithoutAddress {
        namespace: String,
        name: String,
        ipv6: bool,
    },
    #[error("failed to get the destination Pod: pods \"{name}\" not found")]
    DestinationPodNotFound { namespace: String, name: String },
    #[error("destination Pod {namespace}/{name} has no {} address", family(*ipv6))]
    DestinationPodWithoutAddress {
        namespace: String,
        name: String,
        ipv6: bool,
    },
    #[error("failed to get the destination Service: services \"{name}\" not found")]
    ServiceNotFound { namespace: String, name: String },
    #[error("destination Service {namespace}/{name} has no {} ClusterIP", family(*ipv6))]
    ServiceWithoutClusterIp {
        namespace: String,
        name: String,
        ipv6: bool,
    },
    #[error("destination Service {namespace}/{name} has no Endpoints")]
    ServiceWithoutEndpoints { namespace: String, name: String },
    #[error("invalid Traceflow: {0}")]
    InvalidTraceflow(String),
}

fn family(ipv6: bool) -> &'static str {
    if ipv6 { "IPv6" } else { "IPv4" }
}
