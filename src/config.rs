//! What the program needs, resolved and checked from what the user typed.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::cli::GlobalArgs;
use crate::error::Fatal;
use crate::output::Format;
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
}

/// Reads the env var `name` (empty counts as unset).
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// True for localhost and loopback addresses, where plain http does not leave the machine.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

impl Config {
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
        let proxy_url = Url::parse(raw_url.trim())
            .map_err(|e| Fatal::new(format!("--proxy-url {raw_url:?} is not a URL: {e}")))?;
        if !matches!(proxy_url.scheme(), "http" | "https") || proxy_url.host().is_none() {
            return Err(Fatal::new(format!(
                "--proxy-url {raw_url:?} must be an http:// or https:// URL"
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
            mail: crate::mail::MailConfig::resolve(&args.mail)?,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        ] {
            assert!(!is_loopback(&Url::parse(url).unwrap()), "{url}");
        }
    }
}
