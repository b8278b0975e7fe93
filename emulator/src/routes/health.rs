//! Health and discovery routes (no auth).

use std::sync::Arc;

use axum::extract::State;
use serde_json::json;

use crate::app::App;
use crate::errors::{HResult, ok};

/// `GET /health/liveliness`: the JSON string `"I'm alive!"`.
pub(crate) async fn liveliness() -> HResult {
    ok(json!("I'm alive!"))
}

/// `GET /health/readiness`: 1.80 adds `litellm_version` and friends.
pub(crate) async fn readiness(State(app): State<Arc<App>>) -> HResult {
    if app.version().is_new() {
        return ok(json!({"status": "healthy", "db": "connected"}));
    }
    ok(json!({
        "status": "healthy",
        "db": "connected",
        "cache": null,
        "litellm_version": "1.80.0",
        "success_callbacks": [],
        "use_aiohttp_transport": true,
        "log_level": "WARNING",
        "is_detailed_debug": false,
    }))
}

/// `GET /.well-known/litellm-ui-config`.
pub(crate) async fn ui_config(State(app): State<Arc<App>>) -> HResult {
    let cfg = &app.cfg;
    let root = if cfg.server_root_path.is_empty() {
        "/".to_string()
    } else {
        cfg.server_root_path.clone()
    };
    if !app.version().is_new() {
        return ok(json!({"server_root_path": root, "proxy_base_url": cfg.proxy_base_url}));
    }
    ok(json!({
        "server_root_path": root,
        "proxy_base_url": cfg.proxy_base_url,
        "auto_redirect_to_sso": false,
        "admin_ui_disabled": cfg.admin_ui_disabled,
        "sso_configured": cfg.sso_configured,
    }))
}
