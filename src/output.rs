//! The one printer: data on stdout, everything else on stderr; quiet, JSON and link-only
//! modes; colour only on a terminal (never with `NO_COLOR`); a progress bar on a terminal.

use std::io::{IsTerminal, Write};

use anstyle::{AnsiColor, Style};
use indicatif::{ProgressBar, ProgressStyle};

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::flow::{Outcome, PersonResult};
use crate::record::UserOrigin;
use crate::run::Summary;

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

/// Formats a timestamp the way people read it.
pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
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
        let email = &result.person.email;
        let record = result.record.as_ref();
        let link = record
            .and_then(|r| r.onboarding_link.as_deref())
            .unwrap_or_default();
        match &result.outcome {
            Outcome::Invited { origin } => {
                let pending =
                    record.map_or(0, |r| r.history.iter().filter(|p| p.delete_pending).count());
                if pending > 0 {
                    self.warn(&format!(
                        "{email}: {pending} replaced invitation(s) could not be deleted; kept as pending, `onboard refresh` tries again"
                    ));
                }
                let expires = record
                    .and_then(|r| r.expires_at)
                    .map(when)
                    .unwrap_or_default();
                let what = match origin {
                    UserOrigin::Created => "user created",
                    UserOrigin::Existing => "existing user",
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
            Outcome::AlreadyInvited { expires_at, link } => {
                let expires = expires_at.map(when).unwrap_or_else(|| "unknown".into());
                if self.link_only
                    && let Some(link) = link
                {
                    self.out(link);
                    self.flush();
                }
                let line = format!(
                    "- {email}: already invited, expires {expires} (nothing sent; --reinvite for a new link)"
                );
                self.skip_line(&line);
            }
            Outcome::AlreadyAccepted => {
                self.skip_line(&format!("- {email}: already accepted (nothing sent)"))
            }
            Outcome::Failed { .. } => {
                let error = record.and_then(|r| r.error.as_deref()).unwrap_or("failed");
                let cross = Self::paint(self.color_err, RED, "✗");
                self.err(&format!(
                    "{cross} {email} (line {}): {error}",
                    result.person.line
                ));
            }
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
        let record = result.record.as_ref();
        let (status, detail) = match &result.outcome {
            Outcome::Invited { origin } => ("invited", json!(origin)),
            Outcome::AlreadyInvited { .. } => ("already_invited", json!(null)),
            Outcome::AlreadyAccepted => ("already_accepted", json!(null)),
            Outcome::Failed { reason } => ("failed", json!(reason)),
        };
        let mut item = json!({
            "email": result.person.email,
            "line": result.person.line,
            "result": status,
            "user": detail,
            "user_id": record.and_then(|r| r.user_id.as_ref()),
            "invitation_id": record.and_then(|r| r.invitation_id.as_ref()),
            "expires_at": record.and_then(|r| r.expires_at),
            "onboarding_link": record.and_then(|r| r.onboarding_link.as_ref()),
            "error": record.and_then(|r| r.error.as_ref()),
        });
        if result.lost_invitations > 0 {
            item["lost_invitations"] = json!(result.lost_invitations);
        }
        let sep = if self.json_started { ",\n  " } else { "[\n  " };
        self.json_started = true;
        write!(self.stdout, "{sep}{item}").ok();
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
        let failed = summary.failed > 0 || summary.stopped.is_some();
        if self.quiet && !failed && !summary.interrupted {
            return;
        }
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
        if summary.not_started > 0 {
            line.push_str(&format!(", {} not started", summary.not_started));
        }
        eprintln!("onboard: {line} in {:.1} s", summary.seconds);
        for (reason, count) in &summary.failure_reasons {
            eprintln!("  failed: {count} × {reason}");
        }
        let lost = crate::superseded::lost_line(summary.lost_invitations, summary.lost_expire_by);
        if let Some(line) = lost {
            eprintln!("  {line}");
        }
        eprintln!("Results saved to {}", audit_path.display());
    }

    /// Flushes stdout.
    pub fn flush(&mut self) {
        self.stdout.flush().ok();
    }
}
