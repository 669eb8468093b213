//! Guards card payments on the customer's own phone as the cashier sees them, in a real browser
//! with the real outbox store and the gateway's signed answers served in place of the network:
//! choosing *Card* on the payment form makes a bill — a QR code whose link carries bytes signed
//! by the point key that decode to a `bill` of the form's amounts, stored as awaiting the card
//! before it is shown, counted apart from the cash in the top bar — and nothing is paid or posted
//! but the bill's own pre-signed status; a refused card's reason is shown; the status answer that
//! it was paid turns the screen into *Paid by card* (and the history and receipt say so); *Cancel
//! bill* sends the pre-signed cancel and ends it cancelled; without a connection the cancel
//! waits, and a customer who paid first wins; the history names every bill state; the time left
//! is counted on the gateway's clock, as the bill's deadline is; the bill, the form and the
//! history fit 320 px in Russian, Kazakh and English.
#![cfg(target_arch = "wasm32")]

mod support;

use std::cell::Cell;
use std::rc::Rc;

use support::card::sample_card;
use support::catalogue::keep_sample_catalogue;
use support::gateway::{self, FakeGateway};
use support::payments::{forget_payments, signed_bill};
use support::*;
use tolem::storage::keystore;
use tolem_outbox::record::{PaymentRecord, State};
use tolem_outbox::store;
use tolem_protocol::PROTOCOL_VERSION;
use tolem_protocol::bill;
use tolem_protocol::codes::ResultCode;
use tolem_protocol::ids::SessionId;
use tolem_protocol::messages::{
    BillState, BillStatus, CardRefusal, Message, Outcome, PaymentMethod, PaymentReceipt,
    PaymentState, Request, Response, Step,
};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const PASSPHRASE: &str = "касса-смена-1";
const KCELL: (&str, &str) = ("kcell", "Kcell");
const MINUTE: i64 = 60_000;

fn now() -> i64 {
    js_sys::Date::now() as i64
}

fn answer(session: &SessionId, code: ResultCode, outcome: Option<Outcome>) -> Response {
    Response {
        v: PROTOCOL_VERSION,
        session: Some(session.clone()),
        code,
        outcome,
        gateway_time_ms: now(),
        retry_after_s: None,
    }
}

fn not_opened(session: &SessionId) -> Response {
    answer(session, ResultCode::NoSuchSession, None)
}

fn unpaid(
    session: &SessionId,
    code: ResultCode,
    state: BillState,
    refusal: Option<CardRefusal>,
) -> Response {
    let outcome = Outcome::Bill(BillStatus {
        state,
        expires_at_ms: now() + 30 * MINUTE,
        refusal,
    });
    answer(session, code, Some(outcome))
}

/// The gateway's answer that the bill of `session` was paid by card: 2 000 ₸ to Kcell.
fn paid(session: &SessionId) -> Response {
    let receipt = PaymentReceipt {
        transaction_id: "D001-000777".into(),
        state: PaymentState::Accepted,
        method: PaymentMethod::Card,
        amount_tiyn: 2_000_00,
        customer_amount_tiyn: 2_000_00,
        accepted_at_ms: now(),
        delivery: None,
    };
    answer(session, ResultCode::Ok, Some(Outcome::Payment(receipt)))
}

/// A phone with the catalogue, no payments and an unlocked point key, on the Kcell form in
/// Russian, with 2 000 ₸ for 701 123 45 67 typed and *Card* chosen.
async fn card_form() -> Box<dyn std::any::Any> {
    forget_key().await;
    keep_sample_catalogue().await;
    forget_payments().await;
    keystore::create(&sample_card(), PASSPHRASE).await.unwrap();
    let app = start_in_russian_at("/pay/kcell");
    wait_for("#pay-form", 5).await;
    unlock_with(PASSPHRASE).await;
    type_into("#pay-account", "7011234567");
    type_into("#pay-amount", "2000");
    tap("#pay-method-card");
    wait_for("#pay-bill", 5).await;
    app
}

/// From the form to the bill on screen: *Make bill*, *Confirm*.
async fn make_bill() -> PaymentRecord {
    tap("#pay-bill");
    wait_for("#pay-confirm[data-action=bill]", 5).await;
    assert_eq!(text_of("#confirm-method"), "карта клиента");
    tap("#confirm-submit");
    wait_for("#bill", 10).await;
    let session = attribute_of("#bill", "data-session").unwrap();
    store::get(&SessionId::try_from(session).unwrap())
        .await
        .unwrap()
        .expect("the bill is stored before it is shown")
}

