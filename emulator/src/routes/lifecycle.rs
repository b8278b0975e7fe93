//! `POST /user/update`, `POST /team/member_update`, `POST /team/member_delete`, as recorded
//! from 1.106.2 (files 49–72), traps included.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::app::App;
use crate::auth::authenticate;
use crate::errors::{
    HResult, PREMIUM_TEAM_ADMIN_UPDATE, detail, detail_error, envelope, http_exc,
    id_or_email_required, ok, verr,
};
use crate::state::{Db, User, budget_reset_at};
use crate::validate::Body;
use crate::views::{team_base, user_info_row};

/// The fields `/user/update` writes when they are sent.
struct UserUpdate {
    user_alias: Option<Value>,
    user_role: Option<Value>,
    max_budget: Option<Value>,
    budget_duration: Option<Value>,
    models: Option<Value>,
    metadata: Option<Value>,
    teams: Option<Value>,
}

fn parse_update(b: &mut Body) -> UserUpdate {
    let sent = |b: &Body, k: &str| b.has(k);
    let user_alias = sent(b, "user_alias").then(|| json!(b.opt_str("user_alias")));
    let user_role = sent(b, "user_role").then(|| json!(b.opt_role("user_role")));
    let max_budget = sent(b, "max_budget").then(|| b.opt_number("max_budget"));
    let budget_duration = sent(b, "budget_duration").then(|| json!(b.opt_str("budget_duration")));
    let models = sent(b, "models").then(|| json!(b.opt_list("models").unwrap_or_default()));
    let metadata = sent(b, "metadata").then(|| b.opt_object("metadata").unwrap_or(json!({})));
    let teams = sent(b, "teams").then(|| json!(b.opt_list("teams").unwrap_or_default()));
    UserUpdate {
        user_alias,
        user_role,
        max_budget,
        budget_duration,
        models,
        metadata,
        teams,
    }
}

fn apply(u: &mut User, up: &UserUpdate, now: chrono::DateTime<chrono::Utc>) {
    if let Some(v) = &up.user_alias {
        u.user_alias = v.as_str().map(str::to_string);
    }
    if let Some(v) = &up.user_role {
        u.user_role = v.as_str().map(str::to_string);
    }
    if let Some(v) = &up.max_budget {
        u.max_budget = v.clone();
    }
    if let Some(v) = &up.budget_duration {
        u.budget_duration = v.clone();
        u.budget_reset_at = v.as_str().and_then(|d| budget_reset_at(d, now));
    }
    if let Some(v) = &up.models {
        u.models = v.clone();
    }
    if let Some(v) = &up.metadata {
        u.metadata = v.clone();
    }
    if let Some(Value::Array(ts)) = &up.teams {
        // Only the row's `teams` column: membership is not touched (api doc §3.5).
        u.teams = ts
            .iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect();
    }
    u.updated_at = now;
}

/// The `data` row of a `/user/update` answer (file 49).
fn update_row(u: &User) -> Value {
    let mut v = user_info_row(u);
    v["organization_memberships"] = Value::Null;
    if let Some(m) = v.as_object_mut() {
        m.remove("model_max_budget_usage");
    }
    v
}

/// The bogus 400 a `user_email` miss gets (files 52, 55), although the user was created.
fn email_miss() -> axum::response::Response {
    envelope(
        StatusCode::BAD_REQUEST,
        "Authentication Error, 'LiteLLM_UserTable' object has no attribute 'get'",
        "auth_error",
        json!("None"),
    )
}

