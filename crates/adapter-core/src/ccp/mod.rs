//! The pure heart of the CCP adapter: NSX distributed-firewall intent to Antrea objects, the
//! plan that brings a cluster to them, and the realization state NSX is told. No I/O.
//!
//! The I/O layer calls, in a loop:
//! 1. [`Translator::translate`] on the cluster's [`Span`] → [`Translation`] (the
//!    [`DesiredState`] and a [`Verdict`] per NSX policy and group);
//! 2. [`plan`] with the owned objects it listed ([`ObservedState`], by
//!    [`naming::ownership_selector`]) → a [`Plan`] of ordered creates, updates and deletes;
//! 3. after writing, [`realize`] with the re-listed objects (and their status), the write
//!    errors and the clock → a [`Realization`] per NSX object, for the realization report.
//!
//! docs/translation.md has the full mapping, the names and labels, the priority scheme and
//! every refusal with its reason.

pub mod check;
pub mod error;
pub mod groups;
pub mod ip;
pub mod naming;
pub mod objects;
pub mod plan;
pub mod policies;
pub mod priority;
pub mod reads;
pub mod realization;
pub mod services;
pub mod span;
pub mod translate;

pub use check::{CheckCache, ObjectSchemas, SchemaLoadError};
pub use error::{RealizationError, Reason};
pub use objects::{
    AntreaKind, AntreaObject, AntreaObjects, DesiredState, ObjectKey, ObservedState,
};
pub use plan::{Conflict, Plan, PlanAction, UpdateReason, plan};
pub use realization::{
    Realization, RealizationInput, RealizationState, WriteFailure, gone, realize,
};
pub use span::{ClusterIdentity, NsxIdentity, NsxKind, Span, SpanEntry};
pub use translate::{
    IpFamilies, Outcome, TranslateOptions, Translation, Translator, Verdict, category_tiers,
};
