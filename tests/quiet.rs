//! The `-q` rule, as the README states it once: only what needs you — the new links a run
//! made (stdout), warnings and failures (stderr), and the summary only when something failed
//! or the run was interrupted. With `--json`, stdout holds only the objects of people given a
//! new link or who failed, and nothing at all when there are none.

mod common;

use chrono::Duration;
use common::{DEV_TEST, Env};
use serde_json::Value;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A quiet run with nothing new: exit 0 and not a byte on stdout or stderr.
fn silent(out: &std::process::Output) {
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "nothing new: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn csv(env: &Env, emails: &[&str]) -> std::path::PathBuf {
    let mut text = String::from("user_email,team_id\n");
    for email in emails {
        text.push_str(&format!("{email},{DEV_TEST}\n"));
    }
    env.write("users.csv", &text)
}

#[test]
fn quiet_text_run_prints_only_the_new_links() {
    let env = Env::ready_proxy();
    let file = csv(&env, &["a@company.com", "b@company.com"]);
    let out = env.onboard().arg(&file).arg("-q").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout.matches("/ui/onboarding?invitation_id=").count(),
        2,
        "{stdout}"
    );
    silent(&env.onboard().arg(&file).arg("-q").output().unwrap());
}

#[test]
fn quiet_json_run_prints_only_the_people_given_a_link_or_who_failed() {
    let env = Env::ready_proxy();
    let file = csv(&env, &["a@company.com"]);
    env.onboard().arg(&file).assert().code(0);
    let file = csv(&env, &["a@company.com", "new@company.com"]);
    let out = env
        .onboard()
        .arg(&file)
        .args(["--format", "json", "-q"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "stderr: {}", text(&out.stderr));
    let items: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let emails: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["new@company.com"]);
    silent(
        &env.onboard()
            .arg(&file)
            .args(["--json", "-q"])
            .output()
            .unwrap(),
    );
}

#[test]
fn quiet_refresh_that_renews_says_nothing_on_stderr() {
    let env = Env::ready_proxy();
    let file = csv(&env, &["a@company.com", "b@company.com"]);
    env.emulator.set_clock_offset(-Duration::days(9));
    env.onboard().arg(&file).assert().code(0);
    env.emulator.set_clock_offset(Duration::zero());
    let out = env
        .onboard()
        .args(["refresh", "-q", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        out.stderr.is_empty(),
        "cron mails this: {}",
        text(&out.stderr)
    );
    let renewed: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(renewed.as_array().unwrap().len(), 2);
}

#[test]
fn quiet_failures_and_their_summary_are_still_shown() {
    let env = Env::ready_proxy();
    let file = env.write(
        "users.csv",
        &format!("user_email,team_id\nbroken,{DEV_TEST}\nok@company.com,{DEV_TEST}\n"),
    );
    let out = env
        .onboard()
        .arg(&file)
        .args(["-q", "--skip-invalid"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("✗ broken"), "{stderr}");
    assert!(stderr.contains("1 failed"), "the summary: {stderr}");
}

#[test]
fn quiet_read_only_output_is_data_printed_in_full() {
    let env = Env::ready_proxy();
    let file = csv(&env, &["a@company.com", "b@company.com"]);
    let plan = env
        .onboard()
        .arg(&file)
        .args(["--dry-run", "-q"])
        .output()
        .unwrap();
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));
    assert_eq!(
        text(&plan.stdout).lines().count(),
        2,
        "the plan, a line a person: {}",
        text(&plan.stdout)
    );
    assert!(plan.stderr.is_empty(), "no count: {}", text(&plan.stderr));
    env.onboard().arg(&file).assert().code(0);
    let status = env.onboard().args(["status", "-q"]).output().unwrap();
    assert_eq!(
        text(&status.stdout).lines().count(),
        3,
        "header and two people: {}",
        text(&status.stdout)
    );
    assert!(
        status.stderr.is_empty(),
        "no totals: {}",
        text(&status.stderr)
    );
}
