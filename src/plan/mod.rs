//! The plan: what to do with each person, decided here and nowhere else, for every command.
//!
//! A command turns what it wants (CSV rows, one email, the audit file) and what is known (the
//! audit record, reads from the proxy) into one [`PersonPlan`] per person. `--dry-run` prints
//! the plans; a run makes the same plans (an onboarding run as the driver takes each person,
//! see [`Pending`]) and the driver carries out exactly their actions. The functions here are
//! pure: no I/O, no clock of their own.

pub mod readiness;
pub mod reconcile;
pub mod teams;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::input::Person;
use crate::proxy::api::UserRow;
use crate::settings::TeamRole;
use crate::types::{Email, InvitationId, TeamId, UserId};
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

/// One step of a person's plan. The names (`create_user`, …) are what `--dry-run --json` shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// `POST /user/new` (a user already there with this email is adopted instead).
    CreateUser,
    /// Use the user the proxy already has with this exact email.
    AdoptUser {
        /// The user found.
        user_id: UserId,
    },
    /// `POST /team/member_add` by `user_id`.
    AddToTeam {
        /// The team.
        team: TeamId,
    },
    /// `POST /invitation/new`: a new invitation and link.
    Invite,
    /// `POST /invitation/delete` of an invitation a newer one replaced.
    DeleteInvitation {
        /// The superseded invitation.
        invitation_id: InvitationId,
    },
    /// The proxy says the person accepted: record it.
    RecordAccepted {
        /// When.
        at: DateTime<Utc>,
    },
    /// The proxy no longer has the user: record it (nobody is invited).
    RecordUserDeleted,
    /// Email the person their (new or not yet emailed) link.
    EmailLink,
    /// `POST /user/delete` of this one user, confirmed on the proxy by this run's reads (its
    /// keys, memberships and invitations go with it, in the proxy's one transaction).
    DeleteUser {
        /// The user.
        user_id: UserId,
        /// The live invitations the audit file knows of, which the proxy deletes with the user
        /// (no request of their own).
        invitations: Vec<InvitationId>,
    },
    /// `POST /team/member_delete` by `user_id`, planned only for a member the team's roster
    /// (read in this run) lists.
    RemoveFromTeam {
        /// The team.
        team: TeamId,
        /// The member.
        user_id: UserId,
    },
    /// `POST /user/update` by the `user_id` this run just read, with only the fields that
    /// differ from the row (never by email: a miss would create a user).
    UpdateUser {
        /// The user, as just read on the proxy.
        user_id: UserId,
        /// What differs.
        changes: Vec<FieldChange>,
    },
    /// `POST /team/member_update` of a member this run just saw on the team's roster.
    UpdateTeamRole {
        /// The team.
        team: TeamId,
        /// The role wanted.
        role: TeamRole,
    },
    /// `--no-invite` (SSO): record `<proxy>/ui` as the person's link; no request.
    RecordSsoLink,
    /// `--grant-key-permissions`: add these to the team's `team_member_permissions`
    /// (`/team/permissions_update`, after reading the list again: nothing is removed).
    /// Planned once per team, in the plan of the first person of the run who goes into it.
    GrantTeamPermissions {
        /// The team.
        team: TeamId,
        /// The permissions it lacks.
        permissions: Vec<String>,
    },
}

/// What an action is, without its data: what callers branch on (an action added to
/// [`Action`] must be given a kind here, and every `match` on kinds then says what it does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActionKind {
    /// [`Action::CreateUser`].
    CreateUser,
    /// [`Action::AdoptUser`].
    AdoptUser,
    /// [`Action::AddToTeam`].
    AddToTeam,
    /// [`Action::Invite`].
    Invite,
    /// [`Action::DeleteInvitation`].
    DeleteInvitation,
    /// [`Action::RecordAccepted`].
    RecordAccepted,
    /// [`Action::RecordUserDeleted`].
    RecordUserDeleted,
    /// [`Action::EmailLink`].
    EmailLink,
    /// [`Action::DeleteUser`].
    DeleteUser,
    /// [`Action::RemoveFromTeam`].
    RemoveFromTeam,
    /// [`Action::UpdateUser`].
    UpdateUser,
    /// [`Action::UpdateTeamRole`].
    UpdateTeamRole,
    /// [`Action::RecordSsoLink`].
    RecordSsoLink,
    /// [`Action::GrantTeamPermissions`].
    GrantTeamPermissions,
}

