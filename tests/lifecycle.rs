//! The whole lifecycle: the admin UI's CSV template, re-runs that reconcile, export, SSO
//! proxies (`--no-invite`) and the `litellm-changed-by` header.

mod common;

use common::{DEV_TEST, Env, RESEARCH};
use litellm_emulator::{EmulatorConfig, UserRecord};
use serde_json::{Value, json};

/// The admin UI's "Bulk Invite Users" template, as downloaded, plus `metadata` and `team_role`.
fn ui_csv(alice_budget: &str, alice_models: &str, bob_teams: &str, bob_alias: &str) -> String {
    format!(
        "user_email,user_role,teams,max_budget,budget_duration,models,metadata,team_role,user_alias\n\
         alice@company.com,internal_user_viewer,\"{DEV_TEST},Research\",{alice_budget},30d,\"{alice_models}\",\"{{\"\"dept\"\":\"\"R&D\"\"}}\",user,\n\
         bob@company.com,internal_user,{bob_teams},10,1mo,no-default-models,,,{bob_alias}\n"
    )
}

fn user(env: &Env, email: &str) -> UserRecord {
    let mut found = env.emulator.users_with_email(email);
    assert_eq!(found.len(), 1, "{email}: {found:?}");
    found.remove(0)
}

fn sorted(mut teams: Vec<String>) -> Vec<String> {
    teams.sort();
    teams
}

#[test]
fn the_ui_template_onboards_every_setting() {
    let env = Env::default_proxy();
    let csv = env.write(
        "users.csv",
        &ui_csv("25", "gpt-4o, gpt-4o-mini", "Dev-Test", ""),
    );
    env.onboard().arg(&csv).assert().code(0);

    let alice = user(&env, "alice@company.com");
    assert_eq!(alice.user_role.as_deref(), Some("internal_user_viewer"));
    assert_eq!(alice.max_budget, Some(25.0));
    assert_eq!(alice.budget_duration.as_deref(), Some("30d"));
    assert_eq!(alice.models, ["gpt-4o", "gpt-4o-mini"]);
    assert_eq!(
        alice.metadata,
        json!({"dept": "R&D", "created_by_tool": "onboard"})
    );
    assert_eq!(
        sorted(alice.teams.clone()),
        sorted(vec![DEV_TEST.into(), RESEARCH.into()])
    );
    assert_eq!(
        env.emulator.team_role(RESEARCH, &alice.user_id).as_deref(),
        Some("user")
    );
    let bob = user(&env, "bob@company.com");
    assert_eq!(bob.max_budget, Some(10.0));
    assert_eq!(bob.budget_duration.as_deref(), Some("1mo"));
    assert_eq!(bob.models, ["no-default-models"]);
    assert_eq!(bob.metadata, json!({"created_by_tool": "onboard"}));
    assert_eq!(bob.teams, [DEV_TEST]);

    // The record's team is the row's first.
    assert_eq!(env.record("alice@company.com")["team_id"], DEV_TEST);
    let stats = env.emulator.stats();
    // Created by /user/new or in bulk, as the proxy allows.
    assert_eq!(stats.count("/user/new") + stats.bulk_rows_created, 2);
    assert_eq!(stats.count("/invitation/new"), 2);
    assert_eq!(
        stats.count("/team/member_add"),
        0,
        "teams joined on creation"
    );
}

#[test]
fn the_ui_template_file_works_as_downloaded() {
    let env = Env::default_proxy();
    // `bulk_users_template.csv` as the admin UI writes it (Papa.unparse: CRLF, quoted lists),
    // with real team ids in place of `team-id-1,team-id-2`.
    let csv = env.write(
        "bulk_users_template.csv",
        &format!(
            "user_email,user_role,teams,max_budget,budget_duration,models\r\n\
             user@example.com,internal_user,\"{DEV_TEST},{RESEARCH}\",100,30d,\"gpt-3.5-turbo,gpt-4\""
        ),
    );
    env.onboard().arg(&csv).assert().code(0);
    let created = user(&env, "user@example.com");
    assert_eq!(created.max_budget, Some(100.0));
    assert_eq!(created.budget_duration.as_deref(), Some("30d"));
    assert_eq!(created.models, ["gpt-3.5-turbo", "gpt-4"]);
    assert_eq!(created.teams.len(), 2);
    // The older UI's role names are refused with the proxy's name for them.
    let old = env.write(
        "old.csv",
        "user_email,user_role,teams\nv@example.com,internal_user_view_only,Dev-Test\n",
    );
    let out = env.onboard().arg(&old).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the proxy's name is internal_user_viewer")
    );
}

