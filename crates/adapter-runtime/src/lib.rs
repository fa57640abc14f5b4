//! The two adapter processes as libraries, so the binary only parses the command line and
//! tests run them in-process.
//!
//! - [`ccp`]: the CCP adapter: NSX desired state → translation → plan → apply → realization.
//! - [`mp`]: the MP adapter: inventory, health, statistics, Traceflow, support bundles.
//! - [`config`]: VMware's bootstrap-config, mp-adapter.conf and ccp-adapter.conf, plus ours.
//! - [`registration`]: register and deregister the cluster with NSX.
//! - [`observability`]: `/livez`, `/readyz` and `/metrics` on each adapter's API port.
//! - [`leader`]: Lease-based leader election.
//! - [`process`]: one adapter process from its configuration: API port, leader election,
//!   the adapter, and its state mirrored into readiness, status and metrics.

pub mod ccp;
pub mod config;
pub mod leader;
pub mod mp;
pub mod observability;
pub mod process;
pub mod registration;
