//! [`Emulator`]: a running emulator with its inspection and control API.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::watch;

use crate::app::App;
use crate::config::{ApiVersion, EmulatorConfig};
use crate::faults::FaultConfig;
use crate::state::{InvitationCounts, InvitationRecord, TeamMember, TeamRecord, UserRecord};
use crate::stats::Stats;
use crate::{control, gate, routes, server};

/// A running LiteLLM emulator bound to `127.0.0.1:PORT` (or the configured host).
/// Dropping it stops the server.
pub struct Emulator {
    app: Arc<App>,
    addr: SocketAddr,
    shutdown: Option<watch::Sender<bool>>,
    runtime: Option<Runtime>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .field("api_version", &self.app.version())
            .finish()
    }
}

fn router(app: &Arc<App>) -> Router {
    routes::api()
        .merge(control::routes())
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            gate::gate,
        ))
        .with_state(app.clone())
}

impl Emulator {
    /// Bind and serve on the current tokio runtime.
    pub async fn start(config: EmulatorConfig) -> anyhow::Result<Emulator> {
        let addr = (config.host.as_str(), config.port);
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {}:{}", config.host, config.port))?;
        Self::launch(config, listener, &Handle::current(), None)
    }

    /// Start on a private 2-thread runtime (for plain `#[test]` functions); panics if binding fails.
    pub fn spawn(config: EmulatorConfig) -> Emulator {
        Self::try_spawn(config).expect("failed to start the LiteLLM emulator")
    }

