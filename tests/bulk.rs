//! Creating users with `POST /management/v1/users/bulk` (1.109), the per-person path where it
//! is absent or turned off, and the same safety as one at a time: faults, kill -9, Ctrl-C.

mod common;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{DEV_TEST, Env, KEY};
use litellm_emulator::{ApiVersion, EmulatorConfig, FaultConfig};

const BULK: &str = "/management/v1/users/bulk";

fn emails(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}@company.com")).collect()
}

fn csv_of(emails: &[String]) -> String {
    let mut csv = String::from("user_email,team_id\n");
    for email in emails {
        csv.push_str(&format!("{email},{DEV_TEST}\n"));
    }
    csv
}

/// One user per email, in the team, without a key; one success record per email whose
/// user id is that user's; every link opens.
fn assert_converged(env: &Env, emails: &[String]) {
    let records: HashMap<String, serde_json::Value> = env
        .records()
        .into_iter()
        .map(|r| (r["email"].as_str().unwrap().to_string(), r))
        .collect();
    for email in emails {
        let users = env.emulator.users_with_email(email);
        assert_eq!(users.len(), 1, "exactly one user for {email}");
        assert!(
            users[0].teams.iter().any(|t| t == DEV_TEST),
            "{email} in team"
        );
        assert_eq!(users[0].key_count, 0, "no key for {email}");
        let record = &records[email];
        assert_eq!(record["status"], "success", "{record}");
        assert_eq!(record["user_id"].as_str(), Some(users[0].user_id.as_str()));
        assert!(env.link_opens(record["onboarding_link"].as_str().unwrap()));
    }
    assert_eq!(env.emulator.stats().duplicate_emails, 0);
}

#[test]
fn bulk_on_1_109_creates_everyone_in_chunks_of_at_most_500_and_invites_each() {
    let env = Env::default_proxy();
    let people = emails("b", 1001);
    let csv = env.write("users.csv", &csv_of(&people));
    env.onboard().arg(&csv).arg("-q").assert().code(0);
    let stats = env.emulator.stats();
    assert_eq!(stats.count(BULK), 3, "ceil(1001 / 500) bulk requests");
    assert_eq!(stats.bulk_rows_requested, 1001);
    assert_eq!(stats.bulk_rows_created, 1001);
    assert_eq!(stats.count("/user/new"), 0);
    assert_eq!(stats.count("/invitation/new"), 1001);
    assert_eq!(
        stats.count("/team/member_add"),
        0,
        "bulk put them in the team"
    );
    assert_eq!(stats.keys_created, 0);
    assert_converged(&env, &people);
    let record = env.record("b0@company.com");
    assert_eq!(record["user"], "created");
    assert_eq!(record["user_role"], "internal_user");
    // The plan's reads, the probe, the chunks and the invitations: no request per person
    // besides its invitation.
    let per_person = stats.total_requests as f64 / 1001.0;
    assert!(per_person <= 1.02, "{per_person} requests per person");
}

fn per_person_path(env: &Env, extra: &[&str]) {
    let people = emails("p", 5);
    let csv = env.write("users.csv", &csv_of(&people));
    env.onboard().arg(&csv).args(extra).assert().code(0);
    let stats = env.emulator.stats();
    assert_eq!(stats.count(BULK), 0);
    assert_eq!(stats.count("/user/new"), 5);
    assert_eq!(stats.count("/invitation/new"), 5);
    assert_converged(env, &people);
}

#[test]
fn a_1_80_proxy_gets_user_new() {
    let env = Env::new(EmulatorConfig {
        api_version: ApiVersion::V1_80,
        ..EmulatorConfig::default()
    });
    per_person_path(&env, &[]);
    assert_eq!(env.emulator.stats().count("/openapi.json"), 1, "asked once");
}

#[test]
fn bulk_never_gets_user_new_and_asks_nothing() {
    let env = Env::default_proxy();
    per_person_path(&env, &["--bulk", "never"]);
    assert_eq!(env.emulator.stats().count("/openapi.json"), 0);
}

#[test]
fn dry_run_shows_create_user_and_sends_nothing() {
    let env = Env::default_proxy();
    let csv = env.write("users.csv", &csv_of(&emails("d", 3)));
    let out = env
        .onboard()
        .arg(&csv)
        .args(["--dry-run", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("create_user").count(), 3, "{text}");
    assert_eq!(env.emulator.stats().count(BULK), 0);
    assert_eq!(env.emulator.user_count(), 1, "only default_user_id");
}

fn wait_until(what: &str, child: &mut Child, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before {what}"
        );
        assert!(Instant::now() < deadline, "no {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn spawn_onboard(env: &Env, csv: &std::path::Path, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_onboard"))
        .current_dir(env.dir.path())
        .env_clear()
        .env("LITELLM_PROXY_URL", env.emulator.url())
        .env("LITELLM_MASTER_KEY", KEY)
        .arg(csv)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_user_made_after_the_plan_but_before_the_chunk_is_adopted_once() {
    let env = Env::default_proxy();
    // 300 ms a request: the user appears while the run asks /openapi.json, after its
    // plan found nobody, before the bulk request.
    env.emulator.set_latency(Duration::from_millis(300));
    let people = emails("a", 4);
    let csv = env.write("users.csv", &csv_of(&people));
    let mut child = spawn_onboard(&env, &csv, &[]);
    wait_until("probe", &mut child, || {
        env.emulator.stats().count("/openapi.json") == 1
    });
    let existing = env.emulator.add_user("A2@Company.com", &[]);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats = env.emulator.stats();
    assert_eq!(stats.count(BULK), 1);
    assert_eq!(
        stats.bulk_rows_failed, 1,
        "its row failed: the email exists"
    );
    let record = env.record("a2@company.com");
    assert_eq!(
        record["user_id"], existing,
        "the made-up id of the failed row is not kept"
    );
    assert_eq!(record["user"], "existing");
    assert_converged(&env, &people);
}

