//! `user_api_key_auth`: master key, extra keys and minted virtual keys.

use axum::http::HeaderMap;
use axum::response::Response;

use crate::app::App;
use crate::config::DEFAULT_USER_ID;
use crate::errors::auth_failed;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub user_id: Option<String>,
    pub role: String,
}

impl Caller {
    /// `proxy_admin`.
    pub fn is_admin(&self) -> bool {
        self.role == "proxy_admin"
    }

    /// `proxy_admin` or `proxy_admin_viewer`.
    pub fn has_admin_view(&self) -> bool {
        self.is_admin() || self.role == "proxy_admin_viewer"
    }
}

/// The key sent in `x-litellm-api-key` (preferred) or `Authorization: Bearer`.
pub(crate) fn presented_key(headers: &HeaderMap) -> Option<String> {
    let strip = |v: &str| {
        let v = v.trim();
        let lower = v.to_ascii_lowercase();
        if lower.starts_with("bearer ") {
            v[7..].trim().to_string()
        } else {
            v.to_string()
        }
    };
    if let Some(v) = headers
        .get("x-litellm-api-key")
        .and_then(|v| v.to_str().ok())
    {
        return Some(strip(v));
    }
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(strip)
}

/// Authenticate a request, or the 401 envelope.
pub(crate) fn authenticate(app: &App, headers: &HeaderMap) -> Result<Caller, Response> {
    let key = presented_key(headers);
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return Err(auth_failed(None, false));
    };
    if key == app.cfg.master_key {
        return Ok(Caller {
            user_id: Some(DEFAULT_USER_ID.to_string()),
            role: "proxy_admin".to_string(),
        });
    }
    if let Some(k) = app.cfg.extra_keys.iter().find(|k| k.key == key) {
        return Ok(Caller {
            user_id: k.user_id.clone(),
            role: k.user_role.clone(),
        });
    }
    // A virtual key minted by `/key/generate` (or `/user/new` with `auto_create_key`) acts as
    // its owner.
    let token = crate::app::sha256_hex(&key);
    if let Some(owner) = app
        .db()
        .users
        .values()
        .find(|u| u.keys.iter().any(|k| k.token == token))
    {
        return Ok(Caller {
            user_id: Some(owner.user_id.clone()),
            role: owner
                .user_role
                .clone()
                .unwrap_or_else(|| "internal_user".into()),
        });
    }
    Err(auth_failed(Some(&key), app.cfg.echo_key_in_errors))
}
