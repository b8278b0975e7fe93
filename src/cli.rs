//! What the user typed: the clap definition. Nothing below `config` sees these types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::output::Format;
use crate::types::Role;

const EXAMPLES: &str = "\
Examples:
  Bulk, from a CSV (user_email,team_id):
    export LITELLM_PROXY_URL=https://litellm.example.com LITELLM_MASTER_KEY=sk-...
    onboard users.csv
  A plain list of emails, all into one team:
    onboard emails.csv --team f6dbea80-21b4-4f7b-a669-3d6adcc6e8d1
  One person; only the link goes to stdout:
    LINK=$(onboard invite alice@company.com --team Dev-Test)
  Cron, renewing expired invitations:
    onboard refresh -q --json >> renewed-links.jsonl
  A CSV file named like a subcommand: onboard ./invite";

/// Onboard people into a LiteLLM proxy: users, invitations and onboarding links.
#[derive(Debug, Parser)]
#[command(name = "onboard", version, about, after_help = EXAMPLES)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Cli {
    /// The CSV of people to onboard (columns user_email,team_id[,user_role,user_alias]).
    #[arg(value_name = "CSV", required = true)]
    pub csv: Option<PathBuf>,

    /// Options of the bulk run.
    #[command(flatten)]
    pub bulk: BulkArgs,

    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,

    /// A subcommand instead of the bulk run.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands beside the default bulk run.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Onboard one person and print their link on stdout.
    Invite(InviteArgs),
    /// Renew invitations that expired (or will soon) before the person accepted them.
    Refresh(RefreshArgs),
    /// Show everyone in the audit file and where they stand.
    Status(StatusArgs),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Options of the bulk run (also accepted by `invite` where they make sense).
#[derive(Debug, Args, Default)]
pub struct BulkArgs {
    /// Team id (or alias) for rows without a team_id.
    #[arg(long, value_name = "TEAM")]
    pub team: Option<String>,
    /// Role for rows without a user_role.
    #[arg(long, value_enum)]
    pub role: Option<Role>,
    /// Make a fresh invitation even for people whose invitation is still valid.
    #[arg(long)]
    pub reinvite: bool,
    /// Onboard the valid rows and record the invalid ones as failed.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Check everything and show the plan; send no write request.
    #[arg(long)]
    pub dry_run: bool,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The proxy's base URL (a path prefix is fine).
    #[arg(
        long,
        env = "LITELLM_PROXY_URL",
        global = true,
        value_name = "URL",
        hide_env_values = true
    )]
    pub proxy_url: Option<String>,
    /// The master key; prefer LITELLM_MASTER_KEY or --master-key-file (others can see arguments).
    #[arg(long, global = true, value_name = "KEY", hide = true)]
    pub master_key: Option<String>,
    /// Read the master key from a file.
    #[arg(long, global = true, value_name = "PATH")]
    pub master_key_file: Option<PathBuf>,
    /// The audit file.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        default_value = "onboarding_results.json"
    )]
    pub results: PathBuf,
    /// People in flight at once: a fixed number instead of the adaptive default.
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: Option<u32>,
    /// The most requests per second.
    #[arg(long, global = true, value_name = "N")]
    pub rate: Option<f64>,
    /// Retries for a request that may succeed next time (connection errors, 429, 502-504).
    #[arg(long, global = true, value_name = "N", default_value_t = 4)]
    pub retries: u32,
    /// Timeout for one request, in seconds.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 30.0)]
    pub timeout: f64,
    /// Output format for results on stdout.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Shorthand for --format json.
    #[arg(long, global = true)]
    pub json: bool,
    /// Say nothing unless something failed.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Log requests on stderr (-v: retries and pauses, -vv: every request); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Send the master key over plain http to a host that is not loopback.
    #[arg(long, global = true)]
    pub allow_insecure_http: bool,
    /// A PEM file of extra CA certificates to trust (a private CA).
    #[arg(long, global = true, value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
    /// Create the missing `default_user_id` row that /invitation/new needs on fresh proxies.
    #[arg(long, global = true)]
    pub fix_default_user: bool,
    /// `--send-email` and the SMTP settings.
    #[command(flatten)]
    pub mail: crate::mail::MailArgs,
}

impl GlobalArgs {
    /// The output format, `--json` included (for commands that run without a `Config`).
    pub fn output_format(&self) -> Format {
        if self.json { Format::Json } else { self.format }
    }
}

/// `onboard invite`.
#[derive(Debug, Args)]
pub struct InviteArgs {
    /// The person's email.
    pub email: String,
    /// Team id (or alias).
    #[arg(long, value_name = "TEAM")]
    pub team: String,
    /// The user's role.
    #[arg(long, value_enum)]
    pub role: Option<Role>,
    /// A display name.
    #[arg(long)]
    pub alias: Option<String>,
    /// Make a fresh invitation even if one is still valid.
    #[arg(long)]
    pub reinvite: bool,
    /// Check everything; send no write request.
    #[arg(long)]
    pub dry_run: bool,
}

/// `onboard refresh`.
#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// Also renew invitations expiring within this long (e.g. 24h, 2d, 30m).
    #[arg(long, value_name = "DURATION", default_value = "0s")]
    pub within: String,
    /// Check everything; send no write request.
    #[arg(long)]
    pub dry_run: bool,
}

/// `onboard status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only people whose invitation is pending.
    #[arg(long, group = "only")]
    pub pending: bool,
    /// Only people whose invitation expired.
    #[arg(long, group = "only")]
    pub expired: bool,
    /// Only people who accepted.
    #[arg(long, group = "only")]
    pub accepted: bool,
    /// Only people who failed.
    #[arg(long, group = "only")]
    pub failed: bool,
    /// Ask the proxy for the live state first (and record it).
    #[arg(long)]
    pub check: bool,
    /// Show the onboarding links (they are credentials).
    #[arg(long)]
    pub show_links: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn csv_and_subcommands_parse() {
        let cli =
            Cli::try_parse_from(["onboard", "users.csv", "--team", "t", "--concurrency", "8"])
                .unwrap();
        assert_eq!(cli.csv.unwrap(), PathBuf::from("users.csv"));
        assert_eq!(cli.global.concurrency, Some(8));
        let cli = Cli::try_parse_from(["onboard", "invite", "a@b.co", "--team", "t"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Invite(_))));
        let cli = Cli::try_parse_from(["onboard", "./invite"]).unwrap();
        assert!(cli.command.is_none());
        let cli =
            Cli::try_parse_from(["onboard", "status", "--results", "r.json", "--pending"]).unwrap();
        assert_eq!(cli.global.results, PathBuf::from("r.json"));
        assert!(Cli::try_parse_from(["onboard"]).is_err());
        assert!(Cli::try_parse_from(["onboard", "x.csv", "--concurrency", "0"]).is_err());
    }
}
