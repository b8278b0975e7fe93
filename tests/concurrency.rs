//! People in flight: bounded when fixed, adaptive by default, one request per email at a time.

mod common;

use std::time::Duration;

use common::{DEV_TEST, Env};
use litellm_emulator::{EmulatorConfig, FaultConfig};

fn people(n: usize) -> String {
    let mut csv = String::from("user_email,team_id\n");
    for i in 0..n {
        csv.push_str(&format!("p{i}@company.com,{DEV_TEST}\n"));
    }
    csv
}

#[test]
fn fixed_concurrency_is_really_bounded() {
    let env = Env::default_proxy();
    env.emulator.set_latency(Duration::from_millis(15));
    let csv = env.write("users.csv", &people(60));
    env.onboard()
        .arg(&csv)
        .args(["--concurrency", "3"])
        .assert()
        .code(0);
    let stats = env.emulator.stats();
    // Pre-flight reads run before the people; each person has one request in flight at a time.
    assert!(stats.peak_in_flight <= 3, "peak {}", stats.peak_in_flight);
    assert!(
        stats.peak_in_flight >= 2,
        "people ran concurrently: peak {}",
        stats.peak_in_flight
    );
}

#[test]
fn adaptive_concurrency_rises_when_the_proxy_keeps_up() {
    let env = Env::default_proxy();
    env.emulator.set_latency(Duration::from_millis(10));
    let csv = env.write("users.csv", &people(600));
    env.onboard().arg(&csv).assert().code(0);
    let peak = env.emulator.stats().peak_in_flight;
    assert!(
        peak > 8,
        "the limit should climb above its start of 4 when latency holds: peak {peak}"
    );
}

#[test]
fn adaptive_concurrency_stays_low_on_an_overloaded_proxy() {
    let env = Env::new(EmulatorConfig {
        capacity: Some(2),
        service_scale: 0.2,
        congestion: 1.0,
        ..EmulatorConfig::default()
    });
    let csv = env.write("users.csv", &people(300));
    env.onboard().arg(&csv).assert().code(0);
    let peak = env.emulator.stats().peak_in_flight;
    assert!(
        peak < 16,
        "queueing at the proxy must hold the limit down: peak {peak}"
    );
}

#[test]
fn overload_answers_make_the_run_back_off() {
    let env = Env::default_proxy();
    env.emulator.set_latency(Duration::from_millis(5));
    env.emulator.set_faults(FaultConfig {
        seed: 3,
        overload: 0.15,
        retry_after_secs: 0,
        routes: Vec::new(),
        ..FaultConfig::default()
    });
    let csv = env.write("users.csv", &people(400));
    env.onboard()
        .arg(&csv)
        .args(["--retries", "8"])
        .assert()
        .code(0);
    let stats = env.emulator.stats();
    assert!(stats.faults.overload > 0);
    assert!(
        stats.peak_in_flight < 32,
        "503s must keep the limit down: peak {}",
        stats.peak_in_flight
    );
}

#[test]
fn one_email_is_never_in_flight_twice() {
    let env = Env::default_proxy();
    // Latency widens the proxy's check-then-insert race: two requests at once would both win.
    env.emulator.set_latency(Duration::from_millis(30));
    let mut csv = String::from("user_email,team_id\n");
    for i in 0..40 {
        csv.push_str(&format!("same@company.com,{DEV_TEST}\nSAME@company.com,{DEV_TEST}\nother{i}@company.com,{DEV_TEST}\n"));
    }
    let csv = env.write("users.csv", &csv);
    env.onboard()
        .arg(&csv)
        .args(["--concurrency", "16"])
        .assert()
        .code(0);
    assert_eq!(env.emulator.users_with_email("same@company.com").len(), 1);
    assert_eq!(env.emulator.stats().duplicate_emails, 0);
}

#[test]
fn rate_caps_requests_per_second() {
    let env = Env::default_proxy();
    let csv = env.write("users.csv", &people(10));
    let started = std::time::Instant::now();
    env.onboard()
        .arg(&csv)
        .args(["--rate", "40", "--bulk", "never"])
        .assert()
        .code(0);
    // 20 writes plus pre-flight reads at 40/s cannot finish in under half a second.
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "took {:?}",
        started.elapsed()
    );
}
