//! A second Ctrl-C on every command that writes: the run stops at once, and the audit file
//! holds everything the proxy did (every user and invitation made or deleted is recorded as
//! such; a request cut short in flight is recorded as one that may have been carried out).
#![cfg(unix)]

mod common;

use std::collections::HashSet;
use std::process::{Child, Output};
use std::time::{Duration, Instant};

use common::{DEV_TEST, Env};
use serde_json::Value;

/// What a record says when a request was cut short in flight (the proxy may have done it).
const CUT: &str = "may or may not have been carried out";

fn people(prefix: &str, n: usize) -> (String, Vec<String>) {
    let emails: Vec<String> = (0..n).map(|i| format!("{prefix}{i}@company.com")).collect();
    let mut csv = String::from("user_email,team_id\n");
    for email in &emails {
        csv.push_str(&format!("{email},{DEV_TEST}\n"));
    }
    (csv, emails)
}

/// Runs `onboard ARGS` in the background.
fn spawn(env: &Env, args: &[&str]) -> Child {
    env.process(args).spawn().unwrap()
}

fn interrupt(child: &Child) {
    let pid = i32::try_from(child.id()).unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
}

/// Waits (at most 20 s) until `ready` holds while the child runs.
fn wait_until(child: &mut Child, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(child.try_wait().unwrap().is_none(), "finished too early");
        assert!(Instant::now() < deadline, "no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Ctrl-C, and Ctrl-C again 0.2 s later: the run ends with 130 before the requests in flight
/// (3 s each) would be answered.
fn two_signals(env: &Env, child: Child, what: &str) -> Output {
    env.emulator.set_latency(Duration::from_secs(3));
    // The requests sent from now on are the ones in flight.
    std::thread::sleep(Duration::from_millis(300));
    interrupt(&child);
    std::thread::sleep(Duration::from_millis(200));
    interrupt(&child);
    let started = Instant::now();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(130), "{what}: {stderr}");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{what}: took {:?}, not cut short: {stderr}",
        started.elapsed()
    );
    // Requests cut short on our side are still carried out by the proxy: wait for them.
    std::thread::sleep(Duration::from_millis(3500));
    env.emulator.set_latency(Duration::ZERO);
    output
}

fn journal_lines(env: &Env) -> usize {
    let journal = env.dir.path().join("onboarding_results.json.journal");
    std::fs::read_to_string(journal).map_or(0, |t| t.lines().count())
}

/// Every user and invitation of `emails` on the proxy is recorded as what it is, and every
/// record says what the proxy holds. Returns how many records admit a request cut short.
fn assert_recorded(env: &Env, emails: &[String], what: &str) -> usize {
    let records = env.records();
    let invitations = env.emulator.invitations();
    let mut cut = 0;
    for email in emails {
        let record = records.iter().find(|r| r["email"] == email.as_str());
        let users = env.emulator.users_with_email(email);
        assert!(users.len() <= 1, "{what}: {email}: one user at most");
        let user = users.first();
        let Some(record) = record else {
            assert!(
                user.is_none(),
                "{what}: {email}: a user the proxy made is unrecorded"
            );
            continue;
        };
        let text = record.to_string();
        let admits_cut = text.contains(CUT) || record["lost_invitations"].as_u64() > Some(0);
        cut += usize::from(admits_cut);
        let offboarded = record["offboarded_at"].is_string();
        match (user, record["user_id"].as_str()) {
            (Some(user), Some(id)) => {
                assert_eq!(user.user_id, id, "{what}: {email}: {record}");
                assert!(
                    !offboarded || admits_cut,
                    "{what}: {email}: deleted user is there: {record}"
                );
            }
            (Some(_), None) => assert!(admits_cut, "{what}: {email}: user unrecorded: {record}"),
            (None, Some(_)) => assert!(
                offboarded || admits_cut,
                "{what}: {email}: the recorded user is gone: {record}"
            ),
            (None, None) => {}
        }
        let known: HashSet<&str> = record["history"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["invitation_id"].as_str())
            .chain(record["invitation_id"].as_str())
            .collect();
        if let Some(user) = user {
            for invitation in invitations.iter().filter(|i| i.user_id == user.user_id) {
                assert!(
                    known.contains(invitation.id.as_str()) || admits_cut,
                    "{what}: {email}: invitation {} unrecorded: {record}",
                    invitation.id
                );
            }
        }
        let live: HashSet<&str> = invitations.iter().map(|i| i.id.as_str()).collect();
        if let Some(id) = record["invitation_id"].as_str() {
            assert!(
                live.contains(id) || offboarded,
                "{what}: {email}: the recorded invitation is gone: {record}"
            );
        }
        for past in record["history"].as_array().into_iter().flatten() {
            if past["deleted"] == true {
                let id = past["invitation_id"].as_str().unwrap();
                assert!(!live.contains(id), "{what}: {email}: deleted {id} is there");
            }
        }
    }
    cut
}

