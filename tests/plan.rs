//! The dry run is the plan, and the run carries out exactly that plan.

mod common;

use std::collections::BTreeMap;

use common::{DEV_TEST, Env, RESEARCH};
use serde_json::Value;

/// Sets an audit record's fields (as earlier runs and refreshes would have left them).
fn edit_record(env: &Env, email: &str, edit: impl Fn(&mut Value)) {
    let mut records = env.records();
    let record = records
        .iter_mut()
        .find(|r| r["email"] == email)
        .expect("record");
    edit(record);
    std::fs::write(
        env.results_path(),
        serde_json::to_string_pretty(&records).unwrap(),
    )
    .unwrap();
}

fn plans(stdout: &[u8]) -> BTreeMap<String, (Vec<String>, Option<String>)> {
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
            let skip = p["skip"].as_str().map(str::to_string);
            (p["email"].as_str().unwrap().to_string(), (actions, skip))
        })
        .collect()
}

#[test]
fn dry_run_actions_are_what_the_run_does() {
    let env = Env::default_proxy();
    let first = env.write(
        "first.csv",
        &format!(
            "user_email,team_id\nlive@company.com,{DEV_TEST}\nexpired@company.com,{DEV_TEST}\naccepted@company.com,{DEV_TEST}\nmoved@company.com,{DEV_TEST}\n"
        ),
    );
    env.onboard().arg(&first).assert().code(0);
    edit_record(&env, "expired@company.com", |r| {
        r["expires_at"] = "2020-01-08T00:00:00Z".into()
    });
    edit_record(&env, "accepted@company.com", |r| {
        r["accepted_at"] = "2020-01-02T00:00:00Z".into()
    });
    env.emulator.add_user("existing@company.com", &[]);
    let roster = env.write(
        "roster.csv",
        &format!(
            "user_email,team_id\nnew@company.com,{DEV_TEST}\nexisting@company.com,{DEV_TEST}\nlive@company.com,{DEV_TEST}\nexpired@company.com,{DEV_TEST}\naccepted@company.com,{DEV_TEST}\nmoved@company.com,{RESEARCH}\nnot-an-email,{DEV_TEST}\n"
        ),
    );
    env.emulator.reset_stats();
    let dry = env
        .onboard()
        .args([
            roster.to_str().unwrap(),
            "--skip-invalid",
            "--dry-run",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(dry.status.code(), Some(1), "an invalid row is a failure");
    assert_eq!(
        env.emulator.stats().write_requests,
        0,
        "a dry run writes nothing"
    );
    let plan = plans(&dry.stdout);
    let expect = |email: &str, actions: &[&str], skip: Option<&str>| {
        let (got, got_skip) = &plan[email];
        assert_eq!(
            got,
            &actions.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "{email}"
        );
        assert_eq!(got_skip.as_deref(), skip, "{email}");
    };
    expect("new@company.com", &["create_user", "invite"], None);
    expect(
        "existing@company.com",
        &["adopt_user", "add_to_team", "invite"],
        None,
    );
    expect("live@company.com", &[], Some("already_invited"));
    expect("expired@company.com", &["invite"], None);
    expect("accepted@company.com", &[], Some("already_accepted"));
    expect(
        "moved@company.com",
        &["add_to_team"],
        Some("already_invited"),
    );
    expect("not-an-email", &[], Some("invalid"));

    let count = |name: &str| {
        plan.values()
            .map(|(actions, _)| actions.iter().filter(|a| *a == name).count() as u64)
            .sum::<u64>()
    };
    env.emulator.reset_stats();
    let run = env
        .onboard()
        .args([roster.to_str().unwrap(), "--skip-invalid", "--json"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    // What the run reports carrying out is what the dry run planned, person by person.
    let actions = |plans: BTreeMap<String, (Vec<String>, Option<String>)>| {
        plans
            .into_iter()
            .map(|(email, (actions, _))| (email, actions))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(actions(plans(&run.stdout)), actions(plan.clone()));
    let stats = env.emulator.stats();
    // With bulk (1.109), users are created in a batch. The run reads nobody first: a person
    // the audit file does not know gets a bulk row, and one the proxy has ("already exists")
    // is adopted by one exact look-up.
    let unknown = count("create_user") + count("adopt_user");
    assert_eq!(stats.count("/user/new"), 0);
    assert_eq!(stats.bulk_rows_requested, unknown);
    assert_eq!(
        stats.count("/user/list"),
        1 + count("adopt_user"),
        "the key check, and one look-up per user the proxy said exists: {:?}",
        stats.per_route
    );
    assert_eq!(stats.count("/team/member_add"), count("add_to_team"));
    assert_eq!(stats.count("/invitation/new"), count("invite"));
    assert_eq!(
        stats.count("/invitation/delete"),
        count("delete_invitation")
    );
    assert_eq!(
        env.emulator.users_with_email("existing@company.com").len(),
        1
    );

    // The run carried the plan out: a second dry run plans no write.
    let again = env
        .onboard()
        .args([
            roster.to_str().unwrap(),
            "--skip-invalid",
            "--dry-run",
            "--json",
        ])
        .output()
        .unwrap();
    let again = plans(&again.stdout);
    let writes: Vec<_> = again
        .iter()
        .filter(|(_, (actions, _))| !actions.is_empty())
        .collect();
    assert!(writes.is_empty(), "a re-run plans nothing: {writes:?}");
}

#[test]
fn refresh_dry_run_json_is_the_plan() {
    let env = Env::default_proxy();
    // Invited nine days ago: the invitation has expired.
    env.emulator.set_clock_offset(chrono::Duration::days(-9));
    env.onboard()
        .args(["invite", "old@company.com", "--team", DEV_TEST])
        .assert()
        .code(0);
    env.emulator.set_clock_offset(chrono::Duration::zero());
    let out = env
        .onboard()
        .args(["refresh", "--dry-run", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let plan = plans(&out.stdout);
    assert_eq!(
        plan["old@company.com"],
        (
            vec!["invite".to_string(), "delete_invitation".to_string()],
            None
        ),
        "an expired invitation is renewed and the old one deleted"
    );
    assert_eq!(
        env.emulator.stats().write_requests,
        2,
        "only the first invite (user and invitation) wrote"
    );
}
