//! Health and discovery routes (no auth).

use std::sync::Arc;

use axum::extract::State;
use serde_json::{Value, json};

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
    ok(full_readiness(&app))
}

/// What 1.80's readiness names, and `/readiness/details` starts with.
fn full_readiness(app: &App) -> Value {
    json!({
        "status": "healthy",
        "db": "connected",
        "cache": null,
        "litellm_version": app.version().litellm_version(),
        "success_callbacks": [],
        "use_aiohttp_transport": true,
        "log_level": "WARNING",
        "is_detailed_debug": false,
    })
}

/// `GET /health/readiness/details` (file 29, with the master key): the full readiness answer,
/// naming the version.
pub(crate) async fn readiness_details(
    State(app): State<Arc<App>>,
    headers: axum::http::HeaderMap,
) -> HResult {
    crate::auth::authenticate(&app, &headers)?;
    let mut details = full_readiness(&app);
    details["show_no_redis_warning"] = json!(false);
    details["show_env_credential_login_warning"] = json!(true);
    ok(details)
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

/// `GET /ui/`: the admin UI's page (a stand-in), unless the UI is disabled.
pub(crate) async fn ui(State(app): State<Arc<App>>) -> axum::response::Response {
    use axum::response::{Html, IntoResponse};
    if app.cfg.admin_ui_disabled {
        return crate::errors::route_not_found();
    }
    Html("<!doctype html><title>LiteLLM Dashboard</title>").into_response()
}

/// `GET /openapi.json` (no auth): FastAPI's schema. Only `openapi`, `info` (with
/// `info.version`, the one version signal a 1.109 proxy gives without a key; file 30) and the
/// emulated schema-visible paths are filled in.
pub(crate) async fn openapi(State(app): State<Arc<App>>) -> HResult {
    let v = app.version();
    let mut paths = serde_json::Map::new();
    let mut add = |path: &str, method: &str| {
        paths.insert(path.to_string(), json!({ method: {} }));
    };
    for p in ["/user/new", "/user/update", "/user/delete", "/team/new"] {
        add(p, "post");
    }
    for p in [
        "/team/member_add",
        "/team/member_update",
        "/team/member_delete",
    ] {
        add(p, "post");
    }
    for p in [
        "/user/info",
        "/user/list",
        "/team/info",
        "/team/list",
        "/v2/team/list",
    ] {
        add(p, "get");
    }
    for p in ["/health/liveliness", "/health/readiness"] {
        add(p, "get");
    }
    if v.is_new() {
        add("/v2/user/info", "get");
        add("/management/v1/users/bulk", "post");
        add("/management/v1/users/bulk_delete", "post");
    }
    ok(json!({
        "openapi": "3.1.0",
        "info": {
            "title": "LiteLLM API",
            "description": "Proxy Server to call 100+ LLMs in the OpenAI format. (LiteLLM emulator)",
            "version": v.litellm_version(),
        },
        "paths": paths,
        "components": {},
    }))
}
