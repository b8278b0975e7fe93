//! `/user/list` at scale, as the real proxy pages it (`litellm-observed/scale/user_list_paging.json`):
//! users made by one bulk request share `created_at`, and the default order returns such ties
//! in a new order on every page; a unique sort key pages exactly.

mod common;

use std::collections::HashSet;

use common::start;
use litellm_emulator::EmulatorConfig;

/// Pages every user with `query` added, 100 a page: (rows, distinct ids, the total reported).
async fn page_all(api: &common::Api, query: &str) -> (usize, usize, u64) {
    let mut rows = 0;
    let mut ids = HashSet::new();
    let mut total = 0;
    for page in 1.. {
        let (s, list) = api
            .get(&format!("/user/list?page={page}&page_size=100{query}"))
            .await;
        assert_eq!(s, 200, "{list}");
        total = list["total"].as_u64().unwrap();
        let users = list["users"].as_array().unwrap();
        rows += users.len();
        ids.extend(
            users
                .iter()
                .map(|u| u["user_id"].as_str().unwrap().to_string()),
        );
        if page >= list["total_pages"].as_u64().unwrap() {
            break;
        }
    }
    (rows, ids.len(), total)
}

#[tokio::test]
async fn bulk_made_users_tie_and_only_a_unique_key_pages_exactly() {
    let (emu, api) = start(EmulatorConfig::default()).await;
    for batch in 0..10 {
        let emails: Vec<String> = (0..1_000)
            .map(|i| format!("u{batch}-{i}@company.com"))
            .collect();
        emu.add_users_at_once(&emails, &[]);
    }
    let everyone = emu.user_count();
    assert!(everyone > 10_000, "10,000 users and the default user");
    for order in ["", "&sort_by=created_at&sort_order=desc"] {
        let (rows, distinct, total) = page_all(&api, order).await;
        assert_eq!((rows as u64, total), (everyone as u64, everyone as u64));
        assert!(
            distinct < everyone,
            "ties in a new order per page: some users missed, others repeated ({order}: {distinct})"
        );
    }
    for order in ["&sort_by=user_id&sort_order=asc", "&sort_by=user_email"] {
        let (rows, distinct, _) = page_all(&api, order).await;
        assert_eq!((rows, distinct), (everyone, everyone), "{order}");
    }
}
