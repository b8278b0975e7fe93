//! The LiteLLM API routes.

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::app::App;
use crate::errors::{method_not_allowed, route_not_found};

pub(crate) mod bulk;
mod bulk_delete;
mod health;
pub(crate) mod invitations;
mod lifecycle;
mod member_add;
mod onboarding;
mod permissions;
pub(crate) mod teams;
pub(crate) mod user_new;
mod users;

/// All emulated LiteLLM routes (without the control API and middleware).
pub(crate) fn api() -> Router<Arc<App>> {
    Router::new()
        .route("/user/new", post(user_new::user_new))
        .route("/user/info", get(users::user_info))
        .route("/v2/user/info", get(users::user_info_v2))
        .route("/user/list", get(users::user_list))
        .route("/user/delete", post(users::user_delete))
        .route("/user/update", post(lifecycle::user_update))
        .route("/management/v1/users/bulk", post(bulk::bulk_new_users))
        .route(
            "/management/v1/users/bulk_delete",
            post(bulk_delete::bulk_delete),
        )
        .route("/health/readiness/details", get(health::readiness_details))
        .route("/invitation/new", post(invitations::invitation_new))
        .route("/invitation/info", get(invitations::invitation_info))
        .route("/invitation/delete", post(invitations::invitation_delete))
        .route("/onboarding/get_token", get(onboarding::get_token))
        .route("/onboarding/claim_token", post(onboarding::claim_token))
        .route("/team/new", post(teams::team_new))
        .route("/team/info", get(teams::team_info))
        .route("/team/list", get(teams::team_list))
        .route("/v2/team/list", get(teams::team_list_v2))
        .route("/team/member_add", post(member_add::member_add))
        .route("/team/member_update", post(lifecycle::member_update))
        .route("/team/member_delete", post(lifecycle::member_delete))
        .route("/team/permissions_list", get(permissions::permissions_list))
        .route(
            "/team/permissions_update",
            post(permissions::permissions_update),
        )
        .route("/key/generate", post(permissions::key_generate))
        .route("/ui/", get(health::ui))
        .route("/openapi.json", get(health::openapi))
        .route("/health/liveliness", get(health::liveliness))
        .route("/health/liveness", get(health::liveliness))
        .route("/health/readiness", get(health::readiness))
        .route("/.well-known/litellm-ui-config", get(health::ui_config))
        .route(
            "/litellm/.well-known/litellm-ui-config",
            get(health::ui_config),
        )
        .fallback(|| async { route_not_found() })
        .method_not_allowed_fallback(|| async { method_not_allowed() })
}
