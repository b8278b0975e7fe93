//! Errors from the proxy, classified so callers can branch on them.

use std::time::Duration;

use serde_json::Value;

use crate::types::MasterKey;

/// The most characters of a proxy's message kept in an error (after the key is scrubbed).
pub const MESSAGE_MAX_CHARS: usize = 300;

/// What went wrong with one request to the proxy.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ProxyError {
    /// 401: the master key was rejected.
    #[error("the master key was rejected (HTTP 401): {0}")]
    Unauthorized(String),
    /// 403: the key is valid but may not do this.
    #[error("this key is not allowed to do that (HTTP 403): {0}")]
    Forbidden(String),
    /// The user (email or id) already exists: 400 on LiteLLM 1.80, 409 on 1.109.
    #[error("already exists (HTTP {status}): {message}")]
    AlreadyExists {
        /// The HTTP status.
        status: u16,
        /// The proxy's message.
        message: String,
    },
    /// 404, or the proxy's "does not exist" (an invitation or user that is not there).
    #[error("not found: {0}")]
    NotFound(String),
    /// `/team/member_add` named a team the proxy does not have.
    #[error("team {team} not found: {message}")]
    TeamNotFound {
        /// The team.
        team: crate::types::TeamId,
        /// The proxy's message.
        message: String,
    },
    /// The user is not a member of the team (`/team/member_delete`, `/team/member_update`).
    #[error("not a member of the team: {0}")]
    NotInTeam(String),
    /// The user is already a member of the team (`/team/member_add`).
    #[error("already a member of the team: {0}")]
    AlreadyMember(String),
    /// 400: assigning a team admin is a premium feature and the proxy has no licence.
    #[error("team admin needs a LiteLLM Enterprise licence (HTTP 400): {0}")]
    NeedsLicence(String),
    /// Several users on the proxy have one email (legacy duplicates): nobody is picked.
    #[error("{} users on the proxy have the email {email} ({}); resolve the duplicates on the proxy first", user_ids.len(), user_ids.iter().map(crate::types::UserId::as_str).collect::<Vec<_>>().join(", "))]
    SeveralUsers {
        /// The email.
        email: crate::types::Email,
        /// The users that have it.
        user_ids: Vec<crate::types::UserId>,
    },
    /// 429, 502, 503 or 504: the proxy asks us to slow down or is briefly away.
    #[error("the proxy is overloaded or unavailable (HTTP {status}): {message}")]
    Unavailable {
        /// The HTTP status.
        status: u16,
        /// The proxy's message.
        message: String,
        /// The `retry-after` the proxy sent, if any.
        retry_after: Option<Duration>,
    },
    /// Any other status: the proxy answered and refused, or failed (5xx).
    #[error("HTTP {status}: {message}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The proxy's message.
        message: String,
    },
    /// No connection could be made: nothing was sent.
    #[error("could not connect to the proxy at {url}: {reason}")]
    Connect {
        /// The proxy URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The proxy's TLS certificate was not trusted: nothing was sent, and retrying will not help.
    #[error("the proxy at {url} presented a TLS certificate that is not trusted: {reason}")]
    Certificate {
        /// The proxy URL.
        url: String,
        /// Why (the TLS library's words).
        reason: String,
    },
    /// The request may or may not have reached the proxy (timeout, reset, cut-off response).
    #[error("no answer from the proxy ({0}); the request may or may not have been carried out")]
    Ambiguous(String),
    /// The run was interrupted (Ctrl-C / SIGTERM) before this request was sent: it was not.
    #[error("interrupted before the request was sent")]
    Interrupted,
    /// A second stop signal cut the request short while it was on its way: the proxy may or
    /// may not have carried it out (like a lost answer), and it is not sent again.
    #[error(
        "interrupted while waiting for the proxy's answer; the request may or may not have been carried out"
    )]
    CutShort,
    /// The proxy answered 2xx with something we could not read.
    #[error("unexpected answer from the proxy: {0}")]
    Decode(String),
    /// A listing did not show each of the rows it counts exactly once, on every reading:
    /// nothing is planned from a partial picture.
    #[error(
        "/{path} showed {seen} distinct rows of the {total} it counts, on every reading; a partial list is not used"
    )]
    Incomplete {
        /// The listing.
        path: &'static str,
        /// Distinct rows seen.
        seen: u64,
        /// The proxy's `total`.
        total: u64,
    },
}

impl ProxyError {
    /// A "not found" from a team endpoint names the team: [`ProxyError::TeamNotFound`].
    pub fn of_team(self, team: &crate::types::TeamId) -> ProxyError {
        match self {
            ProxyError::NotFound(message) => ProxyError::TeamNotFound {
                team: team.clone(),
                message,
            },
            other => other,
        }
    }

