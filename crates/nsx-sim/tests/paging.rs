//! Cursor paging across thousands of objects.

mod common;

use std::collections::BTreeSet;

use common::{Client, antrea_group, start};
use serde_json::{Value, json};

const GROUPS: usize = 2500;
const LIST: &str = "/policy/api/v1/infra/domains/default/groups";

async fn walk(admin: &Client, query: &str) -> (Vec<Value>, usize) {
    let mut results = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{LIST}?{query}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page = admin.get(&url).await.expect(200).body;
        pages += 1;
        assert_eq!(
            page["result_count"],
            json!(GROUPS),
            "result_count on every page"
        );
        results.extend(page["results"].as_array().unwrap().iter().cloned());
        match page.get("cursor").and_then(Value::as_str) {
            Some(c) => {
                assert!(!c.starts_with("0000"));
                cursor = Some(c.to_owned());
            }
            None => break,
        }
        assert!(pages < 100, "paging does not end");
    }
    (results, pages)
}

#[tokio::test]
async fn paging_across_thousands_of_groups() {
    let sim = start().await;
    let admin = Client::admin(&sim);
    let children: Vec<Value> = (0..GROUPS)
        .map(|i| {
            let mut group = antrea_group(&format!("g-{i:05}"), &format!("app|{i}"));
            group["display_name"] = json!(format!("name-{:05}", (i * 7919) % GROUPS));
            json!({"resource_type": "ChildGroup", "Group": group})
        })
        .collect();
    admin
        .patch(
            "/policy/api/v1/infra",
            json!({"resource_type": "Infra", "children": [
                {"resource_type": "ChildResourceReference", "id": "default", "target_type": "Domain", "children": children}]}),
        )
        .await
        .expect(200);

    // Default page size is 1000; the last page has no cursor.
    let (all, pages) = walk(&admin, "").await;
    assert_eq!(pages, 3);
    assert_eq!(all.len(), GROUPS);
    let ids: Vec<&str> = all.iter().map(|g| g["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), GROUPS);

    // Smaller pages, sorted by another field, descending.
    let (by_name, pages) = walk(
        &admin,
        "page_size=300&sort_by=display_name&sort_ascending=false",
    )
    .await;
    assert_eq!(pages, 9);
    assert_eq!(by_name.len(), GROUPS);
    let names: Vec<&str> = by_name
        .iter()
        .map(|g| g["display_name"].as_str().unwrap())
        .collect();
    assert!(names.windows(2).all(|w| w[0] >= w[1]));

    // included_fields trims every result.
    let page = admin
        .get(&format!(
            "{LIST}?page_size=5&included_fields=id,display_name"
        ))
        .await
        .body;
    for g in page["results"].as_array().unwrap() {
        let keys: BTreeSet<&str> = g.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["id", "display_name"]));
    }

    // Deleting objects between pages neither repeats nor skips the others.
    let first = admin.get(&format!("{LIST}?page_size=1000")).await.body;
    let cursor = first["cursor"].as_str().unwrap().to_owned();
    admin
        .delete(&common::group_url("g-00999"))
        .await
        .expect(200);
    admin
        .delete(&common::group_url("g-01000"))
        .await
        .expect(200);
    let second = admin
        .get(&format!("{LIST}?page_size=1000&cursor={cursor}"))
        .await
        .body;
    assert_eq!(second["results"][0]["id"], "g-01001");
    assert_eq!(second["result_count"], json!(GROUPS - 2));
    sim.shutdown().await.unwrap();
}
