//! Guards, in a real browser with payments written by the real outbox store, what the cashier
//! sees of issue 13 items 1–3: a payment the gateway held (a "not now") says why and what to do,
//! and can be sent by hand; the pay form warns while this key's payments are held; the phone's
//! clock off the gateway's by more than a minute is said under the top bar; a payment refused by
//! a rule after the cash was taken offers *Pay again*, which fills in the form and signs nothing
//! until the cashier confirms.
#![cfg(target_arch = "wasm32")]

mod support;

use support::catalogue::keep_sample_catalogue;
use support::payments::{forget_payments, signed, store_in_state};
use support::*;
use tolem_outbox::clock;
use tolem_outbox::record::{PaymentRecord, State};
use tolem_outbox::store;
use tolem_protocol::codes::ResultCode;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const KCELL: (&str, &str) = ("kcell", "Kcell");
const HOUR: i64 = 3_600_000;

fn now() -> i64 {
    js_sys::Date::now() as i64
}

/// A Kcell payment of 2 000 tenge held with `code`, not due for an hour (so no replay of the
/// app under test sends it).
async fn held(code: ResultCode, n: u8) -> PaymentRecord {
    let mut record = store_in_state(
        signed(KCELL, "7011234567", 2_000_00, now() - 60_000, n),
        State::Held(code),
    )
    .await;
    record.next_attempt_at_ms = now() + HOUR;
    store::update(&record).await.unwrap()
}

#[wasm_bindgen_test]
async fn a_held_payment_says_why_and_what_to_do_and_can_be_sent_by_hand() {
    keep_sample_catalogue().await;
    forget_payments().await;
    let record = held(ResultCode::PointBlocked, 1).await;
    let session = record.session().to_string();

    let app = start_in_russian_at("/history");
    let li = format!("#history-list li[data-session='{session}']");
    wait_for(&format!("{li}[data-state=held]"), 5).await;
    assert_eq!(text_of(&format!("{li} .state-label")), "Ждёт разрешения");
    let reason = text_of(&format!("{li} .state-reason"));
    assert!(
        reason.contains("Точка заблокирована")
            && reason.contains("Попросите дилера разблокировать точку"),
        "{reason}"
    );
    // Still cash waiting on the phone: counted in the top bar.
    wait_for("#outbox-summary[data-count='1']", 5).await;
    drop(app);

    let app = start_in_russian_at(&format!("/history/{session}"));
    wait_for("#payment[data-state=held]", 5).await;
    assert!(
        find("#payment-send-now").is_some(),
        "a held payment can be sent by hand"
    );
    assert!(
        find("#payment-pay-again").is_none(),
        "it was not refused: nothing to pay again"
    );
    drop(app);
}

#[wasm_bindgen_test]
async fn the_pay_form_warns_while_this_keys_payments_are_held() {
    keep_sample_catalogue().await;
    forget_payments().await;
    held(ResultCode::KeyNotCertified, 2).await;
    let app = start_in_russian_at("/pay/kcell");
    let warning = wait_for("#pay-held-warning", 5).await;
    let text = warning.text_content().unwrap_or_default();
    assert!(
        text.contains("Попросите дилера заверить ключ") && text.contains("будет ждать"),
        "{text}"
    );
    drop(app);

    // Nothing held: no warning.
    forget_payments().await;
    let app = start_in_russian_at("/pay/kcell");
    wait_for("#pay-form", 5).await;
    settle().await;
    assert!(find("#pay-held-warning").is_none());
    drop(app);
}

#[wasm_bindgen_test]
async fn a_clock_off_by_more_than_a_minute_is_said_under_the_top_bar() {
    clock::reset();
    let phone = clock::phone_now_ms();
    // The gateway's clock is 7 minutes behind this phone's.
    clock::observe(phone - 7 * 60_000, phone);
    let app = start_in_russian_at("/");
    let warning = wait_for("#clock-warning", 5).await;
    assert_eq!(
        attribute_of("#clock-warning", "data-offset-ms").as_deref(),
        Some("-420000")
    );
    let text = warning.text_content().unwrap_or_default();
    assert!(
        text.contains("7 мин") && text.contains("проверьте дату и время"),
        "{text}"
    );
    drop(app);

    // Within a minute: nothing to say.
    clock::observe(phone + 30_000, phone);
    let app = start_in_russian_at("/");
    wait_for("#outbox-summary", 5).await;
    settle().await;
    assert!(find("#clock-warning").is_none());
    drop(app);
    clock::reset();
}

#[wasm_bindgen_test]
async fn pay_again_fills_in_the_form_and_signs_nothing_until_confirmed() {
    keep_sample_catalogue().await;
    forget_payments().await;
    let refused = store_in_state(
        signed(KCELL, "7011234567", 2_000_00, now() - 60_000, 3),
        State::Rejected(ResultCode::InsufficientFunds),
    )
    .await;
    let revoked = store_in_state(
        signed(KCELL, "7011234568", 2_000_00, now() - 30_000, 4),
        State::Rejected(ResultCode::KeyRevoked),
    )
    .await;

    // Refused for a rule that may not hold later: Pay again, with a word on what it does.
    let app = start_in_russian_at(&format!("/history/{}", refused.session()));
    wait_for("#payment[data-state=rejected]", 5).await;
    assert!(find("#payment-pay-again-hint").is_some());
    tap("#payment-pay-again");
    wait_for("#pay-form", 5).await;
    let value = |selector: &str| {
        let input: web_sys::HtmlInputElement =
            wasm_bindgen::JsCast::unchecked_into(find(selector).unwrap());
        input.value()
    };
    assert_eq!(value("#pay-account"), "+7 (701) 123-45-67");
    // The customer's cash: 2 000 and the 1 % commission.
    assert_eq!(value("#pay-amount"), "2020");
    // Nothing signed or stored yet: the original stays as it was, alone.
    let history = store::history().await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        store::get(refused.session()).await.unwrap().unwrap(),
        refused
    );
    drop(app);

    // Refused for good (the key revoked): paying again from this phone is no answer.
    let app = start_in_russian_at(&format!("/history/{}", revoked.session()));
    wait_for("#payment[data-state=rejected]", 5).await;
    assert!(find("#payment-pay-again").is_none());
    drop(app);
}
