//! `onboard <CSV>` and `onboard invite`: input → plan → apply → audit → printer.

mod steps;

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use crate::apply::Summary;
use crate::apply::person::Executor;
use crate::commands::preflight;
use crate::config::{BulkTask, Config, InviteTask};
use crate::error::{Exit, Fatal};
use crate::input::{self, Defaults, Person, Roster};
use crate::output::Printer;
use crate::plan::{self, OnboardOptions, Pending, PersonPlan, Skip};
use crate::shutdown::Shutdown;
use crate::types::BulkMode;
use crate::types::{Email, Role, TeamId, no_control};
use steps::{bulk_available, look_up, run};

/// The most row problems listed before "and N more".
const PROBLEM_CAP: usize = 50;

/// `onboard <CSV>`.
pub async fn bulk(config: Config, args: &BulkTask, shutdown: Shutdown) -> Result<Exit, Fatal> {
    let csv = args.csv.as_path();
    let mut printer = Printer::new(config.format, config.quiet);
    if let Some(team) = &args.team {
        no_control(team).map_err(|m| Fatal::new(format!("--team: {m}")))?;
    }
    let defaults = Defaults {
        team: args.team.as_deref().map(TeamId::new),
        role: args.role,
    };
    let roster = input::read_csv(csv, &defaults).map_err(Fatal::caused)?;
    report_input(csv, &roster, args.skip_invalid, &mut printer)?;
    if args.prune && !roster.problems.is_empty() {
        return Err(Fatal::new(format!(
            "{}: --prune needs every row valid (a skipped row's person would be pruned)",
            csv.display()
        )));
    }
    let people = roster.people;
    let invalid = if args.skip_invalid {
        roster.problems
    } else {
        Vec::new()
    };
    let options = OnboardOptions {
        reinvite: args.reinvite,
        no_invite: args.no_invite,
        ..OnboardOptions::default()
    };
    onboard_people(
        config,
        people,
        invalid,
        Flags {
            options,
            dry_run: args.dry_run,
            prune: args.prune,
            yes: args.yes,
            bulk: args.bulk,
            grant: args.grant_key_permissions,
        },
        printer,
        shutdown,
    )
    .await
}

/// The flags of an onboarding run that change what it does.
#[derive(Clone, Copy, Default)]
struct Flags {
    options: OnboardOptions,
    dry_run: bool,
    /// `--bulk` (bulk only: `invite` creates one user).
    bulk: BulkMode,
    /// `--prune` (bulk only), and its `--yes`.
    prune: bool,
    yes: bool,
    /// `--grant-key-permissions`.
    grant: bool,
}

/// `onboard invite <EMAIL> --team <TEAM>`.
pub async fn invite(config: Config, args: &InviteTask, shutdown: Shutdown) -> Result<Exit, Fatal> {
    let printer = Printer::link_only(config.format, config.quiet);
    let email = Email::parse(&args.email).map_err(|m| Fatal::new(format!("<EMAIL>: {m}")))?;
    if let Some(alias) = &args.alias {
        no_control(alias).map_err(|m| Fatal::new(format!("--alias: {m}")))?;
    }
    no_control(&args.team).map_err(|m| Fatal::new(format!("--team: {m}")))?;
    let person = Person {
        line: 0,
        email,
        team: TeamId::new(args.team.trim()),
        role: args.role.unwrap_or(Role::InternalUser),
        alias: args.alias.clone(),
        more_teams: Vec::new(),
        settings: Default::default(),
    };
    let options = OnboardOptions {
        reinvite: args.reinvite,
        ..OnboardOptions::default()
    };
    onboard_people(
        config,
        vec![person],
        Vec::new(),
        Flags {
            options,
            dry_run: args.dry_run,
            bulk: BulkMode::Never,
            grant: args.grant_key_permissions,
            ..Flags::default()
        },
        printer,
        shutdown,
    )
    .await
}

fn report_input(
    csv: &Path,
    roster: &Roster,
    skip_invalid: bool,
    printer: &mut Printer,
) -> Result<(), Fatal> {
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
            "{}: skipping {} invalid row(s) (--skip-invalid):\n  {}",
            csv.display(),
            roster.problems.len(),
            listed.join("\n  ")
        ));
        return Ok(());
    }
    Err(Fatal::new(format!("{}: {} invalid row(s); nothing was sent:\n  {}", csv.display(), roster.problems.len(), listed.join("\n  ")))
        .hint("fix the rows, or pass --skip-invalid to onboard the valid ones and record the rest as failed"))
}

