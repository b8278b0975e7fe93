//! What the user typed for `--send-email`: the clap flags, flattened into the global options.
//!
//! The password has no flag on purpose (others can read a command line): it comes from
//! `ONBOARD_SMTP_PASSWORD` or `--smtp-password-file`, read in [`crate::config`].

use std::path::PathBuf;

use clap::Args;

use crate::types::TlsMode;

/// The `--send-email` options (global: accepted by the bulk run, `invite` and `refresh`).
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Email (--send-email)")]
pub struct MailArgs {
    /// Email each person their onboarding link and its expiry once the invitation is recorded.
    #[arg(long, global = true)]
    pub send_email: bool,
    /// The SMTP server.
    #[arg(long, global = true, env = "ONBOARD_SMTP_HOST", value_name = "HOST")]
    pub smtp_host: Option<String>,
    /// The SMTP port [default: 465 with implicit TLS, 587 with STARTTLS, 25 without TLS].
    #[arg(long, global = true, env = "ONBOARD_SMTP_PORT", value_name = "PORT")]
    pub smtp_port: Option<u16>,
    /// The SMTP user name (the password comes from ONBOARD_SMTP_PASSWORD or --smtp-password-file).
    #[arg(
        long,
        global = true,
        env = "ONBOARD_SMTP_USERNAME",
        value_name = "USER"
    )]
    pub smtp_username: Option<String>,
    /// Read the SMTP password from a file (instead of ONBOARD_SMTP_PASSWORD).
    #[arg(long, global = true, value_name = "PATH")]
    pub smtp_password_file: Option<PathBuf>,
    /// The sender, e.g. "IT <it@company.com>".
    #[arg(long, global = true, env = "ONBOARD_SMTP_FROM", value_name = "ADDRESS")]
    pub smtp_from: Option<String>,
    /// Transport security.
    #[arg(
        long,
        global = true,
        env = "ONBOARD_SMTP_TLS",
        value_enum,
        default_value_t = TlsMode::Starttls
    )]
    pub smtp_tls: TlsMode,
    /// A PEM file of CA certificates to trust for the SMTP server (a private CA).
    #[arg(long, global = true, value_name = "PEM")]
    pub smtp_ca_cert: Option<PathBuf>,
    /// The email template: a "Subject: …" line, a blank line, then the body; placeholders
    /// {email}, {link}, {expires_at}, {team} ({{ and }} for braces).
    #[arg(long, global = true, value_name = "PATH")]
    pub email_template: Option<PathBuf>,
}
