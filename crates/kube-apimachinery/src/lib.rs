//! Kubernetes API machinery with no I/O: what kube-apiserver computes, as plain functions.
//!
//! The emulator (`kube-emu`) is the only server around it; keeping these rules pure lets
//! them be tested exhaustively and reused (selectors and schemas are needed by the Antrea
//! emulation too).

pub mod registry;
pub mod field_error;
pub mod validation;
pub mod selector;
pub mod discovery;
pub mod openapi;
pub mod table;
pub mod schema;
pub mod merge;
pub mod strategic;
pub mod managed_fields;
pub mod protobuf;