    /// The HTTP status, when the proxy answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ProxyError::Unauthorized(_) => Some(401),
            ProxyError::Forbidden(_) => Some(403),
            ProxyError::NotFound(_) | ProxyError::TeamNotFound { .. } => Some(404),
            ProxyError::AlreadyMember(_) | ProxyError::NeedsLicence(_) => Some(400),
            ProxyError::AlreadyExists { status, .. }
            | ProxyError::Unavailable { status, .. }
            | ProxyError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True when sending the request again is safe and may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProxyError::Unavailable { .. } | ProxyError::Connect { .. } | ProxyError::Ambiguous(_)
        ) || matches!(self, ProxyError::Status { status, .. } if *status >= 500)
    }

    /// True when the request may have been carried out although we got no success.
    pub fn is_ambiguous(&self) -> bool {
        matches!(self, ProxyError::Ambiguous(_) | ProxyError::CutShort)
            || matches!(self, ProxyError::Status { status, .. } if *status >= 500)
            || matches!(self, ProxyError::Unavailable { status, .. } if *status == 502 || *status == 504)
    }

    /// True when the error is about the key and would fail for everyone.
    pub fn is_auth(&self) -> bool {
        matches!(self, ProxyError::Unauthorized(_) | ProxyError::Forbidden(_))
    }

    /// A short reason for grouping failures in a summary ("team not found", "HTTP 500", …).
    pub fn reason(&self) -> String {
        match self {
            ProxyError::Unauthorized(_) => "master key rejected".into(),
            ProxyError::Forbidden(_) => "forbidden".into(),
            ProxyError::AlreadyExists { .. } => "already exists".into(),
            ProxyError::NotFound(_) => "not found".into(),
            ProxyError::TeamNotFound { .. } => "team not found".into(),
            ProxyError::AlreadyMember(_) => "already a member".into(),
            ProxyError::NotInTeam(_) => "not a member of the team".into(),
            ProxyError::NeedsLicence(_) => "team admin needs a LiteLLM Enterprise licence".into(),
            ProxyError::SeveralUsers { .. } => "several users with this email".into(),
            ProxyError::Unavailable { status, .. } => format!("proxy unavailable (HTTP {status})"),
            ProxyError::Status { status, .. } => format!("HTTP {status}"),
            ProxyError::Connect { .. } => "proxy unreachable".into(),
            ProxyError::Certificate { .. } => "untrusted TLS certificate".into(),
            ProxyError::Ambiguous(_) => "no answer from the proxy".into(),
            ProxyError::Decode(_) => "unexpected answer".into(),
            ProxyError::Interrupted | ProxyError::CutShort => "interrupted".into(),
            ProxyError::Incomplete { .. } => "incomplete listing".into(),
        }
    }

    /// Builds the error for a non-success answer from its status, body and `retry-after`.
    /// The key is scrubbed from the body, and again from the message read out of it (JSON
    /// escapes may hide it from the first pass), before the message is cut short.
    pub fn from_response(
        status: u16,
        body: &str,
        retry_after: Option<Duration>,
        key: &MasterKey,
    ) -> Self {
        let message = shorten(
            &key.scrub(&error_message(&key.scrub(body))),
            MESSAGE_MAX_CHARS,
        );
        let lower = message.to_lowercase();
        match status {
            401 => ProxyError::Unauthorized(message),
            403 => ProxyError::Forbidden(message),
            // The proxy gives no error code for these: its message is all there is to go on.
            400 | 409 if lower.contains("already exists") => {
                ProxyError::AlreadyExists { status, message }
            }
            400 if lower.contains("already in team") => ProxyError::AlreadyMember(message),
            400 if lower.contains("not found in team") => ProxyError::NotInTeam(message),
            400 if lower.contains("premium feature") => ProxyError::NeedsLicence(message),
            404 => ProxyError::NotFound(message),
            400 if lower.contains("does not exist") => ProxyError::NotFound(message),
            429 | 502 | 503 | 504 => ProxyError::Unavailable {
                status,
                message,
                retry_after,
            },
            _ => ProxyError::Status { status, message },
        }
    }
}

/// Pulls a readable message out of any of the proxy's error shapes (litellm-api.md §10):
/// `{"error":{"message"}}`, `{"detail": str | {"error"|"message": str} | [..]}`, problem+json.
/// Not cut short: scrub secrets from it first, then [`shorten`] it.
pub fn error_message(body: &str) -> String {
    let text = match serde_json::from_str::<Value>(body) {
        Ok(value) => message_of(&value).unwrap_or_else(|| body.to_string()),
        Err(_) => body.to_string(),
    };
    unwrap_python_dict(text.trim())
}

