//! The steps of an onboarding run after pre-flight: the reads its plans rest on, whether the
//! proxy creates users in bulk, and the run itself.

use std::collections::BTreeMap;

use chrono::Utc;

use crate::apply::person::Executor;
use crate::apply::{self, Summary};
use crate::audit::{Audit, AuditError};
use crate::commands::preflight;
use crate::error::Fatal;
use crate::input::Person;
use crate::known;
use crate::output::Printer;
use crate::plan::{self, ActionKind, OnboardOptions, Onboarding, Pending, Rosters, readiness};
use crate::proxy::ProxyClient;
use crate::proxy::pacer::RetryPolicy;
use crate::shutdown::Shutdown;
use crate::types::{Email, TeamId};

/// What every person is planned from besides their audit record: what the proxy says of the
/// emails [`plan::read_first`] names, and the rosters of the run's teams (read in pre-flight:
/// no request of their own).
#[allow(clippy::too_many_arguments)]
pub(super) async fn look_up(
    client: &ProxyClient,
    retry: RetryPolicy,
    shutdown: &Shutdown,
    people: &[Person],
    audit: &Audit,
    checked: &mut preflight::Checked,
    options: OnboardOptions,
    dry_run: bool,
) -> Result<Onboarding, Fatal> {
    let now = Utc::now();
    let unknown: Vec<Email> = people
        .iter()
        .filter(|p| {
            let record = audit.prior(&p.email);
            let idn = p.email.has_idn_domain();
            plan::read_first(record, p.needs_user_row(), idn, options, now, dry_run)
        })
        .map(|p| p.email.clone())
        .collect();
    let stopped = |stopped| preflight::reads_stopped(stopped, client);
    let lookups = known::lookups(client, retry, shutdown, unknown)
        .await
        .map_err(stopped)?;
    // Moved out of pre-flight's teams: the run holds each roster once.
    let mut rosters = Rosters::default();
    for (id, team) in &mut checked.found {
        rosters.insert(id, &std::mem::take(&mut team.members));
    }
    Ok(Onboarding {
        lookups,
        rosters,
        options,
        now,
        grants: BTreeMap::new(),
    })
}

/// Tells what will stop the people of each team from working (a warning a team, with how
/// many people it touches), and hands back what `--grant-key-permissions` adds to which team.
pub(super) fn report_teams(
    checked: &preflight::Checked,
    people: &[Person],
    grant: bool,
    printer: &mut Printer,
) -> BTreeMap<TeamId, Vec<String>> {
    let mut grants = BTreeMap::new();
    for (id, team) in &checked.found {
        let rows: Vec<&Person> = people
            .iter()
            .filter(|p| p.teams().any(|t| t == id))
            .collect();
        for finding in readiness::team_findings(team, rows.len(), &rows) {
            // A run warns of what stops people working; what is only worth knowing (a team
            // naming no models) is `onboard doctor`'s.
            let granted = grant && finding.problem == readiness::Problem::NoKeyPermission;
            if finding.needs_admin && !granted {
                printer.warn(&finding.message);
            }
        }
        let missing = readiness::missing_key_permissions(&team.state);
        if grant && !missing.is_empty() {
            grants.insert(id.clone(), missing);
        }
    }
    grants
}

/// Asks the proxy, once and without a write, whether it creates users in bulk.
pub(super) async fn bulk_available(client: &ProxyClient) -> bool {
    match client.bulk_support().await {
        Ok(support) => {
            tracing::info!(
                "proxy version {}: {}",
                support.version.as_deref().unwrap_or("unknown"),
                if support.available {
                    "creating users in bulk"
                } else {
                    "no bulk endpoint, creating users one at a time"
                }
            );
            support.available
        }
        Err(e) => {
            tracing::info!("/openapi.json: {e}; creating users one at a time");
            false
        }
    }
}

/// Carries out an onboarding run, planning each person as the driver takes them, and sums
/// it up; with `bulk`, the users of plans that start with `create_user` are created in bulk.
/// Also hands back who is to get their link by email, in input order.
pub(super) async fn run(
    executor: &Executor,
    items: Vec<Pending>,
    mut onboarding: Onboarding,
    bulk: bool,
    audit: &mut Audit,
    printer: &mut Printer,
    shutdown: &Shutdown,
) -> (Result<Summary, AuditError>, Vec<Email>) {
    let mut tally = (Summary::default(), Vec::new());
    let each = |(summary, recipients): &mut (Summary, Vec<(u64, Email)>),
                result: &apply::person::PersonResult,
                printer: &mut Printer| {
        summary.add(result);
        if result.plan.has(ActionKind::EmailLink) {
            recipients.push((result.plan.line, result.plan.email.clone()));
        }
        printer.person(result);
    };
    let applied = if bulk {
        apply::bulk::apply_bulk(
            executor,
            items,
            &mut onboarding,
            audit,
            printer,
            shutdown,
            &mut tally,
            each,
            |(summary, _), chunk, printer| {
                summary.requests += u64::from(chunk.requests);
                if let Some(warning) = &chunk.warning {
                    printer.warn(warning);
                }
            },
        )
        .await
    } else {
        apply::apply(
            executor,
            items,
            |pending, audit| {
                let record = audit.prior(pending.email());
                onboarding.plan(pending, record)
            },
            audit,
            printer,
            shutdown,
            &mut tally,
            each,
        )
        .await
    };
    let (mut summary, mut recipients) = tally;
    recipients.sort_by_key(|(line, _)| *line);
    let recipients = recipients.into_iter().map(|(_, email)| email).collect();
    let applied = match applied {
        Ok(applied) => applied,
        Err(e) => return (Err(e), recipients),
    };
    summary.interrupted = applied.interrupted;
    summary.stopped = applied.stopped;
    summary.not_started = applied.not_started;
    summary.made_not_invited += applied.made_not_started;
    summary.seconds = applied.seconds;
    summary.peak_concurrency = applied.peak_concurrency;
    (Ok(summary), recipients)
}