/// Waits (up to `seconds`) until the served gateway got `count` requests for `step`.
async fn wait_for_requests(served: &FakeGateway, step: &str, count: usize, seconds: u32) {
    for _ in 0..seconds * 20 {
        if served.sent_to(step).len() >= count {
            return;
        }
        gloo_timers_sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "{count} {step} requests did not come within {seconds} s: {:?}",
        served.sent()
    );
}

#[wasm_bindgen_test]
async fn choosing_card_shows_a_qr_whose_link_carries_the_signed_bill() {
    let served = gateway::serve(|step, request| match step {
        "status" => Some(not_opened(&request.session)),
        _ => None,
    });
    let app = card_form().await;
    // No cash is taken: there is nothing to defer.
    assert!(find("#pay-defer").is_none());
    assert!(find("#pay-execute").is_none());
    assert_eq!(
        text_of("#pay-method-hint"),
        "Клиент оплатит картой по QR-коду. Наличные не берите."
    );
    let record = make_bill().await;
    assert_eq!(record.state, State::AwaitingCard);

    // The QR code and the text both carry the link, on this page's origin (the gateway's).
    let link = attribute_of("#bill-qr", "data-text").unwrap();
    assert_eq!(text_of("#bill-link"), link);
    assert!(
        find("#bill-qr svg path").is_some(),
        "the link fits a QR code ({} characters)",
        link.len()
    );
    let origin = leptos::prelude::window().location().origin().unwrap();
    let token = link
        .strip_prefix(&format!("{origin}/bill/"))
        .unwrap_or_else(|| panic!("{link} is not under {origin}/bill/"));
    let (body, signature) = bill::parse(token).unwrap();
    // The point's own key, made on this phone: its public half is what the gateway holds.
    let public = keystore::load().await.unwrap().unwrap().public_key;
    assert!(public.verify(&body, &signature).is_ok());
    let request = Request::decode(&body).unwrap();
    assert_eq!(request.session, *record.session());
    let Step::Bill(signed) = request.step else {
        panic!("the link carries a {:?}, not a bill", request.step)
    };
    assert_eq!(signed.payment.provider, "kcell");
    assert_eq!(signed.payment.account, "7011234567");
    assert_eq!(
        (
            signed.payment.amount_tiyn,
            signed.payment.customer_amount_tiyn
        ),
        (2_000_00, 2_000_00)
    );
    assert_eq!(signed.expires_at_ms, request.created_at_ms + 30 * MINUTE);
    assert_eq!(body, record.payment.pay.bytes(), "the very bytes stored");

    // What the customer pays, to whom, and for how long.
    assert_eq!(
        attribute_of("#bill-amount", "data-tiyn").as_deref(),
        Some("200000")
    );
    assert_eq!(text_of("#bill-amount"), "2\u{a0}000,00\u{a0}₸");
    assert_eq!(text_of("#bill-provider"), "Kcell");
    assert_eq!(text_of("#bill-account"), "+7 (701) 123-45-67");
    let countdown = text_of("#bill-countdown");
    assert!(
        countdown.starts_with("Оплатить можно ещё 30:00")
            || countdown.starts_with("Оплатить можно ещё 29:"),
        "{countdown}"
    );
    wait_for_text("#bill-status", "Ждём оплаты картой…", 5).await;

    // Asked about by its own pre-signed status — never paid, never posted.
    wait_for_requests(&served, "status", 1, 10).await;
    assert!(
        served
            .sent_to("status")
            .iter()
            .all(|sent| sent.body == record.payment.status.body)
    );
    assert!(served.sent_to("pay").is_empty());
    assert!(served.sent_to("bill").is_empty());
    assert_eq!(
        store::get(record.session()).await.unwrap().unwrap().state,
        State::AwaitingCard
    );

    // Counted apart from the cash: no cash waits, one bill does.
    wait_for("#bills-summary[data-count='1']", 5).await;
    assert!(!find("#bills-summary").unwrap().hidden());
    assert!(find("#outbox-summary").unwrap().hidden());
    let summary = store::waiting_summary().await.unwrap();
    assert_eq!(
        (summary.count, summary.total_tiyn, summary.bills),
        (0, 0, 1)
    );
    drop(app);
    drop(served);
    forget_payments().await;
    forget_key().await;
}

