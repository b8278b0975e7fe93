//! Checks before writing: bad input, pre-flight, dry run, secrets and transport.

mod common;

use common::{DEV_TEST, Env, RESEARCH};
use litellm_emulator::{ApiKey, EmulatorConfig};
use predicates::prelude::*;

/// Each bad input: exit 2, a message naming file, line and field, and no request at all.
#[test]
fn bad_inputs_are_refused_before_any_request() {
    let cases: &[(&str, &[u8], &[&str])] = &[
        ("empty", b"", &["users.csv", "empty"]),
        ("blank", b"\n\n", &["users.csv", "empty"]),
        (
            "no email column",
            b"name,team_id\nalice,t\n",
            &["users.csv:1", "no user_email column"],
        ),
        (
            "not utf-8",
            b"user_email,team_id\nal\xefce@company.com,t\n",
            &["users.csv:2", "UTF-8"],
        ),
        (
            "invalid email",
            b"user_email,team_id\nalice.company.com,t\n",
            &["line 2", "user_email", "alice.company.com"],
        ),
        (
            "unknown role",
            b"user_email,team_id,user_role\nalice@company.com,t,admin\n",
            &["line 2", "user_role", "admin"],
        ),
        (
            "no team",
            b"user_email,team_id\nalice@company.com,\n",
            &["line 2", "team_id", "--team"],
        ),
        (
            "many problems",
            b"user_email,team_id\nx,t\ny,t\nok@company.com,t\nz,t\n",
            &["3 invalid row", "line 2", "line 3", "line 5"],
        ),
        (
            "header only",
            b"user_email,team_id\n",
            &["users.csv: no rows (only a header)"],
        ),
        (
            "alias with a line break",
            b"user_email,team_id,user_alias\nalice@company.com,t,\"Alice\nBcc: x@evil.example\"\n",
            &[
                "users.csv: 1 invalid row",
                "line 2: user_alias: contains a control character",
            ],
        ),
        (
            "no dot in the domain",
            b"user_email,team_id\na.b@localhost,t\n",
            &["line 2", "user_email", "no domain with a dot"],
        ),
        (
            "every bad field of a row",
            b"user_email,teams,user_role,max_budget,team_role\nnot-an-email,,boss,-5,owner\n",
            &[
                "1 invalid row",
                "line 2: user_email: ",
                "; teams: is empty",
                "; user_role: ",
                "; max_budget: ",
                "; team_role: ",
            ],
        ),
    ];
    for (name, bytes, expected) in cases {
        let env = Env::default_proxy();
        std::fs::write(env.dir.path().join("users.csv"), bytes).unwrap();
        std::fs::write(env.results_path(), "[]\n").unwrap();
        let output = env.onboard().arg("users.csv").output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        for text in *expected {
            assert!(
                stderr.contains(text),
                "{name}: {text:?} missing from: {stderr}"
            );
        }
        assert_eq!(
            env.emulator.stats().total_requests,
            0,
            "{name}: no request may be sent"
        );
        assert_eq!(
            std::fs::read_to_string(env.results_path()).unwrap(),
            "[]\n",
            "{name}: audit untouched"
        );
    }
}

#[test]
fn awkward_but_valid_spreadsheet_output_onboards_cleanly() {
    let env = Env::default_proxy();
    let text = format!(
        "\u{feff} User_Email , Team_ID ,Department,\r\n\"alice@company.com\",{DEV_TEST},Sales,\r\n\r\n  bob@company.com ,\"{RESEARCH}\",,\r\n"
    );
    let csv = env.write("users.csv", &text);
    env.onboard()
        .arg(&csv)
        .assert()
        .code(0)
        .stderr(predicate::str::contains("department").and(predicate::str::contains("not used")));
    assert_eq!(env.records().len(), 2);
    assert_eq!(env.record("bob@company.com")["team_id"], RESEARCH);

    let env = Env::default_proxy();
    let text = format!(
        "User Email,Team ID,User Role\ncarol@company.com,{DEV_TEST},internal_user_viewer\n"
    );
    let csv = env.write("users.csv", &text);
    let out = env.onboard().arg(&csv).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        env.record("carol@company.com")["user_role"],
        "internal_user_viewer"
    );
}

