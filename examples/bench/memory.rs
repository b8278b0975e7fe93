//! `--only memory`: the peak resident set of `onboard` (the kernel's, from `wait4`) where
//! memory could grow with the input: a dry run reading a 64 MiB CSV of blank lines, an export
//! of 100,000 users, and a `--send-email` run of 10,000 people against a local SMTP sink.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::TcpListener;

use anyhow::Result;
use mailin_embedded::{Handler, Server};

use crate::procs::{self, Emulator, Usage};
use crate::runs::{Ctx, TEAM_ID, write_csv};

/// The target for a run's peak resident set when nothing it reads is held whole.
pub const TARGET_MIB: f64 = 64.0;
/// The target of the dry run over a 64 MiB CSV: the file is read whole (it is capped at
/// 64 MiB, and every row becomes a person the run holds anyway), so the file plus 16 MiB.
pub const CSV_TARGET_MIB: f64 = 64.0 + 16.0;

/// One measured run.
pub struct Peak {
    /// What ran.
    pub what: &'static str,
    /// Its usage (peak resident set, exit code).
    pub usage: Usage,
    /// Its target, in MiB.
    pub target_mib: f64,
}

/// An SMTP server that accepts every message and keeps none.
#[derive(Clone)]
struct Sink;

impl Handler for Sink {}

/// Starts the sink on a free loopback port (it lives as long as the bench).
fn sink() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let mut server = Server::new(Sink);
    server
        .with_name("bench.sink")
        .with_num_threads(4)
        .with_tcp_listener(listener);
    std::thread::spawn(move || {
        if let Err(e) = server.serve() {
            eprintln!("bench: the SMTP sink stopped: {e}");
        }
    });
    Ok(port)
}

fn run(
    ctx: &Ctx,
    emu: &Emulator,
    what: &'static str,
    target_mib: f64,
    args: &[&str],
) -> Result<Peak> {
    eprintln!(
        "bench: [{:>6.1} s] memory: {what} …",
        ctx.started.elapsed().as_secs_f64()
    );
    let tag = what.split_whitespace().next().unwrap_or("run");
    let results = ctx.dir.join(format!("memory-{tag}.json"));
    let stderr = ctx.dir.join(format!("memory-{tag}.stderr"));
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    let (usage, said) = procs::run_onboard_args(&ctx.paths, &emu.url, &results, &stderr, &args)?;
    if usage.code != Some(0) {
        let last = said.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
        eprintln!(
            "bench: WARNING memory {what}: exit {:?} [{last}]",
            usage.code
        );
    }
    Ok(Peak {
        what,
        usage,
        target_mib,
    })
}

/// Runs the three measurements, each on a fresh emulator.
pub fn memory(ctx: &Ctx) -> Result<Vec<Peak>> {
    let mut peaks = Vec::new();

    // Written a piece at a time: a child's peak counts what this process held when it forked.
    let blank = ctx.dir.join("blank-64mib.csv");
    let mut out = BufWriter::new(File::create(&blank)?);
    let head = format!("user_email,team_id\na@company.com,{TEAM_ID}\n");
    out.write_all(head.as_bytes())?;
    // Just under the 64 MiB `onboard` reads at most.
    let mut left = 64 * 1024 * 1024 - 1 - head.len();
    let lines = [b'\n'; 64 * 1024];
    while left > 0 {
        let n = left.min(lines.len());
        out.write_all(&lines[..n])?;
        left -= n;
    }
    out.flush()?;
    let emu = Emulator::start(&ctx.paths, &[])?;
    let blank = blank.to_str().expect("a UTF-8 scratch path");
    peaks.push(run(
        ctx,
        &emu,
        "dry run, 64 MiB CSV of blank lines",
        CSV_TARGET_MIB,
        &[blank, "--dry-run"],
    )?);
    emu.stop()?;

    let emu = Emulator::start(&ctx.paths, &[])?;
    emu.populate(100_000, TEAM_ID)?;
    let out = ctx.dir.join("export-100k.csv");
    let out = out.to_str().expect("a UTF-8 scratch path");
    peaks.push(run(
        ctx,
        &emu,
        "export of 100,000 users",
        TARGET_MIB,
        &["export", "-o", out],
    )?);
    emu.stop()?;

    let port = sink()?.to_string();
    let emu = Emulator::start(&ctx.paths, &[])?;
    let csv = write_csv(&ctx.dir, 10_000, &[TEAM_ID.to_string()])?;
    let csv = csv.to_str().expect("a UTF-8 scratch path");
    let mail = [
        csv,
        "--send-email",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        &port,
        "--smtp-from",
        "IT <it@company.com>",
        "--smtp-tls",
        "none",
    ];
    peaks.push(run(
        ctx,
        &emu,
        "--send-email, 10,000 people",
        TARGET_MIB,
        &mail,
    )?);
    emu.stop()?;
    Ok(peaks)
}

/// Prints each run's peak and whether it is within its target.
pub fn report(peaks: &[Peak]) {
    println!("\n## Memory: peak resident set\n");
    println!("| run | peak RSS | exit | target |");
    println!("|---|---|---|---|");
    for peak in peaks {
        let mib = peak.usage.max_rss_kib as f64 / 1024.0;
        let verdict = match (peak.usage.code, mib <= peak.target_mib) {
            (Some(0), true) => "met",
            (Some(0), false) => "MISSED",
            _ => "INVALID RUN",
        };
        println!(
            "| {} | {mib:.1} MiB | {:?} | ≤ {} MiB: {verdict} |",
            peak.what, peak.usage.code, peak.target_mib
        );
    }
}
