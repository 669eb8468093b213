//! Guards the payment form in a real browser, with the catalogue and the key stored on the phone
//! as the app keeps them: every wrong field is named in Russian before anything is signed or
//! sent; the commission follows the amount live, for both formulas and whichever amount is
//! typed; the confirmation shows provider, number, both amounts and the commission, and *Back*
//! finds the form as it was; *Defer* signs and stores the payment — history and outbox — and
//! sends nothing; a result not final yet follows the payment when the outbox settles it; a
//! 32-digit account fits 320 px on the confirmation, the result and the payment's page.
//! (The gateway's answers are the end-to-end suite's: tests/e2e.)
#![cfg(target_arch = "wasm32")]

mod support;

use support::card::sample_card;
use support::catalogue::keep_sample_catalogue;
use support::payments::forget_payments;
use support::*;
use tolem::storage::{commission, keystore};
use tolem_outbox::State;
use tolem_protocol::commission::{CommissionSettings, Formula};
use tolem_protocol::messages::{Message, Request, Step};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const PASSPHRASE: &str = "касса-смена-1";

/// A phone with the catalogue and no payments; `commission` for Kcell and Beeline.
async fn phone_with(kcell: CommissionSettings, beeline: CommissionSettings) {
    keep_sample_catalogue().await;
    forget_payments().await;
    commission::save("kcell", &kcell).await.unwrap();
    commission::save("beeline", &beeline).await.unwrap();
}

fn percent(percent_bp: i64, formula: Formula) -> CommissionSettings {
    CommissionSettings {
        percent_bp,
        formula,
        ..Default::default()
    }
}

/// The live figures: provider amount, commission, customer amount (tiyn), as the page shows them.
fn live() -> (String, String, String) {
    let tiyn = |id: &str| attribute_of(id, "data-tiyn").unwrap_or_default();
    (
        tiyn("#pay-live-provider"),
        tiyn("#pay-live-commission"),
        tiyn("#pay-live-customer"),
    )
}

fn figures(provider: &str, commission: &str, customer: &str) -> (String, String, String) {
    (provider.into(), commission.into(), customer.into())
}

#[wasm_bindgen_test]
async fn every_wrong_field_is_named_in_russian_before_anything_is_sent() {
    forget_key().await;
    phone_with(Default::default(), Default::default()).await;
    let app = start_in_russian_at("/pay/kcell");
    wait_for("#pay-form", 5).await;
    assert!(text_of("#pay-provider").contains("Kcell"));

    tap("#pay-execute");
    settle().await;
    assert_eq!(text_of("#pay-account-error"), "Введите номер.");
    assert_eq!(text_of("#pay-amount-error"), "Введите сумму.");

    type_into("#pay-account", "705 123 45 67");
    type_into("#pay-amount", "12,345");
    settle().await;
    assert_eq!(
        text_of("#pay-account-error"),
        "Номера этого провайдера начинаются с 701, 702, 775, 778."
    );
    assert_eq!(
        text_of("#pay-amount-error"),
        "После запятой не больше двух цифр (тиыны)."
    );

    type_into("#pay-account", "701 123 45");
    type_into("#pay-amount", "2000 тг");
    settle().await;
    assert_eq!(
        text_of("#pay-account-error"),
        "В номере должно быть 10 цифр."
    );
    assert_eq!(
        text_of("#pay-amount-error"),
        "Сумма — это число, например 2000 или 1 500,50."
    );

    type_into("#pay-amount", "50");
    settle().await;
    assert_eq!(
        text_of("#pay-amount-error"),
        "Сумма провайдеру должна быть от 100,00\u{a0}₸ до 500\u{a0}000,00\u{a0}₸."
    );
    type_into("#pay-amount", "0");
    settle().await;
    assert_eq!(
        text_of("#pay-amount-error"),
        "Сумма должна быть больше нуля."
    );

    type_into("#pay-comment", &"ж".repeat(65));
    settle().await;
    assert_eq!(text_of("#pay-comment-count"), "65/64");
    assert_eq!(
        text_of("#pay-comment-error"),
        "Комментарий длиннее 64 знаков: сейчас 65."
    );

    // Right at last — but this phone has no key: still nothing is signed or sent.
    type_into("#pay-account", "7011234567");
    type_into("#pay-amount", "2000");
    type_into("#pay-comment", "за март");
    tap("#pay-execute");
    settle().await;
    assert!(find("#pay-account-error").is_none());
    assert!(find("#pay-amount-error").is_none());
    assert!(find("#pay-comment-error").is_none());
    assert!(find("#pay-no-key").is_some());
    assert!(find("#pay-confirm").is_none());
    assert_eq!(requests_to("/api/v1/pay") + requests_to("/api/v1/check"), 0);
    assert!(tolem_outbox::store::history().await.unwrap().is_empty());

    // The number takes the operator's mask as it is typed.
    let typed: web_sys::HtmlInputElement =
        wasm_bindgen::JsCast::unchecked_into(find("#pay-account").unwrap());
    assert_eq!(typed.value(), "+7 (701) 123-45-67");

    tap("#pay-clear");
    settle().await;
    assert_eq!(typed.value(), "");
    assert_eq!(text_of("#pay-comment-count"), "0/64");
    drop(app);
}

