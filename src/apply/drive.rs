//! Running many independent jobs — people to onboard, invitations to renew, emails to send:
//! at most the limiter's limit in flight, finished jobs handed back in batches (so one
//! journal sync covers all that finished together), and a clean stop on Ctrl-C.

use std::future::Future;
use std::sync::Arc;

use tokio::task::JoinSet;

use crate::proxy::ProxyError;
use crate::proxy::pacer::Limiter;
use crate::shutdown::Shutdown;

/// How long jobs in flight may take to finish after the first stop signal; after it they
/// send no further request, and end (recorded) when their current one is answered.
const GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// How long jobs may take to end after the second stop signal (their requests in flight are
/// cut short then, so they end at once); a job still running after it is dropped.
const CUT: std::time::Duration = std::time::Duration::from_secs(1);

/// A failure that would hit every job (the key was rejected): the drive must stop.
#[derive(Debug)]
pub struct StopRun(pub ProxyError);

/// Where a drive says what it does besides handing back results (an interruption); the
/// printer is one.
pub trait Notes {
    /// A line for the person watching (not shown with `-q`).
    fn note(&mut self, message: &str);
}

/// Notes that go nowhere: a drive nobody watches (reads).
pub struct Silent;

impl Notes for Silent {
    fn note(&mut self, _: &str) {}
}

/// How a drive ended, besides the results it handed back.
#[derive(Debug, Default)]
pub struct Ending {
    /// A stop signal came: no new job was started after it.
    pub interrupted: bool,
    /// A failure that would hit every job stopped the drive.
    pub stopped: Option<ProxyError>,
    /// Jobs never started (or dropped after a second stop signal, still running [`CUT`] later).
    pub not_started: usize,
}

/// Where jobs run: the limit on jobs in flight, the stop signals, and what the jobs are
/// called in messages ("people", "emails").
#[derive(Clone, Copy)]
pub struct Lanes<'a> {
    /// The limit on jobs in flight.
    pub limiter: &'a Arc<Limiter>,
    /// Ctrl-C and SIGTERM.
    pub shutdown: &'a Shutdown,
    /// What the jobs are, for messages.
    pub what: &'a str,
    /// Hand each batch to `finish` (e.g. journal it) before starting more jobs, so a job is
    /// never started while a finished one is not yet recorded (mail: a sent email is
    /// journaled before the next one starts). Otherwise the next jobs start first, keeping
    /// the proxy busy while the journal syncs.
    pub finish_first: bool,
    /// The jobs' latencies are not sampled (bulk deletes): they may go
    /// [`crate::proxy::pacer::UNSAMPLED_IN_FLIGHT`] at a time however low the limit is.
    pub unsampled: bool,
}

