//! The plan: what to do with each person, decided here and nowhere else, for every command.
//!
//! A command turns what it wants (CSV rows, one email, the audit file) and what is known (the
//! audit record, reads from the proxy) into one [`PersonPlan`] per person. `--dry-run` prints
//! the plans; a run makes the same plans (an onboarding run as the driver takes each person,
//! see [`Pending`]) and the driver carries out exactly their actions. The functions here are
//! pure: no I/O, no clock of their own.

mod action;
pub mod readiness;
pub mod reconcile;
pub mod teams;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::input::Person;
use crate::proxy::api::UserRow;
use crate::types::{Email, TeamId, UserId};
pub use action::{Action, ActionKind};
pub use reconcile::FieldChange;
pub use teams::Rosters;
pub use view::PlanView;

mod onboard;
mod refresh;
mod view;

pub use onboard::{
    OnboardOptions, Onboarding, invalid, known_user, needs_lookup, onboard, read_first,
};
pub use refresh::{
    InvitationCheck, RefreshOptions, check, cleanup, is_open, pending_deletes, refresh, refresh_due,
};

pub mod offboard;

/// Why a person gets no new invitation (their plan may still hold actions, such as a team).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Skip {
    /// A live, unaccepted invitation exists.
    AlreadyInvited,
    /// The person accepted an invitation.
    AlreadyAccepted,
    /// `refresh`: the invitation is still valid beyond `--within`.
    StillValid,
    /// Invalid row (`--skip-invalid`): recorded as failed.
    Invalid,
    /// The proxy has several users with this email: recorded as failed.
    SeveralUsers,
    /// The proxy could not be asked about this person: recorded as failed.
    LookupFailed,
    /// Offboarding: no user on the proxy has this email (reported, not a failure).
    NotOnProxy,
    /// Offboarding: already offboarded, and the user is gone.
    AlreadyOffboarded,
    /// Offboarding: a proxy admin, refused without `--include-admins`.
    ProxyAdmin,
    /// `offboard --team`: not a member of the team.
    NotInTeam,
    /// `offboard --team`: an admin of the team, refused without `--include-admins`.
    TeamAdmin,
    /// Offboarding: `default_user_id`, the master key's own user, refused whatever the flags.
    DefaultUser,
}

impl Skip {
    /// The name `--dry-run --json` shows.
    pub fn name(&self) -> &'static str {
        match self {
            Skip::AlreadyInvited => "already_invited",
            Skip::AlreadyAccepted => "already_accepted",
            Skip::StillValid => "still_valid",
            Skip::Invalid => "invalid",
            Skip::SeveralUsers => "several_users",
            Skip::LookupFailed => "lookup_failed",
            Skip::NotOnProxy => "not_on_proxy",
            Skip::AlreadyOffboarded => "already_offboarded",
            Skip::ProxyAdmin => "proxy_admin",
            Skip::NotInTeam => "not_in_team",
            Skip::TeamAdmin => "team_admin",
            Skip::DefaultUser => "default_user",
        }
    }

    /// The reason a failure is grouped under in a summary.
    pub fn reason(&self) -> &'static str {
        match self {
            Skip::Invalid => "invalid row",
            Skip::SeveralUsers => "several users with this email",
            Skip::LookupFailed => "could not look the person up",
            Skip::AlreadyInvited => "already invited",
            Skip::AlreadyAccepted => "already accepted",
            Skip::StillValid => "still valid",
            Skip::NotOnProxy => "no user on the proxy",
            Skip::AlreadyOffboarded => "already offboarded",
            Skip::ProxyAdmin => "a proxy admin (--include-admins to offboard)",
            Skip::NotInTeam => "not in the team",
            Skip::TeamAdmin => "a team admin (--include-admins to remove)",
            Skip::DefaultUser => "default_user_id, the master key's user (never offboarded)",
        }
    }

    /// True when offboarding refuses the person (told why, exit 1, no record).
    pub fn is_refusal(&self) -> bool {
        matches!(self, Skip::ProxyAdmin | Skip::TeamAdmin | Skip::DefaultUser)
    }

    /// True when the skip is a failure of the person (recorded as failed, exit 1).
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Skip::Invalid | Skip::SeveralUsers | Skip::LookupFailed
        )
    }
}

