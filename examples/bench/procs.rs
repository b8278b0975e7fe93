//! Child processes of the benchmark: the emulator, `onboard` and the guide's script, each
//! reaped with `wait4` so its CPU time and peak RSS come from the kernel.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

/// The master key every emulator of the benchmark uses.
pub const MASTER_KEY: &str = "sk-bench-1234";

/// Environment variables of `onboard` that would change what a run does.
const ONBOARD_ENV: [&str; 3] = [
    "LITELLM_PROXY_URL",
    "LITELLM_MASTER_KEY",
    "LITELLM_PROXY_API_KEY",
];

/// Where the binaries and the script are.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The workspace root (where `cargo build` runs).
    pub root: PathBuf,
    /// `target/release/onboard`.
    pub onboard: PathBuf,
    /// `target/release/litellm-emulator`.
    pub emulator: PathBuf,
    /// `examples/bench/guide_onboard_users.py`.
    pub script: PathBuf,
}

impl Paths {
    /// The binaries next to this example's own release directory (`target/release`).
    pub fn locate() -> Result<Paths> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let exe = std::env::current_exe().context("cannot locate the bench executable")?;
        // target/<profile>/examples/bench → target/<profile>
        let bin_dir = exe
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| root.join("target/release"));
        Ok(Paths {
            onboard: bin_dir.join("onboard"),
            emulator: bin_dir.join("litellm-emulator"),
            script: root.join("examples/bench/guide_onboard_users.py"),
            root,
        })
    }

    /// Runs copies of the binaries from `dir` under neutral names, so that another session's
    /// `pkill -f litellm-emulator` (or `… onboard`) cannot stop a measurement half-way.
    pub fn private_copies(&self, dir: &Path) -> Result<Paths> {
        let copy = |from: &Path, name: &str| -> Result<PathBuf> {
            let to = dir.join(name);
            std::fs::copy(from, &to)
                .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
            Ok(to)
        };
        Ok(Paths {
            onboard: copy(&self.onboard, "client")?,
            emulator: copy(&self.emulator, "proxy-emu")?,
            ..self.clone()
        })
    }

    /// `cargo build --release --workspace --bins`, so both binaries match the sources.
    pub fn build(&self) -> Result<()> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        eprintln!("bench: cargo build --release --workspace --bins");
        let status = Command::new(cargo)
            .args(["build", "--release", "--workspace", "--bins"])
            .current_dir(&self.root)
            .status()
            .context("cannot run cargo")?;
        if !status.success() {
            bail!("cargo build --release --workspace --bins failed ({status})");
        }
        for bin in [&self.onboard, &self.emulator] {
            if !bin.exists() {
                bail!("{} is missing after the build", bin.display());
            }
        }
        Ok(())
    }
}

/// What the kernel says a finished child used.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// From spawn to exit.
    pub wall: Duration,
    /// User CPU time.
    pub user: Duration,
    /// System CPU time.
    pub sys: Duration,
    /// Peak resident set size, in KiB.
    pub max_rss_kib: u64,
    /// Exit code (None when killed by a signal).
    pub code: Option<i32>,
}

impl Usage {
    /// User + system CPU time.
    pub fn cpu(&self) -> Duration {
        self.user + self.sys
    }
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
}

/// Reaps `child` with `wait4` and returns its resource usage.
pub fn wait_usage(child: Child, started: Instant) -> Result<Usage> {
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our own unreaped child; status and ru point to live locals.
        let got = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if got == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(anyhow!("wait4({pid}): {err}"));
        }
    }
    let wall = started.elapsed();
    drop(child); // already reaped: dropping only closes our ends of its pipes
    Ok(Usage {
        wall,
        user: timeval(ru.ru_utime),
        sys: timeval(ru.ru_stime),
        max_rss_kib: ru.ru_maxrss.max(0) as u64,
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
    })
}

/// The emulator's `/_emulator/stats` (the fields the benchmark reads).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Stats {
    /// All API requests.
    pub total_requests: u64,
    /// POST requests.
    pub write_requests: u64,
    /// Requests per route.
    pub per_route: std::collections::BTreeMap<String, u64>,
    /// Responses per status.
    pub per_status: std::collections::BTreeMap<String, u64>,
    /// Most requests inside the emulator at once (queued + served).
    pub peak_in_flight: u64,
    /// Most requests being served at once.
    pub peak_served: u64,
    /// Requests inside the emulator now.
    pub in_flight: u64,
    /// Users created.
    pub users_created: u64,
    /// Invitations created.
    pub invitations_created: u64,
    /// Reads (non-POST requests) before the first write.
    #[serde(default)]
    pub reads_before_first_write: u64,
}

impl Stats {
    /// Requests received for `route`.
    pub fn count(&self, route: &str) -> u64 {
        self.per_route.get(route).copied().unwrap_or(0)
    }
}

/// One emulator process; stopped (SIGTERM) on [`Emulator::stop`] or drop.
pub struct Emulator {
    child: Option<Child>,
    _stdout: BufReader<ChildStdout>,
    started: Instant,
    /// Its base URL.
    pub url: String,
    addr: String,
}

