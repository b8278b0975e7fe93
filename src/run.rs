//! A run over many people: bounded concurrency, results made durable as they finish,
//! a clean stop on Ctrl-C, and a summary.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use crate::audit::{Audit, AuditError};
use crate::drive::{Lanes, drive};
use crate::error::ProxyError;
use crate::flow::{Onboarder, Outcome, PersonResult};
use crate::input::Person;
use crate::output::Printer;
use crate::shutdown::Shutdown;

/// Totals of a run.
#[derive(Debug, Default)]
pub struct Summary {
    /// People with a new invitation.
    pub invited: usize,
    /// Of those, users created now.
    pub created: usize,
    /// People skipped because a live invitation exists.
    pub already_invited: usize,
    /// People skipped because they accepted.
    pub already_accepted: usize,
    /// People who failed.
    pub failed: usize,
    /// Failures grouped by reason.
    pub failure_reasons: BTreeMap<String, usize>,
    /// Requests sent.
    pub requests: u64,
    /// `/invitation/new` answers lost (each may have made an invitation nobody has the link of).
    pub lost_invitations: u32,
    /// The latest those invitations can expire.
    pub lost_expire_by: Option<chrono::DateTime<chrono::Utc>>,
    /// People never started because the run was interrupted.
    pub not_started: usize,
    /// Set when the run was interrupted.
    pub interrupted: bool,
    /// Set when an auth failure stopped the run.
    pub stopped: Option<ProxyError>,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// The highest limit on people in flight reached.
    pub peak_concurrency: f64,
}

impl Summary {
    fn add(&mut self, result: &PersonResult) {
        self.requests += u64::from(result.requests);
        if result.lost_invitations > 0 {
            self.lost_invitations += result.lost_invitations;
            let by = result
                .record
                .as_ref()
                .and_then(|r| r.lost_invitations_expire_by);
            self.lost_expire_by = self.lost_expire_by.max(by);
        }
        match &result.outcome {
            Outcome::Invited { origin } => {
                self.invited += 1;
                if *origin == crate::record::UserOrigin::Created {
                    self.created += 1;
                }
            }
            Outcome::AlreadyInvited { .. } => self.already_invited += 1,
            Outcome::AlreadyAccepted => self.already_accepted += 1,
            Outcome::Failed { reason } => {
                self.failed += 1;
                *self.failure_reasons.entry(reason.clone()).or_default() += 1;
            }
        }
    }
}

/// Onboards `people` (each email once), recording every finished person in `audit`
/// before it is printed.
pub async fn run(
    onboarder: &Onboarder,
    people: impl IntoIterator<Item = Person>,
    audit: &mut Audit,
    printer: &mut Printer,
    shutdown: &Shutdown,
) -> Result<Summary, AuditError> {
    let started = Instant::now();
    let limiter = Arc::clone(onboarder.client.pacer().limiter());
    let mut state = (audit, Summary::default());
    let ending = drive(
        Lanes {
            limiter: &limiter,
            shutdown,
            what: "people",
        },
        &mut state,
        people.into_iter().enumerate(),
        printer,
        |(audit, _), (order, person)| {
            let prior = audit.prior(&person.email).cloned();
            let onboarder = onboarder.clone();
            async move { Ok((onboarder.onboard(person, prior).await?, order as u64)) }
        },
        |(audit, summary), batch: Vec<(PersonResult, u64)>, printer| {
            let records = batch
                .iter()
                .filter_map(|(r, order)| r.record.clone().map(|rec| (rec, *order)))
                .collect();
            audit.append(records)?;
            for (result, _) in &batch {
                summary.add(result);
                printer.person(result);
            }
            Ok(())
        },
    )
    .await?;
    let mut summary = state.1;
    summary.interrupted = ending.interrupted;
    summary.stopped = ending.stopped;
    summary.not_started = ending.not_started;
    summary.seconds = started.elapsed().as_secs_f64();
    summary.peak_concurrency = limiter.peak_limit();
    Ok(summary)
}
