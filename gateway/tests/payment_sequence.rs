//! Guards issue 13 item 5 over real HTTP: every cash payment a phone signs carries its key's
//! number (1, 2, 3…), and the dealer's point page lists the numbers the gateway never received
//! — payments the phone signed and then lost; a phone that reports its outbox vanished (on a
//! signed request, or when it registers its next key) is flagged on the same page.

mod support;

use reqwest::StatusCode;
use support::{POINT, browser::CLERK, now_ms, payments::kcell, phone::Phone};
use tolem_protocol::{
    codes::ResultCode,
    messages::{OutboxLost, Request, Step},
};

/// The `pay` request of `phone` numbered `seq`.
fn numbered_pay(phone: &Phone, account: &str, seq: i64) -> Request {
    let mut request = phone.request(Step::Pay(kcell(account, 50_000 + seq)));
    request.seq = Some(seq);
    request
}

/// The point page as the dealer's clerk sees it.
async fn point_page(gateway: &support::Gateway) -> String {
    let cookie = gateway.console_session(CLERK).await;
    let (html, _) = gateway
        .console_page(&format!("/console/points/{POINT}"), &cookie)
        .await;
    html
}

#[tokio::test]
async fn the_point_page_lists_the_payment_numbers_that_never_arrived() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(71).await;
    let serial = phone.card.key_serial.clone();

    for (seq, account) in [(1, "7011111111"), (2, "7012222222"), (4, "7014444444")] {
        let reply = gateway
            .send(&phone, &numbered_pay(&phone, account, seq))
            .await;
        assert_eq!(
            reply.status_and_code(),
            (StatusCode::OK, ResultCode::Ok),
            "{}",
            reply.text()
        );
    }
    // The same signed payment again (a replay) changes nothing.
    let again = numbered_pay(&phone, "7014444444", 4);
    gateway.send(&phone, &again).await;

    let html = point_page(&gateway).await;
    let gap = format!(r#"data-serial="{serial}" data-missing="3""#);
    assert!(
        html.contains(r#"id="sequence-gaps""#),
        "no gaps section:\n{html}"
    );
    assert!(
        html.contains(&gap),
        "payment 3 of {serial} is not listed as missing:\n{html}"
    );

    // Number 3 arrives late (it waited on the phone): the gap closes.
    let late = gateway
        .send(&phone, &numbered_pay(&phone, "7013333333", 3))
        .await;
    assert_eq!(late.code(), ResultCode::Ok, "{}", late.text());
    let html = point_page(&gateway).await;
    assert!(
        !html.contains(r#"id="sequence-gaps""#),
        "the gap did not close:\n{html}"
    );
}

#[tokio::test]
async fn a_number_refused_for_a_reason_the_dealer_can_lift_is_no_gap() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(72).await;
    gateway
        .sql(&format!(
            "UPDATE points SET active = 0 WHERE code = '{POINT}'"
        ))
        .await;
    // Blocked: 53 and nothing stored — yet the gateway saw number 1, and the phone keeps it.
    let blocked = gateway
        .send(&phone, &numbered_pay(&phone, "7015555555", 1))
        .await;
    assert_eq!(
        blocked.code(),
        ResultCode::PointBlocked,
        "{}",
        blocked.text()
    );
    gateway
        .sql(&format!(
            "UPDATE points SET active = 1 WHERE code = '{POINT}'"
        ))
        .await;
    let paid = gateway
        .send(&phone, &numbered_pay(&phone, "7016666666", 2))
        .await;
    assert_eq!(paid.code(), ResultCode::Ok, "{}", paid.text());
    let html = point_page(&gateway).await;
    assert!(!html.contains(r#"id="sequence-gaps""#), "{html}");
}

#[tokio::test]
async fn numbers_refused_before_or_by_the_decision_are_no_gap() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(75).await;
    // 1: the phone's clock is ahead (910, refused before any decision, nothing stored).
    let mut ahead = numbered_pay(&phone, "7018888881", 1);
    ahead.created_at_ms = now_ms() + 10 * 60 * 1000;
    let reply = gateway.send(&phone, &ahead).await;
    assert_eq!(reply.code(), ResultCode::ClockAhead, "{}", reply.text());
    // 2: decided and rejected by a rule (more than the provider takes: 7).
    let mut too_much = numbered_pay(&phone, "7018888882", 2);
    if let Step::Pay(payment) = &mut too_much.step {
        payment.amount_tiyn = i64::MAX / 2;
        payment.customer_amount_tiyn = i64::MAX / 2;
    }
    let reply = gateway.send(&phone, &too_much).await;
    assert_eq!(reply.code(), ResultCode::BadAmount, "{}", reply.text());
    // 3: paid. Had 1 or 2 not been recorded, the page would list them as never received.
    let paid = gateway
        .send(&phone, &numbered_pay(&phone, "7018888883", 3))
        .await;
    assert_eq!(paid.code(), ResultCode::Ok, "{}", paid.text());
    let html = point_page(&gateway).await;
    assert!(!html.contains(r#"id="sequence-gaps""#), "{html}");
}

#[tokio::test]
async fn a_sequence_number_on_anything_but_a_pay_is_malformed() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(73).await;
    let mut check = phone.request(Step::Check(kcell("7017777777", 10_000)));
    check.seq = Some(1);
    assert_eq!(
        gateway.send(&phone, &check).await.code(),
        ResultCode::Malformed
    );
    let zero = numbered_pay(&phone, "7017777777", 0);
    assert_eq!(
        gateway.send(&phone, &zero).await.code(),
        ResultCode::Malformed
    );
}

#[tokio::test]
async fn a_phone_that_lost_its_outbox_is_flagged_on_the_point_page() {
    let gateway = support::start().await;
    let old = gateway.ready_phone(74).await;
    let old_serial = old.card.key_serial.clone();
    assert!(!point_page(&gateway).await.contains("outbox-lost"));

    // The browser cleared the phone's storage, key and all: it enrols a new key and says so.
    let new = gateway.new_phone(75).await;
    let mut registration = new.registration(support::PASSWORD);
    registration.outbox_lost = Some(OutboxLost {
        key_serial: old_serial.clone(),
        noticed_at_ms: now_ms(),
    });
    let reply = gateway.register(&new, &registration).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    let html = point_page(&gateway).await;
    let flag = format!(r#"class="error outbox-lost" role="alert" data-serial="{old_serial}""#);
    assert!(
        html.contains(&flag),
        "the lost outbox is not flagged:\n{html}"
    );
}

#[tokio::test]
async fn a_signed_request_can_report_a_lost_outbox_too() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(76).await;
    let serial = phone.card.key_serial.clone();
    let mut balance = phone.request(Step::Balance);
    balance.outbox_lost = Some(OutboxLost {
        key_serial: serial.clone(),
        noticed_at_ms: now_ms(),
    });
    assert_eq!(gateway.send(&phone, &balance).await.code(), ResultCode::Ok);
    let html = point_page(&gateway).await;
    assert!(
        html.contains(&format!(r#"data-serial="{serial}""#)) && html.contains("outbox-lost"),
        "{html}"
    );
}

#[tokio::test]
async fn a_revoked_key_cannot_flag_another_keys_outbox_as_lost() {
    let gateway = support::start().await;
    let stolen = gateway.ready_phone(77).await;
    let current = gateway.ready_phone(78).await;
    let current_serial = current.card.key_serial.clone();
    // The dealer took the stolen phone's key back; whoever holds it still signs with it.
    let revoke = gateway.send(&stolen, &stolen.request(Step::Revoke)).await;
    assert_eq!(revoke.code(), ResultCode::Ok);

    let mut balance = stolen.request(Step::Balance);
    balance.outbox_lost = Some(OutboxLost {
        key_serial: current_serial.clone(),
        noticed_at_ms: now_ms(),
    });
    assert_eq!(
        gateway.send(&stolen, &balance).await.code(),
        ResultCode::KeyRevoked
    );
    let html = point_page(&gateway).await;
    assert!(
        !html.contains("outbox-lost"),
        "a revoked key flagged the point's working phone {current_serial}:\n{html}"
    );
}

/// A `pay` passes on its key's rows as remembered for a few seconds after its last one
/// (`sender::recent`): a key revoked in the console meanwhile must not have its word about the
/// point's other phones kept either.
#[tokio::test]
async fn a_key_revoked_just_after_a_pay_cannot_flag_another_keys_outbox_as_lost() {
    let gateway = support::start().await;
    let stolen = gateway.ready_phone(77).await;
    let current = gateway.ready_phone(78).await;
    let current_serial = current.card.key_serial.clone();
    let (_, reply) = gateway.pay(&stolen, kcell("7011234567", 100_000)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    // The dealer takes the stolen phone's key back in the console.
    gateway
        .sql(&format!(
            "UPDATE keys SET state = 'revoked' WHERE serial = '{}'",
            stolen.card.key_serial
        ))
        .await;

    let mut pay = stolen.request(Step::Pay(kcell("7011234568", 100_000)));
    pay.outbox_lost = Some(OutboxLost {
        key_serial: current_serial.clone(),
        noticed_at_ms: now_ms(),
    });
    assert_ne!(gateway.send(&stolen, &pay).await.code(), ResultCode::Ok);
    let html = point_page(&gateway).await;
    assert!(
        !html.contains("outbox-lost"),
        "a revoked key flagged the point's working phone {current_serial}:\n{html}"
    );
}
