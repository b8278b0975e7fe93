//! Snapshots of what `onboard` prints, running the real binary against the emulator.
//!
//! Scripts and cron jobs parse this output (the bulk lines, `--json`, the dry-run plans, the
//! refresh report, the status table), so its shape is pinned here: a change shows up as a
//! snapshot diff to review. What differs between runs is redacted by filters on the text: user
//! and invitation ids, timestamps, durations, the emulator's port. The seeded team ids are
//! constants and kept, so the status table's alignment is the real one.
//!
//! Bulk runs pass `--concurrency 1`: people are reported as they finish, so with several in
//! flight the order of their lines would vary from run to run.
//!
//! Update with `INSTA_UPDATE=always cargo test --test snapshots` and review the `.snap` files.

mod common;

use std::process::Output;

use chrono::Duration;
use common::{DEV_TEST, Env, KEY, RESEARCH};

/// Filters for what changes from run to run. Applied in order.
fn redactions() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    const UUID: &str = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
    // The seeded teams survive the generic UUID filter (through a placeholder and back).
    settings.add_filter(DEV_TEST, "@@DEV_TEST@@");
    settings.add_filter(RESEARCH, "@@RESEARCH@@");
    settings.add_filter(r"http://127\.0\.0\.1:\d+", "[PROXY]");
    settings.add_filter(
        &format!("invitation_id={UUID}"),
        "invitation_id=[invitation_id]",
    );
    // Keeps the JSON's own spacing (compact or pretty).
    settings.add_filter(
        &format!(r#""(invitation_id|user_id)"(:\s?)"{UUID}""#),
        r#""$1"$2"[$1]""#,
    );
    settings.add_filter(UUID, "[uuid]");
    settings.add_filter("@@DEV_TEST@@", DEV_TEST);
    settings.add_filter("@@RESEARCH@@", RESEARCH);
    settings.add_filter(
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
        "[timestamp]",
    );
    settings.add_filter(r"\(\d{4}-\d{2}-\d{2}\)", "(YYYY-MM-DD)");
    settings.add_filter(r"on \d{4}-\d{2}-\d{2} ", "on YYYY-MM-DD ");
    // Same width as the real text, so tables stay aligned.
    settings.add_filter(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", "YYYY-MM-DD HH:MM");
    settings.add_filter(r"\b\d+\.\d s\b", "N.N s");
    // An invitation made 9 days ago stopped working between 24 and 48 hours ago.
    settings.add_filter(r"\b\d\d hours ago\b", "NN hours ago");
    settings.add_filter(r"\S*/\.tmp[A-Za-z0-9_]+", "[DIR]");
    settings
}

/// Exit code, stdout and stderr, for a text snapshot.
fn shown(out: &Output) -> String {
    format!(
        "exit: {}\n--- stdout ---\n{}--- stderr ---\n{}",
        out.status.code().map_or("signal".into(), |c| c.to_string()),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    )
}

/// Stdout, checked to be JSON.
fn json_stdout(out: &Output) -> String {
    let text = String::from_utf8(out.stdout.clone()).expect("UTF-8");
    serde_json::from_str::<serde_json::Value>(&text)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {text}"));
    text
}

/// `onboard <csv> args…` in the scratch directory (the CSV named relatively, so messages
/// naming it hold no temporary path).
fn bulk(env: &Env, csv: &str, args: &[&str]) -> Output {
    env.onboard()
        .arg(csv)
        .args(["--concurrency", "1"])
        .args(args)
        .output()
        .expect("onboard runs")
}

fn onboard(env: &Env, args: &[&str]) -> Output {
    env.onboard().args(args).output().expect("onboard runs")
}

/// Writes a CSV of `email,team` rows.
fn roster(env: &Env, name: &str, rows: &[(&str, &str)]) -> String {
    let mut csv = String::from("user_email,team_id\n");
    for (email, team) in rows {
        csv.push_str(&format!("{email},{team}\n"));
    }
    env.write(name, &csv);
    name.to_string()
}

/// Onboards `emails` into Dev-Test with the proxy's clock `ago` in the past.
fn onboard_ago(env: &Env, emails: &[&str], ago: Duration) {
    let rows: Vec<_> = emails.iter().map(|e| (*e, DEV_TEST)).collect();
    let csv = roster(env, "earlier.csv", &rows);
    env.emulator.set_clock_offset(-ago);
    let out = bulk(env, &csv, &[]);
    env.emulator.set_clock_offset(Duration::zero());
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
}

fn invitation_id(env: &Env, email: &str) -> String {
    env.record(email)["invitation_id"]
        .as_str()
        .expect("an invitation")
        .to_string()
}

/// The mixed roster of a second run: already invited, existing on the proxy, new, invalid.
fn mixed_roster(env: &Env) -> String {
    onboard_ago(env, &["alice@company.com"], Duration::zero());
    env.emulator.add_user("bob@company.com", &[]);
    roster(
        env,
        "roster.csv",
        &[
            ("alice@company.com", DEV_TEST),
            ("bob@company.com", DEV_TEST),
            ("carol@company.com", RESEARCH),
            ("not-an-email", DEV_TEST),
        ],
    )
}

#[test]
fn bulk_text() {
    let _redact = redactions().bind_to_scope();
    let env = Env::default_proxy();
    env.emulator.add_user("bob@company.com", &[]);
    let first = roster(
        &env,
        "first.csv",
        &[
            ("alice@company.com", DEV_TEST),
            ("bob@company.com", DEV_TEST),
        ],
    );
    insta::assert_snapshot!("bulk_text_first_run", shown(&bulk(&env, &first, &[])));

    let again = roster(
        &env,
        "again.csv",
        &[
            ("alice@company.com", DEV_TEST),
            ("bob@company.com", DEV_TEST),
            ("carol@company.com", RESEARCH),
            ("not-an-email", DEV_TEST),
        ],
    );
    insta::assert_snapshot!(
        "bulk_text_rerun_skip_invalid",
        shown(&bulk(&env, &again, &["--skip-invalid"]))
    );
}

#[test]
fn bulk_json() {
    let _redact = redactions().bind_to_scope();
    let env = Env::default_proxy();
    let csv = mixed_roster(&env);
    let out = bulk(&env, &csv, &["--skip-invalid", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    insta::assert_snapshot!("bulk_json", json_stdout(&out));
}

#[test]
fn bulk_dry_run() {
    let _redact = redactions().bind_to_scope();
    let env = Env::default_proxy();
    let csv = mixed_roster(&env);
    insta::assert_snapshot!(
        "bulk_dry_run_text",
        shown(&bulk(&env, &csv, &["--skip-invalid", "--dry-run"]))
    );
    let out = bulk(&env, &csv, &["--skip-invalid", "--dry-run", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    insta::assert_snapshot!("bulk_dry_run_json", json_stdout(&out));
}

/// An audit file for `refresh`: one invitation expired (made 9 days ago), one still valid,
/// one accepted on the proxy.
fn refresh_setup() -> Env {
    let env = Env::default_proxy();
    onboard_ago(&env, &["expired@company.com"], Duration::days(9));
    onboard_ago(
        &env,
        &["valid@company.com", "accepted@company.com"],
        Duration::zero(),
    );
    assert!(
        env.emulator
            .accept_invitation(&invitation_id(&env, "accepted@company.com"))
    );
    env
}

#[test]
fn refresh_text() {
    let _redact = redactions().bind_to_scope();
    let env = refresh_setup();
    insta::assert_snapshot!("refresh_text", shown(&onboard(&env, &["refresh"])));
}

#[test]
fn refresh_json() {
    let _redact = redactions().bind_to_scope();
    let env = refresh_setup();
    let out = onboard(&env, &["refresh", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    insta::assert_snapshot!("refresh_json", json_stdout(&out));
}

#[test]
fn refresh_dry_run_json() {
    let _redact = redactions().bind_to_scope();
    let env = refresh_setup();
    let out = onboard(&env, &["refresh", "--dry-run", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    insta::assert_snapshot!("refresh_dry_run_json", json_stdout(&out));
}

/// An audit file with every state: pending, expired, accepted, failed, user deleted.
fn status_setup() -> Env {
    let env = Env::default_proxy();
    onboard_ago(&env, &["gone@company.com"], Duration::days(9));
    env.emulator.add_user("bob@company.com", &[]);
    onboard_ago(
        &env,
        &["accepted@company.com", "bob@company.com"],
        Duration::zero(),
    );
    assert!(
        env.emulator
            .accept_invitation(&invitation_id(&env, "accepted@company.com"))
    );
    let gone = env.record("gone@company.com")["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(env.emulator.delete_user(&gone));
    // Records the acceptance and the deleted user; nothing is renewed.
    let out = onboard(&env, &["refresh"]);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    onboard_ago(&env, &["expired@company.com"], Duration::days(9));
    let csv = roster(&env, "bad.csv", &[("not-an-email", RESEARCH)]);
    assert_eq!(bulk(&env, &csv, &["--skip-invalid"]).status.code(), Some(1));
    env
}

#[test]
fn status() {
    let _redact = redactions().bind_to_scope();
    let env = status_setup();
    insta::assert_snapshot!("status_text", shown(&onboard(&env, &["status"])));
    let out = onboard(&env, &["status", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    insta::assert_snapshot!("status_json", json_stdout(&out));
}

/// An audit file with someone stuck each way `doctor` looks for: an invitation that expires
/// within a day, accepted five days ago with no key, removed from the team on the proxy; and
/// Dev-Test as made by `/team/new` (members cannot create keys, no models named).
fn doctor_setup() -> Env {
    let env = Env::default_proxy();
    onboard_ago(&env, &["soon@company.com"], Duration::hours(6 * 24 + 12));
    onboard_ago(
        &env,
        &["accepted@company.com", "removed@company.com"],
        Duration::days(5),
    );
    env.emulator.set_clock_offset(-Duration::days(5));
    assert!(
        env.emulator
            .accept_invitation(&invitation_id(&env, "accepted@company.com"))
    );
    env.emulator.set_clock_offset(Duration::zero());
    let out = onboard(&env, &["status", "--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let removed = env.record("removed@company.com")["user_id"].clone();
    let body = serde_json::json!({ "team_id": DEV_TEST, "user_id": removed });
    assert_eq!(env.post(KEY, "/team/member_delete", body).0, 200);
    env
}

#[test]
fn doctor() {
    let _redact = redactions().bind_to_scope();
    let env = doctor_setup();
    insta::assert_snapshot!("doctor_text", shown(&onboard(&env, &["doctor"])));
    let out = onboard(&env, &["doctor", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    insta::assert_snapshot!("doctor_json", json_stdout(&out));
}
