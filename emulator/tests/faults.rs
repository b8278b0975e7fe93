//! Fault injection, the duplicate-email race, capacity mode and the sync spawn API.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{Api, start};
use litellm_emulator::{Emulator, EmulatorConfig, FaultConfig};
use serde_json::json;

fn with_faults(f: FaultConfig) -> EmulatorConfig {
    EmulatorConfig {
        faults: f,
        ..EmulatorConfig::default()
    }
}

#[tokio::test]
async fn fail_before_commit_stores_nothing() {
    let (emu, api) = start(with_faults(FaultConfig {
        fail_before_commit: 1.0,
        ..FaultConfig::default()
    }))
    .await;
    let (s, body) = api.new_user("a@x.io").await;
    assert_eq!(s, 500);
    assert_eq!(body["error"]["code"], "500");
    assert!(emu.users_with_email("a@x.io").is_empty());
    assert_eq!(emu.stats().faults.fail_before_commit, 1);
    assert_eq!(
        api.get("/user/list").await.0,
        200,
        "reads are never faulted"
    );
}

#[tokio::test]
async fn fail_after_commit_stores_the_user() {
    let (emu, api) = start(with_faults(FaultConfig {
        fail_after_commit: 1.0,
        ..FaultConfig::default()
    }))
    .await;
    let (s, _) = api.new_user("a@x.io").await;
    assert_eq!(s, 500);
    assert_eq!(emu.users_with_email("a@x.io").len(), 1);
    emu.set_faults(FaultConfig::none());
    assert_eq!(
        api.new_user("a@x.io").await.0,
        409,
        "the retry sees the committed user"
    );
}

#[tokio::test]
async fn drop_after_commit_gives_a_connection_error() {
    let (emu, api) = start(with_faults(FaultConfig {
        drop_after_commit: 1.0,
        ..FaultConfig::default()
    }))
    .await;
    let err = api
        .http
        .post(format!("{}/user/new", emu.url()))
        .bearer_auth("sk-1234")
        .json(&json!({"user_email": "a@x.io", "user_role": "internal_user"}))
        .send()
        .await
        .expect_err("the connection must close without a response");
    assert!(err.status().is_none(), "{err:?}");
    assert_eq!(
        emu.users_with_email("a@x.io").len(),
        1,
        "committed before the drop"
    );
    let stats = emu.stats();
    assert_eq!(stats.faults.drop_after_commit, 1);
    assert_eq!(stats.keys_created, 1);
    // The server keeps serving other connections.
    assert_eq!(api.get("/health/liveliness").await.0, 200);
}

#[tokio::test]
async fn overload_is_503_with_retry_after() {
    let (emu, api) = start(with_faults(FaultConfig {
        overload: 1.0,
        retry_after_secs: 3,
        ..FaultConfig::default()
    }))
    .await;
    let resp = api
        .http
        .post(format!("{}/invitation/new", emu.url()))
        .bearer_auth("sk-1234")
        .json(&json!({"user_id": "default_user_id"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "3");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "overloaded_error");
    assert!(emu.invitations().is_empty());
}

#[tokio::test]
async fn same_seed_same_faults() {
    let faults = FaultConfig {
        seed: 42,
        fail_before_commit: 0.5,
        ..FaultConfig::default()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let (_emu, api) = start(with_faults(faults.clone())).await;
        let mut statuses = Vec::new();
        for i in 0..12 {
            statuses.push(api.new_user(&format!("u{i}@x.io")).await.0);
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(
        runs[0].contains(&500) && runs[0].contains(&200),
        "{:?}",
        runs[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_same_email_creates_duplicates() {
    let cfg = EmulatorConfig {
        latency: Duration::from_millis(100),
        ..EmulatorConfig::default()
    };
    let (emu, api) = start(cfg).await;
    let (a, b) = tokio::join!(api.new_user("race@x.io"), api.new_user("race@x.io"));
    assert_eq!((a.0, b.0), (200, 200));
    assert_eq!(emu.users_with_email("race@x.io").len(), 2);
    assert_eq!(emu.stats().duplicate_emails, 1);
    assert_eq!(
        api.new_user("RACE@x.io").await.0,
        409,
        "sequential requests are checked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_bounds_served_requests() {
    let cfg = EmulatorConfig {
        capacity: Some(2),
        service_scale: 0.5,
        ..EmulatorConfig::default()
    };
    let (emu, api) = start(cfg).await;
    let started = Instant::now();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let api: Api = api.clone();
            tokio::spawn(async move { api.new_user(&format!("c{i}@x.io")).await.0 })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let elapsed = started.elapsed();
    let stats = emu.stats();
    assert!(stats.peak_served <= 2, "{stats:?}");
    assert!(stats.peak_in_flight >= 4, "{stats:?}");
    // 8 requests × ≥12.5 ms, two at a time: at least ~50 ms.
    assert!(elapsed >= Duration::from_millis(45), "{elapsed:?}");
}

#[test]
fn spawn_works_from_a_plain_test() {
    let emu = Emulator::spawn(EmulatorConfig::default());
    assert!(emu.url().starts_with("http://127.0.0.1:"));
    let mut stream = std::net::TcpStream::connect(emu.addr()).unwrap();
    stream
        .write_all(b"GET /health/liveliness HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.ends_with("\"I'm alive!\""), "{text}");
    emu.add_user("sync@x.io", &[]);
    assert_eq!(emu.users_with_email("sync@x.io").len(), 1);
    let addr = emu.addr();
    drop(emu);
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "stopped on drop"
    );
}
