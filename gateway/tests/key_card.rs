//! Guards `POST /api/v1/key-card` over real HTTP: a card is issued with a fresh serial and
//! signed by the gateway key it carries; a wrong password and an unknown point get the same
//! 904; guessing is stopped per point (the 6th attempt gets 905 with a wait, from any address)
//! and per client address (20 failures across points), even when the guesses come in parallel,
//! and a right password resets the point; key cards of one point are rate-limited even with the
//! right password (10, then 905 with a wait), other points unaffected.

mod support;

use reqwest::StatusCode;
use support::{PASSWORD, POINT, client_from};
use tolem_protocol::{
    PROTOCOL_VERSION,
    codes::ResultCode,
    messages::{KeyCardRequest, Message, Outcome, Response},
    signing::MAX_BODY_BYTES,
};

#[tokio::test]
async fn card_is_issued_and_signed_by_the_gateway_key_it_carries() {
    let gateway = support::start().await;
    let reply = gateway.key_card(POINT, PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.headers["cache-control"], "no-store");
    let response = reply.response();
    assert_eq!(response.code, ResultCode::Ok);
    let Some(Outcome::KeyCard(card)) = response.outcome else {
        panic!("{}", reply.text())
    };
    assert_eq!(card.gateway_key, gateway.gateway_key);
    assert_eq!(
        (
            card.dealer.as_str(),
            card.point.as_str(),
            card.cashier.as_str()
        ),
        ("D001", POINT, "C1")
    );
    assert_eq!(card.key_serial, "P1001-1");
    assert_eq!(card.point_name, "Демо-касса");
    assert_eq!(card.offline.max_payment_tiyn, 50_000 * 100);
    assert_eq!(card.offline.max_total_tiyn, 200_000 * 100);
    assert_eq!(card.offline.max_age_ms, 72 * 3600 * 1000);
    // The dealer's support contact, for the app's About screen (issue 16).
    assert_eq!(
        card.dealer_contact.as_deref(),
        Some("Демо-контакт, +7 701 000 00 00")
    );
    // Who the dealer is in law, for the payment document the point prints (issue 16).
    let details = card
        .dealer_details
        .expect("the key card names the dealer in law");
    assert_eq!(details.name, "Демо-дилер");
    assert_eq!(details.bin, "080640001122");
    assert_eq!(details.legal_address, "Алматы, пр. Абая, 10");

    // Every call issues a new serial.
    let again = gateway.key_card(POINT, PASSWORD).await.response();
    let Some(Outcome::KeyCard(second)) = again.outcome else {
        panic!()
    };
    assert_eq!(second.key_serial, "P1001-2");
}

#[tokio::test]
async fn wrong_password_and_unknown_point_get_the_same_answer() {
    let gateway = support::start().await;
    let wrong = gateway.key_card(POINT, "not-the-password").await;
    let unknown = gateway.key_card("P4040", PASSWORD).await;
    for reply in [&wrong, &unknown] {
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        let response = reply.response();
        assert_eq!(response.code, ResultCode::BadCredentials);
        assert_eq!(response.outcome, None);
        assert_eq!(response.retry_after_s, None);
    }
}

#[tokio::test]
async fn the_sixth_attempt_on_a_point_is_refused_from_any_address() {
    let gateway = support::start().await;
    for attempt in 1..=5 {
        let reply = gateway.key_card(POINT, "guess").await;
        assert_eq!(
            reply.code(),
            ResultCode::BadCredentials,
            "attempt {attempt}"
        );
    }
    // Even the right password: the point is blocked, not the guess.
    let reply = gateway.key_card(POINT, PASSWORD).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    let response = reply.response();
    assert_eq!(response.code, ResultCode::TooManyAttempts);
    let wait = response.retry_after_s.expect("a wait");
    assert!((1..=30).contains(&wait), "{wait}");
    assert_eq!(reply.headers["retry-after"], wait.to_string().as_str());

    let elsewhere = client_from("127.0.0.2".parse().unwrap());
    let reply = gateway.key_card_from(&elsewhere, POINT, PASSWORD).await;
    assert_eq!(reply.code(), ResultCode::TooManyAttempts);

    // When the block ends, the next failure blocks for twice as long.
    gateway
        .sql("UPDATE login_attempts SET blocked_until_ms = 0")
        .await;
    let reply = gateway.key_card(POINT, "guess").await;
    assert_eq!(reply.code(), ResultCode::BadCredentials);
    let reply = gateway.key_card(POINT, PASSWORD).await;
    let wait = reply.response().retry_after_s.unwrap();
    assert!((31..=60).contains(&wait), "{wait}");
}

