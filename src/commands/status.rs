//! `onboard status`: everyone in the audit file and where they stand. It reads the file
//! only, so it needs no proxy URL or key, unless `--check` asks the proxy for the live state.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde_json::json;

use crate::apply::apply;
use crate::apply::person::{Executor, Outcome};
use crate::audit::Audit;
use crate::audit::record::{Record, State, UserOrigin};
use crate::commands::preflight;
use crate::config::Config;
use crate::config::StatusTask;
use crate::error::{Exit, Fatal};
use crate::known;
use crate::output::{Format, Printer};
use crate::plan::{self, ActionKind, InvitationCheck};
use crate::shutdown::Shutdown;
use crate::types::Email;

/// `onboard status`. `config` is given (and the proxy asked) only with `--check`.
pub async fn status(
    args: &StatusTask,
    results: &Path,
    format: Format,
    quiet: bool,
    config: Option<Config>,
    shutdown: Shutdown,
) -> Result<Exit, Fatal> {
    let mut printer = Printer::new(format, quiet);
    if !Audit::exists(results) {
        return Err(
            Fatal::new(format!("no audit file at {}", results.display()))
                .hint("run `onboard <CSV>` first, or pass --results with the file it wrote"),
        );
    }
    let mut gone = BTreeSet::new();
    let mut check_failed = 0;
    let mut interrupted = false;
    let records = match config {
        Some(config) => {
            for warning in &config.warnings {
                printer.warn(warning);
            }
            let mut audit = preflight::open_audit(results, &mut printer)?;
            let checked = check(&config, &mut audit, &mut printer, &shutdown).await?;
            let records = audit.records().to_vec();
            audit.commit().map_err(Fatal::caused)?;
            gone = checked.gone;
            check_failed = checked.failed;
            interrupted = checked.interrupted;
            records
        }
        None => {
            // Without --check nothing is written: not the file, not a journal fold-in.
            if Audit::is_locked(results) {
                printer.note(&format!(
                    "{} is in use by another onboard run: showing it as that run has saved it so far (read-only)",
                    results.display()
                ));
            }
            Audit::read_only(results).map_err(Fatal::caused)?
        }
    };
    let now = Utc::now();
    let wanted = args.only;
    let rows: Vec<(&Record, State)> = records
        .iter()
        .map(|r| {
            let state = match r.state(now) {
                State::Pending if gone.contains(&r.email) => State::Expired,
                state => state,
            };
            (r, state)
        })
        .filter(|(_, state)| wanted.is_none_or(|w| w == *state))
        .collect();
    if format == Format::Json {
        let items: Vec<_> = rows
            .iter()
            .map(|(r, state)| json_row(r, *state, args.show_links))
            .collect();
        printer.data(&serde_json::to_string_pretty(&items).expect("rows serialise"));
    } else if !rows.is_empty() {
        for line in table(&rows, now, args.show_links) {
            printer.data(&line);
        }
    }
    printer.flush();
    printer.note(&totals(&records, &rows, now, wanted.is_some()));
    Ok(Exit::of(check_failed, interrupted))
}

struct Checked {
    gone: BTreeSet<Email>,
    failed: usize,
    interrupted: bool,
}

/// `--check`: asks `/invitation/info` about every open invitation and records acceptances,
/// through the same plan and driver as every command.
async fn check(
    config: &Config,
    audit: &mut Audit,
    printer: &mut Printer,
    shutdown: &Shutdown,
) -> Result<Checked, Fatal> {
    let client = preflight::connect(config, shutdown, audit)?;
    preflight::unless_stopped(shutdown, preflight::reachable_admin(&client)).await?;
    let retry = config.retry_policy();
    let checks = known::open_invitations(&client, retry, shutdown, audit)
        .await
        .map_err(|stopped| preflight::reads_stopped(stopped, &client))?;
    let mut checked = Checked {
        gone: BTreeSet::new(),
        failed: 0,
        interrupted: false,
    };
    let mut plans = Vec::new();
    for (record, answer) in &checks {
        match answer {
            InvitationCheck::Gone => {
                checked.gone.insert(record.email.clone());
            }
            InvitationCheck::Failed(e) => {
                checked.failed += 1;
                printer.warn(&format!("{}: could not check: {e}", record.email));
            }
            _ => {}
        }
        let plan = plan::check(record, answer);
        if !plan.actions.is_empty() {
            plans.push(plan);
        }
    }
    let executor = Executor {
        // No invitation is made here, so the proxy's root path need not be asked for.
        links: crate::proxy::links::Links::new(client.base(), None),
        client,
        retry,
    };
    let mut accepted = 0;
    let applied = apply(
        &executor,
        plans,
        |plan, _| plan,
        audit,
        printer,
        shutdown,
        &mut accepted,
        |n, result, _| {
            if result.plan.has(ActionKind::RecordAccepted) && result.outcome == Outcome::Done {
                *n += 1;
            }
        },
    )
    .await
    .map_err(Fatal::caused)?;
    checked.interrupted = applied.interrupted;
    if accepted > 0 {
        printer.note(&format!("{accepted} newly accepted (recorded)"));
    }
    Ok(checked)
}

fn label(state: State) -> &'static str {
    match state {
        State::Pending => "pending",
        State::Expired => "expired",
        State::Accepted => "accepted",
        State::Failed => "failed",
        State::UserDeleted => "user deleted",
        State::Sso => "sso (no invitation)",
        State::NotInvited => "not invited yet",
        State::Offboarded => "offboarded",
        State::Removed => "removed from teams",
    }
}

