//! Card payments on the customer's own phone (issue 12). The cashier's phone, online or not,
//! signs a **bill** with the point key and shows it as a QR code ([`tolem_protocol::bill`]); the
//! customer's phone brings it here; the customer pays on a payment service's hosted page (3-D
//! Secure at their bank; the card never touches Tolem); the service's signed notification
//! settles the bill as a payment under the bill's session — one session, one payment, however
//! often anything is repeated — which is delivered to the provider like any other.
//!
//! In the order a bill travels:
//! * [`open`] — the customer opens the link: the bill's signature and the point's standing are
//!   checked with the same pipeline as a signed request ([`crate::sender`]), the payment's rules
//!   as for `pay`, and the bill is stored (or found) under an invoice number;
//! * [`order`] — the customer asks to pay: an order with the payment service, and its page;
//! * [`notify`] — the service's notifications (check, pay, fail, refund), verified by the
//!   adapter ([`tolem_card_payments`]) before anything is read;
//! * [`settle`] — a paid bill becomes a payment ([`crate::payments::pay::decide_in`] with
//!   [`Funding::Card`](crate::payments::pay::Funding)) in the same transaction that marks the
//!   bill paid;
//! * [`earn`] — the point's fee and the dealer's commission, once the provider took the payment;
//! * [`receipt`] — the customer's receipt by e-mail, queued with the settlement;
//! * [`cancel`] — the cashier's `cancel` and the `status` answer for a bill;
//! * [`refund`] — money back to the card: after a provider's final refusal, for a charge that
//!   could not be settled, or from the console; a worker asks the service until it answers.

pub mod cancel;
pub mod earn;
pub mod notify;
pub mod open;
pub mod order;
pub mod receipt;
pub mod refund;
pub mod settle;

use std::sync::Arc;

use tokio::sync::Notify;
use tolem_card_payments::{PaymentService, ServiceKind};

/// How long a bill stays payable unless the phone asked for less: 30 minutes.
pub const DEFAULT_BILL_LIFETIME_MS: i64 = 30 * 60 * 1000;

/// What the card faces (public pages, notification routes, the `cancel` step) share.
pub struct CardPayments {
    /// The payment service bills are paid through; `None`: card payments are off (918).
    pub service: Option<Arc<dyn PaymentService>>,
    /// The longest a bill stays payable after it was made, whatever it asks for.
    pub bill_lifetime_ms: i64,
    /// The gateway's address as customers' phones reach it (for the service's return URLs),
    /// when configured; otherwise taken from the customer's request.
    pub public_url: Option<String>,
    /// Wakes the refund worker.
    pub refunds: Notify,
}

impl Default for CardPayments {
    /// No payment service: card payments are off.
    fn default() -> Self {
        CardPayments {
            service: None,
            bill_lifetime_ms: DEFAULT_BILL_LIFETIME_MS,
            public_url: None,
            refunds: Notify::new(),
        }
    }
}

impl CardPayments {
    /// The service that speaks `kind`, if it is the configured one.
    pub fn service_of(&self, kind: ServiceKind) -> Option<&Arc<dyn PaymentService>> {
        self.service.as_ref().filter(|s| s.kind() == kind)
    }
}

impl std::fmt::Debug for CardPayments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardPayments")
            .field("service", &self.service.as_ref().map(|s| s.kind()))
            .field("bill_lifetime_ms", &self.bill_lifetime_ms)
            .finish()
    }
}

/// Why the payment-service settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CardConfigError {
    #[error("{0}")]
    Config(#[from] tolem_card_payments::ConfigError),
    #[error("--card-{0} is needed with --card-service")]
    Missing(&'static str),
    /// Robokassa in test mode without its test passwords: every test link would be refused.
    #[error(
        "--card-{0} is needed with --card-service robokassa --card-test: Robokassa checks test \
         payments with the shop's test Passwords #1 and #2 (its technical settings), not with \
         Passwords #1 and #2"
    )]
    MissingTestPassword(&'static str),
}

/// The card settings from the gateway's configuration: no service unless `--card-service`.
pub fn from_config(config: &crate::config::Config) -> Result<CardPayments, CardConfigError> {
    use tolem_card_payments::config::{RobokassaSettings, service_for_robokassa};
    use tolem_card_payments::{Secret, ServiceConfig};
    let lifetime = i64::from(config.bill_lifetime_min) * 60 * 1000;
    let mut card = CardPayments {
        bill_lifetime_ms: lifetime,
        public_url: config.public_url.clone(),
        ..CardPayments::default()
    };
    let Some(kind) = config
        .card_service
        .as_deref()
        .and_then(ServiceKind::from_name)
    else {
        return Ok(card);
    };
    // Robokassa's test mode has passwords of its own ("тестовый набор паролей, не совпадающих
    // с основными рабочими паролями", docs.robokassa.kz, «Тестовый режим»): the adapter signs
    // and checks with them, and Passwords #1 and #2 are not needed.
    let (secret, secret2) = if kind == ServiceKind::Robokassa && config.card_test {
        let test_secret = |value: &Option<String>, name| {
            value
                .clone()
                .filter(|v| !v.is_empty())
                .ok_or(CardConfigError::MissingTestPassword(name))
        };
        (
            test_secret(&config.card_test_secret, "test-secret")?,
            Some(test_secret(&config.card_test_secret2, "test-secret2")?),
        )
    } else {
        (
            config
                .card_secret
                .clone()
                .ok_or(CardConfigError::Missing("secret"))?,
            config.card_secret2.clone(),
        )
    };
    let settings = ServiceConfig {
        kind,
        api_url: config
            .card_api_url
            .clone()
            .ok_or(CardConfigError::Missing("api-url"))?,
        page_url: config.card_page_url.clone(),
        login: config
            .card_login
            .clone()
            .ok_or(CardConfigError::Missing("login"))?,
        secret: Secret(secret),
        secret2: secret2.map(Secret),
        test: config.card_test,
    };
    let robokassa = RobokassaSettings {
        refund_key: config.card_secret3.clone().map(Secret),
        hash: config.card_hash,
    };
    card.service = Some(Arc::from(service_for_robokassa(&settings, &robokassa)?));
    Ok(card)
}
