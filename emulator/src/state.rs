//! The in-memory "database": users, keys, teams, invitations.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::{DEFAULT_USER_ID, EmulatorConfig};

/// A user row as seen by tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    /// Primary key.
    pub user_id: String,
    /// Email as stored (not normalised).
    pub user_email: Option<String>,
    /// Role, or None when the request did not send one.
    pub user_role: Option<String>,
    /// Display name.
    pub user_alias: Option<String>,
    /// Team ids the user belongs to.
    pub teams: Vec<String>,
    /// Virtual keys owned by the user.
    pub key_count: usize,
    /// True once a password was set through `/onboarding/claim_token`.
    pub has_password: bool,
    /// Creation time (emulator clock).
    pub created_at: DateTime<Utc>,
}

/// An invitation row (`LiteLLM_InvitationLink`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationRecord {
    /// Invitation id (used in `?invitation_id=`).
    pub id: String,
    /// The invited user.
    pub user_id: String,
    /// Accepted (1.80: link opened; 1.109: password set).
    pub is_accepted: bool,
    /// When it was accepted.
    pub accepted_at: Option<DateTime<Utc>>,
    /// created_at + 7 days.
    pub expires_at: DateTime<Utc>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Creator's user id (`default_user_id` for the master key).
    pub created_by: String,
    /// Last update time.
    pub updated_at: DateTime<Utc>,
    /// Last updater's user id.
    pub updated_by: String,
}

/// A team member entry (`members_with_roles`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamMember {
    /// Member's user id.
    pub user_id: Option<String>,
    /// Member's email.
    pub user_email: Option<String>,
    /// `user` or `admin`.
    pub role: String,
}

/// A team as seen by tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamRecord {
    /// Primary key.
    pub team_id: String,
    /// Display name (not unique).
    pub team_alias: Option<String>,
    /// Members with roles.
    pub members: Vec<TeamMember>,
}

/// A virtual key.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub token: String,
    pub key_name: String,
    pub user_id: String,
    pub team_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A stored user row.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub seq: u64,
    pub user_id: String,
    pub user_email: Option<String>,
    pub user_role: Option<String>,
    pub user_alias: Option<String>,
    pub teams: Vec<String>,
    pub team_id: Option<String>,
    pub max_budget: Value,
    pub budget_duration: Value,
    pub models: Value,
    pub metadata: Value,
    pub sso_user_id: Value,
    pub password: Option<String>,
    pub keys: Vec<Key>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// A fresh row with defaults.
    pub fn new(
        user_id: &str,
        email: Option<String>,
        role: Option<String>,
        now: DateTime<Utc>,
    ) -> Self {
        User {
            seq: 0,
            user_id: user_id.to_string(),
            user_email: email,
            user_role: role,
            user_alias: None,
            teams: Vec::new(),
            team_id: None,
            max_budget: Value::Null,
            budget_duration: Value::Null,
            models: json!([]),
            metadata: json!({}),
            sso_user_id: Value::Null,
            password: None,
            keys: Vec::new(),
            created_at: now,
            updated_at: now,
        }
    }

    pub fn record(&self) -> UserRecord {
        UserRecord {
            user_id: self.user_id.clone(),
            user_email: self.user_email.clone(),
            user_role: self.user_role.clone(),
            user_alias: self.user_alias.clone(),
            teams: self.teams.clone(),
            key_count: self.keys.len(),
            has_password: self.password.is_some(),
            created_at: self.created_at,
        }
    }
}

/// A stored team row.
#[derive(Debug, Clone)]
pub(crate) struct Team {
    pub seq: u64,
    pub team_id: String,
    pub team_alias: Option<String>,
    pub members: Vec<TeamMember>,
    /// The members' user ids, for constant-time membership checks on large teams.
    pub member_ids: std::collections::HashSet<String>,
    pub metadata: Value,
    pub models: Value,
    pub max_budget: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Team {
    pub fn record(&self) -> TeamRecord {
        TeamRecord {
            team_id: self.team_id.clone(),
            team_alias: self.team_alias.clone(),
            members: self.members.clone(),
        }
    }

    pub fn has_member(&self, user_id: &str) -> bool {
        self.member_ids.contains(user_id)
    }
}

/// An onboarding token handed out by `/onboarding/get_token`.
#[derive(Debug, Clone)]
pub(crate) struct OnboardingToken {
    pub invitation_id: String,
    pub user_id: String,
    pub expires_at: DateTime<Utc>,
}

/// Trimmed, lower-cased email used for duplicate checks.
pub(crate) fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// All stored rows.
#[derive(Debug, Default)]
pub(crate) struct Db {
    seq: u64,
    pub users: HashMap<String, User>,
    emails: HashMap<String, Vec<String>>,
    pub teams: HashMap<String, Team>,
    pub invitations: Vec<InvitationRecord>,
    pub onboarding_tokens: HashMap<String, OnboardingToken>,
}

impl Db {
    /// A database seeded from the configuration.
    pub fn seeded(cfg: &EmulatorConfig, now: DateTime<Utc>) -> Self {
        let mut db = Db::default();
        if cfg.default_user {
            let admin = User::new(DEFAULT_USER_ID, None, Some("proxy_admin".into()), now);
            db.insert_user(admin);
        }
        for t in &cfg.seed_teams {
            db.insert_team(&t.team_id, Some(t.team_alias.clone()), now);
            if cfg.default_user {
                db.add_member(&t.team_id, DEFAULT_USER_ID, "admin", now);
            }
        }
        db
    }

    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// The first user (by creation) whose normalised email equals `email`'s.
    pub fn find_by_email_ci(&self, email: &str) -> Option<&User> {
        let ids = self.emails.get(&normalize_email(email))?;
        ids.iter()
            .filter_map(|id| self.users.get(id))
            .min_by_key(|u| u.seq)
    }

