//! Guards card payments over real HTTP, against the payment-service emulator
//! (`tolem-card-payments`) and a real database: a bill the customer pays by card becomes ONE
//! payment under the bill's session, which the phone learns by `status`; a refused card is
//! explained to the customer in their language and another card may pay; expired and
//! cancelled bills cannot be paid, and a charge that comes anyway is refunded; forged and
//! duplicated notifications settle nothing twice; a provider's final refusal refunds the card,
//! whatever the dealer spent meanwhile (the fee is the dealer's only once the provider took
//! the payment); the console refunds a delivered card payment once, with a one-time code.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use support::{
    Gateway,
    browser::{ADMIN, text_by_id},
    card::{self, CardFixture, Service, bill, bill_at},
    delivery::{Emulator as ProviderEmulator, emulator, quick_retry},
    held::Held,
    now_ms,
    payments::DEALER,
    phone::Phone,
};
use tolem_card_payments::{Notification, NotificationKind, emulator::Faults};
use tolem_gateway::{
    card::{
        order::outcome_path,
        settle::{Settled, settle},
    },
    db::{
        bills::{self, Bill},
        ledger::{self, LedgerKind, NewEntry, Posted},
    },
    payments::group::HeldDealers,
};
use tolem_protocol::{
    codes::{Lang, ResultCode},
    messages::{
        BillState, CardRefusal, DeliveryState, Outcome, Payment, PaymentMethod, PaymentState,
        Request, Step,
    },
};

/// 1 000 tenge to Kcell.
const AMOUNT: i64 = 100_000;
/// The point's commission on it: 20 tenge.
const COMMISSION: i64 = 2_000;
const PATIENCE: Duration = Duration::from_secs(30);
/// A card the emulator approves without 3-D Secure, and one that needs it.
const GOOD_CARD: &str = "4111 1111 1111 1111";
const GOOD_CARD_3DS: &str = "4242 4242 4242 4242";
/// 3-D Secure, then "insufficient funds" (TipTop Pay's documented test card).
const POOR_CARD: &str = "4012 8888 8888 1881";

fn payment(account: &str) -> Payment {
    Payment {
        provider: "kcell".into(),
        account: account.into(),
        amount_tiyn: AMOUNT,
        customer_amount_tiyn: AMOUNT + COMMISSION,
        comment: None,
    }
}

async fn fixture(service: Service) -> (CardFixture, Phone) {
    let fixture = card::start(service).await;
    let phone = fixture.gateway.ready_phone(1).await;
    (fixture, phone)
}

/// [`fixture`] with Kcell's payments going to a provider emulator started with `args` (kept
/// by the caller for as long as the test runs; delivery itself is started by the test).
async fn fixture_delivering(args: &[&str]) -> (CardFixture, Phone, ProviderEmulator) {
    let (fx, phone) = fixture(Service::TipTop).await;
    let provider = emulator(args).await;
    fx.gateway
        .connect_provider("kcell", &provider.url, 5_000)
        .await;
    (fx, phone, provider)
}

/// `status` of the bill's session: the answer's code and outcome.
async fn status(gateway: &Gateway, phone: &Phone, bill: &Request) -> (ResultCode, Option<Outcome>) {
    let response = gateway.status(phone, bill).await.response();
    (response.code, response.outcome)
}

