//! The commands, end to end: input → plan → requests → results → audit.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use chrono::Utc;

use crate::audit::Audit;
use crate::cli::{BulkArgs, InviteArgs};
use crate::client::{ClientOptions, ProxyClient};
use crate::config::Config;
use crate::error::{Exit, Fatal};
use crate::flow::Onboarder;
use crate::input::{self, Defaults, Person, Roster};
use crate::output::Printer;
use crate::pacer::{Limiter, Pacer, RetryPolicy};
use crate::preflight;
use crate::record::Record;
use crate::run::{self, Summary};
use crate::shutdown::Shutdown;
use crate::types::{Email, Role, TeamId};

/// The most row problems listed before "and N more".
const PROBLEM_CAP: usize = 50;

/// The adaptive limit's ceiling when `--concurrency` is not given.
pub const ADAPTIVE_MAX: usize = 64;

/// Builds the client with the run's pacing.
pub fn client(config: &Config) -> anyhow::Result<ProxyClient> {
    let limiter = match config.concurrency {
        Some(n) => Limiter::fixed(n),
        None => Limiter::adaptive(4, ADAPTIVE_MAX),
    };
    let pacer = Arc::new(Pacer::new(Arc::new(limiter), config.rate));
    let options = ClientOptions {
        timeout: config.timeout,
        ca_cert_pem: config.ca_cert_pem.clone(),
    };
    ProxyClient::new(&config.proxy_url, config.key.clone(), &options, pacer)
}

/// The retry policy of a run.
pub fn retry_policy(config: &Config) -> RetryPolicy {
    RetryPolicy {
        retries: config.retries,
        ..RetryPolicy::default()
    }
}

/// `onboard <CSV>`.
pub async fn bulk(
    config: Config,
    csv: &Path,
    args: &BulkArgs,
    shutdown: Shutdown,
) -> Result<Exit, Fatal> {
    let mut printer = Printer::new(config.format, config.quiet);
    let defaults = Defaults {
        team: args.team.as_deref().map(TeamId::new),
        role: args.role,
    };
    let roster = input::read_csv(csv, &defaults).map_err(|e| Fatal::new(e.to_string()))?;
    report_input(&roster, args.skip_invalid, &mut printer)?;
    let people = roster.people;
    let invalid = if args.skip_invalid {
        roster.problems
    } else {
        Vec::new()
    };
    onboard_people(
        config,
        people,
        invalid,
        args.reinvite,
        args.dry_run,
        printer,
        shutdown,
    )
    .await
}

/// `onboard invite <EMAIL> --team <TEAM>`.
pub async fn invite(config: Config, args: &InviteArgs, shutdown: Shutdown) -> Result<Exit, Fatal> {
    let printer = Printer::link_only(config.format, config.quiet);
    let email = Email::parse(&args.email).map_err(|m| Fatal::new(format!("<EMAIL>: {m}")))?;
    let person = Person {
        line: 0,
        email,
        team: TeamId::new(args.team.trim()),
        role: args.role.unwrap_or(Role::InternalUser),
        alias: args.alias.clone(),
    };
    onboard_people(
        config,
        vec![person],
        Vec::new(),
        args.reinvite,
        args.dry_run,
        printer,
        shutdown,
    )
    .await
}

fn report_input(roster: &Roster, skip_invalid: bool, printer: &mut Printer) -> Result<(), Fatal> {
    for warning in &roster.warnings {
        printer.warn(warning);
    }
    for dup in &roster.duplicates {
        let lines: Vec<String> = dup.lines.iter().map(u64::to_string).collect();
        printer.warn(&format!(
            "{} appears on lines {}: onboarding it once (line {})",
            dup.email,
            lines.join(", "),
            dup.lines[0]
        ));
    }
    if roster.problems.is_empty() {
        return Ok(());
    }
    let mut listed: Vec<String> = roster
        .problems
        .iter()
        .take(PROBLEM_CAP)
        .map(ToString::to_string)
        .collect();
    if roster.problems.len() > PROBLEM_CAP {
        listed.push(format!(
            "… and {} more",
            roster.problems.len() - PROBLEM_CAP
        ));
    }
    if skip_invalid {
        printer.warn(&format!(
            "skipping {} invalid row(s) (--skip-invalid):\n  {}",
            roster.problems.len(),
            listed.join("\n  ")
        ));
        return Ok(());
    }
    Err(Fatal::new(format!("{} invalid row(s); nothing was sent:\n  {}", roster.problems.len(), listed.join("\n  ")))
        .hint("fix the rows, or pass --skip-invalid to onboard the valid ones and record the rest as failed"))
}

