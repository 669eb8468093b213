//! Guards the `message` step and what the dealer and the recipient see of it: every refusal
//! with its code (a tampered body 6, a revoked key 903, a pending key 902, an address that is
//! not one 912, an empty or too long text 913, a point over its hourly limit 911, a session
//! reused for another letter 1) and nothing queued for any of them; a resent letter is queued
//! once; the console's messages page lists the letters for both access levels and shows one
//! that keeps failing in red; and the public verification page accepts the genuine e-mail and
//! refuses an altered one — a changed body byte, a swapped gateway signature, a signature by
//! another key, an unknown key — saying why, while a revoked key's earlier letters still
//! verify with a note; a made-up block gets the same answer whether its serial is registered
//! or not (no oracle for serials); a paste over the limit gets 413 and says so.

mod support;

use base64::{Engine, engine::general_purpose::STANDARD};
use support::{
    browser::{ADMIN, CLERK},
    mail::verdict,
};
use tolem_gateway::mail::envelope::{self, Envelope};
use tolem_protocol::{
    codes::ResultCode,
    keys::SecretKey,
    messages::{LETTER_MAX_CHARS, Letter, Message, Outcome, Step},
};

fn letter(to: &str, text: &str) -> Step {
    Step::Message(Letter {
        to: to.into(),
        text: text.into(),
    })
}

fn queued(reply: &support::Reply) -> String {
    match reply.response().outcome {
        Some(Outcome::MessageQueued { message_id }) => message_id,
        other => panic!("not queued: {other:?} {}", reply.text()),
    }
}

async fn stored(gateway: &support::Gateway) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM mail_outbox")
        .fetch_one(&gateway.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn refusals_have_their_codes_and_queue_nothing() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let send = |step: Step| {
        let (gateway, phone) = (&gateway, &phone);
        async move { gateway.send(phone, &phone.request(step)).await.code() }
    };

    for to in [
        "",
        "dealer",
        "a@b",
        "a b@tolem.kz",
        "a@tolem.kz\r\nBcc: x@y.kz",
    ] {
        assert_eq!(
            send(letter(to, "текст")).await,
            ResultCode::BadRecipient,
            "{to:?}"
        );
    }
    assert_eq!(
        send(letter("a@tolem.kz", "")).await,
        ResultCode::BadMessageText
    );
    assert_eq!(
        send(letter("a@tolem.kz", " \n\t ")).await,
        ResultCode::BadMessageText
    );
    let longest = "ж".repeat(LETTER_MAX_CHARS);
    let too_long = "ж".repeat(LETTER_MAX_CHARS + 1);
    assert_eq!(
        send(letter("a@tolem.kz", &too_long)).await,
        ResultCode::BadMessageText
    );
    // NUL, which PostgreSQL's text refuses: no phone writes it, so it is refused as malformed.
    assert_eq!(
        send(letter("a@tolem.kz", "Сумма\0 100")).await,
        ResultCode::Malformed
    );
    assert_eq!(stored(&gateway).await, 0);
    assert_eq!(send(letter("a@tolem.kz", &longest)).await, ResultCode::Ok);

    // A tampered body: the signature was made over other bytes.
    let request = phone.request(letter("a@tolem.kz", "Сумма 100"));
    let signed = request.encode();
    let tampered = String::from_utf8(signed.clone())
        .unwrap()
        .replace("Сумма 100", "Сумма 900")
        .into_bytes();
    let headers = phone.signature_headers(&phone.card.key_serial, &signed);
    let reply = gateway.post("message", tampered, &headers).await;
    assert_eq!(reply.code(), ResultCode::BadSignature);

    // A message to the wrong address (the step of the body is not the URL's).
    let reply = gateway
        .send_raw(&phone, &phone.card.key_serial, "pay", request.encode())
        .await;
    assert_eq!(reply.code(), ResultCode::WrongStep);
    assert_eq!(stored(&gateway).await, 1);

    // A key the dealer has not certified yet, then a revoked one.
    let pending = gateway.registered_phone(2).await;
    let reply = gateway
        .send(&pending, &pending.request(letter("a@tolem.kz", "x")))
        .await;
    assert_eq!(reply.code(), ResultCode::KeyNotCertified);
    gateway
        .sql(&format!(
            "UPDATE keys SET state = 'revoked' WHERE serial = '{}'",
            phone.card.key_serial
        ))
        .await;
    assert_eq!(
        send(letter("a@tolem.kz", "после отзыва")).await,
        ResultCode::KeyRevoked
    );
    assert_eq!(stored(&gateway).await, 1);
}

