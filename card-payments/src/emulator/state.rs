//! What the emulator remembers: orders and their card payments, refunds, every notification
//! and each attempt to deliver it; its settings, where notifications go, and the faults in
//! force. `GET /control/...` shows these records as JSON.
//!
//! One lock over the ledger, never held across an await: every handler reads or changes it
//! in one short step, then talks to the network without it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize, Serializer};

use crate::config::Secret;
use crate::robokassa::hash::HashAlgorithm;
use crate::service::{PageLanguage, ServiceKind};

use super::cards::Outcome;

/// The emulator's settings, fixed at start.
#[derive(Debug)]
pub struct Settings {
    pub tiptop_public_id: String,
    pub tiptop_secret: Secret,
    /// TipTop Pay's TestMode in notifications and the test cards on the page.
    pub tiptop_test: bool,
    pub robokassa_login: String,
    pub robokassa_password1: Secret,
    pub robokassa_password2: Secret,
    pub robokassa_password3: Secret,
    /// The shop's test Passwords #1 and #2: what links with `IsTest=1`, and the ResultURL and
    /// success redirect of their payments, are signed with (docs.robokassa.kz, «Тестовый
    /// режим»: "тестовый набор паролей, не совпадающих с основными рабочими паролями").
    pub robokassa_test_password1: Secret,
    pub robokassa_test_password2: Secret,
    /// The shop's «Алгоритм расчета хеша»: every signature with a Password #1 or #2.
    pub robokassa_hash: HashAlgorithm,
    pub retry: RetryPolicy,
    /// How long one notification attempt may take.
    pub notify_timeout: Duration,
    /// A certificate authority (PEM) the gateway's HTTPS certificate may be signed by, beside
    /// the public ones: the local one of `scripts/run.sh --lan`.
    pub notify_ca_pem: Option<Vec<u8>>,
}

impl Settings {
    /// Robokassa's Password #1 for a payment in test mode or not.
    pub fn robokassa_password1_for(&self, test: bool) -> &Secret {
        if test {
            &self.robokassa_test_password1
        } else {
            &self.robokassa_password1
        }
    }

    /// Robokassa's Password #2 for a payment in test mode or not.
    pub fn robokassa_password2_for(&self, test: bool) -> &Secret {
        if test {
            &self.robokassa_test_password2
        } else {
            &self.robokassa_password2
        }
    }
}

/// How notifications are re-sent until answered.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// The wait after the first failed attempt; it doubles after each one...
    pub base: Duration,
    /// ...up to this.
    pub max: Duration,
    /// Attempts before giving up.
    pub attempts: u32,
}

impl RetryPolicy {
    /// The wait before attempt `n` (0-based; attempt 0 is sent at once).
    pub fn wait_before(&self, attempt: u32) -> Duration {
        if attempt == 0 {
            return Duration::ZERO;
        }
        let factor = 1u32.checked_shl(attempt - 1).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// Where notifications go, and the page's own address; changeable while running
/// (`POST /control/config`), since tests learn the gateway's port after starting the
/// emulator.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Routing {
    /// The emulator's address as the customer's browser sees it (TipTop Pay's order `Url`).
    pub public_url: Option<String>,
    /// The gateway's base for TipTop Pay: notifications go to BASE/check, BASE/pay,
    /// BASE/fail, BASE/refund.
    pub tiptop_notify_url: Option<String>,
    /// Robokassa's ResultURL.
    pub robokassa_result_url: Option<String>,
}

/// Misbehaviour on demand (`GET|POST /control/faults`). Missing fields are "no fault".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// The next this-many attempts at an asynchronous notification (Pay, Fail, Refund,
    /// ResultURL) are dropped unsent, as if the network lost them; counts down. A Check is
    /// never dropped: the service does not retry it, an unanswered Check declines the card.
    pub fail_notifications: u32,
    /// Each asynchronous notification is delivered twice (the second after the first was
    /// answered), as a service does when an answer is lost on the way back.
    pub duplicate_notifications: bool,
    /// The next this-many OpStateExt answers about a paid Robokassa operation say state 50
    /// ("being credited to the shop") instead of 100, as in the moments after a charge;
    /// counts down.
    pub still_crediting: u32,
    /// TipTop Pay's site has no Check notification set up (each notification is optional in
    /// the site's settings): cards are charged without asking the shop first.
    pub no_check: bool,
    /// Robokassa: each refund taken from now on answers `processing` to its first this-many
    /// Refund/GetState questions before it ends (a refund takes the service a while).
    pub refund_processing_checks: u32,
    /// Robokassa: each refund taken from now on ends `canceled` — the money stays with the
    /// shop — instead of `finished`.
    pub refund_cancel: bool,
    /// TipTop Pay: the next this-many refunds are made, but their answer is lost on the way
    /// back (the shop gets HTTP 502, as from a proxy whose connection dropped); counts down.
    pub lose_refund_answers: u32,
    /// TipTop Pay keeps the answer to an `X-Request-ID` this many milliseconds instead of its
    /// documented hour ([`IDEMPOTENCY_WINDOW`]): 0 forgets it at once, as if the hour had
    /// passed before the request came again.
    pub idempotency_window_ms: Option<u64>,
}

