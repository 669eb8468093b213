//! Card payments in tests: the payment-service emulator (the real `tolem-card-payments`
//! emulator, served over real HTTP on 127.0.0.1 from this test process) pointed at a gateway
//! that pays bills through it, a customer's browser on both, bills signed by a test phone, and
//! the refund worker the test starts.

use std::time::Duration;

use tolem_card_payments::{
    PaymentService, ServiceConfig,
    config::service_for_robokassa,
    emulator::{InProcess, customer::Browser},
    service_for_with_refund_key,
};
use tolem_gateway::card::{CardConfigError, CardPayments, refund::Worker};
use tolem_protocol::{
    bill,
    messages::{Bill, Payment, Request, Step},
};

use super::{Gateway, now_ms, phone::Phone};

/// A gateway paying bills through an emulated payment service, and that service.
pub struct CardFixture {
    pub gateway: Gateway,
    pub emulator: InProcess,
    /// A customer's browser (no redirect followed by itself).
    pub customer: Browser,
}

/// Which emulated service the gateway is configured for.
#[derive(Debug, Clone, Copy)]
pub enum Service {
    TipTop,
    Robokassa,
    /// TipTop Pay, the gateway set up for live payments (no `--card-test`) while the emulated
    /// site is still in its test mode — one the operator forgot to switch.
    TipTopSiteLeftInTestMode,
}

/// Starts the emulator (quick notification retries) and a gateway configured for `service`
/// at it — by configuration alone, as for the real one — and points the emulator's
/// notifications at the gateway.
pub async fn start(service: Service) -> CardFixture {
    let emulator = tolem_card_payments::emulator::start_in_process(&[
        "--retry-base-ms",
        "50",
        "--retry-max-ms",
        "400",
    ])
    .await
    .unwrap();
    let adapter: Box<dyn PaymentService> = match service {
        Service::TipTop => service_for_with_refund_key(&emulator.tiptop_config(), None),
        Service::TipTopSiteLeftInTestMode => service_for_with_refund_key(
            &ServiceConfig {
                test: false,
                ..emulator.tiptop_config()
            },
            None,
        ),
        Service::Robokassa => {
            service_for_robokassa(&emulator.robokassa_config(), &emulator.robokassa_settings())
        }
    }
    .unwrap();
    serve(
        emulator,
        CardPayments {
            service: Some(adapter.into()),
            ..CardPayments::default()
        },
    )
    .await
}

/// Starts the emulator with `emulator_args` (quick notification retries besides) and a gateway
/// set up for its Robokassa shop by the gateway's own flags, read as `tolem-gateway` reads
/// them at start ([`tolem_gateway::card::from_config`]): the service, its addresses and login,
/// then `flags` — passwords, `--card-test`, `--card-hash`. A configuration the gateway would
/// not start with is its error.
pub async fn start_robokassa_configured(
    emulator_args: &[&str],
    flags: &[&str],
) -> Result<CardFixture, CardConfigError> {
    use clap::Parser;
    let mut args = vec!["--retry-base-ms", "50", "--retry-max-ms", "400"];
    args.extend_from_slice(emulator_args);
    let emulator = tolem_card_payments::emulator::start_in_process(&args)
        .await
        .unwrap();
    let page = format!("{}/Merchant/Index.aspx", emulator.url);
    let mut command_line = vec![
        "tolem-gateway",
        "--card-service",
        "robokassa",
        "--card-api-url",
        &emulator.url,
        "--card-page-url",
        &page,
        "--card-login",
        &emulator.emulator.settings.robokassa_login,
    ];
    command_line.extend_from_slice(flags);
    let config = tolem_gateway::config::Config::try_parse_from(command_line).unwrap();
    let card = tolem_gateway::card::from_config(&config)?;
    Ok(serve(emulator, card).await)
}

/// A gateway paying bills through `card`, and the emulator's notifications pointed at it.
async fn serve(emulator: InProcess, card: CardPayments) -> CardFixture {
    let gateway = super::start_with_card(card).await;
    emulator
        .emulator
        .set_tiptop_notify_url(format!("{}/api/card/tiptop", gateway.url));
    emulator
        .emulator
        .set_robokassa_result_url(format!("{}/api/card/robokassa/result", gateway.url));
    CardFixture {
        customer: Browser::new(&emulator.url),
        gateway,
        emulator,
    }
}

impl Gateway {
    /// Starts a refund worker on this gateway, retrying quickly.
    pub fn start_refunds(&self) -> tokio::task::JoinHandle<()> {
        let mut worker = Worker::new(self.pool.clone(), self.card.clone());
        worker.first_retry = Duration::from_millis(50);
        worker.lease = Duration::from_secs(3);
        worker.spawn()
    }
}

/// A bill for `payment` signed by `phone`, payable for `lifetime_ms` from `created_at_ms`: the
/// request, and the token its QR code carries.
pub fn bill_at(
    phone: &Phone,
    payment: Payment,
    created_at_ms: i64,
    lifetime_ms: i64,
) -> (Request, String) {
    let request = phone.request_at(
        Step::Bill(Bill {
            payment,
            expires_at_ms: created_at_ms + lifetime_ms,
        }),
        created_at_ms,
    );
    let body = tolem_protocol::messages::Message::encode(&request);
    let signature = phone.key.sign(&body);
    (request, bill::token(&body, &signature))
}

/// A bill for `payment`, made now, payable for 30 minutes.
pub fn bill(phone: &Phone, payment: Payment) -> (Request, String) {
    bill_at(phone, payment, now_ms(), 30 * 60 * 1000)
}