#[wasm_bindgen_test]
async fn paid_by_card_is_shown_when_the_status_says_so() {
    let customer_paid = Rc::new(Cell::new(false));
    let served = {
        let customer_paid = customer_paid.clone();
        gateway::serve(move |step, request| match step {
            "status" if customer_paid.get() => Some(paid(&request.session)),
            "status" => Some(unpaid(
                &request.session,
                ResultCode::BillNotPaid,
                BillState::Awaiting,
                Some(CardRefusal::InsufficientFunds),
            )),
            _ => None,
        })
    };
    let app = card_form().await;
    let record = make_bill().await;

    wait_for("#bill-refusal", 10).await;
    assert_eq!(
        text_of("#bill-refusal"),
        "Карта клиента отклонена: недостаточно средств на карте. \
         Клиент может попробовать ещё раз или другую карту."
    );
    assert_eq!(text_of("#bill-status"), "Клиент открыл счёт — ждём оплаты…");

    customer_paid.set(true);
    wait_for("#pay-result[data-state=accepted]", 10).await;
    assert_eq!(
        attribute_of("#pay-result", "data-method").as_deref(),
        Some("card")
    );
    assert_eq!(text_of("#pay-result-text"), "Оплачено картой.");
    assert_eq!(text_of("#pay-result .state-label"), "Оплачен картой");
    assert_eq!(text_of("#pay-transaction"), "D001-000777");
    assert_eq!(text_of("#pay-result-method"), "карта клиента");
    assert!(find("#pay-paid-before-cancel").is_none());
    let stored = store::get(record.session()).await.unwrap().unwrap();
    assert_eq!(stored.state, State::Accepted);
    assert!(stored.paid_by_card());
    assert!(served.sent_to("pay").is_empty());
    drop(app);

    // From now on it is an accepted payment like any other: in the history and on its receipt.
    let app = start_in_russian_at("/history");
    let row = format!("#history-list li[data-session='{}']", record.session());
    wait_for(&row, 5).await;
    assert_eq!(
        attribute_of(&row, "data-state").as_deref(),
        Some("accepted")
    );
    assert_eq!(attribute_of(&row, "data-method").as_deref(), Some("card"));
    assert_eq!(text_of(&format!("{row} .state-label")), "Оплачен картой");
    drop(app);
    let lines = tolem::pages::history::receipt_lines(
        &stored,
        "+7 (701) 123-45-67",
        tolem::i18n::Locale::ru,
    );
    assert!(lines.contains(&("Способ оплаты".to_owned(), "карта клиента".to_owned())));
    assert!(lines.contains(&("Статус".to_owned(), "Оплачен картой".to_owned())));
    assert!(lines.contains(&("Номер транзакции".to_owned(), "D001-000777".to_owned())));
    drop(served);
    forget_payments().await;
    forget_key().await;
}

#[wasm_bindgen_test]
async fn cancel_bill_sends_the_signed_cancel_and_ends_it_cancelled() {
    let served = gateway::serve(|step, request| match step {
        "status" => Some(not_opened(&request.session)),
        "cancel" => Some(unpaid(
            &request.session,
            ResultCode::BillCancelled,
            BillState::Cancelled,
            None,
        )),
        _ => None,
    });
    let app = card_form().await;
    let record = make_bill().await;
    tap("#bill-cancel");

    wait_for("#pay-result[data-state=cancelled]", 10).await;
    assert_eq!(text_of("#pay-result-text"), "Счёт не оплачен.");
    assert_eq!(text_of("#pay-result .state-label"), "Счёт отменён");
    assert_eq!(
        text_of("#pay-reason"),
        ResultCode::BillCancelled.message(tolem_protocol::codes::Lang::Ru)
    );
    let cancels = served.sent_to("cancel");
    assert_eq!(cancels.len(), 1);
    assert_eq!(
        cancels[0].body,
        record.payment.bill.as_ref().unwrap().cancel.body,
        "the cancel signed with the bill"
    );
    assert_eq!(
        store::get(record.session()).await.unwrap().unwrap().state,
        State::Rejected(ResultCode::BillCancelled)
    );
    assert_eq!(store::waiting_summary().await.unwrap().bills, 0);
    drop(app);
    drop(served);
    forget_payments().await;
    forget_key().await;
}

