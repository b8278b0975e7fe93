//! Domain types: what a CSV cell or a proxy answer becomes once it has been checked.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

mod email;

pub use email::Email;

/// The first control character in `text` (a line break from an Alt+Enter cell, a terminal
/// escape, …): such text is refused as input.
pub fn control_char(text: &str) -> Option<char> {
    text.chars().find(|c| c.is_control())
}

/// Refuses text with a control character; the error names it.
pub fn no_control(text: &str) -> Result<(), String> {
    match control_char(text) {
        Some(c) => Err(format!(
            "contains a control character (U+{:04X}); remove line breaks and other invisible characters",
            c as u32
        )),
        None => Ok(()),
    }
}

/// Text from a CSV cell or the proxy, safe to echo on a terminal: control characters and
/// bidirectional overrides are written as escapes (`\n`, `\u{1b}`), the rest as is.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id as the proxy spells it.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A team id (`team_id` on the proxy), or an alias before it is resolved.
    TeamId
);
id_type!(
    /// A user id on the proxy (`user_id`).
    UserId
);
impl UserId {
    /// The user the proxy acts as for the master key (`litellm_proxy_admin_name`): the
    /// creator of what the master key makes, never offboarded or pruned.
    pub const MASTER_KEY_USER: &str = "default_user_id";

    /// `default_user_id`, the master key's own user.
    pub fn master_key_user() -> Self {
        Self::new(Self::MASTER_KEY_USER)
    }

    /// True for `default_user_id`.
    pub fn is_master_key_user(&self) -> bool {
        self.0 == Self::MASTER_KEY_USER
    }
}

id_type!(
    /// An invitation id (`id` of `/invitation/new`); the secret part of an onboarding link.
    InvitationId
);

/// The four roles `/user/new` accepts; anything else is a 422 there.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Role {
    /// May create and manage everything.
    ProxyAdmin,
    /// May view everything.
    ProxyAdminViewer,
    /// An ordinary member who creates their own keys (the default).
    #[default]
    InternalUser,
    /// May view their own usage only.
    InternalUserViewer,
}

impl Role {
    /// The name the proxy uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ProxyAdmin => "proxy_admin",
            Role::ProxyAdminViewer => "proxy_admin_viewer",
            Role::InternalUser => "internal_user",
            Role::InternalUserViewer => "internal_user_viewer",
        }
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "proxy_admin" => Ok(Role::ProxyAdmin),
            "proxy_admin_viewer" => Ok(Role::ProxyAdminViewer),
            "internal_user" => Ok(Role::InternalUser),
            "internal_user_viewer" => Ok(Role::InternalUserViewer),
            other => {
                // Older admin UIs list `…_view_only` names, which the proxy refuses.
                let hint = match other.strip_suffix("_view_only") {
                    Some(base) => format!("; the proxy's name is {base}_viewer"),
                    None => String::new(),
                };
                Err(format!(
                    "{other:?} is not a role (use proxy_admin, proxy_admin_viewer, internal_user or internal_user_viewer{hint})"
                ))
            }
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `--bulk`: whether users may be created with `POST /management/v1/users/bulk`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum BulkMode {
    /// When the proxy serves the endpoint (asked once per run, without a write).
    #[default]
    Auto,
    /// Always one `/user/new` per person.
    Never,
}

/// `--smtp-tls`: how the connection to the SMTP server is protected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum TlsMode {
    /// TLS from the first byte (SMTPS, usually port 465).
    Implicit,
    /// Plain connection upgraded with STARTTLS, which must succeed (usually port 587).
    #[default]
    Starttls,
    /// No encryption: only allowed for a server on this machine (localhost, 127.0.0.1, ::1).
    None,
}

impl TlsMode {
    /// The usual port for the mode.
    pub fn default_port(self) -> u16 {
        match self {
            TlsMode::Implicit => 465,
            TlsMode::Starttls => 587,
            TlsMode::None => 25,
        }
    }
}

/// The proxy's master key. It cannot be printed: `Debug` and `Display` show `(redacted)`.
#[derive(Clone)]
pub struct MasterKey(String);

/// The shortest start of the master key that [`MasterKey::scrub`] treats as the key.
pub const KEY_PREFIX_MIN: usize = 8;

impl MasterKey {
    /// Wraps a key, trimming the whitespace a file or an env var may carry.
    pub fn new(key: &str) -> Self {
        Self(key.trim().to_string())
    }

    /// The key itself, for the `Authorization` header and for scrubbing text.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of the key in `text` with `(redacted)`, and every start of
    /// the key at least [`KEY_PREFIX_MIN`] characters long (what is left of a key cut short,
    /// by the proxy or by a length limit) as well.
    ///
    /// Scrub first, then cut: cutting text that holds the key leaves a piece of it.
    pub fn scrub(&self, text: &str) -> String {
        if self.0.len() < 4 {
            return text.to_string();
        }
        let Some((head_len, _)) = self.0.char_indices().nth(KEY_PREFIX_MIN) else {
            // A key shorter than the prefix rule: only the whole key is a secret we can spot.
            return text.replace(&self.0, "(redacted)");
        };
        let head = &self.0[..head_len];
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find(head) {
            out.push_str(&rest[..at]);
            let tail = &rest[at..];
            let matched: usize = tail
                .chars()
                .zip(self.0.chars())
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a.len_utf8())
                .sum();
            out.push_str("(redacted)");
            rest = &tail[matched..];
        }
        out.push_str(rest);
        out
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(redacted)")
    }
}

impl fmt::Display for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

/// Formats a timestamp the way people read it.
pub fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_found_and_escaped() {
        assert_eq!(control_char("Evil\r\nBcc: x"), Some('\r'));
        assert!(no_control("Zoë Müller").is_ok());
        assert!(no_control("a\tb").unwrap_err().contains("U+0009"));
        assert_eq!(escape("x\u{1b}]0;pwned\u{7}y"), "x\\u{1b}]0;pwned\\u{7}y");
        assert_eq!(escape("a\nb\u{202e}"), "a\\nb\\u{202e}");
        assert_eq!(escape("Zoë"), "Zoë");
    }

    #[test]
    fn roles_parse_case_insensitively_and_reject_ui_typos() {
        assert_eq!("Internal_User".parse::<Role>().unwrap(), Role::InternalUser);
        assert!("internal_user_view_only".parse::<Role>().is_err());
    }

    #[test]
    fn master_key_never_prints() {
        let key = MasterKey::new("sk-secret-1234");
        assert!(!format!("{key} {key:?}").contains("sk-secret"));
        assert_eq!(key.scrub("got sk-secret-1234!"), "got (redacted)!");
    }

    #[test]
    fn a_start_of_the_key_is_scrubbed_like_the_key() {
        let key = MasterKey::new("sk-secret-1234");
        assert_eq!(key.scrub("cut at sk-secre"), "cut at (redacted)");
        assert_eq!(
            key.scrub("sk-secret-1234sk-secret-12…"),
            "(redacted)(redacted)…"
        );
        // Fewer than 8 characters of the key's start is not the key.
        assert_eq!(key.scrub("sk-secr and sk-other"), "sk-secr and sk-other");
        let short = MasterKey::new("sk-1234");
        assert_eq!(short.scrub("a sk-1234 b sk-123"), "a (redacted) b sk-123");
    }
}