/// The counts of the summary line `onboard: …` that name people, summed.
fn people_counted(stderr: &str) -> usize {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("onboard: ") && l.contains(" invited ("))
        .unwrap_or_else(|| panic!("no summary: {stderr}"));
    let mut total = 0;
    for part in line.trim_start_matches("onboard: ").split(", ") {
        let mut words = part.split_whitespace();
        let Some(n) = words.next().and_then(|w| w.parse::<usize>().ok()) else {
            continue;
        };
        let what = words.collect::<Vec<_>>().join(" ");
        if what.starts_with("invited")
            || what.starts_with("already")
            || what.starts_with("failed")
            || what.starts_with("not started")
        {
            total += n;
        }
    }
    total
}

/// Users the summary says this run made: `created` among the invited, and those made and
/// not invited.
fn users_made(stderr: &str) -> usize {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("onboard: ") && l.contains(" invited ("))
        .unwrap_or_else(|| panic!("no summary: {stderr}"));
    let number_before = |what: &str| {
        line.split(what).next().and_then(|head| {
            head.rsplit(|c: char| !c.is_ascii_digit())
                .find(|w| !w.is_empty())
                .map(|n| n.parse::<usize>().unwrap())
        })
    };
    let created = number_before(" created").expect("created count");
    let made = if line.contains(" made and not invited") {
        number_before(" user(s) made and not invited").unwrap()
    } else {
        0
    };
    created + made
}

fn second_signal_on_onboard(bulk: &str) {
    let env = Env::default_proxy();
    env.emulator.set_latency(Duration::from_millis(100));
    let (csv, emails) = people(&format!("s{bulk}"), 300);
    let csv = env.write("users.csv", &csv);
    let csv = csv.to_str().unwrap();
    let mut child = spawn(&env, &[csv, "--concurrency", "8", "--bulk", bulk]);
    wait_until(&mut child, || journal_lines(&env) >= 1);
    let output = two_signals(&env, child, bulk);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_recorded(&env, &emails, bulk);
    assert_eq!(
        people_counted(&stderr),
        300,
        "every person counted once: {stderr}"
    );
    // A re-run finishes the job: one user per email.
    env.onboard().arg(csv).assert().code(0);
    assert_recorded(&env, &emails, "re-run");
    assert_eq!(env.emulator.stats().duplicate_emails, 0);
    for email in &emails {
        assert_eq!(env.record(email)["status"], "success");
    }
}

#[test]
fn a_second_signal_on_onboard_per_person_keeps_what_was_done() {
    second_signal_on_onboard("never");
}

#[test]
fn a_second_signal_on_onboard_in_bulk_keeps_what_was_done() {
    second_signal_on_onboard("auto");
}

/// Onboards `emails` (no latency) and returns the CSV's path.
fn onboarded(env: &Env, prefix: &str, n: usize) -> (String, Vec<String>) {
    let (csv, emails) = people(prefix, n);
    let csv = env.write(&format!("{prefix}.csv"), &csv);
    env.onboard().arg(&csv).assert().code(0);
    (csv.to_str().unwrap().to_string(), emails)
}

