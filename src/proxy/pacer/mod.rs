//! Run-wide traffic control: a requests-per-second cap, a pause when the proxy sends
//! `retry-after`, the retry back-off ([`retry`]), and the adaptive limit on people in flight.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::proxy::ProxyError;

mod retry;
pub use retry::{Attempts, RetryPolicy, Retryable, Tally};

/// Shared by every request of a run.
#[derive(Debug)]
pub struct Pacer {
    limiter: Arc<Limiter>,
    rate_interval: Option<Duration>,
    next_slot: Mutex<Instant>,
    paused_until: Mutex<Option<Instant>>,
    stop: std::sync::OnceLock<crate::shutdown::Shutdown>,
}

impl Pacer {
    /// A pacer with an optional cap on requests per second.
    pub fn new(limiter: Arc<Limiter>, rate: Option<f64>) -> Self {
        Pacer {
            limiter,
            // `--rate` is checked at the edge; a rate too small to pace by (an interval past
            // `Duration`'s range) or not a number means no cap rather than a panic.
            rate_interval: rate
                .filter(|r| *r > 0.0)
                .and_then(|r| Duration::try_from_secs_f64(1.0 / r).ok()),
            next_slot: Mutex::new(Instant::now()),
            paused_until: Mutex::new(None),
            stop: std::sync::OnceLock::new(),
        }
    }

    /// The limit on people in flight.
    pub fn limiter(&self) -> &Arc<Limiter> {
        &self.limiter
    }

    /// Makes [`Pacer::ready`] honour Ctrl-C / SIGTERM.
    pub fn stop_on(&self, shutdown: crate::shutdown::Shutdown) {
        let _ = self.stop.set(shutdown);
    }

    /// The stop signal [`Pacer::stop_on`] set, for waits outside the pacer (a retry's back-off).
    pub fn stop(&self) -> Option<&crate::shutdown::Shutdown> {
        self.stop.get()
    }

    /// Waits until a request may be sent: after any pause, and within the rate cap.
    /// After a stop signal, a request that would have to wait is not sent (nor any once
    /// the run is hurried): [`ProxyError::Interrupted`].
    pub async fn ready(&self) -> Result<(), ProxyError> {
        let stop = self.stop.get();
        if stop.is_some_and(|s| s.is_hurried()) {
            return Err(ProxyError::Interrupted);
        }
        let pause = *self.paused_until.lock().expect("pacer lock");
        let now = Instant::now();
        let mut until = pause.filter(|p| *p > now);
        if let Some(interval) = self.rate_interval {
            let mut next = self.next_slot.lock().expect("pacer lock");
            let slot = (*next).max(now).max(until.unwrap_or(now));
            if stop.is_some_and(|s| s.is_requested()) && slot > now {
                return Err(ProxyError::Interrupted);
            }
            *next = slot + interval;
            until = Some(slot);
        }
        let Some(until) = until.filter(|u| *u > now) else {
            return Ok(());
        };
        match stop {
            Some(stop) => match stop.unless_requested(tokio::time::sleep_until(until)).await {
                Some(()) => Ok(()),
                None => Err(ProxyError::Interrupted),
            },
            None => {
                tokio::time::sleep_until(until).await;
                Ok(())
            }
        }
    }

    /// Waits for a request's answer, unless a second stop signal comes first: then the
    /// request is cut short ([`ProxyError::CutShort`]) and its job ends with what it has.
    pub async fn answer<T>(
        &self,
        exchange: impl std::future::Future<Output = Result<T, ProxyError>>,
    ) -> Result<T, ProxyError> {
        let Some(stop) = self.stop.get() else {
            return exchange.await;
        };
        tokio::select! {
            biased;
            () = stop.forced() => Err(ProxyError::CutShort),
            answer = exchange => answer,
        }
    }

    /// Takes note of a finished request: a `retry-after` pauses the whole run, and an
    /// overloaded proxy makes the limiter back off.
    pub fn observe(&self, _elapsed: Duration, error: Option<&ProxyError>) {
        if let Some(ProxyError::Unavailable {
            retry_after,
            status,
            ..
        }) = error
        {
            if let Some(wait) = retry_after {
                tracing::info!(
                    "the proxy asked to wait {wait:.1?} (retry-after): pausing every request"
                );
                let until = Instant::now() + *wait;
                let mut paused = self.paused_until.lock().expect("pacer lock");
                if paused.is_none_or(|p| p < until) {
                    *paused = Some(until);
                }
            }
            if *status == 429 || *status == 503 {
                self.limiter.overloaded();
            }
        }
    }
}

/// The limit on people in flight: fixed, or adaptive (Vegas-style).
///
/// Adaptive: each finished person reports its mean request latency. The limiter keeps the
/// run's lowest latency as the no-load latency and estimates how many requests are queued
/// at the proxy as `limit × (1 − no_load / latency)`. It raises the limit while that queue is
/// small and lowers it when the queue grows or the proxy answers 429/503 — so it climbs when
/// round trips dominate, and settles at the knee when the proxy is the bottleneck.
#[derive(Debug)]
pub struct Limiter {
    state: Mutex<LimitState>,
    notify: Notify,
}

#[derive(Debug)]
struct LimitState {
    in_flight: usize,
    limit: f64,
    adaptive: bool,
    max: usize,
    peak_limit: f64,
    /// The lowest smoothed latency of the run: the proxy's answer with nothing queued.
    no_load: f64,
    smoothed: f64,
    last_cut: Option<std::time::Instant>,
}

/// Unsampled jobs (reads, bulk deletes) an adaptive limiter lets in flight however low its
/// limit is: on a proxy with one worker they queue there, on one with several they overlap.
pub const UNSAMPLED_IN_FLIGHT: usize = 4;

