//! The user-creation executors: `create_user` (never twice: an ambiguous failure is looked
//! up before sending again, a user the proxy says exists is adopted) and team membership.

use std::time::Instant;

use super::{Executor, no_user};
use crate::audit::record::UserOrigin;
use crate::input::Person;
use crate::plan::PersonPlan;
use crate::proxy::ProxyError;
use crate::proxy::api::NewUser;
use crate::proxy::pacer::Tally;
use crate::settings::TeamRole;
use crate::types::{TeamId, UserId};

/// The user `create_user` ended with.
#[derive(Clone, Debug)]
pub(super) struct Got {
    pub user_id: UserId,
    pub origin: UserOrigin,
    /// The row's teams the user is not in yet (`/user/new` dropped them, or a found user
    /// lacks them): added by `act` once the user is on the record, so a failure there never
    /// loses the user.
    pub missing: Vec<TeamId>,
}

impl Executor {
    /// Creates the user; a user the proxy says exists (or may have been created by an
    /// attempt whose answer was lost) is looked up and adopted, never created twice. With
    /// `exists` (the proxy said so in a bulk row) the user is looked up first, and created
    /// only when that finds nobody.
    pub(super) async fn create_user(
        &self,
        plan: &PersonPlan,
        tally: &mut Tally,
        exists: bool,
    ) -> Result<Got, ProxyError> {
        let person = plan.person.as_ref().ok_or_else(no_user)?;
        if exists && let Some(got) = self.adopt(plan, tally, UserOrigin::Existing).await? {
            return Ok(got);
        }
        let body = new_user(person);
        let teams = body.teams.clone();
        let mut attempts = self.retry.attempts().stop_on(self.client.pacer().stop());
        loop {
            let started = Instant::now();
            let answer = self.client.new_user(&body).await;
            tally.record(started.elapsed());
            let error = match answer {
                Ok(created) => {
                    let joined = |team: &&str| {
                        created
                            .teams
                            .as_ref()
                            .is_none_or(|t| t.iter().any(|id| id == team))
                    };
                    let missing = teams.iter().filter(|t| !joined(t)).map(|t| TeamId::new(*t));
                    return Ok(Got {
                        missing: missing.collect(),
                        user_id: created.user_id,
                        origin: UserOrigin::Created,
                    });
                }
                Err(e) => e,
            };
            match &error {
                ProxyError::AlreadyExists { .. } => {
                    let origin = if attempts.retried() > 0 {
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
                // A second stop signal: no look-up, nothing sent again.
                ProxyError::CutShort => return Err(error),
                e if e.is_ambiguous() => {
                    // The user may have been created: look before sending it again.
                    if let Some(got) = self.adopt(plan, tally, UserOrigin::Created).await? {
                        return Ok(got);
                    }
                }
                _ => {}
            }
            attempts.again(error).await?;
        }
    }

    /// Reuses the one user with this email (and says which of the row's teams they lack).
    async fn adopt(
        &self,
        plan: &PersonPlan,
        tally: &mut Tally,
        origin: UserOrigin,
    ) -> Result<Option<Got>, ProxyError> {
        let person = plan.person.as_ref().ok_or_else(no_user)?;
        let email = &person.email;
        let mut rows = self
            .retrying(tally, || self.client.find_users_by_email(email))
            .await?;
        match rows.len() {
            0 => Ok(None),
            1 => {
                let row = rows.remove(0);
                let mut missing = Vec::new();
                // A team admin is added by the plan's own `add_to_team` actions.
                if person.settings.team_role != Some(TeamRole::Admin) {
                    let listed = row.teams.unwrap_or_default();
                    missing = person
                        .teams()
                        .filter(|team| !listed.iter().any(|id| id == team.as_str()))
                        .cloned()
                        .collect();
                }
                Ok(Some(Got {
                    user_id: row.user_id,
                    origin,
                    missing,
                }))
            }
            _ => Err(ProxyError::SeveralUsers {
                email: email.clone(),
                user_ids: rows.into_iter().map(|r| r.user_id).collect(),
            }),
        }
    }

    pub(super) async fn ensure_member_as(
        &self,
        team: &TeamId,
        user_id: &UserId,
        role: TeamRole,
        tally: &mut Tally,
    ) -> Result<(), ProxyError> {
        self.retrying(tally, || {
            self.client.add_team_member_as(team, user_id, role.as_str())
        })
        .await
        .map(drop)
    }
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
        user_email: person.email.given(),
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
