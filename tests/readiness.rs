//! Onboarded means able to work: pre-flight warns, per team and with counts, of what would stop
//! people (members who cannot create keys, a blocked or spent team, no UI where the links
//! point), and `--grant-key-permissions` lets members create their keys, on the emulator
//! (which refuses a member's key request as 1.106.2 does, `scale/team_member_permissions.json`).

mod common;

use common::{DEV_TEST, Env, KEY, RESEARCH};
use litellm_emulator::{EmulatorConfig, TeamLimits};
use serde_json::{Value, json};

const GRANTED: [&str; 5] = [
    "/key/generate",
    "/key/update",
    "/key/delete",
    "/key/info",
    "/key/list",
];

fn csv(env: &Env, team: &str, n: usize) -> std::path::PathBuf {
    let mut text = String::from("user_email,team_id\n");
    for i in 0..n {
        text.push_str(&format!("p{i}@company.com,{team}\n"));
    }
    env.write("users.csv", &text)
}

/// A member's own key asking for a key in `team`, as a person does after onboarding: the
/// admin makes them a personal key, then they ask `/key/generate` for the team with it.
fn member_key_request(env: &Env, email: &str, team: &str) -> (u16, Value) {
    let user_id = env.record(email)["user_id"].as_str().unwrap().to_string();
    let (status, key) = env.post(KEY, "/key/generate", json!({ "user_id": user_id }));
    assert_eq!(status, 200, "{key}");
    let own = key["key"].as_str().unwrap();
    env.post(own, "/key/generate", json!({ "team_id": team }))
}

