//! Offboarding many people deletes their users with `bulk_delete` (per-row results) where the
//! proxy has it, one `/user/delete` each elsewhere; a lost answer is read back before anything
//! is resent, and nobody outside the plan is touched.

mod common;

use common::{DEV_TEST, Env};
use litellm_emulator::{EmulatorConfig, FaultConfig};

/// Onboards `n` people and returns the CSV that names them.
fn onboarded(env: &Env, n: usize) -> std::path::PathBuf {
    let mut text = String::from("user_email,team_id\n");
    for i in 0..n {
        text.push_str(&format!("leaver{i}@company.com,{DEV_TEST}\n"));
    }
    let csv = env.write("leavers.csv", &text);
    env.onboard().arg(&csv).arg("-q").assert().code(0);
    csv
}

fn offboard(env: &Env, csv: &std::path::Path, extra: &[&str]) -> std::process::Output {
    env.onboard()
        .args(["offboard", csv.to_str().unwrap(), "--yes", "--json"])
        .args(extra)
        .output()
        .unwrap()
}

fn assert_all_offboarded(env: &Env, n: usize) {
    let records: std::collections::HashMap<String, serde_json::Value> = env
        .records()
        .into_iter()
        .map(|r| (r["email"].as_str().unwrap().to_string(), r))
        .collect();
    let left: std::collections::HashSet<String> = env
        .emulator
        .users()
        .into_iter()
        .filter_map(|u| u.user_email)
        .collect();
    for i in 0..n {
        let email = format!("leaver{i}@company.com");
        assert!(!left.contains(&email), "{email} deleted");
        let record = &records[&email];
        assert!(record["offboarded_at"].is_string(), "{record}");
    }
}

#[test]
fn many_users_are_deleted_in_chunks_of_at_most_500() {
    let env = Env::default_proxy();
    let bystander = env.emulator.add_user("stays@company.com", &[DEV_TEST]);
    // Made in the UI, not by `onboard`: the audit file knows none of them.
    let leavers: Vec<String> = (0..1_200)
        .map(|i| format!("leaver{i}@company.com"))
        .collect();
    env.emulator.add_users_at_once(&leavers, &[DEV_TEST]);
    let csv = env.write(
        "leavers.csv",
        &format!("user_email\n{}\n", leavers.join("\n")),
    );
    env.emulator.reset_stats();
    let out = offboard(&env, &csv, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats = env.emulator.stats();
    // Four chunks of 300: at most 500 each, spread so several workers can take them.
    assert_eq!(stats.count("/management/v1/users/bulk_delete"), 4);
    assert_eq!(stats.count("/user/delete"), 0);
    assert_all_offboarded(&env, 1_200);
    assert_eq!(
        env.emulator.user_count(),
        2,
        "the bystander and the default user"
    );
    assert!(env.emulator.users().iter().any(|u| u.user_id == bystander));
    let results: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let deleted = results
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["actions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "delete_user")
        })
        .count();
    assert_eq!(deleted, 1_200, "every person's result names the whole plan");
}

#[test]
fn one_delete_each_with_bulk_never_and_on_1_80() {
    for (config, extra) in [
        (EmulatorConfig::default(), vec!["--bulk", "never"]),
        (EmulatorConfig::v1_80(), vec![]),
    ] {
        let env = Env::new(config);
        let csv = onboarded(&env, 5);
        env.emulator.reset_stats();
        let out = offboard(&env, &csv, &extra);
        assert_eq!(out.status.code(), Some(0), "{extra:?}");
        let stats = env.emulator.stats();
        assert_eq!(stats.count("/user/delete"), 5, "{extra:?}");
        assert_eq!(stats.count("/management/v1/users/bulk_delete"), 0);
        assert_all_offboarded(&env, 5);
    }
}

#[test]
fn a_lost_bulk_answer_is_read_back_and_nothing_is_left_or_refused() {
    for (after, drop) in [(1.0, 0.0), (0.0, 1.0)] {
        let env = Env::default_proxy();
        env.emulator.add_user("stays@company.com", &[DEV_TEST]);
        let csv = onboarded(&env, 30);
        env.emulator.set_faults(FaultConfig {
            seed: 7,
            fail_after_commit: after,
            drop_after_commit: drop,
            routes: vec!["/management/v1/users/bulk_delete".into()],
            ..FaultConfig::default()
        });
        let out = offboard(&env, &csv, &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_all_offboarded(&env, 30);
        assert_eq!(env.emulator.user_count(), 2, "nobody else deleted");
        let stats = env.emulator.stats();
        assert_eq!(
            stats.count("/management/v1/users/bulk_delete"),
            1,
            "the users were read back, not deleted again"
        );
    }
}

#[test]
fn a_bulk_delete_that_keeps_failing_falls_back_to_one_delete_each() {
    let env = Env::default_proxy();
    let csv = onboarded(&env, 4);
    env.emulator.set_faults(FaultConfig {
        seed: 3,
        fail_before_commit: 1.0,
        routes: vec!["/management/v1/users/bulk_delete".into()],
        ..FaultConfig::default()
    });
    let out = offboard(&env, &csv, &["--retries", "1"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_all_offboarded(&env, 4);
}
