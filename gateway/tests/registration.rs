//! Guards `POST /api/v1/keys` over real HTTP: a key signed by itself (proof of possession) is
//! stored as pending; any change to the signed bytes, or a key that did not sign, gets 6; a
//! card's serial takes one key only (906), an unissued serial none; a wrong password gets 904
//! and stores nothing; two keys registered for one point both stay pending and listed.

mod support;

use reqwest::StatusCode;
use support::{PASSWORD, POINT};
use tolem_protocol::{
    codes::ResultCode,
    keys::SecretKey,
    messages::{KeyState, Message, Outcome},
};

async fn stored_keys(gateway: &support::Gateway) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT serial, state, fingerprint FROM keys WHERE point_code = $1 ORDER BY serial",
    )
    .bind(POINT)
    .fetch_all(&gateway.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_self_signed_key_is_registered_as_pending() {
    let gateway = support::start().await;
    let phone = gateway.new_phone(1).await;
    let reply = gateway
        .register(&phone, &phone.registration(PASSWORD))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let response = reply.response();
    assert_eq!(response.code, ResultCode::Ok);
    assert_eq!(
        response.outcome,
        Some(Outcome::Registered {
            key_serial: phone.card.key_serial.clone(),
            state: KeyState::Pending
        })
    );
    let fingerprint = phone.key.public_key().fingerprint().to_string();
    assert_eq!(
        stored_keys(&gateway).await,
        [(phone.card.key_serial.clone(), "pending".into(), fingerprint)]
    );
}

#[tokio::test]
async fn tampered_bodies_and_foreign_signatures_get_6() {
    let gateway = support::start().await;
    let phone = gateway.new_phone(1).await;
    let registration = phone.registration(PASSWORD);
    let body = registration.encode();
    let headers = phone.signature_headers(&registration.key_serial, &body);

    // Still valid JSON with the same key, one character changed after signing.
    let tampered = String::from_utf8(body.clone())
        .unwrap()
        .replace("1700000000000", "1700000000001")
        .into_bytes();
    assert_ne!(tampered, body);
    let reply = gateway.post("keys", tampered, &headers).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code(), ResultCode::BadSignature);

    // The body names a key, but another key signed it: no proof of possession.
    let intruder = SecretKey::from_seed(&[66; 32]);
    let foreign = vec![
        (headers[0].0, headers[0].1.clone()),
        (headers[1].0, intruder.sign(&body).to_string()),
    ];
    let reply = gateway.post("keys", body, &foreign).await;
    assert_eq!(reply.code(), ResultCode::BadSignature);
    assert!(stored_keys(&gateway).await.is_empty());
}

#[tokio::test]
async fn a_serial_takes_one_key_only() {
    let gateway = support::start().await;
    let phone = gateway.registered_phone(1).await;

    // Another key under the same card (with a new password from the dealer).
    let mut other = gateway.new_phone(2).await;
    other.card.key_serial = phone.card.key_serial.clone();
    let reply = gateway
        .register(&other, &other.registration(PASSWORD))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.code(), ResultCode::KeyAlreadyRegistered);

    // The phone's own registration repeated (its answer was lost): told where its key stands.
    let reply = gateway
        .register(&phone, &phone.registration(PASSWORD))
        .await;
    assert_eq!(
        reply.response().outcome,
        Some(Outcome::Registered {
            key_serial: phone.card.key_serial.clone(),
            state: KeyState::Pending
        })
    );

    // A serial never issued to this point.
    let mut stray = gateway.new_phone(3).await;
    stray.card.key_serial = "P1001-99".into();
    let reply = gateway
        .register(&stray, &stray.registration(PASSWORD))
        .await;
    assert_eq!(reply.code(), ResultCode::KeyAlreadyRegistered);
    assert_eq!(stored_keys(&gateway).await.len(), 1);
}

