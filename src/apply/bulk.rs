//! Creating users in bulk (`POST /management/v1/users/bulk`), pipelined with the invitations.
//!
//! The people whose plan starts with `create_user` are split into chunks of at most
//! [`MAX_BULK_ROWS`]. Chunks and people go through the one driver: a chunk is a job of its
//! own, queued just before the first person of the chunk before it, so the next chunk is
//! created while the current one is being invited. A person of a chunk waits until the chunk
//! is created **and journaled** (user id, no invitation), then carries out the rest of the
//! plan; a kill at any point leaves records a re-run only invites.
//!
//! Safety rules of the chunk job:
//! - a row that failed because its email exists (the proxy makes up a `user_id` for it, which
//!   is never recorded) goes the per-person way: `/user/new` refuses, the user is looked up
//!   and adopted;
//! - a row naming an unknown team fails that person alone ("team not found");
//! - an ambiguous failure of the whole request (timeout, reset, 5xx) is followed by a look-up
//!   of every email of the chunk before anything is sent again: users found are adopted as
//!   created by this run, only the absent ones are sent again;
//! - a 4xx for the whole request (a licence limit's 403, a 422) turns bulk off for the rest
//!   of the run (one warning): everyone left goes the per-person way.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use chrono::Utc;
use tokio::sync::watch;

use crate::apply::Applied;
use crate::apply::drive::{Lanes, Notes, StopRun, drive};
use crate::apply::pacer::RetryPolicy;
use crate::apply::person::{Executor, Outcome, PersonResult};
use crate::apply::superseded::Cleanup;
use crate::audit::record::{Record, UserOrigin};
use crate::audit::{Audit, AuditError};
use crate::input::Person;
use crate::known;
use crate::plan::{Action, Lookup, PersonPlan};
use crate::proxy::ProxyError;
use crate::proxy::api::NewUser;
use crate::proxy::bulk::{MAX_BULK_ROWS, RowOutcome};
use crate::proxy::client::ProxyClient;
use crate::shutdown::Shutdown;
use crate::types::{Email, UserId};

/// What a chunk job reports besides the people it created.
#[derive(Debug, Default)]
pub struct ChunkReport {
    /// Requests sent (bulk requests and look-ups).
    pub requests: u32,
    /// Rows sent in the chunk.
    pub rows: usize,
    /// Users created (or found after a lost answer).
    pub created: usize,
    /// Set once, when the proxy refused a whole bulk request: the run goes on per person.
    pub warning: Option<String>,
}

/// What became of a person in their chunk.
#[derive(Clone, Debug)]
enum Made {
    /// Created (the record, journaled, holds the user id); `in_team` when the proxy said the
    /// user joined the team.
    Created { record: Box<Record>, in_team: bool },
    /// Not created in bulk: the plan goes the per-person way (`/user/new`, adopt on exists).
    PerPerson,
    /// The person fails.
    Failed { message: String, reason: String },
}

/// A created chunk, shared by its people: each takes (removes) their entry, so the records
/// are freed as the chunk is invited.
type Chunk = Arc<std::sync::Mutex<HashMap<Email, Made>>>;

enum Job {
    Chunk(usize),
    Person(u64, Box<PersonPlan>, Option<usize>),
}

enum Finished {
    Chunk(usize, Vec<(Record, u64)>, Chunk, ChunkReport),
    Person(Box<PersonResult>, u64),
}

type JobFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Finished, StopRun>> + Send>>;

/// The people of one chunk: (input order, the person).
type Members = Vec<(u64, Person)>;

/// Splits the bulk-created people into ceil(n / 500) chunks of near-equal size.
fn chunks(people: Vec<(u64, Person)>) -> Vec<Members> {
    let n = people.len();
    if n == 0 {
        return Vec::new();
    }
    let count = n.div_ceil(MAX_BULK_ROWS);
    let (base, extra) = (n / count, n % count);
    let mut rest = people.into_iter();
    (0..count)
        .map(|i| rest.by_ref().take(base + usize::from(i < extra)).collect())
        .collect()
}

