//! The NSX side I/O of the Antrea NSX adapters, with no Kubernetes dependency.
//!
//! - [`rest`]: the NSX REST client (several managers with failover, CA or thumbprint trust,
//!   client-certificate or basic authentication, typed `ApiError`s, retries on 429/503,
//!   cursor paging) and typed calls for inventory, registration and heartbeat config.
//! - [`channel`]: the adapter channel of `docs/protocol.md` (gRPC over mutual TLS):
//!   [`channel::control`] for the CCP adapter (desired state in, realization out) and
//!   [`channel::management`] for the MP adapter (heartbeats out, requests in).
//!
//! The process must install a rustls crypto provider (ring) before building clients.

pub mod channel;
pub mod rest;