impl ActionKind {
    /// The name `--dry-run --json` shows, as documented in the README.
    pub fn name(self) -> &'static str {
        match self {
            ActionKind::CreateUser => "create_user",
            ActionKind::AdoptUser => "adopt_user",
            ActionKind::AddToTeam => "add_to_team",
            ActionKind::Invite => "invite",
            ActionKind::DeleteInvitation => "delete_invitation",
            ActionKind::RecordAccepted => "record_accepted",
            ActionKind::RecordUserDeleted => "record_user_deleted",
            ActionKind::EmailLink => "email_link",
            ActionKind::DeleteUser => "delete_user",
            ActionKind::RemoveFromTeam => "remove_from_team",
            ActionKind::UpdateUser => "update_user",
            ActionKind::UpdateTeamRole => "update_team_role",
            ActionKind::RecordSsoLink => "record_sso_link",
            ActionKind::GrantTeamPermissions => "grant_team_permissions",
        }
    }
}

impl Action {
    /// What the action is.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::CreateUser => ActionKind::CreateUser,
            Action::AdoptUser { .. } => ActionKind::AdoptUser,
            Action::AddToTeam { .. } => ActionKind::AddToTeam,
            Action::Invite => ActionKind::Invite,
            Action::DeleteInvitation { .. } => ActionKind::DeleteInvitation,
            Action::RecordAccepted { .. } => ActionKind::RecordAccepted,
            Action::RecordUserDeleted => ActionKind::RecordUserDeleted,
            Action::EmailLink => ActionKind::EmailLink,
            Action::DeleteUser { .. } => ActionKind::DeleteUser,
            Action::RemoveFromTeam { .. } => ActionKind::RemoveFromTeam,
            Action::UpdateUser { .. } => ActionKind::UpdateUser,
            Action::UpdateTeamRole { .. } => ActionKind::UpdateTeamRole,
            Action::RecordSsoLink => ActionKind::RecordSsoLink,
            Action::GrantTeamPermissions { .. } => ActionKind::GrantTeamPermissions,
        }
    }

    /// The action's name, as documented in the README.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// The team a membership action is about.
    pub fn team(&self) -> Option<&TeamId> {
        match self {
            Action::AddToTeam { team }
            | Action::RemoveFromTeam { team, .. }
            | Action::UpdateTeamRole { team, .. }
            | Action::GrantTeamPermissions { team, .. } => Some(team),
            _ => None,
        }
    }

    /// True for an action that sends a write request to the proxy.
    pub fn writes_to_proxy(&self) -> bool {
        matches!(
            self,
            Action::CreateUser
                | Action::AddToTeam { .. }
                | Action::Invite
                | Action::DeleteInvitation { .. }
                | Action::UpdateUser { .. }
                | Action::UpdateTeamRole { .. }
                | Action::DeleteUser { .. }
                | Action::RemoveFromTeam { .. }
                | Action::GrantTeamPermissions { .. }
        )
    }

    /// The invitations the action deletes: its own, or those that go with a deleted user.
    pub fn invitations_deleted(&self) -> usize {
        match self {
            Action::DeleteInvitation { .. } => 1,
            Action::DeleteUser { invitations, .. } => invitations.len(),
            _ => 0,
        }
    }

    /// The action as a plan line shows it: its name, and what goes with a deleted user.
    pub fn label(&self) -> String {
        match self {
            Action::DeleteUser { invitations, .. } if !invitations.is_empty() => format!(
                "delete_user (with {} live invitation{})",
                invitations.len(),
                if invitations.len() == 1 { "" } else { "s" }
            ),
            _ => self.name().to_string(),
        }
    }

    /// True for an action that takes something away (asks for confirmation first).
    pub fn removes(&self) -> bool {
        matches!(
            self,
            Action::DeleteUser { .. } | Action::RemoveFromTeam { .. }
        )
    }
}

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
