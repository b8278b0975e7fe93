//! `onboard refresh`: renew the invitations that expired (or soon will) before the person
//! accepted them, and record who accepted and whose user was deleted. Made for cron: no
//! prompts, the audit lock keeps runs apart, and a second run right after does nothing.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{Duration, Utc};

use crate::apply::apply;
use crate::apply::person::{Executor, Outcome, PersonResult};
use crate::apply::superseded::Cleanup;
use crate::audit::Audit;
use crate::audit::record::Record;
use crate::commands::preflight;
use crate::config::Config;
use crate::config::RefreshTask;
use crate::error::{Exit, Fatal};
use crate::known;
use crate::output::Printer;
use crate::plan::{self, ActionKind, InvitationCheck, PersonPlan, RefreshOptions, Skip};
use crate::proxy::client::ProxyClient;
use crate::proxy::pacer::RetryPolicy;
use crate::shutdown::Shutdown;
use crate::types::Email;

mod report;

use report::{Report, print, summary};

/// What a refresh did for one person besides its [`Change`].
#[derive(Debug, Default)]
struct Side {
    /// Pending deletes of superseded invitations tried again.
    cleanup: Cleanup,
    /// `/invitation/new` answers lost now.
    lost: u32,
}

/// What happened to one person.
#[derive(Debug)]
enum Change {
    /// Not asked about (accepted, or user deleted): only pending deletes were tried.
    Untouched,
    /// Renewed: `deleted` replaced invitations deleted now, `old_kept` why one was not.
    Renewed {
        deleted: u32,
        old_kept: Option<String>,
    },
    WouldRenew,
    Accepted,
    StillValid,
    UserDeleted,
    Failed {
        reason: String,
    },
}

impl Change {
    /// What a plan would do, for a dry run.
    fn planned(plan: &PersonPlan) -> Change {
        if plan.has(ActionKind::Invite) {
            Change::WouldRenew
        } else if plan.has(ActionKind::RecordAccepted) {
            Change::Accepted
        } else if plan.has(ActionKind::RecordUserDeleted) {
            Change::UserDeleted
        } else if plan.has(ActionKind::DeleteInvitation) && plan.skip.is_none() {
            Change::Untouched
        } else if let Some(Skip::LookupFailed) = plan.skip {
            Change::Failed {
                reason: Skip::LookupFailed.reason().into(),
            }
        } else {
            Change::StillValid
        }
    }

    /// What carrying out a plan did.
    fn of(result: &PersonResult) -> Change {
        match &result.outcome {
            Outcome::Failed { reason } => Change::Failed {
                reason: reason.clone(),
            },
            _ if result.plan.has(ActionKind::Invite) => Change::Renewed {
                deleted: (result.plan.count(ActionKind::DeleteInvitation)
                    - result.delete_failed.len()) as u32,
                old_kept: result.delete_failed.first().cloned(),
            },
            _ => Change::planned(&result.plan),
        }
    }
}

