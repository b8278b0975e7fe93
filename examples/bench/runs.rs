//! One measured run: a fresh emulator process (empty state), the script or `onboard` over a
//! CSV, the emulator's counters, and a check that exit was 0 and N users and invitations made.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;

use crate::procs::{self, Emulator, Paths, Stats, Usage};

/// The emulator's seeded "Dev-Test" team.
pub const TEAM_ID: &str = "f6dbea80-21b4-4f7b-a669-3d6adcc6e8d1";
/// Shared by every run.
pub struct Ctx {
    /// Binaries and script.
    pub paths: Paths,
    /// Scratch directory (CSV files, audit files, stderr of each run).
    pub dir: PathBuf,
    /// When the benchmark started (for progress lines).
    pub started: std::time::Instant,
}

/// Who does the onboarding in a run.
#[derive(Clone, Copy)]
pub enum Client<'a> {
    /// The guide's Python script.
    Script,
    /// `onboard` with these extra arguments.
    Onboard(&'a [&'a str]),
}

/// One measured run.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Row label.
    pub label: String,
    /// People in the CSV.
    pub n: usize,
    /// The onboarding process (script or `onboard`).
    pub client: Usage,
    /// The emulator process.
    pub emulator: Usage,
    /// The emulator's counters at the end.
    pub stats: Stats,
    /// Time-averaged requests inside the emulator (sampled), when sampled.
    pub mean_in_flight: Option<f64>,
    /// `onboard`'s own run time (its summary line, without start-up and pre-flight).
    pub run_secs: Option<f64>,
    /// What went wrong, if anything (non-zero exit, missing invitations).
    pub problem: Option<String>,
}

impl Measured {
    /// People per second of wall-clock time (process start to exit).
    pub fn rate(&self) -> f64 {
        self.n as f64 / self.client.wall.as_secs_f64().max(1e-9)
    }

    /// Seconds of wall-clock time.
    pub fn secs(&self) -> f64 {
        self.client.wall.as_secs_f64()
    }
}

/// `k` team ids: Dev-Test, then ids for teams the bench creates.
pub fn team_ids(k: usize) -> Vec<String> {
    (0..k.max(1))
        .map(|i| match i {
            0 => TEAM_ID.to_string(),
            i => format!("00000000-0000-4000-8000-{i:012}"),
        })
        .collect()
}

/// Writes `n` people (`bench-<i>@example.com`, round-robin over `teams`) to a CSV.
pub fn write_csv(dir: &Path, n: usize, teams: &[String]) -> Result<PathBuf> {
    let path = dir.join(format!("people-{n}-{}.csv", teams.len()));
    if path.exists() {
        return Ok(path);
    }
    let mut out = BufWriter::new(std::fs::File::create(&path)?);
    writeln!(out, "user_email,team_id")?;
    for i in 0..n {
        writeln!(out, "bench-{i:06}@example.com,{}", teams[i % teams.len()])?;
    }
    out.flush()?;
    Ok(path)
}

/// The seconds in `onboard`'s summary line ("onboard: … in 4.2 s").
fn summary_secs(stderr: &str) -> Option<f64> {
    let line = stderr.lines().rev().find(|l| l.starts_with("onboard: "))?;
    let tail = line.rsplit_once(" in ")?.1;
    tail.trim().strip_suffix('s')?.trim().parse().ok()
}

/// Polls the emulator's in-flight gauge every `every` until `stop`, returning its mean.
fn sample_in_flight(emu: &Emulator, every: Duration, stop: &AtomicBool) -> Option<f64> {
    let (mut sum, mut count) = (0u64, 0u64);
    while !stop.load(Ordering::Relaxed) {
        if let Ok(s) = emu.stats() {
            sum += s.in_flight;
            count += 1;
        }
        std::thread::sleep(every);
    }
    (count > 0).then(|| sum as f64 / count as f64)
}

/// What one run does.
#[derive(Clone, Copy)]
pub struct Spec<'a> {
    /// Row label.
    pub label: &'a str,
    /// Emulator flags.
    pub emu_args: &'a [String],
    /// The people.
    pub csv: &'a Path,
    /// How many.
    pub n: usize,
    /// Who onboards them.
    pub client: Client<'a>,
    /// Poll the emulator's in-flight gauge this often.
    pub sample: Option<Duration>,
    /// Teams to create before the run (the seeded Dev-Test is skipped).
    pub teams: &'a [String],
    /// Create every person's user (in the team) through the control API first, so the run
    /// only makes invitations: the invitation-bound ceiling.
    pub precreate: bool,
}

impl<'a> Spec<'a> {
    /// This spec with another label and client.
    pub fn with<'b>(&self, label: &'b str, client: Client<'b>) -> Spec<'b>
    where
        'a: 'b,
    {
        Spec {
            label,
            client,
            ..*self
        }
    }
}

/// One run: a fresh emulator, the client over the CSV, then the counters.
pub fn one_run(ctx: &Ctx, spec: &Spec<'_>) -> Result<Measured> {
    let Spec {
        label,
        emu_args,
        csv,
        n,
        client,
        sample,
        teams,
        precreate,
    } = *spec;
    eprintln!(
        "bench: [{:>6.1} s] {label} (N = {n}) …",
        ctx.started.elapsed().as_secs_f64()
    );
    let mut emu = Emulator::start(&ctx.paths, emu_args)?;
    for (i, team) in teams.iter().enumerate().filter(|(_, t)| *t != TEAM_ID) {
        emu.add_team(team, &format!("bench-team-{i}"))?;
    }
    if precreate {
        for line in std::fs::read_to_string(csv)?.lines().skip(1) {
            let (email, team) = line.split_once(',').unwrap_or((line, TEAM_ID));
            emu.add_user(email, team)?;
        }
    }
    let tag = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>();
    let stop = AtomicBool::new(false);
    let (outcome, mean_in_flight) = std::thread::scope(|scope| {
        let (emu, stop) = (&emu, &stop);
        let sampler = sample.map(|every| scope.spawn(move || sample_in_flight(emu, every, stop)));
        let outcome = match client {
            Client::Script => procs::run_script(&ctx.paths, &emu.url, csv, &ctx.dir.join(&tag))
                .map(|u| (u, String::new())),
            Client::Onboard(extra) => {
                procs::run_onboard(&ctx.paths, &emu.url, csv, &ctx.dir, &tag, extra)
            }
        };
        stop.store(true, Ordering::Relaxed);
        let mean = sampler.and_then(|h| h.join().ok().flatten());
        (outcome, mean)
    });
    let (usage, stderr) = outcome?;
    emu.ensure_alive()?;
    let stats = emu.stats()?;
    let emulator = emu.stop()?;
    let mut problems = Vec::new();
    if usage.code != Some(0) {
        problems.push(format!("exit status {:?}", usage.code));
    }
    let users = if precreate { 0 } else { n as u64 };
    if stats.invitations_created != n as u64 || stats.users_created != users {
        problems.push(format!(
            "{} users and {} invitations for {n} people",
            stats.users_created, stats.invitations_created
        ));
    }
    let problem = (!problems.is_empty()).then(|| {
        let last = stderr.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
        format!("{} [{last}]", problems.join(", "))
    });
    if let Some(p) = &problem {
        eprintln!("bench: WARNING {label}: {p}");
    }
    Ok(Measured {
        label: label.to_string(),
        n,
        client: usage,
        emulator,
        stats,
        mean_in_flight,
        run_secs: summary_secs(&stderr),
        problem,
    })
}
