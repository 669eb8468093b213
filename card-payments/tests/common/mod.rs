//! Fixtures over real HTTP: the emulator in-process, a stand-in for the gateway's notification
//! routes that goes through the adapters (`read_notification`, `reply`), and a browser that
//! submits the hosted pages' forms.

#![allow(dead_code)] // Each test file uses its own share of these.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use tolem_card_payments::config::service_for_robokassa;
pub use tolem_card_payments::emulator::customer::{Browser, Page};
use tolem_card_payments::emulator::{self, InProcess};
use tolem_card_payments::{
    Incoming, Notification, NotificationError, NotificationKind, Order, PageLanguage,
    PaymentService, Verdict, service_for,
};

/// How long a state may take to come on a busy machine.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// What the stand-in gateway received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub service: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub query: String,
    pub body: Vec<u8>,
    pub result: Result<Notification, NotificationError>,
    pub verdict: Option<Verdict>,
    pub status: u16,
}

/// The stand-in gateway: `/card/{service}/{path}` read through the adapters.
pub struct Receiver {
    pub url: String,
    adapters: HashMap<&'static str, Arc<dyn PaymentService>>,
    seen: Mutex<Vec<Seen>>,
    /// Verdicts to give, by service and notification kind (`{:?}` of the kind).
    scripted: Mutex<HashMap<(String, String), VecDeque<Verdict>>>,
}

impl Receiver {
    /// The next notifications of this service and kind get these verdicts, then Accept.
    pub fn script(&self, service: &str, kind: NotificationKind, verdicts: &[Verdict]) {
        self.scripted
            .lock()
            .unwrap()
            .entry((service.to_owned(), format!("{kind:?}")))
            .or_default()
            .extend(verdicts.iter().copied());
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The notifications read (signature verified) for an invoice, in order.
    pub fn read_for(&self, invoice: u32) -> Vec<Notification> {
        self.seen()
            .into_iter()
            .filter_map(|seen| seen.result.ok())
            .filter(|n| n.invoice == invoice)
            .collect()
    }
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    Path((service, path)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(adapter) = receiver.adapters.get(service.as_str()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let query = query.unwrap_or_default();
    let incoming = Incoming {
        path: &path,
        query: &query,
        headers: &headers,
        body: &body,
    };
    let result = adapter.read_notification(&incoming);
    let (reply, verdict) = match &result {
        Ok(notification) => {
            let verdict = receiver
                .scripted
                .lock()
                .unwrap()
                .get_mut(&(service.clone(), format!("{:?}", notification.kind)))
                .and_then(VecDeque::pop_front)
                .unwrap_or(Verdict::Accept);
            (adapter.reply(notification, verdict), Some(verdict))
        }
        Err(error) => (adapter.reply_refused(error), None),
    };
    receiver.seen.lock().unwrap().push(Seen {
        service: service.clone(),
        path: path.clone(),
        headers: headers.clone(),
        query: query.clone(),
        body: body.to_vec(),
        result,
        verdict,
        status: reply.status,
    });
    (
        StatusCode::from_u16(reply.status).unwrap(),
        [(axum::http::header::CONTENT_TYPE, reply.content_type)],
        reply.body,
    )
        .into_response()
}

/// The emulator, the stand-in gateway with both adapters, and a browser.
pub struct Fixture {
    pub emulator: InProcess,
    pub receiver: Arc<Receiver>,
    pub tiptop: Arc<dyn PaymentService>,
    pub robokassa: Arc<dyn PaymentService>,
    pub browser: Browser,
}

/// Starts the emulator (fast retries, plus `args`) and the stand-in gateway, and points the
/// emulator's notifications at it: set on the handle after start, as gateway tests do. The
/// Robokassa adapter is set up as the emulated shop is (its test passwords, its hash).
pub async fn start(args: &[&str]) -> Fixture {
    let mut all = vec![
        "--retry-base-ms",
        "20",
        "--retry-max-ms",
        "200",
        "--seed",
        "7",
    ];
    all.extend_from_slice(args);
    let emulator = emulator::start_in_process(&all)
        .await
        .expect("the emulator starts");
    let tiptop: Arc<dyn PaymentService> =
        Arc::from(service_for(&emulator.tiptop_config()).expect("a TipTop Pay adapter"));
    let robokassa: Arc<dyn PaymentService> = Arc::from(
        service_for_robokassa(&emulator.robokassa_config(), &emulator.robokassa_settings())
            .expect("a Robokassa adapter"),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let receiver = Arc::new(Receiver {
        url: url.clone(),
        adapters: HashMap::from([("tiptop", tiptop.clone()), ("robokassa", robokassa.clone())]),
        seen: Mutex::new(Vec::new()),
        scripted: Mutex::new(HashMap::new()),
    });
    let app = Router::new()
        .route("/card/{service}/{path}", any(receive))
        .with_state(receiver.clone());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    emulator
        .emulator
        .set_tiptop_notify_url(format!("{url}/card/tiptop"));
    emulator
        .emulator
        .set_robokassa_result_url(format!("{url}/card/robokassa/result"));
    Fixture {
        browser: Browser::new(&emulator.url),
        emulator,
        receiver,
        tiptop,
        robokassa,
    }
}

/// An order as the gateway makes one.
pub fn order(invoice: u32, amount_tiyn: i64, language: PageLanguage) -> Order {
    Order {
        invoice,
        amount_tiyn,
        description: format!("Kcell 701{invoice:07}"),
        email: Some("buyer@example.kz".into()),
        language,
        success_url: format!("https://gateway.test/bills/{invoice}/paid"),
        fail_url: format!("https://gateway.test/bills/{invoice}/failed"),
    }
}

/// Calls `attempt` until it gives `Some`, pausing briefly between tries, for at most
/// [`PATIENCE`]: waits for a state, never for a fixed time.
pub async fn eventually<T, F, Fut>(what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = attempt().await {
            return value;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "{what}: not within {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A control request's JSON answer.
pub async fn control_post(base: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
    let response = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

pub async fn control_get(base: &str, path: &str) -> serde_json::Value {
    reqwest::get(format!("{base}{path}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
