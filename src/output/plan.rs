//! Printing plans: `--dry-run` and the plan a run asks to confirm.

use std::io::Write;

use super::{Format, Printer, when};
use crate::plan::{Action, PersonPlan, PlanView};

/// A line a plan (people whose plan does nothing are left out when `plans` is long) and the
/// counts of actions and skips.
fn plan_lines(plans: &[PersonPlan]) -> (Vec<String>, String) {
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
    let mut lines = Vec::new();
    for plan in plans {
        for action in &plan.actions {
            bump(&mut actions, action.name());
        }
        if let Some(skip) = &plan.skip {
            bump(&mut skips, skip.name());
        }
        let mut line = format!("{}:", plan.email);
        let names: Vec<&str> = plan.actions.iter().map(|a| a.name()).collect();
        if !names.is_empty() {
            line.push(' ');
            line.push_str(&names.join(", "));
        }
        if let Some(team) = plan.team() {
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
        lines.push(line);
        lines.extend(
            changes(plan)
                .iter()
                .map(|change| format!("    {}: {change}", plan.email)),
        );
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
    (lines, listed)
}

impl Printer {
    /// Prints plans for `--dry-run`: one JSON array on stdout with `--json`, else a line a
    /// person on stdout and a count on stderr.
    pub fn plans(&mut self, plans: &[PersonPlan]) {
        if self.format == Format::Json {
            let views: Vec<PlanView> = plans.iter().map(PlanView::from).collect();
            let text = serde_json::to_string_pretty(&views).unwrap_or_else(|_| "[]".into());
            writeln!(self.stdout, "{text}").ok();
            self.flush();
            return;
        }
        let (lines, counts) = plan_lines(plans);
        if !self.quiet {
            for line in &lines {
                self.out(line);
            }
        }
        self.flush();
        self.note(&format!(
            "dry run, nothing was written: {} people: {counts}",
            plans.len()
        ));
    }

    /// Prints the plans a run is about to carry out, on stderr (stdout stays for results),
    /// before it asks for confirmation.
    pub fn plans_to_confirm(&mut self, plans: &[PersonPlan], total: usize) {
        let (lines, counts) = plan_lines(plans);
        for line in &lines {
            self.err(&format!("  {line}"));
        }
        self.err(&format!("onboard: the plan: {total} people: {counts}"));
    }
}

/// What a plan changes on an existing user, one entry each: `max_budget 10 → 25`,
/// `team_role in TEAM → admin`, `team TEAM added`.
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
            _ => Vec::new(),
        })
        .collect()
}
