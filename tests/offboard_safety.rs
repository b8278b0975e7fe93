//! What offboarding and pruning must never do without being told (or at all): remove a team
//! admin, touch `default_user_id`, write before the go-ahead; and what an offboard input and
//! its `--json` hold. Against the emulator.

mod common;

use common::{DEV_TEST, Env, KEY};
use litellm_emulator::EmulatorConfig;
use serde_json::Value;

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn user_id(env: &Env, email: &str) -> String {
    let users = env.emulator.users_with_email(email);
    assert_eq!(users.len(), 1, "{email}: {users:?}");
    users[0].user_id.clone()
}

fn is_member(env: &Env, team: &str, user_id: &str) -> bool {
    env.emulator
        .team_members(team)
        .iter()
        .any(|m| m.user_id.as_deref() == Some(user_id))
}

/// The dry run's plans as JSON objects; the dry run exits as a run of the plan would: 1 when
/// it records a refusal or a failure, else 0.
fn dry_plans(env: &Env, args: &[&str]) -> Vec<Value> {
    let dry = env
        .onboard()
        .args(args)
        .args(["--dry-run", "--json"])
        .output()
        .unwrap();
    let plans: Vec<Value> = serde_json::from_slice(&dry.stdout).expect("the dry run prints JSON");
    let refused = [
        "proxy_admin",
        "team_admin",
        "default_user",
        "several_users",
        "lookup_failed",
    ];
    let fails = plans
        .iter()
        .any(|p| refused.iter().any(|r| p["skip"] == *r));
    assert_eq!(
        dry.status.code(),
        Some(i32::from(fails)),
        "{}",
        stderr(&dry)
    );
    plans
}

/// A plan that does nothing for this reason, saying `why`.
fn assert_skipped(plan: &Value, skip: &str, why: &str) {
    assert_eq!(plan["skip"], skip, "{plan}");
    assert_eq!(plan["actions"], serde_json::json!([]), "{plan}");
    let reason = plan["reason"].as_str().unwrap_or_default();
    assert!(reason.contains(why), "{plan}");
}

#[test]
fn a_team_admin_is_removed_from_the_team_only_with_include_admins() {
    let env = Env::default_proxy();
    // A team admin, made as the admin UI's bulk invite makes one.
    let (status, _) = env.post(
        KEY,
        "/management/v1/users/bulk",
        serde_json::json!({"users": [{"user_email": "lead@company.com", "user_role": "internal_user",
            "teams": [{"team_id": DEV_TEST, "user_role": "admin"}]}]}),
    );
    assert_eq!(status, 200);
    let ann = env.emulator.add_user("ann@company.com", &[DEV_TEST]);
    let lead = user_id(&env, "lead@company.com");
    assert_eq!(
        env.emulator.team_role(DEV_TEST, &lead).as_deref(),
        Some("admin")
    );
    let args = [
        "offboard",
        "lead@company.com",
        "ann@company.com",
        "--team",
        DEV_TEST,
    ];

    let plans = dry_plans(&env, &args);
    assert_skipped(&plans[0], "team_admin", "--include-admins");
    assert_eq!(plans[1]["actions"], serde_json::json!(["remove_from_team"]));

    // Refused as a proxy admin is: the plan says so, the others go, exit 1.
    let run = env.onboard().args(args).arg("--yes").output().unwrap();
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let err = stderr(&run);
    assert!(
        err.contains("lead@company.com: refused") && err.contains("--include-admins"),
        "{err}"
    );
    assert!(err.contains("1 team admins refused"), "{err}");
    assert!(is_member(&env, DEV_TEST, &lead), "the team admin is kept");
    assert!(!is_member(&env, DEV_TEST, &ann));

    env.onboard()
        .args(args)
        .args(["--yes", "--include-admins"])
        .assert()
        .code(0);
    assert!(!is_member(&env, DEV_TEST, &lead));
    assert!(
        !env.emulator.users_with_email("lead@company.com").is_empty(),
        "the user is kept"
    );
}

#[test]
fn default_user_id_is_never_offboarded_whatever_the_flags() {
    let env = Env::default_proxy();
    // The master key's own user, given an email in the admin UI; a team admin of Dev-Test.
    env.emulator
        .set_email("default_user_id", "root@company.com");
    assert!(is_member(&env, DEV_TEST, "default_user_id"));

    for extra in [&[][..], &["--team", DEV_TEST][..]] {
        let mut args = vec!["offboard", "root@company.com", "--include-admins"];
        args.extend_from_slice(extra);
        let plans = dry_plans(&env, &args);
        assert_skipped(&plans[0], "default_user", "default_user_id");
        env.emulator.reset_stats();
        let run = env.onboard().args(&args).arg("--yes").output().unwrap();
        assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
        assert!(stderr(&run).contains("default_user_id"), "{}", stderr(&run));
        assert_eq!(env.emulator.stats().write_requests, 0);
        assert!(env.emulator.user("default_user_id").is_some());
        assert!(is_member(&env, DEV_TEST, "default_user_id"));
    }
}

