//! Guards the history in a real browser, from payments written with the real outbox store:
//! newest first, each state with its icon and its label in Russian (accepted, deferred,
//! sending, unknown — awaiting status, rejected as a duplicate, rejected with the gateway's
//! reason); the provider filter; a change made elsewhere (another tab, the service worker)
//! shows up by itself; a payment's page shows all its data, offers *Send now* only while it is
//! not final, and leads to its receipt.
#![cfg(target_arch = "wasm32")]

mod support;

use support::catalogue::keep_sample_catalogue;
use support::payments::{forget_payments, signed, store_in_state};
use support::*;
use tolem_outbox::record::State;
use tolem_outbox::store;
use tolem_protocol::codes::ResultCode;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const KCELL: (&str, &str) = ("kcell", "Kcell");
const BEELINE: (&str, &str) = ("beeline", "Beeline");
const MINUTE: i64 = 60_000;

fn entry(session: &str) -> String {
    format!("#history-list li[data-session='{session}']")
}

#[wasm_bindgen_test]
async fn every_state_has_its_label_newest_first() {
    keep_sample_catalogue().await;
    forget_payments().await;
    let start = js_sys::Date::now() as i64 - 60 * MINUTE;
    let states = [
        (State::Accepted, "Принят", None),
        (State::Deferred, "Отложен", None),
        (State::Sending, "Отправляется", None),
        (State::Unknown, "Неизвестно — ждёт статуса", None),
        (
            State::Rejected(ResultCode::Duplicate),
            "Отклонён: дубликат",
            Some(ResultCode::Duplicate),
        ),
        (
            State::Rejected(ResultCode::InsufficientFunds),
            "Отклонён",
            Some(ResultCode::InsufficientFunds),
        ),
    ];
    let mut sessions = Vec::new();
    for (i, (state, _, _)) in states.iter().enumerate() {
        let provider = if i % 2 == 0 { KCELL } else { BEELINE };
        let account = if i % 2 == 0 {
            "7011234567"
        } else {
            "7051234567"
        };
        let payment = signed(
            provider,
            account,
            (1_000 + i as i64) * 100,
            start + i as i64 * MINUTE,
            i as u8,
        );
        sessions.push(store_in_state(payment, *state).await.session().to_string());
    }

    let app = start_in_russian_at("/history");
    wait_for("#history-list", 5).await;
    let shown: Vec<String> = document_sessions();
    let mut newest_first = sessions.clone();
    newest_first.reverse();
    assert_eq!(shown, newest_first);

    for ((state, label, code), session) in states.iter().zip(&sessions) {
        let li = entry(session);
        assert_eq!(
            attribute_of(&li, "data-state").as_deref(),
            Some(state.name())
        );
        assert_eq!(text_of(&format!("{li} .state-label")), *label, "{state:?}");
        assert_eq!(
            attribute_of(&li, "data-code").unwrap_or_default(),
            code.map(|c| c.number().to_string()).unwrap_or_default()
        );
        assert!(find(&format!("{li} .state-icon")).is_some());
    }
    assert_eq!(
        text_of(&format!("{} .state-reason", entry(&sessions[5]))),
        "Недостаточно средств на балансе дилера"
    );
    assert_eq!(
        text_of(&format!("{} .state-reason", entry(&sessions[4]))),
        "Такой же платёж уже принят в течение последнего часа"
    );
    assert!(text_of(&entry(&sessions[0])).contains("+7 (701) 123-45-67"));
    assert!(
        text_of(&entry(&sessions[0])).contains("1\u{a0}010,00\u{a0}₸"),
        "customer amount"
    );

    // Only Beeline's.
    choose("#history-filter", "beeline");
    settle().await;
    assert_eq!(
        document_sessions(),
        vec![
            sessions[5].clone(),
            sessions[3].clone(),
            sessions[1].clone()
        ]
    );
    choose("#history-filter", "");
    settle().await;
    assert_eq!(document_sessions().len(), 6);
    drop(app);
}

fn document_sessions() -> Vec<String> {
    let list = leptos::prelude::document()
        .query_selector_all("#app-under-test #history-list li")
        .unwrap();
    (0..list.length())
        .filter_map(|i| list.item(i))
        .filter_map(|node| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(node).ok())
        .filter_map(|element| element.get_attribute("data-session"))
        .collect()
}

#[wasm_bindgen_test]
async fn a_payment_settled_elsewhere_changes_on_screen_by_itself() {
    keep_sample_catalogue().await;
    forget_payments().await;
    let now = js_sys::Date::now() as i64;
    let record = store_in_state(
        signed(KCELL, "7011234567", 2_000_00, now, 1),
        State::Deferred,
    )
    .await;
    let session = record.session().to_string();
    let app = start_in_russian_at("/history");
    wait_for(&entry(&session), 5).await;
    assert_eq!(
        attribute_of(&entry(&session), "data-state").as_deref(),
        Some("deferred")
    );

    // Another context (a tab, the service worker) settles it: the store announces the change.
    let mut accepted = record.clone();
    accepted.state = State::Accepted;
    accepted.transaction_id = Some("D001-000777".into());
    store::update(&accepted).await.unwrap();
    wait_for(&format!("{}[data-state=accepted]", entry(&session)), 5).await;
    assert_eq!(
        text_of(&format!("{} .state-label", entry(&session))),
        "Принят"
    );
    drop(app);
}

