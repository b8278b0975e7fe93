//! `--send-email`: the real binary against the emulator and a real SMTP server on loopback.

mod common;
mod smtp;

use assert_cmd::Command;
use chrono::{DateTime, Utc};
use common::{DEV_TEST, Env, RESEARCH};
use predicates::prelude::*;
use serde_json::Value;
use smtp::{Options, SmtpServer};

const FROM: &str = "IT Desk <it@company.com>";

/// `onboard` pointed at the emulator and, by env, at the SMTP server (plain, loopback).
fn onboard(env: &Env, server: &SmtpServer) -> Command {
    let mut cmd = env.onboard();
    cmd.env("ONBOARD_SMTP_HOST", "127.0.0.1")
        .env("ONBOARD_SMTP_PORT", server.port.to_string())
        .env("ONBOARD_SMTP_FROM", FROM)
        .env_remove("LITELLM_PROXY_API_KEY");
    cmd
}

fn csv(env: &Env, emails: &[&str]) -> std::path::PathBuf {
    let mut text = String::from("user_email,team_id\n");
    for (i, email) in emails.iter().enumerate() {
        let team = if i % 2 == 0 { DEV_TEST } else { RESEARCH };
        text.push_str(&format!("{email},{team}\n"));
    }
    env.write("users.csv", &text)
}

fn text<'a>(record: &'a Value, field: &str) -> &'a str {
    record[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} missing in {record}"))
}

/// The expiry as the email shows it.
fn expiry(record: &Value) -> String {
    let at: DateTime<Utc> = text(record, "expires_at").parse().expect("expires_at");
    onboard::output::when(at)
}

/// Checks that `email` got exactly one message with its record's link and expiry.
fn assert_emailed(env: &Env, server: &SmtpServer, email: &str) {
    let record = env.record(email);
    let messages = server.messages_to(email);
    assert_eq!(messages.len(), 1, "messages to {email}: {messages:#?}");
    let message = &messages[0];
    assert_eq!(message.to, [email]);
    assert_eq!(message.from, "it@company.com");
    assert_eq!(message.header("To"), Some(email));
    assert_eq!(message.header("From"), Some("\"IT Desk\" <it@company.com>"));
    let body = message.body();
    assert!(body.contains(text(&record, "onboarding_link")), "{body}");
    assert!(body.contains(&expiry(&record)), "{body}");
    assert!(body.contains(text(&record, "team_id")), "{body}");
    assert!(record["emailed_at"].is_string(), "{record}");
    assert!(record.get("email_error").is_none(), "{record}");
}

#[test]
fn each_person_gets_their_link_and_expiry_once() {
    let env = Env::default_proxy();
    let server = SmtpServer::start(Options::default());
    let people = ["ann@company.com", "ben@company.com", "cat@company.com"];
    let csv = csv(&env, &people);
    onboard(&env, &server)
        .args(["--send-email", "--smtp-tls", "none"])
        .arg(&csv)
        .assert()
        .code(0)
        .stderr(predicate::str::contains("emailed 3, 0 email(s) failed"));
    for email in people {
        assert_emailed(&env, &server, email);
    }
    let links: Vec<String> = people
        .iter()
        .map(|e| text(&env.record(e), "onboarding_link").to_string())
        .collect();

    // The same run again: everyone has a live, emailed invitation; nothing is sent.
    onboard(&env, &server)
        .args(["--send-email", "--smtp-tls", "none"])
        .arg(&csv)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("already invited"));
    assert_eq!(server.messages().len(), 3);

    // --reinvite makes new links: each is emailed once more, with the new link.
    onboard(&env, &server)
        .args(["--send-email", "--smtp-tls", "none", "--reinvite"])
        .arg(&csv)
        .assert()
        .code(0);
    assert_eq!(server.messages().len(), 6);
    for (email, old) in people.iter().zip(&links) {
        let record = env.record(email);
        let new = text(&record, "onboarding_link");
        assert_ne!(new, old);
        let messages = server.messages_to(email);
        assert_eq!(messages.len(), 2);
        assert!(messages[1].body().contains(new));
        assert!(env.link_opens(new));
    }
}

