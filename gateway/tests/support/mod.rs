//! Shared by the HTTP tests: a real gateway bound to 127.0.0.1:0 with a fresh SQLite database
//! and the demo data; a phone that speaks the protocol with the protocol's own types
//! ([`phone`]) and pays ([`payments`]); a browser in the dealer console ([`browser`]).

// Each test file uses a different part of this module.
#![allow(dead_code)]

pub mod browser;
pub mod card;
pub mod delivery;
pub mod held;
pub mod mail;
pub mod payments;
pub mod phone;
pub mod terminal_qr;
pub mod top_ups;

use std::net::{IpAddr, SocketAddr};

use reqwest::{StatusCode, header::HeaderMap};
use sqlx::AnyPool;
use tempfile::TempDir;
use tolem_gateway::{
    AppState, app,
    db::{self, seed},
    gateway_key::GatewayKey,
};
use tolem_protocol::{
    codes::ResultCode,
    keys::PublicKey,
    messages::{Message, Response},
    signing::{
        BIND_EXCHANGE_SHA256, BIND_HEADER, BIND_REQUEST_SHA256, GATEWAY_SIGNER, KEY_HEADER,
        SIGNATURE_HEADER, bound_answer, exchange_digest, request_digest,
    },
};

pub const POINT: &str = "P1001";
pub const PASSWORD: &str = "tolem-demo-1001";
pub const GATEWAY_SEED: [u8; 32] = [42; 32];
/// The bearer token the test gateways' `/metrics` asks for.
pub const METRICS_TOKEN: &str = "scrape-token-for-tests";

/// Now, UTC milliseconds, as the phone's (correct) clock says.
pub fn now_ms() -> i64 {
    db::now_ms()
}

/// A running gateway and what a test needs to talk to it and look inside.
pub struct Gateway {
    pub url: String,
    /// The database the gateway runs on (for running the binary's commands against it).
    pub database_url: String,
    pub pool: AnyPool,
    pub client: reqwest::Client,
    pub gateway_key: PublicKey,
    /// Wakes the provider delivery workers a test starts ([`delivery`]); none runs by itself.
    pub delivery_queue: std::sync::Arc<tolem_gateway::delivery::DeliveryQueue>,
    /// Card payments: the payment service (none unless started with [`start_with_card`]).
    pub card: std::sync::Arc<tolem_gateway::card::CardPayments>,
    /// The writer that decides the gateway's cash payments in groups.
    pub payments: std::sync::Arc<tolem_gateway::payments::group::GroupWriter>,
    _dir: TempDir,
}

/// What came back over HTTP, and the gateway key its signature must verify with.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    gateway_key: PublicKey,
    /// The digest of the request as it was sent (or, for a phone of before, of its bytes):
    /// every answer must be bound to it (the test phone, like the app, asks for bound answers).
    request_digest: [u8; 32],
}

impl Reply {
    /// The protocol response, checked against the gateway key the test started with.
    pub fn response(&self) -> Response {
        self.verified(&self.gateway_key)
    }

    /// [`Self::response`] without the gateway's time of answering: what a decided session's
    /// every answer repeats (a replay carries the time of the replay, for the phone's clock).
    pub fn decision(&self) -> Response {
        self.response().decision()
    }

    /// The result code of [`Self::response`].
    pub fn code(&self) -> ResultCode {
        self.response().code
    }

    /// The HTTP status and the result code.
    pub fn status_and_code(&self) -> (StatusCode, ResultCode) {
        (self.status, self.code())
    }

    /// The body as a protocol response, after checking the gateway's signature over the
    /// exact bytes received.
    pub fn verified(&self, gateway_key: &PublicKey) -> Response {
        let header = |name| self.headers.get(name).unwrap().to_str().unwrap();
        assert_eq!(header(KEY_HEADER), GATEWAY_SIGNER);
        let signature = header(SIGNATURE_HEADER).parse().unwrap();
        gateway_key
            .verify(&bound_answer(&self.request_digest, &self.body), &signature)
            .expect("the answer must be signed by the gateway key, bound to its request");
        Response::decode(&self.body).unwrap()
    }

    /// The result code of an answer signed over its bytes alone: what a gateway answers a
    /// client that did not ask for binding, and a body too large to be read and hashed.
    pub fn unbound_code(&self) -> ResultCode {
        let header = |name| self.headers.get(name).unwrap().to_str().unwrap();
        assert_eq!(header(KEY_HEADER), GATEWAY_SIGNER);
        let signature = header(SIGNATURE_HEADER).parse().unwrap();
        self.gateway_key
            .verify(&self.body, &signature)
            .expect("the answer must be signed by the gateway key over its bytes");
        Response::decode(&self.body).unwrap().code
    }