impl Emulator {
    /// Starts `litellm-emulator --port 0 <args>` and waits for its "listening" line.
    pub fn start(paths: &Paths, args: &[String]) -> Result<Emulator> {
        let started = Instant::now();
        let mut child = Command::new(&paths.emulator)
            .args(["--port", "0", "--master-key", MASTER_KEY])
            .args(args)
            .env_remove("LITELLM_MASTER_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {}", paths.emulator.display()))?;
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let read = stdout.read_line(&mut line);
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .map(|u| u.trim_end_matches('/').to_string());
        let Some(url) = url.filter(|_| read.is_ok()) else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the emulator did not say where it listens (got {line:?})");
        };
        let addr = url.trim_start_matches("http://").to_string();
        Ok(Emulator {
            child: Some(child),
            _stdout: stdout,
            started,
            url,
            addr,
        })
    }

    /// `GET /_emulator/stats`.
    pub fn stats(&self) -> Result<Stats> {
        let body = http(&self.addr, "GET", "/_emulator/stats", "")?;
        serde_json::from_str(&body).context("cannot parse /_emulator/stats")
    }

    /// Fails if the emulator process has exited (crashed, or killed from outside).
    pub fn ensure_alive(&mut self) -> Result<()> {
        let child = self.child.as_mut().expect("running");
        if let Some(status) = child.try_wait()? {
            self.child = None;
            bail!(
                "the emulator ({}) exited during the run: {status}",
                self.url
            );
        }
        Ok(())
    }

    /// Creates a user (in `team`) through the control route `POST /_emulator/users`.
    pub fn add_user(&self, email: &str, team: &str) -> Result<()> {
        let body = serde_json::json!({ "user_email": email, "teams": [team] }).to_string();
        http(&self.addr, "POST", "/_emulator/users", &body).map(drop)
    }

    /// Makes `users` users in `team` as bulk requests of 1,000 would (they share a
    /// `created_at`), through the control route `POST /_emulator/users_at_once`.
    pub fn populate(&self, users: usize, team: &str) -> Result<()> {
        for (k, start) in (0..users).step_by(1_000).enumerate() {
            let count = (users - start).min(1_000);
            let body = serde_json::json!({ "count": count, "prefix": format!("pop{k}-"), "teams": [team] });
            http(
                &self.addr,
                "POST",
                "/_emulator/users_at_once",
                &body.to_string(),
            )?;
        }
        Ok(())
    }

    /// Creates a team through the control route `POST /_emulator/teams`.
    pub fn add_team(&self, team_id: &str, alias: &str) -> Result<()> {
        let body = serde_json::json!({ "team_id": team_id, "team_alias": alias }).to_string();
        http(&self.addr, "POST", "/_emulator/teams", &body).map(drop)
    }

    /// Stops the emulator and returns what it used.
    pub fn stop(mut self) -> Result<Usage> {
        let child = self.child.take().expect("running");
        // SAFETY: signalling our own child, which is not reaped yet.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        wait_usage(child, self.started)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A minimal HTTP/1.1 request to a control route on loopback (`Connection: close`).
pub fn http(addr: &str, method: &str, path: &str, body: &str) -> Result<String> {
    let mut stream = TcpStream::connect(addr).with_context(|| format!("connect {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw)?;
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("{method} {path}: malformed response"))?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!(
            "{method} {path}: {}",
            head.lines().next().unwrap_or_default()
        );
    }
    Ok(body.to_string())
}

/// Runs `onboard <csv> --results <dir>/<tag>.json <extra>` against `url`; stdout is
/// discarded (a line per person), stderr goes to `<dir>/<tag>.stderr`.
pub fn run_onboard(
    paths: &Paths,
    url: &str,
    csv: &Path,
    dir: &Path,
    tag: &str,
    extra: &[&str],
) -> Result<(Usage, String)> {
    let results = dir.join(format!("{tag}.json"));
    let mut args = vec![csv.as_os_str()];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    run_onboard_args(
        paths,
        url,
        &results,
        &dir.join(format!("{tag}.stderr")),
        &args,
    )
}

/// Runs `onboard ARGS --results RESULTS` against the emulator at `url`, its stderr to
/// `stderr_path`: how it ran, and what it said.
pub fn run_onboard_args(
    paths: &Paths,
    url: &str,
    results: &Path,
    stderr_path: &Path,
    args: &[&std::ffi::OsStr],
) -> Result<(Usage, String)> {
    let stderr = File::create(stderr_path)?;
    let mut command = Command::new(&paths.onboard);
    for var in ONBOARD_ENV {
        command.env_remove(var);
    }
    let started = Instant::now();
    let child = command
        .args(args)
        .arg("--results")
        .arg(results)
        .env("LITELLM_PROXY_URL", url)
        .env("LITELLM_MASTER_KEY", MASTER_KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .with_context(|| format!("cannot start {}", paths.onboard.display()))?;
    let usage = wait_usage(child, started)?;
    let said = std::fs::read_to_string(stderr_path).unwrap_or_default();
    Ok((usage, said))
}

/// Why the guide's script cannot run here, if it cannot.
pub fn script_unavailable() -> Option<String> {
    let probe = Command::new("python3")
        .args(["-c", "import requests"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match probe {
        Err(_) => Some("python3 not found: install Python 3, then `pip install requests`".into()),
        Ok(s) if !s.success() => Some(
            "the Python package `requests` is missing: install it with `pip install requests`"
                .into(),
        ),
        Ok(_) => None,
    }
}

/// Runs the guide's script against `url` in `dir` (it writes `onboarding_results.json`
/// into its working directory); its output is discarded.
pub fn run_script(paths: &Paths, url: &str, csv: &Path, dir: &Path) -> Result<Usage> {
    std::fs::create_dir_all(dir)?;
    let started = Instant::now();
    let child = Command::new("python3")
        .arg(&paths.script)
        .current_dir(dir)
        .env("PROXY_URL", url)
        .env("MASTER_KEY", MASTER_KEY)
        .env("CSV_FILE", csv)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start python3")?;
    wait_usage(child, started)
}
