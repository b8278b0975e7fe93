//! Flags a command does not use are refused, and the messages a person reads first say what
//! is so ("1 person", a `--team` hint that fits the command).

mod common;

use common::{DEV_TEST, Env};
use predicates::prelude::*;

#[test]
fn email_flags_are_refused_by_commands_that_send_no_email() {
    let env = Env::default_proxy();
    for args in [
        &["export", "--send-email"][..],
        &["export", "--smtp-host", "smtp.company.com"],
        &["offboard", "a@company.com", "--send-email", "--yes"],
        &["status", "--email-template", "t.txt"],
    ] {
        env.onboard()
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("sends no email"));
    }
    assert_eq!(env.emulator.stats().total_requests, 0);
    // A setting from the environment is not a flag: it may serve other commands.
    env.onboard()
        .env("ONBOARD_SMTP_HOST", "smtp.company.com")
        .arg("export")
        .assert()
        .code(0);
}

#[test]
fn an_unknown_team_flag_gets_a_hint_for_the_flag() {
    let env = Env::default_proxy();
    for args in [
        &["export", "--team", "nope"][..],
        &["offboard", "a@company.com", "--team", "nope", "--yes"],
    ] {
        env.onboard()
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("team \"nope\" not found"))
            .stderr(predicate::str::contains(
                "--team takes a team id or an alias",
            ))
            .stderr(predicate::str::contains("silently create").not());
    }
}

#[test]
fn one_person_is_one_person() {
    let env = Env::default_proxy();
    env.onboard()
        .args(["offboard", "ghost@company.com", "--yes"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains(
            "nothing to do for 1 person (1 not on the proxy)",
        ));
    let csv = env.write(
        "one.csv",
        &format!("user_email,team_id\na@company.com,{DEV_TEST}\n"),
    );
    env.onboard()
        .arg(&csv)
        .arg("--dry-run")
        .assert()
        .code(0)
        .stderr(predicate::str::contains("nothing was written: 1 person:"));
}

#[test]
fn inviting_users_the_audit_file_does_not_know_is_announced() {
    let env = Env::default_proxy();
    env.emulator.add_user("ui-made@company.com", &[DEV_TEST]);
    let csv = env.write(
        "export.csv",
        &format!(
            "user_email,team_id\nui-made@company.com,{DEV_TEST}\nnew@company.com,{DEV_TEST}\n"
        ),
    );
    env.onboard()
        .arg(&csv)
        .arg("--dry-run")
        .assert()
        .code(0)
        .stderr(predicate::str::contains(
            "1 person has a user on the proxy that the audit file does not know",
        ))
        .stderr(predicate::str::contains("pass --no-invite"));
    env.onboard()
        .arg(&csv)
        .args(["--dry-run", "--no-invite"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains("does not know").not());
}
