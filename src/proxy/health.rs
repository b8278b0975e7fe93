//! The proxy's own endpoints, served without auth: liveliness, the UI config and the UI.

use reqwest::Method;

use crate::proxy::api::UiConfig;
use crate::proxy::client::ProxyClient;
use crate::proxy::error::ProxyError;

impl ProxyClient {
    /// `GET /health/liveliness` (no auth).
    pub async fn liveliness(&self) -> Result<(), ProxyError> {
        self.send::<serde_json::Value>(Method::GET, "health/liveliness", &[], None)
            .await
            .map(drop)
    }

    /// `GET /.well-known/litellm-ui-config` (no auth); an old proxy without it gives the default.
    pub async fn ui_config(&self) -> Result<UiConfig, ProxyError> {
        match self
            .send(Method::GET, ".well-known/litellm-ui-config", &[], None)
            .await
        {
            Err(ProxyError::NotFound(_)) => Ok(UiConfig::default()),
            other => other,
        }
    }

    /// `GET <url>` without the key, following redirects: the status the admin UI page ends
    /// on (people open their links there).
    pub async fn page_status(&self, url: &url::Url) -> Result<u16, ProxyError> {
        self.pacer().ready().await?;
        let response = self
            .http
            .get(url.clone())
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        Ok(response.status().as_u16())
    }
}
