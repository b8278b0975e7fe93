//! `POST /management/v1/users/bulk` (1.109 only; 1.80 answers 404), as recorded from 1.106.2
//! (files 32–44) and read from `bulk_user_creation.py`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::app::App;
use crate::auth::{Caller, authenticate};
use crate::errors::{HResult, invalid_body, ok, route_not_found};
use crate::routes::user_new::{TeamReq, team_req, valid_budget_duration};
use crate::state::{Db, User, budget_reset_at, normalize_email};
use crate::validate::Body;

/// `MAX_BULK_NEW_USERS`.
const MAX_ROWS: usize = 500;

/// The `NewUserRequest` fields a row may carry; anything else is "Extra inputs are not
/// permitted" (the row model forbids extras, file 39).
const ROW_FIELDS: &[&str] = &[
    "user_id",
    "user_email",
    "user_alias",
    "user_role",
    "teams",
    "team_id",
    "organizations",
    "auto_create_key",
    "send_invite_email",
    "max_budget",
    "budget_duration",
    "models",
    "metadata",
    "tpm_limit",
    "rpm_limit",
    "max_parallel_requests",
    "model_max_budget",
    "model_rpm_limit",
    "model_tpm_limit",
    "mcp_rpm_limit",
    "tag_rpm_limit",
    "aliases",
    "config",
    "permissions",
    "allowed_cache_controls",
    "guardrails",
    "policies",
    "prompts",
    "blocked",
    "spend",
    "object_permission",
    "budget_limits",
    "budget_fallbacks",
    "agent_id",
    "duration",
    "key_alias",
    "sso_user_id",
    "soft_budget",
    "tags",
    "key_type",
];

/// One validated row.
struct Row {
    user_id: Option<String>,
    user_email: Option<String>,
    user_role: Option<String>,
    user_alias: Option<String>,
    teams: Option<Vec<TeamReq>>,
    team_id: Option<String>,
    auto_create_key: bool,
    max_budget: Value,
    budget_duration: Option<String>,
    models: Vec<Value>,
    metadata: Value,
}

/// pydantic's `loc: msg` for one error of row `i`, with `body` replaced by `users.i`.
fn problem_line(i: usize, err: &Value) -> String {
    let mut loc = vec![format!("users.{i}")];
    for part in err["loc"].as_array().into_iter().flatten().skip(1) {
        loc.push(match part {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
    }
    format!(
        "{}: {}",
        loc.join("."),
        err["msg"].as_str().unwrap_or_default()
    )
}

fn parse_row(i: usize, item: &Value, problems: &mut Vec<String>) -> Option<Row> {
    let Some(map) = item.as_object() else {
        problems.push(format!(
            "users.{i}: Input should be a valid dictionary or instance of BulkNewUserItem"
        ));
        return None;
    };
    for k in map.keys() {
        if !ROW_FIELDS.contains(&k.as_str()) {
            problems.push(format!("users.{i}.{k}: Extra inputs are not permitted"));
        }
    }
    let mut b = Body {
        map: map.clone(),
        errors: Vec::new(),
    };
    let user_id = b.opt_str("user_id");
    let user_email = b.opt_str("user_email");
    let user_role = b.opt_role("user_role");
    let user_alias = b.opt_str("user_alias");
    let team_id = b.opt_str("team_id");
    let auto_create_key = b.opt_bool("auto_create_key").unwrap_or(false);
    let max_budget = b.opt_number("max_budget");
    let budget_duration = b.opt_str("budget_duration");
    let models = b.opt_list("models").unwrap_or_default();
    let metadata = b.opt_object("metadata").unwrap_or_else(|| json!({}));
    if b.opt_bool("send_invite_email") == Some(true) {
        problems.push(format!(
            "users.{i}.send_invite_email: Value error, send_invite_email is not supported on /management/v1/users/bulk; invite users separately"
        ));
    }
    let teams = b.opt_list("teams").map(|items| {
        let mut out = Vec::new();
        for (j, item) in items.iter().enumerate() {
            match team_req(item) {
                Some(t) => out.push(t),
                None => problems.push(format!(
                    "users.{i}.teams.{j}: Input should be a valid string"
                )),
            }
        }
        out
    });
    problems.extend(b.errors.iter().map(|e| problem_line(i, e)));
    Some(Row {
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
    })
}

/// The whole body, or the 422 problem document.
fn parse_body(body: &[u8]) -> Result<Vec<Row>, axum::response::Response> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| invalid_body("body: JSON decode error"))?;
    let Some(top) = value.as_object() else {
        return Err(invalid_body(
            "body: Input should be a valid dictionary or object to extract fields from",
        ));
    };
    let mut problems = Vec::new();
    for k in top.keys().filter(|k| *k != "users") {
        problems.push(format!("{k}: Extra inputs are not permitted"));
    }
    let mut rows = Vec::new();
    match top.get("users") {
        None => problems.push("users: Field required".into()),
        Some(Value::Array(items)) if items.is_empty() => {
            problems.push("users: Value should have at least 1 item after validation, not 0".into())
        }
        Some(Value::Array(items)) if items.len() > MAX_ROWS => problems.push(format!(
            "users: Value should have at most {MAX_ROWS} items after validation, not {}",
            items.len()
        )),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                rows.extend(parse_row(i, item, &mut problems));
            }
        }
        Some(_) => problems.push("users: Input should be a valid list".into()),
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        // Several errors are joined with "; " (a guess: only single errors were recorded).
        Err(invalid_body(&problems.join("; ")))
    }
}