#[tokio::test]
async fn parallel_guesses_are_all_counted() {
    let gateway = support::start().await;
    // Counted before the password is checked, so a burst cannot slip in before the count.
    let guess = KeyCardRequest {
        v: PROTOCOL_VERSION,
        point: POINT.into(),
        password: "guess".into(),
    }
    .encode();
    let mut burst = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let (client, url, body) = (gateway.client.clone(), gateway.url.clone(), guess.clone());
        burst.spawn(async move {
            let reply = client
                .post(format!("{url}/api/v1/key-card"))
                .body(body)
                .send();
            let bytes = reply.await.unwrap().bytes().await.unwrap();
            Response::decode(&bytes).unwrap().code
        });
    }
    let codes = burst.join_all().await;
    let tried = codes
        .iter()
        .filter(|c| **c == ResultCode::BadCredentials)
        .count();
    let refused = codes
        .iter()
        .filter(|c| **c == ResultCode::TooManyAttempts)
        .count();
    assert_eq!((tried, refused), (5, 7), "{codes:?}");
}

#[tokio::test]
async fn a_right_password_resets_the_point() {
    let gateway = support::start().await;
    for _ in 0..4 {
        gateway.key_card(POINT, "guess").await;
    }
    assert_eq!(
        gateway.key_card(POINT, PASSWORD).await.status,
        StatusCode::OK
    );
    for attempt in 1..=4 {
        let reply = gateway.key_card(POINT, "guess").await;
        assert_eq!(
            reply.code(),
            ResultCode::BadCredentials,
            "attempt {attempt}"
        );
    }
    assert_eq!(
        gateway.key_card(POINT, PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_address_guessing_across_points_is_stopped() {
    let gateway = support::start().await;
    // One guess per point, so no point reaches its own limit.
    for n in 0..20 {
        let reply = gateway.key_card(&format!("P9{n:03}"), "guess").await;
        assert_eq!(reply.code(), ResultCode::BadCredentials, "guess {n}");
    }
    let reply = gateway.key_card(POINT, PASSWORD).await;
    assert_eq!(reply.code(), ResultCode::TooManyAttempts);
    assert!(reply.response().retry_after_s.is_some());

    // Another address (another phone behind another NAT) is not affected.
    let elsewhere = client_from("127.0.0.3".parse().unwrap());
    let reply = gateway.key_card_from(&elsewhere, POINT, PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

#[tokio::test]
async fn unreadable_and_oversized_requests_are_refused() {
    let gateway = support::start().await;
    let garbage = gateway.post("key-card", b"{not json".to_vec(), &[]).await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
    assert_eq!(garbage.code(), ResultCode::Malformed);

    let future = br#"{"v":99,"point":"P1001","password":"x"}"#.to_vec();
    let reply = gateway.post("key-card", future, &[]).await;
    assert_eq!(reply.code(), ResultCode::UnsupportedVersion);

    let huge = vec![b' '; MAX_BODY_BYTES + 1];
    let reply = gateway.post("key-card", huge, &[]).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Refused before it is read, so bound to no request (see signed_requests.rs).
    assert_eq!(reply.unbound_code(), ResultCode::Malformed);
}

#[tokio::test]
async fn key_cards_of_a_point_are_rate_limited_even_with_the_right_password() {
    let gateway = support::start().await;
    gateway.add_point("P1002").await;
    // One after another: each right password clears the point's guesses, so only the key
    // cards' own count can stop them.
    for card in 1..=10 {
        let reply = gateway.key_card(POINT, PASSWORD).await;
        assert_eq!(
            reply.code(),
            ResultCode::Ok,
            "card {card}: {}",
            reply.text()
        );
    }
    for _ in 0..5 {
        let reply = gateway.key_card(POINT, PASSWORD).await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        let response = reply.response();
        assert_eq!(response.code, ResultCode::TooManyAttempts);
        let wait = response.retry_after_s.expect("a wait");
        assert!((1..=30).contains(&wait), "{wait}");
        assert_eq!(reply.headers["retry-after"], wait.to_string().as_str());
    }

    // Another point of the same dealer, from the same address, is not affected.
    let reply = gateway.key_card("P1002", PASSWORD).await;
    assert_eq!(reply.code(), ResultCode::Ok, "{}", reply.text());
}