#[test]
fn re_runs_update_only_what_changed_and_invite_nobody() {
    let env = Env::default_proxy();
    let first = env.write("v1.csv", &ui_csv("25", "gpt-4o", "Dev-Test", ""));
    env.onboard().arg(&first).assert().code(0);
    let users_before = env.emulator.user_count();
    let alice_link = env.record("alice@company.com")["onboarding_link"].clone();

    // Alice's budget and models change; Bob gets a second team and a display name.
    let second = env.write(
        "v2.csv",
        &ui_csv(
            "50",
            "gpt-4o-mini",
            &format!("\"Dev-Test,{RESEARCH}\""),
            "Bob B",
        ),
    );
    env.emulator.reset_stats();
    let dry = env
        .onboard()
        .args([second.to_str().unwrap(), "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(dry.status.code(), Some(0));
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        text.contains("alice@company.com: max_budget 25 → 50"),
        "{text}"
    );
    assert!(
        text.contains("alice@company.com: models gpt-4o → gpt-4o-mini"),
        "{text}"
    );
    assert!(
        text.contains("bob@company.com: user_alias (none) → Bob B"),
        "{text}"
    );
    let dry_json = env
        .onboard()
        .args([second.to_str().unwrap(), "--dry-run", "--json"])
        .output()
        .unwrap();
    let plans: Vec<Value> = serde_json::from_slice(&dry_json.stdout).unwrap();
    let alice_plan = plans
        .iter()
        .find(|p| p["email"] == "alice@company.com")
        .unwrap();
    assert_eq!(alice_plan["actions"], json!(["update_user"]));
    assert_eq!(
        alice_plan["changes"][0],
        json!({"field": "max_budget", "from": 25.0, "to": 50.0})
    );
    let bob_plan = plans
        .iter()
        .find(|p| p["email"] == "bob@company.com")
        .unwrap();
    assert_eq!(bob_plan["actions"], json!(["update_user", "add_to_team"]));
    assert_eq!(
        env.emulator.stats().write_requests,
        0,
        "dry runs write nothing"
    );

    env.emulator.reset_stats();
    let run = env.onboard().arg(&second).output().unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stats = env.emulator.stats();
    assert_eq!(stats.count("/user/update"), 2);
    assert_eq!(stats.count("/team/member_add"), 1);
    assert_eq!(stats.count("/invitation/new"), 0, "no new invitation");
    assert_eq!(stats.count("/user/new"), 0);
    assert_eq!(stats.write_requests, 3);
    assert_eq!(
        env.emulator.user_count(),
        users_before,
        "no user created by an update"
    );
    let alice = user(&env, "alice@company.com");
    assert_eq!(alice.max_budget, Some(50.0));
    assert_eq!(alice.models, ["gpt-4o-mini"]);
    assert_eq!(alice.budget_duration.as_deref(), Some("30d"));
    assert_eq!(
        alice.metadata,
        json!({"dept": "R&D", "created_by_tool": "onboard"}),
        "untouched: the same cell"
    );
    let bob = user(&env, "bob@company.com");
    assert_eq!(bob.user_alias.as_deref(), Some("Bob B"));
    assert_eq!(
        sorted(bob.teams.clone()),
        sorted(vec![DEV_TEST.into(), RESEARCH.into()])
    );
    assert_eq!(
        env.record("alice@company.com")["onboarding_link"],
        alice_link
    );
    assert_eq!(env.record("bob@company.com")["team_id"], DEV_TEST);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("2 updated"), "{stderr}");

    // A third run has nothing to do.
    env.emulator.reset_stats();
    env.onboard().arg(&second).assert().code(0);
    assert_eq!(env.emulator.stats().write_requests, 0);

    // An empty cell is "not managed here", never "clear it".
    let sparse = env.write(
        "sparse.csv",
        "user_email,user_role,teams,max_budget,budget_duration,models\nalice@company.com,,Dev-Test,,,\n",
    );
    env.emulator.reset_stats();
    env.onboard().arg(&sparse).assert().code(0);
    assert_eq!(env.emulator.stats().write_requests, 0);
    assert_eq!(user(&env, "alice@company.com").max_budget, Some(50.0));
}

