//! What one policy's translation looked at outside its own document: the groups and services
//! it resolved and whether it consulted the span's count of Application policies. The
//! translator keeps this next to the result, so a later span re-translates the policy only
//! when one of these inputs differs.

use std::cell::{Cell, RefCell};

/// The inputs a policy translation read, in the order read (repeats included).
#[derive(Debug, Default)]
pub struct ReadLog {
    groups: RefCell<Vec<String>>,
    services: RefCell<Vec<String>>,
    application_policies: Cell<bool>,
}

impl ReadLog {
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn group(&self, path: &str) {
        self.groups.borrow_mut().push(path.to_owned());
    }

    pub(crate) fn service(&self, path: &str) {
        self.services.borrow_mut().push(path.to_owned());
    }

    pub(crate) fn application_policies(&self) {
        self.application_policies.set(true);
    }

    /// The group paths read, sorted and without repeats.
    pub fn take_groups(&self) -> Vec<String> {
        let mut paths = self.groups.take();
        paths.sort_unstable();
        paths.dedup();
        paths
    }

    /// The service paths read, sorted and without repeats.
    pub fn take_services(&self) -> Vec<String> {
        let mut paths = self.services.take();
        paths.sort_unstable();
        paths.dedup();
        paths
    }

    /// Whether the count of Application policies was read; resets it.
    pub fn take_application_policies(&self) -> bool {
        self.application_policies.replace(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_sorted_deduplicated_and_reset_when_taken() {
        let log = ReadLog::new();
        log.group("/b");
        log.group("/a");
        log.group("/b");
        log.service("/s");
        log.application_policies();
        assert_eq!(log.take_groups(), vec!["/a".to_owned(), "/b".to_owned()]);
        assert_eq!(log.take_services(), vec!["/s".to_owned()]);
        assert!(log.take_application_policies());
        assert!(log.take_groups().is_empty());
        assert!(!log.take_application_policies());
    }
}