/// Runs `start(ctx, item)` for each item, at most the lanes' limit at a time, and hands each
/// batch of finished results to `finish(ctx, batch, printer)` in the calling task. After the
/// first stop signal no job starts and those in flight finish; after the second their
/// requests in flight are cut short (by the client), so they end at once, and a job still
/// running [`CUT`] later is dropped. A [`StopRun`] from a job stops the drive the same way as
/// the first signal. Whatever ends the drive (a signal, a failed `finish`, a panicking job),
/// every result received is handed to `finish` before it returns: finished work is never lost.
pub async fn drive<C, T, R, E, Fut, P: Notes>(
    lanes: Lanes<'_>,
    ctx: &mut C,
    items: impl IntoIterator<Item = T>,
    printer: &mut P,
    mut start: impl FnMut(&mut C, T) -> Fut,
    mut finish: impl FnMut(&mut C, Vec<R>, &mut P) -> Result<(), E>,
) -> Result<Ending, E>
where
    R: Send + 'static,
    Fut: Future<Output = Result<R, StopRun>> + Send + 'static,
{
    let Lanes {
        limiter,
        shutdown,
        what,
        finish_first,
        unsampled,
    } = lanes;
    let mut ending = Ending::default();
    let mut queue = items.into_iter().peekable();
    let mut tasks: JoinSet<Result<R, StopRun>> = JoinSet::new();
    let mut stopping = false;
    let mut grace_ends = None;
    let mut cut_ends = None;
    let mut forced = false;
    let mut failed: Option<E> = None;
    let mut panicked = None;
    loop {
        // A signal that came before (e.g. during pre-flight) or between two batches: no job
        // is started after it.
        if shutdown.is_requested() && !ending.interrupted {
            stopping = true;
            ending.interrupted = true;
            if !tasks.is_empty() {
                grace_ends = Some(tokio::time::Instant::now() + GRACE);
                printer.note(&format!(
                    "interrupted: finishing the {what} in flight (at most {} s, then their current request; Ctrl-C again to stop at once)",
                    GRACE.as_secs()
                ));
            }
        }
        fill(&mut tasks, &mut queue, ctx, &mut start, lanes, stopping);
        if tasks.is_empty() {
            if stopping || queue.peek().is_none() {
                break;
            }
            // Nothing of ours in flight to free a permit: they are held elsewhere (another
            // drive on the same limiter). Wait for one, or for a stop.
            tokio::select! {
                biased;
                () = shutdown.requested() => {}
                permit = limiter.acquire_as(unsampled) => drop(permit),
            }
            continue;
        }
        let first = tokio::select! {
            biased;
            () = shutdown.requested(), if !ending.interrupted => continue,
            () = shutdown.forced(), if stopping && !forced => {
                // The jobs' requests in flight are cut short now; each job ends, and is
                // handed back, at once.
                forced = true;
                cut_ends = Some(tokio::time::Instant::now() + CUT);
                continue;
            }
            () = tokio::time::sleep_until(cut_ends.unwrap_or_else(tokio::time::Instant::now)), if cut_ends.is_some() => {
                // A job that is not waiting on the proxy (an SMTP send) is dropped; those
                // that finished meanwhile are still handed back below.
                tasks.abort_all();
                cut_ends = None;
                continue;
            }
            () = tokio::time::sleep_until(grace_ends.unwrap_or_else(tokio::time::Instant::now)), if grace_ends.is_some() => {
                // Not aborted: a job dropped mid-way would lose what the proxy already
                // did (a user made, an invitation sent). No further request is sent; each
                // ends when its current one is answered or times out, and is recorded.
                printer.note(&format!("the {what} still in flight send nothing more; waiting for their current request"));
                shutdown.hurry();
                grace_ends = None;
                continue;
            }
            joined = tasks.join_next() => joined,
        };
        let mut batch = Vec::new();
        let mut joined = first;
        while let Some(result) = joined {
            match result {
                Ok(Ok(done)) => batch.push(done),
                Ok(Err(StopRun(error))) => {
                    ending.stopped.get_or_insert(error);
                    stopping = true;
                }
                Err(e) if e.is_cancelled() => ending.not_started += 1,
                Err(e) => {
                    // Re-raised once every other job's result is handed back.
                    panicked.get_or_insert(e.into_panic());
                    stopping = true;
                }
            }
            joined = tasks.try_join_next();
        }
        // Unless `finish_first`, start the next jobs before the batch is made durable, so the
        // proxy is kept busy while the journal syncs; the sync blocks this thread, not the
        // runtime.
        if !finish_first {
            let stop = stopping || shutdown.is_requested();
            fill(&mut tasks, &mut queue, ctx, &mut start, lanes, stop);
        }
        if let Err(error) = blocking(|| finish(ctx, batch, printer)) {
            // The jobs in flight send nothing more and are handed back as they end (a
            // journal that failed once may take them); the first error is returned.
            failed.get_or_insert(error);
            stopping = true;
            shutdown.hurry();
        }
    }
    if let Some(payload) = panicked {
        std::panic::resume_unwind(payload);
    }
    if let Some(error) = failed {
        return Err(error);
    }
    ending.not_started += queue.count();
    Ok(ending)
}

/// Starts jobs while the limiter has room (and no stop was asked for). Jobs finished but not
/// yet handed back count too: a job that sends nothing (a plan with nothing to do) frees its
/// permit at once, and 100,000 of them would otherwise all wait at once to be handed back.
fn fill<C, T, R, Fut>(
    tasks: &mut JoinSet<Result<R, StopRun>>,
    queue: &mut std::iter::Peekable<impl Iterator<Item = T>>,
    ctx: &mut C,
    start: &mut impl FnMut(&mut C, T) -> Fut,
    lanes: Lanes<'_>,
    stopping: bool,
) where
    R: Send + 'static,
    Fut: Future<Output = Result<R, StopRun>> + Send + 'static,
{
    let Lanes {
        limiter, unsampled, ..
    } = lanes;
    let room = match unsampled {
        true => 2 * limiter.unsampled_limit(),
        false => room(limiter),
    };
    while !stopping && queue.peek().is_some() && tasks.len() < room {
        let Some(permit) = limiter.try_acquire_as(unsampled) else {
            break;
        };
        let job = start(ctx, queue.next().expect("peeked"));
        tasks.spawn(async move {
            let result = job.await;
            drop(permit);
            result
        });
    }
}

/// How many jobs may be started and not yet handed back: twice the limiter's limit, so the
/// lanes are refilled while the jobs that just finished wait to be handed back.
pub(crate) fn room(limiter: &Limiter) -> usize {
    2 * limiter.limit().floor().max(1.0) as usize
}

/// Runs blocking work (a journal sync) without stalling the other tasks of a multi-thread
/// runtime; on a current-thread runtime it just runs.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

#[cfg(test)]
mod tests;
