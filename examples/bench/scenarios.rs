//! The three regimes of the benchmark: latency-bound, proxy-bound and scale.

use std::time::Duration;

use anyhow::Result;

use crate::procs;
use crate::runs::{Client, Ctx, Measured, Spec, one_run, team_ids, write_csv};

/// The fixed concurrencies of the proxy-bound sweep.
pub const SWEEP: [u32; 6] = [1, 2, 4, 8, 16, 32];

/// Sizes and knobs of one benchmark run.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// People in the latency-bound runs.
    pub latency_n: usize,
    /// Added latency per request in the latency-bound runs.
    pub latency_ms: u64,
    /// People in each proxy-bound run.
    pub proxy_n: usize,
    /// `--capacity` of the proxy-bound emulator.
    pub capacity: usize,
    /// `--service-scale` of the proxy-bound emulator.
    pub service_scale: f64,
    /// People in the scale run.
    pub scale_n: usize,
    /// Teams the scale run's people are spread over (1 = all in Dev-Test).
    pub scale_teams: usize,
    /// People in the bulk runs (proxy-bound emulator).
    pub bulk_n: usize,
}

impl Sizes {
    /// The full benchmark (issue 8's sizes).
    pub fn full() -> Sizes {
        Sizes {
            latency_n: 2_000,
            latency_ms: 20,
            proxy_n: 600,
            capacity: 4,
            service_scale: 0.5,
            scale_n: 100_000,
            scale_teams: 1,
            bulk_n: 2_000,
        }
    }

    /// A fast check of the same regimes.
    pub fn quick() -> Sizes {
        Sizes {
            latency_n: 300,
            proxy_n: 200,
            scale_n: 10_000,
            bulk_n: 1_000,
            ..Sizes::full()
        }
    }
}

/// Regime 1: the guide's script vs `onboard` (default, `--concurrency 32`), 20 ms a request.
pub struct LatencyResults {
    /// The sizes used.
    pub n: usize,
    /// Added latency.
    pub latency_ms: u64,
    /// The script, or why it was skipped.
    pub script: Result<Measured, String>,
    /// `onboard` with default settings.
    pub default: Measured,
    /// `onboard --concurrency 32`.
    pub c32: Measured,
    /// `onboard --concurrency 1` over a few people: the real round trip per request.
    pub one: Measured,
}

/// People in the one-in-flight calibration run.
const CALIBRATION_N: usize = 100;

/// How often the in-flight gauge is polled in the small runs.
const SAMPLE: Option<Duration> = Some(Duration::from_millis(10));

/// Runs regime 1.
pub fn latency_bound(ctx: &Ctx, sizes: &Sizes) -> Result<LatencyResults> {
    let n = sizes.latency_n;
    let teams = team_ids(1);
    let csv = write_csv(&ctx.dir, n, &teams)?;
    let args = vec!["--latency-ms".to_string(), sizes.latency_ms.to_string()];
    let spec = Spec {
        label: "",
        emu_args: &args,
        csv: &csv,
        n,
        client: Client::Script,
        sample: SAMPLE,
        teams: &[],
        precreate: false,
    };
    let script = match procs::script_unavailable() {
        Some(why) => {
            eprintln!("bench: skipping the guide's script: {why}");
            Err(why)
        }
        None => Ok(one_run(ctx, &spec.with("guide script", Client::Script))?),
    };
    let default = one_run(ctx, &spec.with("onboard (default)", Client::Onboard(&[])))?;
    let c32 = one_run(
        ctx,
        &spec.with(
            "onboard --concurrency 32",
            Client::Onboard(&["--concurrency", "32"]),
        ),
    )?;
    let one_n = CALIBRATION_N.min(n);
    let one_csv = write_csv(&ctx.dir, one_n, &teams)?;
    let one = one_run(
        ctx,
        &Spec {
            csv: &one_csv,
            n: one_n,
            ..spec.with(
                "onboard --concurrency 1",
                Client::Onboard(&["--concurrency", "1"]),
            )
        },
    )?;
    Ok(LatencyResults {
        n,
        latency_ms: sizes.latency_ms,
        script,
        default,
        c32,
        one,
    })
}

