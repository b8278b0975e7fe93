//! `--send-email`: each person gets one email with their onboarding link and its expiry.
//!
//! Mailing comes after the invitations are durable: the run records every link first (the
//! journal), then emails the people of the run whose live invitation has not been emailed yet,
//! and records `emailed_at` (or `email_error`) for each. An email that fails never touches the
//! invitation; the person is emailed by the next run with `--send-email`. A new invitation
//! clears `emailed_at` ([`crate::audit::record::Record::set_invitation`]), so a renewed link is sent
//! once more and an emailed one never twice.

mod config;
mod deliver;
mod template;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, Message};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

pub use config::{Login, MailConfig, PASSWORD_VAR, Secret};
pub use deliver::{MailSummary, after_refresh, after_run, preview, setup};
pub use template::{DEFAULT_TEMPLATE, PLACEHOLDERS, Rendered, Template, Values};

use crate::audit::record::Record;
use crate::proxy::pacer::{RetryPolicy, Retryable};
use crate::shutdown::Shutdown;
use crate::types::TlsMode;
use crate::types::no_control;
use crate::types::when;

/// Emails in flight at once (and SMTP connections in the pool).
pub const MAIL_CONCURRENCY: usize = 4;

/// How often, and after how long, a transient (4xx) refusal is tried again.
const TRANSIENT_RETRY: RetryPolicy = RetryPolicy {
    retries: 2,
    base: Duration::from_millis(500),
    max: Duration::from_secs(1),
};

/// Why one email was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The record has no link to send.
    #[error("no onboarding link to send")]
    NoLink,
    /// An address lettre cannot use.
    #[error("{0}")]
    Address(String),
    /// The message could not be built.
    #[error("cannot build the email: {0}")]
    Build(String),
    /// The SMTP server refused, or could not be reached.
    #[error("{}", tidy(.0))]
    Smtp(#[from] lettre::transport::smtp::Error),
}

/// lettre's message, without the prefix it repeats for a failed TLS handshake.
fn tidy(error: &lettre::transport::smtp::Error) -> String {
    let text = error.to_string();
    let twice = "Connection error: Connection error: ";
    match text.strip_prefix(twice) {
        Some(rest) => format!("Connection error: {rest}"),
        None => text,
    }
}

/// A transient (4xx) refusal may be accepted next time.
impl Retryable for lettre::transport::smtp::Error {
    fn is_retryable(&self) -> bool {
        self.is_transient()
    }

    fn reason(&self) -> String {
        tidy(self)
    }
}

/// True for a TLS failure, which lettre may report as a connection error.
fn is_tls(error: &lettre::transport::smtp::Error) -> bool {
    error.is_tls() || error.to_string().contains("certificate")
}

impl MailError {
    /// A short reason for grouping failures ("SMTP 550", "TLS", …).
    pub fn reason(&self) -> String {
        match self {
            MailError::NoLink => "no link".into(),
            MailError::Address(_) => "address not usable".into(),
            MailError::Build(_) => "message not built".into(),
            MailError::Smtp(e) => match e.status() {
                Some(code) => format!("SMTP {code}"),
                None if is_tls(e) => "TLS".into(),
                None if e.is_timeout() => "SMTP timeout".into(),
                None => "SMTP server unreachable".into(),
            },
        }
    }
}

/// Sends onboarding emails over one pooled SMTP transport. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    template: Arc<Template>,
    server: String,
}

fn build_transport(
    config: &MailConfig,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
        .port(config.port)
        .timeout(Some(timeout))
        .pool_config(PoolConfig::new().max_size(MAIL_CONCURRENCY as u32));
    if config.tls != TlsMode::None {
        let mut tls = TlsParameters::builder(config.host.clone());
        if let Some(pem) = &config.ca_cert_pem {
            tls = tls.add_root_certificate(Certificate::from_pem(pem)?);
        }
        let tls = tls.build_rustls()?;
        builder = builder.tls(match config.tls {
            TlsMode::Implicit => Tls::Wrapper(tls),
            _ => Tls::Required(tls),
        });
    }
    if let Some(login) = &config.login {
        builder = builder.credentials(Credentials::new(
            login.username.clone(),
            login.password.expose().to_string(),
        ));
    }
    Ok(builder.build())
}

impl Mailer {
    /// A mailer for `config`; nothing is connected yet.
    pub fn new(config: &MailConfig, timeout: Duration) -> Result<Mailer, MailError> {
        Ok(Mailer {
            transport: build_transport(config, timeout)?,
            from: config.from.clone(),
            template: Arc::new(config.template.clone()),
            server: format!("{}:{}", config.host, config.port),
        })
    }

    /// Connects (TLS and AUTH included) to prove the settings work before anything is sent.
    pub async fn check(&self) -> Result<(), MailError> {
        match self.transport.test_connection().await? {
            true => Ok(()),
            false => Err(MailError::Build(format!(
                "the SMTP server at {} did not answer NOOP",
                self.server
            ))),
        }
    }

    /// The email for a record: subject and body filled in.
    pub fn render(&self, record: &Record) -> Result<Rendered, MailError> {
        let link = record.onboarding_link.as_deref().ok_or(MailError::NoLink)?;
        let expires = record
            .expires_at
            .map(when)
            .unwrap_or_else(|| "(no expiry given)".into());
        let team = record.team_id.as_ref().map(|t| t.as_str()).unwrap_or("");
        Ok(self.template.render(&Values {
            email: record.email.as_str(),
            link,
            expires_at: &expires,
            team,
        }))
    }