/// The failure of one row, if any, in the order `bulk_create_users` checks: duplicates inside
/// the request, per-row checks, existing ids and emails, then the teams.
fn row_failure(
    db: &Db,
    caller: &Caller,
    row: &Row,
    user_id: &str,
    first_by_id: &HashMap<&str, usize>,
    first_by_email: &HashMap<String, usize>,
    i: usize,
) -> Option<String> {
    if first_by_id.get(user_id) != Some(&i) {
        return Some(format!("Duplicate user_id in request: {user_id}"));
    }
    if let Some(e) = &row.user_email
        && first_by_email.get(&normalize_email(e)) != Some(&i)
    {
        return Some(format!("Duplicate user_email in request: {e}"));
    }
    let admin_role = matches!(
        row.user_role.as_deref(),
        Some("proxy_admin" | "proxy_admin_viewer")
    );
    if admin_role && !caller.is_admin() {
        return Some(format!(
            "Only proxy admins can create administrative users (proxy_admin, proxy_admin_viewer). Attempted to create user with role: {}. Your role: {}",
            row.user_role.as_deref().unwrap_or_default(),
            caller.role
        ));
    }
    if let Some(d) = &row.budget_duration
        && !valid_budget_duration(d)
    {
        return Some(format!(
            "Invalid budget_duration format: {d}. Expected a number followed by s, m, h, d, w or mo (e.g. 30d)."
        ));
    }
    if db.users.contains_key(user_id) {
        return Some(format!("User id={user_id} already exists"));
    }
    if let Some(e) = &row.user_email
        && db.find_by_email_ci(e).is_some()
    {
        return Some(format!("User email={e} already exists"));
    }
    let errors: Vec<String> = requested_teams(row)
        .iter()
        .filter_map(|t| {
            if !db.teams.contains_key(&t.team_id) {
                Some(format!("Team id={} does not exist", t.team_id))
            } else if !caller.is_admin() {
                Some(format!(
                    "Call not allowed. User not proxy admin OR team admin. team_id={}",
                    t.team_id
                ))
            } else {
                None
            }
        })
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

/// `team_id` (deprecated) wins over `teams`.
fn requested_teams(row: &Row) -> Vec<TeamReq> {
    match (&row.team_id, &row.teams) {
        (Some(t), _) => vec![TeamReq {
            team_id: t.clone(),
            role: "user".into(),
            max_budget_in_team: Value::Null,
        }],
        (None, Some(ts)) => ts
            .iter()
            .map(|t| TeamReq {
                team_id: t.team_id.clone(),
                role: t.role.clone(),
                max_budget_in_team: t.max_budget_in_team.clone(),
            })
            .collect(),
        (None, None) => Vec::new(),
    }
}

fn result(
    user_id: &str,
    email: &Option<String>,
    outcome: Result<(Vec<String>, Option<String>), String>,
) -> Value {
    match outcome {
        Ok((teams, key)) => json!({
            "user_id": user_id, "user_email": email, "success": true,
            "teams": teams, "key": key, "error": null,
        }),
        Err(e) => json!({
            "user_id": user_id, "user_email": email, "success": false,
            "teams": null, "key": null, "error": e,
        }),
    }
}

/// `POST /management/v1/users/bulk`: rows fail independently; answers 200 with one result per
/// row. No key unless a row asks for `auto_create_key`; team admins need no licence here.
pub(crate) async fn bulk_new_users(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> HResult {
    if !app.version().is_new() {
        return Err(route_not_found());
    }
    let caller = authenticate(&app, &headers)?;
    let rows = parse_body(&body)?;
    // Every row gets an id up front; a failed row still reports it (files 36, 37).
    let ids: Vec<String> = rows
        .iter()
        .map(|r| {
            r.user_id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
        })
        .collect();
    let mut first_by_id: HashMap<&str, usize> = HashMap::new();
    let mut first_by_email: HashMap<String, usize> = HashMap::new();
    for (i, (row, id)) in rows.iter().zip(&ids).enumerate() {
        first_by_id.entry(id.as_str()).or_insert(i);
        if let Some(e) = &row.user_email {
            first_by_email.entry(normalize_email(e)).or_insert(i);
        }
    }
    let now = app.now();
    let mut db = app.db();
    // All checks run against the database as it was before the batch (one `create_many`).
    let failures: Vec<Option<String>> = rows
        .iter()
        .zip(&ids)
        .enumerate()
        .map(|(i, (row, id))| row_failure(&db, &caller, row, id, &first_by_id, &first_by_email, i))
        .collect();
    let mut data = Vec::with_capacity(rows.len());
    let mut created = 0usize;
    for ((row, id), failure) in rows.iter().zip(&ids).zip(failures) {
        if let Some(e) = failure {
            data.push(result(id, &row.user_email, Err(e)));
            continue;
        }
        let mut user = User::new(id, row.user_email.clone(), row.user_role.clone(), now);
        user.user_alias = row.user_alias.clone();
        user.team_id = row.team_id.clone();
        user.max_budget = row.max_budget.clone();
        user.budget_duration = json!(row.budget_duration);
        user.budget_reset_at = row
            .budget_duration
            .as_deref()
            .and_then(|d| budget_reset_at(d, now));
        user.models = json!(row.models);
        user.metadata = row.metadata.clone();
        db.insert_user(user);
        app.stats.user_created();
        let mut key = None;
        if row.auto_create_key {
            let (plain, k) = app.mint_key(id, row.team_id.clone(), now);
            if let Some(u) = db.users.get_mut(id) {
                u.keys.push(k);
            }
            key = Some(plain);
        }
        let mut joined = Vec::new();
        for t in requested_teams(row) {
            // No premium check here: `user_role: admin` makes a team admin (file 42).
            if db.add_member(&t.team_id, id, &t.role, now) {
                if !t.max_budget_in_team.is_null() {
                    db.set_member_budget(&t.team_id, id, t.max_budget_in_team.clone(), now);
                }
                joined.push(t.team_id);
            }
        }
        created += 1;
        data.push(result(id, &row.user_email, Ok((joined, key))));
    }
    drop(db);
    let total = rows.len();
    app.stats.bulk_rows(total as u64, created as u64);
    ok(json!({
        "data": data,
        "meta": {"total_requested": total, "created": created, "failed": total - created},
    }))
}
