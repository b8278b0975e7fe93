//! Who is in which team, as this run read it: the rosters (`/team/info` `members_with_roles`)
//! of every team the run names, read once in pre-flight. This is the *actual* side of every
//! membership plan: a person's teams are a set that other admins change, so a plan adds what
//! is missing from it and removes (under `--prune`) what should not be there — never from the
//! audit file's memory of what `onboard` once did.

use std::collections::{BTreeSet, HashMap};

use crate::proxy::api::TeamMember;
use crate::types::{Email, TeamId, UserId};

/// One membership on a roster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    /// The team.
    pub team: TeamId,
    /// The member's team role as the roster says it (`user`, `admin`).
    pub role: String,
}

/// The rosters of the teams a run names, indexed by member.
#[derive(Clone, Debug, Default)]
pub struct Rosters {
    /// The teams whose roster was read.
    read: BTreeSet<TeamId>,
    /// Each member's memberships among those teams.
    by_user: HashMap<UserId, Vec<Membership>>,
    /// Each member's email, when the roster gives a usable one.
    emails: HashMap<UserId, Email>,
    /// The members with each email (several when the proxy has legacy duplicates).
    by_email: HashMap<Email, Vec<UserId>>,
}

impl Rosters {
    /// Adds the roster of `team` as read now (a member listed twice counts once).
    pub fn insert(&mut self, team: &TeamId, members: &[TeamMember]) {
        self.read.insert(team.clone());
        for member in members {
            let Some(user_id) = &member.user_id else {
                continue;
            };
            let memberships = self.by_user.entry(user_id.clone()).or_default();
            if memberships.iter().any(|m| &m.team == team) {
                continue;
            }
            memberships.push(Membership {
                team: team.clone(),
                role: member.role.clone().unwrap_or_else(|| "user".into()),
            });
            if let Some(Ok(email)) = member.user_email.as_deref().map(Email::parse) {
                let ids = self.by_email.entry(email.clone()).or_default();
                if !ids.contains(user_id) {
                    ids.push(user_id.clone());
                }
                self.emails.insert(user_id.clone(), email);
            }
        }
    }

    /// True when the team's roster was read in this run.
    pub fn is_read(&self, team: &TeamId) -> bool {
        self.read.contains(team)
    }

    /// The user's role in the team, if the team's roster lists them.
    pub fn role(&self, team: &TeamId, user_id: &UserId) -> Option<&str> {
        self.memberships(user_id)
            .iter()
            .find(|m| &m.team == team)
            .map(|m| m.role.as_str())
    }

    /// The user's memberships among the teams read.
    pub fn memberships(&self, user_id: &UserId) -> &[Membership] {
        self.by_user.get(user_id).map_or(&[], Vec::as_slice)
    }

    /// The members whose email is this one (the same person to `onboard`).
    pub fn users_with(&self, email: &Email) -> &[UserId] {
        self.by_email.get(email).map_or(&[], Vec::as_slice)
    }

    /// Every member: their id, email (if usable) and memberships.
    pub fn members(&self) -> impl Iterator<Item = (&UserId, Option<&Email>, &[Membership])> {
        self.by_user
            .iter()
            .map(|(id, teams)| (id, self.emails.get(id), teams.as_slice()))
    }
}

/// True for a membership `onboard` never removes: a team admin's, and `default_user_id`'s.
pub fn is_protected(user_id: &UserId, membership: &Membership) -> bool {
    crate::proxy::api::is_protected_member(user_id, &membership.role)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, email: Option<&str>, role: &str) -> TeamMember {
        TeamMember {
            user_id: Some(UserId::new(id)),
            user_email: email.map(str::to_string),
            role: Some(role.into()),
        }
    }

    #[test]
    fn a_person_is_in_a_set_of_teams_found_by_id_or_email() {
        let (t1, t2) = (TeamId::new("t1"), TeamId::new("t2"));
        let mut rosters = Rosters::default();
        rosters.insert(
            &t1,
            &[
                member("u1", Some("A@b.co"), "user"),
                member("u1", Some("a@b.co"), "user"),
                member("default_user_id", None, "admin"),
            ],
        );
        rosters.insert(&t2, &[member("u1", Some("a@b.co"), "admin")]);
        let u1 = UserId::new("u1");
        let teams: Vec<&TeamId> = rosters.memberships(&u1).iter().map(|m| &m.team).collect();
        assert_eq!(teams, [&t1, &t2], "one membership a team");
        assert_eq!(rosters.role(&t2, &u1), Some("admin"));
        assert_eq!(rosters.role(&TeamId::new("t3"), &u1), None);
        assert_eq!(
            rosters.users_with(&Email::parse("a@B.co").unwrap()),
            std::slice::from_ref(&u1)
        );
        let root = UserId::new("default_user_id");
        let (_, email, _) = rosters.members().find(|(id, ..)| **id == root).unwrap();
        assert_eq!(email, None, "no usable email");
        assert!(rosters.is_read(&t2) && !rosters.is_read(&TeamId::new("t3")));
        let admin = &rosters.memberships(&u1)[1];
        assert!(is_protected(&u1, admin));
        assert!(!is_protected(&u1, &rosters.memberships(&u1)[0]));
    }
}
