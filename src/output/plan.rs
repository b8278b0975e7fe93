//! Printing plans: `--dry-run` and the plan a run asks to confirm.

use std::collections::HashMap;
use std::io::Write;

use super::{Format, Printer, when};
use crate::plan::{Action, PersonPlan, PlanView};
use crate::types::{TeamId, escape};

/// Hands `emit` a line a plan (and one per change it makes), as they come, and returns the
/// counts of actions and skips. A membership action names its team (`names`: aliases by id).
fn plan_lines(
    plans: &[PersonPlan],
    names: &HashMap<TeamId, String>,
    mut emit: impl FnMut(&str),
) -> String {
    // Counts in the order each name first appears (the input's order): actions, then skips.
    let mut actions: Vec<(&str, usize)> = Vec::new();
    let mut skips: Vec<(&str, usize)> = Vec::new();
    let bump = |counts: &mut Vec<(&'static str, usize)>, name: &'static str| match counts
        .iter_mut()
        .find(|(n, _)| *n == name)
    {
        Some((_, count)) => *count += 1,
        None => counts.push((name, 1)),
    };
    for plan in plans {
        for action in &plan.actions {
            bump(&mut actions, action.name());
        }
        if let Some(skip) = &plan.skip {
            bump(&mut skips, skip.name());
        }
        let mut line = format!("{}:", plan.email);
        let labels: Vec<String> = plan
            .actions
            .iter()
            .map(|action| match action.team() {
                Some(team) => {
                    let name = names.get(team).map_or(team.as_str(), String::as_str);
                    format!("{} {}", action.label(), escape(name))
                }
                None => action.label(),
            })
            .collect();
        if !labels.is_empty() {
            line.push(' ');
            line.push_str(&labels.join(", "));
        }
        // The person's team, unless their actions name theirs.
        if let Some(team) = plan.team()
            && !plan.actions.iter().any(|a| a.team().is_some())
        {
            line.push_str(&format!(" [team {team}]"));
        }
        if let Some(skip) = &plan.skip {
            line.push_str(&format!(" (skip: {}", skip.name()));
            if let Some(detail) = &plan.detail {
                line.push_str(&format!(": {detail}"));
            } else if let Some(expires) = plan.expires_at {
                line.push_str(&format!(", expires {}", when(expires)));
            }
            line.push(')');
        }
        emit(&line);
        for change in changes(plan) {
            emit(&format!("    {}: {change}", plan.email));
        }
    }
    let list = |counts: &[(&str, usize)]| {
        counts
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut listed = if actions.is_empty() {
        "nothing to do".to_string()
    } else {
        list(&actions)
    };
    if !skips.is_empty() {
        listed.push_str(&format!("; skipped: {}", list(&skips)));
    }
    listed
}

/// Plans as one JSON array, each serialised as it is written (not held whole as text).
struct Views<'a>(&'a [PersonPlan]);

impl serde::Serialize for Views<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(PlanView::from))
    }
}

impl Printer {
    /// Prints plans for `--dry-run`: one JSON array on stdout with `--json`, else a line a
    /// person on stdout and a count on stderr.
    pub fn plans(&mut self, plans: &[PersonPlan]) {
        if self.format == Format::Json {
            serde_json::to_writer_pretty(&mut self.stdout, &Views(plans)).ok();
            writeln!(self.stdout).ok();
            self.flush();
            return;
        }
        let names = std::mem::take(&mut self.team_names);
        let counts = plan_lines(plans, &names, |line| self.out(line));
        self.team_names = names;
        self.flush();
        self.note(&format!(
            "dry run, nothing was written: {}: {counts}",
            super::people(plans.len())
        ));
    }

    /// Prints the plans a run is about to carry out, on stderr (stdout stays for results),
    /// before it asks for confirmation.
    pub fn plans_to_confirm(&mut self, plans: &[PersonPlan], total: usize) {
        let names = std::mem::take(&mut self.team_names);
        let counts = plan_lines(plans, &names, |line| self.err(&format!("  {line}")));
        self.team_names = names;
        self.err(&format!(
            "onboard: the plan: {}: {counts}",
            super::people(total)
        ));
    }
}

/// What a plan changes on an existing user, one entry each: `max_budget 10 → 25`,
/// `team_role in TEAM → admin`, `team TEAM added`, and the permissions a team gains.
pub(super) fn changes(plan: &PersonPlan) -> Vec<String> {
    let reconciles = plan
        .actions
        .iter()
        .any(|a| matches!(a, Action::UpdateUser { .. } | Action::UpdateTeamRole { .. }));
    plan.actions
        .iter()
        .flat_map(|a| match a {
            Action::UpdateUser { changes, .. } => changes.iter().map(ToString::to_string).collect(),
            Action::UpdateTeamRole { team, role } => vec![format!("team_role in {team} → {role}")],
            Action::AddToTeam { team } if reconciles => vec![format!("added to team {team}")],
            Action::GrantTeamPermissions { team, permissions } => vec![format!(
                "team {team}: members may call {}",
                permissions.join(", ")
            )],
            _ => Vec::new(),
        })
        .collect()
}
