//! Printing: one table per regime, then the targets of issue 8 with what was measured.

use crate::runs::Measured;
use crate::scenarios::{BulkResults, LatencyResults, ProxyResults, ScaleResults};

/// Peak RSS target (64 MB, at 100,000 people), in MiB.
const RSS_TARGET_MIB: f64 = 64e6 / 1_048_576.0;
/// Zero-latency throughput target, people/s.
const RATE_TARGET: f64 = 5_000.0;

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.digits$}"))
}

fn flag(m: &Measured) -> &'static str {
    if m.problem.is_some() { " (!)" } else { "" }
}

/// Requests the emulator saw per person: (all, writes).
fn per_person(m: &Measured) -> (f64, f64) {
    let n = m.n.max(1) as f64;
    (
        m.stats.total_requests as f64 / n,
        m.stats.write_requests as f64 / n,
    )
}

fn problems<'a>(runs: impl IntoIterator<Item = &'a Measured>) {
    for m in runs {
        if let Some(p) = &m.problem {
            println!("  (!) {}: {p}", m.label);
        }
    }
}

/// The latency bound, seconds: every person needs two round trips of `latency_ms`.
pub fn latency_bound_secs(n: usize, latency_ms: u64, in_flight: f64) -> f64 {
    n as f64 * 2.0 * latency_ms as f64 / 1000.0 / in_flight.max(1.0)
}

/// Regime 1.
pub fn latency(r: &LatencyResults) {
    println!(
        "\n1. Latency-bound: N = {} people, emulator --latency-ms {} (fresh emulator per run)",
        r.n, r.latency_ms
    );
    println!(
        "   {:<26} {:>8} {:>7} {:>9} {:>8} {:>10} {:>9} {:>10} {:>8} {:>7} {:>8}",
        "run",
        "wall s",
        "run s",
        "people/s",
        "×script",
        "in flight",
        "bound s",
        "efficiency",
        "req/pers",
        "writes",
        "CPU s"
    );
    let script_rate = r.script.as_ref().ok().map(Measured::rate);
    let mut rows: Vec<(&Measured, f64, String)> = Vec::new();
    if let Ok(s) = &r.script {
        rows.push((s, 1.0, "1".into()));
    }
    let peak = r.default.stats.peak_in_flight as f64;
    rows.push((&r.default, peak, format!("≤64 pk {peak:.0}")));
    rows.push((&r.c32, 32.0, "32".into()));
    for (m, in_flight, shown) in &rows {
        let bound = latency_bound_secs(m.n, r.latency_ms, *in_flight);
        let (all, writes) = per_person(m);
        println!(
            "   {:<26} {:>8.2} {:>7} {:>9.1} {:>8} {:>10} {:>9.2} {:>9.1}% {:>8.3} {:>7.3} {:>8.2}",
            format!("{}{}", m.label, flag(m)),
            m.secs(),
            opt(m.run_secs, 2),
            m.rate(),
            script_rate.map_or("-".into(), |s| format!("{:.1}×", m.rate() / s)),
            shown,
            bound,
            100.0 * bound / m.secs(),
            all,
            writes,
            m.client.cpu().as_secs_f64(),
        );
    }
    if let Err(why) = &r.script {
        println!("   guide script: skipped — {why}");
    }
    println!(
        "   in flight: the limit (the default's ceiling is 64; \"pk\" = peak requests the emulator saw at once);"
    );
    println!(
        "   bound = N × 2 × {} ms / in flight; efficiency = bound / wall; run s = onboard's own timer (after start-up and pre-flight).",
        r.latency_ms
    );
    for m in std::iter::once(&r.default).chain([&r.c32]) {
        println!(
            "   {}: mean in flight {} (peak {}); emulator per route {:?}",
            m.label,
            opt(m.mean_in_flight, 1),
            m.stats.peak_in_flight,
            m.stats.per_route
        );
    }
    let one = &r.one;
    let rtt_ms = one.run_secs.unwrap_or_else(|| one.secs()) * 1000.0 / (2.0 * one.n as f64);
    let practical = r.c32.n as f64 * 2.0 * rtt_ms / 1000.0 / 32.0;
    println!(
        "   measured round trip ({}, {} people, onboard's own timer): {rtt_ms:.2} ms per request for {} ms added;",
        one.label, one.n, r.latency_ms
    );
    println!(
        "   with it the bound at 32 in flight is {practical:.2} s: --concurrency 32 reaches {:.1} % of it (wall), {} % (own timer)",
        100.0 * practical / r.c32.secs(),
        opt(r.c32.run_secs.map(|s| 100.0 * practical / s), 1)
    );
    let at64 = latency_bound_secs(r.default.n, r.latency_ms, 64.0);
    println!(
        "   default vs its ceiling: bound at 64 in flight {:.2} s → efficiency {:.1} %",
        at64,
        100.0 * at64 / r.default.secs()
    );
    problems(r.script.iter().chain([&r.default, &r.c32, &r.one]));
}

