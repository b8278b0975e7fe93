//! The audit file's own guarantees: only a regular file is ever written, its permissions,
//! and the proxy its records belong to.

mod common;

use std::path::Path;

use common::{DEV_TEST, Env};
use litellm_emulator::EmulatorConfig;
use predicates::prelude::*;

fn invite(env: &Env, results: &Path) -> assert_cmd::assert::Assert {
    env.onboard()
        .args(["invite", "x@y.com", "--team", DEV_TEST, "--results"])
        .arg(results)
        .assert()
}

/// Names in the scratch directory (to see that nothing was made next to the special file).
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[cfg(unix)]
fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

#[cfg(unix)]
#[test]
fn a_fifo_at_the_audit_path_is_refused_before_any_request() {
    use std::os::unix::fs::FileTypeExt;
    let env = Env::default_proxy();
    let special = env.dir.path().join("special");
    std::fs::create_dir(&special).unwrap();
    let fifo = special.join("results.fifo");
    mkfifo(&fifo);
    invite(&env, &fifo)
        .code(2)
        .stderr(predicate::str::contains("results.fifo").and(predicate::str::contains("a FIFO")));
    assert_eq!(env.emulator.stats().total_requests, 0, "no request");
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo(),
        "the FIFO is still there"
    );
    assert_eq!(
        listing(&special),
        ["results.fifo"],
        "no lock, journal or temp file"
    );
}

#[test]
fn a_directory_at_the_audit_path_is_refused_before_any_request() {
    let env = Env::default_proxy();
    let dir = env.dir.path().join("results.json");
    std::fs::create_dir(&dir).unwrap();
    invite(&env, &dir)
        .code(2)
        .stderr(predicate::str::contains("a directory").and(predicate::str::contains("--results")));
    assert_eq!(env.emulator.stats().total_requests, 0, "no request");
    assert!(dir.is_dir());
    assert!(listing(&dir).is_empty());
    assert_eq!(listing(env.dir.path()), ["results.json"]);
}

#[cfg(unix)]
#[test]
fn a_symlink_at_the_audit_path_is_refused_and_its_target_untouched() {
    let env = Env::default_proxy();
    let target = env.write("target.json", "[]\n");
    let link = env.dir.path().join("results.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    invite(&env, &link)
        .code(2)
        .stderr(predicate::str::contains("a symlink"));
    assert_eq!(env.emulator.stats().total_requests, 0, "no request");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "[]\n");
    assert_eq!(listing(env.dir.path()), ["results.json", "target.json"]);
}

#[cfg(unix)]
#[test]
fn an_audit_file_readable_by_others_is_tightened_even_when_not_rewritten() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let env = Env::default_proxy();
    let results = env.results_path();
    invite(&env, &results).code(0);
    std::fs::set_permissions(&results, std::fs::Permissions::from_mode(0o644)).unwrap();
    let inode = std::fs::metadata(&results).unwrap().ino();
    // Said even with -q (a cron job's flag): the links were readable by others.
    env.onboard()
        .args(["invite", "x@y.com", "--team", DEV_TEST, "-q", "--results"])
        .arg(&results)
        .assert()
        .code(0)
        .stderr(predicate::str::contains("tightened to 600"));
    let meta = std::fs::metadata(&results).unwrap();
    assert_eq!(
        meta.ino(),
        inode,
        "already invited: the file is not rewritten"
    );
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}

#[test]
fn records_keep_their_proxy_and_another_proxy_is_refused() {
    let a = Env::default_proxy();
    let b = Env::new(EmulatorConfig::default());
    let results = a.results_path();
    invite(&a, &results).code(0);
    let record = a.record("x@y.com");
    assert_eq!(record["proxy_url"], a.emulator.url());
    // The same folder, another proxy: refused before any request, naming both.
    b.onboard()
        .current_dir(a.dir.path())
        .args(["invite", "x@y.com", "--team", DEV_TEST])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains(a.emulator.url())
                .and(predicate::str::contains(b.emulator.url()))
                .and(predicate::str::contains("--results")),
        );
    assert_eq!(b.emulator.stats().total_requests, 0, "no request to B");
    assert!(b.emulator.users_with_email("x@y.com").is_empty());
    // Another file for B works.
    b.onboard()
        .args(["invite", "x@y.com", "--team", DEV_TEST])
        .assert()
        .code(0);
    assert_eq!(b.emulator.users_with_email("x@y.com").len(), 1);
}

#[test]
fn records_from_before_the_proxy_field_are_adopted_by_the_first_proxy() {
    let a = Env::default_proxy();
    let results = a.results_path();
    invite(&a, &results).code(0);
    // As an older version wrote it: no proxy_url.
    let mut records = a.records();
    for r in &mut records {
        r.as_object_mut().unwrap().remove("proxy_url");
    }
    std::fs::write(&results, serde_json::to_string_pretty(&records).unwrap()).unwrap();
    a.onboard()
        .args(["invite", "z@y.com", "--team", DEV_TEST])
        .assert()
        .code(0);
    for r in a.records() {
        assert_eq!(r["proxy_url"], a.emulator.url(), "{r}");
    }
}

#[test]
fn a_damaged_journal_is_kept_aside_and_the_run_stops_with_exit_2() {
    let env = Env::default_proxy();
    let results = env.results_path();
    invite(&env, &results).code(0);
    // A journal a killed run left: a record, a line that does not read, another record.
    let record = std::fs::read_to_string(&results).unwrap();
    let records: Vec<serde_json::Value> = serde_json::from_str(&record).unwrap();
    let line = serde_json::to_string(&records[0]).unwrap();
    let journal = format!("{line}\nnot a record\n{line}\n");
    let journal_path = env.dir.path().join("onboarding_results.json.journal");
    std::fs::write(&journal_path, &journal).unwrap();
    let before = env.emulator.stats().write_requests;
    env.onboard()
        .args(["invite", "y@y.com", "--team", DEV_TEST])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("line 2 of the journal"));
    assert!(!journal_path.exists());
    let aside: Vec<String> = listing(env.dir.path())
        .into_iter()
        .filter(|n| n.starts_with("onboarding_results.json.journal.damaged-"))
        .collect();
    assert_eq!(aside.len(), 1, "{:?}", listing(env.dir.path()));
    assert_eq!(
        std::fs::read_to_string(env.dir.path().join(&aside[0])).unwrap(),
        journal
    );
    assert_eq!(
        std::fs::read_to_string(&results).unwrap(),
        record,
        "untouched"
    );
    assert_eq!(env.emulator.stats().write_requests, before);
}
