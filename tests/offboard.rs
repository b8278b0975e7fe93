//! `onboard offboard` and `onboard <CSV> --prune`, against the emulator: exactly the planned
//! people are removed, nothing without confirmation, and a second run plans nothing.

mod common;

use std::collections::BTreeSet;

use common::{DEV_TEST, Env, KEY, RESEARCH};
use serde_json::Value;

/// Onboards `emails` into `team` and returns their user ids.
fn onboard(env: &Env, name: &str, team: &str, emails: &[&str]) -> Vec<String> {
    let mut csv = String::from("user_email,team_id\n");
    for email in emails {
        csv.push_str(&format!("{email},{team}\n"));
    }
    let path = env.write(name, &csv);
    env.onboard().arg(&path).assert().code(0);
    emails.iter().map(|e| user_id(env, e)).collect()
}

fn user_id(env: &Env, email: &str) -> String {
    let users = env.emulator.users_with_email(email);
    assert_eq!(users.len(), 1, "{email}: {users:?}");
    users[0].user_id.clone()
}

fn exists(env: &Env, email: &str) -> bool {
    !env.emulator.users_with_email(email).is_empty()
}

fn live_invitations(env: &Env, user_id: &str) -> usize {
    env.emulator.invitation_counts(user_id).live
}

fn members(env: &Env, team: &str) -> BTreeSet<String> {
    env.emulator
        .team_members(team)
        .into_iter()
        .filter_map(|m| m.user_id)
        .collect()
}

