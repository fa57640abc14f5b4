//! Calls to Antrea's APIs for NSX: policy statistics, Traceflow, support bundles.
