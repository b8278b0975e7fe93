//! What the program needs, resolved and checked from what the user typed.

mod mail;
mod task;

pub use task::{
    BulkTask, DoctorTask, ExportTask, InviteTask, OffboardTask, RefreshTask, StatusTask, Task,
};

pub use mail::given as mail_flags_given;
pub use mail::resolve as resolve_mail;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::cli::GlobalArgs;
use crate::error::Fatal;
use crate::output::Format;
use crate::proxy::client::{ClientOptions, ProxyClient};
use crate::proxy::pacer::{Limiter, Pacer, RetryPolicy};
use crate::types::MasterKey;

/// Env vars that may hold the master key, in order of preference.
pub const KEY_VARS: [&str; 2] = ["LITELLM_MASTER_KEY", "LITELLM_PROXY_API_KEY"];

/// The resolved configuration of one run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The proxy's base URL.
    pub proxy_url: Url,
    /// The master key.
    pub key: MasterKey,
    /// The audit file.
    pub results: PathBuf,
    /// A fixed number of people in flight, or `None` for adaptive.
    pub concurrency: Option<usize>,
    /// Requests per second cap.
    pub rate: Option<f64>,
    /// Retries per request.
    pub retries: u32,
    /// Timeout per request.
    pub timeout: Duration,
    /// Output format.
    pub format: Format,
    /// Quiet.
    pub quiet: bool,
    /// Extra CA certificates (PEM).
    pub ca_cert_pem: Option<Vec<u8>>,
    /// Create `default_user_id` when missing.
    pub fix_default_user: bool,
    /// `--send-email` settings, when given.
    pub mail: Option<crate::mail::MailConfig>,
    /// Warnings to show once the printer exists.
    pub warnings: Vec<String>,
    /// The `litellm-changed-by` header of every write.
    pub changed_by: String,
}

/// Reads the env var `name` (empty counts as unset).
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// True when `url`'s host is this machine (see [`is_loopback_host`]).
pub fn is_loopback(url: &Url) -> bool {
    url.host_str().is_some_and(is_loopback_host)
}

/// True when `host` is this machine, so plain text to it does not cross a network: a loopback
/// address (127.0.0.0/8, `::1`, bracketed or not) or the name `localhost` itself.
///
/// Other names are not resolved, so `*.localhost` is **not** loopback: nothing but the
/// resolver decides where such a name goes, and this answer must not depend on it. The proxy
/// URL (`--allow-insecure-http`) and the SMTP host (`--smtp-tls none`) both use this rule.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return ip.is_loopback();
    }
    // The forms a URL parser reads as IPv4 (`127.1`, `0x7f.1`), as the http client will.
    match url::Host::parse(host) {
        Ok(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Ok(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    }
}

/// `raw` with any `user:password@` in front of the host replaced by `***@`, for messages.
fn without_userinfo(raw: &str) -> String {
    let (scheme, rest) = raw.split_once("://").unwrap_or(("", raw));
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) if raw.contains("://") => format!("{scheme}://***@{}", &rest[at + 1..]),
        Some(at) => format!("***@{}", &rest[at + 1..]),
        None => raw.to_string(),
    }
}

/// The adaptive limit's ceiling when `--concurrency` is not given.
pub const ADAPTIVE_MAX: usize = 64;

/// Where the adaptive limit starts: one in flight shows the proxy's latency with nothing
/// queued, the baseline every later sample is held against (a start of 4 on a proxy with one
/// worker measured three queued requests as "no load" and never came down). It reaches 4
/// within a few people.
pub const ADAPTIVE_START: usize = 1;

impl Config {
    /// Builds the client with the run's pacing.
    pub fn client(&self) -> anyhow::Result<ProxyClient> {
        let limiter = match self.concurrency {
            Some(n) => Limiter::fixed(n),
            None => Limiter::adaptive(ADAPTIVE_START, ADAPTIVE_MAX),
        };
        let pacer = Arc::new(Pacer::new(Arc::new(limiter), self.rate));
        let options = ClientOptions {
            timeout: self.timeout,
            ca_cert_pem: self.ca_cert_pem.clone(),
            changed_by: self.changed_by.clone(),
        };
        ProxyClient::new(&self.proxy_url, self.key.clone(), &options, pacer)
    }

