//! Regime 5 (issue 18): a populated proxy. Users made in bulk share `created_at`; the proxy
//! must be read exactly and at the job's cost. Measured here:
//! - reads: onboarding `n` new people into a proxy of `users` users (reads before the first
//!   write), a `--prune` re-run of them (reads in all: the rosters are read per team), then
//!   offboarding them (reads in all);
//! - the capacity emulator: onboarding `n` new people into `users` users vs an empty proxy, and
//!   offboarding `m` people with `bulk_delete` vs one `/user/delete` each;
//! - the real proxy's regime (one worker, ~2,000 users): the guide's script, the default and
//!   fixed concurrencies.

use std::path::Path;

use anyhow::{Result, bail};

use crate::procs::{self, Emulator, Stats};
use crate::runs::{Ctx, TEAM_ID, write_csv};

/// Sizes of regime 5.
pub struct PopulatedSizes {
    /// Users on the populated proxy.
    pub users: usize,
    /// New people onboarded into it.
    pub n: usize,
    /// People offboarded in the delete comparison.
    pub m: usize,
    /// Users on the modelled real proxy.
    pub real_users: usize,
}

/// One timed `onboard` (or script) process.
pub struct Timed {
    /// Seconds, process start to exit.
    pub secs: f64,
    /// Its exit code.
    pub code: Option<i32>,
}

/// What regime 5 measured.
pub struct PopulatedResults {
    /// The sizes.
    pub sizes: PopulatedSizes,
    /// Emulator flags of the capacity runs.
    pub capacity_flags: String,
    /// Reads before the first write, onboarding `n` new into `users`.
    pub reads_before_write: u64,
    /// Reads in all, a `--prune` re-run of the same people (nothing to do).
    pub prune_reads: u64,
    /// Reads in all, offboarding them.
    pub offboard_reads: u64,
    /// Capacity mode: onboarding `n` new into an empty proxy, and into `users`.
    pub into_empty: Timed,
    /// See `into_empty`.
    pub into_full: Timed,
    /// Capacity mode: offboarding `m` with `bulk_delete`, and with one delete each.
    pub offboard_bulk: Timed,
    /// See `offboard_bulk`.
    pub offboard_each: Timed,
    /// Real-proxy regime: the script (when it can run), the default, fixed concurrencies.
    pub real_script: Option<Timed>,
    /// See `real_script`.
    pub real_default: Timed,
    /// See `real_script`.
    pub real_sweep: Vec<(u32, Timed)>,
}

/// The modelled real proxy: one worker at the recorded costs.
const REAL_FLAGS: [&str; 4] = ["--capacity", "1", "--service-scale", "1"];
/// Fixed concurrencies tried on it.
const REAL_SWEEP: [u32; 4] = [1, 2, 4, 8];

fn onboard(ctx: &Ctx, emu: &Emulator, tag: &str, args: &[&str]) -> Result<Timed> {
    let results = ctx.dir.join(format!("{tag}.json"));
    run(ctx, emu, tag, &results, args)
}

fn run(ctx: &Ctx, emu: &Emulator, tag: &str, results: &Path, args: &[&str]) -> Result<Timed> {
    eprintln!(
        "bench: [{:>6.1} s] populated: {tag} …",
        ctx.started.elapsed().as_secs_f64()
    );
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    let stderr = ctx.dir.join(format!("{tag}.stderr"));
    let (usage, said) = procs::run_onboard_args(&ctx.paths, &emu.url, results, &stderr, &args)?;
    if usage.code != Some(0) {
        let last = said.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
        eprintln!(
            "bench: WARNING populated {tag}: exit {:?} [{last}]",
            usage.code
        );
    }
    Ok(Timed {
        secs: usage.wall.as_secs_f64(),
        code: usage.code,
    })
}

/// The team the proxy's other users are in (the people onboarded go to Dev-Test): the proxy's
/// size, not the size of the team onboarded into.
const OTHERS: &str = "00000000-0000-4000-8000-0000000000aa";

fn emulator(ctx: &Ctx, flags: &[String], users: usize) -> Result<Emulator> {
    let emu = Emulator::start(&ctx.paths, flags)?;
    emu.add_team(OTHERS, "bench-others")?;
    emu.populate(users, OTHERS)?;
    Ok(emu)
}

fn reads(before: &Stats, after: &Stats) -> u64 {
    (after.total_requests - after.write_requests) - (before.total_requests - before.write_requests)
}

