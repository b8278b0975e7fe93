//! A thin async client for the LiteLLM management endpoints `onboard` uses.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use tokio::sync::OwnedSemaphorePermit;
use url::Url;

use crate::proxy::error::{ProxyError, shorten};
#[cfg(doc)]
use crate::proxy::pacer::Tally;
use crate::proxy::pacer::{Pacer, RetryPolicy};
use crate::types::MasterKey;

/// The largest answer read from the proxy. Every answer `onboard` needs is a few KiB (a page of
/// 100 users is about 100 KiB); past this the request fails instead of buffering the body.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The largest answer read from an endpoint that carries whole teams: `/team/info`,
/// `/user/info` (the user's teams) and `/v2/team/list`. Each lists every member of a team
/// (about 300 bytes each), so a team of 100,000 is some 30 MiB; this allows about 400,000.
/// An answer past [`MAX_BODY_BYTES`] is read only while it holds the client's one permit for
/// a large answer (until it is parsed), so however many reads are in flight, memory for
/// answers stays below `in flight × MAX_BODY_BYTES + MAX_TEAMS_BODY_BYTES` (64 roster reads:
/// 384 MiB, not 64 × 128 MiB).
pub const MAX_TEAMS_BODY_BYTES: usize = 128 * 1024 * 1024;

/// The largest answer read from `path`.
fn body_cap(path: &str) -> usize {
    match path {
        "team/info" | "user/info" | "v2/team/list" => MAX_TEAMS_BODY_BYTES,
        _ => MAX_BODY_BYTES,
    }
}

/// How much of an unreadable answer is quoted in the error (after the key is scrubbed).
const QUOTED_BODY_CHARS: usize = 200;

/// Connection settings for [`ProxyClient`].
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Timeout for one whole request.
    pub timeout: Duration,
    /// Extra CA certificates (PEM) to trust.
    pub ca_cert_pem: Option<Vec<u8>>,
    /// Sent as `litellm-changed-by` with every write (the proxy's audit log records it).
    pub changed_by: String,
}

/// The `litellm-changed-by` header every write request carries.
pub const CHANGED_BY_HEADER: &str = "litellm-changed-by";

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(30),
            ca_cert_pem: None,
            changed_by: "onboard".into(),
        }
    }
}

/// The client. Cheap to clone; every clone shares the connection pool and the pacer.
#[derive(Clone)]
pub struct ProxyClient {
    pub(super) http: reqwest::Client,
    base: Url,
    pub(super) key: MasterKey,
    pacer: Arc<Pacer>,
    changed_by: reqwest::header::HeaderValue,
    /// Held by the one answer larger than [`MAX_BODY_BYTES`] being read or parsed.
    large: Arc<tokio::sync::Semaphore>,
}

impl ProxyClient {
    /// Builds a client for `base` (a trailing slash or a path prefix is fine).
    pub fn new(
        base: &Url,
        key: MasterKey,
        options: &ClientOptions,
        pacer: Arc<Pacer>,
    ) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(256)
            .user_agent(concat!("onboard/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &options.ca_cert_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        let mut base = base.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let changed_by = reqwest::header::HeaderValue::from_str(&options.changed_by)
            .map_err(|_| anyhow::anyhow!("--changed-by must be printable ASCII text"))?;
        Ok(ProxyClient {
            http: builder.build()?,
            base,
            key,
            pacer,
            changed_by,
            large: Arc::new(tokio::sync::Semaphore::new(1)),
        })
    }

    /// The proxy's base URL, always ending in `/`.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// Runs a request that is safe to repeat under `retry`; a stop signal ends the waits
    /// between attempts (every retry of a proxy request goes through here or [`Tally::call`]).
    pub async fn retried<T, F, Fut>(
        &self,
        retry: &RetryPolicy,
        call: F,
        attempted: impl FnMut(Duration),
    ) -> Result<T, ProxyError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ProxyError>>,
    {
        retry
            .attempts()
            .stop_on(self.pacer().stop())
            .run(call, attempted)
            .await
    }

    /// The pacer shared by every request of this client.
    pub fn pacer(&self) -> &Arc<Pacer> {
        &self.pacer
    }

    pub(super) async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<serde_json::Value>,
    ) -> Result<T, ProxyError> {
        self.pacer.ready().await?;
        let mut url = self.base.join(path).expect("static paths join");
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut request = self
            .http
            .request(method.clone(), url)
            .bearer_auth(self.key.expose());
        if method != Method::GET {
            request = request.header(CHANGED_BY_HEADER, self.changed_by.clone());
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let started = Instant::now();
        let result = self.pacer.answer(self.exchange(path, request)).await;
        let elapsed = started.elapsed();
        self.pacer.observe(elapsed, result.as_ref().err());
        // The path only: query strings carry emails and invitation ids (credentials).
        match &result {
            Ok((status, ..)) => tracing::debug!("{method} /{path} → {status} in {elapsed:.1?}"),
            Err(e) => tracing::info!("{method} /{path} failed in {elapsed:.1?}: {}", e.reason()),
        }
        // A large answer's permit is held until it is parsed.
        result.and_then(|(status, text, _large)| {
            serde_json::from_str(&text)
                .map_err(|e| decode_error(path, status, &e, &text, &self.key))
        })
    }

    async fn exchange(
        &self,
        path: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, String, Option<OwnedSemaphorePermit>), ProxyError> {
        let mut response = request.send().await.map_err(|e| self.transport_error(e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|secs| secs.is_finite() && *secs >= 0.0)
            .map(|secs| Duration::from_secs_f64(secs.min(300.0)));
        let cap = body_cap(path);
        let too_large = || {
            ProxyError::Decode(format!(
                "{path}: HTTP {status}: the answer is larger than {} MiB; not reading it",
                cap / (1024 * 1024)
            ))
        };
        let length = response.content_length();
        if length.is_some_and(|len| len > cap as u64) {
            return Err(too_large());
        }
        let mut large = None;
        if length.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
            large = Some(self.large_permit().await);
        }
        let mut body = Vec::with_capacity(length.unwrap_or(0) as usize);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(e))?
        {
            if body.len() + chunk.len() > cap {
                return Err(too_large());
            }
            if large.is_none() && body.len() + chunk.len() > MAX_BODY_BYTES {
                large = Some(self.large_permit().await);
            }
            body.extend_from_slice(&chunk);
        }
        // Not copied when it is UTF-8, as it nearly always is (a team's answer can be large).
        let text = String::from_utf8(body)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        if status.is_success() {
            Ok((status, text, large))
        } else {
            Err(ProxyError::from_response(
                status.as_u16(),
                &text,
                retry_after,
                &self.key,
            ))
        }
    }

