//! The NSX adapter channel contract: our own documented, versioned gRPC protocol between
//! NSX Manager and the Antrea adapters of each cluster, over mutual TLS.
//!
//! The real channel (NSX-RPC through nsx-proxy to APH:1234 and CCP:1235) is proprietary,
//! so this one is ours. It is specified in `docs/protocol.md`; the wire form is in
//! `proto/antrea_nsx/channel/v1/*.proto`, compiled at build time with protox (no protoc).
//!
//! - [`v1`]: the generated messages, plus the two services as tonic clients and servers:
//!   [`control_plane_channel_server`] / [`control_plane_channel_client`] (NSX pushes
//!   desired state to the CCP adapter, which acknowledges and reports realization) and
//!   [`management_plane_channel_server`] / [`management_plane_channel_client`] (heartbeats
//!   with cluster health, and NSX's statistics, Traceflow, support-bundle and log requests
//!   to the MP adapter).
//! - [`tls`]: mutual-TLS configuration for both ends; [`peer`]: the peer certificate and
//!   its CN (the cluster id) on the server side.
//! - [`objects`]: the envelope around NSX JSON documents; [`version`]: version negotiation;
//!   [`limits`]: protocol defaults; [`capabilities`]: optional-feature strings;
//!   [`transport`]: keepalive settings for both ends.
//! - `ChannelError` builders and gRPC status mapping live beside the generated type.

mod errors;
pub mod objects;
pub mod peer;
pub mod tls;
pub mod version;

/// Generated messages, clients and servers of the `antrea_nsx.channel.v1` package.
pub mod v1 {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("antrea_nsx.channel.v1");
}

/// The encoded `google.protobuf.FileDescriptorSet` of the `antrea_nsx.channel.v1` files
/// (for gRPC reflection, and for tests that inspect the schema).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/antrea_nsx_channel_v1.bin"));

pub use v1::{
    control_plane_channel_client, control_plane_channel_server, management_plane_channel_client,
    management_plane_channel_server,
};

/// The defaults and bounds docs/protocol.md names, as constants both ends use.
pub mod limits {
    use std::time::Duration;

    /// Largest message either end accepts unless its hello/welcome says otherwise.
    pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
    /// Control plane: generations NSX may send beyond the last acknowledged one.
    pub const DEFAULT_MAX_UNACKED_GENERATIONS: u32 = 8;
    /// Management plane: requests NSX may have outstanding on one session.
    pub const DEFAULT_MAX_CONCURRENT_REQUESTS: u32 = 16;
    /// How long a side may stay silent before it sends a `Ping`.
    pub const DEFAULT_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
    /// A session is dead after this many keepalive intervals without any message.
    pub const KEEPALIVE_MISSES_BEFORE_DEAD: u32 = 3;
    /// Deadline of an `MpRequest` without a `timeout`.
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
    /// Chunk size of support-bundle and log data unless the request asks otherwise.
    pub const DEFAULT_CHUNK_BYTES: u32 = 256 * 1024;
    /// Largest chunk a request may ask for.
    pub const MAX_CHUNK_BYTES: u32 = 1024 * 1024;
    /// Objects per `SnapshotChunk` NSX aims for (it also keeps chunks under the size limit).
    pub const SNAPSHOT_OBJECTS_PER_CHUNK: usize = 500;
    /// NSX AntreaHeartbeatConfig.report_interval default, in seconds.
    pub const DEFAULT_HEARTBEAT_INTERVAL_SECONDS: u32 = 60;
    /// Lowest allowed heartbeat interval, in seconds.
    pub const MIN_HEARTBEAT_INTERVAL_SECONDS: u32 = 60;
    /// Highest allowed heartbeat interval, in seconds.
    pub const MAX_HEARTBEAT_INTERVAL_SECONDS: u32 = 600;
    /// NSX marks a cluster UNKNOWN after this many heartbeat intervals without one.
    pub const HEARTBEAT_MISSES_BEFORE_UNKNOWN: u32 = 3;
    /// Most container nodes in one support-bundle request.
    pub const MAX_SUPPORT_BUNDLE_NODES: usize = 200;
    /// How long NSX waits for the hello of a new session.
    pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
    /// How long an adapter waits for the welcome after its hello.
    pub const WELCOME_TIMEOUT: Duration = Duration::from_secs(30);
    /// How long after a request's deadline NSX still accepts its answer.
    pub const LATE_RESPONSE_GRACE: Duration = Duration::from_secs(5);
    /// How long an adapter remembers finished requests, to recognise a re-sent one.
    pub const REQUEST_REPLAY_WINDOW: Duration = Duration::from_secs(600);
    /// Bounds of `TraceflowStartRequest.trace_timeout` (Antrea's Traceflow timeout).
    pub const MIN_TRACE_TIMEOUT: Duration = Duration::from_secs(1);
    /// See [`MIN_TRACE_TIMEOUT`].
    pub const MAX_TRACE_TIMEOUT: Duration = Duration::from_secs(300);
    /// First reconnect delay of an adapter; doubled on each failure.
    pub const RECONNECT_BACKOFF_INITIAL: Duration = Duration::from_secs(1);
    /// Longest reconnect delay of an adapter.
    pub const RECONNECT_BACKOFF_MAX: Duration = Duration::from_secs(60);
    /// Reconnect delays vary randomly by up to this many percent either way.
    pub const RECONNECT_JITTER_PERCENT: u32 = 20;
}