/// `onboard refresh`.
pub async fn refresh(
    config: Config,
    args: &RefreshTask,
    shutdown: Shutdown,
) -> Result<Exit, Fatal> {
    // `--within` was checked at the edge (cli.rs): under an invitation's 7-day lifetime.
    let window =
        Duration::from_std(args.within).map_err(|e| Fatal::new(format!("--within: {e}")))?;
    let mut printer = Printer::new(config.format, config.quiet);
    for warning in &config.warnings {
        printer.warn(warning);
    }
    if !Audit::exists(&config.results) {
        return Err(Fatal::new(format!(
            "no audit file at {}: nothing to refresh",
            config.results.display()
        ))
        .hint("pass --results with the file `onboard` wrote (an absolute path in a cron job, which runs in $HOME)"));
    }
    let mut audit = preflight::open_audit(&config.results, &mut printer)?;
    let client = preflight::connect(&config, &shutdown, &mut audit)?;
    let (links, sso, mailer) = preflight::unless_stopped(&shutdown, async {
        preflight::reachable_admin(&client).await?;
        preflight::ensure_default_user(
            &client,
            config.fix_default_user,
            args.dry_run,
            &mut printer,
        )
        .await?;
        let (links, sso) = preflight::links(&client).await;
        let mailer = crate::mail::setup(config.mail.as_ref(), config.timeout).await?;
        Ok((links, sso, mailer))
    })
    .await?;
    if sso {
        printer.note(preflight::SSO_WARNING);
    }
    let retry = config.retry_policy();
    let options = RefreshOptions {
        within: window,
        send_email: mailer.is_some(),
    };
    let plans = plan_refresh(&client, retry, &shutdown, &audit, options).await?;
    if args.dry_run && config.format == crate::output::Format::Json {
        printer.plans(&plans);
        return Ok(Exit::Success);
    }
    let executor = Executor {
        client: client.clone(),
        links,
        retry,
    };
    let started = Instant::now();
    let mut run = if args.dry_run {
        let mut report = Report::default();
        for plan in &plans {
            report.add(
                audit_record(&audit, plan),
                Change::planned(plan),
                Side::default(),
            );
        }
        Ok(report)
    } else {
        run(&executor, plans, &mut audit, &mut printer, &shutdown).await
    };
    // The renewals are journaled; print them before mailing, so no mail problem can lose them.
    if let Ok(report) = &mut run {
        report.sort();
        print(report, &mut printer, config.format, args.dry_run);
    }
    let renewed = (run.as_ref().ok())
        .filter(|r| !args.dry_run && r.stopped.is_none() && !r.interrupted)
        .map(|r| r.renewed.as_slice());
    let mailed = crate::mail::after_refresh(
        mailer.as_ref(),
        renewed,
        &mut audit,
        &mut printer,
        &shutdown,
    )
    .await;
    let committed = if args.dry_run { Ok(()) } else { audit.commit() };
    let report = run.map_err(Fatal::caused)?;
    let mailed = mailed.map_err(Fatal::caused)?;
    committed.map_err(Fatal::caused)?;
    mailed.print(&mut printer);
    summary(
        &report,
        started.elapsed().as_secs_f64(),
        &config,
        args.dry_run,
        &mut printer,
    );
    if let Some(error) = report.stopped {
        return Err(preflight::explain(error, &client));
    }
    Ok(Exit::of(
        report.failed.len() + mailed.failed,
        report.interrupted,
    ))
}

/// Every open record's plan, from what the proxy says of its invitation (and, for those due
/// for renewal, of its user).
async fn plan_refresh(
    client: &ProxyClient,
    retry: RetryPolicy,
    shutdown: &Shutdown,
    audit: &Audit,
    options: RefreshOptions,
) -> Result<Vec<PersonPlan>, Fatal> {
    let stopped = |stopped| preflight::reads_stopped(stopped, client);
    let checks = known::open_invitations(client, retry, shutdown, audit)
        .await
        .map_err(stopped)?;
    let now = Utc::now();
    let due: Vec<&Record> = checks
        .iter()
        .filter(|(_, check)| plan::refresh_due(check, options.within, now))
        .map(|(record, _)| *record)
        .collect();
    let users = due
        .iter()
        .map(|r| r.user_id.clone().expect("open records have a user"))
        .collect();
    let answers = known::users_exist(client, retry, shutdown, users)
        .await
        .map_err(stopped)?;
    let exists: HashMap<&Email, Result<bool, String>> =
        due.iter().map(|r| &r.email).zip(answers).collect();
    let cleanups = audit
        .records()
        .iter()
        .filter(|r| !plan::is_open(r) && r.has_pending_deletes())
        .map(|r| plan::cleanup(r, now));
    Ok(checks
        .iter()
        .map(|(record, check)| match exists.get(&record.email) {
            Some(Err(reason)) => plan::refresh(
                record,
                &InvitationCheck::Failed(reason.clone()),
                None,
                options,
                now,
            ),
            answer => plan::refresh(
                record,
                check,
                answer.and_then(|a| a.as_ref().ok().copied()),
                options,
                now,
            ),
        })
        .chain(cleanups)
        .collect())
}

fn audit_record(audit: &Audit, plan: &PersonPlan) -> Record {
    audit
        .prior(&plan.email)
        .cloned()
        .unwrap_or_else(|| Record::new(plan.email.clone(), Utc::now()))
}

/// Carries out the plans, journaling changes as they finish.
async fn run(
    executor: &Executor,
    plans: Vec<PersonPlan>,
    audit: &mut Audit,
    printer: &mut Printer,
    shutdown: &Shutdown,
) -> Result<Report, crate::audit::AuditError> {
    let mut report = Report::default();
    let applied = apply(
        executor,
        plans,
        |plan, _| plan,
        audit,
        printer,
        shutdown,
        &mut report,
        |report, result, _| {
            let change = Change::of(result);
            let side = Side {
                cleanup: result.cleanup,
                lost: result.lost_invitations,
            };
            report.add(result.record.clone(), change, side)
        },
    )
    .await?;
    report.interrupted = applied.interrupted;
    report.stopped = applied.stopped;
    report.not_started = applied.not_started;
    Ok(report)
}
