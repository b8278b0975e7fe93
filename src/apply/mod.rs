//! Applying plans: one driver for every command.
//!
//! A run over many people: bounded concurrency, results made durable as they finish,
//! a clean stop on Ctrl-C, and a summary.

pub mod bulk;
pub mod deletes;
pub mod drive;
pub mod person;
pub mod superseded;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use crate::audit::{Audit, AuditError};
use crate::plan::{ActionKind, PersonPlan, Skip};
use crate::proxy::ProxyError;
use crate::shutdown::Shutdown;
use drive::{Lanes, Notes, drive};
use person::{Executor, Outcome, PersonResult};

/// Totals of a run.
#[derive(Debug, Default)]
pub struct Summary {
    /// People with a new invitation.
    pub invited: usize,
    /// Of those, users created now.
    pub created: usize,
    /// People given `<proxy>/ui` instead of an invitation (`--no-invite`).
    pub sso_linked: usize,
    /// Of those, users created now.
    pub sso_created: usize,
    /// People skipped because a live invitation exists.
    pub already_invited: usize,
    /// People skipped because they accepted.
    pub already_accepted: usize,
    /// People who failed.
    pub failed: usize,
    /// Team memberships removed (`--prune`).
    pub removed_from_teams: usize,
    /// Existing people whose user or team role was updated (`update_user`, `update_team_role`).
    pub updated: usize,
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
    /// Users made by this run whose person was not invited (failed or stopped after it).
    pub made_not_invited: usize,
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
    /// The exit code of a finished run (`mail_failed`: emails that could not be sent).
    /// Decided here for every command that carries out plans.
    pub fn exit(&self, mail_failed: usize) -> crate::error::Exit {
        crate::error::Exit::of(self.failed + mail_failed, self.interrupted)
    }

    /// Counts one finished person.
    pub fn add(&mut self, result: &PersonResult) {
        self.requests += u64::from(result.requests);
        if result.lost_invitations > 0 {
            self.lost_invitations += result.lost_invitations;
            let by = result.record.lost_invitations_expire_by;
            self.lost_expire_by = self.lost_expire_by.max(by);
        }
        // What the plan held, by kind: a new kind must say here whether a summary counts it.
        let (mut invites, mut sso, mut updates, mut removals) = (false, false, false, 0);
        for action in &result.plan.actions {
            match action.kind() {
                ActionKind::Invite => invites = true,
                ActionKind::RecordSsoLink => sso = true,
                ActionKind::UpdateUser | ActionKind::UpdateTeamRole => updates = true,
                ActionKind::RemoveFromTeam => removals += 1,
                ActionKind::CreateUser
                | ActionKind::AdoptUser
                | ActionKind::AddToTeam
                | ActionKind::DeleteInvitation
                | ActionKind::RecordAccepted
                | ActionKind::RecordUserDeleted
                | ActionKind::EmailLink
                | ActionKind::DeleteUser
                | ActionKind::GrantTeamPermissions => {}
            }
        }
        let failed = matches!(result.outcome, Outcome::Failed { .. });
        if !failed {
            self.removed_from_teams += removals;
        }
        if updates && !failed {
            self.updated += 1;
        }
        // A user made for an invitation it did not get (`--no-invite` plans none).
        let invited = matches!(result.outcome, Outcome::Done) && invites;
        if result.created && invites && !invited {
            self.made_not_invited += 1;
        }
        match &result.outcome {
            Outcome::Done if invites => {
                self.invited += 1;
                if result.created {
                    self.created += 1;
                }
            }
            Outcome::Done if sso => {
                self.sso_linked += 1;
                if result.created {
                    self.sso_created += 1;
                }
            }
            Outcome::Done => {}
            Outcome::Skipped(Skip::AlreadyInvited) => self.already_invited += 1,
            Outcome::Skipped(Skip::AlreadyAccepted) => self.already_accepted += 1,
            Outcome::Skipped(_) => {}
            Outcome::Failed { reason } => {
                self.failed += 1;
                *self.failure_reasons.entry(reason.clone()).or_default() += 1;
            }
        }
    }
}

/// How applying plans ended, besides what each person's result said.
#[derive(Debug, Default)]
pub struct Applied {
    /// Set when the run was interrupted.
    pub interrupted: bool,
    /// Set when an auth failure stopped the run.
    pub stopped: Option<ProxyError>,
    /// People never started, or stopped before anything was sent for them (their results
    /// are not handed on).
    pub not_started: usize,
    /// Of those, people whose user this run made (in bulk) before they were stopped.
    pub made_not_started: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// The highest limit on people in flight reached.
    pub peak_concurrency: f64,
}

impl Applied {
    /// How a drive that started at `started` under `limiter` ended.
    pub(crate) fn of(
        ending: drive::Ending,
        started: Instant,
        limiter: &crate::proxy::pacer::Limiter,
    ) -> Self {
        Applied {
            interrupted: ending.interrupted,
            stopped: ending.stopped,
            not_started: ending.not_started,
            made_not_started: 0,
            seconds: started.elapsed().as_secs_f64(),
            peak_concurrency: limiter.peak_limit(),
        }
    }
}

/// Carries out a plan for each of `items` (each email once) for every command: `plan` makes
/// an item's plan when the driver takes it, from the audit file as it is then. Each finished
/// person is made durable in `audit`, then handed to `each` (which reports it); a person
/// stopped before anything was sent is counted as not started instead.
#[allow(clippy::too_many_arguments)]
pub async fn apply<T, S, P: Notes>(
    executor: &Executor,
    items: impl IntoIterator<Item = T>,
    mut plan: impl FnMut(T, &Audit) -> PersonPlan,
    audit: &mut Audit,
    printer: &mut P,
    shutdown: &Shutdown,
    state: &mut S,
    mut each: impl FnMut(&mut S, &PersonResult, &mut P),
) -> Result<Applied, AuditError> {
    let started = Instant::now();
    let limiter = Arc::clone(executor.client.pacer().limiter());
    let mut ctx = (audit, state);
    let mut stopped = 0;
    let ending = drive(
        Lanes {
            limiter: &limiter,
            shutdown,
            what: "people",
            finish_first: false,
            unsampled: false,
        },
        &mut ctx,
        items.into_iter().enumerate(),
        printer,
        |(audit, _), (order, item)| {
            let plan = plan(item, audit);
            let prior = audit.prior(&plan.email).cloned();
            let executor = executor.clone();
            async move { Ok((executor.apply(plan, prior).await?, order as u64)) }
        },
        |(audit, state), batch: Vec<(PersonResult, u64)>, printer| {
            let records = batch
                .iter()
                .filter(|(r, _)| r.changed)
                .map(|(r, order)| (r.record.clone(), *order))
                .collect();
            audit.append(records)?;
            for (result, _) in &batch {
                if result.not_started() {
                    stopped += 1;
                } else {
                    each(state, result, printer);
                }
            }
            Ok(())
        },
    )
    .await?;
    let mut applied = Applied::of(ending, started, &limiter);
    applied.not_started += stopped;
    Ok(applied)
}