/// Capability strings of hellos and welcomes (docs/protocol.md "Capabilities"). A receiver
/// ignores strings it does not know; the welcome carries the intersection.
pub mod capabilities {
    /// The MP adapter answers `PolicyStatisticsRequest` (Antrea's stats API is enabled).
    pub const MP_STATISTICS: &str = "mp.statistics";
    /// The MP adapter runs Traceflows.
    pub const MP_TRACEFLOW: &str = "mp.traceflow";
    /// The MP adapter collects support bundles.
    pub const MP_SUPPORT_BUNDLE: &str = "mp.support-bundle";
    /// The MP adapter collects logs.
    pub const MP_LOGS: &str = "mp.logs";

    /// The capabilities both ends offered, in the order of `ours`.
    pub fn intersection(ours: &[&str], theirs: &[String]) -> Vec<String> {
        ours.iter()
            .filter(|capability| theirs.iter().any(|offered| offered == *capability))
            .map(|capability| (*capability).to_owned())
            .collect()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn intersection_keeps_common_known_capabilities() {
            let theirs = vec![
                MP_LOGS.to_owned(),
                "mp.future-thing".to_owned(),
                MP_STATISTICS.to_owned(),
            ];
            assert_eq!(
                intersection(&[MP_STATISTICS, MP_TRACEFLOW, MP_LOGS], &theirs),
                vec![MP_STATISTICS.to_owned(), MP_LOGS.to_owned()]
            );
        }
    }
}

/// HTTP/2 and TCP keepalive settings both ends use, so a dead peer or a silently dropped
/// connection (NAT, firewall) is noticed within a minute even when no message flows.
pub mod transport {
    use std::time::Duration;

    use tonic::transport::{Endpoint, Server};

    /// Interval of HTTP/2 PING frames.
    pub const HTTP2_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(20);
    /// How long to wait for a PING acknowledgement before closing the connection.
    pub const HTTP2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
    /// TCP keepalive probe interval.
    pub const TCP_KEEPALIVE: Duration = Duration::from_secs(60);
    /// How long an adapter waits for a connection (TCP + TLS) to NSX.
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

    /// The adapter side: keepalive (also while idle) and a connect timeout.
    pub fn configure_endpoint(endpoint: Endpoint) -> Endpoint {
        endpoint
            .http2_keep_alive_interval(HTTP2_KEEPALIVE_INTERVAL)
            .keep_alive_timeout(HTTP2_KEEPALIVE_TIMEOUT)
            .keep_alive_while_idle(true)
            .tcp_keepalive(Some(TCP_KEEPALIVE))
            .connect_timeout(CONNECT_TIMEOUT)
    }

    /// The NSX side: a server builder with keepalive; add TLS and services to it.
    pub fn server_builder() -> Server {
        Server::builder()
            .http2_keepalive_interval(Some(HTTP2_KEEPALIVE_INTERVAL))
            .http2_keepalive_timeout(Some(HTTP2_KEEPALIVE_TIMEOUT))
            .tcp_keepalive(Some(TCP_KEEPALIVE))
    }
}
