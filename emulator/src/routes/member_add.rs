//! `POST /team/member_add`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::app::App;
use crate::auth::authenticate;
use crate::errors::{
    HResult, PREMIUM_TEAM_ADMIN_ADD, detail_error, envelope, http_exc, http_exc_dict, ok, py_repr,
    verr,
};
use crate::routes::teams::memberships;
use crate::state::{Db, TeamMember, User};
use crate::validate::Body;
use crate::views::{team_base, user_row};

/// One `Member` of the request.
struct Member {
    role: String,
    user_id: Option<String>,
    user_email: Option<String>,
}

fn parse_member(b: &mut Body, item: &Value, loc: Value) -> Option<Member> {
    let Some(m) = item.as_object() else {
        b.error(verr(
            "model_type",
            loc,
            "Input should be a valid dictionary or instance of Member",
            item.clone(),
            None,
        ));
        return None;
    };
    let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
    let role = match m.get("role").and_then(Value::as_str) {
        Some(r @ ("user" | "admin")) => r.to_string(),
        _ => {
            let mut l = loc.clone();
            if let Some(a) = l.as_array_mut() {
                a.push(json!("role"));
            }
            let input = m.get("role").cloned().unwrap_or(Value::Null);
            b.error(verr(
                "literal_error",
                l,
                "Input should be 'admin' or 'user'",
                input,
                None,
            ));
            return None;
        }
    };
    let (user_id, user_email) = (s("user_id"), s("user_email"));
    if user_id.is_none() && user_email.is_none() {
        let msg = "Value error, Either user_id or user_email must be provided";
        b.error(verr(
            "value_error",
            loc,
            msg,
            item.clone(),
            Some(json!({"error": {}})),
        ));
        return None;
    }
    Some(Member {
        role,
        user_id,
        user_email,
    })
}

fn py_opt(s: Option<&str>) -> String {
    s.map(py_repr).unwrap_or_else(|| "None".into())
}

fn members_repr(members: &[TeamMember]) -> String {
    let items: Vec<String> = members
        .iter()
        .map(|m| {
            format!(
                "Member(user_id={}, user_email={}, role={})",
                py_opt(m.user_id.as_deref()),
                py_opt(m.user_email.as_deref()),
                py_repr(&m.role)
            )
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// Which user a member refers to: `Ok(Some(id))` existing, `Ok(None)` to be created.
fn resolve(db: &Db, m: &Member) -> Result<Option<String>, String> {
    let by_email = m
        .user_email
        .as_deref()
        .map(|e| db.find_by_email_exact(e))
        .unwrap_or_default();
    match &m.user_id {
        Some(id) => {
            if let Some(other) = by_email.iter().find(|u| &u.user_id != id)
                && db.users.contains_key(id)
            {
                return Err(format!(
                    "User email and user id do not match. user_email belongs to user_id={}",
                    other.user_id
                ));
            }
            Ok(db.users.contains_key(id).then(|| id.clone()))
        }
        None => match by_email.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one.user_id.clone())),
            _ => Err(format!(
                "Multiple users found with email={}. Pass user_id instead.",
                m.user_email.as_deref().unwrap_or_default()
            )),
        },
    }
}

/// `POST /team/member_add`: by `user_id`, or by `user_email` (an unknown email creates a user).
pub(crate) async fn member_add(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> HResult {
    let v = app.version();
    let caller = authenticate(&app, &headers)?;
    let mut b = Body::parse(&body)?;
    let team_id = b.req_str("team_id");
    let raw = b.map.get("member").cloned();
    let mut members = Vec::new();
    match raw {
        None | Some(Value::Null) => {
            b.error(verr(
                "missing",
                json!(["body", "member"]),
                "Field required",
                Value::Null,
                None,
            ));
        }
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                members.extend(parse_member(&mut b, item, json!(["body", "member", i])));
            }
        }
        Some(item) => members.extend(parse_member(&mut b, &item, json!(["body", "member"]))),
    }
    b.opt_number("max_budget_in_team");
    b.finish()?;
    let team_id = team_id.unwrap_or_default();
    if !caller.is_admin() {
        let msg = format!(
            "Call not allowed. User not proxy admin OR team admin. route=/team/member_add, team_id={team_id}"
        );
        return Err(http_exc(v, StatusCode::FORBIDDEN, &msg));
    }
    if members.iter().any(|m| m.role == "admin") {
        // Team admins need an enterprise licence (file 60).
        return Err(detail_error(
            StatusCode::BAD_REQUEST,
            PREMIUM_TEAM_ADMIN_ADD,
        ));
    }
    let now = app.now();
    let mut db = app.db();
    let Some(team) = db.teams.get(&team_id) else {
        let msg =
            format!("Team doesn't exist in db. Team={team_id}. Create team via `/team/new` call.");
        return Err(detail_error(StatusCode::NOT_FOUND, &msg));
    };
    let mut resolved = Vec::new();
    for m in &members {
        let id = resolve(&db, m).map_err(|e| http_exc_dict(v, StatusCode::BAD_REQUEST, &e))?;
        if id.as_deref().is_some_and(|id| team.has_member(id)) {
            let msg = format!(
                "User already in team. Member: user_id={}, user_email={}. Existing members={}",
                m.user_id.as_deref().unwrap_or("None"),
                m.user_email.as_deref().unwrap_or("None"),
                members_repr(&team.members)
            );
            return Err(envelope(
                StatusCode::BAD_REQUEST,
                &msg,
                "team_member_already_in_team",
                json!("member"),
            ));
        }
        resolved.push(id);
    }
    let mut added = Vec::new();
    for (m, id) in members.iter().zip(resolved) {
        let id = match id {
            Some(id) => id,
            None => {
                let id = m
                    .user_id
                    .clone()
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                let row = User::new(&id, m.user_email.clone(), Some("internal_user".into()), now);
                db.insert_user(row);
                app.stats.user_created();
                id
            }
        };
        db.add_member(&team_id, &id, &m.role, now);
        added.push(id);
    }
    let Some(team) = db.teams.get(&team_id) else {
        return Err(detail_error(StatusCode::NOT_FOUND, "Team vanished"));
    };
    let mut resp = team_base(team);
    let users: Vec<Value> = added
        .iter()
        .filter_map(|id| db.users.get(id))
        .map(|u| user_row(u, false))
        .collect();
    resp["updated_users"] = json!(users);
    resp["updated_team_memberships"] = json!(memberships(&team_id, &added));
    ok(resp)
}