/// Regime 2: a capacity-limited emulator, fixed concurrencies vs the adaptive default.
pub struct ProxyResults {
    /// People per run.
    pub n: usize,
    /// Emulator flags, for the header.
    pub emulator_flags: String,
    /// `(concurrency, run)` for each fixed concurrency.
    pub sweep: Vec<(u32, Measured)>,
    /// The adaptive default.
    pub default: Measured,
}

impl ProxyResults {
    /// The fastest fixed-concurrency run.
    pub fn best(&self) -> &(u32, Measured) {
        self.sweep
            .iter()
            .max_by(|a, b| a.1.rate().total_cmp(&b.1.rate()))
            .expect("non-empty sweep")
    }
}

/// The flags of the capacity-limited emulator (regimes 2 and 4).
pub fn capacity_args(sizes: &Sizes) -> Vec<String> {
    vec![
        "--capacity".to_string(),
        sizes.capacity.to_string(),
        "--service-scale".to_string(),
        sizes.service_scale.to_string(),
    ]
}

/// Runs regime 2.
pub fn proxy_bound(ctx: &Ctx, sizes: &Sizes) -> Result<ProxyResults> {
    let n = sizes.proxy_n;
    let csv = write_csv(&ctx.dir, n, &team_ids(1))?;
    let args = capacity_args(sizes);
    let spec = Spec {
        label: "",
        emu_args: &args,
        csv: &csv,
        n,
        client: Client::Script,
        sample: SAMPLE,
        teams: &[],
        precreate: false,
    };
    let mut sweep = Vec::new();
    for c in SWEEP {
        let flag = c.to_string();
        let extra = ["--concurrency", flag.as_str()];
        let label = format!("capacity-{} --concurrency {c}", sizes.capacity);
        sweep.push((
            c,
            one_run(ctx, &spec.with(&label, Client::Onboard(&extra)))?,
        ));
    }
    let label = format!("capacity-{} default", sizes.capacity);
    let default = one_run(ctx, &spec.with(&label, Client::Onboard(&[])))?;
    Ok(ProxyResults {
        n,
        emulator_flags: args.join(" "),
        sweep,
        default,
    })
}

/// One command run again over a scale run's audit file, on the same emulator.
pub struct Again {
    /// What was run.
    pub label: &'static str,
    /// How it ran.
    pub usage: procs::Usage,
}

/// What cron runs after a large onboarding, over its audit file and on the same proxy: the
/// CSV again (everyone already invited), `refresh` (every invitation checked, none due) and
/// `status --check`.
const AGAIN: [(&str, &[&str]); 3] = [
    ("re-run of the CSV", &[]),
    ("refresh", &["refresh"]),
    ("status --check", &["status", "--check"]),
];

/// Regime 3: the default, `--concurrency 64` for reference (no limiter in the way), and the
/// per-person path (`--bulk never`).
pub struct ScaleResults {
    /// Teams the people were spread over.
    pub teams: usize,
    /// `onboard` defaults.
    pub default: Measured,
    /// `onboard --concurrency 64`.
    pub c64: Measured,
    /// `onboard --bulk never`.
    pub per_person: Measured,
    /// The cron commands after a default run.
    pub again: Vec<Again>,
}

/// Runs regime 3: many people, no added latency.
pub fn scale(ctx: &Ctx, sizes: &Sizes) -> Result<ScaleResults> {
    let n = sizes.scale_n;
    let teams = team_ids(sizes.scale_teams);
    let csv = write_csv(&ctx.dir, n, &teams)?;
    // Polling /_emulator/stats costs the emulator a scan of its email index: poll slowly.
    let spec = Spec {
        label: "",
        emu_args: &[],
        csv: &csv,
        n,
        client: Client::Script,
        sample: Some(Duration::from_millis(100)),
        teams: &teams,
        precreate: false,
    };
    let default = one_run(ctx, &spec.with("scale (default)", Client::Onboard(&[])))?;
    let c64 = one_run(
        ctx,
        &spec.with(
            "scale --concurrency 64",
            Client::Onboard(&["--concurrency", "64"]),
        ),
    )?;
    let per_person = one_run(
        ctx,
        &spec.with("scale --bulk never", Client::Onboard(&["--bulk", "never"])),
    )?;
    let again = scale_again(ctx, &csv, n)?;
    Ok(ScaleResults {
        teams: teams.len(),
        default,
        c64,
        per_person,
        again,
    })
}

