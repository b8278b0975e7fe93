//! `--send-email` and the SMTP flags, resolved and checked before any request is sent.

use std::path::Path;

use lettre::message::Mailbox;

use super::is_loopback_host;
use crate::cli::MailArgs;
use crate::error::Fatal;
use crate::mail::{Login, MailConfig, PASSWORD_VAR, Secret, Template};
use crate::types::TlsMode;

/// The email flags given on the command line (a setting that only comes from its
/// environment variable is not one: the environment may serve other commands).
pub fn given(args: &MailArgs) -> Vec<&'static str> {
    let from_line = |value: &Option<String>, var: &str| {
        value.is_some() && std::env::var(var).ok().as_ref() != value.as_ref()
    };
    let port_from_line = args.smtp_port.is_some()
        && std::env::var("ONBOARD_SMTP_PORT").ok() != args.smtp_port.map(|p| p.to_string());
    [
        ("--send-email", args.send_email),
        (
            "--smtp-host",
            from_line(&args.smtp_host, "ONBOARD_SMTP_HOST"),
        ),
        ("--smtp-port", port_from_line),
        (
            "--smtp-username",
            from_line(&args.smtp_username, "ONBOARD_SMTP_USERNAME"),
        ),
        ("--smtp-password-file", args.smtp_password_file.is_some()),
        (
            "--smtp-from",
            from_line(&args.smtp_from, "ONBOARD_SMTP_FROM"),
        ),
        ("--smtp-ca-cert", args.smtp_ca_cert.is_some()),
        ("--email-template", args.email_template.is_some()),
    ]
    .into_iter()
    .filter_map(|(flag, on)| on.then_some(flag))
    .collect()
}

/// Resolves the flags and the environment: `None` without `--send-email`. Every missing or
/// wrong setting is a fatal error here, before the first request.
pub fn resolve(args: &MailArgs) -> Result<Option<MailConfig>, Fatal> {
    if !args.send_email {
        return Ok(None);
    }
    let host = nonempty(&args.smtp_host).ok_or_else(|| {
        Fatal::new("--send-email needs an SMTP server").hint(
            "pass --smtp-host HOST or set ONBOARD_SMTP_HOST (and --smtp-from / ONBOARD_SMTP_FROM)",
        )
    })?;
    if host.contains(['/', ' ', '@']) {
        return Err(Fatal::new(format!(
            "--smtp-host {host:?} must be a host name or an address, not a URL"
        )));
    }
    let raw_from = nonempty(&args.smtp_from).ok_or_else(|| {
        Fatal::new("--send-email needs a sender address")
            .hint("pass --smtp-from \"IT <it@company.com>\" or set ONBOARD_SMTP_FROM")
    })?;
    let from: Mailbox = raw_from.parse().map_err(|e| {
        Fatal::new(format!(
            "--smtp-from {raw_from:?} is not an email address: {e}"
        ))
    })?;
    if args.smtp_tls == TlsMode::None && !is_loopback_host(&host) {
        return Err(Fatal::new(format!(
            "refusing to send onboarding links and the SMTP password in clear text to {host} (--smtp-tls none)"
        ))
        .hint("use --smtp-tls starttls or implicit; none is only allowed for a server on this machine (localhost)"));
    }
    let password = match &args.smtp_password_file {
        Some(path) => {
            let bytes = read("--smtp-password-file", path)?;
            let text = String::from_utf8(bytes).map_err(|_| {
                Fatal::new(format!(
                    "--smtp-password-file {}: not UTF-8 text",
                    path.display()
                ))
            })?;
            Some(text)
        }
        None => std::env::var(PASSWORD_VAR).ok(),
    }
    .map(|p| Secret::new(&p))
    .filter(|p| !p.expose().is_empty());
    let login = match (nonempty(&args.smtp_username), password) {
        (Some(username), Some(password)) => Some(Login { username, password }),
        (None, None) => None,
        (Some(_), None) => {
            return Err(Fatal::new("--smtp-username is set but no SMTP password")
                .hint("set ONBOARD_SMTP_PASSWORD or pass --smtp-password-file PATH"));
        }
        (None, Some(_)) => {
            return Err(Fatal::new("an SMTP password is set but no user name")
                .hint("pass --smtp-username USER or set ONBOARD_SMTP_USERNAME"));
        }
    };
    let ca_cert_pem = match &args.smtp_ca_cert {
        Some(path) => {
            let pem = read("--smtp-ca-cert", path)?;
            let has_cert = String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----");
            if !has_cert || lettre::transport::smtp::client::Certificate::from_pem(&pem).is_err() {
                return Err(Fatal::new(format!(
                    "--smtp-ca-cert {}: no PEM certificate in it",
                    path.display()
                )));
            }
            Some(pem)
        }
        None => None,
    };
    let template = match &args.email_template {
        Some(path) => {
            let bytes = read("--email-template", path)?;
            let text = String::from_utf8(bytes).map_err(|_| {
                Fatal::new(format!(
                    "--email-template {}: not UTF-8 text",
                    path.display()
                ))
            })?;
            Template::parse(&text).map_err(|e| {
                Fatal::new(format!("--email-template {}: {e}", path.display())).hint(
                    "a template is a \"Subject: …\" line, a blank line, then the body with {link}",
                )
            })?
        }
        None => Template::builtin(),
    };
    Ok(Some(MailConfig {
        port: args.smtp_port.unwrap_or(args.smtp_tls.default_port()),
        host,
        tls: args.smtp_tls,
        login,
        from,
        ca_cert_pem,
        template,
    }))
}

fn nonempty(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

fn read(flag: &str, path: &Path) -> Result<Vec<u8>, Fatal> {
    std::fs::read(path).map_err(|e| Fatal::new(format!("{flag} {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> MailArgs {
        MailArgs {
            send_email: true,
            smtp_host: Some("smtp.example.com".into()),
            smtp_from: Some("IT <it@example.com>".into()),
            ..MailArgs::default()
        }
    }

    #[test]
    fn nothing_without_send_email() {
        let args = MailArgs {
            send_email: false,
            ..args()
        };
        assert!(resolve(&args).unwrap().is_none());
    }

    #[test]
    fn defaults_to_starttls_on_587() {
        let config = resolve(&args()).unwrap().unwrap();
        assert_eq!((config.tls, config.port), (TlsMode::Starttls, 587));
        assert_eq!(config.from.email.to_string(), "it@example.com");
        let implicit = MailArgs {
            smtp_tls: TlsMode::Implicit,
            ..args()
        };
        assert_eq!(resolve(&implicit).unwrap().unwrap().port, 465);
    }

    #[test]
    fn missing_or_unsafe_settings_are_fatal() {
        let no_host = MailArgs {
            smtp_host: None,
            ..args()
        };
        assert!(resolve(&no_host).unwrap_err().hint.is_some());
        let no_from = MailArgs {
            smtp_from: Some("  ".into()),
            ..args()
        };
        assert!(resolve(&no_from).is_err());
        let bad_from = MailArgs {
            smtp_from: Some("not an address".into()),
            ..args()
        };
        assert!(resolve(&bad_from).is_err());
        let clear = MailArgs {
            smtp_tls: TlsMode::None,
            ..args()
        };
        let err = resolve(&clear).unwrap_err();
        assert!(err.message.contains("clear text"), "{}", err.message);
        let local = MailArgs {
            smtp_tls: TlsMode::None,
            smtp_host: Some("127.0.0.1".into()),
            ..args()
        };
        assert_eq!(resolve(&local).unwrap().unwrap().port, 25);
    }
}
