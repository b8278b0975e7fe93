//! Re-runs, crashes, faults and interruptions: nothing duplicated, nothing lost.

mod common;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{DEV_TEST, Env, RESEARCH, read_records};
use litellm_emulator::{ApiVersion, EmulatorConfig, FaultConfig};
use predicates::prelude::*;

fn people(prefix: &str, n: usize) -> String {
    let mut csv = String::from("user_email,team_id\n");
    for i in 0..n {
        csv.push_str(&format!("{prefix}{i}@company.com,{DEV_TEST}\n"));
    }
    csv
}

/// Exactly one user per email on the proxy, one success record per email, every link opens.
fn assert_converged(env: &Env, emails: &[String]) {
    let records = env.records();
    let mut by_email = HashMap::new();
    for record in &records {
        let email = record["email"].as_str().unwrap().to_string();
        assert!(
            by_email.insert(email, record).is_none(),
            "one record per email"
        );
    }
    let mut users: HashMap<String, Vec<_>> = HashMap::new();
    for user in env.emulator.users() {
        if let Some(email) = &user.user_email {
            users
                .entry(email.trim().to_lowercase())
                .or_default()
                .push(user);
        }
    }
    for email in emails {
        let found = users.get(email).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(found.len(), 1, "exactly one user for {email}");
        assert!(
            found[0].teams.iter().any(|t| t == DEV_TEST),
            "{email} is in the team"
        );
        let record = by_email[email];
        assert_eq!(record["status"], "success", "{record}");
        assert_eq!(record["user_id"].as_str(), Some(found[0].user_id.as_str()));
        assert!(env.link_opens(record["onboarding_link"].as_str().unwrap()));
    }
    assert_eq!(env.emulator.stats().duplicate_emails, 0);
}

fn emails(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}@company.com")).collect()
}

fn faulty_runs(faults: FaultConfig) {
    let env = Env::default_proxy();
    env.emulator.set_faults(faults);
    let csv = env.write("users.csv", &people("f", 40));
    for _ in 0..2 {
        let code = env
            .onboard()
            .arg(&csv)
            .args(["--concurrency", "8"])
            .output()
            .unwrap()
            .status
            .code();
        assert!(matches!(code, Some(0 | 1)), "exit {code:?}");
    }
    let faults = env.emulator.stats().faults;
    assert!(
        faults.overload
            + faults.fail_before_commit
            + faults.fail_after_commit
            + faults.drop_after_commit
            > 0,
        "faults were injected"
    );
    assert_converged(&env, &emails("f", 40));
}

#[test]
fn every_fault_kind_at_once_converges_within_two_runs() {
    faulty_runs(FaultConfig {
        seed: 7,
        fail_before_commit: 0.05,
        fail_after_commit: 0.05,
        drop_after_commit: 0.05,
        overload: 0.05,
        retry_after_secs: 0,
        routes: Vec::new(),
    });
}

#[test]
fn each_fault_kind_at_twenty_percent_converges_within_two_runs() {
    let kinds: [fn(&mut FaultConfig); 4] = [
        |f| f.fail_before_commit = 0.2,
        |f| f.fail_after_commit = 0.2,
        |f| f.drop_after_commit = 0.2,
        |f| f.overload = 0.2,
    ];
    for (seed, set) in kinds.iter().enumerate() {
        let mut faults = FaultConfig {
            seed: seed as u64 + 11,
            ..FaultConfig::default()
        };
        set(&mut faults);
        faulty_runs(faults);
    }
}

fn spawn_onboard(env: &Env, csv: &std::path::Path, extra: &[&str]) -> Child {
    let mut args = vec![csv.to_str().unwrap()];
    args.extend(extra);
    env.process(&args).stdout(Stdio::null()).spawn().unwrap()
}

