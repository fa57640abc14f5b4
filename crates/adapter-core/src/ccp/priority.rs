//! Where NSX order lands in Antrea: one adapter-owned Tier per DFW category, and a policy
//! priority inside the tier.
//!
//! **Tiers.** As the real CCP adapter: `nsx-category-emergency` = 1, `-infrastructure` = 2,
//! `-environment` = 3, `-application` = 4. All four come before Antrea's own tiers (emergency
//! 50 ... application 250, baseline 253), keep NSX's category order, avoid every reserved
//! value (220, 251, 252, 254, 255) and add 4 tiers to Antrea's 6 (limit 20). Ethernet (layer 2)
//! has no tier: Antrea cannot enforce it.
//!
//! **Policy priorities.** A policy's priority is a function of its own `sequence_number`:
//!
//! ```text
//! priority = (1_000_000 + sequence_number × 1000 + tie) / 1_000_000
//! ```
//!
//! `sequence_number` is 0..=999,999, so priorities lie in [1.0, 1000.999999] inside Antrea's
//! [1, 10000]. `tie` (0..=999) orders policies of one category that share a sequence number
//! (NSX leaves their order undefined; we order them by NSX path). Because a priority depends
//! only on its own policy (and its tie group), inserting, removing or re-sequencing a policy
//! rewrites no other policy — except members of its tie group. Every value is an exact
//! quotient of integers below 2^53, so it is the correctly rounded double of a short decimal
//! (printed as e.g. `1.01` or `1.010002`), and distinct inputs give distinct, ordered values.

use std::collections::BTreeMap;

use nsx_model::policy::PolicyCategory;

/// The highest NSX `sequence_number`.
pub const MAX_SEQUENCE_NUMBER: i64 = 999_999;
/// Policies of one category that may share a sequence number.
pub const MAX_TIE_GROUP: usize = 1000;

/// An adapter-owned tier for one NSX category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CategoryTier {
    pub category: &'static str,
    pub name: &'static str,
    pub priority: i32,
}

/// The four tiers, in NSX precedence order.
pub const CATEGORY_TIERS: [CategoryTier; 4] = [
    CategoryTier {
        category: "Emergency",
        name: "nsx-category-emergency",
        priority: 1,
    },
    CategoryTier {
        category: "Infrastructure",
        name: "nsx-category-infrastructure",
        priority: 2,
    },
    CategoryTier {
        category: "Environment",
        name: "nsx-category-environment",
        priority: 3,
    },
    CategoryTier {
        category: "Application",
        name: "nsx-category-application",
        priority: 4,
    },
];

/// The tier of a layer-3 category (`None` for Ethernet, a missing or an unknown category).
pub fn tier_for(category: Option<&PolicyCategory>) -> Option<&'static CategoryTier> {
    let category = category?;
    CATEGORY_TIERS
        .iter()
        .find(|tier| tier.category == category.as_str())
}

/// The priority of a policy with this sequence number and tie index.
///
/// Panics never; callers keep `sequence_number` in 0..=[`MAX_SEQUENCE_NUMBER`] and `tie`
/// below [`MAX_TIE_GROUP`] (other values are clamped, which keeps the result in range).
pub fn policy_priority(sequence_number: i64, tie: usize) -> f64 {
    let sequence_number = sequence_number.clamp(0, MAX_SEQUENCE_NUMBER);
    let tie = tie.min(MAX_TIE_GROUP - 1) as i64;
    (1_000_000 + sequence_number * 1000 + tie) as f64 / 1_000_000.0
}

/// One policy to place: its tier, its sequence number and its path (the tie breaker).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Placement<'a> {
    pub tier: &'static str,
    pub sequence_number: i64,
    pub path: &'a str,
}

/// Why a policy has no priority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriorityError {
    /// More than [`MAX_TIE_GROUP`] policies of one tier share the sequence number.
    TooManyTies { sequence_number: i64, count: usize },
}

/// Priorities for a set of policies, by path.
pub fn allocate<'a>(
    placements: impl IntoIterator<Item = Placement<'a>>,
) -> BTreeMap<&'a str, Result<f64, PriorityError>> {
    let mut groups: BTreeMap<(&'static str, i64), Vec<&'a str>> = BTreeMap::new();
    for placement in placements {
        groups
            .entry((placement.tier, placement.sequence_number))
            .or_default()
            .push(placement.path);
    }
    let mut out = BTreeMap::new();
    for ((_, sequence_number), mut paths) in groups {
        paths.sort_unstable();
        let count = paths.len();
        for (tie, path) in paths.into_iter().enumerate() {
            let priority = if tie < MAX_TIE_GROUP {
                Ok(policy_priority(sequence_number, tie))
            } else {
                Err(PriorityError::TooManyTies {
                    sequence_number,
                    count,
                })
            };
            out.insert(path, priority);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use antrea_types::tier::{CNP_ADMIN_TIER_PRIORITY, RESERVED_TIER_PRIORITIES, SYSTEM_TIERS};

    use super::*;

    #[test]
    fn tiers_precede_antrea_tiers_in_category_order() {
        let lowest_system = SYSTEM_TIERS.iter().map(|t| t.priority).min().unwrap();
        let mut previous = -1;
        for tier in CATEGORY_TIERS {
            assert!(tier.priority > previous && tier.priority < lowest_system);
            assert!(!RESERVED_TIER_PRIORITIES.contains(&tier.priority));
            assert_ne!(tier.priority, CNP_ADMIN_TIER_PRIORITY);
            previous = tier.priority;
        }
        assert_eq!(
            tier_for(Some(&PolicyCategory::Environment)).map(|t| t.name),
            Some("nsx-category-environment")
        );
        assert_eq!(tier_for(Some(&PolicyCategory::Ethernet)), None);
        assert_eq!(tier_for(None), None);
        assert_eq!(
            tier_for(Some(&PolicyCategory::Other("Default".into()))),
            None
        );
    }

    #[test]
    fn priorities_are_short_decimals_in_range() {
        assert_eq!(policy_priority(0, 0), 1.0);
        assert_eq!(policy_priority(10, 0).to_string(), "1.01");
        assert_eq!(policy_priority(10, 2).to_string(), "1.010002");
        assert_eq!(policy_priority(MAX_SEQUENCE_NUMBER, 999), 1000.999999);
        assert!(policy_priority(i64::MAX, usize::MAX) <= 10000.0);
        assert!(policy_priority(-5, 0) >= 1.0);
    }

    #[test]
    fn ties_are_ordered_by_path_and_bounded() {
        let placements = ["/b", "/a", "/c"].map(|path| Placement {
            tier: "t",
            sequence_number: 5,
            path,
        });
        let priorities = allocate(placements);
        assert_eq!(priorities["/a"], Ok(1.005));
        assert_eq!(priorities["/b"], Ok(1.005001));
        assert_eq!(priorities["/c"], Ok(1.005002));

        let paths: Vec<String> = (0..=MAX_TIE_GROUP).map(|i| format!("/p{i:05}")).collect();
        let priorities = allocate(paths.iter().map(|path| Placement {
            tier: "t",
            sequence_number: 1,
            path,
        }));
        assert_eq!(
            priorities[paths[MAX_TIE_GROUP].as_str()],
            Err(PriorityError::TooManyTies {
                sequence_number: 1,
                count: MAX_TIE_GROUP + 1
            })
        );
    }
}