#[allow(clippy::too_many_arguments)]
async fn onboard_people(
    config: Config,
    mut people: Vec<Person>,
    invalid: Vec<input::RowProblem>,
    flags: Flags,
    mut printer: Printer,
    shutdown: Shutdown,
) -> Result<Exit, Fatal> {
    let Flags {
        options,
        dry_run,
        prune,
        yes,
        bulk,
        grant,
    } = flags;
    for warning in &config.warnings {
        printer.warn(warning);
    }
    let mut audit = preflight::open_audit(&config.results, &mut printer)?;
    let client = preflight::connect(&config, &shutdown, &mut audit)?;
    let teams: BTreeSet<TeamId> = people.iter().flat_map(|p| p.teams().cloned()).collect();
    let mut checked = preflight::unless_stopped(
        &shutdown,
        preflight::check(
            &client,
            &teams,
            config.fix_default_user,
            dry_run,
            !options.no_invite,
            &mut printer,
        ),
    )
    .await?;
    printer.name_teams(checked.found.values());
    for person in &mut people {
        for team in std::iter::once(&mut person.team).chain(&mut person.more_teams) {
            if let Some(id) = checked.teams.get(team) {
                *team = id.clone();
            }
        }
    }
    let mailer = preflight::unless_stopped(
        &shutdown,
        crate::mail::setup(config.mail.as_ref(), config.timeout),
    )
    .await?;
    let options = OnboardOptions {
        send_email: mailer.is_some(),
        ..options
    };
    let retry = config.retry_policy();
    let grants = steps::report_teams(&checked, &people, grant, &mut printer);
    let options = OnboardOptions { prune, ..options };
    let mut onboarding = look_up(
        &client,
        retry,
        &shutdown,
        &people,
        &audit,
        &mut checked,
        options,
        dry_run,
    )
    .await?;
    onboarding.grants = grants;
    let existing = people
        .iter()
        .filter(|p| onboarding.invites_existing_user(p, audit.prior(&p.email)))
        .count();
    if existing > 0 {
        printer.warn(&format!(
            "{} a user on the proxy that the audit file does not know (made in the admin UI or by another tool): each gets a new invitation, a password link; if they already use the proxy, pass --no-invite to adopt them without one",
            has(existing)
        ));
    }
    let invalid = invalid_plans(&invalid, &people);
    let mut items: Vec<Pending> = people.into_iter().map(Pending::Person).collect();
    items.extend(invalid.into_iter().map(Pending::from));
    if dry_run || prune {
        // A dry run shows every plan, and pruning adds removals to them: both plan everyone
        // first. A plain run plans each person as the driver takes them.
        let mut plans: Vec<PersonPlan> = items
            .into_iter()
            .map(|p| {
                let record = audit.prior(p.email());
                onboarding.plan(p, record)
            })
            .collect();
        if prune {
            let others = crate::commands::offboard::prune_plans(
                &client,
                retry,
                &shutdown,
                &onboarding.rosters,
                &audit,
                &plans,
                &mut printer,
            )
            .await?;
            plans.extend(others);
        }
        if dry_run {
            crate::mail::preview(
                mailer.as_ref(),
                &plans,
                &audit,
                &checked.links,
                &mut printer,
            );
            printer.plans(&plans);
            let fails = plans
                .iter()
                .filter(|p| p.skip.as_ref().is_some_and(Skip::is_failure))
                .count();
            return Ok(Exit::of(fails, false));
        }
        confirm_removals(&plans, yes, &mut printer, &shutdown).await?;
        items = plans.into_iter().map(Pending::from).collect();
    }
    if checked.create_default_user {
        preflight::unless_stopped(
            &shutdown,
            preflight::create_default_user(&client, &mut printer),
        )
        .await?;
    }
    let executor = Executor {
        client,
        links: checked.links,
        retry,
    };
    let bulk = bulk == BulkMode::Auto
        && items
            .iter()
            .any(|p| onboarding.creates_user(p, audit.prior(p.email())))
        && bulk_available(&executor.client).await;
    printer.progress(items.len() as u64);
    let (run_result, recipients) = run(
        &executor,
        items,
        onboarding,
        bulk,
        &mut audit,
        &mut printer,
        &shutdown,
    )
    .await;
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
    let summary: Summary = run_result.map_err(Fatal::caused)?;
    let mailed = mailed.map_err(Fatal::caused)?;
    committed.map_err(Fatal::caused)?;
    mailed.print(&mut printer);
    printer.finish(&summary, &audit_path);
    if let Some(error) = summary.stopped {
        return Err(preflight::explain(error, &executor.client));
    }
    Ok(summary.exit(mailed.failed))
}

/// "1 person has", "2 people have".
fn has(n: usize) -> String {
    let verb = if n == 1 { "has" } else { "have" };
    format!("{} {verb}", crate::output::people(n))
}

/// The plans of the rows that failed validation (`--skip-invalid`): recorded as failed. Each
/// email runs once: a row whose email a valid row has is left to that row (it is listed among
/// the invalid rows all the same), and of several invalid rows of one email the first is kept.
fn invalid_plans(invalid: &[input::RowProblem], people: &[Person]) -> Vec<PersonPlan> {
    let mut seen: HashSet<Email> = HashSet::new();
    let mut plans: Vec<PersonPlan> = invalid
        .iter()
        .filter_map(|problem| {
            let raw = problem.raw_email.as_deref()?;
            let email = Email::unchecked(raw);
            seen.insert(email.clone()).then(|| {
                plan::invalid(
                    email,
                    problem.line,
                    format!("invalid row (line {}): {}", problem.line, problem.detail()),
                )
            })
        })
        .collect();
    if !plans.is_empty() {
        let valid: HashSet<&Email> = people
            .iter()
            .map(|p| &p.email)
            .filter(|e| seen.contains(*e))
            .collect();
        plans.retain(|plan| !valid.contains(&plan.email));
    }
    plans
}

/// Asks for confirmation of a plan's removals (`--prune`), if it has any.
async fn confirm_removals(
    plans: &[PersonPlan],
    yes: bool,
    printer: &mut Printer,
    shutdown: &Shutdown,
) -> Result<(), Fatal> {
    let removing: Vec<PersonPlan> = plans
        .iter()
        .filter(|p| p.actions.iter().any(crate::plan::Action::removes))
        .cloned()
        .collect();
    if removing.is_empty() {
        printer.note("--prune: every team the CSV names has no member to remove");
        return Ok(());
    }
    if crate::commands::confirm::confirm(printer, &removing, plans.len(), yes, shutdown).await? {
        Ok(())
    } else {
        Err(Fatal::new("not confirmed: nothing was changed"))
    }
}