#[tokio::test]
async fn the_hourly_limit_and_the_session_rule() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    gateway
        .sql("UPDATE points SET messages_per_hour = 2 WHERE code = 'P1001'")
        .await;

    let first = phone.request(letter("a@tolem.kz", "первое"));
    let reply = gateway.send(&phone, &first).await;
    assert_eq!(queued(&reply), "P1001-M1");
    let second = gateway
        .send(&phone, &phone.request(letter("a@tolem.kz", "второе")))
        .await;
    assert_eq!(queued(&second), "P1001-M2");
    let third = gateway
        .send(&phone, &phone.request(letter("a@tolem.kz", "третье")))
        .await;
    assert_eq!(third.code(), ResultCode::TooManyMessages);

    // Resending a queued letter is not a new one: the same id, still allowed, still 2 stored.
    let again = gateway.send(&phone, &first).await;
    assert_eq!(queued(&again), "P1001-M1");
    // The same session with another letter is refused.
    let mut other = phone.request(letter("a@tolem.kz", "другое"));
    other.session = first.session.clone();
    assert_eq!(
        gateway.send(&phone, &other).await.code(),
        ResultCode::SessionExists
    );
    assert_eq!(stored(&gateway).await, 2);

    // An hour later there is room again; another point has its own limit.
    gateway
        .sql("UPDATE mail_outbox SET created_at_ms = created_at_ms - 3600001")
        .await;
    let fourth = gateway
        .send(&phone, &phone.request(letter("a@tolem.kz", "через час")))
        .await;
    assert_eq!(queued(&fourth), "P1001-M3");
    gateway
        .sql("UPDATE points SET messages_per_hour = 0 WHERE code = 'P1001'")
        .await;
    assert_eq!(
        gateway
            .send(&phone, &phone.request(letter("a@tolem.kz", "нельзя")))
            .await
            .code(),
        ResultCode::TooManyMessages
    );
    gateway.add_point("P1002").await;
    let other_point = gateway.ready_phone_of("P1002", 3).await;
    let reply = gateway
        .send(
            &other_point,
            &other_point.request(letter("b@tolem.kz", "привет")),
        )
        .await;
    assert_eq!(queued(&reply), "P1002-M1");
}

