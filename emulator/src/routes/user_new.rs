//! `POST /user/new`.

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::app::{App, ts};
use crate::auth::authenticate;
use crate::errors::{HResult, http_exc, http_exc_dict, ok, verr};
use crate::gate::WorkDelay;
use crate::state::{User, budget_reset_at};
use crate::validate::Body;
use crate::views::{ECHOED_FIELDS, new_user_template};

/// One requested team membership.
pub(crate) struct TeamReq {
    pub team_id: String,
    pub role: String,
    pub max_budget_in_team: Value,
}

/// The fields of `NewUserRequest` the emulator acts on.
struct NewUser {
    user_id: Option<String>,
    user_email: Option<String>,
    user_role: Option<String>,
    user_alias: Option<String>,
    teams: Option<Vec<TeamReq>>,
    team_id: Option<String>,
    auto_create_key: bool,
    max_budget: Value,
    budget_duration: Option<String>,
    models: Option<Vec<Value>>,
    metadata: Option<Value>,
}

fn parse(b: &mut Body, new_version: bool) -> NewUser {
    let user_id = b.opt_str("user_id");
    let user_email = b.opt_str("user_email");
    let user_role = b.opt_role("user_role");
    let user_alias = b.opt_str("user_alias");
    let team_id = b.opt_str("team_id");
    let auto_create_key = b.opt_bool("auto_create_key").unwrap_or(true);
    let max_budget = b.opt_number("max_budget");
    let budget_duration = b.opt_str("budget_duration");
    let models = b.opt_list("models");
    let metadata = b.opt_object("metadata");
    b.opt_bool("send_invite_email");
    let teams = b.opt_list("teams").map(|items| {
        let mut out = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            match team_req(&item) {
                Some(t) => out.push(t),
                None => b.error(verr(
                    "string_type",
                    json!(["body", "teams", i]),
                    "Input should be a valid string",
                    item,
                    None,
                )),
            }
        }
        out
    });
    if new_version && b.get("password").is_some() {
        let input = b.map.get("password").cloned().unwrap_or(Value::Null);
        b.error(verr(
            "value_error",
            json!(["body", "password"]),
            "Value error, Setting a password via /user/new is not supported. Users set their password through the invitation link (/ui/onboarding).",
            input,
            Some(json!({"error": {}})),
        ));
    }
    NewUser {
        user_id,
        user_email,
        user_role,
        user_alias,
        teams,
        team_id,
        auto_create_key,
        max_budget,
        budget_duration,
        models,
        metadata,
    }
}

pub(crate) fn team_req(item: &Value) -> Option<TeamReq> {
    match item {
        Value::String(s) => Some(TeamReq {
            team_id: s.clone(),
            role: "user".into(),
            max_budget_in_team: Value::Null,
        }),
        Value::Object(m) => {
            let team_id = m.get("team_id")?.as_str()?.to_string();
            let role = match m.get("user_role").and_then(Value::as_str) {
                Some("admin") => "admin",
                _ => "user",
            };
            let max_budget_in_team = m
                .get("max_budget_in_team")
                .filter(|v| v.is_number())
                .cloned()
                .unwrap_or(Value::Null);
            Some(TeamReq {
                team_id,
                role: role.into(),
                max_budget_in_team,
            })
        }
        _ => None,
    }
}

pub(crate) fn valid_budget_duration(d: &str) -> bool {
    let digits = d.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && matches!(&d[digits..], "s" | "m" | "h" | "d" | "w" | "mo")
}

