//! Request counters and in-flight gauges.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// How many faults of each kind were injected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultCounts {
    /// 503 overload responses.
    pub overload: u64,
    /// 500 before commit.
    pub fail_before_commit: u64,
    /// 500 after commit.
    pub fail_after_commit: u64,
    /// Connections closed after commit.
    pub drop_after_commit: u64,
}

/// A snapshot of the emulator's counters (control routes `/_emulator/*` are not counted).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// All API requests received.
    pub total_requests: u64,
    /// POST requests received (any route).
    pub write_requests: u64,
    /// Requests other than POSTs received before the first POST (since the last reset): what
    /// a run reads before it changes anything.
    pub reads_before_first_write: u64,
    /// Requests per path (without the server root prefix), e.g. `"/user/new"`.
    pub per_route: BTreeMap<String, u64>,
    /// Responses per HTTP status, e.g. `"409"` (dropped connections are not counted).
    pub per_status: BTreeMap<String, u64>,
    /// Virtual keys minted (by `/user/new` with `auto_create_key`, and `/key/generate`).
    pub keys_created: u64,
    /// User rows created (by any route, not by control calls).
    pub users_created: u64,
    /// Invitation rows created by `/invitation/new`.
    pub invitations_created: u64,
    /// Rows received by `/management/v1/users/bulk` (in requests that passed validation).
    pub bulk_rows_requested: u64,
    /// Bulk rows that created a user.
    pub bulk_rows_created: u64,
    /// Bulk rows that failed (reported per row in a 200 answer).
    pub bulk_rows_failed: u64,
    /// Highest number of API requests inside the emulator at once (queued + served).
    pub peak_in_flight: u64,
    /// Highest number of requests being served at once (≤ capacity in capacity mode).
    pub peak_served: u64,
    /// Requests inside the emulator right now.
    pub in_flight: u64,
    /// Number of distinct emails (trimmed, lower-cased) held by more than one user right now.
    pub duplicate_emails: u64,
    /// Injected faults.
    pub faults: FaultCounts,
    /// Write (POST) requests per `litellm-changed-by` header value (`""`: no header), the
    /// name LiteLLM puts in its audit log.
    #[serde(default)]
    pub changed_by: BTreeMap<String, u64>,
}

impl Stats {
    /// Requests received for `route` (e.g. `"/user/new"`).
    pub fn count(&self, route: &str) -> u64 {
        self.per_route.get(route).copied().unwrap_or(0)
    }

    /// Responses sent with `status`.
    pub fn status_count(&self, status: u16) -> u64 {
        self.per_status
            .get(&status.to_string())
            .copied()
            .unwrap_or(0)
    }
}

/// Thread-safe counters behind [`Stats`].
#[derive(Debug, Default)]
pub(crate) struct StatsTracker {
    inner: Mutex<Stats>,
    served: Mutex<u64>,
}

impl StatsTracker {
    fn with<R>(&self, f: impl FnOnce(&mut Stats) -> R) -> R {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut s)
    }

    /// A request arrived: count it and raise the in-flight gauge.
    pub fn begin(&self, path: &str, is_write: bool) {
        self.with(|s| {
            s.total_requests += 1;
            if is_write {
                s.write_requests += 1;
            } else if s.write_requests == 0 {
                s.reads_before_first_write += 1;
            }
            *s.per_route.entry(path.to_string()).or_default() += 1;
            s.in_flight += 1;
            s.peak_in_flight = s.peak_in_flight.max(s.in_flight);
        });
    }

    /// A request left (response sent or connection dropped).
    pub fn end(&self) {
        self.with(|s| s.in_flight = s.in_flight.saturating_sub(1));
    }

    /// A request started being served.
    pub fn serve_begin(&self) {
        let now = {
            let mut served = self.served.lock().unwrap_or_else(|e| e.into_inner());
            *served += 1;
            *served
        };
        self.with(|s| s.peak_served = s.peak_served.max(now));
    }

    /// A request stopped being served.
    pub fn serve_end(&self) {
        let mut served = self.served.lock().unwrap_or_else(|e| e.into_inner());
        *served = served.saturating_sub(1);
    }

    /// Current (in-flight, served) gauges.
    pub fn gauges(&self) -> (u64, u64) {
        let served = *self.served.lock().unwrap_or_else(|e| e.into_inner());
        (self.with(|s| s.in_flight), served)
    }

    /// A write arrived with this `litellm-changed-by` header (`None`: without one).
    pub fn changed_by(&self, value: Option<&str>) {
        let key = value.unwrap_or_default().to_string();
        self.with(|s| *s.changed_by.entry(key).or_default() += 1);
    }

    pub fn status(&self, status: u16) {
        self.with(|s| *s.per_status.entry(status.to_string()).or_default() += 1);
    }

    pub fn key_created(&self) {
        self.with(|s| s.keys_created += 1);
    }

    pub fn user_created(&self) {
        self.with(|s| s.users_created += 1);
    }

    pub fn bulk_rows(&self, requested: u64, created: u64) {
        self.with(|s| {
            s.bulk_rows_requested += requested;
            s.bulk_rows_created += created;
            s.bulk_rows_failed += requested.saturating_sub(created);
        });
    }

    pub fn invitation_created(&self) {
        self.with(|s| s.invitations_created += 1);
    }

    pub fn fault(&self, f: crate::faults::Fault) {
        use crate::faults::Fault;
        self.with(|s| match f {
            Fault::Overload => s.faults.overload += 1,
            Fault::FailBeforeCommit => s.faults.fail_before_commit += 1,
            Fault::FailAfterCommit => s.faults.fail_after_commit += 1,
            Fault::DropAfterCommit => s.faults.drop_after_commit += 1,
        });
    }

    /// Zero every counter and peak; gauges keep their current value.
    pub fn reset(&self) {
        let served = *self.served.lock().unwrap_or_else(|e| e.into_inner());
        self.with(|s| {
            let in_flight = s.in_flight;
            *s = Stats {
                in_flight,
                peak_in_flight: in_flight,
                peak_served: served,
                ..Stats::default()
            };
        });
    }

    pub fn snapshot(&self, duplicate_emails: u64) -> Stats {
        let mut s = self.with(|s| s.clone());
        s.duplicate_emails = duplicate_emails;
        s
    }
}

/// Decrements the in-flight gauge when dropped.
pub(crate) struct InFlightGuard<'a>(pub &'a StatsTracker);

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// Decrements the served gauge when dropped.
pub(crate) struct ServedGuard<'a>(pub &'a StatsTracker);

impl Drop for ServedGuard<'_> {
    fn drop(&mut self) {
        self.0.serve_end();
    }
}