/// Runs regime 5 (`capacity_flags`: the capacity emulator of regimes 2 and 4).
pub fn populated(
    ctx: &Ctx,
    sizes: PopulatedSizes,
    capacity_flags: Vec<String>,
) -> Result<PopulatedResults> {
    let csv = write_csv(&ctx.dir, sizes.n, &[TEAM_ID.to_string()])?;
    let csv_arg = csv.to_str().expect("a UTF-8 scratch path");

    // Reads, on an emulator without service times.
    let emu = emulator(ctx, &[], sizes.users)?;
    onboard(ctx, &emu, "reads-onboard", &[csv_arg])?;
    let onboarded = emu.stats()?;
    let results = ctx.dir.join("reads-onboard.json");
    run(
        ctx,
        &emu,
        "reads-prune",
        &results,
        &[csv_arg, "--prune", "-q"],
    )?;
    let pruned = emu.stats()?;
    if pruned.write_requests != onboarded.write_requests {
        bail!("populated: a --prune re-run of the same people wrote to the proxy");
    }
    let prune_reads = reads(&onboarded, &pruned);
    let onboarded = pruned;
    run(
        ctx,
        &emu,
        "reads-offboard",
        &results,
        &["offboard", csv_arg, "--yes"],
    )?;
    let offboarded = emu.stats()?;
    if offboarded.users_created != sizes.n as u64 {
        bail!(
            "populated: {} users made for {} people",
            offboarded.users_created,
            sizes.n
        );
    }
    let reads_before_write = onboarded.reads_before_first_write;
    let offboard_reads = reads(&onboarded, &offboarded);
    drop(emu);

    // Capacity mode: the cost of a populated proxy, and of deleting one user at a time.
    let empty = emulator(ctx, &capacity_flags, 0)?;
    let into_empty = onboard(ctx, &empty, "capacity-into-empty", &[csv_arg])?;
    drop(empty);
    let full = emulator(ctx, &capacity_flags, sizes.users)?;
    let into_full = onboard(ctx, &full, "capacity-into-full", &[csv_arg])?;
    drop(full);
    let leavers = write_csv(&ctx.dir, sizes.m, &[TEAM_ID.to_string()])?;
    let leavers_arg = leavers.to_str().expect("a UTF-8 scratch path");
    let mut deletes = Vec::new();
    for (tag, bulk) in [("offboard-bulk", "auto"), ("offboard-each", "never")] {
        let emu = emulator(ctx, &capacity_flags, sizes.users)?;
        let results = ctx.dir.join(format!("{tag}.json"));
        run(
            ctx,
            &emu,
            &format!("{tag}-onboard"),
            &results,
            &[leavers_arg, "-q"],
        )?;
        let args = ["offboard", leavers_arg, "--yes", "-q", "--bulk", bulk];
        deletes.push(run(ctx, &emu, tag, &results, &args)?);
    }
    let offboard_each = deletes.pop().expect("two runs");
    let offboard_bulk = deletes.pop().expect("two runs");

    // The real proxy's regime.
    let real_flags: Vec<String> = REAL_FLAGS.iter().map(|s| s.to_string()).collect();
    let real_script = match procs::script_unavailable() {
        Some(why) => {
            eprintln!("bench: populated: the guide's script is skipped: {why}");
            None
        }
        None => {
            let emu = emulator(ctx, &real_flags, sizes.real_users)?;
            eprintln!(
                "bench: [{:>6.1} s] populated: real-script …",
                ctx.started.elapsed().as_secs_f64()
            );
            let usage =
                procs::run_script(&ctx.paths, &emu.url, &csv, &ctx.dir.join("real-script"))?;
            Some(Timed {
                secs: usage.wall.as_secs_f64(),
                code: usage.code,
            })
        }
    };
    let emu = emulator(ctx, &real_flags, sizes.real_users)?;
    let real_default = onboard(ctx, &emu, "real-default", &[csv_arg])?;
    drop(emu);
    let mut real_sweep = Vec::new();
    for c in REAL_SWEEP {
        let emu = emulator(ctx, &real_flags, sizes.real_users)?;
        let flag = c.to_string();
        let tag = format!("real-concurrency-{c}");
        real_sweep.push((
            c,
            onboard(ctx, &emu, &tag, &[csv_arg, "--concurrency", &flag])?,
        ));
    }
    Ok(PopulatedResults {
        sizes,
        capacity_flags: capacity_flags.join(" "),
        reads_before_write,
        prune_reads,
        offboard_reads,
        into_empty,
        into_full,
        offboard_bulk,
        offboard_each,
        real_script,
        real_default,
        real_sweep,
    })
}