    /// The retry policy of a run.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            retries: self.retries,
            ..RetryPolicy::default()
        }
    }

    /// Resolves the global options and the environment.
    pub fn resolve(args: &GlobalArgs) -> Result<Config, Fatal> {
        let mut warnings = Vec::new();
        let raw_url = args
            .proxy_url
            .clone()
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| {
                Fatal::new("no proxy URL given")
                    .hint("pass --proxy-url URL or set LITELLM_PROXY_URL")
            })?;
        // Messages quote the URL without any `user:password@`: it must never be printed.
        let shown = without_userinfo(raw_url.trim());
        let proxy_url = Url::parse(raw_url.trim())
            .map_err(|e| Fatal::new(format!("--proxy-url {shown:?} is not a URL: {e}")))?;
        if !proxy_url.username().is_empty() || proxy_url.password().is_some() {
            return Err(Fatal::new(format!(
                "--proxy-url {shown:?} has a user name or password in it: refusing it (the master key is the only credential onboard sends, and a password in a URL ends up in logs)"
            ))
            .hint("remove the user:password@ part from --proxy-url / LITELLM_PROXY_URL"));
        }
        if !matches!(proxy_url.scheme(), "http" | "https") || proxy_url.host().is_none() {
            return Err(Fatal::new(format!(
                "--proxy-url {shown:?} must be an http:// or https:// URL"
            )));
        }
        if proxy_url.scheme() == "http" && !is_loopback(&proxy_url) && !args.allow_insecure_http {
            return Err(Fatal::new(format!(
                "refusing to send the master key in clear text to {proxy_url} (plain http to a host that is not loopback)"
            ))
            .hint("use https://, or pass --allow-insecure-http if the network is trusted"));
        }
        let key = if let Some(path) = &args.master_key_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Fatal::new(format!("--master-key-file {}: {e}", path.display())))?;
            Some(text)
        } else if let Some(key) = &args.master_key {
            warnings.push("--master-key on the command line is visible to other users of this machine (ps); prefer LITELLM_MASTER_KEY or --master-key-file".into());
            Some(key.clone())
        } else {
            KEY_VARS.iter().find_map(|name| env(name))
        };
        let key = key.filter(|k| !k.trim().is_empty()).map(|k| MasterKey::new(&k)).ok_or_else(|| {
            Fatal::new("no master key given")
                .hint("set LITELLM_MASTER_KEY (or LITELLM_PROXY_API_KEY), or pass --master-key-file PATH")
        })?;
        let changed_by = args.changed_by.trim().to_string();
        if changed_by.is_empty() || !changed_by.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
            return Err(Fatal::new(format!(
                "--changed-by {:?}: must be printable ASCII text (it is sent as an HTTP header)",
                crate::types::escape(&args.changed_by)
            )));
        }
        let ca_cert_pem = match &args.ca_cert {
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| Fatal::new(format!("--ca-cert {}: {e}", path.display())))?;
                reqwest::Certificate::from_pem_bundle(&pem)
                    .ok()
                    .filter(|certs| !certs.is_empty())
                    .ok_or_else(|| {
                        Fatal::new(format!(
                            "--ca-cert {}: no PEM certificate in it",
                            path.display()
                        ))
                    })?;
                Some(pem)
            }
            None => None,
        };
        Ok(Config {
            proxy_url,
            key,
            results: args.results.clone(),
            concurrency: args.concurrency.map(|n| n as usize),
            rate: args.rate,
            retries: args.retries,
            timeout: args.timeout,
            format: if args.json { Format::Json } else { args.format },
            quiet: args.quiet,
            ca_cert_pem,
            fix_default_user: args.fix_default_user,
            mail: mail::resolve(&args.mail)?,
            warnings,
            changed_by,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_host_names() {
        for host in ["localhost", "127.0.0.1", "127.8.0.1", "::1", "[::1]"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "10.0.0.1",
            "smtp.example.com",
            "localhost.example.com",
            "::2",
            // Names are not resolved: only `localhost` itself is this machine.
            "mail.localhost",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn loopback_hosts() {
        for url in [
            "http://localhost:4000",
            "http://127.0.0.2",
            "http://[::1]:80",
        ] {
            assert!(is_loopback(&Url::parse(url).unwrap()), "{url}");
        }
        for url in [
            "http://10.0.0.1",
            "http://proxy.example.com",
            "http://localhost.example.com",
            // Not resolved, so not known to be this machine.
            "http://proxy.localhost",
            "http://[::2]",
        ] {
            assert!(!is_loopback(&Url::parse(url).unwrap()), "{url}");
        }
    }

    #[test]
    fn userinfo_is_hidden_in_messages() {
        assert_eq!(
            without_userinfo("http://admin:hunter2@host:4000/x@y"),
            "http://***@host:4000/x@y"
        );
        assert_eq!(without_userinfo("https://host/p"), "https://host/p");
        assert_eq!(without_userinfo("admin:hunter2@host"), "***@host");
    }
}
