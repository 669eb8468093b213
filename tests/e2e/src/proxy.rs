//! A fault-injecting HTTP proxy between the browser and the gateway, controlled by the test.
//!
//! Outages in these tests are real network events, not mocks: the browser's requests (the page's
//! and the service worker's alike, since the app is served through the proxy) cross a real socket,
//! and the proxy decides per request whether it reaches the gateway and whether the answer comes
//! back. It speaks just enough HTTP/1.1 for that: one request per connection (it answers with
//! `Connection: close`, so the browser opens a new connection per request and a change of mode
//! applies at once).
//!
//! It can also be a slow link ([`Link`]): a bandwidth in each direction and a round-trip time,
//! applied to the real bytes that cross it, and it counts those bytes ([`Proxy::traffic`]). And
//! it can play a gateway older than some path ([`Proxy::set_not_found`]): 404, as such a gateway
//! answers a path it does not know.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

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

/// A slow link between the browser and the gateway, as a cheap data plan on a poor cell has: each
/// direction carries `bytes_per_s` (one transfer after another, whatever the connection), and
/// every request and every answer arrives half a round trip after its last byte left.
///
/// Modelled: the bytes of HTTP requests and answers (heads and bodies) and one round trip per
/// request and answer. Not modelled: TCP and TLS handshakes and packet headers (the proxy's
/// connection per request stands for a kept-alive one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    pub bytes_per_s: u64,
    pub round_trip: Duration,
}

impl Link {
    /// 128 kbit/s each way with 300 ms round trips: the plan Tolem is built for.
    pub const SLOW: Link = Link {
        bytes_per_s: 16_000,
        round_trip: Duration::from_millis(300),
    };
}

/// The bytes that crossed the proxy, each way (heads and bodies).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Browser → gateway.
    pub up: u64,
    /// Gateway → browser.
    pub down: u64,
    /// Requests that crossed.
    pub requests: u64,
    /// When the last answer finished arriving at the browser.
    pub last_answer_at: Option<Instant>,
    /// Requests read from the browser whose handling has not ended yet.
    pub in_flight: u64,
    /// The time the gateway spent on the requests (from forwarding one to its whole answer),
    /// summed: what the link did not cost.
    pub at_gateway: Duration,
}

/// Counts a request in flight until dropped, however its handling ends.
struct InFlight(Arc<Mutex<State>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.lock().unwrap().traffic.in_flight -= 1;
    }
}

/// One request the proxy saw.
struct Seen {
    path: String,
    delivered: bool,
    /// The payments it carried: 1 for a pay, the items of a batch, 0 otherwise.
    payments: usize,
    /// Its body came gzipped (`Content-Encoding: gzip`).
    gzipped: bool,
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
    /// Every request seen.
    seen: Vec<Seen>,
    /// The slow link, if there is one.
    link: Option<Link>,
    /// When each direction of the link is free again: transfers go one after another.
    up_free_at: Instant,
    down_free_at: Instant,
    traffic: Traffic,
    /// Paths answered 404 without reaching the gateway.
    not_found: Vec<String>,
    /// Paths whose answers are held back, once the gateway gave them, until released: an
    /// answer slow on its way, still to come when the link has died.
    holding: Vec<String>,
    /// How many answers are held now.
    held: usize,
    /// Wakes the held answers when a path is released.
    released: Arc<Notify>,
}

/// A direction of the link.
#[derive(Clone, Copy)]
enum Way {
    Up,
    Down,
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
            link: None,
            up_free_at: Instant::now(),
            down_free_at: Instant::now(),
            traffic: Traffic::default(),
            not_found: Vec::new(),
            holding: Vec::new(),
            held: 0,
            released: Arc::new(Notify::new()),
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
        self.count(|seen| seen.path == path)
    }

    /// How many requests for `path` reached the gateway.
    pub fn delivered(&self, path: &str) -> usize {
        self.count(|seen| seen.path == path && seen.delivered)
    }

    /// How many requests to `path` reached the gateway with a gzipped body.
    pub fn delivered_gzipped(&self, path: &str) -> usize {
        self.count(|seen| seen.path == path && seen.delivered && seen.gzipped)
    }

    /// How many of the requests seen so far are `which`.
    fn count(&self, which: impl Fn(&Seen) -> bool) -> usize {
        self.state
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|seen| which(seen))
            .count()
    }

    /// How many payments reached the gateway: each pay, and each item of a batch.
    pub fn delivered_payments(&self) -> usize {
        self.state
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|seen| seen.delivered)
            .map(|seen| seen.payments)
            .sum()
    }

    /// Makes the line slow (`Some`) or fast again (`None`).
    pub fn set_link(&self, link: Option<Link>) {
        let mut state = self.state.lock().unwrap();
        state.link = link;
        state.up_free_at = Instant::now();
        state.down_free_at = Instant::now();
    }

    /// The bytes that crossed since the last [`Proxy::reset_traffic`].
    pub fn traffic(&self) -> Traffic {
        self.state.lock().unwrap().traffic
    }

    /// Starts counting anew (requests in flight stay counted).
    pub fn reset_traffic(&self) {
        let mut state = self.state.lock().unwrap();
        let in_flight = state.traffic.in_flight;
        state.traffic = Traffic {
            in_flight,
            ..Traffic::default()
        };
    }

    /// Answers requests for `path` with 404 (`true`), as a gateway older than the path does,
    /// or lets them through again (`false`).
    pub fn set_not_found(&self, path: &str, not_found: bool) {
        let mut state = self.state.lock().unwrap();
        state.not_found.retain(|p| p != path);
        if not_found {
            state.not_found.push(path.to_owned());
        }
    }

    /// Holds the gateway's answers to requests for `path` from now on, until
    /// [`Proxy::release_answers`]; they reach the browser then, whatever the fault.
    pub fn hold_answers(&self, path: &str) {
        self.state.lock().unwrap().holding.push(path.to_owned());
    }

    /// How many answers are held now.
    pub fn held_answers(&self) -> usize {
        self.state.lock().unwrap().held
    }

    /// Sends on the answers held for `path` and holds no more.
    pub fn release_answers(&self, path: &str) {
        let mut state = self.state.lock().unwrap();
        state.holding.retain(|p| p != path);
        state.released.notify_waiters();
    }
}

