//! Creating users in bulk (`POST /management/v1/users/bulk`), pipelined with the invitations.
//!
//! The people whose plan starts with `create_user` are split into chunks of at most
//! [`MAX_BULK_ROWS`]. Chunks and people go through the one driver: a chunk is a job of its
//! own, queued just after the first person of the chunk before it, so the next chunk is
//! created while the current one is being invited. A chunk plans its people when it starts;
//! each of them waits until the chunk is created **and journaled** (user id, no invitation),
//! then carries out the rest of the plan; a kill at any point leaves records a re-run only
//! invites.
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
use crate::plan::{Action, Onboarding, Pending, PersonPlan};
use crate::shutdown::Shutdown;
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

/// A created chunk, shared by its people by input order: each takes their entry, and the
/// last one frees the chunk's table (the driver holds every chunk to the end of the run).
type Chunk = Arc<std::sync::Mutex<HashMap<u64, Box<Member>>>>;

/// A person of a created chunk: their plan (made when the chunk started), their record as it
/// was then, and what the chunk did for them.
struct Member {
    plan: PersonPlan,
    prior: Option<Record>,
    made: Made,
}

enum Job {
    Chunk(usize),
    /// A person by input order, and their chunk if they are bulk-created.
    Person(u64, Option<usize>),
}

enum Finished {
    Chunk(usize, Vec<(Record, u64)>, Chunk, ChunkReport),
    Person(Box<PersonResult>, u64),
}

type JobFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Finished, StopRun>> + Send>>;

/// The input orders of one chunk's people.
type Members = Vec<u64>;

/// The driver's queue for `n` people of whom `members` (input orders, ascending) are
/// bulk-created: each chunk right after the first person of the chunk before it (the first
/// chunk right before its first person), and the people in input order.
fn queue(members: Vec<u64>, n: usize) -> (Vec<Job>, Vec<Members>) {
    let groups = chunks(members);
    let mut next = groups
        .iter()
        .enumerate()
        .flat_map(|(k, g)| g.iter().enumerate().map(move |(j, &o)| (o, k, j == 0)))
        .peekable();
    let mut jobs = Vec::with_capacity(n + groups.len());
    for order in 0..n as u64 {
        match next.next_if(|&(o, ..)| o == order) {
            Some((_, k, first)) => {
                if first && k == 0 {
                    jobs.push(Job::Chunk(0));
                }
                jobs.push(Job::Person(order, Some(k)));
                if first && k + 1 < groups.len() {
                    jobs.push(Job::Chunk(k + 1));
                }
            }
            None => jobs.push(Job::Person(order, None)),
        }
    }
    (jobs, groups)
}

