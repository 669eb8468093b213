//! Issue 16, the cashier's shift, in a real browser with the real outbox store and the
//! gateway's signed answers served in place of the network: *Open shift* notes the time; the
//! payments created after it — and only those — are counted when the cashier closes it: per
//! state, per provider, the cash to hand over (cash payments the customer did not get back:
//! neither rejected ones nor bills paid by card) and what still waits; the signed report goes to
//! the gateway and the screen lists it as sent. The phone keeps the last 30 sent reports (never
//! dropping one that has not reached the gateway) and lists them. A report the gateway would
//! refuse is explained in the cashier's language, and the error goes once a shift is opened.
#![cfg(target_arch = "wasm32")]

mod support;

use support::card::sample_card;
use support::catalogue::keep_sample_catalogue;
use support::gateway;
use support::payments::{forget_payments, point_key, signed, signed_bill, store_in_state};
use support::*;
use tolem::storage::keystore;
use tolem_outbox::db::{self, SETTINGS, SHIFTS};
use tolem_outbox::record::State;
use tolem_outbox::shifts;
use tolem_protocol::PROTOCOL_VERSION;
use tolem_protocol::codes::ResultCode;
use tolem_protocol::messages::{Message, Outcome, Request, Response, Step};
use tolem_protocol::shift::{Figures, ShiftReport};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const PASSPHRASE: &str = "касса-смена-1";
const KCELL: (&str, &str) = ("kcell", "Kcell");
const BEELINE: (&str, &str) = ("beeline", "Beeline");
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

fn now() -> i64 {
    js_sys::Date::now() as i64
}

/// No shift open, no reports.
async fn forget_shifts() {
    let database = db::open().await.unwrap();
    let transaction = database
        .transaction(&[SHIFTS, SETTINGS], idb::TransactionMode::ReadWrite)
        .unwrap();
    transaction
        .object_store(SHIFTS)
        .unwrap()
        .clear()
        .unwrap()
        .await
        .unwrap();
    transaction
        .object_store(SETTINGS)
        .unwrap()
        .delete(idb::Query::Key(JsValue::from_str(shifts::OPEN_SETTING)))
        .unwrap()
        .await
        .unwrap();
    db::finish(transaction).await.unwrap();
}

fn answer(request: &Request, code: ResultCode, outcome: Option<Outcome>) -> Response {
    Response {
        v: PROTOCOL_VERSION,
        session: Some(request.session.clone()),
        code,
        outcome,
        gateway_time_ms: now(),
        retry_after_s: None,
    }
}

/// The visible text of `selector` with the no-break spaces money is written with as spaces.
fn plain(selector: &str) -> String {
    text_of(selector).replace('\u{a0}', " ")
}

