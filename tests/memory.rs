//! Bounded memory on any input: the process runs under a cap on its address space, and its
//! peak resident set is reported.
#![cfg(target_os = "linux")]

mod common;

use std::os::unix::process::CommandExt;
use std::process::Stdio;

use common::{DEV_TEST, Env};

/// The cap on the address space of `onboard` (threads' stacks and allocator arenas included).
const ADDRESS_SPACE: u64 = 2 << 30;

/// Runs `onboard ARGS` under the cap; its exit code and peak resident set in MiB.
fn run_capped(env: &Env, args: &[&str]) -> (i32, u64) {
    let mut command = env.process(args);
    command.stdout(Stdio::null()).stderr(Stdio::null());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: ADDRESS_SPACE,
                rlim_max: ADDRESS_SPACE,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    reap(command.spawn().unwrap())
}

/// Waits for `child` with `wait4`: its exit code (minus the signal that ended it) and peak
/// resident set in MiB.
fn reap(child: std::process::Child) -> (i32, u64) {
    let pid = i32::try_from(child.id()).unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value to be filled in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::wait4(pid, &mut status, 0, &mut usage) }, pid);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    (code, usage.ru_maxrss as u64 / 1024)
}

#[test]
fn a_csv_of_64_mib_of_blank_lines_is_read_in_bounded_memory() {
    let env = Env::default_proxy();
    let mut text = format!("user_email,team_id\na@company.com,{DEV_TEST}\n").into_bytes();
    text.resize(64 * 1024 * 1024 - 1, b'\n');
    let csv = env.dir.path().join("blank.csv");
    std::fs::write(&csv, &text).unwrap();
    let (code, peak) = run_capped(&env, &[csv.to_str().unwrap(), "--dry-run"]);
    println!("peak RSS, a 64 MiB CSV of blank lines: {peak} MiB");
    assert_eq!(
        code,
        0,
        "ran under a {} GiB address space",
        ADDRESS_SPACE >> 30
    );
    assert!(peak < 512, "peak RSS {peak} MiB");
}