/// Carries out an onboarding run like [`crate::apply::apply`], with the users of plans that
/// start with `create_user` created in bulk. Each person is planned when taken: a chunk's
/// people when the chunk starts, from their records as they were before it. `chunk` sees
/// each chunk's report.
#[allow(clippy::too_many_arguments)]
pub async fn apply_bulk<S, P: Notes>(
    executor: &Executor,
    items: Vec<Pending>,
    onboarding: &mut Onboarding,
    audit: &mut Audit,
    printer: &mut P,
    shutdown: &Shutdown,
    state: &mut S,
    mut each: impl FnMut(&mut S, &PersonResult, &mut P),
    mut chunk: impl FnMut(&mut S, &ChunkReport, &mut P),
) -> Result<Applied, AuditError> {
    let started = Instant::now();
    let limiter = Arc::clone(executor.client.pacer().limiter());
    let members: Vec<u64> = (0..items.len() as u64)
        .filter(|&i| {
            let item = &items[i as usize];
            onboarding.creates_user(item, audit.prior(item.email()))
        })
        .collect();
    let people = items.len();
    let (jobs, groups) = queue(members, people);
    let mut slots: Vec<Option<Pending>> = items.into_iter().map(Some).collect();
    let published: Vec<watch::Sender<Option<Chunk>>> =
        groups.iter().map(|_| watch::channel(None).0).collect();
    let mut groups: Vec<Option<Members>> = groups.into_iter().map(Some).collect();
    let disabled = Arc::new(AtomicBool::new(false));
    let mut ctx = (audit, state);
    // People handed to `each`, and people stopped before anything was sent whose user the
    // chunk made.
    let (mut reported, mut made_stopped) = (0, 0);
    let ending = drive(
        Lanes {
            limiter: &limiter,
            shutdown,
            what: "people",
            finish_first: false,
            unsampled: false,
        },
        &mut ctx,
        jobs,
        printer,
        |(audit, _), job| {
            let executor = executor.clone();
            match job {
                Job::Chunk(k) => {
                    let mut plans = Vec::new();
                    let mut entries = Vec::new();
                    for order in groups[k].take().unwrap_or_default() {
                        let Some(item) = slots[order as usize].take() else {
                            continue;
                        };
                        let prior = audit.prior(item.email()).cloned();
                        let plan = onboarding.plan(item, prior.as_ref());
                        if let Some(person) = plan.person.as_ref().filter(|_| plan.creates_user()) {
                            entries.push((order, person.clone(), prior.clone()));
                        }
                        plans.push((order, plan, prior));
                    }
                    let disabled = Arc::clone(&disabled);
                    let job: JobFuture = Box::pin(async move {
                        let (records, mut made, report) =
                            create_chunk(&executor.client, executor.retry, &disabled, entries)
                                .await;
                        let members = plans
                            .into_iter()
                            .map(|(order, plan, prior)| {
                                let made = made.remove(&plan.email).unwrap_or(Made::PerPerson);
                                (order, Box::new(Member { plan, prior, made }))
                            })
                            .collect();
                        let members = Arc::new(std::sync::Mutex::new(members));
                        Ok(Finished::Chunk(k, records, members, report))
                    });
                    job
                }
                Job::Person(order, None) => {
                    let item = slots[order as usize]
                        .take()
                        .expect("each person is taken once");
                    let prior = audit.prior(item.email()).cloned();
                    let plan = onboarding.plan(item, prior.as_ref());
                    let job: JobFuture = Box::pin(async move {
                        let result = executor.apply(plan, prior).await?;
                        Ok(Finished::Person(Box::new(result), order))
                    });
                    job
                }
                Job::Person(order, Some(k)) => {
                    let mut waiting = published[k].subscribe();
                    let job: JobFuture = Box::pin(async move {
                        let member = waiting
                            .wait_for(Option::is_some)
                            .await
                            .ok()
                            .and_then(|chunk| {
                                let mut chunk = chunk.as_ref()?.lock().expect("chunk lock");
                                let member = chunk.remove(&order);
                                if chunk.is_empty() {
                                    chunk.shrink_to_fit();
                                }
                                member
                            })
                            .expect("a chunk is published with each of its people");
                        let result = person(&executor, *member).await?;
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
                    Finished::Person(result, _) if result.not_started() => {
                        made_stopped += usize::from(result.created);
                    }
                    Finished::Person(result, _) => {
                        reported += 1;
                        each(state, &result, printer);
                    }
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
    let mut applied = Applied::of(ending, started, &limiter);
    // Counted by people: the driver's count of jobs not started includes chunks.
    applied.not_started = people - reported;
    applied.made_not_started = made_stopped + made_never_started(&published);
    Ok(applied)
}

/// Users made by a chunk whose person was never started (their record says so).
fn made_never_started(published: &[watch::Sender<Option<Chunk>>]) -> usize {
    published
        .iter()
        .filter_map(|chunk| chunk.borrow().clone())
        .map(|chunk| {
            let members = chunk.lock().expect("chunk lock");
            members
                .values()
                .filter(|m| {
                    matches!(&m.made, Made::Created { record, .. } if record.user == Some(UserOrigin::Created))
                })
                .count()
        })
        .sum()
}

/// Carries out a bulk-created person's plan once their chunk is done.
async fn person(executor: &Executor, member: Member) -> Result<PersonResult, StopRun> {
    let Member { plan, prior, made } = member;
    match made {
        Made::PerPerson => executor.apply(plan, prior).await,
        Made::Exists => executor.apply_known(plan, prior, true).await,
        Made::Created { record, missing } => {
            // `create_user` is done: the rest of the plan, from the journaled record, after
            // the teams the proxy did not say the user joined.
            let mut rest = plan.clone();
            rest.actions.splice(
                0..1,
                missing.into_iter().map(|team| Action::AddToTeam { team }),
            );
            let created = record.user == Some(UserOrigin::Created);
            let mut result = executor.apply(rest, Some(*record)).await?;
            result.plan = plan;
            result.created = created;
            Ok(result)
        }
        Made::Failed { message, reason } => {
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
