//! Guards what a phone's own revocation leaves open, over real HTTP on a real database: the
//! payments that waited on the phone when the cashier deleted its key (saved to a file for a
//! dealer or support) are not stranded. The phone's signed `revoke` names their sessions; a
//! `pay` of one of them, signed by the revoked key, sent later as the file holds it (alone or
//! in a batch), is decided as if the key were still in force — every other rule unchanged,
//! paid once however often it is sent — and a `status` of the key's own session is answered.
//! Everything else of a revoked key is still refused (903): a session the revocation did not
//! name, any other step, a key the dealer revoked from the console (it names nothing), and a
//! key revoked before it was ever certified pays nothing either (902). A revocation as phones
//! signed it before the list existed still revokes.

mod support;

use support::{
    Gateway, Reply,
    browser::ADMIN,
    now_ms,
    payments::{DEALER, kcell},
    phone::Phone,
};
use tolem_protocol::{
    PROTOCOL_VERSION,
    batch::{BatchAnswer, BatchItem, BatchRequest},
    codes::ResultCode,
    ids::SessionId,
    messages::{Message, Outcome, PaymentState, Request, Response, Step},
};

/// 1 000 tenge.
const THOUSAND: i64 = 100_000;

/// A phone whose key the dealer certified in the console (as the dealer does: compared, then
/// certified with a one-time code), its point active.
async fn certified_phone(gateway: &Gateway, seed: u8) -> Phone {
    let phone = gateway.registered_phone(seed).await;
    let cookie = gateway.console_session(ADMIN).await;
    let (_, csrf) = gateway.keys_page(&cookie).await;
    let serial = &phone.card.key_serial;
    let response = gateway
        .confirmed_post(
            &format!("/console/keys/{serial}/certify"),
            &cookie,
            &csrf,
            &[],
        )
        .await;
    assert!(response.status().is_redirection(), "{}", response.status());
    assert_eq!(gateway.key_state(serial).await, "certified");
    gateway
        .sql("UPDATE points SET active = 1 WHERE code = 'P1001'")
        .await;
    phone
}

async fn block_point(gateway: &Gateway, blocked: bool) {
    let active = if blocked { 0 } else { 1 };
    gateway
        .sql(&format!(
            "UPDATE points SET active = {active} WHERE code = 'P1001'"
        ))
        .await;
}

/// The phone revokes its key, naming `waiting`.
async fn revoke_naming(gateway: &Gateway, phone: &Phone, waiting: &[&Request]) -> Reply {
    let sessions = waiting.iter().map(|r| r.session.clone()).collect();
    let reply = gateway
        .send(phone, &phone.request(Step::revoke(sessions)))
        .await;
    assert_eq!(reply.code(), ResultCode::Ok, "{}", reply.text());
    assert_eq!(reply.response().outcome, Some(Outcome::Revoked));
    assert_eq!(gateway.key_state(&phone.card.key_serial).await, "revoked");
    reply
}

/// A pay of 1 000 tenge to a Kcell number of its own (`n`), created now.
fn pay(phone: &Phone, n: u32) -> Request {
    phone.request(Step::Pay(kcell(&format!("70120{n:05}"), THOUSAND)))
}