/// True when the plan's first step is creating the user (what bulk does instead).
pub fn creates_user(plan: &PersonPlan) -> bool {
    plan.actions.first() == Some(&Action::CreateUser) && plan.person.is_some()
}

/// The driver's queue: each chunk right before the first person of the chunk before it (the
/// first chunk first), then the people in input order.
fn queue(plans: Vec<PersonPlan>) -> (Vec<Job>, Vec<Members>) {
    let bulk: Vec<(u64, Person)> = plans
        .iter()
        .enumerate()
        .filter(|(_, p)| creates_user(p))
        .map(|(i, p)| (i as u64, p.person.clone().expect("checked")))
        .collect();
    let groups = chunks(bulk);
    let mut chunk_of = HashMap::new();
    let mut firsts = HashMap::new();
    for (k, members) in groups.iter().enumerate() {
        firsts.insert(members[0].0, k);
        for (order, _) in members {
            chunk_of.insert(*order, k);
        }
    }
    let mut jobs = Vec::with_capacity(plans.len() + groups.len());
    for (i, plan) in plans.into_iter().enumerate() {
        let order = i as u64;
        let chunk = chunk_of.get(&order).copied();
        if let Some(&k) = firsts.get(&order) {
            if k == 0 {
                jobs.push(Job::Chunk(0));
            }
            jobs.push(Job::Person(order, Box::new(plan), chunk));
            if k + 1 < groups.len() {
                jobs.push(Job::Chunk(k + 1));
            }
        } else {
            jobs.push(Job::Person(order, Box::new(plan), chunk));
        }
    }
    (jobs, groups)
}

/// Carries out onboarding plans like [`crate::apply::apply`], with the users of plans that
/// start with `create_user` created in bulk. `chunk` sees each chunk's report.
#[allow(clippy::too_many_arguments)]
pub async fn apply_bulk<S, P: Notes>(
    executor: &Executor,
    plans: Vec<PersonPlan>,
    audit: &mut Audit,
    printer: &mut P,
    shutdown: &Shutdown,
    state: &mut S,
    mut each: impl FnMut(&mut S, &PersonResult, &mut P),
    mut chunk: impl FnMut(&mut S, &ChunkReport, &mut P),
) -> Result<Applied, AuditError> {
    let started = Instant::now();
    let limiter = Arc::clone(executor.client.pacer().limiter());
    let (jobs, groups) = queue(plans);
    let published: Vec<watch::Sender<Option<Chunk>>> =
        groups.iter().map(|_| watch::channel(None).0).collect();
    let mut groups: Vec<Option<Members>> = groups.into_iter().map(Some).collect();
    let disabled = Arc::new(AtomicBool::new(false));
    let mut ctx = (audit, state);
    let ending = drive(
        Lanes {
            limiter: &limiter,
            shutdown,
            what: "people",
            finish_first: false,
        },
        &mut ctx,
        jobs,
        printer,
        |(audit, _), job| {
            let executor = executor.clone();
            match job {
                Job::Chunk(k) => {
                    let members = groups[k].take().unwrap_or_default();
                    let entries: Vec<(u64, Person, Option<Record>)> = members
                        .into_iter()
                        .map(|(order, person)| {
                            let prior = audit.prior(&person.email).cloned();
                            (order, person, prior)
                        })
                        .collect();
                    let disabled = Arc::clone(&disabled);
                    let job: JobFuture = Box::pin(async move {
                        let (records, made, report) =
                            create_chunk(&executor.client, executor.retry, &disabled, entries)
                                .await;
                        Ok(Finished::Chunk(
                            k,
                            records,
                            Arc::new(std::sync::Mutex::new(made)),
                            report,
                        ))
                    });
                    job
                }
                Job::Person(order, plan, k) => {
                    let prior = audit.prior(&plan.email).cloned();
                    let waiting = k.map(|k| published[k].subscribe());
                    let job: JobFuture = Box::pin(async move {
                        let made = match waiting {
                            None => None,
                            Some(mut rx) => Some(match rx.wait_for(Option::is_some).await {
                                Ok(chunk) => chunk
                                    .as_ref()
                                    .and_then(|c| c.lock().expect("chunk lock").remove(&plan.email))
                                    .unwrap_or(Made::PerPerson),
                                Err(_) => Made::PerPerson,
                            }),
                        };
                        let result = person(&executor, *plan, prior, made).await?;
                        Ok(Finished::Person(Box::new(result), order))
                    });
                    job
                }
            }
        },
        |(audit, state), batch: Vec<Finished>, printer| {
            let mut records = Vec::new();
            let mut chunks = Vec::new();
            for done in &batch {
                match done {
                    Finished::Person(r, order) if r.changed => {
                        records.push((r.record.clone(), *order));
                    }
                    Finished::Person(..) => {}
                    Finished::Chunk(_, created, ..) => records.extend(created.iter().cloned()),
                }
            }
            // Created users are durable before anyone of their chunk goes on.
            audit.append(records)?;
            for done in batch {
                match done {
                    Finished::Person(result, _) => each(state, &result, printer),
                    Finished::Chunk(k, _, made, report) => {
                        chunk(state, &report, printer);
                        chunks.push((k, made));
                    }
                }
            }
            for (k, made) in chunks {
                published[k].send_replace(Some(made));
            }
            Ok(())
        },
    )
    .await?;
    Ok(Applied {
        interrupted: ending.interrupted,
        stopped: ending.stopped,
        not_started: ending.not_started,
        seconds: started.elapsed().as_secs_f64(),
        peak_concurrency: limiter.peak_limit(),
    })
}