fn verdict(ok: bool, valid: bool) -> &'static str {
    match (valid, ok) {
        (false, _) => "INVALID RUN",
        (true, true) => "met",
        (true, false) => "MISSED",
    }
}

/// Prints regime 5 and its targets.
pub fn report(r: &PopulatedResults) {
    let s = &r.sizes;
    let ok = |t: &Timed| t.code == Some(0);
    println!(
        "\n5. Populated proxy ({} users made in bulk in another team, so the default order ties): {} new people, {} leavers",
        s.users, s.n, s.m
    );
    println!(
        "   reads before the first write, onboarding {} new: {}",
        s.n, r.reads_before_write
    );
    println!(
        "   reads in all, a --prune re-run of them: {}",
        r.prune_reads
    );
    println!("   reads in all, offboarding them: {}", r.offboard_reads);
    println!("   capacity emulator ({}):", r.capacity_flags);
    println!(
        "     onboarding {} new: {:.2} s into an empty proxy, {:.2} s into {} users ({:.2}×)",
        s.n,
        r.into_empty.secs,
        r.into_full.secs,
        s.users,
        r.into_full.secs / r.into_empty.secs
    );
    println!(
        "     offboarding {}: {:.2} s with bulk_delete, {:.2} s with one /user/delete each ({:.2}× faster)",
        s.m,
        r.offboard_bulk.secs,
        r.offboard_each.secs,
        r.offboard_each.secs / r.offboard_bulk.secs
    );
    println!(
        "   modelled real proxy ({}; {} users): {} new people",
        REAL_FLAGS.join(" "),
        s.real_users,
        s.n
    );
    if let Some(script) = &r.real_script {
        println!(
            "     guide's script: {:.2} s ({:.1} people/s)",
            script.secs,
            s.n as f64 / script.secs
        );
    }
    println!(
        "     onboard default: {:.2} s ({:.1} people/s)",
        r.real_default.secs,
        s.n as f64 / r.real_default.secs
    );
    for (c, t) in &r.real_sweep {
        println!(
            "     --concurrency {c:<2}: {:.2} s ({:.1} people/s)",
            t.secs,
            s.n as f64 / t.secs
        );
    }
    let best = r
        .real_sweep
        .iter()
        .map(|(_, t)| t.secs)
        .fold(f64::INFINITY, f64::min);
    println!("\nTargets (issue 18):");
    println!("   {:<66} {:>12}  result", "target", "measured");
    let row = |target: &str, measured: String, verdict: &str| {
        println!("   {target:<66} {measured:>12}  {verdict}");
    };
    row(
        &format!(
            "onboarding {} new into {} users: <= 10 reads before the first write",
            s.n, s.users
        ),
        r.reads_before_write.to_string(),
        verdict(r.reads_before_write <= 10, true),
    );
    row(
        "a --prune re-run of them: <= 10 reads (rosters per team)",
        r.prune_reads.to_string(),
        verdict(r.prune_reads <= 10, true),
    );
    row(
        &format!("offboarding them: <= {} reads", s.n + 10),
        r.offboard_reads.to_string(),
        verdict(r.offboard_reads <= s.n as u64 + 10, true),
    );
    let slowdown = r.into_full.secs / r.into_empty.secs;
    row(
        &format!(
            "capacity: onboarding into {} users <= 1.25x an empty proxy",
            s.users
        ),
        format!("{slowdown:.2}x"),
        verdict(slowdown <= 1.25, ok(&r.into_empty) && ok(&r.into_full)),
    );
    let speedup = r.offboard_each.secs / r.offboard_bulk.secs;
    row(
        &format!(
            "capacity: offboarding {} with bulk_delete >= 4x one delete each",
            s.m
        ),
        format!("{speedup:.2}x"),
        verdict(speedup >= 4.0, ok(&r.offboard_bulk) && ok(&r.offboard_each)),
    );
    if let Some(script) = &r.real_script {
        let ratio = script.secs / r.real_default.secs;
        row(
            "modelled real proxy: default >= 6x the guide's script",
            format!("{ratio:.2}x"),
            verdict(ratio >= 6.0, ok(script) && ok(&r.real_default)),
        );
    }
    let share = best / r.real_default.secs;
    row(
        "modelled real proxy: default >= 0.9 of the best fixed --concurrency",
        format!("{share:.2}"),
        verdict(share >= 0.9, ok(&r.real_default)),
    );
}
