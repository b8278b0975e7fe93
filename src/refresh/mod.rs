//! `onboard refresh`: renew the invitations that expired (or soon will) before the person
//! accepted them, and record who accepted and whose user was deleted. Made for cron: no
//! prompts, the audit lock keeps runs apart, and a second run right after does nothing.

use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, Utc};

use crate::app;
use crate::audit::Audit;
use crate::cli::RefreshArgs;
use crate::client::ProxyClient;
use crate::config::Config;
use crate::drive::{Lanes, drive};
use crate::error::{Exit, Fatal, ProxyError};
use crate::flow::{StopRun, record_invitation};
use crate::links::Links;
use crate::output::Printer;
use crate::pacer::{RetryPolicy, Tally};
use crate::preflight;
use crate::record::{Record, is_expired};
use crate::shutdown::Shutdown;

mod report;

use report::{Report, print, summary};

/// How long an invitation lives on the proxy; `--within` must be shorter.
const LIFETIME_DAYS: i64 = 7;

/// Parses a duration such as `24h`, `2d`, `30m`, `90s`, `1w` or `1d12h` (`0` alone is zero).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::zero());
    }
    if text.is_empty() {
        return Err("is empty".into());
    }
    let mut total = Duration::zero();
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(format!("expected a number at {rest:?}"));
        }
        let number: i64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{:?} is too large", &rest[..digits]))?;
        rest = &rest[digits..];
        let unit_len = rest.len() - rest.trim_start_matches(char::is_alphabetic).len();
        let unit = match &rest[..unit_len] {
            "s" | "sec" | "secs" => Duration::try_seconds(number),
            "m" | "min" | "mins" => Duration::try_minutes(number),
            "h" | "hr" | "hrs" => Duration::try_hours(number),
            "d" | "day" | "days" => Duration::try_days(number),
            "w" | "week" | "weeks" => Duration::try_weeks(number),
            "" => return Err(format!("{number} has no unit (s, m, h, d or w)")),
            other => return Err(format!("unknown unit {other:?} (use s, m, h, d or w)")),
        };
        total = unit
            .and_then(|u| total.checked_add(&u))
            .ok_or_else(|| "is too large".to_string())?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// True when the proxy says the invitation is not there (deleted, or its user deleted).
pub(crate) fn is_gone(error: &ProxyError) -> bool {
    matches!(error, ProxyError::Status { status: 400 | 404, message }
        if message.to_lowercase().contains("does not exist"))
}

/// True for a record `refresh` (and `status --check`) asks the proxy about. A record
/// without an invitation (a failed person) is the bulk run's job, not refresh's.
pub(crate) fn is_open(record: &Record) -> bool {
    record.invitation_id.is_some()
        && record.user_id.is_some()
        && record.accepted_at.is_none()
        && record.user_deleted_at.is_none()
}

/// What happened to one person.
#[derive(Debug)]
enum Change {
    Renewed { old_kept: Option<String> },
    WouldRenew,
    Accepted,
    StillValid,
    UserDeleted,
    Failed { reason: String },
}

#[derive(Clone)]
struct Renewer {
    client: ProxyClient,
    links: Links,
    retry: RetryPolicy,
    window: Duration,
    dry_run: bool,
}

impl Renewer {
    async fn refresh(&self, mut record: Record) -> Result<(Record, Change), StopRun> {
        let mut step = Tally::default();
        let result = self.check(&mut record, &mut step).await;
        step.sample(self.client.pacer().limiter());
        match result {
            Ok(change) => Ok((record, change)),
            Err(e) if e.is_auth() => Err(StopRun(e)),
            Err(e) => {
                let reason = e.reason();
                record.set_failed(e.to_string(), Utc::now());
                Ok((record, Change::Failed { reason }))
            }
        }
    }

    async fn check(&self, record: &mut Record, step: &mut Tally) -> Result<Change, ProxyError> {
        let id = record.invitation_id.clone().expect("only open records");
        let retry = &self.retry;
        let info = match step.call(retry, || self.client.invitation_info(&id)).await {
            Ok(info) => Some(info),
            Err(e) if is_gone(&e) => None,
            Err(e) => return Err(e),
        };
        let now = Utc::now();
        if let Some(info) = &info {
            if info.is_accepted {
                record.accepted_at = Some(info.accepted_at.unwrap_or(now));
                record.updated_at = now;
                return Ok(Change::Accepted);
            }
            let expires = info.expires_at;
            if !is_expired(expires, now) && expires > now + self.window {
                return Ok(Change::StillValid);
            }
        }
        let user_id = record.user_id.clone().expect("only open records");
        if !step
            .call(retry, || self.client.user_exists(&user_id))
            .await?
        {
            record.user_deleted_at = Some(now);
            record.updated_at = now;
            return Ok(Change::UserDeleted);
        }
        if self.dry_run {
            return Ok(Change::WouldRenew);
        }
        let invitation = step
            .call(retry, || self.client.new_invitation(&user_id))
            .await?;
        record_invitation(record, invitation, &self.links);
        // The new invitation is made: from here on nothing may lose the record.
        let old_kept = if info.is_none() {
            None
        } else {
            match step
                .call(retry, || self.client.delete_invitation(&id))
                .await
            {
                Err(e) if !is_gone(&e) => Some(e.to_string()),
                _ => {
                    if let Some(past) = record.history.iter_mut().rfind(|p| p.invitation_id == id) {
                        past.deleted = true;
                    }
                    None
                }
            }
        };
        Ok(Change::Renewed { old_kept })
    }
}

