//! The core job against the emulator, running the real binary: bulk and one-off onboarding.

mod common;

use common::{DEV_TEST, Env, KEY, RESEARCH};
use litellm_emulator::{ApiVersion, EmulatorConfig};
use predicates::prelude::*;

fn people(n: usize) -> String {
    let mut csv = String::from("user_email,team_id\n");
    for i in 0..n {
        let team = if i % 2 == 0 { DEV_TEST } else { RESEARCH };
        csv.push_str(&format!("person{i}@company.com,{team}\n"));
    }
    csv
}

fn happy_path(version: ApiVersion) {
    let env = Env::new(EmulatorConfig::new(version));
    let csv = env.write("users.csv", &people(24));
    env.onboard()
        .arg(&csv)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("/ui/onboarding?invitation_id="));
    let records = env.records();
    assert_eq!(records.len(), 24);
    for (i, record) in records.iter().enumerate() {
        assert_eq!(
            record["email"],
            format!("person{i}@company.com"),
            "CSV order"
        );
        assert_eq!(record["status"], "success");
        assert_eq!(record["user"], "created");
        assert!(record["error"].is_null());
        let link = record["onboarding_link"].as_str().unwrap();
        assert!(link.starts_with(&format!(
            "{}/ui/onboarding?invitation_id=",
            env.emulator.url()
        )));
        assert!(!link.contains("?id="));
        assert!(env.link_opens(link), "link must open: {link}");
        let team = if i % 2 == 0 { DEV_TEST } else { RESEARCH };
        assert_eq!(record["team_id"], team);
        assert_eq!(record["user_role"], "internal_user");
        let users = env
            .emulator
            .users_with_email(record["email"].as_str().unwrap());
        assert_eq!(users.len(), 1);
        assert_eq!(
            users[0].teams,
            [team],
            "the user joined the team on the proxy"
        );
        assert_eq!(users[0].user_role.as_deref(), Some("internal_user"));
        assert_eq!(record["user_id"].as_str(), Some(users[0].user_id.as_str()));
    }
    let stats = env.emulator.stats();
    assert_eq!(stats.keys_created, 0, "no virtual key may be created");
    // 1.109 creates them in one bulk request; 1.80 has no bulk endpoint.
    let bulk = stats.count("/management/v1/users/bulk");
    assert_eq!(bulk, u64::from(version == ApiVersion::V1_109));
    assert_eq!(stats.count("/user/new") + stats.bulk_rows_created, 24);
    assert_eq!(stats.count("/invitation/new"), 24);
}

#[test]
fn bulk_happy_path_on_1_109() {
    happy_path(ApiVersion::V1_109);
}

#[test]
fn bulk_happy_path_on_1_80() {
    happy_path(ApiVersion::V1_80);
}

#[test]
fn the_example_csv_onboards_with_aliases_and_roles() {
    let env = Env::default_proxy();
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/users.example.csv")).unwrap();
    let csv = env.write("users.csv", &example);
    env.onboard().arg(&csv).assert().code(0);
    let carol = env.record("carol@company.com");
    assert_eq!(carol["user_role"], "internal_user_viewer");
    assert_eq!(carol["user_alias"], "Carol");
    let dave = env.record("dave@company.com");
    assert_eq!(
        dave["team_id"], DEV_TEST,
        "the alias Dev-Test resolves to its id"
    );
    assert_eq!(
        env.emulator.users_with_email("dave@company.com")[0].teams,
        [DEV_TEST]
    );
}

#[test]
fn one_failing_person_does_not_stop_the_others() {
    let env = Env::default_proxy();
    // Two accounts with one email (a legacy duplicate): onboard must not pick one silently.
    let a = env.emulator.add_user("twice@company.com", &[]);
    let b = env.emulator.add_user("Twice@Company.com", &[]);
    let csv = env.write(
        "users.csv",
        &format!("user_email,team_id\nok1@company.com,{DEV_TEST}\ntwice@company.com,{DEV_TEST}\nok2@company.com,{DEV_TEST}\n"),
    );
    env.onboard().arg(&csv).assert().code(1).stderr(
        predicate::str::contains("twice@company.com")
            .and(predicate::str::contains(&a))
            .and(predicate::str::contains(&b)),
    );
    assert_eq!(env.record("ok1@company.com")["status"], "success");
    assert_eq!(env.record("ok2@company.com")["status"], "success");
    let failed = env.record("twice@company.com");
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"].as_str().unwrap().contains("2 users"));
    assert!(failed["invitation_id"].is_null());
}

#[test]
fn wrong_master_key_stops_with_exit_2_and_never_prints_the_key() {
    let env = Env::default_proxy();
    let csv = env.write("users.csv", &people(3));
    let secret = "sk-wrong-but-secret-0123456789";
    let output = env
        .onboard()
        .arg(&csv)
        .env("LITELLM_MASTER_KEY", secret)
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("master key was rejected"), "{stderr}");
    assert!(!stderr.contains(secret) && !String::from_utf8_lossy(&output.stdout).contains(secret));
    assert_eq!(env.emulator.stats().write_requests, 0);
}

#[test]
fn unreachable_proxy_exits_2_with_a_hint() {
    let env = Env::default_proxy();
    let csv = env.write("users.csv", &people(2));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    env.onboard()
        .arg(&csv)
        .env("LITELLM_PROXY_URL", &url)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is the proxy running at"));
}