/// How long TipTop Pay keeps the answer to an `X-Request-ID`: "Обработанный результат
/// хранится в системе в течение 1 часа" (API, «Идемпотентность API»).
pub const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(60 * 60);

/// Now, UTC, as notifications write it: `yyyy-MM-dd HH:mm:ss`.
pub fn date_time_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

fn serialize_kind<S: Serializer>(kind: &ServiceKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.name())
}

fn serialize_language<S: Serializer>(language: &PageLanguage, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(language_code(*language))
}

pub fn language_code(language: PageLanguage) -> &'static str {
    match language {
        PageLanguage::Ru => "ru",
        PageLanguage::Kk => "kk",
        PageLanguage::En => "en",
    }
}

/// An order a shop made: TipTop Pay's `/orders/create`, or a Robokassa link opened.
#[derive(Clone, Debug, Serialize)]
pub struct Order {
    #[serde(serialize_with = "serialize_kind")]
    pub service: ServiceKind,
    /// TipTop Pay's order Id; for Robokassa, the emulator's own key of the page.
    pub id: String,
    pub number: u64,
    /// InvoiceId / InvId, as sent.
    pub invoice: String,
    /// The amount as sent ("1500.00").
    pub amount: String,
    pub amount_tiyn: i64,
    pub currency: String,
    pub description: String,
    pub email: Option<String>,
    #[serde(serialize_with = "serialize_language")]
    pub language: PageLanguage,
    /// Robokassa's Culture, echoed on the redirects.
    pub culture: Option<String>,
    pub success_url: Option<String>,
    pub fail_url: Option<String>,
    pub test: bool,
    pub paid: bool,
    /// Robokassa's operation key, once paid.
    pub op_key: Option<String>,
    /// Robokassa's Shp_ parameters, returned in ResultURL and on the redirects.
    pub user: Vec<(String, String)>,
    pub payments: Vec<Payment>,
}

/// One attempt to pay an order with a card (a TipTop Pay transaction).
#[derive(Clone, Debug, Serialize)]
pub struct Payment {
    pub transaction_id: u64,
    pub card_first_six: String,
    pub card_last_four: String,
    /// MM/YY.
    pub card_exp: String,
    pub card_type: String,
    pub email: Option<String>,
    pub status: PaymentStatus,
    pub reason_code: Option<u32>,
    pub reason: Option<String>,
    pub refunded_tiyn: i64,
    /// UTC, `yyyy-MM-dd HH:mm:ss` as notifications write it.
    pub date_time: String,
    /// What authorizing will give, once 3-D Secure is through.
    #[serde(skip)]
    pub outcome: Outcome,
    /// The code the "bank" page shows and expects.
    #[serde(skip)]
    pub three_ds_code: Option<String>,
}

/// TipTop Pay's transaction statuses (reference «Статусы транзакций»).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PaymentStatus {
    AwaitingAuthentication,
    Completed,
    Declined,
}

/// A refund taken by an API.
#[derive(Clone, Debug, Serialize)]
pub struct Refund {
    #[serde(serialize_with = "serialize_kind")]
    pub service: ServiceKind,
    /// TipTop Pay: the refund's transaction number; Robokassa: the request's GUID.
    pub id: String,
    pub order_id: String,
    pub invoice: String,
    pub transaction_id: u64,
    pub amount: String,
    /// TipTop Pay's X-Request-ID.
    pub request_id: Option<String>,
    /// Where it stands, as Robokassa's Refund/GetState labels it (TipTop Pay's are finished
    /// when taken).
    pub state: RefundState,
    /// Robokassa: how many more Refund/GetState questions it is `processing` for.
    #[serde(skip)]
    pub checks_left: u32,
    /// Robokassa: it ends `canceled` rather than `finished`.
    #[serde(skip)]
    pub ends_canceled: bool,
}

/// Refund/GetState's labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RefundState {
    Processing,
    Finished,
    Canceled,
}

impl RefundState {
    pub fn label(self) -> &'static str {
        match self {
            RefundState::Processing => "processing",
            RefundState::Finished => "finished",
            RefundState::Canceled => "canceled",
        }
    }
}

