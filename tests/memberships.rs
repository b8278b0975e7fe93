//! Memberships are sets read from the proxy: the CSV says who is in which teams, the proxy
//! says who is, and the plan is the difference — whatever `offboard --team`, `--prune` or
//! another admin (through the same endpoints the admin UI uses) did in between.

mod common;

use common::{DEV_TEST, Env, KEY, RESEARCH};
use serde_json::{Value, json};

/// The teams the emulator has `email`'s one user in, sorted.
fn teams_of(env: &Env, email: &str) -> Vec<String> {
    let users = env.emulator.users_with_email(email);
    assert_eq!(users.len(), 1, "{email}: {users:?}");
    let mut teams = users[0].teams.clone();
    teams.sort();
    teams
}

fn user_id(env: &Env, email: &str) -> String {
    env.emulator.users_with_email(email)[0].user_id.clone()
}

/// As another admin would in the UI: `/team/member_add` or `/team/member_delete` by id.
fn ui_member(env: &Env, path: &str, team: &str, email: &str) {
    let id = user_id(env, email);
    let body = match path {
        "/team/member_add" => json!({"team_id": team, "member": {"role": "user", "user_id": id}}),
        _ => json!({"team_id": team, "user_id": id}),
    };
    let (status, answer) = env.post(KEY, path, body);
    assert_eq!(status, 200, "{path}: {answer}");
}

fn run(env: &Env, args: &[&str]) -> (i32, String, String) {
    let out = env.onboard().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn actions(plan: &Value) -> Vec<&str> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect()
}

fn plan_of<'a>(plans: &'a [Value], email: &str) -> &'a Value {
    plans
        .iter()
        .find(|p| p["email"] == email)
        .unwrap_or_else(|| panic!("no plan for {email}: {plans:?}"))
}

fn sorted(mut teams: Vec<String>) -> Vec<String> {
    teams.sort();
    teams
}

