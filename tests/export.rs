//! `onboard export`: only what reads back is written, formulas are neutralised and read back,
//! `--json` gives JSON lines, and a stop while the users are read says so.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{DEV_TEST, Env};
use predicates::prelude::*;

#[test]
fn an_export_with_odd_users_reads_back_and_says_what_it_left_out() {
    let env = Env::default_proxy();
    env.emulator.add_user("not an email", &[DEV_TEST]);
    env.emulator.add_user("=cmd|calc@company.com", &[DEV_TEST]);
    env.emulator.add_user("ok@company.com", &[DEV_TEST]);
    let exported = env.dir.path().join("export.csv");
    env.onboard()
        .args(["export", "-o", exported.to_str().unwrap()])
        .assert()
        .code(0)
        .stderr(predicate::str::contains(
            "1 user left out: onboard would refuse their row (user_email: 1)",
        ));
    let text = std::fs::read_to_string(&exported).unwrap();
    assert!(text.contains("\n'=cmd|calc@company.com,"), "{text}");
    assert!(!text.contains("not an email"), "{text}");
    let plans = env.dry_run_plans(&exported);
    let emails: Vec<&str> = plans.iter().map(|p| p["email"].as_str().unwrap()).collect();
    assert!(emails.contains(&"=cmd|calc@company.com"), "{emails:?}");
    assert_eq!(plans.len(), 2);
}

#[test]
fn export_json_prints_json_lines() {
    let env = Env::default_proxy();
    env.emulator.add_user("a@company.com", &[DEV_TEST]);
    env.emulator.add_user("b@company.com", &[DEV_TEST]);
    let out = env.onboard().args(["export", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let users: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(users.len(), 2, "{text}");
    assert_eq!(users[0]["teams"], serde_json::json!([DEV_TEST]));
}

#[cfg(unix)]
#[test]
fn sigterm_while_export_reads_the_users_says_so() {
    let env = Env::default_proxy();
    for i in 0..250 {
        env.emulator
            .add_user(&format!("u{i}@company.com"), &[DEV_TEST]);
    }
    env.emulator.set_latency(Duration::from_millis(800));
    let child = env
        .process(&["export", "-o", "export.csv"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // The admin check and the first page are read in pre-flight; the others after it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while env.emulator.stats().count("/user/list") < 3 {
        assert!(Instant::now() < deadline, "no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = i32::try_from(child.id()).unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted while reading the proxy's users: nothing was written"),
        "{stderr}"
    );
    assert!(!env.dir.path().join("export.csv").exists());
}