#[test]
fn plain_list_of_emails_with_team() {
    let env = Env::default_proxy();
    let csv = env.write("emails.txt", "alice@company.com\nbob@company.com\n");
    env.onboard()
        .arg(&csv)
        .args(["--team", "Dev-Test"])
        .assert()
        .code(0);
    assert_eq!(env.record("bob@company.com")["team_id"], DEV_TEST);
}

#[test]
fn skip_invalid_onboards_the_rest_and_records_the_invalid() {
    let env = Env::default_proxy();
    let csv = env.write(
        "users.csv",
        &format!("user_email,team_id\nbroken-email,{DEV_TEST}\nok@company.com,{DEV_TEST}\n"),
    );
    env.onboard()
        .arg(&csv)
        .arg("--skip-invalid")
        .assert()
        .code(1);
    assert_eq!(env.record("ok@company.com")["status"], "success");
    let bad = env.record("broken-email");
    assert_eq!(bad["status"], "failed");
    assert!(bad["error"].as_str().unwrap().contains("line 2"));
}

fn refused(env: &Env, csv_text: &str, expected: &str) {
    let csv = env.write("users.csv", csv_text);
    env.onboard()
        .arg(&csv)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(expected));
    assert_eq!(
        env.emulator.stats().write_requests,
        0,
        "no write before pre-flight passes"
    );
}

#[test]
fn unknown_team_and_ambiguous_alias_are_refused() {
    let env = Env::default_proxy();
    refused(
        &env,
        "user_email,team_id\na@company.com,no-such-team\n",
        "team \"no-such-team\" not found",
    );
    env.emulator
        .add_team("11111111-aaaa-4bbb-8ccc-000000000001", "Twins");
    env.emulator
        .add_team("11111111-aaaa-4bbb-8ccc-000000000002", "Twins");
    refused(
        &env,
        "user_email,team_id\na@company.com,Twins\n",
        "ambiguous",
    );
}

#[test]
fn a_non_admin_key_is_refused() {
    let env = Env::new(EmulatorConfig {
        extra_keys: vec![ApiKey::internal_user("sk-member-key", "member-1")],
        ..EmulatorConfig::default()
    });
    let csv = env.write(
        "users.csv",
        &format!("user_email,team_id\na@company.com,{DEV_TEST}\n"),
    );
    env.onboard()
        .arg(&csv)
        .env("LITELLM_MASTER_KEY", "sk-member-key")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a proxy admin key"));
    assert_eq!(env.emulator.stats().write_requests, 0);
}

#[test]
fn missing_default_user_is_explained_and_fixable() {
    let env = Env::new(EmulatorConfig {
        default_user: false,
        ..EmulatorConfig::default()
    });
    refused(
        &env,
        &format!("user_email,team_id\na@company.com,{DEV_TEST}\n"),
        "--fix-default-user",
    );
    let csv = env.write(
        "users.csv",
        &format!("user_email,team_id\na@company.com,{DEV_TEST}\n"),
    );
    env.onboard()
        .arg(&csv)
        .arg("--fix-default-user")
        .assert()
        .code(0);
    assert!(
        env.link_opens(
            env.record("a@company.com")["onboarding_link"]
                .as_str()
                .unwrap()
        )
    );
}

#[test]
fn dry_run_sends_no_write_and_shows_the_plan() {
    let env = Env::default_proxy();
    env.emulator.add_user("old@company.com", &[DEV_TEST]);
    let csv = env.write(
        "users.csv",
        &format!("user_email,team_id\nold@company.com,{DEV_TEST}\nnew@company.com,Dev-Test\n"),
    );
    env.onboard()
        .arg(&csv)
        .arg("--dry-run")
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "new@company.com: create_user, invite",
        ))
        .stdout(predicate::str::contains(
            "old@company.com: adopt_user, invite",
        ))
        .stderr(predicate::str::contains(
            "2 people: 1 adopt_user, 2 invite, 1 create_user",
        ));
    assert_eq!(env.emulator.stats().write_requests, 0);
    assert!(!env.results_path().exists() || env.records().is_empty());
}

