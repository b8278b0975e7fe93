//! Shared test set-up: a LiteLLM emulator on loopback and the real `onboard` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use litellm_emulator::{Emulator, EmulatorConfig};
use serde_json::Value;

/// The emulator's default master key.
pub const KEY: &str = "sk-1234";
/// The seeded "Dev-Test" team.
pub const DEV_TEST: &str = "f6dbea80-21b4-4f7b-a669-3d6adcc6e8d1";
/// The seeded "Research" team.
pub const RESEARCH: &str = "0c5a6b7e-3d2f-4a1b-9e8d-7f6a5b4c3d2e";

/// An emulator, a scratch directory, and the audit file's path in it.
pub struct Env {
    /// The running emulator.
    pub emulator: Emulator,
    /// The scratch directory (the binary runs in it).
    pub dir: tempfile::TempDir,
}

impl Env {
    /// Starts an emulator with `config`.
    pub fn new(config: EmulatorConfig) -> Env {
        Env {
            emulator: Emulator::spawn(config),
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// An emulator with LiteLLM 1.109 behaviour.
    pub fn default_proxy() -> Env {
        Env::new(EmulatorConfig::default())
    }

    /// An emulator with LiteLLM 1.109 behaviour whose seeded teams an admin has configured:
    /// members may create keys (a team fresh from `/team/new` may not, and runs warn of it).
    pub fn ready_proxy() -> Env {
        let env = Env::default_proxy();
        for team in [DEV_TEST, RESEARCH] {
            env.emulator
                .set_team_permissions(team, &["/key/generate", "/key/info", "/key/list"]);
        }
        env
    }

    /// The audit file.
    pub fn results_path(&self) -> PathBuf {
        self.dir.path().join("onboarding_results.json")
    }

    /// The `onboard` binary, pointed at the emulator, with a clean environment.
    pub fn onboard(&self) -> Command {
        self.program(assert_cmd::cargo::cargo_bin_cmd!("onboard"))
    }

    /// `cmd` (another build of `onboard`) run as [`Env::onboard`] runs this one.
    pub fn program(&self, mut cmd: Command) -> Command {
        cmd.current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("NO_COLOR", "1")
            .env("LITELLM_PROXY_URL", self.emulator.url())
            .env("LITELLM_MASTER_KEY", KEY);
        cmd
    }

    /// The `onboard` binary as a plain process (to run in the background, to signal, to
    /// cap), pointed at the emulator with a clean environment; stdout and stderr piped.
    pub fn process(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_onboard"));
        command
            .current_dir(self.dir.path())
            .env_clear()
            .env("NO_COLOR", "1")
            .env("LITELLM_PROXY_URL", self.emulator.url())
            .env("LITELLM_MASTER_KEY", KEY)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command
    }

    /// Writes a file in the scratch directory and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    /// The audit file's records.
    pub fn records(&self) -> Vec<Value> {
        read_records(&self.results_path())
    }

    /// The plans `onboard CSV --dry-run --json` prints; the dry run must exit 0.
    pub fn dry_run_plans(&self, csv: &Path) -> Vec<Value> {
        let dry = self
            .onboard()
            .arg(csv)
            .args(["--dry-run", "--json"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&dry.stderr);
        assert_eq!(dry.status.code(), Some(0), "{stderr}");
        serde_json::from_slice(&dry.stdout).unwrap()
    }

    /// The record for one email.
    pub fn record(&self, email: &str) -> Value {
        self.records()
            .into_iter()
            .find(|r| r["email"] == email)
            .unwrap_or_else(|| panic!("no record for {email}"))
    }

    /// `POST path` on the emulator with `key` (the master key, or a person's own): the
    /// status and the JSON answer.
    pub fn post(&self, key: &str, path: &str, body: Value) -> (u16, Value) {
        let url = format!("{}{path}", self.emulator.url());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let answer = reqwest::Client::new()
                .post(url)
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .expect("emulator answers");
            let status = answer.status().as_u16();
            (status, answer.json().await.unwrap_or(Value::Null))
        })
    }

    /// Opens a link the way the onboarding page does: `GET /onboarding/get_token`.
    pub fn link_opens(&self, link: &str) -> bool {
        let url = url::Url::parse(link).expect("link is a URL");
        assert_eq!(url.path(), "/ui/onboarding", "link path: {link}");
        let id = url
            .query_pairs()
            .find(|(k, _)| k == "invitation_id")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no invitation_id in {link}"));
        let status = http_status(&format!(
            "{}/onboarding/get_token?invite_link={id}",
            self.emulator.url()
        ));
        status == 200
    }
}

/// What `onboard --version` must print when built from this checkout: the version, and the
/// commit when the checkout is a git work tree.
pub fn expected_version() -> String {
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR"));
    let version = env!("CARGO_PKG_VERSION");
    if !checkout.join(".git").exists() {
        return format!("onboard {version}\n");
    }
    let output = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(checkout)
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git rev-parse: {output:?}");
    let commit = String::from_utf8(output.stdout).expect("hex");
    format!("onboard {version} (commit {})\n", commit.trim())
}

/// Reads an audit file.
pub fn read_records(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("audit file is a JSON array")
}

/// A plain HTTP/1.1 GET on loopback, returning the status (cheap enough for thousands of links).
pub fn http_status(url: &str) -> u16 {
    use std::io::{Read, Write};
    let url = url::Url::parse(url).expect("URL");
    let addr = format!(
        "{}:{}",
        url.host_str().expect("host"),
        url.port().expect("port")
    );
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).expect("status line");
    std::str::from_utf8(&head[9..12])
        .expect("status")
        .parse()
        .expect("status code")
}