#[test]
fn people_invited_without_email_are_emailed_by_a_later_run() {
    let env = Env::default_proxy();
    let server = SmtpServer::start(Options::default());
    let people = ["dan@company.com", "eve@company.com"];
    let csv = csv(&env, &people);
    onboard(&env, &server).arg(&csv).assert().code(0);
    assert!(server.messages().is_empty());
    let first: Vec<Value> = env.records();
    assert!(first.iter().all(|r| r.get("emailed_at").is_none()));

    onboard(&env, &server)
        .args(["--send-email", "--smtp-tls", "none"])
        .arg(&csv)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("already invited"));
    for (email, before) in people.iter().zip(&first) {
        // The live invitation is the one emailed: no new one was made.
        assert_eq!(env.record(email)["invitation_id"], before["invitation_id"]);
        assert_emailed(&env, &server, email);
    }
}

#[test]
fn starttls_and_auth_with_a_private_ca_and_a_template() {
    let env = Env::default_proxy();
    let server = SmtpServer::start(Options {
        starttls: true,
        login: Some(("mailer".into(), "s3cret-pw".into())),
        ..Options::default()
    });
    let ca = server.ca_cert.clone().unwrap();
    let template = env.write(
        "welcome.txt",
        "Subject: Welcome to {team}, {email}\n\nHi {email},\n\nyour link: {link}\nvalid until {expires_at}\n",
    );
    let invite = |extra: &[&str]| {
        let mut cmd = onboard(&env, &server);
        cmd.env("ONBOARD_SMTP_USERNAME", "mailer")
            .env("ONBOARD_SMTP_PASSWORD", "s3cret-pw")
            .args([
                "invite",
                "fay@company.com",
                "--team",
                DEV_TEST,
                "--send-email",
            ])
            .args(["--smtp-tls", "starttls", "--email-template"])
            .arg(&template)
            .args(extra);
        cmd
    };

    // Without the private CA the server's certificate is not trusted: nothing happens.
    invite(&[])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("SMTP server"))
        .stderr(predicate::str::contains("--smtp-ca-cert"))
        .stderr(predicate::str::contains("s3cret-pw").not());
    assert!(env.emulator.users_with_email("fay@company.com").is_empty());

    let ca = ca.display().to_string();
    let out = invite(&["--smtp-ca-cert", &ca]).assert().code(0);
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let record = env.record("fay@company.com");
    assert_eq!(stdout.trim(), text(&record, "onboarding_link"));
    let messages = server.messages_to("fay@company.com");
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.user.as_deref(), Some("mailer"), "sent after AUTH");
    assert_eq!(
        message.header("Subject"),
        Some(format!("Welcome to {DEV_TEST}, fay@company.com").as_str())
    );
    assert!(message.body().starts_with("Hi fay@company.com,\r\n"));
    assert!(
        message
            .body()
            .contains(&format!("your link: {}", text(&record, "onboarding_link")))
    );
    assert!(
        message
            .body()
            .contains(&format!("valid until {}", expiry(&record)))
    );
    assert!(record["emailed_at"].is_string());
}

#[test]
fn a_wrong_password_stops_before_any_invitation() {
    let env = Env::default_proxy();
    let server = SmtpServer::start(Options {
        starttls: true,
        login: Some(("mailer".into(), "right".into())),
        ..Options::default()
    });
    let password = env.write("smtp-password", "wrong-pw-123\n");
    let csv = csv(&env, &["gus@company.com"]);
    onboard(&env, &server)
        .args([
            "--send-email",
            "--smtp-username",
            "mailer",
            "--smtp-ca-cert",
        ])
        .arg(server.ca_cert.as_ref().unwrap())
        .arg("--smtp-password-file")
        .arg(&password)
        .arg(&csv)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("535"))
        .stderr(predicate::str::contains("hint: check --smtp-username"))
        .stderr(predicate::str::contains("wrong-pw-123").not());
    assert!(env.emulator.users_with_email("gus@company.com").is_empty());
    assert!(server.messages().is_empty());
}