/// Regime 2.
pub fn proxy(r: &ProxyResults) {
    println!(
        "\n2. Proxy-bound: N = {} people per run, emulator {} (fresh emulator per run)",
        r.n, r.emulator_flags
    );
    println!(
        "   {:<14} {:>8} {:>9} {:>8} {:>15} {:>11} {:>9} {:>9}",
        "concurrency",
        "wall s",
        "people/s",
        "of best",
        "in flight mean",
        "peak (srv)",
        "req/pers",
        "429/503"
    );
    let best = r.best().1.rate();
    let rows = r
        .sweep
        .iter()
        .map(|(c, m)| (c.to_string(), m))
        .chain([("default".to_string(), &r.default)]);
    for (name, m) in rows {
        let overloaded = m.stats.per_status.get("429").copied().unwrap_or(0)
            + m.stats.per_status.get("503").copied().unwrap_or(0);
        println!(
            "   {:<14} {:>8.2} {:>9.1} {:>7.1}% {:>15} {:>5} ({:>3}) {:>9.3} {:>9}",
            format!("{name}{}", flag(m)),
            m.secs(),
            m.rate(),
            100.0 * m.rate() / best,
            opt(m.mean_in_flight, 2),
            m.stats.peak_in_flight,
            m.stats.peak_served,
            per_person(m).0,
            overloaded
        );
    }
    let (c, _) = r.best();
    println!(
        "   best fixed: --concurrency {c} at {best:.1} people/s; default (adaptive) reaches {:.1} % of it",
        100.0 * r.default.rate() / best
    );
    problems(r.sweep.iter().map(|(_, m)| m).chain([&r.default]));
}

/// Regime 3.
pub fn scale(r: &ScaleResults) {
    let n = r.default.n;
    println!(
        "\n3. Scale: N = {n} people over {} team(s), no added latency (fresh emulator per run)",
        r.teams
    );
    println!(
        "   {:<24} {:>8} {:>7} {:>9} {:>12} {:>8} {:>9} {:>9} {:>10} {:>9} {:>7}",
        "run",
        "wall s",
        "run s",
        "people/s",
        "in flight",
        "CPU s",
        "µs/pers",
        "RSS MiB",
        "emu CPU s",
        "req/pers",
        "writes"
    );
    for m in [&r.default, &r.c64, &r.per_person] {
        let (all, writes) = per_person(m);
        println!(
            "   {:<24} {:>8.2} {:>7} {:>9.0} {:>12} {:>8.2} {:>9.1} {:>9.1} {:>10.2} {:>9.3} {:>7.3}",
            format!("{}{}", m.label, flag(m)),
            m.secs(),
            opt(m.run_secs, 2),
            m.rate(),
            format!("{} pk {}", opt(m.mean_in_flight, 1), m.stats.peak_in_flight),
            m.client.cpu().as_secs_f64(),
            m.client.cpu().as_secs_f64() * 1e6 / m.n.max(1) as f64,
            m.client.max_rss_kib as f64 / 1024.0,
            m.emulator.cpu().as_secs_f64(),
            all,
            writes
        );
    }
    println!(
        "   CPU s = user + sys of the onboard process (wait4); RSS = its peak (ru_maxrss); in flight = requests inside the emulator (mean of 100 ms samples, peak)."
    );
    for m in [&r.default, &r.c64, &r.per_person] {
        println!(
            "   {}: onboard user {:.2} s + sys {:.2} s; emulator user {:.2} s + sys {:.2} s, peak RSS {:.1} MiB",
            m.label,
            m.client.user.as_secs_f64(),
            m.client.sys.as_secs_f64(),
            m.emulator.user.as_secs_f64(),
            m.emulator.sys.as_secs_f64(),
            m.emulator.max_rss_kib as f64 / 1024.0
        );
    }
    problems([&r.default, &r.c64]);
    println!(
        "   then, over the default run's audit file on the same emulator (as cron runs them):"
    );
    for again in &r.again {
        println!(
            "   {:<24} {:>8.2} s  CPU {:>6.2} s  peak RSS {:>7.1} MiB  exit {:?}",
            again.label,
            again.usage.wall.as_secs_f64(),
            again.usage.cpu().as_secs_f64(),
            again.usage.max_rss_kib as f64 / 1024.0,
            again.usage.code
        );
    }
}

fn verdict(ok: Option<bool>, valid: bool) -> &'static str {
    match (ok, valid) {
        (None, _) => "n/a",
        (Some(_), false) => "INVALID RUN",
        (Some(true), true) => "met",
        (Some(false), true) => "MISSED",
    }
}

/// The targets of issue 8 (for the regimes that ran).
pub fn targets(
    lat: Option<&LatencyResults>,
    proxy: Option<&ProxyResults>,
    scale: Option<&ScaleResults>,
    cores: usize,
) {
    println!("\nTargets (issue 8), {cores} core(s):");
    println!("   {:<58} {:>16}  result", "target", "measured");
    if let Some(lat) = lat {
        latency_targets(lat);
    }
    if let Some(proxy) = proxy {
        let (c, best) = proxy.best();
        let frac = proxy.default.rate() / best.rate();
        row(
            format!(
                "proxy-bound (N={}): default ≥ 90 % of best fixed (c={c})",
                proxy.n
            ),
            format!("{:.1} %", 100.0 * frac),
            Some(frac >= 0.90),
            valid(&[&proxy.default, best]),
        );
    }
    if let Some(scale) = scale {
        scale_targets(&scale.default, &scale.per_person);
    }
}