fn journal_lines(env: &Env) -> usize {
    let journal = env.dir.path().join("onboarding_results.json.journal");
    std::fs::read_to_string(journal)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

fn wait_for_progress(env: &Env, child: &mut Child, lines: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while journal_lines(env) < lines {
        assert!(
            child.try_wait().unwrap().is_none(),
            "onboard finished too early"
        );
        assert!(Instant::now() < deadline, "no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn kill_9_mid_run_loses_nothing_and_duplicates_nothing() {
    let env = Env::default_proxy();
    env.emulator.set_latency(Duration::from_millis(40));
    let csv = env.write("users.csv", &people("k", 120));
    // The per-person path (tests/bulk.rs has the same with bulk creates).
    let mut child = spawn_onboard(&env, &csv, &["--concurrency", "4", "--bulk", "never"]);
    wait_for_progress(&env, &mut child, 10);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let journaled = journal_lines(&env);
    assert!(
        (10..120).contains(&journaled),
        "killed mid-run ({journaled} done)"
    );
    if env.results_path().exists() {
        read_records(&env.results_path()); // parseable, whatever instant it was killed at
    }
    let journal =
        std::fs::read_to_string(env.dir.path().join("onboarding_results.json.journal")).unwrap();
    let done_before: Vec<serde_json::Value> = journal
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    env.emulator.set_latency(Duration::ZERO);
    let before = env.emulator.stats();
    env.onboard()
        .arg(&csv)
        .assert()
        .code(0)
        .stderr(predicate::str::contains("recovered"));
    assert_converged(&env, &emails("k", 120));
    for done in &done_before {
        let record = env.record(done["email"].as_str().unwrap());
        assert_eq!(
            record["invitation_id"], done["invitation_id"],
            "a finished person is kept, not re-invited"
        );
    }
    let new_users = env.emulator.stats().count("/user/new") - before.count("/user/new");
    assert!(
        new_users <= (120 - done_before.len()) as u64,
        "no /user/new for people already done"
    );
}

#[test]
fn a_second_run_on_the_same_audit_file_is_refused() {
    let env = Env::default_proxy();
    env.emulator.set_latency(Duration::from_millis(50));
    let csv = env.write("users.csv", &people("l", 60));
    let mut child = spawn_onboard(&env, &csv, &["--concurrency", "2"]);
    wait_for_progress(&env, &mut child, 1);
    env.onboard()
        .arg(&csv)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("in use by another onboard run"));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[cfg(unix)]
fn interrupt(child: &Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[cfg(unix)]
#[test]
fn ctrl_c_finishes_in_flight_people_and_exits_130() {
    let env = Env::default_proxy();
    env.emulator.set_latency(Duration::from_millis(40));
    let csv = env.write("users.csv", &people("c", 200));
    // The per-person path (tests/bulk.rs has the same with bulk creates).
    let mut child = spawn_onboard(&env, &csv, &["--concurrency", "4", "--bulk", "never"]);
    wait_for_progress(&env, &mut child, 5);
    interrupt(&child);
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let records = env.records();
    assert!(!records.is_empty() && records.len() < 200);
    assert!(
        records.iter().all(|r| r["status"] == "success"),
        "in-flight people were finished"
    );
    assert!(
        !env.dir
            .path()
            .join("onboarding_results.json.journal")
            .exists()
    );
    // Every user the proxy has is recorded: nothing in flight was abandoned.
    assert_eq!(
        env.emulator
            .users()
            .iter()
            .filter(|u| u.user_email.is_some())
            .count(),
        records.len()
    );
}

#[cfg(unix)]
#[test]
fn a_second_ctrl_c_stops_at_once_with_a_valid_audit_file() {
    let env = Env::default_proxy();
    let csv = env.write("users.csv", &people("d", 1500));
    let mut child = spawn_onboard(&env, &csv, &["--concurrency", "16"]);
    wait_for_progress(&env, &mut child, 8);
    // From now on a round trip takes 10 s: finishing the people in flight would be slow.
    env.emulator.set_latency(Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    interrupt(&child);
    std::thread::sleep(Duration::from_millis(50));
    interrupt(&child);
    let started = Instant::now();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped at once, not after the 10 s round trips"
    );
    let records = env.records();
    assert!(records.len() >= 8);
    // A re-run finishes the job without duplicates.
    env.emulator.set_latency(Duration::ZERO);
    env.onboard().arg(&csv).assert().code(0);
    assert_converged(&env, &emails("d", 1500));
}

#[cfg(unix)]
#[test]
fn one_ctrl_c_waits_for_people_in_flight_only_so_long() {
    let env = Env::default_proxy();
    let csv = env.write("users.csv", &people("g", 1500));
    // Requests time out after 12 s: after the 10 s grace the people in flight send nothing
    // more and end with their current request (they are not dropped mid-way).
    let mut child = spawn_onboard(&env, &csv, &["--concurrency", "8", "--timeout", "12"]);
    wait_for_progress(&env, &mut child, 8);
    env.emulator.set_latency(Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(300));
    interrupt(&child);
    let started = Instant::now();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(25),
        "waited {waited:?}: the grace period and one request, not the 60 s round trips"
    );
    assert!(env.records().len() >= 8, "the audit file is written");
}

fn pre_existing_user_is_reused(version: ApiVersion) {
    let env = Env::new(EmulatorConfig::new(version));
    let existing = env.emulator.add_user("Pre@Company.com", &[RESEARCH]);
    let csv = env.write(
        "users.csv",
        &format!("user_email,team_id\npre@company.com,{DEV_TEST}\nnew@company.com,{DEV_TEST}\n"),
    );
    env.onboard().arg(&csv).assert().code(0);
    let users = env.emulator.users_with_email("pre@company.com");
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].user_id, existing);
    assert!(
        users[0].teams.iter().any(|t| t == DEV_TEST),
        "membership ensured: {:?}",
        users[0].teams
    );
    let record = env.record("pre@company.com");
    assert_eq!(record["user"], "existing");
    assert_eq!(record["user_id"], existing.as_str());
    assert!(env.link_opens(record["onboarding_link"].as_str().unwrap()));
    assert_eq!(env.record("new@company.com")["user"], "created");
}

#[test]
fn pre_existing_user_is_reused_on_1_109() {
    pre_existing_user_is_reused(ApiVersion::V1_109);
}

#[test]
fn pre_existing_user_is_reused_on_1_80() {
    pre_existing_user_is_reused(ApiVersion::V1_80);
}

#[test]
fn duplicates_in_the_csv_make_one_user_and_a_rerun_sends_no_user_new() {
    let env = Env::default_proxy();
    let csv = env.write(
        "users.csv",
        &format!("user_email,team_id\nsam@company.com,{DEV_TEST}\n SAM@company.com ,{DEV_TEST}\nkim@company.com,{DEV_TEST}\n"),
    );
    env.onboard()
        .arg(&csv)
        .assert()
        .code(0)
        .stderr(predicate::str::contains("lines 2, 3"));
    assert_eq!(env.emulator.users_with_email("sam@company.com").len(), 1);
    assert_eq!(env.records().len(), 2);
    env.emulator.reset_stats();
    env.onboard()
        .arg(&csv)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("already invited"));
    let stats = env.emulator.stats();
    assert_eq!(stats.count("/user/new"), 0);
    assert_eq!(stats.count("/invitation/new"), 0);
}

