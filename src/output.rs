//! The one printer: data on stdout, everything else on stderr; quiet, JSON and link-only
//! modes; colour only on a terminal (never with `NO_COLOR`); a progress bar on a terminal.

use std::io::{IsTerminal, Write};

use anstyle::{AnsiColor, Style};
use indicatif::{ProgressBar, ProgressStyle};

use serde_json::json;

use crate::apply::Summary;
use crate::apply::person::{Outcome, PersonResult};
use crate::plan::{Action, PersonPlan, PlanView, Skip};
pub use crate::types::when;

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

/// How results are shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Lines for people (the default).
    #[default]
    Text,
    /// A JSON array of results on stdout.
    Json,
}

/// Decides what goes where.
#[derive(Debug)]
pub struct Printer {
    format: Format,
    quiet: bool,
    link_only: bool,
    json_started: bool,
    stdout: std::io::BufWriter<std::io::Stdout>,
    color_out: bool,
    color_err: bool,
    bar: Option<ProgressBar>,
}

const GREEN: Style = AnsiColor::Green.on_default();
const RED: Style = AnsiColor::Red.on_default();
const DIM: Style = Style::new().dimmed();

fn colors(stream: &impl anstream::stream::RawStream) -> bool {
    anstream::AutoStream::choice(stream) != anstream::ColorChoice::Never
}

impl crate::apply::drive::Notes for Printer {
    fn note(&mut self, message: &str) {
        Printer::note(self, message);
    }
}

impl Printer {
    /// A printer for a bulk run.
    pub fn new(format: Format, quiet: bool) -> Self {
        Printer {
            format,
            quiet,
            link_only: false,
            json_started: false,
            stdout: std::io::BufWriter::new(std::io::stdout()),
            color_out: colors(&std::io::stdout()),
            color_err: colors(&std::io::stderr()),
            bar: None,
        }
    }

