//! Carrying out one person's plan: each action's executor owns its safety rule.
//!
//! `create_user` looks the email up after an ambiguous failure before sending again, and
//! adopts the user the proxy says exists; `add_to_team` acts by `user_id` (by email the proxy
//! would create a user); `invite` may be retried (an extra invitation is harmless); a failed
//! `delete_invitation` is not a failure of the person: the old invitation is kept as pending;
//! `update_user` sends only the `user_id` the plan read on the proxy in this run (by email, or
//! for an unknown id, the proxy would create a user); `update_team_role` acts only on a member
//! the plan saw on the team's roster; a team admin the proxy refuses (no licence) is reported
//! as what it is.

use std::future::Future;
use std::sync::atomic::AtomicU32;
use std::time::Instant;

use chrono::Utc;

use crate::apply::drive::StopRun;
use crate::apply::pacer::{RetryPolicy, Tally};
use crate::apply::superseded::{self, Cleanup};
use crate::audit::record::{Record, UserOrigin};
use crate::input::Person;
use crate::plan::{Action, PersonPlan, Skip};
use crate::proxy::ProxyError;
use crate::proxy::api::{Invitation, NewUser};
use crate::proxy::client::ProxyClient;
use crate::proxy::links::Links;
use crate::settings::TeamRole;
use crate::types::{TeamId, UserId};

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
#[derive(Debug)]
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