/// Carries out one person's plan once their chunk (if any) is done.
async fn person(
    executor: &Executor,
    plan: PersonPlan,
    prior: Option<Record>,
    made: Option<Made>,
) -> Result<PersonResult, StopRun> {
    match made {
        None | Some(Made::PerPerson) => executor.apply(plan, prior).await,
        Some(Made::Created { record, in_team }) => {
            // `create_user` is done: the rest of the plan, from the journaled record.
            let mut rest = plan.clone();
            rest.actions.remove(0);
            if !in_team {
                let team = plan
                    .person
                    .as_ref()
                    .expect("bulk plans have a person")
                    .team
                    .clone();
                rest.actions.insert(0, Action::AddToTeam { team });
            }
            let created = record.user == Some(UserOrigin::Created);
            let mut result = executor.apply(rest, Some(*record)).await?;
            result.plan = plan;
            result.created = created;
            Ok(result)
        }
        Some(Made::Failed { message, reason }) => {
            let now = Utc::now();
            let mut record = prior.unwrap_or_else(|| Record::new(plan.email.clone(), now));
            record.set_failed(message, now);
            Ok(PersonResult {
                plan,
                record,
                changed: true,
                outcome: Outcome::Failed { reason },
                created: false,
                requests: 0,
                delete_failed: Vec::new(),
                cleanup: Cleanup::default(),
                lost_invitations: 0,
            })
        }
    }
}

/// The record of a user created (or found after a lost answer) in a chunk: the user id, no
/// invitation. The team is recorded only once the user is known to be in it, so a re-run
/// after a kill adds them to it.
fn created_record(
    person: &Person,
    prior: Option<Record>,
    user_id: UserId,
    origin: UserOrigin,
    in_team: bool,
) -> Record {
    let now = Utc::now();
    let mut record = prior.unwrap_or_else(|| Record::new(person.email.clone(), now));
    record.set_user(user_id, origin, now);
    record.user_role = Some(person.role);
    if person.alias.is_some() {
        record.user_alias = person.alias.clone();
    }
    if in_team {
        record.team_id = Some(person.team.clone());
    }
    record
}

