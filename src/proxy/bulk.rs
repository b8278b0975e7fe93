//! `POST /management/v1/users/bulk` (LiteLLM ≥ 1.103; absent on 1.80) and the probe that
//! finds out whether a proxy serves it (litellm-api.md §3.7, recordings 30 and 32–44).

use std::collections::HashMap;

use reqwest::Method;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::proxy::api::NewUser;
use crate::proxy::client::ProxyClient;
use crate::proxy::error::ProxyError;
use crate::types::UserId;

/// The path of the endpoint, as `/openapi.json` lists it.
pub const BULK_PATH: &str = "/management/v1/users/bulk";

/// The most rows the proxy takes in one request (`MAX_BULK_NEW_USERS`).
pub const MAX_BULK_ROWS: usize = 500;

/// The result of one row. A failed row carries a made-up `user_id` that exists nowhere
/// (file 36): only a successful row's id is a user.
#[derive(Clone, Debug, Deserialize)]
pub struct BulkResult {
    /// The user's id (made up when `success` is false).
    pub user_id: Option<UserId>,
    /// The email as sent.
    #[serde(default)]
    pub user_email: Option<String>,
    /// The row created a user.
    #[serde(default)]
    pub success: bool,
    /// Teams joined.
    #[serde(default)]
    pub teams: Option<Vec<String>>,
    /// Why the row failed.
    #[serde(default)]
    pub error: Option<String>,
}

/// What became of one row, as far as `onboard` is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowOutcome {
    /// A user was created.
    Created {
        /// Its id.
        user_id: UserId,
        /// Teams it joined.
        teams: Vec<String>,
    },
    /// The email exists already (or twice in the request): look the user up and adopt it.
    Exists(String),
    /// A team of the row does not exist: the user was not created.
    TeamNotFound(String),
    /// Any other refusal of the row.
    Refused(String),
}

