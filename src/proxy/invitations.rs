//! The invitation endpoints: `/invitation/new`, `/invitation/info`, `/invitation/delete`.

use reqwest::Method;
use serde_json::json;

use crate::proxy::api::Invitation;
use crate::proxy::client::ProxyClient;
use crate::proxy::error::ProxyError;
use crate::types::{InvitationId, UserId};

impl ProxyClient {
    /// `POST /invitation/new` for an existing user.
    pub async fn new_invitation(&self, user_id: &UserId) -> Result<Invitation, ProxyError> {
        self.send(
            Method::POST,
            "invitation/new",
            &[],
            Some(json!({ "user_id": user_id })),
        )
        .await
    }

    /// `GET /invitation/info`.
    pub async fn invitation_info(&self, id: &InvitationId) -> Result<Invitation, ProxyError> {
        self.send(
            Method::GET,
            "invitation/info",
            &[("invitation_id", id.as_str())],
            None,
        )
        .await
    }

    /// `POST /invitation/delete`.
    pub async fn delete_invitation(&self, id: &InvitationId) -> Result<(), ProxyError> {
        self.send::<serde_json::Value>(
            Method::POST,
            "invitation/delete",
            &[],
            Some(json!({ "invitation_id": id })),
        )
        .await
        .map(drop)
    }
}