#[test]
fn a_removal_is_not_permanent_a_re_run_puts_the_person_back() {
    let env = Env::ready_proxy();
    let csv = env.write(
        "users.csv",
        "user_email,team_id\nrob@company.com,Dev-Test\n",
    );
    assert_eq!(run(&env, &[csv.to_str().unwrap()]).0, 0);
    let (code, out, err) = run(
        &env,
        &[
            "offboard",
            "rob@company.com",
            "--team",
            DEV_TEST,
            "--dry-run",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("rob@company.com: remove_from_team Dev-Test") && !out.contains(DEV_TEST),
        "the plan names the team by its alias: {out}"
    );
    let (code, _, err) = run(
        &env,
        &["offboard", "rob@company.com", "--team", "Dev-Test", "--yes"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(teams_of(&env, "rob@company.com").is_empty());

    // The same CSV: rob is still invited (no new link), and back in the team.
    let plans = env.dry_run_plans(&csv);
    let rob = plan_of(&plans, "rob@company.com");
    assert_eq!(actions(rob), ["add_to_team"], "{rob}");
    assert_eq!(rob["skip"], "already_invited");
    let (code, _, err) = run(&env, &[csv.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(teams_of(&env, "rob@company.com"), [DEV_TEST]);
    let record = env.record("rob@company.com");
    assert_eq!(record["teams"], json!([DEV_TEST]));
    assert_eq!(record["team_id"], DEV_TEST);
    assert!(record.get("removed_from_teams").is_none(), "{record}");

    // `onboard invite` of a removed person puts them back too.
    assert_eq!(
        run(
            &env,
            &["offboard", "rob@company.com", "--team", "Dev-Test", "--yes"]
        )
        .0,
        0
    );
    let (code, _, err) = run(
        &env,
        &["invite", "rob@company.com", "--team", "Dev-Test", "-q"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(teams_of(&env, "rob@company.com"), [DEV_TEST]);
}

#[test]
fn a_membership_removed_in_the_ui_is_restored_and_one_added_there_is_kept() {
    let env = Env::ready_proxy();
    let csv = env.write(
        "users.csv",
        "user_email,teams\nann@company.com,\"Dev-Test,Research\"\n",
    );
    assert_eq!(run(&env, &[csv.to_str().unwrap()]).0, 0);
    ui_member(&env, "/team/member_delete", RESEARCH, "ann@company.com");
    let plans = env.dry_run_plans(&csv);
    assert_eq!(actions(plan_of(&plans, "ann@company.com")), ["add_to_team"]);
    assert_eq!(run(&env, &[csv.to_str().unwrap()]).0, 0);
    assert_eq!(
        teams_of(&env, "ann@company.com"),
        sorted(vec![DEV_TEST.into(), RESEARCH.into()])
    );
    // Nothing left to do.
    let plans = env.dry_run_plans(&csv);
    assert!(actions(plan_of(&plans, "ann@company.com")).is_empty());
}

#[test]
fn prune_keeps_every_team_a_row_names_and_a_second_run_plans_nothing() {
    let env = Env::ready_proxy();
    let csv = env.write(
        "users.csv",
        "user_email,teams\na@company.com,\"Dev-Test,Research\"\nb@company.com,Research\n",
    );
    assert_eq!(run(&env, &[csv.to_str().unwrap()]).0, 0);
    // Another admin puts b in Dev-Test: the CSV says b is in Research only.
    ui_member(&env, "/team/member_add", DEV_TEST, "b@company.com");

    let csv_arg = csv.to_str().unwrap();
    let (code, out, err) = run(&env, &[csv_arg, "--prune", "--dry-run", "--json"]);
    assert_eq!(code, 0, "{err}");
    let plans: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert!(
        actions(plan_of(&plans, "a@company.com")).is_empty(),
        "{plans:?}"
    );
    let b = plan_of(&plans, "b@company.com");
    assert_eq!(actions(b), ["remove_from_team"]);
    assert_eq!(b["remove_from"], json!([DEV_TEST]));

    // The text plan names the team each membership action is about, by its alias.
    let (code, out, err) = run(&env, &[csv_arg, "--prune", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("b@company.com:"))
        .unwrap();
    assert!(
        line.contains("remove_from_team Dev-Test") && !line.contains(RESEARCH),
        "{line}"
    );

    let (code, _, err) = run(&env, &[csv_arg, "--prune", "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        teams_of(&env, "a@company.com"),
        sorted(vec![DEV_TEST.into(), RESEARCH.into()])
    );
    assert_eq!(teams_of(&env, "b@company.com"), [RESEARCH]);
    let record = env.record("b@company.com");
    assert_eq!(record["teams"], json!([RESEARCH]), "{record}");
    assert_eq!(record["removed_from_teams"], json!([DEV_TEST]));

    let (code, out, _) = run(&env, &[csv_arg, "--prune", "--dry-run", "--json"]);
    assert_eq!(code, 0);
    let plans: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert!(
        plans.iter().all(|p| actions(p).is_empty()),
        "a second run plans nothing: {plans:?}"
    );
}

#[test]
fn records_tell_the_truth_after_a_prune() {
    let env = Env::ready_proxy();
    let csv = env.write(
        "users.csv",
        "user_email,team_id\nstay@company.com,Dev-Test\nleave@company.com,Dev-Test\n",
    );
    let csv_arg = csv.to_str().unwrap();
    assert_eq!(run(&env, &[csv_arg]).0, 0);
    // A member made in the UI, whom the audit file does not know.
    let ui = env.emulator.add_user("ui-made@company.com", &[DEV_TEST]);
    let only_stay = env.write(
        "stay.csv",
        "user_email,team_id\nstay@company.com,Dev-Test\n",
    );
    let (code, _, err) = run(&env, &[only_stay.to_str().unwrap(), "--prune", "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert!(teams_of(&env, "leave@company.com").is_empty());
    assert!(env.emulator.user(&ui).unwrap().teams.is_empty());

    // Pruned out of their only team (their invitation deleted): removed, not "sso".
    let leave = env.record("leave@company.com");
    assert_eq!(leave["status"], "success", "{leave}");
    assert!(leave["error"].is_null() && leave["invitation_id"].is_null());
    assert_eq!(leave["removed_from_teams"], json!([DEV_TEST]));
    assert!(leave.get("teams").is_none(), "{leave}");
    // The UI-made member: never "failed" with no error.
    let made = env.record("ui-made@company.com");
    assert_eq!(made["status"], "success", "{made}");
    assert_eq!(made["removed_from_teams"], json!([DEV_TEST]));

    let (code, out, err) = run(&env, &["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<Value> = serde_json::from_str(&out).unwrap();
    let state = |email: &str| {
        rows.iter()
            .find(|r| r["email"] == email)
            .map(|r| r["state"].clone())
            .unwrap_or_else(|| panic!("{email} not in {out}"))
    };
    assert_eq!(state("leave@company.com"), "removed");
    assert_eq!(state("ui-made@company.com"), "removed");
    assert_eq!(state("stay@company.com"), "pending");
    let (_, table, _) = run(&env, &["status"]);
    let leave_row = table
        .lines()
        .find(|l| l.starts_with("leave@company.com"))
        .unwrap();
    assert!(
        leave_row.contains(&format!("-{DEV_TEST}")) && leave_row.contains("removed from teams"),
        "{leave_row}"
    );
}

#[test]
fn prune_plans_no_removal_it_would_not_carry_out_for_a_person_who_fails() {
    let env = Env::ready_proxy();
    // Legacy duplicates: two users with one email, one of them in Dev-Test, which the CSV
    // names for someone else only.
    env.emulator.add_user("twin@company.com", &[DEV_TEST]);
    env.emulator.add_user("twin@company.com", &[]);
    let csv = env.write(
        "users.csv",
        "user_email,team_id\ntwin@company.com,Research\nother@company.com,Dev-Test\n",
    );
    let csv_arg = csv.to_str().unwrap();
    let (code, out, err) = run(&env, &[csv_arg, "--prune", "--dry-run", "--json"]);
    assert_eq!(code, 1, "several users is a failure: {err}");
    let plans: Vec<Value> = serde_json::from_str(&out).unwrap();
    let twin = plan_of(&plans, "twin@company.com");
    assert_eq!(twin["skip"], "several_users");
    assert!(actions(twin).is_empty(), "{twin}");
}

#[test]
fn a_user_found_but_not_yet_in_the_team_is_recorded_even_when_the_team_add_fails() {
    use litellm_emulator::FaultConfig;
    let env = Env::ready_proxy();
    // Made in the UI in no team; the run finds it when /user/new says it exists.
    let id = env.emulator.add_user("ui@company.com", &[]);
    env.emulator.set_faults(FaultConfig {
        fail_before_commit: 1.0,
        routes: vec!["/team/member_add".into()],
        ..FaultConfig::default()
    });
    let csv = env.write("users.csv", "user_email,team_id\nui@company.com,Dev-Test\n");
    let (code, _, err) = run(
        &env,
        &[csv.to_str().unwrap(), "--bulk", "never", "--retries", "0"],
    );
    assert_eq!(code, 1, "{err}");
    let record = env.record("ui@company.com");
    assert_eq!(record["user_id"], id.as_str(), "the user is kept: {record}");
    assert_eq!(record["status"], "failed");
    assert!(record.get("teams").is_none(), "not in the team: {record}");
    // The next run adds them, creating nothing.
    env.emulator.set_faults(FaultConfig::default());
    assert_eq!(run(&env, &[csv.to_str().unwrap()]).0, 0);
    assert_eq!(teams_of(&env, "ui@company.com"), [DEV_TEST]);
    assert_eq!(env.emulator.users_with_email("ui@company.com").len(), 1);
}