/// Onboards the CSV, then runs each of [`AGAIN`] over its audit file on the same emulator.
fn scale_again(ctx: &Ctx, csv: &std::path::Path, n: usize) -> Result<Vec<Again>> {
    eprintln!(
        "bench: [{:>6.1} s] scale, then re-run, refresh and status --check (N = {n}) …",
        ctx.started.elapsed().as_secs_f64()
    );
    let mut emu = procs::Emulator::start(&ctx.paths, &[])?;
    let results = ctx.dir.join("again.json");
    let stderr = ctx.dir.join("again.stderr");
    let first = [csv.as_os_str()];
    let (usage, said) = procs::run_onboard_args(&ctx.paths, &emu.url, &results, &stderr, &first)?;
    anyhow::ensure!(usage.code == Some(0), "the first run failed: {said}");
    let mut again = Vec::new();
    for (label, args) in AGAIN {
        let mut argv: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
        if args.is_empty() {
            argv.push(csv.as_os_str());
        }
        let (usage, said) =
            procs::run_onboard_args(&ctx.paths, &emu.url, &results, &stderr, &argv)?;
        if usage.code != Some(0) {
            eprintln!("bench: WARNING {label}: exit {:?}: {said}", usage.code);
        }
        again.push(Again { label, usage });
    }
    emu.ensure_alive()?;
    emu.stop()?;
    Ok(again)
}

/// Regime 4: creating users in bulk on the capacity-limited emulator, side by side with the
/// guide's script, `--bulk never`, and an invitation-only run (the invitation-bound ceiling).
pub struct BulkResults {
    /// People per run.
    pub n: usize,
    /// Emulator flags, for the header.
    pub emulator_flags: String,
    /// The guide's script, or why it was skipped.
    pub script: Result<Measured, String>,
    /// `onboard --bulk never`.
    pub never: Measured,
    /// `onboard` (default: bulk).
    pub default: Measured,
    /// `onboard` on users created beforehand: invitations only.
    pub ceiling: Measured,
    /// The ceiling the emulator's capacity model gives for `/invitation/new` alone.
    pub model_ceiling: f64,
}

/// The capacity model's `/invitation/new` service time (other POST, ms), emulator/README.md.
const INVITE_SERVICE_MS: f64 = 9.0;

/// Runs regime 4.
pub fn bulk(ctx: &Ctx, sizes: &Sizes) -> Result<BulkResults> {
    let n = sizes.bulk_n;
    let csv = write_csv(&ctx.dir, n, &team_ids(1))?;
    let args = capacity_args(sizes);
    let spec = Spec {
        label: "",
        emu_args: &args,
        csv: &csv,
        n,
        client: Client::Script,
        sample: SAMPLE,
        teams: &[],
        precreate: false,
    };
    let script = match procs::script_unavailable() {
        Some(why) => Err(why),
        None => Ok(one_run(
            ctx,
            &spec.with("bulk: guide script", Client::Script),
        )?),
    };
    let never = one_run(
        ctx,
        &spec.with(
            "bulk: onboard --bulk never",
            Client::Onboard(&["--bulk", "never"]),
        ),
    )?;
    let default = one_run(
        ctx,
        &spec.with("bulk: onboard (default)", Client::Onboard(&[])),
    )?;
    let ceiling = one_run(
        ctx,
        &Spec {
            precreate: true,
            ..spec.with("bulk: invitations only", Client::Onboard(&[]))
        },
    )?;
    let model_ceiling = sizes.capacity as f64 * 1000.0 / (INVITE_SERVICE_MS * sizes.service_scale);
    Ok(BulkResults {
        n,
        emulator_flags: args.join(" "),
        script,
        never,
        default,
        ceiling,
        model_ceiling,
    })
}
