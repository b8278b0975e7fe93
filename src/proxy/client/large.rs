//! Large answers: one at a time past [`MAX_BODY_BYTES`], none past the endpoint's cap.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use super::*;
use crate::proxy::pacer::{Limiter, Pacer};
use crate::types::TeamId;

/// A `/team/info` server: team `a`'s answer (5 MiB) waits for `release` before it ends, team
/// `big`'s is 129 MiB, any other team's is 5 MiB at once. Answers are chunked (no length).
async fn server(release: Arc<Notify>) -> ProxyClient {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::spawn(answer(socket, Arc::clone(&release)));
        }
    });
    let pacer = Arc::new(Pacer::new(Arc::new(Limiter::fixed(8)), None));
    let key = MasterKey::new("sk-test");
    ProxyClient::new(&url, key, &ClientOptions::default(), pacer).unwrap()
}

async fn answer(mut socket: TcpStream, release: Arc<Notify>) -> std::io::Result<()> {
    let mut head = vec![0; 4096];
    let n = socket.read(&mut head).await?;
    let head = String::from_utf8_lossy(&head[..n]);
    let team = ["a", "big", "b"]
        .into_iter()
        .find(|t| head.contains(&format!("team_id={t} ")))
        .unwrap();
    socket
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
        .await?;
    let pad = vec![b'x'; 1 << 20];
    let start = format!("{{\"team_id\":\"{team}\",\"pad\":\"");
    chunk(&mut socket, start.as_bytes()).await?;
    for _ in 0..if team == "big" { 129 } else { 5 } {
        chunk(&mut socket, &pad).await?;
    }
    if team == "a" {
        release.notified().await;
    }
    chunk(&mut socket, b"\"}").await?;
    socket.write_all(b"0\r\n\r\n").await
}

async fn chunk(socket: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    socket
        .write_all(format!("{:x}\r\n", bytes.len()).as_bytes())
        .await?;
    socket.write_all(bytes).await?;
    socket.write_all(b"\r\n").await
}

#[tokio::test]
async fn an_answer_past_the_cap_is_an_error_not_a_buffer() {
    let client = server(Arc::new(Notify::new())).await;
    let error = client.team(&TeamId::new("big")).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "unexpected answer from the proxy: team/info: HTTP 200 OK: the answer is larger than 128 MiB; not reading it"
    );
}

#[tokio::test]
async fn one_large_answer_is_read_at_a_time() {
    let release = Arc::new(Notify::new());
    let client = server(Arc::clone(&release)).await;
    let first = tokio::spawn({
        let client = client.clone();
        async move { client.team(&TeamId::new("a")).await }
    });
    // The first answer is past 4 MiB (it holds the permit) and waits for its end.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let b = TeamId::new("b");
    let second = client.team(&b);
    tokio::pin!(second);
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut second)
            .await
            .is_err(),
        "a second large answer was read while the first was held"
    );
    release.notify_one();
    assert_eq!(first.await.unwrap().unwrap().unwrap().team_id.as_str(), "a");
    assert_eq!(second.await.unwrap().unwrap().team_id.as_str(), "b");
}
