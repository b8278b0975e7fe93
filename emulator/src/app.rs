//! Shared state of one running emulator.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use tokio::sync::Semaphore;

use crate::config::{ApiVersion, EmulatorConfig};
use crate::faults::{Fault, FaultConfig, FaultState};
use crate::state::{Db, Key};
use crate::stats::StatsTracker;

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct App {
    pub cfg: EmulatorConfig,
    db: Mutex<Db>,
    pub stats: StatsTracker,
    faults: Mutex<FaultState>,
    clock_offset_ms: AtomicI64,
    latency_us: AtomicU64,
    pub capacity: Option<Arc<Semaphore>>,
    /// Requests waiting for a capacity permit.
    pub waiting: AtomicUsize,
    /// The base URL (`http://host:port`), set after binding.
    pub base_url: Mutex<String>,
}

impl App {
    pub fn new(cfg: EmulatorConfig) -> Arc<App> {
        let offset_ms = cfg.clock_offset.num_milliseconds();
        let now = now_with_offset(offset_ms);
        let db = Db::seeded(&cfg, now);
        let capacity = cfg.capacity.map(|n| Arc::new(Semaphore::new(n.max(1))));
        Arc::new(App {
            db: Mutex::new(db),
            stats: StatsTracker::default(),
            faults: Mutex::new(FaultState::new(cfg.faults.clone())),
            clock_offset_ms: AtomicI64::new(offset_ms),
            latency_us: AtomicU64::new(cfg.latency.as_micros() as u64),
            capacity,
            waiting: AtomicUsize::new(0),
            base_url: Mutex::new(String::new()),
            cfg,
        })
    }

    pub fn version(&self) -> ApiVersion {
        self.cfg.api_version
    }

    pub fn db(&self) -> MutexGuard<'_, Db> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The emulator's "now": real time + offset, truncated to milliseconds like Postgres/Prisma.
    pub fn now(&self) -> DateTime<Utc> {
        now_with_offset(self.clock_offset_ms.load(Ordering::Relaxed))
    }

    pub fn set_clock_offset(&self, offset: chrono::Duration) {
        self.clock_offset_ms
            .store(offset.num_milliseconds(), Ordering::Relaxed);
    }

    pub fn clock_offset(&self) -> chrono::Duration {
        chrono::Duration::milliseconds(self.clock_offset_ms.load(Ordering::Relaxed))
    }

    pub fn latency(&self) -> Duration {
        Duration::from_micros(self.latency_us.load(Ordering::Relaxed))
    }

    pub fn set_latency(&self, latency: Duration) {
        self.latency_us
            .store(latency.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn set_faults(&self, faults: FaultConfig) {
        *self.faults.lock().unwrap_or_else(|e| e.into_inner()) = FaultState::new(faults);
    }

    pub fn fault_config(&self) -> FaultConfig {
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .config
            .clone()
    }

    pub fn draw_fault(&self, path: &str) -> Option<Fault> {
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .draw(path)
    }

    pub fn base_url(&self) -> String {
        self.base_url
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Mint a virtual key for `user_id` and count it; returns (plaintext key, stored key).
    pub fn mint_key(
        &self,
        user_id: &str,
        team_id: Option<String>,
        now: DateTime<Utc>,
    ) -> (String, Key) {
        let plain = format!("sk-{}", random_b64url(16));
        let key = Key {
            token: sha256_hex(&plain),
            key_name: abbreviate_key(&plain),
            user_id: user_id.to_string(),
            team_id,
            created_at: now,
        };
        self.stats.key_created();
        (plain, key)
    }
}

fn now_with_offset(offset_ms: i64) -> DateTime<Utc> {
    let t = Utc::now() + chrono::Duration::milliseconds(offset_ms);
    t.duration_trunc(TimeDelta::milliseconds(1)).unwrap_or(t)
}

/// LiteLLM's timestamp format: `2026-11-30T00:22:35.961000Z`.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    format!("{}000Z", t.format("%Y-%m-%dT%H:%M:%S%.3f"))
}

/// `sk-...abcd` as LiteLLM shows key names.
pub(crate) fn abbreviate_key(key: &str) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("sk-...{tail}")
}

pub(crate) fn sha256_hex(s: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(s.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `n` random bytes as unpadded base64url.
pub(crate) fn random_b64url(n: usize) -> String {
    let mut bytes = Vec::with_capacity(n + 16);
    while bytes.len() < n {
        bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    bytes.truncate(n);
    b64url(&bytes)
}

/// Unpadded base64url encoding.
pub(crate) fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 3);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let idx = (n >> (18 - 6 * i)) & 0x3f;
            out.push(ALPHABET[idx as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b64url_matches_known_values() {
        assert_eq!(b64url(b"f"), "Zg");
        assert_eq!(b64url(b"fo"), "Zm8");
        assert_eq!(b64url(b"foo"), "Zm9v");
        assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(random_b64url(16).len(), 22);
    }

    #[test]
    fn key_hash_matches_litellm() {
        assert_eq!(
            sha256_hex("sk-wrong-key"),
            "fa15715de513b67c4e7f1d37f1ee57fa9aa172a4f3218804114b34df5044a3be"
        );
        assert_eq!(abbreviate_key("sk-CRFkoM960m84l_0JLuowIQ"), "sk-...owIQ");
    }

    #[test]
    fn timestamp_format() {
        let t = DateTime::parse_from_rfc3339("2026-11-30T00:22:35.961Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(ts(t), "2026-11-30T00:22:35.961000Z");
    }
}