    /// Like [`Emulator::spawn`], returning bind errors.
    pub fn try_spawn(config: EmulatorConfig) -> anyhow::Result<Emulator> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("litellm-emulator")
            .enable_all()
            .build()
            .context("building the emulator runtime")?;
        let std_listener = std::net::TcpListener::bind((config.host.as_str(), config.port))
            .with_context(|| format!("binding {}:{}", config.host, config.port))?;
        std_listener.set_nonblocking(true)?;
        let listener = {
            let _guard = runtime.enter();
            TcpListener::from_std(std_listener)?
        };
        let handle = runtime.handle().clone();
        Self::launch(config, listener, &handle, Some(runtime))
    }

    fn launch(
        config: EmulatorConfig,
        listener: TcpListener,
        handle: &Handle,
        runtime: Option<Runtime>,
    ) -> anyhow::Result<Emulator> {
        let addr = listener.local_addr()?;
        let prefix = config.root_prefix();
        let app = App::new(config);
        *app.base_url.lock().unwrap_or_else(|e| e.into_inner()) = format!("http://{addr}");
        let tls = match &app.cfg.tls {
            Some(pem) => Some(server::acceptor(pem)?),
            None => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        *app.base_url.lock().unwrap_or_else(|e| e.into_inner()) = format!("{scheme}://{addr}");
        let (tx, rx) = watch::channel(false);
        handle.spawn(server::serve(listener, router(&app), prefix, tls, rx));
        Ok(Emulator {
            app,
            addr,
            shutdown: Some(tx),
            runtime,
        })
    }

    /// `http://127.0.0.1:PORT` (`https://localhost:PORT` with TLS; no trailing slash, no root path).
    pub fn url(&self) -> String {
        match self.app.cfg.tls {
            Some(_) => format!("https://localhost:{}", self.addr.port()),
            None => format!("http://{}", self.addr),
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The master key.
    pub fn master_key(&self) -> &str {
        &self.app.cfg.master_key
    }

    /// The emulated version.
    pub fn api_version(&self) -> ApiVersion {
        self.app.version()
    }

    /// All user rows, oldest first (includes `default_user_id` when it exists).
    pub fn users(&self) -> Vec<UserRecord> {
        self.app.users()
    }

    /// Users whose trimmed email equals `email` case-insensitively, oldest first.
    pub fn users_with_email(&self, email: &str) -> Vec<UserRecord> {
        let want = email.trim().to_lowercase();
        self.users()
            .into_iter()
            .filter(|u| {
                u.user_email.as_deref().map(|e| e.trim().to_lowercase()) == Some(want.clone())
            })
            .collect()
    }

    /// All invitation rows, oldest first.
    pub fn invitations(&self) -> Vec<InvitationRecord> {
        self.app.invitations()
    }

    /// All teams, oldest first.
    pub fn teams(&self) -> Vec<TeamRecord> {
        self.app.teams()
    }

    /// Number of user rows (includes `default_user_id` when it exists).
    pub fn user_count(&self) -> usize {
        self.app.user_count()
    }

    /// One user row by id.
    pub fn user(&self, user_id: &str) -> Option<UserRecord> {
        self.users().into_iter().find(|u| u.user_id == user_id)
    }

    /// A user's invitations: stored now, still usable (live), and ever created (total).
    pub fn invitation_counts(&self, user_id: &str) -> InvitationCounts {
        self.app.invitation_counts(user_id)
    }

    /// One team (roster with roles and membership rows), or None.
    pub fn team(&self, team_id: &str) -> Option<TeamRecord> {
        self.app.team(team_id)
    }

    /// A team's roster (`members_with_roles`); empty for an unknown team.
    pub fn team_members(&self, team_id: &str) -> Vec<TeamMember> {
        self.team(team_id).map(|t| t.members).unwrap_or_default()
    }

    /// The role `user_id` has in `team_id` (`user` or `admin`), None when not on the roster.
    pub fn team_role(&self, team_id: &str, user_id: &str) -> Option<String> {
        self.team_members(team_id)
            .into_iter()
            .find(|m| m.user_id.as_deref() == Some(user_id))
            .map(|m| m.role)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.app.stats_snapshot()
    }

    /// Zero the counters and peaks (state is kept).
    pub fn reset_stats(&self) {
        self.app.stats.reset();
    }

    /// Create a user directly (`internal_user`, no key, not counted); returns its user_id.
    /// Unknown team ids are skipped.
    pub fn add_user(&self, email: &str, teams: &[&str]) -> String {
        let teams: Vec<String> = teams.iter().map(|t| t.to_string()).collect();
        self.app.add_user(email, &teams)
    }

    /// Create users directly as one bulk request does (not counted): they share one
    /// `created_at`, so the default `/user/list` order shuffles them on every page. Returns
    /// their user_ids.
    pub fn add_users_at_once(&self, emails: &[String], teams: &[&str]) -> Vec<String> {
        let teams: Vec<String> = teams.iter().map(|t| t.to_string()).collect();
        self.app.add_users_at_once(emails, &teams)
    }

    /// Set a team's `team_member_permissions` directly (as `/team/permissions_update` does).
    pub fn set_team_permissions(&self, team_id: &str, permissions: &[&str]) {
        if let Some(team) = self.app.db().teams.get_mut(team_id) {
            team.permissions = permissions.iter().map(|p| p.to_string()).collect();
        }
    }

    /// Change a user's email directly (as an admin would in the UI).
    pub fn set_email(&self, user_id: &str, email: &str) {
        self.app.db().set_email(user_id, Some(email.to_string()));
    }

    /// Create a team directly (or rename an existing one).
    pub fn add_team(&self, team_id: &str, alias: &str) {
        self.app.add_team(team_id, alias);
    }

    /// Sets what decides whether a team's members can work (blocked, spend, budgets, models);
    /// false for an unknown team.
    pub fn set_team_limits(&self, team_id: &str, limits: &crate::state::TeamLimits) -> bool {
        self.app.set_team_limits(team_id, limits)
    }

    /// Insert an invitation for an existing user as if created at `created_at`
    /// (expires 7 days later); None when the user does not exist.
    pub fn add_invitation(
        &self,
        user_id: &str,
        created_at: DateTime<Utc>,
    ) -> Option<InvitationRecord> {
        self.app.add_invitation(user_id, created_at)
    }

    /// Mark an invitation accepted as the emulated version would (sets `is_accepted`,
    /// `accepted_at`; on 1.109 also marks the user's password as set). False if unknown.
    pub fn accept_invitation(&self, invitation_id: &str) -> bool {
        self.app.accept_invitation(invitation_id)
    }

    /// Delete a user with its keys, invitations and memberships. False if unknown.
    pub fn delete_user(&self, user_id: &str) -> bool {
        self.app.delete_user(user_id)
    }

    /// The emulator's clock: real now + offset.
    pub fn now(&self) -> DateTime<Utc> {
        self.app.now()
    }

    /// Shift the emulator's clock (expiry checks and new timestamps).
    pub fn set_clock_offset(&self, offset: chrono::Duration) {
        self.app.set_clock_offset(offset);
    }

    /// The current clock offset.
    pub fn clock_offset(&self) -> chrono::Duration {
        self.app.clock_offset()
    }

    /// Replace the fault configuration (re-seeds the generator).
    pub fn set_faults(&self, faults: FaultConfig) {
        self.app.set_faults(faults);
    }

    /// Change the per-request latency.
    pub fn set_latency(&self, latency: Duration) {
        self.app.set_latency(latency);
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