#[test]
fn reinvite_makes_a_fresh_link_and_keeps_the_old_id_in_history() {
    let env = Env::default_proxy();
    let csv = env.write("users.csv", &people("r", 2));
    env.onboard().arg(&csv).assert().code(0);
    let first = env.record("r0@company.com");
    env.onboard().arg(&csv).arg("--reinvite").assert().code(0);
    let second = env.record("r0@company.com");
    assert_ne!(first["invitation_id"], second["invitation_id"]);
    assert_eq!(
        second["history"][0]["invitation_id"],
        first["invitation_id"]
    );
    assert_eq!(second["user_id"], first["user_id"]);
    assert_eq!(env.emulator.users_with_email("r0@company.com").len(), 1);
    // The old link no longer works: one invitation per person on the proxy.
    assert_eq!(second["history"][0]["deleted"], true);
    assert_eq!(env.emulator.invitations().len(), 2);
    assert!(!env.link_opens(first["onboarding_link"].as_str().unwrap()));
}

#[test]
fn a_failed_delete_on_reinvite_stays_pending_and_the_next_reinvite_deletes_it() {
    let env = Env::default_proxy();
    let csv = env.write("users.csv", &people("p", 2));
    env.onboard().arg(&csv).assert().code(0);
    env.emulator.set_faults(FaultConfig {
        fail_before_commit: 1.0,
        routes: vec!["/invitation/delete".into()],
        ..FaultConfig::default()
    });
    env.onboard()
        .args(["--reinvite", "--retries", "0"])
        .arg(&csv)
        .assert()
        .code(0)
        .stderr(predicate::str::contains(
            "p0@company.com: 1 replaced invitation(s) could not be deleted; kept as pending",
        ));
    let record = env.record("p0@company.com");
    assert_eq!(record["history"][0]["delete_pending"], true, "{record}");
    assert_eq!(env.emulator.invitations().len(), 4);
    env.emulator.set_faults(FaultConfig::none());
    env.onboard().arg("--reinvite").arg(&csv).assert().code(0);
    let record = env.record("p0@company.com");
    let history = record["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|p| p["deleted"] == true), "{record}");
    assert_eq!(env.emulator.invitations().len(), 2);
}

#[test]
fn lost_answers_of_invitation_new_are_counted_per_person_and_in_the_summary() {
    let env = Env::default_proxy();
    let n = 30;
    let csv = env.write("users.csv", &people("lost", n));
    env.emulator.set_faults(FaultConfig {
        seed: 3,
        fail_after_commit: 0.2,
        drop_after_commit: 0.1,
        routes: vec!["/invitation/new".into()],
        ..FaultConfig::default()
    });
    let out = env
        .onboard()
        .arg(&csv)
        .args(["--json", "--retries", "8"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let items: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let in_json: u64 = items
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["lost_invitations"].as_u64())
        .sum();
    let invitations = env.emulator.invitations();
    let mut total = 0;
    for email in emails("lost", n) {
        let record = env.record(&email);
        let user = record["user_id"].as_str().unwrap();
        let held = invitations.iter().filter(|i| i.user_id == user).count() as u64;
        let lost = record["lost_invitations"].as_u64().unwrap_or(0);
        assert_eq!(lost, held - 1, "{record}");
        total += lost;
    }
    assert!(total > 0, "answers were lost");
    assert_eq!(in_json, total);
    assert!(
        stderr.contains(&format!(
            "{total} invitation(s) may exist whose answer was lost"
        )),
        "{stderr}"
    );
}

#[test]
fn a_failed_person_is_tried_again_on_the_next_run() {
    let env = Env::default_proxy();
    env.emulator.add_user("dup@company.com", &[]);
    let second = env.emulator.add_user("dup@company.com", &[]);
    let csv = env.write(
        "users.csv",
        &format!("user_email,team_id\ndup@company.com,{DEV_TEST}\n"),
    );
    env.onboard().arg(&csv).assert().code(1);
    assert_eq!(env.record("dup@company.com")["status"], "failed");
    assert!(env.emulator.delete_user(&second));
    env.onboard().arg(&csv).assert().code(0);
    assert_eq!(env.record("dup@company.com")["status"], "success");
}

#[test]
fn a_rerun_with_a_new_team_adds_the_member_without_a_new_invitation() {
    let env = Env::default_proxy();
    let first = env.write(
        "first.csv",
        &format!("user_email,team_id\nmover@company.com,{DEV_TEST}\n"),
    );
    let second = env.write(
        "second.csv",
        &format!("user_email,team_id\nmover@company.com,{RESEARCH}\n"),
    );
    env.onboard().arg(&first).assert().code(0);
    let before = env.record("mover@company.com");
    env.onboard().arg(&second).assert().code(0);
    let after = env.record("mover@company.com");
    assert_eq!(after["team_id"], RESEARCH);
    assert_eq!(
        after["invitation_id"], before["invitation_id"],
        "the live link is kept"
    );
    let user = &env.emulator.users_with_email("mover@company.com")[0];
    assert!(user.teams.iter().any(|t| t == RESEARCH) && user.teams.iter().any(|t| t == DEV_TEST));
    let stats = env.emulator.stats();
    assert_eq!(stats.count("/invitation/new"), 1);
    assert_eq!(stats.count("/user/new") + stats.bulk_rows_created, 1);
}

#[cfg(unix)]
fn terminate(child: &Child) {
    let pid = i32::try_from(child.id()).unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
}

/// Sends SIGTERM and checks that `onboard` ends with exit 130 within `within` (`what` names
/// the run in a failure).
#[cfg(unix)]
fn terminate_and_expect_130(child: Child, within: Duration, what: &str) {
    terminate(&child);
    let started = Instant::now();
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(130),
        "{what}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        started.elapsed() < within,
        "{what}: ended {:?} after SIGTERM",
        started.elapsed()
    );
}

#[cfg(unix)]
#[test]
fn sigterm_during_pre_flight_stops_before_anyone_starts() {
    let env = Env::default_proxy();
    // Pre-flight makes five reads, two of them one after the other: 2.4 s at least.
    env.emulator.set_latency(Duration::from_millis(800));
    let csv = env.write("users.csv", &people("p", 4));
    let child = spawn_onboard(&env, &csv, &[]);
    std::thread::sleep(Duration::from_millis(1000));
    assert!(env.emulator.stats().total_requests >= 1, "in pre-flight");
    terminate_and_expect_130(child, Duration::from_secs(2), "pre-flight");
    std::thread::sleep(Duration::from_millis(1000)); // anything still on its way arrives
    let stats = env.emulator.stats();
    assert_eq!(stats.write_requests, 0, "nothing written on the proxy");
    assert_eq!(stats.count("/user/new"), 0);
    assert!(!env.results_path().exists(), "no audit file written");
}

#[cfg(unix)]
#[test]
fn sigterm_is_honoured_while_the_rate_cap_waits() {
    let env = Env::default_proxy();
    let csv = env.write("users.csv", &people("r", 3));
    // One request every 20 s: the run would take minutes.
    let child = spawn_onboard(&env, &csv, &["--rate", "0.05"]);
    std::thread::sleep(Duration::from_millis(1000));
    terminate_and_expect_130(child, Duration::from_secs(2), "rate cap");
    assert_eq!(env.emulator.stats().write_requests, 0);
}

#[cfg(unix)]
#[test]
fn a_person_stopped_after_the_grace_keeps_the_user_made_so_far() {
    let env = Env::default_proxy();
    // /user/new takes 500 ms: the fault below is set while it is on its way.
    env.emulator.set_latency(Duration::from_millis(500));
    let csv = env.write("users.csv", &people("h", 1));
    let mut child = spawn_onboard(&env, &csv, &["--concurrency", "1", "--bulk", "never"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while env.emulator.stats().count("/user/new") == 0 {
        assert!(child.try_wait().unwrap().is_none() && Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    // The invitation is answered 503 retry-after 15 s: longer than the 10 s grace.
    env.emulator.set_faults(FaultConfig {
        overload: 1.0,
        retry_after_secs: 15,
        ..FaultConfig::default()
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(env.emulator.users_with_email("h0@company.com").len(), 1);
    // The retry waits for the retry-after in the pacer, which the stop ends: not 13 s more.
    terminate_and_expect_130(child, Duration::from_secs(5), "retry-after");
    let user = &env.emulator.users_with_email("h0@company.com")[0];
    let record = env.record("h0@company.com");
    assert_eq!(
        record["user_id"], user.user_id,
        "the user made on the proxy is recorded"
    );
    assert_eq!(record["user"], "created");
}

/// Runs `onboard ARGS` in the background.
#[cfg(unix)]
fn spawn_command(env: &Env, args: &[&str]) -> Child {
    env.process(args).stdout(Stdio::null()).spawn().unwrap()
}

#[cfg(unix)]
#[test]
fn sigterm_stops_status_check_and_offboard_in_their_reads() {
    let env = Env::default_proxy();
    let csv = env.write("users.csv", &people("s", 2));
    env.onboard().arg(&csv).assert().code(0);
    env.emulator.set_latency(Duration::from_millis(800));
    for args in [
        &["status", "--check"][..],
        &["offboard", "s0@company.com", "--yes"],
    ] {
        env.emulator.reset_stats();
        let child = spawn_command(&env, args);
        std::thread::sleep(Duration::from_millis(1000));
        assert!(
            env.emulator.stats().total_requests >= 1,
            "{args:?}: reading"
        );
        terminate_and_expect_130(child, Duration::from_secs(2), &format!("{args:?}"));
        std::thread::sleep(Duration::from_millis(1000));
        assert_eq!(
            env.emulator.stats().write_requests,
            0,
            "{args:?}: nothing written"
        );
    }
    assert!(!env.emulator.users_with_email("s0@company.com").is_empty());
}
