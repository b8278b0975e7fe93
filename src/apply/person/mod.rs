//! Carrying out one person's plan: each action's executor owns its safety rule.
//!
//! `create_user` looks the email up after an ambiguous failure before sending again, and
//! adopts the user the proxy says exists; `add_to_team` acts by `user_id` (by email the proxy
//! would create a user); `invite` may be retried (an extra invitation is harmless); a failed
//! `delete_invitation` is not a failure of the person: the old invitation is kept as pending;
//! `update_user` sends only the `user_id` the plan read on the proxy in this run (by email, or
//! for an unknown id, the proxy would create a user); `update_team_role` acts only on a member
//! the plan saw on the team's roster; a team admin the proxy refuses (no licence) is reported
//! as what it is; `grant_team_permissions` reads the team's permissions again and sends them
//! back with the missing ones added (never fewer).
//!
//! `apply` runs a plan; `act` carries out one action; `create` holds the user-creation
//! executors (`create_user`, adopting a found user, team membership).

mod act;
mod create;

use std::future::Future;

use chrono::Utc;

use crate::apply::drive::StopRun;
use crate::apply::superseded::Cleanup;
use crate::audit::record::Record;
use crate::input::Person;
use crate::plan::{Action, PersonPlan, Skip};
use crate::proxy::ProxyError;
use crate::proxy::api::Invitation;
use crate::proxy::client::ProxyClient;
use crate::proxy::links::Links;
use crate::proxy::pacer::{RetryPolicy, Tally};
pub use create::new_user;

/// What the executor needs to act on one proxy.
#[derive(Clone)]
pub struct Executor {
    /// The proxy.
    pub client: ProxyClient,
    /// How links are built.
    pub links: Links,
    /// How often and how patiently to retry.
    pub retry: RetryPolicy,
}

/// What became of one person's plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every action was carried out.
    Done,
    /// The plan made no invitation, for this reason (its other actions were carried out).
    Skipped(Skip),
    /// An action failed; the record holds the error.
    Failed {
        /// A short reason for grouping ("team not found", "HTTP 500", …).
        reason: String,
    },
}

/// The result of one person: the plan, the record to store (if it changed), what happened.
#[derive(Clone, Debug)]
pub struct PersonResult {
    /// The plan that was carried out.
    pub plan: PersonPlan,
    /// The person's record after the plan (the prior one when nothing was done).
    pub record: Record,
    /// The record changed and must be journaled.
    pub changed: bool,
    /// What happened.
    pub outcome: Outcome,
    /// The user was created by this run (not found on the proxy).
    pub created: bool,
    /// Requests sent for this person.
    pub requests: u32,
    /// Superseded invitations whose delete failed (kept as pending on the record).
    pub delete_failed: Vec<String>,
    /// What the deletes of superseded invitations did.
    pub cleanup: Cleanup,
    /// `/invitation/new` answers lost for this person in this run.
    pub lost_invitations: u32,
}

impl PersonResult {
    /// True when a stop signal came before anything was sent for this person: there is
    /// nothing to record or report, and a summary counts them as not started.
    pub fn not_started(&self) -> bool {
        !self.changed && matches!(self.outcome, Outcome::Failed { .. })
    }
}

impl Executor {
    /// Carries out the proxy actions of `plan` (not `email_link`: mail comes after the run),
    /// given what the audit file knew of the person.
    pub async fn apply(
        &self,
        plan: PersonPlan,
        prior: Option<Record>,
    ) -> Result<PersonResult, StopRun> {
        self.apply_known(plan, prior, false).await
    }