/// `onboard refresh`.
pub async fn refresh(
    config: Config,
    args: &RefreshArgs,
    shutdown: Shutdown,
) -> Result<Exit, Fatal> {
    let window = parse_duration(&args.within).map_err(|m| {
        Fatal::new(format!("--within {:?}: {m}", args.within)).hint("e.g. --within 24h, 2d or 30m")
    })?;
    if window >= Duration::days(LIFETIME_DAYS) {
        return Err(Fatal::new(format!(
            "--within {}: an invitation lives {LIFETIME_DAYS} days, so this would renew every invitation on every run",
            args.within
        )));
    }
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
    let mut audit = Audit::open(&config.results).map_err(|e| Fatal::new(e.to_string()))?;
    let client = app::client(&config)
        .map_err(|e| Fatal::new(format!("cannot set up the HTTP client: {e:#}")))?;
    audit
        .bind_proxy(&crate::record::proxy_name(client.base()))
        .map_err(|e| Fatal::new(e.to_string()))?;
    preflight::reachable_admin(&client).await?;
    preflight::ensure_default_user(&client, config.fix_default_user, args.dry_run, &mut printer)
        .await?;
    let (links, sso) = preflight::links(&client).await;
    let mailer = crate::mail::setup(&config).await?;
    if sso {
        printer.note(preflight::SSO_WARNING);
    }
    let renewer = Renewer {
        client: client.clone(),
        links,
        retry: app::retry_policy(&config),
        window,
        dry_run: args.dry_run,
    };
    let started = Instant::now();
    let run = run(renewer, &mut audit, &mut printer, &shutdown).await;
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
    let mut report = run.map_err(|e| Fatal::new(e.to_string()))?;
    let mailed = mailed.map_err(|e| Fatal::new(e.to_string()))?;
    committed.map_err(|e| Fatal::new(e.to_string()))?;
    report.sort();
    print(&report, &mut printer, config.format, args.dry_run);
    mailed.print(&mut printer);
    if !config.quiet || report.notable() {
        summary(
            &report,
            started.elapsed().as_secs_f64(),
            &config,
            args.dry_run,
        );
    }
    if let Some(error) = report.stopped {
        return Err(preflight::explain(error, &client));
    }
    Ok(if report.interrupted {
        Exit::Interrupted
    } else if !report.failed.is_empty() || mailed.failed > 0 {
        Exit::Failures
    } else {
        Exit::Success
    })
}

/// Checks every open record with bounded concurrency, journaling changes as they finish.
async fn run(
    renewer: Renewer,
    audit: &mut Audit,
    printer: &mut Printer,
    shutdown: &Shutdown,
) -> Result<Report, crate::audit::AuditError> {
    let dry_run = renewer.dry_run;
    let open: Vec<Record> = audit
        .records()
        .iter()
        .filter(|r| is_open(r))
        .cloned()
        .collect();
    let limiter = Arc::clone(renewer.client.pacer().limiter());
    let mut state = (audit, Report::default());
    let ending = drive(
        Lanes {
            limiter: &limiter,
            shutdown,
            what: "people",
        },
        &mut state,
        open,
        printer,
        |_, record| {
            let renewer = renewer.clone();
            async move { renewer.refresh(record).await }
        },
        |(audit, report), batch: Vec<(Record, Change)>, _| {
            if !dry_run {
                let changed = batch
                    .iter()
                    .filter(|(_, change)| !matches!(change, Change::StillValid))
                    .map(|(record, _)| (record.clone(), 0))
                    .collect();
                audit.append(changed)?;
            }
            for (record, change) in batch {
                report.add(record, change);
            }
            Ok(())
        },
    )
    .await?;
    let mut report = state.1;
    report.interrupted = ending.interrupted;
    report.stopped = ending.stopped;
    report.not_started = ending.not_started;
    Ok(report)
}
