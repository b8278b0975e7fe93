//! `onboard status`: the table, its filters, `--json`, `--check`, and reading without a proxy.

mod common;

use std::process::Output;

use chrono::Duration;
use common::{DEV_TEST, Env};
use litellm_emulator::{ApiVersion, EmulatorConfig};
use serde_json::Value;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Four people, one in each state: pending, expired, accepted (on the proxy only), failed.
fn four_states(version: ApiVersion) -> Env {
    let env = Env::new(EmulatorConfig::new(version));
    let old = env.write(
        "old.csv",
        &format!("user_email,team_id\nexpired@company.com,{DEV_TEST}\n"),
    );
    env.emulator.set_clock_offset(-Duration::days(8));
    env.onboard().arg(&old).assert().code(0);
    env.emulator.set_clock_offset(Duration::zero());
    let new = env.write(
        "new.csv",
        &format!(
            "user_email,team_id\npending@company.com,{DEV_TEST}\naccepted@company.com,{DEV_TEST}\nnot-an-email,{DEV_TEST}\n"
        ),
    );
    env.onboard()
        .arg(&new)
        .arg("--skip-invalid")
        .assert()
        .code(1);
    let id = env.record("accepted@company.com")["invitation_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(env.emulator.accept_invitation(&id));
    env
}

/// `onboard status` with no proxy URL and no key in the environment.
fn status(env: &Env, args: &[&str]) -> Output {
    env.onboard()
        .env_remove("LITELLM_PROXY_URL")
        .env_remove("LITELLM_MASTER_KEY")
        .env_remove("LITELLM_PROXY_API_KEY")
        .arg("status")
        .arg("--results")
        .arg(env.results_path())
        .args(args)
        .output()
        .expect("onboard runs")
}

/// The emails in a table's rows (the header skipped).
fn emails(out: &Output) -> Vec<String> {
    text(&out.stdout)
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().next().unwrap().to_string())
        .collect()
}

fn row<'a>(stdout: &'a str, email: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(email))
        .unwrap_or_else(|| panic!("no row for {email}: {stdout}"))
}

