//! `onboard doctor [CSV | --team TEAM…]`: whether people can work. The checks pre-flight warns
//! of, for the teams a CSV names (or `--team`, or the audit file's), plus, for the people of
//! the audit file: an invitation about to expire, no key days after accepting (`key_count`,
//! one exact look-up a person, several at once within the run's limit), a membership gone from the team's roster. Reads only: nothing
//! is written, the audit file included. Exit 0: all is well; 1: something needs an admin.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, Utc};
use serde_json::json;

use crate::audit::record::{Record, proxy_name};
use crate::audit::{Audit, AuditError};
use crate::commands::preflight::{self, explain, unless_stopped};
use crate::config::{Config, DoctorTask};
use crate::error::{Exit, Fatal};
use crate::input::{self, Defaults, Person};
use crate::known;
use crate::output::{Format, Printer};
use crate::plan::readiness::{self, Finding};
use crate::proxy::ProxyClient;
use crate::proxy::api::Team;
use crate::shutdown::Shutdown;
use crate::types::{Email, TeamId, UserId};

/// `onboard doctor`.
pub async fn doctor(config: Config, args: &DoctorTask, shutdown: Shutdown) -> Result<Exit, Fatal> {
    let mut printer = Printer::new(config.format, config.quiet);
    for warning in &config.warnings {
        printer.warn(warning);
    }
    let rows = match &args.csv {
        Some(csv) => read_rows(csv, args.teams.first())?,
        None => Vec::new(),
    };
    let client = preflight::client(&config, &shutdown)?;
    let records = records_of(&config.results, &client)?;
    let examined = examine(&client, args, &rows, &records, &shutdown);
    let findings = unless_stopped(&shutdown, examined).await?;
    let (teams, people) = (findings.teams, findings.people);
    let found = findings.found;
    if config.format == Format::Json {
        let report = json!({
            "ok": found.iter().all(|f| !f.needs_admin),
            "teams": teams,
            "people": people,
            "findings": found,
        });
        printer.data(&serde_json::to_string_pretty(&report).expect("findings serialise"));
    } else if !found.is_empty() {
        let mut cells = vec![
            ["CHECK", "SUBJECT", "PEOPLE", "DETAIL"]
                .map(String::from)
                .to_vec(),
        ];
        cells.extend(found.iter().map(|f| {
            vec![
                f.problem.name().to_string(),
                f.subject.clone(),
                f.people.map_or("-".into(), |n| n.to_string()),
                f.detail.clone(),
            ]
        }));
        for line in crate::output::table(&cells) {
            printer.data(&line);
        }
    }
    printer.flush();
    let needs_admin = found.iter().filter(|f| f.needs_admin).count();
    printer.note(&match needs_admin {
        0 => format!("all well: {teams} team(s), {people} person(s) checked"),
        n => format!("{n} problem(s) need an admin: {teams} team(s), {people} person(s) checked"),
    });
    Ok(Exit::of(needs_admin, false))
}

/// The rows of the CSV (`--team` fills in a missing team, as for `onboard <CSV>`).
fn read_rows(csv: &std::path::Path, team: Option<&String>) -> Result<Vec<Person>, Fatal> {
    let defaults = Defaults {
        team: team.map(|t| TeamId::new(t.trim())),
        role: None,
    };
    let roster = input::read_csv(csv, &defaults).map_err(Fatal::caused)?;
    if let Some(problem) = roster.problems.first() {
        return Err(Fatal::new(format!(
            "{}: {} invalid row(s), the first: {problem}",
            csv.display(),
            roster.problems.len()
        ))
        .hint("fix the rows: doctor checks the CSV `onboard` would read"));
    }
    Ok(roster.people)
}

/// The audit file's records, as saved (nothing is locked or written); refused if they were
/// made on another proxy. No file: no records.
fn records_of(path: &std::path::Path, client: &ProxyClient) -> Result<Vec<Record>, Fatal> {
    if !Audit::exists(path) {
        return Ok(Vec::new());
    }
    let records = Audit::read_only(path).map_err(Fatal::caused)?;
    let proxy = proxy_name(client.base());
    if let Some(other) = records
        .iter()
        .filter_map(|r| r.proxy_url.as_deref())
        .find(|recorded| *recorded != proxy)
    {
        return Err(Fatal::caused(AuditError::OtherProxy {
            path: path.to_path_buf(),
            recorded: other.to_string(),
            proxy,
        }));
    }
    Ok(records)
}