#[wasm_bindgen_test]
async fn an_offline_cancel_waits_and_a_customer_who_paid_first_wins() {
    let online = Rc::new(Cell::new(true));
    let served = {
        let online = online.clone();
        gateway::serve(move |step, request| match step {
            _ if !online.get() => None,
            "status" => Some(not_opened(&request.session)),
            // The customer paid just before the cashier cancelled.
            "cancel" => Some(paid(&request.session)),
            _ => None,
        })
    };
    let app = card_form().await;
    let record = make_bill().await;
    wait_for_requests(&served, "status", 1, 10).await;

    online.set(false);
    tap("#bill-cancel");
    wait_for("#bill[data-state=cancelling]", 10).await;
    wait_for_text(
        "#bill-status",
        "Нет связи: счёт будет отменён, как только связь появится. \
         Если клиент успеет оплатить раньше, платёж будет проведён.",
        25,
    )
    .await;
    // The cancel waits in the outbox; the code is no longer shown.
    assert_eq!(
        store::get(record.session()).await.unwrap().unwrap().state,
        State::Cancelling
    );
    assert!(find("#bill-qr").is_none());
    assert!(find("#bill-cancel").is_none());

    online.set(true);
    wait_for("#pay-result[data-state=accepted]", 15).await;
    assert_eq!(text_of("#pay-result-text"), "Оплачено картой.");
    assert_eq!(
        text_of("#pay-paid-before-cancel"),
        "Клиент оплатил картой раньше, чем счёт был отменён: платёж проведён, отменить его нельзя."
    );
    assert!(
        store::get(record.session())
            .await
            .unwrap()
            .unwrap()
            .paid_by_card()
    );
    drop(app);
    drop(served);
    forget_payments().await;
    forget_key().await;
}

#[wasm_bindgen_test]
async fn the_countdown_runs_on_the_gateways_time() {
    keep_sample_catalogue().await;
    forget_payments().await;
    // The phone's clock is 40 minutes fast: a signed answer said so, and the offset is kept (in
    // localStorage, where a reload finds it).
    let phone_now = tolem_outbox::clock::phone_now_ms();
    tolem_outbox::clock::observe(phone_now - 40 * MINUTE, phone_now);
    let kept = leptos::prelude::window()
        .local_storage()
        .unwrap()
        .unwrap()
        .get_item(tolem_outbox::clock::STORAGE_KEY)
        .unwrap();
    assert_eq!(kept.as_deref(), Some((-40 * MINUTE).to_string().as_str()));
    // A bill signed now, by the gateway's time as every bill is: 30 minutes to pay by it — by
    // the phone's own clock it expired 10 minutes ago.
    let signed = signed_bill(
        KCELL,
        "7011234567",
        1_000_00,
        tolem_outbox::clock::now_ms(),
        7,
    );
    let record = store::save_new(signed, now()).await.unwrap();
    let offline = gateway::serve_nothing();
    let app = start_in_russian_at(&format!("/history/{}", record.session()));
    wait_for("#bill[data-state=awaiting_card]", 5).await;
    settle().await;
    assert!(
        find("#bill-qr").is_some(),
        "the customer can still pay, so the code is shown:\n{}",
        page_text()
    );
    let countdown = text_of("#bill-countdown");
    assert!(
        countdown.starts_with("Оплатить можно ещё 30:00")
            || countdown.starts_with("Оплатить можно ещё 29:"),
        "{countdown}"
    );
    drop(app);
    drop(offline);
    tolem_outbox::clock::reset();
    forget_payments().await;
}

/// Stores a bill for 1 000 ₸ (`n` makes it unique) and brings it to `state` as the replay would.
async fn bill_in_state(state: State, n: u8) -> PaymentRecord {
    let signed = signed_bill(
        KCELL,
        "7011234567",
        1_000_00,
        now() - i64::from(n) * MINUTE,
        n,
    );
    let mut record = store::save_new(signed, now()).await.unwrap();
    if state != State::AwaitingCard {
        record.state = state;
        if state == State::Accepted {
            record.transaction_id = Some(format!("D001-00090{n}"));
        }
        record = store::update(&record).await.unwrap();
    }
    record
}

