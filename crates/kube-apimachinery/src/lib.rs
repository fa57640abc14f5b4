//! Kubernetes API machinery with no I/O: what kube-apiserver computes, as plain functions.
//!
//! The emulator (`kube-emu`) is the only server around it; keeping these rules pure lets
//! them be tested exhaustively and reused (selectors and schemas are needed by the Antrea
//! emulation too).

pub mod discovery;
pub mod field_error;
pub mod managed_fields;
pub mod merge;
pub mod openapi;
pub mod protobuf;
pub mod registry;
pub mod schema;
pub mod selector;
pub mod strategic;
pub mod table;
pub mod validation;