    /// Whether the answer's signature holds as the answer to the request with this digest
    /// ([`request_digest`] or [`exchange_digest`]).
    pub fn answers(&self, digest: &[u8; 32]) -> bool {
        let Some(signature) = self
            .headers
            .get(SIGNATURE_HEADER)
            .and_then(|value| value.to_str().ok()?.parse().ok())
        else {
            return false;
        };
        self.gateway_key
            .verify(&bound_answer(digest, &self.body), &signature)
            .is_ok()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Starts a gateway (cookies not `Secure`).
pub async fn start() -> Gateway {
    start_with(false).await
}

/// Starts a gateway on an empty database: no demo data, nobody to log in.
pub async fn start_without_demo() -> Gateway {
    start_full(false, None, false, Default::default(), Default::default()).await
}

/// Starts a gateway, its console cookie `Secure` or not. No mail worker runs: signed
/// messages stay queued (see [`mail`] for a gateway that delivers them).
pub async fn start_with(secure_cookies: bool) -> Gateway {
    start_full(
        secure_cookies,
        None,
        true,
        Default::default(),
        Default::default(),
    )
    .await
}

/// Starts a gateway whose mail worker delivers through `transport`, retrying after `retry`.
pub async fn start_with_mail(
    transport: tolem_gateway::mail::transport::TransportSettings,
    retry: tolem_gateway::mail::worker::RetryPolicy,
) -> Gateway {
    start_full(
        false,
        Some((transport, retry)),
        true,
        Default::default(),
        Default::default(),
    )
    .await
}

/// Starts a gateway (demo data) whose card bills are paid through `card`'s payment service.
/// No refund worker runs by itself ([`card`] starts one).
pub async fn start_with_card(card: tolem_gateway::card::CardPayments) -> Gateway {
    start_full(false, None, true, card, Default::default()).await
}

/// Starts a gateway (demo data) behind reverse proxies at `proxies` (`--trusted-proxy`), e.g.
/// `127.0.0.1`: the test's own client then plays the proxy and names clients in
/// `X-Forwarded-For`.
pub async fn start_behind_proxy(proxies: &str) -> Gateway {
    let trusted = proxies.parse().unwrap();
    start_full(false, None, true, Default::default(), trusted).await
}

async fn start_full(
    secure_cookies: bool,
    mail: Option<(
        tolem_gateway::mail::transport::TransportSettings,
        tolem_gateway::mail::worker::RetryPolicy,
    )>,
    demo: bool,
    mut card: tolem_gateway::card::CardPayments,
    trusted_proxies: tolem_gateway::web::client_ip::TrustedProxies,
) -> Gateway {
    use std::sync::Arc;
    use tolem_gateway::mail::{MailQueue, transport::Transport, worker::Worker};

    let dir = tempfile::tempdir().unwrap();
    let url = match std::env::var(POSTGRES_URL_VARIABLE) {
        Ok(url) => fresh_postgres(&url).await,
        Err(_) => format!("sqlite://{}/tolem.db", dir.path().display()),
    };
    let pool = db::connect(&url).await.unwrap();
    db::migrate(&pool, &url).await.unwrap();
    if demo {
        seed::seed_demo(&pool).await.unwrap();
    }

    let key = GatewayKey::from_seed(&GATEWAY_SEED);
    let gateway_key = key.public_key();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // As `tolem-gateway` without --public-url: customers come back to the address it listens on.
    card.set_public_url(None, addr, false).unwrap();
    let card = Arc::new(card);
    let queue = Arc::new(MailQueue::new(format!("http://{addr}/verify")));
    if let Some((transport, retry)) = mail {
        Worker {
            pool: pool.clone(),
            queue: queue.clone(),
            transport: Transport::open(&transport).unwrap(),
            from: "Tolem <noreply@tolem.localhost>".parse().unwrap(),
            retry,
        }
        .spawn();
    }
    let delivery_queue = Arc::new(tolem_gateway::delivery::DeliveryQueue::default());
    let state = AppState::new(pool.clone(), dir.path().join("dist"), key)
        .with_secure_cookies(secure_cookies)
        .with_mail_queue(queue)
        .with_delivery_queue(delivery_queue.clone())
        .with_card_payments(card.clone())
        .with_trusted_proxies(trusted_proxies)
        .with_metrics_token(Some(METRICS_TOKEN.to_owned()));
    let payments = state.payments.clone();
    // The tests gather a group by holding a dealer's row while they queue its payments
    // (`concurrency.rs`), however slowly the machine lets them: the writer waits for it. The
    // tests of a held row set their own wait.
    payments.wait_for_held_dealers(tolem_gateway::payments::group::HeldDealers {
        wait: std::time::Duration::from_secs(60),
        patience: std::time::Duration::from_secs(60),
    });
    let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await.unwrap() });
    Gateway {
        url: format!("http://{addr}"),
        database_url: url,
        pool,
        client: client_from("127.0.0.1".parse().unwrap()),
        gateway_key,
        delivery_queue,
        card,
        payments,
        _dir: dir,
    }
}

