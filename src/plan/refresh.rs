//! The plans of `onboard refresh` and `onboard status --check`: renew what expired, record
//! what the proxy says, delete what a newer invitation replaced.

use chrono::{DateTime, Duration, Utc};

use super::{Action, PersonPlan, Skip};
use crate::audit::record::{Record, is_expired};

/// What the proxy said of a recorded invitation.
#[derive(Clone, Debug)]
pub enum InvitationCheck {
    /// The person accepted it.
    Accepted {
        /// When (the proxy's time, or the check's).
        at: DateTime<Utc>,
    },
    /// It exists, unaccepted.
    Open {
        /// When it expires.
        expires_at: DateTime<Utc>,
    },
    /// The proxy no longer has it (deleted, or its user deleted).
    Gone,
    /// The read failed.
    Failed(String),
}

/// Options of `onboard refresh` that change its plans.
#[derive(Clone, Copy, Debug)]
pub struct RefreshOptions {
    /// Also renew invitations expiring within this long.
    pub within: Duration,
    /// `--send-email`.
    pub send_email: bool,
}

/// True when `refresh` would renew this invitation (so it must know whether the user exists).
pub fn refresh_due(check: &InvitationCheck, within: Duration, now: DateTime<Utc>) -> bool {
    match check {
        InvitationCheck::Open { expires_at } => {
            is_expired(*expires_at, now) || *expires_at <= now + within
        }
        InvitationCheck::Gone => true,
        InvitationCheck::Accepted { .. } | InvitationCheck::Failed(_) => false,
    }
}

/// Deletes of superseded invitations that failed before and still matter (an invitation that
/// has expired meanwhile needs none).
pub fn pending_deletes(record: &Record, now: DateTime<Utc>) -> Vec<Action> {
    record
        .history
        .iter()
        .filter(|p| p.delete_pending && !p.expires_at.is_some_and(|e| is_expired(e, now)))
        .map(|p| Action::DeleteInvitation {
            invitation_id: p.invitation_id.clone(),
        })
        .collect()
}

/// The plan of `refresh` for a record it does not ask the proxy about (accepted, or its user
/// deleted) that still has superseded invitations to delete.
pub fn cleanup(record: &Record, now: DateTime<Utc>) -> PersonPlan {
    let mut plan = PersonPlan::new(record.email.clone(), 0);
    plan.team = record.team_id.clone();
    plan.actions = pending_deletes(record, now);
    plan
}

/// True for a record `refresh` (and `status --check`) asks the proxy about. A record without
/// an invitation (a failed person) is the onboarding run's job, not refresh's.
pub fn is_open(record: &Record) -> bool {
    record.invitation_id.is_some()
        && record.user_id.is_some()
        && record.accepted_at.is_none()
        && record.user_deleted_at.is_none()
}

/// The plan for one open record of `onboard refresh`. `user_exists` is asked only when
/// [`refresh_due`] says the invitation would be renewed.
pub fn refresh(
    record: &Record,
    check: &InvitationCheck,
    user_exists: Option<bool>,
    options: RefreshOptions,
    now: DateTime<Utc>,
) -> PersonPlan {
    let mut plan = PersonPlan::new(record.email.clone(), 0);
    plan.team = record.team_id.clone();
    plan.actions = pending_deletes(record, now);
    match check {
        InvitationCheck::Accepted { at } => {
            plan.actions.push(Action::RecordAccepted { at: *at });
            return plan;
        }
        InvitationCheck::Failed(reason) => {
            plan.skip = Some(Skip::LookupFailed);
            plan.detail = Some(reason.clone());
            return plan;
        }
        InvitationCheck::Open { expires_at } => plan.expires_at = Some(*expires_at),
        InvitationCheck::Gone => {}
    }
    if !refresh_due(check, options.within, now) {
        plan.skip = Some(Skip::StillValid);
        return plan;
    }
    if user_exists == Some(false) {
        plan.actions.push(Action::RecordUserDeleted);
        return plan;
    }
    plan.actions.push(Action::Invite);
    if let (InvitationCheck::Open { .. }, Some(old)) = (check, &record.invitation_id) {
        plan.actions.push(Action::DeleteInvitation {
            invitation_id: old.clone(),
        });
    }
    if options.send_email {
        plan.actions.push(Action::EmailLink);
    }
    plan
}

/// The plan for one open record of `onboard status --check`: acceptance is recorded,
/// nothing is renewed.
pub fn check(record: &Record, check: &InvitationCheck) -> PersonPlan {
    let mut plan = PersonPlan::new(record.email.clone(), 0);
    plan.team = record.team_id.clone();
    match check {
        InvitationCheck::Accepted { at } => plan.actions.push(Action::RecordAccepted { at: *at }),
        InvitationCheck::Open { expires_at } => plan.expires_at = Some(*expires_at),
        InvitationCheck::Gone => {}
        InvitationCheck::Failed(reason) => {
            plan.skip = Some(Skip::LookupFailed);
            plan.detail = Some(reason.clone());
        }
    }
    plan
}