async fn onboard_people(
    config: Config,
    mut people: Vec<Person>,
    invalid: Vec<input::RowProblem>,
    reinvite: bool,
    dry_run: bool,
    mut printer: Printer,
    shutdown: Shutdown,
) -> Result<Exit, Fatal> {
    for warning in &config.warnings {
        printer.warn(warning);
    }
    let mut audit = Audit::open(&config.results).map_err(|e| Fatal::new(e.to_string()))?;
    let client =
        client(&config).map_err(|e| Fatal::new(format!("cannot set up the HTTP client: {e:#}")))?;
    audit
        .bind_proxy(&crate::record::proxy_name(client.base()))
        .map_err(|e| Fatal::new(e.to_string()))?;
    client.pacer().stop_on(shutdown.clone());
    let teams: BTreeSet<TeamId> = people.iter().map(|p| p.team.clone()).collect();
    let interrupted = |printer: &mut Printer| {
        printer.note("interrupted during pre-flight: nobody was onboarded, nothing was written");
        Ok(Exit::Interrupted)
    };
    let Some(checked) = shutdown
        .unless_requested(preflight::check(
            &client,
            &teams,
            config.fix_default_user,
            dry_run,
            &mut printer,
        ))
        .await
    else {
        return interrupted(&mut printer);
    };
    let checked = checked?;
    for person in &mut people {
        if let Some(id) = checked.teams.get(&person.team) {
            person.team = id.clone();
        }
    }
    let Some(mailer) = shutdown.unless_requested(crate::mail::setup(&config)).await else {
        return interrupted(&mut printer);
    };
    let mailer = mailer?;
    if dry_run {
        crate::mail::preview(
            mailer.as_ref(),
            &people,
            &audit,
            &checked.links,
            &mut printer,
        );
        return crate::plan::dry_run(
            &client,
            &people,
            invalid.len(),
            &audit,
            reinvite,
            &mut printer,
        )
        .await;
    }
    record_invalid(&mut audit, &invalid).map_err(|e| Fatal::new(e.to_string()))?;
    let onboarder = Onboarder {
        client,
        links: checked.links,
        retry: retry_policy(&config),
        reinvite,
    };
    let recipients = crate::mail::recipients(mailer.as_ref(), &people);
    printer.progress(people.len() as u64);
    let run_result = run::run(&onboarder, people, &mut audit, &mut printer, &shutdown).await;
    let mailed = crate::mail::after_run(
        mailer.as_ref(),
        &run_result,
        &recipients,
        &mut audit,
        &mut printer,
        &shutdown,
    )
    .await;
    let audit_path = audit.path().to_path_buf();
    let committed = audit.commit();
    let mut summary: Summary = run_result.map_err(|e| Fatal::new(e.to_string()))?;
    let mailed = mailed.map_err(|e| Fatal::new(e.to_string()))?;
    committed.map_err(|e| Fatal::new(e.to_string()))?;
    summary.failed += invalid.len();
    if !invalid.is_empty() {
        summary
            .failure_reasons
            .insert("invalid row".into(), invalid.len());
    }
    mailed.print(&mut printer);
    printer.finish(&summary, &audit_path);
    if let Some(error) = summary.stopped {
        return Err(preflight::explain(error, &onboarder.client));
    }
    Ok(if summary.interrupted {
        Exit::Interrupted
    } else if summary.failed > 0 || mailed.failed > 0 {
        Exit::Failures
    } else {
        Exit::Success
    })
}

/// Records rows that failed validation (with `--skip-invalid`) as failed.
fn record_invalid(
    audit: &mut Audit,
    invalid: &[input::RowProblem],
) -> Result<(), crate::audit::AuditError> {
    let now = Utc::now();
    let batch = invalid
        .iter()
        .filter_map(|problem| {
            let raw = problem.raw_email.as_deref()?;
            let email = Email::unchecked(raw);
            let mut record = audit
                .prior(&email)
                .cloned()
                .unwrap_or_else(|| Record::new(email, now));
            record.set_failed(
                format!(
                    "invalid row (line {}): {}: {}",
                    problem.line, problem.field, problem.message
                ),
                now,
            );
            Some((record, problem.line))
        })
        .collect();
    audit.append(batch)
}
