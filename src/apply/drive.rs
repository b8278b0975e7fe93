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
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// The lanes of these tests: people's jobs, handed back as `finish_first` says.
    fn lanes<'a>(
        limiter: &'a Arc<Limiter>,
        shutdown: &'a Shutdown,
        finish_first: bool,
    ) -> Lanes<'a> {
        Lanes {
            limiter,
            shutdown,
            what: "jobs",
            finish_first,
            unsampled: false,
        }
    }

    #[tokio::test]
    async fn unsampled_jobs_overlap_while_the_adaptive_limit_is_one() {
        let limiter = Arc::new(Limiter::adaptive(1, 64));
        let shutdown = Shutdown::never();
        let now = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut peak = 0;
        let mut unsampled = lanes(&limiter, &shutdown, false);
        unsampled.unsampled = true;
        drive(
            unsampled,
            &mut peak,
            0..8u32,
            &mut Silent,
            |_, _| {
                let now = Arc::clone(&now);
                async move {
                    let at = now.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    now.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    Ok(at)
                }
            },
            |peak: &mut usize, batch, _| {
                *peak = batch.into_iter().fold(*peak, usize::max);
                Ok::<_, ()>(())
            },
        )
        .await
        .unwrap();
        assert_eq!(peak, crate::proxy::pacer::UNSAMPLED_IN_FLIGHT);
    }

    /// The order of starts and finishes, with one job in flight at a time.
    async fn order(finish_first: bool) -> Vec<String> {
        let limiter = Arc::new(Limiter::fixed(1));
        let shutdown = Shutdown::never();
        let mut printer = Silent;
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut ctx = ();
        drive(
            lanes(&limiter, &shutdown, finish_first),
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
        let mut printer = Silent;
        // (started and not yet handed back, the most of them at once)
        let mut ctx = (0usize, 0usize);
        drive(
            lanes(&limiter, &shutdown, false),
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

    /// Job 0 ends at once; job 1 sends two stop signals once job 0 has ended, then never ends.
    /// Returns what `finish` received and how the drive ended.
    async fn second_signal_after_a_job_finished() -> (Vec<u32>, Ending) {
        let limiter = Arc::new(Limiter::fixed(2));
        let (signals, shutdown) = Shutdown::manual();
        let signals = Arc::new(signals);
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let mut done_tx = Some(done_tx);
        let mut done_rx = Some(done_rx);
        let mut finished = Vec::new();
        let ending = drive(
            lanes(&limiter, &shutdown, false),
            &mut finished,
            0..2u32,
            &mut Silent,
            |_, i| {
                let done_tx = if i == 0 { done_tx.take() } else { None };
                let done_rx = if i == 1 { done_rx.take() } else { None };
                let signals = Arc::clone(&signals);
                async move {
                    if let Some(tx) = done_tx {
                        let _ = tx.send(());
                        return Ok(i);
                    }
                    let _ = done_rx.expect("job 1").await;
                    // Job 0's result is ready and not yet handed back.
                    signals.send_replace(2);
                    std::future::pending::<()>().await;
                    Ok(i)
                }
            },
            |finished: &mut Vec<u32>, batch, _| {
                finished.extend(batch);
                Ok::<_, ()>(())
            },
        )
        .await
        .unwrap();
        (finished, ending)
    }

    #[tokio::test]
    async fn a_second_signal_hands_back_every_result_already_received() {
        let (finished, ending) = second_signal_after_a_job_finished().await;
        assert_eq!(finished, [0], "the job that ended is handed back");
        assert!(ending.interrupted);
        assert_eq!(
            ending.not_started, 1,
            "only the job still running is dropped"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_finish_still_hands_back_the_jobs_in_flight() {
        let limiter = Arc::new(Limiter::fixed(2));
        let shutdown = Shutdown::never();
        let mut calls = Vec::new();
        let result = drive(
            lanes(&limiter, &shutdown, false),
            &mut calls,
            0..10u32,
            &mut Silent,
            |_, i| async move {
                tokio::time::sleep(std::time::Duration::from_millis(10 * u64::from(i))).await;
                Ok(i)
            },
            |calls: &mut Vec<Vec<u32>>, batch, _| {
                calls.push(batch);
                if calls.len() == 1 {
                    Err("disk full")
                } else {
                    Ok(())
                }
            },
        )
        .await;
        assert_eq!(result.unwrap_err(), "disk full");
        let handed: Vec<u32> = calls.concat();
        assert!(
            handed.len() >= 2,
            "the jobs started before the failure: {calls:?}"
        );
        assert!(handed.len() < 10, "no job started after it: {calls:?}");
        assert!(
            handed.iter().enumerate().all(|(k, &i)| k as u32 == i),
            "{calls:?}"
        );
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