/// The real `tolem-gateway` binary with a clean environment (no TOLEM_* variables leak in
/// from the developer's shell), logging at `info`, killed when dropped.
pub fn binary() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tolem-gateway"));
    for (key, _) in std::env::vars() {
        if key.starts_with("TOLEM_") {
            command.env_remove(key);
        }
    }
    command.env("RUST_LOG", "info").kill_on_drop(true);
    command
}

/// [`binary`] run in `dir`, serving the app from `dir/dist`, its data in `dir/data`.
pub fn binary_in(dir: &std::path::Path) -> tokio::process::Command {
    let mut command = binary();
    command.env("TOLEM_DIST", dir.join("dist")).current_dir(dir);
    command
}

/// Set to a PostgreSQL URL to run the HTTP tests against PostgreSQL instead of SQLite. Every
/// test empties that database, so run them one at a time: `TOLEM_TEST_POSTGRES_URL=postgres://…
/// cargo test -p tolem-gateway -- --test-threads=1`.
pub const POSTGRES_URL_VARIABLE: &str = "TOLEM_TEST_POSTGRES_URL";

/// Empties the PostgreSQL database at `url` for the next test.
async fn fresh_postgres(url: &str) -> String {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    for statement in ["DROP SCHEMA public CASCADE", "CREATE SCHEMA public"] {
        sqlx::query(statement).execute(&mut conn).await.unwrap();
    }
    url.to_owned()
}

/// A client that connects from `ip` (any 127.x.y.z is this machine), without following
/// redirects so tests see them.
pub fn client_from(ip: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

impl Gateway {
    /// POSTs `body` to `/api/v1/{path}` with extra headers, asking for the answer bound to the
    /// request as it was sent, as today's phones do.
    pub async fn post_from(
        &self,
        client: &reqwest::Client,
        path: &str,
        body: Vec<u8>,
        headers: &[(&str, String)],
    ) -> Reply {
        self.post_bound(client, path, body, headers, Some(BIND_EXCHANGE_SHA256))
            .await
    }

    /// POSTs as a phone of an older version would: without asking for a bound answer.
    pub async fn post_unbound(
        &self,
        path: &str,
        body: Vec<u8>,
        headers: &[(&str, String)],
    ) -> Reply {
        self.post_bound(&self.client, path, body, headers, None)
            .await
    }

    /// POSTs as the phones before [`BIND_EXCHANGE_SHA256`] did: the answer bound to the body
    /// bytes alone.
    pub async fn post_body_bound(
        &self,
        path: &str,
        body: Vec<u8>,
        headers: &[(&str, String)],
    ) -> Reply {
        self.post_bound(&self.client, path, body, headers, Some(BIND_REQUEST_SHA256))
            .await
    }

    async fn post_bound(
        &self,
        client: &reqwest::Client,
        path: &str,
        body: Vec<u8>,
        headers: &[(&str, String)],
        bind: Option<&str>,
    ) -> Reply {
        let header = |wanted: &str| {
            headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
                .map_or("", |(_, value)| value.as_str())
        };
        let step = path.rsplit('/').next().unwrap_or(path);
        let request_digest = match bind {
            Some(BIND_EXCHANGE_SHA256) => {
                exchange_digest(step, header(KEY_HEADER), header(SIGNATURE_HEADER), &body)
            }
            _ => request_digest(&body),
        };
        let mut request = client
            .post(format!("{}/api/v1/{path}", self.url))
            .header("content-type", "application/json")
            .body(body);
        if let Some(bind) = bind {
            request = request.header(BIND_HEADER, bind);
        }
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.unwrap();
        Reply {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
            gateway_key: self.gateway_key,
            request_digest,
        }
    }

    pub async fn post(&self, path: &str, body: Vec<u8>, headers: &[(&str, String)]) -> Reply {
        self.post_from(&self.client, path, body, headers).await
    }

    /// Runs SQL the test needs to set a scene (certify, block, expire...).
    pub async fn sql(&self, statement: &str) {
        sqlx::query(statement).execute(&self.pool).await.unwrap();
    }

    /// The actor and details of each audit row of `action` about `subject`, oldest first.
    pub async fn audit_rows(&self, action: &str, subject: &str) -> Vec<(String, String)> {
        sqlx::query_as(
            "SELECT actor, details FROM audit_log WHERE action = $1 AND subject = $2 ORDER BY seq",
        )
        .bind(action)
        .bind(subject)
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    /// The stored state of a key.
    pub async fn key_state(&self, serial: &str) -> String {
        sqlx::query_scalar("SELECT state FROM keys WHERE serial = $1")
            .bind(serial)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}
