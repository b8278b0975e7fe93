//! A plan as `--dry-run --json` shows it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Action, FieldChange, PersonPlan, Skip};
use crate::types::{Email, TeamId, UserId};

/// A plan as `--dry-run --json` shows it: one object per person.
#[derive(Debug, Serialize)]
pub struct PlanView<'a> {
    /// The person.
    pub email: &'a Email,
    /// The action names, in order.
    pub actions: Vec<&'static str>,
    /// The team.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<&'a TeamId>,
    /// The user the plan adopts, deletes or removes from teams.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<&'a UserId>,
    /// How many live invitations the proxy deletes with the user (`delete_user`): a count,
    /// since an invitation id is the person's link.
    #[serde(skip_serializing_if = "is_zero")]
    pub invitations_with_user: usize,
    /// The teams the plan removes the person from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remove_from: Vec<&'a TeamId>,
    /// Why no invitation is made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip: Option<&'static str>,
    /// More about the skip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    /// The CSV line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// When the invitation the plan rests on expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// What `update_user` changes, field by field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<&'a FieldChange>,
    /// What `update_team_role` sets: `{"team", "role"}` each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub team_roles: Vec<serde_json::Value>,
    /// What `grant_team_permissions` adds: `{"team", "permissions"}` each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<serde_json::Value>,
}

impl<'a> From<&'a PersonPlan> for PlanView<'a> {
    fn from(plan: &'a PersonPlan) -> Self {
        PlanView {
            email: &plan.email,
            actions: plan.actions.iter().map(Action::name).collect(),
            team: plan.team(),
            user_id: plan.actions.iter().find_map(|a| match a {
                Action::AdoptUser { user_id }
                | Action::DeleteUser { user_id, .. }
                | Action::RemoveFromTeam { user_id, .. } => Some(user_id),
                _ => None,
            }),
            invitations_with_user: plan
                .actions
                .iter()
                .filter(|a| matches!(a, Action::DeleteUser { .. }))
                .map(Action::invitations_deleted)
                .sum(),
            remove_from: plan
                .actions
                .iter()
                .filter_map(|a| match a {
                    Action::RemoveFromTeam { team, .. } => Some(team),
                    _ => None,
                })
                .collect(),
            skip: plan.skip.as_ref().map(Skip::name),
            reason: plan.detail.as_deref(),
            line: (plan.line > 0).then_some(plan.line),
            expires_at: plan.expires_at,
            changes: plan
                .actions
                .iter()
                .flat_map(|a| match a {
                    Action::UpdateUser { changes, .. } => changes.iter().collect(),
                    _ => Vec::new(),
                })
                .collect(),
            team_roles: plan
                .actions
                .iter()
                .filter_map(|a| match a {
                    Action::UpdateTeamRole { team, role } => {
                        Some(serde_json::json!({ "team": team, "role": role }))
                    }
                    _ => None,
                })
                .collect(),
            grants: plan
                .actions
                .iter()
                .filter_map(|a| match a {
                    Action::GrantTeamPermissions { team, permissions } => {
                        Some(serde_json::json!({ "team": team, "permissions": permissions }))
                    }
                    _ => None,
                })
                .collect(),
        }
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