#[test]
fn a_refused_recipient_is_recorded_and_the_invitation_stands() {
    let env = Env::default_proxy();
    let server = SmtpServer::start(Options {
        refuse: vec!["bounce@company.com".into()],
        ..Options::default()
    });
    let csv = csv(&env, &["hal@company.com", "bounce@company.com"]);
    let run = || {
        onboard(&env, &server)
            .args(["--send-email", "--smtp-tls", "none"])
            .arg(&csv)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(
                "✗ bounce@company.com: email not sent",
            ))
            .stderr(predicate::str::contains("1 email(s) failed"))
            .stderr(predicate::str::contains("email failed: 1 × SMTP 550"));
    };
    run();
    assert_emailed(&env, &server, "hal@company.com");
    let bounce = env.record("bounce@company.com");
    assert_eq!(bounce["status"], "success", "{bounce}");
    assert!(bounce["error"].is_null(), "{bounce}");
    assert!(text(&bounce, "email_error").contains("550"), "{bounce}");
    assert!(bounce.get("emailed_at").is_none(), "{bounce}");
    assert!(env.link_opens(text(&bounce, "onboarding_link")));
    assert!(server.messages_to("bounce@company.com").is_empty());

    // A re-run tries the refused one again, and only it.
    run();
    assert_eq!(server.messages().len(), 1);
    assert_eq!(
        env.record("bounce@company.com")["invitation_id"],
        bounce["invitation_id"]
    );
}

#[test]
fn missing_or_unsafe_settings_fail_before_any_request() {
    let env = Env::default_proxy();
    let server = SmtpServer::start(Options::default());
    let csv = csv(&env, &["ivy@company.com"]);
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 4] = [
        (
            &["--smtp-tls", "none"],
            &[("ONBOARD_SMTP_HOST", "")],
            "--smtp-host",
        ),
        (
            &["--smtp-host", "smtp.example.com", "--smtp-tls", "none"],
            &[],
            "clear text",
        ),
        (
            &["--smtp-username", "u", "--smtp-tls", "none"],
            &[],
            "no SMTP password",
        ),
        (
            &["--email-template", "missing.txt", "--smtp-tls", "none"],
            &[],
            "missing.txt",
        ),
    ];
    for (args, envs, expected) in cases {
        let mut cmd = onboard(&env, &server);
        cmd.arg("--send-email").args(args).arg(&csv);
        for (key, value) in envs {
            cmd.env(key, value);
        }
        cmd.assert()
            .code(2)
            .stderr(predicate::str::contains(expected));
    }
    assert!(env.emulator.users_with_email("ivy@company.com").is_empty());
    assert!(!env.results_path().exists());
    assert!(server.messages().is_empty());
}

#[test]
fn dry_run_renders_the_first_email_and_sends_nothing() {
    let env = Env::default_proxy();
    let server = SmtpServer::start(Options::default());
    let csv = csv(&env, &["jon@company.com", "kim@company.com"]);
    onboard(&env, &server)
        .args(["--send-email", "--smtp-tls", "none", "--dry-run"])
        .arg(&csv)
        .assert()
        .code(0)
        .stderr(predicate::str::contains(
            "dry run: the email to jon@company.com would be",
        ))
        .stderr(predicate::str::contains("To: jon@company.com"))
        .stderr(predicate::str::contains(
            "Subject: Your invitation to the LiteLLM proxy",
        ))
        .stderr(predicate::str::contains("/ui/onboarding?invitation_id="))
        .stderr(predicate::str::contains("kim@company.com would be").not());
    assert!(server.messages().is_empty());
    assert!(
        env.emulator
            .users()
            .iter()
            .all(|u| u.user_email.as_deref() != Some("jon@company.com"))
    );
}

#[test]
fn refresh_emails_each_renewed_link_once() {
    let env = Env::default_proxy();
    let server = SmtpServer::start(Options::default());
    let csv = csv(&env, &["lea@company.com", "max@company.com"]);
    // Invited and emailed six days ago (by the proxy's clock): one day left.
    env.emulator.set_clock_offset(-chrono::Duration::days(6));
    onboard(&env, &server)
        .args(["--send-email", "--smtp-tls", "none"])
        .arg(&csv)
        .assert()
        .code(0);
    env.emulator.set_clock_offset(chrono::Duration::zero());
    assert_eq!(server.messages().len(), 2);
    let old = text(&env.record("lea@company.com"), "onboarding_link").to_string();

    let refresh = || {
        onboard(&env, &server)
            .args([
                "refresh",
                "--within",
                "2d",
                "--send-email",
                "--smtp-tls",
                "none",
            ])
            .assert()
            .code(0)
    };
    refresh();
    assert_eq!(server.messages().len(), 4);
    for email in ["lea@company.com", "max@company.com"] {
        let record = env.record(email);
        let messages = server.messages_to(email);
        assert_eq!(messages.len(), 2);
        assert!(
            messages[1]
                .body()
                .contains(text(&record, "onboarding_link"))
        );
        assert!(messages[1].body().contains(&expiry(&record)));
        assert!(record["emailed_at"].is_string());
    }
    assert_ne!(text(&env.record("lea@company.com"), "onboarding_link"), old);

    // Nothing renewed, nothing sent.
    refresh();
    assert_eq!(server.messages().len(), 4);
}

