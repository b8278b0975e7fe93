//! One action of a plan: the dispatch to each action's executor.

use std::sync::atomic::AtomicU32;

use chrono::Utc;

use super::{Done, Executor, describe, no_user, record_invitation};
use crate::apply::superseded;
use crate::audit::record::{Grant, Record, UserOrigin};
use crate::plan::{Action, PersonPlan};
use crate::proxy::ProxyError;
use crate::proxy::pacer::Tally;
use crate::settings::TeamRole;
use crate::types::{TeamId, UserId};

impl Executor {
    pub(super) async fn act(
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
                let got = self.create_user(plan, tally, done.exists).await?;
                done.created = got.origin == UserOrigin::Created;
                // On the record first: a team that then fails to join never loses the user.
                record.set_user(got.user_id.clone(), got.origin, now);
                if let Some(person) = &plan.person {
                    describe(record, person, false);
                    // The teams the create asked for (none for a team admin) and got.
                    for team in super::new_user(person).teams {
                        let team = TeamId::new(team);
                        if !got.missing.contains(&team) {
                            record.note_added_to(&team, now);
                        }
                    }
                }
                if got.origin == UserOrigin::Existing {
                    done.adopted = Some(got.clone());
                }
                for team in &got.missing {
                    self.ensure_member_as(team, &got.user_id, TeamRole::User, tally)
                        .await?;
                    record.note_added_to(team, now);
                }
            }
            Action::AdoptUser { user_id } => {
                self.set_user(record, plan, user_id.clone(), UserOrigin::Existing);
            }
            Action::AddToTeam { team } => {
                let user_id = record.user_id.clone().ok_or_else(no_user)?;
                let role = team_role(plan);
                self.ensure_member_as(team, &user_id, role, tally).await?;
                record.note_added_to(team, now);
                // The record's team is the row's first.
                match &plan.person {
                    Some(person) if &person.team != team => {}
                    _ => record.team_id = Some(team.clone()),
                }
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
                    describe(record, person, true);
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
                    describe(record, person, true);
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
            Action::DeleteUser { user_id, .. } => {
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
            Action::GrantTeamPermissions { team, permissions } => {
                // Read again now: what the team has is kept, whoever added it.
                let have = self
                    .retrying(tally, || self.client.team_permissions(team))
                    .await?;
                let added: Vec<String> = permissions
                    .iter()
                    .filter(|p| !have.contains(p))
                    .cloned()
                    .collect();
                if !added.is_empty() {
                    let wanted: Vec<String> = have.iter().chain(&added).cloned().collect();
                    self.retrying(tally, || self.client.set_team_permissions(team, &wanted))
                        .await?;
                }
                record.granted_permissions.push(Grant {
                    team_id: team.clone(),
                    permissions: added,
                    at: now,
                });
                record.updated_at = now;
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
            describe(record, person, true);
        }
    }
}

/// The role a plan's person takes in the teams it adds them to.
fn team_role(plan: &PersonPlan) -> TeamRole {
    plan.person
        .as_ref()
        .and_then(|p| p.settings.team_role)
        .unwrap_or(TeamRole::User)
}
