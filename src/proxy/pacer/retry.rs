//! Retries: which failures are sent again, the back-off between attempts, and the stop
//! signal that ends that wait — decided here for every loop that sends something again.

use std::time::Duration;

use tokio::time::Instant;

use crate::proxy::ProxyError;
use crate::shutdown::Shutdown;

/// A failure a retry loop can judge.
pub trait Retryable: Sized {
    /// True when sending again is safe and may succeed.
    fn is_retryable(&self) -> bool;
    /// A short reason, for the log.
    fn reason(&self) -> String;
    /// What the loop ends with when a stop signal ends the wait before the next attempt.
    fn stopped(self) -> Self {
        self
    }
}

impl Retryable for ProxyError {
    fn is_retryable(&self) -> bool {
        ProxyError::is_retryable(self)
    }

    fn reason(&self) -> String {
        ProxyError::reason(self)
    }

    /// As a request the pacer holds after a stop: not sent.
    fn stopped(self) -> Self {
        ProxyError::Interrupted
    }
}

/// How many attempts a request gets and how long to wait between them.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// The first back-off; it doubles each time.
    pub base: Duration,
    /// The longest back-off.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 4,
            base: Duration::from_millis(200),
            max: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (1-based): exponential with full jitter. A
    /// `retry-after` is not waited here: the pacer holds every request for it
    /// ([`super::Pacer::observe`]), a wait that a stop signal ends at once.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << attempt.min(16).saturating_sub(1))
            .min(self.max);
        ceiling.mul_f64(0.5 + fastrand::f64() * 0.5)
    }

    /// The attempts of one request, for a loop that does more between them than wait (a
    /// look-up after an ambiguous failure, say): see [`Attempts::again`].
    pub fn attempts(&self) -> Attempts<'static> {
        Attempts {
            policy: *self,
            retried: 0,
            stop: None,
        }
    }
}

/// The attempts of one request under a [`RetryPolicy`]: after each failure,
/// [`Attempts::again`] waits the back-off and lets the loop send again, or ends it.
#[derive(Debug)]
pub struct Attempts<'s> {
    policy: RetryPolicy,
    retried: u32,
    stop: Option<&'s Shutdown>,
}

impl<'s> Attempts<'s> {
    /// Lets a stop signal end the wait between attempts (see [`Attempts::again`]).
    pub fn stop_on(self, stop: Option<&'s Shutdown>) -> Attempts<'s> {
        Attempts { stop, ..self }
    }

    /// Runs a request that is safe to repeat, with nothing to do between attempts but wait:
    /// `attempted` sees how long each attempt took (for request counts and latency samples).
    pub async fn run<T, E, F, Fut>(
        mut self,
        mut call: F,
        mut attempted: impl FnMut(Duration),
    ) -> Result<T, E>
    where
        E: Retryable,
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        loop {
            let started = Instant::now();
            let result = call().await;
            attempted(started.elapsed());
            match result {
                Ok(value) => return Ok(value),
                Err(error) => self.again(error).await?,
            }
        }
    }

    /// Retries waited for so far (0 while the first attempt is the only one).
    pub fn retried(&self) -> u32 {
        self.retried
    }

    /// After a failed attempt: `Ok` once the back-off is waited and the request may be sent
    /// again; `Err(error)` when it is not worth sending again or the retries are spent. With
    /// a stop signal ([`Attempts::stop_on`]), a hurried run (a second signal, or the grace
    /// period over) sends nothing again: `Err(error.stopped())`, at once on a second signal.
    pub async fn again<E: Retryable>(&mut self, error: E) -> Result<(), E> {
        if !error.is_retryable() {
            return Err(error);
        }
        if self.retried >= self.policy.retries {
            tracing::info!(
                "giving up after {} attempts: {}",
                self.retried + 1,
                error.reason()
            );
            return Err(error);
        }
        self.retried += 1;
        let wait = self.policy.backoff(self.retried);
        tracing::info!(
            "retry {}/{} in {wait:.1?}: {}",
            self.retried,
            self.policy.retries,
            error.reason()
        );
        let Some(stop) = self.stop else {
            tokio::time::sleep(wait).await;
            return Ok(());
        };
        tokio::select! {
            biased;
            () = stop.forced() => {}
            () = tokio::time::sleep(wait) => {}
        }
        match stop.is_hurried() {
            true => Err(error.stopped()),
            false => Ok(()),
        }
    }
}

/// Requests sent for one person and the time they took, for the adaptive limit.
#[derive(Debug, Default)]
pub struct Tally {
    /// Requests sent.
    pub requests: u32,
    busy: Duration,
}

impl Tally {
    /// Runs a request that is safe to repeat under `retry`, counting every attempt; `stop`
    /// (the client's stop signal) ends the waits between attempts.
    pub async fn call<T, F, Fut>(
        &mut self,
        retry: &RetryPolicy,
        stop: Option<&Shutdown>,
        call: F,
    ) -> Result<T, ProxyError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ProxyError>>,
    {
        retry
            .attempts()
            .stop_on(stop)
            .run(call, |busy| {
                self.requests += 1;
                self.busy += busy;
            })
            .await
    }