fn faulty_runs(seed: u64, set: fn(&mut FaultConfig)) {
    let env = Env::default_proxy();
    let mut faults = FaultConfig {
        seed,
        retry_after_secs: 0,
        routes: vec![BULK.into()],
        ..FaultConfig::default()
    };
    set(&mut faults);
    env.emulator.set_faults(faults);
    let people = emails("f", 620);
    let csv = env.write("users.csv", &csv_of(&people));
    for _ in 0..2 {
        let out = env.onboard().arg(&csv).arg("-q").output().unwrap();
        let code = out.status.code();
        assert!(
            matches!(code, Some(0 | 1)),
            "exit {code:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let f = env.emulator.stats().faults;
    assert!(
        f.overload + f.fail_before_commit + f.fail_after_commit + f.drop_after_commit > 0,
        "faults were injected"
    );
    assert_eq!(env.records().len(), 620, "no record lost");
    assert_converged(&env, &people);
}

#[test]
fn faults_on_the_bulk_route_converge_without_duplicates() {
    let kinds: [fn(&mut FaultConfig); 4] = [
        |f| f.fail_after_commit = 0.5,
        |f| f.fail_before_commit = 0.5,
        |f| f.drop_after_commit = 0.5,
        |f| f.overload = 0.5,
    ];
    for (seed, set) in kinds.into_iter().enumerate() {
        faulty_runs(seed as u64 + 3, set);
    }
}

#[test]
fn a_lost_bulk_answer_is_looked_up_and_nothing_is_sent_again() {
    let env = Env::default_proxy();
    env.emulator.set_faults(FaultConfig {
        fail_after_commit: 1.0,
        routes: vec![BULK.into()],
        ..FaultConfig::default()
    });
    let people = emails("l", 30);
    let csv = env.write("users.csv", &csv_of(&people));
    env.onboard().arg(&csv).arg("-q").assert().code(0);
    let stats = env.emulator.stats();
    assert_eq!(stats.count(BULK), 1, "the users were found: not sent again");
    assert_eq!(stats.count("/user/new"), 0);
    assert_converged(&env, &people);
    assert_eq!(env.record("l0@company.com")["user"], "created");
}

#[test]
fn a_bulk_request_that_keeps_failing_falls_back_to_user_new() {
    let env = Env::default_proxy();
    // 500 before commit on every try: bulk gives up on that chunk; the rest goes per person.
    env.emulator.set_faults(FaultConfig {
        fail_before_commit: 1.0,
        routes: vec![BULK.into()],
        ..FaultConfig::default()
    });
    let people = emails("r", 8);
    let csv = env.write("users.csv", &csv_of(&people));
    env.onboard()
        .arg(&csv)
        .args(["-q", "--retries", "1"])
        .assert()
        .code(0);
    let stats = env.emulator.stats();
    assert_eq!(stats.count(BULK), 2, "one try and one retry");
    assert_eq!(stats.count("/user/new"), 8);
    assert_converged(&env, &people);
}

fn journal(env: &Env) -> Vec<serde_json::Value> {
    std::fs::read_to_string(env.dir.path().join("onboarding_results.json.journal"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Stops a run once its first chunk is journaled, then checks a re-run creates nobody it
/// created.
fn stopped_after_a_chunk(stop: impl FnOnce(&mut Child)) {
    let env = Env::default_proxy();
    env.emulator.set_latency(Duration::from_millis(30));
    let people = emails("k", 700);
    let csv = env.write("users.csv", &csv_of(&people));
    let mut child = spawn_onboard(&env, &csv, &["--concurrency", "2"]);
    wait_until("chunk", &mut child, || journal(&env).len() >= 350);
    stop(&mut child);
    child.wait().unwrap();
    // The file (written on Ctrl-C) and the journal (left by kill -9), later lines winning.
    let mut seen = if env.results_path().exists() {
        env.records()
    } else {
        Vec::new()
    };
    seen.extend(journal(&env));
    let latest: HashMap<String, serde_json::Value> = seen
        .into_iter()
        .map(|r| (r["email"].as_str().unwrap().to_string(), r))
        .collect();
    let created: HashMap<String, String> = latest
        .iter()
        .filter_map(|(e, r)| Some((e.clone(), r["user_id"].as_str()?.to_string())))
        .collect();
    let invited = latest
        .values()
        .filter(|r| r["invitation_id"].is_string())
        .count();
    assert!(
        created.len() >= 350,
        "a chunk was recorded ({})",
        created.len()
    );
    assert!(invited < 700, "stopped mid-run");
    env.emulator.set_latency(Duration::ZERO);
    let before = env.emulator.stats();
    env.onboard().arg(&csv).arg("-q").assert().code(0);
    let after = env.emulator.stats();
    assert_eq!(
        after.count("/user/new"),
        before.count("/user/new"),
        "no /user/new"
    );
    assert!(
        after.bulk_rows_requested - before.bulk_rows_requested <= (700 - created.len()) as u64,
        "no bulk row for anyone already created"
    );
    for (email, user_id) in &created {
        assert_eq!(
            env.record(email)["user_id"].as_str(),
            Some(user_id.as_str())
        );
    }
    assert_converged(&env, &people);
}

#[test]
fn kill_9_after_a_chunk_leaves_records_a_rerun_only_invites() {
    stopped_after_a_chunk(|child| child.kill().unwrap());
}

#[cfg(unix)]
#[test]
fn ctrl_c_after_a_chunk_leaves_records_a_rerun_only_invites() {
    stopped_after_a_chunk(|child| {
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    });
}