fn in_team(teams: Option<&Vec<String>>, person: &Person) -> bool {
    teams.is_some_and(|t| t.iter().any(|id| id == person.team.as_str()))
}

/// Creates one chunk's users; never fails as a whole (whatever it could not do goes the
/// per-person way).
async fn create_chunk(
    client: &ProxyClient,
    retry: RetryPolicy,
    disabled: &AtomicBool,
    entries: Vec<(u64, Person, Option<Record>)>,
) -> (Vec<(Record, u64)>, HashMap<Email, Made>, ChunkReport) {
    let mut report = ChunkReport {
        rows: entries.len(),
        ..ChunkReport::default()
    };
    let mut made = HashMap::new();
    let mut records = Vec::new();
    let mut created = |made: &mut HashMap<Email, Made>,
                       report: &mut ChunkReport,
                       (order, person, prior): (u64, Person, Option<Record>),
                       user_id: UserId,
                       joined: bool| {
        let record = created_record(&person, prior, user_id, UserOrigin::Created, joined);
        records.push((record.clone(), order));
        report.created += 1;
        made.insert(
            person.email,
            Made::Created {
                record: Box::new(record),
                in_team: joined,
            },
        );
    };
    let mut pending = entries;
    let mut attempt = 0;
    while !pending.is_empty() {
        if disabled.load(Ordering::Relaxed) {
            break;
        }
        let rows: Vec<NewUser> = pending
            .iter()
            .map(|(_, p, _)| crate::apply::person::new_user(p))
            .collect();
        let answer = client.bulk_new_users(&rows).await;
        drop(rows);
        report.requests += 1;
        let error = match answer {
            Ok(results) => {
                for (entry, result) in pending.drain(..).zip(results) {
                    let echoed = result.user_email.as_deref().map(Email::unchecked);
                    if echoed.is_some_and(|e| e != entry.1.email) {
                        // Not the row we sent: take nothing from it.
                        made.insert(entry.1.email.clone(), Made::PerPerson);
                        continue;
                    }
                    match result.outcome() {
                        RowOutcome::Created { user_id, teams } => {
                            let joined = in_team(Some(&teams), &entry.1);
                            created(&mut made, &mut report, entry, user_id, joined);
                        }
                        RowOutcome::TeamNotFound(message) => {
                            let team = &entry.1.team;
                            made.insert(
                                entry.1.email.clone(),
                                Made::Failed {
                                    message: format!("team {team} not found: {message}"),
                                    reason: "team not found".into(),
                                },
                            );
                        }
                        // Exists: `/user/new` refuses and the executor adopts the user.
                        // Anything else: `/user/new` gives its own answer.
                        RowOutcome::Exists(_) | RowOutcome::Refused(_) => {
                            made.insert(entry.1.email.clone(), Made::PerPerson);
                        }
                    }
                }
                continue;
            }
            Err(error) => error,
        };
        if error.is_ambiguous() {
            // Some rows may have been created: look every email up before sending again.
            let emails: Vec<Email> = pending.iter().map(|(_, p, _)| p.email.clone()).collect();
            let found = look_up(client, retry, &emails, &mut report.requests).await;
            let mut still = Vec::new();
            for entry in pending.drain(..) {
                match found.get(&entry.1.email) {
                    Some(Lookup::Absent) => still.push(entry),
                    Some(Lookup::Found(row)) => {
                        let joined = in_team(row.teams.as_ref(), &entry.1);
                        let id = row.user_id.clone();
                        created(&mut made, &mut report, entry, id, joined);
                    }
                    Some(Lookup::Several(ids)) => {
                        let error = ProxyError::SeveralUsers {
                            email: entry.1.email.clone(),
                            user_ids: ids.clone(),
                        };
                        made.insert(
                            entry.1.email.clone(),
                            Made::Failed {
                                message: error.to_string(),
                                reason: error.reason(),
                            },
                        );
                    }
                    // Unknown: the per-person way asks `/user/new`, which refuses an email
                    // that exists, and adopts that user.
                    _ => {
                        made.insert(entry.1.email.clone(), Made::PerPerson);
                    }
                }
            }
            pending = still;
        } else if !error.is_retryable() {
            let first = !disabled.swap(true, Ordering::Relaxed);
            if first && !matches!(error, ProxyError::Unauthorized(_)) {
                report.warning = Some(format!(
                    "the proxy refused to create users in bulk ({error}); creating them one at a time for the rest of this run"
                ));
            }
            break;
        }
        attempt += 1;
        if attempt > retry.retries {
            tracing::info!(
                "bulk create: giving up after {attempt} attempts: {}",
                error.reason()
            );
            break;
        }
        let wait = retry.delay(attempt, &error);
        tracing::info!(
            "bulk create: retry {attempt}/{} in {wait:.1?}: {}",
            retry.retries,
            error.reason()
        );
        tokio::time::sleep(wait).await;
    }
    for (_, person, _) in pending {
        made.entry(person.email).or_insert(Made::PerPerson);
    }
    (records, made, report)
}

