//! `onboard offboard` and the `--prune` part of a bulk run: reads → plans → confirmation →
//! apply → audit → printer. Nobody outside the plan is touched.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::Utc;

use crate::apply::person::{Executor, Outcome, PersonResult};
use crate::apply::{self};
use crate::audit::Audit;
use crate::commands::confirm::{confirm, targets};
use crate::commands::preflight;
use crate::config::Config;
use crate::config::OffboardTask;
use crate::error::{Exit, Fatal};
use crate::input::Person;
use crate::known;
use crate::output::Printer;
use crate::plan::offboard::{self as planner, OffboardOptions};
use crate::plan::{self, Action, ActionKind, Lookup, PersonPlan, Skip};
use crate::proxy::ProxyClient;
use crate::proxy::links::Links;
use crate::proxy::pacer::RetryPolicy;
use crate::shutdown::Shutdown;
use crate::types::BulkMode;
use crate::types::{Email, TeamId, UserId, no_control};

/// Totals of an offboarding run.
#[derive(Debug, Default)]
struct Totals {
    users_deleted: usize,
    memberships_removed: usize,
    invitations_deleted: usize,
    failed: usize,
    failure_reasons: BTreeMap<String, usize>,
}

/// `onboard offboard <EMAIL|CSV>...`.
pub async fn offboard(
    config: Config,
    args: &OffboardTask,
    shutdown: Shutdown,
) -> Result<Exit, Fatal> {
    let mut printer = Printer::new(config.format, config.quiet);
    for warning in &config.warnings {
        printer.warn(warning);
    }
    if let Some(team) = &args.team {
        no_control(team).map_err(|m| Fatal::new(format!("--team: {m}")))?;
    }
    let emails = targets(&args.targets, &mut printer)?;
    let mut audit = preflight::open_audit(&config.results, &mut printer)?;
    let client = preflight::connect(&config, &shutdown, &mut audit)?;
    let (team, read) = preflight::unless_stopped(&shutdown, async {
        preflight::reachable_admin(&client).await?;
        // The team and its roster, in one read.
        let team = match &args.team {
            Some(team) => {
                let wanted = BTreeSet::from([TeamId::new(team.trim())]);
                let read =
                    preflight::read_teams(&client, &wanted, preflight::TEAM_FLAG_HINT).await?;
                read.into_values().next()
            }
            None => None,
        };
        Ok((team.as_ref().map(|t| t.team_id.clone()), team))
    })
    .await?;
    printer.name_teams(read.iter());
    let retry = config.retry_policy();
    let lookups = read_users(&client, retry, &shutdown, emails.clone(), &audit).await?;
    let options = OffboardOptions {
        team,
        include_admins: args.include_admins,
    };
    let now = Utc::now();
    let plans: Vec<PersonPlan> = emails
        .iter()
        .map(|email| {
            let lookup = lookups.get(email).cloned().unwrap_or_default();
            planner::offboard(
                email,
                audit.prior(email),
                &lookup,
                read.as_ref().map(|t| t.members.as_slice()),
                &options,
                now,
            )
        })
        .collect();
    if args.dry_run {
        printer.plans(&plans);
        // The exit a run of this plan would have, as for every dry run.
        let fails = plans
            .iter()
            .filter(|p| {
                p.skip
                    .as_ref()
                    .is_some_and(|s| s.is_failure() || s.is_refusal())
            })
            .count();
        return Ok(Exit::of(fails, false));
    }
    let mut failed_skips = 0;
    let mut refused = 0;
    for plan in &plans {
        match &plan.skip {
            Some(Skip::NotOnProxy) => printer.warn(&format!(
                "{}: no user on the proxy has this email: nothing to offboard",
                plan.email
            )),
            Some(skip) if skip.is_refusal() => {
                refused += 1;
                printer.warn(&format!(
                    "{}: refused: {}",
                    plan.email,
                    plan.detail.as_deref().unwrap_or(skip.reason())
                ));
            }
            Some(skip) if skip.is_failure() => {
                failed_skips += 1;
                printer.failures(&[format!(
                    "✗ {}: {}",
                    plan.email,
                    plan.detail.as_deref().unwrap_or(skip.reason())
                )]);
            }
            _ => {}
        }
    }
    let acting: Vec<PersonPlan> = plans
        .iter()
        .filter(|p| !p.actions.is_empty())
        .cloned()
        .collect();
    let report_skipped = |printer: &mut Printer| {
        for plan in plans.iter().filter(|p| p.actions.is_empty()) {
            printer.skipped(plan);
        }
    };
    if acting.is_empty() {
        report_skipped(&mut printer);
        printer.finish_with(
            &[format!(
                "onboard: offboard: nothing to do for {}{}",
                crate::output::people(plans.len()),
                in_parens(&[skip_counts(&plans), failed_count(failed_skips)])
            )],
            refused + failed_skips > 0,
        );
        return Ok(Exit::of(failed_skips + refused, false));
    }
    if !confirm(&mut printer, &acting, plans.len(), args.yes, &shutdown).await? {
        return Err(Fatal::new("not confirmed: nothing was changed"));
    }
    report_skipped(&mut printer);
    let executor = Executor {
        links: Links::new(client.base(), None),
        client,
        retry,
    };
    printer.progress(acting.len() as u64);
    let mut totals = Totals::default();
    let deletes = acting
        .iter()
        .filter(|p| p.has(ActionKind::DeleteUser))
        .count();
    let in_bulk =
        args.bulk == BulkMode::Auto && deletes > 1 && bulk_deletes(&executor.client).await;
    let each = |totals: &mut Totals, result: &PersonResult, printer: &mut Printer| {
        printer.person(result);
        printer.removal(result);
        match &result.outcome {
            Outcome::Failed { reason } => {
                totals.failed += 1;
                *totals.failure_reasons.entry(reason.clone()).or_default() += 1;
            }
            _ => {
                let user_deleted = result.plan.has(ActionKind::DeleteUser);
                totals.users_deleted += usize::from(user_deleted);
                for action in &result.plan.actions {
                    if let Action::RemoveFromTeam { .. } = action {
                        totals.memberships_removed += 1;
                    }
                    totals.invitations_deleted += action.invitations_deleted();
                }
                if !user_deleted {
                    totals.invitations_deleted -= result.delete_failed.len();
                }
            }
        }
    };
    let applied = if in_bulk {
        apply::deletes::apply_deleting_in_bulk(
            &executor,
            acting,
            &mut audit,
            &mut printer,
            &shutdown,
            &mut totals,
            each,
        )
        .await
    } else {
        apply::apply(
            &executor,
            acting,
            |plan, _| plan,
            &mut audit,
            &mut printer,
            &shutdown,
            &mut totals,
            each,
        )
        .await
    };
    let audit_path = audit.path().to_path_buf();
    let committed = audit.commit();
    let applied = applied.map_err(Fatal::caused)?;
    committed.map_err(Fatal::caused)?;
    let failed = totals.failed + failed_skips;
    let mut line = format!(
        "onboard: offboard: {} users deleted, {} team memberships removed, {} invitations deleted",
        totals.users_deleted, totals.memberships_removed, totals.invitations_deleted,
    );
    let skips = skip_counts(&plans);
    if !skips.is_empty() {
        line.push_str(&format!(", {skips}"));
    }
    line.push_str(&format!(", {failed} failed"));
    if applied.not_started > 0 {
        line.push_str(&format!(", {} not started", applied.not_started));
    }
    line.push_str(&format!(" in {:.1} s", applied.seconds));
    let mut lines = vec![line];
    lines.extend(
        totals
            .failure_reasons
            .iter()
            .map(|(reason, count)| format!("  failed: {count} × {reason}")),
    );
    lines.push(format!("Results saved to {}", audit_path.display()));
    let notable = failed + refused > 0 || applied.interrupted || applied.stopped.is_some();
    printer.finish_with(&lines, notable);
    if let Some(error) = applied.stopped {
        return Err(preflight::explain(error, &executor.client));
    }
    Ok(Exit::of(failed + refused, applied.interrupted))
}

