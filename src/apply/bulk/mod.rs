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

mod chunk;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use chrono::Utc;
use tokio::sync::watch;

use crate::apply::Applied;
use crate::apply::drive::{Lanes, Notes, StopRun, drive};
use crate::apply::person::{Executor, Outcome, PersonResult};
use crate::apply::superseded::Cleanup;
use crate::audit::record::{Record, UserOrigin};
use crate::audit::{Audit, AuditError};
use crate::input::Person;
use crate::plan::{Action, PersonPlan};
use crate::shutdown::Shutdown;
use crate::types::Email;
pub use chunk::chunk_sizes;
use chunk::{Made, chunks, create_chunk};

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
    // Built from the back, the plans' buffer shrunk as it goes, so the plans are not held
    // twice (in the buffer and boxed in the jobs); then put in order.
    let mut plans = plans;
    let mut jobs = Vec::with_capacity(plans.len() + groups.len());
    while let Some(plan) = plans.pop() {
        let order = plans.len() as u64;
        let chunk = chunk_of.get(&order).copied();
        match firsts.get(&order) {
            Some(&k) => {
                if k + 1 < groups.len() {
                    jobs.push(Job::Chunk(k + 1));
                }
                jobs.push(Job::Person(order, Box::new(plan), chunk));
                if k == 0 {
                    jobs.push(Job::Chunk(0));
                }
            }
            None => jobs.push(Job::Person(order, Box::new(plan), chunk)),
        }
        if plans.len().is_multiple_of(4096) {
            plans.shrink_to_fit();
        }
    }
    jobs.reverse();
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
    Ok(Applied::of(ending, started, &limiter))
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