#[test]
fn table_needs_no_proxy_and_filters_by_state() {
    let env = four_states(ApiVersion::V1_109);
    let requests = env.emulator.stats().total_requests;
    let out = status(&env, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let header = stdout.lines().next().unwrap();
    for column in ["EMAIL", "TEAM", "USER", "INVITED", "EXPIRES", "STATE"] {
        assert!(header.contains(column), "{header}");
    }
    assert!(!header.contains("LINK"));
    let pending = row(&stdout, "pending@company.com");
    assert!(
        pending.contains(DEV_TEST) && pending.contains("created"),
        "{pending}"
    );
    assert!(
        pending.contains("in 7 days") && pending.ends_with("pending"),
        "{pending}"
    );
    let expired = row(&stdout, "expired@company.com");
    assert!(
        expired.contains("ago") && expired.ends_with("expired"),
        "{expired}"
    );
    // Accepted on the proxy only: the file does not know yet.
    assert!(row(&stdout, "accepted@company.com").ends_with("pending"));
    assert!(row(&stdout, "not-an-email").ends_with("failed"));
    assert!(
        text(&out.stderr).contains("4 people"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        env.emulator.stats().total_requests,
        requests,
        "no request sent"
    );

    for (flag, expected) in [
        (
            "--pending",
            vec!["pending@company.com", "accepted@company.com"],
        ),
        ("--expired", vec!["expired@company.com"]),
        ("--failed", vec!["not-an-email"]),
        ("--accepted", vec![]),
    ] {
        let mut got = emails(&status(&env, &[flag]));
        got.sort();
        let mut expected: Vec<String> = expected.into_iter().map(String::from).collect();
        expected.sort();
        assert_eq!(got, expected, "{flag}");
    }
    assert_eq!(
        status(&env, &["--pending", "--expired"]).status.code(),
        Some(2)
    );
}

fn check_records_acceptance(version: ApiVersion) {
    let env = four_states(version);
    // --check needs the proxy.
    let out = status(&env, &["--check"]);
    assert_eq!(out.status.code(), Some(2));
    let out = env
        .onboard()
        .args(["status", "--check", "--accepted", "--results"])
        .arg(env.results_path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(emails(&out), ["accepted@company.com"]);
    assert!(env.record("accepted@company.com")["accepted_at"].is_string());
    // Recorded: plain status now knows, without the proxy.
    assert_eq!(
        emails(&status(&env, &["--accepted"])),
        ["accepted@company.com"]
    );
    assert!(row(&text(&status(&env, &[]).stdout), "accepted@company.com").ends_with("accepted"));
}

#[test]
fn check_records_acceptance_on_1_80() {
    check_records_acceptance(ApiVersion::V1_80);
}

#[test]
fn check_records_acceptance_on_1_109() {
    check_records_acceptance(ApiVersion::V1_109);
}

#[test]
fn links_only_with_show_links_and_json_rows() {
    let env = four_states(ApiVersion::V1_109);
    let link = env.record("pending@company.com")["onboarding_link"]
        .as_str()
        .unwrap()
        .to_string();
    let id = env.record("pending@company.com")["invitation_id"]
        .as_str()
        .unwrap()
        .to_string();

    let plain = text(&status(&env, &[]).stdout);
    assert!(
        !plain.contains(&id) && !plain.contains("/ui/onboarding"),
        "{plain}"
    );
    let shown = text(&status(&env, &["--show-links"]).stdout);
    assert!(shown.lines().next().unwrap().contains("LINK"));
    assert!(
        row(&shown, "pending@company.com").ends_with(&link),
        "{shown}"
    );

    let out = status(&env, &["--json"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        !text(&out.stdout).contains(&id),
        "no invitation id without --show-links"
    );
    let rows: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let pending = rows
        .iter()
        .find(|r| r["email"] == "pending@company.com")
        .unwrap();
    assert_eq!(pending["state"], "pending");
    assert_eq!(pending["team_id"], DEV_TEST);
    assert_eq!(pending["user"], "created");
    assert!(pending["expires_at"].is_string() && pending["invited_at"].is_string());
    assert!(pending.get("onboarding_link").is_none());
    let failed = rows.iter().find(|r| r["email"] == "not-an-email").unwrap();
    assert_eq!(failed["state"], "failed");
    assert!(failed["error"].as_str().unwrap().contains("invalid row"));

    let out = status(&env, &["--json", "--expired", "--show-links"]);
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["state"], "expired");
    assert!(
        rows[0]["onboarding_link"]
            .as_str()
            .unwrap()
            .contains("invitation_id=")
    );
}

#[test]
fn user_deleted_is_a_state_of_its_own() {
    let env = four_states(ApiVersion::V1_80);
    let user = env.record("expired@company.com")["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(env.emulator.delete_user(&user));
    env.onboard()
        .args(["refresh", "-q", "--results"])
        .arg(env.results_path())
        .assert()
        .code(0);
    let stdout = text(&status(&env, &[]).stdout);
    assert!(
        row(&stdout, "expired@company.com").ends_with("user deleted"),
        "{stdout}"
    );
    let rows: Value = serde_json::from_slice(&status(&env, &["--json"]).stdout).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["email"] == "expired@company.com")
        .unwrap();
    assert_eq!(row["state"], "user_deleted");
}

#[test]
fn reads_the_file_while_another_run_holds_the_lock() {
    let env = four_states(ApiVersion::V1_109);
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
    let out = status(&env, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("read-only"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(emails(&out).len(), 4);
    // --check writes, so it needs the lock.
    let out = env
        .onboard()
        .args(["status", "--check", "--results"])
        .arg(env.results_path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("in use"));
}

#[test]
fn no_audit_file_is_exit_2() {
    let env = Env::default_proxy();
    let out = status(&env, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no audit file"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !env.results_path()
            .with_file_name("onboarding_results.json.lock")
            .exists()
    );
}

#[cfg(unix)]
#[test]
fn status_without_check_never_writes_the_audit_file() {
    use std::os::unix::fs::MetadataExt;
    let env = four_states(ApiVersion::V1_109);
    // A journal a killed run left behind: status shows it, but does not fold it in.
    let mut record = env.record("pending@company.com");
    record["email"] = "journaled@company.com".into();
    let journal = env
        .results_path()
        .with_file_name("onboarding_results.json.journal");
    std::fs::write(&journal, format!("{record}\n")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let before = std::fs::metadata(env.results_path()).unwrap();
    let out = status(&env, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(emails(&out).contains(&"journaled@company.com".to_string()));
    let after = std::fs::metadata(env.results_path()).unwrap();
    assert_eq!(after.ino(), before.ino(), "not replaced");
    assert_eq!(after.mtime_nsec(), before.mtime_nsec(), "not modified");
    assert_eq!(after.mtime(), before.mtime());
    assert!(journal.exists(), "the journal is left for the next run");
}
