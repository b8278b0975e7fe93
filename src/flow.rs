//! Onboarding one person: find or create the user, make sure of the team, invite, link.
//!
//! Every step is safe to repeat: a duplicate email is looked up and reused, an ambiguous
//! failure of `/user/new` is checked by email before anything is sent again, and only
//! reads, team membership and invitations (an extra one is harmless) are retried blindly.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::api::{Invitation, NewUser};
use crate::client::ProxyClient;
use crate::error::ProxyError;
use crate::input::Person;
use crate::links::Links;
use crate::pacer::RetryPolicy;
use crate::record::{Record, UserOrigin};
use crate::types::{Email, TeamId, UserId};

/// What the flow needs to onboard people on one proxy.
#[derive(Clone)]
pub struct Onboarder {
    /// The proxy.
    pub client: ProxyClient,
    /// How links are built.
    pub links: Links,
    /// How often and how patiently to retry.
    pub retry: RetryPolicy,
    /// Make a fresh invitation even when a live one exists.
    pub reinvite: bool,
}

/// What happened to one person.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// A new invitation was made; the record holds the link.
    Invited {
        /// Whether the user was created now or found.
        origin: UserOrigin,
    },
    /// A live, unaccepted invitation exists; nothing was sent.
    AlreadyInvited {
        /// When it expires.
        expires_at: Option<DateTime<Utc>>,
        /// The live link, to show again.
        link: Option<String>,
    },
    /// The person already accepted an invitation; nothing was sent.
    AlreadyAccepted,
    /// The person could not be onboarded; the record holds the error.
    Failed {
        /// A short reason for grouping ("HTTP 500", "several users with this email", …).
        reason: String,
    },
}

/// The result of one person: the new record (if it changed) and what happened.
#[derive(Debug)]
pub struct PersonResult {
    /// The person.
    pub person: Person,
    /// The record to store, when something changed.
    pub record: Option<Record>,
    /// What happened.
    pub outcome: Outcome,
    /// Requests sent for this person.
    pub requests: u32,
}

/// A failure that would hit everyone: the run must stop.
#[derive(Debug)]
pub struct StopRun(pub ProxyError);

#[derive(Default)]
struct Step {
    requests: u32,
    busy: Duration,
}

impl Onboarder {
    /// Onboards one person, given what the audit file knew of them.
    pub async fn onboard(
        &self,
        person: Person,
        prior: Option<Record>,
    ) -> Result<PersonResult, StopRun> {
        let now = Utc::now();
        if let Some(prior) = &prior {
            let kept = if prior.accepted_at.is_some() {
                Some(Outcome::AlreadyAccepted)
            } else if prior.has_live_invitation(now) && !self.reinvite {
                Some(Outcome::AlreadyInvited {
                    expires_at: prior.expires_at,
                    link: prior.onboarding_link.clone(),
                })
            } else {
                None
            };
            if let Some(outcome) = kept {
                return self.keep(person, prior, outcome).await;
            }
        }
        let mut step = Step::default();
        let mut record = prior
            .clone()
            .unwrap_or_else(|| Record::new(person.email.clone(), now));
        let result = self
            .invite(&person, prior.as_ref(), &mut record, &mut step)
            .await;
        if step.requests > 0 {
            let limiter = self.client.pacer().limiter();
            limiter.sample(step.busy / step.requests);
        }
        settle(
            person,
            record,
            &step,
            result.map(|origin| Outcome::Invited { origin }),
        )
    }

    /// A person who needs no new invitation: only a team that changed since is seen to.
    async fn keep(
        &self,
        person: Person,
        prior: &Record,
        outcome: Outcome,
    ) -> Result<PersonResult, StopRun> {
        let Some(user_id) = prior
            .user_id
            .as_ref()
            .filter(|_| prior.team_id.as_ref() != Some(&person.team))
        else {
            return Ok(skip(person, outcome));
        };
        let mut step = Step::default();
        let mut record = prior.clone();
        let result = self.ensure_member(&person.team, user_id, &mut step).await;
        if result.is_ok() {
            record.team_id = Some(person.team.clone());
            record.updated_at = Utc::now();
        }
        settle(person, record, &step, result.map(|()| outcome))
    }