/// How many payments the gateway stored for `session`.
async fn stored(gateway: &Gateway, session: &SessionId) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM payments WHERE session = $1")
        .bind(session.as_str())
        .fetch_one(&gateway.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_payment_held_when_the_key_was_deleted_is_paid_once_when_sent_later() {
    let gateway = support::start().await;
    let phone = certified_phone(&gateway, 1).await;
    let before = gateway.balance_of(DEALER).await;

    // The point is blocked: the payment is held on the phone, the cash in the drawer.
    block_point(&gateway, true).await;
    let held = pay(&phone, 1);
    let reply = gateway.send(&phone, &held).await;
    assert_eq!(reply.code(), ResultCode::PointBlocked, "{}", reply.text());

    // The cashier deletes the key; the phone's revocation names what waits.
    revoke_naming(&gateway, &phone, &[&held]).await;
    let details: String = sqlx::query_scalar(
        "SELECT details FROM audit_log WHERE action = 'key.revoked_by_phone' AND subject = $1",
    )
    .bind(format!("key:{}", phone.card.key_serial))
    .fetch_one(&gateway.pool)
    .await
    .unwrap();
    let details: serde_json::Value = serde_json::from_str(&details).unwrap();
    assert_eq!(
        details["waiting"],
        serde_json::json!([held.session.as_str()]),
        "the list is in the revocation's audit record"
    );

    // While the point is still blocked, the saved request is held as before.
    let reply = gateway.send(&phone, &held).await;
    assert_eq!(reply.code(), ResultCode::PointBlocked, "{}", reply.text());
    assert_eq!(gateway.balance_of(DEALER).await, before);

    // The dealer unblocks the point; support sends the saved bytes: paid.
    block_point(&gateway, false).await;
    let first = gateway.send(&phone, &held).await;
    assert_eq!(first.code(), ResultCode::Ok, "{}", first.text());
    assert_eq!(first.receipt().state, PaymentState::Accepted);
    assert_eq!(gateway.balance_of(DEALER).await, before - THOUSAND);

    // Sent again (support is not sure it went): the same decision, paid once.
    let again = gateway.send(&phone, &held).await;
    assert_eq!(again.decision(), first.decision());
    assert_eq!(gateway.balance_of(DEALER).await, before - THOUSAND);
    assert_eq!(stored(&gateway, &held.session).await, 1);
    gateway.assert_ledger_matches(DEALER).await;

    // The key is revoked still: nothing new from it.
    let reply = gateway.send(&phone, &phone.request(Step::Balance)).await;
    assert_eq!(reply.code(), ResultCode::KeyRevoked);
}

#[tokio::test]
async fn every_other_rule_still_applies_to_a_named_payment() {
    let gateway = support::start().await;
    let phone = certified_phone(&gateway, 1).await;
    gateway
        .sql("UPDATE points SET offline_max_age_ms = 3600000 WHERE code = 'P1001'")
        .await;
    let too_old = phone.request_at(
        Step::Pay(kcell("7012000002", THOUSAND)),
        now_ms() - 2 * 3_600_000,
    );
    let too_big = pay(&phone, 3);
    gateway.set_balance(DEALER, THOUSAND - 1).await;
    revoke_naming(&gateway, &phone, &[&too_old, &too_big]).await;

    let reply = gateway.send(&phone, &too_old).await;
    assert_eq!(reply.code(), ResultCode::TooOld, "{}", reply.text());
    let reply = gateway.send(&phone, &too_big).await;
    assert_eq!(
        reply.code(),
        ResultCode::InsufficientFunds,
        "{}",
        reply.text()
    );
    assert_eq!(gateway.balance_of(DEALER).await, THOUSAND - 1);
}

#[tokio::test]
async fn a_session_the_revocation_did_not_name_is_refused_and_moves_nothing() {
    let gateway = support::start().await;
    let phone = certified_phone(&gateway, 1).await;
    let named = pay(&phone, 1);
    revoke_naming(&gateway, &phone, &[&named]).await;
    let before = gateway.balance_of(DEALER).await;

    // Signed after the revocation, or simply not on the list: refused.
    let other = pay(&phone, 2);
    let reply = gateway.send(&phone, &other).await;
    assert_eq!(reply.code(), ResultCode::KeyRevoked, "{}", reply.text());
    // Any other step of a named session is refused too: only a `pay` is heard.
    let mut check = phone.request(Step::Check(kcell("7012000001", THOUSAND)));
    check.session = named.session.clone();
    assert_eq!(
        gateway.send(&phone, &check).await.code(),
        ResultCode::KeyRevoked
    );
    let mut cancel = phone.request(Step::Cancel);
    cancel.session = named.session.clone();
    assert_eq!(
        gateway.send(&phone, &cancel).await.code(),
        ResultCode::KeyRevoked
    );
    // Nor may the revoked key revoke again, to name more.
    let reply = gateway
        .send(
            &phone,
            &phone.request(Step::revoke(vec![other.session.clone()])),
        )
        .await;
    assert_eq!(reply.code(), ResultCode::KeyRevoked);
    let reply = gateway.send(&phone, &other).await;
    assert_eq!(reply.code(), ResultCode::KeyRevoked);

    assert_eq!(gateway.balance_of(DEALER).await, before);
    assert_eq!(stored(&gateway, &other.session).await, 0);
    assert_eq!(gateway.payments_in("accepted").await, 0);
}

#[tokio::test]
async fn a_key_the_dealer_revoked_pays_nothing() {
    let gateway = support::start().await;
    let phone = certified_phone(&gateway, 1).await;
    let waiting = pay(&phone, 1);
    let before = gateway.balance_of(DEALER).await;

    // A stolen phone: the dealer revokes its key in the console. No list.
    let cookie = gateway.console_session(ADMIN).await;
    let (_, csrf) = gateway.keys_page(&cookie).await;
    let serial = &phone.card.key_serial;
    let response = gateway
        .confirmed_post(
            &format!("/console/keys/{serial}/revoke"),
            &cookie,
            &csrf,
            &[],
        )
        .await;
    assert!(response.status().is_redirection(), "{}", response.status());
    assert_eq!(gateway.key_state(serial).await, "revoked");

    let reply = gateway.send(&phone, &waiting).await;
    assert_eq!(reply.code(), ResultCode::KeyRevoked, "{}", reply.text());
    assert_eq!(gateway.balance_of(DEALER).await, before);
    assert_eq!(stored(&gateway, &waiting.session).await, 0);
}

#[tokio::test]
async fn a_key_revoked_before_it_was_certified_pays_nothing_it_named() {
    let gateway = support::start().await;
    // Registered, never certified: whoever peeked the point's password could hold it.
    let phone = gateway.registered_phone(1).await;
    gateway
        .sql("UPDATE points SET active = 1 WHERE code = 'P1001'")
        .await;
    let waiting = pay(&phone, 1);
    let reply = gateway.send(&phone, &waiting).await;
    assert_eq!(reply.code(), ResultCode::KeyNotCertified);
    revoke_naming(&gateway, &phone, &[&waiting]).await;
    let before = gateway.balance_of(DEALER).await;

    let reply = gateway.send(&phone, &waiting).await;
    assert_eq!(
        reply.code(),
        ResultCode::KeyNotCertified,
        "{}",
        reply.text()
    );
    assert_eq!(gateway.balance_of(DEALER).await, before);
    assert_eq!(stored(&gateway, &waiting.session).await, 0);
}

#[tokio::test]
async fn a_named_payment_in_a_batch_is_decided_like_a_single_one() {
    let gateway = support::start().await;
    let phone = certified_phone(&gateway, 1).await;
    let named = pay(&phone, 1);
    let not_named = pay(&phone, 2);
    revoke_naming(&gateway, &phone, &[&named]).await;
    let before = gateway.balance_of(DEALER).await;

    let item = |request: &Request| {
        let body = request.encode();
        BatchItem {
            key: phone.card.key_serial.clone(),
            signature: phone.key.sign(&body).to_string(),
            body: String::from_utf8(body).unwrap(),
        }
    };
    let envelope = serde_json::to_vec(&BatchRequest {
        v: PROTOCOL_VERSION,
        items: vec![item(&named), item(&not_named)],
    })
    .unwrap();
    let reply = gateway.post("batch", envelope, &[]).await;
    let answer: BatchAnswer = serde_json::from_slice(&reply.body)
        .unwrap_or_else(|_| panic!("not a batch answer: {}", reply.text()));
    let codes: Vec<ResultCode> = answer
        .items
        .iter()
        .map(|item| Response::decode(item.body.as_bytes()).unwrap().code)
        .collect();
    assert_eq!(codes, [ResultCode::Ok, ResultCode::KeyRevoked]);
    assert_eq!(gateway.balance_of(DEALER).await, before - THOUSAND);
    assert_eq!(stored(&gateway, &not_named.session).await, 0);
}

#[tokio::test]
async fn status_of_a_revoked_keys_own_session_answers_its_outcome() {
    let gateway = support::start().await;
    let phone = certified_phone(&gateway, 1).await;
    let other_phone = gateway.ready_phone(2).await;

    // Sent, the answer lost: "unknown" on the phone, named by the revocation.
    let (unknown, sent) = gateway.pay(&phone, kcell("7012000001", THOUSAND)).await;
    assert_eq!(sent.code(), ResultCode::Ok);
    // Decided and known on the phone: not named, but the key's own payment.
    let (known, _) = gateway.pay(&phone, kcell("7012000002", THOUSAND)).await;
    // Named, but never received: support learns it must send the pay.
    let never_sent = pay(&phone, 3);
    // Another phone's payment of the same point.
    let (theirs, _) = gateway
        .pay(&other_phone, kcell("7012000004", THOUSAND))
        .await;
    revoke_naming(&gateway, &phone, &[&unknown, &never_sent]).await;
    let before = gateway.balance_of(DEALER).await;

    let status = gateway.status(&phone, &unknown).await;
    assert_eq!(status.code(), ResultCode::Ok, "{}", status.text());
    assert_eq!(status.decision(), sent.decision());
    let status = gateway.status(&phone, &known).await;
    assert_eq!(status.code(), ResultCode::Ok, "{}", status.text());
    assert_eq!(status.receipt().state, PaymentState::Accepted);
    let status = gateway.status(&phone, &never_sent).await;
    assert_eq!(
        status.code(),
        ResultCode::NoSuchSession,
        "{}",
        status.text()
    );
    // Not the key's own: refused as before.
    let status = gateway.status(&phone, &theirs).await;
    assert_eq!(status.code(), ResultCode::KeyRevoked, "{}", status.text());
    assert_eq!(gateway.balance_of(DEALER).await, before);
}

#[tokio::test]
async fn a_revocation_as_older_phones_sign_it_still_revokes() {
    let gateway = support::start().await;
    let phone = certified_phone(&gateway, 1).await;
    let waiting = pay(&phone, 1);
    let session = SessionId::generate(now_ms(), [7; 8]);
    // The bytes of a phone of before the list, written out by hand.
    let card = &phone.card;
    let body = format!(
        r#"{{"v":{PROTOCOL_VERSION},"dealer":"{}","point":"{}","cashier":"{}","key_serial":"{}","session":"{session}","created_at_ms":{},"step":"revoke"}}"#,
        card.dealer,
        card.point,
        card.cashier,
        card.key_serial,
        now_ms()
    );
    let reply = gateway
        .send_raw(&phone, &card.key_serial, "revoke", body.into_bytes())
        .await;
    assert_eq!(reply.code(), ResultCode::Ok, "{}", reply.text());
    assert_eq!(gateway.key_state(&card.key_serial).await, "revoked");

    // It named nothing: nothing of the key is heard.
    let reply = gateway.send(&phone, &waiting).await;
    assert_eq!(reply.code(), ResultCode::KeyRevoked);
}