#[wasm_bindgen_test]
async fn the_commission_follows_either_amount_for_both_formulas() {
    forget_key().await;
    // Kcell: 1.5 % on top of the provider amount. Beeline: 2 % included in the customer amount.
    phone_with(
        percent(150, Formula::OnTop),
        percent(200, Formula::Included),
    )
    .await;
    let app = start_in_russian_at("/pay/kcell");
    wait_for("#pay-form", 5).await;
    settle().await;

    // Typing what the customer hands over (the default).
    type_into("#pay-amount", "2030");
    settle().await;
    assert_eq!(live(), figures("200000", "3000", "203000"));
    type_into("#pay-amount", "1 015,00");
    settle().await;
    assert_eq!(live(), figures("100000", "1500", "101500"));
    assert_eq!(text_of("#pay-live-commission"), "15,00\u{a0}₸");

    // Typing what the provider gets.
    tap("#pay-side-provider");
    type_into("#pay-amount", "2000");
    settle().await;
    assert_eq!(live(), figures("200000", "3000", "203000"));
    assert_eq!(text_of("#pay-live-customer"), "2\u{a0}030,00\u{a0}₸");
    drop(app);

    let app = start_in_russian_at("/pay/beeline");
    wait_for("#pay-form", 5).await;
    settle().await;
    type_into("#pay-amount", "1000");
    settle().await;
    assert_eq!(live(), figures("98000", "2000", "100000"));
    tap("#pay-side-provider");
    type_into("#pay-amount", "980");
    settle().await;
    assert_eq!(live(), figures("98000", "2000", "100000"));
    // Not an amount yet: nothing to show.
    type_into("#pay-amount", "98,");
    settle().await;
    assert_eq!(live(), figures("9800", "200", "10000"));
    type_into("#pay-amount", "abc");
    settle().await;
    assert_eq!(text_of("#pay-live-commission"), "—");
    drop(app);
}

#[wasm_bindgen_test]
async fn the_fixed_minimum_applies_below_its_threshold() {
    forget_key().await;
    let kcell = CommissionSettings {
        percent_bp: 100,
        formula: Formula::OnTop,
        min_below_tiyn: 500_00,
        min_fixed_tiyn: 10_00,
        max_above_tiyn: 50_000_00,
        max_fixed_tiyn: 400_00,
    };
    phone_with(kcell, Default::default()).await;
    let app = start_in_russian_at("/pay/kcell");
    wait_for("#pay-form", 5).await;
    settle().await;
    tap("#pay-side-provider");
    type_into("#pay-amount", "100");
    settle().await;
    assert_eq!(live(), figures("10000", "1000", "11000"));
    type_into("#pay-amount", "100000");
    settle().await;
    assert_eq!(live(), figures("10000000", "40000", "10040000"));
    drop(app);
}

