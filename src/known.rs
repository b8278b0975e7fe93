//! What the proxy knows of the people a plan is about: reads only, bounded by the run's
//! limiter, stopped by the first stop signal. The plan is decided from these answers.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use crate::apply::drive::{Lanes, Silent, StopRun, drive};
use crate::audit::record::Record;
use crate::plan::{InvitationCheck, Lookup};
use crate::proxy::ProxyError;
use crate::proxy::api::UserRow;
use crate::proxy::client::ProxyClient;
use crate::proxy::pacer::{RetryPolicy, Tally};
use crate::shutdown::Shutdown;
use crate::types::{Email, InvitationId, UserId};

/// Why the reads stopped before every answer was in.
#[derive(Debug)]
pub enum Stopped {
    /// A stop signal came.
    Interrupted,
    /// A failure that would hit every read (the key, the proxy).
    Fatal(ProxyError),
}

/// Runs `read` for each item through the driver (at most the client's limit for unsampled
/// jobs at a time) and returns the answers in the items' order. A failure that would hit
/// every read (the key, the proxy) stops them all; so does a stop signal, after the reads in
/// flight are answered.
pub async fn read_all<T, R, Fut>(
    client: &ProxyClient,
    shutdown: &Shutdown,
    items: Vec<T>,
    read: impl Fn(T) -> Fut,
) -> Result<Vec<R>, Stopped>
where
    T: Send + 'static,
    R: Send + 'static,
    Fut: Future<Output = Result<R, ProxyError>> + Send + 'static,
{
    let mut answers: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    let read = |(i, item)| {
        let job = read(item);
        async move { job.await.map(|answer| (i, answer)) }
    };
    let keep = |(i, answer)| {
        answers[i] = Some(answer);
        Ok::<_, std::convert::Infallible>(())
    };
    read_each(client, shutdown, items.into_iter().enumerate(), read, keep)
        .await
        .unwrap_or_else(|never| match never {})?;
    if answers.iter().any(Option::is_none) {
        return Err(Stopped::Interrupted);
    }
    Ok(answers.into_iter().flatten().collect())
}

/// [`read_all`], handing each answer to `each` as it comes (in any order) instead of holding
/// them all. An error of `each` stops the reads (those in flight are answered and dropped)
/// and is returned as the outer error.
pub async fn read_each<T, R, E, Fut>(
    client: &ProxyClient,
    shutdown: &Shutdown,
    items: impl IntoIterator<Item = T>,
    read: impl Fn(T) -> Fut,
    mut each: impl FnMut(R) -> Result<(), E>,
) -> Result<Result<(), Stopped>, E>
where
    R: Send + 'static,
    Fut: Future<Output = Result<R, ProxyError>> + Send + 'static,
{
    let limiter = Arc::clone(client.pacer().limiter());
    let lanes = Lanes {
        limiter: &limiter,
        shutdown,
        what: "reads",
        finish_first: false,
        unsampled: true,
    };
    let ending = drive(
        lanes,
        &mut each,
        items,
        &mut Silent,
        |_, item| {
            let job = read(item);
            // Readers turn a person's failure into an answer; an error here stops every read.
            async move { job.await.map_err(StopRun) }
        },
        |each, batch, _| batch.into_iter().try_for_each(&mut *each),
    )
    .await?;
    if let Some(error) = ending.stopped {
        return Ok(Err(Stopped::Fatal(error)));
    }
    if ending.interrupted || ending.not_started > 0 {
        return Ok(Err(Stopped::Interrupted));
    }
    Ok(Ok(()))
}

/// Looks up each email on the proxy, one exact-email look-up each: the cost grows with the
/// people asked about, never with the users on the proxy. An email no user has is left out of
/// the answer (so 100,000 new people cost no entry each).
pub async fn lookups(
    client: &ProxyClient,
    retry: RetryPolicy,
    shutdown: &Shutdown,
    emails: Vec<Email>,
) -> Result<HashMap<Email, Lookup>, Stopped> {
    let answers = read_all(client, shutdown, emails.clone(), |email| {
        let client = client.clone();
        async move {
            let answer = client
                .retried(&retry, || client.find_users_by_email(&email), |_| {})
                .await;
            match answer {
                Err(e) if e.is_auth() => Err(e),
                Ok(rows) => Ok(Lookup::of(rows)),
                Err(e) => Ok(Lookup::Failed(e.to_string())),
            }
        }
    })
    .await?;
    Ok(emails
        .into_iter()
        .zip(answers)
        .filter(|(_, lookup)| !matches!(lookup, Lookup::Absent))
        .collect())
}

