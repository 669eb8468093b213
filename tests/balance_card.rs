//! Guards the balance card in a real browser (issue 16), with the gateway's signed answers
//! served in place of the network: a locked key is unlocked right on the card, *Check balance*
//! shows the dealer's balance, what the point may still pay today and its limit for one payment
//! in tenge with the time of the answer — and the offline limits the dealer changed since the
//! key card came replace the card's on the phone, where the outbox and the worker read them, as
//! do the dealer's legal details for the receipts (a card from before them has none).
#![cfg(target_arch = "wasm32")]

mod support;

use support::card::sample_card;
use support::gateway::serve;
use support::*;
use tolem::storage::keystore;
use tolem_protocol::PROTOCOL_VERSION;
use tolem_protocol::codes::ResultCode;
use tolem_protocol::messages::{BalanceInfo, DealerDetails, OfflineLimits, Outcome, Response};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// The dealer as the operator has it now.
fn dealer_now() -> DealerDetails {
    DealerDetails {
        name: "ТОО «Демо-дилер»".into(),
        bin: "080640001122".into(),
        legal_address: "Алматы, пр. Абая, 10".into(),
    }
}

const PASSPHRASE: &str = "балансы-тексеру-7";

#[wasm_bindgen_test]
async fn the_balance_card_shows_the_gateways_figures_and_takes_the_dealers_offline_limits() {
    forget_key().await;
    keystore::create(&sample_card(), PASSPHRASE).await.unwrap();
    let dealers_now = OfflineLimits {
        max_payment_tiyn: 15_000_00,
        max_total_tiyn: 60_000_00,
        max_age_ms: 24 * 3_600_000,
    };
    assert_ne!(sample_card().offline, dealers_now);
    let limits = dealers_now.clone();
    let gateway = serve(move |step, request| {
        (step == "balance").then(|| Response {
            v: PROTOCOL_VERSION,
            session: Some(request.session.clone()),
            code: ResultCode::Ok,
            outcome: Some(Outcome::Balance(BalanceInfo {
                dealer_balance_tiyn: 1_234_567_89,
                point_day_left_tiyn: Some(250_000_00),
                point_payment_limit_tiyn: None,
                offline: Some(limits.clone()),
                dealer: Some(dealer_now()),
            })),
            gateway_time_ms: js_sys::Date::now() as i64,
            retry_after_s: None,
        })
    });

    let app = start_in_russian_at("/history");
    wait_for("#balance-unknown", 5).await;
    // Once the phone has read its key: locked, so the card offers to unlock it first.
    wait_for("#balance-unlock", 5).await;
    assert!(find("#balance-check").is_none(), "a locked key asks first");
    tap("#balance-unlock summary");
    wait_for("#unlock-form", 5).await;
    type_into("#unlock-passphrase", PASSPHRASE);
    tap("#unlock-submit");
    wait_for("#balance-check", 20).await;
    tap("#balance-check");
    wait_for("#balance-dealer[data-tiyn='123456789']", 10).await;
    assert_eq!(
        text_of("#balance-dealer").replace(['\u{a0}', '\u{202f}'], " "),
        "1 234 567,89 ₸"
    );
    assert_eq!(
        attribute_of("#balance-day-left", "data-tiyn").as_deref(),
        Some("25000000")
    );
    assert!(find("#balance-fetched-at").is_some());
    assert_eq!(gateway.sent_to("balance").len(), 1);

    // The dealer's limits now, on the phone's card: what the outbox checks deferrals against.
    let card = tolem_outbox::store::key_card().await.unwrap().unwrap();
    assert_eq!(card.offline, dealers_now);
    // And the dealer's legal details, which a card from before them lacked: the receipts this
    // phone prints name the dealer in law from now on.
    assert_eq!(sample_card().dealer_details, None);
    assert_eq!(card.dealer_details, Some(dealer_now()));
    drop(app);
    forget_key().await;
}