#[test]
fn control_characters_in_a_cell_are_refused_before_anything_is_sent() {
    let env = Env::default_proxy();
    let server = SmtpServer::start(Options::default());
    let csv = env.write(
        "users.csv",
        &format!(
            "user_email,team_id,user_alias\nnia@company.com,{DEV_TEST},\"Evil\r\nBcc: x@evil.example\"\nola@company.com,{DEV_TEST},\n"
        ),
    );
    onboard(&env, &server)
        .args(["--send-email", "--smtp-tls", "none"])
        .arg(&csv)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("users.csv: 1 invalid row(s)"))
        .stderr(predicate::str::contains(
            "line 2: user_alias: contains a control character",
        ));
    assert!(server.messages().is_empty());
    assert!(env.emulator.users_with_email("nia@company.com").is_empty());
    assert!(env.emulator.users_with_email("ola@company.com").is_empty());

    // --skip-invalid onboards and emails the valid row only, and records the other as failed.
    onboard(&env, &server)
        .args(["--send-email", "--smtp-tls", "none", "--skip-invalid"])
        .arg(&csv)
        .assert()
        .code(1);
    assert_emailed(&env, &server, "ola@company.com");
    assert!(server.messages_to("nia@company.com").is_empty());
    assert_eq!(env.record("nia@company.com")["status"], "failed");

    // The same for `invite --alias`.
    onboard(&env, &server)
        .args([
            "invite",
            "pia@company.com",
            "--team",
            DEV_TEST,
            "--alias",
            "P\nBcc: x@evil.example",
        ])
        .args(["--send-email", "--smtp-tls", "none"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--alias"));
    assert!(env.emulator.users_with_email("pia@company.com").is_empty());
}

#[test]
fn refresh_prints_and_saves_renewals_when_mailing_fails() {
    let env = Env::default_proxy();
    let server = SmtpServer::start(Options {
        refuse: vec!["max@company.com".into()],
        ..Options::default()
    });
    let csv = csv(&env, &["lea@company.com", "max@company.com"]);
    // Invited six days ago (by the proxy's clock): one day left.
    env.emulator.set_clock_offset(-chrono::Duration::days(6));
    onboard(&env, &server).arg(&csv).assert().code(0);
    env.emulator.set_clock_offset(chrono::Duration::zero());
    let old = text(&env.record("lea@company.com"), "onboarding_link").to_string();
    // A record from an older run with a display name no email header can hold.
    let path = env.results_path();
    let mut records: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for record in &mut records {
        if record["email"] == "lea@company.com" {
            record["user_alias"] = "Evil\r\nBcc: x@evil.example".into();
        }
    }
    std::fs::write(&path, serde_json::to_string(&records).unwrap()).unwrap();

    let out = onboard(&env, &server)
        .args(["refresh", "-q", "--json", "--within", "2d", "--send-email"])
        .args(["--smtp-tls", "none"])
        .assert()
        .code(1);
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let renewed: Vec<Value> = serde_json::from_str(stdout.trim()).expect("JSON on stdout");
    assert_eq!(renewed.len(), 2, "{stdout}");
    for email in ["lea@company.com", "max@company.com"] {
        let record = env.record(email);
        let printed = renewed.iter().find(|r| r["email"] == email).unwrap();
        assert_eq!(printed["onboarding_link"], record["onboarding_link"]);
        assert!(record.get("emailed_at").is_none(), "{record}");
    }
    assert_ne!(text(&env.record("lea@company.com"), "onboarding_link"), old);
    let lea = env.record("lea@company.com");
    assert!(
        text(&lea, "email_error").contains("control character"),
        "{lea}"
    );
    assert!(text(&env.record("max@company.com"), "email_error").contains("550"));
    assert!(server.messages().is_empty());
}