#[wasm_bindgen_test]
async fn the_confirmation_shows_everything_and_defer_stores_without_sending() {
    forget_key().await;
    phone_with(percent(100, Formula::OnTop), Default::default()).await;
    keystore::create(&sample_card(), PASSPHRASE).await.unwrap();
    let app = start_in_russian_at("/pay/kcell");
    wait_for("#pay-form", 5).await;
    // The key is locked: the form says so, and offers to unlock it right here.
    type_into("#pay-account", "7011234567");
    type_into("#pay-amount", "2020");
    tap("#pay-execute");
    wait_for("#pay-locked", 5).await;
    assert!(find("#pay-confirm").is_none());
    assert_eq!(
        text_of("#pay-locked"),
        "Сначала разблокируйте ключ кодовой фразой (форма ниже)."
    );
    type_into("#unlock-passphrase", PASSPHRASE);
    tap("#unlock-submit");
    wait_until_gone("#unlock-form", 20).await;

    tap("#pay-execute");
    wait_for("#pay-confirm", 5).await;
    assert_eq!(
        attribute_of("#pay-confirm", "data-action").as_deref(),
        Some("execute")
    );
    assert_eq!(text_of("#confirm-provider"), "Kcell");
    assert_eq!(text_of("#confirm-account"), "+7 (701) 123-45-67");
    assert_eq!(text_of("#confirm-provider-amount"), "2\u{a0}000,00\u{a0}₸");
    assert_eq!(text_of("#confirm-commission"), "20,00\u{a0}₸");
    assert_eq!(text_of("#confirm-customer-amount"), "2\u{a0}020,00\u{a0}₸");

    // Back: the form as it was; nothing signed.
    tap("#confirm-back");
    wait_for("#pay-form", 5).await;
    let amount: web_sys::HtmlInputElement =
        wasm_bindgen::JsCast::unchecked_into(find("#pay-amount").unwrap());
    assert_eq!(amount.value(), "2020");
    assert!(tolem_outbox::store::history().await.unwrap().is_empty());

    // Defer: confirmed, signed and stored — history and outbox — and nothing sent.
    tap("#pay-defer");
    wait_for("#pay-confirm[data-action=defer]", 5).await;
    tap("#confirm-submit");
    wait_for("#pay-result", 10).await;
    assert_eq!(
        attribute_of("#pay-result", "data-state").as_deref(),
        Some("deferred")
    );
    assert_eq!(
        text_of("#pay-result-text"),
        "Платёж отложен: он сохранён на телефоне и будет отправлен позже."
    );
    assert_eq!(requests_to("/api/v1/pay"), 0);
    let session = attribute_of("#pay-result", "data-session").unwrap();
    let waiting = tolem_outbox::store::waiting().await.unwrap();
    assert_eq!(waiting.len(), 1);
    let record = &waiting[0];
    assert_eq!(record.session().as_str(), session);
    assert_eq!(record.state, State::Deferred);
    assert_eq!(
        (
            record.payment.amount_tiyn,
            record.payment.commission_tiyn,
            record.payment.customer_amount_tiyn
        ),
        (2_000_00, 20_00, 2_020_00)
    );
    // Signed now by the phone's key: the pay and its status query, one session.
    let public = keystore::load().await.unwrap().unwrap().public_key;
    let pay = record.payment.pay.to_signed().unwrap();
    assert!(pay.verify(&public).is_ok());
    let request = Request::decode(&pay.body).unwrap();
    assert_eq!(request.session.as_str(), session);
    assert!(matches!(request.step, Step::Pay(ref p) if p.account == "7011234567"));
    let status = Request::decode(record.payment.status.bytes()).unwrap();
    assert_eq!(
        (status.session, status.step),
        (request.session, Step::Status)
    );

    // A new payment starts from an empty form.
    tap("#pay-new");
    wait_for("#pay-form", 5).await;
    let amount: web_sys::HtmlInputElement =
        wasm_bindgen::JsCast::unchecked_into(find("#pay-amount").unwrap());
    assert_eq!(amount.value(), "");
    drop(app);
    forget_key().await;
}

