//! What a refresh did, grouped, and how it is shown: renewed links on stdout (or as JSON),
//! the rest grouped, failures and the summary on stderr.

use std::collections::BTreeMap;

use serde_json::json;

use chrono::{DateTime, Utc};

use super::{Change, Side};
use crate::audit::record::Record;
use crate::config::Config;
use crate::output::{Format, Printer, when};
use crate::proxy::ProxyError;

/// What a refresh did, grouped.
#[derive(Default)]
pub(super) struct Report {
    pub(super) renewed: Vec<Record>,
    pub(super) would_renew: Vec<String>,
    pub(super) accepted: Vec<String>,
    pub(super) still_valid: usize,
    pub(super) user_deleted: Vec<String>,
    pub(super) failed: Vec<(String, String)>,
    pub(super) failure_reasons: BTreeMap<String, usize>,
    pub(super) old_kept: Vec<(String, String)>,
    /// Invitations replaced by this run's renewals and deleted now.
    pub(super) replaced_deleted: u32,
    /// Pending deletes tried again: deleted, expired meanwhile, and (email, count) still pending.
    pub(super) superseded_deleted: u32,
    pub(super) superseded_expired: u32,
    pub(super) still_pending: Vec<(String, u32)>,
    /// `/invitation/new` answers lost in this run, per email, and when they expire at the latest.
    pub(super) lost: BTreeMap<String, u32>,
    pub(super) lost_expire_by: Option<DateTime<Utc>>,
    pub(super) not_started: usize,
    pub(super) interrupted: bool,
    pub(super) stopped: Option<ProxyError>,
}

impl Report {
    pub(super) fn add(&mut self, record: Record, change: Change, side: Side) {
        let email = record.email.to_string();
        self.superseded_deleted += side.cleanup.deleted;
        self.superseded_expired += side.cleanup.expired;
        if side.cleanup.pending > 0 {
            self.still_pending
                .push((email.clone(), side.cleanup.pending));
        }
        if side.lost > 0 {
            self.lost.insert(email.clone(), side.lost);
            self.lost_expire_by = self.lost_expire_by.max(record.lost_invitations_expire_by);
        }
        match change {
            Change::Untouched => {}
            Change::Renewed { deleted, old_kept } => {
                self.replaced_deleted += deleted;
                if let Some(why) = old_kept {
                    self.old_kept.push((email, why));
                }
                self.renewed.push(record);
            }
            Change::WouldRenew => self.would_renew.push(email),
            Change::Accepted => self.accepted.push(email),
            Change::StillValid => self.still_valid += 1,
            Change::UserDeleted => self.user_deleted.push(email),
            Change::Failed { reason } => {
                *self.failure_reasons.entry(reason).or_default() += 1;
                let error = record.error.unwrap_or_default();
                self.failed.push((email, error));
            }
        }
    }

    pub(super) fn sort(&mut self) {
        self.renewed.sort_by(|a, b| a.email.cmp(&b.email));
        self.would_renew.sort();
        self.accepted.sort();
        self.user_deleted.sort();
        self.failed.sort();
        self.old_kept.sort();
        self.still_pending.sort();
    }

    /// Invitations whose answer was lost in this run.
    pub(super) fn lost_total(&self) -> u32 {
        self.lost.values().sum()
    }

    /// Worth a summary with `-q`: something failed or stopped the run.
    pub(super) fn notable(&self) -> bool {
        !self.failed.is_empty() || self.stopped.is_some() || self.interrupted
    }
}

