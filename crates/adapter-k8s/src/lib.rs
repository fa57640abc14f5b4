//! The Kubernetes side I/O of the Antrea NSX adapters, with no NSX dependency.
//!
//! - [`policy`]: the CCP adapter's writes: the applier (server-side apply in dependency order,
//!   content hash, ownership-scoped garbage collection, bounded concurrency, retries), the
//!   reflector of owned objects with their status, and drift repair.
//! - [`inventory`]: the MP adapter's watches of every inventory kind, projected as they arrive.
//! - [`antrea`]: calls to Antrea's APIs on behalf of NSX: policy statistics, Traceflow and
//!   support bundles.

pub mod antrea;
pub mod inventory;
pub mod policy;
