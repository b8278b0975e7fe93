//! Test control: inspection and mutation, as Rust methods on [`App`] and as `/_emulator/*` routes.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{App, ts};
use crate::errors::{HResult, json_response, ok};
use crate::faults::FaultConfig;
use crate::routes::invitations::{accept, create_invitation};
use crate::state::{InvitationCounts, InvitationRecord, TeamRecord, User, UserRecord};
use crate::stats::Stats;

impl App {
    pub fn users(&self) -> Vec<UserRecord> {
        self.db()
            .users_by_seq()
            .into_iter()
            .map(User::record)
            .collect()
    }

    pub fn invitations(&self) -> Vec<InvitationRecord> {
        self.db().invitations().cloned().collect()
    }

    pub fn teams(&self) -> Vec<TeamRecord> {
        let db = self.db();
        let mut teams: Vec<_> = db.teams.values().collect();
        teams.sort_by_key(|t| t.seq);
        teams.into_iter().map(|t| t.record()).collect()
    }

    pub fn user_count(&self) -> usize {
        self.db().users.len()
    }

    pub fn invitation_counts(&self, user_id: &str) -> InvitationCounts {
        let now = self.now();
        self.db().invitation_counts(user_id, now)
    }

    pub fn team(&self, team_id: &str) -> Option<TeamRecord> {
        self.db().teams.get(team_id).map(|t| t.record())
    }

    pub fn stats_snapshot(&self) -> Stats {
        let dups = self.db().duplicate_email_count();
        self.stats.snapshot(dups)
    }

    /// Create a user directly (role `internal_user`, no key); unknown teams are skipped.
    pub fn add_user(&self, email: &str, teams: &[String]) -> String {
        let now = self.now();
        let id = uuid::Uuid::new_v4().to_string();
        let mut db = self.db();
        let user = User::new(
            &id,
            Some(email.to_string()),
            Some("internal_user".into()),
            now,
        );
        db.insert_user(user);
        for t in teams {
            db.add_member(t, &id, "user", now);
        }
        id
    }

    /// Create users directly as one bulk request does: they share one `created_at`, so the
    /// proxy's default order returns them in a new order on every page.
    pub fn add_users_at_once(&self, emails: &[String], teams: &[String]) -> Vec<String> {
        let now = self.now();
        let mut db = self.db();
        emails
            .iter()
            .map(|email| {
                let id = uuid::Uuid::new_v4().to_string();
                let user = User::new(&id, Some(email.clone()), Some("internal_user".into()), now);
                db.insert_user(user);
                for t in teams {
                    db.add_member(t, &id, "user", now);
                }
                id
            })
            .collect()
    }

    /// Create (or rename) a team directly.
    pub fn add_team(&self, team_id: &str, alias: &str) {
        let now = self.now();
        let mut db = self.db();
        match db.teams.get_mut(team_id) {
            Some(t) => t.team_alias = Some(alias.to_string()),
            None => db.insert_team(team_id, Some(alias.to_string()), now),
        }
    }

    /// Sets a team's limits; false for an unknown team.
    pub fn set_team_limits(&self, team_id: &str, limits: &crate::state::TeamLimits) -> bool {
        let mut db = self.db();
        let Some(t) = db.teams.get_mut(team_id) else {
            return false;
        };
        t.blocked = limits.blocked;
        t.spend = limits.spend;
        t.max_budget = json!(limits.max_budget);
        t.models = json!(limits.models);
        t.member_budget = limits.member_budget;
        true
    }

    /// Insert an invitation with the given creation time (created by `default_user_id`,
    /// bypassing the foreign-key check on the creator).
    pub fn add_invitation(
        &self,
        user_id: &str,
        created_at: DateTime<Utc>,
    ) -> Option<InvitationRecord> {
        let creator = crate::config::DEFAULT_USER_ID;
        create_invitation(&mut self.db(), user_id, creator, created_at, false)
    }

    pub fn accept_invitation(&self, id: &str) -> bool {
        let now = self.now();
        accept(&mut self.db(), id, self.version(), now)
    }

    pub fn delete_user(&self, id: &str) -> bool {
        self.db().remove_user(id)
    }
}

/// `/_emulator/*` (no auth, not counted in stats).
pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/_emulator/stats", get(stats))
        .route("/_emulator/users", get(users).post(add_user))
        .route(
            "/_emulator/users_at_once",
            axum::routing::post(add_users_at_once),
        )
        .route("/_emulator/teams", get(teams).post(add_team))
        .route("/_emulator/invitations", get(invitations))
        .route("/_emulator/counts", get(counts))
        .route("/_emulator/invitation_counts", get(invitation_counts))
        .route("/_emulator/team", get(team))
        .route("/_emulator/clock", get(clock).post(set_clock))
        .route("/_emulator/accept", post(accept_route))
        .route("/_emulator/delete_user", post(delete_user))
        .route("/_emulator/faults", get(faults).post(set_faults))
        .route("/_emulator/latency", post(set_latency))
        .route("/_emulator/reset_stats", post(reset_stats))
}

fn bad_request(msg: impl std::fmt::Display) -> axum::response::Response {
    json_response(StatusCode::BAD_REQUEST, json!({"error": msg.to_string()}))
}

fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, axum::response::Response> {
    serde_json::from_slice(body).map_err(bad_request)
}

async fn stats(State(app): State<Arc<App>>) -> HResult {
    ok(json!(app.stats_snapshot()))
}

async fn users(State(app): State<Arc<App>>) -> HResult {
    ok(json!(app.users()))
}

