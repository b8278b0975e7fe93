//! Reporting finished people (text and JSON) and the end of a run.

use std::io::Write;

use serde_json::json;

use super::plan::changes;
use super::{DIM, Format, GREEN, Printer, RED, when};
use crate::apply::Summary;
use crate::apply::person::{Outcome, PersonResult};
use crate::plan::{Action, ActionKind, PersonPlan, Skip};

impl Printer {
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
        if result.plan.has(ActionKind::RecordSsoLink)
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
            Outcome::Done if result.plan.has(ActionKind::Invite) => {
                let pending = result.cleanup.pending as usize + result.delete_failed.len();
                if pending > 0 {
                    self.warn(&format!(
                        "{email}: {pending} replaced invitation(s) could not be deleted; kept as pending, `onboard refresh` tries again"
                    ));
                }
                let expires = record.expires_at.map(when).unwrap_or_default();
                let what = if result.plan.has(ActionKind::AdoptUser)
                    || !result.created && result.plan.has(ActionKind::CreateUser)
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
                } else {
                    // A new link: shown even with `-q`.
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
                None if result.plan.has(ActionKind::Invite) => (
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
        // Links are shown where people are onboarded; a removal is no place for them.
        if result.plan.actions.iter().any(Action::removes) {
            item["invitation_id"] = json!(null);
            item["onboarding_link"] = json!(null);
        }
        if result.lost_invitations > 0 {
            item["lost_invitations"] = json!(result.lost_invitations);
        }
        self.json_object(&item, status);
    }

    /// Reports, in `--json`, a person whose plan was not carried out (`offboard`'s skips and
    /// refusals): their skip as the `result`, or `failed` with why. Text says it elsewhere.
    pub fn skipped(&mut self, plan: &PersonPlan) {
        let Some(skip) = plan.skip.as_ref().filter(|_| self.format == Format::Json) else {
            return;
        };
        let failed = skip.is_failure();
        let item = json!({
            "email": plan.email,
            "line": plan.line,
            "result": if failed { "failed" } else { skip.name() },
            "user": null,
            "actions": plan.actions.iter().map(Action::name).collect::<Vec<_>>(),
            "user_id": null,
            "invitation_id": null,
            "expires_at": null,
            "onboarding_link": null,
            "error": if failed { json!(plan.detail.as_deref().unwrap_or(skip.reason())) } else { json!(null) },
            "reason": if failed { json!(skip.reason()) } else { json!(null) },
        });
        self.json_object(&item, if failed { "failed" } else { skip.name() });
    }

    /// One object of the `--json` array (`-q` keeps only new links and failures).
    fn json_object(&mut self, item: &serde_json::Value, status: &str) {
        if self.quiet && !matches!(status, "invited" | "failed") {
            return;
        }
        let sep = if self.json_started { ",\n  " } else { "[\n  " };
        self.json_started = true;
        write!(self.stdout, "{sep}{item}").ok();
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
        if result.plan.has(ActionKind::DeleteUser) {
            done.push("user deleted".to_string());
        }
        let deletes: usize = result
            .plan
            .actions
            .iter()
            .map(crate::plan::Action::invitations_deleted)
            .sum();
        if deletes > 0 {
            let failed = result.delete_failed.len();
            let mut text = format!("{} invitation(s) deleted", deletes - failed);
            if failed > 0 && !result.plan.has(ActionKind::DeleteUser) {
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
        if self.format == Format::Json && (self.json_started || !self.quiet) {
            let end = if self.json_started { "\n]" } else { "[]" };
            writeln!(self.stdout, "{end}").ok();
        }
        self.flush();
        self.summary(lines, notable);
    }

    /// Ends the output and prints the summary on stderr.
    pub fn finish(&mut self, summary: &Summary, audit_path: &std::path::Path) {
        let notable = summary.failed > 0 || summary.stopped.is_some() || summary.interrupted;
        let mut made = Vec::new();
        if summary.invited > 0 || summary.sso_linked == 0 {
            made.push(format!(
                "{} invited ({} created, {} existing)",
                summary.invited,
                summary.created,
                summary.invited - summary.created
            ));
        }
        if summary.sso_linked > 0 {
            made.push(format!(
                "{} without invitation (--no-invite: {} created, {} existing)",
                summary.sso_linked,
                summary.sso_created,
                summary.sso_linked - summary.sso_created
            ));
        }
        let mut line = format!(
            "{}, {} already invited, {} already accepted, {} failed",
            made.join(", "),
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
        if summary.made_not_invited > 0 {
            line.push_str(&format!(
                ", {} user(s) made and not invited (a re-run invites them)",
                summary.made_not_invited
            ));
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
        self.finish_with(&lines, notable);
    }
}
