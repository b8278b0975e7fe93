//! The steps of an onboarding run after pre-flight: the reads its plans rest on, whether the
//! proxy creates users in bulk, and the run itself.

use std::collections::BTreeSet;

use chrono::Utc;

use crate::apply::pacer::RetryPolicy;
use crate::apply::person::Executor;
use crate::apply::{self, Summary};
use crate::audit::{Audit, AuditError};
use crate::commands::preflight;
use crate::error::Fatal;
use crate::input::Person;
use crate::known;
use crate::output::Printer;
use crate::plan::{self, OnboardOptions, Onboarding, Pending};
use crate::proxy::ProxyClient;
use crate::shutdown::Shutdown;
use crate::types::{Email, TeamId};

/// What every person is planned from besides their audit record: for people the audit file
/// does not know (and rows with settings to compare), what the proxy says of their email.
pub(super) async fn look_up(
    client: &ProxyClient,
    retry: RetryPolicy,
    shutdown: &Shutdown,
    people: &[Person],
    audit: &Audit,
    options: OnboardOptions,
) -> Result<Onboarding, Fatal> {
    let now = Utc::now();
    let unknown: Vec<Email> = people
        .iter()
        // A row with settings to compare is read too (a plain row is not: no extra request).
        .filter(|p| {
            plan::needs_lookup(audit.prior(&p.email), options, now)
                || plan::known_user(audit.prior(&p.email)).is_some() && p.needs_user_row()
        })
        .map(|p| p.email.clone())
        .collect();
    let stopped = |stopped| preflight::reads_stopped(stopped, client);
    let lookups = known::lookups(client, retry, shutdown, unknown)
        .await
        .map_err(stopped)?;
    // Team roles are compared only for rows with a `team_role` cell.
    let role_teams: BTreeSet<TeamId> = people
        .iter()
        .filter(|p| p.settings.team_role.is_some())
        .flat_map(|p| p.teams().cloned())
        .collect();
    let rosters = known::rosters(client, retry, shutdown, role_teams.into_iter().collect())
        .await
        .map_err(stopped)?;
    Ok(Onboarding {
        lookups,
        rosters,
        options,
        now,
    })
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
        if result.plan.has("email_link") {
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