#[wasm_bindgen_test]
async fn a_closed_shift_shows_its_totals_and_the_cash_to_hand_over() {
    forget_key().await;
    keep_sample_catalogue().await;
    forget_payments().await;
    forget_shifts().await;
    keystore::create(&sample_card(), PASSPHRASE).await.unwrap();
    // The gateway stores the report; anything else it asks to wait for (so a deferred payment
    // stays deferred while the test looks).
    let served = gateway::serve(|step, request| {
        Some(match step {
            "shift" => answer(
                request,
                ResultCode::Ok,
                Some(Outcome::ShiftRecorded {
                    recorded_at_ms: now(),
                }),
            ),
            _ => answer(request, ResultCode::TooManyAttempts, None),
        })
    });
    // A payment of the day before the shift: not the shift's.
    store_in_state(
        signed(KCELL, "7011234567", 700_00, now() - 10 * MINUTE, 1),
        State::Accepted,
    )
    .await;

    let _app = start_in_russian_at("/shift");
    wait_for("#shift-open", 10).await;
    tap("#shift-open");
    wait_for("#shift-state[data-state=open]", 5).await;
    let opened: i64 = attribute_of("#shift-state", "data-opened")
        .unwrap()
        .parse()
        .unwrap();

    // The shift's payments (1 % commission on top: the customer pays 1 010, 505, 303, 2 020).
    store_in_state(
        signed(KCELL, "7011234567", 1_000_00, opened + 1, 2),
        State::Accepted,
    )
    .await;
    store_in_state(
        signed(BEELINE, "7051234567", 500_00, opened + 2, 3),
        State::Deferred,
    )
    .await;
    store_in_state(
        signed(KCELL, "7011234567", 300_00, opened + 3, 4),
        State::Rejected(ResultCode::Duplicate),
    )
    .await;
    store_in_state(
        signed_bill(KCELL, "7017654321", 2_000_00, opened + 4, 5),
        State::Accepted,
    )
    .await;

    // Closing signs the report: the key is unlocked first.
    unlock_with(PASSPHRASE).await;
    tap("#shift-close");
    // The gateway took the report, and a new shift can be opened.
    let report = "#shift-list li:first-child";
    wait_for(&format!("{report}[data-state=accepted]"), 10).await;
    wait_for("#shift-open", 5).await;

    // Cash: the accepted and the deferred cash payments (the duplicate's cash went back, the
    // bill was paid by card).
    assert_eq!(plain(&format!("{report} .shift-cash")), "1 515,00 ₸");
    assert_eq!(plain(&format!("{report} .shift-waiting")), "1 · 505,00 ₸");
    assert_eq!(plain(&format!("{report} .shift-total")), "4 · 3 838,00 ₸");
    let line = |state: &str| plain(&format!("{report} dd[data-state={state}]"));
    assert_eq!(line("accepted"), "1 · 1 010,00 ₸");
    assert_eq!(line("deferred"), "1 · 505,00 ₸");
    assert_eq!(line("rejected"), "1 · 303,00 ₸");
    assert_eq!(line("card"), "1 · 2 020,00 ₸");
    // Per provider: what went through (cash and card).
    assert_eq!(
        plain(&format!("{report} dd[data-provider=kcell]")),
        "2 · 3 030,00 ₸"
    );
    assert!(find(&format!("{report} dd[data-provider=beeline]")).is_none());

    // What left the phone: one signed `shift` with the same figures.
    let sent = served.sent_to("shift");
    assert_eq!(sent.len(), 1);
    let request = Request::decode(sent[0].body.as_bytes()).unwrap();
    let Step::Shift(sent_report) = request.step else {
        panic!("not a shift report");
    };
    assert_eq!(sent_report.opened_at_ms, opened);
    assert_eq!(sent_report.cash_tiyn, 1_515_00);
    assert_eq!(
        sent_report.waiting,
        Figures {
            count: 1,
            sum_tiyn: 505_00
        }
    );
}

fn report_of(n: i64) -> ShiftReport {
    let opened = 1_795_000_000_000 + n * HOUR;
    ShiftReport {
        opened_at_ms: opened,
        closed_at_ms: opened + 8 * MINUTE,
        states: vec![],
        providers: vec![],
        cash_tiyn: n * 100,
        waiting: Figures::default(),
    }
}

#[wasm_bindgen_test]
async fn the_phone_keeps_the_last_thirty_sent_reports_and_lists_them() {
    forget_key().await;
    forget_payments().await;
    forget_shifts().await;
    let (card, key) = (sample_card(), point_key());
    // The oldest report never reached the gateway; the 31 after it did.
    for n in 0..32 {
        let report = report_of(n);
        let mut record = shifts::sign(
            report.clone(),
            &card,
            &key,
            report.closed_at_ms,
            [n as u8; 8],
        )
        .unwrap();
        shifts::save_closed(&record).await.unwrap();
        if n > 0 {
            record.state = State::Accepted;
            shifts::update(&record).await.unwrap();
        }
    }
    let kept = shifts::all().await.unwrap();
    let opened: Vec<i64> = kept.iter().map(|r| r.report.opened_at_ms).collect();
    assert_eq!(kept.len(), 31, "30 sent reports and the one still waiting");
    assert!(
        opened.contains(&report_of(0).opened_at_ms),
        "a waiting report is never dropped"
    );
    assert!(
        !opened.contains(&report_of(1).opened_at_ms),
        "the oldest sent one is dropped"
    );
    assert_eq!(opened[0], report_of(31).opened_at_ms, "newest first");

    // The screen lists them all, newest first, the waiting one as deferred.
    let _offline = gateway::serve_nothing();
    let _app = start_in_russian_at("/shift");
    wait_for("#shift-list", 10).await;
    let items = web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .query_selector_all("#app-under-test #shift-list li")
        .unwrap();
    assert_eq!(items.length(), 31);
    let session =
        |n: usize| attribute_of(&format!("#shift-list li:nth-child({n})"), "data-session").unwrap();
    assert_eq!(session(1), kept[0].session.to_string());
    assert_eq!(
        attribute_of("#shift-list li:last-child", "data-state").as_deref(),
        Some("deferred")
    );
}

