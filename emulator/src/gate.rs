//! Middleware in front of every API route: stats, capacity, latency, service time, faults.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{Query, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Notify;

use crate::app::App;
use crate::auth::presented_key;
use crate::errors::{echo_key, fault_500, overloaded};
use crate::faults::Fault;
use crate::stats::{InFlightGuard, ServedGuard};

/// Write routes that faults apply to.
pub(crate) const FAULT_ROUTES: [&str; 6] = [
    "/user/new",
    "/invitation/new",
    "/team/member_add",
    "/invitation/delete",
    BULK_ROUTE,
    BULK_DELETE_ROUTE,
];

/// The bulk user-creation route.
pub(crate) const BULK_ROUTE: &str = "/management/v1/users/bulk";

/// Capacity-model costs (ms, before `service_scale` and congestion), from the 1.106.2
/// measurements: a single `/user/new` took ~25–87 ms at 4 in flight (≈23/s, slower as the
/// user table grows), `/invitation/new` peaks near 135/s, and one bulk request of 200 users
/// took 0.13 s. So a bulk request costs one user write plus a small per-row cost:
/// 200 rows ≈ 25 + 200 × 0.5 = 125 ms, about 5 single creates rather than 200.
const USER_NEW_BASE_MS: f64 = 25.0;
/// Extra `/user/new` cost per stored user (its duplicate-email lookup), capped.
const PER_STORED_USER_MS: f64 = 0.04;
const PER_STORED_USER_CAP_MS: f64 = 40.0;
/// Extra bulk cost per row.
const BULK_PER_ROW_MS: f64 = 0.5;
/// Other writes (`/invitation/new` and the rest) and reads.
const OTHER_POST_MS: f64 = 9.0;
const GET_MS: f64 = 3.0;
/// `/user/list` per row returned: a page of 100 took ~0.5–0.9 s on the real proxy, an exact
/// e-mail look-up ~0.065 s (`litellm-observed/scale/costs.json`); the filter's scan of the
/// user table is the per-stored-user cost above.
const LIST_ROW_MS: f64 = 6.0;
/// `/team/info` per member (a 300-member team: ~0.22 s).
const TEAM_MEMBER_MS: f64 = 0.7;
/// `/user/delete`: ~0.12 s for one id, 2.5–4.6 s for 100 ids in one call.
const USER_DELETE_BASE_MS: f64 = 60.0;
const USER_DELETE_PER_ID_MS: f64 = 40.0;
/// `bulk_delete`: 180 users in ~1.5–1.9 s.
const BULK_DELETE_BASE_MS: f64 = 60.0;
const BULK_DELETE_PER_ROW_MS: f64 = 10.0;

/// The bulk user-deletion route.
pub(crate) const BULK_DELETE_ROUTE: &str = "/management/v1/users/bulk_delete";

/// The work delay `/user/new` spends between its duplicate check and its insert.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WorkDelay(pub Duration);

/// Closes the request's TCP connection without a response.
#[derive(Debug, Clone)]
pub(crate) struct ConnKill(pub Arc<Notify>);

/// What a request's cost depends on besides its route: rows in a bulk or delete body, and
/// the rows a read returns.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Size {
    /// Users in the request body (`users` or `user_ids`).
    pub rows: usize,
    /// Rows the read returns (`/user/list`: the page; `/team/info`: the members).
    pub returned: usize,
}

/// Base service time of a route in capacity mode (before scale and congestion).
fn base_service_ms(method: &Method, path: &str, users: usize, size: Size) -> f64 {
    let scan = (PER_STORED_USER_MS * users as f64).min(PER_STORED_USER_CAP_MS);
    let user_write = USER_NEW_BASE_MS + scan;
    let rows = size.rows as f64;
    match (method, path) {
        (&Method::POST, "/user/new") => user_write,
        (&Method::POST, BULK_ROUTE) => user_write + BULK_PER_ROW_MS * rows,
        (&Method::POST, "/user/delete") => USER_DELETE_BASE_MS + USER_DELETE_PER_ID_MS * rows,
        (&Method::POST, BULK_DELETE_ROUTE) => BULK_DELETE_BASE_MS + BULK_DELETE_PER_ROW_MS * rows,
        (&Method::POST, _) => OTHER_POST_MS,
        (_, "/user/list") => GET_MS + scan + LIST_ROW_MS * size.returned as f64,
        (_, "/team/info") => GET_MS + TEAM_MEMBER_MS * size.returned as f64,
        _ => GET_MS,
    }
}

/// The rows a read will return, for its cost: estimated from the query and the store.
fn returned(app: &App, path: &str, uri: &axum::http::Uri) -> usize {
    let query: HashMap<String, String> = Query::try_from_uri(uri).map(|q| q.0).unwrap_or_default();
    let number =
        |k: &str, default: usize| query.get(k).and_then(|v| v.parse().ok()).unwrap_or(default);
    let db = app.db();
    let members = |team: Option<&String>| {
        team.and_then(|t| db.teams.get(t))
            .map_or(0, |t| t.members.len())
    };
    match path {
        "/user/list" => {
            let page_size = number("page_size", 25);
            let page = number("page", 1).max(1);
            let matching = if let Some(ids) = query.get("user_ids") {
                ids.split(',').filter(|id| !id.trim().is_empty()).count()
            } else if query.contains_key("user_email") {
                1
            } else if query.contains_key("team") {
                members(query.get("team"))
            } else {
                db.users.len()
            };
            matching
                .saturating_sub((page - 1) * page_size)
                .min(page_size)
        }
        "/team/info" => members(query.get("team_id")),
        _ => 0,
    }
}