    /// Counts one request sent outside [`Tally::call`] (one that must not be retried blindly).
    pub fn record(&mut self, busy: Duration) {
        self.requests += 1;
        self.busy += busy;
    }

    /// Reports the mean request latency to the limiter.
    pub fn sample(&self, limiter: &super::Limiter) {
        if self.requests > 0 {
            limiter.sample(self.busy / self.requests);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failure that is retried or not, as the test says.
    #[derive(Debug, PartialEq)]
    struct Failed {
        retryable: bool,
        stopped: bool,
    }

    impl Retryable for Failed {
        fn is_retryable(&self) -> bool {
            self.retryable
        }

        fn reason(&self) -> String {
            "failed".into()
        }

        fn stopped(self) -> Self {
            Failed {
                stopped: true,
                ..self
            }
        }
    }

    const RETRYABLE: Failed = Failed {
        retryable: true,
        stopped: false,
    };

    fn quick(retries: u32) -> RetryPolicy {
        RetryPolicy {
            retries,
            base: Duration::from_millis(1),
            max: Duration::from_millis(2),
        }
    }

    #[test]
    fn backoff_grows() {
        let policy = RetryPolicy::default();
        assert!(policy.backoff(1) <= Duration::from_millis(200));
        assert!(policy.backoff(5) >= Duration::from_millis(1600));
        assert!(policy.backoff(30) <= policy.max);
    }

    #[tokio::test]
    async fn attempts_end_on_a_failure_not_worth_retrying_or_when_the_retries_are_spent() {
        let mut attempts = quick(2).attempts();
        let refused = Failed {
            retryable: false,
            stopped: false,
        };
        assert!(!attempts.again(refused).await.unwrap_err().retryable);
        assert_eq!(attempts.retried(), 0, "nothing waited for a refusal");
        assert_eq!(attempts.again(RETRYABLE).await, Ok(()));
        assert_eq!(attempts.again(RETRYABLE).await, Ok(()));
        assert_eq!(attempts.again(RETRYABLE).await, Err(RETRYABLE));
        assert_eq!(attempts.retried(), 2);
    }

    /// A loop shaped as `create_user`'s: every attempt fails ambiguously, and the look-up
    /// after it (`found`, one answer per attempt) may end the loop with a value.
    async fn create(
        policy: RetryPolicy,
        found: &[Option<&'static str>],
    ) -> (Result<&'static str, Failed>, usize) {
        let mut attempts = policy.attempts();
        let mut sent = 0;
        for lookup in found {
            sent += 1;
            if let Some(user) = lookup {
                return (Ok(user), sent);
            }
            if let Err(error) = attempts.again(RETRYABLE).await {
                return (Err(error), sent);
            }
        }
        unreachable!("the test gives an answer for every attempt")
    }

    #[tokio::test]
    async fn what_a_loop_learns_between_attempts_ends_it_without_another_attempt() {
        let (user, sent) = create(quick(4), &[None, Some("u-1"), None]).await;
        assert_eq!((user, sent), (Ok("u-1"), 2));
        let (user, sent) = create(quick(1), &[None, None, Some("u-1")]).await;
        assert_eq!((user, sent), (Err(RETRYABLE), 2), "one retry, then no more");
    }

    #[tokio::test]
    async fn a_second_stop_signal_ends_the_wait_at_once_and_the_loop() {
        let (signals, shutdown) = crate::shutdown::Shutdown::manual();
        let slow = RetryPolicy {
            retries: 4,
            base: Duration::from_secs(30),
            max: Duration::from_secs(30),
        };
        let mut attempts = slow.attempts().stop_on(Some(&shutdown));
        signals.send_replace(1);
        let waiting = tokio::time::timeout(Duration::from_millis(200), attempts.again(RETRYABLE));
        assert!(waiting.await.is_err(), "a first signal lets the retry wait");
        let started = Instant::now();
        let mut attempts = slow.attempts().stop_on(Some(&shutdown));
        let stopper = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            signals.send_replace(2);
        };
        let (ended, ()) = tokio::join!(attempts.again(RETRYABLE), stopper);
        assert_eq!(
            ended,
            Err(Failed {
                retryable: true,
                stopped: true
            })
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "not the back-off"
        );
    }

    #[tokio::test]
    async fn run_sends_again_what_may_succeed_and_counts_each_attempt() {
        let mut left = 2;
        let mut attempts = 0;
        let result = quick(4)
            .attempts()
            .run(
                || {
                    left -= 1;
                    let answer = if left < 0 { Ok(7) } else { Err(RETRYABLE) };
                    async move { answer }
                },
                |_| attempts += 1,
            )
            .await;
        assert_eq!((result, attempts), (Ok(7), 3));
        let stopped = ProxyError::Ambiguous("reset".into()).stopped();
        assert!(matches!(stopped, ProxyError::Interrupted));
    }
}