impl BulkResult {
    /// Classifies the row by the proxy's words (it gives no error code).
    pub fn outcome(&self) -> RowOutcome {
        let error = self.error.clone().unwrap_or_default();
        match (&self.user_id, self.success) {
            (Some(id), true) => RowOutcome::Created {
                user_id: id.clone(),
                teams: self.teams.clone().unwrap_or_default(),
            },
            _ => {
                let lower = error.to_lowercase();
                if lower.contains("already exists") || lower.contains("duplicate user_email") {
                    RowOutcome::Exists(error)
                } else if lower.contains("team") && lower.contains("does not exist") {
                    RowOutcome::TeamNotFound(error)
                } else if error.is_empty() {
                    RowOutcome::Refused(
                        "the proxy did not create the user (no reason given)".into(),
                    )
                } else {
                    RowOutcome::Refused(error)
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct BulkAnswer {
    #[serde(default)]
    data: Vec<BulkResult>,
}

#[derive(Deserialize)]
struct OpenApi {
    #[serde(default)]
    info: Option<Info>,
    #[serde(default)]
    paths: Option<HashMap<String, IgnoredAny>>,
}

#[derive(Deserialize)]
struct Info {
    #[serde(default)]
    version: Option<String>,
}

/// Whether a proxy serves the bulk endpoint, and what told us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkSupport {
    /// The endpoint is there.
    pub available: bool,
    /// `POST /management/v1/users/bulk_delete` is there too.
    pub deletes: bool,
    /// The version `/openapi.json` names, if any.
    pub version: Option<String>,
}

/// The first LiteLLM version with the endpoint.
const FIRST_VERSION: (u64, u64) = (1, 103);

fn version_has_bulk(version: &str) -> bool {
    let mut parts = version.trim().split('.').map(|p| {
        p.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<u64>()
            .ok()
    });
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= FIRST_VERSION,
        _ => false,
    }
}

impl ProxyClient {
    /// `POST /management/v1/users/bulk` with at most [`MAX_BULK_ROWS`] rows: one result per
    /// row, in the rows' order.
    pub async fn bulk_new_users(
        &self,
        rows: &[NewUser<'_>],
    ) -> Result<Vec<BulkResult>, ProxyError> {
        let body = serde_json::json!({ "users": rows });
        let answer: BulkAnswer = self
            .send(Method::POST, "management/v1/users/bulk", &[], Some(body))
            .await?;
        if answer.data.len() != rows.len() {
            return Err(ProxyError::Decode(format!(
                "management/v1/users/bulk: {} results for {} rows",
                answer.data.len(),
                rows.len()
            )));
        }
        // A row's error is proxy text like any other: scrubbed of the key, cut, made printable.
        let mut data = answer.data;
        for result in &mut data {
            if let Some(error) = result.error.take() {
                result.error = Some(crate::proxy::error::shorten(
                    &self.key.scrub(&error),
                    crate::proxy::error::MESSAGE_MAX_CHARS,
                ));
            }
        }
        Ok(data)
    }

    /// Finds out, without a write and without the key, whether the proxy serves the bulk
    /// endpoint: `GET /openapi.json` lists its paths and names the version (1.80 has no such
    /// path). A proxy that does not serve its schema (docs turned off) gets the per-person path.
    pub async fn bulk_support(&self) -> Result<BulkSupport, ProxyError> {
        let schema: OpenApi = match self.send(Method::GET, "openapi.json", &[], None).await {
            Ok(schema) => schema,
            Err(ProxyError::NotFound(_)) => {
                return Ok(BulkSupport {
                    available: false,
                    deletes: false,
                    version: None,
                });
            }
            Err(e) => return Err(e),
        };
        let version = schema.info.and_then(|i| i.version);
        let listed = |path: &str| match &schema.paths {
            Some(paths) if !paths.is_empty() => paths.contains_key(path),
            _ => version.as_deref().is_some_and(version_has_bulk),
        };
        Ok(BulkSupport {
            available: listed(BULK_PATH),
            deletes: listed(crate::proxy::bulk_delete::BULK_DELETE_PATH),
            version,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Role;

    fn row(success: bool, error: Option<&str>) -> BulkResult {
        BulkResult {
            user_id: Some(UserId::new("made-up")),
            user_email: Some("a@b.co".into()),
            success,
            teams: success.then(|| vec!["t".to_string()]),
            error: error.map(str::to_string),
        }
    }

    #[test]
    fn rows_are_classified_as_recorded() {
        assert!(matches!(
            row(true, None).outcome(),
            RowOutcome::Created { .. }
        ));
        // File 36: the made-up id of a failed row is never a user.
        assert_eq!(
            row(false, Some("User email=A@b.co already exists")).outcome(),
            RowOutcome::Exists("User email=A@b.co already exists".into())
        );
        assert!(matches!(
            row(false, Some("Duplicate user_email in request: a@b.co")).outcome(),
            RowOutcome::Exists(_)
        ));
        assert!(matches!(
            row(false, Some("Team id=x does not exist")).outcome(),
            RowOutcome::TeamNotFound(_)
        ));
        assert!(matches!(
            row(false, Some("Invalid budget_duration")).outcome(),
            RowOutcome::Refused(_)
        ));
    }

    #[test]
    fn versions_with_the_endpoint() {
        assert!(version_has_bulk("1.106.2"));
        assert!(version_has_bulk("1.103.0"));
        assert!(version_has_bulk("2.0.0"));
        assert!(!version_has_bulk("1.80.0"));
        assert!(!version_has_bulk("1.102.9"));
        assert!(!version_has_bulk("dev"));
    }

    #[test]
    fn a_row_carries_only_accepted_fields() {
        let row = NewUser {
            user_email: "a@b.co",
            user_role: Role::InternalUser,
            teams: vec!["t"],
            auto_create_key: false,
            user_alias: None,
            metadata: serde_json::json!({ "created_by_tool": "onboard" }),
            max_budget: None,
            budget_duration: None,
            models: None,
        };
        let value = serde_json::to_value(&row).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "auto_create_key",
                "metadata",
                "teams",
                "user_email",
                "user_role"
            ]
        );
        assert_eq!(value["auto_create_key"], false);
    }
}