/// Latency plus, in capacity mode, the congested service time.
fn work_delay(app: &App, method: &Method, path: &str, queued: usize, size: Size) -> Duration {
    let mut delay = app.latency();
    if let Some(cap) = app.cfg.capacity {
        let users = app.db().users.len();
        let factor = 1.0 + app.cfg.congestion * queued as f64 / cap.max(1) as f64;
        let ms =
            base_service_ms(method, path, users, size) * app.cfg.service_scale.max(0.0) * factor;
        delay += Duration::from_secs_f64(ms / 1000.0);
    }
    delay
}

/// The middleware. Control routes (`/_emulator/*`) pass straight through.
pub(crate) async fn gate(State(app): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/_emulator") {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let is_write = method == Method::POST;
    app.stats.begin(&path, is_write);
    if is_write {
        let changed_by = req
            .headers()
            .get("litellm-changed-by")
            .and_then(|v| v.to_str().ok());
        app.stats.changed_by(changed_by);
    }
    let _in_flight = InFlightGuard(&app.stats);
    let fault = if is_write && FAULT_ROUTES.contains(&path.as_str()) {
        app.draw_fault(&path)
    } else {
        None
    };
    if fault == Some(Fault::Overload) {
        app.stats.fault(Fault::Overload);
        let (in_flight, served) = app.stats.gauges();
        let queued = app.waiting.load(Ordering::Relaxed) as u64;
        let retry = app.fault_config().retry_after_secs;
        app.stats.status(503);
        return overloaded(served.max(in_flight.saturating_sub(queued)), queued, retry);
    }

    let mut queued = 0;
    let _permit = match &app.capacity {
        Some(sem) => {
            app.waiting.fetch_add(1, Ordering::SeqCst);
            let permit = sem.clone().acquire_owned().await;
            queued = app.waiting.fetch_sub(1, Ordering::SeqCst).saturating_sub(1);
            permit.ok()
        }
        None => None,
    };
    app.stats.serve_begin();
    let _served = ServedGuard(&app.stats);
    let mut size = Size::default();
    if app.cfg.capacity.is_some() {
        let counted = [BULK_ROUTE, BULK_DELETE_ROUTE, "/user/delete"];
        if is_write && counted.contains(&path.as_str()) {
            // The cost depends on the row count: buffer the body to count them.
            let (parts, body) = req.into_parts();
            let bytes = axum::body::to_bytes(body, 64 << 20)
                .await
                .unwrap_or_default();
            size.rows = row_count(&bytes);
            req = Request::from_parts(parts, axum::body::Body::from(bytes));
        } else if !is_write {
            size.returned = returned(&app, &path, req.uri());
        }
    }
    let delay = work_delay(&app, &method, &path, queued, size);

    if fault == Some(Fault::FailBeforeCommit) {
        tokio::time::sleep(delay).await;
        app.stats.fault(Fault::FailBeforeCommit);
        app.stats.status(500);
        return fault_500(app.version(), false);
    }
    if path == "/user/new" && is_write {
        req.extensions_mut().insert(WorkDelay(delay));
    } else if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let kill = req.extensions().get::<ConnKill>().cloned();
    let leak = app
        .cfg
        .echo_key_in_errors
        .then(|| presented_key(req.headers()))
        .flatten();
    let mut resp = next.run(req).await;
    let committed = resp.status().is_success();
    match fault {
        Some(Fault::FailAfterCommit) if committed => {
            app.stats.fault(Fault::FailAfterCommit);
            app.stats.status(500);
            return fault_500(app.version(), true);
        }
        Some(Fault::DropAfterCommit) if committed => {
            if let Some(ConnKill(notify)) = kill {
                app.stats.fault(Fault::DropAfterCommit);
                notify.notify_one();
                // The connection task drops this future together with the socket.
                std::future::pending::<()>().await;
            }
        }
        _ => {}
    }
    let status = resp.status().as_u16();
    if status >= 400
        && status != 401
        && let Some(key) = leak
    {
        resp = echo_key(resp, &key).await;
    }
    app.stats.status(status);
    resp
}

/// Rows in a bulk or delete body (`users` or `user_ids`, for the capacity model); 0 when it
/// does not parse.
pub(crate) fn row_count(body: &[u8]) -> usize {
    serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body)
        .ok()
        .and_then(|m| {
            ["users", "user_ids"].iter().find_map(|k| {
                m.get(*k)
                    .and_then(serde_json::Value::as_array)
                    .map(Vec::len)
            })
        })
        .unwrap_or(0)
}