/// What to do with one person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonPlan {
    /// The person.
    pub email: Email,
    /// The CSV line (0 when the person comes from the command line or the audit file).
    pub line: u64,
    /// The person as the command wants them (bulk and invite).
    pub person: Option<Person>,
    /// The team the plan puts them in, when the plan has no person to take it from.
    pub team: Option<TeamId>,
    /// The actions, in order.
    pub actions: Vec<Action>,
    /// Why no invitation is made, if none is.
    pub skip: Option<Skip>,
    /// More about a skip (the invalid cell, the duplicate ids, the failed read).
    pub detail: Option<String>,
    /// When the live (or checked) invitation expires, when that is what the plan rests on.
    pub expires_at: Option<DateTime<Utc>>,
}

impl PersonPlan {
    /// What `create_user` turned out to be when the proxy already had the user: adopting them,
    /// and adding them to the teams they were missing from (what a dry run, which looks the
    /// email up, plans for them).
    pub fn adopted(&mut self, user_id: UserId, added: Vec<TeamId>) {
        if let Some(i) = self.actions.iter().position(|a| *a == Action::CreateUser) {
            let done = std::iter::once(Action::AdoptUser { user_id })
                .chain(added.into_iter().map(|team| Action::AddToTeam { team }));
            self.actions.splice(i..=i, done);
        }
    }

    fn new(email: Email, line: u64) -> Self {
        PersonPlan {
            email,
            line,
            person: None,
            team: None,
            actions: Vec::new(),
            skip: None,
            detail: None,
            expires_at: None,
        }
    }

    /// True when carrying out the plan sends nothing and changes no record.
    pub fn is_noop(&self) -> bool {
        self.actions.is_empty() && !self.skip.as_ref().is_some_and(Skip::is_failure)
    }

    /// The team the plan puts the person in: the person's (onboarding), or the plan's own.
    pub fn team(&self) -> Option<&TeamId> {
        self.team
            .as_ref()
            .or_else(|| self.person.as_ref().map(|p| &p.team))
    }

    /// True when the plan holds an action of this kind.
    pub fn has(&self, kind: ActionKind) -> bool {
        self.actions.iter().any(|a| a.kind() == kind)
    }

    /// How many actions of this kind the plan holds.
    pub fn count(&self, kind: ActionKind) -> usize {
        self.actions.iter().filter(|a| a.kind() == kind).count()
    }

    /// True when the plan starts by creating the person's user (what bulk creates do).
    pub fn creates_user(&self) -> bool {
        self.actions.first() == Some(&Action::CreateUser) && self.person.is_some()
    }
}

/// Someone a run carries out a plan for: a person planned when the driver takes them (so a
/// large run never holds every plan at once), or a plan made before the run (a pruning run's,
/// an invalid row's).
#[derive(Debug)]
// Nearly everyone is a `Person`: boxing it would cost an allocation each.
#[allow(clippy::large_enum_variant)]
pub enum Pending {
    /// Planned when taken, from what is known then.
    Person(Person),
    /// Planned already.
    Planned(Box<PersonPlan>),
}

impl Pending {
    /// The person's email.
    pub fn email(&self) -> &Email {
        match self {
            Pending::Person(person) => &person.email,
            Pending::Planned(plan) => &plan.email,
        }
    }
}

impl From<PersonPlan> for Pending {
    fn from(plan: PersonPlan) -> Self {
        Pending::Planned(Box::new(plan))
    }
}

/// What the proxy said of a person's email (asked only when the audit file has no user).
#[derive(Clone, Debug, Default)]
pub enum Lookup {
    /// Nothing read: not asked (the audit file knows the user), or asked and no user has it
    /// (a run's look-ups keep only the emails that have users). Planned as [`Lookup::Absent`].
    #[default]
    NotAsked,
    /// No user has this email.
    Absent,
    /// Exactly one user has it.
    Found(Box<UserRow>),
    /// Several users have it (legacy duplicates).
    Several(Vec<UserId>),
    /// The read failed.
    Failed(String),
}

impl Lookup {
    /// What an exact-email read's rows say of the email.
    pub fn of(mut rows: Vec<UserRow>) -> Self {
        match rows.len() {
            0 => Lookup::Absent,
            1 => Lookup::Found(Box::new(rows.remove(0))),
            _ => Lookup::Several(rows.into_iter().map(|r| r.user_id).collect()),
        }
    }
}

/// Why a person with several users on the proxy is left alone: the proxy error's own words.
fn several_users(email: Email, ids: &[UserId]) -> String {
    crate::proxy::ProxyError::SeveralUsers {
        email,
        user_ids: ids.to_vec(),
    }
    .to_string()
}

#[cfg(test)]
mod tests;
