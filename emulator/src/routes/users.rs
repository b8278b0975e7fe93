//! `GET /user/info`, `GET /v2/user/info`, `GET /user/list`, `POST /user/delete`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::app::{App, ts};
use crate::auth::authenticate;
use crate::config::DEFAULT_USER_ID;
use crate::errors::{HResult, detail_error, http_exc, ok, route_not_found, validation};
use crate::state::{Db, User};
use crate::validate::{Body, query_int};
use crate::views::{key_info, team_listed, user_info_row, user_row};

type Q = Query<HashMap<String, String>>;

/// Teams the user belongs to (by membership or by the row's `teams`), sorted by alias.
fn user_teams(db: &Db, u: &User) -> Vec<Value> {
    db.teams_by_alias()
        .into_iter()
        .filter(|t| t.has_member(&u.user_id) || u.teams.contains(&t.team_id))
        .map(|t| team_listed(t, Some(&u.user_id)))
        .collect()
}

fn keys_of(db: &Db, u: &User) -> Vec<Value> {
    u.keys
        .iter()
        .map(|k| {
            let alias = k
                .team_id
                .as_ref()
                .and_then(|t| db.teams.get(t))
                .and_then(|t| t.team_alias.clone());
            key_info(k, alias.as_deref())
        })
        .collect()
}

/// `GET /user/info?user_id=`.
pub(crate) async fn user_info(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Q,
) -> HResult {
    let v = app.version();
    let caller = authenticate(&app, &headers)?;
    let requested = q.get("user_id").cloned();
    if let Some(id) = &requested
        && !caller.has_admin_view()
        && caller.user_id.as_deref() != Some(id.as_str())
    {
        let msg = format!(
            "key not allowed to access this user's info. user_id={id}, key's user_id={}",
            caller.user_id.as_deref().unwrap_or("None")
        );
        return Err(http_exc(v, StatusCode::FORBIDDEN, &msg));
    }
    let db = app.db();
    if requested.is_none() && caller.has_admin_view() {
        // The "god endpoint": every team and every key.
        let admin_id = caller.user_id.clone().unwrap_or(DEFAULT_USER_ID.into());
        let keys: Vec<Value> = db
            .users_by_seq()
            .into_iter()
            .flat_map(|u| keys_of(&db, u))
            .collect();
        let teams: Vec<Value> = db
            .teams_by_alias()
            .into_iter()
            .map(|t| team_listed(t, None))
            .collect();
        let info = db.users.get(&admin_id).map(user_info_row);
        return ok(json!({"user_id": admin_id, "user_info": info, "keys": keys, "teams": teams}));
    }
    let id = requested.or(caller.user_id.clone()).unwrap_or_default();
    let Some(user) = db.users.get(&id) else {
        if v.is_new() {
            let msg = format!("User {id} not found");
            return Err(http_exc(v, StatusCode::NOT_FOUND, &msg));
        }
        return ok(json!({"user_id": id, "user_info": null, "keys": [], "teams": []}));
    };
    ok(json!({
        "user_id": id,
        "user_info": user_info_row(user),
        "keys": keys_of(&db, user),
        "teams": user_teams(&db, user),
    }))
}

/// `GET /v2/user/info?user_id=` (1.109 only).
pub(crate) async fn user_info_v2(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Q,
) -> HResult {
    let v = app.version();
    if !v.is_new() {
        return Err(route_not_found());
    }
    let caller = authenticate(&app, &headers)?;
    let Some(id) = q.get("user_id").cloned().or(caller.user_id.clone()) else {
        let msg = "user_id is required. Either pass it as a query parameter or authenticate with a user-bound key.";
        return Err(http_exc(v, StatusCode::BAD_REQUEST, msg));
    };
    let allowed = caller.has_admin_view() || caller.user_id.as_deref() == Some(id.as_str());
    let db = app.db();
    let Some(u) = db.users.get(&id).filter(|_| allowed) else {
        let msg = format!("User not found: {id}");
        return Err(http_exc(v, StatusCode::NOT_FOUND, &msg));
    };
    ok(json!({
        "user_id": u.user_id,
        "user_email": u.user_email,
        "user_alias": u.user_alias,
        "user_role": u.user_role,
        "spend": 0.0,
        "max_budget": u.max_budget,
        "models": u.models,
        "budget_duration": u.budget_duration,
        "budget_reset_at": null,
        "metadata": u.metadata,
        "created_at": ts(u.created_at),
        "updated_at": ts(u.updated_at),
        "sso_user_id": u.sso_user_id,
        "teams": u.teams,
        "object_permission": null,
        "model_max_budget": {},
        "model_max_budget_usage": {},
    }))
}

const SORT_COLUMNS: [&str; 6] = [
    "user_id",
    "user_email",
    "created_at",
    "spend",
    "user_alias",
    "user_role",
];

fn contains_ci(hay: Option<&str>, needle: &str) -> bool {
    hay.is_some_and(|h| h.to_lowercase().contains(&needle.to_lowercase()))
}

/// A user's value in a text sort column (borrowed: sorting 100,000 users per page allocates
/// nothing).
fn text_key<'a>(u: &'a User, col: &str) -> &'a str {
    match col {
        "user_id" => &u.user_id,
        "user_email" => u.user_email.as_deref().unwrap_or_default(),
        "user_alias" => u.user_alias.as_deref().unwrap_or_default(),
        "user_role" => u.user_role.as_deref().unwrap_or_default(),
        _ => "",
    }
}