#[wasm_bindgen_test]
async fn a_payment_answered_by_something_else_than_the_gateway_stays_saved_as_unknown() {
    // The test page's server is no gateway: like a captive portal, it answers the pay with a
    // page that is not the gateway's signed answer. The payment may have arrived somewhere, so
    // it is neither accepted nor paid again: it is kept, unknown, and asked for by status.
    forget_key().await;
    phone_with(Default::default(), Default::default()).await;
    keystore::create(&sample_card(), PASSPHRASE).await.unwrap();
    let app = start_in_russian_at("/pay/kcell");
    unlock_with(PASSPHRASE).await;
    type_into("#pay-account", "7011234567");
    type_into("#pay-amount", "2000");
    tap("#pay-execute");
    wait_for("#pay-confirm", 5).await;
    tap("#confirm-submit");
    wait_for("#pay-result", 20).await;
    assert_eq!(
        attribute_of("#pay-result", "data-state").as_deref(),
        Some("unknown")
    );
    assert!(find("#pay-transaction").is_none());
    let session = attribute_of("#pay-result", "data-session").unwrap();
    let record = tolem_outbox::store::waiting().await.unwrap().remove(0);
    assert_eq!(record.session().as_str(), session);
    assert_eq!(record.state, State::Unknown);
    assert_eq!(
        record.last_failure,
        Some(tolem_outbox::record::Failure::NotAnAnswer)
    );
    // The pay once, then the status query twice — never the pay under another session.
    assert_eq!(record.attempts, 3);
    assert_eq!(requests_to("/api/v1/pay"), 1);
    assert_eq!(requests_to("/api/v1/status"), 2);
    drop(app);
    forget_key().await;
}

#[wasm_bindgen_test]
async fn a_result_not_final_follows_the_payment_when_the_outbox_settles_it() {
    forget_key().await;
    phone_with(Default::default(), Default::default()).await;
    keystore::create(&sample_card(), PASSPHRASE).await.unwrap();
    // No gateway: the payment is deferred and stays so until the test settles it.
    let offline = support::gateway::serve_nothing();
    let app = start_in_russian_at("/pay/kcell");
    unlock_with(PASSPHRASE).await;
    type_into("#pay-account", "7011234567");
    type_into("#pay-amount", "2000");
    tap("#pay-defer");
    wait_for("#pay-confirm[data-action=defer]", 5).await;
    tap("#confirm-submit");
    wait_for("#pay-result[data-state=deferred]", 10).await;
    let session = attribute_of("#pay-result", "data-session").unwrap();

    // The outbox (this tab's, another's or the worker's) settles it and says so on its channel:
    // the customer is still at the counter, and the same screen now says it went through.
    let mut accepted = tolem_outbox::store::waiting().await.unwrap().remove(0);
    assert_eq!(accepted.session().as_str(), session);
    accepted.state = State::Accepted;
    accepted.transaction_id = Some("D001-000777".into());
    tolem_outbox::store::update(&accepted).await.unwrap();
    wait_for(
        &format!("#pay-result[data-state=accepted][data-session='{session}']"),
        10,
    )
    .await;
    assert_eq!(text_of("#pay-transaction"), "D001-000777");
    drop(app);
    drop(offline);
    forget_payments().await;
    forget_key().await;
}