#[wasm_bindgen_test]
async fn the_history_names_every_bill_state() {
    keep_sample_catalogue().await;
    forget_payments().await;
    let awaiting = bill_in_state(State::AwaitingCard, 1).await;
    let paid = bill_in_state(State::Accepted, 2).await;
    let expired = bill_in_state(State::Rejected(ResultCode::BillExpired), 3).await;
    let cancelled = bill_in_state(State::Rejected(ResultCode::BillCancelled), 4).await;
    let app = start_in_russian_at("/history");
    for (record, name, label) in [
        (&awaiting, "awaiting_card", "Ждёт оплаты картой"),
        (&paid, "accepted", "Оплачен картой"),
        (&expired, "expired", "Счёт истёк"),
        (&cancelled, "cancelled", "Счёт отменён"),
    ] {
        let row = format!("#history-list li[data-session='{}']", record.session());
        wait_for(&row, 5).await;
        assert_eq!(attribute_of(&row, "data-state").as_deref(), Some(name));
        assert_eq!(attribute_of(&row, "data-method").as_deref(), Some("card"));
        assert_eq!(text_of(&format!("{row} .state-label")), label);
    }
    wait_for("#bills-summary[data-count='1']", 5).await;
    assert!(find("#outbox-summary").unwrap().hidden());
    drop(app);

    // A waiting bill's page shows it again, to be paid or cancelled.
    let app = start_in_russian_at(&format!("/history/{}", awaiting.session()));
    wait_for("#bill[data-state=awaiting_card]", 5).await;
    assert!(find("#bill-qr").is_some());
    assert!(find("#bill-cancel").is_some());
    assert!(find("#payment-send-now").is_none());
    drop(app);
    forget_payments().await;
}

/// The elements that reach beyond the app's right edge, for a failure's message.
fn beyond_the_edge() -> String {
    js_sys::Function::new_no_args(
        "const root = document.getElementById('app-under-test');
         const edge = root.getBoundingClientRect().right;
         return [...root.querySelectorAll('*')]
           .filter((e) => e.getBoundingClientRect().right > edge + 0.5)
           .map((e) => `<${e.tagName} id=${e.id} class=${e.className}> ${e.getBoundingClientRect().right - edge}px`)
           .join(', ');",
    )
    .call0(&wasm_bindgen::JsValue::NULL)
    .unwrap()
    .as_string()
    .unwrap_or_default()
}

fn app_root() -> web_sys::HtmlElement {
    leptos::prelude::document()
        .get_element_by_id("app-under-test")
        .unwrap()
        .unchecked_into()
}

#[wasm_bindgen_test]
async fn bills_fit_320_pixels_in_every_language() {
    keep_sample_catalogue().await;
    forget_payments().await;
    forget_key().await;
    keystore::create(&sample_card(), PASSPHRASE).await.unwrap();
    load_style_sheet();
    let awaiting = bill_in_state(State::AwaitingCard, 1).await;
    let paid = bill_in_state(State::Accepted, 2).await;
    bill_in_state(State::Rejected(ResultCode::BillExpired), 3).await;
    // The top bar at its fullest: cash waiting too.
    support::payments::store_in_state(
        support::payments::signed(KCELL, "7011234567", 150_000_00, now(), 9),
        State::Deferred,
    )
    .await;
    // The longest a waiting bill's screen gets: opened, and the card refused.
    let served = gateway::serve(|step, request| match step {
        "status" => Some(unpaid(
            &request.session,
            ResultCode::BillNotPaid,
            BillState::Awaiting,
            Some(CardRefusal::AuthenticationFailed),
        )),
        _ => None,
    });
    let screens = [
        (format!("/history/{}", awaiting.session()), "#bill-refusal"),
        (format!("/history/{}", paid.session()), "#payment"),
        (format!("/history/{}/receipt", paid.session()), "#receipt"),
        ("/history".to_owned(), "#bills-summary[data-count='1']"),
        ("/history".to_owned(), "#outbox-summary[data-count='1']"),
        ("/pay/kcell".to_owned(), "#pay-form"),
    ];
    for (path, ready) in screens {
        for language in ["ru", "kk", "en"] {
            let app = start_in_russian_at(&path);
            let root = app_root();
            root.style().set_property("width", "320px").unwrap();
            root.style().set_property("overflow", "auto").unwrap();
            wait_for(ready, 10).await;
            if path == "/pay/kcell" {
                tap("#pay-method-card");
                wait_for("#pay-method-hint", 5).await;
            }
            choose_language(language).await;
            settle().await;
            let overflow = root.scroll_width() - root.client_width();
            assert!(
                overflow <= 0,
                "{path} in {language} is {overflow} px wider than 320 px: {}",
                beyond_the_edge()
            );
            drop(app);
        }
    }
    drop(served);
    forget_language();
    forget_payments().await;
    forget_key().await;
}
