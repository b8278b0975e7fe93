//! Chunks: splitting the bulk-created people, and creating one chunk's users.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Utc;

use super::ChunkReport;
use crate::audit::record::{Record, UserOrigin};
use crate::input::Person;
use crate::plan::Lookup;
use crate::proxy::ProxyError;
use crate::proxy::api::NewUser;
use crate::proxy::bulk::{MAX_BULK_ROWS, RowOutcome};
use crate::proxy::client::ProxyClient;
use crate::proxy::pacer::RetryPolicy;
use crate::types::{Email, TeamId, UserId};

/// What became of a person in their chunk.
#[derive(Clone, Debug)]
pub(super) enum Made {
    /// Created (the record, journaled, holds the user id); `missing`: the teams the create
    /// asked for that the proxy did not say the user joined (each gets `add_to_team`).
    Created {
        record: Box<Record>,
        missing: Vec<TeamId>,
    },
    /// Not created in bulk: the plan goes the per-person way (`/user/new`, adopt on exists).
    PerPerson,
    /// The proxy has a user with this email: adopted by one exact look-up, no `/user/new`.
    Exists,
    /// The person fails.
    Failed { message: String, reason: String },
}

/// Splits the bulk-created people into ceil(n / 500) chunks of near-equal size.
pub(super) fn chunks<T>(people: Vec<T>) -> Vec<Vec<T>> {
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

/// The record of a user created (or found after a lost answer) in a chunk: the user id, no
/// invitation. A team is recorded only once the user is known to be in it (not `missing`),
/// so a re-run after a kill adds them to the others.
fn created_record(
    person: &Person,
    prior: Option<Record>,
    user_id: UserId,
    origin: UserOrigin,
    missing: &[TeamId],
) -> Record {
    let now = Utc::now();
    let mut record = prior.unwrap_or_else(|| Record::new(person.email.clone(), now));
    record.set_user(user_id, origin, now);
    crate::apply::person::describe(&mut record, person, false);
    for team in person.teams().filter(|t| !missing.contains(t)) {
        record.note_added_to(team, now);
    }
    record
}

/// Every team the create asks for (all of the row's, none for a team admin: they join by
/// `add_to_team`) that `teams` (the proxy's answer, or the user's row) does not list.
pub(super) fn missing(teams: Option<&Vec<String>>, person: &Person) -> Vec<TeamId> {
    let listed = |team: &str| teams.is_some_and(|t| t.iter().any(|id| id == team));
    crate::apply::person::new_user(person)
        .teams
        .into_iter()
        .filter(|team| !listed(team))
        .map(TeamId::new)
        .collect()
}

/// Creates one chunk's users; never fails as a whole (whatever it could not do goes the
/// per-person way).
pub(super) async fn create_chunk(
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
                       missing: Vec<TeamId>| {
        let record = created_record(&person, prior, user_id, UserOrigin::Created, &missing);
        records.push((record.clone(), order));
        report.created += 1;
        made.insert(
            person.email,
            Made::Created {
                record: Box::new(record),
                missing,
            },
        );
    };
    let mut pending = entries;
    let mut attempts = retry.attempts().stop_on(client.pacer().stop());
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
                            let missing = missing(Some(&teams), &entry.1);
                            created(&mut made, &mut report, entry, user_id, missing);
                        }
                        RowOutcome::TeamNotFound(message) => {
                            let error = ProxyError::NotFound(message).of_team(&entry.1.team);
                            made.insert(
                                entry.1.email.clone(),
                                Made::Failed {
                                    message: error.to_string(),
                                    reason: error.reason(),
                                },
                            );
                        }
                        RowOutcome::Exists(_) => {
                            made.insert(entry.1.email.clone(), Made::Exists);
                        }
                        // `/user/new` gives its own answer.
                        RowOutcome::Refused(_) => {
                            made.insert(entry.1.email.clone(), Made::PerPerson);
                        }
                    }
                }
                continue;
            }
            Err(error) => error,
        };
        if matches!(error, ProxyError::CutShort) {
            // A second stop signal: nothing is looked up or sent again, and each person's
            // record says their user may have been made.
            for (_, person, _) in pending.drain(..) {
                let (message, reason) = (error.to_string(), error.reason());
                made.insert(person.email, Made::Failed { message, reason });
            }
            break;
        }
        if error.is_ambiguous() {
            // Some rows may have been created: look every email up before sending again.
            let emails: Vec<Email> = pending.iter().map(|(_, p, _)| p.email.clone()).collect();
            let found = look_up(client, retry, &emails, &mut report.requests).await;
            let mut still = Vec::new();
            for entry in pending.drain(..) {
                match found.get(&entry.1.email) {
                    Some(Lookup::Absent) => still.push(entry),
                    Some(Lookup::Found(row)) => {
                        let missing = missing(row.teams.as_ref(), &entry.1);
                        let id = row.user_id.clone();
                        created(&mut made, &mut report, entry, id, missing);
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
            if first && !matches!(error, ProxyError::Unauthorized(_) | ProxyError::Interrupted) {
                report.warning = Some(format!(
                    "the proxy refused to create users in bulk ({error}); creating them one at a time for the rest of this run"
                ));
            }
            break;
        }
        if pending.is_empty() || attempts.again(error).await.is_err() {
            break;
        }
    }
    for (_, person, _) in pending {
        made.entry(person.email).or_insert(Made::PerPerson);
    }
    (records, made, report)
}

/// Looks the emails up one request at a time (the chunk holds one lane of the limiter), one
/// exact look-up each: the cost is the chunk's, never the proxy's size. A read that fails
/// leaves its email unknown (absent from the map).
async fn look_up(
    client: &ProxyClient,
    retry: RetryPolicy,
    emails: &[Email],
    requests: &mut u32,
) -> HashMap<Email, Lookup> {
    let count = &mut |_| *requests += 1;
    let mut found = HashMap::new();
    for email in emails {
        if let Ok(rows) = client
            .retried(&retry, || client.find_users_by_email(email), &mut *count)
            .await
        {
            found.insert(email.clone(), crate::plan::Lookup::of(rows));
        }
    }
    found
}

/// How many bulk rows a run sends, by chunk (for tests and the README).
pub fn chunk_sizes(n: usize) -> Vec<usize> {
    chunks((0..n).collect()).iter().map(Vec::len).collect()
}
