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
    /// The gateway's address as customers' phones reach it: the service sends the customer's
    /// browser back to it after the card. Set at start ([`CardPayments::set_public_url`]),
    /// never taken from a request: the first to ask for a bill's order fixes its return
    /// address for the customer, so a `Host` header of someone else's choosing would send the
    /// customer from the service's page to a page of theirs.
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
    /// Sets the address customers come back to: `configured` (`--public-url`), or the address
    /// the gateway listens on (`https` when it serves TLS) unless that is every address.
    pub fn set_public_url(
        &mut self,
        configured: Option<&str>,
        listening: std::net::SocketAddr,
        https: bool,
    ) -> Result<(), CardConfigError> {
        let url = match configured.map(str::trim).filter(|url| !url.is_empty()) {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None if self.service.is_none() => return Ok(()),
            None if listening.ip().is_unspecified() => {
                return Err(CardConfigError::PublicUrlNeeded(listening));
            }
            None => format!("{}://{listening}", if https { "https" } else { "http" }),
        };
        self.public_url = Some(url);
        Ok(())
    }

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
    /// Listening on every address, the gateway cannot tell which one customers reach it by.
    #[error(
        "--public-url is needed with --card-service when the gateway listens on {0}: the \
         payment service sends customers' browsers back to the gateway's address as they reach \
         it (https://pay.example.kz)"
    )]
    PublicUrlNeeded(std::net::SocketAddr),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customers_come_back_to_the_configured_address_or_the_one_listened_on() {
        use clap::Parser;
        let tiptop = [
            "tolem-gateway",
            "--card-service",
            "tiptop",
            "--card-api-url",
            "http://127.0.0.1:9",
            "--card-login",
            "login",
            "--card-secret",
            "secret",
        ];
        let on = |args: &[&str], listening: &str, configured: Option<&str>, https: bool| {
            let config = crate::config::Config::try_parse_from(args).unwrap();
            let mut card = from_config(&config).unwrap();
            card.set_public_url(configured, listening.parse().unwrap(), https)
                .map(|()| card.public_url)
        };
        assert_eq!(
            on(
                &tiptop,
                "0.0.0.0:8443",
                Some(" https://pay.example.kz/ "),
                true
            )
            .unwrap(),
            Some("https://pay.example.kz".to_owned())
        );
        assert_eq!(
            on(&tiptop, "127.0.0.1:8080", None, false).unwrap(),
            Some("http://127.0.0.1:8080".to_owned())
        );
        assert_eq!(
            on(&tiptop, "192.168.1.5:8443", None, true).unwrap(),
            Some("https://192.168.1.5:8443".to_owned())
        );
        // Every address: which one customers use is the operator's to say.
        assert!(matches!(
            on(&tiptop, "0.0.0.0:8443", None, true),
            Err(CardConfigError::PublicUrlNeeded(_))
        ));
        // Without a service nothing is needed.
        assert_eq!(on(&tiptop[..1], "0.0.0.0:8443", None, true).unwrap(), None);
    }
}