#[test]
fn the_key_never_appears_in_output_or_audit() {
    let secret = "sk-master-secret-key-9f8e7d6c5b4a";
    let env = Env::new(EmulatorConfig {
        master_key: secret.into(),
        echo_key_in_errors: true,
        ..EmulatorConfig::default()
    });
    let run = |args: &[&str], key: &str| {
        let output = env
            .onboard()
            .args(args)
            .env("LITELLM_MASTER_KEY", key)
            .output()
            .unwrap();
        let audit = std::fs::read_to_string(env.results_path()).unwrap_or_default();
        for text in [
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
            audit,
        ] {
            assert!(!text.contains(key), "the key leaked: {text}");
        }
        output.status.code()
    };
    let good = env.write(
        "good.csv",
        &format!("user_email,team_id\na@company.com,{DEV_TEST}\n"),
    );
    let good = good.to_str().unwrap();
    assert_eq!(run(&[good], secret), Some(0));
    // A failure whose error body echoes request data (the legacy duplicates case).
    env.emulator.add_user("b@company.com", &[]);
    env.emulator.add_user("b@company.com", &[]);
    let failing = env.write(
        "failing.csv",
        &format!("user_email,team_id\nb@company.com,{DEV_TEST}\n"),
    );
    assert_eq!(run(&[failing.to_str().unwrap()], secret), Some(1));
    // A wrong key that the proxy echoes back in its 401.
    let wrong = "sk-wrong-key-that-is-echoed-123456";
    assert_eq!(run(&[good, "--reinvite"], wrong), Some(2));
    assert_eq!(
        run(&["invite", "c@company.com", "--team", DEV_TEST], secret),
        Some(0)
    );
}

#[test]
fn plain_http_to_a_remote_host_is_refused_without_connecting() {
    let env = Env::default_proxy();
    let csv = env.write(
        "users.csv",
        &format!("user_email,team_id\na@company.com,{DEV_TEST}\n"),
    );
    env.onboard()
        .arg(&csv)
        .env("LITELLM_PROXY_URL", "http://proxy.invalid:4000")
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("clear text")
                .and(predicate::str::contains("--allow-insecure-http")),
        );
}

#[test]
fn master_key_file_and_command_line_warning() {
    let env = Env::default_proxy();
    let key_file = env.write("key.txt", "sk-1234\n");
    env.onboard()
        .args([
            "invite",
            "k@company.com",
            "--team",
            DEV_TEST,
            "--master-key-file",
        ])
        .arg(&key_file)
        .env_remove("LITELLM_MASTER_KEY")
        .assert()
        .code(0);
    env.onboard()
        .args([
            "invite",
            "k2@company.com",
            "--team",
            DEV_TEST,
            "--master-key",
            "sk-1234",
        ])
        .env_remove("LITELLM_MASTER_KEY")
        .assert()
        .code(0)
        .stderr(predicate::str::contains("visible to other users"));
}

#[test]
fn json_format_writes_results_on_stdout() {
    let env = Env::default_proxy();
    let csv = env.write(
        "users.csv",
        &format!("user_email,team_id\na@company.com,{DEV_TEST}\nb@company.com,{DEV_TEST}\n"),
    );
    let output = env.onboard().arg(&csv).arg("--json").output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let results: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(results.len(), 2);
    assert!(
        results
            .iter()
            .all(|r| r["result"] == "invited" && r["onboarding_link"].is_string())
    );
}