/// How far the app under test reaches beyond its 320 px, and the share of its row the label
/// beside `value` keeps (a label squeezed to nothing is drawn under the value).
fn overflow_and_label_share(value: &str) -> (f64, f64) {
    let measured: js_sys::Array = js_sys::Function::new_with_args(
        "selector",
        "const root = document.getElementById('app-under-test');
         const dd = root.querySelector(selector);
         if (!dd) return [NaN, NaN];
         const row = dd.parentElement.getBoundingClientRect().width;
         return [root.scrollWidth - root.clientWidth,
                 dd.previousElementSibling.getBoundingClientRect().width / row];",
    )
    .call1(&wasm_bindgen::JsValue::NULL, &value.into())
    .unwrap()
    .unchecked_into();
    let number = |i| measured.get(i).as_f64().unwrap_or(f64::NAN);
    (number(0), number(1))
}

#[wasm_bindgen_test]
async fn a_32_digit_account_fits_320_pixels_in_every_language() {
    use tolem_protocol::account::AccountKind;
    use tolem_protocol::providers::{ProviderGroup, ProviderInfo};
    const ACCOUNT: &str = "12345678901234567890123456789012";
    forget_key().await;
    phone_with(Default::default(), Default::default()).await;
    // A provider whose accounts are as long as the protocol allows.
    let mut catalogue = support::catalogue::sample_catalogue();
    catalogue.providers.push(ProviderInfo {
        code: "erc".into(),
        name: "ЕРЦ".into(),
        short_label: "ЕРЦ".into(),
        group: ProviderGroup::Utilities,
        account_kind: AccountKind::Account,
        account_rule: "digits=32".into(),
        min_tiyn: 100_00,
        max_tiyn: 1_000_000_00,
    });
    tolem::storage::catalogue::save(&tolem::storage::catalogue::StoredCatalogue {
        etag: Some("\"long\"".into()),
        body: String::from_utf8(catalogue.encode()).unwrap(),
        checked_at_ms: 1_795_000_000_000,
    })
    .await
    .unwrap();
    keystore::create(&sample_card(), PASSPHRASE).await.unwrap();
    let offline = support::gateway::serve_nothing();
    load_style_sheet();

    let app = start_in_russian_at("/pay/erc");
    let root: web_sys::HtmlElement = leptos::prelude::document()
        .get_element_by_id("app-under-test")
        .unwrap()
        .unchecked_into();
    root.style().set_property("width", "320px").unwrap();
    root.style().set_property("overflow", "auto").unwrap();
    unlock_with(PASSPHRASE).await;
    type_into("#pay-account", ACCOUNT);
    type_into("#pay-amount", "2000");
    tap("#pay-defer");
    wait_for("#pay-confirm", 5).await;
    assert_eq!(text_of("#confirm-account"), ACCOUNT);
    let mut too_wide = Vec::new();
    let mut measure = async |screen: &str, value: &str| {
        for language in ["ru", "kk", "en"] {
            choose_language(language).await;
            settle().await;
            let (overflow, label) = overflow_and_label_share(value);
            if overflow.is_nan() || overflow > 0.0 || label < 0.2 {
                too_wide.push(format!(
                    "{screen} in {language}: {overflow} px too wide, the label keeps {:.0} %",
                    label * 100.0
                ));
            }
        }
        choose_language("ru").await;
        settle().await;
    };
    measure("the confirmation", "#confirm-account").await;
    tap("#confirm-submit");
    wait_for("#pay-result[data-state=deferred]", 10).await;
    measure("the result", "#pay-result dd.number").await;
    let session = attribute_of("#pay-result", "data-session").unwrap();
    drop(app);

    let app = start_in_russian_at(&format!("/history/{session}"));
    let root: web_sys::HtmlElement = leptos::prelude::document()
        .get_element_by_id("app-under-test")
        .unwrap()
        .unchecked_into();
    root.style().set_property("width", "320px").unwrap();
    root.style().set_property("overflow", "auto").unwrap();
    wait_for("#payment-account", 10).await;
    measure("the payment's page", "#payment-account").await;
    assert!(too_wide.is_empty(), "{}", too_wide.join("\n"));
    drop(app);
    drop(offline);
    forget_language();
    forget_payments().await;
    forget_key().await;
}
