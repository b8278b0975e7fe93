//! `POST /management/v1/users/bulk_delete {"user_ids": [...]}` (1.106.2, files 85–86): each
//! user deleted with its keys, invitations and memberships, with a result per row, in order; an
//! unknown id or one repeated in the request fails its row alone.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::app::App;
use crate::auth::authenticate;
use crate::errors::{HResult, detail_error, ok, route_not_found};
use crate::validate::Body;

pub(crate) async fn bulk_delete(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> HResult {
    if !app.version().is_new() {
        return Err(route_not_found());
    }
    let caller = authenticate(&app, &headers)?;
    let mut b = Body::parse(&body)?;
    let ids: Vec<String> = b
        .opt_list("user_ids")
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
        .collect();
    b.finish()?;
    if !caller.is_admin() {
        let msg = "Only proxy admins can delete users.";
        return Err(detail_error(StatusCode::FORBIDDEN, msg));
    }
    let mut db = app.db();
    let mut seen = HashSet::new();
    let rows: Vec<Value> = ids
        .iter()
        .map(|id| {
            if !seen.insert(id.as_str()) {
                let error = format!("Duplicate user_id in request: {id}");
                return json!({"user_id": id, "user_email": null, "success": false, "teams_removed": [], "error": error});
            }
            let Some(user) = db.users.get(id) else {
                let error = format!("User id={id} not found");
                return json!({"user_id": id, "user_email": null, "success": false, "teams_removed": [], "error": error});
            };
            let (email, teams) = (user.user_email.clone(), user.teams.clone());
            db.remove_user(id);
            json!({"user_id": id, "user_email": email, "success": true, "teams_removed": teams, "error": null})
        })
        .collect();
    ok(json!({ "data": rows }))
}