/// " (a, b)" of the parts that are not empty, or nothing.
fn in_parens(parts: &[String]) -> String {
    let parts: Vec<&str> = parts
        .iter()
        .map(String::as_str)
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

/// "1 failed", or nothing when none did.
fn failed_count(failed: usize) -> String {
    if failed > 0 {
        format!("{failed} failed")
    } else {
        String::new()
    }
}

/// "2 not on the proxy, 1 proxy admins refused": the skips worth naming (those that occur).
fn skip_counts(plans: &[PersonPlan]) -> String {
    let named = [
        (Skip::NotOnProxy, "not on the proxy"),
        (Skip::AlreadyOffboarded, "already offboarded"),
        (Skip::NotInTeam, "not in the team"),
        (Skip::ProxyAdmin, "proxy admins refused"),
        (Skip::TeamAdmin, "team admins refused"),
        (Skip::DefaultUser, "default_user_id refused"),
    ];
    let parts: Vec<String> = named
        .into_iter()
        .filter_map(|(skip, what)| {
            let n = plans
                .iter()
                .filter(|p| p.skip.as_ref() == Some(&skip))
                .count();
            (n > 0).then(|| format!("{n} {what}"))
        })
        .collect();
    parts.join(", ")
}

/// What the proxy says of each email (this run's reads: the ids acted on come from here):
/// people the audit file knows by user id are read 100 a request.
async fn read_users(
    client: &ProxyClient,
    retry: RetryPolicy,
    shutdown: &Shutdown,
    emails: Vec<Email>,
    audit: &Audit,
) -> Result<HashMap<Email, Lookup>, Fatal> {
    let people = emails
        .into_iter()
        .map(|e| {
            let id = crate::plan::known_user(audit.prior(&e)).cloned();
            (e, id)
        })
        .collect();
    known::lookups_known(client, retry, shutdown, people)
        .await
        .map_err(|stopped| preflight::reads_stopped(stopped, client))
}

/// `--prune`: the plans of the members of the CSV's teams whom no row names — their
/// removals, plus the deletes of their live invitations when that leaves them in no team.
/// The CSV's own people were pruned by their plans; `plans` are theirs (the people, and the
/// users they adopt). The rosters are the run's (read in pre-flight).
#[allow(clippy::too_many_arguments)]
pub async fn prune_plans(
    client: &ProxyClient,
    retry: RetryPolicy,
    shutdown: &Shutdown,
    rosters: &plan::Rosters,
    audit: &Audit,
    plans: &[PersonPlan],
    printer: &mut Printer,
) -> Result<Vec<PersonPlan>, Fatal> {
    let adopted: HashMap<&Email, &UserId> = plans
        .iter()
        .filter_map(|p| {
            p.actions.iter().find_map(|a| match a {
                Action::AdoptUser { user_id } => Some((&p.email, user_id)),
                _ => None,
            })
        })
        .collect();
    let people: Vec<&Person> = plans.iter().filter_map(|p| p.person.as_ref()).collect();
    let removals = planner::prune_removals(rosters, &people, |email| {
        adopted
            .get(email)
            .map(|id| (*id).clone())
            .or_else(|| plan::known_user(audit.prior(email)).cloned())
    });
    for warning in &removals.warnings {
        printer.warn(warning);
    }
    let now = Utc::now();
    let needing: Vec<Email> = removals
        .by_email
        .keys()
        .filter(|email| planner::prune_needs_teams(audit.prior(email), now))
        .cloned()
        .collect();
    let lookups = read_users(client, retry, shutdown, needing, audit).await?;
    Ok(removals
        .by_email
        .into_iter()
        .map(|(email, memberships)| {
            let lookup = lookups.get(&email).cloned().unwrap_or_default();
            planner::prune(&email, &memberships, audit.prior(&email), &lookup, now)
        })
        .collect())
}

/// Asks the proxy, once and without a write, whether it deletes users in bulk.
async fn bulk_deletes(client: &crate::proxy::ProxyClient) -> bool {
    match client.bulk_support().await {
        Ok(support) => support.deletes,
        Err(e) => {
            tracing::info!("/openapi.json: {e}; deleting users one at a time");
            false
        }
    }
}
