//! One person's entry in the audit file, and how a new outcome merges into it.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::types::{Email, InvitationId, Role, TeamId, UserId};

/// Whether the person has a usable invitation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A user and an invitation exist; the link is in the record.
    Success,
    /// The last attempt failed and there is no usable invitation.
    Failed,
}

/// Whether the user was made by `onboard` or was already on the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserOrigin {
    /// Created by `/user/new` in this tool.
    Created,
    /// Found on the proxy (made in the UI, by another tool, or by a run whose answer was lost).
    Existing,
}

/// An invitation that a newer one replaced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PastInvitation {
    /// Its id.
    pub invitation_id: InvitationId,
    /// When it expired or would have.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was replaced.
    pub replaced_at: DateTime<Utc>,
    /// Whether `onboard` deleted it on the proxy (or the proxy said it was already gone).
    #[serde(default)]
    pub deleted: bool,
    /// A delete of it failed: it may still work, and `onboard refresh` (or a bulk re-run
    /// that invites the person again) tries the delete again until it succeeds, the proxy
    /// says it is gone, or it expires.
    #[serde(default, skip_serializing_if = "is_false")]
    pub delete_pending: bool,
    /// Why the last delete failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_error: Option<String>,
    /// It expired while its delete was pending: it no longer works, no delete is needed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub expired_before_delete: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// Permissions added to a team's `team_member_permissions`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    /// The team.
    pub team_id: TeamId,
    /// What was added (what the team already had is not listed).
    pub permissions: Vec<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// How long an invitation lives on the proxy.
pub const INVITATION_LIFETIME_DAYS: i64 = 7;

/// One person in `onboarding_results.json`: the guide's fields, then ours.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The normalised email: the key records are merged by.
    pub email: Email,
    /// The user on the proxy.
    pub user_id: Option<UserId>,
    /// The latest invitation.
    pub invitation_id: Option<InvitationId>,
    /// When the latest invitation expires (valid to the end of that UTC day).
    pub expires_at: Option<DateTime<Utc>>,
    /// The link to send: `<proxy>/ui/onboarding?invitation_id=<id>`.
    pub onboarding_link: Option<String>,
    /// `success` or `failed`.
    pub status: Status,
    /// The last error, if the last attempt failed.
    pub error: Option<String>,
    /// The team the person was onboarded into.
    #[serde(default)]
    pub team_id: Option<TeamId>,
    /// The role the user was created with.
    #[serde(default)]
    pub user_role: Option<Role>,
    /// Display name, if one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_alias: Option<String>,
    /// Whether `onboard` created the user or found it.
    #[serde(default)]
    pub user: Option<UserOrigin>,
    /// When the latest invitation was created.
    #[serde(default)]
    pub invited_at: Option<DateTime<Utc>>,
    /// When the person accepted an invitation (as far as the proxy tells).
    #[serde(default)]
    pub accepted_at: Option<DateTime<Utc>>,
    /// When `onboard refresh` found the user deleted on the proxy (no invitation is made then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_deleted_at: Option<DateTime<Utc>>,
    /// When the latest invitation's link was emailed (`--send-email`); cleared by a new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emailed_at: Option<DateTime<Utc>>,
    /// Why the last email failed; the invitation stands, and a re-run tries again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_error: Option<String>,
    /// Invitations that may exist on the proxy for this person although `onboard` never got
    /// their answer (`/invitation/new` failed ambiguously: timeout, reset, 5xx after sending).
    /// The proxy cannot list invitations, so nobody has their links; they expire unused.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lost_invitations: u32,
    /// The latest any of the `lost_invitations` can expire (they work to the end of its UTC day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_invitations_expire_by: Option<DateTime<Utc>>,
    /// The proxy the record was made on (its base URL, without credentials or query).
    /// Records without it (older versions) are adopted by the first proxy they meet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// When `onboard offboard` deleted the user on the proxy (their invitations went with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offboarded_at: Option<DateTime<Utc>>,
    /// The teams the person is in, as this tool last saw or made them (the proxy is read again
    /// each run; `team_id` is the first, for readers of the guide's format).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<TeamId>,
    /// Teams `onboard offboard --team` or `--prune` removed the person from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed_from_teams: Vec<TeamId>,
    /// Permissions `--grant-key-permissions` added to teams in this person's run (the grant
    /// of a team is carried by the plan of its first person).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub granted_permissions: Vec<Grant>,
    /// When this record last changed.
    pub updated_at: DateTime<Utc>,
    /// Earlier invitations, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<PastInvitation>,
    /// Fields written by newer versions or other tools, kept as they are.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Where a person stands, from the record alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Invited; the link still works.
    Pending,
    /// Invited; the link no longer works.
    Expired,
    /// The person accepted an invitation.
    Accepted,
    /// No usable invitation: the last attempt failed.
    Failed,
    /// The user was deleted on the proxy (found by `onboard refresh`); nobody is invited.
    UserDeleted,
    /// `onboard offboard` deleted the user and their invitations.
    Offboarded,
    /// `--no-invite` (SSO): the user exists, the link is the proxy's UI; no invitation.
    Sso,
    /// The user was made (e.g. in a bulk chunk) but the run stopped before the invitation:
    /// a re-run invites them without creating anything.
    NotInvited,
    /// `offboard --team` or `--prune` removed the person from their teams (named in
    /// `removed_from_teams`); they have no invitation and no team this tool knows of.
    Removed,
}

