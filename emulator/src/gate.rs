//! Middleware in front of every API route: stats, capacity, latency, service time, faults.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{Request, State};
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
pub(crate) const FAULT_ROUTES: [&str; 5] = [
    "/user/new",
    "/invitation/new",
    "/team/member_add",
    "/invitation/delete",
    BULK_ROUTE,
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

/// The work delay `/user/new` spends between its duplicate check and its insert.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WorkDelay(pub Duration);

/// Closes the request's TCP connection without a response.
#[derive(Debug, Clone)]
pub(crate) struct ConnKill(pub Arc<Notify>);

/// Base service time of a route in capacity mode (before scale and congestion).
/// `rows` is the number of users in a bulk request (0 elsewhere).
fn base_service_ms(method: &Method, path: &str, users: usize, rows: usize) -> f64 {
    let user_write =
        USER_NEW_BASE_MS + (PER_STORED_USER_MS * users as f64).min(PER_STORED_USER_CAP_MS);
    match (method, path) {
        (&Method::POST, "/user/new") => user_write,
        (&Method::POST, BULK_ROUTE) => user_write + BULK_PER_ROW_MS * rows as f64,
        (&Method::POST, _) => OTHER_POST_MS,
        _ => GET_MS,
    }
}

/// Latency plus, in capacity mode, the congested service time.
fn work_delay(app: &App, method: &Method, path: &str, queued: usize, rows: usize) -> Duration {
    let mut delay = app.latency();
    if let Some(cap) = app.cfg.capacity {
        let users = app.db().users.len();
        let factor = 1.0 + app.cfg.congestion * queued as f64 / cap.max(1) as f64;
        let ms =
            base_service_ms(method, path, users, rows) * app.cfg.service_scale.max(0.0) * factor;
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
    let mut rows = 0;
    if is_write && path == BULK_ROUTE && app.cfg.capacity.is_some() {
        // The bulk cost depends on the row count: buffer the body to count them.
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, 64 << 20)
            .await
            .unwrap_or_default();
        rows = row_count(&bytes);
        req = Request::from_parts(parts, axum::body::Body::from(bytes));
    }
    let delay = work_delay(&app, &method, &path, queued, rows);

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

/// Rows in a bulk body (for the capacity model); 0 when it does not parse.
pub(crate) fn row_count(body: &[u8]) -> usize {
    serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body)
        .ok()
        .and_then(|m| {
            m.get("users")
                .and_then(serde_json::Value::as_array)
                .map(Vec::len)
        })
        .unwrap_or(0)
}
