//! The plans that take people away: `onboard offboard` (delete the user, or with `--team`
//! remove them from one team) and `onboard <CSV> --prune` (the CSV is the whole membership of
//! each team it names). Pure, like every planner: what the proxy said is passed in.
//!
//! Two rules come from the proxy's behaviour (recorded on LiteLLM 1.106.2): a user is deleted
//! only by the id this run just read for their email, one request per person (`/user/delete`
//! with a list holding an unknown id answers 404 after partly acting), and a membership is
//! removed only when the team's roster lists it (`/team/member_delete` of a non-member is a 400).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Utc};

use super::teams::{Rosters, is_protected};
use super::{Action, Lookup, PersonPlan, Skip};
use crate::audit::record::Record;
use crate::input::Person;
use crate::proxy::api::TeamMember;
use crate::types::{Email, TeamId, UserId};

/// The proxy role `offboard` refuses without `--include-admins`.
pub const PROXY_ADMIN: &str = "proxy_admin";

/// Options of `onboard offboard` that change its plans.
#[derive(Clone, Debug, Default)]
pub struct OffboardOptions {
    /// `--team`: only remove the people from this team (resolved to its id).
    pub team: Option<TeamId>,
    /// `--include-admins`: offboard proxy admins, and remove team admins (`--team`), too.
    /// Never `default_user_id`.
    pub include_admins: bool,
}

/// The plan for one person of `onboard offboard`. `lookup` is what the proxy said of the
/// email in this run; `roster` is the `--team` team's members (read in this run).
pub fn offboard(
    email: &Email,
    record: Option<&Record>,
    lookup: &Lookup,
    roster: Option<&[TeamMember]>,
    options: &OffboardOptions,
    now: DateTime<Utc>,
) -> PersonPlan {
    let mut plan = PersonPlan::new(email.clone(), 0);
    plan.team = options
        .team
        .clone()
        .or_else(|| record.and_then(|r| r.team_id.clone()));
    let row = match lookup {
        Lookup::Found(row) => row,
        Lookup::Absent | Lookup::NotAsked => {
            let offboarded = record.is_some_and(|r| r.offboarded_at.is_some());
            plan.skip = Some(if offboarded {
                Skip::AlreadyOffboarded
            } else {
                Skip::NotOnProxy
            });
            return plan;
        }
        Lookup::Several(ids) => {
            plan.skip = Some(Skip::SeveralUsers);
            plan.detail = Some(super::several_users(plan.email.clone(), ids));
            return plan;
        }
        Lookup::Failed(reason) => {
            plan.skip = Some(Skip::LookupFailed);
            plan.detail = Some(reason.clone());
            return plan;
        }
    };
    if row.user_id.is_master_key_user() {
        plan.skip = Some(Skip::DefaultUser);
        plan.detail = Some(format!(
            "user {} is the master key's own user (the proxy acts as it for the master key): never offboarded",
            row.user_id
        ));
        return plan;
    }
    if row.user_role.as_deref() == Some(PROXY_ADMIN) && !options.include_admins {
        plan.skip = Some(Skip::ProxyAdmin);
        plan.detail = Some(format!(
            "user {} is a proxy admin; pass --include-admins to offboard proxy admins",
            row.user_id
        ));
        return plan;
    }
    if let Some(team) = &options.team {
        let member = roster
            .unwrap_or_default()
            .iter()
            .find(|m| m.user_id.as_ref() == Some(&row.user_id));
        match member {
            Some(m) if m.is_team_admin() && !options.include_admins => {
                plan.skip = Some(Skip::TeamAdmin);
                plan.detail = Some(format!(
                    "user {} is an admin of team {team}; pass --include-admins to remove team admins",
                    row.user_id
                ));
            }
            Some(_) => plan.actions.push(Action::RemoveFromTeam {
                team: team.clone(),
                user_id: row.user_id.clone(),
            }),
            None => plan.skip = Some(Skip::NotInTeam),
        }
        return plan;
    }
    // The proxy deletes the user's invitations with the user, in one transaction
    // (`/user/delete` and `bulk_delete` alike): they are noted, not sent.
    plan.actions.push(Action::DeleteUser {
        user_id: row.user_id.clone(),
        invitations: record.map(|r| r.live_invitations(now)).unwrap_or_default(),
    });
    plan
}