    /// The complete message for a record.
    pub fn message(&self, record: &Record) -> Result<Message, MailError> {
        let rendered = self.render(record)?;
        let address = record
            .email
            .as_str()
            .parse()
            .map_err(|e| MailError::Address(format!("{}: {e}", record.email)))?;
        // The record may come from an older run or a hand edit: a display name lettre cannot
        // write (a line break) is an error here, never a panic later.
        if let Some(alias) = &record.user_alias {
            no_control(alias)
                .map_err(|m| MailError::Address(format!("{}: the user_alias {m}", record.email)))?;
        }
        let to = Mailbox::new(record.user_alias.clone(), address);
        let mut written = String::new();
        write!(written, "{to}").map_err(|_| {
            MailError::Address(format!(
                "{}: cannot be written as a recipient",
                record.email
            ))
        })?;
        // Message-ID on the sender's domain (not this machine's name), as mail relays expect.
        let id = format!(
            "<{:016x}{:016x}@{}>",
            fastrand::u64(..),
            fastrand::u64(..),
            self.from.email.domain()
        );
        Message::builder()
            .message_id(Some(id))
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body(rendered.body))
            .map_err(|e| MailError::Build(e.to_string()))
    }

    /// Sends one person their link (a transient refusal is tried again, briefly, unless the
    /// run is stopped).
    pub async fn send_invitation(&self, record: &Record, stop: &Shutdown) -> Result<(), MailError> {
        let message = self.message(record)?;
        TRANSIENT_RETRY
            .attempts()
            .stop_on(Some(stop))
            .run(|| self.transport.send(message.clone()), drop)
            .await?;
        Ok(())
    }
}

/// The body as 7bit text when it can be (ASCII, no overlong line), so a link is never split
/// or escaped; otherwise lettre's choice (quoted-printable or base64).
fn body(text: String) -> Body {
    let text = text.replace("\r\n", "\n");
    if text.is_ascii() && text.lines().all(|l| l.len() <= 900) && !text.contains('\r') {
        let crlf = text.replace('\n', "\r\n");
        return Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::SevenBit);
    }
    Body::new(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Email, InvitationId, TeamId};
    use chrono::{DateTime, Utc};

    fn mailer() -> Mailer {
        let args = crate::cli::MailArgs {
            send_email: true,
            smtp_host: Some("127.0.0.1".into()),
            smtp_from: Some("IT <it@example.com>".into()),
            smtp_tls: TlsMode::None,
            ..crate::cli::MailArgs::default()
        };
        let config = crate::config::resolve_mail(&args).unwrap().unwrap();
        Mailer::new(&config, Duration::from_secs(5)).unwrap()
    }

    fn invited(now: DateTime<Utc>) -> Record {
        let mut record = Record::new(Email::parse("Bob@Example.com").unwrap(), now);
        record.team_id = Some(TeamId::new("team-1"));
        let link = "https://proxy.example.com/ui/onboarding?invitation_id=0123456789abcdef0123456789abcdef0123456789abcdef";
        record.set_invitation(
            InvitationId::new("inv-1"),
            now + chrono::Duration::days(7),
            None,
            link.into(),
            now,
        );
        record
    }

    #[tokio::test]
    async fn message_keeps_the_link_whole() {
        let now = Utc::now();
        let record = invited(now);
        let raw = String::from_utf8(mailer().message(&record).unwrap().formatted()).unwrap();
        assert!(raw.contains("To: bob@example.com"), "{raw}");
        assert!(
            raw.lines()
                .any(|l| l.starts_with("Message-ID: <") && l.ends_with("@example.com>")),
            "{raw}"
        );
        assert!(raw.contains("Content-Transfer-Encoding: 7bit"), "{raw}");
        assert!(
            raw.contains(record.onboarding_link.as_deref().unwrap()),
            "{raw}"
        );
        assert!(raw.contains(&when(record.expires_at.unwrap())), "{raw}");
        assert!(raw.contains("(team team-1)"), "{raw}");
    }

    #[tokio::test]
    async fn any_record_content_is_an_error_not_a_panic() {
        let now = Utc::now();
        let mailer = mailer();
        for alias in [
            "Evil\r\nBcc: x@evil.example",
            "A\nB",
            "x\u{0}y",
            "tab\there",
        ] {
            let mut record = invited(now);
            record.user_alias = Some(alias.into());
            match mailer.message(&record) {
                Err(MailError::Address(m)) => assert!(m.contains("control character"), "{m}"),
                other => panic!("{alias:?}: {other:?}"),
            }
        }
        let mut record = invited(now);
        record.user_alias = Some("Zoë \"Z\" Müller".into());
        record.team_id = Some(TeamId::new("t\r\nBcc: x\u{1b}"));
        let raw = String::from_utf8(mailer.message(&record).unwrap().formatted()).unwrap();
        let (head, _) = raw.split_once("\r\n\r\n").unwrap();
        assert!(!head.contains("Bcc"), "{raw}");
    }

    #[tokio::test]
    async fn non_ascii_bodies_are_encoded() {
        let encoded = body("Grüße {link}\n".into());
        assert_ne!(encoded.encoding(), ContentTransferEncoding::SevenBit);
    }

    #[test]
    fn who_needs_an_email() {
        let now = Utc::now();
        let mut record = invited(now);
        assert!(&record.needs_email(now));
        record.emailed_at = Some(now);
        assert!(!&record.needs_email(now));
        // A new invitation is a new link: it is emailed again.
        record.set_invitation(
            InvitationId::new("inv-2"),
            now + chrono::Duration::days(7),
            None,
            "l2".into(),
            now,
        );
        assert!(&record.needs_email(now));
        record.accepted_at = Some(now);
        assert!(!&record.needs_email(now));
        let failed = Record::new(Email::parse("c@d.co").unwrap(), now);
        assert!(!&failed.needs_email(now));
    }
}