fn permissions(env: &Env, team: &str) -> Vec<String> {
    env.emulator.team(team).unwrap().team_member_permissions
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `onboard <csv> args…`, which must exit 0.
fn onboard_ok(env: &Env, csv: &std::path::Path, args: &[&str]) -> std::process::Output {
    let out = env.onboard().arg(csv).args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    out
}

/// The plans of `--grant-key-permissions --dry-run --json`.
fn planned(env: &Env, csv: &std::path::Path) -> Value {
    let out = onboard_ok(
        env,
        csv,
        &["--grant-key-permissions", "--dry-run", "--json"],
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_team_whose_members_cannot_create_keys_is_warned_of_with_its_people() {
    let env = Env::default_proxy();
    let mut text = String::from("user_email,team_id\n");
    for i in 0..3 {
        text.push_str(&format!("p{i}@company.com,{DEV_TEST}\n"));
    }
    text.push_str(&format!("r0@company.com,{RESEARCH}\n"));
    let path = env.write("users.csv", &text);
    let out = onboard_ok(&env, &path, &[]);
    let err = stderr(&out);
    assert!(
        err.contains("warning: team Dev-Test (3 people): members cannot create keys: /key/generate is not in its team_member_permissions (pass --grant-key-permissions)"),
        "{err}"
    );
    assert!(
        err.contains("team Research (1 person): members cannot create keys"),
        "{err}"
    );
    assert!(
        !err.contains("every model of the proxy"),
        "a run warns only of what stops people working; the models note is doctor's: {err}"
    );
    // What the warning is about: the person cannot make a key for their team.
    let (status, refused) = member_key_request(&env, "p0@company.com", DEV_TEST);
    assert_eq!(status, 401, "{refused}");
    assert_eq!(refused["error"]["type"], "team_member_permission_error");
    assert!(
        permissions(&env, DEV_TEST).is_empty(),
        "nothing granted unasked"
    );
}

#[test]
fn grant_key_permissions_adds_exactly_the_key_routes_once_and_members_can_then_make_keys() {
    let env = Env::default_proxy();
    let path = csv(&env, DEV_TEST, 3);
    let out = onboard_ok(&env, &path, &["--grant-key-permissions"]);
    assert!(
        !stderr(&out).contains("members cannot create keys"),
        "granted, not warned: {}",
        stderr(&out)
    );
    assert_eq!(permissions(&env, DEV_TEST), GRANTED);
    let stats = env.emulator.stats();
    assert_eq!(stats.per_route.get("/team/permissions_update"), Some(&1));
    // Recorded on the record of the person whose plan carried it.
    let grants: Vec<Value> = env
        .records()
        .iter()
        .flat_map(|r| {
            r["granted_permissions"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(grants[0]["team_id"], DEV_TEST);
    assert_eq!(grants[0]["permissions"], json!(GRANTED));
    assert_eq!(
        env.record("p0@company.com")["granted_permissions"],
        json!([grants[0]])
    );

    let (status, made) = member_key_request(&env, "p1@company.com", DEV_TEST);
    assert_eq!(status, 200, "{made}");
    assert_eq!(made["team_id"], DEV_TEST);

    // A second run has nothing to grant.
    env.emulator.reset_stats();
    let plans = planned(&env, &path);
    assert!(
        plans
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["actions"] == json!([])),
        "{plans}"
    );
    onboard_ok(&env, &path, &["--grant-key-permissions"]);
    let stats = env.emulator.stats();
    assert_eq!(stats.per_route.get("/team/permissions_update"), None);
    assert_eq!(stats.per_route.get("/team/permissions_list"), None);
    assert_eq!(permissions(&env, DEV_TEST), GRANTED);
}

#[test]
fn a_grant_keeps_what_the_team_had() {
    let env = Env::default_proxy();
    let had = json!(["/spend/logs", "/key/info"]);
    let (status, _) = env.post(
        KEY,
        "/team/permissions_update",
        json!({ "team_id": DEV_TEST, "team_member_permissions": had }),
    );
    assert_eq!(status, 200);
    let path = csv(&env, DEV_TEST, 1);
    onboard_ok(&env, &path, &["--grant-key-permissions"]);
    assert_eq!(
        permissions(&env, DEV_TEST),
        [
            "/spend/logs",
            "/key/info",
            "/key/generate",
            "/key/update",
            "/key/delete",
            "/key/list"
        ]
    );
    assert_eq!(
        env.record("p0@company.com")["granted_permissions"][0]["permissions"],
        json!(["/key/generate", "/key/update", "/key/delete", "/key/list"])
    );
}

#[test]
fn a_dry_run_shows_the_grant_and_changes_nothing() {
    let env = Env::default_proxy();
    let path = csv(&env, DEV_TEST, 2);
    let plans = planned(&env, &path);
    let granting: Vec<&Value> = plans
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["actions"]
                .as_array()
                .unwrap()
                .contains(&json!("grant_team_permissions"))
        })
        .collect();
    assert_eq!(granting.len(), 1, "once per team: {plans}");
    assert_eq!(granting[0]["email"], "p0@company.com");
    assert_eq!(
        granting[0]["grants"],
        json!([{ "team": DEV_TEST, "permissions": GRANTED }])
    );
    let out = onboard_ok(&env, &path, &["--grant-key-permissions", "--dry-run"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "p0@company.com: team {DEV_TEST}: members may call /key/generate, /key/update, /key/delete, /key/info, /key/list"
        )),
        "{text}"
    );
    assert!(permissions(&env, DEV_TEST).is_empty());
    assert_eq!(
        env.emulator.stats().write_requests,
        0,
        "a dry run writes nothing"
    );
}

#[test]
fn blocked_and_spent_teams_and_a_missing_ui_are_warned_of() {
    let env = Env::new(EmulatorConfig {
        admin_ui_disabled: true,
        ..EmulatorConfig::default()
    });
    let limits = TeamLimits {
        blocked: true,
        spend: 12.5,
        max_budget: Some(10.0),
        models: vec!["gpt-4o".into()],
        member_budget: None,
    };
    assert!(env.emulator.set_team_limits(DEV_TEST, &limits));
    let path = csv(&env, DEV_TEST, 2);
    let out = onboard_ok(&env, &path, &["--dry-run"]);
    let err = stderr(&out);
    for expected in [
        "team Dev-Test (2 people): the team is blocked: its members' requests are refused",
        "team Dev-Test (2 people): the team's budget is spent (12.50 of 10.00)",
        "the admin UI is not served where the links point (",
    ] {
        assert!(err.contains(expected), "{expected}\n{err}");
    }
    assert!(!err.contains("names no models"), "{err}");
}

#[test]
fn invite_grants_too_and_its_stdout_stays_the_link() {
    let env = Env::default_proxy();
    let out = env
        .onboard()
        .args(["invite", "solo@company.com", "--team", "Research"])
        .arg("--grant-key-permissions")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.contains("/ui/onboarding?invitation_id="), "{stdout}");
    assert_eq!(permissions(&env, RESEARCH), GRANTED);
    assert!(
        permissions(&env, DEV_TEST).is_empty(),
        "only the target team"
    );
    let (status, made) = member_key_request(&env, "solo@company.com", RESEARCH);
    assert_eq!(status, 200, "{made}");
}