#[tokio::test]
async fn the_console_lists_letters_and_shows_stuck_ones_red() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let sent = queued(
        &gateway
            .send(
                &phone,
                &phone.request(letter("sent@tolem.kz", "отправлено")),
            )
            .await,
    );
    let stuck = queued(
        &gateway
            .send(&phone, &phone.request(letter("stuck@tolem.kz", "застряло")))
            .await,
    );
    gateway
        .sql(&format!(
            "UPDATE mail_outbox SET state = 'sent', sent_at_ms = created_at_ms WHERE message_id = '{sent}'"
        ))
        .await;
    gateway
        .sql(&format!(
            "UPDATE mail_outbox SET state = 'failed_temporarily', attempts = 9, \
             last_error = 'Connection refused (os error 111)' WHERE message_id = '{stuck}'"
        ))
        .await;

    for user in [CLERK, ADMIN] {
        let cookie = gateway.console_session(user).await;
        let response = gateway.console_get("/console/messages", &cookie).await;
        assert_eq!(response.status(), reqwest::StatusCode::OK, "{user:?}");
        let html = response.text().await.unwrap();
        assert!(html.contains("href=\"/console/messages\""), "in the menu");
        assert!(
            html.contains(&format!("data-id=\"{sent}\" data-state=\"sent\"")),
            "{html}"
        );
        assert!(html.contains("sent@tolem.kz") && html.contains("stuck@tolem.kz"));
        assert!(html.contains("Connection refused (os error 111)"));
        assert!(html.contains("id=\"stuck-warning\""));
        let stuck_row = html
            .split("<tr")
            .find(|row| row.contains(&format!("data-id=\"{stuck}\"")))
            .unwrap();
        assert!(stuck_row.contains("stuck"), "{stuck_row}");
        assert!(stuck_row.contains("data-attempts=\"9\""));
        // The e-mail itself unfolds under the number.
        assert!(html.contains("BEGIN TOLEM SIGNED MESSAGE"));
    }
    let anonymous = gateway.console_get("/console/messages", "").await;
    assert_eq!(anonymous.status(), reqwest::StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_verification_page_accepts_the_genuine_and_refuses_the_altered() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let request = phone.request(letter(
        "dealer@tolem.kz",
        "Прошу пополнить баланс на 50 000 ₸",
    ));
    let id = queued(&gateway.send(&phone, &request).await);
    let email = gateway.mail_body(&id).await;
    let genuine = envelope::find(&email).unwrap();

    let page = gateway
        .client
        .get(format!("{}/verify", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Проверка подписанного сообщения")
    );

    let html = gateway.verify_page(&email, "ru").await;
    assert_eq!(verdict(&html), ("true".into(), String::new()));
    assert!(html.contains("Прошу пополнить баланс на 50 000 ₸"));
    assert!(html.contains("id=\"point-signature\" data-valid=\"true\""));
    assert!(html.contains("id=\"gateway-signature\" data-valid=\"true\""));
    let html = gateway.verify_page(&genuine.armor(), "en").await;
    assert_eq!(verdict(&html).0, "true");
    assert!(html.contains("Both signatures are valid"));

    // One changed byte of the body (its base64 re-made, as a forger would).
    let mut altered = genuine.clone();
    let text = String::from_utf8(altered.body.clone()).unwrap();
    altered.body = text.replace("50 000", "90 000").into_bytes();
    let html = gateway.verify_page(&altered.armor(), "ru").await;
    assert_eq!(
        verdict(&html),
        ("false".into(), "bad_point_signature".into())
    );
    assert!(html.contains("id=\"point-signature\" data-valid=\"false\""));
    assert!(
        !html.contains("90 000 ₸"),
        "an altered text is never shown as the point's"
    );
    // A changed character in the e-mail's base64, as a mail client might garble it.
    let lines: Vec<&str> = email.lines().collect();
    let body_line = lines
        .iter()
        .position(|l| l.len() == 64 && !l.contains(' '))
        .unwrap();
    let mut garbled = lines.clone();
    let flipped: String = lines[body_line]
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 10 {
                if c == 'A' { 'B' } else { 'A' }
            } else {
                c
            }
        })
        .collect();
    garbled[body_line] = &flipped;
    let html = gateway.verify_page(&garbled.join("\n"), "ru").await;
    assert_eq!(verdict(&html).1, "bad_point_signature");

    // The gateway signature of another message swapped in.
    let other = queued(
        &gateway
            .send(&phone, &phone.request(letter("dealer@tolem.kz", "другое")))
            .await,
    );
    let other = envelope::find(&gateway.mail_body(&other).await).unwrap();
    let mut swapped = genuine.clone();
    swapped.gateway_signature = other.gateway_signature;
    let html = gateway.verify_page(&swapped.armor(), "ru").await;
    assert_eq!(
        verdict(&html),
        ("false".into(), "bad_gateway_signature".into())
    );
    assert!(html.contains("id=\"point-signature\" data-valid=\"true\""));
    assert!(html.contains("id=\"gateway-signature\" data-valid=\"false\""));

    // Signed by another key that claims the point's serial (its own public key in the block).
    let impostor = SecretKey::from_seed(&[99; 32]);
    let forged = Envelope {
        public_key: impostor.public_key(),
        point_signature: impostor.sign(&genuine.body),
        ..genuine.clone()
    };
    let html = gateway.verify_page(&forged.armor(), "ru").await;
    assert_eq!(verdict(&html), ("false".into(), "unknown_key".into()));
    assert!(
        !html.contains("id=\"key\""),
        "nothing of the registered key is shown"
    );

    // A serial this gateway never registered.
    let unknown = Envelope {
        key_serial: "P9999-1".into(),
        ..genuine.clone()
    };
    let html = gateway.verify_page(&unknown.armor(), "kk").await;
    assert_eq!(verdict(&html), ("false".into(), "unknown_key".into()));

    // No oracle: a made-up block answers the same whether its serial is registered or not, so
    // pasting blocks does not tell which serials exist.
    let probe = |serial: &str| Envelope {
        key_serial: serial.into(),
        ..forged.clone()
    };
    let registered = gateway
        .verify_page(&probe(&phone.card.key_serial).armor(), "en")
        .await;
    let made_up = gateway.verify_page(&probe("P9999-1").armor(), "en").await;
    assert_eq!(verdict(&registered), verdict(&made_up));
    assert_eq!(
        registered.replace(phone.card.key_serial.as_str(), "SERIAL"),
        made_up.replace("P9999-1", "SERIAL")
    );

    // Not a block at all, and a block cut short.
    let html = gateway
        .verify_page("Здравствуйте, это просто письмо.", "ru")
        .await;
    assert_eq!(verdict(&html), ("false".into(), "unreadable".into()));
    let cut = genuine.armor().replace(envelope::END, "");
    assert_eq!(
        verdict(&gateway.verify_page(&cut, "ru").await).1,
        "unreadable"
    );

    // The key is revoked later: the letter it signed before still verifies, with a note.
    gateway
        .sql(&format!(
            "UPDATE keys SET state = 'revoked', revoked_at_ms = 1 WHERE serial = '{}'",
            phone.card.key_serial
        ))
        .await;
    let html = gateway.verify_page(&email, "ru").await;
    assert_eq!(verdict(&html).0, "true");
    assert!(html.contains("id=\"key-revoked\""));
    assert!(html.contains("data-state=\"revoked\""));

    // The stored proof is the exact signed request.
    let stored: String =
        sqlx::query_scalar("SELECT request_body FROM mail_outbox WHERE message_id = $1")
            .bind(&id)
            .fetch_one(&gateway.pool)
            .await
            .unwrap();
    assert_eq!(STANDARD.decode(stored).unwrap(), request.encode());
}

#[tokio::test]
async fn an_oversized_paste_is_answered_413_with_a_clear_page() {
    let gateway = support::start().await;
    let huge = "a".repeat(300 * 1024);
    let response = gateway
        .client
        .post(format!("{}/verify?lang=en", gateway.url))
        .form(&[("message", huge.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::PAYLOAD_TOO_LARGE);
    let html = response.text().await.unwrap();
    assert!(html.contains("The form is too large"), "{html}");
    assert!(
        html.contains("id=\"verify\""),
        "the form is there to try again"
    );
}