#[test]
fn a_second_signal_on_offboard_keeps_every_delete_received() {
    let env = Env::default_proxy();
    let (csv, emails) = onboarded(&env, "o", 52);
    env.emulator.set_latency(Duration::from_millis(100));
    // One delete a person, so deletes are in flight when the signals come.
    let args = [
        "offboard",
        &csv,
        "--yes",
        "--concurrency",
        "8",
        "--bulk",
        "never",
    ];
    let mut child = spawn(&env, &args);
    wait_until(&mut child, || journal_lines(&env) >= 1);
    two_signals(&env, child, "offboard");
    assert_recorded(&env, &emails, "offboard");
    // The next plan does not take a deleted invitation for a live one.
    let dry = env
        .onboard()
        .arg(&csv)
        .args(["--dry-run", "--json"])
        .output()
        .unwrap();
    let plans: Value = serde_json::from_slice(&dry.stdout).unwrap();
    let live: HashSet<String> = env
        .emulator
        .invitations()
        .into_iter()
        .map(|i| i.id)
        .collect();
    for plan in plans.as_array().unwrap() {
        if plan["skip"] == "already_invited" {
            let email = plan["email"].as_str().unwrap();
            let id = env.record(email)["invitation_id"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(
                live.contains(&id),
                "{email} skipped on a deleted invitation"
            );
        }
    }
}

#[test]
fn a_second_signal_on_prune_keeps_every_removal_received() {
    let env = Env::default_proxy();
    let (_, emails) = onboarded(&env, "p", 40);
    let keep = env.write(
        "keep.csv",
        &format!("user_email,team_id\np0@company.com,{DEV_TEST}\n"),
    );
    env.emulator.set_latency(Duration::from_millis(100));
    let keep = keep.to_str().unwrap();
    let mut child = spawn(&env, &[keep, "--prune", "--yes", "--concurrency", "8"]);
    wait_until(&mut child, || journal_lines(&env) >= 1);
    two_signals(&env, child, "prune");
    assert_recorded(&env, &emails, "prune");
    // Every membership the proxy removed is recorded as removed.
    let members: HashSet<String> = env
        .emulator
        .team_members(DEV_TEST)
        .into_iter()
        .filter_map(|m| m.user_id)
        .collect();
    for email in &emails[1..] {
        let record = env.record(email);
        let id = record["user_id"].as_str().unwrap();
        let recorded = record["removed_from_teams"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t == DEV_TEST));
        assert!(
            members.contains(id) || recorded || record.to_string().contains(CUT),
            "{email}: removed on the proxy, not in the record: {record}"
        );
    }
}

#[test]
fn a_second_signal_on_refresh_keeps_every_renewal_received() {
    let env = Env::default_proxy();
    // Made eight days ago (onboard and the proxy agree on the time): every invitation has
    // expired and is renewed.
    env.emulator.set_clock_offset(-chrono::Duration::days(8));
    let (_, emails) = onboarded(&env, "r", 40);
    env.emulator.set_clock_offset(chrono::Duration::zero());
    env.emulator.set_latency(Duration::from_millis(100));
    let mut child = spawn(&env, &["refresh", "--concurrency", "8"]);
    wait_until(&mut child, || journal_lines(&env) >= 1);
    two_signals(&env, child, "refresh");
    assert_recorded(&env, &emails, "refresh");
}

#[test]
fn a_second_signal_on_export_stops_at_once_and_writes_nothing_partial() {
    let env = Env::default_proxy();
    onboarded(&env, "e", 250);
    env.emulator.set_latency(Duration::from_millis(100));
    let mut child = spawn(&env, &["export", "--output", "export.csv"]);
    wait_until(&mut child, || env.emulator.stats().total_requests >= 3);
    two_signals(&env, child, "export");
    assert!(
        !env.dir.path().join("export.csv").exists(),
        "no partial export"
    );
}

#[test]
fn an_interrupted_bulk_run_counts_every_user_it_made() {
    let env = Env::default_proxy();
    env.emulator.set_latency(Duration::from_millis(300));
    let (csv, emails) = people("m", 10);
    let csv = env.write("users.csv", &csv);
    let mut child = spawn(&env, &[csv.to_str().unwrap(), "--concurrency", "2"]);
    // The chunk made and journaled all ten users; their invitations are on their way.
    wait_until(&mut child, || journal_lines(&env) >= 10);
    interrupt(&child);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert_recorded(&env, &emails, "bulk, one signal");
    assert_eq!(
        env.emulator
            .users()
            .iter()
            .filter(|u| u.user_email.is_some())
            .count(),
        10
    );
    assert_eq!(users_made(&stderr), 10, "{stderr}");
    assert_eq!(people_counted(&stderr), 10, "{stderr}");
}