fn writes(env: &Env) -> u64 {
    env.emulator.stats().write_requests
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The dry run's plans: email → action names.
fn planned(stdout: &[u8]) -> Vec<(String, Vec<String>, Option<String>)> {
    let plans: Vec<Value> = serde_json::from_slice(stdout).expect("the dry run prints JSON");
    plans
        .into_iter()
        .map(|p| {
            let actions = p["actions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect();
            (
                p["email"].as_str().unwrap().to_string(),
                actions,
                p["skip"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// A raw `POST` to the emulator (the tests have no HTTP client).
fn post(env: &Env, path: &str, body: &Value) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(env.emulator.addr()).expect("connect");
    let body = body.to_string();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    answer[9..12].parse().expect("status")
}

#[test]
fn offboard_by_email_and_csv_removes_exactly_the_planned_people() {
    let env = Env::default_proxy();
    let ids = onboard(
        &env,
        "all.csv",
        DEV_TEST,
        &[
            "ann@company.com",
            "bob@company.com",
            "cat@company.com",
            "dan@company.com",
        ],
    );
    // Ann gets a second invitation (the first is deleted by --reinvite; the second is live).
    let again = env.write(
        "ann.csv",
        &format!("user_email,team_id\nann@company.com,{DEV_TEST}\n"),
    );
    env.onboard().arg(&again).arg("--reinvite").assert().code(0);
    assert_eq!(live_invitations(&env, &ids[0]), 1);
    let before = members(&env, DEV_TEST);

    // Dry run: the plan, and nothing written.
    env.emulator.reset_stats();
    let list = env.write(
        "leavers.csv",
        "user_email\nbob@company.com\nCAT@company.com\n",
    );
    let dry = env
        .onboard()
        .args(["offboard", "ann@company.com"])
        .arg(&list)
        .args(["--dry-run", "--json"])
        .output()
        .unwrap();
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    assert_eq!(writes(&env), 0, "a dry run writes nothing");
    let plans = planned(&dry.stdout);
    let emails: Vec<&str> = plans.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(
        emails,
        ["ann@company.com", "bob@company.com", "cat@company.com"]
    );
    for (_, actions, skip) in &plans {
        // The proxy deletes the user's invitations with it: no request of their own.
        assert_eq!(actions, &["delete_user"]);
        assert_eq!(skip, &None);
    }
    // The invitations that go with each user are counted, never named: an id is a link.
    let views: Vec<Value> = serde_json::from_slice(&dry.stdout).unwrap();
    assert!(
        views.iter().all(|v| v["invitations_with_user"] == 1),
        "{views:?}"
    );
    let printed = String::from_utf8_lossy(&dry.stdout);
    for email in ["ann@company.com", "bob@company.com", "cat@company.com"] {
        let id = env.record(email)["invitation_id"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(!printed.contains(&id), "{email}'s invitation id printed");
    }

    // The run.
    let run = env
        .onboard()
        .args(["offboard", "ann@company.com"])
        .arg(&list)
        .arg("--yes")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    for email in ["ann@company.com", "bob@company.com", "cat@company.com"] {
        assert!(!exists(&env, email), "{email} deleted");
        let record = env.record(email);
        assert!(record["offboarded_at"].is_string(), "{record}");
        assert_eq!(record["invitation_id"], Value::Null);
        let history = record["history"].as_array().unwrap();
        assert!(history.iter().all(|p| p["deleted"] == true), "{record}");
    }
    assert_eq!(
        env.record("ann@company.com")["history"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    for id in &ids[..3] {
        assert_eq!(live_invitations(&env, id), 0);
    }
    // Dan is untouched: user, membership, invitation.
    assert!(exists(&env, "dan@company.com"));
    assert_eq!(live_invitations(&env, &ids[3]), 1);
    let after = members(&env, DEV_TEST);
    let removed: BTreeSet<String> = before.difference(&after).cloned().collect();
    assert_eq!(removed, ids[..3].iter().cloned().collect());
    let per_route = env.emulator.stats().per_route;
    assert_eq!(per_route.get("/invitation/delete"), None, "{per_route:?}");
    assert_eq!(
        per_route.get("/management/v1/users/bulk_delete"),
        Some(&1),
        "the three users in one bulk request"
    );
    assert_eq!(per_route.get("/user/delete"), None);
    assert!(env.record("dan@company.com").get("offboarded_at").is_none());

    // Status shows them.
    let status = env.onboard().args(["status", "--json"]).output().unwrap();
    let rows: Vec<Value> = serde_json::from_slice(&status.stdout).unwrap();
    let offboarded: Vec<&str> = rows
        .iter()
        .filter(|r| r["state"] == "offboarded")
        .map(|r| r["email"].as_str().unwrap())
        .collect();
    assert_eq!(offboarded.len(), 3);

    // A second run plans nothing, says so, and writes nothing (no --yes needed).
    env.emulator.reset_stats();
    let second = env
        .onboard()
        .args(["offboard", "ann@company.com"])
        .arg(&list)
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("nothing to do"),
        "{}",
        stderr(&second)
    );
    assert!(
        stderr(&second).contains("3 already offboarded"),
        "{}",
        stderr(&second)
    );
    assert_eq!(writes(&env), 0);
}

#[test]
fn without_yes_off_a_terminal_nothing_changes() {
    let env = Env::default_proxy();
    let ids = onboard(&env, "a.csv", DEV_TEST, &["ann@company.com"]);
    env.emulator.reset_stats();
    let refused = env
        .onboard()
        .args(["offboard", "ann@company.com"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let err = stderr(&refused);
    assert!(err.contains("--yes"), "{err}");
    assert!(
        err.contains("ann@company.com: delete_user (with 1 live invitation)"),
        "the plan is shown first: {err}"
    );
    assert_eq!(writes(&env), 0, "nothing changed");
    assert!(exists(&env, "ann@company.com"));
    assert_eq!(live_invitations(&env, &ids[0]), 1);
    assert!(env.record("ann@company.com").get("offboarded_at").is_none());
    env.onboard()
        .args(["offboard", "ann@company.com", "--yes"])
        .assert()
        .code(0);
    assert!(!exists(&env, "ann@company.com"));
}

#[test]
fn team_removes_only_the_membership() {
    let env = Env::default_proxy();
    let ids = onboard(
        &env,
        "a.csv",
        DEV_TEST,
        &["ann@company.com", "bob@company.com"],
    );
    // Ann is in Research too.
    let research = env.write(
        "r.csv",
        &format!("user_email,team_id\nann@company.com,{RESEARCH}\n"),
    );
    env.onboard().arg(&research).assert().code(0);
    assert!(members(&env, RESEARCH).contains(&ids[0]));

    env.emulator.reset_stats();
    let dry = env
        .onboard()
        .args([
            "offboard",
            "ann@company.com",
            "bob@company.com",
            "--team",
            "Research",
        ])
        .args(["--dry-run", "--json"])
        .output()
        .unwrap();
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    assert_eq!(writes(&env), 0);
    let plans = planned(&dry.stdout);
    assert_eq!(plans[0].1, ["remove_from_team"]);
    assert_eq!(plans[1].1, Vec::<String>::new());
    assert_eq!(plans[1].2.as_deref(), Some("not_in_team"));

    let run = env
        .onboard()
        .args([
            "offboard",
            "ann@company.com",
            "bob@company.com",
            "--team",
            "Research",
            "--yes",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(out.contains("ann@company.com"), "{out}");
    assert!(
        !out.contains("invitation_id=") && !out.contains("/ui/onboarding"),
        "a removal shows no link: {out}"
    );
    let per_route = env.emulator.stats().per_route;
    assert_eq!(
        per_route.get("/team/member_delete"),
        Some(&1),
        "only members: no 400"
    );
    assert_eq!(per_route.get("/user/delete"), None);
    assert!(!members(&env, RESEARCH).contains(&ids[0]));
    assert!(
        members(&env, DEV_TEST).contains(&ids[0]),
        "other teams kept"
    );
    assert!(exists(&env, "ann@company.com"), "the user is kept");
    assert_eq!(live_invitations(&env, &ids[0]), 1, "the invitation is kept");
    let record = env.record("ann@company.com");
    assert_eq!(record["removed_from_teams"], serde_json::json!([RESEARCH]));
    assert!(record.get("offboarded_at").is_none());

    env.emulator.reset_stats();
    let second = env
        .onboard()
        .args(["offboard", "ann@company.com", "--team", RESEARCH])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(stderr(&second).contains("nothing to do"));
    assert_eq!(writes(&env), 0);
}

#[test]
fn unknown_emails_are_reported_and_admins_refused() {
    let env = Env::default_proxy();
    let ids = onboard(&env, "a.csv", DEV_TEST, &["ann@company.com"]);
    let admin = env.write(
        "admin.csv",
        &format!("user_email,team_id,user_role\nroot@company.com,{DEV_TEST},proxy_admin\n"),
    );
    env.onboard().arg(&admin).assert().code(0);

    // Unknown: reported, not fatal; the others are offboarded; exit 0.
    let run = env
        .onboard()
        .args(["offboard", "ghost@company.com", "ann@company.com", "--yes"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("ghost@company.com: no user on the proxy"),
        "{}",
        stderr(&run)
    );
    assert!(!exists(&env, "ann@company.com"));
    assert_eq!(live_invitations(&env, &ids[0]), 0);
    assert!(
        !env.records()
            .iter()
            .any(|r| r["email"] == "ghost@company.com"),
        "no record for an unknown email"
    );

    // A proxy admin: refused (exit 1), nothing sent.
    env.emulator.reset_stats();
    let refused = env
        .onboard()
        .args(["offboard", "root@company.com", "--yes"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("--include-admins"));
    assert_eq!(writes(&env), 0);
    assert!(exists(&env, "root@company.com"));
    // With --include-admins it goes.
    env.onboard()
        .args(["offboard", "root@company.com", "--yes", "--include-admins"])
        .assert()
        .code(0);
    assert!(!exists(&env, "root@company.com"));
}

#[test]
fn prune_removes_exactly_the_members_the_csv_does_not_name() {
    let env = Env::default_proxy();
    let ids = onboard(
        &env,
        "all.csv",
        DEV_TEST,
        &[
            "keep@company.com",
            "gone@company.com",
            "moved@company.com",
            "both@company.com",
        ],
    );
    // A team the CSV does not name: its members are never touched.
    env.emulator.add_team("team-ops", "Ops");
    let ops = onboard(
        &env,
        "ops.csv",
        "team-ops",
        &["both@company.com", "other@company.com"],
    );
    // A team admin (not default_user_id) who is not in the CSV.
    let status = post(
        &env,
        "/management/v1/users/bulk",
        &serde_json::json!({"users": [{"user_email": "lead@company.com", "user_role": "internal_user",
            "teams": [{"team_id": DEV_TEST, "user_role": "admin"}]}]}),
    );
    assert_eq!(status, 200);
    let lead = user_id(&env, "lead@company.com");
    assert_eq!(
        env.emulator.team_role(DEV_TEST, &lead).as_deref(),
        Some("admin")
    );
    // Someone the CSV names only in Research: moved out of Dev-Test.
    let csv = env.write(
        "roster.csv",
        &format!("user_email,team_id\nkeep@company.com,{DEV_TEST}\nmoved@company.com,{RESEARCH}\n"),
    );

    env.emulator.reset_stats();
    let dry = env
        .onboard()
        .arg(&csv)
        .args(["--prune", "--dry-run", "--json"])
        .output()
        .unwrap();
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    assert_eq!(writes(&env), 0, "a dry run writes nothing");
    let plans = planned(&dry.stdout);
    let by_email = |e: &str| plans.iter().find(|p| p.0 == e).map(|p| p.1.clone());
    // Gone: in no team after this, so the live invitation goes too.
    assert_eq!(
        by_email("gone@company.com").unwrap(),
        ["remove_from_team", "delete_invitation"]
    );
    // Both stays in Ops: the invitation is kept.
    assert_eq!(by_email("both@company.com").unwrap(), ["remove_from_team"]);
    // Moved is in the CSV: added to Research, removed from Dev-Test.
    assert_eq!(
        by_email("moved@company.com").unwrap(),
        ["add_to_team", "remove_from_team"]
    );
    assert_eq!(by_email("keep@company.com").unwrap(), Vec::<String>::new());
    assert!(
        by_email("lead@company.com").is_none(),
        "team admins are never pruned"
    );
    assert!(
        by_email("other@company.com").is_none(),
        "a team the CSV does not name is not touched: {plans:?}"
    );

    // Without --yes off a terminal: exit 2, nothing changed.
    let refused = env.onboard().arg(&csv).arg("--prune").output().unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("--yes"));
    assert_eq!(writes(&env), 0);

    let run = env
        .onboard()
        .arg(&csv)
        .args(["--prune", "--yes"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let dev: BTreeSet<String> = members(&env, DEV_TEST);
    let expected: BTreeSet<String> = ["default_user_id".to_string(), ids[0].clone(), lead.clone()]
        .into_iter()
        .collect();
    assert_eq!(dev, expected, "Dev-Test is exactly the CSV plus its admins");
    assert!(
        members(&env, RESEARCH).contains(&ids[2]),
        "moved joined Research"
    );
    let ops_members = members(&env, "team-ops");
    assert!(ops_members.contains(&ops[0]) && ops_members.contains(&ops[1]));
    // Nobody is deleted by prune.
    for email in ["gone@company.com", "both@company.com", "other@company.com"] {
        assert!(exists(&env, email), "{email} kept");
    }
    assert_eq!(
        live_invitations(&env, &ids[1]),
        0,
        "gone's invitation deleted"
    );
    assert_eq!(live_invitations(&env, &ids[0]), 1, "keep's invitation kept");
    let gone = env.record("gone@company.com");
    assert_eq!(gone["removed_from_teams"], serde_json::json!([DEV_TEST]));

    // A second prune plans nothing and needs no --yes.
    env.emulator.reset_stats();
    let second = env.onboard().arg(&csv).arg("--prune").output().unwrap();
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("no member to remove"),
        "{}",
        stderr(&second)
    );
    assert_eq!(
        env.emulator.stats().per_route.get("/team/member_delete"),
        None
    );
    assert_eq!(writes(&env), 0);
}

#[test]
fn an_offboarded_person_can_be_onboarded_again_and_the_run_reads_well() {
    let env = Env::default_proxy();
    onboard(&env, "a.csv", DEV_TEST, &["ann@company.com"]);
    let run = env
        .onboard()
        .args(["offboard", "ann@company.com", "--yes"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0));
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(
        out.contains("✓ ann@company.com: user deleted, 1 invitation(s) deleted"),
        "{out}"
    );
    assert!(
        stderr(&run).contains("1 users deleted, 0 team memberships removed, 1 invitations deleted"),
        "{}",
        stderr(&run)
    );
    let again = env.write(
        "again.csv",
        &format!("user_email,team_id\nann@company.com,{DEV_TEST}\n"),
    );
    env.onboard().arg(&again).assert().code(0);
    let id = user_id(&env, "ann@company.com");
    assert_eq!(live_invitations(&env, &id), 1);
    let record = env.record("ann@company.com");
    assert!(record.get("offboarded_at").is_none(), "{record}");
    assert_eq!(record["user_id"], id.as_str());
    let status = env.onboard().args(["status", "--json"]).output().unwrap();
    let rows: Vec<Value> = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(rows[0]["state"], "pending");
}

/// Starts `onboard ARGS` on a pseudo-terminal (util-linux `script`): what is written to its
/// stdin is typed on the terminal, its stdout is the screen.
#[cfg(unix)]
fn start_on_a_terminal(env: &Env, args: &str) -> std::process::Child {
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_onboard"));
    std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(env.dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", env.dir.path())
        .env("NO_COLOR", "1")
        .env("LITELLM_PROXY_URL", env.emulator.url())
        .env("LITELLM_MASTER_KEY", KEY)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("util-linux `script` runs the command on a pseudo-terminal")
}

/// Runs `onboard ARGS` on a pseudo-terminal, answering `answer`.
#[cfg(unix)]
fn on_a_terminal(env: &Env, args: &str, answer: &str) -> (Option<i32>, String) {
    use std::io::Write;
    let mut child = start_on_a_terminal(env, args);
    // The answer waits in the terminal's input until the prompt reads it.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let screen = String::from_utf8_lossy(&output.stdout).into_owned();
    (output.status.code(), screen)
}

#[cfg(unix)]
#[test]
fn ctrl_c_at_the_prompt_ends_the_run_at_once_and_changes_nothing() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let env = Env::default_proxy();
    onboard(&env, "a.csv", DEV_TEST, &["ann@company.com"]);
    env.emulator.reset_stats();
    let mut child = start_on_a_terminal(&env, "offboard ann@company.com");
    let screen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut out = child.stdout.take().unwrap();
    let shown = std::sync::Arc::clone(&screen);
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok(n @ 1..) = out.read(&mut buf) {
            shown
                .lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while !screen.lock().unwrap().contains("Proceed? [y/N]") {
        assert!(
            Instant::now() < deadline,
            "no prompt: {}",
            screen.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Ctrl-C on the terminal: its line discipline sends SIGINT to the command.
    let mut keys = child.stdin.take().unwrap();
    keys.write_all(b"\x03").unwrap();
    let pressed = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if pressed.elapsed() > Duration::from_secs(5) {
            child.kill().unwrap();
            panic!("still waiting for an answer 5 s after Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(keys);
    let screen = screen.lock().unwrap().clone();
    assert_eq!(code, Some(130), "{screen}");
    assert!(screen.contains("nothing was changed"), "{screen}");
    assert_eq!(writes(&env), 0);
    assert!(exists(&env, "ann@company.com"));
}

#[cfg(unix)]
#[test]
fn on_a_terminal_the_plan_is_shown_and_only_a_yes_removes() {
    let env = Env::default_proxy();
    onboard(&env, "a.csv", DEV_TEST, &["ann@company.com"]);
    env.emulator.reset_stats();
    let (code, screen) = on_a_terminal(&env, "offboard ann@company.com", "n\n");
    assert!(screen.contains("Proceed? [y/N]"), "{screen}");
    assert!(
        screen.contains("ann@company.com: delete_user (with 1 live invitation)"),
        "{screen}"
    );
    assert_eq!(code, Some(2), "{screen}");
    assert_eq!(writes(&env), 0, "a no changes nothing");
    assert!(exists(&env, "ann@company.com"));
    let (code, screen) = on_a_terminal(&env, "offboard ann@company.com", "y\n");
    assert_eq!(code, Some(0), "{screen}");
    assert!(!exists(&env, "ann@company.com"));
}
