//! Mailing after a run: who is emailed, a few at a time, each result journaled; the SMTP check
//! before the first request; the dry-run preview; the hooks the commands call.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::Utc;

use super::{MAIL_CONCURRENCY, MailConfig, MailError, Mailer, is_tls};
use crate::apply::Summary;
use crate::apply::drive::{Lanes, drive};
use crate::audit::record::Record;
use crate::audit::{Audit, AuditError};
use crate::error::Fatal;
use crate::output::Printer;
use crate::plan::{ActionKind, PersonPlan};
use crate::proxy::links::Links;
use crate::proxy::pacer::Limiter;
use crate::shutdown::Shutdown;
use crate::types::{Email, InvitationId};

impl Mailer {
    /// Emails each of `emails` whose live invitation is not emailed yet, a few at a time,
    /// recording each result in the audit journal. Stops starting new emails on Ctrl-C.
    pub async fn deliver(
        &self,
        emails: &[Email],
        audit: &mut Audit,
        printer: &mut Printer,
        shutdown: &Shutdown,
    ) -> Result<MailSummary, AuditError> {
        let now = Utc::now();
        let mut seen = HashSet::new();
        // Who is to be emailed, by position: each record is read when its email starts, so a
        // large run does not hold every record at once.
        let mut queue: Vec<usize> = Vec::new();
        for (i, email) in emails.iter().enumerate() {
            if seen.insert(email) && audit.get(email)?.is_some_and(|r| r.needs_email(now)) {
                queue.push(i);
            }
        }
        drop(seen);
        let limiter = Arc::new(Limiter::fixed(MAIL_CONCURRENCY));
        let mut state = (audit, MailSummary::default());
        let ending = drive(
            Lanes {
                limiter: &limiter,
                shutdown,
                what: "emails",
                // A sent email is journaled before the next one starts: a crash never sends it twice.
                finish_first: true,
                unsampled: false,
            },
            &mut state,
            queue,
            printer,
            |(audit, _), i: usize| {
                let record = audit.get(&emails[i]);
                let mailer = self.clone();
                let stop = shutdown.clone();
                async move {
                    let record = match record {
                        Ok(record) => record.expect("a queued email has a record"),
                        Err(e) => return Ok(Err(e)),
                    };
                    let result = mailer.send_invitation(&record, &stop).await;
                    Ok(Ok((record, i as u64, result)))
                }
            },
            |(audit, summary), results, printer| {
                let at = Utc::now();
                let mut batch = Vec::with_capacity(results.len());
                let mut lines = Vec::new();
                for done in results {
                    let (mut record, order, result) = done?;
                    match result {
                        Ok(()) => {
                            record.emailed_at = Some(at);
                            record.email_error = None;
                            summary.sent += 1;
                            lines.push((false, format!("✉ {}: link emailed", record.email)));
                        }
                        Err(e) => {
                            let message = e.to_string();
                            summary.failed += 1;
                            *summary.reasons.entry(e.reason()).or_default() += 1;
                            lines.push((
                                true,
                                format!(
                                    "✗ {}: email not sent ({message}); the invitation stands",
                                    record.email
                                ),
                            ));
                            record.email_error = Some(message);
                        }
                    }
                    record.updated_at = at;
                    batch.push((record, order));
                }
                audit.append(batch)?;
                for (failed, line) in lines {
                    if failed {
                        printer.warn(&line);
                    } else {
                        printer.note(&line);
                    }
                }
                Ok(())
            },
        )
        .await?;
        let mut summary = state.1;
        summary.not_sent += ending.not_started;
        Ok(summary)
    }
}

/// What the mailing did.
#[derive(Debug, Default)]
pub struct MailSummary {
    /// Emails sent.
    pub sent: usize,
    /// Emails that failed (recorded as `email_error`).
    pub failed: usize,
    /// People left unmailed because the run was interrupted.
    pub not_sent: usize,
    /// Failures grouped by reason.
    pub reasons: BTreeMap<String, usize>,
}

impl MailSummary {
    /// Prints the totals on stderr (only failures with `-q`).
    pub fn print(&self, printer: &mut Printer) {
        if self.sent + self.failed + self.not_sent == 0 {
            return;
        }
        let mut line = format!("emailed {}, {} email(s) failed", self.sent, self.failed);
        if self.not_sent > 0 {
            line.push_str(&format!(", {} not emailed (interrupted)", self.not_sent));
        }
        if self.failed == 0 {
            printer.note(&line);
            return;
        }
        let reasons: Vec<String> = self
            .reasons
            .iter()
            .map(|(reason, count)| format!("  email failed: {count} × {reason}"))
            .collect();
        printer.warn(&format!(
            "{line} (recorded as email_error; a re-run with --send-email tries them again)\n{}",
            reasons.join("\n")
        ));
    }
}

