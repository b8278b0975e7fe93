//! `onboard refresh` against the emulator, running the real binary, on both LiteLLM versions.
//!
//! Invitations are made "in the past" by running the bulk onboarding while the emulator's
//! clock is set back, then putting the clock back to now: `onboard` and the proxy then agree
//! on the time, as they do in real life.

mod common;

use std::process::Output;

use chrono::{DateTime, Duration, Utc};
use common::{DEV_TEST, Env};
use litellm_emulator::{ApiVersion, EmulatorConfig, FaultConfig};
use serde_json::Value;

/// Onboards `emails` with the proxy's clock `ago` in the past.
fn onboard_ago(env: &Env, emails: &[&str], ago: Duration) {
    let mut csv = String::from("user_email,team_id\n");
    for email in emails {
        csv.push_str(&format!("{email},{DEV_TEST}\n"));
    }
    let path = env.write("users.csv", &csv);
    env.emulator.set_clock_offset(-ago);
    env.onboard()
        .arg(&path)
        .arg("--results")
        .arg(env.results_path())
        .assert()
        .code(0);
    env.emulator.set_clock_offset(Duration::zero());
}

fn refresh(env: &Env, args: &[&str]) -> Output {
    env.onboard()
        .arg("refresh")
        .arg("--results")
        .arg(env.results_path())
        .args(args)
        .output()
        .expect("onboard runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn invitation_id(record: &Value) -> String {
    record["invitation_id"]
        .as_str()
        .expect("an invitation")
        .to_string()
}

fn live_ids(env: &Env) -> Vec<String> {
    env.emulator
        .invitations()
        .into_iter()
        .map(|i| i.id)
        .collect()
}

/// The audit file parses, holds every email once, and no journal is left behind.
fn assert_consistent(env: &Env, emails: &[&str]) {
    let records = env.records();
    assert_eq!(records.len(), emails.len(), "{records:#?}");
    for email in emails {
        env.record(email);
    }
    let journal = env
        .results_path()
        .with_file_name("onboarding_results.json.journal");
    assert!(!journal.exists(), "the journal is folded in");
}

macro_rules! on_both_versions {
    ($($name:ident),* $(,)?) => {
        mod v1_80 {
            $(#[test] fn $name() { super::$name(litellm_emulator::ApiVersion::V1_80) })*
        }
        mod v1_109 {
            $(#[test] fn $name() { super::$name(litellm_emulator::ApiVersion::V1_109) })*
        }
    };
}

on_both_versions!(
    expired_and_unaccepted_is_renewed_and_the_old_one_deleted,
    accepted_is_recorded_and_never_touched_again,
    expiring_within_the_window_is_renewed_and_the_rest_untouched,
    deleted_user_is_recorded_and_gets_no_invitation,
    second_refresh_in_a_row_creates_nothing,
    proxy_failure_mid_refresh_leaves_the_file_valid_and_the_next_run_finishes,
);

fn expired_and_unaccepted_is_renewed_and_the_old_one_deleted(version: ApiVersion) {
    let env = Env::new(EmulatorConfig::new(version));
    onboard_ago(&env, &["late@company.com"], Duration::days(8));
    let before = env.record("late@company.com");
    let old_id = invitation_id(&before);
    assert!(
        !env.link_opens(before["onboarding_link"].as_str().unwrap()),
        "expired"
    );

    let out = refresh(&env, &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let renewed: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let renewed = renewed.as_array().expect("an array");
    assert_eq!(renewed.len(), 1);
    let item = &renewed[0];
    assert_eq!(item["email"], "late@company.com");
    let mut keys: Vec<_> = item.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["email", "expires_at", "invitation_id", "onboarding_link"]
    );

    let after = env.record("late@company.com");
    let new_id = invitation_id(&after);
    assert_ne!(new_id, old_id);
    assert_eq!(item["invitation_id"], new_id.as_str());
    assert_eq!(item["onboarding_link"], after["onboarding_link"]);
    let expires: DateTime<Utc> = serde_json::from_value(after["expires_at"].clone()).unwrap();
    assert!(expires > Utc::now() + Duration::days(6));
    assert!(
        env.link_opens(after["onboarding_link"].as_str().unwrap()),
        "the new link opens"
    );
    let history = after["history"].as_array().expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["invitation_id"], old_id.as_str());
    assert_eq!(history[0]["deleted"], true);
    assert_eq!(
        live_ids(&env),
        [new_id],
        "only the new invitation is left on the proxy"
    );
    assert_eq!(env.emulator.stats().count("/invitation/delete"), 1);
    assert_consistent(&env, &["late@company.com"]);
}

fn accepted_is_recorded_and_never_touched_again(version: ApiVersion) {
    let env = Env::new(EmulatorConfig::new(version));
    onboard_ago(&env, &["done@company.com"], Duration::days(8));
    let id = invitation_id(&env.record("done@company.com"));
    assert!(env.emulator.accept_invitation(&id));
    let created = env.emulator.stats().invitations_created;

    let out = refresh(&env, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Newly accepted (1)"),
        "{}",
        text(&out.stdout)
    );
    let record = env.record("done@company.com");
    assert!(record["accepted_at"].is_string(), "{record}");
    assert_eq!(invitation_id(&record), id);

    let infos = env.emulator.stats().count("/invitation/info");
    let out = refresh(&env, &["--within", "2d"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!text(&out.stdout).contains("accepted"));
    assert_eq!(
        env.emulator.stats().count("/invitation/info"),
        infos,
        "not asked again"
    );
    assert_eq!(env.emulator.stats().invitations_created, created);
    assert_eq!(env.record("done@company.com"), record, "untouched");
}

fn expiring_within_the_window_is_renewed_and_the_rest_untouched(version: ApiVersion) {
    let env = Env::new(EmulatorConfig::new(version));
    // Made 6½ days ago: expires in about 12 hours.
    onboard_ago(&env, &["soon@company.com"], Duration::hours(6 * 24 + 12));
    onboard_ago(&env, &["fresh@company.com"], Duration::zero());
    let soon = env.record("soon@company.com");
    let fresh = env.record("fresh@company.com");
    let created = env.emulator.stats().invitations_created;

    let out = refresh(&env, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Still valid: 2"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(env.emulator.stats().invitations_created, created);
    assert_eq!(env.record("soon@company.com"), soon);

    let out = refresh(&env, &["--within", "24h"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Renewed (1)"), "{stdout}");
    assert!(stdout.contains("soon@company.com"));
    assert!(stdout.contains("Still valid: 1"));
    assert_eq!(env.emulator.stats().invitations_created, created + 1);
    let renewed = env.record("soon@company.com");
    assert_ne!(invitation_id(&renewed), invitation_id(&soon));
    assert!(stdout.contains(renewed["onboarding_link"].as_str().unwrap()));
    assert!(
        !live_ids(&env).contains(&invitation_id(&soon)),
        "the old one was deleted"
    );
    assert_eq!(
        env.record("fresh@company.com"),
        fresh,
        "not yet expiring: untouched"
    );
}

fn deleted_user_is_recorded_and_gets_no_invitation(version: ApiVersion) {
    let env = Env::new(EmulatorConfig::new(version));
    onboard_ago(
        &env,
        &["gone@company.com", "here@company.com"],
        Duration::days(8),
    );
    let gone = env.record("gone@company.com");
    assert!(env.emulator.delete_user(gone["user_id"].as_str().unwrap()));
    let created = env.emulator.stats().invitations_created;

    let out = refresh(&env, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("User deleted on the proxy, no new invitation (1)"),
        "{stdout}"
    );
    assert!(stdout.contains("Renewed (1)"), "{stdout}");
    assert_eq!(
        env.emulator.stats().invitations_created,
        created + 1,
        "only here@ renewed"
    );
    let record = env.record("gone@company.com");
    assert!(record["user_deleted_at"].is_string(), "{record}");
    assert_eq!(record["invitation_id"], gone["invitation_id"]);
    assert!(record["error"].is_null());

    let requests = env.emulator.stats().total_requests;
    let out = refresh(&env, &["-q"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "{}",
        text(&out.stderr)
    );
    let per_run = env.emulator.stats().total_requests - requests;
    assert!(
        per_run <= 6,
        "preflight and one check for here@ only: {per_run}"
    );
}

fn second_refresh_in_a_row_creates_nothing(version: ApiVersion) {
    let env = Env::new(EmulatorConfig::new(version));
    let emails = ["a@company.com", "b@company.com", "c@company.com"];
    onboard_ago(&env, &emails, Duration::days(9));

    let out = refresh(&env, &["-q", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let renewed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(renewed.as_array().unwrap().len(), 3);
    assert_eq!(
        text(&out.stdout).lines().count(),
        1,
        "one line per run, for a .jsonl file"
    );
    let records = env.records();
    let invitations = env.emulator.invitations().len();
    let created = env.emulator.stats().invitations_created;

    let out = refresh(&env, &["-q", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stdout.is_empty(),
        "quiet and nothing renewed: {}",
        text(&out.stdout)
    );
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    assert_eq!(env.emulator.stats().invitations_created, created);
    assert_eq!(env.emulator.invitations().len(), invitations);
    assert_eq!(env.records(), records);

    let out = refresh(&env, &[]);
    assert!(text(&out.stdout).contains("Still valid: 3"));
    assert_eq!(env.emulator.stats().invitations_created, created);
}

fn proxy_failure_mid_refresh_leaves_the_file_valid_and_the_next_run_finishes(version: ApiVersion) {
    let env = Env::new(EmulatorConfig::new(version));
    let emails: Vec<String> = (0..12).map(|i| format!("p{i}@company.com")).collect();
    let emails: Vec<&str> = emails.iter().map(String::as_str).collect();
    onboard_ago(&env, &emails, Duration::days(8));
    let old: Vec<String> = emails
        .iter()
        .map(|e| invitation_id(&env.record(e)))
        .collect();

    env.emulator.set_faults(FaultConfig {
        seed: 11,
        fail_before_commit: 0.5,
        ..FaultConfig::default()
    });
    let out = refresh(&env, &["--retries", "0", "--concurrency", "4"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "some failed: {}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("Failed ("),
        "{}",
        text(&out.stderr)
    );
    assert_consistent(&env, &emails);
    let renewed_first = emails
        .iter()
        .zip(&old)
        .filter(|(e, id)| invitation_id(&env.record(e)) != **id)
        .count();
    assert!(
        renewed_first > 0 && renewed_first < emails.len(),
        "{renewed_first}"
    );

    env.emulator.set_faults(FaultConfig::none());
    let out = refresh(&env, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("Renewed ({})", emails.len() - renewed_first)),
        "{stdout}"
    );
    assert_consistent(&env, &emails);
    let invitations = env.emulator.invitations();
    for (email, old_id) in emails.iter().zip(&old) {
        let record = env.record(email);
        let id = invitation_id(&record);
        assert_ne!(&id, old_id, "{email} renewed");
        assert!(record["error"].is_null(), "{record}");
        let live = invitations
            .iter()
            .find(|i| i.id == id)
            .expect("on the proxy");
        assert!(live.expires_at > Utc::now() + Duration::days(6));
        let unexpired = invitations
            .iter()
            .filter(|i| i.user_id == live.user_id && i.expires_at > Utc::now())
            .count();
        assert_eq!(unexpired, 1, "one live link for {email}");
    }
    let created = env.emulator.stats().invitations_created;
    let out = refresh(&env, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        env.emulator.stats().invitations_created,
        created,
        "nothing left to do"
    );
}

#[test]
fn an_invitation_gone_from_the_proxy_is_renewed() {
    let env = Env::default_proxy();
    onboard_ago(&env, &["x@company.com"], Duration::days(1));
    let id = invitation_id(&env.record("x@company.com"));
    // Someone deleted the invitation (not the user) on the proxy.
    let url = format!("{}/invitation/delete", env.emulator.url());
    let status = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            reqwest::Client::new()
                .post(&url)
                .bearer_auth(common::KEY)
                .json(&serde_json::json!({ "invitation_id": id }))
                .send()
                .await
                .unwrap()
                .status()
        });
    assert_eq!(status, 200);
    let out = refresh(&env, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Renewed (1)"));
    let record = env.record("x@company.com");
    assert_ne!(invitation_id(&record), id);
    assert!(env.link_opens(record["onboarding_link"].as_str().unwrap()));
}

#[test]
fn dry_run_sends_no_write_and_changes_nothing() {
    let env = Env::default_proxy();
    onboard_ago(&env, &["late@company.com"], Duration::days(8));
    let records = env.records();
    let writes = env.emulator.stats().write_requests;
    let out = refresh(&env, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Would renew (dry run) (1)"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(env.emulator.stats().write_requests, writes);
    assert_eq!(env.records(), records);
}

#[test]
fn could_not_run_is_exit_2() {
    let env = Env::default_proxy();
    // No audit file.
    let out = refresh(&env, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no audit file"),
        "{}",
        text(&out.stderr)
    );

    onboard_ago(&env, &["a@company.com"], Duration::days(8));
    for (args, expected) in [
        (&["--within", "soon"][..], "--within"),
        (&["--within", "7d"][..], "every invitation"),
    ] {
        let out = refresh(&env, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains(expected),
            "{}",
            text(&out.stderr)
        );
    }

    let out = env
        .onboard()
        .env("LITELLM_MASTER_KEY", "sk-wrong")
        .args(["refresh", "--results"])
        .arg(env.results_path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("master key"),
        "{}",
        text(&out.stderr)
    );

    // Another run holds the lock: refused, nothing sent.
    let lock = std::fs::File::options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(
            env.results_path()
                .with_file_name("onboarding_results.json.lock"),
        )
        .unwrap();
    lock.lock().unwrap();
    let requests = env.emulator.stats().total_requests;
    let out = refresh(&env, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("in use"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(env.emulator.stats().total_requests, requests);
    drop(lock);
    assert_eq!(refresh(&env, &["-q"]).status.code(), Some(0));
}

#[test]
fn failed_people_are_left_to_the_bulk_run() {
    let env = Env::default_proxy();
    let path = env.write(
        "users.csv",
        &format!("user_email,team_id\nnot-an-email,{DEV_TEST}\nok@company.com,{DEV_TEST}\n"),
    );
    env.emulator.set_clock_offset(-Duration::days(8));
    env.onboard()
        .arg(&path)
        .arg("--skip-invalid")
        .assert()
        .code(1);
    env.emulator.set_clock_offset(Duration::zero());
    let failed = env.record("not-an-email");
    let out = refresh(&env, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Renewed (1)"));
    assert_eq!(env.record("not-an-email"), failed);
}

#[test]
fn within_durations_parse() {
    use onboard::cli::parse_duration;
    use std::time::Duration as Std;
    let hours = |h: u64| Std::from_secs(h * 3600);
    assert_eq!(parse_duration("24h").unwrap(), hours(24));
    assert_eq!(parse_duration("2d").unwrap(), hours(48));
    assert_eq!(parse_duration("30m").unwrap(), Std::from_secs(1800));
    assert_eq!(parse_duration("90s").unwrap(), Std::from_secs(90));
    assert_eq!(parse_duration("0s").unwrap(), Std::ZERO);
    assert_eq!(parse_duration("0").unwrap(), Std::ZERO);
    assert_eq!(parse_duration(" 1d12h ").unwrap(), hours(36));
    assert_eq!(parse_duration("1w").unwrap(), hours(168));
    assert_eq!(parse_duration("1.5h").unwrap(), Std::from_secs(5400));
    for bad in ["", "h", "12", "-1h", "1x", "99999999999999999999d"] {
        assert!(parse_duration(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn a_bulk_rerun_recreates_a_user_refresh_found_deleted() {
    let env = Env::default_proxy();
    let csv = env.write(
        "users.csv",
        &format!("user_email,team_id\ngone@company.com,{DEV_TEST}\n"),
    );
    env.emulator.set_clock_offset(chrono::Duration::days(-8));
    env.onboard().arg(&csv).assert().code(0);
    env.emulator.set_clock_offset(chrono::Duration::zero());
    let old = env.record("gone@company.com");
    assert!(env.emulator.delete_user(old["user_id"].as_str().unwrap()));
    env.onboard().arg("refresh").assert().code(0);
    assert!(env.record("gone@company.com")["user_deleted_at"].is_string());
    env.onboard().arg(&csv).assert().code(0);
    let again = env.record("gone@company.com");
    assert_eq!(again["status"], "success");
    assert!(again["user_deleted_at"].is_null());
    assert_ne!(again["user_id"], old["user_id"]);
    assert_eq!(env.emulator.users_with_email("gone@company.com").len(), 1);
    assert!(env.link_opens(again["onboarding_link"].as_str().unwrap()));
}

/// Live (unaccepted, unexpired) invitations on the proxy, per user id.
fn live_per_user(env: &Env) -> std::collections::BTreeMap<String, usize> {
    let today = env.emulator.now().date_naive();
    let mut live = std::collections::BTreeMap::new();
    for i in env.emulator.invitations() {
        if !i.is_accepted && i.expires_at.date_naive() >= today {
            *live.entry(i.user_id).or_insert(0) += 1;
        }
    }
    live
}

/// Renews three invitations that expire tomorrow while `/invitation/delete` fails with `faults`.
fn renew_while_deletes_fail(faults: FaultConfig) -> (Env, Vec<&'static str>) {
    let env = Env::default_proxy();
    let emails = vec!["d1@company.com", "d2@company.com", "d3@company.com"];
    onboard_ago(&env, &emails, Duration::days(6));
    env.emulator.set_faults(FaultConfig {
        routes: vec!["/invitation/delete".into()],
        ..faults
    });
    let out = refresh(&env, &["--within", "2d", "--retries", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("kept as pending"), "{stderr}");
    assert!(
        stderr.contains("3 superseded invitation(s) could not be deleted"),
        "{stderr}"
    );
    assert!(
        stderr.contains("; replaced invitations: 0 deleted, 3 pending in "),
        "{stderr}"
    );
    for email in &emails {
        let record = env.record(email);
        let past = &record["history"][0];
        assert_eq!(past["deleted"], false, "{record}");
        assert_eq!(past["delete_pending"], true, "{record}");
        assert!(past["delete_error"].is_string(), "{record}");
    }
    env.emulator.set_faults(FaultConfig::none());
    (env, emails)
}

fn assert_pending_deletes_done(env: &Env, emails: &[&str]) {
    let out = refresh(env, &["--within", "2d"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("3 deleted now"), "{stderr}");
    assert!(
        stderr.contains("; replaced invitations: 3 deleted, 0 pending in "),
        "{stderr}"
    );
    assert!(stderr.contains("0 renewed"), "{stderr}");
    for email in emails {
        let record = env.record(email);
        let past = &record["history"][0];
        assert_eq!(past["deleted"], true, "{record}");
        assert!(past.get("delete_pending").is_none(), "{record}");
        assert!(past.get("delete_error").is_none(), "{record}");
    }
    let live = live_per_user(env);
    assert_eq!(live.len(), emails.len(), "{live:?}");
    assert!(live.values().all(|&n| n == 1), "{live:?}");
    // Nothing is left to do: a third run sends no delete.
    env.emulator.reset_stats();
    let out = refresh(env, &["--within", "2d"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(env.emulator.stats().count("/invitation/delete"), 0);
}

#[test]
fn a_failed_delete_of_the_old_invitation_stays_pending_and_the_next_refresh_deletes_it() {
    let (env, emails) = renew_while_deletes_fail(FaultConfig {
        fail_before_commit: 1.0,
        ..FaultConfig::default()
    });
    // The old invitations still work: two live links per person, for now.
    let live = live_per_user(&env);
    assert!(live.values().all(|&n| n == 2), "{live:?}");
    assert_pending_deletes_done(&env, &emails);
}

#[test]
fn a_delete_whose_answer_was_lost_stays_pending_until_the_proxy_says_it_is_gone() {
    let (env, emails) = renew_while_deletes_fail(FaultConfig {
        fail_after_commit: 1.0,
        ..FaultConfig::default()
    });
    // The deletes were done, only their answers lost: the next refresh learns it (gone = done).
    assert!(live_per_user(&env).values().all(|&n| n == 1));
    assert_pending_deletes_done(&env, &emails);
}

#[test]
fn lost_answers_of_invitation_new_during_refresh_are_counted() {
    let env = Env::default_proxy();
    let emails: Vec<String> = (0..8).map(|i| format!("l{i}@company.com")).collect();
    let refs: Vec<&str> = emails.iter().map(String::as_str).collect();
    onboard_ago(&env, &refs, Duration::days(8));
    env.emulator.set_faults(FaultConfig {
        seed: 5,
        fail_after_commit: 0.3,
        drop_after_commit: 0.2,
        routes: vec!["/invitation/new".into()],
        ..FaultConfig::default()
    });
    let out = refresh(&env, &["--json", "--retries", "6", "--concurrency", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let items: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let in_json: u64 = items
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["lost_invitations"].as_u64())
        .sum();
    let mut total = 0;
    for email in &refs {
        let record = env.record(email);
        let user = record["user_id"].as_str().unwrap();
        // The old one was deleted; besides the one in the record, the proxy holds the lost ones.
        let current = record["invitation_id"].as_str().unwrap();
        let extra = env
            .emulator
            .invitations()
            .into_iter()
            .filter(|i| i.user_id == user && i.id != current)
            .count() as u64;
        let lost = record["lost_invitations"].as_u64().unwrap_or(0);
        assert_eq!(lost, extra, "{record}");
        total += lost;
    }
    assert!(total > 0, "answers were lost");
    assert_eq!(in_json, total);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{total} invitation(s) may exist whose answer was lost"
        )),
        "{stderr}"
    );
}
