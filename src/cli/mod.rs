//! What the user typed: the clap definition. Nothing below `config` sees these types.

mod mail;

pub use mail::MailArgs;

use std::path::PathBuf;
use std::time::Duration;

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
  The proxy's users as a CSV (re-running it changes nothing):
    onboard export --team Dev-Test -o dev-test.csv
  Can everyone work? (exit 1 when an admin must act):
    onboard doctor --json
  A CSV file named like a subcommand: onboard ./invite";

/// Onboard people into a LiteLLM proxy: users, invitations and onboarding links.
#[derive(Debug, Parser)]
#[command(name = "onboard", version = env!("ONBOARD_VERSION"), about, after_help = EXAMPLES)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Cli {
    /// The CSV of people to onboard (user_email,team_id[,user_role,user_alias], or the admin
    /// UI's template user_email,user_role,teams,max_budget,budget_duration,models).
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
    /// Delete people's users and invitations on the proxy (or, with --team, remove them from
    /// one team).
    Offboard(OffboardArgs),
    /// Write the proxy's users (of one team, or all) as a CSV `onboard` reads back.
    Export(ExportArgs),
    /// Check whether people can work: teams whose members cannot create keys, blocked or
    /// spent teams, the UI, invitations about to expire, people without a key or team.
    Doctor(DoctorArgs),
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
    /// The CSV is the whole membership of each team it names: remove other members (not team
    /// admins) from those teams.
    #[arg(long)]
    pub prune: bool,
    /// Do not ask before removing anyone (needed without a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// SSO proxies: create and update users and memberships only, make no invitation (the
    /// link recorded is <proxy>/ui).
    #[arg(long)]
    pub no_invite: bool,
    /// Create users in bulk (`/management/v1/users/bulk`) when the proxy has it (`auto`), or
    /// one at a time (`never`).
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = crate::types::BulkMode::Auto)]
    pub bulk: crate::types::BulkMode,
    /// Let the members of each team create their own keys: add /key/generate, /key/update,
    /// /key/delete, /key/info and /key/list to the team's team_member_permissions (nothing is
    /// removed).
    #[arg(long)]
    pub grant_key_permissions: bool,
}

/// `onboard export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Only the users of this team (id or alias).
    #[arg(long, value_name = "TEAM")]
    pub team: Option<String>,
    /// Write the CSV to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `onboard doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// A CSV of people (as `onboard <CSV>` reads it): check the teams it names and its people.
    #[arg(value_name = "CSV")]
    pub csv: Option<PathBuf>,
    /// Check this team (id or alias) and its people; may be repeated. Without a CSV or a
    /// team: the teams and people of the audit file.
    #[arg(long, value_name = "TEAM")]
    pub team: Vec<String>,
    /// Report people who accepted this many days ago or more and have no key yet.
    #[arg(long, value_name = "DAYS", default_value_t = 3)]
    pub no_key_days: u32,
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
    /// The most requests per second (0.001 to 10000).
    #[arg(long, global = true, value_name = "N", value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Retries for a request that may succeed next time (connection errors, 429, 502-504).
    #[arg(long, global = true, value_name = "N", default_value_t = 4)]
    pub retries: u32,
    /// Timeout for one request: seconds (30) or a duration (30s, 2m); at most 1h.
    #[arg(long, global = true, value_name = "DURATION", default_value = "30", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// Output format for results on stdout.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Shorthand for --format json.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print only what needs you: new links, warnings and failures (and the summary of a run with failures).
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
    /// Who the proxy's audit log names for every write (the `litellm-changed-by` header).
    #[arg(long, global = true, value_name = "NAME", default_value = "onboard")]
    pub changed_by: String,
    /// `--send-email` and the SMTP settings.
    #[command(flatten)]
    pub mail: MailArgs,
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
    /// Let the team's members create their own keys (see the bulk run's option).
    #[arg(long)]
    pub grant_key_permissions: bool,
}

/// `onboard refresh`.
#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// Also renew invitations expiring within this long (e.g. 24h, 2d, 30m); under 7 days.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_within)]
    pub within: Duration,
    /// Check everything; send no write request.
    #[arg(long)]
    pub dry_run: bool,
}

/// `onboard offboard`.
#[derive(Debug, Args)]
pub struct OffboardArgs {
    /// Emails, or CSV files of them (the user_email column; other columns are ignored).
    #[arg(value_name = "EMAIL|CSV", required = true)]
    pub targets: Vec<String>,
    /// Only remove the people from this team (id or alias); their users are kept.
    #[arg(long, value_name = "TEAM")]
    pub team: Option<String>,
    /// Offboard proxy admins too (refused otherwise).
    #[arg(long)]
    pub include_admins: bool,
    /// Do not ask before removing anyone (needed without a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Show the plan; send no write request.
    #[arg(long)]
    pub dry_run: bool,
    /// Delete users in bulk (`/management/v1/users/bulk_delete`) when the proxy has it
    /// (`auto`), or one `/user/delete` each (`never`).
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = crate::types::BulkMode::Auto)]
    pub bulk: crate::types::BulkMode,
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
    /// Only people who were offboarded.
    #[arg(long, group = "only")]
    pub offboarded: bool,
    /// Ask the proxy for the live state first (and record it).
    #[arg(long)]
    pub check: bool,
    /// Show the onboarding links (they are credentials).
    #[arg(long)]
    pub show_links: bool,
}

/// The fewest requests per second `--rate` takes (one every 1000 s).
pub const MIN_RATE: f64 = 0.001;
/// The most requests per second `--rate` takes.
pub const MAX_RATE: f64 = 10_000.0;
/// The longest `--timeout`.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// How long an invitation lives on the proxy; `refresh --within` must be shorter.
pub const INVITATION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// `--rate`: a finite number of requests per second within [`MIN_RATE`]..=[`MAX_RATE`].
fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .trim()
        .parse()
        .map_err(|_| "expected a number of requests per second, e.g. 50 or 0.5".to_string())?;
    if !rate.is_finite() || !(MIN_RATE..=MAX_RATE).contains(&rate) {
        return Err(format!(
            "must be a number of requests per second from {MIN_RATE} to {MAX_RATE}"
        ));
    }
    Ok(rate)
}

/// A duration as `humantime` reads it (`30s`, `2m`, `24h`, `2d`, `1w`, `1d12h`, `0s`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| format!("{e} (e.g. 30s, 2m, 24h, 2d)"))
}

/// `--timeout`: a bare number of seconds (as before) or a duration; above zero, at most
/// [`MAX_TIMEOUT`].
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let timeout = match text.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs <= MAX_TIMEOUT.as_secs_f64() => {
            Duration::from_secs_f64(secs)
        }
        Ok(_) => Duration::ZERO,
        Err(_) => parse_duration(text)?,
    };
    if timeout.is_zero() || timeout > MAX_TIMEOUT {
        return Err("must be above zero and at most 1h (seconds, or e.g. 30s, 2m)".into());
    }
    Ok(timeout)
}

/// `refresh --within`: a duration shorter than an invitation's lifetime.
fn parse_within(text: &str) -> Result<Duration, String> {
    let within = parse_duration(text)?;
    if within >= INVITATION_LIFETIME {
        return Err("an invitation lives 7 days, so this would renew every invitation on every run: use less than 7d".into());
    }
    Ok(within)
}

#[cfg(test)]
mod tests;
