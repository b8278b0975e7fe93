//! `litellm-emulator`: run the emulator as a standalone server.

use std::io::Write;
use std::time::Duration;

use clap::Parser;
use litellm_emulator::{ApiVersion, Emulator, EmulatorConfig, FaultConfig};

/// An in-memory LiteLLM proxy emulator (users, invitations, teams, onboarding).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 4000)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// LiteLLM behaviour to reproduce: 1.80 or 1.109.
    #[arg(long, default_value = "1.109")]
    api_version: ApiVersion,
    /// The master key.
    #[arg(
        long,
        env = "LITELLM_MASTER_KEY",
        default_value = "sk-1234",
        hide_env_values = true
    )]
    master_key: String,
    /// Latency added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Serve at most N requests at once; the rest queue (models a small proxy).
    #[arg(long)]
    capacity: Option<usize>,
    /// Scale factor for capacity-mode service times (1.0: /user/new ≈ 25 ms).
    #[arg(long, default_value_t = 1.0)]
    service_scale: f64,
    /// Seed of the fault generator.
    #[arg(long, default_value_t = 0)]
    fault_seed: u64,
    /// Probability of a 500 before commit on write endpoints.
    #[arg(long, default_value_t = 0.0)]
    fail_before: f64,
    /// Probability of a 500 after commit on write endpoints.
    #[arg(long, default_value_t = 0.0)]
    fail_after: f64,
    /// Probability of closing the connection after commit on write endpoints.
    #[arg(long, default_value_t = 0.0)]
    drop_after: f64,
    /// Probability of a 503 overloaded_error on write endpoints.
    #[arg(long, default_value_t = 0.0)]
    overload: f64,
    /// retry-after seconds on overload responses.
    #[arg(long, default_value_t = 1)]
    retry_after: u64,
    /// Start without the default_user_id row (the /invitation/new trap).
    #[arg(long)]
    no_default_user: bool,
    /// Report sso_configured=true in /.well-known/litellm-ui-config.
    #[arg(long)]
    sso: bool,
    /// server_root_path; routes are also served under it.
    #[arg(long, default_value = "/")]
    server_root_path: String,
    /// Do not create the Dev-Test and Research teams.
    #[arg(long)]
    no_seed_teams: bool,
    /// Leaky proxy: echo the presented API key in error messages.
    #[arg(long)]
    echo_key_in_errors: bool,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, requires = "tls_key", value_name = "PEM")]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert", value_name = "PEM")]
    tls_key: Option<std::path::PathBuf>,
}

impl Cli {
    fn config(self) -> anyhow::Result<EmulatorConfig> {
        let mut cfg = EmulatorConfig::new(self.api_version);
        cfg.host = self.host;
        cfg.port = self.port;
        cfg.master_key = self.master_key;
        cfg.latency = Duration::from_millis(self.latency_ms);
        cfg.capacity = self.capacity;
        cfg.service_scale = self.service_scale;
        cfg.faults = FaultConfig {
            seed: self.fault_seed,
            fail_before_commit: self.fail_before,
            fail_after_commit: self.fail_after,
            drop_after_commit: self.drop_after,
            overload: self.overload,
            retry_after_secs: self.retry_after,
            routes: Vec::new(),
        };
        cfg.default_user = !self.no_default_user;
        cfg.sso_configured = self.sso;
        cfg.server_root_path = self.server_root_path;
        cfg.echo_key_in_errors = self.echo_key_in_errors;
        if self.no_seed_teams {
            cfg.seed_teams.clear();
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            cfg.tls = Some(litellm_emulator::TlsPem {
                cert_chain: std::fs::read_to_string(cert)?,
                key: std::fs::read_to_string(key)?,
            });
        }
        Ok(cfg)
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let version = cli.api_version;
    let emulator = Emulator::start(cli.config()?).await?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "litellm-emulator listening on {} (LiteLLM {version} behaviour)",
        emulator.url()
    )?;
    out.flush()?;
    drop(out);
    wait_for_signal().await;
    drop(emulator);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_map_to_config() {
        let cli = Cli::try_parse_from([
            "litellm-emulator",
            "--port",
            "0",
            "--api-version",
            "1.80",
            "--capacity",
            "4",
            "--no-default-user",
            "--sso",
            "--overload",
            "0.5",
            "--no-seed-teams",
        ])
        .unwrap();
        let cfg = cli.config().unwrap();
        assert_eq!(cfg.api_version, ApiVersion::V1_80);
        assert_eq!(cfg.capacity, Some(4));
        assert!(!cfg.default_user && cfg.sso_configured && cfg.seed_teams.is_empty());
        assert_eq!(cfg.faults.overload, 0.5);
    }
}
