//! Quick start: onboard `users.example.csv` end to end.
//!
//! With no `LITELLM_PROXY_URL` set, it starts the bundled LiteLLM emulator on a free loopback
//! port (master key `sk-1234`, teams Dev-Test and Research) and runs `onboard` against it;
//! then it opens every link the way the proxy's onboarding page does, to show they work.
//!
//! ```text
//! cargo run --example quickstart                 # users.example.csv, bundled emulator
//! cargo run --example quickstart -- my.csv       # another CSV
//! ```

use std::path::PathBuf;

use clap::Parser;
use litellm_emulator::{Emulator, EmulatorConfig};
use onboard::cli::Cli;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let csv = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "users.example.csv".into());
    let real_proxy = std::env::var("LITELLM_PROXY_URL")
        .ok()
        .filter(|u| !u.is_empty());
    // A fresh emulator knows nobody: start its audit file afresh too (kept apart from a real
    // proxy's `onboarding_results.json`).
    let results = match &real_proxy {
        Some(_) => PathBuf::from("onboarding_results.json"),
        None => {
            let path = PathBuf::from("target/quickstart/onboarding_results.json");
            for suffix in ["", ".journal"] {
                std::fs::remove_file(format!("{}{suffix}", path.display())).ok();
            }
            path
        }
    };
    let mut args: Vec<String> = vec![
        "onboard".into(),
        csv,
        "--results".into(),
        results.display().to_string(),
    ];
    let emulator = match &real_proxy {
        Some(url) => {
            eprintln!("quickstart: using the proxy at {url} (LITELLM_PROXY_URL)");
            None
        }
        None => {
            let emulator = Emulator::start(EmulatorConfig::default()).await?;
            eprintln!(
                "quickstart: started the bundled LiteLLM emulator at {} (master key sk-1234)",
                emulator.url()
            );
            let key_file =
                std::env::temp_dir().join(format!("onboard-quickstart-key-{}", std::process::id()));
            std::fs::write(&key_file, "sk-1234")?;
            args.extend([
                "--proxy-url".into(),
                emulator.url(),
                "--master-key-file".into(),
                key_file.display().to_string(),
            ]);
            Some(emulator)
        }
    };
    let exit = match onboard::run(Cli::parse_from(&args)).await {
        Ok(exit) => exit as i32,
        Err(fatal) => {
            eprintln!("onboard: error: {}", fatal.message);
            if let Some(hint) = fatal.hint {
                eprintln!("  hint: {hint}");
            }
            2
        }
    };
    if let Some(emulator) = &emulator {
        check_links(emulator, &results).await?;
    }
    std::process::exit(exit);
}

/// Opens each recorded link's invitation the way the onboarding page does.
async fn check_links(emulator: &Emulator, results: &PathBuf) -> anyhow::Result<()> {
    let records: Vec<serde_json::Value> = serde_json::from_slice(&std::fs::read(results)?)?;
    let http = reqwest::Client::new();
    for record in records {
        let (Some(email), Some(link)) =
            (record["email"].as_str(), record["onboarding_link"].as_str())
        else {
            continue;
        };
        let id = url::Url::parse(link)?
            .query_pairs()
            .find(|(k, _)| k == "invitation_id")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let status = http
            .get(format!("{}/onboarding/get_token", emulator.url()))
            .query(&[("invite_link", id.as_str())])
            .send()
            .await?
            .status();
        eprintln!(
            "quickstart: {email}: link opens on the emulator: {}",
            if status.is_success() { "yes" } else { "NO" }
        );
    }
    Ok(())
}