/// Before the first request: builds the mailer and proves the SMTP settings (connect, TLS,
/// AUTH). `None` without `--send-email`.
pub async fn setup(
    mail: Option<&MailConfig>,
    timeout: std::time::Duration,
) -> Result<Option<Mailer>, Fatal> {
    let Some(mail) = mail else {
        return Ok(None);
    };
    let server = format!("{}:{}", mail.host, mail.port);
    let mailer = Mailer::new(mail, timeout)
        .map_err(|e| Fatal::new(format!("cannot set up SMTP for {server}: {e}")))?;
    mailer.check().await.map_err(|e| {
        let hint = match &e {
            MailError::Smtp(s) if s.status().is_some_and(|c| c.to_string().starts_with("53")) => {
                "check --smtp-username and the password (ONBOARD_SMTP_PASSWORD or --smtp-password-file)"
            }
            MailError::Smtp(s) if is_tls(s) => {
                "check --smtp-tls (implicit for port 465, starttls for 587) and, for a private CA, --smtp-ca-cert"
            }
            _ => "check --smtp-host, --smtp-port and --smtp-tls; or run without --send-email and email the links later with a re-run",
        };
        Fatal::new(format!(
            "cannot use the SMTP server at {server}: {e}; nothing was sent"
        ))
        .hint(hint)
    })?;
    Ok(Some(mailer))
}

/// `--dry-run --send-email`: shows the email the first person would get, on stderr.
pub fn preview(
    mailer: Option<&Mailer>,
    plans: &[PersonPlan],
    audit: &Audit,
    links: &Links,
    printer: &mut Printer,
) {
    let first = plans.iter().find(|p| p.has(ActionKind::EmailLink));
    let (Some(mailer), Some(person)) = (mailer, first.and_then(|p| p.person.as_ref())) else {
        return;
    };
    let now = Utc::now();
    let known = audit
        .prior(&person.email)
        .filter(|r| r.has_live_invitation(now) && r.onboarding_link.is_some());
    let (record, example) = match known {
        Some(record) => (record.clone(), false),
        None => {
            let mut record = Record::new(person.email.clone(), now);
            record.team_id = Some(person.team.clone());
            record.user_alias = person.alias.clone();
            record.onboarding_link = Some(links.link(&InvitationId::new("INVITATION-ID")));
            record.expires_at = Some(now + chrono::Duration::days(7));
            (record, true)
        }
    };
    let text = match mailer.render(&record) {
        Ok(mail) => {
            let body: Vec<String> = mail.body.lines().map(|l| format!("  {l}")).collect();
            format!(
                "dry run: the email to {} would be{}:\n  From: {}\n  To: {}\n  Subject: {}\n\n{}",
                person.email,
                if example {
                    " (the link and expiry are examples until the invitation is made)"
                } else {
                    ""
                },
                mailer.from,
                person.email,
                mail.subject,
                body.join("\n")
            )
        }
        Err(e) => format!("dry run: cannot render the email to {}: {e}", person.email),
    };
    printer.warn(&text);
}

/// After a run whose results are durable: emails `recipients` unless the run was stopped or
/// interrupted (then a re-run with `--send-email` emails them).
pub async fn after_run(
    mailer: Option<&Mailer>,
    run: &Result<Summary, AuditError>,
    recipients: &[Email],
    audit: &mut Audit,
    printer: &mut Printer,
    shutdown: &Shutdown,
) -> Result<MailSummary, AuditError> {
    let (Some(mailer), Ok(summary)) = (mailer, run) else {
        return Ok(MailSummary::default());
    };
    if summary.stopped.is_some() {
        return Ok(MailSummary::default());
    }
    if summary.interrupted || shutdown.is_requested() {
        printer.warn("no email sent (interrupted): a re-run with --send-email emails everyone invited and not yet emailed");
        return Ok(MailSummary::default());
    }
    mailer.deliver(recipients, audit, printer, shutdown).await
}

/// After `onboard refresh`: emails the renewed records, and retries the live ones whose last
/// email failed. `renewed` is `None` when nothing should be sent (a dry run, a stopped or an
/// interrupted refresh). People never emailed before are left alone: their link may have
/// gone out by hand, and a bulk re-run with `--send-email` emails them.
pub async fn after_refresh(
    mailer: Option<&Mailer>,
    renewed: Option<&[Record]>,
    audit: &mut Audit,
    printer: &mut Printer,
    shutdown: &Shutdown,
) -> Result<MailSummary, AuditError> {
    let (Some(mailer), Some(renewed)) = (mailer, renewed) else {
        return Ok(MailSummary::default());
    };
    let recipients: Vec<Email> = renewed
        .iter()
        .map(|r| r.email.clone())
        .chain(
            audit
                .records()
                .iter()
                .filter(|r| r.email_error.is_some())
                .map(|r| r.email.clone()),
        )
        .collect();
    mailer.deliver(&recipients, audit, printer, shutdown).await
}