impl LimitState {
    /// Permits that may be out at once, for people or for unsampled jobs.
    fn cap(&self, unsampled: bool) -> usize {
        let limit = self.limit.floor().max(1.0) as usize;
        if unsampled && self.adaptive {
            limit.max(UNSAMPLED_IN_FLIGHT.min(self.max))
        } else {
            limit
        }
    }
}

/// The shortest time between two overload cuts of the limit.
const CUT_WINDOW: Duration = Duration::from_millis(100);

impl Limiter {
    /// A fixed limit of `n` people in flight.
    pub fn fixed(n: usize) -> Self {
        Self::with(n.max(1) as f64, false, n.max(1))
    }

    /// An adaptive limit starting at `start`, never above `max`.
    pub fn adaptive(start: usize, max: usize) -> Self {
        Self::with(start.clamp(1, max.max(1)) as f64, true, max.max(1))
    }

    fn with(limit: f64, adaptive: bool, max: usize) -> Self {
        Limiter {
            state: Mutex::new(LimitState {
                in_flight: 0,
                limit,
                adaptive,
                max,
                peak_limit: limit,
                no_load: f64::INFINITY,
                smoothed: 0.0,
                last_cut: None,
            }),
            notify: Notify::new(),
        }
    }

    /// Waits for room for one more person.
    pub async fn acquire(self: &Arc<Self>) -> Permit {
        self.acquire_as(false).await
    }

    /// Waits for a permit for a person or (`unsampled`) a job the limit learns nothing from.
    pub async fn acquire_as(self: &Arc<Self>, unsampled: bool) -> Permit {
        loop {
            let notified = self.notify.notified();
            if let Some(permit) = self.try_acquire_as(unsampled) {
                return permit;
            }
            notified.await;
        }
    }

    /// Room for one more person now, if there is any.
    pub fn try_acquire(self: &Arc<Self>) -> Option<Permit> {
        self.try_acquire_as(false)
    }

    /// A permit for a person or (`unsampled`) a job the limit learns nothing from.
    pub fn try_acquire_as(self: &Arc<Self>, unsampled: bool) -> Option<Permit> {
        let mut state = self.state.lock().expect("limiter lock");
        if state.in_flight < state.cap(unsampled) {
            state.in_flight += 1;
            return Some(Permit {
                limiter: Arc::clone(self),
            });
        }
        None
    }

    /// How many jobs the limit learns nothing from may be in flight: the limit, but at least
    /// [`UNSAMPLED_IN_FLIGHT`] when it adapts. Reads and bulk deletes are not sampled (their
    /// cost is their rows, not the proxy's queue), so a limit that starts low to learn the
    /// proxy's latency would hold them one at a time for a whole run that is only them.
    pub fn unsampled_limit(&self) -> usize {
        self.state.lock().expect("limiter lock").cap(true)
    }

    /// The current limit.
    pub fn limit(&self) -> f64 {
        self.state.lock().expect("limiter lock").limit
    }

    /// The highest limit reached so far.
    pub fn peak_limit(&self) -> f64 {
        self.state.lock().expect("limiter lock").peak_limit
    }

    /// Reports the mean request latency of one finished person.
    pub fn sample(&self, latency: Duration) {
        let mut s = self.state.lock().expect("limiter lock");
        if !s.adaptive {
            return;
        }
        let rtt = latency.as_secs_f64().max(1e-6);
        // Smooth the samples: one person's latency is noisy, a queue shows in the trend.
        s.smoothed = if s.smoothed > 0.0 {
            0.8 * s.smoothed + 0.2 * rtt
        } else {
            rtt
        };
        let smoothed = s.smoothed;
        // The base is kept for the whole run: a window that forgets it measures a steady
        // queue as "no load" and lets the limit creep up on a proxy with few workers.
        s.no_load = s.no_load.min(smoothed);
        let no_load = s.no_load;
        let queued = s.limit * (1.0 - no_load / smoothed);
        let step = 1.0 / s.limit.sqrt().max(1.0);
        // Vegas' thresholds: a few requests queued at the proxy is the knee. A limit of L can
        // show at most L queued, so for small limits the thresholds are a share of L: else a
        // proxy with one worker keeps four in flight and three of them waiting.
        let alpha = (3.0 * s.limit.log10().max(1.0)).min(s.limit / 4.0);
        let beta = (2.0 * alpha).min(s.limit / 2.0);
        if queued < alpha {
            s.limit = (s.limit + step * 1.5).min(s.max as f64);
        } else if queued > beta {
            s.limit = (s.limit - step).max(1.0);
        }
        s.peak_limit = s.peak_limit.max(s.limit);
        drop(s);
        self.notify.notify_one();
    }

    /// The proxy said it is overloaded: cut the limit by 30 % (adaptive only), at most once
    /// per back-off window so a burst of 503s from one moment counts once.
    pub fn overloaded(&self) {
        let mut s = self.state.lock().expect("limiter lock");
        let now = std::time::Instant::now();
        let recent = s
            .last_cut
            .is_some_and(|at| now.duration_since(at) < CUT_WINDOW);
        if s.adaptive && !recent {
            s.limit = (s.limit * 0.7).max(1.0);
            s.last_cut = Some(now);
        }
    }
}

/// Room for one person; dropping it frees the room.
#[derive(Debug)]
pub struct Permit {
    limiter: Arc<Limiter>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.limiter.state.lock().expect("limiter lock").in_flight -= 1;
        self.limiter.notify.notify_one();
    }
}

#[cfg(test)]
mod tests;
