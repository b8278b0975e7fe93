//! `onboard doctor`'s exit codes: 0 when everyone can work, 1 when an admin must act, 2 when
//! it cannot run; and what it reads (a CSV's rows, `--team`). Its output is pinned by the
//! snapshots (`tests/snapshots.rs`).

mod common;

use common::{DEV_TEST, Env};
use litellm_emulator::TeamLimits;
use serde_json::Value;

fn doctor(env: &Env, args: &[&str]) -> (Option<i32>, Value, String) {
    let out = env
        .onboard()
        .arg("doctor")
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code(), report, stderr)
}

fn checks(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["check"].as_str().unwrap(),
                f["subject"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn a_team_whose_members_cannot_make_keys_needs_an_admin_until_granted() {
    let env = Env::default_proxy();
    let (code, report, err) = doctor(&env, &["--team", "Dev-Test"]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(report["ok"], false);
    assert_eq!(
        checks(&report),
        [
            "no_key_permission team Dev-Test",
            "all_proxy_models team Dev-Test"
        ]
    );

    // Granted by an onboarding run, and the team names its models: all is well.
    let csv = env.write(
        "users.csv",
        &format!("user_email,team_id\na@company.com,{DEV_TEST}\n"),
    );
    let out = env
        .onboard()
        .arg(&csv)
        .arg("--grant-key-permissions")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let limits = TeamLimits {
        models: vec!["gpt-4o".into()],
        ..TeamLimits::default()
    };
    assert!(env.emulator.set_team_limits(DEV_TEST, &limits));
    let (code, report, err) = doctor(&env, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(report["ok"], true);
    assert_eq!(report["findings"], serde_json::json!([]));
    assert_eq!(
        (report["teams"].as_u64(), report["people"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(
        err.contains("all well: 1 team(s), 1 person(s) checked"),
        "{err}"
    );
}

#[test]
fn a_csv_s_rows_are_compared_with_the_team_s_member_budget() {
    let env = Env::default_proxy();
    let limits = TeamLimits {
        models: vec!["gpt-4o".into()],
        member_budget: Some(10.0),
        ..TeamLimits::default()
    };
    assert!(env.emulator.set_team_limits(DEV_TEST, &limits));
    let csv = env.write(
        "users.csv",
        &format!(
            "user_email,team_id,user_role,user_alias,max_budget\n\
             a@company.com,{DEV_TEST},internal_user,,50\n\
             b@company.com,{DEV_TEST},internal_user,,5\n\
             c@company.com,{DEV_TEST},internal_user,,20\n"
        ),
    );
    let (code, report, err) = doctor(&env, &[csv.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    let over: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "over_member_budget")
        .collect();
    assert_eq!(over.len(), 1, "{report}");
    assert_eq!(over[0]["people"], 2);
    assert_eq!(over[0]["member_budget"], 10.0);
    let no_keys = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "no_key_permission")
        .unwrap();
    assert_eq!(no_keys["people"], 3, "the CSV's people");
    assert_eq!(
        env.emulator.stats().write_requests,
        0,
        "doctor writes nothing"
    );
}

#[test]
fn an_unknown_team_or_a_missing_proxy_is_exit_2() {
    let env = Env::default_proxy();
    let (code, _, err) = doctor(&env, &["--team", "no-such-team"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("team \"no-such-team\" not found"), "{err}");
    let out = env
        .onboard()
        .args(["doctor", "--proxy-url", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
