//! The adapters' pure core, with no I/O: everything the CCP and MP adapters decide, as
//! plain functions over plain data, so that most of the product is tested without a
//! cluster, an NSX Manager or a clock.
pub mod ccp;
pub mod mp;
