use super::*;
use std::sync::Mutex;

/// The lanes of these tests: people's jobs, handed back as `finish_first` says.
fn lanes<'a>(limiter: &'a Arc<Limiter>, shutdown: &'a Shutdown, finish_first: bool) -> Lanes<'a> {
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