/// How a proxy is named in records: its base URL without credentials, query, fragment or
/// trailing slash.
pub fn proxy_name(base: &url::Url) -> String {
    let mut url = base.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    url.as_str().trim_end_matches('/').to_string()
}

/// True when an invitation expiring at `expires_at` no longer opens at `now`:
/// the proxy compares UTC calendar dates, so it works through the end of that day.
pub fn is_expired(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    expires_at.date_naive() < now.date_naive()
}

impl Record {
    /// A fresh record for a person with no invitation yet.
    pub fn new(email: Email, now: DateTime<Utc>) -> Self {
        Record {
            email,
            user_id: None,
            invitation_id: None,
            expires_at: None,
            onboarding_link: None,
            status: Status::Failed,
            error: None,
            team_id: None,
            user_role: None,
            user_alias: None,
            user: None,
            invited_at: None,
            accepted_at: None,
            user_deleted_at: None,
            emailed_at: None,
            email_error: None,
            lost_invitations: 0,
            lost_invitations_expire_by: None,
            proxy_url: None,
            offboarded_at: None,
            teams: Vec::new(),
            removed_from_teams: Vec::new(),
            granted_permissions: Vec::new(),
            updated_at: now,
            history: Vec::new(),
            extra: serde_json::Map::new(),
        }
    }