#[wasm_bindgen_test]
async fn a_report_the_gateway_would_refuse_is_explained_and_a_later_open_clears_it() {
    use tolem_protocol::shift::SHIFT_MAX_PROVIDERS;
    forget_key().await;
    forget_payments().await;
    forget_shifts().await;
    keystore::create(&sample_card(), PASSPHRASE).await.unwrap();
    let _offline = gateway::serve_nothing();
    let _app = start_in_russian_at("/shift");
    wait_for("#shift-open", 10).await;
    tap("#shift-open");
    wait_for("#shift-state[data-state=open]", 5).await;
    let opened: i64 = attribute_of("#shift-state", "data-opened")
        .unwrap()
        .parse()
        .unwrap();
    // One provider more than a report may carry: the gateway would refuse the report, so the
    // phone does not sign it.
    for n in 0..=SHIFT_MAX_PROVIDERS {
        let code = format!("p{n:03}");
        store_in_state(
            signed(
                (code.as_str(), code.as_str()),
                "7011234567",
                100_00,
                opened + 1 + n as i64,
                n as u8,
            ),
            State::Accepted,
        )
        .await;
    }
    unlock_with(PASSPHRASE).await;
    tap("#shift-close");
    // In the cashier's language, not the protocol's English reason.
    wait_for_text(
        "#shift-error",
        "Отчёт о смене нельзя подписать: шлюз не примет его в таком виде. Сообщите дилеру.",
        10,
    )
    .await;
    assert!(find("#shift-state[data-state=open]").is_some());

    // The shift is closed elsewhere (another tab) and a new one opened here: the old error
    // is no longer the news.
    forget_shifts().await;
    tolem_outbox::changes::announce(&tolem_protocol::ids::SessionId::generate(now(), [0; 8]));
    wait_for("#shift-open", 10).await;
    assert!(find("#shift-error").is_some());
    tap("#shift-open");
    wait_for("#shift-state[data-state=open]", 5).await;
    wait_until_gone("#shift-error", 5).await;
    forget_payments().await;
}

#[wasm_bindgen_test]
fn signing_errors_are_told_in_every_language() {
    use tolem::i18n::Locale;
    use tolem::messages::Explain;
    use tolem_outbox::letters::LetterSignError;
    use tolem_outbox::shifts::ShiftError;
    let errors: [(&dyn Explain, String); 3] = [
        (&ShiftError::NotOpen, ShiftError::NotOpen.to_string()),
        (
            &ShiftError::Invalid("too many providers in one report".into()),
            "the report is not valid: too many providers in one report".into(),
        ),
        (
            &LetterSignError::Invalid("bad code".into()),
            "the request is not valid: bad code".into(),
        ),
    ];
    let russian = [
        "Смена не открыта.",
        "Отчёт о смене нельзя подписать: шлюз не примет его в таком виде. Сообщите дилеру.",
        "Письмо нельзя подписать: шлюз не примет его с данными ключа этого телефона. Сообщите дилеру.",
    ];
    for ((error, english), russian) in errors.iter().zip(russian) {
        assert_eq!(error.explain(Locale::ru), russian);
        for locale in [Locale::kk, Locale::en] {
            let text = error.explain(locale);
            assert!(
                !text.is_empty() && text != russian && &text != english,
                "{locale:?}: {text}"
            );
        }
    }
}
