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
    /// `max_budget` as stored (None when null).
    pub max_budget: Option<f64>,
    /// `budget_duration` as stored, e.g. `30d`.
    pub budget_duration: Option<String>,
    /// Model names the user may use (empty: no restriction).
    pub models: Vec<String>,
    /// Free-form metadata.
    pub metadata: Value,
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamRecord {
    /// Primary key.
    pub team_id: String,
    /// Display name (not unique).
    pub team_alias: Option<String>,
    /// Members with roles (the roster, `members_with_roles`).
    pub members: Vec<TeamMember>,
    /// `LiteLLM_TeamMembership` rows. Usually one per roster member, but LiteLLM also leaves
    /// stray rows (a budget set for a non-member, a member taken off the roster by a failed
    /// `/user/delete`).
    pub memberships: Vec<MembershipRecord>,
    /// The management routes non-admin members may call (`team_member_permissions`).
    pub team_member_permissions: Vec<String>,
}

/// What a test may set on a team beyond its members: what decides whether its members can
/// work (`blocked`, `spend` against `max_budget`, `models`, the member budget).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TeamLimits {
    /// `blocked`.
    pub blocked: bool,
    /// `spend` so far.
    pub spend: f64,
    /// The team's `max_budget`.
    pub max_budget: Option<f64>,
    /// The team's `models` (empty: every proxy model).
    pub models: Vec<String>,
    /// `team_member_budget_table.max_budget`.
    pub member_budget: Option<f64>,
}

/// A `LiteLLM_TeamMembership` row as seen by tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MembershipRecord {
    /// The user the row belongs to (it need not exist, nor be on the roster).
    pub user_id: String,
    /// The custom team budget (`max_budget_in_team`), if one was set.
    pub max_budget_in_team: Option<f64>,
}

/// How many invitations a user has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationCounts {
    /// Rows in the database now (deleted ones are gone).
    pub stored: usize,
    /// Stored rows that still work: not accepted and not past their expiry date (UTC dates,
    /// as the server compares them).
    pub live: usize,
    /// Rows ever created for the user (by `/invitation/new` or the control API), deleted or not.
    pub total: u64,
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

/// A custom team budget (`LiteLLM_BudgetTable` row linked from a membership).
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    pub budget_id: String,
    pub max_budget: Value,
    pub created_at: DateTime<Utc>,
}