/// An answer kept for a repeat of its request (TipTop Pay's `X-Request-ID`).
#[derive(Clone, Debug)]
pub struct KeptAnswer {
    pub at: Instant,
    pub body: String,
}

/// A notification to the shop and every attempt to deliver it.
#[derive(Clone, Debug, Serialize)]
pub struct Delivery {
    pub id: u64,
    #[serde(serialize_with = "serialize_kind")]
    pub service: ServiceKind,
    /// `check`, `pay`, `fail`, `refund` (TipTop Pay) or `result` (Robokassa).
    pub kind: String,
    pub order_id: String,
    pub invoice: String,
    /// The form body, the same bytes on every attempt.
    pub body: String,
    /// Signed with a wrong key, on request (`POST /control/notify`).
    pub forged: bool,
    pub attempts: Vec<Attempt>,
    /// An attempt got an answer the service takes (`{"code":N}`, `OK{InvId}`).
    pub answered: bool,
    pub gave_up: bool,
}

/// One attempt to deliver a notification.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Attempt {
    /// Since the emulator started.
    pub at_ms: u64,
    pub url: Option<String>,
    /// Dropped unsent by the `fail_notifications` fault.
    pub dropped: bool,
    pub status: Option<u16>,
    pub answer: Option<String>,
    pub error: Option<String>,
    /// The answer is one the service takes.
    pub answered: bool,
    /// A repeat of an answered notification (the `duplicate_notifications` fault).
    pub duplicate: bool,
}

/// Everything that changes.
#[derive(Debug, Default)]
pub struct Ledger {
    pub orders: Vec<Order>,
    pub refunds: Vec<Refund>,
    pub deliveries: Vec<Delivery>,
    /// Answers already given, by (API path, X-Request-ID): a repeat within the service's
    /// window gets the same answer.
    pub answered_requests: HashMap<(String, String), KeptAnswer>,
    next_number: u64,
    random: SplitMix64,
}

impl Ledger {
    /// A ledger whose numbers follow `last_number`.
    pub fn new(seed: u64, last_number: u64) -> Ledger {
        Ledger {
            random: SplitMix64(seed),
            next_number: last_number,
            ..Ledger::default()
        }
    }

    /// The next number of an order, transaction, refund or delivery (one sequence, so a
    /// number names one thing in the logs).
    pub fn next_number(&mut self) -> u64 {
        self.next_number += 1;
        self.next_number
    }

    /// `length` random letters and digits (TipTop Pay's order Ids look like
    /// `f2K8LV6reGE9WBFn`).
    pub fn random_id(&mut self, length: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..length)
            .map(|_| ALPHABET[(self.random.next() % ALPHABET.len() as u64) as usize] as char)
            .collect()
    }

    /// A GUID-shaped id, upper-case hex (Robokassa's OpKey and request ids).
    pub fn random_guid(&mut self) -> String {
        let hex: String = (0..2)
            .map(|_| format!("{:016X}", self.random.next()))
            .collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        )
    }

    /// A six-digit one-time code.
    pub fn random_code(&mut self) -> String {
        format!("{:06}", self.random.next() % 1_000_000)
    }

    pub fn order(&self, id: &str) -> Option<&Order> {
        self.orders.iter().find(|order| order.id == id)
    }

    pub fn order_mut(&mut self, id: &str) -> Option<&mut Order> {
        self.orders.iter_mut().find(|order| order.id == id)
    }

    /// The order and index of the payment with this transaction number.
    pub fn payment_mut(&mut self, transaction_id: u64) -> Option<(&mut Order, usize)> {
        self.orders.iter_mut().find_map(|order| {
            let index = order
                .payments
                .iter()
                .position(|p| p.transaction_id == transaction_id)?;
            Some((order, index))
        })
    }

    /// The latest order of a service for an invoice.
    pub fn latest_order(&self, service: ServiceKind, invoice: &str) -> Option<&Order> {
        self.orders
            .iter()
            .rev()
            .find(|order| order.service == service && order.invoice == invoice)
    }

    pub fn delivery_mut(&mut self, id: u64) -> Option<&mut Delivery> {
        self.deliveries
            .iter_mut()
            .find(|delivery| delivery.id == id)
    }
}

/// The emulator: settings, routing, ledger and faults, shared by every request.
#[derive(Debug)]
pub struct Emulator {
    pub settings: Settings,
    routing: Mutex<Routing>,
    ledger: Mutex<Ledger>,
    faults: Mutex<Faults>,
    /// The client notifications are sent with.
    pub http: reqwest::Client,
    started: Instant,
}

