//! Realization: which intent each Antrea cluster must enforce, and what the clusters report
//! back, as NSX's realized-state API shows it.
//!
//! * [`span`]: the span index (the desired state of each cluster, kept incrementally);
//! * [`feed`]: the index fed by the store's commits, and the change sets for sessions;
//! * [`state`]: the realization records from the adapters' reports (durable) and the
//!   consolidated status computed from them;
//! * [`routes`]: `GET /policy/api/v1/infra/realized-state/realized-entities`, `.../status`
//!   and `POST .../realized-entity?action=refresh`.

pub mod feed;
pub mod routes;
pub mod span;
pub mod state;

pub use routes::routes;