/// Writes `records` as they are, in one transaction, without a word on the outbox's channel
/// (the final ones leave the outbox): what a replayer's batch leaves in IndexedDB before it
/// announces it.
async fn write_silently(records: &[tolem_outbox::record::PaymentRecord]) {
    use tolem_outbox::db::{self, HISTORY, OUTBOX};
    let database = db::open().await.unwrap();
    let transaction = database
        .transaction(&[HISTORY, OUTBOX], idb::TransactionMode::ReadWrite)
        .unwrap();
    let history = transaction.object_store(HISTORY).unwrap();
    let outbox = transaction.object_store(OUTBOX).unwrap();
    for record in records {
        let value = db::to_js(record).unwrap();
        history.put(&value, None).unwrap().await.unwrap();
        let session = wasm_bindgen::JsValue::from_str(record.session().as_str());
        outbox
            .delete(idb::Query::Key(session))
            .unwrap()
            .await
            .unwrap();
    }
    db::finish(transaction).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_batch_settled_elsewhere_changes_on_screen_after_one_message() {
    keep_sample_catalogue().await;
    forget_payments().await;
    let now = js_sys::Date::now() as i64;
    let mut records = Vec::new();
    for n in 0..3u8 {
        let payment = signed(
            KCELL,
            "7011234567",
            1_000_00,
            now - i64::from(3 - n) * MINUTE,
            n + 1,
        );
        records.push(store_in_state(payment, State::Deferred).await);
    }
    let app = start_in_russian_at("/history");
    for record in &records {
        wait_for(
            &format!("{}[data-state=deferred]", entry(record.session().as_str())),
            5,
        )
        .await;
    }

    // The service worker stores the answers of a batch, then says so in ONE message naming all
    // three payments: the open page shows every one of them settled.
    let accepted: Vec<_> = records
        .iter()
        .map(|record| {
            let mut accepted = record.clone();
            accepted.state = State::Accepted;
            accepted.transaction_id = Some("D001-000777".into());
            accepted
        })
        .collect();
    write_silently(&accepted).await;
    let sessions: Vec<_> = records.iter().map(|r| r.session()).collect();
    tolem_outbox::changes::announce_all(&sessions);
    for record in &records {
        wait_for(
            &format!("{}[data-state=accepted]", entry(record.session().as_str())),
            5,
        )
        .await;
    }
    // The header's count of waiting payments follows from the same message.
    wait_for("#outbox-summary[data-count='0']", 5).await;
    drop(app);
}

#[wasm_bindgen_test]
async fn a_payment_shows_all_its_data_and_can_be_sent_while_not_final() {
    keep_sample_catalogue().await;
    forget_payments().await;
    let now = js_sys::Date::now() as i64;
    let deferred = store_in_state(
        signed(KCELL, "7011234567", 2_000_00, now - MINUTE, 1),
        State::Deferred,
    )
    .await;
    let accepted = store_in_state(
        signed(BEELINE, "7051234567", 500_00, now, 2),
        State::Accepted,
    )
    .await;

    let app = start_in_russian_at(&format!("/history/{}", deferred.session()));
    wait_for("#payment", 5).await;
    assert_eq!(
        attribute_of("#payment", "data-state").as_deref(),
        Some("deferred")
    );
    assert_eq!(text_of("#payment-provider"), "Kcell");
    assert_eq!(text_of("#payment-account"), "+7 (701) 123-45-67");
    assert_eq!(text_of("#payment-amount"), "2\u{a0}000,00\u{a0}₸");
    assert_eq!(text_of("#payment-commission"), "20,00\u{a0}₸");
    assert_eq!(text_of("#payment-customer-amount"), "2\u{a0}020,00\u{a0}₸");
    assert_eq!(text_of("#payment-session"), deferred.session().as_str());
    assert_eq!(text_of("#payment-send-now"), "Отправить сейчас");
    drop(app);

    let app = start_in_russian_at(&format!("/history/{}", accepted.session()));
    wait_for("#payment", 5).await;
    assert_eq!(
        attribute_of("#payment", "data-state").as_deref(),
        Some("accepted")
    );
    assert_eq!(text_of("#payment-transaction"), "D001-000500");
    assert!(
        find("#payment-send-now").is_none(),
        "a final payment is never sent again"
    );
    tap("#payment-receipt");
    wait_for("#receipt", 5).await;
    assert_eq!(
        attribute_of("#receipt", "data-transaction").as_deref(),
        Some("D001-000500")
    );
    let receipt = text_of("#receipt");
    for line in [
        "Демо-касса",
        "Beeline",
        "+7 (705) 123-45-67",
        "500,00\u{a0}₸",
        "505,00\u{a0}₸",
        "D001-000500",
        "Принят",
    ] {
        assert!(
            receipt.contains(line),
            "{line:?} missing from the receipt:\n{receipt}"
        );
    }
    assert_eq!(text_of("#receipt-share"), "Поделиться");
    drop(app);
}
