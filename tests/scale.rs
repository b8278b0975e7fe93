//! A populated proxy: users made in bulk share `created_at`, so the proxy's default order
//! pages them unstably; every read must still see each user once, and a run's reads must
//! grow with the job, not with the users on the proxy.

mod common;

use std::collections::HashSet;

use common::{DEV_TEST, Env};

/// `n` emails `prefix0@company.com`…
fn emails(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}@company.com")).collect()
}

fn csv_of(env: &Env, name: &str, emails: &[String]) -> std::path::PathBuf {
    let mut text = String::from("user_email,team_id\n");
    for e in emails {
        text.push_str(&format!("{e},{DEV_TEST}\n"));
    }
    env.write(name, &text)
}

#[test]
fn export_lists_each_user_once_although_the_default_order_ties() {
    let env = Env::default_proxy();
    let made = emails("tie", 2_500);
    env.emulator.add_users_at_once(&made, &[DEV_TEST]);
    let out = env.onboard().arg("export").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    let distinct: HashSet<&str> = rows.iter().map(|r| r.split(',').next().unwrap()).collect();
    assert_eq!(rows.len(), 2_500, "one row per user");
    assert_eq!(distinct.len(), 2_500, "no user missed or repeated");
}

#[test]
fn offboarding_many_on_a_populated_proxy_finds_each_of_them_once() {
    let env = Env::default_proxy();
    env.emulator
        .add_users_at_once(&emails("other", 3_000), &[DEV_TEST]);
    let leavers = emails("leaver", 100);
    let csv = csv_of(&env, "leavers.csv", &leavers);
    env.onboard().arg(&csv).arg("-q").assert().code(0);
    let out = env
        .onboard()
        .args(["offboard", csv.to_str().unwrap(), "--yes"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for e in &leavers {
        assert!(env.emulator.users_with_email(e).is_empty(), "{e} removed");
    }
    assert_eq!(env.emulator.user_count(), 3_000 + 1, "nobody else touched");
}

#[test]
fn reads_grow_with_the_job_not_with_the_proxy() {
    let env = Env::default_proxy();
    for batch in 0..10 {
        env.emulator
            .add_users_at_once(&emails(&format!("b{batch}-"), 1_000), &[DEV_TEST]);
    }
    let people = emails("new", 300);
    let csv = csv_of(&env, "new.csv", &people);
    env.emulator.reset_stats();
    env.onboard().arg(&csv).arg("-q").assert().code(0);
    let stats = env.emulator.stats();
    assert!(
        stats.reads_before_first_write <= 10,
        "onboarding 300 new people into 10,000 users: {} reads before the first write ({:?})",
        stats.reads_before_first_write,
        stats.per_route
    );
    assert_eq!(stats.users_created, 300);
    env.emulator.reset_stats();
    env.onboard()
        .args(["offboard", csv.to_str().unwrap(), "--yes", "-q"])
        .assert()
        .code(0);
    let stats = env.emulator.stats();
    assert!(
        stats.count("/user/list") <= 1 + 3,
        "the audit file knows them: read 100 a request by id ({:?})",
        stats.per_route
    );
    let reads = stats.total_requests - stats.write_requests;
    assert!(
        reads <= 300 + 10,
        "offboarding 300 of 10,000 users: {reads} reads ({:?})",
        stats.per_route
    );
    for e in &people {
        assert!(env.emulator.users_with_email(e).is_empty(), "{e} removed");
    }
}

#[test]
fn a_user_whose_email_changed_on_the_proxy_is_not_taken_by_id() {
    let env = Env::default_proxy();
    let csv = csv_of(&env, "one.csv", &["ann@company.com".to_string()]);
    env.onboard().arg(&csv).arg("-q").assert().code(0);
    let id = env.record("ann@company.com")["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    env.emulator.set_email(&id, "someone.else@company.com");
    let out = env
        .onboard()
        .args(["offboard", "ann@company.com", "--yes", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("1 not on the proxy"), "{said}");
    assert!(
        env.emulator.users().iter().any(|u| u.user_id == id),
        "the renamed user is left alone"
    );
}
