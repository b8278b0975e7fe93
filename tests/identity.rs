//! One email identity for every match: case and the two spellings of an internationalised
//! domain (Unicode, punycode) are one person, whichever spelling the proxy stores.

mod common;

use common::{DEV_TEST, Env};

/// As made in the admin UI: the proxy stores the Unicode spelling as given.
const UI_MADE: &str = "anna@bücher.example";

/// The users whose stored email is one of `spellings`, compared case-insensitively.
fn users_spelled(env: &Env, spellings: &[&str]) -> Vec<String> {
    env.emulator
        .users()
        .into_iter()
        .filter(|u| {
            u.user_email.as_deref().is_some_and(|e| {
                spellings
                    .iter()
                    .any(|s| e.to_lowercase() == s.to_lowercase())
            })
        })
        .map(|u| u.user_id)
        .collect()
}

fn annas(env: &Env) -> Vec<String> {
    users_spelled(env, &[UI_MADE, "anna@xn--bcher-kva.example"])
}

#[test]
fn either_spelling_of_a_ui_made_user_adopts_it() {
    let env = Env::ready_proxy();
    let id = env.emulator.add_user(UI_MADE, &[DEV_TEST]);
    let csvs = [
        env.write(
            "puny.csv",
            &format!("user_email,team_id\nanna@xn--bcher-kva.example,{DEV_TEST}\n"),
        ),
        env.write(
            "case.csv",
            &format!("user_email,team_id\nAnna@Bücher.example,{DEV_TEST}\n"),
        ),
    ];
    for csv in &csvs {
        let plans = env.dry_run_plans(csv);
        assert_eq!(plans[0]["actions"][0], "adopt_user", "{plans:?}");
        assert_eq!(plans[0]["user_id"], id.as_str(), "{plans:?}");
    }
    for csv in &csvs {
        env.onboard().arg(csv).assert().code(0);
    }
    assert_eq!(annas(&env), [id]);
    assert_eq!(env.emulator.stats().count("/user/new"), 0);
    assert_eq!(env.records().len(), 1, "one person in the audit file");
}

#[test]
fn invite_by_the_other_spelling_adopts_the_ui_made_user() {
    let env = Env::ready_proxy();
    let id = env.emulator.add_user(UI_MADE, &[DEV_TEST]);
    env.onboard()
        .args(["invite", "ANNA@xn--bcher-kva.example", "--team", DEV_TEST])
        .assert()
        .code(0);
    assert_eq!(annas(&env), [id]);
    assert_eq!(env.emulator.stats().count("/user/new"), 0);
}

#[test]
fn offboard_by_punycode_deletes_the_unicode_stored_user() {
    let env = Env::ready_proxy();
    let id = env.emulator.add_user(UI_MADE, &[DEV_TEST]);
    let run = env
        .onboard()
        .args(["offboard", "anna@xn--bcher-kva.example", "--yes"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("no user on the proxy"), "{stderr}");
    assert!(
        !env.emulator.users().iter().any(|u| u.user_id == id),
        "the leaver's user is deleted: {stderr}"
    );
}

#[test]
fn both_spellings_in_one_csv_are_one_duplicated_person() {
    let env = Env::ready_proxy();
    let csv = env.write(
        "dup.csv",
        &format!(
            "user_email,team_id\nAnna@Bücher.example,{DEV_TEST}\nbob@company.com,{DEV_TEST}\nanna@xn--bcher-kva.example,{DEV_TEST}\n"
        ),
    );
    let run = env.onboard().arg(&csv).output().unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("appears on lines 2, 4: onboarding it once (line 2)"),
        "{stderr}"
    );
    assert_eq!(annas(&env).len(), 1);
    assert_eq!(
        env.emulator.stats().count("/user/new")
            + env.emulator.stats().count("/management/v1/users/bulk"),
        1
    );
}

#[test]
fn new_users_are_created_with_the_spelling_the_csv_gives() {
    let env = Env::ready_proxy();
    for (name, email, bulk) in [
        ("bulk.csv", "Bob@Bücher.example", "auto"),
        ("single.csv", "Carl@Bücher.example", "never"),
    ] {
        let csv = env.write(name, &format!("user_email,team_id\n{email},{DEV_TEST}\n"));
        env.onboard()
            .arg(&csv)
            .args(["--bulk", bulk])
            .assert()
            .code(0);
        let stored: Vec<_> = env
            .emulator
            .users()
            .into_iter()
            .filter_map(|u| u.user_email)
            .filter(|e| e.to_lowercase().starts_with(&email.to_lowercase()[..4]))
            .collect();
        assert_eq!(stored, [email], "--bulk {bulk}");
        // A re-run finds the user it made (by id, then by identity) and creates nothing.
        env.emulator.reset_stats();
        env.onboard().arg(&csv).assert().code(0);
        assert_eq!(env.emulator.stats().write_requests, 0, "--bulk {bulk}");
    }
}
