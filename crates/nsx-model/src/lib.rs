//! The adapters' vocabulary for NSX, as NSX's own JSON: the policy intent the CCP adapter
//! receives (groups, services, security policies, rules) and the container inventory
//! records the MP adapter reports. No I/O.
//!
//! The NSX Manager simulator deliberately does not use these types (it keeps NSX documents
//! as JSON checked against NSX's schemas), so the two sides cannot agree on a wrong field.
pub mod inventory;
pub mod policy;