impl Emulator {
    /// An emulator whose numbers (transactions, orders) follow `last_number`.
    pub fn new(
        settings: Settings,
        routing: Routing,
        faults: Faults,
        seed: u64,
        last_number: u64,
    ) -> Emulator {
        let mut http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.notify_timeout)
            .user_agent(concat!("tolem-card-emulator/", env!("CARGO_PKG_VERSION")));
        // Checked when the option was read: the file holds a PEM certificate.
        let extra_roots = settings
            .notify_ca_pem
            .as_deref()
            .and_then(|pem| reqwest::Certificate::from_pem_bundle(pem).ok())
            .unwrap_or_default();
        for ca in extra_roots {
            http = http.add_root_certificate(ca);
        }
        let http = http.build().unwrap_or_default();
        Emulator {
            settings,
            routing: Mutex::new(routing),
            ledger: Mutex::new(Ledger::new(seed, last_number)),
            faults: Mutex::new(faults),
            http,
            started: Instant::now(),
        }
    }

    /// The ledger, for one short step. A handler that panicked mid-step leaves it usable:
    /// every step keeps it consistent before it can fail.
    pub fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn routing(&self) -> Routing {
        self.routing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Changes the given parts of the routing (`None` keeps a part as it is).
    pub fn update_routing(&self, change: Routing) -> Routing {
        let mut routing = self.routing.lock().unwrap_or_else(|p| p.into_inner());
        if change.public_url.is_some() {
            routing.public_url = change.public_url;
        }
        if change.tiptop_notify_url.is_some() {
            routing.tiptop_notify_url = change.tiptop_notify_url;
        }
        if change.robokassa_result_url.is_some() {
            routing.robokassa_result_url = change.robokassa_result_url;
        }
        routing.clone()
    }

    /// Where TipTop Pay's notifications go: BASE/check, BASE/pay, ...
    pub fn set_tiptop_notify_url(&self, base: impl Into<String>) {
        self.update_routing(Routing {
            tiptop_notify_url: Some(base.into()),
            ..Routing::default()
        });
    }

    /// Robokassa's ResultURL.
    pub fn set_robokassa_result_url(&self, url: impl Into<String>) {
        self.update_routing(Routing {
            robokassa_result_url: Some(url.into()),
            ..Routing::default()
        });
    }

    pub fn faults(&self) -> Faults {
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        *self.faults.lock().unwrap_or_else(|p| p.into_inner()) = faults;
    }

    /// Whether to drop the next asynchronous notification attempt (counting it down).
    pub fn take_dropped_attempt(&self) -> bool {
        self.count_down(|faults| &mut faults.fail_notifications)
    }

    /// Whether the next OpStateExt answer about a paid operation says it is still being
    /// credited (counting it down).
    pub fn take_still_crediting(&self) -> bool {
        self.count_down(|faults| &mut faults.still_crediting)
    }

    /// Whether the next TipTop Pay refund's answer is lost (counting it down).
    pub fn take_lost_refund_answer(&self) -> bool {
        self.count_down(|faults| &mut faults.lose_refund_answers)
    }

    /// How long TipTop Pay keeps the answer to an `X-Request-ID` now.
    pub fn idempotency_window(&self) -> Duration {
        self.faults()
            .idempotency_window_ms
            .map_or(IDEMPOTENCY_WINDOW, Duration::from_millis)
    }

    /// Whether a fault that lasts a number of times is still in force, counting one use.
    fn count_down(&self, times: impl FnOnce(&mut Faults) -> &mut u32) -> bool {
        let mut faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        let left = times(&mut faults);
        if *left > 0 {
            *left -= 1;
            true
        } else {
            false
        }
    }

    pub fn orders(&self) -> Vec<Order> {
        self.ledger().orders.clone()
    }

    pub fn refunds(&self) -> Vec<Refund> {
        self.ledger().refunds.clone()
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.ledger().deliveries.clone()
    }

    /// Milliseconds since the start, for attempts' timestamps.
    pub fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// SplitMix64: tiny and seedable, for ids and codes that only need to look random.
#[derive(Debug, Default)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            base: Duration::from_millis(100),
            max: Duration::from_millis(1000),
            attempts: 10,
        };
        let waits: Vec<u128> = (0..7).map(|n| policy.wait_before(n).as_millis()).collect();
        assert_eq!(waits, [0, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy.wait_before(60).as_millis(), 1000);
    }

    #[test]
    fn ids_look_like_the_services() {
        let mut ledger = Ledger::new(7, 1000);
        assert_eq!(ledger.random_id(16).len(), 16);
        let guid = ledger.random_guid();
        assert_eq!(guid.len(), 36);
        assert_eq!(guid.matches('-').count(), 4);
        assert_eq!(ledger.random_code().len(), 6);
        assert_eq!(ledger.next_number(), 1001);
        assert_eq!(ledger.next_number(), 1002);
    }
}
