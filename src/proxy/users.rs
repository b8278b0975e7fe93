//! The user endpoints: `/user/new`, `/user/list`, `/user/info`, `/user/update`,
//! `/user/delete`, and the default user the master key acts as.

use reqwest::Method;
use serde_json::json;

use crate::proxy::api::{CreatedUser, NewUser, Page, USERS_BY_ID, UserList, UserRow};
use crate::proxy::client::ProxyClient;
use crate::proxy::error::ProxyError;
use crate::types::{Email, TeamId, UserId};

impl ProxyClient {
    /// `POST /user/new`.
    pub async fn new_user(&self, user: &NewUser<'_>) -> Result<CreatedUser, ProxyError> {
        self.send(
            Method::POST,
            "user/new",
            &[],
            Some(serde_json::to_value(user).expect("serialisable")),
        )
        .await
    }

    /// Users whose stored email is `email` (its identity: case and the domain's Unicode or
    /// punycode form do not matter).
    ///
    /// `/user/list?user_email=` is a case-insensitive substring match on the stored string,
    /// so each spelling the proxy may hold is asked for (two for an internationalised
    /// domain, one otherwise) and the rows are filtered here.
    pub async fn find_users_by_email(&self, email: &Email) -> Result<Vec<UserRow>, ProxyError> {
        let mut found: Vec<UserRow> = Vec::new();
        for spelling in email.spellings() {
            let rows = self
                .all_pages::<UserList>("user/list", ("user_email", &spelling), |row| {
                    row.user_email
                        .as_deref()
                        .is_some_and(|stored| Email::unchecked(stored) == *email)
                })
                .await?;
            for row in rows {
                if !found.iter().any(|f| f.user_id == row.user_id) {
                    found.push(row);
                }
            }
        }
        Ok(found)
    }

    /// The users with these ids (at most 100): `/user/list?user_ids=a,b,…` is an exact match
    /// with several ids (a substring match with one, so the rows are filtered here).
    pub async fn users_by_ids(&self, ids: &[UserId]) -> Result<Vec<UserRow>, ProxyError> {
        let joined = ids.iter().map(UserId::as_str).collect::<Vec<_>>().join(",");
        self.all_pages::<UserList>("user/list", ("user_ids", &joined), |row| {
            ids.contains(&row.user_id)
        })
        .await
    }

    /// The user with exactly this id, with its `key_count`.
    pub async fn user_row(&self, user_id: &UserId) -> Result<Option<UserRow>, ProxyError> {
        let rows = self.users_by_ids(std::slice::from_ref(user_id)).await?;
        Ok(rows.into_iter().next())
    }

    /// `GET /user/list?page_size=1`: proves the key is valid and has admin rights.
    pub async fn check_admin(&self) -> Result<(), ProxyError> {
        self.send::<serde_json::Value>(
            Method::GET,
            "user/list",
            &[("page", "1"), ("page_size", "1")],
            None,
        )
        .await
        .map(drop)
    }

    /// One page of the users of `team` (or of every user), 100 a page in `user_id` order (the
    /// default order repeats and skips users: [`crate::proxy::listing`]): the rows, the page
    /// count and the total the proxy reports.
    pub async fn users_page_of(
        &self,
        team: Option<&TeamId>,
        page: u64,
    ) -> Result<UsersPage, ProxyError> {
        let page_text = page.to_string();
        let mut query = vec![("page", page_text.as_str()), ("page_size", "100")];
        query.extend_from_slice(USERS_BY_ID);
        if let Some(team) = team {
            query.push(("team", team.as_str()));
        }
        let list: UserList = self.send(Method::GET, "user/list", &query, None).await?;
        let (rows, pages, total) = list.into_rows();
        Ok(UsersPage {
            pages: page_count(pages, total, rows.len()),
            rows,
            total,
        })
    }

    /// `POST /user/update` by `user_id` with `fields`. Only for a user just read on the
    /// proxy: an unknown id (or an email) would create a user.
    pub async fn update_user(
        &self,
        user_id: &UserId,
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), ProxyError> {
        let mut body = fields.clone();
        body.insert("user_id".into(), json!(user_id));
        self.send::<serde_json::Value>(
            Method::POST,
            "user/update",
            &[],
            Some(serde_json::Value::Object(body)),
        )
        .await
        .map(drop)
    }

    /// `POST /user/delete` of one user (its keys, invitations and memberships go with it).
    /// One id a request: a list holding an unknown id fails with 404 after partly acting.
    pub async fn delete_user(&self, user_id: &UserId) -> Result<(), ProxyError> {
        let body = json!({ "user_ids": [user_id] });
        self.send::<serde_json::Value>(Method::POST, "user/delete", &[], Some(body))
            .await
            .map(drop)
    }

    /// `GET /user/info`: `false` when the user is missing (404 on 1.109, null `user_info` on 1.80).
    pub async fn user_exists(&self, user_id: &UserId) -> Result<bool, ProxyError> {
        // The answer carries the user's teams whole, members and all: skipped, not parsed.
        #[derive(serde::Deserialize)]
        struct Info {
            #[serde(default)]
            user_info: Option<serde::de::IgnoredAny>,
        }
        match self
            .send::<Info>(
                Method::GET,
                "user/info",
                &[("user_id", user_id.as_str())],
                None,
            )
            .await
        {
            Ok(info) => Ok(info.user_info.is_some()),
            Err(ProxyError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Creates the `default_user_id` row the master key acts as (litellm-api.md §2.1).
    pub async fn create_default_user(&self) -> Result<(), ProxyError> {
        let body = json!({ "user_id": UserId::MASTER_KEY_USER, "user_role": "proxy_admin", "auto_create_key": false });
        self.send::<serde_json::Value>(Method::POST, "user/new", &[], Some(body))
            .await
            .map(drop)
    }
}

/// How many pages of 100 a listing has: the proxy's `total_pages`, else its `total`. A first
/// page that is full when the proxy gives neither cannot be told whole: 0, which callers
/// refuse.
pub fn page_count(pages: Option<u64>, total: Option<u64>, rows: usize) -> u64 {
    match (pages, total) {
        (Some(pages), _) => pages.max(1),
        (None, Some(total)) => total.div_ceil(100).max(1),
        (None, None) if rows >= 100 => 0,
        (None, None) => 1,
    }
}

/// One page of `/user/list`.
#[derive(Debug)]
pub struct UsersPage {
    /// The users on it.
    pub rows: Vec<UserRow>,
    /// How many pages the proxy counts (at least 1; 0: it gives no count and the page is full).
    pub pages: u64,
    /// How many users the proxy counts.
    pub total: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::page_count;

    #[test]
    fn a_listing_without_a_page_count_is_counted_from_its_total_or_refused_when_full() {
        assert_eq!(page_count(Some(3), Some(250), 100), 3);
        assert_eq!(page_count(None, Some(250), 100), 3);
        assert_eq!(page_count(None, Some(0), 0), 1);
        assert_eq!(
            page_count(None, None, 40),
            1,
            "one short page: all there is"
        );
        assert_eq!(page_count(None, None, 100), 0, "a full page may not be all");
    }
}