#[test]
fn users_made_elsewhere_are_reconciled_by_the_id_just_read() {
    let env = Env::default_proxy();
    // Made in the UI, stored with another case: /user/update by email would miss and create.
    env.emulator.add_user("Carol@Company.com", &[DEV_TEST]);
    let csv = env.write(
        "users.csv",
        "user_email,teams,max_budget\ncarol@company.com,Dev-Test,40\n",
    );
    env.onboard().arg(&csv).assert().code(0);
    let stats = env.emulator.stats();
    assert_eq!(stats.count("/user/update"), 1);
    assert_eq!(stats.count("/user/new"), 0);
    assert_eq!(env.emulator.users_with_email("carol@company.com").len(), 1);
    assert_eq!(user(&env, "carol@company.com").max_budget, Some(40.0));
}

#[test]
fn a_plain_csv_re_run_sends_nothing_new() {
    let env = Env::default_proxy();
    let csv = env.write(
        "users.csv",
        &format!("user_email,team_id\na@company.com,{DEV_TEST}\nb@company.com,Research\n"),
    );
    env.onboard().arg(&csv).assert().code(0);
    env.emulator.reset_stats();
    env.onboard().arg(&csv).assert().code(0);
    let stats = env.emulator.stats();
    assert_eq!(stats.write_requests, 0);
    assert_eq!(
        stats.count("/user/list"),
        1,
        "the admin check only: {stats:?}"
    );
    assert_eq!(stats.count("/team/info"), 2, "pre-flight only: {stats:?}");
}

#[test]
fn a_team_admin_is_refused_without_a_licence_and_says_so() {
    let env = Env::default_proxy();
    let csv = env.write(
        "admins.csv",
        "user_email,teams,max_budget,team_role\nlead@company.com,Dev-Test,30,admin\n",
    );
    let out = env.onboard().arg(&csv).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("team admin needs a LiteLLM Enterprise licence"),
        "{stderr}"
    );
    // Created without the team (/user/new would drop it silently), then refused by member_add.
    let lead = user(&env, "lead@company.com");
    assert_eq!(lead.max_budget, Some(30.0));
    assert!(lead.teams.is_empty());
    let stats = env.emulator.stats();
    assert_eq!(stats.count("/team/member_add"), 1);
    assert_eq!(stats.status_count(400), 1);
    let record = env.record("lead@company.com");
    assert!(
        record["error"]
            .as_str()
            .unwrap()
            .contains("team admin needs a LiteLLM Enterprise licence")
    );

    // A member made admin: /team/member_update for the member seen on the roster, refused too.
    let member = env.write(
        "member.csv",
        "user_email,teams,team_role\nm@company.com,Dev-Test,user\n",
    );
    env.onboard().arg(&member).assert().code(0);
    let promote = env.write(
        "promote.csv",
        "user_email,teams,team_role\nm@company.com,Dev-Test,admin\n",
    );
    env.emulator.reset_stats();
    let out = env.onboard().arg(&promote).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Enterprise licence"));
    let stats = env.emulator.stats();
    assert_eq!(stats.count("/team/member_update"), 1);
    assert_eq!(stats.count("/invitation/new"), 0);
}

