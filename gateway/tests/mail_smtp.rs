//! Guards the relay of signed messages through a real SMTP server (`aiosmtpd`, started by each
//! test; `pip install aiosmtpd`): a certified phone's letter arrives exactly once — even when
//! the phone sends the same signed request again — with the text, both signatures, and
//! headers a mail client accepts (read back by Python's `email` package), and the e-mail
//! verifies on `/verify`; STARTTLS with a certificate from a private CA (`--smtp-ca-file`) and
//! AUTH work, while without that CA nothing is sent and a wrong password leaves the letter
//! queued with the server's refusal (never the password) in its last error; and a
//! server that is down at first gets the letter once it is up, nothing lost, nothing doubled.

mod support;

use support::mail::{
    SmtpServer, TestCa, fast_retry, free_port, parse_email, plain_smtp, require_aiosmtpd, verdict,
};
use tolem_gateway::{
    audit::chain,
    mail::{
        envelope,
        transport::{SmtpSettings, TransportSettings},
    },
};
use tolem_protocol::{
    codes::ResultCode,
    messages::{Letter, Message, Outcome, Step},
};

const TEXT: &str = "Добрый день! Касса №3 закрыта на ревизию до 15:00.\n\
    - Сдача выдана полностью\n-----BEGIN TOLEM SIGNED MESSAGE-----\nЖду ответа.";

fn letter(to: &str) -> Step {
    Step::Message(Letter {
        to: to.into(),
        text: TEXT.into(),
    })
}

fn message_id(reply: &support::Reply) -> String {
    match reply.response().outcome {
        Some(Outcome::MessageQueued { message_id }) => message_id,
        other => panic!("not queued: {other:?} {}", reply.text()),
    }
}