/// `POST /user/new`: duplicate checks, then (after the request's work delay) the insert.
pub(crate) async fn user_new(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    delay: Option<Extension<WorkDelay>>,
    body: Bytes,
) -> HResult {
    let v = app.version();
    let caller = authenticate(&app, &headers)?;
    let mut b = Body::parse(&body)?;
    let req = parse(&mut b, v.is_new());
    b.finish()?;

    // Phase 1: the duplicate checks (no database constraint backs them).
    {
        let db = app.db();
        if v.is_new()
            && let Some(id) = &req.user_id
            && db.users.contains_key(id)
        {
            let msg = format!("User with id {id} already exists");
            return Err(http_exc_dict(v, StatusCode::CONFLICT, &msg));
        }
        if let Some(email) = &req.user_email
            && let Some(existing) = db.find_by_email_ci(email)
        {
            let stored = existing.user_email.clone().unwrap_or_default();
            let msg = format!("User with email {stored} already exists");
            let status = if v.is_new() {
                StatusCode::CONFLICT
            } else {
                StatusCode::BAD_REQUEST
            };
            return Err(http_exc_dict(v, status, &msg));
        }
    }
    if v.is_new() {
        let admin_role = matches!(
            req.user_role.as_deref(),
            Some("proxy_admin" | "proxy_admin_viewer")
        );
        if admin_role && !caller.is_admin() {
            let msg = format!(
                "Only proxy admins can create administrative users (proxy_admin, proxy_admin_viewer). Attempted to create user with role: {}. Your role: {}",
                req.user_role.as_deref().unwrap_or_default(),
                caller.role
            );
            return Err(http_exc(v, StatusCode::FORBIDDEN, &msg));
        }
        if let Some(d) = &req.budget_duration
            && !valid_budget_duration(d)
        {
            let msg = format!(
                "Invalid budget_duration format: {d}. Expected a number followed by s, m, h, d, w or mo (e.g. 30d)."
            );
            return Err(http_exc_dict(v, StatusCode::BAD_REQUEST, &msg));
        }
    }

    // The "database round trip" between the check and the insert: this is the race window.
    let wait = delay
        .map(|Extension(WorkDelay(d))| d)
        .unwrap_or_default()
        .max(Duration::from_millis(1));
    tokio::time::sleep(wait).await;

    // Phase 2: the insert.
    let now = app.now();
    let user_id = req
        .user_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut db = app.db();
    if db.users.contains_key(&user_id) {
        if v.is_new() {
            let msg = "Unique constraint failed on the fields: (`user_id`)";
            return Err(http_exc_dict(v, StatusCode::INTERNAL_SERVER_ERROR, msg));
        }
        // 1.80: the insert is an upsert that leaves the existing row alone.
    } else {
        let mut user = User::new(&user_id, req.user_email.clone(), req.user_role.clone(), now);
        user.user_alias = req.user_alias.clone();
        user.team_id = req.team_id.clone();
        user.max_budget = req.max_budget.clone();
        user.budget_duration = json!(req.budget_duration);
        user.budget_reset_at = req
            .budget_duration
            .as_deref()
            .and_then(|d| budget_reset_at(d, now));
        user.models = json!(req.models.clone().unwrap_or_default());
        user.metadata = req.metadata.clone().unwrap_or_else(|| json!({}));
        db.insert_user(user);
        app.stats.user_created();
    }
    let mut plain_key = String::new();
    if req.auto_create_key {
        let (plain, key) = app.mint_key(&user_id, req.team_id.clone(), now);
        if let Some(u) = db.users.get_mut(&user_id) {
            u.keys.push(key);
        }
        plain_key = plain;
    }
    let wanted: Option<Vec<TeamReq>> = match &req.team_id {
        Some(t) => Some(vec![TeamReq {
            team_id: t.clone(),
            role: "user".into(),
            max_budget_in_team: Value::Null,
        }]),
        None => req.teams,
    };
    let mut joined = Vec::new();
    for t in wanted.iter().flatten() {
        // Unknown teams are dropped silently, as LiteLLM swallows the 404. So is a team object
        // with `user_role: admin`: without a licence the premium check fails and that 400 is
        // swallowed too (files 45, 46).
        if t.role == "admin" {
            continue;
        }
        if db.add_member(&t.team_id, &user_id, &t.role, now) {
            if !t.max_budget_in_team.is_null() {
                db.set_member_budget(&t.team_id, &user_id, t.max_budget_in_team.clone(), now);
            }
            joined.push(t.team_id.clone());
        }
    }
    drop(db);

    let mut resp = new_user_template();
    for field in ECHOED_FIELDS {
        if let Some(val) = b.get(field) {
            resp.insert((*field).to_string(), val.clone());
        }
    }
    resp.insert("user_id".into(), json!(user_id));
    resp.insert("key_name".into(), json!(null));
    if !plain_key.is_empty() {
        resp.insert(
            "key_name".into(),
            json!(crate::app::abbreviate_key(&plain_key)),
        );
    }
    resp.insert("key".into(), json!(plain_key));
    // The response's timestamps come from the key: without one they are null (files 45, 58).
    let stamp = if plain_key.is_empty() {
        Value::Null
    } else {
        json!(ts(now))
    };
    resp.insert("created_at".into(), stamp.clone());
    resp.insert("updated_at".into(), stamp);
    let teams = if v.is_new() && wanted.is_some() {
        json!(joined)
    } else {
        Value::Null
    };
    resp.insert("teams".into(), teams);
    ok(Value::Object(resp))
}

#[cfg(test)]
mod tests {
    use super::valid_budget_duration;

    #[test]
    fn budget_durations() {
        for ok in ["30d", "1mo", "12h", "5s", "2w", "10m"] {
            assert!(valid_budget_duration(ok), "{ok}");
        }
        for bad in ["d", "30", "30x", "mo", "3 d"] {
            assert!(!valid_budget_duration(bad), "{bad}");
        }
    }
}
