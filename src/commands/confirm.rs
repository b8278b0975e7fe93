//! Before a run that removes people: who it is about (the targets named on the command
//! line) and the go-ahead (the confirmation prompt, also asked by `onboard --prune`).

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal};
use std::path::Path;

use crate::error::Fatal;
use crate::input;
use crate::output::Printer;
use crate::plan::PersonPlan;
use crate::shutdown::Shutdown;
use crate::types::{Email, escape};

/// The people named on the command line: emails, and CSV files of emails (read for their
/// emails only: other columns are not looked at), each email once, in order.
pub(super) fn targets(targets: &[String], printer: &mut Printer) -> Result<Vec<Email>, Fatal> {
    let mut emails = Vec::new();
    let mut seen = BTreeSet::new();
    for target in targets {
        let path = Path::new(target);
        let found: Vec<Email> = if target == "-" || path.is_file() {
            let list = input::read_emails(path).map_err(Fatal::caused)?;
            for warning in &list.warnings {
                printer.warn(warning);
            }
            if !list.problems.is_empty() {
                let listed: Vec<String> = list.problems.iter().map(ToString::to_string).collect();
                return Err(Fatal::new(format!(
                    "{}: {} invalid row(s); nothing was sent:\n  {}",
                    path.display(),
                    list.problems.len(),
                    listed.join("\n  ")
                )));
            }
            list.emails
        } else {
            let email = Email::parse(target).map_err(|m| {
                Fatal::new(format!(
                    "{}: neither an email ({m}) nor a CSV file",
                    escape(target)
                ))
            })?;
            vec![email]
        };
        for email in found {
            if seen.insert(email.clone()) {
                emails.push(email);
            }
        }
    }
    Ok(emails)
}

/// Shows the plans that remove something and asks "Proceed? [y/N]" on a terminal (stdin and
/// stderr); without one, `--yes` is needed. False when the answer was not yes. A stop signal
/// while it waits for the answer ends the command (exit 130), nothing changed.
pub async fn confirm(
    printer: &mut Printer,
    plans: &[PersonPlan],
    total: usize,
    yes: bool,
    shutdown: &Shutdown,
) -> Result<bool, Fatal> {
    let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !yes || !printer.is_quiet() {
        printer.plans_to_confirm(plans, total);
    }
    if yes {
        return Ok(true);
    }
    if !terminal {
        return Err(Fatal::new(
            "this run removes people (the plan is above) and there is no terminal to confirm it on: nothing was changed",
        )
        .hint("pass --yes to go ahead without asking, or --dry-run to see the plan only"));
    }
    let unreadable = |e: std::io::Error| Fatal::new(format!("cannot read the answer: {e}"));
    printer.prompt("Proceed? [y/N]").map_err(unreadable)?;
    let answer = shutdown
        .unless_requested(read_line())
        .await
        .ok_or_else(|| Fatal::stopped("interrupted at the confirmation: nothing was changed"))?
        .map_err(unreadable)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// Reads a line of stdin on a thread of its own, so that a stop signal need not wait for
/// the Enter key (the thread ends with the process).
async fn read_line() -> std::io::Result<String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let read = std::io::stdin().lock().read_line(&mut line).map(|_| line);
        let _ = tx.send(read);
    });
    rx.await
        .unwrap_or_else(|_| Err(std::io::Error::other("the terminal reader stopped")))
}
