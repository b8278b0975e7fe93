//! What `--send-email` needs, resolved and checked before any request is sent.

use std::fmt;

use lettre::message::Mailbox;

use super::template::Template;
use crate::types::TlsMode;

/// The env var that holds the SMTP password.
pub const PASSWORD_VAR: &str = "ONBOARD_SMTP_PASSWORD";

/// A secret that cannot be printed: `Debug` and `Display` show `(redacted)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret, dropping the line end a file or an env var may carry.
    pub fn new(secret: &str) -> Self {
        Secret(secret.trim_end_matches(['\r', '\n']).to_string())
    }

    /// The secret itself, for the SMTP login.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

/// A user name and password for SMTP AUTH.
#[derive(Clone, Debug)]
pub struct Login {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: Secret,
}

/// The resolved `--send-email` settings.
#[derive(Clone, Debug)]
pub struct MailConfig {
    /// The SMTP server's host name or address.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Transport security.
    pub tls: TlsMode,
    /// AUTH credentials, if the server wants them.
    pub login: Option<Login>,
    /// The sender.
    pub from: Mailbox,
    /// Extra CA certificates (PEM) to trust for the server.
    pub ca_cert_pem: Option<Vec<u8>>,
    /// The subject and body.
    pub template: Template,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2\n");
        assert_eq!(secret.expose(), "hunter2");
        assert!(!format!("{secret} {secret:?}").contains("hunter2"));
        let login = Login {
            username: "u".into(),
            password: secret,
        };
        assert!(!format!("{login:?}").contains("hunter2"));
    }
}