    /// [`Executor::apply`] for a person whose user the proxy said exists (`create_user` then
    /// looks them up before it sends anything).
    pub async fn apply_known(
        &self,
        plan: PersonPlan,
        prior: Option<Record>,
        exists: bool,
    ) -> Result<PersonResult, StopRun> {
        let now = Utc::now();
        let acts = plan.actions.iter().any(|a| *a != Action::EmailLink);
        let fails = plan.skip.as_ref().is_some_and(Skip::is_failure);
        let mut result = PersonResult {
            outcome: plan.skip.clone().map_or(Outcome::Done, Outcome::Skipped),
            record: prior.unwrap_or_else(|| Record::new(plan.email.clone(), now)),
            changed: acts || fails,
            created: false,
            requests: 0,
            delete_failed: Vec::new(),
            cleanup: Cleanup::default(),
            lost_invitations: 0,
            plan,
        };
        if !result.changed {
            return Ok(result);
        }
        let mut record = result.record.clone();
        // Pending deletes of invitations that have expired meanwhile need no request.
        let pending = record.history.iter().filter(|p| p.delete_pending).count() as u32;
        let due = record.take_pending_deletes(now).len() as u32;
        result.cleanup.expired = pending - due;
        if fails {
            let reason = result.plan.skip.as_ref().map_or("failed", Skip::reason);
            let message = result.plan.detail.clone().unwrap_or_else(|| reason.into());
            record.set_failed(message, now);
            result.outcome = Outcome::Failed {
                reason: reason.into(),
            };
            result.record = record;
            return Ok(result);
        }
        let mut tally = Tally::default();
        let mut done = Done {
            exists,
            ..Done::default()
        };
        let actions = result.plan.actions.clone();
        let mut failure = None;
        for action in &actions {
            if let Err(e) = self
                .act(action, &result.plan, &mut record, &mut tally, &mut done)
                .await
            {
                failure = Some(e);
                break;
            }
        }
        tally.sample(self.client.pacer().limiter());
        if let Some(got) = done.adopted {
            result.plan.adopted(got.user_id, got.missing);
        }
        result.requests = tally.requests;
        result.created = done.created;
        result.delete_failed = done.delete_failed;
        result.lost_invitations = done.lost;
        result.cleanup.deleted += done.deleted;
        result.cleanup.pending += done.still_pending;
        if let Some(error) = failure {
            if error.is_auth() {
                return Err(StopRun(error));
            }
            if matches!(error, ProxyError::Interrupted) && tally.requests == 0 {
                // Stopped before anything was sent for this person: nothing to record.
                result.changed = false;
                result.outcome = Outcome::Failed {
                    reason: error.reason(),
                };
                return Ok(result);
            }
            record.set_failed(error.to_string(), Utc::now());
            result.outcome = Outcome::Failed {
                reason: error.reason(),
            };
        }
        result.record = record;
        Ok(result)
    }

    /// Runs a request that is safe to repeat, retrying what may succeed next time.
    async fn retrying<T, F, Fut>(&self, tally: &mut Tally, call: F) -> Result<T, ProxyError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ProxyError>>,
    {
        tally
            .call(&self.retry, self.client.pacer().stop(), call)
            .await
    }
}

#[derive(Default)]
struct Done {
    /// The proxy said the user exists (a bulk row): `create_user` looks them up first.
    exists: bool,
    /// `create_user` found the user there and adopted them.
    adopted: Option<create::Got>,
    created: bool,
    delete_failed: Vec<String>,
    deleted: u32,
    still_pending: u32,
    lost: u32,
}

fn no_user() -> ProxyError {
    ProxyError::Decode("the plan has no user to act on (a bug: please report it)".into())
}

/// Writes what the CSV says of a person on their record: role, alias (when given) and, with
/// `teams` (the user is known to be in them now), their teams, the first as `team_id`.
pub(crate) fn describe(record: &mut Record, person: &Person, teams: bool) {
    record.user_role = Some(person.role);
    if person.alias.is_some() {
        record.user_alias = person.alias.clone();
    }
    if teams {
        let now = Utc::now();
        for team in person.teams() {
            record.note_added_to(team, now);
        }
        record.team_id = Some(person.team.clone());
    }
}

/// Puts a new invitation and its link on a record (the previous one goes to its history).
pub fn record_invitation(record: &mut Record, invitation: Invitation, links: &Links) {
    let link = links.link(&invitation.id);
    record.set_invitation(
        invitation.id,
        invitation.expires_at,
        invitation.created_at,
        link,
        Utc::now(),
    );
}
