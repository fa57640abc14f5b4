//! The two adapter processes as libraries, so the binary only parses the command line and
//! tests run them in-process.
//!
//! - [`ccp`]: the CCP adapter: NSX desired state → translation → plan → apply → realization.
//! - [`mp`]: the MP adapter: inventory, health, statistics, Traceflow, support bundles.
//! - [`config`]: VMware's bootstrap-config, mp-adapter.conf and ccp-adapter.conf, plus ours.
//! - [`registration`]: register and deregister the cluster with NSX.
//! - [`observability`]: `/livez`, `/readyz` and `/metrics` on each adapter's API port.
//! - [`leader`]: Lease-based leader election.

pub mod ccp;
pub mod config;
pub mod leader;
pub mod mp;
pub mod observability;
pub mod registration;
