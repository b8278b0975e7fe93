//! `POST /management/v1/users/bulk_delete` (recordings 85–86): many users deleted in one
//! request, with a result per row. `/user/delete` with several ids is not atomic and reports no
//! per-row result, so it is only ever sent one id at a time.

use reqwest::Method;
use serde::Deserialize;

use crate::proxy::client::ProxyClient;
use crate::proxy::error::{MESSAGE_MAX_CHARS, ProxyError, shorten};
use crate::types::UserId;

/// The path of the endpoint, as `/openapi.json` lists it.
pub const BULK_DELETE_PATH: &str = "/management/v1/users/bulk_delete";

/// The most users `onboard` deletes in one request (as for bulk creates).
pub const MAX_BULK_DELETES: usize = 500;

/// One row's result.
#[derive(Clone, Debug, Deserialize)]
pub struct DeleteRow {
    /// The user the row is about.
    pub user_id: UserId,
    /// The user was deleted.
    #[serde(default)]
    pub success: bool,
    /// Why not.
    #[serde(default)]
    pub error: Option<String>,
}

impl DeleteRow {
    /// What the row means for `onboard`: deleted, or gone already ("User id=… not found", as
    /// for a retried `/user/delete`), else the proxy's refusal.
    pub fn outcome(&self) -> Result<(), ProxyError> {
        let error = self.error.as_deref().unwrap_or_default();
        if self.success || error.to_lowercase().contains("not found") {
            return Ok(());
        }
        Err(ProxyError::Status {
            status: 400,
            message: if error.is_empty() {
                "the proxy did not delete the user (no reason given)".into()
            } else {
                error.to_string()
            },
        })
    }
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    data: Vec<DeleteRow>,
}

impl ProxyClient {
    /// `POST /management/v1/users/bulk_delete` of at most [`MAX_BULK_DELETES`] distinct users:
    /// each user's result, in the order asked.
    pub async fn bulk_delete_users(
        &self,
        users: &[UserId],
    ) -> Result<Vec<Result<(), ProxyError>>, ProxyError> {
        let body = serde_json::json!({ "user_ids": users });
        let answer: Answer = self
            .send(
                Method::POST,
                "management/v1/users/bulk_delete",
                &[],
                Some(body),
            )
            .await?;
        users
            .iter()
            .map(|id| {
                let row = answer
                    .data
                    .iter()
                    .find(|r| &r.user_id == id)
                    .ok_or_else(|| {
                        ProxyError::Decode(format!(
                            "management/v1/users/bulk_delete: no result for a user of the {} asked",
                            users.len()
                        ))
                    })?;
                // A row's error is proxy text like any other: scrubbed, cut, made printable.
                Ok(row.outcome().map_err(|e| match e {
                    ProxyError::Status { status, message } => ProxyError::Status {
                        status,
                        message: shorten(&self.key.scrub(&message), MESSAGE_MAX_CHARS),
                    },
                    other => other,
                }))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(success: bool, error: Option<&str>) -> DeleteRow {
        DeleteRow {
            user_id: UserId::new("u"),
            success,
            error: error.map(str::to_string),
        }
    }

    #[test]
    fn a_row_is_deleted_gone_already_or_refused() {
        assert!(row(true, None).outcome().is_ok());
        assert!(row(false, Some("User id=u not found")).outcome().is_ok());
        let refused = row(false, Some("Duplicate user_id in request: u")).outcome();
        assert!(matches!(
            refused,
            Err(ProxyError::Status { status: 400, .. })
        ));
        assert!(row(false, None).outcome().is_err());
    }
}
