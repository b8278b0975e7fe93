//! `POST /invitation/new`, `GET /invitation/info`, `POST /invitation/delete`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};

use crate::app::App;
use crate::auth::{Caller, authenticate};
use crate::config::{ApiVersion, DEFAULT_USER_ID};
use crate::errors::{HResult, detail_error, http_exc_dict, ok};
use crate::state::{Db, InvitationRecord};
use crate::validate::{Body, query_required};
use crate::views::invitation;

const NOT_IN_DB: &str = "Invitation id does not exist in the database.";
const USER_MISSING: &str =
    "User id does not exist in 'LiteLLM_UserTable'. Fix this by creating user via `/user/new`.";

fn admin_only(caller: &Caller) -> String {
    format!(
        "Admin-only endpoint. Not allowed to access this., your role={}",
        caller.role
    )
}

/// Insert a fresh invitation row; fails like the foreign keys do when the invited user or the
/// creator (`created_by`, normally `default_user_id`) has no user row.
pub(crate) fn create_invitation(
    db: &mut Db,
    user_id: &str,
    created_by: &str,
    now: DateTime<Utc>,
    check_creator: bool,
) -> Option<InvitationRecord> {
    if !db.users.contains_key(user_id) || (check_creator && !db.users.contains_key(created_by)) {
        return None;
    }
    let inv = InvitationRecord {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: user_id.to_string(),
        is_accepted: false,
        accepted_at: None,
        expires_at: now + chrono::Duration::days(7),
        created_at: now,
        created_by: created_by.to_string(),
        updated_at: now,
        updated_by: created_by.to_string(),
    };
    db.add_invitation(inv.clone());
    *db.invitations_total.entry(user_id.to_string()).or_default() += 1;
    Some(inv)
}

/// `POST /invitation/new {"user_id"}`: always a new row, expiring in 7 days.
pub(crate) async fn invitation_new(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> HResult {
    let v = app.version();
    let caller = authenticate(&app, &headers)?;
    let mut b = Body::parse(&body)?;
    let user_id = b.req_str("user_id");
    b.finish()?;
    let user_id = user_id.unwrap_or_default();
    if !caller.is_admin() {
        return Err(http_exc_dict(
            v,
            StatusCode::BAD_REQUEST,
            &admin_only(&caller),
        ));
    }
    let created_by = caller.user_id.clone().unwrap_or(DEFAULT_USER_ID.into());
    let now = app.now();
    let mut db = app.db();
    let Some(inv) = create_invitation(&mut db, &user_id, &created_by, now, true) else {
        return Err(http_exc_dict(v, StatusCode::BAD_REQUEST, USER_MISSING));
    };
    drop(db);
    app.stats.invitation_created();
    ok(invitation(&inv))
}

/// `GET /invitation/info?invitation_id=` (errors in the raw `{"detail": ...}` shape).
pub(crate) async fn invitation_info(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> HResult {
    let caller = authenticate(&app, &headers)?;
    let id = query_required(&q, "invitation_id")?;
    if !caller.has_admin_view() {
        return Err(detail_error(StatusCode::BAD_REQUEST, &admin_only(&caller)));
    }
    let db = app.db();
    match db.invitation(&id) {
        Some(inv) => ok(invitation(inv)),
        None => Err(detail_error(StatusCode::BAD_REQUEST, NOT_IN_DB)),
    }
}

/// `POST /invitation/delete {"invitation_id"}`: returns the deleted row.
pub(crate) async fn invitation_delete(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> HResult {
    let caller = authenticate(&app, &headers)?;
    let mut b = Body::parse(&body)?;
    let id = b.req_str("invitation_id");
    b.finish()?;
    let id = id.unwrap_or_default();
    if !caller.is_admin() {
        return Err(detail_error(StatusCode::BAD_REQUEST, &admin_only(&caller)));
    }
    let mut db = app.db();
    let Some(inv) = db.remove_invitation(&id) else {
        return Err(detail_error(StatusCode::BAD_REQUEST, NOT_IN_DB));
    };
    db.onboarding_tokens.retain(|_, t| t.invitation_id != id);
    ok(invitation(&inv))
}

/// Mark an invitation accepted the way `version` does (1.80: opened; 1.109: password set).
pub(crate) fn accept(db: &mut Db, id: &str, version: ApiVersion, now: DateTime<Utc>) -> bool {
    let Some(inv) = db.invitation_mut(id) else {
        return false;
    };
    inv.is_accepted = true;
    inv.accepted_at = Some(now);
    inv.updated_at = now;
    inv.updated_by = inv.user_id.clone();
    let user_id = inv.user_id.clone();
    if version.is_new()
        && let Some(u) = db.users.get_mut(&user_id)
    {
        u.password = Some("set-by-emulator".into());
        u.updated_at = now;
    }
    true
}