/// Holds an answer to `path` while the proxy holds that path's answers.
async fn hold_while_asked(state: &Mutex<State>, path: &str) {
    let released = state.lock().unwrap().released.clone();
    let mut counted = false;
    loop {
        let notified = released.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let mut state = state.lock().unwrap();
            if !state.holding.iter().any(|p| p == path) {
                if counted {
                    state.held -= 1;
                }
                return;
            }
            if !counted {
                state.held += 1;
                counted = true;
            }
        }
        notified.await;
    }
}

/// Carries `bytes` over the link in one direction: waits until that direction is free, for the
/// bytes to go at its bandwidth, and for half a round trip; counts them either way.
async fn cross(state: &Mutex<State>, way: Way, bytes: usize) {
    let arrives = {
        let mut state = state.lock().unwrap();
        match way {
            Way::Up => {
                state.traffic.up += bytes as u64;
                state.traffic.requests += 1;
            }
            Way::Down => state.traffic.down += bytes as u64,
        }
        let Some(link) = state.link else {
            return;
        };
        let now = Instant::now();
        let free_at = match way {
            Way::Up => &mut state.up_free_at,
            Way::Down => &mut state.down_free_at,
        };
        let sent =
            (*free_at).max(now) + Duration::from_secs_f64(bytes as f64 / link.bytes_per_s as f64);
        *free_at = sent;
        sent + link.round_trip / 2
    };
    tokio::time::sleep_until(arrives.into()).await;
}

/// Writes the answer to the browser over the link, noting when it arrived.
async fn answer_browser(client: &mut TcpStream, state: &Mutex<State>, answer: &[u8]) {
    cross(state, Way::Down, answer.len()).await;
    if client.write_all(answer).await.is_ok() {
        state.lock().unwrap().traffic.last_answer_at = Some(Instant::now());
    }
}

/// The payments a request to `path` carries: 1 for a pay, the items of a batch, counted in its
/// body as the gateway reads it (a gzipped one inflated first).
fn payments_in(path: &str, body: &[u8], gzipped: bool) -> usize {
    match path {
        "/api/v1/pay" => 1,
        "/api/v1/batch" => {
            let mut inflated = Vec::new();
            let json = if gzipped {
                let mut decoder = flate2::read::GzDecoder::new(body);
                if std::io::Read::read_to_end(&mut decoder, &mut inflated).is_err() {
                    return 0;
                }
                &inflated
            } else {
                body
            };
            serde_json::from_slice::<serde_json::Value>(json)
                .ok()
                .and_then(|batch| batch["items"].as_array().map(Vec::len))
                .unwrap_or(0)
        }
        _ => 0,
    }
}

/// Whether the request head says its body is gzipped.
fn is_gzipped(head: &str) -> bool {
    head.lines().any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.eq_ignore_ascii_case("content-encoding") && value.trim() == "gzip"
        })
    })
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
    let _method = parts.next();
    let path = parts.next().unwrap_or_default().to_owned();
    let gzipped = is_gzipped(&head);
    let payments = payments_in(&path, &body, gzipped);
    state.lock().unwrap().traffic.in_flight += 1;
    let _in_flight = InFlight(state.clone());
    let seen = |delivered| Seen {
        path: path.clone(),
        delivered,
        payments,
        gzipped,
    };
    cross(&state, Way::Up, head.len() + body.len()).await;

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
        state.lock().unwrap().seen.push(seen(false));
        return;
    }

    if fault == Fault::CaptivePortal {
        state.lock().unwrap().seen.push(seen(false));
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{CAPTIVE_PAGE}",
            CAPTIVE_PAGE.len()
        );
        answer_browser(&mut client, &state, answer.as_bytes()).await;
        return;
    }

    let not_found = state.lock().unwrap().not_found.contains(&path);
    if not_found {
        state.lock().unwrap().seen.push(seen(false));
        let body = r#"{"error":"not_found"}"#;
        let answer = format!(
            "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        answer_browser(&mut client, &state, answer.as_bytes()).await;
        return;
    }

    let Ok(mut gateway) = TcpStream::connect(upstream).await else {
        state.lock().unwrap().seen.push(seen(false));
        return; // gateway down: the browser sees the connection close
    };
    let forwarded_at = Instant::now();
    let forwarded = with_connection_close(&head);
    if gateway.write_all(forwarded.as_bytes()).await.is_err()
        || gateway.write_all(&body).await.is_err()
    {
        return;
    }
    let mut answer = Vec::new();
    let _ = gateway.read_to_end(&mut answer).await;
    {
        let mut state = state.lock().unwrap();
        state.seen.push(seen(true));
        state.traffic.at_gateway += forwarded_at.elapsed();
    }
    if fault == Fault::CutAnswers {
        // Reset rather than close politely: what a dropped mobile connection looks like.
        let _ = client.set_zero_linger();
        return;
    }
    hold_while_asked(&state, &path).await;
    answer_browser(&mut client, &state, &answer).await;
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
