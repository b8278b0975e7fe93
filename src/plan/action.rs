//! The actions a plan is made of, and their kinds (what callers branch on).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::FieldChange;
use crate::settings::TeamRole;
use crate::types::{InvitationId, TeamId, UserId};

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
