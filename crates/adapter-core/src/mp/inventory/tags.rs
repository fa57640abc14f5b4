//! Kubernetes labels as NSX tags (nsx-api.md §1.3): a label key becomes the tag `scope`
//! with the `dis:k8s:` prefix NSX shows for discovered labels, the label value becomes the
//! `tag`. Within NSX's limits: at most [`MAX_LABEL_TAGS`] label tags (the first by key
//! order), a scope of at most [`MAX_SCOPE_CHARS`] characters (a longer key is cut and given
//! a hash suffix, so two long keys with the same beginning stay distinct), a tag of at most
//! [`MAX_TAG_CHARS`] characters, and at most [`MAX_TAGS`] tags on an object.

use std::collections::BTreeMap;

use nsx_model::inventory::Tag;
use sha2::{Digest, Sha256};

/// Scope prefix of tags made from Kubernetes labels.
pub const K8S_SCOPE_PREFIX: &str = "dis:k8s:";
/// Most label tags on one object (nsx-operator `InventoryMaxDisTags`).
pub const MAX_LABEL_TAGS: usize = 20;
/// Most tags on one NSX object.
pub const MAX_TAGS: usize = 30;
/// Longest tag scope, in characters.
pub const MAX_SCOPE_CHARS: usize = 128;
/// Longest tag value, in characters.
pub const MAX_TAG_CHARS: usize = 256;
/// Hex digits of the hash suffix of a shortened scope.
const HASH_SUFFIX_HEX: usize = 8;

/// The first `max` characters of `text`.
pub fn truncate_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// The scope of a label key: `dis:k8s:<key>`, or, for a key too long for 128 characters,
/// `dis:k8s:<beginning of key>-<8 hex digits of SHA-256(key)>`, exactly 128 characters.
pub fn label_scope(key: &str) -> String {
    let room = MAX_SCOPE_CHARS - K8S_SCOPE_PREFIX.len();
    if key.chars().count() <= room {
        return format!("{K8S_SCOPE_PREFIX}{key}");
    }
    let digest = hex::encode(Sha256::digest(key.as_bytes()));
    let kept = truncate_chars(key, room - HASH_SUFFIX_HEX - 1);
    format!("{K8S_SCOPE_PREFIX}{kept}-{}", &digest[..HASH_SUFFIX_HEX])
}

/// The tags of an object's labels (`BTreeMap` iterates in key order).
pub fn tags_from_labels(labels: Option<&BTreeMap<String, String>>) -> Vec<Tag> {
    let Some(labels) = labels else {
        return Vec::new();
    };
    labels
        .iter()
        .take(MAX_LABEL_TAGS.min(MAX_TAGS))
        .map(|(key, value)| Tag {
            scope: label_scope(key).into(),
            tag: truncate_chars(value, MAX_TAG_CHARS).into(),
        })
        .collect()
}

/// The labels of an untyped object (`metadata.labels`), as a sorted map; values that are not
/// strings are skipped.
pub fn labels_of_value(object: &serde_json::Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(serde_json::Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn labels_become_prefixed_scopes_sorted_by_key() {
        let tags = tags_from_labels(Some(&labels(&[("tier", "db"), ("app", "web")])));
        assert_eq!(
            tags,
            vec![
                Tag {
                    scope: "dis:k8s:app".into(),
                    tag: "web".into()
                },
                Tag {
                    scope: "dis:k8s:tier".into(),
                    tag: "db".into()
                },
            ]
        );
        assert!(tags_from_labels(None).is_empty());
    }

    #[test]
    fn at_most_twenty_label_tags_are_kept_the_first_by_key() {
        let many: BTreeMap<String, String> = (0..25)
            .map(|i| (format!("k{i:02}"), "v".to_owned()))
            .collect();
        let tags = tags_from_labels(Some(&many));
        assert_eq!(tags.len(), 20);
        assert_eq!(tags[0].scope, "dis:k8s:k00");
        assert_eq!(tags[19].scope, "dis:k8s:k19");
    }

    #[test]
    fn long_keys_are_cut_with_a_hash_suffix_and_stay_distinct() {
        let a = format!("example.com/{}", "a".repeat(200));
        let b = format!("example.com/{}b", "a".repeat(199));
        let (sa, sb) = (label_scope(&a), label_scope(&b));
        assert_eq!(sa.chars().count(), 128);
        assert_eq!(sb.chars().count(), 128);
        assert_ne!(sa, sb);
        assert!(sa.starts_with("dis:k8s:example.com/aaa"));
        // A key that just fits is kept whole.
        let fits = "k".repeat(120);
        assert_eq!(label_scope(&fits), format!("dis:k8s:{fits}"));
    }

    #[test]
    fn long_values_are_cut_to_256_characters() {
        let long = "é".repeat(300);
        let tags = tags_from_labels(Some(&labels(&[("k", &long)])));
        assert_eq!(tags[0].tag.chars().count(), 256);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn tags_always_fit_nsx_limits(
            labels in prop::collection::btree_map("[a-zé./-]{0,200}", "[a-zé.-]{0,300}", 0..40)
        ) {
            let tags = tags_from_labels(Some(&labels));
            prop_assert!(tags.len() <= MAX_LABEL_TAGS);
            prop_assert_eq!(tags.len(), labels.len().min(MAX_LABEL_TAGS));
            for tag in &tags {
                prop_assert!(tag.scope.chars().count() <= MAX_SCOPE_CHARS);
                prop_assert!(tag.tag.chars().count() <= MAX_TAG_CHARS);
                prop_assert!(tag.scope.starts_with(K8S_SCOPE_PREFIX));
            }
            let scopes: std::collections::BTreeSet<_> = tags.iter().map(|t| &t.scope).collect();
            prop_assert_eq!(scopes.len(), tags.len());
        }
    }
}