    /// Shows a progress bar for `total` people on stderr, if it is a terminal and the
    /// output is for people (not `-q`, not JSON, not one-off).
    pub fn progress(&mut self, total: u64) {
        if self.quiet
            || self.link_only
            || self.format != Format::Text
            || !std::io::stderr().is_terminal()
        {
            return;
        }
        let style = ProgressStyle::with_template("{bar:30} {pos}/{len} people, eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        self.bar = Some(ProgressBar::new(total).with_style(style));
    }

    fn paint(color: bool, style: Style, text: &str) -> String {
        if color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }

    /// A line on stdout, drawn around the progress bar.
    fn out(&mut self, line: &str) {
        match self.bar.clone() {
            Some(bar) => bar.suspend(|| {
                writeln!(self.stdout, "{line}").ok();
                self.stdout.flush().ok();
            }),
            None => {
                writeln!(self.stdout, "{line}").ok();
            }
        }
    }

    /// A line on stderr, after whatever stdout holds, drawn around the progress bar.
    fn err(&mut self, line: &str) {
        self.flush();
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// A printer for `onboard invite`: only the link on stdout (in text format).
    pub fn link_only(format: Format, quiet: bool) -> Self {
        Printer {
            link_only: true,
            ..Printer::new(format, quiet)
        }
    }

    /// True when nothing but failures should be said.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// A line of data on stdout, whatever the mode (the caller decides what `-q` hides).
    pub fn data(&mut self, line: &str) {
        self.out(line);
    }

    /// A line for the person reading stderr (suppressed by `-q`).
    pub fn note(&mut self, message: &str) {
        if !self.quiet {
            self.err(&format!("onboard: {message}"));
        }
    }

    /// A warning: shown even with `-q`.
    pub fn warn(&mut self, message: &str) {
        let label = Self::paint(self.color_err, AnsiColor::Yellow.on_default(), "warning:");
        self.err(&format!("onboard: {label} {message}"));
    }

    /// Reports one finished person.
    pub fn person(&mut self, result: &PersonResult) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        if self.format == Format::Json {
            self.json_item(result);
            return;
        }
        let updated = changes(&result.plan);
        if !updated.is_empty() && !matches!(result.outcome, Outcome::Failed { .. }) && !self.quiet {
            let tick = Self::paint(self.color_out, GREEN, "✓");
            let line = format!(
                "{tick} {}: updated {}",
                result.plan.email,
                updated.join(", ")
            );
            self.skip_line_plain(&line);
        }
        if result.plan.has("record_sso_link")
            && !matches!(result.outcome, Outcome::Failed { .. })
            && !self.quiet
        {
            let what = if result.created {
                "user created"
            } else {
                "existing user"
            };
            let link = result.record.onboarding_link.clone().unwrap_or_default();
            let tick = Self::paint(self.color_out, GREEN, "✓");
            let line = format!(
                "{tick} {}: {what}, no invitation (--no-invite)\n    {link}",
                result.plan.email
            );
            self.skip_line_plain(&line);
        }
        let email = &result.plan.email;
        let record = &result.record;
        let link = record.onboarding_link.as_deref().unwrap_or_default();
        match &result.outcome {
            Outcome::Done if result.plan.has("invite") => {
                let pending = result.cleanup.pending as usize + result.delete_failed.len();
                if pending > 0 {
                    self.warn(&format!(
                        "{email}: {pending} replaced invitation(s) could not be deleted; kept as pending, `onboard refresh` tries again"
                    ));
                }
                let expires = record.expires_at.map(when).unwrap_or_default();
                let what = if result.plan.has("adopt_user")
                    || !result.created && result.plan.has("create_user")
                {
                    "existing user"
                } else if result.created {
                    "user created"
                } else {
                    "existing user"
                };
                if self.link_only {
                    self.out(link);
                    self.flush();
                    if !self.quiet {
                        let tick = Self::paint(self.color_err, GREEN, "✓");
                        self.err(&format!(
                            "{tick} {email}: {what}, invited (expires {expires})"
                        ));
                    }
                } else if !self.quiet {
                    let tick = Self::paint(self.color_out, GREEN, "✓");
                    self.out(&format!(
                        "{tick} {email}: {what}, invited (expires {expires})\n    {link}"
                    ));
                }
            }
            Outcome::Done | Outcome::Skipped(_)
                if result.plan.skip == Some(Skip::AlreadyInvited) =>
            {
                let expires = record
                    .expires_at
                    .map(when)
                    .unwrap_or_else(|| "unknown".into());
                if self.link_only && !link.is_empty() {
                    self.out(link);
                    self.flush();
                }
                let line = format!(
                    "- {email}: already invited, expires {expires} (nothing sent; --reinvite for a new link)"
                );
                self.skip_line(&line);
            }
            Outcome::Done | Outcome::Skipped(_) => {
                if result.plan.skip == Some(Skip::AlreadyAccepted) {
                    self.skip_line(&format!("- {email}: already accepted (nothing sent)"));
                }
            }
            Outcome::Failed { .. } => {
                let error = record.error.as_deref().unwrap_or("failed");
                let cross = Self::paint(self.color_err, RED, "✗");
                // An invalid row's error names its line already.
                let line = match result.plan.skip {
                    Some(Skip::Invalid) => String::new(),
                    _ => format!(" (line {})", result.plan.line),
                };
                self.err(&format!("{cross} {email}{line}: {error}"));
            }
        }
    }

    /// A line about a person: on stdout, or on stderr for `invite` (stdout is the link).
    fn skip_line_plain(&mut self, line: &str) {
        if self.link_only {
            self.err(line);
        } else {
            self.out(line);
        }
    }

    fn skip_line(&mut self, line: &str) {
        if self.quiet {
            return;
        }
        if self.link_only {
            let line = Self::paint(self.color_err, DIM, line);
            self.err(&line);
        } else {
            let line = Self::paint(self.color_out, DIM, line);
            self.out(&line);
        }
    }

    fn json_item(&mut self, result: &PersonResult) {
        let record = &result.record;
        let (status, detail) = match &result.outcome {
            Outcome::Failed { .. } => ("failed", json!(null)),
            _ => match &result.plan.skip {
                Some(skip) => (skip.name(), json!(null)),
                None if result.plan.has("invite") => (
                    "invited",
                    json!(if result.created {
                        "created"
                    } else {
                        "existing"
                    }),
                ),
                None => ("done", json!(null)),
            },
        };
        let mut item = json!({
            "email": result.plan.email,
            "line": result.plan.line,
            "result": status,
            "user": detail,
            "actions": result.plan.actions.iter().map(|a| a.name()).collect::<Vec<_>>(),
            "user_id": record.user_id,
            "invitation_id": record.invitation_id,
            "expires_at": record.expires_at,
            "onboarding_link": record.onboarding_link,
            "error": if matches!(result.outcome, Outcome::Failed { .. }) { json!(record.error) } else { json!(null) },
            "reason": match &result.outcome { Outcome::Failed { reason } => json!(reason), _ => json!(null) },
        });
        if result.lost_invitations > 0 {
            item["lost_invitations"] = json!(result.lost_invitations);
        }
        let sep = if self.json_started { ",\n  " } else { "[\n  " };
        self.json_started = true;
        write!(self.stdout, "{sep}{item}").ok();
    }

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

    /// Reports one finished person whose plan removed something (text only; `--json` lists
    /// the actions in [`Printer::person`]).
    pub fn removal(&mut self, result: &PersonResult) {
        if self.format == Format::Json || self.quiet {
            return;
        }
        if !matches!(result.outcome, Outcome::Done | Outcome::Skipped(_)) {
            return;
        }
        let mut done = Vec::new();
        let teams: Vec<String> = result
            .plan
            .actions
            .iter()
            .filter_map(|a| match a {
                crate::plan::Action::RemoveFromTeam { team, .. } => Some(team.to_string()),
                _ => None,
            })
            .collect();
        if !teams.is_empty() {
            done.push(format!("removed from team {}", teams.join(", ")));
        }
        if result.plan.has("delete_user") {
            done.push("user deleted".to_string());
        }
        let deletes = result
            .plan
            .actions
            .iter()
            .filter(|a| a.name() == "delete_invitation")
            .count();
        if deletes > 0 {
            let failed = result.delete_failed.len();
            let mut text = format!("{} invitation(s) deleted", deletes - failed);
            if failed > 0 && !result.plan.has("delete_user") {
                text.push_str(&format!(
                    ", {failed} could not be (kept as pending; `onboard refresh` tries again)"
                ));
            }
            done.push(text);
        }
        if done.is_empty() {
            return;
        }
        let tick = Self::paint(self.color_out, GREEN, "✓");
        let line = format!("{tick} {}: {}", result.plan.email, done.join(", "));
        self.out(&line);
    }

    /// Ends the output (the progress bar, the JSON array) and prints `lines` as the summary.
    pub fn finish_with(&mut self, lines: &[String], notable: bool) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.format == Format::Json {
            let end = if self.json_started { "\n]" } else { "[]" };
            writeln!(self.stdout, "{end}").ok();
        }
        self.flush();
        self.summary(lines, notable);
    }

