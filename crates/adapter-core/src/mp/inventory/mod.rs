//! The container inventory the MP adapter reports to NSX (nsx-api.md §1; the mapping tables
//! are in docs/inventory.md):
//!
//! - [`project`]: pure projections of Kubernetes and Antrea objects to NSX records;
//! - [`tags`]: labels as NSX tags, within NSX's limits;
//! - [`InventoryProjector`]: watch events in, records out, with the cross-object
//!   dependencies (Services selecting Pods, Namespace and Node UIDs, agent health);
//! - [`InventoryIndex`]: the records kept in memory and the changes NSX must receive, as
//!   coalesced, batched, acknowledged deltas, plus the full comparison with NSX;
//! - [`delta`]: the field-level comparison behind sparse UPDATEs.

pub mod delta;
pub mod index;
pub mod project;
pub mod projector;
pub mod tags;

pub use delta::{RecordDelta, normalize_nsx_record, record_delta};
pub use index::{
    BatchId, DiffSummary, InventoryBatch, InventoryError, InventoryIndex, InventoryKey,
    RefusedRecord,
};
pub use project::ProjectionError;
pub use projector::{InventoryProjector, ProjectorError};
