//! The CCP adapter's Kubernetes I/O: the [`applier`] that carries out a plan (server-side
//! apply in dependency order, bounded concurrency, retries, ownership checks), and the
//! [`reflector`] of owned objects with their status, whose change signal drives drift
//! repair.
//!
//! The pure parts (translation, plan, realization) are in `adapter_core::ccp`; the loop that
//! ties them together is `adapter_runtime::ccp`.

pub mod applier;
pub mod reflector;

pub use applier::{
    Applier, ApplierCounters, ApplierOptions, ApplyOutcome, FIELD_MANAGER, StepResult,
};
pub use reflector::OwnedObjects;