#[test]
fn help_version_and_completions() {
    let env = Env::default_proxy();
    env.onboard().arg("--help").assert().code(0).stdout(
        predicate::str::contains("onboard invite").and(predicate::str::contains("refresh")),
    );
    env.onboard()
        .arg("--version")
        .assert()
        .code(0)
        .stdout(predicate::str::contains(env!("CARGO_PKG_VERSION")));
    env.onboard()
        .args(["completions", "bash"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("_onboard"));
}

/// A private CA and a `localhost` certificate it signed: (CA PEM, server chain PEM, server key PEM).
fn private_ca() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    (ca_cert.pem(), server_cert.pem(), server_key.serialize_pem())
}

#[test]
fn ca_cert_trusts_a_private_ca_and_tls_is_verified_without_it() {
    let (ca, chain, key) = private_ca();
    let env = Env::new(EmulatorConfig {
        tls: Some(litellm_emulator::TlsPem {
            cert_chain: chain,
            key,
        }),
        ..EmulatorConfig::default()
    });
    assert!(env.emulator.url().starts_with("https://"));
    let ca_file = env.write("ca.pem", &ca);
    env.onboard()
        .args(["invite", "tls@company.com", "--team", DEV_TEST])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot reach the proxy"))
        // A certificate problem, not a refused connection: the hint says what to do.
        .stderr(predicate::str::contains("TLS certificate is not trusted"))
        .stderr(predicate::str::contains("--ca-cert"))
        .stderr(predicate::str::contains("connection refused").not());
    let output = env
        .onboard()
        .args(["invite", "tls@company.com", "--team", DEV_TEST, "--ca-cert"])
        .arg(&ca_file)
        .assert()
        .code(0)
        .get_output()
        .clone();
    let link = String::from_utf8(output.stdout).unwrap();
    assert!(link.starts_with("https://localhost:"), "{link}");
    assert_eq!(env.emulator.users_with_email("tls@company.com").len(), 1);
}

#[test]
fn verbose_logs_requests_without_secrets_and_pipes_get_no_colour() {
    let env = Env::default_proxy();
    let output = env
        .onboard()
        .args(["invite", "v@company.com", "--team", DEV_TEST, "-vv"])
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let link = String::from_utf8_lossy(&output.stdout);
    let invitation = link.trim().rsplit('=').next().unwrap();
    assert!(stderr.contains("POST /user/new → 200"), "{stderr}");
    assert!(stderr.contains("POST /invitation/new → 200"), "{stderr}");
    assert!(
        !stderr.contains(invitation),
        "invitation ids are credentials: {stderr}"
    );
    assert!(!stderr.contains("sk-1234"));
    assert!(
        !stderr.contains('\u{1b}') && !link.contains('\u{1b}'),
        "no colour codes off a terminal"
    );
    let quiet = env
        .onboard()
        .args(["invite", "q@company.com", "--team", DEV_TEST])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&quiet.stderr).contains("→"),
        "no logs without -v"
    );
}

#[test]
fn sso_proxies_get_a_warning() {
    let env = Env::new(EmulatorConfig {
        sso_configured: true,
        ..EmulatorConfig::default()
    });
    env.onboard()
        .args(["invite", "s@company.com", "--team", DEV_TEST])
        .assert()
        .code(0)
        .stderr(predicate::str::contains("SSO is configured"));
}

#[cfg(unix)]
#[test]
fn an_existing_audit_file_becomes_private_when_rewritten() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::default_proxy();
    std::fs::write(env.results_path(), "[]\n").unwrap();
    std::fs::set_permissions(env.results_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    env.onboard()
        .args(["invite", "m@company.com", "--team", DEV_TEST])
        .assert()
        .code(0);
    let mode = std::fs::metadata(env.results_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

/// The CSV is a regular file or `-` (stdin): a FIFO or a device would block or never end.
#[test]
fn the_csv_must_be_a_regular_file_or_stdin() {
    let env = Env::default_proxy();
    let fifo = env.dir.path().join("users.fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for path in [
        fifo.as_path(),
        std::path::Path::new("/dev/zero"),
        env.dir.path(),
    ] {
        let shown = path.display().to_string();
        env.onboard()
            .arg(path)
            .timeout(std::time::Duration::from_secs(20))
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!(
                "{shown}: not a regular file"
            )));
    }
    assert_eq!(env.emulator.stats().total_requests, 0);

    env.onboard()
        .args(["-", "--team", DEV_TEST])
        .write_stdin("user_email\nstdin@company.com\n")
        .assert()
        .code(0);
    assert_eq!(env.record("stdin@company.com")["status"], "success");
}

