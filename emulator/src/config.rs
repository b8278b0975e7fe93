//! Emulator configuration: which LiteLLM version to mimic, keys, seed data, timing and faults.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::faults::FaultConfig;

/// Team id of the default seeded team "Dev-Test".
pub const DEV_TEST_TEAM_ID: &str = "f6dbea80-21b4-4f7b-a669-3d6adcc6e8d1";
/// Team id of the default seeded team "Research".
pub const RESEARCH_TEAM_ID: &str = "0c5a6b7e-3d2f-4a1b-9e8d-7f6a5b4c3d2e";
/// The user id LiteLLM gives the master key (`LITELLM_PROXY_ADMIN_NAME`).
pub const DEFAULT_USER_ID: &str = "default_user_id";
/// The default master key.
pub const DEFAULT_MASTER_KEY: &str = "sk-1234";

/// Which LiteLLM release's behaviour to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum ApiVersion {
    /// LiteLLM 1.80.x ("old").
    #[serde(rename = "1.80")]
    V1_80,
    /// LiteLLM 1.109.x ("new"; error shapes follow the recorded 1.106.2 responses).
    #[default]
    #[serde(rename = "1.109")]
    V1_109,
}

impl ApiVersion {
    /// True for the newer (1.109) behaviour.
    pub fn is_new(self) -> bool {
        self == ApiVersion::V1_109
    }

    /// The version string, e.g. `"1.109"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1_80 => "1.80",
            ApiVersion::V1_109 => "1.109",
        }
    }

    /// The full LiteLLM version the emulator reports (`/openapi.json` `info.version`; 1.80's
    /// `/health/readiness`): `"1.80.0"` or `"1.109.1"`.
    pub fn litellm_version(self) -> &'static str {
        match self {
            ApiVersion::V1_80 => "1.80.0",
            ApiVersion::V1_109 => "1.109.1",
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApiVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "1.80" | "1.80.0" | "old" => Ok(ApiVersion::V1_80),
            "1.109" | "1.109.1" | "new" => Ok(ApiVersion::V1_109),
            other => Err(format!(
                "unknown API version {other:?} (expected 1.80 or 1.109)"
            )),
        }
    }
}

/// An extra (non-master) API key accepted by the emulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// The bearer token, e.g. `sk-internal`.
    pub key: String,
    /// The caller's role: `proxy_admin`, `proxy_admin_viewer`, `internal_user`, `internal_user_viewer`.
    pub user_role: String,
    /// The user id the key is bound to (no user row is created for it).
    pub user_id: Option<String>,
}

impl ApiKey {
    /// A key for an `internal_user` bound to `user_id`.
    pub fn internal_user(key: &str, user_id: &str) -> Self {
        ApiKey {
            key: key.to_string(),
            user_role: "internal_user".to_string(),
            user_id: Some(user_id.to_string()),
        }
    }
}

/// A team created when the emulator starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedTeam {
    /// The team id (primary key).
    pub team_id: String,
    /// The display name.
    pub team_alias: String,
}

impl SeedTeam {
    /// A seed team from id and alias.
    pub fn new(team_id: &str, team_alias: &str) -> Self {
        SeedTeam {
            team_id: team_id.to_string(),
            team_alias: team_alias.to_string(),
        }
    }

    /// The default seed: "Dev-Test" and "Research".
    pub fn defaults() -> Vec<SeedTeam> {
        vec![
            SeedTeam::new(DEV_TEST_TEAM_ID, "Dev-Test"),
            SeedTeam::new(RESEARCH_TEAM_ID, "Research"),
        ]
    }
}

/// Everything the emulator needs to start.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Address to bind (default `127.0.0.1`).
    pub host: String,
    /// Port to bind; 0 picks a free port (default 0).
    pub port: u16,
    /// Behaviour to reproduce (default 1.109).
    pub api_version: ApiVersion,
    /// The master key (default `sk-1234`); it authenticates as `proxy_admin` / `default_user_id`.
    pub master_key: String,
    /// Additional keys, e.g. for non-admin callers.
    pub extra_keys: Vec<ApiKey>,
    /// Delay added to every non-control request (for `/user/new` it sits between the
    /// duplicate check and the insert, which makes the duplicate race real).
    pub latency: Duration,
    /// At most this many requests are served at once; the rest wait (None = unlimited).
    pub capacity: Option<usize>,
    /// Multiplies the capacity-mode service times (1.0 = /user/new ≈ 25 ms).
    pub service_scale: f64,
    /// Congestion slowdown in capacity mode: service time × (1 + congestion × queued / capacity).
    pub congestion: f64,
    /// Fault injection for write endpoints.
    pub faults: FaultConfig,
    /// Whether the `default_user_id` user row exists at start (default true).
    pub default_user: bool,
    /// Teams created at start (default: Dev-Test and Research).
    pub seed_teams: Vec<SeedTeam>,
    /// `sso_configured` in `/.well-known/litellm-ui-config` (1.109).
    pub sso_configured: bool,
    /// `admin_ui_disabled` in `/.well-known/litellm-ui-config` (1.109).
    pub admin_ui_disabled: bool,
    /// `server_root_path` (default `/`); routes are served both at `/` and under this prefix.
    pub server_root_path: String,
    /// `proxy_base_url` reported by the UI config (default null).
    pub proxy_base_url: Option<String>,
    /// Initial clock offset: the emulator's "now" is real now + this.
    pub clock_offset: chrono::Duration,
    /// Leaky-proxy mode (default false): the 401 message shows the full presented key, and every
    /// other API error message gets ` Received API Key = <presented key>` appended.
    pub echo_key_in_errors: bool,
    /// Serve HTTPS with this certificate chain and key (PEM) instead of plain HTTP.
    pub tls: Option<TlsPem>,
}

/// A server certificate chain and its private key, both PEM.
#[derive(Clone, Debug)]
pub struct TlsPem {
    /// The certificate chain, leaf first.
    pub cert_chain: String,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: String,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            host: "127.0.0.1".to_string(),
            port: 0,
            api_version: ApiVersion::default(),
            master_key: DEFAULT_MASTER_KEY.to_string(),
            extra_keys: Vec::new(),
            latency: Duration::ZERO,
            capacity: None,
            service_scale: 1.0,
            congestion: 0.15,
            faults: FaultConfig::default(),
            default_user: true,
            seed_teams: SeedTeam::defaults(),
            sso_configured: false,
            admin_ui_disabled: false,
            server_root_path: "/".to_string(),
            proxy_base_url: None,
            clock_offset: chrono::Duration::zero(),
            echo_key_in_errors: false,
            tls: None,
        }
    }
}

impl EmulatorConfig {
    /// Default configuration for the given version.
    pub fn new(api_version: ApiVersion) -> Self {
        EmulatorConfig {
            api_version,
            ..EmulatorConfig::default()
        }
    }

    /// Default configuration with 1.80 behaviour.
    pub fn v1_80() -> Self {
        Self::new(ApiVersion::V1_80)
    }

    /// Default configuration with 1.109 behaviour.
    pub fn v1_109() -> Self {
        Self::new(ApiVersion::V1_109)
    }

    /// The root path normalised to `""` (no prefix) or `"/prefix"` (no trailing slash).
    pub(crate) fn root_prefix(&self) -> String {
        let trimmed = self.server_root_path.trim().trim_end_matches('/');
        if trimmed.is_empty() {
            String::new()
        } else if trimmed.starts_with('/') {
            trimmed.to_string()
        } else {
            format!("/{trimmed}")
        }
    }
}
