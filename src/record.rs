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
    /// Whether `onboard` deleted it on the proxy.
    #[serde(default)]
    pub deleted: bool,
}

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
    /// The proxy the record was made on (its base URL, without credentials or query).
    /// Records without it (older versions) are adopted by the first proxy they meet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
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
            proxy_url: None,
            updated_at: now,
            history: Vec::new(),
            extra: serde_json::Map::new(),
        }
    }

    /// Where the person stands at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> State {
        if self.accepted_at.is_some() {
            State::Accepted
        } else if self.user_deleted_at.is_some() {
            State::UserDeleted
        } else if self.invitation_id.is_none() {
            State::Failed
        } else if self.expires_at.is_some_and(|e| is_expired(e, now)) {
            State::Expired
        } else {
            State::Pending
        }
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
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
    }

    #[test]
    fn expiry_is_by_utc_date() {
        let expires = at(30, 8);
        assert!(!is_expired(expires, at(30, 23)));
        assert!(is_expired(expires, at(30, 23) + Duration::hours(1)));
    }

    #[test]
    fn reinvite_keeps_history_and_failure_keeps_link() {
        let mut record = Record::new(Email::parse("a@b.co").unwrap(), at(1, 0));
        record.set_invitation(
            InvitationId::new("i1"),
            at(8, 0),
            None,
            "l1".into(),
            at(1, 0),
        );
        record.set_invitation(
            InvitationId::new("i2"),
            at(9, 0),
            None,
            "l2".into(),
            at(2, 0),
        );
        assert_eq!(record.history.len(), 1);
        assert_eq!(record.history[0].invitation_id.as_str(), "i1");
        record.set_failed("boom".into(), at(3, 0));
        assert_eq!(record.status, Status::Success);
        assert_eq!(record.onboarding_link.as_deref(), Some("l2"));
        assert_eq!(record.state(at(5, 0)), State::Pending);
        assert_eq!(record.state(at(10, 0)), State::Expired);
    }

    #[test]
    fn proxy_name_drops_credentials_query_and_slash() {
        let url = url::Url::parse("https://me:pw@proxy.example.com/litellm/?k=v#f").unwrap();
        assert_eq!(proxy_name(&url), "https://proxy.example.com/litellm");
    }

    #[test]
    fn guide_fields_are_always_written() {
        let record = Record::new(Email::parse("a@b.co").unwrap(), at(1, 0));
        let json = serde_json::to_value(&record).unwrap();
        for field in [
            "email",
            "user_id",
            "invitation_id",
            "expires_at",
            "onboarding_link",
            "status",
            "error",
        ] {
            assert!(json.get(field).is_some(), "{field} missing");
        }
        assert_eq!(json["status"], "failed");
    }
}
