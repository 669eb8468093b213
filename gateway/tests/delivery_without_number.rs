//! A provider that accepts a pay without naming its number (`<prv_txn>`, which the protocol
//! requires in a pay's answer) does not get the payment recorded delivered without one: the
//! deliveries table refuses that, and the write that carried it — with the other payments'
//! outcomes of that moment — failed, again at every new claim. The payment waits, asked again
//! with the same number, and is delivered once the provider names it.

mod support;

use std::time::Duration;

use support::{
    delivery::{emulator, quick_retry},
    payments::{DEALER, kcell},
};
use tolem_protocol::{codes::ResultCode, messages::DeliveryState};
use tolem_providers::emulator::faults::Faults;

const THOUSAND: i64 = 100_000;
const WITHIN: Duration = Duration::from_secs(30);

#[tokio::test]
async fn an_acceptance_without_the_providers_number_waits_for_one() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let provider = emulator(&["--open"]).await;
    provider
        .provider
        .set_faults(Faults {
            no_provider_txn_rate: 1.0,
            ..Faults::default()
        })
        .unwrap();
    gateway
        .connect_provider("kcell", &provider.url, 5_000)
        .await;
    gateway.start_delivery(quick_retry());

    let (request, reply) = gateway.pay(&phone, kcell("7011234567", THOUSAND)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    let waiting = gateway
        .delivery_when(&phone, &request, WITHIN, |d| {
            d.state == DeliveryState::Retrying
        })
        .await;
    assert_eq!(waiting.provider_txn, None);
    // The only payment: its first attempt.
    let reason: String =
        sqlx::query_scalar("SELECT error FROM delivery_attempts ORDER BY attempt LIMIT 1")
            .fetch_one(&gateway.pool)
            .await
            .unwrap();
    assert!(reason.contains("prv_txn"), "the attempt says why: {reason}");

    provider.provider.set_faults(Faults::default()).unwrap();
    let delivered = gateway
        .delivery_when(&phone, &request, WITHIN, |d| d.state.is_final())
        .await;
    assert_eq!(delivered.state, DeliveryState::Delivered);
    let held = provider.provider.payments();
    assert_eq!(held.len(), 1, "paid once: {held:?}");
    assert_eq!(
        delivered.provider_txn,
        held[0].prv_txn.map(|n| n.to_string())
    );
    gateway.assert_ledger_matches(DEALER).await;
}