#[tokio::test]
async fn a_letter_arrives_once_with_both_signatures_and_verifies() {
    require_aiosmtpd();
    let maildir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(free_port(), maildir.path()).await;
    let gateway = support::start_with_mail(plain_smtp(server.port), fast_retry()).await;
    let phone = gateway.ready_phone(1).await;

    let request = phone.request(letter("dealer@tolem.kz"));
    let reply = gateway.send(&phone, &request).await;
    assert_eq!(
        reply.status_and_code(),
        (reqwest::StatusCode::OK, ResultCode::Ok)
    );
    let id = message_id(&reply);
    assert_eq!(id, "P1001-M1");
    gateway
        .wait_for("SELECT COUNT(*) FROM mail_outbox WHERE state = 'sent'", 1)
        .await;

    // The phone did not hear the answer and sends the very same signed bytes again.
    let again = gateway.send(&phone, &request).await;
    assert_eq!(again.code(), ResultCode::Ok);
    assert_eq!(message_id(&again), id);
    // Not queued again: still the one letter, sent at its first try (no failed attempt
    // counted). A sent letter is finished: the worker takes only unsent ones, so nothing can
    // send it a second time, however late.
    gateway
        .wait_for("SELECT COUNT(*) FROM mail_outbox", 1)
        .await;
    let (state, attempts, _) = gateway.mail_state(&id).await;
    assert_eq!((state.as_str(), attempts), ("sent", 0));
    let delivered = server.messages();
    assert_eq!(delivered.len(), 1, "exactly one e-mail: {delivered:?}");

    let email = parse_email(&delivered[0]);
    assert!(email.defects.is_empty(), "{:?}", email.defects);
    let header = |name: &str| {
        email
            .headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header: {:?}", email.headers))
            .as_str()
    };
    assert_eq!(header("from"), "Tolem <noreply@tolem.localhost>");
    assert_eq!(header("to"), "dealer@tolem.kz");
    assert_eq!(header("subject"), "Сообщение от точки P1001");
    assert_eq!(header("mime-version"), "1.0");
    assert!(
        header("message-id").starts_with(&format!("<{id}.")),
        "{:?}",
        email.headers
    );
    assert!(header("message-id").ends_with("@tolem.localhost>"));
    assert_eq!(header("content-transfer-encoding"), "quoted-printable");
    assert_eq!(email.content_type, "text/plain");
    assert_eq!(email.charset.as_deref(), Some("utf-8"));
    let sent_at = email.date_epoch_s.expect("a Date a client can read");
    assert!((sent_at * 1000.0 - support::now_ms() as f64).abs() < 60_000.0);

    // The readable part: who, when, the text (dash-escaped where a line starts with "-").
    let body = email.body.replace("\r\n", "\n");
    assert!(body.contains("Сообщение от точки P1001"), "{body}");
    assert!(body.contains("Дилер: D001"), "{body}");
    assert!(body.contains("UTC+5") && body.contains(" UTC)"), "{body}");
    assert!(
        body.contains("Касса №3 закрыта на ревизию до 15:00."),
        "{body}"
    );
    assert!(body.contains("\n- - Сдача выдана полностью\n"), "{body}");
    assert!(
        body.contains("\n- -----BEGIN TOLEM SIGNED MESSAGE-----\nЖду ответа."),
        "{body}"
    );
    assert!(body.contains(&format!("{}/verify", gateway.url)), "{body}");

    // The block: the exact signed request, the phone's signature, the gateway's countersignature.
    let block = envelope::find(&body).unwrap();
    assert_eq!(block.body, request.encode());
    assert_eq!(block.key_serial, phone.card.key_serial);
    assert_eq!(block.public_key, phone.key.public_key());
    assert_eq!(block.point_signature, phone.key.sign(&request.encode()));
    assert!(body.contains(&block.point_signature.to_string()));
    assert!(body.contains(&block.gateway_signature.to_string()));
    assert!(block.gateway_signature_valid(&gateway.gateway_key));

    // The recipient pastes what the mail client shows — or the raw source — and it verifies.
    for pasted in [
        body.clone(),
        std::fs::read_to_string(&delivered[0]).unwrap(),
    ] {
        let html = gateway.verify_page(&pasted, "ru").await;
        assert_eq!(verdict(&html), ("true".into(), String::new()), "{html}");
        assert!(html.contains("Касса №3 закрыта на ревизию до 15:00."));
        assert!(html.contains("P1001"));
        assert!(html.contains(&id));
    }

    // Both events are in the audit trail, which still verifies.
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE subject = $1 ORDER BY seq")
            .bind(format!("message:{id}"))
            .fetch_all(&gateway.pool)
            .await
            .unwrap();
    assert_eq!(actions, ["message.queued", "message.sent"]);
    chain::verify(&gateway.pool).await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn starttls_and_auth_with_a_private_ca() {
    require_aiosmtpd();
    let ca = TestCa::new();
    let maildir = tempfile::tempdir().unwrap();
    let server =
        SmtpServer::start_with_auth(free_port(), maildir.path(), &ca, "tolem", "s3cret-Pa55").await;
    let smtp_with = |password: &str, ca_file: Option<std::path::PathBuf>| {
        TransportSettings::Smtp(
            SmtpSettings::parse(
                &format!("smtp://tolem@127.0.0.1:{}", server.port),
                Some(password),
                ca_file,
            )
            .unwrap(),
        )
    };
    let smtp = |password: &str| smtp_with(password, Some(ca.ca_cert.clone()));

    // Without the private CA the server's certificate is not trusted: nothing is sent, not
    // even the password.
    let untrusting = support::start_with_mail(smtp_with("s3cret-Pa55", None), fast_retry()).await;
    let phone = untrusting.ready_phone(1).await;
    let id = message_id(
        &untrusting
            .send(&phone, &phone.request(letter("a@tolem.kz")))
            .await,
    );
    untrusting
        .wait_for(
            "SELECT COUNT(*) FROM mail_outbox WHERE state = 'failed_temporarily' AND attempts >= 1",
            1,
        )
        .await;
    let error = untrusting.mail_state(&id).await.2.unwrap();
    assert!(error.to_lowercase().contains("certificate"), "{error}");
    // On PostgreSQL every gateway of this test shares one database: this one's worker would
    // take the next gateway's letters too. Closing its pool stops it.
    untrusting.pool.close().await;

    // A wrong password: refused by the server, kept, retried; the error never holds a password.
    let wrong = support::start_with_mail(smtp("wrong-password"), fast_retry()).await;
    let phone = wrong.ready_phone(1).await;
    let id = message_id(
        &wrong
            .send(&phone, &phone.request(letter("a@tolem.kz")))
            .await,
    );
    wrong
        .wait_for(
            "SELECT COUNT(*) FROM mail_outbox WHERE state = 'failed_temporarily' AND attempts >= 1",
            1,
        )
        .await;
    let (state, attempts, error) = wrong.mail_state(&id).await;
    let error = error.unwrap();
    assert_eq!(state, "failed_temporarily");
    assert!(attempts >= 1);
    // 535: the server refused the credentials — so the TLS handshake with the private CA
    // worked (the server takes AUTH only over TLS).
    assert!(error.contains("535"), "{error}");
    assert!(
        !error.contains("wrong-password") && !error.contains("s3cret"),
        "{error}"
    );
    assert!(server.messages().is_empty());
    wrong.pool.close().await;

    // The right one: over STARTTLS, verified against the private CA.
    let right = support::start_with_mail(smtp("s3cret-Pa55"), fast_retry()).await;
    let phone = right.ready_phone(2).await;
    let id = message_id(
        &right
            .send(&phone, &phone.request(letter("b@tolem.kz")))
            .await,
    );
    right
        .wait_for("SELECT COUNT(*) FROM mail_outbox WHERE state = 'sent'", 1)
        .await;
    assert_eq!(
        right.mail_state(&id).await.1,
        0,
        "sent at the first attempt"
    );
    let delivered = server.messages();
    assert_eq!(delivered.len(), 1);
    let email = parse_email(&delivered[0]);
    assert_eq!(email.headers["to"], "b@tolem.kz");
    assert!(email.body.contains("Касса №3"));
    server.stop().await;
}

#[tokio::test]
async fn a_server_that_is_down_gets_the_letter_once_it_is_up() {
    require_aiosmtpd();
    let port = free_port();
    let gateway = support::start_with_mail(plain_smtp(port), fast_retry()).await;
    let phone = gateway.ready_phone(1).await;
    let reply = gateway
        .send(&phone, &phone.request(letter("dealer@tolem.kz")))
        .await;
    // The phone is answered at once, SMTP or not.
    assert_eq!(reply.code(), ResultCode::Ok);
    let id = message_id(&reply);

    // Nothing listens: attempts fail and are counted, the letter stays.
    gateway
        .wait_for(
            "SELECT COUNT(*) FROM mail_outbox WHERE state = 'failed_temporarily' AND attempts >= 2",
            1,
        )
        .await;
    let (_, _, error) = gateway.mail_state(&id).await;
    assert!(error.is_some_and(|e| !e.is_empty()));

    // The server comes up: the next retry delivers, once.
    let maildir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(port, maildir.path()).await;
    gateway
        .wait_for("SELECT COUNT(*) FROM mail_outbox WHERE state = 'sent'", 1)
        .await;
    let (state, attempts, _) = gateway.mail_state(&id).await;
    assert_eq!(state, "sent");
    assert!(attempts >= 2, "the failures before are kept: {attempts}");
    // A sent letter is finished: the worker takes only unsent ones, so no later attempt can
    // send it again (its count is the one that sent it).
    assert_eq!(server.messages().len(), 1);
    let email = parse_email(&server.messages()[0]);
    assert!(email.body.contains("Касса №3"));
    server.stop().await;
}