/// Looks the emails up one request at a time (the chunk holds one lane of the limiter):
/// by listing every user when that takes fewer requests, else one exact look-up each. A read
/// that fails leaves its emails unknown (absent from the map).
async fn look_up(
    client: &ProxyClient,
    retry: RetryPolicy,
    emails: &[Email],
    requests: &mut u32,
) -> HashMap<Email, Lookup> {
    let count = &mut |_| *requests += 1;
    let first = retry.run(|| client.users_page(1), &mut *count).await;
    let Ok((rows, pages)) = first else {
        return HashMap::new();
    };
    if pages as usize <= emails.len() {
        let mut all = rows;
        for page in 2..=pages {
            match retry.run(|| client.users_page(page), &mut *count).await {
                Ok((more, _)) => all.extend(more),
                Err(_) => return HashMap::new(),
            }
        }
        return known::by_email(all.into_iter(), emails.to_vec());
    }
    let mut found = HashMap::new();
    for email in emails {
        if let Ok(rows) = retry
            .run(|| client.find_users_by_email(email), &mut *count)
            .await
        {
            found.insert(email.clone(), known::lookup_of(rows));
        }
    }
    found
}

/// How many bulk rows a run sends, by chunk (for tests and the README).
pub fn chunk_sizes(n: usize) -> Vec<usize> {
    let people = (0..n as u64)
        .map(|i| {
            (
                i,
                Person {
                    line: i,
                    email: Email::unchecked(&format!("p{i}@x.example")),
                    team: crate::types::TeamId::new("t"),
                    role: crate::types::Role::InternalUser,
                    alias: None,
                    more_teams: Vec::new(),
                    settings: Default::default(),
                },
            )
        })
        .collect();
    chunks(people).iter().map(Vec::len).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_at_most_500_and_as_few_as_possible() {
        assert_eq!(chunk_sizes(0), Vec::<usize>::new());
        assert_eq!(chunk_sizes(3), [3]);
        assert_eq!(chunk_sizes(500), [500]);
        assert_eq!(chunk_sizes(501), [251, 250]);
        assert_eq!(chunk_sizes(1000), [500, 500]);
        assert_eq!(chunk_sizes(1201), [401, 400, 400]);
    }

    #[test]
    fn each_chunk_is_queued_before_its_people_and_one_chunk_ahead() {
        let person = |i: u64| Person {
            line: i,
            email: Email::unchecked(&format!("p{i}@x.example")),
            team: crate::types::TeamId::new("t"),
            role: crate::types::Role::InternalUser,
            alias: None,
            more_teams: Vec::new(),
            settings: Default::default(),
        };
        let plan = |i: u64, create: bool| {
            let mut p = crate::plan::invalid(person(i).email, i, String::new());
            p.skip = None;
            p.person = Some(person(i));
            p.actions = if create {
                vec![Action::CreateUser, Action::Invite]
            } else {
                vec![Action::Invite]
            };
            p
        };
        let plans: Vec<PersonPlan> = (0..1002).map(|i| plan(i, i != 1)).collect();
        let (jobs, groups) = queue(plans);
        assert_eq!(
            groups.iter().map(Vec::len).collect::<Vec<_>>(),
            [334, 334, 333]
        );
        let shape: Vec<String> = jobs
            .iter()
            .map(|j| match j {
                Job::Chunk(k) => format!("C{k}"),
                Job::Person(o, _, k) => format!("{o}:{k:?}"),
            })
            .collect();
        assert_eq!(shape[..5], ["C0", "0:Some(0)", "C1", "1:None", "2:Some(0)"]);
        let c2 = shape.iter().position(|s| s == "C2").unwrap();
        assert_eq!(shape[c2 - 1], "335:Some(1)");
        assert_eq!(jobs.len(), 1002 + 3);
    }
}

