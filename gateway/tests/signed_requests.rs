//! Guards the pipeline every signed step goes through, over real HTTP: each way a request can
//! fail gets its own code (134, 6, 900, 901, 907, 902, 903, 52, 53, 54, and 413 for an
//! oversized body), refusals are signed by the gateway too, and only a certified key of an
//! active point, dealer and cashier gets its balance — signed by the key on its card. After
//! `revoke` the same key is refused with 903. A key speaks only for the cashier its card
//! named: naming another cashier of the point gets 54, so blocking a cashier stops their phone.

mod support;

use reqwest::StatusCode;
use support::{Gateway, payments::kcell, phone::Phone};
use tolem_protocol::{
    codes::ResultCode,
    messages::{BalanceInfo, DealerDetails, Letter, Message, OfflineLimits, Outcome, Step},
    signing::{KEY_HEADER, MAX_BODY_BYTES, SIGNATURE_HEADER, exchange_digest, request_digest},
};

/// Sends `balance` and returns the result code (checking the answer's signature).
async fn balance_code(gateway: &Gateway, phone: &Phone) -> ResultCode {
    gateway
        .send(phone, &phone.request(Step::Balance))
        .await
        .code()
}

#[tokio::test]
async fn what_cannot_be_authenticated_or_read_is_refused() {
    let gateway = support::start().await;
    let phone = gateway.registered_phone(1).await;
    let serial = phone.card.key_serial.clone();
    let body = phone.request(Step::Balance).encode();

    // 134: a serial nobody registered.
    let reply = gateway.send_raw(&phone, "P1001-77", "balance", body.clone());
    let expected = (StatusCode::UNAUTHORIZED, ResultCode::KeyNotRegistered);
    assert_eq!(reply.await.status_and_code(), expected);

    // 6: one flipped bit after signing, anywhere in the body.
    for i in [0, body.len() / 2, body.len() - 1] {
        let headers = phone.signature_headers(&serial, &body);
        let mut flipped = body.clone();
        flipped[i] ^= 0x01;
        let reply = gateway.post("balance", flipped, &headers).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.code(), ResultCode::BadSignature, "byte {i}");
    }

    // 900: no signature headers, a garbled signature, a signed body that is not a request.
    let reply = gateway.post("balance", body.clone(), &[]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), ResultCode::Malformed);
    let garbled = [
        (KEY_HEADER, serial.clone()),
        (SIGNATURE_HEADER, "not-base64!".to_owned()),
    ];
    let reply = gateway.post("balance", body.clone(), &garbled).await;
    assert_eq!(reply.code(), ResultCode::Malformed);
    let (status, code) = gateway
        .send_raw(&phone, &serial, "balance", b"\x00garbage{".to_vec())
        .await
        .status_and_code();
    assert_eq!(
        (status, code),
        (StatusCode::BAD_REQUEST, ResultCode::Malformed)
    );

    // 901: a request of a protocol version the gateway does not speak.
    let future = String::from_utf8(body.clone())
        .unwrap()
        .replace("\"v\":1", "\"v\":2");
    let (_, code) = gateway
        .send_raw(&phone, &serial, "balance", future.into_bytes())
        .await
        .status_and_code();
    assert_eq!(code, ResultCode::UnsupportedVersion);

    // 413: refused before reading.
    let huge = vec![b' '; MAX_BODY_BYTES + 1];
    let headers = phone.signature_headers(&serial, &huge);
    let reply = gateway.post("balance", huge, &headers).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Refused before it is read, so not hashed: the refusal is bound to no request, and a
    // phone (which never sends such a body) would take it for no answer.
    assert_eq!(reply.unbound_code(), ResultCode::Malformed);
}

/// Issue 13 item 11: a refusal given before the body is read (a bad signature) names no
/// session. Signed over its bytes alone, anyone in the middle could keep it and send it back as
/// the answer to the phone's next payment, which the phone would then drop as refused. Bound to
/// the bytes of the request it answers, it holds as the answer to that request only.
#[tokio::test]
async fn an_answer_holds_only_for_the_request_it_answers() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let serial = phone.card.key_serial.clone();

    // As the phones before exchange binding asked: bound to the body bytes.
    let garbled = phone.request(Step::Balance).encode();
    let headers = phone.signature_headers(&serial, b"some other bytes");
    let refusal = gateway
        .post_body_bound("balance", garbled.clone(), &headers)
        .await;
    assert_eq!(refusal.code(), ResultCode::BadSignature);
    assert_eq!(refusal.response().session, None);
    assert!(refusal.answers(&request_digest(&garbled)));

    // The phone's next, honest request: the kept refusal is no answer to it.
    let honest = phone.request(Step::Balance).encode();
    assert!(!refusal.answers(&request_digest(&honest)));
    let answer = gateway
        .post_body_bound(
            "balance",
            honest.clone(),
            &phone.signature_headers(&serial, &honest),
        )
        .await;
    assert_eq!(answer.code(), ResultCode::Ok);
    assert!(answer.answers(&request_digest(&honest)) && !answer.answers(&request_digest(&garbled)));

    // A phone of an older version does not ask for binding and gets what it always got: the
    // answer signed over its bytes alone.
    let older = gateway
        .post_unbound("balance", garbled.clone(), &headers)
        .await;
    assert_eq!(older.unbound_code(), ResultCode::BadSignature);
    assert!(!older.answers(&request_digest(&garbled)));
}

