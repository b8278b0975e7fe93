//! `GET /onboarding/get_token` and `POST /onboarding/claim_token` (no API key needed).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::app::{App, b64url, random_b64url};
use crate::auth::presented_key;
use crate::errors::{HResult, detail_error, ok};
use crate::state::{InvitationRecord, OnboardingToken};
use crate::validate::{Body, query_required};
use crate::views::user_row;

const NO_LINK: &str = "Invitation link does not exist in db.";
const EXPIRED: &str = "Invitation link has expired.";
const USED: &str = "Invitation link has already been used.";
const NO_USER: &str = "User does not exist in db.";

fn unauthorized(msg: &str) -> axum::response::Response {
    detail_error(StatusCode::UNAUTHORIZED, msg)
}

/// Expired when the `expires_at` date is before today's UTC date (emulator clock).
fn is_expired(inv: &InvitationRecord, now: DateTime<Utc>) -> bool {
    inv.expires_at.date_naive() < now.date_naive()
}

/// A JWT-shaped token (the signature is random; the emulator validates by lookup).
fn jwt(payload: Value) -> String {
    let header = b64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = b64url(payload.to_string().as_bytes());
    format!("{header}.{body}.{}", random_b64url(32))
}

fn login_url(app: &App) -> String {
    let base = app
        .cfg
        .proxy_base_url
        .clone()
        .unwrap_or_else(|| app.base_url());
    format!(
        "{}{}/ui/?login=success",
        base.trim_end_matches('/'),
        app.cfg.root_prefix()
    )
}

/// `GET /onboarding/get_token?invite_link=<invitation id>`.
///
/// 1.80 marks the invitation accepted on every open and allows reuse; 1.109 rejects a used
/// link and leaves the row alone, handing out a 15-minute onboarding token for `claim_token`.
pub(crate) async fn get_token(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
) -> HResult {
    let v = app.version();
    let id = query_required(&q, "invite_link")?;
    let now = app.now();
    let mut db = app.db();
    let Some(inv) = db.invitation(&id).cloned() else {
        return Err(unauthorized(NO_LINK));
    };
    if is_expired(&inv, now) {
        return Err(unauthorized(EXPIRED));
    }
    if v.is_new() && inv.is_accepted {
        return Err(unauthorized(USED));
    }
    if !v.is_new()
        && let Some(row) = db.invitation_mut(&id)
    {
        row.is_accepted = true;
        row.accepted_at = Some(now);
        row.updated_at = now;
        row.updated_by = row.user_id.clone();
    }
    let Some(user) = db.users.get(&inv.user_id) else {
        return Err(unauthorized(NO_USER));
    };
    let email = user.user_email.clone();
    let token = if v.is_new() {
        let expires_at = now + chrono::Duration::minutes(15);
        let token = jwt(json!({
            "purpose": "onboarding",
            "invitation_id": id,
            "user_id": inv.user_id,
            "exp": expires_at.timestamp(),
        }));
        let entry = OnboardingToken {
            invitation_id: id.clone(),
            user_id: inv.user_id.clone(),
            expires_at,
        };
        db.onboarding_tokens.insert(token.clone(), entry);
        token
    } else {
        jwt(json!({
            "user_id": inv.user_id,
            "key": format!("sk-{}", random_b64url(16)),
            "user_email": email,
            "user_role": user.user_role,
            "login_method": "username_password",
            "premium_user": false,
            "auth_header_name": "Authorization",
            "exp": (now + chrono::Duration::hours(24)).timestamp(),
        }))
    };
    drop(db);
    ok(json!({"login_url": login_url(&app), "token": token, "user_email": email}))
}

/// `POST /onboarding/claim_token {"invitation_link","user_id","password"}`.
///
/// 1.109 needs `Authorization: Bearer <token from get_token>` and sets `is_accepted`/`accepted_at`;
/// 1.80 requires the link to be accepted already (by `get_token`) and returns the user row.
pub(crate) async fn claim_token(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> HResult {
    let v = app.version();
    let mut b = Body::parse(&body)?;
    let link = b.req_str("invitation_link");
    let user_id = b.req_str("user_id");
    let password = b.req_str("password");
    b.finish()?;
    let (link, user_id, password) = (
        link.unwrap_or_default(),
        user_id.unwrap_or_default(),
        password.unwrap_or_default(),
    );
    let now = app.now();
    let mut db = app.db();
    if v.is_new() {
        let session = presented_key(&headers).and_then(|t| db.onboarding_tokens.get(&t).cloned());
        match session {
            None => {
                return Err(unauthorized(
                    "Missing onboarding session for invitation link",
                ));
            }
            Some(s) if s.invitation_id != link || s.expires_at < now => {
                return Err(unauthorized("Invalid or expired onboarding session"));
            }
            Some(_) => {}
        }
    }
    let Some(inv) = db.invitation(&link).cloned() else {
        return Err(unauthorized(NO_LINK));
    };
    if inv.user_id != user_id {
        let msg = format!(
            "Invalid invitation link. The user id submitted does not match the user id this link is attached to. Got={user_id}, Expected={}",
            inv.user_id
        );
        return Err(unauthorized(&msg));
    }
    if is_expired(&inv, now) {
        return Err(unauthorized(EXPIRED));
    }
    if v.is_new() && inv.is_accepted {
        return Err(unauthorized(USED));
    }
    if !v.is_new() && !inv.is_accepted {
        let msg = "The invitation link was never validated. Please file an issue, if this is not intended - https://github.com/BerriAI/litellm/issues.";
        return Err(unauthorized(msg));
    }
    if v.is_new() && password.chars().count() < 8 {
        let msg = "Password must be at least 8 characters long.";
        return Err(detail_error(StatusCode::BAD_REQUEST, msg));
    }
    let Some(user) = db.users.get_mut(&user_id) else {
        return Err(unauthorized(NO_USER));
    };
    user.password = Some(format!("hashed:{}", password.len()));
    user.updated_at = now;
    let row = user_row(user, false);
    let email = user.user_email.clone();
    if !v.is_new() {
        return ok(row);
    }
    if let Some(inv) = db.invitation_mut(&link) {
        inv.is_accepted = true;
        inv.accepted_at = Some(now);
        inv.updated_at = now;
        inv.updated_by = user_id.clone();
    }
    db.onboarding_tokens.retain(|_, t| t.invitation_id != link);
    drop(db);
    let token = jwt(json!({"user_id": user_id, "login_method": "username_password"}));
    ok(json!({"login_url": login_url(&app), "token": token, "user_email": email, "user": row}))
}