/// Waits until `status` answers something `done` accepts, as the cashier's phone polls.
async fn status_when(
    gateway: &Gateway,
    phone: &Phone,
    bill: &Request,
    done: impl Fn(ResultCode, &Option<Outcome>) -> bool,
) -> (ResultCode, Option<Outcome>) {
    let started = std::time::Instant::now();
    loop {
        let (code, outcome) = status(gateway, phone, bill).await;
        if done(code, &outcome) {
            return (code, outcome);
        }
        assert!(
            started.elapsed() < PATIENCE,
            "status stayed {code:?} {outcome:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn get(gateway: &Gateway, path: &str) -> (StatusCode, String) {
    let response = gateway
        .client
        .get(format!("{}{path}", gateway.url))
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

/// The customer opens the bill and asks to pay: the payment service's page.
async fn order(gateway: &Gateway, token: &str) -> String {
    let response = ask_to_pay(gateway, token, "buyer@example.kz").await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "{}",
        response.text().await.unwrap()
    );
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// The customer's "pay" on the bill's page with the receipt's address `email`, the redirect
/// to the service's page not followed.
async fn ask_to_pay(gateway: &Gateway, token: &str, email: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/bill/{token}", gateway.url))
        .form(&[("email", email)])
        .send()
        .await
        .unwrap()
}

fn attribute(html: &str, name: &str) -> Option<String> {
    let start = html.find(&format!("{name}=\""))? + name.len() + 2;
    Some(html[start..].split('"').next()?.to_owned())
}

async fn count(gateway: &Gateway, query: &str) -> i64 {
    sqlx::query_scalar(query)
        .fetch_one(&gateway.pool)
        .await
        .unwrap()
}

/// An address the receipt could not be written to is refused on the bill's page, as a plainly
/// wrong one is: the customer corrects what they typed (still in the field) before paying,
/// instead of a receipt that never goes and waits in the mail queue, tried again every hour.
#[tokio::test]
async fn an_address_the_receipt_could_not_go_to_is_refused_before_paying() {
    let (fx, phone) = fixture(Service::TipTop).await;
    let gateway = &fx.gateway;
    let (_, token) = bill(&phone, payment("7011234567"));
    // The first two pass the protocol's plain check; lettre cannot write them.
    for address in ["a..b@mail.kz", "name@mail..kz", "name.mail.kz"] {
        let response = ask_to_pay(gateway, &token, address).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{address}: the page again, no order made"
        );
        let page = response.text().await.unwrap();
        assert!(page.contains("Проверьте e-mail"), "{address}: {page}");
        assert!(
            page.contains(&format!(r#"value="{address}""#)),
            "what was typed stays, to correct: {page}"
        );
    }
    let ordered = "SELECT COUNT(*) FROM bills WHERE service_order IS NOT NULL";
    assert_eq!(count(gateway, ordered).await, 0);
    order(gateway, &token).await;
    assert_eq!(count(gateway, ordered).await, 1, "a good address goes on");
}

/// A bill whose stored page cannot go in a redirect (an order stored before the service's
/// answers were checked) answers the customer that the service is not reachable, on the bill's
/// page with its "pay" button — before, the customer got a bare 500.
#[tokio::test]
async fn a_stored_page_no_redirect_can_carry_is_explained_not_a_bare_500() {
    let (fx, phone) = fixture(Service::TipTop).await;
    let gateway = &fx.gateway;
    let (_, token) = bill(&phone, payment("7011234567"));
    let page = order(gateway, &token).await;
    sqlx::query("UPDATE bills SET page_url = $1 WHERE page_url IS NOT NULL")
        .bind(format!("{page}\r\nSet-Cookie: session=stolen"))
        .execute(&gateway.pool)
        .await
        .unwrap();
    let response = ask_to_pay(gateway, &token, "buyer@example.kz").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.headers().get("set-cookie").is_none());
    let text = response.text().await.unwrap();
    assert!(text.contains("Платёжный сервис не отвечает"), "{text}");
}

#[tokio::test]
async fn a_bill_paid_by_card_becomes_one_payment_and_the_phone_is_told() {
    let (fx, phone) = fixture(Service::TipTop).await;
    let gateway = &fx.gateway;
    let before = gateway.balance_of(DEALER).await;
    let (request, token) = bill(&phone, payment("7011234567"));
    assert_eq!(
        status(gateway, &phone, &request).await.0,
        ResultCode::NoSuchSession,
        "not opened yet: the gateway knows nothing of it"
    );

    let (http, page) = get(gateway, &format!("/bill/{token}")).await;
    assert_eq!(http, StatusCode::OK, "{page}");
    let to_pay = text_by_id(&page, "to-pay")
        .unwrap()
        .replace(['\u{a0}', '\u{202f}'], " ");
    assert_eq!(
        to_pay, "1 020.00 ₸",
        "the customer pays the amount and the commission"
    );
    let (code, outcome) = status(gateway, &phone, &request).await;
    assert_eq!(code, ResultCode::BillNotPaid);
    assert!(matches!(outcome, Some(Outcome::Bill(ref b)) if b.state == BillState::Awaiting));

    let service_page = order(gateway, &token).await;
    assert!(service_page.starts_with(&fx.emulator.url), "{service_page}");
    assert_eq!(
        order(gateway, &token).await,
        service_page,
        "one order per bill"
    );
    let back = fx
        .customer
        .pay(&service_page, GOOD_CARD_3DS, "12/30", false)
        .await;
    let outcome_path = back.location.expect("sent back to the gateway");

    let (code, outcome) = status_when(gateway, &phone, &request, |code, _| {
        code != ResultCode::BillNotPaid
    })
    .await;
    assert_eq!(code, ResultCode::Ok);
    let Some(Outcome::Payment(receipt)) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(receipt.state, PaymentState::Accepted);
    assert_eq!(receipt.method, PaymentMethod::Card);
    assert_eq!(receipt.customer_amount_tiyn, AMOUNT + COMMISSION);
    assert_eq!(
        receipt.delivery.map(|d| d.state),
        Some(DeliveryState::Queued)
    );
    // The card paid the provider's amount and the fee: the provider's amount pays the payment;
    // the fee is the dealer's once the provider takes it (no delivery runs here).
    assert_eq!(gateway.balance_of(DEALER).await, before);
    assert_eq!(
        gateway.ledger_entries(DEALER, "card_payment").await,
        1,
        "the provider's amount only"
    );
    assert_eq!(
        count(gateway, "SELECT COUNT(*) FROM commission_accruals").await,
        0,
        "nor is the commission accrued before"
    );
    gateway.assert_ledger_matches(DEALER).await;

    let (_, page) = get(gateway, &outcome_path.replace(&gateway.url, "")).await;
    assert_eq!(
        attribute(&page, "data-state").as_deref(),
        Some("paid"),
        "{page}"
    );
    // The payment's delivery cannot be read for a moment: the customer is asked to look again,
    // never told that a paid bill was refunded (and so to pay again).
    gateway
        .sql("ALTER TABLE deliveries RENAME TO deliveries_away")
        .await;
    let (http, page) = get(gateway, &outcome_path.replace(&gateway.url, "")).await;
    gateway
        .sql("ALTER TABLE deliveries_away RENAME TO deliveries")
        .await;
    assert_eq!(http, StatusCode::SERVICE_UNAVAILABLE, "{page}");
    assert_eq!(attribute(&page, "data-state"), None, "{page}");
    let (_, page) = get(gateway, &format!("/bill/{token}")).await;
    assert_eq!(
        attribute(&page, "data-state").as_deref(),
        Some("paid"),
        "a paid bill cannot be paid again"
    );

    // The service sends Pay again, and a forger sends one with a bad signature: nothing moves.
    let invoice: i64 = count(gateway, "SELECT invoice FROM bills").await;
    for forge in [false, true] {
        let sent = reqwest::Client::new()
            .post(format!("{}/control/notify", fx.emulator.url))
            .json(&json!({"service": "tiptop", "invoice": invoice.to_string(), "kind": "pay", "forge": forge}))
            .send()
            .await
            .unwrap();
        assert!(sent.status().is_success());
    }
    assert_eq!(count(gateway, "SELECT COUNT(*) FROM payments").await, 1);
    assert_eq!(gateway.balance_of(DEALER).await, before);
    assert_eq!(
        count(
            gateway,
            "SELECT COUNT(*) FROM card_notifications WHERE verified = 0"
        )
        .await,
        1,
        "the forged notification is kept as evidence"
    );
    assert_eq!(
        count(
            gateway,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'card.notification_forged'"
        )
        .await,
        1
    );
}

/// Whoever asks first for a bill's order fixes where the service sends the customer back; a
/// request that names another host (someone who saw the QR code, ahead of the customer) must
/// not make it theirs.
#[tokio::test]
async fn the_service_sends_the_customer_back_to_the_gateway_whatever_host_was_asked() {
    let (fx, phone) = fixture(Service::TipTop).await;
    let gateway = &fx.gateway;
    let (_, token) = bill(&phone, payment("7011234567"));
    let first = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/bill/{token}", gateway.url))
        .header("host", "evil.example")
        .form(&[("email", "someone@example.kz")])
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let service_page = order(gateway, &token).await;
    let back = fx
        .customer
        .pay(&service_page, POOR_CARD, "12/30", false)
        .await;
    let back = back
        .location
        .clone()
        .or_else(|| back.fail_link())
        .expect("a way back to the gateway");
    assert!(
        back.starts_with(&format!("{}/card/bill/", gateway.url)),
        "{back}"
    );
}

#[tokio::test]
async fn a_refused_card_is_explained_in_the_customers_language_and_another_card_pays() {
    let (fx, phone) = fixture(Service::TipTop).await;
    let gateway = &fx.gateway;
    let (request, token) = bill(&phone, payment("7011234568"));
    let service_page = order(gateway, &token).await;
    let back = fx
        .customer
        .pay(&service_page, POOR_CARD, "12/30", false)
        .await;

    let (code, outcome) = status_when(
        gateway,
        &phone,
        &request,
        |_, outcome| matches!(outcome, Some(Outcome::Bill(b)) if b.refusal.is_some()),
    )
    .await;
    assert_eq!(
        code,
        ResultCode::BillNotPaid,
        "a refused card does not end the bill"
    );
    let Some(Outcome::Bill(status)) = outcome else {
        unreachable!()
    };
    assert_eq!(status.refusal, Some(CardRefusal::InsufficientFunds));

    let outcome_path = back
        .location
        .clone()
        .or_else(|| back.fail_link())
        .expect("a way back to the gateway");
    let outcome_path = outcome_path.replace(&gateway.url, "");
    let outcome_path = outcome_path.split("?").next().unwrap().to_owned();
    for (lang, words) in [
        ("ru", "недостаточно средств"),
        ("kk", "қаражат жеткіліксіз"),
        ("en", "insufficient funds"),
    ] {
        let (_, page) = get(gateway, &format!("{outcome_path}?lang={lang}")).await;
        assert_eq!(
            attribute(&page, "data-state").as_deref(),
            Some("declined"),
            "{page}"
        );
        assert!(page.contains(words), "{lang}: {page}");
    }
    assert_eq!(count(gateway, "SELECT COUNT(*) FROM payments").await, 0);

    // Another card on the same order pays the bill.
    fx.customer
        .pay(&service_page, GOOD_CARD, "12/30", false)
        .await;
    let (code, _) = status_when(gateway, &phone, &request, |code, _| code == ResultCode::Ok).await;
    assert_eq!(code, ResultCode::Ok);
    assert_eq!(count(gateway, "SELECT COUNT(*) FROM payments").await, 1);
}

/// PostgreSQL: while another transaction holds the dealer's row (a console or `psql` session
/// left open), a card's paid notification waits for it only the payment writer's wait, then is
/// answered "not now" (503) with nothing stored — no payment, no money, the bill still awaiting —
/// so it holds no connection of the gateway while the row stays held; the service sends it
/// again, and once the row is let go the bill is paid, once. (SQLite has one write lock, which
/// a notification waits for like any writer.)
#[tokio::test]
async fn a_card_payment_whose_dealers_row_stays_held_is_settled_when_the_service_sends_it_again() {
    let (fx, phone) = fixture(Service::TipTop).await;
    let gateway = &fx.gateway;
    if gateway.database_url.starts_with("sqlite:") {
        eprintln!("SQLite has one write lock for every dealer; skipped");
        return;
    }
    let wait = Duration::from_millis(100);
    gateway.payments.wait_for_held_dealers(HeldDealers {
        wait,
        patience: wait,
    });
    let before = gateway.balance_of(DEALER).await;
    let (request, token) = bill(&phone, payment("7011234570"));
    let service_page = order(gateway, &token).await;

    let held = Held::take(gateway).await;
    fx.customer
        .pay(&service_page, GOOD_CARD, "12/30", false)
        .await;
    let started = std::time::Instant::now();
    let pay_answers = || {
        fx.emulator
            .emulator
            .deliveries()
            .into_iter()
            .filter(|delivery| delivery.kind == "pay")
            .flat_map(|delivery| delivery.attempts)
            .filter_map(|attempt| attempt.status)
            .collect::<Vec<u16>>()
    };
    while pay_answers().is_empty() {
        assert!(
            started.elapsed() < PATIENCE,
            "the Pay notification never came"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        pay_answers()[0],
        503,
        "told to send it again while the row is held"
    );
    assert_eq!(count(gateway, "SELECT COUNT(*) FROM payments").await, 0);
    assert_eq!(gateway.balance_of(DEALER).await, before);
    let (code, outcome) = status(gateway, &phone, &request).await;
    assert_eq!(code, ResultCode::BillNotPaid);
    assert!(matches!(outcome, Some(Outcome::Bill(ref b)) if b.state == BillState::Awaiting));

    held.release().await;
    let (code, outcome) = status_when(gateway, &phone, &request, |code, _| {
        code != ResultCode::BillNotPaid
    })
    .await;
    assert_eq!(code, ResultCode::Ok);
    assert!(matches!(outcome, Some(Outcome::Payment(ref r)) if r.state == PaymentState::Accepted));
    assert_eq!(count(gateway, "SELECT COUNT(*) FROM payments").await, 1);
    assert_eq!(gateway.balance_of(DEALER).await, before);
}

/// A bill for `account` paid by a good card and settled: its request and its payment's number.
async fn paid_by_card(fx: &CardFixture, phone: &Phone, account: &str) -> (Request, String) {
    let (request, token) = bill(phone, payment(account));
    let service_page = order(&fx.gateway, &token).await;
    fx.customer
        .pay(&service_page, GOOD_CARD, "12/30", false)
        .await;
    let (_, outcome) = status_when(&fx.gateway, phone, &request, |code, _| {
        code != ResultCode::BillNotPaid
    })
    .await;
    let Some(Outcome::Payment(receipt)) = outcome else {
        panic!("{outcome:?}")
    };
    (request, receipt.transaction_id)
}

/// The newest bill as a notification read it, before what happens to it meanwhile.
async fn bill_as_read(gateway: &Gateway) -> Bill {
    let mut conn = gateway.pool.acquire().await.unwrap();
    let invoice: i64 = sqlx::query_scalar("SELECT MAX(invoice) FROM bills")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    bills::by_invoice(&mut conn, invoice)
        .await
        .unwrap()
        .unwrap()
}

/// A verified Pay notification of card transaction `transaction` for `bill`.
fn paid(bill: &Bill, transaction: &str) -> Notification {
    Notification {
        kind: NotificationKind::Pay,
        invoice: u32::try_from(bill.invoice).unwrap(),
        amount_tiyn: AMOUNT + COMMISSION,
        currency: "KZT".into(),
        transaction: Some(transaction.into()),
        email: None,
        decline: None,
        reason: None,
        test: false,
    }
}

/// A charge whose settlement finds the bill changed since its notification read it — the
/// cashier cancelled it, or another card's charge paid it — is refunded, not answered as
/// "paid already" and kept.
#[tokio::test]
async fn a_charge_that_loses_the_race_for_its_bill_is_refunded() {
    let (fx, phone) = fixture(Service::TipTop).await;
    let gateway = &fx.gateway;
    let wait = Duration::from_secs(5);
    let refunds = "SELECT COUNT(*) FROM card_refunds";

    // Cancelled by the cashier after the notification read the bill.
    let (request, token) = bill(&phone, payment("7011234572"));
    order(gateway, &token).await;
    let read = bill_as_read(gateway).await;
    let mut cancel = phone.request(Step::Cancel);
    cancel.session = request.session.clone();
    assert_eq!(
        gateway.send(&phone, &cancel).await.code(),
        ResultCode::BillCancelled
    );
    let settled = settle(&gateway.pool, &read, &paid(&read, "T1"), now_ms(), wait)
        .await
        .unwrap();
    assert!(matches!(settled, Settled::Refunded { .. }), "{settled:?}");
    assert_eq!(count(gateway, refunds).await, 1);
    assert_eq!(count(gateway, "SELECT COUNT(*) FROM payments").await, 0);

    // Two cards charged for one bill at once: the second to settle is refunded; the first's
    // notification repeated is still "paid already", refunding nothing.
    let (_, token) = bill(&phone, payment("7011234573"));
    order(gateway, &token).await;
    let read = bill_as_read(gateway).await;
    let first = settle(&gateway.pool, &read, &paid(&read, "T2"), now_ms(), wait)
        .await
        .unwrap();
    assert!(
        matches!(first, Settled::Paid { accepted: true, .. }),
        "{first:?}"
    );
    let second = settle(&gateway.pool, &read, &paid(&read, "T3"), now_ms(), wait)
        .await
        .unwrap();
    assert!(matches!(second, Settled::Refunded { .. }), "{second:?}");
    assert_eq!(count(gateway, refunds).await, 2);
    let again = settle(&gateway.pool, &read, &paid(&read, "T2"), now_ms(), wait)
        .await
        .unwrap();
    assert!(matches!(again, Settled::AlreadyPaid { .. }), "{again:?}");
    assert_eq!(count(gateway, refunds).await, 2);
    assert_eq!(count(gateway, "SELECT COUNT(*) FROM payments").await, 1);

    // A cash `pay` that reused an awaiting bill's session (a damaged phone's) took it: the
    // bill can never be paid, so the card's charge goes back.
    let (request, token) = bill(&phone, payment("7011234576"));
    order(gateway, &token).await;
    let read = bill_as_read(gateway).await;
    let mut cash = phone.request(Step::Pay(payment("7011234577")));
    cash.session = request.session.clone();
    assert_eq!(gateway.send(&phone, &cash).await.code(), ResultCode::Ok);
    let settled = settle(&gateway.pool, &read, &paid(&read, "T4"), now_ms(), wait)
        .await
        .unwrap();
    assert!(matches!(settled, Settled::Refunded { .. }), "{settled:?}");
    assert_eq!(count(gateway, refunds).await, 3);
    assert_eq!(
        bill_as_read(gateway).await.state,
        tolem_gateway::db::bills::BillState::Cancelled
    );
}

#[tokio::test]
async fn expired_and_cancelled_bills_cannot_be_paid() {
    let (fx, phone) = fixture(Service::TipTop).await;
    let gateway = &fx.gateway;
    let now = now_ms();
    let (_, expired) = bill_at(
        &phone,
        payment("7011234569"),
        now - 31 * 60_000,
        30 * 60_000,
    );
    let (http, page) = get(gateway, &format!("/bill/{expired}")).await;
    assert_eq!(http, StatusCode::GONE);
    assert_eq!(attribute(&page, "data-state").as_deref(), Some("expired"));

    // Cancelled before the customer opened it: the link is dead.
    let (request, token) = bill(&phone, payment("7011234570"));
    let mut cancel = phone.request(Step::Cancel);
    cancel.session = request.session.clone();
    assert_eq!(
        gateway.send(&phone, &cancel).await.code(),
        ResultCode::BillCancelled
    );
    let (http, page) = get(gateway, &format!("/bill/{token}")).await;
    assert_eq!(http, StatusCode::GONE);
    assert_eq!(attribute(&page, "data-state").as_deref(), Some("cancelled"));

    // Cancelled while the customer is on the service's page: the service asks (Check) before
    // charging, the gateway says no, no money moves.
    let (request, token) = bill(&phone, payment("7011234571"));
    let service_page = order(gateway, &token).await;
    let mut cancel = phone.request(Step::Cancel);
    cancel.session = request.session.clone();
    assert_eq!(
        gateway.send(&phone, &cancel).await.code(),
        ResultCode::BillCancelled
    );
    let answer = fx
        .customer
        .pay(&service_page, GOOD_CARD, "12/30", false)
        .await;
    assert!(
        answer.reason_code().is_some(),
        "the card is declined: {}",
        answer.body
    );
    assert_eq!(count(gateway, "SELECT COUNT(*) FROM payments").await, 0);
    assert_eq!(
        status(gateway, &phone, &request).await.0,
        ResultCode::BillCancelled
    );
}

#[tokio::test]
async fn robokassa_settles_by_its_result_url_and_a_charge_after_cancelling_is_refunded() {
    let (fx, phone) = fixture(Service::Robokassa).await;
    let gateway = &fx.gateway;
    gateway.start_refunds();
    let (request, token) = bill(&phone, payment("7011234572"));
    let service_page = order(gateway, &token).await;
    fx.customer
        .pay(&service_page, GOOD_CARD, "12/30", false)
        .await;
    let (code, outcome) =
        status_when(gateway, &phone, &request, |code, _| code == ResultCode::Ok).await;
    assert!(
        matches!(outcome, Some(Outcome::Payment(ref r)) if r.method == PaymentMethod::Card),
        "{code:?} {outcome:?}"
    );

    // Robokassa charges without asking first: a bill cancelled meanwhile is refunded — once
    // the service has credited the charge to the shop (its first answer says it is still
    // being credited, as right after a charge; before, that failed the refund for good).
    fx.emulator.emulator.set_faults(Faults {
        still_crediting: 1,
        ..Faults::default()
    });
    let (request, token) = bill(&phone, payment("7011234573"));
    let service_page = order(gateway, &token).await;
    let mut cancel = phone.request(Step::Cancel);
    cancel.session = request.session.clone();
    assert_eq!(
        gateway.send(&phone, &cancel).await.code(),
        ResultCode::BillCancelled
    );
    fx.customer
        .pay(&service_page, GOOD_CARD, "12/30", false)
        .await;
    let started = std::time::Instant::now();
    let done = "SELECT COUNT(*) FROM card_refunds WHERE state = 'done'";
    while count(gateway, done).await == 0 {
        assert!(started.elapsed() < PATIENCE, "the refund was not made");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fx.emulator.emulator.refunds().len(), 1);
    assert_eq!(fx.emulator.emulator.faults().still_crediting, 0);
    assert_eq!(
        count(gateway, "SELECT COUNT(*) FROM payments").await,
        1,
        "only the first bill"
    );
    assert_eq!(
        status(gateway, &phone, &request).await.0,
        ResultCode::BillCancelled
    );
}

#[tokio::test]
async fn a_providers_refusal_gives_the_card_its_money_back_whatever_the_dealer_spent() {
    let (fx, phone, _provider) = fixture_delivering(&["--open", "--missing", "7019999999"]).await;
    let gateway = &fx.gateway;
    gateway.start_refunds();

    let (request, _) = paid_by_card(&fx, &phone, "7019999999").await;
    // Before the provider answers, the dealer spends every tiyn of the balance (here the
    // operator's correction takes it): the card must still get all it paid back.
    let spent = NewEntry {
        dealer_code: DEALER,
        kind: LedgerKind::Correction,
        amount_tiyn: -gateway.balance_of(DEALER).await,
        reference: "spent-before-the-refusal",
        point_code: None,
        created_at_ms: now_ms(),
    };
    assert!(matches!(
        ledger::post(&gateway.pool, &spent).await.unwrap(),
        Posted::Done { .. }
    ));
    let before = gateway.balance_of(DEALER).await;
    gateway.start_delivery(quick_retry());
    let (_, outcome) = status_when(gateway, &phone, &request, |_, outcome| {
        matches!(outcome, Some(Outcome::Payment(r)) if r.delivery.as_ref().is_some_and(|d| d.state.is_final()))
    })
    .await;
    let Some(Outcome::Payment(receipt)) = outcome else {
        unreachable!()
    };
    assert_eq!(receipt.delivery.unwrap().state, DeliveryState::Refunded);
    let started = std::time::Instant::now();
    while fx.emulator.emulator.refunds().is_empty() {
        assert!(
            started.elapsed() < PATIENCE,
            "no refund reached the service"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refunds = fx.emulator.emulator.refunds();
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refunds[0].amount, "1020.00", "all the card paid");
    assert_eq!(
        gateway.balance_of(DEALER).await,
        before,
        "the dealer is back where it was"
    );
    assert_eq!(
        gateway.ledger_entries(DEALER, "card_payment").await,
        1,
        "no fee was credited"
    );
    gateway.assert_ledger_matches(DEALER).await;
    // The service has the refund; the gateway records its answer a moment later.
    let started = std::time::Instant::now();
    loop {
        let done = count(
            gateway,
            "SELECT COUNT(*) FROM card_refunds WHERE state = 'done'",
        )
        .await;
        if done == 1 {
            break;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the refund never recorded as done ({done})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A card payment settled before fees waited for delivery (its whole customer amount credited
/// then, nothing due) gives back, when the provider refuses it, all that was credited for it.
#[tokio::test]
async fn a_card_payment_credited_whole_before_fees_waited_is_taken_back_whole() {
    let (fx, phone, _provider) = fixture_delivering(&["--open", "--missing", "7019999998"]).await;
    let gateway = &fx.gateway;
    let before = gateway.balance_of(DEALER).await;
    let (request, transaction) = paid_by_card(&fx, &phone, "7019999998").await;
    // As the settlement of the release before wrote it: the fee credited with it, none due.
    gateway.sql("DELETE FROM card_earnings_due").await;
    let old_fee = NewEntry {
        dealer_code: DEALER,
        kind: LedgerKind::CardPayment,
        amount_tiyn: COMMISSION,
        reference: &format!("old-{transaction}"),
        point_code: Some("P1001"),
        created_at_ms: now_ms(),
    };
    assert!(matches!(
        ledger::post(&gateway.pool, &old_fee).await.unwrap(),
        Posted::Done { .. }
    ));
    assert_eq!(gateway.balance_of(DEALER).await, before + COMMISSION);

    gateway.start_delivery(quick_retry());
    status_when(gateway, &phone, &request, |_, outcome| {
        matches!(outcome, Some(Outcome::Payment(r)) if r.delivery.as_ref().is_some_and(|d| d.state.is_final()))
    })
    .await;
    assert_eq!(
        gateway.balance_of(DEALER).await,
        before,
        "the fee credited with it goes back too"
    );
    gateway.assert_ledger_matches(DEALER).await;
    assert_eq!(
        count(
            gateway,
            "SELECT COUNT(*) FROM card_refunds WHERE amount_tiyn = 102000"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn the_console_refunds_a_delivered_card_payment_once_with_a_one_time_code() {
    let (fx, phone, _provider) = fixture_delivering(&["--open"]).await;
    let gateway = &fx.gateway;
    gateway.start_delivery(quick_retry());
    gateway.start_refunds();
    let before = gateway.balance_of(DEALER).await;

    let (request, token) = bill(&phone, payment("7011234574"));
    let service_page = order(gateway, &token).await;
    fx.customer
        .pay(&service_page, GOOD_CARD, "12/30", false)
        .await;
    let (_, outcome) = status_when(gateway, &phone, &request, |_, outcome| {
        matches!(outcome, Some(Outcome::Payment(r)) if r.delivery.as_ref().is_some_and(|d| d.state == DeliveryState::Delivered))
    })
    .await;
    let Some(Outcome::Payment(receipt)) = outcome else {
        unreachable!()
    };
    let transaction = receipt.transaction_id;
    // Delivered: the fee is the dealer's now, credited just after the delivery is recorded.
    let started = std::time::Instant::now();
    while gateway.ledger_entries(DEALER, "card_payment").await < 2 {
        assert!(started.elapsed() < PATIENCE, "the fee was never credited");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(gateway.balance_of(DEALER).await, before + COMMISSION);
    assert_eq!(
        count(gateway, "SELECT COUNT(*) FROM commission_accruals").await,
        1,
        "the dealer's commission is accrued with it"
    );
    gateway.assert_ledger_matches(DEALER).await;

    let cookie = gateway.console_session(ADMIN).await;
    let (html, csrf) = gateway.console_page("/console/card", &cookie).await;
    assert!(
        html.contains(&format!("data-transaction=\"{transaction}\"")),
        "{html}"
    );
    let path = format!("/console/card/{transaction}/refund");
    // However many bills came after it, the payment is found by its number, refund and all.
    let (found, _) = gateway
        .console_page(&format!("/console/card?q={transaction}"), &cookie)
        .await;
    assert!(found.contains(&format!("action=\"{path}\"")), "{found}");
    assert_eq!(found.matches("<tr class=\"bill\"").count(), 1, "{found}");
    let (none, _) = gateway
        .console_page("/console/card?q=D001-999999", &cookie)
        .await;
    assert!(none.contains("id=\"no-bills\""), "{none}");
    let refunded = gateway.confirmed_post(&path, &cookie, &csrf, &[]).await;
    assert_eq!(
        refunded.status(),
        StatusCode::SEE_OTHER,
        "{}",
        refunded.text().await.unwrap()
    );
    let started = std::time::Instant::now();
    while fx.emulator.emulator.refunds().is_empty() {
        assert!(
            started.elapsed() < PATIENCE,
            "no refund reached the service"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The provider keeps what it was delivered; the dealer's balance gave the card the customer
    // amount back and the commission on it is reversed.
    assert_eq!(gateway.balance_of(DEALER).await, before - AMOUNT);
    assert_eq!(gateway.ledger_entries(DEALER, "card_refund").await, 1);
    // In the dealer's audit trail with who asked and from where, as every console change.
    let (who, ip): (String, String) =
        sqlx::query_as("SELECT actor, ip FROM audit_log WHERE action = 'card.refund_requested'")
            .fetch_one(&gateway.pool)
            .await
            .unwrap();
    assert_eq!((who.as_str(), ip.as_str()), (ADMIN.0, "127.0.0.1"));

    // The phone's history follows: the payment is refunded (the method says: to the card).
    let (_, outcome) = status(gateway, &phone, &request).await;
    let Some(Outcome::Payment(receipt)) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        receipt.delivery.map(|d| d.state),
        Some(DeliveryState::Refunded)
    );
    assert_eq!(receipt.method, PaymentMethod::Card);
    // So does the customer's outcome page: paid, and refunded to the card — not "credited".
    let bill = bill_as_read(gateway).await;
    let (_, page) = get(gateway, &outcome_path(&bill, Lang::En)).await;
    assert_eq!(
        attribute(&page, "data-delivery").as_deref(),
        Some("refunded")
    );
    assert!(page.contains("refunded to the card"), "{page}");
    // Nor does it count against the point's daily limit any more: all of the day is left.
    gateway
        .sql(&format!("UPDATE points SET daily_limit_tiyn = {AMOUNT}"))
        .await;
    let reply = gateway.send(&phone, &phone.request(Step::Balance)).await;
    let Some(Outcome::Balance(info)) = reply.response().outcome else {
        panic!("{}", reply.text())
    };
    assert_eq!(info.point_day_left_tiyn, Some(AMOUNT));

    let again = gateway.confirmed_post(&path, &cookie, &csrf, &[]).await;
    assert_ne!(again.status(), StatusCode::SEE_OTHER, "refunded once only");
    assert_eq!(fx.emulator.emulator.refunds().len(), 1);
}

/// A card payment delivered while no fee was credited for it — the gateway stopped between the
/// two, or the operator marked it delivered by hand after a dispute — is still earned: by hand
/// at once, and by the background job for the other; once each, however often the job runs.
#[tokio::test]
async fn a_delivered_card_payments_fee_is_credited_once_however_it_was_delivered() {
    let (fx, phone) = fixture(Service::TipTop).await;
    let gateway = &fx.gateway;
    let before = gateway.balance_of(DEALER).await;
    // The dealer's rate when the card pays: 1.5 %.
    gateway
        .sql(
            "INSERT INTO dealer_rates (dealer_code, provider, rate_bp, updated_at_ms) \
             VALUES ('D001', 'kcell', 150, 0)",
        )
        .await;
    let mut transactions = Vec::new();
    for account in ["7011234581", "7011234582"] {
        transactions.push(paid_by_card(&fx, &phone, account).await.1);
    }
    assert_eq!(gateway.balance_of(DEALER).await, before);
    // The operator changes the rate before the provider takes them: the payments earn the
    // commission of when the card paid, as cash payments of that moment did.
    gateway.sql("UPDATE dealer_rates SET rate_bp = 900").await;

    // The operator marks the first delivered after settling a dispute with the provider.
    let mut tx = gateway.pool.begin().await.unwrap();
    let operator = tolem_gateway::audit::Actor::system(None);
    tolem_gateway::delivery::manual::mark_delivered_in(
        &mut tx,
        &operator,
        &transactions[0],
        "K-77",
        now_ms(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(gateway.balance_of(DEALER).await, before + COMMISSION);

    // The second's delivery was recorded by a gateway that stopped before its fee.
    gateway
        .sql(&format!(
            "UPDATE deliveries SET state = 'delivered', provider_txn = 'K-78', \
             finished_at_ms = {0}, updated_at_ms = {0} WHERE transaction_id = '{1}'",
            now_ms(),
            transactions[1]
        ))
        .await;
    assert_eq!(gateway.balance_of(DEALER).await, before + COMMISSION);
    for _ in 0..2 {
        tolem_gateway::jobs::run_once(&gateway.pool, now_ms(), false).await;
        assert_eq!(gateway.balance_of(DEALER).await, before + 2 * COMMISSION);
    }
    assert_eq!(
        gateway.ledger_entries(DEALER, "card_payment").await,
        4,
        "each payment's provider amount and fee, once"
    );
    assert_eq!(
        count(
            gateway,
            "SELECT COUNT(*) FROM commission_accruals WHERE rate_bp = 150 \
             AND commission_tiyn = 1500"
        )
        .await,
        2,
        "15 tenge on each 1 000"
    );
    assert_eq!(
        count(
            gateway,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'card.earned'"
        )
        .await,
        2
    );
    gateway.assert_ledger_matches(DEALER).await;
}

/// A signed Fail (a declined card: no money moved) sent to the Pay address — a body captured
/// on its way, replayed — settles nothing: the signature covers the body, not the address.
#[tokio::test]
async fn a_signed_fail_sent_as_a_pay_settles_nothing() {
    let (fx, phone) = fixture(Service::TipTop).await;
    let gateway = &fx.gateway;
    let before = gateway.balance_of(DEALER).await;
    let (request, token) = bill(&phone, payment("7011234575"));
    order(gateway, &token).await;
    let invoice = count(gateway, "SELECT MAX(invoice) FROM bills")
        .await
        .to_string();
    let fail = [
        ("TransactionId", "601"),
        ("Amount", "1020.00"),
        ("Currency", "KZT"),
        ("Reason", "InsufficientFunds"),
        ("ReasonCode", "5051"),
        ("OperationType", "Payment"),
        ("InvoiceId", invoice.as_str()),
    ];
    let answer = notify_tiptop(&fx, "pay", &fail).await;
    assert_ne!(answer, r#"{"code":0}"#, "{answer}");
    assert_eq!(count(gateway, "SELECT COUNT(*) FROM payments").await, 0);
    assert_eq!(gateway.balance_of(DEALER).await, before);
    assert_eq!(
        status(gateway, &phone, &request).await.0,
        ResultCode::BillNotPaid
    );
}

/// The service's own signed Check of a card it then declined — a body and signature captured
/// on their way (a proxy's log) — posted to the Pay address settles nothing: it looks like a
/// Pay, so the gateway asks the service's API whether that transaction was charged, and it
/// was not. The operator finds it in the audit trail.
#[tokio::test]
async fn the_services_signed_check_replayed_as_a_pay_settles_nothing() {
    let (fx, phone) = fixture(Service::TipTop).await;
    let gateway = &fx.gateway;
    let before = gateway.balance_of(DEALER).await;
    let (request, token) = bill(&phone, payment("7011234576"));
    let service_page = order(gateway, &token).await;
    fx.customer
        .pay(&service_page, POOR_CARD, "12/30", false)
        .await;
    status_when(
        gateway,
        &phone,
        &request,
        |_, outcome| matches!(outcome, Some(Outcome::Bill(b)) if b.refusal.is_some()),
    )
    .await;
    let check = fx
        .emulator
        .emulator
        .deliveries()
        .into_iter()
        .find(|delivery| delivery.kind == "check")
        .expect("the service asked its Check");
    let answer = post_signed_tiptop(&fx, "pay", check.body).await;
    assert_ne!(answer, r#"{"code":0}"#, "{answer}");
    assert_eq!(count(gateway, "SELECT COUNT(*) FROM payments").await, 0);
    assert_eq!(gateway.balance_of(DEALER).await, before);
    assert_eq!(
        status(gateway, &phone, &request).await.0,
        ResultCode::BillNotPaid
    );
    assert_eq!(
        count(
            gateway,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'card.notification_forged' \
             AND details LIKE '%not charged%'"
        )
        .await,
        1
    );
}

/// A notification signed with the service's secret, as the service would send it: a Check or
/// Pay of a one-stage payment gets `Status=Completed&OperationType=Payment` after `fields`
/// unless they name an operation type.
async fn notify_tiptop(fx: &CardFixture, kind: &str, fields: &[(&str, &str)]) -> String {
    let mut fields = fields.to_vec();
    let typed = fields.iter().any(|(name, _)| *name == "OperationType");
    if (kind == "check" || kind == "pay") && !typed {
        fields.extend([("Status", "Completed"), ("OperationType", "Payment")]);
    }
    post_signed_tiptop(fx, kind, form_urlencoded_body(&fields)).await
}

/// Posts `body`, signed with the service's secret, to the gateway's address for `kind`
/// notifications; the gateway's answer.
async fn post_signed_tiptop(fx: &CardFixture, kind: &str, body: String) -> String {
    let secret = fx.emulator.tiptop_config().secret.0;
    let hmac =
        tolem_card_payments::tiptop::signature::content_hmac(secret.as_bytes(), body.as_bytes());
    fx.gateway
        .client
        .post(format!("{}/api/card/tiptop/{kind}", fx.gateway.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("content-hmac", hmac)
        .body(body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn form_urlencoded_body(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace(' ', "+")))
        .collect::<Vec<_>>()
        .join("&")
}

/// The payment service's site left in test mode, the gateway in service: a test payment moved
/// no money, so no bill is settled on it (the dealer's balance would pay the provider for a
/// card that paid nothing). Its Check is refused, and the audit trail tells the operator.
#[tokio::test]
async fn a_test_payment_settles_nothing_on_a_gateway_in_service() {
    let (fx, phone) = fixture(Service::TipTopSiteLeftInTestMode).await;
    let gateway = &fx.gateway;
    let before = gateway.balance_of(DEALER).await;
    let (_, token) = bill(&phone, payment("7011234567"));
    order(gateway, &token).await;
    let invoice = count(gateway, "SELECT invoice FROM bills")
        .await
        .to_string();
    let notification = |test: &'static str| {
        [
            ("TransactionId", "701"),
            ("Amount", "1020.00"),
            ("Currency", "KZT"),
            ("InvoiceId", invoice.as_str()),
            ("TestMode", test),
        ]
    };
    let answer = notify_tiptop(&fx, "check", &notification("1")).await;
    assert_ne!(answer, r#"{"code":0}"#, "refused before the card: {answer}");
    notify_tiptop(&fx, "pay", &notification("1")).await;
    let payments = "SELECT COUNT(*) FROM payments";
    assert_eq!(count(gateway, payments).await, 0);
    assert_eq!(gateway.balance_of(DEALER).await, before);
    let alarms = "SELECT COUNT(*) FROM audit_log WHERE action = 'card.notification_test_mode'";
    assert_eq!(count(gateway, alarms).await, 2);
}

/// Anyone can send the notification address forged notifications. A few are kept as evidence,
/// with a line in the audit trail; a flood from one address is counted, not stored, and the
/// service's own notifications go on being decided meanwhile.
#[tokio::test]
async fn a_flood_of_forged_notifications_is_counted_not_stored() {
    let (fx, phone) = fixture(Service::TipTop).await;
    let gateway = &fx.gateway;
    let (_, token) = bill(&phone, payment("7011234567"));
    order(gateway, &token).await;
    let invoice = count(gateway, "SELECT invoice FROM bills")
        .await
        .to_string();
    let fields = [
        ("TransactionId", "601"),
        ("Amount", "1020.00"),
        ("Currency", "KZT"),
        ("InvoiceId", invoice.as_str()),
    ];
    for _ in 0..40 {
        let response = gateway
            .client
            .post(format!("{}/api/card/tiptop/pay", gateway.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("content-hmac", "bm90IHRoZSBzZXJ2aWNlJ3M=")
            .body(form_urlencoded_body(&fields))
            .send()
            .await
            .unwrap();
        assert_ne!(response.text().await.unwrap(), r#"{"code":0}"#);
    }
    let kept = "SELECT COUNT(*) FROM card_notifications WHERE verdict = 'forged'";
    let audited = "SELECT COUNT(*) FROM audit_log WHERE action = 'card.notification_forged'";
    // The first, and the one that blocked the address.
    assert_eq!(count(gateway, kept).await, 2);
    assert_eq!(count(gateway, audited).await, 2);
    assert_eq!(count(gateway, "SELECT COUNT(*) FROM payments").await, 0);

    let answer = notify_tiptop(&fx, "check", &fields).await;
    assert_eq!(answer, r#"{"code":0}"#, "the service's own is decided");
}

#[tokio::test]
async fn signed_notifications_for_another_amount_or_an_unknown_bill_settle_nothing() {
    let (fx, phone) = fixture(Service::TipTop).await;
    let gateway = &fx.gateway;
    let (request, token) = bill(&phone, payment("7011234575"));
    order(gateway, &token).await;
    let invoice = count(gateway, "SELECT invoice FROM bills")
        .await
        .to_string();

    // The service asks first (Check) for another amount: refused before any charge.
    let answer = notify_tiptop(
        &fx,
        "check",
        &[
            ("TransactionId", "501"),
            ("Amount", "1000.00"),
            ("Currency", "KZT"),
            ("InvoiceId", &invoice),
        ],
    )
    .await;
    assert_ne!(
        answer, r#"{"code":0}"#,
        "another amount is refused: {answer}"
    );

    // A charge of another amount is never settled: it goes back to the card. (A site without
    // the Check notification, and an order of another amount for the bill's invoice made at
    // the service's API — as a shop's bug or a second system on the same site would.)
    fx.emulator.emulator.set_faults(Faults {
        no_check: true,
        ..Faults::default()
    });
    let config = fx.emulator.tiptop_config();
    let made: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/orders/create", config.api_url))
        .basic_auth(&config.login, Some(&config.secret.0))
        .json(
            &json!({"Amount": 1000.00, "Currency": "KZT", "Description": "Kcell",
            "InvoiceId": invoice, "RequireConfirmation": false}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let other_page = made["Model"]["Url"].as_str().expect("an order page");
    fx.customer.pay(other_page, GOOD_CARD, "12/30", false).await;
    let refunded = "SELECT COUNT(*) FROM card_refunds WHERE reason = 'not_settled'";
    let started = std::time::Instant::now();
    while count(gateway, refunded).await == 0 {
        assert!(
            started.elapsed() < PATIENCE,
            "the charge was never refunded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(count(gateway, "SELECT COUNT(*) FROM payments").await, 0);
    assert_eq!(count(gateway, refunded).await, 1);
    assert_eq!(
        status(gateway, &phone, &request).await.0,
        ResultCode::BillNotPaid
    );

    // A bill the gateway never made.
    notify_tiptop(
        &fx,
        "pay",
        &[
            ("TransactionId", "503"),
            ("Amount", "1020.00"),
            ("Currency", "KZT"),
            ("InvoiceId", "999999"),
        ],
    )
    .await;
    assert_eq!(count(gateway, "SELECT COUNT(*) FROM payments").await, 0);
    assert_eq!(
        count(
            gateway,
            "SELECT COUNT(*) FROM card_notifications WHERE verdict = 'unknown_invoice'"
        )
        .await,
        1
    );
}