    /// Ends the output and prints the summary on stderr.
    pub fn finish(&mut self, summary: &Summary, audit_path: &std::path::Path) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.format == Format::Json {
            let end = if self.json_started { "\n]" } else { "[]" };
            writeln!(self.stdout, "{end}").ok();
        }
        self.flush();
        let notable = summary.failed > 0 || summary.stopped.is_some() || summary.interrupted;
        let existing = summary.invited - summary.created;
        let mut line = format!(
            "{} invited ({} created, {} existing), {} already invited, {} already accepted, {} failed",
            summary.invited,
            summary.created,
            existing,
            summary.already_invited,
            summary.already_accepted,
            summary.failed
        );
        if summary.removed_from_teams > 0 {
            line.push_str(&format!(
                ", {} removed from teams (--prune)",
                summary.removed_from_teams
            ));
        }
        if summary.updated > 0 {
            line.push_str(&format!(", {} updated", summary.updated));
        }
        if summary.not_started > 0 {
            line.push_str(&format!(", {} not started", summary.not_started));
        }
        let mut lines = vec![format!("onboard: {line} in {:.1} s", summary.seconds)];
        lines.extend(
            summary
                .failure_reasons
                .iter()
                .map(|(reason, count)| format!("  failed: {count} × {reason}")),
        );
        if let Some(line) =
            crate::apply::superseded::lost_line(summary.lost_invitations, summary.lost_expire_by)
        {
            lines.push(format!("  {line}"));
        }
        lines.push(format!("Results saved to {}", audit_path.display()));
        self.summary(&lines, notable);
    }

    /// Lines that always show on stderr (failures), after whatever stdout holds.
    pub fn failures(&mut self, lines: &[String]) {
        for line in lines {
            self.err(line);
        }
    }

    /// The end-of-run summary on stderr: `-q` hides it unless it is `notable` (a failure,
    /// an interruption). The one place that decides what `-q` keeps.
    pub fn summary(&mut self, lines: &[String], notable: bool) {
        if self.quiet && !notable {
            return;
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        for line in lines {
            self.err(line);
        }
    }

    /// Flushes stdout.
    pub fn flush(&mut self) {
        self.stdout.flush().ok();
    }
}

/// What a plan changes on an existing user, one entry each: `max_budget 10 → 25`,
/// `team_role in TEAM → admin`, `team TEAM added`.
fn changes(plan: &PersonPlan) -> Vec<String> {
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
