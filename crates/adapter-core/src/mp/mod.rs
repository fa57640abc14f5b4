//! The MP adapter's pure core: the container inventory (projection of Kubernetes objects to
//! NSX records, and the deltas NSX must receive), the health heartbeat, policy statistics,
//! Traceflow mapping and support-bundle redaction. No I/O: the MP adapter's I/O layer feeds
//! these with watched objects and `now`, and sends what they produce.

pub mod bundle;
pub mod health;
pub mod heartbeat;
pub mod inventory;
pub mod stats;
pub mod traceflow;