impl Executor {
    /// Carries out the proxy actions of `plan` (not `email_link`: mail comes after the run),
    /// given what the audit file knew of the person.
    pub async fn apply(
        &self,
        plan: PersonPlan,
        prior: Option<Record>,
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
        let mut done = Done::default();
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

    async fn act(
        &self,
        action: &Action,
        plan: &PersonPlan,
        record: &mut Record,
        tally: &mut Tally,
        done: &mut Done,
    ) -> Result<(), ProxyError> {
        let now = Utc::now();
        match action {
            Action::CreateUser => {
                let (user_id, origin) = self.create_user(plan, tally).await?;
                done.created = origin == UserOrigin::Created;
                self.set_user(record, plan, user_id, origin);
            }
            Action::AdoptUser { user_id } => {
                self.set_user(record, plan, user_id.clone(), UserOrigin::Existing);
            }
            Action::AddToTeam { team } => {
                let user_id = record.user_id.clone().ok_or_else(no_user)?;
                let role = team_role(plan);
                self.ensure_member_as(team, &user_id, role, tally).await?;
                record.removed_from_teams.retain(|t| t != team);
                // The record's team is the row's first.
                match &plan.person {
                    Some(person) if &person.team != team => {}
                    _ => record.team_id = Some(team.clone()),
                }
                record.updated_at = now;
            }
            Action::UpdateUser { user_id, changes } => {
                let fields: serde_json::Map<String, serde_json::Value> = changes
                    .iter()
                    .map(|c| (c.field.to_string(), c.to.clone()))
                    .collect();
                self.retrying(tally, || self.client.update_user(user_id, &fields))
                    .await?;
                for change in changes {
                    match change.field {
                        "user_role" => {
                            record.user_role = change.to.as_str().and_then(|r| r.parse().ok());
                        }
                        "user_alias" => {
                            record.user_alias = change.to.as_str().map(str::to_string);
                        }
                        _ => {}
                    }
                }
                record.updated_at = now;
            }
            Action::UpdateTeamRole { team, role } => {
                // The plan saw this user on the team's roster in this run.
                let user_id = record.user_id.clone().ok_or_else(no_user)?;
                self.retrying(tally, || {
                    self.client.update_team_role(team, &user_id, role.as_str())
                })
                .await?;
                record.updated_at = now;
            }
            Action::RecordSsoLink => {
                record.onboarding_link = Some(self.links.sso());
                record.status = crate::audit::record::Status::Success;
                record.error = None;
                if let Some(person) = &plan.person {
                    record.user_role = Some(person.role);
                    if person.alias.is_some() {
                        record.user_alias = person.alias.clone();
                    }
                    record.team_id = Some(person.team.clone());
                }
                record.updated_at = now;
            }
            Action::Invite => {
                let user_id = record.user_id.clone().ok_or_else(no_user)?;
                let lost = AtomicU32::new(0);
                let invitation = self
                    .retrying(tally, || {
                        superseded::counting_lost(&lost, self.client.new_invitation(&user_id))
                    })
                    .await;
                let lost = lost.into_inner();
                done.lost += lost;
                record.note_lost_invitations(lost, now);
                let invitation = invitation?;
                if let Some(person) = &plan.person {
                    record.user_role = Some(person.role);
                    if person.alias.is_some() {
                        record.user_alias = person.alias.clone();
                    }
                    record.team_id = Some(person.team.clone());
                }
                record_invitation(record, invitation, &self.links);
            }
            Action::DeleteInvitation { invitation_id } => {
                if record.invitation_id.as_ref() == Some(invitation_id) {
                    // Offboarding deletes the current invitation: it becomes history first.
                    record.retire_invitation(now);
                }
                let was_pending = record
                    .history
                    .iter()
                    .any(|p| &p.invitation_id == invitation_id && p.delete_pending);
                let attempted = &mut |busy| tally.record(busy);
                let deleted =
                    superseded::delete(&self.client, &self.retry, attempted, record, invitation_id)
                        .await;
                if was_pending {
                    // A delete an earlier run could not do.
                    match deleted {
                        true => done.deleted += 1,
                        false => done.still_pending += 1,
                    }
                } else if !deleted {
                    let past = record
                        .history
                        .iter()
                        .rfind(|p| &p.invitation_id == invitation_id);
                    let why = past.and_then(|p| p.delete_error.clone());
                    done.delete_failed.push(why.unwrap_or_default());
                }
            }
            Action::RecordAccepted { at } => {
                record.accepted_at = Some(*at);
                record.updated_at = now;
            }
            Action::RecordUserDeleted => {
                record.user_deleted_at = Some(now);
                record.updated_at = now;
            }
            Action::EmailLink => {}
            Action::DeleteUser { user_id } => {
                match self
                    .retrying(tally, || self.client.delete_user(user_id))
                    .await
                {
                    // A retry after a lost answer finds it gone: deleted all the same.
                    Ok(()) | Err(ProxyError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
                record.user_id = Some(user_id.clone());
                record.note_offboarded(Utc::now());
            }
            Action::RemoveFromTeam { team, user_id } => {
                match self
                    .retrying(tally, || self.client.remove_team_member(team, user_id))
                    .await
                {
                    Ok(()) => {}
                    // The roster listed them moments ago: a retry after a lost answer, or a
                    // removal by someone else, leaves them out all the same.
                    Err(ProxyError::NotInTeam(_)) => {}
                    Err(ProxyError::NotFound(message)) => {
                        return Err(ProxyError::TeamNotFound {
                            team: team.clone(),
                            message,
                        });
                    }
                    Err(e) => return Err(e),
                }
                if record.user_id.is_none() {
                    record.user_id = Some(user_id.clone());
                    record.user = Some(UserOrigin::Existing);
                }
                record.note_removed_from(team, Utc::now());
            }
        }
        Ok(())
    }

    fn set_user(&self, record: &mut Record, plan: &PersonPlan, id: UserId, origin: UserOrigin) {
        record.set_user(id, origin, Utc::now());
        if let Some(person) = &plan.person {
            record.team_id = Some(person.team.clone());
            record.user_role = Some(person.role);
        }
    }

    /// Creates the user; a user the proxy says exists (or may have been created by an
    /// attempt whose answer was lost) is looked up and adopted, never created twice.
    async fn create_user(
        &self,
        plan: &PersonPlan,
        tally: &mut Tally,
    ) -> Result<(UserId, UserOrigin), ProxyError> {
        let person = plan.person.as_ref().ok_or_else(no_user)?;
        let body = new_user(person);
        let teams = body.teams.clone();
        let mut attempt = 0;
        loop {
            let started = Instant::now();
            let answer = self.client.new_user(&body).await;
            tally.record(started.elapsed());
            let error = match answer {
                Ok(created) => {
                    for team in &teams {
                        let joined = created
                            .teams
                            .as_ref()
                            .is_none_or(|t| t.iter().any(|id| id == team));
                        if !joined {
                            self.ensure_member(&TeamId::new(*team), &created.user_id, tally)
                                .await?;
                        }
                    }
                    return Ok((created.user_id, UserOrigin::Created));
                }
                Err(e) => e,
            };
            match &error {
                ProxyError::AlreadyExists { .. } => {
                    let origin = if attempt > 0 {
                        UserOrigin::Created
                    } else {
                        UserOrigin::Existing
                    };
                    return self.adopt(plan, tally, origin).await?.ok_or_else(|| {
                        ProxyError::Status {
                            status: error.status().unwrap_or(409),
                            message: format!(
                                "the proxy says {} exists, but /user/list does not find it",
                                person.email
                            ),
                        }
                    });
                }
                e if e.is_ambiguous() => {
                    // The user may have been created: look before sending it again.
                    if let Some(found) = self.adopt(plan, tally, UserOrigin::Created).await? {
                        return Ok(found);
                    }
                }
                e if e.is_retryable() => {}
                _ => return Err(error),
            }
            attempt += 1;
            if attempt > self.retry.retries {
                return Err(error);
            }
            tokio::time::sleep(self.retry.delay(attempt, &error)).await;
        }
    }

    /// Reuses the one user with this email, making sure they are in the team.
    async fn adopt(
        &self,
        plan: &PersonPlan,
        tally: &mut Tally,
        origin: UserOrigin,
    ) -> Result<Option<(UserId, UserOrigin)>, ProxyError> {
        let person = plan.person.as_ref().ok_or_else(no_user)?;
        let email = &person.email;
        let mut rows = self
            .retrying(tally, || self.client.find_users_by_email(email))
            .await?;
        match rows.len() {
            0 => Ok(None),
            1 => {
                let row = rows.remove(0);
                // A team admin is added by the plan's own `add_to_team` actions.
                if person.settings.team_role != Some(TeamRole::Admin) {
                    for team in person.teams() {
                        let in_team = row
                            .teams
                            .as_ref()
                            .is_some_and(|t| t.iter().any(|id| id == team.as_str()));
                        if !in_team {
                            self.ensure_member(team, &row.user_id, tally).await?;
                        }
                    }
                }
                Ok(Some((row.user_id, origin)))
            }
            _ => Err(ProxyError::SeveralUsers {
                email: email.clone(),
                user_ids: rows.into_iter().map(|r| r.user_id).collect(),
            }),
        }
    }

    async fn ensure_member(
        &self,
        team: &TeamId,
        user_id: &UserId,
        tally: &mut Tally,
    ) -> Result<(), ProxyError> {
        self.ensure_member_as(team, user_id, TeamRole::User, tally)
            .await
    }

    async fn ensure_member_as(
        &self,
        team: &TeamId,
        user_id: &UserId,
        role: TeamRole,
        tally: &mut Tally,
    ) -> Result<(), ProxyError> {
        match self
            .retrying(tally, || {
                self.client.add_team_member_as(team, user_id, role.as_str())
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(ProxyError::NotFound(message)) => Err(ProxyError::TeamNotFound {
                team: team.clone(),
                message,
            }),
            Err(e) => Err(e),
        }
    }

    /// Runs a request that is safe to repeat, retrying what may succeed next time.
    async fn retrying<T, F, Fut>(&self, tally: &mut Tally, call: F) -> Result<T, ProxyError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ProxyError>>,
    {
        tally.call(&self.retry, call).await
    }
}

#[derive(Default)]
struct Done {
    created: bool,
    delete_failed: Vec<String>,
    deleted: u32,
    still_pending: u32,
    lost: u32,
}

/// The role a plan's person takes in the teams it adds them to.
fn team_role(plan: &PersonPlan) -> TeamRole {
    plan.person
        .as_ref()
        .and_then(|p| p.settings.team_role)
        .unwrap_or(TeamRole::User)
}

fn no_user() -> ProxyError {
    ProxyError::Decode("the plan has no user to act on (a bug: please report it)".into())
}

/// The create request for a person (`/user/new`, and a row of the bulk endpoint, which takes
/// the same fields). A team admin joins by `/team/member_add` (its own action): `/user/new`
/// would silently drop a team object with role admin, and the bulk endpoint would make one
/// without the licence check, so neither gets the team.
pub fn new_user(person: &Person) -> NewUser<'_> {
    let settings = &person.settings;
    let teams: Vec<&str> = match settings.team_role {
        Some(TeamRole::Admin) => Vec::new(),
        _ => person.teams().map(TeamId::as_str).collect(),
    };
    NewUser {
        user_email: person.email.as_str(),
        user_role: person.role,
        teams,
        auto_create_key: false,
        user_alias: person.alias.as_deref(),
        metadata: settings.new_user_metadata(),
        max_budget: settings.max_budget.map(|b| b.value()),
        budget_duration: settings.budget_duration.as_deref(),
        models: settings.models.as_deref(),
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
