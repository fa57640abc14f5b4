//! The container inventory the MP adapter reports to NSX (nsx-api.md §1).

pub mod delta;
pub mod index;

pub use delta::{RecordDelta, normalize_nsx_record, record_delta};
pub use index::{
    BatchId, DiffSummary, InventoryBatch, InventoryError, InventoryIndex, InventoryKey,
};