#[test]
fn missing_url_or_key_names_the_flag_and_variables() {
    let env = Env::default_proxy();
    let csv = env.write("users.csv", &people(1));
    env.onboard()
        .arg(&csv)
        .env_remove("LITELLM_PROXY_URL")
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("--proxy-url")
                .and(predicate::str::contains("LITELLM_PROXY_URL")),
        );
    env.onboard()
        .arg(&csv)
        .env_remove("LITELLM_MASTER_KEY")
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("LITELLM_MASTER_KEY")
                .and(predicate::str::contains("LITELLM_PROXY_API_KEY")),
        );
    env.onboard()
        .arg(&csv)
        .env_remove("LITELLM_MASTER_KEY")
        .env("LITELLM_PROXY_API_KEY", KEY)
        .assert()
        .code(0);
}

#[test]
fn a_second_run_keeps_the_first_runs_records() {
    let env = Env::default_proxy();
    let first = env.write(
        "first.csv",
        &format!("user_email,team_id\na@company.com,{DEV_TEST}\nb@company.com,{DEV_TEST}\n"),
    );
    let second = env.write(
        "second.csv",
        &format!("user_email,team_id\nc@company.com,{RESEARCH}\n"),
    );
    env.onboard().arg(&first).assert().code(0);
    let before = env.record("a@company.com");
    env.onboard().arg(&second).assert().code(0);
    let emails: Vec<_> = env
        .records()
        .iter()
        .map(|r| r["email"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(emails, ["a@company.com", "b@company.com", "c@company.com"]);
    assert_eq!(
        env.record("a@company.com"),
        before,
        "an earlier record is kept as it was"
    );
}

#[test]
fn invite_prints_only_the_link_on_stdout() {
    let env = Env::default_proxy();
    let output = env
        .onboard()
        .args(["invite", "Alice@Company.com", "--team", "Dev-Test"])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<_> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout: {stdout}");
    assert!(env.link_opens(lines[0]));
    let record = env.record("alice@company.com");
    assert_eq!(record["onboarding_link"], lines[0]);
    assert_eq!(record["team_id"], DEV_TEST);
    // Again: the live link is printed again and nothing is created.
    let again = env
        .onboard()
        .args(["invite", "alice@company.com", "--team", DEV_TEST])
        .assert()
        .code(0)
        .get_output()
        .clone();
    assert_eq!(String::from_utf8(again.stdout).unwrap(), stdout);
    assert_eq!(env.emulator.stats().count("/user/new"), 1);
    assert_eq!(env.emulator.stats().count("/invitation/new"), 1);
}

#[cfg(unix)]
#[test]
fn the_audit_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::default_proxy();
    let csv = env.write("users.csv", &people(2));
    env.onboard().arg(&csv).assert().code(0);
    let mode = std::fs::metadata(env.results_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn proxy_under_a_path_prefix() {
    let env = Env::new(EmulatorConfig {
        server_root_path: "/litellm".into(),
        ..EmulatorConfig::default()
    });
    let output = env
        .onboard()
        .args(["invite", "p@company.com", "--team", DEV_TEST])
        .env("LITELLM_PROXY_URL", format!("{}/", env.emulator.url()))
        .assert()
        .code(0)
        .get_output()
        .clone();
    let link = String::from_utf8(output.stdout).unwrap();
    assert!(
        link.starts_with(&format!(
            "{}/litellm/ui/onboarding?invitation_id=",
            env.emulator.url()
        )),
        "{link}"
    );
}

#[test]
fn a_populated_proxy_is_never_listed_and_an_existing_user_is_adopted() {
    let env = Env::default_proxy();
    for i in 0..399 {
        env.emulator.add_user(&format!("other{i}@company.com"), &[]);
    }
    let known = env.emulator.add_user("Known@Company.com", &[DEV_TEST]);
    let csv = env.write(
        "users.csv",
        &format!("user_email,team_id\nknown@company.com,{DEV_TEST}\nnew@company.com,{DEV_TEST}\n"),
    );
    env.emulator.reset_stats();
    let dry = env
        .onboard()
        .args([csv.to_str().unwrap(), "--dry-run", "--json"])
        .output()
        .unwrap();
    let plans: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(plans[0]["actions"][0], "adopt_user", "{plans}");
    assert_eq!(plans[0]["user_id"], known.as_str());
    assert_eq!(plans[1]["actions"][0], "create_user", "{plans}");
    // The dry run: the key check and one exact look-up per email, never a listing.
    assert_eq!(env.emulator.stats().count("/user/list"), 1 + 2);
    env.emulator.reset_stats();
    env.onboard().arg(&csv).assert().code(0);
    let stats = env.emulator.stats();
    // The run: the key check, then the bulk create says who exists; one look-up adopts them.
    assert_eq!(stats.count("/user/list"), 1 + 1, "{:?}", stats.per_route);
    assert_eq!(stats.count("/user/new"), 0);
    let record = env.record("known@company.com");
    assert_eq!(
        record["user_id"],
        known.as_str(),
        "the existing user is adopted"
    );
    assert_eq!(record["user"], "existing");
    assert_eq!(env.emulator.users_with_email("known@company.com").len(), 1);
    assert_eq!(env.emulator.users_with_email("new@company.com").len(), 1);
    assert_eq!(env.record("new@company.com")["user"], "created");
    assert_eq!(env.emulator.user_count(), 402);
}

#[test]
fn answers_that_carry_a_large_team_are_read() {
    let env = Env::default_proxy();
    // 45,000 members: /team/info answers about 300 bytes each, /user/info of a member (the
    // key's default_user_id is one) about 100 within its teams: both over 4 MiB.
    for i in 0..45_000 {
        env.emulator
            .add_user(&format!("member{i}@company.com"), &[DEV_TEST]);
    }
    let csv = env.write(
        "users.csv",
        &format!("user_email,team_id,team_role\nnew@company.com,{DEV_TEST},user\n"),
    );
    let run = env.onboard().arg(&csv).output().unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let record = env.record("new@company.com");
    assert_eq!(record["user"], "created");
    assert!(record["invitation_id"].is_string());
}