    /// Where the person stands at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> State {
        if self.offboarded_at.is_some() {
            State::Offboarded
        } else if self.accepted_at.is_some() {
            State::Accepted
        } else if self.user_deleted_at.is_some() {
            State::UserDeleted
        } else if self.invitation_id.is_none()
            && !self.removed_from_teams.is_empty()
            && self.teams.is_empty()
            && self.team_id.is_none()
        {
            State::Removed
        } else if self.invitation_id.is_none() && self.status == Status::Success {
            State::Sso
        } else if self.invitation_id.is_none() && self.user_id.is_some() && self.error.is_none() {
            State::NotInvited
        } else if self.invitation_id.is_none() {
            State::Failed
        } else if self.expires_at.is_some_and(|e| is_expired(e, now)) {
            State::Expired
        } else {
            State::Pending
        }
    }

    /// The person's user on the proxy, created or found now: it exists, so it is not deleted,
    /// and a person onboarded again after offboarding starts afresh (the old acceptance was
    /// the deleted user's).
    pub fn set_user(&mut self, id: UserId, origin: UserOrigin, now: DateTime<Utc>) {
        self.user_id = Some(id);
        self.user = Some(origin);
        self.user_deleted_at = None;
        if self.offboarded_at.take().is_some() {
            self.accepted_at = None;
        }
        self.updated_at = now;
    }

    /// True when the live invitation has not been emailed yet.
    pub fn needs_email(&self, now: DateTime<Utc>) -> bool {
        self.has_live_invitation(now) && self.onboarding_link.is_some() && self.emailed_at.is_none()
    }

    /// True when the latest invitation still works at `now` and is not accepted.
    pub fn has_live_invitation(&self, now: DateTime<Utc>) -> bool {
        self.state(now) == State::Pending
    }

    /// True when the invitation has expired or will within `window`.
    pub fn expires_within(&self, now: DateTime<Utc>, window: Duration) -> bool {
        match self.expires_at {
            Some(expires) => is_expired(expires, now) || expires <= now + window,
            None => false,
        }
    }

    /// Records a new invitation, moving the previous one into the history.
    pub fn set_invitation(
        &mut self,
        id: InvitationId,
        expires_at: DateTime<Utc>,
        invited_at: Option<DateTime<Utc>>,
        link: String,
        now: DateTime<Utc>,
    ) {
        if self.invitation_id.as_ref() != Some(&id) {
            // A new link: it has not been emailed yet.
            self.emailed_at = None;
            self.email_error = None;
        }
        if let Some(old) = self.invitation_id.take()
            && old != id
        {
            self.history.push(PastInvitation {
                invitation_id: old,
                expires_at: self.expires_at,
                replaced_at: now,
                deleted: false,
                delete_pending: false,
                delete_error: None,
                expired_before_delete: false,
            });
        }
        self.invitation_id = Some(id);
        self.expires_at = Some(expires_at);
        self.invited_at = invited_at.or(Some(now));
        self.onboarding_link = Some(link);
        // A new invitation can only be made for a user that exists.
        self.user_deleted_at = None;
        self.status = Status::Success;
        self.error = None;
        self.updated_at = now;
    }

    /// Counts `lost` answers of `/invitation/new` observed at `now`: each may have made an
    /// invitation, which expires at the latest [`INVITATION_LIFETIME_DAYS`] after `now`.
    pub fn note_lost_invitations(&mut self, lost: u32, now: DateTime<Utc>) {
        if lost == 0 {
            return;
        }
        self.lost_invitations += lost;
        let by = now + Duration::days(INVITATION_LIFETIME_DAYS);
        self.lost_invitations_expire_by =
            Some(self.lost_invitations_expire_by.map_or(by, |b| b.max(by)));
        self.updated_at = now;
    }

    /// Records the outcome of deleting the superseded invitation `id`: `Ok` when it is
    /// deleted or the proxy says it is gone, `Err` with the reason when it may still work.
    pub fn note_delete(
        &mut self,
        id: &InvitationId,
        result: Result<(), String>,
        now: DateTime<Utc>,
    ) {
        let Some(past) = self.history.iter_mut().rfind(|p| &p.invitation_id == id) else {
            return;
        };
        match result {
            Ok(()) => {
                past.deleted = true;
                past.delete_pending = false;
                past.delete_error = None;
            }
            Err(why) => {
                past.delete_pending = true;
                past.delete_error = Some(why);
            }
        }
        self.updated_at = now;
    }

    /// True when a superseded invitation's delete is still to be tried again.
    pub fn has_pending_deletes(&self) -> bool {
        self.history.iter().any(|p| p.delete_pending)
    }

    /// The superseded invitations whose delete must be tried again at `now`. Those that have
    /// expired since are marked `expired_before_delete` instead: they need no delete.
    pub fn take_pending_deletes(&mut self, now: DateTime<Utc>) -> Vec<InvitationId> {
        let mut due = Vec::new();
        for past in self.history.iter_mut().filter(|p| p.delete_pending) {
            if past.expires_at.is_some_and(|e| is_expired(e, now)) {
                past.delete_pending = false;
                past.expired_before_delete = true;
                self.updated_at = now;
            } else {
                due.push(past.invitation_id.clone());
            }
        }
        due
    }

    /// Invitations that may still open at `now`: the current one (unaccepted, unexpired) and
    /// every earlier one neither deleted nor expired. Offboarding deletes these.
    pub fn live_invitations(&self, now: DateTime<Utc>) -> Vec<InvitationId> {
        let open = |e: Option<DateTime<Utc>>| !e.is_some_and(|e| is_expired(e, now));
        let mut live: Vec<InvitationId> = self
            .history
            .iter()
            .filter(|p| !p.deleted && !p.expired_before_delete && open(p.expires_at))
            .map(|p| p.invitation_id.clone())
            .collect();
        if self.accepted_at.is_none()
            && self.offboarded_at.is_none()
            && open(self.expires_at)
            && let Some(id) = &self.invitation_id
        {
            live.push(id.clone());
        }
        live
    }

    /// Moves the current invitation into the history (its link is to be deleted), so its
    /// delete is recorded like any superseded invitation's.
    pub fn retire_invitation(&mut self, now: DateTime<Utc>) {
        let Some(id) = self.invitation_id.take() else {
            return;
        };
        self.history.push(PastInvitation {
            invitation_id: id,
            expires_at: self.expires_at.take(),
            replaced_at: now,
            deleted: false,
            delete_pending: false,
            delete_error: None,
            expired_before_delete: false,
        });
        self.onboarding_link = None;
        self.emailed_at = None;
        self.email_error = None;
        self.updated_at = now;
    }

    /// Records that the user was deleted on the proxy by `onboard offboard`: every invitation
    /// of theirs went with it, so all are recorded as deleted (the history is kept).
    pub fn note_offboarded(&mut self, now: DateTime<Utc>) {
        self.retire_invitation(now);
        for past in &mut self.history {
            if !past.deleted && !past.expired_before_delete {
                past.deleted = true;
                past.delete_pending = false;
                past.delete_error = None;
            }
        }
        self.offboarded_at = Some(now);
        self.user_deleted_at = Some(now);
        self.error = None;
        self.updated_at = now;
    }

    /// The teams the person is in as far as the record knows: its set, else its one team.
    pub fn known_teams(&self) -> Vec<String> {
        match (&self.team_id, self.teams.is_empty()) {
            (Some(team), true) => vec![team.as_str().to_string()],
            _ => self.teams.iter().map(|t| t.as_str().to_string()).collect(),
        }
    }

    /// Records that the person is in `team` (added now, or made with it).
    pub fn note_added_to(&mut self, team: &TeamId, now: DateTime<Utc>) {
        if self.teams.is_empty()
            && let Some(first) = &self.team_id
        {
            // A record written before teams were kept as a set.
            self.teams.push(first.clone());
        }
        if !self.teams.contains(team) {
            self.teams.push(team.clone());
        }
        self.removed_from_teams.retain(|t| t != team);
        if self.team_id.is_none() {
            self.team_id = Some(team.clone());
        }
        self.updated_at = now;
    }

    /// Records that the person was removed from `team` (kept once): it leaves their teams, and
    /// `team_id` becomes the next team they are in. A removal is not a failure: a record
    /// with no error says so.
    pub fn note_removed_from(&mut self, team: &TeamId, now: DateTime<Utc>) {
        if !self.removed_from_teams.contains(team) {
            self.removed_from_teams.push(team.clone());
        }
        self.teams.retain(|t| t != team);
        if self.team_id.as_ref() == Some(team) {
            self.team_id = self.teams.first().cloned();
        }
        if self.error.is_none() {
            self.status = Status::Success;
        }
        self.updated_at = now;
    }

    /// Records a failed attempt. A usable earlier invitation is kept: only the error changes.
    pub fn set_failed(&mut self, error: String, now: DateTime<Utc>) {
        if self.invitation_id.is_none() {
            self.status = Status::Failed;
        }
        self.error = Some(error);
        self.updated_at = now;
    }
}

#[cfg(test)]
mod tests;
