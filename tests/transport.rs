//! The transport against proxies that answer oddly: a canned HTTP server on loopback (no
//! emulator), so each test controls every byte the proxy sends.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use assert_cmd::Command;

/// A 41-character master key.
const KEY: &str = "sk-abcdefghijklmnopqrstuvwxyz0123456789ABC";
const TEAM: &str = "f6dbea80-21b4-4f7b-a669-3d6adcc6e8d1";

/// What the canned server sends for one request.
enum Answer {
    /// Status, body.
    Body(u16, String),
    /// 200 with a `content-length` of this many bytes, of which only a few are sent.
    ClaimedLength(u64),
    /// 200 with a chunked body of this many bytes.
    Chunked(usize),
}

/// A canned proxy: `answer(method, path_and_query)` decides each answer. Records every request.
struct Canned {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Canned {
    fn start(answer: fn(&str, &str) -> Answer) -> Canned {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = log.clone();
                std::thread::spawn(move || serve(stream, answer, &log));
            }
        });
        Canned { url, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// Serves one connection (one request, then close).
fn serve(stream: TcpStream, answer: fn(&str, &str) -> Answer, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    log.lock().unwrap().push(format!("{method} {target}"));
    let mut out = stream;
    let _ = match answer(&method, &target) {
        Answer::Body(status, body) => write!(
            out,
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ),
        Answer::ClaimedLength(length) => write!(
            out,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {length}\r\nconnection: close\r\n\r\n[[[[[[[["
        ),
        Answer::Chunked(total) => (|| {
            write!(
                out,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
            )?;
            let chunk = vec![b' '; 64 * 1024];
            let mut sent = 0;
            while sent < total {
                write!(out, "{:x}\r\n", chunk.len())?;
                out.write_all(&chunk)?;
                out.write_all(b"\r\n")?;
                sent += chunk.len();
            }
            out.write_all(b"0\r\n\r\n")
        })(),
    };
}

/// Answers pre-flight like a healthy proxy; `user/new` gets `user_new`.
fn healthy(method: &str, target: &str, user_new: Answer) -> Answer {
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("POST", "/user/new") => user_new,
        (_, "/health/liveliness") => Answer::Body(200, "\"I'm alive!\"".into()),
        (_, "/team/info") => Answer::Body(
            200,
            format!(r#"{{"team_id":"{TEAM}","team_info":{{"team_alias":"Dev-Test"}}}}"#),
        ),
        (_, "/user/info") => {
            Answer::Body(200, r#"{"user_info":{"user_id":"default_user_id"}}"#.into())
        }
        (_, "/user/list") => Answer::Body(200, r#"{"users":[],"total_pages":1}"#.into()),
        _ => Answer::Body(404, r#"{"detail":"Not Found"}"#.into()),
    }
}

fn onboard(dir: &std::path::Path, url: &str) -> Command {
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("onboard");
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("NO_COLOR", "1")
        .env("LITELLM_PROXY_URL", url)
        .env("LITELLM_MASTER_KEY", KEY);
    cmd
}

/// Every 8-character piece of the key found in `text`.
fn key_pieces(text: &str) -> Vec<&'static str> {
    (0..=KEY.len() - 8)
        .map(|at| &KEY[at..at + 8])
        .filter(|piece| text.contains(piece))
        .collect()
}

#[test]
fn a_key_echoed_after_160_characters_is_scrubbed_before_it_is_cut() {
    let proxy = Canned::start(|method, target| {
        // A 2xx the client cannot read, echoing the key after 160 characters of text.
        healthy(
            method,
            target,
            Answer::Body(200, format!("{} {KEY} trailing", "x".repeat(159))),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let output = onboard(dir.path(), &proxy.url)
        .args(["invite", "echo@company.com", "--team", TEAM])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    let audit = std::fs::read_to_string(dir.path().join("onboarding_results.json")).unwrap();
    assert!(
        proxy
            .requests()
            .iter()
            .any(|r| r.starts_with("POST /user/new")),
        "{:?}",
        proxy.requests()
    );
    assert!(audit.contains("unexpected answer"), "{audit}");
    for (name, text) in [
        ("stdout", &*stdout),
        ("stderr", &*stderr),
        ("audit", &*audit),
    ] {
        assert!(
            key_pieces(text).is_empty(),
            "{name} holds pieces of the key {:?}:\n{text}",
            key_pieces(text)
        );
    }
}

#[test]
fn an_oversized_answer_fails_the_request_naming_the_cap() {
    for answer in [
        (|_: &str, _: &str| Answer::ClaimedLength(2 << 30)) as fn(&str, &str) -> Answer,
        |_, _| Answer::Chunked(5 << 20),
    ] {
        let proxy = Canned::start(answer);
        let dir = tempfile::tempdir().unwrap();
        onboard(dir.path(), &proxy.url)
            .args(["invite", "big@company.com", "--team", TEAM])
            .assert()
            .code(2)
            .stderr(predicates::str::contains(
                "the answer is larger than 4 MiB; not reading it",
            ));
        // Not retried as if the proxy were briefly away.
        assert_eq!(proxy.requests(), ["GET /health/liveliness"]);
    }
}

#[test]
fn credentials_in_the_proxy_url_are_refused_without_echoing_the_password() {
    let proxy = Canned::start(|method, target| healthy(method, target, Answer::Chunked(0)));
    let dir = tempfile::tempdir().unwrap();
    let with_userinfo = proxy.url.replace("http://", "http://admin:hunter2@");
    for url in [
        with_userinfo.as_str(),
        "http://admin:hunter2@proxy.example.com",
        "https://admin:hunter2@proxy.example.com/litellm",
        "https://admin@proxy.example.com",
        "https://admin:hunter2@[::1",
    ] {
        let output = onboard(dir.path(), url)
            .args(["invite", "a@company.com", "--team", TEAM])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{url}: {stderr}");
        assert!(!stderr.contains("hunter2"), "{url}: {stderr}");
        assert!(
            stderr.contains("user name or password") || stderr.contains("is not a URL"),
            "{url}: {stderr}"
        );
    }
    assert!(proxy.requests().is_empty(), "{:?}", proxy.requests());
}
