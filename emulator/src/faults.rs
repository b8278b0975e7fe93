//! Deterministic fault injection for write endpoints.

use serde::{Deserialize, Serialize};

/// Probabilities of injected faults on write endpoints
/// (`/user/new`, `/invitation/new`, `/team/member_add`, `/invitation/delete`).
///
/// Each write request draws one number `u` in `[0, 1)` from a SplitMix64 generator seeded with
/// `seed`; the fault is chosen by cumulative probability in this order: `overload`,
/// `fail_before_commit`, `fail_after_commit`, `drop_after_commit`. So the same seed and the same
/// sequence of write requests give the same faults. All fields are optional in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultConfig {
    /// Seed of the fault generator.
    pub seed: u64,
    /// 500 envelope before anything is stored.
    pub fail_before_commit: f64,
    /// The write is stored, then a 500 envelope is returned (the response is "lost").
    pub fail_after_commit: f64,
    /// The write is stored, then the TCP connection is closed with no HTTP response.
    pub drop_after_commit: f64,
    /// 503 `overloaded_error` with `retry-after`, nothing stored.
    pub overload: f64,
    /// Value of the `retry-after` header on overload responses (seconds).
    pub retry_after_secs: u64,
    /// Only these write routes get faults (e.g. `["/invitation/delete"]`); empty: all of them.
    pub routes: Vec<String>,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            seed: 0,
            fail_before_commit: 0.0,
            fail_after_commit: 0.0,
            drop_after_commit: 0.0,
            overload: 0.0,
            retry_after_secs: 1,
            routes: Vec::new(),
        }
    }
}

impl FaultConfig {
    /// No faults.
    pub fn none() -> Self {
        Self::default()
    }

    /// True when faults apply to the write route `path`.
    pub fn covers(&self, path: &str) -> bool {
        self.routes.is_empty() || self.routes.iter().any(|r| r == path)
    }

    /// True when any fault probability is positive.
    pub fn is_active(&self) -> bool {
        self.fail_before_commit > 0.0
            || self.fail_after_commit > 0.0
            || self.drop_after_commit > 0.0
            || self.overload > 0.0
    }
}

/// The fault chosen for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    Overload,
    FailBeforeCommit,
    FailAfterCommit,
    DropAfterCommit,
}

/// The live fault settings plus the seeded generator.
#[derive(Debug)]
pub(crate) struct FaultState {
    pub config: FaultConfig,
    rng: SplitMix64,
}

impl FaultState {
    pub fn new(config: FaultConfig) -> Self {
        let rng = SplitMix64(config.seed);
        FaultState { config, rng }
    }

    /// Draw the fault (if any) for the next write request to `path`.
    pub fn draw(&mut self, path: &str) -> Option<Fault> {
        if !self.config.is_active() || !self.config.covers(path) {
            return None;
        }
        let u = self.rng.next_f64();
        let c = &self.config;
        let mut edge = c.overload;
        if u < edge {
            return Some(Fault::Overload);
        }
        edge += c.fail_before_commit;
        if u < edge {
            return Some(Fault::FailBeforeCommit);
        }
        edge += c.fail_after_commit;
        if u < edge {
            return Some(Fault::FailAfterCommit);
        }
        edge += c.drop_after_commit;
        if u < edge {
            return Some(Fault::DropAfterCommit);
        }
        None
    }
}

/// SplitMix64: tiny, fast and deterministic; good enough for fault schedules.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_schedule() {
        let cfg = FaultConfig {
            seed: 7,
            fail_before_commit: 0.3,
            overload: 0.2,
            ..FaultConfig::default()
        };
        let mut a = FaultState::new(cfg.clone());
        let mut b = FaultState::new(cfg);
        let xs: Vec<_> = (0..100).map(|_| a.draw("/user/new")).collect();
        let ys: Vec<_> = (0..100).map(|_| b.draw("/user/new")).collect();
        assert_eq!(xs, ys);
        let n = xs.iter().filter(|f| f.is_some()).count();
        assert!((30..70).contains(&n), "{n}");
    }

    #[test]
    fn certain_fault_always_fires() {
        let mut s = FaultState::new(FaultConfig {
            drop_after_commit: 1.0,
            ..FaultConfig::default()
        });
        assert!((0..50).all(|_| s.draw("/user/new") == Some(Fault::DropAfterCommit)));
    }

    #[test]
    fn faults_can_be_limited_to_some_routes() {
        let mut s = FaultState::new(FaultConfig {
            fail_after_commit: 1.0,
            routes: vec!["/invitation/delete".into()],
            ..FaultConfig::default()
        });
        assert_eq!(s.draw("/invitation/new"), None);
        assert_eq!(s.draw("/invitation/delete"), Some(Fault::FailAfterCommit));
    }
}