/// A cell with terminal escapes is never echoed raw.
#[test]
fn terminal_escapes_in_cells_are_not_echoed() {
    let env = Env::default_proxy();
    let csv = env.write(
        "users.csv",
        &format!("user_email,team_id,\u{1b}]0;pwned\u{7}\nalice@company.com,\u{1b}]0;pwned\u{7}\nbob@company.com,{DEV_TEST}\n"),
    );
    for extra in [&[][..], &["--skip-invalid"][..]] {
        let output = env.onboard().args(extra).arg(&csv).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.contains('\u{1b}') && !stderr.contains('\u{7}'),
            "{stderr:?}"
        );
        assert!(
            stderr.contains("line 2: team_id: contains a control character"),
            "{stderr}"
        );
        assert!(stderr.contains("\\u{1b}]0;pwned\\u{7}"), "{stderr}");
    }
    let output = env
        .onboard()
        .args([
            "invite",
            "carl@company.com",
            "--team",
            "\u{1b}]0;pwned\u{7}",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&output.stderr).contains('\u{1b}'));
}

#[test]
fn bad_flag_values_exit_2_with_a_message_and_never_panic() {
    let env = Env::default_proxy();
    let csv = env.write(
        "users.csv",
        &format!("user_email,team_id\na@company.com,{DEV_TEST}\n"),
    );
    for (args, expected) in [
        (&["--timeout", "inf"][..], "--timeout"),
        (&["--timeout", "NaN"][..], "--timeout"),
        (&["--timeout", "0"][..], "--timeout"),
        (&["--timeout=-5"][..], "--timeout"),
        (&["--timeout", "1e30"][..], "--timeout"),
        (&["--timeout", "2h"][..], "at most 1h"),
        (&["--timeout", "soon"][..], "--timeout"),
        (&["--rate", "1e-20"][..], "--rate"),
        (&["--rate", "inf"][..], "--rate"),
        (&["--rate", "NaN"][..], "--rate"),
        (&["--rate", "0"][..], "--rate"),
        (&["--rate", "1e12"][..], "--rate"),
        (&["--rate", "fast"][..], "--rate"),
    ] {
        let out = env.onboard().arg(&csv).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    for args in [
        &["--within", "8d"][..],
        &["--within", "1w"],
        &["--within", "x"],
    ] {
        let out = env.onboard().arg("refresh").args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("--within"), "{args:?}: {stderr}");
    }
    assert_eq!(env.emulator.stats().total_requests, 0);
    // The forms that stay valid: a bare number of seconds, and a duration.
    for timeout in ["45", "2.5", "30s", "2m"] {
        env.onboard()
            .arg(&csv)
            .args(["--dry-run", "--rate", "500", "--timeout", timeout])
            .assert()
            .code(0);
    }
}

#[test]
fn skip_invalid_runs_each_email_once() {
    let env = Env::default_proxy();
    let csv = env.write(
        "users.csv",
        &format!(
            "user_email,team_id,user_role\nok@company.com,{DEV_TEST},internal_user\nOK@company.com,{DEV_TEST},wizard\nbroken,{DEV_TEST},internal_user\nbroken,{DEV_TEST},internal_user\n"
        ),
    );
    let output = env
        .onboard()
        .arg(&csv)
        .args(["--skip-invalid", "--dry-run", "--json"])
        .output()
        .unwrap();
    let plans: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let emails: Vec<&str> = plans
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["ok@company.com", "broken"], "{plans}");
    env.onboard()
        .arg(&csv)
        .arg("--skip-invalid")
        .assert()
        .code(1);
    assert_eq!(env.record("ok@company.com")["status"], "success");
    assert_eq!(env.emulator.stats().count("/invitation/new"), 1);
}