/// A stored `LiteLLM_TeamMembership` row.
#[derive(Debug, Clone)]
pub(crate) struct Membership {
    pub user_id: String,
    pub budget: Option<Budget>,
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
    pub budget_reset_at: Option<DateTime<Utc>>,
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
            budget_reset_at: None,
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
            max_budget: self.max_budget.as_f64(),
            budget_duration: self.budget_duration.as_str().map(str::to_string),
            models: self
                .models
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m.as_str().map(str::to_string))
                .collect(),
            metadata: self.metadata.clone(),
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
    pub memberships: Vec<Membership>,
    /// The membership rows' user ids, for constant-time checks on large teams.
    pub membership_ids: std::collections::HashSet<String>,
    pub metadata: Value,
    pub models: Value,
    pub max_budget: Value,
    /// `team_member_permissions`: empty for a team made with `/team/new` (1.106.2).
    pub permissions: Vec<String>,
    pub blocked: bool,
    pub spend: f64,
    /// The member budget (`team_member_budget_table.max_budget`), when one is set.
    pub member_budget: Option<f64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Team {
    pub fn record(&self) -> TeamRecord {
        TeamRecord {
            team_id: self.team_id.clone(),
            team_alias: self.team_alias.clone(),
            members: self.members.clone(),
            memberships: self
                .memberships
                .iter()
                .map(|m| MembershipRecord {
                    user_id: m.user_id.clone(),
                    max_budget_in_team: m.budget.as_ref().and_then(|b| b.max_budget.as_f64()),
                })
                .collect(),
            team_member_permissions: self.permissions.clone(),
        }
    }

    /// True when a membership row exists for `user_id`.
    pub fn has_membership(&self, user_id: &str) -> bool {
        self.membership_ids.contains(user_id)
    }

    /// Adds a membership row (the caller checked there is none).
    pub fn push_membership(&mut self, membership: Membership) {
        self.membership_ids.insert(membership.user_id.clone());
        self.memberships.push(membership);
    }

    /// Drops `user_id`'s membership row, if any.
    pub fn drop_membership(&mut self, user_id: &str) {
        if self.membership_ids.remove(user_id) {
            self.memberships.retain(|m| m.user_id != user_id);
        }
    }

    /// Take `user_id` off the roster only; true when it was on it.
    pub fn remove_from_roster(&mut self, user_id: &str) -> bool {
        let was = self.member_ids.remove(user_id);
        self.members
            .retain(|m| m.user_id.as_deref() != Some(user_id));
        was
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

/// `budget_reset_at` for a `budget_duration`, as observed on 1.106.2: `30d` and `Nmo` reset on
/// the 1st of the next month, `7d` on the next Monday, `1d` at the next midnight (UTC). Other
/// values (a guess) reset `now + duration`. None for an unparsable duration.
pub(crate) fn budget_reset_at(duration: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    use chrono::{Datelike, Duration, NaiveTime};
    let digits = duration.chars().take_while(char::is_ascii_digit).count();
    let n: i64 = duration[..digits].parse().ok()?;
    let midnight = |d: chrono::NaiveDate| d.and_time(NaiveTime::MIN).and_utc();
    let today = now.date_naive();
    let next_month = || {
        let (y, m) = if today.month() == 12 {
            (today.year() + 1, 1)
        } else {
            (today.year(), today.month() + 1)
        };
        chrono::NaiveDate::from_ymd_opt(y, m, 1).map(midnight)
    };
    match (&duration[digits..], n) {
        ("d", 30) | ("mo", _) => next_month(),
        ("d", 7) | ("w", 1) => {
            let days = 7 - i64::from(today.weekday().num_days_from_monday());
            Some(midnight(today + Duration::days(days)))
        }
        ("d", 1) => Some(midnight(today + Duration::days(1))),
        ("d", _) => Some(now + Duration::days(n)),
        ("w", _) => Some(now + Duration::weeks(n)),
        ("h", _) => Some(now + Duration::hours(n)),
        ("m", _) => Some(now + Duration::minutes(n)),
        ("s", _) => Some(now + Duration::seconds(n)),
        _ => None,
    }
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
    /// Oldest first; a deleted one leaves an empty slot, so the others keep their place.
    invitations: Vec<Option<InvitationRecord>>,
    /// Where each invitation is in `invitations`, by id (a run of 100,000 asks by id).
    invitation_index: HashMap<String, usize>,
    /// Invitations ever created per user id.
    pub invitations_total: HashMap<String, u64>,
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

    /// Change a user's email, keeping the email index right.
    pub fn set_email(&mut self, user_id: &str, email: Option<String>) {
        if !self.users.contains_key(user_id) {
            return;
        }
        self.remove_email_index(user_id);
        if let Some(e) = &email {
            self.emails
                .entry(normalize_email(e))
                .or_default()
                .push(user_id.to_string());
        }
        if let Some(u) = self.users.get_mut(user_id) {
            u.user_email = email;
        }
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
        let gone: Vec<String> = self
            .invitations()
            .filter(|i| i.user_id == user_id || i.created_by == user_id || i.updated_by == user_id)
            .map(|i| i.id.clone())
            .collect();
        for id in gone {
            self.remove_invitation(&id);
        }
        for team in self.teams.values_mut() {
            team.remove_from_roster(user_id);
            team.drop_membership(user_id);
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
            memberships: Vec::new(),
            membership_ids: Default::default(),
            metadata: json!({}),
            models: json!([]),
            max_budget: Value::Null,
            permissions: Vec::new(),
            blocked: false,
            spend: 0.0,
            member_budget: None,
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
        if !team.has_membership(user_id) {
            team.push_membership(Membership {
                user_id: user_id.to_string(),
                budget: None,
            });
        }
        if let Some(user) = self.users.get_mut(user_id)
            && !user.teams.iter().any(|t| t == team_id)
        {
            user.teams.push(team_id.to_string());
            user.updated_at = now;
        }
        true
    }

    /// Set a custom team budget for `user_id`, creating the membership row if needed (even for
    /// a non-member, as LiteLLM does); false when the team is unknown.
    pub fn set_member_budget(
        &mut self,
        team_id: &str,
        user_id: &str,
        max_budget: Value,
        now: DateTime<Utc>,
    ) -> bool {
        let Some(team) = self.teams.get_mut(team_id) else {
            return false;
        };
        let budget = Some(Budget {
            budget_id: uuid::Uuid::new_v4().to_string(),
            max_budget,
            created_at: now,
        });
        match team.memberships.iter_mut().find(|m| m.user_id == user_id) {
            Some(m) => m.budget = budget,
            None => team.push_membership(Membership {
                user_id: user_id.to_string(),
                budget,
            }),
        }
        true
    }

    /// `/team/member_delete`: roster entry, membership row and the user's `teams` entry.
    pub fn remove_member(&mut self, team_id: &str, user_id: &str, now: DateTime<Utc>) {
        if let Some(team) = self.teams.get_mut(team_id) {
            team.remove_from_roster(user_id);
            team.drop_membership(user_id);
            team.updated_at = now;
        }
        if let Some(u) = self.users.get_mut(user_id) {
            u.teams.retain(|t| t != team_id);
            u.updated_at = now;
        }
    }

    /// Invitation counts of one user at `now`.
    pub fn invitation_counts(&self, user_id: &str, now: DateTime<Utc>) -> InvitationCounts {
        let rows: Vec<&InvitationRecord> = self
            .invitations()
            .filter(|i| i.user_id == user_id)
            .collect();
        InvitationCounts {
            stored: rows.len(),
            live: rows
                .iter()
                .filter(|i| !i.is_accepted && i.expires_at.date_naive() >= now.date_naive())
                .count(),
            total: self.invitations_total.get(user_id).copied().unwrap_or(0),
        }
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
        let at = *self.invitation_index.get(id)?;
        self.invitations[at].as_ref()
    }

    pub fn invitation_mut(&mut self, id: &str) -> Option<&mut InvitationRecord> {
        let at = *self.invitation_index.get(id)?;
        self.invitations[at].as_mut()
    }

    /// Every invitation, oldest first.
    pub fn invitations(&self) -> impl Iterator<Item = &InvitationRecord> {
        self.invitations.iter().flatten()
    }

    /// Stores a new invitation.
    pub fn add_invitation(&mut self, invitation: InvitationRecord) {
        self.invitation_index
            .insert(invitation.id.clone(), self.invitations.len());
        self.invitations.push(Some(invitation));
    }

    /// Deletes an invitation; `None` when there is none with this id.
    pub fn remove_invitation(&mut self, id: &str) -> Option<InvitationRecord> {
        let at = self.invitation_index.remove(id)?;
        self.invitations[at].take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn budget_reset_times_as_recorded() {
        // Files 34 and 49: created/updated on Sunday 2026-11-29.
        let now = at("2026-11-29T17:16:31.696Z");
        assert_eq!(
            budget_reset_at("30d", now),
            Some(at("2026-12-01T00:00:00Z"))
        );
        assert_eq!(budget_reset_at("7d", now), Some(at("2026-11-30T00:00:00Z")));
        assert_eq!(budget_reset_at("1d", now), Some(at("2026-11-30T00:00:00Z")));
        assert_eq!(
            budget_reset_at("1mo", at("2026-12-05T01:00:00Z")),
            Some(at("2027-01-01T00:00:00Z"))
        );
        assert_eq!(budget_reset_at("x", now), None);
    }
}