    /// Users whose email equals `email` exactly (case-sensitive).
    pub fn find_by_email_exact(&self, email: &str) -> Vec<&User> {
        let mut v: Vec<&User> = self
            .emails
            .get(&normalize_email(email))
            .into_iter()
            .flatten()
            .filter_map(|id| self.users.get(id))
            .filter(|u| u.user_email.as_deref() == Some(email))
            .collect();
        v.sort_by_key(|u| u.seq);
        v
    }

    /// Insert a user row (replacing any row with the same id).
    pub fn insert_user(&mut self, mut user: User) {
        if self.users.contains_key(&user.user_id) {
            self.remove_email_index(&user.user_id);
        }
        user.seq = self.next_seq();
        if let Some(e) = &user.user_email {
            self.emails
                .entry(normalize_email(e))
                .or_default()
                .push(user.user_id.clone());
        }
        self.users.insert(user.user_id.clone(), user);
    }

    fn remove_email_index(&mut self, user_id: &str) {
        let Some(email) = self.users.get(user_id).and_then(|u| u.user_email.clone()) else {
            return;
        };
        let norm = normalize_email(&email);
        if let Some(ids) = self.emails.get_mut(&norm) {
            ids.retain(|id| id != user_id);
            if ids.is_empty() {
                self.emails.remove(&norm);
            }
        }
    }

    /// Delete a user and everything hanging off it (keys, invitations, memberships).
    pub fn remove_user(&mut self, user_id: &str) -> bool {
        if !self.users.contains_key(user_id) {
            return false;
        }
        self.remove_email_index(user_id);
        self.users.remove(user_id);
        self.invitations
            .retain(|i| i.user_id != user_id && i.created_by != user_id && i.updated_by != user_id);
        for team in self.teams.values_mut() {
            team.members
                .retain(|m| m.user_id.as_deref() != Some(user_id));
            team.member_ids.remove(user_id);
        }
        self.onboarding_tokens.retain(|_, t| t.user_id != user_id);
        true
    }

    pub fn insert_team(&mut self, team_id: &str, alias: Option<String>, now: DateTime<Utc>) {
        let seq = self.next_seq();
        let team = Team {
            seq,
            team_id: team_id.to_string(),
            team_alias: alias,
            members: Vec::new(),
            member_ids: Default::default(),
            metadata: json!({}),
            models: json!([]),
            max_budget: Value::Null,
            created_at: now,
            updated_at: now,
        };
        self.teams.insert(team_id.to_string(), team);
    }

    /// Add `user_id` to a team with `role`; returns false when the team is unknown.
    /// Adding an existing member is a no-op that returns true.
    pub fn add_member(
        &mut self,
        team_id: &str,
        user_id: &str,
        role: &str,
        now: DateTime<Utc>,
    ) -> bool {
        let email = self.users.get(user_id).and_then(|u| u.user_email.clone());
        let Some(team) = self.teams.get_mut(team_id) else {
            return false;
        };
        if !team.has_member(user_id) {
            team.member_ids.insert(user_id.to_string());
            team.members.push(TeamMember {
                user_id: Some(user_id.to_string()),
                user_email: email,
                role: role.to_string(),
            });
            team.updated_at = now;
        }
        if let Some(user) = self.users.get_mut(user_id)
            && !user.teams.iter().any(|t| t == team_id)
        {
            user.teams.push(team_id.to_string());
            user.updated_at = now;
        }
        true
    }

    /// Users ordered by creation (oldest first).
    pub fn users_by_seq(&self) -> Vec<&User> {
        let mut v: Vec<&User> = self.users.values().collect();
        v.sort_by_key(|u| u.seq);
        v
    }

    /// Teams ordered by alias, then creation.
    pub fn teams_by_alias(&self) -> Vec<&Team> {
        let mut v: Vec<&Team> = self.teams.values().collect();
        v.sort_by(|a, b| {
            let aa = a.team_alias.clone().unwrap_or_default();
            let ba = b.team_alias.clone().unwrap_or_default();
            aa.cmp(&ba).then(a.seq.cmp(&b.seq))
        });
        v
    }

    /// Number of normalised emails held by more than one user.
    pub fn duplicate_email_count(&self) -> u64 {
        self.emails.values().filter(|ids| ids.len() > 1).count() as u64
    }

    pub fn invitation(&self, id: &str) -> Option<&InvitationRecord> {
        self.invitations.iter().find(|i| i.id == id)
    }

    pub fn invitation_mut(&mut self, id: &str) -> Option<&mut InvitationRecord> {
        self.invitations.iter_mut().find(|i| i.id == id)
    }
}
