//! The accept loop: one hyper HTTP/1 connection per task, so a handler can kill its connection.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::http::{Request, Uri};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tower::Service;

use crate::config::TlsPem;
use crate::gate::ConnKill;

/// Builds a TLS acceptor from PEM text.
pub(crate) fn acceptor(pem: &TlsPem) -> anyhow::Result<TlsAcceptor> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs =
        CertificateDer::pem_slice_iter(pem.cert_chain.as_bytes()).collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_slice(pem.key.as_bytes())?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(certs, key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accept connections until `shutdown` changes (or its sender is dropped).
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    prefix: String,
    tls: Option<TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    let _ = stream.set_nodelay(true);
                    let (router, prefix, shutdown) = (router.clone(), prefix.clone(), shutdown.clone());
                    match &tls {
                        Some(tls) => {
                            let tls = tls.clone();
                            tokio::spawn(async move {
                                if let Ok(stream) = tls.accept(stream).await {
                                    connection(stream, router, prefix, shutdown).await;
                                }
                            });
                        }
                        None => {
                            tokio::spawn(connection(stream, router, prefix, shutdown));
                        }
                    }
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

async fn connection<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    router: Router,
    prefix: String,
    mut shutdown: watch::Receiver<bool>,
) {
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