/// Bound to the body alone, an answer could still be got for the phone's very bytes by someone
/// in the middle: the accepted `pay` relayed, then the same bytes sent to `status` (907) or
/// without their signature (900) — genuine refusals, bound to those bytes, which the phone
/// would take as its payment refused and give the cash back. Today's phones ask for answers
/// bound to the request as it was sent (step, signature headers, body): those refusals are no
/// answer to the phone's `pay`, and it settles the payment by its status instead.
#[tokio::test]
async fn an_answer_holds_only_for_the_request_as_it_was_sent() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let serial = phone.card.key_serial.clone();
    let pay = phone
        .request(Step::Pay(kcell("7011234567", 10_000)))
        .encode();
    let headers = phone.signature_headers(&serial, &pay);
    let header = |name| &headers.iter().find(|(n, _)| *n == name).unwrap().1;
    let sent = exchange_digest("pay", &serial, header(SIGNATURE_HEADER), &pay);

    let paid = gateway.post("pay", pay.clone(), &headers).await;
    assert_eq!(paid.code(), ResultCode::Ok);
    assert!(paid.answers(&sent), "the phone's own answer holds");

    let elsewhere = gateway.post("status", pay.clone(), &headers).await;
    assert_eq!(elsewhere.code(), ResultCode::WrongStep);
    assert!(
        !elsewhere.answers(&sent),
        "a refusal of the bytes sent to status"
    );
    let unsigned = gateway.post("pay", pay.clone(), &[]).await;
    assert_ne!(unsigned.code(), ResultCode::Ok);
    assert!(
        !unsigned.answers(&sent),
        "a refusal of the bytes sent unsigned"
    );

    // What the phones before got: the refusal of the bytes sent to status held for their pay.
    let older = gateway
        .post_body_bound("status", pay.clone(), &headers)
        .await;
    assert_eq!(older.code(), ResultCode::WrongStep);
    assert!(older.answers(&request_digest(&pay)));
}

#[tokio::test]
async fn a_request_must_go_where_it_says() {
    let gateway = support::start().await;
    let phone = gateway.registered_phone(1).await;
    let other = gateway.registered_phone(2).await;

    // 907: a balance request sent to /revoke — a signed request replayed to another step.
    let body = phone.request(Step::Balance).encode();
    let headers = phone.signature_headers(&phone.card.key_serial, &body);
    let reply = gateway.post("revoke", body, &headers).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), ResultCode::WrongStep);

    // 907: the body names another serial than the header (both real keys).
    let mut request = phone.request(Step::Balance);
    request.key_serial = other.card.key_serial.clone();
    let (_, code) = gateway
        .send_raw(&phone, &phone.card.key_serial, "balance", request.encode())
        .await
        .status_and_code();
    assert_eq!(code, ResultCode::WrongStep);
    assert_eq!(gateway.key_state(&phone.card.key_serial).await, "pending");

    // The message step runs the same pipeline: a key not certified yet goes no further.
    let letter = Letter {
        to: "dealer@example.kz".into(),
        text: "hello".into(),
    };
    let body = phone.request(Step::Message(letter)).encode();
    let headers = phone.signature_headers(&phone.card.key_serial, &body);
    assert_eq!(
        gateway
            .post("message", body, &headers)
            .await
            .status_and_code(),
        (StatusCode::OK, ResultCode::KeyNotCertified)
    );
}