fn row(name: String, value: String, ok: Option<bool>, valid: bool) {
    println!("   {name:<58} {value:>16}  {}", verdict(ok, valid));
}

fn valid(ms: &[&Measured]) -> bool {
    ms.iter().all(|m| m.problem.is_none())
}

fn latency_targets(lat: &LatencyResults) {
    match &lat.script {
        Ok(script) => {
            let x32 = lat.c32.rate() / script.rate();
            row(
                format!("latency-bound (N={}): -c 32 ≥ 25× the script", lat.n),
                format!("{x32:.1}×"),
                Some(x32 >= 25.0),
                valid(&[script, &lat.c32]),
            );
            let xd = lat.default.rate() / script.rate();
            row(
                format!("latency-bound (N={}): default ≥ 20× the script", lat.n),
                format!("{xd:.1}×"),
                Some(xd >= 20.0),
                valid(&[script, &lat.default]),
            );
        }
        Err(_) => row(
            "latency-bound: ≥ 25× / ≥ 20× the script".into(),
            "script skipped".into(),
            None,
            true,
        ),
    }
    let bound = latency_bound_secs(lat.n, lat.latency_ms, 32.0);
    let eff = bound / lat.c32.secs();
    row(
        format!("latency-bound (N={}): -c 32 ≥ 85 % of the bound", lat.n),
        format!("{:.1} %", 100.0 * eff),
        Some(eff >= 0.85),
        valid(&[&lat.c32]),
    );
}

fn scale_targets(scale: &Measured, per_person: &Measured) {
    row(
        format!("zero latency (N={}): ≥ 5,000 people/s", scale.n),
        format!("{:.0}/s", scale.rate()),
        Some(scale.rate() >= RATE_TARGET),
        valid(&[scale]),
    );
    for m in [scale, per_person] {
        let mib = m.client.max_rss_kib as f64 / 1024.0;
        row(
            format!("peak RSS ≤ 64 MB, {} (N={})", m.label, m.n),
            format!("{mib:.1} MiB"),
            Some(mib <= RSS_TARGET_MIB),
            valid(&[m]),
        );
    }
}

/// Regime 4: bulk creates.
pub fn bulk(r: &BulkResults) {
    println!(
        "\n4. Bulk creates: N = {} people per run, emulator {} (fresh emulator per run)",
        r.n, r.emulator_flags
    );
    println!(
        "   {:<28} {:>8} {:>9} {:>10} {:>11} {:>9} {:>10} {:>9}",
        "run", "wall s", "people/s", "× script", "of ceiling", "req/pers", "bulk reqs", "user/new"
    );
    let script_rate = r.script.as_ref().ok().map(Measured::rate);
    let ceiling = r.ceiling.rate();
    let rows = r.script.iter().map(|m| ("guide script", m)).chain([
        ("onboard --bulk never", &r.never),
        ("onboard (default, bulk)", &r.default),
        ("invitations only (ceiling)", &r.ceiling),
    ]);
    for (name, m) in rows {
        println!(
            "   {:<28} {:>8.2} {:>9.1} {:>10} {:>10.1}% {:>9.3} {:>10} {:>9}",
            format!("{name}{}", flag(m)),
            m.secs(),
            m.rate(),
            opt(script_rate.map(|s| m.rate() / s), 1),
            100.0 * m.rate() / ceiling,
            per_person(m).0,
            m.stats.count("/management/v1/users/bulk"),
            m.stats.count("/user/new"),
        );
    }
    if let Err(why) = &r.script {
        println!("   guide script skipped: {why}");
    }
    println!(
        "   invitation-bound ceiling: measured {ceiling:.1} people/s (users made beforehand); the capacity model allows at most {:.0} /invitation/new per second",
        r.model_ceiling
    );
    problems(r.script.iter().chain([&r.never, &r.default, &r.ceiling]));
}

/// Regime 4's targets.
pub fn bulk_targets(r: &BulkResults) {
    let d = &r.default;
    if let Ok(script) = &r.script {
        let x = d.rate() / script.rate();
        row(
            format!("bulk (N={}): default ≥ 5× the guide's script", r.n),
            format!("{x:.1}×"),
            Some(x >= 5.0),
            valid(&[d, script]),
        );
    }
    let frac = d.rate() / r.ceiling.rate();
    row(
        format!("bulk (N={}): default ≥ 80 % of the invitation ceiling", r.n),
        format!("{:.1} %", 100.0 * frac),
        Some(frac >= 0.80),
        valid(&[d, &r.ceiling]),
    );
    let writes = d.stats.write_requests as f64 / r.n as f64;
    row(
        format!("bulk (N={}): writes per new person ≤ 1.05", r.n),
        format!("{writes:.3}"),
        Some(writes <= 1.05),
        valid(&[d]),
    );
}