#[test]
fn fix_default_user_writes_nothing_before_the_go_ahead() {
    let env = Env::new(EmulatorConfig {
        default_user: false,
        ..EmulatorConfig::default()
    });
    // A member the CSV does not name: the run prunes, so it asks for confirmation.
    env.emulator.add_user("gone@company.com", &[DEV_TEST]);
    let csv = env.write(
        "team.csv",
        &format!("user_email,team_id\nkeep@company.com,{DEV_TEST}\n"),
    );
    let no_row = |env: &Env| env.emulator.user("default_user_id").is_none();

    let dry = env
        .onboard()
        .arg(&csv)
        .args(["--prune", "--fix-default-user", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    assert!(
        stderr(&dry).contains("would create the missing default_user_id row"),
        "{}",
        stderr(&dry)
    );
    assert!(no_row(&env));

    // Off a terminal without --yes: refused, and nothing written, the row included.
    env.emulator.reset_stats();
    let refused = env
        .onboard()
        .arg(&csv)
        .args(["--prune", "--fix-default-user"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("--yes"), "{}", stderr(&refused));
    assert!(no_row(&env), "the row was created before the confirmation");
    assert_eq!(env.emulator.stats().write_requests, 0);

    // With the go-ahead, the row is made and the run goes through.
    env.onboard()
        .arg(&csv)
        .args(["--prune", "--fix-default-user", "--yes"])
        .assert()
        .code(0);
    assert!(!no_row(&env));
    assert!(env.record("keep@company.com")["invitation_id"].is_string());
    let gone = user_id(&env, "gone@company.com");
    assert!(!is_member(&env, DEV_TEST, &gone));
}

#[test]
fn an_offboard_csv_is_read_for_its_emails_only() {
    let env = Env::default_proxy();
    env.emulator.add_user("ann@company.com", &[DEV_TEST]);
    // Cells an onboarding run refuses: offboarding does not use them.
    let list = env.write(
        "leavers.csv",
        "user_email,team_id,user_role,max_budget,budget_duration,department\n\
         ann@company.com,,boss,0,every fortnight,Sales\n",
    );
    let out = env
        .onboard()
        .arg("offboard")
        .arg(&list)
        .args(["--dry-run", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plans: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plans.len(), 1);
    assert_eq!(plans[0]["email"], "ann@company.com");
    assert_eq!(plans[0]["actions"], serde_json::json!(["delete_user"]));
    assert!(
        !stderr(&out).contains("not used"),
        "no warning about columns offboarding ignores: {}",
        stderr(&out)
    );

    // A bad email is still refused, by file, line and field, before anything is read.
    let bad = env.write(
        "bad.csv",
        "user_email,max_budget\nann@company.com,0\nnot-an-email,5\n",
    );
    env.emulator.reset_stats();
    let refused = env
        .onboard()
        .arg("offboard")
        .arg(&bad)
        .arg("--yes")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let err = stderr(&refused);
    assert!(
        err.contains("bad.csv") && err.contains("line 3: user_email:"),
        "{err}"
    );
    assert_eq!(env.emulator.stats().total_requests, 0, "{err}");
}

#[test]
fn offboard_json_lists_every_person_of_the_plan() {
    let env = Env::default_proxy();
    env.emulator.add_user("ann@company.com", &[DEV_TEST]);
    // Legacy duplicates: two users with one email.
    env.emulator.add_user("twice@company.com", &[]);
    env.emulator.add_user("Twice@Company.com", &[]);
    let run = env
        .onboard()
        .args([
            "offboard",
            "twice@company.com",
            "ghost@company.com",
            "ann@company.com",
            "--yes",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let items: Vec<Value> = serde_json::from_slice(&run.stdout).expect("one JSON array");
    let mut by_email: Vec<(&str, &str)> = items
        .iter()
        .map(|i| (i["email"].as_str().unwrap(), i["result"].as_str().unwrap()))
        .collect();
    by_email.sort();
    assert_eq!(
        by_email,
        [
            ("ann@company.com", "done"),
            ("ghost@company.com", "not_on_proxy"),
            ("twice@company.com", "failed"),
        ]
    );
    let twice = items
        .iter()
        .find(|i| i["email"] == "twice@company.com")
        .unwrap();
    assert_eq!(twice["reason"], "several users with this email");
    assert!(
        twice["error"].as_str().unwrap().contains("2 users"),
        "{twice}"
    );

    // Nothing to do but skips: still one array, everyone in it.
    let run = env
        .onboard()
        .args([
            "offboard",
            "twice@company.com",
            "ghost@company.com",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let items: Vec<Value> = serde_json::from_slice(&run.stdout).expect("one JSON array");
    assert_eq!(items.len(), 2, "{items:?}");
}