/// The memberships `--prune` removes from people the CSV does not name, by email: every
/// membership of a team the CSV names (a roster read in this run) held by a member who is
/// none of the CSV's people. Team admins (and `default_user_id`) are never removed; a member
/// without an email cannot be matched and is left alone (named in the warnings). The CSV's
/// own people are pruned by their plans ([`super::reconcile::removals`]).
#[derive(Debug, Default)]
pub struct Removals {
    /// Email → the (team, user) memberships to remove.
    pub by_email: BTreeMap<Email, Vec<(TeamId, UserId)>>,
    /// Members left alone because they cannot be matched against the CSV.
    pub warnings: Vec<String>,
}

/// Finds the memberships `--prune` removes from people no row names. `known_user` gives a CSV
/// person's user id when it is known (from the audit file or this run's reads), so a member
/// whose proxy email differs is still recognised.
pub fn prune_removals(
    rosters: &Rosters,
    people: &[&Person],
    known_user: impl Fn(&Email) -> Option<UserId>,
) -> Removals {
    let named: BTreeSet<&Email> = people.iter().map(|p| &p.email).collect();
    let named_ids: HashSet<UserId> = people.iter().filter_map(|p| known_user(&p.email)).collect();
    let mut removals = Removals::default();
    for person in people {
        // The CSV's own people are pruned by their plans, which leave a team admin's
        // membership alone: say so, since the CSV does not put them there.
        let ids = known_user(&person.email).into_iter();
        let ids: BTreeSet<UserId> = ids
            .chain(rosters.users_with(&person.email).iter().cloned())
            .collect();
        for id in &ids {
            for m in rosters.memberships(id) {
                if is_protected(id, m) && !person.teams().any(|t| t == &m.team) {
                    removals.warnings.push(format!(
                        "--prune: {} is an admin of team {}, which their row does not name: left in the team (remove them in the admin UI, or with offboard --team {} --include-admins)",
                        person.email, m.team, m.team
                    ));
                }
            }
        }
    }
    for (user_id, email, memberships) in rosters.members() {
        if named_ids.contains(user_id) || email.is_some_and(|e| named.contains(e)) {
            continue;
        }
        let removable = memberships.iter().filter(|m| !is_protected(user_id, m));
        let Some(email) = email else {
            for m in removable {
                removals.warnings.push(format!(
                    "--prune: member {user_id} of team {} has no usable email, so the CSV cannot name them: left in the team",
                    m.team
                ));
            }
            continue;
        };
        let found: Vec<(TeamId, UserId)> = removable
            .map(|m| (m.team.clone(), user_id.clone()))
            .collect();
        if !found.is_empty() {
            removals
                .by_email
                .entry(email.clone())
                .or_default()
                .extend(found);
        }
    }
    for memberships in removals.by_email.values_mut() {
        memberships.sort();
    }
    removals.warnings.sort();
    removals
}

/// The `remove_from_team` actions of some memberships.
pub fn removal_actions(memberships: &[(TeamId, UserId)]) -> Vec<Action> {
    memberships
        .iter()
        .map(|(team, user_id)| Action::RemoveFromTeam {
            team: team.clone(),
            user_id: user_id.clone(),
        })
        .collect()
}

/// True when `--prune` must know a person's teams: they have invitations that still open,
/// which are deleted if the removals leave them in no team.
pub fn prune_needs_teams(record: Option<&Record>, now: DateTime<Utc>) -> bool {
    record.is_some_and(|r| !r.live_invitations(now).is_empty())
}

/// The `--prune` plan of someone the CSV does not name: their removals, then the deletes of
/// their live invitations when `lookup` (their user row, read in this run) shows they are
/// left in no team. An unreadable row deletes nothing.
pub fn prune(
    email: &Email,
    memberships: &[(TeamId, UserId)],
    record: Option<&Record>,
    lookup: &Lookup,
    now: DateTime<Utc>,
) -> PersonPlan {
    let mut plan = PersonPlan::new(email.clone(), 0);
    plan.team = memberships.first().map(|(team, _)| team.clone());
    plan.actions = removal_actions(memberships);
    let left_in_no_team = match lookup {
        Lookup::Found(row) => row.teams.as_ref().is_none_or(|teams| {
            teams
                .iter()
                .all(|t| memberships.iter().any(|(team, _)| team.as_str() == t))
        }),
        _ => false,
    };
    if left_in_no_team && let Some(record) = record {
        plan.actions.extend(
            record
                .live_invitations(now)
                .into_iter()
                .map(|invitation_id| Action::DeleteInvitation { invitation_id }),
        );
    }
    plan
}

#[cfg(test)]
mod tests;