/// [`lookups`] for people some of whom the audit file knows by user id: those are read 100 a
/// request by id (`/user/list?user_ids=`), and taken as found only when the row still has
/// their email; everyone else (and anyone the id read did not confirm) is looked up by email.
pub async fn lookups_known(
    client: &ProxyClient,
    retry: RetryPolicy,
    shutdown: &Shutdown,
    people: Vec<(Email, Option<UserId>)>,
) -> Result<HashMap<Email, Lookup>, Stopped> {
    let (known, mut by_email): (Vec<_>, Vec<_>) =
        people.into_iter().partition(|(_, id)| id.is_some());
    let batches: Vec<Vec<(Email, UserId)>> = known
        .chunks(ID_BATCH)
        .map(|c| {
            c.iter()
                .map(|(e, id)| (e.clone(), id.clone().expect("known")))
                .collect()
        })
        .collect();
    let answers = read_all(client, shutdown, batches.clone(), |batch| {
        let client = client.clone();
        async move {
            let ids: Vec<UserId> = batch.iter().map(|(_, id)| id.clone()).collect();
            match client
                .retried(&retry, || client.users_by_ids(&ids), |_| {})
                .await
            {
                Err(e) if e.is_auth() => Err(e),
                answer => Ok(answer.unwrap_or_default()),
            }
        }
    })
    .await?;
    let mut found = HashMap::new();
    for (batch, rows) in batches.into_iter().zip(answers) {
        let mut rows: HashMap<UserId, UserRow> =
            rows.into_iter().map(|r| (r.user_id.clone(), r)).collect();
        for (email, id) in batch {
            match rows.remove(&id) {
                Some(row)
                    if row.user_email.as_deref().map(Email::unchecked) == Some(email.clone()) =>
                {
                    found.insert(email, Lookup::Found(Box::new(row)));
                }
                _ => by_email.push((email, None)),
            }
        }
    }
    let emails = by_email.into_iter().map(|(e, _)| e).collect();
    found.extend(lookups(client, retry, shutdown, emails).await?);
    Ok(found)
}

/// Users read by id in one request.
const ID_BATCH: usize = 100;

/// Asks `/invitation/info` about every open record of the audit file (`refresh`, `status --check`).
/// The records are the audit file's own: only their invitation ids are copied for the reads.
pub async fn open_invitations<'a>(
    client: &ProxyClient,
    retry: RetryPolicy,
    shutdown: &Shutdown,
    audit: &'a crate::audit::Audit,
) -> Result<Vec<(&'a Record, InvitationCheck)>, Stopped> {
    let open: Vec<&Record> = audit
        .records()
        .iter()
        .filter(|r| crate::plan::is_open(r))
        .collect();
    let ids: Vec<InvitationId> = open
        .iter()
        .map(|r| r.invitation_id.clone().expect("only open records"))
        .collect();
    let checks = read_all(client, shutdown, ids, |id| {
        let client = client.clone();
        async move {
            let mut tally = Tally::default();
            let answer = tally
                .call(&retry, client.pacer().stop(), || {
                    client.invitation_info(&id)
                })
                .await;
            tally.sample(client.pacer().limiter());
            Ok(match answer {
                Ok(info) if info.is_accepted => InvitationCheck::Accepted {
                    at: info.accepted_at.unwrap_or_else(chrono::Utc::now),
                },
                Ok(info) => InvitationCheck::Open {
                    expires_at: info.expires_at,
                },
                Err(ProxyError::NotFound(_)) => InvitationCheck::Gone,
                Err(e) if e.is_auth() => return Err(e),
                Err(e) => InvitationCheck::Failed(e.to_string()),
            })
        }
    })
    .await?;
    Ok(open.into_iter().zip(checks).collect())
}

/// Asks `/user/info` whether each user still exists (an error's text when the read failed).
pub async fn users_exist(
    client: &ProxyClient,
    retry: RetryPolicy,
    shutdown: &Shutdown,
    users: Vec<UserId>,
) -> Result<Vec<Result<bool, String>>, Stopped> {
    read_all(client, shutdown, users, |id| {
        let client = client.clone();
        async move {
            match client
                .retried(&retry, || client.user_exists(&id), |_| {})
                .await
            {
                Err(e) if e.is_auth() => Err(e),
                answer => Ok(answer.map_err(|e| e.to_string())),
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::client::ClientOptions;
    use crate::proxy::pacer::{Limiter, Pacer};
    use crate::types::MasterKey;

    #[tokio::test]
    async fn every_item_is_read_even_when_the_permits_are_held_elsewhere() {
        let limiter = Arc::new(Limiter::fixed(1));
        let pacer = Arc::new(Pacer::new(Arc::clone(&limiter), None));
        let url = url::Url::parse("http://127.0.0.1:9").unwrap();
        let client = ProxyClient::new(
            &url,
            MasterKey::new("sk-test"),
            &ClientOptions::default(),
            pacer,
        )
        .unwrap();
        // Someone else holds the only permit for a moment.
        let held = limiter.try_acquire().expect("a permit");
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            drop(held);
        });
        let answers = read_all(&client, &Shutdown::never(), vec![1, 2, 3], |i| async move {
            Ok::<_, ProxyError>(i * 10)
        })
        .await
        .unwrap();
        assert_eq!(answers, [10, 20, 30]);
    }
}
