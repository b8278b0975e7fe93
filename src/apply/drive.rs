//! Running many independent jobs — people to onboard, invitations to renew, emails to send:
//! at most the limiter's limit in flight, finished jobs handed back in batches (so one
//! journal sync covers all that finished together), and a clean stop on Ctrl-C.

use std::future::Future;
use std::sync::Arc;

use tokio::task::JoinSet;

use crate::apply::pacer::Limiter;
use crate::proxy::ProxyError;
use crate::shutdown::Shutdown;

/// How long jobs in flight may take to finish after the first stop signal; after it they
/// send no further request, and end (recorded) when their current one is answered.
const GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// A failure that would hit every job (the key was rejected): the drive must stop.
#[derive(Debug)]
pub struct StopRun(pub ProxyError);

/// Where a drive says what it does besides handing back results (an interruption); the
/// printer is one.
pub trait Notes {
    /// A line for the person watching (not shown with `-q`).
    fn note(&mut self, message: &str);
}

/// How a drive ended, besides the results it handed back.
#[derive(Debug, Default)]
pub struct Ending {
    /// A stop signal came: no new job was started after it.
    pub interrupted: bool,
    /// A failure that would hit every job stopped the drive.
    pub stopped: Option<ProxyError>,
    /// Jobs never started (or cut off by a second stop signal).
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
}

/// Runs `start(ctx, item)` for each item, at most the lanes' limit at a time, and hands each
/// batch of finished results to `finish(ctx, batch, printer)` in the calling task. After the
/// first stop signal no job starts and those in flight finish; after the second the rest are
/// dropped. A [`StopRun`] from a job stops the drive the same way as the first signal.
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
    } = lanes;
    let mut ending = Ending::default();
    let mut queue = items.into_iter().peekable();
    let mut tasks: JoinSet<Result<R, StopRun>> = JoinSet::new();
    let mut stopping = false;
    let mut grace_ends = None;
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
        fill(&mut tasks, &mut queue, ctx, &mut start, limiter, stopping);
        if tasks.is_empty() {
            break;
        }
        let first = tokio::select! {
            biased;
            () = shutdown.requested(), if !ending.interrupted => continue,
            () = shutdown.forced(), if stopping => {
                ending.not_started += tasks.len();
                tasks.abort_all();
                break;
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
                Err(e) if e.is_cancelled() => {}
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
            joined = tasks.try_join_next();
        }
        // Unless `finish_first`, start the next jobs before the batch is made durable, so the
        // proxy is kept busy while the journal syncs; the sync blocks this thread, not the
        // runtime.
        if finish_first {
            blocking(|| finish(ctx, batch, printer))?;
        } else {
            let stop = stopping || shutdown.is_requested();
            fill(&mut tasks, &mut queue, ctx, &mut start, limiter, stop);
            blocking(|| finish(ctx, batch, printer))?;
        }
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
    limiter: &Arc<Limiter>,
    stopping: bool,
) where
    R: Send + 'static,
    Fut: Future<Output = Result<R, StopRun>> + Send + 'static,
{
    while !stopping && queue.peek().is_some() && tasks.len() < room(limiter) {
        let Some(permit) = limiter.try_acquire() else {
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
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Notes go nowhere in these tests.
    struct Quiet;

    impl Notes for Quiet {
        fn note(&mut self, _: &str) {}
    }

    /// The order of starts and finishes, with one job in flight at a time.
    async fn order(finish_first: bool) -> Vec<String> {
        let limiter = Arc::new(Limiter::fixed(1));
        let shutdown = Shutdown::never();
        let mut printer = Quiet;
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut ctx = ();
        drive(
            Lanes {
                limiter: &limiter,
                shutdown: &shutdown,
                what: "jobs",
                finish_first,
            },
            &mut ctx,
            0..3,
            &mut printer,
            |_, i: u32| {
                log.lock().unwrap().push(format!("start {i}"));
                async move { Ok(i) }
            },
            |_, batch, _| {
                for i in batch {
                    log.lock().unwrap().push(format!("finish {i}"));
                }
                Ok::<_, ()>(())
            },
        )
        .await
        .unwrap();
        Arc::try_unwrap(log).unwrap().into_inner().unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_that_finish_at_once_are_not_all_started_before_any_is_handed_back() {
        let limiter = Arc::new(Limiter::fixed(4));
        let shutdown = Shutdown::never();
        let mut printer = Quiet;
        // (started and not yet handed back, the most of them at once)
        let mut ctx = (0usize, 0usize);
        drive(
            Lanes {
                limiter: &limiter,
                shutdown: &shutdown,
                what: "jobs",
                finish_first: false,
            },
            &mut ctx,
            0..5_000u32,
            &mut printer,
            |(open, most), i| {
                *open += 1;
                *most = (*most).max(*open);
                async move { Ok(i) }
            },
            |(open, _), batch, _| {
                *open -= batch.len();
                Ok::<_, ()>(())
            },
        )
        .await
        .unwrap();
        assert_eq!(ctx.0, 0);
        // At most twice the limit started, plus a batch taken out and not yet handed back.
        assert!(ctx.1 <= 4 * 4, "{} jobs were out at once", ctx.1);
    }

    #[tokio::test]
    async fn finish_first_records_each_job_before_the_next_starts() {
        assert_eq!(
            order(true).await,
            [
                "start 0", "finish 0", "start 1", "finish 1", "start 2", "finish 2"
            ]
        );
        // The default keeps the lanes full: the next job starts before the batch is recorded.
        assert_eq!(order(false).await[..3], ["start 0", "start 1", "finish 0"]);
    }
}