async fn teams(State(app): State<Arc<App>>) -> HResult {
    ok(json!(app.teams()))
}

async fn invitations(State(app): State<Arc<App>>) -> HResult {
    ok(json!(app.invitations()))
}

/// `GET /_emulator/counts`: rows in each table right now.
async fn counts(State(app): State<Arc<App>>) -> HResult {
    let (users, teams, invitations) = {
        let db = app.db();
        (db.users.len(), db.teams.len(), db.invitations().count())
    };
    ok(json!({"users": users, "teams": teams, "invitations": invitations}))
}

type Q = axum::extract::Query<std::collections::HashMap<String, String>>;

fn query_param(
    q: &std::collections::HashMap<String, String>,
    name: &str,
) -> Result<String, axum::response::Response> {
    q.get(name)
        .cloned()
        .ok_or_else(|| bad_request(format!("query parameter {name} is required")))
}

/// `GET /_emulator/invitation_counts?user_id=`: `{stored, live, total}`.
async fn invitation_counts(State(app): State<Arc<App>>, axum::extract::Query(q): Q) -> HResult {
    let id = query_param(&q, "user_id")?;
    ok(json!(app.invitation_counts(&id)))
}

/// `GET /_emulator/team?team_id=`: roster with roles plus membership rows.
async fn team(State(app): State<Arc<App>>, axum::extract::Query(q): Q) -> HResult {
    let id = query_param(&q, "team_id")?;
    match app.team(&id) {
        Some(t) => ok(json!(t)),
        None => Err(json_response(
            StatusCode::NOT_FOUND,
            json!({"error": format!("no team {id}")}),
        )),
    }
}

#[derive(Deserialize)]
struct NewUser {
    user_email: String,
    #[serde(default)]
    teams: Vec<String>,
}

async fn add_user(State(app): State<Arc<App>>, body: Bytes) -> HResult {
    let req: NewUser = parse(&body)?;
    let user_id = app.add_user(&req.user_email, &req.teams);
    ok(json!({ "user_id": user_id }))
}

#[derive(Deserialize)]
struct ManyUsers {
    /// Emails `<prefix><i>@<domain>` for i in 0..count.
    count: usize,
    prefix: String,
    #[serde(default = "default_domain")]
    domain: String,
    #[serde(default)]
    teams: Vec<String>,
}

fn default_domain() -> String {
    "company.com".into()
}

/// `POST /_emulator/users_at_once {count, prefix, domain?, teams?}`: users made as by one bulk
/// request (one `created_at`), to populate a proxy for a benchmark.
async fn add_users_at_once(State(app): State<Arc<App>>, body: Bytes) -> HResult {
    let req: ManyUsers = parse(&body)?;
    let emails: Vec<String> = (0..req.count)
        .map(|i| format!("{}{i}@{}", req.prefix, req.domain))
        .collect();
    let made = app.add_users_at_once(&emails, &req.teams).len();
    ok(json!({ "users": made }))
}

#[derive(Deserialize)]
struct NewTeam {
    team_id: String,
    team_alias: String,
}

async fn add_team(State(app): State<Arc<App>>, body: Bytes) -> HResult {
    let req: NewTeam = parse(&body)?;
    app.add_team(&req.team_id, &req.team_alias);
    ok(json!({ "team_id": req.team_id }))
}

fn clock_body(app: &App) -> Value {
    json!({"offset_seconds": app.clock_offset().num_seconds(), "now": ts(app.now())})
}

async fn clock(State(app): State<Arc<App>>) -> HResult {
    ok(clock_body(&app))
}

#[derive(Deserialize)]
struct Clock {
    offset_seconds: i64,
}

async fn set_clock(State(app): State<Arc<App>>, body: Bytes) -> HResult {
    let req: Clock = parse(&body)?;
    app.set_clock_offset(chrono::Duration::seconds(req.offset_seconds));
    ok(clock_body(&app))
}

#[derive(Deserialize)]
struct Accept {
    invitation_id: String,
}

async fn accept_route(State(app): State<Arc<App>>, body: Bytes) -> HResult {
    let req: Accept = parse(&body)?;
    if !app.accept_invitation(&req.invitation_id) {
        let body = json!({"error": format!("no invitation {}", req.invitation_id)});
        return Err(json_response(StatusCode::NOT_FOUND, body));
    }
    let inv = app
        .invitations()
        .into_iter()
        .find(|i| i.id == req.invitation_id);
    ok(json!(inv))
}

#[derive(Deserialize)]
struct DeleteUser {
    user_id: String,
}

async fn delete_user(State(app): State<Arc<App>>, body: Bytes) -> HResult {
    let req: DeleteUser = parse(&body)?;
    ok(json!({ "deleted": app.delete_user(&req.user_id) }))
}

async fn faults(State(app): State<Arc<App>>) -> HResult {
    ok(json!(app.fault_config()))
}

async fn set_faults(State(app): State<Arc<App>>, body: Bytes) -> HResult {
    let cfg: FaultConfig = parse(&body)?;
    app.set_faults(cfg.clone());
    ok(json!(cfg))
}

#[derive(Deserialize)]
struct Latency {
    latency_ms: u64,
}

async fn set_latency(State(app): State<Arc<App>>, body: Bytes) -> HResult {
    let req: Latency = parse(&body)?;
    app.set_latency(std::time::Duration::from_millis(req.latency_ms));
    ok(json!({ "latency_ms": req.latency_ms }))
}

async fn reset_stats(State(app): State<Arc<App>>) -> HResult {
    app.stats.reset();
    ok(json!({"ok": true}))
}