fn message_of(value: &Value) -> Option<String> {
    if let Some(message) = value.pointer("/error/message").and_then(Value::as_str) {
        return Some(message.to_string());
    }
    if let Some(title) = value.get("title").and_then(Value::as_str) {
        return Some(match value.get("detail").and_then(Value::as_str) {
            Some(detail) => format!("{title}: {detail}"),
            None => title.to_string(),
        });
    }
    match value.get("detail") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(map)) => map
            .get("error")
            .or_else(|| map.get("message"))
            .and_then(Value::as_str)
            .map(str::to_string),
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|item| {
                    let loc = item
                        .get("loc")
                        .and_then(Value::as_array)
                        .map(|l| {
                            l.iter()
                                .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_string))
                                .collect::<Vec<_>>()
                                .join(".")
                        })
                        .unwrap_or_default();
                    let msg = item.get("msg").and_then(Value::as_str).unwrap_or("invalid");
                    format!("{loc}: {msg}")
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        _ => None,
    }
}

/// `{'error': 'User with email x already exists'}` (a Python dict repr) → the inner text.
fn unwrap_python_dict(text: &str) -> String {
    for prefix in ["{'error': '", "{'error': \""] {
        if let Some(rest) = text.strip_prefix(prefix) {
            return rest.trim_end_matches(['}', '\'', '"']).to_string();
        }
    }
    text.to_string()
}

/// `text` on one line (control characters become spaces), cut to `max` characters with `…`.
/// Cut only text already scrubbed of secrets: a cut key is no longer found by a scrub.
pub fn shorten(text: &str, max: usize) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() <= max {
        return clean;
    }
    let cut: String = clean.chars().take(max).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::new("sk-test-0123456789abcdefghijklmnopqrstuvwxyz")
    }

    #[test]
    fn the_key_is_scrubbed_before_the_message_is_cut() {
        let secret = key();
        let padding = "x".repeat(290);
        for body in [
            format!("{padding} {}", secret.expose()),
            format!(r#"{{"detail":"{padding} {}"}}"#, secret.expose()),
            // A JSON escape hides the key from a scrub of the raw body.
            format!(
                r#"{{"detail":"{padding} \u0073{}"}}"#,
                &secret.expose()[1..]
            ),
        ] {
            let error = ProxyError::from_response(400, &body, None, &secret);
            let text = error.to_string();
            assert!(!text.contains(&secret.expose()[..8]), "{text}");
        }
    }

    #[test]
    fn reads_every_error_shape() {
        let envelope = r#"{"error":{"message":"{'error': 'User with email a@b.co already exists'}","type":"internal_server_error","param":null,"code":"409"}}"#;
        assert_eq!(
            error_message(envelope),
            "User with email a@b.co already exists"
        );
        let detail = r#"{"detail":{"error":"Invitation id does not exist in the database."}}"#;
        assert_eq!(
            error_message(detail),
            "Invitation id does not exist in the database."
        );
        let validation = r#"{"detail":[{"type":"literal_error","loc":["body","user_role"],"msg":"Input should be 'proxy_admin'"}]}"#;
        assert_eq!(
            error_message(validation),
            "body.user_role: Input should be 'proxy_admin'"
        );
        let problem = r#"{"type":"urn:x","title":"Bad","status":400,"detail":"nope"}"#;
        assert_eq!(error_message(problem), "Bad: nope");
        assert_eq!(error_message("plain text"), "plain text");
    }

    #[test]
    fn duplicates_are_classified_on_both_versions() {
        let body = r#"{"error":{"message":"User with email a@b.co already exists","code":"400"}}"#;
        assert!(matches!(
            ProxyError::from_response(400, body, None, &key()),
            ProxyError::AlreadyExists { status: 400, .. }
        ));
        assert!(matches!(
            ProxyError::from_response(409, body, None, &key()),
            ProxyError::AlreadyExists { status: 409, .. }
        ));
        let other = r#"{"error":{"message":"bad budget","code":"400"}}"#;
        assert!(!ProxyError::from_response(400, other, None, &key()).is_retryable());
    }

    #[test]
    fn retry_classes() {
        assert!(ProxyError::from_response(503, "{}", None, &key()).is_retryable());
        assert!(ProxyError::from_response(500, "{}", None, &key()).is_ambiguous());
        assert!(!ProxyError::from_response(503, "{}", None, &key()).is_ambiguous());
        assert!(!ProxyError::from_response(422, "{}", None, &key()).is_retryable());
        assert!(ProxyError::from_response(401, "{}", None, &key()).is_auth());
    }
}
