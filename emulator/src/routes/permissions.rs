//! Team member permissions and the key request they govern, as recorded from 1.106.2
//! (`scale/team_member_permissions.json`): `GET /team/permissions_list`,
//! `POST /team/permissions_update`, and `POST /key/generate` (the admin's for a user, and a
//! member's own for their team: 401 unless the team lists `/key/generate`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::app::{App, ts};
use crate::auth::{Caller, authenticate};
use crate::errors::{HResult, envelope, http_exc, http_exc_dict, ok};
use crate::state::Db;
use crate::validate::{Body, query_required};
use crate::views::team_base;

/// Every permission `/team/permissions_list` offers, in the recorded order.
pub(crate) const ALL_PERMISSIONS: [&str; 24] = [
    "/key/generate",
    "/key/update",
    "/key/delete",
    "/key/info",
    "/key/regenerate",
    "/key/service-account/generate",
    "/key/{key_id}/regenerate",
    "/key/list",
    "/key/block",
    "/key/unblock",
    "/key/bulk_update",
    "/team/key/bulk_update",
    "/team/daily/activity",
    "/team/daily/activity/aggregated",
    "/team/daily/activity/aggregated/keys",
    "/team/daily/activity/aggregated/search",
    "/team/daily/activity/aggregated/model_top_keys",
    "/team/daily/activity/export",
    "/spend/logs",
    "/spend/logs/v2",
    "/key/{key_id}/reset_spend",
    "/key/aliases",
    "/key/access_group_assignment",
    "/auto_router/manage",
];

/// What a member may call when the team lists nothing (LiteLLM's default).
const DEFAULT_MEMBER_PERMISSIONS: [&str; 2] = ["/key/info", "/key/health"];

fn team_not_found(app: &App, id: &str) -> axum::response::Response {
    let msg = format!("Team not found, passed team id: {id}.");
    http_exc_dict(app.version(), StatusCode::NOT_FOUND, &msg)
}

fn admin_only(app: &App, caller: &Caller) -> Result<(), axum::response::Response> {
    if caller.is_admin() {
        return Ok(());
    }
    let msg = "Only proxy admins can manage team member permissions in the emulator.";
    Err(http_exc(app.version(), StatusCode::FORBIDDEN, msg))
}

/// `GET /team/permissions_list?team_id=`.
pub(crate) async fn permissions_list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> HResult {
    let caller = authenticate(&app, &headers)?;
    admin_only(&app, &caller)?;
    let id = query_required(&q, "team_id")?;
    let db = app.db();
    let team = db.teams.get(&id).ok_or_else(|| team_not_found(&app, &id))?;
    ok(json!({
        "team_id": team.team_id,
        "team_member_permissions": team.permissions,
        "all_available_permissions": ALL_PERMISSIONS,
    }))
}

/// `POST /team/permissions_update {team_id, team_member_permissions}`: sets the list as sent
/// and answers the team row.
pub(crate) async fn permissions_update(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> HResult {
    let caller = authenticate(&app, &headers)?;
    admin_only(&app, &caller)?;
    let mut b = Body::parse(&body)?;
    let team_id = b.req_str("team_id");
    let permissions = b.opt_list("team_member_permissions").unwrap_or_default();
    b.finish()?;
    let team_id = team_id.unwrap_or_default();
    let now = app.now();
    let mut db = app.db();
    let team = db
        .teams
        .get_mut(&team_id)
        .ok_or_else(|| team_not_found(&app, &team_id))?;
    team.permissions = permissions
        .iter()
        .filter_map(|p| p.as_str().map(str::to_string))
        .collect();
    team.updated_at = now;
    ok(team_base(team))
}

/// `POST /key/generate`. The master key makes a key for `user_id` (or itself); anyone else
/// makes their own, and for a team they are a member of only if the team lets members call
/// `/key/generate` (its admins always may).
pub(crate) async fn key_generate(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> HResult {
    let caller = authenticate(&app, &headers)?;
    let b = Body::parse(&body)?;
    let text = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_string);
    let team_id = text("team_id");
    let caller_id = caller.user_id.clone().unwrap_or_default();
    let user_id = match text("user_id") {
        Some(id) if caller.is_admin() => id,
        _ => caller_id.clone(),
    };
    let now = app.now();
    let mut db = app.db();
    if let Some(team) = team_id.as_deref().filter(|_| !caller.is_admin()) {
        member_may_generate(&db, team, &caller_id)?;
    }
    if !db.users.contains_key(&user_id) {
        let msg = format!("User not found, passed user_id={user_id}");
        return Err(http_exc_dict(app.version(), StatusCode::NOT_FOUND, &msg));
    }
    let (plain, key) = app.mint_key(&user_id, team_id.clone(), now);
    let answer = json!({
        "key": plain,
        "key_name": key.key_name,
        "key_alias": b.get("key_alias"),
        "user_id": user_id,
        "team_id": team_id,
        "models": [],
        "spend": 0.0,
        "max_budget": null,
        "expires": null,
        "metadata": {},
        "token": key.token,
        "token_id": key.token,
        "key_type": "default",
        "created_by": caller_id,
        "updated_by": caller_id,
        "created_at": ts(now),
        "updated_at": ts(now),
    });
    if let Some(u) = db.users.get_mut(&user_id) {
        u.keys.push(key);
    }
    ok(answer)
}

/// A member's own key request for `team`: refused (401, the recorded message) unless the
/// caller is a team admin or the team lists `/key/generate`. A non-member is refused alike
/// (not recorded).
fn member_may_generate(db: &Db, team: &str, caller: &str) -> Result<(), axum::response::Response> {
    let t = db.teams.get(team);
    let admin = t.is_some_and(|t| {
        t.members
            .iter()
            .any(|m| m.user_id.as_deref() == Some(caller) && m.role == "admin")
    });
    let permissions: Vec<String> = t.map(|t| t.permissions.clone()).unwrap_or_default();
    if admin || permissions.iter().any(|p| p == "/key/generate") {
        return Ok(());
    }
    let granted: Vec<String> = if permissions.is_empty() {
        DEFAULT_MEMBER_PERMISSIONS.map(str::to_string).to_vec()
    } else {
        permissions
    };
    let listed: Vec<String> = granted.iter().map(|p| format!("'{p}'")).collect();
    let message = format!(
        "Team member does not have permissions for endpoint: KeyManagementRoutes.KEY_GENERATE. You only have access to the following endpoints: [{}] for team {team}. To create keys for this team, please ask your proxy admin to check the team member permission settings and update the settings to allow team member users to create keys.",
        listed.join(", ")
    );
    Err(envelope(
        StatusCode::UNAUTHORIZED,
        &message,
        "team_member_permission_error",
        json!("/key/generate"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EmulatorConfig;

    #[test]
    fn a_member_without_the_permission_gets_the_recorded_refusal() {
        let cfg = EmulatorConfig::default();
        let now = chrono::Utc::now();
        let mut db = Db::seeded(&cfg, now);
        db.insert_team("t1", None, now);
        let refused = member_may_generate(&db, "t1", "u1").unwrap_err();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        db.teams.get_mut("t1").unwrap().permissions = vec!["/key/generate".into()];
        assert!(member_may_generate(&db, "t1", "u1").is_ok());
    }
}