pub(super) fn print(report: &Report, printer: &mut Printer, format: Format, dry_run: bool) {
    for (email, why) in &report.old_kept {
        printer.warn(&format!(
            "{email}: renewed, but the old invitation could not be deleted ({why}); it is kept as pending and the next `onboard refresh` deletes it"
        ));
    }
    for (email, count) in &report.still_pending {
        printer.warn(&format!(
            "{email}: {count} superseded invitation(s) still could not be deleted; the next `onboard refresh` tries again"
        ));
    }
    if format == Format::Json {
        if !printer.is_quiet() || !report.renewed.is_empty() {
            let items: Vec<_> = report
                .renewed
                .iter()
                .map(|r| {
                    let mut item = json!({
                        "email": r.email,
                        "onboarding_link": r.onboarding_link,
                        "expires_at": r.expires_at,
                        "invitation_id": r.invitation_id,
                    });
                    if let Some(lost) = report.lost.get(r.email.as_str()) {
                        item["lost_invitations"] = json!(lost);
                    }
                    item
                })
                .collect();
            printer.data(&serde_json::Value::Array(items).to_string());
        }
    } else {
        // New links: shown even with `-q`; the rest only without it.
        if !report.renewed.is_empty() {
            printer.data(&format!(
                "Renewed ({}), send these new links:",
                report.renewed.len()
            ));
            for r in &report.renewed {
                let expires = r.expires_at.map(when).unwrap_or_default();
                let link = r.onboarding_link.as_deref().unwrap_or_default();
                printer.data(&format!("  {} (expires {expires})\n    {link}", r.email));
            }
        }
        if !printer.is_quiet() {
            groups(report, printer);
        }
    }
    printer.flush();
    if !report.failed.is_empty() {
        let mut lines = vec![format!("Failed ({}):", report.failed.len())];
        lines.extend(
            report
                .failed
                .iter()
                .map(|(email, error)| format!("  ✗ {email}: {error}")),
        );
        printer.failures(&lines);
    }
    if dry_run {
        printer
            .note("dry run: no invitation was made or deleted, and the audit file was not changed");
    }
}

/// The people a refresh did not renew, grouped (not with `-q`).
fn groups(report: &Report, printer: &mut Printer) {
    let groups = [
        ("Would renew (dry run)", &report.would_renew),
        ("Newly accepted", &report.accepted),
        (
            "User deleted on the proxy, no new invitation",
            &report.user_deleted,
        ),
    ];
    for (title, emails) in groups {
        if !emails.is_empty() {
            printer.data(&format!("{title} ({}):", emails.len()));
            for email in emails {
                printer.data(&format!("  {email}"));
            }
        }
    }
    printer.data(&format!("Still valid: {}", report.still_valid));
}

pub(super) fn summary(
    report: &Report,
    seconds: f64,
    config: &Config,
    dry_run: bool,
    printer: &mut Printer,
) {
    let mut line = format!(
        "{} renewed, {} newly accepted, {} still valid, {} user deleted, {} failed",
        if dry_run {
            report.would_renew.len()
        } else {
            report.renewed.len()
        },
        report.accepted.len(),
        report.still_valid,
        report.user_deleted.len(),
        report.failed.len()
    );
    if report.not_started > 0 {
        line.push_str(&format!(", {} not started", report.not_started));
    }
    let pending =
        report.old_kept.len() as u32 + report.still_pending.iter().map(|p| p.1).sum::<u32>();
    let deleted = report.replaced_deleted + report.superseded_deleted;
    if deleted + pending > 0 {
        line.push_str(&format!(
            "; replaced invitations: {deleted} deleted, {pending} pending"
        ));
    }
    let what = if dry_run {
        "refresh (dry run)"
    } else {
        "refresh"
    };
    let mut lines = vec![format!("onboard: {what}: {line} in {seconds:.1} s")];
    lines.extend(
        report
            .failure_reasons
            .iter()
            .map(|(reason, count)| format!("  failed: {count} × {reason}")),
    );
    if report.superseded_deleted + report.superseded_expired > 0 {
        lines.push(format!(
            "  superseded invitations whose delete was pending: {} deleted now, {} expired meanwhile (no delete needed)",
            report.superseded_deleted, report.superseded_expired
        ));
    }
    if pending > 0 {
        lines.push(format!(
            "  {pending} superseded invitation(s) could not be deleted: kept as pending, the next refresh tries again"
        ));
    }
    if let Some(line) =
        crate::apply::superseded::lost_line(report.lost_total(), report.lost_expire_by)
    {
        lines.push(format!("  {line}"));
    }
    if !dry_run {
        lines.push(format!("Results saved to {}", config.results.display()));
    }
    printer.summary(&lines, report.notable());
}