    /// The permit to hold an answer larger than [`MAX_BODY_BYTES`] (never closed).
    async fn large_permit(&self) -> OwnedSemaphorePermit {
        Arc::clone(&self.large)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed")
    }

    pub(super) fn transport_error(&self, error: reqwest::Error) -> ProxyError {
        // reqwest names the URL with its query, which can carry an invitation id (a link).
        let error = error.without_url();
        let reason = self.key.scrub(&error_chain(&error));
        let url = || {
            let mut url = self.base.clone();
            url.set_query(None);
            url.to_string().trim_end_matches('/').to_string()
        };
        if is_certificate_error(&reason) {
            ProxyError::Certificate { url: url(), reason }
        } else if error.is_connect() {
            ProxyError::Connect { url: url(), reason }
        } else if error.is_timeout() {
            ProxyError::Ambiguous(format!("timed out: {reason}"))
        } else {
            ProxyError::Ambiguous(reason)
        }
    }
}

/// The error for an answer that could not be read. An answer about invitations holds
/// invitation ids (credentials): nothing of it is quoted, nor serde's message (which may
/// quote a value), only where it stopped. Any other answer is quoted in part, the key
/// scrubbed first (a cut would leave a piece of the key the scrub cannot find) and again
/// from serde's message.
fn decode_error(
    path: &str,
    status: StatusCode,
    error: &serde_json::Error,
    text: &str,
    key: &MasterKey,
) -> ProxyError {
    if path.starts_with("invitation") || path.starts_with("onboarding") {
        return ProxyError::Decode(format!(
            "{path}: HTTP {status}: the answer could not be read (at line {} column {}; not quoted: it may hold invitation ids)",
            error.line(),
            error.column()
        ));
    }
    let quoted = shorten(&key.scrub(text), QUOTED_BODY_CHARS);
    ProxyError::Decode(key.scrub(&format!("{path}: HTTP {status}: {error}: {quoted}")))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// True when a transport error's text (the whole chain) says the TLS certificate was refused:
/// rustls says "invalid peer certificate: UnknownIssuer", "… NotValidForName", "… Expired".
fn is_certificate_error(chain: &str) -> bool {
    let lower = chain.to_lowercase();
    lower.contains("certificate") || lower.contains("unknownissuer")
}

#[cfg(test)]
mod large;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_invitation_answer_quotes_no_id() {
        let key = MasterKey::new("sk-secret-key");
        let body = r#"{"id": "inv-7f3a9c2e-credential", "user_id": 5}"#;
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Answer {
            id: String,
            user_id: String,
        }
        let error = serde_json::from_str::<Answer>(body).unwrap_err();
        for path in ["invitation/new", "invitation/info"] {
            let message = decode_error(path, StatusCode::OK, &error, body, &key).to_string();
            assert!(!message.contains("inv-7f3a9c2e"), "{message}");
            assert!(message.contains(path), "{message}");
        }
        let message = decode_error("user/list", StatusCode::OK, &error, body, &key).to_string();
        assert!(
            message.contains("user_id"),
            "other answers are quoted: {message}"
        );
    }

    #[tokio::test]
    async fn a_second_stop_signal_ends_a_proxy_requests_retry_wait() {
        let pacer = Arc::new(Pacer::new(
            Arc::new(crate::proxy::pacer::Limiter::fixed(1)),
            None,
        ));
        let (signals, shutdown) = crate::shutdown::Shutdown::manual();
        pacer.stop_on(shutdown);
        let url = Url::parse("http://127.0.0.1:9").unwrap();
        let client =
            ProxyClient::new(&url, MasterKey::new("k"), &ClientOptions::default(), pacer).unwrap();
        let slow = RetryPolicy {
            retries: 4,
            base: Duration::from_secs(30),
            max: Duration::from_secs(30),
        };
        let started = Instant::now();
        let stopper = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            signals.send_replace(2);
        };
        let failing = || async { Err::<(), _>(ProxyError::Ambiguous("reset".into())) };
        let (ended, ()) = tokio::join!(client.retried(&slow, failing, |_| {}), stopper);
        assert!(ended.is_err());
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the 30 s back-off ran to its end"
        );
    }

    #[test]
    fn certificate_errors_are_told_apart() {
        assert!(is_certificate_error(
            "error sending request: client error (Connect): invalid peer certificate: UnknownIssuer"
        ));
        assert!(!is_certificate_error(
            "error sending request: client error (Connect): tcp connect error: Connection refused (os error 111)"
        ));
    }
}