#[cfg(test)]
mod against_the_emulator {
    use super::*;
    use crate::apply::pacer::{Limiter, Pacer};
    use crate::proxy::client::ClientOptions;
    use crate::types::{MasterKey, Role, TeamId};

    const DEV_TEST: &str = "f6dbea80-21b4-4f7b-a669-3d6adcc6e8d1";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rows_fail_alone_an_unknown_team_fails_its_person_an_existing_email_goes_per_person() {
        let emulator =
            litellm_emulator::Emulator::start(litellm_emulator::EmulatorConfig::default())
                .await
                .unwrap();
        let existing = emulator.add_user("taken@company.com", &[DEV_TEST]);
        let pacer = Arc::new(Pacer::new(Arc::new(Limiter::fixed(4)), None));
        let url = url::Url::parse(&emulator.url()).unwrap();
        let client = ProxyClient::new(
            &url,
            MasterKey::new(emulator.master_key()),
            &ClientOptions::default(),
            pacer,
        )
        .unwrap();
        let entry = |i: u64, email: &str, team: &str| {
            let person = Person {
                line: i,
                email: Email::unchecked(email),
                team: TeamId::new(team),
                role: Role::InternalUser,
                alias: None,
                more_teams: Vec::new(),
                settings: Default::default(),
            };
            (i, person, None)
        };
        let entries = vec![
            entry(0, "new@company.com", DEV_TEST),
            entry(1, "lost@company.com", "no-such-team"),
            entry(2, "TAKEN@company.com", DEV_TEST),
        ];
        let disabled = AtomicBool::new(false);
        let (records, made, report) =
            create_chunk(&client, RetryPolicy::default(), &disabled, entries).await;
        assert_eq!(report.requests, 1);
        assert_eq!(report.created, 1);
        assert_eq!(records.len(), 1, "only the created user is journaled");
        let new = &made[&Email::unchecked("new@company.com")];
        let Made::Created { record, in_team } = new else {
            panic!("{new:?}")
        };
        assert!(*in_team);
        assert_eq!(record.user, Some(UserOrigin::Created));
        assert!(record.invitation_id.is_none());
        let user = emulator.user(record.user_id.as_ref().unwrap().as_str());
        assert_eq!(user.unwrap().key_count, 0);
        let lost = &made[&Email::unchecked("lost@company.com")];
        assert!(
            matches!(lost, Made::Failed { reason, .. } if reason == "team not found"),
            "{lost:?}"
        );
        assert!(emulator.users_with_email("lost@company.com").is_empty());
        assert!(matches!(
            made[&Email::unchecked("taken@company.com")],
            Made::PerPerson
        ));
        assert_eq!(
            emulator.users_with_email("taken@company.com")[0].user_id,
            existing
        );
        assert!(!disabled.load(Ordering::Relaxed));
    }
}
