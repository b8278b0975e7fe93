//! Benchmark of `onboard` against the guide's Python script, on the LiteLLM emulator (issue 8).
//!
//! ```text
//! cargo run --release --example bench             # full: 2,000 / 600 per point / 100,000 people
//! cargo run --release --example bench -- --quick  # smaller N, a fast check
//! ```
//!
//! It first runs `cargo build --release --workspace --bins` (skip with `--no-build`), then
//! drives `target/release/onboard` and `target/release/litellm-emulator` as child processes,
//! a fresh emulator for every run, and prints:
//!
//! 1. Latency-bound (`--latency-ms 20`): the guide's script (`examples/bench/
//!    guide_onboard_users.py`, needs python3 + `requests`; skipped with a hint otherwise) vs
//!    `onboard` (default, and `--concurrency 32`): people/s, ratio to the script, the latency
//!    bound N × 2 × 20 ms / in-flight and the efficiency against it, requests per person.
//! 2. Proxy-bound (`--capacity 4`): fixed concurrency 1…32 vs the adaptive default.
//! 3. Scale (no added latency): people/s, CPU time per person and peak RSS of `onboard`
//!    (from `wait4`).
//! 4. Bulk creates (`--capacity 4`): the guide's script, `onboard --bulk never` and the
//!    default (bulk) side by side, against an invitation-only run (the invitation-bound
//!    ceiling: users made beforehand).
//! 5. Populated proxy (issue 18): reads counted on a proxy of 10,000 users made in bulk, the
//!    capacity emulator populated vs empty and `bulk_delete` vs one delete each, and the real
//!    proxy's regime (one worker, 2,000 users) against the script and fixed concurrencies.
//! 6. Memory (`--only memory`): peak RSS of a dry run over a 64 MiB CSV of blank lines, an
//!    export of 100,000 users and a `--send-email` run of 10,000 people (a local SMTP sink).
//!
//! Then a table of issue 8's targets with what was measured. Figures depend on the machine:
//! the emulator, `onboard` and the script share its cores (the count is printed).

#[path = "bench/memory.rs"]
mod memory;
#[path = "bench/populated.rs"]
mod populated;
#[path = "bench/procs.rs"]
mod procs;
#[path = "bench/report.rs"]
mod report;
#[path = "bench/runs.rs"]
mod runs;
#[path = "bench/scenarios.rs"]
mod scenarios;

use anyhow::{Result, bail};

use crate::procs::Paths;
use crate::runs::Ctx;
use crate::scenarios::Sizes;

const USAGE: &str = "\
usage: cargo run --release --example bench -- [--quick] [--no-build] [--only R] [--scale-teams K]
  --quick          smaller N (300 / 200 per point / 10,000) for a fast check
  --only R         run one regime: latency, proxy, scale, bulk, populated or memory (repeatable)
  --no-build       do not run `cargo build --release --workspace --bins` first
  --scale-teams K  spread the scale run's people over K teams (default 1: all in Dev-Test)";

struct Options {
    quick: bool,
    build: bool,
    scale_teams: Option<usize>,
    only: Vec<String>,
}

impl Options {
    fn runs(&self, regime: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|r| r == regime)
    }
}

fn options() -> Result<Options> {
    let mut opts = Options {
        quick: false,
        build: true,
        scale_teams: None,
        only: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--scale-teams" => {
                let k = args.next().and_then(|v| v.parse().ok()).filter(|k| *k > 0);
                let Some(k) = k else {
                    bail!("--scale-teams needs a positive number\n{USAGE}");
                };
                opts.scale_teams = Some(k);
            }
            "--only" => match args.next() {
                Some(r)
                    if ["latency", "proxy", "scale", "bulk", "populated", "memory"]
                        .contains(&r.as_str()) =>
                {
                    opts.only.push(r)
                }
                _ => {
                    bail!("--only needs latency, proxy, scale, bulk, populated or memory\n{USAGE}")
                }
            },
            "--quick" => opts.quick = true,
            "--no-build" => opts.build = false,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    Ok(opts)
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_string())
}

fn main() -> Result<()> {
    let opts = options()?;
    let paths = Paths::locate()?;
    if opts.build {
        paths.build()?;
    } else if !paths.onboard.exists() || !paths.emulator.exists() {
        bail!(
            "{} or {} is missing: run `cargo build --release --workspace --bins`",
            paths.onboard.display(),
            paths.emulator.display()
        );
    }
    let mut sizes = if opts.quick {
        Sizes::quick()
    } else {
        Sizes::full()
    };
    if let Some(k) = opts.scale_teams {
        sizes.scale_teams = k;
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let scratch = tempfile::Builder::new().prefix("bench-").tempdir()?;
    let ctx = Ctx {
        paths: paths.private_copies(scratch.path())?,
        dir: scratch.path().to_path_buf(),
        started: std::time::Instant::now(),
    };

    println!(
        "onboard benchmark{}: {cores} core(s) available{}; onboard, the emulator and the script share them",
        if opts.quick { " (--quick)" } else { "" },
        cpu_model().map_or(String::new(), |m| format!(" ({m})"))
    );
    println!(
        "binaries: {} and {}, run as copies in the scratch dir {}",
        paths.onboard.display(),
        paths.emulator.display(),
        ctx.dir.display()
    );

    let outcome = run(&ctx, &sizes, &opts, cores);
    if outcome.is_err() {
        let kept = scratch.keep();
        eprintln!(
            "bench: kept the scratch dir {} (stderr of every run)",
            kept.display()
        );
    }
    outcome
}

fn run(ctx: &Ctx, sizes: &Sizes, opts: &Options, cores: usize) -> Result<()> {
    let latency = match opts.runs("latency") {
        true => Some(scenarios::latency_bound(ctx, sizes)?),
        false => None,
    };
    latency.iter().for_each(report::latency);
    let proxy = match opts.runs("proxy") {
        true => Some(scenarios::proxy_bound(ctx, sizes)?),
        false => None,
    };
    proxy.iter().for_each(report::proxy);
    let scale = match opts.runs("scale") {
        true => Some(scenarios::scale(ctx, sizes)?),
        false => None,
    };
    scale.iter().for_each(report::scale);
    let bulk = match opts.runs("bulk") {
        true => Some(scenarios::bulk(ctx, sizes)?),
        false => None,
    };
    bulk.iter().for_each(report::bulk);
    report::targets(latency.as_ref(), proxy.as_ref(), scale.as_ref(), cores);
    bulk.iter().for_each(report::bulk_targets);
    if opts.runs("populated") {
        let flags = scenarios::capacity_args(sizes);
        let sizes = populated::PopulatedSizes {
            users: 10_000,
            n: 300,
            m: 1_000,
            real_users: 2_000,
        };
        populated::report(&populated::populated(ctx, sizes, flags)?);
    }
    if opts.runs("memory") {
        memory::report(&memory::memory(ctx)?);
    }
    Ok(())
}