/// `POST /user/update`: by `user_id` (an unknown id creates that user, file 54) or by
/// `user_email`, matched case-sensitively; a miss creates a new user and answers 400
/// (files 51–56). Neither: 422 (file 57).
pub(crate) async fn user_update(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> HResult {
    let v = app.version();
    let caller = authenticate(&app, &headers)?;
    let mut b = Body::parse(&body)?;
    let user_id = b.opt_str("user_id");
    let user_email = b.opt_str("user_email");
    let up = parse_update(&mut b);
    b.finish()?;
    if user_id.is_none() && user_email.is_none() {
        return Err(id_or_email_required());
    }
    if !caller.is_admin() && caller.user_id != user_id {
        let msg = "Only proxy admins can update other users.";
        return Err(http_exc(v, StatusCode::FORBIDDEN, msg));
    }
    let now = app.now();
    let mut db = app.db();
    let target = match &user_id {
        Some(id) => Some(id.clone()),
        None => user_email
            .as_deref()
            .and_then(|e| db.find_by_email_exact(e).first().map(|u| u.user_id.clone())),
    };
    if let Some(id) = target.filter(|id| db.users.contains_key(id)) {
        if let (Some(email), Some(_)) = (&user_email, &user_id) {
            db.set_email(&id, Some(email.clone()));
        }
        let Some(u) = db.users.get_mut(&id) else {
            return Err(detail_error(StatusCode::NOT_FOUND, "User vanished"));
        };
        apply(u, &up, now);
        return ok(json!({"user_id": id, "data": update_row(u)}));
    }
    // A miss inserts a user (role null unless sent).
    let id = user_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut user = User::new(&id, user_email.clone(), None, now);
    apply(&mut user, &up, now);
    user.created_at = now;
    db.insert_user(user);
    app.stats.user_created();
    if user_id.is_none() {
        return Err(email_miss());
    }
    let row = db.users.get(&id).map(update_row).unwrap_or_default();
    ok(json!({"user_id": id, "data": row}))
}

/// The user a `member_update`/`member_delete` body names: by id as given, or the first user
/// with exactly that email.
fn named_user(db: &Db, user_id: &Option<String>, email: &Option<String>) -> Option<String> {
    match user_id {
        Some(id) => Some(id.clone()),
        None => email
            .as_deref()
            .and_then(|e| db.find_by_email_exact(e).first().map(|u| u.user_id.clone())),
    }
}

fn team_missing(team_id: &str) -> axum::response::Response {
    let msg = format!("Team id={team_id} does not exist in db");
    detail_error(StatusCode::BAD_REQUEST, &msg)
}

/// `POST /team/member_update`: `role: admin` needs a licence (400, bare-string detail, file 59);
/// unknown team 400 (file 62); a role for a non-member 404 (file 64); `max_budget_in_team` for
/// a non-member is accepted and leaves a stray membership row (file 63).
pub(crate) async fn member_update(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> HResult {
    let v = app.version();
    let caller = authenticate(&app, &headers)?;
    let mut b = Body::parse(&body)?;
    let team_id = b.req_str("team_id");
    let user_id = b.opt_str("user_id");
    let user_email = b.opt_str("user_email");
    let role = match b.get("role").cloned() {
        None => None,
        Some(Value::String(r)) if r == "user" || r == "admin" => Some(r),
        Some(other) => {
            b.error(verr(
                "literal_error",
                json!(["body", "role"]),
                "Input should be 'admin' or 'user'",
                other,
                None,
            ));
            None
        }
    };
    let max_budget_in_team = b.opt_number("max_budget_in_team");
    let budget_duration = b.opt_str("budget_duration");
    let tpm_limit = b.get("tpm_limit").cloned().unwrap_or(Value::Null);
    let rpm_limit = b.get("rpm_limit").cloned().unwrap_or(Value::Null);
    let allowed_models = b.opt_list("allowed_models");
    b.finish()?;
    if user_id.is_none() && user_email.is_none() {
        return Err(id_or_email_required());
    }
    let team_id = team_id.unwrap_or_default();
    if role.as_deref() == Some("admin") {
        return Err(detail(
            StatusCode::BAD_REQUEST,
            json!(PREMIUM_TEAM_ADMIN_UPDATE),
        ));
    }
    if !caller.is_admin() {
        let msg = format!(
            "Call not allowed. User not proxy admin OR team admin. route=/team/member_update, team_id={team_id}"
        );
        return Err(http_exc(v, StatusCode::FORBIDDEN, &msg));
    }
    let now = app.now();
    let mut db = app.db();
    let Some(team) = db.teams.get(&team_id) else {
        return Err(team_missing(&team_id));
    };
    let target = named_user(&db, &user_id, &user_email);
    let on_roster = target.as_deref().is_some_and(|id| team.has_member(id));
    if let Some(role) = &role {
        if !on_roster {
            let who = target.clone().or(user_email.clone()).unwrap_or_default();
            let msg = format!("User {who} is not a member of team {team_id}");
            return Err(detail_error(StatusCode::NOT_FOUND, &msg));
        }
        if let Some(t) = db.teams.get_mut(&team_id) {
            for m in &mut t.members {
                if m.user_id == target {
                    m.role = role.clone();
                }
            }
            t.updated_at = now;
        }
    }
    if !max_budget_in_team.is_null() {
        let Some(id) = &target else {
            // Guess (not recorded): an email that matches nobody.
            let msg = format!(
                "User not found, passed user_email={}",
                user_email.as_deref().unwrap_or_default()
            );
            return Err(detail_error(StatusCode::BAD_REQUEST, &msg));
        };
        db.set_member_budget(&team_id, id, max_budget_in_team.clone(), now);
    }
    ok(json!({
        "user_id": user_id,
        "user_email": user_email,
        "team_id": team_id,
        "max_budget_in_team": max_budget_in_team,
        "tpm_limit": tpm_limit,
        "rpm_limit": rpm_limit,
        "budget_duration": budget_duration,
        "allowed_models": allowed_models,
        "temp_budget_increase": null,
        "temp_budget_expiry": null,
    }))
}

/// `POST /team/member_delete` by `user_id` or `user_email` (files 66–72): the team row without
/// the member; the user's `teams` entry and membership row go too.
pub(crate) async fn member_delete(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> HResult {
    let v = app.version();
    let caller = authenticate(&app, &headers)?;
    let mut b = Body::parse(&body)?;
    let team_id = b.req_str("team_id");
    let user_id = b.opt_str("user_id");
    let user_email = b.opt_str("user_email");
    b.finish()?;
    if user_id.is_none() && user_email.is_none() {
        return Err(id_or_email_required());
    }
    let team_id = team_id.unwrap_or_default();
    if !caller.is_admin() {
        let msg = format!(
            "Call not allowed. User not proxy admin OR team admin. route=/team/member_delete, team_id={team_id}"
        );
        return Err(http_exc(v, StatusCode::FORBIDDEN, &msg));
    }
    let now = app.now();
    let mut db = app.db();
    let Some(team) = db.teams.get(&team_id) else {
        return Err(team_missing(&team_id));
    };
    let member = team
        .members
        .iter()
        .find(|m| match (&user_id, &user_email) {
            (Some(id), _) => m.user_id.as_deref() == Some(id.as_str()),
            (None, Some(e)) => m.user_email.as_deref() == Some(e.as_str()),
            (None, None) => false,
        })
        .and_then(|m| m.user_id.clone());
    let Some(member) = member else {
        return Err(detail_error(
            StatusCode::BAD_REQUEST,
            "User not found in team",
        ));
    };
    db.remove_member(&team_id, &member, now);
    let team = db.teams.get(&team_id).map(team_base).unwrap_or_default();
    ok(team)
}