/// Issue 13 item 9: a point password enrols one key. Whoever saw it over the cashier's
/// shoulder can do nothing with it once the cashier's phone has registered: neither get a card
/// nor register a key, until the dealer gives the point a new password.
#[tokio::test]
async fn a_point_password_enrols_one_key() {
    let gateway = support::start().await;
    let cashier = gateway.new_phone(1).await;
    let peeked = gateway.key_card(POINT, PASSWORD).await;
    assert_eq!(
        peeked.code(),
        ResultCode::Ok,
        "a card alone registers nothing"
    );
    let reply = gateway
        .register(&cashier, &cashier.registration(PASSWORD))
        .await;
    assert_eq!(reply.code(), ResultCode::Ok);

    // The card taken before the registration: its key is refused.
    let Some(Outcome::KeyCard(card)) = peeked.response().outcome else {
        panic!("no card: {}", peeked.text());
    };
    let intruder = support::phone::Phone {
        key: SecretKey::from_seed(&[9; 32]),
        card,
    };
    let reply = gateway
        .register(&intruder, &intruder.registration(PASSWORD))
        .await;
    assert_eq!(
        reply.status_and_code(),
        (StatusCode::UNAUTHORIZED, ResultCode::PasswordUsed)
    );
    // And no new card is given for it.
    let reply = gateway.key_card(POINT, PASSWORD).await;
    assert_eq!(reply.code(), ResultCode::PasswordUsed);
    assert_eq!(stored_keys(&gateway).await.len(), 1);

    // A wrong password still says only that it is wrong.
    let reply = gateway.key_card(POINT, "peeked-wrong").await;
    assert_eq!(reply.code(), ResultCode::BadCredentials);

    // The dealer's new password enrols the next key.
    gateway.renew_point_password(POINT).await;
    let reply = gateway
        .register(&intruder, &intruder.registration(PASSWORD))
        .await;
    assert_eq!(reply.code(), ResultCode::Ok);
    assert_eq!(stored_keys(&gateway).await.len(), 2);
}

#[tokio::test]
async fn a_wrong_password_stores_nothing() {
    let gateway = support::start().await;
    let phone = gateway.new_phone(1).await;
    let reply = gateway
        .register(&phone, &phone.registration("peeked-wrong"))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code(), ResultCode::BadCredentials);
    assert!(stored_keys(&gateway).await.is_empty());
}

#[tokio::test]
async fn header_and_body_must_name_the_same_serial() {
    let gateway = support::start().await;
    let phone = gateway.new_phone(1).await;
    let registration = phone.registration(PASSWORD);
    let body = registration.encode();
    let headers = phone.signature_headers("P1001-7", &body);
    let reply = gateway.post("keys", body, &headers).await;
    assert_eq!(reply.code(), ResultCode::WrongStep);
}

#[tokio::test]
async fn two_pending_keys_of_one_point_are_both_kept() {
    let gateway = support::start().await;
    // The cashier's phone, and someone who peeked the password and was faster.
    let cashier = gateway.registered_phone(1).await;
    let intruder = gateway.registered_phone(2).await;
    let keys = stored_keys(&gateway).await;
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|(_, state, _)| state == "pending"));
    let serials: Vec<&str> = keys.iter().map(|(serial, _, _)| serial.as_str()).collect();
    assert_eq!(
        serials,
        [
            cashier.card.key_serial.as_str(),
            intruder.card.key_serial.as_str()
        ]
    );
}

/// The key card refuses a blocked dealer's point (52) and names an active cashier; a block
/// that comes between the card and the key's registration refuses the registration the same
/// way, before the point's password is spent: once the block is lifted, the same password
/// registers the key.
#[tokio::test]
async fn a_block_since_the_card_refuses_the_key_and_keeps_the_password() {
    let gateway = support::start().await;
    let phone = gateway.new_phone(1).await;
    let card = &phone.card;
    for (block, lift, code) in [
        (
            format!(
                "UPDATE dealers SET active = 0 WHERE code = '{}'",
                card.dealer
            ),
            format!(
                "UPDATE dealers SET active = 1 WHERE code = '{}'",
                card.dealer
            ),
            ResultCode::DealerBlocked,
        ),
        (
            format!(
                "UPDATE cashiers SET active = 0 WHERE code = '{}'",
                card.cashier
            ),
            format!(
                "UPDATE cashiers SET active = 1 WHERE code = '{}'",
                card.cashier
            ),
            ResultCode::CashierBlocked,
        ),
    ] {
        gateway.sql(&block).await;
        let reply = gateway
            .register(&phone, &phone.registration(PASSWORD))
            .await;
        assert_eq!(reply.status_and_code(), (StatusCode::OK, code));
        assert!(stored_keys(&gateway).await.is_empty());
        gateway.sql(&lift).await;
    }
    let reply = gateway
        .register(&phone, &phone.registration(PASSWORD))
        .await;
    assert_eq!(reply.code(), ResultCode::Ok, "{}", reply.text());
    assert_eq!(stored_keys(&gateway).await.len(), 1);
}