/// The moment the link stops working: the proxy compares UTC dates, so the end of that day.
fn deadline(expires_at: DateTime<Utc>) -> DateTime<Utc> {
    (expires_at.date_naive() + Duration::days(1))
        .and_time(NaiveTime::MIN)
        .and_utc()
}

/// "in 3 days", "2 hours ago", "in 20 minutes".
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let delta = at - now;
    let span = delta.abs();
    let amount = if span >= Duration::days(2) {
        plural(span.num_days(), "day")
    } else if span >= Duration::hours(2) {
        plural(span.num_hours(), "hour")
    } else if span >= Duration::minutes(1) {
        plural(span.num_minutes(), "minute")
    } else {
        return "now".into();
    };
    if delta > Duration::zero() {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

fn origin(record: &Record) -> &'static str {
    match record.user {
        Some(UserOrigin::Created) => "created",
        Some(UserOrigin::Existing) => "existing",
        None => "-",
    }
}

fn table(rows: &[(&Record, State)], now: DateTime<Utc>, show_links: bool) -> Vec<String> {
    let mut cells: Vec<Vec<String>> = vec![
        [
            "EMAIL",
            "TEAMS",
            "USER",
            "INVITED (UTC)",
            "EXPIRES",
            "STATE",
            "LINK",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for (r, state) in rows {
        let expires = match (state, r.expires_at) {
            (State::Pending | State::Expired, Some(at)) => relative(deadline(at), now),
            _ => "-".into(),
        };
        cells.push(vec![
            r.email.to_string(),
            teams(r),
            origin(r).into(),
            r.invited_at
                .map_or("-".into(), |at| at.format("%Y-%m-%d %H:%M").to_string()),
            expires,
            label(*state).into(),
            r.onboarding_link.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    if !show_links {
        for row in &mut cells {
            row.truncate(6);
        }
    }
    crate::output::table(&cells)
}

/// Every team the person is in (as the record knows), then the teams they were removed from.
fn teams(r: &Record) -> String {
    let mut names = r.known_teams();
    names.extend(r.removed_from_teams.iter().map(|t| format!("-{t}")));
    if names.is_empty() {
        "-".into()
    } else {
        names.join(",")
    }
}

fn json_row(r: &Record, state: State, show_links: bool) -> serde_json::Value {
    let mut row = json!({
        "email": r.email,
        "team_id": r.team_id,
        "teams": r.known_teams(),
        "user_id": r.user_id,
        "user": r.user,
        "invited_at": r.invited_at,
        "expires_at": r.expires_at,
        "state": state,
        "accepted_at": r.accepted_at,
        "user_deleted_at": r.user_deleted_at,
        "error": r.error,
    });
    // Written only when set, like the audit file does.
    if let Some(at) = r.offboarded_at {
        row["offboarded_at"] = json!(at);
    }
    if !r.removed_from_teams.is_empty() {
        row["removed_from_teams"] = json!(r.removed_from_teams);
    }
    if show_links {
        row["invitation_id"] = json!(r.invitation_id);
        row["onboarding_link"] = json!(r.onboarding_link);
    }
    row
}

fn totals(
    all: &[Record],
    shown: &[(&Record, State)],
    now: DateTime<Utc>,
    filtered: bool,
) -> String {
    let mut counts = [0usize; 9];
    for r in all {
        counts[r.state(now) as usize] += 1;
    }
    let mut text = format!(
        "{}: {} pending, {} expired, {} accepted, {} failed, {} user deleted",
        crate::output::people(all.len()),
        counts[State::Pending as usize],
        counts[State::Expired as usize],
        counts[State::Accepted as usize],
        counts[State::Failed as usize],
        counts[State::UserDeleted as usize],
    );
    if counts[State::Offboarded as usize] > 0 {
        text.push_str(&format!(
            ", {} offboarded",
            counts[State::Offboarded as usize]
        ));
    }
    if counts[State::Sso as usize] > 0 {
        text.push_str(&format!(", {} sso", counts[State::Sso as usize]));
    }
    if counts[State::NotInvited as usize] > 0 {
        text.push_str(&format!(
            ", {} not invited yet (a re-run invites them)",
            counts[State::NotInvited as usize]
        ));
    }
    if counts[State::Removed as usize] > 0 {
        text.push_str(&format!(
            ", {} removed from teams",
            counts[State::Removed as usize]
        ));
    }
    if filtered {
        text.push_str(&format!(" ({} shown)", shown.len()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn relative_times() {
        let now = Utc.with_ymd_and_hms(2026, 11, 10, 12, 0, 0).unwrap();
        assert_eq!(relative(now + Duration::days(3), now), "in 3 days");
        assert_eq!(relative(now - Duration::days(2), now), "2 days ago");
        assert_eq!(relative(now + Duration::hours(30), now), "in 30 hours");
        assert_eq!(relative(now - Duration::minutes(1), now), "1 minute ago");
        assert_eq!(relative(now + Duration::seconds(5), now), "now");
    }

    #[test]
    fn deadline_is_the_end_of_the_utc_day() {
        let expires = Utc.with_ymd_and_hms(2026, 11, 10, 8, 30, 0).unwrap();
        assert_eq!(
            deadline(expires),
            Utc.with_ymd_and_hms(2026, 11, 11, 0, 0, 0).unwrap()
        );
    }
}
