//! `--dry-run`: what a run would do, found with reads only.

use std::sync::Arc;

use chrono::Utc;
use tokio::task::JoinSet;

use crate::audit::Audit;
use crate::client::ProxyClient;
use crate::error::{Exit, Fatal};
use crate::input::Person;
use crate::output::Printer;
use crate::preflight::explain;

/// What a run would do with each person.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// New users to create.
    pub create: usize,
    /// Users already on the proxy, to reuse and invite.
    pub existing: usize,
    /// Users the audit file knows, to invite again.
    pub reinvite: usize,
    /// Live invitations left alone.
    pub already_invited: usize,
    /// Accepted people left alone.
    pub already_accepted: usize,
    /// Invalid rows.
    pub invalid: usize,
}

/// Works out the plan (reads only) and prints it on stderr.
pub async fn dry_run(
    client: &ProxyClient,
    people: &[Person],
    invalid: usize,
    audit: &Audit,
    reinvite: bool,
    printer: &mut Printer,
) -> Result<Exit, Fatal> {
    let now = Utc::now();
    let mut plan = Plan {
        invalid,
        ..Plan::default()
    };
    let mut lookups = Vec::new();
    for person in people {
        match audit.prior(&person.email) {
            Some(r) if r.accepted_at.is_some() => plan.already_accepted += 1,
            Some(r) if r.has_live_invitation(now) && !reinvite => plan.already_invited += 1,
            Some(r) if r.user_id.is_some() => plan.reinvite += 1,
            _ => lookups.push(person.email.clone()),
        }
    }
    let limit = Arc::new(tokio::sync::Semaphore::new(8));
    let mut tasks = JoinSet::new();
    for email in lookups {
        let client = client.clone();
        let limit = Arc::clone(&limit);
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await.expect("never closed");
            client
                .find_users_by_email(&email)
                .await
                .map(|rows| !rows.is_empty())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("lookup task") {
            Ok(true) => plan.existing += 1,
            Ok(false) => plan.create += 1,
            Err(e) => return Err(explain(e, client)),
        }
    }
    printer.warn(&format!(
        "dry run, nothing was written: {} to create, {} existing on the proxy to invite, {} known to re-invite, {} already invited, {} already accepted, {} invalid",
        plan.create, plan.existing, plan.reinvite, plan.already_invited, plan.already_accepted, plan.invalid
    ));
    Ok(if plan.invalid > 0 {
        Exit::Failures
    } else {
        Exit::Success
    })
}
