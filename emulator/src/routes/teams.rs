//! `POST /team/new`, `GET /team/info`, `GET /team/list`, `GET /v2/team/list`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::app::App;
use crate::auth::authenticate;
use crate::errors::{HResult, http_exc, http_exc_dict, ok, validation};
use crate::state::{Team, User};
use crate::validate::{Body, query_int, query_required};
use crate::views::{membership, membership_row, team_base, team_listed};

type Q = Query<HashMap<String, String>>;

/// `POST /team/new`: the caller becomes an admin member, and (as observed on 1.106.2) the
/// caller's user row is created if it was missing.
pub(crate) async fn team_new(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> HResult {
    let v = app.version();
    let caller = authenticate(&app, &headers)?;
    let mut b = Body::parse(&body)?;
    let team_id = b.opt_str("team_id");
    let alias = b.opt_str("team_alias");
    let metadata = b.opt_object("metadata");
    let models = b.opt_list("models");
    let max_budget = b.opt_number("max_budget");
    b.finish()?;
    if !caller.is_admin() {
        let msg = format!(
            "Only proxy admins can create teams in the emulator. Your role={}",
            caller.role
        );
        return Err(http_exc(v, StatusCode::FORBIDDEN, &msg));
    }
    let now = app.now();
    let team_id = team_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut db = app.db();
    if db.teams.contains_key(&team_id) {
        let msg = format!("Team id = {team_id} already exists. Please use a different team id.");
        return Err(http_exc_dict(v, StatusCode::BAD_REQUEST, &msg));
    }
    db.insert_team(&team_id, alias, now);
    if let Some(t) = db.teams.get_mut(&team_id) {
        t.metadata = metadata.unwrap_or_else(|| json!({}));
        t.models = json!(models.unwrap_or_default());
        t.max_budget = max_budget;
    }
    if let Some(creator) = caller.user_id.as_deref() {
        if !db.users.contains_key(creator) {
            let row = User::new(creator, None, Some("internal_user".into()), now);
            db.insert_user(row);
            app.stats.user_created();
        }
        db.add_member(&team_id, creator, "admin", now);
    }
    let team = db.teams.get(&team_id).map(team_base).unwrap_or_default();
    ok(team)
}

/// `GET /team/info?team_id=`.
pub(crate) async fn team_info(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Q,
) -> HResult {
    let v = app.version();
    authenticate(&app, &headers)?;
    let id = query_required(&q, "team_id")?;
    let db = app.db();
    let Some(t) = db.teams.get(&id) else {
        let msg = format!("Team not found, passed team id: {id}.");
        return Err(http_exc_dict(v, StatusCode::NOT_FOUND, &msg));
    };
    // `/team/info` shows each roster member's current alias (file 33) and the membership rows'
    // budget source (files 48, 65), stray rows included (files 63, 77).
    let mut info = team_base(t);
    let members: Vec<Value> = t
        .members
        .iter()
        .map(|m| {
            let alias = m
                .user_id
                .as_deref()
                .and_then(|id| db.users.get(id))
                .and_then(|u| u.user_alias.clone());
            json!({"user_id": m.user_id, "user_email": m.user_email, "role": m.role, "user_alias": alias})
        })
        .collect();
    info["members_with_roles"] = json!(members);
    // Null unless a member budget is set (files 33, 48; `team_member_permissions.json`).
    info["team_member_budget_table"] = match t.member_budget {
        Some(max) => json!({"max_budget": max, "budget_duration": null}),
        None => Value::Null,
    };
    let memberships: Vec<Value> = t
        .memberships
        .iter()
        .map(|m| membership_row(m, &t.team_id, true))
        .collect();
    ok(json!({
        "team_id": t.team_id,
        "team_info": info,
        "keys": [],
        "team_memberships": memberships,
    }))
}

fn has_user(t: &Team, q: &HashMap<String, String>) -> bool {
    q.get("user_id").is_none_or(|u| t.has_member(u))
}

/// `GET /team/list`: a bare array sorted by alias.
pub(crate) async fn team_list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Q,
) -> HResult {
    authenticate(&app, &headers)?;
    let db = app.db();
    let teams: Vec<Value> = db
        .teams_by_alias()
        .into_iter()
        .filter(|t| has_user(t, &q))
        .map(|t| team_listed(t, None))
        .collect();
    ok(Value::Array(teams))
}

/// `GET /v2/team/list`: `team_id` exact, `team_alias` partial, paginated.
pub(crate) async fn team_list_v2(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Q,
) -> HResult {
    authenticate(&app, &headers)?;
    let mut errors = Vec::new();
    let page = query_int(&q, "page", 1, 1, None, &mut errors);
    let page_size = query_int(&q, "page_size", 10, 1, Some(100), &mut errors);
    if !errors.is_empty() {
        return Err(validation(errors));
    }
    let db = app.db();
    let alias_has = |t: &Team, needle: &str| {
        t.team_alias
            .as_deref()
            .is_some_and(|a| a.to_lowercase().contains(&needle.to_lowercase()))
    };
    let teams: Vec<&Team> = db
        .teams_by_alias()
        .into_iter()
        .filter(|t| q.get("team_id").is_none_or(|id| &t.team_id == id))
        .filter(|t| q.get("team_alias").is_none_or(|a| alias_has(t, a)))
        .filter(|t| {
            q.get("search")
                .is_none_or(|s| alias_has(t, s) || t.team_id.contains(s.as_str()))
        })
        .filter(|t| has_user(t, &q))
        .collect();
    let total = teams.len() as i64;
    let start = ((page - 1) * page_size).min(total) as usize;
    let end = (start + page_size as usize).min(teams.len());
    let rows: Vec<Value> = teams[start..end]
        .iter()
        .map(|t| team_listed(t, None))
        .collect();
    ok(json!({
        "teams": rows,
        "total": total,
        "page": page,
        "page_size": page_size,
        "total_pages": (total + page_size - 1) / page_size,
    }))
}

/// Rows for `updated_team_memberships`.
pub(crate) fn memberships(team_id: &str, user_ids: &[String]) -> Vec<Value> {
    user_ids.iter().map(|u| membership(u, team_id)).collect()
}
