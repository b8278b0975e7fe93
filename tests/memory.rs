//! Bounded memory on any input: the process runs under a cap on its address space, and its
//! peak resident set is reported.
#![cfg(target_os = "linux")]

mod common;

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::Mutex;

use common::{DEV_TEST, Env};

/// One test at a time: another test's emulator or buffer would be in the memory a child
/// shares with this process before exec.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The cap on the address space of `onboard` (threads' stacks and allocator arenas included).
const ADDRESS_SPACE: u64 = 2 << 30;

/// `onboard ARGS` under the cap, forked now and waiting (in `sh`) to exec until
/// [`Gated::run`]. The peak the kernel reports for a child counts what it shared with its
/// parent before exec: forked before the test fills the emulator (or a large buffer), it is
/// `onboard`'s own.
fn gated(env: &Env, args: &[&str]) -> Gated {
    let onboard = env.process(args);
    let mut command = std::process::Command::new("/bin/sh");
    command
        .arg("-c")
        .arg("read go && exec \"$0\" \"$@\"")
        .arg(onboard.get_program())
        .args(onboard.get_args())
        .current_dir(onboard.get_current_dir().unwrap())
        .env_clear()
        .envs(onboard.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
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
    Gated(command.spawn().unwrap())
}

/// A forked `onboard` waiting to run.
struct Gated(std::process::Child);

impl Gated {
    /// Lets it run; its exit code and peak resident set in MiB.
    fn run(mut self) -> (i32, u64) {
        let mut stdin = self.0.stdin.take().unwrap();
        stdin.write_all(b"go\n").unwrap();
        drop(stdin);
        reap(self.0)
    }
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
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let env = Env::default_proxy();
    let csv = env.dir.path().join("blank.csv");
    let onboard = gated(&env, &[csv.to_str().unwrap(), "--dry-run"]);
    let mut text = format!("user_email,team_id\na@company.com,{DEV_TEST}\n").into_bytes();
    text.resize(64 * 1024 * 1024 - 1, b'\n');
    std::fs::write(&csv, &text).unwrap();
    drop(text);
    let (code, peak) = onboard.run();
    println!("peak RSS, a 64 MiB CSV of blank lines: {peak} MiB");
    assert_eq!(
        code,
        0,
        "ran under a {} GiB address space",
        ADDRESS_SPACE >> 30
    );
    assert!(peak < 512, "peak RSS {peak} MiB");
}

#[test]
fn an_export_does_not_hold_the_users() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let env = Env::default_proxy();
    let out = env.dir.path().join("users.csv");
    let onboard = gated(&env, &["export", "-o", out.to_str().unwrap()]);
    // 10,000 users with 8 KiB emails: 80 MiB of rows, which an export holding them would keep.
    let long = "x".repeat(8192);
    let emails: Vec<String> = (0..10_000)
        .map(|i| format!("{long}{i}@company.com"))
        .collect();
    env.emulator.add_users_at_once(&emails, &[DEV_TEST]);
    let written = ["b@company.com".to_string(), "a@company.com".to_string()];
    env.emulator.add_users_at_once(&written, &[DEV_TEST]);
    let (code, peak) = onboard.run();
    println!("peak RSS, exporting 10,000 users of 8 KiB: {peak} MiB");
    assert_eq!(code, 0);
    let text = std::fs::read_to_string(&out).unwrap();
    let emails: Vec<&str> = text.lines().skip(1).map(|l| &l[..13]).collect();
    assert_eq!(emails, ["a@company.com", "b@company.com"]);
    assert!(peak < 48, "peak RSS {peak} MiB");
}