#[tokio::test]
async fn only_a_certified_key_of_an_active_point_dealer_and_cashier_gets_through() {
    let gateway = support::start().await;
    let phone = gateway.registered_phone(1).await;
    let serial = phone.card.key_serial.clone();

    // 902: registered, not yet certified.
    assert_eq!(
        balance_code(&gateway, &phone).await,
        ResultCode::KeyNotCertified
    );

    // 53: certified, but the point is not activated yet.
    gateway
        .sql(&format!(
            "UPDATE keys SET state = 'certified' WHERE serial = '{serial}'"
        ))
        .await;
    assert_eq!(
        balance_code(&gateway, &phone).await,
        ResultCode::PointBlocked
    );
    gateway.certify_and_activate(&phone).await;

    // 52: the dealer is blocked (checked before the point).
    gateway
        .sql("UPDATE dealers SET active = 0 WHERE code = 'D001'")
        .await;
    assert_eq!(
        balance_code(&gateway, &phone).await,
        ResultCode::DealerBlocked
    );
    gateway
        .sql("UPDATE dealers SET active = 1 WHERE code = 'D001'")
        .await;

    // 54: a cashier the point does not have, and a blocked one.
    let mut request = phone.request(Step::Balance);
    request.cashier = "C9".into();
    let reply = gateway.send(&phone, &request).await;
    assert_eq!(reply.code(), ResultCode::CashierBlocked);
    gateway
        .sql("UPDATE cashiers SET active = 0 WHERE code = 'C1'")
        .await;
    assert_eq!(
        balance_code(&gateway, &phone).await,
        ResultCode::CashierBlocked
    );
    gateway
        .sql("UPDATE cashiers SET active = 1 WHERE code = 'C1'")
        .await;

    // All well: the balance, signed by the gateway key from the phone's own card.
    let request = phone.request(Step::Balance);
    let reply = gateway.send(&phone, &request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let response = reply.verified(&phone.card.gateway_key);
    assert_eq!(response.code, ResultCode::Ok);
    assert_eq!(response.session, Some(request.session));
    assert_eq!(
        response.outcome,
        Some(Outcome::Balance(BalanceInfo {
            dealer_balance_tiyn: 500_000 * 100,
            point_day_left_tiyn: None,
            point_payment_limit_tiyn: None,
            offline: Some(phone.card.offline.clone()),
            dealer: Some(demo_dealer_details()),
        }))
    );

    // The point's limits are reported when the dealer has set them.
    gateway
        .sql("UPDATE points SET payment_limit_tiyn = 1000000, daily_limit_tiyn = 5000000")
        .await;
    let reply = gateway.send(&phone, &phone.request(Step::Balance)).await;
    let Some(Outcome::Balance(info)) = reply.response().outcome else {
        panic!()
    };
    assert_eq!(info.point_payment_limit_tiyn, Some(1_000_000));
    assert_eq!(info.point_day_left_tiyn, Some(5_000_000));

    // Issue 16: offline limits the dealer changed after the key card reach the phone with the
    // next balance, not only with a new card.
    gateway
        .sql(
            "UPDATE points SET offline_max_payment_tiyn = 1500000, \
             offline_max_total_tiyn = 6000000, offline_max_age_ms = 86400000",
        )
        .await;
    let reply = gateway.send(&phone, &phone.request(Step::Balance)).await;
    let Some(Outcome::Balance(info)) = reply.response().outcome else {
        panic!()
    };
    assert_eq!(
        info.offline,
        Some(OfflineLimits {
            max_payment_tiyn: 1_500_000,
            max_total_tiyn: 6_000_000,
            max_age_ms: 86_400_000,
        })
    );
}

#[tokio::test]
async fn a_revoked_key_is_refused_for_good() {
    let gateway = support::start().await;
    let phone = gateway.registered_phone(1).await;
    gateway.certify_and_activate(&phone).await;
    assert_eq!(balance_code(&gateway, &phone).await, ResultCode::Ok);

    let request = phone.request(Step::Revoke);
    let reply = gateway.send(&phone, &request).await;
    let response = reply.response();
    assert_eq!(
        (reply.status, response.code),
        (StatusCode::OK, ResultCode::Ok)
    );
    assert_eq!(response.outcome, Some(Outcome::Revoked));
    assert_eq!(response.session, Some(request.session));

    assert_eq!(balance_code(&gateway, &phone).await, ResultCode::KeyRevoked);
    let revoked_by: String = sqlx::query_scalar("SELECT revoked_by FROM keys WHERE serial = $1")
        .bind(&phone.card.key_serial)
        .fetch_one(&gateway.pool)
        .await
        .unwrap();
    assert_eq!(revoked_by, format!("key:{}", phone.card.key_serial));
    // Revoking again says so.
    let reply = gateway.send(&phone, &phone.request(Step::Revoke)).await;
    assert_eq!(reply.code(), ResultCode::KeyRevoked);
}

#[tokio::test]
async fn a_pending_key_of_an_inactive_point_may_still_revoke_itself() {
    let gateway = support::start().await;
    let phone = gateway.registered_phone(1).await;
    let reply = gateway.send(&phone, &phone.request(Step::Revoke)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    assert_eq!(gateway.key_state(&phone.card.key_serial).await, "revoked");
    assert_eq!(balance_code(&gateway, &phone).await, ResultCode::KeyRevoked);
}

#[tokio::test]
async fn a_key_cannot_speak_for_another_point() {
    let gateway = support::start().await;
    let phone = gateway.registered_phone(1).await;
    gateway.certify_and_activate(&phone).await;
    let mut request = phone.request(Step::Balance);
    request.point = "P2002".into();
    let reply = gateway.send(&phone, &request).await;
    assert_eq!(reply.code(), ResultCode::KeyNotRegistered);
    let mut request = phone.request(Step::Balance);
    request.dealer = "D002".into();
    let reply = gateway.send(&phone, &request).await;
    assert_eq!(reply.code(), ResultCode::KeyNotRegistered);
}

#[tokio::test]
async fn a_key_speaks_only_for_the_cashier_its_card_named() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    assert_eq!(phone.card.cashier, "C1");
    gateway
        .sql(
            "INSERT INTO cashiers (point_code, code, name, active, created_at_ms) \
             VALUES ('P1001', 'C2', 'Ерлан', 1, 0)",
        )
        .await;
    let naming = |cashier: &str| {
        let mut request = phone.request(Step::Balance);
        request.cashier = cashier.into();
        request
    };
    // Another active cashier of the same point: not this key's.
    let reply = gateway.send(&phone, &naming("C2")).await;
    assert_eq!(reply.code(), ResultCode::CashierBlocked);
    assert_eq!(
        gateway.send(&phone, &naming("C1")).await.code(),
        ResultCode::Ok
    );
    // The dealer blocks C1: the phone stops, whichever cashier it names.
    gateway
        .sql("UPDATE cashiers SET active = 0 WHERE code = 'C1'")
        .await;
    for cashier in ["C1", "C2"] {
        let reply = gateway.send(&phone, &naming(cashier)).await;
        assert_eq!(reply.code(), ResultCode::CashierBlocked, "{cashier}");
    }
    let stored: Option<String> =
        sqlx::query_scalar("SELECT cashier_code FROM keys WHERE serial = $1")
            .bind(&phone.card.key_serial)
            .fetch_one(&gateway.pool)
            .await
            .unwrap();
    assert_eq!(stored.as_deref(), Some("C1"));
}

/// The demo dealer as the operator registered it: what its receipts name.
fn demo_dealer_details() -> DealerDetails {
    DealerDetails {
        name: "Демо-дилер".into(),
        bin: "080640001122".into(),
        legal_address: "Алматы, пр. Абая, 10".into(),
    }
}

/// A `pay` may be checked on its key's rows as they were when the same key last paid, a moment
/// ago: the gateway remembers them. Whatever changed since still counts at the next payment,
/// each refused with the code fresh rows would have given, and nothing is paid: a shorter
/// offline age (909), a blocked point (53), a revoked key (903).
#[tokio::test]
async fn what_changed_since_a_key_last_paid_counts_at_its_next_payment() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(31).await;
    let (_, paid) = gateway.pay(&phone, kcell("7018000031", 100_000)).await;
    assert_eq!(paid.code(), ResultCode::Ok, "{}", paid.text());
    let change = |sql: &'static str| async {
        sqlx::query(sql).execute(&gateway.pool).await.unwrap();
    };

    change("UPDATE points SET offline_max_age_ms = 3600000 WHERE code = 'P1001'").await;
    let two_hours_ago = support::now_ms() - 2 * 3_600_000;
    let (_, old) = gateway
        .pay_at(&phone, kcell("7018000032", 100_000), two_hours_ago)
        .await;
    assert_eq!(old.code(), ResultCode::TooOld, "{}", old.text());

    change("UPDATE points SET active = 0 WHERE code = 'P1001'").await;
    let (_, blocked) = gateway.pay(&phone, kcell("7018000033", 100_000)).await;
    assert_eq!(
        blocked.code(),
        ResultCode::PointBlocked,
        "{}",
        blocked.text()
    );
    change("UPDATE points SET active = 1 WHERE code = 'P1001'").await;

    let revoked = gateway.send(&phone, &phone.request(Step::Revoke)).await;
    assert_eq!(revoked.code(), ResultCode::Ok, "{}", revoked.text());
    let (_, after) = gateway.pay(&phone, kcell("7018000034", 100_000)).await;
    assert_eq!(after.code(), ResultCode::KeyRevoked, "{}", after.text());

    assert_eq!(gateway.payments_in("accepted").await, 1);
}