    async fn invite(
        &self,
        person: &Person,
        prior: Option<&Record>,
        record: &mut Record,
        step: &mut Step,
    ) -> Result<UserOrigin, ProxyError> {
        // A user that refresh found deleted on the proxy is made (or found) again.
        let known = prior.filter(|p| p.user_deleted_at.is_none()).and_then(|p| {
            p.user_id
                .clone()
                .map(|id| (id, p.user.unwrap_or(UserOrigin::Existing)))
        });
        let (user_id, origin) = match known {
            Some((id, origin)) => {
                if prior.and_then(|p| p.team_id.as_ref()) != Some(&person.team) {
                    self.ensure_member(&person.team, &id, step).await?;
                }
                (id, origin)
            }
            None => self.ensure_user(person, step).await?,
        };
        record.user_id = Some(user_id.clone());
        record.user = Some(origin);
        record.team_id = Some(person.team.clone());
        record.user_role = Some(person.role);
        if person.alias.is_some() {
            record.user_alias = person.alias.clone();
        }
        let invitation: Invitation = self
            .retrying(step, || self.client.new_invitation(&user_id))
            .await?;
        record.user_deleted_at = None;
        record_invitation(record, invitation, &self.links);
        Ok(origin)
    }

    /// Creates the user, or finds the one that already has this email.
    async fn ensure_user(
        &self,
        person: &Person,
        step: &mut Step,
    ) -> Result<(UserId, UserOrigin), ProxyError> {
        let body = NewUser {
            user_email: person.email.as_str(),
            user_role: person.role,
            teams: vec![person.team.as_str()],
            auto_create_key: false,
            user_alias: person.alias.as_deref(),
            metadata: serde_json::json!({ "created_by_tool": "onboard" }),
        };
        let mut attempt = 0;
        loop {
            let started = Instant::now();
            let answer = self.client.new_user(&body).await;
            step.requests += 1;
            step.busy += started.elapsed();
            let error = match answer {
                Ok(created) => {
                    let joined = created
                        .teams
                        .as_ref()
                        .is_none_or(|t| t.iter().any(|id| id == person.team.as_str()));
                    if !joined {
                        self.ensure_member(&person.team, &created.user_id, step)
                            .await?;
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
                    return self.adopt(person, step, origin).await?.ok_or_else(|| {
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
                    if let Some(found) = self.adopt(person, step, UserOrigin::Created).await? {
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
        person: &Person,
        step: &mut Step,
        origin: UserOrigin,
    ) -> Result<Option<(UserId, UserOrigin)>, ProxyError> {
        let email: &Email = &person.email;
        let mut rows = self
            .retrying(step, || self.client.find_users_by_email(email))
            .await?;
        match rows.len() {
            0 => Ok(None),
            1 => {
                let row = rows.remove(0);
                let in_team = row
                    .teams
                    .as_ref()
                    .is_some_and(|t| t.iter().any(|id| id == person.team.as_str()));
                if !in_team {
                    self.ensure_member(&person.team, &row.user_id, step).await?;
                }
                Ok(Some((row.user_id, origin)))
            }
            n => Err(ProxyError::Status {
                status: 409,
                message: format!(
                    "{n} users on the proxy have the email {email} ({}); resolve the duplicates on the proxy first",
                    rows.iter()
                        .map(|r| r.user_id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    }

    async fn ensure_member(
        &self,
        team: &TeamId,
        user_id: &UserId,
        step: &mut Step,
    ) -> Result<(), ProxyError> {
        match self
            .retrying(step, || self.client.add_team_member(team, user_id))
            .await
        {
            Ok(_) => Ok(()),
            Err(ProxyError::Status {
                status: 404,
                message,
            }) => Err(ProxyError::Status {
                status: 404,
                message: format!("team {team} not found: {message}"),
            }),
            Err(e) => Err(e),
        }
    }

    /// Runs a request that is safe to repeat, retrying what may succeed next time.
    async fn retrying<T, F, Fut>(&self, step: &mut Step, call: F) -> Result<T, ProxyError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ProxyError>>,
    {
        self.retry
            .run(call, |busy| {
                step.requests += 1;
                step.busy += busy;
            })
            .await
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

/// The result of a person's requests: a failure is recorded (and one that would hit
/// everyone stops the run), a success carries its outcome.
fn settle(
    person: Person,
    mut record: Record,
    step: &Step,
    result: Result<Outcome, ProxyError>,
) -> Result<PersonResult, StopRun> {
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(e) if e.is_auth() => return Err(StopRun(e)),
        // Stopped before anything was sent for this person: nothing to record.
        Err(ProxyError::Interrupted) if step.requests == 0 => {
            return Ok(skip(
                person,
                Outcome::Failed {
                    reason: "interrupted".into(),
                },
            ));
        }
        Err(e) => {
            let reason = e.reason();
            record.set_failed(e.to_string(), Utc::now());
            Outcome::Failed { reason }
        }
    };
    Ok(PersonResult {
        person,
        record: Some(record),
        outcome,
        requests: step.requests,
    })
}

fn skip(person: Person, outcome: Outcome) -> PersonResult {
    PersonResult {
        person,
        record: None,
        outcome,
        requests: 0,
    }
}
