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
    people: &[Person],
    known_user: impl Fn(&Email) -> Option<UserId>,
) -> Removals {
    let named: BTreeSet<&Email> = people.iter().map(|p| &p.email).collect();
    let named_ids: HashSet<UserId> = people.iter().filter_map(|p| known_user(&p.email)).collect();
    let mut removals = Removals::default();
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
mod tests {
    use super::*;
    use crate::proxy::api::UserRow;
    use crate::types::{InvitationId, Role};
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 10, 12, 0, 0).unwrap()
    }

    fn email(text: &str) -> Email {
        Email::parse(text).unwrap()
    }

    fn row(id: &str, role: &str, teams: &[&str]) -> Lookup {
        let row: UserRow = serde_json::from_value(serde_json::json!({
            "user_id": id, "teams": teams, "user_role": role
        }))
        .expect("a user row");
        Lookup::Found(Box::new(row))
    }

    fn invited(address: &str) -> Record {
        let mut record = Record::new(email(address), now());
        record.user_id = Some(UserId::new("stale-id"));
        record.set_invitation(
            InvitationId::new("old"),
            now() + chrono::Duration::days(1),
            None,
            "l".into(),
            now(),
        );
        record.set_invitation(
            InvitationId::new("new"),
            now() + chrono::Duration::days(7),
            None,
            "l".into(),
            now(),
        );
        record
    }

    fn member(id: &str, address: Option<&str>, role: &str) -> TeamMember {
        TeamMember {
            user_id: Some(UserId::new(id)),
            user_email: address.map(str::to_string),
            role: Some(role.into()),
        }
    }

    fn names(plan: &PersonPlan) -> Vec<&'static str> {
        plan.actions.iter().map(Action::name).collect()
    }

    #[test]
    fn offboarding_deletes_the_user_the_proxy_named_and_its_live_invitations_go_with_it() {
        let record = invited("a@b.co");
        let plan = offboard(
            &email("a@b.co"),
            Some(&record),
            &row("u1", "internal_user", &[]),
            None,
            &OffboardOptions::default(),
            now(),
        );
        assert_eq!(names(&plan), ["delete_user"]);
        // The id read now, never the audit file's; both live invitations noted, none sent.
        assert_eq!(
            plan.actions[0],
            Action::DeleteUser {
                user_id: UserId::new("u1"),
                invitations: vec![InvitationId::new("old"), InvitationId::new("new")],
            }
        );
        assert_eq!(plan.actions[0].invitations_deleted(), 2);
        assert_eq!(
            plan.actions[0].label(),
            "delete_user (with 2 live invitations)"
        );
    }

    #[test]
    fn admins_unknown_and_done_people_are_skipped() {
        let options = OffboardOptions::default();
        let plan = offboard(
            &email("a@b.co"),
            None,
            &row("u1", "proxy_admin", &[]),
            None,
            &options,
            now(),
        );
        assert_eq!(plan.skip, Some(Skip::ProxyAdmin));
        assert!(plan.actions.is_empty());
        let admins = OffboardOptions {
            include_admins: true,
            ..options.clone()
        };
        let plan = offboard(
            &email("a@b.co"),
            None,
            &row("u1", "proxy_admin", &[]),
            None,
            &admins,
            now(),
        );
        assert_eq!(names(&plan), ["delete_user"]);
        let plan = offboard(
            &email("a@b.co"),
            None,
            &Lookup::Absent,
            None,
            &options,
            now(),
        );
        assert_eq!(plan.skip, Some(Skip::NotOnProxy));
        let mut record = invited("a@b.co");
        record.note_offboarded(now());
        assert!(record.live_invitations(now()).is_empty());
        let plan = offboard(
            &email("a@b.co"),
            Some(&record),
            &Lookup::Absent,
            None,
            &options,
            now(),
        );
        assert_eq!(plan.skip, Some(Skip::AlreadyOffboarded));
        assert!(plan.is_noop());
    }

    #[test]
    fn team_removal_only_for_members() {
        let options = OffboardOptions {
            team: Some(TeamId::new("t1")),
            include_admins: false,
        };
        let roster = [member("u1", Some("a@b.co"), "user")];
        let plan = offboard(
            &email("a@b.co"),
            Some(&invited("a@b.co")),
            &row("u1", "internal_user", &["t1"]),
            Some(&roster),
            &options,
            now(),
        );
        assert_eq!(names(&plan), ["remove_from_team"]);
        let plan = offboard(
            &email("c@b.co"),
            None,
            &row("u3", "internal_user", &[]),
            Some(&roster),
            &options,
            now(),
        );
        assert_eq!(plan.skip, Some(Skip::NotInTeam));
        assert!(plan.actions.is_empty());
    }

    #[test]
    fn team_admins_need_include_admins_and_default_user_id_is_never_touched() {
        let team = OffboardOptions {
            team: Some(TeamId::new("t1")),
            include_admins: false,
        };
        let admins = OffboardOptions {
            include_admins: true,
            ..team.clone()
        };
        let roster = [
            member("u-lead", Some("lead@b.co"), "admin"),
            member("default_user_id", Some("root@b.co"), "admin"),
        ];
        let lead = row("u-lead", "internal_user", &["t1"]);
        let plan = offboard(
            &email("lead@b.co"),
            None,
            &lead,
            Some(&roster),
            &team,
            now(),
        );
        assert_eq!(plan.skip, Some(Skip::TeamAdmin));
        assert!(plan.actions.is_empty());
        assert!(plan.detail.unwrap().contains("--include-admins"));
        let plan = offboard(
            &email("lead@b.co"),
            None,
            &lead,
            Some(&roster),
            &admins,
            now(),
        );
        assert_eq!(names(&plan), ["remove_from_team"]);
        let root = row("default_user_id", "proxy_admin", &["t1"]);
        for options in [
            &admins,
            &OffboardOptions {
                team: None,
                ..admins.clone()
            },
        ] {
            let plan = offboard(
                &email("root@b.co"),
                None,
                &root,
                Some(&roster),
                options,
                now(),
            );
            assert_eq!(plan.skip, Some(Skip::DefaultUser));
            assert!(plan.actions.is_empty());
            assert!(plan.skip.as_ref().is_some_and(Skip::is_refusal));
        }
    }

    #[test]
    fn prune_removes_members_the_csv_names_nowhere_and_never_admins() {
        let t1 = TeamId::new("t1");
        let t2 = TeamId::new("t2");
        let mut rosters = Rosters::default();
        rosters.insert(
            &t1,
            &[
                member("default_user_id", None, "admin"),
                member("u-admin", Some("boss@b.co"), "admin"),
                member("u-keep", Some("Keep@B.co"), "user"),
                member("u-moved", Some("moved@b.co"), "user"),
                member("u-gone", Some("gone@b.co"), "user"),
                member("u-renamed", Some("old-name@b.co"), "user"),
                member("u-noemail", None, "user"),
            ],
        );
        rosters.insert(&t2, &[member("u-moved", Some("moved@b.co"), "user")]);
        let person = |address: &str, team: &TeamId| Person {
            line: 2,
            email: email(address),
            team: team.clone(),
            role: Role::InternalUser,
            alias: None,
            more_teams: Vec::new(),
            settings: Default::default(),
        };
        let people = vec![
            person("keep@b.co", &t1),
            person("moved@b.co", &t2),
            person("new-name@b.co", &t1),
        ];
        let removals = prune_removals(&rosters, &people, |e| {
            (e.as_str() == "new-name@b.co").then(|| UserId::new("u-renamed"))
        });
        // moved@b.co is a CSV person: their own plan removes them from t1.
        let emails: Vec<&str> = removals.by_email.keys().map(Email::as_str).collect();
        assert_eq!(emails, ["gone@b.co"]);
        assert_eq!(
            removals.by_email[&email("gone@b.co")],
            vec![(t1.clone(), UserId::new("u-gone"))]
        );
        assert_eq!(removals.warnings.len(), 1, "{:?}", removals.warnings);
    }

    #[test]
    fn prune_deletes_invitations_only_of_people_left_in_no_team() {
        let record = invited("gone@b.co");
        let memberships = vec![(TeamId::new("t1"), UserId::new("u1"))];
        let alone = row("u1", "internal_user", &["t1"]);
        let plan = prune(
            &email("gone@b.co"),
            &memberships,
            Some(&record),
            &alone,
            now(),
        );
        assert_eq!(
            names(&plan),
            ["remove_from_team", "delete_invitation", "delete_invitation"]
        );
        let elsewhere = row("u1", "internal_user", &["t1", "t9"]);
        let plan = prune(
            &email("gone@b.co"),
            &memberships,
            Some(&record),
            &elsewhere,
            now(),
        );
        assert_eq!(names(&plan), ["remove_from_team"]);
        let failed = Lookup::Failed("x".into());
        let plan = prune(
            &email("gone@b.co"),
            &memberships,
            Some(&record),
            &failed,
            now(),
        );
        assert_eq!(names(&plan), ["remove_from_team"]);
    }
}
