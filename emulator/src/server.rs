//! The accept loop: one hyper HTTP/1 connection per task, so a handler can kill its connection.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::http::{Request, Uri};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tower::Service;

use crate::gate::ConnKill;

/// Accept connections until `shutdown` changes (or its sender is dropped).
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    prefix: String,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(connection(stream, router.clone(), prefix.clone(), shutdown.clone()));
                }
            }
            _ = shutdown.changed() => break,
        }
    }
}

/// Strip the server root prefix so `/litellm/user/new` routes like `/user/new`.
fn strip_prefix<B>(req: &mut Request<B>, prefix: &str) {
    if prefix.is_empty() {
        return;
    }
    let path = req.uri().path();
    let rest = match path.strip_prefix(prefix) {
        Some("") => "/",
        Some(r) if r.starts_with('/') => r,
        _ => return,
    };
    let new = match req.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    };
    if let Ok(uri) = new.parse::<Uri>() {
        *req.uri_mut() = uri;
    }
}

async fn connection(
    stream: TcpStream,
    router: Router,
    prefix: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let kill = Arc::new(Notify::new());
    let handle = kill.clone();
    let svc = service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnKill(handle.clone()));
        strip_prefix(&mut req, &prefix);
        let mut router = router.clone();
        async move { Ok::<_, Infallible>(router.call(req).await.unwrap_or_else(|e| match e {})) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    let killed = kill.notified();
    tokio::pin!(killed);
    tokio::select! {
        _ = &mut conn => {}
        // Dropping `conn` closes the socket with no response written.
        _ = &mut killed => {}
        _ = shutdown.changed() => {}
    }
}
