//! The MP adapter process: inventory, health, statistics, Traceflow, support bundles.