#[test]
fn an_export_reads_back_as_a_no_op() {
    let env = Env::default_proxy();
    let csv = env.write("users.csv", &ui_csv("25", "gpt-4o", "Research", "Bob B"));
    env.onboard().arg(&csv).assert().code(0);
    env.emulator.add_user("nobody@company.com", &[]);

    let exported = env.dir.path().join("export.csv");
    env.onboard()
        .args(["export", "-o", exported.to_str().unwrap()])
        .assert()
        .code(0);
    let text = std::fs::read_to_string(&exported).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("user_email,user_role,teams,max_budget,budget_duration,models,user_alias")
    );
    assert!(text.contains("bob@company.com,internal_user,"), "{text}");
    assert!(
        !text.contains("nobody@company.com"),
        "no team: left out\n{text}"
    );
    assert_eq!(text.lines().count(), 3, "{text}");

    env.emulator.reset_stats();
    let plans = env.dry_run_plans(&exported);
    assert_eq!(plans.len(), 2);
    for plan in &plans {
        assert_eq!(plan["actions"], json!([]), "{plan}");
    }
    assert_eq!(env.emulator.stats().write_requests, 0);

    // One team only, on stdout.
    let out = env
        .onboard()
        .args(["export", "--team", "Research"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.lines().count(),
        3,
        "alice and bob are in Research\n{text}"
    );
    let out = env
        .onboard()
        .args(["export", "--team", "Dev-Test"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("alice@company.com") && !text.contains("bob@"),
        "{text}"
    );
}

#[test]
fn bad_cells_of_every_new_column_are_listed_and_nothing_is_sent() {
    let env = Env::default_proxy();
    let csv = env.write(
        "bad.csv",
        "user_email,user_role,teams,max_budget,budget_duration,models,metadata,team_role\n\
         a@company.com,internal_user,Dev-Test,0,30d,gpt-4o,,\n\
         b@company.com,internal_user,Dev-Test,abc,,,,\n\
         c@company.com,internal_user,Dev-Test,10,30x,,,\n\
         d@company.com,internal_user,Dev-Test,,,\" , \",,\n\
         e@company.com,internal_user,Dev-Test,,,,[1],\n\
         f@company.com,internal_user,Dev-Test,,,,{oops},\n\
         g@company.com,internal_user,Dev-Test,,,,,owner\n\
         h@company.com,internal_user,\" , \",,,,,\n\
         i@company.com,internal_user_view_only,Dev-Test,,,,,\n",
    );
    let out = env.onboard().arg(&csv).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "line 2: max_budget",
        "line 3: max_budget",
        "line 4: budget_duration",
        "line 5: models",
        "line 6: metadata",
        "line 7: metadata",
        "line 8: team_role",
        "line 9: teams",
        "line 10: user_role",
    ] {
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
    assert!(
        stderr.contains("9 invalid row(s); nothing was sent"),
        "{stderr}"
    );
    assert_eq!(env.emulator.stats().total_requests, 0);
}

#[test]
fn no_invite_creates_users_and_memberships_only() {
    let env = Env::new(EmulatorConfig {
        sso_configured: true,
        ..EmulatorConfig::default()
    });
    let csv = env.write(
        "users.csv",
        &format!("user_email,teams,max_budget\nsso@company.com,\"{DEV_TEST},Research\",5\n"),
    );
    let hint = env
        .onboard()
        .args([csv.to_str().unwrap(), "--dry-run"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&hint.stderr).contains("--no-invite"));
    let out = env
        .onboard()
        .args([csv.to_str().unwrap(), "--no-invite"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("pass --no-invite"),
        "no hint to pass what is in use: {stderr}"
    );
    assert!(
        stderr.contains("onboard: 1 without invitation (--no-invite: 1 created, 0 existing)")
            && !stderr.contains("0 invited"),
        "the summary counts the users made: {stderr}"
    );
    let stats = env.emulator.stats();
    assert_eq!(stats.count("/invitation/new"), 0);
    assert_eq!(stats.count("/user/new") + stats.bulk_rows_created, 1);
    let sso = user(&env, "sso@company.com");
    assert_eq!(sso.teams.len(), 2);
    let record = env.record("sso@company.com");
    assert_eq!(
        record["onboarding_link"],
        format!("{}/ui", env.emulator.url())
    );
    assert_eq!(record["status"], "success");
    assert!(record["invitation_id"].is_null());
    let status = env.onboard().args(["status", "--json"]).output().unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(
        rows[0]["state"], "sso",
        "an SSO person is not a failure: {rows}"
    );
    assert_eq!(status.status.code(), Some(0));

    env.emulator.reset_stats();
    env.onboard()
        .args([csv.to_str().unwrap(), "--no-invite"])
        .assert()
        .code(0);
    assert_eq!(env.emulator.stats().write_requests, 0);
}

#[test]
fn every_write_names_who_made_it() {
    let env = Env::default_proxy();
    let csv = env.write("users.csv", &ui_csv("25", "gpt-4o", "Dev-Test", ""));
    env.onboard().arg(&csv).assert().code(0);
    let stats = env.emulator.stats();
    assert_eq!(stats.changed_by.len(), 1, "{:?}", stats.changed_by);
    assert_eq!(stats.changed_by.get("onboard"), Some(&stats.write_requests));

    env.emulator.reset_stats();
    let changed = env.write("v2.csv", &ui_csv("30", "gpt-4o", "Dev-Test", ""));
    env.onboard()
        .args([
            changed.to_str().unwrap(),
            "--changed-by",
            "it-desk@company.com",
        ])
        .assert()
        .code(0);
    let stats = env.emulator.stats();
    assert_eq!(stats.count("/user/update"), 1);
    assert_eq!(stats.changed_by.get("it-desk@company.com"), Some(&1));
    assert_eq!(stats.changed_by.len(), 1, "{:?}", stats.changed_by);

    let bad = env
        .onboard()
        .args([csv.to_str().unwrap(), "--changed-by", "a\u{7}b"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