struct Examined {
    found: Vec<Finding>,
    teams: usize,
    people: usize,
}

/// Reads what the checks need and runs them: the proxy's, each team's, each person's.
async fn examine(
    client: &ProxyClient,
    args: &DoctorTask,
    rows: &[Person],
    records: &[Record],
    shutdown: &Shutdown,
) -> Result<Examined, Fatal> {
    preflight::reachable_admin(client).await?;
    let (links, sso) = preflight::links(client).await;
    let mut found = preflight::proxy_findings(client, &links, sso).await;
    let now = Utc::now();
    let live = |r: &&Record| r.offboarded_at.is_none() && r.user_deleted_at.is_none();
    // The teams: the CSV's and --team (as written, resolved), else the audit file's (ids).
    let asked: BTreeSet<TeamId> = rows
        .iter()
        .flat_map(|p| p.teams().cloned())
        .chain(args.teams.iter().map(|t| TeamId::new(t.trim())))
        .collect();
    let mut teams: BTreeMap<TeamId, Option<Team>> = BTreeMap::new();
    if asked.is_empty() {
        let ids: BTreeSet<&TeamId> = records
            .iter()
            .filter(live)
            .filter_map(|r| r.team_id.as_ref())
            .collect();
        for id in ids {
            let team = client.team(id).await.map_err(|e| explain(e, client))?;
            teams.insert(id.clone(), team);
        }
    } else {
        for team in preflight::read_teams(client, &asked, preflight::TEAM_FLAG_HINT)
            .await?
            .into_values()
        {
            teams.insert(team.team_id.clone(), Some(team));
        }
    }
    // The people: the CSV's, else those of the teams asked for, else everyone.
    let emails: BTreeSet<&Email> = rows.iter().map(|p| &p.email).collect();
    let people: Vec<&Record> = records
        .iter()
        .filter(|r| match (rows.is_empty(), args.teams.is_empty()) {
            (false, _) => emails.contains(&r.email),
            (true, false) => r.team_id.as_ref().is_some_and(|t| teams.contains_key(t)),
            (true, true) => true,
        })
        .collect();
    let mut rosters: BTreeMap<&TeamId, BTreeSet<UserId>> = BTreeMap::new();
    for (id, team) in &teams {
        let Some(team) = team else {
            let touched = people
                .iter()
                .filter(|r| r.team_id.as_ref() == Some(id))
                .count();
            found.push(readiness::missing_team(id, touched));
            continue;
        };
        // The roster came with the team's read: no second `/team/info`.
        let members = &team.members;
        let roster: BTreeSet<UserId> = members.iter().filter_map(|m| m.user_id.clone()).collect();
        let in_team: Vec<&Person> = rows.iter().filter(|p| p.teams().any(|t| t == id)).collect();
        let affected = match rows.is_empty() {
            false => in_team.len(),
            true => members.iter().filter(|m| !m.is_admin()).count(),
        };
        found.extend(readiness::team_findings(team, affected, &in_team));
        rosters.insert(id, roster);
    }
    let no_key_after = Duration::days(i64::from(args.no_key_days));
    // Those who accepted long enough ago: their key counts, one exact look-up each, at once.
    let asked: Vec<UserId> = people
        .iter()
        .filter(|r| live(r) && r.accepted_at.is_some_and(|at| now - at >= no_key_after))
        .filter_map(|r| r.user_id.clone())
        .collect();
    let reader = client.clone();
    let rows = known::read_all(client, shutdown, asked.clone(), move |id| {
        let client = reader.clone();
        async move { client.user_row(&id).await }
    })
    .await
    .map_err(|stopped| preflight::reads_stopped(stopped, client))?;
    let key_counts: BTreeMap<UserId, Option<u64>> = asked
        .into_iter()
        .zip(rows)
        .map(|(id, row)| (id, row.and_then(|r| r.key_count)))
        .collect();
    for record in &people {
        let key_count = record
            .user_id
            .as_ref()
            .and_then(|id| key_counts.get(id).copied().flatten());
        let on_roster = match (&record.user_id, &record.team_id) {
            (Some(user_id), Some(team)) => rosters.get(team).map(|r| r.contains(user_id)),
            _ => None,
        };
        found.extend(readiness::person_findings(
            record,
            now,
            key_count,
            no_key_after,
            on_roster,
        ));
    }
    Ok(Examined {
        found,
        teams: teams.len(),
        people: people.len(),
    })
}
