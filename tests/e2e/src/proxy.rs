//! A fault-injecting HTTP proxy between the browser and the gateway, controlled by the test.
//!
//! Outages in these tests are real network events, not mocks: the browser's requests (the page's
//! and the service worker's alike, since the app is served through the proxy) cross a real socket,
//! and the proxy decides per request whether it reaches the gateway and whether the answer comes
//! back. It speaks just enough HTTP/1.1 for that: one request per connection (it answers with
//! `Connection: close`, so the browser opens a new connection per request and a change of mode
//! applies at once).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does with the next requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Requests and answers pass.
    None,
    /// The network is down: connections are closed before a byte is read.
    Down,
    /// Requests reach the gateway (which acts on them), but the connection is cut before the
    /// answer reaches the browser — the classic "did my payment go through?".
    CutAnswers,
    /// A captive portal: every request is answered 200 with a Wi-Fi login page; nothing reaches
    /// the gateway.
    CaptivePortal,
}

/// The proxy; runs until the test ends.
#[derive(Clone)]
pub struct Proxy {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

struct State {
    fault: Fault,
    /// Held before each protocol request (`/api/v1/…`) goes on: a slow line, so a test can act
    /// in the middle of a replay.
    delay: Duration,
    upstream: SocketAddr,
    /// `(method, path, delivered to the gateway)` of every request seen.
    seen: Vec<(String, String, bool)>,
}

impl Proxy {
    /// Listens on a free port and forwards to the gateway at `upstream_port`.
    pub async fn start(upstream_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let upstream = SocketAddr::from(([127, 0, 0, 1], upstream_port));
        let state = Arc::new(Mutex::new(State {
            fault: Fault::None,
            delay: Duration::ZERO,
            upstream,
            seen: Vec::new(),
        }));
        let accepting = state.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(handle(client, accepting.clone()));
            }
        });
        Proxy { port, state }
    }

    /// The app's address, through the proxy.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    pub fn set_fault(&self, fault: Fault) {
        self.state.lock().unwrap().fault = fault;
    }

    /// Holds every protocol request this long before passing it on (a slow line).
    pub fn set_delay(&self, delay: Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    /// Points the proxy at a gateway on another port (a restarted one).
    pub fn set_upstream(&self, port: u16) {
        self.state.lock().unwrap().upstream = SocketAddr::from(([127, 0, 0, 1], port));
    }

    /// How many requests for `path` were seen, whether or not they reached the gateway.
    pub fn seen(&self, path: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|(_, p, _)| p == path)
            .count()
    }

    /// How many requests for `path` reached the gateway.
    pub fn delivered(&self, path: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|(_, p, delivered)| p == path && *delivered)
            .count()
    }
}

const CAPTIVE_PAGE: &str =
    "<!doctype html><html><body><h1>Wi-Fi</h1><p>Войдите, чтобы продолжить</p></body></html>";

async fn handle(mut client: TcpStream, state: Arc<Mutex<State>>) {
    let fault = state.lock().unwrap().fault;
    if fault == Fault::Down {
        return; // dropping the socket closes it
    }
    let Some((head, body)) = read_request(&mut client).await else {
        return;
    };
    let request_line = head.lines().next().unwrap_or_default().to_owned();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();

    let delay = state.lock().unwrap().delay;
    if !delay.is_zero() && path.starts_with("/api/v1/") {
        tokio::time::sleep(delay).await;
    }
    // The fault may have changed while the request waited.
    let (fault, upstream) = {
        let state = state.lock().unwrap();
        (state.fault, state.upstream)
    };
    if fault == Fault::Down {
        state.lock().unwrap().seen.push((method, path, false));
        return;
    }

    if fault == Fault::CaptivePortal {
        state.lock().unwrap().seen.push((method, path, false));
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{CAPTIVE_PAGE}",
            CAPTIVE_PAGE.len()
        );
        let _ = client.write_all(answer.as_bytes()).await;
        return;
    }

    let Ok(mut gateway) = TcpStream::connect(upstream).await else {
        state.lock().unwrap().seen.push((method, path, false));
        return; // gateway down: the browser sees the connection close
    };
    let forwarded = with_connection_close(&head);
    if gateway.write_all(forwarded.as_bytes()).await.is_err()
        || gateway.write_all(&body).await.is_err()
    {
        return;
    }
    let mut answer = Vec::new();
    let _ = gateway.read_to_end(&mut answer).await;
    state.lock().unwrap().seen.push((method, path, true));
    if fault == Fault::CutAnswers {
        // Reset rather than close politely: what a dropped mobile connection looks like.
        let _ = client.set_zero_linger();
        return;
    }
    let _ = client.write_all(&answer).await;
}

/// Reads one request: its head (up to the blank line) and a body of `content-length` bytes.
async fn read_request(client: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        })
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end..].to_vec();
    while body.len() < length {
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((head, body))
}

/// The request head with its `Connection` header replaced by `close`, so the gateway ends the
/// answer by closing and the proxy knows it has all of it.
fn with_connection_close(head: &str) -> String {
    let mut lines: Vec<&str> = head.trim_end_matches("\r\n").split("\r\n").collect();
    lines.retain(|l| !l.to_ascii_lowercase().starts_with("connection:"));
    format!("{}\r\nconnection: close\r\n\r\n", lines.join("\r\n"))
}