/// Where a user falls among its ties in one request: PostgreSQL returns rows that share a
/// sort value in any order, and a new order for each page (`scale/user_list_paging.json`).
fn tie_rank(u: &User, nonce: u64) -> u64 {
    // splitmix64 of the user's sequence number and the request's nonce.
    let mut z = u
        .seq
        .wrapping_add(nonce)
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `GET /user/list`: filters, sorting and pagination like `get_users`.
pub(crate) async fn user_list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Q,
) -> HResult {
    let v = app.version();
    let caller = authenticate(&app, &headers)?;
    let mut errors = Vec::new();
    let page = query_int(&q, "page", 1, 1, None, &mut errors);
    let page_size = query_int(&q, "page_size", 25, 1, Some(100), &mut errors);
    if !errors.is_empty() {
        return Err(validation(errors));
    }
    if !caller.has_admin_view() {
        let msg = "Only proxy admins and organization admins can list users.";
        return Err(detail_error(StatusCode::FORBIDDEN, msg));
    }
    let sort_by = q.get("sort_by").cloned();
    let sort_order = q
        .get("sort_order")
        .cloned()
        .unwrap_or("asc".into())
        .to_lowercase();
    if let Some(col) = &sort_by {
        if !SORT_COLUMNS.contains(&col.as_str()) {
            let msg = format!(
                "Invalid sort column. Must be one of: {}",
                SORT_COLUMNS.join(", ")
            );
            return Err(detail_error(StatusCode::BAD_REQUEST, &msg));
        }
        if sort_order != "asc" && sort_order != "desc" {
            let msg = "Invalid sort order. Must be 'asc' or 'desc'";
            return Err(detail_error(StatusCode::BAD_REQUEST, msg));
        }
    }
    let db = app.db();
    let ids: Option<Vec<&str>> = q.get("user_ids").map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    });
    let mut users: Vec<&User> = db
        .users
        .values()
        .filter(|u| {
            q.get("user_email")
                .is_none_or(|e| contains_ci(u.user_email.as_deref(), e))
        })
        .filter(|u| match ids.as_deref() {
            None | Some([]) => true,
            Some([one]) => contains_ci(Some(&u.user_id), one),
            Some(many) => many.contains(&u.user_id.as_str()),
        })
        .filter(|u| {
            q.get("role")
                .is_none_or(|r| u.user_role.as_deref() == Some(r.as_str()))
        })
        .filter(|u| q.get("team").is_none_or(|t| u.teams.contains(t)))
        .filter(|u| {
            !v.is_new()
                || q.get("search").is_none_or(|s| {
                    contains_ci(Some(&u.user_id), s) || contains_ci(u.user_email.as_deref(), s)
                })
        })
        .collect();
    // Ties (users made by one bulk request share `created_at`; nobody here has spend) come
    // in a new order on every request, as on the real proxy; text columns tie-break by row.
    let nonce = uuid::Uuid::new_v4().as_u64_pair().0;
    match sort_by.as_deref() {
        None => {
            users.sort_unstable_by_key(|u| (std::cmp::Reverse(u.created_at), tie_rank(u, nonce)))
        }
        Some("created_at") => users.sort_unstable_by_key(|u| (u.created_at, tie_rank(u, nonce))),
        Some("spend") => users.sort_unstable_by_key(|u| tie_rank(u, nonce)),
        Some(col) => users.sort_unstable_by(|a, b| {
            text_key(a, col)
                .cmp(text_key(b, col))
                .then(a.seq.cmp(&b.seq))
        }),
    }
    if sort_by.is_some() && sort_order == "desc" {
        users.reverse();
    }
    let total = users.len() as i64;
    let start = ((page - 1) * page_size).min(total) as usize;
    let end = (start + page_size as usize).min(users.len());
    let rows: Vec<Value> = users[start..end]
        .iter()
        .map(|u| user_row(u, true))
        .collect();
    let total_pages = (total + page_size - 1) / page_size;
    ok(json!({
        "users": rows,
        "total": total,
        "page": page,
        "page_size": page_size,
        "total_pages": total_pages,
    }))
}

/// `POST /user/delete {"user_ids": [...]}`: removes the users with their keys, invitations and
/// memberships (files 74, 79); an unknown id answers 404 after a partial cascade.
pub(crate) async fn user_delete(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> HResult {
    let caller = authenticate(&app, &headers)?;
    let mut b = Body::parse(&body)?;
    if !b.has("user_ids") {
        b.error(crate::errors::verr(
            "missing",
            json!(["body", "user_ids"]),
            "Field required",
            Value::Null,
            None,
        ));
    }
    let ids: Vec<String> = b
        .opt_list("user_ids")
        .unwrap_or_default()
        .into_iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        })
        .collect();
    b.finish()?;
    if !caller.is_admin() {
        let msg = "Only proxy admins can delete users.";
        return Err(detail_error(StatusCode::FORBIDDEN, msg));
    }
    let mut db = app.db();
    if let Some(missing) = ids.iter().find(|id| !db.users.contains_key(*id)).cloned() {
        // Not atomic (files 76–78): the known users are already off the team rosters, but their
        // rows, `teams`, membership rows, keys and invitations all remain.
        let known: Vec<String> = ids
            .iter()
            .filter(|id| db.users.contains_key(*id))
            .cloned()
            .collect();
        for id in &known {
            for team in db.teams.values_mut() {
                team.remove_from_roster(id);
            }
        }
        let msg = format!("User not found, passed user_id={missing}");
        return Err(detail_error(StatusCode::NOT_FOUND, &msg));
    }
    let deleted = ids.iter().filter(|id| db.remove_user(id)).count();
    ok(json!(deleted))
}
